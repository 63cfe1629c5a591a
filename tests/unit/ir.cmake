# The IR (ir/), lowering and the pass table (compiler/lower.c, compiler/driver.c).
add_library(tk_interp STATIC ${CMAKE_SOURCE_DIR}/tests/interp/interp.c)
target_link_libraries(tk_interp PUBLIC tk_ir ${TK_LIBM})
tk_unit_test(NAME ir_ix_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ir_ix_test.c LIBS tk_ir LABELS ir)
tk_unit_test(NAME ir_passes_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ir_passes_test.c LIBS tkc_lib tk_interp LABELS ir)
tk_unit_test(NAME ir_interp_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ir_interp_test.c
             LIBS tkc_lib tk_interp tkref_lib LABELS ir)
tk_script_test(NAME ir_golden SCRIPT tests/ir/golden.sh LABELS ir)
tk_unit_test(NAME ir_op_table_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ir_op_table_test.c LIBS tkc_lib LABELS ir)
