/* tests/unit/session_test.c — conformance through the session API (tk/runtime.h) on the CPU
 * backend, against the double-precision reference (tests/ref, docs/formats.md §3).
 *
 *   session_test           nano, custom-small, dense; chunking; validation; bundle checks
 *   session_test --levels  a bundle with two CPU levels against a v3-only one (below)
 *   session_test --tiny    tiny at B = 1, 16, 33 (slow: a 336 MB checkpoint)
 *
 * Bundles are compiled through libtkc and checkpoints written by tkc's initialiser into a
 * temp dir, removed at the end. For every batch: a session with 1 thread and one with 2
 * threads (two sessions in one process) give bitwise identical answers; rows past B of the
 * caller's arrays are never written; the answers agree with the reference within the FORMATS
 * tolerance with the same keep sets; every router row has exactly top_k non-zeros. A row whose
 * router logits overflow f32 is rejected by name (docs/formats.md §3.6).
 * CPU levels (issue 13 item 4): nano compiled for x86-64-v3,x86-64-v4 lists both in its
 * manifest; a session picks v4 on a CPU with AVX-512 (else v3), says so in its device, and is
 * bitwise deterministic across 1 and 2 threads; forcing x86-64-v3 runs the v3 code (bitwise the
 * answers of a v3-only bundle); v4 agrees with v3 within the FORMATS tolerance; forcing a level
 * the bundle lacks fails naming the levels it has; a changed or missing v4 .so or stub fails
 * at open.
 * Sparse dispatch (issue 13 item 1): nano and custom-small compiled with --dispatch sparse pass
 * the same checks (B in {1, 2, 15, 16, 17, 100, 1000}, 1 and 2 threads, 16-row chunks, a
 * max_batch of 32) and answer bitwise as the dense bundles do on the same checkpoint.
 * The weight panels round-trip (issue 13): nano's buffers as tk_model_buffers_create fills them
 * on a cpu launcher hold every checkpoint weight once, each (k, j) of a panel buffer at
 * tk/panel.h's offset and nothing else anywhere; every other parameter row-major. The same for
 * tests/archs/custom-out-in.arch.json, whose weights the checkpoint stores [out, in] (packed
 * from the transpose; a 40-wide layer has a tail panel), and its forward against the
 * reference at B in {1, 2, 15, 16, 17, 100}.
 */
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/init_weights.h"
#include "compiler/tkc.h"
#include "model_bundle.h"
#include "test.h"
#include "ref/ref.h"
#include "tk/model_host.h"
#include "tk/panel.h"
#include "tk/runtime.h"

static const float SENTINEL = -12345.5f;
/* Weights stored [out, in] (weight_layout out_in), packed from that order (issue 16). */
static const char OUT_IN_ARCH[] = "tests/archs/custom-out-in.arch.json";
/* The weights packed at x86-64-v3 (16-column panels: every layer wider than 16 of a GEMM
 * phase): nano's 4 experts × (96→128, 128→128 twice, 128→20); custom-out-in's 3 experts ×
 * (32→40, 40→40), its 40→8 output being narrower than a panel. */
enum { NANO_PANELS = 4 * 4, OUT_IN_PANELS = 3 * 2 };
enum { GUARD_ROWS = 2 };

typedef struct fixture {
  const char *model;
  tk_arch arch;
  char dir[1024], ckpt_path[1024];
  tk_bundle *bundle;
  tk_weights *weights;
  tk_checkpoint *ckpt; /* for the reference */
  tk_ref_model *ref;
} fixture;

/* ---- Setup ------------------------------------------------------------------------------ */

/* A bundle of `model` for --cpu `cpu` and --dispatch `dispatch` (its dir named by `tag`), and
 * its checkpoint. */
