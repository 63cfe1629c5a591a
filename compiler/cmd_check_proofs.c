/* compiler/cmd_check_proofs.c — `tkc check-proofs BUNDLE`: checks that a bundle's proofs are
 * the proofs of its code (docs/proofs.md "Checking a bundle").
 *
 * In order, each step stopping at the first mismatch:
 *   1. every file the manifest lists (code objects, host stubs) has the sha256 it records;
 *   2. the proof store: each proofs/queries/<h>.smt2 hashes to h, index.json names exactly
 *      those queries, and its root, query and obligation counts equal the manifest's
 *      certificate (and the root is recomputed from the hashes); likewise the store of each
 *      further CPU level (certificate.cpu_levels[i].proofs, proofs/<level>) and GPU tile set
 *      (certificate.gpu_tile_sets[i].proofs, proofs/gpu-<set>);
 *   3. the bundle is regenerated from the manifest's canonical arch, max_batch and
 *      certificate options by tkc_compile — the pipeline `tkc compile` runs, verification and
 *      codegen included — into a temp dir, and every file of the two trees must be byte-identical
 *      (tkc's output is deterministic): the manifest with its IR hashes, index.json, each
 *      query, each code object, the host stub and model_host.so, and last the output marker
 *      (runtime/fs.h), which changes with any of them;
 *   4. unless --no-replay, every distinct query is replayed in z3 and cvc5 (compiler/replay.c),
 *      each of which must print `unsat`: proofs/queries, then the further levels' and tile
 *      sets' queries that are not among those (most are the same in every store).
 * Exit codes: 0 ok, 1 unreadable bundle, 2 usage, 3 mismatch (the message names the file,
 * hash, line or obligation), 4 internal error or a missing solver. Progress on stderr.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler/bundle_fs.h"
#include "compiler/replay.h"
#include "compiler/tkc.h"
#include "compiler/tkc_commands.h"
#include "runtime/fs.h"
#include "runtime/sha256.h"
#include "tk/alloc.h"

static const char *const CMD = "check-proofs";

static void print_help(void) {
  printf("usage: tkc check-proofs BUNDLE [--no-replay] [--solvers=z3,cvc5] [-j N]\n"
         "\n"
         "Checks that BUNDLE's proofs are the proofs of its code: every file's sha256 against\n"
         "manifest.json; the proof store (proofs/queries/<sha256>.smt2, proofs/index.json and\n"
         "its root) against the manifest's certificate; then regenerates the bundle from its\n"
         "arch and options (verification and codegen, as tkc compile) and requires every file\n"
         "to be byte-identical; then replays every distinct query in each solver (unsat).\n"
         "\n"
         "Options:\n"
         "  --no-replay       check hashes and regenerate only; run no solver\n"
         "  --solvers=LIST    z3,cvc5 (default) or z3 or cvc5; each must be on PATH\n"
         "  -j N              solver processes at a time (default 2)\n"
         "  -h, --help        show this help\n"
         "\n"
         "Exit codes: 0 the bundle checks out, 1 unreadable bundle, 2 usage, 3 a mismatch (the\n"
         "message names the file, hash or obligation), 4 internal error or a solver missing.\n");
}

typedef struct check_args {
  const char *bundle;
  bool replay;
  const char *solvers;
  int jobs;
} check_args;

static int parse_args(int argc, char **argv, check_args *a) {
  *a = (check_args){.replay = true, .solvers = "z3,cvc5", .jobs = 2};
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!strcmp(s, "--no-replay")) {
      a->replay = false;
    } else if (!strncmp(s, "--solvers=", 10)) {
      a->solvers = s + 10;
      if (strcmp(a->solvers, "z3,cvc5") && strcmp(a->solvers, "z3") && strcmp(a->solvers, "cvc5"))
        return tkc_usage_error(CMD, "--solvers=%s: expected z3,cvc5, z3 or cvc5", a->solvers);
    } else if (!strcmp(s, "-j") && i + 1 < argc) {
      char *end;
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 1 || n > 64) return tkc_usage_error(CMD, "-j %s: expected 1 to 64", argv[i]);
      a->jobs = (int)n;
    } else if (s[0] == '-' && s[1]) {
      return tkc_usage_error(CMD, "unknown option '%s'", s);
    } else if (a->bundle) {
      return tkc_usage_error(CMD, "more than one BUNDLE ('%s', '%s')", a->bundle, s);
    } else {
      a->bundle = s;
    }
  }
  return a->bundle ? -1 : tkc_usage_error(CMD, "missing BUNDLE");
}

static void progress(const char *what) { fprintf(stderr, "tkc check-proofs: %s\n", what); }

static tk_status mismatch(const char *fmt, const char *a, const char *b) {
  return tk_status_make(TK_PROOF_FAILED, fmt, a, b);
}

/* ---- the manifest ------------------------------------------------------------------------ */

