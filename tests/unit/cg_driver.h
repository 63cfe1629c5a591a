/* tests/unit/cg_driver.h — a test-only launcher for codegen's CPU shared objects (x86_64 and
 * x86_64-simt), standing in for the runtime's CPU launcher in codegen's own tests.
 *
 * Follows docs/abi.md: buffers are allocated per m->buffers (element counts evaluated at
 * B/Bp, 64-byte aligned; scratch and outputs pre-filled with NaN so a read of an unwritten
 * element shows), parameters copied from caller arrays in checkpoint order, each scheduled
 * kernel of the target run in order over [0, grid) with grid = tk_ir_ix_eval(launch.grid),
 * split into `threads` contiguous ranges run on that many threads, and the outputs read back.
 */
#ifndef TK_TESTS_CG_DRIVER_H
#define TK_TESTS_CG_DRIVER_H

#include <stdint.h>

#include "ir/ir.h"
#include "tk/status.h"

typedef struct tk_cgd tk_cgd;

/* dlopens so_path and resolves every kernel of m->targets[schedule] by name. The module is
 * borrowed and must outlive the driver. */
TK_MUST_USE tk_status tk_cgd_open(const tk_ir_module *m, tk_ir_target schedule, const char *so_path,
                                  tk_cgd **out);
void tk_cgd_close(tk_cgd *d);

/* The target string the shared object exports (tk_bundle_target), borrowed. */
const char *tk_cgd_bundle_target(const tk_cgd *d);

/* One forward pass of B rows. weights[i] holds checkpoint tensor i (tk_arch_param order and
 * counts); x is B × input_dim; logits gets B × output_dim; router_w gets B × E (MoE) or is
 * NULL (Dense). = tk_cgd_prepare + tk_cgd_run(-1) + tk_cgd_read of both outputs. */
TK_MUST_USE tk_status tk_cgd_forward(tk_cgd *d, const float *const *weights, const float *x,
                                     int32_t B, int threads, float *logits, float *router_w);

/* The steps of a forward, for benchmarks: allocate and fill the buffers of batch B (replacing
 * any earlier ones); run scheduled kernel `kernel` (-1 = all, in order); copy `count`
 * elements of the buffer holding tensor `tensor` out. */
TK_MUST_USE tk_status tk_cgd_prepare(tk_cgd *d, const float *const *weights, const float *x,
                                     int32_t B);
TK_MUST_USE tk_status tk_cgd_run(tk_cgd *d, int kernel, int threads);
TK_MUST_USE tk_status tk_cgd_read(const tk_cgd *d, const char *tensor, int64_t count, float *out);
/* The prepared buffer bound to argument `arg` of scheduled kernel `kernel` (borrowed). */
float *tk_cgd_arg(const tk_cgd *d, int kernel, int arg);

/* After a run: true when no kernel wrote past the batch's B real rows of any buffer it writes
 * (the elements from B * C on, C the widest argument the schedule binds to the buffer, still
 * hold the NaN tk_cgd_prepare left); else false, with the buffer's name in *buffer. */
bool tk_cgd_padding_untouched(const tk_cgd *d, const char **buffer);

/* The buffer of m->buffers holding the tensor named `tensor`, or -1. */
int tk_cgd_buffer_of(const tk_ir_module *m, const char *tensor);
/* Fills buffer `buffer` of m (count elements at B, dst): a parameter from weights (row-major;
 * tk_cgd_prepare then packs the cpu schedule's panel weights, docs/formats.md §6), the input
 * from x (B × input_dim), anything else with NaN so a read of an unwritten element shows. */
TK_MUST_USE tk_status tk_cgd_fill_buffer(const tk_ir_module *m, int buffer, int64_t count,
                                         const float *const *weights, const float *x, int32_t B,
                                         float *dst);

/* The kernel entry point type of the ABI. */
typedef void (*tk_cgd_kernel_fn)(void *const *args, int32_t B, int32_t Bp, int64_t begin,
                                 int64_t end);
/* Runs fn over [0, grid) split into `threads` ranges (one thread each; 1 = the caller). */
TK_MUST_USE tk_status tk_cgd_launch(tk_cgd_kernel_fn fn, void *const *args, int32_t B, int32_t Bp,
                                    int64_t grid, int threads);

#endif /* TK_TESTS_CG_DRIVER_H */
