/* tests/unit/hf_config_test.c — the Hugging Face config.json front end (model/hf_config.c)
 * against docs/formats.md §7: Qwen3-30B-A3B's block shape and models/qwen3-moe-tiny read back,
 * the tensors' Hugging Face names and shapes, and every rule's error with its line:col worked
 * out by hand from the config below (a value's column is the key's length + 7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "model/hf_config.h"
#include "tk/safetensors.h"
#include "tests/unit/test.h"

/* Qwen3-30B-A3B's MoE fields, one per line (line 1 is "{"). */
static const char *const base_lines[] = {
    "{",
    "  \"architectures\": [\"Qwen3MoeForCausalLM\"],",
    "  \"model_type\": \"qwen3_moe\",",
    "  \"hidden_size\": 2048,",
    "  \"moe_intermediate_size\": 768,",
    "  \"num_experts\": 128,",
    "  \"num_experts_per_tok\": 8,",
    "  \"norm_topk_prob\": true,",
    "  \"hidden_act\": \"silu\",",
    "  \"torch_dtype\": \"bfloat16\",",
    "  \"num_hidden_layers\": 48,",
    "  \"decoder_sparse_step\": 1,",
    "  \"mlp_only_layers\": [],",
    "  \"rope_scaling\": null",
    "}",
};
#define NLINES (sizeof base_lines / sizeof base_lines[0])

/* The config with `key`'s line given the raw value `value` (NULL: the line removed; key
 * "rope_scaling" may be replaced by another key through `line`). Static storage. */
