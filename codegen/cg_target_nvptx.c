/* codegen/cg_target_nvptx.c — the `nvptx` target's hooks: PTX for nvptx64-nvidia-cuda, one sm
 * per compile (docs/toolchain.md §2; ABI: cg_target_gpu.c, docs/abi.md).
 *
 * Each kernel has the ptx_kernel calling convention (`.visible .entry NAME`) and the
 * annotation !nvvm.annotations !{ptr @NAME, !"maxntidx", i32 WG}, which PTX prints as
 * `.maxntid WG, 1, 1`: the launch's constant workgroup size is a promise the optimiser uses,
 * so the CUDA launcher must launch exactly WG threads per block. Ids:
 * llvm.nvvm.read.ptx.sreg.ctaid.x and .tid.x. Buffers are addrspace(1) (global) parameters;
 * shared locals addrspace(3) globals (.shared), the barrier llvm.nvvm.barrier0 (bar.sync 0).
 * Math: only instructions PTX has. exp2 is cg_math.c's inline polynomial (llvm.exp2/llvm.exp
 * and llvm.tanh have no lowering on NVPTX, and llvm.nvvm.ex2.approx.f is approximate and not
 * what x86_64-simt runs in CI); no fast-math flags, so additions and multiplications are
 * emitted as .rn and never contracted, divisions as div.rn.f32 and sqrt as sqrt.rn.f32, the
 * same IEEE operations the CPU executes; llvm.fmuladd becomes fma.rn.f32 as on AMDGPU and
 * x86-64-v3.
 */
#include <stdio.h>
#include <string.h>

#include <llvm-c/Target.h>

#include "codegen/cg_internal.h"
#include "tk/launch.h"

enum { NVPTX_GLOBAL_AS = 1, NVPTX_SHARED_AS = 3 };

static void nvptx_init_llvm(void) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
}

static tk_status nvptx_check_cpu(const char *cpu) {
  static const char *const known[] = {"sm_70", "sm_72", "sm_75", "sm_80",  "sm_86",
                                      "sm_87", "sm_89", "sm_90", "sm_90a", NULL};
  return tk_cg_check_name("--cuda-arch", cpu, known,
                          "sm_70, sm_72, sm_75, sm_80, sm_86, sm_87, sm_89, sm_90 or sm_90a");
}

/* !nvvm.annotations += !{ptr @fn, !"key", i32 value} */
static void annotate(tk_cg_module *cm, LLVMValueRef fn, const char *key, int64_t value) {
  LLVMContextRef ctx = cm->c->ctx;
  LLVMMetadataRef ops[3] = {
      LLVMValueAsMetadata(fn), LLVMMDStringInContext2(ctx, key, strlen(key)),
      LLVMValueAsMetadata(LLVMConstInt(cm->i32, (unsigned long long)value, 0))};
  LLVMAddNamedMetadataOperand(cm->mod, "nvvm.annotations",
                              LLVMMetadataAsValue(ctx, LLVMMDNodeInContext2(ctx, ops, 3)));
}

static tk_status nvptx_begin_kernel(tk_cg_fn *fn, const bool *noalias) {
  int64_t wg = fn->k->launch.workgroup_size;
  if (wg < 1 || wg > 1024)
    return tk_status_make(TK_INTERNAL,
                          "codegen: kernel %s: workgroup_size %lld, expected 1..1024 "
                          "on nvptx",
                          fn->k->name, (long long)wg);
  TK_RETURN_IF_ERROR(tk_cg_gpu_begin_kernel(fn, noalias, LLVMPTXKernelCallConv));
  annotate(fn->cm, fn->fn, "maxntidx",
           tk_cg_mutant_on(fn->cm, "workgroup-size-doubled") ? 2 * wg : wg);
  return TK_STATUS_OK;
}

/* bar.sync 0: every thread of the block arrives, and the block's shared and global memory
 * accesses before it are seen by the block's threads after it (PTX ISA, bar.sync). */
static tk_status nvptx_barrier(tk_cg_fn *fn) {
  tk_cg_gpu_void_call(fn->cm, "llvm.nvvm.barrier0");
  return TK_STATUS_OK;
}

static tk_status nvptx_bind(tk_cg_fn *fn, tk_ir_binding binding, LLVMValueRef extent,
                            tk_cg_bound *out) {
  (void)extent;
  return tk_cg_gpu_bind(fn, binding, "llvm.nvvm.read.ptx.sreg.ctaid.x",
                        "llvm.nvvm.read.ptx.sreg.tid.x", out);
}

/* With o->fingerprint, the PTX carries the line `// tk_model_fingerprint <fp>` (module inline
 * asm is printed verbatim at file scope), which the CUDA launcher checks before loading. */
static void nvptx_finish_module(tk_cg_module *cm) {
  if (!cm->opts->fingerprint) return;
  char line[64];
  int n = snprintf(line, sizeof line, "// " TK_MODEL_FINGERPRINT_SYMBOL " %.16s",
                   cm->opts->fingerprint);
  LLVMSetModuleInlineAsm2(cm->mod, line, (size_t)n);
}

const tk_cg_target tk_cg_target_nvptx = {
    .name = "nvptx",
    .triple = "nvptx64-nvidia-cuda",
    .default_cpu = "sm_80",
    .schedule = TK_TARGET_GPU,
    .global_as = NVPTX_GLOBAL_AS,
    .init_llvm = nvptx_init_llvm,
    .check_cpu = nvptx_check_cpu,
    .begin_kernel = nvptx_begin_kernel,
    .bind = nvptx_bind,
    .exp2 = tk_cg_math_exp2,
    .finish_module = nvptx_finish_module,
    .shared_as = NVPTX_SHARED_AS,
    .barrier = nvptx_barrier,
};
