/* verify/obl_barrier.c — the obligations of workgroup-shared locals and barriers (GPU kernels;
 * docs/proofs.md "Barriers and shared locals"), in class race unless said otherwise:
 *
 * 1. uniform barriers: two threads of one workgroup at the same iterations of the loops inside
 *    the thread loop agree on every guard and loop extent around a barrier, so every thread
 *    reaches the same barriers in the same order (none waits for a barrier others skip);
 * 2. intervals: a thread's *interval* at a statement is the number of barriers it has passed
 *    (a closed form: tk_ir_verify keeps barriers out of IFs inside loops and gives loops around
 *    them constant extents, so the count of a loop iteration is a constant). For every store to
 *    a shared local and every other access to it, two different threads of one workgroup in the
 *    same interval never touch the same element — a write and another thread's read or write of
 *    one element are always separated by a barrier. Pairs whose intervals are two different
 *    constants (no loop around them holds a barrier) are separated without a query. In global
 *    memory (tk_verify_obl_barrier_separated, for class race) the same holds for the threads of
 *    one workgroup, and threads of different workgroups never touch one element at all;
 * 3. class bounds: the kernel's shared locals fit TK_GPU_SHARED_BYTES_MAX (the accesses
 *    themselves are in bounds of their locals by the bounds class, like private locals).
 */
#include <stdio.h>

#include "tk/launch.h"
#include "verify/verify_internal.h"

static bool holds_shared(const tk_ir_kernel *k) {
  for (int i = 0; i < k->nlocals; i++)
    if (k->locals[i].shared) return true;
  return false;
}

/* The @thread_x loop of a GPU kernel (the workgroup loop's body), or NULL. */
static const tk_ir_stmt *thread_loop(const tk_ir_kernel *k) {
  const tk_ir_stmt *wg = k->body;
  if (k->target != TK_TARGET_GPU || !wg || wg->kind != TK_S_FOR) return NULL;
  const tk_ir_stmt *t = wg->body;
  return t && t->kind == TK_S_FOR && t->binding == TK_BIND_THREAD_X ? t : NULL;
}

/* The barriers one execution of s passes, in copy `copy` (s holds no barrier under an IF
 * inside a loop: tk_ir_verify). */
static Z3_ast passed_in(tk_obl *o, const tk_ir_stmt *s, int copy) {
  tk_vctx *v = o->v;
  if (s->kind == TK_S_IF && tk_ir_stmt_barriers(s->body) > 0) {
    Z3_ast rhs = tk_verify_obl_ix(o, s->rhs, copy); /* right to left: verify_internal.h */
    Z3_ast guard = tk_verify_z_cmp(v, s->cmp, tk_verify_obl_ix(o, s->lhs, copy), rhs);
    Z3_ast taken = passed_in(o, s->body, copy);
    return Z3_mk_ite(v->z, guard, taken, tk_verify_z_int(v, 0));
  }
  if (s->kind == TK_S_BLOCK) {
    Z3_ast sum = tk_verify_z_int(v, 0);
    for (int i = 0; i < s->n; i++) sum = tk_verify_z_add2(v, sum, passed_in(o, s->stmts[i], copy));
    return sum;
  }
  return tk_verify_z_int(v, tk_ir_stmt_barriers(s));
}

/* The interval of a thread (copy `copy`) at statement target inside s: the barriers it passed
 * in s before reaching target. */
static Z3_ast interval_in(tk_obl *o, const tk_ir_stmt *s, const tk_ir_stmt *target, int copy) {
  tk_vctx *v = o->v;
  if (s == target) return tk_verify_z_int(v, 0);
  if (s->kind == TK_S_FOR) {
    Z3_ast before =
        tk_verify_z_mul_c(v, tk_verify_obl_var(o, s->var, copy), tk_ir_stmt_barriers(s->body));
    return tk_verify_z_add2(v, before, interval_in(o, s->body, target, copy));
  }
  if (s->kind == TK_S_IF) return interval_in(o, s->body, target, copy);
  Z3_ast sum = tk_verify_z_int(v, 0);
  for (int i = 0; i < s->n; i++) {
    if (tk_ir_stmt_contains(s->stmts[i], target))
      return tk_verify_z_add2(v, sum, interval_in(o, s->stmts[i], target, copy));
    sum = tk_verify_z_add2(v, sum, passed_in(o, s->stmts[i], copy));
  }
  return sum;
}

