/* verify/mutants.c — the mutant table (verify/mutants.h): deliberate defects in a scheduled
 * module, one per (kind, place), applied through the IR builders before verification.
 *
 * Statement trees are immutable: a mutant rebuilds the path from a kernel's body down to the
 * nodes it changes (copy on write into the module's arena, unchanged subtrees shared) and then
 * points the kernel at the new body. Every kind is a defect one of the obligation classes
 * exists to catch:
 *   shape        graph.<op>.wrong_shape        an op's output rows contract one column wide
 *                graph.<op>.linear_out_plus_1  a linear's output one column wider than its weight
 *                                              (the tensor and its rows contracts agree: only
 *                                              the op table's linear rule tells)
 *   padding      module.pad8                   Bp padded to 8 instead of 16
 *                gpu.<k>.no_clamp              the min(r, B - 1) clamp dropped from input reads
 *   bounds       <t>.<k>.store_off_by_one      the first store's index map + 1
 *                <t>.<k>.load_off_by_one       the last activation load's index map + 1
 *                cpu.<k>.tile_overrun          the register tile one row taller than its block
 *                graph.<buf>.row_short         a buffer allocated one row short (B = Bmax)
 *   no_overflow  <t>.<k>.index_16bit           index width 16 bits, too narrow for Bmax
 *   race         <t>.<k>.grid_short            launch grid one workgroup / block short
 *                <t>.<k>.two_writers           threads 2i and 2i+1 store the same elements
 *                cpu.<k>.no_row_tail           the row tail (the last B mod TR rows) skipped
 *                cpu.<k>.odd_row_dropped       the row tail's last row, run alone when the
 *                                              tail's rows are odd, never computed (the first
 *                                              cpu kernel whose row tail goes by pairs)
 *                cpu.<k>.rows_block_short      an expert's row block tested by rb*BR + 1 < R:
 *                                              a block holding one of the count[e] = R rows
 *                                              skipped (the first cpu row phase so tested)
 *   dataflow     cpu.<k>.pair_overrun          the row pairs' guard Bf + 2·rp + 1 < R without
 *                                              its + 1: an odd tail's last pair reads and
 *                                              writes row R (the first such kernel that reads
 *                                              no caller input: that one's reads are clamped)
 *   topk         <t>.<k>.topk_k_plus_1         the selection loop keeps K + 1
 *                <t>.<k>.topk_ties_high        best candidate by >= (ties to the higher index)
 *                <t>.<k>.topk_dropped_nonzero  a dropped expert's weight left at p, not 0
 *                <t>.<k>.topk_second_writer    a copy of the output loop after it, storing the
 *                                              unmasked probabilities into every f32 output
 *   (renorm)     <t>.<k>.topk_renorm_skipped   kept weights p[e], not p[e] / the kept sum
 *                <t>.<k>.topk_renorm_sums_all  the kept sum adds every p[e], dropped ones too
 *   dataflow     graph.<buf>.liveness_off_by_one  buffer liveness one kernel short: the tensors
 *                                              last read by one kernel (an MoE's expert final
 *                                              states, read by the combine) share <buf>
 *                gpu.<k>.phases_reversed       the launches of <k>'s fused kernel's phases in
 *                                              reverse order (<k> runs the first phase)
 *                cpu.<k>.swapped_with_next     <k> launched after the next launch, which reads
 *                                              a tensor <k> writes
 *   layout       cpu.<k>.panel_rowmajor        the first load of a weight panel in the first
 *                                              cpu kernel that has one reads the fused
 *                                              (row-major) index, as if nothing were packed
 *   dispatch     <t>.<k>.dispatch_slot_plus_1  the counting sort's slots start at 1
 *   (sparse)     <t>.<k>.dispatch_no_advance   its counter never advances (duplicated slots)
 *                <t>.<k>.dispatch_count_plus_1 its count one past the rows it listed
 *                <t>.<k>.dispatch_rows_short   its row loop one row short (a dropped pair)
 *                <t>.<k>.moves_unguarded       a gather/scatter without its keep guard
 *                <t>.<k>.scatter_no_zero       a scatter without its zero store
 *                <t>.<k>.chain_rows_b          an expert chain's row guards at B, not count[e]
 *   barriers     gpu.<k>.no_barrier            the first barrier dropped (tiled schedule)
 *   (tiled)      gpu.<k>.barrier_divergent     the loop holding the barriers (a row launch:
 *                                              the first barrier) under t < WG - 1
 *                gpu.<k>.lds_off_by_one        the first shared-local store's index + 1
 *                gpu.<k>.tile_overlap          workgroups 2i and 2i+1 store the same tile
 *                gpu.<k>.sum_unsynced          a row launch or a GEMM's norm epilogue: the
 *                                              barrier after the threads read a sum from
 *                                              shared memory dropped
 *   layout       gpu.<k>.held_register_swapped a norm epilogue's first read of the GEMM's
 *   (tiled)                                    accumulators at acc[rn * 4 + rm]
 * Launch-order kinds reorder m->targets[t] (the host stub's launch sequence) and renumber ids.
 */
#include "verify/mutants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tk/alloc.h"

/* ---- copy-on-write rewriting of one kernel's statement tree ------------------------------- */

typedef struct rw rw;
/* Edits the copy *v / *s of a node (children already rewritten); true if it changed it. */
typedef bool (*rw_val_fn)(rw *w, tk_ir_val *v);
typedef bool (*rw_stmt_fn)(rw *w, tk_ir_stmt *s);

struct rw {
  tk_ir_module *m;
  const tk_ir_kernel *k;
  rw_val_fn val;
  rw_stmt_fn stmt;
  int hits;             /* edits made so far (kinds that change only the first site) */
  int target;           /* load_off_by_one: the number of the site it changes */
  const tk_ir_var *var; /* two_writers: the bound variable folded onto even values */
  const tk_ir_stmt *at; /* the statement whose value is being rewritten */
};

static const tk_ir_val *rw_val(rw *w, const tk_ir_val *v) {
  if (!v) return NULL;
  tk_ir_val t = *v;
  t.a = rw_val(w, v->a);
  t.b = rw_val(w, v->b);
  t.c = rw_val(w, v->c);
  bool changed = t.a != v->a || t.b != v->b || t.c != v->c;
  if (w->val && w->val(w, &t)) changed = true;
  if (!changed) return v;
  tk_ir_val *c = tk_ir_alloc(w->m, sizeof *c);
  if (!c) return v;
  *c = t;
  return c;
}

