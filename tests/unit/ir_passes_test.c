/* tests/unit/ir_passes_test.c — every model of models/ through every pass with tk_ir_verify
 * after each; hand-broken IR rejected; and one hand-written check per pass:
 *   pad       no live pad/slice op; every read of the caller's input is clamped: evaluated at
 *             every row r < Bp for B = 17 it reads row min(r, 16); every caller's output store
 *             sits under `if r < B`;
 *   fuse      the kernel count and what each kernel contains;
 *   buffers   tensors sharing a buffer have disjoint live ranges (recomputed here);
 *   schedule  at every executed load and store of every gpu and cpu kernel (nano,
 *             custom-small, B = 1 and 17) the scheduled index equals the fused index map
 *             composed with the recorded forward map (for a cpu load of a panel buffer:
 *             that element's place in tk/panel.h's layout; nano's cpu kernels have such
 *             loads, and so do those of tests/archs/custom-out-in.arch.json, whose weights are
 *             stored [out, in] and whose 40-wide layers have a tail panel), and the multiset of (fused store, element) executions equals the
 *             fused kernels' own; the same for the tiled GPU schedule (nano and
 *             custom-small: its staging loads included, and its GEMM launches' norm
 *             epilogues, whose GEMM output stays in registers: the norm's in-place stores
 *             write the elements the fused GEMM's would), with the epilogues' sums through a
 *             shared tree (threads, barriers); Tiny's norms, too wide for an epilogue, run a
 *             workgroup per row; Tiny's GEMM tiles and grids under each tile set (cdna,
 *             rdna, nvidia).
 */
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "compiler/tkc.h"
#include "tests/interp/interp.h"
#include "tk/panel.h"
#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"

static const char *const MODELS[] = {"nano", "tiny", "medium", "full", "dense", "custom-small"};
/* Weights stored [out, in] (weight_layout out_in): its cpu kernels read them from panels too. */
static const char OUT_IN[] = "tests/archs/custom-out-in.arch.json";

/* ---- the tiled schedule's row launches ---- */

typedef struct row_launches {
  int64_t threads, tree_steps; /* per row (a row launch) or per workgroup (an epilogue) */
  int launches;
} row_launches;

static int shared_local(const tk_ir_kernel *k, const char *name) {
  for (int l = 0; l < k->nlocals; l++)
    if (k->locals[l].shared && !strcmp(k->locals[l].name, name)) return l;
  return -1;
}

/* Every norm launch of the tiled schedule runs a workgroup of want->threads per row (grid Bp),
 * reduces its two sums through a shared `red` of one float per thread, and passes
 * 2 * (tree_steps + 2) barriers; no other launch holds `red`. */
static void check_row_launches(const tk_ir_module *m, const char *model, const row_launches *want) {
  int rows = 0;
  for (int i = 0; i < m->targets[TK_TARGET_GPU].n; i++) {
    const tk_ir_kernel *k = m->targets[TK_TARGET_GPU].items[i];
    const char *tail = strrchr(k->name, '_');
    bool norm = tail && !strcmp(tail, "_norm");
    int red = shared_local(k, "red");
    CHECK_MSG(norm == (red >= 0), "%s: %s %s a row launch", model, k->name, norm ? "is not" : "is");
    if (!norm || red < 0) continue;
    rows++;
    CHECK_MSG(k->launch.workgroup_size == want->threads && k->locals[red].count == want->threads,
              "%s: %s: %lld threads, red[%lld], expected %lld", model, k->name,
              (long long)k->launch.workgroup_size, (long long)k->locals[red].count,
              (long long)want->threads);
    CHECK_MSG(k->launch.grid->kind == TK_IX_SYM && k->launch.grid->sym == TK_SYM_BP,
              "%s: %s: the grid is not Bp", model, k->name);
    int64_t barriers = tk_ir_stmt_barriers(k->body->body->body); /* one thread's */
    CHECK_MSG(barriers == 2 * (want->tree_steps + 2), "%s: %s: %lld barriers, expected %lld", model,
              k->name, (long long)barriers, (long long)(2 * (want->tree_steps + 2)));
  }
  CHECK_MSG(rows == want->launches, "%s: %d row launches, expected %d", model, rows,
            want->launches);
}

