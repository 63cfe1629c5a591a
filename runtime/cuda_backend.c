/* runtime/cuda_backend.c — the CUDA launcher: a bundle's PTX on an NVIDIA GPU through the
 * driver API.
 *
 * Create, cheapest check first (`--device auto` probes it on every session):
 *   1. dlopen libcuda.so.1 (the driver; there is no other name to try: the unversioned
 *      libcuda.so is a development symlink); the calls used are in gpu_symbols.h, declared
 *      by tkrt itself since cuda.h is not a Debian package;
 *   2. cuInit, cuDeviceGetCount: any error or 0 devices -> TK_UNAVAILABLE "no NVIDIA GPU";
 *   3. device 0's compute capability and name; gpu_select.c picks the PTX with the largest
 *      sm_XY <= the device's (the driver JIT-compiles PTX for newer GPUs), or says why none;
 *      its `// tk_model_fingerprint` line must name the bundle's arch (kernels of another
 *      arch would index the buffers with other dims);
 *   4. the device's primary context, retained for this launcher's lifetime (each launcher
 *      holds its own reference; module and buffers are its own), and cuModuleLoadDataEx on
 *      the NUL-terminated PTX text tk_bundle_open hashed (not the file again) with an error
 *      log, so a JIT failure says what ptxas said.
 * Launch: cuModuleGetFunction once per kernel, kernelParams packed per docs/abi.md,
 * cuLaunchKernel on the null stream, then cuCtxSynchronize so a failure names its kernel.
 * Every call that touches the device makes the context current first (contexts are current
 * per thread, and a session may move between threads). Errors carry cuGetErrorName/String.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gpu_backend.h"
#include "runtime/gpu_symbols.h"
#include "tk/alloc.h"

typedef struct cuda_api {
  TK_CUDA_SYMBOLS(TK_GPU_SYMBOL_FIELD)
} cuda_api;

#define CUDA_SYMBOL(req, ret, field, symbol, params) \
  TK_GPU_SYMBOL_ENTRY(cuda_api, req, ret, field, symbol, params)
static const tk_gpu_symbol cuda_symbols[] = {TK_CUDA_SYMBOLS(CUDA_SYMBOL)};
#undef CUDA_SYMBOL

static const char *const cuda_sonames[] = {"libcuda.so.1"};

enum { JIT_LOG_BYTES = 4096 };

typedef struct cuda_launcher {
  tk_gpu_core core; /* first: the launcher is a tk_gpu_core */
  cuda_api api;
  void *dl;
  tk_cu_device device;
  tk_cu_context ctx; /* the retained primary context, or NULL */
  tk_cu_module module;
} cuda_launcher;

/* ---- Errors ------------------------------------------------------------------------------- */

#define cuda_fail(h, code, err, ...) \
  cuda_fail_at(__FILE__, __LINE__, (h), (code), (err), __VA_ARGS__)

