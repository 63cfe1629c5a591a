/* runtime/cpu_backend.c — the CPU launcher: runs a bundle's x86_64 (or x86_64-simt) kernels
 * on a thread pool over buffers in host memory (docs/abi.md "CPU targets").
 *
 * Create: check the CPU level first (loading code with AVX2 on a CPU without it would crash
 * at the first kernel), then dlopen the code object RTLD_LOCAL (two bundles in one process
 * keep their own symbols) from a sealed copy of the bytes that were hashed (dl_image.h),
 * read tk_bundle_target to learn which host-stub schedule it runs, and check that its
 * tk_model_fingerprint is the bundle's arch before any kernel can run.
 * Launch: resolve the kernel symbol by name on first use (cached per kernel index, checked
 * against the name on every launch), map buffer ids to 64-byte aligned host buffers, and
 * cover [0, grid) with the pool: each [begin, end) chunk is one call of the kernel.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/buffer_range.h"
#include "runtime/dl_image.h"
#include "runtime/fs.h"
#include "runtime/thread_pool.h"
#include "tk/launch.h"
#include "tk/alloc.h"

typedef void (*cpu_kernel_fn)(void *const *args, int32_t B, int32_t Bp, int64_t begin, int64_t end);

typedef struct cpu_kernel {
  const char *name; /* the name it was resolved for (borrowed from the stub's rodata) */
  cpu_kernel_fn fn;
} cpu_kernel;

typedef struct cpu_launcher {
  tk_launcher base;
  tk_dl_image image;
  char *code_path;
  tk_thread_pool *pool;
  int32_t nkernels;
  cpu_kernel *kernels;
  int32_t nbuffers;
  void **buffers;
  int64_t *bytes;
} cpu_launcher;

typedef struct cpu_launch_ctx {
  cpu_kernel_fn fn;
  void *const *args;
  int32_t B, Bp;
} cpu_launch_ctx;

enum { CPU_ALIGN = 64, STACK_ARGS = 64 };

static tk_status cpu_make_error(tk_status_code code, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  return tk_status_make(code, "%s", msg);
}

static void buffers_free(cpu_launcher *c) {
  for (int32_t i = 0; i < c->nbuffers; i++) free(c->buffers[i]);
  free(c->buffers);
  free(c->bytes);
  c->buffers = NULL;
  c->bytes = NULL;
  c->nbuffers = 0;
}

static tk_status cpu_buffers_create(tk_launcher *l, int32_t n, const int64_t *bytes) {
  cpu_launcher *c = (cpu_launcher *)l;
  buffers_free(c);
  if (n < 0) return tk_status_make(TK_INVALID_ARGUMENT, "buffer count %d < 0", n);
  c->buffers = tk_calloc((size_t)n + 1, sizeof *c->buffers);
  c->bytes = tk_calloc((size_t)n + 1, sizeof *c->bytes);
  if (!c->buffers || !c->bytes) {
    buffers_free(c);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for %d buffer pointers", n);
  }
  c->nbuffers = n;
  for (int32_t i = 0; i < n; i++) {
    size_t size = (size_t)bytes[i];
    size_t rounded = (size + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    if (bytes[i] < 0 || rounded < size) {
      buffers_free(c);
      return tk_status_make(TK_OUT_OF_RANGE, "buffer %d: size %lld bytes is invalid", i,
                            (long long)bytes[i]);
    }
    c->buffers[i] = aligned_alloc(CPU_ALIGN, rounded ? rounded : CPU_ALIGN);
    if (!c->buffers[i]) {
      buffers_free(c);
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory: buffer %d needs %zu bytes", i,
                            size);
    }
    memset(c->buffers[i], 0, rounded ? rounded : CPU_ALIGN);
    c->bytes[i] = bytes[i];
  }
  return TK_STATUS_OK;
}

static tk_status check_range(const cpu_launcher *c, int32_t id, int64_t offset, int64_t size) {
  return tk_buffer_range_check(c->bytes, c->nbuffers, id, offset, size);
}

