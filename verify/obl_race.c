/* verify/obl_race.c — class `race`, per launch (one scheduled kernel):
 *
 * 1. launch: the bound loops span exactly what the host launches (workgroup/block loop extent
 *    = launch.grid, thread loop extent = workgroup_size), for every B;
 * 2. injective writes, through the inverse map: at every point of a STORE the element written
 *    is the source element r * C + col of its fused origin (row-major, 0 <= col < C), and every
 *    parallel loop variable around it (bound, parallel, unroll, vector) equals its
 *    tk_ir_var.inv at that source point (a loop copied from the source without inv is the
 *    source's column loop itself). The element thus determines the parallel point, so two
 *    distinct points never write one element. The same left inverse for the bound loops of every
 *    LOAD of a buffer the launch also writes (and of every other STORE of it) shows that
 *    different workgroups/threads/blocks — which run concurrently — never touch one element
 *    that another writes. One copy of the variables per query keeps these linear and fast; an
 *    access whose loops have no inverse map falls back to the two-copy formulation (two points
 *    that differ in the parallel loops have different indices);
 * 3. coverage, through the inverse-map witness: for every element e = (row, col) of the region
 *    a contract says the kernel writes (writes_all: every row; writes_rows_lt(a, R): rows < R),
 *    some STORE to that argument writes it at the point inv(e): every scheduled loop variable
 *    takes its inv value over the source phase's space (r = row, j = col), the source's column
 *    loop takes col, and that point lies inside every extent and guard with idx(inv(e)) = e.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

/* A LOAD or STORE site (the race class looks at global memory only). */
static bool global_access(const tk_obl_site *s) {
  return s->kind == TK_SITE_LOAD || s->kind == TK_SITE_STORE;
}

static int buffer_of(const tk_ir_kernel *k, const tk_obl_site *a) {
  int b = k->args[a->arg].buffer;
  return b >= 0 ? b : -1 - a->arg; /* unplanned: distinct per argument */
}

/* The source phase of a scheduled store: the phase, among those the launch runs (all of them
 * for a CPU kernel), whose body holds the store's origin. */
static const tk_ir_phase *source_phase(const tk_vctx *v, const tk_ir_kernel *k,
                                       const tk_ir_stmt *store) {
  if (k->source < 0 || k->source >= v->m->kernels.n || !store->origin) return NULL;
  const tk_ir_kernel *f = v->m->kernels.items[k->source];
  int first = k->source_phase < 0 ? 0 : k->source_phase;
  int last = k->source_phase < 0 ? f->nphases - 1 : tk_ir_kernel_last_phase(k);
  if (first == last) return first < f->nphases ? &f->phases[first] : NULL;
  for (int p = first; p <= last && p < f->nphases; p++)
    if (tk_ir_stmt_contains(f->phases[p].body, store->origin)) return &f->phases[p];
  return NULL;
}

/* A GPU launch of several phases (a GEMM and its epilogue) names its bound variables'
 * inverse maps over its first phase's space (r, j): at a store of a later phase over the same
 * rows, the first phase's column variable is the store's column. NULL when nothing to bind. */
static const tk_ir_var *launch_column(const tk_vctx *v, const tk_ir_kernel *k,
                                      const tk_ir_phase *ph) {
  if (k->source_phases < 2 || !ph) return NULL;
  const tk_ir_phase *first = &v->m->kernels.items[k->source]->phases[k->source_phase];
  return first != ph && first->ndims == 2 && first->vars[0] == ph->vars[0] ? first->vars[1] : NULL;
}

/* The column loop of a source store `r*C + v`: v, when v is a loop (not a space) variable. */
static const tk_ir_var *column_var(const tk_ir_phase *ph, const tk_ir_stmt *origin) {
  const tk_ix *ix = origin->ix;
  if (ix->kind != TK_IX_ADD || ix->b->kind != TK_IX_VAR) return NULL;
  const tk_ir_var *c = ix->b->var;
  return (c == ph->vars[0] || (ph->ndims == 2 && c == ph->vars[1])) ? NULL : c;
}

