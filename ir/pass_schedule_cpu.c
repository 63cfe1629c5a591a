/* ir/pass_schedule_cpu.c — the CPU schedule (GPU → CPU): row blocks, column blocks, register
 * tiles, vector lanes.
 *
 * One launch per phase of every fused kernel, named like the GPU's (`<kernel>_<phase>` when
 * it has several): a GEMM phase split over columns must finish before the row phase that
 * normalises its rows. The thread pool's work item is the bound loop's index.
 * The CPU computes no padding rows (issue 13 item 2): exactly the B real rows. A row phase
 * guards each row (`if row < B`); a tileable phase computes the whole TR-row tiles below
 * Bf = TR * (B div TR) (`if first row < Bf`, per row tile) and then the row tail, the rows
 * Bf .. B - 1 (one row at a time, or by pairs: paired_row_tail). The kernels'
 * writes_rows_lt(a, B) contracts say which rows they write, and the dataflow class proves that
 * every later read stays below B. Sparse dispatch (docs/ir.md): an expert chain's phase is
 * `if r < count[e] { .. }` and computes count[e] rows in place of B (peel_row_guard; its
 * contracts say rows < count[e]), its row loop and its whole row tiles inside
 * `if rb*BR < count[e]` (in_rows_block); the counting sort's phase (one point per expert) runs as
 * one work item, `for w in 0..1 @cpu_block { for ei in 0..E serial }` (expert_phase).
 *   row phase (r):     `for rb in 0..(B + BR - 1) div BR @cpu_block`, split r -> rb, rr by BR;
 *                      rr serial; inner parallel loops → vector
 *   tileable (r, j):   work items w = rb * CB + cb over the (B + BR - 1) div BR row blocks and
 *                      CB column blocks (cpu_col_blocks, 4, or fewer for narrow layers: at
 *                      B <= BR the threads still share the layer's columns, issue 13 item 5).
 *                      split r -> rb, rt, ri (BR, TR rows); split j -> jt, jj by TC with the
 *                      last N mod TC columns peeled into a tail region jl (in the last column
 *                      block); split jt -> cb, jg by G tiles per block; the point's locals are
 *                      expanded per tile point (TR*TC copies: acc[ri*TC + jj]); the tile loops
 *                      `for ri unroll { for jj vector { .. } }` are sunk into every reduction
 *                      loop (interchange), so the k loop is outside and the TR×TC accumulators
 *                      stay in registers. The column tile loop is outside the row tile loop,
 *                      so the K×TC weight panel of one tile is reused from cache by the
 *                      block's BR/TR row tiles:
 *     for w @cpu_block {
 *       for jg { [if (w mod CB)*G + jg < N div TC] { for rt { [if first row < Bf] {
 *         for ri { for jj { acc[ri*TC+jj] = b[j] } }
 *         for k { for ri { for jj { acc[..] = fma(x[r, k], W[k, j], acc[..]) } } }
 *         for ri { for jj { out[r, j] = epilogue(acc[..]) } } } }
 *         if Bf < B { if Bf div BR == rb { for ri { if Bf + ri < B { 1×TC tile } } } } } }
 *       if w mod CB == CB - 1 { tail: for rt { the same with jl < N mod TC } } }
 *   When the blocks are exact, the row tail takes Q panels at once (Q the largest divisor of G
 *   up to TR, tail_panels): split jt -> jh, jg by Q and jh -> cb, jq by G/Q, and
 *       for jq { for jg { for rt { whole tiles of tile (w mod CB)*G + jq*Q + jg } }
 *         if Bf < B { .. for ri { if Bf + ri < B { 1×(Q·TC) tile, `for jg unroll` } } } }
 *   and with TR >= 3 that tail goes by row pairs, its last row alone when the rows are odd:
 *         if Bf < B { .. for rp { if Bf + 2·rp + 1 < B { 2×(Qp·TC) tiles }
 *                                 if Bf + 2·rp + 1 == B { 1×(Q·TC) tile } } }
 *   A guard whose condition does not depend on j (r < B) is hoisted out of the lane loop.
 *   Weights read only as W[k, j] by tiles come from column panels (below, tk/panel.h), which
 *   the whole tiles' k loops prefetch PREFETCH_BYTES ahead (`for k .. reduction prefetch N span S`).
 * Every scheduled variable records its inverse over the phase space (w = (r div BR)*CB +
 * j div (G*TC), rb = r div BR, rt = (r mod BR) div TR, ri = r mod TR, jt = j div TC, cb = j div
 * (G*TC), jg = (j div TC) mod G, jj = j mod TC, jl = j - TC*(N div TC); with Q panels jh = j div
 * (Q*TC), jq = (j div (Q*TC)) mod (G/Q), jg = (j div TC) mod Q; a pair tail's rp = (r mod TR)
 * div 2, rq = (r mod TR) mod 2, qh = ((j div TC) mod Q) div Qp, qg = (j div TC) mod Qp), every
 * copied access
 * its origin and forward substitution. BR, TR, TC come from tk_ir_options
 * (tkc_ir_options_set_cpu, compiler/driver.c, picks them per --cpu); a phase with several
 * reductions takes fewer tile rows (phase_tile_rows), a row phase or a narrow layer fewer
 * block rows (phase_block_rows) and, where TR does not divide them, fewer tile rows.
 */
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"

typedef struct cpu_ctx {
  tk_ir_module *m;
  const tk_ir_kernel *src;
  tk_ir_kernel *k;
  int pi;                 /* phase being scheduled */
  const tk_ir_var *bound; /* the launch's cpu_block loop variable */
  const tk_ix *row_block; /* the work item's row block (bound, or bound div CB) */
  const tk_ix *rows;      /* B: the rows computed */
  const tk_ix *full_rows; /* Bf = TR * (B div TR): the rows of whole row tiles */
  int64_t tile_rows;      /* TR of this phase (phase_tile_rows) */
  int64_t block_rows;     /* BR of this phase (phase_block_rows) */
  const int *arg_map;
  int *local_map;
  int *tail_local_map; /* the row tail's own copies of the tile locals */
  int *pair_local_map; /* the row tail's row pairs' (tail_pairs) */
  bool *used;
} cpu_ctx;

static const tk_ir_loop_kind vector_inner[] = {
    [TK_LOOP_SERIAL] = TK_LOOP_SERIAL,       [TK_LOOP_PARALLEL] = TK_LOOP_VECTOR,
    [TK_LOOP_REDUCTION] = TK_LOOP_REDUCTION, [TK_LOOP_UNROLL] = TK_LOOP_UNROLL,
    [TK_LOOP_VECTOR] = TK_LOOP_VECTOR,
};

static void step(cpu_ctx *c, tk_ir_sched_step s) {
  s.phase = c->pi;
  tk_ir_kernel_step(c->m, c->k, s);
}

static const tk_ix *V(cpu_ctx *c, const tk_ir_var *v) { return tk_ir_ix_var(c->m, v); }
static const tk_ix *K(cpu_ctx *c, int64_t v) { return tk_ir_ix_const(c->m, v); }

/* `lhs < rhs` around body, recorded as a schedule step. */
static const tk_ir_stmt *guard(cpu_ctx *c, const tk_ix *lhs, const tk_ix *rhs,
                               const tk_ir_stmt *body) {
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_GUARD, .lhs = lhs, .rhs = rhs});
  return tk_ir_stmt_if(c->m, lhs, TK_CMP_LT, rhs, body);
}

static bool phase_locals(cpu_ctx *c, const tk_ir_phase *ph, int64_t expand) {
  for (int l = 0; l < c->src->nlocals; l++) c->used[l] = false;
  tk_ir_stmt_uses(ph->body, NULL, c->used);
  return tk_ir_sched_copy_locals(c->m, c->src, c->k, c->used, expand, c->local_map) != NULL;
}

/* A copy of the tile locals named `<name><suffix>` (expand copies) apart from the whole tiles':
 * the row tail's (`_tail`, one row of Q panels) or its row pairs' (`_pair`). */
static bool suffixed_locals(cpu_ctx *c, int64_t expand, int *map, const char *suffix) {
  if (!tk_ir_sched_copy_locals(c->m, c->src, c->k, c->used, expand, map)) return false;
  for (int l = 0; l < c->src->nlocals; l++) {
    if (!c->used[l]) continue;
    tk_ir_local *tl = &c->k->locals[map[l]];
    tl->name = tk_ir_strfmt(c->m, "%s%s", tl->name, suffix);
    step(c, (tk_ir_sched_step){.kind = TK_SCHED_EXPAND, .local = tl->id, .factor = expand});
  }
  return true;
}

/* (B + BR - 1) div BR: the row blocks that hold a real row. */
static const tk_ix *row_blocks(tk_ir_module *m, int64_t br) {
  return tk_ir_ix_div(m, tk_ir_ix_add(m, tk_ir_ix_sym(m, TK_SYM_B), tk_ir_ix_const(m, br - 1)), br);
}

