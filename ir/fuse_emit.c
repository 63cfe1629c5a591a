/* ir/fuse_emit.c — the per-point bodies of fused kernel phases, one emitter per fusion
 * pattern (docs/formats.md §3 numerics):
 *   gemm    (r, j):  acc = b[j] (0 without a bias); for k: acc = fma(x[row, k], W[k, j], acc);
 *                    epilogues (gelu, silu, + or ⊙ another activation at (r, j)); store
 *   norm    (r):     mean, biased variance, rstd = 1 / sqrt(var + eps); per j:
 *                    (h - mean) * rstd * gamma + beta, optional gelu; store
 *   route   (r):     logits in a local row, softmax (max subtracted), top-K as K selection
 *                    passes: each pass scans e ascending and takes the strict maximum of the
 *                    not-yet-taken p[e] (so ties go to the lower index; the first untaken e
 *                    always becomes the candidate, so exactly one e is taken per pass); then
 *                    w[e] = taken[e] ? p[e] : 0 (no renormalisation) and keep[e] = taken[e];
 *                    with renorm, s = Σ_e (ascending, serial) taken[e] ? p[e] : 0 first and
 *                    w[e] = taken[e] ? p[e] / s : 0
 *   combine (r, j):  y = Σ_e (ascending) select(keep[r, e] != 0, w[r, e] * o_e(r, j), 0), o_e
 *                    the expert's head (a linear fused here) or its output read at (r, j),
 *                    a SELECT so that a masked expert's NaN never reaches y (docs/formats.md §3)
 * Index maps: activations are [rows, C] row-major, row = r, or min(r, B - 1) where the
 * padding pass clamped the operand; weights are indexed in their stored layout.
 * Every point-local value lives in a kernel local (acc, mean, ...), so the CPU tiler can
 * expand locals per tile point.
 */
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"

static tk_ir_role role_of(const tk_ir_tensor *t) {
  switch (t->kind) {
    case TK_TENSOR_INPUT: return TK_ROLE_IN;
    case TK_TENSOR_OUTPUT: return TK_ROLE_OUT;
    case TK_TENSOR_PARAM: return TK_ROLE_PARAM;
    default: return TK_ROLE_SCRATCH;
  }
}

static int arg_for(tk_fuse_ctx *c, int tensor, tk_ir_access acc) {
  int t = c->alias[tensor];
  return tk_ir_kernel_arg(c->m, c->k, t, role_of(&c->m->tensors[t]), acc);
}

static int64_t cols_of(const tk_fuse_ctx *c, int tensor) {
  return c->m->tensors[tensor].dims[1]->c;
}

static const tk_ix *var(tk_fuse_ctx *c, const tk_ir_var *v) { return tk_ir_ix_var(c->m, v); }
static const tk_ix *cst(tk_fuse_ctx *c, int64_t v) { return tk_ir_ix_const(c->m, v); }

/* Load of activation operand `op` at (row r, column col). */
static const tk_ir_val *load_act(tk_fuse_ctx *c, const tk_ir_operand *op, const tk_ix *col) {
  const tk_ix *row = var(c, c->r);
  if (op->row_clamp) row = tk_ir_ix_clamp_row(c->m, row);
  int arg = arg_for(c, op->tensor, TK_ACC_READ);
  return tk_ir_val_load(c->m, c->k, arg, tk_ir_ix_rowmajor(c->m, row, cols_of(c, op->tensor), col));
}

static const tk_ir_val *load_param(tk_fuse_ctx *c, int tensor, const tk_ix *ix) {
  return tk_ir_val_load(c->m, c->k, arg_for(c, tensor, TK_ACC_READ), ix);
}

/* W[k, j] of a Linear with K inputs and N outputs, in the stored layout. */
static const tk_ix *weight_ix(tk_fuse_ctx *c, const tk_ir_op *lin, int64_t K, int64_t N,
                              const tk_ix *k, const tk_ix *j) {
  if (lin->layout == TK_LAYOUT_OUT_IN) return tk_ir_ix_rowmajor(c->m, j, K, k);
  return tk_ir_ix_rowmajor(c->m, k, N, j);
}

/* Stores v at (r, col) of every output operand of `op` whose type matches v's, each behind
 * `if r < limit` when the padding pass limited it. */
