/* tests/unit/safetensors_test.c — the safetensors reader (runtime/safetensors.c,
 * docs/formats.md §5).
 *
 * Every file is written here byte by byte (u64 length, header JSON, data) in a fresh temp
 * directory, so each case states exactly what the reader sees. Values are chosen so that the
 * expected f32 is known without the reader: F32 bit patterns of exact binary fractions, and
 * BF16 patterns whose f32 is the same bits shifted left by 16 (0x3F80 → 1.0, 0xC010 → -2.25,
 * 0x0001 → 2^-133, the smallest BF16 subnormal).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "tk/alloc.h"
#include "tk/safetensors.h"

static char tmp_dir[] = "/tmp/tk_safetensors_test.XXXXXX";

static char *path_in(const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
  return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
  fclose(f);
}

/* Writes `name` in tmp_dir as: header length (u64 LE, explicit when length != 0 else the
 * header's), header, then `data_len` data bytes; returns its path. */
static char *write_st_len(const char *name, uint64_t length, const char *header, const void *data,
                          size_t data_len) {
  size_t h = strlen(header);
  size_t n = 8 + h + data_len;
  unsigned char *buf = malloc(n);
  uint64_t len = length ? length : h;
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(len >> (8 * i));
  memcpy(buf + 8, header, h);
  if (data_len) memcpy(buf + 8 + h, data, data_len);
  char *path = path_in(name);
  write_bytes(path, buf, n);
  free(buf);
  return path;
}

static char *write_st(const char *name, const char *header, const void *data, size_t data_len) {
  return write_st_len(name, 0, header, data, data_len);
}

/* Expects an error whose message holds both needles (the file and the tensor, say). */
#define CHECK_ERR2(expr, a, b)                                                                     \
  do {                                                                                             \
    tk_status s2_ = (expr);                                                                        \
    const char *m2_ = s2_ ? tk_status_message(s2_) : "OK";                                         \
    CHECK_MSG(s2_ &&strstr(m2_, (a)) && strstr(m2_, (b)),                                          \
              "%s: expected an error naming \"%s\" and \"%s\", got \"%s\"", #expr, (a), (b), m2_); \
    tk_status_free(s2_);                                                                           \
  } while (0)

static tk_status open_path(const char *path) {
  tk_safetensors *st = NULL;
  tk_status s = tk_safetensors_open(path, &st);
  CHECK(s ? st == NULL : st != NULL);
  tk_safetensors_close(st);
  return s;
}

/* ---- Valid files --------------------------------------------------------------------------- */

/* "a": F32 [2, 2] = 1.5, -2.25, 0.125, 1024 (bytes 0..16); "b": BF16 [3] (bytes 16..22). */
static const char kHeaderAB[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[16,22]},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}   ";

static void data_ab(unsigned char out[22]) {
  const float a[4] = {1.5f, -2.25f, 0.125f, 1024.0f};
  const uint16_t b[3] = {0x3F80, 0xC010, 0x0001};
  memcpy(out, a, 16);
  memcpy(out + 16, b, 6);
}

static void check_ab(const tk_safetensors *st) {
  CHECK(tk_safetensors_count(st) == 2);
  const tk_safetensors_tensor *a = tk_safetensors_at(st, 0), *b = tk_safetensors_at(st, 1);
  CHECK(a && strcmp(a->name, "a") == 0 && a->dtype == TK_SAFETENSORS_F32);
  CHECK(a && a->rank == 2 && a->shape[0] == 2 && a->shape[1] == 2 && a->numel == 4);
  CHECK(a && a->bytes == 16);
  CHECK(b && strcmp(b->name, "b") == 0 && b->dtype == TK_SAFETENSORS_BF16);
  CHECK(b && b->rank == 1 && b->shape[0] == 3 && b->bytes == 6);
  CHECK(tk_safetensors_at(st, 2) == NULL);
  CHECK(tk_safetensors_find(st, "b") == b);
  CHECK(tk_safetensors_find(st, "c") == NULL);
  CHECK(tk_safetensors_find(st, "__metadata__") == NULL);

  float fa[4] = {0}, fb[3] = {0};
  CHECK_OK(tk_safetensors_read_f32(st, "a", 0, 2, (const uint64_t[]){2, 2}, fa));
  CHECK(fa[0] == 1.5f && fa[1] == -2.25f && fa[2] == 0.125f && fa[3] == 1024.0f);
  CHECK_OK(
      tk_safetensors_read_f32(st, "b", TK_SAFETENSORS_F32_OR_BF16, 1, (const uint64_t[]){3}, fb));
  CHECK(fb[0] == 1.0f && fb[1] == -2.25f && fb[2] == ldexpf(1.0f, -133) && fb[2] > 0);
}

