/* tests/unit/qwen3_moe_tiny_test.c — models/qwen3-moe-tiny: its config.json and the checkpoint
 * its make_checkpoint.py writes, read back with the safetensors reader (runtime/safetensors.c).
 *
 * Needs python3 (standard library only); exits 77 (ctest: skipped) with a printed reason when
 * there is none. Checks: the config holds the tiny block's fields; the script's F32 and BF16
 * files hold the block's 1 + 3·E tensors under their Hugging Face names with the right shapes
 * and dtypes; every value is finite and within nn.Linear's bound 1/sqrt(fan_in); each BF16
 * value is its F32 twin rounded to nearest-even (rounded here, independently of the script);
 * and a second run gives the same bytes.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/unit/test.h"
#include "tk/safetensors.h"

enum { H = 256, E = 16, K = 4, I = 128 }; /* the README's figures for qwen3-moe-tiny */

static char tmp_dir[] = "/tmp/tk_qwen3_tiny_test.XXXXXX";
static char script[1024], config_path[1024];

static char *read_all(const char *path, size_t *out_size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) buf[n] = '\0';
  *out_size = (size_t)n;
  return buf;
}

static void test_config(void) {
  size_t n = 0;
  char *text = read_all(config_path, &n);
  CHECK_MSG(text != NULL, "cannot read %s", config_path);
  cJSON *c = text ? cJSON_Parse(text) : NULL;
  CHECK(c != NULL);
  if (c) {
    cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "hidden_act");
    cJSON *dtype = cJSON_GetObjectItemCaseSensitive(c, "torch_dtype");
    CHECK(cJSON_IsString(type) && strcmp(type->valuestring, "qwen3_moe") == 0);
    CHECK(cJSON_IsString(act) && strcmp(act->valuestring, "silu") == 0);
    CHECK(cJSON_IsString(dtype) && strcmp(dtype->valuestring, "bfloat16") == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(c, "hidden_size")->valuedouble == H);
    CHECK(cJSON_GetObjectItemCaseSensitive(c, "num_experts")->valuedouble == E);
    CHECK(cJSON_GetObjectItemCaseSensitive(c, "num_experts_per_tok")->valuedouble == K);
    CHECK(cJSON_GetObjectItemCaseSensitive(c, "moe_intermediate_size")->valuedouble == I);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "norm_topk_prob")));
  }
  cJSON_Delete(c);
  free(text);
}

static int make(const char *dtype, const char *name) {
  char dir[512], cmd[2048];
  snprintf(dir, sizeof dir, "%s/%s", tmp_dir, name);
  mkdir(dir, 0755);
  snprintf(cmd, sizeof cmd, "python3 '%s' --dtype %s -o '%s/model.safetensors' >/dev/null", script,
           dtype, dir);
  int rc = system(cmd);
  CHECK_MSG(rc == 0, "%s failed (%d)", cmd, rc);
  return rc;
}

static tk_safetensors *open_dir(const char *name) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/%s", tmp_dir, name);
  tk_safetensors *st = NULL;
  CHECK_OK(tk_safetensors_open(dir, &st));
  return st;
}

/* float32 → bfloat16 bits, round to nearest, ties to even (finite inputs). */
static uint16_t bf16_bits(float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  uint32_t lsb = (b >> 16) & 1;
  return (uint16_t)((b + 0x7FFFu + lsb) >> 16);
}

typedef struct tensor_spec {
  char name[96];
  uint64_t shape[2];
  double bound; /* 1/sqrt(fan_in) */
} tensor_spec;

static int block_specs(tensor_spec *s) {
  int n = 0;
  s[n++] = (tensor_spec){"model.layers.0.mlp.gate.weight", {E, H}, 1 / sqrt(H)};
  for (int e = 0; e < E; e++) {
    static const char *kProj[3] = {"gate_proj", "up_proj", "down_proj"};
    for (int p = 0; p < 3; p++) {
      s[n] = (tensor_spec){"", {p < 2 ? I : H, p < 2 ? H : I}, 1 / sqrt(p < 2 ? H : I)};
      snprintf(s[n].name, sizeof s[n].name, "model.layers.0.mlp.experts.%d.%s.weight", e, kProj[p]);
      n++;
    }
  }
  return n;
}

