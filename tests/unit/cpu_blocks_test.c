/* tests/unit/cpu_blocks_test.c — the CPU schedule's row blocks, row tail and router
 * (ir/pass_schedule_cpu.c: phase_block_rows, tail_panels, sink_loop), on nano (128-column
 * layers) and tiny (2,048 columns) with sparse dispatch, at x86-64-v3 and x86-64-v4:
 *   - a launch of a row phase or of a layer narrower than 256 columns works on blocks of 32
 *     rows, so that an expert's ~K·B/E rows make several work items (nano B = 256: 128 rows
 *     per expert were one item, one busy thread); a wide layer keeps the level's blocks (96
 *     rows at x86-64-v3, 128 at x86-64-v4); the counting sort's launch is one work item
 *     holding every expert (as E items it woke a second thread for a few integer steps: nano
 *     at B = 1 was 40 % slower at T = 2);
 *   - a GEMM launch's whole tiles are 6 × 16 at x86-64-v3 (4 × 16 in a narrow layer, whose
 *     32-row blocks 6 does not divide) and 8 × 32 at x86-64-v4;
 *   - every GEMM launch's row tail holds Q × TC accumulators, Q the largest divisor of its
 *     column block's tiles up to TR (a whole tile's worth where that divides: nano at v4, 128
 *     columns in tiles of 8 × 32, holds 128), in panels of TC columns that its reduction loop
 *     unrolls: a one-row tile of TC columns kept a single FMA chain busy;
 *   - the router's per-expert dot products advance together: its reduction loop over the
 *     input holds the vector loop over the experts (one after the other, E chains of dependent
 *     FMAs waited on each other's latency).
 * Answers are unchanged bit for bit (the order of every sum is the same); the conformance
 * tests (session_test) check them against tests/ref at B ∈ {1, 2, 15, 16, 17, 100, 1000}.
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"

enum { NARROW_ROWS = 32, WIDE_COLS = 256 };

/* The blocking each CPU level is meant to have (ir/ir.h, tk_ir_options_cpu_tiles). */
typedef struct level {
  const char *cpu;
  int64_t wide_rows, wide_tile_rows, narrow_tile_rows, tile_cols;
} level;

static const tk_ir_phase *source_phase(const tk_ir_module *m, const tk_ir_kernel *k) {
  if (k->source < 0 || k->source >= m->kernels.n || k->source_phase < 0) return NULL;
  return &m->kernels.items[k->source]->phases[k->source_phase];
}

static bool wide_layer(const tk_ir_phase *ph) {
  return ph->tileable && ph->extents[1]->c >= WIDE_COLS;
}

static int64_t expected_block_rows(const level *lv, const tk_ir_module *m, const tk_ir_kernel *k) {
  const tk_ir_phase *ph = source_phase(m, k);
  if (!ph) return -1;
  if (ph->extents[0]->kind == TK_IX_CONST) return ph->extents[0]->c; /* every expert */
  return wide_layer(ph) ? lv->wide_rows : NARROW_ROWS;
}

static const tk_ir_local *local_named(const tk_ir_kernel *k, const char *name) {
  for (int l = 0; l < k->nlocals; l++)
    if (!strcmp(k->locals[l].name, name)) return &k->locals[l];
  return NULL;
}

typedef struct tail_loops {
  int64_t unrolled; /* extent of the unrolled loop inside the plain reduction loop */
  bool in_plain;
} tail_loops;

/* The row tail's reduction is the reduction loop without a prefetch (prefetch_test). */
static void find_tail_unroll(const tk_ir_stmt *s, void *user) {
  tail_loops *t = user;
  if (s->kind != TK_S_FOR || s->loop != TK_LOOP_REDUCTION || s->prefetch) return;
  const tk_ir_stmt *body = s->body;
  if (body->kind == TK_S_FOR && body->loop == TK_LOOP_UNROLL && body->extent->kind == TK_IX_CONST)
    t->unrolled = body->extent->c;
  t->in_plain = true;
}

/* The columns of one column block: a narrow layer is one block, a wide one cpu_col_blocks
 * (tiny: 2,048 / 4). */
static int64_t block_cols(const tk_ir_module *m, const tk_ir_phase *ph) {
  int64_t n = ph->extents[1]->c;
  return n < WIDE_COLS ? n : n / m->opts.cpu_col_blocks;
}

/* The largest divisor of n (>= 1) up to most (>= 1). */
static int64_t divisor_up_to(int64_t n, int64_t most) {
  int64_t d = most < n ? most : n;
  while (d > 1 && n % d != 0) d--;
  return d;
}

