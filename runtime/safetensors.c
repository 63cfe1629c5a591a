/* runtime/safetensors.c — safetensors reader: single files and shard indexes (docs/formats.md §5).
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of JSON, then the
 * data area. The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin,
 * end]} (offsets relative to the data area), plus an optional "__metadata__" object of
 * strings. A sharded checkpoint is an index JSON whose "weight_map" maps each tensor name to
 * a shard file in the index's directory.
 *
 * Every file is opened O_NONBLOCK (a FIFO cannot hang the open), must be a regular file, and
 * is mapped read-only; nothing is copied. Guarantees once tk_safetensors_open* succeed: N is at
 * most 100 MiB and inside the file; the header is one JSON object (trailing spaces allowed, as
 * writers pad with them) with no duplicate keys; every tensor has exactly the three fields, a
 * known dtype, a shape of at most TK_SAFETENSORS_MAX_RANK integers, begin <= end inside the data
 * area, and end - begin == numel × dtype size (all products checked for overflow); no two
 * tensors share a byte; no name appears twice in the whole checkpoint; every weight_map entry
 * is held by the shard it names, and shard names are plain file names (no '/', not "." or
 * ".."), so nothing outside the index's directory is opened. Every message names the file and,
 * where there is one, the tensor.
 */
#include "tk/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "tk/alloc.h"

/* The header length and the F32/BF16 values are read in place as host values. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors is little-endian and is read in place: little-endian hosts only");

enum {
  LENGTH_BYTES = 8,       /* the u64 header length */
  MAX_HEADER = 100 << 20, /* 100 MiB: the limit the reference implementation uses */
  NAME_SHOWN = 96,        /* at most this many name bytes in a message */
  SHAPE_SHOWN = 24 * TK_SAFETENSORS_MAX_RANK + 4, /* "[d0, d1, ...]" */
};
#define MAX_EXACT_INTEGER 9007199254740992.0 /* 2^53: cJSON numbers are doubles */

static const struct {
  const char *name;
  size_t size;
} kDtypes[TK_SAFETENSORS_DTYPE_COUNT] = {
    [TK_SAFETENSORS_BOOL] = {"BOOL", 1},       [TK_SAFETENSORS_U8] = {"U8", 1},
    [TK_SAFETENSORS_I8] = {"I8", 1},           [TK_SAFETENSORS_F8_E4M3] = {"F8_E4M3", 1},
    [TK_SAFETENSORS_F8_E5M2] = {"F8_E5M2", 1}, [TK_SAFETENSORS_I16] = {"I16", 2},
    [TK_SAFETENSORS_U16] = {"U16", 2},         [TK_SAFETENSORS_F16] = {"F16", 2},
    [TK_SAFETENSORS_BF16] = {"BF16", 2},       [TK_SAFETENSORS_I32] = {"I32", 4},
    [TK_SAFETENSORS_U32] = {"U32", 4},         [TK_SAFETENSORS_F32] = {"F32", 4},
    [TK_SAFETENSORS_I64] = {"I64", 8},         [TK_SAFETENSORS_U64] = {"U64", 8},
    [TK_SAFETENSORS_F64] = {"F64", 8},
};

typedef struct st_file {
  char *path;          /* as opened (or the caller's name) */
  void *map;           /* the mapping, or NULL for a caller's byte range */
  const uint8_t *data; /* the whole file */
  size_t size;
} st_file;

struct tk_safetensors {
  st_file *files;
  size_t n_files;
  tk_safetensors_tensor *tensors; /* sorted by name once open succeeds */
  size_t n_tensors, cap_tensors;
};

/* ---- Messages ----------------------------------------------------------------------------- */

/* A name for a message: printable ASCII kept, other bytes as '?', long names cut. */
static const char *shown(const char *name, char buf[NAME_SHOWN + 4]) {
  size_t len = strlen(name), n = len < NAME_SHOWN ? len : NAME_SHOWN;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)name[i];
    buf[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  strcpy(buf + n, len > NAME_SHOWN ? "..." : "");
  return buf;
}

