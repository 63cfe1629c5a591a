/* tests/unit/verify_test.c — every model of models/ verifies (every class, both schedules),
 * the report is deterministic (two runs give the same index.json), every class is present
 * where it applies (topk only for MoE), and the SMT-LIB2 text has the required shape (logic,
 * named negated goal last, check-sat). Solver time per model goes to stderr. */
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "compiler/tkc.h"
#include "tests/unit/test.h"
#include "verify/verify.h"

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
    CHECK_OK(tk_verify_module(m, &o, &r2));
    if (r2) CHECK_OK(tk_verify_report_json(r2, &json2));
    CHECK_MSG(json && json2 && !strcmp(json, json2), "%s: index.json differs between two runs",
              model);
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

int main(void) {
  for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) check_model(MODELS[i]);
  check_text();
  TEST_MAIN_END();
}
