/* ir/printer.c — the text dumps of every stage (--emit=ir|ir-fused|ir-gpu|ir-cpu).
 *
 * The text is stable (golden-tested): it depends only on the module, never on addresses,
 * times or paths. Syntax: `%name` a tensor / kernel argument, `@name` a physical buffer,
 * bare names are loop variables and locals (a scalar local prints without `[0]`), `B` and
 * `Bp` the batch symbols; `for v in 0..N kind [@binding] { }`, `if a < b { }`,
 * `%buf[ix] = value`, `local[ix] = value`; f32 constants carry an `f` suffix. Contracts
 * print as `requires pred(...)` / `ensures pred(...)`.
 */
#include <math.h>
#include <string.h>

#include "ir/ir.h"

typedef struct printer {
  const tk_ir_module *m;
  const tk_ir_kernel *k; /* NULL at graph level: contract operands are tensors */
  FILE *out;
} printer;

static void indent(printer *p, int depth) {
  for (int i = 0; i < depth; i++) fputs("  ", p->out);
}

static const char *operand_name(const printer *p, int i) {
  if (i < 0) return "?";
  if (p->k) return i < p->k->nargs ? p->k->args[i].name : "?";
  return i < p->m->ntensors ? p->m->tensors[i].name : "?";
}

static void print_f32(FILE *out, double f) {
  if (isnan(f)) fputs("nan", out);
  else if (isinf(f)) fputs(f < 0 ? "-inf" : "inf", out);
  else fprintf(out, "%.9gf", f);
}

/* ---- contracts ---- */

static void print_contract(printer *p, const tk_ir_contract *c, int depth) {
  FILE *o = p->out;
  indent(p, depth);
  fprintf(o, "%s %s(", c->ensures ? "ensures" : "requires", tk_ir_pred_name(c->pred));
  switch (c->pred) {
    case TK_PRED_B_RANGE: fprintf(o, "1 <= B <= %lld", (long long)c->n); break;
    case TK_PRED_BP_PADDED: fprintf(o, "Bp = max(16, 16 * ceil(B / 16)), Bp mod %lld == 0", (long long)c->n); break;
    case TK_PRED_ROWS:
      fprintf(o, "%%%s, ", operand_name(p, c->a));
      tk_ir_ix_print(c->ix, o);
      fprintf(o, ", %lld", (long long)c->n);
      break;
    case TK_PRED_SHAPE_EQ: fprintf(o, "%%%s, %%%s", operand_name(p, c->a), operand_name(p, c->b)); break;
    case TK_PRED_FINITE:
    case TK_PRED_WRITES_ALL:
    case TK_PRED_ROW_LOCAL: fprintf(o, "%%%s", operand_name(p, c->a)); break;
    case TK_PRED_READS_CLAMPED: fprintf(o, "%%%s, min(r, B - 1)", operand_name(p, c->a)); break;
    case TK_PRED_WRITES_ROWS_LT:
      fprintf(o, "%%%s, ", operand_name(p, c->a));
      tk_ir_ix_print(c->ix, o);
      break;
    case TK_PRED_TOPK:
      fprintf(o, "%%%s, %%%s, k = %lld, n = %lld, ties = lower, renorm = none", operand_name(p, c->a),
              operand_name(p, c->b), (long long)c->k, (long long)c->n);
      break;
    case TK_PRED_SOFTMAX: fprintf(o, "%%%s, n = %lld", operand_name(p, c->a), (long long)c->n); break;
    case TK_PRED_MASKED_SELECT:
      fprintf(o, "%%%s, keep = %%%s, n = %lld", operand_name(p, c->a), operand_name(p, c->b),
              (long long)c->n);
      break;
  }
  fputs(")\n", o);
}

static void print_contracts(printer *p, const tk_ir_contracts *cs, int depth) {
  for (int i = 0; i < cs->n; i++) print_contract(p, &cs->items[i], depth);
}

/* ---- values and statements ---- */

static void print_local_ref(printer *p, int local, const tk_ix *ix) {
  const tk_ir_local *l = &p->k->locals[local];
  fputs(l->name, p->out);
  if (l->count == 1 && ix->kind == TK_IX_CONST && ix->c == 0) return;
  fputc('[', p->out);
  tk_ir_ix_print(ix, p->out);
  fputc(']', p->out);
}

static const char *infix_text(tk_ir_vop op) {
  switch (op) {
    case TK_V_ADD: return "+";
    case TK_V_SUB: return "-";
    case TK_V_MUL: return "*";
    case TK_V_DIV: return "/";
    case TK_V_LT: return "<";
    case TK_V_LE: return "<=";
    case TK_V_GT: return ">";
    case TK_V_GE: return ">=";
    case TK_V_EQ: return "==";
    case TK_V_NE: return "!=";
    case TK_V_AND: return "&&";
    case TK_V_OR: return "||";
    default: return NULL;
  }
}

