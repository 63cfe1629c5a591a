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
  return tk_ir_guards_at(R->m, R->f.guards, R->f.nguards, R->arg_map, R->at_row, body);
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

/* ---- the epilogue of a tiled GEMM launch ----
 * The row phase on the registers' layout of a tiled launch over whole rows (tk_ir_gpu_regs):
 * thread t holds the rows row(rm) = r0 + rm*TY + t div TX and the columns rn*TX + t mod TX
 * it computed. The GEMM's output (`%h[r*N + j] = acc`) is not stored: the row phase's loads
 * of it, `%h[r*N + j]` at its column loop's j, read acc[rm*RN + rn] instead, and its output
 * loop stores %h in place. Every item runs once per register row
 * (`for rm unroll`, the row phase's locals expanded by RM, index rm):
 *     L = v                  for rm unroll { L[rm] = v }          (v touches no memory)
 *     sum over the columns   for rm unroll { [G(row)] for rn in 0..RN reduction { .. } }
 *                            then a tree over the TX threads of each row, through the shared
 *                            local red[RM * WG] at rm*WG + t:
 *                              for rm unroll { red[rm*WG + t] = L[rm] }; barrier
 *                              for s = TX/2, .., 1: { if t mod TX < s { for rm unroll {
 *                                red[rm*WG + t] = red[rm*WG + t] + red[rm*WG + t + s] } }; barrier }
 *                              for rm unroll { L[rm] = red[rm*WG + t div TX * TX] }; barrier
 *     the output loop        for rm unroll { [G(row)] for rn in 0..RN serial { .. } }
 * The guards sit inside the register loops (they read the thread's row), the barriers outside
 * any guard. Inverse maps of the output loop: rm = (r mod TM) div TY, rn = j div TX. */

static bool loads_memory(const tk_ir_val *v) {
  return v &&
         (v->op == TK_V_LOAD || loads_memory(v->a) || loads_memory(v->b) || loads_memory(v->c));
}

/* `r * N + j`: the row-major element (r, j) of an N-column buffer, r the phase's row. */
static bool element_at(const tk_ix *ix, const tk_ir_var *r, int64_t N, const tk_ir_var *j) {
  return ix->kind == TK_IX_ADD && ix->a->kind == TK_IX_MUL && ix->a->c == N &&
         ix->a->a->kind == TK_IX_VAR && ix->a->a->var == r && ix->b->kind == TK_IX_VAR &&
         ix->b->var == j;
}

/* Every load of the GEMM's output in a column loop reads the loop's own element. */
typedef struct held_loads {
  const tk_ir_phase *ph;
  const tk_ir_var *j;
  int out_arg;
  int64_t N;
  bool ok;
} held_loads;

static void check_held(const tk_ir_val *v, const tk_ir_stmt *owner, void *user) {
  (void)owner;
  held_loads *h = user;
  if (v->op == TK_V_LOAD && v->arg == h->out_arg && !element_at(v->ix, h->ph->vars[0], h->N, h->j))
    h->ok = false;
}

/* Stores to the GEMM's output other than `keep`. */
typedef struct other_stores {
  int out_arg;
  const tk_ir_stmt *keep;
  int n;
} other_stores;

static void count_other_store(const tk_ir_stmt *s, void *user) {
  other_stores *o = user;
  o->n += s->kind == TK_S_STORE && s->arg == o->out_arg && s != o->keep;
}

/* The same guards, outermost first: the epilogue computes exactly the rows the GEMM does. */
static bool same_guards(const row_form *f, const tk_ir_stmt *const *guards, int nguards) {
  if (f->nguards != nguards) return false;
  for (int i = 0; i < nguards; i++)
    if (f->guards[i]->cmp != guards[i]->cmp || !tk_ir_ix_equal(f->guards[i]->lhs, guards[i]->lhs) ||
        !tk_ir_ix_equal(f->guards[i]->rhs, guards[i]->rhs))
      return false;
  return true;
}

bool tk_ir_gpu_row_epilogue_form(const tk_ir_kernel *src, const tk_ir_phase *ph, int64_t N,
                                 int out_arg, const tk_ir_stmt *const *guards, int nguards) {
  row_form f;
  if (!row_form_of(src, ph, &f) || f.N != N || !same_guards(&f, guards, nguards)) return false;
  held_loads h = {.ph = ph, .out_arg = out_arg, .N = N, .ok = true};
  for (int i = 0; i < f.nitems; i++) {
    const tk_ir_stmt *s = f.items[i];
    if (s->kind != TK_S_FOR) {
      if (loads_memory(s->value)) return false;
      continue;
    }
    h.j = s->var;
    tk_ir_walk_vals(s->body, check_held, &h);
  }
  /* the output loop's last statement overwrites every element of the GEMM's output in place,
   * and no other store does: every load of it reads the GEMM's value, which acc holds */
  const tk_ir_stmt *last = f.items[f.nitems - 1], *body = last->body;
  const tk_ir_stmt *tail = body->kind == TK_S_BLOCK && body->n ? body->stmts[body->n - 1] : body;
  other_stores o = {.out_arg = out_arg, .keep = tail};
  tk_ir_walk_stmts(ph->body, count_other_store, &o);
  return h.ok && !o.n && tail->kind == TK_S_STORE && tail->arg == out_arg &&
         element_at(tail->ix, ph->vars[0], N, last->var);
}

