/* tests/unit/qwen3_moe_ref_test.c — the Qwen3-MoE sparse block reference (ref/qwen3_moe.c).
 *
 * A hand-computed case (H = 2, E = 3, K = 2, I = 1) whose expected numbers are derived below
 * on paper, with norm_topk_prob on and off and a router tie; then properties on random
 * weights: K = E with the norm on gives weights summing to 1 and the same output as the norm
 * off (Σ p = 1), and dimension errors.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "ref/qwen3_moe.h"
#include "tests/unit/test.h"

/* ---- The hand case ----------------------------------------------------------------------------
 *
 * L2 = ln 2, L3 = ln 3. Router Wg [3, 2] rows: e0 [0, L2], e1 [L2, 0], e2 [L3, 0].
 * Experts (I = 1): gate_proj rows e0 [1, L3], e1 [L3, -L3], e2 [-L3, 5]
 *                  up_proj   rows e0 [1, 4],  e1 [2, 2],    e2 [4, 1]
 *                  down_proj [2, 1]: e0 [1; 1], e1 [1; 0], e2 [0; 2]
 *
 * Token 0, x = [1, 0]: logits = [0, L2, L3], e^logits = 1, 2, 3, so p = [1/6, 2/6, 3/6].
 *   Top 2: e2 (1/2), e1 (1/3). Kept mass 5/6: norm on w = [3/5, 2/5]; off w = [1/2, 1/3].
 *   e1: gate = L3, silu(L3) = L3 / (1 + 1/3) = 3/4 L3; up = 2; h = 3/2 L3; y = [3/2 L3, 0].
 *   e2: gate = -L3, silu(-L3) = -L3 / (1 + 3) = -1/4 L3; up = 4; h = -L3; y = [0, -2 L3].
 *   norm on:  0.6 · y2 + 0.4 · y1 = [0.6 L3, -1.2 L3];   off: 1/2 · y2 + 1/3 · y1 = [0.5 L3, -L3].
 *   (e0 is dropped: gate 1, up 1, down [1; 1] would add silu(1) · w to both entries.)
 *
 * Token 1, x = [0, 1]: logits = [L2, 0, 0], e^logits = 2, 1, 1, so p = [1/2, 1/4, 1/4].
 *   Top 2: e0, then e1 and e2 tie at exactly 1/4 (both logits are exactly 0): e1 is kept.
 *   Kept mass 3/4: norm on w = [2/3, 1/3]; off w = [1/2, 1/4].
 *   e0: gate = L3, silu = 3/4 L3; up = 4; h = 3 L3; y = [3 L3, 3 L3].
 *   e1: gate = -L3, silu = -1/4 L3; up = 2; h = -1/2 L3; y = [-1/2 L3, 0].
 *   norm on:  2/3 · y0 + 1/3 · y1 = [2 L3 - 1/6 L3, 2 L3] = [11/6 L3, 2 L3];
 *   off:      1/2 · y0 + 1/4 · y1 = [3/2 L3 - 1/8 L3, 3/2 L3] = [11/8 L3, 3/2 L3].
 *   (Keeping e2 instead would add silu(5) · 1 · [0, 2] · w: a large change.)
 */
static void test_hand_case(bool norm) {
  const double L2 = log(2.0), L3 = log(3.0);
  const double router[] = {0, L2, L2, 0, L3, 0};
  const double gate[] = {1, L3, L3, -L3, -L3, 5};
  const double up[] = {1, 4, 2, 2, 4, 1};
  const double down[] = {1, 1, 1, 0, 0, 2};
  const double x[] = {1, 0, 0, 1};
  tk_ref_qwen3_moe_dims d = {
      .hidden = 2, .experts = 3, .top_k = 2, .intermediate = 1, .norm_topk_prob = norm};
  tk_ref_qwen3_moe_weights w = {router, gate, up, down};
  double out[4] = {0}, weights[4] = {0};
  int32_t ids[4] = {-1, -1, -1, -1};
  CHECK_OK(tk_ref_qwen3_moe_forward(&d, &w, x, 2, out, ids, weights));

  CHECK(ids[0] == 2 && ids[1] == 1); /* token 0: e2 (1/2), e1 (1/3) */
  CHECK(ids[2] == 0 && ids[3] == 1); /* token 1: e0 (1/2), then the tie e1 = e2 → e1 */
  const double tol = 1e-12;
  if (norm) {
    CHECK_NEAR(weights[0], 3.0 / 5, tol);
    CHECK_NEAR(weights[1], 2.0 / 5, tol);
    CHECK_NEAR(weights[2], 2.0 / 3, tol);
    CHECK_NEAR(weights[3], 1.0 / 3, tol);
    CHECK_NEAR(out[0], 0.6 * L3, tol);
    CHECK_NEAR(out[1], -1.2 * L3, tol);
    CHECK_NEAR(out[2], 11.0 / 6 * L3, tol);
    CHECK_NEAR(out[3], 2 * L3, tol);
  } else {
    CHECK_NEAR(weights[0], 1.0 / 2, tol);
    CHECK_NEAR(weights[1], 1.0 / 3, tol);
    CHECK_NEAR(weights[2], 1.0 / 2, tol);
    CHECK_NEAR(weights[3], 1.0 / 4, tol);
    CHECK_NEAR(out[0], 0.5 * L3, tol);
    CHECK_NEAR(out[1], -1.0 * L3, tol);
    CHECK_NEAR(out[2], 11.0 / 8 * L3, tol);
    CHECK_NEAR(out[3], 1.5 * L3, tol);
  }
}

