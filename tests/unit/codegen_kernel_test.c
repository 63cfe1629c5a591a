/* tests/unit/codegen_kernel_test.c — codegen on small scheduled kernels built by hand with the
 * ir.h builders, checked against plain C computed here (not by codegen):
 *   gemm_bias  the cpu schedule's register-tile shape (4×16 tile, acc expanded per tile point,
 *              k reduction outside the unrolled/vector tile loops, a row guard r < B on the
 *              store, clamped row reads): y = x·W + b; the asm must use vfmadd on ymm;
 *   rows       a row kernel: max and sum reductions, exp/tanh/erf, an IF guard, and floor
 *              div/mod of negative indices into an i32 output; a NaN input makes its whole
 *              softmax row NaN (exp(NaN) = NaN);
 *   gather     index reads (TK_IX_LOAD): a guard `%keep[r] > 0` and a load of row
 *              `min(max(%list[r], 0), B - 1)` (sparse dispatch's gather), rows reversed.
 * Also: determinism (two compiles give the same object; two links the same .so), exported
 * symbols, the x86_64 target refusing a gpu binding, a bad --cpu, and an LLVM code generation
 * error caught by the diagnostic handler (a status, and the process goes on).
 */
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Core.h>

#include "codegen/cg_internal.h"
#include "codegen/codegen.h"
#include "tests/unit/cg_driver.h"
#include "tests/unit/test.h"

enum { K_DIM = 40, N_DIM = 36, C_DIM = 21, TR = 4, TC = 16, BR = 16 };

static tk_ir_module *new_module(void) {
  tk_arch arch;
  const char *json = "{\"size\":\"Custom\",\"input_dim\":40,\"hidden_dim\":8,\"output_dim\":36,"
                     "\"n_experts\":2,\"top_k\":1,\"expert_depth\":0,\"seed\":1}";
  tk_ir_module *m = NULL;
  CHECK_OK(tk_arch_parse(json, strlen(json), "test", &arch));
  CHECK_OK(tk_ir_module_create(&arch, NULL, &m));
  return m;
}

static int add_arg(tk_ir_module *m, tk_ir_kernel *k, const char *name, tk_ir_tensor_kind kind,
                   tk_ir_type type, const tk_ix *rows, int64_t cols, tk_ir_role role,
                   tk_ir_access acc) {
  int t = tk_ir_tensor_add(m, name, kind, type, rows, cols);
  int a = tk_ir_kernel_arg(m, k, t, role, acc);
  k->args[a].buffer = a; /* distinct buffers (no planning here) */
  return a;
}

static const tk_ix *V(tk_ir_module *m, const tk_ir_var *v) { return tk_ir_ix_var(m, v); }
static const tk_ix *C(tk_ir_module *m, int64_t c) { return tk_ir_ix_const(m, c); }

static const tk_ir_stmt *loop(tk_ir_module *m, const tk_ir_var *v, int64_t n, tk_ir_loop_kind kind,
                              const tk_ir_stmt *body) {
  return tk_ir_stmt_for(m, v, C(m, n), kind, TK_BIND_NONE, body);
}

static const tk_ir_stmt *block2(tk_ir_module *m, const tk_ir_stmt *a, const tk_ir_stmt *b) {
  tk_ir_stmt *blk = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, blk, a);
  if (b) tk_ir_stmt_block_add(m, blk, b);
  return blk;
}

static void finish_kernel(tk_ir_module *m, tk_ir_kernel *k, const tk_ir_var *rb,
                          const tk_ir_stmt *body) {
  k->launch.grid = tk_ir_ix_div(m, tk_ir_ix_sym(m, TK_SYM_BP), BR);
  k->launch.workgroup_size = 1;
  k->launch.block_rows = BR;
  k->index_bits = 32;
  k->body = tk_ir_stmt_for(m, rb, k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_CPU_BLOCK, body);
  tk_ir_kernel_append(m, k);
}

