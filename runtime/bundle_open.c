/* runtime/bundle_open.c — tk_bundle_open: read a bundle's manifest.json and check it.
 *
 * The manifest format TK_BUNDLE_FORMAT (tk/launch.h) is written by compiler/manifest.c (its
 * header comment is the format's documentation). Checks, each with a message naming the file,
 * the key, the value found and what was expected:
 *   - `format` is exactly TK_BUNDLE_FORMAT;
 *   - `arch` is an object with the dims a session needs; `fingerprint` is 16 lowercase hex
 *     digits and equals SHA-256 of the arch text as it stands in the manifest (the canonical
 *     form is embedded verbatim, docs/formats.md §1), so a hand-edited arch cannot go unnoticed;
 *   - `max_batch` >= 1;
 *   - every file the manifest lists (`targets`[i], `host_stub`.{source,header,library}) is a
 *     plain name inside the bundle directory and its SHA-256 matches;
 *   - `parameters` gives each checkpoint tensor's name and shape (docs/formats.md §2 order).
 * Everything the runtime needs later is copied out; the cJSON tree is freed before return.
 */
#include <cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime_internal.h"
#include "tk/alloc.h"
#include "tk/launch.h"

enum { MANIFEST_MAX_BYTES = 64 << 20, HASH_CHUNK = 1 << 20 };

/* ---- Small helpers ------------------------------------------------------------------------ */

/* malloc'd "dir/name". */
static char *join_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = tk_malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static tk_status read_file(const char *path, char **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return tk_status_make(TK_NOT_FOUND, "cannot open %s: %s", path, strerror(errno));
  size_t len = 0, cap = 1 << 16;
  char *buf = tk_malloc(cap);
  while (buf) {
    len += fread(buf + len, 1, cap - 1 - len, f);
    if (len < cap - 1 || cap >= MANIFEST_MAX_BYTES) break;
    char *grown = tk_realloc(buf, cap * 2);
    if (!grown) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = grown;
    cap *= 2;
  }
  bool err = ferror(f) != 0;
  fclose(f);
  if (!buf) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", path);
  if (err || len == cap - 1) {
    free(buf);
    return tk_status_make(TK_IO_ERROR, "%s: %s", path,
                          err ? "read error" : "larger than 64 MiB, not a manifest");
  }
  buf[len] = '\0';
  *out = buf;
  return TK_STATUS_OK;
}

/* 64 lowercase hex digits of the SHA-256 of a file, streamed. */
static tk_status sha256_file(const char *path, char hex[65]) {
  FILE *f = fopen(path, "rb");
  if (!f) return tk_status_make(TK_NOT_FOUND, "cannot open %s: %s", path, strerror(errno));
  unsigned char *chunk = tk_malloc(HASH_CHUNK);
  if (!chunk) {
    fclose(f);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory hashing %s", path);
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = chunk && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  size_t n;
  while (ok && (n = fread(chunk, 1, HASH_CHUNK, f)) > 0) ok = EVP_DigestUpdate(ctx, chunk, n);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 32;
  EVP_MD_CTX_free(ctx);
  free(chunk);
  fclose(f);
  if (!ok) return tk_status_make(TK_IO_ERROR, "%s: cannot compute its SHA-256", path);
  for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return TK_STATUS_OK;
}

static bool is_lower_hex(const char *s, size_t n) {
  if (strlen(s) != n) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* ---- Typed access to manifest keys ---------------------------------------------------------- */

typedef struct manifest_ctx {
  const char *path; /* dir/manifest.json, for messages */
  const char *dir;
} manifest_ctx;

static tk_status get_string(const manifest_ctx *c, const cJSON *obj, const char *where,
                            const char *key, const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsString(v))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s\"%s\": expected a string, found %s", c->path,
                          where, key, v ? "another type" : "nothing");
  *out = v->valuestring;
  return TK_STATUS_OK;
}

