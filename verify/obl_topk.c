/* verify/obl_topk.c — class `topk`: the router's selection loop, as emitted in each scheduled
 * kernel with a topk(gate, keep, k = K, n = E) contract, keeps exactly K positions, every kept
 * probability beats every dropped one with ties to the lower index, dropped weights are exactly
 * 0 and kept weights are the probabilities themselves (no renormalisation), docs/formats.md §3.
 *
 * The form proved (found in the IR, never assumed): the store to `gate` reads a bool local
 * `taken` and an f32 local `p` (the probabilities) inside an output loop L_out; before it, in
 * the same block, an init loop L_init writes `taken`, and a selection loop L_sel does, per step,
 * straight-line code, a scan loop L_scan (writing an i32 scalar best_i, an f32 scalar best_v and
 * any bool scalars), straight-line code, an update loop L_upd (writing only `taken`), and
 * straight-line code. Nothing else between L_init and L_out writes taken or p. Any other form
 * is rejected (TK_PROOF_FAILED). Loop bodies are executed symbolically from the IR
 * (verify/topk_exec.c), so every comparison, select and index is the emitted one.
 *
 * Each loop is proved by its own per-step inductive invariant, with the probabilities an
 * uninterpreted array P and universally quantified facts instantiated at symbolic competitors
 * (c, a, b, u), so no query grows with E. With better(x, y) := P[x] > P[y] ∨ (P[x] = P[y] ∧ x < y):
 *   I0(e, c): 0 <= c < e ⇒ ¬taken[c]                                             (L_init)
 *   J(e, c):  (best_i = E ∧ (0 <= c < e ⇒ taken[c])) ∨ (0 <= best_i < e ∧ ¬taken[best_i] ∧
 *             best_v = P[best_i] ∧ (0 <= c < e ∧ ¬taken[c] ⇒ c = best_i ∨ better(best_i, c)))  (L_scan)
 *   U(e, c):  (0 <= c < e ⇒ taken'[c] = taken[c] ∨ c = best_i) ∧ (e <= c ⇒ taken'[c] = taken[c])  (L_upd)
 *   O(a, b):  0 <= a, b < E ∧ taken[a] ∧ ¬taken[b] ⇒ better(a, b)                (L_sel)
 * Obligations: init step and exit (nothing taken), scan entry and step, update step, the
 * selection step (from O and an untaken u — there is one while fewer than K <= E positions are
 * taken — the scan picks an untaken best_i in [0, E), taken grows by exactly {best_i}, and O
 * holds again), the count (L_sel runs exactly K times, K <= E: K steps that each add one fresh
 * position to the empty set keep exactly K), and per output store the value rule and
 * kept-beats-dropped on the mask.
 *
 * The final state: every other store of the kernel to the gate, the keep mask or an argument
 * L_out writes (the router weights), or of a value that reads p or taken, is either after L_out
 * in its block with p and taken unwritten since, and then proved to write, at a column c of
 * the same row, exactly what L_out writes there (obligation "final state"), or refused
 * (TK_PROOF_FAILED naming the kernel, the argument and the loop).
 *
 * Renormalisation (contract `renorm = sum`, Qwen3-MoE's norm_topk_prob): between L_sel and L_out
 * a sum loop L_sum (`s = 0` before it, straight-line code; then `for e in 0..E serial { s = s +
 * select(taken[e], p[e], 0) }`, writing only the f32 scalar s) and the gate value `select(taken[e],
 * p[e] / s, 0)`. With SUM(e) the sum of the kept p below e (SUM(0) = 0, SUM(e + 1) = SUM(e) +
 * (taken[e] ? P[e] : 0), an uninterpreted function given by these instances):
 *   R(e):     s = SUM(e)                                                          (L_sum)
 * obligations: sum entry and step, kept weights exactly P[e] / SUM(E) (the value rule, with
 * s = SUM(extent of L_sum): a sum over another range is refuted), and the weights sum to 1:
 * with W(e) the sum of the stored weights below e, W(e) = SUM(e) / SUM(E) for every e (step),
 * so W(E) = 1 (ends). Division is the uninterpreted f32.div of the executor; the sum-to-one
 * queries state the instances of real division's laws they use (a/S + b/S = (a + b)/S, 0/S = 0,
 * S/S = 1, for S = SUM(E) != 0), which hold over the reals. S = 0 cannot be published: the top
 * probability is taken and is at least 1/E unless the row holds a NaN, and a 0/0 weight is NaN,
 * which the runtime rejects (docs/formats.md §3.6). Over f32 the weights' sum is 1 within the
 * rounding bound of docs/formats.md §3.7.
 *
 * IEEE comparisons: the selection and output loops may not compute f32 values (only load,
 * compare, select and store them; refused otherwise), so proving over the reals proves the
 * IEEE comparisons of non-NaN values; the runtime never publishes a row with NaN probabilities
 * (docs/formats.md §3.6, docs/proofs.md "topk: final state and IEEE comparisons").
 */
#include <stdio.h>
#include <string.h>

#include "verify/topk_exec.h"

typedef struct topk_form {
  const tk_ir_kernel *k;
  int gate, keep;
  const tk_ir_stmt *block; /* the block that holds L_out, at index i_out */
  int i_out;
  int64_t K, E;
  const tk_ir_stmt *init, *sel, *out, *scan, *upd;
  bool renorm;           /* the contract's renorm = sum */
  int s;                 /* renorm: the kept sum's local, else -1 */
  const tk_ir_stmt *sum; /* renorm: L_sum */
  const tk_ix *s_ix;     /* renorm: the index L_sum stores the kept sum at */
  int i_sel, i_sum;      /* renorm: the block indices of L_sel and L_sum */
  const tk_ir_stmt *const *sel_stmts;
  int nsel, i_scan, i_upd;
  int taken, p, bi, bv;
  const tk_ix *bi_ix, *bv_ix;
} topk_form;

#define form_error(k, ...) \
  tk_verify_obl_form_error((k), "class topk: the top-K selection", __VA_ARGS__)

/* ---- finding the form ---- */

/* Ancestors of the first STORE to arg (outermost first, the store last). */
static bool find_store(const tk_ir_stmt *s, int arg, const tk_ir_stmt **chain, int *n, int cap) {
  if (!s || *n >= cap) return false;
  chain[(*n)++] = s;
  if (s->kind == TK_S_STORE && s->arg == arg) return true;
  if (s->kind == TK_S_BLOCK)
    for (int i = 0; i < s->n; i++)
      if (find_store(s->stmts[i], arg, chain, n, cap)) return true;
  if ((s->kind == TK_S_FOR || s->kind == TK_S_IF) && find_store(s->body, arg, chain, n, cap))
    return true;
  (*n)--;
  return false;
}

/* The bool local (taken) and f32 array local (p) the gate value reads; with renorm also the
 * f32 scalar (s), else a scalar counts as one of the others. */
