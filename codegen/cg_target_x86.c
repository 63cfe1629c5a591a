/* codegen/cg_target_x86.c — the `x86_64` target's hooks, and the CPU kernel ABI shared with
 * `x86_64-simt` (docs/abi.md "CPU targets").
 *
 * Each scheduled kernel K becomes two functions:
 *   internal noinline void K.body(ptr noalias? nonnull nocapture align 64 [readonly] arg_0, ...,
 *                                 i32 B, i32 Bp, i64 begin, i64 end)   — the lowered body;
 *   void K(ptr args, i32 B, i32 Bp, i64 begin, i64 end)                — the exported entry,
 *        loading args[i] and calling K.body.
 * Keeping K.body a real call (one per launch range) keeps the parameter attributes exact:
 * noalias only where no other argument of K is bound to the same buffer (buffer planning may
 * alias), align 64 because the launcher allocates every buffer 64-byte aligned (ABI).
 * The module also exports `const char tk_bundle_target[]` = the target's name and, when the
 * options give one, `const char tk_model_fingerprint[]` = the arch fingerprint (the runtime
 * refuses kernels of another arch before any launch).
 * The cpu_block loop runs [begin, end); other bindings are an error on this target.
 */
#include <string.h>

#include <llvm-c/Target.h>

#include "codegen/cg_internal.h"
#include "tk/launch.h"

void tk_cg_x86_init_llvm(void) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  LLVMInitializeX86AsmParser(); /* inline asm is parsed, and its errors reported, through it */
}

/* The one table of x86-64 CPUs tkc knows: --cpu NAME, the psABI level the runtime checks
 * before loading code tuned for it (tk_cpu_check_level), and whether it has AVX-512. */
static const tk_cg_x86_cpu x86_cpus[] = {
    {"x86-64", "x86-64", false},           {"x86-64-v2", "x86-64-v2", false},
    {"x86-64-v3", "x86-64-v3", false},     {"x86-64-v4", "x86-64-v4", true},
    {"haswell", "x86-64-v3", false},       {"broadwell", "x86-64-v3", false},
    {"skylake", "x86-64-v3", false},       {"alderlake", "x86-64-v3", false},
    {"znver1", "x86-64-v3", false},        {"znver2", "x86-64-v3", false},
    {"znver3", "x86-64-v3", false},        {"skylake-avx512", "x86-64-v4", true},
    {"cascadelake", "x86-64-v4", true},    {"cooperlake", "x86-64-v4", true},
    {"icelake-client", "x86-64-v4", true}, {"icelake-server", "x86-64-v4", true},
    {"tigerlake", "x86-64-v4", true},      {"sapphirerapids", "x86-64-v4", true},
    {"znver4", "x86-64-v4", true},
};

/* `+item` as a whole entry of an LLVM feature string ("+avx,+avx512f,-avx512fp16,..."). */
static bool feature_on(const char *features, const char *item) {
  size_t n = strlen(item);
  for (const char *p = features; (p = strstr(p, item)) != NULL; p += n)
    if ((p == features || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return true;
  return false;
}

static bool all_on(const char *features, const char *const *items) {
  for (; *items; items++)
    if (!feature_on(features, *items)) return false;
  return true;
}

/* The psABI level a host feature string (--cpu native) reaches. */
static tk_cg_x86_cpu from_features(const char *name, const char *features) {
  static const char *const v2[] = {"+sse3",   "+ssse3", "+sse4.1", "+sse4.2",
                                   "+popcnt", "+cx16",  "+sahf",   NULL};
  static const char *const v3[] = {"+avx", "+avx2",  "+bmi",   "+bmi2", "+f16c",
                                   "+fma", "+lzcnt", "+movbe", NULL};
  static const char *const v4[] = {"+avx512f",  "+avx512bw", "+avx512cd",
                                   "+avx512dq", "+avx512vl", NULL};
  bool l2 = all_on(features, v2), l3 = l2 && all_on(features, v3), l4 = l3 && all_on(features, v4);
  return (tk_cg_x86_cpu){name,
                         l4   ? "x86-64-v4"
                         : l3 ? "x86-64-v3"
                         : l2 ? "x86-64-v2"
                              : "x86-64",
                         feature_on(features, "+avx512f")};
}

tk_status tk_cg_x86_cpu_info(const char *cpu, const char *features, tk_cg_x86_cpu *out) {
  if (features && *features) {
    *out = from_features(cpu, features);
    return TK_STATUS_OK;
  }
  for (size_t i = 0; cpu && i < sizeof x86_cpus / sizeof x86_cpus[0]; i++)
    if (strcmp(cpu, x86_cpus[i].name) == 0) {
      *out = x86_cpus[i];
      return TK_STATUS_OK;
    }
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "--cpu: \"%s\" is not a known x86-64 CPU; expected native, x86-64, "
                        "x86-64-v2, x86-64-v3, x86-64-v4 or an Intel/AMD core name such as "
                        "skylake-avx512 or znver4",
                        cpu ? cpu : "");
}

tk_status tk_cg_x86_check_cpu(const char *cpu) {
  tk_cg_x86_cpu info;
  return tk_cg_x86_cpu_info(cpu, NULL, &info);
}

static void add_attr(tk_cg_module *cm, LLVMValueRef fn, LLVMAttributeIndex at, const char *name,
                     uint64_t value) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, at, LLVMCreateEnumAttribute(cm->c->ctx, kind, value));
}

