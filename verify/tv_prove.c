/* verify/tv_prove.c — the translation validator's obligations (tv_internal.h) and its entry
 * point tk_verify_tv_module (tv.h).
 *
 * LLVM integer values become Z3 Int terms (i1 values Bool terms), built per obligation from the
 * instructions themselves, each with a definedness condition under which LLVM's two's-complement
 * result equals the Int term: add / sub / mul (by a constant) stay in the signed range of their
 * width; zext, udiv and urem operands are >= 0 (the non-negativity codegen relied on to pick
 * udiv/urem); trunc operands fit the narrower width; sdiv / srem by a positive constant are
 * truncating division; unsigned icmp operands are >= 0. Parameters: the kernel's B and Bp are
 * the obligation's B and Bp; a CPU body's begin and end are symbols with 0 <= begin <= end <=
 * launch.grid (the runtime's chunking contract, trusted); a loop phi and a hardware id are
 * symbols whose ranges are their path conjuncts (workgroup id in [0, launch.grid), thread id in
 * [0, launch.workgroup_size): the launch contract the host stub implements, trusted here).
 *
 * Per loop nest (the load / store instructions that share one LLVM path) two obligations:
 *   address  under the LLVM path: each access's index is defined and equals the IR index map,
 *            with every IR loop variable of its path bound to the LLVM loop / id tagged with it
 *            or, in an unrolled copy, to the copy's constant;
 *   control  the path's bounds and guards are defined; safety: the LLVM path implies the IR
 *            path (0 <= var < extent of every enclosing FOR, bound loops over the launch's
 *            range, every IF guard); completeness: the IR path implies the LLVM path (the CPU
 *            block loop's begin <= var < end assumed: the runtime covers [0, grid) by chunks).
 * Before them, syntactically: every IR access has LLVM instances, exactly one per point of its
 * unrolled loops (tk.unroll tuples distinct, product of the extents in number); each instance
 * goes through a GEP of the right kernel parameter or local alloca with the IR's element type;
 * a GPU kernel is declared for the schedule's workgroup size; a CPU entry passes args[i], B,
 * Bp, begin and end to its body in order.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/tv_internal.h"
#include "tk/alloc.h"

/* ---- the per-obligation value map ---- */

static tv_memo_slot *memo_slot(tv_fn *f, LLVMValueRef key) {
  size_t mask = f->memo_cap - 1;
  for (size_t i = tk_verify_ptr_slot(key, mask);; i = (i + 1) & mask)
    if (!f->memo[i].key || f->memo[i].key == key) return &f->memo[i];
}

static tk_status memo_reserve(tv_fn *f) {
  if (f->memo && 2 * (f->memo_n + 1) <= f->memo_cap) return TK_STATUS_OK;
  size_t old_cap = f->memo_cap;
  tv_memo_slot *old = f->memo;
  f->memo_cap = old_cap ? 2 * old_cap : 1024;
  f->memo = tk_calloc(f->memo_cap, sizeof *f->memo);
  if (!f->memo) {
    f->memo = old;
    f->memo_cap = old_cap;
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "translation validation: out of memory");
  }
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].key) *memo_slot(f, old[i].key) = old[i];
  free(old);
  return TK_STATUS_OK;
}

static void memo_clear(tv_fn *f) {
  if (f->memo) memset(f->memo, 0, f->memo_cap * sizeof *f->memo);
  f->memo_n = 0;
}

static tk_status memo_put(tv_fn *f, LLVMValueRef key, Z3_ast term, Z3_ast def) {
  TK_RETURN_IF_ERROR(memo_reserve(f));
  tv_memo_slot *s = memo_slot(f, key);
  if (!s->key) f->memo_n++;
  *s = (tv_memo_slot){key, term, def};
  return TK_STATUS_OK;
}

/* ---- terms ---- */

static tk_obl *obl(tv_fn *f) { return tk_verify_obl_cur(f->v); }

static Z3_ast z_true(tv_fn *f) { return Z3_mk_true(f->v->z); }

static Z3_ast fits(tv_fn *f, Z3_ast t, unsigned width) {
  tk_vctx *v = f->v;
  int64_t hi = width >= 64 ? INT64_MAX : (int64_t)((1ull << (width - 1)) - 1);
  int64_t lo = width >= 64 ? INT64_MIN : -hi - 1;
  return tk_verify_z_within(v, lo, t, hi);
}

static Z3_ast nonneg(tv_fn *f, Z3_ast t) { return Z3_mk_le(f->v->z, tk_verify_z_int(f->v, 0), t); }

static unsigned width_of(LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  return LLVMGetTypeKind(t) == LLVMIntegerTypeKind ? LLVMGetIntTypeWidth(t) : 0;
}

static tk_status term(tv_fn *f, LLVMValueRef x, Z3_ast *t, Z3_ast *def);

/* begin and end of a CPU body, with the chunking contract 0 <= begin <= end <= grid. */
static tk_status chunk_params(tv_fn *f) {
  unsigned n = (unsigned)f->k->nargs;
  LLVMValueRef pb = LLVMGetParam(f->fn, n + 2), pe = LLVMGetParam(f->fn, n + 3);
  if (memo_slot(f, pb)->key) return TK_STATUS_OK;
  tk_obl *o = obl(f);
  tk_vctx *v = f->v;
  Z3_ast b = tk_verify_obl_fresh(o, "begin", v->int_sort, true);
  Z3_ast e = tk_verify_obl_fresh(o, "end", v->int_sort, true);
  Z3_ast grid = tk_verify_obl_ix(o, f->k->launch.grid, 0);
  tk_verify_obl_hyp(o, nonneg(f, b));
  tk_verify_obl_hyp(o, Z3_mk_le(v->z, b, e));
  tk_verify_obl_hyp(o, grid ? Z3_mk_le(v->z, e, grid) : NULL);
  TK_RETURN_IF_ERROR(memo_put(f, pb, b, z_true(f)));
  return memo_put(f, pe, e, z_true(f));
}

static tk_status param_term(tv_fn *f, LLVMValueRef x, Z3_ast *t) {
  unsigned n = (unsigned)f->k->nargs, np = LLVMCountParams(f->fn);
  for (unsigned i = n; i < np; i++) {
    if (LLVMGetParam(f->fn, i) != x) continue;
    if (i == n || i == n + 1) {
      *t = i == n ? obl(f)->B : obl(f)->Bp;
      return TK_STATUS_OK;
    }
    TK_RETURN_IF_ERROR(chunk_params(f));
    *t = memo_slot(f, x)->term;
    return TK_STATUS_OK;
  }
  return tk_tv_refuse(f, TK_OBL_ADDRESS, NULL,
                      "an integer parameter that is none of B, Bp, begin, end");
}

