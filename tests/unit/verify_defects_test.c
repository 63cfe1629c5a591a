/* tests/unit/verify_defects_test.c — hand-made defects in the scheduled IR of real models,
 * each rejected (TK_PROOF_FAILED) with a counterexample that names the kernel, the target, the
 * class and the values (B=...). At least one per class:
 *   bounds       a store index off by one (gpu gemm); the min(r, B - 1) clamp dropped (cpu)
 *   padding      Bp padded to 8 instead of 16 (the module's bp_padded rule)
 *   no_overflow  index_bits 32 where Bmax = 2^27 needs 64
 *   race         two threads writing one element; a grid one workgroup short (coverage);
 *                a grid that disagrees with the workgroup loop (launch)
 *   topk         `>=` instead of `>` in the scan (ties to the higher index); keeping K + 1;
 *                a dropped weight left non-zero; a second loop after the output loop storing
 *                the unmasked probabilities (and, proved, an identical copy: covered); keep and
 *                weights stored before it (refused); f32 arithmetic (p + 0) on the probabilities (refused)
 *   shape        an op requiring B rows of a tensor produced with Bp rows; a linear whose
 *                output is one column wider than its weight (the linear_out_plus_1 mutant)
 * The defects are injected by rewriting IR nodes in place (the module is private to the test).
 */
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "compiler/tkc.h"
#include "tests/unit/test.h"
#include "verify/mutants.h"
#include "verify/verify.h"

static tk_ir_module *build(const char *model, int64_t bmax) {
  char path[256];
  snprintf(path, sizeof path, "models/%s.arch.json", model);
  tk_arch arch;
  tk_status s = tk_arch_load(path, &arch);
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  if (bmax) o.ir.bmax = bmax;
  tk_ir_module *m = NULL;
  if (!s) s = tkc_build_ir(&arch, &o, &m);
  CHECK_MSG(!s, "%s: %s", model, tk_status_message(s));
  tk_status_free(s);
  return m;
}

/* Verifies m, expects a refutation whose message holds every needle; frees m. */
static void expect_refuted(const char *what, tk_ir_module *m, const char *const *needles) {
  if (!m) return;
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, NULL, &r);
  CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED, "%s: expected a failed proof, got %s", what,
            s ? tk_status_message(s) : "all proved");
  for (int i = 0; s && needles[i]; i++)
    CHECK_MSG(strstr(tk_status_message(s), needles[i]), "%s: counterexample lacks '%s': %s", what,
              needles[i], tk_status_message(s));
  if (s) fprintf(stderr, "%s rejected: %s\n", what, tk_status_message(s));
  tk_status_free(s);
  tk_verify_report_free(r);
  tk_ir_module_free(m);
}

/* ---- finding and rewriting IR nodes ---- */

typedef struct finder {
  tk_ir_stmt_kind kind;
  const char *var; /* FOR: variable name, or NULL */
  int nth, seen;
  const tk_ir_stmt *found;
} finder;

static void find_fn(const tk_ir_stmt *s, void *user) {
  finder *f = user;
  if (f->found || s->kind != f->kind || (f->var && strcmp(s->var->name, f->var))) return;
  if (f->seen++ == f->nth) f->found = s;
}

static tk_ir_stmt *find_stmt(const tk_ir_kernel *k, tk_ir_stmt_kind kind, const char *var,
                             int nth) {
  finder f = {kind, var, nth, 0, NULL};
  if (k) tk_ir_walk_stmts(k->body, find_fn, &f);
  CHECK_MSG(f.found, "statement not found in kernel %s", k ? k->name : "(none)");
  return (tk_ir_stmt *)f.found;
}

static tk_ir_kernel *kernel(tk_ir_module *m, tk_ir_target t, const char *name) {
  tk_ir_kernel *k = m ? (tk_ir_kernel *)tk_ir_kernel_find(m, t, name) : NULL;
  CHECK_MSG(k, "kernel %s not found", name);
  return k;
}

