/* runtime/checkpoint.c — checkpoint.tkp1: structural reader, validation, streaming writer.
 *
 * Reader (docs/formats.md §2). The file is read into memory once, through one descriptor that
 * must be a regular file (runtime/fs.h; a FIFO or device is refused), or a caller's byte range
 * is used, and parsed once into a record table whose pointers point into those bytes. It is
 * read, not mapped: a file truncated or rewritten while mapped would raise SIGBUS or change the
 * weights after validation; a copy is exactly what was validated (issue 14).
 * Guarantees of tk_checkpoint_open*: magic "TKP1" and version 1; every length is bounded
 * against the bytes left before anything is touched (element counts are widened to 64 bits
 * before ×4, so 0xFFFFFFFF elements cannot wrap); has_grad is 0 or 1; the records end exactly
 * at the end of the file. The record table is sized by the bytes present, not by the count
 * field, so a forged count cannot force a huge allocation. Every error message names the
 * file, the record (index, and name once read), the field, and the byte offset.
 *
 * Validation checks what an arch expects: names and order, element counts, the record
 * count, the config's arch_fingerprint (only when the blob is a JSON object holding one),
 * and, unless allowed, that every weight is finite.
 *
 * Writer: an inference checkpoint (m and v empty, param-local step 0, no grad) streamed
 * through a 1 MiB stdio buffer into `.<base>.tmp.XXXXXX` beside the target; commit fsyncs,
 * closes and renames it into place, and any failure removes the temp file, so a failed write
 * leaves nothing behind. The final file is mode 0644.
 */
#include "tk/checkpoint.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime/fs.h"
#include "runtime/runtime_internal.h"
#include "tk/alloc.h"

/* docs/formats.md §2: the file is little-endian; integers and weights are read with memcpy from the
 * bytes as host values, which is only correct on a little-endian host. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "checkpoint.tkp1 is little-endian and is read in place: little-endian hosts only");

enum {
  TKP1_VERSION = 1,
  NAME_SHOWN = 64,              /* at most this many name bytes in a message */
  MIN_RECORD_BYTES = 5 * 4 + 1, /* name_len, weight_len, m_len, v_len, step, has_grad */
  WRITE_BUFFER = 1 << 20,
};

struct tk_checkpoint {
  char *source; /* the path (or the caller's name), for messages */
  const uint8_t *data;
  size_t size;
  char *owned; /* the file's bytes when opened from a file, else NULL */
  uint32_t version, step, count;
  const char *config;
  uint32_t config_len;
  tk_checkpoint_record *records; /* count entries once parsed */
};

/* ---- Messages ----------------------------------------------------------------------------- */

/* A record name for a message: printable ASCII kept, other bytes as '?', long names cut. */
static void show_name(const char *name, uint32_t len, char buf[NAME_SHOWN + 4]) {
  uint32_t n = len < NAME_SHOWN ? len : NAME_SHOWN;
  for (uint32_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)name[i];
    buf[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  strcpy(buf + n, len > NAME_SHOWN ? "..." : "");
}

/* ---- Structural parse ------------------------------------------------------------------- */

typedef struct cursor {
  const tk_checkpoint *ckpt;
  size_t off;       /* next byte to read */
  bool in_record;   /* false while reading the header */
  uint32_t record;  /* index of the record being read */
  const char *name; /* its name, once read (else NULL) */
  uint32_t name_len;
} cursor;

static size_t bytes_left(const cursor *c) { return c->ckpt->size - c->off; }

/* "header", "record 3 of 14" or "record 3 of 14 (\"expert_0.param_1\")". */
static void describe(const cursor *c, char *buf, size_t n) {
  if (!c->in_record) {
    snprintf(buf, n, "header");
    return;
  }
  char name[NAME_SHOWN + 4] = "";
  if (c->name) show_name(c->name, c->name_len, name);
  snprintf(buf, n, c->name ? "record %u of %u (\"%s\")" : "record %u of %u%s", c->record,
           c->ckpt->count, name);
}

static tk_status too_short(const cursor *c, const char *field, uint64_t need, const char *why) {
  char where[NAME_SHOWN + 64];
  describe(c, where, sizeof where);
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "%s: %s: %s%s needs %llu bytes at byte %zu, only %zu left (file "
                        "truncated or length field wrong)",
                        c->ckpt->source, where, field, why, (unsigned long long)need, c->off,
                        bytes_left(c));
}

