/* tk/alloc.h — the one allocation hook of every tkc library (after SQLite's sqlite3_malloc).
 *
 * Every heap allocation that tkc's own code makes — libtkrt, the model description, the IR,
 * the verifier, codegen and the compiler driver — goes through these functions, so a test
 * can make any single one of them fail (tests/fault/). They behave like their libc namesakes:
 * NULL (or -1 for the printf family, with *out set to NULL) on failure, memory released with
 * free(). Allocations inside Z3, LLVM, OpenSSL and libmicrohttpd are not hooked; cJSON's are
 * (tk_alloc installs itself as cJSON's allocator when libtkrt is loaded).
 *
 * Fault injection is process-wide test machinery, the one piece of mutable global state in
 * tkc's libraries: tk_alloc_fault_arm(n, persistent) makes the n-th hooked allocation from now
 * fail (n >= 1), and with `persistent` every one after it too; tk_alloc_fault_disarm() turns it
 * off. tk_alloc_count() counts every hooked allocation attempted since the process started,
 * which is how a sweep learns how many failure points an operation has. Thread-safe.
 *
 * tk_alloc_fault_observe(fn, ctx) makes every hooked allocation call fn(ctx) first, before it
 * is counted (NULL removes it). tests/fault/alloc_sweep.c forks there: the child arms
 * tk_alloc_fault_arm(1, ...) so that the allocation the parent is about to make fails in the
 * child alone, and one run of an operation yields every failure point.
 */
#ifndef TK_ALLOC_H
#define TK_ALLOC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

void *tk_malloc(size_t size);
void *tk_calloc(size_t count, size_t size);
void *tk_realloc(void *ptr, size_t size);
char *tk_strdup(const char *s);
char *tk_strndup(const char *s, size_t n);
int tk_asprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tk_vasprintf(char **out, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* open_memstream(3) as one hooked allocation point (the stream's later growth is libc's). */
FILE *tk_open_memstream(char **buf, size_t *size);

void tk_alloc_fault_arm(uint64_t nth, bool persistent);
void tk_alloc_fault_disarm(void);
typedef void tk_alloc_observer(void *ctx);
void tk_alloc_fault_observe(tk_alloc_observer *fn, void *ctx);
uint64_t tk_alloc_count(void);
/* True once an armed fault has fired (so a sweep knows the operation reached point n). */
bool tk_alloc_fault_fired(void);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif /* TK_ALLOC_H */