static const char *shape_text(uint32_t rank, const uint64_t *shape, char buf[SHAPE_SHOWN]) {
  size_t used = (size_t)snprintf(buf, SHAPE_SHOWN, "[");
  for (uint32_t i = 0; i < rank && used < SHAPE_SHOWN; i++)
    used += (size_t)snprintf(buf + used, SHAPE_SHOWN - used, "%s%llu", i ? ", " : "",
                             (unsigned long long)shape[i]);
  if (used < SHAPE_SHOWN) snprintf(buf + used, SHAPE_SHOWN - used, "]");
  return buf;
}

static tk_status out_of_memory(const char *path, const char *what) {
  return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: out of memory for %s", path, what);
}

/* ---- Files -------------------------------------------------------------------------------- */

/* Appends an empty file entry named `path` (copied) and returns it. */
static tk_status add_file(tk_safetensors *st, const char *path, st_file **out) {
  st_file *grown = tk_realloc(st->files, (st->n_files + 1) * sizeof *grown);
  if (!grown) return out_of_memory(path, "the file table");
  st->files = grown;
  st_file *f = &st->files[st->n_files];
  *f = (st_file){.path = tk_strdup(path)};
  if (!f->path) return out_of_memory(path, "its name");
  st->n_files++;
  *out = f;
  return TK_STATUS_OK;
}

/* Maps f->path read-only (an empty file maps nothing). O_NONBLOCK: opening a FIFO with no
 * writer returns at once, and fstat then rejects it. */
static tk_status map_file(st_file *f) {
  int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return tk_status_make(errno == ENOENT ? TK_NOT_FOUND : TK_IO_ERROR, "%s: cannot open: %s",
                          f->path, strerror(errno));
  struct stat sb;
  tk_status status = TK_STATUS_OK;
  if (fstat(fd, &sb) != 0)
    status = tk_status_make(TK_IO_ERROR, "%s: cannot stat: %s", f->path, strerror(errno));
  else if (!S_ISREG(sb.st_mode))
    status = tk_status_make(TK_INVALID_ARGUMENT, "%s: not a regular file", f->path);
  else if (sb.st_size > 0) {
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
      status = tk_status_make(TK_IO_ERROR, "%s: cannot map %lld bytes: %s", f->path,
                              (long long)sb.st_size, strerror(errno));
    else {
      f->map = map;
      f->data = map;
      f->size = (size_t)sb.st_size;
    }
  }
  close(fd);
  return status;
}

/* ---- One tensor entry --------------------------------------------------------------------- */

/* A JSON number that is a non-negative integer cJSON holds exactly. */
static bool json_uint(const cJSON *item, uint64_t *out) {
  if (!cJSON_IsNumber(item)) return false;
  double d = item->valuedouble;
  if (!(d >= 0 && d <= MAX_EXACT_INTEGER) || (double)(uint64_t)d != d) return false;
  *out = (uint64_t)d;
  return true;
}

static bool dtype_from_name(const char *name, tk_safetensors_dtype *out) {
  for (int d = 0; d < TK_SAFETENSORS_DTYPE_COUNT; d++)
    if (strcmp(kDtypes[d].name, name) == 0) {
      *out = (tk_safetensors_dtype)d;
      return true;
    }
  return false;
}

/* What one header entry says, before it is placed in the data area. */
typedef struct entry {
  const char *file, *name; /* for messages */
  const cJSON *dtype, *shape, *offsets;
} entry;

static tk_status entry_error(const entry *e, const char *fmt, const char *detail) {
  char name[NAME_SHOWN + 4];
  return tk_status_make(TK_INVALID_ARGUMENT, "%s: tensor %s: %s%s", e->file, shown(e->name, name),
                        fmt, detail);
}