static void add_string_attr(tk_cg_module *cm, LLVMValueRef fn, const char *name,
                            const char *value) {
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(cm->c->ctx, name, (unsigned)strlen(name), value,
                                                    (unsigned)strlen(value)));
}

static LLVMValueRef declare_body(tk_cg_fn *fn, const bool *noalias) {
  tk_cg_module *cm = fn->cm;
  const tk_ir_kernel *k = fn->k;
  unsigned n = (unsigned)k->nargs;
  LLVMTypeRef params[n + 4];
  for (unsigned i = 0; i < n; i++) params[i] = cm->ptr;
  params[n] = params[n + 1] = cm->i32;
  params[n + 2] = params[n + 3] = cm->i64;
  char name[256];
  snprintf(name, sizeof name, "%s.body", k->name);
  LLVMValueRef f = LLVMAddFunction(
      cm->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(cm->c->ctx), params, n + 4, 0));
  LLVMSetLinkage(f, LLVMInternalLinkage);
  add_attr(cm, f, LLVMAttributeFunctionIndex, "nounwind", 0);
  add_attr(cm, f, LLVMAttributeFunctionIndex, "noinline", 0);
  /* 512-bit vectors where the CPU has AVX-512 (LLVM tunes x86-64-v4 and skylake-avx512 to
   * 256 bits; the schedule's tile was sized for zmm registers): a no-op on AVX2 CPUs. */
  add_string_attr(cm, f, "prefer-vector-width", "512");
  add_string_attr(cm, f, "min-legal-vector-width", "512");
  /* The code object links no C library: a row copy (sparse dispatch's gather and scatter)
   * must stay a loop, not become a call to memcpy or memset. */
  static const char *const no_libcalls[] = {"no-builtin-memcpy", "no-builtin-memmove",
                                            "no-builtin-memset"};
  for (size_t i = 0; i < sizeof no_libcalls / sizeof *no_libcalls; i++)
    add_string_attr(cm, f, no_libcalls[i], "");
  for (unsigned i = 0; i < n; i++) {
    LLVMValueRef p = LLVMGetParam(f, i);
    LLVMSetValueName2(p, k->args[i].name, strlen(k->args[i].name));
    if (noalias[i]) add_attr(cm, f, i + 1, "noalias", 0);
    add_attr(cm, f, i + 1, "nonnull", 0);
    add_attr(cm, f, i + 1, "nocapture", 0);
    add_attr(cm, f, i + 1, "align", 64);
    if (k->args[i].access == TK_ACC_READ) add_attr(cm, f, i + 1, "readonly", 0);
  }
  static const char *const tail[4] = {"B", "Bp", "begin", "end"};
  for (unsigned i = 0; i < 4; i++)
    LLVMSetValueName2(LLVMGetParam(f, n + i), tail[i], strlen(tail[i]));
  return f;
}

