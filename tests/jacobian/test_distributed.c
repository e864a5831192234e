/*
 * The distributed Jacobian analysis (ScaLAPACK, jacobian.h) against the
 * serial one (LAPACK): every value and every vector, on the grids that fit
 * the world (1x1, 1x2, 2x1, 2x2, 4x1, and side-by-side sub-grids analysing
 * different matrices at once), for block sizes 1, 3, 7, 8 and 16 (8
 * divides d = 40, the others divide none of the dimensions, d is rarely a
 * multiple of nb P, and nb > d = 5 leaves ranks without entries) and d in
 * {5, 40, 130} (and 1, 2); then the errors and the layout arithmetic.
 *
 * Tolerance 1e-10 on every difference from the serial results: both
 * analyses are backward stable (the computed decompositions are exact for
 * a J perturbed by ~c d u |J|, u = 1.1e-16, d <= 130, |J| <= ~130 here:
 * ~1e-12), so values differ by that much and vectors by that over the gap
 * to the neighbouring values.  The test matrices are built with
 * well-separated spectra: singular values 0.5 + 0.25 i (gaps 0.25) for the
 * SVD family, eigenvalues +-(0.5 + 0.25 i) (distinct magnitudes, gaps 0.25)
 * for the symmetric one, and eigenvalues +-(1 + i) of the symmetric part
 * with a skew part of norm 0.3 (singular gaps >= 0.4 by Weyl's inequality)
 * for the skew one.  The SVD family's eigenvalues of J~ are not controlled
 * by construction, so the test checks that their gaps exceed 1e-4 (error
 * bound d u |J| / gap < 5e-11) before relying on the eigenvectors; the
 * fixed seeds give at least 1.9e-4.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/error.h"
#include "sgm/jacobian.h"
#include "sgm/rng.h"
#include "sgm_test.h"

#define TOL 1e-10

static int world_rank, world_size;

/* The worst differences from the serial results seen by this rank. */
enum { D_SINGULAR, D_EIGEN, D_COSINE, D_OVERLAP, D_NAMED, D_VECTOR, D_COUNT };
static const char *const diff_names[D_COUNT] = {"singular", "eigen", "cosines",
                                                "overlaps", "named", "u/v/w"};
static double worst[D_COUNT];

enum family { F_SVD, F_SYMMETRIC, F_SKEW, F_COUNT };
static const char *const family_names[F_COUNT] = {"svd", "symmetric", "skew"};

/* J (row-major) = sum_i a_i value_i b_i^T over the rows a_i of A, b_i of B. */
static void outer_sum(int d, const double *A, const double *value,
                      const double *B, double *J) {
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) {
      double x = 0;
      for (int i = 0; i < d; i++)
        x += A[i * d + a] * value[i] * B[i * d + b];
      J[a * d + b] = x;
    }
}

/*
 * The test matrices (the same on every rank), and the local-dimension
 * threshold's sigma2 placed between two singular values (kappa 0.1) with
 * the count expected below it.
 */
static void make_matrix(enum family f, int d, uint64_t seed, double *J,
                        double *sigma2, int *expect_dim) {
  double *Q1 = malloc(sizeof *Q1 * (size_t)(d * d));
  double *Q2 = malloc(sizeof *Q2 * (size_t)(d * d));
  double *value = calloc((size_t)d, sizeof *value);
  ASSERT_OK(sgm_rng_frame(seed, SGM_RNG_TEST, d, d, Q1));
  ASSERT_OK(sgm_rng_frame(seed + 1000, SGM_RNG_TEST, d, d, Q2));
  const int k = d / 3; /* singular values 0..k lie below the threshold */
  double threshold;    /* 1 / ((1 + kappa) sigma2) */
  if (f == F_SVD) {
    /* Singular values in a scrambled order, so that nothing is aligned. */
    for (int i = 0; i < d; i++)
      value[i] = 0.5 + 0.25 * ((i * 7 + 3) % d);
    if (d % 7 == 0)
      for (int i = 0; i < d; i++)
        value[i] = 0.5 + 0.25 * i;
    outer_sum(d, Q1, value, Q2, J);
    threshold = 0.5 + 0.25 * (k + 0.5);
  } else {
    const double step = f == F_SKEW ? 1.0 : 0.25, base = f == F_SKEW ? 1 : 0.5;
    for (int i = 0; i < d; i++)
      value[i] = (i % 2 ? -1.0 : 1.0) * (base + step * i);
    outer_sum(d, Q1, value, Q1, J);
    for (int a = 0; a < d; a++) /* exactly symmetric */
      for (int b = 0; b < a; b++)
        J[b * d + a] = J[a * d + b];
    threshold = base + step * (k + 0.5);
    if (f == F_SKEW) {
      /* K = (G - G^T) / 2 scaled to spectral norm 0.3 (its largest
       * singular value, from the serial analysis). */
      double *K = malloc(sizeof *K * (size_t)(d * d));
      for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++)
          K[a * d + b] = 0.5 * (Q2[a * d + b] - Q2[b * d + a]);
      sgm_spectra_t s;
      ASSERT_OK(sgm_spectra_compute(d, K, 1, 0.1, &s));
      const double c =
          s.singular[d - 1] > 0.1 ? 0.3 / s.singular[d - 1] : 0; /* d <= 2 */
      sgm_spectra_free(&s);
      for (int i = 0; i < d * d; i++)
        J[i] += c * K[i];
      free(K);
    }
  }
  *sigma2 = 1.0 / (1.1 * threshold);
  *expect_dim = k + 1 < d ? k + 1 : d;
  free(Q1);
  free(Q2);
  free(value);
}

