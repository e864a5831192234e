/*
 * The mixture kernel against the long-double brute force of reference.c.
 *
 * Tolerances: 1e-10 relative (norm-wise) on score and denoiser, and 1e-10
 * relative on the log density, as the foundation issue requires.  What the
 * kernel can lose is the expanded distance's cancellation, ~1e-16 (|x|^2 +
 * m^2 |mu|^2) / sigma^2 in a logit, which the exact recomputation of the
 * dominant components removes; what remains is ~1e-14 at t = 1e-4 here.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "reference.h"
#include "sgm/mixture.h"
#include "sgm/rng.h"
#include "sgm/schedule.h"
#include "sgm_test.h"

#define TOL 1e-10

/* Threads and centre blocking of the mixtures make() creates: the second
 * pass of the tests runs with 3 threads over blocks of 16 centres (so that
 * every test's shard spans several blocks and the threads' uneven parts). */
static int g_threads = 1, g_centre_block = 0;

static sgm_mixture_t *make(int64_t n, int d, const double *y, const double *v,
                           const double *lw, int nheads, const double *hv) {
  sgm_mixture_desc_t desc = {.d = d,
                             .n = n,
                             .offset = 0,
                             .n_local = n,
                             .centres = y,
                             .variances = v,
                             .log_weights = lw,
                             .comm = MPI_COMM_SELF};
  sgm_mixture_t *mix = NULL;
  ASSERT_OK(sgm_mixture_create(&desc, nheads, hv, &mix));
  sgm_mixture_set_threads(mix, g_threads);
  sgm_mixture_set_blocking(mix, 0, g_centre_block);
  return mix;
}

static void test_vp_times(int64_t n, int d, int p) {
  double *y = random_data(n, d, 42 + (uint64_t)d, -1.0, 1.0);
  double hv[2] = {0.0, 0.01};
  sgm_mixture_t *mix = make(n, d, y, NULL, NULL, 2, hv);
  const double times[] = {1.0, 0.5, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4, 1e-4};
  const int nt = (int)(sizeof times / sizeof *times);
  double worst = check_vp_times(mix, n, d, y, 2, hv, p, times, nt, TOL, "");
  fprintf(stderr, "N=%lld d=%d: worst score error %.2e\n", (long long)n, d,
          worst);
  sgm_mixture_destroy(&mix);
  ASSERT_TRUE(mix == NULL);
  free(y);
}

/* Training points 1e3 apart at sigma = 1e-3: logits of order -1e12. */
static void test_extreme_logits(void) {
  const int d = 2;
  double y[] = {0, 0, 1000, 0, 0, 1000};
  double hv[1] = {0.0};
  sgm_mixture_t *mix = make(3, d, y, NULL, NULL, 1, hv);
  double x[] = {1e-3, -2e-3, 1000.0007, 0.0011, -0.0005, 999.9992,
                500,  500,   1e4,       -1e4,   0.3e-3,  0.1e-3};
  check_points(mix, 3, d, y, NULL, NULL, 1, hv, 1.0, 1e-6, 6, x,
               "extreme logits", TOL);
  double s[12], lp[6];
  sgm_mixture_out_t out = {.score = s, .log_density = lp};
  ASSERT_OK(sgm_mixture_eval(mix, 1.0, 1e-6, 6, x, &out, NULL));
  for (int i = 0; i < 12; i++)
    ASSERT_TRUE(isfinite(s[i]));
  for (int i = 0; i < 6; i++)
    ASSERT_TRUE(isfinite(lp[i]));
  sgm_mixture_destroy(&mix);
}

/* A mixture with unequal variances and weights (the GMM drift's case). */
static void test_unequal_variances(void) {
  const int d = 3, k = 5;
  double *mu = random_data(k, d, 5, -3.0, 3.0);
  double v[5] = {0.1, 0.5, 1.0, 2.0, 0.01};
  double w[5] = {0.1, 0.3, 0.2, 0.15, 0.25}, lw[5];
  for (int i = 0; i < k; i++)
    lw[i] = log(w[i]);
  double hv[1] = {0.0};
  sgm_mixture_t *mix = make(k, d, mu, v, lw, 1, hv);
  sgm_schedule_t vp = {
      .kind = SGM_SDE_VP, .beta_min = 0.1, .beta_max = 20, .T = 1};
  const double times[] = {1.0, 0.2, 0.01, 1e-4};
  for (int t = 0; t < 4; t++) {
    double m = sgm_schedule_mean(&vp, times[t]);
    double s2 = sgm_schedule_var(&vp, times[t]);
    double *x = test_points(k, d, mu, m, sqrt(s2), 9, 100 + t);
    check_points(mix, k, d, mu, v, lw, 1, hv, m, s2, 9, x, "unequal variances",
                 TOL);
    free(x);
  }
  sgm_mixture_destroy(&mix);
  free(mu);
}