/* Sorts the fields of one tensor's object into e: exactly dtype, shape, data_offsets. */
static tk_status entry_fields(const cJSON *object, entry *e) {
  if (!cJSON_IsObject(object))
    return entry_error(e, "expected an object with dtype, shape and data_offsets", "");
  const cJSON *field = NULL;
  cJSON_ArrayForEach(field, object) {
    const cJSON **slot = strcmp(field->string, "dtype") == 0          ? &e->dtype
                         : strcmp(field->string, "shape") == 0        ? &e->shape
                         : strcmp(field->string, "data_offsets") == 0 ? &e->offsets
                                                                      : NULL;
    char key[NAME_SHOWN + 4];
    if (!slot) return entry_error(e, "unknown field ", shown(field->string, key));
    if (*slot) return entry_error(e, "field given twice: ", field->string);
    *slot = field;
  }
  if (!e->dtype) return entry_error(e, "missing field dtype", "");
  if (!e->shape) return entry_error(e, "missing field shape", "");
  if (!e->offsets) return entry_error(e, "missing field data_offsets", "");
  return TK_STATUS_OK;
}

static tk_status entry_dtype(const entry *e, tk_safetensors_tensor *t) {
  char value[NAME_SHOWN + 4];
  if (!cJSON_IsString(e->dtype))
    return entry_error(e, "dtype: expected a string such as \"F32\" or \"BF16\"", "");
  if (!dtype_from_name(e->dtype->valuestring, &t->dtype))
    return entry_error(e, "dtype: not a safetensors dtype: ", shown(e->dtype->valuestring, value));
  return TK_STATUS_OK;
}

static tk_status entry_shape(const entry *e, tk_safetensors_tensor *t) {
  if (!cJSON_IsArray(e->shape))
    return entry_error(e, "shape: expected an array of non-negative integers", "");
  int rank = cJSON_GetArraySize(e->shape);
  if (rank > TK_SAFETENSORS_MAX_RANK) {
    char why[64];
    snprintf(why, sizeof why, "%d dimensions, at most %d supported", rank, TK_SAFETENSORS_MAX_RANK);
    return entry_error(e, "shape: ", why);
  }
  t->rank = (uint32_t)rank;
  t->numel = 1;
  const cJSON *dim = NULL;
  uint32_t i = 0;
  cJSON_ArrayForEach(dim, e->shape) {
    if (!json_uint(dim, &t->shape[i]))
      return entry_error(e, "shape: expected an array of non-negative integers", "");
    if (__builtin_mul_overflow(t->numel, t->shape[i], &t->numel))
      return entry_error(e, "shape: the element count overflows 64 bits", "");
    i++;
  }
  return TK_STATUS_OK;
}

/* data_offsets [begin, end] inside the data area, and end - begin == numel × dtype size. */
static tk_status entry_place(const entry *e, const uint8_t *area, uint64_t area_size,
                             tk_safetensors_tensor *t) {
  uint64_t begin = 0, end = 0;
  if (!cJSON_IsArray(e->offsets) || cJSON_GetArraySize(e->offsets) != 2 ||
      !json_uint(cJSON_GetArrayItem(e->offsets, 0), &begin) ||
      !json_uint(cJSON_GetArrayItem(e->offsets, 1), &end))
    return entry_error(e, "data_offsets: expected [begin, end], two non-negative integers", "");
  char why[SHAPE_SHOWN + 160];
  if (begin > end || end > area_size) {
    snprintf(why, sizeof why, "[%llu, %llu] is not inside the data area of %llu bytes",
             (unsigned long long)begin, (unsigned long long)end, (unsigned long long)area_size);
    return entry_error(e, "data_offsets: ", why);
  }
  size_t size = kDtypes[t->dtype].size;
  if (__builtin_mul_overflow(t->numel, (uint64_t)size, &t->bytes) || t->bytes != end - begin) {
    char shape[SHAPE_SHOWN];
    snprintf(why, sizeof why, "%llu bytes, but shape %s of %s needs %llu × %zu bytes",
             (unsigned long long)(end - begin), shape_text(t->rank, t->shape, shape),
             kDtypes[t->dtype].name, (unsigned long long)t->numel, size);
    return entry_error(e, "data_offsets: ", why);
  }
  t->data = area + begin;
  return TK_STATUS_OK;
}