typedef struct bundle_manifest {
  char *text;
  cJSON *root;
  const cJSON *certificate;
} bundle_manifest;

static tk_status read_manifest(const char *dir, bundle_manifest *m) {
  size_t size = 0;
  TK_RETURN_IF_ERROR(tkc_fs_read(dir, "manifest.json", &m->text, &size));
  m->root = cJSON_ParseWithLength(m->text, size);
  if (!cJSON_IsObject(m->root))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s/manifest.json: not a JSON object", dir);
  m->certificate = cJSON_GetObjectItemCaseSensitive(m->root, "certificate");
  if (!cJSON_IsObject(m->certificate))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s/manifest.json: no \"certificate\" (a bundle of an older tkc, or "
                          "not verified)",
                          dir);
  return TK_STATUS_OK;
}

static const char *str_of(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ---- step 1: file hashes ------------------------------------------------------------------ */

/* dir/file hashes to want; `source` names where want comes from. */
static tk_status check_hash(const char *dir, const char *file, const char *want,
                            const char *source) {
  if (!file || !want || strchr(file, '/'))
    return tk_status_make(TK_INVALID_ARGUMENT, "manifest.json: a file entry without file/sha256");
  char *data = NULL, got[65];
  size_t size = 0;
  TK_RETURN_IF_ERROR(tkc_fs_read(dir, file, &data, &size));
  tk_status s = tk_sha256_hex(data, size, got);
  free(data);
  if (!s && strcmp(got, want))
    s = tk_status_make(TK_PROOF_FAILED, "%s: sha256 %s, %s says %s", file, got, source, want);
  return s;
}

/* The files of a host_stub object (source, header, library). */
static tk_status check_stub_hashes(const char *dir, const cJSON *stub) {
  const cJSON *f;
  cJSON_ArrayForEach(f, stub) {
    TK_RETURN_IF_ERROR(check_hash(dir, str_of(f, "file"), str_of(f, "sha256"), "manifest.json"));
  }
  return TK_STATUS_OK;
}

/* Every target's file (and a further CPU level's own stub), and the bundle's stub. */
static tk_status check_file_hashes(const char *dir, const bundle_manifest *m) {
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m->root, "targets")) {
    TK_RETURN_IF_ERROR(check_hash(dir, str_of(t, "file"), str_of(t, "sha256"), "manifest.json"));
    TK_RETURN_IF_ERROR(check_stub_hashes(dir, cJSON_GetObjectItemCaseSensitive(t, "host_stub")));
  }
  return check_stub_hashes(dir, cJSON_GetObjectItemCaseSensitive(m->root, "host_stub"));
}

/* ---- step 2: the proof store -------------------------------------------------------------- */

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of a directory's entries (not . and ..), sorted; *names tk_malloc'd. */
static tk_status list_dir(const char *path, char ***names, size_t *n) {
  *names = NULL;
  *n = 0;
  DIR *d = opendir(path);
  if (!d) return tk_status_make(TK_IO_ERROR, "cannot list %s", path);
  size_t cap = 0;
  tk_status s = TK_STATUS_OK;
  for (struct dirent *e; !s && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      char **p = tk_realloc(*names, cap * sizeof *p);
      if (!p) s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory listing %s", path);
      if (p) *names = p;
    }
    if (!s && !((*names)[*n] = tk_strdup(e->d_name)))
      s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory listing %s", path);
    if (!s) ++*n;
  }
  closedir(d);
  if (!s) qsort(*names, *n, sizeof **names, compare_strings);
  return s;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* Each queries/<h>.smt2 hashes to h; the root of their names. */
static tk_status check_query_files(const char *qdir, char **names, size_t n, char root[65]) {
  char *hashes = tk_malloc(n * 65 + 1);
  if (!hashes) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = TK_STATUS_OK;
  for (size_t i = 0; !s && i < n; i++) {
    if (strlen(names[i]) != 64 + 5 || strcmp(names[i] + 64, ".smt2")) {
      s = mismatch("proofs/queries/%s: not a <sha256>.smt2 name%s", names[i], "");
      break;
    }
    char want[65];
    snprintf(want, sizeof want, "%.64s", names[i]);
    s = tk_status_annotate(check_hash(qdir, names[i], want, "its name"), "proofs/queries");
    memcpy(hashes + 65 * i, want, 64);
    hashes[65 * i + 64] = '\n';
  }
  if (!s) s = tk_sha256_hex(hashes, n * 65, root);
  free(hashes);
  return s;
}

