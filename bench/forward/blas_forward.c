/* blas_forward.c — the "C + OpenBLAS" peer of bench/forward: the forward of docs/formats.md
 * §3.1 with cblas_sgemm per Linear and the epilogues (bias, LayerNorm, GELU, softmax, top-K,
 * combine) in C, on the calling thread (T only sets OpenBLAS's threads: an OpenMP epilogue
 * beside OpenBLAS's spinning pthreads was up to 100× slower on 2 cores). Reads
 * checkpoint.tkp1 (§2) itself.
 *
 *   blas_forward --checkpoint FILE --threads T --mode dense|sparse
 *                --in N --hidden H --out N --experts E --topk K --depth D
 *                [--eps X] [--act gelu_tanh|gelu] [--layout in_out|out_in]
 *
 * dense:  every expert on every row, combined through a select on the keep mask (as tkc's
 *         dense path does); sparse: each expert's chain runs on the rows routed to it
 *         (gathered), and the combine adds w[e]·out_e in ascending e.
 * Speaks worker.h on stdin/stdout.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

typedef struct layer {
  float *w; /* [n_in, n_out] row-major */
  float *b, *g, *be;
  int n_in, n_out;
} layer;

typedef struct model {
  int in, H, out, E, K, depth, gelu_erf, sparse, threads;
  float eps;
  layer router;
  layer *experts; /* E × (depth + 2) */
  /* scratch, sized for cap rows */
  int64_t cap;
  float *h0, *h1, *xe, *oe, *r, *p, *acc;
  unsigned char *keep;
  int *rows;
} model;

/* ---- checkpoint (docs/formats.md §2.1), whole file read into memory ---------------------------- */

typedef struct rec {
  char name[128];
  const unsigned char *data;
  uint32_t n;
} rec;

static unsigned char *file_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static int rd_u32(const unsigned char *buf, size_t len, size_t *pos, uint32_t *v) {
  if (len - *pos < 4) return -1;
  memcpy(v, buf + *pos, 4);
  *pos += 4;
  return 0;
}

static int skip(size_t len, size_t *pos, uint64_t n) {
  if (len - *pos < n) return -1;
  *pos += n;
  return 0;
}

static rec *parse_checkpoint(const unsigned char *buf, size_t len, int *count) {
  size_t pos = 4;
  uint32_t version, step, n, clen;
  if (len < 4 || memcmp(buf, "TKP1", 4) || rd_u32(buf, len, &pos, &version) || version != 1 ||
      rd_u32(buf, len, &pos, &step) || rd_u32(buf, len, &pos, &n) ||
      rd_u32(buf, len, &pos, &clen) || skip(len, &pos, clen))
    return NULL;
  rec *r = calloc(n ? n : 1, sizeof *r);
  int i = 0;
  while (pos < len) {
    uint32_t nl, wl, ml, vl, st, gl;
    if ((uint32_t)i >= n || rd_u32(buf, len, &pos, &nl) || len - pos < nl || nl >= 128) goto bad;
    memcpy(r[i].name, buf + pos, nl);
    r[i].name[nl] = 0;
    pos += nl;
    if (rd_u32(buf, len, &pos, &wl)) goto bad;
    r[i].data = buf + pos;
    r[i].n = wl;
    if (skip(len, &pos, 4ull * wl) || rd_u32(buf, len, &pos, &ml) || skip(len, &pos, 4ull * ml) ||
        rd_u32(buf, len, &pos, &vl) || skip(len, &pos, 4ull * vl) || rd_u32(buf, len, &pos, &st) ||
        len - pos < 1)
      goto bad;
    unsigned char hg = buf[pos++];
    if (hg > 1) goto bad;
    if (hg && (rd_u32(buf, len, &pos, &gl) || skip(len, &pos, 4ull * gl))) goto bad;
    i++;
  }
  *count = i;
  return r;
bad:
  free(r);
  return NULL;
}

static float *tensor(rec *r, int count, const char *name, size_t n) {
  for (int i = 0; i < count; i++)
    if (!strcmp(r[i].name, name)) {
      if (r[i].n != n) return NULL;
      float *out = aligned_alloc(64, ((n * sizeof(float)) + 63) / 64 * 64);
      memcpy(out, r[i].data, n * sizeof(float));
      return out;
    }
  return NULL;
}

static int load_linear(rec *r, int count, const char *prefix, int i, int n_in, int n_out,
                       int out_in, layer *L) {
  char name[160];
  snprintf(name, sizeof name, "%s.param_%d", prefix, i);
  float *w = tensor(r, count, name, (size_t)n_in * (size_t)n_out);
  snprintf(name, sizeof name, "%s.param_%d", prefix, i + 1);
  L->b = tensor(r, count, name, (size_t)n_out);
  if (!w || !L->b) return -1;
  if (out_in) { /* stored [out, in]: transpose once to [in, out] */
    float *t = aligned_alloc(64, ((size_t)n_in * (size_t)n_out * sizeof(float) + 63) / 64 * 64);
    for (int o = 0; o < n_out; o++)
      for (int k = 0; k < n_in; k++) t[(size_t)k * n_out + o] = w[(size_t)o * n_in + k];
    free(w);
    w = t;
  }
  L->w = w;
  L->n_in = n_in;
  L->n_out = n_out;
  L->g = L->be = NULL;
  return 0;
}