static tk_status cpu_buffer_write(tk_launcher *l, int32_t id, int64_t offset, const void *src,
                                  int64_t size) {
  cpu_launcher *c = (cpu_launcher *)l;
  TK_RETURN_IF_ERROR(check_range(c, id, offset, size));
  if (size) memcpy((char *)c->buffers[id] + offset, src, (size_t)size);
  return TK_STATUS_OK;
}

static tk_status cpu_buffer_read(tk_launcher *l, int32_t id, int64_t offset, void *dst,
                                 int64_t size) {
  cpu_launcher *c = (cpu_launcher *)l;
  TK_RETURN_IF_ERROR(check_range(c, id, offset, size));
  if (size) memcpy(dst, (const char *)c->buffers[id] + offset, (size_t)size);
  return TK_STATUS_OK;
}

static void *cpu_buffer_host(tk_launcher *l, int32_t id) {
  cpu_launcher *c = (cpu_launcher *)l;
  return id >= 0 && id < c->nbuffers ? c->buffers[id] : NULL;
}

/* The kernel function for a->kernel, resolved by name once. */
static tk_status kernel_lookup(cpu_launcher *c, const tk_launch_args *a, cpu_kernel_fn *out) {
  if (a->kernel < 0 || a->kernel > 1 << 20 || !a->name)
    return tk_status_make(TK_INVALID_ARGUMENT, "launch: bad kernel index %d", a->kernel);
  if (a->kernel >= c->nkernels) {
    cpu_kernel *k = tk_realloc(c->kernels, (size_t)(a->kernel + 1) * sizeof *k);
    if (!k) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for the kernel table");
    memset(k + c->nkernels, 0, (size_t)(a->kernel + 1 - c->nkernels) * sizeof *k);
    c->kernels = k;
    c->nkernels = a->kernel + 1;
  }
  cpu_kernel *k = &c->kernels[a->kernel];
  /* the host stub passes the same string literal each time: a pointer compare first */
  if (!k->fn || (k->name != a->name && strcmp(k->name, a->name) != 0)) {
    void *sym = dlsym(c->image.dl, a->name);
    if (!sym)
      return tk_status_make(TK_NOT_FOUND, "%s: no kernel symbol '%s' (kernel %d)", c->code_path,
                            a->name, a->kernel);
    k->name = a->name;
    k->fn = (cpu_kernel_fn)sym; /* POSIX: dlsym's object pointer converts to a function */
  }
  *out = k->fn;
  return TK_STATUS_OK;
}

static void cpu_run_chunk(void *ctx, int64_t begin, int64_t end) {
  const cpu_launch_ctx *x = ctx;
  x->fn(x->args, x->B, x->Bp, begin, end);
}

static tk_status cpu_launch(tk_launcher *l, const tk_launch_args *a) {
  cpu_launcher *c = (cpu_launcher *)l;
  cpu_kernel_fn fn = NULL;
  TK_RETURN_IF_ERROR(kernel_lookup(c, a, &fn));
  if (a->grid < 0 || a->nargs < 0 || a->nargs > 4096 || a->B < 1 || a->Bp < a->B)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "launch of %s: grid %lld, nargs %d, B %d, Bp %d out of range", a->name,
                          (long long)a->grid, a->nargs, a->B, a->Bp);
  /* a launch's arguments fit on the stack but for unusual kernels: an allocation per launch
   * was 4 % of Nano's B = 1 forward */
  void *stack_args[STACK_ARGS];
  void **args = a->nargs < STACK_ARGS ? stack_args : tk_calloc((size_t)a->nargs + 1, sizeof *args);
  if (!args) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory launching %s", a->name);
  for (int32_t i = 0; i < a->nargs; i++) {
    int32_t id = a->buffers[i];
    if (id < 0 || id >= c->nbuffers) {
      if (args != stack_args) free(args);
      return tk_status_make(TK_OUT_OF_RANGE, "launch of %s: argument %d is buffer %d of %d",
                            a->name, i, id, c->nbuffers);
    }
    args[i] = c->buffers[id];
  }
  cpu_launch_ctx ctx = {.fn = fn, .args = args, .B = a->B, .Bp = a->Bp};
  tk_thread_pool_run(c->pool, a->grid, cpu_run_chunk, &ctx);
  if (args != stack_args) free(args);
  return TK_STATUS_OK;
}

