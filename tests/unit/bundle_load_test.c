/* tests/unit/bundle_load_test.c — the runtime loads what it hashed (issue 14 item 3).
 *
 * On a nano bundle (and a dense one, for foreign files) compiled into a temp dir:
 *   - files swapped after tk_bundle_open (model_host.so and model.x86_64.so replaced by the
 *     dense bundle's): a session still runs nano, bitwise equal to a session made before;
 *   - a checkpoint truncated after tk_weights_open, and again after tk_session_create: the
 *     answers do not change (the checkpoint is read, not mapped: no SIGBUS);
 *   - duplicate manifest keys, plain or escaped ("\u0061rch" beside "arch"), at the top or
 *     nested, are refused naming the key and its JSON path; an escaped spelling alone reads;
 *   - a code object changed after compile: "sha256 mismatch";
 *   - dense's model.x86_64.so in the nano bundle with its sha256 fixed in the manifest:
 *     refused at session create by its arch fingerprint, before any kernel runs;
 *   - a FIFO as manifest.json, as model_host.so and as the checkpoint: "not a regular file"
 *     within a second (alarm() turns a hang into a failure).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compiler/tkc.h"
#include "model/init_weights.h"
#include "runtime/sha256.h"
#include "model_bundle.h"
#include "test.h"
#include "tk/runtime.h"

enum { ROWS = 5, HANG_GUARD_S = 10 };

typedef struct fixture {
  char dir[1024], ckpt[1024];
  tk_arch arch;
} fixture;

static bool fixture_build(const char *tmp, const char *model, fixture *f) {
  snprintf(f->dir, sizeof f->dir, "%s/%s", tmp, model);
  snprintf(f->ckpt, sizeof f->ckpt, "%s/%s.tkp1", tmp, model);
  tk_status s = tk_test_model_bundle(model, f->dir, f->ckpt, 16, &f->arch);
  CHECK_MSG(!s, "%s: %s", model, tk_status_message(s));
  tk_status_free(s);
  return !s;
}

/* ---- Files ------------------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *size) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = calloc(1, (size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(fp);
  if (size) *size = (size_t)n;
  return buf;
}

/* Writes a fresh file and renames it over `path` (a new inode, as a swap would be). */
static void replace_file(const char *path, const char *data, size_t size) {
  char tmp[1300];
  snprintf(tmp, sizeof tmp, "%s.new", path);
  FILE *fp = fopen(tmp, "wb");
  CHECK(fp && fwrite(data, 1, size, fp) == size);
  if (fp) fclose(fp);
  CHECK(rename(tmp, path) == 0);
}

static void copy_file(const char *from, const char *to) {
  size_t n = 0;
  char *data = slurp(from, &n);
  CHECK_MSG(data != NULL, "cannot read %s", from);
  if (data) replace_file(to, data, n);
  free(data);
}

static void path_in(char *out, size_t n, const char *dir, const char *file) {
  snprintf(out, n, "%s/%s", dir, file);
}

/* ---- Forward ---------------------------------------------------------------------------- */

