/* codegen/cg_kernel.c — one scheduled kernel's statement tree → LLVM IR.
 *
 * Lowers exactly the kernel's statements and tk_ix index maps (ir.h), in its index_bits width:
 *   FOR with a binding   the target's hook decides (a loop over [begin, end), or an id);
 *   FOR UNROLL / VECTOR  with a constant extent <= TK_CG_UNROLL_MAX: fully unrolled here, so
 *                        the variable is a constant in each copy and the register-tile locals
 *                        (expanded per tile point) get constant indices that SROA/mem2reg
 *                        turn into SSA registers; the copies are then packed into vector
 *                        FMAs by the SLP vectoriser;
 *   other FOR            a counted loop [0, extent) whose induction variable carries the
 *                        variable's name (row_r, col_j in the .ll dumps read as r, j);
 *   IF                   a signed compare of two indices and a branch;
 *   STORE / LOCAL_STORE  GEP + store of the value tree.
 * Values are pure trees (DAGs): each statement's tree is built once per node (memo) in the
 * current block, with no control flow inside it (SELECT is a select; exp/tanh/erf are
 * straight-line code from cg_math.c). FMA is llvm.fmuladd; no fast-math flags anywhere.
 * Locals are allocas in the entry block (private to one point of the bound loops); a GPU
 * kernel's shared locals are the target's shared-memory globals, its barriers the target's.
 * Provenance (ir.h TK_IR_MD_*, read by verify/tv.c): every load and store carries its access
 * number in tk_ir_kernel_accesses order (and, inside unrolled loops, the unrolled variables'
 * values), loop phis and bound ids their variable, value compares and max/min selects their
 * IR op, guards their comparison. Codegen mutants (cg_mutants.c) are planted here and in
 * cg_ix.c / cg_target_*.c where `tk_cg_mutant_on` appears.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/cg_internal.h"
#include "tk/alloc.h"

enum { TK_CG_UNROLL_MAX = 256 };
/* A prefetching loop prefetches each cache line (x86-64: 64 bytes) of its span, for up to
 * TK_CG_PREFETCH_WEIGHTS weights its body reads (every tile's k loop today reads one). */
enum { TK_CG_CACHE_LINE_BYTES = 64, TK_CG_PREFETCH_WEIGHTS = 4 };

typedef struct memo_entry {
  const void *key; /* a value node, or an index read's TK_IX_LOAD node */
  LLVMValueRef val;
} memo_entry;

typedef struct access_id {
  const tk_ir_stmt *stmt;
  const tk_ir_val *val; /* NULL: the store, or an index read */
  const tk_ix *ix;      /* an index read */
  int n;
} access_id;

typedef struct kern {
  tk_cg_fn fn;      /* first: cg_ix.c's ix_load hook gets &fn back */
  memo_entry *memo; /* the current statement's values */
  size_t nmemo, capmemo;
  access_id *acc; /* the kernel's accesses (tk_ir_kernel_accesses) */
  int nacc, capacc;
  const tk_ir_stmt *cur;                        /* the store statement being emitted */
  int64_t unrolled[2 * TK_IR_ACCESS_MAX_DEPTH]; /* (var id, value) of enclosing unrolled loops */
  unsigned nunrolled;
  const tk_ir_stmt *prefetching; /* the prefetching loop whose body is being emitted, or NULL */
  int prefetched[TK_CG_PREFETCH_WEIGHTS]; /* the weights (args) its body has prefetched */
  int nprefetched;
} kern;

static LLVMTypeRef elem_type(const tk_cg_module *cm, tk_ir_type t) {
  return t == TK_T_F32 ? cm->f32 : t == TK_T_I32 ? cm->i32 : cm->i1;
}

static tk_status fail(const kern *K, const char *what) {
  return tk_status_make(TK_INTERNAL, "codegen: kernel %s: %s", K->fn.k->name, what);
}

/* ---- provenance ---------------------------------------------------------------------- */

