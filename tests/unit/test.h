/* tests/unit/test.h — a tiny harness: CHECK prints the failing expression with file:line and
 * keeps going; TEST_MAIN_END prints "N passed, N failed" (a line ctest logs) and returns
 * non-zero on any failure. */
#ifndef TK_TEST_H
#define TK_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk/status.h"

static int tk_test_passed, tk_test_failed;

/* TK_SOURCE_DIR/rel (ctest runs in the source dir; the variable makes it explicit). The
 * result is overwritten by the next call. */
static inline const char *src_path(const char *rel) {
  static char path[4096];
  const char *root = getenv("TK_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
  return path;
}

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      tk_test_passed++;                                                        \
    } else {                                                                   \
      tk_test_failed++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                   \
  do {                                                                         \
    if (cond) {                                                                \
      tk_test_passed++;                                                        \
    } else {                                                                   \
      tk_test_failed++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* Expects an OK status; on error prints its message and frees it. */
#define CHECK_OK(expr)                                                                          \
  do {                                                                                          \
    tk_status s_ = (expr);                                                                      \
    CHECK_MSG(s_ == NULL, "%s: %s (%s)", #expr, tk_status_message(s_), tk_status_location(s_)); \
    tk_status_free(s_);                                                                         \
  } while (0)

/* Expects an error whose message contains `needle`. */
#define CHECK_ERR(expr, needle)                                                       \
  do {                                                                                \
    tk_status s_ = (expr);                                                            \
    CHECK_MSG(s_ != NULL && strstr(tk_status_message(s_), (needle)) != NULL,          \
              "%s: expected an error mentioning \"%s\", got \"%s\"", #expr, (needle), \
              s_ ? tk_status_message(s_) : "OK");                                     \
    tk_status_free(s_);                                                               \
  } while (0)

#define CHECK_NEAR(got, want, tol)                                                         \
  do {                                                                                     \
    double g_ = (got), w_ = (want);                                                        \
    CHECK_MSG(fabs(g_ - w_) <= (tol), "%s = %.17g, expected %.17g (tol %g)", #got, g_, w_, \
              (double)(tol));                                                              \
  } while (0)

#define TEST_MAIN_END()                                               \
  do {                                                                \
    printf("%d passed, %d failed\n", tk_test_passed, tk_test_failed); \
    return tk_test_failed ? 1 : 0;                                    \
  } while (0)

#endif /* TK_TEST_H */
