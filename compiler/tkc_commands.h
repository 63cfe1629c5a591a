/* compiler/tkc_commands.h — the subcommands of the tkc CLI, one file each (cmd_*.c), and the
 * few helpers they share (tkc_cli.c). Each command parses its own argv (argv[0] is the
 * subcommand name), prints its own --help, and returns the process exit code of docs/formats.md §4:
 * 0 ok, 1 invalid input file, 2 usage, 3 an obligation failed, 4 toolchain/internal error. */
#ifndef TK_COMPILER_TKC_COMMANDS_H
#define TK_COMPILER_TKC_COMMANDS_H

#include <stdbool.h>

#include "tk/status.h"

enum {
  TKC_EXIT_OK = 0,
  TKC_EXIT_INPUT = 1,
  TKC_EXIT_USAGE = 2,
  TKC_EXIT_PROOF = 3,
  TKC_EXIT_INTERNAL = 4
};

int tkc_cmd_check(int argc, char **argv);
int tkc_cmd_init_checkpoint(int argc, char **argv);
int tkc_cmd_inspect_checkpoint(int argc, char **argv);
int tkc_cmd_compile(int argc, char **argv);
int tkc_cmd_verify(int argc, char **argv);
int tkc_cmd_opt(int argc, char **argv);          /* cmd_opt.c */
int tkc_cmd_check_proofs(int argc, char **argv); /* cmd_check_proofs.c */

/* Prints "tkc <cmd>: error: <message>" on stderr, frees the status and returns its exit code. */
int tkc_fail(const char *cmd, tk_status status);
/* The exit code a status maps to (0 for NULL). */
int tkc_exit_code(tk_status status);
/* Prints "tkc <cmd>: <message>\nTry 'tkc <cmd> --help'." on stderr and returns TKC_EXIT_USAGE. */
int tkc_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True if argv holds --help or -h; the caller then prints its help and returns 0. */
bool tkc_wants_help(int argc, char **argv);

#endif
