# The generated host stub (codegen/hoststub.c): compiles warning-free with only the bundle and
# runtime include dirs, deterministic builds, formulas and launch sequence equal to the IR's.
tk_unit_test(NAME hoststub_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/hoststub_test.c
  LIBS tkc_lib tk_codegen tkrt LABELS codegen)
