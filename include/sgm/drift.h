/**
 * @file drift.h
 * The drift of the reverse SDE: s(x, t) = base(x, t) + e(x, t).
 *
 * The base model is [drift] model: `empirical` (grad log p^_t, the exact
 * score of the training set), `smoothed` (the training set blurred by a
 * Gaussian kernel of width bandwidth), or `gmm` (the exact score of the
 * synthetic mixture that generated the data).  The perturbation e is [perturb]
 * kind: `none`, `constant` (c u), `time` (c u sigma(t)^-alpha) or `rotation`
 * (c A x with A skew-symmetric on a random rank-k subspace).  Every
 * evaluation also yields the empirical quantities the diagnostics need, from
 * the same pass over the data where possible.
 */
#ifndef SGM_DRIFT_H
#define SGM_DRIFT_H

#include <mpi.h>
#include <stdint.h>

#include "sgm/config.h"
#include "sgm/dataset.h"
#include "sgm/mixture.h"

typedef struct sgm_drift sgm_drift_t;

/** What one evaluation produces for p particles; NULL pointers are skipped
 * (and whatever only they need is not computed). */
typedef struct sgm_drift_out {
  double *drift;             /* p x d: s(x, t), perturbation included */
  double *model_log_density; /* p: log density of the base model's mixture */
  double *empirical;         /* p x d: grad log p^_t(x) */
  double *log_density;       /* p: log p^_t(x) */
  double *denoised;          /* p x d: D(x) = E[X_0 | X_t = x] under p^ */
  sgm_nearest_t nearest;     /* nearest training examples */
} sgm_drift_out_t;

/**
 * Builds the configured drift over this rank's shard of the training set.
 * Not collective; every rank of a row must create the same drift.
 * @param row the communicator whose ranks hold the shards of the training
 *            set (the grid's row)
 * @return 0, SGM_ERR_CONFIG (e.g. a rotation rank above d, a model this
 *         build does not provide) or SGM_ERR_NOMEM.
 */
int sgm_drift_create(const sgm_config_t *cfg, const sgm_dataset_t *data,
                     MPI_Comm row, sgm_drift_t **out);

/** Frees a drift; sets the handle to NULL (NULL allowed). */
void sgm_drift_destroy(sgm_drift_t **drift);

/**
 * Evaluates at forward time t > 0 for p particles x (p x d).  Collective
 * over the row: every rank of the row passes the same particles, and all get
 * the same bits back.
 */
int sgm_drift_eval(sgm_drift_t *drift, double t, int64_t p, const double *x,
                   sgm_drift_out_t *out);

/** Floating-point operations this rank spends on one evaluation of p
 * particles that asks for everything. */
double sgm_drift_flops(const sgm_drift_t *drift, int64_t p);

/** A one-line description, e.g. "empirical + constant (c = 0.5, ones)". */
const char *sgm_drift_describe(const sgm_drift_t *drift);

/** The dimension d the drift acts in. */
int sgm_drift_dim(const sgm_drift_t *drift);

#endif /* SGM_DRIFT_H */
