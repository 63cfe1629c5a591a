/* ir/body.c — builders of kernel bodies: value expressions (tk_ir_val) and statements
 * (tk_ir_stmt), and the walkers over them.
 *
 * Value builders compute the result type from the op table (TK_IR_VOPS) and never check
 * operand types: tk_ir_verify does, so a malformed body built by a test is reported, not
 * silently fixed. NULL operands propagate to a NULL result (the module is then failed).
 */
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"

static tk_ir_val *val_node(tk_ir_module *m, tk_ir_vop op, tk_ir_type type) {
  tk_ir_val *v = tk_ir_alloc(m, sizeof *v);
  if (v) {
    v->op = op;
    v->type = type;
    v->arg = v->local = -1;
  }
  return v;
}

const tk_ir_val *tk_ir_val_f32(tk_ir_module *m, double f) {
  tk_ir_val *v = val_node(m, TK_V_CONST, TK_T_F32);
  if (v) v->f = (double)(float)f;
  return v;
}

const tk_ir_val *tk_ir_val_i32(tk_ir_module *m, int64_t i) {
  tk_ir_val *v = val_node(m, TK_V_CONST, TK_T_I32);
  if (v) v->i = i;
  return v;
}

const tk_ir_val *tk_ir_val_bool(tk_ir_module *m, bool b) {
  tk_ir_val *v = val_node(m, TK_V_CONST, TK_T_BOOL);
  if (v) v->i = b;
  return v;
}

const tk_ir_val *tk_ir_val_index(tk_ir_module *m, const tk_ix *ix) {
  if (!ix) return NULL;
  tk_ir_val *v = val_node(m, TK_V_INDEX, TK_T_I32);
  if (v) v->ix = ix;
  return v;
}

const tk_ir_val *tk_ir_val_load(tk_ir_module *m, const tk_ir_kernel *k, int arg, const tk_ix *ix) {
  if (!ix || arg < 0 || arg >= k->nargs) {
    tk_ir_mark_failed(m);
    return NULL;
  }
  tk_ir_val *v = val_node(m, TK_V_LOAD, k->args[arg].type);
  if (v) {
    v->arg = arg;
    v->ix = ix;
  }
  return v;
}

const tk_ir_val *tk_ir_val_lload(tk_ir_module *m, const tk_ir_kernel *k, int local,
                                 const tk_ix *ix) {
  if (!ix || local < 0 || local >= k->nlocals) {
    tk_ir_mark_failed(m);
    return NULL;
  }
  tk_ir_val *v = val_node(m, TK_V_LOCAL_LOAD, k->locals[local].type);
  if (v) {
    v->local = local;
    v->ix = ix;
  }
  return v;
}

static bool vop_is_bool(tk_ir_vop op) {
  switch (op) {
    case TK_V_NOT:
    case TK_V_AND:
    case TK_V_OR:
    case TK_V_LT:
    case TK_V_LE:
    case TK_V_GT:
    case TK_V_GE:
    case TK_V_EQ:
    case TK_V_NE: return true;
    default: return false;
  }
}

const tk_ir_val *tk_ir_val_un(tk_ir_module *m, tk_ir_vop op, const tk_ir_val *a) {
  if (!a) return NULL;
  tk_ir_val *v = val_node(m, op, vop_is_bool(op) ? TK_T_BOOL : a->type);
  if (v) v->a = a;
  return v;
}

const tk_ir_val *tk_ir_val_bin(tk_ir_module *m, tk_ir_vop op, const tk_ir_val *a,
                               const tk_ir_val *b) {
  if (!a || !b) return NULL;
  tk_ir_val *v = val_node(m, op, vop_is_bool(op) ? TK_T_BOOL : a->type);
  if (v) {
    v->a = a;
    v->b = b;
  }
  return v;
}

const tk_ir_val *tk_ir_val_fma(tk_ir_module *m, const tk_ir_val *a, const tk_ir_val *b,
                               const tk_ir_val *c) {
  if (!a || !b || !c) return NULL;
  tk_ir_val *v = val_node(m, TK_V_FMA, a->type);
  if (v) {
    v->a = a;
    v->b = b;
    v->c = c;
  }
  return v;
}

const tk_ir_val *tk_ir_val_select(tk_ir_module *m, const tk_ir_val *cond, const tk_ir_val *a,
                                  const tk_ir_val *b) {
  if (!cond || !a || !b) return NULL;
  tk_ir_val *v = val_node(m, TK_V_SELECT, a->type);
  if (v) {
    v->a = cond;
    v->b = a;
    v->c = b;
  }
  return v;
}

/* ---- statements ---- */

static tk_ir_stmt *stmt_node(tk_ir_module *m, tk_ir_stmt_kind kind) {
  tk_ir_stmt *s = tk_ir_alloc(m, sizeof *s);
  if (s) {
    s->kind = kind;
    s->arg = s->local = -1;
  }
  return s;
}

tk_ir_stmt *tk_ir_stmt_block(tk_ir_module *m) { return stmt_node(m, TK_S_BLOCK); }

void tk_ir_stmt_block_add(tk_ir_module *m, tk_ir_stmt *block, const tk_ir_stmt *s) {
  if (!block || !s) {
    tk_ir_mark_failed(m);
    return;
  }
  /* Blocks grow by doubling; the capacity is the next power of two >= n. */
  int cap = 1;
  while (cap < block->n) cap *= 2;
  if (block->n == 0 || block->n == cap) {
    const tk_ir_stmt **items = tk_ir_alloc(m, sizeof *items * (size_t)(cap * 2));
    if (!items) return;
    if (block->n) memcpy(items, block->stmts, sizeof *items * (size_t)block->n);
    block->stmts = items;
  }
  block->stmts[block->n++] = s;
}

