/* tests/fuzz/fuzz_checkpoint.c — libFuzzer target for the checkpoint.tkp1 reader
 * (runtime/checkpoint.c; docs/formats.md §2).
 *
 * Input: arbitrary bytes as a checkpoint file. Each input is opened from memory
 * (tk_checkpoint_open_memory); properties, beyond "no crash, no leak, no UB":
 *   - a rejection is TK_INVALID_ARGUMENT with a non-empty message;
 *   - for an accepted input: every record's name and weights lie inside the input, the
 *     config too; record_at(count) is NULL; find() of a record's name gives the first record
 *     with that name; every weight can be copied (tk_checkpoint_weights_copy);
 *   - validation against the checkpoint's own names and counts succeeds (with non-finite
 *     weights allowed and no fingerprint), whenever no name holds a NUL byte;
 *   - validation against a fixed arch (2 experts, 14 tensors) and with a fingerprint runs
 *     the mismatch, config (cJSON) and finiteness paths; any answer is fine but a crash;
 *   - the same bytes written to a file and opened with tk_checkpoint_open (read) give the
 *     same version, step and record count.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "model/arch.h"
#include "tests/fuzz/fuzz_util.h"
#include "tk/checkpoint.h"

/* The arch of tests/fuzz/corpus/checkpoint/moe-*.tkp1 (gen_seeds.py writes them). */
static const char kArch[] =
    "{\"size\":\"Custom\",\"input_dim\":4,\"hidden_dim\":4,\"output_dim\":3,\"n_experts\":2,"
    "\"top_k\":1,\"expert_depth\":0,\"seed\":1}";

static tk_checkpoint_expect *arch_expect;
static size_t arch_n;
static char arch_fingerprint[17];
static char file_path[4096];

static void init_once(void) {
  if (arch_expect) return;
  tk_arch a;
  tk_status s = tk_arch_parse(kArch, strlen(kArch), "fuzz", &a);
  FUZZ_CHECK(!s, "fixed arch: %s", tk_status_message(s));
  memcpy(arch_fingerprint, a.fingerprint, sizeof arch_fingerprint);
  arch_n = tk_arch_param_count(&a);
  static tk_param_spec specs[64];
  FUZZ_CHECK(arch_n <= 64, "fixed arch has %zu params", arch_n);
  arch_expect = calloc(arch_n, sizeof *arch_expect);
  for (size_t i = 0; i < arch_n; i++) {
    specs[i] = tk_arch_param(&a, i);
    arch_expect[i] = (tk_checkpoint_expect){.name = specs[i].name, .count = specs[i].count};
  }
  snprintf(file_path, sizeof file_path, "%s/fuzz_checkpoint.%d.tkp1", fuzz_tmpdir(), (int)getpid());
}

static bool inside(const uint8_t *data, size_t size, const void *p, uint64_t n) {
  const uint8_t *q = p;
  return n == 0 || (q >= data && q <= data + size && n <= (uint64_t)(data + size - q));
}

static void check_records(const tk_checkpoint *k, const uint8_t *data, size_t size) {
  uint32_t count = tk_checkpoint_record_count(k);
  FUZZ_CHECK(tk_checkpoint_record_at(k, count) == NULL, "record_at(count) is not NULL");
  for (uint32_t i = 0; i < count; i++) {
    const tk_checkpoint_record *r = tk_checkpoint_record_at(k, i);
    FUZZ_CHECK(r != NULL, "record %u is NULL", i);
    FUZZ_CHECK(inside(data, size, r->name, r->name_len), "record %u: name outside the input", i);
    FUZZ_CHECK(inside(data, size, r->weights, (uint64_t)r->weight_len * 4),
               "record %u: weights outside the input", i);
    FUZZ_CHECK(r->offset < size, "record %u: offset %llu past the end", i,
               (unsigned long long)r->offset);
    float *w = malloc(r->weight_len ? (size_t)r->weight_len * sizeof(float) : 1);
    FUZZ_CHECK(w != NULL, "out of memory");
    tk_checkpoint_weights_copy(r, 0, r->weight_len, w);
    if (r->weight_len > 1) tk_checkpoint_weights_copy(r, r->weight_len - 1, 1, w);
    free(w);
    if (!memchr(r->name, 0, r->name_len)) {
      char *name = strndup(r->name, r->name_len);
      int64_t j = tk_checkpoint_find(k, name);
      FUZZ_CHECK(j >= 0 && j <= i, "find(record %u's name) = %lld", i, (long long)j);
      const tk_checkpoint_record *f = tk_checkpoint_record_at(k, (uint32_t)j);
      FUZZ_CHECK(f->name_len == r->name_len && !memcmp(f->name, r->name, r->name_len),
                 "find(record %u's name) gave another name", i);
      free(name);
    }
  }
  uint32_t config_len = 0;
  const char *config = tk_checkpoint_config(k, &config_len);
  FUZZ_CHECK(inside(data, size, config, config_len), "config outside the input");
}