/* A loop phi or hardware id: a fresh symbol (shown in counterexamples). */
static Z3_ast symbol(tv_fn *f, LLVMValueRef x) {
  size_t len = 0;
  const char *name = LLVMGetValueName2(x, &len);
  char buf[64];
  snprintf(buf, sizeof buf, "%s", len ? name : "v");
  return tk_verify_obl_fresh(obl(f), buf, f->v->int_sort, true);
}

static bool known_symbol(const tv_fn *f, LLVMValueRef x) {
  for (int i = 0; i < f->nnodes; i++)
    if ((f->nodes[i].kind == TV_LOOP || f->nodes[i].kind == TV_ID) && f->nodes[i].v == x)
      return true;
  return false;
}

static Z3_ast icmp_term(tv_fn *f, LLVMIntPredicate p, Z3_ast a, Z3_ast b, Z3_ast *def) {
  Z3_context z = f->v->z;
  bool u = p == LLVMIntULT || p == LLVMIntULE || p == LLVMIntUGT || p == LLVMIntUGE;
  if (u) {
    Z3_ast a_nonneg = nonneg(f, a); /* one at a time: verify_internal.h, term order */
    *def = tk_verify_z_and(f->v, 3, (Z3_ast[]){*def, a_nonneg, nonneg(f, b)});
  }
  switch (p) {
    case LLVMIntEQ: return Z3_mk_eq(z, a, b);
    case LLVMIntNE: return Z3_mk_not(z, Z3_mk_eq(z, a, b));
    case LLVMIntSLT:
    case LLVMIntULT: return Z3_mk_lt(z, a, b);
    case LLVMIntSLE:
    case LLVMIntULE: return Z3_mk_le(z, a, b);
    case LLVMIntSGT:
    case LLVMIntUGT: return Z3_mk_gt(z, a, b);
    default: return Z3_mk_ge(z, a, b);
  }
}

/* x div c, x mod c (c > 0, floor) and LLVM's sdiv / srem (truncating) from them. */
static Z3_ast divide(tv_fn *f, LLVMOpcode op, Z3_ast a, int64_t c, Z3_ast *def) {
  tk_vctx *v = f->v;
  tk_obl *o = obl(f);
  Z3_ast q = tk_verify_obl_div(o, a, c, false), r = tk_verify_obl_div(o, a, c, true);
  if (op == LLVMUDiv || op == LLVMURem) {
    *def = tk_verify_z_and2(v, *def, nonneg(f, a));
    return op == LLVMUDiv ? q : r;
  }
  Z3_ast zero = tk_verify_z_int(v, 0);
  Z3_ast rem_nonzero = Z3_mk_not(v->z, Z3_mk_eq(v->z, r, zero)); /* first: verify_internal.h */
  Z3_ast fix = tk_verify_z_and2(v, Z3_mk_lt(v->z, a, zero), rem_nonzero);
  Z3_ast tq = tk_verify_z_add2(v, q, Z3_mk_ite(v->z, fix, tk_verify_z_int(v, 1), zero));
  return op == LLVMSDiv ? tq : tk_verify_z_sub2(v, a, tk_verify_z_mul_c(v, tq, c));
}

static tk_status binary(tv_fn *f, LLVMValueRef x, LLVMOpcode op, Z3_ast *t, Z3_ast *def) {
  tk_vctx *v = f->v;
  LLVMValueRef xa = LLVMGetOperand(x, 0), xb = LLVMGetOperand(x, 1);
  Z3_ast a, b, da, db;
  TK_RETURN_IF_ERROR(term(f, xa, &a, &da));
  TK_RETURN_IF_ERROR(term(f, xb, &b, &db));
  *def = tk_verify_z_and2(v, da, db);
  bool boolean = width_of(x) == 1;
  switch (op) {
    case LLVMAdd: *t = tk_verify_z_add2(v, a, b); break;
    case LLVMSub: *t = tk_verify_z_sub2(v, a, b); break;
    case LLVMMul:
      if (!LLVMIsAConstantInt(xa) && !LLVMIsAConstantInt(xb))
        return tk_tv_refuse(f, TK_OBL_ADDRESS, x, "a multiplication of two variables");
      *t = Z3_mk_mul(v->z, 2, (Z3_ast[]){a, b});
      break;
    case LLVMAnd:
    case LLVMOr:
    case LLVMXor:
      if (!boolean) return tk_tv_refuse(f, TK_OBL_ADDRESS, x, "bitwise logic on an index");
      *t = op == LLVMAnd  ? tk_verify_z_and2(v, a, b)
           : op == LLVMOr ? tk_verify_z_or2(v, a, b)
                          : Z3_mk_xor(v->z, a, b);
      return TK_STATUS_OK;
    default: {
      int64_t c = LLVMIsAConstantInt(xb) ? LLVMConstIntGetSExtValue(xb) : 0;
      if (c <= 0)
        return tk_tv_refuse(f, TK_OBL_ADDRESS, x, "a division by other than a positive constant");
      *t = divide(f, op, a, c, def);
      return TK_STATUS_OK;
    }
  }
  *def = tk_verify_z_and2(v, *def, fits(f, *t, width_of(x)));
  return TK_STATUS_OK;
}

static tk_status cast(tv_fn *f, LLVMValueRef x, LLVMOpcode op, Z3_ast *t, Z3_ast *def) {
  tk_vctx *v = f->v;
  LLVMValueRef xa = LLVMGetOperand(x, 0);
  Z3_ast a;
  TK_RETURN_IF_ERROR(term(f, xa, &a, def));
  unsigned from = width_of(xa), to = width_of(x);
  if (from == 1 && to > 1) {
    int64_t one = op == LLVMSExt ? -1 : 1;
    Z3_ast zero = tk_verify_z_int(v, 0); /* first: verify_internal.h, term order */
    *t = Z3_mk_ite(v->z, a, tk_verify_z_int(v, one), zero);
    return TK_STATUS_OK;
  }
  if (to <= 1 || from <= 1) return tk_tv_refuse(f, TK_OBL_ADDRESS, x, "a cast to or from i1");
  *t = a;
  if (op == LLVMZExt) *def = tk_verify_z_and2(v, *def, nonneg(f, a));
  if (op == LLVMTrunc) *def = tk_verify_z_and2(v, *def, fits(f, a, to));
  return TK_STATUS_OK;
}

/* An index read's LLVM load (tk.access names an index read of the IR): the data function of
 * the argument its GEP's base is, at the GEP's index (tk_verify_obl_data), so that equal
 * addresses give the IR's and the LLVM's reads one term. Which argument and which access the
 * address proof of that load checks (check_base, address). */
