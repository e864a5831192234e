/*
 * The empirical Poisson field of PFGM++ (Xu et al. 2023), [drift] model =
 * pfgm.
 *
 * The training set {y_i} (n examples in d dimensions) as charges on the
 * z = 0 plane of R^{d + D}: by the SO(D) symmetry the field at (x, z)
 * depends on r = |z| only, and the ODE of its field lines is
 *   dx/dr = E_x / E_r = (x - m D(x)) / r,  D(x) = sum_i w_i y_i,
 *   w_i proportional to (|x - m y_i|^2 + r^2)^(-(d + D)/2),
 * normalised over all n examples (the mixture module's Poisson kernel: the
 * same sharded log-sum-exp as the Gaussian mixtures, with logits
 * -((d + D)/2) log(|x - m y_i|^2 + r^2)).  With PFGM++'s alignment
 * r = sigma(t) sqrt(D) the drift is the effective score
 *   s(x, t) = (m D(x) - x) / sigma(t)^2,
 * so that the probability-flow ODE dx/dsigma = -sigma s = (x - m D) / sigma
 * is exactly dx/dr = (x - m D) / r.  For ve (m = 1) that is PFGM++'s ODE;
 * for vp and ou the data are scaled by m(t) as in every model: in
 * x~ = x / m and r~ = sigma sqrt(D) / m the probability-flow ODE is again
 * dx~/dr~ = (x~ - D) / r~ with weights (|x~ - y_i|^2 + r~^2)^(-(d + D)/2).
 * As D -> infinity the weights tend to softmax(-|x - m y_i|^2 / (2 sigma^2)),
 * the empirical score's: the field's ODE becomes the diffusion PF-ODE, with
 * |s - grad log p^_t| = O(1/D).
 *
 * The model's log density is the normalised perturbation kernel's mixture,
 *   log p_r(x) = logsumexp_i l_i - log n + D log r - (d/2) log pi
 *                - lgamma(D/2) + lgamma((d + D)/2),
 * and D(x) = E[X_0 | x] under that kernel; the empirical quantities
 * (nearest, grad log p^_t, log p^_t, the Gaussian denoiser) come from the
 * empirical mixture, as for gmm.  The prior (pfgm_prior, the ops' prior) is the
 * kernel at r_max = sigma(T) sqrt(D) around the origin.
 */
#include <math.h>
#include <stdlib.h>

#include "drift/drift_impl.h"
#include "sgm/error.h"
#include "sgm/rng.h"

struct pfgm {
  sgm_mixture_t *field;     /* the Poisson kernel over the training shard */
  sgm_mixture_t *empirical; /* the empirical score's, for the diagnostics */
  double D;
  int d;
};

static void pfgm_destroy(void *impl) {
  struct pfgm *f = impl;
  sgm_mixture_destroy(&f->field);
  sgm_mixture_destroy(&f->empirical);
  free(f);
}

static int pfgm_create(const sgm_config_t *cfg, const sgm_dataset_t *data,
                       MPI_Comm row, void **impl) {
  int err = 0;
  struct pfgm *f = NULL;
  SGM_CALL(SGM_CALLOC(f, 1));
  /* The configuration derives the default; a hand-made one may leave 0. */
  f->D = cfg->drift.pfgm_D > 0 ? cfg->drift.pfgm_D : SGM_PFGM_D_DEFAULT;
  f->d = data->d;
  SGM_CHECK_GOTO(isfinite(f->D), SGM_ERR_CONFIG, fail,
                 "[drift] pfgm_D = %g must be finite", f->D);
  /* Float64 only: the Poisson kernel has no float32 stream. */
  const sgm_mixture_desc_t desc = {.d = data->d,
                                   .n = data->n,
                                   .offset = data->offset,
                                   .n_local = data->n_local,
                                   .centres = data->y,
                                   .norm2 = data->norm2,
                                   .comm = row,
                                   .kernel = SGM_MIXTURE_POISSON,
                                   .poisson_D = f->D};
  const double zero = 0.0;
  SGM_CALL_GOTO(sgm_mixture_create(&desc, 1, &zero, &f->field), fail);
  SGM_CALL_GOTO(sgm__empirical_mixture(cfg, data, row, 1, &zero, &f->empirical),
                fail);
  *impl = f;
  return 0;
fail:
  pfgm_destroy(f);
  return err;
}

