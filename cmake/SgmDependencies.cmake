# Finds every third-party dependency and exposes each as an imported target.
# All come from Debian packages; scripts/bootstrap installs the missing ones.

find_package(MPI REQUIRED COMPONENTS C)

# Parallel HDF5.  FindHDF5 searches PATH and may settle on a serial build when
# both are installed; pointing it at the Open MPI compiler wrapper is the
# reliable way (scripts/bootstrap does), and we refuse a serial library here.
set(HDF5_PREFER_PARALLEL ON)
if(NOT HDF5_C_COMPILER_EXECUTABLE AND EXISTS /usr/bin/h5pcc.openmpi)
  set(HDF5_C_COMPILER_EXECUTABLE /usr/bin/h5pcc.openmpi CACHE FILEPATH
      "HDF5 compiler wrapper (parallel build)")
endif()
find_package(HDF5 REQUIRED COMPONENTS C HL)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "The HDF5 found (${HDF5_C_LIBRARIES}) is a serial build; sgmrun needs "
    "parallel HDF5.  Install libhdf5-openmpi-dev and configure a fresh build "
    "directory with -DHDF5_C_COMPILER_EXECUTABLE=/usr/bin/h5pcc.openmpi.")
endif()
add_library(sgm_hdf5 INTERFACE)
target_include_directories(sgm_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_compile_definitions(sgm_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
# HL provides the dimension-scale API (H5DS).
target_link_libraries(sgm_hdf5 INTERFACE ${HDF5_C_HL_LIBRARIES}
                      ${HDF5_C_LIBRARIES} MPI::MPI_C)

# OpenBLAS, linked directly so that GSL's cblas symbols bind to it too.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_package(LAPACK REQUIRED)
find_path(SGM_CBLAS_INCLUDE_DIR cblas.h
          PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas
          REQUIRED)

# OpenMP (GCC's libgomp): the threads of one rank's score kernel.
find_package(OpenMP REQUIRED COMPONENTS C)

find_package(PkgConfig REQUIRED)
pkg_check_modules(SCALAPACK REQUIRED IMPORTED_TARGET scalapack-openmpi)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
find_package(GSL REQUIRED)
find_package(ZLIB REQUIRED)

find_path(SGM_RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)
