/* tests/unit/gpu_backend_test.c — the GPU backends as far as a machine without a GPU can
 * check them (this one, CI):
 *   - `hip` and `cuda` fail with TK_UNAVAILABLE and a message naming the library or the
 *     missing device, quickly (a loose 5 s bound: the point is "no hang"), repeatedly;
 *   - `auto` falls back to cpu and says so, with each GPU backend's reason, on stderr;
 *   - code-object choice: amdgcn by arch and code object version (which side is wrong),
 *     PTX by compute capability, as pure functions;
 *   - kernel arguments packed at the docs/abi.md offsets; the shared buffer table over a
 *     host-memory stand-in for device memory (range checks, zero fill, no leak on failure),
 *     and launch preparation (buffer ids -> addresses, size limits).
 * On a machine that has a GPU (/dev/kfd or /dev/nvidiactl) the "fails cleanly" checks are
 * skipped for that vendor, since the backend may then legitimately get further.
 *
 * `gpu_backend_test --fake-cuda` (ctest gpu_backend_fake_cuda, LD_LIBRARY_PATH pointing at
 * tests/unit/fake_libcuda.c's libcuda.so.1) runs cuda_backend.c end to end against that
 * stand-in driver instead: PTX choice, context, module, zeroed buffers, copies, launches,
 * errors, and a teardown that releases everything.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/gpu_backend.h"
#include "test.h"

/* ---- A bundle in memory: amdgcn gfx90a/gfx942, nvptx sm_80/sm_90, the fake x86_64 --------- */

typedef struct fake_bundle {
  tk_bundle b;
  tk_bundle_target t[5];
  char code_path[64];
  char code[128]; /* what the GPU targets hold (the bytes a launcher loads, not the file) */
} fake_bundle;

/* The GPU targets' bytes become `text`. */
static void fake_bundle_set_code(fake_bundle *f, const char *text) {
  snprintf(f->code, sizeof f->code, "%s", text);
  for (int32_t i = 0; i < f->b.n_targets; i++)
    if (f->t[i].kind != TK_TARGET_KIND_X86_64) f->t[i].code.size = strlen(f->code);
}