static tk_status get_int(const manifest_ctx *c, const cJSON *obj, const char *where,
                         const char *key, int64_t lo, int64_t hi, int64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  double d = cJSON_IsNumber(v) ? v->valuedouble : -1e300;
  if (!(d >= (double)lo && d <= (double)hi && d == (double)(int64_t)d))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: %s\"%s\": expected an integer in [%lld, %lld], found %s", c->path,
                          where, key, (long long)lo, (long long)hi,
                          cJSON_IsNumber(v) ? "another number"
                          : v               ? "another type"
                                            : "nothing");
  *out = (int64_t)d;
  return TK_STATUS_OK;
}

/* {"file": NAME, "sha256": HEX}: NAME must be a plain file name in the bundle directory and
 * its content must hash to HEX. *out_path (may be NULL) receives the malloc'd full path. */
static tk_status check_file(const manifest_ctx *c, const cJSON *entry, const char *where,
                            char **out_path) {
  const char *file = NULL, *want = NULL;
  TK_RETURN_IF_ERROR(get_string(c, entry, where, "file", &file));
  TK_RETURN_IF_ERROR(get_string(c, entry, where, "sha256", &want));
  if (!*file || strchr(file, '/') || !strcmp(file, ".") || !strcmp(file, ".."))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: %s\"file\": \"%s\" is not a plain file name inside the bundle",
                          c->path, where, file);
  if (!is_lower_hex(want, 64))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s\"sha256\": expected 64 lowercase hex digits",
                          c->path, where);
  char *path = join_path(c->dir, file);
  if (!path) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  char got[65];
  tk_status s = sha256_file(path, got);
  if (!s && strcmp(got, want))
    s = tk_status_make(TK_INVALID_ARGUMENT,
                       "%s: sha256 mismatch (manifest %.16s..., file %.16s...): the bundle was "
                       "modified after it was written",
                       path, want, got);
  if (s || !out_path)
    free(path);
  else
    *out_path = path;
  return s;
}

/* ---- The arch and its fingerprint ---------------------------------------------------------- */

/* Index just past the JSON value starting at text[i] (the text is already valid JSON). */
static size_t skip_value(const char *text, size_t i) {
  int depth = 0;
  do {
    char ch = text[i];
    if (ch == '"') {
      for (i++; text[i] && text[i] != '"'; i++)
        if (text[i] == '\\' && text[i + 1]) i++;
      if (text[i]) i++;
    } else if (ch == '{' || ch == '[') {
      depth++;
      i++;
    } else if (ch == '}' || ch == ']') {
      depth--;
      i++;
    } else if (depth == 0) {
      while (text[i] && !strchr(",}] \t\r\n", text[i])) i++; /* a scalar at top level */
    } else {
      i++;
    }
  } while (depth > 0 && text[i]);
  return i;
}

static size_t skip_space(const char *text, size_t i) {
  while (text[i] && strchr(" \t\r\n", text[i])) i++;
  return i;
}

/* The raw text of the top-level member `key` of the (valid) JSON object `text`. */
static bool member_span(const char *text, const char *key, size_t *start, size_t *len) {
  size_t i = skip_space(text, 0), klen = strlen(key);
  if (text[i] != '{') return false;
  i = skip_space(text, i + 1);
  while (text[i] == '"') {
    size_t key_start = i + 1, key_end = skip_value(text, i) - 1;
    i = skip_space(text, key_end + 1);
    if (text[i] != ':') return false;
    i = skip_space(text, i + 1);
    size_t v_end = skip_value(text, i);
    if (key_end - key_start == klen && !memcmp(text + key_start, key, klen)) {
      *start = i;
      *len = v_end - i;
      return true;
    }
    i = skip_space(text, v_end);
    if (text[i] == ',') i = skip_space(text, i + 1);
  }
  return false;
}