/* "cuda: <what> failed: CUDA_ERROR_X (n): text"; out of memory is TK_RESOURCE_EXHAUSTED. */
static tk_status cuda_fail_at(const char *file, int line, const cuda_launcher *h,
                              tk_status_code code, tk_cu_result err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static tk_status cuda_fail_at(const char *file, int line, const cuda_launcher *h,
                              tk_status_code code, tk_cu_result err, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *name = NULL, *text = NULL;
  if (h->api.cuGetErrorName(err, &name)) name = NULL;
  if (h->api.cuGetErrorString(err, &text)) text = NULL;
  return tk_status_make_at(file, line,
                           err == TK_CUDA_ERROR_OUT_OF_MEMORY ? TK_RESOURCE_EXHAUSTED : code,
                           "cuda: %s failed: %s (%d)%s%s", what, name ? name : "?", err,
                           text ? ": " : "", text ? text : "");
}

static tk_status cuda_enter(const cuda_launcher *h) {
  tk_cu_result e = h->api.cuCtxSetCurrent(h->ctx);
  return e ? cuda_fail(h, TK_UNAVAILABLE, e, "cuCtxSetCurrent") : TK_STATUS_OK;
}

/* ---- Device memory ------------------------------------------------------------------------ */

static tk_status cuda_alloc(tk_gpu_core *c, int64_t bytes, uint64_t *out) {
  cuda_launcher *h = (cuda_launcher *)c;
  TK_RETURN_IF_ERROR(cuda_enter(h));
  size_t size = bytes > 0 ? (size_t)bytes : 1; /* cuMemAlloc(0) is an error */
  tk_cu_deviceptr p = 0;
  tk_cu_result e = h->api.cuMemAlloc(&p, size);
  if (e) return cuda_fail(h, TK_INTERNAL, e, "cuMemAlloc(%zu bytes)", size);
  *out = p;
  e = h->api.cuMemsetD8(p, 0, size);
  return e ? cuda_fail(h, TK_INTERNAL, e, "cuMemsetD8(%zu bytes)", size) : TK_STATUS_OK;
}

static void cuda_free(tk_gpu_core *c, uint64_t ptr) {
  cuda_launcher *h = (cuda_launcher *)c;
  (void)h->api.cuMemFree(ptr); /* nothing to report while tearing down */
}

static tk_status cuda_write(tk_gpu_core *c, uint64_t dst, const void *src, int64_t size) {
  cuda_launcher *h = (cuda_launcher *)c;
  TK_RETURN_IF_ERROR(cuda_enter(h));
  tk_cu_result e = h->api.cuMemcpyHtoD(dst, src, (size_t)size);
  return e ? cuda_fail(h, TK_INTERNAL, e, "cuMemcpyHtoD(%lld bytes)", (long long)size)
           : TK_STATUS_OK;
}

static tk_status cuda_read(tk_gpu_core *c, void *dst, uint64_t src, int64_t size) {
  cuda_launcher *h = (cuda_launcher *)c;
  TK_RETURN_IF_ERROR(cuda_enter(h));
  tk_cu_result e = h->api.cuMemcpyDtoH(dst, src, (size_t)size);
  return e ? cuda_fail(h, TK_INTERNAL, e, "cuMemcpyDtoH(%lld bytes)", (long long)size)
           : TK_STATUS_OK;
}

static const tk_gpu_memory_ops cuda_memory = {cuda_alloc, cuda_free, cuda_write, cuda_read};

/* ---- Launch ------------------------------------------------------------------------------- */

static tk_status cuda_function(cuda_launcher *h, const tk_launch_args *a, tk_cu_function *out) {
  *out = tk_gpu_kernel_cached(&h->core, a);
  if (*out) return TK_STATUS_OK;
  tk_cu_result e = h->api.cuModuleGetFunction(out, h->module, a->name);
  if (e)
    return cuda_fail(h, TK_NOT_FOUND, e, "cuModuleGetFunction(\"%s\", kernel %d)", a->name,
                     a->kernel);
  return tk_gpu_kernel_remember(&h->core, a, *out);
}

static tk_status cuda_launch(tk_launcher *l, const tk_launch_args *a) {
  cuda_launcher *h = (cuda_launcher *)l;
  tk_gpu_launch g;
  TK_RETURN_IF_ERROR(tk_gpu_launch_prepare(&h->core, a, &g));
  if (!g.grid) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(cuda_enter(h));
  tk_cu_function fn = NULL;
  TK_RETURN_IF_ERROR(cuda_function(h, a, &fn));
  tk_cu_result e =
      h->api.cuLaunchKernel(fn, g.grid, 1, 1, g.block, 1, 1, 0, NULL, g.args.params, NULL);
  if (!e) e = h->api.cuCtxSynchronize();
  return e ? cuda_fail(h, TK_INTERNAL, e, "kernel %s (grid %u, block %u, B %d)", a->name, g.grid,
                       g.block, a->B)
           : TK_STATUS_OK;
}

static void cuda_destroy(tk_launcher *l) {
  cuda_launcher *h = (cuda_launcher *)l;
  if (h->ctx) {
    tk_status_ignore(cuda_enter(h));
    tk_gpu_core_release(&h->core);
    if (h->module) (void)h->api.cuModuleUnload(h->module);
    (void)h->api.cuCtxSetCurrent(NULL);
    (void)h->api.cuDevicePrimaryCtxRelease(h->device);
  }
  if (h->dl) dlclose(h->dl);
  free(h);
}

static const tk_launcher_vtable cuda_vtable = {
    .kind = "cuda",
    .launch = cuda_launch,
    .make_error = tk_gpu_make_error,
    .buffers_create = tk_gpu_buffers_create,
    .buffer_write = tk_gpu_buffer_write,
    .buffer_read = tk_gpu_buffer_read,
    .buffer_host = tk_gpu_buffer_host,
    .destroy = cuda_destroy,
};

/* ---- Create ------------------------------------------------------------------------------- */

/* cuInit and device 0: TK_UNAVAILABLE when the driver sees no GPU. */
static tk_status cuda_find_device(cuda_launcher *h, int *major, int *minor, char *name,
                                  int name_size) {
  tk_cu_result e = h->api.cuInit(0);
  if (e) return cuda_fail(h, TK_UNAVAILABLE, e, "no NVIDIA GPU here: cuInit");
  int count = 0;
  e = h->api.cuDeviceGetCount(&count);
  if (e) return cuda_fail(h, TK_UNAVAILABLE, e, "no NVIDIA GPU here: cuDeviceGetCount");
  if (count < 1) return tk_status_make(TK_UNAVAILABLE, "cuda: no NVIDIA GPU here (0 devices)");
  e = h->api.cuDeviceGet(&h->device, 0);
  if (!e)
    e = h->api.cuDeviceGetAttribute(major, TK_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                    h->device);
  if (!e)
    e = h->api.cuDeviceGetAttribute(minor, TK_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                    h->device);
  if (!e) e = h->api.cuDeviceGetName(name, name_size, h->device);
  return e ? cuda_fail(h, TK_UNAVAILABLE, e, "querying device 0") : TK_STATUS_OK;
}

/* The PTX must carry `want` (docs/abi.md "GPU targets"): kernels of another arch would index
 * the buffers with other dims. NULL skips the check. */
static tk_status check_ptx_fingerprint(const tk_bundle_target *t, const char *want) {
  static const char key[] = "// " TK_MODEL_FINGERPRINT_SYMBOL " ";
  if (!want) return TK_STATUS_OK;
  const char *line = strstr(t->code.bytes, key);
  if (!line)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: no \"%s\" line (built by an older tkc: recompile the bundle)",
                          t->code.path, key);
  const char *got = line + sizeof key - 1;
  if (strncmp(got, want, 16) || (got[16] != '\n' && got[16] != '\0'))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: code object compiled for arch fingerprint %.16s, the bundle's is "
                          "%s (kernels of another model)",
                          t->code.path, got, want);
  return TK_STATUS_OK;
}

