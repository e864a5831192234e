/*
 * The distributed analysis of one Jacobian (jacobian.h) on a BLACS grid:
 * ScaLAPACK's PDGESVD on a copy of J and PDSYEVD on J~ = (J + J^T) / 2
 * (formed by PDGEADD), the cross products U^T V, U^T W and V^T W by PDGEMM,
 * the overlaps from per-rank bins of the squared entries reduced once, and
 * the vectors gathered to the grid's rank 0 one column block at a time.  No
 * rank holds more than its share of the d x d matrices, ScaLAPACK's
 * workspace, O(d nb) of gather buffer and O(d) arrays.  The orderings and
 * the sign convention are those of the serial analysis (spectra.c), so the
 * two agree value by value and vector by vector.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jacobian/jacobian_impl.h"
#include "sgm/error.h"
#include "sgm/jacobian.h"

/* BLACS's C interface, as Debian's libscalapack-openmpi provides it (no
 * header ships with it). */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow,
                     int *mycol);
void Cblacs_gridexit(int context);
void Cblacs_freebuff(int context, int wait);
void Cblacs_set(int context, int what, int *value);

/* ScaLAPACK (Fortran: the trailing size_t are the hidden lengths of the
 * character arguments, passed explicitly so that no routine reads or
 * overwrites stack slots the caller never reserved) and the PBLAS (C). */
void descinit_(int *desc, const int *m, const int *n, const int *mb,
               const int *nb, const int *irsrc, const int *icsrc,
               const int *ictxt, const int *lld, int *info);
void pdgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n,
              double *a, const int *ia, const int *ja, const int *desca,
              double *s, double *u, const int *iu, const int *ju,
              const int *descu, double *vt, const int *ivt, const int *jvt,
              const int *descvt, double *work, const int *lwork, int *info,
              size_t jobu_len, size_t jobvt_len);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
              const int *ia, const int *ja, const int *desca, double *w,
              double *z, const int *iz, const int *jz, const int *descz,
              double *work, const int *lwork, int *iwork, const int *liwork,
              int *info, size_t jobz_len, size_t uplo_len);
void pdgeadd_(const char *trans, const int *m, const int *n,
              const double *alpha, const double *a, const int *ia,
              const int *ja, const int *desca, const double *beta, double *c,
              const int *ic, const int *jc, const int *descc);
void pdtran_(const int *m, const int *n, const double *alpha, const double *a,
             const int *ia, const int *ja, const int *desca, const double *beta,
             double *c, const int *ic, const int *jc, const int *descc);
void pdgemm_(const char *transa, const char *transb, const int *m, const int *n,
             const int *k, const double *alpha, const double *a, const int *ia,
             const int *ja, const int *desca, const double *b, const int *ib,
             const int *jb, const int *descb, const double *beta, double *c,
             const int *ic, const int *jc, const int *descc);

struct sgm_blacs {
  MPI_Comm comm; /* a duplicate of the caller's: rank r at (r / Q, r % Q) */
  int handle;    /* BLACS system handle of comm */
  int context;   /* BLACS context of the grid */
  int P, Q, prow, pcol, rank;
};

/* ---- Grids and layouts ------------------------------------------------ */

static void release(sgm_blacs_t *g) {
  /* BLACS tests its asynchronous sends only when it next sends, and
   * Cblacs_gridexit frees the grid's communicators without waiting for
   * them: a send still in flight after the last ScaLAPACK call keeps its
   * request, and with it the communicator, alive to the end of the process
   * (a leak LeakSanitizer reported in CI under load).  Cblacs_freebuff
   * with wait waits for every one; the receives they need are posted, each
   * inside the same ScaLAPACK call on its peer. */
  if (g->context >= 0) {
    Cblacs_freebuff(g->context, 1);
    Cblacs_gridexit(g->context);
  }
  if (g->handle >= 0)
    Cfree_blacs_system_handle(g->handle);
  if (g->comm != MPI_COMM_NULL)
    MPI_Comm_free(&g->comm);
  free(g);
}