static bool fixture_open_with(const char *tmp, const char *model, int64_t max_batch,
                              const char *cpu, tk_ir_dispatch dispatch, const char *tag,
                              fixture *f) {
  *f = (fixture){.model = model};
  const char *name = strrchr(model, '/') ? strrchr(model, '/') + 1 : model; /* an arch path */
  snprintf(f->dir, sizeof f->dir, "%s/%s-%lld%s", tmp, name, (long long)max_batch, tag);
  snprintf(f->ckpt_path, sizeof f->ckpt_path, "%s/%s.tkp1", tmp, name);
  tk_status s = tk_test_model_bundle_dispatch(model, f->dir, f->ckpt_path, max_batch, cpu, dispatch,
                                              &f->arch);
  if (!s) s = tk_bundle_open(f->dir, &f->bundle);
  if (!s) s = tk_weights_open(f->bundle, f->ckpt_path, NULL, &f->weights);
  if (!s) s = tk_checkpoint_open(f->ckpt_path, &f->ckpt);
  if (!s) s = tk_ref_model_from_checkpoint(&f->arch, f->ckpt, &f->ref);
  CHECK_MSG(!s, "%s: %s", model, tk_status_message(s));
  tk_status_free(s);
  return !s;
}

static bool fixture_open_cpu(const char *tmp, const char *model, int64_t max_batch, const char *cpu,
                             const char *tag, fixture *f) {
  return fixture_open_with(tmp, model, max_batch, cpu, TK_DISPATCH_DENSE, tag, f);
}

static bool fixture_open(const char *tmp, const char *model, int64_t max_batch, fixture *f) {
  return fixture_open_cpu(tmp, model, max_batch, "x86-64-v3", "", f);
}

/* The same model with sparse dispatch (tkc --dispatch sparse), sharing the checkpoint. */
static bool fixture_open_sparse(const char *tmp, const char *model, int64_t max_batch, fixture *f) {
  return fixture_open_with(tmp, model, max_batch, "x86-64-v3", TK_DISPATCH_SPARSE, "-sparse", f);
}

static void fixture_close(fixture *f) {
  tk_ref_model_free(f->ref);
  tk_checkpoint_close(f->ckpt);
  tk_weights_close(f->weights);
  tk_bundle_close(f->bundle);
}

/* A cpu session with T threads and max_rows (0: the default), on the bundle's x86_64 code of level
 * `cpu` (NULL: the runtime's choice). */
static tk_session *session_open_with(const fixture *f, int threads, int64_t max_rows,
                                     const char *cpu) {
  tk_session_options o;
  tk_session_options_default(&o);
  o.device = TK_DEVICE_CPU;
  o.threads = threads;
  o.max_rows = max_rows;
  o.cpu = cpu;
  tk_session *s = NULL;
  CHECK_OK(tk_session_create(f->bundle, f->weights, &o, &s));
  return s;
}

static tk_session *session_open_cpu(const fixture *f, const char *cpu, int threads) {
  return session_open_with(f, threads, 0, cpu);
}

static tk_session *session_open(const fixture *f, int threads, int64_t max_rows) {
  return session_open_with(f, threads, max_rows, NULL);
}

/* Deterministic features in [-2, 2) (an LCG; independent of the code under test). */
static float *features(int64_t rows, int32_t cols, uint64_t seed) {
  float *x = malloc((size_t)(rows * cols) * sizeof *x);
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < rows * cols; i++) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (float)((double)(state >> 40) / (double)(1 << 24) * 4.0 - 2.0);
  }
  return x;
}

/* Output arrays with GUARD_ROWS extra rows of SENTINEL after the B requested. */
static float *guarded(int64_t rows, int32_t cols) {
  size_t n = (size_t)((rows + GUARD_ROWS) * (cols ? cols : 1));
  float *p = malloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = SENTINEL;
  return p;
}

static bool guards_intact(const float *p, int64_t rows, int32_t cols) {
  for (int64_t i = rows * cols; i < (rows + GUARD_ROWS) * cols; i++)
    if (p[i] != SENTINEL) return false;
  return true;
}

/* ---- Checks ----------------------------------------------------------------------------- */