static void check_gemm_tiles(const char *what, const level *lv, const tk_ir_module *m,
                             const tk_ir_kernel *k) {
  const tk_ir_local *acc = local_named(k, "acc"), *tail = local_named(k, "acc_tail");
  const tk_ir_phase *ph = source_phase(m, k); /* reported by expected_block_rows if NULL */
  CHECK_MSG(acc && tail, "%s %s: no acc / acc_tail locals", what, k->name);
  if (!acc || !tail || !ph) return;
  int64_t tr = wide_layer(ph) ? lv->wide_tile_rows : lv->narrow_tile_rows;
  CHECK_MSG(acc->count == tr * lv->tile_cols,
            "%s %s: whole tiles of %lld accumulators, expected %lld x %lld", what, k->name,
            (long long)acc->count, (long long)tr, (long long)lv->tile_cols);
  int64_t cols = block_cols(m, ph);
  CHECK_MSG(cols >= lv->tile_cols, "%s %s: a column block of %lld, narrower than a tile", what,
            k->name, (long long)cols);
  if (cols < lv->tile_cols) return;
  int64_t want = divisor_up_to(cols / lv->tile_cols, tr) * lv->tile_cols;
  CHECK_MSG(tail->count == want,
            "%s %s: the row tail holds %lld accumulators, expected %lld (tiles of %lld x %lld, "
            "a column block %lld)",
            what, k->name, (long long)tail->count, (long long)want, (long long)tr,
            (long long)lv->tile_cols, (long long)cols);
  tail_loops t = {0, false};
  tk_ir_walk_stmts(k->body, find_tail_unroll, &t);
  CHECK_MSG(t.in_plain && t.unrolled > 1 && tail->count % t.unrolled == 0,
            "%s %s: the row tail's reduction unrolls %lld panels, expected several", what, k->name,
            (long long)t.unrolled);
}

static void reduction_over_vector(const tk_ir_stmt *s, void *user) {
  bool *found = user;
  if (s->kind == TK_S_FOR && s->loop == TK_LOOP_REDUCTION && s->body->kind == TK_S_FOR &&
      s->body->loop == TK_LOOP_VECTOR)
    *found = true;
}

static void check_router(const char *what, const tk_ir_module *m) {
  const tk_ir_kernel *k = tk_ir_kernel_find(m, TK_TARGET_CPU, "router");
  CHECK_MSG(k, "%s no cpu kernel router", what);
  bool found = false;
  if (k) tk_ir_walk_stmts(k->body, reduction_over_vector, &found);
  CHECK_MSG(found, "%s router: no reduction loop around a vector loop over the experts", what);
}

static void check_model(const char *model, const level *lv) {
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  CHECK_OK(tkc_ir_options_set_cpu(&o.ir, lv->cpu));
  o.ir.dispatch = TK_DISPATCH_SPARSE;
  tk_ir_module *m = tk_test_build_ir_opts(model, TK_STAGE_CPU, &o.ir);
  if (!m) return;
  char what[64];
  snprintf(what, sizeof what, "%s %s:", model, lv->cpu);
  const tk_ir_kernel_list *list = tk_ir_module_kernels(m, TK_TARGET_CPU);
  int gemms = 0;
  for (int i = 0; list && i < list->n; i++) {
    const tk_ir_kernel *k = list->items[i];
    int64_t want = expected_block_rows(lv, m, k);
    CHECK_MSG(k->launch.block_rows == want, "%s %s: blocks of %lld rows, expected %lld", what,
              k->name, (long long)k->launch.block_rows, (long long)want);
    if (!strcmp(k->name, "dispatch"))
      CHECK_MSG(k->launch.grid->kind == TK_IX_CONST && k->launch.grid->c == 1,
                "%s dispatch: a grid other than one work item", what);
    if (strstr(k->name, "_gemm")) {
      check_gemm_tiles(what, lv, m, k);
      gemms++;
    }
  }
  CHECK_MSG(gemms > 0, "%s no GEMM launch", what);
  check_router(what, m);
  tk_ir_module_free(m);
}

int main(void) {
  const char *models[] = {"nano", "tiny"};
  const level levels[] = {{"x86-64-v3", 96, 6, 4, 16}, {"x86-64-v4", 128, 8, 8, 32}};
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < 2; c++) check_model(models[i], &levels[c]);
  TEST_MAIN_END();
}
