/* ir/printer.c — the text dump of a module at any stage (graph, padded, fused, planned, gpu,
 * cpu), in the syntax ir/parse.c reads back: print(parse(print(m))) == print(m) byte for byte.
 *
 * The text is stable (golden-tested): it depends only on the module, never on addresses,
 * times or paths. A dump is the whole module at its stage, in sections: the header (stage,
 * arch as canonical JSON, options, module contracts), the graph (tensors, live ops), the
 * buffer plan, the fused kernels, then the scheduled gpu and cpu kernels.
 * Syntax: `%name` a tensor / kernel argument, `@name` a physical buffer, bare names are loop
 * variables and locals (a scalar local prints without `[0]`), `B` and `Bp` the batch
 * symbols; `for v in 0..N kind [@binding] { }`, `if a < b { }`, `%buf[ix] = value`,
 * `local[ix] = value`; f32 constants carry an `f` suffix. Contracts print as
 * `requires pred(...)` / `ensures pred(...)`.
 *
 * Variable names. A fused kernel and the scheduled kernels made from it (its family) share
 * tk_ir_var objects, and several variables of a family may share a name (sibling `for j`
 * loops). Within a family each variable prints under a unique name: its own name for the
 * first variable of that name, `name.N` for the N-th later one, in the order the variables
 * first appear in the text (the fused kernel, then its gpu kernels, then its cpu kernels).
 * Locals likewise: `acc`, `acc.1` in declaration order. Scheduled kernels declare every
 * variable that has an inverse map (`var rb = r div 64`) and every substitution their stores
 * were copied under (`subst 0 (r -> rb * 64 + rr)`) before their schedule; each copied store
 * ends with `(from N, subst M)`, N its origin's index among the fused kernel's stores in text
 * order. A body prints as its statement list when it is a block of two or more statements,
 * any other block (nested, or of 0 or 1 statement) as a bare `{ ... }`, so the statement
 * tree reads back exactly. The format is documented in docs/ir.md "The dump format".
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "tk/alloc.h"

/* ---- origins: the fused kernel's stores, the scheduled kernel's substitutions ---- */

typedef struct ptr_list {
  const void **items;
  int n, cap;
  bool failed;
} ptr_list;

static void ptrs_add(ptr_list *l, const void *x, bool unique) {
  if (!x || l->failed) return;
  for (int i = 0; unique && i < l->n; i++)
    if (l->items[i] == x) return;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 32;
    const void **items = tk_realloc(l->items, sizeof *items * (size_t)cap);
    if (!items) {
      l->failed = true;
      return;
    }
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = x;
}

static int ptrs_find(const ptr_list *l, const void *x) {
  for (int i = 0; i < l->n; i++)
    if (l->items[i] == x) return i;
  return -1;
}

static void add_store(const tk_ir_stmt *s, void *user) {
  if (s->kind == TK_S_STORE || s->kind == TK_S_LOCAL_STORE) ptrs_add(user, s, false);
}

static void add_subst(const tk_ir_stmt *s, void *user) {
  if ((s->kind == TK_S_STORE || s->kind == TK_S_LOCAL_STORE) && s->origin)
    ptrs_add(user, s->subst, true);
}

/* ---- variable names of a kernel family ---- */

typedef struct var_names {
  const tk_ir_var **vars;
  int *suffix; /* 0 = the plain name, N = name.N */
  int n, cap;
  bool failed;
} var_names;

static void names_add(var_names *t, const tk_ir_var *v) {
  if (!v || t->failed) return;
  for (int i = 0; i < t->n; i++)
    if (t->vars[i] == v) return;
  if (t->n == t->cap) {
    int cap = t->cap ? t->cap * 2 : 32;
    const tk_ir_var **vars = tk_realloc(t->vars, sizeof *vars * (size_t)cap);
    if (vars) t->vars = vars;
    int *suffix = vars ? tk_realloc(t->suffix, sizeof *suffix * (size_t)cap) : NULL;
    if (!vars || !suffix) {
      t->failed = true;
      return;
    }
    t->suffix = suffix;
    t->cap = cap;
  }
  int same = 0;
  for (int i = 0; i < t->n; i++) same += !strcmp(t->vars[i]->name, v->name);
  t->vars[t->n] = v;
  t->suffix[t->n++] = same;
}

static void names_free(var_names *t) {
  free(t->vars);
  free(t->suffix);
}

