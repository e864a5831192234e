/*
 * The multi-stage steps of the sampler module against hand-written
 * references, with a closed-form drift: the score of one training point y,
 * s(x, t) = (m y - x) / sigma^2, evaluated by the test's own callback.
 *
 * - pc: the predictor moves the particles first and the corrector then
 *   evaluates the drift at t_{k+1} on the predicted state, corrector_steps
 *   times; the state after each step equals a reference that predicts and
 *   then corrects (score_sde's formulas, re-derived here), and differs from
 *   one that corrects before it predicts (score_sde's order).
 * - heun: one further evaluation per step, at t_{k+1}.
 * - rk45: the step happens in sgm_sampler_finish_step only.
 * Tolerance 1e-13 relative: the same operations in the same order up to
 * the association of a few products.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/drift.h"
#include "sgm/rng.h"
#include "sgm/sampler.h"
#include "sgm/schedule.h"
#include "sgm_test.h"

enum { D = 3, P = 4, STEPS = 5, MAXCALLS = 64 };
static const double Y0[D] = {0.5, -1.0, 2.0};

struct calls {
  sgm_schedule_t sched;
  int n;
  double t[MAXCALLS];
  double first_x[MAXCALLS]; /* x[0] of each call */
};

static void score(const sgm_schedule_t *sc, double t, int64_t n,
                  const double *x, double *s) {
  const double m = sgm_schedule_mean(sc, t), v = sgm_schedule_var(sc, t);
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < D; j++)
      s[i * D + j] = (m * Y0[j] - x[i * D + j]) / v;
}

static int callback(void *ctx, double t, int64_t n, const double *x,
                    double *s) {
  struct calls *c = ctx;
  if (c->n < MAXCALLS) {
    c->t[c->n] = t;
    c->first_x[c->n] = x[0];
  }
  c->n++;
  score(&c->sched, t, n, x, s);
  return 0;
}

static sgm_config_t config(enum sgm_method method) {
  sgm_config_t c = sgm_test_config(7);
  c.sampler.method = method;
  c.sampler.grid = SGM_GRID_UNIFORM;
  c.sampler.steps = STEPS;
  c.sampler.particles = P;
  c.sampler.prior = SGM_PRIOR_GAUSSIAN;
  static double zero = 0.0;
  c.sampler.prior_value = (struct sgm_real_list){1, &zero};
  c.sampler.solver = SGM_SOLVER_HEUN;
  c.sampler.rtol = c.sampler.atol = 1e-6;
  c.sampler.predictor = SGM_PREDICTOR_REVERSE_DIFFUSION;
  c.sampler.corrector = SGM_CORRECTOR_LANGEVIN;
  c.sampler.snr = 0.3;
  c.sampler.corrector_steps = 2;
  return c;
}

static sgm_dataset_t one_point(void) {
  sgm_dataset_t ds;
  memset(&ds, 0, sizeof ds);
  ds.n = ds.n_local = 1;
  ds.d = D;
  ds.nshards = 1;
  ds.y = malloc(sizeof(double) * D);
  ds.norm2 = malloc(sizeof(double));
  memcpy(ds.y, Y0, sizeof Y0);
  ds.norm2[0] = 0.5 * 0.5 + 1.0 + 4.0;
  return ds;
}

static double norm(const double *v) {
  double a = 0;
  for (int j = 0; j < D; j++)
    a += v[j] * v[j];
  return sqrt(a);
}

/* One langevin correction of every particle at time tc (alpha from the
 * step t -> tn), normals of counter c: score_sde's update with the
 * ensemble's mean norms. */
static void correct_ref(const sgm_schedule_t *sc, double t, double tn,
                        double tc, uint64_t c, double snr, double *x) {
  double s[P * D], z[P * D], sn = 0, zn = 0, r, q;
  score(sc, tc, P, x, s);
  for (int i = 0; i < P; i++) {
    sgm_rng_normals(7, SGM_RNG_CORRECTOR, (uint64_t)i, c, D, z + i * D);
    sn += norm(s + i * D);
    zn += norm(z + i * D);
  }
  sgm_schedule_transition(sc, tn, t, &r, &q);
  const double eps = 2 * r * r * (snr * zn / sn) * (snr * zn / sn);
  for (int k = 0; k < P * D; k++)
    x[k] += eps * s[k] + sqrt(2 * eps) * z[k];
}

/* Reverse-diffusion prediction from t to tn, normals of step k. */
static void predict_ref(const sgm_schedule_t *sc, double t, double tn,
                        int64_t k, double *x) {
  double s[P * D], z[D], r, q;
  score(sc, t, P, x, s);
  sgm_schedule_transition(sc, tn, t, &r, &q);
  for (int i = 0; i < P; i++) {
    sgm_rng_normals(7, SGM_RNG_NOISE, (uint64_t)i, (uint64_t)k, D, z);
    for (int j = 0; j < D; j++)
      x[i * D + j] = (2 - r) * x[i * D + j] + q * s[i * D + j] + sqrt(q) * z[j];
  }
}

static double rel_diff(const double *a, const double *b, int n) {
  double worst = 0, scale = 0;
  for (int i = 0; i < n; i++) {
    worst = fmax(worst, fabs(a[i] - b[i]));
    scale = fmax(scale, fabs(b[i]));
  }
  return worst / scale;
}

/* A sampler of cfg over the one-point data set, and the callback's record. */
struct fixture {
  sgm_dataset_t ds;
  sgm_drift_t *dr;
  sgm_sampler_t *s;
  struct calls c;
  sgm_sampler_drift_t fn;
};

