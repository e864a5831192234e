/*
 * An example drift plugin (sgm/plugin.h): the score of the Gaussian fitted
 * to the training set.  With the data's mean mu and covariance Sigma
 * (normalised by 1/n, over every shard of the row), the forward marginal
 * of N(mu, Sigma) at time t is N(m mu, m^2 Sigma + sigma2 I), whose score
 *
 *     s(x) = -Q diag(1 / (m^2 lambda_k + sigma2)) Q^T (x - m mu)
 *
 * needs one eigen-decomposition Sigma = Q diag(lambda) Q^T, computed once
 * at init by ScaLAPACK's PDSYEVD on a BLACS grid over the row's ranks; each
 * evaluation is then two DGEMMs.  It uses nothing of sgmrun but the ABI
 * header, and links MPI, BLAS, LAPACK and ScaLAPACK itself.
 *
 * plugin_args: `key = value` pairs separated by `;` (or empty):
 *   shrinkage = S   added to every eigenvalue (S >= 0; default 0), a ridge
 *                   Sigma + S I for data with directions of no variance;
 *   block = NB      ScaLAPACK's block size (>= 1; default 64).
 * Eigenvalues that rounding leaves slightly negative count as 0.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/plugin.h"

/* BLACS's C interface and the Fortran routines used (no header ships with
 * Debian's libscalapack-openmpi); the trailing size_t are the hidden
 * lengths of Fortran character arguments. */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow,
                     int *mycol);
void Cblacs_gridexit(int context);
void Cblacs_freebuff(int context, int wait);
void descinit_(int *desc, const int *m, const int *n, const int *mb,
               const int *nb, const int *irsrc, const int *icsrc,
               const int *ictxt, const int *lld, int *info);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
              const int *ia, const int *ja, const int *desca, double *w,
              double *z, const int *iz, const int *jz, const int *descz,
              double *work, const int *lwork, int *iwork, const int *liwork,
              int *info, size_t jobz_len, size_t uplo_len);
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda,
            const double *beta, double *c, const int *ldc, size_t uplo_len,
            size_t trans_len);
void dgemm_(const char *transa, const char *transb, const int *m, const int *n,
            const int *k, const double *alpha, const double *a, const int *lda,
            const double *b, const int *ldb, const double *beta, double *c,
            const int *ldc, size_t transa_len, size_t transb_len);

struct fit {
  int d;
  double *mu;     /* d */
  double *lambda; /* d, clamped at 0, shrinkage added */
  double *q;      /* d x d, row-major: q[i d + k] = component i of vector k */
  double *work;   /* 2 x capacity x d: x - m mu, then its coordinates */
  int64_t capacity;
};

/* A message into the ABI's buffer; returns 1 (a failure status). */
static int fail(char *message, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *message, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, size, fmt, ap);
  va_end(ap);
  return 1;
}

/* Whether any rank of comm failed (status != 0): the plugin's own
 * agreement before each collective, since its failures can be local. */
static int any_failed(MPI_Comm comm, int status) {
  int mine = status != 0, any = 0;
  MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm);
  return any;
}

static void fit_free(struct fit *f) {
  if (!f)
    return;
  free(f->mu);
  free(f->lambda);
  free(f->q);
  free(f->work);
  free(f);
}

/* ---- plugin_args ------------------------------------------------------- */

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  char *end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1]))
    *--end = '\0';
  return s;
}

