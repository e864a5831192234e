# sgm_add_test(NAME name SOURCES src... [RANKS n...] [LABELS l...]
#              [ARGS a...] [TIMEOUT s])
#
# Builds one test program and registers it with ctest, once per rank count
# in RANKS (as name_npN, launched through mpiexec) or once without mpiexec
# when RANKS is empty.  The environment makes Open MPI safe as root and
# oversubscribed on a 2-core machine: without yield_when_idle, ranks that
# outnumber the cores busy-poll and run about ten times slower.
set(SGM_TEST_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_rmaps_base_oversubscribe=1
  OMPI_MCA_mpi_yield_when_idle=1
  OMPI_MCA_hwloc_base_binding_policy=none
  OMPI_MCA_odls_base_sigkill_timeout=0
  OPENBLAS_NUM_THREADS=1
  SGM_TEST_TMPDIR=${CMAKE_BINARY_DIR}/test-scratch
  SGM_BUILD_DIR=${CMAKE_BINARY_DIR}
  SGM_SOURCE_DIR=${CMAKE_SOURCE_DIR}
  MPIEXEC=${MPIEXEC_EXECUTABLE})

# Under the sanitizers (SGM_SANITIZE, scripts/test --sanitize) every process a
# test starts, ranks under mpiexec included (they inherit the environment),
# stops at the first ASan, UBSan or leak report (third-party leaks:
# tests/sanitize/lsan.supp and mpi_lsan.c).
# Test timeouts are multiplied by SGM_TEST_TIMEOUT_SCALE (default 4 with the
# sanitizers, else 1; the environment variable of that name sets the default).
if(SGM_SANITIZE)
  list(APPEND SGM_TEST_ENV
    ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
    LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/sanitize/lsan.supp:print_suppressions=0
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1)
  set(scale 4)
else()
  set(scale 1)
endif()
# Every test command of a sanitizer build goes through lsan-retry, which runs
# a test a second time only when LeakSanitizer's own tracer crashed.
if(SGM_SANITIZE)
  set(SGM_TEST_LAUNCHER ${PROJECT_SOURCE_DIR}/tests/sanitize/lsan-retry)
else()
  set(SGM_TEST_LAUNCHER "")
endif()
if(DEFINED ENV{SGM_TEST_TIMEOUT_SCALE})
  set(scale $ENV{SGM_TEST_TIMEOUT_SCALE})
endif()
set(SGM_TEST_TIMEOUT_SCALE ${scale} CACHE STRING
    "Factor applied to every test's timeout (slow builds: sanitizers)")
list(APPEND SGM_TEST_ENV SGM_TEST_TIMEOUT_SCALE=${SGM_TEST_TIMEOUT_SCALE})

# Scales the TIMEOUT of every test of the calling directory once it has been
# read to the end (deferred), so tests added with a plain add_test count too.
function(sgm__scale_timeouts)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    get_test_property(${test} TIMEOUT timeout)
    if(timeout)
      math(EXPR timeout "${timeout} * ${SGM_TEST_TIMEOUT_SCALE}")
      set_tests_properties(${test} PROPERTIES TIMEOUT ${timeout})
    endif()
  endforeach()
endfunction()

function(sgm__defer_timeout_scaling)
  get_property(done DIRECTORY PROPERTY SGM_TIMEOUTS_DEFERRED)
  if(NOT done AND NOT SGM_TEST_TIMEOUT_SCALE EQUAL 1)
    set_property(DIRECTORY PROPERTY SGM_TIMEOUTS_DEFERRED TRUE)
    cmake_language(DEFER CALL sgm__scale_timeouts)
  endif()
endfunction()

function(sgm_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;RANKS;LABELS;ARGS" ${ARGN})
  sgm__defer_timeout_scaling()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE sgm sgm_testing)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(T_RANKS)
    foreach(n IN LISTS T_RANKS)
      set(test ${T_NAME}_np${n})
      add_test(NAME ${test}
               COMMAND ${SGM_TEST_LAUNCHER} ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n}
                       ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${T_NAME}> ${T_ARGS})
      set_tests_properties(${test} PROPERTIES
        ENVIRONMENT "${SGM_TEST_ENV}" LABELS "${T_LABELS}" PROCESSORS ${n}
        TIMEOUT ${T_TIMEOUT})
    endforeach()
  else()
    add_test(NAME ${T_NAME} COMMAND ${SGM_TEST_LAUNCHER} $<TARGET_FILE:${T_NAME}> ${T_ARGS})
    set_tests_properties(${T_NAME} PROPERTIES
      ENVIRONMENT "${SGM_TEST_ENV}" LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()

# sgm_add_script_test(NAME name COMMAND cmd... [LABELS l...] [PROCESSORS n])
# Registers a shell- or Python-driven test of the sgmrun executable.
function(sgm_add_script_test)
  cmake_parse_arguments(T "" "NAME;PROCESSORS;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT T_PROCESSORS)
    set(T_PROCESSORS 1)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  sgm__defer_timeout_scaling()
  add_test(NAME ${T_NAME} COMMAND ${SGM_TEST_LAUNCHER} ${T_COMMAND})
  set_tests_properties(${T_NAME} PROPERTIES
    ENVIRONMENT "${SGM_TEST_ENV};SGMRUN=$<TARGET_FILE:sgmrun>;PYTHONPATH=${PROJECT_SOURCE_DIR}/tests/common"
    LABELS "${T_LABELS}" PROCESSORS ${T_PROCESSORS} TIMEOUT ${T_TIMEOUT})
endfunction()
