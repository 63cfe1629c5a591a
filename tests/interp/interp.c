/* tests/interp/interp.c — the IR interpreter (see interp.h). Values are doubles whatever the
 * IR type (i32 and bool values are exact in a double); comparisons follow IEEE (false on
 * NaN, != true on NaN). */
#include "tests/interp/interp.h"
#include "tk/panel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
  const tk_ir_module *m;
  const tk_ir_kernel *k;
  tk_ix_env env;
  int64_t *vals;
  double *const *bufs;
  double **locals;
  const tk_interp_hooks *hooks;
  tk_status err;
} run;

int64_t tk_interp_buffer_count(const tk_ir_module *m, int id, int64_t B) {
  int64_t zero = 0;
  tk_ix_env env = {.B = B, .Bp = tk_ir_ix_bp_of(B), .vals = &zero};
  return tk_ir_ix_eval(m->buffers[id].count, &env);
}

static int64_t ix(run *r, const tk_ix *e) { return tk_ir_ix_eval(e, &r->env); }

static double *buffer_at(run *r, int arg, int64_t i) {
  const tk_ir_arg *a = &r->k->args[arg];
  int64_t n = tk_interp_buffer_count(r->m, a->buffer, r->env.B);
  if (i < 0 || i >= n) {
    if (!r->err)
      r->err = tk_status_make(TK_OUT_OF_RANGE,
                              "kernel %s (%s), B=%lld: %%%s index %lld outside [0, %lld)",
                              r->k->name, tk_ir_target_name(r->k->target), (long long)r->env.B,
                              a->name, (long long)i, (long long)n);
    return NULL;
  }
  return &r->bufs[a->buffer][i];
}

/* An index that reads data (TK_IX_LOAD): the element, bounds-checked like any load. */
static int64_t load_element(const void *ctx, int arg, int64_t i) {
  run *r = (run *)ctx;
  const double *p = buffer_at(r, arg, i);
  return p ? (int64_t)*p : 0;
}

static double *local_at(run *r, int local, int64_t i) {
  const tk_ir_local *l = &r->k->locals[local];
  if (i < 0 || i >= l->count) {
    if (!r->err)
      r->err = tk_status_make(
          TK_OUT_OF_RANGE, "kernel %s (%s): local %s index %lld outside [0, %lld)", r->k->name,
          tk_ir_target_name(r->k->target), l->name, (long long)i, (long long)l->count);
    return NULL;
  }
  return &r->locals[local][i];
}

/* The locals of one point (shared: of one workgroup) back to NaN. */
static void reset_locals(run *r, bool shared) {
  for (int l = 0; l < r->k->nlocals; l++)
    if (r->k->locals[l].shared == shared)
      for (int64_t i = 0; i < r->k->locals[l].count; i++) r->locals[l][i] = NAN;
}

static double eval(run *r, const tk_ir_val *v, const tk_ir_stmt *owner) {
  double a, b, c;
  switch (v->op) {
    case TK_V_CONST: return v->type == TK_T_F32 ? v->f : (double)v->i;
    case TK_V_INDEX: return (double)ix(r, v->ix);
    case TK_V_LOAD: {
      int64_t i = ix(r, v->ix);
      if (r->hooks && r->hooks->on_load)
        r->hooks->on_load(r->hooks->user, r->k, owner, v, i, r->vals);
      double *p = buffer_at(r, v->arg, i);
      return p ? *p : NAN;
    }
    case TK_V_LOCAL_LOAD: {
      double *p = local_at(r, v->local, ix(r, v->ix));
      return p ? *p : NAN;
    }
    case TK_V_SELECT:
      return eval(r, v->a, owner) != 0 ? eval(r, v->b, owner) : eval(r, v->c, owner);
    default: break;
  }
  a = eval(r, v->a, owner);
  b = v->b ? eval(r, v->b, owner) : 0;
  c = v->c ? eval(r, v->c, owner) : 0;
  switch (v->op) {
    case TK_V_NEG: return -a;
    case TK_V_EXP: return exp(a);
    case TK_V_TANH: return tanh(a);
    case TK_V_ERF: return erf(a);
    case TK_V_SQRT: return sqrt(a);
    case TK_V_RSQRT: return 1.0 / sqrt(a);
    case TK_V_NOT: return a == 0;
    case TK_V_ADD: return a + b;
    case TK_V_SUB: return a - b;
    case TK_V_MUL: return a * b;
    case TK_V_DIV: return v->type == TK_T_I32 ? (double)((int64_t)a / (int64_t)b) : a / b;
    case TK_V_MAX: return a > b ? a : b;
    case TK_V_MIN: return a < b ? a : b;
    case TK_V_AND: return a != 0 && b != 0;
    case TK_V_OR: return a != 0 || b != 0;
    case TK_V_LT: return a < b;
    case TK_V_LE: return a <= b;
    case TK_V_GT: return a > b;
    case TK_V_GE: return a >= b;
    case TK_V_EQ: return a == b;
    case TK_V_NE: return a != b;
    case TK_V_FMA: return a * b + c;
    default: return NAN;
  }
}