/* Where a GEMM's tile spans whole rows, its norm runs in the GEMM's launch as the epilogue:
 * every launch holding `red` runs two phases (GEMM, norm), a tile of 16 rows x all columns
 * with want->threads threads (grid Bp / 16), reduces each row's two sums through `red`, one
 * float per register row and thread, in 2 * (tree_steps + 2) barriers after the K-slices; no
 * norm launch of its own is left. */
static void check_epilogue_launches(const tk_ir_module *m, const char *model,
                                    const row_launches *want) {
  int fused = 0;
  for (int i = 0; i < m->targets[TK_TARGET_GPU].n; i++) {
    const tk_ir_kernel *k = m->targets[TK_TARGET_GPU].items[i];
    const char *tail = strrchr(k->name, '_');
    CHECK_MSG(!tail || strcmp(tail, "_norm"), "%s: %s is a norm launch of its own", model, k->name);
    int red = shared_local(k, "red");
    CHECK_MSG((red >= 0) == (k->source_phases == 2), "%s: %s: red %s, %d phases", model, k->name,
              red >= 0 ? "held" : "absent", k->source_phases);
    if (red < 0) continue;
    fused++;
    const tk_ir_phase *gemm = &m->kernels.items[k->source]->phases[k->source_phase];
    CHECK_MSG(k->launch.tile.rows == 16 && k->launch.tile.cols == gemm->extents[1]->c,
              "%s: %s: tile %lld x %lld, expected 16 rows x all %lld columns", model, k->name,
              (long long)k->launch.tile.rows, (long long)k->launch.tile.cols,
              (long long)gemm->extents[1]->c);
    CHECK_MSG(k->launch.workgroup_size == want->threads &&
                  k->locals[red].count == k->launch.tile.reg_rows * want->threads,
              "%s: %s: %lld threads, red[%lld], expected %lld and %lld", model, k->name,
              (long long)k->launch.workgroup_size, (long long)k->locals[red].count,
              (long long)want->threads, (long long)(k->launch.tile.reg_rows * want->threads));
    const tk_ir_stmt *thread = k->body->body->body;
    int64_t epilogue = thread->kind == TK_S_BLOCK && thread->n
                           ? tk_ir_stmt_barriers(thread->stmts[thread->n - 1])
                           : -1;
    CHECK_MSG(epilogue == 2 * (want->tree_steps + 2),
              "%s: %s: %lld epilogue barriers, expected %lld", model, k->name, (long long)epilogue,
              (long long)(2 * (want->tree_steps + 2)));
  }
  CHECK_MSG(fused == want->launches, "%s: %d GEMM launches with a norm epilogue, expected %d",
            model, fused, want->launches);
}

/* ---- pad ---- */

typedef struct clamp_ctx {
  const tk_ir_module *m;
  const tk_ir_kernel *k;
  const tk_ir_phase *ph;
  int loads, bad;
} clamp_ctx;

static void check_input_load(const tk_ir_val *v, const tk_ir_stmt *owner, void *user) {
  clamp_ctx *c = user;
  (void)owner;
  if (v->op != TK_V_LOAD || c->k->args[v->arg].role != TK_ROLE_IN) return;
  int64_t *vals = calloc((size_t)c->m->nvars, sizeof *vals); /* other variables (k) at 0 */
  tk_ix_env env = {.B = 17, .Bp = 32, .vals = vals};
  for (int64_t r = 0; vals && r < 32; r++) {
    vals[c->ph->vars[0]->id] = r;
    int64_t row = tk_ir_ix_eval(v->ix, &env) / c->k->args[v->arg].cols;
    if (row != (r < 16 ? r : 16)) c->bad++;
  }
  free(vals);
  c->loads++;
}

static int guarded_output_stores(const tk_ir_kernel *k, const tk_ir_stmt *s, bool guarded,
                                 const tk_ir_var *r) {
  switch (s->kind) {
    case TK_S_BLOCK: {
      int bad = 0;
      for (int i = 0; i < s->n; i++) bad += guarded_output_stores(k, s->stmts[i], guarded, r);
      return bad;
    }
    case TK_S_FOR: return guarded_output_stores(k, s->body, guarded, r);
    case TK_S_IF:
      return guarded_output_stores(
          k, s->body,
          guarded || (s->lhs->kind == TK_IX_VAR && s->lhs->var == r && s->rhs->kind == TK_IX_SYM &&
                      s->rhs->sym == TK_SYM_B && s->cmp == TK_CMP_LT),
          r);
    case TK_S_STORE: return k->args[s->arg].role == TK_ROLE_OUT && !guarded;
    default: return 0;
  }
}