/* ---- row reductions in vector lanes ----
 * A row phase's `for j in 0..N reduction { L = L + e(j) }` (or `L = fma(a(j), b(j), L)`), L a
 * scalar local, is a chain of N dependent adds, 4 cycles each (Tiny x86-64-v4, B = 256: 9 % of
 * the forward). With V = REDUCTION_LANES dividing N it becomes V partial sums, added pairwise
 * (a tree of log2 V dependent adds: the lane-order chain of V adds cost 16 % of nano's norm
 * launches at B = 16) and then to L:
 *   for v vector { L_part[v] = 0 }
 *   for jo in 0..N/V serial { for v vector { L_part[v] = L_part[v] + e(jo*V + v) } }
 *   for h in V/2, V/4, .., 1: for v in 0..h vector { L_part[v] = L_part[v] + L_part[v + h] }
 *   L = L + L_part[0]
 * (split j -> jo, v by V). The sum is reassociated, in a fixed order per row: bitwise the same
 * for any thread count and batch split, within the reference tolerance (docs/formats.md §3). */

static bool val_uses_local(const tk_ir_val *v, int local) {
  if (!v) return false;
  if (v->op == TK_V_LOCAL_LOAD && v->local == local) return true;
  return val_uses_local(v->a, local) || val_uses_local(v->b, local) || val_uses_local(v->c, local);
}

/* The accumulated local of `L = L + e` / `L = fma(a, b, L)` (L a scalar f32 local, e, a, b
 * free of L), or -1. */
static int reduced_local(const tk_ir_kernel *src, const tk_ir_stmt *s) {
  if (s->kind != TK_S_LOCAL_STORE || src->locals[s->local].count != 1 ||
      src->locals[s->local].type != TK_T_F32)
    return -1;
  const tk_ir_val *v = s->value, *acc = NULL;
  if (v->op == TK_V_ADD) acc = v->a;
  if (v->op == TK_V_FMA) acc = v->c;
  if (!acc || acc->op != TK_V_LOCAL_LOAD || acc->local != s->local) return -1;
  bool others_use = val_uses_local(v->op == TK_V_ADD ? v->b : v->a, s->local) ||
                    (v->op == TK_V_FMA && val_uses_local(v->b, s->local));
  return others_use ? -1 : s->local;
}

/* The partial sums of a row reduction: 16 f32 lanes, one zmm or two ymm registers (with 32,
 * two zmm, LLVM's SLP vectoriser left them scalar). */
enum { REDUCTION_LANES = 16 };

static bool lane_reduction(const cpu_ctx *c, const tk_ir_stmt *s) {
  int64_t lanes = REDUCTION_LANES;
  return s->kind == TK_S_FOR && s->loop == TK_LOOP_REDUCTION && s->extent->kind == TK_IX_CONST &&
         s->extent->c > lanes && s->extent->c % lanes == 0 && reduced_local(c->src, s->body) >= 0;
}

/* The copy of the reduction statement into lane v: j = jo * V + v, and the accumulator L
 * (fused local l) becomes part[v]; every other local keeps its scalar copy. */
static bool lane_rewrite(cpu_ctx *c, const tk_ir_rewrite *rw, const tk_ir_stmt *loop, int l,
                         const tk_ix *j, const tk_ix *v, int part, tk_ir_rewrite *lane) {
  tk_ir_module *m = c->m;
  int *map = tk_ir_alloc(m, sizeof *map * (size_t)c->src->nlocals);
  bool *only = tk_ir_alloc(m, sizeof *only * (size_t)c->src->nlocals);
  tk_ir_subst *sub = tk_ir_subst_new(m, rw->subst->n + 1);
  if (!map || !only || !sub) return false;
  memcpy(map, c->local_map, sizeof *map * (size_t)c->src->nlocals);
  map[l] = part;
  for (int i = 0; i < c->src->nlocals; i++) only[i] = i == l;
  for (int i = 0; i < rw->subst->n; i++) tk_ir_subst_add(sub, rw->subst->from[i], rw->subst->to[i]);
  tk_ir_subst_add(sub, loop->var, j);
  *lane = *rw;
  lane->subst = sub;
  lane->local_map = map;
  lane->tile_point = v;
  lane->point_locals = only;
  return true;
}

static const tk_ir_stmt *lane_split(cpu_ctx *c, const tk_ir_rewrite *rw, const tk_ir_stmt *loop) {
  tk_ir_module *m = c->m;
  int64_t lanes = REDUCTION_LANES;
  int l = reduced_local(c->src, loop->body), acc = c->local_map[l];
  const tk_ix *j = V(c, loop->var);
  const tk_ir_var *jo = tk_ir_var_new(m, "jo", tk_ir_ix_div(m, j, lanes));
  const tk_ir_var *v = tk_ir_var_new(m, "v", tk_ir_ix_mod(m, j, lanes));
  int part = tk_ir_kernel_local(m, c->k, tk_ir_strfmt(m, "%s_part", c->src->locals[l].name),
                                TK_T_F32, lanes);
  const tk_ix *pv = V(c, v);
  tk_ir_rewrite lane;
  if (part < 0 ||
      !lane_rewrite(c, rw, loop, l, tk_ir_ix_add(m, tk_ir_ix_mul(m, V(c, jo), lanes), pv), pv, part,
                    &lane))
    return NULL;
  c->k->locals[part].origin = l;
  c->k->locals[part].expand = lanes;
  step(c, (tk_ir_sched_step){
              .kind = TK_SCHED_SPLIT, .a = loop->var, .out = jo, .inner = v, .factor = lanes});
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_VECTORIZE, .a = v});
  tk_ir_stmt *blk = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, blk,
                       tk_ir_stmt_for(m, v, K(c, lanes), TK_LOOP_VECTOR, TK_BIND_NONE,
                                      tk_ir_stmt_lstore(m, part, pv, tk_ir_val_f32(m, 0))));
  const tk_ir_stmt *lanes_body = tk_ir_stmt_for(m, v, K(c, lanes), TK_LOOP_VECTOR, TK_BIND_NONE,
                                                tk_ir_rewrite_stmt(&lane, loop->body));
  tk_ir_stmt_block_add(m, blk,
                       tk_ir_stmt_for(m, jo, K(c, loop->extent->c / lanes), TK_LOOP_REDUCTION,
                                      TK_BIND_NONE, lanes_body));
  for (int64_t half = lanes / 2; half >= 1; half /= 2) {
    const tk_ir_val *pair =
        tk_ir_val_bin(m, TK_V_ADD, tk_ir_val_lload(m, c->k, part, pv),
                      tk_ir_val_lload(m, c->k, part, tk_ir_ix_add(m, pv, K(c, half))));
    tk_ir_stmt_block_add(m, blk,
                         tk_ir_stmt_for(m, v, K(c, half), TK_LOOP_VECTOR, TK_BIND_NONE,
                                        tk_ir_stmt_lstore(m, part, pv, pair)));
  }
  const tk_ir_val *sum = tk_ir_val_bin(m, TK_V_ADD, tk_ir_val_lload(m, c->k, acc, K(c, 0)),
                                       tk_ir_val_lload(m, c->k, part, K(c, 0)));
  tk_ir_stmt_block_add(m, blk, tk_ir_stmt_lstore(m, acc, K(c, 0), sum));
  return blk;
}

/* ---- a row phase's short parallel loop sunk into its reductions ----
 * The router's `for e in 0..E parallel { p[e] = b[e]; for k in 0..K reduction { p[e] =
 * fma(x[r, k], W[k, e], p[e]) } }` ran its E chains of K dependent FMAs one after the other
 * (nano's router: 7 % of the forward at B = 256). When every local the loop writes is written
 * and read only at [e] and no loop inside depends on e, its iterations share nothing, so the
 * loop distributes over its statements and sinks into its loops:
 *   for e vector { p[e] = b[e] }   for k reduction { for e vector { p[e] = fma(.., p[e]) } }
 * The E chains advance together, each over k in its own order: the answers are unchanged. */

typedef struct private_lanes {
  const tk_ir_var *e;
  bool *written; /* the locals the loop writes */
  bool ok, reduces;
} private_lanes;

static bool is_var(const tk_ix *ix, const tk_ir_var *v) {
  return ix->kind == TK_IX_VAR && ix->var == v;
}

static void lane_writes(const tk_ir_stmt *s, void *user) {
  private_lanes *p = user;
  if (s->kind == TK_S_LOCAL_STORE) {
    p->written[s->local] = true;
    if (!is_var(s->ix, p->e)) p->ok = false;
  }
  if (s->kind == TK_S_FOR) {
    if (tk_ir_ix_uses_var(s->extent, p->e)) p->ok = false;
    if (s->loop == TK_LOOP_REDUCTION) p->reduces = true;
  }
}

static void lane_reads(const tk_ir_val *v, const tk_ir_stmt *owner, void *user) {
  (void)owner;
  private_lanes *p = user;
  if (v->op == TK_V_LOCAL_LOAD && p->written[v->local] && !is_var(v->ix, p->e)) p->ok = false;
}