/* docs/formats.md §1: fingerprint = the first 8 bytes of SHA-256(canonical arch), in hex. */
static tk_status check_fingerprint(const manifest_ctx *c, const char *text, tk_bundle *b) {
  const char *fp = b->fingerprint;
  if (!is_lower_hex(fp, 16))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: \"fingerprint\": \"%s\" is not 16 lowercase hex digits", c->path,
                          fp);
  size_t start, len;
  if (!member_span(text, "arch", &start, &len))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: no \"arch\" member", c->path);
  b->arch_json = tk_strndup(text + start, len);
  if (!b->arch_json) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (!EVP_Digest(text + start, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
    return tk_status_make(TK_INTERNAL, "OpenSSL EVP_Digest(sha256) failed");
  char got[17];
  for (unsigned i = 0; i < 8; i++) snprintf(got + 2 * i, 3, "%02x", md[i]);
  if (strcmp(got, fp))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: \"fingerprint\" is %s but the embedded arch hashes to %s (the "
                          "manifest was edited)",
                          c->path, fp, got);
  return TK_STATUS_OK;
}

static tk_status read_arch(const manifest_ctx *c, const cJSON *root, tk_bundle *b) {
  const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "arch");
  if (!cJSON_IsObject(arch))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: \"arch\": expected an object", c->path);
  const char *kind = NULL;
  int64_t in = 0, out = 0, e = 0, k = 0;
  TK_RETURN_IF_ERROR(get_string(c, arch, "arch.", "model_kind", &kind));
  TK_RETURN_IF_ERROR(get_int(c, arch, "arch.", "input_dim", 1, 65536, &in));
  TK_RETURN_IF_ERROR(get_int(c, arch, "arch.", "output_dim", 1, 65536, &out));
  TK_RETURN_IF_ERROR(get_int(c, arch, "arch.", "n_experts", 0, 64, &e));
  TK_RETURN_IF_ERROR(get_int(c, arch, "arch.", "top_k", 0, 64, &k));
  bool dense = !strcmp(kind, "Dense");
  if (dense ? (e != 0 || k != 0) : (strcmp(kind, "MoE") || k < 1 || k > e))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: arch: model_kind \"%s\" with n_experts %lld and top_k %lld is not "
                          "a valid arch (docs/formats.md §1)",
                          c->path, kind, (long long)e, (long long)k);
  b->info.in_dim = (int32_t)in;
  b->info.out_dim = (int32_t)out;
  b->info.n_experts = (int32_t)e;
  b->info.top_k = (int32_t)k;
  return TK_STATUS_OK;
}

/* ---- Targets, host stub, parameters --------------------------------------------------------- */

static tk_status parse_target_kind(const manifest_ctx *c, const char *kind, tk_target_kind *out) {
  static const struct {
    const char *name;
    tk_target_kind kind;
  } kinds[] = {
      {"x86_64", TK_TARGET_KIND_X86_64}, {"x86_64-simt", TK_TARGET_KIND_X86_64_SIMT},
      {"amdgcn", TK_TARGET_KIND_AMDGCN}, {"nvptx", TK_TARGET_KIND_NVPTX},
      {"nvptx64", TK_TARGET_KIND_NVPTX},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(kind, kinds[i].name)) {
      *out = kinds[i].kind;
      return TK_STATUS_OK;
    }
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "%s: target kind \"%s\" is unknown to this runtime (expected x86_64, "
                        "x86_64-simt, amdgcn or nvptx)",
                        c->path, kind);
}