/* Parses args into *shrinkage and *block.  The same on every rank. */
static int parse_args(const char *args, double *shrinkage, int *block,
                      char *message, size_t size) {
  char *copy = malloc(strlen(args) + 1);
  if (!copy)
    return fail(message, size, "out of memory");
  strcpy(copy, args);
  int rc = 0;
  for (char *item = copy, *next = NULL; item && !rc; item = next) {
    next = strchr(item, ';');
    if (next)
      *next++ = '\0';
    char *eq = strchr(item, '=');
    if (!eq) {
      if (trim(item)[0])
        rc = fail(message, size,
                  "plugin_args: '%s' is not key = value (known keys: "
                  "shrinkage, block)",
                  trim(item));
      continue;
    }
    *eq = '\0';
    char *key = trim(item), *value = trim(eq + 1), *end = NULL;
    errno = 0;
    if (strcmp(key, "shrinkage") == 0) {
      double v = strtod(value, &end);
      if (!value[0] || *end || errno || !(v >= 0) || !isfinite(v))
        rc = fail(message, size,
                  "plugin_args: shrinkage = '%s' is not a real >= 0", value);
      else
        *shrinkage = v;
    } else if (strcmp(key, "block") == 0) {
      long v = strtol(value, &end, 10);
      if (!value[0] || *end || errno || v < 1 || v > 4096)
        rc = fail(message, size,
                  "plugin_args: block = '%s' is not an integer in [1, 4096]",
                  value);
      else
        *block = (int)v;
    } else {
      rc = fail(message, size,
                "plugin_args: unknown key '%s' (known: shrinkage, block)", key);
    }
  }
  free(copy);
  return rc;
}

/* ---- The fit ----------------------------------------------------------- */

/* ScaLAPACK's NUMROC with the first block on process 0. */
static int numroc(int n, int nb, int p, int P) {
  const int blocks = n / nb, extra = blocks % P;
  int count = (blocks / P) * nb;
  if (p < extra)
    count += nb;
  else if (p == extra)
    count += n % nb;
  return count;
}

/* Global index of local index l on process p of P (blocks of nb). */
static int global_index(int l, int nb, int p, int P) {
  return (l / nb) * nb * P + p * nb + l % nb;
}

/* The mean (on every rank, the same bits: reduced onto rank 0 and
 * broadcast) and the lower triangle of Sigma (column-major d x d, summed
 * over the row).  Collective. */
static int moments(const sgm_plugin_info_t *info, double *mu, double *sigma,
                   char *message, size_t size) {
  const int d = info->d;
  const int64_t nl = info->n_local;
  double *centred = nl > 0 ? malloc(sizeof(double) * (size_t)(nl * d)) : NULL;
  int rank = 0;
  MPI_Comm_rank(info->row, &rank);
  if (any_failed(info->row, nl > 0 && !centred)) {
    free(centred);
    return fail(message, size, "out of memory for %lld x %d centred data",
                (long long)nl, d);
  }
  for (int j = 0; j < d; j++)
    mu[j] = 0.0;
  for (int64_t i = 0; i < nl; i++)
    for (int j = 0; j < d; j++)
      mu[j] += info->y[i * d + j];
  MPI_Reduce(rank == 0 ? MPI_IN_PLACE : mu, mu, d, MPI_DOUBLE, MPI_SUM, 0,
             info->row);
  MPI_Bcast(mu, d, MPI_DOUBLE, 0, info->row);
  for (int j = 0; j < d; j++)
    mu[j] /= (double)info->n;
  for (int64_t i = 0; i < nl; i++)
    for (int j = 0; j < d; j++)
      centred[i * d + j] = info->y[i * d + j] - mu[j];
  /* Column-major, centred is C^T (d x nl): Sigma = C^T C / n. */
  const int k = (int)nl;
  const double alpha = 1.0 / (double)info->n, beta = 0.0, dummy = 0.0;
  dsyrk_("L", "N", &d, &k, &alpha, centred ? centred : &dummy, &d, &beta, sigma,
         &d, 1, 1);
  free(centred);
  const size_t total = (size_t)d * (size_t)d, chunk = (size_t)1 << 27;
  for (size_t i0 = 0; i0 < total; i0 += chunk)
    MPI_Allreduce(MPI_IN_PLACE, sigma + i0,
                  (int)(total - i0 < chunk ? total - i0 : chunk), MPI_DOUBLE,
                  MPI_SUM, info->row);
  return 0;
}

/* The most square P x Q = size grid, P <= Q. */
static void grid_shape(int size, int *P, int *Q) {
  int p = 1;
  for (int c = 1; (long)c * c <= size; c++)
    if (size % c == 0)
      p = c;
  *P = p;
  *Q = size / p;
}

