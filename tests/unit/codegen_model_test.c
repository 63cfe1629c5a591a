/* tests/unit/codegen_model_test.c — whole models through codegen, against the reference.
 *
 * For nano, custom-small, dense and a Custom arch with weight_layout out_in, hidden_act gelu
 * (erf form) and layer_norm_eps 1e-3: arch → pipeline (verify after every pass) → x86_64
 * shared object → cg_driver, with seeded weights (tk_arch_init_fill), compared with tests/ref
 * (docs/formats.md §3 tolerance and top-K rule) at B in {1, 2, 15, 16, 17, 100}; the x86_64-simt variant
 * (the gpu schedule's bodies) the same way for nano and custom-small. Each forward also runs
 * on 2 threads, which must give bitwise the same outputs as 1 thread. On the cpu schedule no
 * kernel may write a row past B (issue 13 item 2: the CPU computes exactly the real rows).
 * The MoE archs run again with sparse dispatch (issue 13 item 1), whose logits and router
 * weights must equal the dense form's bitwise, with a router that sends every row to the
 * same K experts (those get B rows each, the others none) and with exactly tied router
 * probabilities.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "model/arch.h"
#include "compiler/tkc.h"
#include "ref/ref.h"
#include "tests/unit/cg_driver.h"
#include "tests/unit/model_weights.h"
#include "tests/unit/test.h"

static const char CUSTOM_OUT_IN[] =
    "{\"size\": \"Custom\", \"input_dim\": 40, \"hidden_dim\": 72, \"output_dim\": 12,"
    " \"n_experts\": 5, \"top_k\": 2, \"expert_depth\": 2, \"seed\": 99,"
    " \"weight_layout\": \"out_in\", \"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-3}";

typedef struct model_case {
  const char *name;
  const char *path; /* or */
  const char *json;
  bool simt;
  bool sparse; /* sparse dispatch, checked also bitwise against the dense form */
  enum {
    SEEDED,
    ONE_ROUTE,
    TIED
  } router; /* the router's weights: seeded; biases that send
                                              every row to the same K experts; all equal */
} model_case;

static const int32_t BATCHES[] = {1, 2, 15, 16, 17, 100};

/* One batch: 1-thread forward vs the reference (and, on the cpu schedule, no row past B
 * written), 2-thread forward vs the 1-thread one; with `dense` (a sparse dispatch's d), the
 * dense form's 1-thread forward vs d's. */
static void check_batch(const char *label, tk_cgd *d, tk_cgd *dense, bool cpu, const tk_arch *arch,
                        const tk_test_weights *w, const tk_ref_model *ref, int32_t B) {
  bool moe = arch->model_kind == TK_MODEL_MOE;
  size_t nx = (size_t)B * (size_t)arch->input_dim, nl = (size_t)B * (size_t)arch->output_dim;
  size_t nw = moe ? (size_t)B * (size_t)arch->n_experts : 1;
  float *x = malloc(nx * 4), *l1 = malloc(nl * 4), *l2 = malloc(nl * 4);
  float *w1 = malloc(nw * 4), *w2 = malloc(nw * 4);
  CHECK(x && l1 && l2 && w1 && w2);
  if (x && l1 && l2 && w1 && w2) {
    tk_test_fill_input(x, nx, (uint32_t)B);
    const float *const *wf = (const float *const *)w->f;
    CHECK_OK(tk_cgd_forward(d, wf, x, B, 1, l1, moe ? w1 : NULL));
    const char *buffer = "";
    CHECK_MSG(!cpu || tk_cgd_padding_untouched(d, &buffer),
              "%s B=%d: the cpu schedule wrote past row B of @%s (issue 13: no padding work)",
              label, B, buffer);
    CHECK_OK(tk_cgd_forward(d, wf, x, B, 2, l2, moe ? w2 : NULL));
    tk_ref_report rep;
    CHECK_OK(tk_ref_compare(ref, x, (size_t)B, l1, moe ? w1 : NULL, &rep));
    CHECK_MSG(tk_ref_report_passed(&rep), "%s B=%d: %zu mismatches, max diff %g", label, B,
              rep.mismatches, rep.max_diff);
    if (!tk_ref_report_passed(&rep)) tk_ref_report_print(&rep, stderr);
    CHECK_MSG(memcmp(l1, l2, nl * 4) == 0, "%s B=%d: logits differ between 1 and 2 threads", label,
              B);
    CHECK_MSG(!moe || memcmp(w1, w2, nw * 4) == 0,
              "%s B=%d: router weights differ between 1 and 2 threads", label, B);
    if (dense) {
      CHECK_OK(tk_cgd_forward(dense, wf, x, B, 1, l2, w2));
      CHECK_MSG(memcmp(l1, l2, nl * 4) == 0, "%s B=%d: logits differ from the dense dispatch's",
                label, B);
      CHECK_MSG(memcmp(w1, w2, nw * 4) == 0,
                "%s B=%d: router weights differ from the dense dispatch's", label, B);
    }
  }
  free(x);
  free(l1);
  free(l2);
  free(w1);
  free(w2);
}

