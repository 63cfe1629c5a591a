/* tk-ir-api: stable */
/* ir/ir.h — the contract-carrying IR of tkc (docs/ir.md): data structures, builders,
 * queries, printer, structural checker and pass entry points.
 *
 * What a module holds, stage by stage (tk_ir_stage):
 *   GRAPH   tensors + ops (linear, layernorm, gelu, softmax, topk_mask, moe_combine,
 *           pad_rows, slice_rows, add) with contracts; produced by compiler/lower.
 *   PADDED  pad_rows/slice_rows folded away: consumers of the padded input read the caller's
 *           B-row input with rows clamped (tk_ir_operand.row_clamp), producers of a sliced
 *           output write only rows < B of the caller's output (tk_ir_operand.row_limit).
 *   FUSED   m->kernels: target-independent fused kernels, each a list of PHASES. A phase is a
 *           parallel iteration space (1 dim `r` over rows, or 2 dims `r, j`) plus a per-point
 *           body. Phases of one kernel run in order; at row `r` a later phase reads only what
 *           earlier phases wrote at row `r` (row-local, see contract ROW_LOCAL).
 *   PLANNED every kernel argument bound to a physical buffer of m->buffers (reuse between
 *           layers; sizes as tk_ix in Bp).
 *   GPU/CPU m->targets[TK_TARGET_GPU|CPU].kernels: SCHEDULED kernels. One scheduled kernel is
 *           one launch / one entry point; its `body` is a single statement tree whose outer
 *           loops carry the parallel binding (workgroup_x/thread_x, or cpu_block). GPU: one
 *           scheduled kernel per phase (a phase boundary is a global barrier). CPU: one
 *           scheduled kernel per fused kernel (all phases inside the cpu_block loop, since
 *           phases are row-local and a cpu_block owns whole rows).
 *   Every later stage keeps the earlier data (the graph stays, fused kernels stay).
 *
 * Index maps. Every LOAD/STORE/LOCAL_LOAD/LOCAL_STORE index is a tk_ix: an immutable integer
 * expression over loop variables and the symbols B, Bp (CONST, SYM, VAR, ADD, SUB, MUL by a
 * constant, MIN, MAX, floor DIV and MOD by a positive constant). Buffers are flat, row-major,
 * batch outermost: element (r, c) of a [rows, C] buffer is at r*C + c. The padding clamp is
 * MIN(r, B-1) (written min(r, B - 1)). What the verifier proves is exactly these tk_ix trees,
 * and codegen lowers exactly these trees, in the kernel's index_bits integer width.
 *
 * Loop semantics: FOR var in [0, extent) — lower bound always 0, step 1. Loops with a binding
 * are the launch's parallel space: for GPU, FOR(wg, grid, workgroup_x){FOR(t, WG, thread_x)}
 * with WG == kernel->launch.workgroup_size and grid == kernel->launch.grid (a tk_ix of B/Bp
 * that the host stub computes); for CPU, FOR(rb, blocks, cpu_block) where the launcher hands
 * each worker a [begin, end) range of rb. Locals are private to one point of the bound
 * (parallel) loops — a GPU thread, a CPU block iteration — or, in a fused kernel, to one point
 * of a phase's space; they are uninitialised until stored.
 *
 * Weights: kernels index every weight in its STORED layout (arch weight_layout): in_out
 * W[k*N + j], out_in W[j*K + k]; there is no repacking step, the runtime passes checkpoint
 * tensors as they are (aligned copies).
 *
 * Memory: every node lives in the module's arena; tk_ir_module_free releases everything.
 * Nothing here has global mutable state. Builders never fail loudly: on allocation failure
 * they return NULL and mark the module failed; tk_ir_module_status reports it (sticky).
 * All structs below are read-only to consumers (verifier, codegen, host stub): build and
 * change them only through the builder functions and passes.
 */
#ifndef TK_IR_IR_H
#define TK_IR_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/arch.h"
#include "tk/status.h"

typedef struct tk_ir_module tk_ir_module;
typedef struct tk_ir_var tk_ir_var;
typedef struct tk_ir_stmt tk_ir_stmt;
typedef struct tk_ir_val tk_ir_val;

/* ==== Element types =========================================================================== */

typedef enum tk_ir_type {
  TK_T_F32,  /* buffers, values, locals */
  TK_T_I32,  /* buffers (the top-K keep mask), values, locals */
  TK_T_BOOL, /* values and locals only (never a buffer element) */
} tk_ir_type;
const char *tk_ir_type_name(tk_ir_type t); /* "f32", "i32", "bool" */

/* ==== Index expressions ======================================================================= */

typedef enum tk_ix_kind {
  TK_IX_CONST, /* c */
  TK_IX_SYM,   /* sym: B or Bp */
  TK_IX_VAR,   /* var: a loop variable */
  TK_IX_ADD,   /* a + b */
  TK_IX_SUB,   /* a - b */
  TK_IX_MUL,   /* a * c          (c a constant, may be negative; never 0 or 1 after folding) */
  TK_IX_MIN,   /* min(a, b) */
  TK_IX_MAX,   /* max(a, b) */
  TK_IX_DIV,   /* floor(a / c)   (c > 0) */
  TK_IX_MOD,   /* a - c*floor(a / c), in [0, c)   (c > 0) */
  TK_IX_LOAD,  /* %arg[a]: the element at index a of the kernel's i32 buffer argument `arg`
                  (sparse dispatch reads its row lists and slots so). The value is data: the
                  verifier knows of it only what the kernel's contracts say of that argument's
                  values; never in a launch grid, loop extent, tensor dim or contract. */
} tk_ix_kind;

typedef enum tk_ix_symbol { TK_SYM_B, TK_SYM_BP } tk_ix_symbol;

typedef struct tk_ix {
  tk_ix_kind kind;
  int64_t c;                 /* CONST value; MUL/DIV/MOD constant */
  tk_ix_symbol sym;          /* SYM */
  const tk_ir_var *var;      /* VAR */
  const struct tk_ix *a, *b; /* operands (b unused for MUL/DIV/MOD/LOAD; LOAD: a the index) */
  int arg;                   /* LOAD: index in kernel->args */
  const char *arg_name;      /* LOAD: that argument's name (the text form) */
} tk_ix;

/* Constructors fold constants (c+c, x+0, x*1, x*0, min/max of constants, div/mod of a
 * constant, (x*c) div c when c > 0) and otherwise build the node. NULL in → NULL out. */
const tk_ix *tk_ir_ix_const(tk_ir_module *m, int64_t c);
const tk_ix *tk_ir_ix_sym(tk_ir_module *m, tk_ix_symbol s);
const tk_ix *tk_ir_ix_var(tk_ir_module *m, const tk_ir_var *v);
const tk_ix *tk_ir_ix_add(tk_ir_module *m, const tk_ix *a, const tk_ix *b);
const tk_ix *tk_ir_ix_sub(tk_ir_module *m, const tk_ix *a, const tk_ix *b);
const tk_ix *tk_ir_ix_mul(tk_ir_module *m, const tk_ix *a, int64_t c);
const tk_ix *tk_ir_ix_min(tk_ir_module *m, const tk_ix *a, const tk_ix *b);
const tk_ix *tk_ir_ix_max(tk_ir_module *m, const tk_ix *a, const tk_ix *b);
const tk_ix *tk_ir_ix_div(tk_ir_module *m, const tk_ix *a, int64_t c); /* c > 0 */
const tk_ix *tk_ir_ix_mod(tk_ir_module *m, const tk_ix *a, int64_t c); /* c > 0 */
/* %name[ix], name = kernel->args[arg].name: an i32 argument the kernel reads (tk_ir_verify). */
const tk_ix *tk_ir_ix_load(tk_ir_module *m, int arg, const char *name, const tk_ix *ix);
/* a*C + b, the row-major address of (a, b) in a buffer with C columns. */
const tk_ix *tk_ir_ix_rowmajor(tk_ir_module *m, const tk_ix *row, int64_t cols, const tk_ix *col);
/* min(r, B - 1): the padding clamp (docs/formats.md §3). */
const tk_ix *tk_ir_ix_clamp_row(tk_ir_module *m, const tk_ix *row);

