/* ir/parse.c — reads a module back from its text dump (ir/printer.c writes it; the format is
 * in docs/ir.md "The dump format"), so a pass can run alone on a dump (`tkc opt`).
 *
 * A recursive-descent reader over lines, in the order the printer writes them: header
 * (stage, module summary, arch JSON, options, module contracts), tensors, ops, buffers,
 * kernels. Everything is rebuilt through the module's builders, in the arena of the new
 * module; index expressions are rebuilt node for node as printed (no refolding), so the
 * module prints back to the same bytes. Variable names are unique within a kernel family
 * (see printer.c): the first binder or `var` line of a name creates the variable, later
 * uses of the name refer to it; inside a phase or body only the variables of the enclosing
 * phase and loops may be used. Scheduled kernels are attached to their fused kernel by name
 * (`from NAME.PHASE`); a copied store's `(from N, subst M)` names its origin (the fused
 * kernel's N-th store) and substitution, and the origins of its loads are the nodes at the
 * same places in the origin's value (the rewrite copies values node for node, ir/rewrite.c).
 *
 * Guarantees: on any malformed input, TK_INVALID_ARGUMENT "file:line:col: expected X, found
 * 'Y'" (the first error; TK_RESOURCE_EXHAUSTED when out of memory), *out = NULL, everything
 * freed. Temporary tables (names, stores, substitutions) are tk_malloc'd and freed before
 * returning; everything else lives in the new module's arena. A module that parses is checked
 * with tk_ir_verify before it is returned (scoping, types and references that the grammar
 * alone does not catch are reported with the file name).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"
#include "tk/alloc.h"

/* Variables of one kernel family, by printed name. */
typedef struct fam_entry {
  char *name;
  const tk_ir_var *v;
} fam_entry;

typedef struct family {
  fam_entry *items;
  int n, cap;
  const tk_ir_stmt **stores; /* the fused kernel's stores in text order (origins) */
  int nstores;
} family;

typedef struct parser {
  const char *s, *end, *file;
  int line;
  const char *line_start;
  tk_status err;
  tk_ir_module *m;
  family *fams; /* one per fused kernel */
  int nfams;
  family *fam; /* the current kernel's family */
  tk_ir_kernel *k;
  const tk_ir_kernel *src; /* the current scheduled kernel's fused kernel */
  tk_ir_subst **substs;    /* the current scheduled kernel's `subst` lines */
  int nsubsts;
  /* Inside a phase or a body: the variables of the enclosing phase and loops, which are the
   * only ones a statement may use (tk_ir_verify's rule, reported here with a position). */
  tk_ir_stage stage; /* the header's */
  bool scoped;
  int nscope;
  const tk_ir_var *scope[64];
} parser;

/* ---- errors and lexing ---- */

static bool fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(parser *p, const char *fmt, ...) {
  if (p->err) return false;
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *q = p->s;
  int n = 0;
  while (q + n < p->end && q[n] != '\n' && n < 24) n++;
  char found[40];
  if (q >= p->end)
    snprintf(found, sizeof found, "the end of the file");
  else if (q[0] == '\n')
    snprintf(found, sizeof found, "the end of the line");
  else
    snprintf(found, sizeof found, "'%.*s'", n, q);
  p->err = tk_status_make(TK_INVALID_ARGUMENT, "%s:%d:%d: expected %s, found %s", p->file, p->line,
                          (int)(p->s - p->line_start) + 1, what, found);
  return false;
}

static bool ok(const parser *p) { return !p->err; }

static bool oom(parser *p) {
  if (!p->err)
    p->err = tk_status_make(TK_RESOURCE_EXHAUSTED, "%s:%d:%d: out of memory", p->file, p->line,
                            (int)(p->s - p->line_start) + 1);
  return false;
}

static void skip_sp(parser *p) {
  while (p->s < p->end && *p->s == ' ') p->s++;
}

static bool at(parser *p, const char *lit) {
  size_t n = strlen(lit);
  return (size_t)(p->end - p->s) >= n && !memcmp(p->s, lit, n);
}

/* Consumes `lit` (after spaces) if it is next. */
static bool accept(parser *p, const char *lit) {
  skip_sp(p);
  if (!at(p, lit)) return false;
  p->s += strlen(lit);
  return true;
}

/* lit as a whole word (not the start of a longer name) at the cursor. */
static bool at_word(parser *p, const char *lit) {
  size_t n = strlen(lit);
  return at(p, lit) && (p->s + n == p->end || !(isalnum((unsigned char)p->s[n]) || p->s[n] == '_'));
}

static bool expect(parser *p, const char *lit) {
  if (!ok(p)) return false;
  if (accept(p, lit)) return true;
  return fail(p, "'%s'", lit);
}

static bool expect_eol(parser *p) {
  skip_sp(p);
  if (!ok(p)) return false;
  if (p->s < p->end && *p->s == '\n') {
    p->s++;
    p->line++;
    p->line_start = p->s;
    return true;
  }
  return fail(p, "end of line");
}

static void skip_blank_lines(parser *p) {
  while (p->s < p->end && *p->s == '\n') {
    p->s++;
    p->line++;
    p->line_start = p->s;
  }
}

/* A name: letters, digits, '_' and single '.' inside ("expert_0.param_4", "j.1"). */
static bool name(parser *p, char *buf, size_t n) {
  skip_sp(p);
  const char *q = p->s;
  if (!ok(p) || q >= p->end || !(isalpha((unsigned char)*q) || *q == '_')) return fail(p, "a name");
  while (q < p->end &&
         (isalnum((unsigned char)*q) || *q == '_' ||
          (*q == '.' && q + 1 < p->end && (isalnum((unsigned char)q[1]) || q[1] == '_'))))
    q++;
  if ((size_t)(q - p->s) >= n) return fail(p, "a name shorter than %zu characters", n);
  memcpy(buf, p->s, (size_t)(q - p->s));
  buf[q - p->s] = '\0';
  p->s = q;
  return true;
}

/* "+PHASE" after a launch's first phase, for each further phase it runs (they follow it in
 * the fused kernel). */
static bool more_phases(parser *p, const tk_ir_kernel *f, tk_ir_kernel *k) {
  k->source_phases = 1;
  while (ok(p) && p->s < p->end && *p->s == '+') {
    p->s++;
    char ph[128];
    if (!name(p, ph, sizeof ph)) return false;
    int next = k->source_phase + k->source_phases;
    if (next >= f->nphases || strcmp(f->phases[next].name, ph))
      return fail(p, "phase %s of kernel %s after %s (got %s)",
                  next < f->nphases ? f->phases[next].name : "(none)", f->name,
                  f->phases[next - 1].name, ph);
    k->source_phases++;
  }
  return ok(p);
}

static bool integer(parser *p, int64_t *v) {
  skip_sp(p);
  if (!ok(p)) return false;
  const char *q = p->s;
  if (q < p->end && *q == '-') q++;
  if (q >= p->end || !isdigit((unsigned char)*q)) return fail(p, "an integer");
  char buf[32];
  size_t n = 0;
  for (q = p->s;
       q < p->end && (isdigit((unsigned char)*q) || (q == p->s && *q == '-')) && n < sizeof buf - 1;
       q++)
    buf[n++] = *q;
  buf[n] = '\0';
  char *e;
  long long x = strtoll(buf, &e, 10);
  if (*e || n >= sizeof buf - 1) return fail(p, "an integer that fits 64 bits");
  *v = x;
  p->s = q;
  return true;
}

/* "Bp = max(Q, Q * ceil(B / Q)), Bp mod Q == 0": the padding quantum Q, four times alike. */
static bool bp_padded(parser *p, int64_t *q) {
  int64_t v[3];
  if (!(expect(p, "Bp = max(") && integer(p, q) && expect(p, ",") && integer(p, &v[0]) &&
        expect(p, "* ceil(B /") && integer(p, &v[1]) && expect(p, ")), Bp mod") &&
        integer(p, &v[2]) && expect(p, "== 0")))
    return false;
  if (v[0] != *q || v[1] != *q || v[2] != *q) return fail(p, "the same padding quantum four times");
  return true;
}

static bool int_in(parser *p, int64_t *v, int64_t lo, int64_t hi, const char *what) {
  const char *at0 = p->s;
  if (!integer(p, v)) return false;
  if (*v < lo || *v > hi) {
    p->s = at0;
    skip_sp(p);
    return fail(p, "%s in %lld..%lld", what, (long long)lo, (long long)hi);
  }
  return true;
}

