/* tests/unit/verify_barrier_test.c — workgroup-shared locals and barriers (issue 17), on nano
 * (sparse dispatch) with one GPU launch, expert_0_in_gemm (K = 96, N = 128, workgroup 256: two
 * rows per workgroup), rewritten by hand in the dump as a staged GEMM: per K-slice of 32, the
 * first 64 threads stage the workgroup's two x rows in the shared local xs, a barrier, every
 * thread accumulates its output from xs, a barrier. The dump round-trips through the parser
 * (`local xs : f32[64] shared`, `barrier`); the interpreter runs the threads between barriers
 * and gives the fused kernels' logits bit for bit at B = 1, 17, 18, 33; every class proves it,
 * with the new obligations (uniform barriers, intervals, shared bytes) among them. Then the
 * four defects of issue 17 item 2, each refuted by the class that exists for it:
 *   no_barrier        the barrier between staging and compute dropped        race (interval)
 *   divergent         the slice loop under the row guard (odd counts diverge) race (uniform)
 *   lds_off_by_one    the staging store at xs[t + 1]                          bounds
 *   overlap           threads 2i and 2i+1 stage into one element              race (interval)
 * and structural refusals: a barrier under an IF inside the slice loop, a barrier in a CPU
 * kernel, 49 153 bytes of shared locals (class bounds).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/interp/interp.h"
#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"
#include "verify/verify.h"

/* The staged body; %ROW_GUARD% and the marked lines are what the defects change. */
static const char STAGED_BODY[] =
    "  body {\n"
    "    for wg in 0..(Bp * 128 + 255) div 256 parallel @workgroup_x {\n"
    "      for t in 0..256 parallel @thread_x {\n"
    "        if (wg * 256 + t) div 128 < %dispatch.count[0] {\n"
    "          acc = %expert_0.param_1[(wg * 256 + t) mod 128]  (from 0, subst 0)\n"
    "        }\n"
    "@SLICES@"
    "        if (wg * 256 + t) div 128 < %dispatch.count[0] {\n"
    "          %expert_0.h_0[(wg * 256 + t) div 128 * 128 + (wg * 256 + t) mod 128] = acc  (from 2, subst 0)\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  }\n";

static const char SLICES[] =
    "        for kk in 0..3 serial {\n"
    "          if t < 64 {\n"
    "            if wg * 2 + t div 32 < %dispatch.count[0] {\n"
    "              xs[@STAGE@] = %expert_0.xg[(wg * 2 + t div 32) * 96 + kk * 32 + t mod 32]\n"
    "            }\n"
    "          }\n"
    "@BARRIER1@"
    "          if (wg * 256 + t) div 128 < %dispatch.count[0] {\n"
    "            for k2 in 0..32 reduction {\n"
    "              acc = fma(xs[t div 128 * 32 + k2], %expert_0.param_0[(kk * 32 + k2) * 128 + (wg * 256 + t) mod 128], acc)\n"
    "            }\n"
    "          }\n"
    "          barrier\n"
    "        }\n";

typedef struct defect {
  const char *stage;    /* the staging store's index */
  const char *barrier1; /* the line between staging and compute */
  bool divergent;       /* the slice loop under the row guard */
  const char *xs_count; /* xs's element count */
} defect;

static const defect SOUND = {"t", "          barrier\n", false, "64"};

/* s with every `key` replaced by `with` (caller frees). */
static char *replace_all(const char *s, const char *key, const char *with) {
  size_t n = 0, kl = strlen(key), wl = strlen(with);
  for (const char *p = strstr(s, key); p; p = strstr(p + kl, key)) n++;
  char *out = malloc(strlen(s) + n * wl + 1), *o = out;
  if (!out) return NULL;
  for (const char *p = s, *q; (q = strstr(p, key)); p = q + kl) {
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    memcpy(o, with, wl);
    o += wl;
    s = q + kl;
  }
  strcpy(o, s);
  return out;
}

static char *slices_of(const defect *d) {
  char *a = replace_all(SLICES, "@STAGE@", d->stage);
  char *b = a ? replace_all(a, "@BARRIER1@", d->barrier1) : NULL;
  free(a);
  if (!b || !d->divergent) return b;
  size_t n = strlen(b) + 256;
  char *c = malloc(n);
  if (c)
    snprintf(c, n, "        if (wg * 256 + t) div 128 < %%dispatch.count[0] {\n%s        }\n", b);
  free(b);
  return c;
}

/* nano's dump with expert_0_in_gemm (gpu) staged as d says; NULL (a failed check) if the dump
 * lacks what the rewrite expects. */
