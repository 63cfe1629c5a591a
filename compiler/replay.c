/* compiler/replay.c — the solver replay of `tkc check-proofs` (compiler/replay.h): a pool of
 * at most `jobs` child processes (posix_spawnp), each writing its stdout and stderr into its
 * own file under `work`, read back once the child has exited.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/replay.h"
#include "tk/alloc.h"

extern char **environ;

enum { MAX_JOBS = 64, MAX_SOLVERS = 2 };

/* The command line of a solver for one file. */
static void solver_argv(const char *solver, const char *file, const char *argv[4]) {
  bool z3 = !strcmp(solver, "z3");
  argv[0] = solver;
  argv[1] = z3 ? "-T:60" : "--tlimit=60000";
  argv[2] = file;
  argv[3] = NULL;
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
  char file[4200];
  char out[4200];
} replay_slot;

static tk_status start(replay_slot *slot, int k, const char *solver, const char *dir,
                       const char *name, const char *work) {
  snprintf(slot->file, sizeof slot->file, "%s/%s", dir, name);
  snprintf(slot->out, sizeof slot->out, "%s/replay.%d.out", work, k);
  slot->solver = solver;
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "posix_spawn_file_actions_init failed");
  int rc = posix_spawn_file_actions_addopen(&fa, 1, slot->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const char *argv[4];
  solver_argv(solver, slot->file, argv);
  if (!rc) rc = posix_spawnp(&slot->pid, solver, &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) slot->pid = 0;
  return rc ? tk_status_make(TK_UNAVAILABLE, "cannot run %s: %s", solver, strerror(rc))
            : TK_STATUS_OK;
}

/* Waits for one child; checks that it printed exactly "unsat". */
static tk_status finish_one(replay_slot *slots, int nslots) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, 0)) < 0 && errno == EINTR) {}
  replay_slot *slot = NULL;
  for (int i = 0; i < nslots; i++)
    if (slots[i].pid && slots[i].pid == pid) slot = &slots[i];
  if (!slot) return tk_status_make(TK_INTERNAL, "waitpid: no solver child (%s)", strerror(errno));
  slot->pid = 0;
  char text[256] = "";
  FILE *f = fopen(slot->out, "rb");
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  if (f) fclose(f);
  text[n] = '\0';
  if (!strcmp(text, "unsat\n")) return TK_STATUS_OK;
  text[strcspn(text, "\n")] = '\0';
  return tk_status_make(TK_PROOF_FAILED, "%s: %s says '%s' (expected unsat)", slot->file,
                        slot->solver, text);
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

tk_status tkc_replay_queries(const char *dir, const char *solvers, int jobs, const char *work) {
  const char *names[MAX_SOLVERS];
  int nsolvers = solver_list(solvers, names);
  DIR *d = opendir(dir);
  if (!d) return tk_status_make(TK_IO_ERROR, "cannot list %s: %s", dir, strerror(errno));
  replay_slot *slots = tk_calloc((size_t)jobs, sizeof *slots);
  if (!slots) {
    closedir(d);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  }
  tk_status s = TK_STATUS_OK;
  long runs = 0;
  int running = 0;
  for (struct dirent *e; !s && (e = readdir(d));) {
    if (!is_query(e->d_name)) continue;
    for (int k = 0; !s && k < nsolvers; k++) {
      if (running == jobs) {
        s = finish_one(slots, jobs);
        running--;
      }
      int free_slot = 0;
      while (slots[free_slot].pid) free_slot++;
      if (!s) s = start(&slots[free_slot], free_slot, names[k], dir, e->d_name, work);
      if (!s) running++, runs++;
    }
  }
  for (; !s && running > 0; running--) s = finish_one(slots, jobs);
  reap_all(slots, jobs);
  closedir(d);
  free(slots);
  if (!s)
    fprintf(stderr, "tkc check-proofs: %ld solver runs, every one unsat (%s)\n", runs, solvers);
  return s;
}