/* Both files hold the block's tensors; the BF16 values are the F32 ones rounded. */
static void check_values(const tk_safetensors *f32, const tk_safetensors *bf16) {
  static tensor_spec specs[1 + 3 * E];
  int n = block_specs(specs);
  CHECK(tk_safetensors_count(f32) == (size_t)n && tk_safetensors_count(bf16) == (size_t)n);
  float *a = malloc(H * I * sizeof *a), *b = malloc(H * I * sizeof *b);
  int out_of_bound = 0, not_rounded = 0, zeros = 0;
  for (int i = 0; i < n; i++) {
    const tk_safetensors_tensor *t32 = tk_safetensors_find(f32, specs[i].name);
    const tk_safetensors_tensor *t16 = tk_safetensors_find(bf16, specs[i].name);
    CHECK_MSG(t32 && t32->dtype == TK_SAFETENSORS_F32, "%s in the F32 file", specs[i].name);
    CHECK_MSG(t16 && t16->dtype == TK_SAFETENSORS_BF16, "%s in the BF16 file", specs[i].name);
    uint32_t f32_only = TK_SAFETENSORS_DTYPE_BIT(TK_SAFETENSORS_F32);
    uint32_t bf16_only = TK_SAFETENSORS_DTYPE_BIT(TK_SAFETENSORS_BF16);
    tk_status s1 = tk_safetensors_read_f32(f32, specs[i].name, f32_only, 2, specs[i].shape, a);
    tk_status s2 = tk_safetensors_read_f32(bf16, specs[i].name, bf16_only, 2, specs[i].shape, b);
    CHECK_MSG(!s1 && !s2, "%s: %s %s", specs[i].name, tk_status_message(s1), tk_status_message(s2));
    uint64_t count = s1 || s2 ? 0 : specs[i].shape[0] * specs[i].shape[1];
    tk_status_free(s1);
    tk_status_free(s2);
    for (uint64_t j = 0; j < count; j++) {
      out_of_bound += !isfinite(a[j]) || fabs(a[j]) > specs[i].bound;
      zeros += a[j] == 0;
      uint32_t wide = (uint32_t)bf16_bits(a[j]) << 16, got;
      memcpy(&got, &b[j], 4);
      not_rounded += got != wide;
    }
  }
  CHECK_MSG(out_of_bound == 0, "%d values outside ±1/sqrt(fan_in)", out_of_bound);
  CHECK_MSG(not_rounded == 0, "%d BF16 values are not their F32 twin rounded", not_rounded);
  CHECK_MSG(zeros < 4, "%d zero values: not random", zeros);
  free(a);
  free(b);
}

/* Two runs give the same bytes: length, header padded to 8, then 2 bytes per value. */
static void check_bytes(void) {
  char p1[600], p2[600];
  snprintf(p1, sizeof p1, "%s/bf16/model.safetensors", tmp_dir);
  snprintf(p2, sizeof p2, "%s/bf16-again/model.safetensors", tmp_dir);
  size_t n1 = 0, n2 = 0;
  char *b1 = read_all(p1, &n1), *b2 = read_all(p2, &n2);
  CHECK(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0);
  uint64_t header = 0;
  if (b1 && n1 >= 8) memcpy(&header, b1, 8);
  CHECK(header % 8 == 0);
  CHECK(n1 == 8 + header + 2 * ((size_t)E * H + 3 * (size_t)E * I * H));
  free(b1);
  free(b2);
}

static void test_checkpoints(void) {
  if (make("f32", "f32") || make("bf16", "bf16") || make("bf16", "bf16-again")) return;
  tk_safetensors *f32 = open_dir("f32"), *bf16 = open_dir("bf16");
  if (f32 && bf16) check_values(f32, bf16);
  tk_safetensors_close(f32);
  tk_safetensors_close(bf16);
  check_bytes();
}

int main(void) {
  if (system("command -v python3 >/dev/null 2>&1") != 0) {
    printf("skipped: python3 is not installed (make_checkpoint.py needs it)\n");
    return 77;
  }
  const char *src = getenv("TK_SOURCE_DIR");
  if (!src) src = ".";
  snprintf(script, sizeof script, "%s/models/qwen3-moe-tiny/make_checkpoint.py", src);
  snprintf(config_path, sizeof config_path, "%s/models/qwen3-moe-tiny/config.json", src);
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_config();
  test_checkpoints();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
  TEST_MAIN_END();
}