/* One of `n` words; returns its index. */
static int keyword(parser *p, const char *const *words, int n, const char *what) {
  char buf[64];
  const char *at0 = p->s;
  if (!name(p, buf, sizeof buf)) return -1;
  for (int i = 0; i < n; i++)
    if (words[i] && !strcmp(words[i], buf)) return i;
  p->s = at0;
  skip_sp(p);
  fail(p, "%s", what);
  return -1;
}

/* A floating-point literal at p->s (copied first: the text need not be NUL-terminated). */
static bool scan_double(parser *p, double *d) {
  char buf[64];
  size_t n = 0;
  const char *q = p->s;
  while (q + n < p->end && n < sizeof buf - 1 &&
         (isdigit((unsigned char)q[n]) || strchr("+-.eE", q[n]))) {
    buf[n] = q[n];
    n++;
  }
  buf[n] = '\0';
  char *e;
  *d = strtod(buf, &e);
  if (e == buf) return fail(p, "a number");
  p->s += e - buf;
  return true;
}

/* ---- families of variables ---- */

static const tk_ir_var *fam_find(const family *f, const char *nm) {
  for (int i = 0; f && i < f->n; i++)
    if (!strcmp(f->items[i].name, nm)) return f->items[i].v;
  return NULL;
}

/* A new variable named by the printed name `nm` (its base: the part before '.'). */
static const tk_ir_var *fam_new(parser *p, const char *nm, const tk_ix *inv) {
  family *f = p->fam;
  if (f->n == f->cap) {
    int cap = f->cap ? f->cap * 2 : 16;
    fam_entry *items = tk_realloc(f->items, sizeof *items * (size_t)cap);
    if (!items) {
      oom(p);
      return NULL;
    }
    f->items = items;
    f->cap = cap;
  }
  char base[128];
  snprintf(base, sizeof base, "%s", nm);
  char *dot = strchr(base, '.');
  if (dot) *dot = '\0';
  char *copy = tk_strdup(nm);
  const tk_ir_var *v = copy ? tk_ir_var_new(p->m, base, inv) : NULL;
  if (!v) {
    free(copy);
    oom(p);
    return NULL;
  }
  f->items[f->n].name = copy;
  f->items[f->n++].v = v;
  return v;
}

/* A binder (phase dimension, loop): the family's variable of that name, or a new one. */
static const tk_ir_var *bind_var(parser *p) {
  char nm[128];
  if (!name(p, nm, sizeof nm)) return NULL;
  const tk_ir_var *v = fam_find(p->fam, nm);
  return v ? v : fam_new(p, nm, NULL);
}

static const tk_ir_var *use_var(parser *p) {
  char nm[128];
  const char *at0 = p->s;
  if (!name(p, nm, sizeof nm)) return NULL;
  const tk_ir_var *v = fam_find(p->fam, nm);
  if (!v) {
    p->s = at0;
    skip_sp(p);
    fail(p, "a variable defined before (no variable '%s' in this kernel family)", nm);
    return NULL;
  }
  bool bound = !p->scoped;
  for (int i = 0; i < p->nscope && !bound; i++) bound = p->scope[i] == v;
  if (!bound) {
    p->s = at0;
    skip_sp(p);
    fail(p, "a variable of an enclosing loop or phase ('%s' is not bound here)", nm);
    return NULL;
  }
  return v;
}

static bool push_scope(parser *p, const tk_ir_var *v) {
  if (p->nscope == (int)(sizeof p->scope / sizeof p->scope[0]))
    return fail(p, "loops nested at most 64 deep");
  p->scope[p->nscope++] = v;
  return true;
}

/* ---- index expressions (rebuilt node for node) ---- */

static tk_ix *ix_node(parser *p, tk_ix_kind kind) {
  tk_ix *e = tk_ir_alloc(p->m, sizeof *e);
  if (!e)
    oom(p);
  else
    e->kind = kind;
  return e;
}

static const tk_ix *ix_expr(parser *p);

static int arg_ref(parser *p);

/* %arg[index] inside an index: an element of an i32 argument (tk_ir_verify checks the type). */
static const tk_ix *ix_load(parser *p) {
  int arg = arg_ref(p);
  if (arg < 0 || !expect(p, "[")) return NULL;
  const tk_ix *ix = ix_expr(p);
  if (!ix || !expect(p, "]")) return NULL;
  const tk_ix *e = tk_ir_ix_load(p->m, arg, p->k->args[arg].name, ix);
  if (!e) oom(p);
  return e;
}

static const tk_ix *ix_atom(parser *p) {
  skip_sp(p);
  if (!ok(p)) return NULL;
  if (p->s < p->end && (isdigit((unsigned char)*p->s) || *p->s == '-')) {
    int64_t c;
    if (!integer(p, &c)) return NULL;
    tk_ix *e = ix_node(p, TK_IX_CONST);
    if (e) e->c = c;
    return e;
  }
  if (accept(p, "(")) {
    const tk_ix *e = ix_expr(p);
    return expect(p, ")") ? e : NULL;
  }
  if (at(p, "min(") || at(p, "max(")) {
    tk_ix *e = ix_node(p, at(p, "min(") ? TK_IX_MIN : TK_IX_MAX);
    p->s += 4;
    if (!e) return NULL;
    e->a = ix_expr(p);
    if (!expect(p, ",")) return NULL;
    e->b = ix_expr(p);
    return expect(p, ")") ? e : NULL;
  }
  if (p->k && p->s < p->end && *p->s == '%') return ix_load(p);
  const char *at0 = p->s;
  char nm[128];
  if (p->s < p->end && (isalpha((unsigned char)*p->s) || *p->s == '_')) {
    if (!name(p, nm, sizeof nm)) return NULL;
    if (!strcmp(nm, "B") || !strcmp(nm, "Bp")) {
      tk_ix *e = ix_node(p, TK_IX_SYM);
      if (e) e->sym = nm[1] ? TK_SYM_BP : TK_SYM_B;
      return e;
    }
    p->s = at0;
    const tk_ir_var *v = use_var(p);
    tk_ix *e = v ? ix_node(p, TK_IX_VAR) : NULL;
    if (e) e->var = v;
    return e;
  }
  fail(p, "an index expression (integer, B, Bp, variable, %%arg[index], min, max or '(')");
  return NULL;
}

static const tk_ix *ix_term(parser *p) {
  const tk_ix *a = ix_atom(p);
  while (a && ok(p)) {
    tk_ix_kind kind;
    if (accept(p, "*"))
      kind = TK_IX_MUL;
    else if (accept(p, "div "))
      kind = TK_IX_DIV;
    else if (accept(p, "mod "))
      kind = TK_IX_MOD;
    else
      break;
    int64_t c;
    if (!integer(p, &c)) return NULL;
    if (kind != TK_IX_MUL && c <= 0) return fail(p, "a positive divisor"), NULL;
    tk_ix *e = ix_node(p, kind);
    if (!e) return NULL;
    e->a = a;
    e->c = c;
    a = e;
  }
  return ok(p) ? a : NULL;
}

static const tk_ix *ix_expr(parser *p) {
  const tk_ix *a = ix_term(p);
  while (a && ok(p)) {
    skip_sp(p);
    tk_ix_kind kind;
    if (at(p, "+ "))
      kind = TK_IX_ADD;
    else if (at(p, "- "))
      kind = TK_IX_SUB;
    else
      break;
    p->s += 2;
    const tk_ix *b = ix_term(p);
    tk_ix *e = b ? ix_node(p, kind) : NULL;
    if (!e) return NULL;
    e->a = a;
    e->b = b;
    a = e;
  }
  return ok(p) ? a : NULL;
}

/* ---- names of module objects ---- */

static int tensor_ref(parser *p) {
  char nm[256];
  if (!expect(p, "%") || !name(p, nm, sizeof nm)) return -1;
  int t = tk_ir_tensor_find(p->m, nm);
  if (t < 0) fail(p, "a declared tensor (no tensor %%%s)", nm);
  return t;
}

static int arg_ref(parser *p) {
  char nm[256];
  const char *at0 = p->s;
  if (!expect(p, "%") || !name(p, nm, sizeof nm)) return -1;
  for (int i = 0; i < p->k->nargs; i++)
    if (!strcmp(p->k->args[i].name, nm)) return i;
  p->s = at0;
  skip_sp(p);
  fail(p, "an argument of kernel %s (no argument %%%s)", p->k->name, nm);
  return -1;
}