/* An environment for evaluation: B, Bp, a value per variable id (vals[var->id]) and, for
 * LOAD, the element reader (NULL where the expression has no LOAD: a LOAD then reads 0). */
typedef int64_t (*tk_ix_load_fn)(const void *ctx, int arg, int64_t index);
typedef struct tk_ix_env {
  int64_t B, Bp;
  const int64_t *vals; /* indexed by tk_ir_var.id; at least tk_ir_module.nvars entries */
  tk_ix_load_fn load;
  const void *load_ctx;
} tk_ix_env;
int64_t tk_ir_ix_eval(const tk_ix *e, const tk_ix_env *env);
/* Bp as docs/formats.md §3 defines it: max(Q, Q*ceil(B/Q)), Q = TK_PAD_QUANTUM (tk/launch.h). */
int64_t tk_ir_ix_bp_of(int64_t B);

/* Structural equality (same tree shape, constants, symbols and variables). */
bool tk_ir_ix_equal(const tk_ix *a, const tk_ix *b);
/* True if the expression mentions variable v (or, with v NULL, any variable). */
bool tk_ir_ix_uses_var(const tk_ix *e, const tk_ir_var *v);
bool tk_ir_ix_uses_sym(const tk_ix *e, tk_ix_symbol s);
/* True if the expression reads a buffer (has a LOAD node). */
bool tk_ir_ix_uses_load(const tk_ix *e);
/* access[arg] |= TK_ACC_READ for every argument the expression's LOAD nodes read. */
void tk_ir_ix_mark_loads(const tk_ix *e, int *access);
/* e's node with the operands a and b in place of e->a and e->b (e itself when they are). */
const tk_ix *tk_ir_ix_rebuild(tk_ir_module *m, const tk_ix *e, const tk_ix *a, const tk_ix *b);
/* The expression with every LOAD node's argument a replaced by arg_map[a] (a kernel's
 * arguments renumbered by a schedule). */
const tk_ix *tk_ir_ix_map_args(tk_ir_module *m, const tk_ix *e, const int *arg_map);

/* Interval bounds over 1 <= B <= bmax (Bp = tk_ir_ix_bp_of(B), monotone) and per-variable
 * ranges lo[id]..hi[id] (inclusive; NULL arrays = no variables allowed). Sound, not tight. */
typedef struct tk_ix_range {
  int64_t lo, hi;
} tk_ix_range;
tk_ix_range tk_ir_ix_bounds(const tk_ix *e, int64_t bmax, const tk_ix_range *var_ranges);

/* Substitution of variables: from[i] ↦ to[i]. */
typedef struct tk_ir_subst {
  int n;
  const tk_ir_var **from;
  const tk_ix **to;
} tk_ir_subst;
const tk_ix *tk_ir_ix_subst(tk_ir_module *m, const tk_ix *e, const tk_ir_subst *s);

/* Text form: "min(r, B - 1) * 96 + k". Writes at most n bytes (NUL included) to buf and
 * returns the length the full text needs (snprintf convention). */
size_t tk_ir_ix_format(const tk_ix *e, char *buf, size_t n);
/* The same text in a malloc'd string (caller frees); NULL when out of memory. */
char *tk_ir_ix_format_alloc(const tk_ix *e);
void tk_ir_ix_print(const tk_ix *e, FILE *out);
/* tk_ir_ix_print with each variable written by var_name (the IR printer's unique names). */
typedef void (*tk_ir_var_name_fn)(const tk_ir_var *v, FILE *out, const void *ctx);
void tk_ir_ix_print_named(const tk_ix *e, FILE *out, tk_ir_var_name_fn var_name, const void *ctx);

/* ==== Variables, locals, kernel arguments ===================================================== */

struct tk_ir_var {
  int id;           /* unique in the module: 0 .. m->nvars-1 */
  const char *name; /* "r", "j", "k", "e", "wg", "t", "rb", "ri", "jj", ... (for reading:
                     sibling loops may share a name; ids are unique) */
  /* Scheduled kernels only: the value this variable takes at a point of the source phase's
   * space, as a tk_ix over the source phase's space variables (the inverse of the schedule's
   * forward map; e.g. wg = (r*128 + j) div 256, t = (r*128 + j) mod 256, rb = r div 16,
   * jj = j mod 16, tail lane jl = j - 16), valid for the points of the region the variable's
   * loop covers. NULL for variables not derived from the space (inner loops copied from the
   * fused kernel keep their identity: see tk_ir_stmt.subst). */
  const tk_ix *inv;
};

typedef struct tk_ir_local {
  int id;           /* index in kernel->locals */
  const char *name; /* "acc", "mean", "p", "taken", ... */
  tk_ir_type type;
  int64_t count; /* >= 1 elements; 1 = scalar (indexed at 0) */
  /* Scheduled kernels: the fused kernel's local this one comes from (-1 if new), and the
   * expansion factor (1 = copied; T = one copy of `count / T` elements per tile point, the
   * copy of tile point q at [q * (count / T), (q + 1) * (count / T))). */
  int origin;
  int64_t expand;
  /* GPU kernels only: one copy per workgroup (LDS, amdgcn address space 3 / nvptx shared
   * memory) that every thread of the workgroup reads and writes; accesses by different threads
   * are ordered only by barriers (TK_S_BARRIER). Otherwise private to one thread. */
  bool shared;
} tk_ir_local;

typedef enum tk_ir_role {
  TK_ROLE_IN,      /* the caller's input x [B, in] */
  TK_ROLE_OUT,     /* a caller's output: logits [B, out], router_weights [B, E] */
  TK_ROLE_PARAM,   /* a checkpoint tensor (read-only) */
  TK_ROLE_SCRATCH, /* an intermediate, Bp rows */
} tk_ir_role;
const char *tk_ir_role_name(tk_ir_role r); /* "in", "out", "param", "scratch" */

typedef enum tk_ir_access { TK_ACC_READ = 1, TK_ACC_WRITE = 2, TK_ACC_READWRITE = 3 } tk_ir_access;

typedef struct tk_ir_arg {
  const char *name; /* the tensor name: "x", "expert_0.param_4", "h_0_1", "logits" */
  int tensor;       /* graph tensor id */
  int buffer;       /* physical buffer id (m->buffers), -1 before buffer planning */
  tk_ir_role role;
  tk_ir_type type; /* F32 or I32 */
  tk_ir_access access;
  int64_t cols;       /* row length (elements) */
  const tk_ix *rows;  /* rows as a function of B/Bp: B (in/out), Bp (scratch), const (param) */
  const tk_ix *count; /* element count = rows * cols */
} tk_ir_arg;

/* ==== Values (pure expressions; nodes may be shared within a kernel: a DAG) ================== */

/* X-macro op table. Columns: name, enum, text, arity, result type rule.
 * Type rules: SAME = type of operand a; BOOL = bool; F32 = f32. */
