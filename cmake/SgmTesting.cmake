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

function(sgm_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;RANKS;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE sgm sgm_testing)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(T_RANKS)
    foreach(n IN LISTS T_RANKS)
      set(test ${T_NAME}_np${n})
      add_test(NAME ${test}
               COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n}
                       ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${T_NAME}> ${T_ARGS})
      set_tests_properties(${test} PROPERTIES
        ENVIRONMENT "${SGM_TEST_ENV}" LABELS "${T_LABELS}" PROCESSORS ${n}
        TIMEOUT ${T_TIMEOUT})
    endforeach()
  else()
    add_test(NAME ${T_NAME} COMMAND $<TARGET_FILE:${T_NAME}> ${T_ARGS})
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
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
  set_tests_properties(${T_NAME} PROPERTIES
    ENVIRONMENT "${SGM_TEST_ENV};SGMRUN=$<TARGET_FILE:sgmrun>;PYTHONPATH=${PROJECT_SOURCE_DIR}/tests/common"
    LABELS "${T_LABELS}" PROCESSORS ${T_PROCESSORS} TIMEOUT ${T_TIMEOUT})
endfunction()
