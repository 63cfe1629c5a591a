/* tests/unit/checkpoint_test.c — checkpoint.tkp1 (docs/formats.md §2), the arch's parameter list
 * and the init-checkpoint RNG.
 *
 *   params      tensor counts, names, shapes and totals of every model, against formulas
 *               written here from the dims (not from arch_params.c)
 *   rng         splitmix64 / xoshiro256** against published vectors; ranges; keyed streams
 *   round trip  the real writer then the real reader, every weight compared bit for bit
 *               with a second regeneration (nano, custom-small, dense; tiny with --tiny)
 *   big         Medium and Full as sparse files (headers only, weights are holes)
 *   corrupt     images built here byte by byte, each an exact-size heap copy (ASan sees any
 *               over-read), each rejected with a message naming the problem
 *   writer      byte-exact against the hand serializer; failed writes leave nothing
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/arch.h"
#include "model/init_weights.h"
#include "test.h"
#include "tk/checkpoint.h"

/* ---- Arches by hand (the values of the models/ arch files) ------------------------------------ */

static tk_arch make_arch(tk_model_kind kind, int32_t in, int32_t h, int32_t depth, int32_t out,
                         int32_t experts, int32_t top_k, uint64_t seed) {
  tk_arch a = {.size = TK_SIZE_CUSTOM,
               .input_dim = in,
               .hidden_dim = h,
               .output_dim = out,
               .n_experts = experts,
               .top_k = top_k,
               .expert_depth = depth,
               .seed = seed,
               .model_kind = kind,
               .layer_norm_eps = 1e-5,
               .fingerprint = "0123456789abcdef"};
  return a;
}
static tk_arch nano(void) { return make_arch(TK_MODEL_MOE, 96, 128, 2, 20, 4, 2, 20260101); }
static tk_arch tiny(void) { return make_arch(TK_MODEL_MOE, 96, 2048, 5, 20, 4, 2, 20260102); }
static tk_arch medium(void) { return make_arch(TK_MODEL_MOE, 96, 4096, 5, 20, 4, 2, 20260103); }
static tk_arch full(void) { return make_arch(TK_MODEL_MOE, 96, 4096, 12, 20, 4, 2, 20260104); }
static tk_arch dense(void) { return make_arch(TK_MODEL_DENSE, 96, 512, 2, 20, 0, 0, 20260105); }
static tk_arch custom_small(void) { return make_arch(TK_MODEL_MOE, 32, 64, 1, 8, 6, 3, 20260106); }
/* 14 tensors: router 2×2 + 2, two experts of Linear(2,3), LN(3), Linear(3,2). */
static tk_arch micro(void) { return make_arch(TK_MODEL_MOE, 2, 3, 0, 2, 2, 1, 7); }

/* ---- Parameter lists ------------------------------------------------------------------------ */

static uint64_t moe_total(uint64_t in, uint64_t h, uint64_t d, uint64_t out, uint64_t e) {
  uint64_t expert = in * h + h + 2 * h + d * (h * h + h + 2 * h) + h * out + out;
  return in * e + e + e * expert;
}
static uint64_t dense_total(uint64_t in, uint64_t h, uint64_t d, uint64_t out) {
  uint64_t i = 4096;
  return in * h + h + 2 * h + d * (2 * h + h * i + i + i * h + h) + h * out + out;
}

static void check_spec(const tk_arch *a, size_t i, const char *name, tk_param_role role,
                       int32_t rows, int32_t cols) {
  tk_param_spec s = tk_arch_param(a, i);
  CHECK_MSG(!strcmp(s.name, name), "param %zu: name %s, expected %s", i, s.name, name);
  CHECK_MSG(s.role == role && s.rows == rows && s.cols == cols && s.count == (uint64_t)rows * cols,
            "param %zu (%s): role %d %dx%d count %llu, expected role %d %dx%d", i, s.name, s.role,
            s.rows, s.cols, (unsigned long long)s.count, role, rows, cols);
}

/* Counts, totals, and the role cycle W,B,G,Be ... W,B of every expert. */
static void check_moe_list(tk_arch a, uint64_t want_total) {
  size_t per = 4 * ((size_t)a.expert_depth + 1) + 2;
  CHECK(tk_arch_param_count(&a) == 2 + (size_t)a.n_experts * per);
  CHECK_MSG(tk_arch_weight_total(&a) == want_total, "total %llu, expected %llu",
            (unsigned long long)tk_arch_weight_total(&a), (unsigned long long)want_total);
  CHECK(want_total ==
        moe_total(a.input_dim, a.hidden_dim, a.expert_depth, a.output_dim, a.n_experts));
  uint64_t sum = 0;
  for (size_t i = 0; i < tk_arch_param_count(&a); i++) sum += tk_arch_param(&a, i).count;
  CHECK(sum == want_total);
  static const tk_param_role cycle[4] = {TK_PARAM_WEIGHT, TK_PARAM_BIAS, TK_PARAM_GAMMA,
                                         TK_PARAM_BETA};
  for (size_t j = 0; j < per; j++) {
    tk_param_role want = j >= per - 2 ? cycle[j - (per - 2)] : cycle[j % 4];
    CHECK_MSG(tk_arch_param(&a, 2 + per + j).role == want, "expert_1.param_%zu role", j);
  }
  int32_t in = a.input_dim, h = a.hidden_dim, out = a.output_dim, e = a.n_experts;
  check_spec(&a, 0, "router.param_0", TK_PARAM_WEIGHT, in, e);
  check_spec(&a, 1, "router.param_1", TK_PARAM_BIAS, 1, e);
  check_spec(&a, 2, "expert_0.param_0", TK_PARAM_WEIGHT, in, h);
  check_spec(&a, 3, "expert_0.param_1", TK_PARAM_BIAS, 1, h);
  check_spec(&a, 4, "expert_0.param_2", TK_PARAM_GAMMA, 1, h);
  check_spec(&a, 5, "expert_0.param_3", TK_PARAM_BETA, 1, h);
  if (a.expert_depth > 0) check_spec(&a, 6, "expert_0.param_4", TK_PARAM_WEIGHT, h, h);
  char name[64];
  snprintf(name, sizeof name, "expert_%d.param_%u", e - 1, (unsigned)(per - 2));
  check_spec(&a, 2 + (e - 1) * per + per - 2, name, TK_PARAM_WEIGHT, h, out);
  snprintf(name, sizeof name, "expert_%d.param_%u", e - 1, (unsigned)(per - 1));
  check_spec(&a, 2 + e * per - 1, name, TK_PARAM_BIAS, 1, out);
  CHECK(tk_arch_param(&a, 2 + e * per).count == 0); /* out of range */
  /* out_in swaps the stored shape of weights only. */
  a.weight_layout = TK_LAYOUT_OUT_IN;
  check_spec(&a, 0, "router.param_0", TK_PARAM_WEIGHT, e, in);
  check_spec(&a, 2, "expert_0.param_0", TK_PARAM_WEIGHT, h, in);
  check_spec(&a, 3, "expert_0.param_1", TK_PARAM_BIAS, 1, h);
  CHECK(tk_arch_weight_total(&a) == want_total);
}