static void store_outputs(tk_fuse_ctx *c, tk_ir_stmt *blk, const tk_ir_op *op, const tk_ix *col,
                          const tk_ir_val *f32v, const tk_ir_val *i32v) {
  for (int i = 0; i < op->nout; i++) {
    const tk_ir_operand *o = &op->out[i];
    const tk_ir_val *v = c->m->tensors[o->tensor].type == TK_T_I32 ? i32v : f32v;
    if (!v) continue;
    int arg = arg_for(c, o->tensor, TK_ACC_WRITE);
    const tk_ix *ix = tk_ir_ix_rowmajor(c->m, var(c, c->r), cols_of(c, o->tensor), col);
    const tk_ir_stmt *s = tk_ir_stmt_store(c->m, arg, ix, v);
    if (o->row_limit) s = tk_ir_stmt_if(c->m, var(c, c->r), TK_CMP_LT, o->row_limit, s);
    tk_ir_stmt_block_add(c->m, blk, s);
  }
}

/* Phase names are unique in a kernel (they name GPU launches): "gemm", "gemm_2", ... */
static tk_ir_phase *new_phase(tk_fuse_ctx *c, const char *name, int64_t cols) {
  int same = 0;
  for (int i = 0; i < c->k->nphases; i++)
    same += !strncmp(c->k->phases[i].name, name, strlen(name));
  tk_ir_phase *ph =
      tk_ir_kernel_phase(c->m, c->k, same ? tk_ir_strfmt(c->m, "%s_%d", name, same + 1) : name);
  if (!ph) return NULL;
  ph->vars[0] = c->r;
  ph->extents[0] = tk_ir_ix_sym(c->m, TK_SYM_BP);
  ph->ndims = 1;
  if (cols > 0) {
    ph->ndims = 2;
    ph->vars[1] = tk_ir_var_new(c->m, "j", NULL);
    ph->extents[1] = cst(c, cols);
  }
  return ph;
}

static const tk_ir_val *f32c(tk_fuse_ctx *c, double f) { return tk_ir_val_f32(c->m, f); }
static const tk_ir_val *bin(tk_fuse_ctx *c, tk_ir_vop op, const tk_ir_val *a, const tk_ir_val *b) {
  return tk_ir_val_bin(c->m, op, a, b);
}

/* docs/formats.md §3: gelu(v) = 0.5·v·(1 + erf(v/√2)); gelu_tanh(v) = 0.5·v·(1 +
 * tanh(0.7978845608·u)), u = v + 0.044715·v³, emitted as v / (1 + exp(-1.5957691216·u)), the
 * same function (0.5·(1 + tanh z) = 1 / (1 + e^(-2z))) with one exp in place of tanh, whose
 * inline code is an exp plus a clamp, a division and a sign select. */
static const tk_ir_val *gelu_val(tk_fuse_ctx *c, tk_hidden_act act, const tk_ir_val *v) {
  if (act == TK_ACT_GELU_ERF) {
    const tk_ir_val *erf =
        tk_ir_val_un(c->m, TK_V_ERF, bin(c, TK_V_MUL, v, f32c(c, 0.70710678118654752440)));
    return bin(c, TK_V_MUL, bin(c, TK_V_MUL, f32c(c, 0.5), v), bin(c, TK_V_ADD, f32c(c, 1.0), erf));
  }
  const tk_ir_val *v3 = bin(c, TK_V_MUL, bin(c, TK_V_MUL, v, v), v);
  const tk_ir_val *u = tk_ir_val_fma(c->m, f32c(c, 0.044715), v3, v);
  const tk_ir_val *e = tk_ir_val_un(c->m, TK_V_EXP, bin(c, TK_V_MUL, f32c(c, -1.5957691216), u));
  return bin(c, TK_V_DIV, v, bin(c, TK_V_ADD, f32c(c, 1.0), e));
}

/* silu(v) = v / (1 + exp(-v)), Qwen3MoE's SwiGLU gate (docs/formats.md §3). */
static const tk_ir_val *silu_val(tk_fuse_ctx *c, const tk_ir_val *v) {
  const tk_ir_val *e = tk_ir_val_un(c->m, TK_V_EXP, tk_ir_val_un(c->m, TK_V_NEG, v));
  return bin(c, TK_V_DIV, v, bin(c, TK_V_ADD, f32c(c, 1.0), e));
}

