/* The drift interface: registries of models and perturbations, and the
 * evaluation that combines them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/drift_impl.h"
#include "sgm/error.h"

static const struct sgm__model_ops *const models[] = {
    &sgm__model_empirical, &sgm__model_smoothed, &sgm__model_gmm,
    &sgm__model_plugin, &sgm__model_pfgm};
static const struct sgm__perturb_ops *const perturbs[] = {
    &sgm__perturb_constant, &sgm__perturb_time, &sgm__perturb_rotation};

struct sgm_drift {
  const struct sgm__model_ops *model;
  void *model_impl;
  const struct sgm__perturb_ops *perturb; /* NULL: none */
  void *perturb_impl;
  sgm_schedule_t schedule;
  MPI_Comm row; /* the ranks whose shards make up the training set */
  int d;
  double *scratch; /* d: one particle's perturbation */
  char description[256];
};

static const struct sgm__model_ops *find_model(const char *name) {
  for (size_t i = 0; i < sizeof models / sizeof *models; i++)
    if (strcmp(models[i]->name, name) == 0)
      return models[i];
  return NULL;
}

static const struct sgm__perturb_ops *find_perturb(const char *name) {
  for (size_t i = 0; i < sizeof perturbs / sizeof *perturbs; i++)
    if (strcmp(perturbs[i]->name, name) == 0)
      return perturbs[i];
  return NULL;
}

static void describe(sgm_drift_t *dr, const sgm_config_t *cfg) {
  char *buf = dr->description;
  size_t size = sizeof dr->description, len = 0;
  buf[0] = '\0';
  sgm__appendf(buf, size, &len, "%s", dr->model->name);
  if (cfg->drift.model == SGM_DRIFT_SMOOTHED)
    sgm__appendf(buf, size, &len, " (h = %g)", cfg->drift.bandwidth);
  if (cfg->drift.model == SGM_DRIFT_PFGM)
    sgm__appendf(buf, size, &len, " (D = %g)",
                 cfg->drift.pfgm_D > 0 ? cfg->drift.pfgm_D
                                       : SGM_PFGM_D_DEFAULT);
  if (cfg->drift.model == SGM_DRIFT_PLUGIN) {
    const char *slash = strrchr(cfg->drift.plugin, '/');
    sgm__appendf(buf, size, &len, " (%.120s)",
                 slash ? slash + 1 : cfg->drift.plugin);
  }
  if (!dr->perturb)
    return;
  sgm__appendf(buf, size, &len, " + %s (c = %g", dr->perturb->name,
               cfg->perturb.magnitude);
  if (cfg->perturb.kind == SGM_PERTURB_ROTATION)
    sgm__appendf(buf, size, &len, ", rank %d)", cfg->perturb.rank);
  else
    sgm__appendf(buf, size, &len, ", %s%s)",
                 cfg->perturb.direction == SGM_DIRECTION_ONES ? "ones"
                                                              : "random",
                 cfg->perturb.kind == SGM_PERTURB_TIME ? ", sigma^-alpha" : "");
}

int sgm_drift_create(const sgm_config_t *cfg, const sgm_dataset_t *data,
                     MPI_Comm row, sgm_drift_t **out) {
  int err = 0;
  *out = NULL;
  const char *model_name = sgm_config_drift_name(cfg->drift.model);
  const struct sgm__model_ops *model = find_model(model_name);
  SGM_CHECK(model != NULL, SGM_ERR_UNSUPPORTED,
            "[drift] model = %s is not available in this version of sgmrun "
            "(available: empirical, smoothed, gmm, plugin, pfgm)",
            model_name);
  sgm_drift_t *dr = NULL;
  SGM_CALL(SGM_CALLOC(dr, 1));
  dr->model = model;
  dr->row = row;
  dr->d = data->d;
  SGM_CALL_GOTO(SGM_MALLOC(dr->scratch, (size_t)data->d), fail);
  sgm_schedule_init(&dr->schedule, cfg);
  SGM_CALL_GOTO(model->create(cfg, data, row, &dr->model_impl), fail);
  if (cfg->perturb.kind != SGM_PERTURB_NONE) {
    dr->perturb = find_perturb(sgm_config_perturb_name(cfg->perturb.kind));
    SGM_CHECK_GOTO(dr->perturb != NULL, SGM_ERR_INTERNAL, fail,
                   "perturbation %d has no implementation",
                   (int)cfg->perturb.kind);
    SGM_CALL_GOTO(dr->perturb->create(cfg, data->d, &dr->perturb_impl), fail);
  }
  describe(dr, cfg);
  *out = dr;
  return 0;
fail:
  sgm_drift_destroy(&dr);
  return err;
}

void sgm_drift_destroy(sgm_drift_t **handle) {
  if (!handle || !*handle)
    return;
  sgm_drift_t *dr = *handle;
  if (dr->model_impl)
    dr->model->destroy(dr->model_impl);
  if (dr->perturb_impl)
    dr->perturb->destroy(dr->perturb_impl);
  free(dr->scratch);
  free(dr);
  *handle = NULL;
}

