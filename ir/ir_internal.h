/* ir/ir_internal.h — private helpers shared by the files of ir/ (not part of the API):
 * the sticky failure flag, arena-backed growable arrays, and the statement rewriter the
 * schedulers share. Sectioned by defining file. */
#ifndef TK_IR_INTERNAL_H
#define TK_IR_INTERNAL_H

#include "ir/ir.h"

/* ---- module.c ---- */
/* Marks the module failed (an allocation failed or a builder got an invalid argument). */
void tk_ir_mark_failed(tk_ir_module *m);
/* Makes room for one more element in an arena array (*items, *cap); false on failure. */
bool tk_ir_grow(tk_ir_module *m, void **items, int *cap, int n, size_t elem);
#define TK_IR_PUSH(m, arr, n, cap) tk_ir_grow((m), (void **)&(arr), &(cap), (n), sizeof *(arr))

/* ---- index_width.c ---- */
/* 32 if every index expression (and every subexpression), loop extent and argument size of
 * the kernel fits in int32 for all 1 <= B <= bmax (interval bounds), else 64. */
int tk_ir_index_bits(tk_ir_module *m, const tk_ir_kernel *k); /* marks m failed on OOM */

/* ---- fuse_emit.c (used by pass_fuse.c) ---- */
/* The state of one fused kernel under construction. */
typedef struct tk_fuse_ctx {
  tk_ir_module *m;
  tk_ir_kernel *k;
  const tk_ir_var *r; /* the row variable shared by every phase of the kernel */
  const int *alias;   /* tensor id → tensor whose storage holds it (identity by default) */
} tk_fuse_ctx;
/* Linear (x·W + b) over (r, j), then `nepi` elementwise epilogue ops (gelu, add) in order,
 * stored to every output operand of the last op. */
void tk_ir_fuse_emit_gemm(tk_fuse_ctx *c, const tk_ir_op *lin, const tk_ir_op *const *epi,
                          int nepi);
/* LayerNorm over the row, then an optional gelu (NULL), stored to the last op's outputs. */
void tk_ir_fuse_emit_norm(tk_fuse_ctx *c, const tk_ir_op *ln, const tk_ir_op *gelu);
/* Router: linear → softmax → topk_mask as one row phase with the explicit selection loop. */
void tk_ir_fuse_emit_route(tk_fuse_ctx *c, const tk_ir_op *lin, const tk_ir_op *sm,
                           const tk_ir_op *topk);
/* moe_combine with the expert heads (the linears producing its o_e inputs) over (r, j). */
void tk_ir_fuse_emit_combine(tk_fuse_ctx *c, const tk_ir_op *comb);
/* Sparse dispatch: the counting sort (one point per expert), an expert's gather and scatter,
 * and the row guard `if r < count[e]` of the phases an expert-chain op emitted from `first`. */
void tk_ir_fuse_emit_dispatch(tk_fuse_ctx *c, const tk_ir_op *d);
void tk_ir_fuse_emit_gather(tk_fuse_ctx *c, const tk_ir_op *g);
void tk_ir_fuse_emit_scatter(tk_fuse_ctx *c, const tk_ir_op *s);
void tk_ir_fuse_limit_rows(tk_fuse_ctx *c, const tk_ir_op *op, int first);

/* ---- contracts.c ---- */
/* Derives a kernel's argument contracts from its arguments and how its body uses them:
 * requires rows(a, rows, cols) for every argument, reads_clamped for the caller's input,
 * ensures writes_rows_lt(a, B) for each caller's output written, for each other buffer written
 * writes_all (rows_written NULL) or writes_rows_lt(a, rows_written) (a CPU kernel computes only
 * the rows of the batch's row tiles), row_local for read-write buffers when `multi_phase`;
 * then appends `extra` (already in this kernel's argument indices; entries naming a missing
 * argument, -1, are dropped). */
void tk_ir_kernel_contracts(tk_ir_module *m, tk_ir_kernel *k, bool multi_phase,
                            const tk_ix *rows_written, const tk_ir_contract *extra, int nextra);
/* The op contracts a fused kernel carries to its launches, in their argument indices: the
 * router's top-K, the combine's masked SELECT, sparse dispatch's counting sort. */
bool tk_ir_pred_carried(tk_ir_pred p);
/* The data-dependent row count a fused kernel's writes_rows_lt contract names (an expert's
 * chain or gather: rows < count[e]), in a launch's argument indices; NULL if none. */
