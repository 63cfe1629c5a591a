/* codegen/cg_ix.c — tk_ix index expressions → LLVM integer IR, exactly the tree the verifier
 * proved (ir.h "Index maps"), in the kernel's index_bits width.
 *
 * The verifier proves every index of the kernel fits in index_bits for all B <= bmax, so
 * ADD/SUB/MUL carry `nsw`. Floor DIV and MOD by a positive constant become udiv/urem (shifts
 * and masks for powers of two) when the dividend is provably >= 0 under the variables' loop
 * ranges (tk_ir_ix_bounds), and the exact floor forms (sdiv/srem with a sign fix-up) otherwise.
 * Constants fold in the builder, so fully unrolled tile loops give constant indices.
 */
#include "codegen/cg_internal.h"

tk_ix_range tk_cg_ix_bounds(const tk_cg_fn *fn, const tk_ix *e) {
  return tk_ir_ix_bounds(e, fn->cm->ir->opts.bmax, fn->ranges);
}

static LLVMValueRef ix_const(const tk_cg_fn *fn, int64_t c) {
  return LLVMConstInt(fn->ity, (unsigned long long)c, 1);
}

static bool fits(const tk_cg_fn *fn, int64_t c) {
  return fn->k->index_bits == 64 || (c >= INT32_MIN && c <= INT32_MAX);
}

static LLVMValueRef ix_minmax(tk_cg_fn *fn, bool is_min, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef bld = fn->cm->b;
  LLVMValueRef lt = LLVMBuildICmp(bld, LLVMIntSLT, a, b, "");
  return is_min ? LLVMBuildSelect(bld, lt, a, b, "") : LLVMBuildSelect(bld, lt, b, a, "");
}

/* floor(a / c) and a mod c for c > 0 (ir.h: MOD in [0, c)). */
static LLVMValueRef ix_divmod(tk_cg_fn *fn, const tk_ix *e, LLVMValueRef a) {
  LLVMBuilderRef bld = fn->cm->b;
  LLVMValueRef c = ix_const(fn, e->c);
  bool is_div = e->kind == TK_IX_DIV;
  if (tk_cg_ix_bounds(fn, e->a).lo >= 0)
    return is_div ? LLVMBuildUDiv(bld, a, c, "") : LLVMBuildURem(bld, a, c, "");
  LLVMValueRef zero = ix_const(fn, 0);
  LLVMValueRef r = LLVMBuildSRem(bld, a, c, "");
  LLVMValueRef neg = LLVMBuildICmp(bld, LLVMIntSLT, r, zero, "");
  if (!is_div) return LLVMBuildAdd(bld, r, LLVMBuildSelect(bld, neg, c, zero, ""), "");
  LLVMValueRef q = LLVMBuildSDiv(bld, a, c, "");
  return LLVMBuildSub(bld, q, LLVMBuildZExt(bld, neg, fn->ity, ""), "");
}

static tk_status ix_leaf(tk_cg_fn *fn, const tk_ix *e, LLVMValueRef *out) {
  switch (e->kind) {
    case TK_IX_CONST:
      if (!fits(fn, e->c))
        return tk_status_make(TK_INTERNAL,
                              "codegen: kernel %s: index constant %lld does not fit "
                              "index_bits %d",
                              fn->k->name, (long long)e->c, fn->k->index_bits);
      *out = ix_const(fn, e->c);
      return TK_STATUS_OK;
    case TK_IX_SYM:
      *out = (e->sym == TK_SYM_B) != tk_cg_mutant_on(fn->cm, "bp-for-b") ? fn->B : fn->Bp;
      if (e->sym == TK_SYM_BP && tk_cg_mutant_on(fn->cm, "b-for-bp")) *out = fn->B;
      if (fn->k->index_bits == 64) *out = LLVMBuildSExt(fn->cm->b, *out, fn->ity, "");
      return TK_STATUS_OK;
    case TK_IX_LOAD: return fn->ix_load(fn, e, out);
    case TK_IX_VAR:
      *out = fn->vars[e->var->id];
      if (!*out)
        return tk_status_make(TK_INTERNAL,
                              "codegen: kernel %s: index uses variable %s outside "
                              "its loop",
                              fn->k->name, e->var->name);
      return TK_STATUS_OK;
    default:
      return tk_status_make(TK_INTERNAL, "codegen: kernel %s: bad index node kind %d", fn->k->name,
                            (int)e->kind);
  }
}

tk_status tk_cg_ix(tk_cg_fn *fn, const tk_ix *e, LLVMValueRef *out) {
  if (!e) return tk_status_make(TK_INTERNAL, "codegen: kernel %s: missing index", fn->k->name);
  if (e->kind == TK_IX_CONST || e->kind == TK_IX_SYM || e->kind == TK_IX_VAR ||
      e->kind == TK_IX_LOAD)
    return ix_leaf(fn, e, out);
  LLVMBuilderRef bld = fn->cm->b;
  LLVMValueRef a, b = NULL;
  TK_RETURN_IF_ERROR(tk_cg_ix(fn, e->a, &a));
  bool binary =
      e->kind == TK_IX_ADD || e->kind == TK_IX_SUB || e->kind == TK_IX_MIN || e->kind == TK_IX_MAX;
  if (binary) TK_RETURN_IF_ERROR(tk_cg_ix(fn, e->b, &b));
  if (!binary && (!fits(fn, e->c) || (e->kind != TK_IX_MUL && e->c <= 0)))
    return tk_status_make(TK_INTERNAL, "codegen: kernel %s: bad index constant %lld", fn->k->name,
                          (long long)e->c);
  switch (e->kind) {
    case TK_IX_ADD:
      *out = LLVMBuildNSWAdd(bld, a, b, "");
      if (tk_cg_mutant_on(fn->cm, "offset-plus-1"))
        *out = LLVMBuildNSWAdd(bld, *out, ix_const(fn, 1), "");
      break;
    case TK_IX_SUB: *out = LLVMBuildNSWSub(bld, a, b, ""); break;
    case TK_IX_MUL:
      *out = LLVMBuildNSWMul(
          bld, a, ix_const(fn, e->c + (tk_cg_mutant_on(fn->cm, "stride-plus-1") ? 1 : 0)), "");
      break;
    case TK_IX_MIN: *out = ix_minmax(fn, true, a, b); break;
    case TK_IX_MAX: *out = ix_minmax(fn, false, a, b); break;
    case TK_IX_DIV:
    case TK_IX_MOD: *out = ix_divmod(fn, e, a); break;
    default:
      return tk_status_make(TK_INTERNAL, "codegen: kernel %s: bad index node kind %d", fn->k->name,
                            (int)e->kind);
  }
  return TK_STATUS_OK;
}
