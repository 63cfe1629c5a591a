/* runtime/gpu_core.c — the half of a GPU launcher that HIP and CUDA share: loading a vendor
 * library by symbol table, the buffer table (ids -> device addresses, with range checks),
 * the per-kernel function cache, and kernel-argument packing (docs/abi.md "GPU targets").
 *
 * Guarantees: every device copy is range-checked against the buffer's size before the
 * vendor call; buffers are zero-filled at creation (the vtable contract); a failed
 * buffers_create leaves no buffer allocated; launch sizes that the vendor APIs cannot
 * express (grid or block above 32 bits, grid * block >= 2^32) are errors, not truncations.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/buffer_range.h"
#include "runtime/gpu_backend.h"
#include "tk/alloc.h"
#include "tk/launch.h"

enum { MAX_WORKGROUP = 1024 };

/* ---- Vendor libraries --------------------------------------------------------------------- */

static tk_status resolve_symbols(const char *backend, const char *soname, void *dl,
                                 const tk_gpu_symbol *symbols, size_t n, void *api) {
  for (size_t i = 0; i < n; i++) {
    void *sym = dlsym(dl, symbols[i].name);
    if (!sym && symbols[i].required)
      return tk_status_make(TK_UNAVAILABLE,
                            "%s: %s has no symbol %s (a runtime too old or not the vendor's)",
                            backend, soname, symbols[i].name);
    memcpy((char *)api + symbols[i].offset, &sym, sizeof sym); /* POSIX: fn ptr = void * */
  }
  return TK_STATUS_OK;
}

tk_status tk_gpu_library_open(const char *backend, const char *const *sonames, int n_sonames,
                              const tk_gpu_symbol *symbols, size_t n_symbols, void *api,
                              void **out_dl, const char **out_soname) {
  *out_dl = NULL;
  char tried[1024] = "";
  size_t used = 0;
  for (int i = 0; i < n_sonames; i++) {
    void *dl = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (dl) {
      tk_status s = resolve_symbols(backend, sonames[i], dl, symbols, n_symbols, api);
      if (s) {
        dlclose(dl);
        return s;
      }
      *out_dl = dl;
      *out_soname = sonames[i];
      return TK_STATUS_OK;
    }
    const char *why = dlerror();
    if (used < sizeof tried) {
      int w = snprintf(tried + used, sizeof tried - used, "%s%s", used ? "; " : "",
                       why ? why : sonames[i]);
      used += w > 0 ? (size_t)w : 0;
    }
  }
  return tk_status_make(TK_UNAVAILABLE, "%s: cannot load its runtime library (%s)", backend, tried);
}

/* ---- Kernel arguments --------------------------------------------------------------------- */

tk_status tk_gpu_kernargs_pack(int32_t nargs, const uint64_t *pointers, int32_t B, int32_t Bp,
                               tk_gpu_kernargs *out) {
  if (nargs < 0 || nargs > TK_GPU_MAX_ARGS)
    return tk_status_make(TK_OUT_OF_RANGE, "kernel arguments: %d pointers, expected 0 to %d", nargs,
                          TK_GPU_MAX_ARGS);
  _Static_assert(TK_KERNARG_SLOT_BYTES == sizeof pointers[0], "a pointer fills one slot");
  _Static_assert(TK_KERNARG_DIM_BYTES == sizeof B, "B and Bp are i32");
  char *base = (char *)out->block; /* the layout of tk/launch.h (docs/abi.md) */
  for (int32_t i = 0; i < nargs + 2; i++) {
    out->params[i] = base + tk_kernarg_offset(nargs, i);
    if (i < nargs) memcpy(out->params[i], &pointers[i], TK_KERNARG_SLOT_BYTES);
  }
  memcpy(out->params[nargs], &B, TK_KERNARG_DIM_BYTES);
  memcpy(out->params[nargs + 1], &Bp, TK_KERNARG_DIM_BYTES);
  out->size = tk_kernarg_size(nargs);
  return TK_STATUS_OK;
}

/* ---- Buffers ------------------------------------------------------------------------------ */

tk_status tk_gpu_make_error(tk_status_code code, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  return tk_status_make(code, "%s", msg);
}

static void buffers_free(tk_gpu_core *c) {
  for (int32_t i = 0; i < c->nbuffers; i++)
    if (c->ptrs[i]) c->mem->free(c, c->ptrs[i]);
  free(c->ptrs);
  free(c->bytes);
  c->ptrs = NULL;
  c->bytes = NULL;
  c->nbuffers = 0;
}

