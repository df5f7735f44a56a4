# Fails when a header pulls in a header it must not (cmake -P). Inputs:
#   COMPILER  the C++ compiler        HEADER     the header to check, as included: cachet.hpp
#   FLAGS     ;-list of flags         FORBIDDEN  regex on the paths of what it includes
#   REASON    what to tell the reader when it does
# The compiler lists every file the header includes (-M), so a forbidden header is found however
# deep it is pulled in.

foreach(var COMPILER HEADER FLAGS FORBIDDEN REASON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "header_dependencies.cmake: ${var} is not set")
  endif()
endforeach()

string(MAKE_C_IDENTIFIER "${HEADER}" unit_name)
set(unit "${CMAKE_CURRENT_BINARY_DIR}/header_dependencies_${unit_name}.cpp")
file(WRITE "${unit}" "#include <${HEADER}>\n")
execute_process(COMMAND "${COMPILER}" ${FLAGS} -M "${unit}" RESULT_VARIABLE result
                OUTPUT_VARIABLE dependencies ERROR_VARIABLE errors)
file(REMOVE "${unit}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "<${HEADER}> does not preprocess:\n${errors}")
endif()
string(REGEX MATCHALL "[^ \\\n]*(${FORBIDDEN})[^ \\\n]*" found "${dependencies}")
if(found)
  list(GET found 0 first)
  message(FATAL_ERROR "<${HEADER}> includes ${first}: ${REASON}")
endif()
message("<${HEADER}> includes nothing matching ${FORBIDDEN}")
