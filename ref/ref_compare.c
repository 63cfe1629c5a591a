/* ref/ref_compare.c — the conformance check of docs/formats.md §3.
 *
 * A backend's float outputs are compared with the double reference run on the same (float)
 * inputs, padded like the kernels pad. Per element: |got - ref| <= 1e-4 + 1e-3·|ref| (NaN
 * matches only NaN, ±Inf only itself). Per MoE row, the backend's keep set (the non-zero
 * entries of its router weights) must lie inside the reference's, except on a near-tie: when
 * the K-th and (K+1)-th reference probabilities differ, but by less than 1e-6, the set with
 * those two swapped is accepted too, and that row is then compared with the reference run
 * for the swapped set. Exactly equal probabilities are not a near-tie (the lower index wins).
 * A kept expert whose weight is 0 in float (underflow) is judged by the element check alone.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_internal.h"

static void record(tk_ref_report *rep, const char *what, size_t row, size_t col, double got,
                   double ref) {
  rep->mismatches++;
  if (rep->n_shown < TK_REF_SHOWN)
    rep->shown[rep->n_shown++] = (tk_ref_mismatch){what, row, col, got, ref};
}

static void check_value(tk_ref_report *rep, const char *what, size_t row, size_t col, double got,
                        double ref) {
  rep->elements++;
  double diff = fabs(got - ref);
  bool same = got == ref || (isnan(got) && isnan(ref));
  if (same)
    diff = 0; /* equal infinities give inf - inf = NaN */
  else if (isnan(diff))
    diff = INFINITY;
  if (diff > rep->max_diff) {
    rep->max_diff = diff;
    rep->max_row = row;
    rep->max_col = col;
  }
  if (!same && !(diff <= TK_REF_TOL_ABS + TK_REF_TOL_REL * fabs(ref)))
    record(rep, what, row, col, got, ref);
}

/* Reference outputs for the whole batch, and per-row work space. */
typedef struct ref_batch {
  double *x, *logits, *p, *w; /* B × (IN, OUT, E, E), one allocation */
  bool *keep;                 /* B × E, then E for a near-tie's swapped set */
  bool *alt;
  size_t *order; /* E */
} ref_batch;

static void batch_free(ref_batch *rb) {
  free(rb->x);
  free(rb->keep);
  free(rb->order);
}

static tk_status batch_run(const tk_ref_model *m, const float *x, size_t b, ref_batch *rb) {
  size_t in = (size_t)m->arch.input_dim, out = (size_t)m->arch.output_dim;
  size_t e = (size_t)m->arch.n_experts, n_doubles, bytes;
  *rb = (ref_batch){0};
  if (!tk_size_mul(b, in + out + 2 * e, &n_doubles) ||
      !tk_size_mul(n_doubles, sizeof(double), &bytes))
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: batch of %zu rows is too large", b);
  rb->x = malloc(bytes);
  rb->keep = malloc((b + 1) * e * sizeof(bool) + 1);
  rb->order = malloc(e * sizeof(size_t) + 1);
  if (!rb->x || !rb->keep || !rb->order)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory for %zu rows", b);
  rb->logits = rb->x + b * in;
  rb->p = rb->logits + b * out;
  rb->w = rb->p + b * e;
  rb->alt = rb->keep + b * e;
  for (size_t i = 0; i < b * in; i++) rb->x[i] = x[i];
  bool moe = m->arch.model_kind == TK_MODEL_MOE;
  tk_ref_outputs o = {rb->logits, moe ? rb->p : NULL, moe ? rb->w : NULL, moe ? rb->keep : NULL};
  return tk_ref_forward_batch(m, rb->x, b, &o);
}

/* The swapped set of a near-tie in row p, or false when the row has no near-tie. */
static bool near_tie_set(const tk_ref_model *m, const double *p, size_t *order, bool *alt) {
  size_t e = (size_t)m->arch.n_experts, k = (size_t)m->arch.top_k;
  if (k >= e) return false;
  tk_ref_rank_experts(p, e, order);
  double pk = p[order[k - 1]], pk1 = p[order[k]];
  if (pk == pk1 || !(pk - pk1 < TK_REF_NEAR_TIE)) return false; /* exact ties are not near-ties */
  for (size_t i = 0; i < e; i++) alt[i] = false;
  for (size_t i = 0; i < k - 1; i++) alt[order[i]] = true;
  alt[order[k]] = true;
  return true;
}