static bool holds(int64_t a, tk_ir_cmp cmp, int64_t b) {
  switch (cmp) {
    case TK_CMP_LT: return a < b;
    case TK_CMP_LE: return a <= b;
    case TK_CMP_EQ: return a == b;
    case TK_CMP_NE: return a != b;
    case TK_CMP_GE: return a >= b;
    case TK_CMP_GT: return a > b;
  }
  return false;
}

static void exec_workgroup(run *r, const tk_ir_stmt *threads);

static void exec(run *r, const tk_ir_stmt *s) {
  if (r->err) return;
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n && !r->err; i++) exec(r, s->stmts[i]);
      return;
    case TK_S_FOR: {
      if (s->binding == TK_BIND_THREAD_X && tk_ir_stmt_barriers(s->body) > 0) {
        exec_workgroup(r, s);
        return;
      }
      int64_t n = ix(r, s->extent);
      bool point = s->binding == TK_BIND_THREAD_X || s->binding == TK_BIND_CPU_BLOCK;
      for (int64_t i = 0; i < n && !r->err; i++) {
        r->vals[s->var->id] = i;
        if (s->binding == TK_BIND_WORKGROUP_X) reset_locals(r, true);
        if (point) reset_locals(r, false);
        exec(r, s->body);
      }
      return;
    }
    case TK_S_BARRIER: return; /* exec_workgroup runs the threads up to it */
    case TK_S_IF:
      if (holds(ix(r, s->lhs), s->cmp, ix(r, s->rhs))) exec(r, s->body);
      return;
    case TK_S_STORE: {
      double v = eval(r, s->value, s);
      int64_t i = ix(r, s->ix);
      if (r->hooks && r->hooks->on_store) r->hooks->on_store(r->hooks->user, r->k, s, i, r->vals);
      double *p = buffer_at(r, s->arg, i);
      if (p) *p = r->k->args[s->arg].type == TK_T_F32 ? (double)(float)v : v;
      return;
    }
    case TK_S_LOCAL_STORE: {
      double v = eval(r, s->value, s);
      double *p = local_at(r, s->local, ix(r, s->ix));
      if (p) *p = v;
      return;
    }
  }
}

/* ---- a workgroup with barriers: its threads run statement by statement ---- */

/* One thread's state: the variables' values and its private locals. */
typedef struct thread_state {
  int64_t *vals;
  double **locals; /* private locals; shared ones point at the workgroup's */
} thread_state;

typedef struct workgroup {
  run *r;
  int64_t n;
  thread_state *threads;
} workgroup;

static void enter(workgroup *w, int64_t t) {
  memcpy(w->r->vals, w->threads[t].vals, sizeof *w->r->vals * (size_t)w->r->m->nvars);
}

static void leave(workgroup *w, int64_t t) {
  memcpy(w->threads[t].vals, w->r->vals, sizeof *w->r->vals * (size_t)w->r->m->nvars);
}

/* s (no barrier inside) run by every thread in turn. */
static void each_thread(workgroup *w, const tk_ir_stmt *s) {
  run *r = w->r;
  double **shared_view = r->locals;
  for (int64_t t = 0; t < w->n && !r->err; t++) {
    enter(w, t);
    r->locals = w->threads[t].locals;
    exec(r, s);
    leave(w, t);
  }
  r->locals = shared_view;
}

