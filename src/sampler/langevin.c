/*
 * Predictor-corrector sampling (score_sde, Song et al. 2021) and annealed
 * Langevin dynamics (NCSN, Song & Ermon 2019).
 *
 * Predictors, from t = t_k down to t' = t_{k+1}, with the forward
 * transition X_t = r X_t' + sqrt(q) eps of the schedule (r = m(t)/m(t'),
 * q = sigma(t)^2 - r^2 sigma(t')^2) and s the drift at (y, t):
 *   em                 Euler-Maruyama, exactly method = em's step;
 *   reverse_diffusion  the reverse of that one-step discretisation,
 *                      y <- (2 - r) y + q s + sqrt(q) z  (score_sde's
 *                      ReverseDiffusionPredictor: for vp r = sqrt(1 - beta_i),
 *                      q = beta_i; for ve r = 1, q = sigma_i^2 -
 * sigma_{i-1}^2); ancestral          DDPM's ancestral step for vp and ou (m^2 +
 * sigma^2 = 1), y <- (y + q s) / r + sqrt(q) z, and the ve one, y <- y + q s +
 * sqrt(sigma(t')^2 q / sigma(t)^2) z. Correctors, at t' after the predictor (so
 * that the last state of a run is corrected; score_sde's pc_sampler corrects
 * before it predicts, which leaves the final state uncorrected),
 * corrector_steps times, each with a fresh drift s at (y, t'): langevin  eps =
 * 2 alpha (snr |z| / |s|)^2, ald       eps = 2 alpha (snr sigma(t'))^2, y <- y
 * + eps s + sqrt(2 eps) z, with alpha = r^2 (the step's 1 - beta_i) for vp and
 * ou and 1 for ve, as score_sde.  score_sde takes |z| and |s| as means over its
 * batch; here they are each particle's own norms, so that the paths do not
 * depend on how the particles are split into batches or ranks.  A particle with
 * s = 0 is not moved by the langevin corrector.
 *
 * Annealed Langevin dynamics: levels sigma_1 > ... > sigma_L, geometric,
 * level_steps steps at each: y <- y + eps_i s + sqrt(2 eps_i) z with
 * eps_i = epsilon sigma_i^2 / sigma_L^2 (NCSN's step_lr, its update
 * x + alpha s + sqrt(2 alpha) z), s the ve mixture's score at sigma_i (the
 * drift at the ve time of sigma_i).  The grid's times are those of each
 * step's level, the last one sigma_L's.
 */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>

#include "sampler/sampler_impl.h"
#include "sgm/error.h"
#include "sgm/rng.h"

static double norm(const double *v, int d) {
  double acc = 0.0;
  for (int j = 0; j < d; j++)
    acc += v[j] * v[j];
  return sqrt(acc);
}

void sgm__step_predict(sgm_sampler_t *s, int64_t k, int64_t first,
                       int64_t count, double *y, const sgm_drift_out_t *at) {
  if (s->predictor == SGM_PREDICTOR_EM) {
    sgm__step_em(s, k, first, count, y, at);
    return;
  }
  const int d = s->d;
  const double t = s->t[k], tn = s->t[k + 1];
  double r, q;
  sgm_schedule_transition(&s->sched, tn, t, &r, &q);
  double a = 2.0 - r, b = q, c = sqrt(q); /* reverse diffusion */
  if (s->predictor == SGM_PREDICTOR_ANCESTRAL) {
    if (s->sched.kind == SGM_SDE_VE) {
      a = 1.0;
      c = sqrt(sgm_schedule_var(&s->sched, tn) * q /
               sgm_schedule_var(&s->sched, t));
    } else {
      a = 1.0 / r;
      b = q / r;
    }
  }
  for (int64_t i = 0; i < count; i++) {
    sgm__sampler_normals(s, SGM_RNG_NOISE, first + i, (uint64_t)k, s->z);
    double *yi = y + i * d;
    const double *si = at->drift + i * d;
    for (int j = 0; j < d; j++)
      yi[j] = a * yi[j] + b * si[j] + c * s->z[j];
  }
}