static void find_locals(const tk_ir_kernel *k, const tk_ir_val *val, bool renorm, int *taken,
                        int *p, int *s, int *others) {
  if (!val) return;
  if (val->op == TK_V_LOCAL_LOAD) {
    const tk_ir_local *l = &k->locals[val->local];
    int *slot = l->type == TK_T_BOOL      ? taken
                : l->type != TK_T_F32     ? others
                : renorm && l->count == 1 ? s
                                          : p;
    if (*slot >= 0 && *slot != val->local) (*others)++;
    *slot = val->local;
  }
  find_locals(k, val->a, renorm, taken, p, s, others);
  find_locals(k, val->b, renorm, taken, p, s, others);
  find_locals(k, val->c, renorm, taken, p, s, others);
}

static const tk_ir_stmt *first_store(const tk_ir_stmt *s, int local) {
  if (!s) return NULL;
  if (s->kind == TK_S_LOCAL_STORE) return s->local == local ? s : NULL;
  if (s->kind == TK_S_FOR || s->kind == TK_S_IF) return first_store(s->body, local);
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++) {
    const tk_ir_stmt *r = first_store(s->stmts[i], local);
    if (r) return r;
  }
  return NULL;
}

/* The scan's scalars: exactly one i32 (best_i) and one f32 (best_v) local written. */
static tk_status scan_scalars(topk_form *f) {
  f->bi = f->bv = -1;
  for (int l = 0; l < f->k->nlocals; l++) {
    if (!tk_verify_sym_writes_local(f->scan, l)) continue;
    tk_ir_type t = f->k->locals[l].type;
    if (t == TK_T_BOOL) continue;
    int *slot = t == TK_T_I32 ? &f->bi : &f->bv;
    if (*slot >= 0)
      return form_error(f->k, "the scan loop writes two %s locals", tk_ir_type_name(t));
    *slot = l;
  }
  if (f->bi < 0 || f->bv < 0)
    return form_error(f->k, "the scan loop does not write an i32 and an f32 local");
  if (f->bi == f->taken || f->bi == f->p || f->bv == f->taken || f->bv == f->p)
    return form_error(f->k, "the scan loop writes taken or p");
  f->bi_ix = first_store(f->scan, f->bi)->ix;
  f->bv_ix = first_store(f->scan, f->bv)->ix;
  return TK_STATUS_OK;
}

/* L_sel's body: straight-line code, L_scan, straight-line code, L_upd, straight-line code. */
static tk_status split_selection(topk_form *f) {
  const tk_ir_stmt *b = f->sel->body;
  f->sel_stmts = b->kind == TK_S_BLOCK ? b->stmts : &f->sel->body;
  f->nsel = b->kind == TK_S_BLOCK ? b->n : 1;
  f->i_scan = f->i_upd = -1;
  for (int i = 0; i < f->nsel; i++) {
    const tk_ir_stmt *s = f->sel_stmts[i];
    if (!tk_verify_sym_has_loop(s)) continue;
    if (s->kind != TK_S_FOR || tk_verify_sym_has_loop(s->body))
      return form_error(f->k,
                        "a selection step holds a nested loop other than the scan and the update");
    if (f->i_scan < 0)
      f->i_scan = i;
    else if (f->i_upd < 0)
      f->i_upd = i;
    else
      return form_error(f->k, "a selection step holds more than two loops");
  }
  if (f->i_upd < 0)
    return form_error(f->k, "a selection step needs a scan loop and an update loop");
  f->scan = f->sel_stmts[f->i_scan];
  f->upd = f->sel_stmts[f->i_upd];
  for (int i = 0; i < f->nsel; i++)
    if (i != f->i_upd && tk_verify_sym_writes_local(f->sel_stmts[i], f->taken))
      return form_error(f->k, "taken is written in a selection step outside the update loop");
  for (int l = 0; l < f->k->nlocals; l++)
    if (l != f->taken && tk_verify_sym_writes_local(f->upd, l))
      return form_error(f->k, "the update loop writes local %s besides taken",
                        f->k->locals[l].name);
  return scan_scalars(f);
}

/* The first f32 value of v that is computed (not a constant, load, local load or select), by
 * its operator's name, or NULL. The selection and the outputs may only move and compare the
 * probabilities: then the map from non-NaN f32 values (±0 as one point, ±Inf included) to the
 * reals that topk_exec.c uses is an order embedding fixing 0, so every comparison, select and
 * equality proved over the reals holds under IEEE comparisons of non-NaN values. */
/* With renorm (s >= 0), a stored weight may divide a probability by the kept sum: the
 * division is after every comparison, and the renormalisation obligations are about it. */
static bool renormalised(const tk_ir_val *v, int p, int s) {
  return s >= 0 && v->op == TK_V_DIV && v->a->op == TK_V_LOCAL_LOAD && v->a->local == p &&
         v->b->op == TK_V_LOCAL_LOAD && v->b->local == s;
}

static const char *f32_computed(const tk_ir_val *v, int p, int s) {
  if (!v || renormalised(v, p, s)) return NULL;
  if (v->type == TK_T_F32 && v->op != TK_V_CONST && v->op != TK_V_LOAD &&
      v->op != TK_V_LOCAL_LOAD && v->op != TK_V_SELECT)
    return tk_ir_vop_name(v->op);
  const char *a = f32_computed(v->a, p, s), *b = f32_computed(v->b, p, s);
  return a ? a : b ? b : f32_computed(v->c, p, s);
}

/* `allow_renorm`: the output loop of a renorm contract (its stores only). */
static const char *f32_arithmetic(const topk_form *f, const tk_ir_stmt *s, bool allow_renorm) {
  if (!s) return NULL;
  const char *op = NULL;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n && !op; i++)
    op = f32_arithmetic(f, s->stmts[i], allow_renorm);
  if (!op && (s->kind == TK_S_FOR || s->kind == TK_S_IF))
    op = f32_arithmetic(f, s->body, allow_renorm);
  bool renorm_store = allow_renorm && s->kind == TK_S_STORE;
  if (!op && (s->kind == TK_S_STORE || s->kind == TK_S_LOCAL_STORE))
    op = f32_computed(s->value, f->p, renorm_store ? f->s : -1);
  return op;
}

/* renorm: L_sum is the only statement between L_sel and L_out that writes s, after straight-line
 * code, and it writes nothing else; nothing between L_sel and L_out writes taken or p. */
