/* ref/qwen3_moe.h — double-precision reference of the Qwen3-MoE sparse block (issue 16 item 5).
 *
 * Written from the published formulas of the block (Hugging Face's Qwen3MoeSparseMoeBlock,
 * described in words in the issue), not from tkc's code. For each token x (a row of H values):
 *
 *   logits = Wg · x                      Wg [E, H]: one router row per expert
 *   p      = softmax(logits)             over all E experts
 *   kept   = the K largest p; equal values go to the lower expert id
 *   w_e    = p_e / Σ_{j in kept} p_j     when norm_topk_prob, else w_e = p_e
 *   out    = Σ_{e in kept} w_e · down_e( silu(gate_e · x) ⊙ (up_e · x) )
 *   silu(z) = z / (1 + e^{-z})
 *
 * Linear layers follow nn.Linear without bias, y = W x: gate_e and up_e are [I, H], down_e is
 * [H, I], all row-major, the experts one after the other. The kept experts are reported in
 * descending order of p (ties: lower id first), with their weights w.
 *
 * Ownership: every buffer is the caller's; nothing is allocated.
 */
#ifndef TK_REF_QWEN3_MOE_H
#define TK_REF_QWEN3_MOE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tk/status.h"

typedef struct tk_ref_qwen3_moe_dims {
  uint32_t hidden;       /* H: hidden_size */
  uint32_t experts;      /* E: num_experts */
  uint32_t top_k;        /* K: num_experts_per_tok, 1 <= K <= E */
  uint32_t intermediate; /* I: moe_intermediate_size */
  bool norm_topk_prob;
} tk_ref_qwen3_moe_dims;

typedef struct tk_ref_qwen3_moe_weights {
  const double *router;    /* mlp.gate.weight             [E, H] */
  const double *gate_proj; /* experts.e.gate_proj.weight  [E][I, H] */
  const double *up_proj;   /* experts.e.up_proj.weight    [E][I, H] */
  const double *down_proj; /* experts.e.down_proj.weight  [E][H, I] */
} tk_ref_qwen3_moe_weights;

/* The block on `tokens` rows of x [T, H]: out [T, H], topk_ids [T, K] and topk_weights
 * [T, K]. TK_INVALID_ARGUMENT for a zero dimension or K > E (outputs untouched). */
TK_MUST_USE tk_status tk_ref_qwen3_moe_forward(const tk_ref_qwen3_moe_dims *dims,
                                               const tk_ref_qwen3_moe_weights *weights,
                                               const double *x, size_t tokens, double *out,
                                               int32_t *topk_ids, double *topk_weights);

#endif /* TK_REF_QWEN3_MOE_H */
