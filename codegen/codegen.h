/* codegen/codegen.h — code generation through LLVM (docs/architecture.md "The pipeline").
 *
 * Lowers the scheduled kernels of one target of a module (m->targets[...], stage CPU) into
 * one LLVM module, optimises it with `default<O3>` under the target machine, and emits an
 * object file, assembly or LLVM IR text; tk_cg_link_shared links an object into the shared
 * object the runtime loads. Everything is in memory (tk_cg_blob); nothing is written to disk
 * except by tk_cg_blob_write and the linker's private temp directory.
 *
 * Targets of this issue (ABI: docs/abi.md):
 *   "x86_64"       the `cpu` schedule; one exported function per scheduled kernel,
 *                  void NAME(void *const *args, int32_t B, int32_t Bp, int64_t begin, int64_t end)
 *                  running cpu_block iterations [begin, end);
 *   "x86_64-simt"  the `gpu` schedule's bodies, workgroup_x over [begin, end) and thread_x
 *                  over [0, workgroup_size) as plain loops; same prototype (test-only).
 * Both export `const char tk_bundle_target[]` ("x86_64" / "x86_64-simt"), with
 * o->fingerprint `const char tk_model_fingerprint[]` (the arch fingerprint), and nothing else;
 * exp, tanh and erf are inline code (no libm), so the objects link with --no-undefined.
 *   "amdgcn"       the `gpu` schedule for amdgcn-amd-amdhsa, CPU = a gfx name (default gfx90a);
 *                  one amdgpu_kernel per scheduled kernel, void NAME(ptr addrspace(1) arg_0,
 *                  ..., i32 B, i32 Bp), no implicit arguments (kernarg_size = 8*nargs + 8),
 *                  amdgpu-flat-work-group-size = the launch's workgroup size; code-object
 *                  version per tk_cg_amdgcn_code_object_version. tk_cg_compile_shared gives
 *                  the ET_DYN code object (ld.lld -shared).
 *   "nvptx"        the `gpu` schedule for nvptx64-nvidia-cuda, CPU = an sm name (default
 *                  sm_80); ptx_kernel entries with the same parameters and `.maxntid WG, 1, 1`;
 *                  TK_CG_EMIT_ASM gives the PTX text (the shipped form).
 * GPU kernels use the same inline exp/tanh/erf as the CPU targets (cg_math.c), so the
 * arithmetic x86_64-simt runs in CI is the arithmetic the GPUs run.
 *
 * Guarantees: deterministic output (the same module and options give the same bytes, whatever
 * the output path); an LLVM error becomes a TK_INTERNAL tk_status (the process never exits);
 * no global mutable state (each call owns its LLVM context, so calls may run in parallel).
 */
#ifndef TK_CODEGEN_CODEGEN_H
#define TK_CODEGEN_CODEGEN_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"
#include "tk/status.h"

typedef enum tk_cg_emit {
  TK_CG_EMIT_OBJECT,     /* ELF relocatable object (ET_REL) */
  TK_CG_EMIT_ASM,        /* target assembly text (--emit=asm) */
  TK_CG_EMIT_LLVM,       /* LLVM IR text after optimisation (--emit=llvm) */
  TK_CG_EMIT_LLVM_UNOPT, /* LLVM IR text as codegen built it, before any pass (--emit=llvm-unopt) */
  TK_CG_EMIT_NONE,       /* nothing: build the module and run o->validate only (empty blob) */
} tk_cg_emit;

/* A check of the unoptimised LLVM module of one target (`mod` is an LLVMModuleRef, `target`
 * the codegen target name), run after the kernels are built and before any pass: an error
 * stops the compile with that status. The translation validator (verify/tv.h) is one. */
struct LLVMOpaqueModule;
typedef tk_status (*tk_cg_validate_fn)(void *user, struct LLVMOpaqueModule *mod,
                                       const char *target);

typedef struct tk_cg_options {
  const char *target;         /* "x86_64", "x86_64-simt", "amdgcn", "nvptx" (tk_cg_target_names) */
  const char *cpu;            /* NULL = the target's default ("x86-64-v3", "gfx90a", "sm_80");
                         "native" (x86 targets only) = the host's
                         CPU name and features; otherwise a CPU name the target accepts */
  int opt_level;              /* 0..3 (default 3: `default<O3>` and aggressive codegen) */
  int code_object_version;    /* amdgcn: 4 or 5; 0 = tk_cg_amdgcn_code_object_version(cpu, 0) */
  const char *mutant;         /* a codegen mutant id (tk_cg_mutants, or an "abi." one of
                                 tk_cg_stub_mutants; tests), NULL = none */
  tk_cg_validate_fn validate; /* NULL = none */
  void *validate_user;
  const char *fingerprint; /* the arch fingerprint (16 hex digits) CPU targets export as
                              tk_model_fingerprint, PTX carries as a comment line and amdgcn
                              as the constant bytes "tk_model_fingerprint=<fp>"
                              (TK_MODEL_FINGERPRINT_SYMBOL, tk/launch.h); NULL = none */
} tk_cg_options;

