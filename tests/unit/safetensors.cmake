# The safetensors reader (runtime/safetensors.c): valid single and sharded checkpoints, and
# every structural and expectation error, on files written byte by byte.
tk_unit_test(NAME safetensors_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/safetensors_test.c
  LIBS tkrt
  LABELS checkpoint)
