/* tests/fuzz/fuzz_safetensors.c — libFuzzer target for the safetensors reader
 * (runtime/safetensors.c; docs/formats.md §5).
 *
 * Input: arbitrary bytes, read two ways. Properties, beyond "no crash, no leak, no UB":
 *   - as one safetensors file from memory (tk_safetensors_open_memory): a rejection is
 *     TK_INVALID_ARGUMENT with a non-empty message and *out NULL;
 *   - for an accepted file: names strictly sorted and find() gives each tensor back; every
 *     tensor's bytes lie inside the input's data area, bytes == numel × dtype size, and no
 *     two non-empty tensors share a byte; an F32 or BF16 tensor reads into f32 with its own
 *     shape, and a read with another shape or an excluded dtype fails without writing; any
 *     other dtype is TK_UNAVAILABLE;
 *   - the same bytes written to a file and opened with tk_safetensors_open (mmap) give the
 *     same tensors;
 *   - the bytes as model.safetensors.index.json in a scratch directory that holds one valid
 *     shard: any answer but a crash (INVALID_ARGUMENT, NOT_FOUND or IO_ERROR when rejected);
 *     when accepted, every tensor comes from a file in that directory.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_util.h"
#include "tk/safetensors.h"

static char file_path[4096], index_dir[4096], index_path[4096];

static void write_file(const char *path, const uint8_t *data, size_t size) {
  unlink(path); /* a fresh file: see fuzz_manifest.c write_file */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "cannot create %s", path);
  FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size, "short write to %s", path);
  close(fd);
}

/* The one shard the index inputs can name: s.safetensors, tensor "w" (BF16 [2]). */
static void init_once(void) {
  if (file_path[0]) return;
  snprintf(file_path, sizeof file_path, "%s/fuzz_safetensors.%d.safetensors", fuzz_tmpdir(),
           (int)getpid());
  snprintf(index_dir, sizeof index_dir, "%s/fuzz_safetensors.%d.d", fuzz_tmpdir(), (int)getpid());
  snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", index_dir);
  mkdir(index_dir, 0700);
  static const char kShard[] =
      "\x37\0\0\0\0\0\0\0{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}"
      "\x80\x3f\x00\x40";
  char shard[4200];
  snprintf(shard, sizeof shard, "%s/s.safetensors", index_dir);
  write_file(shard, (const uint8_t *)kShard, sizeof kShard - 1);
}

static bool converts(tk_safetensors_dtype d) {
  return d == TK_SAFETENSORS_F32 || d == TK_SAFETENSORS_BF16;
}

static void check_read(const tk_safetensors *st, const tk_safetensors_tensor *t) {
  float *dst = malloc(t->numel ? t->numel * sizeof(float) : 1);
  FUZZ_CHECK(dst != NULL, "out of memory for %llu floats", (unsigned long long)t->numel);
  tk_status s = tk_safetensors_read_f32(st, t->name, 0, t->rank, t->shape, dst);
  if (converts(t->dtype))
    FUZZ_CHECK(!s, "tensor %s: read with its own shape failed: %s", t->name, tk_status_message(s));
  else
    FUZZ_CHECK(tk_status_code_of(s) == TK_INVALID_ARGUMENT, "tensor %s: dtype %s read as f32",
               t->name, tk_safetensors_dtype_name(t->dtype));
  tk_status_free(s);
  uint32_t all = (1u << TK_SAFETENSORS_DTYPE_COUNT) - 1;
  s = tk_safetensors_read_f32(st, t->name, all, t->rank, t->shape, dst);
  FUZZ_CHECK(converts(t->dtype) ? !s : tk_status_code_of(s) == TK_UNAVAILABLE,
             "tensor %s: dtype %s with every dtype allowed: %s", t->name,
             tk_safetensors_dtype_name(t->dtype), tk_status_message(s));
  tk_status_free(s);
  /* Another shape (one more dimension) and an excluded dtype fail and leave dst alone. */
  uint64_t longer[TK_SAFETENSORS_MAX_RANK + 1] = {0};
  memcpy(longer, t->shape, sizeof t->shape);
  longer[t->rank] = 1;
  float canary = 12345.0f;
  s = tk_safetensors_read_f32(st, t->name, all, t->rank + 1, longer, &canary);
  FUZZ_CHECK(s && canary == 12345.0f, "tensor %s: read with rank %u accepted", t->name,
             t->rank + 1);
  tk_status_free(s);
  s = tk_safetensors_read_f32(st, t->name, all & ~TK_SAFETENSORS_DTYPE_BIT(t->dtype), t->rank,
                              t->shape, &canary);
  FUZZ_CHECK(s && canary == 12345.0f, "tensor %s: excluded dtype accepted", t->name);
  tk_status_free(s);
  free(dst);
}