#define TK_IR_VOPS(X)                                                                     \
  X(CONST, "const", 0, SAME)      /* f (f32, exactly representable) or i (i32/bool) */    \
  X(INDEX, "index", 0, SAME)      /* ix converted to an i32 value */                      \
  X(LOAD, "load", 0, SAME)        /* arg[ix] */                                           \
  X(LOCAL_LOAD, "lload", 0, SAME) /* local[ix] */                                         \
  X(NEG, "neg", 1, SAME)                                                                  \
  X(EXP, "exp", 1, SAME)                                                                  \
  X(TANH, "tanh", 1, SAME)                                                                \
  X(ERF, "erf", 1, SAME)                                                                  \
  X(SQRT, "sqrt", 1, SAME)                                                                \
  X(RSQRT, "rsqrt", 1, SAME)                                                              \
  X(NOT, "not", 1, BOOL)                                                                  \
  X(ADD, "add", 2, SAME)                                                                  \
  X(SUB, "sub", 2, SAME)                                                                  \
  X(MUL, "mul", 2, SAME)                                                                  \
  X(DIV, "div", 2, SAME)                                                                  \
  X(MAX, "max", 2, SAME) /* f32: maxnum semantics not relied on (inputs finite) */        \
  X(MIN, "min", 2, SAME)                                                                  \
  X(AND, "and", 2, BOOL)                                                                  \
  X(OR, "or", 2, BOOL)                                                                    \
  X(LT, "lt", 2, BOOL) /* ordered comparisons: false on NaN */                            \
  X(LE, "le", 2, BOOL)                                                                    \
  X(GT, "gt", 2, BOOL)                                                                    \
  X(GE, "ge", 2, BOOL)                                                                    \
  X(EQ, "eq", 2, BOOL)                                                                    \
  X(NE, "ne", 2, BOOL)         /* unordered for f32: true on NaN */                       \
  X(FMA, "fma", 3, SAME)       /* a*b + c (may be fused or not: tolerance covers both) */ \
  X(SELECT, "select", 3, SAME) /* a ? b : c — type of b; never evaluates into the result
                                   the unselected operand (a NaN there does not leak) */

typedef enum tk_ir_vop {
#define TK_IR_VOP_ENUM(name, text, arity, rule) TK_V_##name,
  TK_IR_VOPS(TK_IR_VOP_ENUM)
#undef TK_IR_VOP_ENUM
      TK_V_COUNT_
} tk_ir_vop;
const char *tk_ir_vop_name(tk_ir_vop op);
int tk_ir_vop_arity(tk_ir_vop op);

struct tk_ir_val {
  tk_ir_vop op;
  tk_ir_type type;            /* result type */
  double f;                   /* CONST f32 (already rounded to f32) */
  int64_t i;                  /* CONST i32 / bool (0 or 1) */
  int arg;                    /* LOAD: index in kernel->args */
  int local;                  /* LOCAL_LOAD: index in kernel->locals */
  const tk_ix *ix;            /* LOAD, LOCAL_LOAD, INDEX */
  const tk_ir_val *a, *b, *c; /* operands by arity; SELECT: a = condition */
  /* Scheduled kernels: the fused kernel's node this one was derived from (LOAD and
   * LOCAL_LOAD), else NULL. With kernel->subst of the enclosing region (stmt.subst), the
   * composition law holds: ix == tk_ir_ix_subst(origin->ix, subst) as functions. */
  const tk_ir_val *origin;
};

/* ==== Statements ============================================================================== */

typedef enum tk_ir_stmt_kind {
  TK_S_BLOCK,       /* stmts[0..n) in order */
  TK_S_FOR,         /* for var in [0, extent) kind binding { body } */
  TK_S_IF,          /* if (lhs cmp rhs) { body }  — an index-level guard */
  TK_S_STORE,       /* args[arg][ix] = value */
  TK_S_LOCAL_STORE, /* locals[local][ix] = value */
  TK_S_BARRIER,     /* GPU workgroup barrier, inside the @thread_x loop: every thread of the
                       workgroup reaches it before any goes on, and the shared locals' writes
                       before it are visible to every thread after it. Reached uniformly (the
                       same barriers, in the same order, by every thread: class race proves
                       it); a loop around one inside the thread loop has a constant extent and
                       no barrier under an IF in its body, so a thread's barrier count at any
                       point is a closed form (its "interval", docs/proofs.md) */
} tk_ir_stmt_kind;

typedef enum tk_ir_loop_kind {
  TK_LOOP_SERIAL,    /* iterations in order, may carry dependences */
  TK_LOOP_PARALLEL,  /* iterations independent (bound loops, and inner elementwise loops) */
  TK_LOOP_REDUCTION, /* serial accumulation into a local (iterations in order) */
  TK_LOOP_UNROLL,    /* fully unrolled by codegen (constant extent), independent */
  TK_LOOP_VECTOR,    /* vector lanes (constant extent), independent iterations, innermost
                        (no loop inside); codegen emits explicit vectors (the CPU tile's jj:
                        16 = two 8-wide AVX2 vectors) or a loop for the vectoriser */
} tk_ir_loop_kind;
const char *tk_ir_loop_kind_name(tk_ir_loop_kind k);

typedef enum tk_ir_binding {
  TK_BIND_NONE,
  TK_BIND_WORKGROUP_X, /* GPU workgroup id x; extent = launch.grid */
  TK_BIND_THREAD_X,    /* GPU thread id x in the workgroup; extent = launch.workgroup_size */
  TK_BIND_CPU_BLOCK,   /* CPU thread-pool work item; extent = launch.grid (number of blocks) */
} tk_ir_binding;
const char *tk_ir_binding_name(tk_ir_binding b);

typedef enum tk_ir_cmp {
  TK_CMP_LT,
  TK_CMP_LE,
  TK_CMP_EQ,
  TK_CMP_NE,
  TK_CMP_GE,
  TK_CMP_GT
} tk_ir_cmp;
const char *tk_ir_cmp_text(tk_ir_cmp c); /* "<", "<=", ... */

struct tk_ir_stmt {
  tk_ir_stmt_kind kind;
  /* BLOCK */
  int n;
  const tk_ir_stmt **stmts;
  /* FOR */
  const tk_ir_var *var;
  const tk_ix *extent;
  tk_ir_loop_kind loop;
  tk_ir_binding binding;
  int64_t prefetch;       /* FOR: 0, or (a CPU reduction loop) how many bytes ahead of each
                             weight it reads each iteration prefetches: a cache hint, never
                             an access (docs/proofs.md "Trusted") */
  int64_t prefetch_span;  /* with prefetch: the contiguous bytes one iteration reads of each
                             weight from its first load on (a panel row); every cache line of
                             them is prefetched */
  const tk_ir_stmt *body; /* FOR, IF */
  /* IF */
  const tk_ix *lhs, *rhs;
  tk_ir_cmp cmp;
  /* STORE / LOCAL_STORE */
  int arg;   /* STORE: index in kernel->args */
  int local; /* LOCAL_STORE: index in kernel->locals */
  const tk_ix *ix;
  const tk_ir_val *value;
  /* Scheduled kernels, STORE/LOCAL_STORE: the fused kernel's statement this one comes from,
   * and the substitution (source phase variables ↦ tk_ix over this kernel's variables)
   * valid for this statement and every LOAD in its value. Loops inside a phase body (k, the
   * norm's j, the router's e) keep their tk_ir_var in the scheduled copy, so they map to
   * themselves implicitly; only the phase's space variables (r, j) are substituted. */
  const tk_ir_stmt *origin;
  const tk_ir_subst *subst;
};

/* ==== Contracts (typed data, printed as `requires ...` / `ensures ...`) ======================= */

/* Operands a, b refer to tensor ids when the contract is on a graph op, and to argument
 * indices (kernel->args) when it is on a kernel. */