/* Local `nm` as printed (name, or name.N for the N-th later local of that name). */
static int local_find(const tk_ir_kernel *k, const char *nm) {
  for (int i = 0; k && i < k->nlocals; i++) {
    int same = 0;
    for (int j = 0; j < i; j++) same += !strcmp(k->locals[j].name, k->locals[i].name);
    char buf[160];
    if (same)
      snprintf(buf, sizeof buf, "%s.%d", k->locals[i].name, same);
    else
      snprintf(buf, sizeof buf, "%s", k->locals[i].name);
    if (!strcmp(buf, nm)) return i;
  }
  return -1;
}

static int buffer_find(const tk_ir_module *m, const char *nm) {
  for (int i = 0; i < m->nbuffers; i++)
    if (!strcmp(m->buffers[i].name, nm)) return i;
  return -1;
}

static const char *const TYPES[] = {"f32", "i32", "bool"};
static const char *const ROLES[] = {"in", "out", "param", "scratch"};

/* ---- contracts ---- */

/* An operand: a tensor (graph level) or an argument (in a kernel). */
static int operand(parser *p, bool in_kernel) { return in_kernel ? arg_ref(p) : tensor_ref(p); }

static bool contract_line(parser *p, tk_ir_contracts *list, bool in_kernel) {
  bool ensures = accept(p, "ensures ");
  if (!ensures && !expect(p, "requires ")) return false;
  const char *preds[TK_PRED_DISPATCH + 1];
  for (int i = 0; i <= TK_PRED_DISPATCH; i++) preds[i] = tk_ir_pred_name((tk_ir_pred)i);
  int pr = keyword(p, preds, TK_PRED_DISPATCH + 1, "a contract predicate");
  if (pr < 0 || !expect(p, "(")) return false;
  tk_ir_contract c = tk_ir_contract_make(ensures, (tk_ir_pred)pr, -1, -1, NULL, 0, 0);
  switch (c.pred) {
    case TK_PRED_B_RANGE: expect(p, "1 <= B <="), integer(p, &c.n); break;
    case TK_PRED_BP_PADDED: bp_padded(p, &c.n); break;
    case TK_PRED_ROWS:
      c.a = operand(p, in_kernel);
      if (expect(p, ",")) c.ix = ix_expr(p);
      if (expect(p, ",")) integer(p, &c.n);
      break;
    case TK_PRED_SHAPE_EQ:
      c.a = operand(p, in_kernel);
      if (expect(p, ",")) c.b = operand(p, in_kernel);
      break;
    case TK_PRED_FINITE:
    case TK_PRED_WRITES_ALL:
    case TK_PRED_ROW_LOCAL: c.a = operand(p, in_kernel); break;
    case TK_PRED_READS_CLAMPED:
      c.a = operand(p, in_kernel);
      expect(p, ", min(r, B - 1)");
      break;
    case TK_PRED_WRITES_ROWS_LT:
      c.a = operand(p, in_kernel);
      if (expect(p, ",")) c.ix = ix_expr(p);
      break;
    case TK_PRED_TOPK:
      c.a = operand(p, in_kernel);
      if (expect(p, ",")) c.b = operand(p, in_kernel);
      if (expect(p, ", k =")) integer(p, &c.k);
      if (expect(p, ", n =")) integer(p, &c.n);
      expect(p, ", ties = lower, renorm =");
      skip_sp(p);
      c.renorm = accept(p, "sum");
      if (!c.renorm) expect(p, "none");
      break;
    case TK_PRED_SOFTMAX:
      c.a = operand(p, in_kernel);
      if (expect(p, ", n =")) integer(p, &c.n);
      break;
    case TK_PRED_MASKED_SELECT:
      c.a = operand(p, in_kernel);
      if (expect(p, ", keep =")) c.b = operand(p, in_kernel);
      if (expect(p, ", n =")) integer(p, &c.n);
      break;
    case TK_PRED_DISPATCH: /* `%slot, keep = %keep, count = %count, n = E`, or the count alone */
      if (!accept(p, "count =")) {
        c.a = operand(p, in_kernel);
        if (expect(p, ", keep =")) c.b = operand(p, in_kernel);
        expect(p, ", count =");
      }
      if (ok(p)) c.c = operand(p, in_kernel);
      if (expect(p, ", n =")) integer(p, &c.n);
      break;
  }
  if (!expect(p, ")") || !expect_eol(p)) return false;
  tk_ir_contract_add(p->m, list, c);
  return true;
}

static bool at_contract(parser *p) {
  skip_sp(p);
  return at(p, "requires ") || at(p, "ensures ");
}

static bool contract_lines(parser *p, tk_ir_contracts *list, bool in_kernel) {
  while (ok(p) && at_contract(p)) contract_line(p, list, in_kernel);
  return ok(p);
}

/* ---- header ---- */

static bool header(parser *p, tk_arch *arch, tk_ir_options *o, tk_ir_stage *stage, char *summary,
                   size_t nsum) {
  static const char *const stages[] = {"graph", "padded", "fused", "planned", "gpu", "cpu"};
  if (!expect(p, "; tkc IR, stage")) return false;
  int st = keyword(p, stages, 6, "a stage (graph, padded, fused, planned, gpu, cpu)");
  if (st < 0 || !expect_eol(p)) return false;
  *stage = (tk_ir_stage)st;
  if (!expect(p, "module ")) return false;
  const char *e = memchr(p->s, '\n', (size_t)(p->end - p->s));
  if (!e) return fail(p, "a module line");
  snprintf(summary, nsum, "module %.*s", (int)(e - p->s), p->s);
  p->s = e;
  if (!expect_eol(p) || !expect(p, "arch ")) return false;
  e = memchr(p->s, '\n', (size_t)(p->end - p->s));
  if (!e) return fail(p, "the arch JSON on one line");
  tk_status s = tk_arch_parse(p->s, (size_t)(e - p->s), p->file, arch);
  if (s) {
    tk_status_code code =
        tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED ? TK_RESOURCE_EXHAUSTED : TK_INVALID_ARGUMENT;
    p->err = tk_status_make(code, "%s:%d:%d: the arch line: %s", p->file, p->line,
                            (int)(p->s - p->line_start) + 1, tk_status_message(s));
    tk_status_free(s);
    return false;
  }
  p->s = e;
  if (!expect_eol(p) || !expect(p, "options bmax =") || !integer(p, &o->bmax)) return false;
  if (!expect(p, ", gpu_wg_2d =") || !integer(p, &o->gpu_wg_2d)) return false;
  if (!expect(p, ", gpu_wg_rows =") || !integer(p, &o->gpu_wg_rows)) return false;
  if (!expect(p, ", cpu_block_rows =") || !integer(p, &o->cpu_block_rows)) return false;
  if (!expect(p, ", cpu_tile_rows =") || !integer(p, &o->cpu_tile_rows)) return false;
  if (!expect(p, ", cpu_tile_cols =") || !integer(p, &o->cpu_tile_cols)) return false;
  if (!expect(p, ", cpu_col_blocks =") || !integer(p, &o->cpu_col_blocks)) return false;
  if (accept(p, ", dispatch = sparse")) o->dispatch = TK_DISPATCH_SPARSE;
  if (accept(p, ", gpu_schedule = tiled")) o->gpu_schedule = TK_GPU_SCHEDULE_TILED;
  if (accept(p, ", gpu_tiles = ")) {
    int set = 0;
    while (set < TK_GPU_TILES_COUNT && !accept(p, tk_ir_gpu_tile_set_name(set))) set++;
    if (set == TK_GPU_TILES_COUNT) return fail(p, "gpu_tiles cdna, rdna or nvidia");
    o->gpu_tiles = set;
  }
  return expect_eol(p);
}

/* ---- graph ---- */

static bool tensor_line(parser *p) {
  static const char *const kinds[] = {"input", "output", "param", "intermediate"};
  char nm[256];
  int64_t cols, pi = -1;
  if (!expect(p, "tensor %") || !name(p, nm, sizeof nm) || !expect(p, ":")) return false;
  int type = keyword(p, TYPES, 2, "a tensor type (f32, i32)");
  if (type < 0 || !expect(p, "[")) return false;
  const tk_ix *rows = ix_expr(p);
  if (!rows || !expect(p, ",") || !int_in(p, &cols, 1, INT32_MAX, "a column count") ||
      !expect(p, "]"))
    return false;
  int kind = keyword(p, kinds, 4, "a tensor kind (input, output, param, intermediate)");
  if (kind < 0) return false;
  if (accept(p, "#") && !int_in(p, &pi, 0, INT32_MAX, "a parameter index")) return false;
  if (!expect_eol(p)) return false;
  if (tk_ir_tensor_find(p->m, nm) >= 0)
    return fail(p, "a new tensor name (%%%s is declared twice)", nm);
  int id = tk_ir_tensor_add(p->m, nm, (tk_ir_tensor_kind)kind, (tk_ir_type)type, rows, cols);
  if (id < 0) return oom(p);
  p->m->tensors[id].param_index = (int)pi;
  return true;
}

