/* tests/unit/ir_build.h — shared by the IR tests (header-only, like test.h, whose counters
 * are per test program): a model's arch.json (tk_test_arch_path) through the pass table up to
 * a stage, with tk_ir_verify after every pass; a failure is a test failure and gives NULL. */
#ifndef TK_TESTS_UNIT_IR_BUILD_H
#define TK_TESTS_UNIT_IR_BUILD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/tkc.h"
#include "tests/unit/model_bundle.h"
#include "tests/unit/test.h"

/* model's module up to stage `stop` with the IR options `ir` (tkc_ir_options_default's when
 * NULL). */
static tk_ir_module *tk_test_build_ir_opts(const char *model, tk_ir_stage stop,
                                           const tk_ir_options *ir) {
  char path[256];
  tk_test_arch_path(model, path, sizeof path);
  tk_arch arch;
  tk_status s = tk_arch_load(path, &arch);
  CHECK_MSG(s == NULL, "%s: %s", path, tk_status_message(s));
  if (s) {
    tk_status_free(s);
    return NULL;
  }
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  o.verify_each = true;
  o.stop_after = stop;
  if (ir) o.ir = *ir;
  tk_ir_module *m = NULL;
  s = tkc_build_ir(&arch, &o, &m);
  CHECK_MSG(s == NULL, "%s: %s", model, tk_status_message(s));
  tk_status_free(s);
  return m;
}

static inline tk_ir_module *tk_test_build_ir_with(const char *model, tk_ir_stage stop,
                                                  tk_ir_dispatch dispatch, tk_ir_gpu_schedule gpu) {
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  o.ir.dispatch = dispatch;
  o.ir.gpu_schedule = gpu;
  return tk_test_build_ir_opts(model, stop, &o.ir);
}

/* tk_test_build_ir_with the library's defaults (dense dispatch, the simple GPU schedule). */
static inline tk_ir_module *tk_test_build_ir(const char *model, tk_ir_stage stop) {
  return tk_test_build_ir_with(model, stop, TK_DISPATCH_DENSE, TK_GPU_SCHEDULE_SIMPLE);
}

/* The module's text form (tk_ir_module_print); the caller frees it. */
static inline char *tk_test_ir_text(const tk_ir_module *m) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CHECK_OK(tk_ir_module_print(m, f));
  fclose(f);
  return text;
}

/* text parses back (as `name`) and prints to the same bytes. */
static inline void tk_test_check_round_trip(const char *text, const char *name) {
  tk_ir_module *back = NULL;
  tk_status s = tk_ir_parse(text, strlen(text), name, &back);
  CHECK_MSG(!s, "parse: %s", tk_status_message(s));
  tk_status_free(s);
  char *again = back ? tk_test_ir_text(back) : NULL;
  CHECK_MSG(again && !strcmp(text, again), "print(parse(print(m))) differs from print(m)");
  free(again);
  tk_ir_module_free(back);
}

#endif
