/* tk/launch.h — the launcher API: how a generated host stub (model_host.c) runs kernels on a
 * backend, and how the runtime creates backends and their buffers (docs/abi.md).
 *
 * A tk_launcher is one backend instance (cpu, hip or cuda) that owns the model's
 * buffers, numbered as the host stub numbers them (tkm_buffer_count, tkm_buffer_elems).
 * The stub calls tk_launcher_launch once per kernel launch with the buffer id of every kernel
 * argument; the launcher maps ids to its own pointers and covers the grid.
 *
 * Why a table of function pointers and static inline wrappers: model_host.so is built by tkc
 * with the system C compiler and loaded by dlopen into any program that links libtkrt
 * statically (tkrun, tkserve, tests). Calls through the launcher's table need no symbol from
 * libtkrt, so model_host.so has no undefined symbols of ours and links without -rdynamic.
 * The stub makes its own errors through tk_launcher_error for the same reason. The layout of
 * tk_launcher_vtable is therefore part of the bundle ABI: TK_LAUNCH_ABI_VERSION changes
 * whenever it does, and the stub exports the version it was built against
 * (tkm_launch_abi_version), which the runtime checks before the first call.
 *
 * Ownership (tk/status.h): tk_launcher_destroy releases the launcher and every buffer it owns
 * (NULL allowed). A launcher is used by one thread at a time; two launchers in one process
 * are independent (no global state).
 */
#ifndef TK_LAUNCH_H
#define TK_LAUNCH_H

#include <stdarg.h>
#include <stdint.h>

#include "tk/status.h"

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

/* 2: tkm_buffer_panel_cols / _width (issue 13); 3: tkm_buffer_panel_out_in (issue 16) */
#define TK_LAUNCH_ABI_VERSION 3

/* ---- Facts the compiler and the runtime share (each written here, once) ----------------- */

/* The format of a bundle's manifest.json: compiler/manifest.c writes it, runtime/bundle_open.c
 * accepts exactly it, and `tkc compile -o DIR` replaces only a DIR that carries it. */
#define TK_BUNDLE_FORMAT "tkc-bundle/1"

/* How a code object carries the arch fingerprint it was compiled for (docs/abi.md): a CPU
 * code object exports `const char tk_model_fingerprint[]`, a PTX file holds the line
 * `// tk_model_fingerprint <fp>`, an amdgcn code object the constant bytes
 * `tk_model_fingerprint=<fp>`. The launchers compare it with the manifest's before loading
 * kernels of another arch (codegen writes it; runtime/cpu_backend.c, cuda_backend.c and
 * gpu_select.c's tk_hip_check_fingerprint read it). */
#define TK_MODEL_FINGERPRINT_SYMBOL "tk_model_fingerprint"

/* docs/formats.md §3: a launch of B rows runs on Bp = max(Q, Q*ceil(B/Q)) rows, Q = TK_PAD_QUANTUM
 * (the padding pass, the proofs, the schedules and the host stub all take Q from here). */
#define TK_PAD_QUANTUM 16

/* The most static LDS / shared memory one GPU workgroup may use (a kernel's shared locals,
 * proved by class bounds): CUDA's static __shared__ limit, 48 KiB, the smaller of the two
 * families' (amdgcn: 64 KiB per workgroup). */
#define TK_GPU_SHARED_BYTES_MAX 49152

/* Bp for B >= 1 (docs/formats.md §3). */
static inline int64_t tk_padded_batch(int64_t B) {
  int64_t p = (B + TK_PAD_QUANTUM - 1) / TK_PAD_QUANTUM * TK_PAD_QUANTUM;
  return p < TK_PAD_QUANTUM ? TK_PAD_QUANTUM : p;
}

/* docs/abi.md, GPU kernel arguments: a kernel with n buffer arguments takes pointer i
 * (global, 64-bit) at byte TK_KERNARG_SLOT_BYTES*i, then i32 B at TK_KERNARG_SLOT_BYTES*n and
 * i32 Bp right after it; the explicit kernarg segment is tk_kernarg_size(n) bytes. codegen
 * declares the kernels so, the manifest lists these offsets, the GPU launcher packs them. */
#define TK_KERNARG_SLOT_BYTES 8
#define TK_KERNARG_DIM_BYTES 4 /* B and Bp are i32 */

/* Byte offset of explicit argument i of n: pointer i for i < n, B for i = n, Bp for i = n+1. */
static inline int64_t tk_kernarg_offset(int64_t nargs, int64_t i) {
  if (i <= nargs) return TK_KERNARG_SLOT_BYTES * i;
  return TK_KERNARG_SLOT_BYTES * nargs + TK_KERNARG_DIM_BYTES * (i - nargs);
}
static inline int64_t tk_kernarg_size(int64_t nargs) { return tk_kernarg_offset(nargs, nargs + 2); }

/* Buffer roles, as tkm_buffer_role returns them (docs/abi.md). */
enum { TK_BUFFER_IN = 0, TK_BUFFER_OUT = 1, TK_BUFFER_PARAM = 2, TK_BUFFER_SCRATCH = 3 };

typedef struct tk_launcher tk_launcher;

/* One kernel launch, filled in by the host stub. */
typedef struct tk_launch_args {
  int32_t kernel;   /* index of the scheduled kernel in the target's list */
  const char *name; /* its IR name = the symbol in the code object */
  int32_t nargs;
  const int32_t *buffers; /* buffer id of each argument, in order */
  int32_t B, Bp;          /* batch and padded batch (docs/formats.md §3), passed to the kernel */
  int64_t grid;           /* workgroups (GPU / simt) or cpu blocks (CPU); >= 0 */
  int64_t workgroup_size; /* threads per workgroup (GPU / simt); 1 on the CPU schedule */
} tk_launch_args;