typedef struct epilogue {
  tk_ir_module *m;
  const tk_ir_kernel *src;
  const tk_ir_phase *ph;
  tk_ir_kernel *k;
  const int *arg_map, *local_map;
  const tk_ir_gpu_regs *g;
  row_form f;
  int64_t wg;
  int red;
  const tk_ir_var *rm, *rn, *j; /* the copy being made: its register loops, column loop */
} epilogue;

static const tk_ix *evar(epilogue *E, const tk_ir_var *v) { return tk_ir_ix_var(E->m, v); }
static const tk_ix *ecst(epilogue *E, int64_t c) { return tk_ir_ix_const(E->m, c); }
static const tk_ix *thread(epilogue *E) { return evar(E, E->g->t); }

/* The register row variable, its inverse map over the row. */
static const tk_ir_var *reg_row(epilogue *E) {
  const tk_ix *r = evar(E, E->ph->vars[0]);
  int64_t tile_rows = E->g->reg_rows * E->g->ty;
  return tk_ir_var_new(E->m, "rm", tk_ir_ix_div(E->m, tk_ir_ix_mod(E->m, r, tile_rows), E->g->ty));
}

static const tk_ix *row_at(epilogue *E, const tk_ir_var *rm) {
  tk_ir_module *m = E->m;
  return tk_ir_ix_add(m, E->g->r0,
                      tk_ir_ix_add(m, tk_ir_ix_mul(m, evar(E, rm), E->g->ty),
                                   tk_ir_ix_div(m, thread(E), E->g->tx)));
}

/* r -> row(rm), and j -> rn*TX + t mod TX for a column loop's j. */
static tk_ir_subst *reg_subst(epilogue *E, const tk_ir_var *rm, const tk_ir_var *j,
                              const tk_ir_var *rn) {
  tk_ir_module *m = E->m;
  tk_ir_subst *s = tk_ir_subst_new(m, 2);
  tk_ir_subst_add(s, E->ph->vars[0], row_at(E, rm));
  if (j)
    tk_ir_subst_add(s, j,
                    tk_ir_ix_add(m, tk_ir_ix_mul(m, evar(E, rn), E->g->tx),
                                 tk_ir_ix_mod(m, thread(E), E->g->tx)));
  return s;
}

/* The GEMM's output at the copy's (row, column): the thread's acc[rm*RN + rn]. */
static const tk_ir_val *held_value(const tk_ir_rewrite *rw, const tk_ir_val *load) {
  epilogue *E = (epilogue *)rw->user;
  if (!E->j || load->arg != E->g->out_arg || !element_at(load->ix, E->ph->vars[0], E->f.N, E->j))
    return NULL;
  tk_ir_module *m = E->m;
  const tk_ix *reg =
      tk_ir_ix_add(m, tk_ir_ix_mul(m, evar(E, E->rm), E->g->reg_cols), evar(E, E->rn));
  tk_ir_val *held = (tk_ir_val *)tk_ir_val_lload(m, E->k, E->g->acc, reg);
  if (held) held->origin = load; /* freshly built here; class layout proves what it holds */
  return held;
}

/* The fused statement at register row rm (and column rn of column loop j, if any). */
static const tk_ir_stmt *reg_copy(epilogue *E, const tk_ir_subst *s, const tk_ir_var *rm,
                                  const tk_ir_var *j, const tk_ir_var *rn,
                                  const tk_ir_stmt *fused) {
  if (!s) return NULL;
  E->rm = rm;
  E->rn = rn;
  E->j = j;
  tk_ir_rewrite rw = {.m = E->m,
                      .src = E->src,
                      .dst = E->k,
                      .subst = s,
                      .arg_map = E->arg_map,
                      .local_map = E->local_map,
                      .tile_point = evar(E, rm),
                      .load_val = held_value,
                      .user = E};
  return tk_ir_rewrite_stmt(&rw, fused);
}

static const tk_ir_stmt *per_row(epilogue *E, const tk_ir_var *rm, const tk_ir_stmt *body) {
  return tk_ir_stmt_for(E->m, rm, ecst(E, E->g->reg_rows), TK_LOOP_UNROLL, TK_BIND_NONE, body);
}

/* The fused guards (on the row only) around body, at r = row(rm). */
static const tk_ir_stmt *row_guarded(epilogue *E, const tk_ir_var *rm, const tk_ir_stmt *body) {
  return tk_ir_guards_at(E->m, E->f.guards, E->f.nguards, E->arg_map, reg_subst(E, rm, NULL, NULL),
                         body);
}

