/* codegen/cg_internal.h — private interfaces between the files of codegen/ (not installed).
 * Sectioned by defining file.
 *
 *   cg_context.c    LLVM context with a diagnostic handler (errors → tk_status, remarks dropped)
 *   cg_target_*.c   per-target hooks (tk_cg_target): triple, CPU, ids, address space, calling
 *                   convention, attributes, exp2; cg_target_gpu.c: the GPU kernel ABI shared
 *                   by amdgcn and nvptx
 *   cg_kernel.c     scheduled kernel statement tree → LLVM IR
 *   cg_ix.c         tk_ix index expressions → integer IR in the kernel's index width
 *   cg_math.c       exp / tanh / erf as inline range-reduced polynomial code (no libcalls)
 *   cg_mutants.c    the codegen mutants (planted defects for the translation validator)
 *   cg_emit.c       target machine, `default<O3>`, object / asm / IR text emission
 *   cg_link.c       ld.lld into a shared object
 */
#ifndef TK_CODEGEN_CG_INTERNAL_H
#define TK_CODEGEN_CG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "tk/status.h"

/* ---- cg_context.c ---------------------------------------------------------------------- */

/* One compilation's LLVM state. The diagnostic handler keeps the first error message. */
typedef struct tk_cg_ctx {
  LLVMContextRef ctx;
  bool has_error;   /* the handler saw an error */
  char *diag_error; /* malloc'd text of the first one (NULL if strdup failed) */
} tk_cg_ctx;

TK_MUST_USE tk_status tk_cg_ctx_create(tk_cg_ctx *c);
void tk_cg_ctx_dispose(tk_cg_ctx *c);
/* The error the handler caught (TK_INTERNAL, annotated with `stage`), or OK. Clears it. */
TK_MUST_USE tk_status tk_cg_ctx_take_error(tk_cg_ctx *c, const char *stage);

/* ---- module-level state shared by the lowering files ------------------------------------ */

typedef struct tk_cg_target tk_cg_target;

typedef struct tk_cg_module {
  tk_cg_ctx *c;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  const tk_cg_target *target;
  const tk_ir_module *ir;
  const tk_cg_options *opts;
  const char *cpu;                    /* the target machine's CPU (gfx90a, sm_80, x86-64-v3, ...) */
  LLVMTypeRef f32, i1, i32, i64, ptr; /* ptr: a buffer pointer in the target's global AS */
} tk_cg_module;

/* A bound loop's iteration, as a target gives it: a loop over [lo, hi) (CPU targets), or a
 * single value `id` with no loop (GPU ids). Values are i64. */
typedef struct tk_cg_bound {
  LLVMValueRef lo, hi;
  LLVMValueRef id;
} tk_cg_bound;

/* The function being emitted for one scheduled kernel. */
typedef struct tk_cg_fn {
  tk_cg_module *cm;
  const tk_ir_kernel *k;
  LLVMValueRef fn;         /* the function holding the body */
  LLVMValueRef *bufs;      /* k->nargs buffer pointers */
  LLVMValueRef B, Bp;      /* i32 */
  LLVMValueRef begin, end; /* i64 (CPU targets), else NULL */
  LLVMTypeRef ity;         /* index type: i32 or i64 (k->index_bits) */
  LLVMValueRef *vars;      /* current value of each variable (by id), index type */
  tk_ix_range *ranges;     /* range of each variable (by id) while in scope */
  LLVMValueRef *locals;    /* allocas, one per k->locals */
  /* An index read (TK_IX_LOAD) as a value of the index type: the tagged i32 load, emitted
   * once per statement (cg_kernel.c). */
  tk_status (*ix_load)(struct tk_cg_fn *fn, const tk_ix *e, LLVMValueRef *out);
} tk_cg_fn;

/* ---- cg_target_*.c: per-target hooks --------------------------------------------------- */

