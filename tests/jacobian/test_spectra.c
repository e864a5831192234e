/*
 * The serial Jacobian analysis (jacobian.h) against closed forms.
 *
 * Tolerances: 1e-11 on reconstructions, orthonormality and eigen-equations
 * (LAPACK's backward error is ~d u |J|, here d <= 40 and |J| <= ~100:
 * ~1e-12), 1e-10 on |u_i . v_i| = 1 and Phi_n = 1 for symmetric J (the
 * singular vectors of a symmetric matrix with distinct |eigenvalues| are
 * its eigenvectors up to sign, to within u |J| / gap, gaps >= 0.1 here).
 * The sign convention and the named vectors are exact (copies and
 * comparisons of computed numbers).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/error.h"
#include "sgm/jacobian.h"
#include "sgm/rng.h"
#include "sgm_test.h"

static void random_matrix(int d, uint64_t seed, double *J) {
  sgm_rng_t r;
  sgm_rng_init(&r, seed, SGM_RNG_TEST, 0, 0);
  for (int i = 0; i < d * d; i++)
    J[i] = 2 * sgm_rng_uniform(&r) - 1;
}

static double dot(int d, const double *a, const double *b) {
  double s = 0;
  for (int k = 0; k < d; k++)
    s += a[k] * b[k];
  return s;
}

/* The sign convention: x's first component of largest magnitude is
 * positive. */
static void check_leading_positive(int d, const double *x, const char *what,
                                   int i) {
  int best = 0;
  for (int k = 1; k < d; k++)
    if (fabs(x[k]) > fabs(x[best]))
      best = k;
  if (!(x[best] > 0))
    SGM_TEST_FAIL("%s_%d: its largest component (%d) is %g, not positive", what,
                  i, best, x[best]);
}

/* The named vectors are the rows the header names, bit for bit, and
 * every u_i, w_i follows the sign convention. */
static void check_named(const sgm_spectra_t *s) {
  const int d = s->d;
  int most_negative = 0, most_positive = 0;
  for (int i = 0; i < d; i++) {
    check_leading_positive(d, s->u + i * d, "u", i);
    check_leading_positive(d, s->w + i * d, "w", i);
    if (s->eigen[i] < s->eigen[most_negative])
      most_negative = i;
    if (s->eigen[i] > s->eigen[most_positive])
      most_positive = i;
  }
  const double *row[SGM_NAMED_COUNT] = {
      [SGM_U_MINOR] = s->u,
      [SGM_V_MINOR] = s->v,
      [SGM_W_ZERO] = s->w,
      [SGM_U_MAJOR] = s->u + (d - 1) * d,
      [SGM_V_MAJOR] = s->v + (d - 1) * d,
      [SGM_W_MINOR] = s->w + most_negative * d,
      [SGM_W_MAJOR] = s->w + most_positive * d};
  for (int i = 0; i < SGM_NAMED_COUNT; i++) {
    if (!s->named[i]) {
      SGM_TEST_FAIL("no %s", sgm_named_vector_names[i]);
      continue;
    }
    if (memcmp(s->named[i], row[i], sizeof(double) * (size_t)d) != 0)
      SGM_TEST_FAIL("%s is not the vector it names", sgm_named_vector_names[i]);
  }
}

/* Rows of q (d x d) orthonormal. */
static void check_orthonormal(int d, const double *q, const char *what) {
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      double e = dot(d, q + i * d, q + j * d) - (i == j);
      if (fabs(e) > 1e-11)
        SGM_TEST_FAIL("%s: rows %d, %d: %.2e from orthonormal", what, i, j, e);
    }
}