/* The witness value of scheduled loop variable w at the source point (r, j) bound in copy 1:
 * inv(w), or col for the source store's column loop cv; NULL if w has neither. */
static Z3_ast witness(tk_obl *o, const tk_ir_var *w, const tk_ir_var *cv, Z3_ast col) {
  if (w->inv) return tk_verify_obl_ix(o, w->inv, 1);
  return w == cv ? col : NULL;
}

/* Binds the source phase's space variables (copy 1) to row and col. */
static void bind_space(tk_obl *o, const tk_ir_phase *ph, Z3_ast row, Z3_ast col) {
  tk_verify_obl_bind(o, ph->vars[0], 1, row);
  if (ph->ndims == 2) tk_verify_obl_bind(o, ph->vars[1], 1, col);
}

static void unbind_space(tk_obl *o, const tk_ir_phase *ph) {
  tk_verify_obl_unbind(o, ph->vars[0], 1);
  if (ph->ndims == 2) tk_verify_obl_unbind(o, ph->vars[1], 1);
}

/* OR over the loops of path selected by pick: var(copy 0) != var(copy 1); NULL if none. */
static Z3_ast differ(tk_obl *o, const tk_obl_path *p, bool (*pick)(const tk_ir_stmt *)) {
  tk_vctx *v = o->v;
  Z3_ast ors[TK_OBL_MAX_DEPTH];
  int n = 0;
  for (int i = 0; i < p->n; i++) {
    if (!pick(p->items[i])) continue;
    Z3_ast second = tk_verify_obl_var(o, p->items[i]->var, 1); /* first: verify_internal.h */
    ors[n++] = Z3_mk_not(v->z, Z3_mk_eq(v->z, tk_verify_obl_var(o, p->items[i]->var, 0), second));
  }
  return n ? tk_verify_z_or(v, n, ors) : NULL;
}

static const char *buffer_name(const tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *a) {
  int b = k->args[a->arg].buffer;
  return b >= 0 ? v->m->buffers[b].name : k->args[a->arg].name;
}

/* Fallback without a witness: two copies of the access's points that differ in the loops
 * `pick` selects never touch the same element. */
