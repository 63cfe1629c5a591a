/* tests/cli/bundle_conformance.c — runs a compiled bundle through its generated host stub and
 * the CPU launcher, and compares with the double-precision reference (tests/ref).
 *
 *   bundle_conformance ARCH.json BUNDLE_DIR CHECKPOINT [TARGET]
 *
 * TARGET is the manifest target kind to run (default x86_64; x86_64-simt runs the stub's gpu
 * schedule). The code object, its --cpu level and the host stub come from manifest.json; every
 * entry of that kind runs (one per CPU level, each with its own stub: docs/abi.md "CPU
 * levels"). For
 * B in {1, 15, 16, 17, 100}: deterministic features in [-2, 2], forward with 1 thread and
 * with 2 threads (two launchers in one process), outputs bitwise identical, and within the
 * docs/formats.md §3 tolerance of the reference (keep sets included). A level this CPU cannot run
 * (x86-64-v4 without AVX-512: TK_UNAVAILABLE) is skipped with the reason printed; at least one
 * level must run. Exit 0 when all pass.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "tk/model_host.h"

static const int32_t batches[] = {1, 15, 16, 17, 100};
enum { NB = sizeof batches / sizeof batches[0], BMAX = 100 };

static int failures;
static int skipped; /* CPU levels this machine cannot run: every other level must run */

static void fail_status(const char *what, tk_status s) {
  fprintf(stderr, "FAIL %s: %s\n", what, tk_status_message(s));
  tk_status_free(s);
  failures++;
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *t = malloc((size_t)n + 1);
  t[fread(t, 1, (size_t)n, f)] = '\0';
  fclose(f);
  return t;
}

/* One manifest target of the kind asked for: its code object, cpu level and host stub. */
typedef struct unit {
  char code[4096], cpu[64], host[4096];
} unit;
enum { MAX_UNITS = 4 };

/* The manifest targets of `kind` (at most MAX_UNITS), each with its stub: its own host_stub's
 * library, else the bundle's model_host.so. Returns how many. */
static int manifest_targets(const char *dir, const char *kind, unit *units) {
  char path[4096];
  snprintf(path, sizeof path, "%s/manifest.json", dir);
  char *text = read_text(path);
  cJSON *root = text ? cJSON_Parse(text) : NULL;
  free(text);
  int n = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "targets")) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "kind");
    if (!cJSON_IsString(k) || strcmp(k->valuestring, kind) || n == MAX_UNITS) continue;
    unit *u = &units[n++];
    snprintf(u->code, sizeof u->code, "%s/%s", dir,
             cJSON_GetObjectItemCaseSensitive(t, "file")->valuestring);
    snprintf(u->cpu, sizeof u->cpu, "%s", cJSON_GetObjectItemCaseSensitive(t, "cpu")->valuestring);
    const cJSON *lib = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "host_stub"),
                                         "library"),
        "file");
    snprintf(u->host, sizeof u->host, "%s/%s", dir,
             cJSON_IsString(lib) ? lib->valuestring : "model_host.so");
  }
  cJSON_Delete(root);
  return n;
}

typedef struct run_out {
  float *logits, *w;
} run_out;

static tk_status forward(tk_launcher *l, const tk_model_host *h, const float *x, int32_t B,
                         const tk_arch *a, run_out *out) {
  int32_t ix = tk_model_host_find_buffer(h, "x"), il = tk_model_host_find_buffer(h, "logits");
  int32_t iw = tk_model_host_find_buffer(h, "router_weights");
  TK_RETURN_IF_ERROR(tk_launcher_buffer_write(l, ix, 0, x, (int64_t)B * a->input_dim * 4));
  TK_RETURN_IF_ERROR(h->forward(l, tk_launcher_schedule(l), B));
  TK_RETURN_IF_ERROR(
      tk_launcher_buffer_read(l, il, 0, out->logits, (int64_t)B * a->output_dim * 4));
  if (iw >= 0)
    TK_RETURN_IF_ERROR(tk_launcher_buffer_read(l, iw, 0, out->w, (int64_t)B * a->n_experts * 4));
  return TK_STATUS_OK;
}

static void make_input(float *x, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (float)((double)(seed >> 40) / (double)(1ull << 24) * 4.0 - 2.0);
  }
}

