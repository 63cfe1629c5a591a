/* compiler/bundle_fs.c — temp dir, file writes, atomic commit and cleanup for bundles.
 *
 * The temp dir lives beside the destination (same file system, so rename is atomic) and is
 * named `.<name>.tmp.XXXXXX`: hidden, and recognisable if a crash ever leaves one. Replacing
 * an existing bundle uses renameat2(RENAME_EXCHANGE) — readers see the old or the new bundle,
 * never a mix — then removes the old tree; where the file system lacks it, the old bundle is
 * first renamed aside. The replace refuses a directory that is not a bundle, so a mistyped
 * `-o $HOME` never deletes anything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler/bundle_fs.h"
#include "compiler/tkc.h"
#include "tk/alloc.h"

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = tk_malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

tk_status tkc_fs_make_parents(const char *path) {
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

tk_status tkc_fs_temp_dir(const char *dir, char **out_tmp) {
  *out_tmp = NULL;
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--; /* "out/" names "out" */
  char *clean = tk_strndup(dir, n), *a = tk_strndup(dir, n), *b = tk_strndup(dir, n);
  tk_status s = clean && a && b ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) s = tkc_fs_make_parents(clean);
  char *tmp = NULL;
  if (!s) {
    const char *parent = dirname(a), *name = basename(b);
    size_t len = strlen(parent) + strlen(name) + 16;
    tmp = tk_malloc(len);
    if (!tmp) s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
    else snprintf(tmp, len, "%s/.%s.tmp.XXXXXX", parent, name);
  }
  if (!s && !mkdtemp(tmp))
    s = tk_status_make(TK_IO_ERROR, "cannot create a temp directory beside %s: %s", clean,
                       strerror(errno));
  if (!s && chmod(tmp, 0755) != 0) /* mkdtemp makes it 0700; a bundle is for everyone to read */
    s = tk_status_make(TK_IO_ERROR, "cannot chmod %s: %s", tmp, strerror(errno));
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

tk_status tkc_fs_write(const char *dir, const char *name, const void *data, size_t size) {
  char *path = path_join(dir, name);
  if (!path) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = TK_STATUS_OK;
  FILE *f = fopen(path, "wb");
  if (!f) s = tk_status_make(TK_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
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
  if (!f || fstat(fileno(f), &st) != 0) s = tk_status_make(TK_IO_ERROR, "cannot read %s: %s", path, strerror(errno));
  else if (!(buf = tk_malloc((size_t)st.st_size + 1))) s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
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
  tk_status s = mkdir(path, 0777) == 0 ? TK_STATUS_OK
                : tk_status_make(TK_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
  free(path);
  return s;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

void tkc_fs_remove_tree(const char *path) {
  if (path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool dir_empty(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return false;
  bool empty = true;
  for (struct dirent *e; empty && (e = readdir(d)) != NULL;)
    empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
  closedir(d);
  return empty;
}

/* True if dir is empty or holds a manifest.json of a tkc bundle. */
static bool replaceable(const char *dir) {
  char *text = NULL;
  size_t size = 0;
  tk_status s = tkc_fs_read(dir, "manifest.json", &text, &size);
  if (s) {
    tk_status_free(s);
    return dir_empty(dir);
  }
  bool ok = strstr(text, "\"format\": \"" TKC_BUNDLE_FORMAT "\"") != NULL;
  free(text);
  return ok;
}

/* Replaces an existing bundle without renameat2: move it aside, move tmp in, remove it. */
static tk_status replace_by_steps(const char *tmp, const char *dir) {
  size_t n = strlen(tmp) + 8;
  char *old = tk_malloc(n);
  if (!old) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  snprintf(old, n, "%s.old", tmp);
  tk_status s = TK_STATUS_OK;
  if (rename(dir, old) != 0)
    s = tk_status_make(TK_IO_ERROR, "cannot move the old bundle %s aside: %s", dir, strerror(errno));
  else if (rename(tmp, dir) != 0) {
    s = tk_status_make(TK_IO_ERROR, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    if (rename(old, dir) != 0) { /* best effort: put the old bundle back */ }
  } else
    tkc_fs_remove_tree(old);
  free(old);
  return s;
}

tk_status tkc_fs_commit(const char *tmp, const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0) {
    if (rename(tmp, dir) == 0) return TK_STATUS_OK;
    return tk_status_make(TK_IO_ERROR, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
  }
  if (!S_ISDIR(st.st_mode))
    return tk_status_make(TK_IO_ERROR, "output %s exists and is not a directory", dir);
  if (!replaceable(dir))
    return tk_status_make(TK_IO_ERROR,
                          "refusing to replace %s: it is a non-empty directory that is not a "
                          "tkc bundle (no manifest.json with format %s)",
                          dir, TKC_BUNDLE_FORMAT);
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
    tkc_fs_remove_tree(tmp); /* now holds the old bundle */
    return TK_STATUS_OK;
  }
  if (errno != EINVAL && errno != ENOSYS)
    return tk_status_make(TK_IO_ERROR, "cannot replace %s: %s", dir, strerror(errno));
  return replace_by_steps(tmp, dir);
}
