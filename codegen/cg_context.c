/* codegen/cg_context.c — one LLVM context per compilation, with a diagnostic handler.
 *
 * LLVM's default handler prints errors and calls exit(1) (docs/toolchain.md §1). Ours records the
 * first error's text in the tk_cg_ctx (no global state: the handler's context pointer is the
 * tk_cg_ctx) and drops remarks, notes and warnings, so callers turn errors into tk_status
 * with tk_cg_ctx_take_error after each LLVM step.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/cg_internal.h"
#include "tk/alloc.h"

static void handle_diagnostic(LLVMDiagnosticInfoRef info, void *user) {
  tk_cg_ctx *c = user;
  if (LLVMGetDiagInfoSeverity(info) != LLVMDSError || c->has_error) return;
  c->has_error = true;
  char *text = LLVMGetDiagInfoDescription(info);
  c->diag_error = tk_strdup(text ? text : "(no description)");
  LLVMDisposeMessage(text);
}

tk_status tk_cg_ctx_create(tk_cg_ctx *c) {
  memset(c, 0, sizeof *c);
  c->ctx = LLVMContextCreate();
  if (!c->ctx)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "codegen: cannot create an LLVM context");
  LLVMContextSetDiagnosticHandler(c->ctx, handle_diagnostic, c);
  return TK_STATUS_OK;
}

void tk_cg_ctx_dispose(tk_cg_ctx *c) {
  if (c->ctx) LLVMContextDispose(c->ctx);
  free(c->diag_error);
  memset(c, 0, sizeof *c);
}

tk_status tk_cg_ctx_take_error(tk_cg_ctx *c, const char *stage) {
  if (!c->has_error) return TK_STATUS_OK;
  tk_status s = tk_status_make(TK_INTERNAL, "codegen: LLVM error during %s: %s", stage,
                               c->diag_error ? c->diag_error : "(out of memory for the text)");
  free(c->diag_error);
  c->diag_error = NULL;
  c->has_error = false;
  return s;
}
