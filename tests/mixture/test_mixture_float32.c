/*
 * The float32 stream ([run] precision = float32) against the long-double
 * brute force of reference.c, and its guard against float32 cancellation.
 *
 * Tolerance: 1e-5 relative (norm-wise) on score and denoiser and on the log
 * density (relative to max(1, |log p|)), the accuracy the float32 path
 * promises; nearest indices exactly those of the reference, their
 * distances to 1e-12 (recomputed exactly).  What float32 can lose is the
 * products' rounding, ~6e-8 |x - m c| |mu - c| per distance: the dominant
 * weights are recomputed exactly, and what the rest carries is below 1e-6
 * on these points (the test prints the worst).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "reference.h"
#include "sgm/mixture.h"
#include "sgm/rng.h"
#include "sgm/schedule.h"
#include "sgm_test.h"

#define TOL 1e-5

static sgm_mixture_t *make32(int64_t n, int d, const double *y, int nheads,
                             const double *hv, int threads, int block) {
  sgm_mixture_desc_t desc = {.d = d,
                             .n = n,
                             .offset = 0,
                             .n_local = n,
                             .centres = y,
                             .comm = MPI_COMM_SELF};
  sgm_mixture_t *mix = NULL;
  ASSERT_OK(sgm_mixture_create(&desc, nheads, hv, &mix));
  ASSERT_OK(sgm_mixture_set_float32(mix, 1, 0.1));
  ASSERT_TRUE(sgm_mixture_is_float32(mix));
  sgm_mixture_set_threads(mix, threads);
  sgm_mixture_set_blocking(mix, 0, block);
  return mix;
}

static void test_vp_times(int64_t n, int d, int p, int threads, int block) {
  double *y = random_data(n, d, 42 + (uint64_t)d, -1.0, 1.0);
  double hv[2] = {0.0, 0.01};
  sgm_mixture_t *mix = make32(n, d, y, 2, hv, threads, block);
  const double times[] = {1.0, 0.5, 0.2, 0.1, 0.03, 0.01, 3e-3, 1e-3};
  const int nt = (int)(sizeof times / sizeof *times);
  double worst =
      check_vp_times(mix, n, d, y, 2, hv, p, times, nt, TOL, "float32 ");
  int64_t evals, redone;
  sgm_mixture_float32_stats(mix, &evals, &redone);
  fprintf(stderr,
          "float32 N=%lld d=%d threads %d: worst relative error %.2e, %lld "
          "of %lld particle evaluations redone in float64\n",
          (long long)n, d, threads, worst, (long long)redone, (long long)evals);
  ASSERT_TRUE(evals == (int64_t)nt * p);
  sgm_mixture_destroy(&mix);
  free(y);
}

/* The nearest centre by float32 arithmetic alone: |x|^2 + |mu|^2 - 2 x.mu
 * in float32, as a naive float32 kernel would compute it. */
static int64_t naive_float32_nearest(int64_t n, int d, const double *y,
                                     const double *x) {
  float best = INFINITY, xn = 0;
  int64_t arg = -1;
  for (int k = 0; k < d; k++)
    xn += (float)x[k] * (float)x[k];
  for (int64_t j = 0; j < n; j++) {
    float yn = 0, g = 0;
    for (int k = 0; k < d; k++) {
      yn += (float)y[j * d + k] * (float)y[j * d + k];
      g += (float)x[k] * (float)y[j * d + k];
    }
    float r = xn + yn - 2.0f * g;
    if (r < best)
      best = r, arg = j;
  }
  return arg;
}

/*
 * Cancellation: two clusters of 12 near-duplicates, around +B(1,...,1) and
 * -B(1,...,1) with B = 300 (so centring at the data mean does not help),
 * 1e-3 apart within a cluster, and points 3e-4 from one member.  float32's
 * expanded distances are off by ~6e-8 |x|^2 ~ 0.1, far more than the
 * distances between members (~1e-6): a naive float32 kernel picks the
 * wrong nearest example, the float32 stream must not, and at sigma^2 =
 * 1e-7 its scores must still match the reference to TOL (the guard sends
 * these particles back to float64).
 */