/* index.json: its root and counts, and every obligation's query among the files;
 * `certificate` is the object holding the store's proofs_root, queries and obligations. */
static tk_status check_index(const char *proofs, char **names, size_t n, const char *root,
                             const cJSON *certificate) {
  char *text = NULL;
  size_t size = 0;
  TK_RETURN_IF_ERROR(tkc_fs_read(proofs, TK_VERIFY_INDEX_FILE, &text, &size));
  cJSON *index = cJSON_ParseWithLength(text, size);
  free(text);
  tk_status s = TK_STATUS_OK;
  const cJSON *obls = cJSON_GetObjectItemCaseSensitive(index, "obligations");
  const char *iroot = str_of(index, "root"), *croot = str_of(certificate, "proofs_root");
  if (!cJSON_IsArray(obls) || !iroot)
    s = mismatch("proofs/index.json: not an index (no root or obligations)%s%s", "", "");
  else if (strcmp(iroot, root))
    s = mismatch("proofs/index.json: root %s, the query files' root is %s", iroot, root);
  else if (!croot || strcmp(croot, root))
    s = mismatch("manifest.json: certificate proofs_root %s, the proof store's root is %s",
                 croot ? croot : "(none)", root);
  else if (num_of(index, "queries") != (double)n || num_of(certificate, "queries") != (double)n ||
           num_of(certificate, "obligations") != (double)cJSON_GetArraySize(obls))
    s = mismatch("proofs/index.json or manifest.json: query or obligation counts differ from "
                 "the store%s%s",
                 "", "");
  const cJSON *o, *checked = s ? NULL : obls;
  cJSON_ArrayForEach(o, checked) {
    const char *q = str_of(o, "query");
    char name[80];
    snprintf(name, sizeof name, "%s.smt2", q ? q : "");
    if (!q || !bsearch(&(const char *){name}, names, n, sizeof *names, compare_strings)) {
      const char *id = str_of(o, "id");
      s = mismatch("proofs/index.json: obligation %s names query %s, which is not in "
                   "proofs/queries",
                   id ? id : "?", q ? q : "(none)");
      break;
    }
  }
  cJSON_Delete(index);
  return s;
}

/* One store, dir/rel ("proofs" or "proofs/<level>"), against `certificate` (its digest). */
static tk_status check_store(const char *dir, const char *rel, const cJSON *certificate) {
  char proofs[4096], qdir[4200];
  snprintf(proofs, sizeof proofs, "%s/%s", dir, rel);
  snprintf(qdir, sizeof qdir, "%s/" TK_VERIFY_QUERIES_DIR, proofs);
  char **names = NULL, root[65];
  size_t n = 0;
  TK_RETURN_IF_ERROR(list_dir(qdir, &names, &n));
  tk_status s = check_query_files(qdir, names, n, root);
  if (!s) s = check_index(proofs, names, n, root, certificate);
  free_names(names, n);
  return strcmp(rel, "proofs") ? tk_status_annotate(s, "proof store %s", rel) : s;
}

/* A further level's store name: "proofs/<name>", one plain name below proofs/. */
static const char *level_store(const cJSON *level) {
  const char *rel = str_of(level, "proofs");
  if (!rel || strncmp(rel, "proofs/", 7) || !rel[7] || strchr(rel + 7, '/') ||
      !strcmp(rel + 7, ".") || !strcmp(rel + 7, ".."))
    return NULL;
  return rel;
}

/* The certificate's lists of further proof stores: CPU levels, GPU tile sets. */
static const char *const SUB_STORES[] = {"cpu_levels", "gpu_tile_sets"};
enum { N_SUB_STORES = sizeof SUB_STORES / sizeof SUB_STORES[0] };

static tk_status check_proof_store(const char *dir, const bundle_manifest *m) {
  TK_RETURN_IF_ERROR(check_store(dir, "proofs", m->certificate));
  for (int i = 0; i < N_SUB_STORES; i++) {
    const cJSON *sub;
    cJSON_ArrayForEach(sub, cJSON_GetObjectItemCaseSensitive(m->certificate, SUB_STORES[i])) {
      const char *rel = level_store(sub);
      if (!rel)
        return tk_status_make(TK_INVALID_ARGUMENT,
                              "manifest.json: certificate.%s: an entry without \"proofs\": "
                              "\"proofs/<name>\"",
                              SUB_STORES[i]);
      TK_RETURN_IF_ERROR(check_store(dir, rel, sub));
    }
  }
  return TK_STATUS_OK;
}

