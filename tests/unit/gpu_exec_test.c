/* tests/unit/gpu_exec_test.c — the GPU targets' own LLVM IR executed on the CPU (issue #12).
 *
 * For amdgcn (gfx90a; gfx1100 too under the tiled schedule) and nvptx (sm_80), models nano and
 * custom-small (and tests/archs/custom-rows512 tiled, at B 1 and 17), B in {1, 15, 16, 17, 100}, and both
 * forms of the module codegen emits for the target (TK_CG_EMIT_LLVM_UNOPT, as built, and
 * TK_CG_EMIT_LLVM, after the target's `default<O3>`, the form that ships):
 *   1. the LLVM IR text is parsed back (LLVMParseIRInContext);
 *   2. it is retargeted to the host with the smallest change that lets x86-64 run it: the
 *      host triple and data layout; each call of an id intrinsic (amdgcn
 *      llvm.amdgcn.workgroup.id.x / workitem.id.x, nvptx llvm.nvvm.read.ptx.sreg.ctaid.x /
 *      tid.x) and the barrier (llvm.amdgcn.s.barrier, llvm.nvvm.barrier0) replaced by a call
 *      of a host function (thread-local emulated ids; a pthread barrier) and the intrinsic's
 *      declaration deleted; the amdgpu_kernel / ptx_kernel calling convention reset to C.
 *      Any other target intrinsic, any other external function, any global but an internal
 *      addrspace(3) one (a shared local) or any other calling convention fails loudly. Pointers keep
 *      their address spaces: x86-64 lowers loads, stores, GEPs and allocas in addrspace(1)
 *      and addrspace(5) as ordinary 64-bit memory accesses (the host data layout gives
 *      every address space 64-bit pointers), so no parameter or alloca is rewritten. Per
 *      kernel one wrapper, tk_gpuexec.launch.K(ptr args, i32 B, i32 Bp), is added that
 *      loads the buffer pointers from args and calls K: the kernel bodies, and how they
 *      bind the ids, stay exactly codegen's;
 *   3. MCJIT compiles the module for the host, and the `gpu` schedule runs as the launcher
 *      would launch it (m->targets[TK_TARGET_GPU] in order; for each workgroup in
 *      [0, grid(B)) and each thread in [0, workgroup_size): set the emulated ids, call the
 *      kernel with its buffers, B and Bp). A kernel without barriers runs its threads one
 *      after the other, a valid execution; a kernel with barriers (the tiled schedule,
 *      --gpu-schedule tiled: nano-tiled, custom-small-tiled and rows512-tiled below, each
 *      GPU target from the module of its arch's tile set) runs one host thread per
 *      GPU thread, the barrier intrinsic bound to a pthread barrier of the workgroup's
 *      threads and its shared locals (addrspace(3) globals) one host copy per module, which
 *      the workgroups use in turn: every thread runs interval by interval between barriers;
 *   4. logits and router weights are compared with tests/ref under docs/formats.md §3.4
 *      (tk_ref_compare: tolerance and top-K rule).
 * Buffers are exact: each lies at the end of its own read-write pages (64-byte aligned,
 * so at most 60 bytes of slack), between 64 MiB PROT_NONE guard zones; the slack and the
 * rest of its pages hold a canary that is checked after the forward. An out-of-bounds
 * access is therefore a SIGSEGV or a canary mismatch.
 *
 * Can fail: every forward runs in a forked child (a fault is an outcome, not a crash of the
 * test), once with the ids as the GPU gives them, which must match the reference; once with
 * the workgroup and thread ids swapped — what the program does when tk_cg_gpu_bind binds
 * each loop to the other's intrinsic, the defect of issue #12 — which must fault, trip a
 * canary or mismatch; once with input element 0 changed for the kernels only, which
 * must mismatch (the comparison is not vacuous); and, with barriers, once with the threads
 * run one after the other and the barriers ignored, which must mismatch (the threaded run
 * is what makes the staged tiles right). The guards' detection has its own check,
 * and a retargeting of IR with an id intrinsic the emulation does not know must fail with
 * that intrinsic's name.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/ExecutionEngine.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/codegen.h"
#include "compiler/tkc.h"
#include "model/arch.h"
#include "ref/ref.h"
#include "tests/unit/cg_driver.h"
#include "tests/unit/model_weights.h"
#include "tests/unit/test.h"

/* ---- The targets' id intrinsics and the emulated ids ---------------------------------- */

typedef enum emulated_id { EMU_WORKGROUP_X, EMU_THREAD_X, EMU_NIDS } emulated_id;

/* The host functions the id intrinsics and the barrier become (bound to the C functions below
 * with LLVMAddGlobalMapping): each emulated thread is a host thread, its ids thread-local. */
static const char *const EMULATED_ID_FN[EMU_NIDS] = {"tk_gpuexec.workgroup_id_x",
                                                     "tk_gpuexec.thread_id_x"};
static const char EMULATED_BARRIER_FN[] = "tk_gpuexec.barrier";

static _Thread_local int32_t emulated_ids[EMU_NIDS];
static pthread_barrier_t workgroup_barrier; /* the running workgroup's threads */

