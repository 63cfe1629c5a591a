/* ir/verify.c — tk_ir_verify: structural well-formedness of a module at any stage.
 *
 * Checked: tensor and op references; every live op against the op table (ir/op_table.c):
 * operand counts, element types, and its shape rule at B = 1, 17 and Bmax; after padding, no live pad_rows/slice_rows and the
 * clamp/limit flags only on the caller's input/outputs; kernels: phases share their row
 * variable, every variable used is bound by an enclosing loop or the phase space and no
 * loop rebinds a variable in scope, unroll/vector loops have constant extents, argument and
 * local indices are in range, constant local indices are inside the local, tileable phases
 * are 2-D with point-independent inner loop extents, value types are
 * consistent (store type = buffer type, operands of arithmetic agree, conditions are bool),
 * stores only to written non-parameter arguments, loads only from read arguments;
 * scheduled kernels: the launch loops come first and match the launch record (GPU:
 * workgroup_x over grid, then thread_x over the constant workgroup size; CPU: cpu_block over
 * grid), no binding anywhere else; shared locals and barriers only in GPU kernels, barriers
 * only inside the thread loop, a loop around one there of constant extent, not a vector loop,
 * with no barrier under an IF in its body; after planning: every argument bound to a buffer of the
 * same type and size; index_bits is 32 or 64.
 * Not checked here: that indices are in bounds, writes race-free, the top-K correct — those
 * are the verifier's obligations (verify/).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"
#include "tk/launch.h"

enum { SCOPE_MAX = 64 };

typedef struct vctx {
  const tk_ir_module *m;
  const tk_ir_kernel *k;
  const tk_ir_var *scope[SCOPE_MAX];
  int depth;
  bool in_thread; /* inside a GPU kernel's @thread_x loop: where barriers may be */
  tk_status err;
} vctx;

static void fail(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(vctx *c, const char *fmt, ...) {
  if (c->err) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->k)
    c->err = tk_status_make(TK_INTERNAL, "IR check: kernel %s (%s): %s", c->k->name,
                            tk_ir_target_name(c->k->target), msg);
  else
    c->err = tk_status_make(TK_INTERNAL, "IR check: %s", msg);
}

static bool in_scope(const vctx *c, const tk_ir_var *v) {
  for (int i = 0; i < c->depth; i++)
    if (c->scope[i] == v) return true;
  return false;
}

static void check_ix(vctx *c, const tk_ix *e, const char *what);

/* An index that reads %arg[...]: only inside a kernel, from an i32 argument it reads. */
static void check_ix_load(vctx *c, const tk_ix *e, const char *what) {
  if (!c->k || e->arg < 0 || e->arg >= c->k->nargs) {
    fail(c, "%s: index reads %%%s, which is no argument of a kernel here", what, e->arg_name);
    return;
  }
  const tk_ir_arg *a = &c->k->args[e->arg];
  /* read-only: the verifier takes the data as one function for the whole launch */
  if (a->type != TK_T_I32 || a->access != TK_ACC_READ)
    fail(c, "%s: index reads %%%s, which is not an i32 argument the kernel only reads", what,
         a->name);
}

/* Extents and grids are functions of B: never of data (ir.h TK_IX_LOAD). */
static void check_extent(vctx *c, const tk_ix *e, const char *what) {
  check_ix(c, e, what);
  if (tk_ir_ix_uses_load(e)) fail(c, "%s reads a buffer: extents are functions of B only", what);
}

static void check_ix(vctx *c, const tk_ix *e, const char *what) {
  if (!e) {
    fail(c, "%s: missing index expression", what);
    return;
  }
  if (e->kind == TK_IX_VAR && !in_scope(c, e->var))
    fail(c, "%s: variable %s (id %d) is not bound by an enclosing loop", what, e->var->name,
         e->var->id);
  if ((e->kind == TK_IX_DIV || e->kind == TK_IX_MOD) && e->c <= 0)
    fail(c, "%s: division by non-positive constant %lld", what, (long long)e->c);
  if (e->kind == TK_IX_LOAD) check_ix_load(c, e, what);
  if (e->a) check_ix(c, e->a, what);
  if (e->b) check_ix(c, e->b, what);
}

