/* verify/topk_exec.c — symbolic execution of straight-line IR statements for the topk class.
 *
 * State: one SMT array per kernel local (Int → Real for f32, Int for i32, Bool for bool),
 * created as a fresh constant on first use; kernel arguments are read-only uninterpreted
 * arrays. LOCAL_STORE is `store`, LOCAL_LOAD `select`, IF merges both branches with `ite`.
 * Values are translated literally: f32 constants exactly (as rationals) when the
 * denominator fits, else as an unconstrained constant; linear operations as arithmetic;
 * comparisons, and/or/not and select as themselves; everything else (non-constant products,
 * division, exp, tanh, erf, sqrt, rsqrt, fma) as uninterpreted functions — sound, since the
 * selection's correctness must not depend on them. f32 values are modelled as reals: the topk
 * class refuses f32 computation in the selection and output loops, so there the probabilities
 * are only compared and moved, and the reals are an order embedding of non-NaN f32 values; no
 * answer is published from NaN probabilities (docs/formats.md §3.6, docs/proofs.md "topk: final
 * state and IEEE comparisons"). Loops are not executed here: the topk class summarises each
 * loop by its proved invariant.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/topk_exec.h"
#include "tk/alloc.h"

Z3_sort tk_verify_sym_sort(tk_vctx *v, tk_ir_type t) {
  return t == TK_T_F32 ? v->real_sort : t == TK_T_I32 ? v->int_sort : v->bool_sort;
}

Z3_sort tk_verify_sym_array_sort(tk_vctx *v, tk_ir_type t) {
  return Z3_mk_array_sort(v->z, v->int_sort, tk_verify_sym_sort(v, t));
}

tk_status tk_verify_sym_init(tk_sym *x, tk_obl *o, const tk_ir_kernel *k) {
  memset(x, 0, sizeof *x);
  x->o = o;
  x->k = k;
  x->args = tk_calloc((size_t)(k->nargs ? k->nargs : 1), sizeof *x->args);
  return x->args ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
}

void tk_verify_sym_dispose(tk_sym *x) { free(x->args); }

tk_status tk_verify_sym_state_init(const tk_sym *x, tk_sym_state *st) {
  st->n = x->k->nlocals;
  st->arr = tk_calloc((size_t)(st->n ? st->n : 1), sizeof *st->arr);
  return st->arr ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
}

tk_status tk_verify_sym_state_copy(const tk_sym_state *from, tk_sym_state *to) {
  to->n = from->n;
  to->arr = tk_malloc((size_t)(to->n ? to->n : 1) * sizeof *to->arr);
  if (!to->arr) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
  memcpy(to->arr, from->arr, (size_t)to->n * sizeof *to->arr);
  return TK_STATUS_OK;
}

void tk_verify_sym_state_free(tk_sym_state *st) {
  free(st->arr);
  st->arr = NULL;
}

Z3_ast tk_verify_sym_havoc(tk_sym *x, tk_sym_state *st, int local) {
  const tk_ir_local *l = &x->k->locals[local];
  st->arr[local] =
      tk_verify_obl_fresh(x->o, l->name, tk_verify_sym_array_sort(x->o->v, l->type), false);
  return st->arr[local];
}

Z3_ast tk_verify_sym_local(tk_sym *x, tk_sym_state *st, int local) {
  return st->arr[local] ? st->arr[local] : tk_verify_sym_havoc(x, st, local);
}

Z3_ast tk_verify_sym_arg(tk_sym *x, int arg) {
  if (!x->args[arg]) {
    char name[32];
    if (x->args_stored)
      snprintf(name, sizeof name, "%.31s", x->k->args[arg].name);
    else
      snprintf(name, sizeof name, "arg%d", arg);
    x->args[arg] = tk_verify_obl_fresh(
        x->o, name, tk_verify_sym_array_sort(x->o->v, x->k->args[arg].type), false);
  }
  return x->args[arg];
}

/* An exact rational for a finite double whose denominator is at most 2^62, else NULL. */
static Z3_ast real_const(tk_vctx *v, double f) {
  if (!isfinite(f)) return NULL;
  int e;
  double m = frexp(f, &e); /* f = m * 2^e, 0.5 <= |m| < 1 */
  long long num = (long long)ldexp(m, 53);
  int k = 53 - e; /* f = num / 2^k */
  while (k > 0 && num % 2 == 0) num /= 2, k--;
  if (k > 62 || k < -10) return NULL;
  char text[64];
  if (k <= 0)
    snprintf(text, sizeof text, "%lld", num * (1LL << -k));
  else
    snprintf(text, sizeof text, "%lld/%lld", num, 1LL << k);
  return Z3_mk_numeral(v->z, text, v->real_sort);
}

