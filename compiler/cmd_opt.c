/* compiler/cmd_opt.c — `tkc opt FILE.ir --passes=P1,P2,... [-o OUT]`: runs IR passes alone on a
 * parsed dump (QBE- and mlir-opt-style), so each pass can be seen and tested as text in, text
 * out. The dump is read by tk_ir_parse (ir/parse.c); the passes are the IR passes of the one
 * pass table (tkc_pass_find, ir_run non-NULL), run in the order given, each checked first
 * for the stage it needs and followed by tk_ir_verify; the result prints at the stage reached
 * (tk_ir_module_print), on stdout or into OUT (a temp file beside it, renamed at the end:
 * OUT is never left half-written). An empty --passes= round-trips the dump.
 * Exit codes (docs/formats.md §4): 0 ok, 1 invalid input dump (or one at the wrong stage for a pass),
 * 2 usage, 4 a pass or the checker failed (internal).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/tkc.h"
#include "compiler/tkc_commands.h"
#include "ir/ir.h"
#include "tk/alloc.h"

static const char *const CMD = "opt";

enum { MAX_PASSES = 32 };

static void ir_pass_names(char *buf, size_t n) {
  size_t np, len = 0;
  const tkc_pass *t = tkc_pass_table(&np);
  buf[0] = '\0';
  for (size_t i = 0; i < np; i++)
    if (t[i].ir_run && len < n)
      len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", t[i].name);
}

static void print_help(void) {
  char names[256];
  ir_pass_names(names, sizeof names);
  printf("usage: tkc opt FILE.ir --passes=P1,P2,... [-o OUT]\n"
         "\n"
         "Reads an IR dump (tkc compile --emit=ir|ir-padded|ir-fused|ir-gpu|ir-cpu, or\n"
         "--dump-after=PASS), runs the named IR passes on it in order, checks the module after\n"
         "each (tk_ir_verify), and prints the module at the stage reached. FILE '-' is stdin.\n"
         "\n"
         "  --passes=LIST  comma list of IR passes: %s\n"
         "                 (empty: print the dump back unchanged)\n"
         "  -o OUT         write the result to OUT (atomically) instead of stdout\n"
         "\n"
         "Example: tkc compile models/nano.arch.json --emit=ir > nano.ir\n"
         "         tkc opt nano.ir --passes=pad,fuse\n"
         "\n"
         "Exit codes: 0 ok, 1 invalid input dump, 2 usage, 4 a pass failed (internal error).\n",
         names);
}

typedef struct opt_args {
  const char *in, *out;
  const tkc_pass *passes[MAX_PASSES];
  int npasses;
} opt_args;

static int parse_passes(const char *list, opt_args *a) {
  char names[256];
  ir_pass_names(names, sizeof names);
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    char name[64];
    if (n == 0 || n >= sizeof name)
      return tkc_usage_error(CMD, "--passes=%s: expected a comma list of IR passes (%s)", list,
                             names);
    memcpy(name, p, n);
    name[n] = '\0';
    const tkc_pass *ps = tkc_pass_find(name);
    if (!ps || !ps->ir_run)
      return tkc_usage_error(CMD, "--passes: '%s' is not an IR pass: expected one of %s", name,
                             names);
    if (a->npasses == MAX_PASSES)
      return tkc_usage_error(CMD, "--passes: at most %d passes", MAX_PASSES);
    a->passes[a->npasses++] = ps;
    p += n;
    if (*p == ',' && !*++p)
      return tkc_usage_error(CMD, "--passes=%s: expected a pass name after the last ','", list);
  }
  return -1;
}

/* Returns -1 when parsed, else the exit code of a usage error. */
static int parse_args(int argc, char **argv, opt_args *a) {
  bool have_passes = false;
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!strncmp(s, "--passes=", 9) || (!strcmp(s, "--passes") && i + 1 < argc)) {
      if (have_passes) return tkc_usage_error(CMD, "--passes given twice");
      have_passes = true;
      int rc = parse_passes(s[8] == '=' ? s + 9 : argv[++i], a);
      if (rc >= 0) return rc;
    } else if (!strcmp(s, "-o") && i + 1 < argc) {
      a->out = argv[++i];
    } else if (!strncmp(s, "-o", 2) && s[2]) {
      a->out = s + 2;
    } else if (s[0] == '-' && s[1]) {
      return tkc_usage_error(CMD, "unknown option '%s' (or it lacks its value)", s);
    } else if (a->in) {
      return tkc_usage_error(CMD, "more than one input dump ('%s', '%s')", a->in, s);
    } else {
      a->in = s;
    }
  }
  if (!a->in) return tkc_usage_error(CMD, "missing FILE.ir (the dump to read)");
  if (!have_passes)
    return tkc_usage_error(CMD, "missing --passes=LIST (give --passes= to round-trip)");
  return -1;
}