static void push(vctx *c, const tk_ir_var *v) {
  if (in_scope(c, v)) fail(c, "loop rebinds variable %s already in scope", v->name);
  if (c->depth == SCOPE_MAX)
    fail(c, "loops nested deeper than %d", SCOPE_MAX);
  else
    c->scope[c->depth++] = v;
}

/* ---- values ---- */

static bool numeric(tk_ir_type t) { return t == TK_T_F32 || t == TK_T_I32; }

static void check_local_ref(vctx *c, int local, const tk_ix *ix, const char *what) {
  if (local < 0 || local >= c->k->nlocals) {
    fail(c, "%s: local %d out of range (%d locals)", what, local, c->k->nlocals);
    return;
  }
  check_ix(c, ix, what);
  if (ix && ix->kind == TK_IX_CONST && (ix->c < 0 || ix->c >= c->k->locals[local].count))
    fail(c, "%s: constant index %lld outside local %s[%lld]", what, (long long)ix->c,
         c->k->locals[local].name, (long long)c->k->locals[local].count);
}

static void check_val(vctx *c, const tk_ir_val *v);

static void check_operands(vctx *c, const tk_ir_val *v) {
  const tk_ir_val *ops[3] = {v->a, v->b, v->c};
  int n = tk_ir_vop_arity(v->op);
  for (int i = 0; i < n; i++) {
    if (!ops[i]) {
      fail(c, "%s: operand %d missing", tk_ir_vop_name(v->op), i);
      return;
    }
    check_val(c, ops[i]);
  }
  const char *name = tk_ir_vop_name(v->op);
  switch (v->op) {
    case TK_V_NOT:
    case TK_V_AND:
    case TK_V_OR:
      for (int i = 0; i < n; i++)
        if (ops[i]->type != TK_T_BOOL)
          fail(c, "%s: operand %d is %s, expected bool", name, i, tk_ir_type_name(ops[i]->type));
      break;
    case TK_V_EXP:
    case TK_V_TANH:
    case TK_V_ERF:
    case TK_V_SQRT:
    case TK_V_RSQRT:
      if (ops[0]->type != TK_T_F32)
        fail(c, "%s: operand is %s, expected f32", name, tk_ir_type_name(ops[0]->type));
      break;
    case TK_V_SELECT:
      if (ops[0]->type != TK_T_BOOL)
        fail(c, "select: condition is %s, expected bool", tk_ir_type_name(ops[0]->type));
      if (ops[1]->type != ops[2]->type || ops[1]->type != v->type)
        fail(c, "select: operand types %s/%s, result %s", tk_ir_type_name(ops[1]->type),
             tk_ir_type_name(ops[2]->type), tk_ir_type_name(v->type));
      break;
    default: /* arithmetic and comparisons: operands agree and are numeric */
      for (int i = 0; i < n; i++)
        if (ops[i]->type != ops[0]->type || !numeric(ops[i]->type))
          fail(c, "%s: operand %d is %s, operand 0 is %s", name, i, tk_ir_type_name(ops[i]->type),
               tk_ir_type_name(ops[0]->type));
  }
}

static void check_val(vctx *c, const tk_ir_val *v) {
  switch (v->op) {
    case TK_V_CONST: return;
    case TK_V_INDEX:
      check_ix(c, v->ix, "index value");
      if (v->type != TK_T_I32)
        fail(c, "index value has type %s, expected i32", tk_ir_type_name(v->type));
      return;
    case TK_V_LOAD:
      if (v->arg < 0 || v->arg >= c->k->nargs) {
        fail(c, "load: argument %d out of range (%d arguments)", v->arg, c->k->nargs);
        return;
      }
      check_ix(c, v->ix, c->k->args[v->arg].name);
      if (!(c->k->args[v->arg].access & TK_ACC_READ))
        fail(c, "load from %%%s, which is not read", c->k->args[v->arg].name);
      if (v->type != c->k->args[v->arg].type)
        fail(c, "load from %%%s: type mismatch", c->k->args[v->arg].name);
      return;
    case TK_V_LOCAL_LOAD:
      check_local_ref(c, v->local, v->ix, "local load");
      if (!c->err && v->type != c->k->locals[v->local].type)
        fail(c, "load of local %s: type mismatch", c->k->locals[v->local].name);
      return;
    default: check_operands(c, v);
  }
}

