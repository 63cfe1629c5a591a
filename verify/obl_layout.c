/* verify/obl_layout.c — class `layout`: the CPU weight panels (tk/panel.h, docs/proofs.md).
 *
 * A panel buffer holds a K × N weight, stored row-major (element e = k*N + j) or, for
 * panel_out_in, as its N × K transpose (e = j*K + k), that the runtime packs, for the cpu
 * schedule, into column panels of W columns: element (k, j) goes to P (tk/panel.h's offset,
 * written here in Z3 from the buffer's panel_cols and panel_width; full = W * (N div W)):
 *   P = (j div W) * K*W + k*W + j mod W     if j < full
 *     = full*K + k*(N - full) + (j - full)   otherwise.
 * Obligations:
 *   bijection (module; kernel = the buffer, target cpu), as three queries: every element
 *     (k, j) of [0, K) × [0, N) has P in [0, K*N), below full*K exactly when j < full; two
 *     distinct elements of whole panels, as (k, j div W, j mod W), or of the tail, as
 *     (k, j - full), have distinct places. So no two weights share a slot, and (K*N slots
 *     for K*N weights) none is left empty;
 *   placement (per loop nest of a cpu kernel that reads a panel buffer): at every point of the
 *     loops and guards and every B, each such load's index is P(e) for the element e that its
 *     fused origin reads there (the origin's index under the statement's substitution), and
 *     e = k*N + j (out_in: j*K + k) with 0 <= k < K, 0 <= j < N. An origin of that form is
 *     taken apart syntactically (sound with the range goal: then k = e div N, j = e mod N;
 *     out_in: j = e div K, k = e mod K), which keeps the queries free of a division.
 * Together: wherever the fused kernel reads W[k, j], the cpu kernel reads the packed slot the
 * runtime filled from W[k, j]. The schedule writes the per-tile forms (jt*K*W + k*W + jj); the
 * general formula above is the comparison side.
 * Held values (GPU): a norm epilogue's reads of the GEMM's accumulators; see below.
 */
#include <stdio.h>

#include "verify/verify_internal.h"

static const tk_ir_buffer *panel_buffer(const tk_vctx *v, const tk_ir_kernel *k, int arg) {
  int b = k->args[arg].buffer;
  return b >= 0 && v->m->buffers[b].panel_width ? &v->m->buffers[b] : NULL;
}

static int64_t panel_rows(const tk_ir_buffer *b) { return b->count->c / b->panel_cols; }

static int64_t panel_full(const tk_ir_buffer *b) {
  return b->panel_cols / b->panel_width * b->panel_width;
}

/* P in whole panels from the element's panel jt = j div W and lane jj = j mod W:
 * jt * K*W + k*W + jj. One term per statement (Z3 numbers terms in creation order). */
static Z3_ast panel_place_of(tk_obl *o, const tk_ir_buffer *b, Z3_ast k, Z3_ast jt, Z3_ast jj) {
  tk_vctx *v = o->v;
  int64_t w = b->panel_width;
  Z3_ast panel_start = tk_verify_z_mul_c(v, jt, panel_rows(b) * w);
  Z3_ast row_start = tk_verify_z_mul_c(v, k, w);
  return tk_verify_z_add2(v, tk_verify_z_add2(v, panel_start, row_start), jj);
}

static Z3_ast panel_place(tk_obl *o, const tk_ir_buffer *b, Z3_ast k, Z3_ast j) {
  Z3_ast jt = tk_verify_obl_div(o, j, b->panel_width, false);
  Z3_ast jj = tk_verify_obl_div(o, j, b->panel_width, true);
  return panel_place_of(o, b, k, jt, jj);
}

/* P in the tail from the element's tail column jl = j - full: full*K + k*(N - full) + jl. */
static Z3_ast tail_place_of(tk_obl *o, const tk_ir_buffer *b, Z3_ast k, Z3_ast jl) {
  tk_vctx *v = o->v;
  int64_t full = panel_full(b);
  Z3_ast tail_start = tk_verify_z_int(v, full * panel_rows(b));
  Z3_ast tail_row = tk_verify_z_mul_c(v, k, b->panel_cols - full);
  return tk_verify_z_add2(v, tk_verify_z_add2(v, tail_start, tail_row), jl);
}

static Z3_ast tail_place(tk_obl *o, const tk_ir_buffer *b, Z3_ast k, Z3_ast j) {
  Z3_ast jl = tk_verify_z_sub2(o->v, j, tk_verify_z_int(o->v, panel_full(b)));
  return tail_place_of(o, b, k, jl);
}

