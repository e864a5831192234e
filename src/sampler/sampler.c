/*
 * The reverse-SDE integrators and the priors.
 *
 * Exponential integrator.  With the mixture weights frozen over a step, the
 * model's score is that of N(m D, (m^2 v + sigma^2) I) for the frozen mean D
 * (sum_i w_i mu_i) and the model's shared variance v: the score of the
 * forward process started at N(D, v I).  The reverse SDE's exact transition
 * from t to t' < t is then that process's posterior of X_t' given X_t = y:
 *   S' = m'^2 v + sigma'^2,  X_t | X_t' ~ N(r X_t', q I)  (r = m/m'),
 *   var = 1 / (1/S' + r^2/q),  mean = var (m' D / S' + r y / q),
 * which integrates the stiff -y/s^2 part exactly, with the exact variance of
 * the noise increment, however large the step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/sampler_impl.h"
#include "sgm/error.h"
#include "sgm/rng.h"
#include "sgm/sampler.h"

static void describe(sgm_sampler_t *s, const sgm_config_t *cfg) {
  const char *name = sgm_config_method_name(s->method);
  char what[112] = "";
  switch (s->method) {
  case SGM_METHOD_ODE:
    if (s->solver == SGM_SOLVER_RK45)
      snprintf(what, sizeof what, " (rk45, rtol = %g, atol = %g)", s->rtol,
               s->atol);
    else
      snprintf(what, sizeof what, " (heun)");
    break;
  case SGM_METHOD_PC:
    if (s->corrector == SGM_CORRECTOR_NONE)
      snprintf(what, sizeof what, " (%s, no corrector)",
               sgm_config_predictor_name(s->predictor));
    else
      snprintf(what, sizeof what, " (%s + %s, snr = %g, %d corrector step%s)",
               sgm_config_predictor_name(s->predictor),
               sgm_config_corrector_name(s->corrector), s->snr,
               s->corrector_steps, s->corrector_steps == 1 ? "" : "s");
    break;
  case SGM_METHOD_ALD:
    snprintf(s->description, sizeof s->description,
             "ald (%d levels sigma = %.4g ... %.4g, %d steps each, epsilon = "
             "%g), %lld particles",
             s->levels, s->level_sigma[0], s->level_sigma[s->levels - 1],
             s->level_steps, s->step_size, (long long)cfg->sampler.particles);
    return;
  default:
    break;
  }
  snprintf(s->description, sizeof s->description,
           "%s%s on a %s grid of %lld steps, %lld particles", name, what,
           sgm_config_grid_name(s->grid), (long long)s->steps,
           (long long)cfg->sampler.particles);
}

int sgm_sampler_create(const sgm_config_t *cfg, const sgm_drift_t *drift,
                       sgm_sampler_t **out) {
  int err = 0;
  *out = NULL;
  const enum sgm_method method = cfg->sampler.method;
  SGM_CHECK(cfg->sampler.steps >= 1, SGM_ERR_CONFIG,
            "[sampler] steps = %lld must be at least 1",
            (long long)cfg->sampler.steps);
  /* Checked here, not among the configuration's rules, so that `score`
   * and `jacobian --points` take such a drift with any [sampler]. */
  SGM_CHECK(!sgm_drift_ode_only(drift) || method == SGM_METHOD_ODE,
            SGM_ERR_CONFIG,
            "[sampler] method = %s cannot integrate [drift] model = %s, an "
            "ODE model (it has no reverse SDE): use method = ode",
            sgm_config_method_name(method), sgm_drift_model_name(drift));
  const int d = sgm_drift_dim(drift);
  sgm_sampler_t *s = NULL;
  SGM_CALL(SGM_CALLOC(s, 1));
  s->method = method;
  s->prior = cfg->sampler.prior;
  s->grid = cfg->sampler.grid;
  s->steps = cfg->sampler.steps;
  s->d = d;
  s->seed = cfg->run.seed;
  s->drift = drift;
  s->solver = cfg->sampler.solver;
  s->rtol = cfg->sampler.rtol;
  s->atol = cfg->sampler.atol;
  s->predictor = cfg->sampler.predictor;
  s->corrector = cfg->sampler.corrector;
  s->snr = cfg->sampler.snr;
  s->corrector_steps = cfg->sampler.corrector_steps;
  sgm_schedule_init(&s->sched, cfg);
  s->v_min = sgm_drift_min_variance(drift);
  s->prior_scale = s->sched.kind == SGM_SDE_VE ? s->sched.sigma_max : 1.0;
  if (method == SGM_METHOD_EI)
    SGM_CALL_GOTO(sgm_drift_model_variance(drift, &s->model_var), fail);
  if (method == SGM_METHOD_ALD) {
    SGM_CALL_GOTO(sgm__ald_grid(s, cfg), fail);
    s->prior_scale = s->level_sigma[0];
  } else {
    SGM_CALL_GOTO(SGM_MALLOC(s->t, (size_t)s->steps + 1), fail);
    SGM_CALL_GOTO(sgm__time_grid(s->grid, &s->sched, s->steps, s->t), fail);
  }
  SGM_CALL_GOTO(SGM_MALLOC(s->z, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(s->prior_value, (size_t)d), fail);
  const struct sgm_real_list *pv = &cfg->sampler.prior_value;
  SGM_CHECK_GOTO(pv->count == 1 || pv->count == d, SGM_ERR_CONFIG, fail,
                 "[sampler] prior_value has %d values; expected 1 (every "
                 "coordinate) or d = %d",
                 pv->count, d);
  for (int k = 0; k < d; k++)
    s->prior_value[k] = pv->values[pv->count == 1 ? 0 : k];
  describe(s, cfg);
  *out = s;
  return 0;
fail:
  sgm_sampler_destroy(&s);
  return err;
}