/* void K(ptr args, i32 B, i32 Bp, i64 begin, i64 end) { K.body(args[0], ..., B, Bp, begin, end); } */
static void define_entry(tk_cg_fn *fn, LLVMValueRef body) {
  tk_cg_module *cm = fn->cm;
  const tk_ir_kernel *k = fn->k;
  unsigned n = (unsigned)k->nargs;
  LLVMTypeRef params[5] = {cm->ptr, cm->i32, cm->i32, cm->i64, cm->i64};
  LLVMValueRef f = LLVMAddFunction(
      cm->mod, k->name, LLVMFunctionType(LLVMVoidTypeInContext(cm->c->ctx), params, 5, 0));
  add_attr(cm, f, LLVMAttributeFunctionIndex, "nounwind", 0);
  static const char *const names[5] = {"args", "B", "Bp", "begin", "end"};
  for (unsigned i = 0; i < 5; i++)
    LLVMSetValueName2(LLVMGetParam(f, i), names[i], strlen(names[i]));
  LLVMPositionBuilderAtEnd(cm->b, LLVMAppendBasicBlockInContext(cm->c->ctx, f, "entry"));
  LLVMValueRef call_args[n + 4];
  for (unsigned i = 0; i < n; i++) {
    LLVMValueRef idx = LLVMConstInt(cm->i64, i, 0);
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(cm->b, cm->ptr, LLVMGetParam(f, 0), &idx, 1, "");
    call_args[i] = LLVMBuildLoad2(cm->b, cm->ptr, slot, k->args[i].name);
    LLVMSetAlignment(call_args[i], 8);
  }
  for (unsigned i = 0; i < 4; i++) call_args[n + i] = LLVMGetParam(f, i + 1);
  if (tk_cg_mutant_on(cm, "entry-b-bp-swapped")) {
    call_args[n] = LLVMGetParam(f, 2);
    call_args[n + 1] = LLVMGetParam(f, 1);
  }
  LLVMBuildCall2(cm->b, LLVMGlobalGetValueType(body), body, call_args, n + 4, "");
  LLVMBuildRetVoid(cm->b);
}

tk_status tk_cg_cpu_begin_kernel(tk_cg_fn *fn, const bool *noalias) {
  tk_cg_module *cm = fn->cm;
  if (LLVMGetNamedFunction(cm->mod, fn->k->name))
    return tk_status_make(TK_INTERNAL, "codegen: two kernels named %s", fn->k->name);
  LLVMValueRef body = declare_body(fn, noalias);
  define_entry(fn, body);
  unsigned n = (unsigned)fn->k->nargs;
  fn->fn = body;
  for (unsigned i = 0; i < n; i++) fn->bufs[i] = LLVMGetParam(body, i);
  fn->B = LLVMGetParam(body, n);
  fn->Bp = LLVMGetParam(body, n + 1);
  fn->begin = LLVMGetParam(body, n + 2);
  fn->end = LLVMGetParam(body, n + 3);
  LLVMPositionBuilderAtEnd(cm->b, LLVMAppendBasicBlockInContext(cm->c->ctx, body, "entry"));
  return TK_STATUS_OK;
}

/* An exported `const char symbol[] = "value"` (NUL-terminated). */
static void add_string_global(tk_cg_module *cm, const char *symbol, const char *value) {
  LLVMValueRef init = LLVMConstStringInContext(cm->c->ctx, value, (unsigned)strlen(value), 0);
  LLVMValueRef g = LLVMAddGlobal(cm->mod, LLVMTypeOf(init), symbol);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, 1);
}

void tk_cg_cpu_finish_module(tk_cg_module *cm) {
  add_string_global(cm, "tk_bundle_target", cm->target->name);
  if (cm->opts->fingerprint)
    add_string_global(cm, TK_MODEL_FINGERPRINT_SYMBOL, cm->opts->fingerprint);
}

static tk_status x86_bind(tk_cg_fn *fn, tk_ir_binding binding, LLVMValueRef extent,
                          tk_cg_bound *out) {
  (void)extent;
  if (binding != TK_BIND_CPU_BLOCK)
    return tk_status_make(TK_INTERNAL,
                          "codegen: x86_64 lowers the cpu schedule; kernel %s has "
                          "a %s loop",
                          fn->k->name, tk_ir_binding_name(binding));
  out->lo = fn->begin;
  out->hi = tk_cg_cpu_block_end(fn);
  return TK_STATUS_OK;
}

LLVMValueRef tk_cg_cpu_block_end(tk_cg_fn *fn) {
  if (!tk_cg_mutant_on(fn->cm, "block-end-plus-1")) return fn->end;
  return LLVMBuildNSWAdd(fn->cm->b, fn->end, LLVMConstInt(fn->cm->i64, 1, 0), "");
}

const tk_cg_target tk_cg_target_x86_64 = {
    .name = "x86_64",
    .triple = "x86_64-unknown-linux-gnu",
    .default_cpu = TK_CG_DEFAULT_X86_CPU,
    .schedule = TK_TARGET_CPU,
    .global_as = 0,
    .init_llvm = tk_cg_x86_init_llvm,
    .check_cpu = tk_cg_x86_check_cpu,
    .begin_kernel = tk_cg_cpu_begin_kernel,
    .bind = x86_bind,
    .exp2 = tk_cg_math_exp2,
    .finish_module = tk_cg_cpu_finish_module,
};
