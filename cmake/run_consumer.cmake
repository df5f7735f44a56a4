# Runs one consumer test (cmake -P): builds a tiny program the way a user of cachet would, from an
# empty directory each time, and runs it. Inputs, by MODE:
#   install  BUILD_DIR PREFIX                  cmake --install the cachet build tree into PREFIX
#   project  SOURCE_DIR BINARY_DIR [OPTIONS]   configure + build a CMake project, run ./consumer
#   plain    SOURCE INCLUDE_DIR BINARY_DIR     COMPILER -std=c++20 [FLAGS] -I INCLUDE_DIR SOURCE [LIBS],
#                                              run it; SOURCE may be a directory: all its *.cpp
# Always: CMAKE_COMMAND, COMPILER, GENERATOR.

function(run)
  list(JOIN ARGN " " shown)
  message("> ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${shown}")
  endif()
endfunction()

if(MODE STREQUAL "install")
  # A stale header from an earlier install must not make a broken install look good.
  file(REMOVE_RECURSE "${PREFIX}")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}")
elseif(MODE STREQUAL "project")
  file(REMOVE_RECURSE "${BINARY_DIR}")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${COMPILER}" ${OPTIONS})
  run("${CMAKE_COMMAND}" --build "${BINARY_DIR}")
  run("${BINARY_DIR}/consumer")
elseif(MODE STREQUAL "plain")
  file(REMOVE_RECURSE "${BINARY_DIR}")
  file(MAKE_DIRECTORY "${BINARY_DIR}")
  separate_arguments(libs UNIX_COMMAND "${LIBS}")
  separate_arguments(flags UNIX_COMMAND "${FLAGS}")
  set(sources "${SOURCE}")
  if(IS_DIRECTORY "${SOURCE}")
    file(GLOB sources "${SOURCE}/*.cpp")
  endif()
  run("${COMPILER}" -std=c++20 ${flags} -I "${INCLUDE_DIR}" ${sources} -o "${BINARY_DIR}/consumer"
      ${libs})
  run("${BINARY_DIR}/consumer")
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()
