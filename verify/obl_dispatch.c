/* verify/obl_dispatch.c — class `dispatch`: sparse top-K dispatch's counting sort, in each
 * scheduled kernel with an `ensures dispatch(slot, keep = keep, count = count, n = E)` contract
 * (ir.h TK_PRED_DISPATCH); and the facts it proves, for the kernels that require them.
 *
 * The form proved (found in the IR, never assumed): the launch loop runs one point e per expert
 * (extent E), or (CPU) one point w whose body is a serial loop over the experts e in [0, E)
 * (so w = 0 and the indices read w * E + e); the expert's body is straight-line code, one
 * serial loop over the rows r in [0, B) whose body is straight-line and stores slot, then
 * straight-line code whose first store is to the count (the scalar i32 local its value reads is
 * the counter m). Anything else is refused (TK_PROOF_FAILED naming the kernel). Every statement
 * is executed symbolically from the IR (verify/topk_exec.c, stores to arguments included), so
 * the proof is about the emitted code; the layout it proves is slot[r * E + e] and count[e].
 *
 * The row loop is proved by an inductive invariant over SMT arrays (Skolemised: quantified
 * forms ran out of rlimit in z3 and cvc5, docs/proofs.md "dispatch"), with a ghost array L —
 * the list a gather will read, which the loop would write as L[m] = r when the counter
 * advances — and one fresh point per
 * clause (c a row, i a list position: proving the step at an arbitrary point proves it at
 * every point, so no quantifier enters a query):
 *   I(r): 0 <= m <= r
 *         ∧ (0 <= c < r ∧ keep[c] = 1 ⇒ 0 <= slot[c] < m ∧ L[slot[c]] = c)
 *         ∧ (0 <= i < m ⇒ 0 <= L[i] < r ∧ keep[L[i]] = 1 ∧ slot[L[i]] = i)
 * Obligations: entry (the code before the loop leaves m = 0), step (I(r) ∧ r < B ⇒ I(r + 1)
 * after one execution of the body, with L' = L[m := r] exactly when m' = m + 1), and exit
 * (I(B) and the code after the loop give count[e] = m with P1: 0 <= count[e] <= B, P2: every
 * kept row c < B has slot[c] < count[e] and L[slot[c]] = c, P3: every i < count[e] has a kept
 * row L[i] < B with slot[L[i]] = i) — so slot maps the kept rows one to one onto
 * [0, count[e]) (L is its inverse) in row order. keep is 0 or 1 at every point read (what the
 * topk class proves of the router's mask, docs/proofs.md "dispatch").
 */
#include <stdio.h>
#include <string.h>

#include "verify/topk_exec.h"
#include "tk/alloc.h"

typedef struct dispatch_form {
  const tk_ir_kernel *k;
  int slot, keep, count, m;
  int64_t E;
  const tk_ir_stmt *launch, *rows;
  const tk_ir_stmt *expert;    /* the loop over the experts: the launch, or the serial loop in it */
  const tk_ir_stmt *body;      /* the expert's code: the expert loop's body, or its one thread's */
  const tk_ir_stmt *single[1]; /* body, when it is not a block */
  const tk_ir_stmt *const *stmts; /* the launch body's statements: rows at index at */
  int nstmts, at;
} dispatch_form;

#define form_error(k, ...) \
  tk_verify_obl_form_error((k), "class dispatch: the counting sort", __VA_ARGS__)

/* ---- finding the form ---- */

static bool stores_arg(const tk_ir_stmt *s, int arg) {
  if (!s) return false;
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++)
        if (stores_arg(s->stmts[i], arg)) return true;
      return false;
    case TK_S_FOR:
    case TK_S_IF: return stores_arg(s->body, arg);
    case TK_S_STORE: return arg < 0 || s->arg == arg;
    case TK_S_LOCAL_STORE:
    case TK_S_BARRIER: return false;
  }
  return false;
}

/* The first STORE of s in program order, or NULL. */
static const tk_ir_stmt *first_store(const tk_ir_stmt *s) {
  if (!s) return NULL;
  if (s->kind == TK_S_STORE) return s;
  if (s->kind == TK_S_FOR || s->kind == TK_S_IF) return first_store(s->body);
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++) {
    const tk_ir_stmt *f = first_store(s->stmts[i]);
    if (f) return f;
  }
  return NULL;
}

