/*
 * The exact score of the synthetic Gaussian mixture that generated a `gmm`
 * data set (Figure 1's drift).  The mixture has few components, so every
 * rank evaluates all of them (no communication) and gets identical bits;
 * the empirical quantities come from the training shard as for every model.
 */
#include <math.h>
#include <stdlib.h>

#include "drift/drift_impl.h"
#include "sgm/error.h"

struct gmm_model {
  sgm_mixture_t *truth;     /* the generating mixture, replicated */
  sgm_mixture_t *empirical; /* the training set */
  double *log_weights;
  int k;
  const double *variances; /* the data set's mixture (outlives the drift) */
};

static void gmm_destroy(void *impl) {
  struct gmm_model *g = impl;
  sgm_mixture_destroy(&g->truth);
  sgm_mixture_destroy(&g->empirical);
  free(g->log_weights);
  free(g);
}

static int gmm_create(const sgm_config_t *cfg, const sgm_dataset_t *data,
                      MPI_Comm row, void **impl) {
  int err = 0;
  SGM_CHECK(data->gmm != NULL, SGM_ERR_CONFIG,
            "[drift] model = gmm needs [data] source = gmm (the exact score "
            "of the mixture that generated the data)");
  const sgm_gmm_t *mix = data->gmm;
  struct gmm_model *g = NULL;
  SGM_CALL(SGM_CALLOC(g, 1));
  SGM_CALL_GOTO(SGM_MALLOC(g->log_weights, mix->k), fail);
  for (int i = 0; i < mix->k; i++)
    g->log_weights[i] = log(mix->weights[i]);
  g->k = mix->k;
  g->variances = mix->variances;
  sgm_mixture_desc_t desc = {.d = mix->d,
                             .n = mix->k,
                             .offset = 0,
                             .n_local = mix->k,
                             .centres = mix->means,
                             .variances = mix->variances,
                             .log_weights = g->log_weights,
                             .comm = MPI_COMM_SELF};
  const double zero = 0.0;
  SGM_CALL_GOTO(sgm_mixture_create(&desc, 1, &zero, &g->truth), fail);
  SGM_CALL_GOTO(sgm__empirical_mixture(cfg, data, row, 1, &zero, &g->empirical),
                fail);
  *impl = g;
  return 0;
fail:
  gmm_destroy(g);
  return err;
}

static int gmm_eval(void *impl, double t, double m, double sigma2, int64_t p,
                    const double *x, sgm_drift_out_t *out) {
  struct gmm_model *g = impl;
  SGM_CHECK(!out->model_mean, SGM_ERR_UNSUPPORTED,
            "[drift] model = gmm has components of different variances: no "
            "single frozen-weight mean (use method = em)");
  if (out->drift || out->model_log_density) {
    sgm_mixture_out_t truth = {.score = out->drift,
                               .log_density = out->model_log_density};
    SGM_CALL(sgm_mixture_eval(g->truth, m, sigma2, p, x, &truth, NULL));
  }
  return sgm__eval_empirical(g->empirical, m, sigma2, p, x, out);
}

static double gmm_flops(const void *impl, int64_t p,
                        const sgm_drift_out_t *request) {
  const struct gmm_model *g = impl;
  return sgm_mixture_flops(g->truth, p) +
         sgm__empirical_flops(g->empirical, p, request);
}

static double gmm_work_bytes(const void *impl, int64_t p) {
  const struct gmm_model *g = impl;
  return sgm_mixture_work_bytes(g->truth, p) +
         sgm_mixture_work_bytes(g->empirical, p);
}

static int gmm_variance(const void *impl, double *v) {
  return sgm_error_set(SGM_ERR_UNSUPPORTED, __FILE__, __LINE__, __func__,
                       "[drift] model = gmm has components of different "
                       "variances, which the exponential integrator (method "
                       "= ei) does not support; use method = em");
}

static double gmm_min_variance(const void *impl) {
  const struct gmm_model *g = impl;
  double v = INFINITY;
  for (int i = 0; i < g->k; i++)
    v = fmin(v, g->variances[i]);
  return v;
}

static int gmm_mixtures(const void *impl, const sgm_mixture_t **out, int max) {
  const struct gmm_model *g = impl;
  int n = 0;
  if (n < max)
    out[n++] = g->empirical;
  if (n < max)
    out[n++] = g->truth;
  return n;
}

/* The generating mixture is replicated: every rank holds all of it. */
static void gmm_model_mixture(const void *impl, const sgm_mixture_t **mix,
                              int *replicated) {
  *mix = ((const struct gmm_model *)impl)->truth;
  *replicated = 1;
}

const struct sgm__model_ops sgm__model_gmm = {.name = "gmm",
                                              .create = gmm_create,
                                              .eval = gmm_eval,
                                              .flops = gmm_flops,
                                              .work_bytes = gmm_work_bytes,
                                              .destroy = gmm_destroy,
                                              .shared_variance = gmm_variance,
                                              .min_variance = gmm_min_variance,
                                              .mixtures = gmm_mixtures,
                                              .model_mixture =
                                                  gmm_model_mixture};
