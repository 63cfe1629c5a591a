/* runtime/fs.h — replace a directory all or nothing (libtkrt-internal; prefix tk_fs_).
 *
 * The one directory-replace routine of tkc: the compiler's bundle writer (compiler/bundle_fs.c)
 * and the verifier's --proofs-dir (verify/report.c) both use it, so it lives in the lowest
 * layer both may include. The pattern:
 *   tk_fs_temp_dir(dir, &tmp)     a fresh `.<name>.tmp.XXXXXX` beside dir (same file system)
 *   ... fill tmp ...
 *   tk_fs_replace_dir(tmp, dir)   one rename into place
 *   tk_fs_remove_tree(tmp)        on any failure (tmp is the caller's until replaced)
 * Readers of dir see the old tree or the new one, never a mix, where the file system has
 * renameat2(RENAME_EXCHANGE); elsewhere the old tree is first renamed aside (a short window
 * with no dir). Policy, such as which existing directories may be replaced, is the caller's.
 * Everything here is plain POSIX plus renameat2; no global state.
 *
 * Also the runtime's one way to read an input file (bundle files, checkpoints): through one
 * descriptor that is checked to be a regular file (tk_fs_open_regular).
 */
#ifndef TK_RUNTIME_FS_H
#define TK_RUNTIME_FS_H

#include "tk/status.h"

/* mkdir -p (mode 0777 & ~umask) for every parent of `path`, not path itself. */
TK_MUST_USE tk_status tk_fs_make_parents(const char *path);

/* Creates the missing parents of `dir` and a fresh temp dir `.<name>.tmp.XXXXXX` beside it
 * (mode 0755; trailing slashes of dir are ignored). *out_tmp is tk_malloc'd: the caller frees
 * it, after tk_fs_replace_dir or tk_fs_remove_tree. */
TK_MUST_USE tk_status tk_fs_temp_dir(const char *dir, char **out_tmp);

/* Moves the finished tree `tmp` to `dir`, replacing an existing directory dir (the old tree
 * is removed); a dir that exists and is not a directory is an error. On error tmp is still
 * there (and dir as it was) for the caller to remove. */
TK_MUST_USE tk_status tk_fs_replace_dir(const char *tmp, const char *dir);

/* Removes a directory tree (no symlinks followed), best effort; NULL is a no-op. */
void tk_fs_remove_tree(const char *path);

/* Opens `path` read-only (O_CLOEXEC) and checks through the descriptor that it is a regular
 * file: a FIFO, device, socket or directory is TK_INVALID_ARGUMENT "PATH: not a regular file"
 * (opened with O_NONBLOCK, so a FIFO without a writer does not block; the flag is cleared
 * before return). *out_fd is the caller's to close; *out_size is its size at open. */
TK_MUST_USE tk_status tk_fs_open_regular(const char *path, int *out_fd, size_t *out_size);

/* The largest bundle file (code object, host stub) the runtime reads into memory. */
#define TK_FS_BUNDLE_FILE_MAX_BYTES ((size_t)1 << 30)

/* The whole regular file (tk_fs_open_regular), read through one descriptor into *out
 * (tk_malloc'd, NUL-terminated; the NUL is not counted in *out_size). A file larger than
 * max_bytes, or whose size changes while it is read, is an error. */
TK_MUST_USE tk_status tk_fs_read_regular(const char *path, size_t max_bytes, char **out,
                                         size_t *out_size);

#endif /* TK_RUNTIME_FS_H */