/* ---- statements ---- */

/* s holds a barrier under an IF (inside s). */
static bool barrier_under_if(const tk_ir_stmt *s) {
  if (!s) return false;
  if (s->kind == TK_S_IF) return tk_ir_stmt_barriers(s->body) > 0;
  if (s->kind == TK_S_FOR) return barrier_under_if(s->body);
  if (s->kind != TK_S_BLOCK) return false;
  for (int i = 0; i < s->n; i++)
    if (barrier_under_if(s->stmts[i])) return true;
  return false;
}

/* A loop around a barrier: every thread runs it the same number of times, and the barriers
 * of one iteration are a constant count (docs/ir.md "Barriers"). */
static void check_barrier_loop(vctx *c, const tk_ir_stmt *s) {
  if (tk_ir_stmt_barriers(s->body) == 0) return;
  if (s->extent->kind != TK_IX_CONST)
    fail(c, "loop %s holds a barrier and has a non-constant extent", s->var->name);
  else if (s->loop == TK_LOOP_VECTOR)
    fail(c, "vector loop %s holds a barrier", s->var->name);
  else if (barrier_under_if(s->body))
    fail(c, "loop %s holds a barrier under an if", s->var->name);
}

static void check_stmt(vctx *c, const tk_ir_stmt *s) {
  if (!s) {
    fail(c, "missing statement");
    return;
  }
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n && !c->err; i++) check_stmt(c, s->stmts[i]);
      return;
    case TK_S_FOR: {
      check_extent(c, s->extent, "loop extent");
      if ((s->loop == TK_LOOP_UNROLL || s->loop == TK_LOOP_VECTOR) && s->extent &&
          s->extent->kind != TK_IX_CONST)
        fail(c, "%s loop %s has a non-constant extent", tk_ir_loop_kind_name(s->loop),
             s->var->name);
      if (s->binding != TK_BIND_NONE)
        fail(c, "loop %s bound to %s inside the body", s->var->name,
             tk_ir_binding_name(s->binding));
      if (s->prefetch && (s->prefetch < 0 || s->prefetch > TK_IR_PREFETCH_MAX ||
                          s->loop != TK_LOOP_REDUCTION || c->k->target != TK_TARGET_CPU))
        fail(c,
             "loop %s prefetches %lld bytes ahead: only a CPU kernel's reduction loop may, "
             "a positive distance up to %d",
             s->var->name, (long long)s->prefetch, TK_IR_PREFETCH_MAX);
      if ((s->prefetch_span != 0) != (s->prefetch != 0) || s->prefetch_span < 0 ||
          s->prefetch_span > TK_IR_PREFETCH_SPAN_MAX)
        fail(c,
             "loop %s prefetches a span of %lld bytes: expected 1 to %d with a prefetch, "
             "none without",
             s->var->name, (long long)s->prefetch_span, TK_IR_PREFETCH_SPAN_MAX);
      check_barrier_loop(c, s);
      int saved = c->depth;
      push(c, s->var);
      check_stmt(c, s->body);
      c->depth = saved;
      return;
    }
    case TK_S_IF:
      check_ix(c, s->lhs, "guard");
      check_ix(c, s->rhs, "guard");
      check_stmt(c, s->body);
      return;
    case TK_S_STORE: {
      if (s->arg < 0 || s->arg >= c->k->nargs) {
        fail(c, "store: argument %d out of range (%d arguments)", s->arg, c->k->nargs);
        return;
      }
      const tk_ir_arg *a = &c->k->args[s->arg];
      check_ix(c, s->ix, a->name);
      if (!(a->access & TK_ACC_WRITE) || a->role == TK_ROLE_PARAM || a->role == TK_ROLE_IN)
        fail(c, "store to %%%s (%s, %s access)", a->name, tk_ir_role_name(a->role),
             a->access & TK_ACC_WRITE ? "write" : "read");
      check_val(c, s->value);
      if (s->value->type != a->type)
        fail(c, "store to %%%s: value is %s, buffer is %s", a->name,
             tk_ir_type_name(s->value->type), tk_ir_type_name(a->type));
      return;
    }
    case TK_S_LOCAL_STORE:
      check_local_ref(c, s->local, s->ix, "local store");
      check_val(c, s->value);
      if (!c->err && s->value->type != c->k->locals[s->local].type)
        fail(c, "store to local %s: value is %s, local is %s", c->k->locals[s->local].name,
             tk_ir_type_name(s->value->type), tk_ir_type_name(c->k->locals[s->local].type));
      return;
    case TK_S_BARRIER:
      if (!c->in_thread) fail(c, "barrier outside a GPU kernel's @thread_x loop");
      return;
  }
}

