/* verify/obl_bounds.c — class `bounds`: every LOAD and STORE index of a scheduled kernel lies
 * in [0, count) of its argument (the tensor's element count) and of the physical buffer the
 * argument is bound to (what the host stub allocates), and every LOCAL_LOAD/LOCAL_STORE index
 * in [0, count) of its local — for every point of the loops and guards around it and every B
 * in [1, Bmax]. One obligation per loop nest, one conjunct per distinct access in it.
 */
#include <stdio.h>

#include "verify/verify_internal.h"

static bool is_access(const tk_ir_kernel *k, const tk_obl_site *s) {
  (void)k;
  return s->kind == TK_SITE_LOAD || s->kind == TK_SITE_STORE || s->kind == TK_SITE_LLOAD ||
         s->kind == TK_SITE_LSTORE;
}

/* The conjunct 0 <= index < size (and < buffer size) of one access. */
static void access_in_bounds(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *site) {
  tk_obl *o = tk_verify_obl_cur(v);
  bool global = site->kind == TK_SITE_LOAD || site->kind == TK_SITE_STORE;
  char what[160], ix[512], count[256];
  tk_verify_obl_site_what(k, site, what, sizeof what);
  tk_ir_ix_format(site->ix, ix, sizeof ix);
  const tk_ir_arg *arg = global ? &k->args[site->arg] : NULL;
  const tk_ir_buffer *buf = arg && arg->buffer >= 0 ? &v->m->buffers[arg->buffer] : NULL;
  if (arg)
    tk_ir_ix_format(arg->count, count, sizeof count);
  else
    snprintf(count, sizeof count, "%lld", (long long)k->locals[site->local].count);
  Z3_ast idx = tk_verify_obl_ix(o, site->ix, 0);
  Z3_ast size =
      arg ? tk_verify_obl_ix(o, arg->count, 0) : tk_verify_z_int(v, k->locals[site->local].count);
  Z3_ast ok = tk_verify_z_in(v, tk_verify_z_int(v, 0), idx, size);
  tk_verify_obl_show(o, "index", idx);
  tk_verify_obl_show(o, "size", size);
  if (arg) {
    tk_verify_obl_show(o, "row", tk_verify_obl_div(o, idx, arg->cols > 0 ? arg->cols : 1, false));
    tk_verify_obl_show(o, "rows", tk_verify_obl_ix(o, arg->rows, 0));
  }
  if (buf) {
    Z3_ast bsize = tk_verify_obl_ix(o, buf->count, 0);
    tk_verify_obl_show(o, "buffer size", bsize);
    ok = tk_verify_z_and2(v, ok, tk_verify_z_cmp(v, TK_CMP_LT, idx, bsize));
  }
  tk_verify_obl_part(o, ok, "%s at index %s is in [0, %s)%s%s", what, ix, count,
                     buf ? " and inside buffer @" : "", buf ? buf->name : "");
  tk_verify_obl_say(o, "; %s at %s in [0, %s)", what, ix, count);
}

static tk_status bounds_group(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *const *group,
                              int n) {
  char loops[512];
  tk_verify_obl_path_text(group[0]->path, loops, sizeof loops);
  tk_verify_obl_begin(
      v, TK_OBL_BOUNDS, k->name, tk_verify_obl_target_name(k),
      "every access in loops (%s) stays inside its argument, its buffer or its local, for every point of the "
      "loops and guards and every B in [1, %lld]",
      loops, (long long)v->bmax);
  tk_verify_obl_path_hyps(tk_verify_obl_cur(v), group[0]->path, 0);
  for (int i = 0; i < n; i++) access_in_bounds(v, k, group[i]);
  return tk_verify_obl_prove(v);
}

tk_status tk_verify_obl_bounds(tk_vctx *v, const tk_ir_kernel *k) {
  return tk_verify_obl_groups(v, k, is_access, bounds_group);
}
