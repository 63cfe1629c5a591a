/* tests/fuzz/fuzz_arch.c — libFuzzer target for the arch.json reader (model/arch.c over the
 * strict scanner model/arch_json.c; docs/formats.md §1) and the Hugging Face config.json
 * reader of the same scanner (model/hf_config.c; docs/formats.md §7).
 *
 * Input: arbitrary bytes as the text of an arch.json. Properties, beyond "no crash, no leak,
 * no UB" (ASan/UBSan):
 *   - a rejection is TK_INVALID_ARGUMENT with a non-empty message (tk_arch_parse's contract);
 *   - for an accepted input, the canonical JSON re-parses, to the same fields (bitwise), the
 *     same fingerprint and the same canonical text, and the fingerprint is the first 8 bytes
 *     of SHA-256(canonical text) in lowercase hex (docs/formats.md §1.4);
 *   - the parameter list is consistent: count = rows × cols >= 1, names NUL-terminated,
 *     and the counts add up to tk_arch_weight_total;
 *   - the same bytes as a config.json (layer 0): a rejection as above; an accepted block has
 *     its fields within §7's limits, a "model_type" key (tk_hf_config_detect), 1 + 3E tensors
 *     named model.layers.0.mlp.* with positive shapes, and is never also an arch.json.
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "model/arch.h"
#include "model/hf_config.h"
#include "tests/fuzz/fuzz_util.h"

static bool same_fields(const tk_arch *a, const tk_arch *b) {
  return a->size == b->size && a->input_dim == b->input_dim && a->hidden_dim == b->hidden_dim &&
         a->output_dim == b->output_dim && a->n_experts == b->n_experts && a->top_k == b->top_k &&
         a->expert_depth == b->expert_depth && a->seed == b->seed &&
         a->model_kind == b->model_kind && a->router_kind == b->router_kind &&
         memcmp(&a->layer_norm_eps, &b->layer_norm_eps, sizeof a->layer_norm_eps) == 0 &&
         a->hidden_act == b->hidden_act && a->weight_layout == b->weight_layout;
}

static void check_fingerprint(const tk_arch *a, const char *canon) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  FUZZ_CHECK(EVP_Digest(canon, strlen(canon), md, &md_len, EVP_sha256(), NULL) && md_len == 32,
             "EVP_Digest failed");
  char hex[17];
  for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  FUZZ_CHECK(strcmp(hex, a->fingerprint) == 0, "fingerprint %s, SHA-256 of the canonical text %s",
             a->fingerprint, hex);
}

static void check_params(const tk_arch *a) {
  size_t n = tk_arch_param_count(a);
  FUZZ_CHECK(n >= 1, "no parameters");
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    tk_param_spec p = tk_arch_param(a, i);
    FUZZ_CHECK(memchr(p.name, 0, sizeof p.name) != NULL && p.name[0], "param %zu: bad name", i);
    FUZZ_CHECK(p.rows >= 1 && p.cols >= 1 && p.count == (uint64_t)p.rows * (uint64_t)p.cols,
               "param %zu (%s): %d x %d but count %llu", i, p.name, p.rows, p.cols,
               (unsigned long long)p.count);
    FUZZ_CHECK(p.in >= 1 && p.out >= 1, "param %zu (%s): in %d out %d", i, p.name, p.in, p.out);
    total += p.count;
  }
  FUZZ_CHECK(total == tk_arch_weight_total(a), "params add up to %llu, weight_total %llu",
             (unsigned long long)total, (unsigned long long)tk_arch_weight_total(a));
}

static void check_config(const uint8_t *data, size_t size) {
  tk_qwen3_moe_config c;
  tk_status s = tk_qwen3_moe_config_parse((const char *)data, size, "fuzz.config.json", 0, &c);
  if (s) {
    fuzz_check_rejection(s);
    tk_status_free(s);
    return;
  }
  bool is_config = false;
  s = tk_hf_config_detect((const char *)data, size, &is_config);
  FUZZ_CHECK(!s && is_config, "accepted without model_type");
  FUZZ_CHECK(c.hidden >= 1 && c.hidden <= 65536 && c.intermediate >= 1 && c.intermediate <= 65536 &&
                 c.experts >= 1 && c.experts <= 512 && c.top_k >= 1 && c.top_k <= c.experts &&
                 c.layer == 0 && c.layers >= 1,
             "accepted block out of limits: H %d I %d E %d K %d layers %d", c.hidden,
             c.intermediate, c.experts, c.top_k, c.layers);
  size_t n = tk_qwen3_moe_tensor_count(&c);
  FUZZ_CHECK(n == 1 + 3 * (size_t)c.experts, "%zu tensors for %d experts", n, c.experts);
  for (size_t i = 0; i < n; i += 1 + (n > 64 ? n / 64 : 0)) {
    tk_qwen3_moe_tensor t = tk_qwen3_moe_tensor_at(&c, i);
    FUZZ_CHECK(memchr(t.name, 0, sizeof t.name) && !strncmp(t.name, "model.layers.0.mlp.", 19) &&
                   t.rows >= 1 && t.cols >= 1,
               "tensor %zu: %s [%d, %d]", i, t.name, t.rows, t.cols);
  }
  tk_arch a;
  s = tk_arch_parse((const char *)data, size, "fuzz.arch.json", &a);
  FUZZ_CHECK(s != NULL, "accepted both as a config.json and as an arch.json");
  tk_status_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_config(data, size);
  tk_arch a;
  tk_status s = tk_arch_parse((const char *)data, size, "fuzz.arch.json", &a);
  if (s) {
    fuzz_check_rejection(s);
    tk_status_free(s);
    return 0;
  }
  fuzz_trace("accepted, fingerprint %s", a.fingerprint);
  char *canon = NULL, *canon2 = NULL;
  s = tk_arch_canonical_json(&a, &canon);
  FUZZ_CHECK(!s && canon, "canonical_json: %s", tk_status_message(s));
  check_fingerprint(&a, canon);

  tk_arch b;
  s = tk_arch_parse(canon, strlen(canon), "canonical", &b);
  FUZZ_CHECK(!s, "the canonical form does not re-parse: %s\n  canonical: %s", tk_status_message(s),
             canon);
  FUZZ_CHECK(same_fields(&a, &b), "canonical form re-parses to other fields: %s", canon);
  FUZZ_CHECK(strcmp(a.fingerprint, b.fingerprint) == 0, "fingerprint %s, re-parsed %s",
             a.fingerprint, b.fingerprint);
  s = tk_arch_canonical_json(&b, &canon2);
  FUZZ_CHECK(!s && canon2 && strcmp(canon, canon2) == 0, "canonical text not stable:\n  %s\n  %s",
             canon, canon2 ? canon2 : "(none)");
  check_params(&a);
  free(canon);
  free(canon2);
  return 0;
}
