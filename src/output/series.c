/* Series: extendible datasets that grow by one save step per append, written
 * collectively (SWIFT's recipe: one hyperslab per rank, ranks with nothing to
 * write select none), and the flush that makes what was written survive a
 * later kill. */
#include <stdlib.h>
#include <string.h>

#include <hdf5_hl.h>

#include "output/h5_impl.h"
#include "sgm/error.h"
#include "sgm/output.h"

/* Largest chunk, in bytes of the stored type, before axis 1 is split. */
#define SERIES_CHUNK_MAX ((size_t)16 << 20)

/* Elements converted at a time from the caller's type to the stored one. */
#define SERIES_CONVERT_BLOCK ((size_t)1 << 15)

/* Axes of a series: the save step, then the caller's dims. */
#define SERIES_MAX_RANK 8

struct sgm_series {
  sgm_output_t *out;
  hid_t dset;
  hid_t file_type; /* copies, so that callers may close theirs */
  hid_t mem_type;
  int convert; /* mem_type differs from file_type: convert before writing */
  enum sgm_series_kind kind;
  int rank;                      /* 1 + ndims */
  hsize_t dims[SERIES_MAX_RANK]; /* dims[0] is the length */
  size_t row_elems;              /* elements per index of axis 1 */
  size_t slab_elems;             /* elements per save step */
  H5D_mpio_actual_io_mode_t io_mode;
  uint32_t no_collective_cause;
  unsigned char *scratch; /* converted slab, kept across appends */
  size_t scratch_bytes;
  char *name;
};

/* Chunk shape: one save step, axis 1 split if that exceeds the limit. */
static void chunk_shape(const struct sgm_series *s, size_t type_size,
                        hsize_t *chunk) {
  chunk[0] = 1;
  for (int i = 1; i < s->rank; i++)
    chunk[i] = s->dims[i];
  if (s->rank > 1 && s->slab_elems * type_size > SERIES_CHUNK_MAX) {
    size_t fit = SERIES_CHUNK_MAX / (s->row_elems * type_size);
    chunk[1] = fit > 0 ? (hsize_t)fit : 1;
  }
}

/* The dataset creation properties: chunked, and never filled, since every
 * appended slab is written whole and filling would write it twice. */
static hid_t make_dcpl(const struct sgm_series *s) {
  hsize_t chunk[SERIES_MAX_RANK];
  chunk_shape(s, H5Tget_size(s->file_type), chunk);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dcpl < 0)
    return dcpl;
  if (H5Pset_chunk(dcpl, s->rank, chunk) < 0 ||
      H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) {
    H5Pclose(dcpl);
    return H5I_INVALID_HID;
  }
  return dcpl;
}

static int check_arguments(enum sgm_series_kind kind, hid_t file_type,
                           hid_t mem_type, int ndims, const int64_t *dims,
                           const char *name) {
  SGM_CHECK(kind == SGM_SERIES_PARTICLES || kind == SGM_SERIES_ENSEMBLE,
            SGM_ERR_INTERNAL, "series '%s': unknown kind %d", name, (int)kind);
  SGM_CHECK(ndims >= 0 && ndims < SERIES_MAX_RANK, SGM_ERR_INTERNAL,
            "series '%s': %d dimensions (0 to %d allowed)", name, ndims,
            SERIES_MAX_RANK - 1);
  SGM_CHECK(kind != SGM_SERIES_PARTICLES || ndims >= 1, SGM_ERR_INTERNAL,
            "series '%s': a per-particle series needs a particle axis", name);
  for (int i = 0; i < ndims; i++)
    SGM_CHECK(dims[i] >= 1, SGM_ERR_INTERNAL,
              "series '%s': dimension %d is %lld (must be positive)", name, i,
              (long long)dims[i]);
  SGM_CHECK(H5Tget_size(file_type) > 0 && H5Tget_size(mem_type) > 0,
            SGM_ERR_INTERNAL, "series '%s': invalid HDF5 type", name);
  return 0;
}