static Z3_ast in_panels(tk_vctx *v, const tk_ir_buffer *b, Z3_ast j) {
  return tk_verify_z_cmp(v, TK_CMP_LT, j, tk_verify_z_int(v, panel_full(b)));
}

/* P at element (k, j), 0 <= j < N. */
static Z3_ast panel_offset(tk_obl *o, const tk_ir_buffer *b, Z3_ast k, Z3_ast j) {
  Z3_ast in_panel = panel_place(o, b, k, j);
  Z3_ast in_tail = tail_place(o, b, k, j);
  return Z3_mk_ite(o->v->z, in_panels(o->v, b, j), in_panel, in_tail);
}

/* A fresh element (k, j) of the K × N weight, with its range as a hypothesis. */
static void fresh_element(tk_obl *o, const tk_ir_buffer *b, const char *k_name, Z3_ast *k,
                          const char *j_name, Z3_ast *j) {
  tk_vctx *v = o->v;
  *k = tk_verify_obl_fresh(o, k_name, v->int_sort, true);
  *j = tk_verify_obl_fresh(o, j_name, v->int_sort, true);
  tk_verify_obl_hyp(
      o, tk_verify_z_in(v, tk_verify_z_int(v, 0), *k, tk_verify_z_int(v, panel_rows(b))));
  tk_verify_obl_hyp(
      o, tk_verify_z_in(v, tk_verify_z_int(v, 0), *j, tk_verify_z_int(v, b->panel_cols)));
}

static void begin_buffer(tk_vctx *v, const tk_ir_buffer *b, const char *what) {
  tk_verify_obl_begin(
      v, TK_OBL_LAYOUT, b->name, "cpu", "buffer @%s (%lld x %lld%s, panels of %lld columns): %s",
      b->name, (long long)panel_rows(b), (long long)b->panel_cols,
      b->panel_out_in ? ", stored transposed" : "", (long long)b->panel_width, what);
}

/* Every element's place is in [0, K*N): the panels' below full*K, the tail's from there on
 * (so a panel place and a tail place never meet). */
static tk_status prove_places(tk_vctx *v, const tk_ir_buffer *b) {
  int64_t size = b->count->c, split = panel_full(b) * panel_rows(b);
  begin_buffer(v, b,
               "every element's packed place is in [0, K*N), below full*K exactly for the "
               "columns in whole panels");
  tk_obl *o = tk_verify_obl_cur(v);
  Z3_ast k, j;
  fresh_element(o, b, "k", &k, "j", &j);
  Z3_ast place = panel_offset(o, b, k, j);
  tk_verify_obl_show(o, "place", place);
  tk_verify_obl_part(o, tk_verify_z_in(v, tk_verify_z_int(v, 0), place, tk_verify_z_int(v, size)),
                     "the place of an element is in [0, %lld)", (long long)size);
  Z3_ast below = tk_verify_z_cmp(v, TK_CMP_LT, place, tk_verify_z_int(v, split));
  tk_verify_obl_part(o, Z3_mk_eq(v->z, below, in_panels(v, b, j)),
                     "the place is below %lld exactly when the column is below %lld",
                     (long long)split, (long long)panel_full(b));
  return tk_verify_obl_prove(v);
}

/* A fresh integer in [0, n), shown in counterexamples. */
static Z3_ast fresh_below(tk_obl *o, const char *name, int64_t n) {
  tk_vctx *v = o->v;
  Z3_ast x = tk_verify_obl_fresh(o, name, v->int_sort, true);
  tk_verify_obl_hyp(o, tk_verify_z_in(v, tk_verify_z_int(v, 0), x, tk_verify_z_int(v, n)));
  return x;
}

/* Hypothesis: the elements (a[0..n)) and (b[0..n)), as components, differ. */
static void assume_distinct(tk_obl *o, int n, const Z3_ast *a, const Z3_ast *b) {
  tk_vctx *v = o->v;
  Z3_ast same[3];
  for (int i = 0; i < n; i++) same[i] = Z3_mk_eq(v->z, a[i], b[i]);
  tk_verify_obl_hyp(o, Z3_mk_not(v->z, tk_verify_z_and(v, n, same)));
}

