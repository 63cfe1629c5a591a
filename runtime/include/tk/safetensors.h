/* tk/safetensors.h — safetensors reader: one file or a sharded checkpoint (docs/formats.md §5).
 *
 * tk_safetensors_open maps every file read-only and never copies weights: a tensor's data is
 * a pointer into a mapping. The data area starts right after the JSON header, whose length is
 * arbitrary, so that pointer is NOT aligned in general; read it with tk_safetensors_read_f32
 * (or memcpy), never as a float *.
 *
 * Opening checks the structure of every file (header length, JSON, each tensor's dtype, shape
 * and data_offsets, no overlaps, no duplicate names) and, for a shard index, that every name
 * of its weight_map is in the shard the index names. tk_safetensors_read_f32 then checks one
 * tensor against what the caller expects (dtype set and shape) and converts it to f32.
 *
 * Ownership: tk_safetensors_open* return a reader the caller owns (tk_safetensors_close,
 * NULL allowed). Tensor descriptors, names and shapes are borrowed from the reader and live
 * until it is closed.
 */
#ifndef TK_SAFETENSORS_H
#define TK_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tk/status.h"

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

/* The dtypes the format defines. Every one is parsed and size-checked; only F32 and BF16
 * convert to f32 (tk_safetensors_read_f32). */
typedef enum tk_safetensors_dtype {
  TK_SAFETENSORS_BOOL,
  TK_SAFETENSORS_U8,
  TK_SAFETENSORS_I8,
  TK_SAFETENSORS_F8_E4M3,
  TK_SAFETENSORS_F8_E5M2,
  TK_SAFETENSORS_I16,
  TK_SAFETENSORS_U16,
  TK_SAFETENSORS_F16,
  TK_SAFETENSORS_BF16,
  TK_SAFETENSORS_I32,
  TK_SAFETENSORS_U32,
  TK_SAFETENSORS_F32,
  TK_SAFETENSORS_I64,
  TK_SAFETENSORS_U64,
  TK_SAFETENSORS_F64,
  TK_SAFETENSORS_DTYPE_COUNT
} tk_safetensors_dtype;

/* A set of dtypes for tk_safetensors_read_f32: a bit per dtype. */
#define TK_SAFETENSORS_DTYPE_BIT(d) (1u << (d))
#define TK_SAFETENSORS_F32_OR_BF16 \
  (TK_SAFETENSORS_DTYPE_BIT(TK_SAFETENSORS_F32) | TK_SAFETENSORS_DTYPE_BIT(TK_SAFETENSORS_BF16))

enum { TK_SAFETENSORS_MAX_RANK = 8 }; /* a header with a longer shape is rejected */

typedef struct tk_safetensors_tensor {
  const char *name; /* NUL-terminated */
  const char *file; /* the file that holds it, as opened (for messages) */
  tk_safetensors_dtype dtype;
  uint32_t rank;
  uint64_t shape[TK_SAFETENSORS_MAX_RANK]; /* rank entries used */
  uint64_t numel;                          /* product of shape (1 for rank 0) */
  const void *data;                        /* `bytes` bytes inside the mapping, unaligned */
  uint64_t bytes;                          /* numel × dtype size */
} tk_safetensors_tensor;

typedef struct tk_safetensors tk_safetensors;

/* Opens `path`: a `*.safetensors` file, a shard index `*.safetensors.index.json` (shards are
 * resolved in the index's directory), or a directory holding `model.safetensors` or else
 * `model.safetensors.index.json`. Caller owns *out (tk_safetensors_close). */
TK_MUST_USE tk_status tk_safetensors_open(const char *path, tk_safetensors **out);
/* One safetensors file from a caller-owned byte range that must outlive the reader (tests,
 * fuzzing); `name` is used in messages. */
TK_MUST_USE tk_status tk_safetensors_open_memory(const void *data, size_t size, const char *name,
                                                 tk_safetensors **out);
void tk_safetensors_close(tk_safetensors *st);

/* The tensors of all files, sorted by name (strcmp); at(i) is NULL for i >= count. */
size_t tk_safetensors_count(const tk_safetensors *st);
const tk_safetensors_tensor *tk_safetensors_at(const tk_safetensors *st, size_t i);
/* The tensor with this name, or NULL. */
const tk_safetensors_tensor *tk_safetensors_find(const tk_safetensors *st, const char *name);

/* "F32", "BF16", ... as the format spells them; dtype size in bytes (F8_*: 1). */
const char *tk_safetensors_dtype_name(tk_safetensors_dtype dtype);
size_t tk_safetensors_dtype_size(tk_safetensors_dtype dtype);

/* Checks that tensor `name` exists, that its dtype is in `dtypes` (a set of
 * TK_SAFETENSORS_DTYPE_BIT; 0 means TK_SAFETENSORS_F32_OR_BF16) and that its shape is
 * shape[0..rank), then writes its numel values to dst as f32: F32 copied, BF16 widened
 * exactly. A dtype in `dtypes` that does not convert to f32 is TK_UNAVAILABLE ("unsupported").
 * Errors name the file, the tensor, what was found and what was expected; dst is untouched
 * on error. */
TK_MUST_USE tk_status tk_safetensors_read_f32(const tk_safetensors *st, const char *name,
                                              uint32_t dtypes, uint32_t rank, const uint64_t *shape,
                                              float *dst);
/* The same checks, then only elements [first, first + count) of the tensor (row-major) to dst:
 * one slice of a tensor that stacks several (a fused experts tensor). TK_OUT_OF_RANGE when the
 * range passes the tensor's numel. */
TK_MUST_USE tk_status tk_safetensors_read_f32_range(const tk_safetensors *st, const char *name,
                                                    uint32_t dtypes, uint32_t rank,
                                                    const uint64_t *shape, uint64_t first,
                                                    uint64_t count, float *dst);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif /* TK_SAFETENSORS_H */
