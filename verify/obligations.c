/* verify/obligations.c — collection of obligations over the scheduled module: the driver
 * (tk_verify_module: graph-level classes, then every kernel of the gpu and the cpu schedule,
 * class by class, each schedule followed by its launch-to-launch dataflow class) and the statement-tree walk that gives each index-carrying site — every
 * LOAD, STORE, LOCAL_LOAD, LOCAL_STORE, INDEX value, loop extent and guard — with its path:
 * the enclosing FOR ranges (0 <= var < extent) and IF guards, which become hypotheses.
 *
 * Everything is read from the IR that codegen and the host stub consume (kernel bodies,
 * launch records, argument and buffer counts, contracts); nothing is restated.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

const char *tk_verify_obl_target_name(const tk_ir_kernel *k) {
  return k->target == TK_TARGET_GPU ? "gpu" : "cpu";
}

bool tk_verify_obl_loop_bound(const tk_ir_stmt *s) {
  return s->kind == TK_S_FOR && s->binding != TK_BIND_NONE;
}

bool tk_verify_obl_loop_parallel(const tk_ir_stmt *s) {
  return s->kind == TK_S_FOR && (s->binding != TK_BIND_NONE || s->loop == TK_LOOP_PARALLEL ||
                                 s->loop == TK_LOOP_UNROLL || s->loop == TK_LOOP_VECTOR);
}

/* The range the launch gives a loop: its extent, or for bound loops the launch record. */
static Z3_ast loop_range(tk_obl *o, const tk_ir_kernel *k, const tk_ir_stmt *s, int copy) {
  if (k && (s->binding == TK_BIND_WORKGROUP_X || s->binding == TK_BIND_CPU_BLOCK) && k->launch.grid)
    return tk_verify_obl_ix(o, k->launch.grid, copy);
  if (k && s->binding == TK_BIND_THREAD_X) return tk_verify_z_int(o->v, k->launch.workgroup_size);
  return tk_verify_obl_ix(o, s->extent, copy);
}

/* The condition of one enclosing FOR (0 <= var < range) or IF (the guard). */
static Z3_ast path_item(tk_obl *o, const tk_ir_kernel *k, const tk_ir_stmt *s, int copy) {
  tk_vctx *v = o->v;
  if (s->kind == TK_S_FOR) { /* right to left: verify_internal.h, term order */
    Z3_ast range = loop_range(o, k, s, copy);
    Z3_ast var = tk_verify_obl_var(o, s->var, copy);
    return tk_verify_z_in(v, tk_verify_z_int(v, 0), var, range);
  }
  Z3_ast rhs = tk_verify_obl_ix(o, s->rhs, copy);
  return tk_verify_z_cmp(v, s->cmp, tk_verify_obl_ix(o, s->lhs, copy), rhs);
}

void tk_verify_obl_path_hyps(tk_obl *o, const tk_obl_path *path, int copy) {
  for (int i = 0; i < path->n; i++)
    tk_verify_obl_hyp(o, path_item(o, o->v->kernel, path->items[i], copy));
}

Z3_ast tk_verify_obl_path_cond(tk_obl *o, const tk_ir_kernel *k, const tk_obl_path *path,
                               int copy) {
  Z3_ast conds[TK_OBL_MAX_DEPTH];
  for (int i = 0; i < path->n; i++) conds[i] = path_item(o, k, path->items[i], copy);
  return tk_verify_z_and(o->v, path->n, conds);
}

Z3_ast tk_verify_obl_items_cond(tk_obl *o, const tk_ir_stmt *const *items, int n, int copy) {
  Z3_ast all = Z3_mk_true(o->v->z);
  for (int i = 0; i < n; i++)
    all = tk_verify_z_and2(o->v, all, path_item(o, o->v->kernel, items[i], copy));
  return all;
}

void tk_verify_obl_site_what(const tk_ir_kernel *k, const tk_obl_site *site, char *buf, size_t n) {
  switch (site->kind) {
    case TK_SITE_LOAD:
      snprintf(buf, n, "%s %%%s", site->val ? "load of" : "index read of", k->args[site->arg].name);
      break;
    case TK_SITE_STORE: snprintf(buf, n, "store to %%%s", k->args[site->arg].name); break;
    case TK_SITE_LLOAD: snprintf(buf, n, "load of local %s", k->locals[site->local].name); break;
    case TK_SITE_LSTORE: snprintf(buf, n, "store to local %s", k->locals[site->local].name); break;
    case TK_SITE_INDEX: snprintf(buf, n, "index value"); break;
    case TK_SITE_FOR: snprintf(buf, n, "extent of loop %s", site->stmt->var->name); break;
    case TK_SITE_IF: snprintf(buf, n, "guard"); break;
    case TK_SITE_BARRIER: snprintf(buf, n, "barrier"); break;
  }
}

