/* compiler/lower.c — arch → graph IR (stage GRAPH).
 *
 * MoE (docs/formats.md §2–§3): x [B, in] → pad_rows → xp [Bp, in];
 *   router: linear(in, E) → softmax → topk_mask(K) → gate [Bp, E] (f32), keep [Bp, E] (i32);
 *   expert e: linear(in, H), layernorm, gelu, depth × [linear(H, H), layernorm, gelu],
 *             linear(H, out) → o_e [Bp, out];
 *   moe_combine(gate, keep, o_0..o_{E-1}) → y [Bp, out];
 *   sparse dispatch (tk_ir_options.dispatch): dispatch(keep) → slot, count; expert e gathers
 *   its rows (gather → xg_e), runs its blocks on count[e] rows and scatters its last hidden
 *   state back (scatter → hd_e) before its head;
 *   slice_rows: y → logits [B, out], gate → router_weights [B, E].
 * Qwen3MoE (docs/formats.md §2.4, issue 16): as MoE, with a bias-free router, topk_mask
 *   renormalising the kept weights when norm_topk_prob, and per expert the SwiGLU MLP
 *   g = linear(H, I), s = silu(g), u = linear(H, I), a = mul(s, u), o_e = linear(I, H), no
 *   biases; sparse dispatch scatters o_e itself (the combine reads it, no head);
 *   slice_rows: y → logits [B, H] (the block's hidden states), gate → router_weights [B, E].
 * Dense (docs/formats.md §2, a choice): linear(in, H), layernorm, gelu, then depth × pre-LN residual
 *   blocks h = h + linear(I, H)(gelu(linear(H, I)(layernorm(h)))), then linear(H, out),
 *   slice_rows → logits.
 * Parameters are declared first, in checkpoint order (tk_arch_param), and consumed in that
 * order while the layers are built, so the IR's parameter use cannot drift from the
 * checkpoint's declaration order. Every width comes from the parameter list too: the input's
 * from the first layer's `in`, a linear's output from its weight's `out`, a layernorm's from
 * its gamma's; gelu, softmax, combine and add keep their input's width. So the topology
 * (which layer maps which width to which) is written once, in model/arch_params.c; here is
 * only the order of the ops, and a layer whose parameters expect another input width than
 * the graph gives it is an internal error. Ops are named "<layer>.<kind>"; the layer names
 * become the fused kernels' names. No weights are read or allocated.
 */
#include "compiler/lower.h"
#include "tk/launch.h"

typedef struct lower_ctx {
  tk_ir_module *m;
  int first_param, next_param, param_end; /* tensor ids of parameters, checkpoint order */
  bool params_exhausted;
  const char *mismatch; /* the first layer whose parameters expect another input width */
  const tk_ix *B, *Bp;
} lower_ctx;

static int64_t cols_of(const lower_ctx *c, int t) {
  return t >= 0 ? c->m->tensors[t].dims[1]->c : 0;
}

/* The next parameter tensor (checkpoint order) and its entry of the parameter list, for a
 * layer whose input x has width cols_of(x); *spec is all zero when the list is exhausted. */
static int take_param(lower_ctx *c, const char *layer, int x, tk_param_spec *spec) {
  *spec = (tk_param_spec){0};
  if (c->next_param >= c->param_end) {
    c->params_exhausted = true;
    return -1;
  }
  int t = c->next_param++;
  *spec = tk_arch_param(&c->m->arch, (size_t)c->m->tensors[t].param_index);
  if (spec->in != cols_of(c, x) && !c->mismatch) c->mismatch = layer;
  return t;
}

static int activation(lower_ctx *c, const char *name, int64_t cols) {
  return tk_ir_tensor_add(c->m, name, TK_TENSOR_INTERMEDIATE, TK_T_F32, c->Bp, cols);
}

/* Every op requires its inputs' shapes and ensures its outputs' (class `shape`). */
static void shape_contracts(lower_ctx *c, int op_id) {
  tk_ir_op *op = &c->m->ops[op_id];
  for (int i = 0; i < op->nin + op->nout; i++) {
    bool out = i >= op->nin;
    int t = out ? op->out[i - op->nin].tensor : op->in[i].tensor;
    const tk_ir_tensor *tt = &c->m->tensors[t];
    tk_ir_contract_add(
        c->m, &op->contracts,
        tk_ir_contract_make(out, TK_PRED_ROWS, t, -1, tt->dims[0], 0, tt->dims[1]->c));
  }
}

