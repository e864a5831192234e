/*
 * Synthetic sources: sphere points lie on the sphere inside the frame's
 * span, subspace points inside theirs, and mixture samples follow the
 * weights and means.  Examples are a pure function of (seed, index).
 */
#include <stdlib.h>

#include "data/data_impl.h"
#include "data_testutil.h"
#include "sgm/rng.h"

/* |x - F F^T x| for x in R^d and F (d x m) with orthonormal columns. */
static double residual(const double *F, int d, int m, const double *x) {
  double c[64] = {0}, r = 0;
  for (int j = 0; j < m; j++)
    for (int i = 0; i < d; i++)
      c[j] += F[i * m + j] * x[i];
  for (int i = 0; i < d; i++) {
    double p = x[i];
    for (int j = 0; j < m; j++)
      p -= F[i * m + j] * c[j];
    r += p * p;
  }
  return sqrt(r);
}

static void check_frame(uint64_t seed, int d, int m, double *F) {
  /* The sources' frame, transposed to d x m for the checks below. */
  double *rows = malloc(sizeof *rows * (size_t)(d * m));
  ASSERT_OK(sgm_rng_frame(seed, SGM_RNG_DATA_FRAME, d, m, rows));
  for (int i = 0; i < d; i++)
    for (int j = 0; j < m; j++)
      F[i * m + j] = rows[j * d + i];
  free(rows);
  double worst = 0;
  for (int a = 0; a < m; a++)
    for (int b = 0; b < m; b++) {
      double dot = 0;
      for (int i = 0; i < d; i++)
        dot += F[i * m + a] * F[i * m + b];
      worst = fmax(worst, fabs(dot - (a == b)));
    }
  ASSERT_TRUE(worst < 1e-14);
}

static void test_sphere(void) {
  enum { D = 7, K = 3, N = 500 };
  sgm_config_t *cfg = tcfg_new(SGM_DATA_SPHERE);
  cfg->data.n = N;
  cfg->data.dim = D;
  cfg->data.intrinsic = K;
  cfg->data.radius = 2.5;
  cfg->data.seed = 42;
  double F[D * (K + 1)];
  check_frame(42, D, K + 1, F);
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    ASSERT_INT_EQ(ds->n, N);
    ASSERT_INT_EQ(ds->d, D);
    ASSERT_INT_EQ(ds->naxes, 1);
    ASSERT_INT_EQ(ds->shape[0], D);
    ASSERT_TRUE(ds->labels == NULL && ds->gmm == NULL);
    double worst_r = 0, worst_span = 0;
    for (int i = 0; i < N; i++) {
      const double *x = ds->y + i * D;
      worst_r = fmax(worst_r, fabs(sqrt(ds->norm2[i]) - 2.5));
      worst_span = fmax(worst_span, residual(F, D, K + 1, x) / 2.5);
    }
    ASSERT_TRUE(worst_r < 1e-12);
    ASSERT_TRUE(worst_span < 1e-12);
    ASSERT_TRUE(strstr(ds->description, "sphere (intrinsic 3, dim 7, radius "
                                        "2.5, seed 42): 500 examples"));
  }
  /* Shards: example i is the same whichever rank draws it. */
  sgm_dataset_info_t info;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_SELF, cfg, &info));
  sgm_dataset_t *part = NULL;
  ASSERT_OK(sgm_dataset_load(MPI_COMM_SELF, cfg, &info, 2, 3, &part));
  if (ds && part) {
    ASSERT_INT_EQ(part->offset, 334);
    ASSERT_INT_EQ(part->n_local, 166);
    ASSERT_TRUE(memcmp(part->y, ds->y + 334 * D, 166 * D * 8) == 0);
  }
  sgm_dataset_destroy(&part);
  sgm_dataset_info_free(&info);
  sgm_dataset_destroy(&ds);
  /* Another seed, another frame and other points. */
  cfg->data.seed = 43;
  sgm_dataset_t *other = NULL;
  ASSERT_OK(load_self(cfg, &other));
  cfg->data.seed = 42;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds && other)
    ASSERT_TRUE(memcmp(ds->y, other->y, D * 8) != 0);
  sgm_dataset_destroy(&other);
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);
}

static void test_subspace(void) {
  enum { D = 12, K = 4, N = 300 };
  sgm_config_t *cfg = tcfg_new(SGM_DATA_SUBSPACE);
  cfg->data.n = N;
  cfg->data.dim = D;
  cfg->data.intrinsic = K;
  cfg->data.seed = 9;
  double F[D * K];
  check_frame(9, D, K, F);
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    double worst = 0, mean_norm2 = 0;
    for (int i = 0; i < N; i++) {
      const double *x = ds->y + i * D;
      worst = fmax(worst, residual(F, D, K, x) / sqrt(ds->norm2[i]));
      mean_norm2 += ds->norm2[i] / N;
    }
    ASSERT_TRUE(worst < 1e-12);
    /* z ~ N(0, I_k): E|x|^2 = k; sd of the mean = sqrt(2k/N) ~ 0.16. */
    ASSERT_NEAR(mean_norm2, K, 5 * sqrt(2.0 * K / N));
  }
  sgm_dataset_destroy(&ds);
  cfg->data.intrinsic = D + 1;
  ASSERT_FAILS(load_self(cfg, &ds), SGM_ERR_CONFIG, "needs intrinsic <= dim");
  tcfg_free(&cfg);
}

