/* verify/smt.c — the obligation builder: tk_ix → Z3 Int terms, declarations, hypotheses, goal,
 * and the SMT-LIB2 text of an obligation.
 *
 * Translation is literal: CONST → numeral, SYM → the B/Bp constants, VAR → one Int constant
 * per loop variable and copy, ADD/SUB/MUL-by-constant → +, -, *, MIN/MAX → ite, DIV/MOD by a
 * positive constant → SMT-LIB div/mod (Euclidean; equal to floor division for a positive
 * divisor, which is what ir/ix.c and codegen implement). Everything stays linear.
 *
 * The text is deterministic: declarations in creation order, hypotheses in assertion order,
 * then `(assert (! (not GOAL) :named goal))` and `(check-sat)`. Terms are printed by Z3 in its
 * SMT-LIB2-compliant mode (shared subterms as `let`). No times, paths or pointers.
 */
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

tk_obl *tk_verify_obl_cur(tk_vctx *v) { return &v->obl; }

static bool grow(tk_obl *o, void **items, int *cap, int n, size_t elem) {
  if (n < *cap) return true;
  int ncap = *cap ? *cap * 2 : 16;
  void *p = tk_realloc(*items, (size_t)ncap * elem);
  if (!p) {
    o->oom = true;
    return false;
  }
  *items = p;
  *cap = ncap;
  return true;
}

static bool name_taken(const tk_obl *o, const char *name) {
  if (!strcmp(name, "goal")) return true;
  for (int i = 0; i < o->ndecls; i++)
    if (!strcmp(o->decls[i].name, name)) return true;
  return false;
}

/* Appends a declaration named `base` (or base.2, base.3, ... if taken); returns its slot. */
static tk_obl_decl *add_decl(tk_obl *o, const char *base) {
  if (!grow(o, (void **)&o->decls, &o->cap_decls, o->ndecls, sizeof *o->decls)) return NULL;
  tk_obl_decl *d = &o->decls[o->ndecls];
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%s", base);
  for (int i = 2; name_taken(o, d->name); i++) snprintf(d->name, sizeof d->name, "%s.%d", base, i);
  o->ndecls++;
  return d;
}

/* Out of memory (grow set o->oom), the term builders below still return valid, unrecorded
 * terms: Z3 crashes on NULL arguments, and tk_verify_obl_prove reports o->oom before any
 * solving or printing. */
Z3_ast tk_verify_obl_fresh(tk_obl *o, const char *name, Z3_sort s, bool show) {
  tk_obl_decl *d = add_decl(o, name);
  if (!d) return Z3_mk_const(o->v->z, Z3_mk_string_symbol(o->v->z, name), s);
  d->c = Z3_mk_const(o->v->z, Z3_mk_string_symbol(o->v->z, d->name), s);
  d->show = show;
  return d->c;
}

Z3_func_decl tk_verify_obl_fresh_fn(tk_obl *o, const char *name, unsigned n, const Z3_sort *dom,
                                    Z3_sort range) {
  tk_obl_decl *d = add_decl(o, name);
  if (!d) return Z3_mk_func_decl(o->v->z, Z3_mk_string_symbol(o->v->z, name), n, dom, range);
  d->f = Z3_mk_func_decl(o->v->z, Z3_mk_string_symbol(o->v->z, d->name), n, dom, range);
  return d->f;
}

