/**
 * @file dataset.h
 * Training sets: the sources of [data], preprocessing, and sharded loading.
 *
 * The training set "as loaded" is the source's examples after the class
 * filter and the seeded subset, in source order, scaled; its rows are
 * numbered 0..n-1 (the indices that nearest_index reports).  Each rank reads
 * only the rows of its own shard.  Every problem with a source (missing or
 * truncated file, header and size that disagree, wrong shape, NaN or Inf,
 * unknown class) is reported as one error naming the file and the problem.
 */
#ifndef SGM_DATASET_H
#define SGM_DATASET_H

#include <mpi.h>
#include <stdint.h>

#include "sgm/config.h"

/** The largest number of axes of one example (e.g. 3 for 3x32x32). */
#define SGM_DATASET_MAX_AXES 4

/** What is known of a data set before its rows are read. */
typedef struct sgm_dataset_info {
  int64_t n_source; /* examples in the source, before filter and subset */
  int64_t n;        /* examples as loaded (after filter and subset) */
  int d;            /* values per example */
  int naxes;        /* axes of one example (1 for vectors) */
  int64_t shape[SGM_DATASET_MAX_AXES]; /* their lengths; product = d */
  int has_labels;
  /* Source index of each loaded example (ascending), or NULL when the
   * loaded set is the whole source in order (no filter, no subset). */
  int64_t *index;
} sgm_dataset_info_t;

/** An isotropic Gaussian mixture: the exact law of a `gmm` source. */
typedef struct sgm_gmm {
  int k;             /* components */
  int d;             /* dimension */
  double *means;     /* k x d, row-major */
  double *variances; /* k (isotropic variance of each component) */
  double *weights;   /* k, positive, summing to 1 */
} sgm_gmm_t;

/** One rank's shard of a loaded training set. */
typedef struct sgm_dataset {
  int64_t n; /* examples in the whole set (N) */
  int d;
  int naxes;
  int64_t shape[SGM_DATASET_MAX_AXES];

  int shard, nshards;    /* this shard is block `shard` of `nshards` */
  int64_t offset;        /* global index of the first local example */
  int64_t n_local;       /* examples held here (may be 0) */
  double *y;             /* n_local x d, row-major, 64-byte aligned;
                            NULL when n_local = 0 */
  double *norm2;         /* |y_i|^2 of each local example */
  int64_t *source_index; /* each local example's index in the source */
  int32_t *labels;       /* each local example's class, or NULL */

  sgm_gmm_t *gmm; /* the generating mixture (source = gmm), else NULL */
  /* Input range mapped by [data] scale: [0, 255] for u8 data, [-128, 127]
   * for i8, else the min and max of the whole loaded set; NaN for
   * scale = none. */
  double scale_lo, scale_hi;
  /* e.g. "fashion-mnist train (/usr/share/datasets/fashion-mnist/): 1000 of
   * 60000 examples, 28x28, classes 0,3, scale minus1_1" */
  char *description;
} sgm_dataset_t;

/**
 * Reads the source's header (and labels, when a class filter needs them),
 * applies the filter and the seeded subset, and reports the shape.
 * Collective over comm: rank 0 does the reading, every rank gets the same
 * info (or the same error).
 */
int sgm_dataset_probe(MPI_Comm comm, const sgm_config_t *cfg,
                      sgm_dataset_info_t *info);

/** Frees what sgm_dataset_probe allocated inside info. */
void sgm_dataset_info_free(sgm_dataset_info_t *info);

/**
 * Loads shard `shard` of `nshards` (contiguous blocks of the loaded set, as
 * sgm_grid_block splits them), scaled and validated, with |y|^2.
 * Collective over comm (every rank passes its own shard of the same nshards;
 * ranks holding the same shard read the same rows).  When the scale range
 * comes from the data (scale != none, elements not 8-bit), the ranks of comm
 * must together hold every shard.  All ranks return the same status; on
 * failure *out is NULL on every rank.
 */
int sgm_dataset_load(MPI_Comm comm, const sgm_config_t *cfg,
                     const sgm_dataset_info_t *info, int shard, int nshards,
                     sgm_dataset_t **out);

/** Frees a data set; sets the handle to NULL (NULL allowed). */
void sgm_dataset_destroy(sgm_dataset_t **data);

/** Frees a mixture; sets the handle to NULL (NULL allowed). */
void sgm_gmm_destroy(sgm_gmm_t **gmm);

/**
 * The mixture of a `gmm` configuration ([data] means, variances, weights),
 * validated.  Serial.
 */
int sgm_gmm_from_config(const sgm_config_t *cfg, sgm_gmm_t **out);

#endif /* SGM_DATASET_H */