void sgm_sampler_destroy(sgm_sampler_t **handle) {
  if (!handle || !*handle)
    return;
  sgm_sampler_t *s = *handle;
  free(s->t);
  free(s->z);
  free(s->prior_value);
  free(s->level_sigma);
  free(s->work);
  sgm__rk45_free(s->rk45);
  free(s);
  *handle = NULL;
}

int64_t sgm_sampler_steps(const sgm_sampler_t *s) { return s->steps; }
const char *sgm_sampler_describe(const sgm_sampler_t *s) {
  return s->description;
}
int64_t sgm_sampler_extra_evals(const sgm_sampler_t *s) {
  return s->extra_evals;
}
size_t sgm_sampler_state_bytes(const sgm_sampler_t *s) {
  return s->work_cap * sizeof(double) + sgm__rk45_bytes(s->rk45);
}

int sgm__sampler_work(sgm_sampler_t *s, size_t n) {
  if (n <= s->work_cap)
    return 0;
  free(s->work);
  s->work = NULL;
  s->work_cap = 0;
  SGM_CALL(SGM_MALLOC(s->work, n));
  s->work_cap = n;
  return 0;
}

void sgm__sampler_normals(const sgm_sampler_t *s, int stream, int64_t particle,
                          uint64_t counter, double *z) {
  sgm_rng_normals(s->seed, (uint64_t)stream, (uint64_t)particle, counter, s->d,
                  z);
}
const double *sgm_sampler_times(const sgm_sampler_t *s) { return s->t; }

double sgm_sampler_stiffness(const sgm_sampler_t *s, int64_t *at) {
  return sgm__stiffness(&s->sched, s->t, s->steps, s->v_min, at);
}

/* Stiffness of a uniform grid of `steps` steps without visiting them all:
 * the exact last 64 steps (where it peaks as sigma -> 0) and 512 log-spaced
 * steps over the rest (where it peaks when the model's variance bounds it,
 * e.g. near T for the smoothed model).  Feeds a warning's suggestion. */
static double uniform_stiffness(const sgm_sampler_t *s, int64_t steps) {
  const double T = s->sched.T, t_min = s->sched.t_min;
  const double dt = (T - t_min) / (double)steps;
  double worst = 0.0;
  for (int64_t j = 0; j < steps && j < 64; j++) {
    double end = t_min + (double)j * dt;
    worst =
        fmax(worst, sgm__step_stiffness(&s->sched, end + dt, end, s->v_min));
  }
  for (int j = 0; j <= 512 && t_min + dt < T; j++) {
    double end = exp(log(t_min) + j / 512.0 * (log(T - dt) - log(t_min)));
    worst =
        fmax(worst, sgm__step_stiffness(&s->sched, end + dt, end, s->v_min));
  }
  return worst;
}

