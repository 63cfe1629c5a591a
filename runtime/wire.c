/* runtime/wire.c — the JSON wire format of docs/formats.md §4: request parser, response printer.
 *
 * Parsing goes through cJSON over the caller's (ptr, len) range, then walks the tree with the
 * strict rules of tk/wire.h; the only allocation that survives is the feature array. Printing
 * appends to a growable buffer and formats each number with snprintf("%.9g"), then rewrites
 * whatever the locale used as decimal point to '.', so the bytes never depend on LC_NUMERIC.
 */
#include "tk/wire.h"

#include <cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tk/alloc.h"
#include "runtime/runtime_internal.h"

/* ---- Request -------------------------------------------------------------------------------- */

/* Doubles at or above this magnitude round to ±Inf in float32 (round to nearest even:
 * FLT_MAX = 0x1.fffffep+127 plus half an ulp; the tie goes to the even value, Inf). Below it
 * they round to a finite float, so "3.40282347e+38" (FLT_MAX printed by %.9g) is accepted. */
#define WIRE_FLOAT_OVERFLOW 0x1.ffffffp+127

static const char *json_type_name(const cJSON *item) {
  if (cJSON_IsNull(item)) return "null";
  if (cJSON_IsTrue(item)) return "true";
  if (cJSON_IsFalse(item)) return "false";
  if (cJSON_IsString(item)) return "a string";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsObject(item)) return "an object";
  if (cJSON_IsNumber(item)) return "a number";
  return "an invalid value";
}

static bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* 1-based line and column of byte `pos` of body. */
static void line_col(const char *body, size_t pos, size_t *line, size_t *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < pos; i++) {
    if (body[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

static tk_status position_error(const char *what, const char *body, size_t pos) {
  size_t line, col;
  line_col(body, pos, &line, &col);
  return tk_status_make(TK_INVALID_ARGUMENT, "%s at line %zu, column %zu", what, line, col);
}

/* Parses the whole range as exactly one JSON value (whitespace around it allowed). */
static tk_status parse_json(const char *body, size_t len, cJSON **out) {
  *out = NULL;
  size_t first = 0;
  while (first < len && is_json_space(body[first])) first++;
  if (first == len) return tk_status_make(TK_INVALID_ARGUMENT, "empty request body");
  /* JSON allows no raw control byte anywhere but these four as whitespace (RFC 8259 §2, §7);
   * cJSON would skip NUL and 0x01-0x1f as whitespace (tk/wire.h: they are errors). */
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)body[i] < 0x20 && !is_json_space(body[i])) {
      char what[64];
      snprintf(what, sizeof what, "control byte 0x%02x in the JSON", (unsigned char)body[i]);
      return position_error(what, body, i);
    }
  const char *end = NULL;
  bool oom = false;
  cJSON *root = tk_json_parse(body, len, &end, false, &oom);
  if (oom) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory parsing the request");
  size_t stop = end ? (size_t)(end - body) : 0;
  if (!root) return position_error("malformed JSON", body, stop < len ? stop : len - 1);
  while (stop < len && is_json_space(body[stop])) stop++;
  if (stop < len) {
    cJSON_Delete(root);
    return position_error("trailing characters after the JSON value", body, stop);
  }
  *out = root;
  return TK_STATUS_OK;
}

/* The "features" member; the object must hold it exactly once and nothing else. */
static tk_status find_features(const cJSON *root, const cJSON **out) {
  *out = NULL;
  if (!cJSON_IsObject(root))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "expected a JSON object {\"features\": [...]}, found %s",
                          json_type_name(root));
  const cJSON *child;
  cJSON_ArrayForEach(child, root) {
    if (strcmp(child->string, "features") != 0)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "unknown key \"%s\" (a request holds only \"features\")",
                            child->string);
    if (*out) return tk_status_make(TK_INVALID_ARGUMENT, "duplicate key \"features\"");
    *out = child;
  }
  if (!*out) return tk_status_make(TK_INVALID_ARGUMENT, "missing key \"features\"");
  return TK_STATUS_OK;
}