typedef enum tk_ir_pred {
  TK_PRED_B_RANGE,        /* 1 <= B <= bmax                               (n = bmax) */
  TK_PRED_BP_PADDED,      /* Bp = max(Q, Q*ceil(B/Q)), Bp % n == 0   (n = Q = TK_PAD_QUANTUM) */
  TK_PRED_ROWS,           /* a has exactly `ix` rows (B, Bp or a const) and n columns */
  TK_PRED_SHAPE_EQ,       /* shape(a) == shape(b) for all B in range */
  TK_PRED_FINITE,         /* every element of a is finite */
  TK_PRED_READS_CLAMPED,  /* a is read only at rows min(r, B-1), r < Bp */
  TK_PRED_WRITES_ROWS_LT, /* exactly rows [0, ix) of a are written, each element once */
  TK_PRED_WRITES_ALL,     /* every element of a is written exactly once (count = a's size) */
  TK_PRED_ROW_LOCAL,      /* phase/launch reads of a at row r only after the writes of row r */
  TK_PRED_TOPK,           /* a = weights, b = keep mask: exactly k of n kept per row, kept >=
                             dropped, ties to the lower index, dropped weight exactly 0, kept
                             weight = the softmax value (renorm false) or the softmax value over
                             the kept values' sum (renorm true)            (k, n, renorm) */
  TK_PRED_SOFTMAX,        /* a holds softmax of its row (n columns)                */
  TK_PRED_MASKED_SELECT,  /* masked experts enter the sum through SELECT on keep b (no NaN
                             leak, docs/formats.md §3); a = the combined output            */
  TK_PRED_DISPATCH,       /* a = slot, b = keep [rows, n]: per expert e < n, a counting sort
                             of the kept rows — the count stored after the row loop is at most
                             B, and slot maps the kept rows one to one onto [0, count[e]) in
                             row order (docs/proofs.md "dispatch"); c = count     (n) */
} tk_ir_pred;
const char *tk_ir_pred_name(tk_ir_pred p); /* "rows", "shape_eq", "topk", ... */

typedef struct tk_ir_contract {
  bool ensures; /* false = requires */
  tk_ir_pred pred;
  int a, b;        /* operands (-1 when unused) */
  int c;           /* a third operand (dispatch: the count), -1 when unused */
  const tk_ix *ix; /* row count / limit when the predicate has one */
  int64_t k, n;    /* small integer parameters */
  bool renorm;     /* TOPK: the kept weights are renormalised */
} tk_ir_contract;

typedef struct tk_ir_contracts {
  int n, cap;
  tk_ir_contract *items;
} tk_ir_contracts;

/* ==== Graph level ============================================================================= */

typedef enum tk_ir_tensor_kind {
  TK_TENSOR_INPUT,
  TK_TENSOR_OUTPUT,
  TK_TENSOR_PARAM,
  TK_TENSOR_INTERMEDIATE,
} tk_ir_tensor_kind;

typedef struct tk_ir_tensor {
  int id;
  const char *name; /* "x", "logits", "router.param_0", "expert_1.h_2", ... */
  tk_ir_tensor_kind kind;
  tk_ir_type type;
  int rank;             /* always 2: vectors (bias, gamma, beta) are [1, n] */
  const tk_ix *dims[2]; /* dims[0] is the batch dim (B or Bp) for activations; consts for params */
  int param_index;      /* PARAM: index in checkpoint order (tk_arch_param), else -1 */
  int producer;         /* op id, or -1 */
} tk_ir_tensor;

typedef enum tk_ir_op_kind {
  TK_OP_LINEAR,      /* in: x, W[, b]        out: y = x·W + b (W in the arch layout; without b:
                        y = x·W, Qwen3MoE's bias-free nn.Linear) */
  TK_OP_LAYERNORM,   /* in: x, gamma, beta   out: LN(x) (eps attr) */
  TK_OP_GELU,        /* in: x                out: gelu (act attr: tanh or erf form) */
  TK_OP_SOFTMAX,     /* in: x                out: softmax over the row */
  TK_OP_TOPK_MASK,   /* in: p                out: w (f32), keep (i32)   (k attr; renorm attr:
                        the kept weights divided by their sum, Qwen3MoE's norm_topk_prob) */
  TK_OP_MOE_COMBINE, /* in: w, keep, o_0..o_{E-1}   out: y = Σ_{keep} w[e]·o_e */
  TK_OP_PAD_ROWS,    /* in: x [B, C]         out: [Bp, C], rows >= B repeat row B-1 */
  TK_OP_SLICE_ROWS,  /* in: y [Bp, C]        out: [B, C], rows < B */
  TK_OP_ADD,         /* in: a, b             out: a + b (Dense residual) */
  /* sparse dispatch (issue 13; tk_ir_options.dispatch): */
  TK_OP_DISPATCH, /* in: keep [R, E]      out: slot [R, E], count [1, E] (i32): per expert e, the
                     kept rows in row order get slots 0, 1, ... (slot[r, e]; other rows' slots
                     are not meaningful) and count[e] is their number */
  TK_OP_GATHER,   /* in: x, keep, slot, count   out: xg: row slot[r, e] of xg is row r of x for
                     every kept row r < B of expert `expert` (rows >= count[e] not written) */
  TK_OP_SCATTER,  /* in: h, keep, slot, count   out: hd: row r of hd is row slot[r, e] of h for
                     the kept rows r < B of expert `expert`, 0 elsewhere */
  /* Qwen3MoE's SwiGLU experts (issue 16): */
  TK_OP_SILU, /* in: x                out: silu(x) = x / (1 + exp(-x)) */
  TK_OP_MUL,  /* in: a, b             out: a ⊙ b (elementwise product) */
} tk_ir_op_kind;
const char *tk_ir_op_kind_name(tk_ir_op_kind k);

typedef struct tk_ir_operand {
  int tensor;
  /* set by the padding pass: */
  bool row_clamp;         /* inputs: read the (B-row) tensor at row min(r, B-1) */
  const tk_ix *row_limit; /* outputs: write only rows < row_limit (B), else NULL = all rows */
} tk_ir_operand;

typedef struct tk_ir_op {
  int id;
  tk_ir_op_kind kind;
  const char *name;  /* "expert_0_hidden_1.linear" — the part before '.' names the layer */
  const char *layer; /* "expert_0_hidden_1": fused kernels are named after layers */
  int nin, nout;
  tk_ir_operand *in, *out;
  double eps;              /* LAYERNORM */
  tk_hidden_act act;       /* GELU */
  tk_weight_layout layout; /* LINEAR */
  int k;                   /* TOPK_MASK */
  bool renorm;             /* TOPK_MASK: kept weights renormalised to sum to 1 */
  int expert;              /* GATHER, SCATTER and ops with rows_count: the expert e, else -1 */
  int rows_count;          /* sparse dispatch's count tensor when the op computes only the rows
                              r < count[expert] (an expert's chain), else -1 (every row) */
  bool dead;               /* removed by a pass (kept for ids; printers skip it) */
  tk_ir_contracts contracts;
} tk_ir_op;

/* ==== Op table (ir/op_table.c) ================================================================ */

/* Every graph op's operands, element types and shape rule, as data: the one source both the
 * structural checker (tk_ir_verify: concrete B) and the verifier's `shape` class (every B in
 * [1, Bmax]) read. A rule is a list of relations between terms: dimension `dim` (0 = rows,
 * 1 = cols) of an input or output operand, a constant, B or Bp, or an op attribute. */
typedef enum tk_ir_rule_term_kind {
  TK_RT_IN,        /* dim of input `index` (TK_RT_EACH: every variadic input, one relation each) */
  TK_RT_OUT,       /* dim of output `index` */
  TK_RT_CONST,     /* c */
  TK_RT_SYM,       /* B or Bp */
  TK_RT_K,         /* the op's k (topk_mask) */
  TK_RT_NVARIADIC, /* the number of variadic inputs (moe_combine: E, the experts) */
} tk_ir_rule_term_kind;
#define TK_RT_EACH (-1)

typedef struct tk_ir_rule_term {
  tk_ir_rule_term_kind kind;
  int index, dim;
  int64_t c;
  tk_ix_symbol sym;
} tk_ir_rule_term;