/* A copy of e with every min(x, B - 1) replaced by x. */
static const tk_ix *drop_clamp(tk_ir_module *m, const tk_ix *e) {
  if (!e || !e->a) return e;
  if (e->kind == TK_IX_MIN && e->b->kind == TK_IX_SUB && e->b->a->kind == TK_IX_SYM)
    return drop_clamp(m, e->a);
  tk_ix *c = tk_ir_alloc(m, sizeof *c);
  *c = *e;
  c->a = drop_clamp(m, e->a);
  c->b = drop_clamp(m, e->b);
  return c;
}

/* A copy of a value tree with every `from` operation replaced by `to`. */
static const tk_ir_val *swap_op(tk_ir_module *m, const tk_ir_val *v, tk_ir_vop from, tk_ir_vop to) {
  if (!v) return NULL;
  tk_ir_val *c = tk_ir_alloc(m, sizeof *c);
  *c = *v;
  if (c->op == from) c->op = to;
  c->a = swap_op(m, v->a, from, to);
  c->b = swap_op(m, v->b, from, to);
  c->c = swap_op(m, v->c, from, to);
  return c;
}

/* ---- the defects ---- */

static void bounds_off_by_one(void) {
  tk_ir_module *m = build("nano", 0);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "expert_0_hidden_1_gemm") : NULL;
  tk_ir_stmt *st = find_stmt(k, TK_S_STORE, NULL, 0);
  if (st) st->ix = tk_ir_ix_add(m, st->ix, tk_ir_ix_const(m, 1));
  expect_refuted("store index off by one", m,
                 (const char *[]){"kernel expert_0_hidden_1_gemm (gpu)", "class bounds",
                                  "B=", "index=", "size=", NULL});
}

static void bounds_missing_clamp(void) {
  tk_ir_module *m = build("nano", 0);
  /* the gpu schedule's: it computes all Bp rows, the cpu schedule only rows < B, where the
   * clamp is r itself */
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "expert_2_in_gemm") : NULL;
  /* the load of the caller's input x inside the first reduction loop k */
  tk_ir_stmt *st = find_stmt(k, TK_S_FOR, "k", 0);
  tk_ir_stmt *inner = st ? (tk_ir_stmt *)st->body : NULL;
  while (inner && inner->kind != TK_S_LOCAL_STORE)
    inner = (tk_ir_stmt *)(inner->kind == TK_S_BLOCK ? inner->stmts[0] : inner->body);
  tk_ir_val *fma = inner ? (tk_ir_val *)inner->value : NULL;
  CHECK(fma && fma->op == TK_V_FMA && fma->a->op == TK_V_LOAD);
  if (fma && fma->op == TK_V_FMA) {
    tk_ir_val *load = tk_ir_alloc(m, sizeof *load);
    *load = *fma->a;
    load->ix = drop_clamp(m, load->ix);
    fma->a = load;
  }
  expect_refuted("missing clamp", m,
                 (const char *[]){"kernel expert_2_in_gemm (gpu)", "%x", "B=", "row=", NULL});
}

static void padding_wrong_bp(void) {
  tk_ir_module *m = build("nano", 0);
  for (int i = 0; m && i < m->contracts.n; i++)
    if (m->contracts.items[i].pred == TK_PRED_BP_PADDED) m->contracts.items[i].n = 8;
  expect_refuted("Bp padded to 8", m,
                 (const char *[]){"kernel module (graph)", "class padding", "B=", "Bp=", NULL});
}

static void overflow_narrow(void) {
  tk_ir_module *m = build("nano", (int64_t)1 << 27);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "expert_1_in_gemm") : NULL;
  CHECK(k && k->index_bits == 64);
  if (k) k->index_bits = 32;
  expect_refuted(
      "index_bits too narrow", m,
      (const char *[]){"kernel expert_1_in_gemm (gpu)", "class no_overflow", "B=", NULL});
}

