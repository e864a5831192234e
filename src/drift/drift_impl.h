/* Private to the drift module: the ops tables of base models and
 * perturbations, and the registries that choose them by name. */
#ifndef SGM_DRIFT_IMPL_H
#define SGM_DRIFT_IMPL_H

#include "sgm/drift.h"
#include "sgm/schedule.h"

/** A base model.  eval fills out->drift with the base drift (no
 * perturbation) and every empirical output that is requested, at forward
 * time t (mean factor m, marginal variance sigma2).  The optional hooks may
 * be NULL. */
struct sgm__model_ops {
  const char *name;
  int (*create)(const sgm_config_t *cfg, const sgm_dataset_t *data,
                MPI_Comm row, void **impl);
  int (*eval)(void *impl, double t, double m, double sigma2, int64_t p,
              const double *x, sgm_drift_out_t *out);
  double (*flops)(const void *impl, int64_t p, const sgm_drift_out_t *request);
  /* Bytes of work space evaluations of p particles keep. */
  double (*work_bytes)(const void *impl, int64_t p);
  void (*destroy)(void *impl);
  /* The shared component variance (returns 0), or SGM_ERR_UNSUPPORTED;
   * and the smallest component variance. */
  int (*shared_variance)(const void *impl, double *v);
  double (*min_variance)(const void *impl);
  /* The model's mixtures (at most max) into out; returns how many. */
  int (*mixtures)(const void *impl, const sgm_mixture_t **out, int max);
  /* The mixture whose head 0 is the model (for its analytic Jacobian), and
   * whether every rank holds all of it (replicated) rather than a shard. */
  void (*model_mixture)(const void *impl, const sgm_mixture_t **mix,
                        int *replicated);
  /* Optional: the model's own prior (sgm_drift_prior). */
  int (*prior)(const void *impl, const sgm_schedule_t *sched, uint64_t seed,
               int64_t first, int64_t count, double *y);
  /* The model has no log density (model_log_density is NaN). */
  int no_log_density;
  /* The drift is an ODE's field, not a score with a reverse SDE. */
  int ode_only;
};

/** A perturbation e(x, t), added to a drift in place. */
struct sgm__perturb_ops {
  const char *name;
  int (*create)(const sgm_config_t *cfg, int d, void **impl);
  void (*add)(const void *impl, double sigma, int64_t p, const double *x,
              double *s);
  void (*destroy)(void *impl);
};

extern const struct sgm__model_ops sgm__model_empirical;
extern const struct sgm__model_ops sgm__model_smoothed;
extern const struct sgm__model_ops sgm__model_gmm;
extern const struct sgm__model_ops sgm__model_pfgm;
extern const struct sgm__model_ops sgm__model_plugin;
extern const struct sgm__perturb_ops sgm__perturb_constant;
extern const struct sgm__perturb_ops sgm__perturb_time;
extern const struct sgm__perturb_ops sgm__perturb_rotation;

/**
 * The empirical mixture of a data shard with extra heads: head 0 is always
 * the empirical score (variance 0); heads 1.. carry head_variance[1..].
 * Shared by every model, since all of them report empirical quantities.
 * [run] precision = float32 selects the float32 stream where it applies.
 */
int sgm__empirical_mixture(const sgm_config_t *cfg, const sgm_dataset_t *data,
                           MPI_Comm row, int nheads,
                           const double *head_variance, sgm_mixture_t **out);

/** True when out asks for anything only the empirical mixture provides. */
int sgm__wants_empirical(const sgm_drift_out_t *out);

/**
 * The empirical outputs out asks for (empirical score, log density,
 * denoiser, nearest examples) from the empirical mixture emp, for a model
 * whose own drift comes from elsewhere (gmm, pfgm, plugin); nothing when
 * it asks for none.  Collective over the row.
 */
int sgm__eval_empirical(sgm_mixture_t *emp, double m, double sigma2, int64_t p,
                        const double *x, sgm_drift_out_t *out);

/** The flops of sgm__eval_empirical for request. */
double sgm__empirical_flops(const sgm_mixture_t *emp, int64_t p,
                            const sgm_drift_out_t *request);

/** The nearest-search request of out, or NULL when it asks for none. */
sgm_nearest_t *sgm__nearest_request(sgm_drift_out_t *out);

#endif /* SGM_DRIFT_IMPL_H */