/* ---- kernels ---- */

static void check_args(vctx *c) {
  const tk_ir_module *m = c->m;
  for (int i = 0; i < c->k->nargs; i++) {
    const tk_ir_arg *a = &c->k->args[i];
    if (a->tensor < 0 || a->tensor >= m->ntensors)
      fail(c, "argument %d names tensor %d", i, a->tensor);
    if (a->type == TK_T_BOOL) fail(c, "argument %%%s has element type bool", a->name);
    if (m->stage < TK_STAGE_PLANNED) continue;
    if (a->buffer < 0 || a->buffer >= m->nbuffers) {
      fail(c, "argument %%%s has no buffer", a->name);
      continue;
    }
    const tk_ir_buffer *b = &m->buffers[a->buffer];
    if (b->type != a->type || !tk_ir_ix_equal(b->count, a->count))
      fail(c, "argument %%%s does not match buffer @%s (type or size)", a->name, b->name);
  }
  if (c->k->index_bits != 32 && c->k->index_bits != 64)
    fail(c, "index width %d, expected 32 or 64", c->k->index_bits);
}

/* Tileable phases: loops inside the point body have extents independent of the point, so
 * the CPU tiler may sink the tile loops into them. */
static void check_tileable(vctx *c, const tk_ir_phase *ph, const tk_ir_stmt *s) {
  if (s->kind == TK_S_BLOCK)
    for (int i = 0; i < s->n; i++) check_tileable(c, ph, s->stmts[i]);
  if (s->kind != TK_S_FOR) return;
  for (int d = 0; d < ph->ndims; d++)
    if (tk_ir_ix_uses_var(s->extent, ph->vars[d]))
      fail(c, "tileable phase %s: loop %s's extent depends on %s", ph->name, s->var->name,
           ph->vars[d]->name);
  check_tileable(c, ph, s->body);
}

static void check_fused(vctx *c) {
  const tk_ir_kernel *k = c->k;
  if (k->nphases < 1) fail(c, "no phases");
  for (int p = 0; p < k->nphases && !c->err; p++) {
    const tk_ir_phase *ph = &k->phases[p];
    if (ph->ndims < 1 || ph->ndims > 2) fail(c, "phase %s has %d dims", ph->name, ph->ndims);
    if (ph->vars[0] != k->phases[0].vars[0])
      fail(c, "phase %s does not share the row variable", ph->name);
    if (ph->ndims == 2 && ph->extents[1]->kind != TK_IX_CONST)
      fail(c, "phase %s: column extent not constant", ph->name);
    c->depth = 0;
    for (int d = 0; d < ph->ndims && !c->err; d++) {
      check_extent(c, ph->extents[d], "phase extent");
      push(c, ph->vars[d]);
    }
    check_stmt(c, ph->body);
    if (ph->tileable && ph->ndims != 2) fail(c, "tileable phase %s is not 2-D", ph->name);
    if (ph->tileable && !c->err) check_tileable(c, ph, ph->body);
  }
}

