/* runtime/hf_qwen3.h — the Qwen3-MoE sparse block's tensors in a Hugging Face safetensors
 * checkpoint (docs/formats.md §7): their names in decoder layer N, the two layouts tools write,
 * the check of a checkpoint against the block and the read of one parameter as f32. Shared by
 * the config.json front end (model/hf_config.c: `tkc check --weights`) and the runtime's
 * weights (runtime/weights.c); private to tkc (not in libtkrt.so's interface).
 *
 * Parameter order is the checkpoint order of docs/formats.md §2.4 for model_kind Qwen3MoE:
 * i = 0 the router `model.layers.N.mlp.gate.weight` [E, H]; i = 1 + 3e + j, j = 0, 1, 2, expert
 * e's `model.layers.N.mlp.experts.e.{gate_proj, up_proj, down_proj}.weight` ([I, H], [I, H],
 * [H, I]); in the fused layout the experts' tensors are slices of
 * `model.layers.N.mlp.experts.gate_up_proj` [E, 2I, H] (expert e's gate_proj rows, then its
 * up_proj rows) and `model.layers.N.mlp.experts.down_proj` [E, H, I].
 */
#ifndef TK_RUNTIME_HF_QWEN3_H
#define TK_RUNTIME_HF_QWEN3_H

#include <stddef.h>
#include <stdint.h>

#include "tk/safetensors.h"
#include "tk/status.h"

typedef struct tk_hf_qwen3_block {
  int32_t hidden, intermediate, experts; /* H, I, E */
  int32_t layer;                         /* N in the tensor names */
} tk_hf_qwen3_block;

typedef enum tk_hf_qwen3_layout { TK_HF_QWEN3_PER_EXPERT, TK_HF_QWEN3_FUSED } tk_hf_qwen3_layout;

enum { TK_HF_QWEN3_NAME_MAX = 96 };

/* 1 + 3·E. */
size_t tk_hf_qwen3_param_count(const tk_hf_qwen3_block *b);
/* Parameter i's per-expert-layout name and shape [rows, cols]. */
void tk_hf_qwen3_param(const tk_hf_qwen3_block *b, size_t i, char name[TK_HF_QWEN3_NAME_MAX],
                       int32_t *rows, int32_t *cols);

/* Checks that st (opened from `path`, named in messages) holds every parameter in one layout
 * (the fused one when its gate_up_proj exists), each F32 or BF16 with its exact shape, all of
 * one dtype; other tensors are allowed. TK_INVALID_ARGUMENT naming the file, the tensor, what
 * was found and what was expected (the config fields the shape comes from). */
TK_MUST_USE tk_status tk_hf_qwen3_check(const tk_hf_qwen3_block *b, const tk_safetensors *st,
                                        const char *path, tk_hf_qwen3_layout *layout,
                                        tk_safetensors_dtype *dtype);

/* Parameter i as rows × cols f32 values in dst (BF16 widened exactly), from a checkpoint that
 * tk_hf_qwen3_check accepted with `layout`. */
TK_MUST_USE tk_status tk_hf_qwen3_read(const tk_hf_qwen3_block *b, const tk_safetensors *st,
                                       tk_hf_qwen3_layout layout, size_t i, float *dst);

#endif /* TK_RUNTIME_HF_QWEN3_H */