/* One feature value: a finite JSON number that fits in float32. */
static tk_status read_feature(const cJSON *item, size_t row, size_t col, float *dst) {
  if (!cJSON_IsNumber(item))
    return tk_status_make(TK_INVALID_ARGUMENT, "row %zu, column %zu: not a finite number (%s%s)",
                          row, col, json_type_name(item),
                          cJSON_IsArray(item) || cJSON_IsObject(item) ? ", nested too deep" : "");
  double v = item->valuedouble;
  if (!isfinite(v)) /* cJSON turns 1e400 into inf */
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "row %zu, column %zu: not a finite number (beyond the double range)", row,
                          col);
  if (!(fabs(v) < WIRE_FLOAT_OVERFLOW))
    return tk_status_make(
        TK_INVALID_ARGUMENT,
        "row %zu, column %zu: %.9g does not fit in float32 (|v| <= 3.40282347e+38)", row, col, v);
  *dst = (float)v;
  return TK_STATUS_OK;
}

/* One row: an array of exactly in_dim features, written to dst. */
static tk_status read_row(const cJSON *row_array, size_t row, size_t in_dim, float *dst) {
  size_t n = (size_t)cJSON_GetArraySize(row_array);
  if (n != in_dim)
    return tk_status_make(TK_INVALID_ARGUMENT, "row %zu: expected %zu features, found %zu%s", row,
                          in_dim, n, n == 0 ? " (empty row)" : "");
  size_t col = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, row_array) {
    TK_RETURN_IF_ERROR(read_feature(item, row, col, dst + col));
    col++;
  }
  return TK_STATUS_OK;
}

/* A batch [[...], ...] or, when the first element is not an array, a single row [...]. */
static tk_status read_features(const cJSON *features, size_t in_dim, float **out,
                               size_t *out_rows) {
  if (!cJSON_IsArray(features))
    return tk_status_make(TK_INVALID_ARGUMENT, "\"features\" must be an array, found %s",
                          json_type_name(features));
  size_t n = (size_t)cJSON_GetArraySize(features);
  if (n == 0) return tk_status_make(TK_INVALID_ARGUMENT, "\"features\" is an empty batch");
  bool batch = cJSON_IsArray(features->child);
  size_t rows = batch ? n : 1, total;
  if (in_dim == 0 || !tk_size_mul(rows, in_dim, &total) || total > SIZE_MAX / sizeof(float))
    return tk_status_make(TK_INVALID_ARGUMENT, "%zu rows of %zu features is not a valid size", rows,
                          in_dim);
  float *data = tk_malloc(total * sizeof(float));
  if (!data) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for %zu features", total);
  tk_status status = TK_STATUS_OK;
  if (!batch) {
    status = read_row(features, 0, in_dim, data);
  } else {
    size_t row = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, features) {
      if (!cJSON_IsArray(item))
        status = tk_status_make(TK_INVALID_ARGUMENT,
                                "row %zu: expected an array of %zu features, found %s", row, in_dim,
                                json_type_name(item));
      else
        status = read_row(item, row, in_dim, data + row * in_dim);
      if (status) break;
      row++;
    }
  }
  if (status) {
    free(data);
    return status;
  }
  *out = data;
  *out_rows = rows;
  return TK_STATUS_OK;
}

tk_status tk_wire_parse_request(const char *body, size_t len, size_t in_dim, float **out_features,
                                size_t *out_rows) {
  *out_features = NULL;
  *out_rows = 0;
  if (!body && len) return tk_status_make(TK_INVALID_ARGUMENT, "no body");
  cJSON *root;
  TK_RETURN_IF_ERROR(parse_json(body, len, &root));
  const cJSON *features;
  tk_status status = find_features(root, &features);
  if (!status) status = read_features(features, in_dim, out_features, out_rows);
  cJSON_Delete(root);
  return status;
}

