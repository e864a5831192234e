/* Reading small row-major matrices (e.g. --points) from HDF5 files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output/h5_impl.h"
#include "sgm/error.h"
#include "sgm/output.h"

/* Opens path and name read-only; reports problems as label: path: cause. */
static int open_matrix(const char *label, const char *path, const char *name,
                       hid_t *file, hid_t *dset) {
  *file = *dset = H5I_INVALID_HID;
  SGM_CHECK(access(path, R_OK) == 0, SGM_ERR_IO, "%s '%s': cannot read: %s",
            label, path, strerror(errno));
  SGM_CHECK(H5Fis_hdf5(path) > 0, SGM_ERR_INPUT, "%s '%s': not an HDF5 file",
            label, path);
  *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*file < 0)
    return SGM_H5_ERROR("%s '%s': cannot open", label, path);
  if (H5Lexists(*file, name, H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    H5Fclose(*file);
    *file = H5I_INVALID_HID;
    SGM_CHECK(0, SGM_ERR_INPUT, "%s '%s': no dataset %s", label, path, name);
  }
  *dset = H5Dopen2(*file, name, H5P_DEFAULT);
  if (*dset < 0) {
    H5Fclose(*file);
    *file = H5I_INVALID_HID;
    return SGM_H5_ERROR("%s '%s': %s is not a dataset", label, path, name);
  }
  return 0;
}

static void close_matrix(hid_t file, hid_t dset) {
  if (dset >= 0)
    H5Dclose(dset);
  if (file >= 0)
    H5Fclose(file);
}

static int read_shape(const char *label, const char *path, const char *name,
                      int64_t shape[2]) {
  hid_t file, dset;
  SGM_CALL(open_matrix(label, path, name, &file, &dset));
  int err = 0;
  hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
  H5T_class_t cls = H5Tget_class(type);
  int rank = H5Sget_simple_extent_ndims(space);
  hsize_t dims[H5S_MAX_RANK] = {0};
  H5Sget_simple_extent_dims(space, dims, NULL);
  H5Tclose(type);
  H5Sclose(space);
  close_matrix(file, dset);
  SGM_CHECK(cls == H5T_FLOAT || cls == H5T_INTEGER, SGM_ERR_INPUT,
            "%s '%s': %s is not numeric", label, path, name);
  SGM_CHECK(rank == 1 || rank == 2, SGM_ERR_INPUT,
            "%s '%s': %s has %d dimensions; expected n x d", label, path, name,
            rank);
  shape[0] = (int64_t)dims[0];
  shape[1] = rank == 2 ? (int64_t)dims[1] : 1;
  SGM_CHECK(shape[0] >= 1 && shape[1] >= 1, SGM_ERR_INPUT,
            "%s '%s': %s is empty (%lld x %lld)", label, path, name,
            (long long)shape[0], (long long)shape[1]);
  return err;
}

int sgm_input_matrix_shape(MPI_Comm comm, const char *label, const char *path,
                           const char *name, int64_t *rows, int64_t *cols) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int64_t shape[2] = {0, 0};
  int err = rank == 0 ? read_shape(label, path, name, shape) : 0;
  SGM_CALL(sgm_error_agree(comm, err));
  SGM_MPI(MPI_Bcast(shape, 2, MPI_INT64_T, 0, comm));
  *rows = shape[0];
  *cols = shape[1];
  return 0;
}

int sgm_input_matrix_rows(const char *label, const char *path, const char *name,
                          int64_t first, int64_t count, int64_t cols,
                          double *out) {
  if (count <= 0)
    return 0;
  hid_t file, dset;
  SGM_CALL(open_matrix(label, path, name, &file, &dset));
  int err = 0;
  hid_t space = H5Dget_space(dset);
  int rank = H5Sget_simple_extent_ndims(space);
  hsize_t start[2] = {(hsize_t)first, 0},
          extent[2] = {(hsize_t)count, (hsize_t)cols};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, extent, NULL);
  hid_t mem = H5Screate_simple(rank, extent, NULL);
  if (H5Dread(dset, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, out) < 0)
    err = SGM_H5_ERROR("%s '%s': reading %s", label, path, name);
  H5Sclose(mem);
  H5Sclose(space);
  close_matrix(file, dset);
  if (err)
    return err;
  for (int64_t i = 0; i < count; i++)
    for (int64_t k = 0; k < cols; k++)
      SGM_CHECK(isfinite(out[i * cols + k]), SGM_ERR_INPUT,
                "%s '%s': row %lld of %s contains %s", label, path,
                (long long)(first + i), name,
                isnan(out[i * cols + k]) ? "NaN" : "Inf");
  return 0;
}