static tk_status data_term(tv_fn *f, LLVMValueRef x, Z3_ast *t, Z3_ast *def) {
  int64_t n = -1;
  LLVMValueRef ptr = LLVMGetOperand(x, 0);
  if (tk_tv_md_ints(x, f->md_access, &n, 1) != 1 || n < 0 || n >= f->naccs || !f->accs[n].a.ix ||
      !LLVMIsAGetElementPtrInst(ptr) || LLVMGetNumOperands(ptr) != 2)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, x, "a load in an index that is no IR index read");
  const tk_ix *e = f->accs[n].a.ix;
  if (LLVMGetOperand(ptr, 0) != LLVMGetParam(f->fn, (unsigned)e->arg))
    return tk_tv_refuse(f, TK_OBL_ADDRESS, x, "an index read of %%%s from another buffer",
                        e->arg_name);
  Z3_ast index;
  TK_RETURN_IF_ERROR(term(f, LLVMGetOperand(ptr, 1), &index, def));
  *t = tk_verify_obl_data(obl(f), e->arg, e->arg_name, index);
  return TK_STATUS_OK;
}

static tk_status instruction_term(tv_fn *f, LLVMValueRef x, Z3_ast *t, Z3_ast *def) {
  LLVMOpcode op = LLVMGetInstructionOpcode(x);
  *def = z_true(f);
  switch (op) {
    case LLVMLoad: return data_term(f, x, t, def);
    case LLVMPHI:
    case LLVMCall:
      if (!known_symbol(f, x))
        return tk_tv_refuse(f, TK_OBL_ADDRESS, x, "a phi or call that is no loop or hardware id");
      *t = symbol(f, x);
      return TK_STATUS_OK;
    case LLVMAdd:
    case LLVMSub:
    case LLVMMul:
    case LLVMAnd:
    case LLVMOr:
    case LLVMXor:
    case LLVMUDiv:
    case LLVMURem:
    case LLVMSDiv:
    case LLVMSRem: return binary(f, x, op, t, def);
    case LLVMZExt:
    case LLVMSExt:
    case LLVMTrunc: return cast(f, x, op, t, def);
    case LLVMICmp: {
      Z3_ast a, b, da, db;
      TK_RETURN_IF_ERROR(term(f, LLVMGetOperand(x, 0), &a, &da));
      TK_RETURN_IF_ERROR(term(f, LLVMGetOperand(x, 1), &b, &db));
      *def = tk_verify_z_and2(f->v, da, db);
      *t = icmp_term(f, LLVMGetICmpPredicate(x), a, b, def);
      return TK_STATUS_OK;
    }
    case LLVMSelect: {
      Z3_ast c, a, b, dc, da, db;
      TK_RETURN_IF_ERROR(term(f, LLVMGetOperand(x, 0), &c, &dc));
      TK_RETURN_IF_ERROR(term(f, LLVMGetOperand(x, 1), &a, &da));
      TK_RETURN_IF_ERROR(term(f, LLVMGetOperand(x, 2), &b, &db));
      *def = tk_verify_z_and(f->v, 3, (Z3_ast[]){dc, da, db});
      *t = Z3_mk_ite(f->v->z, c, a, b);
      return TK_STATUS_OK;
    }
    default:
      return tk_tv_refuse(f, TK_OBL_ADDRESS, x,
                          "an instruction the validator does not model "
                          "in an index, bound or guard");
  }
}

static tk_status term(tv_fn *f, LLVMValueRef x, Z3_ast *t, Z3_ast *def) {
  TK_RETURN_IF_ERROR(memo_reserve(f));
  tv_memo_slot *s = memo_slot(f, x);
  if (s->key) {
    *t = s->term;
    *def = s->def;
    return TK_STATUS_OK;
  }
  *def = z_true(f);
  if (LLVMIsAConstantInt(x)) {
    long long c = LLVMConstIntGetSExtValue(x);
    *t = width_of(x) == 1 ? (c ? Z3_mk_true(f->v->z) : Z3_mk_false(f->v->z))
                          : tk_verify_z_int(f->v, c);
  } else if (LLVMIsAArgument(x)) {
    TK_RETURN_IF_ERROR(param_term(f, x, t));
  } else if (LLVMIsAInstruction(x) && width_of(x)) {
    TK_RETURN_IF_ERROR(instruction_term(f, x, t, def));
  } else {
    return tk_tv_refuse(f, TK_OBL_ADDRESS, LLVMIsAInstruction(x) ? x : NULL,
                        "a value that is no integer where an index, bound or guard is");
  }
  if (!*t || !*def)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "translation validation: out of memory");
  return memo_put(f, x, *t, *def);
}

/* ---- paths ---- */

/* The conjunct of node n and its definedness. */
static tk_status node_cond(tv_fn *f, const tv_node *n, Z3_ast *cond, Z3_ast *def) {
  tk_vctx *v = f->v;
  Z3_ast x, dx;
  switch (n->kind) {
    case TV_COND:
      TK_RETURN_IF_ERROR(term(f, n->v, &x, def));
      *cond = n->neg ? Z3_mk_not(v->z, x) : x;
      return TK_STATUS_OK;
    case TV_LOOP:
      TK_RETURN_IF_ERROR(term(f, n->lo, &x, def));
      TK_RETURN_IF_ERROR(term(f, n->v, cond, &dx));
      *cond = Z3_mk_le(v->z, x, *cond);
      return TK_STATUS_OK;
    case TV_ID: {
      TK_RETURN_IF_ERROR(term(f, n->v, &x, def));
      Z3_ast hi = n->hw == TV_HW_THREAD ? tk_verify_z_int(v, f->k->launch.workgroup_size)
                                        : tk_verify_obl_ix(obl(f), f->k->launch.grid, 0);
      *cond = tk_verify_z_in(v, tk_verify_z_int(v, 0), x, hi);
      return TK_STATUS_OK;
    }
    case TV_BIND: break;
  }
  *cond = *def = z_true(f);
  return TK_STATUS_OK;
}

typedef struct path_terms {
  Z3_ast all, defined, chunk, rest; /* conjunctions: every cond, defs, chunk conds, the others */
} path_terms;

static tk_status path_of(tv_fn *f, int leaf, path_terms *out) {
  tk_vctx *v = f->v;
  Z3_ast all = z_true(f), defined = z_true(f), chunk = z_true(f), rest = z_true(f);
  for (int i = leaf; i >= 0; i = f->nodes[i].parent) {
    Z3_ast c, d;
    TK_RETURN_IF_ERROR(node_cond(f, &f->nodes[i], &c, &d));
    all = tk_verify_z_and2(v, c, all);
    defined = tk_verify_z_and2(v, d, defined);
    if (f->nodes[i].chunk)
      chunk = tk_verify_z_and2(v, c, chunk);
    else
      rest = tk_verify_z_and2(v, c, rest);
  }
  *out = (path_terms){all, defined, chunk, rest};
  return TK_STATUS_OK;
}

/* ---- accesses ---- */

static bool access_is_local(const tv_access *a) {
  if (a->a.ix) return false;
  return a->a.val ? a->a.val->op == TK_V_LOCAL_LOAD : a->a.stmt->kind == TK_S_LOCAL_STORE;
}

static bool access_is_store(const tv_access *a) { return !a->a.val && !a->a.ix; }