/* ---- the walk ---- */

typedef struct walk_ctx {
  tk_vctx *v;
  const tk_ir_kernel *k;
  tk_obl_site_fn fn;
  void *user;
  tk_obl_path path;
  /* value sites already visited in the current statement */
  int nseen, cap_seen;
  const tk_ir_val **seen;
} walk_ctx;

static bool same_site(const tk_ir_val *a, const tk_ir_val *b) {
  if (a->op != b->op) return false;
  if (a->op == TK_V_LOAD && a->arg != b->arg) return false;
  if (a->op == TK_V_LOCAL_LOAD && a->local != b->local) return false;
  return tk_ir_ix_equal(a->ix, b->ix);
}

/* The data an index reads (TK_IX_LOAD), innermost first: a LOAD site with no value node,
 * so that every class that checks loads (bounds, no_overflow, dataflow) checks it too. */
static tk_status visit_ix(walk_ctx *w, const tk_ir_stmt *s, const tk_ix *e) {
  if (!e) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(visit_ix(w, s, e->a));
  TK_RETURN_IF_ERROR(visit_ix(w, s, e->b));
  if (e->kind != TK_IX_LOAD) return TK_STATUS_OK;
  tk_obl_site site = {
      .kind = TK_SITE_LOAD, .stmt = s, .ix = e->a, .arg = e->arg, .local = -1, .path = &w->path};
  return w->fn(w->v, w->k, &site, w->user);
}

static tk_status visit_val(walk_ctx *w, const tk_ir_stmt *s, const tk_ir_val *val) {
  if (!val) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(visit_val(w, s, val->a));
  TK_RETURN_IF_ERROR(visit_val(w, s, val->b));
  TK_RETURN_IF_ERROR(visit_val(w, s, val->c));
  if (val->op != TK_V_LOAD && val->op != TK_V_LOCAL_LOAD && val->op != TK_V_INDEX)
    return TK_STATUS_OK;
  for (int i = 0; i < w->nseen; i++)
    if (w->seen[i] == val || same_site(w->seen[i], val)) return TK_STATUS_OK;
  if (w->nseen == w->cap_seen) {
    int ncap = w->cap_seen ? w->cap_seen * 2 : 32;
    const tk_ir_val **p = tk_realloc(w->seen, (size_t)ncap * sizeof *p);
    if (!p)
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory walking kernel %s",
                            w->k->name);
    w->seen = p;
    w->cap_seen = ncap;
  }
  w->seen[w->nseen++] = val;
  TK_RETURN_IF_ERROR(visit_ix(w, s, val->ix));
  tk_obl_site site = {
      .stmt = s, .val = val, .ix = val->ix, .arg = val->arg, .local = val->local, .path = &w->path};
  site.kind = val->op == TK_V_LOAD         ? TK_SITE_LOAD
              : val->op == TK_V_LOCAL_LOAD ? TK_SITE_LLOAD
                                           : TK_SITE_INDEX;
  return w->fn(w->v, w->k, &site, w->user);
}

static tk_status push(walk_ctx *w, const tk_ir_stmt *s) {
  if (w->path.n == TK_OBL_MAX_DEPTH)
    return tk_status_make(TK_INTERNAL, "verifier: kernel %s nests deeper than %d loops and guards",
                          w->k->name, TK_OBL_MAX_DEPTH);
  w->path.items[w->path.n++] = s;
  return TK_STATUS_OK;
}

static tk_status walk_stmt(walk_ctx *w, const tk_ir_stmt *s) {
  tk_obl_site site = {.stmt = s, .path = &w->path, .arg = -1, .local = -1};
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) TK_RETURN_IF_ERROR(walk_stmt(w, s->stmts[i]));
      return TK_STATUS_OK;
    case TK_S_FOR:
    case TK_S_IF:
      site.kind = s->kind == TK_S_FOR ? TK_SITE_FOR : TK_SITE_IF;
      site.ix = s->kind == TK_S_FOR ? s->extent : s->lhs;
      site.ix2 = s->kind == TK_S_IF ? s->rhs : NULL;
      TK_RETURN_IF_ERROR(visit_ix(w, s, site.ix));
      TK_RETURN_IF_ERROR(visit_ix(w, s, site.ix2));
      TK_RETURN_IF_ERROR(w->fn(w->v, w->k, &site, w->user));
      TK_RETURN_IF_ERROR(push(w, s));
      TK_RETURN_IF_ERROR(walk_stmt(w, s->body));
      w->path.n--;
      return TK_STATUS_OK;
    case TK_S_STORE:
    case TK_S_LOCAL_STORE:
      w->nseen = 0;
      TK_RETURN_IF_ERROR(visit_val(w, s, s->value));
      TK_RETURN_IF_ERROR(visit_ix(w, s, s->ix));
      site.kind = s->kind == TK_S_STORE ? TK_SITE_STORE : TK_SITE_LSTORE;
      site.ix = s->ix;
      site.arg = s->arg;
      site.local = s->local;
      return w->fn(w->v, w->k, &site, w->user);
    case TK_S_BARRIER: site.kind = TK_SITE_BARRIER; return w->fn(w->v, w->k, &site, w->user);
  }
  return TK_STATUS_OK;
}

