/**
 * @file jacobian.h
 * The local geometry of a score field at a point (DESIGN.md "Jacobian
 * analysis", Wenliang & Moran): from a drift's Jacobian J (d x d), its SVD
 * J = sum_i u_i s_i v_i^T with s ascending, the eigen-decomposition of
 * J~ = (J + J^T) / 2 with eigenvalues ordered by |lambda| ascending, the
 * cosines u_i . v_i, the local dimension r = #{i : 1/s_i >= (1 + kappa)
 * sigma_t^2}, and the subspace overlaps Phi_n^{a,b} = (1/n) sum_{j,k <= n}
 * (b_k . a_j)^2 for n = 1..d and (a, b) in (u, v), (u, w), (v, w).
 *
 * This is the serial analysis (LAPACK dgesvd and dsyevd), the reference
 * that the distributed one is checked against.
 */
#ifndef SGM_JACOBIAN_H
#define SGM_JACOBIAN_H

#include <stdint.h>

/** The analysis of one Jacobian; every array is owned. */
typedef struct sgm_spectra {
  int d;
  double *singular;   /* d, ascending */
  double *eigen;      /* d, eigenvalues of J~ by |lambda| ascending */
  double *cosines;    /* d: u_i . v_i */
  double *overlap_uv; /* d: Phi_n^{u,v}, n = 1..d */
  double *overlap_uw; /* d */
  double *overlap_vw; /* d */
  double *u, *v, *w;  /* d x d each, row i the i-th vector (same order) */
  int64_t local_dimension;
} sgm_spectra_t;

/**
 * Analyses J (d x d, row-major: J[i * d + k] = d g_i / d x_k) at noise
 * variance sigma2 with the local-dimension margin kappa.  Serial.
 * @return 0; SGM_ERR_INPUT for a non-finite J; SGM_ERR_NUMERIC when LAPACK
 *         does not converge (its info in the message); SGM_ERR_NOMEM.
 */
int sgm_spectra_compute(int d, const double *J, double sigma2, double kappa,
                        sgm_spectra_t *out);

/** Frees what sgm_spectra_compute allocated (and zeroes *s). */
void sgm_spectra_free(sgm_spectra_t *s);

#endif /* SGM_JACOBIAN_H */
