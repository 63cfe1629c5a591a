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
 *   - no object holds a key twice, compared after unescaping (check_unique_keys);
 *   - every file the manifest lists (`targets`[i], `host_stub`.{source,header,library}) is a
 *     plain name inside the bundle directory, a regular file (a FIFO or device is refused, not
 *     waited on), and its SHA-256 matches; each is read once, and the bytes of the code
 *     objects and of model_host.so are kept: they are what the runtime loads (tk_bundle_file);
 *   - an x86_64 entry of a further CPU level, and a GPU entry of a further tile set, carries
 *     its own `host_stub`, checked the same way; no two x86_64 entries have the same `cpu`
 *     level (the runtime chooses by level);
 *   - `parameters` gives each checkpoint tensor's name and shape (docs/formats.md §2 order).
 * Everything the runtime needs later is copied out; the cJSON tree is freed before return.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/fs.h"
#include "runtime/runtime_internal.h"
#include "runtime/sha256.h"
#include "tk/alloc.h"
#include "tk/launch.h"

enum { MANIFEST_MAX_BYTES = 64 << 20 };

/* ---- Small helpers ------------------------------------------------------------------------ */

/* malloc'd "dir/name". */
static char *join_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = tk_malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
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

/* {"file": NAME, "sha256": HEX}: NAME must be a plain file name in the bundle directory, a
 * regular file, and its content must hash to HEX. The file is read once; with `out` the bytes
 * that were hashed are kept there (the runtime loads them, never the file again). */
static tk_status check_file(const manifest_ctx *c, const cJSON *entry, const char *where,
                            tk_bundle_file *out) {
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
  char *path = join_path(c->dir, file), *bytes = NULL, got[65];
  size_t size = 0;
  if (!path) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = tk_fs_read_regular(path, TK_FS_BUNDLE_FILE_MAX_BYTES, &bytes, &size);
  if (!s) s = tk_sha256_hex(bytes, size, got);
  if (!s && strcmp(got, want))
    s = tk_status_make(TK_INVALID_ARGUMENT,
                       "%s: sha256 mismatch (manifest %.16s..., file %.16s...): the bundle was "
                       "modified after it was written",
                       path, want, got);
  if (s || !out) {
    free(path);
    free(bytes);
    return s;
  }
  *out = (tk_bundle_file){.path = path, .bytes = bytes, .size = size};
  return TK_STATUS_OK;
}

/* ---- Duplicate keys -------------------------------------------------------------------------- */

static int compare_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first key that `obj` holds twice, or NULL; keys are compared as cJSON unescaped them. */
static tk_status find_duplicate_key(const cJSON *obj, const char **out) {
  *out = NULL;
  int n = cJSON_GetArraySize(obj);
  if (n < 2) return TK_STATUS_OK;
  const char **keys = tk_malloc((size_t)n * sizeof *keys);
  if (!keys) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  int i = 0;
  for (const cJSON *m = obj->child; m; m = m->next) keys[i++] = m->string;
  qsort(keys, (size_t)n, sizeof *keys, compare_keys);
  for (i = 1; i < n && !*out; i++)
    if (!strcmp(keys[i - 1], keys[i])) *out = keys[i];
  free(keys);
  return TK_STATUS_OK;
}

/* docs/abi.md "manifest.json": no object of the manifest holds a key twice, after unescaping
 * (a key spelled "\u0061rch" is "arch"). So the member the reader takes is the only one, and
 * the arch text the fingerprint hashes is the arch the runtime uses. `where` is the JSON path
 * of v, for the message ("$", "$.targets[0]"). */
