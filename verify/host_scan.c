/* verify/host_scan.c — reads the generated host stub (model_host.c) back: the facts the
 * `host` class proves are taken from the C text that is compiled, line by line, not from the
 * generator (verify/verify_internal.h "host_scan.c").
 *
 * What is read, and from where:
 *   one-line int functions   `[static] [inline] T NAME(T a, ...) { return E; }` anywhere
 *                            (tkm_min, tkm_floordiv, tkm_padded_batch, ...): the call table
 *   buffer counts            `case N: return E;` lines inside buffer_elems
 *   weight panels            the same inside buffer_panel_cols / buffer_panel_width /
 *                            buffer_panel_out_in (and each switch's `default: return -1;` /
 *                            `return 0;`)
 *   argument tables          `static const int32_t NAME[N] = {i, j, ...};` inside forward_*
 *   launches                 `TK_RETURN_IF_ERROR(launch(l, K, "NAME", TABLE, N, B, Bp, GRID,
 *                            WG));` inside forward_gpu / forward_cpu
 *   Bp                       `int64_t Bp = E;` inside tkm_forward, and its two dispatch lines
 *                            `return forward_gpu(l, B, Bp);` / `return forward_cpu(l, B, Bp);`
 * The enclosing function of a line is the last line at column 0 that opens a brace. Anything
 * else is ignored here; what is missing or malformed is reported by the class (obl_host.c)
 * with the stub's line number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

static tk_status oom(void) {
  return tk_status_make(TK_RESOURCE_EXHAUSTED, "host stub check: out of memory");
}

static tk_status malformed(int line, const char *fn, const char *what, const char *text) {
  return tk_status_make(TK_PROOF_FAILED,
                        "host stub model_host.c:%d (%s): %s: `%s` in kernel %s (graph), class "
                        "host: the stub cannot be checked",
                        line, fn, what, text, fn);
}

static bool grow(void **items, int *cap, int n, size_t elem) {
  if (n < *cap) return true;
  int ncap = *cap ? 2 * *cap : 16;
  void *p = tk_realloc(*items, (size_t)ncap * elem);
  if (!p) return false;
  *items = p;
  *cap = ncap;
  return true;
}

/* "static tk_status forward_gpu(tk_launcher *l, ...) {" → "forward_gpu". */
static void function_name(const char *line, char *out, size_t n) {
  const char *paren = strchr(line, '(');
  const char *end = paren ? paren : line + strlen(line);
  const char *start = end;
  while (start > line &&
         (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
          (start[-1] >= 'A' && start[-1] <= 'Z') || (start[-1] >= '0' && start[-1] <= '9')))
    start--;
  snprintf(out, n, "%.*s", (int)(end - start), start);
}

static bool opens_function(const char *line) {
  size_t n = strlen(line);
  return n > 1 && line[0] != ' ' && line[0] != '/' && line[0] != '#' && line[n - 1] == '{' &&
         strchr(line, '(');
}

static tk_status take_function(tk_host_stub *s, const char *line, int lineno) {
  tk_cexpr_fn fn;
  tk_status st = tk_cexpr_parse_fn(line, &fn);
  if (st && tk_status_code_of(st) == TK_RESOURCE_EXHAUSTED) return st;
  if (st) { /* not one of ours (char pointers, struct reads): not in the call table */
    tk_status_free(st);
    return TK_STATUS_OK;
  }
  if (!grow((void **)&s->fns, &s->cap_fns, s->nfns, sizeof *s->fns)) {
    tk_cexpr_tree_free(&fn.body);
    return oom();
  }
  fn.line = lineno;
  s->fns[s->nfns++] = fn;
  return TK_STATUS_OK;
}

/* "    case 3: return B * 96; /" + "* x *" + "/" → buffer 3's text in `texts` (the cases of
 * buffer_elems or a buffer_panel_* switch, named fn); the switch's default
 * must return `dflt` (-1: no such buffer; 0: not packed, what a buffer without a case is). */
static tk_status take_case(tk_host_text *texts, const char *fn, const char *dflt, const char *line,
                           int lineno, int nbuffers) {
  int id, used = 0;
  if (sscanf(line, " default: return %n", &used) == 0 && used)
    return strcmp(line + used, dflt) ? malformed(lineno, fn, "an unexpected default", line)
                                     : TK_STATUS_OK;
  if (sscanf(line, " case %d: return %n", &id, &used) != 1 || !used) return TK_STATUS_OK;
  const char *expr = line + used, *semi = strchr(expr, ';');
  if (!semi) return malformed(lineno, fn, "a case without ';'", line);
  if (id < 0 || id >= nbuffers)
    return malformed(lineno, fn, "a case for a buffer the module does not have", line);
  tk_host_text *b = &texts[id];
  if (b->line) return malformed(lineno, fn, "a second case for one buffer", line);
  b->line = lineno;
  snprintf(b->text, sizeof b->text, "%.*s", (int)(semi - expr), expr);
  return TK_STATUS_OK;
}

