/* runtime/runtime_internal.h — what the files behind tk/runtime.h share, private to runtime/.
 *
 *   bundle_open.c    tk_bundle: the manifest read and checked (FORMATS-free: issue 6 item 5)
 *   weights.c        tk_weights: a checkpoint validated against the bundle's parameter list
 *                    (a checkpoint.tkp1, or a Hugging Face one through hf_qwen3.c)
 *   device_select.c  tk_device names, and the choice of a backend (a tk_launcher) for a bundle
 *   session.c        tk_session: host stub + launcher + buffers; forward
 *   cpu_backend.c    the cpu launcher; hip_backend.c, cuda_backend.c the GPU launchers over
 *                    gpu_core.c (library loading, buffers, argument packing) and
 *                    gpu_select.c (code object choice, mismatch messages)
 *
 * Everything a bundle holds is copied out of the manifest at open time, so the manifest's
 * cJSON tree never outlives tk_bundle_open; so are the bytes of every file that is loaded
 * later (tk_bundle_file).
 */
#ifndef TK_RUNTIME_INTERNAL_H
#define TK_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/hf_qwen3.h"
#include "tk/checkpoint.h"
#include "tk/model_host.h"
#include "tk/launch.h"
#include "tk/runtime.h"

/* Kinds of code object a bundle can hold (manifest "targets"[i]."kind"). */
typedef enum tk_target_kind {
  TK_TARGET_KIND_X86_64,      /* model.x86_64.so, the CPU schedule */
  TK_TARGET_KIND_X86_64_SIMT, /* test-only: the GPU schedule's bodies in loops */
  TK_TARGET_KIND_AMDGCN,
  TK_TARGET_KIND_NVPTX,
} tk_target_kind;

/* A file the manifest lists, as checked at open: its path (for messages) and the bytes that
 * were read once and hashed. The runtime loads these bytes, never the file again (issue 14:
 * a file swapped after the check must not be what runs). NUL-terminated; size excludes it. */
typedef struct tk_bundle_file {
  char *path; /* dir/file */
  char *bytes;
  size_t size;
} tk_bundle_file;

typedef struct tk_bundle_target {
  tk_target_kind kind;
  char *name;                  /* the manifest's kind string, for messages */
  char *arch;                  /* gfx90a, sm_90, or the --cpu level for x86_64 targets */
  int32_t code_object_version; /* amdgcn only, else 0 */
  tk_bundle_file code;         /* the code object, checked against its sha256 at open */
  tk_bundle_file host;         /* an x86_64 entry of a further CPU level: its own stub,
                          model_host.<level>.so (path NULL: the bundle's host) */
} tk_bundle_target;

struct tk_bundle {
  tk_bundle_info info; /* pointers into the fields below */
  char *dir, *fingerprint, *arch_json;
  tk_bundle_file host; /* model_host.so */
  int32_t n_targets;
  tk_bundle_target *targets;
  int32_t n_params;
  tk_checkpoint_expect *params; /* names owned here, checkpoint order */
  bool qwen3_moe;               /* model_kind Qwen3MoE: Hugging Face checkpoints open too */
};

/* Where a model's parameter weights come from, in checkpoint order, as f32. */
typedef struct tk_param_source {
  const void *src;
  int64_t (*count)(const void *src, int32_t i);              /* -1: no parameter i */
  tk_status (*read)(const void *src, int32_t i, float *dst); /* count(i) values */
} tk_param_source;

/* tk_model_buffers_create (tk/model_host.h) from any source. */
TK_MUST_USE tk_status tk_model_buffers_fill(tk_launcher *l, const tk_model_host *h, int32_t bmax,
                                            const tk_param_source *src);
tk_param_source tk_param_source_checkpoint(const tk_checkpoint *ckpt);

struct tk_weights {
  const tk_bundle *bundle; /* the bundle it was validated against (borrowed) */
  tk_checkpoint *ckpt;     /* a checkpoint.tkp1, or NULL */
  tk_safetensors *st;      /* a Hugging Face checkpoint (Qwen3MoE bundles), or NULL */
  tk_hf_qwen3_block hf;    /* st: the block's shape and decoder layer */
  tk_hf_qwen3_layout layout;
};

/* The weights as a parameter source. */
tk_param_source tk_weights_source(const tk_weights *w);

/* The first target of a kind, or NULL. */
const tk_bundle_target *tk_bundle_find_target(const tk_bundle *bundle, tk_target_kind kind);
/* "x86_64, amdgcn gfx90a (cov4), nvptx sm_90": the bundle's targets for messages (static
 * buffer of the caller). */
void tk_bundle_describe_targets(const tk_bundle *bundle, char *buf, size_t size);

/* A backend chosen for a session: the launcher, the host stub that drives it and a
 * description of the device. */
typedef struct tk_backend_choice {
  tk_launcher *launcher;      /* owned */
  const tk_bundle_file *host; /* the stub: the chosen entry's own, else the bundle's */
  char device[128];           /* "x86-64-v3 (2 threads)", "gfx90a", ... */
} tk_backend_choice;

/* Creates the backend options->device asks for (auto: the first GPU backend whose device
 * answers, else cpu, saying which and why on stderr unless options->quiet). The cpu backend
 * runs the x86_64 entry of options->cpu, else the highest level this CPU supports.
 * TK_UNAVAILABLE when an explicitly requested backend or CPU cannot run here. */
TK_MUST_USE tk_status tk_backend_select(const tk_bundle *bundle, const tk_session_options *options,
                                        tk_backend_choice *out);

/* ---- alloc.c ---- */

/* cJSON_ParseWithLengthOpts through the allocation hook. cJSON returns NULL both for bad JSON
 * and when it runs out of memory; on NULL, *out_oom tells which. */
struct cJSON *tk_json_parse(const char *text, size_t len, const char **end,
                            bool require_null_terminated, bool *out_oom);

#endif /* TK_RUNTIME_INTERNAL_H */
