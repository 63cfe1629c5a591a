/* ir/pass_schedule_gpu_tiled.c — the tiled GPU schedule of a GEMM phase (issue 17 item 1;
 * tk_ir_options.gpu_schedule = TILED, docs/ir.md "The tiled GPU schedule").
 *
 * A GEMM phase has the form the fusion pass emits (ir/fuse_emit.c):
 *     [if G(r) {]                                   guards on the row only (dispatch, B)
 *       acc = INIT(j)
 *       for k in 0..K reduction { acc = fma(X[.. r .. k ..], W[.. k .. j ..], acc) }
 *       %out[r * N + j] = EPI(acc, ...)
 *     [}]
 * (the fma's operands in either order). Its launch computes a tile of TM rows × TN columns
 * per workgroup, each of its (TM / RM) × (TN / RN) threads RM × RN outputs held in registers
 * (acc expanded RM·RN times), the thread's rows strided by TY = TM / RM and its columns by
 * TX = TN / RN (so neighbouring threads touch neighbouring columns):
 *     for wg in 0..(Bp div TM) * NT @workgroup_x { for t in 0..TY * TX @thread_x {
 *       r0 = (wg div NT) * TM, c0 = (wg mod NT) * TN, ty = t div TX, tx = t mod TX
 *       for rm, rn unroll: [G(row)] acc[rm * RN + rn] = INIT(col)        row = r0 + rm*TY + ty
 *       for kk in 0..K / KS serial {                                      col = c0 + rn*TX + tx
 *         for u unroll: e = u * WG + t; [G(r0 + e div KS)] xs[e] = X at (r0 + e div KS, kk*KS + e mod KS)
 *         for u unroll: e = u * WG + t; ws[e] = W at (kk*KS + e div TN, c0 + e mod TN)
 *         barrier
 *         for k2 in 0..KS reduction { for rm unroll { [G(row)] for rn unroll {
 *           acc[rm*RN + rn] = fma(xs[(rm*TY + ty) * KS + k2], ws[k2 * TN + rn*TX + tx], acc[..]) } } }
 *         barrier }
 *       for rm, rn unroll: [G(row)] %out[row * N + col] = EPI(acc[rm * RN + rn]) } }
 * The init, staging and output statements are the fused ones copied by tk_ir_rewrite under
 * their substitutions (origins recorded: the staging stores' origin is the fused reduction
 * store, whose x or W load they copy); the compute store has no origin (it reads only
 * locals). TM = 16 = TK_PAD_QUANTUM, so the grid covers Bp exactly; TN is the largest of 64,
 * 32, 16 that divides N, KS = 16 (or 8, 4) dividing K, RM = RN = 4. A phase of another form
 * or sizes stays with the simple schedule.
 */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"
#include "tk/alloc.h"
#include "tk/launch.h"

enum { TILE_ROWS = TK_PAD_QUANTUM, MAX_GUARDS = 4 };

/* The fused GEMM phase, taken apart. */
typedef struct gemm_form {
  const tk_ir_stmt *guards[MAX_GUARDS]; /* IFs on the row, outermost first */
  int nguards;
  const tk_ir_stmt *init, *reduce, *out; /* acc = INIT; acc = fma(...); %out[...] = EPI */
  const tk_ir_stmt *kloop;
  const tk_ir_val *x, *w; /* the fma's loads of the activation and of the weight */
  bool x_first;           /* fma(x, w, acc) rather than fma(w, x, acc) */
  int64_t K, N;
} gemm_form;

static bool uses_only(const tk_ix *e, const tk_ir_var *allowed_a, const tk_ir_var *allowed_b,
                      const tk_ir_phase *ph) {
  for (int d = 0; d < ph->ndims; d++)
    if (ph->vars[d] != allowed_a && ph->vars[d] != allowed_b && tk_ir_ix_uses_var(e, ph->vars[d]))
      return false;
  return true;
}

