/* tests/unit/ref_test.c — the double-precision reference (tests/ref) against hand computation.
 *
 * (a) hand-computed MoE and Dense models, both GELU forms, worked out on paper below and
 *     matched to 1e-12 (the tensor names are spelled out here from docs/formats.md §2, not taken from
 *     the reference's list); (b) padding never changes a real row; (c) router ties go to the
 *     lower index; (d) no renormalisation; (e) a masked expert full of NaN contributes nothing;
 *     (f) both weight layouts agree on transposed weights; (g) the conformance check accepts
 *     what is within tolerance, rejects what is not, and applies the near-tie rule; (h) a
 *     checkpoint gives the same model as the same values passed as arrays.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/ref.h"
#include "tests/unit/test.h"

/* ---- A hand-made model: named tensors in the in_out layout ---------------------------------- */

enum { MAX_TENSORS = 64 };

typedef struct hand_model {
  tk_arch arch;
  size_t n;
  char names[MAX_TENSORS][48];
  uint32_t in[MAX_TENSORS], out[MAX_TENSORS]; /* in = 0 for a vector */
  double *data[MAX_TENSORS];
} hand_model;

static void hand_add(hand_model *h, const char *name, uint32_t in, uint32_t out, const double *v) {
  size_t count = (in ? in : 1) * (size_t)out;
  snprintf(h->names[h->n], sizeof h->names[0], "%s", name);
  h->in[h->n] = in;
  h->out[h->n] = out;
  h->data[h->n] = malloc(count * sizeof(double));
  if (v)
    memcpy(h->data[h->n], v, count * sizeof(double));
  else
    memset(h->data[h->n], 0, count * sizeof(double));
  h->n++;
}

static void hand_free(hand_model *h) {
  for (size_t i = 0; i < h->n; i++) free(h->data[i]);
  h->n = 0;
}

/* Builds the reference from the hand arrays, stored in `layout` (weights transposed for out_in). */
static tk_ref_model *hand_build(const hand_model *h, tk_weight_layout layout) {
  tk_arch arch = h->arch;
  arch.weight_layout = layout;
  tk_ref_array arrays[MAX_TENSORS];
  double *stored[MAX_TENSORS];
  for (size_t t = 0; t < h->n; t++) {
    size_t in = h->in[t], out = h->out[t], count = (in ? in : 1) * out;
    stored[t] = malloc(count * sizeof(double));
    for (size_t k = 0; k < count; k++) stored[t][k] = h->data[t][k];
    if (in && layout == TK_LAYOUT_OUT_IN)
      for (size_t i = 0; i < in; i++)
        for (size_t o = 0; o < out; o++) stored[t][o * in + i] = h->data[t][i * out + o];
    arrays[t] = (tk_ref_array){h->names[t], stored[t], count};
  }
  tk_ref_model *m = NULL;
  CHECK_OK(tk_ref_model_from_arrays(&arch, arrays, h->n, &m));
  for (size_t t = 0; t < h->n; t++) free(stored[t]);
  return m;
}

static tk_arch custom_arch(tk_model_kind kind, int32_t in, int32_t hidden, int32_t out, int32_t e,
                           int32_t k, int32_t depth) {
  return (tk_arch){.size = TK_SIZE_CUSTOM,
                   .input_dim = in,
                   .hidden_dim = hidden,
                   .output_dim = out,
                   .n_experts = e,
                   .top_k = k,
                   .expert_depth = depth,
                   .model_kind = kind,
                   .layer_norm_eps = 1e-5,
                   .hidden_act = TK_ACT_GELU_TANH,
                   .weight_layout = TK_LAYOUT_IN_OUT};
}

/* GELU as docs/formats.md §3 writes it. */
static double gelu_of(tk_hidden_act act, double v) {
  if (act == TK_ACT_GELU_TANH)
    return 0.5 * v * (1 + tanh(0.7978845608 * (v + 0.044715 * v * v * v)));
  return 0.5 * v * (1 + erf(v / sqrt(2.0)));
}

/* ---- (a) Hand-computed MoE ------------------------------------------------------------------ */

