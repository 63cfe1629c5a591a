/* tests/unit/verify_dataflow_test.c — the dataflow class on hand-made defective launch
 * sequences of models/nano (hidden_dim 128, so an expert state's row is 128 elements): each is
 * rejected (TK_PROOF_FAILED) by class dataflow with a counterexample naming both launches, the
 * buffer, the tensor and the values, and the values are checked against the defect:
 *   reuse clobber   expert_1's final state placed in expert_0's final-state buffer: a launch
 *                   between expert_0's producer and the combine stores the element it reads
 *   order           expert_0_in's gemm and norm launches swapped (gpu): producer after reader
 *   short producer  expert_0_in_norm (gpu) guarded to rows < B, its contract writes_rows_lt(B):
 *                   the next layer reads a padding row (>= B) nobody wrote
 *   no producer     expert_0_in's launches removed from the cpu list: its output is never written
 * The module is private to the test; defects are injected by editing it in place.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"
#include "verify/verify.h"

#define NANO_HIDDEN 128 /* models/nano.arch.json hidden_dim */

/* The integer after "label=" in msg, or -1. */
static long long value_of(const char *msg, const char *label) {
  char key[64];
  snprintf(key, sizeof key, "%s=", label);
  for (const char *p = strstr(msg, key); p; p = strstr(p + 1, key))
    if (p == msg || p[-1] == ' ' || p[-1] == ',') return atoll(p + strlen(key));
  return -1;
}

/* Verifies m (freed), expects a dataflow refutation holding every needle; returns the
 * counterexample (caller frees) or NULL. */
static char *refuted(const char *what, tk_ir_module *m, const char *const *needles) {
  if (!m) return NULL;
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, NULL, &r);
  CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED, "%s: expected a failed proof, got %s", what,
            s ? tk_status_message(s) : "all proved");
  char *msg = s ? strdup(tk_status_message(s)) : NULL;
  for (int i = 0; msg && needles[i]; i++)
    CHECK_MSG(strstr(msg, needles[i]), "%s: counterexample lacks '%s': %s", what, needles[i], msg);
  if (msg) fprintf(stderr, "%s rejected: %s\n", what, msg);
  tk_status_free(s);
  tk_verify_report_free(r);
  tk_ir_module_free(m);
  return msg;
}

static tk_ir_kernel *kernel(tk_ir_module *m, tk_ir_target t, const char *name) {
  tk_ir_kernel *k = m ? (tk_ir_kernel *)tk_ir_kernel_find(m, t, name) : NULL;
  CHECK_MSG(k, "kernel %s not found", name);
  return k;
}

static int position(const tk_ir_module *m, tk_ir_target t, const char *name) {
  const tk_ir_kernel_list *l = tk_ir_module_kernels(m, t);
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->items[i]->name, name)) return i;
  CHECK_MSG(0, "kernel %s not in the %s list", name, tk_ir_target_name(t));
  return -1;
}

static int buffer_named(const tk_ir_module *m, const char *tensor) {
  int t = tk_ir_tensor_find(m, tensor);
  for (int b = 0; t >= 0 && b < m->nbuffers; b++)
    for (int i = 0; i < m->buffers[b].ntensors; i++)
      if (m->buffers[b].tensors[i] == t) return b;
  CHECK_MSG(0, "no buffer holds %s", tensor);
  return -1;
}

/* Every argument (both schedules) for tensor `name` bound to buffer b. */
static void rebind(tk_ir_module *m, const char *name, int b) {
  int t = tk_ir_tensor_find(m, name), n = 0;
  for (int s = 0; s < TK_IR_NTARGETS; s++)
    for (int i = 0; i < m->targets[s].n; i++)
      for (int a = 0; a < m->targets[s].items[i]->nargs; a++)
        if (m->targets[s].items[i]->args[a].tensor == t) {
          m->targets[s].items[i]->args[a].buffer = b;
          n++;
        }
  CHECK_MSG(n > 0, "no argument for %s", name);
}

