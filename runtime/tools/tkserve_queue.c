/* runtime/tools/tkserve_queue.c — the model queue: one thread answers requests in arrival order.
 *
 * The HTTP side suspends a connection whose body is complete and pushes its job; the model
 * thread parses the body, runs the forward pass and formats the answer (tool_model_answer),
 * releases the body (and its share of the --max-buffered budget), then resumes the connection,
 * whose next access-handler call queues the answer. MHD's workers therefore never wait for the
 * model, and /healthz or a 503 is answered while a long batch runs.
 *
 * Bound: at most --max-queue jobs are waiting or running; a push beyond that is refused and the
 * HTTP side answers 503 with Retry-After. Only this thread parses, so at most one parse tree
 * exists at a time. Stopping finishes the job in progress, answers every waiting job 503
 * ("shutting down") and resumes it, so no connection is left suspended for MHD_stop_daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "runtime/tools/tkserve.h"
#include "tk/alloc.h"
#include "tk/wire.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

struct tkserve_queue {
  tkserve_state *st;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  tkserve_job *head, *tail;
  unsigned count; /* waiting + running */
  bool stopping;
  pthread_t thread;
};

/* {"error": message}\n as a malloc'd string (NULL when out of memory). */
static char *error_body(const char *message) {
  char *json = NULL, *line = NULL;
  size_t len = 0;
  tk_status s = tk_wire_format_error(message, &json, &len);
  tk_status_free(s);
  if (json && (line = tk_malloc(len + 2))) snprintf(line, len + 2, "%s\n", json);
  free(json);
  return line;
}

static void finish(tkserve_job *job, unsigned status, char *answer) {
  job->status = status;
  job->answer = answer;
  if (job->release) job->release(job);
  MHD_resume_connection(job->connection);
}

static void answer(tkserve_queue *q, tkserve_job *job) {
  char *json = NULL;
  tk_status s = tool_model_answer(&q->st->model, &q->st->lock, job->body, job->len, &json);
  if (!s) {
    finish(job, MHD_HTTP_OK, json);
    return;
  }
  unsigned status = tk_status_code_of(s) == TK_INVALID_ARGUMENT ? MHD_HTTP_BAD_REQUEST
                                                                : MHD_HTTP_INTERNAL_SERVER_ERROR;
  char *body = error_body(tk_status_message(s));
  tk_status_free(s);
  finish(job, status, body);
}

/* A big parse leaves its small blocks on the heap; give the pages back to the system. */
static void trim(size_t body_len) {
#ifdef __GLIBC__
  if (body_len >= (1u << 20)) malloc_trim(0);
#else
  (void)body_len;
#endif
}

static void *model_thread(void *arg) {
  tkserve_queue *q = arg;
  pthread_mutex_lock(&q->mutex);
  for (;;) {
    /* a place reserved is always pushed soon after: leave only when none is outstanding */
    while (!q->head && !(q->stopping && !q->count)) pthread_cond_wait(&q->wake, &q->mutex);
    tkserve_job *job = q->head;
    if (!job) break; /* stopping, nothing queued or reserved */
    q->head = job->next;
    if (!q->head) q->tail = NULL;
    bool stopping = q->stopping;
    pthread_mutex_unlock(&q->mutex);
    size_t len = job->len;
    if (stopping)
      finish(job, MHD_HTTP_SERVICE_UNAVAILABLE, error_body(TKSERVE_SHUTTING_DOWN));
    else
      answer(q, job);
    trim(len);
    pthread_mutex_lock(&q->mutex);
    q->count--;
  }
  pthread_mutex_unlock(&q->mutex);
  return NULL;
}

tk_status tkserve_queue_start(tkserve_state *st, tkserve_queue **out) {
  *out = NULL;
  tkserve_queue *q = tk_calloc(1, sizeof *q);
  if (!q) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for the model queue");
  q->st = st;
  pthread_mutex_init(&q->mutex, NULL);
  pthread_cond_init(&q->wake, NULL);
  if (pthread_create(&q->thread, NULL, model_thread, q)) {
    pthread_cond_destroy(&q->wake);
    pthread_mutex_destroy(&q->mutex);
    free(q);
    return tk_status_make(TK_INTERNAL, "cannot start the model thread");
  }
  *out = q;
  return TK_STATUS_OK;
}

bool tkserve_queue_full(tkserve_queue *q) {
  pthread_mutex_lock(&q->mutex);
  bool full = q->stopping || q->count >= q->st->config.max_queue;
  pthread_mutex_unlock(&q->mutex);
  return full;
}

bool tkserve_queue_reserve(tkserve_queue *q) {
  pthread_mutex_lock(&q->mutex);
  bool taken = !q->stopping && q->count < q->st->config.max_queue;
  if (taken) q->count++;
  pthread_mutex_unlock(&q->mutex);
  return taken;
}

void tkserve_queue_push(tkserve_queue *q, tkserve_job *job) {
  pthread_mutex_lock(&q->mutex);
  job->next = NULL;
  if (q->tail)
    q->tail->next = job;
  else
    q->head = job;
  q->tail = job;
  pthread_cond_signal(&q->wake);
  pthread_mutex_unlock(&q->mutex);
}

void tkserve_queue_close(tkserve_queue *q) {
  if (!q) return;
  pthread_mutex_lock(&q->mutex);
  q->stopping = true;
  pthread_cond_signal(&q->wake);
  pthread_mutex_unlock(&q->mutex);
}

void tkserve_queue_stop(tkserve_queue *q) {
  if (!q) return;
  tkserve_queue_close(q);
  pthread_join(q->thread, NULL);
  pthread_cond_destroy(&q->wake);
  pthread_mutex_destroy(&q->mutex);
  free(q);
}
