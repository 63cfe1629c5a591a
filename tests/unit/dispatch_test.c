/* tests/unit/dispatch_test.c — class `dispatch` (verify/obl_dispatch.c) on a counting-sort
 * kernel built by hand with the ir.h builders, in nano's module (its batch rules), as sparse
 * dispatch will emit it:
 *   for e in 0..4 @cpu_block { m = 0; for r in 0..B serial { slot[r*4+e] = m;
 *                              m = m + keep[r*4+e] }; count[e] = m }
 * with ensures dispatch(%slot, keep = %keep, n = 4). The kernel is proved (entry, step, exit).
 * The defects the issue names are refuted, each by the obligation its meaning breaks: an
 * off-by-one prefix (slot = m + 1: step), a duplicated pair (the counter not advanced on a
 * kept row: step), a dropped pair (counting from 1: entry), capacity past B (count = m + 1:
 * exit), the guard inverted (counting the dropped rows: step); a kernel of another form is
 * refused. Expected outcomes follow from what a counting sort is, not from the class's code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/tkc.h"
#include "model/arch.h"
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
} defect;

static tk_ir_module *build_nano(void) {
  tk_arch arch;
  tk_status s = tk_arch_load("models/nano.arch.json", &arch);
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  tk_ir_module *m = NULL;
  if (!s) s = tkc_build_ir(&arch, &o, &m);
  CHECK_MSG(!s, "nano: %s", tk_status_message(s));
  tk_status_free(s);
  return m;
}

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
  return k;
}

static tk_status gen(tk_vctx *v, const void *user) {
  return tk_verify_obl_dispatch(v, (const tk_ir_kernel *)user);
}

/* Runs the class on the kernel with defect d: the status (NULL = proved) and, when proved, the
 * number of obligations. */
static tk_status run_class(defect d, size_t *n) {
  tk_ir_module *m = build_nano();
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
  CHECK_MSG(n == 3, "%zu dispatch obligations, want 3 (entry, step, exit)", n);
  tk_status_free(s);
  expect_refuted(SLOT_PLUS_1, "off-by-one prefix", "one step of the row loop");
  expect_refuted(NO_ADVANCE, "duplicated pair", "one step of the row loop");
  expect_refuted(START_AT_1, "dropped pair", "before the row loop");
  expect_refuted(COUNT_PLUS_1, "capacity past B", "0 <= %count[e] <= B");
  expect_refuted(COUNT_DROPPED, "guard inverted", "one step of the row loop");
  expect_refuted(NO_ROW_LOOP, "no row loop", "does not have the form");
  TEST_MAIN_END();
}