static tk_status find_sum(topk_form *f) {
  f->i_sel = f->i_sum = -1;
  for (int i = 0; i < f->i_out; i++)
    if (f->block->stmts[i] == f->sel) f->i_sel = i;
  for (int i = f->i_sel + 1; i < f->i_out; i++) {
    const tk_ir_stmt *st = f->block->stmts[i];
    if (!tk_verify_sym_writes_local(st, f->s)) continue;
    if (f->i_sum >= 0 || st->kind != TK_S_FOR) {
      if (f->i_sum >= 0 || tk_verify_sym_has_loop(st))
        return form_error(f->k, "the kept sum is written after its loop or in another loop");
      continue;
    }
    f->i_sum = i;
  }
  if (f->i_sel < 0 || f->i_sum < 0)
    return form_error(f->k, "renorm: no sum loop over the kept probabilities before the output");
  f->sum = f->block->stmts[f->i_sum];
  f->s_ix = first_store(f->sum, f->s)->ix;
  if (tk_verify_sym_has_loop(f->sum->body))
    return form_error(f->k, "renorm: the sum loop holds a loop");
  for (int l = 0; l < f->k->nlocals; l++)
    if (l != f->s && tk_verify_sym_writes_local(f->sum, l))
      return form_error(f->k, "renorm: the sum loop writes local %s besides the kept sum",
                        f->k->locals[l].name);
  for (int i = f->i_sel + 1; i < f->i_out; i++)
    if (i != f->i_sum && tk_verify_sym_has_loop(f->block->stmts[i]))
      return form_error(f->k, "renorm: a loop other than the sum between selection and output");
  return TK_STATUS_OK;
}

/* L_init and L_sel: the last loops before L_out in its block that write taken. */
static tk_status find_loops(topk_form *f, const tk_ir_stmt *block, int i_out) {
  f->init = f->sel = NULL;
  for (int i = i_out - 1; i >= 0; i--) {
    const tk_ir_stmt *s = block->stmts[i];
    bool w = tk_verify_sym_writes_local(s, f->taken);
    if (tk_verify_sym_writes_local(s, f->p) && (f->sel || !w)) {
      if (f->init) break; /* the probabilities are computed before L_init */
      return form_error(f->k, "p is written between the selection and the output loop");
    }
    if (!w) continue;
    if (s->kind != TK_S_FOR)
      return form_error(f->k, "taken is written outside a loop before the output");
    if (!f->sel)
      f->sel = s;
    else if (!f->init)
      f->init = s;
    else
      break;
  }
  if (!f->init || !f->sel || tk_verify_sym_has_loop(f->init->body) ||
      !tk_verify_sym_has_loop(f->sel->body))
    return form_error(f->k, "expected an init loop over taken followed by the selection loop");
  for (int l = 0; l < f->k->nlocals; l++)
    if (l != f->taken && tk_verify_sym_writes_local(f->init, l))
      return form_error(f->k, "the init loop writes local %s besides taken", f->k->locals[l].name);
  if (tk_verify_sym_writes_local(f->sel, f->p) || tk_verify_sym_writes_local(f->out, -1))
    return form_error(f->k, "the selection writes p, or the output loop writes locals");
  const char *op = f32_arithmetic(f, f->sel, false);
  if (!op) op = f32_arithmetic(f, f->out, true);
  if (op)
    return form_error(f->k,
                      "the selection or output loop computes f32 %s: only loads, compares and "
                      "selects of the probabilities keep the proof valid under IEEE comparisons",
                      op);
  TK_RETURN_IF_ERROR(split_selection(f));
  return f->renorm ? find_sum(f) : TK_STATUS_OK;
}

static tk_status find_form(const tk_ir_kernel *k, const tk_ir_contract *c, topk_form *f) {
  memset(f, 0, sizeof *f);
  f->k = k;
  f->gate = c->a;
  f->keep = c->b;
  f->K = c->k;
  f->E = c->n;
  f->renorm = c->renorm;
  const tk_ir_stmt *chain[TK_OBL_MAX_DEPTH * 2];
  int n = 0;
  if (c->a < 0 || c->b < 0 || !find_store(k->body, c->a, chain, &n, TK_OBL_MAX_DEPTH * 2))
    return form_error(k, "no store to the gate argument");
  int i_for = n - 2;
  while (i_for >= 0 && chain[i_for]->kind != TK_S_FOR) i_for--;
  if (i_for < 1 || chain[i_for - 1]->kind != TK_S_BLOCK)
    return form_error(k, "the gate store is not in a loop of a block");
  f->out = chain[i_for];
  const tk_ir_stmt *block = chain[i_for - 1];
  int i_out = 0;
  while (block->stmts[i_out] != f->out) i_out++;
  f->block = block;
  f->i_out = i_out;
  int others = 0;
  f->taken = f->p = f->s = -1;
  find_locals(k, chain[n - 1]->value, f->renorm, &f->taken, &f->p, &f->s, &others);
  if (f->taken < 0 || f->p < 0 || others || (f->renorm && f->s < 0))
    return form_error(k, f->renorm ? "the gate value must read exactly one bool local (taken), one "
                                     "f32 local (p) and one f32 scalar (the kept sum)"
                                   : "the gate value must read exactly one bool local (taken) and "
                                     "one f32 local (p)");
  return find_loops(f, block, i_out);
}

/* ---- formulas ---- */

typedef struct topk_ctx {
  tk_vctx *v;
  const topk_form *f;
  tk_obl *o;
  tk_sym x;
  tk_sym_state st;
  Z3_ast P, E;
  Z3_func_decl SUM; /* renorm: SUM(e), the kept probabilities' sum below e */
} topk_ctx;

static tk_status begin(topk_ctx *t, tk_vctx *v, const topk_form *f, const char *words) {
  const tk_ir_kernel *k = f->k;
  tk_verify_obl_begin(v, TK_OBL_TOPK, k->name, tk_verify_obl_target_name(k),
                      "top-K (k = %lld, n = %lld): %s", (long long)f->K, (long long)f->E, words);
  t->v = v;
  t->f = f;
  t->o = tk_verify_obl_cur(v);
  TK_RETURN_IF_ERROR(tk_verify_sym_init(&t->x, t->o, k));
  tk_status s = tk_verify_sym_state_init(&t->x, &t->st);
  if (s) {
    tk_verify_sym_dispose(&t->x);
    return s;
  }
  t->P =
      tk_verify_obl_fresh(t->o, k->locals[f->p].name, tk_verify_sym_array_sort(v, TK_T_F32), false);
  t->st.arr[f->p] = t->P;
  t->E = tk_verify_z_int(v, f->E);
  t->SUM = NULL;
  if (f->renorm)
    t->SUM = tk_verify_obl_fresh_fn(t->o, "SUM", 1, (Z3_sort[]){v->int_sort}, v->real_sort);
  return TK_STATUS_OK;
}

/* Proves the obligation and releases the executor. */
static tk_status finish(topk_ctx *t, Z3_ast goal) {
  tk_verify_obl_goal(t->o, goal);
  tk_status s = tk_verify_obl_prove(t->v);
  tk_verify_sym_state_free(&t->st);
  tk_verify_sym_dispose(&t->x);
  return s;
}

/* Releases the executor without proving (a form error during execution). */
static tk_status abandon(topk_ctx *t, tk_status s) {
  tk_verify_sym_state_free(&t->st);
  tk_verify_sym_dispose(&t->x);
  return s;
}

