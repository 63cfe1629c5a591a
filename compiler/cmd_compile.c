/* compiler/cmd_compile.c — `tkc compile ARCH.json -o DIR [options]` builds a bundle through
 * libtkc (tkc_compile); `--emit=STAGE` prints one intermediate stage on stdout instead:
 * arch (canonical arch.json), ir (graph), ir-fused (fused kernels + buffer plan), ir-gpu,
 * ir-cpu (scheduled kernels), llvm / asm (one target's optimised LLVM IR or assembly — PTX for
 * nvptx — for the single target of --targets), obligations (every proof obligation as SMT-LIB2,
 * unsolved); --mutant ID applies a verifier mutant (verify/mutants.h) and must fail (exit 3). Flags are parsed by libtkc's tkc_options_parse_flag, so the
 * command line and the library agree. Exit codes: FORMATS §4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "model/arch.h"
#include "compiler/pipeline.h"
#include "compiler/tkc.h"
#include "compiler/tkc_commands.h"
#include "verify/verify.h"

static const char *const CMD = "compile";

static void print_help(void) {
  printf("usage: tkc compile ARCH.json -o DIR [options]\n"
         "       tkc compile ARCH.json --emit=STAGE [--max-batch N]\n"
         "\n"
         "Compiles an architecture into a bundle directory: the IR passes, the verifier, code\n"
         "for every target, the host stub and manifest.json, written atomically.\n"
         "\n"
         "%s"
         "  --emit=STAGE      print one stage on stdout instead of writing a bundle:\n"
         "                    arch      the canonical arch.json\n"
         "                    ir        the graph: tensors and ops with their contracts\n"
         "                    ir-fused  fused kernels (phases, index maps) and the buffer plan\n"
         "                    ir-gpu    kernels scheduled for GPUs (workgroups, threads, grids)\n"
         "                    ir-cpu    kernels scheduled for the CPU (row blocks, register tiles)\n"
         "                    llvm      optimised LLVM IR of the one target in --targets\n"
         "                    asm       its assembly (PTX for nvptx); GPU targets use the one\n"
         "                              --offload-arch / --cuda-arch given, else gfx90a / sm_80\n"
         "                    obligations  every proof obligation as SMT-LIB2 (not solved)\n"
         "  --mutant ID       apply a verifier mutant (tkc verify ARCH.json --list-mutants);\n"
         "                    the compile must stop at the verifier (exit 3), writing nothing\n"
         "\n"
         "Exit codes: 0 ok, 1 invalid arch, 2 usage, 3 an obligation failed, 4 toolchain error.\n",
         tkc_compile_flags_help);
}

typedef struct compile_args {
  tkc_options o;
  const char *emit;
} compile_args;

/* Returns -1 when parsed, else the exit code of a usage error. */
static int parse_args(int argc, char **argv, compile_args *a) {
  tkc_options_default(&a->o);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    char err[256];
    tkc_flag_result r = tkc_options_parse_flag(&a->o, argc, argv, &i, err, sizeof err);
    if (r == TKC_FLAG_TAKEN) continue;
    if (r == TKC_FLAG_BAD) return tkc_usage_error(CMD, "%s", err);
    if (!strncmp(s, "--emit=", 7)) a->emit = s + 7;
    else if (!strncmp(s, "--mutant=", 9)) a->o.mutant = s + 9;
    else if (!strcmp(s, "--mutant") && i + 1 < argc) a->o.mutant = argv[++i];
    else if (!strcmp(s, "--emit") && i + 1 < argc) a->emit = argv[++i];
    else if (s[0] == '-' && s[1]) return tkc_usage_error(CMD, "unknown option '%s'", s);
    else if (a->o.arch_path) return tkc_usage_error(CMD, "more than one ARCH.json ('%s', '%s')", a->o.arch_path, s);
    else a->o.arch_path = s;
  }
  if (!a->o.arch_path) return tkc_usage_error(CMD, "missing ARCH.json");
  if (!a->emit && !a->o.out_dir) return tkc_usage_error(CMD, "missing -o DIR (where to write the bundle) or --emit=STAGE");
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
  o.ir.bmax = a->o.max_batch;
  o.stop_after = STAGES[which].stage;
  tk_ir_module *m = NULL;
  tk_status s = tkc_pipeline_set_cpu(&o, a->o.cpu);
  if (!s) s = tkc_pipeline_run(arch, &o, &m);
  if (!s) s = tk_ir_print(m, STAGES[which].dump, stdout);
  tk_ir_module_free(m);
  if (!s && fflush(stdout) != 0) s = tk_status_make(TK_IO_ERROR, "writing to stdout failed");
  return s ? tkc_fail(CMD, s) : TKC_EXIT_OK;
}

