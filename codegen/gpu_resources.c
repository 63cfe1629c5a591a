/* codegen/gpu_resources.c — AMDGPU kernel resources from a code object's metadata note, and
 * the occupancy they allow (gpu_resources.h). The MessagePack reader takes only what the
 * note holds (maps, arrays, strings, integers, booleans, floats, binaries) and checks every
 * length against the end of the note. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/gpu_resources.h"
#include "tk/alloc.h"

/* ---- ELF: the AMDGPU metadata note --------------------------------------------------------- */

enum { SHT_NOTE_ = 7, NT_AMDGPU_METADATA_ = 32, MP_MAX_DEPTH = 32 };

static uint64_t le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static size_t align4(size_t n) { return (n + 3) & ~(size_t)3; }

/* The desc of the first "AMDGPU" note of type 32 in one SHT_NOTE section, or NULL. */
static const unsigned char *note_in(const unsigned char *sec, size_t len, size_t *desc_len) {
  size_t off = 0;
  while (off + 12 <= len) {
    size_t namesz = le(sec + off, 4), descsz = le(sec + off + 4, 4);
    uint64_t type = le(sec + off + 8, 4);
    size_t name_at = off + 12, desc_at = name_at + align4(namesz);
    if (namesz > len || descsz > len || desc_at > len || descsz > len - desc_at) return NULL;
    if (type == NT_AMDGPU_METADATA_ && namesz == 7 && !memcmp(sec + name_at, "AMDGPU", 7)) {
      *desc_len = descsz;
      return sec + desc_at;
    }
    off = desc_at + align4(descsz);
  }
  return NULL;
}

static tk_status find_metadata(const unsigned char *e, size_t size, const unsigned char **md,
                               size_t *md_len) {
  if (size < 64 || memcmp(e, "\177ELF", 4) || e[4] != 2 || e[5] != 1)
    return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU code object: not a little-endian ELF64");
  uint64_t shoff = le(e + 40, 8), shentsize = le(e + 58, 2), shnum = le(e + 60, 2);
  if (shentsize < 64 || shoff > size || shnum > (size - shoff) / shentsize)
    return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU code object: section table out of the file");
  for (uint64_t i = 0; i < shnum; i++) {
    const unsigned char *sh = e + shoff + i * shentsize;
    uint64_t off = le(sh + 24, 8), len = le(sh + 32, 8);
    if (le(sh + 4, 4) != SHT_NOTE_) continue;
    if (off > size || len > size - off)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "AMDGPU code object: note section %llu out of the file",
                            (unsigned long long)i);
    if ((*md = note_in(e + off, len, md_len))) return TK_STATUS_OK;
  }
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "AMDGPU code object: no AMDGPU metadata note (type 32)");
}

/* ---- MessagePack ------------------------------------------------------------------------- */

typedef struct mp {
  const unsigned char *p, *end;
  bool bad;
} mp;

static bool mp_take(mp *m, size_t n, const unsigned char **out) {
  if (m->bad || (size_t)(m->end - m->p) < n) return !(m->bad = true);
  *out = m->p;
  m->p += n;
  return true;
}

static uint64_t mp_be(mp *m, int bytes) {
  const unsigned char *b;
  uint64_t v = 0;
  if (mp_take(m, (size_t)bytes, &b))
    for (int i = 0; i < bytes; i++) v = v << 8 | b[i];
  return v;
}

/* The next value's kind: 'i' integer (in *v; negative ones as int64), 's' string or binary
 * (*v bytes at *data), 'm' map and 'a' array (*v entries), 'o' other scalar. */
static char mp_next(mp *m, int64_t *v, const unsigned char **data) {
  const unsigned char *b;
  if (!mp_take(m, 1, &b)) return 'o';
  unsigned c = b[0];
  static const int width[4] = {1, 2, 4, 8};
  *v = 0;
  if (c <= 0x7f || c >= 0xe0) return *v = (int8_t)c, 'i';
  if (c >= 0x80 && c <= 0x8f) return *v = c & 0xf, 'm';
  if (c >= 0x90 && c <= 0x9f) return *v = c & 0xf, 'a';
  if (c >= 0xa0 && c <= 0xbf) return *v = c & 0x1f, mp_take(m, (size_t)*v, data) ? 's' : 'o';
  if (c >= 0xcc && c <= 0xcf) return *v = (int64_t)mp_be(m, width[c - 0xcc]), 'i';
  if (c >= 0xd0 && c <= 0xd3) {
    int w = width[c - 0xd0];
    uint64_t u = mp_be(m, w);
    *v = w == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * w)) >> (64 - 8 * w);
    return 'i';
  }
  if (c == 0xd9 || c == 0xda || c == 0xdb || (c >= 0xc4 && c <= 0xc6)) {
    *v = (int64_t)mp_be(m, c >= 0xd9 ? width[c - 0xd9] : width[c - 0xc4]);
    return mp_take(m, (size_t)*v, data) ? 's' : 'o';
  }
  if (c == 0xdc || c == 0xdd) return *v = (int64_t)mp_be(m, c == 0xdc ? 2 : 4), 'a';
  if (c == 0xde || c == 0xdf) return *v = (int64_t)mp_be(m, c == 0xde ? 2 : 4), 'm';
  if (c == 0xca || c == 0xcb) return mp_take(m, c == 0xca ? 4 : 8, &b), 'o';
  if (c == 0xc0 || c == 0xc2 || c == 0xc3) return 'o';
  m->bad = true; /* ext types and 0xc1 never occur in the metadata */
  return 'o';
}

