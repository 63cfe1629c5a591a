# The CPU launcher of libtkrt: thread pool, CPU-level check, kernel loading and launches.
tk_unit_test(NAME launcher_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/launcher_test.c LIBS tkrt LABELS runtime)