/* Goal: the two places differ. */
static tk_status prove_places_differ(tk_vctx *v, Z3_ast p0, Z3_ast p1) {
  tk_obl *o = tk_verify_obl_cur(v);
  tk_verify_obl_show(o, "place", p0);
  tk_verify_obl_show(o, "other place", p1);
  tk_verify_obl_part(o, Z3_mk_not(v->z, Z3_mk_eq(v->z, p0, p1)),
                     "two distinct elements have distinct places");
  return tk_verify_obl_prove(v);
}

/* Two distinct elements of whole panels have distinct places. The elements are taken as
 * (k, jt, jj) in [0, K) × [0, N div W) × [0, W) — j = jt*W + jj, which by Euclid's
 * division is every j < full exactly once — because the incremental solver finds the same
 * claim over (k, j) with j's quotient and remainder far harder. */
static tk_status prove_panels_distinct(tk_vctx *v, const tk_ir_buffer *b) {
  begin_buffer(v, b, "two distinct elements of whole panels have distinct places");
  tk_obl *o = tk_verify_obl_cur(v);
  int64_t rows = panel_rows(b), panels = b->panel_cols / b->panel_width, w = b->panel_width;
  Z3_ast e0[3], e1[3]; /* k, panel, lane */
  e0[0] = fresh_below(o, "k", rows);
  e0[1] = fresh_below(o, "panel", panels);
  e0[2] = fresh_below(o, "lane", w);
  e1[0] = fresh_below(o, "other_k", rows);
  e1[1] = fresh_below(o, "other_panel", panels);
  e1[2] = fresh_below(o, "other_lane", w);
  assume_distinct(o, 3, e0, e1);
  Z3_ast p0 = panel_place_of(o, b, e0[0], e0[1], e0[2]);
  Z3_ast p1 = panel_place_of(o, b, e1[0], e1[1], e1[2]);
  return prove_places_differ(v, p0, p1);
}

/* Two distinct elements (k, jl = j - full) of the tail columns have distinct places. */
static tk_status prove_tail_distinct(tk_vctx *v, const tk_ir_buffer *b) {
  begin_buffer(v, b, "two distinct elements of the tail columns have distinct places");
  tk_obl *o = tk_verify_obl_cur(v);
  int64_t rows = panel_rows(b), tail = b->panel_cols - panel_full(b);
  Z3_ast e0[2], e1[2]; /* k, tail column */
  e0[0] = fresh_below(o, "k", rows);
  e0[1] = fresh_below(o, "tail_column", tail);
  e1[0] = fresh_below(o, "other_k", rows);
  e1[1] = fresh_below(o, "other_tail_column", tail);
  assume_distinct(o, 2, e0, e1);
  Z3_ast p0 = tail_place_of(o, b, e0[0], e0[1]);
  Z3_ast p1 = tail_place_of(o, b, e1[0], e1[1]);
  return prove_places_differ(v, p0, p1);
}

/* The bijection in three easy queries (one query for all of it is hard for the incremental
 * solver at K = N = 4096): places in range and split at full*K, injective within each side. */
static tk_status prove_bijection(tk_vctx *v, const tk_ir_buffer *b) {
  TK_RETURN_IF_ERROR(prove_places(v, b));
  TK_RETURN_IF_ERROR(prove_panels_distinct(v, b));
  return panel_full(b) < b->panel_cols ? prove_tail_distinct(v, b) : TK_STATUS_OK;
}

tk_status tk_verify_obl_layout_module(tk_vctx *v) {
  for (int i = 0; i < v->m->nbuffers; i++)
    if (v->m->buffers[i].panel_width) TK_RETURN_IF_ERROR(prove_bijection(v, &v->m->buffers[i]));
  return TK_STATUS_OK;
}

static bool reads_panels(const tk_ir_kernel *k, const tk_obl_site *s) {
  (void)k;
  return s->kind == TK_SITE_LOAD && s->val; /* an index read (no value node) reads i32 data */
}

/* The element (k, j) a fused index e reads: for in_out its row and column terms when it has
 * the form k * N + j (then the goal adds 0 <= j < N, which makes them e div N and e mod N),
 * else e div N and e mod N themselves; for out_in (e = j * K + k) the same with K and the two
 * terms swapped. */