static bool reduction_form(gemm_form *f, const tk_ir_phase *ph) {
  const tk_ir_stmt *loop = f->kloop, *s = loop->body;
  if (loop->kind != TK_S_FOR || loop->loop != TK_LOOP_REDUCTION ||
      loop->extent->kind != TK_IX_CONST)
    return false;
  if (s->kind != TK_S_LOCAL_STORE || s->local != f->init->local || s->value->op != TK_V_FMA)
    return false;
  const tk_ir_val *a = s->value->a, *b = s->value->b, *c = s->value->c;
  if (a->op != TK_V_LOAD || b->op != TK_V_LOAD || c->op != TK_V_LOCAL_LOAD || c->local != s->local)
    return false;
  const tk_ir_var *r = ph->vars[0], *j = ph->vars[1];
  f->x_first = tk_ir_ix_uses_var(a->ix, r);
  f->x = f->x_first ? a : b;
  f->w = f->x_first ? b : a;
  f->reduce = s;
  f->K = loop->extent->c;
  return tk_ir_ix_uses_var(f->x->ix, r) && !tk_ir_ix_uses_var(f->x->ix, j) &&
         !tk_ir_ix_uses_var(f->w->ix, r) && tk_ir_ix_uses_var(f->w->ix, j) &&
         !tk_ir_ix_uses_load(f->x->ix) && !tk_ir_ix_uses_load(f->w->ix);
}

static bool gemm_form_of(const tk_ir_phase *ph, gemm_form *f) {
  memset(f, 0, sizeof *f);
  if (!ph->tileable || ph->ndims != 2 || ph->extents[1]->kind != TK_IX_CONST) return false;
  const tk_ix *bp = ph->extents[0];
  if (bp->kind != TK_IX_SYM || bp->sym != TK_SYM_BP) return false;
  const tk_ir_stmt *s = ph->body;
  while (s->kind == TK_S_IF && f->nguards < MAX_GUARDS) {
    if (!uses_only(s->lhs, ph->vars[0], NULL, ph) || !uses_only(s->rhs, ph->vars[0], NULL, ph))
      return false;
    f->guards[f->nguards++] = s;
    s = s->body;
  }
  if (s->kind != TK_S_BLOCK || s->n != 3) return false;
  f->init = s->stmts[0];
  f->kloop = s->stmts[1];
  f->out = s->stmts[2];
  f->N = ph->extents[1]->c;
  return f->init->kind == TK_S_LOCAL_STORE && f->out->kind == TK_S_STORE && reduction_form(f, ph);
}

static bool power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

/* Each set's widest tile and longest K-slice (tk_ir_gpu_tile_set; docs/ir.md "Tiles per
 * target"). */
static const struct tile_limits {
  const char *name;
  int64_t max_cols, max_kslice;
} TILE_SETS[TK_GPU_TILES_COUNT] = {
    [TK_GPU_TILES_CDNA] = {"cdna", 64, 16},
    [TK_GPU_TILES_RDNA] = {"rdna", 32, 16},
    [TK_GPU_TILES_NVIDIA] = {"nvidia", 128, 32},
};

const char *tk_ir_gpu_tile_set_name(tk_ir_gpu_tile_set set) { return TILE_SETS[set].name; }

tk_ir_gpu_tile_set tk_ir_gpu_tile_set_of_arch(const char *arch) {
  if (!strncmp(arch, "sm_", 3)) return TK_GPU_TILES_NVIDIA;
  /* gfx9xx is wave64 CDNA / GCN; gfx10xx and later (four digits) default to wave32 */
  bool rdna = !strncmp(arch, "gfx", 3) && strspn(arch + 3, "0123456789abcdef") >= 4;
  return rdna ? TK_GPU_TILES_RDNA : TK_GPU_TILES_CDNA;
}

/* The tile of `cols` columns and K-slice `kslice`, if each thread stages whole elements of
 * both slices and the shared locals (the slices, and an epilogue's reduction tree) fit. */
static tk_ir_gpu_tile tile_of(int64_t cols, int64_t kslice, bool whole_rows) {
  tk_ir_gpu_tile t = {.rows = TILE_ROWS,
                      .cols = cols,
                      .reg_rows = TK_IR_GPU_REG_ROWS,
                      .reg_cols = TK_IR_GPU_REG_COLS,
                      .kslice = kslice};
  int64_t wg = (t.rows / t.reg_rows) * (t.cols / t.reg_cols);
  int64_t floats = t.rows * kslice + kslice * cols + (whole_rows ? t.reg_rows * wg : 0);
  bool fits = (t.rows * kslice) % wg == 0 && (kslice * cols) % wg == 0 &&
              floats * (int64_t)sizeof(float) <= TK_GPU_SHARED_BYTES_MAX;
  return fits ? t : (tk_ir_gpu_tile){0};
}

/* The tile for N columns and a reduction over K under `set`, or rows = 0 when none fits: the
 * widest columns, then the longest K-slice, each a power of two from 16 and 4 up. whole_rows:
 * the tile spans all N columns (an epilogue's rows), its threads per row a power of two. */
