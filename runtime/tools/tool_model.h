/* runtime/tools/tool_model.h — what tkrun and tkserve share: the model flags, opening a
 * bundle (or compiling an arch.json into the cache) + checkpoint + session, and the exit code
 * an error maps to (docs/formats.md §4).
 *
 * Model flags (both tools): --bundle DIR | --arch ARCH.json, --checkpoint FILE,
 * --device auto|cpu|hip|cuda, --threads N, --cpu LEVEL, --allow-nonfinite, --verbose; `--flag=value` also
 * works.
 */
#ifndef TK_TOOLS_TOOL_MODEL_H
#define TK_TOOLS_TOOL_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "tk/runtime.h"

/* docs/formats.md §4, tkrun's exit codes (tkserve uses the same ones when it cannot start). */
enum { TOOL_EXIT_OK = 0, TOOL_EXIT_OPEN = 1, TOOL_EXIT_USAGE = 2, TOOL_EXIT_DEVICE = 3 };

typedef struct tool_model_args {
  const char *bundle_dir, *arch_path, *checkpoint;
  tk_device device;
  int threads;     /* 0 = all online CPUs */
  const char *cpu; /* --cpu: the bundle's CPU level to run (NULL = the best this CPU supports) */
  bool allow_nonfinite;
  int32_t layer; /* --layer: a Hugging Face checkpoint's decoder layer */
  bool verbose;  /* libtkrt's line on why --device auto passed each GPU backend over */
} tool_model_args;

typedef enum tool_flag { TOOL_FLAG_NOT_OURS, TOOL_FLAG_TAKEN, TOOL_FLAG_BAD } tool_flag;

/* Takes argv[*i] when it is a model flag (advancing *i past its value); on TOOL_FLAG_BAD a
 * one-line message is in err. */
tool_flag tool_model_flag(tool_model_args *a, int argc, char **argv, int *i, char *err,
                          size_t err_size);
/* After parsing: exactly one of --bundle/--arch, and --checkpoint. False + message if not. */
bool tool_model_args_complete(const tool_model_args *a, char *err, size_t err_size);
/* The help lines for the model flags. */
extern const char tool_model_flags_help[];

typedef struct tool_model {
  char *bundle_dir; /* the bundle opened: --bundle, or the cache entry for --arch */
  tk_bundle *bundle;
  tk_weights *weights;
  tk_session *session;
} tool_model;

/* Opens everything (compiling --arch into the cache first). On error *m is left empty. */
TK_MUST_USE tk_status tool_model_open(const tool_model_args *a, tool_model *m);
void tool_model_close(tool_model *m);

/* One request (docs/formats.md §4) → the response text plus one newline (malloc'd). The forward
 * pass holds `lock` when it is not NULL. TK_INVALID_ARGUMENT for a bad request. */
TK_MUST_USE tk_status tool_model_answer(tool_model *m, pthread_mutex_t *lock, const char *body,
                                        size_t len, char **out_json);

/* The exit code for a failure of tool_model_open: 3 when the device is unavailable
 * (TK_UNAVAILABLE), else 1. */
int tool_model_exit_code(tk_status status);

/* ---- runtime/tools/model_cache.c ---------------------------------------------------------- */

/* `tkrun --arch`: the bundle for arch_path compiled for this CPU, from the cache
 * ($XDG_CACHE_HOME/tkc, else ~/.cache/tkc) keyed by fingerprint, tkc version, target and
 * compile options; compiled by running the installed `tkc compile` (which writes the entry
 * atomically) when absent or unusable. *out_dir is malloc'd, *out_bundle open. One line on
 * stderr when it compiles (unless quiet). */
TK_MUST_USE tk_status tool_cache_bundle(const char *arch_path, bool quiet, char **out_dir,
                                        tk_bundle **out_bundle);

#endif
