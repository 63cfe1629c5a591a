/* runtime/tools/tkserve.h — tkserve's pieces: the shared server state and main (tkserve.c), the
 * HTTP side on libmicrohttpd (tkserve_http.c), the connection gate that accepts, limits and
 * times out connections (tkserve_gate.c), the model queue (tkserve_queue.c), request bodies
 * under a global memory budget (tkserve_body.c), and the listening socket (tkserve_bind.c).
 *
 * Concurrency: one session, driven by one model thread that takes requests from a bounded FIFO.
 * The CPU session already spreads each forward pass over every core with its own thread pool,
 * so sessions per HTTP worker would multiply the buffers without adding throughput; one thread
 * also makes every answer the same bytes whatever the number of concurrent requests (FORMATS
 * §4). HTTP work (reading, framing checks, routing, the row count) runs on MHD's worker
 * threads, which never wait for the model: a request waiting for it is a suspended MHD
 * connection, so /healthz is answered while the model is busy.
 *
 * Where each limit lives: the gate (tkserve_gate.c) owns the listening socket and enforces the
 * connection limits, the request-line check and the header/body/response deadlines; the HTTP
 * side enforces framing (RFC 9112 §6.3), --max-body and --max-rows; tkserve_body.c the
 * --max-buffered budget; tkserve_queue.c --max-queue; tkserve.c the shutdown deadline.
 */
#ifndef TK_TOOLS_TKSERVE_H
#define TK_TOOLS_TKSERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "runtime/tools/tool_model.h"

typedef struct tkserve_config {
  size_t max_body;             /* bytes; larger bodies get 413 */
  size_t max_buffered;         /* bytes of request bodies held at once, all connections */
  size_t max_rows;             /* rows per request; more get 413 */
  unsigned workers;            /* MHD thread-pool size */
  unsigned timeout_s;          /* idle timeout (no byte either way) */
  unsigned header_timeout_s;   /* total: accept (or previous response) to the end of headers */
  unsigned body_timeout_s;     /* total: end of headers to the last body byte; and to deliver */
  unsigned shutdown_timeout_s; /* SIGTERM/SIGINT: finish and deliver in-flight requests */
  unsigned max_connections;    /* all connections */
  unsigned max_per_addr;       /* connections from one client address */
  unsigned max_queue;          /* requests waiting for or in the model; more get 503 */
} tkserve_config;

typedef struct tkserve_gate tkserve_gate;

/* The error of every 503 given because of SIGTERM/SIGINT. */
#define TKSERVE_SHUTTING_DOWN "the server is shutting down"

typedef struct tkserve_queue tkserve_queue;

typedef struct tkserve_state {
  tkserve_config config;
  atomic_bool ready;      /* set (release) once model and healthz are complete */
  atomic_bool draining;   /* set on SIGTERM/SIGINT: new requests get 503 + Connection: close */
  atomic_size_t buffered; /* bytes of the --max-buffered budget in use (tkserve_body.c) */
  atomic_uint in_flight;  /* requests seen (headers) and not yet completed (delivered) */
  pthread_mutex_t lock;   /* serialises tk_session_forward (the model thread holds it) */
  tool_model model;
  char *healthz; /* the /healthz body, built once the model is loaded */
  tkserve_gate *gate;
  tkserve_queue *queue;
} tkserve_state;

/* ---- tkserve_http.c ------------------------------------------------------------------------- */

struct MHD_Daemon;
struct MHD_Connection;
/* Starts MHD's thread pool with no listening socket of its own (the gate hands it connections)
 * and the model queue. Requests are answered 503 until st->ready. */
TK_MUST_USE tk_status tkserve_http_start(tkserve_state *st, struct MHD_Daemon **out);
/* Stops the queue (answering what is left 503) and the daemon (closing every connection). */
void tkserve_http_stop(tkserve_state *st, struct MHD_Daemon *daemon);
/* Builds st->healthz from the open model (docs/formats.md §4), given the paths the user named. */
TK_MUST_USE tk_status tkserve_healthz_build(tkserve_state *st, const tool_model_args *args);
/* Appends `src` to dst (NUL-terminated, at most size bytes in all) for a log line: `"`, `\`
 * and every byte outside printable ASCII become \", \\ and \xHH; text that does not fit ends
 * in "...". */
void tkserve_log_escape(char *dst, size_t size, const char *src, size_t len);

/* ---- tkserve_gate.c ------------------------------------------------------------------------- */

/* The phase of a connection, for its deadline. */
typedef enum tkserve_phase {
  TKSERVE_HEADERS, /* until the headers are complete: --header-timeout from the phase start */
  TKSERVE_BODY,    /* reading the body: --body-timeout from the end of the headers */
  TKSERVE_BUSY,    /* queued or in the model: no deadline (--max-queue, --max-rows bound it) */
  TKSERVE_RESPOND, /* delivering the response: --body-timeout from when it was queued */
} tkserve_phase;

/* Creates the gate over listen_fd (bound and listening) as st->gate (set before its thread
 * starts, never written again until tkserve_gate_destroy) and starts the thread, which accepts
 * and hands connections with a well-formed request line to `daemon`. Takes listen_fd (closed
 * on failure too, with st->gate left NULL). */
