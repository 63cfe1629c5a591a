/* compiler/tkc.h — libtkc, the compiler as a library: arch.json → bundle directory.
 *
 * tkc_compile runs the whole pipeline as one pass table (compiler/driver.c): arch → lower →
 * IR passes → verifier (proofs/ in the bundle) → codegen per target
 * (codegen/codegen.h) → host stub (codegen/hoststub.h) → manifest.json (compiler/manifest.c)
 * → one atomic rename (compiler/bundle_fs.c). A failure at any stage leaves nothing behind:
 * no bundle, no temp dir; an existing bundle at the output path is replaced only on success.
 * Output is deterministic: two compiles of the same inputs into different directories give
 * byte-identical bundles (no times, paths, pids or temp names in any file).
 *
 * `tkc compile`, `tkc verify` and `tkc opt` are thin options on it (compiler/cmd_*.c;
 * compiler/bundle_cli.c parses the flags they share).
 * No global state: concurrent compiles into different directories are fine.
 */
#ifndef TK_COMPILER_TKC_H
#define TK_COMPILER_TKC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"
#include "verify/verify.h"
#include "model/arch.h"
#include "tk/status.h"

#define TKC_DEFAULT_MAX_BATCH 65536
/* The targets a bundle gets when --targets is not given (every target that exists). */
#define TKC_DEFAULT_TARGETS "amdgcn,nvptx,x86_64"
/* amdgcn: one code object per gfx processor, all in model.hsaco (an offload bundle). */
#define TKC_DEFAULT_OFFLOAD_ARCH "gfx90a,gfx942,gfx1100"
/* nvptx: one model.<sm>.ptx per sm. */
#define TKC_DEFAULT_CUDA_ARCH "sm_80,sm_90"
/* x86_64: one code object per CPU, each with its own CPU schedule, proofs and stub; the
 * runtime runs the best one the host supports. The first is the primary (docs/abi.md
 * "Bundle layout"). */
#define TKC_DEFAULT_CPU "x86-64-v3,x86-64-v4"

/* ---- The pass table ------------------------------------------------------------------------
 * Every stage of the compiler, in order (compiler/driver.c): arch, lower, pad, fuse,
 * plan-buffers, schedule-gpu, schedule-cpu, verify, codegen, offload, stub, levels, write. The IR passes
 * (pad .. schedule-cpu) have ir_run set: `tkc opt` runs them alone on a parsed dump. A view is
 * a text dump that can be printed after a pass (`--emit=VIEW`, `--dump-after=PASS`). */
struct tkc_job; /* the driver's state (compiler/driver.c) */
typedef struct tkc_pass {
  const char *name;                     /* "pad" */
  const char *summary;                  /* one line for --help */
  tk_status (*ir_run)(tk_ir_module *m); /* IR passes only; NULL for other stages */
  tk_ir_stage stage; /* IR passes: the stage the module reaches (TK_STAGE_GRAPH otherwise) */
  tk_status (*run)(struct tkc_job *j, const struct tkc_pass *p); /* the driver's step */
} tkc_pass;

typedef struct tkc_view {
  const char *name; /* the --emit name: arch, ir, ir-padded, ... */
  const char *pass; /* printed after this pass */
  const char *summary;
} tkc_view;

const tkc_pass *tkc_pass_table(size_t *n);
const tkc_pass *tkc_pass_find(const char *name); /* NULL if there is no such pass */
const tkc_view *tkc_view_table(size_t *n);
const tkc_view *tkc_view_find(const char *name); /* NULL if there is no such view */

