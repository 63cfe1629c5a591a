/* ir/op_table.c — the op table: every graph op's operands, element types and shape rule as
 * data (ir/ir.h "Op table"), and the instantiation of a rule on an op of a module.
 *
 * The table is the one source of the shape facts: tk_ir_verify checks the instantiated
 * relations at concrete batch sizes, the verifier's `shape` class proves them for every B in
 * [1, Bmax] (docs/proofs.md). Dims are [rows, cols]; vectors (bias, gamma, beta) are [1, n].
 *
 *   linear       x [R, K], W [K, N] (in_out) or [N, K] (out_in), b [1, N]   -> y [R, N]
 *                (b optional: a bias-free linear has no rule on it)
 *   layernorm    x [R, C], gamma [1, C], beta [1, C]                      -> y [R, C]
 *   gelu         x [R, C]                                                 -> y [R, C]
 *   softmax      p [R, E]                                                 -> y [R, E]
 *   topk_mask    p [R, E], 1 <= k <= E                                    -> w [R, E] f32,
 *                                                                            keep [R, E] i32
 *   moe_combine  w [R, E] f32, keep [R, E] i32, o_0..o_{E-1} [R, C]       -> y [R, C]
 *   pad_rows     x [B, C]                                                 -> xp [Bp, C]
 *   slice_rows   y [Bp, C]                                                -> out [B, C]
 *   add          a [R, C], b [R, C]                                       -> y [R, C]
 *   dispatch     keep [R, E] i32                                 -> slot [R, E], count [1, E] i32
 *   gather       x [R, C], keep [R, E], slot [R, E], count [1, E] (i32)  -> xg [R, C]
 *   scatter      h [R, C], keep [R, E], slot [R, E], count [1, E] (i32)  -> hd [R, C]
 *   silu         x [R, C]                                                 -> y [R, C]
 *   mul          a [R, C], b [R, C]                                       -> y [R, C]
 *
 * Folding (the padding pass): a clamped input stands for pad_rows' output, a limited output
 * for slice_rows' input; the relations of pad_rows with out0 on the left, and of slice_rows
 * with in0 on the left, define that side's dims — so they are written with it on the left.
 */
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

#define IN(i, d) {.kind = TK_RT_IN, .index = (i), .dim = (d)}
#define OUT(i, d) {.kind = TK_RT_OUT, .index = (i), .dim = (d)}
#define EACH(d) {.kind = TK_RT_IN, .index = TK_RT_EACH, .dim = (d)}
#define CONST(v) {.kind = TK_RT_CONST, .c = (v)}
#define SYM(s) {.kind = TK_RT_SYM, .sym = (s)}
#define K {.kind = TK_RT_K}
#define NVARIADIC {.kind = TK_RT_NVARIADIC}
#define EQ(a, b) {a, TK_CMP_EQ, b, TK_RULE_ALWAYS}
#define LE(a, b) {a, TK_CMP_LE, b, TK_RULE_ALWAYS}
#define EQ_WHEN(a, b, w) {a, TK_CMP_EQ, b, w}
#define RULES(r) (int)(sizeof(r) / sizeof(r)[0]), r

