# arch: the arch.json front end (compiler/arch.c, arch_json.c) against docs/formats.md §1,
# with the data files of tests/arch/ (bad/EXPECT.tsv, good/<model>.<variant>.json).
tk_unit_test(NAME arch_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/arch_test.c LIBS tk_model LABELS arch)
# hf_config: the Hugging Face config.json front end (model/hf_config.c) against docs/formats.md §7.
tk_unit_test(NAME hf_config_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/hf_config_test.c LIBS tk_model LABELS arch)
