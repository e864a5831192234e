/*
 * Synthetic sources: an isotropic Gaussian mixture (gmm), points on a
 * k-sphere embedded in R^d (sphere) and Gaussian points on a k-dimensional
 * subspace of R^d (subspace).  Example i is a pure function of the seed and
 * i (Philox stream (seed, SGM_RNG_DATA_SYNTH, i, 0)), so every rank
 * generates only its own rows and the set does not depend on the sharding.
 */

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"
#include "sgm/error.h"
#include "sgm/rng.h"

/* ---- the mixture ------------------------------------------------------- */

void sgm_gmm_destroy(sgm_gmm_t **gmm) {
  if (!gmm || !*gmm)
    return;
  free((*gmm)->means);
  free((*gmm)->variances);
  free((*gmm)->weights);
  free(*gmm);
  *gmm = NULL;
}

static int gmm_check(const sgm_config_t *cfg) {
  const struct sgm_vector_list *means = &cfg->data.means;
  int k = means->count, d = means->dim;
  SGM_CHECK(k >= 1 && d >= 1 && means->values, SGM_ERR_CONFIG,
            "[data] source = gmm needs means (k vectors of dimension d, "
            "separated by ';')");
  SGM_CHECK(cfg->data.dim == 0 || cfg->data.dim == d, SGM_ERR_CONFIG,
            "[data] means have dimension %d but dim = %d", d, cfg->data.dim);
  for (int64_t i = 0; i < (int64_t)k * d; i++)
    SGM_CHECK(isfinite(means->values[i]), SGM_ERR_CONFIG,
              "[data] means: component %" PRId64 " is not finite", i / d);
  int nv = cfg->data.variances.count;
  SGM_CHECK(nv == 1 || nv == k, SGM_ERR_CONFIG,
            "[data] variances has %d values; a gmm needs 1 (shared) or k = %d "
            "(one per component)",
            nv, k);
  for (int i = 0; i < nv; i++) {
    double v = cfg->data.variances.values[i];
    SGM_CHECK(v >= 0 && isfinite(v), SGM_ERR_CONFIG,
              "[data] variances: %g (component %d) must be finite and >= 0", v,
              i);
  }
  int nw = cfg->data.weights.count;
  SGM_CHECK(nw == 0 || nw == k, SGM_ERR_CONFIG,
            "[data] weights has %d values; a gmm with k = %d components needs "
            "k (or none, for equal weights)",
            nw, k);
  for (int i = 0; i < nw; i++) {
    double w = cfg->data.weights.values[i];
    SGM_CHECK(w > 0 && isfinite(w), SGM_ERR_CONFIG,
              "[data] weights: %g (component %d) must be positive", w, i);
  }
  return 0;
}

