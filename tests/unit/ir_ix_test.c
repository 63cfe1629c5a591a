/* tests/unit/ir_ix_test.c — index expressions: folding, floor div/mod, bounds, substitution,
 * text form, index reads (TK_IX_LOAD). Expected values are worked out by hand, not taken from the code. */
#include <stdint.h>

#include "ir/ir.h"
#include "tests/unit/test.h"

static tk_ir_module *module(void) {
  tk_arch arch = {0};
  tk_ir_module *m = NULL;
  CHECK_OK(tk_ir_module_create(&arch, NULL, &m));
  return m;
}

static void text_is(const tk_ix *e, const char *want) {
  char buf[256];
  tk_ir_ix_format(e, buf, sizeof buf);
  CHECK_MSG(!strcmp(buf, want), "got \"%s\", want \"%s\"", buf, want);
}

static void test_folding(tk_ir_module *m) {
  const tk_ir_var *r = tk_ir_var_new(m, "r", NULL);
  const tk_ix *x = tk_ir_ix_var(m, r);
  CHECK(tk_ir_ix_add(m, x, tk_ir_ix_const(m, 0)) == x);
  CHECK(tk_ir_ix_mul(m, x, 1) == x);
  CHECK(tk_ir_ix_div(m, tk_ir_ix_mul(m, x, 16), 16) == x);
  const tk_ix *z = tk_ir_ix_mod(m, tk_ir_ix_mul(m, x, 32), 16);
  CHECK(z->kind == TK_IX_CONST && z->c == 0);
  const tk_ix *s = tk_ir_ix_add(m, tk_ir_ix_const(m, 3), tk_ir_ix_const(m, 4));
  CHECK(s->kind == TK_IX_CONST && s->c == 7);
  const tk_ix *nested =
      tk_ir_ix_add(m, tk_ir_ix_add(m, x, tk_ir_ix_const(m, 5)), tk_ir_ix_const(m, -2));
  text_is(nested, "r + 3");
  CHECK(tk_ir_ix_sub(m, x, x)->kind == TK_IX_CONST);
  CHECK(tk_ir_ix_min(m, tk_ir_ix_const(m, 4), tk_ir_ix_const(m, 9))->c == 4);
  CHECK(tk_ir_ix_max(m, tk_ir_ix_const(m, 4), tk_ir_ix_const(m, 9))->c == 9);
}

static void test_eval(tk_ir_module *m) {
  const tk_ir_var *r = tk_ir_var_new(m, "r", NULL);
  const tk_ir_var *k = tk_ir_var_new(m, "k", NULL);
  int64_t vals[8] = {0};
  tk_ix_env env = {.B = 17, .Bp = 32, .vals = vals};
  const tk_ix *clamp =
      tk_ir_ix_rowmajor(m, tk_ir_ix_clamp_row(m, tk_ir_ix_var(m, r)), 96, tk_ir_ix_var(m, k));
  vals[r->id] = 20;
  vals[k->id] = 5;
  CHECK(tk_ir_ix_eval(clamp, &env) == 16 * 96 + 5);
  vals[r->id] = 3;
  CHECK(tk_ir_ix_eval(clamp, &env) == 3 * 96 + 5);
  vals[r->id] = -7; /* floor semantics on negatives */
  CHECK(tk_ir_ix_eval(tk_ir_ix_div(m, tk_ir_ix_var(m, r), 2), &env) == -4);
  CHECK(tk_ir_ix_eval(tk_ir_ix_mod(m, tk_ir_ix_var(m, r), 2), &env) == 1);
  CHECK(tk_ir_ix_bp_of(1) == 16 && tk_ir_ix_bp_of(16) == 16 && tk_ir_ix_bp_of(17) == 32 &&
        tk_ir_ix_bp_of(65536) == 65536);
  text_is(clamp, "min(r, B - 1) * 96 + k");
  const tk_ix *g = tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_var(m, r), 256), tk_ir_ix_var(m, k));
  text_is(tk_ir_ix_div(m, g, 128), "(r * 256 + k) div 128");
  text_is(tk_ir_ix_sub(m, tk_ir_ix_var(m, r),
                       tk_ir_ix_add(m, tk_ir_ix_var(m, k), tk_ir_ix_const(m, 1))),
          "r - (k + 1)");
}