/* local[0] as a value / store target: scalars are locals of count 1 indexed at 0. */
static const tk_ir_val *lget(tk_fuse_ctx *c, int local, const tk_ix *ix) {
  return tk_ir_val_lload(c->m, c->k, local, ix ? ix : cst(c, 0));
}
static const tk_ir_stmt *lset(tk_fuse_ctx *c, int local, const tk_ix *ix, const tk_ir_val *v) {
  return tk_ir_stmt_lstore(c->m, local, ix ? ix : cst(c, 0), v);
}

static const tk_ir_stmt *loop(tk_fuse_ctx *c, const tk_ir_var *v, int64_t n, tk_ir_loop_kind kind,
                              const tk_ir_stmt *body) {
  return tk_ir_stmt_for(c->m, v, cst(c, n), kind, TK_BIND_NONE, body);
}

/* Appends `acc = b[col]; for k < K: acc = fma(x[row, k], W[k, col], acc)` to blk (acc = 0
 * for a bias-free linear). */
static void emit_dot(tk_fuse_ctx *c, tk_ir_stmt *blk, const tk_ir_op *lin, int acc,
                     const tk_ix *acc_ix, const tk_ix *col) {
  int64_t K = cols_of(c, lin->in[0].tensor), N = cols_of(c, lin->out[0].tensor);
  const tk_ir_val *init = lin->nin > 2 ? load_param(c, lin->in[2].tensor, col) : f32c(c, 0);
  tk_ir_stmt_block_add(c->m, blk, lset(c, acc, acc_ix, init));
  const tk_ir_var *k = tk_ir_var_new(c->m, "k", NULL);
  const tk_ir_val *x = load_act(c, &lin->in[0], var(c, k));
  const tk_ir_val *w = load_param(c, lin->in[1].tensor, weight_ix(c, lin, K, N, var(c, k), col));
  const tk_ir_stmt *upd = lset(c, acc, acc_ix, tk_ir_val_fma(c->m, x, w, lget(c, acc, acc_ix)));
  tk_ir_stmt_block_add(c->m, blk, loop(c, k, K, TK_LOOP_REDUCTION, upd));
}

void tk_ir_fuse_emit_gemm(tk_fuse_ctx *c, const tk_ir_op *lin, const tk_ir_op *const *epi,
                          int nepi) {
  const tk_ir_op *last = nepi ? epi[nepi - 1] : lin;
  tk_ir_phase *ph = new_phase(c, "gemm", cols_of(c, lin->out[0].tensor));
  if (!ph) return;
  const tk_ix *j = var(c, ph->vars[1]);
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  int acc = tk_ir_kernel_local(c->m, c->k, "acc", TK_T_F32, 1);
  emit_dot(c, blk, lin, acc, NULL, j);
  const tk_ir_val *v = lget(c, acc, NULL);
  int cur = lin->out[0].tensor;
  for (int i = 0; i < nepi; i++) {
    const tk_ir_op *e = epi[i];
    if (e->kind == TK_OP_GELU) {
      v = gelu_val(c, e->act, v);
    } else if (e->kind == TK_OP_SILU) {
      v = silu_val(c, v);
    } else { /* ADD, MUL: keep the operand order a + b, a * b */
      tk_ir_vop op = e->kind == TK_OP_MUL ? TK_V_MUL : TK_V_ADD;
      bool first = e->in[0].tensor == cur;
      const tk_ir_val *other = load_act(c, &e->in[first ? 1 : 0], j);
      v = first ? bin(c, op, v, other) : bin(c, op, other, v);
    }
    cur = e->out[0].tensor;
  }
  store_outputs(c, blk, last, j, v, NULL);
  ph->body = blk;
  ph->tileable = true;
}

