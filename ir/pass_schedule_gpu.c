/* ir/pass_schedule_gpu.c — the first GPU schedule (PLANNED → GPU).
 *
 * One launch per phase of every fused kernel (a phase boundary needs a grid-wide barrier).
 * No shared memory, no barriers: a row's reductions stay in one thread.
 *   2-D phase (r < R, j < N), workgroup WG = gpu_wg_2d (256):
 *       fuse r, j -> g (g = r*N + j); split g -> wg, t by WG; bind wg @workgroup_x,
 *       t @thread_x; r = g div N, j = g mod N; grid = (R*N + WG - 1) div WG
 *   1-D phase (r < R), WG = gpu_wg_rows (64): split r -> wg, t; r = wg*WG + t
 * with g = wg*WG + t. A guard `if g < R*N` is inserted unless R = Bp and Q*N is a multiple
 * of WG (Bp is a multiple of Q = TK_PAD_QUANTUM, so the grid then covers the space exactly).
 * Inner parallel loops of the phase body run serially in the thread. Sparse dispatch's counting
 * sort (a phase over E experts, not Bp rows) runs one single-thread workgroup per expert
 * (expert_launch); an expert chain's `if r < count[e]` stays in the body as a guard. Every scheduled variable records its
 * inverse (wg = g div WG, t = g mod WG over the phase's r, j), every copied access its
 * origin and the forward substitution. Launch names: the fused kernel's name, with
 * "_<phase>" appended when the launch runs fewer phases than the kernel has.
 * With tk_ir_options.gpu_schedule = TILED, a GEMM phase's launch is tiled instead
 * (ir/pass_schedule_gpu_tiled.c), and a row phase with sums over its columns runs a workgroup
 * per row (ir/pass_schedule_gpu_rows.c) — or, right after a GEMM whose tile can span whole
 * rows, in the GEMM's launch as its epilogue (tk_ir_gpu_epilogue_fits).
 */
#include <stdlib.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"
#include "tk/launch.h"

typedef struct gpu_space {
  const tk_ix *flat;  /* g over the phase's variables (r*N + j, or r) */
  const tk_ix *total; /* R*N or R */
  int64_t wg;
  bool guard;
} gpu_space;

static gpu_space space_of(tk_ir_module *m, const tk_ir_phase *ph) {
  gpu_space s;
  const tk_ix *r = tk_ir_ix_var(m, ph->vars[0]);
  int64_t n = ph->ndims == 2 ? ph->extents[1]->c : 1;
  s.wg = ph->ndims == 2 ? m->opts.gpu_wg_2d : m->opts.gpu_wg_rows;
  s.flat = ph->ndims == 2 ? tk_ir_ix_rowmajor(m, r, n, tk_ir_ix_var(m, ph->vars[1])) : r;
  s.total = tk_ir_ix_mul(m, ph->extents[0], n);
  bool exact = ph->extents[0]->kind == TK_IX_SYM && ph->extents[0]->sym == TK_SYM_BP &&
               (TK_PAD_QUANTUM * n) % s.wg == 0;
  s.guard = !exact;
  return s;
}

static void record_steps(tk_ir_module *m, tk_ir_kernel *k, const tk_ir_phase *ph,
                         const gpu_space *sp, const tk_ir_var *wg, const tk_ir_var *t) {
  const tk_ir_var *g = ph->vars[0];
  if (ph->ndims == 2) {
    g = tk_ir_var_new(m, "g", sp->flat);
    tk_ir_kernel_step(
        m, k,
        (tk_ir_sched_step){.kind = TK_SCHED_FUSE, .a = ph->vars[0], .b = ph->vars[1], .out = g});
  }
  tk_ir_kernel_step(
      m, k,
      (tk_ir_sched_step){.kind = TK_SCHED_SPLIT, .a = g, .out = wg, .inner = t, .factor = sp->wg});
  tk_ir_kernel_step(
      m, k, (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = wg, .binding = TK_BIND_WORKGROUP_X});
  tk_ir_kernel_step(m, k,
                    (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = t, .binding = TK_BIND_THREAD_X});
  if (sp->guard)
    tk_ir_kernel_step(
        m, k,
        (tk_ir_sched_step){.kind = TK_SCHED_GUARD, .lhs = tk_ir_ix_var(m, g), .rhs = sp->total});
}

/* A phase of sparse dispatch's counting sort (extent E, not Bp): one single-thread workgroup
 * per expert, `for e in 0..E @workgroup_x { for t in 0..1 @thread_x { body } }`, the body (its
 * serial row loop) copied as it is — the form the dispatch class proves. */