/*
 * What PDSYEVD's workspace query leaves out in ScaLAPACK 2.2.1 on some
 * ranks (PDORMTR's and PDLASRT's needs, and PDLAED1's layout on a rank
 * without local rows; see sgmrun's src/jacobian/distributed.c, which
 * found them): O(d nb + nb^2) doubles more, as that file adds.
 */
static int syevd_slack(int d, int nb, int P, int Q, int prow, int pcol, int np,
                       int nq) {
  const int iroffc = 1 % nb, icrow = (1 / nb) % P;
  const int mpc0 = numroc(d - 1 + iroffc, nb, (P + prow - icrow) % P, P);
  const int nqc0 = numroc(d, nb, pcol, Q);
  const int a = nb * (nb - 1) / 2, b = (mpc0 + nqc0) * nb;
  return (a > b ? a : b) + nb * nb + 2 * nq + np * nb;
}

/* Sigma (column-major, lower triangle valid, the same on every rank) =
 * Q diag(lambda) Q^T by PDSYEVD on a BLACS grid over the row; lambda and
 * f->q end up identical on every rank.  Collective. */
static int decompose(MPI_Comm row, int d, int nb, const double *sigma,
                     struct fit *f, char *message, size_t size) {
  int ranks = 1, rank = 0, P, Q;
  MPI_Comm_size(row, &ranks);
  MPI_Comm_rank(row, &rank);
  grid_shape(ranks, &P, &Q);
  if (nb > d)
    nb = d;
  const int handle = Csys2blacs_handle(row);
  int context = handle, nprow = 0, npcol = 0, prow = -1, pcol = -1;
  Cblacs_gridinit(&context, "Row", P, Q);
  Cblacs_gridinfo(context, &nprow, &npcol, &prow, &pcol);
  const int np = numroc(d, nb, prow, P), nq = numroc(d, nb, pcol, Q);
  const int lld = np > 1 ? np : 1, zero = 0, one = 1, query = -1;
  const size_t local = (size_t)lld * (size_t)(nq > 0 ? nq : 1);
  int desc[9], info = 0, rc = 0, liwork = 0, iwq = 0;
  double wq = 0.0, *work = NULL;
  int *iwork = NULL;
  double *a = malloc(sizeof(double) * local);
  double *z = malloc(sizeof(double) * local);
  if (any_failed(row, !a || !z)) {
    rc = fail(message, size, "out of memory for a %d x %d block of Sigma", np,
              nq);
    goto done;
  }
  for (int lj = 0; lj < nq; lj++) {
    const int gj = global_index(lj, nb, pcol, Q);
    for (int li = 0; li < np; li++) {
      const int gi = global_index(li, nb, prow, P);
      a[li + (size_t)lj * lld] =
          gi >= gj ? sigma[gi + (size_t)gj * d] : sigma[gj + (size_t)gi * d];
    }
  }
  descinit_(desc, &d, &d, &nb, &nb, &zero, &zero, &context, &lld, &info);
  if (any_failed(row, info)) {
    rc = fail(message, size, "descinit failed (info %d)", info);
    goto done;
  }
  pdsyevd_("V", "L", &d, a, &one, &one, desc, f->lambda, z, &one, &one, desc,
           &wq, &query, &iwq, &query, &info, 1, 1);
  const int lwork = (int)wq + 1 + syevd_slack(d, nb, P, Q, prow, pcol, np, nq);
  liwork = iwq + 1 + 2 * nb;
  work = malloc(sizeof(double) * (size_t)lwork);
  iwork = malloc(sizeof(int) * (size_t)liwork);
  if (any_failed(row, info || !work || !iwork)) {
    rc = fail(message, size,
              "PDSYEVD's workspace (%d doubles) could not be had (info %d)",
              lwork, info);
    goto done;
  }
  pdsyevd_("V", "L", &d, a, &one, &one, desc, f->lambda, z, &one, &one, desc,
           work, &lwork, iwork, &liwork, &info, 1, 1);
  if (any_failed(row, info)) {
    rc = fail(message, size,
              "PDSYEVD failed on the %d x %d covariance (info %d)", d, d, info);
    goto done;
  }
  /* Each entry of Q lives on one rank: a sum of the placed pieces is
   * exact, so every rank gets the same bits. */
  memset(f->q, 0, sizeof(double) * (size_t)d * (size_t)d);
  for (int lj = 0; lj < nq; lj++) {
    const int gj = global_index(lj, nb, pcol, Q);
    for (int li = 0; li < np; li++)
      f->q[(size_t)global_index(li, nb, prow, P) * d + gj] =
          z[li + (size_t)lj * lld];
  }
  const size_t total = (size_t)d * (size_t)d, chunk = (size_t)1 << 27;
  for (size_t i0 = 0; i0 < total; i0 += chunk)
    MPI_Allreduce(MPI_IN_PLACE, f->q + i0,
                  (int)(total - i0 < chunk ? total - i0 : chunk), MPI_DOUBLE,
                  MPI_SUM, row);
  MPI_Bcast(f->lambda, d, MPI_DOUBLE, 0, row);
done:
  free(a);
  free(z);
  free(work);
  free(iwork);
  /* BLACS's asynchronous sends must finish before the grid goes. */
  Cblacs_freebuff(context, 1);
  Cblacs_gridexit(context);
  Cfree_blacs_system_handle(handle);
  return rc;
}