static void check_padding(const tk_ir_module *m) {
  for (int i = 0; i < m->nops; i++)
    CHECK(m->ops[i].dead ||
          (m->ops[i].kind != TK_OP_PAD_ROWS && m->ops[i].kind != TK_OP_SLICE_ROWS));
  clamp_ctx c = {.m = m};
  for (int i = 0; i < m->kernels.n; i++) {
    c.k = m->kernels.items[i];
    for (int p = 0; p < c.k->nphases; p++) {
      c.ph = &c.k->phases[p];
      tk_ir_walk_vals(c.ph->body, check_input_load, &c);
      CHECK_MSG(guarded_output_stores(c.k, c.ph->body, false, c.ph->vars[0]) == 0,
                "kernel %s writes an output row >= B", c.k->name);
    }
  }
  CHECK(c.loads > 0);
  CHECK_MSG(c.bad == 0, "%d unclamped input rows", c.bad);
}

/* ---- fuse ---- */

static int count_top_reductions(const tk_ir_stmt *s) {
  int n = 0;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++)
    n += s->stmts[i]->kind == TK_S_FOR && s->stmts[i]->loop == TK_LOOP_REDUCTION;
  return n;
}

static void phases_are(const tk_ir_kernel *k, const char *a, const char *b, const char *c) {
  const char *want[3] = {a, b, c};
  int n = c ? 3 : b ? 2 : 1;
  CHECK_MSG(k->nphases == n, "kernel %s has %d phases, want %d", k->name, k->nphases, n);
  for (int i = 0; i < n && i < k->nphases; i++)
    CHECK_MSG(!strcmp(k->phases[i].name, want[i]), "kernel %s phase %d is %s, want %s", k->name, i,
              k->phases[i].name, want[i]);
}

static void check_fusion(const tk_ir_module *m) {
  const tk_arch *a = &m->arch;
  char name[64];
  if (a->model_kind == TK_MODEL_DENSE) {
    CHECK(m->kernels.n == a->expert_depth + 2);
    phases_are(tk_ir_kernel_find(m, TK_TARGET_NONE, "dense_in"), "gemm", "norm", NULL);
    for (int l = 1; l <= a->expert_depth; l++) {
      snprintf(name, sizeof name, "dense_block_%d", l);
      const tk_ir_kernel *k = tk_ir_kernel_find(m, TK_TARGET_NONE, name);
      CHECK_MSG(k != NULL, "no kernel %s", name);
      if (k) phases_are(k, "norm", "gemm", "gemm_2");
    }
    phases_are(tk_ir_kernel_find(m, TK_TARGET_NONE, "dense_out"), "gemm", NULL, NULL);
    return;
  }
  CHECK(m->kernels.n == 2 + a->n_experts * (a->expert_depth + 1));
  const tk_ir_kernel *router = m->kernels.items[0], *comb = m->kernels.items[m->kernels.n - 1];
  CHECK(!strcmp(router->name, "router") && !strcmp(comb->name, "combine"));
  phases_are(router, "route", NULL, NULL);
  phases_are(comb, "combine", NULL, NULL);
  CHECK(count_top_reductions(comb->phases[0].body) == a->n_experts); /* one head per expert */
  for (int e = 0; e < a->n_experts; e++)
    for (int l = 0; l <= a->expert_depth; l++) {
      if (l == 0)
        snprintf(name, sizeof name, "expert_%d_in", e);
      else
        snprintf(name, sizeof name, "expert_%d_hidden_%d", e, l);
      const tk_ir_kernel *k = tk_ir_kernel_find(m, TK_TARGET_NONE, name);
      CHECK_MSG(k != NULL, "no kernel %s", name);
      if (k) phases_are(k, "gemm", "norm", NULL);
    }
}

/* ---- buffers ---- */