static const tk_ir_stmt *expert_launch(tk_ir_module *m, tk_ir_kernel *k, const tk_ir_phase *ph,
                                       tk_ir_rewrite *rw) {
  const tk_ir_var *t = tk_ir_var_new(m, "t", tk_ir_ix_const(m, 0));
  k->launch.workgroup_size = 1;
  k->launch.grid = ph->extents[0];
  tk_ir_kernel_step(
      m, k,
      (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = ph->vars[0], .binding = TK_BIND_WORKGROUP_X});
  tk_ir_kernel_step(m, k,
                    (tk_ir_sched_step){.kind = TK_SCHED_BIND, .a = t, .binding = TK_BIND_THREAD_X});
  const tk_ir_stmt *body = tk_ir_rewrite_stmt(rw, ph->body);
  body = tk_ir_stmt_for(m, t, tk_ir_ix_const(m, 1), TK_LOOP_PARALLEL, TK_BIND_THREAD_X, body);
  return tk_ir_stmt_for(m, ph->vars[0], k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_WORKGROUP_X,
                        body);
}

/* Contracts, index width, and the launch appended. */
static tk_status finish_kernel(tk_ir_module *m, const tk_ir_kernel *src, tk_ir_kernel *k,
                               const int *arg_map) {
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  tk_ir_contract extra[4];
  int nextra = tk_ir_carried_contracts(src, arg_map, extra, 4);
  tk_ir_kernel_contracts(m, k, false, tk_ir_data_rows_written(m, src, arg_map), extra, nextra);
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  k->index_bits = tk_ir_index_bits(m, k);
  tk_ir_kernel_append(m, k);
  return tk_ir_module_status(m);
}

/* The phases from pi one launch runs: 2 when the tiled schedule runs phase pi + 1 as the
 * epilogue of GEMM phase pi (tk_ir_gpu_epilogue_fits), else 1. */
static int phases_at(const tk_ir_module *m, const tk_ir_kernel *src, int pi) {
  if (m->opts.gpu_schedule != TK_GPU_SCHEDULE_TILED || pi + 1 >= src->nphases) return 1;
  return tk_ir_gpu_epilogue_fits(m->opts.gpu_tiles, src, &src->phases[pi], &src->phases[pi + 1])
             ? 2
             : 1;
}

/* A GEMM phase and its epilogue in one launch: the GEMM's locals expanded by the register
 * tile, the row phase's by its rows per thread. */
static tk_status schedule_epilogue(tk_ir_module *m, const tk_ir_kernel *src, int pi,
                                   tk_ir_kernel *k, int *access, bool *used) {
  const tk_ir_phase *gemm = &src->phases[pi], *row = &src->phases[pi + 1];
  tk_ir_stmt_uses(row->body, access, NULL);
  int *arg_map = tk_ir_sched_copy_args(m, src, k, access);
  int *local_map = tk_ir_alloc(m, sizeof *local_map * (size_t)(src->nlocals + 1));
  if (!arg_map || !local_map ||
      !tk_ir_sched_copy_locals(m, src, k, used, TK_IR_GPU_REG_ROWS * TK_IR_GPU_REG_COLS, local_map))
    return tk_ir_module_status(m);
  for (int i = 0; i < src->nlocals; i++) used[i] = false;
  tk_ir_stmt_uses(row->body, NULL, used);
  if (!tk_ir_sched_copy_locals(m, src, k, used, TK_IR_GPU_REG_ROWS, local_map))
    return tk_ir_module_status(m);
  k->body = tk_ir_gpu_tiled_epilogue_body(m, src, gemm, row, k, arg_map, local_map);
  return finish_kernel(m, src, k, arg_map);
}

/* The launch of the phases pi .. pi + n - 1; named after the fused kernel, with "_<phase>"
 * (the first's) when it runs fewer than all of them. */