/* ---- step 3: regenerate and compare ------------------------------------------------------- */

/* The canonical arch as the manifest holds it: the rest of the `  "arch": ` line, verbatim
 * (a cJSON round trip would round a 64-bit seed). */
static tk_status manifest_arch(const bundle_manifest *m, tk_arch *arch) {
  const char *key = "\n  \"arch\": ";
  const char *p = strstr(m->text, key);
  if (!p) return tk_status_make(TK_INVALID_ARGUMENT, "manifest.json: no \"arch\" line");
  p += strlen(key);
  size_t len = strcspn(p, "\n");
  if (len && p[len - 1] == ',') len--;
  return tk_status_annotate(tk_arch_parse(p, len, "manifest.json arch", arch), "manifest.json");
}

/* An optional certificate option that is either `value` or absent (`otherwise`, the default). */
static tk_status flag_of(const cJSON *opt, const char *key, const char *value,
                         const char *otherwise, bool *set) {
  const char *v = str_of(opt, key);
  *set = v != NULL;
  if (!v || !strcmp(v, value)) return TK_STATUS_OK;
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "manifest.json: certificate option %s \"%s\": expected \"%s\" (or no %s "
                        "key, %s)",
                        key, v, value, key, otherwise);
}

static tk_status regen_options(const bundle_manifest *m, tkc_options *o, tk_arch *arch) {
  const cJSON *opt = cJSON_GetObjectItemCaseSensitive(m->certificate, "options");
  tkc_options_default(o);
  o->targets = str_of(opt, "targets");
  o->offload_arch = str_of(opt, "offload_arch");
  o->cuda_arch = str_of(opt, "cuda_arch");
  o->cpu = str_of(opt, "cpu");
  o->code_object_version = (int)num_of(opt, "code_object_version");
  bool sparse, tiled;
  TK_RETURN_IF_ERROR(flag_of(opt, "dispatch", "sparse", "dense", &sparse));
  TK_RETURN_IF_ERROR(flag_of(opt, "gpu_schedule", "tiled", "simple", &tiled));
  o->dispatch = sparse ? TK_DISPATCH_SPARSE : TK_DISPATCH_DENSE;
  o->gpu_schedule = tiled ? TK_GPU_SCHEDULE_TILED : TK_GPU_SCHEDULE_SIMPLE;
  o->max_batch = (int64_t)num_of(m->root, "max_batch");
  if (!o->targets || !o->cpu || o->code_object_version < 0 || o->max_batch < 1)
    return tk_status_make(TK_INVALID_ARGUMENT, "manifest.json: certificate options (targets, cpu, "
                                               "code_object_version) or max_batch missing");
  TK_RETURN_IF_ERROR(manifest_arch(m, arch));
  o->arch = arch;
  o->quiet = true;
  return TK_STATUS_OK;
}

/* The obligation id an index.json line starts with, as " (obligation ID)", or "". */
static void obligation_of(const char *line, char *out, size_t size) {
  const char *key = "{\"id\": \"";
  const char *p = strstr(line, key);
  out[0] = '\0';
  if (p && p < line + strcspn(line, "\n"))
    snprintf(out, size, " (obligation %.*s)", (int)strcspn(p + strlen(key), "\"\n"),
             p + strlen(key));
}

/* The first line and column where a and b differ (1-based), with both texts around it. */
static tk_status text_mismatch(const char *rel, const char *a, const char *b) {
  int line = 1;
  const char *la = a;
  size_t i = 0;
  for (; a[i] && a[i] == b[i]; i++)
    if (a[i] == '\n') {
      line++;
      la = a + i + 1;
    }
  size_t col = (size_t)(a + i - la), from = col > 60 ? col - 60 : 0;
  const char *lb = b + (la - a);
  int na = (int)strcspn(la + from, "\n"), nb = (int)strcspn(lb + from, "\n");
  char id[160];
  obligation_of(la, id, sizeof id);
  return tk_status_make(TK_PROOF_FAILED,
                        "%s differs from the regenerated bundle at line %d, column %zu%s:\n"
                        "  bundle:      ...%.*s\n  regenerated: ...%.*s",
                        rel, line, col + 1, id, na > 160 ? 160 : na, la + from, nb > 160 ? 160 : nb,
                        lb + from);
}

