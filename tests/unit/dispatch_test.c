/* tests/unit/dispatch_test.c — class `dispatch` (verify/obl_dispatch.c) on a counting-sort
 * kernel built by hand with the ir.h builders, in nano's module (its batch rules), as sparse
 * dispatch will emit it:
 *   for e in 0..4 @cpu_block { m = 0; for r in 0..B serial { slot[r*4+e] = m;
 *                              m = m + keep[r*4+e] }; count[e] = m }
 * with ensures dispatch(%slot, keep = %keep, n = 4). The kernel is proved (entry, step, exit).
 * The defects the issue names are refuted, each by the obligation its meaning breaks: an
 * off-by-one prefix (slot = m + 1: step), a duplicated pair (the counter not advanced on a
 * kept row: step), a dropped pair (counting from 1: entry), capacity past B (count = m + 1:
 * exit), the guard inverted (counting the dropped rows: step), a store to the next row's slot
 * too (separation: what expert e stores, which the race class leaves to this one); a kernel of
 * another form is refused. Expected outcomes follow from what a counting sort is, not from the class's code.
 * A kernel that requires the dispatch (the list scatter, list[%slot[r*4+e]*4 + e] = r where
 * %keep[r*4+e] > 0) gets its facts: bounds and race are proved; without the contract, or
 * without the guard, the slot read is unbounded and bounds refutes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"
#include "verify/verify_internal.h"

enum { E = 4 };

typedef enum defect {
  SOUND,
  SLOT_PLUS_1,   /* slot[r] = m + 1 */
  NO_ADVANCE,    /* m = m + 0 */
  START_AT_1,    /* m = 1 before the loop */
  COUNT_PLUS_1,  /* count[e] = m + 1 */
  COUNT_DROPPED, /* m = m + (1 - keep) */
  NO_ROW_LOOP,   /* the row loop replaced by one row */
  NEXT_ROW_TOO,  /* also slot[(r+1)*4+e] = m: the invariant survives (row r+1 overwrites it),
                    but the store leaves row r's place (and, at r = B - 1, the rows < B) */
  MANY_STORES,   /* the slot store 17 times over: more stores than separation checks, refused
                    (never some of them left unchecked) */
} defect;

static int add_arg(tk_ir_module *m, tk_ir_kernel *k, const char *name, const tk_ix *rows,
                   int64_t cols, tk_ir_access acc) {
  int t = tk_ir_tensor_add(m, name, TK_TENSOR_INTERMEDIATE, TK_T_I32, rows, cols);
  int a = tk_ir_kernel_arg(m, k, t, TK_ROLE_SCRATCH, acc);
  k->args[a].buffer = a;
  return a;
}

static const tk_ir_val *I32(tk_ir_module *m, int64_t c) { return tk_ir_val_i32(m, c); }