int sgm_blacs_create(MPI_Comm comm, int P, int Q, sgm_blacs_t **out) {
  *out = NULL;
  int size, rank, err = 0;
  SGM_MPI(MPI_Comm_size(comm, &size));
  SGM_MPI(MPI_Comm_rank(comm, &rank));
  /* The same on every rank of comm: no agreement needed to fail here. */
  SGM_CHECK(P >= 1 && Q >= 1 && (long long)P * Q == size, SGM_ERR_INTERNAL,
            "a %d x %d BLACS grid on a communicator of %d ranks", P, Q, size);
  sgm_blacs_t *g = NULL;
  err = sgm_error_agree(comm, SGM_CALLOC(g, 1));
  if (err) {
    free(g);
    return err;
  }
  g->comm = MPI_COMM_NULL;
  g->handle = g->context = -1;
  g->P = P;
  g->Q = Q;
  g->rank = rank;
  if (MPI_Comm_dup(comm, &g->comm) != MPI_SUCCESS) {
    /* MPI_Comm_dup fails on every rank or aborts. */
    g->comm = MPI_COMM_NULL;
    release(g);
    return sgm_error_set(SGM_ERR_MPI, __FILE__, __LINE__, __func__,
                         "MPI_Comm_dup failed for a %d x %d BLACS grid", P, Q);
  }
  g->handle = Csys2blacs_handle(g->comm);
  g->context = g->handle;
  Cblacs_gridinit(&g->context, "Row", P, Q);
  int nprow = -1, npcol = -1;
  g->prow = g->pcol = -1;
  Cblacs_gridinfo(g->context, &nprow, &npcol, &g->prow, &g->pcol);
  if (nprow != P || npcol != Q || g->prow != rank / Q || g->pcol != rank % Q)
    err = sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                        "BLACS put rank %d of a %d x %d grid at (%d, %d) of "
                        "a %d x %d grid, not at (%d, %d)",
                        rank, P, Q, g->prow, g->pcol, nprow, npcol, rank / Q,
                        rank % Q);
  err = sgm_error_agree(g->comm, err);
  if (err) {
    release(g);
    return err;
  }
  /* Repeatable and coherent combines (BLACS_SET's TopsRepeat = 15 and
   * TopsCohrnt = 16): every rank of the grid gets the same bits from a
   * BLACS reduction, and the same bits run after run, as PDGESVD's
   * documentation asks for repeatable results. */
  int yes = 1;
  Cblacs_set(g->context, 15, &yes);
  Cblacs_set(g->context, 16, &yes);
  *out = g;
  return 0;
}

void sgm_blacs_destroy(sgm_blacs_t **grid) {
  if (!grid || !*grid)
    return;
  release(*grid);
  *grid = NULL;
}

void sgm_blacs_shape(const sgm_blacs_t *grid, int *P, int *Q, int *prow,
                     int *pcol) {
  if (P)
    *P = grid->P;
  if (Q)
    *Q = grid->Q;
  if (prow)
    *prow = grid->prow;
  if (pcol)
    *pcol = grid->pcol;
}

/* ScaLAPACK's NUMROC (first block on process 0): how many of n indices in
 * blocks of nb land on process p of P. */
static int numroc(int n, int nb, int p, int P) {
  if (n < 1 || nb < 1 || P < 1 || p < 0 || p >= P)
    return 0;
  const int blocks = n / nb, extra = blocks % P;
  int count = (blocks / P) * nb;
  if (p < extra)
    count += nb;
  else if (p == extra)
    count += n % nb;
  return count;
}

void sgm_dist_init(int d, int nb, int P, int Q, int prow, int pcol,
                   sgm_dist_t *dist) {
  dist->d = d;
  dist->nb = nb;
  dist->P = P;
  dist->Q = Q;
  dist->prow = prow;
  dist->pcol = pcol;
  dist->rows = numroc(d, nb, prow, P);
  dist->cols = numroc(d, nb, pcol, Q);
}