static const char *config_with(const char *key, const char *value, const char *line) {
  static char text[4096];
  size_t n = 0;
  for (size_t i = 0; i < NLINES; i++) {
    char want[64];
    snprintf(want, sizeof want, "  \"%s\":", key ? key : "");
    const char *l = base_lines[i];
    char edited[256];
    if (key && strncmp(l, want, strlen(want)) == 0) {
      if (line) {
        l = line;
      } else if (!value) {
        continue;
      } else {
        bool last = l[strlen(l) - 1] != ',';
        snprintf(edited, sizeof edited, "%s %s%s", want, value, last ? "" : ",");
        l = edited;
      }
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", l);
  }
  return text;
}

static tk_status parse(const char *text, int32_t layer, tk_qwen3_moe_config *c) {
  return tk_qwen3_moe_config_parse(text, strlen(text), "cfg.json", layer, c);
}

static void test_qwen3_30b_a3b(void) {
  tk_qwen3_moe_config c;
  CHECK_OK(parse(config_with(NULL, NULL, NULL), 0, &c));
  CHECK(c.hidden == 2048 && c.intermediate == 768 && c.experts == 128 && c.top_k == 8);
  CHECK(c.norm_topk_prob && c.dtype == TK_HF_BFLOAT16 && c.layers == 48 && c.layer == 0);
  CHECK(tk_qwen3_moe_tensor_count(&c) == 385);
  tk_qwen3_moe_tensor t = tk_qwen3_moe_tensor_at(&c, 0);
  CHECK(strcmp(t.name, "model.layers.0.mlp.gate.weight") == 0 && t.rows == 128 && t.cols == 2048);
  t = tk_qwen3_moe_tensor_at(&c, 384);
  CHECK(strcmp(t.name, "model.layers.0.mlp.experts.127.down_proj.weight") == 0 && t.rows == 2048 &&
        t.cols == 768);
  /* 128·2048 + 128·3·768·2048 */
  uint64_t total = 0;
  for (size_t i = 0; i < tk_qwen3_moe_tensor_count(&c); i++) {
    t = tk_qwen3_moe_tensor_at(&c, i);
    total += (uint64_t)t.rows * (uint64_t)t.cols;
  }
  CHECK(total == 604241920u);
  CHECK_OK(parse(config_with(NULL, NULL, NULL), 47, &c));
  t = tk_qwen3_moe_tensor_at(&c, 2);
  CHECK(strcmp(t.name, "model.layers.47.mlp.experts.0.up_proj.weight") == 0 && t.rows == 768 &&
        t.cols == 2048);
  CHECK(tk_hf_dtype_size(c.dtype) == 2 && strcmp(tk_hf_dtype_name(c.dtype), "bfloat16") == 0);
}

/* Absent optional fields take Hugging Face's defaults; null dtype is float32. */
static void test_defaults(void) {
  tk_qwen3_moe_config c;
  CHECK_OK(parse(config_with("norm_topk_prob", NULL, NULL), 0, &c));
  CHECK(!c.norm_topk_prob);
  CHECK_OK(parse(config_with("hidden_act", NULL, NULL), 0, &c));
  CHECK_OK(parse(config_with("torch_dtype", "null", NULL), 0, &c));
  CHECK(c.dtype == TK_HF_FLOAT32);
  CHECK_OK(parse(config_with("torch_dtype", NULL, NULL), 0, &c));
  CHECK(c.dtype == TK_HF_FLOAT32);
  CHECK_OK(parse(config_with("torch_dtype", "\"float32\"", NULL), 0, &c));
  CHECK(c.dtype == TK_HF_FLOAT32);
  /* newer transformers write "dtype"; agreeing with torch_dtype is fine */
  CHECK_OK(parse(config_with("rope_scaling", NULL, "  \"dtype\": \"bfloat16\""), 0, &c));
  CHECK(c.dtype == TK_HF_BFLOAT16);
  CHECK_OK(parse(config_with("mlp_only_layers", "null", NULL), 0, &c));
  CHECK_OK(parse(config_with("decoder_sparse_step", NULL, NULL), 5, &c));
  CHECK_OK(parse(config_with("mlp_only_layers", "[0, 3]", NULL), 1, &c));
  CHECK_OK(parse(config_with("decoder_sparse_step", "2", NULL), 1, &c));
  CHECK_OK(parse(config_with("decoder_sparse_step", "2", NULL), 47, &c));
}

typedef struct bad_case {
  const char *key, *value, *line;
  int32_t layer;
  const char *want;
} bad_case;

static const bad_case bad_cases[] = {
    {"model_type", "\"qwen2_moe\"", NULL, 0,
     "cfg.json:3:17: field 'model_type': value \"qwen2_moe\", expected one of \"qwen3_moe\""},
    {"model_type", NULL, NULL, 0, "cfg.json: field 'model_type': missing"},
    {"hidden_size", "0", NULL, 0,
     "cfg.json:4:18: field 'hidden_size': value 0, expected 1 <= hidden_size <= 65536 (limit)"},
    {"hidden_size", "2048.0", NULL, 0,
     "cfg.json:4:18: field 'hidden_size': value 2048.0, expected an integer (no fraction"},
    {"hidden_size", NULL, NULL, 0, "field 'hidden_size': missing, expected an integer"},
    {"moe_intermediate_size", "\"768\"", NULL, 0,
     "cfg.json:5:28: field 'moe_intermediate_size': value \"768\", expected an integer, found a "
     "string"},
    {"num_experts", "513", NULL, 0,
     "cfg.json:6:18: field 'num_experts': value 513, expected 1 <= num_experts <= 512"},
    {"num_experts_per_tok", "129", NULL, 0,
     "cfg.json:7:26: field 'num_experts_per_tok': value 129, expected 1 <= num_experts_per_tok "
     "<= num_experts = 128"},
    {"num_experts_per_tok", "0", NULL, 0, "field 'num_experts_per_tok': value 0"},
    {"norm_topk_prob", "1", NULL, 0,
     "cfg.json:8:21: field 'norm_topk_prob': value 1, expected true or false, found a number"},
    {"hidden_act", "\"gelu\"", NULL, 0,
     "cfg.json:9:17: field 'hidden_act': value \"gelu\", expected one of \"silu\""},
    {"hidden_act", "\"SiLU\"", NULL, 0, "(case-sensitive)"},
    {"torch_dtype", "\"float16\"", NULL, 0,
     "cfg.json:10:18: field 'torch_dtype': value \"float16\", expected one of \"float32\", "
     "\"bfloat16\""},
    {"rope_scaling", NULL, "  \"dtype\": \"float32\"", 0,
     "cfg.json:14:12: field 'dtype': value \"float32\", expected the same type as torch_dtype "
     "(\"bfloat16\")"},
    {"num_hidden_layers", "0", NULL, 0, "cfg.json:11:24: field 'num_hidden_layers': value 0"},
    {"num_hidden_layers", NULL, NULL, 0, "field 'num_hidden_layers': missing"},
    {NULL, NULL, NULL, 48,
     "cfg.json:11:24: --layer 48: expected 0 <= layer < num_hidden_layers = 48"},
    {NULL, NULL, NULL, -1, "--layer -1: expected 0 <= layer"},
    {"mlp_only_layers", "[0, 3]", NULL, 3,
     "cfg.json:13:22: --layer 3 is a dense MLP layer (listed in mlp_only_layers)"},
    {"mlp_only_layers", "[0, 1.5]", NULL, 2,
     "cfg.json:13:22: field 'mlp_only_layers': value [0, 1.5], expected an array of layer "
     "indices"},
    {"mlp_only_layers", "[48]", NULL, 2, "field 'mlp_only_layers': value [48]"},
    {"mlp_only_layers", "[\"1\"]", NULL, 2, "field 'mlp_only_layers': value [\"1\"]"},
    {"mlp_only_layers", "[[1]]", NULL, 2, "field 'mlp_only_layers': value [[1]]"},
    {"mlp_only_layers", "3", NULL, 2, "expected an array of layer indices"},
    {"decoder_sparse_step", "2", NULL, 0,
     "cfg.json:12:26: --layer 0 is a dense MLP layer: a layer i holds the MoE block when (i + 1) "
     "mod decoder_sparse_step = 0 (layers 1, 3, ...)"},
    {"decoder_sparse_step", "0", NULL, 0, "field 'decoder_sparse_step': value 0"},
};

static void test_bad(void) {
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case *b = &bad_cases[i];
    tk_qwen3_moe_config c = {.hidden = -7};
    tk_status s = parse(config_with(b->key, b->value, b->line), b->layer, &c);
    const char *msg = s ? tk_status_message(s) : "(accepted)";
    CHECK_MSG(s && tk_status_code_of(s) == TK_INVALID_ARGUMENT && strstr(msg, b->want),
              "case %zu (%s = %s, layer %d): want '%s', got '%s'", i, b->key ? b->key : "-",
              b->value ? b->value : "-", b->layer, b->want, msg);
    CHECK_MSG(c.hidden == -7, "case %zu wrote its output on failure", i);
    tk_status_free(s);
  }
}