/* The first non-finite value of v[0..n), or -1. */
static int64_t first_non_finite(const double *v, size_t n) {
  if (v)
    for (size_t i = 0; i < n; i++)
      if (!isfinite(v[i]))
        return (int64_t)i;
  return -1;
}

/* A NaN or Inf in what an evaluation produced: the point was out of reach
 * of double precision (its squared distances overflow, or every weight
 * underflows), which would otherwise spread NaN through a run or a score
 * file.  Every rank of a row holds the same bits, so all agree. */
static int check_finite(const sgm_drift_t *dr, double t, int64_t p,
                        const double *x, const sgm_drift_out_t *out) {
  const size_t pd = (size_t)p * (size_t)dr->d, n = (size_t)p;
  const struct {
    const char *name;
    const double *v;
    size_t len, width;
  } outs[] = {{"drift", out->drift, pd, (size_t)dr->d},
              {"empirical score", out->empirical, pd, (size_t)dr->d},
              {"denoiser", out->denoised, pd, (size_t)dr->d},
              {"model mean", out->model_mean, pd, (size_t)dr->d},
              {"perturbation", out->perturbation, pd, (size_t)dr->d},
              {"perturbation norm", out->perturbation_norm, n, 1},
              {"log density", out->log_density, n, 1},
              {"model log density",
               dr->model->no_log_density ? NULL : out->model_log_density, n,
               1}};
  for (size_t o = 0; o < sizeof outs / sizeof *outs; o++) {
    int64_t at = first_non_finite(outs[o].v, outs[o].len);
    if (at < 0)
      continue;
    const double *xi = x + (size_t)at / outs[o].width * (size_t)dr->d;
    double big = 0, scaled = 0; /* |x| = big * sqrt(scaled), no overflow */
    for (int j = 0; j < dr->d; j++)
      big = fmax(big, fabs(xi[j]));
    for (int j = 0; j < dr->d && big > 0 && isfinite(big); j++)
      scaled += (xi[j] / big) * (xi[j] / big);
    return sgm_error_set(
        SGM_ERR_NUMERIC, __FILE__, __LINE__, __func__,
        "the %s at t = %g (sigma = %.3g) is %s at a point with |x| = %.3g "
        "(largest |x_j| = %.3g), beyond what double precision can score; "
        "points or particles get there from extreme values (--points, "
        "[perturb], [sampler] prior_value, [sde]) or an unstable method = em "
        "(see its warning)",
        outs[o].name, t, sqrt(sgm_schedule_var(&dr->schedule, t)),
        isnan(outs[o].v[at]) ? "NaN" : "infinite",
        big > 0 && isfinite(big) ? big * sqrt(scaled) : big, big);
  }
  return 0;
}

int sgm_drift_eval(sgm_drift_t *dr, double t, int64_t p, const double *x,
                   sgm_drift_out_t *out) {
  SGM_CHECK(t > 0 && isfinite(t), SGM_ERR_INTERNAL,
            "drift evaluated at t = %g (must be > 0)", t);
  double m = sgm_schedule_mean(&dr->schedule, t);
  double sigma2 = sgm_schedule_var(&dr->schedule, t);
  SGM_CALL(dr->model->eval(dr->model_impl, t, m, sigma2, p, x, out));
  const size_t len = (size_t)p * (size_t)dr->d;
  if (out->perturbation) {
    memset(out->perturbation, 0, len * sizeof *out->perturbation);
    if (dr->perturb)
      dr->perturb->add(dr->perturb_impl, sqrt(sigma2), p, x, out->perturbation);
    if (dr->perturb && out->drift)
      for (size_t i = 0; i < len; i++)
        out->drift[i] += out->perturbation[i];
  } else if (out->perturbation_norm) {
    /* One particle at a time through a d-vector: no p x d buffer. */
    const int d = dr->d;
    for (int64_t i = 0; i < p; i++) {
      /* |e| = big sqrt(sum (e_k / big)^2): finite for any finite e. */
      double big = 0.0, acc = 0.0;
      if (dr->perturb) {
        memset(dr->scratch, 0, sizeof *dr->scratch * (size_t)d);
        dr->perturb->add(dr->perturb_impl, sqrt(sigma2), 1, x + i * d,
                         dr->scratch);
        for (int k = 0; k < d; k++) {
          big = fmax(big, fabs(dr->scratch[k]));
          if (out->drift)
            out->drift[i * d + k] += dr->scratch[k];
        }
        for (int k = 0; k < d && big > 0 && isfinite(big); k++)
          acc += (dr->scratch[k] / big) * (dr->scratch[k] / big);
      }
      out->perturbation_norm[i] = big > 0 ? big * sqrt(acc) : 0.0;
    }
  } else if (dr->perturb && out->drift) {
    dr->perturb->add(dr->perturb_impl, sqrt(sigma2), p, x, out->drift);
  }
  return check_finite(dr, t, p, x, out);
}

