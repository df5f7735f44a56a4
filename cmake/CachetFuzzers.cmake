# tests/fuzz/*.cpp: libFuzzer targets (LLVMFuzzerTestOneInput), built as <build>/fuzz/<name>.
# libFuzzer ships with clang only; CI builds these in a dedicated clang build and runs each for a
# bounded time (.ci/run), so they are not registered with ctest.

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(WARNING "cachet: CACHET_BUILD_FUZZERS needs clang; fuzzers are not built")
  return()
endif()

file(GLOB cachet_fuzzers CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/tests/fuzz/*.cpp")
foreach(source IN LISTS cachet_fuzzers)
  get_filename_component(name "${source}" NAME_WE)
  add_executable(fuzz_${name} "${source}")
  set_target_properties(fuzz_${name} PROPERTIES
    OUTPUT_NAME "${name}"
    RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/fuzz")
  target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address -fno-omit-frame-pointer)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address)
  if(name MATCHES "^redis_")
    target_link_libraries(fuzz_${name} PRIVATE cachet::redis)
  else()
    target_link_libraries(fuzz_${name} PRIVATE cachet::cachet)
  endif()
  cachet_add_warnings(fuzz_${name})
endforeach()