const tk_ix *tk_ir_data_rows_written(tk_ir_module *m, const tk_ir_kernel *src, const int *arg_map);
/* The carried contracts (tk_ir_pred_carried) of fused kernel src in a launch's argument
 * indices (arg_map: src id → launch id, -1 if the launch lacks it), at most cap into out;
 * returns how many. */
int tk_ir_carried_contracts(const tk_ir_kernel *src, const int *arg_map, tk_ir_contract *out,
                            int cap);
/* Argument use of a statement tree: access[i] |= READ / WRITE for every arg i it loads /
 * stores; used[l] = true for every local it touches (either array may be NULL). */
void tk_ir_stmt_uses(const tk_ir_stmt *s, int *access, bool *used_locals);

/* ---- pass_schedule_gpu_tiled.c ---- */
/* The register sub-tile of a thread of the tiled schedule (the accumulator's expansion). */
enum { TK_IR_GPU_REG_ROWS = 4, TK_IR_GPU_REG_COLS = 4 };
/* A 2-D phase the tiled GPU schedule can run: a GEMM of the fused form whose N and K a tile
 * of `set` divides. */
bool tk_ir_gpu_tileable(tk_ir_gpu_tile_set set, const tk_ir_phase *ph);
/* The tiled launch body of phase ph of src into k (its arguments and locals copied with
 * arg_map / local_map, the accumulator expanded by the register tile), k's launch and steps
 * set; NULL when the phase is not tileable or on allocation failure. */
const tk_ir_stmt *tk_ir_gpu_tiled_body(tk_ir_module *m, const tk_ir_kernel *src,
                                       const tk_ir_phase *ph, tk_ir_kernel *k, const int *arg_map,
                                       const int *local_map);
/* Whether row phase `row` of src, following GEMM phase `gemm`, runs as the epilogue of the
 * GEMM's tiled launch: the GEMM stores its accumulator as it is (`%h[r*N + j] = acc`), a
 * tile of whole rows fits one workgroup (at most TK_IR_GPU_EPILOGUE_THREADS threads), and
 * the row phase has tk_ir_gpu_row_epilogue_form over %h, sharing no local with the GEMM. */
enum { TK_IR_GPU_EPILOGUE_THREADS = 256 };
bool tk_ir_gpu_epilogue_fits(tk_ir_gpu_tile_set set, const tk_ir_kernel *src,
                             const tk_ir_phase *gemm, const tk_ir_phase *row);
/* The launch of both: the GEMM tiled over whole rows, its output kept in the accumulators,
 * then the row phase on the registers' layout (tk_ir_gpu_rows_epilogue). The row phase's
 * locals are expanded by TK_IR_GPU_REG_ROWS (its rows per thread). */
const tk_ir_stmt *tk_ir_gpu_tiled_epilogue_body(tk_ir_module *m, const tk_ir_kernel *src,
                                                const tk_ir_phase *gemm, const tk_ir_phase *row,
                                                tk_ir_kernel *k, const int *arg_map,
                                                const int *local_map);

/* ---- pass_schedule_gpu_rows.c ---- */
/* A row phase the tiled GPU schedule runs as one workgroup per row: scalar steps and sums
 * over the row's columns, then one parallel loop over them (LayerNorm's form). */
bool tk_ir_gpu_row_reducible(const tk_ir_kernel *src, const tk_ir_phase *ph);
/* Its launch body (a workgroup per row, the sums reduced through a shared tree between
 * barriers), k's launch and steps set; NULL when the phase is not of the form or on
 * allocation failure. */
const tk_ir_stmt *tk_ir_gpu_rows_body(tk_ir_module *m, const tk_ir_kernel *src,
                                      const tk_ir_phase *ph, tk_ir_kernel *k, const int *arg_map,
                                      const int *local_map);
/* A tiled launch's thread → register layout: thread t holds rows r0 + rm*ty + t div tx and
 * columns rn*tx + t mod tx of a tile of whole rows (rm < reg_rows, rn < reg_cols). */
typedef struct tk_ir_gpu_regs {
  const tk_ir_var *t;
  const tk_ix *r0;
  int64_t ty, tx, reg_rows, reg_cols;
  int acc;     /* the scheduled accumulator, RM*RN per thread: acc[rm*RN + rn] */
  int out_arg; /* the GEMM's output, a fused argument */
} tk_ir_gpu_regs;
/* Whether row phase ph has the form of an epilogue over N columns of the GEMM's output
 * out_arg (a fused argument): tk_ir_gpu_row_reducible's form under the GEMM's own row guards,
 * scalar steps that touch no memory, loads of out_arg only at the column loop's own element
 * `r*N + j`, and one store of out_arg, the output loop's last statement, in place (see
 * tk_ir_gpu_epilogue_fits). */
