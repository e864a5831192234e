/*
 * The serial analysis of one Jacobian (jacobian.h): LAPACK's dgesdd (divide and
 * conquer) for the SVD and dsyevd for the symmetric part, then the orderings,
 * the sign convention, cosines, local dimension, the named vectors and the
 * overlaps Phi_n from 2-D prefix sums of the squared cross products (B^T A)^2,
 * all n at once in O(d^2) after the O(d^3) products.  The distributed analysis
 * (distributed.c) reproduces these orderings and signs exactly.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jacobian/jacobian_impl.h"
#include "sgm/error.h"
#include "sgm/jacobian.h"

void dgesdd_(const char *jobz, const int *m, const int *n, double *a,
             const int *lda, double *s, double *u, const int *ldu, double *vt,
             const int *ldvt, double *work, const int *lwork, int *iwork,
             int *info);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
             const int *lda, double *w, double *work, const int *lwork,
             int *iwork, const int *liwork, int *info);

const char *const sgm_named_vector_names[SGM_NAMED_COUNT] = {
    "u_minor", "v_minor", "w_zero", "u_major", "v_major", "w_minor", "w_major"};

int sgm_spectra_check_info(const char *routine, int info) {
  SGM_CHECK(info >= 0, SGM_ERR_INTERNAL,
            "%s: argument %d is invalid (info %d: a bug in the caller)",
            routine, -info, info);
  SGM_CHECK(info == 0, SGM_ERR_NUMERIC,
            "%s failed numerically (info %d: no convergence or a numerical "
            "breakdown)",
            routine, info);
  return 0;
}

void sgm_spectra_free(sgm_spectra_t *s) {
  if (!s)
    return;
  free(s->singular);
  free(s->eigen);
  free(s->cosines);
  free(s->overlap_uv);
  free(s->overlap_uw);
  free(s->overlap_vw);
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    free(s->named[i]);
  free(s->u);
  free(s->v);
  free(s->w);
  memset(s, 0, sizeof *s);
}

/* Phi_n^{a,b} = (1/n) sum_{j,k < n} (b_k . a_j)^2 for n = 1..d, the rows
 * of a and b being the vectors (orthonormal sets); c is d x d scratch. */
static void overlaps(int d, const double *a, const double *b, double *c,
                     double *phi) {
  /* c[k][j] = b_k . a_j */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, b, d, a, d,
              0.0, c, d);
  /* The square [0, n)^2 grows by row n-1 and column n-1 at each n. */
  double total = 0.0;
  for (int n = 1; n <= d; n++) {
    const int e = n - 1;
    for (int j = 0; j < e; j++)
      total += c[e * d + j] * c[e * d + j] + c[j * d + e] * c[j * d + e];
    total += c[e * d + e] * c[e * d + e];
    phi[e] = total / n;
  }
}