double sgm_drift_flops(const sgm_drift_t *dr, int64_t p,
                       const sgm_drift_out_t *request) {
  return dr->model->flops(dr->model_impl, p, request);
}

double sgm_drift_work_bytes(const sgm_drift_t *dr, int64_t p) {
  return dr->model->work_bytes(dr->model_impl, p);
}

int sgm_drift_float32_stats(const sgm_drift_t *dr, int64_t *evals,
                            int64_t *redone) {
  const sgm_mixture_t *mix[4];
  int n = dr->model->mixtures(dr->model_impl, mix, 4), any = 0;
  *evals = *redone = 0;
  for (int i = 0; i < n; i++) {
    if (!mix[i] || !sgm_mixture_is_float32(mix[i]))
      continue;
    int64_t e, r;
    sgm_mixture_float32_stats(mix[i], &e, &r);
    *evals += e;
    *redone += r;
    any = 1;
  }
  return any;
}

const char *sgm_drift_describe(const sgm_drift_t *dr) {
  return dr->description;
}

int sgm_drift_dim(const sgm_drift_t *dr) { return dr->d; }

const char *sgm_drift_model_name(const sgm_drift_t *dr) {
  return dr->model->name;
}

int sgm_drift_ode_only(const sgm_drift_t *dr) { return dr->model->ode_only; }

int sgm_drift_is_empirical(const sgm_drift_t *dr) {
  return dr->model == &sgm__model_empirical;
}

int sgm_drift_prior(const sgm_drift_t *dr, uint64_t seed, int64_t first,
                    int64_t count, double *y) {
  SGM_CHECK(dr->model->prior != NULL, SGM_ERR_UNSUPPORTED,
            "[sampler] prior = pfgm is the Poisson field's own prior: it "
            "needs [drift] model = pfgm, not %s",
            dr->model->name);
  return dr->model->prior(dr->model_impl, &dr->schedule, seed, first, count, y);
}

int sgm_drift_model_variance(const sgm_drift_t *dr, double *v) {
  return dr->model->shared_variance(dr->model_impl, v);
}

double sgm_drift_min_variance(const sgm_drift_t *dr) {
  return dr->model->min_variance(dr->model_impl);
}

int64_t sgm_drift_jacobian_rows(const sgm_drift_t *dr) {
  const sgm_mixture_t *mix = NULL;
  int replicated = 0;
  if (dr->model->model_mixture)
    dr->model->model_mixture(dr->model_impl, &mix, &replicated);
  return mix ? sgm_mixture_local_count(mix) : 0;
}

int sgm_drift_has_analytic_jacobian(const sgm_drift_t *dr) {
  return dr->model->model_mixture != NULL;
}

int sgm_drift_jacobian_factor(const sgm_drift_t *dr, double t, const double *x,
                              double *F, int64_t *rows, double *diag) {
  SGM_CHECK(dr->model->model_mixture != NULL, SGM_ERR_UNSUPPORTED,
            "[drift] model = %s has no analytic Jacobian; use [jacobian] "
            "method = fd",
            dr->model->name);
  SGM_CHECK(t > 0 && isfinite(t), SGM_ERR_INTERNAL,
            "Jacobian at t = %g (must be > 0)", t);
  const sgm_mixture_t *mix = NULL;
  int replicated = 0;
  dr->model->model_mixture(dr->model_impl, &mix, &replicated);
  const double m = sgm_schedule_mean(&dr->schedule, t);
  const double sigma2 = sgm_schedule_var(&dr->schedule, t);
  SGM_CALL(sgm_mixture_jacobian_factor(mix, 0, m, sigma2, x, F, rows, diag));
  /* A replicated mixture is counted once over the row: by its rank 0. */
  int rank = 0;
  MPI_Comm_rank(dr->row, &rank);
  if (replicated && rank != 0)
    *rows = 0;
  return 0;
}

int sgm_drift_perturbation_jacobian(const sgm_drift_t *dr, double t, int k0,
                                    int nk, double *cols) {
  const int d = dr->d;
  memset(cols, 0, sizeof *cols * (size_t)nk * (size_t)d);
  if (!dr->perturb || nk <= 0)
    return 0;
  /* Every perturbation is affine in x: column k is e(e_k) - e(0). */
  double *x = NULL, *base = NULL;
  int err = SGM_CALLOC(x, (size_t)nk * (size_t)d);
  if (!err)
    err = SGM_CALLOC(base, (size_t)d);
  if (!err) {
    const double sigma = sqrt(sgm_schedule_var(&dr->schedule, t));
    for (int j = 0; j < nk; j++)
      x[(size_t)j * d + k0 + j] = 1.0;
    dr->perturb->add(dr->perturb_impl, sigma, nk, x, cols);
    memset(x, 0, sizeof *x * (size_t)d);
    dr->perturb->add(dr->perturb_impl, sigma, 1, x, base);
    for (int j = 0; j < nk; j++)
      for (int i = 0; i < d; i++)
        cols[(size_t)j * d + i] -= base[i];
  }
  free(x);
  free(base);
  return err;
}