static Z3_ast sel(topk_ctx *t, Z3_ast arr, Z3_ast i) {
  return arr && i ? Z3_mk_select(t->v->z, arr, i) : NULL;
}
static Z3_ast implies(topk_ctx *t, Z3_ast a, Z3_ast b) {
  return a && b ? Z3_mk_implies(t->v->z, a, b) : NULL;
}
static Z3_ast not_(topk_ctx *t, Z3_ast a) { return a ? Z3_mk_not(t->v->z, a) : NULL; }
static Z3_ast eq(topk_ctx *t, Z3_ast a, Z3_ast b) {
  return a && b ? Z3_mk_eq(t->v->z, a, b) : NULL;
}
static Z3_ast in(topk_ctx *t, Z3_ast x, Z3_ast hi) {
  return tk_verify_z_in(t->v, tk_verify_z_int(t->v, 0), x, hi);
}
static Z3_ast and3(topk_ctx *t, Z3_ast a, Z3_ast b, Z3_ast c) {
  return tk_verify_z_and(t->v, 3, (Z3_ast[]){a, b, c});
}

/* The formulas below build one term per statement, in the order the committed proofs were
 * made in (verify_internal.h, term order). */
static Z3_ast better(topk_ctx *t, Z3_ast x, Z3_ast y) {
  Z3_ast px = sel(t, t->P, x), py = sel(t, t->P, y);
  Z3_ast x_lower = Z3_mk_lt(t->v->z, x, y);
  Z3_ast tie = tk_verify_z_and2(t->v, eq(t, px, py), x_lower);
  return tk_verify_z_or2(t->v, Z3_mk_gt(t->v->z, px, py), tie);
}

static Z3_ast competitor(topk_ctx *t, const char *name) {
  return tk_verify_obl_fresh(t->o, name, t->v->int_sort, true);
}

static Z3_ast best_i(topk_ctx *t) {
  Z3_ast ix = tk_verify_obl_ix(t->o, t->f->bi_ix, 0);
  return sel(t, tk_verify_sym_local(&t->x, &t->st, t->f->bi), ix);
}
static Z3_ast best_v(topk_ctx *t) {
  Z3_ast ix = tk_verify_obl_ix(t->o, t->f->bv_ix, 0);
  return sel(t, tk_verify_sym_local(&t->x, &t->st, t->f->bv), ix);
}
static Z3_ast taken(topk_ctx *t) { return tk_verify_sym_local(&t->x, &t->st, t->f->taken); }

static Z3_ast inv_init(topk_ctx *t, Z3_ast T, Z3_ast e, Z3_ast c) {
  Z3_ast c_untaken = not_(t, sel(t, T, c));
  return implies(t, in(t, c, e), c_untaken);
}

static Z3_ast inv_scan(topk_ctx *t, Z3_ast e, Z3_ast c) {
  Z3_ast T = taken(t), bi = best_i(t), bv = best_v(t);
  Z3_ast c_taken = sel(t, T, c);
  Z3_ast seen_taken = implies(t, in(t, c, e), c_taken);
  Z3_ast none = tk_verify_z_and2(t->v, eq(t, bi, t->E), seen_taken);
  Z3_ast bi_beats_c = better(t, bi, c);
  Z3_ast bi_wins = tk_verify_z_or2(t->v, eq(t, c, bi), bi_beats_c);
  Z3_ast c_untaken = not_(t, sel(t, T, c));
  Z3_ast c_open = tk_verify_z_and2(t->v, in(t, c, e), c_untaken);
  Z3_ast beats = implies(t, c_open, bi_wins);
  Z3_ast bi_seen = in(t, bi, e);
  Z3_ast bi_untaken = not_(t, sel(t, T, bi));
  Z3_ast bv_is_p = eq(t, bv, sel(t, t->P, bi));
  Z3_ast some = tk_verify_z_and(t->v, 4, (Z3_ast[]){bi_seen, bi_untaken, bv_is_p, beats});
  return tk_verify_z_or2(t->v, none, some);
}

static Z3_ast inv_upd(topk_ctx *t, Z3_ast T1, Z3_ast T0, Z3_ast bi, Z3_ast e, Z3_ast c) {
  Z3_ast c_is_bi = eq(t, c, bi);
  Z3_ast c_now = tk_verify_z_or2(t->v, sel(t, T0, c), c_is_bi);
  Z3_ast c_updated = eq(t, sel(t, T1, c), c_now);
  Z3_ast grown = implies(t, in(t, c, e), c_updated);
  Z3_ast c_before = sel(t, T0, c);
  Z3_ast c_unchanged = eq(t, sel(t, T1, c), c_before);
  Z3_ast same = implies(t, Z3_mk_le(t->v->z, e, c), c_unchanged);
  return tk_verify_z_and2(t->v, grown, same);
}

static Z3_ast inv_sel(topk_ctx *t, Z3_ast T, Z3_ast a, Z3_ast b) {
  Z3_ast a_in = in(t, a, t->E);
  Z3_ast b_in = in(t, b, t->E);
  Z3_ast a_taken = sel(t, T, a);
  Z3_ast pre = tk_verify_z_and(t->v, 4, (Z3_ast[]){a_in, b_in, a_taken, not_(t, sel(t, T, b))});
  return implies(t, pre, better(t, a, b));
}

/* The loop variable of s as the step index, with 0 <= e < extent assumed. */
static Z3_ast step_var(topk_ctx *t, const tk_ir_stmt *s) {
  Z3_ast e = tk_verify_obl_var(t->o, s->var, 0);
  tk_verify_obl_hyp(t->o, in(t, e, tk_verify_obl_ix(t->o, s->extent, 0)));
  return e;
}

static Z3_ast plus1(topk_ctx *t, Z3_ast e) {
  return tk_verify_z_add2(t->v, e, tk_verify_z_int(t->v, 1));
}

/* ---- renormalisation ---- */

static const tk_ir_stmt *out_store(const tk_ir_stmt *s, int arg);

static Z3_ast sum_at(topk_ctx *t, Z3_ast e) { return Z3_mk_app(t->v->z, t->SUM, 1, &e); }
static Z3_ast real0(topk_ctx *t) { return Z3_mk_numeral(t->v->z, "0", t->v->real_sort); }

/* The kept sum's current value. */
static Z3_ast s_now(topk_ctx *t) {
  Z3_ast ix = tk_verify_obl_ix(t->o, t->f->s_ix, 0);
  return sel(t, tk_verify_sym_local(&t->x, &t->st, t->f->s), ix);
}

/* SUM(e + 1) = SUM(e) + (taken[e] ? P[e] : 0): SUM's definition at e. */
static Z3_ast sum_def(topk_ctx *t, Z3_ast T, Z3_ast e) {
  Z3_ast term = Z3_mk_ite(t->v->z, sel(t, T, e), sel(t, t->P, e), real0(t));
  return eq(t, sum_at(t, plus1(t, e)), tk_verify_z_add2(t->v, sum_at(t, e), term));
}