int sgm__step_correct(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                      double *y, const sgm_sampler_drift_t *fn) {
  const int d = s->d;
  const size_t len = (size_t)count * (size_t)d;
  if (s->corrector == SGM_CORRECTOR_NONE)
    return 0;
  /* Room for the slice's drift and its normals (langevin: the mean norms
   * need every normal before the first move). */
  SGM_CALL(sgm__sampler_work(s, 2 * len + 1));
  double *grad = s->work, *z = s->work + len;
  const double t = s->t[k], tn = s->t[k + 1];
  double r, q;
  sgm_schedule_transition(&s->sched, tn, t, &r, &q);
  const double alpha = s->sched.kind == SGM_SDE_VE ? 1.0 : r * r;
  const double sigma = sqrt(sgm_schedule_var(&s->sched, tn));
  for (int j = 0; j < s->corrector_steps; j++) {
    /* Every row learns of another's failed evaluation before the
     * ensemble's sums (which it would otherwise wait for). */
    SGM_CALL(sgm_error_agree(
        fn->ensemble, count > 0 ? fn->fn(fn->ctx, tn, count, y, grad) : 0));
    s->extra_evals += count;
    const uint64_t counter = (uint64_t)k * (uint64_t)s->corrector_steps + j;
    double sums[2] = {0.0, 0.0}; /* sum |s_i|, sum |z_i| */
    for (int64_t i = 0; i < count; i++) {
      sgm__sampler_normals(s, SGM_RNG_CORRECTOR, first + i, counter, z + i * d);
      sums[0] += norm(grad + i * d, d);
      sums[1] += norm(z + i * d, d);
    }
    double eps = 2.0 * alpha * (s->snr * sigma) * (s->snr * sigma); /* ald */
    if (s->corrector == SGM_CORRECTOR_LANGEVIN) {
      /* score_sde's mean norms, over the whole ensemble (every row's
       * slice): the same step for every particle, whatever the layout. */
      SGM_MPI(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM,
                            fn->ensemble));
      const double ratio = sums[0] > 0 ? s->snr * sums[1] / sums[0] : 0.0;
      eps = 2.0 * alpha * ratio * ratio;
    }
    const double noise = sqrt(2.0 * eps);
    for (size_t c = 0; c < len; c++)
      y[c] = y[c] + eps * grad[c] + noise * z[c];
  }
  return 0;
}

void sgm__step_ald(sgm_sampler_t *s, int64_t k, int64_t first, int64_t count,
                   double *y, const sgm_drift_out_t *at) {
  const int d = s->d;
  const double sig = s->level_sigma[k / s->level_steps];
  const double last = s->level_sigma[s->levels - 1];
  const double eps = s->step_size * (sig / last) * (sig / last);
  const double noise = sqrt(2.0 * eps);
  for (int64_t i = 0; i < count; i++) {
    sgm__sampler_normals(s, SGM_RNG_NOISE, first + i, (uint64_t)k, s->z);
    double *yi = y + i * d;
    const double *si = at->drift + i * d;
    for (int j = 0; j < d; j++)
      yi[j] = yi[j] + eps * si[j] + noise * s->z[j];
  }
}

int sgm__ald_grid(sgm_sampler_t *s, const sgm_config_t *cfg) {
  const sgm_schedule_t *sc = &s->sched;
  const int L = cfg->sampler.levels, M = cfg->sampler.level_steps;
  double first = cfg->sampler.sigma_first, last = cfg->sampler.sigma_last;
  if (first == 0)
    first = sqrt(sgm_schedule_var(sc, sc->T));
  if (last == 0)
    last = sqrt(sgm_schedule_var(sc, sc->t_min));
  SGM_CHECK(first > last, SGM_ERR_CONFIG,
            "[sampler] method = ald: the first noise level %.6g (sigma_first, "
            "default sigma(T)) must exceed the last %.6g (sigma_last, default "
            "sigma(t_min))",
            first, last);
  s->levels = L;
  s->level_steps = M;
  s->step_size = cfg->sampler.step_size;
  s->steps = (int64_t)L * M;
  SGM_CALL(SGM_MALLOC(s->level_sigma, (size_t)L));
  SGM_CALL(SGM_MALLOC(s->t, (size_t)s->steps + 1));
  for (int i = 0; i < L; i++)
    s->level_sigma[i] =
        L == 1 ? last : first * pow(last / first, (double)i / (L - 1));
  s->level_sigma[L - 1] = last;
  for (int64_t k = 0; k <= s->steps; k++) {
    const double sig = s->level_sigma[k < s->steps ? k / M : L - 1];
    s->t[k] = sgm_schedule_time_of_var(sc, sig * sig);
  }
  return 0;
}
