/* tests/unit/ix_load_test.c — index reads (TK_IX_LOAD, ir.h): an index that is an element of
 * an i32 buffer, the building block of sparse dispatch (a gathered row `%list[i]`, a slot
 * `%slot[r * E + e]`). On nano's cpu combine kernel, the expert-0 load of the first reduction
 * loop is made to read row `min(max(%router.keep[r * 4], 0), B - 1)` instead of row r:
 *   - the IR checker accepts it and refuses an index read of an f32 argument or in a loop
 *     extent;
 *   - the dump prints it as `%router.keep[…]`, parses back, and prints the same bytes;
 *   - every obligation class proves the module (the verifier knows nothing of the data but
 *     its i32 range, and the clamp makes any value safe), with an index-read bounds site and
 *     the data function `data.router.keep` declared in QF_UFLIA queries;
 *   - the translation validator accepts codegen's x86_64 module for it (the LLVM load of the
 *     index read and the IR's read are one term);
 *   - without the clamp, bounds refutes it: nothing bounds the data.
 * The outcomes follow from what the data may be (any i32), not from the verifier's code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>

#include "codegen/codegen.h"
#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"
#include "verify/tv.h"
#include "verify/verify.h"

static int arg_named(const tk_ir_kernel *k, const char *name) {
  for (int i = 0; i < k->nargs; i++)
    if (!strcmp(k->args[i].name, name)) return i;
  CHECK_MSG(0, "kernel %s has no argument %%%s", k->name, name);
  return -1;
}

typedef struct first_reduction {
  const tk_ir_stmt *found;
} first_reduction;

static void find_reduction(const tk_ir_stmt *s, void *user) {
  first_reduction *f = user;
  if (!f->found && s->kind == TK_S_FOR && s->loop == TK_LOOP_REDUCTION) f->found = s;
}

/* The fma of the first reduction loop's accumulator store: its operand a loads expert 0. */
static tk_ir_val *expert0_load(const tk_ir_kernel *k) {
  first_reduction f = {NULL};
  tk_ir_walk_stmts(k->body, find_reduction, &f);
  const tk_ir_stmt *s = f.found ? f.found->body : NULL;
  while (s && s->kind != TK_S_LOCAL_STORE) s = s->kind == TK_S_BLOCK ? s->stmts[0] : s->body;
  tk_ir_val *load = s && s->value->op == TK_V_FMA ? (tk_ir_val *)s->value->a : NULL;
  CHECK_MSG(load && load->op == TK_V_LOAD, "kernel %s: no fma of a load in its first reduction",
            k->name);
  return load;
}

/* Row r of the load (its index is r * 128 + k) becomes `rowsel`(%router.keep[r * 4]). */
static tk_ir_module *with_index_read(bool clamped) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  tk_ir_kernel *k = m ? (tk_ir_kernel *)tk_ir_kernel_find(m, TK_TARGET_CPU, "combine") : NULL;
  CHECK_MSG(k, "nano has no cpu kernel combine");
  tk_ir_val *load = k ? expert0_load(k) : NULL;
  int keep = k ? arg_named(k, "router.keep") : -1;
  if (!load || keep < 0 || load->ix->kind != TK_IX_ADD || load->ix->a->kind != TK_IX_MUL) {
    tk_ir_module_free(m);
    return NULL;
  }
  const tk_ix *r = load->ix->a->a, *kk = load->ix->b;
  const tk_ix *read = tk_ir_ix_load(m, keep, k->args[keep].name, tk_ir_ix_mul(m, r, 4));
  const tk_ix *row =
      clamped ? tk_ir_ix_clamp_row(m, tk_ir_ix_max(m, read, tk_ir_ix_const(m, 0))) : read;
  load->ix = tk_ir_ix_rowmajor(m, row, 128, kk);
  return m;
}

static void check_dump(const tk_ir_module *m) {
  char *text = tk_test_ir_text(m);
  /* the combine's CPU tiles have 2 rows (ir/pass_schedule_cpu.c, phase_tile_rows) */
  const char *want = "fma(%expert_0.h_2[min(max(%router.keep[(w * 32 + rt * 2 + ri) * 4], 0), "
                     "B - 1) * 128 + k]";
  CHECK_MSG(text && strstr(text, want), "the dump lacks `%s`", want);
  if (text) tk_test_check_round_trip(text, "nano.ir");
  free(text);
}