void tk_verify_obl_begin(tk_vctx *v, tk_obl_class cls, const char *kernel, const char *target,
                         const char *fmt, ...) {
  tk_obl *o = &v->obl;
  for (int i = 0; i < o->ntouched; i++)
    o->vars[0][o->touched[i]] = o->vars[1][o->touched[i]] = NULL;
  o->ntouched = o->ndecls = o->nhyps = o->nshows = o->ndivs = o->nbase = o->nparts = o->ndefs = 0;
  o->nloads = o->nfacts = 0;
  o->ix_kernel = NULL;
  o->ufs = false;
  o->whole_first = false;
  o->goal = NULL;
  o->cls = cls;
  o->kernel = kernel;
  o->target = target;
  o->arrays = cls == TK_OBL_TOPK || cls == TK_OBL_DISPATCH;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->statement, sizeof o->statement, fmt, ap);
  va_end(ap);
  o->B = tk_verify_obl_fresh(o, "B", v->int_sort, true);
  o->Bp = tk_verify_obl_fresh(o, "Bp", v->int_sort, true);
  if (!o->B || !o->Bp) return;
  tk_verify_obl_hyp(o, Z3_mk_le(v->z, tk_verify_z_int(v, 1), o->B)); /* contract b_range */
  tk_verify_obl_hyp(o, Z3_mk_le(v->z, o->B, tk_verify_z_int(v, v->bmax)));
  tk_verify_obl_hyp(o,
                    Z3_mk_eq(v->z, o->Bp, tk_verify_obl_bp_def(o, o->B))); /* contract bp_padded */
  o->nbase = o->nhyps;
  o->ndefs = 0; /* the quotient of the Bp definition belongs to the batch rules */
}

/* Records that var's slots are in use (tk_verify_obl_begin clears them). */
static bool touch(tk_obl *o, const tk_ir_var *var) {
  if (o->vars[0][var->id] || o->vars[1][var->id]) return true;
  if (!grow(o, (void **)&o->touched, &o->cap_touched, o->ntouched, sizeof *o->touched))
    return false;
  o->touched[o->ntouched++] = var->id;
  return true;
}

Z3_ast tk_verify_obl_var(tk_obl *o, const tk_ir_var *var, int copy) {
  Z3_ast *slot = &o->vars[copy][var->id];
  if (*slot) return *slot;
  if (!touch(o, var))
    return Z3_mk_const(o->v->z, Z3_mk_string_symbol(o->v->z, var->name), o->v->int_sort);
  char name[64];
  snprintf(name, sizeof name, copy ? "%s.b" : "%s", var->name);
  *slot = tk_verify_obl_fresh(o, name, o->v->int_sort, true);
  return *slot;
}

void tk_verify_obl_bind(tk_obl *o, const tk_ir_var *var, int copy, Z3_ast term) {
  if (!term || !touch(o, var)) {
    o->oom = true;
    return;
  }
  o->vars[copy][var->id] = term;
}

void tk_verify_obl_unbind(tk_obl *o, const tk_ir_var *var, int copy) {
  o->vars[copy][var->id] = NULL;
}

const tk_ir_kernel *tk_verify_obl_ix_kernel(const tk_obl *o) {
  return o->ix_kernel ? o->ix_kernel : o->v->kernel;
}

int tk_verify_obl_data_key(const tk_obl *o, int arg) {
  const tk_ir_kernel *k = tk_verify_obl_ix_kernel(o);
  int b = k && arg >= 0 && arg < k->nargs ? k->args[arg].buffer : -1;
  return b >= 0 ? b : -1 - arg;
}

/* The data function of argument `arg` (declared on first use in the obligation). */
static Z3_func_decl data_fn(tk_obl *o, int arg, const char *name, bool *fresh) {
  *fresh = false;
  int key = tk_verify_obl_data_key(o, arg);
  for (int i = 0; i < o->nloads; i++)
    if (!o->loads[i].ghost && o->loads[i].key == key) return o->loads[i].f;
  *fresh = true;
  if (!grow(o, (void **)&o->loads, &o->cap_loads, o->nloads, sizeof *o->loads)) return NULL;
  char fname[80];
  snprintf(fname, sizeof fname, "data.%s", name);
  Z3_sort int_sort = o->v->int_sort;
  Z3_func_decl f = tk_verify_obl_fresh_fn(o, fname, 1, &int_sort, int_sort);
  o->loads[o->nloads++] = (tk_obl_load_fn){key, false, f};
  o->ufs = true;
  return f;
}

Z3_ast tk_verify_obl_data(tk_obl *o, int arg, const char *name, Z3_ast index) {
  tk_vctx *v = o->v;
  bool fresh;
  Z3_func_decl f = index ? data_fn(o, arg, name, &fresh) : NULL;
  if (!f) return NULL;
  Z3_ast x = Z3_mk_app(v->z, f, 1, &index);
  char label[sizeof o->shows->label];
  snprintf(label, sizeof label, "%%%.50s[...]", name); /* a counterexample's first read of it */
  if (fresh) tk_verify_obl_show(o, label, x);
  Z3_ast lo = tk_verify_z_int(v, INT32_MIN); /* one term per statement: term order */
  Z3_ast hi = tk_verify_z_int(v, (int64_t)INT32_MAX + 1);
  tk_verify_obl_hyp(o, tk_verify_z_in(v, lo, x, hi));
  tk_verify_obl_dispatch_facts(o, arg, index, x);
  return x;
}