static double max_diff(int n, const double *a, const double *b) {
  double m = 0;
  for (int i = 0; i < n; i++) {
    double e = fabs(a[i] - b[i]);
    if (!(e <= m))
      m = e; /* NaN wins */
  }
  return m;
}

static void check_diff(int what, double diff, const char *label) {
  if (!(diff <= worst[what]))
    worst[what] = diff;
  if (!(diff <= TOL))
    SGM_TEST_FAIL("%s: %s differ from the serial analysis by %.3g", label,
                  diff_names[what], diff);
}

/* The smallest gap between the eigenvalues and between their magnitudes
 * (the SVD family's eigenvectors and their order rest on them). */
static double eigen_gap(const sgm_spectra_t *s) {
  double gap = INFINITY;
  for (int i = 1; i < s->d; i++) {
    double g = fabs(s->eigen[i]) - fabs(s->eigen[i - 1]);
    gap = g < gap ? g : gap;
    for (int j = 0; j < i; j++) {
      g = fabs(s->eigen[i] - s->eigen[j]);
      gap = g < gap ? g : gap;
    }
  }
  return gap;
}

/* This rank's part of the row-major J in the block-cyclic layout: exactly
 * lld x cols entries, NULL when none (the analysis must cope). */
static double *distribute(const sgm_dist_t *dist, const double *J) {
  const int lld = dist->rows > 1 ? dist->rows : 1;
  const size_t n = (size_t)lld * dist->cols;
  double *local = n ? malloc(n * sizeof *local) : NULL;
  for (int c = 0; c < dist->cols; c++)
    for (int l = 0; l < dist->rows; l++) {
      int gr = sgm_dist_global(l, dist->nb, dist->prow, dist->P);
      int gc = sgm_dist_global(c, dist->nb, dist->pcol, dist->Q);
      local[l + (size_t)c * lld] = J[(size_t)gr * dist->d + gc];
    }
  return local;
}

/* Every rank of the grid holds the same values, bit for bit. */
static void check_replicated(MPI_Comm comm, const sgm_spectra_t *s,
                             const char *label) {
  const int d = s->d;
  const double *mine[] = {s->singular,   s->eigen,      s->cosines,
                          s->overlap_uv, s->overlap_uw, s->overlap_vw};
  double *buf = malloc(sizeof *buf * (size_t)(6 * d + 1));
  for (int q = 0; q < 6; q++)
    memcpy(buf + q * d, mine[q], sizeof *buf * (size_t)d);
  buf[6 * d] = (double)s->local_dimension;
  double *root = malloc(sizeof *root * (size_t)(6 * d + 1));
  memcpy(root, buf, sizeof *buf * (size_t)(6 * d + 1));
  MPI_Bcast(root, 6 * d + 1, MPI_DOUBLE, 0, comm);
  if (memcmp(root, buf, sizeof *buf * (size_t)(6 * d + 1)) != 0)
    SGM_TEST_FAIL("%s: the grid's ranks hold different results", label);
  free(buf);
  free(root);
}

/*
 * One analysis on grid (over comm) against the serial one.  On the grid's
 * rank 0 the vectors too, elsewhere their absence.
 */