static const tk_ir_stmt *rw_stmt(rw *w, const tk_ir_stmt *s) {
  if (!s) return NULL;
  tk_ir_stmt t = *s;
  bool changed = false;
  if (s->kind == TK_S_BLOCK) {
    const tk_ir_stmt **ns = NULL;
    for (int i = 0; i < s->n; i++) {
      const tk_ir_stmt *c = rw_stmt(w, s->stmts[i]);
      if (c == s->stmts[i]) continue;
      if (!ns && !(ns = tk_ir_alloc(w->m, sizeof *ns * (size_t)s->n))) return s;
      if (!changed) memcpy(ns, s->stmts, sizeof *ns * (size_t)s->n);
      ns[i] = c;
      changed = true;
    }
    if (changed) t.stmts = ns;
  }
  t.body = rw_stmt(w, s->body);
  w->at = s;
  t.value = rw_val(w, s->value);
  changed |= t.body != s->body || t.value != s->value;
  if (w->stmt && w->stmt(w, &t)) changed = true;
  if (!changed) return s;
  tk_ir_stmt *c = tk_ir_alloc(w->m, sizeof *c);
  if (!c) return s;
  *c = t;
  return c;
}

/* ---- the context of one (kind, place) ------------------------------------------------------ */

typedef struct mctx {
  tk_ir_module *m;
  tk_ir_kernel *k; /* kernel kinds */
  int buffer, op;  /* buffer / op kinds */
  bool commit;     /* false: only tell whether the kind applies */
} mctx;

/* Rewrites c->k's body with the hooks; applies when something changed. */
static bool rewrite_kernel(mctx *c, rw_val_fn val, rw_stmt_fn stmt, const tk_ir_var *var) {
  rw w = {.m = c->m, .k = c->k, .val = val, .stmt = stmt, .var = var};
  const tk_ir_stmt *body = rw_stmt(&w, c->k->body);
  if (body == c->k->body) return false;
  if (c->commit) c->k->body = body;
  return true;
}

static const tk_ix *plus(tk_ir_module *m, const tk_ix *e, int64_t d) {
  return tk_ir_ix_add(m, e, tk_ir_ix_const(m, d));
}

/* ---- bounds: index maps off by one, tile overrun ------------------------------------------- */

static bool first_store_plus_one(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_STORE || w->hits++) return false;
  s->ix = plus(w->m, s->ix, 1);
  return true;
}

static bool activation_load(const rw *w, const tk_ir_val *v) {
  return v->op == TK_V_LOAD && w->k->args[v->arg].role != TK_ROLE_PARAM;
}

static bool count_activation_loads(rw *w, tk_ir_val *v) {
  w->hits += activation_load(w, v);
  return false;
}

/* The last activation load (w->var unused; w->target its number in visiting order). */
static bool last_activation_load_plus_one(rw *w, tk_ir_val *v) {
  if (!activation_load(w, v) || w->hits++ != w->target) return false;
  v->ix = plus(w->m, v->ix, 1);
  return true;
}

static bool store_off_by_one(mctx *c) {
  return rewrite_kernel(c, NULL, first_store_plus_one, NULL);
}
/* The last activation load, not the first: it sits at the end of the launch's iteration space
 * (the row and column tails), where one element more leaves the rows written. The first may
 * lie inside a whole column panel narrower than the row (the CPU combine's 16 of 20 columns),
 * where one more is still an element of the same row: no defect any class could see. */
static bool load_off_by_one(mctx *c) {
  rw count = {.m = c->m, .k = c->k, .val = count_activation_loads};
  rw_stmt(&count, c->k->body);
  if (!count.hits) return false;
  rw w = {.m = c->m, .k = c->k, .val = last_activation_load_plus_one, .target = count.hits - 1};
  const tk_ir_stmt *body = rw_stmt(&w, c->k->body);
  if (body == c->k->body) return false;
  if (c->commit) c->k->body = body;
  return true;
}

static bool unroll_plus_one(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_FOR || s->loop != TK_LOOP_UNROLL) return false;
  s->extent = plus(w->m, s->extent, 1);
  return true;
}

static bool tile_overrun(mctx *c) {
  return c->k->target == TK_TARGET_CPU && rewrite_kernel(c, NULL, unroll_plus_one, NULL);
}

/* ---- race: the cpu row tail dropped ------------------------------------------------------- */

/* Whether e names a loop variable (with name, that one). */
static bool ix_has_var(const tk_ix *e, const char *name) {
  if (!e) return false;
  if (e->kind == TK_IX_VAR && (!name || !strcmp(e->var->name, name))) return true;
  return ix_has_var(e->a, name) || ix_has_var(e->b, name);
}

/* The row tail's guard `Bf < B` (no loop variable in it) gets an empty body: rows Bf .. B-1
 * of every column region are never computed. */
static bool row_tail_emptied(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_IF || s->cmp != TK_CMP_LT || ix_has_var(s->lhs, NULL) ||
      !tk_ir_ix_equal(s->rhs, tk_ir_ix_sym(w->m, TK_SYM_B)))
    return false;
  s->body = tk_ir_stmt_block(w->m);
  return true;
}

static bool no_row_tail(mctx *c) {
  return c->k->target == TK_TARGET_CPU && rewrite_kernel(c, NULL, row_tail_emptied, NULL);
}

/* ---- the row tail's pairs (ir/pass_schedule_cpu.c, paired_row_tail) ---------------------- */

/* `if Bf + rp * 2 + 1 <cmp> R`: the guard of a full row pair (<) or of the odd last row (==). */
static bool is_row_pair_guard(const tk_ir_stmt *s, tk_ir_cmp cmp) {
  return s->kind == TK_S_IF && s->lhs && s->cmp == cmp && s->lhs->kind == TK_IX_ADD &&
         s->lhs->b->kind == TK_IX_CONST && s->lhs->b->c == 1 &&
         ix_has_var(s->lhs->a, TK_IR_ROW_PAIR_VAR);
}
static bool is_pair_guard(const tk_ir_stmt *s) { return is_row_pair_guard(s, TK_CMP_LT); }
static bool is_odd_row_guard(const tk_ir_stmt *s) { return is_row_pair_guard(s, TK_CMP_EQ); }

/* Whether s or a statement inside it is one that is(..) names. */
static bool has_stmt(const tk_ir_stmt *s, bool (*is)(const tk_ir_stmt *)) {
  if (!s) return false;
  if (is(s) || has_stmt(s->body, is)) return true;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++)
    if (has_stmt(s->stmts[i], is)) return true;
  return false;
}

static bool reads_input(const tk_ir_kernel *k) {
  for (int i = 0; i < k->nargs; i++)
    if (k->args[i].role == TK_ROLE_IN) return true;
  return false;
}

/* Whether c->k is the first cpu kernel whose row tail goes by pairs (one instance per module:
 * every such kernel's tail is built by the same code), among those that read no caller input
 * when past_input: the input's reads are clamped to row B - 1 (padding pass), so a pair past B
 * there only computes a padding row in scratch — padding work, no defect a class could see. */
static bool first_paired(const mctx *c, bool past_input) {
  const tk_ir_kernel_list *cpu = &c->m->targets[TK_TARGET_CPU];
  for (int i = 0; i < cpu->n; i++)
    if (has_stmt(cpu->items[i]->body, is_pair_guard) && !(past_input && reads_input(cpu->items[i])))
      return cpu->items[i] == c->k;
  return false;
}