TK_MUST_USE tk_status tkserve_gate_start(tkserve_state *st, int listen_fd,
                                         struct MHD_Daemon *daemon);
/* Stops accepting: new handshakes are refused, the connections the kernel has already
 * completed are accepted, then the listening socket is closed; every connection still in the
 * gate is answered 503 TKSERVE_SHUTTING_DOWN and read until its client closes it (a few
 * seconds at most). Returns once the socket is closed; deadlines keep being enforced. */
void tkserve_gate_quiesce(tkserve_gate *g);
/* Connections with a request or an answer under way: in MHD and not idle between requests, or
 * still in the gate (after tkserve_gate_quiesce, answered 503 and not yet closed). */
unsigned tkserve_gate_active(tkserve_gate *g);
/* Stops the thread (no accept, no MHD_add_connection, no deadline after it returns) and
 * closes what the gate still owns; the slots stay valid for MHD's close notifications. Call
 * before stopping MHD. Accepts NULL; a second call does nothing. */
void tkserve_gate_stop(tkserve_gate *g);
/* Stops the gate if still running and frees it; call after MHD_stop_daemon. Accepts NULL. */
void tkserve_gate_destroy(tkserve_gate *g);
/* MHD_OPTION_NOTIFY_CONNECTION: links an MHD connection to its gate slot, and frees the slot
 * when MHD closes it. */
void tkserve_gate_notify(void *cls, struct MHD_Connection *c, void **socket_context, int started);
/* Moves the connection (its socket_context from tkserve_gate_notify) to a phase, restarting
 * the phase's deadline. */
void tkserve_gate_phase(tkserve_gate *g, void *socket_context, tkserve_phase phase);

/* ---- tkserve_queue.c ------------------------------------------------------------------------ */

/* One request handed to the model thread. The HTTP side owns it; the queue fills `answer`,
 * `status` and `failure`, then resumes `connection`. */
typedef struct tkserve_job {
  struct MHD_Connection *connection;
  const char *body;
  size_t len;
  char *answer;    /* malloc'd response body (a response or {"error"}), set by the queue */
  unsigned status; /* its HTTP status */
  void (*release)(struct tkserve_job *job); /* called by the queue once the body is read */
  struct tkserve_job *next;
} tkserve_job;

TK_MUST_USE tk_status tkserve_queue_start(tkserve_state *st, tkserve_queue **out);
/* Takes a place in the queue unless --max-queue requests are already waiting or running
 * (false: answer 503). A place taken must be filled by tkserve_queue_push. */
bool tkserve_queue_reserve(tkserve_queue *q);
/* Fills a reserved place; the caller must have suspended job->connection first. */
void tkserve_queue_push(tkserve_queue *q, tkserve_job *job);
/* True when a reservation would be refused now (for the early check on the headers). */
bool tkserve_queue_full(tkserve_queue *q);
/* From now on refuses new requests and answers the waiting ones 503 "shutting down" (the one
 * in progress finishes). Accepts NULL. */
void tkserve_queue_close(tkserve_queue *q);
/* Closes the queue, waits until every job taken has been answered, joins the thread and frees
 * the queue. Accepts NULL. */
void tkserve_queue_stop(tkserve_queue *q);

/* ---- tkserve_body.c ------------------------------------------------------------------------- */

/* A request body under the --max-buffered budget: every byte of capacity is reserved from
 * st->buffered before it is allocated and given back when the body is freed. */
typedef struct tkserve_body {
  char *data;
  size_t len, cap, reserved;
} tkserve_body;

typedef enum tkserve_take {
  TKSERVE_TAKE_OK,
  TKSERVE_TAKE_TOO_LARGE, /* over --max-body */
  TKSERVE_TAKE_NO_BUDGET, /* the budget (or malloc) cannot hold it now */
} tkserve_take;

/* Reserves `n` bytes up front (a Content-Length), so the body is never grown or copied. */
tkserve_take tkserve_body_reserve(tkserve_state *st, tkserve_body *b, size_t n);
/* Appends a piece, growing the buffer (and its reservation) as needed. */
tkserve_take tkserve_body_take(tkserve_state *st, tkserve_body *b, const char *data, size_t n);
/* Frees the buffer and returns its reservation. */
void tkserve_body_free(tkserve_state *st, tkserve_body *b);

/* What a linear scan of a request body finds, without allocating: the rows of a batch and an
 * upper bound on the JSON values cJSON would allocate for it. */
typedef struct tkserve_shape {
  size_t rows;   /* arrays opened at depth 3 ({"features": [[...], ...]}), or 1 */
  size_t values; /* every array, object, string, number and literal, at most */
} tkserve_shape;
tkserve_shape tkserve_body_shape(const char *body, size_t len);

/* ---- tkserve_bind.c ------------------------------------------------------------------------- */

/* Parses "HOST:PORT" (IPv4, [IPv6] or a name; port 0 = any free port), binds and listens.
 * *out_fd is the socket; out_name receives the bound "HOST:PORT" (the real port);
 * *out_loopback says whether the bound address is a loopback one. */
TK_MUST_USE tk_status tkserve_bind(const char *address, int *out_fd, char *out_name,
                                   size_t name_size, bool *out_loopback);

#endif