static void print_val(printer *p, const tk_ir_val *v) {
  FILE *o = p->out;
  switch (v->op) {
    case TK_V_CONST:
      if (v->type == TK_T_F32) print_f32(o, v->f);
      else if (v->type == TK_T_BOOL) fputs(v->i ? "true" : "false", o);
      else fprintf(o, "%lld", (long long)v->i);
      return;
    case TK_V_INDEX:
      fputs("i32(", o);
      tk_ir_ix_print(v->ix, o);
      fputc(')', o);
      return;
    case TK_V_LOAD:
      fprintf(o, "%%%s[", p->k->args[v->arg].name);
      tk_ir_ix_print(v->ix, o);
      fputc(']', o);
      return;
    case TK_V_LOCAL_LOAD: print_local_ref(p, v->local, v->ix); return;
    case TK_V_NEG: fputc('-', o); print_val(p, v->a); return;
    case TK_V_NOT: fputc('!', o); print_val(p, v->a); return;
    default: break;
  }
  const char *infix = infix_text(v->op);
  if (infix) {
    fputc('(', o);
    print_val(p, v->a);
    fprintf(o, " %s ", infix);
    print_val(p, v->b);
    fputc(')', o);
    return;
  }
  fprintf(o, "%s(", tk_ir_vop_name(v->op));
  const tk_ir_val *ops[3] = {v->a, v->b, v->c};
  for (int i = 0; i < tk_ir_vop_arity(v->op); i++) {
    if (i) fputs(", ", o);
    print_val(p, ops[i]);
  }
  fputc(')', o);
}

static void print_stmt(printer *p, const tk_ir_stmt *s, int depth) {
  FILE *o = p->out;
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) print_stmt(p, s->stmts[i], depth);
      return;
    case TK_S_FOR:
      indent(p, depth);
      fprintf(o, "for %s in 0..", s->var->name);
      tk_ir_ix_print(s->extent, o);
      fprintf(o, " %s", tk_ir_loop_kind_name(s->loop));
      if (s->binding != TK_BIND_NONE) fprintf(o, " @%s", tk_ir_binding_name(s->binding));
      fputs(" {\n", o);
      print_stmt(p, s->body, depth + 1);
      indent(p, depth);
      fputs("}\n", o);
      return;
    case TK_S_IF:
      indent(p, depth);
      fputs("if ", o);
      tk_ir_ix_print(s->lhs, o);
      fprintf(o, " %s ", tk_ir_cmp_text(s->cmp));
      tk_ir_ix_print(s->rhs, o);
      fputs(" {\n", o);
      print_stmt(p, s->body, depth + 1);
      indent(p, depth);
      fputs("}\n", o);
      return;
    case TK_S_STORE:
      indent(p, depth);
      fprintf(o, "%%%s[", p->k->args[s->arg].name);
      tk_ir_ix_print(s->ix, o);
      fputs("] = ", o);
      print_val(p, s->value);
      fputc('\n', o);
      return;
    case TK_S_LOCAL_STORE:
      indent(p, depth);
      print_local_ref(p, s->local, s->ix);
      fputs(" = ", o);
      print_val(p, s->value);
      fputc('\n', o);
      return;
  }
}

/* ---- kernels ---- */

static void print_access(FILE *o, tk_ir_access a) {
  fputs(a == TK_ACC_READ ? "read" : a == TK_ACC_WRITE ? "write" : "readwrite", o);
}

static void print_args(printer *p) {
  const tk_ir_kernel *k = p->k;
  for (int i = 0; i < k->nargs; i++) {
    const tk_ir_arg *a = &k->args[i];
    fprintf(p->out, "  arg %%%s : %s[", a->name, tk_ir_type_name(a->type));
    tk_ir_ix_print(a->rows, p->out);
    fprintf(p->out, ", %lld] %s ", (long long)a->cols, tk_ir_role_name(a->role));
    print_access(p->out, a->access);
    if (a->buffer >= 0) fprintf(p->out, " @%s", p->m->buffers[a->buffer].name);
    fputc('\n', p->out);
  }
  fputs("  arg B : i32\n  arg Bp : i32\n", p->out);
  for (int i = 0; i < k->nlocals; i++)
    fprintf(p->out, "  local %s : %s[%lld]\n", k->locals[i].name, tk_ir_type_name(k->locals[i].type),
            (long long)k->locals[i].count);
}