static void race_overlap(void) {
  tk_ir_module *m = build("nano", 0);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "expert_3_in_gemm") : NULL;
  tk_ir_stmt *st = find_stmt(k, TK_S_STORE, NULL, 0);
  const tk_ir_stmt *t = find_stmt(k, TK_S_FOR, "t", 0);
  if (st && t) { /* t -> 2 * (t div 2): threads 2i and 2i+1 write one element */
    const tk_ix *half = tk_ir_ix_mul(m, tk_ir_ix_div(m, tk_ir_ix_var(m, t->var), 2), 2);
    tk_ir_subst sub = {1, (const tk_ir_var *[]){t->var}, (const tk_ix *[]){half}};
    st->ix = tk_ir_ix_subst(m, st->ix, &sub);
  }
  expect_refuted("two threads write one element", m,
                 (const char *[]){"kernel expert_3_in_gemm (gpu)", "class race", "t=", NULL});
}

static void race_grid_short(bool loop_too) {
  tk_ir_module *m = build("nano", 0);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "expert_0_in_norm") : NULL;
  tk_ir_stmt *wg = find_stmt(k, TK_S_FOR, "wg", 0);
  if (k && wg) {
    k->launch.grid = tk_ir_ix_sub(m, k->launch.grid, tk_ir_ix_const(m, 1));
    if (loop_too) wg->extent = k->launch.grid;
  }
  expect_refuted(loop_too ? "grid one workgroup short" : "grid disagrees with its loop", m,
                 (const char *[]){"kernel expert_0_in_norm (gpu)", "class race",
                                  loop_too ? "coverage" : "launch", "B=", NULL});
}

static void topk_ties_high(void) {
  tk_ir_module *m = build("custom-small", 0);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_CPU, "router") : NULL;
  int cand = -1;
  for (int i = 0; k && i < k->nlocals; i++)
    if (!strcmp(k->locals[i].name, "cand")) cand = i;
  for (int n = 0; cand >= 0; n++) {
    tk_ir_stmt *st = find_stmt(k, TK_S_LOCAL_STORE, NULL, n);
    if (!st) break;
    if (st->local == cand) {
      st->value = swap_op(m, st->value, TK_V_GT, TK_V_GE);
      break;
    }
  }
  expect_refuted(">= in the scan", m,
                 (const char *[]){"kernel router (cpu)", "class topk", "scan", NULL});
}

static void topk_keeps_k_plus_1(void) {
  tk_ir_module *m = build("nano", 0);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "router") : NULL;
  for (int n = 0; k; n++) {
    tk_ir_stmt *st = find_stmt(k, TK_S_FOR, NULL, n);
    if (!st) break;
    if (st->loop == TK_LOOP_SERIAL && st->extent->kind == TK_IX_CONST &&
        st->extent->c == m->arch.top_k) {
      st->extent = tk_ir_ix_const(m, m->arch.top_k + 1);
      break;
    }
  }
  expect_refuted("keeping K + 1", m,
                 (const char *[]){"kernel router (gpu)", "class topk", "selection steps=3", NULL});
}

static void topk_dropped_nonzero(void) {
  tk_ir_module *m = build("nano", 0);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "router") : NULL;
  int gate = -1;
  for (int i = 0; k && i < k->nargs; i++)
    if (!strcmp(k->args[i].name, "router.gate")) gate = i;
  for (int n = 0; gate >= 0; n++) {
    tk_ir_stmt *st = find_stmt(k, TK_S_STORE, NULL, n);
    if (!st) break;
    if (st->arg == gate && st->value->op == TK_V_SELECT) {
      tk_ir_val *v = tk_ir_alloc(m, sizeof *v);
      *v = *st->value;
      v->c = v->b; /* select(taken, p, p): the dropped weight is p, not 0 */
      st->value = v;
      break;
    }
  }
  expect_refuted("dropped weight non-zero", m,
                 (const char *[]){"kernel router (gpu)", "class topk", "value=", NULL});
}

/* Verifies m and expects every obligation proved; frees m. */
static void expect_proved(const char *what, tk_ir_module *m) {
  if (!m) return;
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, NULL, &r);
  CHECK_MSG(!s, "%s: expected every obligation proved, got %s", what, tk_status_message(s));
  tk_status_free(s);
  tk_verify_report_free(r);
  tk_ir_module_free(m);
}

typedef struct output_loop {
  int gate;
  tk_ir_stmt *block; /* the block holding the output loop at index i */
  int i;
} output_loop;