static tk_status read_target(const manifest_ctx *c, const cJSON *entry, int i,
                             tk_bundle_target *t) {
  char where[32];
  snprintf(where, sizeof where, "targets[%d].", i);
  const char *kind = NULL;
  TK_RETURN_IF_ERROR(get_string(c, entry, where, "kind", &kind));
  TK_RETURN_IF_ERROR(parse_target_kind(c, kind, &t->kind));
  bool x86 = t->kind == TK_TARGET_KIND_X86_64 || t->kind == TK_TARGET_KIND_X86_64_SIMT;
  const char *arch = NULL;
  TK_RETURN_IF_ERROR(get_string(c, entry, where, x86 ? "cpu" : "arch", &arch));
  if (t->kind == TK_TARGET_KIND_AMDGCN) {
    int64_t cov = 0;
    TK_RETURN_IF_ERROR(get_int(c, entry, where, "code_object_version", 2, 6, &cov));
    t->code_object_version = (int32_t)cov;
  }
  t->name = tk_strdup(kind);
  t->arch = tk_strdup(arch);
  if (!t->name || !t->arch) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  return check_file(c, entry, where, &t->path);
}

static tk_status read_targets(const manifest_ctx *c, const cJSON *root, tk_bundle *b) {
  const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
  int n = cJSON_IsArray(targets) ? cJSON_GetArraySize(targets) : 0;
  if (n < 1)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: \"targets\": expected a non-empty array",
                          c->path);
  b->targets = tk_calloc((size_t)n, sizeof *b->targets);
  if (!b->targets) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  const cJSON *entry;
  cJSON_ArrayForEach(entry, targets) {
    /* counted first, so tk_bundle_close frees what a failed read_target already copied */
    b->n_targets++;
    TK_RETURN_IF_ERROR(read_target(c, entry, b->n_targets - 1, &b->targets[b->n_targets - 1]));
  }
  return TK_STATUS_OK;
}

static tk_status read_host_stub(const manifest_ctx *c, const cJSON *root, tk_bundle *b) {
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(root, "host_stub");
  static const char *const parts[] = {"source", "header", "library"};
  for (size_t i = 0; i < 3; i++) {
    char where[32];
    snprintf(where, sizeof where, "host_stub.%s.", parts[i]);
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(host, parts[i]);
    if (!cJSON_IsObject(entry))
      return tk_status_make(TK_INVALID_ARGUMENT, "%s: \"host_stub\".\"%s\": expected an object",
                            c->path, parts[i]);
    TK_RETURN_IF_ERROR(check_file(c, entry, where, i == 2 ? &b->host_path : NULL));
  }
  return TK_STATUS_OK;
}

static tk_status read_param(const manifest_ctx *c, const cJSON *entry, int i,
                            tk_checkpoint_expect *p) {
  char where[40];
  snprintf(where, sizeof where, "parameters[%d].", i);
  const char *name = NULL;
  TK_RETURN_IF_ERROR(get_string(c, entry, where, "name", &name));
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
  if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 2)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s\"shape\": expected [rows, cols]", c->path,
                          where);
  uint64_t count = 1;
  const cJSON *dim;
  cJSON_ArrayForEach(dim, shape) {
    double d = cJSON_IsNumber(dim) ? dim->valuedouble : -1;
    if (!(d >= 1 && d <= 1 << 30 && d == (double)(int64_t)d))
      return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s\"shape\": dims must be integers >= 1",
                            c->path, where);
    count *= (uint64_t)d;
  }
  if (count > UINT32_MAX) /* docs/formats.md §2: weight_len is a u32 */
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s\"shape\": %llu elements exceed a u32",
                          c->path, where, (unsigned long long)count);
  p->name = tk_strdup(name);
  p->count = count;
  return p->name ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
}

static tk_status read_params(const manifest_ctx *c, const cJSON *root, tk_bundle *b) {
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
  int n = cJSON_IsArray(params) ? cJSON_GetArraySize(params) : 0;
  if (n < 1)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: \"parameters\": expected a non-empty array",
                          c->path);
  b->params = tk_calloc((size_t)n, sizeof *b->params);
  if (!b->params) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  const cJSON *entry;
  cJSON_ArrayForEach(entry, params) {
    TK_RETURN_IF_ERROR(read_param(c, entry, b->n_params, &b->params[b->n_params]));
    b->n_params++;
  }
  return TK_STATUS_OK;
}

/* ---- Open / close --------------------------------------------------------------------------- */

