/* model/json_fields.c — typed fields of a JSON object read by the strict scanner
 * (model/json_fields.h). */
#include "model/json_fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tk/alloc.h"

typedef tk_arch_json_member member;

tk_status tk_json_field_error(const tk_json_doc *d, const member *m, const char *key,
                              const char *fmt, ...) {
  char *expect = NULL, shown[TK_ARCH_JSON_SHOWN_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = tk_vasprintf(&expect, fmt, ap);
  va_end(ap);
  if (n < 0) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory formatting an error");
  tk_arch_json_shown(&d->src, m->offset, m->raw_len, shown);
  tk_status status = tk_arch_json_error_at(&d->src, m->offset, "field '%s': value %s, expected %s",
                                           key, shown, expect);
  free(expect);
  return status;
}

tk_status tk_json_field_find(const tk_json_doc *d, const char *key, bool required,
                             const char *expect, const member **out) {
  *out = tk_arch_json_object_find(&d->obj, key);
  if (!*out && required)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: field '%s': missing, expected %s (a required field)", d->src.name,
                          key, expect);
  return TK_STATUS_OK;
}

bool tk_json_integer_token(const tk_json_doc *d, const member *m, bool *negative,
                           uint64_t *magnitude) {
  const char *p = d->src.text + m->offset, *end = p + m->raw_len;
  *negative = *p == '-';
  p += *negative;
  *magnitude = 0;
  for (; p < end; p++) {
    uint64_t digit = (uint64_t)(*p - '0');
    if (*magnitude > (UINT64_MAX - digit) / 10) return false;
    *magnitude = *magnitude * 10 + digit;
  }
  return true;
}

tk_status tk_json_read_int32(const tk_json_doc *d, const char *key, const member **m,
                             int32_t *value) {
  TK_RETURN_IF_ERROR(tk_json_field_find(d, key, true, "an integer", m));
  if ((*m)->kind != TK_ARCH_JSON_NUMBER)
    return tk_json_field_error(d, *m, key, "an integer, found %s",
                               tk_arch_json_kind_name((*m)->kind));
  if (!(*m)->is_integer)
    return tk_json_field_error(d, *m, key, "an integer (no fraction or exponent)");
  bool negative;
  uint64_t magnitude;
  if (!tk_json_integer_token(d, *m, &negative, &magnitude) ||
      magnitude > (negative ? 2147483648u : 2147483647u))
    return tk_json_field_error(d, *m, key,
                               "an integer in the 32-bit range [-2147483648, 2147483647]");
  *value = negative ? (int32_t)(-(int64_t)magnitude) : (int32_t)magnitude;
  return TK_STATUS_OK;
}

tk_status tk_json_check_limit(const tk_json_doc *d, const member *m, const char *key, int32_t value,
                              int32_t lo, int32_t hi, const char *hi_name) {
  if (value >= lo && value <= hi) return TK_STATUS_OK;
  if (hi_name)
    return tk_json_field_error(d, m, key, "%d <= %s <= %s = %d (limit)", lo, key, hi_name, hi);
  return tk_json_field_error(d, m, key, "%d <= %s <= %d (limit)", lo, key, hi);
}

void tk_json_one_of(const char *const *names, size_t count, char *out, size_t cap) {
  size_t n = (size_t)snprintf(out, cap, "one of");
  for (size_t i = 0; i < count && n < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "%s \"%s\"", i ? "," : "", names[i]);
}

tk_status tk_json_read_enum(const tk_json_doc *d, const char *key, const char *const *names,
                            size_t count, int fallback, const char *also, int *out) {
  char expect[160];
  tk_json_one_of(names, count, expect, sizeof expect);
  const member *m;
  TK_RETURN_IF_ERROR(tk_json_field_find(d, key, fallback < 0, expect, &m));
  *out = fallback;
  if (!m) return TK_STATUS_OK;
  bool folded = false;
  for (size_t i = 0; m->kind == TK_ARCH_JSON_STRING && i < count; i++) {
    if (m->string_len == strlen(names[i]) && memcmp(m->string, names[i], m->string_len) == 0)
      return *out = (int)i, TK_STATUS_OK;
    folded |=
        m->string_len == strlen(names[i]) && strncasecmp(m->string, names[i], m->string_len) == 0;
  }
  return tk_json_field_error(d, m, key, "%s%s%s", expect, also, folded ? " (case-sensitive)" : "");
}

tk_status tk_json_read_bool(const tk_json_doc *d, const char *key, bool fallback, bool *out) {
  const tk_arch_json_member *m;
  TK_RETURN_IF_ERROR(tk_json_field_find(d, key, false, "true or false", &m));
  *out = fallback;
  if (!m) return TK_STATUS_OK;
  if (m->kind != TK_ARCH_JSON_BOOL)
    return tk_json_field_error(d, m, key, "true or false, found %s",
                               tk_arch_json_kind_name(m->kind));
  *out = d->src.text[m->offset] == 't';
  return TK_STATUS_OK;
}