void tk_ir_fuse_emit_norm(tk_fuse_ctx *c, const tk_ir_op *ln, const tk_ir_op *gelu) {
  const tk_ir_operand *in = &ln->in[0];
  int64_t H = cols_of(c, in->tensor);
  tk_ir_phase *ph = new_phase(c, "norm", 0);
  if (!ph) return;
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  int mean = tk_ir_kernel_local(c->m, c->k, "mean", TK_T_F32, 1);
  int var_ = tk_ir_kernel_local(c->m, c->k, "var", TK_T_F32, 1);
  int rstd = tk_ir_kernel_local(c->m, c->k, "rstd", TK_T_F32, 1);
  const tk_ir_val *Hf = f32c(c, (double)H);
  /* mean = Σ h / H */
  const tk_ir_var *j1 = tk_ir_var_new(c->m, "j", NULL);
  tk_ir_stmt_block_add(c->m, blk, lset(c, mean, NULL, f32c(c, 0)));
  tk_ir_stmt_block_add(
      c->m, blk,
      loop(
          c, j1, H, TK_LOOP_REDUCTION,
          lset(c, mean, NULL, bin(c, TK_V_ADD, lget(c, mean, NULL), load_act(c, in, var(c, j1))))));
  tk_ir_stmt_block_add(c->m, blk, lset(c, mean, NULL, bin(c, TK_V_DIV, lget(c, mean, NULL), Hf)));
  /* var = Σ (h - mean)² / H (biased) */
  const tk_ir_var *j2 = tk_ir_var_new(c->m, "j", NULL);
  const tk_ir_val *d = bin(c, TK_V_SUB, load_act(c, in, var(c, j2)), lget(c, mean, NULL));
  tk_ir_stmt_block_add(c->m, blk, lset(c, var_, NULL, f32c(c, 0)));
  tk_ir_stmt_block_add(c->m, blk,
                       loop(c, j2, H, TK_LOOP_REDUCTION,
                            lset(c, var_, NULL, tk_ir_val_fma(c->m, d, d, lget(c, var_, NULL)))));
  /* rstd = 1 / sqrt(var / H + eps) */
  const tk_ir_val *ve =
      bin(c, TK_V_ADD, bin(c, TK_V_DIV, lget(c, var_, NULL), Hf), f32c(c, ln->eps));
  tk_ir_stmt_block_add(
      c->m, blk,
      lset(c, rstd, NULL, bin(c, TK_V_DIV, f32c(c, 1), tk_ir_val_un(c->m, TK_V_SQRT, ve))));
  /* y = (h - mean) * rstd * gamma + beta, then gelu */
  const tk_ir_var *j3 = tk_ir_var_new(c->m, "j", NULL);
  const tk_ix *j = var(c, j3);
  const tk_ir_val *nrm = bin(c, TK_V_MUL, bin(c, TK_V_SUB, load_act(c, in, j), lget(c, mean, NULL)),
                             lget(c, rstd, NULL));
  int yl = tk_ir_kernel_local(c->m, c->k, "y", TK_T_F32, 1);
  tk_ir_stmt *inner = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(c->m, inner,
                       lset(c, yl, NULL,
                            tk_ir_val_fma(c->m, nrm, load_param(c, ln->in[1].tensor, j),
                                          load_param(c, ln->in[2].tensor, j))));
  const tk_ir_val *y = lget(c, yl, NULL);
  if (gelu) y = gelu_val(c, gelu->act, y);
  store_outputs(c, inner, gelu ? gelu : ln, j, y, NULL);
  tk_ir_stmt_block_add(c->m, blk, loop(c, j3, H, TK_LOOP_PARALLEL, inner));
  ph->body = blk;
}

/* Softmax over p[0..E) in place (max subtracted first). */
static void emit_softmax(tk_fuse_ctx *c, tk_ir_stmt *blk, int p, int64_t E) {
  int mx = tk_ir_kernel_local(c->m, c->k, "mx", TK_T_F32, 1);
  int sum = tk_ir_kernel_local(c->m, c->k, "sum", TK_T_F32, 1);
  tk_ir_stmt_block_add(c->m, blk, lset(c, mx, NULL, lget(c, p, NULL)));
  const tk_ir_var *e1 = tk_ir_var_new(c->m, "e", NULL);
  tk_ir_stmt_block_add(
      c->m, blk,
      loop(c, e1, E, TK_LOOP_REDUCTION,
           lset(c, mx, NULL, bin(c, TK_V_MAX, lget(c, mx, NULL), lget(c, p, var(c, e1))))));
  tk_ir_stmt_block_add(c->m, blk, lset(c, sum, NULL, f32c(c, 0)));
  const tk_ir_var *e2 = tk_ir_var_new(c->m, "e", NULL);
  tk_ir_stmt *body = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(
      c->m, body,
      lset(c, p, var(c, e2),
           tk_ir_val_un(c->m, TK_V_EXP,
                        bin(c, TK_V_SUB, lget(c, p, var(c, e2)), lget(c, mx, NULL)))));
  tk_ir_stmt_block_add(
      c->m, body, lset(c, sum, NULL, bin(c, TK_V_ADD, lget(c, sum, NULL), lget(c, p, var(c, e2)))));
  tk_ir_stmt_block_add(c->m, blk, loop(c, e2, E, TK_LOOP_REDUCTION, body));
  const tk_ir_var *e3 = tk_ir_var_new(c->m, "e", NULL);
  tk_ir_stmt_block_add(
      c->m, blk,
      loop(c, e3, E, TK_LOOP_PARALLEL,
           lset(c, p, var(c, e3), bin(c, TK_V_DIV, lget(c, p, var(c, e3)), lget(c, sum, NULL)))));
}