void tk_cg_tag(tk_cg_module *cm, LLVMValueRef inst, const char *kind, const int64_t *vals,
               unsigned n) {
  if (!LLVMIsAInstruction(inst)) return;
  LLVMMetadataRef ops[2 * TK_IR_ACCESS_MAX_DEPTH];
  for (unsigned i = 0; i < n && i < 2 * TK_IR_ACCESS_MAX_DEPTH; i++)
    ops[i] = LLVMValueAsMetadata(LLVMConstInt(cm->i32, (unsigned long long)vals[i], 1));
  LLVMContextRef ctx = cm->c->ctx;
  unsigned id = LLVMGetMDKindIDInContext(ctx, kind, (unsigned)strlen(kind));
  LLVMSetMetadata(inst, id, LLVMMetadataAsValue(ctx, LLVMMDNodeInContext2(ctx, ops, n)));
}

static tk_status collect_access(const tk_ir_mem_access *a, void *user) {
  kern *K = user;
  if (K->nacc == K->capacc) {
    int cap = K->capacc ? 2 * K->capacc : 64;
    access_id *p = tk_realloc(K->acc, (size_t)cap * sizeof *p);
    if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: out of memory");
    K->acc = p;
    K->capacc = cap;
  }
  K->acc[K->nacc++] = (access_id){a->stmt, a->val, a->ix, a->n};
  return TK_STATUS_OK;
}

/* tk.access (and tk.unroll inside unrolled loops) on a load (val), an index read (ix) or a
 * store (both NULL). */
static tk_status tag_access(kern *K, LLVMValueRef inst, const tk_ir_val *val, const tk_ix *ix) {
  for (int i = 0; i < K->nacc; i++)
    if (K->acc[i].stmt == K->cur && K->acc[i].val == val && K->acc[i].ix == ix) {
      int64_t n = K->acc[i].n;
      tk_cg_tag(K->fn.cm, inst, TK_IR_MD_ACCESS, &n, 1);
      if (K->nunrolled) tk_cg_tag(K->fn.cm, inst, TK_IR_MD_UNROLL, K->unrolled, K->nunrolled);
      return TK_STATUS_OK;
    }
  return fail(K, "an access missing from tk_ir_kernel_accesses");
}

/* ---- values -------------------------------------------------------------------------- */

static tk_status memo_put(kern *K, const void *v, LLVMValueRef val) {
  if (K->nmemo == K->capmemo) {
    size_t cap = K->capmemo ? K->capmemo * 2 : 64;
    memo_entry *p = tk_realloc(K->memo, cap * sizeof *p);
    if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: out of memory");
    K->memo = p;
    K->capmemo = cap;
  }
  K->memo[K->nmemo++] = (memo_entry){v, val};
  return TK_STATUS_OK;
}

static LLVMValueRef memo_get(const kern *K, const void *v) {
  for (size_t i = 0; i < K->nmemo; i++)
    if (K->memo[i].key == v) return K->memo[i].val;
  return NULL;
}

/* The address of element ix of buffer argument / local `index`. */
static tk_status element_ptr(kern *K, bool local, int index, const tk_ix *ix, LLVMValueRef *out,
                             LLVMTypeRef *out_ty) {
  const tk_ir_kernel *k = K->fn.k;
  if (local ? index < 0 || index >= k->nlocals : index < 0 || index >= k->nargs)
    return fail(K, local ? "local index out of range" : "argument index out of range");
  LLVMValueRef i;
  TK_RETURN_IF_ERROR(tk_cg_ix(&K->fn, ix, &i));
  *out_ty = elem_type(K->fn.cm, local ? k->locals[index].type : k->args[index].type);
  if (!local && k->nargs > 1 && tk_cg_mutant_on(K->fn.cm, "wrong-buffer"))
    index = (index + 1) % k->nargs;
  LLVMValueRef base = local ? K->fn.locals[index] : K->fn.bufs[index];
  const char *name = local ? k->locals[index].name : k->args[index].name;
  *out = LLVMBuildInBoundsGEP2(K->fn.cm->b, *out_ty, base, &i, 1, name);
  return TK_STATUS_OK;
}

