/* bench/gemm_cpu/gemm_cpu.c — tkc's x86_64 GEMM kernels vs OpenBLAS, in one run.
 *
 * Dimension legend: M = B (rows, 16/256/1024 = Bp, so no padding), K×N the layer shape,
 * H = --hidden (default 2048): 96×H (an expert's input layer), H×H (a hidden layer), H×20 (the
 * output layer, fused into `combine`).
 *
 * The kernels come from the real pipeline: a Custom MoE arch {input 96, hidden H, output 20,
 * 1 expert, top_k 1, depth 1} → pad, fuse, plan, schedule cpu → codegen x86_64 (--cpu, default
 * x86-64-v3) → ld.lld → dlopen (tests/unit/cg_driver.c). Kernels: expert_0_in (96×H + bias +
 * LayerNorm + GELU), expert_0_hidden_1 (H×H + the same), combine (H×20 + bias, weighted by the
 * router's weight, here 1). A fused kernel of two phases runs as two CPU launches, <name>_gemm
 * then <name>_norm (docs/ir.md); both are timed.
 * OpenBLAS side: cblas_sgemm (row-major, W stored [in, out]) + the same epilogue in C (bias,
 * LayerNorm, GELU-tanh with libm tanhf; bias only for H×20), openblas_set_num_threads(T).
 * tkc side: the kernel's grid (Bp/16 blocks) split over T threads (a thread is created per
 * launch for T = 2).
 * Schedule: what tkc_ir_options_set_cpu picks for --cpu (as `tkc compile --cpu` does);
 * --block-rows, --tile-rows, --tile-cols override it (tk_ir_options).
 * GFLOP/s counts 2·M·K·N (the epilogue is not counted); best of --reps runs. The max
 * difference between the two outputs is printed so a wrong kernel cannot look fast.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "model/init_weights.h"
#include "compiler/tkc.h"
#include "tests/unit/cg_driver.h"

void openblas_set_num_threads(int);

typedef struct layer {
  const char *kernel; /* scheduled kernel name */
  const char *label;
  int k, n;
  bool norm_gelu; /* epilogue: bias + LayerNorm + GELU (else bias only) */
} layer;

typedef struct bench {
  tk_arch arch;
  tk_ir_module *m;
  tk_cgd *d;
  float **w; /* checkpoint tensors */
  size_t nw;
  int reps;
} bench;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int die(tk_status s) {
  fprintf(stderr, "gemm_cpu: %s (%s)\n", tk_status_message(s), tk_status_location(s));
  tk_status_free(s);
  return 1;
}

/* y[M, N] += bias; then per row LayerNorm (eps) and GELU-tanh when g != NULL. */
static void epilogue(float *y, int M, int N, const float *bias, const float *g, const float *be,
                     double eps) {
  for (int r = 0; r < M; r++) {
    float *row = y + (size_t)r * (size_t)N;
    for (int j = 0; j < N; j++) row[j] += bias[j];
    if (!g) continue;
    float mean = 0, var = 0;
    for (int j = 0; j < N; j++) mean += row[j];
    mean /= (float)N;
    for (int j = 0; j < N; j++) var += (row[j] - mean) * (row[j] - mean);
    float rstd = 1.0f / sqrtf(var / (float)N + (float)eps);
    for (int j = 0; j < N; j++) {
      float v = (row[j] - mean) * rstd * g[j] + be[j];
      row[j] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
    }
  }
}

/* The checkpoint tensor behind argument `arg` of kernel ki. */
static const float *param_of(const bench *b, int ki, int arg) {
  const tk_ir_arg *a = &b->m->targets[TK_TARGET_CPU].items[ki]->args[arg];
  return b->w[b->m->tensors[a->tensor].param_index];
}

/* Arguments of a linear kernel: the activation read (in), the one written (out), and the
 * parameters in order (W, b[, gamma, beta]). */
static void kernel_args(const bench *b, int ki, int *in, int *out, int params[4]) {
  const tk_ir_kernel *k = b->m->targets[TK_TARGET_CPU].items[ki];
  int np = 0;
  *in = *out = -1;
  for (int i = 0; i < k->nargs; i++) {
    const tk_ir_arg *a = &k->args[i];
    if (a->role == TK_ROLE_PARAM && np < 4)
      params[np++] = i;
    else if (a->access & TK_ACC_WRITE)
      *out = i;
    else if (*in < 0 && a->type == TK_T_F32 && strstr(a->name, ".gate") == NULL)
      *in = i;
  }
}

/* The launches of a layer's fused kernel, in order: itself (one phase), or <name>_gemm and
 * <name>_norm. */
typedef struct launches {
  int n, ki[2];
} launches;

