/* verify/tv_walk.c — the translation validator's walk of one kernel function of an
 * unoptimised LLVM module (tv_internal.h).
 *
 * Blocks are visited in reverse post-order of a depth-first search from the entry; an edge to
 * a block on the search stack is a back edge. The path at a block's first instruction is:
 *   entry                    the root (no conjunct);
 *   a loop header            its single forward predecessor's path, then lo <= phi (LOOP);
 *   the exit of a header     the header's path before its LOOP node (the loop terminates and
 *                            its exit is reached exactly when its preheader is);
 *   any other block          the conjunct its in-edge adds (COND on a conditional branch) to
 *                            the predecessor's path; with two predecessors the two in-edges
 *                            must be `c` and `not c` below one common path (an if-then join),
 *                            whose common prefix is then exactly their disjunction.
 * Within a block, a hardware id call adds ID (0 <= id < range) and a value tagged tk.var adds
 * BIND. A loop header must be `phi [lo, pre], [phi + 1, latch]` and `br (icmp slt phi, hi)`
 * with hi defined before the header, its body on the true edge and its exit on the false one.
 * Anything else (other phis, switch, more predecessors) is refused: codegen emits only these.
 *
 * Syntactic checks here (refusals, no solver): provenance on every load and store and on every
 * compare of floats; fcmp predicates per tk.val (LT olt, LE ole, GT ogt, GE oge, EQ oeq,
 * NE une) for ops the IR kernel has as f32 compares; max/min selects take their arms in the
 * IR's order; icmp of values per tk.val (slt, sle, sgt, sge, eq, ne) and guards per tk.guard.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/tv_internal.h"
#include "tk/alloc.h"

void tk_tv_inst_text(LLVMValueRef inst, char *buf, size_t n) {
  char *s = LLVMPrintValueToString(inst);
  const char *p = s ? s : "?";
  while (*p == ' ') p++;
  snprintf(buf, n, "%s", p);
  if (strlen(p) >= n && n > 4) memcpy(buf + n - 4, "...", 4);
  LLVMDisposeMessage(s);
}

tk_status tk_tv_refuse(const tv_fn *f, tk_obl_class cls, LLVMValueRef inst, const char *fmt, ...) {
  char why[512], text[200] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (inst) tk_tv_inst_text(inst, text, sizeof text);
  return tk_status_make(TK_PROOF_FAILED,
                        "translation validation: kernel %s (%s), class %s: at `%s`: %s", f->k->name,
                        f->target, tk_verify_obl_class_name(cls), inst ? text : "(function)", why);
}

int tk_tv_md_ints(LLVMValueRef inst, unsigned kind, int64_t *out, int cap) {
  LLVMValueRef md = LLVMGetMetadata(inst, kind);
  if (!md) return -1;
  unsigned n = LLVMGetMDNodeNumOperands(md);
  LLVMValueRef ops[2 * TV_MAX_UNROLL + 2];
  if (n > sizeof ops / sizeof ops[0]) return (int)n; /* callers check n <= cap */
  LLVMGetMDNodeOperands(md, ops);
  for (unsigned i = 0; i < n && (int)i < cap; i++)
    out[i] = ops[i] && LLVMIsAConstantInt(ops[i]) ? LLVMConstIntGetSExtValue(ops[i]) : -1;
  return (int)n;
}

static tk_status oom(const tv_fn *f) {
  return tk_status_make(TK_RESOURCE_EXHAUSTED, "translation validation: out of memory in kernel %s",
                        f->k->name);
}

static bool grow(void **items, int *cap, int n, size_t elem) {
  if (n < *cap) return true;
  int ncap = *cap ? 2 * *cap : 64;
  void *p = tk_realloc(*items, (size_t)ncap * elem);
  if (!p) return false;
  *items = p;
  *cap = ncap;
  return true;
}

/* The new node's index; on allocation failure f->oom is set and the parent returned. */
static int new_node(tv_fn *f, tv_node n) {
  if (!grow((void **)&f->nodes, &f->capnodes, f->nnodes, sizeof *f->nodes)) {
    f->oom = true;
    return n.parent;
  }
  f->nodes[f->nnodes] = n;
  return f->nnodes++;
}

/* ---- the CFG ---- */