static void test_param_lists(void) {
  check_moe_list(nano(), 195540);
  check_moe_list(tiny(), 84984276);
  check_moe_list(medium(), 337740244);
  check_moe_list(full(), 807846356);
  check_moe_list(custom_small(), 42486);
  check_moe_list(micro(), 2 * 2 + 2 + 2 * (6 + 3 + 3 + 3 + 6 + 2));
  tk_arch f = full();
  CHECK(tk_arch_param_count(&f) == 4 * (4 * 13 + 2) + 2);

  tk_arch d = dense();
  CHECK(tk_arch_param_count(&d) == 4 + 6 * 2 + 2);
  CHECK(tk_arch_weight_total(&d) == dense_total(96, 512, 2, 20));
  CHECK(tk_arch_weight_total(&d) == 8460820);
  check_spec(&d, 0, "dense.param_0", TK_PARAM_WEIGHT, 96, 512);
  check_spec(&d, 1, "dense.param_1", TK_PARAM_BIAS, 1, 512);
  check_spec(&d, 2, "dense.param_2", TK_PARAM_GAMMA, 1, 512);
  check_spec(&d, 3, "dense.param_3", TK_PARAM_BETA, 1, 512);
  for (int b = 0; b < 2; b++) { /* pre-LN FFN blocks: gamma, beta, Linear(H,I), Linear(I,H) */
    size_t base = 4 + 6 * (size_t)b;
    char name[64];
    snprintf(name, sizeof name, "dense.param_%zu", base);
    check_spec(&d, base, name, TK_PARAM_GAMMA, 1, 512);
    snprintf(name, sizeof name, "dense.param_%zu", base + 1);
    check_spec(&d, base + 1, name, TK_PARAM_BETA, 1, 512);
    snprintf(name, sizeof name, "dense.param_%zu", base + 2);
    check_spec(&d, base + 2, name, TK_PARAM_WEIGHT, 512, 4096);
    snprintf(name, sizeof name, "dense.param_%zu", base + 3);
    check_spec(&d, base + 3, name, TK_PARAM_BIAS, 1, 4096);
    snprintf(name, sizeof name, "dense.param_%zu", base + 4);
    check_spec(&d, base + 4, name, TK_PARAM_WEIGHT, 4096, 512);
    snprintf(name, sizeof name, "dense.param_%zu", base + 5);
    check_spec(&d, base + 5, name, TK_PARAM_BIAS, 1, 512);
  }
  check_spec(&d, 16, "dense.param_16", TK_PARAM_WEIGHT, 512, 20);
  check_spec(&d, 17, "dense.param_17", TK_PARAM_BIAS, 1, 20);
  d.weight_layout = TK_LAYOUT_OUT_IN;
  check_spec(&d, 6, "dense.param_6", TK_PARAM_WEIGHT, 4096, 512);
}

/* ---- RNG -------------------------------------------------------------------------------- */

static void test_rng(void) {
  /* splitmix64, seed 1234567 (Rosetta Code, "Pseudo-random numbers/Splitmix64"). */
  static const uint64_t sm[5] = {6457827717110365317ull, 3203168211198807973ull,
                                 9817491932198370423ull, 4593380528125082431ull,
                                 16408922859458223821ull};
  uint64_t state = 1234567;
  for (int i = 0; i < 5; i++) CHECK(tk_arch_splitmix64_next(&state) == sm[i]);
  /* xoshiro256** from s = {1, 2, 3, 4}: the first three worked by hand from the reference
   * algorithm (rotl(s1·5, 7)·9), the fourth as in rand_xoshiro's test. */
  static const uint64_t xo[4] = {11520, 0, 1509978240, 1215971899390074240ull};
  tk_rng rng = {{1, 2, 3, 4}};
  for (int i = 0; i < 4; i++) CHECK(tk_arch_rng_next(&rng) == xo[i]);

  /* Tensor values follow the documented formula (models/README.md). */
  tk_arch a = nano();
  float w[96 * 4];
  tk_arch_init_fill(&a, 99, 0, w); /* router W 96x4: uniform ±1/sqrt(96) */
  tk_arch_rng_seed(&rng, 99ull ^ 0x9E3779B97F4A7C15ull);
  double bound = 1.0 / sqrt(96.0);
  for (int j = 0; j < 8; j++) {
    double u = (double)(tk_arch_rng_next(&rng) >> 40) / 16777216.0;
    CHECK(w[j] == (float)(-bound + 2 * bound * u));
  }
}

