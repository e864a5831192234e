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

/* B(t) - B(s) = int_s^t beta, without subtracting two nearly equal values. */
static double vp_B_difference(const sgm_schedule_t *s, double t_from,
                              double t_to) {
  double h = t_to - t_from;
  return s->beta_min * h +
         0.5 * (s->beta_max - s->beta_min) * h * (t_to + t_from);
}

void sgm_schedule_transition(const sgm_schedule_t *s, double t_from,
                             double t_to, double *ratio, double *var) {
  double h = t_to - t_from;
  switch (s->kind) {
  case SGM_SDE_VP: {
    double dB = vp_B_difference(s, t_from, t_to);
    *ratio = exp(-0.5 * dB);
    *var = -expm1(-dB);
    return;
  }
  case SGM_SDE_VE: {
    double lr = ve_log_ratio(s);
    *ratio = 1.0;
    *var = s->sigma_min * s->sigma_min * exp(2.0 * t_from * lr) *
           expm1(2.0 * h * lr);
    return;
  }
  case SGM_SDE_OU:
    *ratio = exp(-h);
    *var = -expm1(-2.0 * h);
    return;
  }
}

double sgm_schedule_time_of_var(const sgm_schedule_t *s, double sigma2) {
  switch (s->kind) {
  case SGM_SDE_VP: {
    /* Solve B(t) = -log(1 - sigma^2): a t^2 + b t = B, in the form that does
     * not cancel. */
    double B = -log1p(-sigma2);
    double a = 0.5 * (s->beta_max - s->beta_min), b = s->beta_min;
    return 2.0 * B / (b + sqrt(b * b + 4.0 * a * B));
  }
  case SGM_SDE_VE:
    return log1p(sigma2 / (s->sigma_min * s->sigma_min)) /
           (2.0 * ve_log_ratio(s));
  case SGM_SDE_OU:
    return -0.5 * log1p(-sigma2);
  }
  return NAN;
}
