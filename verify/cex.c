/* verify/cex.c — a refuted obligation's counterexample in model terms: the values of B, Bp and
 * every loop variable (and fresh constant marked for showing) in the solver's model, then the
 * obligation's shown terms (index, size, row, ...), the kernel, target, class and statement:
 *
 *   B=17, Bp=32, rb=1, rr=0, k=95: index=1632, size=1536, row=17 in kernel expert_0_in (cpu),
 *   class bounds: load of %x at index min(rb * 16 + rr, B - 1) * 96 + k is in [0, B * 96) ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

/* The model's value of t as text ("17", "-3", "1/2", "true"). */
static void value_text(tk_vctx *v, Z3_model model, Z3_ast t, char *buf, size_t n) {
  Z3_ast val = NULL;
  if (!Z3_model_eval(v->z, model, t, true, &val) || !val) {
    snprintf(buf, n, "?");
    return;
  }
  if (Z3_is_numeral_ast(v->z, val))
    snprintf(buf, n, "%s", Z3_get_numeral_string(v->z, val));
  else
    snprintf(buf, n, "%s", Z3_ast_to_string(v->z, val));
}

char *tk_verify_cex_message(tk_vctx *v, Z3_model model) {
  const tk_obl *o = &v->obl;
  char *msg = NULL;
  size_t len = 0;
  FILE *f = tk_open_memstream(&msg, &len);
  if (!f) return NULL;
  char val[128];
  int shown = 0;
  for (int i = 0; i < o->ndecls; i++) {
    const tk_obl_decl *d = &o->decls[i];
    if (!d->show || !d->c) continue;
    value_text(v, model, d->c, val, sizeof val);
    fprintf(f, "%s%s=%s", shown++ ? ", " : "", d->name, val);
  }
  fputs(":", f);
  int from = 0, to = o->nshows;
  const char *what = o->statement;
  for (int i = 0; i < o->nparts; i++) {
    Z3_ast val_ast = NULL;
    if (Z3_model_eval(v->z, model, o->parts[i].cond, true, &val_ast) &&
        Z3_get_bool_value(v->z, val_ast) == Z3_L_FALSE) {
      from = o->parts[i].show_begin;
      to = o->parts[i].show_end;
      what = o->parts[i].what;
      break;
    }
  }
  for (int i = from; i < to; i++) {
    value_text(v, model, o->shows[i].term, val, sizeof val);
    fprintf(f, "%s %s=%s", i > from ? "," : "", o->shows[i].label, val);
  }
  fprintf(f, " in kernel %s (%s), class %s: not proved: %s", o->kernel, o->target,
          tk_verify_obl_class_name(o->cls), what);
  if (fclose(f) != 0) {
    free(msg);
    return NULL;
  }
  return msg;
}