static void check_router_rows(const fixture *f, const float *w, int64_t B) {
  const tk_bundle_info *info = tk_bundle_get_info(f->bundle);
  for (int64_t r = 0; r < B; r++) {
    int nz = 0;
    for (int32_t e = 0; e < info->n_experts; e++) nz += w[r * info->n_experts + e] != 0.0f;
    if (nz != info->top_k) {
      CHECK_MSG(nz == info->top_k, "%s row %lld: %d non-zero router weights, expected %d", f->model,
                (long long)r, nz, info->top_k);
      return;
    }
  }
}

static void check_reference(const fixture *f, const float *x, int64_t B, const float *logits,
                            const float *w) {
  tk_ref_report report;
  CHECK_OK(tk_ref_compare(f->ref, x, (size_t)B, logits, w, &report));
  CHECK_MSG(tk_ref_report_passed(&report), "%s B=%lld: %zu mismatches against tests/ref", f->model,
            (long long)B, report.mismatches);
  if (!tk_ref_report_passed(&report)) tk_ref_report_print(&report, stderr);
}

/* One batch on two sessions: bitwise equal, guards intact, reference, K non-zeros. */
static void check_batch(const fixture *f, tk_session *a, tk_session *b, int64_t B) {
  const tk_bundle_info *info = tk_bundle_get_info(f->bundle);
  int32_t out = info->out_dim, e = info->n_experts;
  float *x = features(B, info->in_dim, (uint64_t)B);
  float *la = guarded(B, out), *lb = guarded(B, out), *wa = guarded(B, e), *wb = guarded(B, e);
  CHECK_OK(tk_session_forward(a, x, B, la, e ? wa : NULL));
  CHECK_OK(tk_session_forward(b, x, B, lb, e ? wb : NULL));
  CHECK_MSG(!memcmp(la, lb, (size_t)(B * out) * sizeof *la) &&
                (!e || !memcmp(wa, wb, (size_t)(B * e) * sizeof *wa)),
            "%s B=%lld: answers differ between the two sessions", f->model, (long long)B);
  CHECK_MSG(guards_intact(la, B, out) && (!e || guards_intact(wa, B, e)),
            "%s B=%lld: rows past B were written", f->model, (long long)B);
  check_reference(f, x, B, la, e ? wa : NULL);
  if (e) check_router_rows(f, wa, B);
  free(x);
  free(la);
  free(lb);
  free(wa);
  free(wb);
}

/* Sessions with 1 and 2 threads over the given batch sizes. */
static void check_model(const fixture *f, const int64_t *batches, size_t n) {
  tk_session *one = session_open(f, 1, 0), *two = session_open(f, 2, 0);
  if (one && two)
    for (size_t i = 0; i < n; i++) check_batch(f, one, two, batches[i]);
  tk_session_free(one);
  tk_session_free(two);
}

/* Chunked (16 rows per launch) and unchunked sessions agree bitwise. */
static void check_chunking_invariance(const fixture *f) {
  tk_session *whole = session_open(f, 2, 0), *chunked = session_open(f, 2, 16);
  if (whole && chunked) check_batch(f, whole, chunked, 100);
  tk_session_free(whole);
  tk_session_free(chunked);
}

/* Sparse dispatch against the dense form on the same checkpoint: bitwise the same answers
 * (dense on 1 thread, sparse on 2), and the reference's. */
static void check_dispatch_equal(const fixture *dense, const fixture *sparse,
                                 const int64_t *batches, size_t n) {
  tk_session *d = session_open(dense, 1, 0), *s = session_open(sparse, 2, 0);
  if (d && s)
    for (size_t i = 0; i < n; i++) check_batch(dense, d, s, batches[i]);
  tk_session_free(d);
  tk_session_free(s);
}