static bool is_text(const char *data, size_t size) { return strlen(data) == size; }

static tk_status compare_file(const char *bundle, const char *regen, const char *rel) {
  char *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  tk_status s = tkc_fs_read(bundle, rel, &a, &na);
  if (!s) s = tkc_fs_read(regen, rel, &b, &nb);
  if (!s && (na != nb || memcmp(a, b, na)))
    s = is_text(a, na) && is_text(b, nb)
            ? text_mismatch(rel, a, b)
            : mismatch("%s differs from the regenerated bundle (%s)", rel,
                       "binary; tkc's output is deterministic for one tkc and one C compiler");
  free(a);
  free(b);
  return s;
}

static bool is_dir(const char *root, const char *rel) {
  char path[8192];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", root, rel);
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Removes `name` from the sorted list names[0..*n), if there. */
static void drop_name(char **names, size_t *n, const char *name) {
  char **hit = *n ? bsearch(&name, names, *n, sizeof *names, compare_strings) : NULL;
  if (!hit) return;
  free(*hit);
  memmove(hit, hit + 1, (size_t)(names + *n - (hit + 1)) * sizeof *names);
  --*n;
}

/* The trees bundle/rel and regen/rel hold the same names, and the same bytes under them; the
 * output marker at the top is left to compare_marker. */
static tk_status compare_trees(const char *bundle, const char *regen, const char *rel) {
  char pa[8192], pb[8192];
  snprintf(pa, sizeof pa, "%s%s%s", bundle, *rel ? "/" : "", rel);
  snprintf(pb, sizeof pb, "%s%s%s", regen, *rel ? "/" : "", rel);
  char **a = NULL, **b = NULL;
  size_t na = 0, nb = 0;
  tk_status s = list_dir(pa, &a, &na);
  if (!s) s = list_dir(pb, &b, &nb);
  if (!s && !*rel) {
    drop_name(a, &na, TK_FS_MARKER_FILE);
    drop_name(b, &nb, TK_FS_MARKER_FILE);
  }
  for (size_t i = 0, k = 0; !s && (i < na || k < nb);) {
    int c = i == na ? 1 : k == nb ? -1 : strcmp(a[i], b[k]);
    char sub[4096];
    snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", c <= 0 ? a[i] : b[k]);
    if (c < 0)
      s = mismatch("%s: in the bundle but not in the regenerated one%s", sub, "");
    else if (c > 0)
      s = mismatch("%s: missing from the bundle%s", sub, "");
    else if (is_dir(bundle, sub))
      s = compare_trees(bundle, regen, sub);
    else
      s = compare_file(bundle, regen, sub);
    i += c <= 0;
    k += c >= 0;
  }
  free_names(a, na);
  free_names(b, nb);
  return s;
}

/* The output marker lists every file with its hash, so it differs whenever any file does:
 * compared last, after the file that differs has been named. */
static tk_status compare_marker(const char *bundle, const char *regen) {
  char path[4200];
  struct stat st;
  snprintf(path, sizeof path, "%s/" TK_FS_MARKER_FILE, bundle);
  if (lstat(path, &st) != 0)
    return mismatch("%s: missing from the bundle%s", TK_FS_MARKER_FILE, "");
  return compare_file(bundle, regen, TK_FS_MARKER_FILE);
}

static tk_status regenerate_and_compare(const char *dir, const bundle_manifest *m,
                                        const char *work) {
  tkc_options o;
  tk_arch arch;
  TK_RETURN_IF_ERROR(regen_options(m, &o, &arch));
  char out[4200];
  snprintf(out, sizeof out, "%s/bundle", work);
  o.out_dir = out;
  fprintf(stderr,
          "tkc check-proofs: regenerating (targets %s, cpu %s, max_batch %lld): verify + "
          "codegen\n",
          o.targets, o.cpu, (long long)o.max_batch);
  tk_status s = tkc_compile(&o);
  if (tk_status_code_of(s) == TK_PROOF_FAILED)
    return tk_status_annotate(s, "the bundle's arch and options do not verify");
  TK_RETURN_IF_ERROR(s);
  progress("comparing every file with the regenerated bundle");
  TK_RETURN_IF_ERROR(compare_trees(dir, out, ""));
  return compare_marker(dir, out);
}

/* ---- step 4: the further levels' own queries ---------------------------------------------- */

/* Links dir/rel/queries/<name> into `into` unless `into` or proofs/queries has it already. */
static tk_status link_new_queries(const char *dir, const char *rel, const char *into) {
  char qdir[4200], path[8400], seen[8400], link[8400];
  snprintf(qdir, sizeof qdir, "%s/%s/" TK_VERIFY_QUERIES_DIR, dir, rel);
  char **names = NULL;
  size_t n = 0;
  TK_RETURN_IF_ERROR(list_dir(qdir, &names, &n));
  tk_status s = TK_STATUS_OK;
  for (size_t i = 0; !s && i < n; i++) {
    struct stat st;
    snprintf(seen, sizeof seen, "%s/proofs/" TK_VERIFY_QUERIES_DIR "/%s", dir, names[i]);
    snprintf(link, sizeof link, "%s/%s", into, names[i]);
    if (stat(seen, &st) == 0 || lstat(link, &st) == 0) continue;
    snprintf(path, sizeof path, "%s/%s", qdir, names[i]);
    char *abs = realpath(path, NULL);
    if (!abs || symlink(abs, link) != 0)
      s = tk_status_make(TK_IO_ERROR, "cannot link %s into %s", path, into);
    free(abs);
  }
  free_names(names, n);
  return s;
}

/* Replays the queries of the further stores (levels, tile sets) that proofs/queries does not
 * hold. */
static tk_status replay_levels(const check_args *a, const bundle_manifest *m, const char *work) {
  int stores = 0;
  for (int i = 0; i < N_SUB_STORES; i++)
    stores += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m->certificate, SUB_STORES[i]));
  if (!stores) return TK_STATUS_OK;
  char into[4200], out[4200];
  snprintf(into, sizeof into, "%s/level-queries", work);
  snprintf(out, sizeof out, "%s/level-replay", work);
  if (mkdir(into, 0700) != 0 || mkdir(out, 0700) != 0)
    return tk_status_make(TK_IO_ERROR, "cannot create %s", into);
  for (int i = 0; i < N_SUB_STORES; i++) {
    const cJSON *sub;
    cJSON_ArrayForEach(sub, cJSON_GetObjectItemCaseSensitive(m->certificate, SUB_STORES[i])) {
      TK_RETURN_IF_ERROR(link_new_queries(a->bundle, level_store(sub), into));
    }
  }
  progress("replaying the further CPU levels' and GPU tile sets' own queries");
  return tkc_replay_queries(into, a->solvers, a->jobs, out);
}

