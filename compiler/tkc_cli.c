/* tkc_cli.c — helpers shared by the tkc subcommands: status → exit code, error printing. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compiler/tkc_commands.h"

int tkc_exit_code(tk_status status) {
  switch (tk_status_code_of(status)) {
    case TK_OK: return TKC_EXIT_OK;
    case TK_INVALID_ARGUMENT:
    case TK_NOT_FOUND:
    case TK_IO_ERROR:
    case TK_OUT_OF_RANGE: return TKC_EXIT_INPUT;
    case TK_PROOF_FAILED: return TKC_EXIT_PROOF;
    case TK_RESOURCE_EXHAUSTED:
    case TK_UNAVAILABLE:
    case TK_INTERNAL: return TKC_EXIT_INTERNAL;
  }
  return TKC_EXIT_INTERNAL;
}

int tkc_fail(const char *cmd, tk_status status) {
  int code = tkc_exit_code(status);
  fprintf(stderr, "tkc %s: error: %s\n", cmd, tk_status_message(status));
  tk_status_free(status);
  return code;
}

int tkc_usage_error(const char *cmd, const char *fmt, ...) {
  fprintf(stderr, "tkc %s: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'tkc %s --help'.\n", cmd);
  return TKC_EXIT_USAGE;
}

bool tkc_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
  return false;
}