static tk_status add_tensor(tk_safetensors *st, const st_file *f, const cJSON *object,
                            const uint8_t *area, uint64_t area_size) {
  entry e = {.file = f->path, .name = object->string};
  TK_RETURN_IF_ERROR(entry_fields(object, &e));
  tk_safetensors_tensor t = {.file = f->path};
  TK_RETURN_IF_ERROR(entry_dtype(&e, &t));
  TK_RETURN_IF_ERROR(entry_shape(&e, &t));
  TK_RETURN_IF_ERROR(entry_place(&e, area, area_size, &t));
  if (st->n_tensors == st->cap_tensors) {
    size_t cap = st->cap_tensors ? 2 * st->cap_tensors : 16;
    tk_safetensors_tensor *grown = tk_realloc(st->tensors, cap * sizeof *grown);
    if (!grown) return out_of_memory(f->path, "the tensor table");
    st->tensors = grown;
    st->cap_tensors = cap;
  }
  t.name = tk_strdup(object->string);
  if (!t.name) return out_of_memory(f->path, "a tensor name");
  st->tensors[st->n_tensors++] = t;
  return TK_STATUS_OK;
}

/* ---- One file's header -------------------------------------------------------------------- */

static tk_status check_metadata(const st_file *f, const cJSON *metadata) {
  if (!cJSON_IsObject(metadata))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: __metadata__: expected an object of strings",
                          f->path);
  const cJSON *item = NULL;
  cJSON_ArrayForEach(item, metadata) {
    char key[NAME_SHOWN + 4];
    if (!cJSON_IsString(item))
      return tk_status_make(TK_INVALID_ARGUMENT, "%s: __metadata__: %s: expected a string value",
                            f->path, shown(item->string, key));
  }
  return TK_STATUS_OK;
}

/* Reads the length prefix and returns the header text's bounds. */
static tk_status header_bounds(const st_file *f, const char **out_text, uint64_t *out_len) {
  if (f->size < LENGTH_BYTES)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: truncated: %zu bytes, shorter than the 8-byte header length",
                          f->path, f->size);
  uint64_t n = 0;
  memcpy(&n, f->data, LENGTH_BYTES); /* little-endian host: see the static assert */
  if (n > MAX_HEADER)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: header length %llu exceeds the limit of %d bytes", f->path,
                          (unsigned long long)n, MAX_HEADER);
  if (n > f->size - LENGTH_BYTES)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: header length %llu runs past the end of the file (%zu bytes after "
                          "the length; file truncated or length wrong)",
                          f->path, (unsigned long long)n, f->size - LENGTH_BYTES);
  *out_text = (const char *)f->data + LENGTH_BYTES;
  *out_len = n;
  return TK_STATUS_OK;
}

static tk_status parse_header_json(const st_file *f, cJSON **out) {
  const char *text = NULL;
  uint64_t len = 0;
  TK_RETURN_IF_ERROR(header_bounds(f, &text, &len));
  const char *end = NULL;
  bool oom = false;
  cJSON *root = tk_json_parse(text, (size_t)len, &end, false, &oom);
  if (!root)
    return oom ? out_of_memory(f->path, "the header")
               : tk_status_make(TK_INVALID_ARGUMENT, "%s: header (%llu bytes) is not valid JSON",
                                f->path, (unsigned long long)len);
  while (end < text + len && *end == ' ') end++; /* writers pad the header with spaces */
  const char *why = end < text + len        ? "has bytes after the JSON value"
                    : !cJSON_IsObject(root) ? "is not a JSON object"
                                            : NULL;
  if (why) {
    cJSON_Delete(root);
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: header %s", f->path, why);
  }
  *out = root;
  return TK_STATUS_OK;
}

typedef struct span {
  uint64_t begin, end;
  size_t tensor;
} span;

static int span_order(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->begin != y->begin ? (x->begin < y->begin ? -1 : 1)
                              : (x->end != y->end ? (x->end < y->end ? -1 : 1) : 0);
}