static bool pair_guard_loses_one(rw *w, tk_ir_stmt *s) {
  (void)w;
  if (!is_pair_guard(s)) return false;
  s->lhs = s->lhs->a;
  return true;
}

static bool odd_row_emptied(rw *w, tk_ir_stmt *s) {
  if (!is_odd_row_guard(s)) return false;
  s->body = tk_ir_stmt_block(w->m);
  return true;
}

static bool pair_overrun(mctx *c) {
  return first_paired(c, true) && rewrite_kernel(c, NULL, pair_guard_loses_one, NULL);
}

static bool odd_row_dropped(mctx *c) {
  return first_paired(c, false) && rewrite_kernel(c, NULL, odd_row_emptied, NULL);
}

/* ---- a row phase's test of its block's rows (ir/pass_schedule_cpu.c, in_rows_block) -------- */

/* `if rb * BR < R { for rr .. }`: the test that the work item's row block holds some of the
 * phase's R rows, around a row phase's row loop. Not the same test around a tileable phase's
 * `for rt`: a block holding one row has Bf = rb*BR (TR divides BR), no whole tile to lose, so
 * there the mutant would change nothing a class could see. */
static bool is_rows_block_guard(const tk_ir_stmt *s) {
  return s->kind == TK_S_IF && s->cmp == TK_CMP_LT && s->lhs && s->lhs->kind == TK_IX_MUL &&
         s->lhs->a->kind == TK_IX_VAR && s->body && s->body->kind == TK_S_FOR &&
         !strcmp(s->body->var->name, TK_IR_BLOCK_ROW_VAR);
}

static bool rows_block_one_short(rw *w, tk_ir_stmt *s) {
  if (!is_rows_block_guard(s)) return false;
  s->lhs = plus(w->m, s->lhs, 1);
  return true;
}

/* On the first cpu kernel with such a test: every one is built by the same code. */
static bool rows_block_short(mctx *c) {
  const tk_ir_kernel_list *cpu = &c->m->targets[TK_TARGET_CPU];
  for (int i = 0; i < cpu->n; i++)
    if (has_stmt(cpu->items[i]->body, is_rows_block_guard))
      return cpu->items[i] == c->k && rewrite_kernel(c, NULL, rows_block_one_short, NULL);
  return false;
}

/* ---- dispatch: the counting sort and the kernels that gather and scatter by it ------------ */

/* k's dispatch contract: the counting sort's (ensures) or a kernel's that reads its slots
 * (requires, naming slot and keep); NULL if none. */
static const tk_ir_contract *dispatch_contract(const tk_ir_kernel *k, bool ensures) {
  for (int i = 0; i < k->contracts.n; i++) {
    const tk_ir_contract *c = &k->contracts.items[i];
    if (c->pred == TK_PRED_DISPATCH && c->ensures == ensures && (ensures || c->a >= 0)) return c;
  }
  return NULL;
}

static const tk_ir_val *plus_one_i32(tk_ir_module *m, const tk_ir_val *v) {
  return tk_ir_val_bin(m, TK_V_ADD, v, tk_ir_val_i32(m, 1));
}

static bool slot_store_plus_one(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_STORE || s->arg != dispatch_contract(w->k, true)->a) return false;
  s->value = plus_one_i32(w->m, s->value);
  return true;
}

static bool count_store_plus_one(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_STORE || s->arg != dispatch_contract(w->k, true)->c) return false;
  s->value = plus_one_i32(w->m, s->value);
  return true;
}

/* `m = m + keep[..]` becomes `m = m`: every kept row of an expert gets the same slot. */
static bool counter_stays(rw *w, tk_ir_stmt *s) {
  (void)w;
  if (s->kind != TK_S_LOCAL_STORE || s->value->op != TK_V_ADD ||
      s->value->a->op != TK_V_LOCAL_LOAD || s->value->a->local != s->local)
    return false;
  s->value = s->value->a;
  return true;
}

/* The row loop over [0, B) runs over [0, B - 1): the last row is never listed. */
static bool rows_one_short(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_FOR || s->binding != TK_BIND_NONE ||
      !tk_ir_ix_equal(s->extent, tk_ir_ix_sym(w->m, TK_SYM_B)))
    return false;
  s->extent = plus(w->m, s->extent, -1);
  return true;
}

static bool dispatch_slot_plus_1(mctx *c) {
  return dispatch_contract(c->k, true) && rewrite_kernel(c, NULL, slot_store_plus_one, NULL);
}
static bool dispatch_no_advance(mctx *c) {
  return dispatch_contract(c->k, true) && rewrite_kernel(c, NULL, counter_stays, NULL);
}
static bool dispatch_count_plus_1(mctx *c) {
  return dispatch_contract(c->k, true) && rewrite_kernel(c, NULL, count_store_plus_one, NULL);
}
static bool dispatch_rows_short(mctx *c) {
  return dispatch_contract(c->k, true) && rewrite_kernel(c, NULL, rows_one_short, NULL);
}

/* A gather or scatter's `if keep[..] > 0` guard dropped: dropped rows' slots are used too. */
static bool keep_guard_dropped(rw *w, tk_ir_stmt *s) {
  int keep = dispatch_contract(w->k, false)->b;
  if (s->kind != TK_S_IF || s->lhs->kind != TK_IX_LOAD || s->lhs->arg != keep) return false;
  *s = *s->body;
  return true;
}

static bool moves_unguarded(mctx *c) {
  return dispatch_contract(c->k, false) && rewrite_kernel(c, NULL, keep_guard_dropped, NULL);
}

/* A scatter's `hd[r, j] = 0` dropped: a dropped row's hd is never written. */
static bool zero_store_dropped(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_STORE || s->value->op != TK_V_CONST) return false;
  *s = *tk_ir_stmt_block(w->m);
  return true;
}

static bool scatter_no_zero(mctx *c) {
  return dispatch_contract(c->k, false) && rewrite_kernel(c, NULL, zero_store_dropped, NULL);
}

/* e with every index read of argument `arg` replaced by B. */
static const tk_ix *read_as_b(tk_ir_module *m, const tk_ix *e, int arg) {
  if (!e) return NULL;
  if (e->kind == TK_IX_LOAD && e->arg == arg) return tk_ir_ix_sym(m, TK_SYM_B);
  return tk_ir_ix_rebuild(m, e, read_as_b(m, e->a, arg), read_as_b(m, e->b, arg));
}

/* An expert chain's row guards read count[e] as B: it computes rows it never gathered. */
static bool count_guard_as_b(rw *w, tk_ir_stmt *s) {
  int count = -1;
  for (int i = 0; i < w->k->contracts.n; i++) {
    const tk_ir_contract *c = &w->k->contracts.items[i];
    if (c->pred == TK_PRED_DISPATCH && !c->ensures && c->a < 0) count = c->c;
  }
  if (s->kind != TK_S_IF || count < 0) return false;
  const tk_ix *lhs = read_as_b(w->m, s->lhs, count), *rhs = read_as_b(w->m, s->rhs, count);
  if (lhs == s->lhs && rhs == s->rhs) return false;
  s->lhs = lhs;
  s->rhs = rhs;
  return true;
}