static double time_tkc(bench *b, const launches *l, int threads) {
  double best = 1e30;
  for (int r = 0; r < b->reps; r++) {
    double t0 = now();
    tk_status s = TK_STATUS_OK;
    for (int i = 0; !s && i < l->n; i++) s = tk_cgd_run(b->d, l->ki[i], threads);
    double t = now() - t0;
    if (s) return die(s), -1;
    if (t < best) best = t;
  }
  return best;
}

static double time_blas(const bench *b, const layer *L, const launches *l, int M, const float *x,
                        float *y) {
  int in, out, p[4], np[4]; /* the first launch's W, b[, gamma, beta]; the norm's gamma, beta */
  kernel_args(b, l->ki[0], &in, &out, p);
  kernel_args(b, l->ki[l->n - 1], &in, &out, np);
  const float *W = param_of(b, l->ki[0], p[0]), *bias = param_of(b, l->ki[0], p[1]);
  int gk = l->ki[l->n - 1], ga = l->n > 1 ? np[0] : p[2], ba = l->n > 1 ? np[1] : p[3];
  const float *g = L->norm_gelu ? param_of(b, gk, ga) : NULL;
  const float *be = L->norm_gelu ? param_of(b, gk, ba) : NULL;
  double best = 1e30;
  for (int r = 0; r < b->reps; r++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, L->n, L->k, 1.0f, x, L->k, W, L->n,
                0.0f, y, L->n);
    epilogue(y, M, L->n, bias, g, be, b->arch.layer_norm_eps);
    double t = now() - t0;
    if (t < best) best = t;
  }
  return best;
}

static int kernel_index(const bench *b, const char *name) {
  const tk_ir_kernel *k = tk_ir_kernel_find(b->m, TK_TARGET_CPU, name);
  return k ? k->id : -1;
}

static launches layer_launches(const bench *b, const char *name) {
  launches l = {1, {kernel_index(b, name), -1}};
  if (l.ki[0] >= 0) return l;
  char phase[96];
  snprintf(phase, sizeof phase, "%s_gemm", name);
  l.ki[0] = kernel_index(b, phase);
  snprintf(phase, sizeof phase, "%s_norm", name);
  l.ki[1] = kernel_index(b, phase);
  l.n = l.ki[1] >= 0 ? 2 : 1;
  return l;
}

static int run_layer(bench *b, const layer *L, int M) {
  launches l = layer_launches(b, L->kernel);
  int in, out, p[4];
  if (l.ki[0] < 0) return fprintf(stderr, "gemm_cpu: no kernel %s\n", L->kernel), 1;
  kernel_args(b, l.ki[0], &in, &out, p);
  size_t nx = (size_t)M * (size_t)L->k, ny = (size_t)M * (size_t)L->n;
  float *x = tk_cgd_arg(b->d, l.ki[0], in), *yt = tk_cgd_arg(b->d, l.ki[0], out);
  for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
  float *y = malloc(ny * sizeof *y);
  if (!y) return fprintf(stderr, "gemm_cpu: out of memory\n"), 1;
  double flop = 2.0 * M * L->k * L->n;
  for (int threads = 1; threads <= 2; threads++) {
    openblas_set_num_threads(threads);
    double tb = time_blas(b, L, &l, M, x, y), tt = time_tkc(b, &l, threads);
    if (tt < 0) return free(y), 1;
    double maxd = 0;
    for (size_t i = 0; i < ny; i++) maxd = fmax(maxd, fabs((double)y[i] - yt[i]));
    printf("%-6s M=%-5d %5dx%-5d T=%d  openblas+epi %7.1f GFLOP/s  tkc %7.1f GFLOP/s  "
           "ratio %.2f  max|diff| %.1e\n",
           L->label, M, L->k, L->n, threads, flop / tb * 1e-9, flop / tt * 1e-9, tb / tt, maxd);
  }
  free(y);
  return 0;
}

