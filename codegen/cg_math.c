/* codegen/cg_math.c — exp2, exp, tanh and erf as inline IR: range reduction plus polynomials,
 * built from fadd/fmul/fdiv/select and bit casts only, so there is no libcall on any target
 * (the x86_64 .so links with --no-undefined and no libm; llvm.exp2/llvm.tanh have no libcall
 * on NVPTX, docs/toolchain.md §2) and the same code computes the same bits on every target with
 * FMA (no fast-math flags, so no target may contract; the polynomials' Horner steps are
 * llvm.fmuladd, as the IR's fma is: one rounding each wherever FMA exists, which every default
 * target has — x86-64-v3/v4, amdgcn, nvptx).
 *
 *   exp2(x): t = clamp(x, -127, 128); n = round-to-nearest(t) by the 1.5·2^23 trick;
 *            f = t - n in [-1/2, 1/2] (exact); 2^f by the degree-7 Taylor polynomial of
 *            e^(f ln 2) (truncation < 6e-9); 2^n from the exponent bits ((n + 127) << 23,
 *            so n = -127 gives 0 and n = 128 gives +inf); exp2(NaN) = NaN (the clamp alone
 *            would give 0; docs/formats.md §3.6 needs a NaN logit to make its softmax row NaN).
 *   exp(x)  = exp2(x · log2 e)                       relative error ~ 1e-7 · (1 + |x|)
 *   tanh(x) = sign(x) · (1 - 2 / (exp2(2|x| log2 e) + 1)), |x| clamped to 9 (tanh(9) = 1 - 3e-8)
 *   erf(x)  = sign(x) · (1 - poly(t) · exp(-x²)), t = 1 / (1 + p|x|)
 *             (Abramowitz & Stegun 7.1.26, absolute error <= 1.5e-7)
 * Every function accepts f32 scalars and f32 vectors (constants are splatted).
 */
#include <string.h>

#include "codegen/cg_internal.h"

LLVMValueRef tk_cg_intrinsic(tk_cg_module *cm, const char *name, LLVMTypeRef ty, LLVMValueRef *args,
                             unsigned nargs, const char *label) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef decl = LLVMGetIntrinsicDeclaration(cm->mod, id, &ty, 1);
  LLVMTypeRef fty = LLVMIntrinsicGetType(LLVMGetModuleContext(cm->mod), id, &ty, 1);
  return LLVMBuildCall2(cm->b, fty, decl, args, nargs, label);
}

/* A constant of x's type (scalar f32/i32 or a splat vector). */
static LLVMValueRef splat(LLVMTypeRef ty, LLVMValueRef scalar) {
  if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind) return scalar;
  unsigned n = LLVMGetVectorSize(ty);
  LLVMValueRef elems[64];
  for (unsigned i = 0; i < n && i < 64; i++) elems[i] = scalar;
  return LLVMConstVector(elems, n);
}

static LLVMTypeRef lanes_of(LLVMTypeRef ty, LLVMTypeRef elem) {
  return LLVMGetTypeKind(ty) == LLVMVectorTypeKind ? LLVMVectorType(elem, LLVMGetVectorSize(ty))
                                                   : elem;
}

static LLVMValueRef fc(tk_cg_module *cm, LLVMValueRef like, double v) {
  return splat(LLVMTypeOf(like), LLVMConstReal(cm->f32, v));
}

static LLVMValueRef fadd(tk_cg_module *cm, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFAdd(cm->b, a, b, "");
}
static LLVMValueRef fmul(tk_cg_module *cm, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFMul(cm->b, a, b, "");
}

/* A compare of the inline math, tagged tk.math (not an IR value compare). */
static LLVMValueRef math_fcmp(tk_cg_module *cm, LLVMRealPredicate p, LLVMValueRef a,
                              LLVMValueRef b) {
  LLVMValueRef c = LLVMBuildFCmp(cm->b, p, a, b, "");
  tk_cg_tag(cm, c, TK_IR_MD_MATH, NULL, 0);
  return c;
}

static LLVMValueRef fmin_c(tk_cg_module *cm, LLVMValueRef x, double c) {
  LLVMValueRef k = fc(cm, x, c);
  return LLVMBuildSelect(cm->b, math_fcmp(cm, LLVMRealOLT, x, k), x, k, "");
}
static LLVMValueRef fmax_c(tk_cg_module *cm, LLVMValueRef x, double c) {
  LLVMValueRef k = fc(cm, x, c);
  return LLVMBuildSelect(cm->b, math_fcmp(cm, LLVMRealOGT, x, k), x, k, "");
}

/* Horner: c[n-1]·x^(n-1) + ... + c[0], a multiply-add per step (half the operations of
 * fmul + fadd; the exp2 inside nano's GELU launches is most of their arithmetic). */