static void collect_ix(var_names *t, const tk_ix *e);

static void collect_var(var_names *t, const tk_ir_var *v) {
  if (v && v->inv) collect_ix(t, v->inv);
  names_add(t, v);
}

static void collect_ix(var_names *t, const tk_ix *e) {
  if (!e) return;
  if (e->kind == TK_IX_VAR) collect_var(t, e->var);
  collect_ix(t, e->a);
  if (e->kind != TK_IX_MUL && e->kind != TK_IX_DIV && e->kind != TK_IX_MOD) collect_ix(t, e->b);
}

static void collect_val(var_names *t, const tk_ir_val *v) {
  if (!v) return;
  collect_ix(t, v->ix);
  collect_val(t, v->a);
  collect_val(t, v->b);
  collect_val(t, v->c);
}

static void collect_stmt(var_names *t, const tk_ir_stmt *s) {
  if (!s) return;
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) collect_stmt(t, s->stmts[i]);
      return;
    case TK_S_FOR:
      collect_var(t, s->var);
      collect_ix(t, s->extent);
      collect_stmt(t, s->body);
      return;
    case TK_S_IF:
      collect_ix(t, s->lhs);
      collect_ix(t, s->rhs);
      collect_stmt(t, s->body);
      return;
    case TK_S_STORE:
    case TK_S_LOCAL_STORE:
      collect_ix(t, s->ix);
      collect_val(t, s->value);
      return;
    case TK_S_BARRIER: return;
  }
}

/* The order in which a kernel's variables first appear in its text. */
static void collect_kernel(var_names *t, const tk_ir_kernel *k) {
  for (int i = 0; i < k->nphases; i++) {
    const tk_ir_phase *ph = &k->phases[i];
    for (int d = 0; d < ph->ndims; d++) {
      collect_var(t, ph->vars[d]);
      collect_ix(t, ph->extents[d]);
    }
    collect_stmt(t, ph->body);
  }
  ptr_list substs = {0};
  tk_ir_walk_stmts(k->body, add_subst, &substs);
  for (int i = 0; i < substs.n; i++) {
    const tk_ir_subst *sb = substs.items[i];
    for (int j = 0; j < sb->n; j++) {
      collect_var(t, sb->from[j]);
      collect_ix(t, sb->to[j]);
    }
  }
  t->failed |= substs.failed;
  free(substs.items);
  for (int i = 0; i < k->nsteps; i++) {
    const tk_ir_sched_step *s = &k->steps[i];
    collect_var(t, s->a);
    collect_var(t, s->b);
    collect_var(t, s->out);
    collect_var(t, s->inner);
    collect_ix(t, s->lhs);
    collect_ix(t, s->rhs);
  }
  collect_stmt(t, k->body);
}

/* The names of k's family, up to and including k. */
static void family_names(const tk_ir_module *m, const tk_ir_kernel *k, var_names *t) {
  int src = k->target == TK_TARGET_NONE ? k->id : k->source;
  if (src < 0 || src >= m->kernels.n) {
    collect_kernel(t, k);
    return;
  }
  collect_kernel(t, m->kernels.items[src]);
  if (k->target == TK_TARGET_NONE) return;
  for (int target = 0; target < TK_IR_NTARGETS; target++)
    for (int i = 0; i < m->targets[target].n; i++) {
      const tk_ir_kernel *s = m->targets[target].items[i];
      if (s->source != src) continue;
      collect_kernel(t, s);
      if (s == k) return;
    }
  collect_kernel(t, k);
}

/* ---- printer state ---- */

typedef struct printer {
  const tk_ir_module *m;
  const tk_ir_kernel *k; /* NULL at graph level: contract operands are tensors */
  const var_names *names;
  FILE *out;
  bool oom;        /* an allocation failed while printing (the text is incomplete) */
  ptr_list stores; /* scheduled kernels: the source kernel's stores, in text order */
  ptr_list substs; /* scheduled kernels: their substitutions, in order of first use */
} printer;

static void indent(printer *p, int depth) {
  for (int i = 0; i < depth; i++) fputs("  ", p->out);
}

/* A variable's name, with the suffix that makes it unique in its kernel family. */
static void write_var(const tk_ir_var *v, FILE *out, const void *ctx) {
  const var_names *names = ((const printer *)ctx)->names;
  fputs(v->name, out);
  for (int i = 0; names && i < names->n; i++)
    if (names->vars[i] == v) {
      if (names->suffix[i]) fprintf(out, ".%d", names->suffix[i]);
      return;
    }
}