static int operands(parser *p, int *ids, tk_ir_operand *ops, int max) {
  int n = 0;
  if (!expect(p, "(")) return -1;
  if (accept(p, ")")) return 0;
  do {
    if (n == max) return fail(p, "at most %d operands", max), -1;
    memset(&ops[n], 0, sizeof ops[n]);
    ids[n] = tensor_ref(p);
    if (ids[n] < 0) return -1;
    ops[n].tensor = ids[n];
    if (accept(p, "[min(r, B - 1)]")) ops[n].row_clamp = true;
    if (accept(p, "[r <")) {
      ops[n].row_limit = ix_expr(p);
      if (!expect(p, "]")) return -1;
    }
    n++;
  } while (accept(p, ","));
  return expect(p, ")") ? n : -1;
}

/* `rows = %count[e]`: the op computes the rows r < count[e] only (sparse dispatch). */
static bool rows_count(parser *p, tk_ir_op *op) {
  int64_t e;
  int t = tensor_ref(p);
  if (t < 0 || !expect(p, "[") || !int_in(p, &e, 0, INT32_MAX, "an expert") || !expect(p, "]"))
    return false;
  if (op->expert >= 0 && op->expert != e)
    return fail(p, "the op's expert %d (rows = %%%s[%lld] names another)", op->expert,
                p->m->tensors[t].name, (long long)e);
  op->rows_count = t;
  op->expert = (int)e;
  return true;
}

static bool op_line(parser *p) {
  enum { MAXOPS = 256 };
  char nm[256];
  int in[MAXOPS], out[MAXOPS];
  tk_ir_operand ins[MAXOPS], outs[MAXOPS];
  if (!expect(p, "op ")) return false;
  const char *name_at = p->s;
  if (!name(p, nm, sizeof nm)) return false;
  char *dot = strrchr(nm, '.');
  int kind = -1;
  for (int i = 0; dot && tk_ir_op_info_of((tk_ir_op_kind)i); i++) /* the op table's names */
    if (!strcmp(dot + 1, tk_ir_op_kind_name((tk_ir_op_kind)i))) kind = i;
  if (kind < 0) {
    p->s = name_at;
    return fail(p, "an op named LAYER.KIND with KIND one of linear, layernorm, gelu, softmax, "
                   "topk_mask, moe_combine, pad_rows, slice_rows, add, dispatch, gather, scatter");
  }
  *dot = '\0';
  int nin = operands(p, in, ins, MAXOPS);
  if (nin < 0 || !expect(p, "->")) return false;
  int nout = operands(p, out, outs, MAXOPS);
  if (nout < 0) return false;
  int id = tk_ir_op_add(p->m, (tk_ir_op_kind)kind, nm, tk_ir_op_kind_name((tk_ir_op_kind)kind), in,
                        nin, out, nout);
  if (id < 0) return oom(p);
  tk_ir_op *op = &p->m->ops[id];
  memcpy(op->in, ins, sizeof *ins * (size_t)nin);
  memcpy(op->out, outs, sizeof *outs * (size_t)nout);
  switch (op->kind) {
    case TK_OP_LINEAR: {
      static const char *const layouts[] = {"in_out", "out_in"};
      if (!expect(p, "layout =")) return false;
      int l = keyword(p, layouts, 2, "a weight layout (in_out, out_in)");
      if (l < 0) return false;
      op->layout = (tk_weight_layout)l;
      break;
    }
    case TK_OP_LAYERNORM: {
      if (!expect(p, "eps =")) return false;
      skip_sp(p);
      if (!scan_double(p, &op->eps)) return false;
      break;
    }
    case TK_OP_GELU: {
      /* The printer's names (arch.json's hidden_act): "gelu_tanh", and "gelu" for erf. */
      const char *acts[] = {tk_arch_hidden_act_name(TK_ACT_GELU_TANH),
                            tk_arch_hidden_act_name(TK_ACT_GELU_ERF)};
      if (!expect(p, "act =")) return false;
      int a = keyword(p, acts, 2, "a GELU activation (gelu_tanh, gelu)");
      if (a < 0) return false;
      op->act = a ? TK_ACT_GELU_ERF : TK_ACT_GELU_TANH;
      break;
    }
    case TK_OP_TOPK_MASK: {
      int64_t k;
      if (!expect(p, "k =") || !int_in(p, &k, 1, INT32_MAX, "k")) return false;
      op->k = (int)k;
      op->renorm = accept(p, "renorm = sum");
      break;
    }
    case TK_OP_GATHER:
    case TK_OP_SCATTER: {
      int64_t e;
      if (!expect(p, "expert =") || !int_in(p, &e, 0, INT32_MAX, "an expert")) return false;
      op->expert = (int)e;
      break;
    }
    default: break;
  }
  if (accept(p, "rows =") && !rows_count(p, op)) return false;
  if (!expect_eol(p)) return false;
  return contract_lines(p, &p->m->ops[id].contracts, false);
}

/* "N, TC)" or "N, TC, out_in)" after "panels(": the buffer's cpu weight panels. */
static bool panels(parser *p, int64_t *cols, int64_t *width, bool *out_in) {
  if (!int_in(p, cols, 1, INT32_MAX, "the panels' row length") || !expect(p, ",") ||
      !int_in(p, width, 1, *cols, "a panel width (1 to the row length)"))
    return false;
  if (accept(p, ",")) {
    if (!expect(p, "out_in")) return false;
    *out_in = true;
  }
  return expect(p, ")");
}

static bool buffer_line(parser *p) {
  char nm[256];
  int64_t pi = -1;
  if (p->stage < TK_STAGE_PLANNED)
    return fail(p, "no buffers at stage %s (they appear at stage planned)",
                tk_ir_stage_name(p->stage));
  if (!expect(p, "buffer @") || !name(p, nm, sizeof nm) || !expect(p, ":")) return false;
  int type = keyword(p, TYPES, 2, "a buffer type (f32, i32)");
  if (type < 0 || !expect(p, "[")) return false;
  const tk_ix *count = ix_expr(p);
  if (!count || !expect(p, "]")) return false;
  int role = keyword(p, ROLES, 4, "a role (in, out, param, scratch)");
  if (role < 0) return false;
  if (accept(p, "#") && !int_in(p, &pi, 0, INT32_MAX, "a parameter index")) return false;
  int64_t panel_cols = 0, panel_width = 0;
  bool panel_out_in = false;
  if (accept(p, "panels(") && !panels(p, &panel_cols, &panel_width, &panel_out_in)) return false;
  int ids[256];
  tk_ir_operand ops[256];
  int n = operands(p, ids, ops, 256);
  if (n < 0 || !expect_eol(p)) return false;
  if (buffer_find(p->m, nm) >= 0) return fail(p, "a new buffer name (@%s is declared twice)", nm);
  tk_ir_module *m = p->m;
  if (!TK_IR_PUSH(m, m->buffers, m->nbuffers, m->cap_buffers)) return oom(p);
  tk_ir_buffer *b = &m->buffers[m->nbuffers];
  memset(b, 0, sizeof *b);
  b->id = m->nbuffers;
  b->name = tk_ir_strdup(m, nm);
  b->role = (tk_ir_role)role;
  b->type = (tk_ir_type)type;
  b->count = count;
  b->param_index = (int)pi;
  b->panel_cols = panel_cols;
  b->panel_width = panel_width;
  b->panel_out_in = panel_out_in;
  b->ntensors = n;
  b->tensors = tk_ir_alloc(m, sizeof *b->tensors * (size_t)(n ? n : 1));
  if (!b->name || !b->tensors) return oom(p);
  memcpy(b->tensors, ids, sizeof *ids * (size_t)n);
  m->nbuffers++;
  return true;
}

/* ---- values ---- */

static const tk_ir_val *val(parser *p);

