/*
 * The drift interface: every model against the brute-force reference, the
 * exact GMM score against finite differences of its own log density, and the
 * perturbations' defining properties.  Configurations and data sets are
 * built by hand so that only the drift module is under test.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../mixture/reference.h"
#include "sgm/drift.h"
#include "sgm/rng.h"
#include "sgm/schedule.h"
#include "sgm_test.h"

static sgm_config_t base_config(void) { return sgm_test_config(3); }

/* A whole (unsharded) data set of n random points in [-1, 1]^d. */
static sgm_dataset_t make_data(int64_t n, int d, uint64_t seed) {
  sgm_dataset_t ds;
  memset(&ds, 0, sizeof ds);
  ds.n = ds.n_local = n;
  ds.d = d;
  ds.nshards = 1;
  ds.y = malloc(sizeof(double) * (size_t)(n * d));
  ds.norm2 = malloc(sizeof(double) * (size_t)n);
  sgm_rng_t r;
  sgm_rng_init(&r, seed, SGM_RNG_TEST, 0, 0);
  for (int64_t i = 0; i < n; i++) {
    ds.norm2[i] = 0;
    for (int k = 0; k < d; k++) {
      double v = 2 * sgm_rng_uniform(&r) - 1;
      ds.y[i * d + k] = v;
      ds.norm2[i] += v * v;
    }
  }
  return ds;
}

static void free_data(sgm_dataset_t *ds) {
  free(ds->y);
  free(ds->norm2);
}

static double *points(int64_t p, int d, uint64_t seed, double scale) {
  double *x = malloc(sizeof *x * (size_t)(p * d));
  sgm_rng_normals(seed, SGM_RNG_TEST, 5, 0, p * d, x);
  for (int64_t i = 0; i < p * d; i++)
    x[i] *= scale;
  return x;
}

/* Empirical and smoothed models give the reference's numbers through the
 * drift interface, whether or not empirical outputs are requested. */
static void test_models_against_reference(void) {
  const int d = 6, p = 5;
  const int64_t n = 90;
  sgm_dataset_t ds = make_data(n, d, 1);
  double *x = points(p, d, 2, 0.8);
  sgm_schedule_t sched;
  sgm_config_t cfg = base_config();
  sgm_schedule_init(&sched, &cfg);
  const double t = 0.05, m = sgm_schedule_mean(&sched, t),
               s2 = sgm_schedule_var(&sched, t), h = 0.1;
  double *vh = calloc((size_t)n, sizeof *vh);
  for (int64_t i = 0; i < n; i++)
    vh[i] = h * h;
  for (int model = 0; model < 2; model++) {
    cfg.drift.model = model ? SGM_DRIFT_SMOOTHED : SGM_DRIFT_EMPIRICAL;
    cfg.drift.bandwidth = h;
    sgm_drift_t *dr = NULL;
    ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr));
    if (!dr)
      continue;
    double s[5 * 6], e[5 * 6], lp[5], mlp[5], den[5 * 6], alone[5 * 6];
    int64_t idx[5];
    sgm_drift_out_t out = {.drift = s,
                           .model_log_density = mlp,
                           .empirical = e,
                           .log_density = lp,
                           .denoised = den,
                           .nearest = {.index = idx}};
    ASSERT_OK(sgm_drift_eval(dr, t, p, x, &out));
    sgm_drift_out_t only = {.drift = alone};
    ASSERT_OK(sgm_drift_eval(dr, t, p, x, &only));
    for (int i = 0; i < p; i++) {
      double rs[6], rl, rd[6], ms[6], ml;
      int64_t rn;
      ref_mixture(n, d, ds.y, NULL, NULL, m, s2, x + i * d, rs, &rl, rd, &rn,
                  NULL, NULL);
      ref_mixture(n, d, ds.y, model ? vh : NULL, NULL, m, s2, x + i * d, ms,
                  &ml, NULL, NULL, NULL, NULL);
      ASSERT_TRUE(rel_err(e + i * d, rs, d) < 1e-12);
      ASSERT_TRUE(rel_err(den + i * d, rd, d) < 1e-12);
      ASSERT_NEAR(lp[i], rl, 1e-12 * fabs(rl));
      ASSERT_INT_EQ(idx[i], rn);
      ASSERT_TRUE(rel_err(s + i * d, ms, d) < 1e-12);
      ASSERT_TRUE(rel_err(alone + i * d, ms, d) < 1e-12);
      ASSERT_NEAR(mlp[i], ml, 1e-12 * fabs(ml));
    }
    sgm_drift_destroy(&dr);
    ASSERT_TRUE(dr == NULL);
  }
  free(vh);
  free(x);
  free_data(&ds);
}

/* The exact GMM score is the gradient of the GMM log density: central
 * differences with step h have error O(h^2 |f'''|) + O(eps |f| / h); with
 * h = 1e-5 both are below 1e-8 here, so 1e-6 relative is a safe bound that
 * still catches any wrong term (a missing 1/s_i^2 is an O(1) error). */