/* nano and custom-small with sparse dispatch: every batch size, threads, chunking. */
static void run_sparse(const char *tmp, const fixture *nano, const fixture *custom,
                       const int64_t *batches, size_t n, const int64_t *chunked, size_t nc) {
  fixture f;
  if (fixture_open_sparse(tmp, "nano", TKC_DEFAULT_MAX_BATCH, &f)) {
    check_model(&f, batches, n);
    check_chunking_invariance(&f);
    check_dispatch_equal(nano, &f, batches, n);
  }
  fixture_close(&f);
  if (fixture_open_sparse(tmp, "custom-small", TKC_DEFAULT_MAX_BATCH, &f)) {
    check_model(&f, batches, n);
    check_dispatch_equal(custom, &f, batches, n);
  }
  fixture_close(&f);
  if (fixture_open_sparse(tmp, "nano", 32, &f)) check_model(&f, chunked, nc);
  fixture_close(&f);
}

static void check_forward_errors(const fixture *f) {
  tk_session *s = session_open(f, 1, 0);
  if (!s) return;
  const tk_bundle_info *info = tk_bundle_get_info(f->bundle);
  float *x = features(4, info->in_dim, 7), logits[4 * 64], w[4 * 64];
  CHECK_ERR(tk_session_forward(s, x, 0, logits, w), "batch of 0 rows");
  x[2 * info->in_dim + 5] = 0.0f / 0.0f;
  CHECK_ERR(tk_session_forward(s, x, 4, logits, w), "row 2, column 5");
  x[2 * info->in_dim + 5] = 0.0f;
  x[3 * info->in_dim] = -1.0f / 0.0f;
  CHECK_ERR(tk_session_forward(s, x, 4, logits, w), "row 3, column 0: feature is -Inf");
  free(x);
  tk_session_free(s);
}

/* Router weight W[k, e] of the checkpoint, in either layout (docs/formats.md §1.1). */
static float router_weight(const fixture *f, int32_t k, int32_t e) {
  const tk_checkpoint_record *rec =
      tk_checkpoint_record_at(f->ckpt, (uint32_t)tk_checkpoint_find(f->ckpt, "router.param_0"));
  int32_t in = f->arch.input_dim, n_e = f->arch.n_experts;
  int64_t i =
      f->arch.weight_layout == TK_LAYOUT_IN_OUT ? (int64_t)k * n_e + e : (int64_t)e * in + k;
  float w;
  memcpy(&w, (const char *)rec->weights + i * 4, sizeof w);
  return w;
}

/* docs/formats.md §3.6: a row whose router logit overflows f32 is rejected, naming the row of
 * the caller's batch, also when the caller wants no router weights and the row is in a later
 * chunk. Row 3's features are ±3e38 with the signs of expert 0's router column, so every term
 * of its logit is positive and the sum passes FLT_MAX whenever Σ|W[k, 0]| > FLT_MAX / 3e38
 * (checked here in double, from the checkpoint). */
static void check_router_overflow(const fixture *f) {
  const tk_bundle_info *info = tk_bundle_get_info(f->bundle);
  tk_session *s = session_open(f, 1, 2);
  if (!s) return;
  float *x = features(5, info->in_dim, 11), logits[5 * 64], w[5 * 64];
  double l1 = 0;
  for (int32_t k = 0; k < info->in_dim; k++) {
    float wk = router_weight(f, k, 0);
    l1 += fabs((double)wk);
    x[3 * info->in_dim + k] = wk < 0 ? -3e38f : 3e38f;
  }
  CHECK_MSG(l1 * 3e38 > 2 * 3.4028235e38, "%s: router column 0 too small to overflow: %g", f->model,
            l1);
  CHECK_ERR(tk_session_forward(s, x, 5, logits, NULL), "row 3: the router logits are not finite");
  CHECK_ERR(tk_session_forward(s, x, 5, logits, w), "row 3: the router logits are not finite");
  CHECK_OK(tk_session_forward(s, x, 3, logits, w)); /* rows 0..2 alone are answered */
  check_reference(f, x, 3, logits, w);
  free(x);
  tk_session_free(s);
}