Z3_ast tk_verify_obl_ix(tk_obl *o, const tk_ix *e, int copy) {
  tk_vctx *v = o->v;
  if (!e) return NULL;
  switch (e->kind) {
    case TK_IX_CONST: return tk_verify_z_int(v, e->c);
    case TK_IX_SYM: return e->sym == TK_SYM_B ? o->B : o->Bp;
    case TK_IX_VAR: return tk_verify_obl_var(o, e->var, copy);
    case TK_IX_ADD:
    case TK_IX_SUB: {
      Z3_ast b = tk_verify_obl_ix(o, e->b, copy); /* b first: verify_internal.h, term order */
      Z3_ast a = tk_verify_obl_ix(o, e->a, copy);
      return e->kind == TK_IX_ADD ? tk_verify_z_add2(v, a, b) : tk_verify_z_sub2(v, a, b);
    }
    case TK_IX_MUL: return tk_verify_z_mul_c(v, tk_verify_obl_ix(o, e->a, copy), e->c);
    case TK_IX_MIN:
    case TK_IX_MAX: {
      Z3_ast a = tk_verify_obl_ix(o, e->a, copy), b = tk_verify_obl_ix(o, e->b, copy);
      if (!a || !b) return NULL;
      Z3_ast a_le_b = Z3_mk_le(v->z, a, b);
      return e->kind == TK_IX_MIN ? Z3_mk_ite(v->z, a_le_b, a, b) : Z3_mk_ite(v->z, a_le_b, b, a);
    }
    case TK_IX_DIV:
    case TK_IX_MOD: {
      Z3_ast a = tk_verify_obl_ix(o, e->a, copy);
      if (!a) return NULL;
      return tk_verify_obl_div(o, a, e->c, e->kind == TK_IX_MOD);
    }
    case TK_IX_LOAD:
      return tk_verify_obl_data(o, e->arg, e->arg_name, tk_verify_obl_ix(o, e->a, copy));
  }
  return NULL;
}

/* t as k * c * y or a numeral k * c: the term k * y (or k), else NULL. */
static Z3_ast multiple_of(tk_vctx *v, Z3_ast t, int64_t c) {
  Z3_context z = v->z;
  int64_t k;
  if (Z3_get_ast_kind(z, t) == Z3_NUMERAL_AST)
    return Z3_get_numeral_int64(z, t, &k) && k % c == 0 ? tk_verify_z_int(v, k / c) : NULL;
  if (Z3_get_ast_kind(z, t) != Z3_APP_AST) return NULL;
  Z3_app app = Z3_to_app(z, t);
  if (Z3_get_decl_kind(z, Z3_get_app_decl(z, app)) != Z3_OP_MUL || Z3_get_app_num_args(z, app) != 2)
    return NULL;
  for (unsigned i = 0; i < 2; i++) {
    Z3_ast n = Z3_get_app_arg(z, app, i), y = Z3_get_app_arg(z, app, 1 - i);
    if (Z3_get_ast_kind(z, n) == Z3_NUMERAL_AST && Z3_get_numeral_int64(z, n, &k) && k % c == 0)
      return k == c ? y : tk_verify_z_mul_c(v, y, k / c);
  }
  return NULL;
}

/* Splits x (a sum, nested + flattened) into whole = the sum of its addends that are multiples
 * of c, divided by c, and rest = the others (NULL when none). False when no addend is one. */