const tk_ir_stmt *tk_ir_stmt_for(tk_ir_module *m, const tk_ir_var *v, const tk_ix *extent,
                                 tk_ir_loop_kind kind, tk_ir_binding binding,
                                 const tk_ir_stmt *body) {
  if (!v || !extent || !body) {
    tk_ir_mark_failed(m);
    return NULL;
  }
  tk_ir_stmt *s = stmt_node(m, TK_S_FOR);
  if (s) {
    s->var = v;
    s->extent = extent;
    s->loop = kind;
    s->binding = binding;
    s->body = body;
  }
  return s;
}

const tk_ir_stmt *tk_ir_stmt_prefetching(tk_ir_module *m, const tk_ir_stmt *loop, int64_t bytes,
                                         int64_t span) {
  if (!loop) return NULL;
  tk_ir_stmt *s = stmt_node(m, TK_S_FOR);
  if (s) {
    *s = *loop;
    s->prefetch = bytes;
    s->prefetch_span = span;
  }
  return s;
}

const tk_ir_stmt *tk_ir_stmt_if(tk_ir_module *m, const tk_ix *lhs, tk_ir_cmp cmp, const tk_ix *rhs,
                                const tk_ir_stmt *body) {
  if (!lhs || !rhs || !body) {
    tk_ir_mark_failed(m);
    return NULL;
  }
  tk_ir_stmt *s = stmt_node(m, TK_S_IF);
  if (s) {
    s->lhs = lhs;
    s->rhs = rhs;
    s->cmp = cmp;
    s->body = body;
  }
  return s;
}

static const tk_ir_stmt *store_node(tk_ir_module *m, tk_ir_stmt_kind kind, int target,
                                    const tk_ix *ix, const tk_ir_val *v) {
  if (!ix || !v || target < 0) {
    tk_ir_mark_failed(m);
    return NULL;
  }
  tk_ir_stmt *s = stmt_node(m, kind);
  if (s) {
    if (kind == TK_S_STORE)
      s->arg = target;
    else
      s->local = target;
    s->ix = ix;
    s->value = v;
  }
  return s;
}

const tk_ir_stmt *tk_ir_stmt_store(tk_ir_module *m, int arg, const tk_ix *ix, const tk_ir_val *v) {
  return store_node(m, TK_S_STORE, arg, ix, v);
}

const tk_ir_stmt *tk_ir_stmt_lstore(tk_ir_module *m, int local, const tk_ix *ix,
                                    const tk_ir_val *v) {
  return store_node(m, TK_S_LOCAL_STORE, local, ix, v);
}

const tk_ir_stmt *tk_ir_stmt_barrier(tk_ir_module *m) { return stmt_node(m, TK_S_BARRIER); }

int64_t tk_ir_stmt_barriers(const tk_ir_stmt *s) {
  if (!s) return 0;
  switch (s->kind) {
    case TK_S_BARRIER: return 1;
    case TK_S_BLOCK: {
      int64_t n = 0;
      for (int i = 0; i < s->n; i++) n += tk_ir_stmt_barriers(s->stmts[i]);
      return n;
    }
    case TK_S_FOR: {
      int64_t inner = tk_ir_stmt_barriers(s->body);
      return inner && s->extent->kind == TK_IX_CONST ? inner * s->extent->c : inner;
    }
    case TK_S_IF: return tk_ir_stmt_barriers(s->body);
    case TK_S_STORE:
    case TK_S_LOCAL_STORE: return 0;
  }
  return 0;
}

bool tk_ir_stmt_contains(const tk_ir_stmt *s, const tk_ir_stmt *target) {
  if (!s) return false;
  if (s == target) return true;
  if (s->kind == TK_S_BLOCK) {
    for (int i = 0; i < s->n; i++)
      if (tk_ir_stmt_contains(s->stmts[i], target)) return true;
    return false;
  }
  return (s->kind == TK_S_FOR || s->kind == TK_S_IF) && tk_ir_stmt_contains(s->body, target);
}

/* ---- walkers ---- */

void tk_ir_walk_stmts(const tk_ir_stmt *s, tk_ir_stmt_fn fn, void *user) {
  if (!s) return;
  fn(s, user);
  if (s->kind == TK_S_BLOCK)
    for (int i = 0; i < s->n; i++) tk_ir_walk_stmts(s->stmts[i], fn, user);
  else if (s->kind == TK_S_FOR || s->kind == TK_S_IF)
    tk_ir_walk_stmts(s->body, fn, user);
}

static void walk_val(const tk_ir_val *v, const tk_ir_stmt *owner, tk_ir_val_fn fn, void *user) {
  if (!v) return;
  walk_val(v->a, owner, fn, user);
  walk_val(v->b, owner, fn, user);
  walk_val(v->c, owner, fn, user);
  fn(v, owner, user);
}

typedef struct walk_vals_ctx {
  tk_ir_val_fn fn;
  void *user;
} walk_vals_ctx;

static void walk_vals_stmt(const tk_ir_stmt *s, void *user) {
  walk_vals_ctx *c = user;
  if (s->kind == TK_S_STORE || s->kind == TK_S_LOCAL_STORE) walk_val(s->value, s, c->fn, c->user);
}

void tk_ir_walk_vals(const tk_ir_stmt *s, tk_ir_val_fn fn, void *user) {
  walk_vals_ctx c = {fn, user};
  tk_ir_walk_stmts(s, walk_vals_stmt, &c);
}