static void test_single_file(void) {
  unsigned char data[22];
  data_ab(data);
  mkdir(path_in("single"), 0755);
  char *path = write_st("single/model.safetensors", kHeaderAB, data, sizeof data);
  tk_safetensors *st = NULL;
  CHECK_OK(tk_safetensors_open(path, &st));
  if (st) check_ab(st);
  if (st) CHECK(strcmp(tk_safetensors_find(st, "a")->file, path) == 0);
  tk_safetensors_close(st);

  st = NULL; /* the directory finds model.safetensors */
  CHECK_OK(tk_safetensors_open(path_in("single"), &st));
  if (st) check_ab(st);
  tk_safetensors_close(st);

  /* The same bytes from memory. */
  size_t h = strlen(kHeaderAB), n = 8 + h + sizeof data;
  unsigned char *bytes = calloc(1, n);
  bytes[0] = (unsigned char)h;
  bytes[1] = (unsigned char)(h >> 8);
  memcpy(bytes + 8, kHeaderAB, h);
  memcpy(bytes + 8 + h, data, sizeof data);
  st = NULL;
  CHECK_OK(tk_safetensors_open_memory(bytes, n, "mem.safetensors", &st));
  if (st) check_ab(st);
  tk_safetensors_close(st);
  free(bytes);

  CHECK(strcmp(tk_safetensors_dtype_name(TK_SAFETENSORS_BF16), "BF16") == 0);
  CHECK(tk_safetensors_dtype_size(TK_SAFETENSORS_I64) == 8);
  CHECK(tk_safetensors_dtype_size(TK_SAFETENSORS_F8_E4M3) == 1);
}

/* An empty file of headers only and a zero-size tensor are fine. */
static void test_empty_tensors(void) {
  tk_safetensors *st = NULL;
  CHECK_OK(tk_safetensors_open(write_st("empty.safetensors", "{}", NULL, 0), &st));
  if (st) CHECK(tk_safetensors_count(st) == 0);
  tk_safetensors_close(st);
  st = NULL;
  const char *h = "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[2,2]},"
                  "\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
  CHECK_OK(tk_safetensors_open(write_st("zero.safetensors", h, "abcd", 4), &st));
  if (st) CHECK(tk_safetensors_find(st, "z") && tk_safetensors_find(st, "z")->numel == 0);
  tk_safetensors_close(st);
}

static void write_shards(const char *dir) {
  char sub[256];
  mkdir(path_in(dir), 0755);
  const float x[2] = {-0.5f, 3.0f};
  const uint16_t y[2] = {0x4040 /* 3.0 */, 0xBF00 /* -0.5 */};
  snprintf(sub, sizeof sub, "%s/model-00001-of-00002.safetensors", dir);
  write_st(sub, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", x, 8);
  snprintf(sub, sizeof sub, "%s/model-00002-of-00002.safetensors", dir);
  write_st(sub,
           "{\"__metadata__\":{\"format\":\"pt\"},"
           "\"y\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[0,4]}}",
           y, 4);
}

static void write_index(const char *dir, const char *weight_map) {
  char name[256], text[1024];
  snprintf(name, sizeof name, "%s/model.safetensors.index.json", dir);
  snprintf(text, sizeof text, "{\"metadata\":{\"total_size\":12},\"weight_map\":%s}", weight_map);
  write_bytes(path_in(name), text, strlen(text));
}

static const char kGoodMap[] =
    "{\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"}";

static void test_sharded(void) {
  write_shards("sharded");
  write_index("sharded", kGoodMap);
  for (int via_dir = 0; via_dir < 2; via_dir++) {
    tk_safetensors *st = NULL;
    CHECK_OK(tk_safetensors_open(
        via_dir ? path_in("sharded") : path_in("sharded/model.safetensors.index.json"), &st));
    if (!st) continue;
    CHECK(tk_safetensors_count(st) == 2);
    float x[2] = {0}, y[2] = {0};
    CHECK_OK(tk_safetensors_read_f32(st, "x", 0, 1, (const uint64_t[]){2}, x));
    CHECK_OK(tk_safetensors_read_f32(st, "y", 0, 2, (const uint64_t[]){2, 1}, y));
    CHECK(x[0] == -0.5f && x[1] == 3.0f && y[0] == 3.0f && y[1] == -0.5f);
    CHECK(strstr(tk_safetensors_find(st, "y")->file, "model-00002-of-00002.safetensors"));
    tk_safetensors_close(st);
  }
}