/* The backend's operations. Every launcher starts with a pointer to one of these. */
typedef struct tk_launcher_vtable {
  const char *kind; /* "cpu", "hip", "cuda" */
  /* Runs a[kernel] over [0, a->grid); returns when the launch has finished (or is ordered
   * before any later launch and buffer read on the same launcher). */
  tk_status (*launch)(tk_launcher *l, const tk_launch_args *a);
  /* Makes a status (the stub's own errors: bad B, bad target). */
  tk_status (*make_error)(tk_status_code code, const char *fmt, va_list ap);
  /* Allocates buffers 0..n-1 with bytes[i] bytes each (0 allowed), replacing any earlier
   * set; contents are zero. */
  tk_status (*buffers_create)(tk_launcher *l, int32_t n, const int64_t *bytes);
  /* Copies between host memory and bytes [offset, offset + size) of a buffer. */
  tk_status (*buffer_write)(tk_launcher *l, int32_t id, int64_t offset, const void *src,
                            int64_t size);
  tk_status (*buffer_read)(tk_launcher *l, int32_t id, int64_t offset, void *dst, int64_t size);
  /* The host address of a buffer when the backend's memory is host memory (cpu), else NULL.
   * Valid until the next buffers_create or destroy. */
  void *(*buffer_host)(tk_launcher *l, int32_t id);
  void (*destroy)(tk_launcher *l);
} tk_launcher_vtable;

struct tk_launcher {
  const tk_launcher_vtable *vt;
  const char *schedule; /* the host-stub target this launcher runs: "cpu" or "gpu" */
};

/* ---- Used by the host stub -------------------------------------------------------------- */

static inline TK_MUST_USE tk_status tk_launcher_launch(tk_launcher *l, const tk_launch_args *a) {
  return l->vt->launch(l, a);
}

static inline TK_MUST_USE tk_status tk_launcher_error(tk_launcher *l, tk_status_code code,
                                                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline tk_status tk_launcher_error(tk_launcher *l, tk_status_code code, const char *fmt,
                                          ...) {
  va_list ap;
  va_start(ap, fmt);
  tk_status s = l->vt->make_error(code, fmt, ap);
  va_end(ap);
  return s;
}

/* ---- Used by the runtime ---------------------------------------------------------------- */

static inline const char *tk_launcher_kind(const tk_launcher *l) { return l->vt->kind; }
static inline const char *tk_launcher_schedule(const tk_launcher *l) { return l->schedule; }

static inline TK_MUST_USE tk_status tk_launcher_buffers_create(tk_launcher *l, int32_t n,
                                                               const int64_t *bytes) {
  return l->vt->buffers_create(l, n, bytes);
}
static inline TK_MUST_USE tk_status tk_launcher_buffer_write(tk_launcher *l, int32_t id,
                                                             int64_t offset, const void *src,
                                                             int64_t size) {
  return l->vt->buffer_write(l, id, offset, src, size);
}
static inline TK_MUST_USE tk_status tk_launcher_buffer_read(tk_launcher *l, int32_t id,
                                                            int64_t offset, void *dst,
                                                            int64_t size) {
  return l->vt->buffer_read(l, id, offset, dst, size);
}
static inline void *tk_launcher_buffer_host(tk_launcher *l, int32_t id) {
  return l->vt->buffer_host(l, id);
}
static inline void tk_launcher_destroy(tk_launcher *l) {
  if (l) l->vt->destroy(l);
}

/* ---- The CPU launcher (runtime/cpu_backend.c) ------------------------------------------- */

typedef struct tk_cpu_launcher_options {
  const char *code_path;   /* model.x86_64.so (or a model.x86_64-simt.so) */
  const char *cpu;         /* the bundle's --cpu level ("x86-64-v3", ...); NULL = no check */
  int threads;             /* worker threads including the caller, >= 1 */
  const void *code;        /* the code object's bytes (as hashed); NULL = read code_path once.
                              With bytes, code_path only names them in messages */
  size_t code_size;        /* bytes at code */
  const char *fingerprint; /* the arch fingerprint the object must carry (its
                              tk_model_fingerprint, 16 hex digits); NULL = not checked */
} tk_cpu_launcher_options;

/* Checks that this CPU supports o->cpu (before anything is loaded), loads the code object
 * from a sealed in-memory copy of its bytes (o->code, or code_path read once), reads its
 * tk_bundle_target ("x86_64" runs the stub's "cpu" schedule, "x86_64-simt" the "gpu" one),
 * checks its tk_model_fingerprint against o->fingerprint (kernels of another arch would
 * index the buffers with other dims) and starts the thread pool. Kernel symbols are looked
 * up by name on first launch. Caller owns *out (tk_launcher_destroy). */
TK_MUST_USE tk_status tk_cpu_launcher_create(const tk_cpu_launcher_options *o, tk_launcher **out);

/* TK_UNAVAILABLE naming the first missing feature when this CPU cannot run code compiled
 * for `level` ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"); TK_INVALID_ARGUMENT for a
 * level this runtime does not know. */
TK_MUST_USE tk_status tk_cpu_check_level(const char *level);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif /* TK_LAUNCH_H */
