/* ir/pass_schedule_gpu_rows.c — the tiled GPU schedule of a row phase with reductions over its
 * columns, LayerNorm's form (issue 17 item 1; tk_ir_options.gpu_schedule = TILED, docs/ir.md
 * "The tiled GPU schedule"). The fused phase (ir/fuse_emit.c):
 *     phase (r in 0..Bp) { [if G(r) {]
 *       items, in order, each one of
 *         L = v                                      a scalar local (every thread the same)
 *         for j in 0..N reduction { L = L + e(j) }   or L = fma(a(j), b(j), L), after L = 0
 *       and last  for j in 0..N parallel { body(j) }  the row's output
 *     [}] }
 * runs one workgroup of WG threads per row (the largest of 256, 128, 64, 32 dividing N, at
 * least two columns per thread) instead
 * of one thread per row with its columns in a serial loop:
 *     for wg in 0..Bp @workgroup_x { for t in 0..WG @thread_x { [if G(wg) {]
 *       L = v                                         as it is (r = wg)
 *       for jj in 0..N / WG reduction { L = L + e(jj * WG + t) }     the thread's partial sum
 *       red[t] = L; barrier                           then a tree over the workgroup:
 *       for s = WG/2, .., 1: { if t < s { red[t] = red[t] + red[t + s] }; barrier }
 *       L = red[0]; barrier                           the row's sum, in every thread
 *       for jj in 0..N / WG serial { body(jj * WG + t) }             columns t, t + WG, ..
 *     [}] } }
 * with `red` a shared local of WG floats. The guards read only the row, so every thread of a
 * workgroup takes the same branch and reaches the same barriers (class race proves it). Each
 * thread reads and writes only its own columns of the row in global memory, and the barriers
 * order the reductions' reads before the last loop's writes. The sums are added in another
 * order than the simple schedule's (tolerance covers it; the CPU schedule is unchanged).
 * Inverse maps: wg = r, t = j mod WG and jj = j div WG over the last loop's column j.
 */
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"

enum { MAX_GUARDS = 4, MAX_ITEMS = 16 };

typedef struct row_form {
  const tk_ir_stmt *guards[MAX_GUARDS]; /* IFs on the row, outermost first */
  int nguards;
  const tk_ir_stmt *items[MAX_ITEMS];
  int nitems;
  int64_t N;
} row_form;

static bool scalar_store(const tk_ir_kernel *src, const tk_ir_stmt *s) {
  return s->kind == TK_S_LOCAL_STORE && src->locals[s->local].count == 1;
}

static bool is_zero(const tk_ir_val *v) {
  return v->op == TK_V_CONST && v->type == TK_T_F32 && v->f == 0.0;
}

static bool loads_local(const tk_ir_val *v, int local) {
  return v->op == TK_V_LOCAL_LOAD && v->local == local;
}

static bool reads_local(const tk_ir_val *v, int local) {
  return v && (loads_local(v, local) || reads_local(v->a, local) || reads_local(v->b, local) ||
               reads_local(v->c, local));
}

/* `L = L + e` (either order) or `L = fma(a, b, L)`, L read nowhere else: partial sums over
 * any split of the columns then add up to the same sum. */
static bool sum_step(const tk_ir_kernel *src, const tk_ir_stmt *s) {
  if (!scalar_store(src, s)) return false;
  const tk_ir_val *v = s->value;
  int L = s->local;
  if (v->op == TK_V_FMA)
    return loads_local(v->c, L) && !reads_local(v->a, L) && !reads_local(v->b, L);
  if (v->op != TK_V_ADD) return false;
  return (loads_local(v->a, L) && !reads_local(v->b, L)) ||
         (loads_local(v->b, L) && !reads_local(v->a, L));
}

/* A column loop over 0..N of the given kind. */
static bool column_loop(const tk_ir_stmt *s, tk_ir_loop_kind kind, int64_t *N) {
  if (s->kind != TK_S_FOR || s->loop != kind || s->extent->kind != TK_IX_CONST) return false;
  if (*N && s->extent->c != *N) return false;
  *N = s->extent->c;
  return true;
}

/* A reduction `for j { L = L + e(j) }` right after `L = 0`. */
static bool sum_loop(const tk_ir_kernel *src, const tk_ir_stmt *s, const tk_ir_stmt *before,
                     int64_t *N) {
  return column_loop(s, TK_LOOP_REDUCTION, N) && sum_step(src, s->body) && before &&
         scalar_store(src, before) && before->local == s->body->local && is_zero(before->value);
}

