/* codegen/cg_emit.c — the target machine, the optimisation pipeline and emission.
 *
 * The target machine is created for the target's triple and the resolved CPU (`native` =
 * LLVMGetHostCPUName/Features), PIC relocations (the object goes into a shared object).
 * Emission verifies the module, runs `default<O<level>>` WITH the target machine (so the
 * cost models and target passes are the target's, docs/toolchain.md §1), then prints IR or runs
 * code generation into memory. After every step, an error the diagnostic handler caught
 * (cg_context.c) becomes a TK_INTERNAL tk_status naming the step.
 */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/cg_internal.h"
#include "tk/alloc.h"

static tk_status dup_pair(const char *cpu, const char *features, char **out_cpu,
                          char **out_features) {
  *out_cpu = tk_strdup(cpu);
  *out_features = tk_strdup(features);
  if (*out_cpu && *out_features) return TK_STATUS_OK;
  free(*out_cpu);
  free(*out_features);
  *out_cpu = *out_features = NULL;
  return tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: out of memory");
}

tk_status tk_cg_cpu_resolve(const tk_cg_options *o, char **out_cpu, char **out_features) {
  *out_cpu = *out_features = NULL;
  const tk_cg_target *t = NULL;
  TK_RETURN_IF_ERROR(tk_cg_target_get(o->target, &t));
  const char *cpu = o->cpu ? o->cpu : t->default_cpu;
  if (strcmp(cpu, "native") != 0) {
    TK_RETURN_IF_ERROR(t->check_cpu(cpu));
    return dup_pair(cpu, "", out_cpu, out_features);
  }
  char *name = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
  tk_status s = dup_pair(name, features, out_cpu, out_features);
  LLVMDisposeMessage(name);
  LLVMDisposeMessage(features);
  return s;
}

static LLVMCodeGenOptLevel codegen_level(int opt_level) {
  static const LLVMCodeGenOptLevel levels[4] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                                LLVMCodeGenLevelDefault,
                                                LLVMCodeGenLevelAggressive};
  return levels[opt_level];
}

tk_status tk_cg_machine_create(const tk_cg_target *t, const tk_cg_options *o,
                               LLVMTargetMachineRef *out) {
  *out = NULL;
  if (o->opt_level < 0 || o->opt_level > 3)
    return tk_status_make(TK_INVALID_ARGUMENT, "codegen: opt_level %d, expected 0..3",
                          o->opt_level);
  char *cpu, *features;
  TK_RETURN_IF_ERROR(tk_cg_cpu_resolve(o, &cpu, &features));
  t->init_llvm();
  LLVMTargetRef target;
  char *err = NULL;
  tk_status s = TK_STATUS_OK;
  if (LLVMGetTargetFromTriple(t->triple, &target, &err)) {
    s = tk_status_make(TK_INTERNAL, "codegen: no LLVM target for %s: %s", t->triple,
                       err ? err : "");
  } else {
    *out = LLVMCreateTargetMachine(target, t->triple, cpu, features, codegen_level(o->opt_level),
                                   LLVMRelocPIC, LLVMCodeModelDefault);
    if (!*out)
      s = tk_status_make(TK_INTERNAL,
                         "codegen: cannot create a target machine for %s "
                         "cpu %s",
                         t->triple, cpu);
  }
  LLVMDisposeMessage(err);
  free(cpu);
  free(features);
  return s;
}

/* A copy of the bytes, NUL-terminated (for the text outputs). */
static tk_status blob_from(const char *data, size_t size, tk_cg_blob *out) {
  out->data = tk_malloc(size + 1);
  if (!out->data) return tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: out of memory");
  memcpy(out->data, data, size);
  out->data[size] = 0;
  out->size = size;
  return TK_STATUS_OK;
}

static tk_status optimise(tk_cg_ctx *c, LLVMModuleRef mod, LLVMTargetMachineRef tm, int level) {
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    tk_status s = tk_status_make(TK_INTERNAL, "codegen: invalid LLVM IR: %.2000s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return s;
  }
  LLVMDisposeMessage(msg);
  TK_RETURN_IF_ERROR(tk_cg_ctx_take_error(c, "IR construction"));
  char passes[16];
  snprintf(passes, sizeof passes, "default<O%d>", level);
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMErrorRef err = LLVMRunPasses(mod, passes, tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (err) {
    char *text = LLVMGetErrorMessage(err);
    tk_status s = tk_status_make(TK_INTERNAL, "codegen: %s failed: %s", passes, text);
    LLVMDisposeErrorMessage(text);
    return s;
  }
  return tk_cg_ctx_take_error(c, "optimisation");
}

tk_status tk_cg_module_emit(tk_cg_ctx *c, LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level,
                            tk_cg_emit what, tk_cg_blob *out) {
  out->data = NULL;
  out->size = 0;
  if (what != TK_CG_EMIT_LLVM_UNOPT) TK_RETURN_IF_ERROR(optimise(c, mod, tm, opt_level));
  if (what == TK_CG_EMIT_LLVM || what == TK_CG_EMIT_LLVM_UNOPT) {
    char *text = LLVMPrintModuleToString(mod);
    tk_status s = blob_from(text, strlen(text), out);
    LLVMDisposeMessage(text);
    return s;
  }
  char *err = NULL;
  LLVMMemoryBufferRef buf = NULL;
  LLVMCodeGenFileType ft = what == TK_CG_EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, ft, &err, &buf)) {
    tk_status s =
        tk_status_make(TK_INTERNAL, "codegen: code generation failed: %s", err ? err : "");
    LLVMDisposeMessage(err);
    return tk_status_join(tk_cg_ctx_take_error(c, "code generation"), s);
  }
  tk_status s = tk_cg_ctx_take_error(c, "code generation");
  if (!s) s = blob_from(LLVMGetBufferStart(buf), LLVMGetBufferSize(buf), out);
  LLVMDisposeMemoryBuffer(buf);
  return s;
}