/* The tk_cg_fn.ix_load hook: element e->a of i32 argument e->arg, once per statement. */
static tk_status ix_load(tk_cg_fn *fn, const tk_ix *e, LLVMValueRef *out) {
  kern *K = (kern *)fn;
  if ((*out = memo_get(K, e))) return TK_STATUS_OK;
  if (e->arg < 0 || e->arg >= fn->k->nargs || fn->k->args[e->arg].type != TK_T_I32)
    return fail(K, "an index read of no i32 argument");
  LLVMValueRef i;
  TK_RETURN_IF_ERROR(tk_cg_ix(fn, e->a, &i));
  LLVMBuilderRef bld = fn->cm->b;
  LLVMValueRef p =
      LLVMBuildInBoundsGEP2(bld, fn->cm->i32, fn->bufs[e->arg], &i, 1, fn->k->args[e->arg].name);
  LLVMValueRef x = LLVMBuildLoad2(bld, fn->cm->i32, p, "");
  LLVMSetAlignment(x, 4);
  TK_RETURN_IF_ERROR(tag_access(K, x, NULL, e));
  *out = fn->ity == fn->cm->i32 ? x : LLVMBuildSExt(bld, x, fn->ity, "");
  return memo_put(K, e, *out);
}

static LLVMValueRef compare(tk_cg_module *cm, tk_ir_vop op, tk_ir_type t, LLVMValueRef a,
                            LLVMValueRef b) {
  static const LLVMRealPredicate fp[] = {LLVMRealOLT, LLVMRealOLE, LLVMRealOGT,
                                         LLVMRealOGE, LLVMRealOEQ, LLVMRealUNE};
  static const LLVMIntPredicate ip[] = {LLVMIntSLT, LLVMIntSLE, LLVMIntSGT,
                                        LLVMIntSGE, LLVMIntEQ,  LLVMIntNE};
  int i = (int)op - (int)TK_V_LT;
  LLVMRealPredicate f = fp[i];
  if (op == TK_V_GT && tk_cg_mutant_on(cm, "fcmp-gt-oge")) f = LLVMRealOGE;
  if (op == TK_V_GT && tk_cg_mutant_on(cm, "fcmp-gt-ugt")) f = LLVMRealUGT;
  LLVMIntPredicate ipred = ip[i];
  if (op == TK_V_EQ && tk_cg_mutant_on(cm, "icmp-eq-ne")) ipred = LLVMIntNE;
  LLVMValueRef c =
      t == TK_T_F32 ? LLVMBuildFCmp(cm->b, f, a, b, "") : LLVMBuildICmp(cm->b, ipred, a, b, "");
  int64_t tag = op;
  tk_cg_tag(cm, c, TK_IR_MD_VAL, &tag, 1);
  return c;
}

static LLVMValueRef arith(tk_cg_module *cm, tk_ir_vop op, tk_ir_type t, LLVMValueRef a,
                          LLVMValueRef b) {
  LLVMBuilderRef bld = cm->b;
  bool f = t == TK_T_F32;
  switch (op) {
    case TK_V_ADD: return f ? LLVMBuildFAdd(bld, a, b, "") : LLVMBuildAdd(bld, a, b, "");
    case TK_V_SUB: return f ? LLVMBuildFSub(bld, a, b, "") : LLVMBuildSub(bld, a, b, "");
    case TK_V_MUL: return f ? LLVMBuildFMul(bld, a, b, "") : LLVMBuildMul(bld, a, b, "");
    case TK_V_DIV: return f ? LLVMBuildFDiv(bld, a, b, "") : LLVMBuildSDiv(bld, a, b, "");
    case TK_V_MAX:
    case TK_V_MIN: {
      LLVMValueRef gt = compare(cm, TK_V_GT, t, a, b);
      bool first_a = (op == TK_V_MAX) != tk_cg_mutant_on(cm, "max-arms-swapped");
      LLVMValueRef sel =
          first_a ? LLVMBuildSelect(bld, gt, a, b, "") : LLVMBuildSelect(bld, gt, b, a, "");
      int64_t tag = op;
      tk_cg_tag(cm, sel, TK_IR_MD_VAL, &tag, 1);
      return sel;
    }
    case TK_V_AND: return LLVMBuildAnd(bld, a, b, "");
    case TK_V_OR: return LLVMBuildOr(bld, a, b, "");
    default: return compare(cm, op, t, a, b);
  }
}

