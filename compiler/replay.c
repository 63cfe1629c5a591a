/* compiler/replay.c — the solver replay of `tkc check-proofs` (compiler/replay.h): a pool of
 * at most `jobs` child processes (posix_spawnp), each writing its stdout and stderr into its
 * own file under `work`, read back once the child has exited.
 *
 * A child answers a batch of up to BATCH query files, concatenated into one file under `work`
 * with `(reset)` after each (SMT-LIB: back to the start state, so no declaration or assertion
 * reaches the next query): solver start-up was most of a run's time (tests/proofs/replay.sh
 * measured 325 s against 106 s). Each query keeps its own 60 s limit (z3 -t, cvc5
 * --tlimit-per). A batch whose output is not exactly one `unsat` line per file is run again
 * file by file, which names the file that fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/replay.h"
#include "runtime/fs.h"
#include "tk/alloc.h"

extern char **environ;

enum { MAX_JOBS = 64, MAX_SOLVERS = 2 };

enum { BATCH = 40, QUERY_LIMIT_S = 60 };

/* The command line of a solver for a file of `queries` queries (the whole process gets
 * their limits added up, plus start-up). */
static void solver_argv(const char *solver, const char *file, int queries, char limits[2][32],
                        const char *argv[5]) {
  bool z3 = !strcmp(solver, "z3");
  snprintf(limits[0], 32, z3 ? "-t:%d" : "--tlimit-per=%d", QUERY_LIMIT_S * 1000);
  snprintf(limits[1], 32, z3 ? "-T:%d" : "--tlimit=%d",
           (QUERY_LIMIT_S * queries + 10) * (z3 ? 1 : 1000));
  argv[0] = solver;
  argv[1] = limits[0];
  argv[2] = limits[1];
  argv[3] = file;
  argv[4] = NULL;
}

static bool on_path(const char *name) {
  const char *path = getenv("PATH");
  for (const char *p = path ? path : ""; *p; p += *p == ':') {
    size_t n = strcspn(p, ":");
    char full[4096];
    snprintf(full, sizeof full, "%.*s/%s", (int)n, p, name);
    if (access(full, X_OK) == 0) return true;
    p += n;
  }
  return false;
}

/* Splits "z3,cvc5" into names; returns their number. */
static int solver_list(const char *solvers, const char *out[MAX_SOLVERS]) {
  int n = 0;
  if (strstr(solvers, "z3")) out[n++] = "z3";
  if (strstr(solvers, "cvc5")) out[n++] = "cvc5";
  return n;
}

tk_status tkc_replay_solvers_present(const char *solvers) {
  const char *names[MAX_SOLVERS];
  int n = solver_list(solvers, names);
  for (int i = 0; i < n; i++)
    if (!on_path(names[i]))
      return tk_status_make(TK_UNAVAILABLE,
                            "%s not found on PATH (install it, or give --solvers=%s or "
                            "--no-replay)",
                            names[i], strcmp(names[i], "z3") ? "z3" : "cvc5");
  return TK_STATUS_OK;
}

typedef struct replay_slot {
  pid_t pid; /* 0: free */
  const char *solver;
  const char *const *names; /* the batch's files (names in dir) */
  int count;
  char file[4200]; /* the batch file the solver reads */
  char out[4200];
} replay_slot;

static tk_status spawn(replay_slot *slot, const char *file, int queries) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "posix_spawn_file_actions_init failed");
  int rc = posix_spawn_file_actions_addopen(&fa, 1, slot->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const char *argv[5];
  char limits[2][32];
  solver_argv(slot->solver, file, queries, limits, argv);
  if (!rc) rc = posix_spawnp(&slot->pid, slot->solver, &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) slot->pid = 0;
  return rc ? tk_status_make(TK_UNAVAILABLE, "cannot run %s: %s", slot->solver, strerror(rc))
            : TK_STATUS_OK;
}

/* Appends file dir/name and "(reset)" to out. */
static tk_status append_query(FILE *out, const char *dir, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *in = fopen(path, "rb");
  if (!in) return tk_status_make(TK_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
  bool bad = ferror(in);
  fclose(in);
  fputs("\n(reset)\n", out);
  return bad ? tk_status_make(TK_IO_ERROR, "cannot read %s", path) : TK_STATUS_OK;
}

/* Writes the batch file of slot k and starts the solver on it. */
static tk_status start(replay_slot *slot, int k, const char *solver, const char *dir,
                       const char *const *names, int count, const char *work) {
  slot->solver = solver;
  slot->names = names;
  slot->count = count;
  snprintf(slot->file, sizeof slot->file, "%s/batch.%d.smt2", work, k);
  snprintf(slot->out, sizeof slot->out, "%s/replay.%d.out", work, k);
  FILE *f = fopen(slot->file, "wb");
  if (!f) return tk_status_make(TK_IO_ERROR, "cannot write %s: %s", slot->file, strerror(errno));
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < count; i++) s = append_query(f, dir, names[i]);
  if (fclose(f) != 0 && !s) s = tk_status_make(TK_IO_ERROR, "cannot write %s", slot->file);
  return s ? s : spawn(slot, slot->file, count);
}