/* y[r, j] = sum_k x[min(r, B-1), k] W[k, j] + b[j], rows r < B stored. */
static void build_gemm(tk_ir_module *m) {
  tk_ir_kernel *k = tk_ir_kernel_new(m, TK_TARGET_CPU, "gemm_bias");
  const tk_ix *Bs = tk_ir_ix_sym(m, TK_SYM_B);
  int y = add_arg(m, k, "y", TK_TENSOR_OUTPUT, TK_T_F32, Bs, N_DIM, TK_ROLE_OUT, TK_ACC_WRITE);
  int x = add_arg(m, k, "x", TK_TENSOR_INPUT, TK_T_F32, Bs, K_DIM, TK_ROLE_IN, TK_ACC_READ);
  int w =
      add_arg(m, k, "W", TK_TENSOR_PARAM, TK_T_F32, C(m, K_DIM), N_DIM, TK_ROLE_PARAM, TK_ACC_READ);
  int b = add_arg(m, k, "b", TK_TENSOR_PARAM, TK_T_F32, C(m, 1), N_DIM, TK_ROLE_PARAM, TK_ACC_READ);
  int acc = tk_ir_kernel_local(m, k, "acc", TK_T_F32, TR * TC);
  const tk_ir_var *rb = tk_ir_var_new(m, "rb", NULL), *rt = tk_ir_var_new(m, "rt", NULL);
  const tk_ir_var *jt = tk_ir_var_new(m, "jt", NULL), *ri = tk_ir_var_new(m, "ri", NULL);
  const tk_ir_var *jj = tk_ir_var_new(m, "jj", NULL), *kk = tk_ir_var_new(m, "k", NULL);
  const tk_ix *r = tk_ir_ix_add(
      m, tk_ir_ix_add(m, tk_ir_ix_mul(m, V(m, rb), BR), tk_ir_ix_mul(m, V(m, rt), TR)), V(m, ri));
  const tk_ix *j = tk_ir_ix_add(m, tk_ir_ix_mul(m, V(m, jt), TC), V(m, jj));
  const tk_ix *a = tk_ir_ix_add(m, tk_ir_ix_mul(m, V(m, ri), TC), V(m, jj));
  const tk_ir_val *fma = tk_ir_val_fma(
      m, tk_ir_val_load(m, k, x, tk_ir_ix_rowmajor(m, tk_ir_ix_clamp_row(m, r), K_DIM, V(m, kk))),
      tk_ir_val_load(m, k, w, tk_ir_ix_rowmajor(m, V(m, kk), N_DIM, j)),
      tk_ir_val_lload(m, k, acc, a));
  const tk_ir_stmt *init = tk_ir_stmt_lstore(m, acc, a, tk_ir_val_load(m, k, b, j));
  const tk_ir_stmt *upd = tk_ir_stmt_lstore(m, acc, a, fma);
  const tk_ir_stmt *out = tk_ir_stmt_if(
      m, r, TK_CMP_LT, Bs,
      tk_ir_stmt_store(m, y, tk_ir_ix_rowmajor(m, r, N_DIM, j), tk_ir_val_lload(m, k, acc, a)));
#define TILE(s) loop(m, ri, TR, TK_LOOP_UNROLL, loop(m, jj, TC, TK_LOOP_VECTOR, (s)))
  tk_ir_stmt *tile = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, tile, TILE(init));
  tk_ir_stmt_block_add(m, tile, loop(m, kk, K_DIM, TK_LOOP_REDUCTION, TILE(upd)));
  tk_ir_stmt_block_add(m, tile, TILE(out));
