/* tests/unit/ir_interp_test.c — the fused, gpu and cpu IR of several archs, run by the
 * double-precision interpreter (tests/interp) on seeded random weights and inputs, must
 * match the independent reference (tests/ref) within the docs/formats.md §3 tolerance, keep sets
 * included. Archs: nano, custom-small, a Custom MoE with weight_layout out_in, the erf GELU
 * and eps 1e-3 (out = 20 and E = 5 exercise the CPU tile tails), a tiny Dense, and nano with
 * exactly tied router probabilities (ties go to the lower index). B = 1, 17. Every MoE runs with
 * both dispatch forms (dense, and sparse: counting sort, gather, chains on count[e] rows,
 * scatter), and with the tiled GPU schedule (its threads run between barriers).
 * This catches a wrong index map, padding rule or top-K before any codegen exists.
 */
#include <math.h>
#include <stdlib.h>

#include "model/arch.h"
#include "compiler/tkc.h"
#include "tests/interp/interp.h"
#include "ref/ref.h"
#include "tests/unit/test.h"

static const char CUSTOM_OUT_IN[] =
    "{\"size\": \"Custom\", \"input_dim\": 12, \"hidden_dim\": 48, \"output_dim\": 20, \"n_experts\": 5,"
    " \"top_k\": 2, \"expert_depth\": 1, \"seed\": 7, \"weight_layout\": \"out_in\", \"hidden_act\": \"gelu\","
    " \"layer_norm_eps\": 0.001}";
static const char TINY_DENSE[] =
    "{\"size\": \"Tiny\", \"model_kind\": \"Dense\", \"input_dim\": 8, \"hidden_dim\": 16, \"output_dim\": 4,"
    " \"n_experts\": 0, \"top_k\": 0, \"expert_depth\": 1, \"seed\": 9}";