/* Local index of global index g on the process that owns it. */
static int dist_local(int g, int nb, int P) {
  return (g / (nb * P)) * nb + g % nb;
}

/* ---- The analysis ------------------------------------------------------ */

/* The per-call state: this rank's layout, the descriptor, the local parts
 * of the distributed matrices and the gather buffers (rank 0). */
struct work {
  const sgm_blacs_t *g;
  sgm_dist_t dist;
  int lld, desc[9];
  double *a;            /* J's copy, then J~, then the cross products and V */
  double *u, *vt;       /* PDGESVD's U and V^T (singular values descending) */
  double *z;            /* PDSYEVD's eigenvectors (eigenvalues ascending) */
  double *s, *lam;      /* d: ScaLAPACK's singular values, eigenvalues */
  int *idx;             /* d: eigen order by |lambda| (as spectra.c) */
  int *wpos;            /* d: position of Z's column c in that order */
  double *acc;          /* 4 d: bins of uv, uw, vw; the cosines */
  double *recv;         /* rank 0: d nb doubles of gathered columns */
  int *counts, *displs; /* rank 0: P Q each */
  double **dst;         /* rank 0: nb destination vectors */
};

/*
 * Gathers global columns c0 .. c0 + w - 1 (inside one column block) of the
 * distributed matrix m to the grid's rank 0, column c0 + j into dst[j] (d
 * doubles; NULL: not wanted).  Collective over the grid.
 */
static int gather_columns(struct work *wk, const double *m, int c0, int w) {
  const sgm_blacs_t *g = wk->g;
  const int d = wk->dist.d, nb = wk->dist.nb;
  const int owner = (c0 / nb) % g->Q;
  int send = 0;
  const double *sendbuf = m;
  if (wk->dist.pcol == owner && wk->dist.rows > 0) {
    send = wk->dist.rows * w;
    sendbuf = m + (size_t)dist_local(c0, nb, g->Q) * wk->lld;
  }
  if (g->rank == 0)
    for (int r = 0, off = 0; r < g->P * g->Q; r++) {
      wk->counts[r] = r % g->Q == owner ? numroc(d, nb, r / g->Q, g->P) * w : 0;
      wk->displs[r] = off;
      off += wk->counts[r];
    }
  SGM_MPI(MPI_Gatherv(sendbuf, send, MPI_DOUBLE, wk->recv, wk->counts,
                      wk->displs, MPI_DOUBLE, 0, g->comm));
  if (g->rank != 0)
    return 0;
  for (int r = owner; r < g->P * g->Q; r += g->Q) {
    const int pr = r / g->Q, rows = numroc(d, nb, pr, g->P);
    for (int j = 0; j < w; j++) {
      if (!wk->dst[j])
        continue;
      const double *col = wk->recv + wk->displs[r] + (size_t)j * rows;
      for (int l = 0; l < rows; l++)
        wk->dst[j][sgm_dist_global(l, nb, pr, g->P)] = col[l];
    }
  }
  return 0;
}

/* Adds this rank's squared entries of the cross product in wk->a to the
 * bins max(row position, column position); rpos, cpos give the positions
 * of the product's rows and columns in the ascending orderings (NULL: the
 * singular order, position d - 1 - index).  With diag, the diagonal goes
 * to diag (by position). */
static void bin_squares(const struct work *wk, const int *rpos, const int *cpos,
                        double *bins, double *diag) {
  const sgm_dist_t *dist = &wk->dist;
  const int d = dist->d, nb = dist->nb;
  for (int c = 0; c < dist->cols; c++) {
    const int gc = sgm_dist_global(c, nb, dist->pcol, dist->Q);
    const int pc = cpos ? cpos[gc] : d - 1 - gc;
    const double *col = wk->a + (size_t)c * wk->lld;
    for (int l = 0; l < dist->rows; l++) {
      const int gr = sgm_dist_global(l, nb, dist->prow, dist->P);
      const int pr = rpos ? rpos[gr] : d - 1 - gr;
      bins[pr > pc ? pr : pc] += col[l] * col[l];
      if (diag && gr == gc)
        diag[pr] = col[l];
    }
  }
}