/* No byte of the data area belongs to two tensors (tensors [first, n_tensors) of file f). */
static tk_status check_overlaps(const tk_safetensors *st, const st_file *f, size_t first,
                                const uint8_t *area) {
  size_t n = st->n_tensors - first;
  span *spans = tk_malloc((n ? n : 1) * sizeof *spans);
  if (!spans) return out_of_memory(f->path, "the overlap check");
  for (size_t i = 0; i < n; i++) {
    const tk_safetensors_tensor *t = &st->tensors[first + i];
    uint64_t begin = (uint64_t)((const uint8_t *)t->data - area);
    spans[i] = (span){begin, begin + t->bytes, first + i};
  }
  qsort(spans, n, sizeof *spans, span_order);
  tk_status status = TK_STATUS_OK;
  const span *reach = NULL; /* the non-empty span reaching furthest so far */
  for (size_t i = 0; i < n && !status; i++) {
    if (spans[i].begin == spans[i].end) continue; /* an empty tensor holds no byte */
    if (reach && spans[i].begin < reach->end) {
      char a[NAME_SHOWN + 4], b[NAME_SHOWN + 4];
      status = tk_status_make(
          TK_INVALID_ARGUMENT,
          "%s: tensor %s: data_offsets [%llu, %llu] overlap tensor %s [%llu, %llu]", f->path,
          shown(st->tensors[spans[i].tensor].name, a), (unsigned long long)spans[i].begin,
          (unsigned long long)spans[i].end, shown(st->tensors[reach->tensor].name, b),
          (unsigned long long)reach->begin, (unsigned long long)reach->end);
    }
    if (!reach || spans[i].end > reach->end) reach = &spans[i];
  }
  free(spans);
  return status;
}

/* Parses file f's header and appends its tensors. */
static tk_status parse_file(tk_safetensors *st, const st_file *f) {
  cJSON *root = NULL;
  TK_RETURN_IF_ERROR(parse_header_json(f, &root));
  uint64_t header_len = 0;
  memcpy(&header_len, f->data, LENGTH_BYTES);
  const uint8_t *area = f->data + LENGTH_BYTES + header_len;
  uint64_t area_size = f->size - LENGTH_BYTES - header_len;
  size_t first = st->n_tensors;
  bool has_metadata = false;
  tk_status status = TK_STATUS_OK;
  const cJSON *item = NULL;
  cJSON_ArrayForEach(item, root) {
    if (strcmp(item->string, "__metadata__") == 0) {
      status = has_metadata
                   ? tk_status_make(TK_INVALID_ARGUMENT, "%s: __metadata__ given twice", f->path)
                   : check_metadata(f, item);
      has_metadata = true;
    } else {
      status = add_tensor(st, f, item, area, area_size);
    }
    if (status) break;
  }
  cJSON_Delete(root);
  return status ? status : check_overlaps(st, f, first, area);
}

/* ---- The whole checkpoint ------------------------------------------------------------------ */

static int tensor_order(const void *a, const void *b) {
  return strcmp(((const tk_safetensors_tensor *)a)->name, ((const tk_safetensors_tensor *)b)->name);
}

/* Sorts the table by name and rejects a name given twice (in one file or in two). */
static tk_status sort_and_check_names(tk_safetensors *st) {
  if (st->n_tensors) qsort(st->tensors, st->n_tensors, sizeof *st->tensors, tensor_order);
  for (size_t i = 1; i < st->n_tensors; i++) {
    const tk_safetensors_tensor *a = &st->tensors[i - 1], *b = &st->tensors[i];
    if (strcmp(a->name, b->name) != 0) continue;
    char name[NAME_SHOWN + 4];
    if (a->file == b->file)
      return tk_status_make(TK_INVALID_ARGUMENT, "%s: tensor %s appears twice in the header",
                            a->file, shown(a->name, name));
    return tk_status_make(TK_INVALID_ARGUMENT, "tensor %s appears in both %s and %s",
                          shown(a->name, name), a->file, b->file);
  }
  return TK_STATUS_OK;
}

static tk_status open_single(tk_safetensors *st, const char *path) {
  st_file *f = NULL;
  TK_RETURN_IF_ERROR(add_file(st, path, &f));
  TK_RETURN_IF_ERROR(map_file(f));
  TK_RETURN_IF_ERROR(parse_file(st, f));
  return sort_and_check_names(st);
}

