# checkpoint.tkp1 reader/writer, the arch parameter list and the init-checkpoint RNG.
tk_unit_test(NAME checkpoint_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint_test.c
  LIBS tk_model tkrt ${TK_LIBM}
  LABELS checkpoint)
# Tiny's ~340 MB round trip: skipped in the sanitizer pass (label `slow`).
add_test(NAME checkpoint_tiny_round_trip COMMAND checkpoint_test --tiny WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(checkpoint_tiny_round_trip PROPERTIES LABELS "unit;checkpoint;slow")
