/*
 * Random numbers and the vectorisable elementary functions behind them.
 *  - sgm_vexp, sgm_vlog, sgm_vsincos_2pi against long-double libm: 2 ulp
 *    (relative) for exp and log, 2.5e-16 absolute for sin and cos of 2 pi u
 *    (what their Taylor series and the few roundings allow);
 *  - the normals: moments and a Kolmogorov-Smirnov test against GSL's
 *    normal CDF at alpha = 0.001 (D < 1.95/sqrt(n)), with fixed seeds;
 *  - determinism: the same key and counter give the same numbers, and a
 *    shorter request is a prefix of a longer one.
 */
#include <float.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

#include "sgm/rng.h"
#include "sgm_test.h"
#include "vmath.h"

static double ulps(double got, long double want) {
  if (want == 0)
    return fabs(got) / DBL_MIN;
  return (double)(fabsl((long double)got - want) /
                  (fabsl(want) * (long double)DBL_EPSILON));
}

static void test_vmath(void) {
  sgm_rng_t r;
  sgm_rng_init(&r, 1, SGM_RNG_TEST, 0, 0);
  double worst_exp = 0, worst_log = 0, worst_sc = 0;
  for (int i = 0; i < 200000; i++) {
    double x = -708.0 + 709.0 * sgm_rng_uniform(&r);
    worst_exp = fmax(worst_exp, ulps(sgm_vexp(x), expl((long double)x)));
    /* log over many binades, and close to 1 where cancellation threatens */
    double y = i % 2 ? ldexp(sgm_rng_uniform(&r) + 0.5, (int)(i % 1200) - 600)
                     : 1.0 + (sgm_rng_uniform(&r) - 0.5) * 1e-3;
    long double ly = logl((long double)y);
    double err = fabsl((long double)sgm_vlog(y) - ly) / fmaxl(fabsl(ly), 1.0L) /
                 DBL_EPSILON;
    worst_log = fmax(worst_log, err);
    double u = sgm_rng_uniform(&r), s, c;
    sgm_vsincos_2pi(u, &s, &c);
    long double a = 2.0L * 3.141592653589793238462643383279503L * u;
    worst_sc = fmax(worst_sc, fmax(fabsl(s - sinl(a)), fabsl(c - cosl(a))));
  }
  fprintf(stderr, "vexp %.2f ulp, vlog %.2f ulp, vsincos %.2e\n", worst_exp,
          worst_log, worst_sc);
  ASSERT_TRUE(worst_exp <= 2.0);
  ASSERT_TRUE(worst_log <= 2.0);
  ASSERT_TRUE(worst_sc <= 2.5e-16);
  /* Exact points. */
  double s, c;
  sgm_vsincos_2pi(0.25, &s, &c);
  ASSERT_NEAR(s, 1.0, 1e-16);
  ASSERT_NEAR(c, 0.0, 1e-16);
  ASSERT_TRUE(sgm_vlog(1.0) == 0.0);
  ASSERT_TRUE(sgm_vexp(0.0) == 1.0);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void test_normals(void) {
  const int64_t n = 200000;
  double *z = malloc(sizeof *z * (size_t)n);
  /* Many streams of odd lengths, as the sampler draws them. */
  for (int64_t i = 0, stream = 0; i < n; stream++) {
    int64_t len = 1 + stream % 777;
    if (len > n - i)
      len = n - i;
    sgm_rng_normals(9, SGM_RNG_NOISE, (uint64_t)stream, 3, len, z + i);
    i += len;
  }
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; i++)
    mean += z[i];
  mean /= n;
  for (int64_t i = 0; i < n; i++)
    var += (z[i] - mean) * (z[i] - mean);
  var /= n - 1;
  /* 5 standard errors: sd(mean) = 1/sqrt(n), sd(var) = sqrt(2/n). */
  ASSERT_NEAR(mean, 0.0, 5 / sqrt((double)n));
  ASSERT_NEAR(var, 1.0, 5 * sqrt(2.0 / n));
  qsort(z, (size_t)n, sizeof *z, cmp);
  double D = 0;
  for (int64_t i = 0; i < n; i++) {
    double F = gsl_cdf_ugaussian_P(z[i]);
    D = fmax(D, fmax((double)(i + 1) / n - F, F - (double)i / n));
  }
  fprintf(stderr, "normals: mean %.2e, var %.5f, KS D %.5f (limit %.5f)\n",
          mean, var, D, 1.95 / sqrt((double)n));
  ASSERT_TRUE(D < 1.95 / sqrt((double)n));
  free(z);
}

static void test_determinism(void) {
  double a[1000], b[1000], c[10];
  sgm_rng_normals(5, SGM_RNG_PRIOR, 7, 11, 1000, a);
  sgm_rng_normals(5, SGM_RNG_PRIOR, 7, 11, 1000, b);
  sgm_rng_normals(5, SGM_RNG_PRIOR, 7, 11, 10, c);
  int same = 1, prefix = 1, differs = 0;
  for (int i = 0; i < 1000; i++)
    same &= a[i] == b[i];
  for (int i = 0; i < 10; i++)
    prefix &= a[i] == c[i];
  sgm_rng_normals(5, SGM_RNG_PRIOR, 8, 11, 1000, b);
  for (int i = 0; i < 1000; i++)
    differs += a[i] != b[i];
  ASSERT_TRUE(same);
  ASSERT_TRUE(prefix);
  ASSERT_TRUE(differs > 990);
  /* Uniform integers stay in range; the frame is orthonormal. */
  sgm_rng_t r;
  sgm_rng_init(&r, 1, SGM_RNG_TEST, 0, 0);
  for (int i = 0; i < 1000; i++)
    ASSERT_TRUE(sgm_rng_below(&r, 7) < 7);
  double q[3 * 50];
  ASSERT_OK(sgm_rng_frame(3, SGM_RNG_ROTATION, 50, 3, q));
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      double dot = 0;
      for (int k = 0; k < 50; k++)
        dot += q[i * 50 + k] * q[j * 50 + k];
      ASSERT_NEAR(dot, i == j, 1e-14);
    }
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_vmath();
  test_normals();
  test_determinism();
  return sgm_test_finish();
}
