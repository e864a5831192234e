/*
 * The probability-flow ODE (DESIGN.md): in reverse time tau = T - t,
 *   dy/dtau = -f(t) y + g(t)^2 s(y, t) / 2,
 * which has the reverse SDE's marginals and no noise.  Two integrators
 * between consecutive grid times t_k > t_{k+1} (the output times):
 *
 * heun  the explicit trapezoid rule (Heun's method, as in Karras et al.):
 *       F(y, t) = -f y + g^2 s / 2;  y~ = y + dt F(y, t_k);
 *       y <- y + dt/2 (F(y, t_k) + F(y~, t_{k+1})).  Second order, one more
 *       drift evaluation per step (the first is the caller's).  Paths do
 *       not depend on the rank layout.
 * rk45  Runge-Kutta-Fehlberg 4(5) of GSL's odeiv2 with its standard error
 *       control (every component within atol + rtol |y_i|), over the whole
 *       slice as one system: the row's particle block shares its step size,
 *       as score_sde's RK45 (scipy, Dormand-Prince) shares it over a batch,
 *       so the paths depend on the layout to within the tolerance.  GSL
 *       bounds the error of each component (a max norm) where scipy takes
 *       the RMS over the batch: at equal rtol and atol it is the stricter.
 *       Each interval [t_{k+1}, t_k] starts from a trial step of the whole
 *       interval, so a resumed run repeats an uninterrupted one exactly.
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdlib.h>

#include "sampler/sampler_impl.h"
#include "sgm/error.h"

/* Steps one interval may take before the integration gives up. */
#define RK45_MAX_STEPS 100000

struct sgm__rk45 {
  gsl_odeiv2_system sys;
  gsl_odeiv2_driver *driver;
  size_t dim;
  /* What the right-hand side needs. */
  const sgm_schedule_t *sched;
  const sgm_sampler_drift_t *fn;
  int64_t count;
  int64_t evals; /* right-hand sides (of the whole slice) */
  int err;       /* the drift's error, when it failed */
};

/* rkf45's stages and its two copies of y (8 vectors), and the evolve
 * object's y0, yerr, dydt_in and dydt_out (4). */
size_t sgm__rk45_bytes(const struct sgm__rk45 *w) {
  return w ? 12 * w->dim * sizeof(double) : 0;
}

void sgm__rk45_free(struct sgm__rk45 *w) {
  if (!w)
    return;
  if (w->driver)
    gsl_odeiv2_driver_free(w->driver);
  free(w);
}

/* F in forward time, dy/dt = f y - g^2 s / 2, for the whole slice. */
static int rk45_rhs(double t, const double y[], double dydt[], void *params) {
  struct sgm__rk45 *w = params;
  int err = w->fn->fn(w->fn->ctx, t, w->count, y, dydt);
  if (err) {
    w->err = err;
    return GSL_EBADFUNC;
  }
  const double f = sgm_schedule_f(w->sched, t);
  const double half_g2 = 0.5 * sgm_schedule_g2(w->sched, t);
  for (size_t i = 0; i < w->dim; i++)
    dydt[i] = f * y[i] - half_g2 * dydt[i];
  w->evals++;
  return GSL_SUCCESS;
}

static int rk45_open(sgm_sampler_t *s, int64_t count) {
  const size_t dim = (size_t)count * (size_t)s->d;
  if (s->rk45 && s->rk45->dim == dim)
    return 0;
  sgm__rk45_free(s->rk45);
  s->rk45 = NULL;
  struct sgm__rk45 *w = NULL;
  SGM_CALL(SGM_CALLOC(w, 1));
  gsl_set_error_handler_off(); /* GSL's default handler aborts */
  w->dim = dim;
  w->sched = &s->sched;
  w->sys = (gsl_odeiv2_system){rk45_rhs, NULL, dim, w};
  /* The trial step is reset per interval; its sign only has to point down
   * in t. */
  w->driver = gsl_odeiv2_driver_alloc_y_new(&w->sys, gsl_odeiv2_step_rkf45,
                                            -1e-3, s->atol, s->rtol);
  if (!w->driver) {
    free(w);
    return sgm_error_set(SGM_ERR_NOMEM, __FILE__, __LINE__, __func__,
                         "GSL odeiv2 driver for %zu unknowns (rk45 over "
                         "%lld particles)",
                         dim, (long long)count);
  }
  gsl_odeiv2_driver_set_nmax(w->driver, RK45_MAX_STEPS);
  s->rk45 = w;
  return 0;
}

int sgm__step_rk45(sgm_sampler_t *s, int64_t k, int64_t count, double *y,
                   const sgm_sampler_drift_t *fn) {
  if (count == 0) /* every rank of the row alike: nothing to integrate */
    return 0;
  SGM_CALL(rk45_open(s, count));
  struct sgm__rk45 *w = s->rk45;
  w->fn = fn;
  w->count = count;
  w->err = 0;
  const double t0 = s->t[k], t1 = s->t[k + 1];
  double t = t0;
  gsl_odeiv2_driver_reset_hstart(w->driver, -(t0 - t1));
  const int64_t before = w->evals;
  int rc = gsl_odeiv2_driver_apply(w->driver, &t, t1, y);
  s->extra_evals += (w->evals - before) * count;
  if (w->err)
    return w->err;
  SGM_CHECK(rc != GSL_EMAXITER, SGM_ERR_NUMERIC,
            "[sampler] solver = rk45 took more than %d steps from t = %.6g to "
            "%.6g (rtol = %g, atol = %g): the ODE is too stiff there for "
            "these tolerances; loosen them, or use solver = heun on a "
            "log_sigma grid",
            RK45_MAX_STEPS, t0, t1, s->rtol, s->atol);
  SGM_CHECK(rc == GSL_SUCCESS, SGM_ERR_NUMERIC,
            "[sampler] solver = rk45 failed from t = %.6g to %.6g at t = "
            "%.6g: %s (rtol = %g, atol = %g)",
            t0, t1, t, gsl_strerror(rc), s->rtol, s->atol);
  return 0;
}

int sgm__step_heun(sgm_sampler_t *s, int64_t k, int64_t count, double *y,
                   const sgm_drift_out_t *at, const sgm_sampler_drift_t *fn) {
  const size_t len = (size_t)count * (size_t)s->d;
  if (len == 0)
    return 0;
  SGM_CALL(sgm__sampler_work(s, 3 * len));
  double *F0 = s->work, *y1 = s->work + len, *s1 = s->work + 2 * len;
  const double t = s->t[k], tn = s->t[k + 1], dt = t - tn;
  const double f0 = sgm_schedule_f(&s->sched, t);
  const double h0 = 0.5 * sgm_schedule_g2(&s->sched, t);
  for (size_t i = 0; i < len; i++) {
    F0[i] = -f0 * y[i] + h0 * at->drift[i];
    y1[i] = y[i] + dt * F0[i];
  }
  SGM_CALL(fn->fn(fn->ctx, tn, count, y1, s1));
  s->extra_evals += count;
  const double f1 = sgm_schedule_f(&s->sched, tn);
  const double h1 = 0.5 * sgm_schedule_g2(&s->sched, tn);
  for (size_t i = 0; i < len; i++)
    y[i] += 0.5 * dt * (F0[i] + (-f1 * y1[i] + h1 * s1[i]));
  return 0;
}