/* Every logit equal: top K are the K lowest ids, in id order, each p = 1/E. */
static void test_all_tied(void) {
  enum { H = 2, E = 5, K = 3, I = 2 };
  double router[E * H] = {0}, gate[E * I * H], up[E * I * H], down[E * H * I];
  for (int i = 0; i < E * I * H; i++) gate[i] = up[i] = down[i] = 0.25 * (i % 7) - 0.5;
  const double x[H] = {0.3, -1.1};
  tk_ref_qwen3_moe_dims d = {.hidden = H, .experts = E, .top_k = K, .intermediate = I};
  tk_ref_qwen3_moe_weights w = {router, gate, up, down};
  double out[H], weights[K];
  int32_t ids[K];
  CHECK_OK(tk_ref_qwen3_moe_forward(&d, &w, x, 1, out, ids, weights));
  for (int j = 0; j < K; j++) {
    CHECK(ids[j] == j);
    CHECK_NEAR(weights[j], 1.0 / E, 1e-15);
  }
}

/* ---- Properties on random weights --------------------------------------------------------- */

static double next_uniform(uint64_t *state) { /* [-1, 1), a 64-bit LCG's top 53 bits */
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*state >> 11) * 0x1p-52 - 1.0;
}

static void test_k_equals_e(void) {
  enum { T = 6, H = 8, E = 6, I = 5 };
  double router[E * H], gate[E * I * H], up[E * I * H], down[E * H * I], x[T * H];
  uint64_t s = 20261202;
  for (int i = 0; i < E * H; i++) router[i] = 2 * next_uniform(&s);
  for (int i = 0; i < E * I * H; i++) {
    gate[i] = next_uniform(&s);
    up[i] = next_uniform(&s);
    down[i] = next_uniform(&s);
  }
  for (int i = 0; i < T * H; i++) x[i] = next_uniform(&s);
  tk_ref_qwen3_moe_weights w = {router, gate, up, down};
  tk_ref_qwen3_moe_dims on = {
      .hidden = H, .experts = E, .top_k = E, .intermediate = I, .norm_topk_prob = true};
  tk_ref_qwen3_moe_dims off = on;
  off.norm_topk_prob = false;
  double out_on[T * H], out_off[T * H], w_on[T * E], w_off[T * E];
  int32_t ids_on[T * E], ids_off[T * E];
  CHECK_OK(tk_ref_qwen3_moe_forward(&on, &w, x, T, out_on, ids_on, w_on));
  CHECK_OK(tk_ref_qwen3_moe_forward(&off, &w, x, T, out_off, ids_off, w_off));
  for (int t = 0; t < T; t++) {
    double sum = 0;
    int seen = 0;
    for (int j = 0; j < E; j++) {
      sum += w_on[t * E + j];
      seen |= 1 << ids_on[t * E + j];
      if (j) CHECK(w_on[t * E + j] <= w_on[t * E + j - 1]); /* largest first */
    }
    CHECK_NEAR(sum, 1.0, 1e-14);
    CHECK(seen == (1 << E) - 1); /* every expert exactly once */
    /* With every expert kept, Σ p = 1: renormalising changes nothing. */
    for (int h = 0; h < H; h++) CHECK_NEAR(out_on[t * H + h], out_off[t * H + h], 1e-13);
  }
}

static void test_bad_dims(void) {
  const double zero[16] = {0};
  tk_ref_qwen3_moe_weights w = {zero, zero, zero, zero};
  double out[4], weights[4];
  int32_t ids[4];
  tk_ref_qwen3_moe_dims d = {.hidden = 2, .experts = 2, .top_k = 3, .intermediate = 1};
  CHECK_ERR(tk_ref_qwen3_moe_forward(&d, &w, zero, 1, out, ids, weights),
            "top_k 3, expected at most experts = 2");
  d.top_k = 0;
  CHECK_ERR(tk_ref_qwen3_moe_forward(&d, &w, zero, 1, out, ids, weights), "must be at least 1");
}

int main(void) {
  test_hand_case(true);
  test_hand_case(false);
  test_all_tied();
  test_k_equals_e();
  test_bad_dims();
  TEST_MAIN_END();
}