#undef TILE
  /* N = 36: two full 16-column tiles; the last 4 columns are left to a second kernel below. */
  const tk_ir_stmt *tiles =
      loop(m, rt, BR / TR, TK_LOOP_SERIAL, loop(m, jt, N_DIM / TC, TK_LOOP_SERIAL, tile));
  /* tail columns 32..35 as a plain (non-tiled) loop nest with a scalar accumulator */
  int sacc = tk_ir_kernel_local(m, k, "s", TK_T_F32, 1);
  const tk_ir_var *rr = tk_ir_var_new(m, "rr", NULL), *jl = tk_ir_var_new(m, "jl", NULL);
  const tk_ix *r2 = tk_ir_ix_add(m, tk_ir_ix_mul(m, V(m, rb), BR), V(m, rr));
  const tk_ix *j2 = tk_ir_ix_add(m, C(m, 32), V(m, jl));
  const tk_ir_stmt *s_init = tk_ir_stmt_lstore(m, sacc, C(m, 0), tk_ir_val_load(m, k, b, j2));
  const tk_ir_stmt *s_upd = tk_ir_stmt_lstore(
      m, sacc, C(m, 0),
      tk_ir_val_fma(
          m,
          tk_ir_val_load(m, k, x, tk_ir_ix_rowmajor(m, tk_ir_ix_clamp_row(m, r2), K_DIM, V(m, kk))),
          tk_ir_val_load(m, k, w, tk_ir_ix_rowmajor(m, V(m, kk), N_DIM, j2)),
          tk_ir_val_lload(m, k, sacc, C(m, 0))));
  const tk_ir_stmt *s_out =
      tk_ir_stmt_if(m, r2, TK_CMP_LT, Bs,
                    tk_ir_stmt_store(m, y, tk_ir_ix_rowmajor(m, r2, N_DIM, j2),
                                     tk_ir_val_lload(m, k, sacc, C(m, 0))));
  tk_ir_stmt *tail = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, tail, s_init);
  tk_ir_stmt_block_add(m, tail, loop(m, kk, K_DIM, TK_LOOP_REDUCTION, s_upd));
  tk_ir_stmt_block_add(m, tail, s_out);
  finish_kernel(
      m, k, rb,
      block2(m, tiles,
             loop(m, rr, BR, TK_LOOP_SERIAL, loop(m, jl, N_DIM - 32, TK_LOOP_SERIAL, tail))));
}

/* Per row r < B: p = softmax(x[r]), q = tanh(x) + erf(x), f = (c - 5) div 3 * 10 + (c - 5) mod 3. */
static void build_rows(tk_ir_module *m) {
  tk_ir_kernel *k = tk_ir_kernel_new(m, TK_TARGET_CPU, "rows");
  const tk_ix *Bs = tk_ir_ix_sym(m, TK_SYM_B);
  int x = add_arg(m, k, "xr", TK_TENSOR_INPUT, TK_T_F32, Bs, C_DIM, TK_ROLE_IN, TK_ACC_READ);
  int p = add_arg(m, k, "p", TK_TENSOR_OUTPUT, TK_T_F32, Bs, C_DIM, TK_ROLE_OUT, TK_ACC_WRITE);
  int q = add_arg(m, k, "q", TK_TENSOR_OUTPUT, TK_T_F32, Bs, C_DIM, TK_ROLE_OUT, TK_ACC_WRITE);
  int f = add_arg(m, k, "f", TK_TENSOR_OUTPUT, TK_T_I32, Bs, C_DIM, TK_ROLE_OUT, TK_ACC_WRITE);
  int mx = tk_ir_kernel_local(m, k, "mx", TK_T_F32, 1),
      sum = tk_ir_kernel_local(m, k, "sum", TK_T_F32, 1);
  const tk_ir_var *rb = tk_ir_var_new(m, "rb", NULL), *rr = tk_ir_var_new(m, "rr", NULL);
  const tk_ir_var *c = tk_ir_var_new(m, "c", NULL);
  const tk_ix *r = tk_ir_ix_add(m, tk_ir_ix_mul(m, V(m, rb), BR), V(m, rr));
  const tk_ix *at = tk_ir_ix_rowmajor(m, r, C_DIM, V(m, c));
  const tk_ir_val *xv = tk_ir_val_load(m, k, x, at);
  const tk_ir_val *mxv = tk_ir_val_lload(m, k, mx, C(m, 0)),
                  *sumv = tk_ir_val_lload(m, k, sum, C(m, 0));
  const tk_ir_val *e = tk_ir_val_un(m, TK_V_EXP, tk_ir_val_bin(m, TK_V_SUB, xv, mxv));
  const tk_ix *c5 = tk_ir_ix_sub(m, V(m, c), C(m, 5));
  const tk_ix *fi =
      tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_div(m, c5, 3), 10), tk_ir_ix_mod(m, c5, 3));
  tk_ir_stmt *row = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, row, tk_ir_stmt_lstore(m, mx, C(m, 0), tk_ir_val_f32(m, -1e30)));
  tk_ir_stmt_block_add(
      m, row,
      loop(m, c, C_DIM, TK_LOOP_REDUCTION,
           tk_ir_stmt_lstore(m, mx, C(m, 0), tk_ir_val_bin(m, TK_V_MAX, mxv, xv))));
  tk_ir_stmt_block_add(m, row, tk_ir_stmt_lstore(m, sum, C(m, 0), tk_ir_val_f32(m, 0)));
  tk_ir_stmt_block_add(
      m, row,
      loop(m, c, C_DIM, TK_LOOP_REDUCTION,
           tk_ir_stmt_lstore(m, sum, C(m, 0), tk_ir_val_bin(m, TK_V_ADD, sumv, e))));
  tk_ir_stmt *cols = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, cols, tk_ir_stmt_store(m, p, at, tk_ir_val_bin(m, TK_V_DIV, e, sumv)));
  tk_ir_stmt_block_add(m, cols,
                       tk_ir_stmt_store(m, q, at,
                                        tk_ir_val_bin(m, TK_V_ADD, tk_ir_val_un(m, TK_V_TANH, xv),
                                                      tk_ir_val_un(m, TK_V_ERF, xv))));
  tk_ir_stmt_block_add(m, cols, tk_ir_stmt_store(m, f, at, tk_ir_val_index(m, fi)));
  tk_ir_stmt_block_add(m, row, loop(m, c, C_DIM, TK_LOOP_PARALLEL, cols));
  finish_kernel(m, k, rb, loop(m, rr, BR, TK_LOOP_SERIAL, tk_ir_stmt_if(m, r, TK_CMP_LT, Bs, row)));
}

