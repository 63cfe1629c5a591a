/* compiler/cmd_checkpoint.c — `tkc init-checkpoint` and `tkc inspect-checkpoint`.
 *
 * init-checkpoint writes deterministic random weights for an arch (model/init_weights.h:
 * RNG and ranges) through the streaming, atomic checkpoint writer. inspect-checkpoint lists a
 * checkpoint's header and records and, given an arch, validates the checkpoint against it
 * (names, order, element counts, arch_fingerprint, finite weights; docs/formats.md §2).
 * Exit codes (docs/formats.md §4): 0 ok, 1 invalid input file, 2 usage, 4 internal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "model/init_weights.h"
#include "compiler/tkc_commands.h"
#include "tk/checkpoint.h"
#include "tk/alloc.h"

/* Big models print progress: at or above this many weights (64 MiB of f32). */
#define PROGRESS_MIN_WEIGHTS (16ull << 20)
/* At most this many bytes of the config blob are printed. */
#define CONFIG_SHOWN 1024

/* ---- Argument helpers ------------------------------------------------------------------- */

/* Matches "--name VALUE" (consuming the next argument) or "--name=VALUE" at argv[*i]. Sets
 * *value to NULL when the option is given without a value. */
static bool option(int argc, char **argv, int *i, const char *name, const char **value) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0) return false;
  if (argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
    return true;
  }
  if (argv[*i][n] != '\0') return false;
  *value = *i + 1 < argc ? argv[++*i] : NULL;
  return true;
}

/* A decimal integer in [0, max], digits only. */
static bool parse_uint(const char *text, uint64_t max, uint64_t *out) {
  if (!text || *text < '0' || *text > '9') return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || v > max) return false;
  *out = v;
  return true;
}

/* ---- init-checkpoint ------------------------------------------------------------------- */

typedef struct init_args {
  const char *arch_path, *out_path;
  bool has_seed;
  uint64_t seed, step;
} init_args;

static void init_help(void) {
  printf(
      "usage: tkc init-checkpoint ARCH.json -o FILE [--seed N] [--step N]\n"
      "\n"
      "Writes a checkpoint.tkp1 with deterministic random weights for the arch: one\n"
      "xoshiro256** stream per tensor keyed by (seed, tensor index); Linear weights\n"
      "uniform(+-1/sqrt(fan_in)), biases uniform(+-0.1), LayerNorm gamma uniform(0.5, 1.5),\n"
      "beta uniform(+-0.2) (models/README.md). The write is atomic: on failure nothing is left.\n"
      "\n"
      "  -o, --output FILE  the checkpoint to write (required)\n"
      "  --seed N           u64 seed (default: the arch's seed)\n"
      "  --step N           u32 training step stored in the header (default 0)\n"
      "\n"
      "Exit codes: 0 ok, 1 invalid arch or the checkpoint cannot be written, 2 usage,\n"
      "4 internal error (out of memory).\n");
}

/* Returns -1 when argv is fine, else the exit code of a usage error. */
static int init_parse(int argc, char **argv, init_args *a) {
  const char *cmd = "init-checkpoint", *value;
  for (int i = 1; i < argc; i++) {
    if (option(argc, argv, &i, "-o", &value) || option(argc, argv, &i, "--output", &value)) {
      if (!value) return tkc_usage_error(cmd, "-o needs a file name");
      a->out_path = value;
    } else if (option(argc, argv, &i, "--seed", &value)) {
      if (!parse_uint(value, UINT64_MAX, &a->seed))
        return tkc_usage_error(cmd, "--seed: expected an integer in [0, 2^64-1], found '%s'",
                               value ? value : "");
      a->has_seed = true;
    } else if (option(argc, argv, &i, "--step", &value)) {
      if (!parse_uint(value, UINT32_MAX, &a->step))
        return tkc_usage_error(cmd, "--step: expected an integer in [0, 2^32-1], found '%s'",
                               value ? value : "");
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return tkc_usage_error(cmd, "unknown option '%s'", argv[i]);
    } else if (a->arch_path) {
      return tkc_usage_error(cmd, "unexpected argument '%s' (one ARCH.json only)", argv[i]);
    } else {
      a->arch_path = argv[i];
    }
  }
  if (!a->arch_path) return tkc_usage_error(cmd, "missing ARCH.json");
  if (!a->out_path) return tkc_usage_error(cmd, "missing -o FILE");
  return -1;
}

typedef struct progress_state {
  const char *path;
  uint64_t next_tenth; /* the next 10% step to report */
} progress_state;

static void report_progress(void *ctx, uint64_t done, uint64_t total) {
  progress_state *p = ctx;
  if (total < PROGRESS_MIN_WEIGHTS) return;
  uint64_t tenth = done * 10 / total;
  if (tenth < p->next_tenth) return;
  fprintf(stderr, "tkc init-checkpoint: %s: %3" PRIu64 "%% (%" PRIu64 " of %" PRIu64 " weights)\n",
          p->path, tenth * 10, done, total);
  p->next_tenth = tenth + 1;
}

int tkc_cmd_init_checkpoint(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    init_help();
    return TKC_EXIT_OK;
  }
  init_args a = {0};
  int usage = init_parse(argc, argv, &a);
  if (usage >= 0) return usage;
  tk_arch arch;
  tk_status status = tk_arch_load(a.arch_path, &arch);
  if (status) return tkc_fail("init-checkpoint", status);
  uint64_t seed = a.has_seed ? a.seed : arch.seed;
  progress_state progress = {a.out_path, 1};
  status = tk_arch_init_checkpoint_write(&arch, a.out_path, seed, (uint32_t)a.step, report_progress,
                                         &progress);
  if (status) return tkc_fail("init-checkpoint", status);
  printf("wrote %s: %zu tensors, %" PRIu64 " weights, seed %" PRIu64 ", arch fingerprint %s\n",
         a.out_path, tk_arch_param_count(&arch), tk_arch_weight_total(&arch), seed,
         arch.fingerprint);
  return TKC_EXIT_OK;
}

