/* verify/cache.c — proofs shared across the verifier contexts of one compile (verify.h
 * tk_verify_cache): an open-addressing table from a query file's sha256 to the rlimit and
 * needs_hypotheses its proof recorded. The hash is uniform, so its first 16 hex digits pick
 * the slot; the table doubles at half full. */
#include <stdlib.h>
#include <string.h>

#include "tk/alloc.h"
#include "verify/verify_internal.h"

typedef struct cache_entry {
  char hash[65]; /* "" = empty slot */
  uint64_t used;
  bool needs_hyps;
} cache_entry;

struct tk_verify_cache {
  cache_entry *slots;
  size_t cap, n, hits; /* cap: 0 or a power of two */
};

tk_status tk_verify_cache_create(tk_verify_cache **out) {
  *out = tk_calloc(1, sizeof **out);
  return *out ? TK_STATUS_OK : tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
}

void tk_verify_cache_free(tk_verify_cache *c) {
  if (!c) return;
  free(c->slots);
  free(c);
}

size_t tk_verify_cache_hits(const tk_verify_cache *c) { return c ? c->hits : 0; }

/* The first 16 hex digits of the hash as a number, masked to the table. */
static size_t slot_of(const char hash[65], size_t cap) {
  uint64_t x = 0;
  for (int i = 0; i < 16; i++) {
    char d = hash[i];
    x = x << 4 | (uint64_t)(d <= '9' ? d - '0' : d - 'a' + 10);
  }
  return (size_t)x & (cap - 1);
}

/* The slot holding hash, or the empty slot where it would go (cap > 0, never full). */
static cache_entry *probe(cache_entry *slots, size_t cap, const char hash[65]) {
  for (size_t i = slot_of(hash, cap);; i = (i + 1) & (cap - 1))
    if (!slots[i].hash[0] || !strcmp(slots[i].hash, hash)) return &slots[i];
}

bool tk_verify_cache_find(tk_verify_cache *c, const char hash[65], uint64_t *used,
                          bool *needs_hyps) {
  if (!c->cap) return false;
  const cache_entry *e = probe(c->slots, c->cap, hash);
  if (!e->hash[0]) return false;
  *used = e->used;
  *needs_hyps = e->needs_hyps;
  c->hits++;
  return true;
}

static tk_status grow(tk_verify_cache *c) {
  size_t cap = c->cap ? 2 * c->cap : 1024;
  cache_entry *slots = tk_calloc(cap, sizeof *slots);
  if (!slots) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
  for (size_t i = 0; i < c->cap; i++)
    if (c->slots[i].hash[0]) *probe(slots, cap, c->slots[i].hash) = c->slots[i];
  free(c->slots);
  c->slots = slots;
  c->cap = cap;
  return TK_STATUS_OK;
}

tk_status tk_verify_cache_add(tk_verify_cache *c, const char hash[65], uint64_t used,
                              bool needs_hyps) {
  if (2 * (c->n + 1) > c->cap) TK_RETURN_IF_ERROR(grow(c));
  cache_entry *e = probe(c->slots, c->cap, hash);
  if (e->hash[0]) return TK_STATUS_OK; /* proved before: the first proof's record stays */
  memcpy(e->hash, hash, 65);
  e->used = used;
  e->needs_hyps = needs_hyps;
  c->n++;
  return TK_STATUS_OK;
}
