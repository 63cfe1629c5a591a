/* runtime/gpu_symbols.h — the vendor GPU APIs tkrt calls, as one X-macro table per API.
 *
 * libtkrt links no vendor library and includes no vendor header: the HIP runtime
 * (libamdhip64) and the CUDA driver (libcuda) are dlopen'd when a session asks for them, and
 * their functions are looked up by the names below (style.md §14). So every backend always
 * builds, and one that cannot run here fails at run time with TK_UNAVAILABLE naming the
 * library. The few types are declared here with the vendors' ABI (enums are ints, handles
 * are pointers, CUdeviceptr is 64-bit), not copied from their headers.
 *
 * Columns: X(required, return type, field name, "symbol in the library", (parameters)).
 * A missing required symbol makes the library unusable; an optional one leaves its field
 * NULL. The table is turned into a struct of function pointers and a name/offset list by
 * the backends (hip_backend.c, cuda_backend.c).
 */
#ifndef TK_GPU_SYMBOLS_H
#define TK_GPU_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

/* ---- HIP runtime (libamdhip64) ------------------------------------------------------------ */

typedef int tk_hip_error; /* hipError_t: 0 = hipSuccess, 100 = hipErrorNoDevice */
typedef struct tk_hip_module_s *tk_hip_module;     /* hipModule_t */
typedef struct tk_hip_function_s *tk_hip_function; /* hipFunction_t */
typedef struct tk_hip_stream_s *tk_hip_stream;     /* hipStream_t; NULL = the null stream */

enum {
  TK_HIP_SUCCESS = 0,
  TK_HIP_ERROR_OUT_OF_MEMORY = 2,
  TK_HIP_ERROR_NO_DEVICE = 100,
  TK_HIP_ERROR_INVALID_DEVICE = 101,
  TK_HIP_MEMCPY_HOST_TO_DEVICE = 1, /* hipMemcpyKind */
  TK_HIP_MEMCPY_DEVICE_TO_HOST = 2,
};

/* hipDeviceProp_t has two layouts: R0000 (ROCm < 6; still exported as
 * hipGetDevicePropertiesR0000 by ROCm 6) and R0600 (ROCm >= 6). Only `name` (offset 0,
 * 256 bytes) and `gcnArchName` (256 bytes) are read, by offset, from a buffer larger than
 * either struct. R0000: offsetof(gcnArchName) = 396, sizeof = 792 (checked against the
 * Debian HIP 5.2.3 header); R0600: 1160 and 1472 (ROCm 6 hip_runtime_api.h). */
enum {
  TK_HIP_PROP_BYTES = 4096,
  TK_HIP_PROP_NAME_OFFSET = 0,
  TK_HIP_PROP_R0000_ARCH_OFFSET = 396,
  TK_HIP_PROP_R0600_ARCH_OFFSET = 1160,
  TK_HIP_PROP_STRING_BYTES = 256,
};

#define TK_HIP_SYMBOLS(X)                                                                         \
  X(1, tk_hip_error, hipGetDeviceCount, "hipGetDeviceCount", (int *count))                        \
  X(1, tk_hip_error, hipRuntimeGetVersion, "hipRuntimeGetVersion", (int *version))                \
  X(1, const char *, hipGetErrorName, "hipGetErrorName", (tk_hip_error error))                    \
  X(1, const char *, hipGetErrorString, "hipGetErrorString", (tk_hip_error error))                \
  X(0, tk_hip_error, hipGetDevicePropertiesR0600, "hipGetDevicePropertiesR0600",                  \
    (void *prop, int device))                                                                     \
  X(0, tk_hip_error, hipGetDevicePropertiesR0000, "hipGetDevicePropertiesR0000",                  \
    (void *prop, int device))                                                                     \
  X(0, tk_hip_error, hipGetDevicePropertiesLegacy, "hipGetDeviceProperties",                      \
    (void *prop, int device))                                                                     \
  X(1, tk_hip_error, hipSetDevice, "hipSetDevice", (int device))                                  \
  X(1, tk_hip_error, hipModuleLoadData, "hipModuleLoadData",                                      \
    (tk_hip_module * module, const void *image))                                                  \
  X(1, tk_hip_error, hipModuleUnload, "hipModuleUnload", (tk_hip_module module))                  \
  X(1, tk_hip_error, hipModuleGetFunction, "hipModuleGetFunction",                                \
    (tk_hip_function * function, tk_hip_module module, const char *name))                         \
  X(1, tk_hip_error, hipMalloc, "hipMalloc", (void **ptr, size_t size))                           \
  X(1, tk_hip_error, hipFree, "hipFree", (void *ptr))                                             \
  X(1, tk_hip_error, hipMemset, "hipMemset", (void *dst, int value, size_t size))                 \
  X(1, tk_hip_error, hipMemcpy, "hipMemcpy", (void *dst, const void *src, size_t size, int kind)) \
  X(1, tk_hip_error, hipModuleLaunchKernel, "hipModuleLaunchKernel",                              \
    (tk_hip_function f, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,      \
     unsigned block_y, unsigned block_z, unsigned shared_bytes, tk_hip_stream stream,             \
     void **kernel_params, void **extra))                                                         \
  X(1, tk_hip_error, hipDeviceSynchronize, "hipDeviceSynchronize", (void))

