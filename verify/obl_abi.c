/* verify/obl_abi.c — class `host`, the kernel ABI part: the explicit kernarg layout of every
 * gpu-schedule kernel in a GPU code unit's LLVM module against tk/launch.h (docs/abi.md "GPU
 * kernel arguments"), the layout the runtime packs and the manifest lists.
 *
 * The layout is computed, not assumed: the kernel's function type as the module declares it
 * (its parameter list) laid out as a struct by the module's own DataLayout
 * (LLVMOffsetOfElement: each parameter at the next offset aligned to its ABI alignment, as the
 * AMDGPU kernarg segment and the PTX .param space place them); the segment's size is the end
 * of the last parameter. One obligation per kernel and code unit: every parameter i at
 * tk_kernarg_offset(nargs, i) with the store size the runtime writes (8 for pointers,
 * TK_KERNARG_DIM_BYTES for B and Bp), size = tk_kernarg_size(nargs), parameter count =
 * nargs + 2 (in this order: a counterexample names the first parameter out of place). The facts
 * are ground numbers; they go through the obligation builder so that they are recorded,
 * replayable and reported (kernel, unit, parameter) like every other obligation.
 */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/Target.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"
#include "tk/launch.h"

typedef struct abi_ctx {
  LLVMModuleRef mod;
  const char *unit;
} abi_ctx;

/* A goal part got == want, shown as "label=got, tk/launch.h=want" when false. */
static void part_eq(tk_obl *o, const char *label, int64_t got, int64_t want, const char *what) {
  tk_vctx *v = o->v;
  Z3_ast g = tk_verify_z_int(v, got), w = tk_verify_z_int(v, want);
  tk_verify_obl_show(o, label, g);
  tk_verify_obl_show(o, "tk/launch.h", w);
  tk_verify_obl_part(o, Z3_mk_eq(v->z, g, w), "%s", what);
}

static tk_status kernel_abi(tk_vctx *v, const abi_ctx *a, const tk_ir_kernel *k) {
  LLVMValueRef fn = LLVMGetNamedFunction(a->mod, k->name);
  if (!fn)
    return tk_status_make(TK_PROOF_FAILED,
                          "%s: no kernel entry %s in the LLVM module, in kernel %s (gpu), class "
                          "host: not proved",
                          a->unit, k->name, k->name);
  LLVMTypeRef fty = LLVMGlobalGetValueType(fn);
  unsigned n = LLVMCountParamTypes(fty);
  LLVMTypeRef *params = tk_calloc(n ? n : 1, sizeof *params);
  if (!params) return tk_status_make(TK_RESOURCE_EXHAUSTED, "kernel ABI check: out of memory");
  LLVMGetParamTypes(fty, params);
  LLVMTargetDataRef dl = LLVMGetModuleDataLayout(a->mod);
  LLVMTypeRef layout = LLVMStructTypeInContext(LLVMGetModuleContext(a->mod), params, n, 0);
  int64_t nargs = k->nargs, want = nargs + 2;
  tk_verify_obl_begin(
      v, TK_OBL_HOST, k->name, "gpu",
      "kernel ABI of %s on %s: %u explicit parameters by the module's "
      "DataLayout, at tk_kernarg_offset(%lld, i) = 8*i then B at %lld and Bp at "
      "%lld, %lld bytes in all (tk_kernarg_size)",
      k->name, a->unit, n, (long long)nargs, (long long)tk_kernarg_offset(nargs, nargs),
      (long long)tk_kernarg_offset(nargs, nargs + 1), (long long)tk_kernarg_size(nargs));
  tk_obl *o = tk_verify_obl_cur(v);
  char what[192];
  for (unsigned i = 0; i < n && i < (unsigned)want; i++) {
    const char *param = i < (unsigned)nargs ? k->args[i].name : i == (unsigned)nargs ? "B" : "Bp";
    int64_t size = i < (unsigned)nargs ? TK_KERNARG_SLOT_BYTES : TK_KERNARG_DIM_BYTES;
    snprintf(what, sizeof what, "parameter %u (%s) of %s on %s is at byte tk_kernarg_offset", i,
             param, k->name, a->unit);
    part_eq(o, "LLVM offset", (int64_t)LLVMOffsetOfElement(dl, layout, i),
            tk_kernarg_offset(nargs, i), what);
    snprintf(what, sizeof what, "parameter %u (%s) of %s on %s takes %lld bytes", i, param, k->name,
             a->unit, (long long)size);
    part_eq(o, "LLVM store size", (int64_t)LLVMStoreSizeOfType(dl, params[i]), size, what);
  }
  int64_t end =
      n ? (int64_t)(LLVMOffsetOfElement(dl, layout, n - 1) + LLVMStoreSizeOfType(dl, params[n - 1]))
        : 0;
  snprintf(what, sizeof what, "the explicit kernarg segment of %s on %s is tk_kernarg_size bytes",
           k->name, a->unit);
  part_eq(o, "LLVM kernarg bytes", end, tk_kernarg_size(nargs), what);
  snprintf(what, sizeof what, "%s on %s has nargs + 2 = %lld parameters", k->name, a->unit,
           (long long)want);
  part_eq(o, "LLVM parameters", n, want, what);
  free(params);
  return tk_verify_obl_prove(v);
}

static tk_status abi_gen(tk_vctx *v, const void *user) {
  const tk_ir_kernel_list *list = tk_ir_module_kernels(v->m, TK_TARGET_GPU);
  for (int i = 0; i < list->n; i++)
    TK_RETURN_IF_ERROR(kernel_abi(v, (const abi_ctx *)user, list->items[i]));
  return TK_STATUS_OK;
}

tk_status tk_verify_kernel_abi(const tk_ir_module *m, struct LLVMOpaqueModule *mod,
                               const char *unit, const tk_verify_options *o,
                               tk_verify_report *into) {
  abi_ctx a = {mod, unit};
  return tk_verify_run_into(m, o, into, abi_gen, &a);
}

tk_status tk_verify_kernel_abi_ir(const tk_ir_module *m, const char *llvm_ir, size_t len,
                                  const char *unit, const tk_verify_options *o,
                                  tk_verify_report *into) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(llvm_ir, len, unit);
  LLVMModuleRef mod = NULL;
  char *err = NULL;
  tk_status s = TK_STATUS_OK;
  if (LLVMParseIRInContext(ctx, buf, &mod, &err)) /* takes the buffer */
    s = tk_status_make(TK_INTERNAL, "kernel ABI check: %s: LLVM IR does not parse: %s", unit,
                       err ? err : "?");
  else
    s = tk_verify_kernel_abi(m, mod, unit, o, into);
  LLVMDisposeMessage(err);
  if (mod) LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  return s;
}