static LLVMValueRef unary(tk_cg_module *cm, tk_ir_vop op, tk_ir_type t, LLVMValueRef a) {
  switch (op) {
    case TK_V_NEG: return t == TK_T_F32 ? LLVMBuildFNeg(cm->b, a, "") : LLVMBuildNeg(cm->b, a, "");
    case TK_V_EXP: return tk_cg_math_exp(cm, a);
    case TK_V_TANH: return tk_cg_math_tanh(cm, a);
    case TK_V_ERF: return tk_cg_math_erf(cm, a);
    case TK_V_SQRT: return tk_cg_intrinsic(cm, "llvm.sqrt", cm->f32, &a, 1, "");
    case TK_V_RSQRT:
      return LLVMBuildFDiv(cm->b, LLVMConstReal(cm->f32, 1.0),
                           tk_cg_intrinsic(cm, "llvm.sqrt", cm->f32, &a, 1, ""), "");
    default: return LLVMBuildNot(cm->b, a, "");
  }
}

/* llvm.prefetch (read, all cache levels, data) of each cache line of the loop's span, its
 * distance past p, p a weight's first load in the loop body (once per weight and body): a
 * plain GEP, not inbounds, since near a weight's end it points past the buffer; a prefetch
 * neither faults nor changes memory. Every line of the span is named: with one prefetch per
 * 128-byte x86-64-v4 step, the other line was left to the hardware prefetcher, which lagged
 * (ir/pass_schedule_cpu.c, PREFETCH_BYTES). */
static void prefetch(kern *K, int arg, LLVMValueRef p) {
  for (int i = 0; i < K->nprefetched; i++)
    if (K->prefetched[i] == arg) return;
  if (K->nprefetched == TK_CG_PREFETCH_WEIGHTS) return; /* a hint: the rest go without */
  K->prefetched[K->nprefetched++] = arg;
  tk_cg_module *cm = K->fn.cm;
  const tk_ir_stmt *s = K->prefetching;
  for (int64_t line = 0; line < s->prefetch_span; line += TK_CG_CACHE_LINE_BYTES) {
    LLVMValueRef off = LLVMConstInt(cm->i64, (unsigned long long)(s->prefetch + line), 0);
    LLVMValueRef at =
        LLVMBuildGEP2(cm->b, LLVMInt8TypeInContext(LLVMGetModuleContext(cm->mod)), p, &off, 1, "");
    LLVMValueRef args[4] = {at, LLVMConstInt(cm->i32, 0, 0), LLVMConstInt(cm->i32, 3, 0),
                            LLVMConstInt(cm->i32, 1, 0)};
    tk_cg_intrinsic(cm, "llvm.prefetch", LLVMTypeOf(at), args, 4, "");
  }
}

static tk_status leaf(kern *K, const tk_ir_val *v, LLVMValueRef *out) {
  tk_cg_module *cm = K->fn.cm;
  LLVMValueRef p, i;
  LLVMTypeRef ty;
  switch (v->op) {
    case TK_V_CONST:
      *out = v->type == TK_T_F32
                 ? LLVMConstReal(cm->f32, v->f)
                 : LLVMConstInt(elem_type(cm, v->type), (unsigned long long)v->i, 1);
      return TK_STATUS_OK;
    case TK_V_INDEX:
      TK_RETURN_IF_ERROR(tk_cg_ix(&K->fn, v->ix, &i));
      *out = K->fn.k->index_bits == 64 ? LLVMBuildTrunc(cm->b, i, cm->i32, "") : i;
      return TK_STATUS_OK;
    default: /* LOAD, LOCAL_LOAD */
      TK_RETURN_IF_ERROR(element_ptr(K, v->op == TK_V_LOCAL_LOAD,
                                     v->op == TK_V_LOAD ? v->arg : v->local, v->ix, &p, &ty));
      if (K->prefetching && v->op == TK_V_LOAD && K->fn.k->args[v->arg].role == TK_ROLE_PARAM)
        prefetch(K, v->arg, p);
      *out = LLVMBuildLoad2(cm->b, ty, p, "");
      LLVMSetAlignment(*out, 4);
      return tag_access(K, *out, v, NULL);
  }
}

