/* runtime/tools/tkrun.c — one forward pass from JSON on stdin to JSON on stdout.
 *
 *   tkrun (--bundle DIR | --arch ARCH.json) --checkpoint FILE [--device D] [--threads N]
 *         [--allow-nonfinite] < request.json > response.json
 *
 * Request and response: docs/formats.md §4 (tk/wire.h); the response is followed by one newline.
 * The model is opened before stdin is read, so a missing device fails at once. Exit codes
 * (docs/formats.md §4): 0 ok, 1 cannot open the bundle or checkpoint, 2 bad request or usage (one line
 * on stderr), 3 requested device unavailable. Nothing is written on stdout unless the exit
 * code is 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tools/tool_model.h"
#include "tk/version.h"
#include "tk/alloc.h"

enum { STDIN_MAX = 1 << 30 }; /* 1 GiB of request text */

static void print_help(void) {
  printf("usage: tkrun (--bundle DIR | --arch ARCH.json) --checkpoint FILE [options] "
         "< request.json\n"
         "\n"
         "Runs one forward pass on the request read from stdin ({\"features\": [f, ...]} or\n"
         "{\"features\": [[f, ...], ...]}) and prints {\"logits\": [[...]], \"router_weights\":\n"
         "[[...]]} on stdout (docs/formats.md §4).\n"
         "\n"
         "%s"
         "  --help, --version\n"
         "\n"
         "Exit codes: 0 ok, 1 cannot open the bundle or checkpoint, 2 bad request or usage,\n"
         "3 requested device unavailable.\n",
         tool_model_flags_help);
}

static int usage_error(const char *msg) {
  fprintf(stderr, "tkrun: %s (try 'tkrun --help')\n", msg);
  return TOOL_EXIT_USAGE;
}

/* Reads all of stdin (at most STDIN_MAX bytes) into a malloc'd buffer. */
static tk_status read_stdin(char **out, size_t *out_len) {
  *out = NULL;
  size_t len = 0, cap = 1 << 16;
  char *buf = tk_malloc(cap);
  for (;;) {
    if (!buf) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading stdin");
    len += fread(buf + len, 1, cap - len, stdin);
    if (len < cap) break;
    if (cap >= STDIN_MAX) {
      free(buf);
      return tk_status_make(TK_INVALID_ARGUMENT, "request larger than 1 GiB");
    }
    char *grown = tk_realloc(buf, cap * 2);
    if (!grown) free(buf);
    buf = grown;
    cap *= 2;
  }
  if (ferror(stdin)) {
    free(buf);
    return tk_status_make(TK_IO_ERROR, "cannot read stdin");
  }
  *out = buf;
  *out_len = len;
  return TK_STATUS_OK;
}

/* --device auto's one short line; libtkrt's longer one, naming why each GPU backend was passed
 * over (a missing driver, a bundle without that target), comes with --verbose instead. */
static void say_device(const tool_model *m) {
  const char *backend = tk_session_backend(m->session);
  fprintf(stderr, "tkrun: --device auto: %s, %s%s\n", backend, tk_session_device(m->session),
          strcmp(backend, "cpu") ? "" : "; no GPU backend answered (--verbose says why)");
}

/* Parses argv; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, tool_model_args *a) {
  *a = (tool_model_args){.device = TK_DEVICE_AUTO};
  char err[256];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      print_help();
      return TOOL_EXIT_OK;
    }
    if (!strcmp(argv[i], "--version")) {
      printf("tkrun %s (LLVM %s)\n", TK_VERSION, TK_LLVM_VERSION);
      return TOOL_EXIT_OK;
    }
    tool_flag f = tool_model_flag(a, argc, argv, &i, err, sizeof err);
    if (f == TOOL_FLAG_BAD) return usage_error(err);
    if (f == TOOL_FLAG_NOT_OURS) {
      snprintf(err, sizeof err, "unknown argument '%s'", argv[i]);
      return usage_error(err);
    }
  }
  if (!tool_model_args_complete(a, err, sizeof err)) return usage_error(err);
  return -1;
}

int main(int argc, char **argv) {
  tool_model_args args;
  int code = parse_args(argc, argv, &args);
  if (code >= 0) return code;
  tool_model m;
  tk_status s = tool_model_open(&args, &m);
  if (s) {
    code = tool_model_exit_code(s);
    fprintf(stderr, "tkrun: %s: %s\n", code == TOOL_EXIT_DEVICE ? "device unavailable" : "error",
            tk_status_message(s));
    tk_status_free(s);
    return code;
  }
  if (args.device == TK_DEVICE_AUTO && !args.verbose) say_device(&m);
  char *body = NULL, *response = NULL;
  size_t len = 0;
  s = read_stdin(&body, &len);
  if (!s) s = tool_model_answer(&m, NULL, body, len, &response);
  free(body);
  if (s) {
    code = tk_status_code_of(s) == TK_INVALID_ARGUMENT ? TOOL_EXIT_USAGE : TOOL_EXIT_OPEN;
    fprintf(stderr, "tkrun: %s: %s\n", code == TOOL_EXIT_USAGE ? "bad request" : "error",
            tk_status_message(s));
    tk_status_free(s);
  } else {
    code = (fputs(response, stdout) < 0 || fflush(stdout)) ? TOOL_EXIT_OPEN : TOOL_EXIT_OK;
    if (code) fprintf(stderr, "tkrun: error: cannot write the response\n");
  }
  free(response);
  tool_model_close(&m);
  return code;
}