bool tk_ir_gpu_row_epilogue_form(const tk_ir_kernel *src, const tk_ir_phase *ph, int64_t N,
                                 int out_arg, const tk_ir_stmt *const *guards, int nguards);
/* Row phase ph on the registers' layout of a tiled launch: each thread's rows and columns
 * are the ones it computed, each sum reduced over the tx threads of a row through a shared
 * tree between barriers; NULL on allocation failure. */
const tk_ir_stmt *tk_ir_gpu_rows_epilogue(tk_ir_module *m, const tk_ir_kernel *src,
                                          const tk_ir_phase *ph, tk_ir_kernel *k,
                                          const int *arg_map, const int *local_map,
                                          const tk_ir_gpu_regs *g);

/* ---- rewrite.c ---- */
/* Copies a fused-kernel statement tree into scheduled kernel `dst`, applying `subst` to
 * every index and extent, renaming locals through `local_map` (fused local id → scheduled
 * local id) with index ix ↦ tile_point * count + ix when `tile_point` is non-NULL (for the
 * locals point_locals marks, or all), and
 * recording origin/subst on every copied STORE, LOCAL_STORE, LOAD and LOCAL_LOAD. Loop
 * kinds are mapped through `loop_map` (indexed by tk_ir_loop_kind; NULL keeps them). */
typedef struct tk_ir_rewrite {
  tk_ir_module *m;
  const tk_ir_kernel *src;
  tk_ir_kernel *dst;
  const tk_ir_subst *subst;
  const int *arg_map; /* fused arg id → scheduled arg id (NULL: identity) */
  const int *local_map;
  const tk_ix *tile_point; /* NULL: locals not expanded */
  const tk_ir_loop_kind *loop_map;
  /* Optional: the index of a copied LOAD of the fused node `load`, given its substituted
   * index `ix` (the CPU schedule's weight panels); NULL keeps ix. `user` is the hook's. */
  const tk_ix *(*load_ix)(const struct tk_ir_rewrite *rw, const tk_ir_val *load, const tk_ix *ix);
  /* Optional: the value a copied LOAD of the fused node `load` is replaced by, where the
   * schedule holds it in a local (a GEMM epilogue's accumulators); NULL keeps the load. */
  const tk_ir_val *(*load_val)(const struct tk_ir_rewrite *rw, const tk_ir_val *load);
  const void *user;
  const bool *point_locals; /* with tile_point: the fused locals it expands (NULL: all of
                               them; a row reduction's lanes expand only its accumulator) */
} tk_ir_rewrite;
/* A VECTOR loop whose body contains a loop becomes SERIAL (vector loops are innermost). */
const tk_ir_stmt *tk_ir_rewrite_stmt(const tk_ir_rewrite *rw, const tk_ir_stmt *s);
/* The fused guards guards[0..n) (IFs, outermost first) around body, their indices renumbered
 * through arg_map and then substituted by s (a schedule's guards at its own point); NULL when s
 * or body is NULL. */
const tk_ir_stmt *tk_ir_guards_at(tk_ir_module *m, const tk_ir_stmt *const *guards, int n,
                                  const int *arg_map, const tk_ir_subst *s, const tk_ir_stmt *body);
/* Copies src's arguments into dst: all of them (access NULL) or those with access[i] != 0,
 * taking that access. Returns the argument map (src id → dst id, -1 if dropped). */
int *tk_ir_sched_copy_args(tk_ir_module *m, const tk_ir_kernel *src, tk_ir_kernel *dst,
                           const int *access);
/* Copies the locals with used[l] into dst, `expand` copies each (origin/expand recorded),
 * filling map[l]; returns map, NULL on failure. */
int *tk_ir_sched_copy_locals(tk_ir_module *m, const tk_ir_kernel *src, tk_ir_kernel *dst,
                             const bool *used, int64_t expand, int *map);
/* A one-entry-per-variable substitution builder. */
tk_ir_subst *tk_ir_subst_new(tk_ir_module *m, int cap);
void tk_ir_subst_add(tk_ir_subst *s, const tk_ir_var *from, const tk_ix *to);

#endif
