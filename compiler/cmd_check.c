/* compiler/cmd_check.c — `tkc check ARCH.json`: validate an arch.json (docs/formats.md §1) and
 * print its canonical form, fingerprint, parameter tensors (checkpoint order, docs/formats.md §2),
 * the total parameter count and the f32 weight footprint. `tkc check [--layer N] CONFIG.json`:
 * validate a Hugging Face config.json's Qwen3-MoE block (docs/formats.md §7) and print its
 * shape and its tensors by their Hugging Face names.
 *
 * Output goes to stdout only on success; errors go to stderr with the exit codes of FORMATS
 * §4 (1 invalid or unreadable arch.json, 2 usage).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "model/arch_json.h"
#include "model/hf_config.h"
#include "tk/safetensors.h"
#include "compiler/tkc_commands.h"

static void print_help(void) {
  printf(
      "usage: tkc check ARCH.json\n"
      "       tkc check [--layer N] CONFIG.json\n"
      "\n"
      "Validates an arch.json (docs: docs/formats.md section 1) and prints its canonical JSON,\n"
      "its fingerprint (SHA-256 of the canonical JSON, first 8 bytes in hex), every parameter\n"
      "tensor in checkpoint order with its shape and element count, the total parameter\n"
      "count and the memory the f32 weights take.\n"
      "\n"
      "A Hugging Face config.json (a file with \"model_type\": \"qwen3_moe\", docs/formats.md\n"
      "section 7) is read as the Qwen3-MoE sparse block of one decoder layer: its shape, its\n"
      "tensors by their Hugging Face names, the parameter count and the weights' memory in the\n"
      "config's dtype. `tkc compile CONFIG.json` compiles that block (docs/formats.md 1.5).\n"
      "\n"
      "Options:\n"
      "  --layer N    the decoder layer of a config.json (default 0); it must hold an MoE block\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit codes: 0 valid, 1 invalid or unreadable file, 2 usage error.\n");
}

static const char *role_name(tk_param_role role) {
  switch (role) {
    case TK_PARAM_WEIGHT: return "weight";
    case TK_PARAM_BIAS: return "bias";
    case TK_PARAM_GAMMA: return "gamma";
    case TK_PARAM_BETA: return "beta";
  }
  return "?";
}

/* One line per tensor: name, role, stored shape, element count. */
static void print_params(const tk_arch *arch) {
  size_t count = tk_arch_param_count(arch);
  printf("parameters: %zu tensors (name, role, stored shape, elements)\n", count);
  for (size_t i = 0; i < count; i++) {
    tk_param_spec p = tk_arch_param(arch, i);
    char shape[32];
    snprintf(shape, sizeof shape, "[%" PRId32 ", %" PRId32 "]", p.rows, p.cols);
    printf("  %-22s %-6s %-14s %" PRIu64 "\n", p.name, role_name(p.role), shape, p.count);
  }
}

static void print_arch_weights(uint64_t total, const char *dtype, int bytes) {
  printf("total parameters: %" PRIu64 "\n", total);
  printf("weights (%s): %" PRIu64 " bytes (%.2f MiB)\n", dtype, total * (uint64_t)bytes,
         (double)total * bytes / (1024.0 * 1024.0));
}

static int check_arch(const char *path, const char *text, size_t len) {
  tk_arch arch;
  tk_status status = tk_arch_parse(text, len, path, &arch);
  if (status) return tkc_fail("check", status);
  char *json = NULL;
  status = tk_arch_canonical_json(&arch, &json);
  if (status) return tkc_fail("check", status);
  printf("arch: %s\n", path);
  printf("canonical: %s\n", json);
  printf("fingerprint: %s\n", arch.fingerprint);
  free(json);
  print_params(&arch);
  print_arch_weights(tk_arch_weight_total(&arch), "f32", 4);
  return TKC_EXIT_OK;
}

typedef struct check_args {
  const char *path, *weights;
  int32_t layer;
  bool layer_given;
} check_args;

/* --weights: the checkpoint holds the block's tensors (read before anything is printed). */
static tk_status check_weights(const tk_qwen3_moe_config *c, const char *path, char *line,
                               size_t cap) {
  tk_safetensors *st = NULL;
  TK_RETURN_IF_ERROR(tk_safetensors_open(path, &st));
  tk_qwen3_moe_layout layout;
  tk_hf_dtype dtype;
  tk_status status = tk_qwen3_moe_weights_check(c, st, path, &layout, &dtype);
  if (!status)
    snprintf(line, cap, "weights: %s: the block's tensors, %s layout, %s (%zu tensors in all)",
             path, tk_qwen3_moe_layout_name(layout), tk_hf_dtype_name(dtype),
             tk_safetensors_count(st));
  tk_safetensors_close(st);
  return status;
}