/* ---- Response ------------------------------------------------------------------------------- */

typedef struct wire_buf {
  char *data;
  size_t len, cap;
  bool failed; /* an allocation failed: the buffer is frozen and the result is an error */
} wire_buf;

static void buf_append(wire_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->cap - b->len <= n) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
      if (cap > SIZE_MAX / 2) {
        b->failed = true;
        return;
      }
      cap *= 2;
    }
    char *grown = tk_realloc(b->data, cap);
    if (!grown) {
      b->failed = true;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_puts(wire_buf *b, const char *s) { buf_append(b, s, strlen(s)); }

/* Hands the text to the caller, or frees it and reports the failed allocation. */
static tk_status buf_finish(wire_buf *b, char **out_json, size_t *out_len) {
  if (b->failed || !b->data) {
    free(b->data);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory while formatting a response");
  }
  *out_json = b->data;
  if (out_len) *out_len = b->len;
  return TK_STATUS_OK;
}

/* One number: %.9g with '.' as decimal point; NaN → null, ±Inf → ±1e99 (docs/formats.md §4). */
static void buf_number(wire_buf *b, float v) {
  if (isnan(v)) {
    buf_puts(b, "null");
    return;
  }
  if (isinf(v)) {
    buf_puts(b, v > 0 ? "1e99" : "-1e99");
    return;
  }
  char raw[64], out[64];
  snprintf(raw, sizeof raw, "%.9g", (double)v);
  /* Any byte other than digits, sign and exponent is (part of) the locale's decimal point,
   * which may be several bytes long: the run becomes one '.'. */
  size_t n = 0;
  for (const char *p = raw; *p; p++) {
    bool plain = (*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == 'e';
    if (plain)
      out[n++] = *p;
    else if (n == 0 || out[n - 1] != '.')
      out[n++] = '.';
  }
  buf_append(b, out, n);
}

/* [[r0c0, r0c1, ...], [r1c0, ...], ...] */
static void buf_rows(wire_buf *b, const float *data, size_t rows, size_t cols) {
  buf_puts(b, "[");
  for (size_t r = 0; r < rows; r++) {
    buf_puts(b, r ? ", [" : "[");
    for (size_t c = 0; c < cols; c++) {
      if (c) buf_puts(b, ", ");
      buf_number(b, data[r * cols + c]);
    }
    buf_puts(b, "]");
  }
  buf_puts(b, "]");
}

tk_status tk_wire_format_response(const float *logits, size_t rows, size_t out_dim,
                                  const float *router_weights, size_t n_experts, char **out_json,
                                  size_t *out_len) {
  *out_json = NULL;
  if (!logits || rows == 0 || out_dim == 0 || (router_weights == NULL) != (n_experts == 0))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "response: need logits with rows >= 1 and out_dim >= 1 (got %zu x %zu), "
                          "and router_weights exactly when n_experts > 0 (got %zu)",
                          rows, out_dim, n_experts);
  wire_buf b = {0};
  buf_puts(&b, "{\"logits\": ");
  buf_rows(&b, logits, rows, out_dim);
  buf_puts(&b, ", \"router_weights\": ");
  if (router_weights)
    buf_rows(&b, router_weights, rows, n_experts);
  else
    buf_puts(&b, "[]"); /* Dense (docs/formats.md §4) */
  buf_puts(&b, "}");
  return buf_finish(&b, out_json, out_len);
}

tk_status tk_wire_format_error(const char *message, char **out_json, size_t *out_len) {
  *out_json = NULL;
  wire_buf b = {0};
  buf_puts(&b, "{\"error\": \"");
  for (const unsigned char *p = (const unsigned char *)message; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      buf_append(&b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      buf_puts(&b, esc);
    } else {
      buf_append(&b, (const char *)p, 1);
    }
  }
  buf_puts(&b, "\"}");
  return buf_finish(&b, out_json, out_len);
}
