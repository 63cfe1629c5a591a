/* tests/unit/arch_test.c — the arch.json front end (compiler/arch.c, arch_json.c) against
 * docs/formats.md §1.
 *
 * Expected values come from docs/formats.md §1 and the issue text (the size table, the models'
 * dims), from hand-worked line:col positions (tests/arch/bad/EXPECT.tsv), from a canonical
 * string written out by hand, and from OpenSSL's one-shot SHA256() over that string — never
 * from the code under test. Every parse also runs on an exact-size heap copy with no NUL
 * terminator, so ASan sees any read past the end.
 */
#include <dirent.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/arch.h"
#include "test.h"

/* Parses text from an exact-size heap copy (no terminator). */
static tk_status parse(const char *text, tk_arch *out) {
  size_t len = strlen(text);
  char *copy = malloc(len ? len : 1);
  memcpy(copy, text, len);
  tk_status s = tk_arch_parse(copy, len, "test.json", out);
  free(copy);
  return s;
}

/* A valid arch.json (nano's fields) with one field's raw value replaced or added. */
static const char *nano_with(const char *key, const char *raw) {
  static char buf[1024];
  const char *keys[] = {"size",      "input_dim", "hidden_dim",   "output_dim",
                        "n_experts", "top_k",     "expert_depth", "seed"};
  const char *vals[] = {"\"Nano\"", "96", "128", "20", "4", "2", "2", "20260101"};
  size_t n = (size_t)snprintf(buf, sizeof buf, "{");
  bool replaced = false;
  for (size_t i = 0; i < 8; i++) {
    bool hit = key && strcmp(key, keys[i]) == 0;
    replaced |= hit;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\": %s", i ? ", " : "", keys[i],
                          hit ? raw : vals[i]);
  }
  if (key && !replaced) n += (size_t)snprintf(buf + n, sizeof buf - n, ", \"%s\": %s", key, raw);
  snprintf(buf + n, sizeof buf - n, "}");
  return buf;
}

