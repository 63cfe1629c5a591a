/* tests/unit/verify_test.c — every model of models/ verifies (every class, both schedules),
 * the report is deterministic (two runs give the same index.json), every class is present
 * where it applies (topk only for MoE), and the SMT-LIB2 text has the required shape (logic,
 * named negated goal last, check-sat), and obligations that hold without their path
 * hypotheses are told apart from those that need them. The compile's proof cache
 * (verify.h tk_verify_cache) answers every query of a run it has seen, with the same index.json,
 * and never a mutant's. Solver time per model goes to stderr. */
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "compiler/tkc.h"
#include "tests/unit/test.h"
#include "verify/verify.h"
#include "verify/mutants.h"
#include "verify/verify_internal.h"

static const char *const MODELS[] = {"nano", "tiny", "medium", "full", "dense", "custom-small"};

static tk_ir_module *build(const char *model) {
  char path[256];
  snprintf(path, sizeof path, "models/%s.arch.json", model);
  tk_arch arch;
  tk_status s = tk_arch_load(path, &arch);
  CHECK_MSG(!s, "%s: %s", path, tk_status_message(s));
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  tk_ir_module *m = NULL;
  if (!s) s = tkc_build_ir(&arch, &o, &m);
  CHECK_MSG(!s, "%s: %s", model, tk_status_message(s));
  tk_status_free(s);
  return m;
}

/* A third run on the cache the second one filled: every distinct query is found there (none
 * is solved again), and index.json is the first run's, rlimits included. */
static void check_cache_replay(const char *model, const tk_ir_module *m, const tk_verify_options *o,
                               const char *json) {
  size_t hits = tk_verify_cache_hits(o->cache);
  tk_verify_report *r = NULL;
  char *again = NULL;
  CHECK_OK(tk_verify_module(m, o, &r));
  if (r) CHECK_OK(tk_verify_report_json(r, &again));
  tk_verify_digest d = {0};
  if (r) CHECK_OK(tk_verify_report_digest(r, &d));
  hits = tk_verify_cache_hits(o->cache) - hits;
  CHECK_MSG(d.queries > 100 && hits == d.queries,
            "%s: %zu of %zu distinct queries answered from the cache", model, hits, d.queries);
  CHECK_MSG(json && again && !strcmp(json, again), "%s: index.json differs with a full cache",
            model);
  free(again);
  tk_verify_report_free(r);
}

static void check_model(const char *model) {
  tk_ir_module *m = build(model);
  if (!m) return;
  tk_verify_options o;
  tk_verify_options_default(&o);
  o.keep_text = true; /* index.json names each obligation's query by its hash */
  tk_verify_report *r = NULL, *r2 = NULL;
  tk_status s = tk_verify_module(m, &o, &r);
  CHECK_MSG(!s, "%s: %s", model, tk_status_message(s));
  tk_status_free(s);
  if (r) {
    fprintf(stderr, "%s: %zu obligations, ", model, tk_verify_report_count(r));
    tk_verify_report_timing(r, stderr);
    char *json = NULL, *json2 = NULL;
    CHECK_OK(tk_verify_report_json(r, &json));
    /* the second run with a cache (verify.h tk_verify_cache): empty, it changes nothing */
    CHECK_OK(tk_verify_cache_create(&o.cache));
    CHECK_OK(tk_verify_module(m, &o, &r2));
    if (r2) CHECK_OK(tk_verify_report_json(r2, &json2));
    CHECK_MSG(json && json2 && !strcmp(json, json2), "%s: index.json differs between two runs",
              model);
    check_cache_replay(model, m, &o, json);
    tk_verify_cache_free(o.cache);
    o.cache = NULL;
    const char *classes[] = {"\"shape\"", "\"padding\"", "\"bounds\"",  "\"no_overflow\"",
                             "\"race\"",  "\"topk\"",    "\"dataflow\""};
    for (int c = 0; json && c < 7; c++) {
      bool want = c != 5 || m->arch.model_kind == TK_MODEL_MOE;
      CHECK_MSG((strstr(json, classes[c]) != NULL) == want, "%s: class %s %s", model, classes[c],
                want ? "missing" : "unexpected");
    }
    CHECK(json && strstr(json, "\"target\": \"gpu\"") && strstr(json, "\"target\": \"cpu\"") &&
          strstr(json, "\"target\": \"graph\""));
    free(json);
    free(json2);
  }
  tk_verify_report_free(r);
  tk_verify_report_free(r2);
  tk_ir_module_free(m);
}