/* Custom MoE: in 2, H 2, out 2, E 3, K 2, depth 0, eps 0.75 (so that a 2-vector whose entries
 * differ by 1 normalises to exactly ±0.5: var = 0.25, sqrt(0.25 + 0.75) = 1). x = [1, 2].
 *
 * Router W = [[ln2, 0, 0], [0, ln3/2, 0]], b = 0:  r = [ln2, 2·ln3/2, 0] = [ln2, ln3, 0].
 *   r - max = [ln(2/3), 0, -ln3] → exp = [2/3, 1, 1/3], sum 2 → p = [1/3, 1/2, 1/6].
 *   K = 2 keeps {1, 0}; w = [1/3, 1/2, 0], which sums to 5/6 (no renormalisation).
 * Expert 0: W1 = [[1, 2], [0, 0]], b1 = 0  → h = [1·1 + 2·0, 1·2 + 2·0] = [1, 2].
 *   LN: mean 1.5, (h - mean) = [-0.5, 0.5], /1 → ·gamma [2, 2] + beta [0, 1] = [-1, 2].
 *   GELU → [g(-1), g(2)]. W2 = [[1, 0], [1, 2]], b2 = [0.5, 0]:
 *   out0 = [g(-1) + g(2) + 0.5, 2·g(2)].
 * Expert 1: W1 = [[1, 0], [1, -1]], b1 = [-1, 3] → h = [1 + 2 - 1, 0 - 2 + 3] = [2, 1].
 *   LN: [0.5, -0.5] · gamma [2, -2] + beta 0 = [1, 1]. GELU → [g(1), g(1)].
 *   W2 = [[2, 0], [-1, 1]], b2 = [-0.25, 0.125]: out1 = [2g(1) - g(1) - 0.25, g(1) + 0.125].
 * Expert 2 is masked (weights all 1; never evaluated).
 * y = 1/3·out0 + 1/2·out1.
 * With python3's math module: gelu_tanh → y = [1.0608592235352892, 1.7861611246951887];
 * gelu (erf) → y = [1.0609538670916663, 1.7861721971033657]. */
static void hand_moe(hand_model *h, tk_hidden_act act) {
  memset(h, 0, sizeof *h);
  h->arch = custom_arch(TK_MODEL_MOE, 2, 2, 2, 3, 2, 0);
  h->arch.layer_norm_eps = 0.75;
  h->arch.hidden_act = act;
  const double router_w[] = {log(2.0), 0, 0, 0, log(3.0) / 2, 0}, zero3[3] = {0};
  hand_add(h, "router.param_0", 2, 3, router_w);
  hand_add(h, "router.param_1", 0, 3, zero3);
  const double w1[3][4] = {{1, 2, 0, 0}, {1, 0, 1, -1}, {1, 1, 1, 1}};
  const double b1[3][2] = {{0, 0}, {-1, 3}, {0, 0}};
  const double gamma[3][2] = {{2, 2}, {2, -2}, {1, 1}}, beta[3][2] = {{0, 1}, {0, 0}, {0, 0}};
  const double w2[3][4] = {{1, 0, 1, 2}, {2, 0, -1, 1}, {1, 1, 1, 1}};
  const double b2[3][2] = {{0.5, 0}, {-0.25, 0.125}, {0, 0}};
  for (int e = 0; e < 3; e++) {
    char name[48];
    const double *values[6] = {w1[e], b1[e], gamma[e], beta[e], w2[e], b2[e]};
    for (int i = 0; i < 6; i++) {
      snprintf(name, sizeof name, "expert_%d.param_%d", e, i);
      hand_add(h, name, i == 0 || i == 4 ? 2 : 0, 2, values[i]);
    }
  }
}

static void test_hand_moe(tk_hidden_act act, const double literal[2]) {
  hand_model h;
  hand_moe(&h, act);
  tk_ref_model *m = hand_build(&h, TK_LAYOUT_IN_OUT);
  const double x[2] = {1, 2};
  double logits[2], p[3], w[3];
  bool keep[3];
  CHECK_OK(tk_ref_forward_row(m, x, &(tk_ref_outputs){logits, p, w, keep}));
  double gm1 = gelu_of(act, -1), g1 = gelu_of(act, 1), g2 = gelu_of(act, 2);
  double out0[2] = {gm1 + g2 + 0.5, 2 * g2}, out1[2] = {g1 - 0.25, g1 + 0.125};
  for (int o = 0; o < 2; o++) {
    CHECK_NEAR(logits[o], out0[o] / 3 + out1[o] / 2, 1e-12);
    CHECK_NEAR(logits[o], literal[o], 1e-12);
  }
  CHECK_NEAR(p[0], 1.0 / 3, 1e-12);
  CHECK_NEAR(p[1], 1.0 / 2, 1e-12);
  CHECK_NEAR(p[2], 1.0 / 6, 1e-12);
  CHECK(keep[0] && keep[1] && !keep[2]);
  CHECK(w[0] == p[0] && w[1] == p[1] && w[2] == 0.0); /* (d) kept weights are p, unscaled */
  CHECK_NEAR(w[0] + w[1] + w[2], 5.0 / 6, 1e-12);
  tk_ref_model_free(m);
  hand_free(&h);
}

/* ---- (a) Hand-computed Dense ---------------------------------------------------------------- */