static int add_op(lower_ctx *c, tk_ir_op_kind kind, const char *layer, const int *in, int nin,
                  const int *out, int nout) {
  int id = tk_ir_op_add(c->m, kind, layer, tk_ir_op_kind_name(kind), in, nin, out, nout);
  if (id >= 0) shape_contracts(c, id);
  return id;
}

/* True when the next parameter (checkpoint order) is a bias: a Linear's bias follows its weight
 * in the list, and Qwen3MoE's Linears have none. */
static bool bias_next(const lower_ctx *c) {
  return c->next_param < c->param_end &&
         tk_arch_param(&c->m->arch, (size_t)c->m->tensors[c->next_param].param_index).role ==
             TK_PARAM_BIAS;
}

/* linear(in, out): out from the weight's parameter-list entry; bias-free when the list says. */
static int linear(lower_ctx *c, const char *layer, int x, const char *out_name) {
  tk_param_spec ws, bs;
  int w = take_param(c, layer, x, &ws);
  int b = bias_next(c) ? take_param(c, layer, x, &bs) : -1;
  int y = activation(c, out_name, ws.out);
  int in[3] = {x, w, b};
  int id = add_op(c, TK_OP_LINEAR, layer, in, b >= 0 ? 3 : 2, &y, 1);
  if (id >= 0) c->m->ops[id].layout = c->m->arch.weight_layout;
  return y;
}

static int layernorm(lower_ctx *c, const char *layer, int x, const char *out_name) {
  tk_param_spec gs, bs;
  int g = take_param(c, layer, x, &gs), b = take_param(c, layer, x, &bs);
  int y = activation(c, out_name, gs.out);
  int in[3] = {x, g, b};
  int id = add_op(c, TK_OP_LAYERNORM, layer, in, 3, &y, 1);
  if (id >= 0) c->m->ops[id].eps = c->m->arch.layer_norm_eps;
  return y;
}

static int gelu(lower_ctx *c, const char *layer, int x, const char *out_name) {
  int y = activation(c, out_name, cols_of(c, x));
  int id = add_op(c, TK_OP_GELU, layer, &x, 1, &y, 1);
  if (id >= 0) c->m->ops[id].act = c->m->arch.hidden_act;
  return y;
}

static int elementwise(lower_ctx *c, tk_ir_op_kind kind, const char *layer, const int *in, int nin,
                       const char *out_name) {
  int y = activation(c, out_name, cols_of(c, in[0]));
  add_op(c, kind, layer, in, nin, &y, 1);
  return y;
}

/* Linear → LayerNorm → GELU, the repeated block of experts and of Dense's first layer. */
static int linear_ln_gelu(lower_ctx *c, const char *layer, const char *prefix, int x, int l) {
  tk_ir_module *m = c->m;
  int a = linear(c, layer, x, tk_ir_strfmt(m, "%s.a_%d", prefix, l));
  int n = layernorm(c, layer, a, tk_ir_strfmt(m, "%s.n_%d", prefix, l));
  return gelu(c, layer, n, tk_ir_strfmt(m, "%s.h_%d", prefix, l));
}

/* x [B, in] → xp [Bp, in]; in is what the first layer (router, or dense_in) takes. */
static int pad_input(lower_ctx *c) {
  tk_ir_module *m = c->m;
  int64_t in = tk_arch_param(&m->arch, 0).in;
  int x = tk_ir_tensor_add(m, "x", TK_TENSOR_INPUT, TK_T_F32, c->B, in);
  int xp = activation(c, "xp", in);
  add_op(c, TK_OP_PAD_ROWS, "input", &x, 1, &xp, 1);
  /* docs/formats.md §3: inputs are finite (the runtime checks before any launch) */
  tk_ir_contract_add(m, &m->contracts,
                     tk_ir_contract_make(false, TK_PRED_FINITE, x, -1, NULL, 0, 0));
  return xp;
}

