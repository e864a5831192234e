/* Private to the sampler module: the sampler's state, shared by the
 * integrators of sampler.c (em, ei, the priors), ode.c (heun, rk45) and
 * langevin.c (pc, ald). */
#ifndef SGM_SAMPLER_IMPL_H
#define SGM_SAMPLER_IMPL_H

#include <stdint.h>

#include "sgm/config.h"
#include "sgm/sampler.h"
#include "sgm/schedule.h"

struct sgm__rk45; /* ode.c: the GSL driver of the slice's system */

struct sgm_sampler {
  enum sgm_method method;
  enum sgm_prior prior;
  enum sgm_time_grid grid;
  sgm_schedule_t sched;
  int64_t steps;
  double *t;
  int d;
  uint64_t seed;
  double model_var;    /* ei: the model's shared component variance */
  double v_min;        /* smallest component variance (stiffness) */
  double *prior_value; /* d values (point prior) */
  double prior_scale;  /* gaussian prior: N(0, prior_scale^2 I) */
  double *z;           /* d normals */
  const sgm_drift_t *drift;
  /* method = ode */
  enum sgm_ode_solver solver;
  double rtol, atol;
  struct sgm__rk45 *rk45;
  /* method = pc */
  enum sgm_predictor predictor;
  enum sgm_corrector corrector;
  double snr;
  int corrector_steps;
  /* method = ald: sigma of each level, and the level of each step */
  int levels, level_steps;
  double step_size;
  double *level_sigma;
  /* Work space of the multi-stage steps (grown on demand) and the drift
   * evaluations they made beyond the one per step the caller makes. */
  double *work;
  size_t work_cap;
  int64_t extra_evals;
  char description[160];
};

/** Room for n doubles in s->work (kept; grown when too small). */
int sgm__sampler_work(sgm_sampler_t *s, size_t n);

/** One particle's d normals of stream (seed, stream, particle, counter). */
void sgm__sampler_normals(const sgm_sampler_t *s, int stream, int64_t particle,
                          uint64_t counter, double *z);

/** Fills t[0..steps] with the grid of kind from T down to t_min. */
int sgm__time_grid(enum sgm_time_grid kind, const sgm_schedule_t *s,
                   int64_t steps, double *t);

/**
 * The stiffness of one explicit step from t_from down to t_to:
 * g(t_from)^2 (t_from - t_to) / (sigma(t_to)^2 + m(t_to)^2 v_min), the step
 * against the smallest variance it reaches.  Euler-Maruyama needs < 2; on a
 * uniform VP grid this is steps > T / (2 t_min) (DESIGN.md).
 */
double sgm__step_stiffness(const sgm_schedule_t *s, double t_from, double t_to,
                           double v_min);

/** Largest sgm__step_stiffness over the grid's steps. */
double sgm__stiffness(const sgm_schedule_t *s, const double *t, int64_t steps,
                      double v_min, int64_t *at);

/** Euler-Maruyama from t_k to t_{k+1} (also pc's em predictor). */
void sgm__step_em(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                  double *y, const sgm_drift_out_t *at);

/* ---- ode.c --------------------------------------------------------------- */

/** Heun's method (explicit trapezoid) on the probability-flow ODE from t_k
 * to t_{k+1}: one more drift evaluation, at t_{k+1}. */
int sgm__step_heun(sgm_sampler_t *s, int64_t k, int64_t count, double *y,
                   const sgm_drift_out_t *at, const sgm_sampler_drift_t *fn);

/** Adaptive Runge-Kutta-Fehlberg 4(5) (GSL odeiv2) on the probability-flow
 * ODE of the whole slice from t_k to t_{k+1}. */
int sgm__step_rk45(sgm_sampler_t *s, int64_t k, int64_t count, double *y,
                   const sgm_sampler_drift_t *fn);

void sgm__rk45_free(struct sgm__rk45 *w);
/** The driver's vectors, in bytes (0 for NULL). */
size_t sgm__rk45_bytes(const struct sgm__rk45 *w);

/* ---- langevin.c ---------------------------------------------------------- */

/** pc's predictor from t_k to t_{k+1} (chunk by chunk). */
void sgm__step_predict(sgm_sampler_t *s, int64_t k, int64_t first,
                       int64_t count, double *y, const sgm_drift_out_t *at);

/** pc's corrector at t_{k+1} over the whole slice (collective: the row's
 * evaluations, the ensemble's norms). */
int sgm__step_correct(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                      double *y, const sgm_sampler_drift_t *fn);

/** One step of annealed Langevin dynamics at step k's level. */
void sgm__step_ald(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                   double *y, const sgm_drift_out_t *at);

/** The ald time grid: levels sigma_1 > ... > sigma_L (s->level_sigma),
 * level_steps steps at each, t = sigma^-1 of the step's level. */
int sgm__ald_grid(sgm_sampler_t *s, const sgm_config_t *cfg);

#endif