/* --emit=obligations: the scheduled module's obligations as SMT-LIB2, unsolved. */
static int emit_obligations(const tk_arch *arch, const compile_args *a) {
  tkc_pipeline_options o;
  tkc_pipeline_options_default(&o);
  o.ir.bmax = a->o.max_batch;
  tk_ir_module *m = NULL;
  tk_status s = tkc_pipeline_set_cpu(&o, a->o.cpu);
  if (!s) s = tkc_pipeline_run(arch, &o, &m);
  if (!s) s = tk_verify_emit_obligations(m, stdout);
  tk_ir_module_free(m);
  if (!s && fflush(stdout) != 0) s = tk_status_make(TK_IO_ERROR, "writing to stdout failed");
  return s ? tkc_fail(CMD, s) : TKC_EXIT_OK;
}

/* --emit=llvm|asm: the whole pipeline, then one target's code as text. */
static int emit_code(const tk_arch *arch, const compile_args *a, tk_cg_emit what) {
  const char *t = a->o.targets;
  if (strchr(t, ','))
    return tkc_usage_error(CMD, "--emit=%s: give one target with --targets (amdgcn, nvptx, "
                           "x86_64 or x86_64-simt), not '%s'", a->emit, t);
  tk_cg_options cg;
  tk_cg_options_default(&cg);
  cg.target = t;
  cg.cpu = !strcmp(t, "amdgcn") ? a->o.offload_arch : !strcmp(t, "nvptx") ? a->o.cuda_arch : a->o.cpu;
  cg.code_object_version = a->o.code_object_version;
  tkc_pipeline_options o;
  tkc_pipeline_options_default(&o);
  o.ir.bmax = a->o.max_batch;
  tk_ir_module *m = NULL;
  tk_cg_blob text = {0};
  tk_status s = tkc_pipeline_set_cpu(&o, a->o.cpu);
  if (!s) s = tkc_pipeline_run(arch, &o, &m);
  if (!s) s = tk_cg_compile(m, &cg, what, &text);
  if (!s && (fwrite(text.data, 1, text.size, stdout) != text.size || fflush(stdout) != 0))
    s = tk_status_make(TK_IO_ERROR, "writing to stdout failed");
  tk_cg_blob_free(&text);
  tk_ir_module_free(m);
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
  bool code = a.emit && (!strcmp(a.emit, "llvm") || !strcmp(a.emit, "asm"));
  bool obligations = a.emit && !strcmp(a.emit, "obligations");
  if (a.emit && strcmp(a.emit, "arch") != 0 && !code && !obligations) {
    for (which = 0; which < sizeof STAGES / sizeof STAGES[0]; which++)
      if (!strcmp(a.emit, STAGES[which].name)) break;
    if (which == sizeof STAGES / sizeof STAGES[0])
      return tkc_usage_error(CMD, "--emit=%s: expected arch, ir, ir-fused, ir-gpu, ir-cpu, llvm, "
                             "asm or obligations", a.emit);
  }
  if (!a.emit) {
    tk_status s = tkc_compile(&a.o);
    if (a.o.mutant && tk_status_code_of(s) == TK_NOT_FOUND) { /* an unknown mutant ID: usage */
      rc = tkc_usage_error(CMD, "%s", tk_status_message(s));
      tk_status_free(s);
      return rc;
    }
    return s ? tkc_fail(CMD, s) : TKC_EXIT_OK;
  }
  tk_arch arch;
  tk_status s = tk_arch_load(a.o.arch_path, &arch);
  if (s) return tkc_fail(CMD, s);
  if (!strcmp(a.emit, "arch")) return emit_arch(&arch);
  if (obligations) return emit_obligations(&arch, &a);
  if (code) return emit_code(&arch, &a, !strcmp(a.emit, "llvm") ? TK_CG_EMIT_LLVM : TK_CG_EMIT_ASM);
  return emit_ir(&arch, &a, which);
}
