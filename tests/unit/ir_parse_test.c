/* tests/unit/ir_parse_test.c — the IR dump parses back (ir/parse.c):
 *   round trip  for nano, custom-small and dense at every stage (graph, padded, fused,
 *               planned, gpu, cpu): print(parse(print(m))) == print(m) byte for byte, and
 *               tk_ir_verify accepts the parsed module;
 *   passes      every remaining IR pass, run on the parsed module and on the original,
 *               gives the same dump after each pass;
 *   origins     every scheduled load's origin is the node at the same place in its store's
 *               origin value (the rule the parser rebuilds them by), in the original and the
 *               parsed module; and the proof obligations of both (SMT-LIB2 text, which uses
 *               inverse maps, origins and substitutions) are the same;
 *   errors      hand-broken dumps give TK_INVALID_ARGUMENT with file:line:col and what was
 *               expected; every truncation of a dump inside a line, and a few hundred
 *               deterministic byte mutations, fail cleanly or parse into a module that
 *               checks and that the remaining passes take (run under ASan: no crash, no
 *               leak; TK_PARSE_MUTATIONS=N for a longer run);
 *   out of memory  each allocation of a parse (dense, stage cpu) failed in turn gives
 *               TK_RESOURCE_EXHAUSTED and no module.
 */
#include <stdlib.h>

#include "compiler/tkc.h"
#include "ir/ir.h"
#include "model/arch.h"
#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"
#include "tk/alloc.h"
#include "verify/verify.h"

/* custom-out-in: weights stored [out, in] (its cpu stage has `panels(N, TC, out_in)` buffers)
 * and the erf GELU (`act = gelu`). */
static const char *const MODELS[] = {"nano", "custom-small", "dense",
                                     "tests/archs/custom-out-in.arch.json"};

/* The i-th IR pass of the driver's pass table (the one taking stage i onwards), or NULL. */
static tk_status (*ir_pass(int i))(tk_ir_module *) {
  size_t n;
  const tkc_pass *t = tkc_pass_table(&n);
  for (size_t k = 0; k < n; k++)
    if (t[k].ir_run && i-- == 0) return t[k].ir_run;
  return NULL;
}

/* The dump as a malloc'd string (NULL on failure). */
static char *dump(const tk_ir_module *m, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = tk_open_memstream(&buf, &n);
  if (!f) return NULL;
  tk_status s = tk_ir_module_print(m, f);
  fclose(f);
  CHECK_MSG(s == NULL, "print: %s", tk_status_message(s));
  tk_status_free(s);
  if (len) *len = n;
  return buf;
}

static void check_same_dump(const tk_ir_module *a, const tk_ir_module *b, const char *what) {
  char *x = dump(a, NULL), *y = dump(b, NULL);
  bool same = x && y && !strcmp(x, y);
  CHECK_MSG(same, "%s: the dumps differ", what);
  if (!same && x && y) {
    size_t i = 0;
    while (x[i] && x[i] == y[i]) i++;
    size_t from = i > 60 ? i - 60 : 0;
    fprintf(stderr, "  first difference at byte %zu:\n  original: %.120s\n  parsed:   %.120s\n", i,
            x + from, y + from);
  }
  free(x);
  free(y);
}

/* ---- origins ---- */

static int origin_mismatches(const tk_ir_val *v, const tk_ir_val *o) {
  if (!v || !o) return (v != NULL) != (o != NULL);
  int bad = v->op != o->op;
  if ((v->op == TK_V_LOAD || v->op == TK_V_LOCAL_LOAD) && v->origin != o) bad++;
  return bad + origin_mismatches(v->a, o->a) + origin_mismatches(v->b, o->b) +
         origin_mismatches(v->c, o->c);
}

typedef struct origin_count {
  int stores, with_origin, made, bad;
} origin_count;

static bool loads_memory(const tk_ir_val *v) {
  return v &&
         (v->op == TK_V_LOAD || loads_memory(v->a) || loads_memory(v->b) || loads_memory(v->c));
}