static bool sinkable_loop(cpu_ctx *c, const tk_ir_stmt *s) {
  if (s->kind != TK_S_FOR || s->loop != TK_LOOP_PARALLEL || s->extent->kind != TK_IX_CONST ||
      s->extent->c > REDUCTION_LANES)
    return false;
  private_lanes p = {s->var, tk_ir_alloc(c->m, sizeof(bool) * (size_t)(c->src->nlocals + 1)), true,
                     false};
  if (!p.written) return false; /* out of memory: the module's status says so */
  for (int l = 0; l < c->src->nlocals; l++) p.written[l] = false;
  tk_ir_walk_stmts(s->body, lane_writes, &p);
  tk_ir_walk_vals(s->body, lane_reads, &p);
  return p.ok && p.reduces;
}

/* The loop `loop` distributed over s and sunk into its loops. */
static const tk_ir_stmt *sink_loop(cpu_ctx *c, const tk_ir_rewrite *rw, const tk_ir_stmt *loop,
                                   const tk_ir_stmt *s) {
  tk_ir_module *m = c->m;
  if (s->kind == TK_S_BLOCK) {
    tk_ir_stmt *blk = tk_ir_stmt_block(m);
    for (int i = 0; i < s->n; i++)
      tk_ir_stmt_block_add(m, blk, sink_loop(c, rw, loop, s->stmts[i]));
    return blk;
  }
  if (s->kind == TK_S_FOR) {
    step(c, (tk_ir_sched_step){.kind = TK_SCHED_INTERCHANGE, .a = s->var});
    return tk_ir_stmt_for(m, s->var, s->extent, vector_inner[s->loop], TK_BIND_NONE,
                          sink_loop(c, rw, loop, s->body));
  }
  return tk_ir_stmt_for(m, loop->var, loop->extent, TK_LOOP_VECTOR, TK_BIND_NONE,
                        tk_ir_rewrite_stmt(rw, s));
}

static const tk_ir_stmt *sunk_loop(cpu_ctx *c, const tk_ir_rewrite *rw, const tk_ir_stmt *loop) {
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_VECTORIZE, .a = loop->var});
  return sink_loop(c, rw, loop, loop->body);
}

/* A row phase's body: its top-level reductions split into lanes, its short parallel loops
 * sunk into their reductions, the rest copied. */
static const tk_ir_stmt *row_body(cpu_ctx *c, const tk_ir_rewrite *rw, const tk_ir_stmt *body) {
  if (body->kind != TK_S_BLOCK) return tk_ir_rewrite_stmt(rw, body);
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  for (int i = 0; i < body->n; i++) {
    const tk_ir_stmt *s = body->stmts[i];
    const tk_ir_stmt *copy = lane_reduction(c, s)  ? lane_split(c, rw, s)
                             : sinkable_loop(c, s) ? sunk_loop(c, rw, s)
                                                   : tk_ir_rewrite_stmt(rw, s);
    tk_ir_stmt_block_add(c->m, blk, copy);
  }
  return blk;
}

/* `if rb*BR < R { rows }` when the phase has R rows other than B (in practice an expert's
 * chain, R = count[e]): a block of the B-row grid may hold none of them (every block of an
 * expert no row chose), and one test skips the row tests of an empty block, or its row tiles'
 * tests (once per column tile). With R = B every block has rows. At nano B = 1 the two empty
 * experts' tests were a sixth of the forward's instructions. rb is the work item's row block
 * (w div CB in a tileable phase). */
static const tk_ir_stmt *in_rows_block(cpu_ctx *c, const tk_ir_stmt *rows) {
  tk_ir_module *m = c->m;
  if (tk_ir_ix_equal(c->rows, tk_ir_ix_sym(m, TK_SYM_B))) return rows;
  return guard(c, tk_ir_ix_mul(m, c->row_block, c->block_rows), c->rows, rows);
}

static const tk_ir_stmt *row_phase(cpu_ctx *c, const tk_ir_phase *ph) {
  tk_ir_module *m = c->m;
  int64_t br = c->block_rows;
  const tk_ix *r = V(c, ph->vars[0]);
  c->bound = tk_ir_var_new(m, "rb", tk_ir_ix_div(m, r, br));
  c->row_block = V(c, c->bound);
  c->k->launch.grid = row_blocks(m, br);
  const tk_ir_var *rr = tk_ir_var_new(m, TK_IR_BLOCK_ROW_VAR, tk_ir_ix_mod(m, r, br));
  const tk_ix *row = tk_ir_ix_add(m, tk_ir_ix_mul(m, c->row_block, br), V(c, rr));
  tk_ir_subst *s = tk_ir_subst_new(m, 1);
  tk_ir_subst_add(s, ph->vars[0], row);
  if (!phase_locals(c, ph, 1)) return NULL;
  step(c,
       (tk_ir_sched_step){
           .kind = TK_SCHED_SPLIT, .a = ph->vars[0], .out = c->bound, .inner = rr, .factor = br});
  tk_ir_rewrite rw = {.m = m,
                      .src = c->src,
                      .dst = c->k,
                      .subst = s,
                      .arg_map = c->arg_map,
                      .local_map = c->local_map,
                      .loop_map = vector_inner};
  const tk_ir_stmt *body = guard(c, row, c->rows, row_body(c, &rw, ph->body));
  return in_rows_block(c, tk_ir_stmt_for(m, rr, K(c, br), TK_LOOP_SERIAL, TK_BIND_NONE, body));
}

/* ---- weight panels (tk/panel.h) ----
 * A PARAM that every fused kernel reads only as W[k, j] in tileable phases (j the phase's
 * column variable, N its extent > TC), in one stored layout — W[k * N + j] (in_out) or
 * W[j * K + k] (out_in, a Linear weight stored [out, in]) — is read by the CPU kernels from
 * column panels of TC columns, which the runtime packs once: a tile's K × TC block is then one
 * contiguous run instead of K rows 4·N bytes apart (in_out) or TC rows 4·K bytes apart read a
 * float at a time (out_in). In a tile region with columns jbase + lane (lane < width) the load
 * becomes P[jbase * K + k * width + lane]: tk/panel.h's offset for the region's panel (width
 * TC, or the N mod TC tail). */

/* k when ix is `k * cols + j` (in_out) or `j * cols + k` (out_in) for the column variable j
 * and a variable k, else NULL. */
static const tk_ix *panel_row(const tk_ix *ix, const tk_ir_var *j, int64_t cols, bool out_in) {
  if (ix->kind != TK_IX_ADD || ix->a->kind != TK_IX_MUL || ix->a->c != cols ||
      ix->a->a->kind != TK_IX_VAR || ix->b->kind != TK_IX_VAR)
    return NULL;
  const tk_ix *row = ix->a->a, *col = ix->b;
  if (out_in) return row->var == j ? col : NULL;
  return col->var == j ? row : NULL;
}

/* The panel row length N a load reads W with, in the layout out_in says; 0 if it does not
 * read W[k, j] for the phase's column j in that layout. */
static int64_t panel_cols_read(const tk_ir_phase *ph, const tk_ir_arg *arg, const tk_ix *ix,
                               bool out_in) {
  const tk_ix *n = ph->extents[1];
  int64_t stored_n = out_in ? arg->rows->c : arg->cols;
  bool fits = ph->tileable && n->kind == TK_IX_CONST && n->c == stored_n &&
              panel_row(ix, ph->vars[1], arg->cols, out_in);
  return fits ? stored_n : 0;
}

/* Narrows each candidate buffer a LOAD in `v` reads: the first load fixes its layout and N;
 * any load in another form (or layout) clears its panel_width. */
static void panel_loads(tk_ir_module *m, const tk_ir_kernel *k, const tk_ir_phase *ph,
                        const tk_ir_val *v) {
  if (!v) return;
  const tk_ir_arg *arg = v->op == TK_V_LOAD ? &k->args[v->arg] : NULL;
  if (arg && arg->buffer >= 0 && m->buffers[arg->buffer].panel_width) {
    tk_ir_buffer *b = &m->buffers[arg->buffer];
    int64_t in_out = panel_cols_read(ph, arg, v->ix, false);
    int64_t out_in = panel_cols_read(ph, arg, v->ix, true);
    if (!b->panel_cols && (in_out || out_in)) {
      b->panel_out_in = !in_out;
      b->panel_cols = in_out ? in_out : out_in;
    }
    if (!b->panel_cols || b->panel_cols != (b->panel_out_in ? out_in : in_out)) b->panel_width = 0;
  }
  panel_loads(m, k, ph, v->a);
  panel_loads(m, k, ph, v->b);
  panel_loads(m, k, ph, v->c);
}

static void panel_stmt(tk_ir_module *m, const tk_ir_kernel *k, const tk_ir_phase *ph,
                       const tk_ir_stmt *s) {
  if (!s) return;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++) panel_stmt(m, k, ph, s->stmts[i]);
  if (s->kind == TK_S_FOR || s->kind == TK_S_IF) panel_stmt(m, k, ph, s->body);
  if (s->kind == TK_S_STORE || s->kind == TK_S_LOCAL_STORE) panel_loads(m, k, ph, s->value);
}

/* Decides which PARAM buffers the CPU reads as panels: candidates first (a constant shape;
 * the argument's shape is the buffer's), then every fused read must fit one layout, with
 * N > TC. */