static bool is_fingerprint(const char *f) {
  if (strlen(f) != 16) return false;
  for (const char *p = f; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

static bool arch_equal(const tk_arch *a, const tk_arch *b) {
  return a->size == b->size && a->input_dim == b->input_dim && a->hidden_dim == b->hidden_dim &&
         a->output_dim == b->output_dim && a->n_experts == b->n_experts && a->top_k == b->top_k &&
         a->expert_depth == b->expert_depth && a->seed == b->seed &&
         a->model_kind == b->model_kind && a->router_kind == b->router_kind &&
         a->layer_norm_eps == b->layer_norm_eps && a->hidden_act == b->hidden_act &&
         a->weight_layout == b->weight_layout && strcmp(a->fingerprint, b->fingerprint) == 0;
}

/* The canonical form parses back to the same arch and fingerprint. */
static void check_canonical_round_trip(const tk_arch *arch, const char *what) {
  char *json = NULL;
  tk_arch again;
  CHECK_OK(tk_arch_canonical_json(arch, &json));
  if (!json) return;
  tk_status s = parse(json, &again);
  CHECK_MSG(s == NULL && arch_equal(arch, &again), "%s: canonical %s does not round-trip: %s", what,
            json, tk_status_message(s));
  tk_status_free(s);
  free(json);
}

/* ---- Every model of models/ ------------------------------------------------------------ */

static void test_models(void) {
  static const struct {
    const char *file;
    tk_arch_size size;
    tk_model_kind kind;
    int32_t in, hidden, out, experts, top_k, depth;
    uint64_t seed;
  } models[] = {
      {"models/nano.arch.json", TK_SIZE_NANO, TK_MODEL_MOE, 96, 128, 20, 4, 2, 2, 20260101},
      {"models/tiny.arch.json", TK_SIZE_TINY, TK_MODEL_MOE, 96, 2048, 20, 4, 2, 5, 20260102},
      {"models/medium.arch.json", TK_SIZE_MEDIUM, TK_MODEL_MOE, 96, 4096, 20, 4, 2, 5, 20260103},
      {"models/full.arch.json", TK_SIZE_FULL, TK_MODEL_MOE, 96, 4096, 20, 4, 2, 12, 20260104},
      {"models/dense.arch.json", TK_SIZE_TINY, TK_MODEL_DENSE, 96, 512, 20, 0, 0, 2, 20260105},
      {"models/custom-small.arch.json", TK_SIZE_CUSTOM, TK_MODEL_MOE, 32, 64, 8, 6, 3, 1, 20260106},
  };
  char seen[6][17];
  for (size_t i = 0; i < 6; i++) {
    tk_arch a;
    memset(&a, 0, sizeof a);
    tk_status s = tk_arch_load(src_path(models[i].file), &a);
    CHECK_MSG(s == NULL, "%s: %s", models[i].file, tk_status_message(s));
    tk_status_free(s);
    CHECK(a.size == models[i].size && a.model_kind == models[i].kind);
    CHECK(a.input_dim == models[i].in && a.hidden_dim == models[i].hidden &&
          a.output_dim == models[i].out);
    CHECK(a.n_experts == models[i].experts && a.top_k == models[i].top_k &&
          a.expert_depth == models[i].depth);
    CHECK(a.seed == models[i].seed);
    /* defaults of docs/formats.md §1 */
    CHECK(a.router_kind == TK_ROUTER_SHEAF_PADIC && a.layer_norm_eps == 1e-5);
    CHECK(a.hidden_act == TK_ACT_GELU_TANH && a.weight_layout == TK_LAYOUT_IN_OUT);
    CHECK_MSG(is_fingerprint(a.fingerprint), "%s: fingerprint '%s'", models[i].file, a.fingerprint);
    memcpy(seen[i], a.fingerprint, 17);
    for (size_t j = 0; j < i; j++)
      CHECK_MSG(strcmp(seen[i], seen[j]) != 0, "%s shares a fingerprint", models[i].file);
    check_canonical_round_trip(&a, models[i].file);
  }
}

/* The canonical form of nano, written out by hand from docs/formats.md §1, and its SHA-256. */
static void test_canonical_nano(void) {
  static const char *want =
      "{\"expert_depth\":2,\"hidden_act\":\"gelu_tanh\",\"hidden_dim\":128,\"input_dim\":96,"
      "\"layer_norm_eps\":1e-5,\"model_kind\":\"MoE\",\"n_experts\":4,\"output_dim\":20,"
      "\"router_kind\":\"SheafPadic\",\"seed\":20260101,\"size\":\"Nano\",\"top_k\":2,"
      "\"weight_layout\":\"in_out\"}";
  tk_arch a;
  char *json = NULL;
  CHECK_OK(tk_arch_load(src_path("models/nano.arch.json"), &a));
  CHECK_OK(tk_arch_canonical_json(&a, &json));
  CHECK_MSG(json && strcmp(json, want) == 0, "canonical nano:\n got  %s\n want %s",
            json ? json : "(null)", want);
  free(json);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)want, strlen(want), digest);
  char hex[17];
  for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  CHECK_MSG(strcmp(a.fingerprint, hex) == 0,
            "fingerprint %s, SHA-256 of the canonical form gives %s", a.fingerprint, hex);
}

/* ---- Invalid files: tests/arch/bad/EXPECT.tsv ------------------------------------------ */

static bool listed(char names[][128], size_t count, const char *name) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(names[i], name) == 0) return true;
  return false;
}

static void test_bad_files(void) {
  FILE *f = fopen(src_path("tests/arch/bad/EXPECT.tsv"), "r");
  CHECK_MSG(f != NULL, "cannot open %s", src_path("tests/arch/bad/EXPECT.tsv"));
  if (!f) return;
  static char names[256][128];
  size_t count = 0;
  char line[1024];
  while (fgets(line, sizeof line, f) && count < 256) {
    line[strcspn(line, "\n")] = '\0';
    char *tab = strchr(line, '\t');
    if (line[0] == '#' || !tab) continue;
    *tab = '\0';
    snprintf(names[count++], sizeof names[0], "%.100s", line);
    char rel[256];
    snprintf(rel, sizeof rel, "tests/arch/bad/%.200s", line);
    tk_arch a;
    tk_status s = tk_arch_load(src_path(rel), &a);
    const char *msg = tk_status_message(s);
    CHECK_MSG(s != NULL && tk_status_code_of(s) == TK_INVALID_ARGUMENT && strstr(msg, tab + 1),
              "%s: expected INVALID_ARGUMENT mentioning \"%s\", got %s \"%s\"", line, tab + 1,
              tk_status_code_name(tk_status_code_of(s)), msg);
    /* positioned errors carry the source line and a caret */
    if (s && !strstr(msg, "missing"))
      CHECK_MSG(strstr(msg, "\n") && strstr(msg, "^"), "%s: no source excerpt in \"%s\"", line,
                msg);
    tk_status_free(s);
  }
  fclose(f);
  CHECK_MSG(count >= 25, "only %zu invalid files", count);
  DIR *dir = opendir(src_path("tests/arch/bad"));
  CHECK(dir != NULL);
  for (struct dirent *e; dir && (e = readdir(dir));)
    if (strstr(e->d_name, ".json"))
      CHECK_MSG(listed(names, count, e->d_name), "%s is not in EXPECT.tsv", e->d_name);
  if (dir) closedir(dir);
}

