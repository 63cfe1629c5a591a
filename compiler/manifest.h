/* compiler/manifest.h — manifest.json of a bundle (private to libtkc; the format is
 * documented in compiler/manifest.c, the only writer; runtime/bundle_open.c reads it). */
#ifndef TK_COMPILER_MANIFEST_H
#define TK_COMPILER_MANIFEST_H

#include <stddef.h>

#include "codegen/gpu_resources.h"
#include "ir/ir.h"
#include "tk/status.h"
#include "verify/verify.h"

typedef struct tkc_file_hash {
  const char *file; /* name inside the bundle */
  char sha256[65];  /* lowercase hex */
} tkc_file_hash;

typedef struct tkc_target_entry {
  const char *kind;         /* "x86_64", "x86_64-simt" (later "amdgcn", "nvptx") */
  const char *cpu;          /* x86 targets: the psABI level the runtime checks, else NULL */
  const char *cpu_name;     /* x86 targets: the CPU the code is tuned for, when not a level */
  const char *cpu_features; /* x86 targets: LLVM feature string the code was built with */
  const char *arch;         /* GPU targets: gfx90a, sm_80, ...; else NULL */
  int code_object_version;  /* amdgcn only, else 0 */
  tkc_file_hash file;
  /* A further CPU level's x86_64 entry, or a GPU entry of a further tile set: its own stub's
   * source, header and library (3 entries; docs/abi.md "Bundle layout"); NULL: the runtime
   * uses the bundle's host_stub. */
  const tkc_file_hash *host_stub;
  const char *tile_set; /* GPU entries of a tiled bundle: "cdna", "rdna", "nvidia"; else NULL */
  /* amdgcn: each kernel's resources from the code object's metadata and the occupancy they
   * allow on `arch` (codegen/gpu_resources.h), nkernels of each; 0 and NULL otherwise. */
  int nkernels;
  const tk_cg_kernel_resources *kernels;
  const tk_cg_occupancy *occupancy;
} tkc_target_entry;

/* Obligation counts per class (verify/); NULL in tkc_manifest_input = not verified. */
typedef struct tkc_proof_count {
  const char *cls; /* "shape", "padding", "bounds", "no_overflow", "race", "topk" */
  long count;
} tkc_proof_count;

/* A sub-job's proofs: a further CPU level's (certificate.cpu_levels) or a further GPU tile
 * set's (certificate.gpu_tile_sets): its own proof store and module. */
typedef struct tkc_sub_proofs {
  const char *name;       /* the psABI level, "x86-64-v4", or the tile set, "rdna" */
  const char *proofs_dir; /* "proofs/x86-64-v4", "proofs/gpu-rdna" */
  const tk_ir_module *m;  /* its scheduled module (IR hashes; a tile set's GPU launches) */
  tk_verify_digest proofs;
} tkc_sub_proofs;

/* The certificate (docs/formats.md "certificate"): the options that, with the arch and
 * max_batch, regenerate the bundle (`tkc check-proofs`), and the proof store's digest. The IR
 * hashes are computed by tkc_manifest_write from the module. */
typedef struct tkc_certificate {
  const char *targets;      /* the target kinds, comma-separated, in --targets order */
  const char *offload_arch; /* amdgcn archs, comma-separated (NULL: no amdgcn target) */
  const char *cuda_arch;    /* nvptx archs (NULL: no nvptx target) */
  int code_object_version;  /* --code-object-version (0: per gfx) */
  const char *cpu;          /* --cpu as given */
  tk_verify_digest proofs;  /* proofs/: the gpu schedule and the first CPU's */
  int nlevels;              /* the further CPUs of --cpu, in order */
  const tkc_sub_proofs *levels;
} tkc_certificate;

typedef struct tkc_manifest_input {
  const tk_ir_module *m; /* stage CPU */
  const char *tkc_version, *llvm_version, *z3_version;
  const char *arch_canonical; /* tk_arch_canonical_json text, embedded verbatim */
  int ntargets;
  const tkc_target_entry *targets;
  tkc_file_hash host_source, host_header, host_library;
  int nproofs; /* -1: not verified */
  const tkc_proof_count *proofs;
  const tkc_certificate *certificate; /* NULL: not verified (no certificate) */
  /* The further GPU tile sets (gpu_tile_sets, and certificate.gpu_tile_sets), in
   * tk_ir_gpu_tile_set order; the module's own set is m->opts.gpu_tiles. */
  int ntile_sets;
  const tkc_sub_proofs *tile_sets;
} tkc_manifest_input;

/* The manifest text (malloc'd, caller frees). Deterministic: fixed key order, no times. */
TK_MUST_USE tk_status tkc_manifest_write(const tkc_manifest_input *in, char **out_json);

#endif