static void choose_panels(tk_ir_module *m) {
  int64_t tc = m->opts.cpu_tile_cols;
  for (int b = 0; b < m->nbuffers; b++) {
    m->buffers[b].panel_width = m->buffers[b].panel_cols = 0;
    m->buffers[b].panel_out_in = false;
  }
  for (int ki = 0; ki < m->kernels.n; ki++) {
    const tk_ir_kernel *k = m->kernels.items[ki];
    for (int a = 0; a < k->nargs; a++) {
      const tk_ir_arg *arg = &k->args[a];
      if (arg->role == TK_ROLE_PARAM && arg->buffer >= 0 && arg->rows->kind == TK_IX_CONST)
        m->buffers[arg->buffer].panel_width = tc;
    }
  }
  for (int ki = 0; ki < m->kernels.n; ki++) {
    const tk_ir_kernel *k = m->kernels.items[ki];
    for (int p = 0; p < k->nphases; p++) panel_stmt(m, k, &k->phases[p], k->phases[p].body);
  }
  for (int b = 0; b < m->nbuffers; b++) {
    tk_ir_buffer *buf = &m->buffers[b];
    if (buf->panel_cols <= tc) buf->panel_width = 0;
    if (!buf->panel_width) {
      buf->panel_cols = 0;
      buf->panel_out_in = false;
    }
  }
}

/* The columns of one tile region, for panel_load. */
typedef struct panel_tile {
  const tk_ir_var *j; /* the source phase's column variable */
  const tk_ix *jbase, *lane;
  int64_t width;
} panel_tile;

static const tk_ix *panel_load(const tk_ir_rewrite *rw, const tk_ir_val *load, const tk_ix *ix) {
  (void)ix;
  const panel_tile *t = rw->user;
  if (!t) return NULL; /* out of memory: the module's status says so */
  const tk_ir_arg *arg = &rw->src->args[load->arg];
  if (arg->buffer < 0 || !rw->m->buffers[arg->buffer].panel_width) return NULL;
  bool out_in = rw->m->buffers[arg->buffer].panel_out_in;
  /* choose_panels checked the form */
  const tk_ix *k = panel_row(load->ix, t->j, arg->cols, out_in);
  int64_t rows = out_in ? arg->cols : arg->rows->c; /* K */
  tk_ir_module *m = rw->m;
  return tk_ir_ix_add(
      m, tk_ir_ix_add(m, tk_ir_ix_mul(m, t->jbase, rows), tk_ir_ix_mul(m, k, t->width)), t->lane);
}

/* The whole tiles' reduction loops prefetch the weight panel PREFETCH_BYTES ahead of the k
 * step they read, every cache line of the step's panel row (`prefetch N span S`, S = 4·TC
 * bytes; the panel is contiguous, docs/formats.md §6). At B = 16 a 4- or 8-row tile is both
 * compute- and memory-bound (4 to 8 FLOP per weight byte), so the panel's next lines must be
 * on their way while the tile computes. Against 1 KB ahead with one prefetch per step (which
 * left every other line of a 128-byte x86-64-v4 step to the hardware), Tiny B = 16, T = 1:
 * x86-64-v4 26-29 -> 22.5-24.5 ms, T = 2 17.8-18.3 -> 15.0-15.8 ms; B = 256 v4 216 -> 205-209
 * ms; x86-64-v3 (one line per 64-byte step either way, 1 KB -> 4 KB ahead) 23.9-25.1 ->
 * 22.7-25.0 ms at B = 16 and B = 1 within the noise; 2 KB ahead gained about as much at v4.
 * In every reduction loop (row tails, router) a prefetch made B = 1 12-30 % slower,
 * prefetching the next panel 11-15 % slower at B = 256: the row tail keeps none. */
enum { PREFETCH_BYTES = 4096 };

/* One tile region: rows r = first + ri (first = rb*BR + rt*TR in a whole row tile), columns
 * j = jbase + lane (lane < width), the TR rows unrolled; or in the row tail, one row at a
 * time, its columns Q panels jbase + q*TC + lane with the Q panels unrolled (q = jg; Q = 1: no
 * unrolled loop, tail_panels); or a row pair of the tail, its two rows unrolled (rq) and
 * inside them its Qp panels (inner: qg, or jg when Qp = Q). */
typedef struct tile_region {
  const tk_ir_var *unrolled, *lane; /* unrolled: ri, jg, rq or NULL */
  int64_t unroll, width;            /* the unrolled loop's extent, the lanes */
  const tk_ir_var *inner;           /* a row pair's panels, unrolled inside rq, or NULL */
  int64_t inner_unroll;
  tk_ir_rewrite rw;
  const tk_ir_var *j;
  bool prefetch; /* its reduction loops prefetch PREFETCH_BYTES ahead in the weight panel */
} tile_region;

/* A point statement over the tile: `for ri unroll { for lane vector { .. } }` (the row tail:
 * `for jg unroll`, or the lane loop alone; a row pair: `for rq unroll { for qg unroll { .. } }`),
 * a guard that does not depend on j hoisted out of the lane loop. */
static const tk_ir_stmt *tile_leaf(cpu_ctx *c, const tile_region *t, const tk_ir_stmt *leaf) {
  tk_ir_module *m = c->m;
  const tk_ir_stmt *row;
  if (leaf->kind == TK_S_IF && !tk_ir_ix_uses_var(leaf->lhs, t->j) &&
      !tk_ir_ix_uses_var(leaf->rhs, t->j)) {
    const tk_ir_stmt *lanes = tk_ir_stmt_for(m, t->lane, K(c, t->width), TK_LOOP_VECTOR,
                                             TK_BIND_NONE, tk_ir_rewrite_stmt(&t->rw, leaf->body));
    row = tk_ir_stmt_if(m, tk_ir_ix_subst(m, leaf->lhs, t->rw.subst), leaf->cmp,
                        tk_ir_ix_subst(m, leaf->rhs, t->rw.subst), lanes);
  } else {
    row = tk_ir_stmt_for(m, t->lane, K(c, t->width), TK_LOOP_VECTOR, TK_BIND_NONE,
                         tk_ir_rewrite_stmt(&t->rw, leaf));
  }
  if (t->inner)
    row = tk_ir_stmt_for(m, t->inner, K(c, t->inner_unroll), TK_LOOP_UNROLL, TK_BIND_NONE, row);
  if (!t->unrolled) return row;
  return tk_ir_stmt_for(m, t->unrolled, K(c, t->unroll), TK_LOOP_UNROLL, TK_BIND_NONE, row);
}

/* Distributes the tile loops over the statements of a point body, sinking them into
 * loops (whose extents do not depend on the point: tk_ir_verify's tileable rule). */
static const tk_ir_stmt *tile_stmt(cpu_ctx *c, const tile_region *t, const tk_ir_stmt *s,
                                   bool record) {
  tk_ir_module *m = c->m;
  if (s->kind == TK_S_BLOCK) {
    tk_ir_stmt *b = tk_ir_stmt_block(m);
    for (int i = 0; i < s->n; i++) tk_ir_stmt_block_add(m, b, tile_stmt(c, t, s->stmts[i], record));
    return b;
  }
  if (s->kind == TK_S_FOR) {
    if (record) step(c, (tk_ir_sched_step){.kind = TK_SCHED_INTERCHANGE, .a = s->var});
    const tk_ir_stmt *loop = tk_ir_stmt_for(m, s->var, s->extent, s->loop, TK_BIND_NONE,
                                            tile_stmt(c, t, s->body, record));
    bool ahead = t->prefetch && s->loop == TK_LOOP_REDUCTION;
    int64_t span = t->width * (int64_t)sizeof(float); /* a panel row of f32 weights */
    return ahead ? tk_ir_stmt_prefetching(m, loop, PREFETCH_BYTES, span) : loop;
  }
  return tile_leaf(c, t, s);
}

/* The region of rows first + ri, columns jbase + lane (lane < width): the whole row tile's TR
 * rows (ri unrolled, accumulators acc[ri*TC + lane]), or with tail = true one row of the row
 * tail (accumulators <name>_tail[lane]; ri may then be NULL: the row is first). */
static tile_region region(cpu_ctx *c, const tk_ir_phase *ph, const tk_ix *first,
                          const tk_ir_var *ri, const tk_ir_var *lane, const tk_ix *jbase,
                          int64_t width, bool tail) {
  tk_ir_module *m = c->m;
  int64_t tc = m->opts.cpu_tile_cols;
  tile_region t = {.unrolled = tail ? NULL : ri,
                   .lane = lane,
                   .unroll = tail ? 0 : c->tile_rows,
                   .width = width,
                   .j = ph->vars[1]};
  tk_ir_subst *s = tk_ir_subst_new(m, 2);
  const tk_ix *row = ri ? tk_ir_ix_add(m, first, V(c, ri)) : first;
  tk_ir_subst_add(s, ph->vars[0], row);
  tk_ir_subst_add(s, ph->vars[1], tk_ir_ix_add(m, jbase, V(c, lane)));
  const tk_ix *point =
      tail ? V(c, lane) : tk_ir_ix_add(m, tk_ir_ix_mul(m, V(c, ri), tc), V(c, lane));
  panel_tile *cols = tk_ir_alloc(m, sizeof *cols);
  if (cols) *cols = (panel_tile){ph->vars[1], jbase, V(c, lane), width};
  t.rw = (tk_ir_rewrite){.m = m,
                         .src = c->src,
                         .dst = c->k,
                         .subst = s,
                         .arg_map = c->arg_map,
                         .local_map = tail ? c->tail_local_map : c->local_map,
                         .tile_point = point,
                         .loop_map = vector_inner,
                         .load_ix = panel_load,
                         .user = cols};
  return t;
}

