/* codegen/cg_target_gpu.c — the GPU kernel ABI shared by `amdgcn` and `nvptx`
 * (docs/abi.md "GPU targets").
 *
 * Each scheduled kernel K of the `gpu` schedule becomes one kernel entry point, and nothing
 * else is emitted (no wrapper, no exported data):
 *   void K(ptr addrspace(1) [noalias] nocapture [readonly] arg_0, ..., i32 B, i32 Bp)
 * so the explicit kernel arguments fall where tk/launch.h's kernarg layout puts them
 * (tk_kernarg_offset, tk_kernarg_size): 64-bit pointers in TK_KERNARG_SLOT_BYTES slots, then
 * B and Bp as i32 (TK_KERNARG_DIM_BYTES). noalias only where no other argument of K is bound
 * to the same buffer (buffer planning may alias). The body is the kernel's statement tree;
 * its workgroup_x loop becomes the workgroup id and its thread_x loop the thread id, both
 * read from the target's id intrinsics (i32, zero-extended): the launch runs exactly
 * `grid` workgroups of `workgroup_size` threads, so no bounds test is needed or emitted (the
 * translation validator's `control` class proves the ids' ranges admit exactly the IR's points).
 *
 * Two test-only defects (codegen mutants "abi.b_i64" and "abi.extra_param", hoststub.h's list)
 * break the layout on purpose for the verifier's kernel-ABI obligations: "abi.b_i64" declares B
 * as i64 (read through a truncation, so the module stays valid), "abi.extra_param" appends an
 * i32.
 */
#include <stdio.h>
#include <string.h>

#include "codegen/cg_internal.h"
#include "tk/launch.h"

/* The argument types below are what give the layout of tk/launch.h. */
_Static_assert(TK_KERNARG_SLOT_BYTES == 8, "kernel pointers are 64-bit (addrspace 1)");
_Static_assert(TK_KERNARG_DIM_BYTES == 4, "B and Bp are declared i32");

static void add_enum_attr(tk_cg_module *cm, LLVMValueRef fn, LLVMAttributeIndex at,
                          const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, at, LLVMCreateEnumAttribute(cm->c->ctx, kind, 0));
}

tk_status tk_cg_gpu_begin_kernel(tk_cg_fn *fn, const bool *noalias, unsigned cc) {
  tk_cg_module *cm = fn->cm;
  const tk_ir_kernel *k = fn->k;
  if (LLVMGetNamedFunction(cm->mod, k->name))
    return tk_status_make(TK_INTERNAL, "codegen: two kernels named %s", k->name);
  unsigned n = (unsigned)k->nargs;
  const char *mutant = cm->opts->mutant ? cm->opts->mutant : "";
  bool b_i64 = !strcmp(mutant, "abi.b_i64"), extra = !strcmp(mutant, "abi.extra_param");
  LLVMTypeRef params[n + 3];
  for (unsigned i = 0; i < n; i++) params[i] = cm->ptr;
  params[n] = b_i64 ? cm->i64 : cm->i32;
  params[n + 1] = params[n + 2] = cm->i32;
  LLVMValueRef f = LLVMAddFunction(
      cm->mod, k->name,
      LLVMFunctionType(LLVMVoidTypeInContext(cm->c->ctx), params, n + 2 + extra, 0));
  LLVMSetFunctionCallConv(f, cc);
  add_enum_attr(cm, f, LLVMAttributeFunctionIndex, "nounwind");
  for (unsigned i = 0; i < n; i++) {
    LLVMValueRef p = LLVMGetParam(f, i);
    LLVMSetValueName2(p, k->args[i].name, strlen(k->args[i].name));
    if (noalias[i]) add_enum_attr(cm, f, i + 1, "noalias");
    add_enum_attr(cm, f, i + 1, "nocapture");
    if (k->args[i].access == TK_ACC_READ) add_enum_attr(cm, f, i + 1, "readonly");
    fn->bufs[i] = p;
  }
  fn->fn = f;
  fn->B = LLVMGetParam(f, n);
  fn->Bp = LLVMGetParam(f, n + 1);
  fn->begin = fn->end = NULL;
  LLVMSetValueName2(fn->B, "B", 1);
  LLVMSetValueName2(fn->Bp, "Bp", 2);
  LLVMPositionBuilderAtEnd(cm->b, LLVMAppendBasicBlockInContext(cm->c->ctx, f, "entry"));
  if (b_i64) fn->B = LLVMBuildTrunc(cm->b, fn->B, cm->i32, "B.lo");
  return TK_STATUS_OK;
}

