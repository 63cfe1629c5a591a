/* runtime/gpu_backend.h — what the HIP and CUDA backends share, private to runtime/.
 *
 *   hip_backend.c   tk_hip_backend_create: libamdhip64, a bundle's amdgcn code object
 *   cuda_backend.c  tk_cuda_backend_create: libcuda, a bundle's nvptx PTX
 *   gpu_select.c    pure: which code object fits a device, and the message when none does
 *   gpu_core.c      the launcher half both share: vendor library loading, the buffer table,
 *                   the kernel cache, kernel-argument packing (docs/abi.md "GPU targets")
 *
 * A GPU launcher is a struct that starts with a tk_gpu_core (which starts with tk_launcher),
 * so the buffer operations of tk_launcher_vtable are the shared tk_gpu_* functions and the
 * backend supplies only device memory primitives (tk_gpu_memory_ops), launch and destroy.
 * No global state: each launcher owns its library handle, context, module and buffers.
 */
#ifndef TK_GPU_BACKEND_H
#define TK_GPU_BACKEND_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/runtime_internal.h"

/* ---- Backends (device_select.c's table) ------------------------------------------------- */

/* TK_UNAVAILABLE, quickly, when the library is missing, there is no device, or the bundle
 * has no code object the device can run (the message says which side is wrong). */
TK_MUST_USE tk_status tk_hip_backend_create(const tk_bundle *bundle, const tk_session_options *o,
                                            tk_backend_choice *out);
TK_MUST_USE tk_status tk_cuda_backend_create(const tk_bundle *bundle, const tk_session_options *o,
                                             tk_backend_choice *out);

/* ---- Code object selection (gpu_select.c; pure functions) ------------------------------- */

/* "gfx90a:sramecc+:xnack-" -> "gfx90a" (the ISA name before the first ':'), truncated to
 * size - 1 characters. */
void tk_gpu_arch_strip(const char *gcn_arch_name, char *out, size_t size);

/* "gfx90a (cov4), gfx942 (cov5)" / "sm_80, sm_90": the targets[i] of `kind`, for messages. */
void tk_gpu_describe_codes(const tk_bundle_target *targets, int32_t n, tk_target_kind kind,
                           char *buf, size_t size);

/* The largest code object version a HIP runtime loads: 4 before ROCm 6 (comgr 5.x rejects
 * v5), 5 from ROCm 6. `runtime_version` as hipRuntimeGetVersion: major*10^7 + minor*10^5 +
 * patch. The smallest is 3 for any runtime. */
int32_t tk_hip_max_code_object_version(int32_t runtime_version);

/* The first amdgcn target whose arch is `device_arch` (already stripped) and whose code
 * object version the runtime loads. TK_UNAVAILABLE otherwise, e.g. "bundle has gfx90a
 * (cov4), gfx942 (cov5); device is gfx1030 (...)". device_name may be NULL. */
TK_MUST_USE tk_status tk_hip_select_code(const tk_bundle_target *targets, int32_t n,
                                         const char *device_arch, const char *device_name,
                                         int32_t runtime_version, const tk_bundle_target **out);

/* The amdgcn target's bytes (model.hsaco: every code object in it) hold
 * "tk_model_fingerprint=<want>" and no other fingerprint (codegen's cg_target_amdgcn.c);
 * TK_INVALID_ARGUMENT naming both fingerprints otherwise. want NULL skips the check. */
TK_MUST_USE tk_status tk_hip_check_fingerprint(const tk_bundle_target *t, const char *want);

/* The nvptx target with the largest sm_XY <= the device's compute capability (an
 * arch-specific sm_XYa only for exactly XY). TK_UNAVAILABLE naming both sides otherwise. */
TK_MUST_USE tk_status tk_cuda_select_ptx(const tk_bundle_target *targets, int32_t n, int major,
                                         int minor, const char *device_name,
                                         const tk_bundle_target **out);

/* ---- Kernel arguments (gpu_core.c) ------------------------------------------------------ */

enum { TK_GPU_MAX_ARGS = 256 };

/* docs/abi.md: kernel K takes one global pointer per argument, then i32 B, i32 Bp.
 * `block` is the kernarg segment laid out as tk/launch.h says (tk_kernarg_offset: pointer i
 * at byte 8*i, B at 8*nargs, Bp at 8*nargs + 4; `size` = tk_kernarg_size(nargs) = 8*nargs + 8).
 * `params` is what hipModuleLaunchKernel / cuLaunchKernel take as kernelParams: params[i] points at argument i inside `block` (nargs + 2 entries). */