/* ---- the command -------------------------------------------------------------------------- */

static tk_status check_bundle(const check_args *a, const char *work) {
  bundle_manifest m = {0};
  tk_status s = read_manifest(a->bundle, &m);
  if (!s) progress("file hashes against manifest.json");
  if (!s) s = check_file_hashes(a->bundle, &m);
  if (!s) progress("proof store (proofs/queries, proofs/index.json, root)");
  if (!s) s = check_proof_store(a->bundle, &m);
  if (!s) s = regenerate_and_compare(a->bundle, &m, work);
  if (!s && a->replay) {
    char qdir[4200];
    snprintf(qdir, sizeof qdir, "%s/proofs/" TK_VERIFY_QUERIES_DIR, a->bundle);
    s = tkc_replay_queries(qdir, a->solvers, a->jobs, work);
    if (!s) s = replay_levels(a, &m, work);
  }
  cJSON_Delete(m.root);
  free(m.text);
  return s;
}

static int run(const check_args *a) {
  const char *tmp = getenv("TMPDIR");
  char work[4096];
  snprintf(work, sizeof work, "%s/tkc-check-proofs.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(work))
    return tkc_fail(CMD, tk_status_make(TK_INTERNAL, "cannot create a temp dir in %s",
                                        tmp && *tmp ? tmp : "/tmp"));
  tk_status s = tkc_replay_solvers_present(a->replay ? a->solvers : "");
  if (!s) s = check_bundle(a, work);
  tkc_fs_remove_tree(work);
  if (s) return tkc_fail(CMD, s);
  printf("ok: %s: hashes, proof store and regenerated bundle agree%s\n", a->bundle,
         a->replay ? "; every query unsat" : " (queries not replayed: --no-replay)");
  return TKC_EXIT_OK;
}

int tkc_cmd_check_proofs(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    print_help();
    return TKC_EXIT_OK;
  }
  check_args a;
  int rc = parse_args(argc, argv, &a);
  return rc >= 0 ? rc : run(&a);
}
