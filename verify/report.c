/* verify/report.c — the verifier's record: one entry per obligation (class, kernel, target,
 * statement, rlimit units, SMT-LIB2 text), report.json, the per-class summary, and the proof
 * files <kernel>.<target>.<class>.<n>.smt2 (n counts from 0 per kernel/target/class).
 *
 * Each entry also says whether the obligation needs its path hypotheses (it was not proved
 * without them; docs/proofs.md "Obligations that carry weight").
 *
 * Guarantees: report.json and the .smt2 files hold nothing time-dependent (solver seconds are
 * kept for stderr only); tk_verify_write_proofs_dir replaces a directory all or nothing
 * (libtkrt's directory-replace routine, runtime/fs.h, shared with the bundle writer).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "runtime/fs.h"
#include "tk/alloc.h"

_Static_assert(TK_VERIFY_NCLASSES == TK_OBL_NCLASSES, "verify.h class count");

typedef struct tk_report_entry {
  tk_obl_class cls;
  char *kernel;
  const char *target; /* "gpu", "cpu" or "graph" (static strings) */
  char *statement;
  uint64_t rlimit;
  bool needs_hyps; /* not proved without its path hypotheses */
  int index;       /* n of the file name */
  char *text;
} tk_report_entry;

struct tk_verify_report {
  size_t n, cap;
  tk_report_entry *items;
  double seconds[TK_OBL_NCLASSES];
};

static const char *const CLASS_NAMES[TK_OBL_NCLASSES] = {"shape",       "padding", "bounds",
                                                         "no_overflow", "race",    "topk"};

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
  e->text = text;
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

/* ---- report.json ---- */

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

static void write_json(const tk_verify_report *r, FILE *f) {
  fputs("[\n", f);
  for (size_t i = 0; i < r->n; i++) {
    const tk_report_entry *e = &r->items[i];
    fputs("  {\"class\": ", f);
    json_string(f, CLASS_NAMES[e->cls]);
    fputs(", \"kernel\": ", f);
    json_string(f, e->kernel);
    fputs(", \"target\": ", f);
    json_string(f, e->target);
    fputs(", \"statement\": ", f);
    json_string(f, e->statement);
    fprintf(f, ", \"result\": \"proved\", \"rlimit\": %llu, \"needs_hypotheses\": %s}%s\n",
            (unsigned long long)e->rlimit, e->needs_hyps ? "true" : "false",
            i + 1 < r->n ? "," : "");
  }
  fputs("]\n", f);
}

tk_status tk_verify_report_json(const tk_verify_report *r, char **out) {
  *out = NULL;
  size_t len = 0;
  FILE *f = tk_open_memstream(out, &len);
  if (!f)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory writing report.json");
  write_json(r, f);
  if (fclose(f) != 0) {
    free(*out);
    *out = NULL;
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory writing report.json");
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

tk_status tk_verify_report_write_files(const tk_verify_report *r, const char *dir) {
  for (size_t i = 0; i < r->n; i++) {
    const tk_report_entry *e = &r->items[i];
    if (!e->text)
      return tk_status_make(TK_INTERNAL, "verifier: obligation text was not kept (keep_text)");
    char name[512];
    snprintf(name, sizeof name, "%s.%s.%s.%d.smt2", e->kernel, e->target, CLASS_NAMES[e->cls],
             e->index);
    TK_RETURN_IF_ERROR(write_file(dir, name, e->text));
  }
  char *json = NULL;
  TK_RETURN_IF_ERROR(tk_verify_report_json(r, &json));
  tk_status s = write_file(dir, "report.json", json);
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