/* Every value of every tensor lies in its role's range; values spread over it. */
static void check_ranges(const tk_arch *a, size_t index, const float *w, uint64_t n) {
  tk_param_spec s = tk_arch_param(a, index);
  double lo, hi;
  switch (s.role) {
    case TK_PARAM_WEIGHT: {
      int32_t fan_in = a->weight_layout == TK_LAYOUT_IN_OUT ? s.rows : s.cols;
      hi = 1.0 / sqrt((double)fan_in), lo = -hi;
      break;
    }
    case TK_PARAM_BIAS: lo = -0.1, hi = 0.1; break;
    case TK_PARAM_GAMMA: lo = 0.5, hi = 1.5; break;
    default: lo = -0.2, hi = 0.2; break;
  }
  float min = w[0], max = w[0];
  for (uint64_t j = 0; j < n; j++) {
    if (w[j] < min) min = w[j];
    if (w[j] > max) max = w[j];
  }
  CHECK_MSG(min >= (float)lo && max <= (float)hi, "%s: [%g, %g] outside [%g, %g]", s.name, min, max,
            lo, hi);
  if (n >= 64) /* 64 uniform draws all in one half is a 2^-63 event */
    CHECK_MSG(min < (lo + hi) / 2 && max > (lo + hi) / 2, "%s: values do not spread", s.name);
}

static void test_init_streams(void) {
  tk_arch n = nano(), t = tiny();
  /* Keyed by (seed, index): tensor 3 (expert_0 bias) of nano is the first 128 values of
   * tiny's tensor 3 (2048 values), although every tensor before it differs in size. */
  float a[128], b[2048], c[128];
  tk_arch_init_fill(&n, 5, 3, a);
  tk_arch_init_fill(&t, 5, 3, b);
  CHECK(memcmp(a, b, sizeof a) == 0);
  tk_arch_init_fill(&n, 6, 3, c);
  CHECK(memcmp(a, c, sizeof a) != 0); /* another seed */
  tk_arch_init_fill(&n, 5, 4, c);
  CHECK(memcmp(a, c, sizeof a) != 0); /* another tensor */
  for (size_t i = 0; i < tk_arch_param_count(&n); i++) {
    tk_param_spec s = tk_arch_param(&n, i);
    float *w = malloc(s.count * sizeof *w);
    tk_arch_init_fill(&n, n.seed, i, w);
    check_ranges(&n, i, w, s.count);
    free(w);
  }
  char config[TK_INIT_CONFIG_MAX];
  tk_arch_init_config(&n, 18446744073709551615ull, config);
  CHECK(!strcmp(config, "{\"arch_fingerprint\":\"0123456789abcdef\",\"generator\":\"tkc "
                        "init-checkpoint\",\"seed\":18446744073709551615}"));
}

/* ---- Temp directories ----------------------------------------------------------------- */

static char *make_temp_dir(void) {
  const char *base = getenv("TMPDIR");
  char *dir = malloc(4096);
  snprintf(dir, 4096, "%s/tk_ckpt_test.XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    exit(2);
  }
  return dir;
}

static char *path_in(const char *dir, const char *name) {
  char *p = malloc(4096);
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

/* Number of entries in dir besides . and .. */
static int dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  if (d) closedir(d);
  return n;
}

/* ---- Round trip through the real writer and reader ------------------------------------------ */

static void expect_list(const tk_arch *a, tk_param_spec *specs, tk_checkpoint_expect *expect) {
  for (size_t i = 0; i < tk_arch_param_count(a); i++) {
    specs[i] = tk_arch_param(a, i);
    expect[i] = (tk_checkpoint_expect){specs[i].name, specs[i].count};
  }
}

/* File size from docs/formats.md §2: 20-byte header + config, per record 4+name+4+4n+4+4+4+1. */
static uint64_t expected_file_size(const tk_arch *a, size_t config_len) {
  uint64_t size = 20 + config_len;
  for (size_t i = 0; i < tk_arch_param_count(a); i++) {
    tk_param_spec s = tk_arch_param(a, i);
    size += 4 + strlen(s.name) + 4 + 4 * s.count + 13;
  }
  return size;
}

static void check_weights_regenerate(const tk_arch *a, const tk_checkpoint *k, uint64_t seed) {
  for (uint32_t i = 0; i < tk_checkpoint_record_count(k); i++) {
    const tk_checkpoint_record *r = tk_checkpoint_record_at(k, i);
    float *got = malloc((size_t)r->weight_len * 4 + 4),
          *want = malloc((size_t)r->weight_len * 4 + 4);
    tk_checkpoint_weights_copy(r, 0, r->weight_len, got);
    tk_arch_init_fill(a, seed, i, want);
    CHECK_MSG(memcmp(got, want, (size_t)r->weight_len * 4) == 0, "record %u weights differ", i);
    CHECK(r->m_len == 0 && r->v_len == 0 && r->step == 0 && !r->has_grad);
    CHECK(tk_checkpoint_find(k, tk_arch_param(a, i).name) == i);
    if (i == 0) check_ranges(a, i, got, r->weight_len);
    free(got);
    free(want);
  }
}