/* Every store copied from a fused kernel has an origin; the only ones a schedule makes itself
 * are local arithmetic with no index map to compose (a row reduction's partial sums: their
 * zeroing and their fold into the accumulator), counted apart. */
static void count_origins(const tk_ir_stmt *s, void *user) {
  origin_count *c = user;
  if (s->kind != TK_S_STORE && s->kind != TK_S_LOCAL_STORE) return;
  c->stores++;
  if (!s->origin) {
    c->made += s->kind == TK_S_LOCAL_STORE && !loads_memory(s->value);
    return;
  }
  c->with_origin++;
  c->bad += !s->subst + origin_mismatches(s->value, s->origin->value);
}

static void check_origins(const tk_ir_module *m, const char *what) {
  origin_count c = {0};
  for (int t = 0; t < TK_IR_NTARGETS; t++)
    for (int i = 0; i < m->targets[t].n; i++)
      tk_ir_walk_stmts(m->targets[t].items[i]->body, count_origins, &c);
  CHECK_MSG(c.with_origin + c.made == c.stores && c.bad == 0,
            "%s: %d stores, %d with an origin, %d made by the schedule, %d mismatches", what,
            c.stores, c.with_origin, c.made, c.bad);
}

static char *obligations(const tk_ir_module *m) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = tk_open_memstream(&buf, &n);
  if (!f) return NULL;
  tk_status s = tk_verify_emit_obligations(m, f);
  fclose(f);
  CHECK_MSG(s == NULL, "obligations: %s", tk_status_message(s));
  tk_status_free(s);
  return buf;
}

static void check_obligations(const tk_ir_module *a, const tk_ir_module *b, const char *what) {
  char *x = obligations(a), *y = obligations(b);
  CHECK_MSG(x && y && strlen(x) > 1000 && !strcmp(x, y), "%s: the obligations differ", what);
  free(x);
  free(y);
}

static void round_trip(const char *model, tk_ir_stage stage) {
  tk_ir_module *m = tk_test_build_ir(model, stage);
  if (!m) return;
  char what[128];
  snprintf(what, sizeof what, "%s at stage %s", model, tk_ir_stage_name(stage));
  CHECK_MSG(m->stage == stage, "%s: built to stage %s", what, tk_ir_stage_name(m->stage));
  size_t len;
  char *text = dump(m, &len);
  tk_ir_module *p = NULL;
  tk_status s = text ? tk_ir_parse(text, len, what, &p) : NULL;
  CHECK_MSG(s == NULL && p, "%s: parse: %s", what, tk_status_message(s));
  tk_status_free(s);
  if (p) {
    CHECK_OK(tk_ir_verify(p));
    CHECK(p->stage == stage);
    check_same_dump(m, p, what);
    if (stage >= TK_STAGE_GPU) {
      check_origins(m, what);
      check_origins(p, what);
    }
    if (stage == TK_STAGE_CPU) check_obligations(m, p, what);
    /* the remaining passes give the same dumps on both */
    for (int i = (int)stage; ir_pass(i); i++) {
      tk_status a = ir_pass(i)(m), b = ir_pass(i)(p);
      CHECK_MSG(!a && !b, "%s: pass %d: %s / %s", what, i, tk_status_message(a),
                tk_status_message(b));
      tk_status_free(a);
      tk_status_free(b);
      CHECK_OK(tk_ir_verify(p));
      char after[160];
      snprintf(after, sizeof after, "%s, then pass to stage %s", what, tk_ir_stage_name(m->stage));
      check_same_dump(m, p, after);
    }
  }
  free(text);
  tk_ir_module_free(p);
  tk_ir_module_free(m);
}

/* ---- errors ---- */

/* `text` with the first occurrence of `from` replaced by `to` (malloc'd). */
static char *replace(const char *text, const char *from, const char *to) {
  const char *at = strstr(text, from);
  if (!at) return NULL;
  size_t n = strlen(text) - strlen(from) + strlen(to);
  char *out = malloc(n + 1);
  if (!out) return NULL;
  size_t pre = (size_t)(at - text);
  memcpy(out, text, pre);
  strcpy(out + pre, to);
  strcat(out, at + strlen(from));
  return out;
}

