/* compiler/pipeline.h — the compiler's pass list in one function (style.md "Passes"):
 * lower → pad → fuse → plan buffers → schedule gpu → schedule cpu (later issues append
 * verify and codegen). */
#ifndef TK_COMPILER_PIPELINE_H
#define TK_COMPILER_PIPELINE_H

#include <stdbool.h>

#include "model/arch.h"
#include "ir/ir.h"

typedef struct tkc_pipeline_options {
  tk_ir_options ir;        /* bmax, workgroup sizes, CPU tile sizes */
  bool verify_each;        /* run tk_ir_verify after every pass (tests always do) */
  tk_ir_stage stop_after;  /* last stage to reach (TK_STAGE_CPU = everything) */
} tkc_pipeline_options;

/* Defaults: tk_ir_options_default, then the CPU schedule for TKC_DEFAULT_CPU (below). */
void tkc_pipeline_options_default(tkc_pipeline_options *o);

/* Sets the CPU schedule's blocking for an x86-64 CPU as codegen resolves it (name and feature
 * string, tk_cg_cpu_resolve; `features` may be "" for a named CPU): blocks of 64 rows, so the
 * weights are streamed once per 64 rows; register tile 8 rows × 32 columns (16 zmm
 * accumulators) where the CPU has AVX-512F, else 4 × 24 (12 of the 16 ymm registers).
 * Measured in bench/README.md. */
void tkc_pipeline_cpu_schedule(tk_ir_options *ir, const char *cpu, const char *features);

/* tkc_pipeline_cpu_schedule for `--cpu` (NULL = the x86_64 target's default, "native" = this
 * host) as tk_cg_cpu_resolve resolves it; TK_INVALID_ARGUMENT for a CPU it does not know. */
TK_MUST_USE tk_status tkc_pipeline_set_cpu(tkc_pipeline_options *o, const char *cpu);

/* Runs the passes up to o->stop_after. Caller owns *out. A failing tk_ir_verify names the
 * pass after which it failed (TK_INTERNAL). */
TK_MUST_USE tk_status tkc_pipeline_run(const tk_arch *arch, const tkc_pipeline_options *o,
                                       tk_ir_module **out);

#endif
