/* runtime/tools/tkserve.c — the HTTP sidecar: POST /infer, GET /healthz (FORMATS §4).
 *
 *   tkserve (--bundle DIR | --arch ARCH.json) --checkpoint FILE [--device D] [--threads N]
 *           [--bind HOST:PORT] [--max-body BYTES] [--workers N] [--timeout SECONDS]
 *
 * Order of events: bind (the address from --bind, else $TOKITAI_MODEL_BIND_ADDR, else
 * 127.0.0.1:9100; port 0 picks a free port) and print "tkserve: listening on HOST:PORT" on
 * stderr; start serving (503 until the model is loaded); open the model; print "tkserve:
 * ready ..."; serve until SIGINT or SIGTERM, then stop accepting, finish the requests in
 * flight, free everything and exit 0. SIGINT/SIGTERM are blocked in every thread and taken
 * with sigwait in main, so no handler runs inside libmicrohttpd or the runtime.
 * Exit codes: 0 clean shutdown, 1 cannot open the model or bind, 2 usage, 3 requested device
 * unavailable.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/tools/tkserve.h"
#include "tk/version.h"

#define DEFAULT_BIND "127.0.0.1:9100"

typedef struct tkserve_args {
  tool_model_args model;
  const char *bind;
  tkserve_config config;
} tkserve_args;

static void print_help(void) {
  printf("usage: tkserve (--bundle DIR | --arch ARCH.json) --checkpoint FILE [options]\n"
         "\n"
         "Serves the model over HTTP: POST /infer with {\"features\": ...} answers\n"
         "{\"logits\": ..., \"router_weights\": ...} (FORMATS.md §4); GET /healthz describes the\n"
         "model. Any Content-Type. 400 bad body, 404 unknown path, 405 wrong method, 413 body\n"
         "over the limit, 503 while the model is loading.\n"
         "\n"
         "%s"
         "  --bind HOST:PORT      listen address (default $TOKITAI_MODEL_BIND_ADDR, else\n"
         "                        " DEFAULT_BIND "); port 0 picks a free port, printed on stderr\n"
         "  --max-body BYTES      largest request body (default 16777216)\n"
         "  --workers N           HTTP worker threads (default 4)\n"
         "  --timeout SECONDS     idle connection timeout (default 30)\n"
         "  --help, --version\n"
         "\n"
         "Concurrency: one session behind a lock; each forward pass uses every --threads.\n"
         "Stops cleanly on SIGINT or SIGTERM.\n",
         tool_model_flags_help);
}

static int usage_error(const char *msg) {
  fprintf(stderr, "tkserve: %s (try 'tkserve --help')\n", msg);
  return TOOL_EXIT_USAGE;
}

static bool parse_count(const char *text, uintmax_t lo, uintmax_t hi, uintmax_t *out) {
  char *end;
  errno = 0;
  uintmax_t v = strtoumax(text, &end, 10);
  if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/* Takes a server flag at argv[*i]; false + message on a bad one. */
static bool server_flag(tkserve_args *a, int argc, char **argv, int *i, bool *taken, char *err,
                        size_t err_size) {
  static const struct { const char *name; uintmax_t lo, hi; } counts[] = {
    {"--max-body", 1, (uintmax_t)1 << 40}, {"--workers", 1, 256}, {"--timeout", 1, 86400},
  };
  const char *arg = argv[*i];
  *taken = true;
  if (!strcmp(arg, "--bind")) {
    if (*i + 1 >= argc) {
      snprintf(err, err_size, "--bind needs HOST:PORT");
      return false;
    }
    a->bind = argv[++*i];
    return true;
  }
  for (int k = 0; k < 3; k++) {
    if (strcmp(arg, counts[k].name)) continue;
    uintmax_t v;
    if (*i + 1 >= argc || !parse_count(argv[++*i], counts[k].lo, counts[k].hi, &v)) {
      snprintf(err, err_size, "%s needs an integer in [%ju, %ju]", arg, counts[k].lo, counts[k].hi);
      return false;
    }
    if (k == 0) a->config.max_body = (size_t)v;
    else if (k == 1) a->config.workers = (unsigned)v;
    else a->config.timeout_s = (unsigned)v;
    return true;
  }
  *taken = false;
  return true;
}