static tk_status read_manifest(const manifest_ctx *c, const char *text, tk_bundle *b) {
  const char *end = NULL;
  bool oom = false;
  cJSON *root = tk_json_parse(text, strlen(text) + 1, &end, true, &oom);
  if (oom) return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: out of memory", c->path);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: not a JSON object (malformed at byte %zu)",
                          c->path, end ? (size_t)(end - text) : (size_t)0);
  }
  const char *format = NULL, *fingerprint = NULL;
  int64_t max_batch = 0;
  tk_status s = get_string(c, root, "", "format", &format);
  if (!s && strcmp(format, TK_BUNDLE_FORMAT))
    s = tk_status_make(TK_INVALID_ARGUMENT,
                       "%s: \"format\" is \"%s\", expected \"" TK_BUNDLE_FORMAT "\" (recompile the "
                       "bundle with this tkc)",
                       c->path, format);
  if (!s) s = get_string(c, root, "", "fingerprint", &fingerprint);
  if (!s && !(b->fingerprint = tk_strdup(fingerprint)))
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) s = read_arch(c, root, b);
  if (!s) s = check_fingerprint(c, text, b);
  if (!s) s = get_int(c, root, "", "max_batch", 1, INT32_MAX, &max_batch);
  if (!s) b->info.max_batch = max_batch;
  if (!s) s = read_targets(c, root, b);
  if (!s) s = read_host_stub(c, root, b);
  if (!s) s = read_params(c, root, b);
  cJSON_Delete(root);
  return s;
}

tk_status tk_bundle_open(const char *dir, tk_bundle **out) {
  *out = NULL;
  if (!dir) return tk_status_make(TK_INVALID_ARGUMENT, "tk_bundle_open: no directory");
  tk_bundle *b = tk_calloc(1, sizeof *b);
  char *path = join_path(dir, "manifest.json"), *text = NULL;
  if (!b || !path || !(b->dir = tk_strdup(dir))) {
    free(path);
    tk_bundle_close(b);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory opening %s", dir);
  }
  manifest_ctx c = {.path = path, .dir = dir};
  tk_status s = read_file(path, &text);
  if (!s) s = read_manifest(&c, text, b);
  free(text);
  free(path);
  if (s) {
    tk_bundle_close(b);
    return tk_status_annotate(s, "bundle %s", dir);
  }
  b->info.dir = b->dir;
  b->info.fingerprint = b->fingerprint;
  b->info.arch_json = b->arch_json;
  *out = b;
  return TK_STATUS_OK;
}

void tk_bundle_close(tk_bundle *b) {
  if (!b) return;
  for (int32_t i = 0; i < b->n_targets; i++) {
    free(b->targets[i].name);
    free(b->targets[i].arch);
    free(b->targets[i].path);
  }
  free(b->targets);
  for (int32_t i = 0; i < b->n_params; i++) free((char *)b->params[i].name);
  free(b->params);
  free(b->dir);
  free(b->fingerprint);
  free(b->arch_json);
  free(b->host_path);
  free(b);
}

const tk_bundle_info *tk_bundle_get_info(const tk_bundle *bundle) { return &bundle->info; }

const tk_bundle_target *tk_bundle_find_target(const tk_bundle *b, tk_target_kind kind) {
  for (int32_t i = 0; i < b->n_targets; i++)
    if (b->targets[i].kind == kind) return &b->targets[i];
  return NULL;
}

void tk_bundle_describe_targets(const tk_bundle *b, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (int32_t i = 0; i < b->n_targets && n < size; i++) {
    const tk_bundle_target *t = &b->targets[i];
    int w = t->code_object_version
                ? snprintf(buf + n, size - n, "%s%s %s (cov%d)", i ? ", " : "", t->name, t->arch,
                           t->code_object_version)
                : snprintf(buf + n, size - n, "%s%s %s", i ? ", " : "", t->name, t->arch);
    n += w > 0 ? (size_t)w : 0;
  }
}