static int create_dataset(struct sgm_series *s, const char *description,
                          const char *units) {
  int err = 0;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  hid_t lcpl = H5I_INVALID_HID;
  hsize_t maxdims[SERIES_MAX_RANK];
  maxdims[0] = H5S_UNLIMITED;
  for (int i = 1; i < s->rank; i++)
    maxdims[i] = s->dims[i];
  space = H5Screate_simple(s->rank, s->dims, maxdims);
  dcpl = make_dcpl(s);
  lcpl = H5Pcreate(H5P_LINK_CREATE);
  if (space < 0 || dcpl < 0 || lcpl < 0 ||
      H5Pset_create_intermediate_group(lcpl, 1) < 0) {
    err = SGM_H5_ERROR("preparing series '%s'", s->name);
    goto done;
  }
  s->dset = H5Dcreate2(s->out->file, s->name, s->file_type, space, lcpl, dcpl,
                       H5P_DEFAULT);
  if (s->dset < 0) {
    err = SGM_H5_ERROR("creating series '%s'", s->name);
    goto done;
  }
  SGM_CALL_GOTO(sgm_output_attr_string(s->dset, "description", description),
                done);
  SGM_CALL_GOTO(sgm_output_attr_string(s->dset, "units", units), done);
done:
  if (lcpl >= 0)
    H5Pclose(lcpl);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (space >= 0)
    H5Sclose(space);
  return err;
}

static void series_free(struct sgm_series *s) {
  if (s->dset >= 0)
    H5Dclose(s->dset);
  if (s->file_type >= 0)
    H5Tclose(s->file_type);
  if (s->mem_type >= 0)
    H5Tclose(s->mem_type);
  free(s->scratch);
  free(s->name);
  free(s);
}

int sgm_series_create(sgm_output_t *out, const char *name,
                      enum sgm_series_kind kind, hid_t file_type,
                      hid_t mem_type, int ndims, const int64_t *dims,
                      const char *description, const char *units,
                      sgm_series_t **series) {
  *series = NULL;
  struct sgm_series *s = NULL;
  int err = check_arguments(kind, file_type, mem_type, ndims, dims, name);
  if (!err)
    err = SGM_CALLOC(s, 1);
  if (!err) {
    s->out = out;
    s->dset = s->file_type = s->mem_type = H5I_INVALID_HID;
    s->kind = kind;
    s->rank = 1 + ndims;
    s->dims[0] = 0;
    s->row_elems = 1;
    for (int i = 0; i < ndims; i++) {
      s->dims[1 + i] = (hsize_t)dims[i];
      if (i > 0)
        s->row_elems *= (size_t)dims[i];
    }
    s->slab_elems = ndims > 0 ? s->row_elems * (size_t)dims[0] : 1;
    s->io_mode = H5D_MPIO_NO_COLLECTIVE;
    size_t n = strlen(name) + 1;
    err = SGM_MALLOC(s->name, n);
    if (!err) {
      memcpy(s->name, name, n);
      s->file_type = H5Tcopy(file_type);
      s->mem_type = H5Tcopy(mem_type);
      htri_t same = H5Tequal(file_type, mem_type);
      if (s->file_type < 0 || s->mem_type < 0 || same < 0)
        err = SGM_H5_ERROR("copying the types of series '%s'", name);
      s->convert = same == 0;
    }
  }
  /* Nothing collective has happened yet: agree before creating, so that a
   * rank that failed above does not leave the others in H5Dcreate. */
  err = sgm_error_agree(out->comm, err);
  if (!err)
    err = sgm_error_agree(out->comm, create_dataset(s, description, units));
  if (err) {
    if (s)
      series_free(s);
    return err;
  }
  *series = s;
  return 0;
}

int sgm_series_open(sgm_output_t *out, const char *name,
                    enum sgm_series_kind kind, hid_t mem_type,
                    sgm_series_t **series) {
  *series = NULL;
  struct sgm_series *s = NULL;
  int err = SGM_CALLOC(s, 1);
  hid_t space = H5I_INVALID_HID;
  if (!err) {
    s->out = out;
    s->dset = s->file_type = s->mem_type = H5I_INVALID_HID;
    s->kind = kind;
    s->io_mode = H5D_MPIO_NO_COLLECTIVE;
    size_t n = strlen(name) + 1;
    err = SGM_MALLOC(s->name, n);
    if (!err)
      memcpy(s->name, name, n);
  }
  if (!err) {
    s->dset = H5Dopen2(out->file, name, H5P_DEFAULT);
    space = s->dset >= 0 ? H5Dget_space(s->dset) : H5I_INVALID_HID;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (s->dset < 0 || rank < 1 || rank > SERIES_MAX_RANK ||
        (kind == SGM_SERIES_PARTICLES && rank < 2))
      err = SGM_H5_ERROR("reopening series '%s'", name);
    else {
      s->rank = rank;
      H5Sget_simple_extent_dims(space, s->dims, NULL);
      s->row_elems = 1;
      for (int i = 2; i < rank; i++)
        s->row_elems *= (size_t)s->dims[i];
      s->slab_elems = rank > 1 ? s->row_elems * (size_t)s->dims[1] : 1;
      s->file_type = H5Dget_type(s->dset);
      s->mem_type = H5Tcopy(mem_type);
      htri_t same = H5Tequal(s->file_type, mem_type);
      if (s->file_type < 0 || s->mem_type < 0 || same < 0)
        err = SGM_H5_ERROR("types of series '%s'", name);
      s->convert = same == 0;
    }
  }
  if (space >= 0)
    H5Sclose(space);
  err = sgm_error_agree(out->comm, err);
  if (err) {
    if (s)
      series_free(s);
    return err;
  }
  *series = s;
  return 0;
}

