# Proves the generated single header stands alone: examples/quickstart.cpp is compiled against the
# single_include directory and Boost only (deliberately not cachet::cachet, whose include/ would
# hide a header the amalgamation missed), then run.

set(quickstart "${PROJECT_SOURCE_DIR}/examples/quickstart.cpp")
if(EXISTS "${quickstart}")
  add_executable(single_header_quickstart "${quickstart}")
  add_dependencies(single_header_quickstart single_header)
  target_include_directories(single_header_quickstart PRIVATE "${CACHET_SINGLE_HEADER_DIR}")
  target_compile_features(single_header_quickstart PRIVATE cxx_std_20)
  target_link_libraries(single_header_quickstart PRIVATE Boost::headers Threads::Threads)
  cachet_add_warnings(single_header_quickstart)
  add_test(NAME single_header.quickstart COMMAND single_header_quickstart)
  set_tests_properties(single_header.quickstart PROPERTIES LABELS "example;single_header"
                                                           TIMEOUT 120)
endif()

# The committed single headers match include/: regenerated in memory and compared; the failure
# names the command that regenerates them.
add_test(NAME single_header.current
  COMMAND Python3::Interpreter "${PROJECT_SOURCE_DIR}/cmake/amalgamate.py"
          --include-dir "${PROJECT_SOURCE_DIR}/include"
          --check "${PROJECT_SOURCE_DIR}/single_include")
set_tests_properties(single_header.current PROPERTIES LABELS single_header TIMEOUT 60)

# The committed Redis single header stands alone too: a unit that uses the Redis backend and
# async() on the in-memory one, against single_include/ and Boost only. Compiling it is the test,
# so only the test builds it.
if(TARGET Boost::json)
  add_library(single_header_redis OBJECT EXCLUDE_FROM_ALL
    "${PROJECT_SOURCE_DIR}/tests/single_include/redis_single_header.cpp")
  target_include_directories(single_header_redis PRIVATE "${PROJECT_SOURCE_DIR}/single_include")
  target_compile_features(single_header_redis PRIVATE cxx_std_20)
  target_link_libraries(single_header_redis PRIVATE Boost::headers Boost::json Threads::Threads)
  cachet_add_warnings(single_header_redis)
  add_test(NAME single_header.redis_compiles
    COMMAND "${CMAKE_COMMAND}" --build "${CMAKE_BINARY_DIR}" --target single_header_redis)
  set_tests_properties(single_header.redis_compiles PROPERTIES LABELS single_header TIMEOUT 600)
endif()