static void check_batch(tk_launcher *l[2], const tk_model_host *h, const tk_ref_model *ref,
                        const tk_arch *a, int32_t B) {
  size_t in = (size_t)B * a->input_dim, no = (size_t)B * a->output_dim,
         nw = (size_t)B * a->n_experts;
  float *x = malloc(in * 4);
  run_out o[2];
  for (int t = 0; t < 2; t++) o[t] = (run_out){calloc(no + 1, 4), calloc(nw + 1, 4)};
  make_input(x, in, (uint64_t)B);
  for (int t = 0; t < 2; t++) {
    tk_status s = forward(l[t], h, x, B, a, &o[t]);
    if (s) fail_status("forward", s);
  }
  bool same = !memcmp(o[0].logits, o[1].logits, no * 4) && !memcmp(o[0].w, o[1].w, nw * 4);
  if (!same) {
    fprintf(stderr, "FAIL B=%d: 1 and 2 threads give different bits\n", B);
    failures++;
  }
  tk_ref_report rep;
  tk_status s = tk_ref_compare(ref, x, (size_t)B, o[0].logits, a->n_experts ? o[0].w : NULL, &rep);
  if (s)
    fail_status("compare", s);
  else if (!tk_ref_report_passed(&rep)) {
    fprintf(stderr, "FAIL B=%d:\n", B);
    tk_ref_report_print(&rep, stderr);
    failures++;
  } else {
    printf("ok B=%d: %zu elements, max diff %.3g, bitwise equal for 1 and 2 threads\n", B,
           rep.elements, rep.max_diff);
  }
  free(x);
  for (int t = 0; t < 2; t++) free(o[t].logits), free(o[t].w);
}

/* One target with its stub: launchers of 1 and 2 threads over every batch size. */
static void run_unit(const unit *u, const tk_arch *arch, const tk_checkpoint *ck,
                     const tk_ref_model *ref) {
  tk_model_host *h = NULL;
  tk_launcher *l[2] = {NULL, NULL};
  printf("%s (%s) with %s\n", u->code, u->cpu, u->host);
  tk_status s = tk_model_host_open(u->host, &h);
  for (int t = 0; t < 2 && !s; t++) {
    tk_cpu_launcher_options o = {.code_path = u->code, .cpu = u->cpu, .threads = t + 1};
    s = tk_cpu_launcher_create(&o, &l[t]);
    if (!s) s = tk_model_buffers_create(l[t], h, BMAX, ck);
  }
  if (s && tk_status_code_of(s) == TK_UNAVAILABLE) { /* a level this CPU lacks (AVX-512) */
    printf("skip %s: %s\n", u->cpu, tk_status_message(s));
    tk_status_free(s);
    skipped++;
  } else if (s) {
    fail_status("setup", s);
  } else {
    for (int i = 0; i < NB; i++) check_batch(l, h, ref, arch, batches[i]);
  }
  for (int t = 0; t < 2; t++) tk_launcher_destroy(l[t]);
  tk_model_host_close(h);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bundle_conformance ARCH.json BUNDLE_DIR CHECKPOINT [TARGET]\n");
    return 2;
  }
  const char *kind = argc > 4 ? argv[4] : "x86_64";
  tk_arch arch;
  tk_checkpoint *ck = NULL;
  tk_ref_model *ref = NULL;
  unit units[MAX_UNITS];
  int n = 0;
  tk_status s = tk_arch_load(argv[1], &arch);
  if (!s) s = tk_checkpoint_open(argv[3], &ck);
  if (!s) s = tk_ref_checkpoint_validate(&arch, ck, false);
  if (!s) s = tk_ref_model_from_checkpoint(&arch, ck, &ref);
  if (!s && !(n = manifest_targets(argv[2], kind, units)))
    s = tk_status_make(TK_NOT_FOUND, "%s/manifest.json has no target %s", argv[2], kind);
  if (s) fail_status("setup", s);
  for (int i = 0; !s && i < n; i++) run_unit(&units[i], &arch, ck, ref);
  if (!s && skipped == n) {
    fprintf(stderr, "FAIL: this CPU runs none of the bundle's %d %s levels\n", n, kind);
    failures++;
  }
  tk_ref_model_free(ref);
  tk_checkpoint_close(ck);
  printf("%s %s: %s\n", argv[2], kind, failures ? "FAILED" : "all batches passed");
  return failures ? 1 : 0;
}
