/* runtime/tools/tkserve_http.c — tkserve's HTTP side on libmicrohttpd (docs/formats.md §4).
 *
 *   GET|HEAD /healthz   200 with the model description, 503 {"status": "loading"} before
 *   POST /infer         200 response | 400 {"error"} bad body | 413 over --max-body or
 *                       --max-rows | 503 + Retry-After: model not loaded, queue full
 *                       (--max-queue), budget spent (--max-buffered), shutting down |
 *                       500 a backend failure
 *   other path 404, other method 405 (with Allow). Any Content-Type is accepted: the body is
 *   taken raw (no MHD post processor).
 *
 * The access handler is called first with the headers only. Framing is checked there (RFC 9112
 * §6.1, §6.3: two different Content-Length values, Content-Length with Transfer-Encoding, a
 * transfer coding other than chunked, Transfer-Encoding in HTTP/1.0 — answered 400 or 501 and
 * the connection closed, so a proxy in front cannot disagree with tkserve about where the next
 * request starts); then routing, 404/405/503, a Content-Length over --max-body (413) and the
 * reservation of the whole Content-Length from --max-buffered (503 when it does not fit), all
 * before any body byte is read (with `Expect: 100-continue` the client then never sends it).
 * A full queue, or shutting down, is also decided there, but answered only after the body when
 * the client sends it unasked (see body_unannounced). Otherwise the body arrives in pieces; a chunked body that grows over the limit (or the budget)
 * is read to its end and dropped, and 413 (503) is queued only on the final call — never in the
 * middle of an upload. On the final call the body's shape is scanned (tkserve_body.c): more
 * rows than --max-rows, or more JSON values than --max-rows rows could hold, is 413 naming the
 * cap, before anything is parsed. Then the connection is suspended and its job queued
 * (tkserve_queue.c); the model thread resumes it with the answer. Bad bodies of every kind
 * become 400 through tk/wire.h. One access-log line per request goes to stderr from the
 * completion callback (one fprintf, so lines never mix), every client-given text escaped.
 *
 * MHD runs a thread pool (internal polling, epoll or poll as available) with no listening
 * socket: the gate (tkserve_gate.c) accepts and adds connections, and learns each one's phase
 * from here for its deadlines.
 */
#include <cJSON.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "runtime/tools/tkserve.h"
#include "tk/wire.h"
#include "tk/alloc.h"

enum { PATH_SHOWN = 160 };

typedef struct request {
  tkserve_state *st;
  void *slot; /* the gate's socket context */
  struct timespec t0;
  char method[48], path[PATH_SHOWN], client[64]; /* escaped for the log */
  unsigned status;                               /* 0 until a response is queued */
  size_t sent;                                   /* body bytes of the response */
  tkserve_take take; /* how taking the body went: over the limit or budget, drop the rest */
  bool queued;       /* suspended, the job with the model queue */
  unsigned deferred; /* 503 decided on the headers, answered after the body (see defer) */
  tkserve_body body;
  tkserve_job job;
} request;

/* ---- Log text ----------------------------------------------------------------------------- */

void tkserve_log_escape(char *dst, size_t size, const char *src, size_t len) {
  if (!size) return;
  size_t n = strlen(dst);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    char piece[5];
    if (c == '"' || c == '\\')
      snprintf(piece, sizeof piece, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      snprintf(piece, sizeof piece, "\\x%02x", c);
    else
      snprintf(piece, sizeof piece, "%c", c);
    size_t k = strlen(piece);
    if (n + k + 4 > size) { /* room for "..." and the NUL */
      if (n + 4 <= size) memcpy(dst + n, "...", 4);
      return;
    }
    memcpy(dst + n, piece, k + 1);
    n += k;
  }
}

static void escape_text(char *dst, size_t size, const char *src) {
  dst[0] = '\0';
  tkserve_log_escape(dst, size, src ? src : "", src ? strlen(src) : 0);
}

/* ---- Requests ----------------------------------------------------------------------------- */

static void release_body(tkserve_job *job) {
  request *r = (request *)((char *)job - offsetof(request, job));
  tkserve_body_free(r->st, &r->body);
}

static request *request_new(tkserve_state *st, struct MHD_Connection *c, const char *url,
                            const char *method) {
  request *r = tk_calloc(1, sizeof *r);
  if (!r) return NULL;
  r->st = st;
  clock_gettime(CLOCK_MONOTONIC, &r->t0);
  escape_text(r->method, sizeof r->method, method);
  escape_text(r->path, sizeof r->path, url);
  strcpy(r->client, "?");
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info && info->client_addr) {
    socklen_t len = info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                             : sizeof(struct sockaddr_in);
    getnameinfo(info->client_addr, len, r->client, sizeof r->client, NULL, 0, NI_NUMERICHOST);
  }
  info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  r->slot = info ? info->socket_context : NULL;
  r->job = (tkserve_job){.connection = c, .release = release_body};
  atomic_fetch_add(&st->in_flight, 1);
  return r;
}

