/* model/json_fields.h — typed fields of a JSON object read by the strict scanner
 * (model/arch_json.h), shared by the arch.json and config.json front ends; private to model/.
 *
 * Field errors read "path:line:col: field 'name': value V, expected E" plus the source line
 * and a caret; a missing field reads "path: field 'name': missing, expected E (a required
 * field)". Integers are read from their token's digits, never through a double.
 */
#ifndef TK_MODEL_JSON_FIELDS_H
#define TK_MODEL_JSON_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/arch_json.h"

/* The text and its parsed object. */
typedef struct tk_json_doc {
  tk_arch_json_source src;
  tk_arch_json_object obj;
} tk_json_doc;

/* "path:line:col: field 'key': value <raw token>, expected <fmt...>" at m's value. */
TK_MUST_USE tk_status tk_json_field_error(const tk_json_doc *d, const tk_arch_json_member *m,
                                          const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The member for key in *out; NULL (and OK) when absent and not required. */
TK_MUST_USE tk_status tk_json_field_find(const tk_json_doc *d, const char *key, bool required,
                                         const char *expect, const tk_arch_json_member **out);
/* An integer token's sign and magnitude, exactly; false if the magnitude is above 2^64-1. */
bool tk_json_integer_token(const tk_json_doc *d, const tk_arch_json_member *m, bool *negative,
                           uint64_t *magnitude);
/* A required integer field that fits int32_t (an integer token: no fraction or exponent). */
TK_MUST_USE tk_status tk_json_read_int32(const tk_json_doc *d, const char *key,
                                         const tk_arch_json_member **m, int32_t *value);
/* lo <= value <= hi; `hi_name` names the field hi comes from, if any. */
TK_MUST_USE tk_status tk_json_check_limit(const tk_json_doc *d, const tk_arch_json_member *m,
                                          const char *key, int32_t value, int32_t lo, int32_t hi,
                                          const char *hi_name);
/* `one of "A", "B", "C"` for a table of enum names. */
void tk_json_one_of(const char *const *names, size_t count, char *out, size_t cap);
/* An enum field spelled exactly as one of names (case-sensitive; a case-folded match says so);
 * `fallback` is the value when absent, or -1 if the field is required; `also` is appended to
 * the expectation. */
TK_MUST_USE tk_status tk_json_read_enum(const tk_json_doc *d, const char *key,
                                        const char *const *names, size_t count, int fallback,
                                        const char *also, int *out);

/* An optional boolean field (true or false), `fallback` when absent. */
TK_MUST_USE tk_status tk_json_read_bool(const tk_json_doc *d, const char *key, bool fallback,
                                        bool *out);

#endif /* TK_MODEL_JSON_FIELDS_H */
