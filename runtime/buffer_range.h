/* runtime/buffer_range.h — the one bounds check every launcher (cpu, hip, cuda) applies to a
 * buffer read or write: a valid buffer id, and [offset, offset + size) inside its bytes.
 * Private to runtime/. */
#ifndef TK_RUNTIME_BUFFER_RANGE_H
#define TK_RUNTIME_BUFFER_RANGE_H

#include <stdint.h>

#include "tk/status.h"

static inline tk_status tk_buffer_range_check(const int64_t *bytes, int32_t nbuffers, int32_t id,
                                              int64_t offset, int64_t size) {
  if (id < 0 || id >= nbuffers)
    return tk_status_make(TK_OUT_OF_RANGE, "buffer id %d: expected 0 to %d", id, nbuffers - 1);
  if (offset < 0 || size < 0 || offset > bytes[id] || size > bytes[id] - offset)
    return tk_status_make(TK_OUT_OF_RANGE, "buffer %d: bytes [%lld, +%lld) outside its %lld bytes",
                          id, (long long)offset, (long long)size, (long long)bytes[id]);
  return TK_STATUS_OK;
}

#endif