static void test_general(int d) {
  double *J = malloc(sizeof *J * (size_t)(d * d));
  random_matrix(d, 3 + (uint64_t)d, J);
  sgm_spectra_t s;
  ASSERT_OK(sgm_spectra_compute(d, J, 0.1, 0.1, &s));
  ASSERT_INT_EQ(s.d, d);
  check_orthonormal(d, s.u, "u");
  check_orthonormal(d, s.v, "v");
  check_orthonormal(d, s.w, "w");
  for (int i = 1; i < d; i++) {
    ASSERT_TRUE(s.singular[i - 1] <= s.singular[i]);
    ASSERT_TRUE(fabs(s.eigen[i - 1]) <= fabs(s.eigen[i]));
  }
  /* J = sum_i u_i s_i v_i^T, and J~ w_i = lambda_i w_i. */
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) {
      double r = 0, sym = 0.5 * (J[a * d + b] + J[b * d + a]), e = 0;
      for (int i = 0; i < d; i++) {
        r += s.u[i * d + a] * s.singular[i] * s.v[i * d + b];
        e += s.w[i * d + a] * s.eigen[i] * s.w[i * d + b];
      }
      ASSERT_NEAR(r, J[a * d + b], 1e-11);
      ASSERT_NEAR(e, sym, 1e-11);
    }
  for (int i = 0; i < d; i++)
    ASSERT_NEAR(s.cosines[i], dot(d, s.u + i * d, s.v + i * d), 1e-14);
  /* Complete orthonormal sets overlap fully at n = d. */
  ASSERT_NEAR(s.overlap_uv[d - 1], 1.0, 1e-11);
  ASSERT_NEAR(s.overlap_uw[d - 1], 1.0, 1e-11);
  ASSERT_NEAR(s.overlap_vw[d - 1], 1.0, 1e-11);
  /* Phi_1^{u,v} = (u_1 . v_1)^2; Phi_n by brute force at n = d / 2. */
  ASSERT_NEAR(s.overlap_uv[0], s.cosines[0] * s.cosines[0], 1e-14);
  int n = d / 2;
  double brute = 0;
  for (int j = 0; j < n; j++)
    for (int k = 0; k < n; k++) {
      double c = dot(d, s.w + k * d, s.v + j * d);
      brute += c * c;
    }
  ASSERT_NEAR(s.overlap_vw[n - 1], brute / n, 1e-12);
  check_named(&s);
  /* The most negative and most positive eigenvalues are those of w_-, w_+
   * (J~ w = lambda w, checked above for every w_i). */
  double lo = s.eigen[0], hi = s.eigen[0];
  for (int i = 1; i < d; i++) {
    lo = s.eigen[i] < lo ? s.eigen[i] : lo;
    hi = s.eigen[i] > hi ? s.eigen[i] : hi;
  }
  ASSERT_TRUE(lo < 0 && hi > 0);
  for (int a = 0; a < d; a++) {
    double m = 0, p = 0;
    for (int b = 0; b < d; b++) {
      const double sym = 0.5 * (J[a * d + b] + J[b * d + a]);
      m += sym * s.named[SGM_W_MINOR][b];
      p += sym * s.named[SGM_W_MAJOR][b];
    }
    ASSERT_NEAR(m, lo * s.named[SGM_W_MINOR][a], 1e-11);
    ASSERT_NEAR(p, hi * s.named[SGM_W_MAJOR][a], 1e-11);
  }
  /* -J flips every pair's v (and no u) and every eigenvalue (not w): the
   * convention pins the signs, whatever LAPACK returns. */
  for (int i = 0; i < d * d; i++)
    J[i] = -J[i];
  sgm_spectra_t m;
  ASSERT_OK(sgm_spectra_compute(d, J, 0.1, 0.1, &m));
  for (int i = 0; i < d * d; i++) {
    ASSERT_NEAR(m.u[i], s.u[i], 1e-10);
    ASSERT_NEAR(m.v[i], -s.v[i], 1e-10);
    ASSERT_NEAR(m.w[i], s.w[i], 1e-10);
  }
  for (int i = 0; i < d; i++) {
    ASSERT_NEAR(m.cosines[i], -s.cosines[i], 1e-10);
    ASSERT_NEAR(m.eigen[i], -s.eigen[i], 1e-11);
  }
  check_named(&m);
  sgm_spectra_free(&m);
  sgm_spectra_free(&s);
  ASSERT_TRUE(s.u == NULL && s.d == 0);
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    ASSERT_TRUE(s.named[i] == NULL);
  free(J);
}

