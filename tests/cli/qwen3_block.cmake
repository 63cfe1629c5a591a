# Qwen3-MoE (issue 16): `tkc compile config.json` gives a verified bundle whose block agrees
# with the independent double-precision reference (ref/qwen3_moe.c) through the runtime.
add_executable(qwen3_conformance ${CMAKE_CURRENT_LIST_DIR}/qwen3_conformance.c)
set_target_properties(qwen3_conformance PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(qwen3_conformance PRIVATE tkref_lib tkrt PkgConfig::CJSON m)
tk_script_test(NAME qwen3_block SCRIPT tests/cli/qwen3_block.sh LABELS "cli;codegen" COST 70)
# ... and against transformers' own block, where an interpreter has torch and transformers
# (skipped, exit 77, otherwise: nothing is downloaded by the suite).
tk_script_test(NAME qwen3_transformers SCRIPT tests/cli/qwen3_transformers.sh LABELS "cli;python")
set_tests_properties(qwen3_transformers PROPERTIES SKIP_RETURN_CODE 77)
# Mutants of the new ops and of the renormalisation, each refuted (Release suite only).
tk_script_test(NAME qwen3_mutants SCRIPT tests/cli/qwen3_mutants.sh LABELS "cli;slow")
