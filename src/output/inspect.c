/*
 * Reading back what an sgmrun file holds (sgmrun info): the root attributes
 * as text, every dataset with its shape, stored type and units, and values
 * of 1-D datasets.  Serial and read-only, with HDF5's file locking off where
 * the library allows it, so that a file a running job is writing (HDF5
 * would otherwise refuse or wait on its lock) can still be looked at.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/h5_impl.h"
#include "sgm/error.h"
#include "sgm/output.h"

/* H5Pset_file_locking came with HDF5 1.10.7 and, on the 1.12 branch, with
 * 1.12.1. */
#if H5_VERSION_GE(1, 12, 1) ||                                                 \
    (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
#define SGM_HAVE_FILE_LOCKING 1
#else
#define SGM_HAVE_FILE_LOCKING 0
#endif

/* Array attributes longer than this are shown by their length only. */
#define ATTR_VALUES_SHOWN 8

int sgm__h5_read_string(hid_t obj, const char *name, char **value) {
  *value = NULL;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
  int err = 0;
  if (type < 0 || H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type))
    err = SGM_H5_ERROR("attribute '%s' is missing or not a string", name);
  size_t n = err ? 0 : H5Tget_size(type);
  if (!err)
    err = SGM_MALLOC(*value, n + 1);
  if (!err) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, n + 1);
    if (H5Aread(attr, mem, *value) < 0)
      err = SGM_H5_ERROR("reading attribute '%s'", name);
    H5Tclose(mem);
    (*value)[n] = '\0';
  }
  if (type >= 0)
    H5Tclose(type);
  if (attr >= 0)
    H5Aclose(attr);
  if (err) {
    free(*value);
    *value = NULL;
  }
  return err;
}

int sgm__h5_read_number(hid_t obj, const char *name, hid_t type, void *value) {
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  int err = attr < 0 || H5Aread(attr, type, value) < 0
                ? SGM_H5_ERROR("attribute '%s' is missing", name)
                : 0;
  if (attr >= 0)
    H5Aclose(attr);
  return err;
}

/* Room for one more element in a growing array. */
static int grow(void *array, int count, size_t size) {
  void **p = array;
  if (count & (count - 1)) /* capacities are powers of two */
    return 0;
  void *grown = realloc(*p, size * (size_t)(count ? 2 * count : 1));
  SGM_CHECK(grown, SGM_ERR_NOMEM, "out of memory");
  *p = grown;
  return 0;
}

static int dup_text(const char *text, char **out) {
  *out = strdup(text);
  SGM_CHECK(*out, SGM_ERR_NOMEM, "out of memory");
  return 0;
}

/* A numeric attribute of n elements as "v" or "v1, v2, ...". */
static int numbers_text(hid_t attr, int is_int, hssize_t n, char **text) {
  if (n > ATTR_VALUES_SHOWN || n < 1) {
    char buf[48];
    snprintf(buf, sizeof buf, "(%lld values)", (long long)n);
    return dup_text(buf, text);
  }
  int64_t ints[ATTR_VALUES_SHOWN];
  double reals[ATTR_VALUES_SHOWN];
  if (H5Aread(attr, is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE,
              is_int ? (void *)ints : (void *)reals) < 0)
    return SGM_H5_ERROR("reading a numeric attribute");
  char buf[ATTR_VALUES_SHOWN * 32] = "";
  size_t used = 0;
  for (hssize_t i = 0; i < n; i++) {
    int w = is_int ? snprintf(buf + used, sizeof buf - used, "%s%" PRId64,
                              i ? ", " : "", ints[i])
                   : snprintf(buf + used, sizeof buf - used, "%s%.10g",
                              i ? ", " : "", reals[i]);
    used += w > 0 ? (size_t)w : 0;
  }
  return dup_text(buf, text);
}

/* An attribute of obj as text: fixed-length strings as they are, numbers
 * printed, anything else (variable-length strings, compounds) by its
 * kind. */
static int attr_text(hid_t obj, const char *name, char **text) {
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0)
    return SGM_H5_ERROR("opening attribute '%s'", name);
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  H5T_class_t cls = H5Tget_class(type);
  int vlen = cls == H5T_STRING && H5Tis_variable_str(type) > 0;
  hssize_t n = H5Sget_simple_extent_npoints(space);
  int err = 0;
  if (cls == H5T_STRING && !vlen && n == 1)
    err = sgm__h5_read_string(obj, name, text);
  else if (cls == H5T_INTEGER || cls == H5T_FLOAT)
    err = numbers_text(attr, cls == H5T_INTEGER, n, text);
  else
    err = dup_text(cls == H5T_STRING ? "(string)" : "(other)", text);
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return err;
}

