/*
 * The empirical Poisson field (model = pfgm) and its Poisson kernel:
 *  1. the drift (effective score), the field's mean D(x) and log density
 *     against an independent long-double brute force, d = 5 and 784,
 *     D = 1, 7, 2048, vp and ve, over several shard splits (1e-10
 *     relative, as the Gaussian kernel's tests: the kernel's expanded
 *     distances are corrected for the dominant components, the rest
 *     round at ~1e-13); the empirical outputs beside it as for every model;
 *  2. the kernel under other blockings and thread counts (1e-13 of the
 *     default: only the association of the sums changes);
 *  3. the limit D -> infinity at the score level: |s_pfgm - s_emp| is
 *     O(1/D) with the first-order coefficient computed here;
 *  4. the normalisation of log p_r: a 1-D quadrature (d = 1) and radial
 *     quadratures in d = 5 and 784 integrate the density to 1;
 *  5. the prior: b = R^2 / (R^2 + r_max^2) ~ Beta(d/2, D/2) (KS test),
 *     invariance to the rank layout, the Gaussian limit, and the errors of
 *     models without a prior of their own.
 * Run on 1 and 3 ranks; the training set is sharded over MPI_COMM_WORLD.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mixture/check.h"
#include "../mixture/reference.h"
#include "sgm/drift.h"
#include "sgm/mixture.h"
#include "sgm/rng.h"
#include "sgm/schedule.h"
#include "sgm_test.h"

#define TOL 1e-10
static const long double PI_L = 3.141592653589793238462643383279502884L;
static const double PI = 3.14159265358979323846;

static int rank, size;

static sgm_config_t base_config(enum sgm_sde_kind kind, double D) {
  sgm_config_t c = sgm_test_config(11);
  c.sde.kind = kind;
  c.drift.model = SGM_DRIFT_PFGM;
  c.drift.pfgm_D = D;
  return c;
}

/* This rank's shard [first, first + count) of n examples in split s: 0,
 * even; 1, rank 0 holds none, the others share evenly; 2, the last rank
 * holds one example, the others share the rest. */
static void shard_of(int64_t n, int s, int64_t *first, int64_t *count) {
  int64_t lo = 0, len = n, parts = size, r = rank;
  if (size > 1 && s == 1) {
    parts = size - 1;
    r = rank - 1;
  } else if (size > 1 && s == 2) {
    len = n - 1;
    parts = size - 1;
    if (rank == size - 1) {
      *first = n - 1, *count = 1;
      return;
    }
  }
  if (r < 0) {
    *first = 0, *count = 0;
    return;
  }
  *first = lo + len * r / parts;
  *count = len * (r + 1) / parts - len * r / parts;
}

static sgm_dataset_t make_shard(const double *y, int64_t n, int d, int split) {
  sgm_dataset_t ds;
  memset(&ds, 0, sizeof ds);
  ds.n = n;
  ds.d = d;
  ds.shard = rank;
  ds.nshards = size;
  shard_of(n, split, &ds.offset, &ds.n_local);
  ds.y = malloc(sizeof(double) * (size_t)((ds.n_local + 1) * d));
  ds.norm2 = malloc(sizeof(double) * (size_t)(ds.n_local + 1));
  memcpy(ds.y, y + ds.offset * d, sizeof(double) * (size_t)(ds.n_local * d));
  for (int64_t i = 0; i < ds.n_local; i++) {
    ds.norm2[i] = 0;
    for (int k = 0; k < d; k++)
      ds.norm2[i] += ds.y[i * d + k] * ds.y[i * d + k];
  }
  return ds;
}

static void free_shard(sgm_dataset_t *ds) {
  free(ds->y);
  free(ds->norm2);
}

/* n examples clustered around 10 prototypes in [-1, 1]^d (spread 0.3). */
static double *clustered(int64_t n, int d, uint64_t seed) {
  double *proto = random_data(10, d, seed, -1, 1);
  double *y = malloc(sizeof *y * (size_t)(n * d));
  sgm_rng_normals(seed, SGM_RNG_TEST, 9, 0, n * d, y);
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < d; k++)
      y[i * d + k] = proto[(i % 10) * d + k] + 0.3 * y[i * d + k];
  free(proto);
  return y;
}