/* A statement of s itself (s, or one of its block's) that stores to `arg`, or NULL. */
static const tk_ir_stmt *direct_store(const tk_ir_stmt *s, int arg) {
  if (s->kind == TK_S_STORE) return s->arg == arg ? s : NULL;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++)
    if (s->stmts[i]->kind == TK_S_STORE && s->stmts[i]->arg == arg) return s->stmts[i];
  return NULL;
}

static tk_status find_rows(dispatch_form *f) {
  const tk_ir_stmt *body = f->body;
  f->single[0] = body;
  f->stmts = body->kind == TK_S_BLOCK ? body->stmts : f->single;
  f->nstmts = body->kind == TK_S_BLOCK ? body->n : 1;
  f->at = -1;
  for (int i = 0; i < f->nstmts; i++) {
    const tk_ir_stmt *s = f->stmts[i];
    if (s->kind != TK_S_FOR) {
      if (tk_verify_sym_has_loop(s)) return form_error(f->k, "a loop under a guard");
      continue;
    }
    if (f->at >= 0) return form_error(f->k, "a second loop (%s) beside the row loop", s->var->name);
    f->at = i;
  }
  if (f->at < 0) return form_error(f->k, "no row loop in the expert's body");
  f->rows = f->stmts[f->at];
  const tk_ix *B = f->rows->extent;
  if (f->rows->loop != TK_LOOP_SERIAL || B->kind != TK_IX_SYM || B->sym != TK_SYM_B)
    return form_error(f->k, "the row loop %s is not `serial` over [0, B)", f->rows->var->name);
  if (tk_verify_sym_has_loop(f->rows->body))
    return form_error(f->k, "a loop inside the row loop %s", f->rows->var->name);
  if (!direct_store(f->rows->body, f->slot))
    return form_error(f->k, "the row loop does not store %%%s at every row (unguarded)",
                      f->k->args[f->slot].name);
  return TK_STATUS_OK;
}

/* The first scalar i32 local v reads (depth-first), or -1. */
static int scalar_read(const tk_ir_kernel *k, const tk_ir_val *v) {
  if (!v) return -1;
  if (v->op == TK_V_LOCAL_LOAD)
    return k->locals[v->local].type == TK_T_I32 && k->locals[v->local].count == 1 ? v->local : -1;
  int arity = tk_ir_vop_arity(v->op), found = -1;
  for (int i = 0; i < arity && found < 0; i++)
    found = scalar_read(k, i == 0 ? v->a : i == 1 ? v->b : v->c);
  return found;
}

/* The count: the first store after the row loop; the counter m: the scalar i32 local its
 * value reads (what it stores is then proved, not assumed). */
static tk_status find_count(dispatch_form *f) {
  const tk_ir_stmt *st = NULL;
  int at = f->at + 1;
  for (; at < f->nstmts && !st; at++) st = first_store(f->stmts[at]);
  if (!st) return form_error(f->k, "no store after the row loop (the count)");
  if (st != f->stmts[at - 1]) return form_error(f->k, "the count is stored under a guard");
  if (st->arg != f->count)
    return form_error(f->k, "the first store after the row loop is to %%%s, not the count %%%s",
                      f->k->args[st->arg].name, f->k->args[f->count].name);
  f->m = scalar_read(f->k, st->value);
  if (f->m < 0)
    return form_error(f->k, "the count %%%s reads no scalar i32 local (the counter)",
                      f->k->args[st->arg].name);
  if (f->count == f->slot || f->count == f->keep)
    return form_error(f->k, "the count is stored to %%%s", f->k->args[f->count].name);
  for (int i = 0; i < f->nstmts; i++)
    for (int a = 0; a < f->k->nargs; a++)
      if (a != f->slot && a != f->count && stores_arg(f->stmts[i], a))
        return form_error(f->k, "a store to %%%s", f->k->args[a].name);
  return TK_STATUS_OK;
}