/* Duplicated centres: the lower index wins every tie. */
static void test_nearest_ties(void) {
  const int d = 4;
  double *y = random_data(40, d, 11, -1, 1);
  for (int k = 0; k < d; k++) {
    y[30 * d + k] = y[3 * d + k];
    y[17 * d + k] = y[3 * d + k];
  }
  double hv[1] = {0};
  sgm_mixture_t *mix = make(40, d, y, NULL, NULL, 1, hv);
  sgm_mixture_set_blocking(mix, 3, 5);
  double x[4];
  for (int k = 0; k < d; k++)
    x[k] = y[3 * d + k] + 1e-3;
  int64_t idx, idx2;
  double dist, dist2;
  sgm_nearest_t near = {&idx, &idx2, &dist, &dist2};
  double s[4];
  sgm_mixture_out_t out = {.score = s};
  ASSERT_OK(sgm_mixture_eval(mix, 0.9, 0.01, 1, x, &out, &near));
  ASSERT_INT_EQ(idx, 3);
  ASSERT_INT_EQ(idx2, 17);
  ASSERT_TRUE(dist == dist2);
  sgm_mixture_destroy(&mix);
  free(y);
}

/* 1 to 4 threads give the same numbers up to rounding, and the same
 * nearest examples. */
static void test_threads(void) {
  const int64_t n = 1000;
  const int d = 23, p = 37;
  double *y = random_data(n, d, 8, -1, 1);
  double hv[2] = {0, 0.04};
  double *x = test_points(n, d, y, 0.97, 0.05, p, 6);
  double s[4][2][37 * 23], lp[4][2][37];
  int64_t idx[4][37], idx2[4][37];
  for (int t = 0; t < 4; t++) {
    sgm_mixture_t *mix = make(n, d, y, NULL, NULL, 2, hv);
    sgm_mixture_set_threads(mix, t + 1);
    sgm_mixture_set_blocking(mix, 8, 64);
    sgm_mixture_out_t out[2] = {{.score = s[t][0], .log_density = lp[t][0]},
                                {.score = s[t][1], .log_density = lp[t][1]}};
    sgm_nearest_t near = {.index = idx[t], .second_index = idx2[t]};
    ASSERT_OK(sgm_mixture_eval(mix, 0.97, 0.0025, p, x, out, &near));
    sgm_mixture_destroy(&mix);
  }
  for (int t = 1; t < 4; t++)
    for (int h = 0; h < 2; h++)
      for (int i = 0; i < p; i++) {
        ASSERT_TRUE(rel_err(s[t][h] + i * d, s[0][h] + i * d, d) <= 1e-13);
        ASSERT_NEAR(lp[t][h][i], lp[0][h][i], 1e-13 * fabs(lp[0][h][i]));
        ASSERT_INT_EQ(idx[t][i], idx[0][i]);
        ASSERT_INT_EQ(idx2[t][i], idx2[0][i]);
      }
  free(x);
  free(y);
}

/* Odd blockings give the same numbers as the default. */
static void test_blocking(void) {
  const int64_t n = 333;
  const int d = 29, p = 41;
  double *y = random_data(n, d, 3, -1, 1);
  double hv[2] = {0, 0.04};
  double *x = test_points(n, d, y, 0.95, 0.1, p, 5);
  double a[2][41 * 29], b[2][41 * 29], la[2][41], lb[2][41];
  int64_t ia[41], ib[41];
  sgm_mixture_t *mix = make(n, d, y, NULL, NULL, 2, hv);
  sgm_mixture_out_t oa[2] = {{.score = a[0], .log_density = la[0]},
                             {.score = a[1], .log_density = la[1]}};
  sgm_mixture_out_t ob[2] = {{.score = b[0], .log_density = lb[0]},
                             {.score = b[1], .log_density = lb[1]}};
  sgm_nearest_t na = {.index = ia}, nb = {.index = ib};
  ASSERT_OK(sgm_mixture_eval(mix, 0.95, 0.01, p, x, oa, &na));
  sgm_mixture_set_blocking(mix, 7, 13);
  ASSERT_OK(sgm_mixture_eval(mix, 0.95, 0.01, p, x, ob, &nb));
  for (int h = 0; h < 2; h++)
    for (int i = 0; i < p; i++) {
      ASSERT_TRUE(rel_err(b[h] + i * d, a[h] + i * d, d) <= 1e-13);
      ASSERT_NEAR(lb[h][i], la[h][i], 1e-13 * fabs(la[h][i]));
    }
  for (int i = 0; i < p; i++)
    ASSERT_INT_EQ(ib[i], ia[i]);
  sgm_mixture_destroy(&mix);
  free(x);
  free(y);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_vp_times(700, 37, 12);
  test_vp_times(300, 784, 6);
  test_vp_times(5, 2, 9);
  /* d <= 3: the cell-grid kernel, pruned at small sigma (lowdim.c). */
  test_vp_times(3000, 1, 25);
  test_vp_times(3000, 2, 25);
  test_vp_times(2000, 3, 25);
  test_extreme_logits();
  test_unequal_variances();
  test_nearest_ties();
  test_blocking();
  test_threads();
  /* Everything against the long-double reference again, threaded. */
  g_threads = 3;
  g_centre_block = 16;
  test_vp_times(700, 37, 12);
  test_vp_times(300, 784, 6);
  test_vp_times(3000, 2, 25);
  test_extreme_logits();
  test_unequal_variances();
  test_nearest_ties();
  return sgm_test_finish();
}
