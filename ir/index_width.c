/* ir/index_width.c — chooses the integer width (32 or 64) of a kernel's index arithmetic.
 *
 * Every loop variable ranges over [0, hi(extent) - 1] where hi is the interval bound of its
 * extent over 1 <= B <= bmax; every tk_ix of the kernel — indices, extents, guards, INDEX
 * values, and each of their subexpressions — is bounded by interval arithmetic, and so is
 * every argument's element count. If all of them fit int32 the kernel computes indices in
 * i32, else in i64. Interval bounds are sound, so the choice is safe; the verifier's
 * no_overflow class proves the recorded width exactly.
 */
#include <stdlib.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"
#include "tk/alloc.h"

typedef struct width_ctx {
  const tk_ir_module *m;
  tk_ix_range *ranges; /* per variable id */
  bool fits;
} width_ctx;

static void check_ix(width_ctx *c, const tk_ix *e) {
  if (!e || !c->fits) return;
  tk_ix_range r = tk_ir_ix_bounds(e, c->m->opts.bmax, c->ranges);
  if (r.lo < INT32_MIN || r.hi > INT32_MAX) c->fits = false;
  check_ix(c, e->a);
  check_ix(c, e->b);
}

static void set_range(width_ctx *c, const tk_ir_var *v, const tk_ix *extent) {
  tk_ix_range r = tk_ir_ix_bounds(extent, c->m->opts.bmax, c->ranges);
  c->ranges[v->id].lo = 0;
  c->ranges[v->id].hi = r.hi > 0 ? r.hi - 1 : 0;
}

static void check_val(width_ctx *c, const tk_ir_val *v) {
  if (!v) return;
  check_ix(c, v->ix);
  check_val(c, v->a);
  check_val(c, v->b);
  check_val(c, v->c);
}

static void check_stmt(width_ctx *c, const tk_ir_stmt *s) {
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) check_stmt(c, s->stmts[i]);
      break;
    case TK_S_FOR:
      check_ix(c, s->extent);
      set_range(c, s->var, s->extent);
      check_stmt(c, s->body);
      break;
    case TK_S_IF:
      check_ix(c, s->lhs);
      check_ix(c, s->rhs);
      check_stmt(c, s->body);
      break;
    case TK_S_STORE:
    case TK_S_LOCAL_STORE:
      check_ix(c, s->ix);
      check_val(c, s->value);
      break;
    case TK_S_BARRIER: break;
  }
}

int tk_ir_index_bits(tk_ir_module *m, const tk_ir_kernel *k) {
  width_ctx c = {m, tk_calloc((size_t)(m->nvars ? m->nvars : 1), sizeof(tk_ix_range)), true};
  if (!c.ranges) {
    tk_ir_mark_failed(m);
    return 64;
  }
  for (int i = 0; i < k->nargs; i++) check_ix(&c, k->args[i].count);
  for (int p = 0; p < k->nphases; p++) {
    for (int d = 0; d < k->phases[p].ndims; d++) {
      check_ix(&c, k->phases[p].extents[d]);
      set_range(&c, k->phases[p].vars[d], k->phases[p].extents[d]);
    }
    check_stmt(&c, k->phases[p].body);
  }
  if (k->body) check_stmt(&c, k->body);
  if (k->launch.grid) check_ix(&c, k->launch.grid);
  free(c.ranges);
  return c.fits ? 32 : 64;
}
