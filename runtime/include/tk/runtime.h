/* tk/runtime.h — libtkrt's public session API: open a bundle, open a checkpoint against it,
 * create a session on a backend, run forward passes, close.
 *
 *   tk_bundle      a compiled model directory (manifest.json, code objects, host stub),
 *                  checked on open: format version, unique keys, fingerprint, the sha256 of
 *                  every file; each file is read once and the bytes hashed are the bytes
 *                  later loaded (a file changed after open is never run).
 *   tk_weights     a checkpoint.tkp1 validated against the bundle's parameters (docs/formats.md §2)
 *                  before any kernel runs; read into memory once (not mapped), never modified.
 *   tk_session     bundle + weights + backend (cpu, hip, cuda): device buffers and kernels.
 *
 * Ownership (see tk/status.h): *_open and *_create return owned objects released by the
 * matching *_close / *_free (NULL accepted). A session borrows its bundle and weights: close
 * the session first. Objects are independent: two sessions in one process work; a session is
 * not safe for concurrent forward calls (use one session per thread, or a lock).
 * No global state.
 */
#ifndef TK_RUNTIME_H
#define TK_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tk/status.h"

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tk_bundle tk_bundle;
typedef struct tk_weights tk_weights;
typedef struct tk_session tk_session;

typedef enum tk_device {
  TK_DEVICE_AUTO, /* first GPU backend whose device answers, else cpu (one line on stderr) */
  TK_DEVICE_CPU,
  TK_DEVICE_HIP,
  TK_DEVICE_CUDA,
} tk_device;
const char *tk_device_name(tk_device d); /* "auto", "cpu", "hip", "cuda" */
/* Parses "auto|cpu|hip|cuda"; TK_INVALID_ARGUMENT otherwise. */
TK_MUST_USE tk_status tk_device_parse(const char *text, tk_device *out);

/* ---- Bundles ---------------------------------------------------------------------------- */

TK_MUST_USE tk_status tk_bundle_open(const char *dir, tk_bundle **out);
void tk_bundle_close(tk_bundle *bundle);

typedef struct tk_bundle_info {
  const char *dir;         /* as given to tk_bundle_open */
  const char *fingerprint; /* 16 hex characters */
  const char *arch_json;   /* canonical arch */
  int32_t in_dim, out_dim;
  int32_t n_experts, top_k; /* 0 for Dense */
  int64_t max_batch;        /* compiled Bmax; larger batches run in chunks */
} tk_bundle_info;
/* Borrowed view, valid while the bundle is open. */
const tk_bundle_info *tk_bundle_get_info(const tk_bundle *bundle);

/* ---- Weights ---------------------------------------------------------------------------- */

typedef struct tk_weights_options {
  bool allow_nonfinite; /* accept NaN/Inf weights (docs/formats.md §2) */
} tk_weights_options;

/* Opens and validates a checkpoint against the bundle's parameter list and fingerprint: a
 * checkpoint.tkp1, or for a Qwen3MoE bundle also a Hugging Face safetensors checkpoint
 * (`*.safetensors`, `*.safetensors.index.json` with its shards, or a directory holding either;
 * docs/formats.md §7): the block's tensors of decoder layer 0, per expert or fused, F32 or BF16
 * (widened to f32 when a session is created), each checked for its shape and, unless
 * allow_nonfinite, finite values. */
TK_MUST_USE tk_status tk_weights_open(const tk_bundle *bundle, const char *path,
                                      const tk_weights_options *options, tk_weights **out);
/* The same, with a Hugging Face checkpoint's block taken from decoder layer `layer` (>= 0);
 * a checkpoint.tkp1 ignores it. (A function, not an options field: tk_weights_options keeps
 * its size for programs built against an older libtkrt.so.0.) */
TK_MUST_USE tk_status tk_weights_open_layer(const tk_bundle *bundle, const char *path,
                                            int32_t layer, const tk_weights_options *options,
                                            tk_weights **out);
void tk_weights_close(tk_weights *weights);

/* ---- Sessions ---------------------------------------------------------------------------- */

typedef struct tk_session_options {
  tk_device device; /* default TK_DEVICE_AUTO */
  int threads;      /* CPU backend worker threads; 0 = number of online CPUs */
  bool quiet;       /* suppress the one informative line of device auto-selection */
  int64_t max_rows; /* rows per launch; the session's buffers are sized for this many rows.
                        0 = min(max_batch, TK_SESSION_DEFAULT_ROWS); clamped to max_batch.
                        Larger batches run in chunks; the answers do not depend on it. */
  const char *cpu;  /* the cpu backend's x86_64 code: a level the bundle has ("x86-64-v3");
                        NULL = the highest level this CPU supports (docs/abi.md "CPU targets") */
} tk_session_options;
#define TK_SESSION_DEFAULT_ROWS 1024
void tk_session_options_default(tk_session_options *o);

/* TK_UNAVAILABLE when the requested backend or its device is not present (with a message
 * naming the library tried or the device/bundle mismatch). */
TK_MUST_USE tk_status tk_session_create(const tk_bundle *bundle, const tk_weights *weights,
                                        const tk_session_options *options, tk_session **out);
void tk_session_free(tk_session *session);
/* The backend actually used ("cpu", "hip", "cuda") and the device ("x86-64-v3 (2 threads)",
 * "gfx90a", "sm_90"). Borrowed. */
const char *tk_session_backend(const tk_session *session);
const char *tk_session_device(const tk_session *session);

/* One forward pass over B rows of x ([B, in_dim] row-major, finite values, B >= 1).
 * Writes logits [B, out_dim] and router_weights [B, n_experts] (NULL allowed for Dense or
 * when not wanted). Batches above max_batch run in chunks. TK_INVALID_ARGUMENT names the
 * row/column of a non-finite value, or the row whose router logits are not finite in f32
 * (docs/formats.md §3.6; nothing of the batch is returned then). */
TK_MUST_USE tk_status tk_session_forward(tk_session *session, const float *x, int64_t B,
                                         float *logits, float *router_weights);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif /* TK_RUNTIME_H */
