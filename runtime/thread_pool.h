/* runtime/thread_pool.h — a small persistent thread pool for the CPU launcher (private).
 *
 * tk_thread_pool_run(n) runs the indices of [0, n) on the calling thread and the workers, each
 * taking the next index as it becomes free; it returns when all are done. Every index is run
 * exactly once by exactly one thread, so a kernel whose iterations are independent gives
 * bitwise identical results for any thread count. One run at a time per pool; pools share
 * nothing.
 */
#ifndef TK_RUNTIME_THREAD_POOL_H
#define TK_RUNTIME_THREAD_POOL_H

#include <stdint.h>

#include "tk/status.h"

typedef struct tk_thread_pool tk_thread_pool;
typedef void (*tk_pool_fn)(void *ctx, int64_t begin, int64_t end);

/* threads >= 1 (the caller counts as one). Caller owns *out (tk_thread_pool_destroy). */
TK_MUST_USE tk_status tk_thread_pool_create(int threads, tk_thread_pool **out);
void tk_thread_pool_destroy(tk_thread_pool *pool);
int tk_thread_pool_threads(const tk_thread_pool *pool);

/* Covers [0, n) with calls fn(ctx, begin, end): one call fn(ctx, 0, n) on one thread (or for
 * n = 1), else one call per index (fn(ctx, i, i + 1)). */
void tk_thread_pool_run(tk_thread_pool *pool, int64_t n, tk_pool_fn fn, void *ctx);

#endif