static LLVMValueRef horner(tk_cg_module *cm, LLVMValueRef x, const double *c, int n) {
  LLVMValueRef p = fc(cm, x, c[n - 1]);
  for (int i = n - 2; i >= 0; i--) {
    LLVMValueRef ops[3] = {p, x, fc(cm, x, c[i])};
    p = tk_cg_intrinsic(cm, "llvm.fmuladd", LLVMTypeOf(x), ops, 3, "");
  }
  return p;
}

/* -v where x < 0, else v (odd extension of a function computed on |x|). */
static LLVMValueRef odd(tk_cg_module *cm, LLVMValueRef x, LLVMValueRef v) {
  LLVMValueRef neg = math_fcmp(cm, LLVMRealOLT, x, fc(cm, x, 0.0));
  return LLVMBuildSelect(cm->b, neg, LLVMBuildFNeg(cm->b, v, ""), v, "");
}

static LLVMValueRef fabs_of(tk_cg_module *cm, LLVMValueRef x) {
  return tk_cg_intrinsic(cm, "llvm.fabs", LLVMTypeOf(x), &x, 1, "");
}

LLVMValueRef tk_cg_math_exp2(tk_cg_module *cm, LLVMValueRef x) {
  /* ln(2)^k / k!, k = 0..7 */
  static const double c[8] = {1.0,
                              0.6931471805599453,
                              0.2402265069591007,
                              0.05550410866482158,
                              0.009618129107628477,
                              0.0013333558146428443,
                              1.5403530393381606e-4,
                              1.525273380405984e-5};
  LLVMTypeRef ty = LLVMTypeOf(x);
  LLVMValueRef t = fmin_c(cm, fmax_c(cm, x, -127.0), 128.0);
  LLVMValueRef magic = fc(cm, x, 12582912.0); /* 1.5 · 2^23 */
  LLVMValueRef n = LLVMBuildFSub(cm->b, fadd(cm, t, magic), magic, "exp2_n");
  LLVMValueRef f = LLVMBuildFSub(cm->b, t, n, "exp2_f");
  LLVMValueRef p = horner(cm, f, c, 8);
  LLVMTypeRef ity = lanes_of(ty, cm->i32);
  LLVMValueRef ni = LLVMBuildFPToSI(cm->b, n, ity, "");
  LLVMValueRef biased = LLVMBuildAdd(cm->b, ni, splat(ity, LLVMConstInt(cm->i32, 127, 0)), "");
  LLVMValueRef bits = LLVMBuildShl(cm->b, biased, splat(ity, LLVMConstInt(cm->i32, 23, 0)), "");
  LLVMValueRef r = fmul(cm, p, LLVMBuildBitCast(cm->b, bits, ty, "exp2_scale"));
  /* the clamp maps NaN to -127: give NaN back (IEEE), so a NaN logit poisons its softmax row */
  return LLVMBuildSelect(cm->b, math_fcmp(cm, LLVMRealUNO, x, x), x, r, "");
}

LLVMValueRef tk_cg_math_exp(tk_cg_module *cm, LLVMValueRef x) {
  return cm->target->exp2(cm, fmul(cm, x, fc(cm, x, 1.4426950408889634)));
}

LLVMValueRef tk_cg_math_tanh(tk_cg_module *cm, LLVMValueRef x) {
  LLVMValueRef a = fmin_c(cm, fabs_of(cm, x), 9.0);
  LLVMValueRef e = cm->target->exp2(cm, fmul(cm, a, fc(cm, x, 2.8853900817779268)));
  LLVMValueRef q = LLVMBuildFDiv(cm->b, fc(cm, x, 2.0), fadd(cm, e, fc(cm, x, 1.0)), "");
  return odd(cm, x, LLVMBuildFSub(cm->b, fc(cm, x, 1.0), q, "tanh"));
}

LLVMValueRef tk_cg_math_erf(tk_cg_module *cm, LLVMValueRef x) {
  static const double a[6] = {0.0,         0.254829592,  -0.284496736,
                              1.421413741, -1.453152027, 1.061405429};
  LLVMValueRef ax = fabs_of(cm, x);
  LLVMValueRef den = fadd(cm, fc(cm, x, 1.0), fmul(cm, ax, fc(cm, x, 0.3275911)));
  LLVMValueRef t = LLVMBuildFDiv(cm->b, fc(cm, x, 1.0), den, "erf_t");
  LLVMValueRef poly = horner(cm, t, a, 6);
  LLVMValueRef g = tk_cg_math_exp(cm, LLVMBuildFNeg(cm->b, fmul(cm, ax, ax), ""));
  return odd(cm, x, LLVMBuildFSub(cm->b, fc(cm, x, 1.0), fmul(cm, poly, g), "erf"));
}