static tk_ir_kernel *build_dispatch(tk_ir_module *m, defect d) {
  tk_ir_kernel *k = tk_ir_kernel_new(m, TK_TARGET_CPU, "dispatch");
  const tk_ix *Bp = tk_ir_ix_sym(m, TK_SYM_BP), *one_row = tk_ir_ix_const(m, 1);
  int keep = add_arg(m, k, "keep", Bp, E, TK_ACC_READ);
  int slot = add_arg(m, k, "slot", Bp, E, TK_ACC_WRITE);
  int count = add_arg(m, k, "count", one_row, E, TK_ACC_WRITE);
  int ml = tk_ir_kernel_local(m, k, "m", TK_T_I32, 1);
  const tk_ir_var *e = tk_ir_var_new(m, "e", NULL), *r = tk_ir_var_new(m, "r", NULL);
  const tk_ix *zero = tk_ir_ix_const(m, 0);
  const tk_ix *at = tk_ir_ix_rowmajor(m, tk_ir_ix_var(m, r), E, tk_ir_ix_var(m, e));
  const tk_ir_val *mv = tk_ir_val_lload(m, k, ml, zero);
  const tk_ir_val *kv = tk_ir_val_load(m, k, keep, at);
  const tk_ir_val *step = d == NO_ADVANCE      ? I32(m, 0)
                          : d == COUNT_DROPPED ? tk_ir_val_bin(m, TK_V_SUB, I32(m, 1), kv)
                                               : kv;
  tk_ir_stmt *rows = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(
      m, rows,
      tk_ir_stmt_store(m, slot, at,
                       d == SLOT_PLUS_1 ? tk_ir_val_bin(m, TK_V_ADD, mv, I32(m, 1)) : mv));
  for (int copy = 0; d == MANY_STORES && copy < 16; copy++)
    tk_ir_stmt_block_add(m, rows, tk_ir_stmt_store(m, slot, at, mv));
  if (d == NEXT_ROW_TOO) {
    const tk_ix *next = tk_ir_ix_add(m, tk_ir_ix_var(m, r), tk_ir_ix_const(m, 1));
    tk_ir_stmt_block_add(
        m, rows, tk_ir_stmt_store(m, slot, tk_ir_ix_rowmajor(m, next, E, tk_ir_ix_var(m, e)), mv));
  }
  tk_ir_stmt_block_add(m, rows,
                       tk_ir_stmt_lstore(m, ml, zero, tk_ir_val_bin(m, TK_V_ADD, mv, step)));
  const tk_ir_stmt *loop = d == NO_ROW_LOOP ? (const tk_ir_stmt *)rows
                                            : tk_ir_stmt_for(m, r, tk_ir_ix_sym(m, TK_SYM_B),
                                                             TK_LOOP_SERIAL, TK_BIND_NONE, rows);
  tk_ir_stmt *body = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, body, tk_ir_stmt_lstore(m, ml, zero, I32(m, d == START_AT_1 ? 1 : 0)));
  tk_ir_stmt_block_add(m, body, loop);
  tk_ir_stmt_block_add(
      m, body,
      tk_ir_stmt_store(m, count, tk_ir_ix_var(m, e),
                       d == COUNT_PLUS_1 ? tk_ir_val_bin(m, TK_V_ADD, mv, I32(m, 1)) : mv));
  k->launch.grid = tk_ir_ix_const(m, E);
  k->launch.workgroup_size = 1;
  k->launch.block_rows = 1;
  k->index_bits = 32;
  k->body = tk_ir_stmt_for(m, e, k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_CPU_BLOCK, body);
  tk_ir_contract_add(m, &k->contracts,
                     tk_ir_contract_make(true, TK_PRED_DISPATCH, slot, keep, NULL, 0, E));
  k->contracts.items[k->contracts.n - 1].c = count;
  return k;
}

/* ---- the kernels after the dispatch, which assume its facts ---- */

typedef enum consumer {
  SCATTER,         /* list[%slot[r*4+e]*4 + e] = r where %keep[r*4+e] > 0 */
  SCATTER_NO_REQ,  /* the same without `requires dispatch` */
  SCATTER_NO_GUARD /* the same for every row, kept or not */
} consumer;

/* for rb @cpu_block { for rr { if r < B { for e parallel { [if %keep[r*4+e] > 0]
 * { list[%slot[r*4+e] * 4 + e] = r } } } } } */
static tk_ir_kernel *build_scatter(tk_ir_module *m, consumer how) {
  tk_ir_kernel *k = tk_ir_kernel_new(m, TK_TARGET_CPU, "scatter");
  const tk_ix *Bp = tk_ir_ix_sym(m, TK_SYM_BP), *B = tk_ir_ix_sym(m, TK_SYM_B);
  int keep = add_arg(m, k, "keep", Bp, E, TK_ACC_READ);
  int slot = add_arg(m, k, "slot", Bp, E, TK_ACC_READ);
  int count = add_arg(m, k, "count", tk_ir_ix_const(m, 1), E, TK_ACC_READ);
  int list = add_arg(m, k, "list", Bp, E, TK_ACC_WRITE);
  const tk_ir_var *rb = tk_ir_var_new(m, "rb", NULL), *rr = tk_ir_var_new(m, "rr", NULL);
  const tk_ir_var *e = tk_ir_var_new(m, "e", NULL);
  const tk_ix *r = tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_var(m, rb), 16), tk_ir_ix_var(m, rr));
  const tk_ix *at = tk_ir_ix_rowmajor(m, r, E, tk_ir_ix_var(m, e));
  const tk_ix *place =
      tk_ir_ix_rowmajor(m, tk_ir_ix_load(m, slot, "slot", at), E, tk_ir_ix_var(m, e));
  const tk_ir_stmt *store = tk_ir_stmt_store(m, list, place, tk_ir_val_index(m, r));
  if (how != SCATTER_NO_GUARD)
    store = tk_ir_stmt_if(m, tk_ir_ix_load(m, keep, "keep", at), TK_CMP_GT, tk_ir_ix_const(m, 0),
                          store);
  const tk_ir_stmt *experts =
      tk_ir_stmt_for(m, e, tk_ir_ix_const(m, E), TK_LOOP_PARALLEL, TK_BIND_NONE, store);
  const tk_ir_stmt *rows = tk_ir_stmt_for(m, rr, tk_ir_ix_const(m, 16), TK_LOOP_SERIAL,
                                          TK_BIND_NONE, tk_ir_stmt_if(m, r, TK_CMP_LT, B, experts));
  k->launch.grid = tk_ir_ix_div(m, Bp, 16);
  k->launch.workgroup_size = 1;
  k->launch.block_rows = 16;
  k->index_bits = 32;
  k->body = tk_ir_stmt_for(m, rb, k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_CPU_BLOCK, rows);
  if (how != SCATTER_NO_REQ) {
    tk_ir_contract_add(m, &k->contracts,
                       tk_ir_contract_make(false, TK_PRED_DISPATCH, slot, keep, NULL, 0, E));
    k->contracts.items[k->contracts.n - 1].c = count;
  }
  return k;
}