/* One selection pass: best_i = E; scan e ascending: cand = !taken[e] && (best_i == E ||
 * p[e] > best_v) (computed once, before best_v changes); take the candidate; then
 * taken[e] |= (e == best_i). */
static const tk_ir_stmt *selection_pass(tk_fuse_ctx *c, int p, int taken, int64_t E) {
  int best_v = tk_ir_kernel_local(c->m, c->k, "best_v", TK_T_F32, 1);
  int best_i = tk_ir_kernel_local(c->m, c->k, "best_i", TK_T_I32, 1);
  tk_ir_stmt *pass = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(c->m, pass, lset(c, best_i, NULL, tk_ir_val_i32(c->m, E)));
  tk_ir_stmt_block_add(c->m, pass, lset(c, best_v, NULL, f32c(c, 0)));
  const tk_ir_var *e = tk_ir_var_new(c->m, "e", NULL);
  const tk_ix *ei = var(c, e);
  const tk_ir_val *none_yet = bin(c, TK_V_EQ, lget(c, best_i, NULL), tk_ir_val_i32(c->m, E));
  const tk_ir_val *better = bin(c, TK_V_GT, lget(c, p, ei), lget(c, best_v, NULL));
  int cand = tk_ir_kernel_local(c->m, c->k, "cand", TK_T_BOOL, 1);
  tk_ir_stmt *scan = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(c->m, scan,
                       lset(c, cand, NULL,
                            bin(c, TK_V_AND, tk_ir_val_un(c->m, TK_V_NOT, lget(c, taken, ei)),
                                bin(c, TK_V_OR, none_yet, better))));
  const tk_ir_val *cv = lget(c, cand, NULL);
  tk_ir_stmt_block_add(
      c->m, scan,
      lset(c, best_v, NULL, tk_ir_val_select(c->m, cv, lget(c, p, ei), lget(c, best_v, NULL))));
  tk_ir_stmt_block_add(
      c->m, scan,
      lset(c, best_i, NULL,
           tk_ir_val_select(c->m, cv, tk_ir_val_index(c->m, ei), lget(c, best_i, NULL))));
  tk_ir_stmt_block_add(c->m, pass, loop(c, e, E, TK_LOOP_SERIAL, scan));
  const tk_ir_var *e2 = tk_ir_var_new(c->m, "e", NULL);
  const tk_ir_val *hit = bin(c, TK_V_EQ, tk_ir_val_index(c->m, var(c, e2)), lget(c, best_i, NULL));
  tk_ir_stmt_block_add(
      c->m, pass,
      loop(c, e2, E, TK_LOOP_PARALLEL,
           lset(c, taken, var(c, e2), bin(c, TK_V_OR, lget(c, taken, var(c, e2)), hit))));
  return pass;
}

/* s = Σ_e taken[e] ? p[e] : 0, e ascending, in a serial loop (the sum's order is fixed: the
 * CPU schedule splits reduction loops into lanes, docs/ir.md); returns the local s. */