static void mp_skip(mp *m, int depth) {
  int64_t n;
  const unsigned char *d;
  char kind = mp_next(m, &n, &d);
  if (kind != 'm' && kind != 'a') return;
  if (depth >= MP_MAX_DEPTH || n < 0 || n > m->end - m->p) {
    m->bad = true;
    return;
  }
  for (int64_t i = 0; i < (kind == 'm' ? 2 * n : n) && !m->bad; i++) mp_skip(m, depth + 1);
}

/* Reads a map key into key[] (truncated keys never match a wanted one). */
static bool mp_key(mp *m, char *key, size_t cap) {
  int64_t n;
  const unsigned char *d;
  if (mp_next(m, &n, &d) != 's') return !(m->bad = true);
  size_t len = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
  memcpy(key, d, len);
  key[len] = '\0';
  return true;
}

/* ---- the kernels ------------------------------------------------------------------------- */

typedef struct field {
  const char *key;
  size_t offset; /* into tk_cg_kernel_resources; an int or an int64_t member */
  bool wide;
  bool required;
} field;

#define F(key, member, wide, required) \
  {key, offsetof(tk_cg_kernel_resources, member), wide, required}
static const field fields[] = {
    F(".sgpr_count", sgpr, false, true),
    F(".vgpr_count", vgpr, false, true),
    F(".agpr_count", agpr, false, false), /* gfx90a and gfx94x only */
    F(".group_segment_fixed_size", lds_bytes, true, true),
    F(".private_segment_fixed_size", scratch_bytes, true, true),
    F(".wavefront_size", wavefront_size, false, true),
    F(".max_flat_workgroup_size", max_workgroup_size, false, true),
};
#undef F
enum { NFIELDS = sizeof fields / sizeof fields[0] };

static void set_field(tk_cg_kernel_resources *k, const field *f, int64_t v) {
  char *at = (char *)k + f->offset;
  if (f->wide)
    memcpy(at, &v, sizeof v);
  else
    *(int *)(void *)at = (int)v;
}

static tk_status read_kernel(mp *m, int index, tk_cg_kernel_resources *k) {
  int64_t n;
  const unsigned char *d;
  if (mp_next(m, &n, &d) != 'm')
    return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: kernel %d is not a map", index);
  bool seen[NFIELDS] = {false}, named = false;
  for (int64_t i = 0; i < n && !m->bad; i++) {
    char key[64];
    if (!mp_key(m, key, sizeof key)) break;
    int64_t v = 0;
    const unsigned char *s = NULL;
    if (!strcmp(key, ".name")) {
      char kind = mp_next(m, &v, &s);
      named = kind == 's' && v < TK_CG_KERNEL_NAME_MAX;
      if (named) memcpy(k->name, s, (size_t)v), k->name[v] = '\0';
      continue;
    }
    int f = 0;
    while (f < NFIELDS && strcmp(key, fields[f].key)) f++;
    if (f == NFIELDS) {
      mp_skip(m, 1);
      continue;
    }
    if (mp_next(m, &v, &s) != 'i' || v < 0 || v > INT32_MAX)
      return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: kernel %d: %s is not a count",
                            index, key);
    set_field(k, &fields[f], v);
    seen[f] = true;
  }
  if (m->bad)
    return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: kernel %d truncated", index);
  if (!named)
    return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: kernel %d has no .name", index);
  for (int f = 0; f < NFIELDS; f++)
    if (fields[f].required && !seen[f])
      return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: kernel %s has no %s", k->name,
                            fields[f].key);
  return TK_STATUS_OK;
}

static tk_status read_kernels(mp *m, tk_cg_kernel_resources **out, int *n) {
  int64_t count;
  const unsigned char *d;
  if (mp_next(m, &count, &d) != 'a' || count < 0 || count > m->end - m->p)
    return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: amdhsa.kernels is not an array");
  tk_cg_kernel_resources *ks = tk_calloc(count ? (size_t)count : 1, sizeof *ks);
  if (!ks) return tk_status_make(TK_RESOURCE_EXHAUSTED, "AMDGPU metadata: out of memory");
  for (int64_t i = 0; i < count; i++) {
    tk_status s = read_kernel(m, (int)i, &ks[i]);
    if (s) {
      free(ks);
      return s;
    }
  }
  *out = ks;
  *n = (int)count;
  return TK_STATUS_OK;
}

