/*
 * Preprocessing: class filter, seeded subset (checked against an
 * independent implementation of the documented algorithm), scaling over the
 * loaded set, and the Fashion-MNIST description.
 */
#include "data_testutil.h"
#include "sgm/rng.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"

static const char *dir;
enum { N = 50, D = 3 };

/* Example i has label i % 5 and values i, i + 0.5, 2i - 100. */
static sgm_config_t *make_source(void) {
  double v[N * D];
  unsigned char lab[N];
  for (int i = 0; i < N; i++) {
    lab[i] = (unsigned char)(i % 5);
    v[i * D] = i;
    v[i * D + 1] = i + 0.5;
    v[i * D + 2] = 2 * i - 100;
  }
  write_idx_f64(tpath(dir, "x.idx"), 0, N, D, v);
  uint32_t ldims[1] = {N};
  write_idx(tpath(dir, "y.idx"), 0, 0x08, 1, ldims, lab, N);
  sgm_config_t *cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, tpath(dir, "x.idx"));
  tcfg_str(&cfg->data.labels, tpath(dir, "y.idx"));
  return cfg;
}

/* The documented subset: partial Fisher-Yates over the candidates with
 * stream (seed, SGM_RNG_DATA_SUBSET, 0, 0), first n, ascending. */
static void reference_subset(uint64_t seed, const int64_t *cand, int64_t m,
                             int64_t n, int64_t *out) {
  int64_t *v = malloc((size_t)m * sizeof *v);
  memcpy(v, cand, (size_t)m * sizeof *v);
  sgm_rng_t r;
  sgm_rng_init(&r, seed, SGM_RNG_DATA_SUBSET, 0, 0);
  for (int64_t i = 0; i < n; i++) {
    int64_t j = i + (int64_t)sgm_rng_below(&r, (uint64_t)(m - i));
    int64_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  for (int64_t i = 0; i < n; i++) /* insertion sort: n is small */
    for (int64_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
      int64_t t = v[k];
      v[k] = v[k - 1];
      v[k - 1] = t;
    }
  memcpy(out, v, (size_t)n * sizeof *v);
  free(v);
}

static void test_class_filter(void) {
  sgm_config_t *cfg = make_source();
  const int64_t classes[2] = {3, 1};
  tcfg_classes(cfg, 2, classes);
  sgm_dataset_info_t info;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_SELF, cfg, &info));
  ASSERT_INT_EQ(info.n_source, N);
  ASSERT_INT_EQ(info.n, 20);
  ASSERT_TRUE(info.index != NULL);
  ASSERT_TRUE(info.has_labels);
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(sgm_dataset_load(MPI_COMM_SELF, cfg, &info, 0, 1, &ds));
  if (ds && info.index) {
    int64_t k = 0;
    for (int i = 0; i < N; i++)
      if (i % 5 == 1 || i % 5 == 3) {
        ASSERT_INT_EQ(info.index[k], i);
        ASSERT_INT_EQ(ds->source_index[k], i);
        ASSERT_INT_EQ(ds->labels[k], i % 5);
        ASSERT_NEAR(ds->y[k * D + 2], 2 * i - 100, 0);
        k++;
      }
    ASSERT_INT_EQ(k, 20);
    ASSERT_TRUE(strstr(ds->description, "20 of 50 examples, dimension 3, "
                                        "classes 3,1, scale none"));
  }
  sgm_dataset_destroy(&ds);
  sgm_dataset_info_free(&info);
  ASSERT_TRUE(info.index == NULL);

  /* n equal to what remains: all of it, no error. */
  cfg->data.n = 20;
  ASSERT_OK(load_self(cfg, &ds));
  ASSERT_TRUE(ds && ds->n == 20);
  sgm_dataset_destroy(&ds);
  cfg->data.n = 21;
  ASSERT_FAILS(load_self(cfg, &ds), SGM_ERR_CONFIG,
               "[data] n = 21, but only 20 examples remain after the class "
               "filter");
  ASSERT_TRUE(ds == NULL);
  tcfg_free(&cfg);
}

static void probe_index(const sgm_config_t *cfg, int64_t *out, int64_t n) {
  sgm_dataset_info_t info;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_SELF, cfg, &info));
  ASSERT_INT_EQ(info.n, n);
  if (info.index && info.n == n)
    memcpy(out, info.index, (size_t)n * sizeof *out);
  else
    SGM_TEST_FAIL("no index for a subset");
  sgm_dataset_info_free(&info);
}

