# GPU targets (codegen/cg_target_amdgcn.c, cg_target_nvptx.c, offload_bundle.c): code objects
# and PTX checked without a GPU — ELF header, kernel descriptors, PTX entries, bundle layout.
tk_unit_test(NAME gpu_targets_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_targets_test.c
  LIBS tk_codegen tkc_lib
  LABELS codegen)
