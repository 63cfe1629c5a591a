/* ir/ix.c — integer index expressions (tk_ix): folding constructors, evaluation, interval
 * bounds, substitution, structural equality and the text form.
 *
 * Guarantees: nodes are immutable once built; constructors only fold when the folded value
 * is exactly the same function of B, Bp and the variables (constant arithmetic is folded
 * only when it does not overflow int64). DIV and MOD are floor division and its remainder
 * (the remainder is in [0, c)), which is also what the verifier and codegen implement; all
 * index expressions tkc builds are non-negative, where floor and truncation agree.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"
#include "tk/alloc.h"
#include "tk/launch.h"

static tk_ix *ix_node(tk_ir_module *m, tk_ix_kind kind) {
  tk_ix *e = tk_ir_alloc(m, sizeof *e);
  if (e) e->kind = kind;
  return e;
}

static bool is_const(const tk_ix *e, int64_t c) { return e->kind == TK_IX_CONST && e->c == c; }

const tk_ix *tk_ir_ix_const(tk_ir_module *m, int64_t c) {
  tk_ix *e = ix_node(m, TK_IX_CONST);
  if (e) e->c = c;
  return e;
}

const tk_ix *tk_ir_ix_sym(tk_ir_module *m, tk_ix_symbol s) {
  tk_ix *e = ix_node(m, TK_IX_SYM);
  if (e) e->sym = s;
  return e;
}

const tk_ix *tk_ir_ix_var(tk_ir_module *m, const tk_ir_var *v) {
  if (!v) return NULL;
  tk_ix *e = ix_node(m, TK_IX_VAR);
  if (e) e->var = v;
  return e;
}

static const tk_ix *ix_binary(tk_ir_module *m, tk_ix_kind kind, const tk_ix *a, const tk_ix *b) {
  tk_ix *e = ix_node(m, kind);
  if (e) {
    e->a = a;
    e->b = b;
  }
  return e;
}

static const tk_ix *ix_by_const(tk_ir_module *m, tk_ix_kind kind, const tk_ix *a, int64_t c) {
  tk_ix *e = ix_node(m, kind);
  if (e) {
    e->a = a;
    e->c = c;
  }
  return e;
}

const tk_ix *tk_ir_ix_add(tk_ir_module *m, const tk_ix *a, const tk_ix *b) {
  if (!a || !b) return NULL;
  int64_t s;
  if (a->kind == TK_IX_CONST && b->kind == TK_IX_CONST && !__builtin_add_overflow(a->c, b->c, &s))
    return tk_ir_ix_const(m, s);
  if (a->kind == TK_IX_CONST) return tk_ir_ix_add(m, b, a); /* constants go right */
  if (is_const(b, 0)) return a;
  /* (x + c1) + c2 → x + (c1 + c2) */
  if (b->kind == TK_IX_CONST && a->kind == TK_IX_ADD && a->b->kind == TK_IX_CONST &&
      !__builtin_add_overflow(a->b->c, b->c, &s))
    return tk_ir_ix_add(m, a->a, tk_ir_ix_const(m, s));
  return ix_binary(m, TK_IX_ADD, a, b);
}

const tk_ix *tk_ir_ix_sub(tk_ir_module *m, const tk_ix *a, const tk_ix *b) {
  if (!a || !b) return NULL;
  int64_t s;
  if (a->kind == TK_IX_CONST && b->kind == TK_IX_CONST && !__builtin_sub_overflow(a->c, b->c, &s))
    return tk_ir_ix_const(m, s);
  if (is_const(b, 0)) return a;
  if (tk_ir_ix_equal(a, b)) return tk_ir_ix_const(m, 0);
  return ix_binary(m, TK_IX_SUB, a, b);
}

const tk_ix *tk_ir_ix_mul(tk_ir_module *m, const tk_ix *a, int64_t c) {
  if (!a) return NULL;
  int64_t p;
  if (c == 0) return tk_ir_ix_const(m, 0);
  if (c == 1) return a;
  if (a->kind == TK_IX_CONST && !__builtin_mul_overflow(a->c, c, &p)) return tk_ir_ix_const(m, p);
  if (a->kind == TK_IX_MUL && !__builtin_mul_overflow(a->c, c, &p)) return tk_ir_ix_mul(m, a->a, p);
  return ix_by_const(m, TK_IX_MUL, a, c);
}

