# The double-precision reference (tests/ref) and the JSON wire format (runtime/wire.c).
tk_unit_test(NAME ref_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ref_test.c LIBS tkref_lib LABELS ref)
tk_unit_test(NAME wire_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/wire_test.c LIBS tkrt LABELS ref)
# The Qwen3-MoE sparse block reference (ref/qwen3_moe.c): hand-computed cases, ties, norm on/off.
tk_unit_test(NAME qwen3_moe_ref_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/qwen3_moe_ref_test.c
  LIBS tkref_lib LABELS ref)
