/* runtime/hip_backend.c — the HIP launcher: a bundle's amdgcn code object on an AMD GPU.
 *
 * Create, cheapest check first, so that `--device auto` on a machine without a GPU costs one
 * dlopen and one call (docs/toolchain.md §6: hipGetDeviceCount answers hipErrorNoDevice in about
 * 0.1 ms; dlopen of libamdhip64.so.5 takes about 15 ms):
 *   1. dlopen libamdhip64.so.6, .so.5, .so (first that loads; gpu_symbols.h names the calls);
 *   2. hipGetDeviceCount: an error or 0 devices -> TK_UNAVAILABLE "no AMD GPU";
 *   3. hipRuntimeGetVersion and device 0's properties: gcnArchName without its feature
 *      suffixes (":sramecc+:xnack-"), and the marketing name;
 *   4. gpu_select.c picks the bundle's amdgcn target for that arch and a code object version
 *      the runtime loads, or says which side is wrong;
 *   5. hipModuleLoadData on the target's whole file (model.hsaco, a clang offload bundle with
 *      one entry per arch: HIP picks the device's entry), given as the bytes tk_bundle_open
 *      read and hashed, never the file again. Those bytes belong to the bundle, which
 *      outlives the launcher, so they stay alive as long as the module (HIP may read lazily).
 * Launch: hipModuleGetFunction once per kernel, kernelParams packed per docs/abi.md,
 * hipModuleLaunchKernel on the null stream with grid = a->grid workgroups of
 * a->workgroup_size threads, then hipDeviceSynchronize so a failure names its kernel.
 * Device 0 is used (HIP_VISIBLE_DEVICES chooses another); every call that touches it sets it
 * first, since HIP's current device is per thread. Errors carry hipGetErrorName/String.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gpu_backend.h"
#include "runtime/gpu_symbols.h"
#include "tk/alloc.h"

typedef struct hip_api {
  TK_HIP_SYMBOLS(TK_GPU_SYMBOL_FIELD)
} hip_api;

#define HIP_SYMBOL(req, ret, field, symbol, params) \
  TK_GPU_SYMBOL_ENTRY(hip_api, req, ret, field, symbol, params)
static const tk_gpu_symbol hip_symbols[] = {TK_HIP_SYMBOLS(HIP_SYMBOL)};
#undef HIP_SYMBOL

static const char *const hip_sonames[] = {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"};

typedef struct hip_launcher {
  tk_gpu_core core; /* first: the launcher is a tk_gpu_core */
  hip_api api;
  void *dl;
  const char *soname;
  int device;
  tk_hip_module module;
} hip_launcher;

/* ---- Errors ------------------------------------------------------------------------------- */

#define hip_fail(h, code, err, ...) hip_fail_at(__FILE__, __LINE__, (h), (code), (err), __VA_ARGS__)

