/* Arrays: fixed-shape datasets whose axis-0 slabs are written one at a
 * time, in any order (the Jacobian analysis's times), by collective
 * transfers of one hyperslab per rank.  Unwritten elements read as the fill
 * value: NaN for floating types, -1 for integers, so that an analysis
 * stopped part way shows what is missing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/h5_impl.h"
#include "sgm/error.h"
#include "sgm/output.h"

#define ARRAY_MAX_RANK 8
/* Largest chunk, in bytes, before axis 1 is split. */
#define ARRAY_CHUNK_MAX ((size_t)16 << 20)
/* Largest array, in bytes, whose unwritten elements are filled. */
#define ARRAY_FILL_MAX ((size_t)256 << 20)

struct sgm_array {
  sgm_output_t *out;
  hid_t dset, type;
  int rank;
  hsize_t dims[ARRAY_MAX_RANK];
  size_t row_elems; /* elements per index of axis 1 */
  char *name;
};

static hid_t make_dcpl(const struct sgm_array *a, hid_t type) {
  hsize_t chunk[ARRAY_MAX_RANK];
  size_t bytes = H5Tget_size(type);
  chunk[0] = 1;
  for (int i = 1; i < a->rank; i++) {
    chunk[i] = a->dims[i];
    bytes *= (size_t)a->dims[i];
  }
  if (a->rank > 1 && bytes > ARRAY_CHUNK_MAX) {
    size_t fit = ARRAY_CHUNK_MAX / (bytes / (size_t)a->dims[1]);
    chunk[1] = fit > 0 ? (hsize_t)fit : 1;
  }
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dcpl < 0)
    return dcpl;
  const double nan_fill = NAN;
  const int64_t int_fill = -1;
  const H5T_class_t cls = H5Tget_class(type);
  int bad = H5Pset_chunk(dcpl, a->rank, chunk) < 0;
  if (!bad && cls == H5T_FLOAT)
    bad = H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan_fill) < 0;
  else if (!bad && cls == H5T_INTEGER)
    bad = H5Pset_fill_value(dcpl, H5T_NATIVE_INT64, &int_fill) < 0;
  /* Parallel HDF5 allocates every chunk at creation and writes the fill
   * value there: for a large array (save_vectors = all) that would write
   * the whole file twice, so its unwritten parts are left undefined. */
  size_t total = H5Tget_size(type);
  for (int i = 0; i < a->rank; i++)
    total *= (size_t)a->dims[i];
  if (!bad && total > ARRAY_FILL_MAX)
    bad = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0;
  if (bad) {
    H5Pclose(dcpl);
    return H5I_INVALID_HID;
  }
  return dcpl;
}

void sgm_array_close(sgm_array_t **array) {
  if (!array || !*array)
    return;
  sgm_array_t *a = *array;
  if (a->dset >= 0)
    H5Dclose(a->dset);
  if (a->type >= 0)
    H5Tclose(a->type);
  free(a->name);
  free(a);
  *array = NULL;
}

/* A handle for the dataset `name`, nothing open yet. */
static int array_new(sgm_output_t *out, const char *name, sgm_array_t **a) {
  SGM_CALL(SGM_CALLOC(*a, 1));
  (*a)->out = out;
  (*a)->dset = (*a)->type = H5I_INVALID_HID;
  const size_t n = strlen(name) + 1;
  SGM_CALL(SGM_MALLOC((*a)->name, n));
  memcpy((*a)->name, name, n);
  return 0;
}

static void set_row_elems(sgm_array_t *a) {
  a->row_elems = 1;
  for (int i = 2; i < a->rank; i++)
    a->row_elems *= (size_t)a->dims[i];
}

/* Agrees on err over the file's ranks; hands a out, or frees it. */
static int array_finish(sgm_output_t *out, int err, sgm_array_t *a,
                        sgm_array_t **array) {
  err = sgm_error_agree(out->comm, err);
  if (err) {
    sgm_array_close(&a);
    return err;
  }
  *array = a;
  return 0;
}