/* ---- Same arch, different text: tests/arch/good/<model>.<variant>.json ------------------ */

static void test_good_variants(void) {
  DIR *dir = opendir(src_path("tests/arch/good"));
  CHECK(dir != NULL);
  size_t count = 0;
  for (struct dirent *e; dir && (e = readdir(dir));) {
    char model[64], rel[300];
    if (!strstr(e->d_name, ".json") || sscanf(e->d_name, "%63[^.]", model) != 1) continue;
    tk_arch want, got;
    snprintf(rel, sizeof rel, "models/%s.arch.json", model);
    CHECK_OK(tk_arch_load(src_path(rel), &want));
    snprintf(rel, sizeof rel, "tests/arch/good/%s", e->d_name);
    tk_status s = tk_arch_load(src_path(rel), &got);
    CHECK_MSG(s == NULL && arch_equal(&want, &got), "%s: %s (fingerprint %s, want %s)", e->d_name,
              tk_status_message(s), s ? "-" : got.fingerprint, want.fingerprint);
    tk_status_free(s);
    count++;
  }
  if (dir) closedir(dir);
  CHECK_MSG(count >= 8, "only %zu good variants", count);
}

/* A different arch must have a different fingerprint. */
static void test_fingerprint_changes(void) {
  tk_arch base, other;
  CHECK_OK(parse(nano_with(NULL, NULL), &base));
  const char *changes[][2] = {{"seed", "20260102"},
                              {"layer_norm_eps", "1e-6"},
                              {"hidden_act", "\"gelu\""},
                              {"weight_layout", "\"out_in\""},
                              {"router_kind", "\"SoftmaxOnly\""}};
  for (size_t i = 0; i < 5; i++) {
    CHECK_OK(parse(nano_with(changes[i][0], changes[i][1]), &other));
    CHECK_MSG(strcmp(base.fingerprint, other.fingerprint) != 0, "%s changed, fingerprint did not",
              changes[i][0]);
    check_canonical_round_trip(&other, changes[i][0]);
  }
}

/* ---- Seeds: exact u64 from the digits ---------------------------------------------------- */

