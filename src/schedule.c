/* Closed forms of the forward SDEs' coefficients and marginals. */
#include "sgm/schedule.h"

#include <math.h>

void sgm_schedule_init(sgm_schedule_t *s, const sgm_config_t *cfg) {
  s->kind = cfg->sde.kind;
  s->beta_min = cfg->sde.beta_min;
  s->beta_max = cfg->sde.beta_max;
  s->sigma_min = cfg->sde.sigma_min;
  s->sigma_max = cfg->sde.sigma_max;
  s->T = cfg->sde.T;
  s->t_min = cfg->sde.t_min;
}

/* B(t) = int_0^t beta. */
static double vp_B(const sgm_schedule_t *s, double t) {
  return s->beta_min * t + 0.5 * (s->beta_max - s->beta_min) * t * t;
}

static double ve_log_ratio(const sgm_schedule_t *s) {
  return log(s->sigma_max / s->sigma_min);
}

double sgm_schedule_mean(const sgm_schedule_t *s, double t) {
  switch (s->kind) {
  case SGM_SDE_VP:
    return exp(-0.5 * vp_B(s, t));
  case SGM_SDE_VE:
    return 1.0;
  case SGM_SDE_OU:
    return exp(-t);
  }
  return NAN;
}

double sgm_schedule_var(const sgm_schedule_t *s, double t) {
  switch (s->kind) {
  case SGM_SDE_VP:
    return -expm1(-vp_B(s, t));
  case SGM_SDE_VE:
    return s->sigma_min * s->sigma_min * expm1(2.0 * t * ve_log_ratio(s));
  case SGM_SDE_OU:
    return -expm1(-2.0 * t);
  }
  return NAN;
}

double sgm_schedule_f(const sgm_schedule_t *s, double t) {
  switch (s->kind) {
  case SGM_SDE_VP:
    return -0.5 * (s->beta_min + t * (s->beta_max - s->beta_min));
  case SGM_SDE_VE:
    return 0.0;
  case SGM_SDE_OU:
    return -1.0;
  }
  return NAN;
}

double sgm_schedule_g2(const sgm_schedule_t *s, double t) {
  switch (s->kind) {
  case SGM_SDE_VP:
    return s->beta_min + t * (s->beta_max - s->beta_min);
  case SGM_SDE_VE: {
    double sv = s->sigma_min * exp(t * ve_log_ratio(s));
    return 2.0 * ve_log_ratio(s) * sv * sv;
  }
  case SGM_SDE_OU:
    return 2.0;
  }
  return NAN;
}

double sgm_schedule_g2_integral(const sgm_schedule_t *s, double t0, double t1) {
  switch (s->kind) {
  case SGM_SDE_VP:
    return vp_B(s, t1) - vp_B(s, t0);
  case SGM_SDE_VE: {
    double smin2 = s->sigma_min * s->sigma_min, lr = ve_log_ratio(s);
    return smin2 * (exp(2.0 * t1 * lr) - exp(2.0 * t0 * lr));
  }
  case SGM_SDE_OU:
    return 2.0 * (t1 - t0);
  }
  return NAN;
}