/* ---- The ABI ----------------------------------------------------------- */

int sgm_plugin_abi_version(void) { return SGM_PLUGIN_ABI_VERSION; }

int sgm_plugin_init(const sgm_plugin_info_t *info, void **state, char *message,
                    size_t message_size) {
  double shrinkage = 0.0;
  int block = 64;
  if (parse_args(info->args, &shrinkage, &block, message, message_size))
    return 1;
  if (info->n < 1)
    return fail(message, message_size, "no training examples to fit");
  const int d = info->d;
  struct fit *f = calloc(1, sizeof *f);
  double *sigma = malloc(sizeof(double) * (size_t)d * (size_t)d);
  if (f) {
    f->d = d;
    f->mu = malloc(sizeof(double) * (size_t)d);
    f->lambda = malloc(sizeof(double) * (size_t)d);
    f->q = malloc(sizeof(double) * (size_t)d * (size_t)d);
  }
  int rc = 0;
  if (any_failed(info->row, !f || !sigma || !f->mu || !f->lambda || !f->q))
    rc = fail(message, message_size, "out of memory for d = %d", d);
  if (!rc)
    rc = moments(info, f->mu, sigma, message, message_size);
  if (!rc)
    rc = decompose(info->row, d, block, sigma, f, message, message_size);
  free(sigma);
  if (rc) {
    fit_free(f);
    return rc;
  }
  for (int k = 0; k < d; k++)
    f->lambda[k] = fmax(f->lambda[k], 0.0) + shrinkage;
  *state = f;
  return 0;
}

int sgm_plugin_eval(void *state, double t, double m, double sigma2, int64_t n,
                    const double *x, double *score, char *message,
                    size_t message_size) {
  struct fit *f = state;
  const int d = f->d;
  (void)t; /* the fit's score depends on t through m and sigma2 alone */
  if (n <= 0)
    return 0;
  if (n > f->capacity) {
    double *w = realloc(f->work, sizeof(double) * 2 * (size_t)n * (size_t)d);
    if (!w)
      return fail(message, message_size,
                  "out of memory for %lld particles of d = %d", (long long)n,
                  d);
    f->work = w;
    f->capacity = n;
  }
  double *c = f->work, *u = f->work + (size_t)n * (size_t)d;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      c[i * d + j] = x[i * d + j] - m * f->mu[j];
  /* Column-major, the row-major q is Q^T and c is C^T (d x n):
   * U^T = Q^T C^T (the coordinates), then S^T = Q U^T. */
  const int nn = (int)n;
  const double one = 1.0, zero = 0.0;
  dgemm_("N", "N", &d, &nn, &d, &one, f->q, &d, c, &d, &zero, u, &d, 1, 1);
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < d; k++)
      u[i * d + k] *= -1.0 / (m * m * f->lambda[k] + sigma2);
  dgemm_("T", "N", &d, &nn, &d, &one, f->q, &d, u, &d, &zero, score, &d, 1, 1);
  return 0;
}

void sgm_plugin_finalize(void *state) { fit_free(state); }
