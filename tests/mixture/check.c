/*
 * Checks shared by the mixture tests: random data, test points at a time t,
 * and every output of an evaluation against the long-double reference.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "reference.h"
#include "sgm/rng.h"
#include "sgm/schedule.h"
#include "sgm_test.h"

/* The score (m D - x) / s^2 is a difference of vectors of size |x|: in
 * double precision it cannot be more accurate than about one ulp of |x|
 * relative to |m D - x|.  Where that bound exceeds TOL (the extreme-logit
 * case: |x| = 1e3, |m D - x| = 1e-3) it is the tolerance, with a factor 4 for
 * the few roundings in m D0 - x. */
static double score_tolerance(const double *x, const double *ref, int d,
                              double a, double tol) {
  double xn = 0, sn = 0;
  for (int k = 0; k < d; k++) {
    xn += x[k] * x[k];
    sn += ref[k] * ref[k];
  }
  return fmax(tol, 4 * DBL_EPSILON * sqrt(xn) * a / sqrt(sn));
}

double *random_data(int64_t n, int d, uint64_t seed, double lo, double hi) {
  double *y = malloc(sizeof *y * (size_t)(n * d));
  sgm_rng_t r;
  sgm_rng_init(&r, seed, SGM_RNG_TEST, 0, 0);
  for (int64_t i = 0; i < n * d; i++)
    y[i] = lo + (hi - lo) * sgm_rng_uniform(&r);
  return y;
}

/* Evaluates p points with every head and checks each against the
 * reference; returns the largest score error seen. */
double check_points(sgm_mixture_t *mix, int64_t n, int d, const double *y,
                    const double *v, const double *lw, int nheads,
                    const double *hv, double m, double sigma2, int64_t p,
                    const double *x, const char *what, double tol) {
  double worst = 0;
  double *s = malloc(sizeof *s * (size_t)(p * d * nheads));
  double *dn = malloc(sizeof *dn * (size_t)(p * d * nheads));
  double *lp = malloc(sizeof *lp * (size_t)(p * nheads));
  int64_t *near = malloc(sizeof *near * (size_t)p);
  double *nd = malloc(sizeof *nd * (size_t)p),
         *nd2 = malloc(sizeof *nd2 * (size_t)p);
  sgm_mixture_out_t out[SGM_MIXTURE_MAX_HEADS];
  for (int h = 0; h < nheads; h++)
    out[h] = (sgm_mixture_out_t){.score = s + h * p * d,
                                 .log_density = lp + h * p,
                                 .denoised = dn + h * p * d};
  sgm_nearest_t nearest = {
      .index = near, .distance = nd, .second_distance = nd2};
  ASSERT_OK(sgm_mixture_eval(mix, m, sigma2, p, x, out, &nearest));
  double *vh = malloc(sizeof *vh * (size_t)n);
  double rs[4096], rd[4096];
  for (int h = 0; h < nheads; h++) {
    for (int64_t i = 0; i < n; i++)
      vh[i] = (v ? v[i] : 0.0) + hv[h];
    for (int64_t i = 0; i < p; i++) {
      double rl, rnd, rnd2;
      int64_t rn;
      ref_mixture(n, d, y, vh, lw, m, sigma2, x + i * d, rs, &rl, rd, &rn, &rnd,
                  &rnd2);
      double es = rel_err(s + (h * p + i) * d, rs, d);
      double ed = rel_err(dn + (h * p + i) * d, rd, d);
      double el = fabs(lp[h * p + i] - rl) / fmax(1.0, fabs(rl));
      worst = fmax(worst, es);
      double s_tol = score_tolerance(x + i * d, rs, d,
                                     1.0 / (m * m * hv[h] + sigma2), tol);
      if (!(es <= s_tol && ed <= tol && el <= tol))
        SGM_TEST_FAIL("%s: head %d point %lld (m %.3g, sigma2 %.3g): score "
                      "%.2e, denoised %.2e, log density %.2e (%.17g vs %.17g)",
                      what, h, (long long)i, m, sigma2, es, ed, el,
                      lp[h * p + i], rl);
      if (h == 0) {
        ASSERT_INT_EQ(near[i], rn);
        ASSERT_REL(nd[i], rnd, 1e-12);
        ASSERT_REL(nd2[i], rnd2, 1e-12);
      }
    }
  }
  free(vh);
  free(s);
  free(dn);
  free(lp);
  free(near);
  free(nd);
  free(nd2);
  return worst;
}

/* Points at time t: on the data (m y_j + sigma z), far from it (N(0, I)),
 * and near the bisector of two examples. */
double *test_points(int64_t n, int d, const double *y, double m, double sigma,
                    int64_t p, uint64_t seed) {
  double *x = malloc(sizeof *x * (size_t)(p * d));
  double *z = malloc(sizeof *z * (size_t)d);
  sgm_rng_t r;
  sgm_rng_init(&r, seed, SGM_RNG_TEST, 1, 0);
  for (int64_t i = 0; i < p; i++) {
    sgm_rng_normals(seed, SGM_RNG_TEST, 2, (uint64_t)i, d, z);
    int64_t a = (int64_t)sgm_rng_below(&r, (uint64_t)n);
    int64_t b = (int64_t)sgm_rng_below(&r, (uint64_t)n);
    for (int k = 0; k < d; k++) {
      double *xi = &x[i * d + k];
      switch (i % 3) {
      case 0:
        *xi = m * y[a * d + k] + sigma * z[k];
        break;
      case 1:
        *xi = z[k];
        break;
      default:
        *xi = 0.5 * m * (y[a * d + k] + y[b * d + k]) + 0.05 * sigma * z[k];
      }
    }
  }
  free(z);
  return x;
}

double check_vp_times(sgm_mixture_t *mix, int64_t n, int d, const double *y,
                      int nheads, const double *hv, int64_t p,
                      const double *times, int ntimes, double tol,
                      const char *label) {
  sgm_schedule_t vp = {.kind = SGM_SDE_VP,
                       .beta_min = 0.1,
                       .beta_max = 20,
                       .T = 1,
                       .t_min = 1e-3};
  double worst = 0;
  for (int k = 0; k < ntimes; k++) {
    double m = sgm_schedule_mean(&vp, times[k]);
    double s2 = sgm_schedule_var(&vp, times[k]);
    double *x = test_points(n, d, y, m, sqrt(s2), p, 7 + (uint64_t)k);
    char what[96];
    snprintf(what, sizeof what, "%sN=%lld d=%d t=%g", label, (long long)n, d,
             times[k]);
    worst = fmax(worst, check_points(mix, n, d, y, NULL, NULL, nheads, hv, m,
                                     s2, p, x, what, tol));
    free(x);
  }
  return worst;
}