/* The output loop: a FOR whose body block stores the gate directly. */
static void find_output_loop(const tk_ir_stmt *s, void *user) {
  output_loop *o = user;
  for (int i = 0; !o->block && s->kind == TK_S_BLOCK && i < s->n; i++) {
    const tk_ir_stmt *f = s->stmts[i];
    if (f->kind != TK_S_FOR || f->body->kind != TK_S_BLOCK) continue;
    for (int j = 0; j < f->body->n; j++)
      if (f->body->stmts[j]->kind == TK_S_STORE && f->body->stmts[j]->arg == o->gate) {
        o->block = (tk_ir_stmt *)s;
        o->i = i;
      }
  }
}

/* A copy of the output loop's statement tree without the stores to `skip` (-1: none); unmask:
 * every f32 store of select(taken, p, 0) stores p instead. */
static const tk_ir_stmt *copy_stmt(tk_ir_module *m, const tk_ir_kernel *k, const tk_ir_stmt *s,
                                   bool unmask, int skip) {
  tk_ir_stmt *c = tk_ir_alloc(m, sizeof *c);
  *c = *s;
  if (s->kind == TK_S_BLOCK) {
    const tk_ir_stmt **ns = tk_ir_alloc(m, sizeof *ns * (size_t)s->n);
    c->n = 0;
    for (int i = 0; i < s->n; i++)
      if (s->stmts[i]->kind != TK_S_STORE || s->stmts[i]->arg != skip)
        ns[c->n++] = copy_stmt(m, k, s->stmts[i], unmask, skip);
    c->stmts = ns;
  }
  if (s->body) c->body = copy_stmt(m, k, s->body, unmask, skip);
  if (unmask && s->kind == TK_S_STORE && k->args[s->arg].type == TK_T_F32 &&
      s->value->op == TK_V_SELECT)
    c->value = s->value->b;
  return c;
}

/* Inserts a copy of the router's output loop right after it, or right before it without its
 * gate store (the first store to the gate marks the output loop). */
static tk_ir_module *router_with_output_copy(tk_ir_target t, bool before, bool unmask) {
  tk_ir_module *m = build("nano", 0);
  tk_ir_kernel *k = m ? kernel(m, t, "router") : NULL;
  output_loop o = {.gate = -1};
  for (int i = 0; k && i < k->nargs; i++)
    if (!strcmp(k->args[i].name, "router.gate")) o.gate = i;
  if (k) tk_ir_walk_stmts(k->body, find_output_loop, &o);
  CHECK_MSG(o.block, "no output loop in the router");
  if (!o.block) return m;
  const tk_ir_stmt **ns = tk_ir_alloc(m, sizeof *ns * (size_t)(o.block->n + 1));
  int at = before ? o.i : o.i + 1;
  const tk_ir_stmt *copy = copy_stmt(m, k, o.block->stmts[o.i], unmask, before ? o.gate : -1);
  for (int i = 0, j = 0; i <= o.block->n; i++) ns[i] = i == at ? copy : o.block->stmts[j++];
  o.block->stmts = ns;
  o.block->n++;
  return m;
}

/* The defect: a second loop after the selection storing the unmasked probabilities. */
static void topk_second_writer(void) {
  expect_refuted("second writer of unmasked probabilities",
                 router_with_output_copy(TK_TARGET_GPU, false, true),
                 (const char *[]){"kernel router (gpu)", "class topk", "final state",
                                  "%router.gate", "kept[c]=0", NULL});
}

/* An identical copy of the output loop after it writes what the proved loop wrote: covered. */
static void topk_second_writer_covered(void) {
  expect_proved("identical copy of the output loop after it",
                router_with_output_copy(TK_TARGET_CPU, false, false));
}

/* Stores to the keep mask and the router weights before the output loop (even of the right
 * values) are not where the final state is proved: refused. */
static void topk_writer_before_output(void) {
  expect_refuted("keep and weights stored before the output loop",
                 router_with_output_copy(TK_TARGET_CPU, true, false),
                 (const char *[]){"kernel router (cpu)", "class topk", "%router.keep",
                                  "not after the output loop", NULL});
}