static int block_index(const tv_fn *f, LLVMBasicBlockRef b) {
  for (int i = 0; i < f->nblocks; i++)
    if (f->blocks[i] == b) return i;
  return -1;
}

static unsigned nsucc(LLVMBasicBlockRef b) {
  LLVMValueRef t = LLVMGetBasicBlockTerminator(b);
  return t ? LLVMGetNumSuccessors(t) : 0;
}

/* Depth-first search from the entry: post-order into rpo (reversed after), back edges marked. */
static tk_status order_blocks(tv_fn *f) {
  int n = f->nblocks, top = 0, done = 0;
  int *stack = tk_calloc((size_t)n, sizeof *stack), *next = tk_calloc((size_t)n, sizeof *next);
  char *state = tk_calloc((size_t)n, 1); /* 0 new, 1 on stack, 2 finished */
  if (!stack || !next || !state) {
    free(stack);
    free(next);
    free(state);
    return oom(f);
  }
  stack[top++] = 0;
  state[0] = 1;
  while (top) {
    int b = stack[top - 1];
    LLVMValueRef t = LLVMGetBasicBlockTerminator(f->blocks[b]);
    if ((unsigned)next[b] < nsucc(f->blocks[b])) {
      int s = block_index(f, LLVMGetSuccessor(t, (unsigned)next[b]++));
      if (s < 0) continue;
      if (state[s] == 1) f->back_pred[s] = true;
      if (state[s] == 0) {
        state[s] = 1;
        stack[top++] = s;
      }
      continue;
    }
    state[b] = 2;
    f->rpo[done++] = b;
    top--;
  }
  for (int i = 0; i < done / 2; i++) {
    int t = f->rpo[i];
    f->rpo[i] = f->rpo[done - 1 - i];
    f->rpo[done - 1 - i] = t;
  }
  for (int i = 0; i < n; i++) f->rpo_pos[i] = -1;
  for (int i = 0; i < done; i++) f->rpo_pos[f->rpo[i]] = i;
  f->nreach = done; /* unreachable blocks are never executed */
  free(stack);
  free(next);
  free(state);
  return TK_STATUS_OK;
}

/* ---- paths ---- */

static bool is_header(const tv_fn *f, int b) { return f->back_pred[b]; }

/* The path pred's edge into block b contributes (a new COND node on a conditional branch). */
static int edge_path(tv_fn *f, int pred, int b) {
  LLVMValueRef t = LLVMGetBasicBlockTerminator(f->blocks[pred]);
  bool cond = LLVMIsConditional(t);
  if (!cond) return f->exit_path[pred];
  bool on_false = LLVMGetSuccessor(t, 1) == f->blocks[b];
  if (is_header(f, pred) && on_false) return f->pre_path[pred];
  int from = f->exit_path[pred];
  bool chunk = is_header(f, pred) && from >= 0 && f->nodes[from].chunk;
  return new_node(f, (tv_node){.parent = from,
                               .kind = TV_COND,
                               .v = LLVMGetCondition(t),
                               .neg = on_false,
                               .chunk = chunk,
                               .var = -1});
}

/* Path of a join of two in-edges: they must be `c` and `not c` directly below one path. */
static tk_status join(tv_fn *f, int b, int p1, int p2, int *out) {
  const tv_node *a = p1 >= 0 ? &f->nodes[p1] : NULL, *c = p2 >= 0 ? &f->nodes[p2] : NULL;
  if (a && c && a->kind == TV_COND && c->kind == TV_COND && a->v == c->v && a->neg != c->neg &&
      a->parent == c->parent) {
    *out = a->parent;
    return TK_STATUS_OK;
  }
  return tk_tv_refuse(f, TK_OBL_CONTROL, LLVMGetFirstInstruction(f->blocks[b]),
                      "a join whose in-edges are not an if-then's `c` and `not c`");
}