static int load_model(model *m, const char *path, int out_in) {
  size_t len;
  int count = 0;
  unsigned char *buf = file_bytes(path, &len);
  if (!buf) return -1;
  rec *r = parse_checkpoint(buf, len, &count);
  if (!r) return -1;
  if (load_linear(r, count, "router", 0, m->in, m->E, out_in, &m->router)) return -1;
  int nl = m->depth + 2;
  m->experts = calloc((size_t)m->E * (size_t)nl, sizeof(layer));
  for (int e = 0; e < m->E; e++) {
    char pre[32];
    snprintf(pre, sizeof pre, "expert_%d", e);
    int i = 0, n_in = m->in;
    for (int l = 0; l <= m->depth; l++) {
      layer *L = &m->experts[e * nl + l];
      if (load_linear(r, count, pre, i, n_in, m->H, out_in, L)) return -1;
      char name[64];
      snprintf(name, sizeof name, "%s.param_%d", pre, i + 2);
      L->g = tensor(r, count, name, (size_t)m->H);
      snprintf(name, sizeof name, "%s.param_%d", pre, i + 3);
      L->be = tensor(r, count, name, (size_t)m->H);
      if (!L->g || !L->be) return -1;
      i += 4;
      n_in = m->H;
    }
    if (load_linear(r, count, pre, i, m->H, m->out, out_in, &m->experts[e * nl + nl - 1]))
      return -1;
  }
  free(r);
  free(buf);
  return 0;
}

/* ---- forward ---------------------------------------------------------------------------- */

static float *falloc(size_t n) { return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64); }

static int ensure(model *m, int64_t B) {
  if (B <= m->cap) return 0;
  size_t wide = (size_t)(m->H > m->in ? m->H : m->in);
  free(m->h0);
  free(m->h1);
  free(m->xe);
  free(m->oe);
  free(m->r);
  free(m->p);
  free(m->acc);
  free(m->keep);
  free(m->rows);
  m->h0 = falloc((size_t)B * wide);
  m->h1 = falloc((size_t)B * wide);
  m->xe = falloc((size_t)B * (size_t)m->in);
  m->oe = falloc((size_t)B * (size_t)m->out);
  m->r = falloc((size_t)B * (size_t)m->E);
  m->p = falloc((size_t)B * (size_t)m->E);
  m->acc = falloc((size_t)B * (size_t)m->out);
  m->keep = malloc((size_t)B * (size_t)m->E);
  m->rows = malloc((size_t)B * sizeof(int));
  m->cap = B;
  return (m->h0 && m->h1 && m->xe && m->oe && m->r && m->p && m->acc && m->keep && m->rows) ? 0
                                                                                            : -1;
}

/* y[M, n_out] = x[M, n_in]·W + b, then (if g) LayerNorm and GELU, per row. */
static void linear(const model *m, const layer *L, const float *x, int64_t M, float *y) {
  if (M == 0) return;
  if (M == 1) /* one row: GEMV streams W once (OpenBLAS's sgemm does not forward M = 1) */
    cblas_sgemv(CblasRowMajor, CblasTrans, L->n_in, L->n_out, 1.0f, L->w, L->n_out, x, 1, 0.0f, y,
                1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, L->n_out, L->n_in, 1.0f, x,
                L->n_in, L->w, L->n_out, 0.0f, y, L->n_out);
  const int n = L->n_out;
  const float eps = m->eps;
  const int erf_form = m->gelu_erf;
  for (int64_t i = 0; i < M; i++) {
    float *row = y + (size_t)i * (size_t)n;
    if (!L->g) {
      for (int j = 0; j < n; j++) row[j] += L->b[j];
      continue;
    }
    float s = 0.0f;
    for (int j = 0; j < n; j++) {
      row[j] += L->b[j];
      s += row[j];
    }
    const float mean = s / (float)n;
    float v = 0.0f;
    for (int j = 0; j < n; j++) {
      float d = row[j] - mean;
      v += d * d;
    }
    const float inv = 1.0f / sqrtf(v / (float)n + eps);
    if (erf_form) {
      for (int j = 0; j < n; j++) {
        float t = (row[j] - mean) * inv * L->g[j] + L->be[j];
        row[j] = 0.5f * t * (1.0f + erff(t * 0.70710678118654752f));
      }
    } else {
      for (int j = 0; j < n; j++) {
        float t = (row[j] - mean) * inv * L->g[j] + L->be[j];
        row[j] = 0.5f * t * (1.0f + tanhf(0.7978845608f * (t + 0.044715f * t * t * t)));
      }
    }
  }
}