static bool split_multiples(tk_vctx *v, Z3_ast x, int64_t c, Z3_ast *whole, Z3_ast *rest) {
  Z3_context z = v->z;
  Z3_ast m = multiple_of(v, x, c);
  if (m) {
    *whole = *whole ? tk_verify_z_add2(v, *whole, m) : m;
    return true;
  }
  bool sum = Z3_get_ast_kind(z, x) == Z3_APP_AST &&
             Z3_get_decl_kind(z, Z3_get_app_decl(z, Z3_to_app(z, x))) == Z3_OP_ADD;
  bool found = false;
  for (unsigned i = 0; sum && i < Z3_get_app_num_args(z, Z3_to_app(z, x)); i++)
    found |= split_multiples(v, Z3_get_app_arg(z, Z3_to_app(z, x), i), c, whole, rest);
  if (!sum) *rest = *rest ? tk_verify_z_add2(v, *rest, x) : x;
  return found;
}

Z3_ast tk_verify_obl_div(tk_obl *o, Z3_ast x, int64_t c, bool mod) {
  tk_vctx *v = o->v;
  if (!x) return NULL;
  /* (k*c*y + b) div c = k*y + b div c and (k*c*y + b) mod c = b mod c, exactly: the solver
   * then never has to rediscover the quotient of a sum (cvc5 could not, for the CPU schedule's
   * work items w = rb * CB + cb). */
  Z3_ast whole = NULL, rest = NULL;
  if (split_multiples(v, x, c, &whole, &rest)) {
    if (!rest) return mod ? tk_verify_z_int(v, 0) : whole;
    Z3_ast part = tk_verify_obl_div(o, rest, c, mod);
    return mod ? part : tk_verify_z_add2(v, whole, part);
  }
  for (int i = 0; i < o->ndivs; i++)
    if (o->divs[i].x == x && o->divs[i].c == c) return mod ? o->divs[i].r : o->divs[i].q;
  if (!grow(o, (void **)&o->divs, &o->cap_divs, o->ndivs, sizeof *o->divs)) return x;
  tk_obl_divmod *d = &o->divs[o->ndivs++];
  d->x = x;
  d->c = c;
  d->q = tk_verify_obl_fresh(o, "quot", v->int_sort, false);
  d->r = tk_verify_obl_fresh(o, "rem", v->int_sort, false);
  if (!d->q || !d->r) return NULL;
  tk_verify_obl_def(o, Z3_mk_eq(v->z, x, tk_verify_z_add2(v, tk_verify_z_mul_c(v, d->q, c), d->r)));
  Z3_ast hi = tk_verify_z_int(v, c);
  tk_verify_obl_def(o, tk_verify_z_in(v, tk_verify_z_int(v, 0), d->r, hi));
  return mod ? d->r : d->q;
}

void tk_verify_obl_def(tk_obl *o, Z3_ast h) {
  int at = o->nhyps;
  tk_verify_obl_hyp(o, h);
  if (o->nhyps == at) return; /* out of memory (o->oom is set) */
  if (!grow(o, (void **)&o->defs, &o->cap_defs, o->ndefs, sizeof *o->defs)) return;
  o->defs[o->ndefs++] = at;
}

void tk_verify_obl_hyp(tk_obl *o, Z3_ast h) {
  if (!h) {
    o->oom = true;
    return;
  }
  /* Z3 hash-conses terms, so a fact stated again (each index read of one element restates
   * its i32 range) is the same pointer: keeping it once keeps the query text small. */
  for (int i = 0; i < o->nhyps; i++)
    if (o->hyps[i] == h) return;
  if (!grow(o, (void **)&o->hyps, &o->cap_hyps, o->nhyps, sizeof *o->hyps)) return;
  o->hyps[o->nhyps++] = h;
}

void tk_verify_obl_goal(tk_obl *o, Z3_ast g) {
  if (!g) o->oom = true;
  o->goal = g;
}

void tk_verify_obl_show(tk_obl *o, const char *label, Z3_ast term) {
  if (!term) return;
  if (!grow(o, (void **)&o->shows, &o->cap_shows, o->nshows, sizeof *o->shows)) return;
  tk_obl_term *t = &o->shows[o->nshows++];
  snprintf(t->label, sizeof t->label, "%s", label);
  t->term = term;
}