static bool items_form(row_form *f, const tk_ir_kernel *src, const tk_ir_stmt *b) {
  if (b->kind != TK_S_BLOCK || b->n < 2 || b->n > MAX_ITEMS) return false;
  int sums = 0;
  for (int i = 0; i < b->n; i++) {
    const tk_ir_stmt *s = b->stmts[i];
    bool last = i == b->n - 1;
    if (last) {
      if (!column_loop(s, TK_LOOP_PARALLEL, &f->N)) return false;
    } else if (sum_loop(src, s, i ? b->stmts[i - 1] : NULL, &f->N)) {
      sums++;
    } else if (!scalar_store(src, s)) {
      return false;
    }
    f->items[f->nitems++] = s;
  }
  return sums > 0;
}

static bool row_form_of(const tk_ir_kernel *src, const tk_ir_phase *ph, row_form *f) {
  memset(f, 0, sizeof *f);
  if (ph->ndims != 1) return false;
  const tk_ix *bp = ph->extents[0];
  if (bp->kind != TK_IX_SYM || bp->sym != TK_SYM_BP) return false;
  const tk_ir_stmt *s = ph->body;
  while (s->kind == TK_S_IF && f->nguards < MAX_GUARDS) {
    f->guards[f->nguards++] = s;
    s = s->body;
  }
  /* a 1-D phase: the guards can read nothing but the row */
  return s->kind != TK_S_IF && items_form(f, src, s);
}

/* Threads per row: the largest of 256, 128, 64, 32 that divides N into two columns or more
 * per thread (a thread's partial sum then adds before the tree does), or 0. */
static int64_t threads_for(int64_t N) {
  for (int64_t wg = 256; wg >= 32; wg /= 2)
    if (N % wg == 0 && N / wg >= 2) return wg;
  return 0;
}

bool tk_ir_gpu_row_reducible(const tk_ir_kernel *src, const tk_ir_phase *ph) {
  row_form f;
  return row_form_of(src, ph, &f) && threads_for(f.N) > 0;
}

/* ---- building the launch ---- */

typedef struct rows {
  tk_ir_module *m;
  const tk_ir_kernel *src;
  const tk_ir_phase *ph;
  tk_ir_kernel *k;
  const int *arg_map, *local_map;
  row_form f;
  int64_t wg;
  const tk_ir_var *wgv, *t;
  const tk_ir_subst *at_row; /* r -> wg, for the steps outside the column loops */
  int red;                   /* the shared local of the tree */
} rows;

static const tk_ix *var(rows *R, const tk_ir_var *v) { return tk_ir_ix_var(R->m, v); }
static const tk_ix *cst(rows *R, int64_t c) { return tk_ir_ix_const(R->m, c); }

/* The substitution r -> wg, and j -> jj * WG + t for a column loop's j. */
static tk_ir_subst *row_subst(rows *R, const tk_ir_var *j, const tk_ir_var *jj) {
  tk_ir_subst *s = tk_ir_subst_new(R->m, 2);
  tk_ir_subst_add(s, R->ph->vars[0], var(R, R->wgv));
  if (j)
    tk_ir_subst_add(s, j, tk_ir_ix_add(R->m, tk_ir_ix_mul(R->m, var(R, jj), R->wg), var(R, R->t)));
  return s;
}

static const tk_ir_stmt *copied(rows *R, const tk_ir_subst *s, const tk_ir_stmt *fused) {
  if (!s) return NULL;
  tk_ir_rewrite rw = {.m = R->m,
                      .src = R->src,
                      .dst = R->k,
                      .subst = s,
                      .arg_map = R->arg_map,
                      .local_map = R->local_map};
  return tk_ir_rewrite_stmt(&rw, fused);
}

/* for jj in 0..N / WG KIND { the loop's body at j = jj * WG + t }; the last loop's jj and t
 * carry the inverse maps over its j. */
static const tk_ir_stmt *strided(rows *R, const tk_ir_stmt *loop, tk_ir_loop_kind kind) {
  tk_ir_module *m = R->m;
  const tk_ix *j = var(R, loop->var);
  bool output = kind == TK_LOOP_SERIAL; /* the last loop: its j is the stores' column */
  const tk_ir_var *jj = tk_ir_var_new(m, "jj", output ? tk_ir_ix_div(m, j, R->wg) : NULL);
  const tk_ir_stmt *body = copied(R, row_subst(R, loop->var, jj), loop->body);
  return tk_ir_stmt_for(m, jj, cst(R, R->f.N / R->wg), kind, TK_BIND_NONE, body);
}

static const tk_ir_val *red_at(rows *R, const tk_ix *ix) {
  return tk_ir_val_lload(R->m, R->k, R->red, ix);
}