static const float *expert_chain(model *m, int e, const float *x, int64_t M) {
  const int nl = m->depth + 2;
  const layer *L = &m->experts[e * nl];
  float *a = m->h0, *b = m->h1;
  linear(m, &L[0], x, M, a);
  for (int l = 1; l <= m->depth; l++) {
    linear(m, &L[l], a, M, b);
    float *t = a;
    a = b;
    b = t;
  }
  linear(m, &L[nl - 1], a, M, m->oe);
  return m->oe;
}

static int forward(void *p, const float *x, int64_t B, float *y) {
  model *m = p;
  if (ensure(m, B)) {
    printf("error out of memory\n");
    return 1;
  }
  const int E = m->E, out = m->out;
  /* router, softmax, top-K (docs/formats.md §3.3: K passes, strictly larger wins) */
  linear(m, &m->router, x, B, m->r);
  for (int64_t i = 0; i < B; i++) {
    const float *r = m->r + i * E;
    float *pr = m->p + i * E;
    unsigned char *k = m->keep + i * E;
    float mx = r[0];
    for (int e = 1; e < E; e++) mx = r[e] > mx ? r[e] : mx;
    float s = 0.0f;
    for (int e = 0; e < E; e++) s += (pr[e] = expf(r[e] - mx));
    for (int e = 0; e < E; e++) pr[e] /= s, k[e] = 0;
    for (int t = 0; t < m->K; t++) {
      int best = -1;
      for (int e = 0; e < E; e++)
        if (!k[e] && (best < 0 || pr[e] > pr[best])) best = e;
      k[best] = 1;
    }
  }
  memset(y, 0, (size_t)B * (size_t)out * sizeof(float));
  for (int e = 0; e < E; e++) {
    if (!m->sparse) {
      const float *o = expert_chain(m, e, x, B);
      for (int64_t i = 0; i < B; i++)
        if (m->keep[i * E + e]) { /* select, not a multiply by 0 (docs/formats.md §3.1) */
          const float w = m->p[i * E + e];
          for (int j = 0; j < out; j++) y[i * out + j] += w * o[i * out + j];
        }
      continue;
    }
    int64_t M = 0;
    for (int64_t i = 0; i < B; i++)
      if (m->keep[i * E + e]) m->rows[M++] = (int)i;
    if (M == 0) continue;
    for (int64_t r = 0; r < M; r++)
      memcpy(m->xe + r * m->in, x + (size_t)m->rows[r] * m->in, (size_t)m->in * sizeof(float));
    const float *o = expert_chain(m, e, m->xe, M);
    for (int64_t r = 0; r < M; r++) {
      const int64_t i = m->rows[r];
      const float w = m->p[i * E + e];
      for (int j = 0; j < out; j++) y[i * out + j] += w * o[r * out + j];
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  model m = {0};
  const char *ckpt = NULL, *mode = "sparse", *act = "gelu_tanh", *layout = "in_out";
  m.eps = 1e-5f;
  m.threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *f = argv[i], *v = argv[i + 1];
    if (!strcmp(f, "--checkpoint"))
      ckpt = v;
    else if (!strcmp(f, "--threads"))
      m.threads = atoi(v);
    else if (!strcmp(f, "--mode"))
      mode = v;
    else if (!strcmp(f, "--in"))
      m.in = atoi(v);
    else if (!strcmp(f, "--hidden"))
      m.H = atoi(v);
    else if (!strcmp(f, "--out"))
      m.out = atoi(v);
    else if (!strcmp(f, "--experts"))
      m.E = atoi(v);
    else if (!strcmp(f, "--topk"))
      m.K = atoi(v);
    else if (!strcmp(f, "--depth"))
      m.depth = atoi(v);
    else if (!strcmp(f, "--eps"))
      m.eps = strtof(v, NULL);
    else if (!strcmp(f, "--act"))
      act = v;
    else if (!strcmp(f, "--layout"))
      layout = v;
    else {
      printf("error unknown flag %s\n", f);
      return 2;
    }
  }
  if (!ckpt || m.in < 1 || m.H < 1 || m.out < 1 || m.E < 1 || m.K < 1 || m.K > m.E || m.depth < 0 ||
      m.threads < 1) {
    printf("error usage: see the comment at the top of blas_forward.c\n");
    return 2;
  }
  m.sparse = !strcmp(mode, "sparse");
  m.gelu_erf = !strcmp(act, "gelu");
  openblas_set_num_threads(m.threads);
  if (load_model(&m, ckpt, !strcmp(layout, "out_in"))) {
    printf("error cannot read %s as this model's checkpoint\n", ckpt);
    return 1;
  }
  printf("ready openblas %s threads=%d (%s)\n", m.sparse ? "sparse" : "dense", m.threads,
         openblas_get_config());
  fw_peer peer = {m.in, m.out, &m, forward};
  return fw_serve(&peer);
}