static tk_ir_gpu_tile tile_for(tk_ir_gpu_tile_set set, int64_t N, int64_t K, bool whole_rows) {
  const struct tile_limits *lim = &TILE_SETS[set];
  int64_t row_threads = N / TK_IR_GPU_REG_COLS;
  if (whole_rows && (N % TK_IR_GPU_REG_COLS || !power_of_two(row_threads) ||
                     row_threads * (TILE_ROWS / TK_IR_GPU_REG_ROWS) > TK_IR_GPU_EPILOGUE_THREADS))
    return (tk_ir_gpu_tile){0};
  for (int64_t cols = whole_rows ? N : lim->max_cols; cols >= 16; cols /= 2) {
    for (int64_t ks = lim->max_kslice; ks >= 4; ks /= 2) {
      tk_ir_gpu_tile t = N % cols || K % ks ? (tk_ir_gpu_tile){0} : tile_of(cols, ks, whole_rows);
      if (t.rows) return t;
    }
    if (whole_rows) break;
  }
  return (tk_ir_gpu_tile){0};
}

/* ---- building the launch ---- */

typedef struct tiled {
  tk_ir_module *m;
  const tk_ir_kernel *src;
  const tk_ir_phase *ph;
  tk_ir_kernel *k;
  const int *arg_map, *local_map;
  gemm_form f;
  tk_ir_gpu_tile tile;
  int64_t ty, tx, wg, nt; /* thread rows, thread columns, threads, column tiles */
  const tk_ir_var *wgv, *t, *kk;
  const tk_ix *r0, *c0, *t_row, *t_col; /* the tile's origin, the thread's (ty, tx) */
  int xs, ws, acc;                      /* the kernel's locals */
} tiled;

static const tk_ix *var(tiled *T, const tk_ir_var *v) { return tk_ir_ix_var(T->m, v); }
static const tk_ix *cst(tiled *T, int64_t c) { return tk_ir_ix_const(T->m, c); }
static const tk_ix *add(tiled *T, const tk_ix *a, const tk_ix *b) {
  return tk_ir_ix_add(T->m, a, b);
}
static const tk_ix *mul(tiled *T, const tk_ix *a, int64_t c) { return tk_ir_ix_mul(T->m, a, c); }

/* The source row and column of register (rm, rn) of the thread. */
static const tk_ix *row_of(tiled *T, const tk_ir_var *rm) {
  return add(T, T->r0, add(T, mul(T, var(T, rm), T->ty), T->t_row));
}
static const tk_ix *col_of(tiled *T, const tk_ir_var *rn) {
  return add(T, T->c0, add(T, mul(T, var(T, rn), T->tx), T->t_col));
}

/* Register loop variables, with their inverse maps over the source (r, j). */
static const tk_ir_var *reg_row_var(tiled *T) {
  const tk_ix *r = var(T, T->ph->vars[0]);
  return tk_ir_var_new(T->m, "rm", tk_ir_ix_div(T->m, tk_ir_ix_mod(T->m, r, T->tile.rows), T->ty));
}
static const tk_ir_var *reg_col_var(tiled *T) {
  const tk_ix *j = var(T, T->ph->vars[1]);
  return tk_ir_var_new(T->m, "rn", tk_ir_ix_div(T->m, tk_ir_ix_mod(T->m, j, T->tile.cols), T->tx));
}

static const tk_ir_stmt *unroll(tiled *T, const tk_ir_var *v, int64_t n, const tk_ir_stmt *body) {
  return tk_ir_stmt_for(T->m, v, cst(T, n), TK_LOOP_UNROLL, TK_BIND_NONE, body);
}

/* The fused guards around `inner` (a fused statement), as one fused tree to copy. */
static const tk_ir_stmt *guarded(tiled *T, const tk_ir_stmt *inner) {
  for (int i = T->f.nguards - 1; i >= 0; i--) {
    const tk_ir_stmt *g = T->f.guards[i];
    inner = tk_ir_stmt_if(T->m, g->lhs, g->cmp, g->rhs, inner);
  }
  return inner;
}

static tk_ir_rewrite rewriter(tiled *T, const tk_ir_subst *s, const tk_ix *tile_point) {
  return (tk_ir_rewrite){.m = T->m,
                         .src = T->src,
                         .dst = T->k,
                         .subst = s,
                         .arg_map = T->arg_map,
                         .local_map = T->local_map,
                         .tile_point = tile_point};
}