/* Experts the backend kept (non-zero weight) outside `allowed`. */
static size_t kept_outside(const float *got_w, const bool *allowed, size_t e) {
  size_t n = 0;
  for (size_t i = 0; i < e; i++) n += got_w[i] != 0 && !allowed[i];
  return n;
}

/* Compares one MoE row, choosing the reference set per the near-tie rule. */
static tk_status compare_moe_row(const tk_ref_model *m, ref_batch *rb, size_t r, const float *got_l,
                                 const float *got_w, tk_ref_report *rep) {
  size_t in = (size_t)m->arch.input_dim, out = (size_t)m->arch.output_dim;
  size_t e = (size_t)m->arch.n_experts;
  double *ref_l = rb->logits + r * out, *ref_w = rb->w + r * e;
  const bool *keep = rb->keep + r * e;
  if (kept_outside(got_w, keep, e)) {
    if (near_tie_set(m, rb->p + r * e, rb->order, rb->alt) && !kept_outside(got_w, rb->alt, e)) {
      tk_ref_outputs o = {ref_l, NULL, ref_w, NULL}; /* row r again, for the swapped set */
      TK_RETURN_IF_ERROR(tk_ref_forward_row_keep(m, rb->x + r * in, rb->alt, &o));
      rep->near_tie_rows++;
    } else {
      for (size_t i = 0; i < e; i++)
        if (got_w[i] != 0 && !keep[i]) record(rep, "keep_set", r, i, got_w[i], ref_w[i]);
    }
  }
  for (size_t i = 0; i < e; i++) check_value(rep, "router_weights", r, i, got_w[i], ref_w[i]);
  for (size_t o = 0; o < out; o++) check_value(rep, "logits", r, o, got_l[o], ref_l[o]);
  return TK_STATUS_OK;
}

tk_status tk_ref_compare(const tk_ref_model *model, const float *x, size_t batch,
                         const float *got_logits, const float *got_w, tk_ref_report *report) {
  memset(report, 0, sizeof *report);
  bool moe = model->arch.model_kind == TK_MODEL_MOE;
  if (batch == 0 || moe != (got_w != NULL))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "reference: compare needs B >= 1 (got %zu) and router weights exactly "
                          "for MoE",
                          batch);
  ref_batch rb;
  tk_status status = batch_run(model, x, batch, &rb);
  size_t out = (size_t)model->arch.output_dim, e = (size_t)model->arch.n_experts;
  for (size_t r = 0; r < batch && !status; r++) {
    report->rows++;
    if (moe) {
      status = compare_moe_row(model, &rb, r, got_logits + r * out, got_w + r * e, report);
    } else {
      for (size_t o = 0; o < out; o++)
        check_value(report, "logits", r, o, got_logits[r * out + o], rb.logits[r * out + o]);
    }
  }
  batch_free(&rb);
  return status;
}

void tk_ref_report_print(const tk_ref_report *report, FILE *out) {
  fprintf(out,
          "conformance: %zu rows, %zu elements, %zu mismatches (tolerance %g + %g*|ref|), "
          "%zu near-tie rows, max diff %.3g at row %zu col %zu\n",
          report->rows, report->elements, report->mismatches, TK_REF_TOL_ABS, TK_REF_TOL_REL,
          report->near_tie_rows, report->max_diff, report->max_row, report->max_col);
  for (size_t i = 0; i < report->n_shown; i++) {
    const tk_ref_mismatch *mm = &report->shown[i];
    fprintf(out, "  %s (row %zu, col %zu): got %.9g, ref %.9g, diff %.3g\n", mm->what, mm->row,
            mm->col, mm->got, mm->ref, fabs(mm->got - mm->ref));
  }
}