/* What the walks below collect into; err stops them. */
struct walk {
  sgm_output_info_t *info;
  int err;
};

static herr_t attr_cb(hid_t obj, const char *name, const H5A_info_t *ainfo,
                      void *data) {
  (void)ainfo;
  struct walk *w = data;
  sgm_output_info_t *in = w->info;
  int err = grow(&in->attr_names, in->nattrs, sizeof *in->attr_names);
  if (!err)
    err = grow(&in->attr_values, in->nattrs, sizeof *in->attr_values);
  char *value = NULL, *copy = NULL;
  if (!err)
    err = attr_text(obj, name, &value);
  if (!err)
    err = dup_text(name, &copy);
  if (err) {
    free(value);
    w->err = err;
    return -1;
  }
  in->attr_names[in->nattrs] = copy;
  in->attr_values[in->nattrs++] = value;
  return 0;
}

/* The stored type as NumPy would name it. */
static void type_name(hid_t type, char *buf, size_t len) {
  size_t bits = 8 * H5Tget_size(type);
  switch (H5Tget_class(type)) {
  case H5T_FLOAT:
    snprintf(buf, len, "float%zu", bits);
    break;
  case H5T_INTEGER:
    snprintf(buf, len, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "",
             bits);
    break;
  case H5T_STRING:
    snprintf(buf, len, "string");
    break;
  case H5T_ENUM:
    snprintf(buf, len, "enum");
    break;
  case H5T_COMPOUND:
    snprintf(buf, len, "compound");
    break;
  default:
    snprintf(buf, len, "other");
    break;
  }
}

static int describe_dataset(hid_t dset, const char *name,
                            sgm_output_dataset_t *d) {
  memset(d, 0, sizeof *d);
  hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
  hsize_t dims[H5S_MAX_RANK] = {0};
  int ndims = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
  if (ndims >= 0 && type >= 0)
    type_name(type, d->type, sizeof d->type);
  if (type >= 0)
    H5Tclose(type);
  if (space >= 0)
    H5Sclose(space);
  if (ndims < 0 || type < 0)
    return SGM_H5_ERROR("reading the shape of dataset /%s", name);
  d->ndims = ndims;
  for (int k = 0; k < ndims; k++)
    d->dims[k] = (int64_t)dims[k];
  int err = H5Aexists(dset, "units") > 0 ? attr_text(dset, "units", &d->units)
                                         : dup_text("", &d->units);
  size_t n = strlen(name) + 2;
  if (!err)
    err = SGM_MALLOC(d->name, n);
  if (!err) {
    snprintf(d->name, n, "/%s", name);
  } else {
    free(d->units);
    d->units = NULL;
  }
  return err;
}

static herr_t dataset_cb(hid_t group, const char *name, const H5L_info_t *link,
                         void *data) {
  struct walk *w = data;
  sgm_output_info_t *in = w->info;
  if (link->type != H5L_TYPE_HARD)
    return 0;
  hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  if (obj < 0) {
    w->err = SGM_H5_ERROR("opening /%s", name);
    return -1;
  }
  int err = 0;
  if (H5Iget_type(obj) == H5I_DATASET) {
    err = grow(&in->datasets, in->ndatasets, sizeof *in->datasets);
    if (!err)
      err = describe_dataset(obj, name, &in->datasets[in->ndatasets]);
    in->ndatasets += err == 0;
  }
  H5Oclose(obj);
  w->err = err;
  return err ? -1 : 0;
}

static int open_file(const char *path, hid_t *file) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if SGM_HAVE_FILE_LOCKING
  H5Pset_file_locking(fapl, 0, 1);
#endif
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  return *file < 0 ? SGM_H5_ERROR("'%s': cannot open", path) : 0;
}

/* The checks before HDF5 is asked to open path, each with its own message. */
static int check_file(const char *path) {
  if (access(path, R_OK) != 0) {
    const int code = errno;
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial", path);
    SGM_CHECK(code != ENOENT || access(partial, R_OK) != 0, SGM_ERR_IO,
              "'%s': no such file ('%s' exists: a run is creating it)", path,
              partial);
    SGM_CHECK(0, SGM_ERR_IO, "'%s': cannot read: %s", path, strerror(code));
  }
  htri_t is_hdf5 = H5Fis_hdf5(path);
  H5Eclear2(H5E_DEFAULT);
  SGM_CHECK(is_hdf5 > 0, SGM_ERR_INPUT, "'%s': not an HDF5 file", path);
  return 0;
}