static bool chain_rows_b(mctx *c) { return rewrite_kernel(c, NULL, count_guard_as_b, NULL); }

/* ---- padding: the clamp ------------------------------------------------------------------- */

static bool is_clamp(tk_ir_module *m, const tk_ix *e) {
  return e->kind == TK_IX_MIN &&
         tk_ir_ix_equal(e->b, tk_ir_ix_sub(m, tk_ir_ix_sym(m, TK_SYM_B), tk_ir_ix_const(m, 1)));
}

/* e with every min(x, B - 1) replaced by x. */
static const tk_ix *unclamp(tk_ir_module *m, const tk_ix *e) {
  if (!e) return NULL;
  if (is_clamp(m, e)) return unclamp(m, e->a);
  return tk_ir_ix_rebuild(m, e, unclamp(m, e->a), unclamp(m, e->b));
}

static bool load_unclamped(rw *w, tk_ir_val *v) {
  if (v->op != TK_V_LOAD) return false;
  const tk_ix *u = unclamp(w->m, v->ix);
  if (u == v->ix) return false;
  v->ix = u;
  return true;
}

/* GPU kernels only: the cpu schedule computes no row past B, where min(r, B - 1) is r and
 * dropping it is no defect (the padding class proves the unclamped read). Nor in a gather
 * (or scatter): it reads the input only under `if r < B`, so the mutant would be the same
 * kernel. */
static bool no_clamp(mctx *c) {
  return c->k->target != TK_TARGET_CPU && !dispatch_contract(c->k, false) &&
         rewrite_kernel(c, load_unclamped, NULL, NULL);
}

static bool pad8(mctx *c) {
  for (int i = 0; i < c->m->contracts.n; i++) {
    tk_ir_contract *ct = &c->m->contracts.items[i];
    if (ct->pred != TK_PRED_BP_PADDED || ct->n != 16) continue;
    if (c->commit) ct->n = 8;
    return true;
  }
  return false;
}

/* ---- no_overflow: index width ------------------------------------------------------------- */

static bool index_16bit(mctx *c) {
  if (c->commit) c->k->index_bits = 16;
  return true;
}

/* ---- race: grid one short, two writers ----------------------------------------------------- */

static bool bound_grid_minus_one(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_FOR || (s->binding != TK_BIND_WORKGROUP_X && s->binding != TK_BIND_CPU_BLOCK))
    return false;
  s->extent = plus(w->m, s->extent, -1);
  return true;
}

static bool grid_short(mctx *c) {
  if (!rewrite_kernel(c, NULL, bound_grid_minus_one, NULL)) return false;
  if (c->commit) c->k->launch.grid = plus(c->m, c->k->launch.grid, -1);
  return true;
}

/* The innermost parallel loop of a launch: the GPU thread, or the CPU block. */
static void find_bound(const tk_ir_stmt *s, void *user) {
  const tk_ir_stmt **out = user;
  if (s->kind == TK_S_FOR && (s->binding == TK_BIND_THREAD_X || s->binding == TK_BIND_CPU_BLOCK))
    *out = s;
}

static bool store_even_writer(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_STORE || !tk_ir_ix_uses_var(s->ix, w->var)) return false;
  const tk_ix *v = tk_ir_ix_var(w->m, w->var);
  const tk_ix *even = tk_ir_ix_sub(w->m, v, tk_ir_ix_mod(w->m, v, 2));
  tk_ir_subst sub = {.n = 1, .from = &w->var, .to = &even};
  s->ix = tk_ir_ix_subst(w->m, s->ix, &sub);
  return true;
}

/* A one-point CPU launch (the counting sort: w in 0..1, its experts in a serial loop) has one
 * writer, and folding w would change nothing: the loop it runs takes the fold instead, so
 * experts 2i and 2i+1 store the same elements (the dispatch class's separation refutes it). */
static bool two_writers(mctx *c) {
  const tk_ir_stmt *bound = NULL;
  tk_ir_walk_stmts(c->k->body, find_bound, &bound);
  if (!bound) return false;
  const tk_ir_var *var = bound->var;
  bool one_point = bound->extent->kind == TK_IX_CONST && bound->extent->c == 1;
  if (one_point && bound->body->kind == TK_S_FOR) var = bound->body->var;
  return rewrite_kernel(c, NULL, store_even_writer, var);
}

/* ---- barriers and shared locals (the tiled GPU schedule) ---------------------------------- */

static bool has_barriers(const tk_ir_kernel *k) {
  return k->target == TK_TARGET_GPU && tk_ir_stmt_barriers(k->body) > 0;
}

/* The first barrier becomes an empty block: staging and compute share an interval. */
static bool first_barrier_dropped(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_BARRIER || w->hits++) return false;
  s->kind = TK_S_BLOCK;
  s->n = 0;
  return true;
}

/* The first loop holding barriers, under `if t < WG - 1`: the last thread skips them. */
static bool barrier_loop_diverges(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_FOR || s->binding != TK_BIND_NONE || tk_ir_stmt_barriers(s->body) == 0 ||
      w->hits++)
    return false;
  tk_ir_stmt *loop = tk_ir_alloc(w->m, sizeof *loop);
  if (!loop) return false;
  *loop = *s;
  const tk_ir_stmt *threads = w->k->body->body;
  *s = *tk_ir_stmt_if(w->m, tk_ir_ix_var(w->m, threads->var), TK_CMP_LT,
                      tk_ir_ix_const(w->m, threads->extent->c - 1), loop);
  return true;
}

/* Without a loop holding barriers (a row launch): the first barrier under `if t < WG - 1`. */
static bool first_barrier_diverges(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_BARRIER || w->hits++) return false;
  const tk_ir_stmt *threads = w->k->body->body;
  *s = *tk_ir_stmt_if(w->m, tk_ir_ix_var(w->m, threads->var), TK_CMP_LT,
                      tk_ir_ix_const(w->m, threads->extent->c - 1), tk_ir_stmt_barrier(w->m));
  return true;
}

/* `L = shared[..]` (a thread reading the row's sum; in an epilogue, `for rm unroll` around
 * it, a sum per register row) followed by a barrier. */
static bool reads_sum_then_barrier(const rw *w, const tk_ir_stmt *b, int i) {
  const tk_ir_stmt *s = b->stmts[i];
  if (s->kind == TK_S_FOR && s->loop == TK_LOOP_UNROLL) s = s->body;
  return i + 1 < b->n && b->stmts[i + 1]->kind == TK_S_BARRIER && s->kind == TK_S_LOCAL_STORE &&
         !w->k->locals[s->local].shared && s->value->op == TK_V_LOCAL_LOAD &&
         w->k->locals[s->value->local].shared;
}

/* The first barrier after the threads read a sum from shared memory becomes an empty block:
 * the next sum's tree overwrites it while other threads may still read it. */