static tk_status take_bytes(cursor *c, const char *field, uint64_t n, const uint8_t **out) {
  if (n > bytes_left(c)) return too_short(c, field, n, "");
  *out = c->ckpt->data + c->off;
  c->off += (size_t)n;
  return TK_STATUS_OK;
}

static tk_status read_u32(cursor *c, const char *field, uint32_t *out) {
  const uint8_t *p = NULL;
  TK_RETURN_IF_ERROR(take_bytes(c, field, 4, &p));
  memcpy(out, p, 4); /* little-endian host: see the static assert */
  return TK_STATUS_OK;
}

/* A u32 element count `len_field`, then that many f32 (`field`). */
static tk_status take_f32_array(cursor *c, const char *len_field, const char *field,
                                uint32_t *out_len, const void **out_data) {
  TK_RETURN_IF_ERROR(read_u32(c, len_field, out_len));
  uint64_t bytes = (uint64_t)*out_len * 4; /* < 2^34: cannot wrap */
  if (bytes > bytes_left(c)) {
    char why[64];
    snprintf(why, sizeof why, " (%s %u × 4 bytes)", len_field, *out_len);
    return too_short(c, field, bytes, why);
  }
  const uint8_t *p = NULL;
  TK_RETURN_IF_ERROR(take_bytes(c, field, bytes, &p));
  *out_data = p;
  return TK_STATUS_OK;
}

static tk_status parse_header(cursor *c, tk_checkpoint *k) {
  const uint8_t *magic = NULL;
  TK_RETURN_IF_ERROR(take_bytes(c, "magic", 4, &magic));
  if (memcmp(magic, "TKP1", 4) != 0)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: header: magic: expected \"TKP1\" (54 4b 50 31), found %02x %02x "
                          "%02x %02x: not a checkpoint.tkp1 file",
                          k->source, magic[0], magic[1], magic[2], magic[3]);
  TK_RETURN_IF_ERROR(read_u32(c, "version", &k->version));
  if (k->version != TKP1_VERSION)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: header: version: expected %d, found %u",
                          k->source, TKP1_VERSION, k->version);
  TK_RETURN_IF_ERROR(read_u32(c, "step", &k->step));
  TK_RETURN_IF_ERROR(read_u32(c, "count", &k->count));
  TK_RETURN_IF_ERROR(read_u32(c, "config_len", &k->config_len));
  const uint8_t *config = NULL;
  TK_RETURN_IF_ERROR(take_bytes(c, "config", k->config_len, &config));
  k->config = (const char *)config;
  return TK_STATUS_OK;
}

static tk_status parse_record(cursor *c, tk_checkpoint_record *r) {
  *r = (tk_checkpoint_record){.offset = c->off};
  TK_RETURN_IF_ERROR(read_u32(c, "name_len", &r->name_len));
  const uint8_t *name = NULL;
  TK_RETURN_IF_ERROR(take_bytes(c, "name", r->name_len, &name));
  r->name = (const char *)name;
  c->name = r->name;
  c->name_len = r->name_len;
  const void *skipped = NULL;
  TK_RETURN_IF_ERROR(take_f32_array(c, "weight_len", "weight", &r->weight_len, &r->weights));
  TK_RETURN_IF_ERROR(take_f32_array(c, "m_len", "m", &r->m_len, &skipped));
  TK_RETURN_IF_ERROR(take_f32_array(c, "v_len", "v", &r->v_len, &skipped));
  TK_RETURN_IF_ERROR(read_u32(c, "step", &r->step));
  const uint8_t *has_grad = NULL;
  TK_RETURN_IF_ERROR(take_bytes(c, "has_grad", 1, &has_grad));
  if (*has_grad > 1) {
    char where[NAME_SHOWN + 64];
    describe(c, where, sizeof where);
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: %s: has_grad: expected 0 or 1, found %u at byte %zu",
                          c->ckpt->source, where, *has_grad, c->off - 1);
  }
  r->has_grad = *has_grad == 1;
  if (r->has_grad)
    TK_RETURN_IF_ERROR(take_f32_array(c, "grad_len", "grad", &r->grad_len, &skipped));
  return TK_STATUS_OK;
}