/* The emitted text: one block per obligation, logic first, named negated goal last. */
static void check_text(void) {
  tk_ir_module *m = build("nano");
  if (!m) return;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK_OK(tk_verify_emit_obligations(m, f));
  fclose(f);
  CHECK(buf && strstr(buf, "(set-logic QF_LIA)") && strstr(buf, "(set-logic QF_AUFLIRA)"));
  int blocks = 0, ok = 0;
  for (char *p = buf ? strstr(buf, "; obligation ") : NULL; p; blocks++) {
    char *next = strstr(p + 1, "; obligation ");
    size_t n = next ? (size_t)(next - p) : strlen(p);
    char *block = strndup(p, n), *last = NULL;
    for (char *q = strstr(block, "(assert "); q; q = strstr(q + 1, "(assert ")) last = q;
    const char *tail = ":named goal))\n(check-sat)\n\n";
    if (last && !strncmp(last, "(assert (! (not ", 16) && n > strlen(tail) &&
        !strcmp(block + n - strlen(tail), tail))
      ok++;
    free(block);
    p = next;
  }
  CHECK_MSG(blocks > 100 && ok == blocks,
            "%d of %d obligations end with the named goal and check-sat", ok, blocks);
  free(buf);
  tk_ir_module_free(m);
}

/* The "without path hypotheses" count (docs/proofs.md "Obligations that carry weight"), on
 * four hand-made obligations whose truth is known: x < 5 follows from the path hypothesis
 * 0 <= x < 3 only; B <= Bp and (x mod 4) < 4 hold whatever x is (the batch rules and the
 * remainder's definition stay); the first query again (answered from the cache). */
static void check_needs_hypotheses(void) {
  tk_ir_module *m = build("nano");
  tk_verify_options o;
  tk_verify_options_default(&o);
  o.keep_text = true; /* index.json names each obligation's query */
  tk_vctx v;
  tk_status s = m ? tk_verify_ctx_init(&v, m, &o) : NULL;
  CHECK_OK(s);
  if (!m || s) {
    tk_ir_module_free(m);
    return;
  }
  enum { X_LT_5, B_LE_BP, MOD_LT_4, X_LT_5_AGAIN, N };
  for (int i = 0; i < N; i++) {
    tk_verify_obl_begin(&v, TK_OBL_BOUNDS, "hand_made", "gpu", "obligation %d", i);
    tk_obl *ob = tk_verify_obl_cur(&v);
    Z3_ast x = tk_verify_obl_fresh(ob, "x", v.int_sort, true);
    tk_verify_obl_hyp(ob, tk_verify_z_in(&v, tk_verify_z_int(&v, 0), x, tk_verify_z_int(&v, 3)));
    Z3_ast goal = i == B_LE_BP ? Z3_mk_le(v.z, ob->B, ob->Bp)
                  : i == MOD_LT_4
                      ? Z3_mk_lt(v.z, tk_verify_obl_div(ob, x, 4, true), tk_verify_z_int(&v, 4))
                      : Z3_mk_lt(v.z, x, tk_verify_z_int(&v, 5));
    tk_verify_obl_goal(ob, goal);
    CHECK_OK(tk_verify_obl_prove(&v));
  }
  char *json = NULL;
  CHECK_OK(tk_verify_report_json(v.report, &json));
  const char *want[N] = {"true", "false", "false", "true"};
  const char *p = json;
  for (int i = 0; i < N; i++) {
    p = p ? strstr(p, "\"needs_hypotheses\": ") : NULL;
    CHECK_MSG(p && !strncmp(p + 20, want[i], strlen(want[i])), "obligation %d: needs_hypotheses %s",
              i, want[i]);
    if (p) p++;
  }
  CHECK(tk_verify_report_class_free_count(v.report, TK_OBL_BOUNDS) == 2);
  char *line = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&line, &len);
  tk_verify_report_summary(v.report, f);
  fclose(f);
  CHECK_MSG(
      line && strstr(line, "bounds            4 obligations proved (2 without path hypotheses)"),
      "summary: %s", line ? line : "(none)");
  free(line);
  free(json);
  tk_verify_ctx_dispose(&v);
  tk_ir_module_free(m);
}

/* An obligation no solver decides within its budget fails, naming the limit: with rlimit 1
 * the first try answers unknown and spends the whole budget, so no other try runs. */
static void check_unknown(void) {
  tk_ir_module *m = build("nano");
  if (!m) return;
  tk_verify_options o;
  tk_verify_options_default(&o);
  o.rlimit = 1;
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, &o, &r);
  CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && !r, "rlimit 1: %s",
            s ? tk_status_message(s) : "every obligation proved");
  CHECK_MSG(s && strstr(tk_status_message(s), "solver answered unknown") &&
                strstr(tk_status_message(s), "rlimit 1)"),
            "rlimit 1: %s", s ? tk_status_message(s) : "no error");
  tk_status_free(s);
  tk_verify_report_free(r);
  tk_ir_module_free(m);
}