static tk_status val(kern *K, const tk_ir_val *v, LLVMValueRef *out) {
  if (!v) return fail(K, "missing value");
  if ((*out = memo_get(K, v))) return TK_STATUS_OK;
  tk_cg_module *cm = K->fn.cm;
  int arity = tk_ir_vop_arity(v->op);
  LLVMValueRef a = NULL, b = NULL, c = NULL;
  if (arity >= 1) TK_RETURN_IF_ERROR(val(K, v->a, &a));
  if (arity >= 2) TK_RETURN_IF_ERROR(val(K, v->b, &b));
  if (arity >= 3) TK_RETURN_IF_ERROR(val(K, v->c, &c));
  tk_ir_type ta = arity >= 1 ? v->a->type : v->type;
  if (arity == 0) {
    TK_RETURN_IF_ERROR(leaf(K, v, out));
  } else if (v->op == TK_V_SELECT) {
    *out = LLVMBuildSelect(cm->b, a, b, c, "");
  } else if (v->op == TK_V_FMA) {
    LLVMValueRef ops[3] = {a, b, c};
    *out = v->type == TK_T_F32 ? tk_cg_intrinsic(cm, "llvm.fmuladd", cm->f32, ops, 3, "")
                               : LLVMBuildAdd(cm->b, LLVMBuildMul(cm->b, a, b, ""), c, "");
  } else if (arity == 1) {
    *out = unary(cm, v->op, ta, a);
  } else {
    *out = arith(cm, v->op, ta, a, b);
  }
  return memo_put(K, v, *out);
}

/* ---- statements ---------------------------------------------------------------------- */

static tk_status stmt(kern *K, const tk_ir_stmt *s);

static LLVMBasicBlockRef new_block(kern *K, const char *name) {
  return LLVMAppendBasicBlockInContext(K->fn.cm->c->ctx, K->fn.fn, name);
}

/* Runs the loop body with var bound to `value` and `range`, restoring the outer binding. */
static tk_status with_var(kern *K, const tk_ir_stmt *s, LLVMValueRef value, tk_ix_range range) {
  int id = s->var->id;
  LLVMValueRef saved = K->fn.vars[id];
  tk_ix_range saved_range = K->fn.ranges[id];
  K->fn.vars[id] = value;
  K->fn.ranges[id] = range;
  tk_status st = stmt(K, s->body);
  K->fn.vars[id] = saved;
  K->fn.ranges[id] = saved_range;
  return st;
}