static void cpu_destroy(tk_launcher *l) {
  cpu_launcher *c = (cpu_launcher *)l;
  buffers_free(c);
  tk_thread_pool_destroy(c->pool);
  tk_dl_image_close(&c->image);
  free(c->kernels);
  free(c->code_path);
  free(c);
}

static const tk_launcher_vtable cpu_vtable = {
    .kind = "cpu",
    .launch = cpu_launch,
    .make_error = cpu_make_error,
    .buffers_create = cpu_buffers_create,
    .buffer_write = cpu_buffer_write,
    .buffer_read = cpu_buffer_read,
    .buffer_host = cpu_buffer_host,
    .destroy = cpu_destroy,
};

/* Sets base.schedule from the object's tk_bundle_target. */
static tk_status read_target(cpu_launcher *c) {
  const char *target = dlsym(c->image.dl, "tk_bundle_target");
  if (!target)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: no tk_bundle_target symbol (not a tkc code object)", c->code_path);
  if (!strcmp(target, "x86_64"))
    c->base.schedule = "cpu";
  else if (!strcmp(target, "x86_64-simt"))
    c->base.schedule = "gpu";
  else
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: tk_bundle_target is '%.32s', expected x86_64 or x86_64-simt",
                          c->code_path, target);
  return TK_STATUS_OK;
}

/* The arch the kernels were compiled for must be `want` (docs/abi.md "CPU targets"). */
static tk_status check_fingerprint(const cpu_launcher *c, const char *want) {
  if (!want) return TK_STATUS_OK;
  const char *got = dlsym(c->image.dl, TK_MODEL_FINGERPRINT_SYMBOL);
  if (!got)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: no tk_model_fingerprint symbol (built by an older tkc: recompile "
                          "the bundle)",
                          c->code_path);
  if (strncmp(got, want, 17))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: code object compiled for arch fingerprint %.16s, the bundle's is "
                          "%s (kernels of another model)",
                          c->code_path, got, want);
  return TK_STATUS_OK;
}

/* Loads the code object (o->code, else code_path read once) and checks what it says it is. */
static tk_status cpu_load(cpu_launcher *c, const tk_cpu_launcher_options *o) {
  char *read = NULL;
  size_t size = o->code_size;
  const void *code = o->code;
  if (!code) {
    TK_RETURN_IF_ERROR(tk_fs_read_regular(o->code_path, TK_FS_BUNDLE_FILE_MAX_BYTES, &read, &size));
    code = read;
  }
  tk_status s = tk_dl_image_open(code, size, c->code_path, &c->image);
  free(read);
  TK_RETURN_IF_ERROR(s);
  TK_RETURN_IF_ERROR(read_target(c));
  return check_fingerprint(c, o->fingerprint);
}

tk_status tk_cpu_launcher_create(const tk_cpu_launcher_options *o, tk_launcher **out) {
  *out = NULL;
  if (!o || !o->code_path)
    return tk_status_make(TK_INVALID_ARGUMENT, "CPU launcher: no code object path");
  if (o->cpu)
    TK_RETURN_IF_ERROR(tk_status_annotate(tk_cpu_check_level(o->cpu), "%s", o->code_path));
  cpu_launcher *c = tk_calloc(1, sizeof *c);
  if (!c) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for a CPU launcher");
  c->base.vt = &cpu_vtable;
  c->image = (tk_dl_image){.dl = NULL, .fd = -1};
  c->code_path = tk_strdup(o->code_path);
  tk_status s =
      c->code_path ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) s = tk_thread_pool_create(o->threads, &c->pool);
  if (!s) s = cpu_load(c, o);
  if (s) {
    cpu_destroy(&c->base);
    return s;
  }
  *out = &c->base;
  return TK_STATUS_OK;
}
