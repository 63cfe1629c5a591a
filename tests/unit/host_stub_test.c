/* tests/unit/host_stub_test.c — class host on real stubs (verify/obl_host.c, obl_abi.c): the
 * stubs tkc generates for every model of models/ prove; hand edits of nano's stub text are judged by
 * C's semantics — rewrites into an equal formula (floor helpers; a truncating division that is
 * 0 on the whole batch range) still prove, and each defect below is refuted with a
 * counterexample naming the stub line and a B where the C value differs (worked out by hand in
 * the comment of each case). The kernel ABI part runs on LLVM IR text written here.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/hoststub.h"
#include "compiler/tkc.h"
#include "model/arch.h"
#include "tests/unit/test.h"
#include "verify/verify.h"

static tk_ir_module *build(const char *model) {
  char path[256];
  snprintf(path, sizeof path, "models/%s.arch.json", model);
  tk_arch arch;
  tk_status s = tk_arch_load(path, &arch);
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  tk_ir_module *m = NULL;
  if (!s) s = tkc_build_ir(&arch, &o, &m);
  CHECK_MSG(!s, "%s: %s", model, tk_status_message(s));
  tk_status_free(s);
  return m;
}

/* text with the first `from` replaced by `to` (caller frees). */
static char *edit(const char *text, const char *from, const char *to) {
  const char *at = strstr(text, from);
  CHECK_MSG(at != NULL, "the stub has no `%s`", from);
  if (!at) return NULL;
  size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
  char *out = malloc(n);
  snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  return out;
}

static tk_status host(const tk_ir_module *m, const char *stub) {
  tk_verify_options o;
  tk_verify_options_default(&o);
  return tk_verify_host_stub(m, stub, &o, NULL);
}

static void check_sound(const char *model) {
  tk_ir_module *m = build(model);
  char *c = NULL, *h = NULL;
  if (m) CHECK_OK(tk_cg_stub_generate(m, "test", &c, &h));
  if (c) CHECK_OK(host(m, c));
  free(c);
  free(h);
  tk_ir_module_free(m);
}

typedef struct edit_case {
  const char *from, *to;
  const char *expect; /* NULL: proves; else a substring of the counterexample */
} edit_case;

static const edit_case EDITS[] = {
    /* equal rewrites */
    {"case 0: return B * 4;",
     "case 0: return tkm_floordiv(B * 4 - 7, 2) * 2 + tkm_floormod(B * 4 - 7, 2) + 7;", NULL},
    /* (1 - B) / 65536 truncates to 0 for 1 <= B <= 65536 (floor would give -1 from B = 2) */
    {"case 0: return B * 4;", "case 0: return B * 4 + (1 - B) / 65536;", NULL},
    {"case 3: return B * 96;", "case 3: return tkm_max(B, 1) * 96 + tkm_min(0, B);", NULL},
    /* defects: (1 - 65536) / 65535 = -1 at B = 65536 */
    {"case 0: return B * 4;", "case 0: return B * 4 + (1 - B) / 65535;", "B=65536"},
    {"case 0: return B * 4;", "case 0: return B * 4 + (B - 1) % 2;", "buffer_elems case 0"},
    /* equal value, but the long intermediate overflows from B = 2 */
    {"case 3: return B * 96;",
     "case 3: return B * 96 + INT64_C(9223372036854775800) - INT64_C(9223372036854775800);",
     "no overflow"},
    /* the int product 65536 * 65536 overflows int (long only after the cast) */
    {"case 3: return B * 96;", "case 3: return B * 96 + 65536 * 65536 - (int64_t)65536 * 65536;",
     "no overflow"},
    /* Bp = 16*ceil(B/16) + 16 when B is a multiple of 16 */
    {"(int32_t)(((int64_t)B + 15) / 16 * 16)", "(int32_t)(((int64_t)B + 16) / 16 * 16)",
     "tkm_padded_batch at model_host.c:"},
    /* (Bp + 64) / 64 is one more than (Bp + 63) / 64 where Bp is a multiple of 64 */
    {"(Bp + 63) / 64, 64));", "(Bp + 64) / 64, 64));", "stub grid="},
    {"(Bp + 63) / 64, 64));", "(Bp + 63) / 64, 32));", "workgroup size"},
    {"gpu_args_0[6] = {0, 1, 2, 3, 4, 5};", "gpu_args_0[6] = {0, 1, 2, 3, 5, 4};", "argument 4"},
    {"gpu_args_0[6] = {0, 1, 2, 3, 4, 5};", "gpu_args_0[5] = {0, 1, 2, 3, 4};", "arguments"},
    {"launch(l, 0, \"router\"", "launch(l, 0, \"rooter\"", "\"rooter\""},
    {"  int64_t Bp = tkm_padded_batch(B);", "  int64_t Bp = B;", "Bp=16"},
};

