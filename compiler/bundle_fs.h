/* compiler/bundle_fs.h — the file-system side of writing a bundle (private to libtkc):
 * a temp dir beside the destination, files written into it, one atomic rename at the end,
 * and removal of everything on failure. The temp dir, the rename and the removal forward to
 * libtkrt's directory-replace routine (runtime/fs.h), which the verifier shares. */
#ifndef TK_COMPILER_BUNDLE_FS_H
#define TK_COMPILER_BUNDLE_FS_H

#include <stddef.h>

#include "tk/status.h"

/* Creates the missing parents of `dir` and a fresh temp dir `.<name>.tmp.XXXXXX` beside it.
 * *out_tmp is malloc'd (caller frees, after tkc_fs_remove_tree or tkc_fs_commit). */
TK_MUST_USE tk_status tkc_fs_temp_dir(const char *dir, char **out_tmp);

/* Writes dir/name with exactly these bytes (mode 0644). */
TK_MUST_USE tk_status tkc_fs_write(const char *dir, const char *name, const void *data,
                                   size_t size);

/* Reads dir/name whole (malloc'd, NUL added after the bytes; caller frees). */
TK_MUST_USE tk_status tkc_fs_read(const char *dir, const char *name, char **out, size_t *out_size);

/* mkdir -p for every parent of `path` (not path itself). */
TK_MUST_USE tk_status tkc_fs_make_parents(const char *path);

/* Makes dir/name a directory. */
TK_MUST_USE tk_status tkc_fs_mkdir(const char *dir, const char *name);

/* Seals the finished temp dir with the output marker and moves it to `dir`. An existing `dir`
 * is replaced (atomically where the file system supports RENAME_EXCHANGE) only if it is empty
 * or holds nothing but what tkc wrote there, unchanged (runtime/fs.h); anything else is
 * refused, naming what is not tkc's, and left untouched. On error the temp dir is still there
 * for the caller to remove. */
TK_MUST_USE tk_status tkc_fs_commit(const char *tmp, const char *dir);

/* Removes a directory tree (no symlinks followed); NULL is a no-op. */
void tkc_fs_remove_tree(const char *path);

#endif
