/* tests/unit/fake_libcuda.c — a stand-in libcuda.so.1 for gpu_backend_test --fake-cuda, so
 * cuda_backend.c's whole path (init, device query, PTX choice, context, module load, buffers,
 * launches, teardown) runs on a machine without an NVIDIA driver.
 *
 * "Device memory" is host memory; device pointers are host addresses. FAKE_CUDA_CC="86"
 * sets the compute capability (default 8.6). cuModuleLoadDataEx requires NUL-terminated
 * text starting with "//" or ".version" (PTX). cuLaunchKernel checks that kernelParams[0]
 * points at a live allocation's address and records the launch; nothing is computed.
 * Test double: its counters are global on purpose (one fake driver per process).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gpu_symbols.h"

typedef tk_cu_deviceptr devptr;
enum { MAX_ALLOCS = 4096 };

static void *allocs[MAX_ALLOCS];
static int live_allocs, launches, contexts, modules;
static char last_kernel[128];

static int live(devptr p) {
  for (int i = 0; i < MAX_ALLOCS; i++)
    if (allocs[i] && (devptr)(uintptr_t)allocs[i] == p) return 1;
  return 0;
}

int cuInit(unsigned flags) { return flags ? 1 : 0; }
int cuDriverGetVersion(int *v) {
  *v = 12040;
  return 0;
}
int cuGetErrorName(int e, const char **s) {
  *s = e ? "CUDA_ERROR_FAKE" : "CUDA_SUCCESS";
  return 0;
}
int cuGetErrorString(int e, const char **s) {
  *s = e ? "fake failure" : "no error";
  return 0;
}
int cuDeviceGetCount(int *n) {
  *n = 1;
  return 0;
}
int cuDeviceGet(tk_cu_device *d, int ordinal) {
  *d = ordinal;
  return ordinal ? 101 : 0;
}
int cuDeviceGetAttribute(int *v, int attr, tk_cu_device dev) {
  const char *cc = getenv("FAKE_CUDA_CC");
  int sm = cc ? atoi(cc) : 86;
  if (dev) return 101;
  if (attr == 75)
    *v = sm / 10;
  else if (attr == 76)
    *v = sm % 10;
  else
    return 1;
  return 0;
}
int cuDeviceGetName(char *name, int len, tk_cu_device dev) {
  strncpy(name, "Fake GPU", (size_t)len);
  return dev ? 101 : 0;
}
int cuDevicePrimaryCtxRetain(tk_cu_context *ctx, tk_cu_device dev) {
  *ctx = (tk_cu_context)&contexts;
  contexts++;
  return dev ? 101 : 0;
}
int cuDevicePrimaryCtxRelease_v2(tk_cu_device dev) {
  contexts--;
  return dev ? 101 : 0;
}
int cuCtxSetCurrent(tk_cu_context ctx) { return ctx && ctx != (tk_cu_context)&contexts ? 201 : 0; }
int cuCtxSynchronize(void) { return 0; }
int cuModuleLoadDataEx(tk_cu_module *m, const void *image, unsigned n, int *opt, void **val) {
  const char *text = image;
  if (strncmp(text, "//", 2) && strncmp(text, ".version", 8)) {
    for (unsigned i = 0; i < n; i++)
      if (opt[i] == 5) strcpy(val[i], "ptxas fatal: not PTX");
    return 218; /* CUDA_ERROR_INVALID_PTX */
  }
  modules++;
  *m = (tk_cu_module)&modules;
  return 0;
}
int cuModuleUnload(tk_cu_module m) {
  modules--;
  return m == (tk_cu_module)&modules ? 0 : 400;
}
int cuModuleGetFunction(tk_cu_function *f, tk_cu_module m, const char *name) {
  if (m != (tk_cu_module)&modules || !strcmp(name, "missing")) return 500; /* NOT_FOUND */
  strncpy(last_kernel, name, sizeof last_kernel - 1);
  *f = (tk_cu_function)last_kernel;
  return 0;
}
int cuMemAlloc_v2(devptr *p, size_t size) {
  if (!size) return 1;
  for (int i = 0; i < MAX_ALLOCS; i++)
    if (!allocs[i]) {
      allocs[i] = malloc(size);
      memset(allocs[i], 0x5A, size); /* the backend must zero it */
      *p = (devptr)(uintptr_t)allocs[i];
      live_allocs++;
      return 0;
    }
  return 2;
}
int cuMemFree_v2(devptr p) {
  for (int i = 0; i < MAX_ALLOCS; i++)
    if (allocs[i] && (devptr)(uintptr_t)allocs[i] == p) {
      free(allocs[i]);
      allocs[i] = NULL;
      live_allocs--;
      return 0;
    }
  return 1;
}
int cuMemsetD8_v2(devptr p, unsigned char v, size_t n) {
  memset((void *)(uintptr_t)p, v, n);
  return 0;
}
int cuMemcpyHtoD_v2(devptr d, const void *s, size_t n) {
  memcpy((void *)(uintptr_t)d, s, n);
  return 0;
}
int cuMemcpyDtoH_v2(void *d, devptr s, size_t n) {
  memcpy(d, (const void *)(uintptr_t)s, n);
  return 0;
}
int cuLaunchKernel(tk_cu_function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                   unsigned by, unsigned bz, unsigned shared, tk_cu_stream stream, void **params,
                   void **extra) {
  devptr first;
  if (f != (tk_cu_function)last_kernel || !gx || gy != 1 || gz != 1 || !bx || by != 1 || bz != 1 ||
      shared || stream || extra || !params)
    return 1;
  memcpy(&first, params[0], sizeof first);
  if (!live(first)) return 700; /* CUDA_ERROR_ILLEGAL_ADDRESS */
  launches++;
  return 0;
}