/* After L_sum (proved by sum_entry and sum_step): s = SUM(extent of L_sum). */
static void assume_final_sum(topk_ctx *t) {
  Z3_ast ext = tk_verify_obl_ix(t->o, t->f->sum->extent, 0);
  tk_verify_obl_hyp(t->o, eq(t, s_now(t), sum_at(t, ext)));
}

/* ---- obligations ---- */

static tk_status init_step(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(
      &t, v, f,
      "init loop, step e: after the step no position < e + 1 is taken (invariant I0, competitor c)"));
  Z3_ast e = step_var(&t, f->init), c = competitor(&t, "c");
  tk_verify_obl_hyp(t.o, inv_init(&t, taken(&t), e, c));
  tk_status s = tk_verify_sym_exec(&t.x, &t.st, f->init->body);
  if (s) return abandon(&t, s);
  Z3_ast next = plus1(&t, e);
  return finish(&t, inv_init(&t, taken(&t), next, c));
}

static tk_status init_exit(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(
      &t, v, f,
      "init loop, exit: its extent covers [0, E), so no position is taken when the selection starts"));
  Z3_ast c = competitor(&t, "c");
  Z3_ast extent = tk_verify_obl_ix(t.o, f->init->extent, 0);
  tk_verify_obl_hyp(t.o, inv_init(&t, taken(&t), extent, c));
  tk_verify_obl_hyp(t.o, in(&t, c, t.E));
  return finish(&t, not_(&t, sel(&t, taken(&t), c)));
}

/* Runs the selection step's statements [from, to) as straight-line code. */
static tk_status run_sel(topk_ctx *t, int from, int to) {
  for (int i = from; i < to; i++)
    TK_RETURN_IF_ERROR(tk_verify_sym_exec(&t->x, &t->st, t->f->sel_stmts[i]));
  return TK_STATUS_OK;
}

static tk_status scan_entry(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(
      &t, v, f,
      "scan loop, entry: the code before the scan establishes the scan invariant J at e = 0"));
  Z3_ast c = competitor(&t, "c");
  tk_status s = run_sel(&t, 0, f->i_scan);
  return s ? abandon(&t, s) : finish(&t, inv_scan(&t, tk_verify_z_int(v, 0), c));
}

static tk_status scan_step(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(
      begin(&t, v, f,
            "scan loop, step e: best_i stays the best untaken position among [0, e + 1) by "
            "(p desc, index asc), or E if all are taken (invariant J, competitor c)"));
  Z3_ast e = step_var(&t, f->scan), c = competitor(&t, "c");
  tk_verify_obl_hyp(t.o, inv_scan(&t, e, c));
  tk_verify_obl_show(t.o, "best_i before", best_i(&t));
  tk_verify_obl_show(t.o, "p[e]", sel(&t, t.P, e));
  tk_verify_obl_show(t.o, "p[c]", sel(&t, t.P, c));
  tk_verify_obl_show(t.o, "p[best_i before]", sel(&t, t.P, best_i(&t)));
  tk_status s = tk_verify_sym_exec(&t.x, &t.st, f->scan->body);
  return s ? abandon(&t, s) : finish(&t, inv_scan(&t, plus1(&t, e), c));
}

static tk_status update_step(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(
      begin(&t, v, f,
            "update loop, step e: taken becomes taken_before plus exactly best_i on [0, e + 1) "
            "and stays unchanged elsewhere (invariant U, competitor c)"));
  Z3_ast e = step_var(&t, f->upd), c = competitor(&t, "c");
  Z3_ast T0 =
      tk_verify_obl_fresh(t.o, "taken_before", tk_verify_sym_array_sort(v, TK_T_BOOL), false);
  Z3_ast bi = best_i(&t);
  tk_verify_obl_hyp(t.o, inv_upd(&t, taken(&t), T0, bi, e, c));
  tk_verify_obl_hyp(t.o, inv_upd(&t, taken(&t), T0, bi, e, e));
  tk_status s = tk_verify_sym_exec(&t.x, &t.st, f->upd->body);
  if (s) return abandon(&t, s);
  Z3_ast next = plus1(&t, e);
  Z3_ast bi_after = best_i(&t);
  return finish(&t, inv_upd(&t, taken(&t), T0, bi_after, next, c));
}

/* Havoc every local the loop writes. */
static void havoc_loop(topk_ctx *t, const tk_ir_stmt *loop) {
  for (int l = 0; l < t->f->k->nlocals; l++)
    if (tk_verify_sym_writes_local(loop, l)) tk_verify_sym_havoc(&t->x, &t->st, l);
}

static tk_status selection_step(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(
      begin(&t, v, f,
            "selection loop, step t: from invariant O and an untaken position u (one exists "
            "while t < K <= E), the step adds exactly one untaken best_i in [0, E) to taken and "
            "O holds again (competitors a, b)"));
  step_var(&t, f->sel);
  Z3_ast a = competitor(&t, "a"), b = competitor(&t, "b"), u = competitor(&t, "u");
  Z3_ast T = taken(&t);
  tk_verify_obl_hyp(t.o, inv_sel(&t, T, a, b));
  Z3_ast u_untaken = not_(&t, sel(&t, T, u));
  tk_verify_obl_hyp(t.o, tk_verify_z_and2(v, in(&t, u, t.E), u_untaken));
  tk_status s = run_sel(&t, 0, f->i_scan);
  havoc_loop(&t, f->scan);
  Z3_ast ext = tk_verify_obl_ix(t.o, f->scan->extent, 0);
  Z3_ast scanned_u = inv_scan(&t, ext, u);
  Z3_ast scanned_b = inv_scan(&t, ext, b);
  tk_verify_obl_hyp(t.o, and3(&t, inv_scan(&t, ext, a), scanned_b, scanned_u));
  if (!s) s = run_sel(&t, f->i_scan + 1, f->i_upd);
  Z3_ast bi = best_i(&t), T0 = taken(&t);
  havoc_loop(&t, f->upd);
  ext = tk_verify_obl_ix(t.o, f->upd->extent, 0);
  Z3_ast updated_b = inv_upd(&t, taken(&t), T0, bi, ext, b);
  tk_verify_obl_hyp(t.o, tk_verify_z_and2(v, inv_upd(&t, taken(&t), T0, bi, ext, a), updated_b));
  if (!s) s = run_sel(&t, f->i_upd + 1, f->nsel);
  tk_verify_obl_show(t.o, "best_i", bi);
  tk_verify_obl_show(t.o, "p[a]", sel(&t, t.P, a));
  tk_verify_obl_show(t.o, "p[b]", sel(&t, t.P, b));
  Z3_ast T1 = taken(&t);
  Z3_ast bi_in = in(&t, bi, t.E);
  Z3_ast bi_was_untaken = not_(&t, sel(&t, T, bi));
  Z3_ast a_is_bi = eq(&t, a, bi);
  Z3_ast a_now = tk_verify_z_or2(v, sel(&t, T, a), a_is_bi);
  Z3_ast a_updated = eq(&t, sel(&t, T1, a), a_now);
  Z3_ast a_step = implies(&t, in(&t, a, t.E), a_updated);
  Z3_ast goal =
      tk_verify_z_and(v, 4, (Z3_ast[]){bi_in, bi_was_untaken, a_step, inv_sel(&t, T1, a, b)});
  return s ? abandon(&t, s) : finish(&t, goal);
}