static int32_t emulated_workgroup_id(void) { return emulated_ids[EMU_WORKGROUP_X]; }
static int32_t emulated_thread_id(void) { return emulated_ids[EMU_THREAD_X]; }
static bool barriers_ignored; /* MODE_NO_BARRIERS: the barrier returns at once */
static void emulated_barrier(void) {
  if (!barriers_ignored) pthread_barrier_wait(&workgroup_barrier);
}

/* Which intrinsic gives which id, written out here from docs/abi.md and not taken from
 * codegen: the test checks codegen's binding against this independent statement. */
typedef struct gpu_target {
  const char *name;   /* codegen's target name */
  const char *arch;   /* the arch codegen compiles for; its tile set is the tiled module's */
  bool tiled_only;    /* a further arch for the tiled schedule's own tile set only */
  unsigned kernel_cc; /* the kernels' calling convention */
  const char *id_intrinsic[EMU_NIDS];
  const char *barrier_intrinsic; /* the workgroup barrier (docs/abi.md) */
} gpu_target;

static const gpu_target GPU_TARGETS[] = {
    {"amdgcn",
     "gfx90a",
     false,
     LLVMAMDGPUKERNELCallConv,
     {"llvm.amdgcn.workgroup.id.x", "llvm.amdgcn.workitem.id.x"},
     "llvm.amdgcn.s.barrier"},
    {"amdgcn",
     "gfx1100",
     true,
     LLVMAMDGPUKERNELCallConv,
     {"llvm.amdgcn.workgroup.id.x", "llvm.amdgcn.workitem.id.x"},
     "llvm.amdgcn.s.barrier"},
    {"nvptx",
     "sm_80",
     false,
     LLVMPTXKernelCallConv,
     {"llvm.nvvm.read.ptx.sreg.ctaid.x", "llvm.nvvm.read.ptx.sreg.tid.x"},
     "llvm.nvvm.barrier0"},
};

/* Intrinsic families that only a GPU backend lowers. */
static const char *const GPU_INTRINSIC_PREFIXES[] = {"llvm.amdgcn.", "llvm.r600.", "llvm.nvvm.",
                                                     "llvm.nvptx."};

#define LAUNCH_PREFIX "tk_gpuexec.launch."

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- Retargeting ----------------------------------------------------------------------- */

typedef struct host_target {
  char *triple;
  char *layout;
} host_target;

static tk_status host_target_make(host_target *h) {
  h->triple = LLVMGetDefaultTargetTriple();
  h->layout = NULL;
  LLVMTargetRef target;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(h->triple, &target, &msg)) {
    tk_status s = tk_status_make(TK_INTERNAL, "gpuexec: host target %s: %s", h->triple, msg);
    LLVMDisposeMessage(msg);
    return s;
  }
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, h->triple, "", "", LLVMCodeGenLevelDefault, LLVMRelocDefault,
                              LLVMCodeModelJITDefault);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  h->layout = LLVMCopyStringRepOfTargetData(td);
  LLVMDisposeTargetData(td);
  LLVMDisposeTargetMachine(tm);
  return TK_STATUS_OK;
}

static void host_target_free(host_target *h) {
  LLVMDisposeMessage(h->triple);
  LLVMDisposeMessage(h->layout);
}

static const char *value_name(LLVMValueRef v) {
  size_t len;
  return LLVMGetValueName2(v, &len);
}

/* Replaces every call of the intrinsic `fn` by a call of `host` (the same type: no arguments,
 * i32 or void); *replaced counts them. */
static tk_status replace_calls(LLVMBuilderRef b, LLVMValueRef fn, LLVMValueRef host,
                               int *replaced) {
  if (LLVMGlobalGetValueType(fn) != LLVMGlobalGetValueType(host))
    return tk_status_make(TK_INTERNAL, "gpuexec: %s is not of type %s", value_name(fn),
                          value_name(host));
  for (LLVMUseRef use; (use = LLVMGetFirstUse(fn));) {
    LLVMValueRef call = LLVMGetUser(use);
    if (!LLVMIsACallInst(call) || LLVMGetCalledValue(call) != fn)
      return tk_status_make(TK_INTERNAL, "gpuexec: %s is used other than by a call",
                            value_name(fn));
    LLVMPositionBuilderBefore(b, call);
    LLVMValueRef repl = LLVMBuildCall2(b, LLVMGlobalGetValueType(host), host, NULL, 0, "");
    LLVMReplaceAllUsesWith(call, repl);
    LLVMInstructionEraseFromParent(call);
    (*replaced)++;
  }
  return TK_STATUS_OK;
}

/* A declaration: an emulated id intrinsic or the barrier (calls replaced by the host
 * functions', declaration deleted), a target-independent intrinsic or a host function
 * (kept), or an error. */