/* Hypothesis: loop variable var is the same in copies 0 and 1. */
static void same_in_both(tk_obl *o, const tk_ir_var *var) {
  Z3_ast second = tk_verify_obl_var(o, var, 1); /* first: verify_internal.h, term order */
  tk_verify_obl_hyp(o, Z3_mk_eq(o->v->z, tk_verify_obl_var(o, var, 0), second));
}

/* The position of the thread loop in a path (the items after it are inside the thread). */
static int thread_depth(const tk_obl_path *p, const tk_ir_stmt *threads) {
  for (int i = 0; i < p->n; i++)
    if (p->items[i] == threads) return i;
  return -1;
}

/* ---- 1. uniform barriers ---- */

/* Per barrier: every loop and guard around it inside the thread loop gives two threads of one
 * workgroup, at the same iterations of the loops enclosing it there, the same answer. */
static tk_status uniform(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *b,
                         const tk_ir_stmt *threads) {
  const tk_obl_path *p = b->path;
  int d = thread_depth(p, threads);
  if (d < 1)
    return tk_status_make(TK_INTERNAL, "kernel %s: a barrier outside the thread loop", k->name);
  if (d + 1 == p->n) return TK_STATUS_OK; /* straight in the thread loop: every thread's */
  char where[256];
  tk_verify_obl_path_text(p, where, sizeof where);
  tk_verify_obl_begin(
      v, TK_OBL_RACE, k->name, tk_verify_obl_target_name(k),
      "uniform barrier (in %s): two threads of one workgroup agree on every loop extent and guard "
      "around it, so all reach it together, for every B in [1, %lld]",
      where, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast t0 = tk_verify_obl_var(o, threads->var, 0);
  Z3_ast t1 = tk_verify_obl_var(o, threads->var, 1);
  tk_verify_obl_show(o, "thread", t0);
  tk_verify_obl_show(o, "other thread", t1);
  for (int i = 0; i < d; i++) same_in_both(o, p->items[i]->var); /* one workgroup */
  tk_verify_obl_path_hyps(o, p, 0); /* the first thread reaches the barrier */
  for (int i = d + 1; i < p->n; i++) {
    const tk_ir_stmt *s = p->items[i];
    Z3_ast first = tk_verify_obl_items_cond(o, p->items, i, 0);
    Z3_ast both = tk_verify_z_and2(v, first, tk_verify_obl_items_cond(o, p->items, i, 1));
    Z3_ast same;
    if (s->kind == TK_S_FOR) {
      Z3_ast e1 = tk_verify_obl_ix(o, s->extent, 1);
      same = Z3_mk_eq(v->z, tk_verify_obl_ix(o, s->extent, 0), e1);
    } else {
      Z3_ast r1 = tk_verify_obl_ix(o, s->rhs, 1);
      Z3_ast g1 = tk_verify_z_cmp(v, s->cmp, tk_verify_obl_ix(o, s->lhs, 1), r1);
      Z3_ast r0 = tk_verify_obl_ix(o, s->rhs, 0);
      same = Z3_mk_eq(v->z, tk_verify_z_cmp(v, s->cmp, tk_verify_obl_ix(o, s->lhs, 0), r0), g1);
    }
    char what[512];
    if (s->kind == TK_S_FOR) {
      snprintf(what, sizeof what, "loop %s", s->var->name);
    } else {
      char lhs[240], rhs[240];
      tk_ir_ix_format(s->lhs, lhs, sizeof lhs);
      tk_ir_ix_format(s->rhs, rhs, sizeof rhs);
      snprintf(what, sizeof what, "guard %s %s %s", lhs, tk_ir_cmp_text(s->cmp), rhs);
    }
    tk_verify_obl_part(o, Z3_mk_implies(v->z, both, same),
                       "the %s around the barrier is uniform (the same for every thread)", what);
    if (s->kind == TK_S_FOR) same_in_both(o, s->var); /* both at one iteration inside it */
  }
  return tk_verify_obl_prove(v);
}

/* ---- 2. intervals ---- */

static bool shared_access(const tk_ir_kernel *k, const tk_obl_site *s) {
  return (s->kind == TK_SITE_LLOAD || s->kind == TK_SITE_LSTORE) && k->locals[s->local].shared;
}

/* A store (copy 0) and another access (copy 1) of one shared local: different threads of one
 * workgroup in one interval touch different elements. Of global memory (`global`): threads of
 * one workgroup in one interval, or of different workgroups at all, touch different
 * elements. */
static tk_status separated(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *a,
                           const tk_obl_site *b, const tk_ir_stmt *threads, bool global) {
  char wa[160], wb[160], ia[512], ib[512];
  tk_verify_obl_site_what(k, a, wa, sizeof wa);
  tk_verify_obl_site_what(k, b, wb, sizeof wb);
  tk_ir_ix_format(a->ix, ia, sizeof ia);
  tk_ir_ix_format(b->ix, ib, sizeof ib);
  tk_verify_obl_begin(v, TK_OBL_RACE, k->name, tk_verify_obl_target_name(k),
                      global
                          ? "%s at %s and %s at %s: two threads of one workgroup between the same "
                            "barriers, or of two workgroups, never touch the same element, for "
                            "every B in [1, %lld]"
                          : "shared %s at %s and %s at %s: two threads of one workgroup between "
                            "the same barriers never touch the same element, for every B in "
                            "[1, %lld]",
                      wa, ia, wb, ib, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  int d = thread_depth(a->path, threads);
  Z3_ast same_wg[TK_OBL_MAX_DEPTH];
  for (int i = 0; i < d; i++) {
    const tk_ir_var *outer = a->path->items[i]->var;
    Z3_ast second = tk_verify_obl_var(o, outer, 1); /* first: verify_internal.h, term order */
    same_wg[i] = Z3_mk_eq(v->z, tk_verify_obl_var(o, outer, 0), second);
    if (!global) tk_verify_obl_hyp(o, same_wg[i]); /* one workgroup */
  }
  Z3_ast one_wg = tk_verify_z_and(v, d, same_wg);
  tk_verify_obl_path_hyps(o, a->path, 0);
  tk_verify_obl_path_hyps(o, b->path, 1);
  Z3_ast t0 = tk_verify_obl_var(o, threads->var, 0);
  Z3_ast t1 = tk_verify_obl_var(o, threads->var, 1);
  Z3_ast one_thread = tk_verify_z_and2(v, one_wg, Z3_mk_eq(v->z, t0, t1));
  tk_verify_obl_hyp(o, Z3_mk_not(v->z, one_thread)); /* one thread's accesses are in order */
  Z3_ast n1 = interval_in(o, threads->body, b->stmt, 1);
  Z3_ast n0 = interval_in(o, threads->body, a->stmt, 0);
  Z3_ast i1 = tk_verify_obl_ix(o, b->ix, 1);
  Z3_ast i0 = tk_verify_obl_ix(o, a->ix, 0);
  tk_verify_obl_show(o, "thread", t0);
  tk_verify_obl_show(o, "other thread", t1);
  tk_verify_obl_show(o, "interval", n0);
  tk_verify_obl_show(o, "other interval", n1);
  tk_verify_obl_show(o, "index", i0);
  tk_verify_obl_show(o, "other index", i1);
  Z3_ast together = Z3_mk_eq(v->z, n0, n1); /* unordered by the barriers */
  if (global) together = tk_verify_z_or2(v, Z3_mk_not(v->z, one_wg), together);
  Z3_ast clash = tk_verify_z_and2(v, together, Z3_mk_eq(v->z, i0, i1));
  tk_verify_obl_goal(o, Z3_mk_not(v->z, clash));
  return tk_verify_obl_prove(v);
}

/* Whether every execution of s passes the same number of barriers: none of them is under an
 * IF (loops around barriers have constant extents: tk_ir_verify). */
static bool fixed_count(const tk_ir_stmt *s) {
  if (!tk_ir_stmt_barriers(s)) return true;
  if (s->kind == TK_S_IF) return false;
  if (s->kind == TK_S_FOR) return s->extent->kind == TK_IX_CONST && fixed_count(s->body);
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++)
    if (!fixed_count(s->stmts[i])) return false;
  return true;
}

/* The interval at target inside s when it is one constant for every point, else -1: no loop
 * around target holds a barrier, and every statement before it passes a fixed number of them
 * (a GEMM's K-slice loop before its epilogue). */
static int64_t fixed_interval(const tk_ir_stmt *s, const tk_ir_stmt *target) {
  if (s == target) return 0;
  if (s->kind == TK_S_FOR)
    return tk_ir_stmt_barriers(s->body) ? -1 : fixed_interval(s->body, target);
  if (s->kind == TK_S_IF) return fixed_interval(s->body, target);
  int64_t before = 0;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++) {
    const tk_ir_stmt *item = s->stmts[i];
    if (tk_ir_stmt_contains(item, target)) {
      int64_t inside = fixed_interval(item, target);
      return inside < 0 ? -1 : before + inside;
    }
    if (!fixed_count(item)) return -1;
    before += tk_ir_stmt_barriers(item);
  }
  return -1;
}