tk_status tk_cg_amdgpu_resources(const void *elf, size_t size, tk_cg_kernel_resources **out,
                                 int *n) {
  *out = NULL;
  *n = 0;
  const unsigned char *md = NULL;
  size_t md_len = 0;
  TK_RETURN_IF_ERROR(find_metadata(elf, size, &md, &md_len));
  mp m = {md, md + md_len, false};
  int64_t entries;
  const unsigned char *d;
  if (mp_next(&m, &entries, &d) != 'm')
    return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: the note is not a map");
  for (int64_t i = 0; i < entries && !m.bad; i++) {
    char key[32];
    if (!mp_key(&m, key, sizeof key)) break;
    if (!strcmp(key, "amdhsa.kernels")) return read_kernels(&m, out, n);
    mp_skip(&m, 1);
  }
  return tk_status_make(TK_INVALID_ARGUMENT, "AMDGPU metadata: no amdhsa.kernels%s",
                        m.bad ? " (the note is truncated)" : "");
}

/* ---- occupancy --------------------------------------------------------------------------- */

typedef struct gfx_limits {
  const char *prefix;
  int max_waves;    /* per SIMD */
  int vgprs_wave64; /* the VGPR file per SIMD lane, and its allocation granule, by wave size */
  int granule_wave64;
  int vgprs_wave32;
  int granule_wave32;
  bool sgpr_limited; /* gfx8/gfx9: the SGPR file limits the waves */
  bool wgp_mode;     /* gfx10+: a WGP's 128 KiB of LDS and 32 barriers, not a CU's 64 and 16 */
} gfx_limits;

/* First match wins (gfx90a before gfx90). */
static const gfx_limits limits[] = {
    {"gfx90a", 8, 512, 8, 512, 8, true, false},
    {"gfx94", 8, 512, 8, 512, 8, true, false},
    {"gfx80", 10, 256, 4, 256, 4, true, false},
    {"gfx90", 10, 256, 4, 256, 4, true, false},
    {"gfx101", 20, 512, 4, 1024, 8, false, true},
    {"gfx103", 16, 512, 8, 1024, 16, false, true},
    {"gfx1100", 16, 768, 12, 1536, 24, false, true}, /* the full VGPR file */
    {"gfx1101", 16, 768, 12, 1536, 24, false, true},
    {"gfx1151", 16, 768, 12, 1536, 24, false, true},
    {"gfx11", 16, 512, 8, 1024, 16, false, true},
};

enum { SIMDS_PER_CU = 4 };

static int ceil_div(int64_t a, int64_t b) { return (int)((a + b - 1) / b); }

static int waves_by_vgpr(const gfx_limits *g, const tk_cg_kernel_resources *k) {
  bool w32 = k->wavefront_size == 32;
  int file = w32 ? g->vgprs_wave32 : g->vgprs_wave64,
      granule = w32 ? g->granule_wave32 : g->granule_wave64;
  int regs = k->vgpr; /* on gfx90a/gfx94x .vgpr_count already holds the AGPRs too */
  if (regs < granule) return g->max_waves;
  int rounded = ceil_div(regs, granule) * granule;
  int w = file / rounded;
  return w < 1 ? 1 : w;
}

static int waves_by_sgpr(const gfx_limits *g, int sgpr) {
  if (!g->sgpr_limited) return g->max_waves;
  return sgpr <= 80 ? 10 : sgpr <= 88 ? 9 : sgpr <= 100 ? 8 : 7;
}

static int waves_by_lds(const gfx_limits *g, const tk_cg_kernel_resources *k) {
  int wave = k->wavefront_size > 0 ? k->wavefront_size : 64;
  int group_waves = ceil_div(k->max_workgroup_size > 0 ? k->max_workgroup_size : 1, wave);
  int per_cu = g->max_waves * SIMDS_PER_CU;
  int groups_max = group_waves == 1 ? per_cu : per_cu / group_waves;
  int barriers = g->wgp_mode ? 32 : 16;
  if (group_waves > 1 && groups_max > barriers) groups_max = barriers;
  int64_t lds = g->wgp_mode ? 131072 : 65536;
  int64_t groups = lds / (k->lds_bytes ? k->lds_bytes : 1);
  if (groups == 0) return 1;
  if (groups > groups_max) groups = groups_max;
  return ceil_div(groups * group_waves, SIMDS_PER_CU);
}

tk_status tk_cg_amdgpu_occupancy(const char *gfx, const tk_cg_kernel_resources *k,
                                 tk_cg_occupancy *out) {
  const gfx_limits *g = NULL;
  for (size_t i = 0; !g && i < sizeof limits / sizeof limits[0]; i++)
    if (!strncmp(gfx, limits[i].prefix, strlen(limits[i].prefix))) g = &limits[i];
  if (!g) return tk_status_make(TK_INVALID_ARGUMENT, "occupancy: no limits for '%s'", gfx);
  static const char *const names[] = {"waves", "lds", "sgpr", "vgpr"};
  int by[4] = {g->max_waves, waves_by_lds(g, k), waves_by_sgpr(g, k->sgpr), waves_by_vgpr(g, k)};
  *out = (tk_cg_occupancy){by[0], names[0]};
  for (int i = 1; i < 4; i++)
    if (by[i] < out->waves_per_simd) *out = (tk_cg_occupancy){by[i], names[i]};
  return TK_STATUS_OK;
}