static tk_status parse_all(tk_checkpoint *k) {
  cursor c = {.ckpt = k};
  TK_RETURN_IF_ERROR(parse_header(&c, k));
  /* Each parsed record consumed >= MIN_RECORD_BYTES, so at most bytes_left / MIN_RECORD_BYTES
   * records can parse: the table never needs more entries than that, whatever count says. */
  size_t capacity = bytes_left(&c) / MIN_RECORD_BYTES;
  if (k->count < capacity) capacity = k->count;
  k->records = tk_calloc(capacity ? capacity : 1, sizeof *k->records);
  if (!k->records)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: out of memory for %zu records", k->source,
                          capacity);
  c.in_record = true;
  for (c.record = 0; c.record < k->count; c.record++) {
    c.name = NULL;
    tk_checkpoint_record r;
    TK_RETURN_IF_ERROR(parse_record(&c, &r));
    k->records[c.record] = r; /* c.record < capacity: see above */
  }
  if (bytes_left(&c) != 0)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: %zu trailing bytes after the last of %u records (at byte %zu; the "
                          "file must end there)",
                          k->source, bytes_left(&c), k->count, c.off);
  return TK_STATUS_OK;
}

/* ---- Open / close ----------------------------------------------------------------------- */

static tk_status checkpoint_new(const char *source, tk_checkpoint **out) {
  tk_checkpoint *k = tk_calloc(1, sizeof *k);
  char *copy = tk_strdup(source ? source : "<memory>");
  if (!k || !copy) {
    free(k);
    free(copy);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory opening checkpoint %s", source);
  }
  k->source = copy;
  *out = k;
  return TK_STATUS_OK;
}

/* Parses k's bytes; on success hands k to *out, else closes it. */
static tk_status parse_or_close(tk_checkpoint *k, tk_checkpoint **out) {
  tk_status status = parse_all(k);
  if (status) {
    tk_checkpoint_close(k);
    return status;
  }
  *out = k;
  return TK_STATUS_OK;
}

tk_status tk_checkpoint_open_memory(const void *data, size_t size, const char *name,
                                    tk_checkpoint **out) {
  *out = NULL;
  if (!data && size)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: NULL data with size %zu", name, size);
  tk_checkpoint *k = NULL;
  TK_RETURN_IF_ERROR(checkpoint_new(name, &k));
  k->data = data;
  k->size = size;
  return parse_or_close(k, out);
}

tk_status tk_checkpoint_open(const char *path, tk_checkpoint **out) {
  *out = NULL;
  tk_checkpoint *k = NULL;
  TK_RETURN_IF_ERROR(checkpoint_new(path, &k));
  char *bytes = NULL;
  size_t size = 0;
  tk_status status = tk_fs_read_regular(path, SIZE_MAX - 1, &bytes, &size);
  if (status) {
    tk_checkpoint_close(k);
    return status;
  }
  k->owned = bytes;
  k->data = (const uint8_t *)bytes;
  k->size = size;
  return parse_or_close(k, out);
}

void tk_checkpoint_close(tk_checkpoint *ckpt) {
  if (!ckpt) return;
  free(ckpt->owned);
  free(ckpt->records);
  free(ckpt->source);
  free(ckpt);
}

/* ---- Getters -------------------------------------------------------------------------- */

uint32_t tk_checkpoint_version(const tk_checkpoint *ckpt) { return ckpt->version; }
uint32_t tk_checkpoint_step(const tk_checkpoint *ckpt) { return ckpt->step; }
uint32_t tk_checkpoint_record_count(const tk_checkpoint *ckpt) { return ckpt->count; }

const tk_checkpoint_record *tk_checkpoint_record_at(const tk_checkpoint *ckpt, uint32_t i) {
  return i < ckpt->count ? &ckpt->records[i] : NULL;
}

const char *tk_checkpoint_config(const tk_checkpoint *ckpt, uint32_t *out_len) {
  *out_len = ckpt->config_len;
  return ckpt->config;
}

static bool name_is(const tk_checkpoint_record *r, const char *name) {
  size_t n = strlen(name);
  return r->name_len == n && memcmp(r->name, name, n) == 0;
}

int64_t tk_checkpoint_find(const tk_checkpoint *ckpt, const char *name) {
  for (uint32_t i = 0; i < ckpt->count; i++)
    if (name_is(&ckpt->records[i], name)) return i;
  return -1;
}

void tk_checkpoint_weights_copy(const tk_checkpoint_record *record, uint64_t first, uint64_t count,
                                float *dst) {
  assert(first <= record->weight_len && count <= record->weight_len - first);
  /* The bytes are packed (unaligned) little-endian f32; the host is little-endian. */
  memcpy(dst, (const uint8_t *)record->weights + first * 4, count * 4);
}

