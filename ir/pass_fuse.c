/* ir/pass_fuse.c — the fusion pass (PADDED → FUSED): graph ops become fused kernels.
 *
 * Grouping: ops are grouped by layer name ("expert_0_hidden_1", "router", "dense_block_2"),
 * and a Linear whose only consumer is a moe_combine (an expert head) joins the combine's
 * group. Kernels are ordered by the position of their group's last op, so every kernel comes
 * after the kernels producing its inputs. Within a group the ops become phases:
 *   linear [+ gelu | silu | add | mul epilogues] → phase gemm (r, j) tileable
 *   layernorm [+ gelu]                → phase norm    (r)
 *   linear, softmax, topk_mask        → phase route   (r)      the router
 *   moe_combine (+ its head linears)  → phase combine (r, j)   tileable
 * A tensor produced by a gemm phase and consumed only by the next norm phase of the same
 * group is stored in the norm chain's output (the LayerNorm then runs in place), so
 * Linear → LN → GELU writes one tensor. Other intermediates that cross phases keep their
 * own scratch tensor. Every phase reads at row r only what earlier phases wrote at row r
 * (row-local), so the CPU schedule can run all phases inside one row block; this holds by
 * construction of the emitters (every activation access is at row r or the clamped input
 * row) and is recorded as `ensures row_local(...)`.
 */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"

/* The group (layer name) an op belongs to. */
static const char *group_of(const tk_ir_module *m, const tk_ir_op *op) {
  if (op->kind != TK_OP_LINEAR) return op->layer;
  int out = op->out[0].tensor;
  const tk_ir_op *only = NULL;
  int uses = 0;
  for (int i = 0; i < m->nops; i++) {
    const tk_ir_op *q = &m->ops[i];
    if (q->dead) continue;
    for (int j = 0; j < q->nin; j++)
      if (q->in[j].tensor == out) {
        uses++;
        only = q;
      }
  }
  return uses == 1 && only->kind == TK_OP_MOE_COMBINE ? only->layer : op->layer;
}

static int consumers(const tk_ir_module *m, int tensor) {
  int n = 0;
  for (int i = 0; i < m->nops; i++)
    for (int j = 0; !m->ops[i].dead && j < m->ops[i].nin; j++)
      n += m->ops[i].in[j].tensor == tensor;
  return n;
}

/* ops[i+1] if it is an elementwise op (gelu, silu, add, mul) that is the only consumer of ops[i]'s
 * output, else NULL. */
static const tk_ir_op *epilogue_after(const tk_ir_module *m, tk_ir_op *const *ops, int n, int i) {
  if (i + 1 >= n) return NULL;
  const tk_ir_op *nx = ops[i + 1];
  if (nx->kind != TK_OP_GELU && nx->kind != TK_OP_SILU && nx->kind != TK_OP_ADD &&
      nx->kind != TK_OP_MUL)
    return NULL;
  int t = ops[i]->out[0].tensor;
  if (ops[i]->nout != 1 || consumers(m, t) != 1) return NULL;
  for (int j = 0; j < nx->nin; j++)
    if (nx->in[j].tensor == t) return nx;
  return NULL;
}

/* A linear placed in another layer's group: an expert head inside the combine. */
static bool is_head(const tk_ir_op *op, const char *group) {
  return op->kind == TK_OP_LINEAR && strcmp(op->layer, group) != 0;
}

/* Linear → LayerNorm in one group: the linear's output lives in the norm chain's output. */
static void plan_aliases(const tk_ir_module *m, tk_ir_op *const *ops, int n, int *alias) {
  for (int i = 0; i + 1 < n; i++) {
    const tk_ir_op *ln = ops[i + 1];
    if (ops[i]->kind != TK_OP_LINEAR || ln->kind != TK_OP_LAYERNORM) continue;
    int a = ops[i]->out[0].tensor;
    if (ln->in[0].tensor != a || consumers(m, a) != 1) continue;
    const tk_ir_op *g = epilogue_after(m, ops, n, i + 1);
    const tk_ir_op *last = g && g->kind == TK_OP_GELU ? g : ln;
    if (last->nout == 1 && !last->out[0].row_limit) alias[a] = last->out[0].tensor;
  }
}

