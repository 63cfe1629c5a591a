/* runtime/tools/tkserve.c — the HTTP sidecar: POST /infer, GET /healthz (docs/formats.md §4).
 *
 *   tkserve (--bundle DIR | --arch ARCH.json) --checkpoint FILE [--device D] [--threads N]
 *           [--bind HOST:PORT] [limits: see print_help]
 *
 * Order of events: bind (the address from --bind, else $TOKITAI_MODEL_BIND_ADDR, else
 * 127.0.0.1:9100; port 0 picks a free port) and print "tkserve: listening on HOST:PORT" on
 * stderr, with a warning when the address is not a loopback one; start serving (503 until the
 * model is loaded); open the model; print "tkserve: ready ..."; serve until SIGINT or SIGTERM.
 * Then drain: stop accepting (new handshakes are refused, the ones the kernel already completed
 * are accepted, then the listening socket is closed: tkserve_gate_quiesce), answer new requests
 * on open connections, and connections without a request yet, 503 + Connection: close, and
 * wait until every request under way has been answered and its response delivered, and every
 * 503 read by its client, or --shutdown-timeout has passed; then answer what is still queued
 * 503, close every connection, free everything and exit 0. SIGINT/SIGTERM are
 * blocked in every thread and taken with sigwait in main, so no handler runs inside
 * libmicrohttpd or the runtime.
 * Exit codes: 0 clean shutdown, 1 cannot open the model or bind, 2 usage, 3 requested device
 * unavailable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "runtime/tools/tkserve.h"
#include "tk/version.h"

#define DEFAULT_BIND "127.0.0.1:9100"

typedef struct tkserve_args {
  tool_model_args model;
  const char *bind;
  tkserve_config config;
} tkserve_args;

static void print_help(void) {
  printf(
      "usage: tkserve (--bundle DIR | --arch ARCH.json) --checkpoint FILE [options]\n"
      "\n"
      "Serves the model over HTTP: POST /infer with {\"features\": ...} answers\n"
      "{\"logits\": ..., \"router_weights\": ...} (docs/formats.md §4); GET /healthz describes the\n"
      "model. Any Content-Type. 400 bad body or ambiguous framing, 404 unknown path, 405 wrong\n"
      "method, 408 deadline passed, 413 body or rows over the limit, 503 (with Retry-After)\n"
      "while the model is loading, the queue or memory budget is full, or shutting down.\n"
      "\n"
      "%s"
      "  --bind HOST:PORT      listen address (default $TOKITAI_MODEL_BIND_ADDR, else\n"
      "                        " DEFAULT_BIND "); port 0 picks a free port, printed on stderr;\n"
      "                        a warning when it is not a loopback address\n"
      "  --workers N           HTTP worker threads (default 4)\n"
      "\n"
      "Limits (each enforced for every client; see docs/user-guide.md):\n"
      "  --max-body BYTES      largest request body (default 16777216)\n"
      "  --max-buffered BYTES  request bodies held at once, all connections together\n"
      "                        (default 268435456); beyond it 503\n"
      "  --max-rows N          rows per request (default 4096); beyond it 413\n"
      "  --max-queue N         requests waiting for or in the model (default 32); beyond\n"
      "                        it 503 + Retry-After\n"
      "  --max-connections N   open connections (default 512)\n"
      "  --max-conns-per-addr N  open connections from one client address (default 64);\n"
      "                        at a limit, the connection waiting longest for its\n"
      "                        headers is closed (408) to make room\n"
      "  --header-timeout SECONDS  request line and headers complete within this of the\n"
      "                        connection (or the previous response); not reset by bytes\n"
      "                        (default 10)\n"
      "  --body-timeout SECONDS  body complete within this of the headers, response\n"
      "                        delivered within this of being ready (default 60)\n"
      "  --timeout SECONDS     idle connection timeout (default 30)\n"
      "  --shutdown-timeout SECONDS  on SIGTERM/SIGINT, time to finish and deliver the\n"
      "                        requests under way (default 10)\n"
      "  --help, --version\n"
      "\n"
      "Concurrency: one model thread answers requests in arrival order; each forward pass\n"
      "uses every --threads. A malformed request line is answered 400 at once.\n"
      "\n"
      "Exit codes: 0 clean shutdown on SIGINT or SIGTERM, 1 cannot bind, start the server or\n"
      "open the model, 2 usage, 3 requested device unavailable.\n",
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

/* The numeric server flags: name, range, and the tkserve_config field. */
typedef struct count_flag {
  const char *name;
  uintmax_t lo, hi;
  size_t offset;
  bool is_size; /* size_t field, else unsigned */
} count_flag;

#define SIZE_FIELD(field) offsetof(tkserve_config, field), true
#define UINT_FIELD(field) offsetof(tkserve_config, field), false
static const count_flag count_flags[] = {
    {"--max-body", 1, (uintmax_t)1 << 40, SIZE_FIELD(max_body)},
    {"--max-buffered", 1, (uintmax_t)1 << 44, SIZE_FIELD(max_buffered)},
    {"--max-rows", 1, (uintmax_t)1 << 24, SIZE_FIELD(max_rows)},
    {"--workers", 1, 256, UINT_FIELD(workers)},
    {"--timeout", 1, 86400, UINT_FIELD(timeout_s)},
    {"--header-timeout", 1, 3600, UINT_FIELD(header_timeout_s)},
    {"--body-timeout", 1, 86400, UINT_FIELD(body_timeout_s)},
    {"--shutdown-timeout", 1, 3600, UINT_FIELD(shutdown_timeout_s)},
    {"--max-connections", 1, 65536, UINT_FIELD(max_connections)},
    {"--max-conns-per-addr", 1, 65536, UINT_FIELD(max_per_addr)},
    {"--max-queue", 1, 65536, UINT_FIELD(max_queue)},
};

