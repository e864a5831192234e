# Warnings, optimisation and sanitizer flags shared by the library, the
# executable and the tests (through the sgm_flags interface target).
add_library(sgm_flags INTERFACE)
# ISO C17 plus POSIX.1-2008 (gmtime_r, gethostname, fsync, ...).
target_compile_definitions(sgm_flags INTERFACE _POSIX_C_SOURCE=200809L)
target_compile_options(sgm_flags INTERFACE
  -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow
  -Wno-unused-parameter -fno-math-errno)
if(SGM_WERROR)
  target_compile_options(sgm_flags INTERFACE -Werror)
endif()
if(SGM_NATIVE)
  target_compile_options(sgm_flags INTERFACE -march=native -mprefer-vector-width=512)
endif()
if(SGM_SANITIZE)
  target_compile_options(sgm_flags INTERFACE -fsanitize=address,undefined
                         -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(sgm_flags INTERFACE -fsanitize=address,undefined)
  # MPI_Init and MPI_Finalize wrappers that keep Open MPI's own allocations
  # out of LeakSanitizer's reports (see the file).  Their object goes into
  # every target, so each program defines them ahead of libmpi.
  add_library(sgm_mpi_lsan OBJECT
              ${PROJECT_SOURCE_DIR}/tests/sanitize/mpi_lsan.c)
  target_compile_options(sgm_mpi_lsan PRIVATE -Wall -Wextra
                         -Wno-unused-parameter $<$<BOOL:${SGM_WERROR}>:-Werror>)
  target_link_libraries(sgm_mpi_lsan PRIVATE MPI::MPI_C)
  target_sources(sgm_flags INTERFACE $<TARGET_OBJECTS:sgm_mpi_lsan>)
endif()