/* for rm, rn unroll { [G(row)] STMT } with STMT the fused `s` at (row, col), acc expanded. */
static const tk_ir_stmt *per_register(tiled *T, const tk_ir_stmt *s) {
  const tk_ir_var *rm = reg_row_var(T), *rn = reg_col_var(T);
  tk_ir_subst *sub = tk_ir_subst_new(T->m, 2);
  tk_ir_subst_add(sub, T->ph->vars[0], row_of(T, rm));
  tk_ir_subst_add(sub, T->ph->vars[1], col_of(T, rn));
  const tk_ix *point = add(T, mul(T, var(T, rm), T->tile.reg_cols), var(T, rn));
  tk_ir_rewrite rw = rewriter(T, sub, point);
  const tk_ir_stmt *body = sub ? tk_ir_rewrite_stmt(&rw, guarded(T, s)) : NULL;
  return unroll(T, rm, T->tile.reg_rows, unroll(T, rn, T->tile.reg_cols, body));
}

/* One staging loop: for u unroll { e = u*WG + t; [G] local[e] = the fused load at the
 * substitution `at(e)` }, the store's origin the fused reduction store. */
static const tk_ir_stmt *stage(tiled *T, int local, int64_t count, bool x) {
  const tk_ir_var *u = tk_ir_var_new(T->m, "u", NULL);
  const tk_ix *e = add(T, mul(T, var(T, u), T->wg), var(T, T->t));
  const tk_ix *kk = var(T, T->kk);
  tk_ir_subst *sub = tk_ir_subst_new(T->m, 2);
  int64_t width = x ? T->tile.kslice : T->tile.cols; /* the staged tile's row length */
  const tk_ix *major = tk_ir_ix_div(T->m, e, width), *minor = tk_ir_ix_mod(T->m, e, width);
  if (x) {
    tk_ir_subst_add(sub, T->ph->vars[0], add(T, T->r0, major));
    tk_ir_subst_add(sub, T->f.kloop->var, add(T, mul(T, kk, T->tile.kslice), minor));
  } else {
    tk_ir_subst_add(sub, T->ph->vars[1], add(T, T->c0, minor));
    tk_ir_subst_add(sub, T->f.kloop->var, add(T, mul(T, kk, T->tile.kslice), major));
  }
  tk_ir_rewrite rw = rewriter(T, sub, NULL);
  /* the fused reduction store's load, copied: a store `local[e] = load` with that origin */
  tk_ir_stmt *st = (tk_ir_stmt *)tk_ir_rewrite_stmt(&rw, T->f.reduce);
  if (!st) return NULL;
  const tk_ir_val *load = T->f.x_first == x ? st->value->a : st->value->b;
  tk_ir_stmt *staged = (tk_ir_stmt *)tk_ir_stmt_lstore(T->m, local, e, load);
  if (!staged) return NULL;
  staged->origin = T->f.reduce;
  staged->subst = sub;
  /* the x tile's rows under the row guards; the W tile has no row */
  const tk_ir_stmt *body =
      tk_ir_guards_at(T->m, T->f.guards, x ? T->f.nguards : 0, T->arg_map, sub, staged);
  return unroll(T, u, count / T->wg, body);
}

/* for k2 in 0..KS reduction { for rm unroll { [G(row)] for rn unroll {
 *   acc[rm*RN + rn] = fma(xs[(rm*TY + ty)*KS + k2], ws[k2*TN + rn*TX + tx], acc[rm*RN + rn]) } } } */
static const tk_ir_stmt *compute(tiled *T) {
  tk_ir_module *m = T->m;
  const tk_ir_var *k2 = tk_ir_var_new(m, "k2", NULL), *rm = reg_row_var(T), *rn = reg_col_var(T);
  const tk_ix *point = add(T, mul(T, var(T, rm), T->tile.reg_cols), var(T, rn));
  const tk_ix *xi =
      add(T, mul(T, add(T, mul(T, var(T, rm), T->ty), T->t_row), T->tile.kslice), var(T, k2));
  const tk_ix *wi =
      add(T, mul(T, var(T, k2), T->tile.cols), add(T, mul(T, var(T, rn), T->tx), T->t_col));
  const tk_ir_val *x = tk_ir_val_lload(m, T->k, T->xs, xi),
                  *w = tk_ir_val_lload(m, T->k, T->ws, wi);
  const tk_ir_val *acc = tk_ir_val_lload(m, T->k, T->acc, point);
  const tk_ir_val *v = T->f.x_first ? tk_ir_val_fma(m, x, w, acc) : tk_ir_val_fma(m, w, x, acc);
  const tk_ir_stmt *body = unroll(T, rn, T->tile.reg_cols, tk_ir_stmt_lstore(m, T->acc, point, v));
  tk_ir_subst *sub = tk_ir_subst_new(m, 1);
  tk_ir_subst_add(sub, T->ph->vars[0], row_of(T, rm));
  body = tk_ir_guards_at(m, T->f.guards, T->f.nguards, T->arg_map, sub, body);
  body = unroll(T, rm, T->tile.reg_rows, body);
  return tk_ir_stmt_for(m, k2, cst(T, T->tile.kslice), TK_LOOP_REDUCTION, TK_BIND_NONE, body);
}

