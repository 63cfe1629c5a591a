/* runtime/fs.h — replace a directory all or nothing, and only one tkc wrote (libtkrt-internal;
 * prefix tk_fs_).
 *
 * The one directory-replace routine of tkc: the compiler's bundle writer (compiler/bundle_fs.c)
 * and the verifier's --proofs-dir (verify/report.c) both use it, so it lives in the lowest
 * layer both may include. The pattern:
 *   tk_fs_hold_signals(&saved)    optional: a signal now waits until the write step is over
 *   tk_fs_temp_dir(dir, &tmp)     a fresh `.<name>.tmp.XXXXXX` beside dir (same file system)
 *   ... fill tmp ...
 *   tk_fs_replace_dir(tmp, dir)   seal tmp with the output marker, check dir's, one rename
 *   tk_fs_remove_tree(tmp)        on any failure (tmp is the caller's until replaced)
 *   tk_fs_release_signals(&saved) a held SIGINT/SIGTERM/... takes effect here
 * Readers of dir see the old tree or the new one, never a mix, where the file system has
 * renameat2(RENAME_EXCHANGE); elsewhere the old tree is first renamed aside (a short window
 * with no dir).
 *
 * The output marker (runtime/fs_marker.c, docs/abi.md "Output marker"): every tree this
 * routine puts in place holds TK_FS_MARKER_FILE, listing each directory and file tkc wrote
 * with its size and sha256. An existing dir is replaced only if it is empty, or if each entry
 * below it is listed there unchanged; otherwise nothing is touched and the error names the
 * entries tkc did not write (or that changed since). Plain POSIX plus renameat2 and cJSON; no
 * global state.
 *
 * Also the runtime's one way to read an input file (bundle files, checkpoints): through one
 * descriptor that is checked to be a regular file (tk_fs_open_regular).
 */
#ifndef TK_RUNTIME_FS_H
#define TK_RUNTIME_FS_H

#include <signal.h>

#include "tk/status.h"

/* The marker's name in every directory tk_fs_replace_dir writes, and its "format". */
#define TK_FS_MARKER_FILE ".tkc-output"
#define TK_FS_MARKER_FORMAT "tkc-output/1"

/* mkdir -p (mode 0777 & ~umask) for every parent of `path`, not path itself. */
TK_MUST_USE tk_status tk_fs_make_parents(const char *path);

/* Creates the missing parents of `dir` and a fresh temp dir `.<name>.tmp.XXXXXX` beside it
 * (mode 0755; trailing slashes of dir are ignored). *out_tmp is tk_malloc'd: the caller frees
 * it, after tk_fs_replace_dir or tk_fs_remove_tree. */
TK_MUST_USE tk_status tk_fs_temp_dir(const char *dir, char **out_tmp);

/* OK if tk_fs_replace_dir may replace dir: it does not exist, or is a directory that
 * tk_fs_marker_check accepts. Writers call it before their long work too, to refuse early;
 * tk_fs_replace_dir checks again (the directory may have changed meanwhile). */
TK_MUST_USE tk_status tk_fs_check_replaceable(const char *dir);

/* Writes tmp's marker (tk_fs_marker_write), then moves the finished tree `tmp` to `dir`. An
 * existing dir is replaced (the old tree removed) only if tk_fs_check_replaceable accepts it. When the calling thread holds a
 * termination signal that is pending (tk_fs_hold_signals), nothing is replaced: the write was
 * interrupted. On error tmp is still there (and dir as it was) for the caller to remove. */
TK_MUST_USE tk_status tk_fs_replace_dir(const char *tmp, const char *dir);

/* The names in directory `path` but . and .., sorted (strcmp); *out and each name
 * tk_malloc'd, freed by tk_fs_free_names. */
TK_MUST_USE tk_status tk_fs_list_names(const char *path, char ***out, size_t *out_n);
void tk_fs_free_names(char **names, size_t n);

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

/* Blocks SIGHUP, SIGINT, SIGQUIT and SIGTERM in the calling thread (the previous mask goes to
 * *saved), so that a temp dir is always removed or put in place before one of them ends the
 * process; tk_fs_release_signals restores the mask, and a signal that arrived meanwhile is
 * delivered then. Hold them only around a short write step: child processes started meanwhile
 * inherit the mask. The mask is per thread: a process-directed signal may still go to another
 * thread that does not hold it (tkc has none during its writes). */
void tk_fs_hold_signals(sigset_t *saved);
void tk_fs_release_signals(const sigset_t *saved);

/* ---- the output marker (runtime/fs_marker.c) ---- */

/* Writes tmp/TK_FS_MARKER_FILE listing every directory and regular file below tmp (relative
 * paths, sorted per directory), each file with its size and sha256. Anything else below tmp
 * (a symlink, a FIFO) is TK_INTERNAL: tkc writes no such thing. */
TK_MUST_USE tk_status tk_fs_marker_write(const char *tmp);

/* OK if dir (an existing directory; `shown` names it in messages) is empty, or holds a marker
 * that parses as TK_FS_MARKER_FORMAT and lists every entry below dir: each directory, and each
 * regular file with the same size and sha256. A file listed but changed is the user's now; a
 * listed file that is gone is fine. Otherwise TK_INVALID_ARGUMENT naming the first ten
 * entries that are not tkc's (a foreign directory once, not its contents) and how many more. */
TK_MUST_USE tk_status tk_fs_marker_check(const char *dir, const char *shown);

#endif /* TK_RUNTIME_FS_H */
