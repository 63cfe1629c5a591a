/* ir/contracts.c — the argument contracts every kernel carries, derived in one place for
 * fused and scheduled kernels alike (so a GPU launch that only reads a buffer never claims
 * to write it), and the argument/local use analysis they rest on. */
#include "ir/ir.h"
#include "ir/ir_internal.h"

typedef struct uses_ctx {
  int *access;
  bool *locals;
} uses_ctx;

static void use_val(const tk_ir_val *v, const tk_ir_stmt *owner, void *user) {
  uses_ctx *u = user;
  (void)owner;
  if (v->op == TK_V_LOAD && u->access) {
    u->access[v->arg] |= TK_ACC_READ;
    tk_ir_ix_mark_loads(v->ix, u->access);
  }
  if (v->op == TK_V_LOCAL_LOAD && u->locals) u->locals[v->local] = true;
}

static void use_stmt(const tk_ir_stmt *s, void *user) {
  uses_ctx *u = user;
  if (s->kind == TK_S_STORE && u->access) {
    u->access[s->arg] |= TK_ACC_WRITE;
    tk_ir_ix_mark_loads(s->ix, u->access);
  }
  if (s->kind == TK_S_IF && u->access) {
    tk_ir_ix_mark_loads(s->lhs, u->access);
    tk_ir_ix_mark_loads(s->rhs, u->access);
  }
  if (s->kind == TK_S_LOCAL_STORE && u->locals) u->locals[s->local] = true;
}

void tk_ir_stmt_uses(const tk_ir_stmt *s, int *access, bool *used_locals) {
  uses_ctx u = {access, used_locals};
  tk_ir_walk_stmts(s, use_stmt, &u);
  tk_ir_walk_vals(s, use_val, &u);
}

static void add(tk_ir_module *m, tk_ir_kernel *k, bool ensures, tk_ir_pred p, int a,
                const tk_ix *ix, int64_t n) {
  tk_ir_contract_add(m, &k->contracts, tk_ir_contract_make(ensures, p, a, -1, ix, 0, n));
}

void tk_ir_kernel_contracts(tk_ir_module *m, tk_ir_kernel *k, bool multi_phase,
                            const tk_ix *rows_written, const tk_ir_contract *extra, int nextra) {
  for (int i = 0; i < k->nargs; i++) {
    const tk_ir_arg *a = &k->args[i];
    add(m, k, false, TK_PRED_ROWS, i, a->rows, a->cols);
    if (a->role == TK_ROLE_IN) add(m, k, false, TK_PRED_READS_CLAMPED, i, NULL, 0);
  }
  for (int i = 0; i < k->nargs; i++) {
    const tk_ir_arg *a = &k->args[i];
    if (!(a->access & TK_ACC_WRITE)) continue;
    if (a->role == TK_ROLE_OUT)
      add(m, k, true, TK_PRED_WRITES_ROWS_LT, i, tk_ir_ix_sym(m, TK_SYM_B), 0);
    else if (rows_written)
      add(m, k, true, TK_PRED_WRITES_ROWS_LT, i, rows_written, 0);
    else
      add(m, k, true, TK_PRED_WRITES_ALL, i, NULL, 0);
    if (multi_phase && a->access == TK_ACC_READWRITE)
      add(m, k, true, TK_PRED_ROW_LOCAL, i, NULL, 0);
  }
  for (int i = 0; i < nextra; i++) {
    bool named = extra[i].pred == TK_PRED_DISPATCH ? extra[i].c >= 0 : extra[i].a >= 0;
    if (named && (extra[i].b >= 0 || extra[i].pred != TK_PRED_TOPK))
      tk_ir_contract_add(m, &k->contracts, extra[i]);
  }
}

bool tk_ir_pred_carried(tk_ir_pred p) {
  return p == TK_PRED_TOPK || p == TK_PRED_MASKED_SELECT || p == TK_PRED_DISPATCH;
}

int tk_ir_carried_contracts(const tk_ir_kernel *src, const int *arg_map, tk_ir_contract *out,
                            int cap) {
  int n = 0;
  for (int i = 0; i < src->contracts.n && n < cap; i++) {
    tk_ir_contract c = src->contracts.items[i];
    if (!tk_ir_pred_carried(c.pred)) continue;
    c.a = c.a >= 0 ? arg_map[c.a] : -1;
    c.b = c.b >= 0 ? arg_map[c.b] : -1;
    c.c = c.c >= 0 ? arg_map[c.c] : -1;
    out[n++] = c;
  }
  return n;
}

const tk_ix *tk_ir_data_rows_written(tk_ir_module *m, const tk_ir_kernel *src, const int *arg_map) {
  for (int i = 0; i < src->contracts.n; i++) {
    const tk_ir_contract *c = &src->contracts.items[i];
    if (c->ensures && c->pred == TK_PRED_WRITES_ROWS_LT && tk_ir_ix_uses_load(c->ix))
      return tk_ir_ix_map_args(m, c->ix, arg_map);
  }
  return NULL;
}