/* An index read of the f32 gate, and one in a loop extent, are refused by tk_ir_verify. */
static void check_refused(void) {
  tk_ir_module *m = with_index_read(true);
  tk_ir_kernel *k = m ? (tk_ir_kernel *)tk_ir_kernel_find(m, TK_TARGET_CPU, "combine") : NULL;
  if (!k) return;
  tk_ir_val *load = expert0_load(k);
  tk_ix *read = (tk_ix *)load->ix->a->a->a->a; /* min(max(READ, 0), B - 1) * 128 + k */
  CHECK(read->kind == TK_IX_LOAD);
  int gate = arg_named(k, "router.gate");
  read->arg = gate;
  read->arg_name = k->args[gate].name;
  tk_status s = tk_ir_verify(m);
  CHECK_MSG(s && strstr(tk_status_message(s), "router.gate") &&
                strstr(tk_status_message(s), "not an i32 argument the kernel only reads"),
            "an index read of f32 data: %s", s ? tk_status_message(s) : "accepted");
  tk_status_free(s);
  read->arg = arg_named(k, "router.keep");
  read->arg_name = k->args[read->arg].name;
  tk_ir_stmt *outer = (tk_ir_stmt *)k->body->body; /* a loop inside the launch loop */
  while (outer && outer->kind != TK_S_FOR)
    outer = (tk_ir_stmt *)(outer->kind == TK_S_BLOCK ? outer->stmts[0] : outer->body);
  if (outer) {
    const tk_ix *extent = outer->extent;
    outer->extent = tk_ir_ix_load(m, read->arg, read->arg_name, tk_ir_ix_const(m, 0));
    s = tk_ir_verify(m);
    CHECK_MSG(s && strstr(tk_status_message(s), "reads a buffer"), "a data extent: %s",
              s ? tk_status_message(s) : "accepted");
    tk_status_free(s);
    outer->extent = extent;
  }
  tk_ir_module_free(m);
}

static void check_proved(const tk_ir_module *m) {
  tk_verify_options o;
  tk_verify_options_default(&o);
  o.keep_text = true;
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, &o, &r);
  CHECK_MSG(!s, "verify: %s", tk_status_message(s));
  tk_status_free(s);
  char *json = NULL;
  if (r) CHECK_OK(tk_verify_report_json(r, &json));
  CHECK_MSG(json && strstr(json, "index read of %router.keep"),
            "no obligation names the index read");
  free(json);
  tk_verify_report_free(r);
  char *smt = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&smt, &len);
  CHECK_OK(tk_verify_emit_obligations(m, f));
  fclose(f);
  CHECK_MSG(smt && strstr(smt, "(declare-fun data.router.keep (Int) Int)") &&
                strstr(smt, "(set-logic QF_UFLIA)"),
            "no obligation declares the data function data.router.keep in QF_UFLIA");
  free(smt);
}

static tk_status validate(const tk_ir_module *m) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  tk_cg_blob b = {0};
  tk_status s = tk_cg_compile(m, &o, TK_CG_EMIT_LLVM_UNOPT, &b);
  if (s) return s;
  CHECK_MSG(strstr((const char *)b.data, "load i32, ptr %router.keep"),
            "no i32 load of %%router.keep in the LLVM");
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf =
      LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)b.data, b.size - 1, "unopt.ll");
  LLVMModuleRef mod = NULL;
  char *err = NULL;
  if (LLVMParseIRInContext(ctx, buf, &mod, &err)) {
    s = tk_status_make(TK_INTERNAL, "parse: %s", err ? err : "?");
  } else {
    s = tk_verify_tv_module(m, mod, "x86_64", NULL, NULL);
    LLVMDisposeModule(mod);
  }
  LLVMDisposeMessage(err);
  LLVMContextDispose(ctx);
  tk_cg_blob_free(&b);
  return s;
}

static void check_unclamped_refuted(void) {
  tk_ir_module *m = with_index_read(false);
  if (!m) return;
  CHECK_OK(tk_ir_verify(m));
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, NULL, &r);
  const char *msg = s ? tk_status_message(s) : "all proved";
  CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && strstr(msg, "kernel combine (cpu)") &&
                strstr(msg, "class bounds") && strstr(msg, "expert_0.h_2"),
            "an unbounded index read: want a bounds refutation of combine, got: %s", msg);
  fprintf(stderr, "unclamped index read rejected: %.400s\n", msg);
  tk_status_free(s);
  tk_verify_report_free(r);
  tk_ir_module_free(m);
}

int main(void) {
  tk_ir_module *m = with_index_read(true);
  if (m) {
    CHECK_OK(tk_ir_verify(m));
    check_dump(m);
    check_proved(m);
    tk_status s = validate(m);
    CHECK_MSG(!s, "translation validation: %s", tk_status_message(s));
    tk_status_free(s);
    tk_ir_module_free(m);
  }
  check_refused();
  check_unclamped_refuted();
  TEST_MAIN_END();
}