/* Dense: in 2, H 2, out 2, depth 1, I = 4096, eps 0.75, x = [1, 2].
 * dense.param_0/1  Linear(2,2): W = [[1, 0], [1, -1]], b = [-1, 3] → [2, 1].
 * dense.param_2/3  LN: [0.5, -0.5]·gamma [2, 2] + beta [0, 1] = [1, 0]; GELU → h = [g1, 0]
 *                  (g(0) = 0 in both forms).
 * Block 0 (pre-LN residual FFN):
 * dense.param_4/5  LN(h): mean g1/2, deviations ±g1/2, var g1²/4:
 *                  n = [s, -s] with s = (g1/2)/sqrt(g1²/4 + 0.75) (gamma 1, beta 0).
 * dense.param_6/7  Linear(2, 4096): W[0][0] = 1, W[1][1] = -1, else 0; b[4095] = 1, else 0:
 *                  u = [s, s, 0, ..., 0, 1] → GELU → [g(s), g(s), 0, ..., 0, g(1)].
 * dense.param_8/9  Linear(4096, 2): rows 0 = [1, 0], 1 = [0, 2], 4095 = [0.5, 0.5], the rest
 *                  [7, -7] (multiplied by 0); b = [0.25, 0]:
 *                  d = [g(s) + 0.5·g1 + 0.25, 2·g(s) + 0.5·g1];  h' = h + d.
 * dense.param_10/11 Linear(2,2): W = [[1, 1], [0, -1]], b = [0, 1] → y = [h'0, h'0 - h'1 + 1].
 * With python3's math module: gelu_tanh → y = [1.8039954924033603, 1.7989844841153322];
 * gelu (erf) → y = [1.8042882064283225, 1.7990736587430347]. */
static void hand_dense(hand_model *h, tk_hidden_act act) {
  memset(h, 0, sizeof *h);
  h->arch = custom_arch(TK_MODEL_DENSE, 2, 2, 2, 0, 0, 1);
  h->arch.layer_norm_eps = 0.75;
  h->arch.hidden_act = act;
  enum { I = TK_DENSE_INTERMEDIATE };
  const double w0[] = {1, 0, 1, -1}, b0[] = {-1, 3}, g0[] = {2, 2}, be0[] = {0, 1};
  const double ones[] = {1, 1}, zeros[] = {0, 0}, bd[] = {0.25, 0}, wl[] = {1, 1, 0, -1},
               bl[] = {0, 1};
  hand_add(h, "dense.param_0", 2, 2, w0);
  hand_add(h, "dense.param_1", 0, 2, b0);
  hand_add(h, "dense.param_2", 0, 2, g0);
  hand_add(h, "dense.param_3", 0, 2, be0);
  hand_add(h, "dense.param_4", 0, 2, ones);
  hand_add(h, "dense.param_5", 0, 2, zeros);
  hand_add(h, "dense.param_6", 2, I, NULL);
  h->data[h->n - 1][0 * I + 0] = 1;
  h->data[h->n - 1][1 * I + 1] = -1;
  hand_add(h, "dense.param_7", 0, I, NULL);
  h->data[h->n - 1][I - 1] = 1;
  hand_add(h, "dense.param_8", I, 2, NULL);
  double *wd = h->data[h->n - 1];
  for (int r = 0; r < I; r++) wd[2 * r] = 7, wd[2 * r + 1] = -7;
  wd[0] = 1, wd[1] = 0, wd[2] = 0, wd[3] = 2, wd[2 * (I - 1)] = 0.5, wd[2 * (I - 1) + 1] = 0.5;
  hand_add(h, "dense.param_9", 0, 2, bd);
  hand_add(h, "dense.param_10", 2, 2, wl);
  hand_add(h, "dense.param_11", 0, 2, bl);
}

static void test_hand_dense(tk_hidden_act act, const double literal[2]) {
  hand_model h;
  hand_dense(&h, act);
  tk_ref_model *m = hand_build(&h, TK_LAYOUT_IN_OUT);
  const double x[2] = {1, 2};
  double logits[2];
  CHECK_OK(tk_ref_forward_row(m, x, &(tk_ref_outputs){logits, NULL, NULL, NULL}));
  double g1 = gelu_of(act, 1), s = (g1 / 2) / sqrt(g1 * g1 / 4 + 0.75), gs = gelu_of(act, s);
  double h0 = g1 + gs + 0.5 * g1 + 0.25, h1 = 2 * gs + 0.5 * g1;
  CHECK_NEAR(logits[0], h0, 1e-12);
  CHECK_NEAR(logits[1], h0 - h1 + 1, 1e-12);
  CHECK_NEAR(logits[0], literal[0], 1e-12);
  CHECK_NEAR(logits[1], literal[1], 1e-12);
  /* Dense has no router outputs. */
  double p[1];
  CHECK_ERR(tk_ref_forward_row(m, x, &(tk_ref_outputs){logits, p, NULL, NULL}), "Dense");
  tk_ref_model_free(m);
  hand_free(&h);
}