/* The row tail's region over Q whole panels (Q > 1): columns jbase + jg*TC + lane, jg
 * unrolled, accumulators <name>_tail[jg*TC + lane]. One row of Q panels has as many
 * independent accumulator chains as a whole TR × TC tile: a 1 × TC tile's k loop issued one
 * step's FMAs per FMA latency where a whole tile issues TR times as many (nano B = 1 was 14 %
 * slower, Tiny B = 1 10 %). */
static tile_region tail_region(cpu_ctx *c, const tk_ir_phase *ph, const tk_ix *first,
                               const tk_ir_var *ri, const tk_ir_var *jg, const tk_ir_var *lane,
                               const tk_ix *jbase, int64_t q) {
  tk_ir_module *m = c->m;
  int64_t tc = m->opts.cpu_tile_cols;
  const tk_ix *panel = tk_ir_ix_add(m, jbase, tk_ir_ix_mul(m, V(c, jg), tc));
  tile_region t = region(c, ph, first, ri, lane, panel, tc, true);
  t.unrolled = jg;
  t.unroll = q;
  t.rw.tile_point = tk_ir_ix_add(m, tk_ir_ix_mul(m, V(c, jg), tc), V(c, lane));
  return t;
}

/* The column blocks of a GEMM phase: WB blocks of G whole tiles, WB a divisor of the whole
 * tiles near cpu_col_blocks when one exists (so that no tile needs a guard: a guard in the tile
 * loop cost x86-64-v3 a fifth of its single-thread speed), and the column tail in a block of
 * its own after them (it must be the block j div (G*TC) names, the work item's inverse map).
 * Without such a divisor, G = ceil(NT / cpu_col_blocks), the tiles past NT are guarded off and
 * the tail goes into the last block. A layer narrower than NARROW_COLS keeps one block with
 * its tail (work item = row block): split, nano's 128-wide layers ran 4.8x slower at T = 1
 * (six one-tile blocks of 24) and 2-3x slower at T = 2 (four blocks of 32 columns: a launch's
 * sync costs more than a block's work). */
enum { NARROW_COLS = 256 };
typedef struct col_blocks {
  int64_t n, nt, tail; /* columns, whole tiles, tail columns */
  int64_t g, wb, cb;   /* tiles per block, blocks of whole tiles, blocks */
  bool exact;          /* wb * g == nt: no tile guard */
} col_blocks;

static int64_t exact_blocks(int64_t nt, int64_t want) {
  for (int64_t d = want; d <= 2 * want; d++)
    if (nt % d == 0) return d;
  for (int64_t d = want - 1; d >= 2; d--)
    if (nt % d == 0) return d;
  return 0;
}

static col_blocks col_blocks_of(const tk_ir_module *m, const tk_ir_phase *ph) {
  col_blocks b = {.n = ph->extents[1]->c};
  int64_t tc = m->opts.cpu_tile_cols, want = m->opts.cpu_col_blocks;
  b.nt = b.n / tc;
  b.tail = b.n % tc;
  if (b.nt == 0) {
    b.g = b.cb = 1;
    return b;
  }
  if (b.n < NARROW_COLS) { /* a narrow layer: one block, the tail in it */
    b.g = b.nt;
    b.wb = b.cb = 1;
    b.exact = true;
    return b;
  }
  b.wb = exact_blocks(b.nt, want);
  b.exact = b.wb > 0;
  if (!b.exact) {
    b.g = (b.nt + want - 1) / want;
    b.wb = (b.nt + b.g - 1) / b.g;
  } else {
    b.g = b.nt / b.wb;
  }
  b.cb = b.tail > 0 ? b.nt / b.g + 1 : b.wb;
  return b;
}

/* The block's whole row tiles over one column region (columns jbase + lane, lane < width):
 *   [if rb*BR < R] { for rt { if first row < Bf { whole TR-row tile } } }   (in_rows_block)
 * `rb*BR < Bf` would skip a block of fewer than TR rows too, but took Z3 up to 3.7 M rlimit
 * units on one of Medium's coverage queries; with in_rows_block's test the largest takes
 * 0.65 M, less than with no test at all (0.87 M). */
static const tk_ir_stmt *whole_row_tiles(cpu_ctx *c, const tk_ir_phase *ph, const tk_ir_var *rt,
                                         const tk_ir_var *ri, const tk_ir_var *lane,
                                         const tk_ix *jbase, int64_t width, bool record,
                                         bool prefetch) {
  tk_ir_module *m = c->m;
  int64_t br = c->block_rows, tr = c->tile_rows;
  const tk_ix *first =
      tk_ir_ix_add(m, tk_ir_ix_mul(m, c->row_block, br), tk_ir_ix_mul(m, V(c, rt), tr));
  tile_region whole = region(c, ph, first, ri, lane, jbase, width, false);
  whole.prefetch = prefetch;
  const tk_ir_stmt *tiles = guard(c, first, c->full_rows, tile_stmt(c, &whole, ph->body, record));
  return in_rows_block(c,
                       tk_ir_stmt_for(m, rt, K(c, br / tr), TK_LOOP_SERIAL, TK_BIND_NONE, tiles));
}

/* The row tail over a tail region:
 *   if Bf < B { if Bf div BR == rb { for ri serial { if Bf + ri < B { one-row tile } } } }
 * The row tail's rows share the row block of Bf (TR divides BR), so one work item per column
 * block computes them, right after the whole tiles that read the same weight panels. */
static const tk_ir_stmt *in_tail_block(cpu_ctx *c, const tk_ir_stmt *rows) {
  const tk_ir_stmt *mine = tk_ir_stmt_if(c->m, tk_ir_ix_div(c->m, c->full_rows, c->block_rows),
                                         TK_CMP_EQ, c->row_block, rows);
  return guard(c, c->full_rows, c->rows, mine);
}

static const tk_ir_stmt *row_tail(cpu_ctx *c, const tk_ir_phase *ph, const tk_ir_var *ri,
                                  const tile_region *tail) {
  tk_ir_module *m = c->m;
  const tk_ir_stmt *one_row = tk_ir_stmt_if(m, tk_ir_ix_add(m, c->full_rows, V(c, ri)), TK_CMP_LT,
                                            c->rows, tile_stmt(c, tail, ph->body, false));
  return in_tail_block(
      c, tk_ir_stmt_for(m, ri, K(c, c->tile_rows), TK_LOOP_SERIAL, TK_BIND_NONE, one_row));
}

/* The block's rows over one column region: its whole row tiles, then the row tail. */
static const tk_ir_stmt *row_tiles(cpu_ctx *c, const tk_ir_phase *ph, const tk_ir_var *rt,
                                   const tk_ir_var *ri, const tk_ir_var *lane, const tk_ix *jbase,
                                   int64_t width, bool record, bool prefetch) {
  tk_ir_stmt *blk = tk_ir_stmt_block(c->m);
  tk_ir_stmt_block_add(c->m, blk,
                       whole_row_tiles(c, ph, rt, ri, lane, jbase, width, record, prefetch));
  tile_region tail = region(c, ph, c->full_rows, ri, lane, jbase, width, true);
  tk_ir_stmt_block_add(c->m, blk, row_tail(c, ph, ri, &tail));
  return blk;
}

/* Q, the whole panels one row of the row tail covers at once: the largest divisor of G up to
 * TR (as many accumulators as a whole tile), or 1 when the blocks are not exact (a tile
 * guard). */
static int64_t tail_panels(const cpu_ctx *c, const col_blocks *b) {
  int64_t q = b->exact ? c->tile_rows : 1;
  while (q > 1 && b->g % q) q--;
  return q;
}

/* Qp, the panels a row pair of the row tail covers at once: the largest divisor of Q with
 * 2·Qp <= TR, so that the pair's 2·Qp·TC accumulators are no more than a whole tile's. */
static int64_t pair_panels(const cpu_ctx *c, int64_t q) {
  int64_t qp = c->tile_rows / 2 < q ? c->tile_rows / 2 : q;
  while (qp > 1 && q % qp) qp--;
  return qp;
}

/* Whether the row tail over Q > 1 panels goes by row pairs: when it can hold two rows (TR >= 3).
 * One row of Q panels loads a weight vector per FMA, so it ran at about half the FMA rate of a
 * whole tile, bound by the panels' L2 bandwidth; two rows share each load. */
static bool tail_pairs(const cpu_ctx *c, int64_t q) { return q > 1 && c->tile_rows >= 3; }