static void check_devices(const fixture *f) {
  static const tk_device gpus[] = {TK_DEVICE_HIP, TK_DEVICE_CUDA};
  for (int i = 0; i < 2; i++) {
    tk_session_options o;
    tk_session_options_default(&o);
    o.device = gpus[i];
    tk_session *s = NULL;
    tk_status st = tk_session_create(f->bundle, f->weights, &o, &s);
    CHECK_MSG(tk_status_code_of(st) == TK_UNAVAILABLE && !s, "--device %s: %s",
              tk_device_name(gpus[i]), st ? tk_status_message(st) : "OK");
    tk_status_free(st);
  }
  tk_device d;
  CHECK_OK(tk_device_parse("cuda", &d));
  CHECK(d == TK_DEVICE_CUDA);
  CHECK_ERR(tk_device_parse("gpu", &d), "expected auto, cpu, hip or cuda");
}

/* Weights of one bundle with another bundle, and a checkpoint of another arch. */
static void check_mismatches(const fixture *a, const fixture *b) {
  tk_session *s = NULL;
  CHECK_ERR(tk_session_create(a->bundle, b->weights, NULL, &s), "another bundle");
  tk_weights *w = NULL;
  CHECK_ERR(tk_weights_open(a->bundle, b->ckpt_path, NULL, &w), "weight_len");
  CHECK(w == NULL);
}

/* ---- Bundle tampering ------------------------------------------------------------------- */

static char *read_all(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  char *buf = calloc(1, 1 << 20);
  if (buf) buf[fread(buf, 1, (1 << 20) - 1, fp)] = '\0';
  fclose(fp);
  return buf;
}

static void write_all(const char *path, const char *text) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return;
  fputs(text, fp);
  fclose(fp);
}

/* Replaces the first `from` by `to` in the file, opens the bundle expecting `needle` in the
 * error, and restores the file. */
static void check_tampered(const char *dir, const char *file, const char *from, const char *to,
                           const char *needle) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  char *orig = read_all(path);
  char *at = orig ? strstr(orig, from) : NULL;
  CHECK_MSG(at != NULL, "%s holds no \"%s\"", path, from);
  if (!at) {
    free(orig);
    return;
  }
  size_t n = strlen(orig) + strlen(to) + 1;
  char *edited = malloc(n);
  snprintf(edited, n, "%.*s%s%s", (int)(at - orig), orig, to, at + strlen(from));
  write_all(path, edited);
  tk_bundle *b = NULL;
  CHECK_ERR(tk_bundle_open(dir, &b), needle);
  write_all(path, orig);
  CHECK_OK(tk_bundle_open(dir, &b));
  tk_bundle_close(b);
  free(edited);
  free(orig);
}

static void check_bundle_open(const char *dir) {
  check_tampered(dir, "model_host.c", "tkm_", "tkm_ ", "sha256 mismatch");
  check_tampered(dir, "manifest.json", "tkc-bundle/1", "tkc-bundle/2", "expected \"tkc-bundle/1\"");
  check_tampered(dir, "manifest.json", "\"input_dim\":96", "\"input_dim\":97", "hashes to");
  check_tampered(dir, "manifest.json", "\"max_batch\"", "\"max_batches\"", "max_batch");
  tk_bundle *b = NULL;
  CHECK_ERR(tk_bundle_open("/nonexistent-tkc-bundle", &b), "manifest.json");
}