static tk_status schedule_phase(tk_ir_module *m, const tk_ir_kernel *src, int pi, int n,
                                int *access, bool *used) {
  const tk_ir_phase *ph = &src->phases[pi];
  const char *name = n < src->nphases ? tk_ir_strfmt(m, "%s_%s", src->name, ph->name) : src->name;
  tk_ir_kernel *k = tk_ir_kernel_new(m, TK_TARGET_GPU, name);
  if (!k) return tk_ir_module_status(m);
  k->source = src->id;
  k->source_phase = pi;
  k->source_phases = n;
  for (int i = 0; i < src->nargs; i++) access[i] = 0;
  for (int i = 0; i < src->nlocals; i++) used[i] = false;
  tk_ir_stmt_uses(ph->body, access, used);
  if (n == 2) return schedule_epilogue(m, src, pi, k, access, used);
  bool tiled =
      m->opts.gpu_schedule == TK_GPU_SCHEDULE_TILED && tk_ir_gpu_tileable(m->opts.gpu_tiles, ph);
  bool row_tiled =
      m->opts.gpu_schedule == TK_GPU_SCHEDULE_TILED && tk_ir_gpu_row_reducible(src, ph);
  int64_t expand = tiled ? TK_IR_GPU_REG_ROWS * TK_IR_GPU_REG_COLS : 1;
  int *arg_map = tk_ir_sched_copy_args(m, src, k, access);
  int *local_map = tk_ir_alloc(m, sizeof *local_map * (size_t)(src->nlocals + 1));
  if (!arg_map || !local_map || !tk_ir_sched_copy_locals(m, src, k, used, expand, local_map))
    return tk_ir_module_status(m);
  if (tiled) {
    k->body = tk_ir_gpu_tiled_body(m, src, ph, k, arg_map, local_map);
    return finish_kernel(m, src, k, arg_map);
  }
  if (row_tiled) {
    k->body = tk_ir_gpu_rows_body(m, src, ph, k, arg_map, local_map);
    return finish_kernel(m, src, k, arg_map);
  }

  if (!tk_ir_ix_equal(ph->extents[0], tk_ir_ix_sym(m, TK_SYM_BP))) {
    tk_ir_rewrite rw = {.m = m,
                        .src = src,
                        .dst = k,
                        .subst = tk_ir_subst_new(m, 0),
                        .arg_map = arg_map,
                        .local_map = local_map};
    k->body = rw.subst ? expert_launch(m, k, ph, &rw) : NULL;
    return finish_kernel(m, src, k, arg_map);
  }
  gpu_space sp = space_of(m, ph);
  const tk_ir_var *wg = tk_ir_var_new(m, "wg", tk_ir_ix_div(m, sp.flat, sp.wg));
  const tk_ir_var *t = tk_ir_var_new(m, "t", tk_ir_ix_mod(m, sp.flat, sp.wg));
  const tk_ix *g = tk_ir_ix_add(m, tk_ir_ix_mul(m, tk_ir_ix_var(m, wg), sp.wg), tk_ir_ix_var(m, t));
  tk_ir_subst *subst = tk_ir_subst_new(m, 2);
  if (ph->ndims == 2) {
    int64_t n = ph->extents[1]->c;
    tk_ir_subst_add(subst, ph->vars[0], tk_ir_ix_div(m, g, n));
    tk_ir_subst_add(subst, ph->vars[1], tk_ir_ix_mod(m, g, n));
  } else {
    tk_ir_subst_add(subst, ph->vars[0], g);
  }
  static const tk_ir_loop_kind serial_in_thread[] = {
      [TK_LOOP_SERIAL] = TK_LOOP_SERIAL,       [TK_LOOP_PARALLEL] = TK_LOOP_SERIAL,
      [TK_LOOP_REDUCTION] = TK_LOOP_REDUCTION, [TK_LOOP_UNROLL] = TK_LOOP_UNROLL,
      [TK_LOOP_VECTOR] = TK_LOOP_SERIAL,
  };
  tk_ir_rewrite rw = {.m = m,
                      .src = src,
                      .dst = k,
                      .subst = subst,
                      .arg_map = arg_map,
                      .local_map = local_map,
                      .loop_map = serial_in_thread};
  const tk_ir_stmt *body = tk_ir_rewrite_stmt(&rw, ph->body);
  if (sp.guard) body = tk_ir_stmt_if(m, g, TK_CMP_LT, sp.total, body);
  k->launch.workgroup_size = sp.wg;
  k->launch.grid = tk_ir_ix_div(m, tk_ir_ix_add(m, sp.total, tk_ir_ix_const(m, sp.wg - 1)), sp.wg);
  body = tk_ir_stmt_for(m, t, tk_ir_ix_const(m, sp.wg), TK_LOOP_PARALLEL, TK_BIND_THREAD_X, body);
  k->body = tk_ir_stmt_for(m, wg, k->launch.grid, TK_LOOP_PARALLEL, TK_BIND_WORKGROUP_X, body);
  record_steps(m, k, ph, &sp, wg, t);
  return finish_kernel(m, src, k, arg_map);
}

tk_status tk_ir_pass_schedule_gpu(tk_ir_module *m) {
  if (m->stage != TK_STAGE_PLANNED)
    return tk_status_make(TK_INTERNAL, "GPU schedule: module at stage %d, expected planned",
                          (int)m->stage);
  tk_status s = TK_STATUS_OK;
  for (int ki = 0; !s && ki < m->kernels.n; ki++) {
    const tk_ir_kernel *src = m->kernels.items[ki];
    int *access = tk_ir_alloc(m, sizeof *access * (size_t)(src->nargs + 1));
    bool *used = tk_ir_alloc(m, sizeof *used * (size_t)(src->nlocals + 1));
    if (!access || !used) return tk_ir_module_status(m);
    for (int pi = 0, n = 1; !s && pi < src->nphases; pi += n) {
      n = phases_at(m, src, pi);
      s = schedule_phase(m, src, pi, n, access, used);
    }
  }
  TK_RETURN_IF_ERROR(s);
  m->stage = TK_STAGE_GPU;
  return TK_STATUS_OK;
}
