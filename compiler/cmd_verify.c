/* compiler/cmd_verify.c — `tkc verify ARCH.json [options]`: the driver (tkc_compile) stopped
 * after its verify pass. Prints one summary line per class on stdout and the solver's wall
 * times on stderr, and with --proofs-dir replaces DIR, all or nothing, by the proof store:
 * queries/<sha256>.smt2 per distinct query plus index.json (docs/proofs.md "The files") and
 * the output marker; an existing DIR only if tkc wrote all of it (runtime/fs.h). --cpu gives
 * the CPU schedule to prove (the one a bundle built with the same --cpu runs); --targets and
 * the arch lists are checked as `tkc compile` checks them. Exit codes (docs/formats.md §4): 0
 * proved, 1 invalid arch or a DIR tkc did not write, 2 usage, 3 an obligation failed (its
 * counterexample on stderr; DIR untouched), 4 internal error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/codegen.h"
#include "compiler/bundle_fs.h"
#include "compiler/tkc.h"
#include "compiler/tkc_commands.h"
#include "runtime/fs.h"
#include "verify/mutants.h"

static const char *const CMD = "verify";

static void print_help(void) {
  printf(
      "usage: tkc verify ARCH.json [--proofs-dir DIR] [--cpu CPU] [--max-batch N] [--mutant ID]\n"
      "       tkc verify ARCH.json --list-mutants\n"
      "\n"
      "Builds the IR of an architecture, schedules it for gpu and cpu, and proves every\n"
      "obligation with Z3: shape, padding, bounds, no_overflow, race, topk, dataflow, layout,\n"
      "dispatch, for every batch size 1 <= B <= N. Prints one line per class; solver times go\n"
      "to stderr.\n"
      "Both schedules are proved whatever --targets says: every target's code is lowered from\n"
      "one of them. Class host (the host stub, the GPU kernel ABI) needs the stub and the\n"
      "code: `tkc compile` proves it (here it counts 0). --cpu takes one CPU here\n"
      "(default " TK_CG_DEFAULT_X86_CPU "): a bundle's further CPUs are proved by tkc compile.\n"
      "With --gpu-schedule tiled the GPU schedule is that of the first GPU arch's tile set\n"
      "(gfx9 cdna, gfx10+ rdna, sm_* nvidia): a bundle's further tile sets are proved by tkc\n"
      "compile, or here with --targets of their archs (docs/ir.md \"Tiles per target\").\n"
      "\n"
      "Options:\n"
      "  --proofs-dir DIR  write the proof store into DIR: queries/<sha256>.smt2 per distinct\n"
      "                    query and index.json (replaced as a whole, only on success)\n"
      "%s"
      "  --list-mutants    print the mutants of this model (ID<TAB>description): defects\n"
      "                    the verifier must reject\n"
      "  --mutant ID       apply mutant ID to the scheduled IR first (exit 3 expected)\n"
      "  -h, --help        show this help\n"
      "\n"
      "Exit codes: 0 all proved, 1 invalid arch, 2 usage, 3 an obligation failed (the\n"
      "counterexample is printed), 4 internal error.\n",
      tkc_compile_flags_help);
}

typedef struct verify_args {
  tkc_options o;
  const char *dir;
  bool list_mutants;
} verify_args;

static const char *value_of(const char *name, int argc, char **argv, int *i) {
  size_t n = strlen(name);
  if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') return argv[*i] + n + 1;
  if (!strcmp(argv[*i], name) && *i + 1 < argc) return argv[++*i];
  return NULL;
}

/* Returns -1 when parsed, else the exit code of a usage error. */
static int parse_args(int argc, char **argv, verify_args *a) {
  tkc_options_default(&a->o);
  a->o.cpu = TK_CG_DEFAULT_X86_CPU; /* verify proves one CPU schedule */
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *v;
    char err[256];
    if (!strcmp(s, "-o") || !strncmp(s, "-o=", 3))
      return tkc_usage_error(CMD, "-o: verify writes no bundle (use --proofs-dir DIR)");
    tkc_flag_result r = tkc_options_parse_flag(&a->o, argc, argv, &i, err, sizeof err);
    if (r == TKC_FLAG_TAKEN) continue;
    if (r == TKC_FLAG_BAD) return tkc_usage_error(CMD, "%s", err);
    if ((v = value_of("--proofs-dir", argc, argv, &i)))
      a->dir = v;
    else if ((v = value_of("--mutant", argc, argv, &i)))
      a->o.mutant = v;
    else if (!strcmp(s, "--list-mutants"))
      a->list_mutants = true;
    else if (!strcmp(s, "--proofs-dir") || !strcmp(s, "--mutant"))
      return tkc_usage_error(CMD, "%s needs a value", s);
    else if (s[0] == '-' && s[1])
      return tkc_usage_error(CMD, "unknown option '%s'", s);
    else if (a->o.arch_path)
      return tkc_usage_error(CMD, "more than one ARCH.json ('%s', '%s')", a->o.arch_path, s);
    else
      a->o.arch_path = s;
  }
  if (!a->o.arch_path) return tkc_usage_error(CMD, "missing ARCH.json");
  if (strchr(a->o.cpu, ','))
    return tkc_usage_error(CMD, "--cpu '%s': tkc verify proves one CPU schedule; give one CPU",
                           a->o.cpu);
  if (a->dir && !*a->dir) return tkc_usage_error(CMD, "--proofs-dir: empty directory name");
  a->o.quiet = true;
  a->o.stop_after = a->list_mutants ? "schedule-cpu" : "verify";
  return -1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --list-mutants: one `ID<TAB>description` line per applicable mutant. */