/* Validation against the checkpoint's own names and counts must succeed. */
static void check_self_validate(const tk_checkpoint *k) {
  uint32_t count = tk_checkpoint_record_count(k);
  tk_checkpoint_expect *e = calloc(count ? count : 1, sizeof *e);
  FUZZ_CHECK(e != NULL, "out of memory");
  bool plain = true;
  for (uint32_t i = 0; i < count; i++) {
    const tk_checkpoint_record *r = tk_checkpoint_record_at(k, i);
    plain = plain && !memchr(r->name, 0, r->name_len);
    e[i] = (tk_checkpoint_expect){.name = strndup(r->name, r->name_len), .count = r->weight_len};
  }
  if (plain) {
    tk_checkpoint_validate_options o = {.fingerprint = NULL, .allow_nonfinite = true};
    tk_status s = tk_checkpoint_validate(k, e, count, &o);
    FUZZ_CHECK(!s, "validation against its own records failed: %s", tk_status_message(s));
    /* Same list with the fingerprint and the finiteness check: any answer. */
    o = (tk_checkpoint_validate_options){.fingerprint = arch_fingerprint};
    s = tk_checkpoint_validate(k, e, count, &o);
    FUZZ_CHECK(!s || tk_status_code_of(s) == TK_INVALID_ARGUMENT, "%s", tk_status_message(s));
    tk_status_free(s);
  }
  for (uint32_t i = 0; i < count; i++) free((char *)e[i].name);
  free(e);
}

static void check_file_agrees(const tk_checkpoint *k, const uint8_t *data, size_t size) {
  unlink(file_path); /* a fresh file: see fuzz_manifest.c write_file */
  int fd = open(file_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "cannot create %s", file_path);
  FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size, "short write to %s", file_path);
  close(fd);
  tk_checkpoint *f = NULL;
  tk_status s = tk_checkpoint_open(file_path, &f);
  FUZZ_CHECK(!s, "accepted from memory, rejected from a file: %s", tk_status_message(s));
  FUZZ_CHECK(tk_checkpoint_version(f) == tk_checkpoint_version(k) &&
                 tk_checkpoint_step(f) == tk_checkpoint_step(k) &&
                 tk_checkpoint_record_count(f) == tk_checkpoint_record_count(k),
             "file and memory readers disagree");
  tk_checkpoint_close(f);
  unlink(file_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  tk_checkpoint *k = NULL;
  tk_status s = tk_checkpoint_open_memory(data, size, "fuzz.tkp1", &k);
  if (s) {
    FUZZ_CHECK(k == NULL, "error but *out set");
    fuzz_check_rejection(s);
    tk_status_free(s);
    return 0;
  }
  fuzz_trace("accepted, %u records", tk_checkpoint_record_count(k));
  FUZZ_CHECK(tk_checkpoint_version(k) == 1, "version %u accepted", tk_checkpoint_version(k));
  check_records(k, data, size);
  check_self_validate(k);
  tk_checkpoint_validate_options o = {.fingerprint = arch_fingerprint};
  s = tk_checkpoint_validate(k, arch_expect, arch_n, &o);
  FUZZ_CHECK(!s || tk_status_code_of(s) == TK_INVALID_ARGUMENT, "%s", tk_status_message(s));
  tk_status_free(s);
  check_file_agrees(k, data, size);
  tk_checkpoint_close(k);
  return 0;
}
