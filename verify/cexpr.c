/* verify/cexpr.c — the host stub's C expressions (verify/cexpr.h): a tokenizer and a
 * recursive-descent parser with C's precedence for the subset, and a concrete evaluator with
 * C17 semantics that refuses what C leaves undefined (signed overflow, division by zero) and
 * narrowing that changes a value.
 *
 * Grammar, loosest first:
 *   cond  := eq [ '?' cond ':' cond ]
 *   eq    := rel { ('==' | '!=') rel }
 *   rel   := add { ('<' | '<=' | '>' | '>=') add }
 *   add   := mul { ('+' | '-') mul }
 *   mul   := unary { ('*' | '/' | '%') unary }
 *   unary := '-' unary | '(' ('int32_t' | 'int64_t') ')' unary | primary
 *   primary := NUMBER | 'INT64_C' '(' ['-'] NUMBER ')' | NAME '(' [cond {',' cond}] ')' | NAME
 *            | '(' cond ')'
 */
#include "verify/cexpr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk/alloc.h"

const char *tk_ctype_name(tk_ctype t) { return t == TK_CT_INT32 ? "int32_t" : "int64_t"; }

void tk_cexpr_tree_free(tk_cexpr_tree *t) {
  free(t->nodes);
  memset(t, 0, sizeof *t);
}

/* ---- tokens ------------------------------------------------------------------------------ */

typedef enum tok_kind { TOK_END, TOK_NUM, TOK_NAME, TOK_PUNCT, TOK_BAD } tok_kind;

typedef struct parser {
  const char *text, *p;
  tok_kind kind;
  const char *start; /* the current token */
  size_t len;
  tk_cexpr_tree *t;
  tk_status error;
} parser;

static const char *const PUNCTS[] = {"<=", ">=", "==", "!=", "(", ")", ",", "+", "-",
                                     "*",  "/",  "%",  "<",  ">", "?", ":", NULL};

static void next(parser *ps) {
  while (*ps->p == ' ' || *ps->p == '\t') ps->p++;
  ps->start = ps->p;
  const char *p = ps->p;
  if (!*p) {
    ps->kind = TOK_END;
    ps->len = 0;
    return;
  }
  if (isdigit((unsigned char)*p)) {
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    ps->kind = TOK_NUM;
  } else if (isalpha((unsigned char)*p) || *p == '_') {
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    ps->kind = TOK_NAME;
  } else {
    ps->kind = TOK_BAD;
    p++;
    for (int i = 0; PUNCTS[i]; i++)
      if (!strncmp(ps->p, PUNCTS[i], strlen(PUNCTS[i]))) {
        ps->kind = TOK_PUNCT;
        p = ps->p + strlen(PUNCTS[i]);
        break;
      }
  }
  ps->len = (size_t)(p - ps->p);
  ps->p = p;
}

static bool is(const parser *ps, const char *s) {
  return ps->kind != TOK_END && ps->len == strlen(s) && !strncmp(ps->start, s, ps->len);
}

static int fail(parser *ps, const char *what) {
  if (!ps->error)
    ps->error = tk_status_make(TK_INVALID_ARGUMENT, "C expression `%s`, column %d: %s at '%.*s'",
                               ps->text, (int)(ps->start - ps->text) + 1, what,
                               ps->kind == TOK_END ? 3 : (int)ps->len,
                               ps->kind == TOK_END ? "end" : ps->start);
  return -1;
}

static bool expect(parser *ps, const char *s) {
  if (!is(ps, s)) {
    char what[32];
    snprintf(what, sizeof what, "expected '%s'", s);
    fail(ps, what);
    return false;
  }
  next(ps);
  return true;
}

/* ---- nodes ------------------------------------------------------------------------------- */

static int node(parser *ps, tk_cexpr_kind kind, int a, int b) {
  if (ps->error) return -1; /* an operand failed (or an earlier node) */
  tk_cexpr_tree *t = ps->t;
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 16;
    tk_cexpr *p = tk_realloc(t->nodes, (size_t)cap * sizeof *p);
    if (!p) {
      ps->error = tk_status_make(TK_RESOURCE_EXHAUSTED, "C expression: out of memory");
      return -1;
    }
    t->nodes = p;
    t->cap = cap;
  }
  tk_cexpr *e = &t->nodes[t->n];
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->a = a;
  e->b = b;
  e->c = -1;
  return t->n++;
}

