# Static GPU figures (issue 17 item 5): codegen/gpu_resources.h's metadata reader against
# llvm-readelf-19's and its occupancy against llc-19's own, on generated kernels for every gfx
# tkc accepts, and the manifest's figures for nano's code objects (tests/cli/gpu_resources.sh).
add_executable(gpu_resources_dump ${CMAKE_CURRENT_LIST_DIR}/gpu_resources_dump.c)
set_target_properties(gpu_resources_dump PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(gpu_resources_dump PRIVATE tk_codegen)
tk_script_test(NAME gpu_resources SCRIPT tests/cli/gpu_resources.sh LABELS "cli;codegen")