/* The first `cap` - 1 bytes of a solver's output file. */
static void read_output(const char *path, char *text, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(text, 1, cap - 1, f) : 0;
  if (f) fclose(f);
  text[n] = '\0';
}

static pid_t wait_child(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, 0)) < 0 && errno == EINTR) {}
  return pid;
}

/* Runs one query file alone (the batch it was in failed): TK_PROOF_FAILED unless unsat. */
static tk_status run_single(replay_slot *slot, const char *dir, const char *name) {
  char path[4200], text[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  TK_RETURN_IF_ERROR(spawn(slot, path, 1));
  int status;
  while (waitpid(slot->pid, &status, 0) < 0 && errno == EINTR) {}
  slot->pid = 0;
  read_output(slot->out, text, sizeof text);
  if (!strcmp(text, "unsat\n")) return TK_STATUS_OK;
  text[strcspn(text, "\n")] = '\0';
  return tk_status_make(TK_PROOF_FAILED, "%s: %s says '%s' (expected unsat)", path, slot->solver,
                        text);
}

/* True when text is exactly `count` lines "unsat". */
static bool all_unsat(const char *text, int count) {
  for (int i = 0; i < count; i++, text += 6)
    if (strncmp(text, "unsat\n", 6) != 0) return false;
  return *text == '\0';
}

/* Waits for one child; checks that it printed one "unsat" per file of its batch, else runs
 * the batch's files one by one to name the failure. */
static tk_status finish_one(replay_slot *slots, int nslots, const char *dir) {
  pid_t pid = wait_child();
  replay_slot *slot = NULL;
  for (int i = 0; i < nslots; i++)
    if (slots[i].pid && slots[i].pid == pid) slot = &slots[i];
  if (!slot) return tk_status_make(TK_INTERNAL, "waitpid: no solver child (%s)", strerror(errno));
  slot->pid = 0;
  char text[BATCH * 6 + 64];
  read_output(slot->out, text, sizeof text);
  if (all_unsat(text, slot->count)) return TK_STATUS_OK;
  for (int i = 0; i < slot->count; i++) TK_RETURN_IF_ERROR(run_single(slot, dir, slot->names[i]));
  text[strcspn(text, "\n")] = '\0';
  return tk_status_make(TK_PROOF_FAILED,
                        "%s: %s answered '%s...' for a batch of %d queries (from %s/%s), though "
                        "each alone is unsat",
                        slot->file, slot->solver, text, slot->count, dir, slot->names[0]);
}

static void reap_all(replay_slot *slots, int nslots) {
  for (int i = 0; i < nslots; i++)
    if (slots[i].pid) {
      int status;
      while (waitpid(slots[i].pid, &status, 0) < 0 && errno == EINTR) {}
      slots[i].pid = 0;
    }
}

static bool is_query(const char *name) {
  size_t n = strlen(name);
  return n > 5 && !strcmp(name + n - 5, ".smt2");
}

/* The *.smt2 names of dir, sorted (the batches do not depend on readdir's order). */
static tk_status list_queries(const char *dir, char ***out, size_t *count) {
  TK_RETURN_IF_ERROR(tk_fs_list_names(dir, out, count));
  size_t kept = 0;
  for (size_t i = 0; i < *count; i++) {
    if (is_query((*out)[i]))
      (*out)[kept++] = (*out)[i];
    else
      free((*out)[i]);
  }
  *count = kept;
  return TK_STATUS_OK;
}

tk_status tkc_replay_queries(const char *dir, const char *solvers, int jobs, const char *work) {
  const char *solver_names[MAX_SOLVERS];
  int nsolvers = solver_list(solvers, solver_names);
  char **names = NULL;
  size_t count = 0;
  TK_RETURN_IF_ERROR(list_queries(dir, &names, &count));
  replay_slot *slots = tk_calloc((size_t)jobs, sizeof *slots);
  if (!slots) {
    tk_fs_free_names(names, count);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  }
  tk_status s = TK_STATUS_OK;
  long runs = 0;
  int running = 0;
  for (size_t first = 0; !s && first < count; first += BATCH) {
    int n = (int)(count - first < BATCH ? count - first : BATCH);
    for (int k = 0; !s && k < nsolvers; k++) {
      if (running == jobs) {
        s = finish_one(slots, jobs, dir);
        running--;
      }
      int free_slot = 0;
      while (slots[free_slot].pid) free_slot++;
      if (!s)
        s = start(&slots[free_slot], free_slot, solver_names[k], dir,
                  (const char *const *)names + first, n, work);
      if (!s) running++, runs += n;
    }
  }
  for (; !s && running > 0; running--) s = finish_one(slots, jobs, dir);
  reap_all(slots, jobs);
  free(slots);
  tk_fs_free_names(names, count);
  if (!s)
    fprintf(stderr, "tkc check-proofs: %ld solver runs, every one unsat (%s)\n", runs, solvers);
  return s;
}
