/* codegen/cg_target_amdgcn.c — the `amdgcn` target's hooks: amdgcn-amd-amdhsa code objects
 * for one gfx processor (docs/toolchain.md §1; ABI: cg_target_gpu.c, docs/abi.md).
 *
 * Each kernel is an amdgpu_kernel with, set explicitly rather than left to the optimisation
 * level (AMDGPUAttributor only runs inside `default<O1..3>`; without it the kernarg segment
 * grows by the hidden arguments: 56 bytes under COV4, 256 under COV5):
 *   "amdgpu-flat-work-group-size" = "WG,WG"   the launch's constant workgroup size, which the
 *                                              metadata reports as .max_flat_workgroup_size;
 *   "uniform-work-group-size"     = "true"    the grid is whole workgroups;
 *   "amdgpu-no-*"                              every implicit input but the x ids — above all
 *                                              amdgpu-no-implicitarg-ptr, so the kernarg
 *                                              segment is exactly the explicit arguments.
 * Ids: llvm.amdgcn.workgroup.id.x and llvm.amdgcn.workitem.id.x. Buffers are addrspace(1);
 * register-tile locals are allocas in addrspace(5) (the data layout's alloca space), shared
 * locals addrspace(3) globals (LDS); the barrier is below (amdgcn_barrier).
 * Math: exp2 is cg_math.c's inline polynomial, as on every target — `llvm.exp2.f32` would
 * be legal here (v_exp_f32) but approximate and different from what x86_64-simt checks in CI,
 * and `llvm.tanh` has no lowering on AMDGPU (docs/toolchain.md §2).
 * The module flag amdhsa_code_object_version = 100 * tk_cg_amdgcn_code_object_version.
 */
#include <stdio.h>
#include <string.h>

#include <llvm-c/IRReader.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Target.h>

#include "codegen/cg_internal.h"
#include "tk/launch.h"

enum { AMDGPU_GLOBAL_AS = 1, AMDGPU_LOCAL_AS = 3, AMDGPU_CONSTANT_AS = 4 };

static void amdgcn_init_llvm(void) {
  LLVMInitializeAMDGPUTargetInfo();
  LLVMInitializeAMDGPUTarget();
  LLVMInitializeAMDGPUTargetMC();
  LLVMInitializeAMDGPUAsmPrinter();
}

static const char *const known_gfx[] = {
    "gfx803",  "gfx900",  "gfx902",  "gfx904",  "gfx906",  "gfx908",  "gfx909",
    "gfx90a",  "gfx90c",  "gfx940",  "gfx941",  "gfx942",  "gfx1010", "gfx1011",
    "gfx1012", "gfx1030", "gfx1031", "gfx1032", "gfx1034", "gfx1035", "gfx1036",
    "gfx1100", "gfx1101", "gfx1102", "gfx1103", "gfx1150", "gfx1151", NULL};

static tk_status amdgcn_check_cpu(const char *cpu) {
  return tk_cg_check_name("--offload-arch", cpu, known_gfx,
                          "a gfx processor such as gfx90a, gfx942 or gfx1100 (gfx803, gfx900-"
                          "gfx90c, gfx940-gfx942, gfx1010-gfx1036, gfx1100-gfx1103, gfx1150-"
                          "gfx1151)");
}

int tk_cg_amdgcn_code_object_version(const char *gfx, int requested) {
  if (requested) return requested;
  static const char *const rocm6[] = {"gfx94", "gfx95", "gfx11", "gfx12"};
  for (size_t i = 0; i < sizeof rocm6 / sizeof rocm6[0]; i++)
    if (gfx && strncmp(gfx, rocm6[i], strlen(rocm6[i])) == 0) return 5;
  return 4;
}

static void add_string_attr(tk_cg_module *cm, LLVMValueRef fn, const char *key, const char *value) {
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(cm->c->ctx, key, (unsigned)strlen(key), value,
                                                    (unsigned)strlen(value)));
}

static tk_status amdgcn_begin_kernel(tk_cg_fn *fn, const bool *noalias) {
  static const char *const no_inputs[] = {
      "amdgpu-no-implicitarg-ptr",   "amdgpu-no-dispatch-ptr",       "amdgpu-no-queue-ptr",
      "amdgpu-no-dispatch-id",       "amdgpu-no-workitem-id-y",      "amdgpu-no-workitem-id-z",
      "amdgpu-no-workgroup-id-y",    "amdgpu-no-workgroup-id-z",     "amdgpu-no-hostcall-ptr",
      "amdgpu-no-heap-ptr",          "amdgpu-no-multigrid-sync-arg", "amdgpu-no-default-queue",
      "amdgpu-no-completion-action", "amdgpu-no-lds-kernel-id"};
  int64_t wg = fn->k->launch.workgroup_size;
  if (wg < 1 || wg > 1024)
    return tk_status_make(TK_INTERNAL,
                          "codegen: kernel %s: workgroup_size %lld, expected 1..1024 "
                          "on amdgcn",
                          fn->k->name, (long long)wg);
  TK_RETURN_IF_ERROR(tk_cg_gpu_begin_kernel(fn, noalias, LLVMAMDGPUKERNELCallConv));
  if (tk_cg_mutant_on(fn->cm, "workgroup-size-doubled")) wg *= 2;
  char size[48];
  snprintf(size, sizeof size, "%lld,%lld", (long long)wg, (long long)wg);
  add_string_attr(fn->cm, fn->fn, "amdgpu-flat-work-group-size", size);
  add_string_attr(fn->cm, fn->fn, "uniform-work-group-size", "true");
  for (size_t i = 0; i < sizeof no_inputs / sizeof no_inputs[0]; i++)
    add_string_attr(fn->cm, fn->fn, no_inputs[i], "");
  return TK_STATUS_OK;
}