/* ---- CPU levels ------------------------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix) {
  return s && !strncmp(s, prefix, strlen(prefix));
}

/* x on sessions a and b: every logit within the FORMATS tolerance of the other's. */
static void check_close(const fixture *f, tk_session *a, tk_session *b, int64_t B) {
  const tk_bundle_info *info = tk_bundle_get_info(f->bundle);
  int32_t out = info->out_dim;
  float *x = features(B, info->in_dim, (uint64_t)B + 7);
  float *la = guarded(B, out), *lb = guarded(B, out);
  CHECK_OK(tk_session_forward(a, x, B, la, NULL));
  CHECK_OK(tk_session_forward(b, x, B, lb, NULL));
  int64_t far = 0;
  for (int64_t i = 0; i < B * out; i++)
    far += !(fabsf(la[i] - lb[i]) <= TK_REF_TOL_ABS + TK_REF_TOL_REL * fabsf(lb[i]));
  CHECK_MSG(far == 0,
            "%s B=%lld: %lld logits of x86-64-v4 and x86-64-v3 differ beyond the "
            "tolerance",
            f->model, (long long)B, (long long)far);
  free(x);
  free(la);
  free(lb);
}

/* The manifest lists an x86_64 entry per level and the v4 one its own stub. */
static void check_levels_manifest(const fixture *f) {
  char path[1200];
  snprintf(path, sizeof path, "%s/manifest.json", f->dir);
  char *m = read_all(path);
  CHECK_MSG(m && strstr(m, "\"cpu\": \"x86-64-v3\"") && strstr(m, "\"cpu\": \"x86-64-v4\"") &&
                strstr(m, "\"file\": \"model.x86_64.x86-64-v4.so\"") &&
                strstr(m, "\"file\": \"model_host.x86-64-v4.so\""),
            "%s: the manifest does not list both CPU levels", path);
  free(m);
}

static void check_levels_sessions(const fixture *levels, const fixture *v3) {
  tk_status no_v4 = tk_cpu_check_level("x86-64-v4");
  const char *best_level = no_v4 ? "x86-64-v3 (" : "x86-64-v4 (";
  tk_status_free(no_v4);
  tk_session *best1 = session_open_cpu(levels, NULL, 1), *best2 = session_open_cpu(levels, NULL, 2);
  tk_session *forced = session_open_cpu(levels, "x86-64-v3", 2), *only = session_open(v3, 2, 0);
  if (best1 && best2 && forced && only) {
    CHECK_MSG(starts_with(tk_session_device(best1), best_level), "device %s, expected %s...)",
              tk_session_device(best1), best_level);
    CHECK_MSG(starts_with(tk_session_device(forced), "x86-64-v3 ("), "forced v3: device %s",
              tk_session_device(forced));
    static const int64_t batches[] = {1, 17, 100};
    for (size_t i = 0; i < 3; i++) {
      check_batch(levels, best1, best2, batches[i]); /* bitwise over threads; reference */
      check_batch(levels, forced, only, batches[i]); /* forced v3 = the v3-only bundle */
      check_close(levels, best1, only, batches[i]);
    }
  }
  tk_session_free(best1);
  tk_session_free(best2);
  tk_session_free(forced);
  tk_session_free(only);
  tk_session_options o;
  tk_session_options_default(&o);
  o.device = TK_DEVICE_CPU;
  o.cpu = "x86-64-v2";
  tk_session *s = NULL;
  tk_status st = tk_session_create(levels->bundle, levels->weights, &o, &s);
  CHECK_MSG(tk_status_code_of(st) == TK_UNAVAILABLE && !s &&
                strstr(tk_status_message(st), "it has x86-64-v3, x86-64-v4"),
            "forcing x86-64-v2: %s", st ? tk_status_message(st) : "OK");
  tk_status_free(st);
}

/* Flips the bits of byte `at` of a file (binary-safe; twice restores it). */
static void flip_byte(const char *path, long at) {
  FILE *fp = fopen(path, "r+b");
  int c = fp && fseek(fp, at, SEEK_SET) == 0 ? fgetc(fp) : EOF;
  CHECK_MSG(c != EOF, "%s: cannot read byte %ld", path, at);
  if (c != EOF && fseek(fp, at, SEEK_SET) == 0) fputc(c ^ 0xff, fp);
  if (fp) fclose(fp);
}