static void test_round_trip(const char *label, tk_arch a) {
  char *dir = make_temp_dir(), *path = path_in(dir, "model.tkp1");
  uint64_t seed = a.seed + 1;
  CHECK_OK(tk_arch_init_checkpoint_write(&a, path, seed, 7, NULL, NULL));
  CHECK_MSG(dir_entries(dir) == 1, "%s: temp file left beside the checkpoint", label);
  char config[TK_INIT_CONFIG_MAX];
  tk_arch_init_config(&a, seed, config);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == expected_file_size(&a, strlen(config)));
  tk_checkpoint *k = NULL;
  CHECK_OK(tk_checkpoint_open(path, &k));
  if (k) {
    size_t n = tk_arch_param_count(&a);
    tk_param_spec *specs = calloc(n, sizeof *specs);
    tk_checkpoint_expect *expect = calloc(n, sizeof *expect);
    expect_list(&a, specs, expect);
    CHECK(tk_checkpoint_version(k) == 1 && tk_checkpoint_step(k) == 7);
    CHECK(tk_checkpoint_record_count(k) == n);
    uint32_t len;
    const char *blob = tk_checkpoint_config(k, &len);
    CHECK(len == strlen(config) && memcmp(blob, config, len) == 0);
    tk_checkpoint_validate_options ok = {a.fingerprint, false}, other = {"fedcba9876543210", false};
    CHECK_OK(tk_checkpoint_validate(k, expect, n, &ok));
    CHECK_ERR(tk_checkpoint_validate(k, expect, n, &other), "arch_fingerprint");
    check_weights_regenerate(&a, k, seed);
    tk_checkpoint_close(k);
    free(specs);
    free(expect);
  }
  /* A file cut by one byte is rejected, and the message names it. */
  CHECK(truncate(path, st.st_size - 1) == 0);
  CHECK_ERR(tk_checkpoint_open(path, &k), path);
  unlink(path);
  rmdir(dir);
  free(path);
  free(dir);
  printf("round trip %s: done\n", label);
}

/* ---- Hand serializer (docs/formats.md §2, written here independently of the writer) ------------ */

enum {
  F_NAME_LEN,
  F_NAME,
  F_WEIGHT_LEN,
  F_WEIGHT,
  F_M_LEN,
  F_M,
  F_V_LEN,
  F_V,
  F_STEP,
  F_HAS_GRAD,
  F_GRAD_LEN,
  F_GRAD,
  F_FIELDS,
  MAX_RECORDS = 16
};
static const char *const field_names[F_FIELDS] = {"name_len", "name",     "weight_len", "weight",
                                                  "m_len",    "m",        "v_len",      "v",
                                                  "step",     "has_grad", "grad_len",   "grad"};

typedef struct rec_desc {
  char name[48];
  uint32_t weight_len, m_len, v_len, step, grad_len;
  uint8_t has_grad;
} rec_desc;

typedef struct image_desc {
  char magic[5];
  uint32_t version, step, count;
  const char *config;
  size_t n;
  rec_desc recs[MAX_RECORDS];
} image_desc;

typedef struct image {
  uint8_t *data;
  size_t len;
  size_t off[MAX_RECORDS][F_FIELDS]; /* where each field of each record starts */
} image;

static void put(image *im, const void *p, size_t n) {
  im->data = realloc(im->data, im->len + n + 1);
  memcpy(im->data + im->len, p, n);
  im->len += n;
}
static void put_u32(image *im, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(im, b, 4);
}
static void put_f32(image *im, float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  put_u32(im, bits);
}
static float weight_value(size_t rec, uint32_t j) { return (float)rec - 0.5f + 0.125f * (float)j; }
static void patch_u32(image *im, size_t off, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  memcpy(im->data + off, b, 4);
}

/* A length-prefixed f32 array; `value` NAN marks moments/grad (never checked for finiteness). */
static void put_array(image *im, size_t r, uint32_t n, bool weights) {
  put_u32(im, n);
  for (uint32_t j = 0; j < n; j++) put_f32(im, weights ? weight_value(r, j) : NAN);
}

static image build(const image_desc *d) {
  image im = {0};
  put(&im, d->magic, 4);
  put_u32(&im, d->version);
  put_u32(&im, d->step);
  put_u32(&im, d->count);
  put_u32(&im, (uint32_t)strlen(d->config));
  put(&im, d->config, strlen(d->config));
  for (size_t r = 0; r < d->n; r++) {
    const rec_desc *rd = &d->recs[r];
    size_t *off = im.off[r];
    off[F_NAME_LEN] = im.len, off[F_NAME] = im.len + 4;
    put_u32(&im, (uint32_t)strlen(rd->name));
    put(&im, rd->name, strlen(rd->name));
    off[F_WEIGHT_LEN] = im.len, off[F_WEIGHT] = im.len + 4;
    put_array(&im, r, rd->weight_len, true);
    off[F_M_LEN] = im.len, off[F_M] = im.len + 4;
    put_array(&im, r, rd->m_len, false);
    off[F_V_LEN] = im.len, off[F_V] = im.len + 4;
    put_array(&im, r, rd->v_len, false);
    off[F_STEP] = im.len;
    put_u32(&im, rd->step);
    off[F_HAS_GRAD] = im.len;
    put(&im, &rd->has_grad, 1);
    off[F_GRAD_LEN] = im.len, off[F_GRAD] = im.len + 4;
    if (rd->has_grad) put_array(&im, r, rd->grad_len, false);
  }
  return im;
}

