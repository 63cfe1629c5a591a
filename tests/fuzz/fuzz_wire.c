/* tests/fuzz/fuzz_wire.c — libFuzzer target for the wire JSON (runtime/wire.c, tk/wire.h,
 * docs/formats.md §4).
 *
 * Input: arbitrary bytes as a request body. The row width is guessed from the body (the
 * length of the first row, read with cJSON) so that valid-looking bodies get past the width
 * check; each body is also parsed with width 3. Properties, beyond "no crash, no leak, no UB":
 *   - a rejection is TK_INVALID_ARGUMENT, leaves the outputs NULL / 0 and has a message;
 *     tk_wire_format_error of that message is a JSON object whose "error" string decodes
 *     back to the message byte for byte;
 *   - an accepted request has rows >= 1 and only finite features; format -> parse -> format
 *     is stable: the rows printed by tk_wire_format_response (as logits) and wrapped as
 *     {"features": ROWS} parse back to the same floats bit for bit, and print to the same
 *     bytes again;
 *   - (TK_FUZZ_OPEN_ISSUES=1, issue 14 "Wire") an accepted body holds no NUL byte and no
 *     control byte 0x01-0x1f other than JSON whitespace (tk/wire.h: a NUL is an error).
 */
#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"
#include "tk/wire.h"

static const char kPrefix[] = "{\"logits\": ";
static const char kSuffix[] = ", \"router_weights\": []}";

/* Width of the first row, or 1 when the body does not look like a request. */
static size_t guess_width(const uint8_t *data, size_t size) {
  cJSON *root = cJSON_ParseWithLength((const char *)data, size);
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "features");
  size_t n = 1;
  if (cJSON_IsArray(f)) {
    const cJSON *row = cJSON_IsArray(f->child) ? f->child : f;
    int m = cJSON_GetArraySize(row);
    if (m >= 1 && m <= 4096) n = (size_t)m;
  }
  cJSON_Delete(root);
  return n;
}

static void check_error_body(const char *message) {
  char *json = NULL;
  size_t len = 0;
  tk_status s = tk_wire_format_error(message, &json, &len);
  FUZZ_CHECK(!s && json && strlen(json) == len, "format_error: %s", tk_status_message(s));
  cJSON *root = cJSON_ParseWithLength(json, len);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  FUZZ_CHECK(cJSON_IsString(e) && strcmp(e->valuestring, message) == 0,
             "error body %s does not decode to the message", json);
  cJSON_Delete(root);
  free(json);
}

/* Prints rows x in_dim features with the library's number printer (format_response). */
static char *format_rows(const float *x, size_t rows, size_t in_dim, size_t *len) {
  char *json = NULL;
  tk_status s = tk_wire_format_response(x, rows, in_dim, NULL, 0, &json, len);
  FUZZ_CHECK(!s && json && strlen(json) == *len, "format_response: %s", tk_status_message(s));
  size_t np = sizeof kPrefix - 1, ns = sizeof kSuffix - 1;
  FUZZ_CHECK(*len > np + ns && !memcmp(json, kPrefix, np) && !strcmp(json + *len - ns, kSuffix),
             "unexpected response shape: %s", json);
  return json;
}

static void check_round_trip(const float *x, size_t rows, size_t in_dim) {
  size_t len1 = 0, len2 = 0, rows2 = 0;
  char *r1 = format_rows(x, rows, in_dim, &len1);
  /* {"features": ROWS} where ROWS is the logits array just printed. */
  size_t np = sizeof kPrefix - 1, ns = sizeof kSuffix - 1, n = len1 - np - ns;
  char *req = malloc(n + 16);
  FUZZ_CHECK(req != NULL, "out of memory");
  int k = snprintf(req, n + 16, "{\"features\": %.*s}", (int)n, r1 + np);
  float *y = NULL;
  tk_status s = tk_wire_parse_request(req, (size_t)k, in_dim, &y, &rows2);
  FUZZ_CHECK(!s, "a printed request does not parse: %s\n  %s", tk_status_message(s), req);
  FUZZ_CHECK(rows2 == rows && !memcmp(x, y, rows * in_dim * sizeof(float)),
             "print -> parse changed the features (rows %zu -> %zu)\n  %s", rows, rows2, req);
  char *r2 = format_rows(y, rows2, in_dim, &len2);
  FUZZ_CHECK(len1 == len2 && !memcmp(r1, r2, len1),
             "format -> parse -> format differs:\n  %s\n  %s", r1, r2);
  free(r1);
  free(r2);
  free(req);
  free(y);
}

static void parse_one(const uint8_t *data, size_t size, size_t in_dim) {
  float *x = (float *)&x;
  size_t rows = 99;
  tk_status s = tk_wire_parse_request((const char *)data, size, in_dim, &x, &rows);
  if (s) {
    FUZZ_CHECK(x == NULL && rows == 0, "error but outputs set");
    FUZZ_CHECK(tk_status_code_of(s) == TK_INVALID_ARGUMENT && tk_status_message(s)[0],
               "rejected with %s: %s", tk_status_code_name(tk_status_code_of(s)),
               tk_status_message(s));
    fuzz_trace("width %zu: %s", in_dim, tk_status_message(s));
    check_error_body(tk_status_message(s));
    tk_status_free(s);
    return;
  }
  fuzz_trace("width %zu: accepted, %zu rows", in_dim, rows);
  FUZZ_CHECK(x != NULL && rows >= 1, "accepted with %zu rows", rows);
  for (size_t i = 0; i < rows * in_dim; i++)
    FUZZ_CHECK(isfinite(x[i]), "feature %zu is not finite", i);
  for (size_t i = 0; i < size; i++) {
    unsigned char c = data[i];
    FUZZ_CHECK(c >= 0x20 || c == '\t' || c == '\n' || c == '\r',
               "accepted a body with byte 0x%02x at offset %zu", c, i);
  }
  check_round_trip(x, rows, in_dim);
  free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t w = guess_width(data, size);
  parse_one(data, size, w);
  if (w != 3) parse_one(data, size, 3);
  /* The raw bytes as an error message (up to the first NUL). */
  char *msg = strndup((const char *)data, size < 512 ? size : 512);
  FUZZ_CHECK(msg != NULL, "out of memory");
  check_error_body(msg);
  free(msg);
  return 0;
}
