/* tests/unit/prefetch_test.c — the CPU schedule's weight prefetch (ir/pass_schedule_cpu.c,
 * PREFETCH_BYTES; a FOR's `prefetch N span S`, ir.h). On nano's cpu kernels:
 *   - every GEMM launch with column panels (128 columns: 8 tiles of 16) has a prefetching
 *     reduction loop in its whole row tiles and none in its row tail; the router and the
 *     combine (no panel tiles) have none;
 *   - the dump prints `reduction prefetch 4096 span 64` (a 16-wide panel row of f32; 128 with
 *     AVX-512's 32-wide tiles), parses back, and prints the same bytes;
 *   - the IR checker refuses a prefetch on a serial loop, a negative or huge distance, a
 *     prefetch in a GPU kernel, a span without a prefetch, a negative span and one too long;
 *   - codegen's x86_64 module has one llvm.prefetch per cache line of the span per prefetching
 *     loop (4096 bytes past the body's first weight load, and 4160 for the second line of a
 *     128-byte span), and the translation validator accepts the module.
 * A prefetch is a hint (docs/proofs.md "Trusted"): no obligation covers its address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>

#include "codegen/codegen.h"
#include "tests/unit/ir_build.h"
#include "tests/unit/test.h"
#include "verify/tv.h"

enum { NANO_PREFETCH = 4096 };

typedef struct expect {
  const char *level;
  int64_t span; /* bytes of a panel row: 4 * the tile's columns */
} expect;

static const expect *expected;

typedef struct loops {
  int prefetching, plain; /* reduction loops with and without a prefetch */
} loops;

static void count_reductions(const tk_ir_stmt *s, void *user) {
  loops *n = user;
  if (s->kind != TK_S_FOR || s->loop != TK_LOOP_REDUCTION) return;
  if (s->prefetch) {
    CHECK_MSG(s->prefetch == NANO_PREFETCH && s->prefetch_span == expected->span,
              "%s: loop %s prefetches %lld bytes ahead, span %lld (expected %d, %lld)",
              expected->level, s->var->name, (long long)s->prefetch, (long long)s->prefetch_span,
              NANO_PREFETCH, (long long)expected->span);
    n->prefetching++;
  } else {
    n->plain++;
  }
}

/* The prefetching loops of target t's kernels (checked kernel by kernel). */
static int check_target(const tk_ir_module *m, tk_ir_target t) {
  const tk_ir_kernel_list *list = tk_ir_module_kernels(m, t);
  int total = 0;
  for (int i = 0; list && i < list->n; i++) {
    const tk_ir_kernel *k = list->items[i];
    loops n = {0, 0};
    tk_ir_walk_stmts(k->body, count_reductions, &n);
    if (t == TK_TARGET_CPU && strstr(k->name, "_gemm"))
      CHECK_MSG(n.prefetching == 1 && n.plain == 2,
                "cpu kernel %s: %d prefetching and %d plain reduction loops, expected 1 and 2 "
                "(the whole tiles', and the row tail's pairs' and last row's)",
                k->name, n.prefetching, n.plain);
    else
      CHECK_MSG(n.prefetching == 0, "%s kernel %s prefetches (%d loops)", tk_ir_target_name(t),
                k->name, n.prefetching);
    total += n.prefetching;
  }
  return total;
}

static int check_schedule(const tk_ir_module *m) {
  CHECK(check_target(m, TK_TARGET_GPU) == 0);
  int total = check_target(m, TK_TARGET_CPU);
  CHECK_MSG(total == 12, "nano: %d prefetching loops, expected 12 (3 GEMMs x 4 experts)", total);
  return total;
}

static void check_round_trip(const char *text) {
  char want[64];
  snprintf(want, sizeof want, " reduction prefetch %d span %lld {\n", NANO_PREFETCH,
           (long long)expected->span);
  CHECK_MSG(strstr(text, want), "%s: the dump lacks `%s`", expected->level, want);
  tk_test_check_round_trip(text, "nano.ir");
}

/* text with its first occurrence of `from` (after `after`) replaced by `to` fails the checker
 * with `needle`. */