/* ---- grammar ----------------------------------------------------------------------------- */

static int parse_cond(parser *ps);

/* A decimal literal without suffix; its C type is int if it fits, else long. */
static int parse_number(parser *ps, bool negate, bool force64) {
  if (ps->kind != TOK_NUM) return fail(ps, "expected a decimal integer");
  int64_t v = 0;
  for (size_t i = 0; i < ps->len; i++) {
    char c = ps->start[i];
    if (!isdigit((unsigned char)c) || (i == 0 && c == '0' && ps->len > 1))
      return fail(ps, "not a plain decimal literal");
    if (v > (INT64_MAX - (c - '0')) / 10) return fail(ps, "literal does not fit int64_t");
    v = v * 10 + (c - '0');
  }
  int n = node(ps, TK_CX_LIT, -1, -1);
  if (n < 0) return -1;
  ps->t->nodes[n].value = negate ? -v : v;
  ps->t->nodes[n].type = force64 || v > INT32_MAX ? TK_CT_INT64 : TK_CT_INT32;
  next(ps);
  return n;
}

static int parse_call(parser *ps, const char *name, size_t len) {
  int n = node(ps, TK_CX_CALL, -1, -1);
  if (n < 0) return -1;
  snprintf(ps->t->nodes[n].name, TK_CEXPR_NAME, "%.*s", (int)len, name);
  next(ps); /* ( */
  int nargs = 0;
  while (!is(ps, ")")) {
    if (nargs && !expect(ps, ",")) return -1;
    if (nargs == TK_CEXPR_MAX_ARGS) return fail(ps, "too many arguments");
    int a = parse_cond(ps);
    if (a < 0) return -1;
    ps->t->nodes[n].args[nargs++] = a;
  }
  ps->t->nodes[n].nargs = nargs;
  next(ps);
  return n;
}

static int parse_primary(parser *ps) {
  if (ps->kind == TOK_NUM) return parse_number(ps, false, false);
  if (is(ps, "(")) {
    next(ps);
    int e = parse_cond(ps);
    return e >= 0 && expect(ps, ")") ? e : -1;
  }
  if (ps->kind != TOK_NAME) return fail(ps, "expected a literal, a name or '('");
  if (ps->len >= TK_CEXPR_NAME) return fail(ps, "name too long");
  if (is(ps, "INT64_C")) {
    next(ps);
    if (!expect(ps, "(")) return -1;
    bool neg = is(ps, "-");
    if (neg) next(ps);
    int e = parse_number(ps, neg, true);
    return e >= 0 && expect(ps, ")") ? e : -1;
  }
  const char *name = ps->start;
  size_t len = ps->len;
  next(ps);
  if (is(ps, "(")) return parse_call(ps, name, len);
  int n = node(ps, TK_CX_SYM, -1, -1);
  if (n >= 0) snprintf(ps->t->nodes[n].name, TK_CEXPR_NAME, "%.*s", (int)len, name);
  return n;
}

/* After '(' : a cast when the next tokens are a type name and ')'. */
static bool cast_ahead(const parser *ps, tk_ctype *type) {
  parser look = *ps;
  next(&look);
  if (look.kind != TOK_NAME) return false;
  bool i32 = is(&look, "int32_t"), i64 = is(&look, "int64_t");
  if (!i32 && !i64) return false;
  next(&look);
  if (!is(&look, ")")) return false;
  *type = i32 ? TK_CT_INT32 : TK_CT_INT64;
  return true;
}

static int parse_unary(parser *ps) {
  tk_ctype type;
  if (is(ps, "-")) {
    next(ps);
    return node(ps, TK_CX_NEG, parse_unary(ps), -1);
  }
  if (is(ps, "(") && cast_ahead(ps, &type)) {
    next(ps);
    next(ps);
    next(ps);
    int n = node(ps, TK_CX_CAST, parse_unary(ps), -1);
    if (n >= 0) ps->t->nodes[n].type = type;
    return n;
  }
  return parse_primary(ps);
}