static void test_seeds(void) {
  static const struct {
    const char *token;
    uint64_t value;
  } good[] = {
      {"0", 0},
      {"9007199254740993", 9007199254740993u}, /* 2^53 + 1: a double gives ...992 */
      {"18446744073709551615", UINT64_MAX},
      {"18446744073709551614", UINT64_MAX - 1},
  };
  for (size_t i = 0; i < 4; i++) {
    tk_arch a;
    char *json = NULL;
    CHECK_OK(parse(nano_with("seed", good[i].token), &a));
    CHECK_MSG(a.seed == good[i].value, "seed %s read as %" PRIu64, good[i].token, a.seed);
    CHECK_OK(tk_arch_canonical_json(&a, &json));
    char want[64];
    snprintf(want, sizeof want, "\"seed\":%s,", good[i].token);
    CHECK_MSG(json && strstr(json, want), "canonical %s lacks %s", json ? json : "(null)", want);
    free(json);
    check_canonical_round_trip(&a, good[i].token);
  }
  tk_arch a;
  const char *bad[] = {"18446744073709551616",
                       "99999999999999999999999",
                       "-1",
                       "-0",
                       "1.5",
                       "\"1\"",
                       "1e3",
                       "1E3",
                       "null"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_ERR(parse(nano_with("seed", bad[i]), &a), "field 'seed'");
}

/* ---- size, Custom, Dense, limits --------------------------------------------------------- */

static void test_size_forms(void) {
  static const char *hidden[] = {"128", "2048", "4096", "4096"}, *depth[] = {"2", "5", "5", "12"};
  static const char *names[] = {"\"Nano\"", "\"Tiny\"", "\"Medium\"", "\"Full\""};
  for (int i = 0; i < 4; i++) {
    char text[512], index[8];
    tk_arch by_index, by_name;
    snprintf(index, sizeof index, "%d", i);
    for (int form = 0; form < 2; form++) {
      snprintf(
          text, sizeof text,
          "{\"size\": %s, \"input_dim\": 96, \"hidden_dim\": %s, \"output_dim\": 20, \"n_experts\": 4,"
          " \"top_k\": 2, \"expert_depth\": %s, \"seed\": 7}",
          form ? names[i] : index, hidden[i], depth[i]);
      tk_status s = parse(text, form ? &by_name : &by_index);
      CHECK_MSG(s == NULL, "size %s: %s", form ? names[i] : index, tk_status_message(s));
      tk_status_free(s);
    }
    CHECK(by_index.size == (tk_arch_size)i && arch_equal(&by_index, &by_name));
  }
  tk_arch a;
  CHECK_ERR(parse(nano_with("size", "\"Custom \""), &a), "field 'size'");
  CHECK_ERR(parse(nano_with("size", "3"), &a),
            "field 'hidden_dim': value 128, expected 4096 for size \"Full\"");
}

static void test_custom_and_dense(void) {
  tk_arch a;
  /* Custom: any dims within limits (docs/formats.md §1); the limits' edges are allowed */
  CHECK_OK(parse("{\"size\":\"Custom\",\"input_dim\":1,\"hidden_dim\":65536,\"output_dim\":65536,"
                 "\"n_experts\":64,\"top_k\":64,\"expert_depth\":0,\"seed\":1}",
                 &a));
  CHECK(a.size == TK_SIZE_CUSTOM && a.n_experts == 64 && a.top_k == 64 && a.hidden_dim == 65536);
  CHECK_OK(parse("{\"size\":\"Custom\",\"input_dim\":7,\"hidden_dim\":3,\"output_dim\":1,"
                 "\"n_experts\":1,\"top_k\":1,\"expert_depth\":64,\"seed\":1}",
                 &a));
  CHECK(a.expert_depth == 64);
  /* Dense: the size is a placeholder, dims come from the fields */
  const char *sizes[] = {"\"Nano\"", "\"Full\"", "\"Custom\"", "0"};
  for (int i = 0; i < 4; i++) {
    char text[512];
    snprintf(
        text, sizeof text,
        "{\"size\":%s,\"model_kind\":\"Dense\",\"input_dim\":10,\"hidden_dim\":33,\"output_dim\":3,"
        "\"n_experts\":0,\"top_k\":0,\"expert_depth\":9,\"seed\":5}",
        sizes[i]);
    tk_status s = parse(text, &a);
    CHECK_MSG(s == NULL && a.model_kind == TK_MODEL_DENSE && a.hidden_dim == 33 && a.n_experts == 0,
              "Dense with size %s: %s", sizes[i], tk_status_message(s));
    tk_status_free(s);
    check_canonical_round_trip(&a, sizes[i]);
  }
  CHECK_ERR(
      parse(
          "{\"size\":\"Tiny\",\"model_kind\":\"Dense\",\"input_dim\":96,\"hidden_dim\":0,\"output_dim\":20,"
          "\"n_experts\":0,\"top_k\":0,\"expert_depth\":2,\"seed\":5}",
          &a),
      "field 'hidden_dim': value 0, expected 1 <= hidden_dim <= 65536");
}

/* The extensions: values read, defaults filled in, all round-trip through the canonical form. */
static void test_extensions(void) {
  static const struct {
    const char *token, *shortest;
    double value;
  } eps[] = {
      {"1e-5", "1e-5", 1e-5},
      {"0.1", "0.1", 0.1},
      {"1", "1", 1.0},
      {"3E-7", "3e-7", 3e-7},
      {"2.5e+20", "2.5e20", 2.5e20},
      {"0.3333333333333333333", "0.3333333333333333", 1.0 / 3.0},
      {"1e-300", "1e-300", 1e-300},
      {"0.000123", "0.000123", 0.000123},
      {"123456", "123456", 123456.0},
  };
  for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
    tk_arch a;
    char *json = NULL, want[80];
    CHECK_OK(parse(nano_with("layer_norm_eps", eps[i].token), &a));
    CHECK_MSG(a.layer_norm_eps == eps[i].value, "eps %s read as %.17g", eps[i].token,
              a.layer_norm_eps);
    CHECK_OK(tk_arch_canonical_json(&a, &json));
    snprintf(want, sizeof want, "\"layer_norm_eps\":%s,", eps[i].shortest);
    CHECK_MSG(json && strstr(json, want), "eps %s: canonical %s lacks %s", eps[i].token,
              json ? json : "", want);
    free(json);
    check_canonical_round_trip(&a, eps[i].token);
  }
  tk_arch a;
  CHECK_OK(parse(nano_with("hidden_act", "\"gelu\""), &a));
  CHECK(a.hidden_act == TK_ACT_GELU_ERF);
  CHECK_OK(parse(nano_with("weight_layout", "\"out_in\""), &a));
  CHECK(a.weight_layout == TK_LAYOUT_OUT_IN);
  CHECK_OK(parse(nano_with("router_kind", "\"SheafOnly\""), &a));
  CHECK(a.router_kind == TK_ROUTER_SHEAF_ONLY);
  CHECK(!strcmp(tk_arch_size_name(TK_SIZE_CUSTOM), "Custom") &&
        !strcmp(tk_arch_model_kind_name(TK_MODEL_DENSE), "Dense"));
  CHECK(!strcmp(tk_arch_router_kind_name(TK_ROUTER_SOFTMAX_ONLY), "SoftmaxOnly") &&
        !strcmp(tk_arch_hidden_act_name(TK_ACT_GELU_ERF), "gelu"));
  CHECK(!strcmp(tk_arch_weight_layout_name(TK_LAYOUT_OUT_IN), "out_in"));
}