tk_status tk_gpu_buffers_create(tk_launcher *l, int32_t n, const int64_t *bytes) {
  tk_gpu_core *c = (tk_gpu_core *)l;
  buffers_free(c);
  if (n < 0) return tk_status_make(TK_INVALID_ARGUMENT, "buffer count %d < 0", n);
  c->ptrs = tk_calloc((size_t)n + 1, sizeof *c->ptrs);
  c->bytes = tk_calloc((size_t)n + 1, sizeof *c->bytes);
  if (!c->ptrs || !c->bytes) {
    buffers_free(c);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for %d buffer pointers", n);
  }
  c->nbuffers = n;
  for (int32_t i = 0; i < n; i++) {
    tk_status s = bytes[i] < 0 ? tk_status_make(TK_OUT_OF_RANGE, "size %lld bytes is invalid",
                                                (long long)bytes[i])
                               : c->mem->alloc(c, bytes[i], &c->ptrs[i]);
    if (s) {
      buffers_free(c);
      return tk_status_annotate(s, "%s: buffer %d of %d", c->base.vt->kind, i, n);
    }
    c->bytes[i] = bytes[i];
  }
  return TK_STATUS_OK;
}

static tk_status check_range(const tk_gpu_core *c, int32_t id, int64_t offset, int64_t size) {
  return tk_buffer_range_check(c->bytes, c->nbuffers, id, offset, size);
}

tk_status tk_gpu_buffer_write(tk_launcher *l, int32_t id, int64_t offset, const void *src,
                              int64_t size) {
  tk_gpu_core *c = (tk_gpu_core *)l;
  TK_RETURN_IF_ERROR(check_range(c, id, offset, size));
  return size ? c->mem->write(c, c->ptrs[id] + (uint64_t)offset, src, size) : TK_STATUS_OK;
}

tk_status tk_gpu_buffer_read(tk_launcher *l, int32_t id, int64_t offset, void *dst, int64_t size) {
  tk_gpu_core *c = (tk_gpu_core *)l;
  TK_RETURN_IF_ERROR(check_range(c, id, offset, size));
  return size ? c->mem->read(c, dst, c->ptrs[id] + (uint64_t)offset, size) : TK_STATUS_OK;
}

void *tk_gpu_buffer_host(tk_launcher *l, int32_t id) {
  (void)l;
  (void)id;
  return NULL;
}

void tk_gpu_core_release(tk_gpu_core *c) {
  buffers_free(c);
  free(c->kernels);
  c->kernels = NULL;
  c->nkernels = 0;
}

/* ---- Launches ----------------------------------------------------------------------------- */

tk_status tk_gpu_launch_prepare(const tk_gpu_core *c, const tk_launch_args *a, tk_gpu_launch *out) {
  if (!a->name || a->kernel < 0 || a->kernel > 1 << 20)
    return tk_status_make(TK_INVALID_ARGUMENT, "launch: bad kernel index %d or no name", a->kernel);
  if (a->grid < 0 || a->grid > UINT32_MAX || a->workgroup_size < 1 ||
      a->workgroup_size > MAX_WORKGROUP || a->grid * a->workgroup_size > UINT32_MAX || a->B < 1 ||
      a->Bp < a->B || a->nargs < 0 || a->nargs > TK_GPU_MAX_ARGS)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "launch of %s: grid %lld, workgroup %lld, nargs %d, B %d, Bp %d out of "
                          "range (workgroup 1 to %d, grid * workgroup < 2^32, nargs <= %d)",
                          a->name, (long long)a->grid, (long long)a->workgroup_size, a->nargs, a->B,
                          a->Bp, MAX_WORKGROUP, TK_GPU_MAX_ARGS);
  uint64_t ptrs[TK_GPU_MAX_ARGS + 1];
  for (int32_t i = 0; i < a->nargs; i++) {
    int32_t id = a->buffers[i];
    if (id < 0 || id >= c->nbuffers)
      return tk_status_make(TK_OUT_OF_RANGE, "launch of %s: argument %d is buffer %d of %d",
                            a->name, i, id, c->nbuffers);
    ptrs[i] = c->ptrs[id];
  }
  out->grid = (unsigned)a->grid;
  out->block = (unsigned)a->workgroup_size;
  return tk_gpu_kernargs_pack(a->nargs, ptrs, a->B, a->Bp, &out->args);
}

void *tk_gpu_kernel_cached(const tk_gpu_core *c, const tk_launch_args *a) {
  if (a->kernel < 0 || a->kernel >= c->nkernels || !a->name) return NULL;
  const tk_gpu_kernel *k = &c->kernels[a->kernel];
  return k->fn && !strcmp(k->name, a->name) ? k->fn : NULL;
}

tk_status tk_gpu_kernel_remember(tk_gpu_core *c, const tk_launch_args *a, void *fn) {
  if (a->kernel >= c->nkernels) {
    tk_gpu_kernel *k = tk_realloc(c->kernels, (size_t)(a->kernel + 1) * sizeof *k);
    if (!k) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for the kernel table");
    memset(k + c->nkernels, 0, (size_t)(a->kernel + 1 - c->nkernels) * sizeof *k);
    c->kernels = k;
    c->nkernels = a->kernel + 1;
  }
  c->kernels[a->kernel] = (tk_gpu_kernel){.name = a->name, .fn = fn};
  return TK_STATUS_OK;
}