static void check_error(const char *text, const char *from, const char *to, const char *want) {
  char *bad = replace(text, from, to);
  CHECK_MSG(bad != NULL, "the dump has no '%s'", from);
  if (!bad) return;
  tk_ir_module *m = (tk_ir_module *)1;
  tk_status s = tk_ir_parse(bad, strlen(bad), "bad.ir", &m);
  CHECK_MSG(s && tk_status_code_of(s) == TK_INVALID_ARGUMENT && strstr(tk_status_message(s), want),
            "'%s' -> '%s': expected an error mentioning \"%s\", got \"%s\"", from, to, want,
            s ? tk_status_message(s) : "OK");
  CHECK(m == NULL);
  tk_status_free(s);
  tk_ir_module_free(s ? NULL : m);
  free(bad);
}

/* Parsing must end in an error or in a module that checks (tk_ir_parse checks it). */
static void parse_any(const char *text, size_t len, int *failed) {
  tk_ir_module *m = NULL;
  tk_status s = tk_ir_parse(text, len, "mutant.ir", &m);
  CHECK((s == NULL) == (m != NULL));
  if (s) {
    CHECK(tk_status_code_of(s) == TK_INVALID_ARGUMENT ||
          tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED);
    CHECK(strncmp(tk_status_message(s), "mutant.ir:", 10) == 0);
    ++*failed;
  }
  tk_status_free(s);
  /* a module that parses and checks is one the remaining passes must take without a crash */
  for (int i = m ? (int)m->stage : 5; ir_pass(i); i++) {
    s = ir_pass(i)(m);
    tk_status_free(s);
    if (s) break;
  }
  tk_ir_module_free(m);
}

static void mutations(const char *t, size_t len) {
  uint64_t x = 0x9e3779b97f4a7c15u;
  char *mut = malloc(len);
  static const char alphabet[] = "%@[](){}<>=,.:;-+* 0123456789abBjkrtx\n";
  const char *env = getenv("TK_PARSE_MUTATIONS"); /* more for a longer run; default 300 */
  int nmut = env ? atoi(env) : 300, parsed = 0;
  for (int i = 0; mut && i < nmut; i++) {
    memcpy(mut, t, len);
    for (int j = 0; j < 1 + i % 3; j++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      mut[x % len] = alphabet[(x >> 32) % (sizeof alphabet - 1)];
    }
    int failed = 0;
    parse_any(mut, len, &failed);
    parsed += !failed;
  }
  free(mut);
  printf("%d of %d mutated dumps parsed (and went through the remaining passes)\n", parsed, nmut);
}

