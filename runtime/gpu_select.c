/* runtime/gpu_select.c — which of a bundle's GPU code objects a device can run, and, when
 * none can, an error that names both sides and says which one is wrong.
 *
 * Pure functions of the bundle's targets and what the device reported (no vendor calls), so
 * the rules are unit-tested without a GPU (tests/unit/gpu_backend_test.c):
 *   amdgcn: the device's ISA name (gcnArchName without feature suffixes) must equal a
 *           target's arch, and the target's code object version must be one the HIP runtime
 *           loads: 3-4 before ROCm 6 (docs/toolchain.md §1: comgr 5.2 rejects v5), 3-5 from 6.
 *   nvptx:  PTX for sm_XY runs on any device of compute capability >= X.Y (the driver JIT
 *           compiles it); the best is the largest such XY. sm_XYa (arch-specific) only on
 *           exactly X.Y.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gpu_backend.h"

void tk_gpu_arch_strip(const char *gcn_arch_name, char *out, size_t size) {
  size_t n = strcspn(gcn_arch_name, ":");
  if (n >= size) n = size - 1;
  memcpy(out, gcn_arch_name, n);
  out[n] = '\0';
}

void tk_gpu_describe_codes(const tk_bundle_target *t, int32_t n, tk_target_kind kind, char *buf,
                           size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int32_t i = 0; i < n && used < size; i++) {
    if (t[i].kind != kind) continue;
    const char *sep = used ? ", " : "";
    int w = kind == TK_TARGET_KIND_AMDGCN
                ? snprintf(buf + used, size - used, "%s%s (cov%d)", sep, t[i].arch,
                           t[i].code_object_version)
                : snprintf(buf + used, size - used, "%s%s", sep, t[i].arch);
    used += w > 0 ? (size_t)w : 0;
  }
  if (!buf[0])
    snprintf(buf, size, "no %s code object", kind == TK_TARGET_KIND_AMDGCN ? "amdgcn" : "nvptx");
}

/* "gfx1030 (AMD Radeon RX 6800)", or just the arch when the name is unknown. */
static void device_label(const char *arch, const char *detail, char *buf, size_t size) {
  if (detail && *detail)
    snprintf(buf, size, "%s (%s)", arch, detail);
  else
    snprintf(buf, size, "%s", arch);
}

/* ---- amdgcn ------------------------------------------------------------------------------- */

int32_t tk_hip_max_code_object_version(int32_t runtime_version) {
  return runtime_version / 10000000 < 6 ? 4 : 5;
}

static bool cov_loads(int32_t cov, int32_t runtime_version) {
  return cov >= 3 && cov <= tk_hip_max_code_object_version(runtime_version);
}

tk_status tk_hip_select_code(const tk_bundle_target *t, int32_t n, const char *device_arch,
                             const char *device_name, int32_t runtime_version,
                             const tk_bundle_target **out) {
  *out = NULL;
  bool arch_seen = false;
  for (int32_t i = 0; i < n; i++) {
    if (t[i].kind != TK_TARGET_KIND_AMDGCN || strcmp(t[i].arch, device_arch)) continue;
    arch_seen = true;
    if (cov_loads(t[i].code_object_version, runtime_version)) {
      *out = &t[i];
      return TK_STATUS_OK;
    }
  }
  char have[512], device[384];
  tk_gpu_describe_codes(t, n, TK_TARGET_KIND_AMDGCN, have, sizeof have);
  device_label(device_arch, device_name, device, sizeof device);
  int32_t max_cov = tk_hip_max_code_object_version(runtime_version);
  if (arch_seen) /* the device is right; the code object version is too new for the runtime */
    return tk_status_make(TK_UNAVAILABLE,
                          "hip: bundle has %s; device is %s, whose HIP runtime %d.%d loads code "
                          "object versions 3 to %d only: recompile the bundle with "
                          "--code-object-version %d for %s, or run on a newer ROCm",
                          have, device, runtime_version / 10000000, runtime_version / 100000 % 100,
                          max_cov, max_cov, device_arch);
  return tk_status_make(TK_UNAVAILABLE,
                        "hip: bundle has %s; device is %s: the bundle has no code object for "
                        "this GPU; recompile it with %s in --offload-arch",
                        have, device, device_arch);
}

/* ---- nvptx -------------------------------------------------------------------------------- */

/* "sm_86" -> 86, "sm_90a" -> 90 with *specific set; -1 if not of that form. */
static int parse_sm(const char *arch, bool *specific) {
  if (strncmp(arch, "sm_", 3) || arch[3] < '1' || arch[3] > '9') return -1;
  char *end = NULL;
  long v = strtol(arch + 3, &end, 10);
  *specific = *end != '\0';
  if (v < 10 || v > 1000 || (*end && strcmp(end, "a") && strcmp(end, "f"))) return -1;
  return (int)v;
}

tk_status tk_cuda_select_ptx(const tk_bundle_target *t, int32_t n, int major, int minor,
                             const char *device_name, const tk_bundle_target **out) {
  *out = NULL;
  int device_sm = major * 10 + minor, best_sm = -1;
  for (int32_t i = 0; i < n; i++) {
    bool specific = false;
    int sm = t[i].kind == TK_TARGET_KIND_NVPTX ? parse_sm(t[i].arch, &specific) : -1;
    bool runs = sm >= 0 && (specific ? sm == device_sm : sm <= device_sm);
    if (runs && sm > best_sm) {
      best_sm = sm;
      *out = &t[i];
    }
  }
  if (*out) return TK_STATUS_OK;
  char have[512], arch[16], detail[320], device[384];
  tk_gpu_describe_codes(t, n, TK_TARGET_KIND_NVPTX, have, sizeof have);
  snprintf(arch, sizeof arch, "sm_%d", device_sm);
  snprintf(detail, sizeof detail, "%s%scompute capability %d.%d", device_name ? device_name : "",
           device_name ? ", " : "", major, minor);
  device_label(arch, detail, device, sizeof device);
  return tk_status_make(TK_UNAVAILABLE,
                        "cuda: bundle has %s; device is %s: every PTX in the bundle needs a "
                        "newer GPU; recompile it with %s in --cuda-arch",
                        have, device, arch);
}

/* The next "tk_model_fingerprint=" in [p, end) followed by 16 bytes, or NULL. */
static const char *next_fingerprint(const char *p, const char *end) {
  static const char key[] = TK_MODEL_FINGERPRINT_SYMBOL "=";
  const size_t klen = sizeof key - 1;
  for (; p + klen + 16 <= end; p++) {
    p = memchr(p, key[0], (size_t)(end - p - (ptrdiff_t)(klen + 16) + 1));
    if (!p) return NULL;
    if (!memcmp(p, key, klen)) return p + klen;
  }
  return NULL;
}

tk_status tk_hip_check_fingerprint(const tk_bundle_target *t, const char *want) {
  if (!want) return TK_STATUS_OK;
  const char *end = (const char *)t->code.bytes + t->code.size;
  int found = 0;
  for (const char *fp = next_fingerprint(t->code.bytes, end); fp;
       fp = next_fingerprint(fp, end), found++)
    if (strncmp(fp, want, 16) != 0)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "%s: code object compiled for arch fingerprint %.16s, the bundle's is "
                            "%s (kernels of another model)",
                            t->code.path, fp, want);
  if (!found)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: no \"%s=\" bytes (built by an older tkc: recompile the bundle)",
                          t->code.path, TK_MODEL_FINGERPRINT_SYMBOL);
  return TK_STATUS_OK;
}
