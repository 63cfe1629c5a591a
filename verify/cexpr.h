/* verify/cexpr.h — the C expressions the host stub prints (model_host.c), parsed and given C
 * semantics, so the `host` obligations (verify/obl_host.c) reason about the text that is
 * compiled rather than about the IR the generator started from.
 *
 * The subset: decimal integer literals (type int when they fit 32 bits, else long, as C17
 * §6.4.4.1 gives them), INT64_C(n), identifiers (symbols of an environment), unary -,
 * binary + - * / %, the comparisons < <= > >= == !=, ?:, the casts (int32_t) and (int64_t),
 * parentheses and calls of one-line functions `[static] [inline] T NAME(T a, ...) { return
 * E; }` with T int32_t or int64_t. Types are C's on LP64: int32_t = int (32 bits), int64_t =
 * long. Anything else (other operators, suffixes, hex, assignments, strings) is refused with
 * the column of the first token not in the subset.
 *
 * Semantics (tk_cexpr_eval, and the Z3 translation in obl_host.c, which follows the same
 * rules): the usual arithmetic conversions of two int/long operands give long when either is
 * long; / and % truncate toward zero; a comparison is an int 0 or 1; a call converts each
 * argument to its parameter's type and the body's value to the return type; a cast or a
 * conversion to int32_t must keep the value (the stub relies on it; here it is an error).
 * Every intermediate must fit its type: signed overflow is undefined in C, so the evaluator
 * refuses it (TK_OUT_OF_RANGE) instead of wrapping.
 *
 * Ownership: a tk_cexpr_tree owns its nodes (tk_cexpr_tree_free; zeroed trees are empty).
 */
#ifndef TK_VERIFY_CEXPR_H
#define TK_VERIFY_CEXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "tk/status.h"

typedef enum tk_ctype { TK_CT_INT32, TK_CT_INT64 } tk_ctype;

typedef enum tk_cexpr_kind {
  TK_CX_LIT,
  TK_CX_SYM,
  TK_CX_NEG,
  TK_CX_ADD,
  TK_CX_SUB,
  TK_CX_MUL,
  TK_CX_DIV,
  TK_CX_MOD,
  TK_CX_LT,
  TK_CX_LE,
  TK_CX_GT,
  TK_CX_GE,
  TK_CX_EQ,
  TK_CX_NE,
  TK_CX_COND,
  TK_CX_CAST,
  TK_CX_CALL
} tk_cexpr_kind;

enum { TK_CEXPR_NAME = 48, TK_CEXPR_MAX_ARGS = 4 };

/* One node; children are indices into the tree's nodes (-1 = none). */
typedef struct tk_cexpr {
  tk_cexpr_kind kind;
  tk_ctype type;            /* LIT: the literal's type; CAST: the target type */
  int64_t value;            /* LIT */
  char name[TK_CEXPR_NAME]; /* SYM, CALL */
  int a, b, c;              /* operands; COND: a ? b : c */
  int nargs;
  int args[TK_CEXPR_MAX_ARGS]; /* CALL */
} tk_cexpr;

typedef struct tk_cexpr_tree {
  tk_cexpr *nodes;
  int n, cap;
  int root;
} tk_cexpr_tree;

void tk_cexpr_tree_free(tk_cexpr_tree *t);

/* Parses the whole of `text` (surrounding blanks allowed) as one expression of the subset.
 * TK_INVALID_ARGUMENT names the column and the token otherwise. */
TK_MUST_USE tk_status tk_cexpr_parse(const char *text, tk_cexpr_tree *out);

/* A one-line function definition `[static] [inline] T NAME(T p, ...) { return E; }` ((void)
 * for none). TK_INVALID_ARGUMENT when the line is not one (callers skip such lines). */
typedef struct tk_cexpr_fn {
  char name[TK_CEXPR_NAME];
  tk_ctype ret;
  int nparams;
  char params[TK_CEXPR_MAX_ARGS][TK_CEXPR_NAME];
  tk_ctype ptypes[TK_CEXPR_MAX_ARGS];
  tk_cexpr_tree body;
  int line; /* where the caller read it (0 = unknown; not set by the parser) */
} tk_cexpr_fn;
TK_MUST_USE tk_status tk_cexpr_parse_fn(const char *line, tk_cexpr_fn *out);

/* What an expression may name: symbols with their values and types, and functions. */
typedef struct tk_cexpr_sym {
  const char *name;
  tk_ctype type;
  int64_t value;
} tk_cexpr_sym;
typedef struct tk_cexpr_env {
  const tk_cexpr_sym *syms;
  int nsyms;
  const tk_cexpr_fn *fns;
  int nfns;
} tk_cexpr_env;

const tk_cexpr_fn *tk_cexpr_env_fn(const tk_cexpr_env *env, const char *name);

/* The value of node `node` of t in env with C semantics (above). TK_OUT_OF_RANGE for an
 * overflow, a narrowing that changes the value or a division by zero; TK_INVALID_ARGUMENT for
 * an unknown name or a wrong argument count. */
TK_MUST_USE tk_status tk_cexpr_eval(const tk_cexpr_tree *t, int node, const tk_cexpr_env *env,
                                    int64_t *value, tk_ctype *type);

/* The C type of node `node` (unknown names: int64_t; evaluation reports them). */
tk_ctype tk_cexpr_type(const tk_cexpr_tree *t, int node, const tk_cexpr_env *env);

/* The type of a binary arithmetic result (usual arithmetic conversions of int and long). */
static inline tk_ctype tk_ctype_common(tk_ctype a, tk_ctype b) {
  return a == TK_CT_INT64 || b == TK_CT_INT64 ? TK_CT_INT64 : TK_CT_INT32;
}
const char *tk_ctype_name(tk_ctype t); /* "int32_t", "int64_t" */

#endif /* TK_VERIFY_CEXPR_H */
