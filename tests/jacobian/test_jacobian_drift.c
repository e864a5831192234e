/*
 * The Jacobian analysis of a drift on the process grid (jacobian.h, last
 * part), from configurations as a user writes them, on 1-4 ranks:
 *
 * - the analytic Jacobian (assembled over the shards) against a brute-force
 *   long-double J = sum_i w_i (a_i - abar)(a_i - abar)^T - sum_i w_i/s_i^2 I
 *   over the whole data set: 1e-11 max|J| (the double sums of n <= 400
 *   positive terms and the factor's cancellation-free rows carry ~n eps);
 * - the analytic Jacobian against central finite differences of the drift
 *   (perturbations included): 1e-6 max|J| (h = 1e-4 sigma: truncation
 *   ~ (h / length scale)^2 ~ 1e-8, rounding ~ eps |g| / h ~ 1e-10);
 * - a symmetric J (the empirical score): |u_i . v_i| = 1 and Phi_n = 1 for
 *   every i and n (1e-8: vectors of distinct singular values to u |J|/gap);
 * - the rotation perturbation about a one-point data set, where J =
 *   -I/sigma^2 + c A in closed form: the k rotated directions have singular
 *   value sqrt(1/sigma^4 + c^2) and cosine -(1/sigma^2)/sqrt(1/sigma^4 + c^2),
 *   every other direction 1/sigma^2 and cosine -1 (1e-10);
 * - data on a k-dimensional subspace: the local dimension at moderate noise
 *   is k;
 * - the distributed analysis on 1x1, 1x2, 2x1 and 2x2 sub-grids equals the
 *   serial LAPACK analysis of the same J to 1e-10;
 * - bad settings: a grid larger than the world or the row, a block larger
 *   than d.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/config.h"
#include "sgm/dataset.h"
#include "sgm/drift.h"
#include "sgm/error.h"
#include "sgm/grid.h"
#include "sgm/jacobian.h"
#include "sgm/rng.h"
#include "sgm/schedule.h"
#include "sgm_test.h"

static int world_size, world_rank;

/* Five-dimensional Gaussian mixture data: full-rank, distinct spectra. */
#define GMM_DATA                                                               \
  "[data]\nsource = gmm\n"                                                     \
  "means = 0.5; -0.3; 0.2; 0.1; -0.4, -0.5; 0.4; -0.1; 0.3; 0.2, "             \
  "0.1; 0.1; 0.6; -0.5; 0.0\n"                                                 \
  "variances = 0.05, 0.08, 0.03\nn = 300\nseed = 4\n"

struct setup {
  sgm_config_t *cfg;
  sgm_dataset_info_t info;
  sgm_grid_t *grid;
  sgm_dataset_t *data, *full;
  sgm_drift_t *drift;
  sgm_jacobian_t *jac;
};

static void teardown(struct setup *s) {
  sgm_jacobian_destroy(&s->jac);
  sgm_drift_destroy(&s->drift);
  sgm_dataset_destroy(&s->data);
  sgm_dataset_destroy(&s->full);
  sgm_dataset_info_free(&s->info);
  sgm_grid_destroy(&s->grid);
  sgm_config_destroy(&s->cfg);
}

/* The configuration text, the grid, the shards, the drift and (unless
 * jacobian_status is not 0 expected) the analysis.  Returns
 * sgm_jacobian_create's status. */
static int setup(const char *text, struct setup *s) {
  memset(s, 0, sizeof *s);
  int err = sgm_config_parse_text(text, "test", &s->cfg);
  if (!err)
    err = sgm_dataset_probe(MPI_COMM_WORLD, s->cfg, &s->info);
  if (!err)
    err =
        sgm_grid_create(MPI_COMM_WORLD, s->cfg->grid.rows, s->info.n, &s->grid);
  if (!err)
    err = sgm_dataset_load(MPI_COMM_WORLD, s->cfg, &s->info, s->grid->my_col,
                           s->grid->cols, &s->data);
  if (!err)
    err = sgm_dataset_load(MPI_COMM_SELF, s->cfg, &s->info, 0, 1, &s->full);
  if (!err)
    err = sgm_drift_create(s->cfg, s->data, s->grid->row, &s->drift);
  if (err) {
    SGM_TEST_FAIL("set-up: %s", sgm_error_message());
    return -100;
  }
  return sgm_jacobian_create(s->cfg, s->drift, s->grid->row, &s->jac);
}