static void print_var(const printer *p, const tk_ir_var *v) { write_var(v, p->out, p); }

/* The index text of tk_ir_ix_format, with family variable names. */
static void print_ix(const printer *p, const tk_ix *e) {
  tk_ir_ix_print_named(e, p->out, write_var, p);
}

static const char *operand_name(const printer *p, int i) {
  if (i < 0) return "?";
  if (p->k) return i < p->k->nargs ? p->k->args[i].name : "?";
  return i < p->m->ntensors ? p->m->tensors[i].name : "?";
}

static void print_f32(FILE *out, double f) {
  if (isnan(f))
    fputs("nan", out);
  else if (isinf(f))
    fputs(f < 0 ? "-inf" : "inf", out);
  else
    fprintf(out, "%.9gf", f);
}

/* The shortest of %.9g and %.17g that reads back as the same double. */
static void print_double(FILE *out, double d) {
  char buf[40];
  snprintf(buf, sizeof buf, "%.9g", d);
  if (strtod(buf, NULL) != d) snprintf(buf, sizeof buf, "%.17g", d);
  fputs(buf, out);
}

/* ---- contracts ---- */

static void print_contract(printer *p, const tk_ir_contract *c, int depth) {
  FILE *o = p->out;
  indent(p, depth);
  fprintf(o, "%s %s(", c->ensures ? "ensures" : "requires", tk_ir_pred_name(c->pred));
  switch (c->pred) {
    case TK_PRED_B_RANGE: fprintf(o, "1 <= B <= %lld", (long long)c->n); break;
    case TK_PRED_BP_PADDED:
      fprintf(o, "Bp = max(%lld, %lld * ceil(B / %lld)), Bp mod %lld == 0", (long long)c->n,
              (long long)c->n, (long long)c->n, (long long)c->n);
      break;
    case TK_PRED_ROWS:
      fprintf(o, "%%%s, ", operand_name(p, c->a));
      print_ix(p, c->ix);
      fprintf(o, ", %lld", (long long)c->n);
      break;
    case TK_PRED_SHAPE_EQ:
      fprintf(o, "%%%s, %%%s", operand_name(p, c->a), operand_name(p, c->b));
      break;
    case TK_PRED_FINITE:
    case TK_PRED_WRITES_ALL:
    case TK_PRED_ROW_LOCAL: fprintf(o, "%%%s", operand_name(p, c->a)); break;
    case TK_PRED_READS_CLAMPED: fprintf(o, "%%%s, min(r, B - 1)", operand_name(p, c->a)); break;
    case TK_PRED_WRITES_ROWS_LT:
      fprintf(o, "%%%s, ", operand_name(p, c->a));
      print_ix(p, c->ix);
      break;
    case TK_PRED_TOPK:
      fprintf(o, "%%%s, %%%s, k = %lld, n = %lld, ties = lower, renorm = %s", operand_name(p, c->a),
              operand_name(p, c->b), (long long)c->k, (long long)c->n, c->renorm ? "sum" : "none");
      break;
    case TK_PRED_SOFTMAX:
      fprintf(o, "%%%s, n = %lld", operand_name(p, c->a), (long long)c->n);
      break;
    case TK_PRED_MASKED_SELECT:
      fprintf(o, "%%%s, keep = %%%s, n = %lld", operand_name(p, c->a), operand_name(p, c->b),
              (long long)c->n);
      break;
    case TK_PRED_DISPATCH:
      if (c->a >= 0)
        fprintf(o, "%%%s, keep = %%%s, ", operand_name(p, c->a), operand_name(p, c->b));
      fprintf(o, "count = %%%s, n = %lld", operand_name(p, c->c), (long long)c->n);
      break;
  }
  fputs(")\n", o);
}

static void print_contracts(printer *p, const tk_ir_contracts *cs, int depth) {
  for (int i = 0; i < cs->n; i++) print_contract(p, &cs->items[i], depth);
}

/* ---- values and statements ---- */

static void print_local_name(FILE *o, const tk_ir_kernel *k, int local) {
  const tk_ir_local *l = &k->locals[local];
  int same = 0;
  for (int i = 0; i < local; i++) same += !strcmp(k->locals[i].name, l->name);
  fputs(l->name, o);
  if (same) fprintf(o, ".%d", same);
}

