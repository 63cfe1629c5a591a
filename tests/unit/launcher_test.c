/* tests/unit/launcher_test.c — the CPU launcher pieces of libtkrt.
 *
 * - thread pool: for many (grid, threads) pairs every index of [0, grid) is run exactly once,
 *   chunks are contiguous and balanced; so in thousands of back-to-back runs (spinning
 *   workers) and in runs after a pause (sleeping workers);
 * - CPU levels: a made-up CPU lacking AVX2 is refused for x86-64-v3 naming AVX2, an unknown
 *   level ("x86-64-v9") is refused with the list of known ones, this CPU runs x86-64;
 * - the CPU launcher on a tiny code object built here with cc (a kernel that records which
 *   thread-independent block ids it ran, one that adds two buffers): buffers mapped by id,
 *   grids covered exactly once with 1 and 3 threads, buffer read/write bounds, a missing
 *   kernel symbol and a foreign tk_bundle_target refused, two launchers in one process.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cpu_features.h"
#include "runtime/thread_pool.h"
#include "test.h"
#include "tk/launch.h"

/* ---- thread pool ------------------------------------------------------------------------- */

typedef struct cover_ctx {
  atomic_int *hits;
  atomic_int calls;
} cover_ctx;

static void cover(void *p, int64_t begin, int64_t end) {
  cover_ctx *c = p;
  atomic_fetch_add(&c->calls, 1);
  for (int64_t i = begin; i < end; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void check_pool(void) {
  static const int64_t grids[] = {0, 1, 2, 3, 5, 15, 16, 17, 100, 1000, 4097};
  for (int threads = 1; threads <= 5; threads++) {
    tk_thread_pool *p = NULL;
    CHECK_OK(tk_thread_pool_create(threads, &p));
    if (!p) continue;
    for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
      int64_t n = grids[g];
      cover_ctx c = {.hits = calloc((size_t)n + 1, sizeof(atomic_int))};
      for (int rep = 0; rep < 3; rep++) tk_thread_pool_run(p, n, cover, &c);
      bool exact = true;
      for (int64_t i = 0; i < n; i++) exact &= atomic_load(&c.hits[i]) == 3;
      CHECK_MSG(exact, "grid %lld, %d threads: some index not run exactly once per launch",
                (long long)n, threads);
      /* one call for the whole grid on one thread, else one per index */
      int64_t calls = threads == 1 || n <= 1 ? (n > 0) : n;
      CHECK_MSG(atomic_load(&c.calls) == 3 * calls, "grid %lld, %d threads: %d calls, want %lld",
                (long long)n, threads, atomic_load(&c.calls), (long long)(3 * calls));
      free(c.hits);
    }
    tk_thread_pool_destroy(p);
  }
  tk_thread_pool *p = NULL;
  CHECK_ERR(tk_thread_pool_create(0, &p), "--threads 0");
  CHECK(p == NULL);
}

/* Back-to-back runs (the workers still spinning) and runs after a pause (the workers asleep):
 * every run sees all of its indices run once, none is lost or run twice. */
static void check_pool_wakeups(void) {
  enum { RUNS = 3000, N = 7 };
  for (int threads = 2; threads <= 3; threads++) {
    tk_thread_pool *p = NULL;
    CHECK_OK(tk_thread_pool_create(threads, &p));
    if (!p) continue;
    atomic_int hits[N] = {0};
    cover_ctx c = {.hits = hits};
    for (int run = 0; run < RUNS; run++) {
      if (run % 500 == 0) usleep(20000); /* longer than the spin: the workers sleep */
      tk_thread_pool_run(p, N, cover, &c);
    }
    bool exact = true;
    for (int i = 0; i < N; i++) exact &= atomic_load(&hits[i]) == RUNS;
    CHECK_MSG(exact, "%d threads: an index was not run exactly once in each of %d runs", threads,
              RUNS);
    CHECK(atomic_load(&c.calls) == RUNS * N);
    tk_thread_pool_destroy(p);
  }
}

/* Uneven items (sparse dispatch: an expert's rows fill only its first row blocks): the slow
 * first half must not all land on one thread, as a fixed first-half chunk would make them. */
typedef struct uneven_ctx {
  pthread_t ran_by[8];
} uneven_ctx;

static void uneven(void *p, int64_t begin, int64_t end) {
  uneven_ctx *c = p;
  for (int64_t i = begin; i < end; i++) {
    if (i < 4) usleep(50000);
    c->ran_by[i] = pthread_self();
  }
}

static void check_pool_uneven(void) {
  tk_thread_pool *p = NULL;
  CHECK_OK(tk_thread_pool_create(2, &p));
  if (!p) return;
  uneven_ctx c;
  tk_thread_pool_run(p, 8, uneven, &c);
  bool shared = false;
  for (int i = 1; i < 4; i++) shared |= !pthread_equal(c.ran_by[i], c.ran_by[0]);
  CHECK_MSG(shared, "2 threads: the 4 slow items of 8 all ran on one thread");
  tk_thread_pool_destroy(p);
}

/* ---- CPU levels -------------------------------------------------------------------------- */

static void check_levels(void) {
  uint64_t all = (1ull << TK_CPUF_COUNT_) - 1;
  CHECK_OK(tk_cpu_check_level_features("x86-64-v4", all));
  CHECK_ERR(tk_cpu_check_level_features("x86-64-v3", all & ~(1ull << TK_CPUF_AVX2)), "lacks AVX2");
  CHECK_ERR(tk_cpu_check_level_features("x86-64-v4", all & ~(1ull << TK_CPUF_AVX512VL)),
            "AVX512VL");
  CHECK_ERR(tk_cpu_check_level_features("x86-64-v3", all & ~(1ull << TK_CPUF_OS_YMM)), "YMM");
  CHECK_ERR(tk_cpu_check_level_features("x86-64-v2", 0), "lacks SSE3");
  CHECK_OK(tk_cpu_check_level_features("x86-64", 0));
  CHECK_ERR(tk_cpu_check_level("x86-64-v9"), "unknown CPU level 'x86-64-v9'");
  CHECK_ERR(tk_cpu_check_level("x86-64-v9"), "x86-64-v4");
  CHECK_OK(tk_cpu_check_level("x86-64"));
  /* this machine builds with -march defaults; what it has must be self-consistent */
  uint64_t have = tk_cpu_features_detect();
  CHECK(have & (1ull << TK_CPUF_SSE3));
  if (have & (1ull << TK_CPUF_AVX2)) CHECK(have & (1ull << TK_CPUF_AVX));
  tk_launcher *l = NULL;
  tk_cpu_launcher_options o = {.code_path = "/nonexistent.so", .cpu = "x86-64-v9", .threads = 1};
  CHECK_ERR(tk_cpu_launcher_create(&o, &l), "unknown CPU level"); /* refused before loading */
  CHECK(l == NULL);
}

/* ---- the CPU launcher on a hand-written code object ------------------------------------- */

static const char fake_kernels[] =
    "#include <stdint.h>\n"
    "const char tk_bundle_target[] = \"%s\";\n"
    "void count_blocks(void *const *args, int32_t B, int32_t Bp, int64_t begin, int64_t end) {\n"
    "  int32_t *hits = args[0];\n"
    "  for (int64_t b = begin; b < end; b++) __atomic_fetch_add(&hits[b], 1 + 0 * (B + Bp), __ATOMIC_RELAXED);\n"
    "}\n"
    "void add_rows(void *const *args, int32_t B, int32_t Bp, int64_t begin, int64_t end) {\n"
    "  const float *a = args[0], *b = args[1];\n"
    "  float *c = args[2];\n"
    "  (void)Bp;\n"
    "  for (int64_t r = begin; r < end; r++) c[r] = r < B ? a[r] + b[r] : -1.0f;\n"
    "}\n";

static char *build_fake(const char *dir, const char *target) {
  char src[4096], so[4096], cmd[9000];
  snprintf(src, sizeof src, "%s/fake_%s.c", dir, target);
  snprintf(so, sizeof so, "%s/fake_%s.so", dir, target);
  FILE *f = fopen(src, "w");
  fprintf(f, fake_kernels, target);
  fclose(f);
  snprintf(cmd, sizeof cmd, "cc -std=c17 -O1 -fPIC -shared -o %s %s", so, src);
  CHECK(system(cmd) == 0);
  unlink(src);
  return strdup(so);
}

static void run_counts(tk_launcher *l, int64_t grid) {
  int32_t count_buf[] = {0};
  tk_launch_args a = {.kernel = 0,
                      .name = "count_blocks",
                      .nargs = 1,
                      .buffers = count_buf,
                      .B = 1,
                      .Bp = 16,
                      .grid = grid,
                      .workgroup_size = 1};
  int64_t bytes[2] = {4 * (grid + 1), 64};
  CHECK_OK(tk_launcher_buffers_create(l, 2, bytes));
  CHECK_OK(tk_launcher_launch(l, &a));
  CHECK_OK(tk_launcher_launch(l, &a));
  int32_t *hits = calloc((size_t)grid + 1, 4);
  CHECK_OK(tk_launcher_buffer_read(l, 0, 0, hits, 4 * (grid + 1)));
  bool ok = hits[grid] == 0;
  for (int64_t i = 0; i < grid; i++) ok &= hits[i] == 2;
  CHECK_MSG(ok, "grid %lld not covered exactly once per launch", (long long)grid);
  free(hits);
}

static void run_add(tk_launcher *l) {
  float a[20], b[20], c[20];
  for (int i = 0; i < 20; i++) a[i] = (float)i, b[i] = 0.5f * (float)i;
  int64_t bytes[3] = {sizeof a, sizeof b, sizeof c};
  CHECK_OK(tk_launcher_buffers_create(l, 3, bytes));
  CHECK(((uintptr_t)tk_launcher_buffer_host(l, 0) & 63) == 0);
  CHECK_OK(tk_launcher_buffer_write(l, 0, 0, a, sizeof a));
  CHECK_OK(tk_launcher_buffer_write(l, 1, 0, b, sizeof b));
  int32_t ids[3] = {0, 1, 2};
  tk_launch_args x = {.kernel = 1,
                      .name = "add_rows",
                      .nargs = 3,
                      .buffers = ids,
                      .B = 17,
                      .Bp = 32,
                      .grid = 20,
                      .workgroup_size = 1};
  CHECK_OK(tk_launcher_launch(l, &x));
  CHECK_OK(tk_launcher_buffer_read(l, 2, 0, c, sizeof c));
  bool ok = true;
  for (int i = 0; i < 20; i++) ok &= c[i] == (i < 17 ? 1.5f * (float)i : -1.0f);
  CHECK(ok);
  CHECK_ERR(tk_launcher_buffer_read(l, 2, 4, c, sizeof c), "outside its 80 bytes");
  CHECK_ERR(tk_launcher_buffer_write(l, 3, 0, a, 4), "buffer id 3");
  int32_t bad[3] = {0, 1, 7};
  x.buffers = bad;
  CHECK_ERR(tk_launcher_launch(l, &x), "argument 2 is buffer 7");
  x.buffers = ids;
  x.kernel = 2;
  x.name = "no_such_kernel";
  CHECK_ERR(tk_launcher_launch(l, &x), "no kernel symbol 'no_such_kernel'");
}

static void check_cpu_launcher(void) {
  char dir[] = "/tmp/tk_launcher_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *so = build_fake(dir, "x86_64"), *simt = build_fake(dir, "x86_64-simt");
  char *foreign = build_fake(dir, "amdgcn");
  tk_launcher *l1 = NULL, *l3 = NULL, *ls = NULL, *lf = NULL;
  CHECK_OK(tk_cpu_launcher_create(
      &(tk_cpu_launcher_options){.code_path = so, .cpu = "x86-64", .threads = 1}, &l1));
  CHECK_OK(tk_cpu_launcher_create(&(tk_cpu_launcher_options){.code_path = so, .threads = 3}, &l3));
  CHECK_OK(
      tk_cpu_launcher_create(&(tk_cpu_launcher_options){.code_path = simt, .threads = 2}, &ls));
  CHECK_ERR(
      tk_cpu_launcher_create(&(tk_cpu_launcher_options){.code_path = foreign, .threads = 1}, &lf),
      "tk_bundle_target is 'amdgcn'");
  CHECK_ERR(tk_cpu_launcher_create(
                &(tk_cpu_launcher_options){.code_path = "/nonexistent.so", .threads = 1}, &lf),
            "cannot open /nonexistent.so");
  CHECK_ERR(tk_cpu_launcher_create(
                &(tk_cpu_launcher_options){
                    .code_path = so, .threads = 1, .fingerprint = "0123456789abcdef"},
                &lf),
            "no tk_model_fingerprint symbol");
  CHECK_ERR(tk_cpu_launcher_create(&(tk_cpu_launcher_options){.code_path = dir, .threads = 1}, &lf),
            "not a regular file (a directory)");
  if (l1 && l3 && ls) {
    CHECK(!strcmp(tk_launcher_schedule(l1), "cpu") && !strcmp(tk_launcher_schedule(ls), "gpu"));
    CHECK(!strcmp(tk_launcher_kind(l1), "cpu"));
    static const int64_t grids[] = {0, 1, 2, 3, 7, 64, 1001};
    for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
      run_counts(l1, grids[g]);
      run_counts(l3, grids[g]);
      run_counts(ls, grids[g]);
    }
    run_add(l1);
    run_add(l3);
  }
  tk_launcher_destroy(l1);
  tk_launcher_destroy(l3);
  tk_launcher_destroy(ls);
  tk_launcher_destroy(NULL);
  unlink(so);
  unlink(simt);
  unlink(foreign);
  rmdir(dir);
  free(so);
  free(simt);
  free(foreign);
}

int main(void) {
  check_pool();
  check_pool_wakeups();
  check_pool_uneven();
  check_levels();
  check_cpu_launcher();
  TEST_MAIN_END();
}