/* "hip: <what> failed: hipErrorX (n): text"; out of memory is always TK_RESOURCE_EXHAUSTED. */
static tk_status hip_fail_at(const char *file, int line, const hip_launcher *h, tk_status_code code,
                             tk_hip_error err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static tk_status hip_fail_at(const char *file, int line, const hip_launcher *h, tk_status_code code,
                             tk_hip_error err, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *name = h->api.hipGetErrorName(err), *text = h->api.hipGetErrorString(err);
  bool same = !text || (name && !strcmp(name, text)); /* HIP 5.2's strings are the names */
  return tk_status_make_at(file, line,
                           err == TK_HIP_ERROR_OUT_OF_MEMORY ? TK_RESOURCE_EXHAUSTED : code,
                           "hip: %s failed: %s (%d)%s%s", what, name ? name : "?", err,
                           same ? "" : ": ", same ? "" : text);
}

static tk_status hip_enter(const hip_launcher *h) {
  tk_hip_error e = h->api.hipSetDevice(h->device);
  return e ? hip_fail(h, TK_UNAVAILABLE, e, "hipSetDevice(%d)", h->device) : TK_STATUS_OK;
}

/* ---- Device memory ------------------------------------------------------------------------ */

static tk_status hip_alloc(tk_gpu_core *c, int64_t bytes, uint64_t *out) {
  hip_launcher *h = (hip_launcher *)c;
  TK_RETURN_IF_ERROR(hip_enter(h));
  size_t size = bytes > 0 ? (size_t)bytes : 1; /* hipMalloc(0) gives NULL */
  void *p = NULL;
  tk_hip_error e = h->api.hipMalloc(&p, size);
  if (!e) {
    *out = (uint64_t)(uintptr_t)p;
    e = h->api.hipMemset(p, 0, size);
    if (e) return hip_fail(h, TK_INTERNAL, e, "hipMemset(%zu bytes)", size);
  }
  return e ? hip_fail(h, TK_INTERNAL, e, "hipMalloc(%zu bytes)", size) : TK_STATUS_OK;
}

static void hip_free(tk_gpu_core *c, uint64_t ptr) {
  hip_launcher *h = (hip_launcher *)c;
  (void)h->api.hipFree((void *)(uintptr_t)ptr); /* nothing to report while tearing down */
}

static tk_status hip_write(tk_gpu_core *c, uint64_t dst, const void *src, int64_t size) {
  hip_launcher *h = (hip_launcher *)c;
  TK_RETURN_IF_ERROR(hip_enter(h));
  tk_hip_error e =
      h->api.hipMemcpy((void *)(uintptr_t)dst, src, (size_t)size, TK_HIP_MEMCPY_HOST_TO_DEVICE);
  return e ? hip_fail(h, TK_INTERNAL, e, "hipMemcpy to the device (%lld bytes)", (long long)size)
           : TK_STATUS_OK;
}

static tk_status hip_read(tk_gpu_core *c, void *dst, uint64_t src, int64_t size) {
  hip_launcher *h = (hip_launcher *)c;
  TK_RETURN_IF_ERROR(hip_enter(h));
  tk_hip_error e = h->api.hipMemcpy(dst, (const void *)(uintptr_t)src, (size_t)size,
                                    TK_HIP_MEMCPY_DEVICE_TO_HOST);
  return e ? hip_fail(h, TK_INTERNAL, e, "hipMemcpy from the device (%lld bytes)", (long long)size)
           : TK_STATUS_OK;
}

static const tk_gpu_memory_ops hip_memory = {hip_alloc, hip_free, hip_write, hip_read};

/* ---- Launch ------------------------------------------------------------------------------- */

static tk_status hip_function(hip_launcher *h, const tk_launch_args *a, tk_hip_function *out) {
  *out = tk_gpu_kernel_cached(&h->core, a);
  if (*out) return TK_STATUS_OK;
  tk_hip_error e = h->api.hipModuleGetFunction(out, h->module, a->name);
  if (e)
    return hip_fail(h, TK_NOT_FOUND, e, "hipModuleGetFunction(\"%s\", kernel %d)", a->name,
                    a->kernel);
  return tk_gpu_kernel_remember(&h->core, a, *out);
}

static tk_status hip_launch(tk_launcher *l, const tk_launch_args *a) {
  hip_launcher *h = (hip_launcher *)l;
  tk_gpu_launch g;
  TK_RETURN_IF_ERROR(tk_gpu_launch_prepare(&h->core, a, &g));
  if (!g.grid) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(hip_enter(h));
  tk_hip_function fn = NULL;
  TK_RETURN_IF_ERROR(hip_function(h, a, &fn));
  tk_hip_error e =
      h->api.hipModuleLaunchKernel(fn, g.grid, 1, 1, g.block, 1, 1, 0, NULL, g.args.params, NULL);
  if (!e) e = h->api.hipDeviceSynchronize();
  return e ? hip_fail(h, TK_INTERNAL, e, "kernel %s (grid %u, workgroup %u, B %d)", a->name, g.grid,
                      g.block, a->B)
           : TK_STATUS_OK;
}

static void hip_destroy(tk_launcher *l) {
  hip_launcher *h = (hip_launcher *)l;
  if (h->dl) {
    tk_status_ignore(hip_enter(h));
    tk_gpu_core_release(&h->core);
    if (h->module) (void)h->api.hipModuleUnload(h->module);
    dlclose(h->dl);
  }
  free(h);
}

static const tk_launcher_vtable hip_vtable = {
    .kind = "hip",
    .launch = hip_launch,
    .make_error = tk_gpu_make_error,
    .buffers_create = tk_gpu_buffers_create,
    .buffer_write = tk_gpu_buffer_write,
    .buffer_read = tk_gpu_buffer_read,
    .buffer_host = tk_gpu_buffer_host,
    .destroy = hip_destroy,
};

/* ---- Create ------------------------------------------------------------------------------- */

/* Device properties through whichever entry point this runtime has whose struct layout is
 * known (gpu_symbols.h): the arch without feature suffixes and the device name. */
static tk_status hip_device_props(const hip_launcher *h, int32_t version, char *arch, char *name) {
  tk_hip_error (*get)(void *, int) = NULL;
  size_t arch_offset = 0;
  if (h->api.hipGetDevicePropertiesR0600) {
    get = h->api.hipGetDevicePropertiesR0600;
    arch_offset = TK_HIP_PROP_R0600_ARCH_OFFSET;
  } else if (h->api.hipGetDevicePropertiesR0000 ||
             (h->api.hipGetDevicePropertiesLegacy && version / 10000000 < 6)) {
    get = h->api.hipGetDevicePropertiesR0000 ? h->api.hipGetDevicePropertiesR0000
                                             : h->api.hipGetDevicePropertiesLegacy;
    arch_offset = TK_HIP_PROP_R0000_ARCH_OFFSET;
  } else {
    return tk_status_make(TK_UNAVAILABLE,
                          "hip: %s (HIP %d) has no hipGetDeviceProperties entry point whose "
                          "struct layout tkrt knows, so the GPU's arch cannot be read",
                          h->soname, version);
  }
  uint64_t props[TK_HIP_PROP_BYTES / 8] = {0};
  tk_hip_error e = get(props, h->device);
  if (e) return hip_fail(h, TK_UNAVAILABLE, e, "hipGetDeviceProperties(%d)", h->device);
  const char *bytes = (const char *)props;
  char gcn[TK_HIP_PROP_STRING_BYTES + 1] = "";
  memcpy(gcn, bytes + arch_offset, TK_HIP_PROP_STRING_BYTES);
  memcpy(name, bytes + TK_HIP_PROP_NAME_OFFSET, TK_HIP_PROP_STRING_BYTES);
  name[TK_HIP_PROP_STRING_BYTES] = '\0';
  tk_gpu_arch_strip(gcn, arch, TK_HIP_PROP_STRING_BYTES + 1);
  if (!arch[0])
    return tk_status_make(TK_UNAVAILABLE, "hip: device %d (%s) reports no gcnArchName", h->device,
                          name);
  return TK_STATUS_OK;
}

/* The code object's bytes as tk_bundle_open hashed them (the bundle outlives the launcher). */
static tk_status hip_load_module(hip_launcher *h, const tk_bundle_target *t) {
  TK_RETURN_IF_ERROR(hip_enter(h));
  tk_hip_error e = h->api.hipModuleLoadData(&h->module, t->code.bytes);
  if (e) {
    h->module = NULL;
    return hip_fail(h, TK_INVALID_ARGUMENT, e, "hipModuleLoadData(%s, %zu bytes, %s cov%d)",
                    t->code.path, t->code.size, t->arch, t->code_object_version);
  }
  return TK_STATUS_OK;
}

/* Opens the device, loads the code object for its arch and names the stub that drives it:
 * that entry's own (a further GPU tile set's, docs/abi.md "GPU tile sets"), else the bundle's. */
static tk_status hip_open(hip_launcher *h, const tk_bundle *bundle, tk_backend_choice *out) {
  char *device = out->device;
  size_t size = sizeof out->device;
  TK_RETURN_IF_ERROR(tk_gpu_library_open("hip", hip_sonames, 3, hip_symbols,
                                         sizeof hip_symbols / sizeof hip_symbols[0], &h->api,
                                         &h->dl, &h->soname));
  int count = 0, version = 0;
  tk_hip_error e = h->api.hipGetDeviceCount(&count);
  if (e) return hip_fail(h, TK_UNAVAILABLE, e, "no AMD GPU here: %s hipGetDeviceCount", h->soname);
  if (count < 1)
    return tk_status_make(TK_UNAVAILABLE, "hip: no AMD GPU here (%s sees 0 devices)", h->soname);
  e = h->api.hipRuntimeGetVersion(&version);
  if (e) return hip_fail(h, TK_UNAVAILABLE, e, "hipRuntimeGetVersion");
  char arch[TK_HIP_PROP_STRING_BYTES + 1], name[TK_HIP_PROP_STRING_BYTES + 1];
  TK_RETURN_IF_ERROR(hip_device_props(h, version, arch, name));
  const tk_bundle_target *t = NULL;
  TK_RETURN_IF_ERROR(
      tk_hip_select_code(bundle->targets, bundle->n_targets, arch, name, version, &t));
  TK_RETURN_IF_ERROR(tk_hip_check_fingerprint(t, bundle->fingerprint));
  TK_RETURN_IF_ERROR(hip_load_module(h, t));
  out->host = t->host.path ? &t->host : NULL;
  snprintf(device, size, "%.32s (%.64s, HIP %d.%d)", arch, name, version / 10000000,
           version / 100000 % 100);
  return TK_STATUS_OK;
}

tk_status tk_hip_backend_create(const tk_bundle *bundle, const tk_session_options *o,
                                tk_backend_choice *out) {
  (void)o;
  out->launcher = NULL;
  hip_launcher *h = tk_calloc(1, sizeof *h);
  if (!h) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for a HIP launcher");
  h->core.base.vt = &hip_vtable;
  h->core.base.schedule = "gpu";
  h->core.mem = &hip_memory;
  tk_status s = hip_open(h, bundle, out);
  if (s) {
    hip_destroy(&h->core.base);
    return s;
  }
  out->launcher = &h->core.base;
  return TK_STATUS_OK;
}