/* ---- Scanner edge cases ------------------------------------------------------------------ */

static void test_scanner(void) {
  tk_arch a;
  /* the column counts characters, not bytes: "é" is two bytes, one column */
  CHECK_ERR(parse("{\"size\": \"\xc3\xa9\", \"input_dim\": x}", &a),
            "test.json:1:28: syntax error");
  /* a surrogate pair decodes (then fails as a size name, a field error, not a syntax error) */
  CHECK_ERR(parse(nano_with("size", "\"\\uD83D\\uDE00\""), &a),
            "field 'size': value \"\\uD83D\\uDE00\"");
  CHECK_ERR(parse(nano_with("size", "\"\\uD83D\\u0041\""), &a), "surrogate");
  CHECK_ERR(parse(nano_with("size", "\"\\uDE00\""), &a), "lone low surrogate");
  CHECK_ERR(parse(nano_with("size", "\"\\u12\""), &a), "4 hex digits");
  /* escapes that spell a valid name are that name */
  CHECK_OK(parse(nano_with("size", "\"\\u004E\\u0061no\""), &a));
  CHECK_OK(parse(nano_with("router_kind", "\"Sheaf\\u0050adic\""), &a));
  /* over-long UTF-8 and encoded surrogates are invalid */
  CHECK_ERR(parse(nano_with("size", "\"\xc0\xae\""), &a), "invalid UTF-8");
  CHECK_ERR(parse(nano_with("size", "\"\xed\xa0\x80\""), &a), "invalid UTF-8");
  CHECK_ERR(parse("{\"size\": 1} {", &a), "trailing characters");
  CHECK_ERR(tk_arch_parse("{\"size\": 1}\0", 12, "nul.json", &a),
            "nul.json:1:12: trailing characters");
  CHECK_ERR(parse("  ", &a), "test.json:1:3: syntax error: expected '{'");
  CHECK_ERR(parse("{}", &a), "field 'size': missing");
  CHECK_ERR(parse(nano_with("seed", "1 2"), &a), "syntax error: expected ',' or '}'");
  CHECK_ERR(parse(nano_with("seed", "tru"), &a), "syntax error: expected a JSON value");
  CHECK_ERR(parse(nano_with("seed", "1."), &a), "syntax error: expected a digit after '.'");
  CHECK_ERR(parse(nano_with("seed", "1e+"), &a), "syntax error: expected a digit in the exponent");
  CHECK_ERR(parse(nano_with("extra", "[1, {\"a\": [true, null]}]"), &a), "unknown key \"extra\"");
  CHECK_ERR(parse(nano_with("extra", "[1,]"), &a), "syntax error");
  /* deep nesting is bounded */
  char deep[400];
  size_t n = (size_t)snprintf(deep, sizeof deep, "{\"size\": ");
  for (int i = 0; i < 100; i++) deep[n++] = '[';
  deep[n] = '\0';
  CHECK_ERR(parse(deep, &a), "nesting deeper than");
  /* a long line is cut to a window around the column */
  char wide[2048];
  n = (size_t)snprintf(wide, sizeof wide, "{\"size\": \"Nano\"%*s \"input_dim\": 96 x}", 1000, ",");
  tk_status s = parse(wide, &a);
  CHECK_MSG(s && strlen(tk_status_message(s)) < 400 && strstr(tk_status_message(s), "..."),
            "long line: %s", tk_status_message(s));
  tk_status_free(s);
}