static tk_status setup(bench *b, int hidden, const char *cpu, const tk_ir_options *ir) {
  char json[256];
  snprintf(json, sizeof json,
           "{\"size\":\"Custom\",\"input_dim\":96,\"hidden_dim\":%d,"
           "\"output_dim\":20,\"n_experts\":1,\"top_k\":1,\"expert_depth\":1,\"seed\":1}",
           hidden);
  TK_RETURN_IF_ERROR(tk_arch_parse(json, strlen(json), "bench", &b->arch));
  tkc_ir_options po;
  tkc_ir_options_default(&po);
  po.ir = *ir;
  TK_RETURN_IF_ERROR(tkc_build_ir(&b->arch, &po, &b->m));
  tk_cg_options o;
  tk_cg_options_default(&o);
  o.cpu = cpu;
  tk_cg_blob so;
  TK_RETURN_IF_ERROR(tk_cg_compile_shared(b->m, &o, &so));
  char path[64];
  snprintf(path, sizeof path, "/tmp/gemm_cpu_%ld.so", (long)getpid());
  tk_status s = tk_cg_blob_write(&so, path);
  tk_cg_blob_free(&so);
  if (!s) s = tk_cgd_open(b->m, TK_TARGET_CPU, path, &b->d);
  unlink(path);
  TK_RETURN_IF_ERROR(s);
  b->nw = tk_arch_param_count(&b->arch);
  b->w = calloc(b->nw, sizeof *b->w);
  if (!b->w) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  for (size_t i = 0; i < b->nw; i++) {
    tk_param_spec spec = tk_arch_param(&b->arch, i);
    if (!(b->w[i] = malloc(spec.count * sizeof(float))))
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
    tk_arch_init_fill(&b->arch, b->arch.seed, i, b->w[i]);
  }
  return TK_STATUS_OK;
}

/* The schedule bench runs: the pipeline's choice for --cpu (as bundles get it), then any
 * --block-rows / --tile-rows / --tile-cols override (0 = keep). */
static tk_status schedule_for(const char *cpu, const int64_t over[3], tk_ir_options *ir) {
  tk_ir_options_default(ir);
  TK_RETURN_IF_ERROR(tkc_ir_options_set_cpu(ir, cpu));
  printf("cpu %s: wide layers in blocks of %lld rows, register tile %lld x %lld (the H x 20 "
         "layer, narrower than 256 columns: blocks of 32 rows, docs/ir.md)\n",
         cpu ? cpu : "default", (long long)(over[0] ? over[0] : ir->cpu_block_rows),
         (long long)(over[1] ? over[1] : ir->cpu_tile_rows),
         (long long)(over[2] ? over[2] : ir->cpu_tile_cols));
  printf(
      "ratio = tkc GFLOP/s / (OpenBLAS + epilogue) GFLOP/s, same run; target: HxH at M=256 >= 0.5\n");
  if (over[0]) ir->cpu_block_rows = over[0];
  if (over[1]) ir->cpu_tile_rows = over[1];
  if (over[2]) ir->cpu_tile_cols = over[2];
  return TK_STATUS_OK;
}

static void print_load(void) {
  double l1 = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f && fscanf(f, "%lf", &l1) != 1) l1 = -1;
  if (f) fclose(f);
  printf("load average (1 min) %.2f on %ld cores\n", l1, sysconf(_SC_NPROCESSORS_ONLN));
}

int main(int argc, char **argv) {
  int hidden = 2048, reps = 5;
  const char *cpu = NULL;
  int64_t over[3] = {0, 0, 0};
  static const char *const knobs[3] = {"--block-rows", "--tile-rows", "--tile-cols"};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--hidden") == 0)
      hidden = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--reps") == 0)
      reps = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--cpu") == 0)
      cpu = argv[i + 1];
    for (int k = 0; k < 3; k++)
      if (strcmp(argv[i], knobs[k]) == 0) over[k] = atoi(argv[i + 1]);
  }
  bench b = {.reps = reps > 0 ? reps : 1};
  tk_ir_options ir;
  print_load();
  tk_status s = schedule_for(cpu, over, &ir);
  if (!s) s = setup(&b, hidden, cpu, &ir);
  int rc = s ? die(s) : 0;
  const layer layers[] = {
      {"expert_0_in", "96xH", 96, hidden, true},
      {"expert_0_hidden_1", "HxH", hidden, hidden, true},
      {"combine", "Hx20", hidden, 20, false},
  };
  static const int Ms[] = {16, 256, 1024};
  for (size_t mi = 0; !rc && mi < sizeof Ms / sizeof Ms[0]; mi++) {
    float *x = calloc((size_t)Ms[mi] * 96, sizeof *x);
    s = x ? tk_cgd_prepare(b.d, (const float *const *)b.w, x, Ms[mi])
          : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
    free(x);
    if (s) rc = die(s);
    if (!rc && (s = tk_cgd_run(b.d, -1, 1))) rc = die(s); /* every buffer written once */
    for (size_t li = 0; !rc && li < sizeof layers / sizeof layers[0]; li++)
      rc = run_layer(&b, &layers[li], Ms[mi]);
  }
  print_load();
  tk_cgd_close(b.d);
  tk_ir_module_free(b.m);
  for (size_t i = 0; b.w && i < b.nw; i++) free(b.w[i]);
  free(b.w);
  return rc;
}
