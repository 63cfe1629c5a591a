/* tests/unit/gpu_targets_test.c — the amdgcn and nvptx targets and the offload bundle writer,
 * checked without a GPU and without the code under test's own metadata:
 *
 * - amdgcn, for gfx90a / gfx942 / gfx1100 at O0 and O3 (nano: tanh-GELU and softmax exp; a
 *   Custom arch with erf-GELU): the linked code object is an ELF64 ET_DYN for EM_AMDGPU with
 *   OS ABI AMDGPU_HSA and ABI version 2 (COV4) for gfx90a, 3 (COV5) for gfx942/gfx1100 (and 3
 *   for gfx90a under an explicit COV5); its .dynsym has no undefined symbol and exactly one
 *   `<name>.kd` per gpu-schedule kernel, and each kernel descriptor's kernarg_size (the u32
 *   at byte 8, AMDHSA kernel descriptor layout) is 8 * nargs + 8 — the ABI of docs/abi.md,
 *   at O0 too (no hidden arguments however little the optimiser runs);
 * - nvptx, sm_80 and sm_90: PTX for the right .target, one `.visible .entry NAME(` per kernel
 *   followed by `.maxntid WG, 1, 1`, no `.extern` (no libcalls);
 * - bad gfx / sm names and code-object versions are TK_INVALID_ARGUMENT;
 * - tk_cg_offload_bundle_hip, parsed here from the documented layout: magic, entry count,
 *   host entry first with size 0, ids, 4096-aligned offsets, the bytes; its error cases.
 */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/offload_bundle.h"
#include "model/arch.h"
#include "compiler/tkc.h"
#include "tests/unit/test.h"
#include "tk/launch.h"

#ifndef EM_AMDGPU
#define EM_AMDGPU 224
#endif
enum { OSABI_AMDGPU_HSA = 64, KD_KERNARG_SIZE_OFFSET = 8 };

static const char CUSTOM_ERF[] =
    "{\"size\": \"Custom\", \"input_dim\": 40, \"hidden_dim\": 48, \"output_dim\": 7,"
    " \"n_experts\": 5, \"top_k\": 2, \"expert_depth\": 1, \"seed\": 11,"
    " \"hidden_act\": \"gelu\"}";

/* ---- ELF reading (memcpy into the structs: no misaligned loads) ------------------------- */

static bool elf_header(const tk_cg_blob *b, Elf64_Ehdr *eh) {
  if (b->size < sizeof *eh) return false;
  memcpy(eh, b->data, sizeof *eh);
  return memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
         eh->e_shentsize == sizeof(Elf64_Shdr) &&
         eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) <= b->size;
}

static Elf64_Shdr elf_section(const tk_cg_blob *b, const Elf64_Ehdr *eh, unsigned i) {
  Elf64_Shdr sh;
  memcpy(&sh, b->data + eh->e_shoff + (uint64_t)i * sizeof sh, sizeof sh);
  return sh;
}

/* The kernarg_size of the kernel descriptor `<name>.kd`, or -1 when absent; *kd_count gets
 * the number of `.kd` symbols and *undefined the number of undefined ones in .dynsym. */
static long kd_kernarg_size(const tk_cg_blob *b, const char *name, int *kd_count, int *undefined) {
  Elf64_Ehdr eh;
  *kd_count = *undefined = 0;
  if (!elf_header(b, &eh)) return -1;
  long found = -1;
  for (unsigned s = 0; s < eh.e_shnum; s++) {
    Elf64_Shdr sym = elf_section(b, &eh, s);
    if (sym.sh_type != SHT_DYNSYM || sym.sh_link >= eh.e_shnum) continue;
    Elf64_Shdr str = elf_section(b, &eh, sym.sh_link);
    for (uint64_t k = 1; k < sym.sh_size / sizeof(Elf64_Sym); k++) {
      Elf64_Sym y;
      memcpy(&y, b->data + sym.sh_offset + k * sizeof y, sizeof y);
      const char *nm = (const char *)b->data + str.sh_offset + y.st_name;
      size_t len = strlen(nm);
      if (y.st_shndx == SHN_UNDEF) ++*undefined;
      if (len < 3 || strcmp(nm + len - 3, ".kd") != 0) continue;
      ++*kd_count;
      if (strncmp(nm, name, len - 3) != 0 || strlen(name) != len - 3 || y.st_shndx >= eh.e_shnum)
        continue;
      Elf64_Shdr home = elf_section(b, &eh, y.st_shndx);
      uint32_t v;
      memcpy(&v, b->data + home.sh_offset + (y.st_value - home.sh_addr) + KD_KERNARG_SIZE_OFFSET,
             sizeof v);
      found = (long)v;
    }
  }
  return found;
}

/* ---- amdgcn ------------------------------------------------------------------------------ */