static const tk_ir_shape_rule LINEAR[] = {
    EQ(OUT(0, 0), IN(0, 0)),
    EQ_WHEN(IN(1, 0), IN(0, 1), TK_RULE_IN_OUT),
    EQ_WHEN(OUT(0, 1), IN(1, 1), TK_RULE_IN_OUT),
    EQ_WHEN(IN(1, 1), IN(0, 1), TK_RULE_OUT_IN),
    EQ_WHEN(OUT(0, 1), IN(1, 0), TK_RULE_OUT_IN),
    EQ(IN(2, 0), CONST(1)),
    EQ(IN(2, 1), OUT(0, 1)),
};
static const tk_ir_shape_rule LAYERNORM[] = {
    EQ(OUT(0, 0), IN(0, 0)), EQ(OUT(0, 1), IN(0, 1)), EQ(IN(1, 0), CONST(1)),
    EQ(IN(1, 1), IN(0, 1)),  EQ(IN(2, 0), CONST(1)),  EQ(IN(2, 1), IN(0, 1)),
};
static const tk_ir_shape_rule SAME_SHAPE[] = {EQ(OUT(0, 0), IN(0, 0)), EQ(OUT(0, 1), IN(0, 1))};
static const tk_ir_shape_rule TOPK_MASK[] = {
    EQ(OUT(0, 0), IN(0, 0)), EQ(OUT(0, 1), IN(0, 1)), EQ(OUT(1, 0), IN(0, 0)),
    EQ(OUT(1, 1), IN(0, 1)), LE(CONST(1), K),         LE(K, IN(0, 1)),
};
static const tk_ir_shape_rule MOE_COMBINE[] = {
    EQ(IN(1, 0), IN(0, 0)), EQ(IN(1, 1), IN(0, 1)), EQ(NVARIADIC, IN(0, 1)),
    EQ(EACH(0), IN(0, 0)),  EQ(EACH(1), OUT(0, 1)), EQ(OUT(0, 0), IN(0, 0)),
};
static const tk_ir_shape_rule DISPATCH[] = {
    EQ(OUT(0, 0), IN(0, 0)),
    EQ(OUT(0, 1), IN(0, 1)),
    EQ(OUT(1, 0), CONST(1)),
    EQ(OUT(1, 1), IN(0, 1)),
};
/* gather and scatter: data [R, C], keep [R, E], slot [R, E], count [1, E] -> [R, C] */
static const tk_ir_shape_rule MOVE_ROWS[] = {
    EQ(IN(1, 0), IN(0, 0)),  EQ(IN(2, 0), IN(0, 0)), EQ(IN(2, 1), IN(1, 1)),
    EQ(IN(3, 0), CONST(1)),  EQ(IN(3, 1), IN(1, 1)), EQ(OUT(0, 0), IN(0, 0)),
    EQ(OUT(0, 1), IN(0, 1)),
};
static const tk_ir_shape_rule PAD_ROWS[] = {
    EQ(OUT(0, 0), SYM(TK_SYM_BP)),
    EQ(OUT(0, 1), IN(0, 1)),
    EQ(IN(0, 0), SYM(TK_SYM_B)),
};
static const tk_ir_shape_rule SLICE_ROWS[] = {
    EQ(IN(0, 0), SYM(TK_SYM_BP)),
    EQ(IN(0, 1), OUT(0, 1)),
    EQ(OUT(0, 0), SYM(TK_SYM_B)),
};
/* add and mul */
static const tk_ir_shape_rule ELEMENTWISE2[] = {
    EQ(IN(1, 0), IN(0, 0)),
    EQ(IN(1, 1), IN(0, 1)),
    EQ(OUT(0, 0), IN(0, 0)),
    EQ(OUT(0, 1), IN(0, 1)),
};

#define F TK_T_F32
#define I TK_T_I32
static const tk_ir_op_info TABLE[] = {
    [TK_OP_LINEAR] = {"linear", 3, 1, false, {F, F, F}, {F}, F, RULES(LINEAR), 1},
    [TK_OP_LAYERNORM] = {"layernorm", 3, 1, false, {F, F, F}, {F}, F, RULES(LAYERNORM), 0},
    [TK_OP_GELU] = {"gelu", 1, 1, false, {F}, {F}, F, RULES(SAME_SHAPE), 0},
    [TK_OP_SOFTMAX] = {"softmax", 1, 1, false, {F}, {F}, F, RULES(SAME_SHAPE), 0},
    [TK_OP_TOPK_MASK] = {"topk_mask", 1, 2, false, {F}, {F, I}, F, RULES(TOPK_MASK), 0},
    [TK_OP_MOE_COMBINE] = {"moe_combine", 2, 1, true, {F, I}, {F}, F, RULES(MOE_COMBINE), 0},
    [TK_OP_PAD_ROWS] = {"pad_rows", 1, 1, false, {F}, {F}, F, RULES(PAD_ROWS), 0},
    [TK_OP_SLICE_ROWS] = {"slice_rows", 1, 1, false, {F}, {F}, F, RULES(SLICE_ROWS), 0},
    [TK_OP_ADD] = {"add", 2, 1, false, {F, F}, {F}, F, RULES(ELEMENTWISE2), 0},
    [TK_OP_DISPATCH] = {"dispatch", 1, 2, false, {I}, {I, I}, F, RULES(DISPATCH), 0},
    [TK_OP_GATHER] = {"gather", 4, 1, false, {F, I, I, I}, {F}, F, RULES(MOVE_ROWS), 0},
    [TK_OP_SCATTER] = {"scatter", 4, 1, false, {F, I, I, I}, {F}, F, RULES(MOVE_ROWS), 0},
    [TK_OP_SILU] = {"silu", 1, 1, false, {F}, {F}, F, RULES(SAME_SHAPE), 0},
    [TK_OP_MUL] = {"mul", 2, 1, false, {F, F}, {F}, F, RULES(ELEMENTWISE2), 0},
};
#undef F
#undef I

