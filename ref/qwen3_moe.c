/* ref/qwen3_moe.c — the Qwen3-MoE sparse block in double precision (ref/qwen3_moe.h).
 *
 * Plain loops in the order of the formulas, one token at a time, no allocation: the router's
 * probabilities and the expert's intermediate activations live in fixed stack arrays bounded
 * by the limits below (Qwen3-30B-A3B: E = 128, I = 768, well inside them).
 */
#include "ref/qwen3_moe.h"

#include <math.h>
#include <string.h>

enum {
  MAX_EXPERTS = 512,      /* bound of the per-token router arrays */
  MAX_INTERMEDIATE = 8192 /* bound of the per-expert activation array */
};

static tk_status check_dims(const tk_ref_qwen3_moe_dims *d) {
  if (!d->hidden || !d->experts || !d->top_k || !d->intermediate)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "qwen3_moe reference: hidden %u, experts %u, top_k %u, intermediate %u: "
                          "each must be at least 1",
                          d->hidden, d->experts, d->top_k, d->intermediate);
  if (d->top_k > d->experts)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "qwen3_moe reference: top_k %u, expected at most experts = %u", d->top_k,
                          d->experts);
  if (d->experts > MAX_EXPERTS || d->intermediate > MAX_INTERMEDIATE)
    return tk_status_make(TK_OUT_OF_RANGE,
                          "qwen3_moe reference: experts %u, intermediate %u: limits %d and %d",
                          d->experts, d->intermediate, MAX_EXPERTS, MAX_INTERMEDIATE);
  return TK_STATUS_OK;
}

/* y[r] = Σ_c W[r, c] · v[c] for W [rows, cols] row-major. */
static void matvec(const double *w, const double *v, uint32_t rows, uint32_t cols, double *y) {
  for (uint32_t r = 0; r < rows; r++) {
    double acc = 0;
    for (uint32_t c = 0; c < cols; c++) acc += w[(size_t)r * cols + c] * v[c];
    y[r] = acc;
  }
}

static double silu(double z) { return z / (1.0 + exp(-z)); }

/* p = softmax(logits) over n values (the max subtracted first, which changes nothing exactly). */
static void softmax(const double *logits, uint32_t n, double *p) {
  double max = logits[0], sum = 0;
  for (uint32_t e = 1; e < n; e++) max = logits[e] > max ? logits[e] : max;
  for (uint32_t e = 0; e < n; e++) sum += p[e] = exp(logits[e] - max);
  for (uint32_t e = 0; e < n; e++) p[e] /= sum;
}

/* The K largest of p, largest first; scanning ids upwards with a strict '>' keeps the lower id
 * of two equal values. */
static void top_k(const double *p, uint32_t n, uint32_t k, int32_t *ids) {
  bool taken[MAX_EXPERTS] = {false};
  for (uint32_t j = 0; j < k; j++) {
    int32_t best = -1;
    for (uint32_t e = 0; e < n; e++)
      if (!taken[e] && (best < 0 || p[e] > p[best])) best = (int32_t)e;
    taken[best] = true;
    ids[j] = best;
  }
}

/* out += w · down_e(silu(gate_e x) ⊙ up_e x). */
static void add_expert(const tk_ref_qwen3_moe_dims *d, const tk_ref_qwen3_moe_weights *wt,
                       uint32_t e, const double *x, double w, double *out) {
  uint32_t h = d->hidden, i = d->intermediate;
  size_t in_size = (size_t)i * h; /* gate_e, up_e [I, H]; down_e [H, I]: same size */
  double gate[MAX_INTERMEDIATE], up[MAX_INTERMEDIATE];
  matvec(wt->gate_proj + e * in_size, x, i, h, gate);
  matvec(wt->up_proj + e * in_size, x, i, h, up);
  for (uint32_t r = 0; r < i; r++) gate[r] = silu(gate[r]) * up[r];
  const double *down = wt->down_proj + e * in_size;
  for (uint32_t r = 0; r < h; r++) {
    double acc = 0;
    for (uint32_t c = 0; c < i; c++) acc += down[(size_t)r * i + c] * gate[c];
    out[r] += w * acc;
  }
}

static void forward_token(const tk_ref_qwen3_moe_dims *d, const tk_ref_qwen3_moe_weights *wt,
                          const double *x, double *out, int32_t *ids, double *weights) {
  double logits[MAX_EXPERTS], p[MAX_EXPERTS];
  matvec(wt->router, x, d->experts, d->hidden, logits);
  softmax(logits, d->experts, p);
  top_k(p, d->experts, d->top_k, ids);
  double kept = 0;
  for (uint32_t j = 0; j < d->top_k; j++) kept += p[ids[j]];
  for (uint32_t j = 0; j < d->top_k; j++)
    weights[j] = d->norm_topk_prob ? p[ids[j]] / kept : p[ids[j]];
  memset(out, 0, d->hidden * sizeof *out);
  for (uint32_t j = 0; j < d->top_k; j++) add_expert(d, wt, (uint32_t)ids[j], x, weights[j], out);
}

tk_status tk_ref_qwen3_moe_forward(const tk_ref_qwen3_moe_dims *dims,
                                   const tk_ref_qwen3_moe_weights *weights, const double *x,
                                   size_t tokens, double *out, int32_t *topk_ids,
                                   double *topk_weights) {
  TK_RETURN_IF_ERROR(check_dims(dims));
  size_t h = dims->hidden, k = dims->top_k;
  for (size_t t = 0; t < tokens; t++)
    forward_token(dims, weights, x + t * h, out + t * h, topk_ids + t * k, topk_weights + t * k);
  return TK_STATUS_OK;
}