static bool sum_barrier_dropped(rw *w, tk_ir_stmt *s) {
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++) {
    if (!reads_sum_then_barrier(w, s, i) || w->hits++) continue;
    const tk_ir_stmt **ns = tk_ir_alloc(w->m, sizeof *ns * (size_t)s->n);
    if (!ns) return false;
    memcpy(ns, s->stmts, sizeof *ns * (size_t)s->n);
    ns[i + 1] = tk_ir_stmt_block(w->m);
    s->stmts = ns;
    return true;
  }
  return false;
}

static bool is_shared_store(const rw *w, const tk_ir_stmt *s) {
  return s->kind == TK_S_LOCAL_STORE && w->k->locals[s->local].shared;
}

static bool first_shared_store_plus_one(rw *w, tk_ir_stmt *s) {
  if (!is_shared_store(w, s) || w->hits++) return false;
  s->ix = plus(w->m, s->ix, 1);
  return true;
}

static bool no_barrier(mctx *c) {
  return has_barriers(c->k) && rewrite_kernel(c, NULL, first_barrier_dropped, NULL);
}
static bool barrier_divergent(mctx *c) {
  return has_barriers(c->k) && (rewrite_kernel(c, NULL, barrier_loop_diverges, NULL) ||
                                rewrite_kernel(c, NULL, first_barrier_diverges, NULL));
}
static bool sum_unsynced(mctx *c) {
  return has_barriers(c->k) && rewrite_kernel(c, NULL, sum_barrier_dropped, NULL);
}
static bool lds_off_by_one(mctx *c) {
  return has_barriers(c->k) && rewrite_kernel(c, NULL, first_shared_store_plus_one, NULL);
}

/* Workgroups 2i and 2i + 1 compute the same output tile (every global store's workgroup id
 * folded onto even values): each tile overlaps its neighbour. */
static bool tile_overlap(mctx *c) {
  return has_barriers(c->k) && rewrite_kernel(c, NULL, store_even_writer, c->k->body->var);
}

/* A norm epilogue's first read of a held value (a local load standing for a fused load,
 * `acc[rm * RN + rn]`) reads register rn * RN + rm: in bounds, another element's. */
static bool first_held_swapped(rw *w, tk_ir_val *v) {
  const tk_ix *ix = v->ix;
  if (v->op != TK_V_LOCAL_LOAD || !v->origin || v->origin->op != TK_V_LOAD || w->hits ||
      ix->kind != TK_IX_ADD || ix->a->kind != TK_IX_MUL)
    return false;
  w->hits++;
  v->ix = tk_ir_ix_add(w->m, tk_ir_ix_mul(w->m, ix->b, ix->a->c), ix->a->a);
  return true;
}

static bool held_register_swapped(mctx *c) {
  return c->k->target == TK_TARGET_GPU && c->k->source_phases > 1 &&
         rewrite_kernel(c, first_held_swapped, NULL, NULL);
}

/* ---- topk: the selection loop -------------------------------------------------------------- */

static const tk_ir_contract *topk_contract(const tk_ir_kernel *k) {
  for (int i = 0; i < k->contracts.n; i++)
    if (k->contracts.items[i].pred == TK_PRED_TOPK) return &k->contracts.items[i];
  return NULL;
}

static bool stores_local_named(const tk_ir_kernel *k, const tk_ir_stmt *s, const char *name) {
  return s->kind == TK_S_LOCAL_STORE && !strcmp(k->locals[s->local].name, name);
}

/* The selection loop: the FOR whose body block starts by resetting best_i (one step per kept). */
static bool selection_plus_one(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_FOR || !s->body || s->body->kind != TK_S_BLOCK || !s->body->n ||
      !stores_local_named(w->k, s->body->stmts[0], "best_i"))
    return false;
  s->extent = plus(w->m, s->extent, 1);
  return true;
}

static bool topk_k_plus_1(mctx *c) {
  return topk_contract(c->k) && rewrite_kernel(c, NULL, selection_plus_one, NULL);
}

static bool gt_to_ge(rw *w, tk_ir_val *v) {
  if (v->op != TK_V_GT) return false;
  (void)w;
  v->op = TK_V_GE;
  return true;
}

static bool topk_ties_high(mctx *c) {
  return topk_contract(c->k) && rewrite_kernel(c, gt_to_ge, NULL, NULL);
}

/* gate[..] = select(taken, p, 0) becomes gate[..] = p. */
static bool dropped_keeps_p(rw *w, tk_ir_stmt *s) {
  const tk_ir_contract *ct = topk_contract(w->k);
  const tk_ir_val *v = s->value;
  if (s->kind != TK_S_STORE || s->arg != ct->a || !v || v->op != TK_V_SELECT) return false;
  s->value = v->b;
  return true;
}

static bool topk_dropped_nonzero(mctx *c) {
  return topk_contract(c->k) && rewrite_kernel(c, NULL, dropped_keeps_p, NULL);
}

/* Renormalisation (a topk contract with renorm): gate[..] = select(taken, p / s, 0) becomes
 * select(taken, p, 0). */
static bool undivide(rw *w, tk_ir_stmt *s) {
  const tk_ir_contract *ct = topk_contract(w->k);
  const tk_ir_val *v = s->value;
  if (s->kind != TK_S_STORE || s->arg != ct->a || !v || v->op != TK_V_SELECT ||
      v->b->op != TK_V_DIV)
    return false;
  tk_ir_val *copy = tk_ir_alloc(w->m, sizeof *copy);
  if (!copy) return false;
  *copy = *v;
  copy->b = v->b->a;
  s->value = copy;
  return true;
}

static bool topk_renorm_skipped(mctx *c) {
  const tk_ir_contract *ct = topk_contract(c->k);
  return ct && ct->renorm && rewrite_kernel(c, NULL, undivide, NULL);
}

/* The kept sum's step s = s + select(taken[e], p[e], 0) becomes s = s + p[e]. */
static bool sum_unmasked(rw *w, tk_ir_stmt *s) {
  const tk_ir_val *v = s->value;
  if (s->kind != TK_S_LOCAL_STORE || strcmp(w->k->locals[s->local].name, "kept_sum") != 0 || !v ||
      v->op != TK_V_ADD || v->b->op != TK_V_SELECT)
    return false;
  tk_ir_val *copy = tk_ir_alloc(w->m, sizeof *copy);
  if (!copy) return false;
  *copy = *v;
  copy->b = v->b->b;
  s->value = copy;
  return true;
}

static bool topk_renorm_sums_all(mctx *c) {
  const tk_ir_contract *ct = topk_contract(c->k);
  return ct && ct->renorm && rewrite_kernel(c, NULL, sum_unmasked, NULL);
}

/* gate[..] = select(taken, p, 0) (and every f32 output so stored) becomes = p. */
static bool unmask_weight(rw *w, tk_ir_stmt *s) {
  const tk_ir_val *v = s->value;
  if (s->kind != TK_S_STORE || w->k->args[s->arg].type != TK_T_F32 || !v || v->op != TK_V_SELECT)
    return false;
  s->value = v->b;
  return true;
}