/* The brute force, from the definitions in long double: weights
 * (|x - m y_i|^2 + r^2)^(-(d + D)/2), r^2 = D sigma^2, normalised over all
 * n; mean = sum w y; score (m mean - x) / sigma^2; the normalised log
 * density of the mixture of PFGM++ kernels. */
static void ref_pfgm(int64_t n, int d, const double *y, double D, double m,
                     double s2, const double *x, double *score, double *mean,
                     double *logp) {
  const long double r2 = (long double)D * s2, k = 0.5L * (d + (long double)D);
  long double *l = malloc(sizeof *l * (size_t)n), lmax = -INFINITY, z = 0;
  for (int64_t i = 0; i < n; i++) {
    long double q = 0;
    for (int j = 0; j < d; j++) {
      long double t = (long double)x[j] - (long double)m * y[i * d + j];
      q += t * t;
    }
    l[i] = -k * logl(q + r2);
    lmax = l[i] > lmax ? l[i] : lmax;
  }
  for (int64_t i = 0; i < n; i++) {
    l[i] = expl(l[i] - lmax);
    z += l[i];
  }
  for (int j = 0; j < d; j++) {
    long double u = 0;
    for (int64_t i = 0; i < n; i++)
      u += l[i] * y[i * d + j];
    mean[j] = (double)(u / z);
    score[j] = (double)(((long double)m * (u / z) - x[j]) / s2);
  }
  *logp = (double)(lmax + logl(z) - logl((long double)n) + 0.5L * D * logl(r2) -
                   0.5L * d * logl(PI_L) - lgammal(0.5L * D) + lgammal(k));
  free(l);
}

/* The score's accuracy is bounded by the ulps of |x| it is a difference
 * of (see tests/mixture/check.c). */
static double score_tol(const double *x, const double *s, int d, double s2) {
  double xn = 0, sn = 0;
  for (int k = 0; k < d; k++) {
    xn += x[k] * x[k];
    sn += s[k] * s[k];
  }
  return fmax(TOL, 4 * 2.2e-16 * sqrt(xn) / s2 / sqrt(sn));
}

/* What one evaluation of the drift gives for P_REF points. */
#define P_REF 9
struct outputs {
  double *drift, *mean, *emp, *den, lp[P_REF], elp[P_REF], dist[P_REF];
  int64_t near[P_REF];
};