/* ---- Errors of one file --------------------------------------------------------------------- */

static void test_truncated(void) {
  unsigned char data[22];
  data_ab(data);
  /* Cut inside the data area: tensor b's end (22) is past the 20 bytes left. */
  CHECK_ERR2(open_path(write_st("cut.safetensors", kHeaderAB, data, 20)), "cut.safetensors",
             "tensor b: data_offsets: [16, 22] is not inside the data area of 20 bytes");
  /* Shorter than the length prefix. */
  write_bytes(path_in("five.safetensors"), "\x10\0\0\0\0", 5);
  CHECK_ERR2(open_path(path_in("five.safetensors")), "five.safetensors", "truncated: 5 bytes");
  write_bytes(path_in("zero-bytes.safetensors"), "", 0);
  CHECK_ERR2(open_path(path_in("zero-bytes.safetensors")), "zero-bytes.safetensors",
             "truncated: 0 bytes");
}

static void test_header_length(void) {
  CHECK_ERR2(open_path(write_st_len("past.safetensors", 1000, "{}", NULL, 0)), "past.safetensors",
             "header length 1000 runs past the end of the file (2 bytes");
  CHECK_ERR2(open_path(write_st_len("huge.safetensors", 200u << 20, "{}", NULL, 0)),
             "huge.safetensors", "header length 209715200 exceeds the limit of 104857600");
  CHECK_ERR2(open_path(write_st_len("max.safetensors", UINT64_MAX, "{}", NULL, 0)),
             "max.safetensors", "exceeds the limit");
}

static void test_overlap(void) {
  const char *h = "{\"first\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"second\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
  CHECK_ERR2(open_path(write_st("overlap.safetensors", h, "0123456789ab", 12)),
             "overlap.safetensors", "tensor second: data_offsets [4, 12] overlap tensor first");
  /* One tensor inside another (sorted by begin, the outer one first). */
  const char *inner = "{\"outer\":{\"dtype\":\"U8\",\"shape\":[12],\"data_offsets\":[0,12]},"
                      "\"inner\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[5,7]}}";
  CHECK_ERR2(open_path(write_st("inner.safetensors", inner, "0123456789ab", 12)),
             "inner.safetensors", "tensor inner: data_offsets [5, 7] overlap tensor outer");
}

static void test_offsets_and_sizes(void) {
  const char *past = "{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}";
  CHECK_ERR2(open_path(write_st("offpast.safetensors", past, "01234567", 8)), "offpast.safetensors",
             "tensor w: data_offsets: [0, 400] is not inside the data area");
  const char *reversed = "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[6,2]}}";
  CHECK_ERR2(open_path(write_st("reversed.safetensors", reversed, "01234567", 8)),
             "reversed.safetensors", "tensor w: data_offsets: [6, 2] is not inside");
  const char *mismatch = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
  CHECK_ERR2(open_path(write_st("numel.safetensors", mismatch, "01234567", 8)), "numel.safetensors",
             "tensor w: data_offsets: 8 bytes, but shape [3] of F32 needs 3 × 4");
  const char *overflow =
      "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,8]}}";
  CHECK_ERR2(open_path(write_st("overflow.safetensors", overflow, "01234567", 8)),
             "overflow.safetensors", "tensor w: shape: the element count overflows 64 bits");
  /* numel fits in 64 bits, numel × 8 does not. */
  const char *bytes_overflow =
      "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,1073741824],\"data_offsets\":[0,8]}}";
  CHECK_ERR2(open_path(write_st("bytes-overflow.safetensors", bytes_overflow, "01234567", 8)),
             "bytes-overflow.safetensors", "tensor w: data_offsets: 8 bytes, but shape");
}