int sgm_array_create(sgm_output_t *out, const char *name, hid_t type, int ndims,
                     const int64_t *dims, const char *description,
                     const char *units, sgm_array_t **array) {
  *array = NULL;
  sgm_array_t *a = NULL;
  int err = 0;
  if (ndims < 1 || ndims > ARRAY_MAX_RANK)
    err = sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                        "array '%s': %d dimensions", name, ndims);
  if (!err)
    err = array_new(out, name, &a);
  if (!err) {
    a->rank = ndims;
    for (int i = 0; i < ndims; i++)
      a->dims[i] = (hsize_t)(dims[i] > 0 ? dims[i] : 0);
    set_row_elems(a);
  }
  err = sgm_error_agree(out->comm, err);
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
  if (!err) {
    a->type = H5Tcopy(type);
    space = H5Screate_simple(a->rank, a->dims, NULL);
    dcpl = make_dcpl(a, type);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (a->type < 0 || space < 0 || dcpl < 0 || lcpl < 0 ||
        H5Pset_create_intermediate_group(lcpl, 1) < 0)
      err = SGM_H5_ERROR("preparing array '%s'", name);
    if (!err) {
      a->dset =
          H5Dcreate2(out->file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
      if (a->dset < 0)
        err = SGM_H5_ERROR("creating array '%s'", name);
    }
    if (!err)
      err = sgm_output_attr_string(a->dset, "description", description);
    if (!err)
      err = sgm_output_attr_string(a->dset, "units", units);
  }
  if (lcpl >= 0)
    H5Pclose(lcpl);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (space >= 0)
    H5Sclose(space);
  return array_finish(out, err, a, array);
}

int sgm_array_open(sgm_output_t *out, const char *name, sgm_array_t **array) {
  *array = NULL;
  sgm_array_t *a = NULL;
  int err = array_new(out, name, &a);
  hid_t space = H5I_INVALID_HID;
  if (!err) {
    a->dset = H5Dopen2(out->file, name, H5P_DEFAULT);
    space = a->dset >= 0 ? H5Dget_space(a->dset) : H5I_INVALID_HID;
    a->rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (a->rank < 1 || a->rank > ARRAY_MAX_RANK)
      err = SGM_H5_ERROR("reopening array '%s'", name);
    else {
      H5Sget_simple_extent_dims(space, a->dims, NULL);
      set_row_elems(a);
      a->type = H5Dget_type(a->dset);
      if (a->type < 0)
        err = SGM_H5_ERROR("type of array '%s'", name);
    }
  }
  if (space >= 0)
    H5Sclose(space);
  return array_finish(out, err, a, array);
}

int sgm_array_write(sgm_array_t *a, int64_t index, int64_t first, int64_t count,
                    hid_t mem_type, const void *data) {
  int err = 0;
  const int64_t rows = a->rank > 1 ? (int64_t)a->dims[1] : 1;
  if (index < 0 || (hsize_t)index >= a->dims[0] || first < 0 || count < 0 ||
      first + count > rows)
    err = sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                        "array '%s': slab %lld rows [%lld, %lld) outside "
                        "%llu x %lld",
                        a->name, (long long)index, (long long)first,
                        (long long)(first + count),
                        (unsigned long long)a->dims[0], (long long)rows);
  SGM_CALL(sgm_error_agree(a->out->comm, err));
  hsize_t start[ARRAY_MAX_RANK] = {0}, extent[ARRAY_MAX_RANK];
  start[0] = (hsize_t)index;
  extent[0] = 1;
  for (int i = 1; i < a->rank; i++)
    extent[i] = a->dims[i];
  if (a->rank > 1) {
    start[1] = (hsize_t)first;
    extent[1] = (hsize_t)count;
  }
  hid_t fspace = H5Dget_space(a->dset), mspace = H5I_INVALID_HID;
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (fspace < 0 || dxpl < 0 ||
      H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    err = SGM_H5_ERROR("preparing a write of array '%s'", a->name);
  if (!err &&
      sgm__h5_select(fspace, a->rank, start, extent, count == 0, &mspace) < 0)
    err = SGM_H5_ERROR("selecting slab %lld of array '%s'", (long long)index,
                       a->name);
  err = sgm_error_agree(a->out->comm, err);
  if (!err) {
    static const double nothing = 0;
    if (H5Dwrite(a->dset, mem_type, mspace, fspace, dxpl,
                 count > 0 ? data : &nothing) < 0)
      err = SGM_H5_ERROR("writing slab %lld of array '%s' to '%s'",
                         (long long)index, a->name, a->out->written);
    err = sgm_error_agree(a->out->comm, err);
  }
  if (mspace >= 0)
    H5Sclose(mspace);
  if (fspace >= 0)
    H5Sclose(fspace);
  if (dxpl >= 0)
    H5Pclose(dxpl);
  return err;
}

hid_t sgm_array_dataset(const sgm_array_t *array) { return array->dset; }
