/* runtime/hf_qwen3.c — the Qwen3-MoE block's tensors in a Hugging Face checkpoint
 * (runtime/hf_qwen3.h, docs/formats.md §7). The shapes' descriptions name the config.json
 * fields they come from, so a wrong tensor is reported in the terms of the config. */
#include "runtime/hf_qwen3.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum { PER_EXPERT = 3 }; /* gate_proj, up_proj, down_proj */

/* "model.layers.N.mlp." + rest. */
static void block_name(const tk_hf_qwen3_block *b, const char *rest,
                       char out[TK_HF_QWEN3_NAME_MAX]) {
  snprintf(out, TK_HF_QWEN3_NAME_MAX, "model.layers.%d.mlp.%s", b->layer, rest);
}

size_t tk_hf_qwen3_param_count(const tk_hf_qwen3_block *b) {
  return 1 + PER_EXPERT * (size_t)b->experts;
}

void tk_hf_qwen3_param(const tk_hf_qwen3_block *b, size_t i, char name[TK_HF_QWEN3_NAME_MAX],
                       int32_t *rows, int32_t *cols) {
  static const char *const projections[PER_EXPERT] = {"gate_proj", "up_proj", "down_proj"};
  *rows = b->experts, *cols = b->hidden;
  if (i == 0) {
    block_name(b, "gate.weight", name);
    return;
  }
  size_t expert = (i - 1) / PER_EXPERT, projection = (i - 1) % PER_EXPERT;
  bool down = projection == 2;
  *rows = down ? b->hidden : b->intermediate;
  *cols = down ? b->intermediate : b->hidden;
  char rest[64];
  snprintf(rest, sizeof rest, "experts.%zu.%s.weight", expert, projections[projection]);
  block_name(b, rest, name);
}

typedef struct wanted {
  char name[TK_HF_QWEN3_NAME_MAX];
  uint32_t rank;
  uint64_t shape[3];
  char what[96]; /* the fields the shape comes from, for messages */
} wanted;

static void shape_text(uint32_t rank, const uint64_t *shape, char *out, size_t cap) {
  size_t n = (size_t)snprintf(out, cap, "[");
  for (uint32_t d = 0; d < rank && n < cap; d++)
    n += (size_t)snprintf(out + n, cap - n, "%s%llu", d ? ", " : "", (unsigned long long)shape[d]);
  if (n < cap) snprintf(out + n, cap - n, "]");
}

/* One tensor: present, F32 or BF16 like the tensors before it (*dtype, -1 for none yet), of
 * the wanted shape. */
static tk_status check_tensor(const tk_safetensors *st, const char *path, const wanted *w,
                              int *dtype) {
  const tk_safetensors_tensor *t = tk_safetensors_find(st, w->name);
  if (!t)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: tensor %s: missing (%s)", path, w->name,
                          w->what);
  if (t->dtype != TK_SAFETENSORS_F32 && t->dtype != TK_SAFETENSORS_BF16)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: tensor %s: dtype %s, expected F32 or BF16",
                          t->file, t->name, tk_safetensors_dtype_name(t->dtype));
  if (*dtype >= 0 && (int)t->dtype != *dtype)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: tensor %s: dtype %s, expected %s like the block's other tensors",
                          t->file, t->name, tk_safetensors_dtype_name(t->dtype),
                          tk_safetensors_dtype_name((tk_safetensors_dtype)*dtype));
  *dtype = (int)t->dtype;
  if (t->rank == w->rank && memcmp(t->shape, w->shape, w->rank * sizeof w->shape[0]) == 0)
    return TK_STATUS_OK;
  char got[96], want[96];
  shape_text(t->rank, t->shape, got, sizeof got);
  shape_text(w->rank, w->shape, want, sizeof want);
  return tk_status_make(TK_INVALID_ARGUMENT, "%s: tensor %s: shape %s, expected %s (%s)", t->file,
                        t->name, got, want, w->what);
}

static wanted per_expert_tensor(const tk_hf_qwen3_block *b, size_t i) {
  int32_t rows, cols;
  wanted w = {.rank = 2};
  tk_hf_qwen3_param(b, i, w.name, &rows, &cols);
  w.shape[0] = (uint64_t)rows, w.shape[1] = (uint64_t)cols;
  if (i == 0)
    snprintf(w.what, sizeof w.what, "the router: num_experts x hidden_size");
  else
    snprintf(w.what, sizeof w.what, "expert %zu of %d: %s", (i - 1) / PER_EXPERT, b->experts,
             (i - 1) % PER_EXPERT == 2 ? "hidden_size x moe_intermediate_size"
                                       : "moe_intermediate_size x hidden_size");
  return w;
}

/* The fused layout's two tensors: gate_up_proj [E, 2I, H] and down_proj [E, H, I]. */
static wanted fused_tensor(const tk_hf_qwen3_block *b, bool down) {
  uint64_t e = (uint64_t)b->experts, h = (uint64_t)b->hidden, i = (uint64_t)b->intermediate;
  wanted w = {.rank = 3, .shape = {e, down ? h : 2 * i, down ? i : h}};
  snprintf(w.what, sizeof w.what, "%s",
           down ? "fused: num_experts x hidden_size x moe_intermediate_size"
                : "fused: num_experts x 2·moe_intermediate_size x hidden_size");
  block_name(b, down ? "experts.down_proj" : "experts.gate_up_proj", w.name);
  return w;
}

tk_status tk_hf_qwen3_check(const tk_hf_qwen3_block *b, const tk_safetensors *st, const char *path,
                            tk_hf_qwen3_layout *layout, tk_safetensors_dtype *dtype) {
  int found = -1;
  wanted router = per_expert_tensor(b, 0);
  TK_RETURN_IF_ERROR(check_tensor(st, path, &router, &found));
  wanted gate_up = fused_tensor(b, false), down = fused_tensor(b, true);
  bool fused = tk_safetensors_find(st, gate_up.name) != NULL;
  if (fused) {
    TK_RETURN_IF_ERROR(check_tensor(st, path, &gate_up, &found));
    TK_RETURN_IF_ERROR(check_tensor(st, path, &down, &found));
  } else {
    for (size_t i = 1; i < tk_hf_qwen3_param_count(b); i++) {
      wanted w = per_expert_tensor(b, i);
      TK_RETURN_IF_ERROR(check_tensor(st, path, &w, &found));
    }
  }
  *layout = fused ? TK_HF_QWEN3_FUSED : TK_HF_QWEN3_PER_EXPERT;
  *dtype = (tk_safetensors_dtype)found;
  return TK_STATUS_OK;
}

tk_status tk_hf_qwen3_read(const tk_hf_qwen3_block *b, const tk_safetensors *st,
                           tk_hf_qwen3_layout layout, size_t i, float *dst) {
  if (i == 0 || layout == TK_HF_QWEN3_PER_EXPERT) {
    wanted w = per_expert_tensor(b, i);
    return tk_safetensors_read_f32(st, w.name, 0, w.rank, w.shape, dst);
  }
  size_t expert = (i - 1) / PER_EXPERT, projection = (i - 1) % PER_EXPERT;
  wanted w = fused_tensor(b, projection == 2);
  uint64_t slice = (uint64_t)b->intermediate * (uint64_t)b->hidden; /* one projection */
  uint64_t first = projection == 2 ? expert * slice : (2 * expert + projection) * slice;
  return tk_safetensors_read_f32_range(st, w.name, 0, w.rank, w.shape, first, slice, dst);
}
