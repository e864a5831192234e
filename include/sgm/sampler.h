/**
 * @file sampler.h
 * Integrating the reverse SDE from T down to t_min: the time grid, the
 * priors, and one step of Euler-Maruyama (`em`) or of the exponential
 * integrator (`ei`).
 *
 * The integrator does not evaluate the drift itself: the caller evaluates
 * it at (y, t_k) -- once, sharing the evaluation with the diagnostics -- and
 * passes the result to sgm_sampler_step.  The Gaussian increment of global
 * particle i at step k is the Philox stream (seed, SGM_RNG_NOISE, i, k), so
 * the paths do not depend on how particles are spread over ranks.
 */
#ifndef SGM_SAMPLER_H
#define SGM_SAMPLER_H

#include <mpi.h>
#include <stdint.h>

#include "sgm/config.h"
#include "sgm/dataset.h"
#include "sgm/drift.h"
#include "sgm/schedule.h"

typedef struct sgm_sampler sgm_sampler_t;

/**
 * Builds the time grid of [sampler] grid and steps, and checks that the
 * method suits the drift (ei needs a model with one shared variance).  Not
 * collective; every rank builds the same sampler.
 * @return 0, SGM_ERR_CONFIG / SGM_ERR_UNSUPPORTED naming the key, or
 *         SGM_ERR_NOMEM.
 */
int sgm_sampler_create(const sgm_config_t *cfg, const sgm_drift_t *drift,
                       sgm_sampler_t **out);

/** Frees; sets the handle to NULL (NULL allowed). */
void sgm_sampler_destroy(sgm_sampler_t **sampler);

/** Number of steps K. */
int64_t sgm_sampler_steps(const sgm_sampler_t *sampler);

/** The K + 1 forward times t_0 = T > t_1 > ... > t_K = t_min. */
const double *sgm_sampler_times(const sgm_sampler_t *sampler);

/**
 * Explicit-step stiffness of the grid: the largest g(t_k)^2 (t_k - t_{k+1})
 * / (sigma(t_{k+1})^2 + m(t_{k+1})^2 v_min) over the steps -- each step
 * against the smallest variance it reaches (v_min: the model's smallest
 * component variance).  Euler-Maruyama needs it below 2: on a uniform VP
 * grid, steps > T / (2 t_min).
 * @param at if not NULL, receives the step where the maximum occurs.
 */
double sgm_sampler_stiffness(const sgm_sampler_t *sampler, int64_t *at);

/**
 * The fewest uniform-grid steps for which Euler-Maruyama stays stable
 * (stiffness < 2), or -1 if more than max_steps would be needed.
 */
int64_t sgm_sampler_stable_uniform_steps(const sgm_sampler_t *sampler,
                                         int64_t max_steps);

/**
 * Asks the drift evaluation for what a step needs: out->drift always; for
 * ei also out->model_mean and out->perturbation.  The buffers are
 * the caller's (p x d each); unused ones may be NULL.
 */
void sgm_sampler_request(const sgm_sampler_t *sampler, sgm_drift_out_t *out,
                         double *drift, double *model_mean,
                         double *perturbation);

/**
 * Draws the initial particles with global indices [first, first + count)
 * into y (count x d) from [sampler] prior: `gaussian` (N(0, I) for vp and
 * ou, N(0, sigma_max^2 I) for ve), `point` (prior_value: one value for every
 * coordinate, or d values), `forward` (a uniformly drawn training example
 * pushed through the forward marginal at T: exact p^_T).  Collective over
 * the row (the forward prior gathers examples from every shard).
 */
int sgm_sampler_prior(const sgm_sampler_t *sampler, const sgm_dataset_t *data,
                      MPI_Comm row, int64_t first, int64_t count, double *y);

/**
 * Advances y (count x d, global indices from first) from t_k to t_{k+1},
 * given the drift evaluation at (y, t_k) requested by sgm_sampler_request.
 * em: y += (-f y + g^2 s) dt + g sqrt(dt) z.  ei: with the weights frozen,
 * the model part is integrated exactly (the Gaussian transition of the
 * frozen mixture) and the perturbation by its left-point value,
 * y += g^2 e dt.  Not collective.
 */
int sgm_sampler_step(sgm_sampler_t *sampler, int64_t k, int64_t first,
                     int64_t count, double *y, const sgm_drift_out_t *at);

/**
 * Tweedie's denoising at the last time: x = (y + sigma^2 s) / m with the
 * drift s evaluated at (y, t_min).  Not collective.
 */
void sgm_sampler_denoise(const sgm_sampler_t *sampler, int64_t count,
                         const double *y, const double *drift, double *x);

#endif /* SGM_SAMPLER_H */