static void test_cancellation(void) {
  const int d = 16, per = 12, n = 2 * per, p = 8;
  const double B = 300.0;
  double *y = random_data(n, d, 77, -1e-3, 1e-3);
  for (int j = 0; j < n; j++)
    for (int k = 0; k < d; k++)
      y[j * d + k] += j < per ? B : -B;
  double *x = random_data(p, d, 78, -3e-4 / 4, 3e-4 / 4);
  for (int i = 0; i < p; i++)
    for (int k = 0; k < d; k++)
      x[i * d + k] += y[(3 * i % n) * d + k];
  int wrong = 0;
  for (int i = 0; i < p; i++) {
    double rs[16], rd[16], rl, rnd, rnd2;
    int64_t rn;
    double v[24] = {0};
    ref_mixture(n, d, y, v, NULL, 1.0, 1e-7, x + i * d, rs, &rl, rd, &rn, &rnd,
                &rnd2);
    wrong += naive_float32_nearest(n, d, y, x + i * d) != rn;
  }
  fprintf(stderr,
          "cancellation: naive float32 picks the wrong nearest for "
          "%d of %d points\n",
          wrong, p);
  ASSERT_TRUE(wrong > 0); /* the case is one float32 gets wrong */
  double hv[1] = {0.0};
  for (int threads = 1; threads <= 2; threads++) {
    sgm_mixture_t *mix = make32(n, d, y, 1, hv, threads, 5);
    check_points(mix, n, d, y, NULL, NULL, 1, hv, 1.0, 1e-7, p, x,
                 "cancellation", TOL);
    check_points(mix, n, d, y, NULL, NULL, 1, hv, 0.999, 1e-3, p, x,
                 "cancellation, sigma^2 = 1e-3", TOL);
    int64_t evals, redone;
    sgm_mixture_float32_stats(mix, &evals, &redone);
    fprintf(stderr, "cancellation: %lld of %lld redone in float64\n",
            (long long)redone, (long long)evals);
    ASSERT_TRUE(redone > 0);
    sgm_mixture_destroy(&mix);
  }
  free(x);
  free(y);
}

/* Unequal variances and d <= 3 have no float32 stream: they stay float64. */
static void test_not_applicable(void) {
  double y[6] = {0, 0, 1, 1, 2, 0}, hv[1] = {0};
  sgm_mixture_desc_t desc = {
      .d = 2, .n = 3, .n_local = 3, .centres = y, .comm = MPI_COMM_SELF};
  sgm_mixture_t *mix = NULL;
  ASSERT_OK(sgm_mixture_create(&desc, 1, hv, &mix));
  ASSERT_OK(sgm_mixture_set_float32(mix, 1, 0.1));
  ASSERT_TRUE(!sgm_mixture_is_float32(mix));
  sgm_mixture_destroy(&mix);
  double *y8 = random_data(3, 8, 5, -1, 1), v8[3] = {0.1, 0.2, 0.3};
  desc = (sgm_mixture_desc_t){.d = 8,
                              .n = 3,
                              .n_local = 3,
                              .centres = y8,
                              .variances = v8,
                              .comm = MPI_COMM_SELF};
  ASSERT_OK(sgm_mixture_create(&desc, 1, hv, &mix));
  ASSERT_OK(sgm_mixture_set_float32(mix, 1, 0.1));
  ASSERT_TRUE(!sgm_mixture_is_float32(mix));
  sgm_mixture_destroy(&mix);
  free(y8);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_vp_times(700, 37, 12, 1, 0);
  test_vp_times(300, 784, 6, 1, 0);
  test_vp_times(700, 37, 12, 3, 16);
  test_cancellation();
  test_not_applicable();
  return sgm_test_finish();
}