const tk_ir_op_info *tk_ir_op_info_of(tk_ir_op_kind k) {
  return (unsigned)k < sizeof TABLE / sizeof TABLE[0] ? &TABLE[k] : NULL;
}

/* ---- instantiation ---- */

/* What an operand slot of a rule is bound to: a tensor, or the far side of a folded op. */
typedef enum bind_kind { BIND_TENSOR, BIND_PAD_VIEW, BIND_SLICE_VIEW } bind_kind;
typedef struct binding {
  bind_kind kind;
  int tensor; /* TENSOR: the tensor; PAD_VIEW: pad_rows' input; SLICE_VIEW: slice_rows' output */
} binding;

/* A rule's operand slots: inputs (the variadic ones follow the fixed) and outputs. */
typedef struct slots {
  const tk_ir_op_info *info;
  const binding *in, *out;
  int nin, nout;
  int64_t k;
  int each; /* the variadic input being instantiated (index into in) */
} slots;

static tk_ir_dim resolve(const slots *s, const tk_ir_rule_term *t);

/* The dim `d` of the far side of a folded op: the folded rule's defining relation. */
static tk_ir_dim folded_dim(const binding *b, int d) {
  bool pad = b->kind == BIND_PAD_VIEW;
  const tk_ir_op_info *info = &TABLE[pad ? TK_OP_PAD_ROWS : TK_OP_SLICE_ROWS];
  binding near = {BIND_TENSOR, b->tensor};
  slots fs = {.info = info, .in = &near, .out = &near, .nin = 1, .nout = 1};
  for (int i = 0; i < info->nrules; i++) {
    const tk_ir_shape_rule *r = &info->rules[i];
    if (r->cmp == TK_CMP_EQ && r->lhs.kind == (pad ? TK_RT_OUT : TK_RT_IN) && r->lhs.dim == d)
      return resolve(&fs, &r->rhs);
  }
  return (tk_ir_dim){.kind = TK_DIM_TENSOR, .tensor = b->tensor, .dim = d}; /* not reached */
}

static tk_ir_dim bound_dim(const binding *b, int d) {
  if (b->kind == BIND_TENSOR)
    return (tk_ir_dim){.kind = TK_DIM_TENSOR, .tensor = b->tensor, .dim = d};
  return folded_dim(b, d);
}

static tk_ir_dim resolve(const slots *s, const tk_ir_rule_term *t) {
  switch (t->kind) {
    case TK_RT_IN: return bound_dim(&s->in[t->index == TK_RT_EACH ? s->each : t->index], t->dim);
    case TK_RT_OUT: return bound_dim(&s->out[t->index], t->dim);
    case TK_RT_CONST: return (tk_ir_dim){.kind = TK_DIM_CONST, .c = t->c};
    case TK_RT_SYM: return (tk_ir_dim){.kind = TK_DIM_SYM, .sym = t->sym};
    case TK_RT_K: return (tk_ir_dim){.kind = TK_DIM_CONST, .c = s->k};
    case TK_RT_NVARIADIC: return (tk_ir_dim){.kind = TK_DIM_CONST, .c = s->nin - s->info->nin};
  }
  return (tk_ir_dim){.kind = TK_DIM_CONST};
}

