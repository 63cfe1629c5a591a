# The IR dump parser (ir/parse.c): round trips at every stage, passes on parsed modules, errors.
tk_unit_test(NAME ir_parse_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ir_parse_test.c LIBS tkc_lib LABELS ir)
# Not a test: prints a module at any stage (tests/ir/passes.sh --update uses it for the fused
# stage before buffer planning; `tkc compile --stop-after=fuse --dump-after=fuse` prints it too,
# under a "> After fuse:" line).
add_executable(ir_stage_dump ${CMAKE_CURRENT_LIST_DIR}/ir_stage_dump.c)
set_target_properties(ir_stage_dump PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(ir_stage_dump PRIVATE tkc_lib)
# tkc opt on every golden (round trip), per pass (tests/ir/passes/), on broken dumps, and on
# norms the tiled schedule must not take as a GEMM's epilogue.
tk_script_test(NAME ir_roundtrip SCRIPT tests/ir/roundtrip.sh LABELS ir)
tk_script_test(NAME ir_passes_golden SCRIPT tests/ir/passes.sh LABELS ir)
tk_script_test(NAME ir_parse_errors SCRIPT tests/ir/parse_errors.sh LABELS ir)
tk_script_test(NAME ir_epilogue_forms SCRIPT tests/ir/epilogue_forms.sh LABELS ir)
