/*
 * Perturbations e(x, t) added to a base drift (DESIGN.md, "Perturbed
 * drift"):
 *   constant  e = c u
 *   time      e = c u sigma(t)^-alpha   (unbounded as t -> 0)
 *   rotation  e = c A x, A = sum_i (q_2i q_2i+1^T - q_2i+1 q_2i^T) on a random
 *             orthonormal k-frame q (k = [perturb] rank; an odd k leaves the
 *             last frame vector unrotated).  A is skew-symmetric with unit
 *             spectral norm: a non-conservative field.
 * u is the unnormalised (1, ..., 1) (direction = ones, as in the paper) or a
 * seeded random unit vector (direction = random).
 */
#include <math.h>
#include <stdlib.h>

#include "drift/drift_impl.h"
#include "sgm/error.h"
#include "sgm/rng.h"

struct vector_perturb {
  int d;
  double c, alpha;
  double *u;
};

static int vector_create(const sgm_config_t *cfg, int d, void **impl) {
  struct vector_perturb *v = NULL;
  SGM_CALL(SGM_CALLOC(v, 1));
  v->d = d;
  v->c = cfg->perturb.magnitude;
  v->alpha = cfg->perturb.alpha;
  int err = SGM_MALLOC(v->u, d);
  if (!err) {
    if (cfg->perturb.direction == SGM_DIRECTION_ONES)
      for (int k = 0; k < d; k++)
        v->u[k] = 1.0;
    else
      err = sgm_rng_frame(cfg->run.seed, SGM_RNG_DIRECTION, d, 1, v->u);
  }
  if (err) {
    free(v->u);
    free(v);
    return err;
  }
  *impl = v;
  return 0;
}

static void vector_destroy(void *impl) {
  struct vector_perturb *v = impl;
  free(v->u);
  free(v);
}

static void add_scaled_u(const struct vector_perturb *v, double c, int64_t p,
                         double *s) {
  for (int64_t i = 0; i < p; i++)
    for (int k = 0; k < v->d; k++)
      s[i * v->d + k] += c * v->u[k];
}

static void constant_add(const void *impl, double sigma, int64_t p,
                         const double *x, double *s) {
  const struct vector_perturb *v = impl;
  add_scaled_u(v, v->c, p, s);
}

static void time_add(const void *impl, double sigma, int64_t p, const double *x,
                     double *s) {
  const struct vector_perturb *v = impl;
  add_scaled_u(v, v->c * pow(sigma, -v->alpha), p, s);
}

const struct sgm__perturb_ops sgm__perturb_constant = {
    "constant", vector_create, constant_add, vector_destroy};
const struct sgm__perturb_ops sgm__perturb_time = {"time", vector_create,
                                                   time_add, vector_destroy};

struct rotation {
  int d, k;
  double c;
  double *q; /* k x d frame */
};

static void rotation_destroy(void *impl) {
  struct rotation *r = impl;
  free(r->q);
  free(r);
}

static int rotation_create(const sgm_config_t *cfg, int d, void **impl) {
  int k = cfg->perturb.rank;
  SGM_CHECK(k >= 2 && k <= d, SGM_ERR_CONFIG,
            "[perturb] rank = %d must be between 2 and the data dimension "
            "d = %d for kind = rotation",
            k, d);
  struct rotation *r = NULL;
  SGM_CALL(SGM_CALLOC(r, 1));
  r->d = d;
  r->k = k;
  r->c = cfg->perturb.magnitude;
  int err = SGM_MALLOC(r->q, (size_t)k * d);
  if (!err)
    err = sgm_rng_frame(cfg->run.seed, SGM_RNG_ROTATION, d, k, r->q);
  if (err) {
    rotation_destroy(r);
    return err;
  }
  *impl = r;
  return 0;
}

static void rotation_add(const void *impl, double sigma, int64_t p,
                         const double *x, double *s) {
  const struct rotation *r = impl;
  const int d = r->d;
  for (int64_t i = 0; i < p; i++) {
    const double *xi = x + i * d;
    double *si = s + i * d;
    for (int j = 0; j + 1 < r->k; j += 2) {
      const double *a = r->q + (int64_t)j * d, *b = a + d;
      double ax = 0.0, bx = 0.0;
      for (int t = 0; t < d; t++) {
        ax += a[t] * xi[t];
        bx += b[t] * xi[t];
      }
      for (int t = 0; t < d; t++)
        si[t] += r->c * (a[t] * bx - b[t] * ax);
    }
  }
}

const struct sgm__perturb_ops sgm__perturb_rotation = {
    "rotation", rotation_create, rotation_add, rotation_destroy};
