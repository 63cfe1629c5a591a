/* tests/fuzz/fuzz_manifest.c — libFuzzer target for the bundle manifest reader
 * (runtime/bundle_open.c, format TK_BUNDLE_FORMAT of tk/launch.h).
 *
 * The reader's only entry point is tk_bundle_open(dir), which reads DIR/manifest.json and
 * hashes every file it lists. So the target makes one scratch bundle directory under $TMPDIR
 * at start-up, holding small fixed files under the names a real bundle uses (kFiles below:
 * the seeds in tests/fuzz/corpus/manifest/ carry their SHA-256, gen_seeds.py writes both),
 * and writes each input to DIR/manifest.json before opening it. A NUL byte ends the text the
 * reader sees, as it would in a real file.
 *
 * Properties, beyond "no crash, no leak, no UB":
 *   - a rejection has a non-empty message, and its code is INVALID_ARGUMENT, NOT_FOUND (a
 *     listed file missing) or IO_ERROR;
 *   - an accepted bundle has a fingerprint of 16 lowercase hex digits equal to the first 8
 *     bytes of SHA-256 of info.arch_json, dims in the documented ranges, max_batch >= 1, and
 *     tk_bundle_describe_targets stays inside buffers of any size;
 *   - the dims the runtime took from "arch" are those of the arch text it hashed (a key
 *     spelled "\u0061rch" before "arch" split them until duplicate keys were refused).
 */
#include <cJSON.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "tests/fuzz/fuzz_util.h"
#include "tk/runtime.h"

/* Name and content of every file in the scratch bundle (content = "tkc fuzz bundle: NAME\n"). */
static const char *const kFiles[] = {
    "model.hsaco",
    "model.sm_80.ptx",
    "model.sm_90.ptx",
    "model.x86_64.so",
    "model_host.c",
    "model_host.h",
    "model_host.so",
    "model.x86_64.x86-64-v4.so",
    "model_host.x86-64-v4.c",
    "model_host.x86-64-v4.h",
    "model_host.x86-64-v4.so",
};

static char bundle_dir[4096], manifest_path[4200];

static void write_file(const char *path, const void *data, size_t size) {
  /* A fresh file, not O_TRUNC: ext4 flushes a file truncated to 0 on close (auto_da_alloc),
   * which costs milliseconds an input. */
  unlink(path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "cannot create %s", path);
  FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size, "short write to %s", path);
  close(fd);
}

static void remove_bundle(void) {
  char path[4300];
  for (size_t i = 0; i < sizeof kFiles / sizeof kFiles[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", bundle_dir, kFiles[i]);
    unlink(path);
  }
  unlink(manifest_path);
  rmdir(bundle_dir);
}

static void init_once(void) {
  if (bundle_dir[0]) return;
  snprintf(bundle_dir, sizeof bundle_dir, "%s/fuzz_manifest.XXXXXX", fuzz_tmpdir());
  FUZZ_CHECK(mkdtemp(bundle_dir) != NULL, "mkdtemp %s failed", bundle_dir);
  snprintf(manifest_path, sizeof manifest_path, "%s/manifest.json", bundle_dir);
  for (size_t i = 0; i < sizeof kFiles / sizeof kFiles[0]; i++) {
    char path[4300], content[128];
    snprintf(path, sizeof path, "%s/%s", bundle_dir, kFiles[i]);
    int n = snprintf(content, sizeof content, "tkc fuzz bundle: %s\n", kFiles[i]);
    write_file(path, content, (size_t)n);
  }
  atexit(remove_bundle);
}

static void check_fingerprint(const tk_bundle_info *info) {
  FUZZ_CHECK(info->fingerprint && strlen(info->fingerprint) == 16 &&
                 strspn(info->fingerprint, "0123456789abcdef") == 16,
             "fingerprint \"%s\"", info->fingerprint ? info->fingerprint : "(null)");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  FUZZ_CHECK(
      info->arch_json &&
          EVP_Digest(info->arch_json, strlen(info->arch_json), md, &md_len, EVP_sha256(), NULL) &&
          md_len == 32,
      "no arch_json or EVP_Digest failed");
  char hex[17];
  for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  FUZZ_CHECK(strcmp(hex, info->fingerprint) == 0, "fingerprint %s but arch_json hashes to %s",
             info->fingerprint, hex);
}

/* The dims in the hashed arch text are info's (issue 14 item 3). */
static void check_hashed_arch_dims(const tk_bundle_info *info) {
  cJSON *arch = cJSON_Parse(info->arch_json);
  static const char *const keys[] = {"input_dim", "output_dim", "n_experts", "top_k"};
  const int32_t got[] = {info->in_dim, info->out_dim, info->n_experts, info->top_k};
  for (int i = 0; i < 4; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(arch, keys[i]);
    FUZZ_CHECK(cJSON_IsNumber(v) && v->valuedouble == (double)got[i],
               "the runtime uses %s = %d but the hashed arch text says %s (issue 14 item 3)",
               keys[i], got[i], cJSON_IsNumber(v) ? "another value" : "nothing");
  }
  cJSON_Delete(arch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  write_file(manifest_path, data, size);
  tk_bundle *b = NULL;
  tk_status s = tk_bundle_open(bundle_dir, &b);
  if (s) {
    tk_status_code c = tk_status_code_of(s);
    FUZZ_CHECK(b == NULL, "error but *out set");
    FUZZ_CHECK((c == TK_INVALID_ARGUMENT || c == TK_NOT_FOUND || c == TK_IO_ERROR) &&
                   tk_status_message(s)[0],
               "rejected with %s: %s", tk_status_code_name(c), tk_status_message(s));
    fuzz_trace("%s", tk_status_message(s));
    tk_status_free(s);
    return 0;
  }
  fuzz_trace("accepted, %d targets, %d parameters", b->n_targets, b->n_params);
  const tk_bundle_info *info = tk_bundle_get_info(b);
  check_fingerprint(info);
  FUZZ_CHECK(info->in_dim >= 1 && info->in_dim <= 65536 && info->out_dim >= 1 &&
                 info->out_dim <= 65536 && info->n_experts >= 0 && info->n_experts <= 64 &&
                 info->top_k >= 0 && info->top_k <= info->n_experts && info->max_batch >= 1,
             "dims in %d out %d E %d K %d max_batch %lld", info->in_dim, info->out_dim,
             info->n_experts, info->top_k, (long long)info->max_batch);
  check_hashed_arch_dims(info);
  FUZZ_CHECK(b->n_targets >= 1 && b->n_params >= 1 && b->host.path, "empty bundle accepted");
  for (int32_t i = 0; i < b->n_targets; i++)
    FUZZ_CHECK(b->targets[i].name && b->targets[i].arch && b->targets[i].code.path, "target %d", i);
  for (int32_t i = 0; i < b->n_params; i++)
    FUZZ_CHECK(b->params[i].name && b->params[i].count >= 1 && b->params[i].count <= UINT32_MAX,
               "parameter %d", i);
  static const size_t sizes[] = {1, 7, 32, 512};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char *buf = malloc(sizes[i]);
    tk_bundle_describe_targets(b, buf, sizes[i]);
    FUZZ_CHECK(memchr(buf, 0, sizes[i]) != NULL, "describe_targets: no NUL in %zu bytes", sizes[i]);
    free(buf);
  }
  tk_bundle_close(b);
  return 0;
}