/* `for e in 0..E serial`, the experts of a one-point launch. */
static bool is_expert_loop(const tk_ir_stmt *s, int64_t experts) {
  return s->kind == TK_S_FOR && s->loop == TK_LOOP_SERIAL && s->binding == TK_BIND_NONE &&
         s->extent->kind == TK_IX_CONST && s->extent->c == experts;
}

static tk_status find_form(const tk_ir_kernel *k, const tk_ir_contract *c, dispatch_form *f) {
  *f = (dispatch_form){.k = k, .slot = c->a, .keep = c->b, .count = c->c, .E = c->n};
  if (c->a < 0 || c->a >= k->nargs || c->b < 0 || c->b >= k->nargs || c->c < 0 ||
      c->c >= k->nargs || c->n < 1)
    return form_error(k, "the contract names no slot, keep and count arguments");
  if (k->args[f->slot].type != TK_T_I32 || k->args[f->keep].type != TK_T_I32 ||
      k->args[f->count].type != TK_T_I32)
    return form_error(k, "slot, keep and count must be i32");
  f->launch = k->body;
  if (!f->launch || f->launch->kind != TK_S_FOR || f->launch->binding == TK_BIND_NONE ||
      f->launch->extent->kind != TK_IX_CONST)
    return form_error(k, "the launch does not run one point per expert (%lld)", (long long)c->n);
  f->expert = f->launch;
  if (f->launch->extent->c == 1 && c->n > 1 && is_expert_loop(f->launch->body, c->n))
    f->expert = f->launch->body;
  if (f->expert->extent->c != c->n)
    return form_error(k, "the launch does not run one point per expert (%lld)", (long long)c->n);
  const tk_ir_stmt *inner = f->expert->body;
  bool one_thread = inner->kind == TK_S_FOR && inner->binding == TK_BIND_THREAD_X &&
                    inner->extent->kind == TK_IX_CONST && inner->extent->c == 1;
  f->body = one_thread ? inner->body : inner;
  TK_RETURN_IF_ERROR(find_rows(f));
  return find_count(f);
}

/* ---- the obligations ---- */

typedef struct dispatch_terms {
  tk_sym x;
  tk_sym_state st;
  Z3_ast e, r, c, i, B;
  Z3_ast L; /* the ghost list */
} dispatch_terms;

/* A one-point launch around the expert loop: its point w is 0. */
static void launch_point(tk_vctx *v, const dispatch_form *f) {
  if (f->expert == f->launch) return;
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast w = tk_verify_obl_var(o, f->launch->var, 0);
  tk_verify_obl_hyp(o, Z3_mk_eq(v->z, w, tk_verify_z_int(v, 0)));
}

static tk_status terms_begin(tk_vctx *v, const dispatch_form *f, dispatch_terms *t) {
  tk_obl *o = tk_verify_obl_cur(v);
  memset(t, 0, sizeof *t);
  TK_RETURN_IF_ERROR(tk_verify_sym_init(&t->x, o, f->k));
  t->x.args_stored = true;
  TK_RETURN_IF_ERROR(tk_verify_sym_state_init(&t->x, &t->st));
  t->B = o->B;
  t->e = tk_verify_obl_var(o, f->expert->var, 0);
  launch_point(v, f);
  t->r = tk_verify_obl_var(o, f->rows->var, 0);
  t->c = tk_verify_obl_fresh(o, "c", v->int_sort, true);
  t->i = tk_verify_obl_fresh(o, "i", v->int_sort, true);
  Z3_sort list_sort = Z3_mk_array_sort(v->z, v->int_sort, v->int_sort);
  t->L = tk_verify_obl_fresh(o, "L", list_sort, false);
  Z3_ast zero = tk_verify_z_int(v, 0);
  Z3_ast experts = tk_verify_z_int(v, f->E);
  tk_verify_obl_hyp(o, tk_verify_z_in(v, zero, t->e, experts));
  return TK_STATUS_OK;
}

static void terms_end(dispatch_terms *t) {
  tk_verify_sym_state_free(&t->st);
  tk_verify_sym_dispose(&t->x);
}

/* array[row * E + e] (one term per statement: verify_internal.h, term order). */
static Z3_ast at_row(tk_vctx *v, const dispatch_form *f, const dispatch_terms *t, Z3_ast array,
                     Z3_ast row) {
  Z3_ast scaled = tk_verify_z_mul_c(v, row, f->E);
  Z3_ast index = tk_verify_z_add2(v, scaled, t->e);
  return Z3_mk_select(v->z, array, index);
}

