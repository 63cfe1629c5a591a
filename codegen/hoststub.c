/* codegen/hoststub.c — writes model_host.c and model_host.h from the scheduled module.
 *
 * Reads: m->buffers (id, name, role, type, count), m->targets[GPU|CPU].kernels (name, args
 * bound to buffers, launch.grid / workgroup_size / block_rows), m->opts.bmax, m->arch. The
 * text is built with open_memstream; index expressions are translated by stub_ix, the only
 * place that decides how B/Bp formulas become C.
 *
 * Mutants (tests only, hoststub.h tk_cg_stub_mutants): a deliberate defect in one place of
 * the text — the first site it applies to — which the verifier's `host` class must refute.
 * Each is a flag of stub_gen read where that text is printed; nothing else changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/hoststub.h"
#include "tk/alloc.h"
#include "tk/launch.h"

typedef enum stub_mutant {
  STUB_SOUND,
  STUB_BP_PAD8,
  STUB_BP_IS_B,
  STUB_GRID_SHORT,
  STUB_GRID_B_FOR_BP,
  STUB_WG_HALVED,
  STUB_BUFFER_ROW_SHORT,
  STUB_ARGS_SWAPPED,
  STUB_PANEL_WIDE,
  STUB_PANEL_OUT_IN,
  STUB_ABI /* a kernel-ABI mutant: codegen's (cg_target_gpu.c), the stub is sound */
} stub_mutant;

static const tk_cg_mutant_info MUTANT_INFO[] = {
    {"stub.bp_pad8", "host: tkm_padded_batch pads B to a multiple of 8, not 16"},
    {"stub.bp_is_b", "host: tkm_padded_batch returns B (B for Bp)"},
    {"stub.grid_short", "host: the first gpu launch's grid one workgroup short"},
    {"stub.grid_b_for_bp", "host: the first grid with a multiple of Bp printed with B for Bp"},
    {"stub.wg_halved", "host: the first gpu launch's workgroup size halved"},
    {"stub.buffer_row_short", "host: the first batch-sized buffer's count one row short"},
    {"stub.args_swapped", "host: the first two distinct buffers of a launch table swapped"},
    {"stub.panel_wide", "host: the first packed weight's panel width one column wider"},
    {"stub.panel_out_in", "host: the first packed weight's stored layout flipped (in_out, out_in)"},
    {"abi.b_i64", "host: gpu kernels declare B as i64 (Bp's kernarg offset shifts)"},
    {"abi.extra_param", "host: gpu kernels declare an extra i32 parameter after Bp"},
};
static const stub_mutant MUTANT_KIND[] = {
    STUB_BP_PAD8,       STUB_BP_IS_B,    STUB_GRID_SHORT,
    STUB_GRID_B_FOR_BP, STUB_WG_HALVED,  STUB_BUFFER_ROW_SHORT,
    STUB_ARGS_SWAPPED,  STUB_PANEL_WIDE, STUB_PANEL_OUT_IN,
    STUB_ABI,           STUB_ABI,
};
enum { NMUTANTS = sizeof MUTANT_INFO / sizeof MUTANT_INFO[0] };
_Static_assert(sizeof MUTANT_KIND / sizeof MUTANT_KIND[0] == NMUTANTS, "one kind per mutant");

const tk_cg_mutant_info *tk_cg_stub_mutants(size_t *n) {
  *n = NMUTANTS;
  return MUTANT_INFO;
}

typedef struct stub_gen {
  const tk_ir_module *m;
  const char *base; /* the files' name without .c/.h: TK_STUB_BASE or model_host.<level> */
  FILE *out;
  tk_status error;    /* first error; generation continues harmlessly and reports it */
  stub_mutant mutant; /* STUB_SOUND in every real compile */
  bool applied;       /* the mutant has been applied at its first site */
  bool b_for_bp;      /* print the symbol Bp as B (STUB_GRID_B_FOR_BP, one formula) */
  bool row_short;     /* print B and Bp one less (STUB_BUFFER_ROW_SHORT, one formula) */
} stub_gen;

/* True (once) when the mutant is `kind` and has not been applied yet; marks it applied. */
static bool mutate_here(stub_gen *g, stub_mutant kind) {
  if (g->mutant != kind || g->applied) return false;
  g->applied = true;
  return true;
}