static int access_slot(const tv_access *a) {
  bool local = access_is_local(a);
  if (a->a.ix) return a->a.ix->arg;
  return a->a.val ? (local ? a->a.val->local : a->a.val->arg)
                  : (local ? a->a.stmt->local : a->a.stmt->arg);
}

static const tk_ix *access_ix(const tv_access *a) {
  if (a->a.ix) return a->a.ix->a;
  return a->a.val ? a->a.val->ix : a->a.stmt->ix;
}

static void access_what(const tv_fn *f, const tv_access *a, char *buf, size_t n) {
  bool local = access_is_local(a);
  int slot = access_slot(a);
  const char *name = local ? f->k->locals[slot].name : f->k->args[slot].name;
  const char *kind = a->a.ix ? "index read of" : a->a.val ? "load of" : "store to";
  snprintf(buf, n, "%s %s%s (access %d)", kind, local ? "local " : "%", name, a->a.n);
}

static LLVMTypeRef elem_type(const tv_fn *f, tk_ir_type t) {
  LLVMContextRef c = LLVMGetTypeContext(LLVMTypeOf(f->fn));
  return t == TK_T_F32   ? LLVMFloatTypeInContext(c)
         : t == TK_T_I32 ? LLVMInt32TypeInContext(c)
                         : LLVMInt1TypeInContext(c);
}

/* The GEP index of instance r after checking its base, element type and kind. */
static tk_status check_base(tv_fn *f, const tv_inst *r, const tv_access *a, LLVMValueRef *index) {
  bool store = LLVMIsAStoreInst(r->inst) != NULL, local = access_is_local(a);
  int slot = access_slot(a);
  char what[160];
  access_what(f, a, what, sizeof what);
  if (store != access_is_store(a))
    return tk_tv_refuse(f, TK_OBL_ADDRESS, r->inst, "%s is a %s in the LLVM", what,
                        store ? "store" : "load");
  LLVMValueRef ptr = LLVMGetOperand(r->inst, store ? 1 : 0);
  tk_ir_type t = local ? f->k->locals[slot].type : f->k->args[slot].type;
  LLVMValueRef base = local ? f->allocas[slot] : LLVMGetParam(f->fn, (unsigned)slot);
  LLVMTypeRef ty = elem_type(f, t);
  LLVMTypeRef accessed = LLVMTypeOf(store ? LLVMGetOperand(r->inst, 0) : r->inst);
  /* a shared local's global at the constant index 0: LLVM folds the GEP into the global */
  bool folded = local && f->k->locals[slot].shared && ptr == base;
  bool gep = LLVMIsAGetElementPtrInst(ptr) ||
             (LLVMIsAConstantExpr(ptr) && LLVMGetConstOpcode(ptr) == LLVMGetElementPtr);
  if (!folded && (!gep || LLVMGetNumOperands(ptr) != 2))
    return tk_tv_refuse(f, TK_OBL_ADDRESS, r->inst, "%s: the address is not a one-index GEP", what);
  if (!folded && LLVMGetOperand(ptr, 0) != base)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, ptr, "%s: the base is not %s", what,
                        !local                      ? "the argument's parameter"
                        : f->k->locals[slot].shared ? "the shared local's global"
                                                    : "the local's alloca");
  if ((!folded && LLVMGetGEPSourceElementType(ptr) != ty) || accessed != ty)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, r->inst, "%s: the element type is not %s", what,
                        tk_ir_type_name(t));
  if (local) {
    LLVMTypeRef at =
        f->k->locals[slot].shared ? LLVMGlobalGetValueType(base) : LLVMGetAllocatedType(base);
    if (LLVMGetTypeKind(at) != LLVMArrayTypeKind || LLVMGetElementType(at) != ty ||
        LLVMGetArrayLength2(at) != (uint64_t)f->k->locals[slot].count)
      return tk_tv_refuse(f, TK_OBL_ADDRESS, base, "local %s: the alloca is not [%lld x %s]",
                          f->k->locals[slot].name, (long long)f->k->locals[slot].count,
                          tk_ir_type_name(t));
  }
  if (folded) {
    *index = LLVMConstInt(LLVMInt64TypeInContext(LLVMGetTypeContext(ty)), 0, false);
    return TK_STATUS_OK;
  }
  *index = LLVMGetOperand(ptr, 1);
  return TK_STATUS_OK;
}

static int unrolled_value(const tv_inst *r, int var, int64_t *value) {
  for (int u = 0; u < r->nunroll; u++)
    if (r->unroll[2 * u] == var) {
      *value = r->unroll[2 * u + 1];
      return 1;
    }
  return 0;
}

/* Binds every loop variable of a's IR path for instance r; *def: the bound terms' definedness. */
static tk_status bind_vars(tv_fn *f, const tv_inst *r, const tv_access *a, Z3_ast *def) {
  *def = z_true(f);
  for (int d = 0; d < a->a.depth; d++) {
    const tk_ir_stmt *s = a->path[d];
    if (s->kind != TK_S_FOR) continue;
    int64_t c;
    Z3_ast t = NULL, dt = z_true(f);
    if (unrolled_value(r, s->var->id, &c)) t = tk_verify_z_int(f->v, c);
    for (int i = r->path; !t && i >= 0; i = f->nodes[i].parent)
      if (f->nodes[i].var == s->var->id) TK_RETURN_IF_ERROR(term(f, f->nodes[i].v, &t, &dt));
    if (!t)
      return tk_tv_refuse(f, TK_OBL_CONTROL, r->inst,
                          "IR loop variable %s has no LLVM loop, id or unrolled copy here",
                          s->var->name);
    tk_verify_obl_bind(obl(f), s->var, 0, t);
    *def = tk_verify_z_and2(f->v, *def, dt);
  }
  return TK_STATUS_OK;
}

/* ---- coverage of unrolled copies ---- */

static bool same_tuple(const tv_inst *a, const tv_inst *b) {
  return a->nunroll == b->nunroll &&
         !memcmp(a->unroll, b->unroll, (size_t)(2 * a->nunroll) * sizeof a->unroll[0]);
}