static void slice_output(lower_ctx *c, int y, const char *name) {
  tk_ir_module *m = c->m;
  int out = tk_ir_tensor_add(m, name, TK_TENSOR_OUTPUT, m->tensors[y].type, c->B, cols_of(c, y));
  int id = add_op(c, TK_OP_SLICE_ROWS, "output", &y, 1, &out, 1);
  if (id >= 0)
    tk_ir_contract_add(m, &m->ops[id].contracts,
                       tk_ir_contract_make(true, TK_PRED_WRITES_ROWS_LT, out, -1, c->B, 0, 0));
}

/* router: linear → softmax → topk_mask; returns gate and keep through the pointers. */
static void lower_router(lower_ctx *c, int xp, int *gate, int *keep) {
  tk_ir_module *m = c->m;
  int logits = linear(c, "router", xp, "router.logits");
  int64_t e = cols_of(c, logits);
  int p = activation(c, "router.probs", e);
  int id = add_op(c, TK_OP_SOFTMAX, "router", &logits, 1, &p, 1);
  if (id >= 0)
    tk_ir_contract_add(m, &m->ops[id].contracts,
                       tk_ir_contract_make(true, TK_PRED_SOFTMAX, p, -1, NULL, 0, e));
  *gate = activation(c, "router.gate", e);
  *keep = tk_ir_tensor_add(m, "router.keep", TK_TENSOR_INTERMEDIATE, TK_T_I32, c->Bp, e);
  int outs[2] = {*gate, *keep};
  id = add_op(c, TK_OP_TOPK_MASK, "router", &p, 1, outs, 2);
  if (id < 0) return;
  m->ops[id].k = m->arch.top_k;
  m->ops[id].renorm = m->arch.norm_topk_prob;
  tk_ir_contract topk =
      tk_ir_contract_make(true, TK_PRED_TOPK, *gate, *keep, NULL, m->arch.top_k, e);
  topk.renorm = m->arch.norm_topk_prob;
  tk_ir_contract_add(m, &m->ops[id].contracts, topk);
}

/* Sparse dispatch's tensors (tk_ir_options.dispatch), or all -1 for the dense form. */
typedef struct sparse_rows {
  int keep, slot, count;
} sparse_rows;

/* dispatch: keep → slot [Bp, E], count [1, E], with the counting sort's contract. */
static sparse_rows lower_dispatch(lower_ctx *c, int keep) {
  tk_ir_module *m = c->m;
  int64_t e = cols_of(c, keep);
  sparse_rows d = {keep, -1, -1};
  d.slot = tk_ir_tensor_add(m, "dispatch.slot", TK_TENSOR_INTERMEDIATE, TK_T_I32, c->Bp, e);
  d.count = tk_ir_tensor_add(m, "dispatch.count", TK_TENSOR_INTERMEDIATE, TK_T_I32,
                             tk_ir_ix_const(m, 1), e);
  int outs[2] = {d.slot, d.count};
  int id = add_op(c, TK_OP_DISPATCH, "dispatch", &keep, 1, outs, 2);
  if (id < 0) return d;
  tk_ir_contract dc = tk_ir_contract_make(true, TK_PRED_DISPATCH, d.slot, keep, NULL, 0, e);
  dc.c = d.count;
  tk_ir_contract_add(m, &m->ops[id].contracts, dc);
  return d;
}

/* requires dispatch(..): an op reading the dispatch's slot and keep (or, with slot -1, only
 * its count) may use what the dispatch class proves of them. */
static void requires_dispatch(lower_ctx *c, int op, const sparse_rows *d, int slot, int keep) {
  tk_ir_contract rc =
      tk_ir_contract_make(false, TK_PRED_DISPATCH, slot, keep, NULL, 0, cols_of(c, d->keep));
  rc.c = d->count;
  tk_ir_contract_add(c->m, &c->m->ops[op].contracts, rc);
}

/* gather (x → the expert's rows) or scatter (the expert's rows → the batch's rows). */
static int move_rows(lower_ctx *c, tk_ir_op_kind kind, const sparse_rows *d, int e, int x,
                     const char *what) {
  tk_ir_module *m = c->m;
  const char *layer = tk_ir_strfmt(m, "expert_%d_%s", e, what);
  int y = activation(c, tk_ir_strfmt(m, "expert_%d.%s", e, kind == TK_OP_GATHER ? "xg" : "hd"),
                     cols_of(c, x));
  int in[4] = {x, d->keep, d->slot, d->count};
  int id = add_op(c, kind, layer, in, 4, &y, 1);
  if (id < 0) return y;
  c->m->ops[id].expert = e;
  requires_dispatch(c, id, d, d->slot, d->keep);
  return y;
}