/* ---- Codegen mutants (cg_mutants.c): planted defects the translation validator must refute */

typedef struct tk_cg_mutant {
  const char *id;          /* "swap-ids" */
  const char *cls;         /* the obligation class expected to refute it: "address", "control" */
  const char *description; /* one line */
} tk_cg_mutant;
/* The table, in a fixed order; *n = its length. */
const tk_cg_mutant *tk_cg_mutants(size_t *n);
/* OK when id is in the table or in hoststub.h's tk_cg_stub_mutants (or NULL), else TK_NOT_FOUND
 * naming --list-cg-mutants. */
TK_MUST_USE tk_status tk_cg_mutant_check(const char *id);

void tk_cg_options_default(tk_cg_options *o);

/* The AMDGPU code-object version for gfx name `gfx`: `requested` when nonzero, else 4 for the
 * targets ROCm 5.x knows (gfx8xx, gfx900..gfx90c, gfx10xx: Debian's HIP 5.2.3 accepts COV4
 * only, docs/toolchain.md §1) and 5 for newer ones (gfx94x, gfx95x, gfx11xx, gfx12xx: ROCm 6). */
int tk_cg_amdgcn_code_object_version(const char *gfx, int requested);

/* ---- The x86-64 CPU table (cg_target_x86.c): the one list of CPUs `--cpu` accepts ------- */

#define TK_CG_DEFAULT_X86_CPU "x86-64-v3" /* --cpu when none is given */

typedef struct tk_cg_x86_cpu {
  const char *name;  /* what --cpu takes ("znver4"), or the host's name for native */
  const char *level; /* the psABI level the runtime checks before loading ("x86-64-v4") */
  bool avx512;       /* AVX-512F: the CPU schedule then tiles for 32 zmm registers */
} tk_cg_x86_cpu;

/* The table entry of `cpu`; with a non-empty LLVM feature string (a resolved `native`) the
 * level and AVX-512 are read from the features instead. TK_INVALID_ARGUMENT for a CPU the
 * table does not hold. */
TK_MUST_USE tk_status tk_cg_x86_cpu_info(const char *cpu, const char *features, tk_cg_x86_cpu *out);

/* Bytes owned by the caller (tk_cg_blob_free; NULL-safe, idempotent). Text outputs are
 * NUL-terminated (the NUL is not counted in size). */
typedef struct tk_cg_blob {
  unsigned char *data;
  size_t size;
} tk_cg_blob;
void tk_cg_blob_free(tk_cg_blob *b);

/* The targets codegen knows, NULL-terminated ("x86_64", "x86_64-simt", "amdgcn", "nvptx"). */
const char *const *tk_cg_target_names(void);

/* The CPU name and feature string a target machine is created with for `o` (what `native`
 * resolves to on this host, or the default). TK_INVALID_ARGUMENT for an unknown target or a
 * CPU the target does not accept. *out_cpu and *out_features are malloc'd (caller frees). */
TK_MUST_USE tk_status tk_cg_cpu_resolve(const tk_cg_options *o, char **out_cpu,
                                        char **out_features);

/* Builds, optimises and emits the kernels of o->target from m (stage CPU or later). */
TK_MUST_USE tk_status tk_cg_compile(const tk_ir_module *m, const tk_cg_options *o, tk_cg_emit what,
                                    tk_cg_blob *out);

/* Links an object (TK_CG_EMIT_OBJECT) into a shared object with `ld.lld-19 -shared
 * --no-undefined --build-id=none` (found on PATH, else /usr/lib/llvm-19/bin/ld.lld), run with
 * posix_spawn in a private temp directory that is removed afterwards. The linker's stderr is
 * returned in the error message. Deterministic. */
TK_MUST_USE tk_status tk_cg_link_shared(const tk_cg_blob *object, tk_cg_blob *out_so);

/* tk_cg_compile(OBJECT) + tk_cg_link_shared. */
TK_MUST_USE tk_status tk_cg_compile_shared(const tk_ir_module *m, const tk_cg_options *o,
                                           tk_cg_blob *out_so);

/* Writes the bytes to path atomically (path.tmp-PID, fsync, rename; removed on failure). */
TK_MUST_USE tk_status tk_cg_blob_write(const tk_cg_blob *b, const char *path);

#endif /* TK_CODEGEN_CODEGEN_H */