static void check_amdgcn(const char *model, const tk_ir_module *m, const char *gfx, int cov,
                         int opt_level, int want_abi) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  o.target = "amdgcn";
  o.cpu = gfx;
  o.code_object_version = cov;
  o.opt_level = opt_level;
  tk_cg_blob so = {0};
  CHECK_OK(tk_cg_compile_shared(m, &o, &so));
  Elf64_Ehdr eh;
  if (!so.data || !elf_header(&so, &eh)) {
    CHECK_MSG(false, "%s %s O%d: not an ELF64 object", model, gfx, opt_level);
    tk_cg_blob_free(&so);
    return;
  }
  CHECK_MSG(eh.e_type == ET_DYN && eh.e_machine == EM_AMDGPU &&
                eh.e_ident[EI_OSABI] == OSABI_AMDGPU_HSA && eh.e_ident[EI_ABIVERSION] == want_abi,
            "%s %s O%d: type %d machine %d osabi %d abiversion %d, expected ET_DYN EM_AMDGPU "
            "HSA %d",
            model, gfx, opt_level, eh.e_type, eh.e_machine, eh.e_ident[EI_OSABI],
            eh.e_ident[EI_ABIVERSION], want_abi);
  const tk_ir_kernel_list *list = tk_ir_module_kernels(m, TK_TARGET_GPU);
  for (int i = 0; i < list->n; i++) {
    const tk_ir_kernel *k = list->items[i];
    int kd = 0, undef = 0;
    long size = kd_kernarg_size(&so, k->name, &kd, &undef);
    long want = (long)tk_kernarg_size(k->nargs); /* tk/launch.h: 8*nargs + 8 */
    CHECK_MSG(size == want, "%s %s O%d kernel %s: kernarg_size %ld, expected %ld", model, gfx,
              opt_level, k->name, size, want);
    if (i == 0) {
      CHECK_MSG(kd == list->n, "%s %s: %d .kd symbols, expected %d", model, gfx, kd, list->n);
      CHECK_MSG(undef == 0, "%s %s: %d undefined dynamic symbols", model, gfx, undef);
    }
  }
  tk_cg_blob_free(&so);
}

/* ---- nvptx ------------------------------------------------------------------------------- */

static void check_nvptx(const char *model, const tk_ir_module *m, const char *sm) {
  tk_cg_options o;
  tk_cg_options_default(&o);
  o.target = "nvptx";
  o.cpu = sm;
  tk_cg_blob ptx = {0};
  CHECK_OK(tk_cg_compile(m, &o, TK_CG_EMIT_ASM, &ptx));
  if (!ptx.data) return;
  const char *text = (const char *)ptx.data;
  char want[256];
  snprintf(want, sizeof want, "\n.target %s", sm);
  CHECK_MSG(strstr(text, want) != NULL, "%s %s: no '%s'", model, sm, want + 1);
  CHECK_MSG(strstr(text, ".extern") == NULL, "%s %s: the PTX declares an external function", model,
            sm);
  const tk_ir_kernel_list *list = tk_ir_module_kernels(m, TK_TARGET_GPU);
  int entries = 0;
  for (const char *p = text; (p = strstr(p, ".entry ")); p++) entries++;
  CHECK_MSG(entries == list->n, "%s %s: %d .entry, expected %d", model, sm, entries, list->n);
  for (int i = 0; i < list->n; i++) {
    const tk_ir_kernel *k = list->items[i];
    snprintf(want, sizeof want, ".visible .entry %s(", k->name);
    const char *e = strstr(text, want);
    CHECK_MSG(e != NULL, "%s %s: no '%s'", model, sm, want);
    if (!e) continue;
    snprintf(want, sizeof want, ".maxntid %lld, 1, 1", (long long)k->launch.workgroup_size);
    const char *body = strchr(e, '{'), *max = strstr(e, want);
    CHECK_MSG(max && body && max < body, "%s %s kernel %s: no '%s' before its body", model, sm,
              k->name, want);
  }
  tk_cg_blob_free(&ptx);
}

static void check_model(const char *name, const char *path, const char *json) {
  tk_arch arch;
  tk_status s = path ? tk_arch_load(path, &arch) : tk_arch_parse(json, strlen(json), name, &arch);
  CHECK_OK(s);
  if (s) return;
  tkc_ir_options po;
  tkc_ir_options_default(&po);
  po.verify_each = true;
  tk_ir_module *m = NULL;
  CHECK_OK(tkc_build_ir(&arch, &po, &m));
  if (!m) return;
  static const struct {
    const char *gfx;
    int abi;
  } gfx[] = {{"gfx90a", 2}, {"gfx942", 3}, {"gfx1100", 3}};
  for (size_t g = 0; g < sizeof gfx / sizeof gfx[0]; g++) {
    check_amdgcn(name, m, gfx[g].gfx, 0, 3, gfx[g].abi);
    check_amdgcn(name, m, gfx[g].gfx, 0, 0, gfx[g].abi);
  }
  check_amdgcn(name, m, "gfx90a", 5, 3, 3);
  check_amdgcn(name, m, "gfx942", 4, 0, 2);
  check_nvptx(name, m, "sm_80");
  check_nvptx(name, m, "sm_90");
  tk_ir_module_free(m);
}