static tk_status gen(tk_vctx *v, const void *user) {
  return tk_verify_obl_dispatch(v, (const tk_ir_kernel *)user);
}

static tk_status gen_consumer(tk_vctx *v, const void *user) {
  const tk_ir_kernel *k = user;
  v->kernel = k;
  tk_status s = tk_verify_obl_bounds(v, k);
  if (!s) s = tk_verify_obl_race(v, k);
  v->kernel = NULL;
  return s;
}

static tk_status run_consumer(consumer how) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  if (!m) return tk_status_make(TK_INTERNAL, "no module");
  tk_ir_kernel *k = build_scatter(m, how);
  tk_verify_options o;
  tk_verify_options_default(&o);
  tk_status s = tk_ir_verify(m);
  if (!s) s = tk_verify_run_into(m, &o, NULL, gen_consumer, k);
  tk_ir_module_free(m);
  return s;
}

static void check_consumers(void) {
  tk_status s = run_consumer(SCATTER);
  CHECK_MSG(!s, "the list scatter with the dispatch's facts: %s", tk_status_message(s));
  tk_status_free(s);
  for (consumer how = SCATTER_NO_REQ; how <= SCATTER_NO_GUARD; how++) {
    s = run_consumer(how);
    const char *msg = s ? tk_status_message(s) : "proved";
    CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && strstr(msg, "kernel scatter (cpu)") &&
                  strstr(msg, "%slot[...]"),
              "scatter %s: want a refutation showing the slot read, got: %s",
              how == SCATTER_NO_REQ ? "without the facts" : "without the guard", msg);
    fprintf(stderr, "scatter %s: %.300s\n",
            how == SCATTER_NO_REQ ? "without the facts" : "unguarded", msg);
    tk_status_free(s);
  }
}

/* Runs the class on the kernel with defect d: the status (NULL = proved) and, when proved, the
 * number of obligations. */
static tk_status run_class(defect d, size_t *n) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  if (!m) return tk_status_make(TK_INTERNAL, "no module");
  tk_ir_kernel *k = build_dispatch(m, d);
  tk_verify_options o;
  tk_verify_options_default(&o);
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_report_create(&r);
  if (!s) s = tk_verify_run_into(m, &o, r, gen, k);
  *n = r ? tk_verify_report_count(r) : 0;
  tk_verify_report_free(r);
  tk_ir_module_free(m);
  return s;
}

static void expect_refuted(defect d, const char *name, const char *needle) {
  size_t n = 0;
  tk_status s = run_class(d, &n);
  const char *msg = s ? tk_status_message(s) : "proved";
  CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED && strstr(msg, "class dispatch") &&
                strstr(msg, "kernel dispatch (cpu)") && strstr(msg, needle),
            "%s: want a dispatch refutation mentioning `%s`, got: %s", name, needle, msg);
  fprintf(stderr, "%s: %.300s\n", name, msg);
  tk_status_free(s);
}

int main(void) {
  size_t n = 0;
  tk_status s = run_class(SOUND, &n);
  CHECK_MSG(!s, "the counting sort: %s", tk_status_message(s));
  CHECK_MSG(n == 4, "%zu dispatch obligations, want 4 (entry, step, exit, separation)", n);
  tk_status_free(s);
  expect_refuted(SLOT_PLUS_1, "off-by-one prefix", "one step of the row loop");
  expect_refuted(NO_ADVANCE, "duplicated pair", "one step of the row loop");
  expect_refuted(START_AT_1, "dropped pair", "before the row loop");
  expect_refuted(COUNT_PLUS_1, "capacity past B", "0 <= %count[e] <= B");
  expect_refuted(COUNT_DROPPED, "guard inverted", "one step of the row loop");
  expect_refuted(NO_ROW_LOOP, "no row loop", "does not have the form");
  expect_refuted(NEXT_ROW_TOO, "a store to the next row", "stores only %slot[r * 4 + e]");
  expect_refuted(MANY_STORES, "17 slot stores", "more than 16 stores");
  check_consumers();
  TEST_MAIN_END();
}