/* The micro arch's 14 records; the last carries m, v, a step and a gradient. */
static image_desc base_desc(const char *config) {
  tk_arch a = micro();
  image_desc d = {.magic = "TKP1", .version = 1, .step = 42, .config = config};
  d.n = d.count = (uint32_t)tk_arch_param_count(&a);
  for (size_t i = 0; i < d.n; i++) {
    tk_param_spec s = tk_arch_param(&a, i);
    snprintf(d.recs[i].name, sizeof d.recs[i].name, "%s", s.name);
    d.recs[i].weight_len = (uint32_t)s.count;
  }
  rec_desc *last = &d.recs[d.n - 1];
  last->m_len = 2, last->v_len = 2, last->step = 3, last->has_grad = 1, last->grad_len = 3;
  return d;
}

/* ---- Corrupt images -------------------------------------------------------------------------- */

typedef struct micro_expect {
  tk_param_spec specs[MAX_RECORDS];
  tk_checkpoint_expect list[MAX_RECORDS];
  size_t n;
} micro_expect;

/* Opens an exact-size heap copy of bytes[0, len) and validates it against micro. */
static tk_status open_validate(const micro_expect *me, const uint8_t *bytes, size_t len,
                               const char *fingerprint, bool allow_nonfinite) {
  uint8_t *copy = malloc(len ? len : 1);
  memcpy(copy, bytes, len);
  tk_checkpoint *k;
  tk_status s = tk_checkpoint_open_memory(copy, len, "corrupt.tkp1", &k);
  if (!s) {
    tk_checkpoint_validate_options o = {fingerprint, allow_nonfinite};
    s = tk_checkpoint_validate(k, me->list, me->n, &o);
    tk_checkpoint_close(k);
  }
  free(copy);
  return s;
}

static tk_status validate_image(const micro_expect *me, const image *im) {
  return open_validate(me, im->data, im->len, "0123456789abcdef", false);
}

static tk_status validate_desc(const micro_expect *me, const image_desc *d) {
  image im = build(d);
  tk_status s = validate_image(me, &im);
  free(im.data);
  return s;
}

/* Expects an error that mentions every needle (NULLs ignored); TK_TEST_VERBOSE=1 prints it. */
static void expect_error(const char *what, tk_status s, const char *n1, const char *n2,
                         const char *n3) {
  const char *msg = tk_status_message(s);
  bool ok = s != NULL && strstr(msg, "corrupt.tkp1") && (!n1 || strstr(msg, n1)) &&
            (!n2 || strstr(msg, n2)) && (!n3 || strstr(msg, n3));
  CHECK_MSG(ok, "%s: got \"%s\"; expected mentions of %s / %s / %s", what, s ? msg : "OK",
            n1 ? n1 : "-", n2 ? n2 : "-", n3 ? n3 : "-");
  if (getenv("TK_TEST_VERBOSE")) printf("%-24s -> %s\n", what, msg);
  tk_status_free(s);
}

/* Cut at the start of every field (and one byte into it): header, then the last record's. */
static void test_truncations(const micro_expect *me, const image *im) {
  static const char *const header[] = {"magic", "version", "step", "count", "config_len", "config"};
  static const size_t header_off[] = {0, 4, 8, 12, 16, 20};
  char needle[32], what[64];
  for (int f = 0; f < 6; f++) {
    snprintf(needle, sizeof needle, ": %s ", header[f]);
    for (size_t extra = 0; extra < 2; extra++) {
      snprintf(what, sizeof what, "cut %zu into %s", extra, header[f]);
      expect_error(what, open_validate(me, im->data, header_off[f] + extra, NULL, false),
                   "truncated", "header", needle);
    }
  }
  size_t last = me->n - 1;
  for (int f = 0; f < F_FIELDS; f++) {
    size_t start = im->off[last][f];
    size_t end = f + 1 < F_FIELDS ? im->off[last][f + 1] : im->len;
    snprintf(needle, sizeof needle, ": %s ", field_names[f]);
    for (size_t extra = 0; extra < 2 && start + extra < end; extra++) {
      snprintf(what, sizeof what, "cut %zu into %s", extra, field_names[f]);
      expect_error(what, open_validate(me, im->data, start + extra, NULL, false), "truncated",
                   "record 13 of 14", needle);
    }
  }
}

static void test_huge_lengths(const micro_expect *me, const image *base) {
  static const int fields[] = {F_NAME_LEN, F_WEIGHT_LEN, F_M_LEN, F_V_LEN, F_GRAD_LEN};
  image im = {.data = malloc(base->len), .len = base->len};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    memcpy(im.data, base->data, base->len);
    patch_u32(&im, base->off[me->n - 1][fields[i]], 0xFFFFFFFFu);
    expect_error(field_names[fields[i]], validate_image(me, &im), "4294967295", "record 13", NULL);
  }
  memcpy(im.data, base->data, base->len);
  patch_u32(&im, 16, 0xFFFFFFFFu);
  expect_error("config_len", validate_image(me, &im), "4294967295", "config", NULL);
  memcpy(im.data, base->data, base->len);
  patch_u32(&im, 12, 0xFFFFFFFFu); /* must not allocate 2^32 records */
  expect_error("count", validate_image(me, &im), "record 14 of 4294967295", "name_len", NULL);
  free(im.data);
}

/* A non-finite weight (f32 bits) in record 4: rejected, or accepted when allowed. */
static void check_nonfinite(const micro_expect *me, const image *base, uint32_t bits,
                            const char *what) {
  image im = {.data = malloc(base->len), .len = base->len};
  memcpy(im.data, base->data, base->len);
  patch_u32(&im, base->off[4][F_WEIGHT] + 4, bits);
  expect_error(what, validate_image(me, &im), what, "record 4", "weight[1]");
  CHECK_OK(open_validate(me, im.data, im.len, NULL, true));
  free(im.data);
}