/* Per row r < B with %keep[r] > 0: yg[r] = xg[min(max(%list[r], 0), B - 1)] (an index read in
 * a guard and one in a load's index: sparse dispatch's gather). */
static void build_gather(tk_ir_module *m) {
  tk_ir_kernel *k = tk_ir_kernel_new(m, TK_TARGET_CPU, "gather");
  const tk_ix *Bs = tk_ir_ix_sym(m, TK_SYM_B), *Bps = tk_ir_ix_sym(m, TK_SYM_BP);
  int y = add_arg(m, k, "yg", TK_TENSOR_OUTPUT, TK_T_F32, Bs, C_DIM, TK_ROLE_OUT, TK_ACC_WRITE);
  int x = add_arg(m, k, "xg", TK_TENSOR_INPUT, TK_T_F32, Bs, C_DIM, TK_ROLE_IN, TK_ACC_READ);
  int list =
      add_arg(m, k, "list", TK_TENSOR_INTERMEDIATE, TK_T_I32, Bps, 1, TK_ROLE_SCRATCH, TK_ACC_READ);
  int keep =
      add_arg(m, k, "keep", TK_TENSOR_INTERMEDIATE, TK_T_I32, Bps, 1, TK_ROLE_SCRATCH, TK_ACC_READ);
  const tk_ir_var *rb = tk_ir_var_new(m, "rb", NULL), *rr = tk_ir_var_new(m, "rr", NULL);
  const tk_ir_var *c = tk_ir_var_new(m, "c", NULL);
  const tk_ix *r = tk_ir_ix_add(m, tk_ir_ix_mul(m, V(m, rb), BR), V(m, rr));
  const tk_ix *src = tk_ir_ix_clamp_row(
      m, tk_ir_ix_max(m, tk_ir_ix_load(m, list, k->args[list].name, r), C(m, 0)));
  const tk_ir_stmt *copy =
      tk_ir_stmt_store(m, y, tk_ir_ix_rowmajor(m, r, C_DIM, V(m, c)),
                       tk_ir_val_load(m, k, x, tk_ir_ix_rowmajor(m, src, C_DIM, V(m, c))));
  const tk_ir_stmt *kept =
      tk_ir_stmt_if(m, tk_ir_ix_load(m, keep, k->args[keep].name, r), TK_CMP_GT, C(m, 0),
                    loop(m, c, C_DIM, TK_LOOP_PARALLEL, copy));
  finish_kernel(m, k, rb,
                loop(m, rr, BR, TK_LOOP_SERIAL, tk_ir_stmt_if(m, r, TK_CMP_LT, Bs, kept)));
}