/* ---- Validation against an arch ---------------------------------------------------------- */

/* Name and element count of record i against expect[i]. */
static tk_status check_record(const tk_checkpoint *k, uint32_t i,
                              const tk_checkpoint_expect *expect, size_t n_expect) {
  const tk_checkpoint_record *r = &k->records[i];
  char found[NAME_SHOWN + 4];
  show_name(r->name, r->name_len, found);
  if (!name_is(r, expect[i].name)) {
    char hint[NAME_SHOWN + 80] = "";
    for (size_t j = 0; j < n_expect; j++)
      if (j != i && name_is(r, expect[j].name))
        snprintf(hint, sizeof hint, " (the arch puts \"%s\" at record %zu: records out of order)",
                 found, j);
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: record %u: name: expected \"%s\", found \"%s\"%s", k->source, i,
                          expect[i].name, found, hint);
  }
  if (r->weight_len != expect[i].count)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: record %u (\"%s\"): weight_len: expected %llu elements, found %u",
                          k->source, i, found, (unsigned long long)expect[i].count, r->weight_len);
  return TK_STATUS_OK;
}

static tk_status check_record_count(const tk_checkpoint *k, const tk_checkpoint_expect *expect,
                                    size_t n_expect) {
  if (k->count == n_expect) return TK_STATUS_OK;
  char first[NAME_SHOWN + 4];
  if (k->count < n_expect)
    snprintf(first, sizeof first, "%s", expect[k->count].name);
  else
    show_name(k->records[n_expect].name, k->records[n_expect].name_len, first);
  return tk_status_make(
      TK_INVALID_ARGUMENT, "%s: header: count: expected %zu records, found %u (first %s: \"%s\")",
      k->source, n_expect, k->count, k->count < n_expect ? "missing" : "extra", first);
}

/* A config whose first non-blank byte is '{' is JSON (tkc writes one, docs/formats.md §2.5). */
static bool config_is_json(const tk_checkpoint *k) {
  for (uint32_t i = 0; i < k->config_len; i++) {
    char c = k->config[i];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return c == '{';
  }
  return false;
}

/* docs/formats.md §2.3: a config that is JSON must be one object with no NUL byte, so that an
 * arch_fingerprint in it is always seen (a NUL or trailing bytes used to hide a wrong one);
 * its arch_fingerprint, if any, must be the arch's. Any other blob is fine. */
static tk_status check_fingerprint(const tk_checkpoint *k, const char *fingerprint) {
  if (!config_is_json(k)) return TK_STATUS_OK;
  const char *nul = memchr(k->config, 0, k->config_len);
  if (nul)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: config: a JSON config (it begins with '{') holds a NUL byte at "
                          "offset %td: expected one JSON object",
                          k->source, nul - k->config);
  char *text = tk_malloc((size_t)k->config_len + 1);
  if (!text)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: out of memory reading the config", k->source);
  memcpy(text, k->config, k->config_len);
  text[k->config_len] = '\0';
  bool oom = false;
  cJSON *root = tk_json_parse(text, (size_t)k->config_len + 1, NULL, true, &oom);
  free(text);
  if (oom)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: out of memory reading the config", k->source);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: config: begins with '{' but is not one JSON object (malformed, "
                          "or bytes after it): expected a JSON object",
                          k->source);
  }
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "arch_fingerprint");
  tk_status status = TK_STATUS_OK;
  if (item && !cJSON_IsString(item))
    status = tk_status_make(TK_INVALID_ARGUMENT,
                            "%s: config: arch_fingerprint: expected the string \"%s\", found a "
                            "non-string value",
                            k->source, fingerprint);
  else if (item && strcmp(item->valuestring, fingerprint) != 0)
    status = tk_status_make(TK_INVALID_ARGUMENT,
                            "%s: config: arch_fingerprint: expected \"%s\" (the arch's), found "
                            "\"%.64s\": the checkpoint was made for another arch",
                            k->source, fingerprint, item->valuestring);
  cJSON_Delete(root);
  return status;
}