static float *features(int32_t cols) {
  float *x = malloc((size_t)ROWS * (size_t)cols * sizeof *x);
  uint32_t state = 12345;
  for (int32_t i = 0; i < ROWS * cols; i++) {
    state = state * 1664525u + 1013904223u;
    x[i] = (float)(state >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
  }
  return x;
}

/* The logits of a session on (b, w) for features(), or NULL with the error counted. */
static float *run(const tk_bundle *b, const tk_weights *w) {
  const tk_bundle_info *info = tk_bundle_get_info(b);
  tk_session_options o;
  tk_session_options_default(&o);
  o.device = TK_DEVICE_CPU;
  o.threads = 1;
  o.quiet = true;
  tk_session *s = NULL;
  float *x = features(info->in_dim), *logits = calloc((size_t)ROWS * info->out_dim, sizeof *logits);
  tk_status st = tk_session_create(b, w, &o, &s);
  if (!st) st = tk_session_forward(s, x, ROWS, logits, NULL);
  CHECK_MSG(!st, "%s", tk_status_message(st));
  tk_session_free(s);
  free(x);
  if (st) {
    tk_status_free(st);
    free(logits);
    return NULL;
  }
  return logits;
}

static void check_same(const float *a, const float *b, int32_t cols, const char *what) {
  CHECK_MSG(a && b && !memcmp(a, b, (size_t)ROWS * cols * sizeof *a), "%s: the answers differ",
            what);
}

/* ---- Checks ----------------------------------------------------------------------------- */

/* Both shared objects replaced by dense's after the open: the session still runs nano. */
static void check_swap_after_open(const fixture *nano, const fixture *dense) {
  tk_bundle *b = NULL;
  tk_weights *w = NULL;
  CHECK_OK(tk_bundle_open(nano->dir, &b));
  CHECK_OK(tk_weights_open(b, nano->ckpt, NULL, &w));
  if (!b || !w) goto done;
  int32_t cols = tk_bundle_get_info(b)->out_dim;
  float *before = run(b, w);
  static const char *const swapped[] = {"model_host.so", "model.x86_64.so"};
  char from[1100], to[1100], saved[1200];
  for (int i = 0; i < 2; i++) {
    path_in(to, sizeof to, nano->dir, swapped[i]);
    path_in(from, sizeof from, dense->dir, swapped[i]);
    snprintf(saved, sizeof saved, "%s.saved", to);
    CHECK(rename(to, saved) == 0);
    copy_file(from, to);
  }
  float *after = run(b, w);
  check_same(before, after, cols, "after model_host.so and model.x86_64.so were swapped");
  for (int i = 0; i < 2; i++) {
    path_in(to, sizeof to, nano->dir, swapped[i]);
    snprintf(saved, sizeof saved, "%s.saved", to);
    CHECK(rename(saved, to) == 0);
  }
  free(before);
  free(after);
done:
  tk_weights_close(w);
  tk_bundle_close(b);
}

/* The checkpoint truncated after tk_weights_open, then after tk_session_create. */
static void check_truncated_checkpoint(const fixture *f) {
  char copy[1200];
  snprintf(copy, sizeof copy, "%s.copy", f->ckpt);
  copy_file(f->ckpt, copy);
  tk_bundle *b = NULL;
  tk_weights *w = NULL, *ref = NULL;
  CHECK_OK(tk_bundle_open(f->dir, &b));
  CHECK_OK(tk_weights_open(b, f->ckpt, NULL, &ref));
  CHECK_OK(tk_weights_open(b, copy, NULL, &w));
  if (b && w && ref) {
    int32_t cols = tk_bundle_get_info(b)->out_dim;
    float *want = run(b, ref);
    CHECK(truncate(copy, 100) == 0);
    float *got = run(b, w);
    check_same(want, got, cols, "checkpoint truncated after tk_weights_open");
    free(got);
    tk_session *s = NULL;
    tk_session_options o;
    tk_session_options_default(&o);
    o.device = TK_DEVICE_CPU;
    o.quiet = true;
    CHECK_OK(tk_session_create(b, w, &o, &s));
    CHECK(truncate(copy, 0) == 0);
    got = calloc((size_t)ROWS * cols, sizeof *got);
    float *x = features(tk_bundle_get_info(b)->in_dim);
    if (s) CHECK_OK(tk_session_forward(s, x, ROWS, got, NULL));
    check_same(want, got, cols, "checkpoint truncated during a session");
    tk_session_free(s);
    free(x);
    free(got);
    free(want);
  }
  tk_weights_close(w);
  tk_weights_close(ref);
  tk_bundle_close(b);
  unlink(copy);
}

/* The manifest with the first `from` replaced by `to`: opening it fails naming `needle`, or
 * succeeds when needle is NULL. The manifest is restored. */
static void check_manifest_edit(const char *dir, const char *from, const char *to,
                                const char *needle) {
  char path[1200];
  path_in(path, sizeof path, dir, "manifest.json");
  size_t n = 0;
  char *orig = slurp(path, &n), *at = orig ? strstr(orig, from) : NULL;
  CHECK_MSG(at != NULL, "%s holds no \"%s\"", path, from);
  if (!at) {
    free(orig);
    return;
  }
  size_t size = n + strlen(to) + 1;
  char *edited = malloc(size);
  snprintf(edited, size, "%.*s%s%s", (int)(at - orig), orig, to, at + strlen(from));
  replace_file(path, edited, strlen(edited));
  tk_bundle *b = NULL;
  if (needle)
    CHECK_ERR(tk_bundle_open(dir, &b), needle);
  else
    CHECK_OK(tk_bundle_open(dir, &b));
  tk_bundle_close(b);
  replace_file(path, orig, n);
  free(edited);
  free(orig);
}

static void check_duplicate_keys(const fixture *f) {
  tk_bundle *b = NULL;
  CHECK_OK(tk_bundle_open(f->dir, &b));
  if (!b) return;
  const char *real = tk_bundle_get_info(b)->arch_json;
  /* a forged arch (input_dim + 1) under an escaped key before the genuine one */
  size_t n = strlen(real) + 64;
  char *forged = malloc(n), *edit = malloc(2 * n);
  snprintf(forged, n, "%s", real);
  char *dim = strstr(forged, "\"input_dim\":");
  if (dim) dim[strlen("\"input_dim\":")] = '7';
  snprintf(edit, 2 * n, "\"\\u0061rch\":%s,\"arch\":", forged);
  check_manifest_edit(f->dir, "\"arch\":", edit, "$: the key \"arch\" appears more than once");
  check_manifest_edit(f->dir, "\"max_batch\":", "\"max_batch\":1,\"max_batch\":",
                      "$: the key \"max_batch\" appears more than once");
  check_manifest_edit(f->dir, "\"kind\":", "\"kind\":\"x86_64\",\"\\u006bind\":",
                      "$.targets[0]: the key \"kind\" appears more than once");
  check_manifest_edit(f->dir, "\"arch\":", "\"\\u0061rch\":", NULL); /* one spelling: fine */
  free(forged);
  free(edit);
  tk_bundle_close(b);
}

/* A code object whose bytes no longer match the manifest: refused (and, under ASan, nothing
 * of the half-read bundle leaks). */
static void check_target_hash(const fixture *f) {
  char so[1100];
  path_in(so, sizeof so, f->dir, "model.x86_64.so");
  size_t n = 0;
  char *orig = slurp(so, &n), *edited = orig ? malloc(n + 1) : NULL;
  CHECK(orig && edited);
  if (orig && edited) {
    memcpy(edited, orig, n);
    edited[n] = '\n';
    replace_file(so, edited, n + 1);
    tk_bundle *b = NULL;
    CHECK_ERR(tk_bundle_open(f->dir, &b), "model.x86_64.so: sha256 mismatch");
    CHECK(b == NULL);
    replace_file(so, orig, n);
  }
  free(orig);
  free(edited);
}

/* Dense's kernels in the nano bundle, with the manifest's sha256 made to match. */
static void check_foreign_kernels(const fixture *nano, const fixture *dense) {
  char so[1100], saved[1200], other[1100], manifest[1100];
  path_in(so, sizeof so, nano->dir, "model.x86_64.so");
  path_in(other, sizeof other, dense->dir, "model.x86_64.so");
  path_in(manifest, sizeof manifest, nano->dir, "manifest.json");
  snprintf(saved, sizeof saved, "%s.saved", manifest);
  size_t n_so = 0, n_other = 0, n_manifest = 0;
  char *mine = slurp(so, &n_so), *theirs = slurp(other, &n_other);
  char *text = slurp(manifest, &n_manifest);
  char want[65], got[65];
  CHECK(mine && theirs && text);
  if (!mine || !theirs || !text || tk_sha256_hex(mine, n_so, want) ||
      tk_sha256_hex(theirs, n_other, got)) {
    free(mine), free(theirs), free(text);
    return;
  }
  char *at = strstr(text, want);
  CHECK_MSG(at != NULL, "the manifest does not list model.x86_64.so's sha256 %s", want);
  if (at) {
    memcpy(at, got, 64);
    CHECK(rename(manifest, saved) == 0);
    replace_file(manifest, text, n_manifest);
    replace_file(so, theirs, n_other);
    tk_bundle *b = NULL;
    tk_weights *w = NULL;
    tk_session *s = NULL;
    CHECK_OK(tk_bundle_open(nano->dir, &b));
    if (b) CHECK_OK(tk_weights_open(b, nano->ckpt, NULL, &w));
    tk_session_options o;
    tk_session_options_default(&o);
    o.device = TK_DEVICE_CPU;
    o.quiet = true;
    if (w) CHECK_ERR(tk_session_create(b, w, &o, &s), "compiled for arch fingerprint");
    CHECK(s == NULL);
    tk_weights_close(w);
    tk_bundle_close(b);
    replace_file(so, mine, n_so);
    CHECK(rename(saved, manifest) == 0);
  }
  free(mine), free(theirs), free(text);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* `file` of the bundle replaced by a FIFO with no writer: a prompt "not a regular file". */
static void check_fifo_in_bundle(const fixture *f, const char *file) {
  char path[1100], saved[1200];
  path_in(path, sizeof path, f->dir, file);
  snprintf(saved, sizeof saved, "%s.saved", path);
  CHECK(rename(path, saved) == 0);
  CHECK(mkfifo(path, 0600) == 0);
  tk_bundle *b = NULL;
  alarm(HANG_GUARD_S); /* a hang is killed by SIGALRM: the test fails instead of blocking */
  double t0 = now_s();
  tk_status s = tk_bundle_open(f->dir, &b);
  double dt = now_s() - t0;
  alarm(0);
  CHECK_MSG(s && strstr(tk_status_message(s), path) &&
                strstr(tk_status_message(s), "not a regular file (a FIFO)"),
            "FIFO %s: %s", file, s ? tk_status_message(s) : "OK");
  CHECK_MSG(dt < 1.0, "FIFO %s: %.2f s", file, dt);
  tk_status_free(s);
  tk_bundle_close(b);
  unlink(path);
  CHECK(rename(saved, path) == 0);
}

static void check_fifo_checkpoint(const fixture *f, const char *tmp) {
  char fifo[1200];
  snprintf(fifo, sizeof fifo, "%s/fifo.tkp1", tmp);
  CHECK(mkfifo(fifo, 0600) == 0);
  tk_bundle *b = NULL;
  tk_weights *w = NULL;
  CHECK_OK(tk_bundle_open(f->dir, &b));
  alarm(HANG_GUARD_S);
  double t0 = now_s();
  if (b) CHECK_ERR(tk_weights_open(b, fifo, NULL, &w), "fifo.tkp1: not a regular file (a FIFO)");
  double dt = now_s() - t0;
  alarm(0);
  CHECK_MSG(dt < 1.0, "FIFO checkpoint: %.2f s", dt);
  CHECK(w == NULL);
  tk_bundle_close(b);
  unlink(fifo);
}

/* ---- Main ------------------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int main(void) {
  const char *base = getenv("TK_BUILD_DIR");
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s/bundle_load_test.XXXXXX", base ? base : "/tmp");
  if (!mkdtemp(tmp)) {
    perror(tmp);
    return 1;
  }
  fixture nano, dense;
  if (fixture_build(tmp, "nano", &nano) && fixture_build(tmp, "dense", &dense)) {
    check_swap_after_open(&nano, &dense);
    check_truncated_checkpoint(&nano);
    check_duplicate_keys(&nano);
    check_target_hash(&nano);
    check_foreign_kernels(&nano, &dense);
    check_fifo_in_bundle(&nano, "manifest.json");
    check_fifo_in_bundle(&nano, "model_host.so");
    check_fifo_in_bundle(&nano, "model.x86_64.so");
    check_fifo_checkpoint(&nano, tmp);
  }
  nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  TEST_MAIN_END();
}