static tk_status check_coverage(tv_fn *f, int n) {
  const tv_access *a = &f->accs[n];
  char what[160];
  access_what(f, a, what, sizeof what);
  const tv_inst *first = NULL;
  for (int i = 0; i < f->ninsts && !first; i++)
    if (f->insts[i].n == n) first = &f->insts[i];
  if (!first)
    return tk_tv_refuse(f, TK_OBL_CONTROL, NULL, "%s of the IR is missing from the LLVM", what);
  int64_t want = 1;
  for (int u = 0; u < first->nunroll; u++) {
    const tk_ir_stmt *loop = NULL;
    for (int d = 0; d < a->a.depth; d++)
      if (a->path[d]->kind == TK_S_FOR && a->path[d]->var->id == first->unroll[2 * u])
        loop = a->path[d];
    if (!loop || loop->extent->kind != TK_IX_CONST)
      return tk_tv_refuse(
          f, TK_OBL_CONTROL, first->inst,
          "%s: an unrolled copy of a loop not enclosing it or of no constant extent", what);
    want *= loop->extent->c;
  }
  if (a->ninst != want)
    return tk_tv_refuse(f, TK_OBL_CONTROL, first->inst,
                        "%s appears %d times in the LLVM; its unrolled loops have %lld points",
                        what, a->ninst, (long long)want);
  for (int i = 0; i < f->ninsts; i++)
    for (int j = i + 1; f->insts[i].n == n && j < f->ninsts; j++)
      if (f->insts[j].n == n &&
          (f->insts[j].nunroll != first->nunroll || same_tuple(&f->insts[i], &f->insts[j])))
        return tk_tv_refuse(f, TK_OBL_CONTROL, f->insts[j].inst,
                            "%s: two copies for one point of its unrolled loops", what);
  return TK_STATUS_OK;
}

/* ---- obligations ---- */

/* Parts name their instruction by index ("[inst 12]"): printing LLVM text costs a walk of the
 * whole function, so only a counterexample's instruction is printed (name_instruction). */
#define INST_MARK "[inst %d]"

/* A refutation with its "[inst N]" replaced by the instruction's LLVM text in backquotes. */
static tk_status name_instruction(const tv_fn *f, tk_status s) {
  const char *msg = s ? tk_status_message(s) : NULL;
  const char *mark = msg ? strstr(msg, "[inst ") : NULL;
  int i = -1;
  if (!mark || sscanf(mark, "[inst %d]", &i) != 1 || i < 0 || i >= f->ninsts) return s;
  char text[240];
  tk_tv_inst_text(f->insts[i].inst, text, sizeof text);
  const char *end = strchr(mark, ']') + 1;
  tk_status named =
      tk_status_make(tk_status_code_of(s), "%.*s`%s`%s", (int)(mark - msg), msg, text, end);
  tk_status_free(s);
  return named;
}

/* A part the simplifier rewrites to true (the constant index of an unrolled copy, an
 * unconditional definedness) is discharged by that rewriting and not added to the goal. */
static bool trivially_true(tv_fn *f, Z3_ast x) {
  return x && Z3_get_bool_value(f->v->z, x) == Z3_L_TRUE;
}

/* ---- conjuncts seen by one obligation ----
 * The unrolled copies of an access repeat most of their definedness conditions (the shared
 * base index's, each copy adding its constant's): the goal takes each conjunct once, which
 * keeps a 16-copy tile's query text and solving near one copy's. Dropping a conjunct already
 * in the goal (the conjunction of all parts) changes nothing it proves. */

typedef struct tv_set { /* Z3 terms by pointer (hash-consed: equal terms, one pointer) */
  size_t cap, n;
  Z3_ast *slot;
} tv_set;

typedef struct tv_conj {
  tv_set raw, kept; /* terms as built, and-nodes included; simplified conjuncts in the goal */
  Z3_ast *list;     /* the conjuncts being gathered */
  int n, cap;
} tv_conj;

static void conj_free(tv_conj *c) {
  free(c->raw.slot);
  free(c->kept.slot);
  free(c->list);
}

static size_t set_index(const tv_set *s, Z3_ast x) {
  size_t mask = s->cap - 1, i = tk_verify_ptr_slot(x, mask);
  for (; s->slot[i] && s->slot[i] != x; i = (i + 1) & mask) continue;
  return i;
}

/* 1 if x was not in s (now added), 0 if it was, -1 out of memory. */
static int set_add(tv_set *s, Z3_ast x) {
  if (2 * (s->n + 1) > s->cap) {
    tv_set bigger = {s->cap ? 2 * s->cap : 256, 0, NULL};
    if (!(bigger.slot = tk_calloc(bigger.cap, sizeof *bigger.slot))) return -1;
    for (size_t i = 0; i < s->cap; i++)
      if (s->slot[i]) bigger.slot[set_index(&bigger, s->slot[i])] = s->slot[i];
    bigger.n = s->n;
    free(s->slot);
    *s = bigger;
  }
  size_t i = set_index(s, x);
  if (s->slot[i]) return 0;
  s->slot[i] = x;
  s->n++;
  return 1;
}

static bool is_and(tv_fn *f, Z3_ast x) {
  Z3_context z = f->v->z;
  return Z3_get_ast_kind(z, x) == Z3_APP_AST &&
         Z3_get_decl_kind(z, Z3_get_app_decl(z, Z3_to_app(z, x))) == Z3_OP_AND;
}

static tk_status tv_oom(void) {
  return tk_status_make(TK_RESOURCE_EXHAUSTED, "translation validation: out of memory");
}

/* Appends the leaves of the and-tree x that set does not hold (each node entered once) to
 * c->list; into_goal: skip leaves that are true. */
static tk_status gather(tv_fn *f, tv_conj *c, tv_set *set, Z3_ast x, bool into_goal) {
  int fresh = set_add(set, x);
  if (fresh <= 0) return fresh ? tv_oom() : TK_STATUS_OK;
  if (is_and(f, x)) {
    Z3_app app = Z3_to_app(f->v->z, x);
    for (unsigned i = 0; i < Z3_get_app_num_args(f->v->z, app); i++)
      TK_RETURN_IF_ERROR(gather(f, c, set, Z3_get_app_arg(f->v->z, app, i), into_goal));
    return TK_STATUS_OK;
  }
  if (into_goal && trivially_true(f, x)) return TK_STATUS_OK;
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 64;
    Z3_ast *p = tk_realloc(c->list, (size_t)cap * sizeof *p);
    if (!p) return tv_oom();
    c->list = p;
    c->cap = cap;
  }
  c->list[c->n++] = x;
  return TK_STATUS_OK;
}

static void nest_text(const tv_fn *f, int leaf, char *buf, size_t n) {
  char names[8][64];
  int k = 0;
  for (int i = leaf; i >= 0 && k < 8; i = f->nodes[i].parent)
    if (f->nodes[i].kind == TV_LOOP || f->nodes[i].kind == TV_ID) {
      size_t len = 0;
      const char *s = LLVMGetValueName2(f->nodes[i].v, &len);
      snprintf(names[k++], sizeof names[0], "%s", len ? s : "?");
    }
  size_t used = 0;
  buf[0] = 0;
  for (int i = k - 1; i >= 0 && used < n; i--)
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i < k - 1 ? ", " : "", names[i]);
  if (!k) snprintf(buf, n, "(no loop)");
}

/* *out: the leaves of the and-tree x (as built) the obligation has not met yet, as one
 * conjunction; true when there are none. */
static tk_status raw_conjuncts(tv_fn *f, tv_conj *c, Z3_ast x, Z3_ast *out) {
  c->n = 0;
  TK_RETURN_IF_ERROR(gather(f, c, &c->raw, x, false));
  *out = c->n ? tk_verify_z_and(f->v, c->n, c->list) : z_true(f);
  return *out ? TK_STATUS_OK : tv_oom();
}