static bool ix_mentions(const tk_ix *e, tk_ix_symbol sym) {
  if (!e) return false;
  if (e->kind == TK_IX_SYM) return e->sym == sym;
  return ix_mentions(e->a, sym) || ix_mentions(e->b, sym);
}

/* A product c*Bp inside e: there B for Bp changes the value (in (Bp + 63) div 64 it need not:
 * Bp is a multiple of 16, so that grid equals (B + 63) div 64 and the mutant would be sound). */
static bool ix_scales_bp(const tk_ix *e) {
  if (!e) return false;
  if (e->kind == TK_IX_MUL && ix_mentions(e->a, TK_SYM_BP)) return true;
  return ix_scales_bp(e->a) || ix_scales_bp(e->b);
}

/* ---- index expressions → C --------------------------------------------------------------- */

static void stub_ix(stub_gen *g, const tk_ix *e, bool top);

static bool proved_nonneg(const stub_gen *g, const tk_ix *e) {
  return tk_ir_ix_bounds(e, g->m->opts.bmax, NULL).lo >= 0;
}

/* Floor div/mod: C's / and % truncate toward zero, so they are floor only for a >= 0. */
static void stub_divmod(stub_gen *g, const tk_ix *e) {
  bool div = e->kind == TK_IX_DIV;
  if (proved_nonneg(g, e->a)) {
    stub_ix(g, e->a, false);
    fprintf(g->out, " %s %lld", div ? "/" : "%", (long long)e->c);
    return;
  }
  fprintf(g->out, "%s(", div ? "tkm_floordiv" : "tkm_floormod");
  stub_ix(g, e->a, true);
  fprintf(g->out, ", %lld)", (long long)e->c);
}

static void stub_ix(stub_gen *g, const tk_ix *e, bool top) {
  bool paren = !top && e->kind != TK_IX_CONST && (e->kind != TK_IX_SYM || g->row_short) &&
               e->kind != TK_IX_MIN && e->kind != TK_IX_MAX;
  if (paren) fputc('(', g->out);
  switch (e->kind) {
    case TK_IX_CONST:
      if (e->c >= INT32_MIN && e->c <= INT32_MAX)
        fprintf(g->out, e->c < 0 ? "(%lld)" : "%lld", (long long)e->c);
      else
        fprintf(g->out, "INT64_C(%lld)", (long long)e->c);
      break;
    case TK_IX_SYM:
      fputs(e->sym == TK_SYM_B || g->b_for_bp ? "B" : "Bp", g->out);
      if (g->row_short) fputs(" - 1", g->out);
      break;
    case TK_IX_VAR:
    case TK_IX_LOAD:
      if (!g->error)
        g->error = tk_status_make(TK_INTERNAL,
                                  "host stub: formula uses %s %s; grids and sizes may only "
                                  "use B and Bp",
                                  e->kind == TK_IX_VAR ? "loop variable" : "the data of",
                                  e->kind == TK_IX_VAR ? e->var->name : e->arg_name);
      fputs("0", g->out);
      break;
    case TK_IX_ADD:
    case TK_IX_SUB:
      stub_ix(g, e->a, false);
      fputs(e->kind == TK_IX_ADD ? " + " : " - ", g->out);
      stub_ix(g, e->b, false);
      break;
    case TK_IX_MUL:
      stub_ix(g, e->a, false);
      fprintf(g->out, " * %lld", (long long)e->c);
      break;
    case TK_IX_MIN:
    case TK_IX_MAX:
      fputs(e->kind == TK_IX_MIN ? "tkm_min(" : "tkm_max(", g->out);
      stub_ix(g, e->a, true);
      fputs(", ", g->out);
      stub_ix(g, e->b, true);
      fputc(')', g->out);
      break;
    case TK_IX_DIV:
    case TK_IX_MOD: stub_divmod(g, e); break;
  }
  if (paren) fputc(')', g->out);
}

/* The IR's own text of a formula, for comments ("Bp div 16"). Never contains a comment end. */
static void stub_ix_text(stub_gen *g, const tk_ix *e) { tk_ir_ix_print(e, g->out); }

/* ---- model_host.h ------------------------------------------------------------------------ */