static const tk_ir_val *number(parser *p, bool neg) {
  const char *q = p->s;
  double f;
  if (!scan_double(p, &f)) return NULL;
  if (p->s < p->end && *p->s == 'f') {
    p->s++;
    return tk_ir_val_f32(p->m, neg ? -f : f);
  }
  p->s = q;
  int64_t i;
  if (!integer(p, &i)) return NULL;
  return tk_ir_val_i32(p->m, neg ? -i : i);
}

static tk_ir_vop infix_op(parser *p) {
  static const struct {
    const char *text;
    tk_ir_vop op;
  } ops[] = {{"<= ", TK_V_LE},  {">= ", TK_V_GE}, {"== ", TK_V_EQ}, {"!= ", TK_V_NE},
             {"&& ", TK_V_AND}, {"|| ", TK_V_OR}, {"+ ", TK_V_ADD}, {"- ", TK_V_SUB},
             {"* ", TK_V_MUL},  {"/ ", TK_V_DIV}, {"< ", TK_V_LT},  {"> ", TK_V_GT}};
  skip_sp(p);
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (at(p, ops[i].text)) {
      p->s += strlen(ops[i].text);
      return ops[i].op;
    }
  fail(p, "an infix operator (+ - * / < <= > >= == != && ||)");
  return TK_V_COUNT_;
}

static const tk_ir_val *call(parser *p, const char *fn) {
  tk_ir_vop op = TK_V_COUNT_;
  for (int i = TK_V_EXP; i < TK_V_COUNT_; i++)
    if (i != TK_V_NOT && !strcmp(tk_ir_vop_name((tk_ir_vop)i), fn)) op = (tk_ir_vop)i;
  if (op == TK_V_COUNT_)
    return fail(p, "a value op (exp, tanh, erf, sqrt, rsqrt, max, min, fma, select)"), NULL;
  const tk_ir_val *a[3] = {NULL, NULL, NULL};
  int n = tk_ir_vop_arity(op);
  for (int i = 0; i < n; i++) {
    if (i && !expect(p, ",")) return NULL;
    if (!(a[i] = val(p))) return NULL;
  }
  if (!expect(p, ")")) return NULL;
  if (n == 1) return tk_ir_val_un(p->m, op, a[0]);
  if (n == 2) return tk_ir_val_bin(p->m, op, a[0], a[1]);
  if (op == TK_V_FMA) return tk_ir_val_fma(p->m, a[0], a[1], a[2]);
  return tk_ir_val_select(p->m, a[0], a[1], a[2]);
}

/* `name` or `name[ix]` for a local (the caller has checked a name is next). */
static bool local_ref(parser *p, int *local, const tk_ix **ix) {
  char nm[160];
  const char *at0 = p->s;
  if (!name(p, nm, sizeof nm)) return false;
  *local = local_find(p->k, nm);
  if (*local < 0) {
    p->s = at0;
    skip_sp(p);
    return fail(p, "a local of kernel %s (no local '%s')", p->k->name, nm);
  }
  if (p->s < p->end && *p->s == '[') {
    p->s++;
    *ix = ix_expr(p);
    return expect(p, "]");
  }
  tk_ix *z = ix_node(p, TK_IX_CONST);
  *ix = z;
  return z != NULL;
}

static const tk_ir_val *val_checked(parser *p, const tk_ir_val *v) {
  if (!v && ok(p)) oom(p);
  return v;
}

static const tk_ir_val *val(parser *p) {
  skip_sp(p);
  if (!ok(p)) return NULL;
  if (p->s >= p->end) return fail(p, "a value"), NULL;
  char c = *p->s;
  if (c == '(') {
    p->s++;
    const tk_ir_val *a = val(p);
    tk_ir_vop op = a ? infix_op(p) : TK_V_COUNT_;
    const tk_ir_val *b = op != TK_V_COUNT_ ? val(p) : NULL;
    if (!b || !expect(p, ")")) return NULL;
    return val_checked(p, tk_ir_val_bin(p->m, op, a, b));
  }
  if (c == '-' || c == '!') {
    p->s++;
    if (c == '-' && p->s < p->end && (isdigit((unsigned char)*p->s) || at(p, "inf")))
      return val_checked(
          p, at(p, "inf") ? (p->s += 3, tk_ir_val_f32(p->m, -INFINITY)) : number(p, true));
    const tk_ir_val *a = val(p);
    return a ? val_checked(p, tk_ir_val_un(p->m, c == '-' ? TK_V_NEG : TK_V_NOT, a)) : NULL;
  }
  if (isdigit((unsigned char)c)) return val_checked(p, number(p, false));
  if (c == '%') {
    int arg = arg_ref(p);
    if (arg < 0 || !expect(p, "[")) return NULL;
    const tk_ix *ix = ix_expr(p);
    if (!ix || !expect(p, "]")) return NULL;
    return val_checked(p, tk_ir_val_load(p->m, p->k, arg, ix));
  }
  if (!isalpha((unsigned char)c) && c != '_') return fail(p, "a value"), NULL;
  const char *at0 = p->s;
  char nm[160];
  if (!name(p, nm, sizeof nm)) return NULL;
  if (!strcmp(nm, "true") || !strcmp(nm, "false"))
    return val_checked(p, tk_ir_val_bool(p->m, nm[0] == 't'));
  if (!strcmp(nm, "nan")) return val_checked(p, tk_ir_val_f32(p->m, NAN));
  if (!strcmp(nm, "inf")) return val_checked(p, tk_ir_val_f32(p->m, INFINITY));
  if (p->s < p->end && *p->s == '(') {
    p->s++;
    if (!strcmp(nm, "i32")) {
      const tk_ix *ix = ix_expr(p);
      if (!ix || !expect(p, ")")) return NULL;
      return val_checked(p, tk_ir_val_index(p->m, ix));
    }
    return val_checked(p, call(p, nm));
  }
  p->s = at0;
  int local;
  const tk_ix *ix;
  if (!local_ref(p, &local, &ix)) return NULL;
  return val_checked(p, tk_ir_val_lload(p->m, p->k, local, ix));
}

/* ---- statements ---- */

static tk_ir_stmt *block(parser *p, int depth);

static const tk_ir_stmt *checked(parser *p, const tk_ir_stmt *s) {
  if (!s && ok(p)) oom(p);
  return s;
}

static const tk_ir_stmt *for_stmt(parser *p, int depth) {
  static const char *const kinds[] = {"serial", "parallel", "reduction", "unroll", "vector"};
  static const char *const binds[] = {NULL, "workgroup_x", "thread_x", "cpu_block"};
  const tk_ir_var *v = bind_var(p);
  if (!v || !expect(p, "in 0..")) return NULL;
  const tk_ix *extent = ix_expr(p);
  int kind = extent
                 ? keyword(p, kinds, 5, "a loop kind (serial, parallel, reduction, unroll, vector)")
                 : -1;
  if (kind < 0) return NULL;
  int bind = 0;
  if (accept(p, "@") &&
      (bind = keyword(p, binds, 4, "a binding (workgroup_x, thread_x, cpu_block)")) < 0)
    return NULL;
  int64_t prefetch = 0, span = 0;
  if (accept(p, "prefetch") && (!integer(p, &prefetch) || !expect(p, "span") || !integer(p, &span)))
    return NULL;
  if (!expect(p, "{") || !expect_eol(p) || !push_scope(p, v)) return NULL;
  const tk_ir_stmt *body = block(p, depth + 1);
  p->nscope--;
  if (!body) return NULL;
  const tk_ir_stmt *loop =
      tk_ir_stmt_for(p->m, v, extent, (tk_ir_loop_kind)kind, (tk_ir_binding)bind, body);
  return checked(p, prefetch || span ? tk_ir_stmt_prefetching(p->m, loop, prefetch, span) : loop);
}

static const tk_ir_stmt *if_stmt(parser *p, int depth) {
  static const char *const cmps[] = {"<= ", ">= ", "== ", "!= ", "< ", "> "};
  static const tk_ir_cmp ops[] = {TK_CMP_LE, TK_CMP_GE, TK_CMP_EQ, TK_CMP_NE, TK_CMP_LT, TK_CMP_GT};
  const tk_ix *lhs = ix_expr(p);
  if (!lhs) return NULL;
  skip_sp(p);
  int c = -1;
  for (int i = 0; i < 6 && c < 0; i++)
    if (at(p, cmps[i])) c = i;
  if (c < 0) return fail(p, "a comparison (< <= == != >= >)"), NULL;
  p->s += strlen(cmps[c]);
  const tk_ix *rhs = ix_expr(p);
  if (!rhs || !expect(p, "{") || !expect_eol(p)) return NULL;
  const tk_ir_stmt *body = block(p, depth + 1);
  if (!body) return NULL;
  return checked(p, tk_ir_stmt_if(p->m, lhs, ops[c], rhs, body));
}

