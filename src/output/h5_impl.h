/* Private to the output module. */
#ifndef SGM_H5_IMPL_H
#define SGM_H5_IMPL_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

struct sgm_output {
  hid_t file;
  MPI_Comm comm;
  char *path;    /* final name */
  char *written; /* name being written (path or path.partial) */
};

/** Records an HDF5 failure: what was being done, and HDF5's innermost
 * message.  Returns SGM_ERR_HDF5. */
int sgm__h5_error(const char *what, const char *file, int line,
                  const char *func);

#define SGM_H5_ERROR(...)                                                      \
  sgm__h5_error_fmt(__FILE__, __LINE__, __func__, __VA_ARGS__)

int sgm__h5_error_fmt(const char *file, int line, const char *func,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * Selects the block start/extent (rank dimensions) of fspace and creates
 * *mspace for it, or, for a rank that writes nothing (empty = nonzero),
 * selects none in fspace and in a one-element simple *mspace: not H5S_NULL,
 * which HDF5 1.10.8's collective writes mishandle (the rank's first buffer
 * element lands at row 0).  Returns 0, or -1 after an HDF5 failure (the
 * caller reports it with SGM_H5_ERROR; *mspace may need closing).
 */
int sgm__h5_select(hid_t fspace, int rank, const hsize_t *start,
                   const hsize_t *extent, int empty, hid_t *mspace);

/** Reads the fixed-length string attribute `name` of obj into a new
 * NUL-terminated *value (free it); SGM_ERR_HDF5 when it is missing or not
 * such a string.  Defined in inspect.c. */
int sgm__h5_read_string(hid_t obj, const char *name, char **value);

/** Reads the attribute `name` of obj, converted to the memory type `type`
 * (e.g. H5T_NATIVE_INT64), into value; SGM_ERR_HDF5 when it is missing.
 * The attribute must hold one element. */
int sgm__h5_read_number(hid_t obj, const char *name, hid_t type, void *value);

/** The I/O mode HDF5 actually used for the last append of a series (an
 * H5D_mpio_actual_io_mode_t), and in *cause (if not NULL) the global reasons
 * it was not collective.  For tests. */
struct sgm_series;
int sgm__series_io_mode(const struct sgm_series *series, uint32_t *cause);

#endif
