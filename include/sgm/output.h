/**
 * @file output.h
 * Parallel HDF5 files: created collectively through MPI-IO, datasets written
 * as one hyperslab per rank with collective transfers, every dataset and file
 * self-describing (description and units on each dataset; configuration,
 * versions, grid, seed, status and times on the root).
 *
 * Also the reading of small inputs such as `--points` files.  String
 * attributes are fixed-length, NUL-terminated (h5py returns them as bytes).
 */
#ifndef SGM_OUTPUT_H
#define SGM_OUTPUT_H

#include <hdf5.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "sgm/config.h"
#include "sgm/grid.h"

typedef struct sgm_output sgm_output_t;

/** Silences HDF5's own error printing (errors come back as messages). */
void sgm_output_init(void);

/**
 * Checks, before any work, that a file can be created at path: its
 * directory exists and is writable and, unless overwrite, no file of that
 * name exists.  Not collective (call it on one rank and agree).
 * @return 0 or SGM_ERR_IO naming the path and the problem.
 */
int sgm_output_check_path(const char *path, int overwrite);

/**
 * Creates a file for writing.  Collective over comm.  With atomic set the
 * file is written as "<path>.partial" and renamed to path only by a
 * successful sgm_output_close(..., commit = 1), so a failed run leaves no
 * file that looks complete.
 * @return 0, or SGM_ERR_IO naming the path and the cause.
 */
int sgm_output_create(MPI_Comm comm, const char *path, int atomic,
                      sgm_output_t **out);

/**
 * Flushes an atomic file and renames it to its path while it stays open
 * (collective): from then on the file is visible under its name, complete
 * up to its last flush, and sgm_output_close renames nothing.  A file that
 * streams results calls this once its layout is written, so that a kill at
 * any moment leaves either no file (or the one it replaces) or one that
 * opens.  No-op for a file that is not atomic.
 * @return 0, or SGM_ERR_HDF5 / SGM_ERR_IO naming the file.
 */
int sgm_output_publish(sgm_output_t *out);

/**
 * Opens an existing file for writing (to resume it).  Collective.
 * @return 0, or SGM_ERR_IO / SGM_ERR_HDF5 naming the path.
 */
int sgm_output_open(MPI_Comm comm, const char *path, sgm_output_t **out);

/**
 * Closes the file (collective).  commit = 1 renames an atomic file into
 * place; commit = 0 removes it.  Sets the handle to NULL; NULL allowed.
 */
int sgm_output_close(sgm_output_t **out, int commit);

/**
 * Gives up a file whose write failed (disk full, say): parallel HDF5 cannot
 * close such a file collectively (its ranks' metadata caches disagree and
 * the close would hang), so the handle is dropped unclosed, leaving the
 * file as of its last flush, and the process must end with MPI_Abort
 * rather than MPI_Finalize (see sgm_output_abandoned).  Not collective.
 */
void sgm_output_abandon(sgm_output_t **out);

/** Whether a file was abandoned in this process. */
bool sgm_output_abandoned(void);

/** The HDF5 file id, for attributes and groups. */
hid_t sgm_output_file(const sgm_output_t *out);

/**
 * Writes a dataset of n_global rows (ncols columns; ncols = 0 for 1-D) of
 * which this rank contributes rows [first, first + count) from data (pass
 * count = 0 to contribute nothing).  Collective.
 * @param type H5T_NATIVE_DOUBLE or H5T_NATIVE_INT64
 * @param name may contain groups ("final/particles"); they are created.
 */
int sgm_output_write_rows(sgm_output_t *out, const char *name, hid_t type,
                          int64_t n_global, int64_t ncols, int64_t first,
                          int64_t count, const void *data,
                          const char *description, const char *units);

/** Attribute writers for a file, group or dataset (collective in a parallel
 * file: every rank passes the same value). */
int sgm_output_attr_string(hid_t obj, const char *name, const char *value);
int sgm_output_attr_int64(hid_t obj, const char *name, int64_t value);
int sgm_output_attr_double(hid_t obj, const char *name, double value);
int sgm_output_attr_int64_array(hid_t obj, const char *name, int64_t count,
                                const int64_t *values);

/**
 * Writes the root provenance: config (resolved text), version, git_commit,
 * compiler, library versions, command, mpi_ranks, grid, seed, start_time and
 * status = "running".  Collective.
 */
int sgm_output_provenance(sgm_output_t *out, const sgm_config_t *cfg,
                          const sgm_grid_t *grid, const char *command);

/** Flushes everything written so far to the file (collective), so that a
 * run killed later keeps it. */
int sgm_output_flush(sgm_output_t *out);

/* ---- Series: datasets that grow by one save step at a time --------------- */

typedef struct sgm_series sgm_series_t;

/** What the axes after the first (the save step) hold. */
enum sgm_series_kind {
  /* dims[0] = P, the particle axis: each rank writes a slice of particles;
   * ranks that pass count = 0 write nothing. */
  SGM_SERIES_PARTICLES,
  /* The same values on every rank (an ensemble summary, a time): one rank
   * writes them. */
  SGM_SERIES_ENSEMBLE
};