static tk_ir_stmt *stmt_list(parser *p, int depth, bool bare);

/* The loads of a scheduled value take their origins from the same places in the origin
 * store's value (the rewrite copies values node for node, or replaces a load by a local). */
static bool link_origins(parser *p, tk_ir_val *v, const tk_ir_val *o) {
  if (!v && !o) return true;
  /* a load the schedule holds in a local (a GEMM epilogue's accumulator): class layout proves
   * the local holds the element that load reads */
  if (v && o && v->op == TK_V_LOCAL_LOAD && o->op == TK_V_LOAD) {
    v->origin = o;
    return true;
  }
  if (!v || !o || v->op != o->op) return fail(p, "a value of the same shape as the origin store's");
  if (v->op == TK_V_LOAD || v->op == TK_V_LOCAL_LOAD) v->origin = o;
  return link_origins(p, (tk_ir_val *)v->a, o->a) && link_origins(p, (tk_ir_val *)v->b, o->b) &&
         link_origins(p, (tk_ir_val *)v->c, o->c);
}

/* The LOAD of tensor `tensor` in the source kernel's value o, or NULL. */
static const tk_ir_val *load_of_tensor(const parser *p, const tk_ir_val *o, int tensor) {
  if (!o) return NULL;
  if (o->op == TK_V_LOAD && p->src->args[o->arg].tensor == tensor) return o;
  const tk_ir_val *found = load_of_tensor(p, o->a, tensor);
  if (!found) found = load_of_tensor(p, o->b, tensor);
  return found ? found : load_of_tensor(p, o->c, tensor);
}

/* A store whose value is one load of its origin's value (the tiled schedule's staging of an
 * operand into a shared local) links that load; any other value links node for node. */
static bool link_store_origins(parser *p, tk_ir_val *v, const tk_ir_val *o) {
  if (v->op != TK_V_LOAD || o->op == TK_V_LOAD) return link_origins(p, v, o);
  v->origin = load_of_tensor(p, o, p->k->args[v->arg].tensor);
  return v->origin ? true : fail(p, "a load of a tensor the origin store's value loads");
}

/* `(from N[, subst M])` after a scheduled store: its origin and substitution. */
static bool origin(parser *p, tk_ir_stmt *st) {
  skip_sp(p);
  const char *at0 = p->s;
  if (!accept(p, "(from")) return true;
  if (!p->src) return fail(p, "no origin outside a scheduled kernel");
  int64_t from, sub = -1;
  if (!int_in(p, &from, 0, p->fam->nstores - 1, "a store of the source kernel")) return false;
  if (accept(p, ", subst") && !int_in(p, &sub, 0, p->nsubsts - 1, "a subst line of this kernel"))
    return false;
  if (!expect(p, ")")) return false;
  const tk_ir_stmt *o = p->fam->stores[from];
  if (o->kind != st->kind) {
    p->s = at0;
    return fail(p, "an origin store of the same kind (local or argument)");
  }
  st->origin = o;
  st->subst = sub >= 0 ? p->substs[sub] : NULL;
  return link_store_origins(p, (tk_ir_val *)st->value, o->value);
}

static const tk_ir_stmt *stmt(parser *p, int depth) {
  if (accept(p, "for ")) return for_stmt(p, depth);
  if (accept(p, "{")) return expect_eol(p) ? stmt_list(p, depth + 1, true) : NULL;
  if (accept(p, "if ")) return if_stmt(p, depth);
  skip_sp(p);
  if (at_word(p, "barrier")) {
    p->s += strlen("barrier");
    return expect_eol(p) ? checked(p, tk_ir_stmt_barrier(p->m)) : NULL;
  }
  if (at(p, "%")) {
    int arg = arg_ref(p);
    if (arg < 0 || !expect(p, "[")) return NULL;
    const tk_ix *ix = ix_expr(p);
    if (!ix || !expect(p, "]") || !expect(p, "=")) return NULL;
    const tk_ir_val *v = val(p);
    const tk_ir_stmt *st = v ? checked(p, tk_ir_stmt_store(p->m, arg, ix, v)) : NULL;
    return st && origin(p, (tk_ir_stmt *)st) && expect_eol(p) ? st : NULL;
  }
  if (p->s < p->end && (isalpha((unsigned char)*p->s) || *p->s == '_')) {
    int local;
    const tk_ix *ix;
    if (!local_ref(p, &local, &ix) || !expect(p, "=")) return NULL;
    const tk_ir_val *v = val(p);
    const tk_ir_stmt *st = v ? checked(p, tk_ir_stmt_lstore(p->m, local, ix, v)) : NULL;
    return st && origin(p, (tk_ir_stmt *)st) && expect_eol(p) ? st : NULL;
  }
  fail(p, "a statement (for, if, barrier, %%arg[...] = or local = ) or '}'");
  return NULL;
}

/* Statements up to a line `}` (consumed): a bare block `{ ... }` is a BLOCK of exactly its
 * statements; a body (bare = false) is its one statement, or a BLOCK of 0 or >= 2. */
static tk_ir_stmt *stmt_list(parser *p, int depth, bool bare) {
  tk_ir_stmt *b = tk_ir_stmt_block(p->m);
  if (!b) return oom(p), NULL;
  while (ok(p)) {
    skip_sp(p);
    if (p->s >= p->end) return fail(p, "'}'"), NULL;
    if (accept(p, "}")) {
      if (!expect_eol(p)) return NULL;
      return !bare && b->n == 1 ? (tk_ir_stmt *)b->stmts[0] : b;
    }
    const tk_ir_stmt *s = stmt(p, depth);
    if (!s) return NULL;
    tk_ir_stmt_block_add(p->m, b, s);
  }
  return NULL;
}

static tk_ir_stmt *block(parser *p, int depth) { return stmt_list(p, depth, false); }

/* ---- kernels ---- */

static bool arg_line(parser *p) {
  static const char *const access[] = {NULL, "read", "write", "readwrite"};
  if (accept(p, "B : i32")) return expect_eol(p) && expect(p, "arg Bp : i32") && expect_eol(p);
  int t = tensor_ref(p);
  if (t < 0 || !expect(p, ":")) return false;
  int type = keyword(p, TYPES, 2, "an argument type (f32, i32)");
  if (type < 0 || !expect(p, "[")) return false;
  const tk_ix *rows = ix_expr(p);
  int64_t cols;
  if (!rows || !expect(p, ",") || !integer(p, &cols) || !expect(p, "]")) return false;
  int role = keyword(p, ROLES, 4, "a role (in, out, param, scratch)");
  int acc = role < 0 ? -1 : keyword(p, access, 4, "an access (read, write, readwrite)");
  if (acc < 0) return false;
  int buf = -1;
  if (accept(p, "@")) {
    char nm[256];
    if (!name(p, nm, sizeof nm)) return false;
    if ((buf = buffer_find(p->m, nm)) < 0) return fail(p, "a declared buffer (no buffer @%s)", nm);
  }
  if (!expect_eol(p)) return false;
  const tk_ir_tensor *tt = &p->m->tensors[t];
  if ((int)tt->type != type || tt->dims[1]->c != cols || !tk_ir_ix_equal(tt->dims[0], rows))
    return fail(p, "the argument's type and shape to be its tensor's (%%%s)", tt->name);
  int a = tk_ir_kernel_arg(p->m, p->k, t, (tk_ir_role)role, (tk_ir_access)acc);
  if (a < 0) return oom(p);
  if (a != p->k->nargs - 1) return fail(p, "each tensor once among a kernel's arguments");
  p->k->args[a].buffer = buf;
  return true;
}