/* The output loop: a FOR whose body stores the gate directly (not through a nested loop). */
static bool is_output_loop(const tk_ir_stmt *s, int gate) {
  if (s->kind != TK_S_FOR || !s->body) return false;
  const tk_ir_stmt *b = s->body;
  if (b->kind == TK_S_STORE) return b->arg == gate;
  for (int i = 0; b->kind == TK_S_BLOCK && i < b->n; i++)
    if (b->stmts[i]->kind == TK_S_STORE && b->stmts[i]->arg == gate) return true;
  return false;
}

/* { ...; L_out; ... } becomes { ...; L_out; L_out with the f32 stores unmasked; ... }. */
static bool add_second_writer(rw *w, tk_ir_stmt *s) {
  if (s->kind != TK_S_BLOCK || w->hits) return false;
  int gate = topk_contract(w->k)->a;
  for (int i = 0; i < s->n; i++) {
    if (!is_output_loop(s->stmts[i], gate)) continue;
    rw u = {.m = w->m, .k = w->k, .stmt = unmask_weight};
    const tk_ir_stmt *second = rw_stmt(&u, s->stmts[i]);
    const tk_ir_stmt **ns = tk_ir_alloc(w->m, sizeof *ns * (size_t)(s->n + 1));
    if (!ns || second == s->stmts[i]) return false;
    memcpy(ns, s->stmts, sizeof *ns * (size_t)(i + 1));
    ns[i + 1] = second;
    memcpy(ns + i + 2, s->stmts + i + 1, sizeof *ns * (size_t)(s->n - i - 1));
    s->stmts = ns;
    s->n++;
    w->hits++;
    return true;
  }
  return false;
}

static bool topk_second_writer(mctx *c) {
  return topk_contract(c->k) && rewrite_kernel(c, NULL, add_second_writer, NULL);
}

/* ---- graph: buffers and edges --------------------------------------------------------------- */

/* The row length of buffer b (from an argument bound to it), or 0. */
static int64_t buffer_cols(const tk_ir_module *m, int b) {
  for (int t = 0; t < TK_IR_NTARGETS; t++)
    for (int i = 0; i < m->targets[t].n; i++)
      for (int a = 0; a < m->targets[t].items[i]->nargs; a++)
        if (m->targets[t].items[i]->args[a].buffer == b)
          return m->targets[t].items[i]->args[a].cols;
  return 0;
}

static bool row_short(mctx *c) {
  tk_ir_buffer *b = &c->m->buffers[c->buffer];
  int64_t cols = buffer_cols(c->m, c->buffer);
  if (b->role == TK_ROLE_PARAM || cols <= 0) return false;
  if (c->commit) b->count = plus(c->m, b->count, -cols);
  return true;
}

static bool wrong_shape(mctx *c) {
  tk_ir_op *op = &c->m->ops[c->op];
  if (op->dead) return false;
  for (int i = 0; i < op->contracts.n; i++) {
    tk_ir_contract *ct = &op->contracts.items[i];
    if (!ct->ensures || ct->pred != TK_PRED_ROWS) continue;
    if (c->commit) ct->n += 1;
    return true;
  }
  return false;
}

/* ---- dataflow: buffer reuse and launch order ------------------------------------------------- */

/* The last fused kernel with an argument for tensor t (the end of its live range), or -1. */
static int last_user(const tk_ir_module *m, int t) {
  int last = -1;
  for (int i = 0; i < m->kernels.n; i++)
    for (int a = 0; a < m->kernels.items[i]->nargs; a++)
      if (m->kernels.items[i]->args[a].tensor == t) last = i;
  return last;
}

/* Tensor t (placed in buffer `from`) moves into scratch buffer b: every argument and the
 * buffers' tensor lists follow. */
static void move_tensor(tk_ir_module *m, int t, int from, tk_ir_buffer *b) {
  for (int l = -1; l < TK_IR_NTARGETS; l++) {
    const tk_ir_kernel_list *list = tk_ir_module_kernels(m, (tk_ir_target)l);
    for (int i = 0; i < list->n; i++)
      for (int a = 0; a < list->items[i]->nargs; a++)
        if (list->items[i]->args[a].tensor == t) list->items[i]->args[a].buffer = b->id;
  }
  tk_ir_buffer *old = &m->buffers[from];
  int n = 0;
  for (int i = 0; i < old->ntensors; i++)
    if (old->tensors[i] != t) old->tensors[n++] = old->tensors[i];
  old->ntensors = n;
  b->tensors[b->ntensors++] = t;
}

/* The buffer planner with its liveness one kernel short at the end: a tensor counts as dead
 * before its last reader, so the tensors last read by the same kernel as @b's last tensor (an
 * MoE's expert final states, all read by the combine) are all placed in @b. Applies to the
 * buffer of the lowest such tensor, when there is another to move. */
static bool liveness_off_by_one(mctx *c) {
  tk_ir_module *m = c->m;
  tk_ir_buffer *b = &m->buffers[c->buffer];
  if (b->role != TK_ROLE_SCRATCH || !b->ntensors) return false;
  int tb = b->tensors[b->ntensors - 1], end = last_user(m, tb), moved = 0;
  for (int i = 0; i < m->nbuffers; i++) {
    tk_ir_buffer *o = &m->buffers[i];
    if (i == b->id || o->role != TK_ROLE_SCRATCH || o->type != b->type ||
        !tk_ir_ix_equal(o->count, b->count))
      continue;
    for (int j = o->ntensors - 1; j >= 0; j--) {
      int t = o->tensors[j];
      if (last_user(m, t) != end) continue;
      if (t < tb) return false; /* the group's mutant belongs to the lowest tensor's buffer */
      if (c->commit) move_tensor(m, t, i, b);
      moved++;
    }
  }
  return moved > 0;
}

/* The position of k in its list, or -1. */
static int list_position(const tk_ir_kernel_list *list, const tk_ir_kernel *k) {
  for (int i = 0; i < list->n; i++)
    if (list->items[i] == k) return i;
  return -1;
}

static void renumber(tk_ir_kernel_list *list) {
  for (int i = 0; i < list->n; i++) list->items[i]->id = i;
}

/* The launches of the fused kernel whose first phase c->k runs, in reverse order (the GPU
 * schedule launches a kernel's phases consecutively). */
static bool phases_reversed(mctx *c) {
  tk_ir_kernel_list *list = &c->m->targets[TK_TARGET_GPU];
  const tk_ir_kernel *k = c->k;
  if (k->target != TK_TARGET_GPU || k->source_phase != 0) return false;
  int first = list_position(list, k), n = 0;
  while (first + n < list->n && list->items[first + n]->source == k->source) n++;
  if (n < 2) return false;
  for (int i = 0; c->commit && i < n / 2; i++) {
    tk_ir_kernel *t = list->items[first + i];
    list->items[first + i] = list->items[first + n - 1 - i];
    list->items[first + n - 1 - i] = t;
  }
  if (c->commit) renumber(list);
  return true;
}

