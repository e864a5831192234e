/*
 * The analysis of a drift on the ranks of a grid row (jacobian.h, last
 * part): the row is cut into sub-grids of P x Q consecutive ranks, each a
 * BLACS grid that analyses one point at a time; the Jacobian of each point
 * is assembled straight into its sub-grid's block-cyclic layout.
 *
 * Analytic (the mixture drifts): J = sum_r F_r^T F_r - diag I + J_e, where
 * F_r are the factor rows of rank r's training shard
 * (sgm_drift_jacobian_factor) and J_e the perturbation's Jacobian.  For each
 * rank of the sub-grid in turn, every rank of the row forms its shard's
 * contribution to exactly that rank's local array -- one DGEMM per pair of
 * local blocks, F[:, I]^T F[:, J] -- and the row reduces them onto it.  No
 * rank ever holds more than its shard's factor and one local array, about
 * d^2 / (P Q) entries.
 *
 * Finite differences (any drift): column k of J is
 * (g(x + h e_k) - g(x - h e_k)) / (2h), h = fd_step * sigma_t, the 2k
 * displaced points evaluated as one batch of particles (FD_BYTES bounds a
 * batch; each rank keeps the entries it owns).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sgm/error.h"
#include "sgm/jacobian.h"
#include "sgm/schedule.h"

/* grid = auto: the smallest sub-grid whose ranks hold each about this many
 * bytes of the analysis's d x d matrices (about ten of them: J, its copies,
 * U, V^T, W and the cross products), the rest of the row analysing other
 * points at the same time. */
#define AUTO_BYTES ((double)(1u << 30))
#define AUTO_MATRICES 10.0
/* Bytes of displaced points and their drifts in one finite-difference
 * batch. */
#define FD_BYTES ((double)(24 << 20))

struct sgm_jacobian {
  sgm_drift_t *drift;
  MPI_Comm row;
  int row_rank, row_size;
  int d, P, Q, nb, parallel;
  int sub_index; /* this rank's sub-grid, or -1 */
  int sub_rank;  /* its rank there (row-major position) */
  MPI_Comm sub;
  sgm_blacs_t *blacs;
  sgm_dist_t dist; /* this rank's part of its sub-grid's matrix */
  enum sgm_jacobian_method method;
  enum sgm_spectra_keep keep;
  double kappa, fd_step;
  sgm_schedule_t sched;
  double *F;    /* factor rows (analytic) */
  double *J;    /* this rank's local array */
  double *C;    /* a contribution to another rank's local array */
  double *pert; /* nb perturbation columns */
  size_t c_cap;
};

/* The squarest P x Q = n with P <= Q. */
static void squarest(int n, int *P, int *Q) {
  int p = 1;
  for (int i = 1; (long)i * i <= n; i++)
    if (n % i == 0)
      p = i;
  *P = p;
  *Q = n / p;
}

static int choose_grid(const sgm_config_t *cfg, int d, int row_size,
                       int world_size, int *P, int *Q) {
  if (cfg->jacobian.grid_p > 0) {
    *P = cfg->jacobian.grid_p;
    *Q = cfg->jacobian.grid_q;
    const long need = (long)*P * *Q;
    SGM_CHECK(need <= world_size, SGM_ERR_CONFIG,
              "[jacobian] grid = %dx%d needs %ld ranks; the run has %d", *P, *Q,
              need, world_size);
    SGM_CHECK(need <= row_size, SGM_ERR_CONFIG,
              "[jacobian] grid = %dx%d needs %ld ranks inside one row of the "
              "process grid, whose rows have %d (of %d ranks); set [grid] "
              "rows = auto (sgmrun then sizes the rows for the sub-grids) or "
              "a grid of at most %d ranks",
              *P, *Q, need, row_size, world_size, row_size);
    return 0;
  }
  const double bytes = AUTO_MATRICES * 8.0 * (double)d * (double)d;
  int n = 1;
  while (n < row_size && bytes / n > AUTO_BYTES)
    n *= 2;
  if (n > row_size)
    n = row_size;
  squarest(n, P, Q);
  return 0;
}

/* Refuses, before any work, an analysis whose matrices cannot fit: about
 * AUTO_MATRICES d x d matrices spread over a sub-grid, the shard's factor
 * (analytic) or a finite-difference batch, against this node's memory
 * shared by its ranks.  The same verdict on every rank of a uniform
 * machine; agreed by the caller's collective set-up otherwise. */
