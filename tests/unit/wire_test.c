/* tests/unit/wire_test.c — the JSON wire format (runtime/wire.c, docs/formats.md §4).
 *
 * Requests: one row and batches parse to the right floats; every class of bad request is
 * rejected with a message naming what is wrong (row, column, expected and found). Responses:
 * exact bytes for hand-picked values (%.9g, NaN → null, ±Inf → ±1e99, Dense → []), and a
 * print → parse round trip that is bitwise for random floats.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/test.h"
#include "tk/wire.h"

/* Parses a NUL-terminated request of width in_dim. */
static tk_status parse(const char *body, size_t in_dim, float **x, size_t *rows) {
  return tk_wire_parse_request(body, strlen(body), in_dim, x, rows);
}

static void expect_error(const char *body, size_t in_dim, const char *needle) {
  float *x = (float *)1;
  size_t rows = 99;
  tk_status s = parse(body, in_dim, &x, &rows);
  CHECK_MSG(s != NULL && strstr(tk_status_message(s), needle) != NULL,
            "request %.60s: expected an error mentioning \"%s\", got \"%s\"", body, needle,
            s ? tk_status_message(s) : "OK");
  CHECK(tk_status_code_of(s) == TK_INVALID_ARGUMENT && x == NULL && rows == 0);
  tk_status_free(s);
}

static void test_parse_ok(void) {
  float *x = NULL;
  size_t rows = 0;
  CHECK_OK(parse("{\"features\": [1, 2.5, -3e-2]}", 3, &x, &rows));
  CHECK(rows == 1 && x && x[0] == 1.0f && x[1] == 2.5f && x[2] == -3e-2f);
  free(x);
  CHECK_OK(parse(" \n{ \"features\" : [[1,2,3] ,\n [4,5,6]] }\r\n\t", 3, &x, &rows));
  CHECK(rows == 2 && x && x[3] == 4.0f && x[5] == 6.0f);
  free(x);
  CHECK_OK(parse("{\"features\": [[7]]}", 1, &x, &rows)); /* a batch of one row */
  CHECK(rows == 1 && x && x[0] == 7.0f);
  free(x);
  /* Float edges: FLT_MAX as %.9g prints it (slightly above FLT_MAX, rounds down), the
   * largest double that still rounds to FLT_MAX, and an underflow to zero. */
  CHECK_OK(parse("{\"features\": [3.40282347e+38, -3.4028235e38, 3.4028235677973362e38, 1e-50]}", 4,
                 &x, &rows));
  CHECK(rows == 1 && x && x[0] == FLT_MAX && x[1] == -FLT_MAX && x[2] == FLT_MAX && x[3] == 0.0f);
  free(x);
  /* The body need not be NUL-terminated: only len bytes are read. */
  const char body[] = "{\"features\": [1, 2]}garbage";
  CHECK_OK(tk_wire_parse_request(body, 20, 2, &x, &rows));
  CHECK(rows == 1 && x && x[1] == 2.0f);
  free(x);
}

static void test_parse_errors(void) {
  expect_error("", 3, "empty request body");
  expect_error(" \n\t", 3, "empty request body");
  expect_error("{\"features\": [1, 2,", 3, "malformed JSON at line 1");
  expect_error("{\"features\":\n [1, 2 3]}", 3, "malformed JSON at line 2");
  expect_error("{\"features\": [NaN, 1, 2]}", 3, "malformed JSON");
  expect_error("{\"features\": [1, 2, 3]} x", 3,
               "trailing characters after the JSON value at line 1, column 25");
  expect_error("{\"features\": [1, 2, 3]}{}", 3, "trailing characters");
  expect_error("[1, 2, 3]", 3, "expected a JSON object {\"features\": [...]}, found an array");
  expect_error("\"features\"", 3, "found a string");
  expect_error("{}", 3, "missing key \"features\"");
  expect_error("{\"features\": [1, 2, 3], \"extra\": 1}", 3, "unknown key \"extra\"");
  expect_error("{\"Features\": [1, 2, 3]}", 3, "unknown key \"Features\"");
  expect_error("{\"features\": [1, 2, 3], \"features\": [1, 2, 3]}", 3,
               "duplicate key \"features\"");
  expect_error("{\"features\": 5}", 3, "\"features\" must be an array, found a number");
  expect_error("{\"features\": {}}", 3, "must be an array, found an object");
  expect_error("{\"features\": []}", 3, "empty batch");
  expect_error("{\"features\": [[]]}", 3, "row 0: expected 3 features, found 0 (empty row)");
  expect_error("{\"features\": [1, 2]}", 3, "row 0: expected 3 features, found 2");
  expect_error("{\"features\": [[1, 2, 3], [4, 5, 6], [1, 2, 3], [1, 2]]}", 3,
               "row 3: expected 3 features, found 2");
  expect_error("{\"features\": [[1, 2, 3], 4]}", 3,
               "row 1: expected an array of 3 features, found a number");
  expect_error("{\"features\": [1, null, 3]}", 3, "row 0, column 1: not a finite number (null)");
  expect_error("{\"features\": [[1, 2, 3], [1, 2, \"3\"]]}", 3,
               "row 1, column 2: not a finite number (a string)");
  expect_error("{\"features\": [true, 2, 3]}", 3, "row 0, column 0: not a finite number (true)");
  expect_error("{\"features\": [1, false, 3]}", 3, "row 0, column 1: not a finite number (false)");
  expect_error("{\"features\": [1, [2], 3]}", 3,
               "row 0, column 1: not a finite number (an array, nested too deep)");
  expect_error("{\"features\": [[[1], 2, 3]]}", 3,
               "row 0, column 0: not a finite number (an array, nested too deep)");
  expect_error("{\"features\": [1, {}, 3]}", 3, "not a finite number (an object");
  expect_error("{\"features\": [1, 2, 1e400]}", 3,
               "row 0, column 2: not a finite number (beyond the double range)");
  expect_error("{\"features\": [-1e400, 2, 3]}", 3, "row 0, column 0: not a finite number");
  expect_error("{\"features\": [1, 1e39, 3]}", 3, "row 0, column 1: 1e+39 does not fit in float32");
  expect_error("{\"features\": [1, 2, -3.4028236e38]}", 3,
               "row 0, column 2: -3.4028236e+38 does not fit in float32");
  /* The example of the brief: a 96-wide request with 95 values in row 3. */
  char big[4096] = "{\"features\": [";
  for (int r = 0; r < 4; r++) {
    strcat(big, r ? ", [" : "[");
    for (int c = 0; c < (r == 3 ? 95 : 96); c++) strcat(big, c ? ", 0.5" : "0.5");
    strcat(big, "]");
  }
  strcat(big, "]}");
  expect_error(big, 96, "row 3: expected 96 features, found 95");
  /* Deep nesting is refused by the parser (cJSON's limit is 1000 levels). */
  char *deep = malloc(2 * 3000 + 64);
  strcpy(deep, "{\"features\": ");
  for (int i = 0; i < 3000; i++) strcat(deep, "[");
  for (int i = 0; i < 3000; i++) strcat(deep, "]");
  strcat(deep, "}");
  expect_error(deep, 3, "malformed JSON");
  free(deep);
  /* NUL and 0x01-0x1f are no whitespace, after the value or inside it (tk/wire.h). */
  float *x = NULL;
  size_t rows;
  CHECK_ERR(tk_wire_parse_request("{\"features\": [1]}\0", 18, 1, &x, &rows), "control byte 0x00");
  CHECK_ERR(tk_wire_parse_request("{\"features\":\0[1]}", 17, 1, &x, &rows),
            "control byte 0x00 in the JSON at line 1, column 13");
  expect_error("{\"features\":\x01[1]}", 1, "control byte 0x01");
  expect_error("{\"features\":\n\t[1]\x1f}", 1, "control byte 0x1f");
}