/* Two accesses a barrier always separates: their intervals are different constants (a row
 * reduction's tree, one step per interval). No query is needed for them. */
static bool ordered(const tk_ir_stmt *threads, const tk_obl_site *a, const tk_obl_site *b) {
  int64_t ia = fixed_interval(threads->body, a->stmt), ib = fixed_interval(threads->body, b->stmt);
  return ia >= 0 && ib >= 0 && ia != ib;
}

static tk_status intervals(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_sites *l,
                           const tk_ir_stmt *threads) {
  for (int i = 0; i < l->n; i++) {
    const tk_obl_site *a = &l->items[i];
    if (!shared_access(k, a) || a->kind != TK_SITE_LSTORE) continue;
    for (int j = 0; j < l->n; j++) {
      const tk_obl_site *b = &l->items[j];
      if (!shared_access(k, b) || b->local != a->local || (b->kind == TK_SITE_LSTORE && j < i) ||
          ordered(threads, a, b))
        continue; /* two stores: one query per pair */
      TK_RETURN_IF_ERROR(separated(v, k, a, b, threads, false));
    }
  }
  return TK_STATUS_OK;
}

tk_status tk_verify_obl_barriers(tk_vctx *v, const tk_ir_kernel *k) {
  const tk_ir_stmt *threads = thread_loop(k);
  if (!threads || (!holds_shared(k) && tk_ir_stmt_barriers(threads->body) == 0))
    return TK_STATUS_OK;
  tk_obl_sites l;
  TK_RETURN_IF_ERROR(tk_verify_obl_collect(v, k, &l));
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < l.n; i++)
    if (l.items[i].kind == TK_SITE_BARRIER) s = uniform(v, k, &l.items[i], threads);
  if (!s) s = intervals(v, k, &l, threads);
  tk_verify_obl_sites_free(&l);
  return s;
}