static bool local_line(parser *p) {
  char nm[160];
  int64_t count, expand = 1;
  if (!name(p, nm, sizeof nm) || !expect(p, ":")) return false;
  int type = keyword(p, TYPES, 3, "a local type (f32, i32, bool)");
  if (type < 0 || !expect(p, "[") || !int_in(p, &count, 1, INT32_MAX, "an element count") ||
      !expect(p, "]"))
    return false;
  bool shared = accept(p, "shared");
  int origin = -1;
  if (accept(p, "from ")) {
    char on[160];
    if (!name(p, on, sizeof on)) return false;
    if (!p->src || (origin = local_find(p->src, on)) < 0)
      return fail(p, "a local of the source kernel");
  }
  if (accept(p, "expand ") && !int_in(p, &expand, 1, INT32_MAX, "an expansion factor"))
    return false;
  if (!expect_eol(p)) return false;
  char base[160];
  snprintf(base, sizeof base, "%s", nm);
  char *dot = strchr(base, '.');
  if (dot) *dot = '\0';
  int l = tk_ir_kernel_local(p->m, p->k, base, (tk_ir_type)type, count);
  if (l < 0) return oom(p);
  if (local_find(p->k, nm) != l)
    return fail(p, "local names in order (%s is not the next local's name)", nm);
  p->k->locals[l].origin = origin;
  p->k->locals[l].expand = expand;
  p->k->locals[l].shared = shared;
  return true;
}

/* `var v = inv`, or `var v`: a variable a subst line names before its loop. */
static bool var_line(parser *p) {
  char nm[128];
  if (!name(p, nm, sizeof nm)) return false;
  if (fam_find(p->fam, nm)) return fail(p, "a new variable name ('%s' is defined before)", nm);
  skip_sp(p);
  if (p->s == p->end || *p->s == '\n') return fam_new(p, nm, NULL) != NULL && expect_eol(p);
  if (!expect(p, "=")) return false;
  const tk_ix *inv = ix_expr(p);
  if (!inv || !expect_eol(p)) return false;
  return fam_new(p, nm, inv) != NULL;
}

/* `subst N (v -> ix, ...)` of a scheduled kernel. */
static bool subst_line(parser *p) {
  int64_t id;
  if (!int_in(p, &id, p->nsubsts, p->nsubsts, "the next subst number") || !expect(p, "("))
    return false;
  int n = 1;
  for (const char *q = p->s; q < p->end && *q != '\n'; q++) n += *q == ',';
  tk_ir_subst *sb = tk_ir_subst_new(p->m, n);
  tk_ir_subst **grown = sb ? tk_realloc(p->substs, sizeof *grown * (size_t)(p->nsubsts + 1)) : NULL;
  if (!grown) return oom(p);
  p->substs = grown;
  p->substs[p->nsubsts++] = sb;
  if (accept(p, ")")) return expect_eol(p);
  do {
    const tk_ir_var *v = use_var(p);
    const tk_ix *to = v && expect(p, "->") ? ix_expr(p) : NULL;
    if (!to) return false;
    tk_ir_subst_add(sb, v, to);
  } while (accept(p, ","));
  return expect(p, ")") && expect_eol(p);
}

static bool phase_block(parser *p) {
  char nm[128];
  if (!name(p, nm, sizeof nm) || !expect(p, "(")) return false;
  tk_ir_phase *ph = tk_ir_kernel_phase(p->m, p->k, nm);
  if (!ph) return oom(p);
  do {
    if (ph->ndims == 2) return fail(p, "at most two phase dimensions");
    const tk_ir_var *v = bind_var(p);
    if (!v || !expect(p, "in 0..")) return false;
    ph->vars[ph->ndims] = v;
    ph->extents[ph->ndims] = ix_expr(p);
    if (!ph->extents[ph->ndims++]) return false;
  } while (accept(p, ","));
  if (!expect(p, ")")) return false;
  ph->tileable = accept(p, "tileable");
  if (!expect(p, "{") || !expect_eol(p)) return false;
  p->scoped = true;
  p->nscope = 0;
  for (int d = 0; d < ph->ndims; d++) push_scope(p, ph->vars[d]);
  ph->body = block(p, 2);
  p->scoped = false;
  return ph->body != NULL;
}

static bool step_line(parser *p) {
  static const char *const kinds[] = {"fuse",   "split", "reorder", "bind",   "vectorize",
                                      "unroll", "guard", "tail",    "expand", "interchange"};
  static const char *const binds[] = {NULL, "workgroup_x", "thread_x", "cpu_block"};
  int kind = keyword(p, kinds, 10, "a schedule step");
  if (kind < 0) return false;
  tk_ir_sched_step s = {.kind = (tk_ir_sched_kind)kind, .local = 0};
  switch (s.kind) {
    case TK_SCHED_FUSE:
      s.a = use_var(p);
      if (expect(p, ",")) s.b = use_var(p);
      if (expect(p, "->")) s.out = use_var(p);
      break;
    case TK_SCHED_SPLIT:
      s.a = use_var(p);
      if (expect(p, "->")) s.out = use_var(p);
      if (expect(p, ",")) s.inner = use_var(p);
      if (expect(p, "by")) integer(p, &s.factor);
      break;
    case TK_SCHED_REORDER: {
      const tk_ir_var **slots[4] = {&s.a, &s.b, &s.out, &s.inner};
      int n = 0;
      do {
        if (n == 4) return fail(p, "at most four variables");
        *slots[n++] = use_var(p);
      } while (ok(p) && accept(p, ","));
      break;
    }
    case TK_SCHED_BIND: {
      s.a = use_var(p);
      int b = ok(p) && expect(p, "@")
                  ? keyword(p, binds, 4, "a binding (workgroup_x, thread_x, cpu_block)")
                  : -1;
      if (b >= 0) s.binding = (tk_ir_binding)b;
      break;
    }
    case TK_SCHED_VECTORIZE:
    case TK_SCHED_UNROLL: s.a = use_var(p); break;
    case TK_SCHED_GUARD:
      s.lhs = ix_expr(p);
      if (expect(p, "<")) s.rhs = ix_expr(p);
      break;
    case TK_SCHED_TAIL:
      s.a = use_var(p);
      if (expect(p, "->")) s.inner = use_var(p);
      if (expect(p, "(last")) integer(p, &s.factor);
      expect(p, ")");
      break;
    case TK_SCHED_EXPAND: {
      char nm[160];
      if (!name(p, nm, sizeof nm)) return false;
      if ((s.local = local_find(p->k, nm)) < 0) return fail(p, "a local of kernel %s", p->k->name);
      if (expect(p, "by")) integer(p, &s.factor);
      break;
    }
    case TK_SCHED_INTERCHANGE:
      if (expect(p, "tile loops into")) s.a = use_var(p);
      break;
  }
  if (!ok(p)) return false;
  if (accept(p, "; phase")) {
    int64_t ph;
    if (!int_in(p, &ph, 0, p->src ? p->src->nphases - 1 : 0, "a phase of the source kernel"))
      return false;
    s.phase = (int)ph;
  }
  if (!expect_eol(p)) return false;
  tk_ir_kernel_step(p->m, p->k, s);
  return true;
}

static bool kernel_lines(parser *p);

/* `, tile R x C, registers RR x RC, k-slice KS` after a GPU launch's workgroup, if there. */
static bool tile_of(parser *p, tk_ir_gpu_tile *t) {
  if (!accept(p, ", tile")) return true;
  return int_in(p, &t->rows, 1, 1 << 20, "tile rows") && expect(p, "x") &&
         int_in(p, &t->cols, 1, 1 << 20, "tile columns") && expect(p, ", registers") &&
         int_in(p, &t->reg_rows, 1, t->rows, "register rows (at most the tile's)") &&
         expect(p, "x") &&
         int_in(p, &t->reg_cols, 1, t->cols, "register columns (at most the tile's)") &&
         expect(p, ", k-slice") && int_in(p, &t->kslice, 1, 1 << 20, "a k-slice");
}