static Z3_ast counter(tk_vctx *v, dispatch_terms *t, const dispatch_form *f) {
  Z3_ast m = tk_verify_sym_local(&t->x, &t->st, f->m);
  Z3_ast zero = tk_verify_z_int(v, 0);
  return Z3_mk_select(v->z, m, zero);
}

/* keep is 0 or 1 at row `row` (the topk class's mask). */
static void keep_binary(tk_vctx *v, const dispatch_form *f, dispatch_terms *t, Z3_ast row) {
  Z3_ast keep = tk_verify_sym_arg(&t->x, f->keep);
  Z3_ast k = at_row(v, f, t, keep, row);
  Z3_ast binary = tk_verify_z_within(v, 0, k, 1);
  tk_verify_obl_hyp(tk_verify_obl_cur(v), binary);
}

/* 0 <= c < r ∧ keep[c] = 1 ⇒ 0 <= slot[c] < m ∧ L[slot[c]] = c */
static Z3_ast row_clause(tk_vctx *v, const dispatch_form *f, dispatch_terms *t, Z3_ast r, Z3_ast m,
                         Z3_ast slot, Z3_ast L) {
  Z3_context z = v->z;
  Z3_ast zero = tk_verify_z_int(v, 0), one = tk_verify_z_int(v, 1);
  Z3_ast keep = tk_verify_sym_arg(&t->x, f->keep);
  Z3_ast kc = at_row(v, f, t, keep, t->c);
  Z3_ast kept = Z3_mk_eq(z, kc, one);
  Z3_ast done = tk_verify_z_in(v, zero, t->c, r);
  Z3_ast c_kept = tk_verify_z_and2(v, done, kept);
  Z3_ast sc = at_row(v, f, t, slot, t->c);
  Z3_ast below = tk_verify_z_in(v, zero, sc, m);
  Z3_ast lsc = Z3_mk_select(z, L, sc);
  Z3_ast listed = Z3_mk_eq(z, lsc, t->c);
  Z3_ast placed = tk_verify_z_and2(v, below, listed);
  return Z3_mk_implies(z, c_kept, placed);
}

/* 0 <= i < m ⇒ 0 <= L[i] < r ∧ keep[L[i]] = 1 ∧ slot[L[i]] = i */
static Z3_ast list_clause(tk_vctx *v, const dispatch_form *f, dispatch_terms *t, Z3_ast r, Z3_ast m,
                          Z3_ast slot, Z3_ast L) {
  Z3_context z = v->z;
  Z3_ast zero = tk_verify_z_int(v, 0), one = tk_verify_z_int(v, 1);
  Z3_ast keep = tk_verify_sym_arg(&t->x, f->keep);
  Z3_ast li = Z3_mk_select(z, L, t->i);
  Z3_ast row_ok = tk_verify_z_in(v, zero, li, r);
  Z3_ast kl = at_row(v, f, t, keep, li);
  Z3_ast kept = Z3_mk_eq(z, kl, one);
  Z3_ast sl = at_row(v, f, t, slot, li);
  Z3_ast back = Z3_mk_eq(z, sl, t->i);
  Z3_ast listed = tk_verify_z_and(v, 3, (Z3_ast[]){row_ok, kept, back});
  Z3_ast used = tk_verify_z_in(v, zero, t->i, m);
  return Z3_mk_implies(z, used, listed);
}

/* I at bound `r` (rows done), counter m, arrays slot and L. */
static Z3_ast invariant(tk_vctx *v, const dispatch_form *f, dispatch_terms *t, Z3_ast r, Z3_ast m,
                        Z3_ast slot, Z3_ast L) {
  Z3_context z = v->z;
  Z3_ast zero = tk_verify_z_int(v, 0);
  Z3_ast m_lo = Z3_mk_le(z, zero, m);
  Z3_ast m_hi = Z3_mk_le(z, m, r);
  Z3_ast rows = row_clause(v, f, t, r, m, slot, L);
  Z3_ast list = list_clause(v, f, t, r, m, slot, L);
  return tk_verify_z_and(v, 4, (Z3_ast[]){m_lo, m_hi, rows, list});
}