static void fixture_close(struct fixture *f) {
  sgm_sampler_destroy(&f->s);
  sgm_drift_destroy(&f->dr);
  free(f->ds.y);
  free(f->ds.norm2);
}

/* False (with the set-up closed again) when a create failed: the test's
 * assertions have counted it. */
static bool fixture_open(struct fixture *f, const sgm_config_t *cfg) {
  memset(f, 0, sizeof *f);
  f->ds = one_point();
  ASSERT_OK(sgm_drift_create(cfg, &f->ds, MPI_COMM_SELF, &f->dr));
  ASSERT_OK(sgm_sampler_create(cfg, f->dr, &f->s));
  sgm_schedule_init(&f->c.sched, cfg);
  f->fn = (sgm_sampler_drift_t){callback, &f->c, MPI_COMM_SELF};
  if (!f->s)
    fixture_close(f);
  return f->s != NULL;
}

static void test_pc_order(void) {
  const sgm_config_t cfg = config(SGM_METHOD_PC);
  struct fixture f;
  if (!fixture_open(&f, &cfg))
    return;
  sgm_sampler_t *s = f.s;
  struct calls *c = &f.c;
  const double *t = sgm_sampler_times(s);
  double y[P * D], ours[P * D], theirs[P * D], drift[P * D];
  sgm_rng_normals(7, SGM_RNG_TEST, 1, 0, P * D, y);
  memcpy(ours, y, sizeof y);
  memcpy(theirs, y, sizeof y);
  for (int64_t k = 0; k < STEPS; k++) {
    score(&c->sched, t[k], P, y, drift);
    sgm_drift_out_t at = {.drift = drift};
    c->n = 0;
    ASSERT_OK(sgm_sampler_step(s, k, 0, P, y, &at, &f.fn));
    ASSERT_INT_EQ(c->n, 0); /* the predictor uses the caller's drift */
    double predicted = y[0];
    ASSERT_OK(sgm_sampler_finish_step(s, k, 0, P, y, &f.fn));
    ASSERT_INT_EQ(c->n, 2);
    for (int j = 0; j < 2 && j < c->n; j++)
      ASSERT_TRUE(c->t[j] == t[k + 1]);
    ASSERT_TRUE(c->first_x[0] == predicted);
    /* Predict, then correct at t_{k+1} (sgmrun). */
    predict_ref(&c->sched, t[k], t[k + 1], k, ours);
    for (int j = 0; j < 2; j++)
      correct_ref(&c->sched, t[k], t[k + 1], t[k + 1], (uint64_t)(2 * k + j),
                  0.3, ours);
    /* Correct at t_k, then predict (score_sde's pc_sampler). */
    for (int j = 0; j < 2; j++)
      correct_ref(&c->sched, t[k], t[k + 1], t[k], (uint64_t)(2 * k + j), 0.3,
                  theirs);
    predict_ref(&c->sched, t[k], t[k + 1], k, theirs);
    const double e = rel_diff(y, ours, P * D);
    if (!(e <= 1e-13))
      SGM_TEST_FAIL("pc step %lld: %.3g from predict-then-correct",
                    (long long)k, e);
  }
  /* The slice's drift and normals, and one double for the mean norms. */
  ASSERT_TRUE(sgm_sampler_state_bytes(s) == (2 * P * D + 1) * sizeof(double));
  /* The order matters: the references part (so the check above can fail). */
  ASSERT_TRUE(rel_diff(theirs, ours, P * D) > 1e-6);
  fixture_close(&f);
}

static void test_heun_and_rk45_calls(void) {
  for (int solver = 0; solver < 2; solver++) {
    sgm_config_t cfg = config(SGM_METHOD_ODE);
    cfg.sampler.solver = solver ? SGM_SOLVER_RK45 : SGM_SOLVER_HEUN;
    struct fixture f;
    if (!fixture_open(&f, &cfg))
      continue;
    sgm_sampler_t *s = f.s;
    struct calls *c = &f.c;
    const double *t = sgm_sampler_times(s);
    double y[P * D], drift[P * D];
    sgm_rng_normals(7, SGM_RNG_TEST, 2, 0, P * D, y);
    score(&c->sched, t[0], P, y, drift);
    sgm_drift_out_t at = {.drift = drift};
    ASSERT_TRUE(sgm_sampler_state_bytes(s) == 0); /* grown at the first step */
    ASSERT_OK(sgm_sampler_step(s, 0, 0, P, y, &at, &f.fn));
    if (solver == 0) {
      ASSERT_INT_EQ(c->n, 1);
      ASSERT_TRUE(c->t[0] == t[1]);
    } else {
      ASSERT_INT_EQ(c->n, 0);
    }
    const int before = c->n;
    ASSERT_OK(sgm_sampler_finish_step(s, 0, 0, P, y, &f.fn));
    if (solver == 0)
      ASSERT_INT_EQ(c->n, before);
    else
      ASSERT_TRUE(c->n >= 6); /* at least one Fehlberg step */
    for (int j = 0; j < c->n && j < MAXCALLS; j++)
      ASSERT_TRUE(c->t[j] >= t[1] && c->t[j] <= t[0]);
    /* heun: F(t_k), the Euler predictor and its drift; rk45: GSL's 12
     * vectors. */
    ASSERT_TRUE(sgm_sampler_state_bytes(s) ==
                (size_t)(solver ? 12 : 3) * P * D * sizeof(double));
    fixture_close(&f);
  }
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_pc_order();
  test_heun_and_rk45_calls();
  return sgm_test_finish();
}