static void print_local_ref(printer *p, int local, const tk_ix *ix) {
  const tk_ir_local *l = &p->k->locals[local];
  print_local_name(p->out, p->k, local);
  if (l->count == 1 && ix->kind == TK_IX_CONST && ix->c == 0) return;
  fputc('[', p->out);
  print_ix(p, ix);
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
      if (v->type == TK_T_F32)
        print_f32(o, v->f);
      else if (v->type == TK_T_BOOL)
        fputs(v->i ? "true" : "false", o);
      else
        fprintf(o, "%lld", (long long)v->i);
      return;
    case TK_V_INDEX:
      fputs("i32(", o);
      print_ix(p, v->ix);
      fputc(')', o);
      return;
    case TK_V_LOAD:
      fprintf(o, "%%%s[", p->k->args[v->arg].name);
      print_ix(p, v->ix);
      fputc(']', o);
      return;
    case TK_V_LOCAL_LOAD: print_local_ref(p, v->local, v->ix); return;
    case TK_V_NEG:
      fputc('-', o);
      print_val(p, v->a);
      return;
    case TK_V_NOT:
      fputc('!', o);
      print_val(p, v->a);
      return;
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

static void print_stmt(printer *p, const tk_ir_stmt *s, int depth);

/* A scheduled store's origin: `  (from N, subst M)`, N the index of the fused kernel's store
 * in text order, M the kernel's substitution table entry. */
static void print_origin(printer *p, const tk_ir_stmt *s) {
  int from = s->origin ? ptrs_find(&p->stores, s->origin) : -1;
  if (from < 0) return;
  fprintf(p->out, "  (from %d", from);
  int sub = s->subst ? ptrs_find(&p->substs, s->subst) : -1;
  if (sub >= 0) fprintf(p->out, ", subst %d", sub);
  fputc(')', p->out);
}

/* The statements of a body: a block of two or more statements prints as its statements, any
 * other statement (a block of 0 or 1 statements too) as itself. */
static void print_body(printer *p, const tk_ir_stmt *s, int depth) {
  if (s->kind == TK_S_BLOCK && s->n >= 2)
    for (int i = 0; i < s->n; i++) print_stmt(p, s->stmts[i], depth);
  else
    print_stmt(p, s, depth);
}

static void print_stmt(printer *p, const tk_ir_stmt *s, int depth) {
  FILE *o = p->out;
  switch (s->kind) {
    case TK_S_BLOCK: /* a block inside a block, or of fewer than 2 statements: `{ ... }` */
      indent(p, depth);
      fputs("{\n", o);
      for (int i = 0; i < s->n; i++) print_stmt(p, s->stmts[i], depth + 1);
      indent(p, depth);
      fputs("}\n", o);
      return;
    case TK_S_FOR:
      indent(p, depth);
      fputs("for ", o);
      print_var(p, s->var);
      fputs(" in 0..", o);
      print_ix(p, s->extent);
      fprintf(o, " %s", tk_ir_loop_kind_name(s->loop));
      if (s->binding != TK_BIND_NONE) fprintf(o, " @%s", tk_ir_binding_name(s->binding));
      if (s->prefetch)
        fprintf(o, " prefetch %lld span %lld", (long long)s->prefetch, (long long)s->prefetch_span);
      fputs(" {\n", o);
      print_body(p, s->body, depth + 1);
      indent(p, depth);
      fputs("}\n", o);
      return;
    case TK_S_IF:
      indent(p, depth);
      fputs("if ", o);
      print_ix(p, s->lhs);
      fprintf(o, " %s ", tk_ir_cmp_text(s->cmp));
      print_ix(p, s->rhs);
      fputs(" {\n", o);
      print_body(p, s->body, depth + 1);
      indent(p, depth);
      fputs("}\n", o);
      return;
    case TK_S_STORE:
      indent(p, depth);
      fprintf(o, "%%%s[", p->k->args[s->arg].name);
      print_ix(p, s->ix);
      fputs("] = ", o);
      print_val(p, s->value);
      print_origin(p, s);
      fputc('\n', o);
      return;
    case TK_S_LOCAL_STORE:
      indent(p, depth);
      print_local_ref(p, s->local, s->ix);
      fputs(" = ", o);
      print_val(p, s->value);
      print_origin(p, s);
      fputc('\n', o);
      return;
    case TK_S_BARRIER:
      indent(p, depth);
      fputs("barrier\n", o);
      return;
  }
}

/* ---- kernels ---- */

static void print_access(FILE *o, tk_ir_access a) {
  fputs(a == TK_ACC_READ ? "read" : a == TK_ACC_WRITE ? "write" : "readwrite", o);
}

static const tk_ir_kernel *source_of(const printer *p) {
  int s = p->k->source;
  return p->k->target != TK_TARGET_NONE && s >= 0 && s < p->m->kernels.n ? p->m->kernels.items[s]
                                                                         : NULL;
}

static void print_args(printer *p) {
  const tk_ir_kernel *k = p->k;
  for (int i = 0; i < k->nargs; i++) {
    const tk_ir_arg *a = &k->args[i];
    fprintf(p->out, "  arg %%%s : %s[", a->name, tk_ir_type_name(a->type));
    print_ix(p, a->rows);
    fprintf(p->out, ", %lld] %s ", (long long)a->cols, tk_ir_role_name(a->role));
    print_access(p->out, a->access);
    if (a->buffer >= 0) fprintf(p->out, " @%s", p->m->buffers[a->buffer].name);
    fputc('\n', p->out);
  }
  fputs("  arg B : i32\n  arg Bp : i32\n", p->out);
  const tk_ir_kernel *src = source_of(p);
  for (int i = 0; i < k->nlocals; i++) {
    const tk_ir_local *l = &k->locals[i];
    fputs("  local ", p->out);
    print_local_name(p->out, k, i);
    fprintf(p->out, " : %s[%lld]", tk_ir_type_name(l->type), (long long)l->count);
    if (l->shared) fputs(" shared", p->out);
    if (src && l->origin >= 0 && l->origin < src->nlocals) {
      fputs(" from ", p->out);
      print_local_name(p->out, src, l->origin);
    }
    if (l->expand != 1) fprintf(p->out, " expand %lld", (long long)l->expand);
    fputc('\n', p->out);
  }
}

static bool names_have(const var_names *t, const tk_ir_var *v) {
  for (int i = 0; i < t->n; i++)
    if (t->vars[i] == v) return true;
  return false;
}

/* The variables of the kernel's subst images (what its `subst` lines name before the body
 * binds them). */
static void collect_images(var_names *t, const tk_ir_kernel *k) {
  ptr_list substs = {0};
  tk_ir_walk_stmts(k->body, add_subst, &substs);
  for (int i = 0; i < substs.n; i++) {
    const tk_ir_subst *sb = substs.items[i];
    for (int j = 0; j < sb->n; j++) collect_ix(t, sb->to[j]);
  }
  t->failed |= substs.failed;
  free(substs.items);
}

/* `var v = inv` for every variable of a scheduled kernel that has an inverse map, in the
 * order the variables first appear, and `var v` for a variable of the kernel's own (not of
 * its source kernel) without one that a subst line names (the tiled schedule's slice loops). */
static void print_var_decls(printer *p) {
  var_names own = {0}, images = {0}, source = {0};
  collect_kernel(&own, p->k);
  collect_images(&images, p->k);
  const tk_ir_kernel *src = source_of(p);
  if (src) collect_kernel(&source, src);
  p->oom |= own.failed || images.failed || source.failed;
  for (int i = 0; i < own.n; i++) {
    const tk_ir_var *v = own.vars[i];
    if (!v->inv && (!names_have(&images, v) || names_have(&source, v))) continue;
    fputs("  var ", p->out);
    print_var(p, v);
    if (v->inv) {
      fputs(" = ", p->out);
      print_ix(p, v->inv);
    }
    fputc('\n', p->out);
  }
  names_free(&own);
  names_free(&images);
  names_free(&source);
}

/* `subst N (v -> ix, ...)`: the forward maps the kernel's stores were copied under. */
static void print_substs(printer *p) {
  for (int i = 0; i < p->substs.n; i++) {
    const tk_ir_subst *sb = p->substs.items[i];
    fprintf(p->out, "  subst %d (", i);
    for (int j = 0; j < sb->n; j++) {
      if (j) fputs(", ", p->out);
      print_var(p, sb->from[j]);
      fputs(" -> ", p->out);
      print_ix(p, sb->to[j]);
    }
    fputs(")\n", p->out);
  }
}

static void print_step_vars(printer *p, const tk_ir_sched_step *s) {
  const tk_ir_var *vars[4] = {s->a, s->b, s->out, s->inner};
  bool first = true;
  for (int i = 0; i < 4; i++) {
    if (!vars[i]) continue;
    if (!first) fputs(", ", p->out);
    print_var(p, vars[i]);
    first = false;
  }
}

static void print_step(printer *p, const tk_ir_sched_step *s) {
  FILE *o = p->out;
  fputs("    ", o);
  switch (s->kind) {
    case TK_SCHED_FUSE:
      fputs("fuse ", o);
      print_var(p, s->a);
      fputs(", ", o);
      print_var(p, s->b);
      fputs(" -> ", o);
      print_var(p, s->out);
      break;
    case TK_SCHED_SPLIT:
      fputs("split ", o);
      print_var(p, s->a);
      fputs(" -> ", o);
      print_var(p, s->out);
      fputs(", ", o);
      print_var(p, s->inner);
      fprintf(o, " by %lld", (long long)s->factor);
      break;
    case TK_SCHED_REORDER:
      fputs("reorder ", o);
      print_step_vars(p, s);
      break;
    case TK_SCHED_BIND:
      fputs("bind ", o);
      print_var(p, s->a);
      fprintf(o, " @%s", tk_ir_binding_name(s->binding));
      break;
    case TK_SCHED_VECTORIZE:
      fputs("vectorize ", o);
      print_var(p, s->a);
      break;
    case TK_SCHED_UNROLL:
      fputs("unroll ", o);
      print_var(p, s->a);
      break;
    case TK_SCHED_GUARD:
      fputs("guard ", o);
      print_ix(p, s->lhs);
      fputs(" < ", o);
      print_ix(p, s->rhs);
      break;
    case TK_SCHED_TAIL:
      fputs("tail ", o);
      print_var(p, s->a);
      fputs(" -> ", o);
      print_var(p, s->inner);
      fprintf(o, " (last %lld)", (long long)s->factor);
      break;
    case TK_SCHED_EXPAND:
      fputs("expand ", o);
      print_local_name(o, p->k, s->local);
      fprintf(o, " by %lld", (long long)s->factor);
      break;
    case TK_SCHED_INTERCHANGE:
      fputs("interchange tile loops into ", o);
      print_var(p, s->a);
      break;
  }
  if (p->k->source_phase < 0 && p->k->target != TK_TARGET_NONE)
    fprintf(o, "  ; phase %d", s->phase);
  fputc('\n', o);
}

static void print_kernel_header(printer *p) {
  const tk_ir_kernel *k = p->k;
  FILE *o = p->out;
  fprintf(o, "kernel %s (%s", k->name, tk_ir_target_name(k->target));
  const tk_ir_kernel *src = source_of(p);
  if (src) {
    fprintf(o, ", from %s", src->name);
    if (k->source_phase >= 0 && k->source_phase < src->nphases)
      fprintf(o, ".%s", src->phases[k->source_phase].name);
    for (int i = k->source_phase + 1; i <= tk_ir_kernel_last_phase(k) && i < src->nphases; i++)
      fprintf(o, "+%s", src->phases[i].name);
  }
  fprintf(o, ", index i%d)\n", k->index_bits);
  if (k->target == TK_TARGET_NONE) return;
  fputs("  launch grid ", o);
  print_ix(p, k->launch.grid);
  const tk_ir_gpu_tile *t = &k->launch.tile;
  if (k->target == TK_TARGET_GPU && t->rows)
    fprintf(o, ", workgroup %lld, tile %lld x %lld, registers %lld x %lld, k-slice %lld\n",
            (long long)k->launch.workgroup_size, (long long)t->rows, (long long)t->cols,
            (long long)t->reg_rows, (long long)t->reg_cols, (long long)t->kslice);
  else if (k->target == TK_TARGET_GPU)
    fprintf(o, ", workgroup %lld\n", (long long)k->launch.workgroup_size);
  else
    fprintf(o, ", block rows %lld\n", (long long)k->launch.block_rows);
}

static void print_kernel_text(printer *p) {
  const tk_ir_kernel *k = p->k;
  FILE *out = p->out;
  print_kernel_header(p);
  print_args(p);
  if (k->target != TK_TARGET_NONE) print_var_decls(p);
  print_substs(p);
  print_contracts(p, &k->contracts, 1);
  for (int i = 0; i < k->nphases; i++) {
    const tk_ir_phase *ph = &k->phases[i];
    fprintf(out, "  phase %s (", ph->name);
    for (int d = 0; d < ph->ndims; d++) {
      if (d) fputs(", ", out);
      print_var(p, ph->vars[d]);
      fputs(" in 0..", out);
      print_ix(p, ph->extents[d]);
    }
    fprintf(out, ")%s {\n", ph->tileable ? " tileable" : "");
    print_body(p, ph->body, 2);
    fputs("  }\n", out);
  }
  if (k->nsteps) {
    fputs("  schedule {\n", out);
    for (int i = 0; i < k->nsteps; i++) print_step(p, &k->steps[i]);
    fputs("  }\n", out);
  }
  if (k->body) {
    fputs("  body {\n", out);
    print_body(p, k->body, 2);
    fputs("  }\n", out);
  }
  fputc('\n', out);
}

static tk_status print_kernel(const tk_ir_module *m, const tk_ir_kernel *k, FILE *out) {
  var_names names = {0};
  family_names(m, k, &names);
  printer p = {.m = m, .k = k, .names = &names, .out = out};
  const tk_ir_kernel *src = source_of(&p);
  for (int i = 0; src && i < src->nphases; i++)
    tk_ir_walk_stmts(src->phases[i].body, add_store, &p.stores);
  tk_ir_walk_stmts(k->body, add_subst, &p.substs);
  tk_status s = TK_STATUS_OK;
  if (names.failed || p.stores.failed || p.substs.failed)
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory printing kernel %s", k->name);
  else
    print_kernel_text(&p);
  if (!s && p.oom)
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory printing kernel %s", k->name);
  names_free(&names);
  free(p.stores.items);
  free(p.substs.items);
  return s;
}

tk_status tk_ir_kernel_print(const tk_ir_module *m, const tk_ir_kernel *k, FILE *out) {
  return print_kernel(m, k, out);
}

/* ---- graph ---- */

static void print_tensor(const printer *p, const tk_ir_tensor *t) {
  static const char *const kinds[] = {"input", "output", "param", "intermediate"};
  FILE *o = p->out;
  fprintf(o, "tensor %%%s : %s[", t->name, tk_ir_type_name(t->type));
  print_ix(p, t->dims[0]);
  fprintf(o, ", %lld] %s", (long long)t->dims[1]->c, kinds[t->kind]);
  if (t->param_index >= 0) fprintf(o, " #%d", t->param_index);
  fputc('\n', o);
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
    case TK_OP_LAYERNORM:
      fputs(" eps = ", o);
      print_double(o, op->eps);
      break;
    case TK_OP_GELU: fprintf(o, " act = %s", tk_arch_hidden_act_name(op->act)); break;
    case TK_OP_TOPK_MASK: fprintf(o, " k = %d%s", op->k, op->renorm ? " renorm = sum" : ""); break;
    case TK_OP_GATHER:
    case TK_OP_SCATTER: fprintf(o, " expert = %d", op->expert); break;
    default: break;
  }
  if (op->rows_count >= 0)
    fprintf(o, " rows = %%%s[%d]", m->tensors[op->rows_count].name, op->expert);
  fputc('\n', o);
  printer p = {.m = m, .out = o};
  print_contracts(&p, &op->contracts, 1);
}