/* Takes a server flag at argv[*i]; false + message on a bad one. */
static bool server_flag(tkserve_args *a, int argc, char **argv, int *i, bool *taken, char *err,
                        size_t err_size) {
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
  for (size_t k = 0; k < sizeof count_flags / sizeof count_flags[0]; k++) {
    const count_flag *f = &count_flags[k];
    if (strcmp(arg, f->name)) continue;
    uintmax_t v;
    if (*i + 1 >= argc || !parse_count(argv[++*i], f->lo, f->hi, &v)) {
      snprintf(err, err_size, "%s needs an integer in [%ju, %ju]", arg, f->lo, f->hi);
      return false;
    }
    char *field = (char *)&a->config + f->offset;
    if (f->is_size)
      *(size_t *)field = (size_t)v;
    else
      *(unsigned *)field = (unsigned)v;
    return true;
  }
  *taken = false;
  return true;
}

/* Parses argv; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, tkserve_args *a) {
  *a = (tkserve_args){.model = {.device = TK_DEVICE_AUTO},
                      .config = {.max_body = (size_t)16 << 20,
                                 .max_buffered = (size_t)256 << 20,
                                 .max_rows = 4096,
                                 .workers = 4,
                                 .timeout_s = 30,
                                 .header_timeout_s = 10,
                                 .body_timeout_s = 60,
                                 .shutdown_timeout_s = 10,
                                 .max_connections = 512,
                                 .max_per_addr = 64,
                                 .max_queue = 32}};
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
  if (a->config.max_buffered < a->config.max_body) /* else a largest body could never fit */
    return usage_error("--max-buffered must be at least --max-body");
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

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits (polling every 20 ms) until no request is under way or `until` has passed. */
static bool drained_by(tkserve_state *st, double until) {
  for (;;) {
    bool idle = !atomic_load(&st->in_flight) && !tkserve_gate_active(st->gate);
    if (idle) return true;
    if (seconds_now() >= until) return false;
    nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
  }
}

/* After SIGTERM/SIGINT: stop accepting, let the requests under way (and the gate's 503s) finish
 * and be delivered. */
static void drain(tkserve_state *st) {
  atomic_store(&st->draining, true);
  tkserve_gate_quiesce(st->gate);
  if (drained_by(st, seconds_now() + st->config.shutdown_timeout_s)) return;
  fprintf(stderr,
          "tkserve: %u requests still under way after --shutdown-timeout %u s; "
          "answering the queued ones 503 and closing\n",
          atomic_load(&st->in_flight), st->config.shutdown_timeout_s);
  tkserve_queue_close(st->queue);
  (void)drained_by(st, seconds_now() + 1.0); /* a second to deliver those 503s */
}

static int serve(const tkserve_args *a, const sigset_t *stop_signals) {
  tkserve_state st = {.config = a->config};
  atomic_init(&st.ready, false);
  atomic_init(&st.draining, false);
  atomic_init(&st.buffered, 0);
  atomic_init(&st.in_flight, 0);
  pthread_mutex_init(&st.lock, NULL);
  int fd, code = TOOL_EXIT_OK;
  char name[300];
  bool loopback;
  struct MHD_Daemon *daemon = NULL;
  tk_status s = tkserve_bind(a->bind, &fd, name, sizeof name, &loopback);
  if (s) return fail(s, TOOL_EXIT_OPEN);
  fprintf(stderr, "tkserve: listening on %s\n", name);
  if (!loopback)
    fprintf(stderr,
            "tkserve: warning: %s is not a loopback address: any machine that can reach "
            "it can use the model (tkserve has no authentication or TLS)\n",
            name);
  s = tkserve_http_start(&st, &daemon);
  if (!s)
    s = tkserve_gate_start(&st, fd, daemon); /* takes fd */
  else
    close(fd);
  if (s) {
    code = fail(s, TOOL_EXIT_OPEN);
  } else if ((s = load_model(&st, a))) {
    code = fail(s, tool_model_exit_code(s));
  } else {
    int sig = 0;
    sigwait(stop_signals, &sig);
    fprintf(stderr, "tkserve: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    drain(&st);
  }
  tkserve_gate_stop(st.gate);     /* no new connection reaches MHD from here on */
  tkserve_http_stop(&st, daemon); /* joins the model thread and the workers */
  tkserve_gate_destroy(st.gate);
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
#ifdef __GLIBC__
  /* Request bodies (up to --max-body) and the model's buffers are big: a fixed threshold keeps
   * them in their own mappings, returned to the system when freed, instead of letting glibc
   * raise it and keep freed bodies on the heaps of MHD's worker threads. */
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
  return serve(&a, &stop);
}