typedef struct binop {
  const char *text;
  tk_cexpr_kind kind;
} binop;

/* One precedence level: operand { op operand }, left-associative. */
static int parse_level(parser *ps, int (*operand)(parser *), const binop *ops) {
  int lhs = operand(ps);
  for (;;) {
    const binop *op = NULL;
    for (const binop *o = ops; o->text; o++)
      if (is(ps, o->text)) op = o;
    if (!op || lhs < 0) return lhs;
    next(ps);
    lhs = node(ps, op->kind, lhs, operand(ps));
  }
}

static int parse_mul(parser *ps) {
  static const binop ops[] = {{"*", TK_CX_MUL}, {"/", TK_CX_DIV}, {"%", TK_CX_MOD}, {NULL, 0}};
  return parse_level(ps, parse_unary, ops);
}
static int parse_add(parser *ps) {
  static const binop ops[] = {{"+", TK_CX_ADD}, {"-", TK_CX_SUB}, {NULL, 0}};
  return parse_level(ps, parse_mul, ops);
}
static int parse_rel(parser *ps) {
  static const binop ops[] = {
      {"<", TK_CX_LT}, {"<=", TK_CX_LE}, {">", TK_CX_GT}, {">=", TK_CX_GE}, {NULL, 0}};
  return parse_level(ps, parse_add, ops);
}
static int parse_eq(parser *ps) {
  static const binop ops[] = {{"==", TK_CX_EQ}, {"!=", TK_CX_NE}, {NULL, 0}};
  return parse_level(ps, parse_rel, ops);
}

static int parse_cond(parser *ps) {
  int cond = parse_eq(ps);
  if (cond < 0 || !is(ps, "?")) return cond;
  next(ps);
  int then = parse_cond(ps);
  if (then < 0 || !expect(ps, ":")) return -1;
  int other = parse_cond(ps);
  int n = node(ps, TK_CX_COND, cond, then);
  if (n >= 0) ps->t->nodes[n].c = other;
  return n;
}

static tk_status parse_into(parser *ps, tk_cexpr_tree *out) {
  int root = parse_cond(ps);
  if (root >= 0 && ps->kind != TOK_END) fail(ps, "unexpected token");
  if (ps->error) {
    tk_cexpr_tree_free(out);
    return ps->error;
  }
  out->root = root;
  return TK_STATUS_OK;
}

tk_status tk_cexpr_parse(const char *text, tk_cexpr_tree *out) {
  memset(out, 0, sizeof *out);
  parser ps = {.text = text, .p = text, .t = out};
  next(&ps);
  return parse_into(&ps, out);
}

/* ---- one-line functions ------------------------------------------------------------------ */

static bool take_type(parser *ps, tk_ctype *type) {
  if (is(ps, "int32_t") || is(ps, "int64_t")) {
    *type = is(ps, "int32_t") ? TK_CT_INT32 : TK_CT_INT64;
    next(ps);
    return true;
  }
  return false;
}

static bool take_name(parser *ps, char *out) {
  if (ps->kind != TOK_NAME || ps->len >= TK_CEXPR_NAME) return false;
  snprintf(out, TK_CEXPR_NAME, "%.*s", (int)ps->len, ps->start);
  next(ps);
  return true;
}

static bool parse_params(parser *ps, tk_cexpr_fn *fn) {
  if (!expect(ps, "(")) return false;
  if (is(ps, "void")) {
    next(ps);
    return expect(ps, ")");
  }
  while (!is(ps, ")")) {
    if (fn->nparams && !expect(ps, ",")) return false;
    if (fn->nparams == TK_CEXPR_MAX_ARGS || !take_type(ps, &fn->ptypes[fn->nparams]) ||
        !take_name(ps, fn->params[fn->nparams])) {
      fail(ps, "expected an int32_t or int64_t parameter");
      return false;
    }
    fn->nparams++;
  }
  next(ps);
  return true;
}