static tk_status check_unique_keys(const manifest_ctx *c, const cJSON *v, const char *where) {
  if (cJSON_IsObject(v)) {
    const char *dup = NULL;
    TK_RETURN_IF_ERROR(find_duplicate_key(v, &dup));
    if (dup)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "%s: %s: the key \"%.64s\" appears more than once (after "
                            "unescaping); every key of an object must be unique",
                            c->path, where, dup);
  }
  int i = 0;
  for (const cJSON *m = cJSON_IsObject(v) || cJSON_IsArray(v) ? v->child : NULL; m;
       m = m->next, i++) {
    char sub[256];
    if (cJSON_IsObject(v))
      snprintf(sub, sizeof sub, "%s.%.64s", where, m->string);
    else
      snprintf(sub, sizeof sub, "%s[%d]", where, i);
    TK_RETURN_IF_ERROR(check_unique_keys(c, m, sub));
  }
  return TK_STATUS_OK;
}

/* ---- The arch and its fingerprint ---------------------------------------------------------- */

/* cJSON's whitespace: every byte from 1 to 32 (the member walk below must skip what it skips). */
static bool is_json_space(char ch) { return ch && (unsigned char)ch <= 32; }

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
      while (text[i] && !is_json_space(text[i]) && !strchr(",}]", text[i])) i++; /* a scalar */
    } else {
      i++;
    }
  } while (depth > 0 && text[i]);
  return i;
}

static size_t skip_space(const char *text, size_t i) {
  while (is_json_space(text[i])) i++;
  return i;
}

/* The raw text of member number `index` of the (valid) JSON object `text`: the member the
 * cJSON tree holds at that position, however its key is spelled in the text. */
static bool member_span(const char *text, int index, size_t *start, size_t *len) {
  size_t i = skip_space(text, 0);
  if (text[i] != '{') return false;
  i = skip_space(text, i + 1);
  for (int n = 0; text[i] == '"'; n++) {
    i = skip_space(text, skip_value(text, i));
    if (text[i] != ':') return false;
    i = skip_space(text, i + 1);
    size_t v_end = skip_value(text, i);
    if (n == index) {
      *start = i;
      *len = v_end - i;
      return true;
    }
    i = skip_space(text, v_end);
    if (text[i] == ',') i = skip_space(text, i + 1);
  }
  return false;
}

/* The position of `key` among root's members (keys are unique: check_unique_keys), or -1. */
static int member_index(const cJSON *root, const char *key) {
  int i = 0;
  for (const cJSON *m = root->child; m; m = m->next, i++)
    if (!strcmp(m->string, key)) return i;
  return -1;
}

/* docs/formats.md §1: fingerprint = the first 8 bytes of SHA-256(canonical arch), in hex. The
 * text hashed is that of the member read_arch reads. */
static tk_status check_fingerprint(const manifest_ctx *c, const char *text, const cJSON *root,
                                   tk_bundle *b) {
  const char *fp = b->fingerprint;
  if (!is_lower_hex(fp, 16))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: \"fingerprint\": \"%s\" is not 16 lowercase hex digits", c->path,
                          fp);
  size_t start, len;
  if (!member_span(text, member_index(root, "arch"), &start, &len))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: no \"arch\" member", c->path);
  b->arch_json = tk_strndup(text + start, len);
  if (!b->arch_json) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  char got[65];
  TK_RETURN_IF_ERROR(tk_sha256_hex(text + start, len, got));
  got[16] = '\0';
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
  TK_RETURN_IF_ERROR(get_int(c, arch, "arch.", "n_experts", 0, 512, &e));
  TK_RETURN_IF_ERROR(get_int(c, arch, "arch.", "top_k", 0, 512, &k));
  bool dense = !strcmp(kind, "Dense");
  bool routed = !strcmp(kind, "MoE") || !strcmp(kind, "Qwen3MoE");
  if (dense ? (e != 0 || k != 0) : (!routed || k < 1 || k > e))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: arch: model_kind \"%s\" with n_experts %lld and top_k %lld is not "
                          "a valid arch (docs/formats.md §1)",
                          c->path, kind, (long long)e, (long long)k);
  b->info.in_dim = (int32_t)in;
  b->info.out_dim = (int32_t)out;
  b->info.n_experts = (int32_t)e;
  b->info.top_k = (int32_t)k;
  b->qwen3_moe = !strcmp(kind, "Qwen3MoE");
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

