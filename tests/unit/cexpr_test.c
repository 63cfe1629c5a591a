/* tests/unit/cexpr_test.c — the host stub's C-expression parser and evaluator (verify/cexpr.h)
 * against the C compiler: every expression below is written once as C, compiled into this
 * test and evaluated by the compiler at B = 37, Bp = 48 (and at B = 1, Bp = 16), and its
 * stringified text is parsed and evaluated by tk_cexpr_eval — the two must agree, including
 * truncating / and % on negative operands, int/long typing and the helpers' bodies. Then the
 * refusals: syntax outside the subset, unknown names, wrong arity, signed overflow (int and
 * long), narrowing casts and division by zero.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/test.h"
#include "verify/cexpr.h"

/* The stub's helpers, defined once: compiled here and given to the parser as text. */
#define HELPERS(X)                                                                         \
  X(a < b ? a : b, static inline int64_t tkm_min(int64_t a, int64_t b))                    \
  X(a > b ? a : b, static inline int64_t tkm_max(int64_t a, int64_t b))                    \
  X(a / c - (a % c < 0), static inline int64_t tkm_floordiv(int64_t a, int64_t c))         \
  X(a % c + (a % c < 0 ? c : 0), static inline int64_t tkm_floormod(int64_t a, int64_t c)) \
  X(B <= 16 ? 16 : (int32_t)(((int64_t)B + 15) / 16 * 16), int32_t tkm_padded_batch(int32_t B))
#define DEFINE(body, ...) \
  __VA_ARGS__ { return body; }
HELPERS(DEFINE)
#define TEXT(body, ...) #__VA_ARGS__ " { return " #body "; }",
static const char *const HELPER_LINES[] = {HELPERS(TEXT)};
enum { NHELPERS = sizeof HELPER_LINES / sizeof HELPER_LINES[0] };

/* Expressions of B and Bp (int64_t, as in buffer_elems and forward_*). */
#define EXPRS(X)                                  \
  X(B * 96)                                       \
  X((Bp + 63) / 64)                               \
  X(((Bp * 128) + 255) / 256)                     \
  X((1 - B) / 16)                                 \
  X((1 - B) % 16)                                 \
  X((B - 100) / 7 * 7 + (B - 100) % 7)            \
  X(tkm_floordiv(B - 100, 16))                    \
  X(tkm_floormod(B - 100, 16))                    \
  X(tkm_floordiv(B * 3, 16))                      \
  X(tkm_min(B, Bp - 1) * 20 + tkm_max(B * 2, Bp)) \
  X(tkm_padded_batch(B) + tkm_padded_batch(1))    \
  X(INT64_C(5000000000) + B)                      \
  X(INT64_C(-7) / 2 + (-7) % 2)                   \
  X(1 + 2 * 3 - 4 % 3)                            \
  X(10 - 3 - 2)                                   \
  X(2 * (3 + 4) - -B)                             \
  X(B == 37)                                      \
  X(B != 37 ? 1 : 2)                              \
  X(B < 10 ? 1 : B < 40 ? 2 : 3)                  \
  X((B >= Bp) + (B > 1) * 2 + (B <= Bp) * 4)      \
  X(2147483647 + B)                               \
  X((int32_t)(B * 1000) + 1)
#define CASE(e) {#e, 0},
#define VALUE(e) (int64_t)(e),

static void check_agrees(int64_t B, int64_t Bp, const tk_cexpr_fn *fns) {
  struct {
    const char *text;
    int64_t unused;
  } cases[] = {EXPRS(CASE)};
  const int64_t want[] = {EXPRS(VALUE)};
  tk_cexpr_sym syms[] = {{"B", TK_CT_INT64, B}, {"Bp", TK_CT_INT64, Bp}};
  tk_cexpr_env env = {syms, 2, fns, NHELPERS};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    tk_cexpr_tree t;
    tk_status s = tk_cexpr_parse(cases[i].text, &t);
    CHECK_MSG(!s, "%s: %s", cases[i].text, tk_status_message(s));
    if (s) {
      tk_status_free(s);
      continue;
    }
    int64_t got = 0;
    s = tk_cexpr_eval(&t, t.root, &env, &got, NULL);
    CHECK_MSG(!s && got == want[i], "B=%lld: `%s` = %lld, the C compiler says %lld (%s)",
              (long long)B, cases[i].text, (long long)got, (long long)want[i],
              s ? tk_status_message(s) : "ok");
    tk_status_free(s);
    tk_cexpr_tree_free(&t);
  }
}

/* Types: int literals are int, INT64_C and B long; comparisons int. */
static void check_types(const tk_cexpr_fn *fns) {
  static const struct {
    const char *text;
    tk_ctype type;
  } cases[] = {{"16", TK_CT_INT32},         {"2147483648", TK_CT_INT64},
               {"INT64_C(1)", TK_CT_INT64}, {"B + 1", TK_CT_INT64},
               {"1 + 1", TK_CT_INT32},      {"B < 1", TK_CT_INT32},
               {"(int32_t)B", TK_CT_INT32}, {"tkm_padded_batch(1)", TK_CT_INT32},
               {"1 ? 2 : B", TK_CT_INT64}};
  tk_cexpr_sym syms[] = {{"B", TK_CT_INT64, 5}};
  tk_cexpr_env env = {syms, 1, fns, NHELPERS};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tk_cexpr_tree t;
    tk_status s = tk_cexpr_parse(cases[i].text, &t);
    CHECK_MSG(!s, "%s: %s", cases[i].text, tk_status_message(s));
    tk_status_free(s);
    if (s) continue;
    tk_ctype got;
    int64_t v;
    CHECK_OK(tk_cexpr_eval(&t, t.root, &env, &v, &got));
    CHECK_MSG(got == cases[i].type, "`%s` has type %s, C says %s", cases[i].text,
              tk_ctype_name(got), tk_ctype_name(cases[i].type));
    tk_cexpr_tree_free(&t);
  }
}