static void check_tensors(const tk_safetensors *st, const uint8_t *data, size_t size) {
  size_t n = tk_safetensors_count(st);
  FUZZ_CHECK(tk_safetensors_at(st, n) == NULL, "at(count) is not NULL");
  for (size_t i = 0; i < n; i++) {
    const tk_safetensors_tensor *t = tk_safetensors_at(st, i);
    FUZZ_CHECK(i == 0 || strcmp(tk_safetensors_at(st, i - 1)->name, t->name) < 0,
               "names not strictly sorted at %zu", i);
    FUZZ_CHECK(tk_safetensors_find(st, t->name) == t, "find(%s) is not tensor %zu", t->name, i);
    const uint8_t *p = t->data;
    FUZZ_CHECK(p >= data + 8 && p <= data + size && t->bytes <= (uint64_t)(data + size - p),
               "tensor %s outside the input", t->name);
    FUZZ_CHECK(
        t->rank <= TK_SAFETENSORS_MAX_RANK && (unsigned)t->dtype < TK_SAFETENSORS_DTYPE_COUNT,
        "tensor %s: rank %u dtype %d", t->name, t->rank, (int)t->dtype);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < t->rank; d++) numel *= t->shape[d]; /* bytes fit: cannot wrap */
    FUZZ_CHECK(numel == t->numel && t->bytes == numel * tk_safetensors_dtype_size(t->dtype),
               "tensor %s: numel %llu bytes %llu", t->name, (unsigned long long)t->numel,
               (unsigned long long)t->bytes);
    for (size_t j = 0; j < i; j++) {
      const tk_safetensors_tensor *u = tk_safetensors_at(st, j);
      const uint8_t *q = u->data;
      bool apart = !t->bytes || !u->bytes || p + t->bytes <= q || q + u->bytes <= p;
      FUZZ_CHECK(apart, "tensors %s and %s overlap", t->name, u->name);
    }
    check_read(st, t);
  }
}

static void check_file_agrees(const tk_safetensors *mem, const uint8_t *data, size_t size) {
  write_file(file_path, data, size);
  tk_safetensors *st = NULL;
  tk_status s = tk_safetensors_open(file_path, &st);
  FUZZ_CHECK(!s, "accepted from memory, rejected from a file: %s", tk_status_message(s));
  FUZZ_CHECK(tk_safetensors_count(st) == tk_safetensors_count(mem), "file and memory disagree");
  for (size_t i = 0; i < tk_safetensors_count(st); i++) {
    const tk_safetensors_tensor *a = tk_safetensors_at(st, i), *b = tk_safetensors_at(mem, i);
    FUZZ_CHECK(strcmp(a->name, b->name) == 0 && a->dtype == b->dtype && a->bytes == b->bytes &&
                   (const uint8_t *)a->data - (const uint8_t *)tk_safetensors_at(st, 0)->data ==
                       (const uint8_t *)b->data - (const uint8_t *)tk_safetensors_at(mem, 0)->data,
               "tensor %zu: file and memory disagree", i);
  }
  tk_safetensors_close(st);
  unlink(file_path);
}

static void check_as_index(const uint8_t *data, size_t size) {
  write_file(index_path, data, size);
  tk_safetensors *st = NULL;
  tk_status s = tk_safetensors_open(index_path, &st);
  tk_status_code code = tk_status_code_of(s);
  FUZZ_CHECK(
      code == TK_OK || code == TK_INVALID_ARGUMENT || code == TK_NOT_FOUND || code == TK_IO_ERROR,
      "index rejected with %s: %s", tk_status_code_name(code), tk_status_message(s));
  FUZZ_CHECK(s ? st == NULL : st != NULL, "index: status and reader disagree");
  fuzz_trace("as an index: %s", s ? tk_status_message(s) : "accepted");
  for (size_t i = 0; st && i < tk_safetensors_count(st); i++) {
    const char *file = tk_safetensors_at(st, i)->file;
    size_t n = strlen(index_dir);
    FUZZ_CHECK(strncmp(file, index_dir, n) == 0 && file[n] == '/' && !strchr(file + n + 1, '/'),
               "index: tensor from %s, outside %s", file, index_dir);
  }
  tk_status_free(s);
  tk_safetensors_close(st);
  unlink(index_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  check_as_index(data, size);
  tk_safetensors *st = NULL;
  tk_status s = tk_safetensors_open_memory(data, size, "fuzz.safetensors", &st);
  if (s) {
    FUZZ_CHECK(st == NULL, "error but *out set");
    fuzz_check_rejection(s);
    tk_status_free(s);
    return 0;
  }
  fuzz_trace("accepted, %zu tensors", tk_safetensors_count(st));
  check_tensors(st, data, size);
  check_file_agrees(st, data, size);
  tk_safetensors_close(st);
  return 0;
}
