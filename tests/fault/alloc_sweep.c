/* tests/fault/alloc_sweep.c — SQLite's malloc-failure loop over every hooked allocation
 * (tk/alloc.h) of two operations:
 *
 *   compile   tkc_compile of SWEEP_ARCH (below: nano's kinds of kernel — router, sparse
 *             dispatch, gathers, GEMMs with a column tail, norms, scatters, combine — for 2
 *             experts of depth 1; nano's 4 experts of depth 2 would repeat the same code,
 *             37,000 allocations against 22,000 with dense dispatch) for x86_64 (one CPU level,
 *             x86-64-v3: a second level would double the walk with the same pipeline) into a
 *             fresh directory
 *   session   tk_bundle_open + tk_weights_open + tk_session_create (cpu, 2 threads) + one
 *             forward of 3 rows + close, on a bundle (the default CPU levels, so the level
 *             entries, their stubs and the choice among them are swept) and checkpoint made
 *             beforehand
 *
 * For each allocation point N the N-th allocation fails once (transient), and for every
 * --persistent-every'th N from N on (persistent). The operation must then return a status
 * with code TK_RESOURCE_EXHAUSTED whose message says "out of memory" (OK only if the fault
 * never fired), not crash, not leak (LeakSanitizer checks every run in the sanitizer build),
 * and leave nothing behind: no bundle, no temp dir beside it, no linker temp dir.
 *
 * Design: fork at the allocation. A compile takes seconds (Z3, LLVM O3) and has thousands of
 * allocation points, so re-running it per point is out of the question. Each operation runs
 * once, in this process, with tk_alloc_fault_observe calling on_alloc before every hooked
 * allocation; there the process forks, and the child arms the fault at the very allocation
 * the parent is about to make. The child alone sees it fail; it unwinds, judges the status
 * and its directory, and leaves through exit() (so LeakSanitizer runs in it) with a verdict
 * code that the parent collects; the parent goes on with the allocation succeeding. A child
 * pays only for unwinding, never for the work before its failure point, and the walk ends
 * where the operation does. A compile child works in its own directory (a copy of the
 * parent's, made before the fork, and TMPDIR pointing into it): the compile writes only to
 * relative paths. A fork keeps only the calling thread, so at allocations made while other
 * threads run (the session's CPU workers) the point is noted instead, and after the
 * operation each such N gets a child forked beforehand that runs the whole operation with
 * allocation N armed. At most --jobs children (default 2) run at a time.
 *
 *   alloc_sweep [--compile] [--session] [--stride K] [--persistent-every P] [--jobs J] [--at N]
 *
 * --stride K fails only allocations 1, 1+K, 1+2K, ... (default 1: every one), and P·K apart
 * persistently (default P = 16); --at N fails
 * allocation N alone, transiently and persistently (to debug one point). TK_FAULT_TRACE=N
 * prints the stack of allocation N in its child (symbolised in sanitizer builds).
 */
#include <dirent.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compiler/tkc.h"
#include "model/arch.h"
#include "model/init_weights.h"
#include "tk/alloc.h"
#include "tk/runtime.h"

/* Weak: present in sanitizer builds only. */
void __sanitizer_print_stack_trace(void) __attribute__((weak));

/* ASan keeps freed memory in a quarantine (256 MB by default) that LeakSanitizer walks at
 * every child's exit; a small one makes each child several times cheaper. ASAN_OPTIONS
 * still overrides this. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=8"; }

enum { JOBS_MAX = 8, FAILURES_SHOWN = 40, SESSION_ROWS = 3, SESSION_COLS_MAX = 1024 };

/* A child's exit code. LeakSanitizer exits 23 (or aborts under abort_on_error). */
enum verdict {
  V_PASS = 0,
  V_OK_THOUGH_FAILED = 3, /* the operation succeeded although an allocation failed */
  V_WRONG_STATUS = 4,     /* an error, but not RESOURCE_EXHAUSTED naming out of memory */
  V_LEFTOVERS = 5,        /* files left in the work directory */
  V_SETUP = 7,            /* the child could not enter its directory */
};

typedef enum child_dir_kind { DIR_NONE, DIR_EMPTY, DIR_COPY } child_dir_kind;

typedef struct child {
  pid_t pid;
  uint64_t n;
  bool persistent;
} child;

typedef struct point {
  uint64_t n;
  bool persistent;
} point;

