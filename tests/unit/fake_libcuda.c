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

typedef unsigned long long devptr;
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
int cuDeviceGet(int *d, int ordinal) {
  *d = ordinal;
  return ordinal ? 101 : 0;
}
int cuDeviceGetAttribute(int *v, int attr, int dev) {
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
int cuDeviceGetName(char *name, int len, int dev) {
  strncpy(name, "Fake GPU", (size_t)len);
  return dev ? 101 : 0;
}
int cuDevicePrimaryCtxRetain(void **ctx, int dev) {
  *ctx = &contexts;
  contexts++;
  return dev ? 101 : 0;
}
int cuDevicePrimaryCtxRelease_v2(int dev) {
  contexts--;
  return dev ? 101 : 0;
}
int cuCtxSetCurrent(void *ctx) { return ctx && ctx != &contexts ? 201 : 0; }
int cuCtxSynchronize(void) { return 0; }
int cuModuleLoadDataEx(void **m, const void *image, unsigned n, int *opt, void **val) {
  const char *text = image;
  if (strncmp(text, "//", 2) && strncmp(text, ".version", 8)) {
    for (unsigned i = 0; i < n; i++)
      if (opt[i] == 5) strcpy(val[i], "ptxas fatal: not PTX");
    return 218; /* CUDA_ERROR_INVALID_PTX */
  }
  modules++;
  *m = &modules;
  return 0;
}
int cuModuleUnload(void *m) {
  modules--;
  return m == &modules ? 0 : 400;
}
int cuModuleGetFunction(void **f, void *m, const char *name) {
  if (m != &modules || !strcmp(name, "missing")) return 500; /* CUDA_ERROR_NOT_FOUND */
  strncpy(last_kernel, name, sizeof last_kernel - 1);
  *f = last_kernel;
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
int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned shared, void *stream, void **params, void **extra) {
  devptr first;
  if (f != last_kernel || !gx || gy != 1 || gz != 1 || !bx || by != 1 || bz != 1 || shared ||
      stream || extra || !params)
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