static void evaluate(const double *y, int64_t n, int d, const sgm_config_t *cfg,
                     int split, double t, const double *x, struct outputs *o) {
  const size_t pd = (size_t)(P_REF * d);
  o->drift = malloc(sizeof(double) * pd);
  o->mean = malloc(sizeof(double) * pd);
  o->emp = malloc(sizeof(double) * pd);
  o->den = malloc(sizeof(double) * pd);
  sgm_dataset_t ds = make_shard(y, n, d, split);
  sgm_drift_t *dr = NULL;
  ASSERT_OK(sgm_drift_create(cfg, &ds, MPI_COMM_WORLD, &dr));
  sgm_drift_out_t out = {.drift = o->drift,
                         .model_log_density = o->lp,
                         .model_mean = o->mean,
                         .empirical = o->emp,
                         .log_density = o->elp,
                         .denoised = o->den,
                         .nearest = {.index = o->near, .distance = o->dist}};
  if (dr)
    ASSERT_OK(sgm_drift_eval(dr, t, P_REF, x, &out));
  /* The ranks of a row hold the same bits. */
  double *root = malloc(sizeof(double) * pd);
  memcpy(root, o->drift, sizeof(double) * pd);
  MPI_Bcast(root, (int)pd, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  ASSERT_TRUE(memcmp(root, o->drift, sizeof(double) * pd) == 0);
  free(root);
  sgm_drift_destroy(&dr);
  free_shard(&ds);
}

static void free_outputs(struct outputs *o) {
  free(o->drift);
  free(o->mean);
  free(o->emp);
  free(o->den);
}

/* 1. Every output of the drift: split 0 against the brute force (on rank
 * 0; the others hold the same bits), the other splits against split 0
 * (1e-12: only the association of the shards' sums changes). */
static void check_drift(const double *y, int64_t n, int d, double D,
                        enum sgm_sde_kind kind, double t) {
  const sgm_config_t cfg = base_config(kind, D);
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, &cfg);
  const double m = sgm_schedule_mean(&sched, t),
               s2 = sgm_schedule_var(&sched, t);
  const char *sde = kind == SGM_SDE_VE ? "ve" : "vp";
  double *x = test_points(n, d, y, m, sqrt(s2), P_REF, 3);
  struct outputs o0;
  evaluate(y, n, d, &cfg, 0, t, x, &o0);
  double worst = 0;
  for (int64_t i = 0; rank == 0 && i < P_REF; i++) {
    double rs[784], rm[784], rl, gs[784], gd[784], gl, gnd, gnd2;
    int64_t gn;
    const double *xi = x + i * d;
    ref_pfgm(n, d, y, D, m, s2, xi, rs, rm, &rl);
    ref_mixture(n, d, y, NULL, NULL, m, s2, xi, gs, &gl, gd, &gn, &gnd, &gnd2);
    double es = rel_err(o0.drift + i * d, rs, d);
    double em = rel_err(o0.mean + i * d, rm, d);
    double el = fabs(o0.lp[i] - rl) / fmax(1, fabs(rl));
    worst = fmax(worst, fmax(es, em));
    if (!(es <= score_tol(xi, rs, d, s2) && em <= TOL && el <= TOL))
      SGM_TEST_FAIL("pfgm d=%d D=%g %s t=%g point %lld: score %.2e, mean "
                    "%.2e, log density %.2e (%.17g vs %.17g)",
                    d, D, sde, t, (long long)i, es, em, el, o0.lp[i], rl);
    ASSERT_TRUE(rel_err(o0.emp + i * d, gs, d) <= score_tol(xi, gs, d, s2));
    ASSERT_TRUE(rel_err(o0.den + i * d, gd, d) <= TOL);
    ASSERT_TRUE(fabs(o0.elp[i] - gl) <= TOL * fmax(1, fabs(gl)));
    ASSERT_INT_EQ(o0.near[i], gn);
    ASSERT_REL(o0.dist[i], gnd, 1e-12);
  }
  if (rank == 0)
    printf("pfgm d=%d D=%g %s t=%g: largest score/mean error %.2e\n", d, D, sde,
           t, worst);
  for (int split = 1; split < (size > 1 ? 3 : 1); split++) {
    struct outputs o;
    evaluate(y, n, d, &cfg, split, t, x, &o);
    for (int64_t i = 0; i < P_REF; i++) {
      ASSERT_TRUE(rel_err(o.drift + i * d, o0.drift + i * d, d) <= 1e-12);
      ASSERT_TRUE(rel_err(o.mean + i * d, o0.mean + i * d, d) <= 1e-12);
      ASSERT_TRUE(rel_err(o.emp + i * d, o0.emp + i * d, d) <= 1e-12);
      ASSERT_NEAR(o.lp[i], o0.lp[i], 1e-12 * fmax(1, fabs(o0.lp[i])));
      ASSERT_INT_EQ(o.near[i], o0.near[i]);
    }
    free_outputs(&o);
  }
  /* The default D is 2048, bit for bit. */
  if (D == 2048) {
    sgm_config_t c0 = base_config(kind, 0);
    sgm_dataset_t ds = make_shard(y, n, d, 0);
    sgm_drift_t *d0 = NULL;
    double *s0 = malloc(sizeof(double) * (size_t)(P_REF * d));
    ASSERT_OK(sgm_drift_create(&c0, &ds, MPI_COMM_WORLD, &d0));
    sgm_drift_out_t out = {.drift = s0};
    if (d0) {
      ASSERT_OK(sgm_drift_eval(d0, t, P_REF, x, &out));
      ASSERT_TRUE(memcmp(s0, o0.drift, sizeof(double) * (size_t)(P_REF * d)) ==
                  0);
      ASSERT_STR_EQ(sgm_drift_describe(d0), "pfgm (D = 2048)");
    }
    sgm_drift_destroy(&d0);
    free(s0);
    free_shard(&ds);
  }
  free_outputs(&o0);
  free(x);
}