static Z3_ast uf(tk_sym *x, const char *name, unsigned n, const Z3_ast *args, Z3_sort s) {
  Z3_sort dom[3] = {s, s, s};
  Z3_func_decl f = NULL;
  for (int i = 0; i < x->nufs; i++)
    if (!strcmp(x->uf_names[i], name)) f = x->ufs[i];
  if (!f) {
    if (x->nufs == TK_SYM_MAX_UF) return NULL;
    f = tk_verify_obl_fresh_fn(x->o, name, n, dom, s);
    x->ufs[x->nufs] = f;
    snprintf(x->uf_names[x->nufs++], sizeof x->uf_names[0], "%s", name);
  }
  for (unsigned i = 0; i < n; i++)
    if (!args[i]) return NULL;
  return f ? Z3_mk_app(x->o->v->z, f, n, args) : NULL;
}

Z3_ast tk_verify_sym_div(tk_sym *x, Z3_ast a, Z3_ast b) {
  return uf(x, "f32.div", 2, (Z3_ast[]){a, b}, x->o->v->real_sort);
}

static Z3_ast constant(tk_sym *x, const tk_ir_val *val) {
  tk_vctx *v = x->o->v;
  if (val->type == TK_T_BOOL) return val->i ? Z3_mk_true(v->z) : Z3_mk_false(v->z);
  if (val->type == TK_T_I32) return tk_verify_z_int(v, val->i);
  Z3_ast r = real_const(v, val->f);
  return r ? r : tk_verify_obl_fresh(x->o, "f32const", v->real_sort, false);
}

static Z3_ast binary(tk_sym *x, const tk_ir_val *val, Z3_ast a, Z3_ast b) {
  Z3_context z = x->o->v->z;
  Z3_sort s = tk_verify_sym_sort(x->o->v, val->a->type);
  bool f32 = val->a->type == TK_T_F32;
  switch (val->op) {
    case TK_V_ADD: return Z3_mk_add(z, 2, (Z3_ast[]){a, b});
    case TK_V_SUB: return Z3_mk_sub(z, 2, (Z3_ast[]){a, b});
    case TK_V_MUL:
      if (Z3_is_numeral_ast(z, a) || Z3_is_numeral_ast(z, b))
        return Z3_mk_mul(z, 2, (Z3_ast[]){a, b});
      return uf(x, f32 ? "f32.mul" : "i32.mul", 2, (Z3_ast[]){a, b}, s);
    case TK_V_DIV: return uf(x, f32 ? "f32.div" : "i32.div", 2, (Z3_ast[]){a, b}, s);
    case TK_V_MAX: return Z3_mk_ite(z, Z3_mk_ge(z, a, b), a, b);
    case TK_V_MIN: return Z3_mk_ite(z, Z3_mk_le(z, a, b), a, b);
    case TK_V_AND: return Z3_mk_and(z, 2, (Z3_ast[]){a, b});
    case TK_V_OR: return Z3_mk_or(z, 2, (Z3_ast[]){a, b});
    case TK_V_LT: return Z3_mk_lt(z, a, b);
    case TK_V_LE: return Z3_mk_le(z, a, b);
    case TK_V_GT: return Z3_mk_gt(z, a, b);
    case TK_V_GE: return Z3_mk_ge(z, a, b);
    case TK_V_EQ: return Z3_mk_eq(z, a, b);
    case TK_V_NE: return Z3_mk_not(z, Z3_mk_eq(z, a, b));
    default: return NULL;
  }
}

static Z3_ast unary(tk_sym *x, const tk_ir_val *val, Z3_ast a) {
  Z3_context z = x->o->v->z;
  char name[32];
  switch (val->op) {
    case TK_V_NEG: return Z3_mk_unary_minus(z, a);
    case TK_V_NOT: return Z3_mk_not(z, a);
    default:
      snprintf(name, sizeof name, "f32.%s", tk_ir_vop_name(val->op));
      return uf(x, name, 1, &a, tk_verify_sym_sort(x->o->v, val->type));
  }
}

Z3_ast tk_verify_sym_val(tk_sym *x, tk_sym_state *st, const tk_ir_val *val) {
  if (!val) return NULL;
  tk_obl *o = x->o;
  Z3_context z = o->v->z;
  switch (val->op) {
    case TK_V_CONST: return constant(x, val);
    case TK_V_INDEX: return tk_verify_obl_ix(o, val->ix, 0);
    case TK_V_LOAD:
    case TK_V_LOCAL_LOAD: { /* the index first: verify_internal.h, term order */
      Z3_ast ix = tk_verify_obl_ix(o, val->ix, 0);
      Z3_ast array = val->op == TK_V_LOAD ? tk_verify_sym_arg(x, val->arg)
                                          : tk_verify_sym_local(x, st, val->local);
      return Z3_mk_select(z, array, ix);
    }
    case TK_V_SELECT: {
      Z3_ast c = tk_verify_sym_val(x, st, val->a), a = tk_verify_sym_val(x, st, val->b),
             b = tk_verify_sym_val(x, st, val->c);
      return c && a && b ? Z3_mk_ite(z, c, a, b) : NULL;
    }
    case TK_V_FMA: {
      Z3_ast a = tk_verify_sym_val(x, st, val->a), b = tk_verify_sym_val(x, st, val->b),
             c = tk_verify_sym_val(x, st, val->c);
      return uf(x, "f32.fma", 3, (Z3_ast[]){a, b, c}, tk_verify_sym_sort(o->v, val->type));
    }
    default: break;
  }
  int arity = tk_ir_vop_arity(val->op);
  Z3_ast a = tk_verify_sym_val(x, st, val->a);
  if (!a) return NULL;
  if (arity == 1) return unary(x, val, a);
  Z3_ast b = tk_verify_sym_val(x, st, val->b);
  return b ? binary(x, val, a, b) : NULL;
}

