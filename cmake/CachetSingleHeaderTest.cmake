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
