/**
 * @file drift.h
 * The drift of the reverse SDE: s(x, t) = base(x, t) + e(x, t).
 *
 * The base model is [drift] model: `empirical` (grad log p^_t, the exact
 * score of the training set), `smoothed` (the training set blurred by a
 * Gaussian kernel of width bandwidth), `gmm` (the exact score of the
 * synthetic mixture that generated the data), or `plugin` (the score of a
 * shared object that speaks the ABI of sgm/plugin.h).  The perturbation e is
 * [perturb] kind: `none`, `constant` (c u), `time` (c u sigma(t)^-alpha) or
 * `rotation` (c A x with A skew-symmetric on a random rank-k subspace).  Every
 * evaluation also yields the empirical quantities the diagnostics need, from
 * the same pass over the data where possible.
 *
 * Model `pfgm` is the empirical Poisson field of PFGM++ in d + pfgm_D
 * dimensions at r = sigma(t) sqrt(D), as the effective score
 * (m D(x) - x) / sigma^2 of the probability-flow ODE (src/drift/pfgm.c),
 * with its own prior (sgm_drift_prior).
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
  double *model_log_density; /* p: log density of the base model's mixture
                                (NaN for a plugin, which has none) */
  double *empirical;         /* p x d: grad log p^_t(x) */
  double *log_density;       /* p: log p^_t(x) */
  double *denoised;          /* p x d: D(x) = E[X_0 | X_t = x] under p^ */
  sgm_nearest_t nearest;     /* nearest training examples */
  double *model_mean;        /* p x d: sum_i w_i mu_i of the model's mixture
                                (equal-variance models: empirical, smoothed) */
  double *perturbation;      /* p x d: e(x, t) alone */
  double *perturbation_norm; /* p: |e(x, t)|, when perturbation is NULL */
} sgm_drift_out_t;

/**
 * Builds the configured drift over this rank's shard of the training set.
 * Every rank of a row must create the same drift; not collective, except
 * for model = plugin (collective over the row: the plugin's init).
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
 * particles asking for what `request` asks (its non-NULL pointers). */
double sgm_drift_flops(const sgm_drift_t *drift, int64_t p,
                       const sgm_drift_out_t *request);

/** Bytes of work space this rank's evaluations of p particles keep (the
 * kernel's blocks and records), for sizing the caller's chunks. */
double sgm_drift_work_bytes(const sgm_drift_t *drift, int64_t p);

/** Whether the drift evaluates in float32 ([run] precision = float32, where
 * the kernel has a float32 stream), and if so its particle evaluations so
 * far and how many of them the accuracy guard redid in float64. */
int sgm_drift_float32_stats(const sgm_drift_t *drift, int64_t *evals,
                            int64_t *redone);

/** A one-line description, e.g. "empirical + constant (c = 0.5, ones)". */
const char *sgm_drift_describe(const sgm_drift_t *drift);

/** The dimension d the drift acts in. */
int sgm_drift_dim(const sgm_drift_t *drift);

/** The model's name ([drift] model). */
const char *sgm_drift_model_name(const sgm_drift_t *drift);

/** True when the model is an ODE's field with no reverse SDE (pfgm: the
 * PFGM++ field, integrated with [sampler] method = ode only). */
int sgm_drift_ode_only(const sgm_drift_t *drift);

/** True when the model is the empirical score itself, so that
 * s - grad log p^_t is the perturbation alone. */
int sgm_drift_is_empirical(const sgm_drift_t *drift);

/**
 * The initial particles of a model with a prior of its own ([sampler]
 * prior = pfgm): particles first .. first + count - 1 (global indices) into
 * y (count x d).  For pfgm, PFGM++'s perturbation kernel at r_max =
 * sigma(T) sqrt(D) around the origin, x = r_max z_d / |z_D| with z_d ~
 * N(0, I_d) and z_D ~ N(0, I_D).  Particle i's draw depends on (seed, i)
 * alone (SGM_RNG_PRIOR streams), so paths do not depend on the rank layout.
 * Not collective.
 * @return 0, or SGM_ERR_UNSUPPORTED for a model without its own prior.
 */
int sgm_drift_prior(const sgm_drift_t *drift, uint64_t seed, int64_t first,
                    int64_t count, double *y);

/**
 * The variance v shared by every component of the model's mixture (0 for
 * empirical, bandwidth^2 for smoothed): the model is then
 * grad log p = (m mean - x) / (m^2 v + sigma^2) with frozen weights.
 * @return 0, or SGM_ERR_UNSUPPORTED for models without a shared variance.
 */
int sgm_drift_model_variance(const sgm_drift_t *drift, double *v);

/** The smallest component variance of the model's mixture (what limits an
 * explicit integrator's step as t -> 0). */
double sgm_drift_min_variance(const sgm_drift_t *drift);

/* ---- For the Jacobian analysis (jacobian.h) ---------------------------- */

/** Whether the base model has an analytic Jacobian (the mixture drifts:
 * empirical, smoothed, gmm). */
int sgm_drift_has_analytic_jacobian(const sgm_drift_t *drift);

/** Rows sgm_drift_jacobian_factor may return on this rank (its shard of
 * the model's mixture; 0 without an analytic Jacobian). */
int64_t sgm_drift_jacobian_rows(const sgm_drift_t *drift);

/**
 * The base model's Jacobian at one point x (d, the same on every rank of
 * the row) at forward time t, as a factor over the row:
 * J = sum over the row's ranks of F^T F - diag I, with this rank's *rows
 * rows of F (row-major, d columns) in F (room for sgm_drift_jacobian_rows)
 * -- see sgm_mixture_jacobian_factor.  The perturbation is not included.
 * Collective over the row.
 * @return 0; SGM_ERR_UNSUPPORTED for a model without one; SGM_ERR_NUMERIC.
 */
int sgm_drift_jacobian_factor(const sgm_drift_t *drift, double t,
                              const double *x, double *F, int64_t *rows,
                              double *diag);

/**
 * Columns [k0, k0 + nk) of the perturbation's Jacobian de/dx at t:
 * cols[j * d + i] = d e_i / d x_{k0 + j} (zero without a perturbation).
 * Exact: every perturbation is affine in x.  Not collective.
 */
int sgm_drift_perturbation_jacobian(const sgm_drift_t *drift, double t, int k0,
                                    int nk, double *cols);

#endif /* SGM_DRIFT_H */
