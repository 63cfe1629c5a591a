/* compiler/cmd_compile.c — `tkc compile ARCH.json -o DIR [options]`: thin options on the
 * driver (tkc_compile, compiler/driver.c). `--emit=VIEW` prints one view of the pass table on
 * stdout instead of writing a bundle; `--stop-after=PASS` and `--dump-after=PASS,...` reach
 * the table directly; `--mutant ID` applies a verifier mutant (verify/mutants.h) and must fail
 * (exit 3). Flags shared with `tkc verify` are parsed by tkc_options_parse_flag, so the command
 * line and the library agree. Exit codes: docs/formats.md §4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/hoststub.h"
#include "compiler/tkc.h"
#include "compiler/tkc_commands.h"

static const char *const CMD = "compile";

static void print_list(void) {
  size_t n;
  const tkc_pass *p = tkc_pass_table(&n);
  printf("passes, in order (--stop-after, --dump-after; IR passes also run by `tkc opt`):\n");
  for (size_t i = 0; i < n; i++)
    printf("  %-14s %s%s\n", p[i].name, p[i].summary, p[i].ir_run ? "  [IR pass]" : "");
  const tkc_view *v = tkc_view_table(&n);
  printf("views (--emit=VIEW prints one after its pass and stops there):\n");
  for (size_t i = 0; i < n; i++)
    printf("  %-14s after %-13s %s\n", v[i].name, v[i].pass, v[i].summary);
}

/* One line per codegen mutant: `ID<TAB>class: description` (kernels: translation validation;
 * host stub and kernel ABI: class host). */
static void print_cg_mutants(void) {
  size_t n;
  const tk_cg_mutant *m = tk_cg_mutants(&n);
  for (size_t i = 0; i < n; i++) printf("%s\t%s: %s\n", m[i].id, m[i].cls, m[i].description);
  const tk_cg_mutant_info *stub = tk_cg_stub_mutants(&n);
  for (size_t i = 0; i < n; i++)
    printf("%s\t%s\n", stub[i].id, stub[i].description); /* "host: ..." */
}

static void print_help(void) {
  printf("usage: tkc compile ARCH.json -o DIR [options]\n"
         "       tkc compile ARCH.json --emit=VIEW [options]\n"
         "       tkc compile --list-passes\n"
         "       tkc compile --list-cg-mutants\n"
         "\n"
         "Compiles an architecture into a bundle directory: the IR passes, the verifier, code\n"
         "for every target, the host stub and manifest.json, written atomically.\n"
         "\n"
         "%s"
         "  --emit=VIEW       print one view on stdout instead of writing a bundle:\n",
         tkc_compile_flags_help);
  size_t n;
  const tkc_view *v = tkc_view_table(&n);
  for (size_t i = 0; i < n; i++) printf("                    %-12s %s\n", v[i].name, v[i].summary);
  printf("                    (code views: one target in --targets; GPU targets use the one\n"
         "                    --offload-arch / --cuda-arch given, else the first default)\n"
         "  --stop-after=PASS run the pass table up to PASS and write nothing\n"
         "  --dump-after=LIST print, on stdout, the first view of each pass in the comma list\n"
         "                    after it runs (\"> After PASS:\" before each)\n"
         "  --list-passes     print the pass table and the views, and exit\n"
         "  --mutant ID       apply a verifier mutant (tkc verify ARCH.json --list-mutants);\n"
         "                    the compile must stop at the verifier (exit 3), writing nothing\n"
         "  --cg-mutant ID    plant a codegen defect (tkc compile --list-cg-mutants); the\n"
         "                    translation validation of the LLVM or the host obligations must\n"
         "                    refute it (exit 3), writing nothing\n"
         "  --list-cg-mutants print the codegen mutants, one per line, and exit\n"
         "\n"
         "Exit codes: 0 ok, 1 invalid arch, 2 usage, 3 an obligation failed, 4 toolchain error.\n");
}