/* *out: the conjuncts of the simplified term x not in the goal yet and not true, as one
 * conjunction; NULL when there are none. */
static tk_status goal_conjuncts(tv_fn *f, tv_conj *c, Z3_ast x, Z3_ast *out) {
  *out = NULL;
  c->n = 0;
  TK_RETURN_IF_ERROR(gather(f, c, &c->kept, x, true));
  if (!c->n) return TK_STATUS_OK;
  *out = tk_verify_z_and(f->v, c->n, c->list);
  return *out ? TK_STATUS_OK : tv_oom();
}

/* Rewrites each of xs[0, n) by Z3's simplifier in one call: as the arguments of one
 * application of an uninterpreted predicate, which the simplifier rewrites argument by
 * argument (each call sets up a whole rewriter: about 16 microseconds, paid once per
 * obligation instead of once per unrolled copy). */
static tk_status simplify_all(tv_fn *f, Z3_ast *xs, int n) {
  Z3_context z = f->v->z;
  if (!n) return TK_STATUS_OK;
  Z3_sort *domain = tk_malloc((size_t)n * sizeof *domain);
  if (!domain) return tv_oom();
  for (int i = 0; i < n; i++) domain[i] = f->v->bool_sort;
  Z3_func_decl holder = Z3_mk_func_decl(z, Z3_mk_string_symbol(z, "tk.tv.terms"), (unsigned)n,
                                        domain, f->v->bool_sort);
  free(domain);
  Z3_ast all = holder ? Z3_simplify(z, Z3_mk_app(z, holder, (unsigned)n, xs)) : NULL;
  TK_RETURN_IF_ERROR(tk_verify_ctx_z3_status(f->v, "simplifying the terms of an obligation"));
  Z3_app app = all && Z3_get_ast_kind(z, all) == Z3_APP_AST ? Z3_to_app(z, all) : NULL;
  if (!app || Z3_get_app_decl(z, app) != holder || Z3_get_app_num_args(z, app) != (unsigned)n)
    return tk_status_make(TK_INTERNAL, "translation validation: the simplifier changed the "
                                       "application that holds an obligation's terms");
  for (int i = 0; i < n; i++) xs[i] = Z3_get_app_arg(z, app, (unsigned)i);
  return TK_STATUS_OK;
}

/* ---- counterexample shows ----
 * Every instance's terms are built before any part is added (one simplification per
 * obligation), but a part shows the terms recorded since the previous part (smt.c). So the
 * shows an instance's terms made (a first read of a buffer's data) are set aside once all are
 * built, and put back just before that instance's own parts. */

/* Moves o->shows[base, o->nshows) to *saved (caller frees; NULL when there are none). */
static tk_status shows_set_aside(tk_obl *o, int base, tk_obl_term **saved) {
  int n = o->nshows - base;
  *saved = NULL;
  if (n <= 0) return TK_STATUS_OK;
  if (!(*saved = tk_malloc((size_t)n * sizeof **saved))) return tv_oom();
  memcpy(*saved, o->shows + base, (size_t)n * sizeof **saved);
  o->nshows = base;
  return TK_STATUS_OK;
}

/* The shows an instance's terms made: o->shows[from, to) before they were set aside. */
typedef struct tv_span {
  int from, to;
} tv_span;

/* Records the set-aside shows of span again (they go with the next part). */
static void shows_put_back(tk_obl *o, const tk_obl_term *saved, int base, tv_span span) {
  for (int i = span.from; i < span.to; i++)
    tk_verify_obl_show(o, saved[i - base].label, saved[i - base].term);
}

/* One instance's LLVM and IR index (shown in a counterexample of its part) and its shows. */
typedef struct tv_address {
  Z3_ast li, ir;
  tv_span shows;
} tv_address;

/* The terms of instance inst: terms[0] the leaves of its index's and bound variables'
 * definedness that the obligation has not met yet, terms[1] LLVM index == IR index. */
static tk_status address_terms(tv_fn *f, tv_conj *c, int inst, tv_address *at, Z3_ast *terms) {
  const tv_inst *r = &f->insts[inst];
  const tv_access *a = &f->accs[r->n];
  LLVMValueRef index = NULL;
  Z3_ast ldef, bdef;
  TK_RETURN_IF_ERROR(check_base(f, r, a, &index));
  TK_RETURN_IF_ERROR(bind_vars(f, r, a, &bdef));
  TK_RETURN_IF_ERROR(term(f, index, &at->li, &ldef));
  at->ir = tk_verify_obl_ix(obl(f), access_ix(a), 0);
  Z3_ast def = tk_verify_z_and2(f->v, ldef, bdef);
  if (!at->ir || !def) return tv_oom();
  terms[1] = Z3_mk_eq(f->v->z, at->li, at->ir);
  return raw_conjuncts(f, c, def, &terms[0]);
}

/* The parts of instance inst from its simplified terms, each only as far as the goal lacks it. */
static tk_status address_parts(tv_fn *f, tv_conj *c, int inst, const tv_address *at,
                               const Z3_ast *terms) {
  tk_obl *o = obl(f);
  char what[160];
  access_what(f, &f->accs[f->insts[inst].n], what, sizeof what);
  Z3_ast def, eq;
  TK_RETURN_IF_ERROR(goal_conjuncts(f, c, terms[0], &def));
  if (def) tk_verify_obl_part(o, def, "%s: its index is defined at " INST_MARK, what, inst);
  TK_RETURN_IF_ERROR(goal_conjuncts(f, c, terms[1], &eq));
  if (!eq) return TK_STATUS_OK;
  tk_verify_obl_show(o, "llvm_index", at->li);
  tk_verify_obl_show(o, "ir_index", at->ir);
  tk_verify_obl_part(o, eq, "%s: LLVM index == IR index at " INST_MARK, what, inst);
  return TK_STATUS_OK;
}

static tk_status address_group(tv_fn *f, tv_conj *c, const int *group, int n) {
  tk_obl *o = obl(f);
  int base = o->nshows;
  tv_address *at = tk_calloc((size_t)n, sizeof *at);
  Z3_ast *terms = tk_calloc((size_t)(2 * n), sizeof *terms);
  tk_obl_term *saved = NULL;
  tk_status s = at && terms ? TK_STATUS_OK : tv_oom();
  for (int g = 0; !s && g < n; g++) {
    at[g].shows.from = o->nshows;
    s = address_terms(f, c, group[g], &at[g], &terms[2 * g]);
    at[g].shows.to = o->nshows;
  }
  if (!s) s = simplify_all(f, terms, 2 * n);
  if (!s) s = shows_set_aside(o, base, &saved);
  for (int g = 0; !s && g < n; g++) {
    shows_put_back(o, saved, base, at[g].shows);
    s = address_parts(f, c, group[g], &at[g], &terms[2 * g]);
  }
  free(saved);
  free(at);
  free(terms);
  return s;
}