/* p[e] + 0 in the gate store: equal to p[e] over the reals, not under IEEE (-0 + 0 = +0), so
 * arithmetic on the probabilities is refused. */
static void topk_arithmetic_on_p(void) {
  tk_ir_module *m = build("nano", 0);
  tk_ir_kernel *k = m ? kernel(m, TK_TARGET_GPU, "router") : NULL;
  int gate = -1;
  for (int i = 0; k && i < k->nargs; i++)
    if (!strcmp(k->args[i].name, "router.gate")) gate = i;
  for (int n = 0; gate >= 0; n++) {
    tk_ir_stmt *st = find_stmt(k, TK_S_STORE, NULL, n);
    if (!st) break;
    if (st->arg == gate && st->value->op == TK_V_SELECT) {
      tk_ir_val *v = tk_ir_alloc(m, sizeof *v);
      *v = *st->value;
      tk_ir_val *sum = tk_ir_alloc(m, sizeof *sum);
      *sum = *st->value->c; /* the constant 0 */
      sum->op = TK_V_ADD;
      sum->a = st->value->b;
      sum->b = st->value->c;
      v->b = sum;
      st->value = v;
      break;
    }
  }
  expect_refuted("f32 arithmetic on p", m,
                 (const char *[]){"kernel router (gpu)", "class topk", "computes f32 add", NULL});
}

static void shape_mismatch(void) {
  tk_ir_module *m = build("nano", 0);
  for (int i = 0; m && i < m->nops; i++) {
    tk_ir_op *op = &m->ops[i];
    if (op->dead || strcmp(op->name, "expert_1_hidden_2.linear")) continue;
    for (int c = 0; c < op->contracts.n; c++)
      if (op->contracts.items[c].pred == TK_PRED_ROWS && !op->contracts.items[c].ensures &&
          op->contracts.items[c].a == op->in[0].tensor)
        op->contracts.items[c].ix = tk_ir_ix_sym(m, TK_SYM_B);
  }
  expect_refuted("shape mismatch", m,
                 (const char *[]){"kernel expert_1_hidden_2 (graph)", "class shape", "B=", NULL});
}

/* The mutant graph.<op>.linear_out_plus_1: the output of expert_1_hidden_2's linear declared
 * 129 columns wide (nano: hidden 128) with its rows contracts following, so only the op
 * table's linear rule relates it to its 128-column weight. The structural checker catches it
 * too (mutants are applied after the last tk_ir_verify, so `shape` must). */
static void shape_linear_wider_than_weight(void) {
  tk_ir_module *m = build("nano", 0);
  tk_mutant *mu = NULL;
  int n = 0;
  if (m) CHECK_OK(tk_verify_mutants_list(m, &mu, &n));
  const char *id = NULL;
  for (int i = 0; i < n; i++)
    if (strstr(mu[i].id, "expert_1_hidden_2_linear.linear_out_plus_1")) id = mu[i].id;
  CHECK_MSG(id != NULL, "no linear_out_plus_1 mutant for expert_1_hidden_2 among %d", n);
  if (id) {
    CHECK_OK(tk_verify_mutant_apply(m, id, NULL));
    CHECK_ERR(tk_ir_verify(m), "linear rule out0.cols == in1.cols");
  }
  free(mu);
  expect_refuted(
      "linear wider than its weight", id ? m : NULL,
      (const char *[]){"kernel expert_1_hidden_2 (graph)", "class shape", "%expert_1.a_2.cols=129",
                       "%expert_1.param_8.cols=128", "linear rule out0.cols == in1.cols", NULL});
  if (!id) tk_ir_module_free(m);
}

int main(void) {
  bounds_off_by_one();
  bounds_missing_clamp();
  padding_wrong_bp();
  overflow_narrow();
  race_overlap();
  race_grid_short(true);
  race_grid_short(false);
  topk_ties_high();
  topk_keeps_k_plus_1();
  topk_dropped_nonzero();
  topk_second_writer();
  topk_second_writer_covered();
  topk_writer_before_output();
  topk_arithmetic_on_p();
  shape_mismatch();
  shape_linear_wider_than_weight();
  TEST_MAIN_END();
}
