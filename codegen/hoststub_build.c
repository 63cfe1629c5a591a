/* codegen/hoststub_build.c — model_host.c → model_host.so with the system C compiler (a
 * further CPU level's stub likewise: model_host.<level>.c → model_host.<level>.so).
 *
 * Runs `cc -std=c17 -O2 -fPIC -shared -I. -I<runtime include> -o model_host.so model_host.c`
 * with its working directory set to the bundle's temp dir, so only relative names reach the
 * compiler: no -g, no __FILE__ in the stub, hence no path in the output, and two builds of
 * the same text are byte-identical (tests/unit/hoststub_test.c checks it). The compiler's
 * stdout and stderr are captured through a pipe and put into the error when it fails.
 * posix_spawnp (not fork) keeps this safe inside a multi-threaded server.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/hoststub.h"
#include "tk/alloc.h"

extern char **environ;

enum { BUILD_LOG_MAX = 8192 };

/* Reads the child's output until EOF, keeping the first BUILD_LOG_MAX - 1 bytes. */
static void read_log(int fd, char *log) {
  size_t len = 0;
  char chunk[1024];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    size_t take = (size_t)n < BUILD_LOG_MAX - 1 - len ? (size_t)n : BUILD_LOG_MAX - 1 - len;
    memcpy(log + len, chunk, take);
    len += take;
  }
  log[len] = '\0';
}

/* Runs argv in dir; `output` names the file it builds, for the error. */
static tk_status spawn_cc(const char *dir, char *const argv[], const char *output, char *log) {
  int fds[2];
  if (pipe(fds) != 0) return tk_status_make(TK_INTERNAL, "pipe: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  posix_spawn_file_actions_addchdir_np(&fa, dir);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return tk_status_make(TK_UNAVAILABLE, "cannot run the C compiler '%s': %s", argv[0],
                          strerror(rc));
  }
  read_log(fds[0], log);
  close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return tk_status_make(TK_INTERNAL, "waitpid: %s", strerror(errno));
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return tk_status_make(TK_INTERNAL, "building %s failed (%s exit %d):\n%s", output, argv[0],
                          WIFEXITED(st) ? WEXITSTATUS(st) : -1, log);
  return TK_STATUS_OK;
}

tk_status tk_cg_stub_build(const char *dir, const tk_stub_build_options *o) {
  if (!o->runtime_include)
    return tk_status_make(TK_INVALID_ARGUMENT, "host stub build: no runtime include directory");
  const char *base = o->base ? o->base : TK_STUB_BASE;
  size_t n = strlen(o->runtime_include) + 3, nb = strlen(base) + 4;
  char *inc = tk_malloc(n), *so = tk_malloc(nb), *c = tk_malloc(nb);
  char *log = tk_malloc(BUILD_LOG_MAX);
  if (!inc || !so || !c || !log) {
    free(inc);
    free(so);
    free(c);
    free(log);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  }
  snprintf(inc, n, "-I%s", o->runtime_include);
  snprintf(so, nb, "%s.so", base);
  snprintf(c, nb, "%s.c", base);
  const char *cc = o->cc ? o->cc : "cc";
  const char *argv[16];
  int argc = 0;
  argv[argc++] = cc;
  argv[argc++] = "-std=c17";
  argv[argc++] = "-O2";
  argv[argc++] = "-fPIC";
  argv[argc++] = "-shared";
  if (o->werror) {
    argv[argc++] = "-Wall";
    argv[argc++] = "-Wextra";
    argv[argc++] = "-Werror";
  }
  argv[argc++] = "-I.";
  argv[argc++] = inc;
  argv[argc++] = "-o";
  argv[argc++] = so;
  argv[argc++] = c;
  argv[argc] = NULL;
  tk_status s = spawn_cc(dir, (char *const *)argv, so, log);
  free(inc);
  free(so);
  free(c);
  free(log);
  return s;
}
