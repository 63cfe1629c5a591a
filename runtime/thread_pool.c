/* runtime/thread_pool.c — persistent workers woken per run by a generation counter.
 *
 * The caller publishes (fn, ctx, n) and bumps `generation`; the caller and each worker then take
 * work items one at a time from a shared counter until none is left, and the workers count
 * themselves done; the caller waits for the count. Taking items as they come (not a fixed
 * chunk per thread) keeps both cores busy when the items' work is uneven: with sparse dispatch
 * an expert's launch has work only in the row blocks below its row count, and a fixed first
 * half would have left the second thread idle (issue 13). Workers are started once and
 * joined by destroy.
 *
 * Between runs both sides spin a little (SPIN_ROUNDS pauses, tens of microseconds) before they
 * sleep on a condition variable: a forward is a chain of short launches, and a futex sleep and
 * wake-up per launch made 2 threads slower than 1 on Nano (issue 13 item 5: 0.49 against 0.13
 * ms at B = 16). Sleeping is lossless: a worker checks the generation and registers as a
 * sleeper under the lock the caller holds to bump it, and the caller checks the done count
 * under the lock the last worker takes to signal it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "runtime/thread_pool.h"
#include "tk/alloc.h"

enum { SPIN_ROUNDS = 4096 };

typedef struct pool_worker {
  tk_thread_pool *pool;
  int index; /* 1 .. threads-1 */
  pthread_t thread;
} pool_worker;

struct tk_thread_pool {
  int threads;
  int started; /* workers actually started */
  pool_worker *workers;
  pthread_mutex_t lock;
  pthread_cond_t work, done_cv;
  _Atomic uint64_t generation;
  atomic_int done;
  atomic_bool stop;
  int sleepers;  /* workers waiting on `work` (under lock) */
  tk_pool_fn fn; /* written by the caller before it bumps generation */
  void *ctx;
  int64_t n;
  _Atomic int64_t next; /* the next work item to take */
};

/* Takes work items of the current run until none is left. */
static void take_items(tk_thread_pool *p) {
  for (;;) {
    int64_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    if (i >= p->n) return;
    p->fn(p->ctx, i, i + 1);
  }
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* The generation once it differs from `seen` or stop is set (spinning first, then sleeping);
 * the caller checks stop. */
static uint64_t next_generation(tk_thread_pool *p, uint64_t seen) {
  for (int i = 0; i < SPIN_ROUNDS; i++) {
    uint64_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
    if (g != seen || atomic_load_explicit(&p->stop, memory_order_acquire)) return g;
    cpu_relax();
  }
  pthread_mutex_lock(&p->lock);
  p->sleepers++;
  while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
    pthread_cond_wait(&p->work, &p->lock);
  p->sleepers--;
  uint64_t g = atomic_load(&p->generation);
  pthread_mutex_unlock(&p->lock);
  return g;
}

static void *worker_main(void *arg) {
  pool_worker *w = arg;
  tk_thread_pool *p = w->pool;
  uint64_t seen = 0;
  for (;;) {
    seen = next_generation(p, seen);
    if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
    take_items(p);
    if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == p->threads - 1) {
      pthread_mutex_lock(&p->lock);
      pthread_cond_signal(&p->done_cv);
      pthread_mutex_unlock(&p->lock);
    }
  }
  return NULL;
}

void tk_thread_pool_destroy(tk_thread_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  atomic_store(&p->stop, true);
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->started; i++) pthread_join(p->workers[i].thread, NULL);
  pthread_cond_destroy(&p->work);
  pthread_cond_destroy(&p->done_cv);
  pthread_mutex_destroy(&p->lock);
  free(p->workers);
  free(p);
}

tk_status tk_thread_pool_create(int threads, tk_thread_pool **out) {
  *out = NULL;
  if (threads < 1 || threads > 1024)
    return tk_status_make(TK_INVALID_ARGUMENT, "--threads %d: expected 1 to 1024", threads);
  tk_thread_pool *p = tk_calloc(1, sizeof *p);
  pool_worker *w = tk_calloc((size_t)threads, sizeof *w);
  if (!p || !w) {
    free(p);
    free(w);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory creating a thread pool");
  }
  p->threads = threads;
  p->workers = w;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->work, NULL);
  pthread_cond_init(&p->done_cv, NULL);
  for (int i = 1; i < threads; i++) {
    w[i - 1] = (pool_worker){.pool = p, .index = i};
    if (pthread_create(&w[i - 1].thread, NULL, worker_main, &w[i - 1]) != 0) {
      tk_thread_pool_destroy(p);
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "cannot start thread %d of %d", i + 1, threads);
    }
    p->started = i;
  }
  *out = p;
  return TK_STATUS_OK;
}

int tk_thread_pool_threads(const tk_thread_pool *p) { return p->threads; }

/* A run of one work item (a small batch's single row block) stays on the calling thread:
 * waking the workers for nothing to do made T = 2 slower than T = 1 (issue 13). */
void tk_thread_pool_run(tk_thread_pool *p, int64_t n, tk_pool_fn fn, void *ctx) {
  if (p->threads == 1 || n <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  pthread_mutex_lock(&p->lock);
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
  if (p->sleepers) pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  take_items(p);
  for (int i = 0; i < SPIN_ROUNDS; i++) {
    if (atomic_load_explicit(&p->done, memory_order_acquire) == p->threads - 1) return;
    cpu_relax();
  }
  pthread_mutex_lock(&p->lock);
  while (atomic_load(&p->done) < p->threads - 1) pthread_cond_wait(&p->done_cv, &p->lock);
  pthread_mutex_unlock(&p->lock);
}
