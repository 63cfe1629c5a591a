# codegen (codegen/): hand-built scheduled kernels, whole models against tests/ref through the
# test-only driver (cg_driver.c), determinism and the diagnostic handler.
set(TK_CG_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
tk_unit_test(NAME codegen_model_test
  SOURCES ${TK_CG_TEST_DIR}/codegen_model_test.c ${TK_CG_TEST_DIR}/cg_driver.c
    ${TK_CG_TEST_DIR}/model_weights.c
  LIBS tk_codegen tkc_lib tkref_lib ${CMAKE_DL_LIBS} Threads::Threads
  LABELS codegen slow COST 115)
# slow (plain pass only): mostly LLVM's time (-O3 and the JIT); under the sanitizers codegen runs
# in every compile of session_test, tkrun_cli and the rest.
tk_unit_test(NAME codegen_kernel_test
  SOURCES ${TK_CG_TEST_DIR}/codegen_kernel_test.c ${TK_CG_TEST_DIR}/cg_driver.c
  LIBS tk_codegen LLVM ${CMAKE_DL_LIBS} Threads::Threads ${TK_LIBM}
  LABELS codegen)
target_include_directories(codegen_kernel_test SYSTEM PRIVATE ${LLVM_INCLUDE_DIRS})