static void test_against_reference(void) {
  const double Ds[] = {1, 7, 2048};
  const int dims[] = {5, 784};
  for (int di = 0; di < 2; di++) {
    const int d = dims[di];
    const int64_t n = d == 5 ? 200 : 300;
    double *y = d == 5 ? random_data(n, d, 1, -1, 1) : clustered(n, d, 2);
    for (int k = 0; k < 3; k++) {
      check_drift(y, n, d, Ds[k], SGM_SDE_VP, 0.05);
      check_drift(y, n, d, Ds[k], SGM_SDE_VP, 0.5);
      check_drift(y, n, d, Ds[k], SGM_SDE_VE, 0.3);
      check_drift(y, n, d, Ds[k], SGM_SDE_VE, 0.6);
    }
    free(y);
  }
}

/* 2. The kernel itself: other blockings and threads give the default's
 * numbers to 1e-13; the denoiser is the mean; no float32 stream and no
 * analytic Jacobian. */
static void test_kernel(void) {
  const int d = 784;
  const int64_t n = 300, p = 7;
  double *y = clustered(n, d, 4);
  sgm_dataset_t ds = make_shard(y, n, d, 0);
  const double zero = 0, m = 0.9, s2 = 0.04;
  sgm_mixture_desc_t desc = {.d = d,
                             .n = n,
                             .offset = ds.offset,
                             .n_local = ds.n_local,
                             .centres = ds.y,
                             .comm = MPI_COMM_WORLD,
                             .kernel = SGM_MIXTURE_POISSON,
                             .poisson_D = 7};
  double *x = test_points(n, d, y, m, sqrt(s2), p, 5);
  double *s[4], *mu[4], *dn[4], lp[4][7];
  const int blocks[4][3] = {{0, 0, 1}, {3, 5, 1}, {2, 64, 2}, {7, 1, 2}};
  for (int b = 0; b < 4; b++) {
    s[b] = malloc(sizeof(double) * (size_t)(p * d));
    mu[b] = malloc(sizeof(double) * (size_t)(p * d));
    dn[b] = malloc(sizeof(double) * (size_t)(p * d));
    sgm_mixture_t *mix = NULL;
    ASSERT_OK(sgm_mixture_create(&desc, 1, &zero, &mix));
    if (!mix)
      continue;
    sgm_mixture_set_blocking(mix, blocks[b][0], blocks[b][1]);
    sgm_mixture_set_threads(mix, blocks[b][2]);
    sgm_mixture_set_float32(mix, 1, 0.1);
    ASSERT_INT_EQ(sgm_mixture_is_float32(mix), 0);
    sgm_mixture_out_t out = {
        .score = s[b], .mean = mu[b], .denoised = dn[b], .log_density = lp[b]};
    ASSERT_OK(sgm_mixture_eval(mix, m, s2, p, x, &out, NULL));
    double F[1], diag;
    int64_t rows;
    ASSERT_FAILS(sgm_mixture_jacobian_factor(mix, 0, m, s2, x, F, &rows, &diag),
                 SGM_ERR_UNSUPPORTED, "no analytic Jacobian");
    sgm_mixture_destroy(&mix);
    for (int64_t i = 0; i < p; i++) {
      ASSERT_TRUE(rel_err(dn[b] + i * d, mu[b] + i * d, d) <= 1e-15);
      if (b > 0) {
        ASSERT_TRUE(rel_err(s[b] + i * d, s[0] + i * d, d) <= 1e-13);
        ASSERT_TRUE(rel_err(mu[b] + i * d, mu[0] + i * d, d) <= 1e-13);
        ASSERT_NEAR(lp[b][i], lp[0][i], 1e-13 * fabs(lp[0][i]));
      } else {
        double rs[784], rm[784], rl;
        ref_pfgm(n, d, y, 7, m, s2, x + i * d, rs, rm, &rl);
        ASSERT_TRUE(rel_err(mu[0] + i * d, rm, d) <= TOL);
        ASSERT_NEAR(lp[0][i], rl, TOL * fabs(rl));
      }
    }
  }
  /* A Poisson mixture has no component variances and no head variance. */
  sgm_mixture_t *bad = NULL;
  const double h = 0.1;
  ASSERT_FAILS(sgm_mixture_create(&desc, 1, &h, &bad), SGM_ERR_INTERNAL,
               "head variance");
  desc.poisson_D = 0;
  ASSERT_FAILS(sgm_mixture_create(&desc, 1, &zero, &bad), SGM_ERR_INTERNAL,
               "D > 0");
  for (int b = 0; b < 4; b++) {
    free(s[b]);
    free(mu[b]);
    free(dn[b]);
  }
  free(x);
  free(y);
  free_shard(&ds);
}