/* The path at the first instruction of a non-header block. */
static tk_status block_path(tv_fn *f, int b, int *out) {
  int npred = 0, paths[2];
  for (int i = 0; i < f->nreach; i++) {
    int p = f->rpo[i];
    LLVMValueRef t = LLVMGetBasicBlockTerminator(f->blocks[p]);
    for (unsigned s = 0; t && s < LLVMGetNumSuccessors(t); s++) {
      if (LLVMGetSuccessor(t, s) != f->blocks[b]) continue;
      if (f->rpo_pos[p] >= f->rpo_pos[b]) continue; /* a back edge: the header's own */
      if (npred == 2)
        return tk_tv_refuse(f, TK_OBL_CONTROL, LLVMGetFirstInstruction(f->blocks[b]),
                            "a block with more than two forward predecessors");
      paths[npred++] = edge_path(f, p, b);
      if (f->oom) return oom(f);
    }
  }
  if (npred == 0) {
    *out = -1;
    return TK_STATUS_OK;
  }
  if (npred == 1) {
    *out = paths[0];
    return TK_STATUS_OK;
  }
  return join(f, b, paths[0], paths[1], out);
}

/* The defining block of v is before the header in reverse post-order (or v is no instruction). */
static bool defined_before(const tv_fn *f, LLVMValueRef v, int header) {
  if (!LLVMIsAInstruction(v)) return true;
  int b = block_index(f, LLVMGetInstructionParent(v));
  return b >= 0 && f->rpo_pos[b] < f->rpo_pos[header];
}

static bool is_const(LLVMValueRef v, long long c) {
  return v && LLVMIsAConstantInt(v) && LLVMConstIntGetSExtValue(v) == c;
}

static LLVMValueRef strip_cast(LLVMValueRef v) {
  while (v && LLVMIsAInstruction(v) &&
         (LLVMGetInstructionOpcode(v) == LLVMTrunc || LLVMGetInstructionOpcode(v) == LLVMSExt))
    v = LLVMGetOperand(v, 0);
  return v;
}

/* A loop header (entered with path `pre_path`): checks the counted-loop shape and adds its
 * LOOP node. */
static tk_status header(tv_fn *f, int b, int pre_path, int *path) {
  LLVMBasicBlockRef bb = f->blocks[b];
  LLVMValueRef phi = LLVMGetFirstInstruction(bb), t = LLVMGetBasicBlockTerminator(bb);
  if (!phi || LLVMGetInstructionOpcode(phi) != LLVMPHI || LLVMCountIncoming(phi) != 2)
    return tk_tv_refuse(f, TK_OBL_CONTROL, phi, "a loop header without one two-way phi");
  int pre = -1, latch = -1;
  LLVMValueRef lo = NULL, next = NULL;
  for (unsigned i = 0; i < 2; i++) {
    int p = block_index(f, LLVMGetIncomingBlock(phi, i));
    if (p >= 0 && f->rpo_pos[p] >= 0 && f->rpo_pos[p] < f->rpo_pos[b]) {
      pre = p;
      lo = LLVMGetIncomingValue(phi, i);
    } else {
      latch = p;
      next = LLVMGetIncomingValue(phi, i);
    }
  }
  if (pre < 0 || latch < 0)
    return tk_tv_refuse(f, TK_OBL_CONTROL, phi,
                        "a loop header without one preheader and one latch");
  if (!next || !LLVMIsAInstruction(next) || LLVMGetInstructionOpcode(next) != LLVMAdd ||
      LLVMGetOperand(next, 0) != phi || !is_const(LLVMGetOperand(next, 1), 1))
    return tk_tv_refuse(f, TK_OBL_CONTROL, next ? next : phi,
                        "the loop's back-edge value is not phi + 1 (step 1)");
  LLVMValueRef test = t && LLVMIsConditional(t) ? LLVMGetCondition(t) : NULL;
  if (!test || !LLVMIsAICmpInst(test) || LLVMGetICmpPredicate(test) != LLVMIntSLT ||
      LLVMGetOperand(test, 0) != phi || !defined_before(f, LLVMGetOperand(test, 1), b))
    return tk_tv_refuse(f, TK_OBL_CONTROL, test ? test : t,
                        "the loop test is not `icmp slt phi, hi` with hi defined before the loop");
  if (LLVMGetSuccessor(t, 0) == bb || LLVMGetSuccessor(t, 1) == bb)
    return tk_tv_refuse(f, TK_OBL_CONTROL, t, "a loop header branching to itself");
  f->pre_path[b] = pre_path;
  int64_t var = -1;
  if (tk_tv_md_ints(phi, f->md_var, &var, 1) != 1)
    return tk_tv_refuse(f, TK_OBL_CONTROL, phi, "a loop phi without tk.var provenance");
  unsigned n = (unsigned)f->k->nargs;
  bool chunk = f->cpu && strip_cast(lo) == LLVMGetParam(f->fn, n + 2) &&
               strip_cast(LLVMGetOperand(test, 1)) == LLVMGetParam(f->fn, n + 3);
  *path = new_node(f, (tv_node){.parent = f->pre_path[b],
                                .kind = TV_LOOP,
                                .v = phi,
                                .lo = lo,
                                .chunk = chunk,
                                .var = (int)var});
  return f->oom ? oom(f) : TK_STATUS_OK;
}