int64_t sgm_sampler_stable_uniform_steps(const sgm_sampler_t *s,
                                         int64_t max_steps) {
  int64_t hi = 1;
  while (uniform_stiffness(s, hi) >= 2.0) {
    if (hi >= max_steps)
      return -1;
    hi = hi * 2 > max_steps ? max_steps : hi * 2;
  }
  int64_t lo = hi / 2; /* unstable (or 0) */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (uniform_stiffness(s, mid) < 2.0)
      hi = mid;
    else
      lo = mid;
  }
  return hi;
}

void sgm_sampler_request(const sgm_sampler_t *s, sgm_drift_out_t *out,
                         double *drift, double *model_mean,
                         double *perturbation) {
  out->drift = drift;
  if (s->method == SGM_METHOD_EI) {
    out->model_mean = model_mean;
    out->perturbation = perturbation;
  }
}

int sgm_sampler_prior(const sgm_sampler_t *s, const sgm_dataset_t *data,
                      MPI_Comm row, int64_t first, int64_t count, double *y) {
  const int d = s->d;
  const double T = s->sched.T;
  switch (s->prior) {
  case SGM_PRIOR_GAUSSIAN: {
    const double scale = s->prior_scale;
    for (int64_t i = 0; i < count; i++) {
      sgm_rng_normals(s->seed, SGM_RNG_PRIOR, (uint64_t)(first + i), 0, d,
                      y + i * d);
      for (int k = 0; k < d; k++)
        y[i * d + k] *= scale;
    }
    return 0;
  }
  case SGM_PRIOR_PFGM: /* the model's own prior */
    return sgm_drift_prior(s->drift, s->seed, first, count, y);
  case SGM_PRIOR_POINT:
    for (int64_t i = 0; i < count; i++)
      memcpy(y + i * d, s->prior_value, sizeof *y * (size_t)d);
    return 0;
  case SGM_PRIOR_FORWARD:
    break;
  }
  /* forward: each rank of the row contributes the chosen examples that lie
   * in its shard; a sum over the row assembles them all. */
  memset(y, 0, sizeof *y * (size_t)(count * d));
  for (int64_t i = 0; i < count; i++) {
    sgm_rng_t r;
    sgm_rng_init(&r, s->seed, SGM_RNG_PRIOR, (uint64_t)(first + i), 1);
    int64_t j = (int64_t)sgm_rng_below(&r, (uint64_t)data->n) - data->offset;
    if (j >= 0 && j < data->n_local)
      memcpy(y + i * d, data->y + j * d, sizeof *y * (size_t)d);
  }
  for (int64_t i0 = 0; i0 < count * d; i0 += 1 << 28) {
    int n = (int)(count * d - i0 < (1 << 28) ? count * d - i0 : (1 << 28));
    SGM_MPI(MPI_Allreduce(MPI_IN_PLACE, y + i0, n, MPI_DOUBLE, MPI_SUM, row));
  }
  const double m = sgm_schedule_mean(&s->sched, T);
  const double sigma = sqrt(sgm_schedule_var(&s->sched, T));
  for (int64_t i = 0; i < count; i++) {
    sgm_rng_normals(s->seed, SGM_RNG_PRIOR, (uint64_t)(first + i), 0, d, s->z);
    for (int k = 0; k < d; k++)
      y[i * d + k] = m * y[i * d + k] + sigma * s->z[k];
  }
  return 0;
}

void sgm__step_em(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                  double *y, const sgm_drift_out_t *at) {
  const int d = s->d;
  const double t = s->t[k], dt = t - s->t[k + 1];
  const double f = sgm_schedule_f(&s->sched, t);
  const double g2 = sgm_schedule_g2(&s->sched, t);
  const double a = 1.0 - f * dt, b = g2 * dt, c = sqrt(g2 * dt);
  for (int64_t i = 0; i < count; i++) {
    sgm_rng_normals(s->seed, SGM_RNG_NOISE, (uint64_t)(first + i), (uint64_t)k,
                    d, s->z);
    double *yi = y + i * d;
    const double *si = at->drift + i * d;
    for (int j = 0; j < d; j++)
      yi[j] = a * yi[j] + b * si[j] + c * s->z[j];
  }
}

