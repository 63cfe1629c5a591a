/* runtime/tools/tkserve_http.c — tkserve's HTTP side on libmicrohttpd (FORMATS §4).
 *
 *   GET|HEAD /healthz   200 with the model description, 503 {"status": "loading"} before
 *   POST /infer         200 response | 400 {"error"} bad body | 413 over --max-body |
 *                       503 model not loaded | 500 a backend failure
 *   other path 404, other method 405 (with Allow). Any Content-Type is accepted: the body is
 *   taken raw (no MHD post processor).
 *
 * The access handler is called first with the headers only: routing, 404/405/503 and a
 * Content-Length over the limit are answered right there, before any body byte is read (with
 * `Expect: 100-continue` the client then never sends it). Otherwise the body arrives in
 * pieces; a body without Content-Length (chunked) that grows over the limit is read to its
 * end and dropped, and 413 is queued only on the final call — never in the middle of an
 * upload. Bad bodies of every kind become 400 through tk/wire.h. One access-log line per
 * request goes to stderr from the completion callback (one fprintf, so lines never mix).
 *
 * MHD runs a thread pool (internal polling, epoll or poll as available); connection idle
 * timeout and a connection limit bound slow or numerous clients.
 */
#include <cJSON.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/tools/tkserve.h"
#include "tk/wire.h"
#include "tk/alloc.h"

enum { PATH_SHOWN = 120 };

typedef struct request {
  struct timespec t0;
  char method[16], path[PATH_SHOWN + 4], client[64];
  unsigned status;   /* 0 until a response is queued */
  size_t sent;       /* body bytes of the response */
  bool too_large;    /* the body went over the limit: discard the rest, then 413 */
  char *body;
  size_t len, cap;
} request;

/* ---- Requests ----------------------------------------------------------------------------- */

/* Copies text for the log: printable ASCII kept, anything else as '?', long text cut. */
static void copy_printable(char *dst, size_t size, const char *src) {
  size_t n = 0, len = src ? strlen(src) : 0;
  for (; n < len && n + 1 < size; n++) dst[n] = (src[n] >= 0x20 && src[n] < 0x7f) ? src[n] : '?';
  dst[n] = '\0';
  if (n < len && size >= 4) memcpy(dst + size - 4, "...", 4);
}

static request *request_new(struct MHD_Connection *c, const char *url, const char *method) {
  request *r = tk_calloc(1, sizeof *r);
  if (!r) return NULL;
  clock_gettime(CLOCK_MONOTONIC, &r->t0);
  copy_printable(r->method, sizeof r->method, method);
  copy_printable(r->path, sizeof r->path, url);
  strcpy(r->client, "?");
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info && info->client_addr) {
    socklen_t len = info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                             : sizeof(struct sockaddr_in);
    getnameinfo(info->client_addr, len, r->client, sizeof r->client, NULL, 0, NI_NUMERICHOST);
  }
  return r;
}

static void request_free(request *r) {
  if (!r) return;
  free(r->body);
  free(r);
}

/* Appends a piece of the body; past the limit, drops everything and remembers it. */
static void request_take(request *r, const char *data, size_t size, size_t limit) {
  if (r->too_large) return;
  if (size > limit - r->len) {
    r->too_large = true;
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    return;
  }
  if (r->len + size > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + size) cap *= 2;
    char *grown = tk_realloc(r->body, cap);
    if (!grown) { /* treat as over the limit: the client gets 413, the server lives on */
      r->too_large = true;
      return;
    }
    r->body = grown;
    r->cap = cap;
  }
  memcpy(r->body + r->len, data, size);
  r->len += size;
}

