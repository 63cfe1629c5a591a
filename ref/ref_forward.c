/* ref/ref_forward.c — the forward pass of docs/formats.md §3, in double precision.
 *
 * Dimension legend: IN = input_dim, H = hidden_dim, OUT = output_dim, E = n_experts,
 * K = top_k, I = TK_DENSE_INTERMEDIATE, D = expert_depth.
 *
 * MoE, per row x (IN):
 *   r = x·Wr + br (E); p = softmax(r) with the max subtracted; keep = top K of p, equal p to
 *   the lower index; w[e] = p[e] if kept else exactly 0 (no renormalisation);
 *   y = Σ_{e kept, ascending e} w[e]·Expert_e(x); masked experts are never evaluated.
 *   Expert = Linear(IN,H) → LN → act, D × [Linear(H,H) → LN → act], Linear(H,OUT).
 * Dense, per row: h = act(LN(Linear(IN,H)(x))); D × h = h + Linear(I,H)(act(Linear(H,I)(LN(h))));
 *   y = Linear(H,OUT)(h).
 * LN(v) = (v - mean)/sqrt(var + eps)·gamma + beta, biased variance. act = gelu_tanh or gelu.
 * The tensors are read in checkpoint order through a cursor that moves 2 per Linear or LN.
 * Batches are padded as the kernels do: Bp rows, row r reads input row min(r, B-1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_internal.h"

/* Per-call work space. */
typedef struct ref_scratch {
  double *a, *b, *c, *d; /* H each */
  double *u;             /* I (Dense) */
  double *o;             /* OUT: one expert's output */
  double *r;             /* E: router logits */
  double *p, *w;         /* E: used when the caller passes none */
  bool *keep;            /* E */
  void *block;
} ref_scratch;

static tk_status scratch_create(const tk_arch *a, ref_scratch *s) {
  size_t h = (size_t)a->hidden_dim, e = (size_t)a->n_experts;
  size_t u = a->model_kind == TK_MODEL_DENSE ? TK_DENSE_INTERMEDIATE : 0;
  size_t n = 4 * h + u + (size_t)a->output_dim + 3 * e;
  s->block = malloc(n * sizeof(double) + e * sizeof(bool) + 1);
  if (!s->block)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory for scratch");
  double *next = s->block;
  s->a = next, next += h;
  s->b = next, next += h;
  s->c = next, next += h;
  s->d = next, next += h;
  s->u = next, next += u;
  s->o = next, next += a->output_dim;
  s->r = next, next += e;
  s->p = next, next += e;
  s->w = next, next += e;
  s->keep = (bool *)next;
  return TK_STATUS_OK;
}

/* ---- Layers --------------------------------------------------------------------------------- */

/* y = x·W + b for the Linear whose weight is tensor *t (then bias); advances *t past both. */
static void linear(const tk_ref_model *m, size_t *t, const double *x, double *y) {
  const tk_ref_tensor *spec = &m->tensors[*t];
  const double *w = m->data[*t], *bias = m->data[*t + 1];
  size_t in = spec->in, out = spec->out;
  for (size_t o = 0; o < out; o++) y[o] = bias[o];
  for (size_t i = 0; i < in; i++) {
    const double xi = x[i], *wi = w + i * out;
    for (size_t o = 0; o < out; o++) y[o] += xi * wi[o];
  }
  *t += 2;
}

/* v = (v - mean)/sqrt(var + eps)·gamma + beta in place, tensor *t = gamma; advances *t by 2. */
static void layer_norm(const tk_ref_model *m, size_t *t, double *v) {
  size_t n = m->tensors[*t].out;
  const double *gamma = m->data[*t], *beta = m->data[*t + 1];
  double mean = 0, var = 0;
  for (size_t i = 0; i < n; i++) mean += v[i];
  mean /= (double)n;
  for (size_t i = 0; i < n; i++) var += (v[i] - mean) * (v[i] - mean);
  var /= (double)n; /* biased */
  double inv = 1.0 / sqrt(var + m->arch.layer_norm_eps);
  for (size_t i = 0; i < n; i++) v[i] = (v[i] - mean) * inv * gamma[i] + beta[i];
  *t += 2;
}

