# tkserve's limits under abuse on loopback (python3 stdlib sockets): slowloris against the
# header/body deadlines, 16 MiB bodies against --max-buffered, request smuggling and bad request
# lines, --max-rows and --max-queue, SIGTERM under load. One ctest per case, each under 60 s;
# tkserve_abuse_setup compiles the model they share once.
set(TK_ABUSE_ENV "TK_SOURCE_DIR=${CMAKE_SOURCE_DIR};TK_BUILD_DIR=${CMAKE_BINARY_DIR};TK_BIN=${CMAKE_BINARY_DIR}/bin")
add_test(NAME tkserve_abuse_setup
         COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/cli/tkserve_abuse.py setup
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(tkserve_abuse_setup PROPERTIES LABELS "script;cli;runtime;slow"
  FIXTURES_SETUP tkserve_abuse_model ENVIRONMENT "${TK_ABUSE_ENV}")
foreach(case slowloris memory framing limits sigterm)
  add_test(NAME tkserve_${case}
           COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/cli/tkserve_abuse.py ${case}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(tkserve_${case} PROPERTIES LABELS "script;cli;runtime;slow" TIMEOUT 120
    FIXTURES_REQUIRED tkserve_abuse_model ENVIRONMENT "${TK_ABUSE_ENV}")
endforeach()
