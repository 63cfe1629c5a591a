/* tkc_main.c — the tkc command line: dispatches to one subcommand (compiler/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "compiler/tkc_commands.h"
#include "tk/version.h"

typedef struct tkc_command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} tkc_command;

static const tkc_command commands[] = {
    {"check", tkc_cmd_check,
     "validate an arch.json; print canonical form, fingerprint, parameters"},
    {"init-checkpoint", tkc_cmd_init_checkpoint,
     "write a checkpoint with deterministic random weights"},
    {"inspect-checkpoint", tkc_cmd_inspect_checkpoint,
     "list a checkpoint's records and validate them"},
    {"compile", tkc_cmd_compile,
     "compile an arch.json into a bundle (or print a stage with --emit)"},
    {"verify", tkc_cmd_verify,
     "prove every obligation with Z3; write the SMT-LIB2 proofs (--proofs-dir)"},
    {"check-proofs", tkc_cmd_check_proofs,
     "check a bundle's certificate: hashes, regenerated code and proofs, solver replay"},
    {"opt", tkc_cmd_opt,
     "run IR passes on an IR dump and print the result (--passes=pad,fuse,...)"},
};

static void print_help(FILE *out) {
  fprintf(out, "usage: tkc <command> [options]\n"
               "\n"
               "tkc compiles a sparse Mixture-of-Experts classifier (arch.json + checkpoint.tkp1)\n"
               "into verified kernels. Commands:\n\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-20s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n'tkc <command> --help' describes each command.\n"
               "Exit codes: 0 ok, 1 invalid input file, 2 usage, 3 an obligation failed,\n"
               "4 toolchain or internal error.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_help(stderr);
    return TKC_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    print_help(stdout);
    return TKC_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("tkc %s (LLVM %s)\n", TK_VERSION, TK_LLVM_VERSION);
    return TKC_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "tkc: unknown command '%s'\nTry 'tkc --help'.\n", argv[1]);
  return TKC_EXIT_USAGE;
}