const tk_ix *tk_ir_ix_min(tk_ir_module *m, const tk_ix *a, const tk_ix *b) {
  if (!a || !b) return NULL;
  if (a->kind == TK_IX_CONST && b->kind == TK_IX_CONST)
    return tk_ir_ix_const(m, a->c < b->c ? a->c : b->c);
  if (tk_ir_ix_equal(a, b)) return a;
  return ix_binary(m, TK_IX_MIN, a, b);
}

const tk_ix *tk_ir_ix_max(tk_ir_module *m, const tk_ix *a, const tk_ix *b) {
  if (!a || !b) return NULL;
  if (a->kind == TK_IX_CONST && b->kind == TK_IX_CONST)
    return tk_ir_ix_const(m, a->c > b->c ? a->c : b->c);
  if (tk_ir_ix_equal(a, b)) return a;
  return ix_binary(m, TK_IX_MAX, a, b);
}

static int64_t floor_div(int64_t a, int64_t c) {
  int64_t q = a / c;
  return (a % c != 0 && a < 0) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t c) { return a - floor_div(a, c) * c; }

const tk_ix *tk_ir_ix_div(tk_ir_module *m, const tk_ix *a, int64_t c) {
  if (!a) return NULL;
  if (c <= 0) {
    tk_ir_mark_failed(m);
    return NULL;
  }
  if (c == 1) return a;
  if (a->kind == TK_IX_CONST) return tk_ir_ix_const(m, floor_div(a->c, c));
  if (a->kind == TK_IX_MUL && a->c == c) return a->a; /* (x*c) div c = x */
  return ix_by_const(m, TK_IX_DIV, a, c);
}

const tk_ix *tk_ir_ix_mod(tk_ir_module *m, const tk_ix *a, int64_t c) {
  if (!a) return NULL;
  if (c <= 0) {
    tk_ir_mark_failed(m);
    return NULL;
  }
  if (c == 1) return tk_ir_ix_const(m, 0);
  if (a->kind == TK_IX_CONST) return tk_ir_ix_const(m, floor_mod(a->c, c));
  if (a->kind == TK_IX_MUL && a->c % c == 0) return tk_ir_ix_const(m, 0); /* (x*k*c) mod c = 0 */
  return ix_by_const(m, TK_IX_MOD, a, c);
}

const tk_ix *tk_ir_ix_load(tk_ir_module *m, int arg, const char *name, const tk_ix *ix) {
  if (!ix || !name) return NULL;
  tk_ix *e = ix_node(m, TK_IX_LOAD);
  if (e) {
    e->arg = arg;
    e->arg_name = name;
    e->a = ix;
  }
  return e;
}

const tk_ix *tk_ir_ix_rowmajor(tk_ir_module *m, const tk_ix *row, int64_t cols, const tk_ix *col) {
  return tk_ir_ix_add(m, tk_ir_ix_mul(m, row, cols), col);
}

const tk_ix *tk_ir_ix_clamp_row(tk_ir_module *m, const tk_ix *row) {
  return tk_ir_ix_min(m, row, tk_ir_ix_sub(m, tk_ir_ix_sym(m, TK_SYM_B), tk_ir_ix_const(m, 1)));
}

int64_t tk_ir_ix_bp_of(int64_t B) { return tk_padded_batch(B); }

int64_t tk_ir_ix_eval(const tk_ix *e, const tk_ix_env *env) {
  switch (e->kind) {
    case TK_IX_CONST: return e->c;
    case TK_IX_SYM: return e->sym == TK_SYM_B ? env->B : env->Bp;
    case TK_IX_VAR: return env->vals[e->var->id];
    case TK_IX_ADD: return tk_ir_ix_eval(e->a, env) + tk_ir_ix_eval(e->b, env);
    case TK_IX_SUB: return tk_ir_ix_eval(e->a, env) - tk_ir_ix_eval(e->b, env);
    case TK_IX_MUL: return tk_ir_ix_eval(e->a, env) * e->c;
    case TK_IX_MIN: {
      int64_t x = tk_ir_ix_eval(e->a, env), y = tk_ir_ix_eval(e->b, env);
      return x < y ? x : y;
    }
    case TK_IX_MAX: {
      int64_t x = tk_ir_ix_eval(e->a, env), y = tk_ir_ix_eval(e->b, env);
      return x > y ? x : y;
    }
    case TK_IX_DIV: return floor_div(tk_ir_ix_eval(e->a, env), e->c);
    case TK_IX_MOD: return floor_mod(tk_ir_ix_eval(e->a, env), e->c);
    case TK_IX_LOAD:
      return env->load ? env->load(env->load_ctx, e->arg, tk_ir_ix_eval(e->a, env)) : 0;
  }
  return 0;
}