/* Points: training example `of` (from the whole set) moved forward to t
 * with noise from the seed: where the sampler's particles are at t. */
static void forward_point(const struct setup *s, int64_t of, double t,
                          uint64_t seed, double *x) {
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, s->cfg);
  const double m = sgm_schedule_mean(&sched, t),
               sd = sqrt(sgm_schedule_var(&sched, t));
  const int d = s->full->d;
  sgm_rng_normals(seed, SGM_RNG_TEST, (uint64_t)of, 7, d, x);
  for (int k = 0; k < d; k++)
    x[k] = m * s->full->y[of * d + k] + sd * x[k];
}

/* The base model's J at x in long double from the whole data set. */
static void reference(const struct setup *s, double t, const double *x,
                      long double *J) {
  const sgm_config_t *cfg = s->cfg;
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, cfg);
  const long double m = sgm_schedule_mean(&sched, t),
                    s2 = sgm_schedule_var(&sched, t);
  const int d = s->full->d;
  const double *mu = s->full->y;
  int64_t n = s->full->n;
  const double *var = NULL, *wt = NULL;
  long double h = 0;
  if (cfg->drift.model == SGM_DRIFT_SMOOTHED)
    h = (long double)cfg->drift.bandwidth * cfg->drift.bandwidth;
  if (cfg->drift.model == SGM_DRIFT_GMM) {
    n = s->full->gmm->k;
    mu = s->full->gmm->means;
    var = s->full->gmm->variances;
    wt = s->full->gmm->weights;
  }
  long double *logit = malloc(sizeof *logit * (size_t)n), top = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    const long double si = m * m * ((var ? var[i] : 0) + h) + s2;
    long double r2 = 0;
    for (int k = 0; k < d; k++) {
      long double e = x[k] - m * mu[i * d + k];
      r2 += e * e;
    }
    logit[i] = (wt ? logl(wt[i]) : 0) - 0.5L * r2 / si - 0.5L * d * logl(si);
    if (logit[i] > top)
      top = logit[i];
  }
  long double Z = 0, abar[64] = {0}, diag = 0;
  for (int64_t i = 0; i < n; i++)
    Z += expl(logit[i] - top);
  for (int64_t i = 0; i < n; i++) {
    const long double w = expl(logit[i] - top) / Z;
    const long double si = m * m * ((var ? var[i] : 0) + h) + s2;
    for (int k = 0; k < d; k++)
      abar[k] += w * (m * mu[i * d + k] - x[k]) / si;
    diag += w / si;
  }
  for (int k = 0; k < d * d; k++)
    J[k] = 0;
  for (int64_t i = 0; i < n; i++) {
    const long double w = expl(logit[i] - top) / Z;
    const long double si = m * m * ((var ? var[i] : 0) + h) + s2;
    long double a[64];
    for (int k = 0; k < d; k++)
      a[k] = (m * mu[i * d + k] - x[k]) / si - abar[k];
    for (int r = 0; r < d; r++)
      for (int c = 0; c < d; c++)
        J[r * d + c] += w * a[r] * a[c];
  }
  for (int k = 0; k < d; k++)
    J[k * d + k] -= diag;
  free(logit);
}

static double max_abs(int n, const double *v) {
  double big = 0;
  for (int i = 0; i < n; i++)
    big = fmax(big, fabs(v[i]));
  return big;
}

static const char *const models[] = {"empirical", "smoothed\nbandwidth = 0.2",
                                     "gmm"};

