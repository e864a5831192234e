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
  sgm_mixture_set_float32(mix, 1, 0.1);
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

/*
 * The raw distances of the nearest search come from the SGEMM of x - m c
 * (the particle centred for the logits), so their error scales with
 * |x - m c|, which for m < 1 and data far from the origin is far larger
 * than |x - c|: one cluster of 24 examples 1e-3 apart around B(1,...,1),
 * points 3e-4 from a member, m = 0.01 and sigma^2 = 1e4 (a flat mixture,
 * so the guard has nothing to redo).  A bound built on |x - c| prunes the
 * true nearest (wrong index and distance); the nearest and second nearest
 * must be the reference's.
 */
static void test_far_cluster_nearest(void) {
  const int d = 16, n = 24, p = 8;
  double *y = random_data(n, d, 77, -1e-3, 1e-3);
  for (int j = 0; j < n * d; j++)
    y[j] += 3e4;
  double *x = random_data(p, d, 78, -3e-4 / 4, 3e-4 / 4);
  for (int i = 0; i < p; i++)
    for (int k = 0; k < d; k++)
      x[i * d + k] += y[(3 * i % n) * d + k];
  double hv[1] = {0.0};
  const double ms[3] = {0.5, 0.1, 0.01};
  for (int threads = 1; threads <= 2; threads++) {
    sgm_mixture_t *mix = make32(n, d, y, 1, hv, threads, 5);
    for (int k = 0; k < 3; k++)
      for (double s2 = 1.0; s2 <= 1e4; s2 *= 100)
        check_points(mix, n, d, y, NULL, NULL, 1, hv, ms[k], s2, p, x,
                     "far cluster", TOL);
    sgm_mixture_destroy(&mix);
  }
  free(x);
  free(y);
}

/*
 * Blockings and shards the defaults do not reach: two heads with 1 to 4
 * threads (N = 1100: up to 4 workers of 256 centres), centre blocks of 5,
 * 16 and 64 and particle blocks of 7 (p = 19, not a multiple); shards of
 * fewer centres than candidates (N = 3, 7) and just more (9), d = 4 .. 8.
 */
static void test_blockings(void) {
  double hv[2] = {0.0, 0.01};
  const double times[] = {1.0, 0.1, 0.01, 1e-3};
  const int nt = (int)(sizeof times / sizeof *times);
  const int64_t n = 1100;
  const int d = 13;
  double *y = random_data(n, d, 3, -1.0, 1.0);
  const int nbs[3] = {5, 16, 64};
  for (int threads = 1; threads <= 4; threads++)
    for (int b = 0; b < 3; b++) {
      sgm_mixture_t *mix = make32(n, d, y, 2, hv, threads, nbs[b]);
      sgm_mixture_set_blocking(mix, 7, 0);
      char label[64];
      snprintf(label, sizeof label, "threads %d block 7x%d ", threads, nbs[b]);
      check_vp_times(mix, n, d, y, 2, hv, 19, times, nt, TOL, label);
      sgm_mixture_destroy(&mix);
    }
  free(y);
  const int ns[3] = {3, 7, 9};
  for (int a = 0; a < 3; a++)
    for (int dd = 4; dd <= 8; dd++) {
      double *ys = random_data(ns[a], dd, 11 + (uint64_t)dd, -1.0, 1.0);
      sgm_mixture_t *mix = make32(ns[a], dd, ys, 2, hv, 1, 2);
      sgm_mixture_set_blocking(mix, 4, 0);
      check_vp_times(mix, ns[a], dd, ys, 2, hv, 7, times, nt, TOL,
                     "small shard ");
      sgm_mixture_destroy(&mix);
      free(ys);
    }
}

/*
 * Evictions: the centres sorted by decreasing distance to the particles,
 * so that every block brings better candidates and pushes out ones already
 * left out of the SGEMM (added back with their approximate weights).
 */
static void test_evictions(void) {
  const int64_t n = 400;
  const int d = 10, p = 5;
  double *y = random_data(n, d, 5, -1.0, 1.0);
  double *x0 = random_data(1, d, 6, -0.2, 0.2);
  double *dist = malloc(sizeof *dist * (size_t)n);
  for (int64_t j = 0; j < n; j++) {
    dist[j] = 0;
    for (int k = 0; k < d; k++)
      dist[j] += (y[j * d + k] - x0[k]) * (y[j * d + k] - x0[k]);
  }
  for (int64_t i = 1; i < n; i++) /* insertion sort, farthest first */
    for (int64_t j = i; j > 0 && dist[j] > dist[j - 1]; j--) {
      double t = dist[j];
      dist[j] = dist[j - 1];
      dist[j - 1] = t;
      for (int k = 0; k < d; k++) {
        t = y[j * d + k];
        y[j * d + k] = y[(j - 1) * d + k];
        y[(j - 1) * d + k] = t;
      }
    }
  double x[5 * 10];
  for (int i = 0; i < p; i++)
    for (int k = 0; k < d; k++)
      x[i * d + k] = x0[k] * (1 + 0.01 * i);
  double hv[2] = {0.0, 0.01};
  const double s2[4] = {1e-3, 1e-2, 0.05, 0.2};
  for (int nb = 1; nb <= 64; nb *= 4) {
    sgm_mixture_t *mix = make32(n, d, y, 2, hv, 1, nb);
    sgm_mixture_set_blocking(mix, 2, 0);
    for (int k = 0; k < 4; k++)
      check_points(mix, n, d, y, NULL, NULL, 2, hv, 0.99, s2[k], p, x,
                   "evictions", TOL);
    sgm_mixture_destroy(&mix);
  }
  free(dist);
  free(x0);
  free(y);
}

/* Unequal variances and d <= 3 have no float32 stream: they stay float64. */
static void test_not_applicable(void) {
  double y[6] = {0, 0, 1, 1, 2, 0}, hv[1] = {0};
  sgm_mixture_desc_t desc = {
      .d = 2, .n = 3, .n_local = 3, .centres = y, .comm = MPI_COMM_SELF};
  sgm_mixture_t *mix = NULL;
  ASSERT_OK(sgm_mixture_create(&desc, 1, hv, &mix));
  sgm_mixture_set_float32(mix, 1, 0.1);
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
  sgm_mixture_set_float32(mix, 1, 0.1);
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
  test_far_cluster_nearest();
  test_blockings();
  test_evictions();
  test_not_applicable();
  return sgm_test_finish();
}
