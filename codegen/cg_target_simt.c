/* codegen/cg_target_simt.c — the test-only `x86_64-simt` target: the `gpu` schedule's kernel
 * bodies on the host CPU, so the arithmetic that ships to GPUs runs in CI (docs/architecture.md).
 *
 * Same ABI and entry functions as x86_64 (cg_target_x86.c). The workgroup_x loop runs
 * [begin, end) of the grid; the thread_x loop runs [0, workgroup_size) as a plain loop inside
 * each workgroup (the extent the schedule gives, which is the launch's constant workgroup
 * size). The simple GPU schedule has no barriers inside a launch (a phase boundary is a
 * launch boundary), so running the threads of a workgroup one after the other is a valid
 * execution; the tiled schedule's barriers and shared locals are refused (no `barrier` hook:
 * cg_kernel.c), and its GPU modules run threaded in tests/unit/gpu_exec_test.c instead.
 */
#include "codegen/cg_internal.h"

static tk_status simt_bind(tk_cg_fn *fn, tk_ir_binding binding, LLVMValueRef extent,
                           tk_cg_bound *out) {
  tk_cg_module *cm = fn->cm;
  switch (binding) {
    case TK_BIND_WORKGROUP_X:
      out->lo = fn->begin;
      out->hi = tk_cg_cpu_block_end(fn);
      return TK_STATUS_OK;
    case TK_BIND_THREAD_X:
      out->lo = LLVMConstInt(cm->i64, 0, 0);
      out->hi = LLVMTypeOf(extent) == cm->i64 ? extent : LLVMBuildSExt(cm->b, extent, cm->i64, "");
      return TK_STATUS_OK;
    default:
      return tk_status_make(TK_INTERNAL,
                            "codegen: x86_64-simt lowers the gpu schedule; kernel %s "
                            "has a %s loop",
                            fn->k->name, tk_ir_binding_name(binding));
  }
}

const tk_cg_target tk_cg_target_x86_64_simt = {
    .name = "x86_64-simt",
    .triple = "x86_64-unknown-linux-gnu",
    .default_cpu = TK_CG_DEFAULT_X86_CPU,
    .schedule = TK_TARGET_GPU,
    .global_as = 0,
    .init_llvm = tk_cg_x86_init_llvm,
    .check_cpu = tk_cg_x86_check_cpu,
    .begin_kernel = tk_cg_cpu_begin_kernel,
    .bind = simt_bind,
    .exp2 = tk_cg_math_exp2,
    .finish_module = tk_cg_cpu_finish_module,
};
