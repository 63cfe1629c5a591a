/* tk/status.h — errors as values, shared by libtkc and libtkrt.
 *
 * A tk_status is a pointer: NULL means OK, anything else is an owned error that carries a
 * code, a message, and the file:line where it was made. Whoever receives a non-NULL status
 * owns it and must hand it on, or release it with tk_status_free / tk_status_ignore.
 *
 * Ownership rule for all of tkc (stated once, after IREE): functions named *_create, *_load,
 * *_open and *_copy return objects the caller owns; getters borrow; *_free, *_close and
 * *_release accept NULL. Constructors set *out to NULL first and either commit the whole
 * object or destroy what they built.
 *
 * Only the main() of a tool may call exit(); library code returns a tk_status.
 */
#ifndef TK_STATUS_H
#define TK_STATUS_H

#include <stddef.h>

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tk_status_code {
  TK_OK = 0,
  TK_INVALID_ARGUMENT,   /* bad input: an arch.json, a checkpoint, a request, a flag value */
  TK_NOT_FOUND,          /* a file, symbol or record that should exist does not */
  TK_IO_ERROR,           /* the OS refused a read, write, rename or mmap */
  TK_OUT_OF_RANGE,       /* a value outside a documented limit */
  TK_RESOURCE_EXHAUSTED, /* allocation failed, or a size does not fit its type */
  TK_UNAVAILABLE,        /* a device, backend or shared library is not present here */
  TK_PROOF_FAILED,       /* an obligation was refuted: the counterexample is in the message */
  TK_INTERNAL,           /* a bug in tkc or a toolchain error (LLVM, Z3, linker) */
} tk_status_code;

typedef struct tk_status_s *tk_status;
#define TK_STATUS_OK ((tk_status)NULL)

#define TK_MUST_USE __attribute__((warn_unused_result))

/* Makes an error with a printf-style message, recording __FILE__ and __LINE__. */
#define tk_status_make(code, ...) tk_status_make_at(__FILE__, __LINE__, (code), __VA_ARGS__)
TK_MUST_USE tk_status tk_status_make_at(const char *file, int line, tk_status_code code,
                                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prefixes the message with context ("while reading x.tkp1: ..."); returns the same status.
 * A NULL status passes through untouched. */
TK_MUST_USE tk_status tk_status_annotate(tk_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keeps the first error and frees the second (for cleanup paths that can fail too). */
TK_MUST_USE tk_status tk_status_join(tk_status first, tk_status second);

tk_status_code tk_status_code_of(tk_status status);   /* TK_OK for NULL */
const char *tk_status_message(tk_status status);      /* borrowed; "" for NULL */
const char *tk_status_location(tk_status status);     /* borrowed "file:line"; "" for NULL */
const char *tk_status_code_name(tk_status_code code); /* "INVALID_ARGUMENT", ... */

void tk_status_free(tk_status status);
static inline void tk_status_ignore(tk_status status) { tk_status_free(status); }

/* The one control-flow macro: return the error of expr, if any. */
#define TK_RETURN_IF_ERROR(expr)               \
  do {                                         \
    tk_status tk_status_tmp_ = (expr);         \
    if (tk_status_tmp_) return tk_status_tmp_; \
  } while (0)

/* Checked size arithmetic: return false (and leave *out untouched) on overflow. */
static inline int tk_size_mul(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline int tk_size_mul_add(size_t a, size_t b, size_t c, size_t *out) {
  size_t m;
  return !__builtin_mul_overflow(a, b, &m) && !__builtin_add_overflow(m, c, out);
}

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif /* TK_STATUS_H */
