/* compiler/arch.c — arch.json → tk_arch: field validation (docs/formats.md §1), the canonical
 * JSON, the fingerprint, and loading from a file.
 *
 * The text is first read by the strict scanner of arch_json.c (syntax, duplicate keys,
 * trailing garbage). Then unknown keys are rejected, and the fields are read one by one in
 * the order of docs/formats.md §1's table; the first invalid one is reported. A rule that depends on
 * `model_kind` (a later row of the table) reads and validates `model_kind` first, so its
 * error comes before any rule that needs it. Integers are read from their token's digits,
 * never through a double: a u64 seed round-trips exactly, and fractions, exponents and
 * values outside 32 bits are rejected for the dims.
 *
 * Field errors read "path:line:col: field 'name': value V, expected E" plus the source line
 * and a caret; a missing field reads "path: field 'name': missing, expected E".
 */
#include "model/arch.h"

#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/arch_json.h"
#include "model/hf_config.h"
#include "model/json_fields.h"
#include "tk/alloc.h"

enum {
  ARCH_FILE_LIMIT = 1 << 20, /* bytes: an arch.json is a few hundred */
  DIM_LIMIT = 65536,         /* docs/formats.md §1 limits */
  DEPTH_LIMIT = 64,
  EXPERT_LIMIT = 64,
  QWEN3_EXPERT_LIMIT = 512, /* Qwen3MoE (the config.json front end's limit) */
  ORIGINAL_INPUT = 96,
  ORIGINAL_OUTPUT = 20,
  ORIGINAL_EXPERTS = 4,
  ORIGINAL_TOP_K = 2,
};
#define DEFAULT_LAYER_NORM_EPS 1e-5