static void test_reference_and_fd(void) {
  const double times[] = {0.02, 0.1, 0.5};
  const char *const perturb[] = {"none", "rotation\nmagnitude = 2\nrank = 4",
                                 "constant\nmagnitude = 0.7",
                                 "time\nmagnitude = 0.3\nalpha = 1"};
  for (int mo = 0; mo < 3; mo++)
    for (int pe = 0; pe < 4; pe++) {
      char text[1024];
      snprintf(text, sizeof text,
               GMM_DATA "[drift]\nmodel = %s\n[perturb]\nkind = %s\n"
                        "[jacobian]\nblock = 2\ngrid = 1x1\n",
               models[mo], perturb[pe]);
      struct setup s;
      ASSERT_OK(setup(text, &s));
      if (!s.jac) {
        teardown(&s);
        continue;
      }
      const int d = s.full->d;
      double x[5], Ja[25], Jf[25], D[25];
      long double Jr[25];
      for (int ti = 0; ti < 3; ti++)
        for (int p = 0; p < 2; p++) {
          forward_point(&s, 17 * p + 3, times[ti], (uint64_t)(mo * 10 + pe), x);
          ASSERT_OK(sgm_jacobian_matrix(s.jac, times[ti], x,
                                        SGM_JACOBIAN_ANALYTIC, Ja));
          ASSERT_OK(
              sgm_jacobian_matrix(s.jac, times[ti], x, SGM_JACOBIAN_FD, Jf));
          const double scale = max_abs(d * d, Ja);
          for (int k = 0; k < d * d; k++)
            D[k] = Ja[k] - Jf[k];
          if (max_abs(d * d, D) > 1e-6 * scale)
            SGM_TEST_FAIL("%s + %s, t = %g: analytic and fd Jacobians differ "
                          "by %.2e of %.3g",
                          models[mo], perturb[pe], times[ti], max_abs(d * d, D),
                          scale);
          if (pe != 0)
            continue; /* the reference has no perturbation */
          reference(&s, times[ti], x, Jr);
          for (int k = 0; k < d * d; k++)
            D[k] = Ja[k] - (double)Jr[k];
          if (max_abs(d * d, D) > 1e-11 * scale)
            SGM_TEST_FAIL("%s, t = %g: analytic Jacobian %.2e from the "
                          "long-double reference (of %.3g)",
                          models[mo], times[ti], max_abs(d * d, D), scale);
        }
      teardown(&s);
    }
}

/* A symmetric J: every |u_i . v_i| = 1 and every Phi_n = 1. */
static void test_symmetric(void) {
  struct setup s;
  ASSERT_OK(setup(GMM_DATA "[grid]\nrows = 1\n[jacobian]\nblock = 2\n", &s));
  if (!s.jac) {
    teardown(&s);
    return;
  }
  const int d = s.full->d, par = sgm_jacobian_parallel(s.jac);
  double *x = malloc(sizeof *x * (size_t)(par * d));
  int64_t *labels = malloc(sizeof *labels * (size_t)par);
  for (int g = 0; g < par; g++) {
    forward_point(&s, 5 + g, 0.1, 1, x + g * d);
    labels[g] = g;
  }
  int root = 0;
  sgm_jacobian_subgrid(s.jac, &root);
  sgm_spectra_t out;
  ASSERT_OK(sgm_jacobian_analyse(s.jac, 0.1, par, x, labels, &out));
  if (root && out.singular) {
    for (int i = 0; i < d; i++) {
      ASSERT_NEAR(fabs(out.cosines[i]), 1.0, 1e-8);
      ASSERT_NEAR(out.overlap_uv[i], 1.0, 1e-8);
      ASSERT_NEAR(out.overlap_uw[i], 1.0, 1e-8);
      ASSERT_NEAR(out.overlap_vw[i], 1.0, 1e-8);
    }
  } else if (root) {
    SGM_TEST_FAIL("a sub-grid root received no analysis");
  }
  sgm_spectra_free(&out);
  free(x);
  free(labels);
  teardown(&s);
}