/* The text between "{ return " and "; }" at the end of the line, NUL-terminated in buf. */
static bool body_text(const char *p, char *buf, size_t n) {
  while (*p == ' ') p++;
  if (strncmp(p, "{ return ", 9)) return false;
  p += 9;
  const char *end = strstr(p, "; }");
  if (!end || end[3] != '\0' || (size_t)(end - p) >= n) return false;
  memcpy(buf, p, (size_t)(end - p));
  buf[end - p] = '\0';
  return true;
}

tk_status tk_cexpr_parse_fn(const char *line, tk_cexpr_fn *out) {
  memset(out, 0, sizeof *out);
  tk_cexpr_tree scratch = {0};
  parser ps = {.text = line, .p = line, .t = &scratch};
  next(&ps);
  if (is(&ps, "static")) next(&ps);
  if (is(&ps, "inline")) next(&ps);
  bool ok = take_type(&ps, &out->ret) && take_name(&ps, out->name) && parse_params(&ps, out);
  tk_status err = ps.error;
  char body[1024];
  if (ok && !err) ok = body_text(ps.start, body, sizeof body);
  if (!ok || err) {
    tk_status_free(err);
    return tk_status_make(TK_INVALID_ARGUMENT, "not a one-line int function: %s", line);
  }
  return tk_cexpr_parse(body, &out->body);
}

/* ---- evaluation -------------------------------------------------------------------------- */

const tk_cexpr_fn *tk_cexpr_env_fn(const tk_cexpr_env *env, const char *name) {
  for (int i = 0; i < env->nfns; i++)
    if (!strcmp(env->fns[i].name, name)) return &env->fns[i];
  return NULL;
}

static bool fits(int64_t v, tk_ctype t) {
  return t == TK_CT_INT64 || (v >= INT32_MIN && v <= INT32_MAX);
}

static tk_status overflow(const char *what, tk_ctype t) {
  return tk_status_make(TK_OUT_OF_RANGE, "C expression: %s overflows %s", what, tk_ctype_name(t));
}

typedef struct cval {
  int64_t v;
  tk_ctype t;
} cval;

static tk_status eval(const tk_cexpr_tree *t, int n, const tk_cexpr_env *env, cval *out);

static tk_status eval_sym(const tk_cexpr *e, const tk_cexpr_env *env, cval *out) {
  for (int i = 0; i < env->nsyms; i++)
    if (!strcmp(env->syms[i].name, e->name)) {
      *out = (cval){env->syms[i].value, env->syms[i].type};
      return TK_STATUS_OK;
    }
  return tk_status_make(TK_INVALID_ARGUMENT, "C expression: unknown name %s", e->name);
}

static tk_status eval_call(const tk_cexpr_tree *t, const tk_cexpr *e, const tk_cexpr_env *env,
                           cval *out) {
  const tk_cexpr_fn *fn = tk_cexpr_env_fn(env, e->name);
  if (!fn || fn->nparams != e->nargs)
    return tk_status_make(TK_INVALID_ARGUMENT, "C expression: no function %s of %d arguments",
                          e->name, e->nargs);
  tk_cexpr_sym params[TK_CEXPR_MAX_ARGS];
  for (int i = 0; i < e->nargs; i++) {
    cval a;
    TK_RETURN_IF_ERROR(eval(t, e->args[i], env, &a));
    if (!fits(a.v, fn->ptypes[i])) return overflow("an argument conversion", fn->ptypes[i]);
    params[i] = (tk_cexpr_sym){fn->params[i], fn->ptypes[i], a.v};
  }
  tk_cexpr_env inner = {params, fn->nparams, env->fns, env->nfns};
  cval r;
  TK_RETURN_IF_ERROR(eval(&fn->body, fn->body.root, &inner, &r));
  if (!fits(r.v, fn->ret)) return overflow("a return conversion", fn->ret);
  *out = (cval){r.v, fn->ret};
  return TK_STATUS_OK;
}