typedef struct tk_gpu_kernargs {
  uint64_t block[TK_GPU_MAX_ARGS + 1];
  void *params[TK_GPU_MAX_ARGS + 2];
  int64_t size;
} tk_gpu_kernargs;

/* Fills *out (which must not move afterwards: params point into it). TK_OUT_OF_RANGE for
 * nargs outside [0, TK_GPU_MAX_ARGS]. */
TK_MUST_USE tk_status tk_gpu_kernargs_pack(int32_t nargs, const uint64_t *pointers, int32_t B,
                                           int32_t Bp, tk_gpu_kernargs *out);

/* ---- Vendor libraries (gpu_core.c) ------------------------------------------------------ */

typedef struct tk_gpu_symbol {
  const char *name; /* in the library */
  size_t offset;    /* of the function pointer in the backend's API struct */
  bool required;
} tk_gpu_symbol;

/* dlopens the first of sonames[0..n) that loads (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE:
 * vendor runtimes start threads and register exit handlers, so they are never unmapped;
 * the handle is still this caller's to dlclose) and fills the function pointers of `api`.
 * TK_UNAVAILABLE naming every library tried, or the library and the missing symbol.
 * *out_soname is the name that loaded (static storage of the caller's list). */
TK_MUST_USE tk_status tk_gpu_library_open(const char *backend, const char *const *sonames,
                                          int n_sonames, const tk_gpu_symbol *symbols,
                                          size_t n_symbols, void *api, void **out_dl,
                                          const char **out_soname);

/* ---- The shared launcher half (gpu_core.c) ---------------------------------------------- */

typedef struct tk_gpu_core tk_gpu_core;

/* Device memory primitives of one backend. Pointers are device addresses as 64-bit values. */
typedef struct tk_gpu_memory_ops {
  tk_status (*alloc)(tk_gpu_core *c, int64_t bytes, uint64_t *out); /* zero-filled */
  void (*free)(tk_gpu_core *c, uint64_t ptr);
  tk_status (*write)(tk_gpu_core *c, uint64_t dst, const void *src, int64_t size);
  tk_status (*read)(tk_gpu_core *c, void *dst, uint64_t src, int64_t size);
} tk_gpu_memory_ops;

typedef struct tk_gpu_kernel {
  const char *name; /* the name it was resolved for (the stub's rodata) */
  void *fn;         /* hipFunction_t / CUfunction */
} tk_gpu_kernel;

struct tk_gpu_core {
  tk_launcher base; /* base.schedule = "gpu" */
  const tk_gpu_memory_ops *mem;
  int32_t nbuffers;
  uint64_t *ptrs;
  int64_t *bytes;
  int32_t nkernels;
  tk_gpu_kernel *kernels;
};

/* tk_launcher_vtable entries every GPU backend uses as they are. */
tk_status tk_gpu_make_error(tk_status_code code, const char *fmt, va_list ap);
tk_status tk_gpu_buffers_create(tk_launcher *l, int32_t n, const int64_t *bytes);
tk_status tk_gpu_buffer_write(tk_launcher *l, int32_t id, int64_t offset, const void *src,
                              int64_t size);
tk_status tk_gpu_buffer_read(tk_launcher *l, int32_t id, int64_t offset, void *dst, int64_t size);
void *tk_gpu_buffer_host(tk_launcher *l, int32_t id); /* NULL: device memory */

/* Frees every buffer (through c->mem) and the kernel cache; the backend's destroy calls it
 * before releasing its module and context. */
void tk_gpu_core_release(tk_gpu_core *c);

/* A launch made ready (call it first): kernel index and name checked, grid and block sizes checked (workgroup_size in [1, 1024], grid *
 * workgroup_size < 2^32) and the arguments packed from the buffer table. grid may be 0
 * (nothing to launch). */
typedef struct tk_gpu_launch {
  unsigned grid, block;
  tk_gpu_kernargs args;
} tk_gpu_launch;
TK_MUST_USE tk_status tk_gpu_launch_prepare(const tk_gpu_core *c, const tk_launch_args *a,
                                            tk_gpu_launch *out);

/* The cached function for a->kernel if it was resolved for the same name, else NULL;
 * remember stores one (a->kernel as checked by tk_gpu_launch_prepare). */
void *tk_gpu_kernel_cached(const tk_gpu_core *c, const tk_launch_args *a);
TK_MUST_USE tk_status tk_gpu_kernel_remember(tk_gpu_core *c, const tk_launch_args *a, void *fn);

#endif /* TK_GPU_BACKEND_H */
