# Runs one compile-fail test (cmake -P). Inputs:
#   COMPILER  the C++ compiler          SOURCE  tests/compile_fail/<name>.cpp
#   FLAGS     ;-list of compiler flags  MODE    fail | twin
# MODE=fail: compiling SOURCE must fail, and the first error must match the regex given on the
# file's first line as `// expect: <regex>`. MODE=twin: SOURCE with -DCACHET_PASSING_TWIN must
# compile, so the failing half fails for the reason the test names and nothing else.

foreach(var COMPILER SOURCE FLAGS MODE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compile_fail.cmake: ${var} is not set")
  endif()
endforeach()

file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
if(NOT first_line MATCHES "^// expect: (.+)$")
  message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: <regex>`")
endif()
set(expected "${CMAKE_MATCH_1}")

set(command "${COMPILER}" ${FLAGS} -fsyntax-only)
if(MODE STREQUAL "twin")
  list(APPEND command -DCACHET_PASSING_TWIN)
endif()
list(APPEND command "${SOURCE}")

list(JOIN command " " shown)
message("${shown}")
execute_process(COMMAND ${command} RESULT_VARIABLE result OUTPUT_VARIABLE output
                ERROR_VARIABLE output)
message("${output}")

if(MODE STREQUAL "twin")
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "the passing twin (-DCACHET_PASSING_TWIN) does not compile")
  endif()
elseif(result EQUAL 0)
  message(FATAL_ERROR "compiled, but must fail with a diagnostic matching: ${expected}")
elseif(NOT output MATCHES "${expected}")
  message(FATAL_ERROR "failed to compile as it should, but no diagnostic matches: ${expected}")
else()
  # The first error is the one a user reads: it must be the expected one, not a cascade's.
  string(REGEX MATCH "error: [^\n]*" first_error "${output}")
  if(NOT first_error MATCHES "${expected}")
    message(FATAL_ERROR "the expected diagnostic is not the first error: ${first_error}")
  endif()
  message("failed to compile as expected; diagnostic matched: ${expected}")
endif()
