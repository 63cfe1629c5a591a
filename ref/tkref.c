/* ref/tkref.c — the reference oracle as a tool: one forward pass, JSON in and out.
 *
 *   tkref --arch ARCH.json --checkpoint FILE [--allow-nonfinite] < request.json
 *
 * Reads a request (FORMATS §4) on stdin, validates the checkpoint against the arch with the
 * reference's own tensor list, runs the double-precision reference (padding included) and
 * prints the response, each double rounded to float, on stdout. Exit codes as tkrun's:
 * 0 ok, 1 the arch or checkpoint cannot be opened or validated, 2 bad request or usage
 * (one line on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "tk/version.h"
#include "tk/wire.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_REQUEST = 2 };

typedef struct tkref_args {
  const char *arch_path, *checkpoint_path;
  bool allow_nonfinite, help, version;
} tkref_args;

static void print_help(FILE *out) {
  fprintf(out,
          "usage: tkref --arch ARCH.json --checkpoint FILE [--allow-nonfinite] < request.json\n"
          "\n"
          "Runs the double-precision reference forward pass (FORMATS.md §3) on the request read\n"
          "from stdin ({\"features\": [...]} or {\"features\": [[...], ...]}) and prints\n"
          "{\"logits\": [[...]], \"router_weights\": [[...]]} on stdout.\n"
          "\n"
          "  --arch ARCH.json     the architecture\n"
          "  --checkpoint FILE    checkpoint.tkp1 weights, validated against the arch\n"
          "  --allow-nonfinite    accept NaN/Inf weights in the checkpoint\n"
          "  --help, --version\n"
          "\n"
          "Exit codes: 0 ok, 1 cannot open or validate the arch or checkpoint,\n"
          "2 bad request or usage.\n");
}

/* Returns false (after one line on stderr) on a usage error. */
static bool parse_args(int argc, char **argv, tkref_args *a) {
  *a = (tkref_args){0};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char **value = !strcmp(arg, "--arch")         ? &a->arch_path
                         : !strcmp(arg, "--checkpoint") ? &a->checkpoint_path
                                                        : NULL;
    if (value) {
      if (i + 1 >= argc) {
        fprintf(stderr, "tkref: %s needs a value (try 'tkref --help')\n", arg);
        return false;
      }
      *value = argv[++i];
    } else if (!strcmp(arg, "--allow-nonfinite")) {
      a->allow_nonfinite = true;
    } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      a->help = true;
    } else if (!strcmp(arg, "--version")) {
      a->version = true;
    } else {
      fprintf(stderr, "tkref: unknown argument '%s' (try 'tkref --help')\n", arg);
      return false;
    }
  }
  if (!a->help && !a->version && (!a->arch_path || !a->checkpoint_path)) {
    fprintf(stderr, "tkref: --arch and --checkpoint are required (try 'tkref --help')\n");
    return false;
  }
  return true;
}

/* Reads all of stdin into a malloc'd buffer. */
static tk_status read_stdin(char **out, size_t *out_len) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  while (buf) {
    len += fread(buf + len, 1, cap - len, stdin);
    if (len < cap) break;
    char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
    if (!grown) free(buf);
    buf = grown;
    cap *= 2;
  }
  if (!buf) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading stdin");
  if (ferror(stdin)) {
    free(buf);
    return tk_status_make(TK_IO_ERROR, "cannot read stdin");
  }
  *out = buf;
  *out_len = len;
  return TK_STATUS_OK;
}

/* Opens the arch and the checkpoint, validates, and builds the reference model. */
static tk_status load_model(const tkref_args *a, tk_ref_model **out) {
  tk_arch arch;
  TK_RETURN_IF_ERROR(tk_arch_load(a->arch_path, &arch));
  tk_checkpoint *ckpt;
  TK_RETURN_IF_ERROR(tk_checkpoint_open(a->checkpoint_path, &ckpt));
  tk_status status = tk_ref_checkpoint_validate(&arch, ckpt, a->allow_nonfinite);
  if (!status) status = tk_ref_model_from_checkpoint(&arch, ckpt, out);
  tk_checkpoint_close(ckpt);
  return status;
}

/* Parses the request, runs the batch and formats the response. */
static tk_status run_request(const tk_ref_model *m, const char *body, size_t len, char **out_json) {
  const tk_arch *arch = tk_ref_model_arch(m);
  size_t in = (size_t)arch->input_dim, n_out = (size_t)arch->output_dim,
         e = (size_t)arch->n_experts;
  float *features;
  size_t rows;
  TK_RETURN_IF_ERROR(tk_wire_parse_request(body, len, in, &features, &rows));
  size_t n_in = rows * in, n_res = rows * (n_out + e); /* bounded by the parsed body's size */
  double *x = malloc((n_in + n_res) * sizeof(double));
  float *res = malloc(n_res * sizeof(float) + 1);
  tk_status status =
      x && res ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (!status) {
    for (size_t i = 0; i < n_in; i++) x[i] = features[i];
    double *logits = x + n_in, *w = logits + rows * n_out;
    tk_ref_outputs o = {logits, NULL, e ? w : NULL, NULL};
    status = tk_ref_forward_batch(m, x, rows, &o);
    for (size_t i = 0; i < n_res; i++) res[i] = (float)logits[i]; /* logits then w */
  }
  if (!status)
    status =
        tk_wire_format_response(res, rows, n_out, e ? res + rows * n_out : NULL, e, out_json, NULL);
  free(features);
  free(x);
  free(res);
  return status;
}

/* Prints the error as one line, frees it, and returns the exit code. */
static int fail(tk_status status, int code) {
  bool request = code == EXIT_REQUEST && tk_status_code_of(status) == TK_INVALID_ARGUMENT;
  fprintf(stderr, "tkref: %s%s\n", request ? "bad request: " : "", tk_status_message(status));
  tk_status_free(status);
  return code;
}

int main(int argc, char **argv) {
  tkref_args args;
  if (!parse_args(argc, argv, &args)) return EXIT_REQUEST;
  if (args.help) {
    print_help(stdout);
    return EXIT_OK;
  }
  if (args.version) {
    printf("tkref %s\n", TK_VERSION);
    return EXIT_OK;
  }
  tk_ref_model *model;
  tk_status status = load_model(&args, &model);
  if (status) return fail(status, EXIT_INPUT);
  char *body = NULL, *json = NULL;
  size_t len = 0;
  status = read_stdin(&body, &len);
  if (!status) {
    status = run_request(model, body, len, &json);
    free(body);
  }
  tk_ref_model_free(model);
  if (status) return fail(status, EXIT_REQUEST);
  puts(json);
  free(json);
  return EXIT_OK;
}