/* `--name=VALUE` or `--name VALUE` for the options only this command has; *i advances. */
static const char *value_of(const char *name, int argc, char **argv, int *i) {
  size_t n = strlen(name);
  if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') return argv[*i] + n + 1;
  if (!strcmp(argv[*i], name) && *i + 1 < argc) return argv[++*i];
  return NULL;
}

/* Returns -1 when parsed, else the exit code of a usage error. */
static int parse_args(int argc, char **argv, tkc_options *o) {
  tkc_options_default(o);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *v;
    char err[256];
    tkc_flag_result r = tkc_options_parse_flag(o, argc, argv, &i, err, sizeof err);
    if (r == TKC_FLAG_TAKEN) continue;
    if (r == TKC_FLAG_BAD) return tkc_usage_error(CMD, "%s", err);
    if ((v = value_of("--emit", argc, argv, &i)))
      o->emit = v;
    else if ((v = value_of("--mutant", argc, argv, &i)))
      o->mutant = v;
    else if ((v = value_of("--cg-mutant", argc, argv, &i)))
      o->cg_mutant = v;
    else if ((v = value_of("--stop-after", argc, argv, &i)))
      o->stop_after = v;
    else if ((v = value_of("--dump-after", argc, argv, &i)))
      o->dump_after = v;
    else if (s[0] == '-' && s[1])
      return tkc_usage_error(CMD, "unknown option '%s' (or it lacks its value)", s);
    else if (o->arch_path)
      return tkc_usage_error(CMD, "more than one ARCH.json ('%s', '%s')", o->arch_path, s);
    else
      o->arch_path = s;
  }
  if (!o->arch_path) return tkc_usage_error(CMD, "missing ARCH.json");
  if (o->emit && !tkc_view_find(o->emit))
    return tkc_usage_error(CMD,
                           "--emit=%s: expected arch, ir, ir-padded, ir-fused, ir-gpu, ir-cpu, "
                           "obligations, llvm-unopt, llvm or asm",
                           o->emit);
  const tkc_view *v = tkc_view_find(o->emit);
  if (v && !strcmp(v->pass, "codegen") && (!o->targets || strchr(o->targets, ',')))
    return tkc_usage_error(CMD,
                           "--emit=%s: give one target with --targets (amdgcn, nvptx, x86_64 "
                           "or x86_64-simt), not '%s'",
                           o->emit, o->targets ? o->targets : TKC_DEFAULT_TARGETS);
  if (o->emit && (o->stop_after || o->dump_after))
    return tkc_usage_error(CMD, "--emit stops after its own pass: give it alone, or use "
                                "--stop-after with --dump-after");
  if (!o->emit && !o->stop_after && !o->out_dir)
    return tkc_usage_error(CMD, "missing -o DIR (where to write the bundle) or --emit=VIEW");
  if (o->emit) o->quiet = true; /* a view is the whole output */
  return -1;
}

int tkc_cmd_compile(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    print_help();
    return TKC_EXIT_OK;
  }
  if (argc == 2 && !strcmp(argv[1], "--list-passes")) {
    print_list();
    return TKC_EXIT_OK;
  }
  if (argc == 2 && !strcmp(argv[1], "--list-cg-mutants")) {
    print_cg_mutants();
    return TKC_EXIT_OK;
  }
  tkc_options o;
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) return rc;
  tk_status s = tkc_compile(&o);
  if (tk_status_code_of(s) == TK_NOT_FOUND && (o.mutant || o.cg_mutant)) { /* unknown ID */
    rc = tkc_usage_error(CMD, "%s", tk_status_message(s));
    tk_status_free(s);
    return rc;
  }
  if (!s && fflush(stdout) != 0) s = tk_status_make(TK_IO_ERROR, "writing to stdout failed");
  return s ? tkc_fail(CMD, s) : TKC_EXIT_OK;
}
