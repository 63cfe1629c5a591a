/* model/hf_config.c — a Hugging Face config.json → the Qwen3-MoE block of one layer
 * (model/hf_config.h, docs/formats.md §7).
 *
 * The text is read by the arch.json front end's strict scanner; then the block's fields are
 * read in the order of docs/formats.md §7's table and the first invalid one is reported.
 * Fields the block does not use are not read. Where Hugging Face's Qwen3MoeConfig has a
 * default that cannot change the block's shape silently (norm_topk_prob, hidden_act,
 * torch_dtype, decoder_sparse_step, mlp_only_layers) an absent field takes it; the shape
 * fields are required, since transformers always writes them.
 */
#include "model/hf_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch_json.h"
#include "model/json_fields.h"
#include "runtime/hf_qwen3.h"
#include "tk/safetensors.h"

enum {
  CONFIG_FILE_LIMIT = 1 << 20, /* bytes: a config.json is a few KB */
  DIM_LIMIT = 65536,
  EXPERT_LIMIT = 512,
  LAYER_LIMIT = 4096,
};

static const char *const dtype_names[] = {"float32", "bfloat16"};
static const char *const act_names[] = {"silu"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef tk_arch_json_member member;

typedef struct reader {
  tk_json_doc d;
  tk_qwen3_moe_config c; /* filled field by field; c.layer is the requested layer */
  int32_t sparse_step;   /* decoder_sparse_step */
  const member *layers_member, *step_member, *mlp_only_member;
} reader;

tk_status tk_qwen3_moe_arch(const tk_qwen3_moe_config *config, tk_arch *out) {
  char text[512];
  snprintf(text, sizeof text,
           "{\"size\": \"Custom\", \"model_kind\": \"Qwen3MoE\", \"input_dim\": %d, "
           "\"hidden_dim\": %d, \"output_dim\": %d, \"n_experts\": %d, \"top_k\": %d, "
           "\"expert_depth\": 0, \"seed\": 0, \"norm_topk_prob\": %s}",
           config->hidden, config->intermediate, config->hidden, config->experts, config->top_k,
           config->norm_topk_prob ? "true" : "false");
  return tk_status_annotate(tk_arch_parse(text, strlen(text), "<the config's block>", out),
                            "the Qwen3-MoE block as an arch");
}

tk_status tk_arch_load_input(const char *path, int32_t layer, tk_arch *out) {
  char *text = NULL;
  size_t len = 0;
  TK_RETURN_IF_ERROR(
      tk_arch_json_read_file(path, CONFIG_FILE_LIMIT, "an arch.json or config.json", &text, &len));
  bool is_config = false;
  tk_status status = tk_hf_config_detect(text, len, &is_config);
  tk_qwen3_moe_config config;
  if (status) {
    /* out of memory: reported below */
  } else if (is_config) {
    status = tk_qwen3_moe_config_parse(text, len, path, layer < 0 ? 0 : layer, &config);
    if (!status) status = tk_qwen3_moe_arch(&config, out);
  } else if (layer >= 0) {
    status = tk_status_make(TK_INVALID_ARGUMENT,
                            "%s: --layer applies to a Hugging Face config.json, and this is an "
                            "arch.json (it has no \"model_type\")",
                            path);
  } else {
    status = tk_arch_parse(text, len, path, out);
  }
  free(text);
  return status;
}

const char *tk_hf_dtype_name(tk_hf_dtype dtype) {
  return (size_t)dtype < COUNT(dtype_names) ? dtype_names[dtype] : "?";
}
int tk_hf_dtype_size(tk_hf_dtype dtype) { return dtype == TK_HF_BFLOAT16 ? 2 : 4; }

/* ---- The fields, in the order of docs/formats.md §7's table ------------------------------ */

static tk_status read_model_type(reader *r) {
  static const char *const names[] = {TK_QWEN3_MOE_MODEL_TYPE};
  int index;
  return tk_json_read_enum(&r->d, "model_type", names, COUNT(names), -1,
                           " (the Hugging Face family tkc compiles)", &index);
}

static tk_status read_dim(reader *r, const char *key, int32_t hi, int32_t *out) {
  const member *m;
  TK_RETURN_IF_ERROR(tk_json_read_int32(&r->d, key, &m, out));
  return tk_json_check_limit(&r->d, m, key, *out, 1, hi, NULL);
}
static tk_status read_hidden(reader *r) {
  return read_dim(r, "hidden_size", DIM_LIMIT, &r->c.hidden);
}
static tk_status read_intermediate(reader *r) {
  return read_dim(r, "moe_intermediate_size", DIM_LIMIT, &r->c.intermediate);
}
static tk_status read_experts(reader *r) {
  return read_dim(r, "num_experts", EXPERT_LIMIT, &r->c.experts);
}
static tk_status read_top_k(reader *r) {
  const member *m;
  TK_RETURN_IF_ERROR(tk_json_read_int32(&r->d, "num_experts_per_tok", &m, &r->c.top_k));
  return tk_json_check_limit(&r->d, m, "num_experts_per_tok", r->c.top_k, 1, r->c.experts,
                             "num_experts");
}

/* Optional boolean, Hugging Face's default false. */
static tk_status read_norm_topk_prob(reader *r) {
  return tk_json_read_bool(&r->d, "norm_topk_prob", false, &r->c.norm_topk_prob);
}

/* Optional, default "silu": the experts' SwiGLU gate. */
static tk_status read_hidden_act(reader *r) {
  int index;
  return tk_json_read_enum(&r->d, "hidden_act", act_names, COUNT(act_names), 0,
                           " (the activation tkc implements for this family)", &index);
}

/* torch_dtype, or dtype (newer transformers); null or absent: float32 (how transformers loads
 * a config without one). Both present must agree. */
static tk_status read_one_dtype(reader *r, const char *key, const member **m, int *index) {
  TK_RETURN_IF_ERROR(tk_json_field_find(&r->d, key, false, "", m));
  *index = TK_HF_FLOAT32;
  if (!*m || (*m)->kind == TK_ARCH_JSON_NULL) return TK_STATUS_OK;
  return tk_json_read_enum(&r->d, key, dtype_names, COUNT(dtype_names), TK_HF_FLOAT32,
                           " (the weight types tkc reads) or null", index);
}
static tk_status read_dtype(reader *r) {
  const member *legacy, *current;
  int a, b;
  TK_RETURN_IF_ERROR(read_one_dtype(r, "torch_dtype", &legacy, &a));
  TK_RETURN_IF_ERROR(read_one_dtype(r, "dtype", &current, &b));
  if (legacy && current && a != b)
    return tk_json_field_error(&r->d, current, "dtype", "the same type as torch_dtype (\"%s\")",
                               dtype_names[a]);
  r->c.dtype = (tk_hf_dtype)(current ? b : a);
  return TK_STATUS_OK;
}

static tk_status read_layers(reader *r) {
  TK_RETURN_IF_ERROR(
      tk_json_read_int32(&r->d, "num_hidden_layers", &r->layers_member, &r->c.layers));
  return tk_json_check_limit(&r->d, r->layers_member, "num_hidden_layers", r->c.layers, 1,
                             LAYER_LIMIT, NULL);
}

/* Optional, default 1: layer i has an MoE block when (i + 1) mod step = 0. */
static tk_status read_sparse_step(reader *r) {
  r->sparse_step = 1;
  TK_RETURN_IF_ERROR(tk_json_field_find(&r->d, "decoder_sparse_step", false, "", &r->step_member));
  if (!r->step_member) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(
      tk_json_read_int32(&r->d, "decoder_sparse_step", &r->step_member, &r->sparse_step));
  return tk_json_check_limit(&r->d, r->step_member, "decoder_sparse_step", r->sparse_step, 1,
                             LAYER_LIMIT, NULL);
}

/* mlp_only_layers: null, absent or an array of layer indices (integer tokens). The scanner
 * checked the array's syntax; this walks its elements. Sets *listed when `layer` is one. */
static tk_status read_mlp_only(reader *r, bool *listed) {
  static const char *expect = "an array of layer indices (integers 0 <= i < num_hidden_layers)";
  const member *m;
  *listed = false;
  TK_RETURN_IF_ERROR(tk_json_field_find(&r->d, "mlp_only_layers", false, "", &m));
  r->mlp_only_member = m;
  if (!m || m->kind == TK_ARCH_JSON_NULL) return TK_STATUS_OK;
  if (m->kind != TK_ARCH_JSON_ARRAY)
    return tk_json_field_error(&r->d, m, "mlp_only_layers", "%s, found %s", expect,
                               tk_arch_json_kind_name(m->kind));
  const char *p = r->d.src.text + m->offset + 1, *end = r->d.src.text + m->offset + m->raw_len - 1;
  while (p < end) {
    while (p < end && strchr(" \t\r\n,", *p)) p++;
    if (p == end) break;
    char *after;
    long value = strtol(p, &after, 10);
    bool integer = after > p && (after == end || strchr(" \t\r\n,", *after));
    p = after;
    if (!integer || value < 0 || value >= r->c.layers)
      return tk_json_field_error(&r->d, m, "mlp_only_layers", "%s", expect);
    *listed |= value == r->c.layer;
  }
  return TK_STATUS_OK;
}

/* The requested layer exists and holds a sparse MoE block (Qwen3MoeDecoderLayer's rule). */
static tk_status check_layer(reader *r) {
  int32_t layer = r->c.layer, step = r->sparse_step;
  if (layer < 0 || layer >= r->c.layers)
    return tk_arch_json_error_at(&r->d.src, r->layers_member->offset,
                                 "--layer %d: expected 0 <= layer < num_hidden_layers = %d", layer,
                                 r->c.layers);
  bool listed;
  TK_RETURN_IF_ERROR(read_mlp_only(r, &listed));
  if (listed)
    return tk_arch_json_error_at(&r->d.src, r->mlp_only_member->offset,
                                 "--layer %d is a dense MLP layer (listed in mlp_only_layers), "
                                 "not a sparse MoE block",
                                 layer);
  if ((layer + 1) % step != 0)
    return tk_arch_json_error_at(&r->d.src, r->step_member->offset,
                                 "--layer %d is a dense MLP layer: a layer i holds the MoE block "
                                 "when (i + 1) mod decoder_sparse_step = 0 (layers %d, %d, ...)",
                                 layer, step - 1, 2 * step - 1);
  return TK_STATUS_OK;
}

static tk_status read_config(reader *r) {
  static tk_status (*const fields[])(reader *) = {
      read_model_type, read_hidden,         read_intermediate, read_experts,
      read_top_k,      read_norm_topk_prob, read_hidden_act,   read_dtype,
      read_layers,     read_sparse_step,    check_layer,
  };
  for (size_t i = 0; i < COUNT(fields); i++) TK_RETURN_IF_ERROR(fields[i](r));
  return TK_STATUS_OK;
}

/* ---- Entry points ---------------------------------------------------------------------- */

tk_status tk_hf_config_detect(const char *text, size_t len, bool *is_config) {
  tk_arch_json_source src = {.text = text, .len = len, .name = "<config.json>"};
  tk_arch_json_object obj;
  *is_config = false;
  if (!text) return TK_STATUS_OK;
  tk_status status = tk_arch_json_object_parse(&src, &obj);
  if (status && tk_status_code_of(status) == TK_RESOURCE_EXHAUSTED) return status;
  if (status) {
    tk_status_free(status); /* not JSON: the arch.json front end says why */
    return TK_STATUS_OK;
  }
  *is_config = tk_arch_json_object_find(&obj, "model_type") != NULL;
  tk_arch_json_object_free(&obj);
  return TK_STATUS_OK;
}

tk_status tk_qwen3_moe_config_parse(const char *text, size_t len, const char *source_name,
                                    int32_t layer, tk_qwen3_moe_config *out) {
  reader r = {
      .d.src = {.text = text, .len = len, .name = source_name ? source_name : "<config.json>"},
      .c.layer = layer};
  if (!text) return tk_status_make(TK_INVALID_ARGUMENT, "%s: no text to parse", r.d.src.name);
  TK_RETURN_IF_ERROR(tk_arch_json_object_parse(&r.d.src, &r.d.obj));
  tk_status status = read_config(&r);
  tk_arch_json_object_free(&r.d.obj);
  if (!status) *out = r.c;
  return status;
}

tk_status tk_qwen3_moe_config_load(const char *path, int32_t layer, tk_qwen3_moe_config *out) {
  char *text = NULL;
  size_t len = 0;
  TK_RETURN_IF_ERROR(tk_arch_json_read_file(path, CONFIG_FILE_LIMIT, "a config.json", &text, &len));
  tk_status status = tk_qwen3_moe_config_parse(text, len, path, layer, out);
  free(text);
  return status;
}

/* ---- Tensors ----------------------------------------------------------------------------- */

/* The block's shape in the terms of runtime/hf_qwen3.h, the one place the names are written. */
static tk_hf_qwen3_block hf_block(const tk_qwen3_moe_config *c) {
  return (tk_hf_qwen3_block){c->hidden, c->intermediate, c->experts, c->layer};
}

size_t tk_qwen3_moe_tensor_count(const tk_qwen3_moe_config *config) {
  tk_hf_qwen3_block b = hf_block(config);
  return tk_hf_qwen3_param_count(&b);
}

tk_qwen3_moe_tensor tk_qwen3_moe_tensor_at(const tk_qwen3_moe_config *c, size_t i) {
  tk_qwen3_moe_tensor t;
  tk_hf_qwen3_block b = hf_block(c);
  tk_hf_qwen3_param(&b, i, t.name, &t.rows, &t.cols);
  return t;
}

/* ---- A checkpoint against the block ---------------------------------------------------------- */

const char *tk_qwen3_moe_layout_name(tk_qwen3_moe_layout layout) {
  return layout == TK_QWEN3_MOE_FUSED ? "fused" : "per-expert";
}

tk_status tk_qwen3_moe_weights_check(const tk_qwen3_moe_config *c, const tk_safetensors *st,
                                     const char *path, tk_qwen3_moe_layout *layout,
                                     tk_hf_dtype *dtype) {
  tk_hf_qwen3_block b = hf_block(c);
  tk_hf_qwen3_layout found_layout;
  tk_safetensors_dtype found_dtype;
  TK_RETURN_IF_ERROR(tk_hf_qwen3_check(&b, st, path, &found_layout, &found_dtype));
  *layout = found_layout == TK_HF_QWEN3_FUSED ? TK_QWEN3_MOE_FUSED : TK_QWEN3_MOE_PER_EXPERT;
  *dtype = found_dtype == TK_SAFETENSORS_BF16 ? TK_HF_BFLOAT16 : TK_HF_FLOAT32;
  return TK_STATUS_OK;
}