struct tk_cg_target {
  const char *name; /* "x86_64", "x86_64-simt" (tk_bundle_target) */
  const char *triple;
  const char *default_cpu;
  tk_ir_target schedule;   /* which scheduled kernel list is lowered */
  unsigned global_as;      /* address space of buffer pointers */
  void (*init_llvm)(void); /* registers the LLVM target (idempotent) */
  /* Checks a CPU name (after `native` is resolved by the caller). */
  TK_MUST_USE tk_status (*check_cpu)(const char *cpu);
  /* Declares the kernel's function(s) with the calling convention and attributes, fills
   * fn->fn, bufs, B, Bp (begin, end for CPU targets) and leaves the builder in the body's
   * entry block. `noalias[i]` says buffer argument i is not aliased by another argument. */
  TK_MUST_USE tk_status (*begin_kernel)(tk_cg_fn *fn, const bool *noalias);
  /* The iteration of a loop bound to `binding` (extent = the loop's extent, lowered). */
  TK_MUST_USE tk_status (*bind)(tk_cg_fn *fn, tk_ir_binding binding, LLVMValueRef extent,
                                tk_cg_bound *out);
  /* 2^x for an f32 x (the math in cg_math.c builds exp and tanh on it). */
  LLVMValueRef (*exp2)(tk_cg_module *cm, LLVMValueRef x);
  /* Module-level additions after all kernels (tk_bundle_target, module flags). */
  void (*finish_module)(tk_cg_module *cm);
  /* GPU targets: the address space of workgroup-shared locals (LDS / shared memory) and the
   * workgroup barrier at the builder's position (TK_S_BARRIER). NULL barrier: the target runs
   * no kernel with shared locals or barriers (codegen refuses them). */
  unsigned shared_as;
  TK_MUST_USE tk_status (*barrier)(tk_cg_fn *fn);
};

extern const tk_cg_target tk_cg_target_x86_64;      /* cg_target_x86.c (read-only) */
extern const tk_cg_target tk_cg_target_x86_64_simt; /* cg_target_simt.c (read-only) */
extern const tk_cg_target tk_cg_target_amdgcn;      /* cg_target_amdgcn.c (read-only) */
extern const tk_cg_target tk_cg_target_nvptx;       /* cg_target_nvptx.c (read-only) */

/* Shared by the CPU targets (cg_target_x86.c): the ABI wrapper
 * void NAME(void *const *args, i32 B, i32 Bp, i64 begin, i64 end) calling an internal body
 * function whose pointer parameters carry noalias/nonnull/align 64. */
TK_MUST_USE tk_status tk_cg_cpu_begin_kernel(tk_cg_fn *fn, const bool *noalias);
void tk_cg_cpu_finish_module(tk_cg_module *cm);
/* The end of the [begin, end) range the CPU targets' block loop runs (fn->end). */
LLVMValueRef tk_cg_cpu_block_end(tk_cg_fn *fn);
TK_MUST_USE tk_status tk_cg_x86_check_cpu(const char *cpu);
void tk_cg_x86_init_llvm(void);

/* Shared by the GPU targets (cg_target_gpu.c, docs/abi.md "GPU targets"): declares the
 * kernel void NAME(ptr addrspace(global_as) arg_0, ..., i32 B, i32 Bp) with calling convention
 * `cc` (noalias where `noalias[i]`, nocapture, readonly for read-only arguments), fills fn and
 * positions the builder in its entry block. */
TK_MUST_USE tk_status tk_cg_gpu_begin_kernel(tk_cg_fn *fn, const bool *noalias, unsigned cc);
/* The workgroup_x / thread_x iteration as an id: the target's i32 id intrinsic (no
 * arguments), zero-extended to i64. Other bindings are an error. */
TK_MUST_USE tk_status tk_cg_gpu_bind(tk_cg_fn *fn, tk_ir_binding binding, const char *workgroup_id,
                                     const char *thread_id, tk_cg_bound *out);
/* A workgroup-shared local of fn's kernel: an internal [count x T] global in the target's
 * shared address space named "<kernel>.<local>", undef-initialised (LDS cannot be
 * initialised), 16-byte aligned. */