/* "  static const int32_t gpu_args_3[4] = {1, 2, 3, 4};" */
static tk_status take_table(tk_host_stub *s, const char *line, int lineno, const char *fn) {
  char name[TK_CEXPR_NAME];
  int n, used = 0;
  if (sscanf(line, " static const int32_t %47[A-Za-z0-9_][%d] = {%n", name, &n, &used) != 2 ||
      !used)
    return TK_STATUS_OK;
  if (!grow((void **)&s->tables, &s->cap_tables, s->ntables, sizeof *s->tables)) return oom();
  tk_host_table *t = &s->tables[s->ntables];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->line = lineno;
  t->declared = n;
  const char *p = line + used;
  while (*p && *p != '}') {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || t->n == TK_HOST_MAX_ARGS)
      return malformed(lineno, fn, "an argument table this check does not read", line);
    t->ids[t->n++] = (int)v;
    p = end;
    while (*p == ',' || *p == ' ') p++;
  }
  s->ntables++;
  return TK_STATUS_OK;
}

/* Splits "a, b(c, d), e" at top-level commas into at most max fields (trimmed). */
static int split_args(const char *p, const char *end, char fields[][TK_HOST_TEXT], int max) {
  int n = 0, depth = 0;
  bool quoted = false;
  const char *start = p;
  for (; p <= end; p++) {
    if (p < end && *p == '"') quoted = !quoted;
    if (p < end && !quoted && *p == '(') depth++;
    if (p < end && !quoted && *p == ')') depth--;
    if (p == end || (!quoted && depth == 0 && *p == ',')) {
      if (n == max) return -1;
      while (*start == ' ') start++;
      snprintf(fields[n++], TK_HOST_TEXT, "%.*s", (int)(p - start), start);
      start = p + 1;
    }
  }
  return n;
}

/* Copies src into dst[n]; false when it does not fit. */
static bool copy_field(char *dst, size_t n, const char *src, size_t len) {
  if (len >= n) return false;
  memcpy(dst, src, len);
  dst[len] = '\0';
  return true;
}

/* "  TK_RETURN_IF_ERROR(launch(l, 3, \"name\", gpu_args_3, 4, B, Bp, GRID, WG));" */
static tk_status take_launch(tk_host_stub *s, const char *line, int lineno, const char *fn) {
  static const char head[] = "  TK_RETURN_IF_ERROR(launch(";
  if (strncmp(line, head, sizeof head - 1)) return TK_STATUS_OK;
  const char *args = line + sizeof head - 1, *end = strstr(args, "));");
  if (!end || end[3]) return malformed(lineno, fn, "a launch line this check does not read", line);
  char f[9][TK_HOST_TEXT];
  if (split_args(args, end, f, 9) != 9)
    return malformed(lineno, fn, "a launch without 9 arguments", line);
  if (!grow((void **)&s->launches, &s->cap_launches, s->nlaunches, sizeof *s->launches))
    return oom();
  tk_host_launch *l = &s->launches[s->nlaunches++];
  memset(l, 0, sizeof *l);
  l->line = lineno;
  snprintf(l->fn, sizeof l->fn, "%s", fn);
  size_t nl = strlen(f[2]);
  if (nl < 2 || f[2][0] != '"' || f[2][nl - 1] != '"')
    return malformed(lineno, fn, "a launch whose kernel name is not a string", line);
  if (!copy_field(l->name, sizeof l->name, f[2] + 1, nl - 2) ||
      !copy_field(l->table, sizeof l->table, f[3], strlen(f[3])) ||
      !copy_field(l->grid, sizeof l->grid, f[7], strlen(f[7])) ||
      !copy_field(l->wg, sizeof l->wg, f[8], strlen(f[8])))
    return malformed(lineno, fn, "a launch field longer than this check reads", line);
  char *e1, *e2;
  l->kernel = strtol(f[1], &e1, 10);
  l->nargs = strtol(f[4], &e2, 10);
  if (strcmp(f[0], "l") || *e1 || *e2 || strcmp(f[5], "B") || strcmp(f[6], "Bp"))
    return malformed(lineno, fn, "a launch that does not pass (l, index, name, table, n, B, Bp)",
                     line);
  return TK_STATUS_OK;
}