int sgm_spectra_compute(int d, const double *J, double sigma2, double kappa,
                        sgm_spectra_t *out) {
  memset(out, 0, sizeof *out);
  SGM_CHECK(d >= 1, SGM_ERR_INTERNAL, "a Jacobian of dimension %d", d);
  const size_t dd = (size_t)d * d;
  for (size_t i = 0; i < dd; i++)
    SGM_CHECK(isfinite(J[i]), SGM_ERR_INPUT,
              "the Jacobian holds %g at (%zu, %zu)", J[i], i / d, i % d);
  int err = 0, info = 0, lwork = -1, liwork = -1, iwq = 0;
  double *a = NULL, *s = NULL, *uc = NULL, *vt = NULL, *work = NULL, wq = 0;
  int *iwork = NULL, *idx = NULL;
  out->d = d;
  SGM_CALL_GOTO(SGM_MALLOC(out->singular, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->eigen, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->cosines, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->overlap_uv, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->overlap_uw, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->overlap_vw, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->u, dd), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->v, dd), fail);
  SGM_CALL_GOTO(SGM_MALLOC(out->w, dd), fail);
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    SGM_CALL_GOTO(SGM_MALLOC(out->named[i], (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(a, dd), fail);
  SGM_CALL_GOTO(SGM_MALLOC(s, (size_t)d), fail);
  SGM_CALL_GOTO(SGM_MALLOC(uc, dd), fail);
  SGM_CALL_GOTO(SGM_MALLOC(vt, dd), fail);
  SGM_CALL_GOTO(SGM_MALLOC(idx, (size_t)d), fail);

  /* SVD.  A row-major J is the column-major J^T = U_L S V_L^T, so that
   * J = V_L S U_L^T: J's u_i are the columns of V_L (the rows of LAPACK's
   * VT) and its v_i the columns of LAPACK's U. */
  memcpy(a, J, dd * sizeof *a);
  SGM_CALL_GOTO(SGM_MALLOC(iwork, (size_t)8 * d), fail);
  dgesdd_("A", &d, &d, a, &d, s, uc, &d, vt, &d, &wq, &lwork, iwork, &info);
  lwork = (int)wq;
  SGM_CALL_GOTO(SGM_MALLOC(work, (size_t)lwork), fail);
  dgesdd_("A", &d, &d, a, &d, s, uc, &d, vt, &d, work, &lwork, iwork, &info);
  SGM_CALL_GOTO(sgm_spectra_check_info("dgesdd", info), fail);
  free(iwork);
  iwork = NULL;
  /* Column i of uc is uc[i d + k], row i of vt is vt[i + k d]; LAPACK
   * orders s descending, ours ascend. */
  for (int i = 0; i < d; i++) {
    const int src = d - 1 - i;
    out->singular[i] = s[src];
    for (int k = 0; k < d; k++) {
      out->v[i * d + k] = uc[src * d + k];
      out->u[i * d + k] = vt[src + k * d];
    }
    /* The pair flips together: u_i s_i v_i^T and the cosine are kept. */
    const double sign = sgm__leading_sign(d, out->u + (size_t)i * d);
    sgm__scale(d, out->u + (size_t)i * d, sign);
    sgm__scale(d, out->v + (size_t)i * d, sign);
  }
  for (int i = 0; i < d; i++)
    out->cosines[i] = cblas_ddot(d, out->u + i * d, 1, out->v + i * d, 1);
  out->local_dimension = 0;
  for (int i = 0; i < d; i++)
    out->local_dimension += out->singular[i] == 0.0 ||
                            1.0 / out->singular[i] >= (1.0 + kappa) * sigma2;

  /* Eigen-decomposition of the symmetric part (symmetric: layout free). */
  for (int i = 0; i < d; i++)
    for (int k = 0; k < d; k++)
      a[i * d + k] = 0.5 * (J[i * d + k] + J[k * d + i]);
  free(work);
  work = NULL;
  lwork = liwork = -1;
  dsyevd_("V", "L", &d, a, &d, s, &wq, &lwork, &iwq, &liwork, &info);
  lwork = (int)wq;
  liwork = iwq;
  SGM_CALL_GOTO(SGM_MALLOC(work, (size_t)lwork), fail);
  SGM_CALL_GOTO(SGM_MALLOC(iwork, (size_t)liwork), fail);
  dsyevd_("V", "L", &d, a, &d, s, work, &lwork, iwork, &liwork, &info);
  SGM_CALL_GOTO(sgm_spectra_check_info("dsyevd", info), fail);
  /* Column i of the column-major a is the eigenvector of s[i] (ascending). */
  sgm__order_by_magnitude(d, s, idx);
  int most_negative = 0, most_positive = 0;
  for (int i = 0; i < d; i++) {
    double *wi = out->w + (size_t)i * d;
    out->eigen[i] = s[idx[i]];
    memcpy(wi, a + (size_t)idx[i] * d, (size_t)d * sizeof *a);
    sgm__scale(d, wi, sgm__leading_sign(d, wi));
    if (idx[i] == 0)
      most_negative = i;
    if (idx[i] == d - 1)
      most_positive = i;
  }

  const double *named_src[SGM_NAMED_COUNT] = {
      [SGM_U_MINOR] = out->u,
      [SGM_V_MINOR] = out->v,
      [SGM_W_ZERO] = out->w,
      [SGM_U_MAJOR] = out->u + (size_t)(d - 1) * d,
      [SGM_V_MAJOR] = out->v + (size_t)(d - 1) * d,
      [SGM_W_MINOR] = out->w + (size_t)most_negative * d,
      [SGM_W_MAJOR] = out->w + (size_t)most_positive * d};
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    memcpy(out->named[i], named_src[i], (size_t)d * sizeof *a);

  overlaps(d, out->u, out->v, a, out->overlap_uv);
  overlaps(d, out->u, out->w, a, out->overlap_uw);
  overlaps(d, out->v, out->w, a, out->overlap_vw);
  goto done;
fail:
  sgm_spectra_free(out);
done:
  free(a);
  free(s);
  free(uc);
  free(vt);
  free(work);
  free(iwork);
  free(idx);
  return err;
}
