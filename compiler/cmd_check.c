/* compiler/cmd_check.c — `tkc check ARCH.json`: validate an arch.json (docs/formats.md §1) and
 * print its canonical form, fingerprint, parameter tensors (checkpoint order, docs/formats.md §2),
 * the total parameter count and the f32 weight footprint.
 *
 * Output goes to stdout only on success; errors go to stderr with the exit codes of FORMATS
 * §4 (1 invalid or unreadable arch.json, 2 usage).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "compiler/tkc_commands.h"

static void print_help(void) {
  printf("usage: tkc check ARCH.json\n"
         "\n"
         "Validates an arch.json (docs: docs/formats.md section 1) and prints its canonical JSON,\n"
         "its fingerprint (SHA-256 of the canonical JSON, first 8 bytes in hex), every parameter\n"
         "tensor in checkpoint order with its shape and element count, the total parameter\n"
         "count and the memory the f32 weights take.\n"
         "\n"
         "Options:\n"
         "  -h, --help   show this help\n"
         "\n"
         "Exit codes: 0 valid, 1 invalid or unreadable arch.json, 2 usage error.\n");
}

static const char *role_name(tk_param_role role) {
  switch (role) {
    case TK_PARAM_WEIGHT: return "weight";
    case TK_PARAM_BIAS: return "bias";
    case TK_PARAM_GAMMA: return "gamma";
    case TK_PARAM_BETA: return "beta";
  }
  return "?";
}

/* One line per tensor: name, role, stored shape, element count. */
static void print_params(const tk_arch *arch) {
  size_t count = tk_arch_param_count(arch);
  printf("parameters: %zu tensors (name, role, stored shape, elements)\n", count);
  for (size_t i = 0; i < count; i++) {
    tk_param_spec p = tk_arch_param(arch, i);
    char shape[32];
    snprintf(shape, sizeof shape, "[%" PRId32 ", %" PRId32 "]", p.rows, p.cols);
    printf("  %-22s %-6s %-14s %" PRIu64 "\n", p.name, role_name(p.role), shape, p.count);
  }
}

static int check_file(const char *path) {
  tk_arch arch;
  tk_status status = tk_arch_load(path, &arch);
  if (status) return tkc_fail("check", status);
  char *json = NULL;
  status = tk_arch_canonical_json(&arch, &json);
  if (status) return tkc_fail("check", status);
  printf("arch: %s\n", path);
  printf("canonical: %s\n", json);
  printf("fingerprint: %s\n", arch.fingerprint);
  free(json);
  print_params(&arch);
  uint64_t total = tk_arch_weight_total(&arch);
  printf("total parameters: %" PRIu64 "\n", total);
  printf("weights (f32): %" PRIu64 " bytes (%.2f MiB)\n", total * 4,
         (double)total * 4 / (1024.0 * 1024.0));
  return TKC_EXIT_OK;
}

int tkc_cmd_check(int argc, char **argv) {
  if (tkc_wants_help(argc, argv)) {
    print_help();
    return TKC_EXIT_OK;
  }
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] != '\0')
      return tkc_usage_error("check", "unknown option '%s'", argv[i]);
    if (path)
      return tkc_usage_error("check", "one ARCH.json expected, got '%s' and '%s'", path, argv[i]);
    path = argv[i];
  }
  if (!path) return tkc_usage_error("check", "missing ARCH.json");
  return check_file(path);
}