static void step_ei(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                    double *y, const sgm_drift_out_t *at) {
  const int d = s->d;
  const double t = s->t[k], tn = s->t[k + 1], v = s->model_var;
  const double mn = sgm_schedule_mean(&s->sched, tn);
  const double var_n = sgm_schedule_var(&s->sched, tn);
  double r, q;
  sgm_schedule_transition(&s->sched, tn, t, &r, &q);
  const double S = mn * mn * v + var_n;
  const double post = 1.0 / (1.0 / S + r * r / q);
  const double c_mean = post * mn / S, c_y = post * r / q, sd = sqrt(post);
  const double c_e = sgm_schedule_g2(&s->sched, t) * (t - tn);
  for (int64_t i = 0; i < count; i++) {
    sgm_rng_normals(s->seed, SGM_RNG_NOISE, (uint64_t)(first + i), (uint64_t)k,
                    d, s->z);
    double *yi = y + i * d;
    const double *mi = at->model_mean + i * d;
    const double *ei = at->perturbation + i * d;
    for (int j = 0; j < d; j++)
      yi[j] = c_mean * mi[j] + c_y * yi[j] + sd * s->z[j] + c_e * ei[j];
  }
}

static int check_step(const sgm_sampler_t *s, int64_t k) {
  SGM_CHECK(k >= 0 && k < s->steps, SGM_ERR_INTERNAL,
            "step %lld outside 0..%lld", (long long)k, (long long)s->steps - 1);
  return 0;
}

int sgm_sampler_step(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                     double *y, const sgm_drift_out_t *at,
                     const sgm_sampler_drift_t *drift) {
  SGM_CALL(check_step(s, k));
  switch (s->method) {
  case SGM_METHOD_EI:
    SGM_CHECK(at->model_mean && at->perturbation, SGM_ERR_INTERNAL,
              "ei step without the model mean and perturbation");
    step_ei(s, k, first, count, y, at);
    return 0;
  case SGM_METHOD_EM:
    SGM_CHECK(at->drift, SGM_ERR_INTERNAL, "em step without the drift");
    sgm__step_em(s, k, first, count, y, at);
    return 0;
  case SGM_METHOD_ODE:
    if (s->solver == SGM_SOLVER_RK45)
      return 0; /* sgm_sampler_finish_step */
    SGM_CHECK(at->drift && drift, SGM_ERR_INTERNAL,
              "heun step without the drift");
    return sgm__step_heun(s, k, count, y, at, drift);
  case SGM_METHOD_PC:
    SGM_CHECK(at->drift, SGM_ERR_INTERNAL, "pc step without the drift");
    sgm__step_predict(s, k, first, count, y, at);
    return 0;
  case SGM_METHOD_ALD:
    SGM_CHECK(at->drift, SGM_ERR_INTERNAL, "ald step without the drift");
    sgm__step_ald(s, k, first, count, y, at);
    return 0;
  }
  return sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                       "method %d has no step", (int)s->method);
}

int sgm_sampler_finish_step(sgm_sampler_t *s, int64_t k, int64_t first,
                            int64_t count, double *y,
                            const sgm_sampler_drift_t *drift) {
  SGM_CALL(check_step(s, k));
  if (s->method == SGM_METHOD_ODE && s->solver == SGM_SOLVER_RK45)
    return sgm__step_rk45(s, k, count, y, drift);
  if (s->method == SGM_METHOD_PC)
    return sgm__step_correct(s, k, first, count, y, drift);
  return 0;
}

void sgm_sampler_denoise(const sgm_sampler_t *s, int64_t count, const double *y,
                         const double *drift, double *x) {
  const double t = s->t[s->steps];
  const double m = sgm_schedule_mean(&s->sched, t);
  const double var = sgm_schedule_var(&s->sched, t);
  for (int64_t i = 0; i < count * s->d; i++)
    x[i] = (y[i] + var * drift[i]) / m;
}