/* red[t] = L; barrier; the tree's steps; L = red[0]; barrier. */
static void tree(rows *R, tk_ir_stmt *b, int acc) {
  tk_ir_module *m = R->m;
  const tk_ix *t = var(R, R->t);
  tk_ir_stmt_block_add(m, b,
                       tk_ir_stmt_lstore(m, R->red, t, tk_ir_val_lload(m, R->k, acc, cst(R, 0))));
  tk_ir_stmt_block_add(m, b, tk_ir_stmt_barrier(m));
  for (int64_t s = R->wg / 2; s >= 1; s /= 2) {
    const tk_ir_val *sum =
        tk_ir_val_bin(m, TK_V_ADD, red_at(R, t), red_at(R, tk_ir_ix_add(m, t, cst(R, s))));
    tk_ir_stmt_block_add(
        m, b, tk_ir_stmt_if(m, t, TK_CMP_LT, cst(R, s), tk_ir_stmt_lstore(m, R->red, t, sum)));
    tk_ir_stmt_block_add(m, b, tk_ir_stmt_barrier(m));
  }
  tk_ir_stmt_block_add(m, b, tk_ir_stmt_lstore(m, acc, cst(R, 0), red_at(R, cst(R, 0))));
  tk_ir_stmt_block_add(m, b, tk_ir_stmt_barrier(m));
}

static const tk_ir_stmt *items(rows *R) {
  tk_ir_stmt *b = tk_ir_stmt_block(R->m);
  for (int i = 0; i < R->f.nitems; i++) {
    const tk_ir_stmt *s = R->f.items[i];
    if (s->kind != TK_S_FOR) {
      tk_ir_stmt_block_add(R->m, b, copied(R, R->at_row, s));
    } else if (s->loop == TK_LOOP_REDUCTION) {
      tk_ir_stmt_block_add(R->m, b, strided(R, s, TK_LOOP_REDUCTION));
      tree(R, b, R->local_map[s->body->local]);
    } else {
      tk_ir_stmt_block_add(R->m, b, strided(R, s, TK_LOOP_SERIAL));
    }
  }
  return b;
}

/* The fused guards (on the row only) around body, at r = wg. */
static const tk_ir_stmt *guarded(rows *R, const tk_ir_stmt *body) {
  tk_ir_module *m = R->m;
  const tk_ir_subst *s = R->at_row;
  for (int i = R->f.nguards - 1; s && i >= 0; i--) {
    const tk_ir_stmt *g = R->f.guards[i];
    body = tk_ir_stmt_if(m, tk_ir_ix_subst(m, tk_ir_ix_map_args(m, g->lhs, R->arg_map), s), g->cmp,
                         tk_ir_ix_subst(m, tk_ir_ix_map_args(m, g->rhs, R->arg_map), s), body);
  }
  return s ? body : NULL;
}

static void record_steps(rows *R) {
  tk_ir_kernel_step(
      R->m, R->k,
      (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = R->wgv, .binding = TK_BIND_WORKGROUP_X});
  tk_ir_kernel_step(
      R->m, R->k,
      (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = R->t, .binding = TK_BIND_THREAD_X});
}

const tk_ir_stmt *tk_ir_gpu_rows_body(tk_ir_module *m, const tk_ir_kernel *src,
                                      const tk_ir_phase *ph, tk_ir_kernel *k, const int *arg_map,
                                      const int *local_map) {
  rows R = {.m = m, .src = src, .ph = ph, .k = k, .arg_map = arg_map, .local_map = local_map};
  if (!row_form_of(src, ph, &R.f) || !(R.wg = threads_for(R.f.N))) return NULL;
  const tk_ir_stmt *last = R.f.items[R.f.nitems - 1];
  R.wgv = tk_ir_var_new(m, "wg", var(&R, ph->vars[0]));
  R.t = tk_ir_var_new(m, "t", tk_ir_ix_mod(m, var(&R, last->var), R.wg));
  R.at_row = row_subst(&R, NULL, NULL);
  R.red = tk_ir_kernel_shared_local(m, k, "red", TK_T_F32, R.wg);
  if (R.red < 0 || !R.at_row) return NULL;
  const tk_ir_stmt *body = guarded(&R, items(&R));
  k->launch.workgroup_size = R.wg;
  k->launch.grid = ph->extents[0];
  record_steps(&R);
  body = tk_ir_stmt_for(m, R.t, cst(&R, R.wg), TK_LOOP_PARALLEL, TK_BIND_THREAD_X, body);
  return tk_ir_stmt_for(m, R.wgv, k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_WORKGROUP_X, body);
}
