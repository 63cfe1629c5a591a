/* runtime/thread_pool.h — a small persistent thread pool for the CPU launcher (private).
 *
 * tk_thread_pool_run(n) splits [0, n) into `threads` contiguous chunks (tk_thread_pool_chunk)
 * and runs chunk 0 on the calling thread and chunk i on worker i; it returns when all are
 * done. Every index is run exactly once by exactly one thread, so a kernel whose iterations
 * are independent gives bitwise identical results for any thread count. One run at a time
 * per pool; pools share nothing.
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

/* Calls fn(ctx, begin, end) for every non-empty chunk of [0, n). */
void tk_thread_pool_run(tk_thread_pool *pool, int64_t n, tk_pool_fn fn, void *ctx);

/* Chunk i of `threads` over [0, n): sizes differ by at most one, larger chunks first. */
void tk_thread_pool_chunk(int64_t n, int threads, int i, int64_t *begin, int64_t *end);

#endif