LLVMValueRef tk_cg_gpu_shared_local(tk_cg_fn *fn, int local, LLVMTypeRef array) {
  tk_cg_module *cm = fn->cm;
  char name[256];
  snprintf(name, sizeof name, "%s.%s", fn->k->name, fn->k->locals[local].name);
  LLVMValueRef g = LLVMAddGlobalInAddressSpace(cm->mod, array, name, cm->target->shared_as);
  LLVMSetInitializer(g, LLVMGetUndef(array));
  LLVMSetLinkage(g, LLVMInternalLinkage);
  LLVMSetAlignment(g, 16);
  return g;
}

void tk_cg_gpu_void_call(tk_cg_module *cm, const char *intrinsic) {
  unsigned id = LLVMLookupIntrinsicID(intrinsic, strlen(intrinsic));
  LLVMValueRef decl = LLVMGetIntrinsicDeclaration(cm->mod, id, NULL, 0);
  LLVMTypeRef fty = LLVMIntrinsicGetType(cm->c->ctx, id, NULL, 0);
  LLVMBuildCall2(cm->b, fty, decl, NULL, 0, "");
}

/* A call of a non-overloaded intrinsic with no arguments returning i32. */
static LLVMValueRef id_call(tk_cg_module *cm, const char *intrinsic, const char *label) {
  unsigned id = LLVMLookupIntrinsicID(intrinsic, strlen(intrinsic));
  LLVMValueRef decl = LLVMGetIntrinsicDeclaration(cm->mod, id, NULL, 0);
  LLVMTypeRef fty = LLVMIntrinsicGetType(cm->c->ctx, id, NULL, 0);
  return LLVMBuildCall2(cm->b, fty, decl, NULL, 0, label);
}

tk_status tk_cg_gpu_bind(tk_cg_fn *fn, tk_ir_binding binding, const char *workgroup_id,
                         const char *thread_id, tk_cg_bound *out) {
  tk_cg_module *cm = fn->cm;
  if (tk_cg_mutant_on(cm, "swap-ids")) {
    const char *swap = workgroup_id;
    workgroup_id = thread_id;
    thread_id = swap;
  }
  if (tk_cg_mutant_on(cm, "thread-id-as-workgroup")) thread_id = workgroup_id;
  const char *intrinsic = binding == TK_BIND_WORKGROUP_X ? workgroup_id
                          : binding == TK_BIND_THREAD_X  ? thread_id
                                                         : NULL;
  if (!intrinsic)
    return tk_status_make(TK_INTERNAL,
                          "codegen: %s lowers the gpu schedule; kernel %s has a %s "
                          "loop",
                          cm->target->name, fn->k->name, tk_ir_binding_name(binding));
  if (!LLVMLookupIntrinsicID(intrinsic, strlen(intrinsic)))
    return tk_status_make(TK_INTERNAL, "codegen: LLVM does not know the intrinsic %s", intrinsic);
  const char *label = binding == TK_BIND_WORKGROUP_X ? "workgroup_x" : "thread_x";
  out->id = LLVMBuildZExt(cm->b, id_call(cm, intrinsic, label), cm->i64, "");
  return TK_STATUS_OK;
}

tk_status tk_cg_check_name(const char *what, const char *name, const char *const *known,
                           const char *expected) {
  for (int i = 0; known[i]; i++)
    if (strcmp(name, known[i]) == 0) return TK_STATUS_OK;
  return tk_status_make(TK_INVALID_ARGUMENT, "%s: \"%s\" is not a known target; expected %s", what,
                        name, expected);
}