/* ---- instructions ---- */

static tv_hw hw_of(LLVMValueRef call) {
  LLVMValueRef callee = LLVMGetCalledValue(call);
  size_t len = 0;
  const char *name = callee ? LLVMGetValueName2(callee, &len) : "";
  if (!strcmp(name, "llvm.amdgcn.workgroup.id.x") ||
      !strcmp(name, "llvm.nvvm.read.ptx.sreg.ctaid.x"))
    return TV_HW_WORKGROUP;
  if (!strcmp(name, "llvm.amdgcn.workitem.id.x") || !strcmp(name, "llvm.nvvm.read.ptx.sreg.tid.x"))
    return TV_HW_THREAD;
  return TV_HW_NONE;
}

/* A call of a workgroup barrier: nvptx's intrinsic, or amdgcn's helper (codegen's
 * cg_target_amdgcn.c: fences of workgroup scope around llvm.amdgcn.s.barrier). */
static bool is_barrier(LLVMValueRef call) {
  LLVMValueRef callee = LLVMGetCalledValue(call);
  size_t len = 0;
  const char *name = callee ? LLVMGetValueName2(callee, &len) : "";
  return !strcmp(name, "llvm.nvvm.barrier0") || !strcmp(name, "tk.workgroup_barrier");
}

static tk_status record_inst(tv_fn *f, LLVMValueRef inst, int path) {
  int64_t n = -1;
  if (tk_tv_md_ints(inst, f->md_access, &n, 1) != 1 || n < 0 || n >= f->naccs)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, inst,
                        "a load or store without tk.access provenance of an IR access");
  if (!grow((void **)&f->insts, &f->capinsts, f->ninsts, sizeof *f->insts)) return oom(f);
  tv_inst *r = &f->insts[f->ninsts++];
  memset(r, 0, sizeof *r);
  r->n = (int)n;
  r->inst = inst;
  r->path = path;
  int m = tk_tv_md_ints(inst, f->md_unroll, r->unroll, 2 * TV_MAX_UNROLL);
  if (m > 2 * TV_MAX_UNROLL || (m > 0 && m % 2))
    return tk_tv_refuse(f, TK_OBL_CONTROL, inst, "malformed tk.unroll provenance");
  r->nunroll = m > 0 ? m / 2 : 0;
  f->accs[n].ninst++;
  return TK_STATUS_OK;
}

static const LLVMRealPredicate FCMP_OF[] = {LLVMRealOLT, LLVMRealOLE, LLVMRealOGT,
                                            LLVMRealOGE, LLVMRealOEQ, LLVMRealUNE};
static const LLVMIntPredicate ICMP_OF[] = {LLVMIntSLT, LLVMIntSLE, LLVMIntSGT,
                                           LLVMIntSGE, LLVMIntEQ,  LLVMIntNE};

static bool is_value_compare(int64_t op) { return op >= TK_V_LT && op <= TK_V_NE; }

