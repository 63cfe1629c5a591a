/* verify/report.c — the verifier's record: one entry per obligation (class, kernel, target,
 * statement, rlimit units, SMT-LIB2 query and its hash), the per-class summary, and the proof
 * store (docs/proofs.md "The files"):
 *   <dir>/queries/<sha256>.smt2  one file per distinct query; its bytes are exactly the
 *                                obligation text without its `;` comment lines, and <sha256>
 *                                is their hash, so obligations that ask the same question
 *                                share one file
 *   <dir>/index.json             {format, root, queries, obligations: [{id, class, kernel,
 *                                target, statement, result, rlimit, query}]}
 * The root is the sha256 of the distinct query hashes in ascending order, each followed by
 * one '\n' (`ls queries | sed 's/.smt2$//' | sha256sum` in the C locale). An obligation's id
 * is <kernel>.<target>.<class>.<n> (n counts from 0 per kernel/target/class).
 *
 * Each entry also says whether the obligation needs its path hypotheses (it was not proved
 * without them; docs/proofs.md "Obligations that carry weight").
 *
 * Guarantees: index.json and the query files hold nothing time-dependent (solver seconds are
 * kept for stderr only); tk_verify_write_proofs_dir replaces a directory all or nothing
 * (libtkrt's directory-replace routine, runtime/fs.h, shared with the bundle writer).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "verify/verify_internal.h"
#include "runtime/fs.h"
#include "runtime/sha256.h"
#include "tk/alloc.h"

_Static_assert(TK_VERIFY_NCLASSES == TK_OBL_NCLASSES, "verify.h class count");

typedef struct tk_report_entry {
  tk_obl_class cls;
  char *kernel;
  const char *target; /* "gpu", "cpu" or "graph" (static strings) */
  char *statement;
  uint64_t rlimit;
  bool needs_hyps; /* not proved without its path hypotheses */
  int index;       /* n of the obligation's id */
  char *text;      /* the query: the SMT-LIB2 text without comment lines (NULL if not kept) */
  char query[65];  /* sha256 of text ("" if not kept) */
} tk_report_entry;

struct tk_verify_report {
  size_t n, cap;
  tk_report_entry *items;
  double seconds[TK_OBL_NCLASSES];
};

static const char *const CLASS_NAMES[TK_OBL_NCLASSES] = {
    "shape",    "padding", "bounds",   "no_overflow", "race",    "topk",
    "dataflow", "layout",  "dispatch", "address",     "control", "host"};

const char *tk_verify_obl_class_name(tk_obl_class c) {
  return (unsigned)c < TK_OBL_NCLASSES ? CLASS_NAMES[c] : "?";
}

tk_status tk_verify_report_create(tk_verify_report **out) {
  *out = tk_calloc(1, sizeof **out);
  return *out ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
}

void tk_verify_report_free(tk_verify_report *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    free(r->items[i].kernel);
    free(r->items[i].statement);
    free(r->items[i].text);
  }
  free(r->items);
  free(r);
}

int tk_verify_report_next_index(const tk_verify_report *r, const char *kernel, const char *target,
                                tk_obl_class cls) {
  int n = 0;
  /* Entries of one kernel and target are contiguous (the driver goes kernel by kernel), so
   * scanning back to the first entry of another kernel/target is enough. */
  for (size_t i = r->n; i-- > 0;) {
    const tk_report_entry *e = &r->items[i];
    if (strcmp(e->target, target) || strcmp(e->kernel, kernel)) {
      if (strcmp(target, "graph")) break;
      continue; /* graph obligations interleave kernels (shape edges): scan them all */
    }
    if (e->cls == cls) n++;
  }
  return n;
}

/* Removes every line that starts with ';' (the obligation's name and statement), in place. */
static void strip_comment_lines(char *text) {
  char *out = text;
  for (const char *line = text; *line;) {
    size_t n = strcspn(line, "\n");
    size_t with_newline = n + (line[n] == '\n');
    if (*line != ';') {
      memmove(out, line, with_newline);
      out += with_newline;
    }
    line += with_newline;
  }
  *out = '\0';
}

tk_status tk_verify_query_hash(char *text, char out[65]) {
  strip_comment_lines(text);
  return tk_sha256_hex(text, strlen(text), out);
}

/* The entry's query: its text without comments, and the hash naming the query file. */
static tk_status set_query(tk_report_entry *e, char *text) {
  e->text = text;
  e->query[0] = '\0';
  return text ? tk_verify_query_hash(text, e->query) : TK_STATUS_OK;
}

tk_status tk_verify_report_add(tk_verify_report *r, const tk_obl *o, uint64_t rlimit,
                               bool needs_hyps, char *text, double seconds) {
  if (r->n == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 256;
    tk_report_entry *p = tk_realloc(r->items, ncap * sizeof *p);
    if (!p) {
      free(text);
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory recording obligations");
    }
    r->items = p;
    r->cap = ncap;
  }
  tk_report_entry *e = &r->items[r->n];
  e->cls = o->cls;
  e->target = o->target;
  e->rlimit = rlimit;
  e->needs_hyps = needs_hyps;
  tk_status hashed = set_query(e, text);
  if (hashed) {
    free(text);
    return hashed;
  }
  e->index = tk_verify_report_next_index(r, o->kernel, o->target, o->cls);
  e->kernel = tk_strdup(o->kernel);
  e->statement = tk_strdup(o->statement);
  if (!e->kernel || !e->statement) {
    free(e->kernel);
    free(e->statement);
    free(text);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory recording obligations");
  }
  r->seconds[o->cls] += seconds;
  r->n++;
  return TK_STATUS_OK;
}

