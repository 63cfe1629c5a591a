/* tk/wire.h — the JSON wire format of tkrun, tkserve and tkref (docs/formats.md §4).
 *
 * Request:  {"features": [f; in]}            one row
 *           {"features": [[f; in], ...]}     a batch
 * The object holds exactly the key "features" (an unknown or duplicate key is an error, so a
 * typo cannot be silently ignored). Every feature is a JSON number that is finite and fits in
 * float32; null, strings, booleans, nested arrays, 1e400 (infinite) and 1e39 (beyond float)
 * are errors, and so are an empty body, malformed JSON, trailing characters, an empty batch,
 * an empty row and a row of the wrong width. Errors are TK_INVALID_ARGUMENT with a message
 * that names the row and column ("row 3: expected 96 features, found 95").
 *
 * Response: {"logits": [[f; out], ...], "router_weights": [[f; E], ...]}, always a list of rows
 * (a one-row request answers with one row); for Dense, "router_weights": []. Numbers are
 * printed with %.9g (a float32 round-trips), NaN as null, ±Inf as ±1e99. The text is the same
 * whatever the process locale (the decimal point is always '.').
 *
 * Thread safety: every function is reentrant, except that cJSON records the position of a
 * failed parse in a process-wide variable (cJSON_GetErrorPtr); this module never reads it.
 */
#ifndef TK_WIRE_H
#define TK_WIRE_H

#include <stddef.h>

#include "tk/status.h"

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

/* Parses a request body of `len` bytes (no NUL terminator needed; a NUL byte inside is an
 * error) whose rows must have `in_dim` features. On success *out_features is a malloc'd
 * (*out_rows × in_dim) row-major array the caller frees with free(), and *out_rows >= 1; on
 * error both are left NULL / 0. */
TK_MUST_USE tk_status tk_wire_parse_request(const char *body, size_t len, size_t in_dim,
                                            float **out_features, size_t *out_rows);

/* Formats a response for `rows` rows: logits (rows × out_dim) and router_weights
 * (rows × n_experts), both row-major; router_weights NULL with n_experts 0 means Dense.
 * *out_json is malloc'd and NUL-terminated (no trailing newline); the caller frees it.
 * out_len (may be NULL) receives its length. */
TK_MUST_USE tk_status tk_wire_format_response(const float *logits, size_t rows, size_t out_dim,
                                              const float *router_weights, size_t n_experts,
                                              char **out_json, size_t *out_len);

/* Formats the error body {"error": "message"} with the message escaped as a JSON string.
 * Ownership as for tk_wire_format_response. */
TK_MUST_USE tk_status tk_wire_format_error(const char *message, char **out_json, size_t *out_len);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif /* TK_WIRE_H */
