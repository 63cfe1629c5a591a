# The safetensors reader (runtime/safetensors.c): valid single and sharded checkpoints, and
# every structural and expectation error, on files written byte by byte.
tk_unit_test(NAME safetensors_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/safetensors_test.c
  LIBS tkrt
  LABELS checkpoint)
# models/qwen3-moe-tiny: config.json and make_checkpoint.py's F32/BF16 files read back
# (skipped, exit 77, without python3).
tk_unit_test(NAME qwen3_moe_tiny_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/qwen3_moe_tiny_test.c
  LIBS tkrt ${TK_LIBM}
  LABELS checkpoint)
set_tests_properties(qwen3_moe_tiny_test PROPERTIES SKIP_RETURN_CODE 77)