static tk_status sum_entry(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(&t, v, f,
                           "renorm, sum loop entry: the code before it sets the kept sum to "
                           "SUM(0) = 0 (invariant R)"));
  tk_status s = TK_STATUS_OK;
  for (int i = f->i_sel + 1; !s && i < f->i_sum; i++)
    s = tk_verify_sym_exec(&t.x, &t.st, f->block->stmts[i]);
  if (s) return abandon(&t, s);
  tk_verify_obl_hyp(t.o, eq(&t, sum_at(&t, tk_verify_z_int(v, 0)), real0(&t)));
  return finish(&t, eq(&t, s_now(&t), sum_at(&t, tk_verify_z_int(v, 0))));
}

static tk_status sum_step(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(&t, v, f,
                           "renorm, sum loop step e: the kept sum becomes SUM(e + 1), the sum of "
                           "the kept p below e + 1 (invariant R)"));
  Z3_ast e = step_var(&t, f->sum);
  tk_verify_obl_hyp(t.o, eq(&t, s_now(&t), sum_at(&t, e)));
  tk_verify_obl_hyp(t.o, sum_def(&t, taken(&t), e));
  tk_verify_obl_show(t.o, "p[e]", sel(&t, t.P, e));
  tk_status s = tk_verify_sym_exec(&t.x, &t.st, f->sum->body);
  return s ? abandon(&t, s) : finish(&t, eq(&t, s_now(&t), sum_at(&t, plus1(&t, e))));
}

/* The gate store of L_out, its value at column e (after L_sum) and W, the weights' prefix sum. */
static Z3_ast gate_value_at(topk_ctx *t, Z3_ast e) {
  const tk_ir_stmt *gate = out_store(t->f->out, t->f->gate);
  tk_verify_obl_bind(t->o, t->f->out->var, 0, e);
  Z3_ast val = tk_verify_sym_val(&t->x, &t->st, gate->value);
  tk_verify_obl_unbind(t->o, t->f->out->var, 0);
  return val;
}

static tk_status sum_to_one_step(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(&t, v, f,
                           "renorm, weights sum to 1, step e: W(e + 1) = SUM(e + 1) / S for the "
                           "stored weights' prefix sum W, S = SUM(E) != 0"));
  Z3_ast e = tk_verify_obl_fresh(t.o, "e", v->int_sort, true);
  tk_verify_obl_hyp(t.o, in(&t, e, t.E));
  Z3_func_decl W = tk_verify_obl_fresh_fn(t.o, "W", 1, (Z3_sort[]){v->int_sort}, v->real_sort);
  Z3_ast S = sum_at(&t, t.E), T = taken(&t), e1 = plus1(&t, e);
  Z3_ast We = Z3_mk_app(v->z, W, 1, &e), We1 = Z3_mk_app(v->z, W, 1, &e1);
  assume_final_sum(&t);
  tk_verify_obl_hyp(t.o, not_(&t, eq(&t, S, real0(&t))));
  tk_verify_obl_hyp(t.o, sum_def(&t, T, e));
  Z3_ast val = gate_value_at(&t, e);
  tk_verify_obl_show(t.o, "weight[e]", val);
  tk_verify_obl_hyp(t.o, eq(&t, We1, tk_verify_z_add2(v, We, val)));
  tk_verify_obl_hyp(t.o, eq(&t, We, tk_verify_sym_div(&t.x, sum_at(&t, e), S)));
  /* real division: SUM(e)/S + P[e]/S = (SUM(e) + P[e])/S */
  Z3_ast pe = sel(&t, t.P, e);
  Z3_ast split = tk_verify_z_add2(v, tk_verify_sym_div(&t.x, sum_at(&t, e), S),
                                  tk_verify_sym_div(&t.x, pe, S));
  Z3_ast joined = tk_verify_sym_div(&t.x, tk_verify_z_add2(v, sum_at(&t, e), pe), S);
  tk_verify_obl_hyp(t.o, eq(&t, split, joined));
  return finish(&t, eq(&t, We1, tk_verify_sym_div(&t.x, sum_at(&t, e1), S)));
}

static tk_status sum_to_one_ends(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(&t, v, f,
                           "renorm, weights sum to 1, ends: W(0) = 0 = SUM(0) / S, and W(E) = "
                           "SUM(E) / S = 1 (S = SUM(E) != 0)"));
  Z3_func_decl W = tk_verify_obl_fresh_fn(t.o, "W", 1, (Z3_sort[]){v->int_sort}, v->real_sort);
  Z3_ast zero = tk_verify_z_int(v, 0), S = sum_at(&t, t.E);
  Z3_ast W0 = Z3_mk_app(v->z, W, 1, &zero), WE = Z3_mk_app(v->z, W, 1, &t.E);
  tk_verify_obl_hyp(t.o, not_(&t, eq(&t, S, real0(&t))));
  tk_verify_obl_hyp(t.o, eq(&t, sum_at(&t, zero), real0(&t)));
  tk_verify_obl_hyp(t.o, eq(&t, W0, real0(&t)));
  tk_verify_obl_hyp(t.o, eq(&t, WE, tk_verify_sym_div(&t.x, S, S))); /* the step, at E */
  /* real division: 0/S = 0, S/S = 1 */
  tk_verify_obl_hyp(t.o, eq(&t, tk_verify_sym_div(&t.x, real0(&t), S), real0(&t)));
  Z3_ast one = Z3_mk_numeral(v->z, "1", v->real_sort);
  tk_verify_obl_hyp(t.o, eq(&t, tk_verify_sym_div(&t.x, S, S), one));
  Z3_ast starts = eq(&t, W0, tk_verify_sym_div(&t.x, sum_at(&t, zero), S));
  return finish(&t, tk_verify_z_and2(v, starts, eq(&t, WE, one)));
}

static tk_status count(tk_vctx *v, const topk_form *f) {
  topk_ctx t;
  TK_RETURN_IF_ERROR(
      begin(&t, v, f,
            "count: the selection loop runs exactly K times and K <= E; each step adds one "
            "fresh position to the empty set, so exactly K positions are kept"));
  Z3_ast ext = tk_verify_obl_ix(t.o, f->sel->extent, 0);
  tk_verify_obl_show(t.o, "selection steps", ext);
  Z3_ast at_most_e = Z3_mk_le(v->z, ext, t.E);
  return finish(&t, tk_verify_z_and2(v, eq(&t, ext, tk_verify_z_int(v, f->K)), at_most_e));
}