tk_status tk_verify_obl_walk(tk_vctx *v, const tk_ir_kernel *k, tk_obl_site_fn fn, void *user) {
  walk_ctx w = {.v = v, .k = k, .fn = fn, .user = user};
  tk_status s = k->body ? walk_stmt(&w, k->body) : TK_STATUS_OK;
  free(w.seen);
  return s;
}

/* ---- collection ---- */

static tk_status collect_site(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *site,
                              void *user) {
  (void)v;
  tk_obl_sites *l = user;
  if (l->n == l->cap) {
    int ncap = l->cap ? l->cap * 2 : 64;
    tk_obl_site *items = tk_realloc(l->items, (size_t)ncap * sizeof *items);
    if (items) l->items = items;
    tk_obl_path *paths = items ? tk_realloc(l->paths, (size_t)ncap * sizeof *paths) : NULL;
    if (paths) l->paths = paths;
    if (!items || !paths)
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory in kernel %s", k->name);
    l->cap = ncap;
  }
  l->items[l->n] = *site;
  l->paths[l->n] = *site->path;
  l->n++;
  return TK_STATUS_OK;
}

tk_status tk_verify_obl_collect(tk_vctx *v, const tk_ir_kernel *k, tk_obl_sites *out) {
  memset(out, 0, sizeof *out);
  tk_status s = tk_verify_obl_walk(v, k, collect_site, out);
  for (int i = 0; i < out->n; i++) out->items[i].path = &out->paths[i];
  if (s) tk_verify_obl_sites_free(out);
  return s;
}

void tk_verify_obl_sites_free(tk_obl_sites *s) {
  free(s->items);
  free(s->paths);
  memset(s, 0, sizeof *s);
}

bool tk_verify_obl_same_path(const tk_obl_path *a, const tk_obl_path *b) {
  return a->n == b->n && !memcmp(a->items, b->items, (size_t)a->n * sizeof a->items[0]);
}

tk_status tk_verify_obl_groups(tk_vctx *v, const tk_ir_kernel *k, tk_obl_site_pred want,
                               tk_obl_group_fn fn) {
  tk_obl_sites l;
  TK_RETURN_IF_ERROR(tk_verify_obl_collect(v, k, &l));
  bool *done = tk_calloc((size_t)(l.n ? l.n : 1), sizeof *done);
  const tk_obl_site **group = tk_calloc((size_t)(l.n ? l.n : 1), sizeof *group);
  tk_status s = done && group ? TK_STATUS_OK
                              : tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
  for (int i = 0; !s && i < l.n; i++) {
    if (done[i] || !want(k, &l.items[i])) continue;
    int n = 0;
    for (int j = i; j < l.n; j++)
      if (!done[j] && want(k, &l.items[j]) && tk_verify_obl_same_path(&l.paths[i], &l.paths[j])) {
        done[j] = true;
        group[n++] = &l.items[j];
      }
    s = fn(v, k, group, n);
  }
  free(done);
  free(group);
  tk_verify_obl_sites_free(&l);
  return s;
}

/* Binds, in copy 1, every variable of the source index e to its value at the scheduled
 * point: the statement's substitution for source space variables, itself (copy 0) for loops
 * copied from the source. */
void tk_verify_obl_bind_source(tk_obl *o, const tk_ir_subst *sub, const tk_ix *e) {
  if (!e) return;
  if (e->kind == TK_IX_VAR) {
    for (int i = 0; sub && i < sub->n; i++)
      if (sub->from[i] == e->var) {
        tk_verify_obl_bind(o, e->var, 1, tk_verify_obl_ix(o, sub->to[i], 0));
        return;
      }
    tk_verify_obl_bind(o, e->var, 1, tk_verify_obl_var(o, e->var, 0));
    return;
  }
  tk_verify_obl_bind_source(o, sub, e->a);
  tk_verify_obl_bind_source(o, sub, e->b);
}

void tk_verify_obl_unbind_source(tk_obl *o, const tk_ix *e) {
  if (!e) return;
  if (e->kind == TK_IX_VAR) tk_verify_obl_unbind(o, e->var, 1);
  tk_verify_obl_unbind_source(o, e->a);
  tk_verify_obl_unbind_source(o, e->b);
}

