# GPU binding (issue #12): the amdgcn and nvptx modules' own LLVM IR, retargeted to the host
# with the id intrinsics bound to emulated ids, JIT-compiled (MCJIT) and run through the `gpu`
# schedule against tests/ref; swapped ids must fail (tests/unit/gpu_exec_test.c).
tk_unit_test(NAME gpu_exec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_exec_test.c ${CMAKE_CURRENT_LIST_DIR}/cg_driver.c
    ${CMAKE_CURRENT_LIST_DIR}/model_weights.c
  LIBS tk_codegen tkc_lib tkref_lib LLVM ${CMAKE_DL_LIBS} Threads::Threads
  LABELS codegen slow COST 165)
# slow: mostly LLVM's time (MCJIT of every kernel, emulated ids), plain pass only. The sanitized
# build runs nano under the tiled schedule alone: no other test of that pass compiles its
# shared locals, barriers and row launches.
if(TK_SANITIZE)
  add_test(NAME gpu_exec_tiled COMMAND gpu_exec_test nano-tiled WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(gpu_exec_tiled PROPERTIES LABELS "unit;codegen"
    ENVIRONMENT "TK_SOURCE_DIR=${CMAKE_SOURCE_DIR};TK_BUILD_DIR=${CMAKE_BINARY_DIR}")
endif()
target_include_directories(gpu_exec_test SYSTEM PRIVATE ${LLVM_INCLUDE_DIRS})
target_compile_definitions(gpu_exec_test PRIVATE ${TK_LLVM_DEFINITIONS})