/* s, which holds barriers, run by all threads together: every thread finishes one
 * barrier-free statement before any starts the next, which is what the barriers promise
 * (docs/ir.md "Barriers"). Loops and guards around barriers must be uniform: a guard some
 * threads pass and others do not is an error (a divergent barrier). */
static void together(workgroup *w, const tk_ir_stmt *s) {
  run *r = w->r;
  if (r->err) return;
  if (tk_ir_stmt_barriers(s) == 0) {
    each_thread(w, s);
    return;
  }
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n && !r->err; i++) together(w, s->stmts[i]);
      return;
    case TK_S_FOR: {
      enter(w, 0);
      int64_t n = ix(r, s->extent);
      for (int64_t i = 0; i < n && !r->err; i++) {
        for (int64_t t = 0; t < w->n; t++) w->threads[t].vals[s->var->id] = i;
        together(w, s->body);
      }
      return;
    }
    case TK_S_IF: {
      int64_t passed = 0;
      for (int64_t t = 0; t < w->n; t++) {
        enter(w, t);
        passed += holds(ix(r, s->lhs), s->cmp, ix(r, s->rhs));
      }
      if (passed != 0 && passed != w->n)
        r->err = tk_status_make(TK_INTERNAL,
                                "kernel %s: a guard around a barrier holds for %lld of %lld "
                                "threads (a divergent barrier)",
                                r->k->name, (long long)passed, (long long)w->n);
      else if (passed)
        together(w, s->body);
      return;
    }
    default: return; /* a barrier: every thread has reached it */
  }
}

static bool workgroup_alloc(workgroup *w) {
  run *r = w->r;
  w->threads = calloc((size_t)w->n, sizeof *w->threads);
  for (int64_t t = 0; w->threads && t < w->n; t++) {
    thread_state *ts = &w->threads[t];
    ts->vals = malloc(sizeof *ts->vals * (size_t)(r->m->nvars + 1));
    ts->locals = calloc((size_t)r->k->nlocals + 1, sizeof *ts->locals);
    if (!ts->vals || !ts->locals) return false;
    memcpy(ts->vals, r->vals, sizeof *ts->vals * (size_t)r->m->nvars);
    for (int l = 0; l < r->k->nlocals; l++) {
      const tk_ir_local *lo = &r->k->locals[l];
      ts->locals[l] = lo->shared ? r->locals[l] : malloc(sizeof(double) * (size_t)lo->count);
      if (!ts->locals[l]) return false;
      for (int64_t i = 0; !lo->shared && i < lo->count; i++) ts->locals[l][i] = NAN;
    }
  }
  return w->threads != NULL;
}

static void workgroup_free(workgroup *w) {
  for (int64_t t = 0; w->threads && t < w->n; t++) {
    for (int l = 0; w->threads[t].locals && l < w->r->k->nlocals; l++)
      if (!w->r->k->locals[l].shared) free(w->threads[t].locals[l]);
    free(w->threads[t].locals);
    free(w->threads[t].vals);
  }
  free(w->threads);
}

/* The @thread_x loop `threads` of a kernel with barriers: thread t's copy of the loop
 * variable is t. */
static void exec_workgroup(run *r, const tk_ir_stmt *threads) {
  workgroup w = {.r = r, .n = ix(r, threads->extent)};
  if (!workgroup_alloc(&w)) {
    r->err = tk_status_make(TK_RESOURCE_EXHAUSTED, "interpreter: out of memory");
  } else {
    for (int64_t t = 0; t < w.n; t++) w.threads[t].vals[threads->var->id] = t;
    together(&w, threads->body);
    enter(&w, 0);
  }
  workgroup_free(&w);
}