static void stub_macro_name(FILE *out, const char *name) {
  for (const char *p = name; *p; p++) {
    char c = *p;
    if (c >= 'a' && c <= 'z')
      c = (char)(c - 'a' + 'A');
    else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      c = '_';
    fputc(c, out);
  }
}

static void stub_banner(stub_gen *g, const char *ext, const char *what, const char *version) {
  const tk_arch *a = &g->m->arch;
  fprintf(g->out,
          "/* %s%s — %s\n"
          " * Generated by tkc %s; do not edit. Arch fingerprint %s: %s %s, input_dim %d,\n"
          " * hidden_dim %d, output_dim %d, n_experts %d, top_k %d, expert_depth %d.\n"
          " * B = rows in the batch, 1 <= B <= %lld (--max-batch); Bp = max(%d, %d*ceil(B/%d))\n"
          " * (docs/formats.md §3). Kernel ABI and launch contract: docs/abi.md. */\n",
          g->base, ext, what, version, a->fingerprint, tk_arch_size_name(a->size),
          tk_arch_model_kind_name(a->model_kind), a->input_dim, a->hidden_dim, a->output_dim,
          a->n_experts, a->top_k, a->expert_depth, (long long)g->m->opts.bmax, TK_PAD_QUANTUM,
          TK_PAD_QUANTUM, TK_PAD_QUANTUM);
}

static void stub_header(stub_gen *g, const char *version) {
  const tk_ir_module *m = g->m;
  stub_banner(g, ".h", "typed entry points of this model's host stub.", version);
  fprintf(g->out,
          "#ifndef TKM_MODEL_HOST_H\n#define TKM_MODEL_HOST_H\n\n#include <tk/launch.h>\n\n"
          "#define TKM_FINGERPRINT \"%s\"\n#define TKM_MAX_BATCH %lld\n"
          "#define TKM_INPUT_DIM %d\n#define TKM_OUTPUT_DIM %d\n#define TKM_N_EXPERTS %d\n"
          "#define TKM_BUFFER_COUNT %d\n\n/* The caller's buffers (in and out). */\n",
          m->arch.fingerprint, (long long)m->opts.bmax, m->arch.input_dim, m->arch.output_dim,
          m->arch.n_experts, m->nbuffers);
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    if (b->role != TK_ROLE_IN && b->role != TK_ROLE_OUT) continue;
    fputs("#define TKM_BUFFER_", g->out);
    stub_macro_name(g->out, b->name);
    fprintf(g->out, " %d /* %s, %s */\n", b->id, tk_ir_role_name(b->role),
            tk_ir_type_name(b->type));
  }
  fputs("\n"
        "int32_t tkm_launch_abi_version(void);  /* TK_LAUNCH_ABI_VERSION it was built with */\n"
        "const char *tkm_fingerprint(void);     /* TKM_FINGERPRINT */\n"
        "int32_t tkm_buffer_count(void);\n"
        "/* Elements of a buffer for batch B (Bp = tkm_padded_batch(B)); -1 for a bad id. */\n"
        "int64_t tkm_buffer_elems(int32_t buffer, int32_t B, int32_t Bp);\n"
        "int32_t tkm_buffer_role(int32_t buffer);  /* 0 in, 1 out, 2 param, 3 scratch; -1 */\n"
        "int32_t tkm_buffer_param(int32_t buffer); /* checkpoint record index, else -1 */\n"
        "const char *tkm_buffer_name(int32_t buffer); /* NULL for a bad id */\n"
        "/* A weight the cpu schedule reads packed in column panels (tk/panel.h): its row length\n"
        " * and panel width, and 1 if the checkpoint stores it [N, K] (out_in) not [K, N]; 0 for\n"
        " * every other buffer. */\n"
        "int64_t tkm_buffer_panel_cols(int32_t buffer);\n"
        "int64_t tkm_buffer_panel_width(int32_t buffer);\n"
        "int64_t tkm_buffer_panel_out_in(int32_t buffer);\n",
        g->out);
  fprintf(g->out, "int32_t tkm_padded_batch(int32_t B);       /* max(%d, %d*ceil(B/%d)) */\n",
          TK_PAD_QUANTUM, TK_PAD_QUANTUM, TK_PAD_QUANTUM);
  fputs("int64_t tkm_max_batch(void);\n"
        "/* Runs the launch sequence of schedule `target` (\"gpu\" or \"cpu\") for B rows on l,\n"
        " * whose buffers hold the inputs and parameters; l must not be NULL. */\n"
        "tk_status tkm_forward(tk_launcher *l, const char *target, int32_t B);\n\n"
        "#endif\n",
        g->out);
}