static void test_configs(const micro_expect *me) {
  static const char *const accepted[] = {
      "",      "not json {",
      "[1,2]", "{\"other\":1}",
      "\"x\"", " \n{\"arch_fingerprint\":\"0123456789abcdef\",\"x\":[]}"};
  for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
    image_desc d = base_desc(accepted[i]);
    tk_status s = validate_desc(me, &d);
    CHECK_MSG(s == NULL, "config '%s' rejected: %s", accepted[i], tk_status_message(s));
    tk_status_free(s);
  }
  image_desc d = base_desc("{\"arch_fingerprint\":\"deadbeefdeadbeef\"}");
  expect_error("wrong fingerprint", validate_desc(me, &d), "arch_fingerprint", "deadbeefdeadbeef",
               "0123456789abcdef");
  /* A JSON config that a NUL byte or trailing bytes would hide from the check fails closed
   * (issue 14: these used to be accepted with a wrong fingerprint). */
  d = base_desc("{\"arch_fingerprint\":\"deadbeefdeadbeef\"} trailing");
  expect_error("bytes after the object", validate_desc(me, &d), "config", "not one JSON object",
               NULL);
  d = base_desc("{\"arch_fingerprint\":\"deadbeefdeadbeef\"}X");
  image nul = build(&d);
  char *x = memchr(nul.data, 'X', nul.len); /* the config's last byte becomes a NUL */
  CHECK(x != NULL);
  if (x) *x = '\0';
  expect_error("NUL in a JSON config", validate_image(me, &nul), "config", "NUL byte at offset 39",
               NULL);
  free(nul.data);
  d = base_desc("{\"arch_fingerprint\":\"deadbeefdeadbeef\",}");
  expect_error("malformed JSON config", validate_desc(me, &d), "config", "not one JSON object",
               NULL);
  d = base_desc("{\"arch_fingerprint\":17}");
  expect_error("non-string fingerprint", validate_desc(me, &d), "arch_fingerprint", "non-string",
               NULL);
  d = base_desc("{\"arch_fingerprint\":\"deadbeefdeadbeef\"}");
  image im = build(&d);
  CHECK_OK(open_validate(me, im.data, im.len, NULL, false)); /* no fingerprint given: not checked */
  free(im.data);
}

/* Records reordered, renamed, resized, dropped; header fields wrong. */
static void test_bad_records(const micro_expect *me) {
  const char *cfg = "{}";
  image_desc d = base_desc(cfg);
  snprintf(d.recs[3].name, sizeof d.recs[3].name, "expert_0.param_X");
  expect_error("wrong name", validate_desc(me, &d), "record 3", "expected \"expert_0.param_1\"",
               "found \"expert_0.param_X\"");
  d = base_desc(cfg);
  rec_desc tmp = d.recs[2];
  d.recs[2] = d.recs[3], d.recs[3] = tmp;
  expect_error("wrong order", validate_desc(me, &d), "record 2", "out of order",
               "expert_0.param_1");
  d = base_desc(cfg);
  d.recs[5].weight_len--;
  expect_error("wrong element count", validate_desc(me, &d), "record 5 (\"expert_0.param_3\")",
               "weight_len: expected 3 elements, found 2", NULL);
  d = base_desc(cfg);
  d.n = d.count = d.count - 1;
  expect_error("record dropped", validate_desc(me, &d), "count: expected 14 records, found 13",
               "expert_1.param_5", NULL);
  d = base_desc(cfg);
  d.count++;
  expect_error("count too high", validate_desc(me, &d), "record 14 of 15", "name_len", "truncated");
  d = base_desc(cfg);
  d.count--;
  expect_error("count too low", validate_desc(me, &d), "trailing bytes", "13 records", NULL);
  d = base_desc(cfg);
  memcpy(d.magic, "TKP2", 4);
  expect_error("wrong magic", validate_desc(me, &d), "magic", "54 4b 50 32", NULL);
  d = base_desc(cfg);
  d.version = 2;
  expect_error("wrong version", validate_desc(me, &d), "version: expected 1, found 2", NULL, NULL);
  d = base_desc(cfg);
  d.recs[7].has_grad = 2;
  expect_error("has_grad 2", validate_desc(me, &d), "record 7",
               "has_grad: expected 0 or 1, found 2", NULL);
}

static void test_corrupt(void) {
  tk_arch a = micro();
  micro_expect me = {.n = tk_arch_param_count(&a)};
  CHECK(me.n == 14);
  for (size_t i = 0; i < me.n; i++) {
    me.specs[i] = tk_arch_param(&a, i);
    me.list[i] = (tk_checkpoint_expect){me.specs[i].name, me.specs[i].count};
  }
  image_desc d =
      base_desc("{\"arch_fingerprint\":\"0123456789abcdef\",\"note\":\"m, v, grad present\"}");
  image base = build(&d);
  CHECK_OK(validate_image(&me, &base)); /* NaN moments and gradient are skipped */

  /* m, v and grad are skipped, their lengths reported, weights read in place. */
  uint8_t *copy = malloc(base.len);
  memcpy(copy, base.data, base.len);
  tk_checkpoint *k = NULL;
  CHECK_OK(tk_checkpoint_open_memory(copy, base.len, "corrupt.tkp1", &k));
  if (k) {
    const tk_checkpoint_record *r = tk_checkpoint_record_at(k, 13);
    CHECK(r->m_len == 2 && r->v_len == 2 && r->step == 3 && r->has_grad && r->grad_len == 3);
    CHECK(r->offset == base.off[13][F_NAME_LEN]);
    float w[2];
    tk_checkpoint_weights_copy(tk_checkpoint_record_at(k, 12), 4, 2, w); /* the last two of 6 */
    CHECK(w[0] == weight_value(12, 4) && w[1] == weight_value(12, 5));
    CHECK(tk_checkpoint_step(k) == 42 && tk_checkpoint_record_at(k, 14) == NULL);
    CHECK(tk_checkpoint_find(k, "expert_1.param_5") == 13 &&
          tk_checkpoint_find(k, "expert_1") == -1);
    tk_checkpoint_close(k);
  }
  free(copy);

  test_truncations(&me, &base);
  test_huge_lengths(&me, &base);
  check_nonfinite(&me, &base, 0x7fc00000u, "NaN");
  check_nonfinite(&me, &base, 0x7f800000u, "+Inf");
  check_nonfinite(&me, &base, 0xff800000u, "-Inf");
  image longer = {.data = malloc(base.len + 1), .len = base.len + 1};
  memcpy(longer.data, base.data, base.len);
  longer.data[base.len] = 0;
  expect_error("trailing byte", validate_image(&me, &longer), "1 trailing bytes", NULL, NULL);
  free(longer.data);
  test_configs(&me);
  test_bad_records(&me);
  expect_error("empty file", open_validate(&me, base.data, 0, NULL, false), "magic", "truncated",
               NULL);
  free(base.data);
}