static void check_scheduled(vctx *c) {
  const tk_ir_kernel *k = c->k;
  const tk_ir_stmt *s = k->body;
  if (k->source < 0 || k->source >= c->m->kernels.n)
    fail(c, "source kernel %d out of range", k->source);
  if (!s || s->kind != TK_S_FOR) {
    fail(c, "body does not start with the launch loop");
    return;
  }
  c->depth = 0;
  tk_ir_binding outer = k->target == TK_TARGET_GPU ? TK_BIND_WORKGROUP_X : TK_BIND_CPU_BLOCK;
  if (s->binding != outer || !tk_ir_ix_equal(s->extent, k->launch.grid))
    fail(c, "launch loop %s must be @%s over the grid", s->var->name, tk_ir_binding_name(outer));
  check_extent(c, s->extent, "grid");
  push(c, s->var);
  s = s->body;
  if (k->target == TK_TARGET_GPU) {
    if (!s || s->kind != TK_S_FOR || s->binding != TK_BIND_THREAD_X ||
        s->extent->kind != TK_IX_CONST || s->extent->c != k->launch.workgroup_size) {
      fail(c, "second loop must be @thread_x over the workgroup size %lld",
           (long long)k->launch.workgroup_size);
      return;
    }
    push(c, s->var);
    s = s->body;
    c->in_thread = true;
  }
  check_stmt(c, s);
  c->in_thread = false;
}

static void check_kernel(vctx *c, const tk_ir_kernel *k, tk_ir_target t) {
  c->k = k;
  c->depth = 0;
  if (k->target != t)
    fail(c, "kernel in the %s list has target %s", tk_ir_target_name(t),
         tk_ir_target_name(k->target));
  check_args(c);
  for (int i = 0; i < k->nlocals; i++)
    if (k->locals[i].shared && t != TK_TARGET_GPU)
      fail(c, "local %s is shared, which only GPU kernels have", k->locals[i].name);
  if (t == TK_TARGET_NONE)
    check_fused(c);
  else
    check_scheduled(c);
  c->k = NULL;
}

/* ---- graph ---- */

static void check_operand(vctx *c, const tk_ir_op *op, const tk_ir_operand *o, bool input) {
  const tk_ir_module *m = c->m;
  if (o->tensor < 0 || o->tensor >= m->ntensors) {
    fail(c, "op %s: operand names tensor %d", op->name, o->tensor);
    return;
  }
  tk_ir_tensor_kind kind = m->tensors[o->tensor].kind;
  if (o->row_clamp && (!input || kind != TK_TENSOR_INPUT))
    fail(c, "op %s: row clamp on %s", op->name, m->tensors[o->tensor].name);
  if (o->row_limit && (input || kind != TK_TENSOR_OUTPUT))
    fail(c, "op %s: row limit on %s", op->name, m->tensors[o->tensor].name);
  if (m->stage < TK_STAGE_PADDED) return;
  if (input && kind == TK_TENSOR_INPUT && !o->row_clamp)
    fail(c, "op %s reads the caller's input %s without the clamp", op->name,
         m->tensors[o->tensor].name);
  if (!input && kind == TK_TENSOR_OUTPUT && !o->row_limit)
    fail(c, "op %s writes the caller's output %s without the row limit", op->name,
         m->tensors[o->tensor].name);
}

/* ---- the op table's types and shape rules, at concrete batch sizes ---- */

typedef struct rule_check {
  vctx *c;
  const tk_ir_op *op;
} rule_check;

/* One relation of the op's rule at B = 1, Q + 1 and Bmax (the verifier's `shape` class proves
 * it for every B; this catches a malformed graph before any pass runs on it). */