static void reuse_clobber(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  if (!m) return;
  int b = buffer_named(m, "expert_0.h_2");
  CHECK(b != buffer_named(m, "expert_1.h_2")); /* the planner keeps them apart */
  char want[64];
  snprintf(want, sizeof want, "@%s", m->buffers[b].name);
  rebind(m, "expert_1.h_2", b);
  char *msg =
      refuted("expert_1's final state in expert_0's buffer", m,
              (const char *[]){"kernel combine (gpu)", "class dataflow",
                               "launch expert_1_hidden_2_", "between expert_0_hidden_2_norm",
                               "%expert_1.h_2", want, "%expert_0.h_2", "B=", NULL});
  if (!msg) return;
  long long read = value_of(msg, "element read"), stored = value_of(msg, "element stored");
  long long B = value_of(msg, "B"), Bp = value_of(msg, "Bp");
  CHECK_MSG(read >= 0 && read == stored, "clobber: read %lld, stored %lld", read, stored);
  CHECK_MSG(B >= 1 && Bp >= B && read < Bp * NANO_HIDDEN, "clobber: B=%lld Bp=%lld element %lld", B,
            Bp, read);
  free(msg);
}

static void order_swapped(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  if (!m) return;
  int g = position(m, TK_TARGET_GPU, "expert_0_in_gemm"),
      n = position(m, TK_TARGET_GPU, "expert_0_in_norm");
  CHECK_MSG(g >= 0 && n == g + 1, "gemm at %d, norm at %d", g, n);
  if (g < 0 || n != g + 1) return tk_ir_module_free(m);
  tk_ir_kernel **items = m->targets[TK_TARGET_GPU].items;
  tk_ir_kernel *t = items[g];
  items[g] = items[n];
  items[n] = t;
  char want[96];
  snprintf(want, sizeof want, "producer position=%d, reader position=%d", n, g);
  free(refuted("gemm and norm launches swapped", m,
               (const char *[]){"kernel expert_0_in_norm (gpu)", "class dataflow",
                                "launch expert_0_in_gemm", "%expert_0.h_0", want, NULL}));
}

static void short_producer(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "expert_0_in_norm") : NULL;
  if (!k) return tk_ir_module_free(m);
  const tk_ir_stmt *wg = k->body, *t = wg->body;
  CHECK(t->kind == TK_S_FOR && t->body->kind == TK_S_IF);
  tk_ir_stmt *guard = (tk_ir_stmt *)t->body; /* if r < Bp  ->  if r < B */
  guard->rhs = tk_ir_ix_sym(m, TK_SYM_B);
  for (int i = 0; i < k->contracts.n; i++)
    if (k->contracts.items[i].pred == TK_PRED_WRITES_ALL) {
      k->contracts.items[i].pred = TK_PRED_WRITES_ROWS_LT;
      k->contracts.items[i].ix = guard->rhs;
    }
  char *msg =
      refuted("producer writes rows < B only", m,
              (const char *[]){"kernel expert_0_hidden_1_gemm (gpu)", "class dataflow",
                               "%expert_0.h_0", "rows < B", "launch expert_0_in_norm", NULL});
  if (!msg) return;
  long long read = value_of(msg, "element read"), B = value_of(msg, "B"), Bp = value_of(msg, "Bp");
  CHECK_MSG(B >= 1 && read >= B * NANO_HIDDEN && read < Bp * NANO_HIDDEN,
            "short producer: B=%lld Bp=%lld element %lld is not a padding row", B, Bp, read);
  free(msg);
}

static void no_producer(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_CPU);
  if (!m) return;
  tk_ir_kernel_list *l = &m->targets[TK_TARGET_CPU];
  static const char *const phases[] = {"expert_0_in_gemm", "expert_0_in_norm"};
  for (int i = 0; i < 2; i++) {
    int p = position(m, TK_TARGET_CPU, phases[i]);
    if (p < 0) return tk_ir_module_free(m);
    memmove(&l->items[p], &l->items[p + 1], sizeof *l->items * (size_t)(l->n - p - 1));
    l->n--;
  }
  free(refuted("expert_0_in never launched", m,
               (const char *[]){"kernel expert_0_hidden_1_gemm (cpu)", "class dataflow",
                                "%expert_0.h_0, which no launch writes", NULL}));
}

int main(void) {
  reuse_clobber();
  order_swapped();
  short_producer();
  no_producer();
  TEST_MAIN_END();
}
