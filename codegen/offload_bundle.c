/* codegen/offload_bundle.c — writes the clang offload bundle of offload_bundle.h.
 *
 * Two passes over the entries: the layout (header size, then each code object's offset
 * aligned up to TK_OFFLOAD_ALIGN after the previous one's end, the host entry's empty object
 * included), then the bytes into one zeroed buffer, so padding is always zero and the output
 * depends on nothing but the inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/offload_bundle.h"
#include "tk/alloc.h"

enum { GFX_MAX = 64, ID_MAX = 96 };

typedef struct entry {
  char id[ID_MAX];
  size_t id_len;
  const unsigned char *data;
  size_t size;
  size_t offset;
} entry;

static tk_status check_gfx(const char *const *gfx, int i) {
  const char *g = gfx[i];
  size_t n = g ? strlen(g) : 0;
  if (n == 0 || n >= GFX_MAX || strspn(g, "abcdefghijklmnopqrstuvwxyz0123456789:+-") != n)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "offload bundle: gfx[%d] \"%s\": expected a "
                          "processor name such as gfx90a (letters, digits, ':', '+', '-'; "
                          "at most %d characters)",
                          i, g ? g : "(null)", GFX_MAX - 1);
  for (int j = 0; j < i; j++)
    if (strcmp(gfx[j], g) == 0)
      return tk_status_make(TK_INVALID_ARGUMENT, "offload bundle: gfx \"%s\" given twice", g);
  return TK_STATUS_OK;
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static size_t align_up(size_t v) {
  return (v + TK_OFFLOAD_ALIGN - 1) / TK_OFFLOAD_ALIGN * TK_OFFLOAD_ALIGN;
}

/* Fills entries (host first) and returns the total file size in *out_size. */
static tk_status layout(const char *const *gfx, const tk_cg_blob *objects, int n, entry *e,
                        size_t *out_size) {
  e[0] = (entry){.id_len = strlen(TK_OFFLOAD_HOST_ID)};
  memcpy(e[0].id, TK_OFFLOAD_HOST_ID, e[0].id_len);
  for (int i = 0; i < n; i++) {
    TK_RETURN_IF_ERROR(check_gfx(gfx, i));
    if (!objects[i].data || objects[i].size == 0)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "offload bundle: the code object for %s is "
                            "empty",
                            gfx[i]);
    entry *x = &e[i + 1];
    *x = (entry){.data = objects[i].data, .size = objects[i].size};
    x->id_len = (size_t)snprintf(x->id, sizeof x->id, "%s%s", TK_OFFLOAD_HIP_PREFIX, gfx[i]);
  }
  size_t end = strlen(TK_OFFLOAD_BUNDLE_MAGIC) + 8;
  for (int i = 0; i <= n; i++) end += 24 + e[i].id_len;
  for (int i = 0; i <= n; i++) {
    e[i].offset = align_up(end);
    end = e[i].offset + e[i].size;
  }
  *out_size = end;
  return TK_STATUS_OK;
}

tk_status tk_cg_offload_bundle_hip(const char *const *gfx, const tk_cg_blob *objects, int n,
                                   tk_cg_blob *out) {
  out->data = NULL;
  out->size = 0;
  if (n < 1 || n > 256)
    return tk_status_make(TK_INVALID_ARGUMENT, "offload bundle: %d code objects, expected 1..256",
                          n);
  entry *e = tk_calloc((size_t)n + 1, sizeof *e);
  if (!e) return tk_status_make(TK_RESOURCE_EXHAUSTED, "offload bundle: out of memory");
  size_t size = 0;
  tk_status s = layout(gfx, objects, n, e, &size);
  unsigned char *buf = s ? NULL : tk_calloc(size + 1, 1);
  if (!s && !buf) s = tk_status_make(TK_RESOURCE_EXHAUSTED, "offload bundle: out of memory");
  if (!s) {
    size_t magic = strlen(TK_OFFLOAD_BUNDLE_MAGIC), p = magic + 8;
    memcpy(buf, TK_OFFLOAD_BUNDLE_MAGIC, magic);
    put_u64(buf + magic, (uint64_t)n + 1);
    for (int i = 0; i <= n; i++) {
      put_u64(buf + p, e[i].offset);
      put_u64(buf + p + 8, e[i].size);
      put_u64(buf + p + 16, e[i].id_len);
      memcpy(buf + p + 24, e[i].id, e[i].id_len);
      p += 24 + e[i].id_len;
      if (e[i].size) memcpy(buf + e[i].offset, e[i].data, e[i].size);
    }
    out->data = buf;
    out->size = size;
  }
  free(e);
  return s;
}