bool tk_ir_ix_equal(const tk_ix *a, const tk_ix *b) {
  if (a == b) return true;
  if (!a || !b || a->kind != b->kind) return false;
  switch (a->kind) {
    case TK_IX_CONST: return a->c == b->c;
    case TK_IX_SYM: return a->sym == b->sym;
    case TK_IX_VAR: return a->var == b->var;
    case TK_IX_MUL:
    case TK_IX_DIV:
    case TK_IX_MOD: return a->c == b->c && tk_ir_ix_equal(a->a, b->a);
    case TK_IX_LOAD: return a->arg == b->arg && tk_ir_ix_equal(a->a, b->a);
    default: return tk_ir_ix_equal(a->a, b->a) && tk_ir_ix_equal(a->b, b->b);
  }
}

bool tk_ir_ix_uses_var(const tk_ix *e, const tk_ir_var *v) {
  if (!e) return false;
  if (e->kind == TK_IX_VAR) return v == NULL || e->var == v;
  return tk_ir_ix_uses_var(e->a, v) || tk_ir_ix_uses_var(e->b, v);
}

bool tk_ir_ix_uses_sym(const tk_ix *e, tk_ix_symbol s) {
  if (!e) return false;
  if (e->kind == TK_IX_SYM) return e->sym == s;
  return tk_ir_ix_uses_sym(e->a, s) || tk_ir_ix_uses_sym(e->b, s);
}

bool tk_ir_ix_uses_load(const tk_ix *e) {
  if (!e) return false;
  return e->kind == TK_IX_LOAD || tk_ir_ix_uses_load(e->a) || tk_ir_ix_uses_load(e->b);
}

void tk_ir_ix_mark_loads(const tk_ix *e, int *access) {
  if (!e) return;
  if (e->kind == TK_IX_LOAD) access[e->arg] |= TK_ACC_READ;
  tk_ir_ix_mark_loads(e->a, access);
  tk_ir_ix_mark_loads(e->b, access);
}

const tk_ix *tk_ir_ix_rebuild(tk_ir_module *m, const tk_ix *e, const tk_ix *a, const tk_ix *b) {
  if (a == e->a && b == e->b) return e;
  switch (e->kind) {
    case TK_IX_ADD: return tk_ir_ix_add(m, a, b);
    case TK_IX_SUB: return tk_ir_ix_sub(m, a, b);
    case TK_IX_MUL: return tk_ir_ix_mul(m, a, e->c);
    case TK_IX_MIN: return tk_ir_ix_min(m, a, b);
    case TK_IX_MAX: return tk_ir_ix_max(m, a, b);
    case TK_IX_DIV: return tk_ir_ix_div(m, a, e->c);
    case TK_IX_MOD: return tk_ir_ix_mod(m, a, e->c);
    case TK_IX_LOAD: return tk_ir_ix_load(m, e->arg, e->arg_name, a);
    default: return e;
  }
}

const tk_ix *tk_ir_ix_map_args(tk_ir_module *m, const tk_ix *e, const int *arg_map) {
  if (!e || !tk_ir_ix_uses_load(e)) return e;
  const tk_ix *a = tk_ir_ix_map_args(m, e->a, arg_map), *b = tk_ir_ix_map_args(m, e->b, arg_map);
  if (e->kind == TK_IX_LOAD) return tk_ir_ix_load(m, arg_map[e->arg], e->arg_name, a);
  return tk_ir_ix_rebuild(m, e, a, b);
}

/* ---- interval bounds (saturating) ---- */

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t s;
  if (!__builtin_add_overflow(a, b, &s)) return s;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

static int64_t sat_mul(int64_t a, int64_t c) {
  int64_t p;
  if (!__builtin_mul_overflow(a, c, &p)) return p;
  return ((a < 0) != (c < 0)) ? INT64_MIN : INT64_MAX;
}

static int64_t sat_neg(int64_t a) { return a == INT64_MIN ? INT64_MAX : -a; }