/* With args_stored, the argument arrays after a guarded body: then-arrays where cond holds. */
static tk_status merge_args(tk_sym *x, Z3_ast cond, const Z3_ast *before) {
  for (int i = 0; i < x->k->nargs; i++)
    if (x->args[i] != before[i])
      x->args[i] =
          Z3_mk_ite(x->o->v->z, cond, x->args[i], before[i] ? before[i] : tk_verify_sym_arg(x, i));
  return TK_STATUS_OK;
}

static tk_status exec_if(tk_sym *x, tk_sym_state *st, const tk_ir_stmt *s) {
  tk_vctx *v = x->o->v;
  Z3_ast rhs = tk_verify_obl_ix(x->o, s->rhs, 0); /* first: verify_internal.h, term order */
  Z3_ast cond = tk_verify_z_cmp(v, s->cmp, tk_verify_obl_ix(x->o, s->lhs, 0), rhs);
  tk_sym_state then;
  TK_RETURN_IF_ERROR(tk_verify_sym_state_copy(st, &then));
  Z3_ast *before = NULL;
  if (x->args_stored) {
    before = tk_malloc((size_t)(x->k->nargs ? x->k->nargs : 1) * sizeof *before);
    if (!before) {
      tk_verify_sym_state_free(&then);
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
    }
    memcpy(before, x->args, (size_t)x->k->nargs * sizeof *before);
  }
  tk_status err = tk_verify_sym_exec(x, &then, s->body);
  for (int i = 0; !err && i < st->n; i++)
    if (then.arr[i] != st->arr[i])
      st->arr[i] = Z3_mk_ite(v->z, cond, then.arr[i], tk_verify_sym_local(x, st, i));
  if (!err && before) err = merge_args(x, cond, before);
  free(before);
  tk_verify_sym_state_free(&then);
  return err;
}

tk_status tk_verify_sym_exec(tk_sym *x, tk_sym_state *st, const tk_ir_stmt *s) {
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) TK_RETURN_IF_ERROR(tk_verify_sym_exec(x, st, s->stmts[i]));
      return TK_STATUS_OK;
    case TK_S_LOCAL_STORE: {
      Z3_ast arr = tk_verify_sym_local(x, st, s->local);
      Z3_ast val = tk_verify_sym_val(x, st, s->value), ix = tk_verify_obl_ix(x->o, s->ix, 0);
      if (!arr || !val || !ix)
        return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory (topk)");
      st->arr[s->local] = Z3_mk_store(x->o->v->z, arr, ix, val);
      return TK_STATUS_OK;
    }
    case TK_S_IF: return exec_if(x, st, s);
    case TK_S_STORE: {
      if (!x->args_stored) return TK_STATUS_OK; /* the local state only */
      Z3_ast arr = tk_verify_sym_arg(x, s->arg);
      Z3_ast val = tk_verify_sym_val(x, st, s->value), ix = tk_verify_obl_ix(x->o, s->ix, 0);
      if (!arr || !val || !ix)
        return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory (dispatch)");
      x->args[s->arg] = Z3_mk_store(x->o->v->z, arr, ix, val);
      return TK_STATUS_OK;
    }
    case TK_S_BARRIER:
      return tk_status_make(TK_PROOF_FAILED,
                            "kernel %s (%s), class topk: a barrier inside straight-line top-K "
                            "code: the selection does not have the form the verifier proves",
                            x->k->name, tk_verify_obl_target_name(x->k));
    case TK_S_FOR: break;
  }
  return tk_status_make(TK_PROOF_FAILED,
                        "kernel %s (%s), class topk: a loop inside straight-line top-K code "
                        "(loop %s): the selection does not have the form the verifier proves",
                        x->k->name, tk_verify_obl_target_name(x->k), s->var->name);
}

bool tk_verify_sym_writes_local(const tk_ir_stmt *s, int local) {
  if (!s) return false;
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++)
        if (tk_verify_sym_writes_local(s->stmts[i], local)) return true;
      return false;
    case TK_S_FOR:
    case TK_S_IF: return tk_verify_sym_writes_local(s->body, local);
    case TK_S_LOCAL_STORE: return local < 0 || s->local == local;
    case TK_S_STORE:
    case TK_S_BARRIER: return false;
  }
  return false;
}

bool tk_verify_sym_has_loop(const tk_ir_stmt *s) {
  if (!s) return false;
  if (s->kind == TK_S_FOR) return true;
  if (s->kind == TK_S_IF) return tk_verify_sym_has_loop(s->body);
  if (s->kind != TK_S_BLOCK) return false;
  for (int i = 0; i < s->n; i++)
    if (tk_verify_sym_has_loop(s->stmts[i])) return true;
  return false;
}