/* for kk in 0..K / KS serial { stage x; stage W; barrier; compute; barrier } */
static const tk_ir_stmt *slices(tiled *T) {
  tk_ir_stmt *b = tk_ir_stmt_block(T->m);
  tk_ir_stmt_block_add(T->m, b, stage(T, T->xs, T->tile.rows * T->tile.kslice, true));
  tk_ir_stmt_block_add(T->m, b, stage(T, T->ws, T->tile.kslice * T->tile.cols, false));
  tk_ir_stmt_block_add(T->m, b, tk_ir_stmt_barrier(T->m));
  tk_ir_stmt_block_add(T->m, b, compute(T));
  tk_ir_stmt_block_add(T->m, b, tk_ir_stmt_barrier(T->m));
  return tk_ir_stmt_for(T->m, T->kk, cst(T, T->f.K / T->tile.kslice), TK_LOOP_SERIAL, TK_BIND_NONE,
                        b);
}

/* The launch variables and the tile geometry, with their inverse maps over (r, j). */
static void geometry(tiled *T) {
  tk_ir_module *m = T->m;
  const tk_ix *r = var(T, T->ph->vars[0]), *j = var(T, T->ph->vars[1]);
  const tk_ix *rr = tk_ir_ix_mod(m, r, T->tile.rows), *jj = tk_ir_ix_mod(m, j, T->tile.cols);
  T->wgv = tk_ir_var_new(
      m, "wg",
      add(T, mul(T, tk_ir_ix_div(m, r, T->tile.rows), T->nt), tk_ir_ix_div(m, j, T->tile.cols)));
  T->t = tk_ir_var_new(
      m, "t", add(T, mul(T, tk_ir_ix_mod(m, rr, T->ty), T->tx), tk_ir_ix_mod(m, jj, T->tx)));
  T->kk = tk_ir_var_new(m, "kk", NULL);
  const tk_ix *wg = var(T, T->wgv), *t = var(T, T->t);
  T->r0 = mul(T, tk_ir_ix_div(m, wg, T->nt), T->tile.rows);
  T->c0 = mul(T, tk_ir_ix_mod(m, wg, T->nt), T->tile.cols);
  T->t_row = tk_ir_ix_div(m, t, T->tx);
  T->t_col = tk_ir_ix_mod(m, t, T->tx);
}

static void record_steps(tiled *T) {
  tk_ir_kernel_step(
      T->m, T->k,
      (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = T->wgv, .binding = TK_BIND_WORKGROUP_X});
  tk_ir_kernel_step(
      T->m, T->k,
      (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = T->t, .binding = TK_BIND_THREAD_X});
  tk_ir_kernel_step(
      T->m, T->k,
      (tk_ir_sched_step){
          .kind = TK_SCHED_EXPAND, .local = T->acc, .factor = T->tile.reg_rows * T->tile.reg_cols});
}

bool tk_ir_gpu_tileable(tk_ir_gpu_tile_set set, const tk_ir_phase *ph) {
  gemm_form f;
  return gemm_form_of(ph, &f) && tile_for(set, f.N, f.K, false).rows > 0;
}

/* Whether two phases touch one local (true when that cannot be told: out of memory). */
static bool shares_locals(const tk_ir_kernel *src, const tk_ir_phase *a, const tk_ir_phase *b) {
  size_t n = (size_t)(src->nlocals + 1);
  bool *ua = tk_calloc(n, sizeof *ua), *ub = tk_calloc(n, sizeof *ub);
  bool shared = !ua || !ub;
  if (!shared) {
    tk_ir_stmt_uses(a->body, NULL, ua);
    tk_ir_stmt_uses(b->body, NULL, ub);
    for (int l = 0; l < src->nlocals; l++) shared = shared || (ua[l] && ub[l]);
  }
  free(ua);
  free(ub);
  return shared;
}