void tk_verify_obl_path_text(const tk_obl_path *p, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < p->n && len < n; i++) {
    const tk_ir_stmt *s = p->items[i];
    len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "",
                            s->kind == TK_S_FOR ? s->var->name : "if");
  }
  if (!p->n) snprintf(buf, n, "(top level)");
}

tk_status tk_verify_obl_form_error(const tk_ir_kernel *k, const char *what, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tk_status_make(TK_PROOF_FAILED,
                        "kernel %s (%s), %s does not have the form the verifier proves: %s",
                        k->name, tk_verify_obl_target_name(k), what, msg);
}

/* ---- the driver ---- */

typedef tk_status (*kernel_class_fn)(tk_vctx *v, const tk_ir_kernel *k);

static tk_status verify_kernel(tk_vctx *v, const tk_ir_kernel *k) {
  static const kernel_class_fn classes[] = {
      tk_verify_obl_bounds,         tk_verify_obl_shared_size, tk_verify_obl_overflow,
      tk_verify_obl_padding_kernel, tk_verify_obl_launch,      tk_verify_obl_race,
      tk_verify_obl_barriers,       tk_verify_obl_coverage,    tk_verify_obl_topk,
      tk_verify_obl_layout,         tk_verify_obl_dispatch,
  };
  v->kernel = k;
  for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++)
    TK_RETURN_IF_ERROR(classes[c](v, k));
  v->kernel = NULL;
  return TK_STATUS_OK;
}

/* Every kernel of the gpu, then the cpu schedule, each schedule's dataflow after its kernels;
 * tk_verify_options.first (and its schedule's dataflow) ahead of all of them. */
static tk_status verify_kernels(tk_vctx *v) {
  const tk_ir_kernel *first = v->opts.first;
  if (first) {
    TK_RETURN_IF_ERROR(verify_kernel(v, first));
    TK_RETURN_IF_ERROR(tk_verify_obl_dataflow(v, first->target));
  }
  const tk_ir_target targets[] = {TK_TARGET_GPU, TK_TARGET_CPU};
  for (size_t t = 0; t < 2; t++) {
    const tk_ir_kernel_list *list = tk_ir_module_kernels(v->m, targets[t]);
    for (int i = 0; i < list->n; i++)
      if (list->items[i] != first) TK_RETURN_IF_ERROR(verify_kernel(v, list->items[i]));
    if (!first || first->target != targets[t])
      TK_RETURN_IF_ERROR(tk_verify_obl_dataflow(v, targets[t]));
  }
  return TK_STATUS_OK;
}

static tk_status run(const tk_ir_module *m, const tk_verify_options *o, FILE *emit,
                     tk_verify_report **out) {
  *out = NULL;
  if (m->stage < TK_STAGE_CPU)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "verifier: the module must be scheduled for gpu and cpu (stage cpu)");
  tk_vctx v;
  TK_RETURN_IF_ERROR(tk_verify_ctx_init(&v, m, o));
  v.emit = emit;
  tk_status s = tk_verify_obl_shape(&v);
  if (!s) s = tk_verify_obl_padding_module(&v);
  if (!s) s = tk_verify_obl_layout_module(&v);
  if (!s) s = verify_kernels(&v);
  if (!s) {
    *out = v.report;
    v.report = NULL;
  }
  tk_verify_ctx_dispose(&v);
  return s;
}

tk_status tk_verify_run_into(const tk_ir_module *m, const tk_verify_options *o,
                             tk_verify_report *into, tk_verify_gen_fn gen, const void *user) {
  tk_vctx v;
  TK_RETURN_IF_ERROR(tk_verify_ctx_init(&v, m, o));
  tk_status s = gen(&v, user);
  if (!s && into) s = tk_verify_report_merge(into, v.report);
  tk_verify_ctx_dispose(&v);
  return s;
}

void tk_verify_options_default(tk_verify_options *o) {
  memset(o, 0, sizeof *o);
  o->rlimit = TK_VERIFY_DEFAULT_RLIMIT;
  o->solve = true;
}

tk_status tk_verify_module(const tk_ir_module *m, const tk_verify_options *o,
                           tk_verify_report **out) {
  tk_verify_options d;
  if (!o) {
    tk_verify_options_default(&d);
    o = &d;
  }
  return run(m, o, NULL, out);
}

tk_status tk_verify_emit_obligations(const tk_ir_module *m, FILE *out) {
  tk_verify_options o;
  tk_verify_options_default(&o);
  o.solve = false;
  tk_verify_report *r = NULL;
  tk_status s = run(m, &o, out, &r);
  tk_verify_report_free(r);
  return s;
}