/* for var in [lo, hi): header (phi, test) → body → latch → header; exit. */
static tk_status counted_loop(kern *K, const tk_ir_stmt *s, LLVMValueRef lo, LLVMValueRef hi,
                              tk_ix_range range) {
  LLVMBuilderRef bld = K->fn.cm->b;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(bld);
  LLVMBasicBlockRef head = new_block(K, s->var->name);
  LLVMBasicBlockRef body = new_block(K, "body");
  LLVMBasicBlockRef exit = new_block(K, "end");
  LLVMBuildBr(bld, head);
  LLVMPositionBuilderAtEnd(bld, head);
  LLVMValueRef iv = LLVMBuildPhi(bld, K->fn.ity, s->var->name);
  int64_t var = s->var->id;
  tk_cg_tag(K->fn.cm, iv, TK_IR_MD_VAR, &var, 1);
  bool le = tk_cg_mutant_on(K->fn.cm, "loop-hi-le") && s->binding == TK_BIND_NONE;
  LLVMBuildCondBr(bld, LLVMBuildICmp(bld, le ? LLVMIntSLE : LLVMIntSLT, iv, hi, ""), body, exit);
  LLVMPositionBuilderAtEnd(bld, body);
  TK_RETURN_IF_ERROR(with_var(K, s, iv, range));
  unsigned step = tk_cg_mutant_on(K->fn.cm, "loop-step-2") ? 2 : 1;
  LLVMValueRef next = LLVMBuildNSWAdd(bld, iv, LLVMConstInt(K->fn.ity, step, 0), "");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(bld);
  LLVMBuildBr(bld, head);
  LLVMValueRef in_vals[2] = {lo, next};
  LLVMBasicBlockRef in_blocks[2] = {pre, latch};
  LLVMAddIncoming(iv, in_vals, in_blocks, 2);
  LLVMPositionBuilderAtEnd(bld, exit);
  return TK_STATUS_OK;
}

static LLVMValueRef to_index(kern *K, LLVMValueRef v) {
  LLVMTypeRef from = LLVMTypeOf(v);
  if (from == K->fn.ity) return v;
  return LLVMGetIntTypeWidth(from) > LLVMGetIntTypeWidth(K->fn.ity)
             ? LLVMBuildTrunc(K->fn.cm->b, v, K->fn.ity, "")
             : LLVMBuildSExt(K->fn.cm->b, v, K->fn.ity, "");
}

/* The body once per value of the constant extent, the variable a constant in each copy. */
static tk_status unrolled(kern *K, const tk_ir_stmt *s) {
  int64_t copies = s->extent->c + (tk_cg_mutant_on(K->fn.cm, "unroll-extra") ? 1 : 0);
  if (K->nunrolled + 2 > 2 * TK_IR_ACCESS_MAX_DEPTH) return fail(K, "unrolled loops nest too deep");
  unsigned at = K->nunrolled;
  K->nunrolled += 2;
  K->unrolled[at] = s->var->id;
  tk_status st = TK_STATUS_OK;
  for (int64_t i = 0; !st && i < copies; i++) {
    K->unrolled[at + 1] = i;
    st = with_var(K, s, LLVMConstInt(K->fn.ity, (unsigned long long)i, 1), (tk_ix_range){i, i});
  }
  K->nunrolled = at;
  return st;
}

/* A bound loop's id (GPU targets), tagged with its variable. */
static tk_status bound_id(kern *K, const tk_ir_stmt *s, LLVMValueRef id, tk_ix_range range) {
  LLVMValueRef v = to_index(K, id);
  int64_t var = s->var->id;
  tk_cg_tag(K->fn.cm, v, TK_IR_MD_VAR, &var, 1);
  return with_var(K, s, v, range);
}

static tk_status for_stmt(kern *K, const tk_ir_stmt *s) {
  tk_ix_range er = tk_cg_ix_bounds(&K->fn, s->extent);
  tk_ix_range range = {0, er.hi - 1};
  bool unroll = (s->loop == TK_LOOP_UNROLL || s->loop == TK_LOOP_VECTOR) &&
                s->binding == TK_BIND_NONE && s->extent->kind == TK_IX_CONST &&
                s->extent->c <= TK_CG_UNROLL_MAX;
  if (unroll) return unrolled(K, s);
  LLVMValueRef extent;
  TK_RETURN_IF_ERROR(tk_cg_ix(&K->fn, s->extent, &extent));
  if (s->binding == TK_BIND_NONE) {
    unsigned lo = tk_cg_mutant_on(K->fn.cm, "loop-lo-1") ? 1 : 0;
    /* a loop inside a prefetching loop's body runs several times per iteration: its loads are
     * not prefetched, and the enclosing body's state resumes after it */
    const tk_ir_stmt *outer = K->prefetching;
    int outer_n = K->nprefetched, outer_args[TK_CG_PREFETCH_WEIGHTS];
    memcpy(outer_args, K->prefetched, sizeof outer_args);
    K->prefetching = s->prefetch ? s : NULL;
    K->nprefetched = 0;
    tk_status st = counted_loop(K, s, LLVMConstInt(K->fn.ity, lo, 0), extent, range);
    K->prefetching = outer;
    K->nprefetched = outer_n;
    memcpy(K->prefetched, outer_args, sizeof outer_args);
    return st;
  }
  tk_cg_bound bd = {0};
  TK_RETURN_IF_ERROR(K->fn.cm->target->bind(&K->fn, s->binding, extent, &bd));
  if (bd.id) return bound_id(K, s, bd.id, range);
  /* hi first: a call's arguments run in no fixed order in C, and this is gcc's (the order the
   * instructions had when bundles were first compared across compilers). */
  LLVMValueRef hi = to_index(K, bd.hi);
  return counted_loop(K, s, to_index(K, bd.lo), hi, range);
}