/* True if launch b reads a tensor launch a writes. */
static bool depends_on(const tk_ir_kernel *b, const tk_ir_kernel *a) {
  for (int i = 0; i < b->nargs; i++)
    for (int j = 0; j < a->nargs; j++)
      if ((b->args[i].access & TK_ACC_READ) && (a->args[j].access & TK_ACC_WRITE) &&
          b->args[i].tensor == a->args[j].tensor)
        return true;
  return false;
}

/* c->k and the next CPU launch, which reads what c->k writes, swapped. */
static bool swapped_with_next(mctx *c) {
  tk_ir_kernel_list *list = &c->m->targets[TK_TARGET_CPU];
  if (c->k->target != TK_TARGET_CPU) return false;
  int i = list_position(list, c->k);
  if (i < 0 || i + 1 >= list->n || !depends_on(list->items[i + 1], c->k)) return false;
  if (c->commit) {
    list->items[i] = list->items[i + 1];
    list->items[i + 1] = c->k;
    renumber(list);
  }
  return true;
}

/* A live linear's output declared one column wider than its weight gives, with every rows
 * contract on it following: each tensor agrees with its own declaration, only the op table's
 * linear rule (output cols == the weight's) relates the output to the weight. */
static bool linear_out_plus_1(mctx *c) {
  tk_ir_op *op = &c->m->ops[c->op];
  if (op->dead || op->kind != TK_OP_LINEAR) return false;
  if (!c->commit) return true;
  int t = op->out[0].tensor;
  tk_ir_tensor *tt = &c->m->tensors[t];
  tt->dims[1] = tk_ir_ix_const(c->m, tt->dims[1]->c + 1);
  for (int i = 0; i < c->m->nops; i++)
    for (int j = 0; j < c->m->ops[i].contracts.n; j++) {
      tk_ir_contract *ct = &c->m->ops[i].contracts.items[j];
      if (ct->pred == TK_PRED_ROWS && ct->a == t) ct->n += 1;
    }
  return true;
}

/* ---- layout: a panel buffer read as if row-major ------------------------------------------ */

static bool reads_panel(const tk_ir_module *m, const tk_ir_kernel *k, const tk_ir_val *v) {
  return v->op == TK_V_LOAD && k->args[v->arg].buffer >= 0 &&
         m->buffers[k->args[v->arg].buffer].panel_width;
}

static bool load_rowmajor(rw *w, tk_ir_val *v) {
  if (!reads_panel(w->m, w->k, v) || !v->origin || w->hits++) return false;
  v->ix = tk_ir_ix_subst(w->m, v->origin->ix, w->at->subst);
  return true;
}

static bool val_reads_panel(const tk_ir_module *m, const tk_ir_kernel *k, const tk_ir_val *v) {
  return v && (reads_panel(m, k, v) || val_reads_panel(m, k, v->a) || val_reads_panel(m, k, v->b) ||
               val_reads_panel(m, k, v->c));
}

static bool stmt_reads_panel(const tk_ir_module *m, const tk_ir_kernel *k, const tk_ir_stmt *s) {
  if (!s) return false;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++)
    if (stmt_reads_panel(m, k, s->stmts[i])) return true;
  return stmt_reads_panel(m, k, s->body) || val_reads_panel(m, k, s->value);
}

/* Only on the first cpu kernel that reads a panel buffer: one mutant per model suffices to
 * show the class refutes a kernel that ignores the packing (bounds alone cannot: the
 * row-major index stays inside the buffer). */
static bool panel_rowmajor(mctx *c) {
  const tk_ir_kernel_list *cpu = &c->m->targets[TK_TARGET_CPU];
  const tk_ir_kernel *first = NULL;
  for (int i = 0; !first && i < cpu->n; i++)
    if (stmt_reads_panel(c->m, cpu->items[i], cpu->items[i]->body)) first = cpu->items[i];
  return first == c->k && rewrite_kernel(c, load_rowmajor, NULL, NULL);
}

/* ---- the table ---------------------------------------------------------------------------- */

typedef enum scope { ON_KERNEL, ON_BUFFER, ON_OP, ON_MODULE } scope;

typedef struct kind {
  const char *name;
  scope on;
  const char *what;
  bool (*apply)(mctx *c);
} kind;

static const kind KINDS[] = {
    {"pad8", ON_MODULE, "padding: Bp padded to a multiple of 8 instead of 16", pad8},
    {"wrong_shape", ON_OP, "shape: the op's output rows contract one column too wide", wrong_shape},
    {"linear_out_plus_1", ON_OP,
     "shape: a linear's output declared one column wider than its weight", linear_out_plus_1},
    {"row_short", ON_BUFFER, "bounds: buffer allocated one row short", row_short},
    {"store_off_by_one", ON_KERNEL, "bounds: index map of the first store off by one",
     store_off_by_one},
    {"load_off_by_one", ON_KERNEL, "bounds: index map of the last activation load off by one",
     load_off_by_one},
    {"tile_overrun", ON_KERNEL, "bounds: register tile one row taller than its row block",
     tile_overrun},
    {"no_clamp", ON_KERNEL, "padding: min(r, B - 1) clamp dropped from the input reads", no_clamp},
    {"index_16bit", ON_KERNEL, "no_overflow: indices computed in 16 bits", index_16bit},
    {"grid_short", ON_KERNEL, "race: launch grid one workgroup/block short (coverage)", grid_short},
    {"two_writers", ON_KERNEL, "race: threads 2i and 2i+1 store the same elements", two_writers},
    {"no_row_tail", ON_KERNEL, "race: the row tail (rows B div TR * TR .. B - 1) never computed",
     no_row_tail},
    {"odd_row_dropped", ON_KERNEL,
     "race: the row tail's last row, run alone when its rows are odd, never computed",
     odd_row_dropped},
    {"rows_block_short", ON_KERNEL,
     "race: an expert's row block tested by rb*BR + 1 < count[e] (a block with one row skipped)",
     rows_block_short},
    {"pair_overrun", ON_KERNEL,
     "dataflow: the row tail's pairs guarded by Bf + 2*rp < R (an odd tail's last pair runs "
     "past R)",
     pair_overrun},
    {"topk_k_plus_1", ON_KERNEL, "topk: the selection loop keeps K + 1", topk_k_plus_1},
    {"topk_ties_high", ON_KERNEL, "topk: ties go to the higher index (> became >=)",
     topk_ties_high},
    {"topk_dropped_nonzero", ON_KERNEL, "topk: a dropped expert's weight left at its probability",
     topk_dropped_nonzero},
    {"topk_second_writer", ON_KERNEL,
     "topk: a second loop after the selection stores the unmasked probabilities into the weights",
     topk_second_writer},
    {"topk_renorm_skipped", ON_KERNEL,
     "topk: renorm: the kept weights are the probabilities, not divided by their sum",
     topk_renorm_skipped},
    {"topk_renorm_sums_all", ON_KERNEL,
     "topk: renorm: the kept sum adds the dropped experts' probabilities too",
     topk_renorm_sums_all},
    {"liveness_off_by_one", ON_BUFFER,
     "dataflow: liveness one kernel short, tensors last read together share the buffer",
     liveness_off_by_one},
    {"phases_reversed", ON_KERNEL, "dataflow: the fused kernel's phase launches in reverse order",
     phases_reversed},
    {"swapped_with_next", ON_KERNEL,
     "dataflow: launched after the next launch, which reads what it writes", swapped_with_next},
    {"panel_rowmajor", ON_KERNEL,
     "layout: a load of a packed weight panel reads the row-major index instead", panel_rowmajor},
    {"dispatch_slot_plus_1", ON_KERNEL, "dispatch: slots start at 1 (an off-by-one prefix sum)",
     dispatch_slot_plus_1},
    {"dispatch_no_advance", ON_KERNEL,
     "dispatch: the counter does not advance (an expert's kept rows share one slot)",
     dispatch_no_advance},
    {"dispatch_count_plus_1", ON_KERNEL, "dispatch: the count one past the rows listed",
     dispatch_count_plus_1},
    {"dispatch_rows_short", ON_KERNEL, "dispatch: the last row is never listed (capacity B - 1)",
     dispatch_rows_short},
    {"moves_unguarded", ON_KERNEL,
     "dispatch: a gather or scatter uses the slots of dropped rows too", moves_unguarded},
    {"scatter_no_zero", ON_KERNEL, "dispatch: a scatter leaves the dropped rows unwritten",
     scatter_no_zero},
    {"chain_rows_b", ON_KERNEL,
     "dispatch: an expert's chain computes B rows instead of its count[e] gathered ones",
     chain_rows_b},
    {"no_barrier", ON_KERNEL, "race: the barrier between staging and compute dropped", no_barrier},
    {"barrier_divergent", ON_KERNEL,
     "race: the loop with the barriers (or the first barrier) under a guard the last thread fails "
     "(divergent)",
     barrier_divergent},
    {"lds_off_by_one", ON_KERNEL, "bounds: the first shared-memory store's index off by one",
     lds_off_by_one},
    {"tile_overlap", ON_KERNEL,
     "race: workgroups 2i and 2i+1 compute the same output tile (overlapping tiles)", tile_overlap},
    {"sum_unsynced", ON_KERNEL,
     "race: the barrier after the threads read a row's sum dropped (the next tree overwrites it)",
     sum_unsynced},
    {"held_register_swapped", ON_KERNEL,
     "layout: a norm epilogue reads another register of the GEMM's accumulators (rn * 4 + rm)",
     held_register_swapped},
};