static tk_status take_forward(tk_host_stub *s, const char *line, int lineno) {
  int used = 0;
  char rest[8];
  if (sscanf(line, " int64_t Bp = %n", &used) == 0 && used) {
    const char *expr = line + used, *semi = strchr(expr, ';');
    if (!semi || s->bp.line) return malformed(lineno, "tkm_forward", "a second or bad Bp", line);
    s->bp.line = lineno;
    snprintf(s->bp.text, sizeof s->bp.text, "%.*s", (int)(semi - expr), expr);
  }
  for (int t = 0; t < 2; t++) {
    char want[64];
    snprintf(want, sizeof want, "return forward_%s(l, B, Bp);", t ? "cpu" : "gpu");
    const char *p = strstr(line, want);
    if (p && sscanf(p + strlen(want), "%7s", rest) != 1) s->dispatch[t] = lineno;
  }
  return TK_STATUS_OK;
}

static tk_status take_line(tk_host_stub *s, const char *line, int lineno, char *fn, size_t fn_size,
                           int nbuffers) {
  if (opens_function(line)) {
    function_name(line, fn, fn_size);
    return TK_STATUS_OK;
  }
  if (!strcmp(line, "}")) {
    fn[0] = '\0';
    return TK_STATUS_OK;
  }
  if (line[0] != ' ' && strstr(line, "{ return ")) return take_function(s, line, lineno);
  if (!strcmp(fn, "buffer_elems")) return take_case(s->buffers, fn, "-1;", line, lineno, nbuffers);
  if (!strcmp(fn, "buffer_panel_cols"))
    return take_case(s->panel_cols, fn, "0;", line, lineno, nbuffers);
  if (!strcmp(fn, "buffer_panel_width"))
    return take_case(s->panel_width, fn, "0;", line, lineno, nbuffers);
  if (!strcmp(fn, "buffer_panel_out_in"))
    return take_case(s->panel_out_in, fn, "0;", line, lineno, nbuffers);
  if (!strncmp(fn, "forward_", 8)) {
    TK_RETURN_IF_ERROR(take_table(s, line, lineno, fn));
    return take_launch(s, line, lineno, fn);
  }
  if (!strcmp(fn, "tkm_forward")) return take_forward(s, line, lineno);
  return TK_STATUS_OK;
}

tk_status tk_host_stub_scan(const char *stub_c, int nbuffers, tk_host_stub *out) {
  memset(out, 0, sizeof *out);
  out->nbuffers = nbuffers;
  size_t nb = (size_t)(nbuffers > 0 ? nbuffers : 1);
  out->buffers = tk_calloc(nb, sizeof *out->buffers);
  out->panel_cols = tk_calloc(nb, sizeof *out->panel_cols);
  out->panel_width = tk_calloc(nb, sizeof *out->panel_width);
  out->panel_out_in = tk_calloc(nb, sizeof *out->panel_out_in);
  char *line = tk_malloc(TK_HOST_LINE);
  if (!out->buffers || !out->panel_cols || !out->panel_width || !out->panel_out_in || !line) {
    free(line);
    tk_host_stub_free(out);
    return oom();
  }
  char fn[TK_CEXPR_NAME] = "";
  tk_status s = TK_STATUS_OK;
  int lineno = 0;
  for (const char *p = stub_c; !s && *p;) {
    size_t n = strcspn(p, "\n");
    lineno++;
    if (n >= TK_HOST_LINE)
      s = malformed(lineno, fn[0] ? fn : "(file)", "a line longer than this check reads", "...");
    else {
      memcpy(line, p, n);
      line[n] = '\0';
      s = take_line(out, line, lineno, fn, sizeof fn, nbuffers);
    }
    p += n + (p[n] == '\n');
  }
  free(line);
  if (s) tk_host_stub_free(out);
  return s;
}

void tk_host_stub_free(tk_host_stub *s) {
  for (int i = 0; i < s->nfns; i++) tk_cexpr_tree_free(&s->fns[i].body);
  free(s->fns);
  free(s->buffers);
  free(s->panel_cols);
  free(s->panel_width);
  free(s->panel_out_in);
  free(s->tables);
  free(s->launches);
  memset(s, 0, sizeof *s);
}

const tk_host_table *tk_host_stub_table(const tk_host_stub *s, const char *name) {
  for (int i = 0; i < s->ntables; i++)
    if (!strcmp(s->tables[i].name, name)) return &s->tables[i];
  return NULL;
}