bool tk_ir_gpu_epilogue_fits(tk_ir_gpu_tile_set set, const tk_ir_kernel *src,
                             const tk_ir_phase *gemm, const tk_ir_phase *row) {
  gemm_form f;
  if (!gemm_form_of(gemm, &f) || !tile_for(set, f.N, f.K, true).rows) return false;
  const tk_ir_val *v = f.out->value;
  const tk_ix *ix = f.out->ix;
  bool plain = v->op == TK_V_LOCAL_LOAD && v->local == f.init->local && ix->kind == TK_IX_ADD &&
               ix->a->kind == TK_IX_MUL && ix->a->c == f.N && ix->a->a->kind == TK_IX_VAR &&
               ix->a->a->var == gemm->vars[0] && ix->b->kind == TK_IX_VAR &&
               ix->b->var == gemm->vars[1];
  return plain && tk_ir_gpu_row_epilogue_form(src, row, f.N, f.out->arg, f.guards, f.nguards) &&
         !shares_locals(src, gemm, row);
}

/* The tiled launch of GEMM phase ph, and after its stores the row phase `epilogue` (or
 * NULL) on the registers' layout. */
static const tk_ir_stmt *tiled_launch(tk_ir_module *m, const tk_ir_kernel *src,
                                      const tk_ir_phase *ph, const tk_ir_phase *epilogue,
                                      tk_ir_kernel *k, const int *arg_map, const int *local_map) {
  tiled T = {.m = m, .src = src, .ph = ph, .k = k, .arg_map = arg_map, .local_map = local_map};
  if (!gemm_form_of(ph, &T.f)) return NULL;
  T.tile = tile_for(m->opts.gpu_tiles, T.f.N, T.f.K, epilogue != NULL);
  if (!T.tile.rows) return NULL;
  T.ty = T.tile.rows / T.tile.reg_rows;
  T.tx = T.tile.cols / T.tile.reg_cols;
  T.wg = T.ty * T.tx;
  T.nt = T.f.N / T.tile.cols;
  T.acc = local_map[T.f.init->local];
  T.xs = tk_ir_kernel_shared_local(m, k, "xs", TK_T_F32, T.tile.rows * T.tile.kslice);
  T.ws = tk_ir_kernel_shared_local(m, k, "ws", TK_T_F32, T.tile.kslice * T.tile.cols);
  geometry(&T);
  tk_ir_stmt *b = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, b, per_register(&T, T.f.init));
  tk_ir_stmt_block_add(m, b, slices(&T));
  if (epilogue) { /* the output stays in acc: the epilogue reads it there and stores it */
    tk_ir_gpu_regs g = {.t = T.t,
                        .r0 = T.r0,
                        .ty = T.ty,
                        .tx = T.tx,
                        .reg_rows = T.tile.reg_rows,
                        .reg_cols = T.tile.reg_cols,
                        .acc = T.acc,
                        .out_arg = T.f.out->arg};
    tk_ir_stmt_block_add(m, b,
                         tk_ir_gpu_rows_epilogue(m, src, epilogue, k, arg_map, local_map, &g));
  } else {
    tk_ir_stmt_block_add(m, b, per_register(&T, T.f.out));
  }
  k->launch.tile = T.tile;
  k->launch.workgroup_size = T.wg;
  k->launch.grid = mul(&T, tk_ir_ix_div(m, tk_ir_ix_sym(m, TK_SYM_BP), T.tile.rows), T.nt);
  record_steps(&T);
  const tk_ir_stmt *threads =
      tk_ir_stmt_for(m, T.t, cst(&T, T.wg), TK_LOOP_PARALLEL, TK_BIND_THREAD_X, b);
  return tk_ir_stmt_for(m, T.wgv, k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_WORKGROUP_X, threads);
}

const tk_ir_stmt *tk_ir_gpu_tiled_body(tk_ir_module *m, const tk_ir_kernel *src,
                                       const tk_ir_phase *ph, tk_ir_kernel *k, const int *arg_map,
                                       const int *local_map) {
  return tiled_launch(m, src, ph, NULL, k, arg_map, local_map);
}

const tk_ir_stmt *tk_ir_gpu_tiled_epilogue_body(tk_ir_module *m, const tk_ir_kernel *src,
                                                const tk_ir_phase *gemm, const tk_ir_phase *row,
                                                tk_ir_kernel *k, const int *arg_map,
                                                const int *local_map) {
  return tiled_launch(m, src, gemm, row, k, arg_map, local_map);
}