/* 3. D -> infinity.  With u_i = |x - m y_i|^2 / sigma^2 the Poisson logit
 * -((d + D)/2) log(1 + u_i / D) is the Gaussian -u_i / 2 plus
 * c_i / D + O(1/D^2), c_i = u_i^2 / 4 - d u_i / 2, so
 *   s_pfgm - s_emp = (m / sigma^2) Cov_w(c, y) / D + O(1/D^2),
 * w the empirical weights.  The ratio of the errors at D = 1e5 and 1e6
 * must be 10 within 1e-3 relative: the O(1/D^2) term moves it by about
 * |c| / D, |c| <~ 100 at these points (measured: 10 - 5e-4), and the
 * rounding of s_pfgm - s_emp (~1e-14 |s| against a difference of ~1e-6
 * |s|) by 1e-8.  D (s_pfgm - s_emp) at D = 1e6 must match the first-order
 * term to 1e-4 (measured 6e-6). */
static void test_large_D(void) {
  const int d = 5;
  const int64_t n = 60, p = 12;
  double *y = random_data(n, d, 8, -1, 1);
  sgm_dataset_t ds = make_shard(y, n, d, size > 1 ? 1 : 0);
  const enum sgm_sde_kind kinds[2] = {SGM_SDE_VP, SGM_SDE_VE};
  const double times[2] = {0.3, 0.5};
  for (int kk = 0; kk < 2; kk++) {
    sgm_config_t cfg = base_config(kinds[kk], 1e5);
    sgm_schedule_t sched;
    sgm_schedule_init(&sched, &cfg);
    const double t = times[kk], m = sgm_schedule_mean(&sched, t),
                 s2 = sgm_schedule_var(&sched, t);
    double *x = test_points(n, d, y, m, sqrt(s2), p, 21);
    double err[2] = {0, 0}, first_err = 0, first_norm = 0;
    double sp[2][12 * 5], se[12 * 5];
    for (int k = 0; k < 2; k++) {
      cfg.drift.pfgm_D = k == 0 ? 1e5 : 1e6;
      sgm_drift_t *dr = NULL;
      ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_WORLD, &dr));
      sgm_drift_out_t out = {.drift = sp[k], .empirical = se};
      if (dr)
        ASSERT_OK(sgm_drift_eval(dr, t, p, x, &out));
      sgm_drift_destroy(&dr);
      for (int64_t i = 0; i < p * d; i++)
        err[k] += (sp[k][i] - se[i]) * (sp[k][i] - se[i]);
      err[k] = sqrt(err[k]);
    }
    /* The first-order term, from the definitions in long double. */
    for (int64_t i = 0; i < p; i++) {
      const double *xi = x + i * d;
      long double l[60], c[60], lmax = -INFINITY, z = 0, cbar = 0;
      for (int64_t j = 0; j < n; j++) {
        long double u = 0;
        for (int k = 0; k < d; k++) {
          long double e = (long double)xi[k] - (long double)m * y[j * d + k];
          u += e * e;
        }
        u /= s2;
        l[j] = -u / 2;
        c[j] = u * u / 4 - d * u / 2;
        lmax = l[j] > lmax ? l[j] : lmax;
      }
      for (int64_t j = 0; j < n; j++) {
        z += expl(l[j] - lmax);
        cbar += expl(l[j] - lmax) * c[j];
      }
      cbar /= z;
      for (int k = 0; k < d; k++) {
        long double cov = 0;
        for (int64_t j = 0; j < n; j++)
          cov += expl(l[j] - lmax) / z * (c[j] - cbar) * y[j * d + k];
        const double want = (double)((long double)m / s2 * cov);
        const double got = 1e6 * (sp[1][i * d + k] - se[i * d + k]);
        first_err += (got - want) * (got - want);
        first_norm += want * want;
      }
    }
    const double ratio = err[0] / err[1];
    const double first = sqrt(first_err / first_norm);
    if (rank == 0)
      printf("pfgm D -> inf (%s, t = %g): |s_pfgm - s_emp| = %.3e (D = 1e5), "
             "%.3e (D = 1e6), ratio %.5f; first-order term to %.2e\n",
             kk ? "ve" : "vp", t, err[0], err[1], ratio, first);
    ASSERT_NEAR(ratio, 10.0, 1e-2);
    ASSERT_TRUE(first <= 1e-4);
    ASSERT_TRUE(err[1] > 0);
    free(x);
  }
  free(y);
  free_shard(&ds);
}