static tk_status address_obligation(tv_fn *f, const int *group, int n) {
  char nest[160];
  nest_text(f, f->insts[group[0]].path, nest, sizeof nest);
  memo_clear(f);
  tk_verify_obl_begin(f->v, TK_OBL_ADDRESS, f->k->name, f->target,
                      "LLVM loop nest %s: each load and store is defined and addresses the element "
                      "the IR index map gives, under the LLVM path",
                      nest);
  tk_obl *o = obl(f);
  path_terms p;
  TK_RETURN_IF_ERROR(path_of(f, f->insts[group[0]].path, &p));
  tk_verify_obl_hyp(o, p.all);
  tv_conj c = {0};
  tk_status s = address_group(f, &c, group, n);
  conj_free(&c);
  TK_RETURN_IF_ERROR(s);
  if (!o->nparts) tk_verify_obl_goal(o, z_true(f)); /* every part held by simplification */
  return name_instruction(f, tk_verify_obl_prove(f->v));
}

/* The control parts of instance inst, whose IR loops and guards are ir (simplified), against
 * the path p: safety and completeness, once per distinct IR condition (seen). */
static tk_status control_parts(tv_fn *f, tv_set *seen, const path_terms *p, int inst, Z3_ast ir) {
  tk_vctx *v = f->v;
  int fresh = set_add(seen, ir);
  if (fresh <= 0) return fresh ? tv_oom() : TK_STATUS_OK;
  char what[160];
  access_what(f, &f->accs[f->insts[inst].n], what, sizeof what);
  tk_verify_obl_part(obl(f), Z3_mk_implies(v->z, p->all, ir),
                     "safety: the LLVM path of " INST_MARK " implies the IR loops and guards of %s",
                     inst, what);
  tk_verify_obl_part(
      obl(f), Z3_mk_implies(v->z, tk_verify_z_and2(v, ir, p->chunk), p->rest),
      "completeness: the IR loops and guards of %s imply the LLVM path of " INST_MARK, what, inst);
  return TK_STATUS_OK;
}

/* ir[g]: the IR loops and guards of instance group[g], its loop variables bound to the LLVM's;
 * shows[g]: the shows its terms made. */
static tk_status control_terms(tv_fn *f, const int *group, int n, Z3_ast *ir, tv_span *shows) {
  for (int g = 0; g < n; g++) {
    const tv_inst *r = &f->insts[group[g]];
    const tv_access *a = &f->accs[r->n];
    Z3_ast bdef;
    shows[g].from = obl(f)->nshows;
    TK_RETURN_IF_ERROR(bind_vars(f, r, a, &bdef));
    ir[g] = tk_verify_obl_items_cond(obl(f), a->path, a->a.depth, 0);
    shows[g].to = obl(f)->nshows;
    if (!ir[g]) return tv_oom();
  }
  return simplify_all(f, ir, n);
}

static tk_status control_group(tv_fn *f, const path_terms *p, const int *group, int n) {
  tk_obl *o = obl(f);
  int base = o->nshows;
  tv_set seen = {0};
  Z3_ast *ir = tk_calloc((size_t)n, sizeof *ir);
  tv_span *shows = tk_calloc((size_t)n, sizeof *shows);
  tk_obl_term *saved = NULL;
  tk_status s = ir && shows ? control_terms(f, group, n, ir, shows) : tv_oom();
  if (!s) s = shows_set_aside(o, base, &saved);
  for (int g = 0; !s && g < n; g++) {
    shows_put_back(o, saved, base, shows[g]);
    s = control_parts(f, &seen, p, group[g], ir[g]);
  }
  free(seen.slot);
  free(saved);
  free(shows);
  free(ir);
  return s;
}

static tk_status control_obligation(tv_fn *f, const int *group, int n) {
  tk_vctx *v = f->v;
  char nest[160];
  nest_text(f, f->insts[group[0]].path, nest, sizeof nest);
  memo_clear(f);
  tk_verify_obl_begin(v, TK_OBL_CONTROL, f->k->name, f->target,
                      "LLVM loop nest %s: its loop bounds, ids and guards are defined and admit "
                      "exactly the points of the IR's loops and guards of each access",
                      nest);
  tk_obl *o = obl(f);
  path_terms p;
  TK_RETURN_IF_ERROR(path_of(f, f->insts[group[0]].path, &p));
  tk_verify_obl_part(o, Z3_mk_implies(v->z, p.all, p.defined),
                     "the loop bounds, ids and guards on the path are defined");
  TK_RETURN_IF_ERROR(control_group(f, &p, group, n));
  return name_instruction(f, tk_verify_obl_prove(v));
}

tk_status tk_tv_prove(tv_fn *f) {
  for (int n = 0; n < f->naccs; n++) TK_RETURN_IF_ERROR(check_coverage(f, n));
  int *group = tk_calloc((size_t)(f->ninsts ? f->ninsts : 1), sizeof *group);
  bool *done = tk_calloc((size_t)(f->ninsts ? f->ninsts : 1), sizeof *done);
  tk_status s = group && done ? TK_STATUS_OK
                              : tk_status_make(TK_RESOURCE_EXHAUSTED,
                                               "translation validation: out of memory");
  for (int i = 0; !s && i < f->ninsts; i++) {
    if (done[i]) continue;
    int n = 0;
    for (int j = i; j < f->ninsts; j++)
      if (!done[j] && f->insts[j].path == f->insts[i].path) {
        done[j] = true;
        group[n++] = j;
      }
    s = address_obligation(f, group, n);
    if (!s) s = control_obligation(f, group, n);
  }
  free(group);
  free(done);
  return s;
}

/* ---- the entry point ---- */

typedef struct tv_target {
  const char *name; /* static: report entries keep the pointer */
  tk_ir_target schedule;
  bool cpu_abi;
} tv_target;

static const tv_target TARGETS[] = {{"x86_64", TK_TARGET_CPU, true},
                                    {"x86_64-simt", TK_TARGET_GPU, true},
                                    {"amdgcn", TK_TARGET_GPU, false},
                                    {"nvptx", TK_TARGET_GPU, false}};

/* nvptx: the kernel's !nvvm.annotations maxntidx entries (count and the value of the last). */
static int maxntid(LLVMModuleRef mod, LLVMValueRef fn, int64_t *value) {
  static const char key[] = "nvvm.annotations";
  unsigned n = LLVMGetNamedMetadataNumOperands(mod, key), found = 0;
  LLVMValueRef *nodes = n ? tk_calloc(n, sizeof *nodes) : NULL;
  if (n && !nodes) return -1;
  if (n) LLVMGetNamedMetadataOperands(mod, key, nodes);
  for (unsigned i = 0; i < n; i++) {
    LLVMValueRef ops[3];
    if (LLVMGetMDNodeNumOperands(nodes[i]) != 3) continue;
    LLVMGetMDNodeOperands(nodes[i], ops);
    unsigned len = 0;
    const char *k = ops[1] ? LLVMGetMDString(ops[1], &len) : NULL;
    if (ops[0] != fn || !k || len != 8 || strncmp(k, "maxntidx", 8)) continue;
    found++;
    *value = ops[2] && LLVMIsAConstantInt(ops[2]) ? LLVMConstIntGetSExtValue(ops[2]) : -1;
  }
  free(nodes);
  return (int)found;
}