/* The workgroup barrier as HIP's __syncthreads: a workgroup-scope release fence, s_barrier, a
 * workgroup-scope acquire fence. LLVM-C 19 builds only system-scope fences (LLVMBuildFence),
 * which on gfx9 write back and invalidate the L2 at every barrier, so the barrier is a helper
 * parsed from IR text once per module (external while linked in, internal after) and called;
 * `alwaysinline` puts it back in line in `default<O3>`. */
static const char BARRIER_FN[] = "tk.workgroup_barrier";
static const char BARRIER_IR[] = "define void @tk.workgroup_barrier() #0 {\n"
                                 "  fence syncscope(\"workgroup\") release\n"
                                 "  call void @llvm.amdgcn.s.barrier()\n"
                                 "  fence syncscope(\"workgroup\") acquire\n"
                                 "  ret void\n"
                                 "}\n"
                                 "declare void @llvm.amdgcn.s.barrier() #1\n"
                                 "attributes #0 = { alwaysinline convergent nounwind }\n"
                                 "attributes #1 = { convergent nounwind willreturn }\n";

static tk_status barrier_helper(tk_cg_module *cm, LLVMValueRef *out) {
  if ((*out = LLVMGetNamedFunction(cm->mod, BARRIER_FN))) return TK_STATUS_OK;
  LLVMMemoryBufferRef buf =
      LLVMCreateMemoryBufferWithMemoryRangeCopy(BARRIER_IR, sizeof BARRIER_IR - 1, BARRIER_FN);
  LLVMModuleRef helper = NULL;
  char *msg = NULL;
  if (!buf || LLVMParseIRInContext(cm->c->ctx, buf, &helper, &msg)) { /* takes buf */
    tk_status s =
        tk_status_make(TK_INTERNAL, "codegen: amdgcn barrier helper: %s", msg ? msg : "no memory");
    LLVMDisposeMessage(msg);
    return s;
  }
  LLVMSetTarget(helper, LLVMGetTarget(cm->mod));
  LLVMSetDataLayout(helper, LLVMGetDataLayoutStr(cm->mod));
  if (LLVMLinkModules2(cm->mod, helper)) /* takes helper */
    return tk_status_make(TK_INTERNAL, "codegen: amdgcn barrier helper: linking failed");
  *out = LLVMGetNamedFunction(cm->mod, BARRIER_FN);
  if (!*out) return tk_status_make(TK_INTERNAL, "codegen: amdgcn barrier helper missing");
  LLVMSetLinkage(*out, LLVMInternalLinkage);
  return TK_STATUS_OK;
}

static tk_status amdgcn_barrier(tk_cg_fn *fn) {
  LLVMValueRef helper;
  TK_RETURN_IF_ERROR(barrier_helper(fn->cm, &helper));
  LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(fn->cm->c->ctx), NULL, 0, 0);
  LLVMBuildCall2(fn->cm->b, fty, helper, NULL, 0, "");
  return TK_STATUS_OK;
}

static tk_status amdgcn_bind(tk_cg_fn *fn, tk_ir_binding binding, LLVMValueRef extent,
                             tk_cg_bound *out) {
  (void)extent;
  return tk_cg_gpu_bind(fn, binding, "llvm.amdgcn.workgroup.id.x", "llvm.amdgcn.workitem.id.x",
                        out);
}

/* With o->fingerprint, the code object holds the bytes `tk_model_fingerprint=<fp>`: an exported
 * constant in the constant address space, so in the .rodata of every code object of
 * model.hsaco, where the HIP launcher finds it in the hashed bytes before loading them
 * (tk_hip_check_fingerprint; docs/abi.md). */
static void add_fingerprint(tk_cg_module *cm) {
  char text[64];
  int n = snprintf(text, sizeof text, TK_MODEL_FINGERPRINT_SYMBOL "=%.16s", cm->opts->fingerprint);
  LLVMValueRef init = LLVMConstStringInContext(cm->c->ctx, text, (unsigned)n, 0);
  LLVMValueRef g = LLVMAddGlobalInAddressSpace(cm->mod, LLVMTypeOf(init),
                                               TK_MODEL_FINGERPRINT_SYMBOL, AMDGPU_CONSTANT_AS);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, 1);
}

static void amdgcn_finish_module(tk_cg_module *cm) {
  if (cm->opts->fingerprint) add_fingerprint(cm);
  int cov = tk_cg_amdgcn_code_object_version(cm->cpu, cm->opts->code_object_version);
  LLVMValueRef v = LLVMConstInt(cm->i32, (unsigned long long)(100 * cov), 0);
  static const char key[] = "amdhsa_code_object_version";
  LLVMAddModuleFlag(cm->mod, LLVMModuleFlagBehaviorError, key, sizeof key - 1,
                    LLVMValueAsMetadata(v));
}

const tk_cg_target tk_cg_target_amdgcn = {
    .name = "amdgcn",
    .triple = "amdgcn-amd-amdhsa",
    .default_cpu = "gfx90a",
    .schedule = TK_TARGET_GPU,
    .global_as = AMDGPU_GLOBAL_AS,
    .init_llvm = amdgcn_init_llvm,
    .check_cpu = amdgcn_check_cpu,
    .begin_kernel = amdgcn_begin_kernel,
    .bind = amdgcn_bind,
    .exp2 = tk_cg_math_exp2,
    .finish_module = amdgcn_finish_module,
    .shared_as = AMDGPU_LOCAL_AS,
    .barrier = amdgcn_barrier,
};
