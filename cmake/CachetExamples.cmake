# examples/*.cpp: each one is built and run as the CTest test `example.<name>`, so the README's
# examples cannot silently rot. Examples named redis_* talk to the shared test redis-server.

file(GLOB cachet_examples CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/examples/*.cpp")
foreach(source IN LISTS cachet_examples)
  get_filename_component(name "${source}" NAME_WE)
  if(name MATCHES "^prometheus_" AND NOT TARGET cachet::prometheus)
    continue()  # prometheus-cpp is not installed
  endif()
  add_executable(example_${name} "${source}")
  # Binaries land in <build>/examples/<name>, where the demo script and users look for them.
  set_target_properties(example_${name} PROPERTIES
    OUTPUT_NAME "${name}"
    RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/examples")
  cachet_add_warnings(example_${name})
  add_test(NAME example.${name} COMMAND example_${name})
  set_tests_properties(example.${name} PROPERTIES LABELS example TIMEOUT 120)
  if(name MATCHES "^redis_")
    target_link_libraries(example_${name} PRIVATE cachet::redis)
    cachet_use_redis_fixture()
    set_tests_properties(example.${name} PROPERTIES ${CACHET_REDIS_TEST_PROPERTIES}
                                                    LABELS "example;redis")
  elseif(name MATCHES "^prometheus_")
    target_link_libraries(example_${name} PRIVATE cachet::prometheus prometheus-cpp::pull)
    # tests/prometheus_service_test.cpp starts it and reads /metrics over HTTP.
    if(TARGET prometheus_service_test)
      target_compile_definitions(prometheus_service_test PRIVATE
        "CACHET_EXAMPLE_${name}=\"$<TARGET_FILE:example_${name}>\"")
      add_dependencies(prometheus_service_test example_${name})
    endif()
  else()
    target_link_libraries(example_${name} PRIVATE cachet::cachet)
  endif()
endforeach()
