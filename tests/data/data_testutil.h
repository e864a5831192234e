/*
 * Helpers for the dataset tests: hand-built configurations (the parser is
 * not used here), writers of tiny IDX / CIFAR / npy files, and probe+load
 * shortcuts.
 */
#ifndef SGM_DATA_TESTUTIL_H
#define SGM_DATA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sgm/config.h"
#include "sgm/dataset.h"
#include "sgm_test.h"

/* A zeroed configuration with the [data] defaults the parser would set for
 * this source (scale none, radius 1, seed 0, split train). */
sgm_config_t *tcfg_new(enum sgm_data_source source);
void tcfg_free(sgm_config_t **cfg);
/* Replace a string field (strdup'ed; NULL clears it). */
void tcfg_str(char **field, const char *value);
void tcfg_classes(sgm_config_t *cfg, int count, const int64_t *values);
void tcfg_reals(struct sgm_real_list *list, int count, const double *values);
void tcfg_means(sgm_config_t *cfg, int k, int dim, const double *values);

/* dir/name into a static buffer (one of 8 rotating). */
const char *tpath(const char *dir, const char *name);

/* Writes bytes to a plain file, or a gzip file when gz. */
void write_bytes(const char *path, const void *data, size_t len, int gz);
/* An IDX file: type code, dims, then payload (already big-endian). */
void write_idx(const char *path, int gz, int type, int ndims,
               const uint32_t *dims, const void *payload, size_t len);
/* An IDX f64 file of n x d values (converted to big-endian). */
void write_idx_f64(const char *path, int gz, int64_t n, int d,
                   const double *values);
/* A v1.0 (or 2.0 when version2) .npy file with the given header fields. */
void write_npy(const char *path, const char *descr, int fortran,
               const char *shape, const void *data, size_t len, int version2);
/* Truncates a file to len bytes. */
void truncate_file(const char *path, long len);

/* Probe + load shard 0 of 1 on MPI_COMM_SELF. */
int load_self(const sgm_config_t *cfg, sgm_dataset_t **out);
/* Probe on comm + load shard `shard` of `nshards`. */
int load_comm(MPI_Comm comm, const sgm_config_t *cfg, int shard, int nshards,
              sgm_dataset_t **out);

#endif /* SGM_DATA_TESTUTIL_H */
