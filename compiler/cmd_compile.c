/* compiler/cmd_compile.c — `tkc compile ARCH.json [--emit=STAGE] [--max-batch N]`.
 *
 * For now it runs the front end and the IR pipeline and prints one stage on stdout:
 * arch (canonical arch.json), ir (graph), ir-fused (fused kernels + buffer plan), ir-gpu,
 * ir-cpu (scheduled kernels). Without --emit it says that code generation is not implemented
 * yet and exits 4 (a later issue adds it). Exit codes: FORMATS §4.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/arch.h"
#include "compiler/pipeline.h"
#include "compiler/tkc_commands.h"

static const char *const CMD = "compile";

static void print_help(void) {
  printf("usage: tkc compile ARCH.json [--emit=STAGE] [--max-batch N]\n"
         "\n"
         "Compiles an architecture. STAGE prints one stage on stdout instead:\n"
         "  arch       the canonical arch.json\n"
         "  ir         the graph: tensors and ops with their contracts\n"
         "  ir-fused   fused kernels (phases, index maps) and the buffer plan\n"
         "  ir-gpu     kernels scheduled for GPUs (workgroups, threads, grids)\n"
         "  ir-cpu     kernels scheduled for the CPU (row blocks, register tiles)\n"
         "--max-batch N   largest batch one launch handles, 1..2^30 (default 65536)\n"
         "\n"
         "Code generation is not implemented yet: without --emit, compile exits 4.\n");
}

typedef struct compile_args {
  const char *arch_path;
  const char *emit;
  int64_t max_batch;
} compile_args;

static int parse_i64(const char *text, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || !*text || *end) return 0;
  *out = v;
  return 1;
}

/* Returns -1 when parsed, else the exit code of a usage error. */
static int parse_args(int argc, char **argv, compile_args *a) {
  a->max_batch = 65536;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!strncmp(s, "--emit=", 7)) a->emit = s + 7;
    else if (!strcmp(s, "--emit") && i + 1 < argc) a->emit = argv[++i];
    else if (!strncmp(s, "--max-batch=", 12) || (!strcmp(s, "--max-batch") && i + 1 < argc)) {
      const char *v = s[11] == '=' ? s + 12 : argv[++i];
      if (!parse_i64(v, &a->max_batch) || a->max_batch < 1 || a->max_batch > ((int64_t)1 << 30))
        return tkc_usage_error(CMD, "--max-batch '%s': expected an integer in 1..1073741824", v);
    } else if (s[0] == '-' && s[1]) return tkc_usage_error(CMD, "unknown option '%s'", s);
    else if (a->arch_path) return tkc_usage_error(CMD, "more than one ARCH.json ('%s', '%s')", a->arch_path, s);
    else a->arch_path = s;
  }
  if (!a->arch_path) return tkc_usage_error(CMD, "missing ARCH.json");
  return -1;
}

static const struct {
  const char *name;
  tk_ir_stage stage;
  tk_ir_dump dump;
} STAGES[] = {
    {"ir", TK_STAGE_GRAPH, TK_DUMP_GRAPH},
    {"ir-fused", TK_STAGE_PLANNED, TK_DUMP_FUSED},
    {"ir-gpu", TK_STAGE_GPU, TK_DUMP_GPU},
    {"ir-cpu", TK_STAGE_CPU, TK_DUMP_CPU},
};

static int emit_arch(const tk_arch *arch) {
  char *json = NULL;
  tk_status s = tk_arch_canonical_json(arch, &json);
  if (s) return tkc_fail(CMD, s);
  printf("%s\n", json);
  free(json);
  return TKC_EXIT_OK;
}

static int emit_ir(const tk_arch *arch, const compile_args *a, size_t which) {
  tkc_pipeline_options o;
  tkc_pipeline_options_default(&o);
  o.ir.bmax = a->max_batch;
  o.stop_after = STAGES[which].stage;
  tk_ir_module *m = NULL;
  tk_status s = tkc_pipeline_run(arch, &o, &m);
  if (!s) s = tk_ir_print(m, STAGES[which].dump, stdout);
  tk_ir_module_free(m);
  if (!s && fflush(stdout) != 0) s = tk_status_make(TK_IO_ERROR, "writing to stdout failed");
  return s ? tkc_fail(CMD, s) : TKC_EXIT_OK;
}

int tkc_cmd_compile(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    print_help();
    return TKC_EXIT_OK;
  }
  compile_args a = {0};
  int rc = parse_args(argc, argv, &a);
  if (rc >= 0) return rc;
  size_t which = sizeof STAGES / sizeof STAGES[0];
  if (a.emit && strcmp(a.emit, "arch") != 0) {
    for (which = 0; which < sizeof STAGES / sizeof STAGES[0]; which++)
      if (!strcmp(a.emit, STAGES[which].name)) break;
    if (which == sizeof STAGES / sizeof STAGES[0])
      return tkc_usage_error(CMD, "--emit=%s: expected arch, ir, ir-fused, ir-gpu or ir-cpu", a.emit);
  }
  tk_arch arch;
  tk_status s = tk_arch_load(a.arch_path, &arch);
  if (s) return tkc_fail(CMD, s);
  if (a.emit && !strcmp(a.emit, "arch")) return emit_arch(&arch);
  if (a.emit) return emit_ir(&arch, &a, which);
  fprintf(stderr, "tkc compile: code generation is not implemented yet; use --emit=STAGE to print "
                  "an intermediate stage (see 'tkc compile --help')\n");
  return TKC_EXIT_INTERNAL;
}