static void check_refused(const char *text, const char *after, const char *from, const char *to,
                          const char *needle) {
  const char *start = strstr(text, after);
  const char *at = start ? strstr(start, from) : NULL;
  CHECK_MSG(at, "no `%s` after `%s` in the dump", from, after);
  if (!at) return;
  size_t n = strlen(text) + strlen(to) + 1;
  char *edited = malloc(n);
  if (!edited) return;
  snprintf(edited, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  tk_ir_module *m = NULL;
  tk_status s = tk_ir_parse(edited, strlen(edited), "edited.ir", &m);
  CHECK_MSG(s && strstr(tk_status_message(s), needle), "`%s` for `%s`: expected '%s', got %s", to,
            from, needle, s ? tk_status_message(s) : "a module");
  tk_status_free(s);
  tk_ir_module_free(m);
  free(edited);
}

static void check_checker(const char *text) {
  const char *why = "only a CPU kernel's reduction loop may";
  const char *cpu = "kernel expert_0_in_gemm (cpu", *ours = " reduction prefetch 4096 span 64 {";
  check_refused(text, cpu, ours, " reduction prefetch -64 span 64 {", "a positive distance");
  check_refused(text, cpu, "for rt in 0..8 serial {",
                "for rt in 0..8 serial prefetch 4096 span 64 {", why);
  check_refused(text, "kernel expert_0_in_gemm (gpu", " reduction {",
                " reduction prefetch 4096 span 64 {", why);
  check_refused(text, cpu, ours, " reduction prefetch 0 span 64 {", "none without");
  check_refused(text, cpu, ours, " reduction prefetch 4096 span 1088 {", "expected 1 to 1024");
  check_refused(text, cpu, ours, " reduction prefetch 4096 {", "'span'");
  check_refused(text, cpu, ours, " reduction prefetch 4096 span -64 {", "expected 1 to 1024");
  check_refused(text, cpu, ours, " reduction prefetch 9223372036854775807 span 64 {",
                "up to 1048576");
}

static int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void check_codegen(const tk_ir_module *m, int loops) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  o.cpu = expected->level;
  tk_cg_blob b = {0};
  CHECK_OK(tk_cg_compile(m, &o, TK_CG_EMIT_LLVM_UNOPT, &b));
  if (!b.data) return;
  const char *ll = (const char *)b.data;
  int lines = (int)(expected->span / 64), calls = count_of(ll, "call void @llvm.prefetch.p0(");
  CHECK_MSG(calls == loops * lines,
            "%s: %d llvm.prefetch calls, expected one per cache line (%d) per prefetching loop "
            "(%d)",
            expected->level, calls, lines, loops);
  CHECK_MSG(count_of(ll, "i64 4096\n") >= loops, "no prefetch 4096 bytes past its load");
  if (lines > 1)
    CHECK_MSG(count_of(ll, "i64 4160\n") >= loops, "no prefetch of the span's second line");
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ll, b.size - 1, "unopt.ll");
  LLVMModuleRef mod = NULL;
  char *err = NULL;
  if (LLVMParseIRInContext(ctx, buf, &mod, &err)) {
    CHECK_MSG(0, "parse: %s", err ? err : "?");
  } else {
    tk_status s = tk_verify_tv_module(m, mod, "x86_64", NULL, NULL);
    CHECK_MSG(!s, "translation validation: %s", tk_status_message(s));
    tk_status_free(s);
    LLVMDisposeModule(mod);
  }
  LLVMDisposeMessage(err);
  LLVMContextDispose(ctx);
  tk_cg_blob_free(&b);
}

static void check_level(const expect *e, bool zmm) {
  expected = e;
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  tk_ir_options_cpu_tiles(&o.ir, zmm ? 512 : 256);
  tk_ir_module *m = tk_test_build_ir_opts("nano", TK_STAGE_CPU, &o.ir);
  if (m) {
    int loops = check_schedule(m);
    char *text = tk_test_ir_text(m);
    if (text) {
      check_round_trip(text);
      if (!zmm) check_checker(text);
    }
    free(text);
    check_codegen(m, loops);
  }
  tk_ir_module_free(m);
}

int main(void) {
  static const expect v3 = {"x86-64-v3", 64}, v4 = {"x86-64-v4", 128};
  check_level(&v3, false);
  check_level(&v4, true);
  TEST_MAIN_END();
}
