/* runtime/tools/tool_model.c — the model flags of tkrun and tkserve, and opening the model:
 * bundle (or arch.json → cache), checkpoint validated against it, session on the device.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tools/tool_model.h"
#include "tk/wire.h"
#include "tk/alloc.h"

const char tool_model_flags_help[] =
    "  --bundle DIR          a bundle compiled by `tkc compile ARCH.json -o DIR`\n"
    "  --arch ARCH.json      or an arch: compiled for this CPU on first use into\n"
    "                        $XDG_CACHE_HOME/tkc (default ~/.cache/tkc), reused afterwards\n"
    "  --checkpoint FILE     checkpoint.tkp1, validated against the bundle before any launch;\n"
    "                        a Qwen3MoE bundle also takes a Hugging Face checkpoint\n"
    "                        (model.safetensors, its .index.json, or their directory)\n"
    "  --layer N             the decoder layer of a Hugging Face checkpoint (default 0)\n"
    "  --device D            auto (default: a GPU if one answers, else cpu), cpu, hip, cuda\n"
    "  --threads N           CPU worker threads (default: all online CPUs)\n"
    "  --cpu LEVEL           the bundle's CPU code to run on the cpu backend, a level it has\n"
    "                        (x86-64-v3, x86-64-v4; default: the best this CPU supports)\n"
    "  --allow-nonfinite     accept NaN/Inf weights in the checkpoint\n"
    "  --verbose             with --device auto, say why each GPU backend was passed over\n";

/* "--name value" or "--name=value": the value, advancing *i; NULL when argv[*i] is not it. */
static const char *flag_value(const char *name, int argc, char **argv, int *i, bool *missing) {
  size_t n = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, n)) return NULL;
  if (arg[n] == '=') return arg + n + 1;
  if (arg[n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  return argv[++*i];
}

static bool parse_layer(const char *text, int32_t *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < 0 || v > INT32_MAX) return false;
  *out = (int32_t)v;
  return true;
}

static bool parse_threads(const char *text, int *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < 1 || v > 1024) return false;
  *out = (int)v;
  return true;
}

tool_flag tool_model_flag(tool_model_args *a, int argc, char **argv, int *i, char *err,
                          size_t err_size) {
  const char *arg = argv[*i], *v;
  bool missing = false;
  if (!strcmp(arg, "--allow-nonfinite")) {
    a->allow_nonfinite = true;
    return TOOL_FLAG_TAKEN;
  }
  if (!strcmp(arg, "--verbose")) {
    a->verbose = true;
    return TOOL_FLAG_TAKEN;
  }
  if ((v = flag_value("--bundle", argc, argv, i, &missing))) {
    a->bundle_dir = v;
  } else if ((v = flag_value("--arch", argc, argv, i, &missing))) {
    a->arch_path = v;
  } else if ((v = flag_value("--checkpoint", argc, argv, i, &missing))) {
    a->checkpoint = v;
  } else if ((v = flag_value("--device", argc, argv, i, &missing))) {
    tk_status s = tk_device_parse(v, &a->device);
    if (s) {
      snprintf(err, err_size, "--device: %s", tk_status_message(s));
      tk_status_free(s);
      return TOOL_FLAG_BAD;
    }
  } else if ((v = flag_value("--cpu", argc, argv, i, &missing))) {
    a->cpu = v;
  } else if ((v = flag_value("--threads", argc, argv, i, &missing))) {
    if (!parse_threads(v, &a->threads)) {
      snprintf(err, err_size, "--threads: \"%s\" is not an integer in [1, 1024]", v);
      return TOOL_FLAG_BAD;
    }
  } else if ((v = flag_value("--layer", argc, argv, i, &missing))) {
    if (!parse_layer(v, &a->layer)) {
      snprintf(err, err_size, "--layer: \"%s\" is not an integer in [0, 2^31-1]", v);
      return TOOL_FLAG_BAD;
    }
  } else if (missing) {
    snprintf(err, err_size, "%s needs a value", arg);
    return TOOL_FLAG_BAD;
  } else {
    return TOOL_FLAG_NOT_OURS;
  }
  return TOOL_FLAG_TAKEN;
}