static int check_memory(const sgm_jacobian_t *j, const sgm_drift_t *drift) {
  const double d = j->d, gib = 1024.0 * 1024.0 * 1024.0;
  double need = AUTO_MATRICES * 8.0 * d * d / (j->P * j->Q);
  need += j->method == SGM_JACOBIAN_ANALYTIC
              ? 8.0 * d * (double)sgm_drift_jacobian_rows(drift)
              : FD_BYTES;
  MPI_Comm node;
  int on_node = 1;
  MPI_Comm_split_type(j->row, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &on_node);
  MPI_Comm_free(&node);
  const double have = (double)sysconf(_SC_PHYS_PAGES) *
                      (double)sysconf(_SC_PAGESIZE) /
                      (on_node > 0 ? on_node : 1);
  SGM_CHECK(have <= 0 || need <= have, SGM_ERR_CONFIG,
            "[jacobian]: analysing d = %d needs about %.3g GiB per rank on "
            "%dx%d sub-grids (ten d x d matrices spread over each sub-grid, "
            "plus the %s), but this node has %.3g GiB per rank; set "
            "[jacobian] grid to a larger PxQ (more ranks per point)",
            j->d, need / gib, j->P, j->Q,
            j->method == SGM_JACOBIAN_ANALYTIC ? "shard's factor"
                                               : "finite-difference batch",
            have / gib);
  return 0;
}

int sgm_jacobian_create(const sgm_config_t *cfg, sgm_drift_t *drift,
                        MPI_Comm row, sgm_jacobian_t **out) {
  *out = NULL;
  int world_size = 0, err = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  sgm_jacobian_t *j = NULL;
  SGM_CALL(SGM_CALLOC(j, 1));
  j->drift = drift;
  j->row = row;
  j->sub = MPI_COMM_NULL;
  j->sub_index = -1;
  MPI_Comm_rank(row, &j->row_rank);
  MPI_Comm_size(row, &j->row_size);
  j->d = sgm_drift_dim(drift);
  j->nb = cfg->jacobian.block;
  j->method = cfg->jacobian.method;
  j->kappa = cfg->jacobian.kappa;
  j->fd_step = cfg->jacobian.fd_step;
  j->keep = cfg->jacobian.save_vectors == SGM_SAVE_VECTORS_ALL ? SGM_KEEP_ALL
            : cfg->jacobian.save_vectors == SGM_SAVE_VECTORS_NONE
                ? SGM_KEEP_NONE
                : SGM_KEEP_NAMED;
  sgm_schedule_init(&j->sched, cfg);
  /* Everything below is decided from the same inputs on every rank. */
  SGM_CALL_GOTO(choose_grid(cfg, j->d, j->row_size, world_size, &j->P, &j->Q),
                fail);
  SGM_CHECK_GOTO(j->nb <= j->d, SGM_ERR_CONFIG, fail,
                 "[jacobian] block = %d is larger than the dimension d = %d: "
                 "the whole matrix would be one block; set block to at most "
                 "%d (e.g. --set jacobian.block=%d)",
                 j->nb, j->d, j->d, j->d < 64 ? j->d : 64);
  SGM_CHECK_GOTO(j->method != SGM_JACOBIAN_ANALYTIC ||
                     sgm_drift_has_analytic_jacobian(drift),
                 SGM_ERR_CONFIG, fail,
                 "[jacobian] method = analytic: [drift] model = %s has no "
                 "closed-form Jacobian; use method = fd",
                 sgm_drift_model_name(drift));
  const int size = j->P * j->Q;
  SGM_CALL_GOTO(check_memory(j, drift), fail);
  j->parallel = j->row_size / size;
  if (j->row_rank < j->parallel * size) {
    j->sub_index = j->row_rank / size;
    j->sub_rank = j->row_rank % size;
  }
  /* The sub-grids (collective over the row, then over each sub-grid). */
  SGM_MPI_GOTO(MPI_Comm_split(row,
                              j->sub_index >= 0 ? j->sub_index : MPI_UNDEFINED,
                              j->row_rank, &j->sub),
               fail);
  if (j->sub_index >= 0) {
    err = sgm_blacs_create(j->sub, j->P, j->Q, &j->blacs);
    sgm_dist_init(j->d, j->nb, j->P, j->Q, j->sub_rank / j->Q,
                  j->sub_rank % j->Q, &j->dist);
  }
  /* Buffers: the largest local array of any sub-grid rank, and the factor
   * of this rank's shard. */
  sgm_dist_t big;
  sgm_dist_init(j->d, j->nb, j->P, j->Q, 0, 0, &big);
  j->c_cap = (size_t)big.rows * (size_t)big.cols + 1;
  if (!err)
    err = SGM_MALLOC(j->C, j->c_cap);
  if (!err)
    err = SGM_MALLOC(j->J, j->c_cap);
  if (!err)
    err = SGM_MALLOC(j->pert, (size_t)j->nb * (size_t)j->d);
  if (!err && j->method == SGM_JACOBIAN_ANALYTIC)
    err = SGM_MALLOC(j->F,
                     (size_t)sgm_drift_jacobian_rows(drift) * (size_t)j->d + 1);
  if ((err = sgm_error_agree(row, err)) != 0)
    goto fail;
  *out = j;
  return 0;
fail:
  /* Every rank fails here together (the checks above see the same
   * inputs, the allocation failures are agreed). */
  sgm_jacobian_destroy(&j);
  return err;
}

