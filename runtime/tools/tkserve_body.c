/* runtime/tools/tkserve_body.c — request bodies under one memory budget, and the shape scan
 * that bounds what parsing a body may cost before it is parsed.
 *
 * Budget (--max-buffered): st->buffered counts the capacity of every body buffer alive, on all
 * connections and in the queue. Capacity is reserved (compare-and-swap, never over the budget)
 * before it is allocated and returned when the buffer is freed, so the bytes tkserve holds for
 * request bodies never exceed the budget, however many clients send at once. A body with a
 * Content-Length reserves it whole on the headers and allocates it on its first byte (one
 * allocation, never copied; pages become resident as bytes arrive, so a client that announces
 * 16 MiB and sends nothing costs budget, not memory); a chunked body grows by doubling,
 * reserving each step.
 *
 * Shape scan: one pass over the bytes with O(1) state: strings are skipped (escapes honoured),
 * nesting depth tracked. `values` counts every JSON value that a tree parser (cJSON: one node
 * of ~64 bytes + malloc overhead each) would allocate: each container, and each scalar, whose
 * count is at most one more than the commas of its container. It is an upper bound for any
 * body, well-formed or not, so rejecting on it before cJSON runs bounds the parse's memory.
 * `rows` counts arrays opened at depth 3, the rows of {"features": [[...], ...]}.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tools/tkserve.h"
#include "tk/alloc.h"

/* ---- Budget ------------------------------------------------------------------------------- */

static bool budget_reserve(tkserve_state *st, size_t n) {
  size_t used = atomic_load(&st->buffered);
  do {
    if (n > st->config.max_buffered - used) return false;
  } while (!atomic_compare_exchange_weak(&st->buffered, &used, used + n));
  return true;
}

static void budget_release(tkserve_state *st, size_t n) {
  if (n) atomic_fetch_sub(&st->buffered, n);
}

/* Makes the reservation at least `cap` bytes. */
static tkserve_take reserve_to(tkserve_state *st, tkserve_body *b, size_t cap) {
  if (cap <= b->reserved) return TKSERVE_TAKE_OK;
  if (!budget_reserve(st, cap - b->reserved)) return TKSERVE_TAKE_NO_BUDGET;
  b->reserved = cap;
  return TKSERVE_TAKE_OK;
}

tkserve_take tkserve_body_reserve(tkserve_state *st, tkserve_body *b, size_t n) {
  if (n > st->config.max_body) return TKSERVE_TAKE_TOO_LARGE;
  return reserve_to(st, b, n);
}

tkserve_take tkserve_body_take(tkserve_state *st, tkserve_body *b, const char *data, size_t n) {
  if (n > st->config.max_body - b->len) return TKSERVE_TAKE_TOO_LARGE;
  size_t need = b->len + n;
  if (need > b->cap) {
    size_t cap = b->reserved >= need ? b->reserved : (b->cap ? b->cap : 4096);
    while (cap < need) cap = cap > st->config.max_body / 2 ? st->config.max_body : cap * 2;
    if (cap > st->config.max_body) cap = st->config.max_body; /* need <= max_body */
    tkserve_take t = reserve_to(st, b, cap);
    if (t != TKSERVE_TAKE_OK) return t;
    /* a Content-Length body is allocated whole on its first piece: one allocation, no copy */
    char *grown = tk_realloc(b->data, cap);
    if (!grown) return TKSERVE_TAKE_NO_BUDGET;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return TKSERVE_TAKE_OK;
}

void tkserve_body_free(tkserve_state *st, tkserve_body *b) {
  free(b->data);
  budget_release(st, b->reserved);
  *b = (tkserve_body){0};
}

/* ---- Shape scan --------------------------------------------------------------------------- */

tkserve_shape tkserve_body_shape(const char *body, size_t len) {
  tkserve_shape s = {.rows = 0, .values = 1};
  size_t depth = 0;
  for (size_t i = 0; i < len; i++) {
    char c = body[i];
    if (c == '"') { /* a string: skip to its closing quote */
      for (i++; i < len && body[i] != '"'; i++)
        if (body[i] == '\\') i++;
    } else if (c == '[' || c == '{') {
      depth++;
      s.values += 2; /* the container, and the first element it may hold */
      if (c == '[' && depth == 3) s.rows++;
    } else if (c == ']' || c == '}') {
      if (depth) depth--;
    } else if (c == ',') {
      s.values++;
    }
  }
  if (!s.rows) s.rows = 1; /* a single row {"features": [...]} */
  return s;
}
