/*
 * HDF5 data sets: a numeric dataset whose first dimension numbers the
 * examples (the other dimensions are flattened), and optionally an integer
 * labels dataset in the same file.  Every rank opens the file read-only with
 * the default (sec2) driver and reads its own rows with hyperslab selections,
 * letting HDF5 convert them to double.
 *
 * HDF5's automatic error printing is switched off around our calls (and
 * restored afterwards); the innermost message of its error stack goes into
 * ours instead.
 */
#include <hdf5.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"
#include "sgm/error.h"

#define H5_MAX_RANK (1 + SGM_DATASET_MAX_AXES)

typedef struct h5src {
  hid_t file, dset, labels;
  int rank;
  hsize_t dims[H5_MAX_RANK];
  char path[1024], name[512], lname[512];
} h5src_t;

typedef struct quiet {
  H5E_auto2_t func;
  void *data;
} quiet_t;

static void quiet_on(quiet_t *q) {
  q->func = NULL;
  q->data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_off(const quiet_t *q) {
  H5Eclear2(H5E_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static herr_t keep_innermost(unsigned n, const H5E_error2_t *e, void *data) {
  (void)n;
  if (e->desc && e->desc[0])
    snprintf(data, 256, "%s", e->desc);
  return 0;
}

/* The innermost message of HDF5's error stack (which is then cleared). */
static const char *cause(char buf[256]) {
  buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_innermost, buf);
  H5Eclear2(H5E_DEFAULT);
  if (!buf[0])
    snprintf(buf, 256, "no detail from HDF5");
  return buf;
}

static const char *class_name(H5T_class_t c) {
  switch (c) {
  case H5T_STRING:
    return "string";
  case H5T_COMPOUND:
    return "compound";
  case H5T_ENUM:
    return "enum";
  case H5T_BITFIELD:
    return "bitfield";
  case H5T_OPAQUE:
    return "opaque";
  case H5T_REFERENCE:
    return "reference";
  case H5T_VLEN:
    return "variable-length";
  case H5T_ARRAY:
    return "array";
  case H5T_TIME:
    return "time";
  default:
    return "unknown";
  }
}

static int open_dataset(h5src_t *h, const char *name, hid_t *out) {
  char why[256];
  *out = H5Dopen2(h->file, name, H5P_DEFAULT);
  if (*out >= 0)
    return 0;
  cause(why);
  htri_t exists = H5Lexists(h->file, name, H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  SGM_CHECK(exists <= 0, SGM_ERR_INPUT, "%s: %s is not a dataset (%s)", h->path,
            name, why);
  return sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                       "%s: no dataset %s", h->path, name);
}

/* Class, size and sign of a dataset's type. */
static int dataset_type(h5src_t *h, hid_t dset, const char *name,
                        H5T_class_t *cls, enum sgm__elem *elem) {
  hid_t type = H5Dget_type(dset);
  SGM_CHECK(type >= 0, SGM_ERR_HDF5, "%s: cannot read the type of %s", h->path,
            name);
  *cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  int is_signed = *cls == H5T_INTEGER && H5Tget_sign(type) != H5T_SGN_NONE;
  H5Tclose(type);
  if (*cls == H5T_FLOAT)
    *elem = size <= 4 ? SGM__ELEM_F32 : SGM__ELEM_F64;
  else if (size <= 1)
    *elem = is_signed ? SGM__ELEM_I8 : SGM__ELEM_U8;
  else if (size <= 2)
    *elem = is_signed ? SGM__ELEM_I16 : SGM__ELEM_U16;
  else if (size <= 4)
    *elem = is_signed ? SGM__ELEM_I32 : SGM__ELEM_U32;
  else
    *elem = is_signed ? SGM__ELEM_I64 : SGM__ELEM_U64;
  return 0;
}

/* Rank and dimensions of a dataset; scalars and empty spaces are errors. */
static int dataset_dims(h5src_t *h, hid_t dset, const char *name, int *rank,
                        hsize_t *dims) {
  hid_t space = H5Dget_space(dset);
  SGM_CHECK(space >= 0, SGM_ERR_HDF5, "%s: cannot read the shape of %s",
            h->path, name);
  H5S_class_t kind = H5Sget_simple_extent_type(space);
  *rank = H5Sget_simple_extent_ndims(space);
  if (kind == H5S_SIMPLE && *rank >= 1 && *rank <= H5_MAX_RANK)
    H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  SGM_CHECK(kind != H5S_SCALAR, SGM_ERR_INPUT,
            "%s: dataset %s is a scalar; it must be an array with the "
            "examples along its first dimension",
            h->path, name);
  SGM_CHECK(kind == H5S_SIMPLE && *rank >= 1, SGM_ERR_INPUT,
            "%s: dataset %s has no data (null dataspace)", h->path, name);
  SGM_CHECK(*rank <= H5_MAX_RANK, SGM_ERR_INPUT,
            "%s: dataset %s has %d dimensions (1 to %d supported)", h->path,
            name, *rank, H5_MAX_RANK);
  SGM_CHECK(dims[0] > 0, SGM_ERR_INPUT, "%s: dataset %s holds no examples",
            h->path, name);
  return 0;
}

static int open_labels(sgm__source_t *src, h5src_t *h, const char *lname) {
  snprintf(h->lname, sizeof h->lname, "%s", lname);
  SGM_CALL(open_dataset(h, lname, &h->labels));
  H5T_class_t cls;
  enum sgm__elem elem;
  SGM_CALL(dataset_type(h, h->labels, lname, &cls, &elem));
  SGM_CHECK(cls == H5T_INTEGER, SGM_ERR_INPUT,
            "%s: labels dataset %s must hold integers", h->path, lname);
  int rank;
  hsize_t dims[H5_MAX_RANK] = {0};
  SGM_CALL(dataset_dims(h, h->labels, lname, &rank, dims));
  SGM_CHECK(rank == 1 || (rank == 2 && dims[1] == 1), SGM_ERR_INPUT,
            "%s: labels dataset %s must be 1-D (one label per example)",
            h->path, lname);
  SGM_CHECK((int64_t)dims[0] == src->n, SGM_ERR_INPUT,
            "[data] labels: %s:%s holds %" PRId64 " labels but %s:%s holds "
            "%" PRId64 " examples",
            h->path, lname, (int64_t)dims[0], h->path, h->name, src->n);
  src->has_labels = 1;
  snprintf(src->labels_origin, sizeof src->labels_origin, "%.700s:%.300s",
           h->path, lname);
  return 0;
}

static int h5_open_quiet(sgm__source_t *src, const sgm_config_t *cfg) {
  const char *path = cfg->data.path;
  SGM_CHECK(path && path[0], SGM_ERR_CONFIG,
            "[data] source = hdf5 needs path (the HDF5 file)");
  const char *name =
      cfg->data.dataset && cfg->data.dataset[0] ? cfg->data.dataset : "/data";
  h5src_t *h = NULL;
  SGM_CALL(SGM_CALLOC(h, 1));
  h->file = h->dset = h->labels = H5I_INVALID_HID;
  src->impl = h;
  snprintf(h->path, sizeof h->path, "%s", path);
  snprintf(h->name, sizeof h->name, "%s", name);
  snprintf(src->origin, sizeof src->origin, "%s:%s", path, name);
  snprintf(src->where, sizeof src->where, "(%s:%s)", path, name);

  int64_t size;
  SGM_CALL(sgm__file_size(path, "hdf5", &size));
  char why[256];
  h->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  SGM_CHECK(h->file >= 0, SGM_ERR_INPUT, "%s: cannot open as HDF5 (%s)", path,
            cause(why));
  SGM_CALL(open_dataset(h, name, &h->dset));
  H5T_class_t cls;
  SGM_CALL(dataset_type(h, h->dset, name, &cls, &src->elem));
  SGM_CHECK(cls == H5T_INTEGER || cls == H5T_FLOAT, SGM_ERR_INPUT,
            "%s: dataset %s has a non-numeric type (%s); it must hold "
            "integers or floats",
            path, name, class_name(cls));
  SGM_CALL(dataset_dims(h, h->dset, name, &h->rank, h->dims));
  src->n = (int64_t)h->dims[0];
  int64_t d = 1;
  for (int a = 1; a < h->rank; a++) {
    d *= (int64_t)h->dims[a];
    SGM_CHECK(d <= INT32_MAX / 8, SGM_ERR_INPUT,
              "%s: examples of dataset %s are too large", path, name);
  }
  SGM_CHECK(d >= 1, SGM_ERR_INPUT, "%s: dataset %s has empty examples", path,
            name);
  src->d = (int)d;
  if (h->rank == 1) {
    src->naxes = 1;
    src->shape[0] = 1;
  } else {
    src->naxes = h->rank - 1;
    for (int a = 0; a < src->naxes; a++)
      src->shape[a] = (int64_t)h->dims[a + 1];
  }
  src->label_lo = 1;
  src->label_hi = 0;
  if (cfg->data.labels && cfg->data.labels[0])
    SGM_CALL(open_labels(src, h, cfg->data.labels));
  return 0;
}

static int h5_open(sgm__source_t *src, const sgm_config_t *cfg, int thorough) {
  (void)thorough;
  quiet_t q;
  quiet_on(&q);
  int err = h5_open_quiet(src, cfg);
  quiet_off(&q);
  return err;
}

/* Reads the run of len rows starting at source row first into out, as
 * mem_type; dset has rank dimensions dims. */
static int read_run(const h5src_t *h, hid_t dset, const char *name, int rank,
                    const hsize_t *dims, int64_t first, int64_t len,
                    hid_t mem_type, void *out) {
  hsize_t start[H5_MAX_RANK] = {0}, count[H5_MAX_RANK];
  hsize_t values = (hsize_t)len;
  start[0] = (hsize_t)first;
  count[0] = (hsize_t)len;
  for (int a = 1; a < rank; a++) {
    count[a] = dims[a];
    values *= dims[a];
  }
  char why[256];
  int err = 0;
  hid_t fspace = H5Dget_space(dset);
  hid_t mspace = H5Screate_simple(1, &values, NULL);
  SGM_CHECK_GOTO(fspace >= 0 && mspace >= 0, SGM_ERR_HDF5, done,
                 "%s: cannot select rows of %s (%s)", h->path, name,
                 cause(why));
  SGM_CHECK_GOTO(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count,
                                     NULL) >= 0,
                 SGM_ERR_HDF5, done, "%s: cannot select rows of %s (%s)",
                 h->path, name, cause(why));
  SGM_CHECK_GOTO(H5Dread(dset, mem_type, mspace, fspace, H5P_DEFAULT, out) >= 0,
                 SGM_ERR_HDF5, done,
                 "%s: cannot read examples %" PRId64 "..%" PRId64 " of %s (%s)",
                 h->path, first, first + len - 1, name, cause(why));
done:
  if (mspace >= 0)
    H5Sclose(mspace);
  if (fspace >= 0)
    H5Sclose(fspace);
  return err;
}

static int h5_rows(sgm__source_t *src, const int64_t *index, int64_t count,
                   double *y) {
  h5src_t *h = src->impl;
  quiet_t q;
  quiet_on(&q);
  int err = 0;
  for (int64_t i = 0; i < count && err == 0;) {
    int64_t len = sgm__run_length(index, count, i);
    err = read_run(h, h->dset, h->name, h->rank, h->dims, index[i], len,
                   H5T_NATIVE_DOUBLE, y + i * src->d);
    i += len;
  }
  quiet_off(&q);
  return err < 0 ? sgm_error_trace(err, __FILE__, __LINE__, __func__) : 0;
}

static int h5_labels(sgm__source_t *src, const int64_t *index, int64_t count,
                     int32_t *labels) {
  h5src_t *h = src->impl;
  const int64_t chunk = 1 << 20;
  int64_t *buf = NULL;
  SGM_CALL(SGM_MALLOC(buf, (size_t)(count < chunk ? count : chunk)));
  hsize_t dims[2] = {(hsize_t)src->n, 1};
  quiet_t q;
  quiet_on(&q);
  int err = 0;
  for (int64_t i = 0; i < count;) {
    int64_t len = sgm__run_length(index, count, i);
    if (len > chunk)
      len = chunk;
    /* A rank-2 (n, 1) labels dataset is read as n values all the same. */
    hid_t space = H5Dget_space(h->labels);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : 1;
    if (space >= 0)
      H5Sclose(space);
    SGM_CALL_GOTO(read_run(h, h->labels, h->lname, rank, dims, index[i], len,
                           H5T_NATIVE_INT64, buf),
                  done);
    for (int64_t j = 0; j < len; j++) {
      SGM_CHECK_GOTO(buf[j] >= INT32_MIN && buf[j] <= INT32_MAX, SGM_ERR_INPUT,
                     done,
                     "%s: label of example %" PRId64 " does not fit in 32 bits",
                     src->labels_origin, index[i] + j);
      labels[i + j] = (int32_t)buf[j];
    }
    i += len;
  }
done:
  quiet_off(&q);
  free(buf);
  return err;
}

static void h5_close(sgm__source_t *src) {
  h5src_t *h = src->impl;
  if (!h)
    return;
  quiet_t q;
  quiet_on(&q);
  if (h->labels >= 0)
    H5Dclose(h->labels);
  if (h->dset >= 0)
    H5Dclose(h->dset);
  if (h->file >= 0)
    H5Fclose(h->file);
  quiet_off(&q);
  free(h);
  src->impl = NULL;
}

const struct sgm__source_ops sgm__hdf5_ops = {"hdf5", h5_open, h5_rows,
                                              h5_labels, h5_close};