/* 4. Normalisation.  (a) d = 1: over x = c + s tan(theta), theta's
 * midpoints on (-pi/2, pi/2), the density of a 5-point mixture integrates
 * to 1; (b) d = 5 and 784, one example y_0: the density is radial about
 * m y_0, and with rho = r tan(theta) its integral S_{d-1} int rho^{d-1}
 * p drho is B(d/2, D/2)/2 times the normaliser, the integral of
 * sin^{d-1} cos^{D-1} over (0, pi/2) (summed as a log-sum-exp for d =
 * 784).  Both integrands are smooth and periodic (a) or even about the
 * ends (b) for odd D (|cos|^{D-1} is smooth), where the midpoint rule
 * converges exponentially: to ~1e-13 here, and 1e-8 is the bound; even D
 * would add an O(h^2) ~ 1e-6 end term for D = 2 (and nothing measurable
 * for D = 2048, |cos|^2047). */
#define QUAD 20000
static void test_normalisation(void) {
  const double Ds[] = {1, 3, 7, 2048};
  double *x = malloc(sizeof *x * QUAD), *w = malloc(sizeof *w * QUAD),
         *lp = malloc(sizeof *lp * QUAD);
  for (int kk = 0; kk < 2; kk++)
    for (int k = 0; k < 4; k++) {
      sgm_config_t cfg = base_config(kk ? SGM_SDE_VE : SGM_SDE_VP, Ds[k]);
      sgm_schedule_t sched;
      sgm_schedule_init(&sched, &cfg);
      const double t = 0.3, s2 = sgm_schedule_var(&sched, t);
      double *y = random_data(5, 1, 30, -1, 1);
      sgm_dataset_t ds = make_shard(y, 5, 1, 0);
      const double s = sqrt(s2 * Ds[k] / (Ds[k] + 1) + 1), h = PI / QUAD;
      for (int j = 0; j < QUAD; j++) {
        const double th = -PI / 2 + (j + 0.5) * h;
        x[j] = s * tan(th);
        w[j] = s * h / (cos(th) * cos(th));
      }
      sgm_drift_t *dr = NULL;
      ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_WORLD, &dr));
      sgm_drift_out_t out = {.model_log_density = lp};
      if (dr)
        ASSERT_OK(sgm_drift_eval(dr, t, QUAD, x, &out));
      sgm_drift_destroy(&dr);
      double total = 0;
      for (int j = 0; j < QUAD; j++)
        total += exp(lp[j]) * w[j];
      if (rank == 0 && k == 0)
        printf("pfgm normalisation d = 1 (%s): 1 %+.2e\n", kk ? "ve" : "vp",
               total - 1);
      ASSERT_NEAR(total, 1.0, 1e-8);
      free(y);
      free_shard(&ds);
    }
  const int dims[2] = {5, 784};
  const int64_t pq = 4000;
  for (int di = 0; di < 2; di++)
    for (int k = 0; k < 4; k++) {
      const int d = dims[di];
      const double D = Ds[k];
      sgm_config_t cfg = base_config(SGM_SDE_VP, D);
      sgm_schedule_t sched;
      sgm_schedule_init(&sched, &cfg);
      const double t = 0.2, m = sgm_schedule_mean(&sched, t),
                   s2 = sgm_schedule_var(&sched, t), r = sqrt(D * s2);
      double *y0 = random_data(1, d, 31, -1, 1);
      sgm_dataset_t ds = make_shard(y0, 1, d, 0);
      double *pts = calloc((size_t)(pq * d), sizeof *pts),
             *lq = malloc(sizeof *lq * pq);
      const double h = PI / 2 / pq;
      for (int64_t j = 0; j < pq; j++) {
        for (int i = 0; i < d; i++)
          pts[j * d + i] = m * y0[i];
        pts[j * d] += r * tan((j + 0.5) * h);
      }
      sgm_drift_t *dr = NULL;
      ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_WORLD, &dr));
      sgm_drift_out_t out = {.model_log_density = lq};
      if (dr)
        ASSERT_OK(sgm_drift_eval(dr, t, pq, pts, &out));
      sgm_drift_destroy(&dr);
      /* log of S_{d-1} = 2 pi^{d/2} / Gamma(d/2) */
      const double log_s = log(2.0) + 0.5 * d * log(PI) - lgamma(0.5 * d);
      double top = -INFINITY;
      for (int64_t j = 0; j < pq; j++) {
        const double th = (j + 0.5) * h, rho = r * tan(th);
        lq[j] += log_s + (d - 1) * log(rho) + log(r * h) - 2 * log(cos(th));
        top = fmax(top, lq[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < pq; j++)
        sum += exp(lq[j] - top);
      const double log_total = top + log(sum);
      if (rank == 0 && k == 0)
        printf("pfgm normalisation d = %d (radial): log of the integral "
               "%+.2e\n",
               d, log_total);
      ASSERT_NEAR(log_total, 0.0, 1e-8);
      free(pts);
      free(lq);
      free(y0);
      free_shard(&ds);
    }
  free(x);
  free(w);
  free(lp);
}

