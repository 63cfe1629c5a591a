# tkc from another project: install, find_package + tkc_add_model, pkg-config (issue 15).
tk_script_test(NAME install_package SCRIPT tests/cli/install_package.sh LABELS "cli;slow")
# The same example with tkc's sources added by add_subdirectory (builds tkc again).
add_test(NAME install_package_subproject COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/install_package.sh
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(install_package_subproject PROPERTIES LABELS "script;cli;slow" COST 240
  ENVIRONMENT "TK_SOURCE_DIR=${CMAKE_SOURCE_DIR};TK_BUILD_DIR=${CMAKE_BINARY_DIR};TK_BIN=${CMAKE_BINARY_DIR}/bin;TK_TEST_SUBPROJECT=1")