/* The output stores of L_out (through blocks and guards). */
static int output_stores(const tk_ir_stmt *s, const tk_ir_stmt **out, int n, int cap) {
  if (!s) return n;
  if (s->kind == TK_S_STORE && n < cap) out[n++] = s;
  if (s->kind == TK_S_FOR || s->kind == TK_S_IF) return output_stores(s->body, out, n, cap);
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++)
    n = output_stores(s->stmts[i], out, n, cap);
  return n;
}

/* val is what an output of type arg->type must hold at column e: for f32 weights exactly p[e]
 * if kept, else exactly 0; for the i32 mask 1 if kept, else 0. */
static Z3_ast output_holds(topk_ctx *t, const tk_ir_arg *arg, Z3_ast T, Z3_ast e, Z3_ast val) {
  Z3_context z = t->v->z;
  Z3_ast kept = sel(t, T, e);
  if (arg->type == TK_T_F32) {
    Z3_ast dropped_zero = eq(t, val, Z3_mk_numeral(z, "0", t->v->real_sort));
    Z3_ast weight = sel(t, t->P, e);
    if (t->f->renorm) weight = tk_verify_sym_div(&t->x, weight, sum_at(t, t->E));
    return Z3_mk_ite(z, kept, eq(t, val, weight), dropped_zero);
  }
  Z3_ast zero = tk_verify_z_int(t->v, 0);
  return eq(t, val, Z3_mk_ite(z, kept, tk_verify_z_int(t->v, 1), zero));
}

static tk_status output_value(tk_vctx *v, const topk_form *f, const tk_ir_stmt *st) {
  const tk_ir_arg *arg = &f->k->args[st->arg];
  bool weight = arg->type == TK_T_F32;
  char words[256];
  snprintf(
      words, sizeof words,
      weight && f->renorm
          ? "output %%%s at column e: kept positions get exactly p[e] / SUM(E), the kept probabilities' sum (renorm), dropped positions exactly 0"
      : weight
          ? "output %%%s at column e: kept positions get exactly p[e] (no renormalisation), dropped positions exactly 0"
          : "output %%%s at column e: the keep mask is 1 at kept positions and 0 at dropped ones",
      arg->name);
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(&t, v, f, words));
  if (f->renorm) assume_final_sum(&t);
  Z3_ast e = step_var(&t, f->out), T = taken(&t);
  Z3_ast val = tk_verify_sym_val(&t.x, &t.st, st->value);
  tk_verify_obl_show(t.o, "value", val);
  tk_verify_obl_show(t.o, "p[e]", sel(&t, t.P, e));
  return finish(&t, output_holds(&t, arg, T, e, val));
}

static tk_status output_order(tk_vctx *v, const topk_form *f, const tk_ir_stmt *st) {
  char words[256];
  snprintf(
      words, sizeof words,
      "output %%%s: every kept position beats every dropped one (p desc, ties to the lower index)",
      f->k->args[st->arg].name);
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(&t, v, f, words));
  Z3_ast a = competitor(&t, "a"), b = competitor(&t, "b");
  tk_verify_obl_hyp(t.o, inv_sel(&t, taken(&t), a, b));
  tk_verify_obl_bind(t.o, f->out->var, 0, a);
  Z3_ast ma = tk_verify_sym_val(&t.x, &t.st, st->value);
  tk_verify_obl_bind(t.o, f->out->var, 0, b);
  Z3_ast mb = tk_verify_sym_val(&t.x, &t.st, st->value);
  tk_verify_obl_unbind(t.o, f->out->var, 0);
  Z3_ast zero = tk_verify_z_int(v, 0);
  tk_verify_obl_show(t.o, "keep[a]", ma);
  tk_verify_obl_show(t.o, "keep[b]", mb);
  Z3_ast a_in = in(&t, a, t.E);
  Z3_ast b_in = in(&t, b, t.E);
  Z3_ast a_kept = not_(&t, eq(&t, ma, zero));
  Z3_ast pre = tk_verify_z_and(v, 4, (Z3_ast[]){a_in, b_in, a_kept, eq(&t, mb, zero)});
  return finish(&t, implies(&t, pre, better(&t, a, b)));
}

static tk_status outputs(tk_vctx *v, const topk_form *f) {
  const tk_ir_stmt *stores[16];
  int n = output_stores(f->out->body, stores, 0, 16), masks = 0;
  for (int i = 0; i < n; i++) TK_RETURN_IF_ERROR(output_value(v, f, stores[i]));
  for (int i = 0; i < n; i++)
    if (f->k->args[stores[i]->arg].type == TK_T_I32) {
      masks++;
      TK_RETURN_IF_ERROR(output_order(v, f, stores[i]));
    }
  return masks ? TK_STATUS_OK : form_error(f->k, "the output loop stores no keep mask");
}

/* ---- the final state: every other store to a router output is covered or refused ---- */

/* The output loop's (first) store to arg. */
static const tk_ir_stmt *out_store(const tk_ir_stmt *s, int arg) {
  if (!s) return NULL;
  if (s->kind == TK_S_STORE) return s->arg == arg ? s : NULL;
  if (s->kind == TK_S_FOR || s->kind == TK_S_IF) return out_store(s->body, arg);
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++) {
    const tk_ir_stmt *r = out_store(s->stmts[i], arg);
    if (r) return r;
  }
  return NULL;
}

static bool reads_local(const tk_ir_val *v, int local) {
  if (!v) return false;
  if (v->op == TK_V_LOCAL_LOAD && v->local == local) return true;
  return reads_local(v->a, local) || reads_local(v->b, local) || reads_local(v->c, local);
}

/* A store the top-K property is about: to the gate, the keep mask or an argument the output
 * loop writes (the router weights), or of a value read from the probabilities or the mask. */
static bool router_store(const topk_form *f, const tk_ir_stmt *s) {
  return s->kind == TK_S_STORE &&
         (s->arg == f->gate || s->arg == f->keep || out_store(f->out, s->arg) ||
          reads_local(s->value, f->p) || reads_local(s->value, f->taken));
}

/* The statements from the kernel body down to a store (blocks included), outermost first. */
typedef struct store_chain {
  const tk_ir_stmt *items[TK_OBL_MAX_DEPTH * 2];
  int n;
} store_chain;

static const char *innermost_loop(const store_chain *c) {
  for (int i = c->n - 1; i >= 0; i--)
    if (c->items[i]->kind == TK_S_FOR) return c->items[i]->var->name;
  return "(none)";
}

static tk_status refuse(const topk_form *f, const tk_ir_stmt *st, const store_chain *c,
                        const char *why) {
  return tk_status_make(TK_PROOF_FAILED,
                        "kernel %s (%s), class topk: the store to %%%s in loop %s is outside the "
                        "proved selection and not covered by it: %s",
                        f->k->name, tk_verify_obl_target_name(f->k), f->k->args[st->arg].name,
                        innermost_loop(c), why);
}