static void test_gmm_score_is_gradient(void) {
  const int d = 2, k = 3;
  double means[] = {-2, 0, 2, 0.5, 0, 3};
  double vars[] = {0.3, 1.0, 0.05};
  double weights[] = {0.5, 0.3, 0.2};
  sgm_gmm_t gmm = {k, d, means, vars, weights};
  sgm_dataset_t ds = make_data(50, d, 4);
  ds.gmm = &gmm;
  sgm_config_t cfg = base_config();
  cfg.drift.model = SGM_DRIFT_GMM;
  sgm_drift_t *dr = NULL;
  ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr));
  const double times[] = {1.0, 0.3, 0.05, 0.005};
  double *x = points(7, d, 9, 2.0);
  for (int ti = 0; ti < 4; ti++) {
    double s[7 * 2], lp[7];
    sgm_drift_out_t out = {.drift = s, .model_log_density = lp};
    ASSERT_OK(sgm_drift_eval(dr, times[ti], 7, x, &out));
    for (int i = 0; i < 7; i++) {
      double fd[2];
      for (int c = 0; c < d; c++) {
        const double h = 1e-5;
        double xp[2] = {x[i * d], x[i * d + 1]}, xm[2] = {xp[0], xp[1]};
        xp[c] += h;
        xm[c] -= h;
        double lpp, lpm;
        sgm_drift_out_t op = {.model_log_density = &lpp};
        sgm_drift_out_t om = {.model_log_density = &lpm};
        ASSERT_OK(sgm_drift_eval(dr, times[ti], 1, xp, &op));
        ASSERT_OK(sgm_drift_eval(dr, times[ti], 1, xm, &om));
        fd[c] = (lpp - lpm) / (2 * h);
      }
      double err = rel_err(s + i * d, fd, d);
      if (!(err < 1e-6))
        SGM_TEST_FAIL("gmm score vs finite differences at t = %g, point %d: "
                      "relative error %.2e",
                      times[ti], i, err);
    }
  }
  free(x);
  sgm_drift_destroy(&dr);
  free_data(&ds);
}

/* Evaluates the perturbed drift and returns e = s - grad log p^.  Asked
 * for |e| alone instead of e, the drift must come out the same, bit for
 * bit, and |e| match e's norm. */
static void perturbation(sgm_config_t *cfg, sgm_dataset_t *ds, double t, int p,
                         const double *x, double *e) {
  sgm_drift_t *dr = NULL;
  ASSERT_OK(sgm_drift_create(cfg, ds, MPI_COMM_SELF, &dr));
  if (!dr)
    return;
  const int d = ds->d;
  double *s = malloc(sizeof *s * (size_t)(p * d));
  double *s2 = malloc(sizeof *s2 * (size_t)(p * d));
  double *pv = malloc(sizeof *pv * (size_t)(p * d));
  double *norm = malloc(sizeof *norm * (size_t)p);
  sgm_drift_out_t out = {.drift = s, .empirical = e, .perturbation = pv};
  ASSERT_OK(sgm_drift_eval(dr, t, p, x, &out));
  sgm_drift_out_t alone = {.drift = s2, .perturbation_norm = norm};
  ASSERT_OK(sgm_drift_eval(dr, t, p, x, &alone));
  for (int i = 0; i < p; i++) {
    double n2 = 0;
    for (int k = 0; k < d; k++) {
      ASSERT_TRUE(s2[i * d + k] == s[i * d + k]);
      n2 += pv[i * d + k] * pv[i * d + k];
    }
    ASSERT_NEAR(norm[i], sqrt(n2), 1e-12 * (1 + sqrt(n2)));
  }
  for (int i = 0; i < p * d; i++)
    e[i] = s[i] - e[i];
  free(s);
  free(s2);
  free(pv);
  free(norm);
  sgm_drift_destroy(&dr);
}