static void prefix_mean(int d, const double *bins, double *phi) {
  double total = 0.0;
  for (int n = 1; n <= d; n++) {
    total += bins[n - 1];
    phi[n - 1] = total / n;
  }
}

/* Phase 1 (local): arguments, the input, every allocation. */
static int setup(struct work *wk, int d, int nb, const double *J_local,
                 enum sgm_spectra_keep keep, sgm_spectra_t *out) {
  const sgm_blacs_t *g = wk->g;
  SGM_CHECK(d >= 1 && nb >= 1, SGM_ERR_INTERNAL,
            "a distributed Jacobian of dimension %d in blocks of %d", d, nb);
  SGM_CHECK(keep >= SGM_KEEP_NONE && keep <= SGM_KEEP_ALL, SGM_ERR_INTERNAL,
            "keep = %d is not an sgm_spectra_keep", (int)keep);
  sgm_dist_init(d, nb, g->P, g->Q, g->prow, g->pcol, &wk->dist);
  const sgm_dist_t *dist = &wk->dist;
  wk->lld = dist->rows > 1 ? dist->rows : 1;
  for (int c = 0; c < dist->cols; c++)
    for (int l = 0; l < dist->rows; l++) {
      const double x = J_local[l + (size_t)c * wk->lld];
      SGM_CHECK(isfinite(x), SGM_ERR_INPUT, "the Jacobian holds %g at (%d, %d)",
                x, sgm_dist_global(l, nb, dist->prow, g->P),
                sgm_dist_global(c, nb, dist->pcol, g->Q));
    }
  const int izero = 0;
  int info = 0;
  descinit_(wk->desc, &d, &d, &nb, &nb, &izero, &izero, &g->context, &wk->lld,
            &info);
  SGM_CALL(sgm_spectra_check_info("descinit", info));
  /* Ranks that hold nothing still get one element, not NULL. */
  const size_t local = (size_t)wk->lld * (dist->cols > 1 ? dist->cols : 1);
  SGM_CALL(SGM_MALLOC(wk->a, local));
  SGM_CALL(SGM_MALLOC(wk->u, local));
  SGM_CALL(SGM_MALLOC(wk->vt, local));
  SGM_CALL(SGM_MALLOC(wk->z, local));
  SGM_CALL(SGM_MALLOC(wk->s, (size_t)d));
  SGM_CALL(SGM_MALLOC(wk->lam, (size_t)d));
  SGM_CALL(SGM_MALLOC(wk->idx, (size_t)d));
  SGM_CALL(SGM_MALLOC(wk->wpos, (size_t)d));
  SGM_CALL(SGM_MALLOC(wk->acc, 4 * (size_t)d));
  out->d = d;
  SGM_CALL(SGM_MALLOC(out->singular, (size_t)d));
  SGM_CALL(SGM_MALLOC(out->eigen, (size_t)d));
  SGM_CALL(SGM_MALLOC(out->cosines, (size_t)d));
  SGM_CALL(SGM_MALLOC(out->overlap_uv, (size_t)d));
  SGM_CALL(SGM_MALLOC(out->overlap_uw, (size_t)d));
  SGM_CALL(SGM_MALLOC(out->overlap_vw, (size_t)d));
  if (g->rank == 0 && keep >= SGM_KEEP_NAMED) {
    const int w = nb < d ? nb : d;
    SGM_CALL(SGM_MALLOC(wk->recv, (size_t)d * w));
    SGM_CALL(SGM_MALLOC(wk->counts, (size_t)g->P * g->Q));
    SGM_CALL(SGM_MALLOC(wk->displs, (size_t)g->P * g->Q));
    SGM_CALL(SGM_CALLOC(wk->dst, (size_t)w));
    for (int i = 0; i < SGM_NAMED_COUNT; i++)
      SGM_CALL(SGM_MALLOC(out->named[i], (size_t)d));
    if (keep == SGM_KEEP_ALL) {
      SGM_CALL(SGM_MALLOC(out->u, (size_t)d * d));
      SGM_CALL(SGM_MALLOC(out->v, (size_t)d * d));
      SGM_CALL(SGM_MALLOC(out->w, (size_t)d * d));
    }
  }
  return 0;
}