/* 5. The prior.  b = R^2 / (R^2 + r_max^2) against Beta(d/2, D/2) by the
 * Kolmogorov-Smirnov statistic (fixed seed; the 0.1% critical value
 * 1.95 / sqrt(P)); each rank draws an uneven slice and every slice equals
 * the whole draw's rows bit for bit; D = 1e8 gives sigma(T) times the
 * Gaussian prior's normals to 1e-3 (|z_D| / sqrt(D) - 1 ~ 1e-4). */
static int cmp_double(const void *a, const void *b) {
  double u = *(const double *)a, v = *(const double *)b;
  return (u > v) - (u < v);
}

static void check_prior(int d, double D, enum sgm_sde_kind kind) {
  const int64_t P = 3000;
  sgm_config_t cfg = base_config(kind, D);
  double *y = random_data(20, d, 40, -1, 1);
  sgm_dataset_t ds = make_shard(y, 20, d, 0);
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, &cfg);
  const double sT = sqrt(sgm_schedule_var(&sched, sched.T)), r2 = sT * sT * D;
  double *all = malloc(sizeof *all * (size_t)(P * d)),
         *mine = malloc(sizeof *mine * (size_t)(P * d)),
         *b = malloc(sizeof *b * (size_t)P);
  sgm_drift_t *dr = NULL;
  ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_WORLD, &dr));
  if (!dr)
    goto done;
  ASSERT_OK(sgm_drift_prior(dr, 77, 0, P, all));
  /* Uneven slices: rank k draws [P k^2 / size^2, P (k+1)^2 / size^2). */
  const int64_t first = P * rank * rank / (size * size),
                last = P * (rank + 1) * (rank + 1) / (size * size);
  ASSERT_OK(sgm_drift_prior(dr, 77, first, last - first, mine));
  ASSERT_TRUE(memcmp(mine, all + first * d,
                     sizeof(double) * (size_t)((last - first) * d)) == 0);
  for (int64_t i = 0; i < P; i++) {
    double R2 = 0;
    for (int k = 0; k < d; k++)
      R2 += all[i * d + k] * all[i * d + k];
    b[i] = R2 / (R2 + r2);
  }
  qsort(b, (size_t)P, sizeof *b, cmp_double);
  double ks = 0;
  for (int64_t i = 0; i < P; i++) {
    double F = gsl_cdf_beta_P(b[i], 0.5 * d, 0.5 * D);
    ks = fmax(ks, fmax(fabs(F - (double)i / P), fabs(F - (double)(i + 1) / P)));
  }
  if (rank == 0)
    printf("pfgm prior d = %d D = %g %s: KS %.4f (critical %.4f)\n", d, D,
           kind == SGM_SDE_VE ? "ve" : "vp", ks, 1.95 / sqrt((double)P));
  ASSERT_TRUE(ks < 1.95 / sqrt((double)P));