static void check_refused_syntax(void) {
  static const char *const bad[] = {
      "B << 2", "B & 3", "0x10", "16u",     "B = 3",      "\"s\"", "B +", "(B",
      "B)",     "a[1]",  "010",  "(long)B", "INT64_C(B)", "B ? 1", "",    "f(1, 2, 3, 4, 5)",
      "!B",     "B++"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tk_cexpr_tree t;
    tk_status s = tk_cexpr_parse(bad[i], &t);
    CHECK_MSG(
        s && tk_status_code_of(s) == TK_INVALID_ARGUMENT && strstr(tk_status_message(s), "column"),
        "`%s` was not refused with a column (%s)", bad[i], s ? tk_status_message(s) : "ok");
    tk_status_free(s);
  }
}

static void check_refused_eval(const tk_cexpr_fn *fns) {
  static const struct {
    const char *text;
    tk_status_code code;
  } bad[] = {{"x + 1", TK_INVALID_ARGUMENT},
             {"tkm_min(B)", TK_INVALID_ARGUMENT},
             {"nosuch(B)", TK_INVALID_ARGUMENT},
             {"2147483647 + 1", TK_OUT_OF_RANGE},
             {"-2147483647 - 2", TK_OUT_OF_RANGE},
             {"INT64_C(9223372036854775807) + B", TK_OUT_OF_RANGE},
             {"B * INT64_C(4611686018427387904)", TK_OUT_OF_RANGE},
             {"(int32_t)INT64_C(3000000000)", TK_OUT_OF_RANGE},
             {"tkm_padded_batch(INT64_C(3000000000))", TK_OUT_OF_RANGE},
             {"B / (B - 2)", TK_OUT_OF_RANGE},
             {"B % 0", TK_OUT_OF_RANGE}};
  tk_cexpr_sym syms[] = {{"B", TK_CT_INT64, 2}};
  tk_cexpr_env env = {syms, 1, fns, NHELPERS};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tk_cexpr_tree t;
    tk_status s = tk_cexpr_parse(bad[i].text, &t);
    CHECK_MSG(!s, "%s: %s", bad[i].text, tk_status_message(s));
    tk_status_free(s);
    if (s) continue;
    int64_t v;
    s = tk_cexpr_eval(&t, t.root, &env, &v, NULL);
    CHECK_MSG(s && tk_status_code_of(s) == bad[i].code, "`%s` was not refused (%s)", bad[i].text,
              s ? tk_status_message(s) : "ok");
    tk_status_free(s);
    tk_cexpr_tree_free(&t);
  }
  /* C evaluates one branch of ?: only: the overflow in the other is not an error. */
  tk_cexpr_tree t;
  CHECK_OK(tk_cexpr_parse("B > 1 ? 7 : INT64_C(9223372036854775807) + 1", &t));
  int64_t v = 0;
  CHECK_OK(tk_cexpr_eval(&t, t.root, &env, &v, NULL));
  CHECK(v == 7);
  tk_cexpr_tree_free(&t);
}

static void check_functions(tk_cexpr_fn *fns) {
  for (int i = 0; i < NHELPERS; i++) {
    tk_status s = tk_cexpr_parse_fn(HELPER_LINES[i], &fns[i]);
    CHECK_MSG(!s, "%s: %s", HELPER_LINES[i], tk_status_message(s));
    tk_status_free(s);
  }
  CHECK(!strcmp(fns[4].name, "tkm_padded_batch") && fns[4].ret == TK_CT_INT32 &&
        fns[4].nparams == 1 && fns[4].ptypes[0] == TK_CT_INT32);
  static const char *const not_fns[] = {
      "int32_t tkm_buffer_role(int32_t b) { return tkm_buffers[b].role; }",
      "const char *tkm_fingerprint(void) { return TKM_FINGERPRINT; }",
      "static int64_t f(int64_t a) { return a; } extra",
      "static int64_t f(double a) { return a; }"};
  for (size_t i = 0; i < sizeof not_fns / sizeof not_fns[0]; i++) {
    tk_cexpr_fn fn;
    tk_status s = tk_cexpr_parse_fn(not_fns[i], &fn);
    CHECK_MSG(s != NULL, "`%s` parsed as a function", not_fns[i]);
    tk_status_free(s);
  }
}

int main(void) {
  tk_cexpr_fn fns[NHELPERS];
  memset(fns, 0, sizeof fns);
  check_functions(fns);
  check_agrees(37, 48, fns);
  check_agrees(1, 16, fns);
  check_agrees(200, 208, fns);
  check_types(fns);
  check_refused_syntax();
  check_refused_eval(fns);
  for (int i = 0; i < NHELPERS; i++) tk_cexpr_tree_free(&fns[i].body);
  TEST_MAIN_END();
}