/* ---- Shard index ---------------------------------------------------------------------------- */

/* A shard name must stay in the index's directory: a plain file name. */
static bool plain_file_name(const char *s) {
  return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Checks the weight_map's entries: string values, plain shard names. (A name given twice with
 * two shards fails check_index_agrees: one of the two shards does not hold it.) */
static tk_status check_weight_map(const char *index, const cJSON *map) {
  if (!cJSON_IsObject(map))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: weight_map: expected an object mapping tensor names to shard files",
                          index);
  for (const cJSON *a = map->child; a; a = a->next) {
    char name[NAME_SHOWN + 4], shard[NAME_SHOWN + 4];
    if (!cJSON_IsString(a) || !plain_file_name(a->valuestring))
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "%s: weight_map: tensor %s: shard %s must be a file name in the "
                            "index's directory (no '/', not '.' or '..')",
                            index, shown(a->string, name),
                            cJSON_IsString(a) ? shown(a->valuestring, shard) : "(not a string)");
  }
  return TK_STATUS_OK;
}

/* The directory part of path ("." for a bare name), tk_malloc'd. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return tk_strdup(".");
  return tk_strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Opens each shard the weight_map names, once, in order of first mention. */
static tk_status open_shards(tk_safetensors *st, const char *index, const char *dir,
                             const cJSON *map) {
  for (const cJSON *a = map->child; a; a = a->next) {
    char *path = NULL;
    if (tk_asprintf(&path, "%s/%s", dir, a->valuestring) < 0)
      return out_of_memory(index, "a shard path");
    bool seen = false;
    for (size_t i = 1; i < st->n_files && !seen; i++) seen = strcmp(st->files[i].path, path) == 0;
    st_file *f = NULL;
    tk_status status = seen ? TK_STATUS_OK : add_file(st, path, &f);
    free(path);
    if (!seen && !status) status = map_file(f);
    if (!seen && !status) status = parse_file(st, f);
    char name[NAME_SHOWN + 4];
    if (status)
      return tk_status_annotate(status, "%s: weight_map: shard of tensor %s", index,
                                shown(a->string, name));
  }
  return TK_STATUS_OK;
}

/* Every weight_map entry is held by the shard it names (st sorted by name). */
static tk_status check_index_agrees(const tk_safetensors *st, const char *index, const char *dir,
                                    const cJSON *map) {
  size_t dir_len = strlen(dir);
  for (const cJSON *a = map->child; a; a = a->next) {
    const tk_safetensors_tensor *t = tk_safetensors_find(st, a->string);
    bool held = t && strncmp(t->file, dir, dir_len) == 0 && t->file[dir_len] == '/' &&
                strcmp(t->file + dir_len + 1, a->valuestring) == 0;
    char name[NAME_SHOWN + 4], shard[NAME_SHOWN + 4];
    if (!held)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "%s: weight_map: tensor %s: shard %s/%s does not hold it%s%s", index,
                            shown(a->string, name), dir, shown(a->valuestring, shard),
                            t ? "; it is in " : "", t ? t->file : "");
  }
  return TK_STATUS_OK;
}

/* The index is files[0] (mapped, parsed here, no tensors); the shards follow. */
static tk_status open_index(tk_safetensors *st, const char *path) {
  st_file *f = NULL;
  TK_RETURN_IF_ERROR(add_file(st, path, &f));
  TK_RETURN_IF_ERROR(map_file(f));
  if (f->size > MAX_HEADER)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: %zu bytes, over the limit of %d for an index",
                          path, f->size, MAX_HEADER);
  bool oom = false;
  cJSON *root = tk_json_parse((const char *)f->data, f->size, NULL, false, &oom);
  if (!root)
    return oom ? out_of_memory(path, "the index")
               : tk_status_make(TK_INVALID_ARGUMENT, "%s: not valid JSON", path);
  const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
  char *dir = dir_of(path);
  tk_status status = !map   ? tk_status_make(TK_INVALID_ARGUMENT, "%s: no weight_map", path)
                     : !dir ? out_of_memory(path, "its directory")
                            : check_weight_map(path, map);
  if (!status) status = open_shards(st, path, dir, map);
  if (!status) status = sort_and_check_names(st);
  if (!status) status = check_index_agrees(st, path, dir, map);
  free(dir);
  cJSON_Delete(root);
  return status;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* A directory: its model.safetensors, else its model.safetensors.index.json. */