static int emit_kept_sum(tk_fuse_ctx *c, tk_ir_stmt *blk, int p, int taken, int64_t E) {
  int s = tk_ir_kernel_local(c->m, c->k, "kept_sum", TK_T_F32, 1);
  const tk_ir_var *e = tk_ir_var_new(c->m, "e", NULL);
  const tk_ix *ei = var(c, e);
  const tk_ir_val *term = tk_ir_val_select(c->m, lget(c, taken, ei), lget(c, p, ei), f32c(c, 0));
  tk_ir_stmt_block_add(c->m, blk, lset(c, s, NULL, f32c(c, 0)));
  tk_ir_stmt_block_add(
      c->m, blk,
      loop(c, e, E, TK_LOOP_SERIAL, lset(c, s, NULL, bin(c, TK_V_ADD, lget(c, s, NULL), term))));
  return s;
}

void tk_ir_fuse_emit_route(tk_fuse_ctx *c, const tk_ir_op *lin, const tk_ir_op *sm,
                           const tk_ir_op *topk) {
  (void)sm; /* the softmax has no attributes: its semantics are emit_softmax */
  int64_t E = cols_of(c, lin->out[0].tensor);
  tk_ir_phase *ph = new_phase(c, "route", 0);
  if (!ph) return;
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  int p = tk_ir_kernel_local(c->m, c->k, "p", TK_T_F32, E);
  int taken = tk_ir_kernel_local(c->m, c->k, "taken", TK_T_BOOL, E);
  /* logits p[e] = b[e] + Σ_k x[row, k] W[k, e] */
  const tk_ir_var *e0 = tk_ir_var_new(c->m, "e", NULL);
  tk_ir_stmt *dot = tk_ir_stmt_block(c->m);
  emit_dot(c, dot, lin, p, var(c, e0), var(c, e0));
  tk_ir_stmt_block_add(c->m, blk, loop(c, e0, E, TK_LOOP_PARALLEL, dot));
  emit_softmax(c, blk, p, E);
  const tk_ir_var *e1 = tk_ir_var_new(c->m, "e", NULL);
  tk_ir_stmt_block_add(
      c->m, blk,
      loop(c, e1, E, TK_LOOP_PARALLEL, lset(c, taken, var(c, e1), tk_ir_val_bool(c->m, false))));
  const tk_ir_var *t = tk_ir_var_new(c->m, "t", NULL);
  tk_ir_stmt_block_add(c->m, blk,
                       loop(c, t, topk->k, TK_LOOP_SERIAL, selection_pass(c, p, taken, E)));
  /* w[e] = taken[e] ? p[e] : 0 (p[e] / s with renorm); keep[e] = taken[e] */
  int s = topk->renorm ? emit_kept_sum(c, blk, p, taken, E) : -1;
  const tk_ir_var *e2 = tk_ir_var_new(c->m, "e", NULL);
  const tk_ix *ei = var(c, e2);
  const tk_ir_val *tk = lget(c, taken, ei);
  const tk_ir_val *kept_w = lget(c, p, ei);
  if (s >= 0) kept_w = bin(c, TK_V_DIV, kept_w, lget(c, s, NULL));
  const tk_ir_val *w = tk_ir_val_select(c->m, tk, kept_w, f32c(c, 0));
  const tk_ir_val *keep =
      tk_ir_val_select(c->m, tk, tk_ir_val_i32(c->m, 1), tk_ir_val_i32(c->m, 0));
  tk_ir_stmt *out = tk_ir_stmt_block(c->m);
  store_outputs(c, out, topk, ei, w, keep);
  tk_ir_stmt_block_add(c->m, blk, loop(c, e2, E, TK_LOOP_PARALLEL, out));
  ph->body = blk;
}

