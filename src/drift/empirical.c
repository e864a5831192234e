/*
 * The empirical score grad log p^_t (the exact score of the training set)
 * and the smoothed model (every training example blurred by N(0, h^2 I)),
 * both mixtures over the training shard.  The smoothed model evaluates the
 * empirical head from the same products when the caller wants empirical
 * quantities too, and a single head otherwise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift/drift_impl.h"
#include "sgm/error.h"

int sgm__empirical_mixture(const sgm_config_t *cfg, const sgm_dataset_t *data,
                           MPI_Comm row, int nheads,
                           const double *head_variance, sgm_mixture_t **out) {
  sgm_mixture_desc_t desc = {.d = data->d,
                             .n = data->n,
                             .offset = data->offset,
                             .n_local = data->n_local,
                             .centres = data->y,
                             .norm2 = data->norm2,
                             .comm = row};
  SGM_CALL(sgm_mixture_create(&desc, nheads, head_variance, out));
  sgm_mixture_set_float32(*out, cfg->run.precision == SGM_PRECISION_FLOAT32,
                          cfg->run.float32_guard);
  return 0;
}

int sgm__wants_empirical(const sgm_drift_out_t *out) {
  return out->empirical || out->log_density || out->denoised ||
         sgm__nearest_request((sgm_drift_out_t *)out) != NULL;
}

int sgm__eval_empirical(sgm_mixture_t *emp, double m, double sigma2, int64_t p,
                        const double *x, sgm_drift_out_t *out) {
  if (!sgm__wants_empirical(out))
    return 0;
  sgm_mixture_out_t o = {.score = out->empirical,
                         .log_density = out->log_density,
                         .denoised = out->denoised};
  return sgm_mixture_eval(emp, m, sigma2, p, x, &o, sgm__nearest_request(out));
}

double sgm__empirical_flops(const sgm_mixture_t *emp, int64_t p,
                            const sgm_drift_out_t *request) {
  return sgm__wants_empirical(request) ? sgm_mixture_flops(emp, p) : 0.0;
}

sgm_nearest_t *sgm__nearest_request(sgm_drift_out_t *out) {
  const sgm_nearest_t *n = &out->nearest;
  if (n->index || n->second_index || n->distance || n->second_distance)
    return &out->nearest;
  return NULL;
}

/* ---- empirical ---------------------------------------------------------- */

struct empirical {
  sgm_mixture_t *mix;
  int d;
};

static int empirical_create(const sgm_config_t *cfg, const sgm_dataset_t *data,
                            MPI_Comm row, void **impl) {
  struct empirical *e = NULL;
  SGM_CALL(SGM_CALLOC(e, 1));
  const double zero = 0.0;
  int err = sgm__empirical_mixture(cfg, data, row, 1, &zero, &e->mix);
  if (err) {
    free(e);
    return err;
  }
  e->d = data->d;
  *impl = e;
  return 0;
}

static int empirical_eval(void *impl, double t, double m, double sigma2,
                          int64_t p, const double *x, sgm_drift_out_t *out) {
  struct empirical *e = impl;
  sgm_mixture_out_t mo = {.score = out->drift ? out->drift : out->empirical,
                          .log_density = out->log_density
                                             ? out->log_density
                                             : out->model_log_density,
                          .denoised = out->denoised,
                          .mean = out->model_mean};
  SGM_CALL(sgm_mixture_eval(e->mix, m, sigma2, p, x, &mo,
                            sgm__nearest_request(out)));
  if (out->drift && out->empirical)
    memcpy(out->empirical, out->drift, sizeof(double) * (size_t)(p * e->d));
  if (out->log_density && out->model_log_density)
    memcpy(out->model_log_density, out->log_density,
           sizeof(double) * (size_t)p);
  return 0;
}

static double empirical_flops(const void *impl, int64_t p,
                              const sgm_drift_out_t *request) {
  return sgm_mixture_flops(((const struct empirical *)impl)->mix, p);
}

static double empirical_work_bytes(const void *impl, int64_t p) {
  return sgm_mixture_work_bytes(((const struct empirical *)impl)->mix, p);
}

static void empirical_destroy(void *impl) {
  struct empirical *e = impl;
  sgm_mixture_destroy(&e->mix);
  free(e);
}

static int empirical_variance(const void *impl, double *v) {
  *v = 0.0;
  return 0;
}

static double empirical_min_variance(const void *impl) { return 0.0; }

static int empirical_mixtures(const void *impl, const sgm_mixture_t **out,
                              int max) {
  const struct empirical *e = impl;
  if (max < 1)
    return 0;
  out[0] = e->mix;
  return 1;
}