static const char *const size_names[] = {"Nano", "Tiny", "Medium", "Full", "Custom"};
static const char *const kind_names[] = {"MoE", "Dense", "Qwen3MoE"};
static const char *const router_names[] = {"SheafPadic", "SheafOnly", "SoftmaxOnly"};
static const char *const act_names[] = {"gelu_tanh", "gelu", "silu"};
static const char *const layout_names[] = {"in_out", "out_in"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* docs/formats.md §1 size table: hidden_dim and expert_depth per named size. */
static const struct {
  int32_t hidden, depth;
} size_table[] = {
    [TK_SIZE_NANO] = {128, 2},
    [TK_SIZE_TINY] = {2048, 5},
    [TK_SIZE_MEDIUM] = {4096, 5},
    [TK_SIZE_FULL] = {4096, 12},
};

/* Every key an arch.json may hold, in the order of docs/formats.md §1's table. */
static const char *const known_keys[] = {
    "size",           "input_dim",    "hidden_dim",    "output_dim",     "n_experts",
    "top_k",          "expert_depth", "seed",          "model_kind",     "router_kind",
    "layer_norm_eps", "hidden_act",   "weight_layout", "norm_topk_prob",
};

typedef tk_arch_json_member member;

typedef struct reader {
  tk_json_doc d;
  tk_arch arch;   /* filled field by field */
  bool kind_read; /* arch.model_kind is valid */
} reader;

/* ---- Names ----------------------------------------------------------------------------- */

static const char *name_in(const char *const *names, size_t count, int index) {
  return index >= 0 && (size_t)index < count ? names[index] : NULL;
}
const char *tk_arch_size_name(tk_arch_size size) {
  return name_in(size_names, COUNT(size_names), size);
}
const char *tk_arch_model_kind_name(tk_model_kind kind) {
  return name_in(kind_names, COUNT(kind_names), kind);
}
const char *tk_arch_router_kind_name(tk_router_kind kind) {
  return name_in(router_names, COUNT(router_names), kind);
}
const char *tk_arch_hidden_act_name(tk_hidden_act act) {
  return name_in(act_names, COUNT(act_names), act);
}
const char *tk_arch_weight_layout_name(tk_weight_layout layout) {
  return name_in(layout_names, COUNT(layout_names), layout);
}

/* ---- Field errors ---------------------------------------------------------------------- */

/* True if key is one of known_keys; else *suggestion is a known key equal up to case, or NULL. */
static bool key_known(const char *key, const char **suggestion) {
  *suggestion = NULL;
  for (size_t k = 0; k < COUNT(known_keys); k++) {
    if (strcmp(key, known_keys[k]) == 0) return true;
    if (strcasecmp(key, known_keys[k]) == 0) *suggestion = known_keys[k];
  }
  return false;
}

/* docs/formats.md §1: unknown keys are an error (a typo must not silently change the model). */
static tk_status check_known_keys(const reader *r) {
  for (size_t i = 0; i < r->d.obj.count; i++) {
    const member *m = &r->d.obj.members[i];
    const char *suggestion;
    if (key_known(m->key, &suggestion)) continue;
    char shown[TK_ARCH_JSON_SHOWN_MAX], keys[256];
    tk_arch_json_shown(&r->d.src, m->key_offset, m->key_raw_len, shown);
    if (suggestion)
      return tk_arch_json_error_at(&r->d.src, m->key_offset,
                                   "unknown key %s (keys are case-sensitive: did you mean '%s'?)",
                                   shown, suggestion);
    size_t n = 0;
    for (size_t k = 0; k < COUNT(known_keys); k++)
      n += (size_t)snprintf(keys + n, sizeof keys - n, "%s%s", k ? ", " : "", known_keys[k]);
    return tk_arch_json_error_at(&r->d.src, m->key_offset, "unknown key %s; expected one of: %s",
                                 shown, keys);
  }
  return TK_STATUS_OK;
}

/* ---- Scalars from tokens --------------------------------------------------------------- */

static tk_status check_equal(const reader *r, const member *m, const char *key, int32_t value,
                             int32_t want, const char *why_name, const char *why_value) {
  if (value != want)
    return tk_json_field_error(&r->d, m, key, "%d for %s \"%s\"", want, why_name, why_value);
  return TK_STATUS_OK;
}

/* ---- The fields, in the order of docs/formats.md §1's table ------------------------------------ */

static tk_status read_size(reader *r) {
  static const char *also = " or an integer 0..3";
  const member *m = tk_arch_json_object_find(&r->d.obj, "size");
  if (m && m->kind == TK_ARCH_JSON_NUMBER) { /* docs/formats.md §1: also the index 0..3 */
    bool negative;
    uint64_t index;
    char expect[160];
    if (!m->is_integer || !tk_json_integer_token(&r->d, m, &negative, &index) || negative ||
        index > TK_SIZE_FULL) {
      tk_json_one_of(size_names, COUNT(size_names), expect, sizeof expect);
      return tk_json_field_error(&r->d, m, "size", "%s%s", expect, also);
    }
    r->arch.size = (tk_arch_size)index;
    return TK_STATUS_OK;
  }
  int index;
  TK_RETURN_IF_ERROR(
      tk_json_read_enum(&r->d, "size", size_names, COUNT(size_names), -1, also, &index));
  r->arch.size = (tk_arch_size)index;
  return TK_STATUS_OK;
}

/* model_kind is read on first need: the dims' rules depend on it. */
static tk_status read_model_kind(reader *r) {
  if (r->kind_read) return TK_STATUS_OK;
  int index;
  TK_RETURN_IF_ERROR(tk_json_read_enum(&r->d, "model_kind", kind_names, COUNT(kind_names),
                                       TK_MODEL_MOE, "", &index));
  r->arch.model_kind = (tk_model_kind)index;
  r->kind_read = true;
  return TK_STATUS_OK;
}

/* For an MoE arch with a named size, the dims are those of the original topology and of
 * the size table (docs/formats.md §1); "Custom" and Dense lift this. */
static tk_status check_topology(reader *r, const member *m, const char *key, int32_t value,
                                int32_t want) {
  if (r->arch.size == TK_SIZE_CUSTOM) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(read_model_kind(r));
  if (r->arch.model_kind == TK_MODEL_DENSE) return TK_STATUS_OK;
  if (r->arch.model_kind == TK_MODEL_QWEN3_MOE)
    return tk_json_field_error(&r->d, tk_arch_json_object_find(&r->d.obj, "size"), "size",
                               "\"Custom\" for model_kind \"Qwen3MoE\" (the named sizes are "
                               "the tokitai topology)");
  return check_equal(r, m, key, value, want, "size", size_names[r->arch.size]);
}

static int32_t table_hidden(const reader *r) {
  return r->arch.size == TK_SIZE_CUSTOM ? 0 : size_table[r->arch.size].hidden;
}
static int32_t table_depth(const reader *r) {
  return r->arch.size == TK_SIZE_CUSTOM ? 0 : size_table[r->arch.size].depth;
}

/* input_dim, hidden_dim, output_dim: within 1..65536, and the topology's value if named. */
static tk_status read_dim(reader *r, const char *key, int32_t topology_value, int32_t *out) {
  const member *m;
  TK_RETURN_IF_ERROR(tk_json_read_int32(&r->d, key, &m, out));
  TK_RETURN_IF_ERROR(tk_json_check_limit(&r->d, m, key, *out, 1, DIM_LIMIT, NULL));
  return check_topology(r, m, key, *out, topology_value);
}
static tk_status read_input_dim(reader *r) {
  return read_dim(r, "input_dim", ORIGINAL_INPUT, &r->arch.input_dim);
}
static tk_status read_hidden_dim(reader *r) {
  return read_dim(r, "hidden_dim", table_hidden(r), &r->arch.hidden_dim);
}
/* Qwen3MoE's block maps hidden states to hidden states: output_dim = input_dim. */
static tk_status read_output_dim(reader *r) {
  const member *m;
  TK_RETURN_IF_ERROR(read_dim(r, "output_dim", ORIGINAL_OUTPUT, &r->arch.output_dim));
  TK_RETURN_IF_ERROR(read_model_kind(r));
  TK_RETURN_IF_ERROR(tk_json_field_find(&r->d, "output_dim", true, "", &m));
  if (r->arch.model_kind != TK_MODEL_QWEN3_MOE || r->arch.output_dim == r->arch.input_dim)
    return TK_STATUS_OK;
  return tk_json_field_error(&r->d, m, "output_dim", "%d (input_dim) for model_kind \"Qwen3MoE\"",
                             r->arch.input_dim);
}

/* n_experts and top_k: 0 for Dense; otherwise 1 <= top_k <= n_experts <= 64 (docs/formats.md §1). */
static tk_status read_routing(reader *r, const char *key, int32_t hi, const char *hi_name,
                              int32_t topology_value, int32_t *out) {
  const member *m;
  TK_RETURN_IF_ERROR(tk_json_read_int32(&r->d, key, &m, out));
  TK_RETURN_IF_ERROR(read_model_kind(r));
  if (r->arch.model_kind == TK_MODEL_DENSE)
    return check_equal(r, m, key, *out, 0, "model_kind", "Dense");
  TK_RETURN_IF_ERROR(tk_json_check_limit(&r->d, m, key, *out, 1, hi, hi_name));
  return check_topology(r, m, key, *out, topology_value);
}
static tk_status read_n_experts(reader *r) {
  TK_RETURN_IF_ERROR(read_model_kind(r));
  int32_t hi = r->arch.model_kind == TK_MODEL_QWEN3_MOE ? QWEN3_EXPERT_LIMIT : EXPERT_LIMIT;
  return read_routing(r, "n_experts", hi, NULL, ORIGINAL_EXPERTS, &r->arch.n_experts);
}
static tk_status read_top_k(reader *r) {
  /* for Dense, n_experts is 0 and the bound unused */
  return read_routing(r, "top_k", r->arch.n_experts, "n_experts", ORIGINAL_TOP_K, &r->arch.top_k);
}

static tk_status read_expert_depth(reader *r) {
  const member *m;
  TK_RETURN_IF_ERROR(tk_json_read_int32(&r->d, "expert_depth", &m, &r->arch.expert_depth));
  TK_RETURN_IF_ERROR(
      tk_json_check_limit(&r->d, m, "expert_depth", r->arch.expert_depth, 0, DEPTH_LIMIT, NULL));
  TK_RETURN_IF_ERROR(read_model_kind(r));
  if (r->arch.model_kind == TK_MODEL_QWEN3_MOE && r->arch.expert_depth != 0)
    return tk_json_field_error(&r->d, m, "expert_depth",
                               "0 for model_kind \"Qwen3MoE\" (an expert is one SwiGLU MLP)");
  return check_topology(r, m, "expert_depth", r->arch.expert_depth, table_depth(r));
}

/* docs/formats.md §1: an integer token in [0, 2^64-1], read exactly from its digits. */
static tk_status read_seed(reader *r) {
  static const char *range = "an integer in [0, 18446744073709551615]";
  const member *m;
  bool negative;
  TK_RETURN_IF_ERROR(tk_json_field_find(&r->d, "seed", true, range, &m));
  if (m->kind != TK_ARCH_JSON_NUMBER)
    return tk_json_field_error(&r->d, m, "seed", "%s, found %s", range,
                               tk_arch_json_kind_name(m->kind));
  if (!m->is_integer)
    return tk_json_field_error(&r->d, m, "seed",
                               "%s written as plain digits (no fraction or exponent)", range);
  if (!tk_json_integer_token(&r->d, m, &negative, &r->arch.seed))
    return tk_json_field_error(&r->d, m, "seed", "%s (above 2^64-1)", range);
  if (negative) return tk_json_field_error(&r->d, m, "seed", "%s (not negative)", range);
  return TK_STATUS_OK;
}

/* An enum whose value Qwen3MoE fixes: absent, it takes the family's value (`family`) for
 * Qwen3MoE and `fallback` otherwise; present, it must be the family's value for Qwen3MoE. */
static tk_status read_family_enum(reader *r, const char *key, const char *const *names,
                                  size_t count, int fallback, int family, int *out) {
  TK_RETURN_IF_ERROR(read_model_kind(r));
  bool qwen3 = r->arch.model_kind == TK_MODEL_QWEN3_MOE;
  TK_RETURN_IF_ERROR(
      tk_json_read_enum(&r->d, key, names, count, qwen3 ? family : fallback, "", out));
  if (!qwen3 || *out == family) return TK_STATUS_OK;
  return tk_json_field_error(&r->d, tk_arch_json_object_find(&r->d.obj, key), key,
                             "\"%s\" for model_kind \"Qwen3MoE\"", names[family]);
}

static tk_status read_router_kind(reader *r) {
  int index;
  TK_RETURN_IF_ERROR(read_family_enum(r, "router_kind", router_names, COUNT(router_names),
                                      TK_ROUTER_SHEAF_PADIC, TK_ROUTER_SOFTMAX_ONLY, &index));
  r->arch.router_kind = (tk_router_kind)index;
  return TK_STATUS_OK;
}

/* Extension: a finite number > 0, default 1e-5; Qwen3MoE has no LayerNorm (absent). */
static tk_status read_layer_norm_eps(reader *r) {
  static const char *expect = "a finite number > 0";
  const member *m;
  TK_RETURN_IF_ERROR(tk_json_field_find(&r->d, "layer_norm_eps", false, expect, &m));
  r->arch.layer_norm_eps = DEFAULT_LAYER_NORM_EPS;
  if (!m) return TK_STATUS_OK;
  if (r->arch.model_kind == TK_MODEL_QWEN3_MOE)
    return tk_json_field_error(&r->d, m, "layer_norm_eps",
                               "no such field for model_kind \"Qwen3MoE\" (its block has no "
                               "LayerNorm)");
  if (m->kind != TK_ARCH_JSON_NUMBER)
    return tk_json_field_error(&r->d, m, "layer_norm_eps", "%s, found %s", expect,
                               tk_arch_json_kind_name(m->kind));
  char *token = tk_strndup(r->d.src.text + m->offset, m->raw_len);
  if (!token)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", r->d.src.name);
  double value = strtod(token, NULL); /* the scanner checked the JSON number grammar */
  free(token);
  if (!isfinite(value) || !(value > 0))
    return tk_json_field_error(&r->d, m, "layer_norm_eps", "%s", expect);
  r->arch.layer_norm_eps = value;
  return TK_STATUS_OK;
}

/* silu is Qwen3MoE's SwiGLU gate and that family's only activation. */
static tk_status read_hidden_act(reader *r) {
  int index;
  TK_RETURN_IF_ERROR(read_family_enum(r, "hidden_act", act_names, COUNT(act_names),
                                      TK_ACT_GELU_TANH, TK_ACT_SILU, &index));
  if (index == TK_ACT_SILU && r->arch.model_kind != TK_MODEL_QWEN3_MOE)
    return tk_json_field_error(&r->d, tk_arch_json_object_find(&r->d.obj, "hidden_act"),
                               "hidden_act",
                               "\"gelu_tanh\" or \"gelu\" for model_kind \"%s\" "
                               "(\"silu\" is Qwen3MoE's)",
                               tk_arch_model_kind_name(r->arch.model_kind));
  r->arch.hidden_act = (tk_hidden_act)index;
  return TK_STATUS_OK;
}

/* Qwen3MoE's weights are nn.Linear's [out, in]. */
static tk_status read_weight_layout(reader *r) {
  int index;
  TK_RETURN_IF_ERROR(read_family_enum(r, "weight_layout", layout_names, COUNT(layout_names),
                                      TK_LAYOUT_IN_OUT, TK_LAYOUT_OUT_IN, &index));
  r->arch.weight_layout = (tk_weight_layout)index;
  return TK_STATUS_OK;
}

/* Qwen3MoE only, default false: the kept router weights renormalised to sum to 1. */
static tk_status read_norm_topk_prob(reader *r) {
  const member *m = tk_arch_json_object_find(&r->d.obj, "norm_topk_prob");
  if (m && r->arch.model_kind != TK_MODEL_QWEN3_MOE)
    return tk_json_field_error(&r->d, m, "norm_topk_prob",
                               "no such field for model_kind \"%s\" (it is Qwen3MoE's)",
                               tk_arch_model_kind_name(r->arch.model_kind));
  return tk_json_read_bool(&r->d, "norm_topk_prob", false, &r->arch.norm_topk_prob);
}

/* A Hugging Face config.json (it has "model_type", docs/formats.md §7) given where an arch.json
 * is expected: say what it is, not that 'architectures' is an unknown key. */
static tk_status not_hf_config(const reader *r) {
  const member *m = tk_arch_json_object_find(&r->d.obj, "model_type");
  if (!m) return TK_STATUS_OK;
  char shown[TK_ARCH_JSON_SHOWN_MAX];
  tk_arch_json_shown(&r->d.src, m->offset, m->raw_len, shown);
  if (m->kind == TK_ARCH_JSON_STRING && strcmp(m->string, TK_QWEN3_MOE_MODEL_TYPE) == 0)
    return tk_arch_json_error_at(
        &r->d.src, m->offset,
        "a Hugging Face config.json (model_type %s), not an arch.json: `tkc check` and "
        "`tkc compile` read it (docs/formats.md §7); this command needs an arch.json",
        shown);
  return tk_arch_json_error_at(&r->d.src, m->offset,
                               "a Hugging Face config.json (model_type %s), not an arch.json: "
                               "tkc reads configs of model_type \"%s\" only",
                               shown, TK_QWEN3_MOE_MODEL_TYPE);
}

/* docs/formats.md §1: unknown keys, then every field in the table's order; the first error wins. */
static tk_status read_arch(reader *r) {
  static tk_status (*const fields[])(reader *) = {
      read_size,          read_input_dim,      read_hidden_dim,     read_output_dim,
      read_n_experts,     read_top_k,          read_expert_depth,   read_seed,
      read_model_kind,    read_router_kind,    read_layer_norm_eps, read_hidden_act,
      read_weight_layout, read_norm_topk_prob,
  };
  TK_RETURN_IF_ERROR(check_known_keys(r));
  for (size_t i = 0; i < COUNT(fields); i++) TK_RETURN_IF_ERROR(fields[i](r));
  return TK_STATUS_OK;
}

/* ---- Canonical form and fingerprint ---------------------------------------------------- */

/* The shortest %.Ng (N = 1..17) that reads back as v, exponent without '+' or leading
 * zeros ("1e-05" → "1e-5"). */
static void format_shortest(double v, char *out, size_t cap) {
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(out, cap, "%.*g", digits, v);
    if (strtod(out, NULL) == v) break;
  }
  char *e = strchr(out, 'e');
  if (!e) return;
  char *src = e + 1, *dst = e + 1;
  if (*src == '+')
    src++;
  else if (*src == '-')
    *dst++ = *src++;
  while (*src == '0' && src[1] != '\0') src++;
  memmove(dst, src, strlen(src) + 1);
}

