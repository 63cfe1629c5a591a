/* tests/unit/tv_test.c — the translation validator (verify/tv.h) on nano's unoptimised LLVM:
 * the module codegen builds for each of x86_64, x86_64-simt, amdgcn and nvptx validates and
 * adds address and control obligations to a report; the same text with one defect planted by
 * hand (ids swapped, an fcmp predicate changed, provenance removed, a guard predicate changed,
 * a loop stepping by 2, a stride constant off by one) is refused with TK_PROOF_FAILED naming
 * the kernel, the class and an LLVM instruction; an unknown target is TK_INVALID_ARGUMENT.
 * The expected outcomes come from the defects' meaning, not from the validator's code.
 */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>

#include "codegen/codegen.h"
#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"
#include "verify/tv.h"
#include "verify/verify.h"

static const char *const TARGETS[] = {"x86_64", "x86_64-simt", "amdgcn", "nvptx"};

static char *unopt_text(const tk_ir_module *m, const char *target) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  o.target = target;
  tk_cg_blob b = {0};
  CHECK_OK(tk_cg_compile(m, &o, TK_CG_EMIT_LLVM_UNOPT, &b));
  return (char *)b.data;
}

/* Parses `text` and validates it; the status is the validator's. */
static tk_status validate_text(const tk_ir_module *m, const char *target, const char *text,
                               tk_verify_report *r) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf =
      LLVMCreateMemoryBufferWithMemoryRangeCopy(text, strlen(text), "unopt.ll");
  LLVMModuleRef mod = NULL;
  char *err = NULL;
  tk_status s = TK_STATUS_OK;
  if (LLVMParseIRInContext(ctx, buf, &mod, &err)) {
    s = tk_status_make(TK_INTERNAL, "parse: %s", err ? err : "?");
  } else {
    s = tk_verify_tv_module(m, mod, target, NULL, r);
    LLVMDisposeModule(mod);
  }
  LLVMDisposeMessage(err);
  LLVMContextDispose(ctx);
  return s;
}

/* A copy of text with the first occurrence of `from` replaced by `to` (NULL if absent). */
static char *replace_first(const char *text, const char *from, const char *to) {
  const char *p = strstr(text, from);
  if (!p) return NULL;
  size_t head = (size_t)(p - text), nf = strlen(from), nt = strlen(to);
  char *out = malloc(strlen(text) - nf + nt + 1);
  memcpy(out, text, head);
  memcpy(out + head, to, nt);
  strcpy(out + head + nt, p + nf);
  return out;
}

/* The first `, !tk.access !N` removed. */
static char *drop_first_access_md(const char *text) {
  const char *p = strstr(text, ", !tk.access !");
  if (!p) return NULL;
  const char *end = p + strlen(", !tk.access !");
  while (*end >= '0' && *end <= '9') end++;
  char *out = malloc(strlen(text) + 1);
  memcpy(out, text, (size_t)(p - text));
  strcpy(out + (p - text), end);
  return out;
}

static long class_count(const tk_verify_report *r, const char *want) {
  for (int c = 0; c < TK_VERIFY_NCLASSES; c++) {
    const char *name;
    long n;
    tk_verify_report_class_count(r, c, &name, &n);
    if (!strcmp(name, want)) return n;
  }
  return -1;
}

static void check_valid(const tk_ir_module *m, tk_verify_report *r) {
  for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++) {
    long a0 = class_count(r, "address"), c0 = class_count(r, "control");
    char *text = unopt_text(m, TARGETS[i]);
    if (!text) continue;
    tk_status s = validate_text(m, TARGETS[i], text, r);
    CHECK_MSG(!s, "%s: %s", TARGETS[i], tk_status_message(s));
    tk_status_free(s);
    long a1 = class_count(r, "address"), c1 = class_count(r, "control");
    fprintf(stderr, "%s: %ld address, %ld control obligations\n", TARGETS[i], a1 - a0, c1 - c0);
    CHECK_MSG(a1 > a0 && c1 > c0, "%s: no address/control obligations recorded", TARGETS[i]);
    free(text);
  }
}

/* The defect `from` → `to` (first occurrence) in target's text is refuted, naming the kernel,
 * `cls` and an instruction (a backquoted LLVM text). */
static void check_refuted(const tk_ir_module *m, const char *target, const char *from,
                          const char *to, const char *cls) {
  char *text = unopt_text(m, target);
  char *bad = text ? (to ? replace_first(text, from, to) : drop_first_access_md(text)) : NULL;
  CHECK_MSG(bad, "%s: `%s` not found in the unoptimised module", target, from);
  if (bad) {
    tk_status s = validate_text(m, target, bad, NULL);
    const char *msg = tk_status_message(s);
    char want[64];
    snprintf(want, sizeof want, "class %s", cls);
    CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && strstr(msg, "kernel ") &&
                  strstr(msg, want) && strchr(msg, '`'),
              "%s: %s -> %s: want a %s refutation naming kernel and instruction, got: %s", target,
              from, to ? to : "(removed)", cls, s ? msg : "OK");
    fprintf(stderr, "%s: %s -> %s: %.300s\n", target, from, to ? to : "(removed)", msg);
    tk_status_free(s);
  }
  free(bad);
  free(text);
}

int main(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  if (!m) TEST_MAIN_END();
  tk_verify_options o;
  tk_verify_options_default(&o);
  tk_verify_report *r = NULL;
  CHECK_OK(tk_verify_module(m, &o, &r));
  if (r) check_valid(m, r);
  tk_verify_report_free(r);
  /* the planted defects: swapped GPU ids (the PTX then stores past the buffer) and
   * f32 `>` as `>=` (breaks the top-K tie rule) */
  check_refuted(m, "amdgcn", "call i32 @llvm.amdgcn.workgroup.id.x()",
                "call i32 @llvm.amdgcn.workitem.id.x()", "control");
  check_refuted(m, "nvptx", "call i32 @llvm.nvvm.read.ptx.sreg.tid.x()",
                "call i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()", "control");
  check_refuted(m, "nvptx", "fcmp ogt", "fcmp oge", "control");
  check_refuted(m, "x86_64", "fcmp ogt", "fcmp ugt", "control");
  check_refuted(m, "x86_64-simt", "%guard = icmp slt", "%guard = icmp sle", "control");
  check_refuted(m, "amdgcn", "mul nsw i32 %16, 96", "mul nsw i32 %16, 97", "address");
  check_refuted(m, "x86_64", "add nsw i64 %k16, 1", "add nsw i64 %k16, 2", "control");
  check_refuted(m, "x86_64", "!tk.access", NULL, "address");
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef empty = LLVMModuleCreateWithNameInContext("empty", ctx);
  tk_status s = tk_verify_tv_module(m, empty, "sparc", NULL, NULL);
  CHECK(tk_status_code_of(s) == TK_INVALID_ARGUMENT);
  tk_status_free(s);
  s = tk_verify_tv_module(m, empty, "nvptx", NULL, NULL); /* no kernel functions at all */
  CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && strstr(tk_status_message(s), "kernel "),
            "empty module: %s", tk_status_message(s));
  tk_status_free(s);
  LLVMDisposeModule(empty);
  LLVMContextDispose(ctx);
  tk_ir_module_free(m);
  TEST_MAIN_END();
}