/* wk->a = this rank's part of J: exactly rows x cols entries (J_local may
 * hold nothing, or be NULL, on a rank without entries). */
static void copy_local(struct work *wk, const double *J_local) {
  const size_t n = (size_t)wk->lld * wk->dist.cols;
  if (n > 0 && wk->dist.rows > 0)
    memcpy(wk->a, J_local, n * sizeof *wk->a);
}

/* PDGESVD of a copy of J into wk->u, wk->s, wk->vt.  Collective. */
static int svd(struct work *wk, const double *J_local) {
  const int d = wk->dist.d, one = 1, query = -1;
  int *desc = wk->desc, info = 0, err = 0;
  double wq = 0, *work = NULL;
  copy_local(wk, J_local);
  pdgesvd_("V", "V", &d, &d, wk->a, &one, &one, desc, wk->s, wk->u, &one, &one,
           desc, wk->vt, &one, &one, desc, &wq, &query, &info, 1, 1);
  err = sgm_spectra_check_info("pdgesvd (workspace query)", info);
  if (!err)
    err = SGM_MALLOC(work, (size_t)wq + 1);
  err = sgm_error_agree(wk->g->comm, err);
  if (err) {
    free(work);
    return err;
  }
  int lwork = (int)wq + 1;
  pdgesvd_("V", "V", &d, &d, wk->a, &one, &one, desc, wk->s, wk->u, &one, &one,
           desc, wk->vt, &one, &one, desc, work, &lwork, &info, 1, 1);
  free(work);
  /* info = d + 1 flags singular values that differ between ranks.  With
   * d < P Q, the ranks past d hold no row of PDGESVD's 1-D copies of U
   * and V^T, so DBDSQR computes their values without vectors (dqds, not
   * implicit QR), which round differently.  Rank 0 holds rows, its values
   * go with the vectors, and reduce() gives every rank rank 0's values:
   * not a failure then. */
  if (info == d + 1 && d < wk->g->P * wk->g->Q)
    info = 0;
  return sgm_error_agree(wk->g->comm, sgm_spectra_check_info("pdgesvd", info));
}

/*
 * What PDSYEVD's workspace query leaves out (ScaLAPACK 2.2.1; LWORK and
 * LIWORK are local, so a shortfall hits single ranks).  PDSYEVD hands
 * PDSTEDC and PDORMTR its WORK from 2 d on, which its minimum sizes at
 * 1 + 6 d + 2 NP NQ (or more), but
 * - PDORMTR (SIDE = 'L', UPLO = 'L') needs max(nb (nb - 1) / 2,
 *   (MpC0 + NqC0) nb) + nb^2, more than that on a rank with few local rows
 *   or with nb large next to d: it rejects LWORK on that rank alone, and
 *   PDSYEVD ignores the error and returns wrong eigenvectors;
 * - PDLAED1 (inside PDSTEDC) lays out 6 d + 2 max(NP, 1) NQ: a rank with
 *   no local row but some columns writes 2 NQ doubles past the end (heap
 *   corruption, seen with d = 5, nb = 3 on a 4 x 1 grid);
 * - PDLASRT (inside PDSTEDC) needs NP (nb + NQ), up to NP nb more;
 * and PDLASRT's LIWORK, d + 2 (nb + 2 Q), can exceed PDSYEVD's
 * 7 d + 8 Q + 2 by up to 2 nb.  The sums below cover each on its own:
 * O(d nb + nb^2) more doubles.
 */