/* Executes the launch body's statements [from, to) on t's state. */
static tk_status exec_range(dispatch_terms *t, const dispatch_form *f, int from, int to) {
  for (int i = from; i < to; i++)
    TK_RETURN_IF_ERROR(tk_verify_sym_exec(&t->x, &t->st, f->stmts[i]));
  return TK_STATUS_OK;
}

/* The goal of entry: the code before the row loop leaves the counter at 0. */
static tk_status entry_goal(tk_vctx *v, const dispatch_form *f, dispatch_terms *t) {
  TK_RETURN_IF_ERROR(exec_range(t, f, 0, f->at));
  Z3_ast m = counter(v, t, f);
  tk_verify_obl_show(tk_verify_obl_cur(v), "m", m);
  Z3_ast zero = tk_verify_z_int(v, 0);
  tk_verify_obl_goal(tk_verify_obl_cur(v), Z3_mk_eq(v->z, m, zero));
  return TK_STATUS_OK;
}

/* The goal of step: I(r) ∧ r < B, one execution of the body, I(r + 1). */
static tk_status step_goal(tk_vctx *v, const dispatch_form *f, dispatch_terms *t) {
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_context z = v->z;
  Z3_ast m = counter(v, t, f);
  Z3_ast slot = tk_verify_sym_arg(&t->x, f->slot);
  Z3_ast zero = tk_verify_z_int(v, 0);
  tk_verify_obl_hyp(o, tk_verify_z_in(v, zero, t->r, t->B));
  tk_verify_obl_hyp(o, invariant(v, f, t, t->r, m, slot, t->L));
  Z3_ast li = Z3_mk_select(z, t->L, t->i);
  keep_binary(v, f, t, t->r);
  keep_binary(v, f, t, t->c);
  keep_binary(v, f, t, li);
  TK_RETURN_IF_ERROR(tk_verify_sym_exec(&t->x, &t->st, f->rows->body));
  Z3_ast m1 = counter(v, t, f);
  Z3_ast slot1 = tk_verify_sym_arg(&t->x, f->slot);
  Z3_ast one = tk_verify_z_int(v, 1);
  Z3_ast m_plus_1 = tk_verify_z_add2(v, m, one);
  Z3_ast advanced = Z3_mk_eq(z, m1, m_plus_1);
  Z3_ast appended = Z3_mk_store(z, t->L, m, t->r);
  Z3_ast L1 = Z3_mk_ite(z, advanced, appended, t->L);
  Z3_ast r1 = tk_verify_z_add2(v, t->r, one);
  Z3_ast sc = at_row(v, f, t, slot1, t->c);
  tk_verify_obl_show(o, "m", m);
  tk_verify_obl_show(o, "m after", m1);
  tk_verify_obl_show(o, "slot[c]", sc);
  tk_verify_obl_goal(o, invariant(v, f, t, r1, m1, slot1, L1));
  return TK_STATUS_OK;
}

/* The goal of exit: I(B) and the code after the loop give P1–P3 with count[e]. */
static tk_status exit_goal(tk_vctx *v, const dispatch_form *f, dispatch_terms *t) {
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_context z = v->z;
  Z3_ast m = counter(v, t, f);
  Z3_ast slot = tk_verify_sym_arg(&t->x, f->slot);
  tk_verify_obl_hyp(o, invariant(v, f, t, t->B, m, slot, t->L));
  TK_RETURN_IF_ERROR(exec_range(t, f, f->at + 1, f->nstmts));
  Z3_ast counts = tk_verify_sym_arg(&t->x, f->count);
  Z3_ast count = Z3_mk_select(z, counts, t->e);
  Z3_ast slot1 = tk_verify_sym_arg(&t->x, f->slot);
  Z3_ast zero = tk_verify_z_int(v, 0);
  tk_verify_obl_show(o, "count[e]", count);
  tk_verify_obl_show(o, "m", m);
  Z3_ast lo = Z3_mk_le(z, zero, count);
  Z3_ast hi = Z3_mk_le(z, count, t->B);
  tk_verify_obl_part(o, tk_verify_z_and2(v, lo, hi), "0 <= %%%s[e] <= B",
                     f->k->args[f->count].name);
  tk_verify_obl_part(o, invariant(v, f, t, t->B, count, slot1, t->L),
                     "%%%s is a counting sort of the kept rows onto [0, %%%s[e])",
                     f->k->args[f->slot].name, f->k->args[f->count].name);
  return TK_STATUS_OK;
}

