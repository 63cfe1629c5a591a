/* model/arch_json.h — a strict scanner for the flat JSON object of an arch.json
 * (docs/formats.md §1); private to compiler/.
 *
 * Why not cJSON (docs/toolchain.md §7): it keeps no source positions, keeps duplicate keys, stores
 * numbers as doubles (a u64 seed above 2^53 is lost) and accepts leading zeros and \u0000.
 * This scanner reads exactly one JSON object (RFC 8259 grammar, no extensions) and gives every
 * member's decoded key, its value kind, its raw token text (numbers are read from their
 * digits by the caller) and its byte offset for diagnostics. Nested arrays and objects are
 * checked for syntax and returned as one raw token: the caller reports them as field errors.
 *
 * Guarantees: never reads outside text[0, len); rejects duplicate keys, trailing garbage,
 * leading zeros, raw control characters and invalid UTF-8 in strings, lone surrogates and
 * \u0000; syntax errors read "name:line:col: message" followed by the source line and a
 * caret under the column.
 */
#ifndef TK_COMPILER_ARCH_JSON_H
#define TK_COMPILER_ARCH_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "tk/status.h"

/* The text being read; `name` (a path) is used in messages only. Borrowed, not copied. */
typedef struct tk_arch_json_source {
  const char *text;
  size_t len;
  const char *name;
} tk_arch_json_source;

typedef enum tk_arch_json_kind {
  TK_ARCH_JSON_STRING,
  TK_ARCH_JSON_NUMBER,
  TK_ARCH_JSON_BOOL,
  TK_ARCH_JSON_NULL,
  TK_ARCH_JSON_ARRAY,
  TK_ARCH_JSON_OBJECT,
} tk_arch_json_kind;

typedef struct tk_arch_json_member {
  const char *key;    /* decoded UTF-8, NUL-terminated (no NUL inside) */
  size_t key_offset;  /* the key's raw token (quotes included) is */
  size_t key_raw_len; /* text[key_offset, key_offset + key_raw_len) */
  tk_arch_json_kind kind;
  const char *string; /* decoded value, NUL-terminated; TK_ARCH_JSON_STRING only */
  size_t string_len;
  bool is_integer;        /* a number token without fraction or exponent */
  size_t offset, raw_len; /* the value's raw token is text[offset, offset + raw_len) */
} tk_arch_json_member;

/* A parsed object: members in source order. Owns its members and decoded strings. */
typedef struct tk_arch_json_object {
  tk_arch_json_member *members;
  size_t count;
  char *strings; /* storage for every decoded key and string */
} tk_arch_json_object;

/* Parses src->text as exactly one JSON object. *out is written only on success; release it
 * with tk_arch_json_object_free. */
TK_MUST_USE tk_status tk_arch_json_object_parse(const tk_arch_json_source *src,
                                                tk_arch_json_object *out);
void tk_arch_json_object_free(tk_arch_json_object *obj);

/* The member with exactly this key (byte comparison), or NULL. */
const tk_arch_json_member *tk_arch_json_object_find(const tk_arch_json_object *obj,
                                                    const char *key);

/* "a string", "a number", "a boolean", "null", "an array", "an object". */
const char *tk_arch_json_kind_name(tk_arch_json_kind kind);

/* Raw source text [offset, offset + len) made fit for a message: at most 48 bytes (cut at a
 * character boundary, then "..."), line breaks and tabs as spaces, other control bytes '?'. */
enum { TK_ARCH_JSON_SHOWN_MAX = 56 };
void tk_arch_json_shown(const tk_arch_json_source *src, size_t offset, size_t len,
                        char out[TK_ARCH_JSON_SHOWN_MAX]);

/* A TK_INVALID_ARGUMENT status "name:line:col: <message>" followed by the source line around
 * `offset` and a caret under its column (columns count UTF-8 characters, from 1). */
TK_MUST_USE tk_status tk_arch_json_error_at(const tk_arch_json_source *src, size_t offset,
                                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads the whole file at `path` into *out (NUL-terminated, caller frees) and its length;
 * TK_IO_ERROR if it cannot be read, TK_INVALID_ARGUMENT if it is longer than `limit` bytes
 * ("'path' is larger than N bytes, the limit for <what>"). */
TK_MUST_USE tk_status tk_arch_json_read_file(const char *path, size_t limit, const char *what,
                                             char **out, size_t *out_len);

#endif /* TK_COMPILER_ARCH_JSON_H */