static void print_var_list(FILE *o, const tk_ir_var *const *vars, int n) {
  int first = 1;
  for (int i = 0; i < n; i++) {
    if (!vars[i]) continue;
    fprintf(o, "%s%s", first ? "" : ", ", vars[i]->name);
    first = 0;
  }
}

static void print_step(printer *p, const tk_ir_sched_step *s) {
  FILE *o = p->out;
  const tk_ir_var *vars[4] = {s->a, s->b, s->out, s->inner};
  fputs("    ", o);
  switch (s->kind) {
    case TK_SCHED_FUSE: fprintf(o, "fuse %s, %s -> %s", s->a->name, s->b->name, s->out->name); break;
    case TK_SCHED_SPLIT:
      fprintf(o, "split %s -> %s, %s by %lld", s->a->name, s->out->name, s->inner->name, (long long)s->factor);
      break;
    case TK_SCHED_REORDER: fputs("reorder ", o); print_var_list(o, vars, 4); break;
    case TK_SCHED_BIND: fprintf(o, "bind %s @%s", s->a->name, tk_ir_binding_name(s->binding)); break;
    case TK_SCHED_VECTORIZE: fprintf(o, "vectorize %s", s->a->name); break;
    case TK_SCHED_UNROLL: fprintf(o, "unroll %s", s->a->name); break;
    case TK_SCHED_GUARD:
      fputs("guard ", o);
      tk_ir_ix_print(s->lhs, o);
      fputs(" < ", o);
      tk_ir_ix_print(s->rhs, o);
      break;
    case TK_SCHED_TAIL:
      fprintf(o, "tail %s -> %s (last %lld)", s->a->name, s->inner->name, (long long)s->factor);
      break;
    case TK_SCHED_EXPAND:
      fprintf(o, "expand %s by %lld", p->k->locals[s->local].name, (long long)s->factor);
      break;
    case TK_SCHED_INTERCHANGE: fprintf(o, "interchange tile loops into %s", s->a->name); break;
  }
  if (p->k->source_phase < 0 && p->k->target != TK_TARGET_NONE) fprintf(o, "  ; phase %d", s->phase);
  fputc('\n', o);
}

static void print_kernel_header(printer *p) {
  const tk_ir_kernel *k = p->k;
  FILE *o = p->out;
  fprintf(o, "kernel %s (%s", k->name, tk_ir_target_name(k->target));
  if (k->target != TK_TARGET_NONE) {
    const tk_ir_kernel *src = p->m->kernels.items[k->source];
    fprintf(o, ", from %s", src->name);
    if (k->source_phase >= 0) fprintf(o, ".%s", src->phases[k->source_phase].name);
  }
  fprintf(o, ", index i%d)\n", k->index_bits);
  if (k->target == TK_TARGET_NONE) return;
  fputs("  launch grid ", o);
  tk_ir_ix_print(k->launch.grid, o);
  if (k->target == TK_TARGET_GPU) fprintf(o, ", workgroup %lld\n", (long long)k->launch.workgroup_size);
  else fprintf(o, ", block rows %lld\n", (long long)k->launch.block_rows);
}

void tk_ir_kernel_print(const tk_ir_module *m, const tk_ir_kernel *k, FILE *out) {
  printer p = {m, k, out};
  print_kernel_header(&p);
  print_args(&p);
  print_contracts(&p, &k->contracts, 1);
  for (int i = 0; i < k->nphases; i++) {
    const tk_ir_phase *ph = &k->phases[i];
    fprintf(out, "  phase %s (", ph->name);
    for (int d = 0; d < ph->ndims; d++) {
      fprintf(out, "%s%s in 0..", d ? ", " : "", ph->vars[d]->name);
      tk_ir_ix_print(ph->extents[d], out);
    }
    fprintf(out, ")%s {\n", ph->tileable ? " tileable" : "");
    print_stmt(&p, ph->body, 2);
    fputs("  }\n", out);
  }
  if (k->nsteps) {
    fputs("  schedule {\n", out);
    for (int i = 0; i < k->nsteps; i++) print_step(&p, &k->steps[i]);
    fputs("  }\n", out);
  }
  if (k->body) {
    fputs("  body {\n", out);
    print_stmt(&p, k->body, 2);
    fputs("  }\n", out);
  }
  fputc('\n', out);
}

/* ---- graph ---- */

static void print_tensor(const tk_ir_module *m, const tk_ir_tensor *t, FILE *o) {
  static const char *const kinds[] = {"input", "output", "param", "intermediate"};
  fprintf(o, "tensor %%%s : %s[", t->name, tk_ir_type_name(t->type));
  tk_ir_ix_print(t->dims[0], o);
  fprintf(o, ", %lld] %s", (long long)t->dims[1]->c, kinds[t->kind]);
  if (t->param_index >= 0) fprintf(o, " #%d", t->param_index);
  fputc('\n', o);
  (void)m;
}