typedef enum tk_ir_rule_when {
  TK_RULE_ALWAYS,
  TK_RULE_IN_OUT, /* only for a linear whose weight is stored [in, out] */
  TK_RULE_OUT_IN, /* only for a linear whose weight is stored [out, in] */
} tk_ir_rule_when;

typedef struct tk_ir_shape_rule {
  tk_ir_rule_term lhs;
  tk_ir_cmp cmp; /* EQ or LE */
  tk_ir_rule_term rhs;
  tk_ir_rule_when when;
} tk_ir_shape_rule;

typedef struct tk_ir_op_info {
  const char *name; /* "linear", ... (tk_ir_op_kind_name) */
  int nin, nout;    /* fixed operands */
  bool variadic;    /* inputs nin.. are one repeated operand (at least one) */
  tk_ir_type in_types[4], out_types[2], variadic_type;
  int nrules;
  const tk_ir_shape_rule *rules;
  int optional_in; /* trailing fixed inputs that may be absent (linear's bias); the rules that
                      name an absent input do not apply */
} tk_ir_op_info;
/* The table entry of kind k (read-only, static), NULL for a value outside the enum. */
const tk_ir_op_info *tk_ir_op_info_of(tk_ir_op_kind k);

/* A rule relation instantiated on an op of a module: each side is a tensor's dimension, a
 * constant or B/Bp. The padding pass folds pad_rows into its consumers' inputs (row_clamp)
 * and slice_rows into its producer's outputs (row_limit): such an operand stands for the
 * folded op's other side, whose dims the folded op's rule defines (the relations of
 * pad_rows/slice_rows with that side on the left); the folded op's other relations are
 * instantiated too. An output beyond the table's count (the padding pass appends one when a
 * sliced tensor has other consumers) is a folded slice_rows of output 0. */
typedef enum tk_ir_dim_kind { TK_DIM_TENSOR, TK_DIM_CONST, TK_DIM_SYM } tk_ir_dim_kind;
typedef struct tk_ir_dim {
  tk_ir_dim_kind kind;
  int tensor, dim; /* TENSOR: tensors[tensor].dims[dim] */
  int64_t c;       /* CONST */
  tk_ix_symbol sym;
} tk_ir_dim;

typedef struct tk_ir_shape_fact {
  tk_ir_dim lhs, rhs;
  tk_ir_cmp cmp;
  char what[192]; /* "linear rule out0.cols == in1.cols (in_out)", "folded pad_rows of %x: ..." */
} tk_ir_shape_fact;

typedef void (*tk_ir_shape_fact_fn)(const tk_ir_shape_fact *f, void *user);
/* Calls fn for every relation op's rule imposes on its operands (in rule order, then the
 * folded ops'). TK_INTERNAL when the op's operand count or a row_clamp/row_limit does not fit
 * the table (the message names the op). */
TK_MUST_USE tk_status tk_ir_op_shape_facts(const tk_ir_module *m, const tk_ir_op *op,
                                           tk_ir_shape_fact_fn fn, void *user);
/* "%x.rows", "16", "Bp": one side of a fact, for messages. */
void tk_ir_dim_format(const tk_ir_module *m, const tk_ir_dim *d, char *buf, size_t n);
/* The value of d at batch size B (Bp = tk_ir_ix_bp_of(B)). */
int64_t tk_ir_dim_eval(const tk_ir_module *m, const tk_ir_dim *d, int64_t B);

/* ==== Kernels ================================================================================= */

typedef enum tk_ir_target {
  TK_TARGET_NONE = -1,
  TK_TARGET_GPU = 0,
  TK_TARGET_CPU = 1
} tk_ir_target;
#define TK_IR_NTARGETS 2
const char *tk_ir_target_name(tk_ir_target t); /* "fused", "gpu", "cpu" */

/* A phase of a fused kernel: space vars[0..ndims) with extents, and the per-point body.
 * vars[0] is the row `r` (extent Bp, or B) and is the SAME tk_ir_var in every phase of a
 * kernel, so a scheduled variable's `inv` over r holds for all phases; vars[1] (`j`, the
 * column) is per phase. */
typedef struct tk_ir_phase {
  const char *name; /* "gemm", "norm", "route", "combine" */
  int ndims;        /* 1 (rows) or 2 (rows x cols) */
  const tk_ir_var *vars[2];
  const tk_ix *extents[2];
  const tk_ir_stmt *body;
  /* The body has the shape the CPU register tiler accepts: its point-local scalars are
   * independent across points and every reduction loop is reached through BLOCKs only. */
  bool tileable;
} tk_ir_phase;

/* Schedule records: the transformations that made a scheduled kernel, in order (printed). */
typedef enum tk_ir_sched_kind {
  TK_SCHED_FUSE,        /* a, b -> out: out = a*extent(b) + b  (flattening) */
  TK_SCHED_SPLIT,       /* a -> out (outer), inner by factor: a = out*factor + inner */
  TK_SCHED_REORDER,     /* loop order now: vars (printed as listed in a, b, out, inner) */
  TK_SCHED_BIND,        /* a bound to binding */
  TK_SCHED_VECTORIZE,   /* a becomes vector lanes */
  TK_SCHED_UNROLL,      /* a fully unrolled */
  TK_SCHED_GUARD,       /* if lhs < rhs inserted (iteration space not a multiple of the split) */
  TK_SCHED_TAIL,        /* a's last `factor` iterations (extent mod tile) peeled into var inner */
  TK_SCHED_EXPAND,      /* local `local` expanded by factor (one copy per tile point) */
  TK_SCHED_INTERCHANGE, /* tile loops sunk inside reduction loop a */
} tk_ir_sched_kind;

typedef struct tk_ir_sched_step {
  tk_ir_sched_kind kind;
  const tk_ir_var *a, *b, *out, *inner;
  int64_t factor;
  tk_ir_binding binding;
  int local;
  const tk_ix *lhs, *rhs;
  int phase; /* source phase this step applies to */
} tk_ir_sched_step;

/* The tiled GPU schedule's blocking of a GEMM launch (tk_ir_options.gpu_schedule): a
 * workgroup computes a tile of rows × cols outputs, each thread a register sub-tile of
 * reg_rows × reg_cols of them, from K-slices of kslice staged in shared locals. All 0: the
 * launch is the simple schedule's (one output per thread). */
typedef struct tk_ir_gpu_tile {
  int64_t rows, cols, reg_rows, reg_cols, kslice;
} tk_ir_gpu_tile;

typedef struct tk_ir_launch {
  const tk_ix *grid;      /* GPU: workgroups; CPU: blocks (cpu_block extent) — in B/Bp */
  int64_t workgroup_size; /* GPU: threads per workgroup (constant); CPU: 1 */
  int64_t block_rows;  /* CPU: rows per cpu_block (the phase's: ir/pass_schedule_cpu.c); GPU: 0 */
  tk_ir_gpu_tile tile; /* GPU: the tiled schedule's blocking, or all 0 */
} tk_ir_launch;

typedef struct tk_ir_kernel {
  int id;              /* index in its list */
  const char *name;    /* C identifier, unique per target: "expert_2_hidden_1", "router" */
  tk_ir_target target; /* NONE for fused kernels */
  int nargs;
  tk_ir_arg *args; /* arguments in order; B and Bp (i32) follow them implicitly */
  int nlocals;
  tk_ir_local *locals;
  /* fused kernels */
  int nphases;
  tk_ir_phase *phases;
  /* scheduled kernels */
  const tk_ir_stmt *body;
  tk_ir_launch launch;
  int source;        /* index of the fused kernel in m->kernels */
  int source_phase;  /* GPU: the (first) phase this launch runs; CPU: -1 (all phases) */
  int source_phases; /* GPU: how many phases from source_phase it runs (2: a GEMM with its row
                        phase as the epilogue); CPU and fused kernels: 0 */
  int nsteps;
  tk_ir_sched_step *steps;
  /* both */
  int index_bits; /* 32 or 64: width of every index computation in this kernel, chosen
                           so every tk_ix of the kernel fits for all B <= bmax (0 = not yet) */
  tk_ir_contracts contracts;
} tk_ir_kernel;

