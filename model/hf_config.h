/* model/hf_config.h — the Hugging Face config.json front end (issue 16 item 1): the Qwen3-MoE
 * sparse block (model_type "qwen3_moe") of one decoder layer.
 *
 * A config.json describes a whole causal LM; tkc compiles one layer's MoE block, which is the
 * same shape in every sparse layer. The fields the block uses are validated with the arch.json
 * front end's scanner and messages ("path:line:col: field 'name': value V, expected E", the
 * source line and a caret; docs/formats.md §7). Every other key of the file (attention, rope,
 * vocabulary, ...) is the rest of the model and is ignored. A tk_qwen3_moe_config is a plain
 * value: no heap, copy it freely.
 */
#ifndef TK_MODEL_HF_CONFIG_H
#define TK_MODEL_HF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/arch.h"
#include "tk/status.h"

/* The model_type this front end reads. */
#define TK_QWEN3_MOE_MODEL_TYPE "qwen3_moe"

typedef enum tk_hf_dtype { TK_HF_FLOAT32, TK_HF_BFLOAT16 } tk_hf_dtype;

typedef struct tk_qwen3_moe_config {
  int32_t hidden;       /* H: hidden_size */
  int32_t intermediate; /* I: moe_intermediate_size (each expert's SwiGLU width) */
  int32_t experts;      /* E: num_experts */
  int32_t top_k;        /* K: num_experts_per_tok, 1 <= K <= E */
  bool norm_topk_prob;  /* the kept weights renormalised to sum to 1 */
  tk_hf_dtype dtype;    /* torch_dtype (or dtype): the checkpoint's weights */
  int32_t layers;       /* num_hidden_layers */
  int32_t layer;        /* the compiled layer (--layer), a sparse one */
} tk_qwen3_moe_config;

/* *is_config: text is a JSON object with a "model_type" key, a Hugging Face config.json, which
 * no arch.json has (docs/formats.md §1 rejects unknown keys); false for anything else,
 * malformed text included (the arch.json front end then reports it). The status is an error
 * only when scanning ran out of memory (then the answer is unknown, not false). */
TK_MUST_USE tk_status tk_hf_config_detect(const char *text, size_t len, bool *is_config);

/* Parses a config.json and selects decoder layer `layer` (docs/formats.md §7). `source_name`
 * (a path) is used in messages only. TK_INVALID_ARGUMENT naming the file, position, field,
 * value and expectation on any invalid or unsupported value, and when `layer` is out of range
 * or a dense MLP layer (mlp_only_layers, decoder_sparse_step). *out is written only on
 * success. */
TK_MUST_USE tk_status tk_qwen3_moe_config_parse(const char *text, size_t len,
                                                const char *source_name, int32_t layer,
                                                tk_qwen3_moe_config *out);
/* Reads the file (at most 1 MiB) and parses it (TK_IO_ERROR if it cannot be read). */
TK_MUST_USE tk_status tk_qwen3_moe_config_load(const char *path, int32_t layer,
                                               tk_qwen3_moe_config *out);

/* The block as an arch of model_kind Qwen3MoE (docs/formats.md §1.5): input_dim = output_dim =
 * hidden, hidden_dim = intermediate, n_experts, top_k, norm_topk_prob, seed 0 (the weights come
 * from the checkpoint). The arch is built as arch.json text and parsed, so the arch.json rules
 * hold for it. */
TK_MUST_USE tk_status tk_qwen3_moe_arch(const tk_qwen3_moe_config *config, tk_arch *out);

/* The model a command was given: an arch.json, or a Hugging Face config.json whose decoder
 * layer `layer` (-1: none asked, layer 0) is compiled as its Qwen3MoE block. `layer` >= 0 with
 * an arch.json is TK_INVALID_ARGUMENT (the arch has no layers). */
TK_MUST_USE tk_status tk_arch_load_input(const char *path, int32_t layer, tk_arch *out);

/* "float32", "bfloat16"; bytes per element. */
const char *tk_hf_dtype_name(tk_hf_dtype dtype);
int tk_hf_dtype_size(tk_hf_dtype dtype);

/* ---- The block's tensors, by their Hugging Face names, in checkpoint order --------------- */

typedef struct tk_qwen3_moe_tensor {
  char name[96];      /* "model.layers.0.mlp.gate.weight", "...experts.7.down_proj.weight" */
  int32_t rows, cols; /* nn.Linear's [out, in], row-major */
} tk_qwen3_moe_tensor;

/* 1 + 3·E: the router, then per expert gate_proj [I, H], up_proj [I, H], down_proj [H, I]. */
size_t tk_qwen3_moe_tensor_count(const tk_qwen3_moe_config *config);
/* The i-th tensor (0 <= i < tk_qwen3_moe_tensor_count). */
tk_qwen3_moe_tensor tk_qwen3_moe_tensor_at(const tk_qwen3_moe_config *config, size_t i);

/* ---- A checkpoint against the block ------------------------------------------------------ */

struct tk_safetensors; /* tk/safetensors.h */

/* How a checkpoint stores the experts (docs/formats.md §7): one tensor per expert and
 * projection, or the fused form some tools write, model.layers.N.mlp.experts.gate_up_proj
 * [E, 2I, H] (each expert's gate_proj rows, then its up_proj rows) and
 * model.layers.N.mlp.experts.down_proj [E, H, I]. */
typedef enum tk_qwen3_moe_layout {
  TK_QWEN3_MOE_PER_EXPERT,
  TK_QWEN3_MOE_FUSED
} tk_qwen3_moe_layout;

/* Checks that `st` (opened from `path`, named in messages) holds the block's tensors in one of
 * the layouts, each F32 or BF16 with its exact shape, and all of one dtype; sets *layout and
 * *dtype. Other tensors (the rest of the model) are allowed. The fused layout is chosen when
 * its gate_up_proj tensor exists. TK_INVALID_ARGUMENT naming the file, the tensor, what was
 * found and what was expected. Values are not read. */
TK_MUST_USE tk_status tk_qwen3_moe_weights_check(const tk_qwen3_moe_config *config,
                                                 const struct tk_safetensors *st, const char *path,
                                                 tk_qwen3_moe_layout *layout, tk_hf_dtype *dtype);
/* "per-expert", "fused". */
const char *tk_qwen3_moe_layout_name(tk_qwen3_moe_layout layout);

#endif /* TK_MODEL_HF_CONFIG_H */
