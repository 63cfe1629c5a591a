/* ref/ref_names.c — the tensor list of an arch, read independently from docs/formats.md §2.
 *
 * MoE: `router.param_{i}` for Router = Linear(in, E), then for e = 0..E-1 `expert_{e}.param_{i}`
 * for Expert = Linear(in, H), LN(H), GELU, depth × [Linear(H, H), LN(H), GELU], Linear(H, out).
 * Dense: `dense.param_{i}` for Linear(in, H), LN(H), GELU, depth × [LN(H), Linear(H, I), GELU,
 * Linear(I, H)] (pre-LN residual blocks), Linear(H, out), with I = TK_DENSE_INTERMEDIATE.
 * i counts per prefix in declaration order; Linear → weight, bias; LN → gamma, beta; GELU →
 * nothing. Also checks that the arch's values are ones the reference can run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref/ref_internal.h"

typedef struct name_list {
  tk_ref_tensor *items;
  size_t n, cap;
  const char *prefix; /* "router", "expert_3", "dense" */
  uint32_t next;      /* i of the next `prefix.param_{i}` */
} name_list;

static void push(name_list *l, tk_param_role role, uint32_t in, uint32_t out) {
  if (l->n >= l->cap) { /* counted, not written: tk_ref_tensor_list reports the mismatch */
    l->n++;
    return;
  }
  tk_ref_tensor *t = &l->items[l->n++];
  snprintf(t->name, sizeof t->name, "%s.param_%u", l->prefix, l->next++);
  t->role = role;
  t->in = in;
  t->out = out;
  t->count = (in ? (uint64_t)in : 1) * out;
}

static void push_linear(name_list *l, uint32_t in, uint32_t out) {
  push(l, TK_PARAM_WEIGHT, in, out);
  push(l, TK_PARAM_BIAS, 0, out);
}

static void push_norm(name_list *l, uint32_t n) {
  push(l, TK_PARAM_GAMMA, 0, n);
  push(l, TK_PARAM_BETA, 0, n);
}

size_t tk_ref_expert_tensor_count(const tk_arch *arch) {
  return 4 * ((size_t)arch->expert_depth + 1) + 2;
}

static tk_status check_arch(const tk_arch *a) {
  if (a->input_dim < 1 || a->hidden_dim < 1 || a->output_dim < 1 || a->expert_depth < 0)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "reference: arch dims must be >= 1 and depth >= 0 (input_dim %d, "
                          "hidden_dim %d, output_dim %d, expert_depth %d)",
                          a->input_dim, a->hidden_dim, a->output_dim, a->expert_depth);
  bool moe = a->model_kind == TK_MODEL_MOE;
  if (moe && !(a->top_k >= 1 && a->top_k <= a->n_experts))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "reference: MoE needs 1 <= top_k <= n_experts (top_k %d, n_experts %d)",
                          a->top_k, a->n_experts);
  if (!moe && (a->model_kind != TK_MODEL_DENSE || a->top_k != 0 || a->n_experts != 0))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "reference: Dense needs top_k = n_experts = 0 (top_k %d, n_experts %d)",
                          a->top_k, a->n_experts);
  if (!(isfinite(a->layer_norm_eps) && a->layer_norm_eps > 0))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "reference: layer_norm_eps must be finite and > 0, found %g",
                          a->layer_norm_eps);
  if (a->hidden_act != TK_ACT_GELU_TANH && a->hidden_act != TK_ACT_GELU_ERF)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: unknown hidden_act %d",
                          (int)a->hidden_act);
  if (a->weight_layout != TK_LAYOUT_IN_OUT && a->weight_layout != TK_LAYOUT_OUT_IN)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: unknown weight_layout %d",
                          (int)a->weight_layout);
  return TK_STATUS_OK;
}

static void list_moe(const tk_arch *a, name_list *l) {
  uint32_t in = (uint32_t)a->input_dim, h = (uint32_t)a->hidden_dim, out = (uint32_t)a->output_dim;
  l->prefix = "router";
  l->next = 0;
  push_linear(l, in, (uint32_t)a->n_experts);
  for (int32_t e = 0; e < a->n_experts; e++) {
    char prefix[24];
    snprintf(prefix, sizeof prefix, "expert_%d", e);
    l->prefix = prefix;
    l->next = 0;
    push_linear(l, in, h);
    push_norm(l, h);
    for (int32_t d = 0; d < a->expert_depth; d++) {
      push_linear(l, h, h);
      push_norm(l, h);
    }
    push_linear(l, h, out);
  }
}

static void list_dense(const tk_arch *a, name_list *l) {
  uint32_t in = (uint32_t)a->input_dim, h = (uint32_t)a->hidden_dim, out = (uint32_t)a->output_dim;
  l->prefix = "dense";
  l->next = 0;
  push_linear(l, in, h);
  push_norm(l, h);
  for (int32_t d = 0; d < a->expert_depth; d++) {
    push_norm(l, h);
    push_linear(l, h, TK_DENSE_INTERMEDIATE);
    push_linear(l, TK_DENSE_INTERMEDIATE, h);
  }
  push_linear(l, h, out);
}

tk_status tk_ref_tensor_list(const tk_arch *arch, tk_ref_tensor **out, size_t *out_n) {
  *out = NULL;
  *out_n = 0;
  TK_RETURN_IF_ERROR(check_arch(arch));
  bool moe = arch->model_kind == TK_MODEL_MOE;
  size_t cap = moe ? 2 + (size_t)arch->n_experts * tk_ref_expert_tensor_count(arch)
                   : 6 + 6 * (size_t)arch->expert_depth;
  name_list l = {.items = calloc(cap, sizeof(tk_ref_tensor)), .cap = cap};
  if (!l.items) return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory");
  if (moe)
    list_moe(arch, &l);
  else
    list_dense(arch, &l);
  if (l.n != l.cap) { /* the two counts above disagree with the lists: a bug here */
    free(l.items);
    return tk_status_make(TK_INTERNAL, "reference: listed %zu tensors, expected %zu", l.n, l.cap);
  }
  *out = l.items;
  *out_n = l.n;
  return TK_STATUS_OK;
}
