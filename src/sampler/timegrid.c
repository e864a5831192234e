/*
 * Time grids from T down to t_min.
 *   uniform    t_k = T - k (T - t_min) / K               (score_sde)
 *   log_sigma  log sigma(t_k) uniform in k
 *   edm        sigma_k = (s_T^(1/rho) + k/K (s_min^(1/rho) - s_T^(1/rho)))^rho,
 *              rho = 7 (Karras et al. 2022)
 * Non-uniform grids are mapped back to times through sigma(t)^-1; the
 * endpoints are exactly T and t_min.
 */
#include <math.h>

#include "sampler/sampler_impl.h"
#include "sgm/error.h"

#define EDM_RHO 7.0

int sgm__time_grid(enum sgm_time_grid kind, const sgm_schedule_t *s,
                   int64_t steps, double *t) {
  const double T = s->T, t_min = s->t_min, K = (double)steps;
  const double sig_T = sqrt(sgm_schedule_var(s, T));
  const double sig_min = sqrt(sgm_schedule_var(s, t_min));
  for (int64_t k = 0; k <= steps; k++) {
    double frac = (double)k / K;
    switch (kind) {
    case SGM_GRID_UNIFORM:
      t[k] = T - frac * (T - t_min);
      break;
    case SGM_GRID_LOG_SIGMA: {
      double sig = exp(log(sig_T) + frac * (log(sig_min) - log(sig_T)));
      t[k] = sgm_schedule_time_of_var(s, sig * sig);
      break;
    }
    case SGM_GRID_EDM: {
      double a = pow(sig_T, 1.0 / EDM_RHO), b = pow(sig_min, 1.0 / EDM_RHO);
      double sig = pow(a + frac * (b - a), EDM_RHO);
      t[k] = sgm_schedule_time_of_var(s, sig * sig);
      break;
    }
    }
  }
  t[0] = T;
  t[steps] = t_min;
  for (int64_t k = 0; k < steps; k++)
    SGM_CHECK(t[k + 1] < t[k] && isfinite(t[k]), SGM_ERR_CONFIG,
              "[sampler] grid: steps %lld and %lld fall on the same time "
              "(%.17g); use fewer steps or another grid",
              (long long)k, (long long)k + 1, t[k]);
  return 0;
}

double sgm__step_stiffness(const sgm_schedule_t *s, double t_from, double t_to,
                           double v_min) {
  double m = sgm_schedule_mean(s, t_to);
  return sgm_schedule_g2(s, t_from) * (t_from - t_to) /
         (sgm_schedule_var(s, t_to) + m * m * v_min);
}

double sgm__stiffness(const sgm_schedule_t *s, const double *t, int64_t steps,
                      double v_min, int64_t *at) {
  double worst = 0.0;
  int64_t where = 0;
  for (int64_t k = 0; k < steps; k++) {
    double r = sgm__step_stiffness(s, t[k], t[k + 1], v_min);
    if (r > worst) {
      worst = r;
      where = k;
    }
  }
  if (at)
    *at = where;
  return worst;
}
