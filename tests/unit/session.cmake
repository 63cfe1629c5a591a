# The session API (runtime/session.c and friends) on the CPU backend against tests/ref.
tk_unit_test(NAME session_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/session_test.c
  ${CMAKE_CURRENT_LIST_DIR}/model_bundle.c
  LIBS tkrt tkc_lib tkref_lib LABELS runtime COST 80)
# A bundle of x86-64-v3 and x86-64-v4: the runtime's choice, --cpu forcing, agreement, open errors.
add_test(NAME session_levels COMMAND session_test --levels WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# Plain pass only (slow): two compiles of nano; under the sanitizers session_test runs the
# runtime, and tkrun_cli a bundle of both levels.
set_tests_properties(session_levels PROPERTIES LABELS "unit;runtime;slow" COST 70
  ENVIRONMENT "TK_SOURCE_DIR=${CMAKE_SOURCE_DIR};TK_BUILD_DIR=${CMAKE_BINARY_DIR}")
add_test(NAME session_tiny COMMAND session_test --tiny WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(session_tiny PROPERTIES LABELS "unit;runtime;slow"
  ENVIRONMENT "TK_SOURCE_DIR=${CMAKE_SOURCE_DIR};TK_BUILD_DIR=${CMAKE_BINARY_DIR}")
# The runtime loads what it hashed: swaps, truncation, duplicate keys, foreign kernels, FIFOs.
tk_unit_test(NAME bundle_load_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/bundle_load_test.c
  ${CMAKE_CURRENT_LIST_DIR}/model_bundle.c
  LIBS tkrt tkc_lib LABELS runtime)