static Z3_ast element_of(tk_obl *o, const tk_ir_buffer *b, const tk_ix *origin, Z3_ast *k,
                         Z3_ast *j) {
  tk_vctx *v = o->v;
  int64_t n = b->panel_cols, rows = panel_rows(b);
  int64_t stride = b->panel_out_in ? rows : n; /* the stored row length */
  Z3_ast *major = b->panel_out_in ? j : k, *minor = b->panel_out_in ? k : j;
  Z3_ast e = tk_verify_obl_ix(o, origin, 1);
  if (origin->kind == TK_IX_ADD && origin->a->kind == TK_IX_MUL && origin->a->c == stride) {
    *major = tk_verify_obl_ix(o, origin->a->a, 1);
    *minor = tk_verify_obl_ix(o, origin->b, 1);
  } else {
    *major = tk_verify_obl_div(o, e, stride, false);
    *minor = tk_verify_obl_div(o, e, stride, true);
  }
  Z3_ast zero = tk_verify_z_int(v, 0);
  Z3_ast col_ok = tk_verify_z_in(v, zero, *j, tk_verify_z_int(v, n));
  Z3_ast row_ok = tk_verify_z_in(v, zero, *k, tk_verify_z_int(v, rows));
  return tk_verify_z_and2(v, col_ok, row_ok);
}

/* One conjunct: the load's index is P(its origin's element), the element in range. */
static void placed(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *site,
                   const tk_ir_buffer *b) {
  tk_obl *o = tk_verify_obl_cur(v);
  char what[160], ix[512];
  tk_verify_obl_site_what(k, site, what, sizeof what);
  tk_ir_ix_format(site->ix, ix, sizeof ix);
  const tk_ix *origin = site->val->origin ? site->val->origin->ix : NULL;
  if (!origin) {
    tk_verify_obl_part(o, Z3_mk_false(v->z), "%s at %s has no fused origin", what, ix);
    return;
  }
  tk_verify_obl_bind_source(o, site->stmt->subst, origin);
  Z3_ast row, col;
  Z3_ast in_range = element_of(o, b, origin, &row, &col);
  tk_verify_obl_unbind_source(o, origin);
  Z3_ast index = tk_verify_obl_ix(o, site->ix, 0);
  Z3_ast place = panel_offset(o, b, row, col);
  tk_verify_obl_show(o, "weight row", row);
  tk_verify_obl_show(o, "weight column", col);
  tk_verify_obl_show(o, "index", index);
  tk_verify_obl_show(o, "packed place", place);
  tk_verify_obl_part(o, tk_verify_z_and2(v, in_range, Z3_mk_eq(v->z, index, place)),
                     "%s at %s reads the packed place of the weight its fused load reads", what,
                     ix);
  tk_verify_obl_say(o, "; %s at %s", what, ix);
}

static tk_status layout_group(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *const *group,
                              int n) {
  int panels = 0;
  for (int i = 0; i < n; i++) panels += panel_buffer(v, k, group[i]->arg) != NULL;
  if (!panels) return TK_STATUS_OK;
  char loops[512];
  tk_verify_obl_path_text(group[0]->path, loops, sizeof loops);
  tk_verify_obl_begin(v, TK_OBL_LAYOUT, k->name, tk_verify_obl_target_name(k),
                      "every load of a panel buffer in loops (%s) reads the packed place of the "
                      "weight its fused load reads, for every point of the loops and guards and "
                      "every B in [1, %lld]",
                      loops, (long long)v->bmax);
  tk_verify_obl_path_hyps(tk_verify_obl_cur(v), group[0]->path, 0);
  for (int i = 0; i < n; i++) {
    const tk_ir_buffer *b = panel_buffer(v, k, group[i]->arg);
    if (b) placed(v, k, group[i], b);
  }
  return tk_verify_obl_prove(v);
}

/* ---- held values: a GPU norm epilogue's reads of the GEMM's accumulators ----
 * A launch of a GEMM and its norm epilogue (source_phases = 2, ir/pass_schedule_gpu_rows.c)
 * reads the thread's accumulator acc[p] where the fused norm loads the GEMM's output %h[e]
 * (a local load whose origin is that fused load). Per such read: at every point of its loops
 * and guards, the GEMM's init store of register p in the same thread (the copy of
 * `acc = INIT(j)`, whose substitution names the element the register accumulates) runs — its
 * guards hold there — and the GEMM's fused output store `%h[r*N + j] = acc` at that
 * substitution is the element e. So the register holds the GEMM's value of e. */

static bool held_read(const tk_obl_site *s) {
  return s->kind == TK_SITE_LLOAD && s->val && s->val->origin && s->val->origin->op == TK_V_LOAD;
}

typedef struct arg_store {
  int arg;
  const tk_ir_stmt *found;
} arg_store;