static tk_status check_finite(const tk_checkpoint *k, uint32_t i) {
  const tk_checkpoint_record *r = &k->records[i];
  const uint8_t *p = r->weights;
  for (uint32_t j = 0; j < r->weight_len; j++) {
    uint32_t bits;
    memcpy(&bits, p + (size_t)j * 4, 4);
    if ((bits & 0x7f800000u) != 0x7f800000u) continue; /* exponent all ones: NaN or ±Inf */
    char name[NAME_SHOWN + 4];
    show_name(r->name, r->name_len, name);
    const char *what = (bits & 0x007fffffu) ? "NaN" : (bits >> 31) ? "-Inf" : "+Inf";
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: record %u (\"%s\"): weight[%u]: expected a finite value, found %s "
                          "(bits 0x%08x); non-finite weights are rejected unless allowed",
                          k->source, i, name, j, what, bits);
  }
  return TK_STATUS_OK;
}

tk_status tk_checkpoint_validate(const tk_checkpoint *ckpt, const tk_checkpoint_expect *expect,
                                 size_t n_expect, const tk_checkpoint_validate_options *options) {
  tk_checkpoint_validate_options defaults = {0};
  if (!options) options = &defaults;
  uint32_t common = ckpt->count < n_expect ? ckpt->count : (uint32_t)n_expect;
  for (uint32_t i = 0; i < common; i++) TK_RETURN_IF_ERROR(check_record(ckpt, i, expect, n_expect));
  TK_RETURN_IF_ERROR(check_record_count(ckpt, expect, n_expect));
  if (options->fingerprint) TK_RETURN_IF_ERROR(check_fingerprint(ckpt, options->fingerprint));
  if (!options->allow_nonfinite)
    for (uint32_t i = 0; i < ckpt->count; i++) TK_RETURN_IF_ERROR(check_finite(ckpt, i));
  return TK_STATUS_OK;
}

/* ---- Streaming writer ---------------------------------------------------------------------- */

struct tk_checkpoint_writer {
  char *path, *tmp_path;
  FILE *file;
  uint32_t record_count, added;
};

/* "dir/.base.tmp.XXXXXX" for "dir/base" (mkstemp template), or NULL (no memory). */
static char *temp_template(const char *path) {
  const char *slash = strrchr(path, '/');
  int dir_len = slash ? (int)(slash - path + 1) : 0;
  const char *base = path + dir_len;
  size_t n = strlen(path) + sizeof "..tmp.XXXXXX";
  char *tmp = tk_malloc(n);
  if (tmp) snprintf(tmp, n, "%.*s.%s.tmp.XXXXXX", dir_len, path, base);
  return tmp;
}

static tk_status write_error(const tk_checkpoint_writer *w, const char *what) {
  return tk_status_make(TK_IO_ERROR, "%s: writing %s to the temp file %s failed: %s", w->path, what,
                        w->tmp_path, strerror(errno ? errno : EIO));
}

static tk_status write_bytes(tk_checkpoint_writer *w, const void *data, size_t n,
                             const char *what) {
  errno = 0;
  if (n && fwrite(data, 1, n, w->file) != n) return write_error(w, what);
  return TK_STATUS_OK;
}

static tk_status write_u32(tk_checkpoint_writer *w, uint32_t v, const char *what) {
  return write_bytes(w, &v, 4, what); /* little-endian host: see the static assert */
}

static tk_status write_header(tk_checkpoint_writer *w, uint32_t step, const char *config,
                              uint32_t config_len) {
  TK_RETURN_IF_ERROR(write_bytes(w, "TKP1", 4, "the magic"));
  TK_RETURN_IF_ERROR(write_u32(w, TKP1_VERSION, "the version"));
  TK_RETURN_IF_ERROR(write_u32(w, step, "the step"));
  TK_RETURN_IF_ERROR(write_u32(w, w->record_count, "the count"));
  TK_RETURN_IF_ERROR(write_u32(w, config_len, "config_len"));
  return write_bytes(w, config, config_len, "the config");
}

/* Creates the temp file and the writer around it (no header yet). */
static tk_status writer_open(const char *path, uint32_t record_count, tk_checkpoint_writer **out) {
  tk_checkpoint_writer *w = tk_calloc(1, sizeof *w);
  if (w) {
    w->path = tk_strdup(path);
    w->tmp_path = temp_template(path);
  }
  if (!w || !w->path || !w->tmp_path) {
    tk_checkpoint_writer_abort(w);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: out of memory for a checkpoint writer", path);
  }
  w->record_count = record_count;
  int fd = mkstemp(w->tmp_path);
  if (fd < 0) {
    tk_status s = tk_status_make(TK_IO_ERROR, "%s: cannot create the temp file %s: %s", path,
                                 w->tmp_path, strerror(errno));
    free(w->tmp_path);
    w->tmp_path = NULL; /* nothing to remove */
    tk_checkpoint_writer_abort(w);
    return s;
  }
  w->file = fdopen(fd, "wb");
  if (!w->file) {
    tk_status s =
        tk_status_make(TK_IO_ERROR, "%s: fdopen on %s: %s", path, w->tmp_path, strerror(errno));
    close(fd);
    tk_checkpoint_writer_abort(w);
    return s;
  }
  setvbuf(w->file, NULL, _IOFBF, WRITE_BUFFER);
  *out = w;
  return TK_STATUS_OK;
}