static char *staged_dump(const char *dump, const defect *d) {
  const char *k = strstr(dump, "kernel expert_0_in_gemm (gpu");
  const char *local = k ? strstr(k, "  local acc : f32[1] from acc\n") : NULL;
  const char *body = local ? strstr(local, "  body {\n") : NULL;
  const char *end = body ? strstr(body, "\n  }\n") : NULL;
  CHECK_MSG(end, "nano's dump: expert_0_in_gemm (gpu) not as expected");
  char *slices = end ? slices_of(d) : NULL;
  char *staged = slices ? replace_all(STAGED_BODY, "@SLICES@", slices) : NULL;
  free(slices);
  if (!staged) return NULL;
  end += strlen("\n  }\n");
  local += strlen("  local acc : f32[1] from acc\n");
  size_t n = strlen(dump) + strlen(staged) + 64;
  char *out = malloc(n);
  if (out)
    snprintf(out, n, "%.*s  local xs : f32[%s] shared\n%.*s%s%s", (int)(local - dump), dump,
             d->xs_count, (int)(body - local), local, staged, end);
  free(staged);
  return out;
}

static tk_ir_module *parse_staged(const char *dump, const defect *d, const char *what) {
  char *text = staged_dump(dump, d);
  tk_ir_module *m = NULL;
  tk_status s = text ? tk_ir_parse(text, strlen(text), what, &m) : NULL;
  CHECK_MSG(text && s == NULL, "%s: %s", what, s ? tk_status_message(s) : "no text");
  tk_status_free(s);
  free(text);
  return m;
}

/* The dump of the module a model builds to its last stage (caller frees). Not inlined: GCC 12
 * then takes the memstream's buffer for a dangling local (-Wdangling-pointer, a false alarm). */
__attribute__((noinline)) static char *nano_dump(void) {
  tk_ir_module *m =
      tk_test_build_ir_with("nano", TK_STAGE_CPU, TK_DISPATCH_SPARSE, TK_GPU_SCHEDULE_SIMPLE);
  char *text = NULL;
  size_t len = 0;
  FILE *f = m ? open_memstream(&text, &len) : NULL;
  if (f) {
    CHECK_OK(tk_ir_module_print(m, f));
    fclose(f);
  }
  tk_ir_module_free(m);
  return text;
}

/* ---- the interpreter: staged = fused, bit for bit ---- */

static double *run_logits(const tk_ir_module *m, tk_ir_target t, int64_t B) {
  double **bufs = calloc((size_t)m->nbuffers, sizeof *bufs);
  double *logits = NULL;
  uint64_t seed = 0x5EED0000u + (uint64_t)B;
  bool ok = bufs != NULL;
  for (int i = 0; ok && i < m->nbuffers; i++) {
    int64_t n = tk_interp_buffer_count(m, i, B);
    ok = (bufs[i] = malloc(sizeof(double) * (size_t)(n ? n : 1))) != NULL;
    for (int64_t j = 0; ok && j < n; j++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      double u = (double)(seed >> 11) / 9007199254740992.0 - 0.5; /* [-0.5, 0.5) */
      bufs[i][j] = m->buffers[i].role == TK_ROLE_PARAM || m->buffers[i].role == TK_ROLE_IN
                       ? (double)(float)(u / 4)
                       : NAN;
    }
  }
  if (ok) CHECK_OK(tk_interp_run(m, t, B, bufs, NULL));
  for (int i = 0; ok && i < m->nbuffers; i++)
    if (!strcmp(m->buffers[i].name, "logits")) {
      logits = bufs[i];
      bufs[i] = NULL;
    }
  for (int i = 0; bufs && i < m->nbuffers; i++) free(bufs[i]);
  free(bufs);
  return logits;
}

static void check_interpreted(const tk_ir_module *m) {
  static const int64_t batches[] = {1, 17, 18, 33};
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
    int64_t B = batches[i], n = B * m->arch.output_dim, same = 0;
    double *fused = run_logits(m, TK_TARGET_NONE, B), *gpu = run_logits(m, TK_TARGET_GPU, B);
    for (int64_t j = 0; fused && gpu && j < n; j++) same += fused[j] == gpu[j] && !isnan(gpu[j]);
    CHECK_MSG(fused && gpu && same == n, "B=%lld: %lld of %lld staged logits equal the fused ones",
              (long long)B, (long long)same, (long long)n);
    free(fused);
    free(gpu);
  }
}

/* ---- the proofs ---- */

static long count_of(const tk_verify_report *r, const char *cls) {
  for (int c = 0; r && c < TK_VERIFY_NCLASSES; c++) {
    const char *name;
    long n;
    tk_verify_report_class_count(r, c, &name, &n);
    if (!strcmp(name, cls)) return n;
  }
  return -1;
}