static void check_bad_options(void) {
  tk_arch arch;
  CHECK_OK(tk_arch_load("models/nano.arch.json", &arch));
  tkc_ir_options po;
  tkc_ir_options_default(&po);
  tk_ir_module *m = NULL;
  CHECK_OK(tkc_build_ir(&arch, &po, &m));
  if (!m) return;
  tk_cg_options o;
  tk_cg_options_default(&o);
  tk_cg_blob out = {0};
  o.target = "amdgcn";
  o.cpu = "gfx9999";
  CHECK_ERR(tk_cg_compile(m, &o, TK_CG_EMIT_ASM, &out), "gfx9999");
  o.cpu = "gfx90a";
  o.code_object_version = 6;
  CHECK_ERR(tk_cg_compile(m, &o, TK_CG_EMIT_ASM, &out), "code_object_version 6");
  o.target = "nvptx";
  o.cpu = "sm_50";
  o.code_object_version = 0;
  CHECK_ERR(tk_cg_compile(m, &o, TK_CG_EMIT_ASM, &out), "sm_50");
  CHECK(out.data == NULL);
  tk_ir_module_free(m);
}

/* ---- the offload bundle ------------------------------------------------------------------ */

static uint64_t u64_at(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void check_offload_bundle(void) {
  unsigned char a[5] = "ELFa", b[4097];
  memset(b, 0xab, sizeof b);
  tk_cg_blob objs[2] = {{a, sizeof a}, {b, sizeof b}};
  const char *gfx[2] = {"gfx90a", "gfx1100"};
  tk_cg_blob out = {0};
  CHECK_OK(tk_cg_offload_bundle_hip(gfx, objs, 2, &out));
  if (!out.data) return;
  const unsigned char *p = out.data;
  CHECK(out.size > 32 && memcmp(p, "__CLANG_OFFLOAD_BUNDLE__", 24) == 0);
  CHECK(u64_at(p + 24) == 3);
  static const char *const ids[3] = {"host-x86_64-unknown-linux-gnu-",
                                     "hipv4-amdgcn-amd-amdhsa--gfx90a",
                                     "hipv4-amdgcn-amd-amdhsa--gfx1100"};
  const tk_cg_blob want[3] = {{NULL, 0}, objs[0], objs[1]};
  size_t at = 32, last_end = 0;
  for (int i = 0; i < 3; i++) {
    uint64_t off = u64_at(p + at), size = u64_at(p + at + 8), len = u64_at(p + at + 16);
    CHECK_MSG(len == strlen(ids[i]) && memcmp(p + at + 24, ids[i], len) == 0,
              "entry %d: id length %llu, expected %s", i, (unsigned long long)len, ids[i]);
    at += 24 + len;
    CHECK_MSG(off % 4096 == 0 && off >= at && off >= last_end && size == want[i].size &&
                  off + size <= out.size,
              "entry %d: offset %llu size %llu", i, (unsigned long long)off,
              (unsigned long long)size);
    if (size == want[i].size && off + size <= out.size && size)
      CHECK_MSG(memcmp(p + off, want[i].data, size) == 0, "entry %d: bytes differ", i);
    last_end = off + size;
  }
  CHECK(last_end == out.size);
  tk_cg_blob again = {0};
  CHECK_OK(tk_cg_offload_bundle_hip(gfx, objs, 2, &again));
  CHECK(again.size == out.size && again.data && memcmp(again.data, out.data, out.size) == 0);
  tk_cg_blob_free(&again);
  tk_cg_blob_free(&out);

  const char *dup[2] = {"gfx90a", "gfx90a"}, *bad[1] = {"GFX 90a"}, *empty[1] = {""};
  CHECK_ERR(tk_cg_offload_bundle_hip(dup, objs, 2, &out), "given twice");
  CHECK_ERR(tk_cg_offload_bundle_hip(bad, objs, 1, &out), "GFX 90a");
  CHECK_ERR(tk_cg_offload_bundle_hip(empty, objs, 1, &out), "gfx[0]");
  CHECK_ERR(tk_cg_offload_bundle_hip(gfx, objs, 0, &out), "0 code objects");
  tk_cg_blob none[1] = {{NULL, 0}};
  CHECK_ERR(tk_cg_offload_bundle_hip(gfx, none, 1, &out), "empty");
  CHECK(out.data == NULL);
}

int main(void) {
  check_offload_bundle();
  check_bad_options();
  check_model("nano", "models/nano.arch.json", NULL);
  check_model("custom-erf", NULL, CUSTOM_ERF);
  TEST_MAIN_END();
}
