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
 * Three layers:
 * - the serial analysis of a whole J (LAPACK dgesdd and dsyevd), the
 *   reference the distributed one is checked against;
 * - the distributed analysis of a J held block-cyclically on a BLACS grid
 *   (ScaLAPACK PDGESVD, PDSYEVD, PDGEMM);
 * - the analysis of a drift on the ranks of a grid row: J assembled from
 *   the training shards (analytic for the mixture drifts) or by central
 *   finite differences, on sub-grids that analyse several points at once.
 *
 * Signs: a singular pair (u_i, v_i) is flipped together, and w_i alone, so
 * that the vector's component of largest magnitude (the first such) is
 * positive in u_i and in w_i; the results are then deterministic and the
 * serial and distributed analyses agree vector by vector.
 */
#ifndef SGM_JACOBIAN_H
#define SGM_JACOBIAN_H

#include <mpi.h>
#include <stdint.h>

#include "sgm/config.h"
#include "sgm/drift.h"

/** The named vectors (Wenliang & Moran, Fig. 2), in this order. */
enum sgm_named_vector {
  SGM_U_MINOR, /* u_-: left singular vector of the smallest s */
  SGM_V_MINOR, /* v_-: right singular vector of the smallest s */
  SGM_W_ZERO,  /* w_0: eigenvector of the smallest |lambda| */
  SGM_U_MAJOR, /* u_+: left singular vector of the largest s */
  SGM_V_MAJOR, /* v_+ */
  SGM_W_MINOR, /* w_-: eigenvector of the most negative lambda */
  SGM_W_MAJOR, /* w_+: eigenvector of the most positive lambda */
  SGM_NAMED_COUNT
};

/** Their dataset names under /jacobian/vectors/ (INTERFACE.md). */
extern const char *const sgm_named_vector_names[SGM_NAMED_COUNT];

/** Which vectors an analysis keeps. */
enum sgm_spectra_keep {
  SGM_KEEP_NONE,  /* none */
  SGM_KEEP_NAMED, /* the seven named vectors */
  SGM_KEEP_ALL    /* the named vectors and every u_i, v_i, w_i */
};

/** The analysis of one Jacobian; every array is owned (NULL when not
 * kept or not on this rank). */
typedef struct sgm_spectra {
  int d;
  double *singular;   /* d, ascending */
  double *eigen;      /* d, eigenvalues of J~ by |lambda| ascending */
  double *cosines;    /* d: u_i . v_i */
  double *overlap_uv; /* d: Phi_n^{u,v}, n = 1..d */
  double *overlap_uw; /* d */
  double *overlap_vw; /* d */
  double *named[SGM_NAMED_COUNT]; /* d each */
  double *u, *v, *w; /* d x d each, row i the i-th vector (same order) */
  int64_t local_dimension;
} sgm_spectra_t;

/**
 * Analyses J (d x d, row-major: J[i * d + k] = d g_i / d x_k) at noise
 * variance sigma2 with the local-dimension margin kappa.  Serial.  The
 * serial analysis always keeps every vector (u, v, w and the named ones).
 * @return 0; SGM_ERR_INPUT for a non-finite J; SGM_ERR_NUMERIC when LAPACK
 *         does not converge (its info in the message); SGM_ERR_NOMEM.
 */
int sgm_spectra_compute(int d, const double *J, double sigma2, double kappa,
                        sgm_spectra_t *out);

/** Frees what an analysis allocated (and zeroes *s); NULL allowed. */
void sgm_spectra_free(sgm_spectra_t *s);

/* ---- The distributed analysis (ScaLAPACK) -------------------------------- */

/** A BLACS process grid. */
typedef struct sgm_blacs sgm_blacs_t;

/**
 * Makes a P x Q BLACS grid of the ranks of comm (which must have exactly
 * P * Q of them): rank r of comm is grid position (r / Q, r % Q).
 * Collective over comm.
 * @return 0, SGM_ERR_INTERNAL for a comm of another size, SGM_ERR_NOMEM.
 */
int sgm_blacs_create(MPI_Comm comm, int P, int Q, sgm_blacs_t **out);

/** Releases the grid; sets the handle to NULL (NULL allowed).  Collective
 * over the grid's ranks. */
void sgm_blacs_destroy(sgm_blacs_t **grid);

/** The grid's shape and this rank's position. */
void sgm_blacs_shape(const sgm_blacs_t *grid, int *P, int *Q, int *prow,
                     int *pcol);

