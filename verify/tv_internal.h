/* verify/tv_internal.h — private to the translation validator (verify/tv_*.c).
 *
 *   tv_walk.c   one kernel function of the unoptimised module: blocks in reverse post-order,
 *               the path (loop headers, branch conditions, hardware ids) at every instruction,
 *               the loads and stores with their access numbers, and the syntactic checks
 *               (loop shape, structured joins, compare predicates, max/min arms, provenance)
 *   tv_prove.c  LLVM integer values → Z3 Int terms with definedness conditions, and the
 *               `address` / `control` obligations per loop nest; the entry point (tv.h)
 */
#ifndef TK_VERIFY_TV_INTERNAL_H
#define TK_VERIFY_TV_INTERNAL_H

#include <llvm-c/Core.h>

#include "verify/tv.h"
#include "verify/verify_internal.h"

enum { TV_MAX_UNROLL = 16 }; /* (var id, value) pairs of one access's unrolled loops */

typedef enum tv_node_kind {
  TV_COND, /* a branch condition (v, negated on the false edge) */
  TV_LOOP, /* a loop header: lo <= phi (the body's phi < hi is the COND below it) */
  TV_ID,   /* a hardware id call: 0 <= id < its launch range */
  TV_BIND, /* a value tagged tk.var: binds an IR variable, no condition */
} tv_node_kind;

typedef enum tv_hw { TV_HW_NONE, TV_HW_WORKGROUP, TV_HW_THREAD } tv_hw;

/* One conjunct of a path; paths are chains of nodes toward the root (parent -1). */
typedef struct tv_node {
  int parent;
  tv_node_kind kind;
  LLVMValueRef v;  /* COND: the i1 value; LOOP: the phi; ID: the call; BIND: the tagged value */
  bool neg;        /* COND on the false edge */
  bool chunk;      /* the CPU block loop over [begin, end) (and its body test) */
  LLVMValueRef lo; /* LOOP: the value entering from the preheader */
  int var;         /* IR variable id bound here (LOOP, BIND), else -1 */
  tv_hw hw;        /* ID */
} tv_node;

/* A load or store of the function, with its access number and path. */
typedef struct tv_inst {
  int n;
  LLVMValueRef inst;
  int path;
  int nunroll; /* pairs in unroll */
  int64_t unroll[2 * TV_MAX_UNROLL];
} tv_inst;

/* One IR access (tk_ir_kernel_accesses), its path copied. */
typedef struct tv_access {
  tk_ir_mem_access a;
  const tk_ir_stmt *path[TK_IR_ACCESS_MAX_DEPTH];
  int ninst; /* LLVM instances found */
} tv_access;

typedef struct tv_memo_slot {
  LLVMValueRef key;
  Z3_ast term, def;
} tv_memo_slot;

/* The address space of shared locals on both GPU targets (amdgcn LDS, nvptx shared). */
enum { TV_SHARED_AS = 3 };

typedef struct tv_fn {
  tk_vctx *v;
  const tk_ir_kernel *k;
  const char *target; /* codegen target name (static string) */
  bool cpu;           /* a CPU-ABI body (begin, end parameters) */
  LLVMValueRef fn;
  unsigned md_access, md_unroll, md_var, md_val, md_guard, md_math;
  int nblocks, nreach; /* all blocks; those reachable from the entry (rpo's length) */
  LLVMBasicBlockRef *blocks;
  int *rpo;              /* block indices in reverse post-order */
  int *rpo_pos;          /* position of each block in rpo */
  bool *back_pred;       /* per block: some predecessor reaches it by a back edge */
  int *pre_path;         /* per block: for a loop header, the path before its LOOP node */
  int *exit_path;        /* per block: path node at its terminator */
  LLVMValueRef *allocas; /* per local (k->nlocals): the entry block's allocas in order, or,
                            for a shared local, its global "<kernel>.<local>" */
  int nbarriers;         /* calls of a workgroup barrier seen */
  int nnodes, capnodes;
  tv_node *nodes;
  int ninsts, capinsts;
  tv_inst *insts;
  int naccs, capaccs;
  tv_access *accs;
  unsigned f32_ops; /* bit per tk_ir_vop: an f32 compare (or max/min) of that op is in the IR */
  bool oom;         /* a path node could not be allocated */
  size_t memo_cap, memo_n;
  tv_memo_slot *memo;
} tv_fn;

/* ---- tv_walk.c ---- */

/* Fills f's blocks, paths, instances and accesses, and runs the syntactic checks. */
TK_MUST_USE tk_status tk_tv_walk(tv_fn *f);
void tk_tv_fn_free(tv_fn *f);
/* TK_PROOF_FAILED "translation validation: kernel K (target), class C: at `inst`: reason". */
tk_status tk_tv_refuse(const tv_fn *f, tk_obl_class cls, LLVMValueRef inst, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The instruction's text, trimmed to fit n bytes (leading blanks dropped). */
void tk_tv_inst_text(LLVMValueRef inst, char *buf, size_t n);
/* The i32 operands of instruction metadata `kind` (at most cap; returns the count, -1 if absent). */
int tk_tv_md_ints(LLVMValueRef inst, unsigned kind, int64_t *out, int cap);

/* ---- tv_prove.c ---- */

/* The address and control obligations of f's loop nests. */
TK_MUST_USE tk_status tk_tv_prove(tv_fn *f);

#endif /* TK_VERIFY_TV_INTERNAL_H */
