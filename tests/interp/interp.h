/* tests/interp/interp.h — a tiny double-precision interpreter of tkc IR, for tests only.
 *
 * Runs the fused kernels (target NONE: every phase over its whole space) or the scheduled
 * kernels of a target (every loop executed in order; bound loops too, which is a valid
 * execution of a thread loop without barriers; with barriers, the workgroup's threads run
 * each barrier-free statement in turn, and a guard around a barrier that only some threads
 * pass is an error: docs/ir.md "Barriers and shared locals") on buffers of doubles, one per
 * planned buffer (m->buffers). Every buffer and local access is bounds-checked: an out-of-range index
 * is an error naming the kernel, the buffer, the index and the size. Locals are reset to NaN
 * at every point of the launch's parallel space (shared locals at every workgroup), so a
 * read before write shows up as NaN.
 * Buffers are given row-major; for the CPU schedule the interpreter reads its own packed copy
 * of every panel buffer (tk/panel.h), as the runtime does.
 * Optional hooks see every executed STORE and LOAD with the loop variables' values.
 */
#ifndef TK_TESTS_INTERP_H
#define TK_TESTS_INTERP_H

#include <stdint.h>

#include "ir/ir.h"
#include "tk/status.h"

typedef struct tk_interp_hooks {
  /* vals: value of every variable by id (m->nvars entries; unbound ones are stale). */
  void (*on_store)(void *user, const tk_ir_kernel *k, const tk_ir_stmt *s, int64_t index,
                   const int64_t *vals);
  void (*on_load)(void *user, const tk_ir_kernel *k, const tk_ir_stmt *owner, const tk_ir_val *v,
                  int64_t index, const int64_t *vals);
  void *user;
} tk_interp_hooks;

/* Elements of buffer `id` at batch size B. */
int64_t tk_interp_buffer_count(const tk_ir_module *m, int id, int64_t B);

/* Runs every kernel of target t (TK_TARGET_NONE = the fused kernels) in order.
 * buffers[i] holds tk_interp_buffer_count(m, i, B) doubles. hooks may be NULL. */
TK_MUST_USE tk_status tk_interp_run(const tk_ir_module *m, tk_ir_target t, int64_t B,
                                    double *const *buffers, const tk_interp_hooks *hooks);

#endif
