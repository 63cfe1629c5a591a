/* ir/accesses.c — the canonical numbering of a scheduled kernel's memory accesses
 * (tk_ir_kernel_accesses, ir.h): the one order codegen's !tk.access metadata and the
 * translation validator agree on.
 *
 * Guarantees: the order is a function of the statement tree alone (program order; per guard
 * its index reads; per store statement the value DAG's distinct load nodes depth-first over
 * operands a, b, c, which is the order codegen's per-statement memo first emits them, each
 * after the index reads of its index, then the store's index reads and the store). No global state;
 * the only allocation is the per-statement list of nodes already seen (freed on return).
 */
#include <stdlib.h>

#include "ir/ir.h"
#include "tk/alloc.h"

typedef struct access_walk {
  const tk_ir_kernel *k;
  tk_ir_mem_access_fn fn;
  void *user;
  int next;
  int depth;
  const tk_ir_stmt *path[TK_IR_ACCESS_MAX_DEPTH];
  const void **seen; /* value and index-read nodes of the current statement already visited */
  int nseen, capseen;
} access_walk;

static tk_status emit(access_walk *w, const tk_ir_stmt *s, const tk_ir_val *v, const tk_ix *ix) {
  tk_ir_mem_access a = {
      .n = w->next++, .stmt = s, .val = v, .ix = ix, .depth = w->depth, .path = w->path};
  return w->fn(&a, w->user);
}

static tk_status mark_seen(access_walk *w, const void *v, bool *was) {
  for (int i = 0; i < w->nseen; i++)
    if (w->seen[i] == v) {
      *was = true;
      return TK_STATUS_OK;
    }
  *was = false;
  if (w->nseen == w->capseen) {
    int cap = w->capseen ? 2 * w->capseen : 64;
    const void **p = tk_realloc(w->seen, (size_t)cap * sizeof *p);
    if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "ir: out of memory numbering accesses");
    w->seen = p;
    w->capseen = cap;
  }
  w->seen[w->nseen++] = v;
  return TK_STATUS_OK;
}

static tk_status visit_ix(access_walk *w, const tk_ir_stmt *s, const tk_ix *e) {
  if (!e) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(visit_ix(w, s, e->a));
  TK_RETURN_IF_ERROR(visit_ix(w, s, e->b));
  if (e->kind != TK_IX_LOAD) return TK_STATUS_OK;
  bool was;
  TK_RETURN_IF_ERROR(mark_seen(w, e, &was));
  return was ? TK_STATUS_OK : emit(w, s, NULL, e);
}

static tk_status visit_val(access_walk *w, const tk_ir_stmt *s, const tk_ir_val *v) {
  if (!v) return TK_STATUS_OK;
  bool was;
  TK_RETURN_IF_ERROR(mark_seen(w, v, &was));
  if (was) return TK_STATUS_OK;
  int arity = tk_ir_vop_arity(v->op);
  if (arity >= 1) TK_RETURN_IF_ERROR(visit_val(w, s, v->a));
  if (arity >= 2) TK_RETURN_IF_ERROR(visit_val(w, s, v->b));
  if (arity >= 3) TK_RETURN_IF_ERROR(visit_val(w, s, v->c));
  if (v->op == TK_V_INDEX) return visit_ix(w, s, v->ix);
  if (v->op != TK_V_LOAD && v->op != TK_V_LOCAL_LOAD) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(visit_ix(w, s, v->ix));
  return emit(w, s, v, NULL);
}

static tk_status visit_stmt(access_walk *w, const tk_ir_stmt *s) {
  if (!s) return TK_STATUS_OK;
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) TK_RETURN_IF_ERROR(visit_stmt(w, s->stmts[i]));
      return TK_STATUS_OK;
    case TK_S_FOR:
    case TK_S_IF: {
      if (s->kind == TK_S_IF) {
        w->nseen = 0;
        TK_RETURN_IF_ERROR(visit_ix(w, s, s->lhs));
        TK_RETURN_IF_ERROR(visit_ix(w, s, s->rhs));
      }
      if (w->depth == TK_IR_ACCESS_MAX_DEPTH)
        return tk_status_make(TK_INTERNAL, "ir: kernel %s nests deeper than %d loops and guards",
                              w->k->name, TK_IR_ACCESS_MAX_DEPTH);
      w->path[w->depth++] = s;
      tk_status st = visit_stmt(w, s->body);
      w->depth--;
      return st;
    }
    case TK_S_STORE:
    case TK_S_LOCAL_STORE:
      w->nseen = 0;
      TK_RETURN_IF_ERROR(visit_val(w, s, s->value));
      TK_RETURN_IF_ERROR(visit_ix(w, s, s->ix));
      return emit(w, s, NULL, NULL);
    case TK_S_BARRIER: return TK_STATUS_OK; /* orders accesses, makes none */
  }
  return TK_STATUS_OK;
}

tk_status tk_ir_kernel_accesses(const tk_ir_kernel *k, tk_ir_mem_access_fn fn, void *user) {
  access_walk w = {.k = k, .fn = fn, .user = user};
  tk_status s = visit_stmt(&w, k->body);
  free(w.seen);
  return s;
}