/* ---- model_host.c ------------------------------------------------------------------------ */

static const char stub_helpers[] =
    "static inline int64_t tkm_min(int64_t a, int64_t b) { return a < b ? a : b; }\n"
    "static inline int64_t tkm_max(int64_t a, int64_t b) { return a > b ? a : b; }\n"
    "/* Floor division and modulo by a constant c > 0 (C's / and % truncate toward zero). */\n"
    "static inline int64_t tkm_floordiv(int64_t a, int64_t c) { return a / c - (a % c < 0); }\n"
    "static inline int64_t tkm_floormod(int64_t a, int64_t c) { return a % c + (a % c < 0 ? c : 0); }\n"
    "\n"
    "static int tkm_streq(const char *a, const char *b) {\n"
    "  while (*a && *a == *b) a++, b++;\n"
    "  return *a == *b;\n"
    "}\n\n"
    "int32_t tkm_launch_abi_version(void) { return TK_LAUNCH_ABI_VERSION; }\n"
    "const char *tkm_fingerprint(void) { return TKM_FINGERPRINT; }\n"
    "int64_t tkm_max_batch(void) { return TKM_MAX_BATCH; }\n"
    "int32_t tkm_buffer_count(void) { return TKM_BUFFER_COUNT; }\n";

/* tkm_padded_batch, with TK_PAD_QUANTUM's value written in (the stub is a function of the
 * compiler that proved it, not of the headers it is later built against). */
static void stub_padded_batch(stub_gen *g) {
  const int q = mutate_here(g, STUB_BP_PAD8) ? 8 : TK_PAD_QUANTUM;
  if (mutate_here(g, STUB_BP_IS_B)) {
    fputs("int32_t tkm_padded_batch(int32_t B) { return B; }\n\n", g->out);
    return;
  }
  fprintf(g->out,
          "int32_t tkm_padded_batch(int32_t B) { return B <= %d ? %d : "
          "(int32_t)(((int64_t)B + %d) / %d * %d); }\n\n",
          q, q, q - 1, q, q);
}

static void stub_buffer_table(stub_gen *g) {
  const tk_ir_module *m = g->m;
  fputs("/* ---- Buffers: id, name, role, checkpoint record ---- */\n\n"
        "static const struct tkm_buffer {\n  const char *name;\n  int32_t role, param;\n"
        "} tkm_buffers[TKM_BUFFER_COUNT] = {\n",
        g->out);
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    fprintf(g->out, "  /* %d */ {\"%s\", %d, %d}, /* %s %s */\n", b->id, b->name, (int)b->role,
            b->role == TK_ROLE_PARAM ? b->param_index : -1, tk_ir_role_name(b->role),
            tk_ir_type_name(b->type));
  }
  fputs(
      "};\n\n"
      "int32_t tkm_buffer_role(int32_t b) { return b >= 0 && b < TKM_BUFFER_COUNT ? tkm_buffers[b].role : -1; }\n"
      "int32_t tkm_buffer_param(int32_t b) { return b >= 0 && b < TKM_BUFFER_COUNT ? tkm_buffers[b].param : -1; }\n"
      "const char *tkm_buffer_name(int32_t b) { return b >= 0 && b < TKM_BUFFER_COUNT ? tkm_buffers[b].name : 0; }\n\n"
      "static int64_t buffer_elems(int32_t buffer, int64_t B, int64_t Bp) {\n"
      "  (void)B, (void)Bp;\n  switch (buffer) {\n",
      g->out);
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ix *count = m->buffers[i].count;
    fprintf(g->out, "    case %d: return ", i);
    g->row_short = (ix_mentions(count, TK_SYM_B) || ix_mentions(count, TK_SYM_BP)) &&
                   mutate_here(g, STUB_BUFFER_ROW_SHORT);
    stub_ix(g, count, true);
    g->row_short = false;
    fprintf(g->out, "; /* %s */\n", m->buffers[i].name);
  }
  fputs(
      "    default: return -1;\n  }\n}\n\n"
      "int64_t tkm_buffer_elems(int32_t buffer, int32_t B, int32_t Bp) { return buffer_elems(buffer, B, Bp); }\n\n",
      g->out);
}