static void check_case(MPI_Comm comm, sgm_blacs_t *grid, enum family f, int d,
                       int nb, uint64_t seed, enum sgm_spectra_keep keep) {
  int P, Q, prow, pcol;
  sgm_blacs_shape(grid, &P, &Q, &prow, &pcol);
  char label[160];
  snprintf(label, sizeof label, "%s d=%d nb=%d grid %dx%d keep=%d seed=%llu",
           family_names[f], d, nb, P, Q, (int)keep, (unsigned long long)seed);
  double *J = malloc(sizeof *J * (size_t)(d * d)), sigma2;
  int expect_dim;
  make_matrix(f, d, seed, J, &sigma2, &expect_dim);
  sgm_spectra_t ref, s;
  ASSERT_OK(sgm_spectra_compute(d, J, sigma2, 0.1, &ref));
  if (f == F_SVD && d > 1 && !(eigen_gap(&ref) > 1e-4))
    SGM_TEST_FAIL("%s: the test matrix's eigenvalue gap %.3g is too small "
                  "for the tolerance",
                  label, eigen_gap(&ref));
  sgm_dist_t dist;
  sgm_dist_init(d, nb, P, Q, prow, pcol, &dist);
  double *local = distribute(&dist, J);
  ASSERT_OK(sgm_spectra_compute_distributed(grid, d, nb, local, sigma2, 0.1,
                                            keep, &s));
  if (!s.singular) {
    SGM_TEST_FAIL("%s: no results", label);
    goto done;
  }
  ASSERT_INT_EQ(s.d, d);
  ASSERT_INT_EQ(s.local_dimension, ref.local_dimension);
  ASSERT_INT_EQ(s.local_dimension, expect_dim);
  check_diff(D_SINGULAR, max_diff(d, s.singular, ref.singular), label);
  check_diff(D_EIGEN, max_diff(d, s.eigen, ref.eigen), label);
  check_diff(D_COSINE, max_diff(d, s.cosines, ref.cosines), label);
  double o = max_diff(d, s.overlap_uv, ref.overlap_uv);
  double o2 = max_diff(d, s.overlap_uw, ref.overlap_uw);
  double o3 = max_diff(d, s.overlap_vw, ref.overlap_vw);
  o = o2 > o ? o2 : o;
  check_diff(D_OVERLAP, o3 > o ? o3 : o, label);
  check_replicated(comm, &s, label);
  if (f == F_SYMMETRIC)
    for (int i = 0; i < d; i++) {
      ASSERT_NEAR(fabs(s.cosines[i]), 1.0, TOL);
      ASSERT_NEAR(s.overlap_uv[i], 1.0, TOL);
      ASSERT_NEAR(s.overlap_uw[i], 1.0, TOL);
      ASSERT_NEAR(s.overlap_vw[i], 1.0, TOL);
    }
  const int root = prow == 0 && pcol == 0;
  const int named = root && keep >= SGM_KEEP_NAMED;
  const int all = root && keep == SGM_KEEP_ALL;
  for (int i = 0; i < SGM_NAMED_COUNT; i++) {
    if (!named) {
      ASSERT_TRUE(s.named[i] == NULL);
      continue;
    }
    if (!s.named[i]) {
      SGM_TEST_FAIL("%s: no %s", label, sgm_named_vector_names[i]);
      continue;
    }
    char what[200];
    snprintf(what, sizeof what, "%s %s", label, sgm_named_vector_names[i]);
    check_diff(D_NAMED, max_diff(d, s.named[i], ref.named[i]), what);
  }
  if (all && s.u && s.v && s.w) {
    o = max_diff(d * d, s.u, ref.u);
    o2 = max_diff(d * d, s.v, ref.v);
    o3 = max_diff(d * d, s.w, ref.w);
    o = o2 > o ? o2 : o;
    check_diff(D_VECTOR, o3 > o ? o3 : o, label);
  } else if (all) {
    SGM_TEST_FAIL("%s: u, v or w missing", label);
  } else {
    ASSERT_TRUE(s.u == NULL && s.v == NULL && s.w == NULL);
  }
done:
  sgm_spectra_free(&s);
  ASSERT_TRUE(s.singular == NULL && s.named[0] == NULL);
  sgm_spectra_free(&ref);
  free(local);
  free(J);
}

/* Every family, dimension and block size on one P x Q grid of comm; salt
 * makes side-by-side grids analyse different matrices. */
