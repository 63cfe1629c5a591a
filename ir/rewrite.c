/* ir/rewrite.c — copies fused-kernel statements into a scheduled kernel under a variable
 * substitution, the one mechanism both schedulers use, so every scheduled index map is, by
 * construction, the fused index map composed with the schedule's forward map (recorded on
 * each copied access as origin + subst, which the tests check point by point).
 *
 * Shared value nodes (a DAG inside one statement, e.g. gelu's argument) stay shared in the
 * copy. Locals may be expanded per tile point: local l with count c becomes local map[l],
 * index ix ↦ tile_point * c + ix. A load_ix hook may give a LOAD another index (the CPU
 * weight panels), which class `layout` then proves is the same element in the packed layout;
 * a load_val hook may replace it by a value the schedule holds (a GEMM epilogue's
 * accumulators, ir/pass_schedule_gpu_rows.c).
 */
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"

tk_ir_subst *tk_ir_subst_new(tk_ir_module *m, int cap) {
  tk_ir_subst *s = tk_ir_alloc(m, sizeof *s);
  if (!s) return NULL;
  s->from = tk_ir_alloc(m, sizeof *s->from * (size_t)cap);
  s->to = tk_ir_alloc(m, sizeof *s->to * (size_t)cap);
  return s->from && s->to ? s : NULL;
}

void tk_ir_subst_add(tk_ir_subst *s, const tk_ir_var *from, const tk_ix *to) {
  if (!s) return;
  s->from[s->n] = from;
  s->to[s->n] = to;
  s->n++;
}

enum { MEMO_MAX = 128 };

/* Old → new value nodes within one statement. */
typedef struct memo {
  int n;
  const tk_ir_val *from[MEMO_MAX], *to[MEMO_MAX];
} memo;

/* e's index reads renumbered like the arguments, then the rewrite's substitution. In that
 * order: the substitution's images are already in the new kernel's numbering (a CPU expert
 * chain's rows read its count argument), and renumbering them again would read another
 * argument wherever the two numberings differ. */
static const tk_ix *sub(const tk_ir_rewrite *rw, const tk_ix *e) {
  const tk_ix *mapped = rw->arg_map ? tk_ir_ix_map_args(rw->m, e, rw->arg_map) : e;
  return tk_ir_ix_subst(rw->m, mapped, rw->subst);
}

static int map_local(const tk_ir_rewrite *rw, int l) {
  return rw->local_map ? rw->local_map[l] : l;
}
static int map_arg(const tk_ir_rewrite *rw, int a) { return rw->arg_map ? rw->arg_map[a] : a; }

static const tk_ix *local_ix(const tk_ir_rewrite *rw, int l, const tk_ix *ix) {
  const tk_ix *e = sub(rw, ix);
  if (!rw->tile_point || (rw->point_locals && !rw->point_locals[l])) return e;
  return tk_ir_ix_add(rw->m, tk_ir_ix_mul(rw->m, rw->tile_point, rw->src->locals[l].count), e);
}

static const tk_ir_val *rewrite_val(const tk_ir_rewrite *rw, const tk_ir_val *v, memo *mm) {
  if (!v) return NULL;
  if (v->op == TK_V_CONST) return v;
  for (int i = 0; i < mm->n; i++)
    if (mm->from[i] == v) return mm->to[i];
  const tk_ir_val *held = v->op == TK_V_LOAD && rw->load_val ? rw->load_val(rw, v) : NULL;
  if (held) {
    if (mm->n < MEMO_MAX) {
      mm->from[mm->n] = v;
      mm->to[mm->n++] = held;
    }
    return held;
  }
  tk_ir_val *c = tk_ir_alloc(rw->m, sizeof *c);
  if (!c) return NULL;
  *c = *v;
  c->a = rewrite_val(rw, v->a, mm);
  c->b = rewrite_val(rw, v->b, mm);
  c->c = rewrite_val(rw, v->c, mm);
  if (v->op == TK_V_LOAD) {
    c->arg = map_arg(rw, v->arg);
    c->origin = v;
  }
  if (v->op == TK_V_LOCAL_LOAD) {
    c->local = map_local(rw, v->local);
    c->origin = v;
  }
  c->ix = v->op == TK_V_LOCAL_LOAD ? local_ix(rw, v->local, v->ix) : sub(rw, v->ix);
  if (v->op == TK_V_LOAD && rw->load_ix) {
    const tk_ix *packed = rw->load_ix(rw, v, c->ix);
    if (packed) c->ix = packed;
  }
  if (mm->n < MEMO_MAX) {
    mm->from[mm->n] = v;
    mm->to[mm->n++] = c;
  }
  return c;
}

