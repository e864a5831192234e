/**
 * @file schedule.h
 * The forward SDEs dX = f(t) X dt + g(t) dW of DESIGN.md and their
 * Gaussian marginals N(m(t) x0, sigma(t)^2 I).
 *
 * vp: beta(t) = beta_min + t (beta_max - beta_min), f = -beta/2, g^2 = beta,
 *     m = exp(-B/2), sigma^2 = 1 - m^2, B(t) = int_0^t beta.
 * ve: sigma_v(t) = sigma_min (sigma_max/sigma_min)^t, f = 0,
 *     g^2 = 2 ln(sigma_max/sigma_min) sigma_v^2, m = 1,
 *     sigma^2 = sigma_v^2 - sigma_min^2.
 * ou: f = -1, g^2 = 2, m = e^{-t}, sigma^2 = 1 - e^{-2t}.
 */
#ifndef SGM_SCHEDULE_H
#define SGM_SCHEDULE_H

#include "sgm/config.h"

typedef struct sgm_schedule {
  enum sgm_sde_kind kind;
  double beta_min, beta_max;   /* vp */
  double sigma_min, sigma_max; /* ve */
  double T, t_min;
} sgm_schedule_t;

/** Copies the [sde] section. */
void sgm_schedule_init(sgm_schedule_t *s, const sgm_config_t *cfg);

/** m(t), the mean factor of the marginal. */
double sgm_schedule_mean(const sgm_schedule_t *s, double t);

/** sigma(t)^2, the marginal variance (accurate as t -> 0). */
double sgm_schedule_var(const sgm_schedule_t *s, double t);

/** f(t), the linear drift coefficient. */
double sgm_schedule_f(const sgm_schedule_t *s, double t);

/** g(t)^2, the squared diffusion coefficient. */
double sgm_schedule_g2(const sgm_schedule_t *s, double t);

/** int_{t0}^{t1} g(t)^2 dt in closed form. */
double sgm_schedule_g2_integral(const sgm_schedule_t *s, double t0, double t1);

/**
 * The forward transition between two times s < t:
 * X_t | X_s ~ N(ratio X_s, var I), computed without cancellation for close
 * times (the exponential integrator's steps).
 */
void sgm_schedule_transition(const sgm_schedule_t *s, double t_from,
                             double t_to, double *ratio, double *var);

/** The time at which sigma(t)^2 = sigma2 (the inverse of
 * sgm_schedule_var); sigma2 must lie in the schedule's range. */
double sgm_schedule_time_of_var(const sgm_schedule_t *s, double sigma2);

#endif /* SGM_SCHEDULE_H */