static void test_perturbations(void) {
  const int d = 5, p = 4;
  sgm_dataset_t ds = make_data(30, d, 6);
  double *x = points(p, d, 8, 1.0);
  double e[4 * 5];
  sgm_config_t cfg = base_config();
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, &cfg);

  /* constant, ones: e = c (1, ..., 1) exactly (up to the subtraction). */
  cfg.perturb.kind = SGM_PERTURB_CONSTANT;
  cfg.perturb.magnitude = 0.5;
  perturbation(&cfg, &ds, 0.1, p, x, e);
  for (int i = 0; i < p * d; i++)
    ASSERT_NEAR(e[i], 0.5, 1e-9);

  /* constant, random: the same unit vector u for every particle. */
  cfg.perturb.direction = SGM_DIRECTION_RANDOM;
  perturbation(&cfg, &ds, 0.1, p, x, e);
  double norm = 0;
  for (int k = 0; k < d; k++)
    norm += e[k] * e[k];
  ASSERT_NEAR(sqrt(norm), 0.5, 1e-9);
  for (int i = 1; i < p; i++)
    for (int k = 0; k < d; k++)
      ASSERT_NEAR(e[i * d + k], e[k], 1e-9);

  /* time: e = c u sigma(t)^-alpha. */
  cfg.perturb.kind = SGM_PERTURB_TIME;
  cfg.perturb.direction = SGM_DIRECTION_ONES;
  cfg.perturb.alpha = 1.5;
  const double t = 0.01;
  perturbation(&cfg, &ds, t, p, x, e);
  double want = 0.5 * pow(sqrt(sgm_schedule_var(&sched, t)), -1.5);
  for (int i = 0; i < p * d; i++)
    ASSERT_REL(e[i], want, 1e-9);

  /* rotation: e = c A x, A skew-symmetric with |A| = 1, so x . e = 0,
   * |e| <= |c| |x|, and e is linear in x. */
  cfg.perturb.kind = SGM_PERTURB_ROTATION;
  cfg.perturb.rank = 3;
  cfg.perturb.magnitude = 2.0;
  perturbation(&cfg, &ds, 0.2, p, x, e);
  double e2[4 * 5], x2[4 * 5];
  for (int i = 0; i < p * d; i++)
    x2[i] = 3 * x[i];
  perturbation(&cfg, &ds, 0.2, p, x2, e2);
  for (int i = 0; i < p; i++) {
    double dot = 0, en = 0, xn = 0;
    for (int k = 0; k < d; k++) {
      dot += x[i * d + k] * e[i * d + k];
      en += e[i * d + k] * e[i * d + k];
      xn += x[i * d + k] * x[i * d + k];
      ASSERT_NEAR(e2[i * d + k], 3 * e[i * d + k], 1e-8);
    }
    ASSERT_NEAR(dot, 0, 1e-8);
    ASSERT_TRUE(sqrt(en) <= 2.0 * sqrt(xn) + 1e-9);
    ASSERT_TRUE(sqrt(en) > 1e-3);
  }

  /* A rank above d is a configuration error naming the key. */
  cfg.perturb.rank = 6;
  sgm_drift_t *dr = NULL;
  ASSERT_FAILS(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr), SGM_ERR_CONFIG,
               "[perturb] rank = 6");
  ASSERT_TRUE(dr == NULL);
  free(x);
  free_data(&ds);
}

static void test_bad_models(void) {
  sgm_dataset_t ds = make_data(10, 2, 1);
  sgm_config_t cfg = base_config();
  sgm_drift_t *dr = NULL;
  cfg.drift.model = SGM_DRIFT_GMM;
  ASSERT_FAILS(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr), SGM_ERR_CONFIG,
               "needs [data] source = gmm");
  cfg.drift.model = SGM_DRIFT_PLUGIN;
  ASSERT_FAILS(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr), SGM_ERR_CONFIG,
               "needs [drift] plugin");
  cfg.drift.plugin = "/nonexistent/plugin.so";
  ASSERT_FAILS(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr), SGM_ERR_CONFIG,
               "[drift] plugin '/nonexistent/plugin.so' cannot be loaded");
  cfg.drift.model = SGM_DRIFT_SMOOTHED;
  cfg.drift.bandwidth = 0;
  ASSERT_FAILS(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr), SGM_ERR_CONFIG,
               "bandwidth");
  ASSERT_TRUE(dr == NULL);
  free_data(&ds);
}

/* The description names the model and perturbation; the appender it is
 * built with truncates without running past its buffer. */
static void test_descriptions(void) {
  sgm_dataset_t ds = make_data(10, 3, 1);
  sgm_config_t cfg = base_config();
  cfg.drift.model = SGM_DRIFT_SMOOTHED;
  cfg.drift.bandwidth = 0.25;
  cfg.perturb.kind = SGM_PERTURB_ROTATION;
  cfg.perturb.magnitude = 2;
  cfg.perturb.rank = 2;
  sgm_drift_t *dr = NULL;
  ASSERT_OK(sgm_drift_create(&cfg, &ds, MPI_COMM_SELF, &dr));
  if (dr)
    ASSERT_STR_EQ(sgm_drift_describe(dr),
                  "smoothed (h = 0.25) + rotation (c = 2, rank 2)");
  sgm_drift_destroy(&dr);
  free_data(&ds);

  char buf[8] = "";
  size_t len = 0;
  sgm__appendf(buf, sizeof buf, &len, "%s", "abc");
  ASSERT_TRUE(len == 3);
  sgm__appendf(buf, sizeof buf, &len, "%d", 123456);
  ASSERT_STR_EQ(buf, "abc1234");
  ASSERT_TRUE(len == sizeof buf - 1);
  sgm__appendf(buf, sizeof buf, &len, "more");
  ASSERT_STR_EQ(buf, "abc1234");
  ASSERT_TRUE(len == sizeof buf - 1);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_models_against_reference();
  test_gmm_score_is_gradient();
  test_perturbations();
  test_bad_models();
  test_descriptions();
  return sgm_test_finish();
}