/* xorshift64*: a seeded stream, uniform in [-1, 1). */
static double uniform(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Weights as f32 values (so the float kernels and the reference see the same numbers):
 * W ~ U(-1, 1)/sqrt(fan_in), biases and beta ~ 0.1 U, gamma ~ 1 + 0.1 U. */
static float **make_weights(const tk_arch *a, uint64_t seed) {
  size_t n = tk_arch_param_count(a);
  float **w = calloc(n, sizeof *w);
  for (size_t i = 0; w && i < n; i++) {
    tk_param_spec p = tk_arch_param(a, i);
    w[i] = malloc(sizeof(float) * p.count);
    if (!w[i]) continue;
    double fan_in = a->weight_layout == TK_LAYOUT_IN_OUT ? p.rows : p.cols;
    for (uint64_t j = 0; j < p.count; j++) {
      double u = uniform(&seed);
      w[i][j] = (float)(p.role == TK_PARAM_WEIGHT  ? u / sqrt(fan_in)
                        : p.role == TK_PARAM_GAMMA ? 1 + 0.1 * u
                                                   : 0.1 * u);
    }
  }
  return w;
}

static tk_ref_model *reference(const tk_arch *a, float **w) {
  size_t n = tk_arch_param_count(a);
  tk_ref_array *arr = calloc(n, sizeof *arr);
  double **d = calloc(n, sizeof *d);
  char(*names)[40] = calloc(n, sizeof *names);
  tk_ref_model *model = NULL;
  bool ok = arr && d && names;
  for (size_t i = 0; ok && i < n; i++) {
    tk_param_spec p = tk_arch_param(a, i);
    memcpy(names[i], p.name, sizeof names[i]);
    d[i] = malloc(sizeof(double) * p.count);
    ok = d[i] != NULL;
    for (uint64_t j = 0; ok && j < p.count; j++) d[i][j] = w[i][j];
    arr[i] = (tk_ref_array){names[i], d[i], p.count};
  }
  if (ok) CHECK_OK(tk_ref_model_from_arrays(a, arr, n, &model));
  for (size_t i = 0; d && i < n; i++) free(d[i]);
  free(d);
  free(arr);
  free(names);
  return model;
}

/* Runs target t at batch B and compares logits and router weights with the reference. */
static void run_and_compare(const tk_ir_module *m, tk_ir_target t, float **w,
                            const tk_ref_model *ref, int64_t B, uint64_t seed, const char *label) {
  const tk_arch *a = &m->arch;
  double **bufs = calloc((size_t)m->nbuffers, sizeof *bufs);
  float *x = malloc(sizeof(float) * (size_t)(B * a->input_dim));
  float *logits = malloc(sizeof(float) * (size_t)(B * a->output_dim));
  float *rw = malloc(sizeof(float) * (size_t)(B * (a->n_experts ? a->n_experts : 1)));
  bool ok = bufs && x && logits && rw;
  for (int64_t i = 0; ok && i < B * a->input_dim; i++) x[i] = (float)uniform(&seed);
  for (int i = 0; ok && i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    int64_t n = tk_interp_buffer_count(m, i, B);
    ok = (bufs[i] = malloc(sizeof(double) * (size_t)(n ? n : 1))) != NULL;
    for (int64_t j = 0; ok && j < n; j++)
      bufs[i][j] = b->role == TK_ROLE_PARAM ? w[b->param_index][j]
                   : b->role == TK_ROLE_IN  ? x[j]
                                            : NAN;
  }
  tk_status s = ok ? tk_interp_run(m, t, B, bufs, NULL)
                   : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  CHECK_MSG(s == NULL, "%s: %s", label, tk_status_message(s));
  if (!s) {
    for (int i = 0; i < m->nbuffers; i++) {
      const tk_ir_buffer *b = &m->buffers[i];
      float *dst = !strcmp(b->name, "logits")           ? logits
                   : !strcmp(b->name, "router_weights") ? rw
                                                        : NULL;
      for (int64_t j = 0; dst && j < tk_interp_buffer_count(m, i, B); j++)
        dst[j] = (float)bufs[i][j];
    }
    tk_ref_report rep;
    CHECK_OK(tk_ref_compare(ref, x, (size_t)B, logits, a->n_experts ? rw : NULL, &rep));
    CHECK_MSG(tk_ref_report_passed(&rep) && rep.elements > 0, "%s: mismatches against tests/ref",
              label);
    if (!tk_ref_report_passed(&rep)) tk_ref_report_print(&rep, stderr);
  }
  tk_status_free(s);
  for (int i = 0; bufs && i < m->nbuffers; i++) free(bufs[i]);
  free(bufs);
  free(x);
  free(logits);
  free(rw);
}

/* ties: the router's weights and bias are zeroed, so every p[e] is exactly 1/E and the
 * lower indices must win (docs/formats.md §3). */
static void check_arch_dispatch(const tk_arch *a, const char *name, bool ties,
                                tk_ir_dispatch dispatch, tk_ir_gpu_schedule gpu) {
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  o.verify_each = true;
  o.ir.dispatch = dispatch;
  o.ir.gpu_schedule = gpu;
  tk_ir_module *m = NULL;
  CHECK_OK(tkc_build_ir(a, &o, &m));
  float **w = m ? make_weights(a, 0x9E3779B97F4A7C15ULL ^ a->seed) : NULL;
  for (size_t i = 0; ties && w && i < 2; i++)
    memset(w[i], 0, sizeof(float) * tk_arch_param(a, i).count);
  tk_ref_model *ref = w ? reference(a, w) : NULL;
  static const int64_t batches[] = {1, 17};
  static const tk_ir_target targets[] = {TK_TARGET_NONE, TK_TARGET_GPU, TK_TARGET_CPU};
  for (size_t bi = 0; ref && bi < 2; bi++)
    for (size_t ti = 0; ti < 3; ti++) {
      char label[128];
      snprintf(label, sizeof label, "%s %s %s%s B=%lld", name,
               dispatch == TK_DISPATCH_SPARSE ? "sparse" : "dense", tk_ir_target_name(targets[ti]),
               gpu == TK_GPU_SCHEDULE_TILED ? " tiled" : "", (long long)batches[bi]);
      run_and_compare(m, targets[ti], w, ref, batches[bi], 1234 + bi, label);
    }
  tk_ref_model_free(ref);
  for (size_t i = 0; w && i < tk_arch_param_count(a); i++) free(w[i]);
  free(w);
  tk_ir_module_free(m);
}

/* Both dispatch forms (a Dense model has no experts to dispatch), and the tiled GPU
 * schedule with the default dispatch. */
static void check_arch(const tk_arch *a, const char *name, bool ties) {
  bool moe = a->model_kind != TK_MODEL_DENSE;
  check_arch_dispatch(a, name, ties, TK_DISPATCH_DENSE, TK_GPU_SCHEDULE_SIMPLE);
  if (moe) check_arch_dispatch(a, name, ties, TK_DISPATCH_SPARSE, TK_GPU_SCHEDULE_SIMPLE);
  check_arch_dispatch(a, name, ties, moe ? TK_DISPATCH_SPARSE : TK_DISPATCH_DENSE,
                      TK_GPU_SCHEDULE_TILED);
}

int main(void) {
  const char *files[] = {"models/nano.arch.json", "models/custom-small.arch.json"};
  for (int i = 0; i < 2; i++) {
    tk_arch a;
    tk_status s = tk_arch_load(files[i], &a);
    CHECK_MSG(s == NULL, "%s: %s", files[i], tk_status_message(s));
    if (!s) check_arch(&a, files[i], false);
    if (!s && i == 0) check_arch(&a, "nano with exact router ties", true);
    tk_status_free(s);
  }
  const char *texts[] = {CUSTOM_OUT_IN, TINY_DENSE};
  const char *names[] = {"custom out_in/gelu/eps", "tiny dense"};
  for (int i = 0; i < 2; i++) {
    tk_arch a;
    tk_status s = tk_arch_parse(texts[i], strlen(texts[i]), names[i], &a);
    CHECK_MSG(s == NULL, "%s: %s", names[i], tk_status_message(s));
    if (!s) check_arch(&a, names[i], false);
    tk_status_free(s);
  }
  TEST_MAIN_END();
}