static tk_status read_all(const char *path, char **out, size_t *len) {
  *out = NULL;
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) return tk_status_make(TK_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = tk_malloc(cap + 1);
  tk_status s =
      buf ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", path);
  while (!s) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    char *bigger = tk_realloc(buf, cap * 2 + 1);
    if (!bigger)
      s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", path);
    else
      buf = bigger, cap *= 2;
  }
  if (!s && ferror(f)) s = tk_status_make(TK_IO_ERROR, "reading %s failed", path);
  if (f != stdin) fclose(f);
  if (s) {
    free(buf);
    return s;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return TK_STATUS_OK;
}

static tk_status run_passes(tk_ir_module *m, const opt_args *a) {
  for (int i = 0; i < a->npasses; i++) {
    const tkc_pass *ps = a->passes[i];
    tk_ir_stage need = (tk_ir_stage)(ps->stage - 1);
    if (m->stage != need)
      return tk_status_make(TK_INVALID_ARGUMENT, "pass %s needs stage %s, the input is at stage %s",
                            ps->name, tk_ir_stage_name(need), tk_ir_stage_name(m->stage));
    tk_status s = ps->ir_run(m);
    if (!s) s = tk_ir_module_status(m);
    if (!s) s = tk_ir_verify(m);
    if (s) {
      tk_status e = tk_status_make(
          tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED ? TK_RESOURCE_EXHAUSTED : TK_INTERNAL,
          "after pass %s: %s", ps->name, tk_status_message(s));
      tk_status_free(s);
      return e;
    }
  }
  return TK_STATUS_OK;
}

/* OUT written through a temp file in its directory, renamed over OUT on success. */
static tk_status write_atomic(const tk_ir_module *m, const char *out) {
  size_t n = strlen(out) + 16;
  char *tmp = tk_malloc(n);
  if (!tmp) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  snprintf(tmp, n, "%s.tmp-XXXXXX", out);
  int fd = mkstemp(tmp);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  tk_status s = TK_STATUS_OK;
  if (!f) {
    s = tk_status_make(TK_IO_ERROR, "cannot create a temp file beside %s: %s", out,
                       strerror(errno));
    if (fd >= 0) close(fd);
  } else {
    s = tk_ir_module_print(m, f);
    if (fclose(f) != 0 && !s)
      s = tk_status_make(TK_IO_ERROR, "writing %s failed: %s", tmp, strerror(errno));
    if (!s && rename(tmp, out) != 0)
      s = tk_status_make(TK_IO_ERROR, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
  }
  if (s && fd >= 0) unlink(tmp);
  free(tmp);
  return s;
}

int tkc_cmd_opt(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    print_help();
    return TKC_EXIT_OK;
  }
  opt_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc >= 0) return rc;
  char *text = NULL;
  size_t len = 0;
  tk_ir_module *m = NULL;
  tk_status s = read_all(a.in, &text, &len);
  if (!s) s = tk_ir_parse(text, len, a.in, &m);
  free(text);
  if (!s) s = run_passes(m, &a);
  if (!s) s = a.out ? write_atomic(m, a.out) : tk_ir_module_print(m, stdout);
  if (!s && !a.out && fflush(stdout) != 0)
    s = tk_status_make(TK_IO_ERROR, "writing to stdout failed");
  tk_ir_module_free(m);
  return s ? tkc_fail(CMD, s) : TKC_EXIT_OK;
}
