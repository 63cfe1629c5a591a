/* verify/obl_overflow.c — class `no_overflow`: every index computation fits the integer width
 * codegen uses for it. Index maps, loop extents and guards are computed in the kernel's
 * index_bits (32 or 64, signed); an INDEX value (an index converted to an i32 value) must fit
 * int32 whatever index_bits is. For each site, every non-constant subexpression of its tk_ix
 * trees is proved inside the signed range for every point of the enclosing loops and guards
 * and every B (one obligation per loop nest, one conjunct per site); constant-only trees are
 * checked here directly (no solver needed). Per kernel,
 * the launch's largest global id, grid * workgroup_size - 1, fits the same range (GPU thread
 * ids are computed as wg * WG + t in that width; CPU block ids likewise).
 */
#include <stdio.h>

#include "verify/verify_internal.h"

typedef struct range {
  int64_t lo, hi;
} range;

/* The signed range of a bits-wide integer (index_bits is 32 or 64 from the scheduler; any
 * width in [2, 64] is checked as it says, so a too-narrow width is refuted, never widened). */
static range width_range(int bits) {
  if (bits >= 64 || bits < 2) return (range){INT64_MIN, INT64_MAX};
  int64_t hi = (INT64_C(1) << (bits - 1)) - 1;
  return (range){-hi - 1, hi};
}

/* Appends lo <= e <= hi for every non-constant subexpression of e. */
static void collect(tk_obl *o, const tk_ix *e, range r, Z3_ast *conj, int *n, int cap) {
  if (!e || e->kind == TK_IX_CONST || *n >= cap) return;
  tk_vctx *v = o->v;
  Z3_ast t = tk_verify_obl_ix(o, e, 0);
  conj[(*n)++] = tk_verify_z_within(v, r.lo, t, r.hi);
  collect(o, e->a, r, conj, n, cap);
  collect(o, e->b, r, conj, n, cap);
}

static int count_nodes(const tk_ix *e) { return e ? 1 + count_nodes(e->a) + count_nodes(e->b) : 0; }

/* A constant-only tree: every node is a constant after folding, so only the root matters. */
static tk_status check_const(const tk_ir_kernel *k, const tk_ix *e, range r, const char *what) {
  if (!e || e->kind != TK_IX_CONST || (e->c >= r.lo && e->c <= r.hi)) return TK_STATUS_OK;
  return tk_status_make(
      TK_PROOF_FAILED,
      "obligation no_overflow in kernel %s (%s) refuted: %s: constant %lld does not fit its width [%lld, %lld]",
      k->name, tk_verify_obl_target_name(k), what, (long long)e->c, (long long)r.lo,
      (long long)r.hi);
}

static bool site_bits(const tk_ir_kernel *k, const tk_obl_site *site, int *bits) {
  *bits = site->kind == TK_SITE_INDEX ? 32 : k->index_bits;
  return *bits == 16 || *bits == 32 || *bits == 64; /* 16: never scheduled, but provable */
}

static bool has_var_tree(const tk_ir_kernel *k, const tk_obl_site *s) {
  (void)k;
  return (s->ix && s->ix->kind != TK_IX_CONST) || (s->ix2 && s->ix2->kind != TK_IX_CONST);
}

/* The conjunct for one site: every non-constant subexpression in the signed range. */
static tk_status site_fits(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *site) {
  tk_obl *o = tk_verify_obl_cur(v);
  int bits;
  if (!site_bits(k, site, &bits))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "kernel %s (%s): index_bits is %d, expected 16, 32 or 64", k->name,
                          tk_verify_obl_target_name(k), k->index_bits);
  range r = width_range(bits);
  char what[160], ix[512];
  tk_verify_obl_site_what(k, site, what, sizeof what);
  tk_ir_ix_format(site->ix, ix, sizeof ix);
  enum { CAP = 256 };
  Z3_ast conj[CAP];
  int n = 0;
  if (count_nodes(site->ix) + count_nodes(site->ix2) > CAP)
    return tk_status_make(TK_INTERNAL,
                          "verifier: index expression in kernel %s too large (%d nodes)", k->name,
                          count_nodes(site->ix) + count_nodes(site->ix2));
  collect(o, site->ix, r, conj, &n, CAP);
  collect(o, site->ix2, r, conj, &n, CAP);
  tk_verify_obl_show(o, "value", tk_verify_obl_ix(o, site->ix, 0));
  tk_verify_obl_part(o, tk_verify_z_and(v, n, conj), "%s: every subexpression of %s%s fits int%d",
                     what, ix, site->ix2 ? " and of the right-hand side" : "", bits);
  tk_verify_obl_say(o, "; %s %s (int%d)", what, ix, bits);
  return TK_STATUS_OK;
}