static void check_response(const float *l, size_t rows, size_t out, const float *w, size_t e,
                           const char *expected) {
  char *json = NULL;
  size_t len = 0;
  CHECK_OK(tk_wire_format_response(l, rows, out, w, e, &json, &len));
  CHECK_MSG(json && !strcmp(json, expected) && len == strlen(expected), "got %s\nexpected %s",
            json ? json : "(null)", expected);
  free(json);
}

static void test_format(void) {
  const float l[4] = {1.0f, 0.5f, -2.5f, 1e-7f}, w[4] = {0.25f, 0.0f, 0.0f, 0.1f};
  check_response(l, 2, 2, w, 2,
                 "{\"logits\": [[1, 0.5], [-2.5, 1.00000001e-07]], "
                 "\"router_weights\": [[0.25, 0], [0, 0.100000001]]}");
  check_response(l, 1, 2, NULL, 0, "{\"logits\": [[1, 0.5]], \"router_weights\": []}");
  const float odd[4] = {NAN, INFINITY, -INFINITY, -0.0f};
  check_response(odd, 1, 4, NULL, 0,
                 "{\"logits\": [[null, 1e99, -1e99, -0]], \"router_weights\": []}");
  check_response((const float[]){FLT_MAX, FLT_MIN}, 1, 2, NULL, 0,
                 "{\"logits\": [[3.40282347e+38, 1.17549435e-38]], \"router_weights\": []}");
  char *json = (char *)1;
  CHECK_ERR(tk_wire_format_response(l, 0, 2, NULL, 0, &json, NULL), "rows >= 1");
  CHECK(json == NULL);
  CHECK_ERR(tk_wire_format_response(l, 1, 2, w, 0, &json, NULL), "router_weights exactly");
  CHECK_OK(tk_wire_format_error("row 1: \"x\"\n\\", &json, NULL));
  CHECK(json && !strcmp(json, "{\"error\": \"row 1: \\\"x\\\"\\u000a\\\\\"}"));
  free(json);
}

/* Random floats of every magnitude: print as logits, parse back as features, compare bits. */
static void test_round_trip(void) {
  enum { ROWS = 7, COLS = 13 };
  float v[ROWS * COLS];
  uint64_t s = 42;
  for (int i = 0; i < ROWS * COLS; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t bits = (uint32_t)(s >> 32);
    memcpy(&v[i], &bits, sizeof bits);
    if (!isfinite(v[i])) v[i] = (float)i;
  }
  v[0] = FLT_MAX;
  v[1] = -FLT_TRUE_MIN;
  char *json = NULL;
  CHECK_OK(tk_wire_format_response(v, ROWS, COLS, NULL, 0, &json, NULL));
  if (!json) return;
  /* {"logits": [...], "router_weights": []} → {"features": [...]} */
  char *start = strchr(json, '['), *end = strstr(json, ", \"router_weights\"");
  CHECK(start && end);
  size_t n = (size_t)(end - start);
  char *request = malloc(n + 32);
  snprintf(request, n + 32, "{\"features\": %.*s}", (int)n, start);
  float *x = NULL;
  size_t rows = 0;
  CHECK_OK(tk_wire_parse_request(request, strlen(request), COLS, &x, &rows));
  CHECK(rows == ROWS && x && !memcmp(x, v, sizeof v));
  free(x);
  free(request);
  free(json);
}

int main(void) {
  test_parse_ok();
  test_parse_errors();
  test_format();
  test_round_trip();
  TEST_MAIN_END();
}