void sgm_jacobian_destroy(sgm_jacobian_t **handle) {
  if (!handle || !*handle)
    return;
  sgm_jacobian_t *j = *handle;
  sgm_blacs_destroy(&j->blacs);
  if (j->sub != MPI_COMM_NULL)
    MPI_Comm_free(&j->sub);
  free(j->F);
  free(j->J);
  free(j->C);
  free(j->pert);
  free(j);
  *handle = NULL;
}

int sgm_jacobian_parallel(const sgm_jacobian_t *j) { return j->parallel; }

int sgm_jacobian_subgrid(const sgm_jacobian_t *j, int *is_root) {
  if (is_root)
    *is_root = j->sub_index >= 0 && j->sub_rank == 0;
  return j->sub_index;
}

const char *sgm_jacobian_describe(const sgm_jacobian_t *j, char *buf, int len) {
  snprintf(buf, (size_t)len, "%dx%d", j->P, j->Q);
  return buf;
}

/* Rank (pr, pc)'s share of F^T F in its local layout dist (rows F, d
 * columns, row-major) into C: one DGEMM per pair of its local blocks (one
 * DSYRK for a 1 x 1 layout, where the share is the whole matrix).  F
 * read column-major is F^T (d x rows, leading dimension d), so the block of
 * global rows I and columns K is F^T[I, :] F^T[K, :]^T. */
static void contribution(const double *F, int64_t rows, int d,
                         const sgm_dist_t *dist, double *C) {
  const int ld = dist->rows > 1 ? dist->rows : 1, nb = dist->nb;
  if (rows == 0) {
    memset(C, 0, sizeof *C * (size_t)ld * (size_t)dist->cols);
    return;
  }
  if (dist->P == 1 && dist->Q == 1) {
    /* The whole (symmetric) matrix: DSYRK does half the work, the upper
     * triangle is mirrored from the lower. */
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, d, (int)rows, 1.0, F,
                d, 0.0, C, ld);
    for (int c = 1; c < d; c++)
      for (int r = 0; r < c; r++)
        C[r + (size_t)c * ld] = C[c + (size_t)r * ld];
    return;
  }
  for (int lc = 0; lc < dist->cols; lc += nb) {
    const int k0 = sgm_dist_global(lc, nb, dist->pcol, dist->Q);
    const int w = d - k0 < nb ? d - k0 : nb;
    for (int lr = 0; lr < dist->rows; lr += nb) {
      const int i0 = sgm_dist_global(lr, nb, dist->prow, dist->P);
      const int h = d - i0 < nb ? d - i0 : nb;
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, h, w, (int)rows, 1.0,
                  F + i0, d, F + k0, d, 0.0, C + lr + (size_t)lc * ld, ld);
    }
  }
}

/* Adds -diag I and the perturbation's Jacobian to the local array C in
 * layout dist.  Not collective. */
static int add_local_terms(sgm_jacobian_t *j, double t, double diag,
                           const sgm_dist_t *dist, double *C) {
  const int ld = dist->rows > 1 ? dist->rows : 1, nb = dist->nb, d = j->d;
  for (int lc = 0; lc < dist->cols; lc += nb) {
    const int k0 = sgm_dist_global(lc, nb, dist->pcol, dist->Q);
    const int w = d - k0 < nb ? d - k0 : nb;
    SGM_CALL(sgm_drift_perturbation_jacobian(j->drift, t, k0, w, j->pert));
    for (int c = 0; c < w; c++)
      for (int l = 0; l < dist->rows; l++) {
        const int i = sgm_dist_global(l, nb, dist->prow, dist->P);
        C[l + (size_t)(lc + c) * ld] +=
            j->pert[(size_t)c * d + i] - (i == k0 + c ? diag : 0.0);
      }
  }
  return 0;
}

/* The analytic J of x onto the ranks of sub-grid g.  Collective over the
 * row. */