static void activate(const tk_ref_model *m, double *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = v[i];
    if (m->arch.hidden_act == TK_ACT_GELU_TANH)
      v[i] = 0.5 * x * (1.0 + tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
    else
      v[i] = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
  }
}

/* ---- Router --------------------------------------------------------------------------------- */

static void softmax(const double *r, size_t n, double *p) {
  double max = r[0], sum = 0;
  for (size_t e = 1; e < n; e++) max = r[e] > max ? r[e] : max;
  for (size_t e = 0; e < n; e++) sum += p[e] = exp(r[e] - max);
  for (size_t e = 0; e < n; e++) p[e] /= sum;
}

void tk_ref_rank_experts(const double *p, size_t n_experts, size_t *order) {
  for (size_t e = 0; e < n_experts; e++) order[e] = e;
  /* Insertion sort, stable: a later expert moves ahead only on strictly larger p. */
  for (size_t i = 1; i < n_experts; i++) {
    size_t e = order[i], j = i;
    while (j > 0 && p[e] > p[order[j - 1]]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = e;
  }
}

static tk_status top_k(const double *p, size_t n_experts, size_t k, bool *keep) {
  size_t *order = malloc(n_experts * sizeof(size_t));
  if (!order) return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory");
  tk_ref_rank_experts(p, n_experts, order);
  for (size_t e = 0; e < n_experts; e++) keep[e] = false;
  for (size_t i = 0; i < k; i++) keep[order[i]] = true;
  free(order);
  return TK_STATUS_OK;
}

/* ---- Model bodies --------------------------------------------------------------------------- */

/* Expert e's output for x into s->o. */
static void expert_forward(const tk_ref_model *m, size_t e, const double *x, ref_scratch *s) {
  size_t h = (size_t)m->arch.hidden_dim;
  size_t t = 2 + e * tk_ref_expert_tensor_count(&m->arch);
  double *cur = s->a, *next = s->b;
  linear(m, &t, x, cur);
  layer_norm(m, &t, cur);
  activate(m, cur, h);
  for (int32_t d = 0; d < m->arch.expert_depth; d++) {
    linear(m, &t, cur, next);
    layer_norm(m, &t, next);
    activate(m, next, h);
    double *tmp = cur;
    cur = next;
    next = tmp;
  }
  linear(m, &t, cur, s->o);
}

/* The router part: p and, unless given, the keep set; then the weighted sum of kept experts. */
static tk_status moe_forward(const tk_ref_model *m, const double *x, const bool *keep_in,
                             ref_scratch *s, const tk_ref_outputs *out) {
  size_t n_e = (size_t)m->arch.n_experts, n_out = (size_t)m->arch.output_dim;
  double *p = out->p ? out->p : s->p, *w = out->w ? out->w : s->w;
  bool *keep = out->keep ? out->keep : s->keep;
  size_t t = 0;
  linear(m, &t, x, s->r);
  softmax(s->r, n_e, p);
  if (keep_in)
    memcpy(keep, keep_in, n_e * sizeof(bool));
  else
    TK_RETURN_IF_ERROR(top_k(p, n_e, (size_t)m->arch.top_k, keep));
  for (size_t e = 0; e < n_e; e++) w[e] = keep[e] ? p[e] : 0.0;
  for (size_t o = 0; o < n_out; o++) out->logits[o] = 0.0;
  for (size_t e = 0; e < n_e; e++) { /* ascending e */
    if (!keep[e]) continue;
    expert_forward(m, e, x, s);
    for (size_t o = 0; o < n_out; o++) out->logits[o] += w[e] * s->o[o];
  }
  return TK_STATUS_OK;
}

static void dense_forward(const tk_ref_model *m, const double *x, ref_scratch *s, double *logits) {
  size_t h = (size_t)m->arch.hidden_dim, t = 0;
  linear(m, &t, x, s->a);
  layer_norm(m, &t, s->a);
  activate(m, s->a, h);
  for (int32_t d = 0; d < m->arch.expert_depth; d++) {
    memcpy(s->b, s->a, h * sizeof(double));
    layer_norm(m, &t, s->b);
    linear(m, &t, s->b, s->u);
    activate(m, s->u, TK_DENSE_INTERMEDIATE);
    linear(m, &t, s->u, s->c);
    for (size_t i = 0; i < h; i++) s->a[i] += s->c[i]; /* residual */
  }
  linear(m, &t, s->a, logits);
}

static tk_status row_forward(const tk_ref_model *m, const double *x, const bool *keep_in,
                             ref_scratch *s, const tk_ref_outputs *out) {
  if (m->arch.model_kind == TK_MODEL_MOE) return moe_forward(m, x, keep_in, s, out);
  dense_forward(m, x, s, out->logits);
  return TK_STATUS_OK;
}

/* ---- Public entry points -------------------------------------------------------------------- */

static tk_status check_outputs(const tk_ref_model *m, const tk_ref_outputs *out) {
  if (!out->logits)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: outputs need a logits buffer");
  if (m->arch.model_kind == TK_MODEL_DENSE && (out->p || out->w || out->keep))
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: a Dense model has no router outputs");
  return TK_STATUS_OK;
}

static tk_status run_row(const tk_ref_model *m, const double *x, const bool *keep_in,
                         const tk_ref_outputs *out) {
  TK_RETURN_IF_ERROR(check_outputs(m, out));
  ref_scratch s;
  TK_RETURN_IF_ERROR(scratch_create(&m->arch, &s));
  tk_status status = row_forward(m, x, keep_in, &s, out);
  free(s.block);
  return status;
}

tk_status tk_ref_forward_row(const tk_ref_model *model, const double *x,
                             const tk_ref_outputs *out) {
  return run_row(model, x, NULL, out);
}

tk_status tk_ref_forward_row_keep(const tk_ref_model *model, const double *x, const bool *keep,
                                  const tk_ref_outputs *out) {
  if (model->arch.model_kind != TK_MODEL_MOE)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: a keep set needs an MoE model");
  int32_t kept = 0;
  for (int32_t e = 0; e < model->arch.n_experts; e++) kept += keep[e];
  if (kept != model->arch.top_k)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: keep set has %d experts, top_k is %d",
                          kept, model->arch.top_k);
  return run_row(model, x, keep, out);
}