int sgm_series_truncate(sgm_series_t *s, int64_t length) {
  int err = 0;
  if (length < 0 || (hsize_t)length > s->dims[0])
    err = sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                        "series '%s' holds %llu save steps, not %lld", s->name,
                        (unsigned long long)s->dims[0], (long long)length);
  SGM_CALL(sgm_error_agree(s->out->comm, err));
  if ((hsize_t)length == s->dims[0])
    return 0;
  hsize_t dims[SERIES_MAX_RANK];
  memcpy(dims, s->dims, sizeof dims);
  dims[0] = (hsize_t)length;
  if (H5Dset_extent(s->dset, dims) < 0)
    err = SGM_H5_ERROR("shrinking series '%s' to %lld steps", s->name,
                       (long long)length);
  SGM_CALL(sgm_error_agree(s->out->comm, err));
  s->dims[0] = dims[0];
  return 0;
}

/* Selects this rank's part of save step `step` in the file space and builds
 * the matching memory space (nothing, for a rank that contributes none). */
static int select_slab(const struct sgm_series *s, int64_t step, int64_t first,
                       int64_t count, hid_t fspace, hid_t *mspace) {
  hsize_t start[SERIES_MAX_RANK] = {0}, extent[SERIES_MAX_RANK];
  start[0] = (hsize_t)step;
  extent[0] = 1;
  for (int i = 1; i < s->rank; i++)
    extent[i] = s->dims[i];
  if (s->rank > 1) {
    start[1] = (hsize_t)first;
    extent[1] = (hsize_t)count;
  }
  if (sgm__h5_select(fspace, s->rank, start, extent, count == 0, mspace) < 0)
    return SGM_H5_ERROR("selecting step %lld of series '%s'", (long long)step,
                        s->name);
  return 0;
}

/* HDF5 turns a transfer that converts types into independent I/O, so the
 * conversion is done here and the write stays one collective transfer in the
 * stored type.  The converted slab lives in a buffer kept across appends
 * (fresh pages of a large allocation cost more than the conversion); the
 * conversion runs through a small block since HDF5 converts in place. */
static int convert_data(struct sgm_series *s, size_t n, const void *data,
                        void **converted) {
  size_t src = H5Tget_size(s->mem_type), dst = H5Tget_size(s->file_type);
  size_t wide = src > dst ? src : dst;
  size_t need = n * dst + SERIES_CONVERT_BLOCK * wide;
  if (need > s->scratch_bytes) {
    free(s->scratch);
    s->scratch = NULL;
    s->scratch_bytes = 0;
    SGM_CALL(SGM_MALLOC(s->scratch, need));
    s->scratch_bytes = need;
  }
  unsigned char *out = s->scratch, *block = out + n * dst;
  for (size_t i = 0; i < n; i += SERIES_CONVERT_BLOCK) {
    size_t m = n - i < SERIES_CONVERT_BLOCK ? n - i : SERIES_CONVERT_BLOCK;
    memcpy(block, (const unsigned char *)data + i * src, m * src);
    if (H5Tconvert(s->mem_type, s->file_type, m, block, NULL, H5P_DEFAULT) < 0)
      return SGM_H5_ERROR("converting data for series '%s'", s->name);
    memcpy(out + i * dst, block, m * dst);
  }
  *converted = out;
  return 0;
}

/* Writes the selected slab; collective. */
static int write_slab(struct sgm_series *s, hid_t mspace, hid_t fspace,
                      const void *data) {
  int err = 0;
  hid_t type = s->convert ? s->file_type : s->mem_type;
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0 ||
      H5Dwrite(s->dset, type, mspace, fspace, dxpl, data) < 0) {
    err = SGM_H5_ERROR("writing step %lld of series '%s' to '%s'",
                       (long long)s->dims[0] - 1, s->name, s->out->written);
  } else {
    uint32_t local = 0;
    H5Pget_mpio_actual_io_mode(dxpl, &s->io_mode);
    H5Pget_mpio_no_collective_cause(dxpl, &local, &s->no_collective_cause);
  }
  if (dxpl >= 0)
    H5Pclose(dxpl);
  return err;
}