/**
 * Creates an extendible dataset `name` of shape (0, dims[0], ...,
 * dims[ndims-1]) that grows along axis 0, chunked one save step per chunk
 * (a chunk is split along axis 1 if it would exceed 16 MiB).  Groups on the
 * way are created.  file_type is the stored type (e.g. H5T_NATIVE_FLOAT for
 * [output] storage = float32), mem_type the type passed to append.
 * Collective.  ndims may be 0 (a series of scalars).
 */
int sgm_series_create(sgm_output_t *out, const char *name,
                      enum sgm_series_kind kind, hid_t file_type,
                      hid_t mem_type, int ndims, const int64_t *dims,
                      const char *description, const char *units,
                      sgm_series_t **series);

/**
 * Appends one save step: extends axis 0 by one and writes the new slab with
 * a collective transfer.  PARTICLES: this rank's rows [first, first + count)
 * of axis 1 (row-major data of count x dims[1..]).  ENSEMBLE: data holds the
 * whole slab (first and count are ignored).  Collective.
 */
int sgm_series_append(sgm_series_t *series, int64_t first, int64_t count,
                      const void *data);

/**
 * Reopens an existing series (for a resumed run): its kind, dims and stored
 * type come from the file; mem_type is what append will be passed.
 * Collective.
 */
int sgm_series_open(sgm_output_t *out, const char *name,
                    enum sgm_series_kind kind, hid_t mem_type,
                    sgm_series_t **series);

/** Shrinks a series to its first `length` save steps (dropping what a
 * killed run appended after its checkpoint).  Collective. */
int sgm_series_truncate(sgm_series_t *series, int64_t length);

/** Save steps appended so far. */
int64_t sgm_series_length(const sgm_series_t *series);

/** The HDF5 dataset id (for attributes). */
hid_t sgm_series_dataset(const sgm_series_t *series);

/**
 * Makes `scale` the dimension scale of axis `axis` of `series` (HDF5
 * H5DS), naming the scale `scale_name` on first use.  Collective.
 */
int sgm_series_attach_scale(sgm_series_t *series, int axis, hid_t scale,
                            const char *scale_name);

/** Closes the dataset; sets the handle to NULL (NULL allowed).  Collective. */
void sgm_series_close(sgm_series_t **series);

/** Sets the root status ("complete", "failed", ...) and end_time.
 * Collective. */
int sgm_output_set_status(sgm_output_t *out, const char *status);

/** The current UTC time as "YYYY-MM-DDTHH:MM:SSZ", identical on every rank
 * of comm (rank 0's clock).  Collective. */
void sgm_output_timestamp(MPI_Comm comm, char buf[32]);

/**
 * Reads the shape of a 2-D float dataset (a 1-D dataset counts as one
 * column).  Collective: rank 0 reads, every rank gets the result or the
 * error.  label names the input in messages (e.g. "--points").
 */
int sgm_input_matrix_shape(MPI_Comm comm, const char *label, const char *path,
                           const char *name, int64_t *rows, int64_t *cols);

/**
 * Reads rows [first, first + count) of that dataset as doubles, rejecting
 * NaN and Inf (the message names the row).  Not collective.
 */
int sgm_input_matrix_rows(const char *label, const char *path, const char *name,
                          int64_t first, int64_t count, int64_t cols,
                          double *out);

/* ---- Arrays: fixed-shape datasets written slab by slab ------------------
 * For results that arrive in any order along axis 0 (the Jacobian
 * analysis's listed times): chunked one axis-0 slab per chunk, unwritten
 * elements reading as the fill value (NaN for floating types, -1 for
 * integers; arrays over 256 MiB are not filled: undefined until written). */
typedef struct sgm_array sgm_array_t;

/** Creates the dataset `name` (groups on the way created) of the stored
 * type `type` and shape dims[0..ndims).  Collective. */
int sgm_array_create(sgm_output_t *out, const char *name, hid_t type, int ndims,
                     const int64_t *dims, const char *description,
                     const char *units, sgm_array_t **array);

/** Reopens an existing array (a resumed run).  Collective. */
int sgm_array_open(sgm_output_t *out, const char *name, sgm_array_t **array);

/**
 * Writes slab `index` of axis 0: this rank's rows [first, first + count) of
 * axis 1 (count = 0: nothing) from data, of memory type mem_type, row-major
 * over the remaining axes.  For a 1-D array pass first = 0 and count = 1 on
 * the rank that writes.  Collective.
 */
int sgm_array_write(sgm_array_t *array, int64_t index, int64_t first,
                    int64_t count, hid_t mem_type, const void *data);

/** The HDF5 dataset id (for attributes and scales). */
hid_t sgm_array_dataset(const sgm_array_t *array);

/** Closes; sets the handle to NULL (NULL allowed). */
void sgm_array_close(sgm_array_t **array);