static int syevd_extra_lwork(const struct work *wk) {
  const int d = wk->dist.d, nb = wk->dist.nb, P = wk->g->P, Q = wk->g->Q;
  const int np = wk->dist.rows, nq = wk->dist.cols;
  /* PDORMTR's C = Z(2:d, 1:d): its first row is global row 1 (from 0). */
  const int iroffc = 1 % nb, icrow = (1 / nb) % P;
  const int mpc0 =
      numroc(d - 1 + iroffc, nb, (P + wk->dist.prow - icrow) % P, P);
  const int nqc0 = numroc(d, nb, wk->dist.pcol, Q);
  const int a = nb * (nb - 1) / 2, b = (mpc0 + nqc0) * nb;
  const int ormtr = (a > b ? a : b) + nb * nb;
  return ormtr + 2 * nq + np * nb;
}

/* PDSYEVD of J~ = (J + J^T) / 2 into wk->lam, wk->z.  Collective. */
static int eig(struct work *wk, const double *J_local) {
  const int d = wk->dist.d, one = 1, query = -1;
  const double half = 0.5;
  int *desc = wk->desc, info = 0, err = 0, iwq = 0;
  double wq = 0, *work = NULL;
  int *iwork = NULL;
  /* a = J / 2 + J^T / 2, exactly symmetric (the sum commutes). */
  copy_local(wk, J_local);
  pdgeadd_("T", &d, &d, &half, J_local, &one, &one, desc, &half, wk->a, &one,
           &one, desc);
  pdsyevd_("V", "L", &d, wk->a, &one, &one, desc, wk->lam, wk->z, &one, &one,
           desc, &wq, &query, &iwq, &query, &info, 1, 1);
  err = sgm_spectra_check_info("pdsyevd (workspace query)", info);
  const int lwork = (int)wq + 1 + syevd_extra_lwork(wk);
  const int liwork = iwq + 1 + 2 * wk->dist.nb;
  if (!err)
    err = SGM_MALLOC(work, (size_t)lwork);
  if (!err)
    err = SGM_MALLOC(iwork, (size_t)liwork);
  err = sgm_error_agree(wk->g->comm, err);
  if (err) {
    free(work);
    free(iwork);
    return err;
  }
  pdsyevd_("V", "L", &d, wk->a, &one, &one, desc, wk->lam, wk->z, &one, &one,
           desc, work, &lwork, iwork, &liwork, &info, 1, 1);
  free(work);
  free(iwork);
  return sgm_error_agree(wk->g->comm, sgm_spectra_check_info("pdsyevd", info));
}

/* Values, orderings, cosines, local dimension and overlaps, on every rank
 * of the grid.  Collective. */