static void test_bounds_and_subst(tk_ir_module *m) {
  const tk_ir_var *r = tk_ir_var_new(m, "r", NULL);
  const tk_ir_var *t = tk_ir_var_new(m, "t", NULL);
  tk_ix_range vr[16] = {{0, 0}};
  vr[r->id] = (tk_ix_range){0, tk_ir_ix_bp_of(65536) - 1};
  tk_ix_range b = tk_ir_ix_bounds(
      tk_ir_ix_rowmajor(m, tk_ir_ix_clamp_row(m, tk_ir_ix_var(m, r)), 96, tk_ir_ix_const(m, 95)),
      65536, vr);
  CHECK(b.lo == 95);
  CHECK(b.hi == 65535LL * 96 + 95);
  b = tk_ir_ix_bounds(tk_ir_ix_mod(m, tk_ir_ix_var(m, r), 64), 65536, vr);
  CHECK(b.lo == 0 && b.hi == 63);
  const tk_ir_var *from[1] = {r};
  const tk_ix *to[1] = {
      tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_var(m, t), 4), tk_ir_ix_const(m, 1))};
  tk_ir_subst s = {1, from, to};
  const tk_ix *e =
      tk_ir_ix_subst(m, tk_ir_ix_rowmajor(m, tk_ir_ix_var(m, r), 10, tk_ir_ix_const(m, 2)), &s);
  int64_t vals[16] = {0};
  vals[t->id] = 3;
  tk_ix_env env = {.B = 1, .Bp = 16, .vals = vals};
  CHECK(tk_ir_ix_eval(e, &env) == (3 * 4 + 1) * 10 + 2);
  CHECK(!tk_ir_ix_uses_var(e, r) && tk_ir_ix_uses_var(e, t));
}

/* An index read: element i of argument 3 is 10 * i + 7 here (the reader below). */
static int64_t arg3_element(const void *ctx, int arg, int64_t i) {
  *(int *)ctx += 1;
  return arg == 3 ? 10 * i + 7 : -1;
}

static void test_index_read(tk_ir_module *m) {
  const tk_ir_var *r = tk_ir_var_new(m, "r", NULL), *e = tk_ir_var_new(m, "e", NULL);
  const tk_ix *at = tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_var(m, r), 4), tk_ir_ix_var(m, e));
  const tk_ix *slot = tk_ir_ix_load(m, 3, "slot", at);
  const tk_ix *row = tk_ir_ix_rowmajor(m, slot, 128, tk_ir_ix_var(m, e));
  text_is(row, "%slot[r * 4 + e] * 128 + e");
  int reads = 0;
  int64_t vals[64] = {0};
  vals[r->id] = 2;
  vals[e->id] = 1;
  tk_ix_env env = {.B = 5, .Bp = 16, .vals = vals, .load = arg3_element, .load_ctx = &reads};
  CHECK(tk_ir_ix_eval(row, &env) == (10 * 9 + 7) * 128 + 1 && reads == 1);
  env.load = NULL; /* no reader: a read is 0 */
  CHECK(tk_ir_ix_eval(row, &env) == 1);
  CHECK(tk_ir_ix_uses_load(row) && !tk_ir_ix_uses_load(at));
  CHECK(tk_ir_ix_uses_var(row, r) && !tk_ir_ix_uses_sym(row, TK_SYM_B));
  CHECK(tk_ir_ix_equal(slot, tk_ir_ix_load(m, 3, "slot", at)));
  CHECK(!tk_ir_ix_equal(slot, tk_ir_ix_load(m, 4, "slot", at)));
  /* nothing is known of the data: any i32 */
  tk_ix_range vr[64] = {{0, 0}};
  tk_ix_range b = tk_ir_ix_bounds(slot, 64, vr);
  CHECK(b.lo == INT32_MIN && b.hi == INT32_MAX);
  const tk_ix *to[] = {tk_ir_ix_const(m, 6)};
  const tk_ir_var *from[] = {r};
  tk_ir_subst sub = {1, from, to};
  text_is(tk_ir_ix_subst(m, row, &sub), "%slot[e + 24] * 128 + e");
  CHECK(tk_ir_ix_load(m, 3, "slot", NULL) == NULL);
}

int main(void) {
  tk_ir_module *m = module();
  if (m) {
    test_folding(m);
    test_eval(m);
    test_bounds_and_subst(m);
    test_index_read(m);
    CHECK_OK(tk_ir_module_status(m));
  }
  tk_ir_module_free(m);
  TEST_MAIN_END();
}