typedef struct operation {
  const char *name;
  tk_status (*run)(const void *input);
  const void *input;
  bool writes; /* children get their own directory */
} operation;

typedef struct sweep {
  const operation *op;
  char root[1024]; /* the temp root, absolute */
  uint64_t stride, persistent_every;
  int jobs;
  uint64_t trace_at; /* TK_FAULT_TRACE */
  uint64_t only;     /* --at N: fail allocation N alone (0 = all) */
  /* parent */
  atomic_uint_fast64_t points; /* allocations seen during the operation */
  uint64_t runs, persistent_runs, failures;
  child inflight[JOBS_MAX];
  int ninflight;
  pthread_mutex_t lock; /* guards deferred: other threads allocate too */
  point *deferred;      /* points reached while other threads ran */
  size_t ndeferred, cap_deferred;
  /* child */
  bool in_child;
  uint64_t child_n;
  bool child_persistent;
  char child_dir[PATH_MAX];
} sweep;

/* ---- files ------------------------------------------------------------------------------ */

static bool copy_file(const char *from, const char *to, mode_t mode) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  bool ok = in >= 0 && out >= 0;
  char buf[65536];
  for (ssize_t r; ok && (r = read(in, buf, sizeof buf)) != 0;)
    ok = r > 0 && write(out, buf, (size_t)r) == r;
  if (in >= 0) close(in);
  if (out >= 0) ok = close(out) == 0 && ok;
  return ok;
}

/* Copies the contents of directory `from` into the existing directory `to`: directories are
 * made, files hard-linked (a bundle's temp dir holds some 900 proof files, and the compile
 * never rewrites a file it has written, so the parent's and the child's stay independent). */
static bool copy_tree(const char *from, const char *to) {
  DIR *d = opendir(from);
  if (!d) return false;
  bool ok = true;
  for (struct dirent *e; ok && (e = readdir(d)) != NULL;) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s/%s", from, e->d_name);
    snprintf(b, sizeof b, "%s/%s", to, e->d_name);
    struct stat st;
    ok = lstat(a, &st) == 0;
    if (ok && S_ISDIR(st.st_mode))
      ok = mkdir(b, st.st_mode & 07777) == 0 && copy_tree(a, b);
    else if (ok)
      ok = link(a, b) == 0 || copy_file(a, b, st.st_mode & 07777);
  }
  closedir(d);
  return ok;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

static void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Writes the names in dir (one level) into out; true when there are none. */
static bool dir_empty(const char *dir, char *out, size_t size) {
  out[0] = '\0';
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(out, size, "(cannot open %.200s)", dir);
    return false;
  }
  size_t len = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    int w = snprintf(out + len, size - len, "%s%s", len ? " " : "", e->d_name);
    if (w > 0 && (size_t)w < size - len) len += (size_t)w;
  }
  closedir(d);
  return len == 0 && !out[0];
}