static int reduce(struct work *wk, double sigma2, double kappa,
                  sgm_spectra_t *out) {
  const sgm_blacs_t *g = wk->g;
  const int d = wk->dist.d, one = 1;
  const double done = 1.0, dzero = 0.0;
  const int *desc = wk->desc;
  /* The values as rank 0 holds them, so that every rank orders and counts
   * the same numbers (ScaLAPACK replicates them, not necessarily to the
   * last bit). */
  memcpy(wk->acc, wk->s, (size_t)d * sizeof *wk->acc);
  memcpy(wk->acc + d, wk->lam, (size_t)d * sizeof *wk->acc);
  SGM_MPI(MPI_Bcast(wk->acc, 2 * d, MPI_DOUBLE, 0, g->comm));
  memcpy(wk->s, wk->acc, (size_t)d * sizeof *wk->s);
  memcpy(wk->lam, wk->acc + d, (size_t)d * sizeof *wk->lam);
  for (int i = 0; i < d; i++)
    out->singular[i] = wk->s[d - 1 - i];
  sgm__order_by_magnitude(d, wk->lam, wk->idx);
  for (int i = 0; i < d; i++) {
    out->eigen[i] = wk->lam[wk->idx[i]];
    wk->wpos[wk->idx[i]] = i;
  }
  out->local_dimension = 0;
  for (int i = 0; i < d; i++)
    out->local_dimension += out->singular[i] == 0.0 ||
                            1.0 / out->singular[i] >= (1.0 + kappa) * sigma2;

  /* (U^T V)[a][b] = u_a . v_b, (U^T W)[a][b] = u_a . w_b and
   * (V^T W)[a][b] = v_a . w_b, with ScaLAPACK's column orders. */
  double *acc = wk->acc;
  memset(acc, 0, 4 * (size_t)d * sizeof *acc);
  pdgemm_("T", "T", &d, &d, &d, &done, wk->u, &one, &one, desc, wk->vt, &one,
          &one, desc, &dzero, wk->a, &one, &one, desc);
  bin_squares(wk, NULL, NULL, acc, acc + 3 * d);
  pdgemm_("T", "N", &d, &d, &d, &done, wk->u, &one, &one, desc, wk->z, &one,
          &one, desc, &dzero, wk->a, &one, &one, desc);
  bin_squares(wk, NULL, wk->wpos, acc + d, NULL);
  pdgemm_("N", "N", &d, &d, &d, &done, wk->vt, &one, &one, desc, wk->z, &one,
          &one, desc, &dzero, wk->a, &one, &one, desc);
  bin_squares(wk, NULL, wk->wpos, acc + 2 * d, NULL);
  /* Each cosine is on one rank (zeros elsewhere): the sum copies it. */
  SGM_MPI(
      MPI_Allreduce(MPI_IN_PLACE, acc, 4 * d, MPI_DOUBLE, MPI_SUM, g->comm));
  prefix_mean(d, acc, out->overlap_uv);
  prefix_mean(d, acc + d, out->overlap_uw);
  prefix_mean(d, acc + 2 * d, out->overlap_vw);
  memcpy(out->cosines, acc + 3 * d, (size_t)d * sizeof *acc);
  return 0;
}

/* Gathers one column of m to rank 0's dst.  Collective. */
static int gather_one(struct work *wk, const double *m, int c, double *dst) {
  if (wk->g->rank == 0)
    wk->dst[0] = dst;
  return gather_columns(wk, m, c, 1);
}

/* The named vectors (and u, v, w) on rank 0, signs as spectra.c's.
 * Collective. */