static void test_gmm(void) {
  enum { K = 3, D = 2, N = 20000 };
  const double means[K * D] = {0, 0, 100, 0, 0, 100};
  const double vars[K] = {1, 4, 0.25}, w[K] = {5, 3, 2};
  sgm_config_t *cfg = tcfg_new(SGM_DATA_GMM);
  cfg->data.n = N;
  cfg->data.seed = 2024;
  tcfg_means(cfg, K, D, means);
  tcfg_reals(&cfg->data.variances, K, vars);
  tcfg_reals(&cfg->data.weights, K, w);
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (!ds) {
    tcfg_free(&cfg);
    return;
  }
  ASSERT_TRUE(ds->gmm != NULL);
  if (ds->gmm) {
    ASSERT_INT_EQ(ds->gmm->k, K);
    ASSERT_INT_EQ(ds->gmm->d, D);
    for (int c = 0; c < K; c++) {
      ASSERT_NEAR(ds->gmm->weights[c], w[c] / 10, 1e-15);
      ASSERT_NEAR(ds->gmm->variances[c], vars[c], 0);
    }
  }
  int count[K] = {0}, wrong = 0;
  double sum[K][D] = {{0}}, sq[K] = {0};
  for (int i = 0; i < N; i++) {
    int c = ds->labels[i];
    if (c < 0 || c >= K) {
      wrong++;
      continue;
    }
    count[c]++;
    /* Components 100 apart with sd <= 2: the nearest mean is the label. */
    int near = 0;
    double best = INFINITY;
    for (int m = 0; m < K; m++) {
      double dx = ds->y[i * D] - means[m * D],
             dy = ds->y[i * D + 1] - means[m * D + 1];
      if (dx * dx + dy * dy < best) {
        best = dx * dx + dy * dy;
        near = m;
      }
    }
    wrong += near != c;
    for (int j = 0; j < D; j++) {
      double z = ds->y[i * D + j] - means[c * D + j];
      sum[c][j] += z;
      sq[c] += z * z;
    }
  }
  ASSERT_INT_EQ(wrong, 0);
  for (int c = 0; c < K; c++) {
    /* The count of component c is Binomial(N, w_c): its frequency has
     * standard error sqrt(w(1-w)/N) (~0.0035 here).  5 standard errors is a
     * false alarm rate below 1e-6, and the seed is fixed anyway; a wrong
     * selection rule (e.g. ignoring the weights: 1/3 each) misses by > 40. */
    double wc = w[c] / 10, se = sqrt(wc * (1 - wc) / N);
    ASSERT_NEAR((double)count[c] / N, wc, 5 * se);
    /* Mean offset per axis: sd sqrt(v/n_c); the variance estimate: relative
     * sd sqrt(2 / (D n_c)). */
    for (int j = 0; j < D; j++)
      ASSERT_NEAR(sum[c][j] / count[c], 0, 5 * sqrt(vars[c] / count[c]));
    ASSERT_REL(sq[c] / (D * count[c]), vars[c], 5 * sqrt(2.0 / (D * count[c])));
  }
  /* A class filter on the mixture's labels. */
  const int64_t two[1] = {2};
  tcfg_classes(cfg, 1, two);
  sgm_dataset_t *only = NULL;
  ASSERT_OK(load_self(cfg, &only));
  if (only) {
    ASSERT_INT_EQ(only->n, count[2]);
    int bad = 0;
    for (int64_t i = 0; i < only->n_local; i++) {
      int64_t s = only->source_index[i];
      bad += only->labels[i] != 2 || ds->labels[s] != 2;
      bad += memcmp(only->y + i * D, ds->y + s * D, D * 8) != 0;
    }
    ASSERT_INT_EQ(bad, 0);
  }
  sgm_dataset_destroy(&only);
  sgm_dataset_destroy(&ds);

  /* Equal weights when none are given; one shared variance. */
  tcfg_reals(&cfg->data.weights, 0, w);
  tcfg_reals(&cfg->data.variances, 1, vars);
  sgm_gmm_t *g = NULL;
  ASSERT_OK(sgm_gmm_from_config(cfg, &g));
  if (g)
    for (int c = 0; c < K; c++) {
      ASSERT_NEAR(g->weights[c], 1.0 / 3, 1e-15);
      ASSERT_NEAR(g->variances[c], 1, 0);
      ASSERT_NEAR(g->means[c * D + 1], means[c * D + 1], 0);
    }
  sgm_gmm_destroy(&g);
  ASSERT_TRUE(g == NULL);
  sgm_gmm_destroy(&g);
  tcfg_free(&cfg);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_sphere();
  test_subspace();
  test_gmm();
  return sgm_test_finish();
}