typedef tk_status (*goal_fn)(tk_vctx *v, const dispatch_form *f, dispatch_terms *t);

/* One obligation (begun by the caller): its terms, its goal, the proof. */
static tk_status prove(tk_vctx *v, const dispatch_form *f, goal_fn goal) {
  dispatch_terms t;
  tk_status s = terms_begin(v, f, &t);
  if (!s) s = goal(v, f, &t);
  terms_end(&t);
  return s ? s : tk_verify_obl_prove(v);
}

/* The goal of separation: every store of the kernel is at slot[row * E + e] or count[e]. */
typedef struct separation {
  const dispatch_form *f;
  Z3_ast *parts;
  int n, cap;
  bool full; /* a store found with no room left: refused, never skipped */
} separation;

static tk_status separated_store(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *site,
                                 void *user) {
  separation *sp = user;
  const dispatch_form *f = sp->f;
  if (site->kind != TK_SITE_STORE) return TK_STATUS_OK;
  if (sp->n == sp->cap) {
    sp->full = true;
    return TK_STATUS_OK;
  }
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast e = tk_verify_obl_var(o, f->expert->var, 0);
  Z3_ast want = e;
  if (site->arg == f->slot) {
    Z3_ast row = tk_verify_obl_var(o, f->rows->var, 0);
    want = tk_verify_z_add2(v, tk_verify_z_mul_c(v, row, f->E), e);
  }
  Z3_ast at = tk_verify_obl_ix(o, site->ix, 0);
  tk_verify_obl_show(o, k->args[site->arg].name, at);
  Z3_ast cond = tk_verify_obl_path_cond(o, k, site->path, 0);
  sp->parts[sp->n++] = Z3_mk_implies(v->z, cond, Z3_mk_eq(v->z, at, want));
  return TK_STATUS_OK;
}

/* Separation and coverage, in place of the race class's: expert e stores only slot[row * E + e] (in the
 * row loop, unguarded: every row < B, so slot's rows < B are written) and count[e] (unguarded,
 * after the loop): distinct experts never touch one element, and the kernel's writes_rows_lt
 * contracts hold. The form (find_form) gives the unguarded stores; this proves their indices. */
static tk_status separation_obligation(tk_vctx *v, const dispatch_form *f) {
  tk_verify_obl_begin(v, TK_OBL_DISPATCH, f->k->name, tk_verify_obl_target_name(f->k),
                      "dispatch: expert %s stores only %%%s[%s * %lld + %s] and %%%s[%s], so "
                      "experts never store one element and every row < B of %%%s is written, "
                      "for every B in [1, %lld]",
                      f->expert->var->name, f->k->args[f->slot].name, f->rows->var->name,
                      (long long)f->E, f->expert->var->name, f->k->args[f->count].name,
                      f->expert->var->name, f->k->args[f->slot].name, (long long)v->bmax);
  launch_point(v, f);
  Z3_ast parts[16];
  separation sp = {f, parts, 0, 16, false};
  TK_RETURN_IF_ERROR(tk_verify_obl_walk(v, f->k, separated_store, &sp));
  if (sp.full) return form_error(f->k, "more than %d stores", sp.cap);
  tk_verify_obl_goal(tk_verify_obl_cur(v), tk_verify_z_and(v, sp.n, parts));
  return tk_verify_obl_prove(v);
}