/* A row pair's tile region: rows first + rq (rq unrolled), columns cols + qg*TC + lane over Qp
 * panels (qg unrolled inside rq), accumulators <name>_pair[(rq·Qp + qg)·TC + lane]. */
static tile_region pair_region(cpu_ctx *c, const tk_ir_phase *ph, const tk_ix *first,
                               const tk_ir_var *rq, const tk_ir_var *qg, int64_t qp,
                               const tk_ir_var *lane, const tk_ix *cols) {
  tk_ir_module *m = c->m;
  int64_t tc = m->opts.cpu_tile_cols;
  tile_region pair = region(c, ph, first, rq, lane,
                            tk_ir_ix_add(m, cols, tk_ir_ix_mul(m, V(c, qg), tc)), tc, false);
  pair.unroll = 2;
  pair.inner = qg;
  pair.inner_unroll = qp;
  pair.rw.local_map = c->pair_local_map;
  const tk_ix *panel = tk_ir_ix_add(m, tk_ir_ix_mul(m, V(c, rq), qp), V(c, qg));
  pair.rw.tile_point = tk_ir_ix_add(m, tk_ir_ix_mul(m, panel, tc), V(c, lane));
  return pair;
}

/* A row pair over the group's Q panels from jbase: `for qh in 0..Q/Qp serial` around a pair
 * tile of Qp panels (qg unrolled), or with Qp = Q the pair tile over jg itself. */
static const tk_ir_stmt *pair_tiles(cpu_ctx *c, const tk_ir_phase *ph, const tk_ix *first,
                                    const tk_ir_var *rq, const tk_ir_var *jg, const tk_ir_var *lane,
                                    const tk_ix *jbase, int64_t q) {
  tk_ir_module *m = c->m;
  int64_t tc = m->opts.cpu_tile_cols, qp = pair_panels(c, q);
  if (qp == q) {
    tile_region pair = pair_region(c, ph, first, rq, jg, q, lane, jbase);
    return tile_stmt(c, &pair, ph->body, false);
  }
  const tk_ix *tile = tk_ir_ix_div(m, V(c, ph->vars[1]), tc);
  const tk_ir_var *qh = tk_ir_var_new(m, "qh", tk_ir_ix_div(m, tk_ir_ix_mod(m, tile, q), qp));
  const tk_ir_var *qg = tk_ir_var_new(m, "qg", tk_ir_ix_mod(m, tile, qp));
  step(c,
       (tk_ir_sched_step){.kind = TK_SCHED_SPLIT, .a = jg, .out = qh, .inner = qg, .factor = qp});
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_UNROLL, .a = qg});
  const tk_ix *cols = tk_ir_ix_add(m, jbase, tk_ir_ix_mul(m, V(c, qh), qp * tc));
  tile_region pair = pair_region(c, ph, first, rq, qg, qp, lane, cols);
  return tk_ir_stmt_for(m, qh, K(c, q / qp), TK_LOOP_SERIAL, TK_BIND_NONE,
                        tile_stmt(c, &pair, ph->body, false));
}

/* The row tail by pairs over Q panels, and when its rows are odd its last row alone over them:
 *   if Bf < B { if Bf div BR == rb { for rp in 0..TR/2 {
 *     if Bf + 2·rp + 1 < B { rows Bf + 2·rp + rq, rq unrolled (pair_tiles) }
 *     if Bf + 2·rp + 1 == B { row Bf + 2·rp over the Q panels (jg unrolled), <name>_tail } } } }
 * The last row is in the rp loop, not after it, so that each row's witness is linear in rp (a
 * guard on (B - Bf) mod 2 took the coverage query past its rlimit). Each row's sums run in the
 * same order as in a one-row tile, so the answers are the same bit for bit. */
static const tk_ir_stmt *paired_row_tail(cpu_ctx *c, const tk_ir_phase *ph, const tk_ir_var *ri,
                                         const tk_ir_var *jg, const tk_ir_var *lane,
                                         const tk_ix *jbase, int64_t q) {
  tk_ir_module *m = c->m;
  int64_t tr = c->tile_rows;
  const tk_ix *place = tk_ir_ix_mod(m, V(c, ph->vars[0]), tr); /* a tail row's, Bf = 0 mod TR */
  const tk_ir_var *rp = tk_ir_var_new(m, TK_IR_ROW_PAIR_VAR, tk_ir_ix_div(m, place, 2));
  const tk_ir_var *rq = tk_ir_var_new(m, "rq", tk_ir_ix_mod(m, place, 2));
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_SPLIT, .a = ri, .out = rp, .inner = rq, .factor = 2});
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_UNROLL, .a = rq});
  const tk_ix *first = tk_ir_ix_add(m, c->full_rows, tk_ir_ix_mul(m, V(c, rp), 2));
  const tk_ix *second = tk_ir_ix_add(m, first, K(c, 1));
  tk_ir_stmt *rows = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, rows,
                       guard(c, second, c->rows, pair_tiles(c, ph, first, rq, jg, lane, jbase, q)));
  tile_region last = tail_region(c, ph, first, NULL, jg, lane, jbase, q);
  tk_ir_stmt_block_add(
      m, rows, tk_ir_stmt_if(m, second, TK_CMP_EQ, c->rows, tile_stmt(c, &last, ph->body, false)));
  return in_tail_block(c, tk_ir_stmt_for(m, rp, K(c, tr / 2), TK_LOOP_SERIAL, TK_BIND_NONE, rows));
}

/* With Q > 1 the block's G tiles go in groups of Q: the whole row tiles of each tile of the
 * group, then the row tail over the group's Q panels (while they are in cache):
 *   for jq in 0..G/Q { for jg in 0..Q { whole row tiles of tile t0 + jg }
 *                      row tail over tiles t0 .. t0 + Q - 1 }        t0 = cb*G + jq*Q */
static const tk_ir_stmt *tile_groups(cpu_ctx *c, const tk_ir_phase *ph, const col_blocks *b,
                                     int64_t q, const tk_ir_var *rt, const tk_ir_var *ri) {
  tk_ir_module *m = c->m;
  int64_t tc = m->opts.cpu_tile_cols;
  const tk_ix *j = V(c, ph->vars[1]);
  const tk_ir_var *jt = tk_ir_var_new(m, "jt", tk_ir_ix_div(m, j, tc));
  const tk_ir_var *jj = tk_ir_var_new(m, "jj", tk_ir_ix_mod(m, j, tc));
  const tk_ir_var *jh = tk_ir_var_new(m, "jh", tk_ir_ix_div(m, j, q * tc));
  const tk_ir_var *cb = tk_ir_var_new(m, "cb", tk_ir_ix_div(m, j, b->g * tc));
  const tk_ir_var *jq =
      tk_ir_var_new(m, "jq", tk_ir_ix_mod(m, tk_ir_ix_div(m, j, q * tc), b->g / q));
  const tk_ir_var *jg = tk_ir_var_new(m, "jg", tk_ir_ix_mod(m, tk_ir_ix_div(m, j, tc), q));
  step(c, (tk_ir_sched_step){
              .kind = TK_SCHED_SPLIT, .a = ph->vars[1], .out = jt, .inner = jj, .factor = tc});
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_SPLIT, .a = jt, .out = jh, .inner = jg, .factor = q});
  step(c, (tk_ir_sched_step){
              .kind = TK_SCHED_SPLIT, .a = jh, .out = cb, .inner = jq, .factor = b->g / q});
  const tk_ix *group =
      tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_mod(m, V(c, c->bound), b->cb), b->g),
                   tk_ir_ix_mul(m, V(c, jq), q));
  const tk_ix *tile = tk_ir_ix_add(m, group, V(c, jg));
  const tk_ir_stmt *tiles =
      whole_row_tiles(c, ph, rt, ri, jj, tk_ir_ix_mul(m, tile, tc), tc, true, true);
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_REORDER, .a = jg, .b = rt, .out = ri, .inner = jj});
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_VECTORIZE, .a = jj});
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_UNROLL, .a = jg});
  tk_ir_stmt *blk = tk_ir_stmt_block(m);
  tk_ir_stmt_block_add(m, blk, tk_ir_stmt_for(m, jg, K(c, q), TK_LOOP_SERIAL, TK_BIND_NONE, tiles));
  const tk_ix *jbase = tk_ir_ix_mul(m, group, tc);
  if (tail_pairs(c, q)) {
    tk_ir_stmt_block_add(m, blk, paired_row_tail(c, ph, ri, jg, jj, jbase, q));
  } else {
    tile_region tail = tail_region(c, ph, c->full_rows, ri, jg, jj, jbase, q);
    tk_ir_stmt_block_add(m, blk, row_tail(c, ph, ri, &tail));
  }
  return tk_ir_stmt_for(m, jq, K(c, b->g / q), TK_LOOP_SERIAL, TK_BIND_NONE, blk);
}

/* The whole tiles of column block cb = bound mod CB: tiles cb*G + jg, jg < G (guarded by
 * tile < N div TC unless the blocks are exact), each over the block's row tiles. */