static tk_status retarget_declaration(const gpu_target *t, LLVMBuilderRef b, LLVMValueRef fn,
                                      LLVMValueRef const *host, int *replaced) {
  const char *name = value_name(fn);
  for (int i = 0; i <= EMU_NIDS; i++)
    if (strcmp(name, i < EMU_NIDS ? t->id_intrinsic[i] : t->barrier_intrinsic) == 0) {
      int n = 0;
      TK_RETURN_IF_ERROR(replace_calls(b, fn, host[i], &n));
      if (i < EMU_NIDS) *replaced += n;
      LLVMDeleteFunction(fn);
      return TK_STATUS_OK;
    }
  if (starts_with(name, "tk_gpuexec.")) return TK_STATUS_OK;
  for (size_t i = 0; i < sizeof GPU_INTRINSIC_PREFIXES / sizeof GPU_INTRINSIC_PREFIXES[0]; i++)
    if (starts_with(name, GPU_INTRINSIC_PREFIXES[i]))
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "gpuexec: %s kernels call %s, which the CPU emulation does not "
                            "know",
                            t->name, name);
  if (!starts_with(name, "llvm."))
    return tk_status_make(TK_INVALID_ARGUMENT, "gpuexec: %s kernels call the external function %s",
                          t->name, name);
  return TK_STATUS_OK;
}

static tk_status retarget_functions(const gpu_target *t, LLVMModuleRef mod,
                                    LLVMValueRef const *host, int *replaced) {
  LLVMBuilderRef b = LLVMCreateBuilderInContext(LLVMGetModuleContext(mod));
  tk_status s = TK_STATUS_OK;
  for (LLVMValueRef fn = LLVMGetFirstFunction(mod), next; fn && !s; fn = next) {
    next = LLVMGetNextFunction(fn);
    if (LLVMIsDeclaration(fn)) {
      s = retarget_declaration(t, b, fn, host, replaced);
    } else if (LLVMGetFunctionCallConv(fn) == t->kernel_cc) {
      LLVMSetFunctionCallConv(fn, LLVMCCallConv);
    } else if (LLVMGetFunctionCallConv(fn) != LLVMCCallConv) {
      s = tk_status_make(TK_INVALID_ARGUMENT, "gpuexec: %s function %s has calling convention %u",
                         t->name, value_name(fn), LLVMGetFunctionCallConv(fn));
    }
  }
  LLVMDisposeBuilder(b);
  return s;
}

/* void tk_gpuexec.launch.K(ptr args, i32 B, i32 Bp): K(args[0], ..., args[n-1], B, Bp). */
static tk_status add_launch_wrapper(LLVMModuleRef mod, const tk_ir_kernel *k) {
  LLVMValueRef kernel = LLVMGetNamedFunction(mod, k->name);
  if (!kernel || LLVMIsDeclaration(kernel))
    return tk_status_make(TK_NOT_FOUND, "gpuexec: the module defines no kernel %s", k->name);
  LLVMContextRef ctx = LLVMGetModuleContext(mod);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0), i32 = LLVMInt32TypeInContext(ctx);
  LLVMTypeRef i64 = LLVMInt64TypeInContext(ctx);
  LLVMTypeRef params[] = {ptr, i32, i32};
  char name[256];
  snprintf(name, sizeof name, LAUNCH_PREFIX "%s", k->name);
  LLVMValueRef w =
      LLVMAddFunction(mod, name, LLVMFunctionType(LLVMVoidTypeInContext(ctx), params, 3, 0));
  unsigned n = LLVMCountParams(kernel);
  if (n != (unsigned)k->nargs + 2)
    return tk_status_make(TK_INTERNAL, "gpuexec: kernel %s has %u parameters, expected %d", k->name,
                          n, k->nargs + 2);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, w, "entry"));
  LLVMValueRef args[n];
  for (unsigned i = 0; i < n - 2; i++) {
    LLVMValueRef index = LLVMConstInt(i64, i, 0);
    LLVMValueRef slot = LLVMBuildGEP2(b, ptr, LLVMGetParam(w, 0), &index, 1, "");
    args[i] = LLVMBuildLoad2(b, LLVMTypeOf(LLVMGetParam(kernel, i)), slot, "");
  }
  args[n - 2] = LLVMGetParam(w, 1);
  args[n - 1] = LLVMGetParam(w, 2);
  LLVMBuildCall2(b, LLVMGlobalGetValueType(kernel), kernel, args, n, "");
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  return TK_STATUS_OK;
}

/* The module's globals must be the shared locals (internal, addrspace(3)): they become
 * ordinary host memory, zero-filled, one copy the threads of the running workgroup share. */
static tk_status retarget_globals(const gpu_target *t, LLVMModuleRef mod) {
  for (LLVMValueRef g = LLVMGetFirstGlobal(mod); g; g = LLVMGetNextGlobal(g)) {
    if (LLVMGetLinkage(g) != LLVMInternalLinkage || LLVMGetPointerAddressSpace(LLVMTypeOf(g)) != 3)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "gpuexec: the %s module has the global %s, which is no shared local",
                            t->name, value_name(g));
    LLVMSetInitializer(g, LLVMConstNull(LLVMGlobalGetValueType(g)));
  }
  return TK_STATUS_OK;
}