static void print_operands(const tk_ir_module *m, const tk_ir_operand *ops, int n, FILE *o) {
  fputc('(', o);
  for (int i = 0; i < n; i++) {
    fprintf(o, "%s%%%s", i ? ", " : "", m->tensors[ops[i].tensor].name);
    if (ops[i].row_clamp) fputs("[min(r, B - 1)]", o);
    if (ops[i].row_limit) {
      fputs("[r < ", o);
      tk_ir_ix_print(ops[i].row_limit, o);
      fputc(']', o);
    }
  }
  fputc(')', o);
}

static void print_op(const tk_ir_module *m, const tk_ir_op *op, FILE *o) {
  fprintf(o, "op %s ", op->name);
  print_operands(m, op->in, op->nin, o);
  fputs(" -> ", o);
  print_operands(m, op->out, op->nout, o);
  switch (op->kind) {
    case TK_OP_LINEAR: fprintf(o, " layout = %s", tk_arch_weight_layout_name(op->layout)); break;
    case TK_OP_LAYERNORM: fprintf(o, " eps = %.9g", op->eps); break;
    case TK_OP_GELU: fprintf(o, " act = %s", tk_arch_hidden_act_name(op->act)); break;
    case TK_OP_TOPK_MASK: fprintf(o, " k = %d", op->k); break;
    default: break;
  }
  fputc('\n', o);
  printer p = {m, NULL, o};
  print_contracts(&p, &op->contracts, 1);
}

static void print_module_header(const tk_ir_module *m, const char *stage, FILE *o) {
  const tk_arch *a = &m->arch;
  fprintf(o, "; tkc IR, stage %s\n", stage);
  fprintf(o, "module %s arch %s: in = %d, hidden = %d, out = %d, experts = %d, top_k = %d, depth = %d\n",
          tk_arch_model_kind_name(a->model_kind), a->fingerprint, a->input_dim, a->hidden_dim,
          a->output_dim, a->n_experts, a->top_k, a->expert_depth);
  printer p = {m, NULL, o};
  print_contracts(&p, &m->contracts, 1);
  fputc('\n', o);
}

static void print_graph(const tk_ir_module *m, FILE *o) {
  for (int i = 0; i < m->ntensors; i++) print_tensor(m, &m->tensors[i], o);
  fputc('\n', o);
  for (int i = 0; i < m->nops; i++)
    if (!m->ops[i].dead) print_op(m, &m->ops[i], o);
}

static void print_buffers(const tk_ir_module *m, FILE *o) {
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    fprintf(o, "buffer @%s : %s[", b->name, tk_ir_type_name(b->type));
    tk_ir_ix_print(b->count, o);
    fprintf(o, "] %s (", tk_ir_role_name(b->role));
    for (int t = 0; t < b->ntensors; t++)
      fprintf(o, "%s%%%s", t ? ", " : "", m->tensors[b->tensors[t]].name);
    fputs(")\n", o);
  }
  if (m->nbuffers) fputc('\n', o);
}

static void print_kernels(const tk_ir_module *m, const tk_ir_kernel_list *l, FILE *o) {
  for (int i = 0; i < l->n; i++) tk_ir_kernel_print(m, l->items[i], o);
}

tk_status tk_ir_print(const tk_ir_module *m, tk_ir_dump what, FILE *out) {
  static const tk_ir_stage need[] = {TK_STAGE_GRAPH, TK_STAGE_FUSED, TK_STAGE_GPU, TK_STAGE_CPU};
  static const char *const names[] = {"graph", "fused", "gpu", "cpu"};
  if ((int)what < 0 || what > TK_DUMP_CPU)
    return tk_status_make(TK_INVALID_ARGUMENT, "unknown dump %d", (int)what);
  if (m->stage < need[what])
    return tk_status_make(TK_INTERNAL, "dump '%s' needs a module at stage %d, it is at %d",
                          names[what], (int)need[what], (int)m->stage);
  print_module_header(m, names[what], out);
  switch (what) {
    case TK_DUMP_GRAPH: print_graph(m, out); break;
    case TK_DUMP_FUSED:
      print_buffers(m, out);
      print_kernels(m, &m->kernels, out);
      break;
    case TK_DUMP_GPU: print_kernels(m, &m->targets[TK_TARGET_GPU], out); break;
    case TK_DUMP_CPU: print_kernels(m, &m->targets[TK_TARGET_CPU], out); break;
  }
  if (ferror(out)) return tk_status_make(TK_IO_ERROR, "writing the IR dump failed");
  return TK_STATUS_OK;
}