static const tk_ir_stmt *tile_loop(cpu_ctx *c, const tk_ir_phase *ph, const col_blocks *b,
                                   const tk_ir_var *rt, const tk_ir_var *ri) {
  tk_ir_module *m = c->m;
  int64_t tc = m->opts.cpu_tile_cols;
  const tk_ix *j = V(c, ph->vars[1]);
  const tk_ir_var *jt = tk_ir_var_new(m, "jt", tk_ir_ix_div(m, j, tc));
  const tk_ir_var *jj = tk_ir_var_new(m, "jj", tk_ir_ix_mod(m, j, tc));
  const tk_ir_var *cb = tk_ir_var_new(m, "cb", tk_ir_ix_div(m, j, b->g * tc));
  const tk_ir_var *jg = tk_ir_var_new(m, "jg", tk_ir_ix_mod(m, tk_ir_ix_div(m, j, tc), b->g));
  step(c, (tk_ir_sched_step){
              .kind = TK_SCHED_SPLIT, .a = ph->vars[1], .out = jt, .inner = jj, .factor = tc});
  step(c,
       (tk_ir_sched_step){.kind = TK_SCHED_SPLIT, .a = jt, .out = cb, .inner = jg, .factor = b->g});
  const tk_ix *tile =
      tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_mod(m, V(c, c->bound), b->cb), b->g), V(c, jg));
  /* two or more whole tiles: the weight is read from column panels (choose_panels) */
  const tk_ir_stmt *tiles =
      row_tiles(c, ph, rt, ri, jj, tk_ir_ix_mul(m, tile, tc), tc, true, b->nt > 1);
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_REORDER, .a = jg, .b = rt, .out = ri, .inner = jj});
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_VECTORIZE, .a = jj});
  if (!b->exact) { /* the last block has fewer whole tiles */
    step(c, (tk_ir_sched_step){.kind = TK_SCHED_GUARD, .lhs = tile, .rhs = K(c, b->nt)});
    tiles = tk_ir_stmt_if(m, tile, TK_CMP_LT, K(c, b->nt), tiles);
  }
  return tk_ir_stmt_for(m, jg, K(c, b->g), TK_LOOP_SERIAL, TK_BIND_NONE, tiles);
}

/* The whole tiles of column block cb (tile_loop, or tile_groups when the row tail takes Q > 1
 * panels at once), in the blocks of whole tiles only. */
static const tk_ir_stmt *whole_tiles(cpu_ctx *c, const tk_ir_phase *ph, const col_blocks *b,
                                     const tk_ir_var *rt, const tk_ir_var *ri) {
  tk_ir_module *m = c->m;
  int64_t q = tail_panels(c, b);
  const tk_ir_stmt *loop = q > 1 ? tile_groups(c, ph, b, q, rt, ri) : tile_loop(c, ph, b, rt, ri);
  if (b->wb == b->cb) return loop;
  const tk_ix *block = tk_ir_ix_mod(m, V(c, c->bound), b->cb); /* the tail's block has none */
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_GUARD, .lhs = block, .rhs = K(c, b->wb)});
  return tk_ir_stmt_if(m, block, TK_CMP_LT, K(c, b->wb), loop);
}

/* The last N mod TC columns, in the last column block. */
static const tk_ir_stmt *tail_tiles(cpu_ctx *c, const tk_ir_phase *ph, const col_blocks *b,
                                    const tk_ir_var *rt, const tk_ir_var *ri) {
  tk_ir_module *m = c->m;
  int64_t tc = m->opts.cpu_tile_cols;
  const tk_ir_var *jl =
      tk_ir_var_new(m, "jl", tk_ir_ix_sub(m, V(c, ph->vars[1]), K(c, b->nt * tc)));
  step(c,
       (tk_ir_sched_step){.kind = TK_SCHED_TAIL, .a = ph->vars[1], .inner = jl, .factor = b->tail});
  const tk_ir_stmt *tiles =
      row_tiles(c, ph, rt, ri, jl, K(c, b->nt * tc), b->tail, b->nt == 0, false);
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_VECTORIZE, .a = jl});
  if (b->cb == 1) return tiles; /* one column block: every work item has the tail */
  const tk_ix *block = tk_ir_ix_mod(m, V(c, c->bound), b->cb);
  return tk_ir_stmt_if(m, block, TK_CMP_EQ, K(c, b->cb - 1), tiles);
}

/* A launch over (row block, column block) work items, bound = rb * CB + cb: at B <= BR the
 * threads still share a layer's columns (issue 13 item 5). */
static const tk_ir_stmt *tile_phase(cpu_ctx *c, const tk_ir_phase *ph) {
  tk_ir_module *m = c->m;
  int64_t br = c->block_rows, tr = c->tile_rows, tc = m->opts.cpu_tile_cols;
  col_blocks b = col_blocks_of(m, ph);
  const tk_ix *r = V(c, ph->vars[0]), *j = V(c, ph->vars[1]);
  const tk_ir_var *rb = tk_ir_var_new(m, "rb", tk_ir_ix_div(m, r, br));
  const tk_ix *item = tk_ir_ix_div(m, r, br); /* one block: the tail is in it too */
  if (b.cb > 1) item = tk_ir_ix_add(m, tk_ir_ix_mul(m, item, b.cb), tk_ir_ix_div(m, j, b.g * tc));
  c->bound = tk_ir_var_new(m, "w", item);
  c->row_block = tk_ir_ix_div(m, V(c, c->bound), b.cb);
  c->k->launch.grid = tk_ir_ix_mul(m, row_blocks(m, br), b.cb);
  const tk_ir_var *rr = tk_ir_var_new(m, TK_IR_BLOCK_ROW_VAR, tk_ir_ix_mod(m, r, br));
  const tk_ir_var *rt = tk_ir_var_new(m, "rt", tk_ir_ix_div(m, tk_ir_ix_mod(m, r, br), tr));
  const tk_ir_var *ri = tk_ir_var_new(m, "ri", tk_ir_ix_mod(m, r, tr));
  if (!phase_locals(c, ph, tr * tc)) return NULL;
  step(c, (tk_ir_sched_step){
              .kind = TK_SCHED_SPLIT, .a = ph->vars[0], .out = rb, .inner = rr, .factor = br});
  step(c,
       (tk_ir_sched_step){.kind = TK_SCHED_SPLIT, .a = rr, .out = rt, .inner = ri, .factor = tr});
  for (int l = 0; l < c->src->nlocals; l++)
    if (c->used[l])
      step(c, (tk_ir_sched_step){
                  .kind = TK_SCHED_EXPAND, .local = c->local_map[l], .factor = tr * tc});
  int64_t q = b.nt > 0 ? tail_panels(c, &b) : 1;
  if (!suffixed_locals(c, q * tc, c->tail_local_map, "_tail")) return NULL;
  if (tail_pairs(c, q) &&
      !suffixed_locals(c, 2 * pair_panels(c, q) * tc, c->pair_local_map, "_pair"))
    return NULL;
  tk_ir_stmt *blk = tk_ir_stmt_block(m);
  if (b.nt > 0) tk_ir_stmt_block_add(m, blk, whole_tiles(c, ph, &b, rt, ri));
  if (b.tail > 0) tk_ir_stmt_block_add(m, blk, tail_tiles(c, ph, &b, rt, ri));
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_UNROLL, .a = ri});
  (void)j;
  return blk;
}

/* Bf = TR * (rows div TR): the rows of whole row tiles. */
static const tk_ix *whole_tile_rows(tk_ir_module *m, const tk_ix *rows, int64_t tr) {
  return tk_ir_ix_mul(m, tk_ir_ix_div(m, rows, tr), tr);
}

/* The reduction loops in s. */
static int count_reductions(const tk_ir_stmt *s) {
  if (!s) return 0;
  int n = s->kind == TK_S_FOR && s->loop == TK_LOOP_REDUCTION;
  for (int i = 0; s->kind == TK_S_BLOCK && i < s->n; i++) n += count_reductions(s->stmts[i]);
  if (s->kind == TK_S_FOR || s->kind == TK_S_IF) n += count_reductions(s->body);
  return n;
}

/* A tileable phase with several reductions (the combine: one per expert) carries a sum across
 * them, a second tile of registers beside the accumulators. With TR rows LLVM's SLP vectoriser
 * left such a tile scalar at both CPU levels (4 x 16 and 8 x 32; nano's combine at B = 256 was
 * 39 % of the forward at 8 GFLOP/s); with CARRIED_TILE_ROWS rows the two tiles take 8 vector
 * registers and are vectorised. */
enum { CARRIED_TILE_ROWS = 2 };

/* Row phases and GEMM layers narrower than NARROW_COLS (one column block) split their rows
 * into blocks of at most NARROW_BLOCK_ROWS: a work item of such a launch is a row block alone,
 * and with sparse dispatch an expert holds about K·B/E rows, so 128-row blocks left one
 * thread with all of nano's expert chains at B = 256 (T = 2 only 1.15× faster than T = 1).
 * Their weights (K × N ≤ 256 columns) stay in L2 across blocks; a wide layer keeps
 * cpu_block_rows, which bounds how often its panels come again from DRAM. Their tiles are the
 * largest that divide the block up to TR: x86-64-v3's 6-row tiles (tk_ir_options_cpu_tiles)
 * take 4 rows there; nano, all of whose layers are narrow, ran 6-9 % slower at B = 1 and 16
 * with 6-row tiles in blocks of 96. */
