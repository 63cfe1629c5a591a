# Class host (verify/obl_host.c, obl_abi.c): the host stub's C expressions parsed and evaluated
# as the C compiler does; real stubs prove, hand-edited stubs and kernel parameter lists are
# refuted with counterexamples.
tk_unit_test(NAME cexpr_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cexpr_test.c LIBS tk_verify LABELS verify)
tk_unit_test(NAME host_stub_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/host_stub_test.c
             LIBS tkc_lib tk_verify LABELS verify)