static void check_buffers(const tk_ir_module *m) {
  int *first = malloc(sizeof(int) * (size_t)m->ntensors),
      *last = malloc(sizeof(int) * (size_t)m->ntensors);
  if (!first || !last) {
    free(first);
    free(last);
    CHECK(!"out of memory");
    return;
  }
  for (int t = 0; t < m->ntensors; t++) first[t] = last[t] = -1;
  for (int i = 0; i < m->kernels.n; i++) {
    const tk_ir_kernel *k = m->kernels.items[i];
    for (int a = 0; a < k->nargs; a++) {
      int t = k->args[a].tensor;
      if (first[t] < 0) first[t] = i;
      last[t] = i;
      const tk_ir_buffer *b = &m->buffers[k->args[a].buffer];
      bool holds = false;
      for (int j = 0; j < b->ntensors; j++) holds |= b->tensors[j] == t;
      CHECK_MSG(holds, "buffer @%s does not list %s", b->name, k->args[a].name);
    }
  }
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    for (int x = 0; x < b->ntensors; x++)
      for (int y = x + 1; y < b->ntensors; y++) {
        int p = b->tensors[x], q = b->tensors[y];
        CHECK_MSG(last[p] < first[q] || last[q] < first[p],
                  "@%s: %s [%d, %d] and %s [%d, %d] are live together", b->name, m->tensors[p].name,
                  first[p], last[p], m->tensors[q].name, first[q], last[q]);
      }
  }
  free(first);
  free(last);
}

/* ---- schedules: composition and coverage through the interpreter ---- */

typedef struct event {
  const void *stmt;
  int64_t index, row;
} event;

typedef struct trace {
  const tk_ir_module *m;
  event *ev;
  size_t n, cap;
  int64_t *scratch;
  tk_ix_env env;
  long checked, wrong, panel_loads;
} trace;

static void record(trace *t, const void *stmt, int64_t index, int64_t row) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 4096;
    event *ev = realloc(t->ev, cap * sizeof *ev);
    if (!ev) return;
    t->ev = ev;
    t->cap = cap;
  }
  t->ev[t->n++] = (event){stmt, index, row};
}

/* The fused index of `origin_ix` at this scheduled point: phase variables from the subst. */
static int64_t composed(trace *t, const tk_ix *origin_ix, const tk_ir_subst *s,
                        const int64_t *vals) {
  memcpy(t->scratch, vals, sizeof *vals * (size_t)t->m->nvars);
  tk_ix_env cur = {.B = t->env.B, .Bp = t->env.Bp, .vals = vals};
  for (int i = 0; s && i < s->n; i++) t->scratch[s->from[i]->id] = tk_ir_ix_eval(s->to[i], &cur);
  return tk_ir_ix_eval(origin_ix, &t->env);
}

static void on_store(void *user, const tk_ir_kernel *k, const tk_ir_stmt *s, int64_t index,
                     const int64_t *vals) {
  trace *t = user;
  int64_t row = index / k->args[s->arg].cols;
  if (k->target == TK_TARGET_NONE) {
    record(t, s, index, row);
    return;
  }
  t->checked++;
  if (!s->origin || composed(t, s->origin->ix, s->subst, vals) != index) t->wrong++;
  record(t, s->origin, index, row);
}

/* A CPU load of a panel buffer reads the element in its packed place (tk/panel.h). */
static int64_t placed(const tk_ir_module *m, const tk_ir_kernel *k, const tk_ir_val *v,
                      int64_t element) {
  const tk_ir_buffer *b = &m->buffers[k->args[v->arg].buffer];
  if (k->target != TK_TARGET_CPU || !b->panel_width) return element;
  int64_t cols = b->panel_cols, rows = b->count->c / cols;
  if (b->panel_out_in) /* stored [N, K]: element j*K + k */
    return tk_panel_offset(rows, cols, b->panel_width, element % rows, element / rows);
  return tk_panel_offset(rows, cols, b->panel_width, element / cols, element % cols);
}

static void on_load(void *user, const tk_ir_kernel *k, const tk_ir_stmt *owner, const tk_ir_val *v,
                    int64_t index, const int64_t *vals) {
  trace *t = user;
  if (k->target == TK_TARGET_NONE) return;
  t->checked++;
  if (!v->origin || placed(t->m, k, v, composed(t, v->origin->ix, owner->subst, vals)) != index)
    t->wrong++;
  t->panel_loads += k->target == TK_TARGET_CPU && t->m->buffers[k->args[v->arg].buffer].panel_width;
}

