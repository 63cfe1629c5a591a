/* tests/unit/ir_op_table_test.c — the op table (ir/op_table.c) instantiated on real graphs.
 * Expected dims come from the arch files (nano: input 96, hidden 128, output 20, 4 experts,
 * top-2; a custom out_in arch written here), not from the table:
 *   - a linear relates its output to its weight and its weight to its input, in the weight's
 *     layout (in_out: W [in, out]; out_in: W [out, in]);
 *   - moe_combine has one relation per expert input and says #experts == router width;
 *   - after padding, a clamped input stands for [Bp, C] and must itself have B rows; the
 *     router_weights output appended to topk_mask is a B-row slice of the gate;
 *   - every relation of every live op of nano, custom-small and dense holds at several B;
 *   - tk_ir_verify rejects a linear one column wider than its weight, a topk keep mask of the
 *     wrong element type, and an op with an operand missing.
 */
#include <stdio.h>
#include <string.h>

#include "compiler/tkc.h"
#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"

enum { MAX_FACTS = 64 };

typedef struct facts {
  int n;
  tk_ir_shape_fact items[MAX_FACTS];
} facts;

static void collect(const tk_ir_shape_fact *f, void *user) {
  facts *fs = user;
  if (fs->n < MAX_FACTS) fs->items[fs->n++] = *f;
}

static const tk_ir_op *find_op(const tk_ir_module *m, const char *name) {
  for (int i = 0; m && i < m->nops; i++)
    if (!m->ops[i].dead && !strcmp(m->ops[i].name, name)) return &m->ops[i];
  CHECK_MSG(false, "no live op %s", name);
  return NULL;
}

static facts facts_of(const tk_ir_module *m, const tk_ir_op *op) {
  facts fs = {0};
  if (op) CHECK_OK(tk_ir_op_shape_facts(m, op, collect, &fs));
  return fs;
}

/* The fact whose text ends with `rule`, evaluated at B: both sides and the tensors' names. */
static const tk_ir_shape_fact *fact(const tk_ir_module *m, const facts *fs, const char *rule) {
  for (int i = 0; i < fs->n; i++) {
    size_t n = strlen(fs->items[i].what), k = strlen(rule);
    if (n >= k && !strcmp(fs->items[i].what + n - k, rule)) return &fs->items[i];
  }
  CHECK_MSG(false, "no fact '%s' (%d facts, module at stage %s)", rule, fs->n,
            tk_ir_stage_name(m->stage));
  return NULL;
}

static void expect_fact(const tk_ir_module *m, const facts *fs, const char *rule, const char *lhs,
                        int64_t lhs_value, const char *rhs, int64_t rhs_value) {
  const tk_ir_shape_fact *f = fact(m, fs, rule);
  if (!f) return;
  char a[96], b[96];
  tk_ir_dim_format(m, &f->lhs, a, sizeof a);
  tk_ir_dim_format(m, &f->rhs, b, sizeof b);
  CHECK_MSG(!strcmp(a, lhs) && !strcmp(b, rhs), "%s: %s vs %s, expected %s vs %s", rule, a, b, lhs,
            rhs);
  int64_t B = 17; /* Bp = 32 */
  CHECK_MSG(
      tk_ir_dim_eval(m, &f->lhs, B) == lhs_value && tk_ir_dim_eval(m, &f->rhs, B) == rhs_value,
      "%s at B = 17: %lld vs %lld, expected %lld vs %lld", rule,
      (long long)tk_ir_dim_eval(m, &f->lhs, B), (long long)tk_ir_dim_eval(m, &f->rhs, B),
      (long long)lhs_value, (long long)rhs_value);
}

static void linear_in_out(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_GRAPH);
  const tk_ir_op *op = find_op(m, "expert_0_in.linear");
  facts fs = facts_of(m, op);
  CHECK_MSG(fs.n == 5, "linear: %d relations, expected 5 (rows, K, N, bias rows, bias cols)", fs.n);
  expect_fact(m, &fs, "out0.rows == in0.rows", "%expert_0.a_0.rows", 32, "%xp.rows", 32);
  expect_fact(m, &fs, "in1.rows == in0.cols", "%expert_0.param_0.rows", 96, "%xp.cols", 96);
  expect_fact(m, &fs, "out0.cols == in1.cols", "%expert_0.a_0.cols", 128, "%expert_0.param_0.cols",
              128);
  expect_fact(m, &fs, "in2.rows == 1", "%expert_0.param_1.rows", 1, "1", 1);
  tk_ir_module_free(m);
}

static void linear_out_in(void) {
  static const char arch_text[] =
      "{\"size\": \"Custom\", \"input_dim\": 12, \"hidden_dim\": 48, \"output_dim\": 20,"
      " \"n_experts\": 5, \"top_k\": 2, \"expert_depth\": 1, \"seed\": 7,"
      " \"weight_layout\": \"out_in\"}";
  tk_arch arch;
  tk_status s = tk_arch_parse(arch_text, strlen(arch_text), "out_in", &arch);
  CHECK_OK(s);
  if (s) return;
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  o.verify_each = true;
  o.stop_after = TK_STAGE_GRAPH;
  tk_ir_module *m = NULL;
  CHECK_OK(tkc_build_ir(&arch, &o, &m));
  facts fs = facts_of(m, find_op(m, "expert_0_in.linear"));
  expect_fact(m, &fs, "in1.cols == in0.cols", "%expert_0.param_0.cols", 12, "%xp.cols", 12);
  expect_fact(m, &fs, "out0.cols == in1.rows", "%expert_0.a_0.cols", 48, "%expert_0.param_0.rows",
              48);
  tk_ir_module_free(m);
}