static void request_free(request *r) {
  if (!r) return;
  tkserve_body_free(r->st, &r->body);
  free(r->job.answer);
  atomic_fetch_sub(&r->st->in_flight, 1);
  free(r);
}

/* ---- Responses ---------------------------------------------------------------------------- */

/* Extra response headers. */
typedef struct extra {
  const char *allow; /* Allow: (405) */
  bool retry;        /* Retry-After: 1 (503) */
  bool close;        /* Connection: close */
} extra;

static enum MHD_Result respond(struct MHD_Connection *c, request *r, unsigned status,
                               const char *body, size_t len, extra x) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  if (x.allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, x.allow);
  if (x.retry) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  if (x.close || atomic_load(&r->st->draining))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  r->status = status;
  r->sent = len;
  tkserve_gate_phase(r->st->gate, r->slot, TKSERVE_RESPOND);
  return ret;
}

/* {"error": "..."} followed by a newline. */
static enum MHD_Result respond_error(struct MHD_Connection *c, request *r, unsigned status, extra x,
                                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result respond_error(struct MHD_Connection *c, request *r, unsigned status, extra x,
                                     const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  char *json = NULL, line[1200];
  size_t len = 0;
  tk_status s = tk_wire_format_error(message, &json, &len);
  tk_status_free(s);
  int n = snprintf(line, sizeof line, "%s\n", json ? json : "{\"error\": \"out of memory\"}");
  free(json);
  return respond(c, r, status, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : 0, x);
}

static bool is_ready(const tkserve_state *st) {
  return atomic_load_explicit(&st->ready, memory_order_acquire);
}

/* ---- Framing (RFC 9112 §6) ---------------------------------------------------------------- */

typedef struct framing {
  unsigned n_length, n_coding;
  const char *length, *coding;
  bool lengths_differ;
} framing;

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
  (void)kind;
  framing *f = cls;
  if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
    if (f->n_length++ && strcmp(f->length, value)) f->lengths_differ = true;
    if (!f->length) f->length = value;
  } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
    f->n_coding++;
    f->coding = value;
  }
  return MHD_YES;
}

/* Answers a request whose body framing is ambiguous or unsupported (and closes the connection);
 * MHD_YES with nothing queued when the framing is sound. */
static enum MHD_Result check_framing(struct MHD_Connection *c, request *r, const char *version) {
  framing f = {0};
  MHD_get_connection_values(c, MHD_HEADER_KIND, framing_header, &f);
  const extra x = {.close = true};
  if (f.lengths_differ)
    return respond_error(c, r, MHD_HTTP_BAD_REQUEST, x,
                         "two different Content-Length headers (RFC 9112 section 6.3)");
  if (f.n_coding && f.n_length)
    return respond_error(c, r, MHD_HTTP_BAD_REQUEST, x,
                         "Content-Length together with Transfer-Encoding (RFC 9112 section 6.3)");
  if (f.n_coding && !strcmp(version, MHD_HTTP_VERSION_1_0))
    return respond_error(c, r, MHD_HTTP_BAD_REQUEST, x,
                         "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)");
  if (f.n_coding > 1 || (f.n_coding && strcasecmp(f.coding, "chunked")))
    return respond_error(c, r, MHD_HTTP_NOT_IMPLEMENTED, x,
                         "unsupported Transfer-Encoding (only a single \"chunked\" is accepted)");
  return MHD_YES;
}

/* ---- Routing ------------------------------------------------------------------------------ */

static enum MHD_Result on_healthz(struct MHD_Connection *c, request *r, const tkserve_state *st,
                                  const char *method) {
  if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
    return respond_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, (extra){.allow = "GET, HEAD"},
                         "method %s not allowed on /healthz (use GET)", r->method);
  if (!is_ready(st)) {
    static const char loading[] = "{\"status\": \"loading\"}\n";
    return respond(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, loading, sizeof loading - 1,
                   (extra){.retry = true});
  }
  return respond(c, r, MHD_HTTP_OK, st->healthz, strlen(st->healthz), (extra){0});
}

/* Whether a body follows the headers that the client sends without waiting for 100 Continue.
 * libmicrohttpd closes a connection answered before its body is read, and closing on unread
 * bytes resets it, which can destroy the answer at the client; such a 503 is therefore given
 * after the body has been read (and dropped), on a connection that stays usable. */
static bool body_unannounced(struct MHD_Connection *c) {
  const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
  if (expect && !strcasecmp(expect, "100-continue")) return false;
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
         (cl && strcmp(cl, "0"));
}

enum { DEFER_NONE, DEFER_BUSY, DEFER_DRAINING };