/* ---- CUDA driver API (libcuda) ------------------------------------------------------------ */

typedef int tk_cu_result;                        /* CUresult: 0 = CUDA_SUCCESS, 100 = NO_DEVICE */
typedef int tk_cu_device;                        /* CUdevice */
typedef unsigned long long tk_cu_deviceptr;      /* CUdeviceptr (64-bit on every 64-bit host) */
typedef struct tk_cu_context_s *tk_cu_context;   /* CUcontext */
typedef struct tk_cu_module_s *tk_cu_module;     /* CUmodule */
typedef struct tk_cu_function_s *tk_cu_function; /* CUfunction */
typedef struct tk_cu_stream_s *tk_cu_stream;     /* CUstream; NULL = the legacy null stream */

enum {
  TK_CUDA_SUCCESS = 0,
  TK_CUDA_ERROR_OUT_OF_MEMORY = 2,
  TK_CUDA_ERROR_NOT_INITIALIZED = 3,
  TK_CUDA_ERROR_NO_DEVICE = 100,
  TK_CUDA_ERROR_INVALID_DEVICE = 101,
  TK_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, /* CUdevice_attribute */
  TK_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  TK_CU_JIT_ERROR_LOG_BUFFER = 5, /* CUjit_option */
  TK_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
};

/* The _v2 entry points are the ones cuda.h has mapped its names to since CUDA 4.0 (11.0 for
 * cuDevicePrimaryCtxRelease); the PTX tkc emits needs a CUDA 11 driver anyway. */
#define TK_CUDA_SYMBOLS(X)                                                                       \
  X(1, tk_cu_result, cuInit, "cuInit", (unsigned flags))                                         \
  X(1, tk_cu_result, cuDriverGetVersion, "cuDriverGetVersion", (int *version))                   \
  X(1, tk_cu_result, cuGetErrorName, "cuGetErrorName", (tk_cu_result error, const char **s))     \
  X(1, tk_cu_result, cuGetErrorString, "cuGetErrorString", (tk_cu_result error, const char **s)) \
  X(1, tk_cu_result, cuDeviceGetCount, "cuDeviceGetCount", (int *count))                         \
  X(1, tk_cu_result, cuDeviceGet, "cuDeviceGet", (tk_cu_device * device, int ordinal))           \
  X(1, tk_cu_result, cuDeviceGetAttribute, "cuDeviceGetAttribute",                               \
    (int *value, int attribute, tk_cu_device device))                                            \
  X(1, tk_cu_result, cuDeviceGetName, "cuDeviceGetName",                                         \
    (char *name, int len, tk_cu_device device))                                                  \
  X(1, tk_cu_result, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain",                       \
    (tk_cu_context * ctx, tk_cu_device device))                                                  \
  X(1, tk_cu_result, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",                  \
    (tk_cu_device device))                                                                       \
  X(1, tk_cu_result, cuCtxSetCurrent, "cuCtxSetCurrent", (tk_cu_context ctx))                    \
  X(1, tk_cu_result, cuCtxSynchronize, "cuCtxSynchronize", (void))                               \
  X(1, tk_cu_result, cuModuleLoadDataEx, "cuModuleLoadDataEx",                                   \
    (tk_cu_module * module, const void *image, unsigned n_options, int *options,                 \
     void **option_values))                                                                      \
  X(1, tk_cu_result, cuModuleUnload, "cuModuleUnload", (tk_cu_module module))                    \
  X(1, tk_cu_result, cuModuleGetFunction, "cuModuleGetFunction",                                 \
    (tk_cu_function * function, tk_cu_module module, const char *name))                          \
  X(1, tk_cu_result, cuMemAlloc, "cuMemAlloc_v2", (tk_cu_deviceptr * ptr, size_t size))          \
  X(1, tk_cu_result, cuMemFree, "cuMemFree_v2", (tk_cu_deviceptr ptr))                           \
  X(1, tk_cu_result, cuMemsetD8, "cuMemsetD8_v2",                                                \
    (tk_cu_deviceptr dst, unsigned char value, size_t n))                                        \
  X(1, tk_cu_result, cuMemcpyHtoD, "cuMemcpyHtoD_v2",                                            \
    (tk_cu_deviceptr dst, const void *src, size_t size))                                         \
  X(1, tk_cu_result, cuMemcpyDtoH, "cuMemcpyDtoH_v2",                                            \
    (void *dst, tk_cu_deviceptr src, size_t size))                                               \
  X(1, tk_cu_result, cuLaunchKernel, "cuLaunchKernel",                                           \
    (tk_cu_function f, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,      \
     unsigned block_y, unsigned block_z, unsigned shared_bytes, tk_cu_stream stream,             \
     void **kernel_params, void **extra))

/* Helpers that turn a table into a struct of function pointers and a symbol list. */
#define TK_GPU_SYMBOL_FIELD(required, ret, field, symbol, params) ret(*field) params;
#define TK_GPU_SYMBOL_ENTRY(type, required, ret, field, symbol, params) \
  {symbol, offsetof(type, field), required},

#endif /* TK_GPU_SYMBOLS_H */