/* One training point: J = -I/sigma^2 + c A in closed form. */
static void test_rotation_closed_form(void) {
  const int ranks[] = {4, 3};
  for (int r = 0; r < 2; r++) {
    char text[512];
    snprintf(text, sizeof text,
             "[data]\nsource = subspace\ndim = 9\nintrinsic = 2\nn = 1\n"
             "[perturb]\nkind = rotation\nmagnitude = 3\nrank = %d\n"
             "[grid]\nrows = 1\n[jacobian]\nblock = 2\ngrid = 1x1\n",
             ranks[r]);
    struct setup s;
    ASSERT_OK(setup(text, &s));
    if (!s.jac) {
      teardown(&s);
      continue;
    }
    const int d = 9, rotated = ranks[r] / 2 * 2;
    const double t = 0.05, c = 3;
    sgm_schedule_t sched;
    sgm_schedule_init(&sched, s.cfg);
    const double lam = 1 / sgm_schedule_var(&sched, t);
    const double big = sqrt(lam * lam + c * c);
    double x[9];
    forward_point(&s, 0, t, 9, x);
    int root = 0;
    const int64_t label = 0;
    sgm_jacobian_subgrid(s.jac, &root);
    sgm_spectra_t out;
    ASSERT_OK(sgm_jacobian_analyse(s.jac, t, 1, x, &label, &out));
    if (root && sgm_jacobian_subgrid(s.jac, NULL) == 0) {
      for (int i = 0; i < d; i++) {
        const bool rot = i >= d - rotated;
        ASSERT_REL(out.singular[i], rot ? big : lam, 1e-10);
        ASSERT_NEAR(out.cosines[i], rot ? -lam / big : -1.0, 1e-10);
      }
      /* The symmetric part is -I/sigma^2: every eigenvalue. */
      for (int i = 0; i < d; i++)
        ASSERT_REL(out.eigen[i], -lam, 1e-10);
    }
    sgm_spectra_free(&out);
    teardown(&s);
  }
}

/* Data on a k-dimensional subspace, many points: r_t = k at moderate
 * noise (on the subspace the posterior spreads as far as the noise, so J
 * nearly vanishes there; off it J = -I/s^2 exactly). */
static void test_subspace_dimension(void) {
  struct setup s;
  ASSERT_OK(setup("[data]\nsource = subspace\ndim = 16\nintrinsic = 3\n"
                  "n = 20000\n[jacobian]\nblock = 4\n",
                  &s));
  if (!s.jac) {
    teardown(&s);
    return;
  }
  const int d = 16, par = sgm_jacobian_parallel(s.jac);
  const double t = 0.1;
  double *x = malloc(sizeof *x * (size_t)(par * d));
  int64_t *labels = malloc(sizeof *labels * (size_t)par);
  for (int round = 0; round < 2; round++) {
    for (int g = 0; g < par; g++) {
      forward_point(&s, 100 * round + 7 * g, t, 3, x + g * d);
      labels[g] = g;
    }
    int root = 0;
    sgm_jacobian_subgrid(s.jac, &root);
    sgm_spectra_t out;
    ASSERT_OK(sgm_jacobian_analyse(s.jac, t, par, x, labels, &out));
    if (root && out.local_dimension != 3)
      SGM_TEST_FAIL("subspace data: local dimension %lld at t = %g (point "
                    "%lld), 3 expected; singular values %g %g %g %g",
                    (long long)out.local_dimension, t,
                    (long long)labels[sgm_jacobian_subgrid(s.jac, NULL)],
                    out.singular[0], out.singular[1], out.singular[2],
                    out.singular[3]);
    sgm_spectra_free(&out);
  }
  free(x);
  free(labels);
  teardown(&s);
}