static void empirical_model_mixture(const void *impl, const sgm_mixture_t **mix,
                                    int *replicated) {
  *mix = ((const struct empirical *)impl)->mix;
  *replicated = 0;
}

const struct sgm__model_ops sgm__model_empirical = {
    .name = "empirical",
    .create = empirical_create,
    .eval = empirical_eval,
    .flops = empirical_flops,
    .work_bytes = empirical_work_bytes,
    .destroy = empirical_destroy,
    .shared_variance = empirical_variance,
    .min_variance = empirical_min_variance,
    .mixtures = empirical_mixtures,
    .model_mixture = empirical_model_mixture};

/* ---- smoothed ----------------------------------------------------------- */

struct smoothed {
  sgm_mixture_t *both; /* heads: empirical, smoothed */
  sgm_mixture_t *only; /* head: smoothed */
  int d;
  double h2;
};

static void smoothed_destroy(void *impl) {
  struct smoothed *s = impl;
  sgm_mixture_destroy(&s->both);
  sgm_mixture_destroy(&s->only);
  free(s);
}

static int smoothed_create(const sgm_config_t *cfg, const sgm_dataset_t *data,
                           MPI_Comm row, void **impl) {
  int err = 0;
  struct smoothed *s = NULL;
  SGM_CHECK(cfg->drift.bandwidth > 0, SGM_ERR_CONFIG,
            "[drift] model = smoothed needs a bandwidth > 0");
  SGM_CALL(SGM_CALLOC(s, 1));
  double h2 = cfg->drift.bandwidth * cfg->drift.bandwidth;
  double heads[2] = {0.0, h2};
  SGM_CALL_GOTO(sgm__empirical_mixture(cfg, data, row, 2, heads, &s->both),
                fail);
  SGM_CALL_GOTO(sgm__empirical_mixture(cfg, data, row, 1, &h2, &s->only), fail);
  s->d = data->d;
  s->h2 = h2;
  *impl = s;
  return 0;
fail:
  smoothed_destroy(s);
  return err;
}

static int smoothed_eval(void *impl, double t, double m, double sigma2,
                         int64_t p, const double *x, sgm_drift_out_t *out) {
  struct smoothed *s = impl;
  sgm_mixture_out_t model = {.score = out->drift,
                             .log_density = out->model_log_density,
                             .mean = out->model_mean};
  if (!sgm__wants_empirical(out))
    return sgm_mixture_eval(s->only, m, sigma2, p, x, &model, NULL);
  sgm_mixture_out_t heads[2] = {{.score = out->empirical,
                                 .log_density = out->log_density,
                                 .denoised = out->denoised},
                                model};
  return sgm_mixture_eval(s->both, m, sigma2, p, x, heads,
                          sgm__nearest_request(out));
}

static double smoothed_flops(const void *impl, int64_t p,
                             const sgm_drift_out_t *request) {
  const struct smoothed *s = impl;
  return sgm_mixture_flops(sgm__wants_empirical(request) ? s->both : s->only,
                           p);
}

/* Both mixtures keep their work space once used. */
static double smoothed_work_bytes(const void *impl, int64_t p) {
  const struct smoothed *s = impl;
  return sgm_mixture_work_bytes(s->both, p) +
         sgm_mixture_work_bytes(s->only, p);
}

static int smoothed_variance(const void *impl, double *v) {
  *v = ((const struct smoothed *)impl)->h2;
  return 0;
}

static double smoothed_min_variance(const void *impl) {
  return ((const struct smoothed *)impl)->h2;
}

static int smoothed_mixtures(const void *impl, const sgm_mixture_t **out,
                             int max) {
  const struct smoothed *s = impl;
  int n = 0;
  if (n < max)
    out[n++] = s->both;
  if (n < max)
    out[n++] = s->only;
  return n;
}

static void smoothed_model_mixture(const void *impl, const sgm_mixture_t **mix,
                                   int *replicated) {
  *mix = ((const struct smoothed *)impl)->only;
  *replicated = 0;
}

const struct sgm__model_ops sgm__model_smoothed = {
    .name = "smoothed",
    .create = smoothed_create,
    .eval = smoothed_eval,
    .flops = smoothed_flops,
    .work_bytes = smoothed_work_bytes,
    .destroy = smoothed_destroy,
    .shared_variance = smoothed_variance,
    .min_variance = smoothed_min_variance,
    .mixtures = smoothed_mixtures,
    .model_mixture = smoothed_model_mixture};