static tk_status emit_group(tk_fuse_ctx *c, tk_ir_op *const *ops, int n, const char *group) {
  for (int i = 0; i < n; i++) {
    const tk_ir_op *op = ops[i];
    int first = c->k->nphases;
    if (op->kind == TK_OP_LINEAR && is_head(op, group)) continue; /* in the combine */
    if (op->kind == TK_OP_LINEAR && i + 2 < n && ops[i + 1]->kind == TK_OP_SOFTMAX &&
        ops[i + 2]->kind == TK_OP_TOPK_MASK) {
      tk_ir_fuse_emit_route(c, op, ops[i + 1], ops[i + 2]);
      i += 2;
    } else if (op->kind == TK_OP_LINEAR) {
      const tk_ir_op *epi[2];
      int nepi = 0;
      const tk_ir_op *e;
      while (nepi < 2 && (e = epilogue_after(c->m, ops, n, i)) != NULL) epi[nepi++] = e, i++;
      tk_ir_fuse_emit_gemm(c, op, epi, nepi);
    } else if (op->kind == TK_OP_LAYERNORM) {
      const tk_ir_op *g = epilogue_after(c->m, ops, n, i);
      if (g && g->kind != TK_OP_GELU) g = NULL;
      if (g) i++;
      tk_ir_fuse_emit_norm(c, op, g);
    } else if (op->kind == TK_OP_MOE_COMBINE) {
      tk_ir_fuse_emit_combine(c, op);
    } else if (op->kind == TK_OP_DISPATCH) {
      tk_ir_fuse_emit_dispatch(c, op);
    } else if (op->kind == TK_OP_GATHER) {
      tk_ir_fuse_emit_gather(c, op);
    } else if (op->kind == TK_OP_SCATTER) {
      tk_ir_fuse_emit_scatter(c, op);
    } else {
      return tk_status_make(TK_INTERNAL, "fusion: no rule places op %s (%s) in kernel %s", op->name,
                            tk_ir_op_kind_name(op->kind), group);
    }
    tk_ir_fuse_limit_rows(c, op, first);
  }
  return TK_STATUS_OK;
}

/* ---- kernel contracts ---- */

static int arg_of_tensor(const tk_ir_kernel *k, const int *alias, int tensor) {
  if (tensor < 0) return -1;
  for (int i = 0; i < k->nargs; i++)
    if (k->args[i].tensor == alias[tensor]) return i;
  return -1;
}

/* The rows an expert chain or gather writes: rows < count[e] (NULL: the kernel's rows). */
static const tk_ix *rows_written(tk_ir_module *m, const tk_ir_kernel *k, tk_ir_op *const *ops,
                                 int n, const int *alias) {
  for (int i = 0; i < n; i++) {
    const tk_ir_op *op = ops[i];
    int count = op->kind == TK_OP_GATHER ? op->in[3].tensor : op->rows_count;
    int arg = op->expert >= 0 && op->kind != TK_OP_SCATTER ? arg_of_tensor(k, alias, count) : -1;
    if (arg >= 0) return tk_ir_ix_load(m, arg, k->args[arg].name, tk_ir_ix_const(m, op->expert));
  }
  return NULL;
}

/* The router's top-K, the combine's masked SELECT and the dispatch's counting sort, in the
 * kernel's argument indices. */
static void kernel_contracts(tk_ir_module *m, tk_ir_kernel *k, tk_ir_op *const *ops, int n,
                             const int *alias) {
  tk_ir_contract extra[4];
  int nextra = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < ops[i]->contracts.n && nextra < 4; j++) {
      tk_ir_contract c = ops[i]->contracts.items[j];
      if (!tk_ir_pred_carried(c.pred)) continue;
      c.a = arg_of_tensor(k, alias, c.a);
      c.b = arg_of_tensor(k, alias, c.b);
      c.c = arg_of_tensor(k, alias, c.c);
      bool again = false; /* an expert chain's ops each require the dispatch */
      for (int e = 0; e < nextra; e++)
        again |= extra[e].pred == c.pred && extra[e].ensures == c.ensures && extra[e].a == c.a &&
                 extra[e].b == c.b && extra[e].c == c.c;
      if (!again) extra[nextra++] = c;
    }
  tk_ir_kernel_contracts(m, k, k->nphases > 1, rows_written(m, k, ops, n, alias), extra, nextra);
}

/* ---- argument order ---- */

/* Outputs first (caller's outputs, then scratch written), then inputs (the caller's input,
 * then scratch read), then parameters in checkpoint order (style.md: outputs, inputs, dims). */
static int64_t arg_key(const tk_ir_module *m, const tk_ir_arg *a, int index) {
  int rank;
  if (a->access & TK_ACC_WRITE)
    rank = a->role == TK_ROLE_OUT ? 0 : 1;
  else if (a->role == TK_ROLE_PARAM)
    rank = 4;
  else
    rank = a->role == TK_ROLE_IN ? 2 : 3;
  int64_t within = a->role == TK_ROLE_PARAM ? m->tensors[a->tensor].param_index : index;
  return (int64_t)rank << 32 | within;
}