/**
 * How a d x d matrix lies on a P x Q grid in nb x nb blocks, block-cyclically
 * (ScaLAPACK's layout): the rank at (prow, pcol) holds rows x cols entries,
 * stored column-major with leading dimension max(1, rows); its local row l
 * is global row sgm_dist_global(l, nb, prow, P), its local column c global
 * column sgm_dist_global(c, nb, pcol, Q).
 */
typedef struct sgm_dist {
  int d, nb, P, Q, prow, pcol;
  int rows, cols;
} sgm_dist_t;

/** Fills dist for the rank at (prow, pcol).  Pure arithmetic. */
void sgm_dist_init(int d, int nb, int P, int Q, int prow, int pcol,
                   sgm_dist_t *dist);

/** Global index of local index l along an axis of blocks nb over P
 * process rows (or columns) for the process at p. */
static inline int sgm_dist_global(int l, int nb, int p, int P) {
  return (l / nb) * P * nb + p * nb + l % nb;
}

/**
 * Analyses the J held block-cyclically (blocks nb) on grid: J_local is this
 * rank's part in the layout of sgm_dist_init (not modified).  Collective
 * over the grid.  On every rank of the grid: singular, eigen, cosines, the
 * overlaps and local_dimension; on the grid's rank 0 only (position 0, 0):
 * the named vectors (keep >= SGM_KEEP_NAMED) and u, v, w (SGM_KEEP_ALL).
 * Every rank of the grid returns the same status.
 * @return 0; SGM_ERR_INPUT for a non-finite J; SGM_ERR_NUMERIC when a
 *         ScaLAPACK routine reports info > 0 (routine and info in the
 *         message); SGM_ERR_INTERNAL for info < 0; SGM_ERR_NOMEM.
 */
int sgm_spectra_compute_distributed(const sgm_blacs_t *grid, int d, int nb,
                                    const double *J_local, double sigma2,
                                    double kappa, enum sgm_spectra_keep keep,
                                    sgm_spectra_t *out);

/**
 * The status of a LAPACK/ScaLAPACK routine's info: 0 for info = 0;
 * SGM_ERR_INTERNAL ("argument -info is invalid": our bug) for info < 0;
 * SGM_ERR_NUMERIC (the routine and info: a numerical failure) for info > 0.
 */
int sgm_spectra_check_info(const char *routine, int info);

/* ---- The analysis of a drift on a grid row ------------------------------- */

typedef struct sgm_jacobian sgm_jacobian_t;

/**
 * Sets up the analysis of drift over the ranks of row (the communicator
 * whose ranks hold the training shards, the drift's row): [jacobian] grid
 * P x Q sub-grids of consecutive ranks of the row (auto: see the source),
 * as many as fit, each analysing one point at a time; [jacobian] block,
 * method, kappa and save_vectors.  Collective over row.
 * @return 0; SGM_ERR_CONFIG when the grid needs more ranks than the row
 *         has, when the block exceeds d, or when method = analytic is asked
 *         of a drift without an analytic Jacobian; SGM_ERR_NOMEM.
 */
int sgm_jacobian_create(const sgm_config_t *cfg, sgm_drift_t *drift,
                        MPI_Comm row, sgm_jacobian_t **out);

/** Frees; sets the handle to NULL (NULL allowed).  Collective over row. */
void sgm_jacobian_destroy(sgm_jacobian_t **jac);

/** Points the row analyses at once (its sub-grids). */
int sgm_jacobian_parallel(const sgm_jacobian_t *jac);

/** This rank's sub-grid (0 .. parallel - 1, or -1 for a rank left over),
 * and whether it is that sub-grid's rank 0 (which receives the results). */
int sgm_jacobian_subgrid(const sgm_jacobian_t *jac, int *is_root);

/** "PxQ" of the sub-grids, for logs and provenance. */
const char *sgm_jacobian_describe(const sgm_jacobian_t *jac, char *buf,
                                  int len);

/**
 * Analyses n <= parallel points x (n x d, the same on every rank of the
 * row) at forward time t: point g on sub-grid g.  Collective over the row;
 * every rank of the row returns the same status.  The root of sub-grid
 * g < n receives point g's analysis in *out (others: zeroed).  A failure
 * names the point (labels[g], e.g. its particle index) and t.
 */
int sgm_jacobian_analyse(sgm_jacobian_t *jac, double t, int n, const double *x,
                         const int64_t *labels, sgm_spectra_t *out);

/**
 * The whole Jacobian of the drift at one point x (the same on every rank
 * of the row) by the given method, d x d row-major, on every rank of the
 * row.  For tests and small d.  Collective over row.
 */
int sgm_jacobian_matrix(sgm_jacobian_t *jac, double t, const double *x,
                        enum sgm_jacobian_method method, double *J);

#endif /* SGM_JACOBIAN_H */