done:
  sgm_drift_destroy(&dr);
  free(all);
  free(mine);
  free(b);
  free(y);
  free_shard(&ds);
}

static void test_prior(void) {
  check_prior(5, 1, SGM_SDE_VE);
  check_prior(5, 7, SGM_SDE_VP);
  check_prior(5, 2048, SGM_SDE_VE);
  check_prior(784, 1, SGM_SDE_VP);
  check_prior(784, 2048, SGM_SDE_VE);
  check_prior(784, 1e6, SGM_SDE_VP);
  /* The Gaussian limit, and the models without a prior of their own. */
  const int d = 5;
  const int64_t P = 500;
  double *y = random_data(20, d, 40, -1, 1);
  sgm_dataset_t ds = make_shard(y, 20, d, 0);
  sgm_config_t cfg = base_config(SGM_SDE_VE, 1e8);
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, &cfg);
  const double sT = sqrt(sgm_schedule_var(&sched, sched.T));
  double *x = malloc(sizeof *x * (size_t)(P * d)), z[5], worst = 0;
  sgm_drift_t *dr = NULL;
  ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_WORLD, &dr));
  if (dr) {
    ASSERT_OK(sgm_drift_prior(dr, 5, 0, P, x));
    for (int64_t i = 0; i < P; i++) {
      sgm_rng_normals(5, SGM_RNG_PRIOR, (uint64_t)i, 0, d, z);
      for (int k = 0; k < d; k++)
        z[k] *= sT;
      worst = fmax(worst, rel_err(x + i * d, z, d));
    }
    if (rank == 0)
      printf("pfgm prior D = 1e8 vs sigma(T) times the Gaussian prior's "
             "normals: %.2e\n",
             worst);
    ASSERT_TRUE(worst < 1e-3);
    double v;
    ASSERT_FAILS(sgm_drift_model_variance(dr, &v), SGM_ERR_UNSUPPORTED,
                 "Poisson field");
    ASSERT_NEAR(sgm_drift_min_variance(dr), 0, 0);
    ASSERT_INT_EQ(sgm_drift_has_analytic_jacobian(dr), 0);
    ASSERT_INT_EQ(sgm_drift_jacobian_rows(dr), 0);
    double F[5], diag;
    int64_t rows;
    ASSERT_FAILS(sgm_drift_jacobian_factor(dr, 0.5, x, F, &rows, &diag),
                 SGM_ERR_UNSUPPORTED, "method = fd");
  }
  sgm_drift_destroy(&dr);
  cfg.drift.model = SGM_DRIFT_EMPIRICAL;
  ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_WORLD, &dr));
  if (dr)
    ASSERT_FAILS(sgm_drift_prior(dr, 5, 0, P, x), SGM_ERR_UNSUPPORTED,
                 "needs [drift] model = pfgm");
  sgm_drift_destroy(&dr);
  free(x);
  free(y);
  free_shard(&ds);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  test_against_reference();
  test_kernel();
  test_large_D();
  test_normalisation();
  test_prior();
  return sgm_test_finish();
}