static int pfgm_eval(void *impl, double t, double m, double sigma2, int64_t p,
                     const double *x, sgm_drift_out_t *out) {
  struct pfgm *f = impl;
  if (out->drift || out->model_log_density || out->model_mean) {
    sgm_mixture_out_t field = {.score = out->drift,
                               .log_density = out->model_log_density,
                               .mean = out->model_mean};
    SGM_CALL(sgm_mixture_eval(f->field, m, sigma2, p, x, &field, NULL));
  }
  return sgm__eval_empirical(f->empirical, m, sigma2, p, x, out);
}

static double pfgm_flops(const void *impl, int64_t p,
                         const sgm_drift_out_t *request) {
  const struct pfgm *f = impl;
  return sgm_mixture_flops(f->field, p) +
         sgm__empirical_flops(f->empirical, p, request);
}

static double pfgm_work_bytes(const void *impl, int64_t p) {
  const struct pfgm *f = impl;
  return sgm_mixture_work_bytes(f->field, p) +
         sgm_mixture_work_bytes(f->empirical, p);
}

static int pfgm_variance(const void *impl, double *v) {
  return sgm_error_set(SGM_ERR_UNSUPPORTED, __FILE__, __LINE__, __func__,
                       "[drift] model = pfgm is a Poisson field, not a "
                       "Gaussian mixture of one variance: the exponential "
                       "integrator (method = ei) does not apply");
}

static double pfgm_min_variance(const void *impl) { return 0.0; }

static int pfgm_mixtures(const void *impl, const sgm_mixture_t **out, int max) {
  const struct pfgm *f = impl;
  int n = 0;
  if (n < max)
    out[n++] = f->empirical;
  if (n < max)
    out[n++] = f->field;
  return n;
}

/* The perturbation kernel at r_max around the origin: x = r_max z_d / |z_D|
 * (z_d ~ N(0, I_d), z_D ~ N(0, I_D)), i.e. R^2 = |x|^2 = r_max^2 b / (1 - b)
 * with b ~ Beta(d/2, D/2) and a uniform direction.  |z_D|^2 ~ chi^2_D is
 * twice a Gamma(D/2) draw, so no D normals are needed.  z_d is stream
 * (seed, prior, i, 0), the Gaussian prior's normals: as D -> infinity
 * |z_D| / sqrt(D) -> 1 and the draw tends to sigma(T) z_d; the radius is
 * stream (seed, prior, i, 2). */
static int pfgm_prior(const void *impl, const sgm_schedule_t *sched,
                      uint64_t seed, int64_t first, int64_t count, double *y) {
  const struct pfgm *f = impl;
  const int d = f->d;
  const double r_max = sqrt(sgm_schedule_var(sched, sched->T) * f->D);
  for (int64_t i = 0; i < count; i++) {
    const uint64_t particle = (uint64_t)(first + i);
    double *yi = y + i * d;
    sgm_rng_normals(seed, SGM_RNG_PRIOR, particle, 0, d, yi);
    sgm_rng_t rng;
    sgm_rng_init(&rng, seed, SGM_RNG_PRIOR, particle, 2);
    const double scale = r_max / sqrt(2.0 * sgm_rng_gamma(&rng, 0.5 * f->D));
    for (int k = 0; k < d; k++)
      yi[k] *= scale;
  }
  return 0;
}

/* No analytic Jacobian (model_mixture NULL): [jacobian] method = fd. */
const struct sgm__model_ops sgm__model_pfgm = {
    .name = "pfgm",
    .create = pfgm_create,
    .eval = pfgm_eval,
    .flops = pfgm_flops,
    .work_bytes = pfgm_work_bytes,
    .destroy = pfgm_destroy,
    .shared_variance = pfgm_variance,
    .min_variance = pfgm_min_variance,
    .mixtures = pfgm_mixtures,
    .prior = pfgm_prior,
    .ode_only = 1,
};
