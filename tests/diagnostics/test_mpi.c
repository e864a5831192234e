/*
 * Ensemble summaries and density histograms over MPI_COMM_WORLD, with the P
 * paths split over the ranks by sgm_grid_block.  Every rank builds the full
 * arrays deterministically and checks the distributed results against
 * serial references (long double where rounding matters), and that every
 * rank returned the same bits.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag_test.h"
#include "sgm/diagnostics.h"
#include "sgm/grid.h"
#include "sgm_test.h"

static int rank, size;

/* This rank's slice [*first, *first + *count) of P paths. */
static sgm_diagnostics_t *make(int64_t P, int d, int bins, double lo, double hi,
                               int64_t *first, int64_t *count) {
  sgm_grid_block(P, size, rank, first, count);
  sgm_config_t cfg = diag_config(bins, lo, hi);
  sgm_diagnostics_t *g = NULL;
  ASSERT_OK(sgm_diagnostics_create(&cfg, MPI_COMM_WORLD, P, *count, d, &g));
  return g;
}

/* Fails unless the n values are bitwise the same on every rank. */
static void check_same(const double *v, int n, const char *what) {
  double *ref = malloc(sizeof *ref * (size_t)n);
  memcpy(ref, v, sizeof *ref * (size_t)n);
  MPI_Bcast(ref, n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (memcmp(ref, v, sizeof *ref * (size_t)n) != 0)
    SGM_TEST_FAIL("%s differs from rank 0's", what);
  free(ref);
}

static void check_summary_same(const sgm_diag_summary_t *s, const char *what) {
  const double v[5] = {s->memorized_fraction, s->mean_nearest_distance,
                       s->novikov_log_mean_exp, s->novikov_mean,
                       s->mean_score_error};
  check_same(v, 5, what);
}

/* ---- memorisation and means ---------------------------------------------
 * Seven kinds of path, by j % 7: clearly memorised (ratio 0.1), just below
 * the threshold, just above it, a tie of two exact copies (0 / 0), clearly
 * not (0.9), an exact copy (0 / s), and exactly at the threshold (not
 * memorised: the criterion is strict). */
static int is_memorised_kind(int64_t j) {
  int kind = (int)(j % 7);
  return kind == 0 || kind == 1 || kind == 5;
}

static void build_distances(int64_t P, double *nearest, double *second,
                            double *error) {
  for (int64_t j = 0; j < P; j++) {
    double s = 1 + 0.013 * (double)j, r = 0;
    switch (j % 7) {
    case 0:
      r = 0.1;
      break;
    case 1:
      r = SGM_MEMORIZED_RATIO * (1 - 1e-12);
      break;
    case 2:
      r = SGM_MEMORIZED_RATIO * (1 + 1e-12);
      break;
    case 3:
      s = 0;
      r = 0;
      break;
    case 4:
      r = 0.9;
      break;
    case 5:
      r = 0;
      break;
    default:
      s = 2; /* 2 R / 2 == R exactly */
      r = SGM_MEMORIZED_RATIO;
    }
    second[j] = s;
    nearest[j] = r * s;
    error[j] = 0.37 * (double)(j % 17) + 1e-3 * (double)j;
  }
}

static void test_memorised_and_means(void) {
  const int64_t P = 101;
  double nearest[101], second[101], error[101];
  build_distances(P, nearest, second, error);
  int64_t k = 0;
  long double sum_near = 0, sum_err = 0;
  for (int64_t j = 0; j < P; j++) {
    k += is_memorised_kind(j);
    sum_near += nearest[j];
    sum_err += error[j];
  }
  ASSERT_TRUE(k > 0 && k < P);

  int64_t first, count;
  sgm_diagnostics_t *g = make(P, 4, 0, -4, 4, &first, &count);
  if (!g)
    return;
  sgm_diag_summary_t s;
  ASSERT_OK(sgm_diagnostics_summarize(g, nearest + first, second + first,
                                      error + first, &s));
  ASSERT_NEAR(s.memorized_fraction, (double)k / (double)P, 0);
  ASSERT_REL(s.mean_nearest_distance, (double)(sum_near / P), 1e-14);
  ASSERT_REL(s.mean_score_error, (double)(sum_err / P), 1e-14);
  /* No Novikov steps yet: I = 0 for every path. */
  ASSERT_NEAR(s.novikov_log_mean_exp, 0, 0);
  ASSERT_NEAR(s.novikov_mean, 0, 0);
  check_summary_same(&s, "summary");

  /* Missing inputs leave their entries NaN, and only theirs. */
  ASSERT_OK(sgm_diagnostics_summarize(g, nearest + first, NULL, NULL, &s));
  ASSERT_TRUE(isnan(s.memorized_fraction));
  ASSERT_TRUE(isnan(s.mean_score_error));
  ASSERT_REL(s.mean_nearest_distance, (double)(sum_near / P), 1e-14);
  ASSERT_NEAR(s.novikov_mean, 0, 0);
  ASSERT_OK(
      sgm_diagnostics_summarize(g, NULL, second + first, error + first, &s));
  ASSERT_TRUE(isnan(s.memorized_fraction));
  ASSERT_TRUE(isnan(s.mean_nearest_distance));
  ASSERT_REL(s.mean_score_error, (double)(sum_err / P), 1e-14);
  sgm_diagnostics_destroy(&g);
}

/* ---- Novikov ------------------------------------------------------------ */

static void test_novikov_accumulation(void) {
  const int64_t P = 101;
  const int K = 7;
  double e[7][101];
  long double ref[101] = {0};
  for (int k = 0; k < K; k++) {
    const double g2 = 0.1 + 2.3 * k, dt = 1.0 / (k + 3);
    for (int64_t j = 0; j < P; j++) {
      e[k][j] = 0.1 * (double)(1 + j % 9) + 0.05 * k;
      ref[j] += 0.5L * g2 * (long double)e[k][j] * e[k][j] * dt;
    }
  }
  int64_t first, count;
  sgm_diagnostics_t *g = make(P, 3, 0, -4, 4, &first, &count);
  if (!g)
    return;
  for (int k = 0; k < K; k++)
    sgm_diagnostics_novikov_step(g, 0.1 + 2.3 * k, 1.0 / (k + 3), e[k] + first);
  const double *I = sgm_diagnostics_novikov(g);
  long double sum = 0, sum_exp = 0;
  for (int64_t j = 0; j < P; j++) {
    sum += ref[j];
    sum_exp += expl(ref[j]);
  }
  for (int64_t i = 0; i < count; i++)
    ASSERT_REL(I[i], (double)ref[first + i], 1e-14);
  sgm_diag_summary_t s;
  ASSERT_OK(sgm_diagnostics_summarize(g, NULL, NULL, NULL, &s));
  ASSERT_REL(s.novikov_mean, (double)(sum / P), 1e-14);
  ASSERT_REL(s.novikov_log_mean_exp, (double)logl(sum_exp / P), 1e-14);
  check_summary_same(&s, "Novikov summary");
  sgm_diagnostics_destroy(&g);
}

/* Sets I on the ranks' slices and returns the summary. */
static sgm_diag_summary_t summarize_novikov(int64_t P, const double *I) {
  sgm_diag_summary_t s = {NAN, NAN, NAN, NAN, NAN};
  int64_t first, count;
  sgm_diagnostics_t *g = make(P, 1, 0, -4, 4, &first, &count);
  if (!g)
    return s;
  sgm_diagnostics_set_novikov(g, count ? I + first : NULL);
  ASSERT_OK(sgm_diagnostics_summarize(g, NULL, NULL, NULL, &s));
  check_summary_same(&s, "log-mean-exp");
  sgm_diagnostics_destroy(&g);
  return s;
}

/* max + log(mean exp(I - max)) and the mean, in long double. */
static void reference(int64_t P, const double *I, long double *lme,
                      long double *mean) {
  long double m = -INFINITY, se = 0, sum = 0;
  for (int64_t j = 0; j < P; j++)
    m = fmaxl(m, I[j]);
  for (int64_t j = 0; j < P; j++) {
    se += expl((long double)I[j] - m);
    sum += I[j];
  }
  *lme = m + logl(se / P);
  *mean = sum / P;
}

static void test_log_mean_exp(void) {
  enum { P = 101 };
  double I[P];
  long double lme, mean;
  sgm_diag_summary_t s;

  /* Moderate values. */
  for (int j = 0; j < P; j++)
    I[j] = 0.01 * (j % 13) + 1e-3 * j;
  reference(P, I, &lme, &mean);
  s = summarize_novikov(P, I);
  ASSERT_REL(s.novikov_log_mean_exp, (double)lme, 1e-14);
  ASSERT_REL(s.novikov_mean, (double)mean, 1e-14);

  /* Tiny values: log(1 + tiny) must keep its relative precision. */
  long double tiny_ref = 0;
  for (int j = 0; j < P; j++) {
    I[j] = 1e-12 * (1 + j % 5);
    tiny_ref += expm1l(I[j]);
  }
  tiny_ref = log1pl(tiny_ref / P);
  s = summarize_novikov(P, I);
  ASSERT_REL(s.novikov_log_mean_exp, (double)tiny_ref, 1e-13);

  /* Around 1e5: exp would overflow. */
  for (int j = 0; j < P; j++)
    I[j] = 1e5 + 0.5 * (j % 11) - 3 * (j % 3);
  reference(P, I, &lme, &mean);
  s = summarize_novikov(P, I);
  ASSERT_NEAR(s.novikov_log_mean_exp, (double)lme, 1e-10);
  ASSERT_REL(s.novikov_mean, (double)mean, 1e-14);

  /* One path far above the rest dominates: max + log(1 / P). */
  for (int j = 0; j < P; j++)
    I[j] = j == 57 ? 2.5 : -800.0 + j;
  reference(P, I, &lme, &mean);
  s = summarize_novikov(P, I);
  ASSERT_NEAR(s.novikov_log_mean_exp, (double)lme, 1e-14);
  ASSERT_NEAR(s.novikov_log_mean_exp, 2.5 - log(101.0), 1e-14);

  /* The same with many paths, where 1 + (S - P) / P would cancel. */
  {
    const int64_t Q = 12000;
    double *J = malloc(sizeof *J * (size_t)Q);
    for (int64_t j = 0; j < Q; j++)
      J[j] = j == 7 ? 2.5 : -900.0 + (double)(j % 50);
    reference(Q, J, &lme, &mean);
    s = summarize_novikov(Q, J);
    ASSERT_NEAR(s.novikov_log_mean_exp, (double)lme, 2e-15);
    ASSERT_REL(s.novikov_mean, (double)mean, 1e-14);
    free(J);
  }

  /* Around 1e300. */
  for (int j = 0; j < P; j++)
    I[j] = 1e300 * (1 + 1e-3 * (j % 7));
  reference(P, I, &lme, &mean);
  s = summarize_novikov(P, I);
  ASSERT_REL(s.novikov_log_mean_exp, (double)lme, 1e-15);
  ASSERT_REL(s.novikov_mean, (double)mean, 1e-14);

  /* Near the largest double: the mean must not overflow either. */
  for (int j = 0; j < P; j++)
    I[j] = j % 2 ? 1.5e308 : 0.75e308;
  reference(P, I, &lme, &mean);
  s = summarize_novikov(P, I);
  ASSERT_TRUE(isfinite(s.novikov_log_mean_exp) && isfinite(s.novikov_mean));
  ASSERT_REL(s.novikov_log_mean_exp, 1.5e308, 1e-15);
  ASSERT_REL(s.novikov_mean, (double)mean, 1e-14);

  /* A few huge paths among zeros. */
  for (int j = 0; j < P; j++)
    I[j] = j % 10 == 3 ? 1e300 : 0;
  s = summarize_novikov(P, I);
  ASSERT_REL(s.novikov_log_mean_exp, 1e300, 1e-15);

  /* All equal: exactly that value. */
  const double equal[] = {0.7, 123.456, 1e-9, 1e300};
  for (size_t c = 0; c < sizeof equal / sizeof equal[0]; c++) {
    for (int j = 0; j < P; j++)
      I[j] = equal[c];
    s = summarize_novikov(P, I);
    ASSERT_NEAR(s.novikov_log_mean_exp, equal[c], 0);
    ASSERT_NEAR(s.novikov_mean, equal[c], 0);
  }
}

/* P = 2 paths: ranks 2 and 3 (when there) hold none and pass NULL. */
static void test_empty_ranks(void) {
  const int64_t P = 2;
  const double I[2] = {3, 5}, nearest[2] = {0.1, 0.5}, second[2] = {1, 1},
               error[2] = {2, 4}, y[2] = {0.25, 3};
  int64_t first, count;
  sgm_diagnostics_t *g = make(P, 1, 4, 0, 1, &first, &count);
  if (!g)
    return;
  ASSERT_TRUE(count == (rank < 2 && rank < P ? (size == 1 ? 2 : 1) : 0));
  const int have = count > 0;
  sgm_diagnostics_set_novikov(g, have ? I + first : NULL);
  sgm_diag_summary_t s;
  ASSERT_OK(sgm_diagnostics_summarize(g, have ? nearest + first : NULL,
                                      have ? second + first : NULL,
                                      have ? error + first : NULL, &s));
  ASSERT_NEAR(s.memorized_fraction, 0.5, 0);
  ASSERT_REL(s.mean_nearest_distance, 0.3, 1e-15);
  ASSERT_REL(s.mean_score_error, 3, 1e-15);
  ASSERT_REL(s.novikov_mean, 4, 1e-15);
  ASSERT_REL(s.novikov_log_mean_exp,
             (double)logl((expl(3.0L) + expl(5.0L)) / 2), 1e-15);
  check_summary_same(&s, "summary with empty ranks");

  double density[4];
  ASSERT_OK(sgm_diagnostics_density(g, have ? y + first : NULL, density));
  for (int b = 0; b < 4; b++)
    ASSERT_NEAR(density[b], b == 1 ? 1 / (2 * 0.25) : 0, 0);
  check_same(density, 4, "density with empty ranks");
  sgm_diagnostics_destroy(&g);
}

/* ---- density ------------------------------------------------------------ */

static void test_density_1d(void) {
  enum { P = 101, BINS = 6 };
  const double lo = -1, hi = 2, width = 0.5;
  double y[P];
  int64_t expect[BINS] = {0}, inside = 0;
  for (int j = 0; j < P; j++) {
    const int kind = j % 8;
    if (kind < BINS) {
      y[j] = lo + width * kind + 0.25; /* the bin's centre */
      expect[kind]++;
    } else if (kind == 6) {
      y[j] = (j / 8) % 2 ? hi : -1.5; /* hi itself is outside */
    } else {
      y[j] = lo; /* lo itself is inside */
      expect[0]++;
    }
  }
  y[100] = NAN; /* j = 100 is of kind 4: not counted */
  expect[4]--;
  for (int b = 0; b < BINS; b++)
    inside += expect[b];
  ASSERT_TRUE(inside < P);

  int64_t first, count;
  sgm_diagnostics_t *g = make(P, 1, BINS, lo, hi, &first, &count);
  if (!g)
    return;
  int naxes, bins;
  sgm_diagnostics_density_shape(g, &naxes, &bins);
  ASSERT_INT_EQ(naxes, 1);
  ASSERT_INT_EQ(bins, BINS);
  double density[BINS], integral = 0;
  ASSERT_OK(sgm_diagnostics_density(g, y + first, density));
  for (int b = 0; b < BINS; b++) {
    ASSERT_NEAR(density[b], (double)expect[b] / (P * width), 1e-15);
    integral += density[b] * width;
  }
  ASSERT_NEAR(integral, (double)inside / P, 1e-14);
  check_same(density, BINS, "1-D density");

  /* A second call starts from empty bins. */
  ASSERT_OK(sgm_diagnostics_density(g, y + first, density));
  ASSERT_NEAR(density[1], (double)expect[1] / (P * width), 1e-15);
  sgm_diagnostics_destroy(&g);
}

static void test_density_2d(void) {
  enum { P = 101, BINS = 5 };
  const double width = 0.5;
  double y[2 * P];
  int64_t expect[BINS * BINS] = {0};
  for (int j = 0; j < P; j++) {
    const int xb = j % BINS, yb = (3 * j / 5 + j / 7) % BINS;
    y[2 * j] = width * (xb + 0.5);
    y[2 * j + 1] = width * (yb + 0.5);
    if (j % 9 == 8)
      y[2 * j + 1] = -0.1; /* second coordinate outside */
    else
      expect[xb * BINS + yb]++;
  }
  /* The pattern must tell row-major from column-major. */
  int asymmetric = 0;
  for (int a = 0; a < BINS; a++)
    for (int b = 0; b < BINS; b++)
      asymmetric |= expect[a * BINS + b] != expect[b * BINS + a];
  ASSERT_TRUE(asymmetric);

  int64_t first, count;
  sgm_diagnostics_t *g = make(P, 2, BINS, 0, 2.5, &first, &count);
  if (!g)
    return;
  int naxes, bins;
  sgm_diagnostics_density_shape(g, &naxes, &bins);
  ASSERT_INT_EQ(naxes, 2);
  ASSERT_INT_EQ(bins, BINS);
  double density[BINS * BINS];
  ASSERT_OK(sgm_diagnostics_density(g, y + 2 * first, density));
  for (int b = 0; b < BINS * BINS; b++)
    ASSERT_NEAR(density[b], (double)expect[b] / (P * width * width), 1e-15);
  check_same(density, BINS * BINS, "2-D density");
  sgm_diagnostics_destroy(&g);

  /* One particle at (x in bin 1, y in bin 3) lands at index 1 * bins + 3. */
  const double one[2] = {0.75, 1.75};
  g = make(1, 2, BINS, 0, 2.5, &first, &count);
  if (!g)
    return;
  ASSERT_OK(sgm_diagnostics_density(g, count ? one : NULL, density));
  for (int b = 0; b < BINS * BINS; b++)
    ASSERT_NEAR(density[b], b == 1 * BINS + 3 ? 1 / (width * width) : 0, 0);
  sgm_diagnostics_destroy(&g);
}

static void test_density_off(void) {
  const struct { int bins, d; } cases[] = {{4, 3}, {0, 1}, {0, 2}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t first, count;
    sgm_diagnostics_t *g =
        make(101, cases[c].d, cases[c].bins, 0, 1, &first, &count);
    if (!g)
      continue;
    int naxes = -1, bins = -1;
    sgm_diagnostics_density_shape(g, &naxes, &bins);
    ASSERT_INT_EQ(naxes, 0);
    double sentinel = -7, *y = calloc((size_t)(count * cases[c].d) + 1, 8);
    ASSERT_OK(sgm_diagnostics_density(g, y, &sentinel));
    ASSERT_NEAR(sentinel, -7, 0);
    free(y);
    sgm_diagnostics_destroy(&g);
  }
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  test_memorised_and_means();
  test_novikov_accumulation();
  test_log_mean_exp();
  test_empty_ranks();
  test_density_1d();
  test_density_2d();
  test_density_off();
  return sgm_test_finish();
}