/* One switch of the panel table: the row length or the panel width of each packed buffer
 * (class host proves both equal to the IR's, and that no other buffer has a case). */
static void stub_panel_switch(stub_gen *g, const char *fn, bool width) {
  fprintf(g->out, "static int64_t %s(int32_t buffer) {\n  switch (buffer) {\n", fn);
  for (int i = 0; i < g->m->nbuffers; i++) {
    const tk_ir_buffer *b = &g->m->buffers[i];
    if (!b->panel_width) continue;
    int64_t value = width ? b->panel_width + mutate_here(g, STUB_PANEL_WIDE) : b->panel_cols;
    fprintf(g->out, "    case %d: return %lld; /* %s */\n", i, (long long)value, b->name);
  }
  fputs("    default: return 0;\n  }\n}\n\n", g->out);
}

/* The stored layout of each packed buffer: a case returning 1 for a weight stored [N, K]
 * (out_in), none for [K, N] (class host proves it equal to the IR's panel_out_in). */
static void stub_panel_out_in_switch(stub_gen *g) {
  fputs("static int64_t buffer_panel_out_in(int32_t buffer) {\n  switch (buffer) {\n", g->out);
  for (int i = 0; i < g->m->nbuffers; i++) {
    const tk_ir_buffer *b = &g->m->buffers[i];
    bool out_in = b->panel_width && b->panel_out_in;
    if (b->panel_width && mutate_here(g, STUB_PANEL_OUT_IN)) out_in = !out_in;
    if (out_in) fprintf(g->out, "    case %d: return 1; /* %s */\n", i, b->name);
  }
  fputs("    default: return 0;\n  }\n}\n\n", g->out);
}

static void stub_panel_table(stub_gen *g) {
  fputs("/* ---- Weights the cpu schedule reads in column panels (tk/panel.h) ---- */\n\n", g->out);
  stub_panel_switch(g, "buffer_panel_cols", false);
  stub_panel_switch(g, "buffer_panel_width", true);
  stub_panel_out_in_switch(g);
  fputs(
      "int64_t tkm_buffer_panel_cols(int32_t buffer) { return buffer_panel_cols(buffer); }\n"
      "int64_t tkm_buffer_panel_width(int32_t buffer) { return buffer_panel_width(buffer); }\n"
      "int64_t tkm_buffer_panel_out_in(int32_t buffer) { return buffer_panel_out_in(buffer); }\n\n",
      g->out);
}

static const char stub_launch_fn[] =
    "/* One launch: checks the grid fits a launch (GPU grids are 32-bit), then hands it to\n"
    " * the launcher, which covers [0, grid) and returns when the kernel is done. */\n"
    "static tk_status launch(tk_launcher *l, int32_t kernel, const char *name,\n"
    "                        const int32_t *buffers, int32_t nargs, int64_t B, int64_t Bp,\n"
    "                        int64_t grid, int64_t workgroup_size) {\n"
    "  if (grid < 0 || grid > INT32_MAX)\n"
    "    return tk_launcher_error(l, TK_OUT_OF_RANGE, \"kernel %s: grid %lld outside [0, 2^31) at B = %lld\",\n"
    "                             name, (long long)grid, (long long)B);\n"
    "  tk_launch_args a = {kernel, name, nargs, buffers, (int32_t)B, (int32_t)Bp, grid, workgroup_size};\n"
    "  return tk_launcher_launch(l, &a);\n"
    "}\n\n";

static void stub_args_comment(stub_gen *g, const tk_ir_kernel *k) {
  for (int i = 0; i < k->nargs; i++) {
    const tk_ir_arg *a = &k->args[i];
    const char *buf =
        a->buffer >= 0 && a->buffer < g->m->nbuffers ? g->m->buffers[a->buffer].name : "?";
    fprintf(g->out, "%s%s", i ? ", " : "", a->name);
    if (strcmp(buf, a->name) != 0) fprintf(g->out, " (in %s)", buf);
  }
}

