/* Parallel HDF5 files: creation, collective hyperslab writes, attributes. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/h5_impl.h"
#include "sgm/error.h"
#include "sgm/output.h"

void sgm_output_init(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Collects the outermost and the innermost message of HDF5's error stack. */
struct h5_cause {
  char outer[256], inner[256];
};

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  struct h5_cause *c = data;
  if (e->desc) {
    if (n == 0)
      snprintf(c->outer, sizeof c->outer, "%s", e->desc);
    snprintf(c->inner, sizeof c->inner, "%s", e->desc);
  }
  return 0;
}

/* errno values worth naming after a failed write: the ones a user can act
 * on (a full disk, a quota, a size limit, a read-only file system). */
static const char *storage_cause(int code) {
  switch (code) {
  case ENOSPC:
  case EFBIG:
  case EDQUOT:
  case EROFS:
  case EACCES:
  case EIO:
    return strerror(code);
  default:
    return NULL;
  }
}

int sgm__h5_error(const char *what, const char *file, int line,
                  const char *func) {
  const char *storage = storage_cause(errno);
  struct h5_cause c = {"", ""};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &c);
  H5Eclear2(H5E_DEFAULT);
  const bool two = c.inner[0] && strcmp(c.inner, c.outer) != 0;
  return sgm_error_set(SGM_ERR_HDF5, file, line, func, "%s%s%s%s%s%s%s%s", what,
                       c.outer[0] ? ": " : "", c.outer, two ? " (" : "",
                       two ? c.inner : "", two ? ")" : "", storage ? "; " : "",
                       storage ? storage : "");
}

int sgm__h5_error_fmt(const char *file, int line, const char *func,
                      const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return sgm__h5_error(what, file, line, func);
}

int sgm__h5_select(hid_t fspace, int rank, const hsize_t *start,
                   const hsize_t *extent, int empty, hid_t *mspace) {
  if (!empty) {
    *mspace = H5Screate_simple(rank, extent, NULL);
    return *mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start,
                                              NULL, extent, NULL) < 0
               ? -1
               : 0;
  }
  const hsize_t one = 1;
  *mspace = H5Screate_simple(1, &one, NULL);
  return *mspace < 0 || H5Sselect_none(*mspace) < 0 ||
                 H5Sselect_none(fspace) < 0
             ? -1
             : 0;
}

hid_t sgm_output_file(const sgm_output_t *out) { return out->file; }

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* A handle for path, written under `written` (path or path.partial). */
static int new_handle(MPI_Comm comm, const char *path, bool atomic,
                      sgm_output_t **out) {
  sgm_output_t *o = NULL;
  SGM_CALL(SGM_CALLOC(o, 1));
  o->file = H5I_INVALID_HID;
  o->comm = comm;
  o->path = dup_string(path);
  size_t n = strlen(path) + sizeof ".partial";
  if (o->path && SGM_MALLOC(o->written, n) == 0)
    snprintf(o->written, n, "%s%s", path, atomic ? ".partial" : "");
  if (!o->path || !o->written) {
    free(o->path);
    free(o->written);
    free(o);
    return sgm_error_set(SGM_ERR_NOMEM, __FILE__, __LINE__, __func__,
                         "out of memory");
  }
  *out = o;
  return 0;
}

static void free_handle(sgm_output_t *o) {
  free(o->path);
  free(o->written);
  free(o);
}

int sgm_output_create(MPI_Comm comm, const char *path, int atomic,
                      sgm_output_t **out) {
  int err = 0, rank;
  *out = NULL;
  sgm_output_t *o = NULL;
  SGM_CALL(new_handle(comm, path, atomic != 0, &o));
  MPI_Comm_rank(comm, &rank);
  /* Creating replaces: only the directory needs checking. */
  err = sgm_error_agree(comm, rank == 0 ? sgm_output_check_path(path, 1) : 0);
  if (!err) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    o->file = H5Fcreate(o->written, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (o->file < 0)
      err = SGM_H5_ERROR("cannot create output file '%s'", o->written);
  }
  if (err) {
    free_handle(o);
    return err;
  }
  *out = o;
  return 0;
}

int sgm_output_open(MPI_Comm comm, const char *path, sgm_output_t **out) {
  *out = NULL;
  sgm_output_t *o = NULL;
  SGM_CALL(new_handle(comm, path, false, &o));
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  o->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  int err =
      o->file < 0 ? SGM_H5_ERROR("cannot reopen '%s' to resume it", path) : 0;
  if ((err = sgm_error_agree(comm, err)) != 0) {
    if (o->file >= 0)
      H5Fclose(o->file);
    free_handle(o);
    return err;
  }
  *out = o;
  return 0;
}

