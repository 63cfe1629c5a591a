/* runtime/tools/model_cache.c — `--arch ARCH.json`: compile for the CPU on the fly, cached.
 *
 * The cache directory is $XDG_CACHE_HOME/tkc when that is an absolute path, else
 * $HOME/.cache/tkc (XDG Base Directory spec). An entry is a bundle directory named
 *   <fingerprint>-<first 12 hex of SHA-256(key)>
 * where key = "tkc <version> llvm <version> target x86_64 cpu <level> max_batch <n>": the
 * arch's fingerprint, the compiler's version, the target and every compile option, so a new
 * tkc or other options never reuse an old entry. An entry is used when tk_bundle_open accepts
 * it (manifest and every sha256 check out); otherwise it is compiled through libtkc, whose
 * tkc_compile writes a temp dir and renames it into place (compiler/tkc.h), so a concurrent
 * reader sees either no entry or a whole one, and an interrupted compile leaves no entry.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/arch.h"
#include "compiler/tkc.h"
#include "runtime/tools/tool_model.h"
#include "tk/version.h"
#include "tk/alloc.h"

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

/* root/<fingerprint>-<hash of the key>. */
static tk_status entry_path(const char *root, const tk_arch *arch, const tkc_options *o,
                            char **out) {
  char key[256];
  int n = snprintf(key, sizeof key, "tkc %s llvm %s target %s cpu %s max_batch %lld", TK_VERSION,
                   TK_LLVM_VERSION, o->targets, o->cpu, (long long)o->max_batch);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (n < 0 || (size_t)n >= sizeof key ||
      !EVP_Digest(key, (size_t)n, md, &md_len, EVP_sha256(), NULL))
    return tk_status_make(TK_INTERNAL, "cannot hash the cache key");
  char hex[13];
  for (int i = 0; i < 6; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  if (tk_asprintf(out, "%s/%s-%s", root, arch->fingerprint, hex) < 0) {
    *out = NULL;
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  }
  return TK_STATUS_OK;
}

static tk_status compile_entry(const char *arch_path, const tk_arch *arch, tkc_options *o,
                               const char *dir, bool quiet) {
  if (!quiet) fprintf(stderr, "tkrt: compiling %s for the CPU into %s\n", arch_path, dir);
  o->arch_path = arch_path;
  o->arch = arch;
  o->out_dir = dir;
  o->quiet = true;
  return tk_status_annotate(tkc_compile(o), "compiling %s", arch_path);
}

tk_status tool_cache_bundle(const char *arch_path, bool quiet, char **out_dir,
                            tk_bundle **out_bundle) {
  *out_dir = NULL;
  *out_bundle = NULL;
  tk_arch arch;
  TK_RETURN_IF_ERROR(tk_arch_load(arch_path, &arch));
  tkc_options o;
  tkc_options_default(&o);
  o.targets = CACHE_TARGET;
  char *root = NULL, *dir = NULL;
  tk_status s = cache_root(&root);
  if (!s) s = entry_path(root, &arch, &o, &dir);
  free(root);
  if (s) return s;
  tk_status cached = tk_bundle_open(dir, out_bundle);
  if (cached) { /* absent or unusable: (re)compile; tkc_compile replaces it atomically */
    tk_status_free(cached);
    s = compile_entry(arch_path, &arch, &o, dir, quiet);
    if (!s) s = tk_bundle_open(dir, out_bundle);
  }
  if (s) {
    free(dir);
    return s;
  }
  *out_dir = dir;
  return TK_STATUS_OK;
}