/* The grid argument of a launch (the C translation of launch.grid). */
static void stub_launch_grid(stub_gen *g, const tk_ir_kernel *k, bool cpu) {
  if (!cpu && mutate_here(g, STUB_GRID_SHORT)) {
    fputc('(', g->out);
    stub_ix(g, k->launch.grid, true);
    fputs(") - 1", g->out);
    return;
  }
  g->b_for_bp = ix_scales_bp(k->launch.grid) && mutate_here(g, STUB_GRID_B_FOR_BP);
  stub_ix(g, k->launch.grid, true);
  g->b_for_bp = false;
}

static void stub_launch(stub_gen *g, const tk_ir_kernel *k, tk_ir_target t) {
  bool cpu = t == TK_TARGET_CPU;
  fprintf(g->out, "  /* %d: IR kernel %s (%s schedule) — grid = ", k->id, k->name,
          tk_ir_target_name(t));
  stub_ix_text(g, k->launch.grid);
  if (cpu)
    fprintf(g->out, " blocks of %lld rows\n", (long long)k->launch.block_rows);
  else
    fprintf(g->out, " workgroups of %lld threads\n", (long long)k->launch.workgroup_size);
  fputs("   * args: ", g->out);
  stub_args_comment(g, k);
  if (k->nargs < 1 && !g->error)
    g->error = tk_status_make(TK_INTERNAL, "host stub: kernel %s has no arguments", k->name);
  fprintf(g->out, " */\n  static const int32_t %s_args_%d[%d] = {", tk_ir_target_name(t), k->id,
          k->nargs);
  bool swap =
      k->nargs >= 2 && k->args[0].buffer != k->args[1].buffer && mutate_here(g, STUB_ARGS_SWAPPED);
  for (int i = 0; i < k->nargs; i++) {
    if (k->args[i].buffer < 0 && !g->error)
      g->error = tk_status_make(TK_INTERNAL, "host stub: kernel %s argument %d (%s) has no buffer",
                                k->name, i, k->args[i].name);
    int from = swap && i < 2 ? 1 - i : i;
    fprintf(g->out, "%s%d", i ? ", " : "", k->args[from].buffer);
  }
  fprintf(g->out, "};\n  TK_RETURN_IF_ERROR(launch(l, %d, \"%s\", %s_args_%d, %d, B, Bp, ", k->id,
          k->name, tk_ir_target_name(t), k->id, k->nargs);
  stub_launch_grid(g, k, cpu);
  int64_t wg = cpu ? 1 : k->launch.workgroup_size;
  if (!cpu && mutate_here(g, STUB_WG_HALVED)) wg /= 2;
  fprintf(g->out, ", %lld));\n\n", (long long)wg);
}

/* Kernel names are symbols: two launches of one schedule must not share one. */
static void stub_check_names(stub_gen *g, const tk_ir_kernel_list *list, tk_ir_target t) {
  for (int i = 0; i < list->n; i++)
    for (int j = 0; j < i; j++)
      if (!strcmp(list->items[i]->name, list->items[j]->name) && !g->error)
        g->error = tk_status_make(TK_INTERNAL, "host stub: %s kernels %d and %d are both named %s",
                                  tk_ir_target_name(t), j, i, list->items[i]->name);
}

static void stub_sequence(stub_gen *g, tk_ir_target t) {
  const tk_ir_kernel_list *list = tk_ir_module_kernels(g->m, t);
  const char *name = tk_ir_target_name(t);
  stub_check_names(g, list, t);
  fprintf(g->out, "/* ---- The %s schedule: %d launches, in order ---- */\n\n", name, list->n);
  fprintf(g->out, "static tk_status forward_%s(tk_launcher *l, int64_t B, int64_t Bp) {\n", name);
  if (!list->n) fputs("  (void)l, (void)B, (void)Bp;\n", g->out);
  for (int i = 0; i < list->n; i++) stub_launch(g, list->items[i], t);
  fputs("  return TK_STATUS_OK;\n}\n\n", g->out);
}

