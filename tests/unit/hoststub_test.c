/* tests/unit/hoststub_test.c — the generated host stub (codegen/hoststub.c).
 *
 * For real modules (the pipeline on the models/ archs and a Custom out_in/gelu arch, at the
 * default and a small --max-batch) and for a hand-built module whose formulas divide
 * possibly-negative values: the stub compiles with `cc -Wall -Wextra -Werror` and only the
 * two include dirs, two builds are byte-identical, and the loaded model_host.so agrees with
 * the IR evaluated by tk_ir_ix_eval: every buffer's elements, role, checkpoint index and name,
 * and, through a recording launcher, every launch of both schedules (order, name, buffers,
 * grid, workgroup size) for B in 1..200 and near Bmax. Out-of-range B and unknown schedules
 * are refused.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/hoststub.h"
#include "compiler/tkc.h"
#include "test.h"
#include "tk/model_host.h"

/* ---- a launcher that records launches ---------------------------------------------------- */

enum { REC_MAX = 512 };

typedef struct rec_launch {
  int32_t kernel, nargs, B, Bp;
  char name[64];
  int32_t buffers[64];
  int64_t grid, wg;
} rec_launch;

typedef struct rec_launcher {
  tk_launcher base;
  int n;
  rec_launch items[REC_MAX];
} rec_launcher;

static tk_status rec_launch_fn(tk_launcher *l, const tk_launch_args *a) {
  rec_launcher *r = (rec_launcher *)l;
  if (r->n >= REC_MAX || a->nargs > 64) return tk_status_make(TK_INTERNAL, "too many launches");
  rec_launch *x = &r->items[r->n++];
  *x = (rec_launch){.kernel = a->kernel,
                    .nargs = a->nargs,
                    .B = a->B,
                    .Bp = a->Bp,
                    .grid = a->grid,
                    .wg = a->workgroup_size};
  snprintf(x->name, sizeof x->name, "%s", a->name);
  memcpy(x->buffers, a->buffers, (size_t)a->nargs * sizeof *a->buffers);
  return TK_STATUS_OK;
}

static tk_status rec_error(tk_status_code code, const char *fmt, va_list ap) {
  char msg[256];
  vsnprintf(msg, sizeof msg, fmt, ap);
  return tk_status_make(code, "%s", msg);
}

static const tk_launcher_vtable rec_vtable = {
    .kind = "record", .launch = rec_launch_fn, .make_error = rec_error};

/* ---- helpers ----------------------------------------------------------------------------- */

