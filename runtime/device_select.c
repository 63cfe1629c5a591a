/* runtime/device_select.c — `--device auto|cpu|hip|cuda`: names, and the choice of a backend.
 *
 * A backend is a function that makes a tk_launcher for a bundle, or says in one clause why it
 * cannot (TK_UNAVAILABLE: library missing, no device, the bundle has no code object for it).
 * The table below lists them in the order `auto` tries the GPUs; cpu is the fallback and
 * always present. A GPU backend must answer quickly when there is no GPU (milliseconds: no
 * retries, no waiting), because `auto` probes it on every session.
 *
 * The GPU entries first check that the bundle has a code object of their kind, then call the
 * backend (hip_backend.c, cuda_backend.c), which dlopens its vendor library and asks for a
 * device; each answers TK_UNAVAILABLE in milliseconds when there is none. `auto` collects
 * their one-clause reasons for its line on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cpu_features.h"
#include "runtime/gpu_backend.h"
#include "runtime/runtime_internal.h"

typedef tk_status (*backend_create_fn)(const tk_bundle *bundle, const tk_session_options *o,
                                       tk_backend_choice *out);

typedef struct backend_entry {
  tk_device device;
  tk_target_kind target; /* the code object kind it runs */
  backend_create_fn create;
} backend_entry;

static const char *const device_names[] = {"auto", "cpu", "hip", "cuda"};

const char *tk_device_name(tk_device d) {
  return (unsigned)d < sizeof device_names / sizeof device_names[0] ? device_names[d] : "?";
}

tk_status tk_device_parse(const char *text, tk_device *out) {
  for (int d = TK_DEVICE_AUTO; d <= TK_DEVICE_CUDA; d++)
    if (text && !strcmp(text, device_names[d])) {
      *out = (tk_device)d;
      return TK_STATUS_OK;
    }
  return tk_status_make(TK_INVALID_ARGUMENT, "device \"%s\": expected auto, cpu, hip or cuda",
                        text ? text : "(null)");
}

/* ---- cpu ---------------------------------------------------------------------------------- */

static int default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n >= 1 && n <= 1024 ? (int)n : 1;
}

/* "x86-64-v3, x86-64-v4": the levels of the bundle's entries of `kind`. */
static void describe_levels(const tk_bundle *b, tk_target_kind kind, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (int32_t i = 0; i < b->n_targets && n < size; i++)
    if (b->targets[i].kind == kind) {
      int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", b->targets[i].arch);
      n += w > 0 ? (size_t)w : 0;
    }
}

/* The entry of `kind` for the forced CPU level, else the one of the highest level this CPU
 * supports; when it supports none, the lowest, whose launcher then names the missing
 * feature. */
static tk_status choose_cpu_target(const tk_bundle *b, tk_target_kind kind, const char *forced,
                                   const tk_bundle_target **out) {
  const tk_bundle_target *best = NULL, *lowest = NULL;
  uint64_t have = tk_cpu_features_detect();
  for (int32_t i = 0; i < b->n_targets; i++) {
    const tk_bundle_target *t = &b->targets[i];
    if (t->kind != kind) continue;
    if (forced) {
      if (!strcmp(t->arch, forced)) best = t;
      continue;
    }
    int rank = tk_cpu_level_rank(t->arch);
    if (!lowest || rank < tk_cpu_level_rank(lowest->arch)) lowest = t;
    if (tk_cpu_level_runs(t->arch, have) && (!best || rank > tk_cpu_level_rank(best->arch)))
      best = t;
  }
  *out = best ? best : lowest;
  if (*out) return TK_STATUS_OK;
  char levels[256];
  describe_levels(b, kind, levels, sizeof levels);
  return tk_status_make(TK_UNAVAILABLE,
                        "cpu %s: the bundle has no x86_64 code for it (it has %s); recompile "
                        "with --cpu %s, or run without forcing a CPU",
                        forced, levels, forced);
}

/* The CPU runs an x86_64 code object (the cpu schedule; choose_cpu_target picks among the
 * bundle's CPU levels), or, in a test bundle that has only x86_64-simt ones, the gpu
 * schedule's bodies. */
