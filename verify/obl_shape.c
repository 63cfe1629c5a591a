/* verify/obl_shape.c — class `shape` (target graph): for every live graph op, every edge's
 * producer and consumer shapes are equal for every B in [1, Bmax]. The consumer's shape of a
 * tensor is its `requires rows(t, R, C)` contract; the producer's is the producing op's
 * `ensures rows(t, R, C)`, or the tensor's declared dims for graph inputs and parameters; an
 * op's outputs are checked against the declared dims too, and every `shape_eq(a, b)` contract
 * compares the two tensors' declared dims. One obligation per op (kernel name = its layer).
 */
#include <stdio.h>
#include <string.h>

#include "verify/verify_internal.h"

typedef struct shape {
  const tk_ix *rows;
  int64_t cols;
} shape;

/* The rows contract of op on tensor t with the given direction, if any. */
static bool contract_shape(const tk_ir_op *op, int t, bool ensures, shape *out) {
  for (int i = 0; i < op->contracts.n; i++) {
    const tk_ir_contract *c = &op->contracts.items[i];
    if (c->pred == TK_PRED_ROWS && c->a == t && c->ensures == ensures) {
      out->rows = c->ix;
      out->cols = c->n;
      return true;
    }
  }
  return false;
}

static shape declared(const tk_ir_module *m, int t) {
  const tk_ir_tensor *tt = &m->tensors[t];
  shape s = {tt->dims[0], tt->rank == 2 && tt->dims[1] ? tt->dims[1]->c : 1};
  return s;
}

/* The producer's view of t: its ensures contract, else the declaration. */
static shape produced(const tk_ir_module *m, int t) {
  shape s;
  int p = m->tensors[t].producer;
  if (p >= 0 && !m->ops[p].dead && contract_shape(&m->ops[p], t, true, &s)) return s;
  return declared(m, t);
}

/* Adds rows(a) == rows(b) and cols(a) == cols(b) to the conjunction, with shown terms. */
static void edge(tk_obl *o, const char *name, shape a, shape b, int *n) {
  tk_vctx *v = o->v;
  char label[64];
  Z3_ast ra = tk_verify_obl_ix(o, a.rows, 0), rb = tk_verify_obl_ix(o, b.rows, 0);
  snprintf(label, sizeof label, "%%%s rows (producer)", name);
  tk_verify_obl_show(o, label, ra);
  snprintf(label, sizeof label, "%%%s rows (consumer)", name);
  tk_verify_obl_show(o, label, rb);
  snprintf(label, sizeof label, "%%%s cols (producer)", name);
  tk_verify_obl_show(o, label, tk_verify_z_int(v, a.cols));
  snprintf(label, sizeof label, "%%%s cols (consumer)", name);
  tk_verify_obl_show(o, label, tk_verify_z_int(v, b.cols));
  tk_verify_obl_part(
      o,
      tk_verify_z_and2(v, tk_verify_z_cmp(v, TK_CMP_EQ, ra, rb),
                       Z3_mk_eq(v->z, tk_verify_z_int(v, a.cols), tk_verify_z_int(v, b.cols))),
      "tensor %%%s: producer and consumer shapes are equal", name);
  (*n)++;
}

static tk_status op_shapes(tk_vctx *v, const tk_ir_op *op) {
  const tk_ir_module *m = v->m;
  tk_verify_obl_begin(
      v, TK_OBL_SHAPE, op->layer, "graph",
      "op %s: every input's producer shape equals the shape the op requires, every output's shape "
      "equals its declaration, and shape_eq operands agree, for every B in [1, %lld]",
      op->name, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  enum { CAP = 256 };
  int n = 0;
  for (int i = 0; i < op->nin && n < CAP; i++) {
    int t = op->in[i].tensor;
    shape need;
    if (!contract_shape(op, t, false, &need))
      return tk_status_make(TK_INVALID_ARGUMENT, "op %s: no rows contract for input %%%s", op->name,
                            m->tensors[t].name);
    edge(o, m->tensors[t].name, produced(m, t), need, &n);
  }
  for (int i = 0; i < op->nout && n < CAP; i++) {
    int t = op->out[i].tensor;
    shape made;
    if (!contract_shape(op, t, true, &made))
      return tk_status_make(TK_INVALID_ARGUMENT, "op %s: no rows contract for output %%%s",
                            op->name, m->tensors[t].name);
    edge(o, m->tensors[t].name, made, declared(m, t), &n);
  }
  for (int i = 0; i < op->contracts.n && n < CAP; i++) {
    const tk_ir_contract *c = &op->contracts.items[i];
    if (c->pred == TK_PRED_SHAPE_EQ)
      edge(o, m->tensors[c->a].name, declared(m, c->a), declared(m, c->b), &n);
  }
  if (n == CAP) return tk_status_make(TK_INTERNAL, "verifier: op %s has too many edges", op->name);
  return tk_verify_obl_prove(v);
}

tk_status tk_verify_obl_shape(tk_vctx *v) {
  for (int i = 0; i < v->m->nops; i++)
    if (!v->m->ops[i].dead) TK_RETURN_IF_ERROR(op_shapes(v, &v->m->ops[i]));
  return TK_STATUS_OK;
}