void tk_ir_fuse_emit_combine(tk_fuse_ctx *c, const tk_ir_op *comb) {
  const tk_ir_operand *gate = &comb->in[0], *keep = &comb->in[1];
  tk_ir_phase *ph = new_phase(c, "combine", cols_of(c, comb->out[0].tensor));
  if (!ph) return;
  const tk_ix *j = var(c, ph->vars[1]);
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  int y = tk_ir_kernel_local(c->m, c->k, "y", TK_T_F32, 1);
  int acc = tk_ir_kernel_local(c->m, c->k, "acc", TK_T_F32, 1);
  tk_ir_stmt_block_add(c->m, blk, lset(c, y, NULL, f32c(c, 0)));
  for (int e = 0; e + 2 < comb->nin; e++) {
    const tk_ir_operand *o = &comb->in[2 + e];
    const tk_ir_op *head = &c->m->ops[c->m->tensors[o->tensor].producer];
    if (head->kind == TK_OP_LINEAR) /* the head, fused here (ir/pass_fuse.c group_of) */
      emit_dot(c, blk, head, acc, NULL, j);
    else
      tk_ir_stmt_block_add(c->m, blk, lset(c, acc, NULL, load_act(c, o, j)));
    const tk_ir_val *kept = bin(c, TK_V_NE, load_act(c, keep, cst(c, e)), tk_ir_val_i32(c->m, 0));
    const tk_ir_val *contrib = bin(c, TK_V_MUL, load_act(c, gate, cst(c, e)), lget(c, acc, NULL));
    const tk_ir_val *sum =
        bin(c, TK_V_ADD, lget(c, y, NULL), tk_ir_val_select(c->m, kept, contrib, f32c(c, 0)));
    tk_ir_stmt_block_add(c->m, blk, lset(c, y, NULL, sum));
  }
  store_outputs(c, blk, comb, j, lget(c, y, NULL), NULL);
  ph->body = blk;
  ph->tileable = true;
}

/* ---- sparse dispatch (tk_ir_options.dispatch) ---- */

/* %t[i] as an index: an index read of an i32 tensor. */
static const tk_ix *read_ix(tk_fuse_ctx *c, int tensor, const tk_ix *i) {
  int arg = arg_for(c, tensor, TK_ACC_READ);
  return tk_ir_ix_load(c->m, arg, c->m->tensors[c->alias[tensor]].name, i);
}

/* The counting sort, one point e per expert (the form the verifier's dispatch class proves):
 *   m = 0; for row in 0..B serial { slot[row, e] = m; m = m + keep[row, e] }; count[e] = m
 * Every row gets a slot (the kept rows 0, 1, ... in row order; a dropped row the next kept
 * row's), so slot is written for all rows < B. keep is 0 or 1 (the router's mask). */
void tk_ir_fuse_emit_dispatch(tk_fuse_ctx *c, const tk_ir_op *d) {
  int keep = d->in[0].tensor, slot = d->out[0].tensor, count = d->out[1].tensor;
  int64_t E = cols_of(c, keep);
  tk_ir_phase *ph = new_phase(c, "dispatch", 0);
  if (!ph) return;
  ph->vars[0] = tk_ir_var_new(c->m, "e", NULL);
  ph->extents[0] = cst(c, E);
  const tk_ix *e = var(c, ph->vars[0]);
  int m = tk_ir_kernel_local(c->m, c->k, "m", TK_T_I32, 1);
  const tk_ir_var *row = tk_ir_var_new(c->m, "row", NULL);
  const tk_ix *at = tk_ir_ix_rowmajor(c->m, var(c, row), E, e);
  tk_ir_stmt *step = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(
      c->m, step, tk_ir_stmt_store(c->m, arg_for(c, slot, TK_ACC_WRITE), at, lget(c, m, NULL)));
  const tk_ir_val *kept = tk_ir_val_load(c->m, c->k, arg_for(c, keep, TK_ACC_READ), at);
  tk_ir_stmt_block_add(c->m, step, lset(c, m, NULL, bin(c, TK_V_ADD, lget(c, m, NULL), kept)));
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(c->m, blk, lset(c, m, NULL, tk_ir_val_i32(c->m, 0)));
  tk_ir_stmt_block_add(
      c->m, blk,
      tk_ir_stmt_for(c->m, row, tk_ir_ix_sym(c->m, TK_SYM_B), TK_LOOP_SERIAL, TK_BIND_NONE, step));
  tk_ir_stmt_block_add(
      c->m, blk, tk_ir_stmt_store(c->m, arg_for(c, count, TK_ACC_WRITE), e, lget(c, m, NULL)));
  ph->body = blk;
}

/* slot[r, e] of the op's expert. */
static const tk_ix *slot_of_row(tk_fuse_ctx *c, const tk_ir_op *op) {
  int64_t E = cols_of(c, op->in[2].tensor);
  const tk_ix *at = tk_ir_ix_rowmajor(c->m, var(c, c->r), E, cst(c, op->expert));
  return read_ix(c, op->in[2].tensor, at);
}

/* `if r < B { if keep[r, e] > 0 { if slot[r, e] < count[e] { body } } }`: the expert's kept
 * rows (rows >= B have no slot). The last guard holds for every kept row (what the dispatch
 * proves); it bounds the slot where the gathered row is read or written. */