static int assemble_analytic(sgm_jacobian_t *j, double t, const double *x,
                             int g) {
  int64_t rows = 0;
  double diag = 0.0;
  SGM_CALL(sgm_drift_jacobian_factor(j->drift, t, x, j->F, &rows, &diag));
  const int size = j->P * j->Q;
  for (int q = 0; q < size; q++) {
    sgm_dist_t dq;
    sgm_dist_init(j->d, j->nb, j->P, j->Q, q / j->Q, q % j->Q, &dq);
    const int count = dq.rows * dq.cols;
    if (count == 0)
      continue;
    const int root = g * size + q;
    const int mine = root == j->row_rank;
    contribution(j->F, rows, j->d, &dq, mine ? j->J : j->C);
    SGM_MPI(MPI_Reduce(mine ? MPI_IN_PLACE : j->C, mine ? j->J : NULL, count,
                       MPI_DOUBLE, MPI_SUM, root, j->row));
  }
  if (j->sub_index == g)
    SGM_CALL(add_local_terms(j, t, diag, &j->dist, j->J));
  return 0;
}

/* Columns per finite-difference batch: whole blocks, at least one. */
static int fd_batch(const sgm_jacobian_t *j) {
  const double per_column = 4.0 * sizeof(double) * j->d; /* x +- h, g +- */
  int blocks = (int)(FD_BYTES / (per_column * j->nb));
  if (blocks < 1)
    blocks = 1;
  const long w = (long)blocks * j->nb;
  return w < j->d ? (int)w : j->d;
}

/*
 * Central differences of the drift at x, batch by batch of columns; each
 * batch's columns go to `keep` (the owning ranks' entries, or every entry).
 * Collective over the row.
 */
typedef void (*fd_keep_fn)(sgm_jacobian_t *j, int k0, int w, const double *G,
                           const double *den, void *ctx);

static int finite_differences(sgm_jacobian_t *j, double t, const double *x,
                              fd_keep_fn keep, void *ctx) {
  const int d = j->d, wmax = fd_batch(j);
  const double h = j->fd_step * sqrt(sgm_schedule_var(&j->sched, t));
  double *X = NULL, *G = NULL, *den = NULL;
  int err = SGM_MALLOC(X, (size_t)2 * wmax * d);
  if (!err)
    err = SGM_MALLOC(G, (size_t)2 * wmax * d);
  if (!err)
    err = SGM_MALLOC(den, (size_t)wmax);
  err = sgm_error_agree(j->row, err);
  for (int k0 = 0; k0 < d && !err; k0 += wmax) {
    const int w = d - k0 < wmax ? d - k0 : wmax;
    for (int c = 0; c < w; c++) {
      double *plus = X + (size_t)2 * c * d, *minus = plus + d;
      memcpy(plus, x, sizeof *x * (size_t)d);
      memcpy(minus, x, sizeof *x * (size_t)d);
      plus[k0 + c] += h;
      minus[k0 + c] -= h;
      /* The step actually taken, rounding included. */
      den[c] = plus[k0 + c] - minus[k0 + c];
    }
    sgm_drift_out_t out = {.drift = G};
    err = sgm_error_agree(j->row, sgm_drift_eval(j->drift, t, 2 * w, X, &out));
    if (!err)
      keep(j, k0, w, G, den, ctx);
  }
  free(X);
  free(G);
  free(den);
  return err;
}

/* Keeps the entries of this rank's local array (its sub-grid's, when the
 * context names that sub-grid). */
static void keep_owned(sgm_jacobian_t *j, int k0, int w, const double *G,
                       const double *den, void *ctx) {
  if (j->sub_index != *(const int *)ctx)
    return;
  const sgm_dist_t *dist = &j->dist;
  const int nb = dist->nb, ld = dist->rows > 1 ? dist->rows : 1, d = j->d;
  for (int c = 0; c < w; c++) {
    const int k = k0 + c;
    if ((k / nb) % dist->Q != dist->pcol)
      continue;
    const int lc = (k / nb / dist->Q) * nb + k % nb;
    const double *plus = G + (size_t)2 * c * d, *minus = plus + d;
    for (int l = 0; l < dist->rows; l++) {
      const int i = sgm_dist_global(l, nb, dist->prow, dist->P);
      j->J[l + (size_t)lc * ld] = (plus[i] - minus[i]) / den[c];
    }
  }
}

/* Keeps every entry, row-major, into the d x d matrix ctx. */
static void keep_all(sgm_jacobian_t *j, int k0, int w, const double *G,
                     const double *den, void *ctx) {
  double *J = ctx;
  const int d = j->d;
  for (int c = 0; c < w; c++) {
    const double *plus = G + (size_t)2 * c * d, *minus = plus + d;
    for (int i = 0; i < d; i++)
      J[(size_t)i * d + k0 + c] = (plus[i] - minus[i]) / den[c];
  }
}

