# Provenance: the git commit is re-read at every build (not only at configure
# time) so that output files name the code that actually wrote them.
set(SGM_VERSION_IN ${CMAKE_CURRENT_LIST_DIR}/sgm_version.h.in)
set(SGM_VERSION_OUT ${CMAKE_BINARY_DIR}/generated/sgm_version.h)
add_custom_target(sgm_version_header
  COMMAND ${CMAKE_COMMAND}
          -DSRC_DIR=${CMAKE_SOURCE_DIR} -DIN=${SGM_VERSION_IN} -DOUT=${SGM_VERSION_OUT}
          -DVERSION=${PROJECT_VERSION} -DCOMPILER=${CMAKE_C_COMPILER_ID}-${CMAKE_C_COMPILER_VERSION}
          -DHDF5_VERSION=${HDF5_VERSION}
          -P ${CMAKE_CURRENT_LIST_DIR}/SgmWriteVersion.cmake
  BYPRODUCTS ${SGM_VERSION_OUT}
  COMMENT "Recording the git commit")