/* An expert chain's ops (from `first` on) compute the rows r < count[e] only. */
static void limit_to_count(lower_ctx *c, int first, int e, const sparse_rows *d) {
  for (int i = first; i < c->m->nops; i++) {
    c->m->ops[i].rows_count = d->count;
    c->m->ops[i].expert = e;
    requires_dispatch(c, i, d, -1, -1);
  }
}

/* Expert e's chain: Linear → LN → GELU blocks, then its head. Sparse: the whole chain, head
 * included, runs on the gathered rows (count[e] of them) and its output is scattered back to
 * the batch's rows for the combine, so no row computes the head of an expert it dropped. */
static int lower_expert(lower_ctx *c, int xp, int e, const sparse_rows *d) {
  tk_ir_module *m = c->m;
  const char *prefix = tk_ir_strfmt(m, "expert_%d", e);
  int x = d->slot >= 0 ? move_rows(c, TK_OP_GATHER, d, e, xp, "gather") : xp;
  int first = m->nops;
  int h = linear_ln_gelu(c, tk_ir_strfmt(m, "expert_%d_in", e), prefix, x, 0);
  for (int l = 1; l <= m->arch.expert_depth; l++)
    h = linear_ln_gelu(c, tk_ir_strfmt(m, "expert_%d_hidden_%d", e, l), prefix, h, l);
  int o = linear(c, tk_ir_strfmt(m, "expert_%d_out", e), h, tk_ir_strfmt(m, "expert_%d.out", e));
  if (d->slot < 0) return o;
  limit_to_count(c, first, e, d);
  return move_rows(c, TK_OP_SCATTER, d, e, o, "scatter");
}

/* Qwen3MoE's expert e: down(silu(gate(x)) ⊙ up(x)), bias-free. Sparse: on the gathered rows,
 * and o_e scattered back to the batch's rows for the combine. */
static int lower_swiglu_expert(lower_ctx *c, int xp, int e, const sparse_rows *d) {
  tk_ir_module *m = c->m;
  const char *layer = tk_ir_strfmt(m, "expert_%d_mlp", e);
  int x = d->slot >= 0 ? move_rows(c, TK_OP_GATHER, d, e, xp, "gather") : xp;
  int first = m->nops;
  int g = linear(c, layer, x, tk_ir_strfmt(m, "expert_%d.g", e));
  int s = elementwise(c, TK_OP_SILU, layer, &g, 1, tk_ir_strfmt(m, "expert_%d.s", e));
  int u = linear(c, layer, x, tk_ir_strfmt(m, "expert_%d.u", e));
  int a = elementwise(c, TK_OP_MUL, layer, (int[]){s, u}, 2, tk_ir_strfmt(m, "expert_%d.a", e));
  int o = linear(c, layer, a, tk_ir_strfmt(m, "expert_%d.out", e));
  if (d->slot < 0) return o;
  limit_to_count(c, first, e, d);
  return move_rows(c, TK_OP_SCATTER, d, e, o, "scatter");
}

static void lower_moe(lower_ctx *c, int xp) {
  tk_ir_module *m = c->m;
  int gate = -1, keep = -1;
  lower_router(c, xp, &gate, &keep);
  sparse_rows d = {-1, -1, -1};
  if (m->opts.dispatch == TK_DISPATCH_SPARSE) d = lower_dispatch(c, keep);
  int ne = m->arch.n_experts;
  int *in = tk_ir_alloc(m, sizeof *in * (size_t)(ne + 2));
  if (!in) return;
  in[0] = gate;
  in[1] = keep;
  bool swiglu = m->arch.model_kind == TK_MODEL_QWEN3_MOE;
  for (int e = 0; e < ne; e++)
    in[2 + e] = swiglu ? lower_swiglu_expert(c, xp, e, &d) : lower_expert(c, xp, e, &d);
  int y = activation(c, "y", ne > 0 ? cols_of(c, in[2]) : 0); /* the experts' out width */
  int id = add_op(c, TK_OP_MOE_COMBINE, "combine", in, ne + 2, &y, 1);
  if (id >= 0) {
    for (int e = 1; e < ne; e++)
      tk_ir_contract_add(
          m, &m->ops[id].contracts,
          tk_ir_contract_make(false, TK_PRED_SHAPE_EQ, in[2 + e], in[2], NULL, 0, 0));
    tk_ir_contract_add(m, &m->ops[id].contracts,
                       tk_ir_contract_make(true, TK_PRED_MASKED_SELECT, y, keep, NULL, 0, ne));
  }
  slice_output(c, y, "logits");
  slice_output(c, gate, "router_weights");
}

