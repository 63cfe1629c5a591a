/* model/arch.h — the arch.json front end (docs/formats.md §1).
 *
 * Parses and validates an arch.json into a tk_arch value, prints its canonical form and
 * computes its fingerprint, and lists the parameter tensors the architecture declares, in
 * checkpoint order (docs/formats.md §2). A tk_arch is a plain value: no heap, copy it freely.
 */
#ifndef TK_COMPILER_ARCH_H
#define TK_COMPILER_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tk/status.h"

typedef enum tk_arch_size {
  TK_SIZE_NANO = 0,
  TK_SIZE_TINY = 1,
  TK_SIZE_MEDIUM = 2,
  TK_SIZE_FULL = 3,
  TK_SIZE_CUSTOM = 4, /* (choice) lifts the size table check */
} tk_arch_size;

/* MoE and Dense: the tokitai classifier family; Qwen3MoE: the sparse MoE block of Qwen3-MoE
 * (issue 16, docs/formats.md §1.5), from an arch.json or a Hugging Face config.json. */
typedef enum tk_model_kind { TK_MODEL_MOE, TK_MODEL_DENSE, TK_MODEL_QWEN3_MOE } tk_model_kind;
typedef enum tk_router_kind {
  TK_ROUTER_SHEAF_PADIC,
  TK_ROUTER_SHEAF_ONLY,
  TK_ROUTER_SOFTMAX_ONLY
} tk_router_kind;
typedef enum tk_hidden_act { TK_ACT_GELU_TANH, TK_ACT_GELU_ERF, TK_ACT_SILU } tk_hidden_act;
typedef enum tk_weight_layout {
  TK_LAYOUT_IN_OUT, /* W stored [in, out] row-major, y = x·W + b */
  TK_LAYOUT_OUT_IN, /* W stored [out, in] row-major, y = x·Wᵀ + b */
} tk_weight_layout;

/* Intermediate width of the Dense family's FFN blocks (docs/formats.md §2, a choice). */
#define TK_DENSE_INTERMEDIATE 4096

typedef struct tk_arch {
  tk_arch_size size;
  int32_t input_dim, hidden_dim, output_dim;
  int32_t n_experts, top_k; /* both 0 for Dense */
  int32_t expert_depth;
  uint64_t seed;
  tk_model_kind model_kind;
  tk_router_kind router_kind;
  double layer_norm_eps;
  tk_hidden_act hidden_act;
  tk_weight_layout weight_layout;
  bool norm_topk_prob;  /* Qwen3MoE: the kept router weights renormalised to sum to 1 */
  char fingerprint[17]; /* 16 lowercase hex characters + NUL, filled by parse */
} tk_arch;

/* Parses arch.json text. `source_name` (a path) is used in messages only. Syntax errors
 * report source_name:line:col; field errors name the field, the value found and what was
 * expected. Returns TK_INVALID_ARGUMENT on any invalid input; *out is written only on
 * success. */
TK_MUST_USE tk_status tk_arch_parse(const char *text, size_t len, const char *source_name,
                                    tk_arch *out);
/* Reads the file and parses it (TK_IO_ERROR if it cannot be read). */
TK_MUST_USE tk_status tk_arch_load(const char *path, tk_arch *out);

/* Canonical JSON (every field, defaults filled in, keys sorted, compact). Caller frees. */
TK_MUST_USE tk_status tk_arch_canonical_json(const tk_arch *arch, char **out_json);

/* Names for enums as they are spelled in arch.json ("Nano", "MoE", "SheafPadic", ...). */
const char *tk_arch_size_name(tk_arch_size size);
const char *tk_arch_model_kind_name(tk_model_kind kind);
const char *tk_arch_router_kind_name(tk_router_kind kind);
const char *tk_arch_hidden_act_name(tk_hidden_act act);
const char *tk_arch_weight_layout_name(tk_weight_layout layout);

/* ---- Parameters, in checkpoint order (docs/formats.md §2) ---------------------------------- */

typedef enum tk_param_role {
  TK_PARAM_WEIGHT,
  TK_PARAM_BIAS,
  TK_PARAM_GAMMA,
  TK_PARAM_BETA
} tk_param_role;

typedef struct tk_param_spec {
  char name[40]; /* "router.param_0", "expert_3.param_17", "dense.param_4" */
  tk_param_role role;
  int32_t rows, cols; /* stored shape: Linear W [in,out] or [out,in] per layout; vectors 1×n */
  uint64_t count;     /* rows × cols */
  /* The layer the tensor belongs to maps rows of width `in` to rows of width `out`: a
   * Linear(in, out) for its weight and bias, a LayerNorm(n) (in = out = n) for gamma and
   * beta. Lowering takes every activation width from here (the topology is written once,
   * in model/arch_params.c). */
  int32_t in, out;
} tk_param_spec;

/* Number of parameter tensors the arch declares. */
size_t tk_arch_param_count(const tk_arch *arch);
/* The i-th parameter tensor (0 <= i < tk_arch_param_count). */
tk_param_spec tk_arch_param(const tk_arch *arch, size_t i);
/* Total number of f32 weights over all tensors. */
uint64_t tk_arch_weight_total(const tk_arch *arch);

#endif /* TK_COMPILER_ARCH_H */