static void check_grid(MPI_Comm comm, int P, int Q, uint64_t salt) {
  sgm_blacs_t *grid = NULL;
  ASSERT_OK(sgm_blacs_create(comm, P, Q, &grid));
  if (!grid)
    return;
  int rank, p, q, prow, pcol;
  MPI_Comm_rank(comm, &rank);
  sgm_blacs_shape(grid, &p, &q, &prow, &pcol);
  ASSERT_INT_EQ(p, P);
  ASSERT_INT_EQ(q, Q);
  ASSERT_INT_EQ(prow, rank / Q);
  ASSERT_INT_EQ(pcol, rank % Q);
  static const int dims[] = {5, 40, 130}, blocks[] = {1, 3, 7, 8, 16};
  int n = 0;
  for (int di = 0; di < 3; di++)
    for (int bi = 0; bi < 5; bi++)
      for (int f = 0; f < F_COUNT; f++, n++) {
        const int d = dims[di], nb = blocks[bi];
        /* d = 130 is the slow size (about 0.4 s an analysis on 4
         * oversubscribed ranks): there nb = 3 and 16 (neither divides d
         * nor makes d a multiple of nb P), and nb = 1 for one family;
         * d = 40 has shown nb = 7 and 8. */
        if (d == 130 && (nb == 7 || nb == 8 || (nb == 1 && f != F_SKEW)))
          continue;
        enum sgm_spectra_keep keep = n % 2 ? SGM_KEEP_NAMED : SGM_KEEP_ALL;
        check_case(comm, grid, (enum family)f, d, nb, 100 * salt + n, keep);
      }
  check_case(comm, grid, F_SKEW, 40, 3, 7 + salt, SGM_KEEP_NONE);
  /* d = 1 and d = 2: fewer entries than ranks. */
  check_case(comm, grid, F_SYMMETRIC, 1, 1, 9 + salt, SGM_KEEP_ALL);
  check_case(comm, grid, F_SKEW, 2, 1, 9 + salt, SGM_KEEP_ALL);
  check_case(comm, grid, F_SVD, 2, 3, 9 + salt, SGM_KEEP_NAMED);
  sgm_blacs_destroy(&grid);
  ASSERT_TRUE(grid == NULL);
  sgm_blacs_destroy(&grid);
}

/* Two grids side by side on halves of the world, at the same time. */
static void check_side_by_side(int P, int Q) {
  MPI_Comm half;
  const int color = world_rank / (P * Q);
  MPI_Comm_split(MPI_COMM_WORLD, color, world_rank, &half);
  check_grid(half, P, Q, 11 + (uint64_t)color);
  MPI_Comm_free(&half);
}

/* A NaN or an infinity on one rank fails every rank with SGM_ERR_INPUT. */
static void check_bad_input(int P, int Q) {
  sgm_blacs_t *grid = NULL;
  ASSERT_OK(sgm_blacs_create(MPI_COMM_WORLD, P, Q, &grid));
  if (!grid)
    return;
  const int d = 40, nb = 3;
  int prow, pcol;
  sgm_blacs_shape(grid, NULL, NULL, &prow, &pcol);
  double *J = malloc(sizeof *J * (size_t)(d * d)), sigma2;
  int expect_dim;
  make_matrix(F_SKEW, d, 5, J, &sigma2, &expect_dim);
  const double bad[2] = {NAN, -INFINITY};
  for (int t = 0; t < 2; t++) {
    /* An entry the grid's last rank holds, (P - 1) nb + t, (Q - 1) nb. */
    const int gr = (P - 1) * nb + t, gc = (Q - 1) * nb;
    const double keep = J[gr * d + gc];
    J[gr * d + gc] = bad[t];
    sgm_dist_t dist;
    sgm_dist_init(d, nb, P, Q, prow, pcol, &dist);
    double *local = distribute(&dist, J);
    sgm_spectra_t s;
    char text[64];
    snprintf(text, sizeof text, "at (%d, %d)", gr, gc);
    ASSERT_FAILS(sgm_spectra_compute_distributed(grid, d, nb, local, sigma2,
                                                 0.1, SGM_KEEP_ALL, &s),
                 SGM_ERR_INPUT, text);
    ASSERT_TRUE(s.singular == NULL && s.u == NULL && s.named[0] == NULL);
    free(local);
    J[gr * d + gc] = keep;
  }
  free(J);
  sgm_blacs_destroy(&grid);
}