/* Dense residual block l: h + linear(I, H)(gelu(linear(H, I)(layernorm(h)))). */
static int dense_block(lower_ctx *c, int h, int l) {
  tk_ir_module *m = c->m;
  const char *layer = tk_ir_strfmt(m, "dense_block_%d", l);
  int t = layernorm(c, layer, h, tk_ir_strfmt(m, "dense.t_%d", l));
  int u0 = linear(c, layer, t, tk_ir_strfmt(m, "dense.u0_%d", l));
  int u = gelu(c, layer, u0, tk_ir_strfmt(m, "dense.u_%d", l));
  int d = linear(c, layer, u, tk_ir_strfmt(m, "dense.d_%d", l));
  int out = activation(c, tk_ir_strfmt(m, "dense.h_%d", l), cols_of(c, d));
  int in[2] = {h, d};
  add_op(c, TK_OP_ADD, layer, in, 2, &out, 1);
  return out;
}

static void lower_dense(lower_ctx *c, int xp) {
  tk_ir_module *m = c->m;
  int h = linear_ln_gelu(c, "dense_in", "dense", xp, 0);
  for (int l = 1; l <= m->arch.expert_depth; l++) h = dense_block(c, h, l);
  int y = linear(c, "dense_out", h, "y");
  slice_output(c, y, "logits");
}

static void declare_params(lower_ctx *c) {
  tk_ir_module *m = c->m;
  size_t n = tk_arch_param_count(&m->arch);
  c->first_param = c->next_param = m->ntensors;
  for (size_t i = 0; i < n; i++) {
    tk_param_spec p = tk_arch_param(&m->arch, i);
    int t =
        tk_ir_tensor_add(m, p.name, TK_TENSOR_PARAM, TK_T_F32, tk_ir_ix_const(m, p.rows), p.cols);
    if (t >= 0) m->tensors[t].param_index = (int)i;
  }
  c->param_end = m->ntensors;
}

tk_status tkc_lower_arch(const tk_arch *arch, const tk_ir_options *opts, tk_ir_module **out) {
  *out = NULL;
  tk_ir_module *m = NULL;
  TK_RETURN_IF_ERROR(tk_ir_module_create(arch, opts, &m));
  lower_ctx c = {.m = m, .B = tk_ir_ix_sym(m, TK_SYM_B), .Bp = tk_ir_ix_sym(m, TK_SYM_BP)};
  tk_ir_contract_add(m, &m->contracts,
                     tk_ir_contract_make(false, TK_PRED_B_RANGE, -1, -1, NULL, 0, m->opts.bmax));
  tk_ir_contract_add(
      m, &m->contracts,
      tk_ir_contract_make(false, TK_PRED_BP_PADDED, -1, -1, NULL, 0, TK_PAD_QUANTUM));
  int xp = pad_input(&c);
  declare_params(&c);
  if (arch->model_kind == TK_MODEL_DENSE) {
    m->opts.dispatch = TK_DISPATCH_DENSE; /* no experts to dispatch to: the module says so */
    lower_dense(&c, xp);
  } else {
    lower_moe(&c, xp);
  }
  tk_status s = tk_ir_module_status(m);
  if (!s && (c.params_exhausted || c.next_param != c.param_end))
    s = tk_status_make(TK_INTERNAL,
                       "lowering used %d of the %d parameter tensors the arch declares",
                       c.next_param - c.first_param, c.param_end - c.first_param);
  if (!s && c.mismatch)
    s = tk_status_make(TK_INTERNAL,
                       "lowering: the parameters of layer %s (model/arch_params.c) "
                       "take another input width than the graph gives it",
                       c.mismatch);
  if (s) {
    tk_ir_module_free(m);
    return s;
  }
  *out = m;
  return TK_STATUS_OK;
}
