/* ir/pass_pad.c — the padding pass (GRAPH → PADDED), docs/formats.md §3 "Batch handling".
 *
 * pad_rows(x) → xp disappears: every consumer of xp reads the caller's B-row x directly with
 * its rows clamped (operand.row_clamp; the fusion pass folds that into index maps as
 * min(r, B - 1)), so the caller's input is never copied. slice_rows(y) → out disappears: the
 * producer of y writes the caller's output `out` directly, rows < B only (operand.row_limit;
 * fusion emits the guard); if y has other consumers (the router's gate feeds the combine),
 * the producer writes both (the sliced tensor must then be the producer's output 0: the op
 * table reads an appended output as a slice of output 0, ir/op_table.c). Contracts follow the rewrite: consumers gain
 * `requires reads_clamped(x)`, producers `ensures writes_rows_lt(out, B)`, and row-shape
 * contracts are re-pointed at the tensors actually read and written.
 *
 * Guarantees after the pass: no live pad_rows/slice_rows op; every read of an input tensor
 * is clamped; every write of an output tensor is limited to rows < B; every intermediate has
 * Bp rows.
 */
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"

/* Contracts of op that name tensor `from` now name `to` (row counts follow). */
static void repoint_contracts(tk_ir_module *m, tk_ir_op *op, int from, int to) {
  for (int i = 0; i < op->contracts.n; i++) {
    tk_ir_contract *c = &op->contracts.items[i];
    if (c->b == from) c->b = to;
    if (c->a != from) continue;
    c->a = to;
    if (c->pred == TK_PRED_ROWS) c->ix = m->tensors[to].dims[0];
  }
}

static void fold_pad(tk_ir_module *m, tk_ir_op *pad) {
  int src = pad->in[0].tensor, dst = pad->out[0].tensor;
  for (int i = 0; i < m->nops; i++) {
    tk_ir_op *q = &m->ops[i];
    if (q->dead || q == pad) continue;
    bool reads = false;
    for (int j = 0; j < q->nin; j++)
      if (q->in[j].tensor == dst) {
        q->in[j].tensor = src;
        q->in[j].row_clamp = true;
        reads = true;
      }
    if (!reads) continue;
    repoint_contracts(m, q, dst, src);
    tk_ir_contract_add(m, &q->contracts,
                       tk_ir_contract_make(false, TK_PRED_READS_CLAMPED, src, -1, NULL, 0, 0));
  }
  pad->dead = true;
}

static int live_consumers(const tk_ir_module *m, int tensor, const tk_ir_op *except) {
  int n = 0;
  for (int i = 0; i < m->nops; i++) {
    const tk_ir_op *q = &m->ops[i];
    if (q->dead || q == except) continue;
    for (int j = 0; j < q->nin; j++) n += q->in[j].tensor == tensor;
  }
  return n;
}

static void append_output(tk_ir_module *m, tk_ir_op *op, int tensor) {
  tk_ir_operand *out = tk_ir_alloc(m, sizeof *out * (size_t)(op->nout + 1));
  if (!out) return;
  memcpy(out, op->out, sizeof *out * (size_t)op->nout);
  out[op->nout].tensor = tensor;
  op->out = out;
  op->nout++;
}

static tk_status fold_slice(tk_ir_module *m, tk_ir_op *slice) {
  int y = slice->in[0].tensor, out = slice->out[0].tensor;
  int pid = m->tensors[y].producer;
  if (pid < 0 || m->ops[pid].dead)
    return tk_status_make(TK_INTERNAL, "slice_rows of %s: the tensor has no producer",
                          m->tensors[y].name);
  tk_ir_op *p = &m->ops[pid];
  if (live_consumers(m, y, slice) > 0) {
    if (p->out[0].tensor != y) /* the op table reads an appended output as output 0's slice */
      return tk_status_make(TK_INTERNAL, "slice_rows of %s: not the first output of op %s",
                            m->tensors[y].name, p->name);
    append_output(m, p, out);
    tk_ir_contract_add(m, &p->contracts,
                       tk_ir_contract_make(true, TK_PRED_ROWS, out, -1, m->tensors[out].dims[0], 0,
                                           m->tensors[out].dims[1]->c));
  } else {
    for (int j = 0; j < p->nout; j++)
      if (p->out[j].tensor == y) p->out[j].tensor = out;
    repoint_contracts(m, p, y, out);
  }
  for (int j = 0; j < p->nout; j++)
    if (p->out[j].tensor == out) p->out[j].row_limit = tk_ir_ix_sym(m, TK_SYM_B);
  m->tensors[out].producer = pid;
  tk_ir_contract_add(
      m, &p->contracts,
      tk_ir_contract_make(true, TK_PRED_WRITES_ROWS_LT, out, -1, tk_ir_ix_sym(m, TK_SYM_B), 0, 0));
  slice->dead = true;
  return TK_STATUS_OK;
}

tk_status tk_ir_pass_pad(tk_ir_module *m) {
  if (m->stage != TK_STAGE_GRAPH)
    return tk_status_make(TK_INTERNAL, "padding pass: module at stage %d, expected graph",
                          (int)m->stage);
  for (int i = 0; i < m->nops; i++)
    if (!m->ops[i].dead && m->ops[i].kind == TK_OP_PAD_ROWS) fold_pad(m, &m->ops[i]);
  for (int i = 0; i < m->nops; i++)
    if (!m->ops[i].dead && m->ops[i].kind == TK_OP_SLICE_ROWS)
      TK_RETURN_IF_ERROR(fold_slice(m, &m->ops[i]));
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  m->stage = TK_STAGE_PADDED;
  return TK_STATUS_OK;
}