static tk_status retarget_module(const gpu_target *t, const host_target *h,
                                 const tk_ir_kernel_list *kernels, LLVMModuleRef mod,
                                 int *replaced) {
  LLVMSetTarget(mod, h->triple);
  LLVMSetDataLayout(mod, h->layout);
  TK_RETURN_IF_ERROR(retarget_globals(t, mod));
  LLVMContextRef ctx = LLVMGetModuleContext(mod);
  LLVMTypeRef id_type = LLVMFunctionType(LLVMInt32TypeInContext(ctx), NULL, 0, 0);
  LLVMValueRef host[EMU_NIDS + 1];
  for (int i = 0; i < EMU_NIDS; i++) host[i] = LLVMAddFunction(mod, EMULATED_ID_FN[i], id_type);
  host[EMU_NIDS] = LLVMAddFunction(mod, EMULATED_BARRIER_FN,
                                   LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0));
  TK_RETURN_IF_ERROR(retarget_functions(t, mod, host, replaced));
  for (int i = 0; i < kernels->n; i++)
    TK_RETURN_IF_ERROR(add_launch_wrapper(mod, kernels->items[i]));
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    tk_status s = tk_status_make(TK_INTERNAL, "gpuexec: retargeted %s module: %s", t->name, msg);
    LLVMDisposeMessage(msg);
    return s;
  }
  LLVMDisposeMessage(msg);
  return TK_STATUS_OK;
}

/* Parses IR text into a new module of ctx and retargets it (*out: NULL on error). */
static tk_status parse_and_retarget(LLVMContextRef ctx, const gpu_target *t, const host_target *h,
                                    const tk_ir_kernel_list *kernels, const char *text, size_t size,
                                    LLVMModuleRef *out, int *replaced) {
  *out = NULL;
  *replaced = 0;
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(text, size, t->name);
  char *msg = NULL;
  LLVMModuleRef mod = NULL;
  if (LLVMParseIRInContext(ctx, buf, &mod, &msg)) { /* takes the buffer */
    tk_status s = tk_status_make(TK_INTERNAL, "gpuexec: parsing the %s IR: %s", t->name, msg);
    LLVMDisposeMessage(msg);
    return s;
  }
  tk_status s = retarget_module(t, h, kernels, mod, replaced);
  if (s) {
    LLVMDisposeModule(mod);
    return s;
  }
  *out = mod;
  return TK_STATUS_OK;
}

/* ---- JIT --------------------------------------------------------------------------------- */

typedef void (*launch_fn)(void *const *args, int32_t B, int32_t Bp);

typedef struct jit {
  LLVMContextRef ctx;
  LLVMExecutionEngineRef ee; /* owns the module */
  int n;
  launch_fn *launch; /* per scheduled kernel */
} jit;

static void jit_close(jit *j) {
  if (j->ee) LLVMDisposeExecutionEngine(j->ee);
  if (j->ctx) LLVMContextDispose(j->ctx);
  free(j->launch);
  memset(j, 0, sizeof *j);
}

static tk_status jit_resolve(jit *j, const tk_ir_kernel_list *kernels) {
  j->n = kernels->n;
  j->launch = calloc((size_t)kernels->n + 1, sizeof *j->launch);
  if (!j->launch) return tk_status_make(TK_RESOURCE_EXHAUSTED, "gpuexec: out of memory");
  for (int i = 0; i < kernels->n; i++) {
    char name[256];
    snprintf(name, sizeof name, LAUNCH_PREFIX "%s", kernels->items[i]->name);
    uint64_t addr = LLVMGetFunctionAddress(j->ee, name);
    if (!addr) return tk_status_make(TK_INTERNAL, "gpuexec: the JIT has no %s", name);
    j->launch[i] = (launch_fn)(uintptr_t)addr;
  }
  return TK_STATUS_OK;
}

/* The module's host functions bound to this file's C functions (before anything is
 * compiled). */
static void jit_map_host(jit *j, LLVMModuleRef mod) {
  static int32_t (*const ids[EMU_NIDS])(void) = {emulated_workgroup_id, emulated_thread_id};
  for (int i = 0; i < EMU_NIDS; i++)
    LLVMAddGlobalMapping(j->ee, LLVMGetNamedFunction(mod, EMULATED_ID_FN[i]),
                         (void *)(uintptr_t)ids[i]);
  LLVMAddGlobalMapping(j->ee, LLVMGetNamedFunction(mod, EMULATED_BARRIER_FN),
                       (void *)(uintptr_t)emulated_barrier);
}

/* Emits t's kernels of m in form `what`, retargets them and JIT-compiles them into *j. */
static tk_status jit_open(const tk_ir_module *m, const gpu_target *t, tk_cg_emit what,
                          const host_target *h, jit *j, int *replaced) {
  memset(j, 0, sizeof *j);
  tk_cg_options o;
  tk_cg_options_default(&o);
  o.target = t->name;
  o.cpu = t->arch;
  tk_cg_blob text = {0};
  TK_RETURN_IF_ERROR(tk_cg_compile(m, &o, what, &text));
  const tk_ir_kernel_list *kernels = &m->targets[TK_TARGET_GPU];
  j->ctx = LLVMContextCreate();
  LLVMModuleRef mod = NULL;
  tk_status s =
      parse_and_retarget(j->ctx, t, h, kernels, (const char *)text.data, text.size, &mod, replaced);
  tk_cg_blob_free(&text);
  if (s) return s;
  struct LLVMMCJITCompilerOptions opts;
  LLVMInitializeMCJITCompilerOptions(&opts, sizeof opts);
  opts.OptLevel = 2;
  char *msg = NULL;
  if (LLVMCreateMCJITCompilerForModule(&j->ee, mod, &opts, sizeof opts, &msg)) {
    s = tk_status_make(TK_INTERNAL, "gpuexec: MCJIT: %s", msg);
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(mod);
    j->ee = NULL;
    return s;
  }
  jit_map_host(j, mod);
  return jit_resolve(j, kernels);
}

