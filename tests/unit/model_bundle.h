/* tests/unit/model_bundle.h — a model of models/ compiled for the CPU, with its checkpoint, for
 * the runtime tests (session_test, bundle_load_test).
 */
#ifndef TK_TESTS_MODEL_BUNDLE_H
#define TK_TESTS_MODEL_BUNDLE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"
#include "model/arch.h"
#include "tk/status.h"

/* The arch.json of `model`: models/<model>.arch.json, or `model` itself when it is a path
 * (has a '/': tests/archs/custom-out-in.arch.json). Header-only: the IR tests use it too. */
static inline void tk_test_arch_path(const char *model, char *path, size_t size) {
  if (strchr(model, '/'))
    snprintf(path, size, "%s", model);
  else
    snprintf(path, size, "models/%s.arch.json", model);
}

/* Loads the arch.json of model (tk_test_arch_path) into *arch, compiles it (targets x86_64, --cpu cpu, quiet)
 * into the bundle directory `dir` with --max-batch max_batch, and writes the arch's seeded
 * checkpoint to ckpt_path unless that file already exists (models share one checkpoint per tmp
 * dir). Run from the source root. */
TK_MUST_USE tk_status tk_test_model_bundle_cpu(const char *model, const char *dir,
                                               const char *ckpt_path, int64_t max_batch,
                                               const char *cpu, tk_arch *arch);
/* tk_test_model_bundle_cpu with the experts dispatched `dispatch` (tkc --dispatch). */
TK_MUST_USE tk_status tk_test_model_bundle_dispatch(const char *model, const char *dir,
                                                    const char *ckpt_path, int64_t max_batch,
                                                    const char *cpu, tk_ir_dispatch dispatch,
                                                    tk_arch *arch);

/* tk_test_model_bundle_cpu for one CPU, x86-64-v3 (half the compile time of the default's
 * two levels; the tests of the levels compile them on purpose). */
TK_MUST_USE tk_status tk_test_model_bundle(const char *model, const char *dir,
                                           const char *ckpt_path, int64_t max_batch, tk_arch *arch);

#endif