static bool kernel_header(parser *p) {
  static const char *const targets[] = {"fused", "gpu", "cpu"};
  char nm[256];
  if (!expect(p, "kernel ") || !name(p, nm, sizeof nm) || !expect(p, "(")) return false;
  int t = keyword(p, targets, 3, "a target (fused, gpu, cpu)");
  if (t < 0) return false;
  tk_ir_target target = t == 0 ? TK_TARGET_NONE : t == 1 ? TK_TARGET_GPU : TK_TARGET_CPU;
  static const tk_ir_stage first[] = {TK_STAGE_FUSED, TK_STAGE_GPU, TK_STAGE_CPU};
  if (p->stage < first[t])
    return fail(p, "no %s kernels at stage %s (they appear at stage %s)", targets[t],
                tk_ir_stage_name(p->stage), tk_ir_stage_name(first[t]));
  if (tk_ir_kernel_find(p->m, target, nm))
    return fail(p, "a new kernel name (%s is declared twice)", nm);
  tk_ir_kernel *k = tk_ir_kernel_new(p->m, target, nm);
  if (!k) return oom(p);
  p->k = k;
  p->src = NULL;
  p->nsubsts = 0;
  if (target != TK_TARGET_NONE) {
    char src[256];
    if (!expect(p, ", from") || !name(p, src, sizeof src)) return false;
    char *dot = strchr(src, '.');
    if (dot) *dot++ = '\0';
    const tk_ir_kernel *f = tk_ir_kernel_find(p->m, TK_TARGET_NONE, src);
    if (!f) return fail(p, "a fused kernel declared before (no kernel %s)", src);
    k->source = f->id;
    for (int i = 0; dot && i < f->nphases; i++)
      if (!strcmp(f->phases[i].name, dot)) k->source_phase = i;
    if (dot && k->source_phase < 0) return fail(p, "a phase of kernel %s (no phase %s)", src, dot);
    if (dot && !more_phases(p, f, k)) return false;
    p->src = f;
    p->fam = &p->fams[f->id];
  }
  int64_t bits;
  if (!expect(p, ", index i") || !integer(p, &bits) || !expect(p, ")") || !expect_eol(p))
    return false;
  if (bits != 0 && bits != 32 && bits != 64) return fail(p, "index width i0, i32 or i64");
  k->index_bits = (int)bits;
  tk_ir_kernel_append(p->m, k);
  if (k->id < 0) return oom(p);
  if (target == TK_TARGET_NONE) {
    if (k->id >= p->nfams) return fail(p, "fused kernels before scheduled ones");
    p->fam = &p->fams[k->id];
    return true;
  }
  if (!expect(p, "launch grid") || !(k->launch.grid = ix_expr(p)) || !expect(p, ",")) return false;
  if (target == TK_TARGET_GPU)
    return expect(p, "workgroup") &&
           int_in(p, &k->launch.workgroup_size, 1, 1024, "a workgroup size") &&
           tile_of(p, &k->launch.tile) && expect_eol(p);
  k->launch.workgroup_size = 1;
  return expect(p, "block rows") &&
         int_in(p, &k->launch.block_rows, 1, 1 << 20, "rows per block") && expect_eol(p);
}

static void add_store(const tk_ir_stmt *s, void *user) {
  parser *p = user;
  if (s->kind != TK_S_STORE && s->kind != TK_S_LOCAL_STORE) return;
  const tk_ir_stmt **grown =
      tk_realloc(p->fam->stores, sizeof *grown * (size_t)(p->fam->nstores + 1));
  if (!grown) {
    oom(p);
    return;
  }
  p->fam->stores = grown;
  p->fam->stores[p->fam->nstores++] = s;
}

static bool kernel(parser *p) {
  if (!kernel_header(p)) return false;
  bool ok_ = kernel_lines(p);
  for (int i = 0; ok_ && p->k->target == TK_TARGET_NONE && i < p->k->nphases; i++)
    tk_ir_walk_stmts(p->k->phases[i].body, add_store, p);
  return ok_ && ok(p);
}

static bool kernel_lines(parser *p) {
  while (ok(p)) {
    skip_sp(p);
    if (p->s >= p->end || *p->s == '\n') break;
    if (accept(p, "arg "))
      arg_line(p);
    else if (accept(p, "local "))
      local_line(p);
    else if (accept(p, "var "))
      var_line(p);
    else if (accept(p, "subst "))
      subst_line(p);
    else if (at_contract(p))
      contract_line(p, &p->k->contracts, true);
    else if (accept(p, "phase "))
      phase_block(p);
    else if (accept(p, "schedule {")) {
      if (!expect_eol(p)) return false;
      while (ok(p) && !accept(p, "}")) step_line(p);
      expect_eol(p);
    } else if (accept(p, "body {")) {
      if (!expect_eol(p)) return false;
      p->scoped = true;
      p->nscope = 0;
      p->k->body = block(p, 2);
      p->scoped = false;
    } else
      return fail(p, "arg, local, var, requires, ensures, phase, schedule or body");
  }
  return ok(p) && (p->s >= p->end || expect_eol(p));
}

/* ---- module ---- */

static bool module_body(parser *p, const char *contracts_at, int contracts_line) {
  skip_blank_lines(p);
  while (ok(p) && at(p, "tensor ")) {
    tensor_line(p);
  }
  /* the module contracts name tensors: read them now */
  const char *resume = p->s, *resume_ls = p->line_start;
  int resume_line = p->line;
  p->s = contracts_at;
  p->line = contracts_line;
  p->line_start = contracts_at;
  if (!contract_lines(p, &p->m->contracts, false)) return false;
  p->s = resume;
  p->line = resume_line;
  p->line_start = resume_ls;
  skip_blank_lines(p);
  while (ok(p) && at(p, "op ")) {
    op_line(p);
    skip_blank_lines(p);
  }
  while (ok(p) && at(p, "buffer ")) buffer_line(p);
  skip_blank_lines(p);
  p->nfams = 0;
  for (const char *q = p->s; q && q < p->end;
       q = memchr(q, '\n', (size_t)(p->end - q)), q = q ? q + 1 : q)
    if ((size_t)(p->end - q) >= 7 && !memcmp(q, "kernel ", 7)) p->nfams++;
  p->fams = tk_calloc((size_t)(p->nfams ? p->nfams : 1), sizeof *p->fams);
  if (!p->fams) return oom(p);
  while (ok(p) && p->s < p->end) {
    kernel(p);
    skip_blank_lines(p);
  }
  return ok(p);
}

static void fams_free(parser *p) {
  for (int i = 0; p->fams && i < p->nfams; i++) {
    for (int j = 0; j < p->fams[i].n; j++) free(p->fams[i].items[j].name);
    free(p->fams[i].items);
    free(p->fams[i].stores);
  }
  free(p->fams);
  free(p->substs);
}

/* The module line is a summary of the arch line: they must agree. */
static bool check_summary(parser *p, const char *summary, int line) {
  const tk_arch *a = &p->m->arch;
  char want[512];
  snprintf(
      want, sizeof want,
      "module %s arch %s: in = %d, hidden = %d, out = %d, experts = %d, top_k = %d, depth = %d",
      tk_arch_model_kind_name(a->model_kind), a->fingerprint, a->input_dim, a->hidden_dim,
      a->output_dim, a->n_experts, a->top_k, a->expert_depth);
  if (!strcmp(want, summary)) return true;
  p->err = tk_status_make(TK_INVALID_ARGUMENT,
                          "%s:%d:1: expected the module line of the arch line, '%s', found '%s'",
                          p->file, line, want, summary);
  return false;
}

static void parse_module(parser *p) {
  tk_arch arch;
  tk_ir_options o = {0}; /* dispatch is dense unless the options line says sparse */
  tk_ir_stage stage;
  char summary[512];
  if (!header(p, &arch, &o, &stage, summary, sizeof summary)) return;
  p->stage = stage;
  tk_status s = tk_ir_module_create(&arch, &o, &p->m);
  if (s) {
    tk_status_code code =
        tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED ? TK_RESOURCE_EXHAUSTED : TK_INVALID_ARGUMENT;
    p->err =
        tk_status_make(code, "%s:%d:1: options: %s", p->file, p->line - 1, tk_status_message(s));
    tk_status_free(s);
    return;
  }
  if (!check_summary(p, summary, 2)) return;
  const char *contracts_at = p->s;
  int contracts_line = p->line;
  while (at_contract(p)) {
    const char *e = memchr(p->s, '\n', (size_t)(p->end - p->s));
    p->s = e ? e : p->end;
    if (e) expect_eol(p);
  }
  module_body(p, contracts_at, contracts_line);
  if (ok(p)) p->m->stage = stage;
}

tk_status tk_ir_parse(const char *text, size_t len, const char *filename, tk_ir_module **out) {
  *out = NULL;
  if (!text) text = "";
  parser p = {.s = text,
              .end = text + len,
              .file = filename ? filename : "<input>",
              .line = 1,
              .line_start = text};
  if (memchr(text, '\0', len))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: expected text, found a NUL byte", p.file);
  parse_module(&p);
  fams_free(&p);
  tk_status s = p.err;
  if (!s && p.m) s = tk_ir_module_status(p.m);
  if (!s && p.m) {
    s = tk_ir_verify(p.m);
    if (s) {
      tk_status e = tk_status_make(TK_INVALID_ARGUMENT, "%s: the module does not check: %s", p.file,
                                   tk_status_message(s));
      tk_status_free(s);
      s = e;
    }
  }
  if (s) {
    tk_ir_module_free(p.m);
    return s;
  }
  *out = p.m;
  return TK_STATUS_OK;
}