enum { NARROW_BLOCK_ROWS = 32 };
static bool narrow_blocks(const tk_ir_module *m, const tk_ir_phase *ph) {
  bool wide = ph->tileable && ph->extents[1]->c >= NARROW_COLS;
  return !wide && m->opts.cpu_block_rows > NARROW_BLOCK_ROWS;
}

/* A phase's tile rows: cpu_tile_rows, at most CARRIED_TILE_ROWS in a phase with several
 * reductions (above), and in blocks of NARROW_BLOCK_ROWS the largest that divides them. */
static int64_t phase_tile_rows(const tk_ir_module *m, const tk_ir_phase *ph) {
  int64_t tr = m->opts.cpu_tile_rows;
  bool carried = ph->tileable && count_reductions(ph->body) > 1;
  if (carried && tr > CARRIED_TILE_ROWS) tr = CARRIED_TILE_ROWS;
  if (narrow_blocks(m, ph))
    while (NARROW_BLOCK_ROWS % tr != 0) tr--;
  return tr;
}

static int64_t phase_block_rows(const tk_ir_module *m, const tk_ir_phase *ph) {
  return narrow_blocks(m, ph) ? NARROW_BLOCK_ROWS : m->opts.cpu_block_rows;
}

/* A phase of sparse dispatch's counting sort runs one point per expert (extent E, not Bp):
 * `for e in 0..E @cpu_block { body }`, the body copied as it is (its row loop serial). */
/* The counting sort's phase `for e in 0..E` as one work item (split e -> w, ei by E): its
 * work is O(E·B) integer steps, and as E work items it woke the second thread for nothing
 * (docs/ir.md "Sparse dispatch": T = 2 was slower than T = 1 at B = 1). */
static const tk_ir_stmt *expert_phase(cpu_ctx *c, const tk_ir_phase *ph) {
  tk_ir_module *m = c->m;
  int64_t experts = ph->extents[0]->c;
  const tk_ix *e = V(c, ph->vars[0]);
  c->bound = tk_ir_var_new(m, "w", tk_ir_ix_div(m, e, experts));
  c->k->launch.grid = K(c, 1);
  const tk_ir_var *ei = tk_ir_var_new(m, "ei", tk_ir_ix_mod(m, e, experts));
  tk_ir_subst *s = tk_ir_subst_new(m, 1);
  if (!s || !phase_locals(c, ph, 1)) return NULL;
  tk_ir_subst_add(s, ph->vars[0],
                  tk_ir_ix_add(m, tk_ir_ix_mul(m, V(c, c->bound), experts), V(c, ei)));
  step(c, (tk_ir_sched_step){.kind = TK_SCHED_SPLIT,
                             .a = ph->vars[0],
                             .out = c->bound,
                             .inner = ei,
                             .factor = experts});
  tk_ir_rewrite rw = {.m = m,
                      .src = c->src,
                      .dst = c->k,
                      .subst = s,
                      .arg_map = c->arg_map,
                      .local_map = c->local_map};
  const tk_ir_stmt *body = tk_ir_rewrite_stmt(&rw, ph->body);
  return body ? tk_ir_stmt_for(m, ei, K(c, experts), TK_LOOP_SERIAL, TK_BIND_NONE, body) : NULL;
}

/* The phase without its row guard when its body is `if r < R { .. }` (an expert's chain:
 * R = count[e]; a gather or scatter: R = B): *rows = R in the launch's arguments. */
static const tk_ir_phase *peel_row_guard(cpu_ctx *c, const tk_ir_phase *ph, tk_ir_phase *peeled,
                                         const tk_ix **rows) {
  const tk_ir_stmt *b = ph->body;
  if (b->kind != TK_S_IF || b->cmp != TK_CMP_LT || b->lhs->kind != TK_IX_VAR ||
      b->lhs->var != ph->vars[0])
    return ph;
  *peeled = *ph;
  peeled->body = b->body;
  *rows = tk_ir_ix_map_args(c->m, b->rhs, c->arg_map);
  return peeled;
}

/* One launch per phase of a fused kernel (a column-split GEMM must finish before the row
 * phase that normalises its rows), named like the GPU's. */
static tk_status schedule_phase(tk_ir_module *m, const tk_ir_kernel *src, int pi, int *access) {
  const tk_ir_phase *ph = &src->phases[pi];
  bool per_expert = !tk_ir_ix_equal(ph->extents[0], tk_ir_ix_sym(m, TK_SYM_BP));
  if (per_expert && (ph->ndims != 1 || ph->extents[0]->kind != TK_IX_CONST))
    return tk_status_make(TK_INTERNAL,
                          "CPU schedule: phase %s of kernel %s spans neither Bp rows nor a "
                          "constant number of experts",
                          ph->name, src->name);
  const char *name = src->nphases > 1 ? tk_ir_strfmt(m, "%s_%s", src->name, ph->name) : src->name;
  tk_ir_kernel *k = tk_ir_kernel_new(m, TK_TARGET_CPU, name);
  if (!k) return tk_ir_module_status(m);
  k->source = src->id;
  k->source_phase = pi;
  for (int i = 0; i < src->nargs; i++) access[i] = 0;
  tk_ir_stmt_uses(ph->body, access, NULL);
  /* One allocation per statement: an initializer list's order is unspecified in C. */
  const int *arg_map = tk_ir_sched_copy_args(m, src, k, access);
  int *local_map = tk_ir_alloc(m, sizeof(int) * (size_t)(src->nlocals + 1));
  int *tail_local_map = tk_ir_alloc(m, sizeof(int) * (size_t)(src->nlocals + 1));
  int *pair_local_map = tk_ir_alloc(m, sizeof(int) * (size_t)(src->nlocals + 1));
  bool *used = tk_ir_alloc(m, sizeof(bool) * (size_t)(src->nlocals + 1));
  cpu_ctx c = {.m = m,
               .src = src,
               .k = k,
               .pi = pi,
               .arg_map = arg_map,
               .local_map = local_map,
               .tail_local_map = tail_local_map,
               .pair_local_map = pair_local_map,
               .used = used};
  if (!c.arg_map || !c.local_map || !c.tail_local_map || !c.pair_local_map || !c.used)
    return tk_ir_module_status(m);
  tk_ir_phase peeled;
  c.rows = tk_ir_ix_sym(m, TK_SYM_B);
  if (!per_expert) ph = peel_row_guard(&c, ph, &peeled, &c.rows);
  c.tile_rows = phase_tile_rows(m, ph);
  c.block_rows = phase_block_rows(m, ph);
  c.full_rows = whole_tile_rows(m, c.rows, c.tile_rows);
  const tk_ir_stmt *body = per_expert     ? expert_phase(&c, ph)
                           : ph->tileable ? tile_phase(&c, ph)
                                          : row_phase(&c, ph);
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  step(&c, (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = c.bound, .binding = TK_BIND_CPU_BLOCK});
  k->launch.workgroup_size = 1;
  k->launch.block_rows = per_expert ? ph->extents[0]->c : c.block_rows;
  k->body = tk_ir_stmt_for(m, c.bound, k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_CPU_BLOCK, body);
  tk_ir_contract extra[4];
  int nextra = tk_ir_carried_contracts(src, arg_map, extra, 4);
  const tk_ix *data_rows = tk_ir_data_rows_written(m, src, arg_map);
  tk_ir_kernel_contracts(m, k, false, data_rows ? data_rows : c.rows, extra, nextra);
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  /* CPU kernels index in i64 whatever their range: an i32 index is sign-extended before every
   * address, and through `sext(or ..)` LLVM's SLP vectoriser lost that a row's 8 lanes are
   * consecutive (it assembled the first vector of each LayerNorm sum from five loads and four
   * shuffles). The no_overflow obligations prove the width all the same. */
  k->index_bits = 64;
  tk_ir_kernel_append(m, k);
  return tk_ir_module_status(m);
}

static tk_status schedule_kernel(tk_ir_module *m, const tk_ir_kernel *src) {
  int *access = tk_ir_alloc(m, sizeof *access * (size_t)(src->nargs + 1));
  if (!access) return tk_ir_module_status(m);
  for (int pi = 0; pi < src->nphases; pi++) TK_RETURN_IF_ERROR(schedule_phase(m, src, pi, access));
  return TK_STATUS_OK;
}

tk_status tk_ir_pass_schedule_cpu(tk_ir_module *m) {
  if (m->stage != TK_STAGE_GPU)
    return tk_status_make(TK_INTERNAL, "CPU schedule: module at stage %d, expected gpu",
                          (int)m->stage);
  choose_panels(m);
  for (int ki = 0; ki < m->kernels.n; ki++)
    TK_RETURN_IF_ERROR(schedule_kernel(m, m->kernels.items[ki]));
  m->stage = TK_STAGE_CPU;
  return TK_STATUS_OK;
}