/* A symmetric J with distinct |eigenvalues|: u_i = +-v_i = +-w_i. */
static void test_symmetric(int d) {
  double *J = malloc(sizeof *J * (size_t)(d * d));
  double *Q = malloc(sizeof *Q * (size_t)(d * d));
  random_matrix(d, 11, Q);
  /* Gram-Schmidt: Q orthonormal rows; J = Q^T diag(lambda) Q with
   * lambda_i = (-1)^i (1 + i / 2). */
  for (int i = 0; i < d; i++) {
    for (int j = 0; j < i; j++) {
      double c = dot(d, Q + i * d, Q + j * d);
      for (int k = 0; k < d; k++)
        Q[i * d + k] -= c * Q[j * d + k];
    }
    double nrm = sqrt(dot(d, Q + i * d, Q + i * d));
    for (int k = 0; k < d; k++)
      Q[i * d + k] /= nrm;
  }
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) {
      double v = 0;
      for (int i = 0; i < d; i++)
        v += Q[i * d + a] * ((i % 2 ? -1.0 : 1.0) * (1 + 0.5 * i)) *
             Q[i * d + b];
      J[a * d + b] = v;
    }
  sgm_spectra_t s;
  ASSERT_OK(sgm_spectra_compute(d, J, 0.1, 0.1, &s));
  for (int i = 0; i < d; i++) {
    ASSERT_NEAR(fabs(s.cosines[i]), 1.0, 1e-10);
    ASSERT_NEAR(s.overlap_uv[i], 1.0, 1e-10);
    ASSERT_NEAR(s.overlap_uw[i], 1.0, 1e-10);
    ASSERT_NEAR(s.overlap_vw[i], 1.0, 1e-10);
    ASSERT_NEAR(s.singular[i], 1 + 0.5 * i, 1e-11);
    ASSERT_NEAR(s.eigen[i], (i % 2 ? -1.0 : 1.0) * (1 + 0.5 * i), 1e-11);
    /* A negative eigenvalue pairs u_i = -v_i. */
    ASSERT_TRUE((s.cosines[i] < 0) == (i % 2 == 1));
    /* With the sign convention u_i = w_i exactly up to rounding. */
    for (int k = 0; k < d; k++)
      ASSERT_NEAR(s.u[i * d + k], s.w[i * d + k], 1e-10);
  }
  check_named(&s);
  /* lambda_i = (-1)^i (1 + i / 2): the most negative is the last odd i,
   * the most positive the last even i, the smallest |lambda| i = 0. */
  const int neg = (d - 1) % 2 ? d - 1 : d - 2,
            pos = (d - 1) % 2 ? d - 2 : d - 1;
  for (int k = 0; k < d; k++) {
    ASSERT_NEAR(s.named[SGM_W_MINOR][k], s.w[neg * d + k], 0);
    ASSERT_NEAR(s.named[SGM_W_MAJOR][k], s.w[pos * d + k], 0);
    ASSERT_NEAR(s.named[SGM_W_ZERO][k], s.u[k], 1e-10);
    ASSERT_NEAR(s.named[SGM_V_MAJOR][k],
                ((d - 1) % 2 ? -1 : 1) * s.named[SGM_U_MAJOR][k], 1e-10);
  }
  sgm_spectra_free(&s);
  free(J);
  free(Q);
}

/*
 * The empirical score's Jacobian near a k-dimensional spread of data:
 * J = c P_k - I / sigma^2 (P_k the projector on the first k axes), with
 * sigma^2 = 0.01 and c = 99: singular values 1 on the subspace (1/s = 1
 * >= (1 + kappa) sigma^2) and 100 off it (1/s = 0.01 < 0.011): local
 * dimension k.
 */
static void test_local_dimension(void) {
  const int d = 20, k = 5;
  double J[400] = {0};
  for (int i = 0; i < d; i++)
    J[i * d + i] = (i < k ? 99.0 : 0.0) - 100.0;
  sgm_spectra_t s;
  ASSERT_OK(sgm_spectra_compute(d, J, 0.01, 0.1, &s));
  ASSERT_INT_EQ(s.local_dimension, k);
  for (int i = 0; i < d; i++)
    ASSERT_NEAR(s.singular[i], i < k ? 1.0 : 100.0, 1e-12);
  sgm_spectra_free(&s);
  /* kappa large enough to drop the subspace too: 1 < (1 + 200) 0.01. */
  ASSERT_OK(sgm_spectra_compute(d, J, 0.01, 200.0, &s));
  ASSERT_INT_EQ(s.local_dimension, 0);
  sgm_spectra_free(&s);
}