static const tk_ir_stmt *if_kept(tk_fuse_ctx *c, const tk_ir_op *op, const tk_ir_stmt *body) {
  int64_t E = cols_of(c, op->in[1].tensor);
  const tk_ix *r = var(c, c->r), *e = cst(c, op->expert);
  const tk_ix *keep = read_ix(c, op->in[1].tensor, tk_ir_ix_rowmajor(c->m, r, E, e));
  const tk_ix *count = read_ix(c, op->in[3].tensor, e);
  const tk_ir_stmt *listed = tk_ir_stmt_if(c->m, slot_of_row(c, op), TK_CMP_LT, count, body);
  const tk_ir_stmt *kept = tk_ir_stmt_if(c->m, keep, TK_CMP_GT, cst(c, 0), listed);
  return tk_ir_stmt_if(c->m, r, TK_CMP_LT, tk_ir_ix_sym(c->m, TK_SYM_B), kept);
}

/* gather (r): for a kept row r < B of expert e: xg[slot[r, e], j] = x[r, j]. */
void tk_ir_fuse_emit_gather(tk_fuse_ctx *c, const tk_ir_op *g) {
  int64_t C = cols_of(c, g->out[0].tensor);
  tk_ir_phase *ph = new_phase(c, "gather", 0);
  if (!ph) return;
  const tk_ir_var *j = tk_ir_var_new(c->m, "j", NULL);
  const tk_ix *to = tk_ir_ix_rowmajor(c->m, slot_of_row(c, g), C, var(c, j));
  const tk_ir_stmt *copy = tk_ir_stmt_store(c->m, arg_for(c, g->out[0].tensor, TK_ACC_WRITE), to,
                                            load_act(c, &g->in[0], var(c, j)));
  ph->body = if_kept(c, g, loop(c, j, C, TK_LOOP_PARALLEL, copy));
}

/* scatter (r): hd[r, j] = 0, then for a kept row r < B of expert e: hd[r, j] = h[slot[r, e], j].
 * Every row of hd is written, so the combine reads it like a dense expert's output; a dropped
 * row's 0 is masked there. */
void tk_ir_fuse_emit_scatter(tk_fuse_ctx *c, const tk_ir_op *s) {
  int64_t C = cols_of(c, s->out[0].tensor);
  tk_ir_phase *ph = new_phase(c, "scatter", 0);
  if (!ph) return;
  int hd = arg_for(c, s->out[0].tensor, TK_ACC_WRITE);
  int h = arg_for(c, s->in[0].tensor, TK_ACC_READ);
  const tk_ir_var *j0 = tk_ir_var_new(c->m, "j", NULL), *j1 = tk_ir_var_new(c->m, "j", NULL);
  const tk_ix *r = var(c, c->r);
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(
      c->m, blk,
      loop(c, j0, C, TK_LOOP_PARALLEL,
           tk_ir_stmt_store(c->m, hd, tk_ir_ix_rowmajor(c->m, r, C, var(c, j0)), f32c(c, 0))));
  const tk_ir_val *v =
      tk_ir_val_load(c->m, c->k, h, tk_ir_ix_rowmajor(c->m, slot_of_row(c, s), C, var(c, j1)));
  const tk_ir_stmt *copy = tk_ir_stmt_store(c->m, hd, tk_ir_ix_rowmajor(c->m, r, C, var(c, j1)), v);
  tk_ir_stmt_block_add(c->m, blk, if_kept(c, s, loop(c, j1, C, TK_LOOP_PARALLEL, copy)));
  ph->body = blk;
}

/* An expert chain's op runs on the rows r < count[e] only: its phases (from `first` on) become
 * `if r < count[e] { body }`, the one statement the schedules read the row count from. */
void tk_ir_fuse_limit_rows(tk_fuse_ctx *c, const tk_ir_op *op, int first) {
  if (op->rows_count < 0) return;
  const tk_ix *count = read_ix(c, op->rows_count, cst(c, op->expert));
  for (int p = first; p < c->k->nphases; p++) {
    tk_ir_phase *ph = &c->k->phases[p];
    ph->body = tk_ir_stmt_if(c->m, var(c, c->r), TK_CMP_LT, count, ph->body);
  }
}