static void check_fact(const tk_ir_shape_fact *f, void *user) {
  rule_check *rc = user;
  const tk_ir_module *m = rc->c->m;
  const int64_t batches[] = {1, TK_PAD_QUANTUM + 1, m->opts.bmax > 0 ? m->opts.bmax : 1};
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
    int64_t a = tk_ir_dim_eval(m, &f->lhs, batches[i]), b = tk_ir_dim_eval(m, &f->rhs, batches[i]);
    if (f->cmp == TK_CMP_EQ ? a == b : a <= b) continue;
    char ta[96], tb[96];
    tk_ir_dim_format(m, &f->lhs, ta, sizeof ta);
    tk_ir_dim_format(m, &f->rhs, tb, sizeof tb);
    fail(rc->c, "op %s: %s does not hold: %s = %lld, %s = %lld at B = %lld", rc->op->name, f->what,
         ta, (long long)a, tb, (long long)b, (long long)batches[i]);
    return;
  }
}

static void check_type(vctx *c, const tk_ir_op *op, int tensor, tk_ir_type want) {
  const tk_ir_tensor *t = &c->m->tensors[tensor];
  if (t->type != want)
    fail(c, "op %s: %s is %s, the op table says %s", op->name, t->name, tk_ir_type_name(t->type),
         tk_ir_type_name(want));
}

static void check_op_rule(vctx *c, const tk_ir_op *op) {
  tk_status s = tk_ir_op_shape_facts(c->m, op, check_fact, &(rule_check){c, op});
  if (s) {
    c->err = s; /* called only while c->err is NULL */
    return;
  }
  const tk_ir_op_info *info = tk_ir_op_info_of(op->kind);
  for (int i = 0; i < op->nin && !c->err; i++)
    check_type(c, op, op->in[i].tensor, i < info->nin ? info->in_types[i] : info->variadic_type);
  for (int j = 0; j < op->nout && !c->err; j++) /* appended outputs are slices of output 0 */
    check_type(c, op, op->out[j].tensor, info->out_types[j < info->nout ? j : 0]);
}

static void check_graph(vctx *c) {
  const tk_ir_module *m = c->m;
  for (int i = 0; i < m->ntensors; i++) {
    const tk_ir_tensor *t = &m->tensors[i];
    if (!t->dims[0] || !t->dims[1] || t->dims[1]->kind != TK_IX_CONST || t->dims[1]->c < 1)
      fail(c, "tensor %s: bad shape", t->name);
  }
  for (int i = 0; i < m->nops && !c->err; i++) {
    const tk_ir_op *op = &m->ops[i];
    if (op->dead) continue;
    if (m->stage >= TK_STAGE_PADDED && (op->kind == TK_OP_PAD_ROWS || op->kind == TK_OP_SLICE_ROWS))
      fail(c, "op %s survived the padding pass", op->name);
    for (int j = 0; j < op->nin; j++) check_operand(c, op, &op->in[j], true);
    for (int j = 0; j < op->nout; j++) check_operand(c, op, &op->out[j], false);
    if (!c->err) check_op_rule(c, op);
  }
}

tk_status tk_ir_verify(const tk_ir_module *m) {
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  vctx c = {.m = m};
  check_graph(&c);
  if (m->stage >= TK_STAGE_FUSED)
    for (int i = 0; i < m->kernels.n && !c.err; i++)
      check_kernel(&c, m->kernels.items[i], TK_TARGET_NONE);
  for (int t = 0; t < TK_IR_NTARGETS; t++)
    for (int i = 0; i < m->targets[t].n && !c.err; i++)
      check_kernel(&c, m->targets[t].items[i], (tk_ir_target)t);
  if (!c.err && m->stage >= TK_STAGE_GPU && m->targets[TK_TARGET_GPU].n == 0 && m->kernels.n > 0)
    fail(&c, "stage gpu reached but there are no gpu kernels");
  int phases = 0; /* the cpu schedule launches every phase of every fused kernel once */
  for (int i = 0; i < m->kernels.n; i++) phases += m->kernels.items[i]->nphases;
  if (!c.err && m->stage >= TK_STAGE_CPU && m->targets[TK_TARGET_CPU].n != phases)
    fail(&c, "%d cpu kernels for %d phases of fused kernels", m->targets[TK_TARGET_CPU].n, phases);
  return c.err;
}