/* for rm unroll { [G(row)] for rn in 0..RN KIND { the loop's body at (row, rn*TX + t mod TX) } } */
static const tk_ir_stmt *reg_columns(epilogue *E, const tk_ir_stmt *loop, tk_ir_loop_kind kind) {
  tk_ir_module *m = E->m;
  bool output = kind == TK_LOOP_SERIAL; /* its rm and rn carry the inverse maps */
  const tk_ir_var *rm = output ? reg_row(E) : tk_ir_var_new(m, "rm", NULL);
  const tk_ir_var *rn =
      tk_ir_var_new(m, "rn", output ? tk_ir_ix_div(m, evar(E, loop->var), E->g->tx) : NULL);
  const tk_ir_stmt *body =
      reg_copy(E, reg_subst(E, rm, loop->var, rn), rm, loop->var, rn, loop->body);
  body = tk_ir_stmt_for(m, rn, ecst(E, E->g->reg_cols), kind, TK_BIND_NONE, body);
  return per_row(E, rm, row_guarded(E, rm, body));
}

/* red[rm*WG + t + s] (s = 0: the thread's own slot). */
static const tk_ix *red_slot(epilogue *E, const tk_ir_var *rm, const tk_ix *offset) {
  return tk_ir_ix_add(E->m, tk_ir_ix_mul(E->m, evar(E, rm), E->wg), offset);
}

static const tk_ir_val *red_load(epilogue *E, const tk_ix *ix) {
  return tk_ir_val_lload(E->m, E->k, E->red, ix);
}

/* The tree of local L (scheduled id, expanded by RM) over the TX threads of each row. */
static void row_tree(epilogue *E, tk_ir_stmt *b, int L) {
  tk_ir_module *m = E->m;
  const tk_ix *t = thread(E);
  const tk_ir_var *rm = tk_ir_var_new(m, "rm", NULL);
  const tk_ix *mine = red_slot(E, rm, t);
  tk_ir_stmt_block_add(
      m, b,
      per_row(E, rm, tk_ir_stmt_lstore(m, E->red, mine, tk_ir_val_lload(m, E->k, L, evar(E, rm)))));
  tk_ir_stmt_block_add(m, b, tk_ir_stmt_barrier(m));
  for (int64_t s = E->g->tx / 2; s >= 1; s /= 2) {
    const tk_ir_var *rs = tk_ir_var_new(m, "rm", NULL);
    const tk_ix *own = red_slot(E, rs, t), *other = red_slot(E, rs, tk_ir_ix_add(m, t, ecst(E, s)));
    const tk_ir_val *sum = tk_ir_val_bin(m, TK_V_ADD, red_load(E, own), red_load(E, other));
    const tk_ir_stmt *step = per_row(E, rs, tk_ir_stmt_lstore(m, E->red, own, sum));
    tk_ir_stmt_block_add(
        m, b, tk_ir_stmt_if(m, tk_ir_ix_mod(m, t, E->g->tx), TK_CMP_LT, ecst(E, s), step));
    tk_ir_stmt_block_add(m, b, tk_ir_stmt_barrier(m));
  }
  const tk_ir_var *rr = tk_ir_var_new(m, "rm", NULL);
  const tk_ix *first = red_slot(E, rr, tk_ir_ix_mul(m, tk_ir_ix_div(m, t, E->g->tx), E->g->tx));
  tk_ir_stmt_block_add(m, b,
                       per_row(E, rr, tk_ir_stmt_lstore(m, L, evar(E, rr), red_load(E, first))));
  tk_ir_stmt_block_add(m, b, tk_ir_stmt_barrier(m));
}

const tk_ir_stmt *tk_ir_gpu_rows_epilogue(tk_ir_module *m, const tk_ir_kernel *src,
                                          const tk_ir_phase *ph, tk_ir_kernel *k,
                                          const int *arg_map, const int *local_map,
                                          const tk_ir_gpu_regs *g) {
  epilogue E = {.m = m,
                .src = src,
                .ph = ph,
                .k = k,
                .arg_map = arg_map,
                .local_map = local_map,
                .g = g,
                .wg = g->ty * g->tx};
  if (!row_form_of(src, ph, &E.f)) return NULL;
  E.red = tk_ir_kernel_shared_local(m, k, "red", TK_T_F32, g->reg_rows * E.wg);
  if (E.red < 0) return NULL;
  tk_ir_stmt *b = tk_ir_stmt_block(m);
  for (int i = 0; i < E.f.nitems; i++) {
    const tk_ir_stmt *s = E.f.items[i];
    if (s->kind != TK_S_FOR) {
      const tk_ir_var *rm = tk_ir_var_new(m, "rm", NULL);
      tk_ir_stmt_block_add(
          m, b, per_row(&E, rm, reg_copy(&E, reg_subst(&E, rm, NULL, NULL), rm, NULL, NULL, s)));
    } else if (s->loop == TK_LOOP_REDUCTION) {
      tk_ir_stmt_block_add(m, b, reg_columns(&E, s, TK_LOOP_REDUCTION));
      row_tree(&E, b, local_map[s->body->local]);
    } else {
      tk_ir_stmt_block_add(m, b, reg_columns(&E, s, TK_LOOP_SERIAL));
    }
  }
  return b;
}