static float frand(uint32_t *s, float scale) {
  *s = *s * 1664525u + 1013904223u;
  return ((float)(*s >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static void run_gemm(tk_cgd_kernel_fn fn, int32_t B, int threads) {
  int32_t Bp = (int32_t)tk_ir_ix_bp_of(B);
  float *x = aligned_alloc(64, 64 * 64 * 4), *W = aligned_alloc(64, K_DIM * N_DIM * 4 + 64);
  float *b = aligned_alloc(64, 64 * 4), *y = aligned_alloc(64, 64 * 64 * 4);
  uint32_t s = 7;
  for (int i = 0; i < B * K_DIM; i++) x[i] = frand(&s, 1);
  for (int i = 0; i < K_DIM * N_DIM; i++) W[i] = frand(&s, 0.5f);
  for (int i = 0; i < N_DIM; i++) b[i] = frand(&s, 0.1f);
  for (int i = 0; i < 64 * 64; i++) y[i] = NAN;
  void *args[4] = {y, x, W, b};
  CHECK_OK(tk_cgd_launch(fn, args, B, Bp, Bp / BR, threads));
  double maxd = 0;
  for (int r = 0; r < B; r++)
    for (int j = 0; j < N_DIM; j++) {
      double ref = b[j];
      for (int k = 0; k < K_DIM; k++) ref += (double)x[r * K_DIM + k] * W[k * N_DIM + j];
      double d = fabs(y[r * N_DIM + j] - ref);
      maxd = d > maxd || isnan(d) ? (isnan(d) ? INFINITY : d) : maxd;
    }
  CHECK_MSG(maxd < 1e-5, "gemm_bias B=%d threads=%d: max diff %g", B, threads, maxd);
  CHECK_MSG(isnan(y[B * N_DIM]), "gemm_bias B=%d wrote row B (the guard r < B)", B);
  free(x);
  free(W);
  free(b);
  free(y);
}

static void run_rows(tk_cgd_kernel_fn fn, int32_t B) {
  int32_t Bp = (int32_t)tk_ir_ix_bp_of(B);
  size_t n = (size_t)Bp * C_DIM + 16;
  float *x = aligned_alloc(64, n * 4 + 64), *p = aligned_alloc(64, n * 4 + 64),
        *q = aligned_alloc(64, n * 4 + 64);
  int32_t *f = aligned_alloc(64, n * 4 + 64);
  uint32_t s = 3;
  for (size_t i = 0; i < n; i++) x[i] = frand(&s, 4), p[i] = q[i] = NAN, f[i] = -999;
  int nan_row = B > 1 ? 1 : -1; /* IEEE: exp(NaN) = NaN, so the row's softmax sum and every
                                   p of the row are NaN, although max() skips the NaN */
  if (nan_row >= 0) x[nan_row * C_DIM + 3] = NAN;
  void *args[4] = {x, p, q, f};
  CHECK_OK(tk_cgd_launch(fn, args, B, Bp, Bp / BR, 1));
  for (int c = 0; nan_row >= 0 && c < C_DIM; c++)
    CHECK_MSG(isnan(p[nan_row * C_DIM + c]), "rows B=%d: a NaN input left p[%d] = %g", B, c,
              p[nan_row * C_DIM + c]);
  double dp = 0, dq = 0;
  int bad_f = 0;
  for (int r = 0; r < B; r++) {
    if (r == nan_row) continue;
    double mx = -1e30, sum = 0;
    for (int c = 0; c < C_DIM; c++) mx = fmax(mx, x[r * C_DIM + c]);
    for (int c = 0; c < C_DIM; c++) sum += exp(x[r * C_DIM + c] - mx);
    for (int c = 0; c < C_DIM; c++) {
      double xv = x[r * C_DIM + c];
      dp = fmax(dp, fabs(p[r * C_DIM + c] - exp(xv - mx) / sum));
      dq = fmax(dq, fabs(q[r * C_DIM + c] - (tanh(xv) + erf(xv))));
      int64_t d = floor_div(c - 5, 3);
      bad_f += f[r * C_DIM + c] != (int32_t)(d * 10 + (c - 5 - 3 * d));
    }
  }
  CHECK_MSG(dp < 1e-6 && dq < 1e-6, "rows B=%d: softmax diff %g, tanh+erf diff %g", B, dp, dq);
  CHECK_MSG(bad_f == 0, "rows B=%d: %d wrong floor div/mod values", B, bad_f);
  CHECK_MSG(f[B * C_DIM] == -999, "rows B=%d wrote past row B (the IF guard)", B);
  free(x);
  free(p);
  free(q);
  free(f);
}

/* list reverses the rows, keep drops every third row: those rows of yg stay NaN. */
static void run_gather(tk_cgd_kernel_fn fn, int32_t B, int threads) {
  int32_t Bp = (int32_t)tk_ir_ix_bp_of(B);
  size_t n = (size_t)Bp * C_DIM + 16;
  float *x = aligned_alloc(64, n * 4 + 64), *y = aligned_alloc(64, n * 4 + 64);
  int32_t *list = aligned_alloc(64, (size_t)Bp * 4 + 64),
          *keep = aligned_alloc(64, (size_t)Bp * 4 + 64);
  uint32_t s = 11;
  for (size_t i = 0; i < n; i++) x[i] = frand(&s, 2), y[i] = NAN;
  for (int r = 0; r < Bp; r++) list[r] = B - 1 - r, keep[r] = r % 3 != 0;
  void *args[4] = {y, x, list, keep};
  CHECK_OK(tk_cgd_launch(fn, args, B, Bp, Bp / BR, threads));
  int wrong = 0;
  for (int r = 0; r < B; r++)
    for (int c = 0; c < C_DIM; c++) {
      float got = y[r * C_DIM + c], want = x[(B - 1 - r) * C_DIM + c];
      wrong += keep[r] ? got != want : !isnan(got);
    }
  CHECK_MSG(wrong == 0, "gather B=%d threads=%d: %d wrong elements", B, threads, wrong);
  CHECK_MSG(isnan(y[B * C_DIM]), "gather B=%d wrote row B", B);
  free(x);
  free(y);
  free(list);
  free(keep);
}

static bool blob_eq(const tk_cg_blob *a, const tk_cg_blob *b) {
  return a->size == b->size && a->size > 0 && memcmp(a->data, b->data, a->size) == 0;
}

static void check_compiled(const tk_ir_module *m) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  tk_cg_blob o1 = {0}, o2 = {0}, so1 = {0}, so2 = {0}, as = {0}, ll = {0};
  CHECK_OK(tk_cg_compile(m, &o, TK_CG_EMIT_OBJECT, &o1));
  CHECK_OK(tk_cg_compile(m, &o, TK_CG_EMIT_OBJECT, &o2));
  CHECK_MSG(blob_eq(&o1, &o2), "two compiles gave different objects");
  CHECK_OK(tk_cg_link_shared(&o1, &so1));
  CHECK_OK(tk_cg_link_shared(&o2, &so2));
  CHECK_MSG(blob_eq(&so1, &so2), "two links gave different shared objects");
  CHECK_OK(tk_cg_compile(m, &o, TK_CG_EMIT_ASM, &as));
  CHECK_OK(tk_cg_compile(m, &o, TK_CG_EMIT_LLVM, &ll));
  CHECK(as.data && strstr((char *)as.data, "vfmadd") && strstr((char *)as.data, "ymm"));
  CHECK(ll.data && strstr((char *)ll.data, "llvm.fmuladd.v8f32"));
  char path[256];
  const char *tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/cg_kernel_%ld.so", tmp && *tmp ? tmp : "/tmp", (long)getpid());
  CHECK_OK(tk_cg_blob_write(&so1, path));
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  unlink(path);
  CHECK_MSG(h != NULL, "dlopen: %s", dlerror());
  if (h) {
    tk_cgd_kernel_fn gemm, rows, gather;
    *(void **)&gemm = dlsym(h, "gemm_bias");
    *(void **)&rows = dlsym(h, "rows");
    *(void **)&gather = dlsym(h, "gather");
    const char *target = dlsym(h, "tk_bundle_target");
    CHECK(target && strcmp(target, "x86_64") == 0);
    CHECK(dlsym(h, "gemm_bias.body") == NULL); /* internal */
    CHECK(gemm && rows && gather);
    static const int32_t batches[] = {1, 15, 16, 17, 33};
    for (size_t i = 0; gemm && rows && gather && i < sizeof batches / sizeof batches[0]; i++) {
      run_gemm(gemm, batches[i], 1);
      run_gemm(gemm, batches[i], 2);
      run_rows(rows, batches[i]);
      run_gather(gather, batches[i], 2);
    }
    dlclose(h);
  }
  tk_cg_blob_free(&o1);
  tk_cg_blob_free(&o2);
  tk_cg_blob_free(&so1);
  tk_cg_blob_free(&so2);
  tk_cg_blob_free(&as);
  tk_cg_blob_free(&ll);
}

static void check_option_errors(const tk_ir_module *m) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  tk_cg_blob b = {0};
  o.cpu = "pentium-9000";
  CHECK_ERR(tk_cg_compile(m, &o, TK_CG_EMIT_OBJECT, &b), "pentium-9000");
  o.cpu = NULL;
  o.target = "vax";
  CHECK_ERR(tk_cg_compile(m, &o, TK_CG_EMIT_OBJECT, &b), "unknown target");
  o.target = "x86_64-simt";
  o.opt_level = 7;
  CHECK_ERR(tk_cg_compile(m, &o, TK_CG_EMIT_OBJECT, &b), "opt_level");
  CHECK(b.data == NULL);
}

/* An LLVM error in code generation (invalid inline asm) must come back as a status. */
static void check_diagnostic_handler(void) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  LLVMTargetMachineRef tm = NULL;
  CHECK_OK(tk_cg_machine_create(&tk_cg_target_x86_64, &o, &tm));
  tk_cg_ctx c;
  CHECK_OK(tk_cg_ctx_create(&c));
  if (!tm || !c.ctx) return;
  LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("bad", c.ctx);
  LLVMSetTarget(mod, "x86_64-unknown-linux-gnu");
  LLVMTypeRef vt = LLVMFunctionType(LLVMVoidTypeInContext(c.ctx), NULL, 0, 0);
  LLVMValueRef f = LLVMAddFunction(mod, "f", vt);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c.ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c.ctx, f, "entry"));
  const char *asm_text = "not_an_instruction %eax";
  LLVMValueRef ia = LLVMGetInlineAsm(vt, (char *)asm_text, strlen(asm_text), "", 0, 1, 0,
                                     LLVMInlineAsmDialectATT, 0);
  LLVMBuildCall2(b, vt, ia, NULL, 0, "");
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  tk_cg_blob out = {0};
  tk_status s = tk_cg_module_emit(&c, mod, tm, 2, TK_CG_EMIT_OBJECT, &out);
  CHECK_MSG(
      tk_status_code_of(s) == TK_INTERNAL && strstr(tk_status_message(s), "not_an_instruction"),
      "expected TK_INTERNAL naming the instruction, got %s", s ? tk_status_message(s) : "OK");
  tk_status_free(s);
  tk_cg_blob_free(&out);
  LLVMDisposeModule(mod);
  tk_cg_ctx_dispose(&c);
  LLVMDisposeTargetMachine(tm);
}

int main(void) {
  tk_ir_module *m = new_module();
  if (m) {
    build_gemm(m);
    build_rows(m);
    build_gather(m);
    CHECK_OK(tk_ir_module_status(m));
    m->stage = TK_STAGE_CPU; /* hand-built: the scheduled list is complete */
    check_compiled(m);
    check_option_errors(m);
  }
  check_diagnostic_handler();
  tk_ir_module_free(m);
  TEST_MAIN_END();
}