static void term_text(const slots *s, const tk_ir_rule_term *t, char *buf, size_t n) {
  static const char *const dims[] = {"rows", "cols"};
  switch (t->kind) {
    case TK_RT_IN:
      snprintf(buf, n, "in%d.%s", t->index == TK_RT_EACH ? s->each : t->index, dims[t->dim & 1]);
      return;
    case TK_RT_OUT: snprintf(buf, n, "out%d.%s", t->index, dims[t->dim & 1]); return;
    case TK_RT_CONST: snprintf(buf, n, "%lld", (long long)t->c); return;
    case TK_RT_SYM: snprintf(buf, n, "%s", t->sym == TK_SYM_B ? "B" : "Bp"); return;
    case TK_RT_K: snprintf(buf, n, "k"); return;
    case TK_RT_NVARIADIC: snprintf(buf, n, "#variadic"); return;
  }
}

static bool names_absent_input(const tk_ir_rule_term *t, int nin) {
  return t->kind == TK_RT_IN && t->index != TK_RT_EACH && t->index >= nin;
}

static bool rule_applies(const tk_ir_shape_rule *r, const tk_ir_op *op) {
  if (names_absent_input(&r->lhs, op->nin) || names_absent_input(&r->rhs, op->nin)) return false;
  return r->when == TK_RULE_ALWAYS ||
         (r->when == TK_RULE_IN_OUT) == (op->layout == TK_LAYOUT_IN_OUT);
}

/* Calls fn for rule r of s->info (once per variadic input when a side is an EACH term). */
static void emit_rule(const slots *s, const tk_ir_shape_rule *r, const char *prefix,
                      tk_ir_shape_fact_fn fn, void *user) {
  bool each = (r->lhs.kind == TK_RT_IN && r->lhs.index == TK_RT_EACH) ||
              (r->rhs.kind == TK_RT_IN && r->rhs.index == TK_RT_EACH);
  slots cur = *s;
  for (cur.each = each ? s->info->nin : 0; cur.each < (each ? s->nin : 1); cur.each++) {
    tk_ir_shape_fact f = {resolve(&cur, &r->lhs), resolve(&cur, &r->rhs), r->cmp, ""};
    char a[32], b[32];
    term_text(&cur, &r->lhs, a, sizeof a);
    term_text(&cur, &r->rhs, b, sizeof b);
    snprintf(f.what, sizeof f.what, "%s%s%s rule %s %s %s", prefix, *prefix ? " " : "",
             s->info->name, a, tk_ir_cmp_text(r->cmp), b);
    fn(&f, user);
  }
}

/* The relations of a folded pad_rows/slice_rows; `skip_defs` leaves out those that define the
 * side the operand stands for (their lhs is that side). */
static void emit_folded(const tk_ir_module *m, tk_ir_op_kind kind, binding in, binding out,
                        bool skip_defs, tk_ir_shape_fact_fn fn, void *user) {
  const tk_ir_op_info *info = &TABLE[kind];
  slots fs = {.info = info, .in = &in, .out = &out, .nin = 1, .nout = 1};
  char prefix[128];
  int t = kind == TK_OP_PAD_ROWS ? in.tensor : out.tensor;
  snprintf(prefix, sizeof prefix, "folded %s of %%%s:", info->name, m->tensors[t].name);
  tk_ir_rule_term_kind defined = kind == TK_OP_PAD_ROWS ? TK_RT_OUT : TK_RT_IN;
  for (int i = 0; i < info->nrules; i++)
    if (!skip_defs || info->rules[i].lhs.kind != defined)
      emit_rule(&fs, &info->rules[i], prefix, fn, user);
}

