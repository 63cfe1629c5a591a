/* compiler/cmd_verify.c — `tkc verify ARCH.json [--proofs-dir DIR] [--max-batch N]`: runs the
 * pipeline up to both schedules, discharges every obligation (verify/verify.h), prints one
 * summary line per class on stdout and the solver's wall times on stderr, and with
 * --proofs-dir replaces DIR, all or nothing, by one .smt2 file per obligation plus
 * report.json. Exit codes (FORMATS §4): 0 proved, 1 invalid arch, 2 usage, 3 an obligation
 * failed (its counterexample on stderr; DIR untouched), 4 internal error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/arch.h"
#include "compiler/pipeline.h"
#include "compiler/bundle_fs.h"
#include "compiler/tkc_commands.h"
#include "verify/mutants.h"
#include "verify/verify.h"

static const char *const CMD = "verify";

static void print_help(void) {
  printf("usage: tkc verify ARCH.json [--proofs-dir DIR] [--max-batch N] [--mutant ID]\n"
         "       tkc verify ARCH.json --list-mutants\n"
         "\n"
         "Builds the IR of an architecture, schedules it for gpu and cpu, and proves every\n"
         "obligation with Z3: shape, padding, bounds, no_overflow, race, topk, for every batch\n"
         "size 1 <= B <= N. Prints one line per class; solver times go to stderr.\n"
         "\n"
         "Options:\n"
         "  --proofs-dir DIR  write <kernel>.<target>.<class>.<n>.smt2 per obligation and\n"
         "                    report.json into DIR (replaced as a whole, only on success)\n"
         "  --max-batch N     largest batch the proofs cover (default 65536)\n"
         "  --list-mutants    print the mutants of this model (ID<TAB>description): defects\n"
         "                    the verifier must reject\n"
         "  --mutant ID       apply mutant ID to the scheduled IR first (exit 3 expected)\n"
         "  -h, --help        show this help\n"
         "\n"
         "Exit codes: 0 all proved, 1 invalid arch, 2 usage, 3 an obligation failed (the\n"
         "counterexample is printed), 4 internal error.\n");
}

typedef struct verify_args {
  const char *arch, *dir, *mutant;
  int64_t bmax;
  bool list_mutants;
} verify_args;

static bool parse_batch(const char *s, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long n = strtoll(s, &end, 10);
  if (errno || !*s || *end || n < 1 || n > 2147483647LL) return false;
  *out = n;
  return true;
}

/* Returns -1 when parsed, else the exit code of a usage error. */
static int parse_args(int argc, char **argv, verify_args *a) {
  a->bmax = 65536;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *val = NULL;
    if (!strncmp(s, "--proofs-dir=", 13)) a->dir = s + 13;
    else if (!strcmp(s, "--proofs-dir")) {
      if (++i >= argc) return tkc_usage_error(CMD, "--proofs-dir needs a directory");
      a->dir = argv[i];
    } else if (!strcmp(s, "--list-mutants")) a->list_mutants = true;
    else if (!strncmp(s, "--mutant=", 9)) a->mutant = s + 9;
    else if (!strcmp(s, "--mutant")) {
      if (++i >= argc) return tkc_usage_error(CMD, "--mutant needs an ID (see --list-mutants)");
      a->mutant = argv[i];
    } else if (!strncmp(s, "--max-batch=", 12)) val = s + 12;
    else if (!strcmp(s, "--max-batch")) {
      if (++i >= argc) return tkc_usage_error(CMD, "--max-batch needs a number");
      val = argv[i];
    } else if (s[0] == '-' && s[1]) return tkc_usage_error(CMD, "unknown option '%s'", s);
    else if (a->arch) return tkc_usage_error(CMD, "more than one ARCH.json ('%s', '%s')", a->arch, s);
    else a->arch = s;
    if (val && !parse_batch(val, &a->bmax))
      return tkc_usage_error(CMD, "--max-batch '%s': expected an integer in [1, 2147483647]", val);
  }
  if (!a->arch) return tkc_usage_error(CMD, "missing ARCH.json");
  if (a->dir && !*a->dir) return tkc_usage_error(CMD, "--proofs-dir: empty directory name");
  return -1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --list-mutants: one `ID<TAB>description` line per applicable mutant. */
static int list_mutants(tk_ir_module *m) {
  tk_mutant *mu = NULL;
  int n = 0;
  tk_status s = tk_verify_mutants_list(m, &mu, &n);
  tk_ir_module_free(m);
  if (s) return tkc_fail(CMD, s);
  for (int i = 0; i < n; i++) printf("%s\t%s\n", mu[i].id, mu[i].description);
  free(mu);
  return fflush(stdout) == 0 ? TKC_EXIT_OK : tkc_fail(CMD, tk_status_make(TK_IO_ERROR, "writing to stdout failed"));
}

static int run(const verify_args *a) {
  tk_arch arch;
  tk_status s = tk_arch_load(a->arch, &arch);
  if (s) return tkc_fail(CMD, s);
  tkc_pipeline_options po;
  tkc_pipeline_options_default(&po);
  po.ir.bmax = a->bmax;
  tk_ir_module *m = NULL;
  s = tkc_pipeline_run(&arch, &po, &m);
  if (s) return tkc_fail(CMD, tk_status_code_of(s) == TK_INVALID_ARGUMENT ? s : tk_status_annotate(s, "building the IR"));
  if (a->list_mutants) return list_mutants(m);
  if (a->mutant && (s = tk_verify_mutant_apply(m, a->mutant))) {
    tk_ir_module_free(m);
    bool unknown = tk_status_code_of(s) == TK_NOT_FOUND;
    if (!unknown) return tkc_fail(CMD, s);
    int rc = tkc_usage_error(CMD, "%s", tk_status_message(s));
    tk_status_free(s);
    return rc;
  }
  tk_verify_options vo;
  tk_verify_options_default(&vo);
  vo.keep_text = a->dir != NULL;
  tk_verify_report *r = NULL;
  double t0 = now();
  s = tk_verify_module(m, &vo, &r);
  double t1 = now();
  tk_ir_module_free(m);
  if (!s && a->dir) s = tkc_fs_make_parents(a->dir);
  if (!s && a->dir) s = tk_verify_write_proofs_dir(r, a->dir);
  if (s) {
    tk_verify_report_free(r);
    return tkc_fail(CMD, s);
  }
  tk_verify_report_summary(r, stdout);
  fprintf(stderr, "tkc verify: %s: %zu obligations in %.3f s; ", a->arch, tk_verify_report_count(r), t1 - t0);
  tk_verify_report_timing(r, stderr);
  tk_verify_report_free(r);
  return fflush(stdout) == 0 ? TKC_EXIT_OK : tkc_fail(CMD, tk_status_make(TK_IO_ERROR, "writing to stdout failed"));
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