static const char stub_forward[] =
    "tk_status tkm_forward(tk_launcher *l, const char *target, int32_t B) {\n"
    "  if (B < 1 || B > TKM_MAX_BATCH)\n"
    "    return tk_launcher_error(l, TK_OUT_OF_RANGE,\n"
    "                             \"batch B = %d outside [1, %lld] (the bundle's --max-batch)\", B,\n"
    "                             (long long)TKM_MAX_BATCH);\n"
    "  int64_t Bp = tkm_padded_batch(B);\n"
    "  if (target && tkm_streq(target, \"gpu\")) return forward_gpu(l, B, Bp);\n"
    "  if (target && tkm_streq(target, \"cpu\")) return forward_cpu(l, B, Bp);\n"
    "  return tk_launcher_error(l, TK_INVALID_ARGUMENT, \"unknown schedule '%s': expected gpu or cpu\",\n"
    "                           target ? target : \"(null)\");\n"
    "}\n";

static void stub_source(stub_gen *g, const char *version) {
  stub_banner(g, ".c", "the launch sequence and buffer table of this model.", version);
  fprintf(g->out, "#include \"%s.h\"\n\n", g->base);
  fputs(stub_helpers, g->out);
  stub_padded_batch(g);
  stub_buffer_table(g);
  stub_panel_table(g);
  if (tk_ir_module_kernels(g->m, TK_TARGET_GPU)->n || tk_ir_module_kernels(g->m, TK_TARGET_CPU)->n)
    fputs(stub_launch_fn, g->out);
  stub_sequence(g, TK_TARGET_GPU);
  stub_sequence(g, TK_TARGET_CPU);
  fputs(stub_forward, g->out);
}

/* ---- entry point ------------------------------------------------------------------------- */

typedef void (*stub_writer)(stub_gen *g, const char *version);

static tk_status stub_text(const tk_ir_module *m, const char *base, stub_writer w,
                           const char *version, stub_mutant mutant, char **out) {
  char *text = NULL;
  size_t len = 0;
  stub_gen g = {.m = m, .base = base, .out = tk_open_memstream(&text, &len), .mutant = mutant};
  if (!g.out)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "host stub: out of memory (open_memstream)");
  w(&g, version);
  bool failed = ferror(g.out) != 0;
  fclose(g.out);
  if (failed && !g.error)
    g.error = tk_status_make(TK_RESOURCE_EXHAUSTED, "host stub: out of memory");
  if (!g.error && mutant != STUB_SOUND && mutant != STUB_ABI && !g.applied)
    g.error =
        tk_status_make(TK_INVALID_ARGUMENT, "host stub: the mutant has no site in this model");
  if (g.error) {
    free(text);
    return g.error;
  }
  *out = text;
  return TK_STATUS_OK;
}

static tk_status find_mutant(const char *id, stub_mutant *out) {
  *out = STUB_SOUND;
  if (!id) return TK_STATUS_OK;
  for (size_t i = 0; i < NMUTANTS; i++)
    if (!strcmp(MUTANT_INFO[i].id, id)) {
      *out = MUTANT_KIND[i];
      return TK_STATUS_OK;
    }
  return tk_status_make(TK_NOT_FOUND, "no codegen mutant '%s' (tkc compile --list-cg-mutants)", id);
}

tk_status tk_cg_stub_generate(const tk_ir_module *m, const char *tkc_version, char **out_c,
                              char **out_h) {
  return tk_cg_stub_generate_mutant(m, tkc_version, NULL, NULL, out_c, out_h);
}

tk_status tk_cg_stub_generate_mutant(const tk_ir_module *m, const char *tkc_version,
                                     const char *mutant, const char *base, char **out_c,
                                     char **out_h) {
  *out_c = *out_h = NULL;
  if (m->stage < TK_STAGE_CPU)
    return tk_status_make(TK_INTERNAL, "host stub: module at stage %d, needs both schedules",
                          (int)m->stage);
  stub_mutant kind;
  TK_RETURN_IF_ERROR(find_mutant(mutant, &kind));
  if (!base) base = TK_STUB_BASE;
  TK_RETURN_IF_ERROR(stub_text(m, base, stub_source, tkc_version, kind, out_c));
  tk_status s = stub_text(m, base, stub_header, tkc_version, STUB_SOUND, out_h);
  if (s) {
    free(*out_c);
    *out_c = NULL;
  }
  return s;
}