static tk_status check_arity(const tk_ir_op *op, const tk_ir_op_info *info) {
  bool in_ok = info->variadic ? op->nin > info->nin
                              : op->nin <= info->nin && op->nin >= info->nin - info->optional_in;
  if (!in_ok || op->nout < info->nout)
    return tk_status_make(TK_INTERNAL, "op %s: %d inputs and %d outputs, %s takes %s%d%s and %d",
                          op->name, op->nin, op->nout, info->name,
                          info->variadic ? "more than " : "", info->nin,
                          info->optional_in ? " (the last optional)" : "", info->nout);
  for (int j = info->nout; j < op->nout; j++)
    if (!op->out[j].row_limit)
      return tk_status_make(TK_INTERNAL, "op %s: output %d beyond %s's %d is not row-limited",
                            op->name, j, info->name, info->nout);
  return TK_STATUS_OK;
}

static binding bind_operand(const tk_ir_operand *o, bool input) {
  if (input && o->row_clamp) return (binding){BIND_PAD_VIEW, o->tensor};
  if (!input && o->row_limit) return (binding){BIND_SLICE_VIEW, o->tensor};
  return (binding){BIND_TENSOR, o->tensor};
}

enum { MAX_OPERANDS = 256 };

tk_status tk_ir_op_shape_facts(const tk_ir_module *m, const tk_ir_op *op, tk_ir_shape_fact_fn fn,
                               void *user) {
  const tk_ir_op_info *info = tk_ir_op_info_of(op->kind);
  if (!info) return tk_status_make(TK_INTERNAL, "op %s: unknown kind %d", op->name, (int)op->kind);
  TK_RETURN_IF_ERROR(check_arity(op, info));
  if (op->nin > MAX_OPERANDS || op->nout > MAX_OPERANDS)
    return tk_status_make(TK_INTERNAL, "op %s: more than %d operands", op->name, MAX_OPERANDS);
  binding in[MAX_OPERANDS], out[MAX_OPERANDS];
  for (int i = 0; i < op->nin; i++) in[i] = bind_operand(&op->in[i], true);
  for (int j = 0; j < op->nout; j++) out[j] = bind_operand(&op->out[j], false);
  slots s = {.info = info, .in = in, .out = out, .nin = op->nin, .nout = op->nout, .k = op->k};
  for (int i = 0; i < info->nrules; i++)
    if (rule_applies(&info->rules[i], op)) emit_rule(&s, &info->rules[i], "", fn, user);
  for (int i = 0; i < op->nin; i++)
    if (in[i].kind == BIND_PAD_VIEW)
      emit_folded(m, TK_OP_PAD_ROWS, (binding){BIND_TENSOR, in[i].tensor}, in[i], true, fn, user);
  for (int j = 0; j < op->nout; j++) {
    if (out[j].kind != BIND_SLICE_VIEW) continue;
    binding far = {BIND_TENSOR, out[j].tensor};
    if (j < info->nout) /* the op's own output, sliced in place */
      emit_folded(m, TK_OP_SLICE_ROWS, out[j], far, true, fn, user);
    else /* an appended output: a slice of output 0 */
      emit_folded(m, TK_OP_SLICE_ROWS, out[0], far, false, fn, user);
  }
  return TK_STATUS_OK;
}

void tk_ir_dim_format(const tk_ir_module *m, const tk_ir_dim *d, char *buf, size_t n) {
  switch (d->kind) {
    case TK_DIM_TENSOR:
      snprintf(buf, n, "%%%s.%s", m->tensors[d->tensor].name, d->dim ? "cols" : "rows");
      return;
    case TK_DIM_CONST: snprintf(buf, n, "%lld", (long long)d->c); return;
    case TK_DIM_SYM: snprintf(buf, n, "%s", d->sym == TK_SYM_B ? "B" : "Bp"); return;
  }
}

int64_t tk_ir_dim_eval(const tk_ir_module *m, const tk_ir_dim *d, int64_t B) {
  tk_ix_env env = {.B = B, .Bp = tk_ir_ix_bp_of(B), .vals = NULL};
  switch (d->kind) {
    case TK_DIM_TENSOR: return tk_ir_ix_eval(m->tensors[d->tensor].dims[d->dim], &env);
    case TK_DIM_CONST: return d->c;
    case TK_DIM_SYM: return d->sym == TK_SYM_B ? env.B : env.Bp;
  }
  return 0;
}