static void find_arg_store(const tk_ir_stmt *s, void *user) {
  arg_store *a = user;
  if (s->kind == TK_S_STORE && s->arg == a->arg && !a->found) a->found = s;
}

/* The init store of a local: the store to it that copies a fused one (the compute store's
 * fma has no origin). */
static const tk_obl_site *init_store(const tk_obl_sites *l, int local) {
  for (int i = 0; i < l->n; i++)
    if (l->items[i].kind == TK_SITE_LSTORE && l->items[i].local == local &&
        l->items[i].stmt->origin)
      return &l->items[i];
  return NULL;
}

static bool on_path(const tk_obl_path *p, const tk_ir_stmt *s) {
  for (int i = 0; i < p->n; i++)
    if (p->items[i] == s) return true;
  return false;
}

/* The element of fused index e at the scheduled point of a statement with substitution sub. */
static Z3_ast source_element(tk_obl *o, const tk_ir_subst *sub, const tk_ix *e) {
  tk_verify_obl_bind_source(o, sub, e);
  Z3_ast elem = tk_verify_obl_ix(o, e, 1);
  tk_verify_obl_unbind_source(o, e);
  return elem;
}

static tk_status held_value(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_sites *l,
                            const tk_obl_site *read) {
  const tk_ir_kernel *f = v->m->kernels.items[k->source];
  const tk_ir_val *load = read->val->origin;
  arg_store out = {.arg = load->arg};
  tk_ir_walk_stmts(f->phases[k->source_phase].body, find_arg_store, &out);
  const tk_obl_site *init = init_store(l, read->local);
  char what[160], ix[512];
  tk_verify_obl_site_what(k, read, what, sizeof what);
  tk_ir_ix_format(read->ix, ix, sizeof ix);
  tk_verify_obl_begin(v, TK_OBL_LAYOUT, k->name, tk_verify_obl_target_name(k),
                      "held value: %s at %s holds the element of %%%s its fused load reads: the "
                      "GEMM's init store of that register in the same thread runs for that "
                      "element, for every point of the loops and guards and every B in [1, %lld]",
                      what, ix, f->args[load->arg].name, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  if (!out.found || !init) {
    tk_verify_obl_part(o, Z3_mk_false(v->z), "%s at %s: the launch has no %s", what, ix,
                       out.found ? "init store of the local" : "GEMM store of the fused argument");
    return tk_verify_obl_prove(v);
  }
  tk_verify_obl_path_hyps(o, read->path, 0);
  Z3_ast runs = Z3_mk_true(v->z); /* the init store's own guards */
  for (int i = 0; i < init->path->n; i++) {
    const tk_ir_stmt *item = init->path->items[i];
    if (on_path(read->path, item)) continue;
    Z3_ast cond = tk_verify_obl_items_cond(o, &init->path->items[i], 1, 0);
    if (item->kind == TK_S_FOR)
      tk_verify_obl_hyp(o, cond);
    else
      runs = tk_verify_z_and2(v, runs, cond);
  }
  Z3_ast reg = tk_verify_obl_ix(o, read->ix, 0); /* right to left: verify_internal.h */
  tk_verify_obl_hyp(o, Z3_mk_eq(v->z, tk_verify_obl_ix(o, init->ix, 0), reg));
  Z3_ast wanted = source_element(o, read->stmt->subst, load->ix);
  Z3_ast held = source_element(o, init->stmt->subst, out.found->ix);
  tk_verify_obl_show(o, "register", reg);
  tk_verify_obl_show(o, "element read", wanted);
  tk_verify_obl_show(o, "element held", held);
  tk_verify_obl_goal(o, tk_verify_z_and2(v, runs, Z3_mk_eq(v->z, held, wanted)));
  return tk_verify_obl_prove(v);
}

static tk_status held_values(tk_vctx *v, const tk_ir_kernel *k) {
  tk_obl_sites l;
  TK_RETURN_IF_ERROR(tk_verify_obl_collect(v, k, &l));
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < l.n; i++)
    if (held_read(&l.items[i])) s = held_value(v, k, &l, &l.items[i]);
  tk_verify_obl_sites_free(&l);
  return s;
}

tk_status tk_verify_obl_layout(tk_vctx *v, const tk_ir_kernel *k) {
  if (k->target == TK_TARGET_GPU && k->source_phases > 1) return held_values(v, k);
  if (k->target != TK_TARGET_CPU) return TK_STATUS_OK;
  return tk_verify_obl_groups(v, k, reads_panels, layout_group);
}