/* ---- (f) Both layouts ----------------------------------------------------------------------- */

static void check_layouts(const hand_model *h) {
  tk_ref_model *a = hand_build(h, TK_LAYOUT_IN_OUT), *b = hand_build(h, TK_LAYOUT_OUT_IN);
  /* The same untransposed arrays read as out_in are a different model: the flag matters. */
  tk_arch wrong_arch = h->arch;
  wrong_arch.weight_layout = TK_LAYOUT_OUT_IN;
  tk_ref_array arrays[MAX_TENSORS];
  for (size_t t = 0; t < h->n; t++)
    arrays[t] =
        (tk_ref_array){h->names[t], h->data[t], (h->in[t] ? h->in[t] : 1) * (uint64_t)h->out[t]};
  tk_ref_model *wrong = NULL;
  CHECK_OK(tk_ref_model_from_arrays(&wrong_arch, arrays, h->n, &wrong));
  const double x[2] = {1, 2};
  double la[2], lb[2], lw[2];
  CHECK_OK(tk_ref_forward_row(a, x, &(tk_ref_outputs){la, NULL, NULL, NULL}));
  CHECK_OK(tk_ref_forward_row(b, x, &(tk_ref_outputs){lb, NULL, NULL, NULL}));
  CHECK_OK(tk_ref_forward_row(wrong, x, &(tk_ref_outputs){lw, NULL, NULL, NULL}));
  CHECK(la[0] == lb[0] && la[1] == lb[1]);
  CHECK(fabs(la[0] - lw[0]) + fabs(la[1] - lw[1]) > 1e-3);
  tk_ref_model_free(a);
  tk_ref_model_free(b);
  tk_ref_model_free(wrong);
}

static void test_layouts(void) {
  hand_model h;
  hand_moe(&h, TK_ACT_GELU_TANH);
  check_layouts(&h);
  hand_free(&h);
  hand_dense(&h, TK_ACT_GELU_ERF);
  check_layouts(&h);
  hand_free(&h);
}

/* ---- (e) A masked expert that would be NaN -------------------------------------------------- */

static void test_masked_nan(void) {
  hand_model h;
  hand_moe(&h, TK_ACT_GELU_TANH);
  tk_ref_model *clean = hand_build(&h, TK_LAYOUT_IN_OUT);
  for (size_t t = 0; t < h.n; t++) /* every tensor of expert 2 (masked: p = 1/6) */
    if (!strncmp(h.names[t], "expert_2.", 9)) h.data[t][0] = NAN;
  tk_ref_model *poisoned = hand_build(&h, TK_LAYOUT_IN_OUT);
  const double x[2] = {1, 2};
  double lc[2], lp[2], w[3];
  CHECK_OK(tk_ref_forward_row(clean, x, &(tk_ref_outputs){lc, NULL, NULL, NULL}));
  CHECK_OK(tk_ref_forward_row(poisoned, x, &(tk_ref_outputs){lp, NULL, w, NULL}));
  CHECK(isfinite(lp[0]) && isfinite(lp[1]) && lp[0] == lc[0] && lp[1] == lc[1]);
  CHECK(w[2] == 0.0);
  /* Kept, the same expert does poison the output: the check above can fail. */
  const bool keep_poison[3] = {false, true, true};
  CHECK_OK(
      tk_ref_forward_row_keep(poisoned, x, keep_poison, &(tk_ref_outputs){lp, NULL, NULL, NULL}));
  CHECK(isnan(lp[0]));
  tk_ref_model_free(clean);
  tk_ref_model_free(poisoned);
  hand_free(&h);
}

/* ---- Random models (for properties that need no hand values) -------------------------------- */

static double rnd(uint64_t *state) { /* splitmix64 → [-1, 1) */
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0 * 2 - 1;
}

/* A model with random weights over the reference's own tensor list; router_bias (E values,
 * may be NULL) replaces the router with W = 0 and that bias. */
static tk_ref_model *random_model(const tk_arch *arch, uint64_t seed, const double *router_bias) {
  tk_ref_tensor *list;
  size_t n;
  tk_ref_model *m = NULL;
  CHECK_OK(tk_ref_tensor_list(arch, &list, &n));
  tk_ref_array *arrays = calloc(n, sizeof *arrays);
  for (size_t t = 0; t < n; t++) {
    double *v = malloc(list[t].count * sizeof(double));
    for (uint64_t k = 0; k < list[t].count; k++) v[k] = rnd(&seed);
    if (router_bias && t == 0) memset(v, 0, list[t].count * sizeof(double));
    if (router_bias && t == 1) memcpy(v, router_bias, list[t].count * sizeof(double));
    arrays[t] = (tk_ref_array){list[t].name, v, list[t].count};
  }
  CHECK_OK(tk_ref_model_from_arrays(arch, arrays, n, &m));
  for (size_t t = 0; t < n; t++) free((void *)arrays[t].data);
  free(arrays);
  free(list);
  return m;
}