typedef struct canonical_member {
  const char *key;
  char value[40];
} canonical_member;

static int compare_keys(const void *a, const void *b) {
  return strcmp(((const canonical_member *)a)->key, ((const canonical_member *)b)->key);
}

enum { CANONICAL_MEMBERS = 13 };

/* Every field of the arch, values formatted; false if an enum is out of range. Qwen3MoE has
 * norm_topk_prob in place of layer_norm_eps (docs/formats.md §1.4), so the other kinds'
 * canonical forms, and fingerprints, are those they had before that family. */
static bool canonical_members(const tk_arch *a, canonical_member m[CANONICAL_MEMBERS]) {
  const char *names[] = {tk_arch_size_name(a->size), tk_arch_model_kind_name(a->model_kind),
                         tk_arch_router_kind_name(a->router_kind),
                         tk_arch_hidden_act_name(a->hidden_act),
                         tk_arch_weight_layout_name(a->weight_layout)};
  for (size_t i = 0; i < COUNT(names); i++)
    if (!names[i]) return false;
  m[0].key = "size", snprintf(m[0].value, sizeof m[0].value, "\"%s\"", names[0]);
  m[1].key = "model_kind", snprintf(m[1].value, sizeof m[1].value, "\"%s\"", names[1]);
  m[2].key = "router_kind", snprintf(m[2].value, sizeof m[2].value, "\"%s\"", names[2]);
  m[3].key = "hidden_act", snprintf(m[3].value, sizeof m[3].value, "\"%s\"", names[3]);
  m[4].key = "weight_layout", snprintf(m[4].value, sizeof m[4].value, "\"%s\"", names[4]);
  const struct {
    const char *key;
    int32_t value;
  } ints[] = {
      {"input_dim", a->input_dim}, {"hidden_dim", a->hidden_dim}, {"output_dim", a->output_dim},
      {"n_experts", a->n_experts}, {"top_k", a->top_k},           {"expert_depth", a->expert_depth},
  };
  for (size_t i = 0; i < COUNT(ints); i++)
    m[5 + i].key = ints[i].key,
          snprintf(m[5 + i].value, sizeof m[5 + i].value, "%" PRId32, ints[i].value);
  m[11].key = "seed", snprintf(m[11].value, sizeof m[11].value, "%" PRIu64, a->seed);
  if (a->model_kind == TK_MODEL_QWEN3_MOE)
    m[12].key = "norm_topk_prob",
    snprintf(m[12].value, sizeof m[12].value, "%s", a->norm_topk_prob ? "true" : "false");
  else
    m[12].key = "layer_norm_eps",
    format_shortest(a->layer_norm_eps, m[12].value, sizeof m[12].value);
  return true;
}