/* A 1 x 1 sub-grid holds all of J: LAPACK's divide-and-conquer dgesdd
 * (with dsyevd) analyses it several times faster than PDGESVD's
 * QR iteration on one process, with the same orderings and signs.  The
 * local array is J column-major, i.e. J^T row-major. */
static int analyse_alone(sgm_jacobian_t *j, double sigma2, sgm_spectra_t *out) {
  const int d = j->d;
  double *rm = NULL;
  SGM_CALL(SGM_MALLOC(rm, (size_t)d * d));
  for (int i = 0; i < d; i++)
    for (int k = 0; k < d; k++)
      rm[(size_t)i * d + k] = j->J[i + (size_t)k * d];
  int err = sgm_spectra_compute(d, rm, sigma2, j->kappa, out);
  free(rm);
  if (!err && j->keep != SGM_KEEP_ALL) {
    free(out->u);
    free(out->v);
    free(out->w);
    out->u = out->v = out->w = NULL;
  }
  if (!err && j->keep == SGM_KEEP_NONE)
    for (int i = 0; i < SGM_NAMED_COUNT; i++) {
      free(out->named[i]);
      out->named[i] = NULL;
    }
  return err;
}

int sgm_jacobian_analyse(sgm_jacobian_t *j, double t, int n, const double *x,
                         const int64_t *labels, sgm_spectra_t *out) {
  memset(out, 0, sizeof *out);
  SGM_CHECK(n >= 0 && n <= j->parallel, SGM_ERR_INTERNAL,
            "%d points for %d sub-grids", n, j->parallel);
  const double sigma2 = sgm_schedule_var(&j->sched, t);
  int err = 0;
  for (int g = 0; g < n && !err; g++) {
    const double *xg = x + (size_t)g * j->d;
    if (j->method == SGM_JACOBIAN_ANALYTIC)
      err = assemble_analytic(j, t, xg, g);
    else
      err = finite_differences(j, t, xg, keep_owned, &g);
    if ((err = sgm_error_agree(j->row, err)) != 0)
      return sgm_error_prefix(err, "the Jacobian of point %lld at t = %g",
                              (long long)labels[g], t);
  }
  if (j->sub_index >= 0 && j->sub_index < n) {
    sgm_spectra_t res;
    err =
        j->P * j->Q == 1
            ? analyse_alone(j, sigma2, &res)
            : sgm_spectra_compute_distributed(j->blacs, j->d, j->nb, j->J,
                                              sigma2, j->kappa, j->keep, &res);
    if (err)
      sgm_error_prefix(err, "the analysis of point %lld at t = %g",
                       (long long)labels[j->sub_index], t);
    else if (j->sub_rank == 0)
      *out = res;
    else
      sgm_spectra_free(&res);
  }
  return sgm_error_agree(j->row, err);
}

int sgm_jacobian_matrix(sgm_jacobian_t *j, double t, const double *x,
                        enum sgm_jacobian_method method, double *J) {
  const int d = j->d;
  if (method == SGM_JACOBIAN_FD)
    return finite_differences(j, t, x, keep_all, J);
  SGM_CHECK(j->F != NULL, SGM_ERR_INTERNAL,
            "the analytic Jacobian of an analysis set up with method = fd");
  int64_t rows = 0;
  double diag = 0.0;
  SGM_CALL(sgm_drift_jacobian_factor(j->drift, t, x, j->F, &rows, &diag));
  /* On a 1 x 1 layout the local array is the whole matrix, column-major. */
  sgm_dist_t whole;
  sgm_dist_init(d, j->nb, 1, 1, 0, 0, &whole);
  double *C = NULL;
  int err = SGM_MALLOC(C, (size_t)d * d);
  if ((err = sgm_error_agree(j->row, err)) != 0)
    return err;
  contribution(j->F, rows, d, &whole, C);
  err = MPI_Allreduce(MPI_IN_PLACE, C, d * d, MPI_DOUBLE, MPI_SUM, j->row) ==
                MPI_SUCCESS
            ? 0
            : sgm_error_set(SGM_ERR_MPI, __FILE__, __LINE__, __func__,
                            "MPI_Allreduce of the Jacobian failed");
  /* The local terms go on after the sum, once. */
  if (!err)
    err = add_local_terms(j, t, diag, &whole, C);
  for (int i = 0; i < d && !err; i++)
    for (int k = 0; k < d; k++)
      J[(size_t)i * d + k] = C[i + (size_t)k * d];
  free(C);
  return err;
}
