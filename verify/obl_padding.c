/* verify/obl_padding.c — class `padding` (docs/formats.md §3 "Batch handling").
 *
 * Module level (target graph, kernel `module`): the Bp the module defines (its bp_padded
 * contract, the rule the host stub computes) is a multiple of Q, B <= Bp < B + Q, Bp >= Q,
 * for every B in [1, Bmax], where Q = TK_PAD_QUANTUM (tk/launch.h).
 * Kernel level, per schedule: every load of the caller's input (role in, or an argument with
 * a reads_clamped contract) reads a real row — row = index div cols in [0, rows) with rows = B
 * — and every clamp min(r, B - 1) inside the index is in [0, B), for every r < Bp the loops
 * reach; every store to a caller's output (role out) writes only rows in [0, B) (the guards and
 * extents of the last kernel). Coverage of those rows is the race class's coverage obligation.
 */
#include <stdio.h>

#include "verify/verify_internal.h"
#include "tk/launch.h"

static tk_status bp_rule(tk_vctx *v, const char *words, int which) {
  tk_verify_obl_begin(v, TK_OBL_PADDING, "module", "graph",
                      "Bp = max(%lld, %lld * ceil(B / %lld)) %s for every B in [1, %lld]",
                      (long long)v->bp_quantum, (long long)v->bp_quantum, (long long)v->bp_quantum,
                      words, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast B = o->B, Bp = o->Bp, g = NULL, q = tk_verify_z_int(v, TK_PAD_QUANTUM);
  switch (which) {
    case 0: { /* the numeral first: verify_internal.h, term order */
      Z3_ast zero = tk_verify_z_int(v, 0);
      g = Z3_mk_eq(v->z, tk_verify_obl_div(o, Bp, TK_PAD_QUANTUM, true), zero);
      break;
    }
    case 1: g = Z3_mk_le(v->z, B, Bp); break;
    case 2: g = Z3_mk_lt(v->z, Bp, tk_verify_z_add2(v, B, q)); break;
    default: g = Z3_mk_ge(v->z, Bp, q); break;
  }
  tk_verify_obl_goal(o, g);
  return tk_verify_obl_prove(v);
}

tk_status tk_verify_obl_padding_module(tk_vctx *v) {
  char rules[4][48];
  snprintf(rules[0], sizeof rules[0], "is a multiple of %d", TK_PAD_QUANTUM);
  snprintf(rules[1], sizeof rules[1], "is at least B");
  snprintf(rules[2], sizeof rules[2], "is less than B + %d", TK_PAD_QUANTUM);
  snprintf(rules[3], sizeof rules[3], "is at least %d", TK_PAD_QUANTUM);
  for (int i = 0; i < 4; i++) TK_RETURN_IF_ERROR(bp_rule(v, rules[i], i));
  return TK_STATUS_OK;
}

static bool reads_clamped(const tk_ir_kernel *k, int arg) {
  if (k->args[arg].role == TK_ROLE_IN) return true;
  for (int i = 0; i < k->contracts.n; i++)
    if (k->contracts.items[i].pred == TK_PRED_READS_CLAMPED && k->contracts.items[i].a == arg)
      return true;
  return false;
}

static bool is_clamp(const tk_ix *e) {
  if (e->kind != TK_IX_MIN) return false;
  const tk_ix *b = e->b;
  return b->kind == TK_IX_SUB && b->a->kind == TK_IX_SYM && b->a->sym == TK_SYM_B &&
         b->b->kind == TK_IX_CONST && b->b->c == 1;
}

/* 0 <= c < B for every clamp node c of e. */
static Z3_ast clamps_real(tk_obl *o, const tk_ix *e, Z3_ast acc) {
  if (!e) return acc;
  tk_vctx *v = o->v;
  if (is_clamp(e)) {
    Z3_ast c = tk_verify_obl_ix(o, e, 0);
    tk_verify_obl_show(o, "clamped row", c);
    acc = tk_verify_z_and2(v, acc, tk_verify_z_in(v, tk_verify_z_int(v, 0), c, o->B));
  }
  return clamps_real(o, e->b, clamps_real(o, e->a, acc));
}

static bool padding_wanted(const tk_ir_kernel *k, const tk_obl_site *site) {
  return (site->kind == TK_SITE_LOAD && reads_clamped(k, site->arg)) ||
         (site->kind == TK_SITE_STORE && k->args[site->arg].role == TK_ROLE_OUT);
}

/* The conjunct of one load of the caller's input or store to a caller's output. */
static void padding_site(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *site) {
  tk_obl *o = tk_verify_obl_cur(v);
  bool in = site->kind == TK_SITE_LOAD;
  const tk_ir_arg *arg = &k->args[site->arg];
  char ix[512];
  tk_ir_ix_format(site->ix, ix, sizeof ix);
  Z3_ast idx = tk_verify_obl_ix(o, site->ix, 0);
  Z3_ast row = tk_verify_obl_div(o, idx, arg->cols > 0 ? arg->cols : 1, false);
  tk_verify_obl_show(o, "index", idx);
  tk_verify_obl_show(o, "row", row);
  Z3_ast real_row = Z3_mk_lt(v->z, row, o->B); /* first: verify_internal.h, term order */
  Z3_ast ok = tk_verify_z_and2(v, Z3_mk_le(v->z, tk_verify_z_int(v, 0), idx), real_row);
  if (in) ok = clamps_real(o, site->ix, ok);
  tk_verify_obl_part(
      o, ok,
      in ? "load of the caller's input %%%s at %s reads a real row (row in [0, B), every clamp min(r, B - 1) in [0, B))"
         : "store to the caller's output %%%s at %s writes only rows in [0, B)",
      arg->name, ix);
  tk_verify_obl_say(
      o,
      in ? "; load of the caller's input %%%s at %s reads a real row in [0, B), clamps min(r, B - 1) in [0, B)"
         : "; store to the caller's output %%%s at %s writes only rows in [0, B)",
      arg->name, ix);
}

static tk_status padding_group(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *const *group,
                               int n) {
  char loops[512];
  tk_verify_obl_path_text(group[0]->path, loops, sizeof loops);
  tk_verify_obl_begin(v, TK_OBL_PADDING, k->name, tk_verify_obl_target_name(k),
                      "in loops (%s), for every r < Bp the loops reach and every B in [1, %lld]",
                      loops, (long long)v->bmax);
  tk_verify_obl_path_hyps(tk_verify_obl_cur(v), group[0]->path, 0);
  for (int i = 0; i < n; i++) padding_site(v, k, group[i]);
  return tk_verify_obl_prove(v);
}

tk_status tk_verify_obl_padding_kernel(tk_vctx *v, const tk_ir_kernel *k) {
  return tk_verify_obl_groups(v, k, padding_wanted, padding_group);
}