/* ---- Big models as sparse files -------------------------------------------------------------- */

/* Writes the headers of a's checkpoint with pwrite, leaving every weight a hole. */
static void write_sparse(const tk_arch *a, const char *path, const char *config) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  image hdr = {0};
  put(&hdr, "TKP1", 4);
  put_u32(&hdr, 1);
  put_u32(&hdr, 0);
  put_u32(&hdr, (uint32_t)tk_arch_param_count(a));
  put_u32(&hdr, (uint32_t)strlen(config));
  put(&hdr, config, strlen(config));
  off_t off = 0;
  for (size_t i = 0; i < tk_arch_param_count(a); i++) {
    tk_param_spec s = tk_arch_param(a, i);
    put_u32(&hdr, (uint32_t)strlen(s.name));
    put(&hdr, s.name, strlen(s.name));
    put_u32(&hdr, (uint32_t)s.count);
    CHECK(pwrite(fd, hdr.data, hdr.len, off) == (ssize_t)hdr.len);
    off += (off_t)hdr.len + (off_t)s.count * 4;
    hdr.len = 0;
    static const uint8_t tail[13] = {0};
    CHECK(pwrite(fd, tail, sizeof tail, off) == (ssize_t)sizeof tail);
    off += sizeof tail;
  }
  free(hdr.data);
  close(fd);
}

static void test_big_sparse(const char *label, tk_arch a, tk_arch other) {
  char *dir = make_temp_dir(), *path = path_in(dir, "big.tkp1");
  write_sparse(&a, path, "{\"arch_fingerprint\":\"0123456789abcdef\"}");
  tk_checkpoint *k = NULL;
  CHECK_OK(tk_checkpoint_open(path, &k));
  if (k) {
    size_t n = tk_arch_param_count(&a), m = tk_arch_param_count(&other);
    tk_param_spec *specs = calloc(n + m, sizeof *specs);
    tk_checkpoint_expect *expect = calloc(n + m, sizeof *expect);
    expect_list(&a, specs, expect);
    /* Names, order and counts only: the finiteness scan would read every hole. */
    tk_checkpoint_validate_options o = {a.fingerprint, true};
    CHECK_OK(tk_checkpoint_validate(k, expect, n, &o));
    uint64_t total = 0;
    for (uint32_t i = 0; i < tk_checkpoint_record_count(k); i++)
      total += tk_checkpoint_record_at(k, i)->weight_len;
    CHECK(total == tk_arch_weight_total(&a));
    /* Against the other model (Medium vs Full: depth 5 vs 12), record 26 is where the
     * other's output Linear (4096×20) meets this one's next hidden Linear (4096×4096). */
    expect_list(&other, specs + n, expect + n);
    tk_status s = tk_checkpoint_validate(k, expect + n, m, &o);
    CHECK_MSG(s && strstr(tk_status_message(s), "record 26 (\"expert_0.param_24\")") &&
                  strstr(tk_status_message(s), "weight_len"),
              "%s vs other: %s", label, tk_status_message(s));
    tk_status_free(s);
    tk_checkpoint_close(k);
    free(specs);
    free(expect);
  }
  unlink(path);
  rmdir(dir);
  free(path);
  free(dir);
}

/* ---- Writer ----------------------------------------------------------------------------------- */

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  uint8_t *data = malloc(*len + 1);
  *len = fread(data, 1, *len, f);
  fclose(f);
  return data;
}

/* The writer's bytes are exactly the hand serializer's. */
static void test_writer_bytes(const char *dir) {
  image_desc d = {.magic = "TKP1", .version = 1, .step = 9, .count = 3, .config = "cfg", .n = 3};
  static const char *const names[3] = {"a", "bb.param_1", "c"};
  static const uint32_t lens[3] = {3, 0, 5};
  for (size_t r = 0; r < 3; r++) {
    snprintf(d.recs[r].name, sizeof d.recs[r].name, "%s", names[r]);
    d.recs[r].weight_len = lens[r];
  }
  image want = build(&d);
  char *path = path_in(dir, "bytes.tkp1");
  tk_checkpoint_writer *w = NULL;
  CHECK_OK(tk_checkpoint_writer_create(path, 9, "cfg", 3, &w));
  for (size_t r = 0; w && r < 3; r++) {
    float v[5];
    for (uint32_t j = 0; j < lens[r]; j++) v[j] = weight_value(r, j);
    CHECK_OK(tk_checkpoint_writer_add(w, names[r], v, lens[r]));
  }
  if (w) CHECK_OK(tk_checkpoint_writer_commit(w));
  size_t len = 0;
  uint8_t *got = read_all(path, &len);
  CHECK(got && len == want.len && memcmp(got, want.data, len) == 0);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
  free(got);
  free(want.data);
  unlink(path);
  free(path);
}

