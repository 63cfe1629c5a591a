/* tk/checkpoint.h — checkpoint.tkp1 reader and writer (docs/formats.md §2).
 *
 * The reader reads the file into memory once (a regular file only: a FIFO or device is
 * refused; it is not mapped, so truncating or rewriting the file later changes nothing) and
 * never copies weights again: a record's weights are a pointer into those bytes. The file is
 * packed, so that pointer is NOT 4-byte aligned in general; read it with
 * tk_checkpoint_weights_copy (or memcpy), never as a float *.
 * Moments (m, v) and gradients are skipped without being touched.
 *
 * tk_checkpoint_open checks the file's structure: magic, version, every length bounded by
 * the bytes left, exact consumption. tk_checkpoint_validate then checks it against what an
 * architecture expects: names, order, element counts, the config's arch_fingerprint, and
 * finite weights.
 */
#ifndef TK_CHECKPOINT_H
#define TK_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tk/status.h"

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

typedef struct tk_checkpoint tk_checkpoint;

typedef struct tk_checkpoint_record {
  const char *name; /* NOT NUL-terminated: name_len bytes inside the checkpoint's bytes */
  uint32_t name_len;
  const void *weights;   /* weight_len little-endian f32, unaligned, in the checkpoint's bytes */
  uint32_t weight_len;   /* element count */
  uint32_t m_len, v_len; /* element counts of the skipped AdamW moments */
  uint32_t step;         /* parameter-local step */
  bool has_grad;
  uint32_t grad_len;
  uint64_t offset; /* byte offset of the record in the file (for messages) */
} tk_checkpoint_record;

/* Reads and structurally parses `path`. Caller owns *out (tk_checkpoint_close). */
TK_MUST_USE tk_status tk_checkpoint_open(const char *path, tk_checkpoint **out);
/* Same over a caller-owned byte range that must outlive the checkpoint (tests, fuzzing). */
TK_MUST_USE tk_status tk_checkpoint_open_memory(const void *data, size_t size, const char *name,
                                                tk_checkpoint **out);
void tk_checkpoint_close(tk_checkpoint *ckpt);

uint32_t tk_checkpoint_version(const tk_checkpoint *ckpt);
uint32_t tk_checkpoint_step(const tk_checkpoint *ckpt);
uint32_t tk_checkpoint_record_count(const tk_checkpoint *ckpt);
const tk_checkpoint_record *tk_checkpoint_record_at(const tk_checkpoint *ckpt, uint32_t i);
/* The config blob (not NUL-terminated; may be empty or not JSON). */
const char *tk_checkpoint_config(const tk_checkpoint *ckpt, uint32_t *out_len);
/* Index of the record with this name, or -1. */
int64_t tk_checkpoint_find(const tk_checkpoint *ckpt, const char *name);

/* What an architecture expects of one record. */
typedef struct tk_checkpoint_expect {
  const char *name;
  uint64_t count;
} tk_checkpoint_expect;

typedef struct tk_checkpoint_validate_options {
  const char *fingerprint; /* the arch's; NULL skips the config check */
  bool allow_nonfinite;    /* accept NaN/Inf weights */
} tk_checkpoint_validate_options;

/* Checks names, order, element counts, the config's arch_fingerprint (when the config is a
 * JSON object holding one) and finiteness. Errors name the record, the field, the expected
 * and the found value. */
TK_MUST_USE tk_status tk_checkpoint_validate(const tk_checkpoint *ckpt,
                                             const tk_checkpoint_expect *expect, size_t n_expect,
                                             const tk_checkpoint_validate_options *options);

/* Copies `count` weights starting at element `first` of record i into dst (aligned). */
void tk_checkpoint_weights_copy(const tk_checkpoint_record *record, uint64_t first, uint64_t count,
                                float *dst);

/* ---- Writer ----------------------------------------------------------------------------- */

/* A streaming writer, so a multi-GiB checkpoint never has to sit in memory at once. It
 * writes an inference checkpoint (m and v empty, no grad) to a temp file in the target's
 * directory; commit fsyncs and renames it into place, abort (or any failed call) removes it,
 * so a failed write leaves nothing at `path` or beside it. */
typedef struct tk_checkpoint_writer tk_checkpoint_writer;

TK_MUST_USE tk_status tk_checkpoint_writer_create(const char *path, uint32_t step,
                                                  const char *config, uint32_t record_count,
                                                  tk_checkpoint_writer **out);
/* Appends one record. On error the writer stays valid only for _abort. */
TK_MUST_USE tk_status tk_checkpoint_writer_add(tk_checkpoint_writer *writer, const char *name,
                                               const float *weights, uint32_t weight_len);
/* Checks that record_count records were added, then renames into place and frees writer.
 * On error the temp file is removed and writer is freed too. */
TK_MUST_USE tk_status tk_checkpoint_writer_commit(tk_checkpoint_writer *writer);
/* Removes the temp file and frees writer (NULL allowed). */
void tk_checkpoint_writer_abort(tk_checkpoint_writer *writer);

#pragma GCC visibility pop

#endif /* TK_CHECKPOINT_H */