/* A host_stub object {source, header, library} at `where` ("host_stub", "targets[1].host_stub"):
 * each file checked; the library's bytes kept in *lib. */
static tk_status read_stub(const manifest_ctx *c, const cJSON *host, const char *where,
                           tk_bundle_file *lib) {
  static const char *const parts[] = {"source", "header", "library"};
  for (size_t i = 0; i < 3; i++) {
    char at[64];
    snprintf(at, sizeof at, "%s.%s.", where, parts[i]);
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(host, parts[i]);
    if (!cJSON_IsObject(entry))
      return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s.\"%s\": expected an object", c->path,
                            where, parts[i]);
    TK_RETURN_IF_ERROR(check_file(c, entry, at, i == 2 ? lib : NULL));
  }
  return TK_STATUS_OK;
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
  TK_RETURN_IF_ERROR(check_file(c, entry, where, &t->code));
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(entry, "host_stub");
  if (!host) return TK_STATUS_OK;
  char at[48];
  snprintf(at, sizeof at, "targets[%d].host_stub", i);
  if (t->kind == TK_TARGET_KIND_X86_64_SIMT)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: %s: only an x86_64, amdgcn or nvptx entry has its own stub", c->path,
                          at);
  return read_stub(c, host, at, &t->host);
}

/* docs/abi.md "manifest.json": one x86_64 entry per CPU level. */
static tk_status check_levels_unique(const manifest_ctx *c, const tk_bundle *b) {
  for (int32_t i = 0; i < b->n_targets; i++)
    for (int32_t k = 0; k < i; k++)
      if (b->targets[i].kind == TK_TARGET_KIND_X86_64 &&
          b->targets[k].kind == TK_TARGET_KIND_X86_64 &&
          !strcmp(b->targets[i].arch, b->targets[k].arch))
        return tk_status_make(TK_INVALID_ARGUMENT,
                              "%s: targets[%d] and targets[%d] are both x86_64 code for cpu "
                              "\"%s\": expected one entry per CPU level",
                              c->path, k, i, b->targets[i].arch);
  return TK_STATUS_OK;
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
  return check_levels_unique(c, b);
}

static tk_status read_host_stub(const manifest_ctx *c, const cJSON *root, tk_bundle *b) {
  return read_stub(c, cJSON_GetObjectItemCaseSensitive(root, "host_stub"), "host_stub", &b->host);
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
  tk_status s = check_unique_keys(c, root, "$");
  if (!s) s = get_string(c, root, "", "format", &format);
  if (!s && strcmp(format, TK_BUNDLE_FORMAT))
    s = tk_status_make(TK_INVALID_ARGUMENT,
                       "%s: \"format\" is \"%s\", expected \"" TK_BUNDLE_FORMAT "\" (recompile the "
                       "bundle with this tkc)",
                       c->path, format);
  if (!s) s = get_string(c, root, "", "fingerprint", &fingerprint);
  if (!s && !(b->fingerprint = tk_strdup(fingerprint)))
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) s = read_arch(c, root, b);
  if (!s) s = check_fingerprint(c, text, root, b);
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
  size_t size = 0;
  tk_status s = tk_fs_read_regular(path, MANIFEST_MAX_BYTES, &text, &size);
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
    free(b->targets[i].code.path);
    free(b->targets[i].code.bytes);
    free(b->targets[i].host.path);
    free(b->targets[i].host.bytes);
  }
  free(b->targets);
  for (int32_t i = 0; i < b->n_params; i++) free((char *)b->params[i].name);
  free(b->params);
  free(b->dir);
  free(b->fingerprint);
  free(b->arch_json);
  free(b->host.path);
  free(b->host.bytes);
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