static double *random_rows(size_t rows, size_t width, uint64_t seed) {
  double *x = malloc(rows * width * sizeof(double));
  for (size_t i = 0; i < rows * width; i++) x[i] = 2 * rnd(&seed);
  return x;
}

/* ---- (b) Padding never changes a real row --------------------------------------------------- */

static void check_padding(const tk_ref_model *m, size_t batch) {
  const tk_arch *a = tk_ref_model_arch(m);
  size_t in = a->input_dim, out = a->output_dim, e = a->n_experts;
  bool moe = a->model_kind == TK_MODEL_MOE;
  double *x = random_rows(batch, in, 1000 + batch);
  double *l = malloc(batch * out * sizeof(double)), *p = malloc((batch * e + 1) * sizeof(double));
  double *w = malloc((batch * e + 1) * sizeof(double));
  CHECK_OK(tk_ref_forward_batch(m, x, batch,
                                &(tk_ref_outputs){l, moe ? p : NULL, moe ? w : NULL, NULL}));
  for (size_t r = 0; r < batch; r++) {
    double lr[16], pr[16], wr[16];
    CHECK_OK(tk_ref_forward_row(m, x + r * in,
                                &(tk_ref_outputs){lr, moe ? pr : NULL, moe ? wr : NULL, NULL}));
    CHECK_MSG(!memcmp(lr, l + r * out, out * sizeof(double)), "B=%zu row %zu logits differ", batch,
              r);
    if (moe)
      CHECK(!memcmp(pr, p + r * e, e * sizeof(double)) &&
            !memcmp(wr, w + r * e, e * sizeof(double)));
  }
  free(x);
  free(l);
  free(p);
  free(w);
}

static void test_padding(void) {
  CHECK(tk_ref_padded_batch(1) == 16 && tk_ref_padded_batch(15) == 16 &&
        tk_ref_padded_batch(16) == 16);
  CHECK(tk_ref_padded_batch(17) == 32 && tk_ref_padded_batch(33) == 48 &&
        tk_ref_padded_batch(48) == 48);
  tk_arch moe = custom_arch(TK_MODEL_MOE, 5, 7, 3, 4, 2, 1),
          dense = custom_arch(TK_MODEL_DENSE, 5, 6, 3, 0, 0, 1);
  tk_ref_model *mm = random_model(&moe, 1, NULL), *dm = random_model(&dense, 2, NULL);
  const size_t batches[] = {1, 15, 16, 17, 33};
  for (size_t i = 0; i < 5; i++) {
    check_padding(mm, batches[i]);
    check_padding(dm, batches[i]);
  }
  double l[3];
  CHECK_ERR(tk_ref_forward_batch(mm, NULL, 0, &(tk_ref_outputs){l, NULL, NULL, NULL}),
            "empty batch");
  tk_ref_model_free(mm);
  tk_ref_model_free(dm);
}

/* ---- (c) Ties, (d) no renormalisation ------------------------------------------------------- */

/* Router W = 0 and bias `r`: returns the keep set as a bit mask (bit e = expert e). */
static unsigned keep_mask(const double r[4], int32_t k, double *w_sum) {
  tk_arch a = custom_arch(TK_MODEL_MOE, 3, 4, 2, 4, k, 0);
  tk_ref_model *m = random_model(&a, 7, r);
  const double x[3] = {0.5, -1, 2};
  double l[2], p[4], w[4];
  bool keep[4];
  CHECK_OK(tk_ref_forward_row(m, x, &(tk_ref_outputs){l, p, w, keep}));
  unsigned mask = 0;
  *w_sum = 0;
  for (int e = 0; e < 4; e++) {
    mask |= keep[e] ? 1u << e : 0;
    CHECK(w[e] == (keep[e] ? p[e] : 0.0));
    *w_sum += w[e];
  }
  tk_ref_model_free(m);
  return mask;
}

static void test_ties(void) {
  double sum;
  const double equal[4] = {0, 0, 0, 0}, pair[4] = {1, 2, 2, 0}, three[4] = {2, 1, 2, 2};
  CHECK(keep_mask(equal, 1, &sum) == 0x1);
  CHECK(keep_mask(equal, 2, &sum) == 0x3);
  CHECK_NEAR(sum, 0.5, 1e-15); /* (d) two of four equal experts: 1/4 + 1/4, not 1 */
  CHECK(keep_mask(equal, 4, &sum) == 0xf);
  CHECK_NEAR(sum, 1.0, 1e-15);
  CHECK(keep_mask(pair, 1, &sum) == 0x2);
  CHECK(keep_mask(pair, 2, &sum) == 0x6);
  CHECK(sum < 1.0);
  CHECK(keep_mask(three, 1, &sum) == 0x1);
  CHECK(keep_mask(three, 2, &sum) == 0x5);
  CHECK(keep_mask(three, 3, &sum) == 0xd);
}

