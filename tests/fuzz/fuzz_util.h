/* tests/fuzz/fuzz_util.h — what every fuzz target shares: a property check that aborts
 * (libFuzzer then saves the input as crash-*), and the switch for checks of open issues.
 *
 * FUZZ_CHECK(cond, fmt, ...) is for properties the code promises today: a failure is a bug.
 * FUZZ_CHECK_OPEN(cond, fmt, ...) is for contracts that a header or docs/formats.md states
 * but that an open issue says the code breaks (each use names the issue): it only checks
 * when TK_FUZZ_OPEN_ISSUES=1, so scripts/fuzz.sh stays green until the fix lands; once it
 * has, turn the FUZZ_CHECK_OPEN into a FUZZ_CHECK.
 */
#ifndef TK_FUZZ_UTIL_H
#define TK_FUZZ_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "tk/status.h"

#define FUZZ_CHECK(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "\n%s:%d: fuzz property failed: %s\n  ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                                        \
      fputc('\n', stderr);                                                                 \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

static inline bool fuzz_open_issues(void) {
  static int on = -1; /* read once: getenv is not free at 10^5 calls a second */
  if (on < 0) {
    const char *v = getenv("TK_FUZZ_OPEN_ISSUES");
    on = v && v[0] == '1';
  }
  return on;
}

#define FUZZ_CHECK_OPEN(cond, ...)                         \
  do {                                                     \
    if (fuzz_open_issues()) FUZZ_CHECK(cond, __VA_ARGS__); \
  } while (0)

/* TK_FUZZ_TRACE=1: each input's verdict on stderr ("accepted" or the error message), to see
 * what a seed or a reproducer exercises: `TK_FUZZ_TRACE=1 build-fuzz/fuzz/fuzz_wire FILE...` */
static inline bool fuzz_trace_on(void) {
  static int on = -1;
  if (on < 0) {
    const char *v = getenv("TK_FUZZ_TRACE");
    on = v && v[0] == '1';
  }
  return on;
}
#define fuzz_trace(...)                       \
  do {                                        \
    if (fuzz_trace_on()) {                    \
      fprintf(stderr, "trace: " __VA_ARGS__); \
      fputc('\n', stderr);                    \
    }                                         \
  } while (0)

/* An input a reader refused must get INVALID_ARGUMENT with a message: never an internal error or
 * an out-of-memory. Traces the message; the caller frees s. */
static inline void fuzz_check_rejection(tk_status s) {
  FUZZ_CHECK(tk_status_code_of(s) == TK_INVALID_ARGUMENT && tk_status_message(s)[0],
             "rejected with %s: %s", tk_status_code_name(tk_status_code_of(s)),
             tk_status_message(s));
  fuzz_trace("%s", tk_status_message(s));
}

/* Scratch directory for targets that need files: $TMPDIR (scripts/fuzz.sh points it into its
 * work directory) or /tmp. */
static inline const char *fuzz_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

#endif /* TK_FUZZ_UTIL_H */