/* A changed or missing file of the second level fails at open, naming it. */
static void check_levels_files(const fixture *f) {
  check_tampered(f->dir, "model_host.x86-64-v4.c", "tkm_", "tkm_ ", "sha256 mismatch");
  char path[1200], moved[1300];
  snprintf(path, sizeof path, "%s/model.x86_64.x86-64-v4.so", f->dir);
  tk_bundle *b = NULL;
  flip_byte(path, 100);
  CHECK_ERR(tk_bundle_open(f->dir, &b), "model.x86_64.x86-64-v4.so: sha256 mismatch");
  flip_byte(path, 100);
  CHECK_OK(tk_bundle_open(f->dir, &b));
  tk_bundle_close(b);
  b = NULL;
  snprintf(moved, sizeof moved, "%s.away", path);
  CHECK(rename(path, moved) == 0);
  CHECK_ERR(tk_bundle_open(f->dir, &b), "model.x86_64.x86-64-v4.so");
  CHECK(rename(moved, path) == 0);
}

static void check_levels(const char *tmp, const fixture *v3) {
  fixture levels;
  if (fixture_open_cpu(tmp, "nano", TKC_DEFAULT_MAX_BATCH, "x86-64-v3,x86-64-v4", "-levels",
                       &levels)) {
    check_levels_manifest(&levels);
    check_levels_sessions(&levels, v3);
    check_levels_files(&levels);
  }
  fixture_close(&levels);
}

/* ---- Main ------------------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* ---- Weight panels: packing, then reading back, gives the checkpoint ---------------------- */

/* Buffer id of a param as filled (n floats at got) against its checkpoint weights: at the
 * panel offset of each (k, j), or row-major; every slot holds exactly one weight. A panel
 * buffer stored out_in holds the K x N weight as its transpose: (k, j) at want[j * K + k].
 * Returns whether it is a panel buffer. */
static bool check_param_placed(const tk_model_host *h, int32_t id, const float *got,
                               const float *want, int64_t n) {
  int64_t cols = h->buffer_panel_cols(id), width = h->buffer_panel_width(id);
  bool panel = width > 0, out_in = panel && h->buffer_panel_out_in(id) == 1;
  if (!panel) cols = n, width = n; /* one row, one panel: offset(0, j) = j */
  CHECK_MSG(cols > 0 && n % cols == 0 && width <= cols, "%s: panels %lld of %lld for %lld",
            h->buffer_name(id), (long long)width, (long long)cols, (long long)n);
  if (!(cols > 0 && n % cols == 0 && width <= cols)) return panel;
  char *seen = calloc((size_t)n, 1);
  int64_t rows = n / cols, wrong = 0;
  for (int64_t k = 0; seen && k < rows; k++)
    for (int64_t j = 0; j < cols; j++) {
      int64_t at = tk_panel_offset(rows, cols, width, k, j);
      int64_t stored = tk_panel_stored_index(rows, cols, out_in, k, j);
      if (at < 0 || at >= n || seen[at]++ || memcmp(&got[at], &want[stored], sizeof *got)) wrong++;
    }
  CHECK_MSG(seen && wrong == 0, "%s (%s): %lld of %lld weights misplaced", h->buffer_name(id),
            panel ? "panels" : "row-major", (long long)wrong, (long long)n);
  free(seen);
  return panel;
}

static void check_panels(const fixture *f, int want_panels) {
  char stub[1100], code[1100];
  snprintf(stub, sizeof stub, "%s/model_host.so", f->dir);
  snprintf(code, sizeof code, "%s/model.x86_64.so", f->dir);
  tk_model_host *h = NULL;
  tk_launcher *l = NULL;
  CHECK_OK(tk_model_host_open(stub, &h));
  CHECK_OK(tk_cpu_launcher_create(&(tk_cpu_launcher_options){.code_path = code, .threads = 1}, &l));
  if (h && l) CHECK_OK(tk_model_buffers_create(l, h, 1, f->ckpt));
  int panels = 0;
  for (int32_t id = 0; h && l && id < h->buffer_count(); id++) {
    if (h->buffer_role(id) != TK_BUFFER_PARAM) continue;
    const tk_checkpoint_record *r = tk_checkpoint_record_at(f->ckpt, (uint32_t)h->buffer_param(id));
    float *want = malloc(sizeof *want * (r->weight_len + 1));
    if (!want) continue;
    tk_checkpoint_weights_copy(r, 0, r->weight_len, want);
    panels += check_param_placed(h, id, tk_launcher_buffer_host(l, id), want, r->weight_len);
    free(want);
  }
  CHECK_MSG(panels == want_panels, "%s: %d weights packed in panels on the cpu, expected %d",
            f->model, panels, want_panels);
  tk_launcher_destroy(l);
  tk_model_host_close(h);
}