static int check_config(const check_args *a, const char *text, size_t len) {
  tk_qwen3_moe_config c;
  tk_status status = tk_qwen3_moe_config_parse(text, len, a->path, a->layer, &c);
  char weights[1200] = "";
  if (!status && a->weights) status = check_weights(&c, a->weights, weights, sizeof weights);
  if (status) return tkc_fail("check", status);
  printf("config: %s\n", a->path);
  printf("block: %s, layer %" PRId32 " of %" PRId32 ": hidden %" PRId32 ", %" PRId32
         " experts, top %" PRId32 "%s, SwiGLU intermediate %" PRId32 ", no biases\n",
         TK_QWEN3_MOE_MODEL_TYPE, c.layer, c.layers, c.hidden, c.experts, c.top_k,
         c.norm_topk_prob ? " renormalised" : "", c.intermediate);
  size_t count = tk_qwen3_moe_tensor_count(&c);
  uint64_t total = 0;
  printf("tensors: %zu (Hugging Face name, shape [out, in], elements)\n", count);
  for (size_t i = 0; i < count; i++) {
    tk_qwen3_moe_tensor t = tk_qwen3_moe_tensor_at(&c, i);
    uint64_t n = (uint64_t)t.rows * (uint64_t)t.cols;
    char shape[32];
    snprintf(shape, sizeof shape, "[%" PRId32 ", %" PRId32 "]", t.rows, t.cols);
    printf("  %-52s %-14s %" PRIu64 "\n", t.name, shape, n);
    total += n;
  }
  print_arch_weights(total, tk_hf_dtype_name(c.dtype), tk_hf_dtype_size(c.dtype));
  if (a->weights) printf("%s\n", weights);
  printf("compile: tkc compile [--layer %" PRId32 "] %s -o DIR\n", c.layer, a->path);
  return TKC_EXIT_OK;
}

/* "--layer N": 0 <= N < 2^31 (the config bounds it further). */
static bool parse_layer(const char *v, int32_t *out) {
  char *end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 0 || n > INT32_MAX) return false;
  *out = (int32_t)n;
  return true;
}

static int check_file(const check_args *a) {
  char *text = NULL;
  size_t len = 0;
  enum { FILE_LIMIT = 1 << 20 };
  tk_status status =
      tk_arch_json_read_file(a->path, FILE_LIMIT, "an arch.json or config.json", &text, &len);
  if (status) return tkc_fail("check", status);
  int rc;
  bool is_config = false;
  status = tk_hf_config_detect(text, len, &is_config);
  if (status)
    rc = tkc_fail("check", status);
  else if (is_config)
    rc = check_config(a, text, len);
  else if (a->layer_given || a->weights)
    rc = tkc_usage_error("check",
                         "%s applies to a Hugging Face config.json, and '%s' is not one (no "
                         "\"model_type\")",
                         a->weights ? "--weights" : "--layer", a->path);
  else
    rc = check_arch(a->path, text, len);
  free(text);
  return rc;
}

/* Fills *a; returns -1 when the arguments are fine, else the exit code of a usage error. */
static int parse_args(int argc, char **argv, check_args *a) {
  for (int i = 1; i < argc; i++) {
    bool layer = strcmp(argv[i], "--layer") == 0, weights = strcmp(argv[i], "--weights") == 0;
    if ((layer || weights) && i + 1 >= argc)
      return tkc_usage_error("check", "%s needs a value", argv[i]);
    if (layer && !parse_layer(argv[i + 1], &a->layer))
      return tkc_usage_error("check", "--layer '%s': expected a layer index 0, 1, 2, ...",
                             argv[i + 1]);
    if (layer || weights) {
      a->layer_given |= layer;
      if (weights) a->weights = argv[i + 1];
      i++;
      continue;
    }
    if (argv[i][0] == '-' && argv[i][1] != '\0')
      return tkc_usage_error("check", "unknown option '%s'", argv[i]);
    if (a->path)
      return tkc_usage_error("check", "one ARCH.json or CONFIG.json expected, got '%s' and '%s'",
                             a->path, argv[i]);
    a->path = argv[i];
  }
  if (!a->path) return tkc_usage_error("check", "missing ARCH.json or CONFIG.json");
  return -1;
}

int tkc_cmd_check(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    print_help();
    return TKC_EXIT_OK;
  }
  check_args a = {0};
  int usage = parse_args(argc, argv, &a);
  return usage >= 0 ? usage : check_file(&a);
}