static void test_subset(void) {
  sgm_config_t *cfg = make_source();
  enum { M = 7 };
  int64_t a[M], b[M], c[M], want[M], all[N];
  for (int i = 0; i < N; i++)
    all[i] = i;

  /* Without a filter: n of the whole source. */
  cfg->data.n = M;
  cfg->data.seed = 11;
  probe_index(cfg, a, M);
  probe_index(cfg, b, M);
  reference_subset(11, all, N, M, want);
  int differ = 0;
  for (int i = 0; i < M; i++) {
    ASSERT_INT_EQ(a[i], b[i]);
    ASSERT_INT_EQ(a[i], want[i]);
    if (i)
      ASSERT_TRUE(a[i - 1] < a[i]);
  }
  cfg->data.seed = 12;
  probe_index(cfg, c, M);
  for (int i = 0; i < M; i++)
    differ += a[i] != c[i];
  ASSERT_TRUE(differ > 0);

  /* With a filter: the subset is drawn from the filtered examples. */
  const int64_t classes[1] = {2};
  tcfg_classes(cfg, 1, classes);
  int64_t twos[10];
  for (int i = 0; i < 10; i++)
    twos[i] = 5 * i + 2;
  cfg->data.seed = 3;
  probe_index(cfg, a, M);
  reference_subset(3, twos, 10, M, want);
  for (int i = 0; i < M; i++) {
    ASSERT_INT_EQ(a[i], want[i]);
    ASSERT_INT_EQ(a[i] % 5, 2);
  }
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds)
    for (int i = 0; i < M; i++) {
      ASSERT_INT_EQ(ds->source_index[i], a[i]);
      ASSERT_NEAR(ds->y[i * D], (double)a[i], 0);
    }
  sgm_dataset_destroy(&ds);

  /* No filter and n = 0 or n = N: the whole source, in order, no index. */
  tcfg_classes(cfg, 0, classes);
  for (int k = 0; k < 2; k++) {
    cfg->data.n = k ? N : 0;
    sgm_dataset_info_t info;
    ASSERT_OK(sgm_dataset_probe(MPI_COMM_SELF, cfg, &info));
    ASSERT_INT_EQ(info.n, N);
    ASSERT_TRUE(info.index == NULL);
    sgm_dataset_info_free(&info);
  }
  cfg->data.n = N + 1;
  ASSERT_FAILS(load_self(cfg, &ds), SGM_ERR_CONFIG,
               "[data] n = 51, but only 50 examples remain in the source");
  tcfg_free(&cfg);
}

static void test_scaling(void) {
  sgm_config_t *cfg = make_source();
  /* Classes 1 and 3 hold i in [1, 48]: the range is that of the loaded
   * set, not of the whole file (which spans [-100, 49.5]). */
  const int64_t classes[2] = {1, 3};
  tcfg_classes(cfg, 2, classes);
  const double lo = 2 * 1 - 100, hi = 48 + 0.5;
  for (int s = 0; s < 3; s++) {
    cfg->data.scale = s == 0   ? SGM_SCALE_UNIT
                      : s == 1 ? SGM_SCALE_MINUS1_1
                               : SGM_SCALE_NONE;
    sgm_dataset_t *ds = NULL;
    ASSERT_OK(load_self(cfg, &ds));
    if (!ds)
      continue;
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t k = 0; k < ds->n_local * D; k++) {
      mn = fmin(mn, ds->y[k]);
      mx = fmax(mx, ds->y[k]);
    }
    for (int64_t i = 0; i < ds->n_local; i++) {
      double raw = (double)ds->source_index[i] + 0.5;
      double want = s == 0   ? (raw - lo) / (hi - lo)
                    : s == 1 ? 2 * (raw - lo) / (hi - lo) - 1
                             : raw;
      ASSERT_NEAR(ds->y[i * D + 1], want, 1e-15);
    }
    if (s == 2) {
      ASSERT_NEAR(mn, lo, 0);
      ASSERT_NEAR(mx, hi, 0);
      ASSERT_TRUE(isnan(ds->scale_lo));
    } else {
      ASSERT_NEAR(mn, s == 0 ? 0 : -1, 1e-15);
      ASSERT_NEAR(mx, 1, 1e-15);
      ASSERT_NEAR(ds->scale_lo, lo, 0);
      ASSERT_NEAR(ds->scale_hi, hi, 0);
    }
    sgm_dataset_destroy(&ds);
  }
  tcfg_free(&cfg);
}

static void test_fashion(void) {
  sgm_config_t *cfg = tcfg_new(SGM_DATA_FASHION_MNIST);
  cfg->data.scale = SGM_SCALE_MINUS1_1;
  /* The training split's shape is checked by test_mpi; here the test split
   * and a filtered subset. */
  sgm_dataset_info_t info;
  cfg->data.split = SGM_SPLIT_TEST;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_SELF, cfg, &info));
  ASSERT_INT_EQ(info.n_source, 10000);
  sgm_dataset_info_free(&info);

  cfg->data.split = SGM_SPLIT_TRAIN;
  tcfg_str(&cfg->data.path, FASHION);
  const int64_t classes[2] = {0, 3};
  tcfg_classes(cfg, 2, classes);
  cfg->data.n = 1000;
  cfg->data.seed = 5;
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    ASSERT_STR_EQ(ds->description,
                  "fashion-mnist train (/usr/share/datasets/fashion-mnist/): "
                  "1000 of 60000 examples, 28x28, classes 0,3, scale "
                  "minus1_1");
    ASSERT_INT_EQ(ds->n, 1000);
    int bad = 0, distinct = 0;
    for (int64_t i = 0; i < ds->n_local; i++) {
      bad += ds->labels[i] != 0 && ds->labels[i] != 3;
      bad += i > 0 && ds->source_index[i] <= ds->source_index[i - 1];
      for (int j = 0; j < 784; j++) {
        double v = ds->y[i * 784 + j];
        bad += !(v >= -1 && v <= 1);
        /* u8 pixels map to the grid -1 + 2k/255. */
        double k = (v + 1) * 255 / 2;
        bad += fabs(k - round(k)) > 1e-9;
      }
      distinct += ds->labels[i] == 3;
    }
    ASSERT_INT_EQ(bad, 0);
    ASSERT_TRUE(distinct > 400 && distinct < 600);
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  dir = sgm_test_tmpdir("data_preprocess");
  test_class_filter();
  test_subset();
  test_scaling();
  test_fashion();
  return sgm_test_finish();
}
