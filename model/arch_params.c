/* model/arch_params.c — the parameter tensors an arch declares, in checkpoint order: the one
 * place the topology is written (the checkpoint layout and lowering both read it).
 *
 * docs/formats.md §2: `router.param_{i}` then `expert_{e}.param_{i}` (MoE), or `dense.param_{i}`
 * (Dense), with i counting per prefix in declaration order; a Linear contributes weight then
 * bias, a LayerNorm gamma then beta, a GELU nothing.
 *
 * Qwen3MoE (docs/formats.md §2.4): `router.weight` [E, H], then per expert
 * `expert_{e}.gate_proj` [I, H], `expert_{e}.up_proj` [I, H], `expert_{e}.down_proj` [H, I]: no
 * biases, nn.Linear's [out, in], the order of the Hugging Face names (model/hf_config.h).
 *
 * Everything here is a pure function of the arch: no allocation, no state. The i-th spec is
 * computed arithmetically (prefix → layer slot → role), so listing Full's 218 tensors, or
 * asking for one of them, costs nothing. Each prefix is a sequence of layer "slots", every
 * slot being a Linear or a LayerNorm with exactly two tensors, so tensor j of a prefix is
 * half j%2 of slot j/2.
 *
 * Stored shapes: a Linear(in, out) weight is rows=in, cols=out for weight_layout in_out and
 * rows=out, cols=in for out_in; bias, gamma and beta are rows=1, cols=n. Every spec also
 * names its layer's widths (in → out; a LayerNorm's are both n), whatever the layout.
 */
#include <stdio.h>

#include "model/arch.h"

/* One slot of a prefix: a Linear(in, out) or a LayerNorm(out). */
typedef struct param_slot {
  bool linear;
  int32_t in, out; /* a LayerNorm(n): in = out = n */
} param_slot;

static param_slot linear_slot(int32_t in, int32_t out) { return (param_slot){true, in, out}; }
static param_slot layer_norm_slot(int32_t n) { return (param_slot){false, n, n}; }

/* Tensors per prefix: router 2; expert 4·(depth+1)+2; dense 4 + 6·depth + 2. */
static size_t expert_tensors(const tk_arch *arch) {
  return 4 * ((size_t)arch->expert_depth + 1) + 2;
}
static size_t dense_tensors(const tk_arch *arch) { return 4 + 6 * (size_t)arch->expert_depth + 2; }

/* Expert = Linear(in,H), LN(H), depth × [Linear(H,H), LN(H)], Linear(H,out) (GELUs hold
 * nothing). */
static param_slot expert_slot(const tk_arch *arch, size_t slot) {
  int32_t h = arch->hidden_dim;
  if (slot == 2 * ((size_t)arch->expert_depth + 1)) return linear_slot(h, arch->output_dim);
  if (slot % 2 == 1) return layer_norm_slot(h);
  return linear_slot(slot == 0 ? arch->input_dim : h, h);
}

/* Dense = Linear(in,H), LN(H), depth × [LN(H), Linear(H,I), Linear(I,H)], Linear(H,out). */
static param_slot dense_slot(const tk_arch *arch, size_t slot) {
  int32_t h = arch->hidden_dim, inter = TK_DENSE_INTERMEDIATE;
  size_t blocks_end = 2 + 3 * (size_t)arch->expert_depth;
  if (slot == 0) return linear_slot(arch->input_dim, h);
  if (slot == 1) return layer_norm_slot(h);
  if (slot == blocks_end) return linear_slot(h, arch->output_dim);
  switch ((slot - 2) % 3) {
    case 0: return layer_norm_slot(h);
    case 1: return linear_slot(h, inter);
    default: return linear_slot(inter, h);
  }
}

/* Tensor `half` (0 or 1) of a slot, with its stored shape. */
static tk_param_spec slot_tensor(const tk_arch *arch, param_slot slot, size_t half) {
  tk_param_spec spec = {.rows = 1, .cols = slot.out, .in = slot.in, .out = slot.out};
  if (slot.linear && half == 0) {
    spec.role = TK_PARAM_WEIGHT;
    bool in_out = arch->weight_layout == TK_LAYOUT_IN_OUT;
    spec.rows = in_out ? slot.in : slot.out;
    spec.cols = in_out ? slot.out : slot.in;
  } else if (slot.linear) {
    spec.role = TK_PARAM_BIAS;
  } else {
    spec.role = half == 0 ? TK_PARAM_GAMMA : TK_PARAM_BETA;
  }
  spec.count = (uint64_t)spec.rows * (uint64_t)spec.cols;
  return spec;
}

enum { QWEN3_PER_EXPERT = 3 }; /* gate_proj, up_proj, down_proj */

/* Qwen3MoE's i-th tensor: bias-free Linears stored [out, in]. */
static tk_param_spec qwen3_param(const tk_arch *arch, size_t i) {
  static const char *const projections[QWEN3_PER_EXPERT] = {"gate_proj", "up_proj", "down_proj"};
  int32_t h = arch->input_dim, inter = arch->hidden_dim;
  param_slot slot = linear_slot(h, arch->n_experts);
  size_t e = 0, j = 0;
  if (i > 0) {
    e = (i - 1) / QWEN3_PER_EXPERT, j = (i - 1) % QWEN3_PER_EXPERT;
    slot = j == 2 ? linear_slot(inter, h) : linear_slot(h, inter);
  }
  tk_param_spec spec = slot_tensor(arch, slot, 0);
  if (i == 0)
    snprintf(spec.name, sizeof spec.name, "router.weight");
  else
    snprintf(spec.name, sizeof spec.name, "expert_%u.%s", (unsigned)e, projections[j]);
  return spec;
}

size_t tk_arch_param_count(const tk_arch *arch) {
  if (arch->model_kind == TK_MODEL_DENSE) return dense_tensors(arch);
  if (arch->model_kind == TK_MODEL_QWEN3_MOE) return 1 + QWEN3_PER_EXPERT * (size_t)arch->n_experts;
  return 2 + (size_t)arch->n_experts * expert_tensors(arch);
}

tk_param_spec tk_arch_param(const tk_arch *arch, size_t i) {
  tk_param_spec spec = {0};
  if (i >= tk_arch_param_count(arch)) return spec; /* out of range: an empty spec */
  if (arch->model_kind == TK_MODEL_QWEN3_MOE) {
    spec = qwen3_param(arch, i);
  } else if (arch->model_kind == TK_MODEL_DENSE) {
    spec = slot_tensor(arch, dense_slot(arch, i / 2), i % 2);
    snprintf(spec.name, sizeof spec.name, "dense.param_%u", (unsigned)i);
  } else if (i < 2) {
    spec = slot_tensor(arch, linear_slot(arch->input_dim, arch->n_experts), i);
    snprintf(spec.name, sizeof spec.name, "router.param_%u", (unsigned)i);
  } else {
    size_t per = expert_tensors(arch), e = (i - 2) / per, j = (i - 2) % per;
    spec = slot_tensor(arch, expert_slot(arch, j / 2), j % 2);
    snprintf(spec.name, sizeof spec.name, "expert_%u.param_%u", (unsigned)e, (unsigned)j);
  }
  return spec;
}

uint64_t tk_arch_weight_total(const tk_arch *arch) {
  uint64_t total = 0;
  size_t n = tk_arch_param_count(arch);
  for (size_t i = 0; i < n; i++) total += tk_arch_param(arch, i).count;
  return total;
}