static int vectors(struct work *wk, enum sgm_spectra_keep keep,
                   sgm_spectra_t *out) {
  const int d = wk->dist.d, nb = wk->dist.nb, one = 1;
  const double done = 1.0, dzero = 0.0;
  const int root = wk->g->rank == 0;
  double **named = out->named;
  /* V = (V^T)^T, so that v_i is a column like u_i and w_i. */
  pdtran_(&d, &d, &done, wk->vt, &one, &one, wk->desc, &dzero, wk->a, &one,
          &one, wk->desc);
  const double *v = wk->a;
  if (keep == SGM_KEEP_ALL) {
    for (int c0 = 0; c0 < d; c0 += nb) {
      const int w = d - c0 < nb ? d - c0 : nb;
      for (int j = 0; j < w && root; j++)
        wk->dst[j] = out->u + (size_t)(d - 1 - (c0 + j)) * d;
      SGM_CALL(gather_columns(wk, wk->u, c0, w));
      for (int j = 0; j < w && root; j++)
        wk->dst[j] = out->v + (size_t)(d - 1 - (c0 + j)) * d;
      SGM_CALL(gather_columns(wk, v, c0, w));
      for (int j = 0; j < w && root; j++)
        wk->dst[j] = out->w + (size_t)wk->wpos[c0 + j] * d;
      SGM_CALL(gather_columns(wk, wk->z, c0, w));
    }
    if (!root)
      return 0;
    for (int i = 0; i < d; i++) {
      double *ui = out->u + (size_t)i * d, *wi = out->w + (size_t)i * d;
      const double sign = sgm__leading_sign(d, ui);
      sgm__scale(d, ui, sign);
      sgm__scale(d, out->v + (size_t)i * d, sign);
      sgm__scale(d, wi, sgm__leading_sign(d, wi));
    }
    const size_t bytes = (size_t)d * sizeof(double);
    memcpy(named[SGM_U_MINOR], out->u, bytes);
    memcpy(named[SGM_V_MINOR], out->v, bytes);
    memcpy(named[SGM_W_ZERO], out->w, bytes);
    memcpy(named[SGM_U_MAJOR], out->u + (size_t)(d - 1) * d, bytes);
    memcpy(named[SGM_V_MAJOR], out->v + (size_t)(d - 1) * d, bytes);
    memcpy(named[SGM_W_MINOR], out->w + (size_t)wk->wpos[0] * d, bytes);
    memcpy(named[SGM_W_MAJOR], out->w + (size_t)wk->wpos[d - 1] * d, bytes);
    return 0;
  }
  /* Singular values descend in ScaLAPACK's columns, eigenvalues ascend. */
  SGM_CALL(gather_one(wk, wk->u, d - 1, named[SGM_U_MINOR]));
  SGM_CALL(gather_one(wk, v, d - 1, named[SGM_V_MINOR]));
  SGM_CALL(gather_one(wk, wk->z, wk->idx[0], named[SGM_W_ZERO]));
  SGM_CALL(gather_one(wk, wk->u, 0, named[SGM_U_MAJOR]));
  SGM_CALL(gather_one(wk, v, 0, named[SGM_V_MAJOR]));
  SGM_CALL(gather_one(wk, wk->z, 0, named[SGM_W_MINOR]));
  SGM_CALL(gather_one(wk, wk->z, d - 1, named[SGM_W_MAJOR]));
  if (!root)
    return 0;
  const double minor = sgm__leading_sign(d, named[SGM_U_MINOR]);
  const double major = sgm__leading_sign(d, named[SGM_U_MAJOR]);
  sgm__scale(d, named[SGM_U_MINOR], minor);
  sgm__scale(d, named[SGM_V_MINOR], minor);
  sgm__scale(d, named[SGM_U_MAJOR], major);
  sgm__scale(d, named[SGM_V_MAJOR], major);
  sgm__scale(d, named[SGM_W_ZERO], sgm__leading_sign(d, named[SGM_W_ZERO]));
  sgm__scale(d, named[SGM_W_MINOR], sgm__leading_sign(d, named[SGM_W_MINOR]));
  sgm__scale(d, named[SGM_W_MAJOR], sgm__leading_sign(d, named[SGM_W_MAJOR]));
  return 0;
}

int sgm_spectra_compute_distributed(const sgm_blacs_t *grid, int d, int nb,
                                    const double *J_local, double sigma2,
                                    double kappa, enum sgm_spectra_keep keep,
                                    sgm_spectra_t *out) {
  memset(out, 0, sizeof *out);
  SGM_CHECK(grid, SGM_ERR_INTERNAL, "a distributed analysis without a grid");
  struct work wk = {.g = grid};
  int err = setup(&wk, d, nb, J_local, keep, out);
  SGM_CALL_GOTO(sgm_error_agree(grid->comm, err), fail);
  SGM_CALL_GOTO(svd(&wk, J_local), fail);
  SGM_CALL_GOTO(eig(&wk, J_local), fail);
  err = reduce(&wk, sigma2, kappa, out);
  if (!err && keep >= SGM_KEEP_NAMED)
    err = vectors(&wk, keep, out);
  SGM_CALL_GOTO(sgm_error_agree(grid->comm, err), fail);
  goto done;
fail:
  sgm_spectra_free(out);
done:
  free(wk.a);
  free(wk.u);
  free(wk.vt);
  free(wk.z);
  free(wk.s);
  free(wk.lam);
  free(wk.idx);
  free(wk.wpos);
  free(wk.acc);
  free(wk.recv);
  free(wk.counts);
  free(wk.displs);
  free(wk.dst);
  return err;
}