const char *tk_ir_stage_name(tk_ir_stage s) {
  static const char *const names[] = {"graph", "padded", "fused", "planned", "gpu", "cpu"};
  return (int)s >= 0 && s <= TK_STAGE_CPU ? names[s] : "?";
}

static tk_status print_module_header(const tk_ir_module *m, FILE *o) {
  const tk_arch *a = &m->arch;
  const tk_ir_options *op = &m->opts;
  char *json = NULL;
  TK_RETURN_IF_ERROR(tk_arch_canonical_json(a, &json));
  fprintf(o, "; tkc IR, stage %s\n", tk_ir_stage_name(m->stage));
  fprintf(
      o,
      "module %s arch %s: in = %d, hidden = %d, out = %d, experts = %d, top_k = %d, depth = %d\n",
      tk_arch_model_kind_name(a->model_kind), a->fingerprint, a->input_dim, a->hidden_dim,
      a->output_dim, a->n_experts, a->top_k, a->expert_depth);
  fprintf(o, "  arch %s\n", json);
  free(json);
  fprintf(o,
          "  options bmax = %lld, gpu_wg_2d = %lld, gpu_wg_rows = %lld, cpu_block_rows = %lld, "
          "cpu_tile_rows = %lld, cpu_tile_cols = %lld, cpu_col_blocks = %lld",
          (long long)op->bmax, (long long)op->gpu_wg_2d, (long long)op->gpu_wg_rows,
          (long long)op->cpu_block_rows, (long long)op->cpu_tile_rows, (long long)op->cpu_tile_cols,
          (long long)op->cpu_col_blocks);
  if (op->dispatch == TK_DISPATCH_SPARSE) fputs(", dispatch = sparse", o);
  if (op->gpu_schedule == TK_GPU_SCHEDULE_TILED) fputs(", gpu_schedule = tiled", o);
  if (op->gpu_tiles != TK_GPU_TILES_CDNA)
    fprintf(o, ", gpu_tiles = %s", tk_ir_gpu_tile_set_name(op->gpu_tiles));
  fputc('\n', o);
  printer p = {.m = m, .out = o};
  print_contracts(&p, &m->contracts, 1);
  fputc('\n', o);
  return TK_STATUS_OK;
}