/* The distributed analysis equals the serial one of the same J. */
static void test_grids(void) {
  const char *const grids[] = {"1x1", "1x2", "2x1", "2x2"};
  for (int gi = 0; gi < 4; gi++) {
    const int need = gi == 0 ? 1 : gi < 3 ? 2 : 4;
    if (need > world_size)
      continue;
    for (int rot = 0; rot < 2; rot++) {
      char text[1024];
      snprintf(text, sizeof text,
               GMM_DATA "[grid]\nrows = 1\n[perturb]\nkind = %s\n"
                        "[jacobian]\nblock = 2\ngrid = %s\n",
               rot ? "rotation\nmagnitude = 1.5\nrank = 2" : "none", grids[gi]);
      struct setup s;
      ASSERT_OK(setup(text, &s));
      if (!s.jac) {
        teardown(&s);
        continue;
      }
      const int d = 5, par = sgm_jacobian_parallel(s.jac);
      ASSERT_INT_EQ(par, world_size / need);
      const double t = 0.2;
      double *x = malloc(sizeof *x * (size_t)(par * d)), J[25];
      int64_t *labels = malloc(sizeof *labels * (size_t)par);
      for (int g = 0; g < par; g++) {
        forward_point(&s, 40 + g, t, 11, x + g * d);
        labels[g] = g;
      }
      int root = 0;
      const int mine = sgm_jacobian_subgrid(s.jac, &root);
      sgm_spectra_t out, ref;
      ASSERT_OK(sgm_jacobian_analyse(s.jac, t, par, x, labels, &out));
      /* The serial reference of this rank's point (every rank of the row
       * takes part in the matrix: collective). */
      for (int g = 0; g < par; g++) {
        ASSERT_OK(
            sgm_jacobian_matrix(s.jac, t, x + g * d, SGM_JACOBIAN_ANALYTIC, J));
        if (g != mine || !root)
          continue;
        sgm_schedule_t sched;
        sgm_schedule_init(&sched, s.cfg);
        ASSERT_OK(
            sgm_spectra_compute(d, J, sgm_schedule_var(&sched, t), 0.1, &ref));
        const double scale = ref.singular[d - 1];
        for (int i = 0; i < d; i++) {
          ASSERT_NEAR(out.singular[i], ref.singular[i], 1e-10 * scale);
          ASSERT_NEAR(out.eigen[i], ref.eigen[i], 1e-10 * scale);
          ASSERT_NEAR(out.cosines[i], ref.cosines[i], 1e-10);
          ASSERT_NEAR(out.overlap_uv[i], ref.overlap_uv[i], 1e-10);
          ASSERT_NEAR(out.overlap_uw[i], ref.overlap_uw[i], 1e-10);
          ASSERT_NEAR(out.overlap_vw[i], ref.overlap_vw[i], 1e-10);
          for (int v = 0; v < SGM_NAMED_COUNT; v++)
            ASSERT_NEAR(out.named[v][i], ref.named[v][i], 1e-10);
        }
        ASSERT_INT_EQ(out.local_dimension, ref.local_dimension);
        sgm_spectra_free(&ref);
      }
      sgm_spectra_free(&out);
      free(x);
      free(labels);
      teardown(&s);
    }
  }
}

static void test_errors(void) {
  struct setup s;
  char text[1024];
  snprintf(text, sizeof text, GMM_DATA "[jacobian]\nblock = 2\ngrid = %dx2\n",
           world_size);
  ASSERT_FAILS(setup(text, &s), SGM_ERR_CONFIG, "ranks; the run has");
  ASSERT_TRUE(s.jac == NULL);
  teardown(&s);
  if (world_size >= 2) {
    /* Rows of one rank each cannot hold a 1 x 2 grid. */
    snprintf(text, sizeof text,
             GMM_DATA "[grid]\nrows = %d\n[jacobian]\nblock = 2\ngrid = 1x2\n",
             world_size);
    ASSERT_FAILS(setup(text, &s), SGM_ERR_CONFIG, "inside one row");
    teardown(&s);
  }
  ASSERT_FAILS(setup(GMM_DATA "[jacobian]\nblock = 6\n", &s), SGM_ERR_CONFIG,
               "block = 6 is larger than the dimension d = 5");
  teardown(&s);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  test_reference_and_fd();
  test_symmetric();
  test_rotation_closed_form();
  test_subspace_dimension();
  test_grids();
  test_errors();
  return sgm_test_finish();
}