static tk_status obligations(tk_vctx *v, const dispatch_form *f) {
  const char *k = f->k->name, *target = tk_verify_obl_target_name(f->k);
  long long bmax = (long long)v->bmax;
  tk_verify_obl_begin(v, TK_OBL_DISPATCH, k, target,
                      "dispatch: before the row loop %s the counter %s of expert %s is 0, for "
                      "every B in [1, %lld]",
                      f->rows->var->name, f->k->locals[f->m].name, f->expert->var->name, bmax);
  TK_RETURN_IF_ERROR(prove(v, f, entry_goal));
  tk_verify_obl_begin(
      v, TK_OBL_DISPATCH, k, target,
      "dispatch: one step of the row loop %s keeps the counting-sort invariant of %%%s (the "
      "counter is at most the rows done; every kept row done has a slot below the counter, "
      "listed there; every slot below the counter lists a kept row done with that slot), for "
      "every B in [1, %lld]",
      f->rows->var->name, f->k->args[f->slot].name, bmax);
  TK_RETURN_IF_ERROR(prove(v, f, step_goal));
  tk_verify_obl_begin(
      v, TK_OBL_DISPATCH, k, target,
      "dispatch: after the row loop %s, %%%s[e] <= B and %%%s maps the kept rows of expert e one "
      "to one onto [0, %%%s[e]) in row order, for every B in [1, %lld]",
      f->rows->var->name, f->k->args[f->count].name, f->k->args[f->slot].name,
      f->k->args[f->count].name, bmax);
  return prove(v, f, exit_goal);
}

tk_status tk_verify_obl_dispatch(tk_vctx *v, const tk_ir_kernel *k) {
  for (int i = 0; i < k->contracts.n; i++) {
    const tk_ir_contract *c = &k->contracts.items[i];
    if (c->pred != TK_PRED_DISPATCH || !c->ensures) continue;
    dispatch_form f;
    TK_RETURN_IF_ERROR(find_form(k, c, &f));
    TK_RETURN_IF_ERROR(obligations(v, &f));
    if (k->target != TK_TARGET_NONE) TK_RETURN_IF_ERROR(separation_obligation(v, &f));
  }
  return TK_STATUS_OK;
}

/* ---- what the kernels that require a dispatch may assume ---- */

/* True if x's facts were asserted in this obligation already (else records it). */
static bool facts_done(tk_obl *o, Z3_ast x) {
  for (int i = 0; i < o->nfacts; i++)
    if (o->facts[i] == x) return true;
  if (o->nfacts == o->cap_facts) {
    int cap = o->cap_facts ? 2 * o->cap_facts : 16;
    Z3_ast *p = tk_realloc(o->facts, (size_t)cap * sizeof *p);
    if (!p) {
      o->oom = true;
      return true;
    }
    o->facts = p;
    o->cap_facts = cap;
  }
  o->facts[o->nfacts++] = x;
  return false;
}

/* The ghost list L(i, e) of the dispatch whose slot is argument `slot` (one per obligation and
 * slot buffer). */
static Z3_func_decl ghost_list(tk_obl *o, const tk_ir_kernel *k, int slot) {
  int key = tk_verify_obl_data_key(o, slot);
  for (int i = 0; i < o->nloads; i++)
    if (o->loads[i].ghost && o->loads[i].key == key) return o->loads[i].f;
  if (o->nloads == o->cap_loads) {
    int cap = o->cap_loads ? 2 * o->cap_loads : 16;
    tk_obl_load_fn *p = tk_realloc(o->loads, (size_t)cap * sizeof *p);
    if (!p) return NULL;
    o->loads = p;
    o->cap_loads = cap;
  }
  char name[80];
  snprintf(name, sizeof name, "list.%.60s", k->args[slot].name);
  Z3_sort dom[2] = {o->v->int_sort, o->v->int_sort};
  Z3_func_decl f = tk_verify_obl_fresh_fn(o, name, 2, dom, o->v->int_sort);
  o->loads[o->nloads++] = (tk_obl_load_fn){key, true, f};
  return f;
}

