# arch: the arch.json front end (compiler/arch.c, arch_json.c) against docs/formats.md §1,
# with the data files of tests/arch/ (bad/EXPECT.tsv, good/<model>.<variant>.json).
tk_unit_test(NAME arch_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/arch_test.c LIBS tk_model LABELS arch)
