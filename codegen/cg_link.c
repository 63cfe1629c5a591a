/* codegen/cg_link.c — object → shared object with ld.lld, and atomic file writes.
 *
 * The linker runs as a subprocess (posix_spawn, no shell) in a private mkdtemp directory:
 *   ld.lld-19 -shared --no-undefined --build-id=none -o k.so k.o
 * --no-undefined with no libraries proves the ABI's "no undefined symbols" (no libm);
 * --build-id=none and relative, fixed file names keep the output byte-identical whatever the
 * temp directory is. The linker's stderr goes to a file in that directory and into the error
 * message. Everything in the directory is removed before returning.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/cg_internal.h"
#include "tk/alloc.h"

extern char **environ;

enum { DIR_MAX_CG = 2048, PATH_MAX_CG = 4096 }; /* a temp dir, and a file in it */

/* ld.lld-19 on PATH, else the LLVM 19 install's ld.lld. */
static tk_status find_lld(char *out, size_t n) {
  const char *path = getenv("PATH");
  while (path && *path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    if (len > 0 && (size_t)snprintf(out, n, "%.*s/ld.lld-19", (int)len, path) < n &&
        access(out, X_OK) == 0)
      return TK_STATUS_OK;
    path = colon ? colon + 1 : NULL;
  }
  snprintf(out, n, "/usr/lib/llvm-19/bin/ld.lld");
  if (access(out, X_OK) == 0) return TK_STATUS_OK;
  return tk_status_make(TK_UNAVAILABLE, "codegen: ld.lld-19 not found on PATH nor at %s", out);
}

static tk_status write_all(const char *path, const unsigned char *data, size_t size, bool sync) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return tk_status_make(TK_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      tk_status s = tk_status_make(TK_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
      close(fd);
      return s;
    }
    done += (size_t)w;
  }
  if ((sync && fsync(fd) != 0) || close(fd) != 0)
    return tk_status_make(TK_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
  return TK_STATUS_OK;
}

static tk_status read_all(const char *path, tk_cg_blob *out) {
  out->data = NULL;
  out->size = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return tk_status_make(TK_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
  tk_status s = TK_STATUS_OK;
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    s = tk_status_make(TK_IO_ERROR, "cannot read %s: %s", path, strerror(errno));
  } else if (!(out->data = tk_malloc((size_t)size + 1))) {
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: out of memory reading %s", path);
  } else if (fread(out->data, 1, (size_t)size, f) != (size_t)size) {
    s = tk_status_make(TK_IO_ERROR, "cannot read %s", path);
    tk_cg_blob_free(out);
  } else {
    out->data[size] = 0;
    out->size = (size_t)size;
  }
  fclose(f);
  return s;
}

/* Runs argv with stderr to err_path; the exit status must be 0. */
static tk_status spawn_wait(char *const argv[], const char *err_path) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: posix_spawn_file_actions_init failed");
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return tk_status_make(TK_UNAVAILABLE, "codegen: cannot run %s: %s", argv[0], strerror(rc));
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return tk_status_make(TK_INTERNAL, "codegen: waitpid: %s", strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return TK_STATUS_OK;
  tk_cg_blob msg = {0};
  tk_status_ignore(read_all(err_path, &msg));
  tk_status s = tk_status_make(TK_INTERNAL, "codegen: %s -shared failed (status %d): %.2000s",
                               argv[0], status, msg.data ? (char *)msg.data : "");
  tk_cg_blob_free(&msg);
  return s;
}

static tk_status link_in(const char *dir, const char *lld, const tk_cg_blob *object,
                         tk_cg_blob *out_so) {
  char obj[PATH_MAX_CG], so[PATH_MAX_CG], err[PATH_MAX_CG];
  snprintf(obj, sizeof obj, "%s/k.o", dir);
  snprintf(so, sizeof so, "%s/k.so", dir);
  snprintf(err, sizeof err, "%s/ld.err", dir);
  tk_status s = write_all(obj, object->data, object->size, false);
  char *argv[] = {(char *)lld, "-shared", "--no-undefined", "--build-id=none", "-o", so, obj, NULL};
  if (!s) s = spawn_wait(argv, err);
  if (!s) s = read_all(so, out_so);
  unlink(obj);
  unlink(so);
  unlink(err);
  return s;
}

tk_status tk_cg_link_shared(const tk_cg_blob *object, tk_cg_blob *out_so) {
  out_so->data = NULL;
  out_so->size = 0;
  char lld[PATH_MAX_CG], dir[DIR_MAX_CG];
  TK_RETURN_IF_ERROR(find_lld(lld, sizeof lld));
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp || strlen(tmp) > DIR_MAX_CG - 32) tmp = "/tmp";
  snprintf(dir, sizeof dir, "%s/tkc-link-XXXXXX", tmp);
  if (!mkdtemp(dir))
    return tk_status_make(TK_IO_ERROR, "codegen: cannot create a temp directory in %s: %s", tmp,
                          strerror(errno));
  tk_status s = link_in(dir, lld, object, out_so);
  rmdir(dir);
  return s;
}

tk_status tk_cg_blob_write(const tk_cg_blob *b, const char *path) {
  size_t n = strlen(path) + 32;
  char *tmp = tk_malloc(n);
  if (!tmp) return tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: out of memory");
  snprintf(tmp, n, "%s.tmp-%ld", path, (long)getpid());
  tk_status s = write_all(tmp, b->data, b->size, true);
  if (!s && rename(tmp, path) != 0)
    s = tk_status_make(TK_IO_ERROR, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (s) unlink(tmp);
  free(tmp);
  return s;
}