static int cmp_event(const void *a, const void *b) {
  const event *x = a, *y = b;
  if (x->stmt != y->stmt) return (uintptr_t)x->stmt < (uintptr_t)y->stmt ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static bool run_traced(const tk_ir_module *m, tk_ir_target target, int64_t B, trace *t) {
  double **bufs = calloc((size_t)m->nbuffers, sizeof *bufs);
  bool ok = bufs != NULL;
  for (int i = 0; ok && i < m->nbuffers; i++)
    ok = (bufs[i] = calloc((size_t)tk_interp_buffer_count(m, i, B) + 1, sizeof(double))) != NULL;
  tk_interp_hooks hooks = {on_store, on_load, t};
  if (ok) CHECK_OK(tk_interp_run(m, target, B, bufs, &hooks));
  for (int i = 0; bufs && i < m->nbuffers; i++) free(bufs[i]);
  free(bufs);
  qsort(t->ev, t->n, sizeof *t->ev, cmp_event);
  return ok;
}

/* The fused kernels' stores to rows < rows, in place (events stay sorted). */
static size_t keep_rows_below(event *ev, size_t n, int64_t rows) {
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].row < rows) ev[kept++] = ev[i];
  return kept;
}

/* A tiled GEMM launch with a norm epilogue keeps the GEMM's output in its accumulators: the
 * fused GEMM's stores do not run. Checks that in the fused kernels the norm's in-place stores
 * write exactly the elements the GEMM's do (so nothing is lost), and drops the GEMM's from ev
 * (sorted by statement); the comparison after it checks the schedule's stores. */
static size_t drop_held_stores(const tk_ir_module *m, const char *model, event *ev, size_t n) {
  for (int i = 0; i < m->targets[TK_TARGET_GPU].n; i++) {
    const tk_ir_kernel *k = m->targets[TK_TARGET_GPU].items[i];
    if (k->source_phases != 2) continue;
    const tk_ir_kernel *f = m->kernels.items[k->source];
    const tk_ir_stmt *gemm = f->phases[k->source_phase].body,
                     *norm = f->phases[k->source_phase + 1].body;
    while (gemm->kind == TK_S_IF) gemm = gemm->body;
    while (norm->kind == TK_S_IF) norm = norm->body;
    const tk_ir_stmt *held = gemm->stmts[gemm->n - 1], *out = norm->stmts[norm->n - 1]->body;
    out = out->kind == TK_S_BLOCK ? out->stmts[out->n - 1] : out;
    size_t a = 0, b = 0, na = 0, nb = 0;
    for (size_t e = 0; e < n; e++) {
      if (ev[e].stmt == held && !na++) a = e;
      if (ev[e].stmt == out && !nb++) b = e;
    }
    bool same = na == nb;
    for (size_t e = 0; same && e < na; e++) same = ev[a + e].index == ev[b + e].index;
    CHECK_MSG(same, "%s: %s: the fused GEMM stores %zu elements, its norm %zu (or others)", model,
              k->name, na, nb);
    size_t kept = 0;
    for (size_t e = 0; e < n; e++)
      if (ev[e].stmt != held) ev[kept++] = ev[e];
    n = kept;
  }
  return n;
}

/* The GPU schedules store exactly what the fused kernels do (every row < Bp); the CPU
 * schedule exactly the part of it in rows < B, the real rows (issue 13 item 2: no padding
 * work on the CPU; the row tail computes the last B mod TR rows one at a time). */
static void check_schedules(const tk_ir_module *m, const char *model, int64_t B) {
  trace fused = {.m = m}, sched[TK_IR_NTARGETS] = {{.m = m}, {.m = m}};
  int64_t *scratch = calloc((size_t)m->nvars, sizeof *scratch);
  run_traced(m, TK_TARGET_NONE, B, &fused);
  event *all = malloc(fused.n * sizeof *all + 1);
  size_t nall = fused.n;
  if (all && fused.n) memcpy(all, fused.ev, fused.n * sizeof *all);
  for (int t = 0; scratch && all && t < TK_IR_NTARGETS; t++) {
    memcpy(fused.ev, all, nall * sizeof *all);
    fused.n = nall;
    if (t == TK_TARGET_GPU) fused.n = drop_held_stores(m, model, fused.ev, fused.n);
    if (t == TK_TARGET_CPU) fused.n = keep_rows_below(fused.ev, fused.n, B);
    sched[t].scratch = scratch;
    sched[t].env = (tk_ix_env){.B = B, .Bp = tk_ir_ix_bp_of(B), .vals = scratch};
    run_traced(m, (tk_ir_target)t, B, &sched[t]);
    CHECK_MSG(sched[t].checked > 0 && sched[t].wrong == 0,
              "%s %s B=%lld: %ld of %ld accesses break the composition", model,
              tk_ir_target_name((tk_ir_target)t), (long long)B, sched[t].wrong, sched[t].checked);
    bool packs = !strcmp(model, "nano") || !strcmp(model, OUT_IN);
    CHECK_MSG(t != TK_TARGET_CPU || !packs || sched[t].panel_loads > 0,
              "%s cpu B=%lld: no load of a panel buffer executed", model, (long long)B);
    bool same = sched[t].n == fused.n &&
                (fused.n == 0 || !memcmp(sched[t].ev, fused.ev, fused.n * sizeof *fused.ev));
    CHECK_MSG(
        same,
        "%s %s B=%lld: %zu store executions, the fused kernels do %zu (or different elements)",
        model, tk_ir_target_name((tk_ir_target)t), (long long)B, sched[t].n, fused.n);
    free(sched[t].ev);
  }
  free(all);
  free(fused.ev);
  free(scratch);
}