/* The message carries the source line and a caret under the value. */
static void test_message_format(void) {
  tk_qwen3_moe_config c;
  tk_status s = parse(config_with("num_experts", "513", NULL), 0, &c);
  const char *msg = tk_status_message(s);
  CHECK_MSG(strstr(msg, "\n     6 |   \"num_experts\": 513,\n       |                  ^"), "%s",
            msg);
  tk_status_free(s);
}

/* tk_hf_config_detect's answer; a status (out of memory) fails the check. */
static bool detect(const char *text, size_t len) {
  bool is_config = false;
  tk_status s = tk_hf_config_detect(text, len, &is_config);
  CHECK(!s);
  tk_status_free(s);
  return is_config;
}

/* A config.json is told apart from an arch.json, and the arch.json front end names it. */
static void test_detect_and_arch(void) {
  const char *text = config_with(NULL, NULL, NULL);
  CHECK(detect(text, strlen(text)));
  const char *arch = "{\"size\": \"Nano\", \"seed\": 1}";
  CHECK(!detect(arch, strlen(arch)));
  CHECK(!detect("{\"model_type\": ", 15));
  CHECK(!detect(NULL, 0));
  tk_arch a;
  CHECK_ERR(
      tk_arch_parse(text, strlen(text), "cfg.json", &a),
      "cfg.json:3:17: a Hugging Face config.json (model_type \"qwen3_moe\"), not an arch.json");
  const char *llama = config_with("model_type", "\"llama\"", NULL);
  CHECK_ERR(tk_arch_parse(llama, strlen(llama), "cfg.json", &a),
            "model_type \"llama\"), not an arch.json: tkc reads configs of model_type "
            "\"qwen3_moe\" only");
}

/* Every prefix of a valid file is rejected without reading past it (ASan checks). */
static void test_truncations(void) {
  const char *text = config_with(NULL, NULL, NULL);
  size_t len = strlen(text);
  for (size_t cut = 0; cut + 1 < len; cut++) {
    char *copy = malloc(cut ? cut : 1);
    memcpy(copy, text, cut);
    tk_qwen3_moe_config c;
    tk_status s = tk_qwen3_moe_config_parse(copy, cut, "cut.json", 0, &c);
    CHECK_MSG(s != NULL && tk_status_code_of(s) == TK_INVALID_ARGUMENT,
              "prefix of %zu bytes accepted", cut);
    tk_status_free(s);
    free(copy);
  }
}