static void run_default(const char *tmp) {
  static const int64_t all[] = {1, 2, 15, 16, 17, 100, 1000};
  static const int64_t small[] = {1, 2, 15, 16, 17, 100};
  static const int64_t chunked[] = {17, 32, 33, 100, 1000};
  fixture nano, custom, dense, nano32;
  bool ok_nano = fixture_open(tmp, "nano", TKC_DEFAULT_MAX_BATCH, &nano);
  bool ok_custom = fixture_open(tmp, "custom-small", TKC_DEFAULT_MAX_BATCH, &custom);
  if (ok_nano) {
    check_panels(&nano, NANO_PANELS);
    check_model(&nano, all, sizeof all / sizeof all[0]);
    check_chunking_invariance(&nano);
    check_forward_errors(&nano);
    check_router_overflow(&nano);
    check_devices(&nano);
  }
  if (ok_custom) {
    check_model(&custom, all, sizeof all / sizeof all[0]);
    check_router_overflow(&custom);
  }
  if (ok_nano && ok_custom) check_mismatches(&nano, &custom);
  if (ok_nano && ok_custom)
    run_sparse(tmp, &nano, &custom, all, sizeof all / sizeof all[0], chunked,
               sizeof chunked / sizeof chunked[0]);
  fixture_close(&custom);
  if (fixture_open(tmp, "dense", TKC_DEFAULT_MAX_BATCH, &dense))
    check_model(&dense, small, sizeof small / sizeof small[0]);
  fixture_close(&dense);
  if (fixture_open(tmp, "nano", 32, &nano32)) { /* a batch above max_batch runs in chunks */
    CHECK(tk_bundle_get_info(nano32.bundle)->max_batch == 32);
    check_model(&nano32, chunked, sizeof chunked / sizeof chunked[0]);
    check_bundle_open(nano32.dir);
  }
  fixture_close(&nano32);
  fixture_close(&nano);
  fixture out_in;
  if (fixture_open_sparse(tmp, OUT_IN_ARCH, TKC_DEFAULT_MAX_BATCH, &out_in)) {
    check_panels(&out_in, OUT_IN_PANELS);
    check_model(&out_in, small, sizeof small / sizeof small[0]);
  }
  fixture_close(&out_in);
}

int main(int argc, char **argv) {
  bool tiny = argc > 1 && !strcmp(argv[1], "--tiny");
  bool levels = argc > 1 && !strcmp(argv[1], "--levels");
  const char *base = getenv("TK_BUILD_DIR");
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s/session_test.XXXXXX", base ? base : "/tmp");
  if (!mkdtemp(tmp)) {
    perror(tmp);
    return 1;
  }
  if (tiny) {
    static const int64_t batches[] = {1, 16, 33};
    fixture f;
    if (fixture_open(tmp, "tiny", TKC_DEFAULT_MAX_BATCH, &f)) check_model(&f, batches, 3);
    fixture_close(&f);
  } else if (levels) {
    fixture v3;
    if (fixture_open(tmp, "nano", TKC_DEFAULT_MAX_BATCH, &v3)) check_levels(tmp, &v3);
    fixture_close(&v3);
  } else {
    run_default(tmp);
  }
  nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  TEST_MAIN_END();
}
