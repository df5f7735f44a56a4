# Helpers shared by cachet's own tests, examples, benches and fuzzers. Never included by consumers.

include_guard(GLOBAL)

# The warning set the conventions promise for g++ 12 and clang++ 14. Applied per target, never
# globally, so it reaches only our code: Boost and GoogleTest are system headers either way.
function(cachet_add_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(CACHET_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

# What many users build with. A header-only library's warnings are its users' warnings, so the
# header checks and the tests that instantiate the templates as a user's program does
# (strict_warnings_test, redis/umbrella_test) build with them too. The other tests keep the
# base set: the flags are about cachet's headers, not the tests' own code.
set(CACHET_STRICT_WARNING_FLAGS -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast)

function(cachet_add_strict_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE ${CACHET_STRICT_WARNING_FLAGS})
  endif()
endfunction()

# The same flags as a list, for tests that call the compiler themselves (compile-fail, headers).
set(CACHET_WARNING_FLAGS -Wall -Wextra -Wpedantic)
if(CACHET_WERROR)
  list(APPEND CACHET_WARNING_FLAGS -Werror)
endif()

# Boost include directories for hand-made compiler command lines. Directories the compiler already
# searches are left out: `-isystem /usr/include` would reorder the system search path and break
# the #include_next chain of libstdc++'s <cstdlib>.
set(CACHET_BOOST_INCLUDE_FLAGS)
foreach(dir IN LISTS Boost_INCLUDE_DIRS)
  if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    list(APPEND CACHET_BOOST_INCLUDE_FLAGS "-isystem" "${dir}")
  endif()
endforeach()

set(CACHET_REDIS_FIXTURE_DIR "${CMAKE_BINARY_DIR}/redis-fixture")

# One redis-server is shared by every test that needs one: CTest starts it before the first such
# test and stops it after the last, even when tests fail. It is registered only if some test asks
# for it, so a tree without Redis tests never needs redis-server.
function(cachet_use_redis_fixture)
  get_property(registered GLOBAL PROPERTY cachet_redis_fixture_registered)
  if(NOT registered)
    set_property(GLOBAL PROPERTY cachet_redis_fixture_registered TRUE)
    set(script "${PROJECT_SOURCE_DIR}/tests/redis/fixture.sh")
    add_test(NAME redis.fixture.start COMMAND bash "${script}" start "${CACHET_REDIS_FIXTURE_DIR}")
    add_test(NAME redis.fixture.stop COMMAND bash "${script}" stop "${CACHET_REDIS_FIXTURE_DIR}")
    set_tests_properties(redis.fixture.start PROPERTIES FIXTURES_SETUP redis LABELS redis
                                                        TIMEOUT 60)
    set_tests_properties(redis.fixture.stop PROPERTIES FIXTURES_CLEANUP redis LABELS redis
                                                       TIMEOUT 60)
  endif()
endfunction()

# The properties a test needs to reach the shared server, as a flat list for
# set_tests_properties() or gtest_discover_tests(PROPERTIES ...).
set(CACHET_REDIS_TEST_PROPERTIES
  FIXTURES_REQUIRED redis
  ENVIRONMENT "CACHET_TEST_REDIS_URL_FILE=${CACHET_REDIS_FIXTURE_DIR}/url")
