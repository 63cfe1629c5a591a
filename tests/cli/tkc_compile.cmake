# `tkc compile ARCH -o DIR`: bundles that run through the host stub and the CPU launcher and
# agree with tests/ref; determinism; nothing left behind by failed compiles.
add_executable(bundle_conformance ${CMAKE_CURRENT_LIST_DIR}/bundle_conformance.c)
set_target_properties(bundle_conformance PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(bundle_conformance PRIVATE tkref_lib tkrt PkgConfig::CJSON)
tk_script_test(NAME tkc_compile SCRIPT tests/cli/tkc_compile.sh LABELS "cli;codegen;slow" COST 300)