/* ---- (g) Conformance ------------------------------------------------------------------------ */

typedef struct got_outputs {
  float *x, *logits, *w;
  size_t rows;
} got_outputs;

/* A "backend" that is the reference rounded to float, for rows x (doubles rounded first). */
static got_outputs fake_backend(const tk_ref_model *m, size_t rows, uint64_t seed) {
  const tk_arch *a = tk_ref_model_arch(m);
  size_t in = a->input_dim, out = a->output_dim, e = a->n_experts;
  bool moe = a->model_kind == TK_MODEL_MOE;
  got_outputs g = {malloc(rows * in * sizeof(float)), malloc(rows * out * sizeof(float)),
                   moe ? malloc(rows * e * sizeof(float)) : NULL, rows};
  double *x = random_rows(rows, in, seed), *l = malloc(rows * out * sizeof(double));
  double *w = malloc((rows * e + 1) * sizeof(double));
  for (size_t i = 0; i < rows * in; i++) x[i] = g.x[i] = (float)x[i];
  CHECK_OK(tk_ref_forward_batch(m, x, rows, &(tk_ref_outputs){l, NULL, moe ? w : NULL, NULL}));
  for (size_t i = 0; i < rows * out; i++) g.logits[i] = (float)l[i];
  for (size_t i = 0; moe && i < rows * e; i++) g.w[i] = (float)w[i];
  free(x);
  free(l);
  free(w);
  return g;
}

static void got_free(got_outputs *g) {
  free(g->x);
  free(g->logits);
  free(g->w);
}

static size_t compare_mismatches(const tk_ref_model *m, const got_outputs *g, tk_ref_report *rep) {
  CHECK_OK(tk_ref_compare(m, g->x, g->rows, g->logits, g->w, rep));
  return rep->mismatches;
}

static void test_compare_tolerance(const tk_arch *arch) {
  tk_ref_model *m = random_model(arch, 11, NULL);
  got_outputs g = fake_backend(m, 20, 12);
  tk_ref_report rep;
  size_t out = arch->output_dim;
  CHECK(compare_mismatches(m, &g, &rep) == 0);
  CHECK(rep.rows == 20 && rep.elements == 20 * (out + arch->n_experts) &&
        rep.max_diff < 1e-5); /* float rounding only */
  float orig = g.logits[3 * out + 1];
  double tol = TK_REF_TOL_ABS + TK_REF_TOL_REL * fabs(orig);
  g.logits[3 * out + 1] = (float)(orig + 0.5 * tol); /* inside */
  CHECK(compare_mismatches(m, &g, &rep) == 0);
  g.logits[3 * out + 1] = (float)(orig - 2 * tol); /* outside */
  CHECK(compare_mismatches(m, &g, &rep) == 1);
  CHECK(rep.n_shown == 1 && rep.shown[0].row == 3 && rep.shown[0].col == 1 &&
        !strcmp(rep.shown[0].what, "logits") && rep.max_row == 3 && rep.max_col == 1);
  CHECK_NEAR(rep.max_diff, 2 * tol, 1e-6 * (1 + fabs(orig))); /* up to float rounding */
  g.logits[3 * out + 1] = NAN;
  CHECK(compare_mismatches(m, &g, &rep) == 1 && isinf(rep.max_diff));
  for (size_t i = 0; i < 20 * out; i++) g.logits[i] += 1.0f; /* every element off */
  CHECK(compare_mismatches(m, &g, &rep) == 20 * out && rep.n_shown == TK_REF_SHOWN);
  char *text = NULL;
  size_t text_len = 0;
  FILE *f = open_memstream(&text, &text_len);
  tk_ref_report_print(&rep, f);
  fclose(f);
  CHECK(strstr(text, "logits (row 0, col 0): got") != NULL && strstr(text, "max diff") != NULL);
  free(text);
  got_free(&g);
  tk_ref_model_free(m);
}

/* Row 0 of a K = 1 router with bias r: the backend keeps expert `chosen` and, when
 * logits_for_chosen, reports that set's logits; otherwise the reference set's. */
