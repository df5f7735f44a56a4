# bench/*.cpp: Google Benchmark programs, always optimised (numbers from -O0 mislead). ctest only
# smoke-runs each one for a moment, so a bench that no longer builds or crashes is noticed; real
# measurements are taken by running <build>/bench/<name> by hand in a Release build.

file(GLOB cachet_benches CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/bench/*.cpp")
if(cachet_benches)
  find_package(benchmark REQUIRED)
endif()
# The hiredis memo is a peer to compare with, not part of cachet: built only where hiredis is.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(cachet_hiredis QUIET IMPORTED_TARGET hiredis)
endif()
foreach(source IN LISTS cachet_benches)
  get_filename_component(name "${source}" NAME_WE)
  if(name STREQUAL "redis_hiredis_memo_bench" AND NOT cachet_hiredis_FOUND)
    message(STATUS "cachet: hiredis not found (pkg-config hiredis); skipping bench/${name}.cpp")
    continue()
  endif()
  # Needs a Redis Cluster, which bench/run_cluster.sh starts, builds it for and runs it against.
  if(name STREQUAL "cluster_bench")
    continue()
  endif()
  add_executable(bench_${name} "${source}")
  set_target_properties(bench_${name} PROPERTIES
    OUTPUT_NAME "${name}"
    RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/bench")
  # Placed after the build type's flags, so -O2 wins over a Debug build's -O0.
  target_compile_options(bench_${name} PRIVATE -O2)
  target_compile_definitions(bench_${name} PRIVATE NDEBUG)
  # A bench with a main() of its own (one that starts itself again as a child process) links
  # the library without Google Benchmark's main.
  file(STRINGS "${source}" own_main REGEX "^int main\\(")
  if(own_main)
    target_link_libraries(bench_${name} PRIVATE benchmark::benchmark)
  else()
    target_link_libraries(bench_${name} PRIVATE benchmark::benchmark_main)
  endif()
  cachet_add_warnings(bench_${name})
  cachet_add_strict_warnings(bench_${name})
  # benchmark 1.7 reads --benchmark_min_time as seconds (a plain number).
  add_test(NAME bench.${name}
    COMMAND bench_${name} --benchmark_min_time=0.01 --benchmark_filter=.)
  # A benchmark that stops with SkipWithError still exits 0: its report is what tells.
  set_tests_properties(bench.${name} PROPERTIES LABELS bench TIMEOUT 300
                                                FAIL_REGULAR_EXPRESSION "ERROR OCCURRED")
  if(name MATCHES "^(redis|rate_limit|tiered)_")
    target_link_libraries(bench_${name} PRIVATE cachet::redis)
    if(name STREQUAL "redis_hiredis_memo_bench")
      target_link_libraries(bench_${name} PRIVATE PkgConfig::cachet_hiredis)
    endif()
    cachet_use_redis_fixture()
    set_tests_properties(bench.${name} PROPERTIES ${CACHET_REDIS_TEST_PROPERTIES}
                                                  LABELS "bench;redis")
  else()
    target_link_libraries(bench_${name} PRIVATE cachet::cachet)
  endif()
endforeach()