/* Every point of a fused phase: r (and j) over the space, locals fresh per point. */
static void exec_phase(run *r, const tk_ir_phase *ph) {
  int64_t nr = ix(r, ph->extents[0]), nj = ph->ndims == 2 ? ix(r, ph->extents[1]) : 1;
  for (int64_t i = 0; i < nr && !r->err; i++)
    for (int64_t j = 0; j < nj && !r->err; j++) {
      r->vals[ph->vars[0]->id] = i;
      if (ph->ndims == 2) r->vals[ph->vars[1]->id] = j;
      reset_locals(r, false);
      exec(r, ph->body);
    }
}

static tk_status run_kernel(run *r, const tk_ir_kernel *k) {
  r->k = k;
  r->locals = calloc((size_t)k->nlocals + 1, sizeof *r->locals);
  bool ok = r->locals != NULL;
  for (int l = 0; ok && l < k->nlocals; l++)
    ok = (r->locals[l] = malloc(sizeof(double) * (size_t)k->locals[l].count)) != NULL;
  if (!ok) r->err = tk_status_make(TK_RESOURCE_EXHAUSTED, "interpreter: out of memory");
  for (int a = 0; !r->err && a < k->nargs; a++)
    if (k->args[a].buffer < 0)
      r->err = tk_status_make(TK_INTERNAL, "kernel %s: argument %s has no buffer", k->name,
                              k->args[a].name);
  if (!r->err && k->target == TK_TARGET_NONE)
    for (int p = 0; p < k->nphases && !r->err; p++) exec_phase(r, &k->phases[p]);
  else if (!r->err) {
    reset_locals(r, false);
    reset_locals(r, true);
    exec(r, k->body);
  }
  for (int l = 0; r->locals && l < k->nlocals; l++) free(r->locals[l]);
  free(r->locals);
  r->locals = NULL;
  tk_status s = r->err;
  r->err = NULL;
  return s;
}

/* The CPU schedule reads panel buffers packed (tk/panel.h), as the runtime packs them. */
static double *packed_copy(const tk_ir_buffer *b, const double *stored) {
  int64_t n = b->count->c, cols = b->panel_cols, rows = n / cols;
  double *p = malloc(sizeof *p * (size_t)(n + 1));
  for (int64_t k = 0; p && k < rows; k++)
    for (int64_t j = 0; j < cols; j++)
      p[tk_panel_offset(rows, cols, b->panel_width, k, j)] =
          stored[tk_panel_stored_index(rows, cols, b->panel_out_in, k, j)];
  return p;
}

static tk_status run_kernels(run *r, tk_ir_target t) {
  const tk_ir_kernel_list *l = tk_ir_module_kernels(r->m, t);
  tk_status s = NULL;
  for (int i = 0; i < l->n && !s; i++) s = run_kernel(r, l->items[i]);
  return s;
}

tk_status tk_interp_run(const tk_ir_module *m, tk_ir_target t, int64_t B, double *const *buffers,
                        const tk_interp_hooks *hooks) {
  if (B < 1 || B > m->opts.bmax)
    return tk_status_make(TK_OUT_OF_RANGE, "B=%lld outside 1..%lld", (long long)B,
                          (long long)m->opts.bmax);
  double **bufs = calloc((size_t)m->nbuffers + 1, sizeof *bufs);
  run r = {.m = m, .bufs = bufs, .hooks = hooks};
  r.vals = calloc((size_t)m->nvars + 1, sizeof *r.vals);
  bool ok = bufs && r.vals;
  for (int i = 0; ok && i < m->nbuffers; i++) {
    bool packed = t == TK_TARGET_CPU && m->buffers[i].panel_width;
    bufs[i] = packed ? packed_copy(&m->buffers[i], buffers[i]) : buffers[i];
    ok = bufs[i] != NULL;
  }
  tk_status s = ok ? NULL : tk_status_make(TK_RESOURCE_EXHAUSTED, "interpreter: out of memory");
  r.env = (tk_ix_env){
      .B = B, .Bp = tk_ir_ix_bp_of(B), .vals = r.vals, .load = load_element, .load_ctx = &r};
  if (!s) s = run_kernels(&r, t);
  for (int i = 0; bufs && i < m->nbuffers; i++)
    if (bufs[i] != buffers[i]) free(bufs[i]);
  free(bufs);
  free(r.vals);
  return s;
}
