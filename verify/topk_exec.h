/* verify/topk_exec.h — private to verify/: symbolic execution of straight-line IR statements
 * over SMT arrays (verify/topk_exec.c), used by the topk class (verify/obl_topk.c). */
#ifndef TK_VERIFY_TOPK_EXEC_H
#define TK_VERIFY_TOPK_EXEC_H

#include "verify/verify_internal.h"

#define TK_SYM_MAX_UF 16

/* The executor of one obligation: argument arrays and uninterpreted functions, declared in
 * the obligation on first use. */
typedef struct tk_sym {
  tk_obl *o;
  const tk_ir_kernel *k;
  Z3_ast *args;     /* the argument arrays (declared on first use; tk_verify_sym_arg) */
  bool args_stored; /* STORE updates its argument's array (the dispatch class); else skipped */
  int nufs;
  Z3_func_decl ufs[TK_SYM_MAX_UF];
  char uf_names[TK_SYM_MAX_UF][32];
} tk_sym;

/* The local state: one array term per kernel local (NULL = fresh on first use). */
typedef struct tk_sym_state {
  int n;
  Z3_ast *arr;
} tk_sym_state;

TK_MUST_USE tk_status tk_verify_sym_init(tk_sym *x, tk_obl *o, const tk_ir_kernel *k);
void tk_verify_sym_dispose(tk_sym *x);
TK_MUST_USE tk_status tk_verify_sym_state_init(const tk_sym *x, tk_sym_state *st);
TK_MUST_USE tk_status tk_verify_sym_state_copy(const tk_sym_state *from, tk_sym_state *to);
void tk_verify_sym_state_free(tk_sym_state *st);

Z3_sort tk_verify_sym_sort(tk_vctx *v, tk_ir_type t);
Z3_sort tk_verify_sym_array_sort(tk_vctx *v, tk_ir_type t);
/* The array of a local in st (a fresh constant if not set yet). */
Z3_ast tk_verify_sym_local(tk_sym *x, tk_sym_state *st, int local);
/* Replaces a local's array by a fresh constant (a loop's effect, summarised elsewhere). */
Z3_ast tk_verify_sym_havoc(tk_sym *x, tk_sym_state *st, int local);
/* The array of argument arg (a fresh constant named after it on first use). */
Z3_ast tk_verify_sym_arg(tk_sym *x, int arg);
/* The value of an IR value node in state st (loop variables: copy 0, or as bound). */
Z3_ast tk_verify_sym_val(tk_sym *x, tk_sym_state *st, const tk_ir_val *val);
/* The uninterpreted f32 division the executor gives a DIV of two f32 values (the topk class
 * states instances of real division's laws over it). */
Z3_ast tk_verify_sym_div(tk_sym *x, Z3_ast a, Z3_ast b);
/* Executes straight-line statements (BLOCK, LOCAL_STORE, IF; global STOREs are skipped, or with
 * args_stored update the argument arrays).
 * A FOR is an error: TK_PROOF_FAILED, the code does not have the proved form. */
TK_MUST_USE tk_status tk_verify_sym_exec(tk_sym *x, tk_sym_state *st, const tk_ir_stmt *s);

/* True if s stores to local `local` (any local if local < 0) / contains a loop. */
bool tk_verify_sym_writes_local(const tk_ir_stmt *s, int local);
bool tk_verify_sym_has_loop(const tk_ir_stmt *s);

#endif /* TK_VERIFY_TOPK_EXEC_H */
