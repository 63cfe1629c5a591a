/* compiler/tkc.h — libtkc, the compiler as a library: arch.json → bundle directory.
 *
 * tkc_compile runs the whole pipeline as one list (compiler/bundle.c): arch → IR passes
 * (compiler/pipeline.h) → verifier (proofs/ in the bundle) → codegen per target
 * (codegen/codegen.h) → host stub (codegen/hoststub.h) → manifest.json (compiler/manifest.c)
 * → one atomic rename (compiler/bundle_fs.c). A failure at any stage leaves nothing behind:
 * no bundle, no temp dir; an existing bundle at the output path is replaced only on success.
 * Output is deterministic: two compiles of the same inputs into different directories give
 * byte-identical bundles (no times, paths, pids or temp names in any file).
 *
 * Used by `tkc compile` (compiler/bundle_cli.c parses its flags) and by the runtime's
 * on-the-fly path (tkrun/tkserve --arch, issue 8), which compiles into a cache directory.
 * No global state: concurrent compiles into different directories are fine.
 */
#ifndef TK_COMPILER_TKC_H
#define TK_COMPILER_TKC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/arch.h"
#include "tk/status.h"

#define TKC_BUNDLE_FORMAT "tkc-bundle/1"
#define TKC_DEFAULT_CPU "x86-64-v3"
#define TKC_DEFAULT_MAX_BATCH 65536
/* The targets a bundle gets when --targets is not given (every target that exists). */
#define TKC_DEFAULT_TARGETS "amdgcn,nvptx,x86_64"
/* amdgcn: one code object per gfx processor, all in model.hsaco (an offload bundle). */
#define TKC_DEFAULT_OFFLOAD_ARCH "gfx90a,gfx942,gfx1100"
/* nvptx: one model.<sm>.ptx per sm. */
#define TKC_DEFAULT_CUDA_ARCH "sm_80,sm_90"

typedef struct tkc_options {
  const char *arch_path;  /* the arch.json to compile (used when arch is NULL; messages) */
  const tk_arch *arch;    /* an already-parsed arch, or NULL to load arch_path */
  const char *out_dir;    /* the bundle directory; missing parents are created */
  const char *targets;    /* comma list: amdgcn, nvptx, x86_64, x86_64-simt
                             (NULL = TKC_DEFAULT_TARGETS) */
  const char *offload_arch; /* --offload-arch: comma list of gfx names (NULL = default) */
  const char *cuda_arch;  /* --cuda-arch: comma list of sm names (NULL = default) */
  int code_object_version; /* --code-object-version 4|5 for every gfx; 0 = per gfx: 4 for
                              gfx90a (ROCm 5), 5 for gfx942/gfx1100 (ROCm 6) */
  const char *cpu;        /* --cpu for x86_64 targets: x86-64[-v2|-v3|-v4] or native */
  int64_t max_batch;      /* --max-batch: 1 <= B <= max_batch for every launch */
  bool quiet;             /* no progress lines */
  const char *mutant;     /* a verifier mutant id (tests; NULL = none) — not yet wired */
  const char *cc;         /* the system C compiler for model_host.so (NULL = "cc") */
  const char *runtime_include; /* dir with tk/launch.h (NULL = this build's runtime/include) */
  FILE *progress;         /* progress lines (NULL = stderr) */
} tkc_options;

void tkc_options_default(tkc_options *o);

/* Compiles o->arch (or o->arch_path) into the bundle directory o->out_dir. Errors:
 * TK_INVALID_ARGUMENT (arch, options), TK_PROOF_FAILED (an obligation, with the
 * counterexample), TK_IO_ERROR (the output), TK_INTERNAL (toolchain). */
TK_MUST_USE tk_status tkc_compile(const tkc_options *o);

/* ---- `tkc compile` flags (compiler/bundle_cli.c) ------------------------------------------ */

typedef enum tkc_flag_result { TKC_FLAG_NOT_OURS = 0, TKC_FLAG_TAKEN = 1, TKC_FLAG_BAD = -1 } tkc_flag_result;

/* Looks at argv[*i]: if it is one of `-o DIR`, `--targets LIST`, `--cpu CPU`,
 * `--max-batch N`, `--offload-arch LIST`, `--cuda-arch LIST`, `--code-object-version 4|5`,
 * `--quiet` (also `--flag=value`), stores it in o, advances *i past its value
 * and returns TKC_FLAG_TAKEN; TKC_FLAG_NOT_OURS leaves everything alone; TKC_FLAG_BAD writes a
 * one-line usage message into err. */
tkc_flag_result tkc_options_parse_flag(tkc_options *o, int argc, char **argv, int *i, char *err,
                                       size_t err_size);

/* Help text for these flags (for `tkc compile --help`). */
extern const char tkc_compile_flags_help[];


#endif /* TK_COMPILER_TKC_H */