tk_status tk_verify_report_merge(tk_verify_report *into, tk_verify_report *from) {
  if (into->n + from->n > into->cap) {
    size_t ncap = into->n + from->n + 256;
    tk_report_entry *p = tk_realloc(into->items, ncap * sizeof *p);
    if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory merging reports");
    into->items = p;
    into->cap = ncap;
  }
  for (size_t i = 0; i < from->n; i++) {
    tk_report_entry e = from->items[i];
    e.index = 0;
    for (size_t j = 0; j < into->n; j++) {
      const tk_report_entry *o = &into->items[j];
      e.index += o->cls == e.cls && !strcmp(o->kernel, e.kernel) && !strcmp(o->target, e.target);
    }
    into->items[into->n++] = e;
  }
  for (int c = 0; c < TK_OBL_NCLASSES; c++) into->seconds[c] += from->seconds[c];
  from->n = 0;
  return TK_STATUS_OK;
}

size_t tk_verify_report_count(const tk_verify_report *r) { return r ? r->n : 0; }

double tk_verify_report_solver_seconds(const tk_verify_report *r) {
  double s = 0;
  for (int c = 0; r && c < TK_OBL_NCLASSES; c++) s += r->seconds[c];
  return s;
}

void tk_verify_report_timing(const tk_verify_report *r, FILE *out) {
  fprintf(out, "solver time %.3f s:", tk_verify_report_solver_seconds(r));
  for (int c = 0; c < TK_OBL_NCLASSES; c++)
    fprintf(out, " %s %.3f s%s", CLASS_NAMES[c], r->seconds[c],
            c + 1 < TK_OBL_NCLASSES ? "," : "\n");
}

void tk_verify_report_class_count(const tk_verify_report *r, int c, const char **name,
                                  long *count) {
  *name = CLASS_NAMES[c];
  *count = 0;
  for (size_t i = 0; i < r->n; i++) *count += r->items[i].cls == (tk_obl_class)c;
}

long tk_verify_report_class_free_count(const tk_verify_report *r, int c) {
  long n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += r->items[i].cls == (tk_obl_class)c && !r->items[i].needs_hyps;
  return n;
}

void tk_verify_report_summary(const tk_verify_report *r, FILE *out) {
  for (int c = 0; c < TK_OBL_NCLASSES; c++) {
    const char *name;
    long n;
    tk_verify_report_class_count(r, c, &name, &n);
    fprintf(out, "%-12s %6ld obligations proved (%ld without path hypotheses)\n", name, n,
            tk_verify_report_class_free_count(r, c));
  }
}

/* ---- the distinct queries and the root ---- */

static int compare_queries(const void *a, const void *b) {
  const tk_report_entry *x = *(const tk_report_entry *const *)a;
  const tk_report_entry *y = *(const tk_report_entry *const *)b;
  return strcmp(x->query, y->query);
}

/* One entry per distinct query, in ascending hash order (*out tk_malloc'd, caller frees). */
static tk_status distinct_queries(const tk_verify_report *r, const tk_report_entry ***out,
                                  size_t *n) {
  *out = NULL;
  *n = 0;
  const tk_report_entry **all = tk_malloc((r->n ? r->n : 1) * sizeof *all);
  if (!all) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory (queries)");
  for (size_t i = 0; i < r->n; i++) {
    if (!r->items[i].text) {
      free(all);
      return tk_status_make(TK_INTERNAL, "verifier: obligation text was not kept (keep_text)");
    }
    all[i] = &r->items[i];
  }
  qsort(all, r->n, sizeof *all, compare_queries);
  size_t k = 0;
  for (size_t i = 0; i < r->n; i++)
    if (k == 0 || strcmp(all[k - 1]->query, all[i]->query)) all[k++] = all[i];
  *out = all;
  *n = k;
  return TK_STATUS_OK;
}

/* sha256 over "<hash>\n" of each distinct query, ascending. */
static tk_status root_of(const tk_report_entry *const *queries, size_t n, char root[65]) {
  char *text = tk_malloc(n * 65 + 1);
  if (!text) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory (root)");
  for (size_t i = 0; i < n; i++) {
    memcpy(text + 65 * i, queries[i]->query, 64);
    text[65 * i + 64] = '\n';
  }
  tk_status s = tk_sha256_hex(text, n * 65, root);
  free(text);
  return s;
}

tk_status tk_verify_report_digest(const tk_verify_report *r, tk_verify_digest *out) {
  const tk_report_entry **queries = NULL;
  size_t n = 0;
  TK_RETURN_IF_ERROR(distinct_queries(r, &queries, &n));
  tk_status s = root_of(queries, n, out->root);
  free(queries);
  out->obligations = r->n;
  out->queries = n;
  return s;
}

