/*
 * The serial Jacobian analysis (jacobian.h) against closed forms.
 *
 * Tolerances: 1e-11 on reconstructions, orthonormality and eigen-equations
 * (LAPACK's backward error is ~d u |J|, here d <= 40 and |J| <= ~100:
 * ~1e-12), 1e-10 on |u_i . v_i| = 1 and Phi_n = 1 for symmetric J (the
 * singular vectors of a symmetric matrix with distinct |eigenvalues| are
 * its eigenvectors up to sign, to within u |J| / gap, gaps >= 0.1 here).
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
  sgm_spectra_free(&s);
  ASSERT_TRUE(s.u == NULL && s.d == 0);
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
  sgm_spectra_free(&s);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_general(7);
  test_general(40);
  test_symmetric(9);
  test_symmetric(30);
  test_local_dimension();
  test_bad_input();
  return sgm_test_finish();
}