/* keep[x] = 1 ⇒ 0 <= slot[x] < count[x mod n] ∧ L(slot[x], x mod n) = x div n */
static void slot_fact(tk_obl *o, const tk_ir_kernel *k, const tk_ir_contract *c, Z3_ast index,
                      Z3_ast x) {
  tk_vctx *v = o->v;
  Z3_context z = v->z;
  Z3_ast e = tk_verify_obl_div(o, index, c->n, true);
  Z3_ast row = tk_verify_obl_div(o, index, c->n, false);
  Z3_ast kept_flag = tk_verify_obl_data(o, c->b, k->args[c->b].name, index);
  Z3_ast count = tk_verify_obl_data(o, c->c, k->args[c->c].name, e);
  Z3_func_decl L = ghost_list(o, k, c->a);
  if (!e || !row || !kept_flag || !count || !L) {
    o->oom = true;
    return;
  }
  Z3_ast zero = tk_verify_z_int(v, 0), one = tk_verify_z_int(v, 1);
  Z3_ast kept = Z3_mk_eq(z, kept_flag, one);
  Z3_ast below = tk_verify_z_in(v, zero, x, count);
  Z3_ast listed_at = Z3_mk_app(z, L, 2, (Z3_ast[]){x, e});
  Z3_ast listed = Z3_mk_eq(z, listed_at, row);
  Z3_ast placed = tk_verify_z_and2(v, below, listed);
  tk_verify_obl_hyp(o, Z3_mk_implies(z, kept, placed));
}

void tk_verify_obl_dispatch_facts(tk_obl *o, int arg, Z3_ast index, Z3_ast x) {
  const tk_ir_kernel *k = tk_verify_obl_ix_kernel(o);
  if (!k || facts_done(o, x)) return;
  for (int i = 0; i < k->contracts.n; i++) {
    const tk_ir_contract *c = &k->contracts.items[i];
    if (c->pred != TK_PRED_DISPATCH || c->ensures || c->n < 1) continue;
    if (arg == c->b) {
      tk_verify_obl_hyp(o, tk_verify_z_within(o->v, 0, x, 1));
    } else if (arg == c->c) {
      Z3_ast zero = tk_verify_z_int(o->v, 0);
      Z3_ast lo = Z3_mk_le(o->v->z, zero, x);
      Z3_ast hi = Z3_mk_le(o->v->z, x, o->B);
      tk_verify_obl_hyp(o, tk_verify_z_and2(o->v, lo, hi));
    } else if (arg == c->a) {
      slot_fact(o, k, c, index, x);
    }
  }
}

bool tk_verify_obl_dispatch_kernel(const tk_ir_kernel *k) {
  for (int i = 0; i < k->contracts.n; i++)
    if (k->contracts.items[i].pred == TK_PRED_DISPATCH && k->contracts.items[i].ensures)
      return true;
  return false;
}

Z3_ast tk_verify_obl_dispatch_listed(tk_obl *o, int slot, Z3_ast i, int64_t e) {
  const tk_ir_kernel *k = tk_verify_obl_ix_kernel(o);
  const tk_ir_contract *c = NULL;
  for (int j = 0; k && j < k->contracts.n && !c; j++) {
    const tk_ir_contract *d = &k->contracts.items[j];
    if (d->pred == TK_PRED_DISPATCH && !d->ensures && d->a == slot && d->b >= 0 && d->c >= 0) c = d;
  }
  Z3_func_decl L = c ? ghost_list(o, k, slot) : NULL;
  if (!L) return NULL;
  tk_vctx *v = o->v;
  Z3_context z = v->z;
  Z3_ast ez = tk_verify_z_int(v, e);
  Z3_ast row = Z3_mk_app(z, L, 2, (Z3_ast[]){i, ez});
  Z3_ast at = tk_verify_z_add2(v, tk_verify_z_mul_c(v, row, c->n), ez);
  Z3_ast count = tk_verify_obl_data(o, c->c, k->args[c->c].name, ez);
  Z3_ast kept = tk_verify_obl_data(o, c->b, k->args[c->b].name, at);
  Z3_ast slot_at = tk_verify_obl_data(o, c->a, k->args[c->a].name, at);
  Z3_ast zero = tk_verify_z_int(v, 0), one = tk_verify_z_int(v, 1);
  Z3_ast listed = tk_verify_z_in(v, zero, i, count);
  Z3_ast real = tk_verify_z_in(v, zero, row, o->B);
  Z3_ast facts =
      tk_verify_z_and(v, 3, (Z3_ast[]){real, Z3_mk_eq(z, kept, one), Z3_mk_eq(z, slot_at, i)});
  tk_verify_obl_hyp(o, Z3_mk_implies(z, listed, facts));
  return row;
}