static void check_proved(tk_ir_module *m, const tk_verify_report *plain) {
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, NULL, &r);
  CHECK_MSG(s == NULL, "the staged kernel: %s", tk_status_message(s));
  if (!s) {
    /* bounds: + the shared size and xs's accesses; race: + the two uniform barriers (in the
     * slice loop) and the interval pairs of xs (the store with itself, with the compute load) */
    CHECK_MSG(count_of(r, "bounds") > count_of(plain, "bounds"), "bounds: %ld vs %ld",
              count_of(r, "bounds"), count_of(plain, "bounds"));
    CHECK_MSG(count_of(r, "race") >= count_of(plain, "race") + 3, "race: %ld vs %ld",
              count_of(r, "race"), count_of(plain, "race"));
  }
  tk_status_free(s);
  tk_verify_report_free(r);
}

static void check_refuted(const char *dump, const defect *d, const char *what,
                          const char *const *needles) {
  tk_ir_module *m = parse_staged(dump, d, what);
  if (!m) return;
  tk_verify_report *r = NULL;
  tk_status s = tk_verify_module(m, NULL, &r);
  CHECK_MSG(tk_status_code_of(s) == TK_PROOF_FAILED, "%s: expected a refutation, got %s", what,
            s ? tk_status_message(s) : "all proved");
  for (int i = 0; s && needles[i]; i++)
    CHECK_MSG(strstr(tk_status_message(s), needles[i]), "%s: the counterexample lacks '%s': %s",
              what, needles[i], tk_status_message(s));
  if (s) fprintf(stderr, "%s refuted: %s\n", what, tk_status_message(s));
  tk_status_free(s);
  tk_verify_report_free(r);
  tk_ir_module_free(m);
}

/* The text fails the structural checker (tk_ir_parse runs it) with `needle`. */
static void check_malformed(const char *text, const char *what, const char *needle) {
  tk_ir_module *m = NULL;
  tk_status s = text ? tk_ir_parse(text, strlen(text), what, &m) : NULL;
  CHECK_MSG(s && strstr(tk_status_message(s), needle), "%s: expected '%s', got %s", what, needle,
            s ? tk_status_message(s) : "a module");
  tk_status_free(s);
  tk_ir_module_free(m);
}

static void check_structure(const char *dump) {
  defect under_if = SOUND;
  under_if.barrier1 = "          if t < 64 {\n            barrier\n          }\n";
  char *text = staged_dump(dump, &under_if);
  check_malformed(text, "barrier under an if in a loop", "holds a barrier under an if");
  free(text);
  /* a barrier in a CPU kernel: after the first cpu_block loop's header line */
  const char *cpu = strstr(dump, "@cpu_block {\n");
  size_t n = strlen(dump) + 64;
  char *in_cpu = cpu ? malloc(n) : NULL;
  if (in_cpu) {
    int at = (int)(cpu - dump) + (int)strlen("@cpu_block {\n");
    snprintf(in_cpu, n, "%.*s        barrier\n%s", at, dump, dump + at);
  }
  check_malformed(in_cpu, "barrier in a cpu kernel",
                  "barrier outside a GPU kernel's @thread_x loop");
  free(in_cpu);
}

int main(void) {
  char *dump = nano_dump();
  tk_ir_module *m = dump ? parse_staged(dump, &SOUND, "staged.ir") : NULL;
  if (m) {
    char *back = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&back, &len);
    CHECK_OK(tk_ir_module_print(m, f));
    fclose(f);
    CHECK_MSG(strstr(back, "  local xs : f32[64] shared\n") && strstr(back, "barrier\n"),
              "the shared local and the barriers print back");
    free(back);
    check_interpreted(m);
    tk_ir_module *plain =
        tk_test_build_ir_with("nano", TK_STAGE_CPU, TK_DISPATCH_SPARSE, TK_GPU_SCHEDULE_SIMPLE);
    tk_verify_report *pr = NULL;
    if (plain) CHECK_OK(tk_verify_module(plain, NULL, &pr));
    check_proved(m, pr);
    tk_verify_report_free(pr);
    tk_ir_module_free(plain);
  }
  tk_ir_module_free(m);
  if (dump) {
    defect no_barrier = SOUND, divergent = SOUND, off = SOUND, overlap = SOUND, big = SOUND;
    no_barrier.barrier1 = "";
    divergent.divergent = true;
    off.stage = "t + 1";
    overlap.stage = "t div 2 * 2";
    big.xs_count = "12289"; /* 49 156 bytes */
    check_refuted(dump, &no_barrier, "no_barrier",
                  (const char *const[]){"race", "between the same barriers", NULL});
    check_refuted(dump, &divergent, "divergent",
                  (const char *const[]){"race", "around the barrier is uniform", NULL});
    check_refuted(dump, &off, "lds_off_by_one", (const char *const[]){"bounds", "xs", NULL});
    check_refuted(dump, &overlap, "overlap",
                  (const char *const[]){"race", "between the same barriers", NULL});
    check_refuted(dump, &big, "shared_too_big", (const char *const[]){"bounds", "49152", NULL});
    check_structure(dump);
  }
  free(dump);
  TEST_MAIN_END();
}
