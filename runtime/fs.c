/* runtime/fs.c — temp dir beside a destination, atomic replace, tree removal (runtime/fs.h).
 *
 * The temp dir lives beside the destination (same file system, so rename is atomic) and is
 * named `.<name>.tmp.XXXXXX`: hidden, and recognisable if a crash ever leaves one. Replacing
 * an existing directory uses renameat2(RENAME_EXCHANGE), then removes the old tree (now at
 * tmp); where the file system lacks it (EINVAL, ENOSYS), the old tree is renamed aside to
 * `<tmp>.old`, tmp renamed in, and the old tree removed — or put back if the second rename
 * fails. Before any of that, tmp is sealed with the output marker and an existing destination
 * checked against its own (runtime/fs_marker.c). Termination signals can be held around the
 * whole write step, so that none ends the process while a temp dir exists: the caller's
 * cleanup runs first, and a signal pending at the replace abandons it.
 *
 * At the end, the one way the runtime opens an input file (bundle files, checkpoints): open
 * without blocking, then fstat the descriptor, so a FIFO or a device is refused by name
 * instead of hanging or being read, and whatever is read is what that descriptor held.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/fs.h"
#include "tk/alloc.h"

tk_status tk_fs_make_parents(const char *path) {
  char *p = tk_strdup(path);
  if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = TK_STATUS_OK;
  for (char *c = p + 1; *c && !s; c++) {
    if (*c != '/') continue;
    *c = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
      s = tk_status_make(TK_IO_ERROR, "cannot create directory %s: %s", p, strerror(errno));
    *c = '/';
  }
  free(p);
  return s;
}

tk_status tk_fs_temp_dir(const char *dir, char **out_tmp) {
  *out_tmp = NULL;
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--; /* "out/" names "out" */
  char *clean = tk_strndup(dir, n), *a = tk_strndup(dir, n), *b = tk_strndup(dir, n);
  tk_status s =
      clean && a && b ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) s = tk_fs_make_parents(clean);
  char *tmp = NULL;
  if (!s) {
    const char *parent = dirname(a), *name = basename(b);
    size_t len = strlen(parent) + strlen(name) + 16;
    tmp = tk_malloc(len);
    if (!tmp)
      s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
    else
      snprintf(tmp, len, "%s/.%s.tmp.XXXXXX", parent, name);
  }
  bool made = !s && mkdtemp(tmp) != NULL;
  if (!s && !made)
    s = tk_status_make(TK_IO_ERROR, "cannot create a temp directory beside %s: %s", clean,
                       strerror(errno));
  if (made && chmod(tmp, 0755) != 0) { /* mkdtemp makes it 0700; the output is for all to read */
    s = tk_status_make(TK_IO_ERROR, "cannot chmod %s: %s", tmp, strerror(errno));
    tk_fs_remove_tree(tmp);
  }
  free(clean);
  free(a);
  free(b);
  if (s) {
    free(tmp);
    return s;
  }
  *out_tmp = tmp;
  return TK_STATUS_OK;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

