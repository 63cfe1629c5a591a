/* ref/tkref.c — the reference oracle as a tool: one forward pass, JSON in and out.
 *
 *   tkref --arch ARCH.json --checkpoint FILE [--allow-nonfinite] [--compare RESPONSE.json]
 *         < request.json
 *
 * Reads a request (docs/formats.md §4) on stdin, validates the checkpoint against the arch with the
 * reference's own tensor list, runs the double-precision reference (padding included) and
 * prints the response, each double rounded to float, on stdout. With --compare, it instead
 * judges a backend's response to the same request (tkrun's or tkserve's JSON) with the
 * comparator of docs/formats.md §3 and prints the summary and the max difference, then PASS or FAIL.
 * Exit codes as tkrun's: 0 ok (or PASS), 1 the arch, checkpoint or response file cannot be
 * opened or validated, 2 bad request or usage (one line on stderr), 3 FAIL.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "tk/version.h"
#include "tk/wire.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_REQUEST = 2, EXIT_DIFFERS = 3 };

typedef struct tkref_args {
  const char *arch_path, *checkpoint_path, *compare_path;
  bool allow_nonfinite, help, version;
} tkref_args;

static void print_help(FILE *out) {
  fprintf(
      out,
      "usage: tkref --arch ARCH.json --checkpoint FILE [--allow-nonfinite]\n"
      "             [--compare RESPONSE.json] < request.json\n"
      "\n"
      "Runs the double-precision reference forward pass (docs/formats.md §3) on the request read\n"
      "from stdin ({\"features\": [...]} or {\"features\": [[...], ...]}) and prints\n"
      "{\"logits\": [[...]], \"router_weights\": [[...]]} on stdout.\n"
      "\n"
      "  --arch ARCH.json     the architecture\n"
      "  --checkpoint FILE    checkpoint.tkp1 weights, validated against the arch\n"
      "  --allow-nonfinite    accept NaN/Inf weights in the checkpoint\n"
      "  --compare FILE       judge FILE, a backend's response to the same request (tkrun,\n"
      "                       tkserve), against the reference with the docs/formats.md §3\n"
      "                       comparator; prints the max difference and PASS or FAIL\n"
      "  --help, --version\n"
      "\n"
      "Exit codes: 0 ok (PASS), 1 cannot open or validate the arch, checkpoint or\n"
      "response, 2 bad request or usage, 3 FAIL: the response disagrees.\n");
}

/* Returns false (after one line on stderr) on a usage error. */
static bool parse_args(int argc, char **argv, tkref_args *a) {
  *a = (tkref_args){0};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char **value = !strcmp(arg, "--arch")         ? &a->arch_path
                         : !strcmp(arg, "--checkpoint") ? &a->checkpoint_path
                         : !strcmp(arg, "--compare")    ? &a->compare_path
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

/* Reads a whole file (malloc'd, NUL-terminated). */
static tk_status read_file(const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  if (!f) return tk_status_make(TK_IO_ERROR, "cannot open %s", path);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  tk_status s = TK_STATUS_OK;
  for (size_t n = 1; !s && n > 0; len += n) {
    if (cap - len < 4096) {
      char *grown = cap <= SIZE_MAX / 4 ? realloc(buf, cap * 2 + 4096) : NULL;
      if (!grown)
        s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", path);
      else
        buf = grown, cap = cap * 2 + 4096;
    }
    n = s ? 0 : fread(buf + len, 1, cap - len - 1, f);
  }
  if (!s && ferror(f)) s = tk_status_make(TK_IO_ERROR, "cannot read %s", path);
  fclose(f);
  if (s)
    free(buf);
  else
    buf[len] = '\0', *out = buf;
  return s;
}

/* response[key] as rows × cols floats into out (a rows × cols array). */
static tk_status response_matrix(const cJSON *root, const char *key, size_t rows, size_t cols,
                                 const char *path, float *out) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!cJSON_IsArray(m) || (size_t)cJSON_GetArraySize(m) != rows)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: \"%s\" is not an array of %zu rows", path, key,
                          rows);
  size_t r = 0;
  for (const cJSON *row = m->child; row; row = row->next, r++) {
    if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) != cols)
      return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s[%zu] is not an array of %zu numbers", path,
                            key, r, cols);
    size_t c = 0;
    for (const cJSON *v = row->child; v; v = v->next, c++) {
      if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
        return tk_status_make(TK_INVALID_ARGUMENT, "%s: %s[%zu][%zu] is not a number", path, key, r,
                              c);
      out[r * cols + c] = cJSON_IsNumber(v) ? (float)v->valuedouble : __builtin_nanf("");
    }
  }
  return TK_STATUS_OK;
}

/* --compare: the backend's response against the reference on the same rows. */
static tk_status compare_response(const tk_ref_model *m, const char *body, size_t len,
                                  const char *path, bool *passed) {
  const tk_arch *arch = tk_ref_model_arch(m);
  size_t in = (size_t)arch->input_dim, n_out = (size_t)arch->output_dim,
         e = (size_t)arch->n_experts, rows;
  float *x = NULL, *got = NULL;
  char *text = NULL;
  cJSON *root = NULL;
  TK_RETURN_IF_ERROR(tk_wire_parse_request(body, len, in, &x, &rows));
  tk_status s = read_file(path, &text);
  if (!s && !(root = cJSON_Parse(text)))
    s = tk_status_make(TK_INVALID_ARGUMENT, "%s: not valid JSON", path);
  if (!s && !(got = malloc(rows * (n_out + e) * sizeof *got + 1)))
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) s = response_matrix(root, "logits", rows, n_out, path, got);
  if (!s && e) s = response_matrix(root, "router_weights", rows, e, path, got + rows * n_out);
  tk_ref_report rep;
  if (!s) s = tk_ref_compare(m, x, rows, got, e ? got + rows * n_out : NULL, &rep);
  if (!s) {
    tk_ref_report_print(&rep, stdout);
    *passed = tk_ref_report_passed(&rep);
    printf("max abs diff %.3g over %zu rows: %s\n", rep.max_diff, rep.rows,
           *passed ? "PASS" : "FAIL");
  }
  cJSON_Delete(root);
  free(text);
  free(got);
  free(x);
  return s;
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
  bool passed = false;
  if (!status && args.compare_path) {
    status = compare_response(model, body, len, args.compare_path, &passed);
    free(body);
    tk_ref_model_free(model);
    if (status)
      return fail(status, tk_status_code_of(status) == TK_IO_ERROR ? EXIT_INPUT : EXIT_REQUEST);
    return passed ? EXIT_OK : EXIT_DIFFERS;
  }
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