static bool contains_loop(const tk_ir_stmt *s) {
  if (s->kind == TK_S_FOR) return true;
  if (s->kind == TK_S_IF) return contains_loop(s->body);
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++)
    if (contains_loop(s->stmts[i])) return true;
  return false;
}

static const tk_ir_stmt *rewrite_store(const tk_ir_rewrite *rw, const tk_ir_stmt *s) {
  memo mm = {0};
  const tk_ir_val *v = rewrite_val(rw, s->value, &mm);
  const tk_ir_stmt *n =
      s->kind == TK_S_STORE
          ? tk_ir_stmt_store(rw->m, map_arg(rw, s->arg), sub(rw, s->ix), v)
          : tk_ir_stmt_lstore(rw->m, map_local(rw, s->local), local_ix(rw, s->local, s->ix), v);
  if (n) {
    tk_ir_stmt *w = (tk_ir_stmt *)n; /* freshly built here: completing it is not a mutation */
    w->origin = s;
    w->subst = rw->subst;
  }
  return n;
}

const tk_ir_stmt *tk_ir_rewrite_stmt(const tk_ir_rewrite *rw, const tk_ir_stmt *s) {
  switch (s->kind) {
    case TK_S_BLOCK: {
      tk_ir_stmt *b = tk_ir_stmt_block(rw->m);
      for (int i = 0; i < s->n; i++)
        tk_ir_stmt_block_add(rw->m, b, tk_ir_rewrite_stmt(rw, s->stmts[i]));
      return b;
    }
    case TK_S_FOR: {
      tk_ir_loop_kind kind = rw->loop_map ? rw->loop_map[s->loop] : s->loop;
      if (kind == TK_LOOP_VECTOR && contains_loop(s->body)) kind = TK_LOOP_SERIAL;
      return tk_ir_stmt_for(rw->m, s->var, sub(rw, s->extent), kind, TK_BIND_NONE,
                            tk_ir_rewrite_stmt(rw, s->body));
    }
    case TK_S_IF:
      return tk_ir_stmt_if(rw->m, sub(rw, s->lhs), s->cmp, sub(rw, s->rhs),
                           tk_ir_rewrite_stmt(rw, s->body));
    case TK_S_STORE:
    case TK_S_LOCAL_STORE: return rewrite_store(rw, s);
    case TK_S_BARRIER: return s;
  }
  return NULL;
}

int *tk_ir_sched_copy_args(tk_ir_module *m, const tk_ir_kernel *src, tk_ir_kernel *dst,
                           const int *access) {
  int *map = tk_ir_alloc(m, sizeof *map * (size_t)(src->nargs ? src->nargs : 1));
  if (!map) return NULL;
  tk_ir_arg *args = tk_ir_alloc(m, sizeof *args * (size_t)(src->nargs ? src->nargs : 1));
  if (!args) return NULL;
  int n = 0;
  for (int i = 0; i < src->nargs; i++) {
    map[i] = -1;
    if (access && !access[i]) continue;
    args[n] = src->args[i];
    if (access) args[n].access = (tk_ir_access)access[i];
    map[i] = n++;
  }
  dst->args = args;
  dst->nargs = n;
  return map;
}

int *tk_ir_sched_copy_locals(tk_ir_module *m, const tk_ir_kernel *src, tk_ir_kernel *dst,
                             const bool *used, int64_t expand, int *map) {
  for (int l = 0; l < src->nlocals; l++) {
    if (!used[l]) continue;
    const tk_ir_local *sl = &src->locals[l];
    int id = tk_ir_kernel_local(m, dst, sl->name, sl->type, sl->count * expand);
    if (id < 0) return NULL;
    dst->locals[id].origin = l;
    dst->locals[id].expand = expand;
    map[l] = id;
  }
  return map;
}

const tk_ir_stmt *tk_ir_guards_at(tk_ir_module *m, const tk_ir_stmt *const *guards, int n,
                                  const int *arg_map, const tk_ir_subst *s,
                                  const tk_ir_stmt *body) {
  for (int i = n - 1; s && body && i >= 0; i--) {
    const tk_ir_stmt *g = guards[i];
    body = tk_ir_stmt_if(m, tk_ir_ix_subst(m, tk_ir_ix_map_args(m, g->lhs, arg_map), s), g->cmp,
                         tk_ir_ix_subst(m, tk_ir_ix_map_args(m, g->rhs, arg_map), s), body);
  }
  return s ? body : NULL;
}