/* The example message of the task: file:line:col, field, value, expected, caret under it. */
static void test_message_format(void) {
  tk_arch a;
  tk_status s = tk_arch_load(src_path("tests/arch/bad/hidden-nano-256.json"), &a);
  const char *msg = tk_status_message(s);
  CHECK_MSG(
      strstr(
          msg,
          "hidden-nano-256.json:4:17: field 'hidden_dim': value 256, expected 128 for size \"Nano\""),
      "%s", msg);
  CHECK_MSG(strstr(msg, "\n     4 |   \"hidden_dim\": 256,\n       |                 ^"), "%s",
            msg);
  tk_status_free(s);
}

/* Every prefix of a valid file is rejected without reading past it (ASan checks). */
static void test_truncations(void) {
  const char *text = nano_with("layer_norm_eps", "1.5e-5");
  size_t len = strlen(text);
  for (size_t cut = 0; cut < len; cut++) {
    char *copy = malloc(cut ? cut : 1);
    memcpy(copy, text, cut);
    tk_arch a;
    tk_status s = tk_arch_parse(copy, cut, "cut.json", &a);
    CHECK_MSG(s != NULL && tk_status_code_of(s) == TK_INVALID_ARGUMENT,
              "prefix of %zu bytes accepted", cut);
    tk_status_free(s);
    free(copy);
  }
}

static void test_load_errors(void) {
  tk_arch a;
  tk_status s = tk_arch_load(src_path("tests/arch/no-such-file.json"), &a);
  CHECK(tk_status_code_of(s) == TK_IO_ERROR && strstr(tk_status_message(s), "no-such-file.json"));
  tk_status_free(s);
  s = tk_arch_load(src_path("tests/arch"), &a); /* a directory */
  CHECK(tk_status_code_of(s) == TK_IO_ERROR && strstr(tk_status_message(s), "tests/arch"));
  tk_status_free(s);
  /* over the 1 MiB limit: a valid object padded with spaces */
  char tmp[] = "/tmp/tk_arch_test_XXXXXX";
  int fd = mkstemp(tmp);
  CHECK(fd >= 0);
  if (fd < 0) return;
  FILE *f = fdopen(fd, "w");
  fputs(nano_with(NULL, NULL), f);
  for (int i = 0; i < (1 << 20); i++) fputc(' ', f);
  fclose(f);
  CHECK_ERR(tk_arch_load(tmp, &a), "larger than");
  unlink(tmp);
}

int main(void) {
  test_models();
  test_canonical_nano();
  test_bad_files();
  test_good_variants();
  test_fingerprint_changes();
  test_seeds();
  test_size_forms();
  test_custom_and_dense();
  test_extensions();
  test_scanner();
  test_message_format();
  test_truncations();
  test_load_errors();
  TEST_MAIN_END();
}
