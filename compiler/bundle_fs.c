/* compiler/bundle_fs.c — file writes into a bundle's temp dir, and the bundle's commit.
 *
 * The temp dir, the atomic replace and the cleanup are libtkrt's one directory-replace
 * routine (runtime/fs.h; the verifier's --proofs-dir uses it too): the tkc_fs_ names of
 * those are thin forwards. So is the policy on what may be replaced, the output marker: a
 * directory is replaced only if it is empty or everything in it is what tkc wrote there, so a
 * mistyped `-o $HOME`, or a user's file kept inside a bundle, never loses anything.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler/bundle_fs.h"
#include "runtime/fs.h"
#include "tk/alloc.h"

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = tk_malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

tk_status tkc_fs_make_parents(const char *path) { return tk_fs_make_parents(path); }

tk_status tkc_fs_temp_dir(const char *dir, char **out_tmp) { return tk_fs_temp_dir(dir, out_tmp); }

tk_status tkc_fs_write(const char *dir, const char *name, const void *data, size_t size) {
  char *path = path_join(dir, name);
  if (!path) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = TK_STATUS_OK;
  FILE *f = fopen(path, "wb");
  if (!f)
    s = tk_status_make(TK_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
  else {
    bool ok = fwrite(data, 1, size, f) == size;
    ok = fclose(f) == 0 && ok;
    if (!ok) s = tk_status_make(TK_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
  }
  free(path);
  return s;
}

tk_status tkc_fs_read(const char *dir, const char *name, char **out, size_t *out_size) {
  *out = NULL;
  char *path = path_join(dir, name);
  if (!path) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = TK_STATUS_OK;
  FILE *f = fopen(path, "rb");
  struct stat st;
  char *buf = NULL;
  if (!f || fstat(fileno(f), &st) != 0)
    s = tk_status_make(TK_IO_ERROR, "cannot read %s: %s", path, strerror(errno));
  else if (!(buf = tk_malloc((size_t)st.st_size + 1)))
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  else if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
    s = tk_status_make(TK_IO_ERROR, "short read of %s", path);
  if (f) fclose(f);
  free(path);
  if (s) {
    free(buf);
    return s;
  }
  buf[st.st_size] = '\0';
  *out = buf;
  *out_size = (size_t)st.st_size;
  return TK_STATUS_OK;
}

tk_status tkc_fs_mkdir(const char *dir, const char *name) {
  char *path = path_join(dir, name);
  if (!path) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = mkdir(path, 0777) == 0
                    ? TK_STATUS_OK
                    : tk_status_make(TK_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
  free(path);
  return s;
}

void tkc_fs_remove_tree(const char *path) { tk_fs_remove_tree(path); }

tk_status tkc_fs_commit(const char *tmp, const char *dir) { return tk_fs_replace_dir(tmp, dir); }