/* Threads in this process (/proc/self/stat field 20). */
static int thread_count(void) {
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  for (int field = 2; p && field < 20; field++) p = strchr(p + 1, ' ');
  return p ? atoi(p + 1) : -1;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_seconds(int who) {
  struct rusage u;
  getrusage(who, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* ---- children: the parent's side --------------------------------------------------------- */

static const char *verdict_text(int code) {
  switch (code) {
    case V_OK_THOUGH_FAILED: return "returned OK although an allocation failed";
    case V_WRONG_STATUS: return "wrong status";
    case V_LEFTOVERS: return "left files behind";
    case V_SETUP: return "child setup failed";
    case 1: return "sanitizer report above";
    case 23: return "leak (LeakSanitizer report above)";
    default: return "unexpected exit code";
  }
}

static void collect(sweep *w, const child *c, int st) {
  if (WIFEXITED(st) && WEXITSTATUS(st) == V_PASS) return;
  w->failures++;
  if (w->failures > FAILURES_SHOWN) return;
  const char *how = c->persistent ? "persistent" : "transient";
  if (WIFSIGNALED(st))
    fprintf(stderr, "FAIL %s: allocation %llu (%s): killed by signal %d (%s)\n", w->op->name,
            (unsigned long long)c->n, how, WTERMSIG(st), strsignal(WTERMSIG(st)));
  else
    fprintf(stderr, "FAIL %s: allocation %llu (%s): exit %d: %s\n", w->op->name,
            (unsigned long long)c->n, how, WEXITSTATUS(st), verdict_text(WEXITSTATUS(st)));
}

/* Waits for one child: any finished one, else the oldest. */
static void reap_one(sweep *w) {
  int st = 0, i = 0;
  for (; i < w->ninflight; i++)
    if (waitpid(w->inflight[i].pid, &st, WNOHANG) == w->inflight[i].pid) break;
  if (i == w->ninflight) {
    i = 0;
    while (waitpid(w->inflight[0].pid, &st, 0) < 0 && errno == EINTR) {}
  }
  child c = w->inflight[i];
  memmove(&w->inflight[i], &w->inflight[i + 1],
          (size_t)(w->ninflight - i - 1) * sizeof *w->inflight);
  w->ninflight--;
  collect(w, &c, st);
}

static void reap_all(sweep *w) {
  while (w->ninflight) reap_one(w);
}

/* Forks a child that will fail allocation n; returns true in the child. Its directory (for
 * operations that write) is made here, before the fork, so that the parent cannot move on
 * while it is copied. */
static bool spawn(sweep *w, uint64_t n, bool persistent, child_dir_kind dir) {
  while (w->ninflight >= w->jobs) reap_one(w);
  w->child_dir[0] = '\0';
  if (dir != DIR_NONE) {
    snprintf(w->child_dir, sizeof w->child_dir, "%s/c%llu%s", w->root, (unsigned long long)n,
             persistent ? "p" : "");
    if (mkdir(w->child_dir, 0755) != 0 || (dir == DIR_COPY && !copy_tree(".", w->child_dir))) {
      fprintf(stderr, "FAIL %s: cannot make %s\n", w->op->name, w->child_dir);
      remove_tree(w->child_dir);
      w->failures++;
      return false;
    }
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  while (pid < 0 && errno == EAGAIN && w->ninflight) {
    reap_one(w);
    pid = fork();
  }
  if (pid < 0) {
    fprintf(stderr, "FAIL %s: fork: %s\n", w->op->name, strerror(errno));
    if (dir != DIR_NONE) remove_tree(w->child_dir);
    w->failures++;
    return false;
  }
  if (pid == 0) {
    tk_alloc_fault_observe(NULL, NULL);
    w->in_child = true;
    w->child_n = n;
    w->child_persistent = persistent;
    w->ninflight = 0;
    if (w->child_dir[0] && (chdir(w->child_dir) != 0 || setenv("TMPDIR", w->child_dir, 1) != 0)) {
      fprintf(stderr, "  cannot enter %s\n", w->child_dir);
      exit(V_SETUP);
    }
    return true;
  }
  w->inflight[w->ninflight++] = (child){pid, n, persistent};
  w->runs++;
  w->persistent_runs += persistent;
  return false;
}

/* ---- children: the child's side ----------------------------------------------------------- */

static void child_say(const sweep *w, const char *fmt, const char *detail) {
  fprintf(stderr, "  %s allocation %llu (%s): ", w->op->name, (unsigned long long)w->child_n,
          w->child_persistent ? "persistent" : "transient");
  fprintf(stderr, fmt, detail);
  fputc('\n', stderr);
}

/* Judges the operation's status and the work directory; never returns. */
static void child_finish(sweep *w, tk_status s) {
  bool fired = tk_alloc_fault_fired();
  tk_alloc_fault_disarm();
  tk_alloc_fault_observe(NULL, NULL);
  int v = V_PASS;
  if (!s && fired) {
    v = V_OK_THOUGH_FAILED;
    child_say(w, "%s", "OK although the allocation failed");
  } else if (s && (tk_status_code_of(s) != TK_RESOURCE_EXHAUSTED ||
                   !strstr(tk_status_message(s), "out of memory"))) {
    v = V_WRONG_STATUS;
    char msg[700];
    snprintf(msg, sizeof msg, "%s: %.500s (%s)", tk_status_code_name(tk_status_code_of(s)),
             tk_status_message(s), tk_status_location(s));
    child_say(w, "expected RESOURCE_EXHAUSTED naming out of memory, got %s", msg);
  }
  tk_status_free(s);
  char left[1024];
  if (w->child_dir[0] && !dir_empty(w->child_dir, left, sizeof left)) {
    child_say(w, "left behind: %s", left);
    if (v == V_PASS) v = V_LEFTOVERS;
  }
  if (w->child_dir[0]) remove_tree(w->child_dir);
  exit(v); /* not _exit: LeakSanitizer checks at exit */
}

/* TK_FAULT_TRACE: the stack of the allocation that fails, symbolised in sanitizer builds, else
 * as return addresses (addr2line -f -e BINARY, or the library with its load offset). */
static void print_stack(void) {
  if (__sanitizer_print_stack_trace) {
    __sanitizer_print_stack_trace();
    return;
  }
  void *frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), 2);
}

/* TK_FAULT_TRACE in a re-run child: the stack of the allocation that fails. */
static uint64_t trace_target;
static void trace_observer(void *ctx) {
  (void)ctx;
  if (tk_alloc_count() + 1 == trace_target) print_stack();
}

/* ---- the sweep ---------------------------------------------------------------------------- */

static bool wanted(const sweep *w, uint64_t n, bool persistent) {
  if (w->only) return n == w->only;
  if (persistent) return w->persistent_every && (n - 1) % (w->stride * w->persistent_every) == 0;
  return (n - 1) % w->stride == 0;
}

static void defer(sweep *w, uint64_t n, bool persistent) {
  pthread_mutex_lock(&w->lock);
  if (w->ndeferred == w->cap_deferred) {
    w->cap_deferred = w->cap_deferred ? 2 * w->cap_deferred : 64;
    w->deferred = realloc(w->deferred, w->cap_deferred * sizeof *w->deferred);
    if (!w->deferred) abort(); /* test harness: libc's allocator, not the hooked one */
  }
  w->deferred[w->ndeferred++] = (point){n, persistent};
  pthread_mutex_unlock(&w->lock);
}

/* Before every hooked allocation of the operation: fork the children that fail this one. */
static void on_alloc(void *ctx) {
  sweep *w = ctx;
  uint64_t n = atomic_fetch_add(&w->points, 1) + 1;
  for (int pass = 0; pass < 2; pass++) {
    bool persistent = pass == 1;
    if (!wanted(w, n, persistent)) continue;
    if (thread_count() != 1) {
      defer(w, n, persistent);
      continue;
    }
    if (spawn(w, n, persistent, w->op->writes ? DIR_COPY : DIR_NONE)) {
      if (w->trace_at == n) print_stack();
      tk_alloc_fault_arm(1, persistent);
      return; /* the allocation being made now fails, in this child only */
    }
  }
}

/* Children forked before the operation, for the points reached while threads ran. */
static void rerun_deferred(sweep *w) {
  for (size_t i = 0; i < w->ndeferred; i++) {
    point p = w->deferred[i];
    if (!spawn(w, p.n, p.persistent, w->op->writes ? DIR_EMPTY : DIR_NONE)) continue;
    if (w->trace_at == p.n) {
      trace_target = tk_alloc_count() + p.n;
      tk_alloc_fault_observe(trace_observer, NULL);
    }
    tk_alloc_fault_arm(p.n, p.persistent);
    child_finish(w, w->op->run(w->op->input));
  }
}

/* Runs op once with every wanted allocation failing in a child of its own. */
static bool sweep_run(sweep *w, const operation *op) {
  w->op = op;
  atomic_store(&w->points, 0);
  w->runs = w->persistent_runs = w->failures = 0;
  w->ndeferred = 0;
  double t0 = now(), self0 = cpu_seconds(RUSAGE_SELF), children0 = cpu_seconds(RUSAGE_CHILDREN);
  uint64_t before = tk_alloc_count();
  tk_alloc_fault_observe(on_alloc, w);
  tk_status s = op->run(op->input);
  if (w->in_child) child_finish(w, s);
  tk_alloc_fault_observe(NULL, NULL);
  uint64_t count = tk_alloc_count() - before, points = atomic_load(&w->points);
  if (s)
    fprintf(stderr, "FAIL %s: the run without faults failed: %s\n", op->name, tk_status_message(s));
  bool ok = !s;
  tk_status_free(s);
  rerun_deferred(w);
  reap_all(w);
  if (count != points) {
    fprintf(stderr, "FAIL %s: %llu allocations, but the observer saw %llu\n", op->name,
            (unsigned long long)count, (unsigned long long)points);
    ok = false;
  }
  if (w->only && !w->runs) {
    fprintf(stderr, "FAIL %s: --at %llu: the operation has %llu allocations\n", op->name,
            (unsigned long long)w->only, (unsigned long long)count);
    ok = false;
  }
  double self = cpu_seconds(RUSAGE_SELF) - self0,
         children = cpu_seconds(RUSAGE_CHILDREN) - children0;
  printf("%s: %llu allocation points; %llu failed transiently (stride %llu), %llu persistently "
         "(every %llu); %zu of these runs re-ran the operation (threads were running); "
         "%llu failures\n",
         op->name, (unsigned long long)count, (unsigned long long)(w->runs - w->persistent_runs),
         (unsigned long long)w->stride, (unsigned long long)w->persistent_runs,
         (unsigned long long)w->persistent_every, w->ndeferred, (unsigned long long)w->failures);
  /* CPU time besides wall time: the machine may be shared. */
  printf("%s: %.1f s; CPU %.1f s here, %.1f s in the children (%.1f ms each)\n", op->name,
         now() - t0, self, children, w->runs ? children * 1e3 / (double)w->runs : 0.0);
  return ok && !w->failures;
}

/* ---- the operations ----------------------------------------------------------------------- */

typedef struct compile_input {
  const char *arch_path;
  const char *cpu; /* --cpu (NULL = the default levels) */
} compile_input;

/* The arch the compile sweep compiles (see the top of this file), written into the sweep's
 * root. */
static const char SWEEP_ARCH[] =
    "{\"size\": \"Custom\", \"input_dim\": 12, \"hidden_dim\": 40, \"output_dim\": 6,\n"
    " \"n_experts\": 2, \"top_k\": 1, \"expert_depth\": 1, \"seed\": 7}\n";

static bool write_sweep_arch(const char *path) {
  FILE *f = fopen(path, "w");
  bool ok = f && fputs(SWEEP_ARCH, f) >= 0;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) fprintf(stderr, "FAIL: cannot write %s: %s\n", path, strerror(errno));
  return ok;
}

/* The compile under test, from the current directory into ./bundle. */
static tk_status run_compile(const void *input) {
  const compile_input *in = input;
  tkc_options o;
  tkc_options_default(&o);
  o.arch_path = in->arch_path;
  if (in->cpu) o.cpu = in->cpu;
  o.out_dir = "bundle";
  o.targets = "x86_64";
  o.quiet = true;
  return tkc_compile(&o);
}

typedef struct session_input {
  const char *bundle, *checkpoint;
  float x[SESSION_ROWS * SESSION_COLS_MAX];
} session_input;

static tk_status run_session(const void *input) {
  const session_input *in = input;
  tk_bundle *b = NULL;
  tk_weights *wt = NULL;
  tk_session *se = NULL;
  tk_session_options so;
  tk_session_options_default(&so);
  so.device = TK_DEVICE_CPU;
  so.threads = 2;
  so.quiet = true;
  float *logits = malloc(sizeof(float[SESSION_ROWS * SESSION_COLS_MAX]));
  float *router = malloc(sizeof(float[SESSION_ROWS * SESSION_COLS_MAX]));
  tk_status s = logits && router ? tk_bundle_open(in->bundle, &b)
                                 : tk_status_make(TK_INTERNAL, "alloc_sweep: malloc failed");
  if (!s) {
    const tk_bundle_info *info = tk_bundle_get_info(b);
    if (info->in_dim > SESSION_COLS_MAX || info->out_dim > SESSION_COLS_MAX ||
        info->n_experts > SESSION_COLS_MAX)
      s = tk_status_make(TK_INTERNAL, "alloc_sweep: the model is wider than %d", SESSION_COLS_MAX);
  }
  if (!s) s = tk_weights_open(b, in->checkpoint, NULL, &wt);
  if (!s) s = tk_session_create(b, wt, &so, &se);
  if (!s) s = tk_session_forward(se, in->x, SESSION_ROWS, logits, router);
  tk_session_free(se);
  tk_weights_close(wt);
  tk_bundle_close(b);
  free(logits);
  free(router);
  return s;
}

/* The checkpoint, and features in [-2, 2) (an LCG). */
static bool make_session_input(const char *root, const char *arch_path, session_input *in,
                               char *ckpt, size_t n) {
  tk_arch arch;
  snprintf(ckpt, n, "%s/nano.tkp1", root);
  tk_status s = tk_arch_load(arch_path, &arch);
  if (!s) s = tk_arch_init_checkpoint_write(&arch, ckpt, arch.seed, 0, NULL, NULL);
  if (s) fprintf(stderr, "FAIL: cannot make the checkpoint: %s\n", tk_status_message(s));
  tk_status_free(s);
  uint64_t state = 42;
  for (size_t i = 0; i < sizeof in->x / sizeof in->x[0]; i++) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    in->x[i] = (float)((double)(state >> 40) / (double)(1 << 24) * 4.0 - 2.0);
  }
  in->checkpoint = ckpt;
  return !s;
}