typedef struct tkc_options {
  const char *arch_path;    /* the arch.json to compile (used when arch is NULL; messages) */
  const tk_arch *arch;      /* an already-parsed arch, or NULL to load arch_path */
  int32_t layer;            /* --layer: the decoder layer of a config.json arch_path (-1 =
                                  not given: layer 0; an error for an arch.json) */
  const char *out_dir;      /* the bundle directory; missing parents are created (NULL with
                             stop_after or emit) */
  const char *targets;      /* comma list: amdgcn, nvptx, x86_64, x86_64-simt
                             (NULL = TKC_DEFAULT_TARGETS) */
  const char *offload_arch; /* --offload-arch: comma list of gfx names (NULL = default) */
  const char *cuda_arch;    /* --cuda-arch: comma list of sm names (NULL = default) */
  int code_object_version;  /* --code-object-version 4|5 for every gfx; 0 = per gfx: 4 for
                              gfx90a (ROCm 5), 5 for gfx942/gfx1100 (ROCm 6) */
  const char *cpu;          /* --cpu: one CPU or a comma list, each a name of codegen's CPU
                             table (tk_cg_x86_cpu_info) or native, at most one per psABI
                             level (NULL = TKC_DEFAULT_CPU). The first is the primary: its
                             schedule is the module's (views, tkc verify); each further one
                             is compiled and proved by itself (pass `levels`) */
  int64_t max_batch;        /* --max-batch: 1 <= B <= max_batch for every launch */
  tk_ir_dispatch dispatch;  /* --dispatch: how an MoE's experts see the batch (default sparse) */
  tk_ir_gpu_schedule gpu_schedule; /* --gpu-schedule: GPU GEMM launches (default simple) */
  bool quiet;                      /* no progress lines */
  const char *mutant;          /* a verifier mutant id applied before verify (tests; NULL = none) */
  const char *cg_mutant;       /* a codegen mutant id (tk_cg_mutants, tk_cg_stub_mutants;
                                  tests; NULL = none) */
  const char *cc;              /* the system C compiler for model_host.so (NULL = "cc") */
  const char *runtime_include; /* dir with tk/launch.h (NULL = this build's runtime/include) */
  FILE *progress;              /* progress lines (NULL = stderr) */
  /* Driver controls (the pass table above): */
  const char *stop_after;         /* a pass name: stop after it and write nothing (NULL = all) */
  const char *dump_after;         /* comma list of pass names: print each pass's first view (an IR
                             pass without one: the module's dump) after it */
  const char *emit;               /* a view name: print it, stop after its pass, write nothing */
  bool no_solve;                  /* verify generates the obligations but proves nothing (tests of
                             the views only; the bundle is never written then) */
  FILE *dump;                     /* where views go (NULL = stdout) */
  tk_ir_module **keep_module;     /* non-NULL: receives the module as the last pass left it */
  tk_verify_report **keep_report; /* non-NULL: receives the verify pass's report */
} tkc_options;

void tkc_options_default(tkc_options *o);

/* Runs the pass table on o->arch (or o->arch_path): up to o->stop_after or o->emit's pass,
 * printing the views asked for; with neither, the whole list into the bundle directory
 * o->out_dir. Errors: TK_INVALID_ARGUMENT (arch, options), TK_PROOF_FAILED (an obligation,
 * with the counterexample), TK_IO_ERROR (the output), TK_INTERNAL (toolchain). */
TK_MUST_USE tk_status tkc_compile(const tkc_options *o);

/* ---- The IR part of the pass table, for tests ----------------------------------------------
 * lower and the IR passes up to stop_after, with the CPU schedule of `cpu`: the same loop
 * tkc_compile runs. */
typedef struct tkc_ir_options {
  tk_ir_options ir;       /* bmax, workgroup sizes, CPU tile sizes */
  bool verify_each;       /* run tk_ir_verify after every pass (tests always do) */
  tk_ir_stage stop_after; /* last stage to reach (TK_STAGE_CPU = everything) */
} tkc_ir_options;

/* tk_ir_options_default with the CPU schedule of TK_CG_DEFAULT_X86_CPU, every stage. */
void tkc_ir_options_default(tkc_ir_options *o);
/* The CPU schedule for --cpu `cpu` (NULL = the default; "native" = this host) from codegen's
 * CPU table; TK_INVALID_ARGUMENT for a CPU it does not know. */
TK_MUST_USE tk_status tkc_ir_options_set_cpu(tk_ir_options *o, const char *cpu);
/* Runs lower and the IR passes. Caller owns *out. A failing tk_ir_verify names the pass. */
TK_MUST_USE tk_status tkc_build_ir(const tk_arch *arch, const tkc_ir_options *o,
                                   tk_ir_module **out);

/* ---- `tkc compile` flags (compiler/bundle_cli.c) ------------------------------------------ */

typedef enum tkc_flag_result {
  TKC_FLAG_NOT_OURS = 0,
  TKC_FLAG_TAKEN = 1,
  TKC_FLAG_BAD = -1
} tkc_flag_result;

/* Looks at argv[*i]: if it is one of `-o DIR`, `--targets LIST`, `--cpu LIST`,
 * `--max-batch N`, `--offload-arch LIST`, `--cuda-arch LIST`, `--code-object-version 4|5`,
 * `--quiet` (also `--flag=value`), stores it in o, advances *i past its value
 * and returns TKC_FLAG_TAKEN; TKC_FLAG_NOT_OURS leaves everything alone; TKC_FLAG_BAD writes a
 * one-line usage message into err. */
tkc_flag_result tkc_options_parse_flag(tkc_options *o, int argc, char **argv, int *i, char *err,
                                       size_t err_size);

/* Help text for these flags (for `tkc compile --help`). */
extern const char tkc_compile_flags_help[];

#endif /* TK_COMPILER_TKC_H */