static void print_graph(const tk_ir_module *m, FILE *o) {
  printer p = {.m = m, .out = o};
  for (int i = 0; i < m->ntensors; i++) print_tensor(&p, &m->tensors[i]);
  fputc('\n', o);
  for (int i = 0; i < m->nops; i++)
    if (!m->ops[i].dead) print_op(m, &m->ops[i], o);
  fputc('\n', o);
}

static void print_buffers(const tk_ir_module *m, FILE *o) {
  printer p = {.m = m, .out = o};
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    fprintf(o, "buffer @%s : %s[", b->name, tk_ir_type_name(b->type));
    print_ix(&p, b->count);
    fprintf(o, "] %s", tk_ir_role_name(b->role));
    if (b->param_index >= 0) fprintf(o, " #%d", b->param_index);
    if (b->panel_width)
      fprintf(o, " panels(%lld, %lld%s)", (long long)b->panel_cols, (long long)b->panel_width,
              b->panel_out_in ? ", out_in" : "");
    fputs(" (", o);
    for (int t = 0; t < b->ntensors; t++)
      fprintf(o, "%s%%%s", t ? ", " : "", m->tensors[b->tensors[t]].name);
    fputs(")\n", o);
  }
  if (m->nbuffers) fputc('\n', o);
}

static tk_status print_kernels(const tk_ir_module *m, const tk_ir_kernel_list *l, FILE *o) {
  for (int i = 0; i < l->n; i++) TK_RETURN_IF_ERROR(print_kernel(m, l->items[i], o));
  return TK_STATUS_OK;
}