static tk_status check_fcmp(tv_fn *f, LLVMValueRef inst) {
  int64_t op = -1;
  if (tk_tv_md_ints(inst, f->md_math, &op, 0) >= 0) return TK_STATUS_OK;
  if (tk_tv_md_ints(inst, f->md_val, &op, 1) != 1 || !is_value_compare(op))
    return tk_tv_refuse(f, TK_OBL_CONTROL, inst, "an fcmp without tk.val provenance");
  if (!(f->f32_ops & (1u << op)))
    return tk_tv_refuse(f, TK_OBL_CONTROL, inst, "the IR kernel has no f32 `%s` compare",
                        tk_ir_vop_name((tk_ir_vop)op));
  if (LLVMGetFCmpPredicate(inst) != FCMP_OF[op - TK_V_LT])
    return tk_tv_refuse(f, TK_OBL_CONTROL, inst,
                        "the IR's f32 `%s` is the ordered/unordered, strict/non-strict predicate "
                        "%d of LLVMRealPredicate, found %d",
                        tk_ir_vop_name((tk_ir_vop)op), (int)FCMP_OF[op - TK_V_LT],
                        (int)LLVMGetFCmpPredicate(inst));
  return TK_STATUS_OK;
}

static tk_status check_icmp(tv_fn *f, LLVMValueRef inst) {
  static const LLVMIntPredicate guard_pred[] = {
      [TK_CMP_LT] = LLVMIntSLT, [TK_CMP_LE] = LLVMIntSLE, [TK_CMP_EQ] = LLVMIntEQ,
      [TK_CMP_NE] = LLVMIntNE,  [TK_CMP_GE] = LLVMIntSGE, [TK_CMP_GT] = LLVMIntSGT};
  int64_t op = -1;
  if (tk_tv_md_ints(inst, f->md_val, &op, 1) == 1 &&
      (!is_value_compare(op) || LLVMGetICmpPredicate(inst) != ICMP_OF[op - TK_V_LT]))
    return tk_tv_refuse(f, TK_OBL_CONTROL, inst, "an integer `%s` with another predicate",
                        is_value_compare(op) ? tk_ir_vop_name((tk_ir_vop)op) : "?");
  if (tk_tv_md_ints(inst, f->md_guard, &op, 1) == 1 &&
      (op < TK_CMP_LT || op > TK_CMP_GT || LLVMGetICmpPredicate(inst) != guard_pred[op]))
    return tk_tv_refuse(f, TK_OBL_CONTROL, inst, "a guard whose predicate is not the IR's");
  return TK_STATUS_OK;
}

/* select(gt(x, y), x, y) for max, select(gt(x, y), y, x) for min. */
static tk_status check_select(tv_fn *f, LLVMValueRef inst) {
  int64_t op = -1;
  if (tk_tv_md_ints(inst, f->md_val, &op, 1) != 1) return TK_STATUS_OK;
  LLVMValueRef c = LLVMGetOperand(inst, 0);
  int64_t cop = -1;
  bool ok = (op == TK_V_MAX || op == TK_V_MIN) && LLVMIsAInstruction(c) &&
            tk_tv_md_ints(c, f->md_val, &cop, 1) == 1 && cop == TK_V_GT;
  if (ok) {
    LLVMValueRef x = LLVMGetOperand(c, 0), y = LLVMGetOperand(c, 1);
    LLVMValueRef first = op == TK_V_MAX ? x : y, second = op == TK_V_MAX ? y : x;
    ok = LLVMGetOperand(inst, 1) == first && LLVMGetOperand(inst, 2) == second;
  }
  return ok ? TK_STATUS_OK
            : tk_tv_refuse(f, TK_OBL_CONTROL, inst,
                           "a %s select whose arms are not in the IR's order (max: a > b ? a : b)",
                           op == TK_V_MIN ? "min" : "max");
}

static tk_status instruction(tv_fn *f, int b, LLVMValueRef inst, int *path) {
  LLVMOpcode op = LLVMGetInstructionOpcode(inst);
  int64_t var = -1;
  switch (op) {
    case LLVMPHI:
      if (inst != LLVMGetFirstInstruction(f->blocks[b]) || !is_header(f, b))
        return tk_tv_refuse(f, TK_OBL_CONTROL, inst, "a phi that is not a counted loop's");
      return TK_STATUS_OK;
    case LLVMLoad:
    case LLVMStore: return record_inst(f, inst, *path);
    case LLVMFCmp: return check_fcmp(f, inst);
    case LLVMICmp: TK_RETURN_IF_ERROR(check_icmp(f, inst)); break;
    case LLVMSelect: TK_RETURN_IF_ERROR(check_select(f, inst)); break;
    case LLVMCall: {
      f->nbarriers += is_barrier(inst);
      tv_hw hw = hw_of(inst);
      if (hw == TV_HW_NONE) return TK_STATUS_OK;
      *path =
          new_node(f, (tv_node){.parent = *path, .kind = TV_ID, .v = inst, .hw = hw, .var = -1});
      if (f->oom) return oom(f);
      break;
    }
    case LLVMSwitch:
    case LLVMIndirectBr: return tk_tv_refuse(f, TK_OBL_CONTROL, inst, "control flow other than br");
    default: break;
  }
  if (tk_tv_md_ints(inst, f->md_var, &var, 1) == 1) {
    *path = new_node(f, (tv_node){.parent = *path, .kind = TV_BIND, .v = inst, .var = (int)var});
    if (f->oom) return oom(f);
  }
  return TK_STATUS_OK;
}