/* ==== Buffers (planning) ====================================================================== */

typedef struct tk_ir_buffer {
  int id;
  const char *name; /* "x", "logits", "scratch_3", parameter names */
  tk_ir_role role;
  tk_ir_type type;
  const tk_ix *count; /* elements, a function of B/Bp (or a constant for params) */
  int param_index;    /* PARAM: checkpoint order index, else -1 */
  int ntensors;
  int *tensors; /* tensors placed in this buffer (scratch: reuse; others: one) */
  /* PARAM read by the CPU schedule as column panels (tk/panel.h; set by schedule-cpu): a
   * K × panel_cols weight (K = count / panel_cols), packed by the runtime into panels of
   * panel_width columns for the cpu schedule only. panel_width 0: row-major. The checkpoint
   * stores it K × N row-major (element (k, j) at k*N + j), or with panel_out_in N × K
   * (at j*K + k: a Linear weight stored [out, in]); the packed layout is the same. */
  int64_t panel_cols, panel_width;
  bool panel_out_in;
} tk_ir_buffer;

/* ==== Module ================================================================================== */

typedef enum tk_ir_stage {
  TK_STAGE_GRAPH,
  TK_STAGE_PADDED,
  TK_STAGE_FUSED,
  TK_STAGE_PLANNED,
  TK_STAGE_GPU,
  TK_STAGE_CPU,
} tk_ir_stage;

/* How an MoE's experts see the batch (issue 13 item 1). DENSE: every expert runs on every
 * row and the combine masks. SPARSE: a counting sort (op dispatch) lists each expert's kept
 * rows, each expert gathers them, runs its chain on count[e] rows and scatters its last
 * hidden state back to the batch's rows before the combine. The verifier does not prove the
 * sparse form yet, so only the library (and its tests) can ask for it. */
typedef enum tk_ir_dispatch { TK_DISPATCH_DENSE, TK_DISPATCH_SPARSE } tk_ir_dispatch;

/* How the GPU schedule runs a GEMM phase (issue 17). SIMPLE: one thread per output element,
 * reading x and W from global memory. TILED: a workgroup computes a tile of the output from
 * K-slices of x and W staged in shared locals, between barriers, each thread a register
 * sub-tile (ir/pass_schedule_gpu.c; phases of another form, or whose sizes the tile does not
 * divide, stay simple). */
typedef enum tk_ir_gpu_schedule {
  TK_GPU_SCHEDULE_SIMPLE,
  TK_GPU_SCHEDULE_TILED
} tk_ir_gpu_schedule;

/* The tiled schedule's tile limits, one set per kind of GPU (docs/ir.md "Tiles per target"):
 * a GEMM tile is TK_PAD_QUANTUM rows by up to max_cols columns (each thread 4 × 4 of them,
 * so max_cols / 4 × 4 threads), K-slices up to max_kslice. CDNA (gfx9, wave64): 16 × 64, one
 * wave64 per workgroup, slices of 16; RDNA (gfx10 and later, wave32): 16 × 32, one wave32;
 * NVIDIA (sm_*): 16 × 128, four warps, slices of 32 (its shared memory, 100-228 KB per SM,
 * holds the larger tiles; AMD's 64 KB of LDS per CU keeps them small). Epilogue tiles (whole
 * rows) are sized by the row, the same on every set. */
typedef enum tk_ir_gpu_tile_set {
  TK_GPU_TILES_CDNA,
  TK_GPU_TILES_RDNA,
  TK_GPU_TILES_NVIDIA,
  TK_GPU_TILES_COUNT
} tk_ir_gpu_tile_set;
/* "cdna", "rdna", "nvidia". */
const char *tk_ir_gpu_tile_set_name(tk_ir_gpu_tile_set set);
/* The set for a GPU arch: sm_* NVIDIA, gfx10 and later RDNA, other gfx CDNA. */
tk_ir_gpu_tile_set tk_ir_gpu_tile_set_of_arch(const char *arch);

typedef struct tk_ir_options {
  int64_t bmax;            /* --max-batch (default 65536), 1 <= B <= bmax */
  int64_t gpu_wg_2d;       /* GPU workgroup for 2-D phases (default 256) */
  int64_t gpu_wg_rows;     /* GPU workgroup for row phases (default 64) */
  int64_t cpu_block_rows;  /* rows per cpu_block; divides 16 or is a multiple of 16 (then rows
                              >= Bp are guarded off) */
  int64_t cpu_tile_rows;   /* register tile rows (divides cpu_block_rows) */
  int64_t cpu_tile_cols;   /* register tile columns */
  int64_t cpu_col_blocks;  /* column blocks a GEMM layer's work items split its tiles into (4), so
                              that threads share a layer even when B fits one row block */
  tk_ir_dispatch dispatch; /* how an MoE runs its experts (default dense) */
  tk_ir_gpu_schedule gpu_schedule; /* how GPU GEMM launches run (default simple) */
  tk_ir_gpu_tile_set gpu_tiles;    /* the tiled schedule's limits (default CDNA) */
} tk_ir_options;
/* The schedule defaults, in one place: bmax 65536, GPU workgroups 256 (2-D) and 64 (rows),
 * and the CPU blocking of tk_ir_options_cpu_tiles(o, 256): x86-64-v3, tkc's default CPU. */
void tk_ir_options_default(tk_ir_options *o);
/* The CPU schedule's blocking for a CPU whose widest vector registers have vector_bits (512:
 * AVX-512, 256: AVX2, else 128). AVX-512: blocks of 128 rows, so the weights are streamed
 * once per 128 rows (against 64: H×H at M = 256, T = 1, 12-19 % more GFLOP/s; 256 was faster
 * still at T = 1 but no faster at T = 2, bench/README.md), register tiles of 8 rows x 32
 * columns (16 of the 32 zmm registers). AVX2: tiles of 6 x 16 (12 of the 16 ymm registers, the
 * rest for two weight vectors and a broadcast) in blocks of 96 rows (a multiple of 6 and of
 * 16). An expert's K·B/E rows at B = 16 (about 8) are then one whole tile and a row pair,
 * where 4-row tiles read each weight panel twice, the first pass waiting on DRAM while the
 * second computed from L2 (bench/README.md, "6 × 16 tiles"). 128-bit registers (x86-64,
 * x86-64-v2) keep 4 x 16 in blocks of 128. Narrow layers take shorter tiles
 * (pass_schedule_cpu.c, phase_tile_rows). Tile widths are powers of two: with the row tail in
 * the same kernel, LLVM's SLP vectoriser left a 4 x 24 tile scalar (Tiny x86-64-v3, B = 16: 7x
 * slower). tkc takes vector_bits from codegen's CPU table (tk_cg_x86_cpu_info). */
void tk_ir_options_cpu_tiles(tk_ir_options *o, int vector_bits);

typedef struct tk_ir_kernel_list {
  int n, cap;
  tk_ir_kernel **items;
} tk_ir_kernel_list;

struct tk_ir_module {
  tk_arch arch;
  tk_ir_options opts;
  tk_ir_stage stage;
  int nvars; /* variable ids are 0 .. nvars-1 */
  int ntensors, cap_tensors;
  tk_ir_tensor *tensors;
  int nops, cap_ops;
  tk_ir_op *ops;
  tk_ir_contracts contracts;                 /* module-level: B range, Bp padding */
  tk_ir_kernel_list kernels;                 /* fused (target NONE) */
  tk_ir_kernel_list targets[TK_IR_NTARGETS]; /* scheduled */
  int nbuffers, cap_buffers;
  tk_ir_buffer *buffers;
  /* private: arena and sticky failure flag */
  struct tk_ir_arena *arena_;
  bool failed_;
};