static void test_bad_input(void) {
  double J[4] = {1, 2, NAN, 4};
  sgm_spectra_t s;
  ASSERT_INT_EQ(sgm_spectra_compute(2, J, 0.1, 0.1, &s), SGM_ERR_INPUT);
  ASSERT_TRUE(s.u == NULL);
  double one = -3.0;
  ASSERT_OK(sgm_spectra_compute(1, &one, 1.0, 0.1, &s));
  ASSERT_NEAR(s.singular[0], 3.0, 0);
  ASSERT_NEAR(s.eigen[0], -3.0, 0);
  ASSERT_NEAR(s.cosines[0], -1.0, 1e-15);
  /* The signs: u = w = 1 (positive), v = -1 (u s v = -3). */
  ASSERT_NEAR(s.named[SGM_U_MINOR][0], 1.0, 0);
  ASSERT_NEAR(s.named[SGM_U_MAJOR][0], 1.0, 0);
  ASSERT_NEAR(s.named[SGM_V_MINOR][0], -1.0, 0);
  ASSERT_NEAR(s.named[SGM_V_MAJOR][0], -1.0, 0);
  ASSERT_NEAR(s.named[SGM_W_ZERO][0], 1.0, 0);
  ASSERT_NEAR(s.named[SGM_W_MINOR][0], 1.0, 0);
  ASSERT_NEAR(s.named[SGM_W_MAJOR][0], 1.0, 0);
  sgm_spectra_free(&s);
}

/* A 2 x 2 case by hand: J = [[0, 2], [-1, 0]] has singular values 1 and
 * 2 with u_- = (0, 1), v_- = (-1, 0) and u_+ = (1, 0), v_+ = (0, 1) after
 * the sign convention (LAPACK may return either sign of each pair).
 * J~ = [[0, 1/2], [1/2, 0]] has eigenvalues -1/2 and 1/2: equal
 * magnitudes, which the stable order keeps ascending.  (Its eigenvectors
 * have components of equal magnitude, a tie the convention breaks on the
 * last bit: not checked here.) */
static void test_signs_by_hand(void) {
  const double J[4] = {0, 2, -1, 0};
  sgm_spectra_t s;
  ASSERT_OK(sgm_spectra_compute(2, J, 0.1, 0.1, &s));
  ASSERT_NEAR(s.singular[0], 1.0, 1e-15);
  ASSERT_NEAR(s.singular[1], 2.0, 1e-15);
  const double expect[4][2] = {{0, 1}, {-1, 0}, {1, 0}, {0, 1}};
  const int which[4] = {SGM_U_MINOR, SGM_V_MINOR, SGM_U_MAJOR, SGM_V_MAJOR};
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 2; k++)
      if (!(fabs(s.named[which[i]][k] - expect[i][k]) <= 1e-15))
        SGM_TEST_FAIL("%s[%d] = %.17g, expected %.17g",
                      sgm_named_vector_names[which[i]], k, s.named[which[i]][k],
                      expect[i][k]);
  ASSERT_NEAR(s.eigen[0], -0.5, 1e-15);
  ASSERT_NEAR(s.eigen[1], 0.5, 1e-15);
  ASSERT_NEAR(s.cosines[0], 0.0, 1e-15);
  ASSERT_NEAR(s.cosines[1], 0.0, 1e-15);
  sgm_spectra_free(&s);
}

static void test_names_and_info(void) {
  static const char *const names[SGM_NAMED_COUNT] = {
      "u_minor", "v_minor", "w_zero", "u_major",
      "v_major", "w_minor", "w_major"};
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    ASSERT_STR_EQ(sgm_named_vector_names[i], names[i]);
  ASSERT_INT_EQ(sgm_spectra_check_info("dgesvd", 0), 0);
  ASSERT_FAILS(sgm_spectra_check_info("dgesvd", -3), SGM_ERR_INTERNAL,
               "dgesvd: argument 3 is invalid");
  ASSERT_FAILS(sgm_spectra_check_info("dsyevd", 2), SGM_ERR_NUMERIC,
               "dsyevd failed numerically (info 2");
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_general(7);
  test_general(40);
  test_symmetric(9);
  test_symmetric(30);
  test_local_dimension();
  test_bad_input();
  test_signs_by_hand();
  test_names_and_info();
  return sgm_test_finish();
}