LLVMValueRef tk_cg_gpu_shared_local(tk_cg_fn *fn, int local, LLVMTypeRef array);
/* A call of a non-overloaded intrinsic without arguments returning void (the barriers). */
void tk_cg_gpu_void_call(tk_cg_module *cm, const char *intrinsic);
/* Checks `name` against a NULL-terminated list; the error names the target and `expected`. */
TK_MUST_USE tk_status tk_cg_check_name(const char *what, const char *name, const char *const *known,
                                       const char *expected);

/* ---- cg_kernel.c ------------------------------------------------------------------------ */

/* Emits one scheduled kernel into cm->mod. */
TK_MUST_USE tk_status tk_cg_kernel_emit(tk_cg_module *cm, const tk_ir_kernel *k);
/* Attaches provenance metadata `kind` !{i32 vals[0], ...} (ir.h TK_IR_MD_*) to inst when it
 * is an instruction (the builder folds constant operations into constants: nothing to tag). */
void tk_cg_tag(tk_cg_module *cm, LLVMValueRef inst, const char *kind, const int64_t *vals,
               unsigned n);

/* ---- cg_mutants.c ------------------------------------------------------------------------ */

/* True when the compile runs codegen mutant `id` (a tk_cg_mutants entry). */
bool tk_cg_mutant_on(const tk_cg_module *cm, const char *id);

/* ---- cg_ix.c ---------------------------------------------------------------------------- */

/* Lowers an index expression in fn->ity. Variables must be in scope (fn->vars set). */
TK_MUST_USE tk_status tk_cg_ix(tk_cg_fn *fn, const tk_ix *e, LLVMValueRef *out);
/* Range of e under the variables' current ranges and 1 <= B <= bmax. */
tk_ix_range tk_cg_ix_bounds(const tk_cg_fn *fn, const tk_ix *e);

/* ---- cg_math.c -------------------------------------------------------------------------- */

/* Portable 2^x: clamp, round to nearest, degree-7 polynomial, exponent bits. Every target's
 * default exp2 hook. */
LLVMValueRef tk_cg_math_exp2(tk_cg_module *cm, LLVMValueRef x);
LLVMValueRef tk_cg_math_exp(tk_cg_module *cm, LLVMValueRef x);
LLVMValueRef tk_cg_math_tanh(tk_cg_module *cm, LLVMValueRef x);
LLVMValueRef tk_cg_math_erf(tk_cg_module *cm, LLVMValueRef x);
/* Intrinsic call helper: name (e.g. "llvm.fmuladd"), overloaded on `ty`. */
LLVMValueRef tk_cg_intrinsic(tk_cg_module *cm, const char *name, LLVMTypeRef ty, LLVMValueRef *args,
                             unsigned nargs, const char *label);

/* ---- cg_emit.c -------------------------------------------------------------------------- */

/* Creates the target machine for o (cpu resolved; TK_INVALID_ARGUMENT for a bad CPU). */
TK_MUST_USE tk_status tk_cg_machine_create(const tk_cg_target *t, const tk_cg_options *o,
                                           LLVMTargetMachineRef *out);
/* Verifies, runs `default<O<level>>` with the TM, and emits `what`. Errors from the
 * verifier, the pass pipeline or code generation (through c's handler) become TK_INTERNAL. */
TK_MUST_USE tk_status tk_cg_module_emit(tk_cg_ctx *c, LLVMModuleRef mod, LLVMTargetMachineRef tm,
                                        int opt_level, tk_cg_emit what, tk_cg_blob *out);

/* ---- codegen.c -------------------------------------------------------------------------- */

/* The target named `name`, or TK_INVALID_ARGUMENT listing the known ones. */
TK_MUST_USE tk_status tk_cg_target_get(const char *name, const tk_cg_target **out);

#endif /* TK_CODEGEN_CG_INTERNAL_H */