tk_status tk_checkpoint_writer_create(const char *path, uint32_t step, const char *config,
                                      uint32_t record_count, tk_checkpoint_writer **out) {
  *out = NULL;
  size_t config_len = config ? strlen(config) : 0;
  if (config_len > UINT32_MAX)
    return tk_status_make(TK_OUT_OF_RANGE, "%s: config of %zu bytes exceeds the u32 config_len",
                          path, config_len);
  tk_checkpoint_writer *w = NULL;
  TK_RETURN_IF_ERROR(writer_open(path, record_count, &w));
  tk_status status = TK_STATUS_OK;
  if (fchmod(fileno(w->file), 0644) != 0)
    status = tk_status_make(TK_IO_ERROR, "%s: chmod on %s: %s", path, w->tmp_path, strerror(errno));
  if (!status) status = write_header(w, step, config, (uint32_t)config_len);
  if (status) {
    tk_checkpoint_writer_abort(w);
    return status;
  }
  *out = w;
  return TK_STATUS_OK;
}

tk_status tk_checkpoint_writer_add(tk_checkpoint_writer *w, const char *name, const float *weights,
                                   uint32_t weight_len) {
  if (w->added >= w->record_count)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: record \"%.64s\" would be record %u, but the header declares %u",
                          w->path, name, w->added, w->record_count);
  size_t name_len = strlen(name);
  if (name_len > UINT32_MAX)
    return tk_status_make(TK_OUT_OF_RANGE, "%s: record %u: name of %zu bytes exceeds u32", w->path,
                          w->added, name_len);
  /* docs/formats.md §2 record: name, weights, m_len = 0, v_len = 0, step = 0, has_grad = 0. */
  static const uint8_t tail[13] = {0};
  TK_RETURN_IF_ERROR(write_u32(w, (uint32_t)name_len, "name_len"));
  TK_RETURN_IF_ERROR(write_bytes(w, name, name_len, "a name"));
  TK_RETURN_IF_ERROR(write_u32(w, weight_len, "weight_len"));
  TK_RETURN_IF_ERROR(write_bytes(w, weights, (size_t)weight_len * 4, "weights"));
  TK_RETURN_IF_ERROR(write_bytes(w, tail, sizeof tail, "a record tail"));
  w->added++;
  return TK_STATUS_OK;
}

/* Flushes, fsyncs and closes the temp file, then renames it to the target. */
static tk_status writer_finish(tk_checkpoint_writer *w) {
  if (w->added != w->record_count)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: %u records written, the header declares %u",
                          w->path, w->added, w->record_count);
  errno = 0;
  if (fflush(w->file) != 0) return write_error(w, "buffered data");
  if (fsync(fileno(w->file)) != 0) return write_error(w, "fsync");
  int rc = fclose(w->file);
  w->file = NULL;
  if (rc != 0) return write_error(w, "close");
  if (rename(w->tmp_path, w->path) != 0)
    return tk_status_make(TK_IO_ERROR, "%s: renaming the temp file %s into place failed: %s",
                          w->path, w->tmp_path, strerror(errno));
  return TK_STATUS_OK;
}

tk_status tk_checkpoint_writer_commit(tk_checkpoint_writer *w) {
  tk_status status = writer_finish(w);
  if (status) {
    tk_checkpoint_writer_abort(w);
    return status;
  }
  free(w->tmp_path);
  w->tmp_path = NULL; /* renamed: nothing left to remove */
  tk_checkpoint_writer_abort(w);
  return TK_STATUS_OK;
}

/* Closes the temp file if open, removes it if still named, frees the writer. */
void tk_checkpoint_writer_abort(tk_checkpoint_writer *w) {
  if (!w) return;
  if (w->file) fclose(w->file);
  if (w->tmp_path) unlink(w->tmp_path);
  free(w->tmp_path);
  free(w->path);
  free(w);
}