/* The index in f->block of the chain's statement there, or -1 when the store is elsewhere. */
static int index_in_block(const topk_form *f, const store_chain *c, int *depth) {
  for (int d = 0; d + 1 < c->n; d++)
    if (c->items[d] == f->block)
      for (int i = 0; i < f->block->n; i++)
        if (f->block->stmts[i] == c->items[d + 1]) {
          *depth = d + 1;
          return i;
        }
  return -1;
}

/* Assumes the FOR ranges and IF guards of the chain from `from` down, and runs the
 * straight-line statements that precede the store in its blocks. */
static tk_status enter_chain(topk_ctx *t, const store_chain *c, int from) {
  tk_obl_path path = {0};
  for (int d = 0; d < c->n - 1; d++)
    if (c->items[d]->kind == TK_S_FOR || c->items[d]->kind == TK_S_IF) {
      if (path.n == TK_OBL_MAX_DEPTH) return form_error(t->f->k, "statements nested too deeply");
      path.items[path.n++] = c->items[d];
    }
  tk_verify_obl_path_hyps(t->o, &path, 0);
  for (int d = from; d < c->n - 1; d++) {
    const tk_ir_stmt *b = c->items[d];
    for (int i = 0; b->kind == TK_S_BLOCK && b->stmts[i] != c->items[d + 1]; i++)
      TK_RETURN_IF_ERROR(tk_verify_sym_exec(&t->x, &t->st, b->stmts[i]));
  }
  return TK_STATUS_OK;
}

/* A store after L_out in its block, with p and taken unchanged since: it must write, at a
 * column c of the same row, exactly what the output loop writes there (the output rule). */
static tk_status covered(tk_vctx *v, const topk_form *f, const tk_ir_stmt *st, const store_chain *c,
                         int depth) {
  const tk_ir_arg *arg = &f->k->args[st->arg];
  const tk_ir_stmt *o = out_store(f->out->body, st->arg);
  char words[256];
  snprintf(words, sizeof words,
           "final state: the store to %%%s in loop %s after the output loop writes, at a column "
           "c of the same row, exactly what the output loop writes there",
           arg->name, innermost_loop(c));
  topk_ctx t;
  TK_RETURN_IF_ERROR(begin(&t, v, f, words));
  if (f->renorm) assume_final_sum(&t);
  tk_status s = enter_chain(&t, c, depth);
  if (s) return abandon(&t, s);
  Z3_ast val = tk_verify_sym_val(&t.x, &t.st, st->value);
  Z3_ast at = tk_verify_obl_ix(t.o, st->ix, 0), T = taken(&t);
  tk_verify_obl_bind(t.o, f->out->var, 0, tk_verify_z_int(v, 0));
  Z3_ast col = tk_verify_z_sub2(v, at, tk_verify_obl_ix(t.o, o->ix, 0));
  tk_verify_obl_bind(t.o, f->out->var, 0, col);
  Z3_ast out_at = tk_verify_obl_ix(t.o, o->ix, 0);
  tk_verify_obl_unbind(t.o, f->out->var, 0);
  tk_verify_obl_show(t.o, "column c", col);
  tk_verify_obl_show(t.o, "value", val);
  Z3_ast zero = tk_verify_z_int(v, 0), one = tk_verify_z_int(v, 1);
  tk_verify_obl_show(t.o, "kept[c]", Z3_mk_ite(v->z, sel(&t, T, col), one, zero));
  tk_verify_obl_show(t.o, "p[c]", sel(&t, t.P, col));
  Z3_ast holds = output_holds(&t, arg, T, col, val);
  Z3_ast same_column = eq(&t, out_at, at);
  return finish(&t, and3(&t, in(&t, col, t.E), same_column, holds));
}

static tk_status final_store(tk_vctx *v, const topk_form *f, const tk_ir_stmt *st,
                             const store_chain *c) {
  for (int d = 0; d < c->n; d++)
    if (c->items[d] == f->out) return TK_STATUS_OK; /* proved by outputs() */
  int depth = 0, i = index_in_block(f, c, &depth);
  if (i < f->i_out)
    return refuse(f, st, c, "it is not after the output loop in the output loop's block");
  for (int j = f->i_out + 1; j <= i; j++)
    if (tk_verify_sym_writes_local(f->block->stmts[j], f->p) ||
        tk_verify_sym_writes_local(f->block->stmts[j], f->taken))
      return refuse(f, st, c, "p or taken is written after the output loop");
  if (!out_store(f->out, st->arg))
    return refuse(f, st, c,
                  "it stores the probabilities or the mask where the output loop does not");
  return covered(v, f, st, c, depth);
}

static tk_status final_walk(tk_vctx *v, const topk_form *f, const tk_ir_stmt *s, store_chain *c) {
  if (!s) return TK_STATUS_OK;
  if (c->n == TK_OBL_MAX_DEPTH * 2) return form_error(f->k, "statements nested too deeply");
  c->items[c->n++] = s;
  tk_status st = TK_STATUS_OK;
  if (router_store(f, s)) st = final_store(v, f, s, c);
  for (int i = 0; !st && s->kind == TK_S_BLOCK && i < s->n; i++)
    st = final_walk(v, f, s->stmts[i], c);
  if (!st && (s->kind == TK_S_FOR || s->kind == TK_S_IF)) st = final_walk(v, f, s->body, c);
  c->n--;
  return st;
}

tk_status tk_verify_obl_topk(tk_vctx *v, const tk_ir_kernel *k) {
  for (int i = 0; i < k->contracts.n; i++) {
    const tk_ir_contract *c = &k->contracts.items[i];
    if (c->pred != TK_PRED_TOPK) continue;
    topk_form f;
    TK_RETURN_IF_ERROR(find_form(k, c, &f));
    TK_RETURN_IF_ERROR(init_step(v, &f));
    TK_RETURN_IF_ERROR(init_exit(v, &f));
    TK_RETURN_IF_ERROR(scan_entry(v, &f));
    TK_RETURN_IF_ERROR(scan_step(v, &f));
    TK_RETURN_IF_ERROR(update_step(v, &f));
    TK_RETURN_IF_ERROR(selection_step(v, &f));
    TK_RETURN_IF_ERROR(count(v, &f));
    if (f.renorm) {
      TK_RETURN_IF_ERROR(sum_entry(v, &f));
      TK_RETURN_IF_ERROR(sum_step(v, &f));
      TK_RETURN_IF_ERROR(sum_to_one_step(v, &f));
      TK_RETURN_IF_ERROR(sum_to_one_ends(v, &f));
    }
    TK_RETURN_IF_ERROR(outputs(v, &f));
    store_chain chain = {.n = 0};
    TK_RETURN_IF_ERROR(final_walk(v, &f, k->body, &chain));
  }
  return TK_STATUS_OK;
}