/* ---- index.json ---- */

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch == '\n')
      fputs("\\n", f);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void write_entry(const tk_report_entry *e, FILE *f) {
  fprintf(f, "    {\"id\": \"%s.%s.%s.%d\", \"class\": ", e->kernel, e->target, CLASS_NAMES[e->cls],
          e->index);
  json_string(f, CLASS_NAMES[e->cls]);
  fputs(", \"kernel\": ", f);
  json_string(f, e->kernel);
  fputs(", \"target\": ", f);
  json_string(f, e->target);
  fputs(", \"statement\": ", f);
  json_string(f, e->statement);
  fprintf(
      f, ", \"result\": \"proved\", \"rlimit\": %llu, \"needs_hypotheses\": %s, \"query\": \"%s\"}",
      (unsigned long long)e->rlimit, e->needs_hyps ? "true" : "false", e->query);
}

static void write_json(const tk_verify_report *r, const tk_verify_digest *d, FILE *f) {
  fprintf(f,
          "{\n  \"format\": \"" TK_VERIFY_PROOFS_FORMAT "\",\n  \"root\": \"%s\",\n"
          "  \"queries\": %zu,\n  \"obligations\": [\n",
          d->root, d->queries);
  for (size_t i = 0; i < r->n; i++) {
    write_entry(&r->items[i], f);
    fputs(i + 1 < r->n ? ",\n" : "\n", f);
  }
  fputs("  ]\n}\n", f);
}

tk_status tk_verify_report_json(const tk_verify_report *r, char **out) {
  *out = NULL;
  tk_verify_digest d;
  TK_RETURN_IF_ERROR(tk_verify_report_digest(r, &d));
  size_t len = 0;
  FILE *f = tk_open_memstream(out, &len);
  if (!f)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory writing index.json");
  write_json(r, &d, f);
  if (fclose(f) != 0) {
    free(*out);
    *out = NULL;
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory writing index.json");
  }
  return TK_STATUS_OK;
}

/* ---- files ---- */

static tk_status write_file(const char *dir, const char *name, const char *text) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
    return tk_status_make(TK_INVALID_ARGUMENT, "proof path too long: %s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return tk_status_make(TK_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
  size_t n = strlen(text);
  bool ok = fwrite(text, 1, n, f) == n;
  ok = (fclose(f) == 0) && ok;
  return ok ? TK_STATUS_OK
            : tk_status_make(TK_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
}

static tk_status write_queries(const tk_verify_report *r, const char *dir) {
  char qdir[4096];
  if ((size_t)snprintf(qdir, sizeof qdir, "%s/" TK_VERIFY_QUERIES_DIR, dir) >= sizeof qdir)
    return tk_status_make(TK_INVALID_ARGUMENT, "proof path too long: %s", dir);
  if (mkdir(qdir, 0777) != 0 && errno != EEXIST)
    return tk_status_make(TK_IO_ERROR, "cannot create %s: %s", qdir, strerror(errno));
  const tk_report_entry **queries = NULL;
  size_t n = 0;
  TK_RETURN_IF_ERROR(distinct_queries(r, &queries, &n));
  tk_status s = TK_STATUS_OK;
  for (size_t i = 0; !s && i < n; i++) {
    char name[80];
    snprintf(name, sizeof name, "%s.smt2", queries[i]->query);
    s = write_file(qdir, name, queries[i]->text);
  }
  free(queries);
  return s;
}

tk_status tk_verify_report_write_files(const tk_verify_report *r, const char *dir) {
  TK_RETURN_IF_ERROR(write_queries(r, dir));
  char *json = NULL;
  TK_RETURN_IF_ERROR(tk_verify_report_json(r, &json));
  tk_status s = write_file(dir, TK_VERIFY_INDEX_FILE, json);
  free(json);
  return s;
}

/* --proofs-dir names a directory (not "/", "." or ".."). */
static tk_status check_dir_name(const char *dir) {
  char a[4096];
  if (strlen(dir) >= sizeof a)
    return tk_status_make(TK_INVALID_ARGUMENT, "--proofs-dir path too long");
  strcpy(a, dir);
  const char *base = basename(a);
  if (!strcmp(base, "/") || !strcmp(base, ".") || !strcmp(base, ".."))
    return tk_status_make(TK_INVALID_ARGUMENT, "--proofs-dir '%s': expected a directory name", dir);
  return TK_STATUS_OK;
}

tk_status tk_verify_write_proofs_dir(const tk_verify_report *r, const char *dir) {
  TK_RETURN_IF_ERROR(check_dir_name(dir));
  char *tmp = NULL;
  TK_RETURN_IF_ERROR(tk_fs_temp_dir(dir, &tmp));
  tk_status s = tk_verify_report_write_files(r, tmp);
  if (!s) s = tk_fs_replace_dir(tmp, dir);
  if (s) tk_fs_remove_tree(tmp);
  free(tmp);
  return s;
}
