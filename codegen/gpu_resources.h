/* codegen/gpu_resources.h — what each AMDGPU kernel of a code object uses, read back from the
 * object's own metadata, and the occupancy that allows on its gfx (issue 17 item 5: static
 * figures, so that a regression is visible without a GPU).
 *
 * tk_cg_amdgpu_resources reads the NT_AMDGPU_METADATA note ("AMDGPU", type 32, MessagePack)
 * of an ET_DYN code object: per kernel of amdhsa.kernels its .name, .sgpr_count, .vgpr_count,
 * .agpr_count, .group_segment_fixed_size (LDS), .private_segment_fixed_size (scratch),
 * .wavefront_size and .max_flat_workgroup_size, in the note's order.
 *
 * tk_cg_amdgpu_occupancy gives the waves one SIMD (LLVM's "EU") holds at once, the minimum
 * of four limits, computed as LLVM 19's AMDGPU backend does (GCNSubtarget::computeOccupancy;
 * tests/cli/gpu_resources.sh compares it with llc-19's own "; Occupancy" on kernels whose
 * registers, LDS and workgroup size it varies, for every gfx tkc accepts):
 *   waves   the gfx's maximum: 8 (gfx90a, gfx94x), 10 (other gfx8/gfx9), 20 (gfx1010-1012),
 *           16 (gfx103x, gfx11);
 *   vgpr    the VGPR file over the kernel's VGPRs rounded up to the allocation granule (on
 *           gfx90a/gfx94x VGPRs and AGPRs share one 512-register file, and .vgpr_count
 *           counts both);
 *   sgpr    gfx8/gfx9 only: 10 waves up to 80 SGPRs, 9 up to 88, 8 up to 100, else 7;
 *   lds     the workgroups whose LDS fits in a CU's 64 KiB (gfx10+: a WGP's 128 KiB), at
 *           most 16 (gfx10+: 32) when a workgroup has more than one wave (the barriers),
 *           times the waves of a workgroup, over the 4 SIMDs of a CU (WGP).
 */
#ifndef TK_CODEGEN_GPU_RESOURCES_H
#define TK_CODEGEN_GPU_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "tk/status.h"

enum { TK_CG_KERNEL_NAME_MAX = 128 };

typedef struct tk_cg_kernel_resources {
  char name[TK_CG_KERNEL_NAME_MAX];
  int sgpr, vgpr, agpr;
  int64_t lds_bytes, scratch_bytes;
  int wavefront_size, max_workgroup_size;
} tk_cg_kernel_resources;

/* The kernels of an AMDGPU code object (malloc'd array in *out, caller frees). A malformed
 * ELF or note, or a kernel lacking one of the fields, is TK_INVALID_ARGUMENT naming it. */
TK_MUST_USE tk_status tk_cg_amdgpu_resources(const void *elf, size_t size,
                                             tk_cg_kernel_resources **out, int *n);

typedef struct tk_cg_occupancy {
  int waves_per_simd;
  const char *limited_by; /* "waves", "vgpr", "sgpr" or "lds": the first limit reached */
} tk_cg_occupancy;

/* TK_INVALID_ARGUMENT for a gfx outside codegen's list (cg_target_amdgcn.c). */
TK_MUST_USE tk_status tk_cg_amdgpu_occupancy(const char *gfx, const tk_cg_kernel_resources *k,
                                             tk_cg_occupancy *out);

#endif /* TK_CODEGEN_GPU_RESOURCES_H */
