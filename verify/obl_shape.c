/* verify/obl_shape.c — class `shape` (target graph): for every live graph op, the op's
 * operands satisfy the op's shape rule from the op table (ir/op_table.c: e.g. a linear's
 * output has as many columns as its weight, its input as many as the weight has rows), and the
 * op's `rows` and `shape_eq` contracts agree with the tensors they name, for every B in
 * [1, Bmax]. Each tensor's declared dims enter as named constants (`%x.rows`, `%x.cols`) with
 * one hypothesis each (its declaration: B, Bp or a constant), so a relation between two
 * tensors is a relation between two constants, proved from the two declarations — never a
 * tensor compared with itself. One obligation per op (kernel name = its layer), one goal part
 * per relation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

/* The op's tensors, each with its two dim constants (declared on first use). */
typedef struct tensor_dims {
  int tensor;
  Z3_ast dims[2];
} tensor_dims;

typedef struct shape_obl {
  tk_obl *o;
  const tk_ir_module *m;
  int n, cap;
  tensor_dims *items;
} shape_obl;

/* The constant for dims[d] of tensor t, with its declaration as a hypothesis. */
static Z3_ast tensor_dim(shape_obl *so, int t, int d) {
  for (int i = 0; i < so->n; i++)
    if (so->items[i].tensor == t) return so->items[i].dims[d];
  if (so->n == so->cap) {
    so->o->oom = true;
    return NULL;
  }
  tensor_dims *td = &so->items[so->n++];
  td->tensor = t;
  const tk_ir_tensor *tt = &so->m->tensors[t];
  for (int k = 0; k < 2; k++) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", tt->name, k ? "cols" : "rows");
    td->dims[k] = tk_verify_obl_fresh(so->o, name, so->o->v->int_sort, false);
    tk_verify_obl_hyp(so->o,
                      Z3_mk_eq(so->o->v->z, td->dims[k], tk_verify_obl_ix(so->o, tt->dims[k], 0)));
  }
  return td->dims[d];
}

static Z3_ast dim_term(shape_obl *so, const tk_ir_dim *d) {
  switch (d->kind) {
    case TK_DIM_TENSOR: return tensor_dim(so, d->tensor, d->dim);
    case TK_DIM_CONST: return tk_verify_z_int(so->o->v, d->c);
    case TK_DIM_SYM: return d->sym == TK_SYM_B ? so->o->B : so->o->Bp;
  }
  return NULL;
}

/* One relation of the rule: a goal part, with both sides shown in a counterexample. */
static void rule_part(const tk_ir_shape_fact *f, void *user) {
  shape_obl *so = user;
  Z3_ast a = dim_term(so, &f->lhs), b = dim_term(so, &f->rhs);
  char label[64];
  tk_ir_dim_format(so->m, &f->lhs, label, sizeof label);
  tk_verify_obl_show(so->o, label, a);
  tk_ir_dim_format(so->m, &f->rhs, label, sizeof label);
  tk_verify_obl_show(so->o, label, b);
  tk_verify_obl_part(so->o, tk_verify_z_cmp(so->o->v, f->cmp, a, b), "%s", f->what);
}

/* rows(t, R, C) says t is R x C; shape_eq(a, b) says a and b have one shape. */
static void contract_part(shape_obl *so, const tk_ir_contract *c) {
  tk_vctx *v = so->o->v;
  const char *name = so->m->tensors[c->a].name;
  Z3_ast rows = tensor_dim(so, c->a, 0), cols = tensor_dim(so, c->a, 1);
  if (c->pred == TK_PRED_ROWS) {
    Z3_ast want_rows = tk_verify_obl_ix(so->o, c->ix, 0), want_cols = tk_verify_z_int(v, c->n);
    tk_verify_obl_show(so->o, "rows (contract)", want_rows);
    tk_verify_obl_show(so->o, "cols (contract)", want_cols);
    Z3_ast cols_agree = tk_verify_z_cmp(v, TK_CMP_EQ, cols, want_cols); /* verify_internal.h */
    tk_verify_obl_part(
        so->o, tk_verify_z_and2(v, tk_verify_z_cmp(v, TK_CMP_EQ, rows, want_rows), cols_agree),
        "%s rows(%%%s) contract equals the tensor's shape", c->ensures ? "ensures" : "requires",
        name);
    return;
  }
  Z3_ast rows_b = tensor_dim(so, c->b, 0), cols_b = tensor_dim(so, c->b, 1);
  Z3_ast cols_agree = tk_verify_z_cmp(v, TK_CMP_EQ, cols, cols_b); /* first: verify_internal.h */
  tk_verify_obl_part(so->o,
                     tk_verify_z_and2(v, tk_verify_z_cmp(v, TK_CMP_EQ, rows, rows_b), cols_agree),
                     "shape_eq(%%%s, %%%s) contract", name, so->m->tensors[c->b].name);
}

static tk_status op_shapes(tk_vctx *v, const tk_ir_op *op) {
  tk_verify_obl_begin(v, TK_OBL_SHAPE, op->layer, "graph",
                      "op %s: its operands satisfy the %s shape rule of the op table and its rows "
                      "and shape_eq contracts agree with the tensors' declared shapes, for every B "
                      "in [1, %lld]",
                      op->name, tk_ir_op_kind_name(op->kind), (long long)v->bmax);
  shape_obl so = {
      .o = tk_verify_obl_cur(v), .m = v->m, .cap = op->nin + op->nout + 2 * op->contracts.n};
  so.items = tk_calloc((size_t)so.cap, sizeof *so.items);
  if (!so.items) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
  tk_status s = tk_ir_op_shape_facts(v->m, op, rule_part, &so);
  for (int i = 0; !s && i < op->contracts.n; i++) {
    const tk_ir_contract *c = &op->contracts.items[i];
    if (c->pred == TK_PRED_ROWS || c->pred == TK_PRED_SHAPE_EQ) contract_part(&so, c);
  }
  free(so.items);
  if (s) return tk_status_annotate(s, "shape rule");
  return tk_verify_obl_prove(v);
}

tk_status tk_verify_obl_shape(tk_vctx *v) {
  for (int i = 0; i < v->m->nops; i++)
    if (!v->m->ops[i].dead) TK_RETURN_IF_ERROR(op_shapes(v, &v->m->ops[i]));
  return TK_STATUS_OK;
}
