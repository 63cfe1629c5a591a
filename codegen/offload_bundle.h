/* codegen/offload_bundle.h — the clang offload bundle that ships AMDGPU code objects
 * (`model.hsaco`), written directly (no clang-offload-bundler process).
 *
 * Format (clang's ClangOffloadBundler documentation, "Bundled Code Object Layout"), all
 * integers little-endian u64:
 *   "__CLANG_OFFLOAD_BUNDLE__" (24 bytes), number of entries,
 *   per entry: offset of its code object from the start of the file, its size, the length
 *   of its id, the id (no NUL),
 *   then the code objects, each at an offset aligned to 4096 (what the HIP driver passes to
 *   the bundler, -bundle-align=4096), zero padding between them, nothing after the last.
 * Entries: a host entry `host-x86_64-unknown-linux-gnu-` of size 0 first (the id exactly as
 * clang-offload-bundler-19 spells it for the host triple x86_64-unknown-linux-gnu; the
 * bundler's --list/--unbundle want a host entry), then one `hipv4-amdgcn-amd-amdhsa--<gfx>`
 * per code object in the given order. With the same inputs the bytes equal what
 * `clang-offload-bundler-19 --type=o --bundle-align=4096
 *  --targets=host-x86_64-unknown-linux-gnu,hipv4-amdgcn-amd-amdhsa--gfxA,...` writes
 * (tests/cli/gpu_bundle.sh compares them). Deterministic; no global state.
 */
#ifndef TK_CODEGEN_OFFLOAD_BUNDLE_H
#define TK_CODEGEN_OFFLOAD_BUNDLE_H

#include "codegen/codegen.h"

#define TK_OFFLOAD_BUNDLE_MAGIC "__CLANG_OFFLOAD_BUNDLE__"
#define TK_OFFLOAD_HOST_ID "host-x86_64-unknown-linux-gnu-"
#define TK_OFFLOAD_HIP_PREFIX "hipv4-amdgcn-amd-amdhsa--"
enum { TK_OFFLOAD_ALIGN = 4096 };

/* Bundles objects[i] (an ET_DYN AMDGPU code object for processor gfx[i]) into *out (caller
 * frees with tk_cg_blob_free). TK_INVALID_ARGUMENT for n < 1, an empty code object, a gfx
 * name that is empty, too long or not [a-z0-9:+-] (a target id such as gfx90a:xnack- is
 * fine), or the same gfx twice. */
TK_MUST_USE tk_status tk_cg_offload_bundle_hip(const char *const *gfx, const tk_cg_blob *objects,
                                               int n, tk_cg_blob *out);

#endif /* TK_CODEGEN_OFFLOAD_BUNDLE_H */
