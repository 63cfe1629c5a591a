/* runtime/tools/tkserve.h — tkserve's pieces: the shared server state (tkserve.c), the HTTP
 * side on libmicrohttpd (tkserve_http.c), and the listening socket (tkserve_bind.c).
 *
 * Concurrency: one session behind a mutex. The CPU session already spreads each forward pass
 * over every core with its own thread pool, so sessions per HTTP worker would multiply the
 * buffers without adding throughput; the lock also makes every answer the same bytes whatever
 * the number of concurrent requests (FORMATS §4). HTTP work (reading, parsing, formatting)
 * runs outside the lock on MHD's worker threads.
 */
#ifndef TK_TOOLS_TKSERVE_H
#define TK_TOOLS_TKSERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime/tools/tool_model.h"

typedef struct tkserve_config {
  size_t max_body;         /* bytes; larger bodies get 413 */
  unsigned workers;        /* MHD thread-pool size */
  unsigned timeout_s;      /* idle connection timeout (slow clients) */
  unsigned max_connections;
} tkserve_config;

typedef struct tkserve_state {
  tkserve_config config;
  atomic_bool ready;      /* set (release) once model and healthz are complete */
  pthread_mutex_t lock;   /* serialises tk_session_forward */
  tool_model model;
  char *healthz;          /* the /healthz body, built once the model is loaded */
} tkserve_state;

/* ---- tkserve_http.c ------------------------------------------------------------------------- */

struct MHD_Daemon;
/* Starts serving on listen_fd (already bound and listening) with MHD's thread pool. Requests
 * are answered 503 until st->ready. The daemon takes over listen_fd. */
TK_MUST_USE tk_status tkserve_http_start(tkserve_state *st, int listen_fd,
                                         struct MHD_Daemon **out);
void tkserve_http_stop(struct MHD_Daemon *daemon);
/* Builds st->healthz from the open model (FORMATS §4), given the paths the user named. */
TK_MUST_USE tk_status tkserve_healthz_build(tkserve_state *st, const tool_model_args *args);

/* ---- tkserve_bind.c ------------------------------------------------------------------------- */

/* Parses "HOST:PORT" (IPv4, [IPv6] or a name; port 0 = any free port), binds and listens.
 * *out_fd is the socket; out_name receives the bound "HOST:PORT" (the real port). */
TK_MUST_USE tk_status tkserve_bind(const char *address, int *out_fd, char *out_name,
                                   size_t name_size);

#endif