static enum MHD_Result queue_full(struct MHD_Connection *c, request *r) {
  return respond_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, (extra){.retry = true},
                       "the model is busy: %u requests are queued (--max-queue); retry later",
                       r->st->config.max_queue);
}

static enum MHD_Result shutting_down(struct MHD_Connection *c, request *r) {
  return respond_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, (extra){.retry = true, .close = true},
                       TKSERVE_SHUTTING_DOWN);
}

/* A 503 decided on the headers: now, or after the body when the client is sending it anyway. */
static enum MHD_Result defer(struct MHD_Connection *c, request *r, unsigned why) {
  if (body_unannounced(c)) {
    r->deferred = why;
    return MHD_YES;
  }
  return why == DEFER_BUSY ? queue_full(c, r) : shutting_down(c, r);
}

static enum MHD_Result no_budget(struct MHD_Connection *c, request *r) {
  return respond_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, (extra){.retry = true, .close = true},
                       "the server holds too much request data (--max-buffered %zu bytes); "
                       "retry later",
                       r->st->config.max_buffered);
}

/* The header-only first call of POST /infer: what can be decided before the body. */
static enum MHD_Result on_infer_headers(struct MHD_Connection *c, request *r, tkserve_state *st,
                                        const char *method) {
  if (strcmp(method, MHD_HTTP_METHOD_POST))
    return respond_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, (extra){.allow = "POST"},
                         "method %s not allowed on /infer (use POST)", r->method);
  if (!is_ready(st))
    return respond_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, (extra){.retry = true},
                         "the model is not loaded yet");
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  uintmax_t n = 0;
  if (cl) { /* docs/formats.md §4: 413 decided from Content-Length before reading */
    char *end;
    n = strtoumax(cl, &end, 10);
    if (end == cl || n > st->config.max_body)
      return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, (extra){0},
                           "request body of %ju bytes is over the limit of %zu bytes (--max-body)",
                           n, st->config.max_body);
  }
  if (tkserve_queue_full(st->queue)) return defer(c, r, DEFER_BUSY);
  if (cl && tkserve_body_reserve(st, &r->body, (size_t)n) != TKSERVE_TAKE_OK)
    return no_budget(c, r);
  return MHD_YES; /* read the body */
}

/* The final call of POST /infer, the whole body read: checks, then to the model queue. */
static enum MHD_Result on_infer_body(struct MHD_Connection *c, request *r, tkserve_state *st) {
  if (r->deferred == DEFER_BUSY) return queue_full(c, r);
  if (r->take == TKSERVE_TAKE_TOO_LARGE)
    return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, (extra){0},
                         "request body is over the limit of %zu bytes (--max-body)",
                         st->config.max_body);
  if (r->take == TKSERVE_TAKE_NO_BUDGET) return no_budget(c, r);
  const tk_bundle_info *info = tk_bundle_get_info(st->model.bundle);
  tkserve_shape shape = tkserve_body_shape(r->body.data, r->body.len);
  size_t max_rows = st->config.max_rows;
  if (shape.rows > max_rows)
    return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, (extra){0},
                         "request has %zu rows, over the limit of %zu rows per request "
                         "(--max-rows)",
                         shape.rows, max_rows);
  /* a request of max_rows rows: per row its array, in_dim numbers, one comma between rows
   * (each counted once more by the scan); plus the object, "features" and its array */
  size_t most_values = (max_rows + 1) * ((size_t)info->in_dim + 2) + 8;
  if (shape.values > most_values)
    return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, (extra){0},
                         "request holds %zu JSON values, more than %zu rows of %d features "
                         "(--max-rows) can",
                         shape.values, max_rows, info->in_dim);
  if (!tkserve_queue_reserve(st->queue)) return queue_full(c, r);
  r->queued = true;
  r->job.body = r->body.data;
  r->job.len = r->body.len;
  tkserve_gate_phase(st->gate, r->slot, TKSERVE_BUSY);
  MHD_suspend_connection(c);
  tkserve_queue_push(st->queue, &r->job);
  return MHD_YES;
}