static void test_bad_entries(void) {
  static const struct {
    const char *header, *message;
  } kCases[] = {
      {"{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}",
       "tensor w: dtype: not a safetensors dtype: F33"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
       "tensor w: shape: expected an array of non-negative integers"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}",
       "tensor w: shape: expected an array of non-negative integers"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}",
       "tensor w: shape: 9 dimensions, at most 8 supported"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}",
       "tensor w: data_offsets: expected [begin, end]"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "tensor w: missing field data_offsets"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}",
       "tensor w: unknown field x"},
      {"{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
       "tensor w: field given twice: dtype"},
      {"{\"w\":[1,2]}", "tensor w: expected an object"},
      {"{\"__metadata__\":{\"n\":1}}", "__metadata__: n: expected a string value"},
      {"{\"__metadata__\":{},\"__metadata__\":{}}", "__metadata__ given twice"},
      {"{\"w\":", "header (5 bytes) is not valid JSON"},
      {"[1]", "header is not a JSON object"},
      {"{} x", "header has bytes after the JSON value"},
  };
  for (size_t i = 0; i < sizeof kCases / sizeof kCases[0]; i++)
    CHECK_ERR2(open_path(write_st("entry.safetensors", kCases[i].header, "01234567", 8)),
               "entry.safetensors", kCases[i].message);
}

static void test_duplicate_names(void) {
  const char *h = "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                  "\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}";
  CHECK_ERR2(open_path(write_st("dup.safetensors", h, "0123", 4)), "dup.safetensors",
             "tensor w appears twice");
}

static void test_fifo(void) {
  char *fifo = path_in("fifo.safetensors");
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK_ERR2(open_path(fifo), "fifo.safetensors", "not a regular file");
  /* The same FIFO as a shard of an index. */
  mkdir(path_in("fifo-shard"), 0755);
  CHECK(mkfifo(path_in("fifo-shard/s.safetensors"), 0600) == 0);
  write_index("fifo-shard", "{\"w\":\"s.safetensors\"}");
  CHECK_ERR2(open_path(path_in("fifo-shard/model.safetensors.index.json")), "s.safetensors",
             "not a regular file");
  CHECK_ERR(open_path(path_in("no-such.safetensors")), "no-such.safetensors: cannot open");
}

/* ---- What the caller expects ----------------------------------------------------------------- */

static void test_expectations(void) {
  const char *h = "{\"model.layers.0.mlp.gate.weight\":{\"dtype\":\"BF16\",\"shape\":[4,8],"
                  "\"data_offsets\":[0,64]},"
                  "\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[64,72]}}";
  unsigned char data[72] = {0};
  char *path = write_st("model-00002-of-00003.safetensors", h, data, sizeof data);
  tk_safetensors *st = NULL;
  CHECK_OK(tk_safetensors_open(path, &st));
  if (!st) return;
  float dst[32] = {0};
  dst[0] = 42.0f;
  CHECK_ERR2(tk_safetensors_read_f32(st, "model.layers.0.mlp.gate.weight", 0, 2,
                                     (const uint64_t[]){16, 256}, dst),
             "model-00002-of-00003.safetensors",
             "tensor model.layers.0.mlp.gate.weight: shape [4, 8], expected [16, 256]");
  CHECK_ERR2(tk_safetensors_read_f32(st, "model.layers.0.mlp.gate.weight", 0, 1,
                                     (const uint64_t[]){32}, dst),
             "model-00002-of-00003.safetensors", "shape [4, 8], expected [32]");
  CHECK_ERR2(tk_safetensors_read_f32(st, "model.layers.0.mlp.gate.weight",
                                     TK_SAFETENSORS_DTYPE_BIT(TK_SAFETENSORS_F32), 2,
                                     (const uint64_t[]){4, 8}, dst),
             "tensor model.layers.0.mlp.gate.weight", "dtype BF16, expected F32");
  CHECK_ERR2(tk_safetensors_read_f32(st, "ids", 0, 1, (const uint64_t[]){2}, dst),
             "model-00002-of-00003.safetensors", "tensor ids: dtype I32, expected BF16 or F32");
  tk_status s = tk_safetensors_read_f32(
      st, "ids", TK_SAFETENSORS_F32_OR_BF16 | TK_SAFETENSORS_DTYPE_BIT(TK_SAFETENSORS_I32), 1,
      (const uint64_t[]){2}, dst);
  CHECK(tk_status_code_of(s) == TK_UNAVAILABLE);
  CHECK_MSG(strstr(tk_status_message(s), "tensor ids: dtype I32 is unsupported"), "%s",
            tk_status_message(s));
  tk_status_free(s);
  CHECK_ERR2(tk_safetensors_read_f32(st, "model.layers.0.mlp.experts.3.up_proj.weight", 0, 2,
                                     (const uint64_t[]){4, 8}, dst),
             "model-00002-of-00003.safetensors",
             "no tensor model.layers.0.mlp.experts.3.up_proj.weight");
  CHECK(dst[0] == 42.0f); /* untouched by every failed read */
  tk_safetensors_close(st);
}

