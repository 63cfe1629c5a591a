/* ref/ref_internal.h — what the reference's own files share (not for tests).
 *
 * The model is the arch, its tensor list in checkpoint order (ref_names.c) and one double
 * array per tensor. Every Linear weight is held as [in][out] whatever the stored layout
 * (ref_model.c transposes out_in on load), so the forward pass reads W[i][o] = w[i·out + o].
 */
#ifndef TK_TESTS_REF_INTERNAL_H
#define TK_TESTS_REF_INTERNAL_H

#include "ref/ref.h"

struct tk_ref_model {
  tk_arch arch;
  tk_ref_tensor *tensors; /* checkpoint order (docs/formats.md §2) */
  size_t n_tensors;
  double **data; /* data[i]: tensors[i].count values; weights as [in][out] */
};

/* Number of tensors of one expert: 4·(depth+1) + 2 (docs/formats.md §2). Expert e's tensors start at
 * index 2 + e·tk_ref_expert_tensor_count (after the router's weight and bias). */
size_t tk_ref_expert_tensor_count(const tk_arch *arch);

/* Orders the E experts by p, largest first, equal p to the lower index first (docs/formats.md §3):
 * the keep set is order[0..K-1]. */
void tk_ref_rank_experts(const double *p, size_t n_experts, size_t *order);

#endif /* TK_TESTS_REF_INTERNAL_H */