/* Every failed write leaves the directory as it was. */
static void test_writer_failures(const char *dir) {
  char *path = path_in(dir, "fail.tkp1"), *missing = path_in(dir, "no/such/dir/x.tkp1");
  float v[4] = {1, 2, 3, 4};
  tk_checkpoint_writer *w = NULL;
  CHECK_ERR(tk_checkpoint_writer_create(missing, 0, "", 1, &w), missing);
  CHECK(w == NULL && dir_entries(dir) == 0);

  CHECK_OK(tk_checkpoint_writer_create(path, 0, "", 3, &w)); /* aborted midway */
  CHECK_OK(tk_checkpoint_writer_add(w, "a", v, 4));
  CHECK(dir_entries(dir) == 1); /* the temp file exists while writing */
  tk_checkpoint_writer_abort(w);
  CHECK(dir_entries(dir) == 0);

  CHECK_OK(tk_checkpoint_writer_create(path, 0, "", 3, &w)); /* too few records */
  CHECK_OK(tk_checkpoint_writer_add(w, "a", v, 4));
  CHECK_ERR(tk_checkpoint_writer_commit(w), "1 records written, the header declares 3");
  CHECK(dir_entries(dir) == 0);

  CHECK_OK(tk_checkpoint_writer_create(path, 0, "", 1, &w)); /* too many records */
  CHECK_OK(tk_checkpoint_writer_add(w, "a", v, 4));
  CHECK_ERR(tk_checkpoint_writer_add(w, "b", v, 4), "header declares 1");
  tk_checkpoint_writer_abort(w);
  CHECK(dir_entries(dir) == 0);

  /* The OS refuses the data (file size limit): the error surfaces, nothing is left. */
  struct rlimit old, small;
  getrlimit(RLIMIT_FSIZE, &old);
  small = old;
  small.rlim_cur = 4096;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
  size_t big_n = 100000;
  float *big = calloc(big_n, sizeof *big);
  tk_status s = tk_checkpoint_writer_create(path, 0, "", 1, &w);
  if (!s) s = tk_checkpoint_writer_add(w, "big", big, (uint32_t)big_n);
  if (!s)
    s = tk_checkpoint_writer_commit(w);
  else
    tk_checkpoint_writer_abort(w);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  CHECK_MSG(s && strstr(tk_status_message(s), path), "size-limited write: %s",
            s ? tk_status_message(s) : "OK");
  tk_status_free(s);
  free(big);
  CHECK(dir_entries(dir) == 0);

  /* A failed write over an existing checkpoint leaves the old one untouched. */
  CHECK_OK(tk_checkpoint_writer_create(path, 0, "old", 0, &w));
  CHECK_OK(tk_checkpoint_writer_commit(w));
  size_t old_len = 0;
  uint8_t *old_bytes = read_all(path, &old_len);
  CHECK_OK(tk_checkpoint_writer_create(path, 0, "new", 2, &w));
  CHECK_ERR(tk_checkpoint_writer_commit(w), "0 records written");
  size_t now_len = 0;
  uint8_t *now = read_all(path, &now_len);
  CHECK(old_bytes && now && old_len == now_len && memcmp(old_bytes, now, old_len) == 0);
  CHECK(dir_entries(dir) == 1);
  free(old_bytes);
  free(now);
  unlink(path);

  /* The target is a directory: rename fails, the temp file goes. */
  CHECK(mkdir(path, 0700) == 0);
  CHECK_OK(tk_checkpoint_writer_create(path, 0, "", 0, &w));
  CHECK_ERR(tk_checkpoint_writer_commit(w), "renaming");
  CHECK(dir_entries(dir) == 1);
  rmdir(path);
  free(path);
  free(missing);
}

static void test_open_errors(const char *dir) {
  char *missing = path_in(dir, "missing.tkp1");
  tk_checkpoint *k = (tk_checkpoint *)1;
  tk_status s = tk_checkpoint_open(missing, &k);
  CHECK(k == NULL && tk_status_code_of(s) == TK_NOT_FOUND && strstr(tk_status_message(s), missing));
  tk_status_free(s);
  CHECK_ERR(tk_checkpoint_open(dir, &k), "not a regular file");
  char *empty = path_in(dir, "empty.tkp1");
  close(open(empty, O_WRONLY | O_CREAT, 0600));
  CHECK_ERR(tk_checkpoint_open(empty, &k), "magic needs 4 bytes");
  unlink(empty);
  free(empty);
  free(missing);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--tiny")) { /* ~340 MB: a separate, `slow` test */
    test_round_trip("tiny", tiny());
    TEST_MAIN_END();
  }
  test_param_lists();
  test_rng();
  test_init_streams();
  test_round_trip("nano", nano());
  test_round_trip("custom-small", custom_small());
  test_round_trip("dense", dense());
  tk_arch out_in = custom_small();
  out_in.weight_layout = TK_LAYOUT_OUT_IN;
  test_round_trip("custom-small out_in", out_in);
  test_big_sparse("medium", medium(), full());
  test_big_sparse("full", full(), medium());
  test_corrupt();
  char *dir = make_temp_dir();
  test_writer_bytes(dir);
  test_writer_failures(dir);
  test_open_errors(dir);
  rmdir(dir);
  free(dir);
  TEST_MAIN_END();
}