/* ---- the checker rejects broken IR ---- */

static void check_rejects(void) {
  tk_ir_module *m = tk_test_build_ir("nano", TK_STAGE_FUSED);
  if (!m) return;
  tk_ir_kernel *k = m->kernels.items[1];
  tk_ir_phase *ph = &k->phases[0];
  const tk_ir_stmt *good = ph->body;
  const tk_ir_var *stray = tk_ir_var_new(m, "stray", NULL);
  ph->body = tk_ir_stmt_store(m, 0, tk_ir_ix_var(m, stray), tk_ir_val_f32(m, 1));
  CHECK_ERR(tk_ir_verify(m), "not bound");
  ph->body = tk_ir_stmt_store(m, 0, tk_ir_ix_var(m, ph->vars[0]), tk_ir_val_i32(m, 1));
  CHECK_ERR(tk_ir_verify(m), "value is i32, buffer is f32");
  ph->body = tk_ir_stmt_store(m, k->nargs - 1, tk_ir_ix_var(m, ph->vars[0]), tk_ir_val_f32(m, 1));
  CHECK_ERR(tk_ir_verify(m), "store to");
  ph->body = good;
  CHECK_OK(tk_ir_verify(m));
  tk_ir_module_free(m);
}

/* Tiny's GEMM launches under each tile set (docs/ir.md "Tiles per target"): 16 x 64 tiles of
 * 64 threads with K-slices of 16 (cdna), 16 x 32 of 32 threads (rdna), 16 x 128 of 128
 * threads with K-slices of 32 (nvidia); one per layer and expert (Tiny's 2,048 and 96 divide
 * each), the grid covering every column tile of Bp rows; the same row launches in every set. */
static void check_tile_sets(void) {
  static const struct {
    tk_ir_gpu_tile_set set;
    int64_t cols, kslice;
  } want[] = {
      {TK_GPU_TILES_CDNA, 64, 16}, {TK_GPU_TILES_RDNA, 32, 16}, {TK_GPU_TILES_NVIDIA, 128, 32}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    tkc_ir_options o;
    tkc_ir_options_default(&o);
    o.ir.dispatch = TK_DISPATCH_SPARSE;
    o.ir.gpu_schedule = TK_GPU_SCHEDULE_TILED;
    o.ir.gpu_tiles = want[i].set;
    tk_ir_module *m = tk_test_build_ir_opts("tiny", TK_STAGE_GPU, &o.ir);
    const char *set = tk_ir_gpu_tile_set_name(want[i].set);
    int gemms = 0;
    for (int k = 0; m && k < m->targets[TK_TARGET_GPU].n; k++) {
      const tk_ir_kernel *g = m->targets[TK_TARGET_GPU].items[k];
      const tk_ir_gpu_tile *t = &g->launch.tile;
      if (!t->rows) continue;
      gemms++;
      CHECK_MSG(t->rows == 16 && t->cols == want[i].cols && t->kslice == want[i].kslice &&
                    t->reg_rows == 4 && t->reg_cols == 4 &&
                    g->launch.workgroup_size == want[i].cols,
                "tiny %s: %s has tile %lld x %lld, k-slice %lld, %lld threads", set, g->name,
                (long long)t->rows, (long long)t->cols, (long long)t->kslice,
                (long long)g->launch.workgroup_size);
      int64_t grid = tk_ir_ix_eval(g->launch.grid, &(tk_ix_env){.B = 100, .Bp = 112});
      CHECK_MSG(grid == 112 / 16 * (2048 / want[i].cols), "tiny %s: %s grid %lld at Bp 112", set,
                g->name, (long long)grid);
    }
    CHECK_MSG(gemms == 4 * 6, "tiny %s: %d tiled GEMM launches, expected 24", set, gemms);
    if (m) check_row_launches(m, set, &(row_launches){256, 8, 4 * 6});
    tk_ir_module_free(m);
  }
}