static tk_status cpu_create(const tk_bundle *bundle, const tk_session_options *o,
                            tk_backend_choice *out) {
  tk_target_kind kind = tk_bundle_find_target(bundle, TK_TARGET_KIND_X86_64)
                            ? TK_TARGET_KIND_X86_64
                            : TK_TARGET_KIND_X86_64_SIMT;
  const tk_bundle_target *t = NULL;
  if (tk_bundle_find_target(bundle, kind))
    TK_RETURN_IF_ERROR(choose_cpu_target(bundle, kind, o->cpu, &t));
  if (!t) {
    char targets[512];
    tk_bundle_describe_targets(bundle, targets, sizeof targets);
    return tk_status_make(TK_UNAVAILABLE,
                          "cpu: the bundle has no x86_64 code object (it has: %s); recompile "
                          "with --targets x86_64",
                          targets);
  }
  int threads = o->threads > 0 ? o->threads : default_threads();
  tk_cpu_launcher_options co = {.code_path = t->code.path,
                                .cpu = t->arch,
                                .threads = threads,
                                .code = t->code.bytes,
                                .code_size = t->code.size,
                                .fingerprint = bundle->fingerprint};
  tk_status s = tk_cpu_launcher_create(&co, &out->launcher);
  if (s) {
    char levels[256];
    describe_levels(bundle, kind, levels, sizeof levels);
    return tk_status_annotate(s, "the bundle's CPU code is for %s", levels);
  }
  out->host = t->host.path ? &t->host : NULL;
  snprintf(out->device, sizeof out->device, "%s%s (%d thread%s)", t->arch,
           t->kind == TK_TARGET_KIND_X86_64_SIMT ? " simt" : "", threads, threads == 1 ? "" : "s");
  return TK_STATUS_OK;
}

/* ---- GPU backends ------------------------------------------------------------------------- */

static const backend_entry gpu_backends[] = {
    {TK_DEVICE_HIP, TK_TARGET_KIND_AMDGCN, tk_hip_backend_create},
    {TK_DEVICE_CUDA, TK_TARGET_KIND_NVPTX, tk_cuda_backend_create},
};
enum { N_GPU_BACKENDS = sizeof gpu_backends / sizeof gpu_backends[0] };

/* Creates one GPU backend after checking the bundle has its code object. */
static tk_status gpu_create(const backend_entry *b, const tk_bundle *bundle,
                            const tk_session_options *o, tk_backend_choice *out) {
  if (!tk_bundle_find_target(bundle, b->target)) {
    char targets[512];
    tk_bundle_describe_targets(bundle, targets, sizeof targets);
    return tk_status_make(TK_UNAVAILABLE, "%s: the bundle has no %s code object (it has: %s)",
                          tk_device_name(b->device),
                          b->target == TK_TARGET_KIND_AMDGCN ? "amdgcn" : "nvptx", targets);
  }
  tk_session_options with_device = *o;
  with_device.device = b->device;
  return b->create(bundle, &with_device, out);
}

/* auto: the first GPU backend that answers, else cpu, with one line saying which and why. */
static tk_status auto_create(const tk_bundle *bundle, const tk_session_options *o,
                             tk_backend_choice *out) {
  char why[1024] = "";
  size_t n = 0;
  for (int i = 0; i < N_GPU_BACKENDS; i++) {
    tk_status s = gpu_create(&gpu_backends[i], bundle, o, out);
    if (!s) {
      if (!o->quiet)
        fprintf(stderr, "tkrt: --device auto: using %s (%s)\n",
                tk_device_name(gpu_backends[i].device), out->device);
      return TK_STATUS_OK;
    }
    if (n < sizeof why) {
      int w = snprintf(why + n, sizeof why - n, "%s%s", n ? "; " : "", tk_status_message(s));
      n += w > 0 ? (size_t)w : 0;
    }
    tk_status_free(s);
  }
  TK_RETURN_IF_ERROR(cpu_create(bundle, o, out));
  if (!o->quiet)
    fprintf(stderr, "tkrt: --device auto: using cpu, %s; no GPU backend answered (%s)\n",
            out->device, why);
  return TK_STATUS_OK;
}

static tk_status backend_create(const tk_bundle *bundle, const tk_session_options *o,
                                tk_backend_choice *out) {
  switch (o->device) {
    case TK_DEVICE_AUTO: return auto_create(bundle, o, out);
    case TK_DEVICE_CPU: return cpu_create(bundle, o, out);
    case TK_DEVICE_HIP:
    case TK_DEVICE_CUDA:
      for (int i = 0; i < N_GPU_BACKENDS; i++)
        if (gpu_backends[i].device == o->device)
          return gpu_create(&gpu_backends[i], bundle, o, out);
      break;
  }
  return tk_status_make(TK_INVALID_ARGUMENT, "device %d: expected auto, cpu, hip or cuda",
                        (int)o->device);
}

tk_status tk_backend_select(const tk_bundle *bundle, const tk_session_options *o,
                            tk_backend_choice *out) {
  *out = (tk_backend_choice){0};
  TK_RETURN_IF_ERROR(backend_create(bundle, o, out));
  if (!out->host) out->host = &bundle->host;
  return TK_STATUS_OK;
}
