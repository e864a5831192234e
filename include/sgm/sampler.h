/**
 * @file sampler.h
 * Integrating the reverse process from T down to t_min: the time grid, the
 * priors, and one step of [sampler] method:
 *   em   Euler-Maruyama on the reverse SDE;
 *   ei   the exponential integrator (weights frozen over a step);
 *   ode  the probability-flow ODE, fixed-step Heun or adaptive RK45 (GSL);
 *   pc   predictor-corrector (score_sde's predictors and correctors);
 *   ald  annealed Langevin dynamics (NCSN) over the ve noise levels.
 *
 * The caller evaluates the drift at (y, t_k) -- once, sharing the
 * evaluation with the diagnostics -- and passes it to sgm_sampler_step;
 * the multi-stage methods (ode, pc) ask for their further evaluations
 * through a callback.  The Gaussian increments of global particle i at step
 * k are the Philox streams (seed, SGM_RNG_NOISE, i, k) and, for a corrector,
 * (seed, SGM_RNG_CORRECTOR, i, k * corrector_steps + j), so the paths do not
 * depend on how particles are spread over ranks (rk45 excepted: its step
 * size is shared by the row's particle block, as score_sde shares it over a
 * batch).
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
 * The drift evaluations a multi-stage step asks for: fn(ctx, t, n, x, s)
 * writes the drift s(x, t) of n particles x (n x d) to s (n x d).
 * Collective over the row like sgm_drift_eval; returns 0 or an error that
 * every rank of the row returns alike.
 */
typedef struct sgm_sampler_drift {
  int (*fn)(void *ctx, double t, int64_t n, const double *x, double *s);
  void *ctx;
  /* One rank of every row (the grid's column): sums over it cover the
   * whole ensemble (the langevin corrector's mean norms). */
  MPI_Comm ensemble;
} sgm_sampler_drift_t;

/**
 * Builds the time grid of [sampler] grid and steps (for ald: levels x
 * level_steps steps over the noise levels), and checks that the method
 * suits the drift (ei needs a model with one shared variance).  Not
 * collective; every rank builds the same sampler.  The drift is kept (for
 * a model's own prior) and must outlive the sampler.
 * @return 0, SGM_ERR_CONFIG / SGM_ERR_UNSUPPORTED naming the key, or
 *         SGM_ERR_NOMEM.
 */
int sgm_sampler_create(const sgm_config_t *cfg, const sgm_drift_t *drift,
                       sgm_sampler_t **out);

/** Frees; sets the handle to NULL (NULL allowed). */
void sgm_sampler_destroy(sgm_sampler_t **sampler);

/** A one-line description for the output file, e.g. "pc (reverse_diffusion
 * + langevin, snr = 0.16, 1 corrector step) on a log_sigma grid of 100
 * steps". */
const char *sgm_sampler_describe(const sgm_sampler_t *sampler);

/** Drift evaluations (in particles) the steps made through their callback
 * so far, beyond the one per step the caller makes. */
int64_t sgm_sampler_extra_evals(const sgm_sampler_t *sampler);

/** Bytes this rank's sampler holds for its slice beyond the particles: the
 * work space of the multi-stage steps (heun, pc, ald) and rk45's GSL driver
 * (12 vectors of the slice).  Grown at the first step that needs them, and
 * outside the run's chunk budget: they scale with the slice, not a chunk. */
size_t sgm_sampler_state_bytes(const sgm_sampler_t *sampler);

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
 * ou, N(0, sigma_max^2 I) for ve, N(0, sigma_1^2 I) for ald), `pfgm` (the
 * Poisson field's own prior, sgm_drift_prior), `point`
 * (prior_value: one value for every coordinate, or d values), `forward` (a
 * uniformly drawn training example pushed through the forward marginal at T:
 * exact p^_T).  Collective over the row (the forward prior gathers examples
 * from every shard).
 */
int sgm_sampler_prior(const sgm_sampler_t *sampler, const sgm_dataset_t *data,
                      MPI_Comm row, int64_t first, int64_t count, double *y);

/**
 * Step k, from t_k to t_{k+1}, is two calls.  First, chunk by chunk,
 * sgm_sampler_step advances y (count x d, global indices from first) given
 * the drift evaluation at (y, t_k) requested by sgm_sampler_request:
 * em: y += (-f y + g^2 s) dt + g sqrt(dt) z.  ei: with the weights frozen,
 * the model part is integrated exactly (the Gaussian transition of the
 * frozen mixture) and the perturbation by its left-point value,
 * y += g^2 e dt.  ode heun: the trapezoid rule (one more evaluation through
 * drift).  pc: the predictor.  ald: one Langevin step.  ode rk45: nothing.
 * Collective over the row for heun, otherwise not collective.
 */
int sgm_sampler_step(sgm_sampler_t *sampler, int64_t k, int64_t first,
                     int64_t count, double *y, const sgm_drift_out_t *at,
                     const sgm_sampler_drift_t *drift);

/**
 * Then, once every chunk has stepped, sgm_sampler_finish_step completes the
 * step over this rank's whole slice y (count x d from global index first):
 * ode rk45 integrates the slice from t_k to t_{k+1} as one adaptive system;
 * pc runs its corrector at t_{k+1}; the other methods do nothing.
 * Collective over the world for pc with a corrector (the drift's row and
 * the ensemble communicator), over the row for rk45.
 */
int sgm_sampler_finish_step(sgm_sampler_t *sampler, int64_t k, int64_t first,
                            int64_t count, double *y,
                            const sgm_sampler_drift_t *drift);

/**
 * Tweedie's denoising at the last time: x = (y + sigma^2 s) / m with the
 * drift s evaluated at (y, t_min).  Not collective.
 */
void sgm_sampler_denoise(const sgm_sampler_t *sampler, int64_t count,
                         const double *y, const double *drift, double *x);

#endif /* SGM_SAMPLER_H */