/* For the test to read back (not part of the driver API). */
int fake_cuda_counters(int *out_live, int *out_launches, int *out_contexts, int *out_modules) {
  *out_live = live_allocs;
  *out_launches = launches;
  *out_contexts = contexts;
  *out_modules = modules;
  return 0;
}

/* Every definition above, checked by the compiler against the table the backend calls
 * through (runtime/gpu_symbols.h): a pointer of another type is an error under -Werror, and a
 * call through a mismatched type is undefined behaviour that clang's -fsanitize=function
 * stops at. */
struct fake_cuda_api {
  TK_CUDA_SYMBOLS(TK_GPU_SYMBOL_FIELD)
};
const struct fake_cuda_api fake_cuda_api = {
    .cuInit = cuInit,
    .cuDriverGetVersion = cuDriverGetVersion,
    .cuGetErrorName = cuGetErrorName,
    .cuGetErrorString = cuGetErrorString,
    .cuDeviceGetCount = cuDeviceGetCount,
    .cuDeviceGet = cuDeviceGet,
    .cuDeviceGetAttribute = cuDeviceGetAttribute,
    .cuDeviceGetName = cuDeviceGetName,
    .cuDevicePrimaryCtxRetain = cuDevicePrimaryCtxRetain,
    .cuDevicePrimaryCtxRelease = cuDevicePrimaryCtxRelease_v2,
    .cuCtxSetCurrent = cuCtxSetCurrent,
    .cuCtxSynchronize = cuCtxSynchronize,
    .cuModuleLoadDataEx = cuModuleLoadDataEx,
    .cuModuleUnload = cuModuleUnload,
    .cuModuleGetFunction = cuModuleGetFunction,
    .cuMemAlloc = cuMemAlloc_v2,
    .cuMemFree = cuMemFree_v2,
    .cuMemsetD8 = cuMemsetD8_v2,
    .cuMemcpyHtoD = cuMemcpyHtoD_v2,
    .cuMemcpyDtoH = cuMemcpyDtoH_v2,
    .cuLaunchKernel = cuLaunchKernel,
};