/* Creates an empty module for `arch` (copied). Caller owns *out (tk_ir_module_free). */
TK_MUST_USE tk_status tk_ir_module_create(const tk_arch *arch, const tk_ir_options *opts,
                                          tk_ir_module **out);
void tk_ir_module_free(tk_ir_module *m);
/* TK_RESOURCE_EXHAUSTED if any builder ran out of memory, else OK. */
TK_MUST_USE tk_status tk_ir_module_status(const tk_ir_module *m);

/* Arena memory (zeroed) and strings, owned by the module. NULL on failure (module failed). */
void *tk_ir_alloc(tk_ir_module *m, size_t size);
const char *tk_ir_strdup(tk_ir_module *m, const char *s);
const char *tk_ir_strfmt(tk_ir_module *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- graph builders (return ids, -1 on failure) ---- */
int tk_ir_tensor_add(tk_ir_module *m, const char *name, tk_ir_tensor_kind kind, tk_ir_type type,
                     const tk_ix *rows, int64_t cols);
int tk_ir_op_add(tk_ir_module *m, tk_ir_op_kind kind, const char *layer, const char *name,
                 const int *in, int nin, const int *out, int nout);
void tk_ir_contract_add(tk_ir_module *m, tk_ir_contracts *list, tk_ir_contract c);
/* Convenience for contracts: fills the unused operands with -1. */
tk_ir_contract tk_ir_contract_make(bool ensures, tk_ir_pred pred, int a, int b, const tk_ix *ix,
                                   int64_t k, int64_t n);

/* ---- kernel builders ---- */
tk_ir_kernel *tk_ir_kernel_new(tk_ir_module *m, tk_ir_target target, const char *name);
/* The last phase of its fused kernel a scheduled kernel runs (source_phase for a one-phase
 * launch), or -1 for a CPU kernel (all of them). */
int tk_ir_kernel_last_phase(const tk_ir_kernel *k);
/* Appends to m->kernels (target NONE) or m->targets[t]; sets kernel->id. */
void tk_ir_kernel_append(tk_ir_module *m, tk_ir_kernel *k);
/* Adds an argument for tensor id t (name, type, rows, cols from the tensor); returns its
 * index; an existing argument for the same tensor is reused and its access widened. */
int tk_ir_kernel_arg(tk_ir_module *m, tk_ir_kernel *k, int tensor, tk_ir_role role,
                     tk_ir_access access);
int tk_ir_kernel_local(tk_ir_module *m, tk_ir_kernel *k, const char *name, tk_ir_type type,
                       int64_t count);
/* A workgroup-shared local (tk_ir_local.shared) of a GPU kernel; its index, -1 on failure. */
int tk_ir_kernel_shared_local(tk_ir_module *m, tk_ir_kernel *k, const char *name, tk_ir_type type,
                              int64_t count);
/* The bytes of a kernel's shared locals (4 per element): its static LDS / shared memory. */
int64_t tk_ir_kernel_shared_bytes(const tk_ir_kernel *k);
tk_ir_phase *tk_ir_kernel_phase(tk_ir_module *m, tk_ir_kernel *k, const char *name);
void tk_ir_kernel_step(tk_ir_module *m, tk_ir_kernel *k, tk_ir_sched_step step);
const tk_ir_var *tk_ir_var_new(tk_ir_module *m, const char *name, const tk_ix *inv);

/* ---- value builders (types checked by tk_ir_verify, not here) ---- */
const tk_ir_val *tk_ir_val_f32(tk_ir_module *m, double f); /* rounded to f32 */
const tk_ir_val *tk_ir_val_i32(tk_ir_module *m, int64_t i);
const tk_ir_val *tk_ir_val_bool(tk_ir_module *m, bool b);
const tk_ir_val *tk_ir_val_index(tk_ir_module *m, const tk_ix *ix);
const tk_ir_val *tk_ir_val_load(tk_ir_module *m, const tk_ir_kernel *k, int arg, const tk_ix *ix);
const tk_ir_val *tk_ir_val_lload(tk_ir_module *m, const tk_ir_kernel *k, int local,
                                 const tk_ix *ix);
const tk_ir_val *tk_ir_val_un(tk_ir_module *m, tk_ir_vop op, const tk_ir_val *a);
const tk_ir_val *tk_ir_val_bin(tk_ir_module *m, tk_ir_vop op, const tk_ir_val *a,
                               const tk_ir_val *b);
const tk_ir_val *tk_ir_val_fma(tk_ir_module *m, const tk_ir_val *a, const tk_ir_val *b,
                               const tk_ir_val *c);
const tk_ir_val *tk_ir_val_select(tk_ir_module *m, const tk_ir_val *cond, const tk_ir_val *a,
                                  const tk_ir_val *b);

/* ---- statement builders ---- */
tk_ir_stmt *tk_ir_stmt_block(tk_ir_module *m); /* empty; add with tk_ir_stmt_block_add */
void tk_ir_stmt_block_add(tk_ir_module *m, tk_ir_stmt *block, const tk_ir_stmt *s);
const tk_ir_stmt *tk_ir_stmt_for(tk_ir_module *m, const tk_ir_var *v, const tk_ix *extent,
                                 tk_ir_loop_kind kind, tk_ir_binding binding,
                                 const tk_ir_stmt *body);
/* A copy of the FOR `loop` whose iterations prefetch, `bytes` ahead, the `span` bytes they read
 * of each weight from its first load on. */
const tk_ir_stmt *tk_ir_stmt_prefetching(tk_ir_module *m, const tk_ir_stmt *loop, int64_t bytes,
                                         int64_t span);
const tk_ir_stmt *tk_ir_stmt_if(tk_ir_module *m, const tk_ix *lhs, tk_ir_cmp cmp, const tk_ix *rhs,
                                const tk_ir_stmt *body);
const tk_ir_stmt *tk_ir_stmt_store(tk_ir_module *m, int arg, const tk_ix *ix, const tk_ir_val *v);
const tk_ir_stmt *tk_ir_stmt_lstore(tk_ir_module *m, int local, const tk_ix *ix,
                                    const tk_ir_val *v);
const tk_ir_stmt *tk_ir_stmt_barrier(tk_ir_module *m);
/* The barriers in one execution of s when every IF in it is taken (the count class race's
 * intervals use for loop bodies, which hold no barrier under an IF). */
int64_t tk_ir_stmt_barriers(const tk_ir_stmt *s);

/* ---- queries ---- */
/* True if target is s or a statement inside it. */
bool tk_ir_stmt_contains(const tk_ir_stmt *s, const tk_ir_stmt *target);
/* Calls fn for every statement (pre-order) / every value node reached from statements
 * (post-order over operands; shared nodes are visited once per use). */
typedef void (*tk_ir_stmt_fn)(const tk_ir_stmt *s, void *user);
typedef void (*tk_ir_val_fn)(const tk_ir_val *v, const tk_ir_stmt *owner, void *user);
void tk_ir_walk_stmts(const tk_ir_stmt *s, tk_ir_stmt_fn fn, void *user);
void tk_ir_walk_vals(const tk_ir_stmt *s, tk_ir_val_fn fn, void *user);
/* The memory accesses of a scheduled kernel in their canonical order (ir/accesses.c), the one
 * numbering codegen's provenance metadata (!tk.access N) and the translation validator
 * (verify/tv.c) share: statements in program order; per IF, the index reads (TK_IX_LOAD) of
 * its lhs then rhs; per STORE / LOCAL_STORE statement, the distinct LOAD / LOCAL_LOAD / INDEX
 * nodes of its value DAG in the order codegen first evaluates them (operands a, b, c
 * depth-first, each node once; a node's index reads just before it, LOAD and LOCAL_LOAD nodes
 * numbered themselves), then the index reads of the store's index, then the store itself.
 * Index reads are post-order (an index read's own index reads first) and each distinct node
 * once per statement. An unrolled loop's body is numbered once (its copies share the
 * numbers). */
typedef struct tk_ir_mem_access {
  int n;                         /* 0, 1, 2, ... */
  const tk_ir_stmt *stmt;        /* the STORE / LOCAL_STORE statement, or the IF of an index
                                    read in a guard */
  const tk_ir_val *val;          /* the LOAD / LOCAL_LOAD node; NULL for the store itself and
                                    for an index read */
  const tk_ix *ix;               /* an index read: its TK_IX_LOAD node; else NULL */
  int depth;                     /* number of enclosing FOR / IF statements */
  const tk_ir_stmt *const *path; /* those statements, outermost first */
} tk_ir_mem_access;
typedef tk_status (*tk_ir_mem_access_fn)(const tk_ir_mem_access *a, void *user);
/* Provenance metadata kinds codegen attaches to the unoptimised LLVM module and the validator
 * reads (docs/proofs.md "address and control"): they only say which IR thing an instruction
 * is; all semantics are re-derived from the instructions.
 *   tk.access !{i32 N}            a load / store: access N of tk_ir_kernel_accesses
 *   tk.unroll !{i32 id, i32 v,..} on an access inside unrolled loops: variable id is v here
 *   tk.var    !{i32 id}           a loop header phi or bound id value: IR variable id
 *   tk.val    !{i32 op}           an fcmp/icmp/select of a value tree: its tk_ir_vop
 *   tk.guard  !{i32 cmp}          the icmp of an IF statement: its tk_ir_cmp
 *   tk.math   !{}                 a compare inside the inline exp/tanh/erf code (cg_math.c) */
#define TK_IR_MD_ACCESS "tk.access"
#define TK_IR_MD_UNROLL "tk.unroll"
#define TK_IR_MD_VAR "tk.var"
#define TK_IR_MD_VAL "tk.val"
#define TK_IR_MD_GUARD "tk.guard"
#define TK_IR_MD_MATH "tk.math"
/* Calls fn for every access of k->body in canonical order; stops at fn's first error.
 * TK_INTERNAL when the body nests deeper than TK_IR_ACCESS_MAX_DEPTH. */
#define TK_IR_ACCESS_MAX_DEPTH 64
/* The largest span a prefetching loop may name (a panel row of 64 f32 columns is 256 bytes):
 * codegen emits one prefetch per cache line of it, counted from the first load's address, so a
 * span starting mid-line leaves its last line to the hardware (panel rows start on 64-byte
 * lines: the runtime's buffers are 64-byte aligned, and rows are 64 or 128 bytes). The
 * largest distance keeps the offsets far from overflow. */
#define TK_IR_PREFETCH_SPAN_MAX 1024
#define TK_IR_PREFETCH_MAX (1 << 20)
/* The CPU schedule's row-pair variable in a row tail that goes by pairs
 * (ir/pass_schedule_cpu.c); verify/mutants.c finds the pairs' guards by it. */
#define TK_IR_ROW_PAIR_VAR "rp"
/* The CPU schedule's row variable inside a row block (rows rb*BR + rr): a row phase's row
 * loop, and the name of a tileable phase's split (not a loop there); verify/mutants.c finds
 * the test of a row phase's block by it. */
#define TK_IR_BLOCK_ROW_VAR "rr"
TK_MUST_USE tk_status tk_ir_kernel_accesses(const tk_ir_kernel *k, tk_ir_mem_access_fn fn,
                                            void *user);

/* The kernel list of a target (TK_TARGET_NONE = fused kernels). */
const tk_ir_kernel_list *tk_ir_module_kernels(const tk_ir_module *m, tk_ir_target t);
const tk_ir_kernel *tk_ir_kernel_find(const tk_ir_module *m, tk_ir_target t, const char *name);
/* The tensor that is the caller's input / an output by name ("logits", "router_weights"). */
int tk_ir_tensor_find(const tk_ir_module *m, const char *name);

/* ==== Printer ================================================================================= */

/* The text dump of a module (ir/printer.c; the format is in docs/ir.md "The dump format"):
 * the whole module at the stage it has reached, in the syntax tk_ir_parse reads back, so
 * print(parse(print(m))) == print(m) byte for byte. Stable (golden-tested). */
TK_MUST_USE tk_status tk_ir_module_print(const tk_ir_module *m, FILE *out);
const char *tk_ir_stage_name(tk_ir_stage s); /* "graph", "padded", "fused", "planned", ... */

typedef enum tk_ir_dump {
  TK_DUMP_GRAPH,  /* --emit=ir:        the module at stage graph */
  TK_DUMP_FUSED,  /* --emit=ir-fused:  at stage fused or planned */
  TK_DUMP_GPU,    /* --emit=ir-gpu:    at stage gpu */
  TK_DUMP_CPU,    /* --emit=ir-cpu:    at stage cpu */
  TK_DUMP_PADDED, /* --emit=ir-padded: at stage padded */
} tk_ir_dump;
/* tk_ir_module_print after checking that the module has reached the dump's stage. */
TK_MUST_USE tk_status tk_ir_print(const tk_ir_module *m, tk_ir_dump what, FILE *out);
/* One kernel as it appears in the module's dump. */
TK_MUST_USE tk_status tk_ir_kernel_print(const tk_ir_module *m, const tk_ir_kernel *k,
                                         FILE *out); /* TK_RESOURCE_EXHAUSTED when out of memory */

/* ==== Parser ================================================================================== */

/* Rebuilds a module from its dump (ir/parse.c): `text` (len bytes, need not be
 * NUL-terminated) as tk_ir_module_print wrote it, at any stage. On success *out is a new
 * module (caller owns; tk_ir_module_free) that tk_ir_verify accepts, that prints back to the
 * same bytes, on which the remaining passes give the same dumps, and whose proof obligations
 * are the original's (inverse maps, origins and substitutions are in the dump; the origins of
 * loads are rebuilt from their store's origin). Not rebuilt: dead ops, the sharing of value
 * nodes, and variable ids (a variable's id is its order of appearance). Malformed input gives
 * TK_INVALID_ARGUMENT "filename:line:col: expected ..., found ..." (TK_RESOURCE_EXHAUSTED
 * when out of memory) and *out = NULL, with nothing leaked. */
TK_MUST_USE tk_status tk_ir_parse(const char *text, size_t len, const char *filename,
                                  tk_ir_module **out);

/* ==== Structural checker ====================================================================== */

/* Checks well-formedness of everything the module's stage holds: tensor/op references and
 * shapes, every variable bound by an enclosing loop or phase, arg/local indices in range,
 * value types consistent (store type = buffer type, SELECT/compare operands), loop kinds and
 * bindings where they belong, launch records, buffer assignment. Not a proof of bounds
 * (that is verify/). Errors name the kernel/op and the offending node. */
TK_MUST_USE tk_status tk_ir_verify(const tk_ir_module *m);

/* ==== Passes (same signature; each advances m->stage by one) ================================== */

TK_MUST_USE tk_status tk_ir_pass_pad(tk_ir_module *m);          /* GRAPH   -> PADDED */
TK_MUST_USE tk_status tk_ir_pass_fuse(tk_ir_module *m);         /* PADDED  -> FUSED */
TK_MUST_USE tk_status tk_ir_pass_plan_buffers(tk_ir_module *m); /* FUSED   -> PLANNED */
TK_MUST_USE tk_status tk_ir_pass_schedule_gpu(tk_ir_module *m); /* PLANNED -> GPU */
TK_MUST_USE tk_status tk_ir_pass_schedule_cpu(tk_ir_module *m); /* GPU     -> CPU */

#endif /* TK_IR_IR_H */