tk_status tk_arch_canonical_json(const tk_arch *arch, char **out_json) {
  *out_json = NULL;
  canonical_member m[CANONICAL_MEMBERS];
  if (!canonical_members(arch, m))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "tk_arch_canonical_json: an enum field is out of range");
  if (!isfinite(arch->layer_norm_eps) || !(arch->layer_norm_eps > 0))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "tk_arch_canonical_json: layer_norm_eps is not a finite number > 0");
  qsort(m, COUNT(m), sizeof m[0], compare_keys); /* docs/formats.md §1: keys sorted (byte order) */
  size_t cap = 2;
  for (size_t i = 0; i < COUNT(m); i++) cap += strlen(m[i].key) + strlen(m[i].value) + 4;
  char *json = tk_malloc(cap + 1);
  if (!json)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory printing the canonical arch");
  size_t n = 0;
  for (size_t i = 0; i < COUNT(m); i++)
    n +=
        (size_t)snprintf(json + n, cap + 1 - n, "%c\"%s\":%s", i ? ',' : '{', m[i].key, m[i].value);
  snprintf(json + n, cap + 1 - n, "}");
  *out_json = json;
  return TK_STATUS_OK;
}

/* docs/formats.md §1: SHA-256 of the canonical JSON, first 8 bytes as 16 lowercase hex chars. */
static tk_status compute_fingerprint(tk_arch *arch) {
  char *json;
  TK_RETURN_IF_ERROR(tk_arch_canonical_json(arch, &json));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  int ok = EVP_Digest(json, strlen(json), digest, &digest_len, EVP_sha256(), NULL);
  free(json);
  if (!ok || digest_len < 8) return tk_status_make(TK_INTERNAL, "OpenSSL SHA-256 failed");
  for (int i = 0; i < 8; i++) snprintf(arch->fingerprint + 2 * i, 3, "%02x", digest[i]);
  return TK_STATUS_OK;
}

/* ---- Entry points ---------------------------------------------------------------------- */

tk_status tk_arch_parse(const char *text, size_t len, const char *source_name, tk_arch *out) {
  reader r = {
      .d.src = {.text = text, .len = len, .name = source_name ? source_name : "<arch.json>"}};
  if (!text) return tk_status_make(TK_INVALID_ARGUMENT, "%s: no text to parse", r.d.src.name);
  TK_RETURN_IF_ERROR(tk_arch_json_object_parse(&r.d.src, &r.d.obj));
  tk_status status = not_hf_config(&r);
  if (!status) status = read_arch(&r);
  tk_arch_json_object_free(&r.d.obj);
  if (!status) status = compute_fingerprint(&r.arch);
  if (!status) *out = r.arch;
  return status;
}

tk_status tk_arch_load(const char *path, tk_arch *out) {
  char *text = NULL;
  size_t len = 0;
  TK_RETURN_IF_ERROR(tk_arch_json_read_file(path, ARCH_FILE_LIMIT, "an arch.json", &text, &len));
  tk_status status = tk_arch_parse(text, len, path, out);
  free(text);
  return status;
}