int sgm_output_publish(sgm_output_t *o) {
  if (strcmp(o->path, o->written) == 0)
    return 0;
  SGM_CALL(sgm_output_flush(o));
  int rank, err = 0;
  MPI_Comm_rank(o->comm, &rank);
  /* The ranks' open handles follow the file, not the name. */
  if (rank == 0 && rename(o->written, o->path) != 0)
    err = sgm_error_set(SGM_ERR_IO, __FILE__, __LINE__, __func__,
                        "cannot rename '%s' to '%s': %s", o->written, o->path,
                        strerror(errno));
  SGM_CALL(sgm_error_agree(o->comm, err));
  strcpy(o->written, o->path); /* written has room for path + ".partial" */
  return 0;
}

static bool abandoned;

void sgm_output_abandon(sgm_output_t **handle) {
  if (!handle || !*handle)
    return;
  free_handle(*handle);
  *handle = NULL;
  abandoned = true;
}

bool sgm_output_abandoned(void) { return abandoned; }

int sgm_output_close(sgm_output_t **handle, int commit) {
  if (!handle || !*handle)
    return 0;
  sgm_output_t *o = *handle;
  int err = 0, rank;
  MPI_Comm_rank(o->comm, &rank);
  if (H5Fclose(o->file) < 0)
    err = SGM_H5_ERROR("closing output file '%s'", o->written);
  err = sgm_error_agree(o->comm, err);
  if (rank == 0 && strcmp(o->path, o->written) != 0) {
    if (commit && !err) {
      if (rename(o->written, o->path) != 0)
        err = sgm_error_set(SGM_ERR_IO, __FILE__, __LINE__, __func__,
                            "cannot rename '%s' to '%s': %s", o->written,
                            o->path, strerror(errno));
    } else {
      unlink(o->written);
    }
  }
  err = sgm_error_agree(o->comm, err);
  free_handle(o);
  *handle = NULL;
  return err;
}

int sgm_output_write_rows(sgm_output_t *out, const char *name, hid_t type,
                          int64_t n_global, int64_t ncols, int64_t first,
                          int64_t count, const void *data,
                          const char *description, const char *units) {
  int err = 0;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  hid_t dset = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
  int rank = ncols > 0 ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)n_global, (hsize_t)ncols};
  /* Groups on the way ("final/particles") are created with the dataset. */
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  fspace = H5Screate_simple(rank, dims, NULL);
  dset =
      H5Dcreate2(out->file, name, type, fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (dset < 0) {
    err = SGM_H5_ERROR("creating dataset '%s'", name);
    goto done;
  }
  hsize_t start[2] = {(hsize_t)first, 0};
  hsize_t extent[2] = {(hsize_t)count, (hsize_t)ncols};
  if (sgm__h5_select(fspace, rank, start, extent, count == 0, &mspace) < 0) {
    err = SGM_H5_ERROR("selecting rows of dataset '%s'", name);
    goto done;
  }
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  if (H5Dwrite(dset, type, mspace, fspace, dxpl, data) < 0) {
    err = SGM_H5_ERROR("writing dataset '%s'", name);
    goto done;
  }
  SGM_CALL_GOTO(sgm_output_attr_string(dset, "description", description), done);
  SGM_CALL_GOTO(sgm_output_attr_string(dset, "units", units), done);
done:
  if (dxpl >= 0)
    H5Pclose(dxpl);
  if (mspace >= 0)
    H5Sclose(mspace);
  if (dset >= 0)
    H5Dclose(dset);
  if (fspace >= 0)
    H5Sclose(fspace);
  return err;
}

/* A scalar attribute (count < 0) or a 1-D one of count values. */
static int write_attr(hid_t obj, const char *name, hid_t type, int64_t count,
                      const void *value) {
  int err = 0;
  hsize_t n = count > 0 ? (hsize_t)count : 1;
  hid_t space =
      count < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
  if (H5Aexists(obj, name) > 0)
    H5Adelete(obj, name);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0 || H5Awrite(attr, type, value) < 0)
    err = SGM_H5_ERROR("writing attribute '%s'", name);
  if (attr >= 0)
    H5Aclose(attr);
  H5Sclose(space);
  return err;
}

int sgm_output_attr_string(hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, strlen(value) + 1);
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  int err = write_attr(obj, name, type, -1, value);
  H5Tclose(type);
  return err;
}

int sgm_output_attr_int64(hid_t obj, const char *name, int64_t value) {
  return write_attr(obj, name, H5T_NATIVE_INT64, -1, &value);
}

int sgm_output_attr_int64_array(hid_t obj, const char *name, int64_t count,
                                const int64_t *values) {
  return write_attr(obj, name, H5T_NATIVE_INT64, count, values);
}

int sgm_output_attr_double(hid_t obj, const char *name, double value) {
  return write_attr(obj, name, H5T_NATIVE_DOUBLE, -1, &value);
}