static tk_status visit_block(tv_fn *f, int b) {
  int path;
  if (b == f->rpo[0]) {
    path = -1;
  } else if (is_header(f, b)) {
    int pre = -1;
    TK_RETURN_IF_ERROR(block_path(f, b, &pre));
    TK_RETURN_IF_ERROR(header(f, b, pre, &path));
  } else {
    TK_RETURN_IF_ERROR(block_path(f, b, &path));
  }
  for (LLVMValueRef i = LLVMGetFirstInstruction(f->blocks[b]); i; i = LLVMGetNextInstruction(i))
    TK_RETURN_IF_ERROR(instruction(f, b, i, &path));
  f->exit_path[b] = path;
  return TK_STATUS_OK;
}

/* ---- setup ---- */

static tk_status collect_access(const tk_ir_mem_access *a, void *user) {
  tv_fn *f = user;
  if (!grow((void **)&f->accs, &f->capaccs, f->naccs, sizeof *f->accs)) return oom(f);
  tv_access *t = &f->accs[f->naccs++];
  memset(t, 0, sizeof *t);
  t->a = *a;
  for (int i = 0; i < a->depth; i++) t->path[i] = a->path[i];
  t->a.path = NULL; /* the copy in t->path is the one to use */
  return TK_STATUS_OK;
}

static void note_f32_op(const tk_ir_val *v, const tk_ir_stmt *owner, void *user) {
  (void)owner;
  unsigned *ops = user;
  bool f32 = tk_ir_vop_arity(v->op) >= 2 && v->a && v->a->type == TK_T_F32;
  if (!f32) return;
  if (is_value_compare(v->op)) *ops |= 1u << v->op;
  if (v->op == TK_V_MAX || v->op == TK_V_MIN) *ops |= 1u << TK_V_GT;
}

static unsigned md_kind(tv_fn *f, const char *name) {
  return LLVMGetMDKindIDInContext(LLVMGetTypeContext(LLVMTypeOf(f->fn)), name,
                                  (unsigned)strlen(name));
}

/* The index of the n-th private local (not shared), or k->nlocals. */
static int private_local(const tk_ir_kernel *k, int n) {
  int l = 0;
  for (; l < k->nlocals; l++)
    if (!k->locals[l].shared && n-- == 0) break;
  return l;
}

/* A shared local's global: "<kernel>.<local>", internal, in addrspace(3) (amdgcn LDS, nvptx
 * .shared); its type is checked with each access (check_base). */
static tk_status shared_global(tv_fn *f, int l) {
  char name[256];
  snprintf(name, sizeof name, "%s.%s", f->k->name, f->k->locals[l].name);
  LLVMValueRef g = LLVMGetNamedGlobal(LLVMGetGlobalParent(f->fn), name);
  if (!g || LLVMGetLinkage(g) != LLVMInternalLinkage ||
      LLVMGetPointerAddressSpace(LLVMTypeOf(g)) != TV_SHARED_AS)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, g,
                        "shared local %s: no internal addrspace(%d) global @%s in the module",
                        f->k->locals[l].name, TV_SHARED_AS, name);
  f->allocas[l] = g;
  return TK_STATUS_OK;
}