static tk_status list_mutants(tk_ir_module *m) {
  tk_mutant *mu = NULL;
  int n = 0;
  TK_RETURN_IF_ERROR(tk_verify_mutants_list(m, &mu, &n));
  for (int i = 0; i < n; i++) printf("%s\t%s\n", mu[i].id, mu[i].description);
  free(mu);
  return TK_STATUS_OK;
}

/* The store replaces dir all or nothing, and only a dir that tkc wrote (runtime/fs.h); a
 * termination signal meanwhile takes effect once the temp dir is in place or removed. */
static tk_status write_proofs_dir(const tk_verify_report *r, const char *dir) {
  sigset_t saved;
  tk_fs_hold_signals(&saved);
  tk_status s = tk_verify_write_proofs_dir(r, dir);
  tk_fs_release_signals(&saved);
  return s;
}

static tk_status write_and_report(const verify_args *a, const tk_ir_module *m, tk_verify_report *r,
                                  double seconds) {
  if (a->dir) TK_RETURN_IF_ERROR(tkc_fs_make_parents(a->dir));
  if (a->dir) TK_RETURN_IF_ERROR(write_proofs_dir(r, a->dir));
  tk_verify_report_summary(r, stdout);
  fprintf(stderr, "tkc verify: %s: %zu obligations in %.3f s; ", a->o.arch_path,
          tk_verify_report_count(r), seconds);
  tk_verify_report_timing(r, stderr);
  if (m->opts.gpu_schedule == TK_GPU_SCHEDULE_TILED)
    fprintf(stderr,
            "tkc verify: the GPU schedule proved is the %s tile set's (the first GPU arch's); "
            "tkc compile proves a bundle's further tile sets\n",
            tk_ir_gpu_tile_set_name(m->opts.gpu_tiles));
  return TK_STATUS_OK;
}

static int run(verify_args *a) {
  tk_ir_module *m = NULL;
  tk_verify_report *r = NULL;
  a->o.keep_module = &m;
  a->o.keep_report = &r;
  double t0 = now();
  tk_status s = a->dir && !a->list_mutants ? tk_fs_check_replaceable(a->dir) : TK_STATUS_OK;
  if (!s) s = tkc_compile(&a->o);
  double t1 = now();
  if (tk_status_code_of(s) == TK_NOT_FOUND && a->o.mutant) { /* an unknown mutant ID: usage */
    int rc = tkc_usage_error(CMD, "%s", tk_status_message(s));
    tk_status_free(s);
    return rc;
  }
  if (!s) s = a->list_mutants ? list_mutants(m) : write_and_report(a, m, r, t1 - t0);
  tk_ir_module_free(m);
  tk_verify_report_free(r);
  if (!s && fflush(stdout) != 0) s = tk_status_make(TK_IO_ERROR, "writing to stdout failed");
  return s ? tkc_fail(CMD, s) : TKC_EXIT_OK;
}

int tkc_cmd_verify(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    print_help();
    return TKC_EXIT_OK;
  }
  verify_args a = {0};
  int rc = parse_args(argc, argv, &a);
  return rc >= 0 ? rc : run(&a);
}
