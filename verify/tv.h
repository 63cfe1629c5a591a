/* verify/tv.h — translation validation of the kernels codegen built (docs/proofs.md
 * "address and control: translation validation").
 *
 * tk_verify_tv_module walks every scheduled kernel's function in the UNOPTIMISED LLVM module of
 * one codegen target ("x86_64", "x86_64-simt", "amdgcn", "nvptx") and proves with Z3, as the
 * obligation classes `address` and `control`, that the LLVM does what the scheduled IR says:
 * every load and store reads or writes the element the IR index map gives (right buffer or
 * local, right element type, same index under the loop bounds and guards on its path, with
 * every integer step defined: no signed overflow, udiv/urem/zext operands non-negative, trunc
 * operands that fit); the loop bounds, guards and hardware ids on an access's path admit
 * exactly the IR's iteration points (safety and completeness); every IR access is emitted,
 * unrolled copies cover the unrolled extents exactly; every value compare keeps the IR's
 * predicate and max/min select their arms in the IR's order.
 *
 * The module must carry codegen's provenance metadata (ir.h TK_IR_MD_*); it only names the IR
 * access / variable / op an instruction stands for, and nothing it says is taken as a fact
 * about values. A load or store without it, or control flow the validator does not know
 * (anything but counted loops and if-then), is refused.
 *
 * Result: OK with one report entry per obligation appended to `report` (NULL: proved, not
 * recorded); TK_PROOF_FAILED naming the kernel, the LLVM instruction and the counterexample's
 * values; TK_INVALID_ARGUMENT for an unknown target. No global state; own Z3 context per call.
 */
#ifndef TK_VERIFY_TV_H
#define TK_VERIFY_TV_H

#include "ir/ir.h"
#include "tk/status.h"
#include "verify/verify.h"

struct LLVMOpaqueModule; /* LLVMModuleRef (llvm-c/Types.h), kept opaque for includers */

TK_MUST_USE tk_status tk_verify_tv_module(const tk_ir_module *m, struct LLVMOpaqueModule *mod,
                                          const char *target, const tk_verify_options *o,
                                          tk_verify_report *report);

#endif /* TK_VERIFY_TV_H */