int sgm_gmm_from_config(const sgm_config_t *cfg, sgm_gmm_t **out) {
  *out = NULL;
  SGM_CALL(gmm_check(cfg));
  int k = cfg->data.means.count, d = cfg->data.means.dim, err = 0;
  sgm_gmm_t *g = NULL;
  SGM_CALL(SGM_CALLOC(g, 1));
  g->k = k;
  g->d = d;
  SGM_CALL_GOTO(SGM_MALLOC(g->means, (size_t)k * (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(g->variances, (size_t)k), fail);
  SGM_CALL_GOTO(SGM_MALLOC(g->weights, (size_t)k), fail);
  memcpy(g->means, cfg->data.means.values,
         (size_t)k * (size_t)d * sizeof *g->means);
  double total = 0;
  for (int i = 0; i < k; i++) {
    const struct sgm_real_list *v = &cfg->data.variances,
                               *w = &cfg->data.weights;
    g->variances[i] = v->values[v->count == 1 ? 0 : i];
    g->weights[i] = w->count ? w->values[i] : 1.0;
    total += g->weights[i];
  }
  for (int i = 0; i < k; i++)
    g->weights[i] /= total;
  *out = g;
  return 0;
fail:
  sgm_gmm_destroy(&g);
  return err;
}

/* ---- the three sources ------------------------------------------------- */

typedef struct synth {
  enum sgm_data_source kind;
  uint64_t seed;
  int d, m;      /* ambient dimension, columns of the frame */
  double radius; /* sphere */
  double *frame; /* m x d: the frame vectors as rows */
  sgm_gmm_t *gmm;
  double *cum; /* cumulative weights (gmm) */
} synth_t;

static int synth_alloc(sgm__source_t *src, const sgm_config_t *cfg,
                       const char *name, synth_t **out) {
  SGM_CHECK(cfg->data.n >= 1, SGM_ERR_CONFIG,
            "[data] source = %s needs n >= 1 (the number of examples drawn)",
            name);
  synth_t *s = NULL;
  SGM_CALL(SGM_CALLOC(s, 1));
  src->impl = s;
  s->kind = cfg->data.source;
  s->seed = cfg->data.seed;
  src->n = cfg->data.n;
  src->naxes = 1;
  src->elem = SGM__ELEM_F64;
  src->label_lo = 1;
  src->label_hi = 0;
  *out = s;
  return 0;
}

static int gmm_open(sgm__source_t *src, const sgm_config_t *cfg, int thorough) {
  (void)thorough;
  synth_t *s = NULL;
  SGM_CALL(synth_alloc(src, cfg, "gmm", &s));
  SGM_CALL(sgm_gmm_from_config(cfg, &s->gmm));
  int k = s->gmm->k;
  SGM_CALL(SGM_MALLOC(s->cum, (size_t)k));
  double acc = 0;
  for (int c = 0; c < k; c++)
    s->cum[c] = acc += s->gmm->weights[c];
  s->d = src->d = s->gmm->d;
  src->shape[0] = s->d;
  src->has_labels = 1;
  src->label_lo = 0;
  src->label_hi = k - 1;
  snprintf(src->origin, sizeof src->origin, "gmm");
  snprintf(src->labels_origin, sizeof src->labels_origin, "gmm");
  snprintf(src->where, sizeof src->where,
           "(k = %d components, dim %d, seed %" PRIu64 ")", k, s->d, s->seed);
  return 0;
}

static int frame_open(sgm__source_t *src, const sgm_config_t *cfg,
                      const char *name, int sphere) {
  synth_t *s = NULL;
  SGM_CALL(synth_alloc(src, cfg, name, &s));
  int k = cfg->data.intrinsic, d = cfg->data.dim;
  SGM_CHECK(k >= 1, SGM_ERR_CONFIG,
            "[data] source = %s needs intrinsic >= 1 (the dimension k)", name);
  SGM_CHECK(d >= 1, SGM_ERR_CONFIG,
            "[data] source = %s needs dim >= 1 (the ambient dimension d)",
            name);
  if (sphere) {
    SGM_CHECK(k + 1 <= d, SGM_ERR_CONFIG,
              "[data] sphere: a %d-sphere needs intrinsic + 1 <= dim, but "
              "intrinsic = %d and dim = %d",
              k, k, d);
    SGM_CHECK(cfg->data.radius > 0 && isfinite(cfg->data.radius),
              SGM_ERR_CONFIG, "[data] radius = %g must be positive",
              cfg->data.radius);
  } else {
    SGM_CHECK(k <= d, SGM_ERR_CONFIG,
              "[data] subspace: needs intrinsic <= dim, but intrinsic = %d "
              "and dim = %d",
              k, d);
  }
  s->d = src->d = d;
  s->m = sphere ? k + 1 : k;
  s->radius = cfg->data.radius;
  src->shape[0] = d;
  int err = SGM_MALLOC(s->frame, (size_t)d * (size_t)s->m);
  if (err < 0)
    return sgm_error_prefix(err, "[data] dim = %d: the %s frame (%d x %d)", d,
                            name, d, s->m);
  SGM_CALL(sgm_rng_frame(s->seed, SGM_RNG_DATA_FRAME, d, s->m, s->frame));
  snprintf(src->origin, sizeof src->origin, "%s", name);
  if (sphere)
    snprintf(src->where, sizeof src->where,
             "(intrinsic %d, dim %d, radius %g, seed %" PRIu64 ")", k, d,
             s->radius, s->seed);
  else
    snprintf(src->where, sizeof src->where,
             "(intrinsic %d, dim %d, seed %" PRIu64 ")", k, d, s->seed);
  return 0;
}

static int sphere_open(sgm__source_t *src, const sgm_config_t *cfg,
                       int thorough) {
  (void)thorough;
  SGM_CALL(frame_open(src, cfg, "sphere", 1));
  return 0;
}

static int subspace_open(sgm__source_t *src, const sgm_config_t *cfg,
                         int thorough) {
  (void)thorough;
  SGM_CALL(frame_open(src, cfg, "subspace", 0));
  return 0;
}

/* The component of example i, with the stream left after the uniform. */
static int gmm_component(const synth_t *s, int64_t i, sgm_rng_t *r) {
  sgm_rng_init(r, s->seed, SGM_RNG_DATA_SYNTH, (uint64_t)i, 0);
  double u = sgm_rng_uniform(r);
  int c = 0;
  while (c < s->gmm->k - 1 && u >= s->cum[c])
    c++;
  return c;
}

static int synth_rows(sgm__source_t *src, const int64_t *index, int64_t count,
                      double *y) {
  synth_t *s = src->impl;
  int d = s->d, m = s->m;
  double z[64];
  double *zbuf = z;
  if (s->kind != SGM_DATA_GMM && m > 64)
    SGM_CALL(SGM_MALLOC(zbuf, (size_t)m));
  for (int64_t r = 0; r < count; r++) {
    double *x = y + r * d;
    int64_t i = index[r];
    if (s->kind == SGM_DATA_GMM) {
      sgm_rng_t rng;
      int c = gmm_component(s, i, &rng);
      double sd = sqrt(s->gmm->variances[c]);
      const double *mu = s->gmm->means + (size_t)c * d;
      for (int j = 0; j < d; j++)
        x[j] = mu[j] + sd * sgm_rng_normal(&rng);
      continue;
    }
    sgm_rng_normals(s->seed, SGM_RNG_DATA_SYNTH, (uint64_t)i, 0, m, zbuf);
    if (s->kind == SGM_DATA_SPHERE) {
      double norm = 0;
      for (int c = 0; c < m; c++)
        norm += zbuf[c] * zbuf[c];
      double f = s->radius / sqrt(norm);
      for (int c = 0; c < m; c++)
        zbuf[c] *= f;
    }
    /* x = F z with the frame stored as m rows of length d. */
    for (int j = 0; j < d; j++)
      x[j] = 0.0;
    for (int c = 0; c < m; c++) {
      const double *q = s->frame + (size_t)c * d;
      for (int j = 0; j < d; j++)
        x[j] += zbuf[c] * q[j];
    }
  }
  if (zbuf != z)
    free(zbuf);
  return 0;
}

static int synth_labels(sgm__source_t *src, const int64_t *index, int64_t count,
                        int32_t *labels) {
  synth_t *s = src->impl;
  for (int64_t r = 0; r < count; r++) {
    sgm_rng_t rng;
    labels[r] = gmm_component(s, index[r], &rng);
  }
  return 0;
}

static void synth_close(sgm__source_t *src) {
  synth_t *s = src->impl;
  if (!s)
    return;
  free(s->frame);
  free(s->cum);
  sgm_gmm_destroy(&s->gmm);
  free(s);
  src->impl = NULL;
}

const struct sgm__source_ops sgm__gmm_ops = {"gmm", gmm_open, synth_rows,
                                             synth_labels, synth_close};
const struct sgm__source_ops sgm__sphere_ops = {
    "sphere", sphere_open, synth_rows, synth_labels, synth_close};
const struct sgm__source_ops sgm__subspace_ops = {
    "subspace", subspace_open, synth_rows, synth_labels, synth_close};