int sgm_output_info_create(const char *path, sgm_output_info_t **out) {
  *out = NULL;
  SGM_CALL(check_file(path));
  sgm_output_info_t *info = NULL;
  SGM_CALL(SGM_CALLOC(info, 1));
  info->file = H5I_INVALID_HID;
  int err = dup_text(path, &info->path);
  if (!err)
    err = open_file(path, &info->file);
  if (!err && (H5Aexists(info->file, "command") <= 0 ||
               H5Aexists(info->file, "version") <= 0))
    err = sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                        "'%s': an HDF5 file, but not one sgmrun wrote (no "
                        "'command' or 'version' root attribute)",
                        path);
  struct walk w = {info, 0};
  if (!err && H5Aiterate2(info->file, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb,
                          &w) < 0)
    err = w.err ? w.err : SGM_H5_ERROR("'%s': listing attributes", path);
  if (!err &&
      H5Lvisit(info->file, H5_INDEX_NAME, H5_ITER_INC, dataset_cb, &w) < 0)
    err = w.err ? w.err : SGM_H5_ERROR("'%s': listing datasets", path);
  if (err) {
    /* The innermost message rarely names the file. */
    if (!strstr(sgm_error_message(), path))
      sgm_error_prefix(err, "'%s'", path);
    sgm_output_info_destroy(&info);
    return err;
  }
  *out = info;
  return 0;
}

const char *sgm_output_info_attr(const sgm_output_info_t *info,
                                 const char *name) {
  for (int i = 0; i < info->nattrs; i++)
    if (strcmp(info->attr_names[i], name) == 0)
      return info->attr_values[i];
  return NULL;
}

const sgm_output_dataset_t *
sgm_output_info_dataset(const sgm_output_info_t *info, const char *name) {
  for (int i = 0; i < info->ndatasets; i++)
    if (strcmp(info->datasets[i].name + (name[0] != '/'), name) == 0)
      return &info->datasets[i];
  return NULL;
}

int sgm_output_info_read(const sgm_output_info_t *info, const char *name,
                         int64_t first, int64_t count, double *values) {
  const sgm_output_dataset_t *d = sgm_output_info_dataset(info, name);
  SGM_CHECK(
      d && d->ndims == 1 &&
          (strncmp(d->type, "float", 5) == 0 || strstr(d->type, "int") != NULL),
      SGM_ERR_INPUT, "'%s': no 1-D numeric dataset %s", info->path, name);
  SGM_CHECK(first >= 0 && count >= 0 && first + count <= d->dims[0],
            SGM_ERR_INPUT, "'%s': %s has %lld elements, not [%lld, %lld)",
            info->path, d->name, (long long)d->dims[0], (long long)first,
            (long long)(first + count));
  if (count == 0)
    return 0;
  hid_t dset = H5Dopen2(info->file, d->name, H5P_DEFAULT);
  if (dset < 0)
    return SGM_H5_ERROR("'%s': cannot open dataset %s", info->path, d->name);
  hsize_t start = (hsize_t)first, extent = (hsize_t)count;
  hid_t fspace = H5Dget_space(dset), mspace = H5Screate_simple(1, &extent, 0);
  int err = 0;
  if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &extent, NULL) <
          0 ||
      H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, values) < 0)
    err = SGM_H5_ERROR("'%s': cannot read dataset %s", info->path, d->name);
  H5Sclose(mspace);
  H5Sclose(fspace);
  H5Dclose(dset);
  return err;
}

void sgm_output_info_destroy(sgm_output_info_t **handle) {
  if (!handle || !*handle)
    return;
  sgm_output_info_t *info = *handle;
  for (int i = 0; i < info->nattrs; i++) {
    free(info->attr_names[i]);
    free(info->attr_values[i]);
  }
  for (int i = 0; i < info->ndatasets; i++) {
    free(info->datasets[i].name);
    free(info->datasets[i].units);
  }
  free(info->attr_names);
  free(info->attr_values);
  free(info->datasets);
  if (info->file >= 0)
    H5Fclose(info->file);
  free(info->path);
  free(info);
  *handle = NULL;
}