bool tool_model_args_complete(const tool_model_args *a, char *err, size_t err_size) {
  if (!a->bundle_dir == !a->arch_path) {
    snprintf(err, err_size, "give exactly one of --bundle DIR and --arch ARCH.json");
    return false;
  }
  if (!a->checkpoint) {
    snprintf(err, err_size, "--checkpoint FILE is required");
    return false;
  }
  return true;
}

static tk_status open_bundle(const tool_model_args *a, tool_model *m) {
  if (a->arch_path) return tool_cache_bundle(a->arch_path, false, &m->bundle_dir, &m->bundle);
  m->bundle_dir = tk_strdup(a->bundle_dir);
  if (!m->bundle_dir) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  return tk_bundle_open(a->bundle_dir, &m->bundle);
}

tk_status tool_model_open(const tool_model_args *a, tool_model *m) {
  *m = (tool_model){0};
  tk_weights_options wo = {.allow_nonfinite = a->allow_nonfinite};
  tk_session_options so;
  tk_session_options_default(&so);
  so.device = a->device;
  so.threads = a->threads;
  so.cpu = a->cpu;
  so.quiet = !a->verbose;
  tk_status s = open_bundle(a, m);
  if (!s) s = tk_weights_open_layer(m->bundle, a->checkpoint, a->layer, &wo, &m->weights);
  if (!s) s = tk_session_create(m->bundle, m->weights, &so, &m->session);
  if (s) tool_model_close(m);
  return s;
}

void tool_model_close(tool_model *m) {
  tk_session_free(m->session);
  tk_weights_close(m->weights);
  tk_bundle_close(m->bundle);
  free(m->bundle_dir);
  *m = (tool_model){0};
}

int tool_model_exit_code(tk_status status) {
  return tk_status_code_of(status) == TK_UNAVAILABLE ? TOOL_EXIT_DEVICE : TOOL_EXIT_OPEN;
}

tk_status tool_model_answer(tool_model *m, pthread_mutex_t *lock, const char *body, size_t len,
                            char **out_json) {
  *out_json = NULL;
  const tk_bundle_info *info = tk_bundle_get_info(m->bundle);
  size_t e = (size_t)info->n_experts, rows = 0, out_n, rw_n;
  float *x = NULL, *logits = NULL, *rw = NULL;
  TK_RETURN_IF_ERROR(tk_wire_parse_request(body, len, (size_t)info->in_dim, &x, &rows));
  tk_status s = TK_STATUS_OK;
  if (!tk_size_mul(rows, (size_t)info->out_dim, &out_n) || !tk_size_mul(rows, e, &rw_n) ||
      !(logits = tk_malloc(out_n * sizeof *logits + 1)) || !(rw = tk_malloc(rw_n * sizeof *rw + 1)))
    s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for %zu rows", rows);
  if (!s) {
    if (lock) pthread_mutex_lock(lock);
    s = tk_session_forward(m->session, x, (int64_t)rows, logits, e ? rw : NULL);
    if (lock) pthread_mutex_unlock(lock);
  }
  char *json = NULL;
  size_t json_len = 0;
  if (!s)
    s = tk_wire_format_response(logits, rows, (size_t)info->out_dim, e ? rw : NULL, e, &json,
                                &json_len);
  if (!s) { /* the response ends with one newline, the same bytes from tkrun and tkserve */
    char *grown = tk_realloc(json, json_len + 2);
    if (grown)
      memcpy(grown + json_len, "\n", 2);
    else
      free(json);
    json = grown;
    if (!json) s = tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for the response");
  }
  free(x);
  free(logits);
  free(rw);
  if (!s) *out_json = json;
  return s;
}