/* The pigeonhole principle for n pigeons in n - 1 holes: n integers in [0, n - 1) have two
 * equal. True, and for Z3 exponential in n: about 3.7e5 units at n = 7 whatever the seed
 * (more than a first round's 1e5), and beyond 5e7 at n = 9. One hand-made obligation, proved
 * in a fresh context under rlimit (whole_first: its first try in a solver of its own). */
static tk_status prove_pigeonhole(int n, uint32_t rlimit, bool whole_first, char **json) {
  tk_ir_module *m = build("nano");
  if (!m) return tk_status_make(TK_INTERNAL, "no nano module");
  tk_verify_options o;
  tk_verify_options_default(&o);
  o.keep_text = true;
  o.rlimit = rlimit;
  tk_vctx v;
  tk_status s = tk_verify_ctx_init(&v, m, &o);
  if (s) {
    tk_ir_module_free(m);
    return s;
  }
  tk_verify_obl_begin(&v, TK_OBL_BOUNDS, "pigeonhole", "cpu", "%d pigeons", n);
  tk_obl *ob = tk_verify_obl_cur(&v);
  ob->whole_first = whole_first;
  Z3_ast x[9], same[36];
  int nsame = 0;
  for (int i = 0; i < n; i++) {
    char name[8];
    snprintf(name, sizeof name, "x%d", i);
    x[i] = tk_verify_obl_fresh(ob, name, v.int_sort, true);
    tk_verify_obl_hyp(ob, tk_verify_z_within(&v, 0, x[i], n - 2));
  }
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) same[nsame++] = Z3_mk_eq(v.z, x[i], x[j]);
  tk_verify_obl_goal(ob, tk_verify_z_or(&v, nsame, same));
  s = tk_verify_obl_prove(&v);
  if (!s) s = tk_verify_report_json(v.report, json);
  tk_verify_ctx_dispose(&v);
  tk_ir_module_free(m);
  return s;
}

/* Rounds of tries (verify/solve.c): at n = 9 under 350 000 units every try of the first round
 * answers unknown, the last one with what is left of the budget, and the obligation fails
 * naming the limit, whichever solver tries first; at n = 7 every try of the first round runs
 * out and the second round proves it, recording what all the tries used. */
static void check_rounds(void) {
  for (int whole_first = 0; whole_first < 2; whole_first++) {
    char *json = NULL;
    tk_status s = prove_pigeonhole(9, 350000, whole_first, &json);
    CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && s &&
                  strstr(tk_status_message(s), "solver answered unknown") &&
                  strstr(tk_status_message(s), "rlimit 350000)"),
              "9 pigeons (whole_first %d): %s", whole_first, s ? tk_status_message(s) : "proved");
    tk_status_free(s);
    free(json);
  }
  char *json = NULL;
  tk_status s = prove_pigeonhole(7, 0, false, &json);
  CHECK_MSG(!s, "7 pigeons: %s", s ? tk_status_message(s) : "");
  const char *p = json ? strstr(json, "\"rlimit\": ") : NULL;
  long long used = p ? atoll(p + 10) : 0;
  CHECK_MSG(used > 400000 && used < 5000000,
            "7 pigeons: recorded rlimit %lld, expected above "
            "the first round's 4 x 100000 and below the budget",
            used);
  tk_status_free(s);
  free(json);
}

/* A cache full of nano's proofs does not hide a defect: a mutant (a GEMM's first store off by
 * one, refuted by bounds) verified with it is still refuted, and the refuted query is not
 * cached (a second try refutes it again). */
static void check_cache_keeps_refutations(void) {
  tk_ir_module *m = build("nano");
  if (!m) return;
  tk_verify_options o;
  tk_verify_options_default(&o);
  o.keep_text = true;
  CHECK_OK(tk_verify_cache_create(&o.cache));
  tk_verify_report *r = NULL;
  CHECK_OK(tk_verify_module(m, &o, &r));
  tk_verify_report_free(r);
  CHECK_OK(tk_verify_mutant_apply(m, "cpu.expert_1_hidden_1_gemm.store_off_by_one", NULL));
  for (int run = 0; run < 2; run++) {
    r = NULL;
    tk_status s = tk_verify_module(m, &o, &r);
    CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && !r, "mutant with a full cache, run %d: %s",
              run, s ? tk_status_message(s) : "proved");
    tk_status_free(s);
    tk_verify_report_free(r);
  }
  tk_verify_cache_free(o.cache);
  tk_ir_module_free(m);
}

int main(void) {
  for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) check_model(MODELS[i]);
  check_cache_keeps_refutations();
  check_text();
  check_needs_hypotheses();
  check_rounds();
  check_unknown();
  TEST_MAIN_END();
}