static tk_status two_copies(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *a,
                            bool (*pick)(const tk_ir_stmt *), const char *who) {
  char wa[160], ia[512];
  tk_verify_obl_site_what(k, a, wa, sizeof wa);
  tk_ir_ix_format(a->ix, ia, sizeof ia);
  tk_verify_obl_begin(
      v, TK_OBL_RACE, k->name, tk_verify_obl_target_name(k),
      "%s at %s: two points of different %s never touch the same element of buffer @%s, for every B in [1, %lld]",
      wa, ia, who, buffer_name(v, k, a), (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  tk_verify_obl_path_hyps(o, a->path, 0);
  tk_verify_obl_path_hyps(o, a->path, 1);
  Z3_ast d = differ(o, a->path, pick);
  if (!d) return TK_STATUS_OK; /* nothing around it runs concurrently */
  tk_verify_obl_hyp(o, d);
  Z3_ast i0 = tk_verify_obl_ix(o, a->ix, 0), i1 = tk_verify_obl_ix(o, a->ix, 1);
  tk_verify_obl_show(o, "index", i0);
  tk_verify_obl_show(o, "other index", i1);
  tk_verify_obl_goal(o, Z3_mk_not(v->z, Z3_mk_eq(v->z, i0, i1)));
  return tk_verify_obl_prove(v);
}

/* The origin of an access: the fused kernel's index it was derived from. */
static const tk_ix *origin_ix(const tk_obl_site *a) {
  if (a->kind == TK_SITE_STORE) return a->stmt->origin ? a->stmt->origin->ix : NULL;
  return a->val && a->val->origin ? a->val->origin->ix : NULL; /* an index read has none */
}

/* Left inverse: at every point of the access, the element touched is row * C + col with the
 * source point's row r and column col (0 <= col < C), and each loop variable `pick` selects
 * equals its inverse map inv(r, j) at that source point. The element therefore determines
 * those variables, so points that differ in them touch different elements — for this access,
 * and for bound loops against every other access of the buffer (they share the launch's bound
 * variables and their inverse maps). */
static tk_status left_inverse(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *a,
                              bool (*pick)(const tk_ir_stmt *), const char *who) {
  const tk_ir_phase *ph = source_phase(v, k, a->stmt);
  const tk_ir_arg *arg = &k->args[a->arg];
  const tk_ix *oi = origin_ix(a);
  bool rowmajor = ph && oi && oi->kind == TK_IX_ADD && oi->a->kind == TK_IX_MUL &&
                  oi->a->c == arg->cols && oi->a->a->kind == TK_IX_VAR &&
                  oi->a->a->var == ph->vars[0];
  const tk_ir_var *cv = rowmajor && oi->b->kind == TK_IX_VAR ? oi->b->var : NULL;
  for (int i = 0; rowmajor && i < a->path->n; i++) {
    const tk_ir_stmt *s = a->path->items[i];
    if (pick(s) && !s->var->inv && s->var != cv) rowmajor = false;
  }
  if (!rowmajor) return two_copies(v, k, a, pick, who);
  char wa[160], ia[512], oa[512];
  tk_verify_obl_site_what(k, a, wa, sizeof wa);
  tk_ir_ix_format(a->ix, ia, sizeof ia);
  tk_ir_ix_format(oi, oa, sizeof oa);
  tk_verify_obl_begin(
      v, TK_OBL_RACE, k->name, tk_verify_obl_target_name(k),
      "%s at %s: the element is the source element %s (row-major, column in [0, %lld)) and the %s of every "
      "point are its inverse map inv(r, j), so different %s touch different elements of buffer @%s, for every "
      "B in [1, %lld]",
      wa, ia, oa, (long long)arg->cols, who, who, buffer_name(v, k, a), (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  tk_verify_obl_path_hyps(o, a->path, 0);
  tk_verify_obl_bind_source(o, a->stmt->subst, oi);
  Z3_ast idx = tk_verify_obl_ix(o, a->ix, 0), col = tk_verify_obl_ix(o, oi->b, 1);
  const tk_ir_var *lc = launch_column(v, k, ph);
  if (lc) tk_verify_obl_bind(o, lc, 1, col);
  Z3_ast conj[TK_OBL_MAX_DEPTH + 2];
  int n = 0;
  conj[n++] = Z3_mk_eq(v->z, idx, tk_verify_obl_ix(o, oi, 1));
  Z3_ast cols = tk_verify_z_int(v, arg->cols); /* first: verify_internal.h, term order */
  conj[n++] = tk_verify_z_in(v, tk_verify_z_int(v, 0), col, cols);
  tk_verify_obl_show(o, "index", idx);
  tk_verify_obl_show(o, "source element", tk_verify_obl_ix(o, oi, 1));
  for (int i = 0; i < a->path->n; i++) {
    const tk_ir_stmt *s = a->path->items[i];
    if (!pick(s) || s->var == cv) continue;
    Z3_ast w = tk_verify_obl_ix(o, s->var->inv, 1);
    char label[64];
    snprintf(label, sizeof label, "inv(%s)", s->var->name);
    tk_verify_obl_show(o, label, w);
    conj[n++] = Z3_mk_eq(v->z, tk_verify_obl_var(o, s->var, 0), w);
  }
  if (lc) tk_verify_obl_unbind(o, lc, 1);
  tk_verify_obl_unbind_source(o, oi);
  tk_verify_obl_goal(o, tk_verify_z_and(v, n, conj));
  return tk_verify_obl_prove(v);
}

static bool stored(const tk_ir_kernel *k, const tk_obl_sites *l, int buffer) {
  for (int i = 0; i < l->n; i++)
    if (l->items[i].kind == TK_SITE_STORE && buffer_of(k, &l->items[i]) == buffer) return true;
  return false;
}

/* Accesses of one buffer with different row lengths would make the element → point maps of
 * different accesses incomparable: refuse them. */
static tk_status same_rows(const tk_ir_kernel *k, const tk_obl_sites *l) {
  for (int i = 0; i < l->n; i++)
    for (int j = 0; j < i; j++)
      if (global_access(&l->items[i]) && global_access(&l->items[j]) &&
          buffer_of(k, &l->items[i]) == buffer_of(k, &l->items[j]) &&
          k->args[l->items[i].arg].cols != k->args[l->items[j].arg].cols)
        return tk_status_make(
            TK_INVALID_ARGUMENT,
            "kernel %s (%s): buffer of %%%s accessed with row lengths %lld and %lld", k->name,
            tk_verify_obl_target_name(k), k->args[l->items[i].arg].name,
            (long long)k->args[l->items[i].arg].cols, (long long)k->args[l->items[j].arg].cols);
  return TK_STATUS_OK;
}

/* In a kernel with barriers, every other access of a buffer against each of its stores, by
 * the threads' intervals (the threads of one workgroup may share elements between barriers:
 * a row's sums read what its output loop later writes). */
static tk_status separated_from_stores(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_sites *l,
                                       int i) {
  const tk_obl_site *b = &l->items[i];
  for (int j = 0; j < l->n; j++) {
    const tk_obl_site *a = &l->items[j];
    if (j != i && a->kind == TK_SITE_STORE && buffer_of(k, a) == buffer_of(k, b) &&
        (b->kind != TK_SITE_STORE || j < i)) /* two stores: one query per pair */
      TK_RETURN_IF_ERROR(tk_verify_obl_barrier_separated(v, k, a, b));
  }
  return TK_STATUS_OK;
}

static tk_status races(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_sites *l) {
  TK_RETURN_IF_ERROR(same_rows(k, l));
  const char *units = k->target == TK_TARGET_GPU ? "workgroups/threads" : "blocks";
  bool barriers = tk_verify_obl_has_barriers(k);
  for (int i = 0; i < l->n; i++) {
    const tk_obl_site *a = &l->items[i];
    if (!global_access(a)) continue;
    if (a->kind == TK_SITE_STORE)
      TK_RETURN_IF_ERROR(
          left_inverse(v, k, a, tk_verify_obl_loop_parallel, "parallel loop indices"));
    if (barriers)
      TK_RETURN_IF_ERROR(separated_from_stores(v, k, l, i));
    else if (a->kind == TK_SITE_LOAD && stored(k, l, buffer_of(k, a)))
      TK_RETURN_IF_ERROR(left_inverse(v, k, a, tk_verify_obl_loop_bound, units));
  }
  return TK_STATUS_OK;
}

/* The bound loops of the body (outermost first, at most two levels deep through blocks). */
static int bound_loops(const tk_ir_stmt *s, const tk_ir_stmt **out, int n, int cap) {
  if (!s || n >= cap) return n;
  if (s->kind == TK_S_BLOCK) {
    for (int i = 0; i < s->n; i++) n = bound_loops(s->stmts[i], out, n, cap);
    return n;
  }
  if (s->kind == TK_S_FOR && s->binding != TK_BIND_NONE) {
    out[n++] = s;
    return bound_loops(s->body, out, n, cap);
  }
  return n;
}

tk_status tk_verify_obl_launch(tk_vctx *v, const tk_ir_kernel *k) {
  const tk_ir_stmt *loops[8];
  int n = bound_loops(k->body, loops, 0, 8);
  if (!n || !k->launch.grid)
    return tk_status_make(TK_INVALID_ARGUMENT, "kernel %s (%s): no bound loop or no launch grid",
                          k->name, tk_verify_obl_target_name(k));
  char grid[256];
  tk_ir_ix_format(k->launch.grid, grid, sizeof grid);
  tk_verify_obl_begin(
      v, TK_OBL_RACE, k->name, tk_verify_obl_target_name(k),
      "launch: the bound loops span exactly the launch (workgroup/block loops: grid %s; thread loops: %lld), "
      "for every B in [1, %lld]",
      grid, (long long)k->launch.workgroup_size, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  for (int i = 0; i < n; i++) {
    const tk_ir_stmt *s = loops[i];
    Z3_ast ext = tk_verify_obl_ix(o, s->extent, 0);
    Z3_ast want = s->binding == TK_BIND_THREAD_X ? tk_verify_z_int(v, k->launch.workgroup_size)
                                                 : tk_verify_obl_ix(o, k->launch.grid, 0);
    char label[64];
    snprintf(label, sizeof label, "extent of %s", s->var->name);
    tk_verify_obl_show(o, label, ext);
    tk_verify_obl_show(o, "launch", want);
    tk_verify_obl_part(o, Z3_mk_eq(v->z, ext, want), "loop %s (%s) spans the launch", s->var->name,
                       tk_ir_binding_name(s->binding));
  }
  return tk_verify_obl_prove(v);
}

tk_status tk_verify_obl_race(tk_vctx *v, const tk_ir_kernel *k) {
  if (tk_verify_obl_dispatch_kernel(k)) return TK_STATUS_OK; /* the dispatch class's */
  tk_obl_sites l;
  TK_RETURN_IF_ERROR(tk_verify_obl_collect(v, k, &l));
  tk_status s = races(v, k, &l);
  tk_verify_obl_sites_free(&l);
  return s;
}

/* ---- coverage ---- */

/* The expert e of index `r * E + e` over the phase's row variable, or -1. */
static int64_t expert_of(const tk_ix *ix, const tk_ir_phase *ph) {
  int64_t e = 0;
  if (ix->kind == TK_IX_ADD && ix->b->kind == TK_IX_CONST) {
    e = ix->b->c;
    ix = ix->a;
  }
  bool rows = ix->kind == TK_IX_MUL && ix->a->kind == TK_IX_VAR && ix->a->var == ph->vars[0];
  return rows && e >= 0 && e < ix->c ? e : -1;
}

/* A store whose row is a slot (sparse dispatch's gather: `%slot[r * E + e] * C + col` at
 * source row r): k's argument for the slot and *e, or -1. */
static int slot_row(const tk_vctx *v, const tk_ir_kernel *k, const tk_ir_phase *ph,
                    const tk_ir_stmt *origin, int64_t *e) {
  const tk_ix *ix = origin->ix;
  if (ix->kind != TK_IX_ADD || ix->a->kind != TK_IX_MUL || ix->a->a->kind != TK_IX_LOAD) return -1;
  const tk_ix *read = ix->a->a;
  *e = expert_of(read->a, ph);
  const tk_ir_kernel *f = v->m->kernels.items[k->source];
  for (int a = 0; *e >= 0 && a < k->nargs; a++)
    if (k->args[a].tensor == f->args[read->arg].tensor) return a;
  return -1;
}

/* path(inv(e)) ∧ idx(inv(e)) = e for one store, or NULL (with *err) if no witness exists. A
 * gather's store (its row a slot) is witnessed at source row L(row, e), the kept row the
 * dispatch listed at slot `row` (tk_verify_obl_dispatch_listed). */
static Z3_ast covers(tk_obl *o, const tk_ir_kernel *k, const tk_obl_site *a, Z3_ast row, Z3_ast col,
                     Z3_ast elem, tk_status *err) {
  tk_vctx *v = o->v;
  const tk_ir_phase *ph = source_phase(v, k, a->stmt);
  if (!ph) {
    *err = tk_status_make(TK_INVALID_ARGUMENT,
                          "kernel %s (%s): store to %%%s has no source phase (origin)", k->name,
                          tk_verify_obl_target_name(k), k->args[a->arg].name);
    return NULL;
  }
  int64_t e;
  int slot = slot_row(v, k, ph, a->stmt->origin, &e);
  Z3_ast source_row = slot >= 0 ? tk_verify_obl_dispatch_listed(o, slot, row, e) : row;
  if (!source_row) {
    *err = tk_status_make(TK_INVALID_ARGUMENT,
                          "kernel %s (%s): the store to %%%s at a slot of %%%s has no "
                          "`requires dispatch` naming that slot",
                          k->name, tk_verify_obl_target_name(k), k->args[a->arg].name,
                          k->args[slot].name);
    return NULL;
  }
  bind_space(o, ph, source_row, col);
  const tk_ir_var *cv = column_var(ph, a->stmt->origin);
  /* the source's column loop at col: scheduled variables' inverse maps may name it (a row
   * phase run by a workgroup per row: t = j mod WG) */
  if (cv) tk_verify_obl_bind(o, cv, 1, col);
  const tk_ir_var *lc = launch_column(v, k, ph);
  if (lc) tk_verify_obl_bind(o, lc, 1, col);
  for (int i = 0; i < a->path->n && !*err; i++) {
    const tk_ir_stmt *s = a->path->items[i];
    if (s->kind != TK_S_FOR || s->var == ph->vars[0] || (ph->ndims == 2 && s->var == ph->vars[1]))
      continue;
    Z3_ast w = witness(o, s->var, cv, col);
    if (w)
      tk_verify_obl_bind(o, s->var, 1, w);
    else
      *err =
          tk_status_make(TK_INVALID_ARGUMENT,
                         "kernel %s (%s): loop %s around the store to %%%s has no inverse map",
                         k->name, tk_verify_obl_target_name(k), s->var->name, k->args[a->arg].name);
  }
  Z3_ast conds[TK_OBL_MAX_DEPTH + 1];
  int n = 0;
  for (int i = 0; i < a->path->n && !*err; i++) {
    const tk_ir_stmt *s = a->path->items[i];
    if (s->kind == TK_S_FOR) { /* right to left: verify_internal.h, term order */
      Z3_ast extent = tk_verify_obl_ix(o, s->extent, 1);
      Z3_ast var = tk_verify_obl_var(o, s->var, 1);
      conds[n++] = tk_verify_z_in(v, tk_verify_z_int(v, 0), var, extent);
    } else {
      Z3_ast rhs = tk_verify_obl_ix(o, s->rhs, 1);
      conds[n++] = tk_verify_z_cmp(v, s->cmp, tk_verify_obl_ix(o, s->lhs, 1), rhs);
    }
  }
  Z3_ast idx = *err ? NULL : tk_verify_obl_ix(o, a->ix, 1);
  conds[n++] = idx ? Z3_mk_eq(v->z, idx, elem) : NULL;
  char label[64];
  snprintf(label, sizeof label, "index written at inv(e) by store %d", o->nshows);
  tk_verify_obl_show(o, label, idx);
  for (int i = 0; i < a->path->n; i++)
    if (a->path->items[i]->kind == TK_S_FOR) tk_verify_obl_unbind(o, a->path->items[i]->var, 1);
  if (cv) tk_verify_obl_unbind(o, cv, 1);
  if (lc) tk_verify_obl_unbind(o, lc, 1);
  unbind_space(o, ph);
  return *err ? NULL : tk_verify_z_and(v, n, conds);
}

/* Coverage is proved on column ranges apart: the column blocks of a CPU GEMM kernel (SPLIT j
 * by TC into jt, then jt by G into the block — or by Q into jh and jh by G/Q, when the row tail
 * takes Q panels: blocks of G*TC columns either way) and its peeled tail (a TAIL step). In one
 * range the block and the store that covers it are fixed, which spares the solver the case
 * split it otherwise gave up on (dense, x86-64-v3: 2e7 rlimit units for one range, under 2e6
 * per block). Any cuts are sound: the ranges make up [0, cols). Returns the number of cuts,
 * sorted, in (0, cols). */
enum { TK_COVERAGE_MAX_CUTS = 16 };

/* The SPLIT step of variable v, or NULL. */
static const tk_ir_sched_step *split_of(const tk_ir_kernel *k, const tk_ir_var *v) {
  for (int i = 0; i < k->nsteps; i++)
    if (k->steps[i].kind == TK_SCHED_SPLIT && k->steps[i].a == v) return &k->steps[i];
  return NULL;
}

/* The product of the factors along the first chain of two or more splits, each splitting the
 * previous one's outer variable (the column blocks' width), or 0. */
static int64_t block_width(const tk_ir_kernel *k) {
  for (int i = 0; i < k->nsteps; i++) {
    const tk_ir_sched_step *tile = &k->steps[i];
    if (tile->kind != TK_SCHED_SPLIT) continue;
    int64_t width = tile->factor;
    int links = 0;
    for (const tk_ir_sched_step *s = split_of(k, tile->out); s && links < k->nsteps;
         s = split_of(k, s->out), links++)
      width *= s->factor;
    if (links) return width;
  }
  return 0;
}

static int column_cuts(const tk_ir_kernel *k, int64_t cols, int64_t *cuts) {
  int n = 0;
  int64_t width = block_width(k);
  if (width > 0 && cols / width < TK_COVERAGE_MAX_CUTS)
    for (int64_t at = width; at < cols; at += width) cuts[n++] = at;
  for (int i = 0; i < k->nsteps; i++) {
    const tk_ir_sched_step *s = &k->steps[i];
    int64_t at = cols - s->factor;
    if (s->kind != TK_SCHED_TAIL || s->factor <= 0 || at <= 0 || n == TK_COVERAGE_MAX_CUTS)
      continue;
    int p = n;
    while (p > 0 && cuts[p - 1] > at) p--;
    if (p > 0 && cuts[p - 1] == at) continue;
    memmove(cuts + p + 1, cuts + p, (size_t)(n - p) * sizeof *cuts);
    cuts[p] = at;
    n++;
  }
  return n;
}

/* The first row of a CPU GEMM kernel's row tail, Bf in its guard `Bf < rows` (rows: what the
 * contract says it writes), or NULL. Coverage is proved for rows below Bf (the whole row
 * tiles) and from Bf on (the row tail) apart: in one query, the case split over 6-row tiles
 * took Z3 from 23 thousand to 1.8 million rlimit units by random seed alone, and over the
 * 5 million limit after some histories of the verifier's context; each half took at most 0.3
 * million (Tiny, x86-64-v3). Any cut is sound: every row is below it or not. */
static const tk_ix *row_cut(const tk_ir_kernel *k, const tk_ix *rows) {
  for (int i = 0; i < k->nsteps; i++) {
    const tk_ir_sched_step *s = &k->steps[i];
    if (s->kind == TK_SCHED_GUARD && s->lhs && s->rhs && tk_ir_ix_equal(s->rhs, rows) &&
        !tk_ir_ix_uses_var(s->lhs, NULL) && !tk_ir_ix_equal(s->lhs, rows))
      return s->lhs;
  }
  return NULL;
}

/* The rows of one coverage query: row < rows, and with a cut, row < cut (below = true) or
 * row >= cut. */
typedef struct row_range {
  const tk_ix *rows, *cut;
  bool below;
} row_range;

static void row_range_text(const row_range *r, char *buf, size_t n) {
  size_t at = tk_ir_ix_format(r->rows, buf, n);
  if (!r->cut || at + 8 >= n) return;
  at += (size_t)snprintf(buf + at, n - at, " and %s ", r->below ? "row <" : "row >=");
  if (at < n) tk_ir_ix_format(r->cut, buf + at, n - at);
}

static tk_status coverage_range(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_sites *l,
                                const tk_ir_contract *c, const row_range *rr, int64_t col_lo,
                                int64_t col_hi) {
  const tk_ir_arg *arg = &k->args[c->a];
  char rtext[512], ctext[96];
  row_range_text(rr, rtext, sizeof rtext);
  if (col_lo == 0)
    snprintf(ctext, sizeof ctext, "col < %lld", (long long)col_hi);
  else
    snprintf(ctext, sizeof ctext, "%lld <= col < %lld", (long long)col_lo, (long long)col_hi);
  tk_verify_obl_begin(
      v, TK_OBL_RACE, k->name, tk_verify_obl_target_name(k),
      "coverage: every element (row, col) of %%%s with row < %s and %s is written, by a store at the "
      "point inv(row, col) of the schedule, for every B in [1, %lld]",
      arg->name, rtext, ctext, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast row = tk_verify_obl_fresh(o, "row", v->int_sort, true),
         col = tk_verify_obl_fresh(o, "col", v->int_sort, true);
  Z3_ast nrows = tk_verify_obl_ix(o, rr->rows, 0); /* right to left: verify_internal.h */
  tk_verify_obl_hyp(o, tk_verify_z_in(v, tk_verify_z_int(v, 0), row, nrows));
  if (rr->cut) {
    Z3_ast cut = tk_verify_obl_ix(o, rr->cut, 0);
    tk_verify_obl_hyp(o, rr->below ? tk_verify_z_cmp(v, TK_CMP_LT, row, cut)
                                   : tk_verify_z_cmp(v, TK_CMP_GE, row, cut));
  }
  Z3_ast hi = tk_verify_z_int(v, col_hi);
  tk_verify_obl_hyp(o, tk_verify_z_in(v, tk_verify_z_int(v, col_lo), col, hi));
  Z3_ast elem = tk_verify_z_add2(v, tk_verify_z_mul_c(v, row, arg->cols), col);
  tk_verify_obl_show(o, "element", elem);
  Z3_ast *ors = tk_calloc((size_t)(l->n ? l->n : 1), sizeof *ors);
  if (!ors) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
  int n = 0;
  tk_status err = TK_STATUS_OK;
  for (int i = 0; i < l->n && !err; i++)
    if (l->items[i].kind == TK_SITE_STORE && l->items[i].arg == c->a)
      ors[n++] = covers(o, k, &l->items[i], row, col, elem, &err);
  if (!err) tk_verify_obl_goal(o, tk_verify_z_or(v, n, ors));
  o->whole_first = true; /* below a push its case split is far harder (solve.c, round_tries) */
  free(ors);
  return err ? err : tk_verify_obl_prove(v);
}

static tk_status coverage(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_sites *l,
                          const tk_ir_contract *c) {
  int64_t cols = k->args[c->a].cols, cuts[TK_COVERAGE_MAX_CUTS + 1];
  int n = column_cuts(k, cols, cuts);
  cuts[n] = cols;
  const tk_ix *rows = c->pred == TK_PRED_WRITES_ALL ? k->args[c->a].rows : c->ix;
  const tk_ix *cut = row_cut(k, rows);
  row_range halves[2] = {{rows, cut, true}, {rows, cut, false}};
  int nhalves = cut ? 2 : 1;
  int64_t lo = 0;
  for (int i = 0; i <= n; lo = cuts[i++])
    for (int h = 0; h < nhalves; h++)
      TK_RETURN_IF_ERROR(coverage_range(v, k, l, c, &halves[h], lo, cuts[i]));
  return TK_STATUS_OK;
}

tk_status tk_verify_obl_coverage(tk_vctx *v, const tk_ir_kernel *k) {
  if (tk_verify_obl_dispatch_kernel(k)) return TK_STATUS_OK; /* the dispatch class's */
  tk_obl_sites l;
  TK_RETURN_IF_ERROR(tk_verify_obl_collect(v, k, &l));
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < k->contracts.n; i++) {
    const tk_ir_contract *c = &k->contracts.items[i];
    if ((c->pred == TK_PRED_WRITES_ALL || c->pred == TK_PRED_WRITES_ROWS_LT) && c->a >= 0 &&
        c->a < k->nargs)
      s = coverage(v, k, &l, c);
  }
  tk_verify_obl_sites_free(&l);
  return s;
}
