# The sanitizer pass of scripts/test runs the tests labelled `asan`. Every
# `unit` and `fuzz` test gets that label here; a test of another kind opts
# in by listing `asan` when it runs our C code in about a minute or less
# under the sanitizers (sim_*_quick, e2e_node). Long sims, crash, e2e and
# web suites run once, in the normal build.
function(clusterd_asan_labels out)
  set(labels ${ARGN})
  if("unit" IN_LIST labels OR "fuzz" IN_LIST labels)
    list(APPEND labels asan)
  endif()
  list(REMOVE_DUPLICATES labels)
  set(${out} "${labels}" PARENT_SCOPE)
endfunction()

# clusterd_test(NAME n SOURCES s... [LIBS l...] LABELS kind subject [TIMEOUT s]
#               [ARGS a...])
# Builds one test executable and registers it with ctest under its labels
# (a kind -- unit, sim, e2e, crash, fuzz, web, chaos -- and a subject).
function(clusterd_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  if(NOT T_LABELS)
    message(FATAL_ERROR "test ${T_NAME} needs LABELS (kind and subject)")
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  clusterd_strict(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  clusterd_asan_labels(T_LABELS ${T_LABELS})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

# clusterd_script_test(NAME n COMMAND c... LABELS ... [TIMEOUT s])
# Registers a test that runs a command (a shell or Python script).
function(clusterd_script_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  clusterd_asan_labels(T_LABELS ${T_LABELS})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "CLUSTERD_BUILD=${PROJECT_BINARY_DIR};CLUSTERD_SRC=${PROJECT_SOURCE_DIR}")
endfunction()