tk_ix_range tk_ir_ix_bounds(const tk_ix *e, int64_t bmax, const tk_ix_range *vr) {
  tk_ix_range r = {0, 0}, x, y;
  switch (e->kind) {
    case TK_IX_CONST: r.lo = r.hi = e->c; break;
    case TK_IX_SYM:
      r.lo = e->sym == TK_SYM_B ? 1 : TK_PAD_QUANTUM;
      r.hi = e->sym == TK_SYM_B ? bmax : tk_ir_ix_bp_of(bmax);
      break;
    case TK_IX_VAR:
      if (vr)
        r = vr[e->var->id];
      else
        r.lo = INT64_MIN, r.hi = INT64_MAX;
      break;
    case TK_IX_ADD:
    case TK_IX_SUB:
      x = tk_ir_ix_bounds(e->a, bmax, vr);
      y = tk_ir_ix_bounds(e->b, bmax, vr);
      if (e->kind == TK_IX_SUB) {
        int64_t lo = sat_neg(y.hi);
        y.hi = sat_neg(y.lo);
        y.lo = lo;
      }
      r.lo = sat_add(x.lo, y.lo);
      r.hi = sat_add(x.hi, y.hi);
      break;
    case TK_IX_MUL:
      x = tk_ir_ix_bounds(e->a, bmax, vr);
      r.lo = sat_mul(e->c >= 0 ? x.lo : x.hi, e->c);
      r.hi = sat_mul(e->c >= 0 ? x.hi : x.lo, e->c);
      break;
    case TK_IX_MIN:
    case TK_IX_MAX:
      x = tk_ir_ix_bounds(e->a, bmax, vr);
      y = tk_ir_ix_bounds(e->b, bmax, vr);
      if (e->kind == TK_IX_MIN) {
        r.lo = x.lo < y.lo ? x.lo : y.lo;
        r.hi = x.hi < y.hi ? x.hi : y.hi;
      } else {
        r.lo = x.lo > y.lo ? x.lo : y.lo;
        r.hi = x.hi > y.hi ? x.hi : y.hi;
      }
      break;
    case TK_IX_DIV:
      x = tk_ir_ix_bounds(e->a, bmax, vr);
      r.lo = floor_div(x.lo, e->c);
      r.hi = floor_div(x.hi, e->c);
      break;
    case TK_IX_MOD:
      x = tk_ir_ix_bounds(e->a, bmax, vr);
      if (x.lo >= 0 && x.hi < e->c)
        r = x;
      else
        r.lo = 0, r.hi = e->c - 1;
      break;
    case TK_IX_LOAD: /* any i32: the interval bounds know nothing of the data */
      r.lo = INT32_MIN, r.hi = INT32_MAX;
      break;
  }
  return r;
}

/* ---- substitution ---- */

const tk_ix *tk_ir_ix_subst(tk_ir_module *m, const tk_ix *e, const tk_ir_subst *s) {
  if (!e) return NULL;
  switch (e->kind) {
    case TK_IX_CONST:
    case TK_IX_SYM: return e;
    case TK_IX_VAR:
      for (int i = 0; s && i < s->n; i++)
        if (s->from[i] == e->var) return s->to[i];
      return e;
    case TK_IX_ADD: return tk_ir_ix_add(m, tk_ir_ix_subst(m, e->a, s), tk_ir_ix_subst(m, e->b, s));
    case TK_IX_SUB: return tk_ir_ix_sub(m, tk_ir_ix_subst(m, e->a, s), tk_ir_ix_subst(m, e->b, s));
    case TK_IX_MUL: return tk_ir_ix_mul(m, tk_ir_ix_subst(m, e->a, s), e->c);
    case TK_IX_MIN: return tk_ir_ix_min(m, tk_ir_ix_subst(m, e->a, s), tk_ir_ix_subst(m, e->b, s));
    case TK_IX_MAX: return tk_ir_ix_max(m, tk_ir_ix_subst(m, e->a, s), tk_ir_ix_subst(m, e->b, s));
    case TK_IX_DIV: return tk_ir_ix_div(m, tk_ir_ix_subst(m, e->a, s), e->c);
    case TK_IX_MOD: return tk_ir_ix_mod(m, tk_ir_ix_subst(m, e->a, s), e->c);
    case TK_IX_LOAD: return tk_ir_ix_load(m, e->arg, e->arg_name, tk_ir_ix_subst(m, e->a, s));
  }
  return NULL;
}