/* m's `target` code object, opened by the driver (NULL on failure: the CHECK says why). */
static tk_cgd *open_target(const model_case *mc, const tk_ir_module *m, const char *target,
                           const char *form) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  o.target = target;
  tk_cg_blob so = {0};
  CHECK_OK(tk_cg_compile_shared(m, &o, &so));
  if (!so.data) return NULL;
  char path[256];
  const char *tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/cg_model_%s_%s_%s_%ld.so", tmp && *tmp ? tmp : "/tmp", mc->name,
           target, form, (long)getpid());
  CHECK_OK(tk_cg_blob_write(&so, path));
  tk_cg_blob_free(&so);
  tk_cgd *d = NULL;
  tk_ir_target sched = strcmp(target, "x86_64") == 0 ? TK_TARGET_CPU : TK_TARGET_GPU;
  CHECK_OK(tk_cgd_open(m, sched, path, &d));
  unlink(path);
  if (!d) return NULL;
  CHECK_MSG(strcmp(tk_cgd_bundle_target(d), target) == 0, "tk_bundle_target \"%s\", expected %s",
            tk_cgd_bundle_target(d), target);
  return d;
}

/* m on `target` at every batch; `dense`, when given, is the same model dispatched dense. */
static void check_target(const model_case *mc, const tk_ir_module *m, const tk_ir_module *dense,
                         const char *target, const tk_test_weights *w, const tk_ref_model *ref) {
  tk_cgd *d = open_target(mc, m, target, "m");
  tk_cgd *dd = d && dense ? open_target(mc, dense, target, "dense") : NULL;
  if (d && (!dense || dd)) {
    char label[128];
    snprintf(label, sizeof label, "%s/%s", mc->name, target);
    for (size_t i = 0; i < sizeof BATCHES / sizeof BATCHES[0]; i++)
      check_batch(label, d, dd, strcmp(target, "x86_64") == 0, &m->arch, w, ref, BATCHES[i]);
  }
  tk_cgd_close(dd);
  tk_cgd_close(d);
}

/* Router weights 0 and biases 0, 0.25, 0.5, ... (ONE_ROUTE): every row keeps the K highest
 * experts, so they get every row (count[e] = B, the capacity edge) and the others none (an
 * empty chain). Biases 0 too (TIED): every probability is exactly 1/E, and the ties go to the
 * K lowest experts (docs/formats.md §3). */
static void set_router(tk_test_weights *w, bool tied) {
  for (size_t i = 0; i < 2; i++)
    for (uint64_t j = 0; j < w->specs[i].count; j++) {
      w->f[i][j] = i == 0 || tied ? 0.0f : 0.25f * (float)j;
      w->d[i][j] = w->f[i][j];
    }
}

static void check_model(const model_case *mc) {
  tk_arch arch;
  tk_status s = mc->path ? tk_arch_load(mc->path, &arch)
                         : tk_arch_parse(mc->json, strlen(mc->json), mc->name, &arch);
  CHECK_OK(s);
  if (s) return;
  tk_test_weights w = {0};
  tk_ref_model *ref = NULL;
  tk_ir_module *m = NULL;
  tk_ir_module *dense = NULL;
  CHECK(tk_test_weights_make(&arch, &w));
  if (mc->router != SEEDED) set_router(&w, mc->router == TIED);
  CHECK_OK(tk_ref_model_from_arrays(&arch, w.arrays, w.n, &ref));
  tkc_ir_options po;
  tkc_ir_options_default(&po);
  po.verify_each = true;
  CHECK_OK(tkc_build_ir(&arch, &po, &dense));
  po.ir.dispatch = TK_DISPATCH_SPARSE;
  if (mc->sparse) CHECK_OK(tkc_build_ir(&arch, &po, &m));
  if (ref && dense && (!mc->sparse || m)) {
    check_target(mc, mc->sparse ? m : dense, mc->sparse ? dense : NULL, "x86_64", &w, ref);
    if (mc->simt)
      check_target(mc, mc->sparse ? m : dense, mc->sparse ? dense : NULL, "x86_64-simt", &w, ref);
  }
  tk_ir_module_free(dense);
  tk_ir_module_free(m);
  tk_ref_model_free(ref);
  tk_test_weights_free(&w);
}

int main(int argc, char **argv) {
  static const model_case cases[] = {
      {"nano", "models/nano.arch.json", NULL, true, false, SEEDED},
      {"custom-small", "models/custom-small.arch.json", NULL, true, false, SEEDED},
      {"dense", "models/dense.arch.json", NULL, false, false, SEEDED},
      {"custom-out_in-gelu-eps", NULL, CUSTOM_OUT_IN, false, false, SEEDED},
      {"nano-sparse", "models/nano.arch.json", NULL, true, true, SEEDED},
      {"custom-small-sparse", "models/custom-small.arch.json", NULL, true, true, SEEDED},
      {"custom-out_in-sparse", NULL, CUSTOM_OUT_IN, false, true, SEEDED},
      {"nano-sparse-one-route", "models/nano.arch.json", NULL, false, true, ONE_ROUTE},
      {"custom-out_in-sparse-ties", NULL, CUSTOM_OUT_IN, false, true, TIED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (argc < 2 || strcmp(argv[1], cases[i].name) == 0) check_model(&cases[i]);
  TEST_MAIN_END();
}