/* ---- Guarded buffers --------------------------------------------------------------------- */

enum { GUARD_BYTES = 64 << 20 };
static const uint32_t CANARY = 0x7fa5a5a5u; /* a NaN, should a kernel ever read it */

typedef struct guarded_buffer {
  unsigned char *map; /* guard, read-write pages, guard */
  size_t rw_bytes;
  float *data; /* at the end of the read-write pages */
  int64_t count;
} guarded_buffer;

static size_t round_up(size_t n, size_t q) { return (n + q - 1) / q * q; }

static bool guarded_alloc(guarded_buffer *g, int64_t count) {
  size_t data_bytes = round_up((size_t)(count > 0 ? count : 1) * 4, 64);
  g->rw_bytes = round_up(data_bytes, (size_t)sysconf(_SC_PAGESIZE));
  g->count = count;
  g->map = mmap(NULL, 2 * (size_t)GUARD_BYTES + g->rw_bytes, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (g->map == MAP_FAILED) {
    g->map = NULL;
    return false;
  }
  unsigned char *rw = g->map + GUARD_BYTES;
  if (mprotect(rw, g->rw_bytes, PROT_READ | PROT_WRITE) != 0) {
    munmap(g->map, 2 * (size_t)GUARD_BYTES + g->rw_bytes);
    g->map = NULL;
    return false;
  }
  for (size_t i = 0; i < g->rw_bytes / 4; i++) memcpy(rw + 4 * i, &CANARY, 4);
  g->data = (float *)(rw + g->rw_bytes - data_bytes);
  return true;
}

static void guarded_free(guarded_buffer *g) {
  if (g->map) munmap(g->map, 2 * (size_t)GUARD_BYTES + g->rw_bytes);
}

/* The canary words around the data that a kernel overwrote. */
static size_t guarded_damage(const guarded_buffer *g) {
  const unsigned char *rw = g->map + GUARD_BYTES, *data = (const unsigned char *)g->data;
  const unsigned char *data_end = data + (size_t)g->count * 4, *rw_end = rw + g->rw_bytes;
  size_t damaged = 0;
  for (const unsigned char *p = rw; p < rw_end; p += 4)
    if ((p < data || p >= data_end) && memcmp(p, &CANARY, 4) != 0) damaged++;
  return damaged;
}

/* ---- One forward, in a child process ------------------------------------------------------ */

typedef enum outcome {
  OUT_MATCH = 0, /* agrees with the reference, canaries intact */
  OUT_MISMATCH,  /* the reference comparison failed */
  OUT_CANARY,    /* a canary beside a buffer was overwritten */
  OUT_SETUP,     /* the harness failed (allocation, an unknown buffer) */
  OUT_FAULT,     /* the child died of a signal (a guard zone was touched) */
} outcome;

static const char *const OUTCOME_NAMES[] = {"match", "reference mismatch", "canary overwritten",
                                            "harness error", "fault"};

typedef enum run_mode {
  MODE_AS_LAUNCHED,     /* the ids a GPU gives: must match the reference */
  MODE_SWAPPED_IDS,     /* workgroup id = thread index and thread id = workgroup index */
  MODE_PERTURBED_INPUT, /* the kernels see input element 0 + 1, the reference does not */
  MODE_NO_BARRIERS,     /* kernels with barriers run thread after thread, barriers ignored */
} run_mode;

static const char *const MODE_NAMES[] = {"ids as launched", "ids swapped", "input perturbed",
                                         "barriers ignored"};

typedef struct exec_case {
  const tk_ir_module *m;
  const jit *j;
  const tk_test_weights *w;
  const tk_ref_model *ref;
  const char *label;
  run_mode mode;
  bool few_batches; /* B = 1 and 17 only: a model whose emulation is slow */
} exec_case;

/* One launch of kernel `kernel` as a GPU runs it. */
typedef struct launch {
  launch_fn fn;
  void *const *args;
  int32_t B, Bp;
  int64_t grid, wg;
  bool swap; /* MODE_SWAPPED_IDS */
} launch;

static void set_ids(const launch *l, int64_t g, int64_t t) {
  emulated_ids[l->swap ? EMU_THREAD_X : EMU_WORKGROUP_X] = (int32_t)g;
  emulated_ids[l->swap ? EMU_WORKGROUP_X : EMU_THREAD_X] = (int32_t)t;
}

typedef struct worker {
  const launch *l;
  int64_t t;
} worker;

/* Thread t of every workgroup in turn; the workgroup barrier at the end of each keeps the
 * next workgroup from overwriting shared memory that another thread still reads. */
static void *worker_main(void *arg) {
  const worker *w = arg;
  for (int64_t g = 0; g < w->l->grid; g++) {
    set_ids(w->l, g, w->t);
    w->l->fn(w->l->args, w->l->B, w->l->Bp);
    pthread_barrier_wait(&workgroup_barrier);
  }
  return NULL;
}

/* A kernel with barriers: one host thread per GPU thread of the workgroup, all running the
 * kernel to each barrier before any goes on (emulated_barrier); false if threads could not
 * be had. */
static bool launch_threads(const launch *l) {
  pthread_t threads[l->wg];
  worker workers[l->wg];
  int64_t started = 0;
  if (pthread_barrier_init(&workgroup_barrier, NULL, (unsigned)l->wg)) return false;
  for (; started < l->wg; started++) {
    workers[started] = (worker){l, started};
    if (pthread_create(&threads[started], NULL, worker_main, &workers[started])) break;
  }
  for (int64_t t = 0; t < started; t++) pthread_join(threads[t], NULL);
  pthread_barrier_destroy(&workgroup_barrier);
  return started == l->wg;
}

/* Runs every launch of the gpu schedule; false when the harness failed. */
static bool launch_all(const exec_case *c, const guarded_buffer *bufs, int32_t B, int32_t Bp) {
  const tk_ir_kernel_list *kernels = &c->m->targets[TK_TARGET_GPU];
  tk_ix_env env = {.B = B, .Bp = Bp, .vals = NULL};
  barriers_ignored = c->mode == MODE_NO_BARRIERS;
  for (int i = 0; i < kernels->n; i++) {
    const tk_ir_kernel *k = kernels->items[i];
    void *args[k->nargs + 1];
    for (int a = 0; a < k->nargs; a++) args[a] = bufs[k->args[a].buffer].data;
    launch l = {c->j->launch[i],
                args,
                B,
                Bp,
                tk_ir_ix_eval(k->launch.grid, &env),
                k->launch.workgroup_size,
                c->mode == MODE_SWAPPED_IDS};
    if (tk_ir_stmt_barriers(k->body) > 0 && c->mode != MODE_NO_BARRIERS) {
      if (!launch_threads(&l)) return false;
      continue;
    }
    for (int64_t g = 0; g < l.grid; g++) /* no barrier: the threads one after the other */
      for (int64_t t = 0; t < l.wg; t++) {
        set_ids(&l, g, t);
        l.fn(args, B, Bp);
      }
  }
  return true;
}

static outcome compare_outputs(const exec_case *c, const guarded_buffer *bufs, const float *x,
                               int32_t B) {
  bool moe = c->m->arch.model_kind == TK_MODEL_MOE;
  int logits = tk_cgd_buffer_of(c->m, "logits");
  int router = moe ? tk_cgd_buffer_of(c->m, "router_weights") : -1;
  if (logits < 0 || (moe && router < 0)) return OUT_SETUP;
  tk_ref_report rep;
  tk_status s =
      tk_ref_compare(c->ref, x, (size_t)B, bufs[logits].data, moe ? bufs[router].data : NULL, &rep);
  if (s) {
    fprintf(stderr, "%s B=%d: %s\n", c->label, B, tk_status_message(s));
    tk_status_free(s);
    return OUT_SETUP;
  }
  if (tk_ref_report_passed(&rep)) return OUT_MATCH;
  if (c->mode == MODE_AS_LAUNCHED) {
    fprintf(stderr, "%s B=%d: %zu mismatches, max diff %g\n", c->label, B, rep.mismatches,
            rep.max_diff);
    tk_ref_report_print(&rep, stderr);
  }
  return OUT_MISMATCH;
}

static outcome forward(const exec_case *c, guarded_buffer *bufs, float *x, int32_t B) {
  const tk_ir_module *m = c->m;
  int32_t Bp = (int32_t)tk_ir_ix_bp_of(B);
  tk_ix_env env = {.B = B, .Bp = Bp, .vals = NULL};
  tk_test_fill_input(x, (size_t)B * (size_t)m->arch.input_dim, (uint32_t)B);
  for (int i = 0; i < m->nbuffers; i++) {
    if (!guarded_alloc(&bufs[i], tk_ir_ix_eval(m->buffers[i].count, &env))) return OUT_SETUP;
    tk_status s =
        tk_cgd_fill_buffer(m, i, bufs[i].count, (const float *const *)c->w->f, x, B, bufs[i].data);
    if (s) {
      fprintf(stderr, "%s: %s\n", c->label, tk_status_message(s));
      tk_status_free(s);
      return OUT_SETUP;
    }
    if (c->mode == MODE_PERTURBED_INPUT && m->buffers[i].role == TK_ROLE_IN) bufs[i].data[0] += 1;
  }
  if (!launch_all(c, bufs, B, Bp)) return OUT_SETUP;
  for (int i = 0; i < m->nbuffers; i++)
    if (guarded_damage(&bufs[i])) {
      if (c->mode == MODE_AS_LAUNCHED)
        fprintf(stderr, "%s B=%d: %zu canary words beside buffer %s overwritten\n", c->label, B,
                guarded_damage(&bufs[i]), m->buffers[i].name);
      return OUT_CANARY;
    }
  return compare_outputs(c, bufs, x, B);
}

typedef struct forward_job {
  const exec_case *c;
  int32_t B;
} forward_job;

/* The child's side: one forward. */
static outcome forward_child(const void *arg) {
  const forward_job *job = arg;
  const tk_ir_module *m = job->c->m;
  guarded_buffer *bufs = calloc((size_t)m->nbuffers + 1, sizeof *bufs);
  float *x = malloc((size_t)job->B * (size_t)m->arch.input_dim * 4);
  outcome o = bufs && x ? forward(job->c, bufs, x, job->B) : OUT_SETUP;
  for (int i = 0; bufs && i < m->nbuffers; i++) guarded_free(&bufs[i]);
  free(bufs);
  free(x);
  return o;
}

/* Runs body(arg) in a forked child whose exit status is its outcome; a child killed by a
 * signal (SIGSEGV, SIGBUS, SIGALRM after 60 s) is OUT_FAULT with the signal in *signal_out.
 * The child's SIGSEGV and SIGBUS go back to the default action, so a sanitizer's handler
 * does not turn a guard-zone fault into an exit status. */
static outcome forked(outcome (*body)(const void *), const void *arg, int *signal_out) {
  enum { CHILD_SECONDS = 60 };
  *signal_out = 0;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return OUT_SETUP;
  if (pid == 0) {
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGSEGV, &dfl, NULL);
    sigaction(SIGBUS, &dfl, NULL);
    alarm(CHILD_SECONDS);
    _exit((int)body(arg));
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return OUT_SETUP;
  if (WIFSIGNALED(status)) {
    *signal_out = WTERMSIG(status);
    return OUT_FAULT;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : (int)OUT_SETUP;
  return code <= (int)OUT_FAULT ? (outcome)code : OUT_SETUP;
}

static outcome forward_forked(const exec_case *c, int32_t B, int *signal_out) {
  forward_job job = {c, B};
  return forked(forward_child, &job, signal_out);
}

/* A write into the first guard page after a buffer's data. */
static outcome write_past_guarded(const void *arg) {
  const guarded_buffer *g = arg;
  size_t past = (size_t)(g->map + GUARD_BYTES + g->rw_bytes - (unsigned char *)g->data) / 4;
  ((volatile float *)g->data)[past] = 1.0f;
  return OUT_MATCH;
}

/* The guards catch what they must: a write into the slack after the last element or before
 * the first (canaries), and a write just past the read-write pages (SIGSEGV). */
static void check_guards_detect(void) {
  guarded_buffer g = {0};
  CHECK(guarded_alloc(&g, 5));
  if (!g.data) return;
  CHECK(((uintptr_t)g.data & 63) == 0);
  CHECK(guarded_damage(&g) == 0);
  volatile float *data = g.data;
  data[5] = 1.0f; /* 5 elements fill 20 of the 64 bytes at the end of the pages */
  CHECK(guarded_damage(&g) == 1);
  data[-1] = 1.0f;
  CHECK(guarded_damage(&g) == 2);
  int sig = 0;
  CHECK(forked(write_past_guarded, &g, &sig) == OUT_FAULT && sig == SIGSEGV);
  guarded_free(&g);
}

/* ---- The cases ----------------------------------------------------------------------------- */

static const int32_t BATCHES[] = {1, 15, 16, 17, 100};

typedef struct form {
  tk_cg_emit what;
  const char *name;
} form;

static const form FORMS[] = {{TK_CG_EMIT_LLVM_UNOPT, "llvm-unopt"}, {TK_CG_EMIT_LLVM, "llvm"}};

/* Each batch in each mode: as launched it must match; swapped ids, a perturbed input or (in a
 * schedule with barriers) barriers ignored must fault, trip a canary or mismatch. */
static void check_batches(exec_case *c) {
  bool barriers = false;
  for (int k = 0; k < c->m->targets[TK_TARGET_GPU].n; k++)
    barriers |= tk_ir_stmt_barriers(c->m->targets[TK_TARGET_GPU].items[k]->body) > 0;
  run_mode last = barriers ? MODE_NO_BARRIERS : MODE_PERTURBED_INPUT;
  for (size_t b = 0; b < sizeof BATCHES / sizeof BATCHES[0]; b++) {
    int32_t B = BATCHES[b];
    if (c->few_batches && B != 1 && B != 17) continue;
    printf("%s B=%d:", c->label, B);
    for (run_mode mode = MODE_AS_LAUNCHED; mode <= last; mode++) {
      c->mode = mode;
      int sig;
      outcome o = forward_forked(c, B, &sig);
      if (mode == MODE_AS_LAUNCHED)
        CHECK_MSG(o == OUT_MATCH, "%s B=%d: %s (signal %d)", c->label, B, OUTCOME_NAMES[o], sig);
      else
        CHECK_MSG(o == OUT_MISMATCH || o == OUT_CANARY || o == OUT_FAULT,
                  "%s B=%d, %s: %s, expected a failure", c->label, B, MODE_NAMES[mode],
                  OUTCOME_NAMES[o]);
      printf(" %s: %s", MODE_NAMES[mode], OUTCOME_NAMES[o]);
      if (sig) printf(" (%s)", strsignal(sig));
      printf(";");
    }
    printf("\n");
  }
}

static void check_target(const tk_ir_module *m, const char *model, bool few_batches,
                         const gpu_target *t, const host_target *h, const tk_test_weights *w,
                         const tk_ref_model *ref) {
  for (size_t f = 0; f < sizeof FORMS / sizeof FORMS[0]; f++) {
    jit j;
    int replaced = 0;
    tk_status s = jit_open(m, t, FORMS[f].what, h, &j, &replaced);
    CHECK_OK(s);
    if (!s) {
      CHECK_MSG(replaced >= m->targets[TK_TARGET_GPU].n,
                "%s %s: %d id intrinsic calls replaced, expected at least one per kernel", t->name,
                FORMS[f].name, replaced);
      char label[128];
      snprintf(label, sizeof label, "%s/%s %s/%s", model, t->name, t->arch, FORMS[f].name);
      exec_case c = {m, &j, w, ref, label, MODE_AS_LAUNCHED, few_batches};
      check_batches(&c);
    }
    jit_close(&j);
  }
}

/* The module of `schedule` for GPU target t: under the tiled schedule that of t's arch's tile
 * set (tk_ir_gpu_tile_set_of_arch, as tkc compiles each arch), with at least one tiled launch. */
static tk_ir_module *module_for(const tk_arch *arch, const char *name, tk_ir_gpu_schedule schedule,
                                const gpu_target *t) {
  tkc_ir_options po;
  tkc_ir_options_default(&po);
  po.verify_each = true;
  po.ir.gpu_schedule = schedule;
  po.ir.gpu_tiles = tk_ir_gpu_tile_set_of_arch(t->arch);
  tk_ir_module *m = NULL;
  CHECK_OK(tkc_build_ir(arch, &po, &m));
  int tiled = 0;
  for (int k = 0; m && k < m->targets[TK_TARGET_GPU].n; k++)
    tiled += m->targets[TK_TARGET_GPU].items[k]->launch.tile.rows > 0;
  CHECK_MSG((schedule == TK_GPU_SCHEDULE_TILED) == (tiled > 0), "%s %s: %d tiled launches", name,
            t->arch, tiled);
  return m;
}

static void check_model(const char *name, const char *path, tk_ir_gpu_schedule schedule,
                        bool few_batches, const host_target *h) {
  tk_arch arch;
  tk_status s = tk_arch_load(path, &arch);
  CHECK_OK(s);
  if (s) return;
  tk_test_weights w = {0};
  tk_ref_model *ref = NULL;
  CHECK(tk_test_weights_make(&arch, &w));
  CHECK_OK(tk_ref_model_from_arrays(&arch, w.arrays, w.n, &ref));
  for (size_t t = 0; ref && t < sizeof GPU_TARGETS / sizeof GPU_TARGETS[0]; t++) {
    const gpu_target *target = &GPU_TARGETS[t];
    if (target->tiled_only && schedule != TK_GPU_SCHEDULE_TILED) continue;
    tk_ir_module *m = module_for(&arch, name, schedule, target);
    if (m) check_target(m, name, few_batches, target, h, &w, ref);
    tk_ir_module_free(m);
  }
  tk_ref_model_free(ref);
  tk_test_weights_free(&w);
}

/* An id intrinsic the emulation does not know fails the retargeting, naming it. */
static void check_unknown_intrinsic_fails(const host_target *h) {
  static const char IR[] =
      "target triple = \"amdgcn-amd-amdhsa\"\n"
      "define amdgpu_kernel void @k(ptr addrspace(1) %out, i32 %B, i32 %Bp) {\n"
      "  %y = call i32 @llvm.amdgcn.workitem.id.y()\n"
      "  store i32 %y, ptr addrspace(1) %out\n"
      "  ret void\n"
      "}\n"
      "declare i32 @llvm.amdgcn.workitem.id.y()\n";
  tk_ir_kernel k = {.name = "k", .nargs = 1};
  tk_ir_kernel *items[] = {&k};
  tk_ir_kernel_list kernels = {.n = 1, .items = items};
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = NULL;
  int replaced = 0;
  CHECK_ERR(
      parse_and_retarget(ctx, &GPU_TARGETS[0], h, &kernels, IR, sizeof IR - 1, &mod, &replaced),
      "llvm.amdgcn.workitem.id.y");
  CHECK(mod == NULL);
  LLVMContextDispose(ctx);
}

int main(int argc, char **argv) {
  static const struct {
    const char *name, *path;
    tk_ir_gpu_schedule schedule;
    bool few_batches;
  } models[] = {
      {"nano", "models/nano.arch.json", TK_GPU_SCHEDULE_SIMPLE, false},
      {"custom-small", "models/custom-small.arch.json", TK_GPU_SCHEDULE_SIMPLE, false},
      {"nano-tiled", "models/nano.arch.json", TK_GPU_SCHEDULE_TILED, false},
      {"custom-small-tiled", "models/custom-small.arch.json", TK_GPU_SCHEDULE_TILED, false},
      /* rows of 512: GEMM tiles of each set's own width (no epilogue), row launches */
      {"rows512-tiled", "tests/archs/custom-rows512.arch.json", TK_GPU_SCHEDULE_TILED, true}};
  LLVMLinkInMCJIT();
  if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter()) {
    fprintf(stderr, "gpu_exec_test: no native LLVM target\n");
    return 1;
  }
  host_target h;
  CHECK_OK(host_target_make(&h));
  if (h.layout) {
    check_guards_detect();
    check_unknown_intrinsic_fails(&h);
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
      if (argc < 2 || strcmp(argv[1], models[i].name) == 0)
        check_model(models[i].name, models[i].path, models[i].schedule, models[i].few_batches, &h);
  }
  host_target_free(&h);
  TEST_MAIN_END();
}
