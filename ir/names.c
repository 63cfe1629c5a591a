/* ir/names.c — the spelling of every IR enum in dumps and messages (one table each). */
#include "ir/ir.h"

#define NAME_OF(table, i) \
  ((int)(i) >= 0 && (size_t)(i) < sizeof(table) / sizeof(table)[0] ? (table)[i] : "?")

const char *tk_ir_type_name(tk_ir_type t) {
  static const char *const names[] = {"f32", "i32", "bool"};
  return NAME_OF(names, t);
}

const char *tk_ir_role_name(tk_ir_role r) {
  static const char *const names[] = {"in", "out", "param", "scratch"};
  return NAME_OF(names, r);
}

const char *tk_ir_vop_name(tk_ir_vop op) {
  static const char *const names[] = {
#define TK_IR_VOP_NAME(name, text, arity, rule) text,
      TK_IR_VOPS(TK_IR_VOP_NAME)
#undef TK_IR_VOP_NAME
  };
  return NAME_OF(names, op);
}

int tk_ir_vop_arity(tk_ir_vop op) {
  static const int arity[] = {
#define TK_IR_VOP_ARITY(name, text, n, rule) n,
      TK_IR_VOPS(TK_IR_VOP_ARITY)
#undef TK_IR_VOP_ARITY
  };
  return (int)op >= 0 && op < TK_V_COUNT_ ? arity[op] : 0;
}

const char *tk_ir_loop_kind_name(tk_ir_loop_kind k) {
  static const char *const names[] = {"serial", "parallel", "reduction", "unroll", "vector"};
  return NAME_OF(names, k);
}

const char *tk_ir_binding_name(tk_ir_binding b) {
  static const char *const names[] = {"none", "workgroup_x", "thread_x", "cpu_block"};
  return NAME_OF(names, b);
}

const char *tk_ir_cmp_text(tk_ir_cmp c) {
  static const char *const names[] = {"<", "<=", "==", "!=", ">=", ">"};
  return NAME_OF(names, c);
}

const char *tk_ir_pred_name(tk_ir_pred p) {
  static const char *const names[] = {
      "b_range",       "bp_padded",      "rows",       "shape_eq",  "finite",
      "reads_clamped", "writes_rows_lt", "writes_all", "row_local", "topk",
      "softmax",       "masked_select",  "dispatch",
  };
  return NAME_OF(names, p);
}

const char *tk_ir_op_kind_name(tk_ir_op_kind k) {
  const tk_ir_op_info *info = tk_ir_op_info_of(k); /* the op table (ir/op_table.c) */
  return info ? info->name : "?";
}

const char *tk_ir_target_name(tk_ir_target t) {
  return t == TK_TARGET_GPU ? "gpu" : t == TK_TARGET_CPU ? "cpu" : "fused";
}