static char *runtime_include(void) {
  const char *src = getenv("TK_SOURCE_DIR");
  char *p = malloc(4096);
  snprintf(p, 4096, "%s/runtime/include", src ? src : ".");
  return p;
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static char *read_file(const char *dir, const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void remove_dir(const char *dir) {
  const char *names[] = {TK_STUB_C_FILE, TK_STUB_H_FILE, TK_STUB_SO_FILE};
  char path[4096];
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}

/* Generates and builds the stub in a fresh temp dir; returns the dir (caller frees). */
static char *build_stub(const tk_ir_module *m) {
  char *c = NULL, *h = NULL;
  tk_status s = tk_cg_stub_generate(m, "test", &c, &h);
  CHECK_OK(s);
  if (!c) return NULL;
  char *dir = strdup("/tmp/tk_hoststub_XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  write_file(dir, TK_STUB_C_FILE, c);
  write_file(dir, TK_STUB_H_FILE, h);
  free(c);
  free(h);
  char *inc = runtime_include();
  tk_stub_build_options o = {.cc = "cc", .runtime_include = inc, .werror = true};
  CHECK_OK(tk_cg_stub_build(dir, &o));
  free(inc);
  return dir;
}

/* ---- checks against the IR --------------------------------------------------------------- */

static void check_buffers(const tk_ir_module *m, const tk_model_host *h, int64_t B) {
  int64_t Bp = tk_ir_ix_bp_of(B);
  tk_ix_env env = {.B = B, .Bp = Bp, .vals = NULL};
  CHECK(h->buffer_count() == m->nbuffers);
  CHECK(h->padded_batch((int32_t)B) == Bp);
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    int64_t want = tk_ir_ix_eval(b->count, &env), got = h->buffer_elems(i, (int32_t)B, (int32_t)Bp);
    CHECK_MSG(got == want, "buffer %s at B=%lld: %lld elements, IR says %lld", b->name,
              (long long)B, (long long)got, (long long)want);
    CHECK(h->buffer_role(i) == (int32_t)b->role);
    CHECK(h->buffer_param(i) == (b->role == TK_ROLE_PARAM ? b->param_index : -1));
    CHECK(!strcmp(h->buffer_name(i), b->name));
  }
  CHECK(h->buffer_elems(m->nbuffers, 1, 16) == -1 && h->buffer_name(-1) == NULL);
}

static void check_sequence(const tk_ir_module *m, const tk_model_host *h, tk_ir_target t,
                           int64_t B) {
  rec_launcher r = {.base = {.vt = &rec_vtable}};
  const tk_ir_kernel_list *list = tk_ir_module_kernels(m, t);
  CHECK_OK(h->forward(&r.base, t == TK_TARGET_GPU ? "gpu" : "cpu", (int32_t)B));
  CHECK_MSG(r.n == list->n, "%d launches, IR has %d kernels", r.n, list->n);
  tk_ix_env env = {.B = B, .Bp = tk_ir_ix_bp_of(B), .vals = NULL};
  for (int i = 0; i < r.n && i < list->n; i++) {
    const tk_ir_kernel *k = list->items[i];
    const rec_launch *x = &r.items[i];
    CHECK(x->kernel == k->id && !strcmp(x->name, k->name) && x->nargs == k->nargs);
    CHECK(x->B == B && x->Bp == env.Bp);
    int64_t grid = tk_ir_ix_eval(k->launch.grid, &env);
    CHECK_MSG(x->grid == grid, "%s at B=%lld: grid %lld, IR says %lld", k->name, (long long)B,
              (long long)x->grid, (long long)grid);
    CHECK(x->wg == (t == TK_TARGET_CPU ? 1 : k->launch.workgroup_size));
    for (int a = 0; a < k->nargs && a < x->nargs; a++) CHECK(x->buffers[a] == k->args[a].buffer);
  }
}

static void check_refusals(const tk_model_host *h) {
  rec_launcher r = {.base = {.vt = &rec_vtable}};
  CHECK_ERR(h->forward(&r.base, "cpu", 0), "outside [1,");
  CHECK_ERR(h->forward(&r.base, "cpu", (int32_t)h->max_batch() + 1), "outside [1,");
  CHECK_ERR(h->forward(&r.base, "tpu", 1), "unknown schedule 'tpu'");
  CHECK_ERR(h->forward(&r.base, NULL, 1), "unknown schedule");
  CHECK(r.n == 0);
}

static void check_identical_builds(const char *dir1, const char *dir2) {
  size_t n1 = 0, n2 = 0;
  char *a = read_file(dir1, TK_STUB_SO_FILE, &n1), *b = read_file(dir2, TK_STUB_SO_FILE, &n2);
  CHECK_MSG(a && b && n1 == n2 && !memcmp(a, b, n1), "model_host.so differs between %s and %s",
            dir1, dir2);
  free(a);
  free(b);
}

static void check_module(const tk_ir_module *m, bool schedules) {
  char *dir1 = build_stub(m), *dir2 = build_stub(m);
  if (!dir1 || !dir2) return;
  check_identical_builds(dir1, dir2);
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir1, TK_STUB_SO_FILE);
  tk_model_host *h = NULL;
  CHECK_OK(tk_model_host_open(path, &h));
  if (h) {
    CHECK(h->max_batch() == m->opts.bmax && !strcmp(h->fingerprint(), m->arch.fingerprint));
    int64_t bmax = m->opts.bmax;
    for (int64_t B = 1; B <= 200 + 20; B++) {
      int64_t b = B <= 200 ? B : bmax - (B - 201); /* 1..200, then bmax-19..bmax */
      if (b < 1 || b > bmax) continue;
      check_buffers(m, h, b);
      if (schedules) {
        check_sequence(m, h, TK_TARGET_GPU, b);
        check_sequence(m, h, TK_TARGET_CPU, b);
      }
    }
    check_refusals(h);
  }
  tk_model_host_close(h);
  remove_dir(dir1);
  remove_dir(dir2);
  free(dir1);
  free(dir2);
}

static void check_arch(const char *path, const char *json, int64_t bmax) {
  tk_arch arch;
  tk_status s = json ? tk_arch_parse(json, strlen(json), "test", &arch) : tk_arch_load(path, &arch);
  CHECK_OK(s);
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  o.ir.bmax = bmax;
  tk_ir_module *m = NULL;
  CHECK_OK(tkc_build_ir(&arch, &o, &m));
  if (m) check_module(m, true);
  tk_ir_module_free(m);
}

/* ---- a hand-built module: floor div/mod of values that can be negative ------------------- */

static void check_hand_built(void) {
  tk_arch arch;
  CHECK_OK(tk_arch_load("models/nano.arch.json", &arch));
  tk_ir_options opts;
  tk_ir_options_default(&opts);
  opts.bmax = 300;
  tk_ir_module *m = NULL;
  CHECK_OK(tk_ir_module_create(&arch, &opts, &m));
  if (!m) return;
  const tk_ix *B = tk_ir_ix_sym(m, TK_SYM_B), *Bp = tk_ir_ix_sym(m, TK_SYM_BP);
  const tk_ix *counts[] = {
      tk_ir_ix_div(m, tk_ir_ix_sub(m, B, tk_ir_ix_const(m, 40)), 16), /* negative for B < 40 */
      tk_ir_ix_mod(m, tk_ir_ix_sub(m, tk_ir_ix_const(m, 7), B), 5),   /* mod of negatives */
      tk_ir_ix_max(m, tk_ir_ix_min(m, tk_ir_ix_mul(m, B, -3), tk_ir_ix_const(m, -20)),
                   tk_ir_ix_sub(m, tk_ir_ix_const(m, -500), Bp)),
      tk_ir_ix_add(m, tk_ir_ix_div(m, Bp, 16),
                   tk_ir_ix_mod(m, tk_ir_ix_add(m, B, tk_ir_ix_const(m, 3)), 7)),
      tk_ir_ix_const(m, INT64_C(5000000000)),
  };
  int n = (int)(sizeof counts / sizeof counts[0]);
  m->buffers = tk_ir_alloc(m, (size_t)n * sizeof *m->buffers);
  for (int i = 0; i < n && m->buffers; i++)
    m->buffers[i] = (tk_ir_buffer){.id = i,
                                   .name = tk_ir_strfmt(m, "buf_%d", i),
                                   .role = TK_ROLE_SCRATCH,
                                   .type = TK_T_F32,
                                   .count = counts[i],
                                   .param_index = -1};
  m->nbuffers = n;
  m->stage = TK_STAGE_CPU;
  CHECK_OK(tk_ir_module_status(m));
  check_module(m, false);
  tk_ir_module_free(m);
}

int main(void) {
  static const char custom[] =
      "{\"size\": \"Custom\", \"input_dim\": 40, \"hidden_dim\": 24, \"output_dim\": 7,"
      " \"n_experts\": 5, \"top_k\": 3, \"expert_depth\": 1, \"seed\": 7,"
      " \"weight_layout\": \"out_in\", \"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-3}";
  check_hand_built();
  check_arch("models/nano.arch.json", NULL, 65536);
  check_arch("models/nano.arch.json", NULL, 1000);
  check_arch("models/custom-small.arch.json", NULL, 65536);
  check_arch("models/dense.arch.json", NULL, 65536);
  check_arch(NULL, custom, 333);
  TEST_MAIN_END();
}