static void check_edits(void) {
  tk_ir_module *m = build("nano");
  char *c = NULL, *h = NULL;
  if (m) CHECK_OK(tk_cg_stub_generate(m, "test", &c, &h));
  for (size_t i = 0; c && i < sizeof EDITS / sizeof EDITS[0]; i++) {
    char *text = edit(c, EDITS[i].from, EDITS[i].to);
    if (!text) continue;
    tk_status s = host(m, text);
    if (!EDITS[i].expect)
      CHECK_MSG(!s, "`%s` should prove: %s", EDITS[i].to, s ? tk_status_message(s) : "");
    else
      CHECK_MSG(s && tk_status_code_of(s) == TK_PROOF_FAILED &&
                    strstr(tk_status_message(s), EDITS[i].expect) &&
                    strstr(tk_status_message(s), "class host"),
                "`%s`: expected a refutation mentioning \"%s\", got \"%s\"", EDITS[i].to,
                EDITS[i].expect, s ? tk_status_message(s) : "proved");
    tk_status_free(s);
    free(text);
  }
  free(c);
  free(h);
  tk_ir_module_free(m);
}

/* The kernel ABI on codegen's amdgcn and nvptx IR of nano: as built it proves; a parameter
 * list edited by hand is refuted at the parameter (router: 6 buffers, B at 48, Bp at 52). */
static void check_abi(const char *target) {
  tk_ir_module *m = build("nano");
  tk_cg_options cg;
  tk_cg_options_default(&cg);
  cg.target = target;
  tk_cg_blob ir = {0};
  if (m) CHECK_OK(tk_cg_compile(m, &cg, TK_CG_EMIT_LLVM_UNOPT, &ir));
  tk_verify_options o;
  tk_verify_options_default(&o);
  if (ir.data)
    CHECK_OK(tk_verify_kernel_abi_ir(m, (const char *)ir.data, ir.size, target, &o, NULL));
  static const edit_case abi_edits[] = {
      {"readonly %router.param_1, i32 %B, i32 %Bp)",
       "readonly %router.param_1, i8 %pad, i32 %B, i32 %Bp)", "parameter 6 (B) of router"},
      {"@router(ptr", "@router(i8 %pad, ptr", "parameter 0 (router_weights) of router"},
      {"readonly %router.param_1, i32 %B, i32 %Bp)",
       "readonly %router.param_1, i32 %B, i32 %Bp, i32 %x2)", "LLVM kernarg bytes=60"},
  };
  for (size_t i = 0; ir.data && i < sizeof abi_edits / sizeof abi_edits[0]; i++) {
    char *text = edit((const char *)ir.data, abi_edits[i].from, abi_edits[i].to);
    if (!text) continue;
    tk_status s = tk_verify_kernel_abi_ir(m, text, strlen(text), target, &o, NULL);
    CHECK_MSG(s && tk_status_code_of(s) == TK_PROOF_FAILED &&
                  strstr(tk_status_message(s), abi_edits[i].expect) &&
                  strstr(tk_status_message(s), "in kernel router (gpu), class host"),
              "%s `%s`: expected a refutation mentioning \"%s\", got \"%s\"", target,
              abi_edits[i].to, abi_edits[i].expect, s ? tk_status_message(s) : "proved");
    tk_status_free(s);
    free(text);
  }
  tk_cg_blob_free(&ir);
  tk_ir_module_free(m);
}

int main(void) {
  check_abi("amdgcn");
  check_abi("nvptx");
  static const char *const models[] = {"nano", "tiny", "medium", "full", "dense", "custom-small"};
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) check_sound(models[i]);
  check_edits();
  TEST_MAIN_END();
}