static tk_status overflow_group(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *const *group,
                                int n) {
  char loops[512];
  tk_verify_obl_path_text(group[0]->path, loops, sizeof loops);
  tk_verify_obl_begin(
      v, TK_OBL_NO_OVERFLOW, k->name, tk_verify_obl_target_name(k),
      "every index computation in loops (%s) fits its integer width for every point of the loops and guards "
      "and every B in [1, %lld]",
      loops, (long long)v->bmax);
  tk_verify_obl_path_hyps(tk_verify_obl_cur(v), group[0]->path, 0);
  for (int i = 0; i < n; i++) TK_RETURN_IF_ERROR(site_fits(v, k, group[i]));
  return tk_verify_obl_prove(v);
}

/* Constant-only trees are checked here; the rest go to the solver, grouped by loop nest. */
static tk_status constants_fit(tk_vctx *v, const tk_ir_kernel *k) {
  tk_obl_sites l;
  TK_RETURN_IF_ERROR(tk_verify_obl_collect(v, k, &l));
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < l.n; i++) {
    int bits;
    char what[160];
    tk_verify_obl_site_what(k, &l.items[i], what, sizeof what);
    if (!site_bits(k, &l.items[i], &bits))
      s = tk_status_make(TK_INVALID_ARGUMENT,
                         "kernel %s (%s): index_bits is %d, expected 16, 32 or 64", k->name,
                         tk_verify_obl_target_name(k), k->index_bits);
    if (!s) s = check_const(k, l.items[i].ix, width_range(bits), what);
    if (!s) s = check_const(k, l.items[i].ix2, width_range(bits), what);
  }
  tk_verify_obl_sites_free(&l);
  return s;
}

static tk_status launch_fits(tk_vctx *v, const tk_ir_kernel *k) {
  char grid[256];
  tk_ir_ix_format(k->launch.grid, grid, sizeof grid);
  int64_t wg = k->launch.workgroup_size > 0 ? k->launch.workgroup_size : 1;
  range r = width_range(k->index_bits);
  tk_verify_obl_begin(
      v, TK_OBL_NO_OVERFLOW, k->name, tk_verify_obl_target_name(k),
      "launch: the largest global id (%s) * %lld - 1 fits int%d for every B in [1, %lld]", grid,
      (long long)wg, k->index_bits, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast g = tk_verify_obl_ix(o, k->launch.grid, 0);
  Z3_ast one = tk_verify_z_int(v, 1); /* first: verify_internal.h, term order */
  Z3_ast last = tk_verify_z_sub2(v, tk_verify_z_mul_c(v, g, wg), one);
  tk_verify_obl_show(o, "grid", g);
  tk_verify_obl_show(o, "last id", last);
  Z3_ast last_fits = Z3_mk_le(v->z, last, tk_verify_z_int(v, r.hi)); /* first */
  tk_verify_obl_goal(o, tk_verify_z_and2(v, Z3_mk_le(v->z, tk_verify_z_int(v, 0), g), last_fits));
  return tk_verify_obl_prove(v);
}

tk_status tk_verify_obl_overflow(tk_vctx *v, const tk_ir_kernel *k) {
  TK_RETURN_IF_ERROR(constants_fit(v, k));
  TK_RETURN_IF_ERROR(tk_verify_obl_groups(v, k, has_var_tree, overflow_group));
  if (k->index_bits != 32 && k->index_bits != 64)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "kernel %s (%s): index_bits is %d, expected 16, 32 or 64", k->name,
                          tk_verify_obl_target_name(k), k->index_bits);
  if (!k->launch.grid)
    return tk_status_make(TK_INVALID_ARGUMENT, "kernel %s (%s): no launch grid", k->name,
                          tk_verify_obl_target_name(k));
  return launch_fits(v, k);
}