static void errors(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_GPU);
  if (!m) return;
  size_t len;
  char *t = dump(m, &len);
  tk_ir_module_free(m);
  if (!t) return;
  check_error(t, "; tkc IR, stage gpu", "; tkc IR, stage lowered", "bad.ir:1:17: expected a stage");
  check_error(t, "op router.softmax", "op router.sofmax",
              "bad.ir:123:4: expected an op named LAYER.KIND");
  check_error(t, "tensor %x : f32[B, 96]", "tensor %x : f32[B +, 96]", "bad.ir:9:19: expected ','");
  check_error(t, "tensor %x : f32[B, 96]", "tensor %x : f32[(B, 96]", "bad.ir:9:19: expected ')'");
  check_error(t, "%x[min(r, B - 1) * 96 + k]", "%x[min(r, B - 1) * k + k]",
              "expected an integer, found 'k + k]");
  check_error(t, "%x[min(r, B - 1) * 96 + k]", "%x[min(r, B - 1) div 0 + k]",
              "expected a positive divisor");
  check_error(t, "%x[min(r, B - 1) * 96 + k]", "%x[mn(r, B - 1) * 96 + k]", "no variable 'mn'");
  check_error(t, "acc = fma(%x[min(r, B - 1) * 96 + k]", "acc = fma(%x[min(r, B - 1) * 96 + kk]",
              "expected a variable defined before (no variable 'kk'");
  check_error(t, "for k in 0..96 reduction", "for k in 0..96 reductio", "expected a loop kind");
  check_error(t, "  arch {", "  arch {\"size\":1,", "the arch line");
  check_error(t, "in = 96", "in = 97", "expected the module line of the arch line");
  check_error(t, "  options bmax = 65536", "  options bmax = 0", "max batch 0 out of range");
  check_error(t, "(%router.probs) -> (%router.gate", "(%router.prob) -> (%router.gate",
              "no tensor %router.prob");
  check_error(t, "for k in 0..96 reduction {\n", "for k in 0..96 reduction {\n}\n",
              "('k' is not bound here)");
  check_error(t, "    mean = 0f\n", "    mean = i32(k)\n",
              ":16: expected a variable of an enclosing loop or phase");
  /* well-formed text, ill-typed module: the checker's error, with the file name */
  check_error(t, "    mean = 0f\n", "    mean = true\n", "bad.ir: the module does not check: ");
  /* truncated inside every 97th line */
  int failed = 0, tried = 0;
  for (size_t i = 0, line = 0; i < len; i++) {
    if (t[i] != '\n') continue;
    if (++line % 97 || i < 3 || t[i - 1] == '\n') continue;
    parse_any(t, i - 2, &failed);
    tried++;
  }
  CHECK_MSG(failed == tried, "%d of %d truncated dumps parsed", tried - failed, tried);
  /* deterministic byte mutations of the gpu dump, and of the graph dump (all passes follow) */
  mutations(t, len);
  tk_ir_module *g = tk_test_build_ir("nano", TK_STAGE_GRAPH);
  size_t glen;
  char *gt = g ? dump(g, &glen) : NULL;
  if (gt) mutations(gt, glen);
  free(gt);
  tk_ir_module_free(g);
  /* NUL bytes and an empty text */
  parse_any("", 0, &failed);
  parse_any("; tkc IR\0", 9, &failed);
  free(t);
}

/* Every allocation of a parse made to fail in turn: a clean TK_RESOURCE_EXHAUSTED, no module,
 * no leak (ASan), never a crash. */
static void allocation_failures(const char *model, tk_ir_stage stage) {
  tk_ir_module *m = tk_test_build_ir(model, stage);
  size_t len;
  char *t = m ? dump(m, &len) : NULL;
  tk_ir_module_free(m);
  if (!t) return;
  uint64_t before = tk_alloc_count();
  tk_ir_module *p = NULL;
  CHECK_OK(tk_ir_parse(t, len, "oom.ir", &p));
  tk_ir_module_free(p);
  uint64_t n = tk_alloc_count() - before;
  CHECK(n > 10);
  int bad = 0;
  for (uint64_t i = 1; i <= n; i++) {
    tk_alloc_fault_arm(i, false);
    tk_status s = tk_ir_parse(t, len, "oom.ir", &p);
    bool fired = tk_alloc_fault_fired();
    tk_alloc_fault_disarm();
    bool good = fired && s && !p && tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED;
    if (!good && bad++ < 5)
      fprintf(stderr, "allocation %llu of %llu failed: %s\n", (unsigned long long)i,
              (unsigned long long)n, s ? tk_status_message(s) : "parsed anyway");
    tk_status_free(s);
    tk_ir_module_free(p);
    p = NULL;
  }
  CHECK_MSG(bad == 0,
            "%s at stage %s: %d of %llu allocation failures not reported as out of memory", model,
            tk_ir_stage_name(stage), bad, (unsigned long long)n);
  free(t);
}

int main(void) {
  for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
    for (int st = TK_STAGE_GRAPH; st <= TK_STAGE_CPU; st++) round_trip(MODELS[i], (tk_ir_stage)st);
  errors();
  allocation_failures("dense", TK_STAGE_CPU);
  TEST_MAIN_END();
}