static void declare_args_in_order(tk_ir_module *m, const tk_ir_kernel *from, tk_ir_kernel *to) {
  bool *done = tk_ir_alloc(m, sizeof *done * (size_t)(from->nargs + 1));
  for (int n = 0; done && n < from->nargs; n++) {
    int best = -1;
    for (int i = 0; i < from->nargs; i++)
      if (!done[i] &&
          (best < 0 || arg_key(m, &from->args[i], i) < arg_key(m, &from->args[best], best)))
        best = i;
    done[best] = true;
    tk_ir_kernel_arg(m, to, from->args[best].tensor, from->args[best].role,
                     from->args[best].access);
  }
}

/* ---- grouping ---- */

typedef struct group {
  const char *name;
  int last; /* index of its last op */
  int n;
  tk_ir_op **ops;
} group;

static int cmp_group(const void *a, const void *b) {
  return ((const group *)a)->last - ((const group *)b)->last;
}

static tk_status build_groups(tk_ir_module *m, group **out, int *out_n) {
  group *g = tk_ir_alloc(m, sizeof *g * (size_t)(m->nops + 1));
  int ng = 0;
  if (!g) return tk_ir_module_status(m);
  for (int i = 0; i < m->nops; i++) {
    tk_ir_op *op = &m->ops[i];
    if (op->dead) continue;
    const char *name = group_of(m, op);
    int gi = 0;
    while (gi < ng && strcmp(g[gi].name, name)) gi++;
    if (gi == ng) {
      g[ng].name = name;
      g[ng].ops = tk_ir_alloc(m, sizeof *g[ng].ops * (size_t)m->nops);
      ng++;
    }
    if (!g[gi].ops) return tk_ir_module_status(m);
    g[gi].ops[g[gi].n++] = op;
    g[gi].last = i;
  }
  qsort(g, (size_t)ng, sizeof *g, cmp_group);
  *out = g;
  *out_n = ng;
  return TK_STATUS_OK;
}

tk_status tk_ir_pass_fuse(tk_ir_module *m) {
  if (m->stage != TK_STAGE_PADDED)
    return tk_status_make(TK_INTERNAL, "fusion pass: module at stage %d, expected padded",
                          (int)m->stage);
  group *groups = NULL;
  int ng = 0;
  TK_RETURN_IF_ERROR(build_groups(m, &groups, &ng));
  int *alias = tk_ir_alloc(m, sizeof *alias * (size_t)m->ntensors);
  if (!alias) return tk_ir_module_status(m);
  for (int t = 0; t < m->ntensors; t++) alias[t] = t;
  for (int gi = 0; gi < ng; gi++) {
    group *g = &groups[gi];
    plan_aliases(m, g->ops, g->n, alias);
    /* A first emission finds the arguments; the kernel is then emitted again with its
     * arguments declared in the canonical order (outputs, inputs, parameters). */
    /* One allocation per statement: an initializer list's order is unspecified in C. */
    tk_ir_kernel *dry_kernel = tk_ir_kernel_new(m, TK_TARGET_NONE, g->name);
    tk_fuse_ctx dry = {m, dry_kernel, tk_ir_var_new(m, "r", NULL), alias};
    TK_RETURN_IF_ERROR(tk_ir_module_status(m)); /* the emitters need dry.k */
    TK_RETURN_IF_ERROR(emit_group(&dry, g->ops, g->n, g->name));
    TK_RETURN_IF_ERROR(tk_ir_module_status(m));
    tk_ir_kernel *kernel = tk_ir_kernel_new(m, TK_TARGET_NONE, g->name);
    tk_fuse_ctx c = {m, kernel, tk_ir_var_new(m, "r", NULL), alias};
    TK_RETURN_IF_ERROR(tk_ir_module_status(m));
    declare_args_in_order(m, dry.k, c.k);
    TK_RETURN_IF_ERROR(emit_group(&c, g->ops, g->n, g->name));
    TK_RETURN_IF_ERROR(tk_ir_module_status(m));
    kernel_contracts(m, c.k, g->ops, g->n, alias);
    c.k->index_bits = tk_ir_index_bits(m, c.k);
    tk_ir_kernel_append(m, c.k);
  }
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  m->stage = TK_STAGE_FUSED;
  return TK_STATUS_OK;
}