static void fake_bundle_init(fake_bundle *f, bool with_gpu) {
  memset(f, 0, sizeof *f);
  snprintf(f->code_path, sizeof f->code_path, "/tmp/tk_gpu_backend_test_%d.bin", (int)getpid());
  FILE *file = fopen(f->code_path, "wb"); /* never loaded without a GPU; exists for realism */
  if (file) {
    fputs("not a code object\n", file);
    fclose(file);
  }
  tk_bundle_file gpu_code = {f->code_path, f->code, 0};
  int n = 0;
  if (with_gpu) {
    f->t[n++] = (tk_bundle_target){TK_TARGET_KIND_AMDGCN, "amdgcn", "gfx90a", 4, gpu_code, {0}};
    f->t[n++] = (tk_bundle_target){TK_TARGET_KIND_AMDGCN, "amdgcn", "gfx942", 5, gpu_code, {0}};
    f->t[n++] = (tk_bundle_target){TK_TARGET_KIND_NVPTX, "nvptx", "sm_80", 0, gpu_code, {0}};
    f->t[n++] = (tk_bundle_target){TK_TARGET_KIND_NVPTX, "nvptx", "sm_90", 0, gpu_code, {0}};
  }
  /* no bytes: the CPU launcher reads the file once itself */
  f->t[n++] = (tk_bundle_target){
      TK_TARGET_KIND_X86_64, "x86_64", "x86-64", 0, (tk_bundle_file){TK_FAKE_X86_SO, NULL, 0}, {0}};
  f->b.dir = "(in memory)";
  f->b.n_targets = n;
  f->b.targets = f->t;
  fake_bundle_set_code(f, "not a code object\n");
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool has_gpu(const char *dev_node) { return access(dev_node, F_OK) == 0; }

/* ---- hip / cuda without a device ---------------------------------------------------------- */

static void check_unavailable(const fake_bundle *f, tk_device device, const char *library,
                              const char *no_device) {
  tk_session_options o;
  tk_session_options_default(&o);
  o.device = device;
  for (int round = 0; round < 3; round++) { /* dlopen / dlclose again and again */
    tk_backend_choice c;
    double t0 = now_s();
    tk_status s = tk_backend_select(&f->b, &o, &c);
    double dt = now_s() - t0;
    const char *msg = tk_status_message(s);
    CHECK_MSG(s && tk_status_code_of(s) == TK_UNAVAILABLE, "%s: code %s: %s",
              tk_device_name(device), tk_status_code_name(tk_status_code_of(s)), msg);
    CHECK_MSG(strstr(msg, library) || strstr(msg, no_device),
              "%s: the message names neither %s nor the missing device: %s", tk_device_name(device),
              library, msg);
    CHECK_MSG(!strncmp(msg, tk_device_name(device), strlen(tk_device_name(device))),
              "the message starts with the backend name: %s", msg);
    CHECK_MSG(dt < 5.0, "%s took %.3f s to fail", tk_device_name(device), dt);
    CHECK(c.launcher == NULL);
    if (round == 0)
      printf("%s without a GPU (%.1f ms): %s\n", tk_device_name(device), dt * 1e3, msg);
    tk_status_free(s);
  }
}

/* Runs tk_backend_select with stderr captured into `err`. */
static tk_status select_capturing_stderr(const tk_bundle *b, const tk_session_options *o,
                                         tk_backend_choice *c, char *err, size_t size) {
  fflush(stderr);
  int saved = dup(2);
  FILE *tmp = tmpfile();
  if (saved < 0 || !tmp) return tk_status_make(TK_IO_ERROR, "cannot capture stderr");
  dup2(fileno(tmp), 2);
  tk_status s = tk_backend_select(b, o, c);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(tmp);
  size_t n = fread(err, 1, size - 1, tmp);
  err[n] = '\0';
  fclose(tmp);
  return s;
}

static void test_no_gpu(void) {
  fake_bundle f;
  fake_bundle_init(&f, true);
  bool amd = has_gpu("/dev/kfd"), nvidia = has_gpu("/dev/nvidiactl");
  if (!amd) check_unavailable(&f, TK_DEVICE_HIP, "libamdhip64", "no AMD GPU");
  if (!nvidia) check_unavailable(&f, TK_DEVICE_CUDA, "libcuda.so.1", "no NVIDIA GPU");
  if (amd || nvidia) {
    printf("a GPU is present: the no-GPU checks of auto are skipped\n");
    unlink(f.code_path);
    return;
  }
  /* auto: cpu, with one line that says so and why */
  tk_session_options o;
  tk_session_options_default(&o);
  o.threads = 1;
  tk_backend_choice c;
  char err[4096];
  double t0 = now_s();
  tk_status s = select_capturing_stderr(&f.b, &o, &c, err, sizeof err);
  double dt = now_s() - t0;
  CHECK_OK(s);
  if (c.launcher) {
    CHECK(!strcmp(tk_launcher_kind(c.launcher), "cpu"));
    CHECK(!strcmp(tk_launcher_schedule(c.launcher), "cpu"));
  }
  tk_launcher_destroy(c.launcher);
  CHECK_MSG(strstr(err, "using cpu") && strstr(err, "hip:") && strstr(err, "cuda:"),
            "auto's line: %s", err);
  CHECK_MSG(strchr(err, '\n') == err + strlen(err) - 1, "exactly one line: %s", err);
  CHECK_MSG(dt < 5.0, "auto took %.3f s", dt);
  printf("auto without a GPU (%.1f ms): %s", dt * 1e3, err);
  /* quiet: the same choice, nothing on stderr */
  o.quiet = true;
  s = select_capturing_stderr(&f.b, &o, &c, err, sizeof err);
  CHECK_OK(s);
  CHECK_MSG(err[0] == '\0', "quiet auto printed: %s", err);
  tk_launcher_destroy(c.launcher);
  unlink(f.code_path);
}

/* A CPU-only bundle: hip and cuda say the bundle lacks their code object, whatever the machine. */
static void test_bundle_without_gpu_code(void) {
  fake_bundle f;
  fake_bundle_init(&f, false);
  tk_session_options o;
  tk_session_options_default(&o);
  tk_backend_choice c;
  o.device = TK_DEVICE_HIP;
  CHECK_ERR(tk_backend_select(&f.b, &o, &c), "no amdgcn code object");
  o.device = TK_DEVICE_CUDA;
  CHECK_ERR(tk_backend_select(&f.b, &o, &c), "no nvptx code object");
  unlink(f.code_path);
}

/* ---- Code object selection (pure) ----------------------------------------------------------- */

static void test_arch_strip(void) {
  char out[64];
  tk_gpu_arch_strip("gfx90a:sramecc+:xnack-", out, sizeof out);
  CHECK(!strcmp(out, "gfx90a"));
  tk_gpu_arch_strip("gfx1030", out, sizeof out);
  CHECK(!strcmp(out, "gfx1030"));
  tk_gpu_arch_strip("gfx942:xnack+", out, 4);
  CHECK(!strcmp(out, "gfx"));
  tk_gpu_arch_strip("", out, sizeof out);
  CHECK(!strcmp(out, ""));
}

enum { HIP_5_2 = 50221153, HIP_6_2 = 60241134 }; /* hipRuntimeGetVersion values */

static void test_hip_select(void) {
  fake_bundle f;
  fake_bundle_init(&f, true);
  const tk_bundle_target *t = NULL;
  /* the example: the device is not in the bundle */
  tk_status s =
      tk_hip_select_code(f.t, f.b.n_targets, "gfx1030", "AMD Radeon RX 6800", HIP_5_2, &t);
  CHECK(tk_status_code_of(s) == TK_UNAVAILABLE);
  CHECK_MSG(
      strstr(tk_status_message(s), "bundle has gfx90a (cov4), gfx942 (cov5); device is gfx1030"),
      "%s", tk_status_message(s));
  CHECK_MSG(strstr(tk_status_message(s), "recompile"), "%s", tk_status_message(s));
  CHECK(t == NULL);
  tk_status_free(s);
  /* match */
  CHECK_OK(tk_hip_select_code(f.t, f.b.n_targets, "gfx90a", NULL, HIP_5_2, &t));
  CHECK(t == &f.t[0]);
  CHECK_OK(tk_hip_select_code(f.t, f.b.n_targets, "gfx942", NULL, HIP_6_2, &t));
  CHECK(t == &f.t[1]);
  /* the arch matches but ROCm 5 cannot load COV5 (docs/toolchain.md §1): the runtime side */
  s = tk_hip_select_code(f.t, f.b.n_targets, "gfx942", NULL, HIP_5_2, &t);
  CHECK(tk_status_code_of(s) == TK_UNAVAILABLE);
  const char *m = tk_status_message(s);
  CHECK_MSG(strstr(m, "device is gfx942") && strstr(m, "5.2") && strstr(m, "version 4"), "%s", m);
  tk_status_free(s);
  /* a device string carrying feature suffixes must be stripped by the caller, not matched */
  CHECK_ERR(tk_hip_select_code(f.t, f.b.n_targets, "gfx90a:xnack-", NULL, HIP_5_2, &t),
            "device is gfx90a:xnack-");
  CHECK(tk_hip_max_code_object_version(HIP_5_2) == 4);
  CHECK(tk_hip_max_code_object_version(HIP_6_2) == 5);
  unlink(f.code_path);
}

static void test_ptx_select(void) {
  fake_bundle f;
  fake_bundle_init(&f, true);
  const tk_bundle_target *t = NULL;
  CHECK_OK(tk_cuda_select_ptx(f.t, f.b.n_targets, 9, 0, NULL, &t));
  CHECK(t && !strcmp(t->arch, "sm_90"));
  CHECK_OK(tk_cuda_select_ptx(f.t, f.b.n_targets, 8, 6, NULL, &t));
  CHECK(t && !strcmp(t->arch, "sm_80"));
  CHECK_OK(tk_cuda_select_ptx(f.t, f.b.n_targets, 12, 0, NULL, &t)); /* sm_120: newest PTX */
  CHECK(t && !strcmp(t->arch, "sm_90"));
  tk_status s = tk_cuda_select_ptx(f.t, f.b.n_targets, 7, 5, "Tesla T4", &t);
  const char *m = tk_status_message(s);
  CHECK(tk_status_code_of(s) == TK_UNAVAILABLE && t == NULL);
  CHECK_MSG(strstr(m, "bundle has sm_80, sm_90; device is sm_75") && strstr(m, "Tesla T4") &&
                strstr(m, "7.5"),
            "%s", m);
  tk_status_free(s);
  /* arch-specific PTX (sm_90a) runs on exactly 9.0 */
  f.t[3].arch = "sm_90a";
  CHECK_OK(tk_cuda_select_ptx(f.t, f.b.n_targets, 9, 0, NULL, &t));
  CHECK(t && !strcmp(t->arch, "sm_90a"));
  CHECK_OK(tk_cuda_select_ptx(f.t, f.b.n_targets, 10, 0, NULL, &t));
  CHECK(t && !strcmp(t->arch, "sm_80"));
  unlink(f.code_path);
}

/* ---- Kernel arguments (docs/abi.md "GPU targets") ----------------------------------------- */

static uint64_t load_u64(const void *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static int32_t load_i32(const void *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void test_kernargs(void) {
  static tk_gpu_kernargs k; /* 4 KB: not on the stack twice */
  const uint64_t ptrs[3] = {0x7f0000001000u, 0x7f0000002040u, 0xdeadbeef00u};
  CHECK_OK(tk_gpu_kernargs_pack(3, ptrs, 33, 48, &k));
  const char *base = (const char *)k.block;
  CHECK(k.size == 32); /* 8 * nargs + 8 */
  for (int i = 0; i < 3; i++) {
    CHECK(load_u64(base + 8 * i) == ptrs[i]);
    CHECK(k.params[i] == base + 8 * i);
    CHECK(load_u64(k.params[i]) == ptrs[i]);
  }
  CHECK(load_i32(base + 24) == 33 && load_i32(base + 28) == 48);
  CHECK(k.params[3] == base + 24 && k.params[4] == base + 28);
  CHECK(load_i32(k.params[3]) == 33 && load_i32(k.params[4]) == 48);
  CHECK_OK(tk_gpu_kernargs_pack(0, ptrs, 1, 16, &k));
  CHECK(k.size == 8 && load_i32(base) == 1 && load_i32(base + 4) == 16);
  CHECK_ERR(tk_gpu_kernargs_pack(TK_GPU_MAX_ARGS + 1, ptrs, 1, 16, &k), "pointers");
  CHECK_ERR(tk_gpu_kernargs_pack(-1, ptrs, 1, 16, &k), "pointers");
}

/* ---- The shared buffer table over host memory ---------------------------------------------- */

typedef struct host_core {
  tk_gpu_core core;
  int live;       /* allocations not yet freed */
  int fail_after; /* the allocation that fails (1-based), 0 = none */
  int allocs;
} host_core;

static tk_status host_alloc(tk_gpu_core *c, int64_t bytes, uint64_t *out) {
  host_core *h = (host_core *)c;
  if (h->fail_after && ++h->allocs == h->fail_after)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "stand-in device is full");
  unsigned char *p = malloc((size_t)bytes + 1);
  if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  memset(p, 0xAB, (size_t)bytes + 1); /* garbage the alloc must not leave behind ... */
  memset(p, 0, (size_t)bytes);        /* ... zero-filled, as the ops contract says */
  h->live++;
  *out = (uint64_t)(uintptr_t)p;
  return TK_STATUS_OK;
}
static void host_free(tk_gpu_core *c, uint64_t ptr) {
  ((host_core *)c)->live--;
  free((void *)(uintptr_t)ptr);
}
static tk_status host_write(tk_gpu_core *c, uint64_t dst, const void *src, int64_t size) {
  (void)c;
  memcpy((void *)(uintptr_t)dst, src, (size_t)size);
  return TK_STATUS_OK;
}
static tk_status host_read(tk_gpu_core *c, void *dst, uint64_t src, int64_t size) {
  (void)c;
  memcpy(dst, (const void *)(uintptr_t)src, (size_t)size);
  return TK_STATUS_OK;
}
static const tk_gpu_memory_ops host_memory = {host_alloc, host_free, host_write, host_read};
static const tk_launcher_vtable host_vtable = {.kind = "host-stand-in"};

static void test_buffer_table(void) {
  host_core h = {.core = {.base = {.vt = &host_vtable, .schedule = "gpu"}, .mem = &host_memory}};
  tk_launcher *l = &h.core.base;
  const int64_t bytes[3] = {16, 0, 8};
  CHECK_OK(tk_gpu_buffers_create(l, 3, bytes));
  CHECK(h.live == 3);
  float got[4] = {1, 1, 1, 1}, put[2] = {2.5f, -3.0f};
  CHECK_OK(tk_gpu_buffer_read(l, 0, 0, got, 16));
  CHECK(got[0] == 0 && got[3] == 0);
  CHECK_OK(tk_gpu_buffer_write(l, 0, 8, put, 8));
  CHECK_OK(tk_gpu_buffer_read(l, 0, 0, got, 16));
  CHECK(got[0] == 0 && got[1] == 0 && got[2] == 2.5f && got[3] == -3.0f);
  CHECK_ERR(tk_gpu_buffer_write(l, 0, 12, put, 8), "outside its 16 bytes");
  CHECK_ERR(tk_gpu_buffer_read(l, 3, 0, got, 4), "buffer id 3");
  CHECK_ERR(tk_gpu_buffer_read(l, 0, -4, got, 4), "outside");
  CHECK_OK(tk_gpu_buffer_read(l, 1, 0, got, 0)); /* an empty buffer reads nothing */
  CHECK(tk_gpu_buffer_host(l, 0) == NULL);

  /* launch preparation: buffer ids become device addresses at the ABI offsets */
  static tk_gpu_launch g;
  const int32_t ids[3] = {2, 0, 2};
  tk_launch_args a = {.kernel = 0,
                      .name = "k",
                      .nargs = 3,
                      .buffers = ids,
                      .B = 17,
                      .Bp = 32,
                      .grid = 5,
                      .workgroup_size = 256};
  CHECK_OK(tk_gpu_launch_prepare(&h.core, &a, &g));
  CHECK(g.grid == 5 && g.block == 256 && g.args.size == 32);
  CHECK(load_u64(g.args.params[0]) == h.core.ptrs[2] &&
        load_u64(g.args.params[1]) == h.core.ptrs[0]);
  CHECK(load_i32(g.args.params[3]) == 17 && load_i32(g.args.params[4]) == 32);
  tk_launch_args bad = a;
  bad.workgroup_size = 0;
  CHECK_ERR(tk_gpu_launch_prepare(&h.core, &bad, &g), "out of range");
  bad = a;
  bad.grid = (int64_t)1 << 31;
  bad.workgroup_size = 2;
  CHECK_ERR(tk_gpu_launch_prepare(&h.core, &bad, &g), "2^32");
  const int32_t bad_ids[1] = {7};
  bad = a;
  bad.nargs = 1;
  bad.buffers = bad_ids;
  CHECK_ERR(tk_gpu_launch_prepare(&h.core, &bad, &g), "buffer 7");
  bad = a;
  bad.name = NULL;
  CHECK_ERR(tk_gpu_launch_prepare(&h.core, &bad, &g), "no name");

  /* the kernel cache is keyed by index and checked by name */
  int fn_a, fn_b;
  CHECK(tk_gpu_kernel_cached(&h.core, &a) == NULL);
  CHECK_OK(tk_gpu_kernel_remember(&h.core, &a, &fn_a));
  CHECK(tk_gpu_kernel_cached(&h.core, &a) == &fn_a);
  tk_launch_args other = a;
  other.name = "k2";
  CHECK(tk_gpu_kernel_cached(&h.core, &other) == NULL);
  other.kernel = 4;
  CHECK_OK(tk_gpu_kernel_remember(&h.core, &other, &fn_b));
  CHECK(tk_gpu_kernel_cached(&h.core, &other) == &fn_b &&
        tk_gpu_kernel_cached(&h.core, &a) == &fn_a);

  /* a failed create frees everything, including the earlier set */
  h.fail_after = 2;
  h.allocs = 0;
  CHECK_ERR(tk_gpu_buffers_create(l, 3, bytes), "buffer 1 of 3");
  CHECK(h.live == 0 && h.core.nbuffers == 0);
  const int64_t negative[1] = {-8};
  h.fail_after = 0;
  CHECK_ERR(tk_gpu_buffers_create(l, 1, negative), "invalid");
  CHECK(h.live == 0);
  CHECK_OK(tk_gpu_buffers_create(l, 3, bytes));
  tk_gpu_core_release(&h.core);
  CHECK(h.live == 0 && h.core.kernels == NULL);
}

/* ---- cuda_backend.c against the stand-in driver --------------------------------------------- */

typedef int (*fake_counters_fn)(int *live, int *launches, int *contexts, int *modules);

static void test_fake_cuda(void) {
  fake_bundle f;
  fake_bundle_init(&f, true);
  fake_bundle_set_code(&f, "//\n// Generated by a test\n//\n.version 7.0\n.target sm_80\n");
  tk_backend_choice c = {0};
  setenv("FAKE_CUDA_CC", "75", 1);
  tk_status s = tk_cuda_backend_create(&f.b, NULL, &c);
  CHECK_MSG(tk_status_code_of(s) == TK_UNAVAILABLE &&
                strstr(tk_status_message(s), "device is sm_75 (Fake GPU"),
            "%s", tk_status_message(s));
  tk_status_free(s);
  setenv("FAKE_CUDA_CC", "86", 1);
  CHECK_OK(tk_cuda_backend_create(&f.b, NULL, &c));
  void *dl = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  fake_counters_fn counters = dl ? (fake_counters_fn)dlsym(dl, "fake_cuda_counters") : NULL;
  CHECK_MSG(counters != NULL, "the stand-in libcuda.so.1 is not the one loaded");
  if (!c.launcher || !counters) return;
  printf("cuda on the stand-in driver: %s\n", c.device);
  tk_launcher *l = c.launcher;
  CHECK(!strcmp(tk_launcher_kind(l), "cuda") && !strcmp(tk_launcher_schedule(l), "gpu"));
  CHECK_MSG(strstr(c.device, "sm_86") && strstr(c.device, "PTX sm_80"), "%s", c.device);
  const int64_t bytes[3] = {16, 0, 8};
  CHECK_OK(tk_launcher_buffers_create(l, 3, bytes));
  float got[4] = {1, 1, 1, 1}, put[2] = {4.0f, 5.0f};
  CHECK_OK(tk_launcher_buffer_read(l, 0, 0, got, 16));
  CHECK(got[0] == 0 && got[1] == 0 && got[2] == 0 && got[3] == 0);
  CHECK_OK(tk_launcher_buffer_write(l, 2, 0, put, 8));
  CHECK_OK(tk_launcher_buffer_read(l, 2, 4, got, 4));
  CHECK(got[0] == 5.0f);
  const int32_t ids[2] = {0, 2};
  tk_launch_args a = {.kernel = 0,
                      .name = "moe_gate",
                      .nargs = 2,
                      .buffers = ids,
                      .B = 3,
                      .Bp = 16,
                      .grid = 3,
                      .workgroup_size = 64};
  CHECK_OK(tk_launcher_launch(l, &a));
  CHECK_OK(tk_launcher_launch(l, &a)); /* cached function */
  a.grid = 0;
  CHECK_OK(tk_launcher_launch(l, &a)); /* nothing to run */
  tk_launch_args missing = a;
  missing.kernel = 1;
  missing.name = "missing";
  missing.grid = 1;
  CHECK_ERR(tk_launcher_launch(l, &missing), "cuModuleGetFunction(\"missing\"");
  int live = -1, launches = -1, contexts = -1, modules = -1;
  counters(&live, &launches, &contexts, &modules);
  CHECK(live == 3 && launches == 2 && contexts == 1 && modules == 1);
  tk_launcher_destroy(l);
  counters(&live, &launches, &contexts, &modules);
  CHECK_MSG(live == 0 && contexts == 0 && modules == 0,
            "after destroy: %d buffers, %d contexts, "
            "%d modules",
            live, contexts, modules);
  /* a PTX text the JIT rejects: its log is in the message */
  fake_bundle_set_code(&f, "not ptx at all");
  CHECK_ERR(tk_cuda_backend_create(&f.b, NULL, &c), "JIT log: ptxas fatal: not PTX");
  counters(&live, &launches, &contexts, &modules);
  CHECK(contexts == 0 && modules == 0);
  /* the PTX must carry the bundle's arch fingerprint, checked before the JIT */
  f.b.fingerprint = "0123456789abcdef";
  fake_bundle_set_code(&f, ".version 7.0\n.target sm_80\n");
  CHECK_ERR(tk_cuda_backend_create(&f.b, NULL, &c), "no \"// tk_model_fingerprint \" line");
  fake_bundle_set_code(&f, "// tk_model_fingerprint fedcba9876543210\n.version 7.0\n");
  CHECK_ERR(tk_cuda_backend_create(&f.b, NULL, &c),
            "compiled for arch fingerprint fedcba9876543210, the bundle's is 0123456789abcdef");
  counters(&live, &launches, &contexts, &modules);
  CHECK(modules == 0);
  fake_bundle_set_code(&f, "// tk_model_fingerprint 0123456789abcdef\n.version 7.0\n");
  CHECK_OK(tk_cuda_backend_create(&f.b, NULL, &c));
  CHECK_MSG(c.host == NULL, "an entry without a stub of its own gave one");
  tk_launcher_destroy(c.launcher);
  /* the entry chosen (sm_80 for this sm_86) drives the launcher with its own stub when it
   * has one: a further GPU tile set's (docs/abi.md "GPU tile sets"); sm_90's is not it */
  char stub[] = "stub bytes";
  f.t[2].host = (tk_bundle_file){"model_host.gpu-nvidia.so", stub, sizeof stub};
  f.t[3].host = (tk_bundle_file){"model_host.other.so", stub, sizeof stub};
  CHECK_OK(tk_cuda_backend_create(&f.b, NULL, &c));
  CHECK_MSG(c.host == &f.t[2].host, "the stub of the chosen PTX entry is not the one used");
  tk_launcher_destroy(c.launcher);
  dlclose(dl);
  unlink(f.code_path);
}

/* model.hsaco's bytes: every "tk_model_fingerprint=<fp>" (one per code object, binary data
 * around them) must be the bundle's; none at all is an old bundle. */
static tk_status check_hsaco(const char *bytes, size_t size, const char *want) {
  tk_bundle_target t = {.kind = TK_TARGET_KIND_AMDGCN,
                        .code = {"model.hsaco", (char *)bytes, size}};
  return tk_hip_check_fingerprint(&t, want);
}

static void test_hip_fingerprint(void) {
  static const char two_ok[] = "\x7f"
                               "ELF\0\0tk_model_fingerprint=0123456789abcdef\0\x01"
                               "\x7f"
                               "ELF\0tk_model_fingerprint=0123456789abcdef\0";
  static const char one_wrong[] = "\x7f"
                                  "ELF\0tk_model_fingerprint=0123456789abcdef\0"
                                  "\x7f"
                                  "ELF\0tk_model_fingerprint=fedcba9876543210\0";
  static const char none[] = "\x7f"
                             "ELF\0tk_model_fingerprint\0.rodata\0";
  static const char cut[] = "\x7f"
                            "ELF\0tk_model_fingerprint=0123456789ab";
  const char *fp = "0123456789abcdef";
  CHECK_OK(check_hsaco(two_ok, sizeof two_ok - 1, fp));
  CHECK_ERR(check_hsaco(one_wrong, sizeof one_wrong - 1, fp),
            "model.hsaco: code object compiled for arch fingerprint fedcba9876543210, the "
            "bundle's is 0123456789abcdef");
  CHECK_ERR(check_hsaco(none, sizeof none - 1, fp), "no \"tk_model_fingerprint=\" bytes");
  CHECK_ERR(check_hsaco(cut, sizeof cut - 1, fp), "no \"tk_model_fingerprint=\" bytes");
  CHECK_OK(check_hsaco(none, sizeof none - 1, NULL)); /* no fingerprint to check */
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--fake-cuda")) {
    test_fake_cuda();
    TEST_MAIN_END();
  }
  test_arch_strip();
  test_hip_select();
  test_hip_fingerprint();
  test_ptx_select();
  test_kernargs();
  test_buffer_table();
  test_bundle_without_gpu_code();
  test_no_gpu();
  TEST_MAIN_END();
}