static tk_status if_stmt(kern *K, const tk_ir_stmt *s) {
  static const LLVMIntPredicate pred[] = {
      [TK_CMP_LT] = LLVMIntSLT, [TK_CMP_LE] = LLVMIntSLE, [TK_CMP_EQ] = LLVMIntEQ,
      [TK_CMP_NE] = LLVMIntNE,  [TK_CMP_GE] = LLVMIntSGE, [TK_CMP_GT] = LLVMIntSGT};
  LLVMValueRef l, r;
  K->nmemo = 0; /* the guard's index reads are its own */
  K->cur = s;
  TK_RETURN_IF_ERROR(tk_cg_ix(&K->fn, s->lhs, &l));
  TK_RETURN_IF_ERROR(tk_cg_ix(&K->fn, s->rhs, &r));
  LLVMBuilderRef bld = K->fn.cm->b;
  LLVMBasicBlockRef then = new_block(K, "then"), done = new_block(K, "endif");
  LLVMIntPredicate p = pred[s->cmp];
  if (s->cmp == TK_CMP_LT && tk_cg_mutant_on(K->fn.cm, "guard-lt-le")) p = LLVMIntSLE;
  LLVMValueRef guard = LLVMBuildICmp(bld, p, l, r, "guard");
  int64_t cmp = s->cmp;
  tk_cg_tag(K->fn.cm, guard, TK_IR_MD_GUARD, &cmp, 1);
  if (tk_cg_mutant_on(K->fn.cm, "guard-dropped"))
    LLVMBuildBr(bld, then);
  else
    LLVMBuildCondBr(bld, guard, then, done);
  LLVMPositionBuilderAtEnd(bld, then);
  TK_RETURN_IF_ERROR(stmt(K, s->body));
  LLVMBuildBr(bld, done);
  LLVMPositionBuilderAtEnd(bld, done);
  return TK_STATUS_OK;
}

static tk_status store_stmt(kern *K, const tk_ir_stmt *s) {
  bool local = s->kind == TK_S_LOCAL_STORE;
  LLVMValueRef v, p;
  LLVMTypeRef ty;
  K->nmemo = 0; /* values are shared within one statement only */
  K->cur = s;
  TK_RETURN_IF_ERROR(val(K, s->value, &v));
  TK_RETURN_IF_ERROR(element_ptr(K, local, local ? s->local : s->arg, s->ix, &p, &ty));
  if (LLVMTypeOf(v) != ty) return fail(K, "stored value type differs from the element type");
  LLVMValueRef st = LLVMBuildStore(K->fn.cm->b, v, p);
  LLVMSetAlignment(st, 4);
  return tag_access(K, st, NULL, NULL);
}