tk_status tk_ir_module_print(const tk_ir_module *m, FILE *out) {
  TK_RETURN_IF_ERROR(print_module_header(m, out));
  print_graph(m, out);
  print_buffers(m, out);
  if (m->stage >= TK_STAGE_FUSED) TK_RETURN_IF_ERROR(print_kernels(m, &m->kernels, out));
  if (m->stage >= TK_STAGE_GPU)
    TK_RETURN_IF_ERROR(print_kernels(m, &m->targets[TK_TARGET_GPU], out));
  if (m->stage >= TK_STAGE_CPU)
    TK_RETURN_IF_ERROR(print_kernels(m, &m->targets[TK_TARGET_CPU], out));
  if (ferror(out)) return tk_status_make(TK_IO_ERROR, "writing the IR dump failed");
  return TK_STATUS_OK;
}

tk_status tk_ir_print(const tk_ir_module *m, tk_ir_dump what, FILE *out) {
  static const tk_ir_stage need[] = {TK_STAGE_GRAPH, TK_STAGE_FUSED, TK_STAGE_GPU, TK_STAGE_CPU,
                                     TK_STAGE_PADDED};
  if ((int)what < 0 || what > TK_DUMP_PADDED)
    return tk_status_make(TK_INVALID_ARGUMENT, "unknown dump %d", (int)what);
  if (m->stage < need[what])
    return tk_status_make(TK_INTERNAL,
                          "dump of stage '%s' needs a module at that stage, it is at '%s'",
                          tk_ir_stage_name(need[what]), tk_ir_stage_name(m->stage));
  return tk_ir_module_print(m, out);
}