static tk_status open_dir(tk_safetensors *st, const char *dir) {
  char *single = NULL, *index = NULL;
  tk_status status = TK_STATUS_OK;
  if (tk_asprintf(&single, "%s/model.safetensors", dir) < 0 ||
      tk_asprintf(&index, "%s/model.safetensors.index.json", dir) < 0)
    status = out_of_memory(dir, "a file name");
  else if (exists(single))
    status = open_single(st, single);
  else if (exists(index))
    status = open_index(st, index);
  else
    status = tk_status_make(TK_NOT_FOUND,
                            "%s: no model.safetensors or model.safetensors.index.json in this "
                            "directory",
                            dir);
  free(single);
  free(index);
  return status;
}

static tk_status commit_or_close(tk_safetensors *st, tk_status status, tk_safetensors **out) {
  if (status) {
    tk_safetensors_close(st);
    return status;
  }
  *out = st;
  return TK_STATUS_OK;
}

tk_status tk_safetensors_open(const char *path, tk_safetensors **out) {
  *out = NULL;
  tk_safetensors *st = tk_calloc(1, sizeof *st);
  if (!st) return out_of_memory(path, "the reader");
  struct stat sb;
  tk_status status = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? open_dir(st, path)
                     : ends_with(path, ".index.json")            ? open_index(st, path)
                                                                 : open_single(st, path);
  return commit_or_close(st, status, out);
}

tk_status tk_safetensors_open_memory(const void *data, size_t size, const char *name,
                                     tk_safetensors **out) {
  *out = NULL;
  if (!name) name = "<memory>";
  if (!data && size)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: NULL data with size %zu", name, size);
  tk_safetensors *st = tk_calloc(1, sizeof *st);
  if (!st) return out_of_memory(name, "the reader");
  st_file *f = NULL;
  tk_status status = add_file(st, name, &f);
  if (!status) {
    f->data = data;
    f->size = size;
    status = parse_file(st, f);
  }
  if (!status) status = sort_and_check_names(st);
  return commit_or_close(st, status, out);
}

void tk_safetensors_close(tk_safetensors *st) {
  if (!st) return;
  for (size_t i = 0; i < st->n_tensors; i++) free((char *)st->tensors[i].name);
  for (size_t i = 0; i < st->n_files; i++) {
    if (st->files[i].map) munmap(st->files[i].map, st->files[i].size);
    free(st->files[i].path);
  }
  free(st->tensors);
  free(st->files);
  free(st);
}

/* ---- Lookup and conversion ----------------------------------------------------------------- */

size_t tk_safetensors_count(const tk_safetensors *st) { return st->n_tensors; }

const tk_safetensors_tensor *tk_safetensors_at(const tk_safetensors *st, size_t i) {
  return i < st->n_tensors ? &st->tensors[i] : NULL;
}

const tk_safetensors_tensor *tk_safetensors_find(const tk_safetensors *st, const char *name) {
  tk_safetensors_tensor key = {.name = name};
  return st->n_tensors ? bsearch(&key, st->tensors, st->n_tensors, sizeof key, tensor_order) : NULL;
}

const char *tk_safetensors_dtype_name(tk_safetensors_dtype dtype) {
  return (unsigned)dtype < TK_SAFETENSORS_DTYPE_COUNT ? kDtypes[dtype].name : "?";
}

size_t tk_safetensors_dtype_size(tk_safetensors_dtype dtype) {
  return (unsigned)dtype < TK_SAFETENSORS_DTYPE_COUNT ? kDtypes[dtype].size : 0;
}