static void check_errors(void) {
  static char sentinel;
  sgm_blacs_t *grid = (sgm_blacs_t *)(void *)&sentinel; /* must be reset */
  ASSERT_FAILS(sgm_blacs_create(MPI_COMM_WORLD, world_size + 1, 1, &grid),
               SGM_ERR_INTERNAL, "communicator of");
  ASSERT_TRUE(grid == NULL);
  ASSERT_FAILS(sgm_blacs_create(MPI_COMM_WORLD, 1, 2 * world_size, &grid),
               SGM_ERR_INTERNAL, "BLACS grid");
  ASSERT_FAILS(sgm_blacs_create(MPI_COMM_WORLD, 0, world_size, &grid),
               SGM_ERR_INTERNAL, "BLACS grid");
  sgm_blacs_destroy(NULL);

  ASSERT_INT_EQ(sgm_spectra_check_info("pdgesvd", 0), 0);
  ASSERT_FAILS(sgm_spectra_check_info("pdgesvd", -3), SGM_ERR_INTERNAL,
               "pdgesvd: argument 3 is invalid");
  ASSERT_FAILS(sgm_spectra_check_info("pdsyevd", 2), SGM_ERR_NUMERIC,
               "pdsyevd failed numerically (info 2");
}

/* The block-cyclic arithmetic: every index on exactly one process, where
 * ScaLAPACK's NUMROC puts it. */
static void check_layout(void) {
  static const int dims[] = {1, 5, 40, 130, 784}, blocks[] = {1, 3, 7, 16, 64};
  for (int di = 0; di < 5; di++)
    for (int bi = 0; bi < 5; bi++)
      for (int P = 1; P <= 5; P++) {
        const int d = dims[di], nb = blocks[bi];
        int *seen = calloc((size_t)d, sizeof *seen), total = 0;
        for (int p = 0; p < P; p++) {
          sgm_dist_t dist;
          sgm_dist_init(d, nb, P, 1, p, 0, &dist);
          ASSERT_INT_EQ(dist.cols, d);
          total += dist.rows;
          for (int l = 0; l < dist.rows; l++) {
            int g = sgm_dist_global(l, nb, p, P);
            if (g < 0 || g >= d)
              SGM_TEST_FAIL("d=%d nb=%d P=%d: local %d of %d is %d", d, nb, P,
                            l, p, g);
            else {
              seen[g]++;
              /* The owner of global g is block (g / nb) mod P. */
              ASSERT_INT_EQ((g / nb) % P, p);
            }
          }
        }
        ASSERT_INT_EQ(total, d);
        for (int g = 0; g < d; g++)
          ASSERT_INT_EQ(seen[g], 1);
        free(seen);
      }
  sgm_dist_t dist;
  sgm_dist_init(130, 16, 2, 3, 1, 2, &dist); /* 130 = 4 * 32 + 2 */
  ASSERT_INT_EQ(dist.rows, 64);
  ASSERT_INT_EQ(dist.cols, 34);
  sgm_dist_init(130, 16, 2, 3, 0, 0, &dist);
  ASSERT_INT_EQ(dist.rows, 66);
  ASSERT_INT_EQ(dist.cols, 48);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  check_layout();
  check_errors();
  if (world_size == 1) {
    check_grid(MPI_COMM_WORLD, 1, 1, 1);
    check_bad_input(1, 1);
  } else if (world_size == 2) {
    check_grid(MPI_COMM_WORLD, 1, 2, 2);
    check_grid(MPI_COMM_WORLD, 2, 1, 3);
    check_side_by_side(1, 1);
    check_bad_input(2, 1);
  } else if (world_size == 4) {
    check_grid(MPI_COMM_WORLD, 2, 2, 4);
    check_grid(MPI_COMM_WORLD, 4, 1, 5);
    check_side_by_side(1, 2);
    check_bad_input(2, 2);
  } else {
    check_grid(MPI_COMM_WORLD, 1, world_size, 6);
    check_bad_input(1, world_size);
  }
  double all[D_COUNT];
  MPI_Reduce(worst, all, D_COUNT, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (world_rank == 0) {
    fprintf(stderr, "worst differences from the serial analysis:");
    for (int i = 0; i < D_COUNT; i++)
      fprintf(stderr, " %s %.2e", diff_names[i], all[i]);
    fputc('\n', stderr);
  }
  return sgm_test_finish();
}