static size_t near_tie_case(const double r[4], size_t chosen, bool logits_for_chosen,
                            size_t *near_rows) {
  tk_arch a = custom_arch(TK_MODEL_MOE, 3, 4, 2, 4, 1, 0);
  tk_ref_model *m = random_model(&a, 21, r);
  const float xf[3] = {0.5f, -1.0f, 2.0f};
  const double x[3] = {0.5, -1.0, 2.0};
  double l_ref[2], l_alt[2], w_alt[4];
  bool keep[4] = {false, false, false, false};
  keep[chosen] = true;
  CHECK_OK(tk_ref_forward_row(m, x, &(tk_ref_outputs){l_ref, NULL, NULL, NULL}));
  CHECK_OK(tk_ref_forward_row_keep(m, x, keep, &(tk_ref_outputs){l_alt, NULL, w_alt, NULL}));
  CHECK(fabs(l_ref[0] - l_alt[0]) + fabs(l_ref[1] - l_alt[1]) > 1e-2 || chosen == 0);
  float gl[2], gw[4];
  for (int o = 0; o < 2; o++) gl[o] = (float)(logits_for_chosen ? l_alt[o] : l_ref[o]);
  for (int e = 0; e < 4; e++) gw[e] = (float)w_alt[e];
  tk_ref_report rep;
  CHECK_OK(tk_ref_compare(m, xf, 1, gl, gw, &rep));
  *near_rows = rep.near_tie_rows;
  tk_ref_model_free(m);
  return rep.mismatches;
}

static void test_compare_near_tie(void) {
  size_t near;
  const double close[4] = {0, -1e-6, -3, -3}; /* p0 - p1 ≈ 0.49·1e-6: a near-tie */
  const double exact[4] = {0, 0, -3, -3};     /* p0 == p1: the lower index must win */
  const double apart[4] = {0, -1e-2, -3, -3}; /* not a near-tie */
  CHECK(near_tie_case(close, 0, true, &near) == 0 && near == 0);
  CHECK(near_tie_case(close, 1, true, &near) == 0 && near == 1);
  CHECK(near_tie_case(close, 1, false, &near) > 0); /* logits must follow the chosen set */
  CHECK(near_tie_case(close, 2, true, &near) > 0);  /* only the (K+1)-th may swap in */
  CHECK(near_tie_case(exact, 1, true, &near) > 0 && near == 0);
  CHECK(near_tie_case(apart, 1, true, &near) > 0);
}

static void test_compare(void) {
  tk_arch moe = custom_arch(TK_MODEL_MOE, 6, 8, 3, 5, 2, 1),
          dense = custom_arch(TK_MODEL_DENSE, 6, 8, 3, 0, 0, 1);
  test_compare_tolerance(&moe);
  test_compare_tolerance(&dense);
  test_compare_near_tie();
  /* A keep set outside the reference's on a row with no near-tie. */
  tk_ref_model *m = random_model(&moe, 31, NULL);
  got_outputs g = fake_backend(m, 4, 32);
  size_t dropped = 0;
  while (g.w[2 * 5 + dropped] == 0) dropped++; /* row 2: a kept expert ... */
  size_t added = 0;
  while (g.w[2 * 5 + added] != 0) added++; /* ... and a masked one */
  g.w[2 * 5 + added] = g.w[2 * 5 + dropped];
  g.w[2 * 5 + dropped] = 0;
  tk_ref_report rep;
  CHECK(compare_mismatches(m, &g, &rep) >= 1);
  CHECK(!strcmp(rep.shown[0].what, "keep_set") && rep.shown[0].row == 2 &&
        rep.shown[0].col == added);
  CHECK_ERR(tk_ref_compare(m, g.x, 4, g.logits, NULL, &rep), "router weights");
  got_free(&g);
  tk_ref_model_free(m);
}

/* ---- Model construction errors -------------------------------------------------------------- */

static void test_construction_errors(void) {
  hand_model h;
  hand_moe(&h, TK_ACT_GELU_TANH);
  tk_ref_array arrays[MAX_TENSORS + 1];
  for (size_t t = 0; t < h.n; t++)
    arrays[t] = (tk_ref_array){h.names[t], h.data[t], (h.in[t] ? h.in[t] : 1) * (uint64_t)h.out[t]};
  tk_ref_model *m = NULL;
  CHECK_ERR(tk_ref_model_from_arrays(&h.arch, arrays, h.n - 1, &m),
            "no array named expert_2.param_5");
  arrays[h.n] = arrays[0];
  CHECK_ERR(tk_ref_model_from_arrays(&h.arch, arrays, h.n + 1, &m), "given twice");
  arrays[h.n] = (tk_ref_array){"expert_3.param_0", h.data[0], 6};
  CHECK_ERR(tk_ref_model_from_arrays(&h.arch, arrays, h.n + 1, &m),
            "expert_3.param_0 is not a tensor");
  arrays[4].count = 3;
  CHECK_ERR(tk_ref_model_from_arrays(&h.arch, arrays, h.n, &m),
            "expert_0.param_2 has 3 values, expected 2");
  tk_arch bad = h.arch;
  bad.top_k = 4;
  CHECK_ERR(tk_ref_model_from_arrays(&bad, arrays, h.n, &m), "top_k");
  CHECK(m == NULL);
  const double x[2] = {1, 2};
  bool keep2[3] = {true, false, false};
  double l[2];
  tk_ref_model *ok = hand_build(&h, TK_LAYOUT_IN_OUT);
  CHECK_ERR(tk_ref_forward_row_keep(ok, x, keep2, &(tk_ref_outputs){l, NULL, NULL, NULL}),
            "keep set has 1");
  tk_ref_model_free(ok);
  hand_free(&h);
}