int sgm_series_append(sgm_series_t *s, int64_t first, int64_t count,
                      const void *data) {
  int err = 0, rank;
  MPI_Comm_rank(s->out->comm, &rank);
  if (s->kind == SGM_SERIES_ENSEMBLE) {
    /* Every rank holds the same values: rank 0 writes them. */
    first = 0;
    count = rank == 0 ? (s->rank > 1 ? (int64_t)s->dims[1] : 1) : 0;
  } else if (first < 0 || count < 0 || first + count > (int64_t)s->dims[1]) {
    err = sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                        "series '%s': rows [%lld, %lld) outside [0, %lld)",
                        s->name, (long long)first, (long long)(first + count),
                        (long long)s->dims[1]);
  }
  size_t n = (size_t)count * s->row_elems;
  if (!err && count > 0 && !data)
    err = sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                        "series '%s': no data for %lld rows", s->name,
                        (long long)count);
  SGM_CALL(sgm_error_agree(s->out->comm, err));

  /* Collective: every rank extends to the same length. */
  hsize_t dims[SERIES_MAX_RANK];
  memcpy(dims, s->dims, sizeof dims);
  dims[0] += 1;
  if (H5Dset_extent(s->dset, dims) < 0)
    err = SGM_H5_ERROR("extending series '%s' to %llu steps", s->name,
                       (unsigned long long)dims[0]);
  SGM_CALL(sgm_error_agree(s->out->comm, err));
  /* From here the step exists in the file; a failed write leaves it
   * unwritten (never filled) and counted, as the file shows it. */
  s->dims[0] = dims[0];

  hid_t fspace = H5Dget_space(s->dset), mspace = H5I_INVALID_HID;
  void *converted = NULL;
  if (fspace < 0)
    err = SGM_H5_ERROR("series '%s': no dataspace", s->name);
  if (!err)
    err = select_slab(s, (int64_t)dims[0] - 1, first, count, fspace, &mspace);
  if (!err && s->convert && n > 0)
    err = convert_data(s, n, data, &converted);
  err = sgm_error_agree(s->out->comm, err);
  if (!err) {
    /* HDF5 refuses a NULL buffer even with nothing selected. */
    static const double nothing = 0;
    const void *buf = converted ? converted : data ? data : &nothing;
    err = sgm_error_agree(s->out->comm, write_slab(s, mspace, fspace, buf));
  }
  if (mspace >= 0)
    H5Sclose(mspace);
  if (fspace >= 0)
    H5Sclose(fspace);
  return err;
}

int64_t sgm_series_length(const sgm_series_t *series) {
  return (int64_t)series->dims[0];
}

hid_t sgm_series_dataset(const sgm_series_t *series) { return series->dset; }

int sgm_series_attach_scale(sgm_series_t *series, int axis, hid_t scale,
                            const char *scale_name) {
  int err = 0;
  if (axis < 0 || axis >= series->rank) {
    err = sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                        "series '%s' has no axis %d", series->name, axis);
  } else {
    htri_t is_scale = H5DSis_scale(scale);
    if (is_scale < 0)
      err = SGM_H5_ERROR("series '%s': checking scale '%s'", series->name,
                         scale_name);
    else if (!is_scale && H5DSset_scale(scale, scale_name) < 0)
      err = SGM_H5_ERROR("making '%s' a dimension scale", scale_name);
    else if (H5DSattach_scale(series->dset, scale, (unsigned)axis) < 0)
      err = SGM_H5_ERROR("attaching scale '%s' to axis %d of series '%s'",
                         scale_name, axis, series->name);
  }
  return sgm_error_agree(series->out->comm, err);
}

void sgm_series_close(sgm_series_t **series) {
  if (!series || !*series)
    return;
  series_free(*series);
  *series = NULL;
}

int sgm__series_io_mode(const sgm_series_t *series, uint32_t *cause) {
  if (cause)
    *cause = series->no_collective_cause;
  return (int)series->io_mode;
}

int sgm_output_flush(sgm_output_t *out) {
  int err = 0;
  if (H5Fflush(out->file, H5F_SCOPE_GLOBAL) < 0)
    err = SGM_H5_ERROR("flushing output file '%s'", out->written);
  return sgm_error_agree(out->comm, err);
}