static tk_status eval_arith(tk_cexpr_kind k, cval a, cval b, cval *out) {
  tk_ctype t = tk_ctype_common(a.t, b.t);
  __int128 x = a.v, y = b.v, r = 0;
  switch (k) {
    case TK_CX_ADD: r = x + y; break;
    case TK_CX_SUB: r = x - y; break;
    case TK_CX_MUL: r = x * y; break;
    case TK_CX_DIV:
    case TK_CX_MOD:
      if (y == 0) return tk_status_make(TK_OUT_OF_RANGE, "C expression: division by zero");
      r = k == TK_CX_DIV ? x / y : x % y; /* C truncates; so does __int128 */
      break;
    case TK_CX_LT: r = x < y; break;
    case TK_CX_LE: r = x <= y; break;
    case TK_CX_GT: r = x > y; break;
    case TK_CX_GE: r = x >= y; break;
    case TK_CX_EQ: r = x == y; break;
    case TK_CX_NE: r = x != y; break;
    default: return tk_status_make(TK_INTERNAL, "C expression: not a binary operator");
  }
  if (k >= TK_CX_LT) t = TK_CT_INT32;
  if (r < (t == TK_CT_INT32 ? INT32_MIN : INT64_MIN) ||
      r > (t == TK_CT_INT32 ? INT32_MAX : INT64_MAX))
    return overflow("an operation", t);
  *out = (cval){(int64_t)r, t};
  return TK_STATUS_OK;
}

tk_ctype tk_cexpr_type(const tk_cexpr_tree *t, int n, const tk_cexpr_env *env) {
  const tk_cexpr *e = &t->nodes[n];
  switch (e->kind) {
    case TK_CX_LIT:
    case TK_CX_CAST: return e->type;
    case TK_CX_SYM:
      for (int i = 0; i < env->nsyms; i++)
        if (!strcmp(env->syms[i].name, e->name)) return env->syms[i].type;
      return TK_CT_INT64;
    case TK_CX_CALL: {
      const tk_cexpr_fn *fn = tk_cexpr_env_fn(env, e->name);
      return fn ? fn->ret : TK_CT_INT64;
    }
    case TK_CX_NEG: return tk_cexpr_type(t, e->a, env);
    case TK_CX_COND:
      return tk_ctype_common(tk_cexpr_type(t, e->b, env), tk_cexpr_type(t, e->c, env));
    case TK_CX_LT:
    case TK_CX_LE:
    case TK_CX_GT:
    case TK_CX_GE:
    case TK_CX_EQ:
    case TK_CX_NE: return TK_CT_INT32;
    default: return tk_ctype_common(tk_cexpr_type(t, e->a, env), tk_cexpr_type(t, e->b, env));
  }
}

static tk_status eval(const tk_cexpr_tree *t, int n, const tk_cexpr_env *env, cval *out) {
  const tk_cexpr *e = &t->nodes[n];
  cval a, b;
  switch (e->kind) {
    case TK_CX_LIT: *out = (cval){e->value, e->type}; return TK_STATUS_OK;
    case TK_CX_SYM: return eval_sym(e, env, out);
    case TK_CX_CALL: return eval_call(t, e, env, out);
    case TK_CX_NEG:
      TK_RETURN_IF_ERROR(eval(t, e->a, env, &a));
      return eval_arith(TK_CX_SUB, (cval){0, TK_CT_INT32}, a, out);
    case TK_CX_CAST:
      TK_RETURN_IF_ERROR(eval(t, e->a, env, &a));
      if (!fits(a.v, e->type)) return overflow("a cast", e->type);
      *out = (cval){a.v, e->type};
      return TK_STATUS_OK;
    case TK_CX_COND: /* only the branch taken is evaluated, as in C */
      TK_RETURN_IF_ERROR(eval(t, e->a, env, &a));
      TK_RETURN_IF_ERROR(eval(t, a.v ? e->b : e->c, env, &b));
      *out = (cval){b.v, tk_cexpr_type(t, n, env)};
      return TK_STATUS_OK;
    default:
      TK_RETURN_IF_ERROR(eval(t, e->a, env, &a));
      TK_RETURN_IF_ERROR(eval(t, e->b, env, &b));
      return eval_arith(e->kind, a, b, out);
  }
}

tk_status tk_cexpr_eval(const tk_cexpr_tree *t, int node, const tk_cexpr_env *env, int64_t *value,
                        tk_ctype *type) {
  cval r;
  TK_RETURN_IF_ERROR(eval(t, node, env, &r));
  *value = r.v;
  if (type) *type = r.t;
  return TK_STATUS_OK;
}