/* ---- Errors of a shard index ----------------------------------------------------------------- */

static void test_bad_index(void) {
  write_shards("missing");
  write_index(
      "missing",
      "{\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00003-of-00002.safetensors\"}");
  CHECK_ERR2(open_path(path_in("missing/model.safetensors.index.json")),
             "model-00003-of-00002.safetensors: cannot open", "shard of tensor y");

  write_shards("escape");
  write_index("escape", "{\"x\":\"../single/model.safetensors\"}");
  CHECK_ERR2(open_path(path_in("escape/model.safetensors.index.json")),
             "tensor x: shard ../single/model.safetensors", "must be a file name");
  write_index("escape", "{\"x\":\"..\"}");
  CHECK_ERR(open_path(path_in("escape/model.safetensors.index.json")), "must be a file name");
  write_index("escape", "{\"x\":3}");
  CHECK_ERR(open_path(path_in("escape/model.safetensors.index.json")), "(not a string)");

  /* The index names a shard that does not hold the tensor. */
  write_shards("wrong");
  write_index(
      "wrong",
      "{\"x\":\"model-00002-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"}");
  CHECK_ERR2(open_path(path_in("wrong/model.safetensors.index.json")), "tensor x",
             "model-00002-of-00002.safetensors does not hold it");
  write_index("wrong", "{\"x\":\"model-00001-of-00002.safetensors\",\"z\":"
                       "\"model-00001-of-00002.safetensors\"}");
  CHECK_ERR2(open_path(path_in("wrong/model.safetensors.index.json")), "tensor z",
             "does not hold it");
  write_index("wrong", "{}");
  write_bytes(path_in("wrong/model.safetensors.index.json"), "{\"metadata\":{}}", 15);
  CHECK_ERR(open_path(path_in("wrong/model.safetensors.index.json")), "no weight_map");

  /* The same name in two shards. */
  write_shards("dup");
  write_st("dup/model-00002-of-00002.safetensors",
           "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "a", 1);
  write_index("dup", kGoodMap);
  CHECK_ERR2(open_path(path_in("dup/model.safetensors.index.json")), "tensor x appears in both",
             "model-00002-of-00002.safetensors");

  mkdir(path_in("nothing"), 0755);
  CHECK_ERR(open_path(path_in("nothing")),
            "no model.safetensors or model.safetensors.index.json in this directory");
}

/* ---- Allocation failures -------------------------------------------------------------------- */

/* Every hooked allocation of opening the sharded checkpoint fails in turn, once and for good:
 * each run ends in RESOURCE_EXHAUSTED with nothing returned (and, under ASan, nothing leaked),
 * until the walk passes the last allocation and the open succeeds. */
static void test_alloc_failures(bool persistent) {
  const char *index = path_in("sharded/model.safetensors.index.json");
  int points = 0;
  for (uint64_t n = 1; n < 100000; n++) {
    tk_alloc_fault_arm(n, persistent);
    tk_safetensors *st = NULL;
    tk_status s = tk_safetensors_open(index, &st);
    bool fired = tk_alloc_fault_fired();
    tk_alloc_fault_disarm();
    if (!fired) {
      CHECK_MSG(s == NULL && st != NULL, "open after %d failure points: %s", points,
                tk_status_message(s));
      tk_status_free(s);
      tk_safetensors_close(st);
      break;
    }
    points++;
    CHECK_MSG(s && st == NULL && tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED,
              "allocation %llu failing%s: %s", (unsigned long long)n, persistent ? " for good" : "",
              s ? tk_status_message(s) : "OK");
    tk_status_free(s);
    tk_safetensors_close(st);
  }
  CHECK_MSG(points >= 10, "only %d allocation points", points);
}

int main(void) {
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_single_file();
  test_empty_tensors();
  test_sharded();
  test_truncated();
  test_header_length();
  test_overlap();
  test_offsets_and_sizes();
  test_bad_entries();
  test_duplicate_names();
  test_fifo();
  test_expectations();
  test_bad_index();
  test_alloc_failures(false);
  test_alloc_failures(true);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
  TEST_MAIN_END();
}