void tk_verify_obl_part(tk_obl *o, Z3_ast cond, const char *fmt, ...) {
  if (!cond) {
    o->oom = true;
    return;
  }
  if (!grow(o, (void **)&o->parts, &o->cap_parts, o->nparts, sizeof *o->parts)) return;
  tk_obl_conj *p = &o->parts[o->nparts];
  p->cond = cond;
  p->show_begin = o->nparts ? o->parts[o->nparts - 1].show_end : 0;
  p->show_end = o->nshows;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->what, sizeof p->what, fmt, ap);
  va_end(ap);
  o->nparts++;
}

void tk_verify_obl_say(tk_obl *o, const char *fmt, ...) {
  size_t len = strlen(o->statement);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->statement + len, sizeof o->statement - len, fmt, ap);
  va_end(ap);
}

/* ---- term helpers ---- */

Z3_ast tk_verify_z_int(tk_vctx *v, int64_t x) { return Z3_mk_int64(v->z, x, v->int_sort); }

Z3_ast tk_verify_z_and(tk_vctx *v, int n, const Z3_ast *xs) {
  for (int i = 0; i < n; i++)
    if (!xs[i]) return NULL;
  return n == 0 ? Z3_mk_true(v->z) : n == 1 ? xs[0] : Z3_mk_and(v->z, (unsigned)n, xs);
}

Z3_ast tk_verify_z_or(tk_vctx *v, int n, const Z3_ast *xs) {
  for (int i = 0; i < n; i++)
    if (!xs[i]) return NULL;
  return n == 0 ? Z3_mk_false(v->z) : n == 1 ? xs[0] : Z3_mk_or(v->z, (unsigned)n, xs);
}

Z3_ast tk_verify_z_and2(tk_vctx *v, Z3_ast a, Z3_ast b) {
  return tk_verify_z_and(v, 2, (Z3_ast[]){a, b});
}
Z3_ast tk_verify_z_or2(tk_vctx *v, Z3_ast a, Z3_ast b) {
  return tk_verify_z_or(v, 2, (Z3_ast[]){a, b});
}

Z3_ast tk_verify_z_add2(tk_vctx *v, Z3_ast a, Z3_ast b) {
  return a && b ? Z3_mk_add(v->z, 2, (Z3_ast[]){a, b}) : NULL;
}

Z3_ast tk_verify_z_sub2(tk_vctx *v, Z3_ast a, Z3_ast b) {
  return a && b ? Z3_mk_sub(v->z, 2, (Z3_ast[]){a, b}) : NULL;
}

Z3_ast tk_verify_z_mul_c(tk_vctx *v, Z3_ast a, int64_t c) {
  return a ? Z3_mk_mul(v->z, 2, (Z3_ast[]){a, tk_verify_z_int(v, c)}) : NULL;
}

Z3_ast tk_verify_z_in(tk_vctx *v, Z3_ast lo, Z3_ast x, Z3_ast hi) {
  if (!lo || !x || !hi) return NULL;
  Z3_ast below_hi = Z3_mk_lt(v->z, x, hi);
  return tk_verify_z_and2(v, Z3_mk_le(v->z, lo, x), below_hi);
}

Z3_ast tk_verify_z_within(tk_vctx *v, int64_t lo, Z3_ast x, int64_t hi) {
  if (!x) return NULL;
  Z3_ast at_most_hi = Z3_mk_le(v->z, x, tk_verify_z_int(v, hi));
  return tk_verify_z_and2(v, Z3_mk_le(v->z, tk_verify_z_int(v, lo), x), at_most_hi);
}

Z3_ast tk_verify_z_cmp(tk_vctx *v, tk_ir_cmp cmp, Z3_ast a, Z3_ast b) {
  if (!a || !b) return NULL;
  switch (cmp) {
    case TK_CMP_LT: return Z3_mk_lt(v->z, a, b);
    case TK_CMP_LE: return Z3_mk_le(v->z, a, b);
    case TK_CMP_EQ: return Z3_mk_eq(v->z, a, b);
    case TK_CMP_NE: return Z3_mk_not(v->z, Z3_mk_eq(v->z, a, b));
    case TK_CMP_GE: return Z3_mk_ge(v->z, a, b);
    case TK_CMP_GT: return Z3_mk_gt(v->z, a, b);
  }
  return NULL;
}

/* ---- SMT-LIB2 text ---- */

typedef struct text_buf {
  char *p;
  size_t len, cap;
  bool oom;
} text_buf;