/* ---- A checkpoint against the block: safetensors files made here ---------------------- */

/* H = 4, E = 2, K = 1, I = 3, layer 1 of 2. */
static const char small_config[] =
    "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 4, \"moe_intermediate_size\": 3, "
    "\"num_experts\": 2, \"num_experts_per_tok\": 1, \"num_hidden_layers\": 2}";

typedef struct st_tensor {
  const char *name, *dtype;
  int rank;
  int shape[3];
} st_tensor;

/* A safetensors file of these tensors (zero data) in buf; returns its size. */
static size_t st_file(const st_tensor *t, size_t n, char *buf, size_t cap) {
  char header[4096];
  size_t h = (size_t)snprintf(header, sizeof header, "{");
  uint64_t offset = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t numel = 1;
    h += (size_t)snprintf(header + h, sizeof header - h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                          i ? "," : "", t[i].name, t[i].dtype);
    for (int d = 0; d < t[i].rank; d++) {
      h += (size_t)snprintf(header + h, sizeof header - h, "%s%d", d ? "," : "", t[i].shape[d]);
      numel *= (uint64_t)t[i].shape[d];
    }
    uint64_t bytes = numel * (strcmp(t[i].dtype, "F32") == 0 ? 4 : 2);
    h += (size_t)snprintf(header + h, sizeof header - h, "],\"data_offsets\":[%llu,%llu]}",
                          (unsigned long long)offset, (unsigned long long)(offset + bytes));
    offset += bytes;
  }
  h += (size_t)snprintf(header + h, sizeof header - h, "}");
  while (h % 8) header[h++] = ' ';
  uint64_t len = h;
  CHECK(8 + h + offset <= cap);
  memcpy(buf, &len, 8); /* little-endian host (x86_64) */
  memcpy(buf + 8, header, h);
  memset(buf + 8 + h, 0, offset);
  return 8 + h + (size_t)offset;
}

/* The per-expert tensors of small_config (7), with tensor `drop` left out and tensor `alter`
 * given `dtype` / its first dim + 1 (-1: none). */
static size_t per_expert_file(int drop, int alter, const char *dtype, bool reshape, char *buf,
                              size_t cap) {
  static const char *const names[] = {
      "model.layers.1.mlp.gate.weight",
      "model.layers.1.mlp.experts.0.gate_proj.weight",
      "model.layers.1.mlp.experts.0.up_proj.weight",
      "model.layers.1.mlp.experts.0.down_proj.weight",
      "model.layers.1.mlp.experts.1.gate_proj.weight",
      "model.layers.1.mlp.experts.1.up_proj.weight",
      "model.layers.1.mlp.experts.1.down_proj.weight",
  };
  static const int shapes[][2] = {{2, 4}, {3, 4}, {3, 4}, {4, 3}, {3, 4}, {3, 4}, {4, 3}};
  st_tensor t[8];
  size_t n = 0;
  for (int i = 0; i < 7; i++) {
    if (i == drop) continue;
    t[n] = (st_tensor){names[i], i == alter ? dtype : "BF16", 2, {shapes[i][0], shapes[i][1]}};
    if (i == alter && reshape) t[n].shape[0]++;
    n++;
  }
  t[n++] = (st_tensor){"model.embed_tokens.weight", "BF16", 2, {5, 4}}; /* the rest of a model */
  return st_file(t, n, buf, cap);
}

static tk_status check_weights(const char *data, size_t size, tk_qwen3_moe_layout *layout,
                               tk_hf_dtype *dtype) {
  tk_qwen3_moe_config c;
  tk_status s = tk_qwen3_moe_config_parse(small_config, strlen(small_config), "small.json", 1, &c);
  if (s) return s;
  tk_safetensors *st = NULL;
  s = tk_safetensors_open_memory(data, size, "m.safetensors", &st);
  if (!s) s = tk_qwen3_moe_weights_check(&c, st, "m.safetensors", layout, dtype);
  tk_safetensors_close(st);
  return s;
}

