/* compiler/lower.h — arch → graph IR (docs/ir.md, docs/formats.md §2–§3).
 *
 * Builds a module at stage GRAPH: the input x [B, in], pad_rows to [Bp, in], the router
 * (linear, softmax, topk_mask) and E experts (Linear, LN, GELU, depth × [Linear, LN, GELU],
 * Linear) combined by moe_combine for MoE; the Dense chain (docs/formats.md §2) for Dense; and
 * slice_rows back to the caller's outputs logits [B, out] (and router_weights [B, E]).
 * Parameter tensors are declared in checkpoint order (tk_arch_param); no weights are read.
 */
#ifndef TK_COMPILER_LOWER_H
#define TK_COMPILER_LOWER_H

#include "model/arch.h"
#include "ir/ir.h"

/* Caller owns *out (tk_ir_module_free). */
TK_MUST_USE tk_status tkc_lower_arch(const tk_arch *arch, const tk_ir_options *opts,
                                     tk_ir_module **out);

#endif