static tk_status collect_allocas(tv_fn *f) {
  int n = 0, nprivate = 0;
  for (int l = 0; l < f->k->nlocals; l++)
    if (f->k->locals[l].shared)
      TK_RETURN_IF_ERROR(shared_global(f, l));
    else
      nprivate++;
  for (LLVMValueRef i = LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(f->fn)); i;
       i = LLVMGetNextInstruction(i))
    if (LLVMIsAAllocaInst(i)) {
      if (n == nprivate) return tk_tv_refuse(f, TK_OBL_ADDRESS, i, "more allocas than locals");
      f->allocas[private_local(f->k, n++)] = i;
    }
  if (n != nprivate)
    return tk_tv_refuse(f, TK_OBL_ADDRESS, NULL,
                        "%d allocas in the entry block for %d private locals", n, nprivate);
  return TK_STATUS_OK;
}

/* The barrier calls the kernel's IR makes: one per barrier statement, times the extents of
 * the unrolled loops around it (codegen copies their bodies). */
static int64_t barrier_calls(const tk_ir_stmt *s) {
  if (!s) return 0;
  switch (s->kind) {
    case TK_S_BARRIER: return 1;
    case TK_S_BLOCK: {
      int64_t n = 0;
      for (int i = 0; i < s->n; i++) n += barrier_calls(s->stmts[i]);
      return n;
    }
    case TK_S_FOR: return barrier_calls(s->body) * (s->loop == TK_LOOP_UNROLL ? s->extent->c : 1);
    case TK_S_IF: return barrier_calls(s->body);
    default: return 0;
  }
}

static tk_status check_barriers(const tv_fn *f) {
  int64_t want = barrier_calls(f->k->body);
  if (f->nbarriers == want) return TK_STATUS_OK;
  return tk_tv_refuse(f, TK_OBL_CONTROL, NULL,
                      "%d workgroup barrier calls in the function for %lld barriers of the IR",
                      f->nbarriers, (long long)want);
}

static tk_status alloc_tables(tv_fn *f) {
  size_t n = (size_t)f->nblocks;
  f->blocks = tk_calloc(n, sizeof *f->blocks);
  f->rpo = tk_calloc(n, sizeof *f->rpo);
  f->rpo_pos = tk_calloc(n, sizeof *f->rpo_pos);
  f->back_pred = tk_calloc(n, sizeof *f->back_pred);
  f->pre_path = tk_calloc(n, sizeof *f->pre_path);
  f->exit_path = tk_calloc(n, sizeof *f->exit_path);
  f->allocas = tk_calloc((size_t)(f->k->nlocals > 0 ? f->k->nlocals : 1), sizeof *f->allocas);
  if (!f->blocks || !f->rpo || !f->rpo_pos || !f->back_pred || !f->pre_path || !f->exit_path ||
      !f->allocas)
    return oom(f);
  LLVMGetBasicBlocks(f->fn, f->blocks);
  return TK_STATUS_OK;
}

tk_status tk_tv_walk(tv_fn *f) {
  f->md_access = md_kind(f, TK_IR_MD_ACCESS);
  f->md_unroll = md_kind(f, TK_IR_MD_UNROLL);
  f->md_var = md_kind(f, TK_IR_MD_VAR);
  f->md_val = md_kind(f, TK_IR_MD_VAL);
  f->md_guard = md_kind(f, TK_IR_MD_GUARD);
  f->md_math = md_kind(f, TK_IR_MD_MATH);
  f->nblocks = (int)LLVMCountBasicBlocks(f->fn);
  if (f->nblocks < 1) return tk_tv_refuse(f, TK_OBL_CONTROL, NULL, "a kernel without a body");
  TK_RETURN_IF_ERROR(alloc_tables(f));
  TK_RETURN_IF_ERROR(tk_ir_kernel_accesses(f->k, collect_access, f));
  tk_ir_walk_vals(f->k->body, note_f32_op, &f->f32_ops);
  TK_RETURN_IF_ERROR(collect_allocas(f));
  TK_RETURN_IF_ERROR(order_blocks(f));
  for (int i = 0; i < f->nreach; i++) TK_RETURN_IF_ERROR(visit_block(f, f->rpo[i]));
  return check_barriers(f);
}

void tk_tv_fn_free(tv_fn *f) {
  free(f->blocks);
  free(f->rpo);
  free(f->rpo_pos);
  free(f->back_pred);
  free(f->pre_path);
  free(f->exit_path);
  free(f->allocas);
  free(f->nodes);
  free(f->insts);
  free(f->accs);
  free(f->memo);
}