static void combine(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_GRAPH);
  facts fs = facts_of(m, find_op(m, "combine.moe_combine"));
  /* keep rows/cols, #experts, rows and cols of each of the 4 experts, y rows */
  CHECK_MSG(fs.n == 12, "moe_combine: %d relations, expected 12", fs.n);
  expect_fact(m, &fs, "#variadic == in0.cols", "4", 4, "%router.gate.cols", 4);
  expect_fact(m, &fs, "in5.cols == out0.cols", "%expert_3.out.cols", 20, "%y.cols", 20);
  tk_ir_module_free(m);
}

static void padded(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_PADDED);
  facts fs = facts_of(m, find_op(m, "router.linear"));
  expect_fact(m, &fs, "out0.rows == in0.rows", "%router.logits.rows", 32, "Bp", 32);
  expect_fact(m, &fs, "in1.rows == in0.cols", "%router.param_0.rows", 96, "%x.cols", 96);
  expect_fact(m, &fs, "folded pad_rows of %x: pad_rows rule in0.rows == B", "%x.rows", 17, "B", 17);
  facts tk = facts_of(m, find_op(m, "router.topk_mask"));
  expect_fact(m, &tk, "folded slice_rows of %router_weights: slice_rows rule in0.cols == out0.cols",
              "%router.gate.cols", 4, "%router_weights.cols", 4);
  expect_fact(m, &tk, "folded slice_rows of %router_weights: slice_rows rule out0.rows == B",
              "%router_weights.rows", 17, "B", 17);
  expect_fact(m, &tk, "k <= in0.cols", "2", 2, "%router.probs.cols", 4);
  tk_ir_module_free(m);
}

/* Every relation of every live op holds at B = 1, 16, 17 and 1000, before and after padding. */
static void all_hold(const char *model, tk_ir_stage stage) {
  tk_ir_module *m = tk_test_build_ir(model, stage);
  int checked = 0;
  for (int i = 0; m && i < m->nops; i++) {
    if (m->ops[i].dead) continue;
    facts fs = facts_of(m, &m->ops[i]);
    for (int j = 0; j < fs.n; j++)
      for (int64_t B = 1; B <= 1000; B = B == 1 ? 16 : B == 16 ? 17 : 1001) {
        int64_t a = tk_ir_dim_eval(m, &fs.items[j].lhs, B),
                b = tk_ir_dim_eval(m, &fs.items[j].rhs, B);
        CHECK_MSG(fs.items[j].cmp == TK_CMP_EQ ? a == b : a <= b, "%s op %s: %s at B = %lld", model,
                  m->ops[i].name, fs.items[j].what, (long long)B);
        checked++;
      }
  }
  CHECK_MSG(checked > 40, "%s: only %d relations checked", model, checked);
  tk_ir_module_free(m);
}

/* tk_ir_verify runs the table at concrete B: each defect is reported with the op's name. */
static void verify_rejects(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_GRAPH);
  if (!m) return;
  tk_ir_op *lin = (tk_ir_op *)find_op(m, "expert_1_hidden_2.linear");
  tk_ir_tensor *y = lin ? &m->tensors[lin->out[0].tensor] : NULL;
  if (y) {
    const tk_ix *cols = y->dims[1];
    y->dims[1] = tk_ir_ix_const(m, 129);
    CHECK_ERR(tk_ir_verify(m), "op expert_1_hidden_2.linear: linear rule out0.cols == in1.cols");
    y->dims[1] = cols;
  }
  tk_ir_op *topk = (tk_ir_op *)find_op(m, "router.topk_mask");
  if (topk) {
    m->tensors[topk->out[1].tensor].type = TK_T_F32;
    CHECK_ERR(tk_ir_verify(m), "router.keep is f32, the op table says i32");
    m->tensors[topk->out[1].tensor].type = TK_T_I32;
  }
  tk_ir_op *ln = (tk_ir_op *)find_op(m, "expert_0_in.layernorm");
  if (ln) {
    ln->nin = 2;
    CHECK_ERR(tk_ir_verify(m), "op expert_0_in.layernorm: 2 inputs and 1 outputs");
    ln->nin = 3;
  }
  CHECK_OK(tk_ir_verify(m));
  tk_ir_module_free(m);
}

int main(void) {
  linear_in_out();
  linear_out_in();
  combine();
  padded();
  const char *models[] = {"nano", "custom-small", "dense"};
  for (int i = 0; i < 3; i++) {
    all_hold(models[i], TK_STAGE_GRAPH);
    all_hold(models[i], TK_STAGE_CPU);
  }
  verify_rejects();
  TEST_MAIN_END();
}