/* "expert_0_hidden_1.linear" → "expert_0_hidden_1_linear" (IDs use '.' as separator). */
static void id_part(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s", name);
  for (char *p = out; *p; p++)
    if (*p == '.') *p = '_';
}

typedef tk_status (*visit_fn)(const kind *kd, mctx *c, const tk_mutant *mu, void *user);

static tk_status visit_one(const kind *kd, mctx *c, const char *prefix, const char *place,
                           visit_fn fn, void *user) {
  c->commit = false;
  if (!kd->apply(c)) return tk_ir_module_status(c->m);
  tk_mutant mu;
  char part[128];
  id_part(part, sizeof part, place);
  snprintf(mu.id, sizeof mu.id, "%s%s%s.%s", prefix, *part ? "." : "", part, kd->name);
  snprintf(mu.description, sizeof mu.description, "%s (%s %s)", kd->what, prefix, place);
  return fn(kd, c, &mu, user);
}

/* Calls fn for every applicable (kind, place), in table order, then place order. */
static tk_status visit_all(tk_ir_module *m, visit_fn fn, void *user) {
  for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
    const kind *kd = &KINDS[i];
    mctx c = {.m = m, .buffer = -1, .op = -1};
    if (kd->on == ON_MODULE) TK_RETURN_IF_ERROR(visit_one(kd, &c, "module", "", fn, user));
    for (int b = 0; kd->on == ON_BUFFER && b < m->nbuffers; b++) {
      c.buffer = b;
      TK_RETURN_IF_ERROR(visit_one(kd, &c, "graph", m->buffers[b].name, fn, user));
    }
    for (int o = 0; kd->on == ON_OP && o < m->nops; o++) {
      c.op = o;
      char place[128]; /* op names repeat across a layer's ops: the op id makes the place unique */
      snprintf(place, sizeof place, "op%d.%s", o, m->ops[o].name);
      TK_RETURN_IF_ERROR(visit_one(kd, &c, "graph", place, fn, user));
    }
    for (int t = 0; kd->on == ON_KERNEL && t < TK_IR_NTARGETS; t++)
      for (int k = 0; k < m->targets[t].n; k++) {
        c.k = m->targets[t].items[k];
        TK_RETURN_IF_ERROR(
            visit_one(kd, &c, tk_ir_target_name((tk_ir_target)t), c.k->name, fn, user));
      }
  }
  return TK_STATUS_OK;
}

typedef struct list_acc {
  tk_mutant *items;
  int n, cap;
} list_acc;

static tk_status collect(const kind *kd, mctx *c, const tk_mutant *mu, void *user) {
  (void)kd, (void)c;
  list_acc *l = user;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    tk_mutant *p = tk_realloc(l->items, sizeof *p * (size_t)cap);
    if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "mutant list: out of memory");
    l->items = p;
    l->cap = cap;
  }
  l->items[l->n++] = *mu;
  return TK_STATUS_OK;
}

tk_status tk_verify_mutants_list(tk_ir_module *m, tk_mutant **out, int *n) {
  list_acc l = {0};
  tk_status s = visit_all(m, collect, &l);
  if (s) {
    free(l.items);
    return s;
  }
  *out = l.items;
  *n = l.n;
  return TK_STATUS_OK;
}

typedef struct apply_req {
  const char *id;
  bool done;
  const tk_ir_kernel *kernel; /* the kernel changed, if a kernel kind */
} apply_req;

static tk_status apply_match(const kind *kd, mctx *c, const tk_mutant *mu, void *user) {
  apply_req *r = user;
  if (r->done || strcmp(mu->id, r->id) != 0) return TK_STATUS_OK;
  c->commit = true;
  (void)kd->apply(c);
  r->done = true;
  r->kernel = kd->on == ON_KERNEL ? c->k : NULL;
  return tk_ir_module_status(c->m);
}

tk_status tk_verify_mutant_apply(tk_ir_module *m, const char *id, const tk_ir_kernel **kernel) {
  apply_req r = {.id = id};
  TK_RETURN_IF_ERROR(visit_all(m, apply_match, &r));
  if (kernel) *kernel = r.kernel;
  if (!r.done)
    return tk_status_make(TK_NOT_FOUND,
                          "--mutant '%s': no such mutant for this model "
                          "(list them with `tkc verify ARCH.json --list-mutants`)",
                          id);
  return TK_STATUS_OK;
}