/* ---- Checkpoints ---------------------------------------------------------
 * A run's checkpoint lives beside its results file as "<results>.ckpt": a
 * small HDF5 file written as "<results>.ckpt.tmp", synced, and renamed into
 * place, the previous one kept as "<results>.ckpt.prev".  A kill at any
 * moment leaves the last complete checkpoint readable. */

/** What a checkpoint records besides the particles and Novikov integrals. */
typedef struct sgm_checkpoint_info {
  int64_t step;  /* steps done: the state is at the grid's time t[step] */
  int64_t saved; /* save steps the results file holds at that point */
  int64_t particles;
  int d;
  int has_novikov; /* the Novikov integrals are stored */
  double t;
  char *config;    /* the resolved configuration text (owned) */
  char path[4096]; /* the file it was read from */
} sgm_checkpoint_info_t;

/**
 * Writes the checkpoint of results_path.  Collective: each rank passes its
 * slice [first, first + count) of the particles (count x d) and Novikov
 * integrals (count; NULL for none); ranks with count = 0 write nothing.
 */
int sgm_checkpoint_write(MPI_Comm comm, const char *results_path,
                         const char *config, int64_t step, int64_t saved,
                         double t, int64_t particles, int d, int64_t first,
                         int64_t count, const double *y, const double *novikov);

/**
 * Looks for the checkpoint of results_path (then its .prev).  Collective:
 * rank 0 reads, every rank gets the same answer.
 * @return 1 and info when one is usable, 0 when there is none, or a
 *         negative error.
 */
int sgm_checkpoint_find(MPI_Comm comm, const char *results_path,
                        sgm_checkpoint_info_t *info);

/** Reads this rank's slice of a found checkpoint.  Not collective. */
int sgm_checkpoint_read(const sgm_checkpoint_info_t *info, int64_t first,
                        int64_t count, double *y, double *novikov);

/** Frees what sgm_checkpoint_find allocated. */
void sgm_checkpoint_info_free(sgm_checkpoint_info_t *info);

/** Deletes the checkpoint files of results_path (rank 0 of comm; a run
 * that completed no longer needs them).  Collective. */
void sgm_checkpoint_remove(MPI_Comm comm, const char *results_path);

/** Reads a string attribute of an existing file (e.g. "status"), on rank 0,
 * broadcast.  Collective.  Returns 1 when found, 0 when the file or the
 * attribute does not exist, 2 when the file exists but HDF5 cannot open it
 * (a damaged file). */
int sgm_output_read_attr(MPI_Comm comm, const char *path, const char *name,
                         char *value, size_t len);

/* ---- Inspection: reading back an sgmrun file (sgmrun info) ---------------
 * Serial and read-only (call it on one rank), with HDF5's file locking off
 * where the library has H5Pset_file_locking (1.10.7 on), so that a file a
 * running job is writing, or its ".partial", can be looked at. */

/** One dataset of an inspected file. */
typedef struct sgm_output_dataset {
  char *name; /* the full path, e.g. "/diagnostics/novikov_mean" */
  int ndims;  /* 0 for a scalar */
  int64_t dims[H5S_MAX_RANK];
  char type[16]; /* "float64", "float32", "int64", "uint8", "string", ... */
  char *units;   /* its "units" attribute; "" when it has none */
} sgm_output_dataset_t;

/** A file open for inspection: its root attributes as text and its
 * datasets, both in name order. */
typedef struct sgm_output_info {
  hid_t file;
  char *path;
  int nattrs;
  char **attr_names;
  char **attr_values; /* strings as stored; numbers printed (%lld, %.10g) */
  int ndatasets;
  sgm_output_dataset_t *datasets;
} sgm_output_info_t;

/**
 * Opens path (any name, a ".partial" included) and lists its root
 * attributes and every dataset.  Not collective.
 * @return 0; SGM_ERR_IO when the file cannot be read, SGM_ERR_INPUT when it
 *         is not an HDF5 file or not an sgmrun one (no "command" or
 *         "version" root attribute), SGM_ERR_HDF5 when HDF5 fails; every
 *         message names the file.
 */
int sgm_output_info_create(const char *path, sgm_output_info_t **info);

/** A root attribute as text, or NULL when the file has none of that name. */
const char *sgm_output_info_attr(const sgm_output_info_t *info,
                                 const char *name);

/** The dataset of that name (with or without the leading '/'), or NULL. */
const sgm_output_dataset_t *
sgm_output_info_dataset(const sgm_output_info_t *info, const char *name);

/**
 * Reads elements [first, first + count) of a 1-D numeric dataset as
 * doubles (NaN and Inf pass through).  Not collective.
 * @return 0, SGM_ERR_INPUT when there is no such 1-D numeric dataset or the
 *         range lies outside it, SGM_ERR_HDF5 when it cannot be read.
 */
int sgm_output_info_read(const sgm_output_info_t *info, const char *name,
                         int64_t first, int64_t count, double *values);

/** Closes the file and frees everything; sets the handle to NULL (NULL
 * allowed). */
void sgm_output_info_destroy(sgm_output_info_t **info);

#endif /* SGM_OUTPUT_H */