static void put(text_buf *t, const char *s) {
  if (!s) t->oom = true;
  if (t->oom) return;
  size_t n = strlen(s);
  if (t->len + n + 1 > t->cap) {
    size_t ncap = t->cap ? t->cap : 1024;
    while (ncap < t->len + n + 1) ncap *= 2;
    char *p = tk_realloc(t->p, ncap);
    if (!p) {
      t->oom = true;
      return;
    }
    t->p = p;
    t->cap = ncap;
  }
  memcpy(t->p + t->len, s, n + 1);
  t->len += n;
}

static void put_decl(text_buf *t, const tk_obl *o, const tk_obl_decl *d) {
  Z3_context z = o->v->z;
  put(t, "(declare-fun ");
  put(t, d->name);
  put(t, " (");
  Z3_sort range;
  if (d->c) {
    range = Z3_get_sort(z, d->c);
  } else {
    unsigned n = Z3_get_domain_size(z, d->f);
    for (unsigned i = 0; i < n; i++) {
      if (i) put(t, " ");
      put(t, Z3_sort_to_string(z, Z3_get_domain(z, d->f, i)));
    }
    range = Z3_get_range(z, d->f);
  }
  put(t, ") ");
  put(t, Z3_sort_to_string(z, range));
  put(t, ")\n");
}

static size_t text_slot(const tk_vctx *v, Z3_ast x) {
  size_t mask = v->cap_texts - 1, i = tk_verify_ptr_slot(x, mask);
  for (; v->texts[i].term && v->texts[i].term != x; i = (i + 1) & mask) continue;
  return i;
}

static bool texts_reserve(tk_vctx *v) {
  if (2 * (v->ntexts + 1) <= v->cap_texts) return true;
  size_t cap = v->cap_texts ? 2 * v->cap_texts : 1024;
  struct tk_term_text *old = v->texts, *fresh = tk_calloc(cap, sizeof *fresh);
  if (!fresh) return false;
  size_t old_cap = v->cap_texts;
  v->texts = fresh;
  v->cap_texts = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].term) v->texts[text_slot(v, old[i].term)] = old[i];
  free(old);
  return true;
}

/* x's SMT-LIB2 text, printed by Z3 the first time (the context keeps it; NULL: no memory).
 * Goals are kept too: an obligation identical to an earlier one (proved once, solve.c) repeats
 * its goal. */
static const char *term_text(tk_vctx *v, Z3_ast x) {
  if (!texts_reserve(v)) return NULL;
  struct tk_term_text *e = &v->texts[text_slot(v, x)];
  if (e->term) return e->text;
  const char *printed = Z3_ast_to_string(v->z, x); /* NULL when Z3 fails (its own memory) */
  char *text = printed ? tk_strdup(printed) : NULL;
  if (!text) return NULL;
  *e = (struct tk_term_text){x, text};
  v->ntexts++;
  return text;
}

char *tk_verify_obl_text(const tk_obl *o) {
  text_buf t = {0};
  put(&t, "; tkc obligation, class ");
  put(&t, tk_verify_obl_class_name(o->cls));
  put(&t, ", kernel ");
  put(&t, o->kernel);
  put(&t, " (");
  put(&t, o->target);
  put(&t, ")\n; ");
  for (const char *s = o->statement; *s; s++) put(&t, *s == '\n' ? "\n; " : (char[]){*s, 0});
  put(&t, o->arrays ? "\n(set-logic QF_AUFLIRA)\n"
          : o->ufs  ? "\n(set-logic QF_UFLIA)\n"
                    : "\n(set-logic QF_LIA)\n");
  for (int i = 0; i < o->ndecls; i++) put_decl(&t, o, &o->decls[i]);
  for (int i = 0; !t.oom && i < o->nhyps; i++) {
    put(&t, "(assert ");
    put(&t, term_text(o->v, o->hyps[i]));
    put(&t, ")\n");
  }
  put(&t, "(assert (! (not ");
  if (!t.oom) put(&t, term_text(o->v, o->goal));
  put(&t, ") :named goal))\n(check-sat)\n");
  if (t.oom) {
    free(t.p);
    return NULL;
  }
  return t.p;
}
