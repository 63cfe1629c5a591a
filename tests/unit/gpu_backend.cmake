# The GPU backends (runtime/hip_backend.c, cuda_backend.c, gpu_select.c, gpu_core.c) without
# a GPU: hip and cuda fail cleanly and quickly, auto falls back to cpu, code-object selection
# and its messages, kernel-argument packing (docs/abi.md) and the shared buffer table.
add_library(gpu_backend_fake_x86 MODULE ${CMAKE_CURRENT_LIST_DIR}/gpu_backend_fake_x86.c)
tk_unit_test(NAME gpu_backend_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_backend_test.c
  LIBS tkrt LABELS runtime)
target_compile_definitions(gpu_backend_test PRIVATE
  TK_FAKE_X86_SO="$<TARGET_FILE:gpu_backend_fake_x86>")
add_dependencies(gpu_backend_test gpu_backend_fake_x86)

# cuda_backend.c end to end against a stand-in driver (tests/unit/fake_libcuda.c), found
# first on LD_LIBRARY_PATH as libcuda.so.1.
add_library(fake_libcuda SHARED ${CMAKE_CURRENT_LIST_DIR}/fake_libcuda.c)
set_target_properties(fake_libcuda PROPERTIES OUTPUT_NAME cuda SOVERSION 1
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fake_cuda)
add_dependencies(gpu_backend_test fake_libcuda)
add_test(NAME gpu_backend_fake_cuda COMMAND gpu_backend_test --fake-cuda
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(gpu_backend_fake_cuda PROPERTIES LABELS "unit;runtime"
  ENVIRONMENT "LD_LIBRARY_PATH=${CMAKE_BINARY_DIR}/tests/fake_cuda")