/* ---- (h) Checkpoint → model ----------------------------------------------------------------- */

/* Writes the hand model (values rounded to float) as a checkpoint and checks that the model
 * read back by name equals the one built from the rounded arrays, bitwise. */
static void check_checkpoint(hand_model *h, tk_weight_layout layout) {
  for (size_t t = 0; t < h->n; t++)
    for (size_t k = 0; k < (h->in[t] ? h->in[t] : 1) * (size_t)h->out[t]; k++)
      h->data[t][k] = (float)h->data[t][k];
  char path[] = "/tmp/tk_ref_test_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  tk_checkpoint_writer *wr = NULL;
  CHECK_OK(tk_checkpoint_writer_create(path, 0, "{}", (uint32_t)h->n, &wr));
  for (size_t t = 0; t < h->n && wr; t++) {
    size_t in = h->in[t], out = h->out[t], count = (in ? in : 1) * out;
    float *v = malloc(count * sizeof(float));
    for (size_t k = 0; k < count; k++) v[k] = (float)h->data[t][k];
    if (in && layout == TK_LAYOUT_OUT_IN)
      for (size_t i = 0; i < in; i++)
        for (size_t o = 0; o < out; o++) v[o * in + i] = (float)h->data[t][i * out + o];
    CHECK_OK(tk_checkpoint_writer_add(wr, h->names[t], v, (uint32_t)count));
    free(v);
  }
  CHECK_OK(tk_checkpoint_writer_commit(wr));
  tk_checkpoint *ck = NULL;
  CHECK_OK(tk_checkpoint_open(path, &ck));
  tk_arch arch = h->arch;
  arch.weight_layout = layout;
  tk_ref_model *from_ck = NULL, *from_arrays = hand_build(h, layout);
  CHECK_OK(tk_ref_checkpoint_validate(&arch, ck, false));
  CHECK_OK(tk_ref_model_from_checkpoint(&arch, ck, &from_ck));
  const double x[2] = {1, 2};
  double la[2] = {0}, lc[2] = {1};
  CHECK_OK(tk_ref_forward_row(from_arrays, x, &(tk_ref_outputs){la, NULL, NULL, NULL}));
  if (from_ck) CHECK_OK(tk_ref_forward_row(from_ck, x, &(tk_ref_outputs){lc, NULL, NULL, NULL}));
  CHECK(la[0] == lc[0] && la[1] == lc[1]);
  /* A different arch (one more expert) does not validate. */
  arch.n_experts += arch.model_kind == TK_MODEL_MOE;
  arch.expert_depth += arch.model_kind == TK_MODEL_DENSE;
  tk_status s = tk_ref_checkpoint_validate(&arch, ck, false);
  CHECK(s != NULL);
  tk_status_free(s);
  tk_ref_model_free(from_ck);
  tk_ref_model_free(from_arrays);
  tk_checkpoint_close(ck);
  unlink(path);
}

static void test_checkpoint(void) {
  hand_model h;
  hand_moe(&h, TK_ACT_GELU_TANH);
  check_checkpoint(&h, TK_LAYOUT_IN_OUT);
  check_checkpoint(&h, TK_LAYOUT_OUT_IN);
  hand_free(&h);
  hand_dense(&h, TK_ACT_GELU_TANH);
  check_checkpoint(&h, TK_LAYOUT_OUT_IN);
  hand_free(&h);
}

int main(void) {
  const double moe_tanh[2] = {1.0608592235352892, 1.7861611246951887};
  const double moe_erf[2] = {1.0609538670916663, 1.7861721971033657};
  const double dense_tanh[2] = {1.8039954924033603, 1.7989844841153322};
  const double dense_erf[2] = {1.8042882064283225, 1.7990736587430347};
  test_hand_moe(TK_ACT_GELU_TANH, moe_tanh);
  test_hand_moe(TK_ACT_GELU_ERF, moe_erf);
  test_hand_dense(TK_ACT_GELU_TANH, dense_tanh);
  test_hand_dense(TK_ACT_GELU_ERF, dense_erf);
  test_layouts();
  test_masked_nan();
  test_padding();
  test_ties();
  test_compare();
  test_construction_errors();
  test_checkpoint();
  TEST_MAIN_END();
}
