/* compiler/arch_json.c — the strict JSON object scanner behind tk_arch_parse (see
 * arch_json.h for the contract), and the diagnostics with line:col and a caret.
 *
 * Grammar: RFC 8259 exactly. Whitespace is space, tab, CR, LF; numbers are
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; strings are UTF-8 without raw control
 * characters. Values are scanned, never converted: the caller reads numbers from their raw
 * digits. Every read is bounds-checked against len, so the text need not be NUL-terminated.
 * Decoded strings are never longer than their raw token, so one buffer of len + 1 bytes holds
 * them all.
 */
#include "model/arch_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tk/alloc.h"

enum {
  MAX_DEPTH = 64,    /* nesting of arrays/objects inside the top-level object */
  MAX_MEMBERS = 256, /* an arch.json has 13 keys; this bounds duplicate detection */
  EXCERPT_HALF = 60, /* a long source line is shown as a window of this many bytes each side */
};

typedef struct scanner {
  const tk_arch_json_source *src;
  size_t pos;
  char *out; /* next free byte of the decoded-string buffer; NULL when only checking */
} scanner;

/* ---- Diagnostics ----------------------------------------------------------------------- */

static bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Length of the valid UTF-8 sequence at p (at most avail bytes), or 0 if invalid
 * (overlong forms, UTF-16 surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_sequence_len(const unsigned char *p, size_t avail) {
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else
    return 0;
  if (avail < n || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (!is_continuation(p[i])) return 0;
  return n;
}

static void position_of(const tk_arch_json_source *src, size_t offset, int *line, int *col) {
  *line = 1, *col = 1;
  for (size_t i = 0; i < offset && i < src->len; i++) {
    unsigned char c = (unsigned char)src->text[i];
    if (c == '\n')
      ++*line, *col = 1;
    else if (!is_continuation(c))
      ++*col;
  }
}

/* Writes the source line around offset into `line` (control bytes and invalid UTF-8 shown
 * as '?', long lines cut to a window marked "...") and the matching caret line into `caret`.
 * Both buffers hold 4 * EXCERPT_HALF + 16 bytes. */
static void excerpt(const tk_arch_json_source *src, size_t offset, char *line, char *caret) {
  const unsigned char *t = (const unsigned char *)src->text;
  size_t start = offset, end = offset;
  while (start > 0 && t[start - 1] != '\n') start--;
  while (end < src->len && t[end] != '\n' && t[end] != '\r') end++;
  size_t from = start, to = end;
  if (offset - start > EXCERPT_HALF) from = offset - EXCERPT_HALF;
  if (end - offset > EXCERPT_HALF) to = offset + EXCERPT_HALF;
  while (from < offset && is_continuation(t[from])) from++;
  while (to > offset && to < end && is_continuation(t[to])) to--;
  size_t nl = 0, nc = 0;
  if (from > start) memcpy(line, "...", 3), memcpy(caret, "   ", 3), nl = nc = 3;
  for (size_t i = from; i < to;) {
    size_t n = utf8_sequence_len(t + i, to - i);
    bool shown = n > 0 && (t[i] >= 0x20 || t[i] == '\t') && t[i] != 0x7F;
    if (shown)
      memcpy(line + nl, t + i, n), nl += n;
    else
      line[nl++] = '?', n = n ? n : 1;
    if (i < offset) caret[nc++] = t[i] == '\t' ? '\t' : ' ';
    i += n;
  }
  if (to < end) memcpy(line + nl, "...", 3), nl += 3;
  line[nl] = '\0';
  caret[nc++] = '^';
  caret[nc] = '\0';
}

void tk_arch_json_shown(const tk_arch_json_source *src, size_t offset, size_t len,
                        char out[TK_ARCH_JSON_SHOWN_MAX]) {
  const unsigned char *t = (const unsigned char *)src->text + offset;
  size_t keep = len, n = 0;
  if (len > TK_ARCH_JSON_SHOWN_MAX - 8) {
    keep = TK_ARCH_JSON_SHOWN_MAX - 8;
    while (keep > 0 && is_continuation(t[keep])) keep--;
  }
  for (size_t i = 0; i < keep; i++) {
    unsigned char c = t[i];
    out[n++] = c == '\n' || c == '\r' || c == '\t' ? ' ' : (c < 0x20 || c == 0x7F) ? '?' : (char)c;
  }
  if (keep < len) memcpy(out + n, "...", 3), n += 3;
  out[n] = '\0';
}

tk_status tk_arch_json_error_at(const tk_arch_json_source *src, size_t offset, const char *fmt,
                                ...) {
  char *message = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = tk_vasprintf(&message, fmt, ap);
  va_end(ap);
  if (n < 0) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory formatting an error");
  int line, col;
  position_of(src, offset, &line, &col);
  char text[4 * EXCERPT_HALF + 16], caret[4 * EXCERPT_HALF + 16];
  excerpt(src, offset, text, caret);
  tk_status status = tk_status_make(TK_INVALID_ARGUMENT, "%s:%d:%d: %s\n%6d | %s\n       | %s",
                                    src->name, line, col, message, line, text, caret);
  free(message);
  return status;
}

/* ---- Scanning -------------------------------------------------------------------------- */

static int peek(const scanner *s) {
  return s->pos < s->src->len ? (unsigned char)s->src->text[s->pos] : -1;
}

static void skip_whitespace(scanner *s) {
  for (int c = peek(s); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek(s)) s->pos++;
}

/* "'x'", "end of input" or "byte 0xNN": what the scanner found at its position. */
static const char *found_here(const scanner *s, char buf[16]) {
  int c = peek(s);
  if (c < 0) return "end of input";
  if (c > 0x20 && c < 0x7F)
    snprintf(buf, 16, "'%c'", c);
  else
    snprintf(buf, 16, "byte 0x%02X", (unsigned)c);
  return buf;
}

static tk_status expected(const scanner *s, const char *what) {
  char buf[16];
  return tk_arch_json_error_at(s->src, s->pos, "syntax error: expected %s, found %s", what,
                               found_here(s, buf));
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads "uXXXX" (the backslash already consumed) into *unit. */
static tk_status scan_hex4(scanner *s, unsigned *unit) {
  size_t at = s->pos - 1;
  if (peek(s) != 'u')
    return tk_arch_json_error_at(s->src, at, "syntax error: expected \\u after a high surrogate");
  s->pos++;
  *unit = 0;
  for (int i = 0; i < 4; i++, s->pos++) {
    int h = peek(s) < 0 ? -1 : hex_value(peek(s));
    if (h < 0) return tk_arch_json_error_at(s->src, at, "syntax error: \\u needs 4 hex digits");
    *unit = *unit * 16 + (unsigned)h;
  }
  return TK_STATUS_OK;
}

static void put_utf8(scanner *s, unsigned cp) {
  if (!s->out) return;
  if (cp < 0x80) {
    *s->out++ = (char)cp;
  } else if (cp < 0x800) {
    *s->out++ = (char)(0xC0 | cp >> 6);
    *s->out++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *s->out++ = (char)(0xE0 | cp >> 12);
    *s->out++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *s->out++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *s->out++ = (char)(0xF0 | cp >> 18);
    *s->out++ = (char)(0x80 | (cp >> 12 & 0x3F));
    *s->out++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *s->out++ = (char)(0x80 | (cp & 0x3F));
  }
}

/* A \u escape (the "\" at s->pos - 1), with surrogate pairs; \u0000 is rejected because a
 * decoded string is a C string. */
static tk_status scan_unicode_escape(scanner *s) {
  size_t at = s->pos - 1;
  unsigned unit, low;
  TK_RETURN_IF_ERROR(scan_hex4(s, &unit));
  if (unit == 0) return tk_arch_json_error_at(s->src, at, "\\u0000 is not allowed in a string");
  if (unit >= 0xDC00 && unit <= 0xDFFF)
    return tk_arch_json_error_at(s->src, at, "lone low surrogate \\u%04X in a string", unit);
  if (unit >= 0xD800 && unit <= 0xDBFF) {
    if (peek(s) != '\\')
      return tk_arch_json_error_at(s->src, at,
                                   "high surrogate \\u%04X not followed by a low surrogate", unit);
    s->pos++;
    TK_RETURN_IF_ERROR(scan_hex4(s, &low));
    if (low < 0xDC00 || low > 0xDFFF)
      return tk_arch_json_error_at(s->src, at,
                                   "high surrogate \\u%04X not followed by a low surrogate", unit);
    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
  }
  put_utf8(s, unit);
  return TK_STATUS_OK;
}

static tk_status scan_escape(scanner *s) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  int c = peek(s);
  if (c < 0) return tk_arch_json_error_at(s->src, s->pos - 1, "syntax error: unterminated string");
  s->pos++;
  if (c == 'u') {
    s->pos--;
    return scan_unicode_escape(s);
  }
  const char *hit = c > 0 ? strchr(from, c) : NULL; /* c > 0: strchr also finds the NUL */
  if (!hit)
    return tk_arch_json_error_at(s->src, s->pos - 2, "syntax error: invalid escape in a string");
  if (s->out) *s->out++ = to[hit - from];
  return TK_STATUS_OK;
}

/* A string token at s->pos (which is '"'); decoded into s->out when it is set. */
static tk_status scan_string(scanner *s) {
  size_t start = s->pos++;
  const unsigned char *t = (const unsigned char *)s->src->text;
  for (;;) {
    int c = peek(s);
    if (c < 0 || c == '\n') /* a raw line break cannot be in a string: the quote is missing */
      return tk_arch_json_error_at(s->src, start, "syntax error: unterminated string");
    if (c == '"') break;
    if (c == '\\') {
      s->pos++;
      TK_RETURN_IF_ERROR(scan_escape(s));
      continue;
    }
    if (c < 0x20)
      return tk_arch_json_error_at(s->src, s->pos,
                                   "control character 0x%02X in a string (write it as an escape)",
                                   (unsigned)c);
    size_t n = utf8_sequence_len(t + s->pos, s->src->len - s->pos);
    if (n == 0) return tk_arch_json_error_at(s->src, s->pos, "invalid UTF-8 in a string");
    if (s->out) memcpy(s->out, t + s->pos, n), s->out += n;
    s->pos += n;
  }
  s->pos++;
  if (s->out) *s->out++ = '\0';
  return TK_STATUS_OK;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static tk_status scan_digits(scanner *s, const char *what) {
  if (!is_digit(peek(s))) return expected(s, what);
  while (is_digit(peek(s))) s->pos++;
  return TK_STATUS_OK;
}

static tk_status scan_number(scanner *s, bool *is_integer) {
  size_t start = s->pos;
  if (peek(s) == '-') s->pos++;
  if (peek(s) == '0') {
    s->pos++;
    if (is_digit(peek(s)))
      return tk_arch_json_error_at(s->src, start,
                                   "syntax error: leading zeros are not allowed in a number");
  } else {
    TK_RETURN_IF_ERROR(scan_digits(s, "a digit"));
  }
  *is_integer = true;
  if (peek(s) == '.') {
    s->pos++, *is_integer = false;
    TK_RETURN_IF_ERROR(scan_digits(s, "a digit after '.'"));
  }
  if (peek(s) == 'e' || peek(s) == 'E') {
    s->pos++, *is_integer = false;
    if (peek(s) == '+' || peek(s) == '-') s->pos++;
    TK_RETURN_IF_ERROR(scan_digits(s, "a digit in the exponent"));
  }
  return TK_STATUS_OK;
}

static tk_status scan_literal(scanner *s, const char *word) {
  size_t n = strlen(word);
  if (s->src->len - s->pos < n || memcmp(s->src->text + s->pos, word, n) != 0)
    return expected(s, "a JSON value");
  s->pos += n;
  return TK_STATUS_OK;
}

static tk_status scan_object(scanner *s, int depth, tk_arch_json_object *record);
static tk_status scan_array(scanner *s, int depth);

/* One value of any kind; nested containers are only checked (their strings not decoded). */
static tk_status scan_value(scanner *s, int depth, tk_arch_json_member *m) {
  int c = peek(s);
  m->offset = s->pos;
  m->is_integer = false;
  if (c == '"') {
    m->kind = TK_ARCH_JSON_STRING;
    m->string = s->out;
    TK_RETURN_IF_ERROR(scan_string(s));
    m->string_len = s->out ? (size_t)(s->out - m->string) - 1 : 0;
  } else if (c == '-' || is_digit(c)) {
    m->kind = TK_ARCH_JSON_NUMBER;
    TK_RETURN_IF_ERROR(scan_number(s, &m->is_integer));
  } else if (c == 't' || c == 'f') {
    m->kind = TK_ARCH_JSON_BOOL;
    TK_RETURN_IF_ERROR(scan_literal(s, c == 't' ? "true" : "false"));
  } else if (c == 'n') {
    m->kind = TK_ARCH_JSON_NULL;
    TK_RETURN_IF_ERROR(scan_literal(s, "null"));
  } else if (c == '[' || c == '{') {
    if (depth >= MAX_DEPTH)
      return tk_arch_json_error_at(s->src, s->pos, "nesting deeper than %d levels", MAX_DEPTH);
    m->kind = c == '[' ? TK_ARCH_JSON_ARRAY : TK_ARCH_JSON_OBJECT;
    char *out = s->out;
    s->out = NULL;
    tk_status st = c == '[' ? scan_array(s, depth + 1) : scan_object(s, depth + 1, NULL);
    s->out = out;
    TK_RETURN_IF_ERROR(st);
  } else {
    return expected(s, "a JSON value");
  }
  m->raw_len = s->pos - m->offset;
  return TK_STATUS_OK;
}

static tk_status scan_array(scanner *s, int depth) {
  tk_arch_json_member ignored;
  s->pos++;
  skip_whitespace(s);
  if (peek(s) == ']') return s->pos++, TK_STATUS_OK;
  for (;;) {
    skip_whitespace(s);
    TK_RETURN_IF_ERROR(scan_value(s, depth, &ignored));
    skip_whitespace(s);
    if (peek(s) == ']') return s->pos++, TK_STATUS_OK;
    if (peek(s) != ',') return expected(s, "',' or ']' after an array element");
    s->pos++;
  }
}

/* Appends a member to `record`, rejecting duplicate keys and more than MAX_MEMBERS. */
static tk_status record_member(scanner *s, tk_arch_json_object *record,
                               const tk_arch_json_member *m) {
  for (size_t i = 0; i < record->count; i++)
    if (strcmp(record->members[i].key, m->key) == 0) {
      int line, col;
      char shown[TK_ARCH_JSON_SHOWN_MAX];
      position_of(s->src, record->members[i].key_offset, &line, &col);
      tk_arch_json_shown(s->src, m->key_offset, m->key_raw_len, shown);
      return tk_arch_json_error_at(s->src, m->key_offset,
                                   "duplicate key %s (first at line %d, column %d)", shown, line,
                                   col);
    }
  if (record->count == MAX_MEMBERS)
    return tk_arch_json_error_at(s->src, m->key_offset, "more than %d keys in the object",
                                 MAX_MEMBERS);
  size_t n = record->count;
  if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) { /* capacity 16, 32, 64, ... */
    size_t cap = n ? n * 2 : 16;
    tk_arch_json_member *grown = tk_realloc(record->members, cap * sizeof *grown);
    if (!grown)
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", s->src->name);
    record->members = grown;
  }
  record->members[record->count++] = *m;
  return TK_STATUS_OK;
}

/* An object at s->pos (which is '{'). When `record` is set, its members are kept there. */
static tk_status scan_object(scanner *s, int depth, tk_arch_json_object *record) {
  s->pos++;
  skip_whitespace(s);
  if (peek(s) == '}') return s->pos++, TK_STATUS_OK;
  for (;;) {
    tk_arch_json_member m = {0};
    skip_whitespace(s);
    if (peek(s) != '"') return expected(s, "a key in double quotes");
    m.key_offset = s->pos;
    m.key = s->out;
    TK_RETURN_IF_ERROR(scan_string(s));
    m.key_raw_len = s->pos - m.key_offset;
    skip_whitespace(s);
    if (peek(s) != ':') return expected(s, "':' after the key");
    s->pos++;
    skip_whitespace(s);
    TK_RETURN_IF_ERROR(scan_value(s, depth, &m));
    if (record) TK_RETURN_IF_ERROR(record_member(s, record, &m));
    skip_whitespace(s);
    if (peek(s) == '}') return s->pos++, TK_STATUS_OK;
    if (peek(s) != ',') return expected(s, "',' or '}' after a value");
    s->pos++;
  }
}

static tk_status scan_document(scanner *s, tk_arch_json_object *obj) {
  skip_whitespace(s);
  if (peek(s) != '{') return expected(s, "'{' (an arch.json is one JSON object)");
  TK_RETURN_IF_ERROR(scan_object(s, 0, obj));
  skip_whitespace(s);
  if (s->pos < s->src->len)
    return tk_arch_json_error_at(s->src, s->pos, "trailing characters after the JSON object");
  return TK_STATUS_OK;
}

tk_status tk_arch_json_object_parse(const tk_arch_json_source *src, tk_arch_json_object *out) {
  tk_arch_json_object obj = {.strings = tk_malloc(src->len + 1)};
  if (!obj.strings)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", src->name);
  scanner s = {.src = src, .pos = 0, .out = obj.strings};
  tk_status status = scan_document(&s, &obj);
  if (status) {
    tk_arch_json_object_free(&obj);
    return status;
  }
  *out = obj;
  return TK_STATUS_OK;
}

void tk_arch_json_object_free(tk_arch_json_object *obj) {
  if (!obj) return;
  free(obj->members);
  free(obj->strings);
  *obj = (tk_arch_json_object){0};
}

const tk_arch_json_member *tk_arch_json_object_find(const tk_arch_json_object *obj,
                                                    const char *key) {
  for (size_t i = 0; i < obj->count; i++)
    if (strcmp(obj->members[i].key, key) == 0) return &obj->members[i];
  return NULL;
}

const char *tk_arch_json_kind_name(tk_arch_json_kind kind) {
  switch (kind) {
    case TK_ARCH_JSON_STRING: return "a string";
    case TK_ARCH_JSON_NUMBER: return "a number";
    case TK_ARCH_JSON_BOOL: return "a boolean";
    case TK_ARCH_JSON_NULL: return "null";
    case TK_ARCH_JSON_ARRAY: return "an array";
    case TK_ARCH_JSON_OBJECT: return "an object";
  }
  return "a value";
}

tk_status tk_arch_json_read_file(const char *path, size_t limit, const char *what, char **out,
                                 size_t *out_len) {
  FILE *f = fopen(path, "rb");
  if (!f) return tk_status_make(TK_IO_ERROR, "cannot open '%s': %s", path, strerror(errno));
  char *text = tk_malloc(limit + 1);
  if (!text) {
    fclose(f);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading '%s'", path);
  }
  size_t len = fread(text, 1, limit + 1, f);
  int err = ferror(f) ? errno : 0;
  fclose(f);
  tk_status status = NULL;
  if (err)
    status = tk_status_make(TK_IO_ERROR, "cannot read '%s': %s", path, strerror(err));
  else if (len > limit)
    status = tk_status_make(TK_INVALID_ARGUMENT, "'%s' is larger than %zu bytes, the limit for %s",
                            path, limit, what);
  if (status) {
    free(text);
    return status;
  }
  text[len] = '\0';
  *out = text, *out_len = len;
  return TK_STATUS_OK;
}