static tk_status stmt(kern *K, const tk_ir_stmt *s) {
  if (!s) return fail(K, "missing statement");
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) TK_RETURN_IF_ERROR(stmt(K, s->stmts[i]));
      return TK_STATUS_OK;
    case TK_S_FOR: return for_stmt(K, s);
    case TK_S_IF: return if_stmt(K, s);
    case TK_S_BARRIER:
      if (!K->fn.cm->target->barrier)
        return fail(K, "a workgroup barrier: this target runs no GPU schedule with barriers "
                       "(--gpu-schedule tiled is for amdgcn and nvptx)");
      if (tk_cg_mutant_on(K->fn.cm, "tiled.barrier-dropped")) return TK_STATUS_OK;
      return K->fn.cm->target->barrier(&K->fn);
    default: return store_stmt(K, s);
  }
}

/* ---- the kernel ---------------------------------------------------------------------- */

/* Argument i may be marked noalias when no other argument is bound to its buffer. */
static void alias_flags(const tk_ir_kernel *k, bool *noalias) {
  for (int i = 0; i < k->nargs; i++) {
    noalias[i] = k->args[i].buffer >= 0;
    for (int j = 0; j < k->nargs; j++)
      if (j != i && k->args[j].buffer == k->args[i].buffer) noalias[i] = false;
  }
}

static tk_status emit_body(kern *K) {
  tk_cg_fn *fn = &K->fn;
  const tk_ir_kernel *k = fn->k;
  for (int i = 0; i < k->nlocals; i++) {
    if (k->locals[i].count < 1) return fail(K, "local with no elements");
    if (k->locals[i].shared && !fn->cm->target->barrier)
      return fail(K, "a shared local: this target runs no GPU schedule with shared memory "
                     "(--gpu-schedule tiled is for amdgcn and nvptx)");
    LLVMTypeRef ty =
        LLVMArrayType2(elem_type(fn->cm, k->locals[i].type), (uint64_t)k->locals[i].count);
    bool shared = k->locals[i].shared && !tk_cg_mutant_on(fn->cm, "tiled.shared-as-alloca");
    fn->locals[i] = shared ? tk_cg_gpu_shared_local(fn, i, ty)
                           : LLVMBuildAlloca(fn->cm->b, ty, k->locals[i].name);
  }
  TK_RETURN_IF_ERROR(stmt(K, k->body));
  LLVMBuildRetVoid(fn->cm->b);
  return TK_STATUS_OK;
}

tk_status tk_cg_kernel_emit(tk_cg_module *cm, const tk_ir_kernel *k) {
  if (k->index_bits != 32 && k->index_bits != 64)
    return tk_status_make(TK_INTERNAL, "codegen: kernel %s: index_bits %d, expected 32 or 64",
                          k->name, k->index_bits);
  kern K = {
      .fn = {.cm = cm, .k = k, .ity = k->index_bits == 64 ? cm->i64 : cm->i32, .ix_load = ix_load}};
  int nv = cm->ir->nvars > 0 ? cm->ir->nvars : 1;
  size_t na = k->nargs > 0 ? (size_t)k->nargs : 1, nl = k->nlocals > 0 ? (size_t)k->nlocals : 1;
  K.fn.vars = tk_calloc((size_t)nv, sizeof *K.fn.vars);
  K.fn.ranges = tk_calloc((size_t)nv, sizeof *K.fn.ranges);
  K.fn.bufs = tk_calloc(na, sizeof *K.fn.bufs);
  K.fn.locals = tk_calloc(nl, sizeof *K.fn.locals);
  bool *noalias = tk_calloc(na, sizeof *noalias);
  tk_status st = TK_STATUS_OK;
  if (!K.fn.vars || !K.fn.ranges || !K.fn.bufs || !K.fn.locals || !noalias)
    st = tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: out of memory");
  if (!st) st = tk_ir_kernel_accesses(k, collect_access, &K);
  if (!st) {
    alias_flags(k, noalias);
    st = cm->target->begin_kernel(&K.fn, noalias);
  }
  if (!st) st = emit_body(&K);
  free(K.fn.vars);
  free(K.fn.ranges);
  free(K.fn.bufs);
  free(K.fn.locals);
  free(noalias);
  free(K.memo);
  free(K.acc);
  return tk_status_annotate(st, "while emitting kernel %s", k->name);
}
