/* runtime/tools/model_cache.c — `--arch ARCH.json`: compile for the CPU on the fly, cached.
 *
 * The cache directory is $XDG_CACHE_HOME/tkc when that is an absolute path, else
 * $HOME/.cache/tkc (XDG Base Directory spec). An entry is a bundle directory named
 *   <fingerprint>-<first 12 hex of SHA-256(key)>
 * where key = "<tkc --version> target x86_64 defaults": the arch's fingerprint, the
 * compiler's version (its LLVM's too) and the target; every other option is tkc's default
 * (--cpu, --max-batch: defined once, in tkc), which the version determines, so a new tkc
 * never reuses an old entry. An entry is used when
 * tk_bundle_open accepts it (manifest and every sha256 check out); otherwise it is compiled.
 *
 * The tools do not link the compiler (layers: runtime/tools sees only libtkrt and tk/). They
 * run the installed `tkc` executable — the one beside this tool's own binary
 * (/proc/self/exe), else `tkc` on PATH — with posix_spawn:
 *   tkc --version                        the version part of the key
 *   tkc check ARCH                       its `fingerprint: <16 hex>` line
 *   tkc compile ARCH -o ENTRY --targets x86_64 --quiet
 * `tkc compile -o` writes a temp dir beside ENTRY and renames it into place (replacing an
 * unusable old entry atomically, compiler/tkc.h), so a concurrent reader sees either no entry
 * or a whole one, and an interrupted compile leaves no entry. tkc's output (stdout and
 * stderr) is captured and becomes the message of a failure; a tkc that exits 1 (bad arch)
 * gives TK_INVALID_ARGUMENT, 3 TK_PROOF_FAILED, anything else TK_INTERNAL.
 *
 * The child gets /dev/null as stdin, no descriptor of ours beyond 0-2 (glibc >= 2.34), an
 * empty signal mask and default dispositions for the signals a server may block or ignore.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/tools/tool_model.h"
#include "tk/alloc.h"

extern char **environ;

/* The one target the cache compiles for; every other option is tkc's default. */
#define CACHE_TARGET "x86_64"

/* mkdir -p for the cache root (mode 0700 for new directories, as XDG asks). */
static tk_status make_dirs(char *path) {
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char saved = *p;
    *p = '\0';
    int rc = mkdir(path, 0700);
    int err = errno;
    *p = saved;
    if (rc && err != EEXIST)
      return tk_status_make(TK_IO_ERROR, "cannot create the cache directory %s: %s", path,
                            strerror(err));
    if (!saved) return TK_STATUS_OK;
  }
}

static tk_status cache_root(char **out) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  char *root = NULL;
  if (xdg && xdg[0] == '/')
    root = (tk_asprintf(&root, "%s/tkc", xdg) < 0) ? NULL : root;
  else if (home && home[0] == '/')
    root = (tk_asprintf(&root, "%s/.cache/tkc", home) < 0) ? NULL : root;
  else
    return tk_status_make(TK_NOT_FOUND, "no cache directory: set XDG_CACHE_HOME or HOME to an "
                                        "absolute path, or compile with `tkc compile` and use "
                                        "--bundle");
  if (!root) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = make_dirs(root);
  if (s) {
    free(root);
    return s;
  }
  *out = root;
  return TK_STATUS_OK;
}

/* ---- Running tkc -------------------------------------------------------------------------- */

/* The tkc to run: `tkc` beside /proc/self/exe when it is executable, else NULL (then "tkc"
 * is looked up on PATH). *out is tk_malloc'd or NULL. */
static tk_status tkc_beside_self(char **out) {
  *out = NULL;
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return TK_STATUS_OK;
  self[n] = '\0';
  char *path = NULL;
  if (tk_asprintf(&path, "%s/tkc", dirname(self)) < 0)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (access(path, X_OK) != 0) {
    free(path);
    return TK_STATUS_OK;
  }
  *out = path;
  return TK_STATUS_OK;
}