/* ---- Responses ---------------------------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *c, request *r, unsigned status,
                               const char *body, size_t len, const char *allow) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
  enum MHD_Result ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  r->status = status;
  r->sent = len;
  return ret;
}

/* {"error": "..."} followed by a newline. */
static enum MHD_Result respond_error(struct MHD_Connection *c, request *r, unsigned status,
                                     const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static enum MHD_Result respond_error(struct MHD_Connection *c, request *r, unsigned status,
                                     const char *allow, const char *fmt, ...) {
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
  return respond(c, r, status, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : 0, allow);
}

static bool is_ready(const tkserve_state *st) {
  return atomic_load_explicit(&st->ready, memory_order_acquire);
}

/* ---- Routing ------------------------------------------------------------------------------ */

static enum MHD_Result on_healthz(struct MHD_Connection *c, request *r, const tkserve_state *st,
                                  const char *method) {
  if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
    return respond_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
                         "method %s not allowed on /healthz (use GET)", r->method);
  if (!is_ready(st)) {
    static const char loading[] = "{\"status\": \"loading\"}\n";
    return respond(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, loading, sizeof loading - 1, NULL);
  }
  return respond(c, r, MHD_HTTP_OK, st->healthz, strlen(st->healthz), NULL);
}

/* The header-only first call of POST /infer: what can be decided before the body. */
static enum MHD_Result on_infer_headers(struct MHD_Connection *c, request *r,
                                        const tkserve_state *st, const char *method) {
  if (strcmp(method, MHD_HTTP_METHOD_POST))
    return respond_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
                         "method %s not allowed on /infer (use POST)", r->method);
  if (!is_ready(st))
    return respond_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "the model is not loaded yet");
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl) { /* FORMATS §4: 413 decided from Content-Length before reading */
    char *end;
    uintmax_t n = strtoumax(cl, &end, 10);
    if (end != cl && n > st->config.max_body)
      return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                           "request body of %ju bytes is over the limit of %zu bytes", n,
                           st->config.max_body);
  }
  return MHD_YES; /* read the body */
}

/* The final call of POST /infer, the whole body read. */
static enum MHD_Result on_infer_body(struct MHD_Connection *c, request *r, tkserve_state *st) {
  if (r->too_large)
    return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                         "request body is over the limit of %zu bytes", st->config.max_body);
  char *json = NULL;
  tk_status s = tool_model_answer(&st->model, &st->lock, r->body, r->len, &json);
  if (s) {
    unsigned status = tk_status_code_of(s) == TK_INVALID_ARGUMENT
                          ? MHD_HTTP_BAD_REQUEST
                          : MHD_HTTP_INTERNAL_SERVER_ERROR;
    enum MHD_Result ret = respond_error(c, r, status, NULL, "%s", tk_status_message(s));
    tk_status_free(s);
    return ret;
  }
  enum MHD_Result ret = respond(c, r, MHD_HTTP_OK, json, strlen(json), NULL);
  free(json);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls) {
  (void)version;
  tkserve_state *st = cls;
  request *r = *con_cls;
  if (!r) { /* first call: headers only */
    if (!(r = request_new(c, url, method))) return MHD_NO;
    *con_cls = r;
    if (!strcmp(url, "/healthz")) return on_healthz(c, r, st, method);
    if (!strcmp(url, "/infer")) return on_infer_headers(c, r, st, method);
    return respond_error(c, r, MHD_HTTP_NOT_FOUND, NULL, "no such path %s (try POST /infer, "
                         "GET /healthz)", r->path);
  }
  if (r->status) { /* answered from the headers; MHD drops whatever body follows */
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size) {
    request_take(r, upload_data, *upload_size, st->config.max_body);
    *upload_size = 0;
    return MHD_YES;
  }
  return on_infer_body(c, r, st);
}

/* ---- Access log, daemon ------------------------------------------------------------------- */

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
  (void)cls;
  (void)c;
  request *r = *con_cls;
  if (!r) return;
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
  char status[12] = "-";
  if (r->status) snprintf(status, sizeof status, "%u", r->status);
  fprintf(stderr, "tkserve: %s \"%s %s\" %s %zu %.1fms%s\n", r->client, r->method, r->path,
          status, r->sent, ms, why == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
  request_free(r);
  *con_cls = NULL;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  fprintf(stderr, "tkserve: http: %s\n", line);
}

tk_status tkserve_http_start(tkserve_state *st, int listen_fd, struct MHD_Daemon **out) {
  const tkserve_config *cfg = &st->config;
  *out = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, st,
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->workers,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->timeout_s,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, st,
      MHD_OPTION_END);
  if (!*out) return tk_status_make(TK_INTERNAL, "libmicrohttpd could not start the server");
  return TK_STATUS_OK;
}

void tkserve_http_stop(struct MHD_Daemon *daemon) {
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