/* The GPU kernel is declared for the schedule's workgroup size: amdgcn's
 * amdgpu-flat-work-group-size "WG,WG", nvptx's one maxntidx WG (what the thread id ranges over). */
static tk_status check_workgroup_size(tv_fn *f, LLVMModuleRef mod) {
  int64_t wg = f->k->launch.workgroup_size;
  char want[48];
  snprintf(want, sizeof want, "%lld,%lld", (long long)wg, (long long)wg);
  if (!strcmp(f->target, "amdgcn")) {
    static const char key[] = "amdgpu-flat-work-group-size";
    LLVMAttributeRef a =
        LLVMGetStringAttributeAtIndex(f->fn, LLVMAttributeFunctionIndex, key, sizeof key - 1);
    unsigned len = 0;
    const char *got = a ? LLVMGetStringAttributeValue(a, &len) : "";
    if (len != strlen(want) || strncmp(got, want, len))
      return tk_tv_refuse(f, TK_OBL_CONTROL, NULL, "%s is \"%.*s\", the schedule's workgroup is %s",
                          key, (int)len, got, want);
  }
  if (!strcmp(f->target, "nvptx")) {
    int64_t got = -1;
    int n = maxntid(mod, f->fn, &got);
    if (n < 0)
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "translation validation: out of memory");
    if (n != 1 || got != wg)
      return tk_tv_refuse(f, TK_OBL_CONTROL, NULL,
                          "%d maxntidx annotations (last %lld), the schedule's workgroup is %lld",
                          n, (long long)got, (long long)wg);
  }
  return TK_STATUS_OK;
}

/* The CPU entry K(args, B, Bp, begin, end) calls K.body(args[0], ..., args[n-1], B, Bp, begin,
 * end): each pointer loaded from its own slot of args, the four integers passed in order. */
static tk_status check_cpu_entry(tv_fn *f, LLVMModuleRef mod) {
  LLVMValueRef entry = LLVMGetNamedFunction(mod, f->k->name), call = NULL;
  unsigned n = (unsigned)f->k->nargs;
  if (!entry || LLVMCountParams(entry) != 5)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, NULL, "no entry %s(args, B, Bp, begin, end)",
                        f->k->name);
  for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(entry); b; b = LLVMGetNextBasicBlock(b))
    for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i))
      if (LLVMIsACallInst(i)) {
        if (call) return tk_tv_refuse(f, TK_OBL_ADDRESS, i, "the entry calls more than once");
        call = i;
      }
  if (!call || LLVMGetCalledValue(call) != f->fn || LLVMGetNumArgOperands(call) != n + 4)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, call, "the entry does not call the body once");
  for (unsigned a = 0; a < n; a++) {
    LLVMValueRef v = LLVMGetOperand(call, a);
    LLVMValueRef slot = LLVMIsALoadInst(v) ? LLVMGetOperand(v, 0) : NULL;
    bool ok = slot && LLVMIsAGetElementPtrInst(slot) && LLVMGetNumOperands(slot) == 2 &&
              LLVMGetOperand(slot, 0) == LLVMGetParam(entry, 0) &&
              LLVMIsAConstantInt(LLVMGetOperand(slot, 1)) &&
              LLVMConstIntGetSExtValue(LLVMGetOperand(slot, 1)) == (long long)a &&
              LLVMGetGEPSourceElementType(slot) == LLVMTypeOf(v);
    if (!ok)
      return tk_tv_refuse(f, TK_OBL_ADDRESS, call, "body argument %u is not the load of args[%u]",
                          a, a);
  }
  for (unsigned a = 0; a < 4; a++)
    if (LLVMGetOperand(call, n + a) != LLVMGetParam(entry, a + 1))
      return tk_tv_refuse(f, TK_OBL_ADDRESS, call,
                          "body argument %u is not the entry's %s parameter", n + a,
                          (const char *const[]){"B", "Bp", "begin", "end"}[a]);
  return TK_STATUS_OK;
}

static tk_status validate_kernel(tk_vctx *v, LLVMModuleRef mod, const tv_target *t,
                                 const tk_ir_kernel *k) {
  char name[256];
  snprintf(name, sizeof name, t->cpu_abi ? "%s.body" : "%s", k->name);
  tv_fn f = {.v = v, .k = k, .target = t->name, .cpu = t->cpu_abi};
  f.fn = LLVMGetNamedFunction(mod, name);
  if (!f.fn || LLVMCountParams(f.fn) != (unsigned)k->nargs + (t->cpu_abi ? 4u : 2u))
    return tk_tv_refuse(&f, TK_OBL_CONTROL, NULL, "no function %s with %d parameters", name,
                        k->nargs + (t->cpu_abi ? 4 : 2));
  v->kernel = k;
  tk_status s = t->cpu_abi ? check_cpu_entry(&f, mod) : check_workgroup_size(&f, mod);
  if (!s) s = tk_tv_walk(&f);
  if (!s) s = tk_tv_prove(&f);
  v->kernel = NULL;
  tk_tv_fn_free(&f);
  return s;
}

tk_status tk_verify_tv_module(const tk_ir_module *m, struct LLVMOpaqueModule *mod,
                              const char *target, const tk_verify_options *o,
                              tk_verify_report *report) {
  const tv_target *t = NULL;
  for (size_t i = 0; target && i < sizeof TARGETS / sizeof TARGETS[0]; i++)
    if (!strcmp(TARGETS[i].name, target)) t = &TARGETS[i];
  if (!t)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "translation validation: unknown target \"%s\"; expected x86_64, "
                          "x86_64-simt, amdgcn or nvptx",
                          target ? target : "(null)");
  tk_verify_options d;
  if (!o) {
    tk_verify_options_default(&d);
    o = &d;
  }
  tk_vctx v;
  TK_RETURN_IF_ERROR(tk_verify_ctx_init(&v, m, o));
  if (report) { /* entries go to the caller's report */
    tk_verify_report_free(v.report);
    v.report = report;
  }
  const tk_ir_kernel_list *list = tk_ir_module_kernels(m, t->schedule);
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < list->n; i++) s = validate_kernel(&v, mod, t, list->items[i]);
  if (report) v.report = NULL;
  tk_verify_ctx_dispose(&v);
  return tk_status_annotate(s, "while validating target %s", t->name);
}