void tk_fs_remove_tree(const char *path) {
  if (path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Without renameat2: move the old tree aside, move tmp in, remove the old tree. */
static tk_status replace_by_steps(const char *tmp, const char *dir) {
  size_t n = strlen(tmp) + 8;
  char *old = tk_malloc(n);
  if (!old) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  snprintf(old, n, "%s.old", tmp);
  tk_status s = TK_STATUS_OK;
  if (rename(dir, old) != 0)
    s = tk_status_make(TK_IO_ERROR, "cannot move the old %s aside: %s", dir, strerror(errno));
  else if (rename(tmp, dir) != 0) {
    s = tk_status_make(TK_IO_ERROR, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    if (rename(old, dir) != 0) s = tk_status_annotate(s, "and the old tree stays at %s", old);
  } else
    tk_fs_remove_tree(old);
  free(old);
  return s;
}

/* Termination signals a write step holds (tk_fs_hold_signals). */
static const int HELD_SIGNALS[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};
#define NHELD (sizeof HELD_SIGNALS / sizeof HELD_SIGNALS[0])

void tk_fs_hold_signals(sigset_t *saved) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < NHELD; i++) sigaddset(&set, HELD_SIGNALS[i]);
  pthread_sigmask(SIG_BLOCK, &set, saved);
}

void tk_fs_release_signals(const sigset_t *saved) { pthread_sigmask(SIG_SETMASK, saved, NULL); }

/* One of HELD_SIGNALS is held by this thread, pending, and not ignored: it ends (or
 * interrupts) the process once released, so the write it interrupted is abandoned. */
static bool interrupted(void) {
  sigset_t held, pending;
  if (pthread_sigmask(SIG_BLOCK, NULL, &held) != 0 || sigpending(&pending) != 0) return false;
  for (size_t i = 0; i < NHELD; i++) {
    int sig = HELD_SIGNALS[i];
    struct sigaction sa;
    if (sigismember(&held, sig) == 1 && sigismember(&pending, sig) == 1 &&
        sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
      return true;
  }
  return false;
}

tk_status tk_fs_check_replaceable(const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0) return TK_STATUS_OK; /* absent (or unreachable: the write says) */
  if (!S_ISDIR(st.st_mode))
    return tk_status_make(TK_IO_ERROR, "output %s exists and is not a directory", dir);
  return tk_fs_marker_check(dir, dir);
}

tk_status tk_fs_replace_dir(const char *tmp, const char *dir) {
  TK_RETURN_IF_ERROR(tk_fs_marker_write(tmp));
  TK_RETURN_IF_ERROR(tk_fs_check_replaceable(dir));
  if (interrupted())
    return tk_status_make(TK_IO_ERROR, "interrupted by a signal: %s left as it was", dir);
  struct stat st;
  if (lstat(dir, &st) != 0) {
    if (rename(tmp, dir) == 0) return TK_STATUS_OK;
    return tk_status_make(TK_IO_ERROR, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
  }
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
    tk_fs_remove_tree(tmp); /* now holds the old tree */
    return TK_STATUS_OK;
  }
  if (errno != EINVAL && errno != ENOSYS)
    return tk_status_make(TK_IO_ERROR, "cannot replace %s: %s", dir, strerror(errno));
  return replace_by_steps(tmp, dir);
}

/* ---- Regular files: what a bundle or a checkpoint may be --------------------------------- */

static const char *file_kind(mode_t mode) {
  return S_ISDIR(mode)    ? "a directory"
         : S_ISFIFO(mode) ? "a FIFO"
         : S_ISCHR(mode)  ? "a character device"
         : S_ISBLK(mode)  ? "a block device"
         : S_ISSOCK(mode) ? "a socket"
                          : "not a plain file";
}

tk_status tk_fs_open_regular(const char *path, int *out_fd, size_t *out_size) {
  *out_fd = -1;
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer; fstat says what it is */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return tk_status_make(errno == ENOENT ? TK_NOT_FOUND : TK_IO_ERROR, "cannot open %s: %s", path,
                          strerror(errno));
  struct stat st;
  tk_status s = TK_STATUS_OK;
  int flags = 0;
  if (fstat(fd, &st) != 0)
    s = tk_status_make(TK_IO_ERROR, "cannot stat %s: %s", path, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    s = tk_status_make(TK_INVALID_ARGUMENT, "%s: not a regular file (%s)", path,
                       file_kind(st.st_mode));
  else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    s = tk_status_make(TK_IO_ERROR, "%s: fcntl: %s", path, strerror(errno));
  if (s) {
    close(fd);
    return s;
  }
  *out_fd = fd;
  *out_size = (size_t)st.st_size;
  return TK_STATUS_OK;
}

/* Reads exactly `size` bytes at offset 0, then expects end of file. */
static tk_status read_exactly(int fd, const char *path, char *buf, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tk_status_make(TK_IO_ERROR, "cannot read %s: %s", path, strerror(errno));
    if (n == 0) break;
    got += (size_t)n;
  }
  char extra;
  ssize_t more = got == size ? pread(fd, &extra, 1, (off_t)size) : 0;
  if (got != size || more != 0)
    return tk_status_make(TK_IO_ERROR, "%s: its size changed while it was read (%zu bytes at open)",
                          path, size);
  return TK_STATUS_OK;
}

tk_status tk_fs_read_regular(const char *path, size_t max_bytes, char **out, size_t *out_size) {
  *out = NULL;
  *out_size = 0;
  int fd = -1;
  size_t size = 0;
  TK_RETURN_IF_ERROR(tk_fs_open_regular(path, &fd, &size));
  tk_status s = TK_STATUS_OK;
  char *buf = NULL;
  if (size > max_bytes)
    s = tk_status_make(TK_INVALID_ARGUMENT, "%s: %zu bytes, more than the %zu this file may hold",
                       path, size, max_bytes);
  else if (!(buf = tk_malloc(size + 1)))
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s (%zu bytes)", path, size);
  else
    s = read_exactly(fd, path, buf, size);
  close(fd);
  if (s) {
    free(buf);
    return s;
  }
  buf[size] = '\0';
  *out = buf;
  *out_size = size;
  return TK_STATUS_OK;
}