size_t tk_ref_padded_batch(size_t batch) {
  size_t bp = (batch + 15) / 16 * 16; /* docs/formats.md §3: max(16, 16·ceil(B/16)) */
  return bp < 16 ? 16 : bp;
}

/* Row r of an output array with `width` values per row, or NULL when the array is absent. */
static double *row_of(double *base, size_t r, size_t width) {
  return base ? base + r * width : NULL;
}

tk_status tk_ref_forward_batch(const tk_ref_model *model, const double *x, size_t batch,
                               const tk_ref_outputs *out) {
  if (batch == 0) return tk_status_make(TK_INVALID_ARGUMENT, "reference: empty batch");
  TK_RETURN_IF_ERROR(check_outputs(model, out));
  const tk_arch *a = &model->arch;
  size_t in = (size_t)a->input_dim, n_out = (size_t)a->output_dim, n_e = (size_t)a->n_experts;
  ref_scratch s;
  TK_RETURN_IF_ERROR(scratch_create(a, &s));
  double *pad_logits = malloc((n_out + 2 * n_e) * sizeof(double) + n_e * sizeof(bool) + 1);
  tk_status status =
      pad_logits ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory");
  bool moe = a->model_kind == TK_MODEL_MOE;
  size_t bp = tk_ref_padded_batch(batch);
  for (size_t r = 0; r < bp && !status; r++) {
    const double *xr = x + (r < batch ? r : batch - 1) * in; /* padding repeats row B-1 */
    tk_ref_outputs row = {pad_logits, moe ? pad_logits + n_out : NULL,
                          moe ? pad_logits + n_out + n_e : NULL,
                          moe ? (bool *)(pad_logits + n_out + 2 * n_e) : NULL};
    if (r < batch) /* real rows go to the caller; padded rows are computed and dropped */
      row = (tk_ref_outputs){row_of(out->logits, r, n_out), row_of(out->p, r, n_e),
                             row_of(out->w, r, n_e), out->keep ? out->keep + r * n_e : NULL};
    status = row_forward(model, xr, NULL, &s, &row);
  }
  free(pad_logits);
  free(s.block);
  return status;
}