static void test_weights(void) {
  static char buf[1 << 14];
  tk_qwen3_moe_layout layout;
  tk_hf_dtype dtype;
  size_t n = per_expert_file(-1, -1, NULL, false, buf, sizeof buf);
  CHECK_OK(check_weights(buf, n, &layout, &dtype));
  CHECK(layout == TK_QWEN3_MOE_PER_EXPERT && dtype == TK_HF_BFLOAT16);
  n = per_expert_file(5, -1, NULL, false, buf, sizeof buf);
  CHECK_ERR(check_weights(buf, n, &layout, &dtype),
            "m.safetensors: tensor model.layers.1.mlp.experts.1.up_proj.weight: missing (expert 1 "
            "of 2: moe_intermediate_size x hidden_size)");
  n = per_expert_file(0, -1, NULL, false, buf, sizeof buf);
  CHECK_ERR(check_weights(buf, n, &layout, &dtype),
            "tensor model.layers.1.mlp.gate.weight: missing (the router");
  n = per_expert_file(-1, 6, "BF16", true, buf, sizeof buf);
  CHECK_ERR(check_weights(buf, n, &layout, &dtype),
            "m.safetensors: tensor model.layers.1.mlp.experts.1.down_proj.weight: shape [5, 3], "
            "expected [4, 3] (expert 1 of 2: hidden_size x moe_intermediate_size)");
  n = per_expert_file(-1, 2, "F16", false, buf, sizeof buf);
  CHECK_ERR(check_weights(buf, n, &layout, &dtype),
            "tensor model.layers.1.mlp.experts.0.up_proj.weight: dtype F16, expected F32 or BF16");
  n = per_expert_file(-1, 3, "F32", false, buf, sizeof buf);
  CHECK_ERR(check_weights(buf, n, &layout, &dtype),
            "tensor model.layers.1.mlp.experts.0.down_proj.weight: dtype F32, expected BF16 like "
            "the block's other tensors");
  /* the fused layout */
  st_tensor fused[] = {
      {"model.layers.1.mlp.gate.weight", "F32", 2, {2, 4}},
      {"model.layers.1.mlp.experts.gate_up_proj", "F32", 3, {2, 6, 4}},
      {"model.layers.1.mlp.experts.down_proj", "F32", 3, {2, 4, 3}},
  };
  n = st_file(fused, 3, buf, sizeof buf);
  CHECK_OK(check_weights(buf, n, &layout, &dtype));
  CHECK(layout == TK_QWEN3_MOE_FUSED && dtype == TK_HF_FLOAT32);
  fused[1].shape[1] = 3; /* I, not 2I */
  n = st_file(fused, 3, buf, sizeof buf);
  CHECK_ERR(check_weights(buf, n, &layout, &dtype),
            "tensor model.layers.1.mlp.experts.gate_up_proj: shape [2, 3, 4], expected [2, 6, 4] "
            "(fused: num_experts x 2·moe_intermediate_size x hidden_size)");
  fused[1].shape[1] = 6;
  n = st_file(fused, 2, buf, sizeof buf); /* no down_proj */
  CHECK_ERR(check_weights(buf, n, &layout, &dtype),
            "tensor model.layers.1.mlp.experts.down_proj: missing");
}

/* models/qwen3-moe-tiny/config.json: the README's figures. */
static void test_tiny_model(void) {
  tk_qwen3_moe_config c;
  CHECK_OK(tk_qwen3_moe_config_load(src_path("models/qwen3-moe-tiny/config.json"), 0, &c));
  CHECK(c.hidden == 256 && c.experts == 16 && c.top_k == 4 && c.intermediate == 128);
  CHECK(c.norm_topk_prob && c.dtype == TK_HF_BFLOAT16 && c.layers == 1);
  tk_status s = tk_qwen3_moe_config_load(src_path("models/qwen3-moe-tiny/no-such.json"), 0, &c);
  CHECK(tk_status_code_of(s) == TK_IO_ERROR && strstr(tk_status_message(s), "no-such.json"));
  tk_status_free(s);
}

int main(void) {
  test_qwen3_30b_a3b();
  test_defaults();
  test_bad();
  test_message_format();
  test_detect_and_arch();
  test_truncations();
  test_tiny_model();
  test_weights();
  TEST_MAIN_END();
}