/* The call after the model thread resumed the connection: the answer. */
static enum MHD_Result on_infer_answer(struct MHD_Connection *c, request *r) {
  r->queued = false;
  if (!r->job.answer)
    return respond_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, (extra){0},
                         "out of memory for the answer");
  return respond(c, r, r->job.status, r->job.answer, strlen(r->job.answer), (extra){0});
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
  tkserve_state *st = cls;
  request *r = *con_cls;
  if (!r) { /* first call: headers only */
    if (!(r = request_new(st, c, url, method))) return MHD_NO;
    *con_cls = r;
    tkserve_gate_phase(st->gate, r->slot, TKSERVE_BODY);
    enum MHD_Result framed = check_framing(c, r, version);
    if (framed != MHD_YES || r->status) return framed;
    if (atomic_load(&st->draining)) return defer(c, r, DEFER_DRAINING);
    if (!strcmp(url, "/healthz")) return on_healthz(c, r, st, method);
    if (!strcmp(url, "/infer")) return on_infer_headers(c, r, st, method);
    return respond_error(c, r, MHD_HTTP_NOT_FOUND, (extra){0},
                         "no such path %s (try POST /infer, GET /healthz)", r->path);
  }
  if (r->status) { /* answered from the headers; MHD drops whatever body follows */
    *upload_size = 0;
    return MHD_YES;
  }
  if (r->queued) return on_infer_answer(c, r);
  if (r->deferred == DEFER_DRAINING && !*upload_size) return shutting_down(c, r);
  if (*upload_size) {
    if (r->deferred) { /* read to the end and dropped; the 503 follows */
      *upload_size = 0;
      return MHD_YES;
    }
    if (r->take == TKSERVE_TAKE_OK)
      r->take = tkserve_body_take(st, &r->body, upload_data, *upload_size);
    if (r->take != TKSERVE_TAKE_OK) tkserve_body_free(st, &r->body); /* drop the rest */
    *upload_size = 0;
    return MHD_YES;
  }
  return on_infer_body(c, r, st);
}

/* ---- Access log, daemon ------------------------------------------------------------------- */

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
  (void)c;
  tkserve_state *st = cls;
  request *r = *con_cls;
  if (!r) return;
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
  char status[12] = "-";
  if (r->status) snprintf(status, sizeof status, "%u", r->status);
  fprintf(stderr, "tkserve: %s \"%s %s\" %s %zu %.1fms%s\n", r->client, r->method, r->path, status,
          r->sent, ms, why == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
  tkserve_gate_phase(st->gate, r->slot, TKSERVE_HEADERS); /* kept alive: the next request's */
  request_free(r);
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  tkserve_gate_notify(cls, c, socket_context, toe == MHD_CONNECTION_NOTIFY_STARTED);
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  fprintf(stderr, "tkserve: http: %s\n", line);
}

tk_status tkserve_http_start(tkserve_state *st, struct MHD_Daemon **out) {
  const tkserve_config *cfg = &st->config;
  *out = NULL;
  TK_RETURN_IF_ERROR(tkserve_queue_start(st, &st->queue));
  *out = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET |
          MHD_ALLOW_SUSPEND_RESUME,
      0, NULL, NULL, on_request, st, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->workers, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)cfg->timeout_s,
      /* a backstop only: the gate enforces the limits, and an evicted connection stays in
       * MHD until it has been closed */
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections * 2,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, st, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
      st, MHD_OPTION_END);
  if (!*out) {
    tkserve_queue_stop(st->queue);
    st->queue = NULL;
    return tk_status_make(TK_INTERNAL, "libmicrohttpd could not start the server");
  }
  return TK_STATUS_OK;
}

void tkserve_http_stop(tkserve_state *st, struct MHD_Daemon *daemon) {
  tkserve_queue_stop(st->queue); /* resumes every suspended connection */
  st->queue = NULL;
  if (daemon) MHD_stop_daemon(daemon);
}

/* ---- /healthz ----------------------------------------------------------------------------- */

static void add_path(cJSON *o, const char *key, const char *path) {
  cJSON_AddItemToObject(o, key, path ? cJSON_CreateString(path) : cJSON_CreateNull());
}

tk_status tkserve_healthz_build(tkserve_state *st, const tool_model_args *args) {
  const tool_model *m = &st->model;
  const tk_bundle_info *info = tk_bundle_get_info(m->bundle);
  cJSON *o = cJSON_CreateObject();
  if (o) {
    cJSON_AddStringToObject(o, "status", "ok");
    add_path(o, "arch", args->arch_path);
    add_path(o, "bundle", m->bundle_dir);
    add_path(o, "checkpoint", args->checkpoint);
    cJSON_AddNumberToObject(o, "in_dim", info->in_dim);
    cJSON_AddNumberToObject(o, "out_dim", info->out_dim);
    cJSON_AddNumberToObject(o, "n_experts", info->n_experts);
    cJSON_AddStringToObject(o, "fingerprint", info->fingerprint);
    cJSON_AddStringToObject(o, "device", tk_session_backend(m->session));
    cJSON_AddStringToObject(o, "device_detail", tk_session_device(m->session));
  }
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  size_t n = text ? strlen(text) : 0;
  st->healthz = text ? tk_malloc(n + 2) : NULL;
  if (st->healthz) snprintf(st->healthz, n + 2, "%s\n", text);
  cJSON_free(text);
  return st->healthz ? TK_STATUS_OK
                     : tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for /healthz");
}