typedef struct tkc_run {
  const char *tkc; /* a path, or NULL for "tkc" on PATH */
  char *output;    /* stdout and stderr together, NUL-terminated (tk_malloc'd) */
  int exit_code;   /* the exit status; 128 + N when killed by signal N */
} tkc_run;

static tk_status read_all(int fd, char **out) {
  size_t len = 0, cap = 4096;
  char *buf = tk_malloc(cap);
  if (!buf) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  for (;;) {
    if (cap - len < 2) {
      char *p = tk_realloc(buf, cap * 2);
      if (!p) {
        free(buf);
        return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading tkc's output");
      }
      buf = p;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      free(buf);
      return tk_status_make(TK_IO_ERROR, "cannot read tkc's output: %s", strerror(err));
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  *out = buf;
  return TK_STATUS_OK;
}

static tk_status spawn_setup(int out_fd, posix_spawn_file_actions_t *fa, posix_spawnattr_t *at) {
  sigset_t none, reset;
  sigemptyset(&none);
  sigemptyset(&reset);
  static const int defaults[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) sigaddset(&reset, defaults[i]);
  int rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  if (!rc) rc = posix_spawn_file_actions_adddup2(fa, out_fd, 1);
  if (!rc) rc = posix_spawn_file_actions_adddup2(fa, out_fd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
#endif
  if (!rc) rc = posix_spawnattr_setsigmask(at, &none);
  if (!rc) rc = posix_spawnattr_setsigdefault(at, &reset);
  if (!rc) rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  return rc ? tk_status_make(TK_RESOURCE_EXHAUSTED, "cannot set up running tkc: %s", strerror(rc))
            : TK_STATUS_OK;
}

/* Runs tkc with args (argv[0] is filled in here) and waits for it; r->output and
 * r->exit_code hold what it said and how it ended. */
static tk_status tkc_run_args(tkc_run *r, char **argv) {
  r->output = NULL;
  r->exit_code = -1;
  argv[0] = (char *)(r->tkc ? r->tkc : "tkc");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return tk_status_make(TK_IO_ERROR, "cannot run tkc: pipe: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  bool fa_ok = posix_spawn_file_actions_init(&fa) == 0, at_ok = posix_spawnattr_init(&at) == 0;
  tk_status s = fa_ok && at_ok ? spawn_setup(fds[1], &fa, &at)
                               : tk_status_make(TK_RESOURCE_EXHAUSTED, "cannot set up running tkc");
  pid_t pid = 0;
  bool spawned = false;
  if (!s) {
    int rc = r->tkc ? posix_spawn(&pid, r->tkc, &fa, &at, argv, environ)
                    : posix_spawnp(&pid, "tkc", &fa, &at, argv, environ);
    spawned = rc == 0;
    if (rc)
      s = tk_status_make(TK_NOT_FOUND,
                         "cannot run %s: %s (--arch needs tkc beside this tool or "
                         "on PATH; or compile with `tkc compile` and use --bundle)",
                         argv[0], strerror(rc));
  }
  if (fa_ok) posix_spawn_file_actions_destroy(&fa);
  if (at_ok) posix_spawnattr_destroy(&at);
  close(fds[1]);
  if (!s) s = read_all(fds[0], &r->output);
  close(fds[0]);
  if (spawned) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  if (s) {
    free(r->output);
    r->output = NULL;
  }
  return s;
}

/* The status for a tkc that exited non-zero: its output (trailing newlines dropped). */
static tk_status tkc_failed(const tkc_run *r, const char *what) {
  size_t n = strlen(r->output);
  while (n > 0 && (r->output[n - 1] == '\n' || r->output[n - 1] == '\r')) n--;
  tk_status_code code = r->exit_code == 1   ? TK_INVALID_ARGUMENT
                        : r->exit_code == 3 ? TK_PROOF_FAILED
                                            : TK_INTERNAL;
  return tk_status_make(code, "`tkc %s` exited with %d: %.*s", what, r->exit_code, (int)n,
                        r->output);
}

/* Copies the rest of the line after `prefix` at the start of a line of text into out. */
static bool line_value(const char *text, const char *prefix, char *out, size_t size) {
  size_t plen = strlen(prefix);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, prefix, plen)) continue;
    size_t n = strcspn(p + plen, "\r\n");
    if (n == 0 || n >= size) return false;
    memcpy(out, p + plen, n);
    out[n] = '\0';
    return true;
  }
  return false;
}

/* `tkc --version`'s first line, and the arch's fingerprint from `tkc check`. */
static tk_status tkc_describe(tkc_run *r, const char *arch_path, char *version, size_t vsize,
                              char fingerprint[17]) {
  char *argv_v[] = {NULL, "--version", NULL};
  TK_RETURN_IF_ERROR(tkc_run_args(r, argv_v));
  size_t n = strcspn(r->output, "\r\n");
  tk_status s = TK_STATUS_OK;
  if (r->exit_code != 0)
    s = tkc_failed(r, "--version");
  else if (n == 0 || n >= vsize)
    s = tk_status_make(TK_INTERNAL, "`tkc --version` said nothing usable");
  else
    snprintf(version, vsize, "%.*s", (int)n, r->output);
  free(r->output);
  if (s) return s;
  char *argv_c[] = {NULL, "check", (char *)arch_path, NULL};
  TK_RETURN_IF_ERROR(tkc_run_args(r, argv_c));
  if (r->exit_code != 0)
    s = tkc_failed(r, "check");
  else if (!line_value(r->output, "fingerprint: ", fingerprint, 17) || strlen(fingerprint) != 16)
    s = tk_status_make(TK_INTERNAL, "`tkc check %s` printed no fingerprint line", arch_path);
  free(r->output);
  return s;
}

/* root/<fingerprint>-<hash of the key>. */
static tk_status entry_path(const char *root, const char *fingerprint, const char *version,
                            char **out) {
  char key[512];
  int n = snprintf(key, sizeof key, "%s target %s defaults", version, CACHE_TARGET);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (n < 0 || (size_t)n >= sizeof key ||
      !EVP_Digest(key, (size_t)n, md, &md_len, EVP_sha256(), NULL))
    return tk_status_make(TK_INTERNAL, "cannot hash the cache key");
  char hex[13];
  for (int i = 0; i < 6; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  if (tk_asprintf(out, "%s/%s-%s", root, fingerprint, hex) < 0) {
    *out = NULL;
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  }
  return TK_STATUS_OK;
}

static tk_status compile_entry(tkc_run *r, const char *arch_path, const char *dir, bool quiet) {
  if (!quiet) fprintf(stderr, "tkrt: compiling %s for the CPU into %s\n", arch_path, dir);
  char *argv[] = {NULL,        "compile",    (char *)arch_path, "-o", (char *)dir,
                  "--targets", CACHE_TARGET, "--quiet",         NULL};
  TK_RETURN_IF_ERROR(tkc_run_args(r, argv));
  tk_status s = r->exit_code ? tkc_failed(r, "compile") : TK_STATUS_OK;
  free(r->output);
  return tk_status_annotate(s, "compiling %s", arch_path);
}

tk_status tool_cache_bundle(const char *arch_path, bool quiet, char **out_dir,
                            tk_bundle **out_bundle) {
  *out_dir = NULL;
  *out_bundle = NULL;
  tkc_run r = {0};
  char *tkc = NULL, *root = NULL, *dir = NULL, version[256], fingerprint[17];
  tk_status s = tkc_beside_self(&tkc);
  r.tkc = tkc;
  if (!s) s = tkc_describe(&r, arch_path, version, sizeof version, fingerprint);
  if (!s) s = cache_root(&root);
  if (!s) s = entry_path(root, fingerprint, version, &dir);
  free(root);
  if (!s) {
    tk_status cached = tk_bundle_open(dir, out_bundle);
    if (cached) { /* absent or unusable: (re)compile; tkc compile replaces it atomically */
      tk_status_free(cached);
      s = compile_entry(&r, arch_path, dir, quiet);
      if (!s) s = tk_bundle_open(dir, out_bundle);
    }
  }
  free(tkc);
  if (s) {
    free(dir);
    return s;
  }
  *out_dir = dir;
  return TK_STATUS_OK;
}