/* ---- text form ---- */

typedef struct ix_out {
  char *buf;
  size_t n, len;
  FILE *f;                    /* when set, the text goes here instead of buf */
  tk_ir_var_name_fn var_name; /* with f: writes a variable (NULL: its name) */
  const void *ctx;
} ix_out;

static void out_text(ix_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_text(ix_out *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = o->len < o->n ? o->n - o->len : 0;
  int w = o->f ? vfprintf(o->f, fmt, ap) : vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
  va_end(ap);
  if (w > 0) o->len += (size_t)w;
}

/* Precedence: 1 = + -, 2 = * div mod, 3 = atoms and calls. */
static int ix_prec(const tk_ix *e) {
  switch (e->kind) {
    case TK_IX_ADD:
    case TK_IX_SUB: return 1;
    case TK_IX_MUL:
    case TK_IX_DIV:
    case TK_IX_MOD: return 2;
    case TK_IX_CONST: return e->c < 0 ? 1 : 3;
    default: return 3;
  }
}

static void ix_write(ix_out *o, const tk_ix *e);

static void ix_write_at(ix_out *o, const tk_ix *e, int min_prec) {
  bool paren = ix_prec(e) < min_prec;
  if (paren) out_text(o, "(");
  ix_write(o, e);
  if (paren) out_text(o, ")");
}

static void ix_write(ix_out *o, const tk_ix *e) {
  switch (e->kind) {
    case TK_IX_CONST: out_text(o, "%lld", (long long)e->c); break;
    case TK_IX_SYM: out_text(o, "%s", e->sym == TK_SYM_B ? "B" : "Bp"); break;
    case TK_IX_VAR:
      if (o->f && o->var_name)
        o->var_name(e->var, o->f, o->ctx);
      else
        out_text(o, "%s", e->var->name);
      break;
    case TK_IX_ADD:
      ix_write_at(o, e->a, 1);
      if (e->b->kind == TK_IX_CONST && e->b->c < 0 && e->b->c != INT64_MIN)
        out_text(o, " - %lld", -(long long)e->b->c);
      else {
        out_text(o, " + ");
        ix_write_at(o, e->b, 2);
      }
      break;
    case TK_IX_SUB:
      ix_write_at(o, e->a, 1);
      out_text(o, " - ");
      ix_write_at(o, e->b, 2);
      break;
    case TK_IX_MUL:
    case TK_IX_DIV:
    case TK_IX_MOD:
      ix_write_at(o, e->a, 2);
      out_text(o, " %s %lld",
               e->kind == TK_IX_MUL   ? "*"
               : e->kind == TK_IX_DIV ? "div"
                                      : "mod",
               (long long)e->c);
      break;
    case TK_IX_MIN:
    case TK_IX_MAX:
      out_text(o, "%s(", e->kind == TK_IX_MIN ? "min" : "max");
      ix_write(o, e->a);
      out_text(o, ", ");
      ix_write(o, e->b);
      out_text(o, ")");
      break;
    case TK_IX_LOAD:
      out_text(o, "%%%s[", e->arg_name);
      ix_write(o, e->a);
      out_text(o, "]");
      break;
  }
}

size_t tk_ir_ix_format(const tk_ix *e, char *buf, size_t n) {
  ix_out o = {.buf = buf, .n = n};
  if (n) buf[0] = '\0';
  if (!e)
    out_text(&o, "<null>");
  else
    ix_write(&o, e);
  return o.len;
}

char *tk_ir_ix_format_alloc(const tk_ix *e) {
  size_t len = tk_ir_ix_format(e, NULL, 0);
  char *text = tk_malloc(len + 1);
  if (text) tk_ir_ix_format(e, text, len + 1);
  return text;
}

void tk_ir_ix_print_named(const tk_ix *e, FILE *out, tk_ir_var_name_fn var_name, const void *ctx) {
  ix_out o = {.f = out, .var_name = var_name, .ctx = ctx};
  if (!e)
    out_text(&o, "<null>");
  else
    ix_write(&o, e);
}

void tk_ir_ix_print(const tk_ix *e, FILE *out) { tk_ir_ix_print_named(e, out, NULL, NULL); }