/* The PTX text (NUL-terminated, as tk_bundle_open hashed it) through the JIT; its error log
 * goes into the message. */
static tk_status cuda_load_module(cuda_launcher *h, const tk_bundle_target *t) {
  char log[JIT_LOG_BYTES] = "";
  int options[] = {TK_CU_JIT_ERROR_LOG_BUFFER, TK_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, (void *)(uintptr_t)sizeof log};
  tk_cu_result e = h->api.cuModuleLoadDataEx(&h->module, t->code.bytes, 2, options, values);
  if (!e) return TK_STATUS_OK;
  h->module = NULL;
  log[sizeof log - 1] = '\0';
  return cuda_fail(h, TK_INVALID_ARGUMENT, e, "cuModuleLoadDataEx(%s, %zu bytes)%s%.3000s",
                   t->code.path, t->code.size, log[0] ? "; JIT log: " : "", log);
}

/* Opens the device, loads the code object for its arch and names the stub that drives it:
 * that entry's own (a further GPU tile set's, docs/abi.md "GPU tile sets"), else the bundle's. */
static tk_status cuda_open(cuda_launcher *h, const tk_bundle *bundle, tk_backend_choice *out) {
  char *device = out->device;
  size_t size = sizeof out->device;
  const char *soname = NULL;
  TK_RETURN_IF_ERROR(tk_gpu_library_open("cuda", cuda_sonames, 1, cuda_symbols,
                                         sizeof cuda_symbols / sizeof cuda_symbols[0], &h->api,
                                         &h->dl, &soname));
  int major = 0, minor = 0, driver = 0;
  char name[256] = "";
  TK_RETURN_IF_ERROR(cuda_find_device(h, &major, &minor, name, (int)sizeof name - 1));
  const tk_bundle_target *t = NULL;
  TK_RETURN_IF_ERROR(
      tk_cuda_select_ptx(bundle->targets, bundle->n_targets, major, minor, name, &t));
  TK_RETURN_IF_ERROR(check_ptx_fingerprint(t, bundle->fingerprint));
  tk_cu_result e = h->api.cuDevicePrimaryCtxRetain(&h->ctx, h->device);
  if (e) {
    h->ctx = NULL;
    return cuda_fail(h, TK_UNAVAILABLE, e, "cuDevicePrimaryCtxRetain");
  }
  TK_RETURN_IF_ERROR(cuda_enter(h));
  TK_RETURN_IF_ERROR(cuda_load_module(h, t));
  out->host = t->host.path ? &t->host : NULL;
  if (h->api.cuDriverGetVersion(&driver)) driver = 0;
  snprintf(device, size, "sm_%d%d (%.64s, PTX %s, driver %d.%d)", major, minor, name, t->arch,
           driver / 1000, driver % 1000 / 10);
  return TK_STATUS_OK;
}

tk_status tk_cuda_backend_create(const tk_bundle *bundle, const tk_session_options *o,
                                 tk_backend_choice *out) {
  (void)o;
  out->launcher = NULL;
  cuda_launcher *h = tk_calloc(1, sizeof *h);
  if (!h) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for a CUDA launcher");
  h->core.base.vt = &cuda_vtable;
  h->core.base.schedule = "gpu";
  h->core.mem = &cuda_memory;
  tk_status s = cuda_open(h, bundle, out);
  if (s) {
    cuda_destroy(&h->core.base);
    return s;
  }
  out->launcher = &h->core.base;
  return TK_STATUS_OK;
}