int main(void) {
  for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) {
    tk_ir_module *m = tk_test_build_ir(MODELS[i], TK_STAGE_CPU);
    if (!m) continue;
    check_padding(m);
    check_fusion(m);
    check_buffers(m);
    /* both schedules launch every phase of every fused kernel once */
    CHECK(m->targets[TK_TARGET_CPU].n == m->targets[TK_TARGET_GPU].n);
    if (!strcmp(MODELS[i], "nano") || !strcmp(MODELS[i], "custom-small")) {
      check_schedules(m, MODELS[i], 1);  /* the row tail alone */
      check_schedules(m, MODELS[i], 16); /* whole row tiles alone */
      check_schedules(m, MODELS[i], 67); /* a second row block with a 3-row tail */
    }
    tk_ir_module_free(m);
  }
  tk_ir_module *m = tk_test_build_ir(OUT_IN, TK_STAGE_CPU);
  int out_in_panels = 0;
  for (int b = 0; m && b < m->nbuffers; b++) out_in_panels += m->buffers[b].panel_out_in;
  CHECK_MSG(out_in_panels == 3 * 2,
            "%s: %d buffers packed from out_in, expected 6 (two weights "
            "40 wide per expert)",
            OUT_IN, out_in_panels);
  for (int64_t B = 1; m && B <= 67; B += 33) check_schedules(m, OUT_IN, B);
  tk_ir_module_free(m);
  const char *tiled[] = {"nano", "custom-small"};
  /* hidden 128 and 64: a 16-row tile of whole rows, 4 x 4 registers a thread, so 4 x 32 and
   * 4 x 16 threads, each row's columns over 32 and 16 of them; an epilogue per layer
   * (depth + 1) and expert; two sums (mean, variance), each a partial-sum loop, one barrier
   * after the shared stores, one per tree step (log2 of the threads per row) and one after
   * the sums are read */
  const row_launches want[] = {{128, 5, 4 * 3}, {64, 4, 6 * 2}};
  for (size_t i = 0; i < 2; i++) {
    m = tk_test_build_ir_with(tiled[i], TK_STAGE_CPU, TK_DISPATCH_SPARSE, TK_GPU_SCHEDULE_TILED);
    if (m) check_epilogue_launches(m, tiled[i], &want[i]);
    tk_ir_module_free(m);
  }
  /* Tiny's hidden 2,048 makes a whole-row tile 2,048 threads, over the epilogue's 256: its
   * norms run a workgroup of 256 threads per row (8 columns each), 8 tree steps; one per
   * layer (depth 5 + 1) and expert */
  m = tk_test_build_ir_with("tiny", TK_STAGE_GPU, TK_DISPATCH_SPARSE, TK_GPU_SCHEDULE_TILED);
  if (m) check_row_launches(m, "tiny", &(row_launches){256, 8, 4 * 6});
  tk_ir_module_free(m);
  check_tile_sets();
  for (size_t i = 0; i < 2; i++) {
    /* dense: this trace evaluates the fused index maps without the data sparse dispatch's
     * gathers read (ir_interp_test runs the tiled schedule with sparse dispatch) */
    m = tk_test_build_ir_with(tiled[i], TK_STAGE_CPU, TK_DISPATCH_DENSE, TK_GPU_SCHEDULE_TILED);
    int n = 0;
    for (int k = 0; m && k < m->targets[TK_TARGET_GPU].n; k++)
      n += m->targets[TK_TARGET_GPU].items[k]->launch.tile.rows > 0;
    CHECK_MSG(n > 0, "%s: no tiled GPU launch", tiled[i]);
    for (int64_t B = 1; m && B <= 67; B += 33) check_schedules(m, tiled[i], B);
    tk_ir_module_free(m);
  }
  check_rejects();
  TEST_MAIN_END();
}