/* "F32 or BF16", "F32, BF16 or I32": the names of a dtype set. */
static const char *dtype_set_text(uint32_t dtypes, char *buf, size_t size) {
  size_t used = 0;
  int total = __builtin_popcount(dtypes), k = 0;
  buf[0] = '\0';
  for (int d = 0; d < TK_SAFETENSORS_DTYPE_COUNT && used < size; d++)
    if (dtypes & TK_SAFETENSORS_DTYPE_BIT(d)) {
      k++;
      const char *sep = k == 1 ? "" : k == total ? " or " : ", ";
      used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, kDtypes[d].name);
    }
  return buf;
}

static tk_status check_expected(const tk_safetensors_tensor *t, uint32_t dtypes, uint32_t rank,
                                const uint64_t *shape) {
  char name[NAME_SHOWN + 4], want[SHAPE_SHOWN];
  if (!(dtypes & TK_SAFETENSORS_DTYPE_BIT(t->dtype)))
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: tensor %s: dtype %s, expected %s", t->file,
                          shown(t->name, name), kDtypes[t->dtype].name,
                          dtype_set_text(dtypes, want, sizeof want));
  bool same = t->rank == rank;
  for (uint32_t i = 0; same && i < rank; i++) same = t->shape[i] == shape[i];
  if (!same) {
    char got[SHAPE_SHOWN];
    return tk_status_make(
        TK_INVALID_ARGUMENT, "%s: tensor %s: shape %s, expected %s", t->file, shown(t->name, name),
        shape_text(t->rank, t->shape, got),
        rank <= TK_SAFETENSORS_MAX_RANK ? shape_text(rank, shape, want) : "(a rank above 8)");
  }
  if (t->dtype != TK_SAFETENSORS_F32 && t->dtype != TK_SAFETENSORS_BF16)
    return tk_status_make(TK_UNAVAILABLE,
                          "%s: tensor %s: dtype %s is unsupported here (only F32 and BF16 convert "
                          "to f32)",
                          t->file, shown(t->name, name), kDtypes[t->dtype].name);
  return TK_STATUS_OK;
}

/* BF16 is the top half of an f32: widening is a 16-bit shift, exact for every value. */
static void bf16_to_f32(const uint8_t *src, uint64_t n, float *dst) {
  for (uint64_t i = 0; i < n; i++) {
    uint16_t half = 0;
    memcpy(&half, src + 2 * i, 2);
    uint32_t bits = (uint32_t)half << 16;
    memcpy(&dst[i], &bits, 4);
  }
}

tk_status tk_safetensors_read_f32(const tk_safetensors *st, const char *name, uint32_t dtypes,
                                  uint32_t rank, const uint64_t *shape, float *dst) {
  const tk_safetensors_tensor *t = tk_safetensors_find(st, name);
  return tk_safetensors_read_f32_range(st, name, dtypes, rank, shape, 0, t ? t->numel : 0, dst);
}

tk_status tk_safetensors_read_f32_range(const tk_safetensors *st, const char *name, uint32_t dtypes,
                                        uint32_t rank, const uint64_t *shape, uint64_t first,
                                        uint64_t count, float *dst) {
  const tk_safetensors_tensor *t = tk_safetensors_find(st, name);
  if (!t) {
    char shown_name[NAME_SHOWN + 4];
    return tk_status_make(TK_NOT_FOUND, "%s: no tensor %s (the checkpoint has %zu tensors)",
                          st->n_files ? st->files[0].path : "<safetensors>",
                          shown(name, shown_name), st->n_tensors);
  }
  TK_RETURN_IF_ERROR(check_expected(t, dtypes ? dtypes : TK_SAFETENSORS_F32_OR_BF16, rank, shape));
  if (first > t->numel || count > t->numel - first)
    return tk_status_make(TK_OUT_OF_RANGE, "%s: tensor %s: elements [%llu, %llu) of %llu", t->file,
                          t->name, (unsigned long long)first, (unsigned long long)(first + count),
                          (unsigned long long)t->numel);
  const uint8_t *data = t->data;
  if (t->dtype == TK_SAFETENSORS_F32) /* little-endian host: see the static assert */
    memcpy(dst, data + 4 * first, 4 * count);
  else
    bf16_to_f32(data + 2 * first, count, dst);
  return TK_STATUS_OK;
}