/* ---- inspect-checkpoint ------------------------------------------------------------------ */

typedef struct inspect_args {
  const char *path, *arch_path;
  bool allow_nonfinite;
} inspect_args;

static void inspect_help(void) {
  printf("usage: tkc inspect-checkpoint FILE [--arch ARCH.json] [--allow-nonfinite]\n"
         "\n"
         "Prints a checkpoint.tkp1's header (version, step, record count, config) and one line\n"
         "per record. With --arch, validates it against the arch: names, order, element counts,\n"
         "the config's arch_fingerprint and finite weights (exit 1 on a mismatch).\n"
         "\n"
         "  --arch ARCH.json    validate against this arch\n"
         "  --allow-nonfinite   accept NaN/Inf weights when validating\n"
         "\n"
         "Exit codes: 0 ok, 1 unreadable or invalid checkpoint (or arch, or a mismatch),\n"
         "2 usage, 4 internal error (out of memory).\n");
}

static int inspect_parse(int argc, char **argv, inspect_args *a) {
  const char *cmd = "inspect-checkpoint", *value;
  for (int i = 1; i < argc; i++) {
    if (option(argc, argv, &i, "--arch", &value)) {
      if (!value) return tkc_usage_error(cmd, "--arch needs a file name");
      a->arch_path = value;
    } else if (!strcmp(argv[i], "--allow-nonfinite")) {
      a->allow_nonfinite = true;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return tkc_usage_error(cmd, "unknown option '%s'", argv[i]);
    } else if (a->path) {
      return tkc_usage_error(cmd, "unexpected argument '%s' (one FILE only)", argv[i]);
    } else {
      a->path = argv[i];
    }
  }
  if (!a->path) return tkc_usage_error(cmd, "missing FILE");
  return -1;
}

/* Prints bytes with non-printable ones as \xNN, at most `limit` of them. */
static void print_escaped(const char *text, uint32_t len, uint32_t limit) {
  uint32_t n = len < limit ? len : limit;
  for (uint32_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch >= 0x20 && ch < 0x7f && ch != '\\')
      putchar(ch);
    else
      printf("\\x%02x", ch);
  }
  if (len > n) printf("... (%u more bytes)", len - n);
}

static void print_listing(const char *path, const tk_checkpoint *ckpt) {
  uint32_t config_len, count = tk_checkpoint_record_count(ckpt);
  const char *config = tk_checkpoint_config(ckpt, &config_len);
  printf("checkpoint: %s\nversion: %u\nstep: %u\nrecords: %u\nconfig (%u bytes): ", path,
         tk_checkpoint_version(ckpt), tk_checkpoint_step(ckpt), count, config_len);
  print_escaped(config, config_len, CONFIG_SHOWN);
  printf("\n%5s  %-24s %12s %12s %12s %10s  %s\n", "index", "name", "weight_len", "m_len", "v_len",
         "step", "has_grad");
  for (uint32_t i = 0; i < count; i++) {
    const tk_checkpoint_record *r = tk_checkpoint_record_at(ckpt, i);
    printf("%5u  ", i);
    print_escaped(r->name, r->name_len, 64);
    printf("%*s %12u %12u %12u %10u  %d", r->name_len < 24 ? (int)(24 - r->name_len) : 0, "",
           r->weight_len, r->m_len, r->v_len, r->step, r->has_grad);
    if (r->has_grad) printf(" (grad_len %u)", r->grad_len);
    putchar('\n');
  }
}

/* Validates ckpt against the arch's parameter list (docs/formats.md §2). */
static tk_status validate_against(const tk_checkpoint *ckpt, const tk_arch *arch,
                                  bool allow_nonfinite) {
  size_t n = tk_arch_param_count(arch);
  tk_param_spec *specs = tk_calloc(n, sizeof *specs);
  tk_checkpoint_expect *expect = tk_calloc(n, sizeof *expect);
  tk_status status = TK_STATUS_OK;
  if (!specs || !expect) {
    status = tk_status_make(TK_RESOURCE_EXHAUSTED, "no memory for %zu parameter specs", n);
  } else {
    for (size_t i = 0; i < n; i++) {
      specs[i] = tk_arch_param(arch, i);
      expect[i] = (tk_checkpoint_expect){specs[i].name, specs[i].count};
    }
    tk_checkpoint_validate_options options = {arch->fingerprint, allow_nonfinite};
    status = tk_checkpoint_validate(ckpt, expect, n, &options);
  }
  free(specs);
  free(expect);
  return status;
}

int tkc_cmd_inspect_checkpoint(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    inspect_help();
    return TKC_EXIT_OK;
  }
  inspect_args a = {0};
  int usage = inspect_parse(argc, argv, &a);
  if (usage >= 0) return usage;
  tk_arch arch;
  if (a.arch_path) {
    tk_status status = tk_arch_load(a.arch_path, &arch);
    if (status) return tkc_fail("inspect-checkpoint", status);
  }
  tk_checkpoint *ckpt;
  tk_status status = tk_checkpoint_open(a.path, &ckpt);
  if (status) return tkc_fail("inspect-checkpoint", status);
  print_listing(a.path, ckpt);
  if (a.arch_path) status = validate_against(ckpt, &arch, a.allow_nonfinite);
  tk_checkpoint_close(ckpt);
  fflush(stdout);
  if (status) return tkc_fail("inspect-checkpoint", status);
  if (a.arch_path) printf("valid for %s (fingerprint %s)\n", a.arch_path, arch.fingerprint);
  return TKC_EXIT_OK;
}