/* Parses argv; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, tkserve_args *a) {
  *a = (tkserve_args){.model = {.device = TK_DEVICE_AUTO},
                      .config = {.max_body = 16u << 20, .workers = 4, .timeout_s = 30,
                                 .max_connections = 512}};
  char err[256];
  for (int i = 1; i < argc; i++) {
    bool taken;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      print_help();
      return TOOL_EXIT_OK;
    }
    if (!strcmp(argv[i], "--version")) {
      printf("tkserve %s (LLVM %s)\n", TK_VERSION, TK_LLVM_VERSION);
      return TOOL_EXIT_OK;
    }
    if (!server_flag(a, argc, argv, &i, &taken, err, sizeof err)) return usage_error(err);
    if (taken) continue;
    tool_flag f = tool_model_flag(&a->model, argc, argv, &i, err, sizeof err);
    if (f == TOOL_FLAG_BAD) return usage_error(err);
    if (f == TOOL_FLAG_NOT_OURS) {
      snprintf(err, sizeof err, "unknown argument '%s'", argv[i]);
      return usage_error(err);
    }
  }
  if (!tool_model_args_complete(&a->model, err, sizeof err)) return usage_error(err);
  if (!a->bind) a->bind = getenv("TOKITAI_MODEL_BIND_ADDR");
  if (!a->bind || !*a->bind) a->bind = DEFAULT_BIND;
  return -1;
}

static int fail(tk_status s, int code) {
  fprintf(stderr, "tkserve: error: %s\n", tk_status_message(s));
  tk_status_free(s);
  return code;
}

/* Opens the model while the server answers 503, then publishes it. */
static tk_status load_model(tkserve_state *st, const tkserve_args *a) {
  TK_RETURN_IF_ERROR(tool_model_open(&a->model, &st->model));
  TK_RETURN_IF_ERROR(tkserve_healthz_build(st, &a->model));
  atomic_store_explicit(&st->ready, true, memory_order_release);
  fprintf(stderr, "tkserve: ready: %s on %s (%s)\n", st->model.bundle_dir,
          tk_session_backend(st->model.session), tk_session_device(st->model.session));
  return TK_STATUS_OK;
}

static int serve(const tkserve_args *a, const sigset_t *stop_signals) {
  tkserve_state st = {.config = a->config};
  atomic_init(&st.ready, false);
  pthread_mutex_init(&st.lock, NULL);
  int fd, code = TOOL_EXIT_OK;
  char name[300];
  struct MHD_Daemon *daemon = NULL;
  tk_status s = tkserve_bind(a->bind, &fd, name, sizeof name);
  if (s) return fail(s, TOOL_EXIT_OPEN);
  fprintf(stderr, "tkserve: listening on %s\n", name);
  s = tkserve_http_start(&st, fd, &daemon);
  if (s) {
    close(fd);
    code = fail(s, TOOL_EXIT_OPEN);
  } else if ((s = load_model(&st, a))) {
    code = fail(s, tool_model_exit_code(s));
  } else {
    int sig = 0;
    sigwait(stop_signals, &sig);
    fprintf(stderr, "tkserve: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  tkserve_http_stop(daemon); /* joins the workers: nothing uses the model after this */
  tool_model_close(&st.model);
  free(st.healthz);
  pthread_mutex_destroy(&st.lock);
  return code;
}

int main(int argc, char **argv) {
  tkserve_args a;
  int code = parse_args(argc, argv, &a);
  if (code >= 0) return code;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL); /* inherited by every thread started later */
  signal(SIGPIPE, SIG_IGN);
  return serve(&a, &stop);
}