/* A directory to run a compile in, with TMPDIR (the linker's temp dirs) outside it. */
static bool enter_work_dir(const char *root, const char *name) {
  char dir[1200], tmp[1200];
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  snprintf(tmp, sizeof tmp, "%s/%s-tmp", root, name);
  if (mkdir(dir, 0755) == 0 && mkdir(tmp, 0755) == 0 && chdir(dir) == 0 &&
      !setenv("TMPDIR", tmp, 1))
    return true;
  fprintf(stderr, "FAIL: cannot set up %s: %s\n", dir, strerror(errno));
  return false;
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  sweep w = {.stride = 1, .persistent_every = 16, .jobs = 2, .lock = PTHREAD_MUTEX_INITIALIZER};
  bool do_compile = false, do_session = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--compile"))
      do_compile = true;
    else if (!strcmp(argv[i], "--session"))
      do_session = true;
    else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
      w.stride = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--persistent-every") && i + 1 < argc)
      w.persistent_every = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
      w.jobs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--at") && i + 1 < argc)
      w.only = strtoull(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: alloc_sweep [--compile] [--session] [--stride K] "
                      "[--persistent-every P] [--jobs J] [--at N]\n");
      return 2;
    }
  }
  if (!do_compile && !do_session) do_compile = do_session = true;
  if (w.stride < 1 || w.jobs < 1 || w.jobs > JOBS_MAX) {
    fprintf(stderr, "alloc_sweep: --stride >= 1, 1 <= --jobs <= %d\n", JOBS_MAX);
    return 2;
  }
  const char *trace = getenv("TK_FAULT_TRACE");
  w.trace_at = trace ? strtoull(trace, NULL, 10) : 0;

  char cwd[PATH_MAX], arch_path[PATH_MAX + 32], sweep_arch[1100], ckpt[1100], bundle[1100];
  if (!getcwd(cwd, sizeof cwd)) return 1;
  const char *src = getenv("TK_SOURCE_DIR");
  snprintf(arch_path, sizeof arch_path, "%s/models/nano.arch.json", src ? src : cwd);
  const char *tmpdir = getenv("TMPDIR");
  snprintf(w.root, sizeof w.root, "%s/tk-alloc-sweep-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
  if (!mkdtemp(w.root)) {
    fprintf(stderr, "alloc_sweep: mkdtemp %s: %s\n", w.root, strerror(errno));
    return 1;
  }
  session_input in = {.bundle = bundle};
  snprintf(sweep_arch, sizeof sweep_arch, "%s/sweep.arch.json", w.root);
  compile_input one_level = {sweep_arch, "x86-64-v3"}, levels = {arch_path, NULL};
  bool ok = true;
  if (do_compile) {
    operation op = {"compile", run_compile, &one_level, true};
    ok = write_sweep_arch(sweep_arch) && enter_work_dir(w.root, "compile") && sweep_run(&w, &op);
  }
  if (do_session) {
    /* A bundle compiled without the observer (nothing a child did can have touched it)
     * and the checkpoint. */
    snprintf(bundle, sizeof bundle, "%s/session/bundle", w.root);
    bool ready = enter_work_dir(w.root, "session");
    tk_status s = ready ? run_compile(&levels) : TK_STATUS_OK;
    if (s) fprintf(stderr, "FAIL session: compiling the bundle: %s\n", tk_status_message(s));
    ready = ready && !s && make_session_input(w.root, arch_path, &in, ckpt, sizeof ckpt);
    tk_status_free(s);
    operation op = {"session", run_session, &in, false};
    ok = ready && sweep_run(&w, &op) && ok;
  }
  if (chdir(cwd) != 0) ok = false;
  remove_tree(w.root);
  free(w.deferred);
  printf("alloc_sweep: %s\n", ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
}