bool tk_verify_obl_has_barriers(const tk_ir_kernel *k) {
  const tk_ir_stmt *threads = thread_loop(k);
  return threads && tk_ir_stmt_barriers(threads->body) > 0;
}

tk_status tk_verify_obl_barrier_separated(tk_vctx *v, const tk_ir_kernel *k,
                                          const tk_obl_site *store, const tk_obl_site *access) {
  return separated(v, k, store, access, thread_loop(k), true);
}

/* ---- 3. the shared bytes ---- */

tk_status tk_verify_obl_shared_size(tk_vctx *v, const tk_ir_kernel *k) {
  if (!holds_shared(k)) return TK_STATUS_OK;
  int64_t bytes = tk_ir_kernel_shared_bytes(k);
  tk_verify_obl_begin(v, TK_OBL_BOUNDS, k->name, tk_verify_obl_target_name(k),
                      "shared locals: %lld bytes fit a workgroup's %d bytes of LDS / shared memory",
                      (long long)bytes, TK_GPU_SHARED_BYTES_MAX);
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast have = tk_verify_z_int(v, bytes);
  tk_verify_obl_show(o, "shared bytes", have);
  tk_verify_obl_goal(o, Z3_mk_le(v->z, have, tk_verify_z_int(v, TK_GPU_SHARED_BYTES_MAX)));
  return tk_verify_obl_prove(v);
}
