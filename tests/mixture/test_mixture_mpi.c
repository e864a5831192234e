/*
 * The distributed kernel gives the same answers for every rank count and
 * grid shape: nearest indices identical, scores, denoisers and log densities
 * equal to 1e-12 relative to a single-rank evaluation (only the association
 * of the shards' sums changes, ~1e-16 per operation), and the ranks of a row
 * agree to the last bit (they go on to move the same particles).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "sgm/grid.h"
#include "sgm/mixture.h"
#include "sgm/rng.h"
#include "sgm_test.h"

#define TOL 1e-12

/* The float32 stream (when set): its guard, the tolerance against the
 * single-rank float32 evaluation (each shard is centred at its own mean, so
 * the float32 roundings differ with the sharding), and the redone count of
 * the last evaluation. */
static int use_f32;
static double f32_guard, tol = TOL;
static int64_t f32_redone;

struct results {
  double *score, *denoised, *lp, *dist;
  int64_t *idx;
};

static void alloc_results(struct results *r, int64_t p, int d, int heads) {
  r->score = calloc((size_t)(p * d * heads), sizeof(double));
  r->denoised = calloc((size_t)(p * d * heads), sizeof(double));
  r->lp = calloc((size_t)(p * heads), sizeof(double));
  r->dist = calloc((size_t)p, sizeof(double));
  r->idx = calloc((size_t)p, sizeof(int64_t));
}

static void free_results(struct results *r) {
  free(r->score);
  free(r->denoised);
  free(r->lp);
  free(r->dist);
  free(r->idx);
}

/* Evaluates particles [first, first + count) with a mixture over comm. */
static void evaluate(const double *y, int64_t n, int d, int64_t c_first,
                     int64_t c_count, MPI_Comm comm, const double *x,
                     int64_t count, double m, double s2, struct results *r,
                     int64_t stride) {
  double hv[2] = {0.0, 0.02};
  sgm_mixture_desc_t desc = {.d = d,
                             .n = n,
                             .offset = c_first,
                             .n_local = c_count,
                             .centres = y + c_first * d,
                             .comm = comm};
  sgm_mixture_t *mix = NULL;
  ASSERT_OK(sgm_mixture_create(&desc, 2, hv, &mix));
  sgm_mixture_set_blocking(mix, 16, 32);
  if (use_f32)
    sgm_mixture_set_float32(mix, 1, f32_guard);
  sgm_mixture_out_t out[2];
  for (int h = 0; h < 2; h++)
    out[h] = (sgm_mixture_out_t){.score = r->score + h * stride * d,
                                 .log_density = r->lp + h * stride,
                                 .denoised = r->denoised + h * stride * d};
  sgm_nearest_t near = {.index = r->idx, .distance = r->dist};
  ASSERT_OK(sgm_mixture_eval(mix, m, s2, count, x, out, &near));
  int64_t evals = 0;
  f32_redone = 0;
  if (use_f32 && sgm_mixture_is_float32(mix))
    sgm_mixture_float32_stats(mix, &evals, &f32_redone);
  sgm_mixture_destroy(&mix);
}

static void run_case(int64_t n, int d, int64_t p, int rows, double m,
                     double s2) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double *y = malloc(sizeof *y * (size_t)(n * d));
  double *x = malloc(sizeof *x * (size_t)(p * d));
  sgm_rng_t r;
  sgm_rng_init(&r, 99, SGM_RNG_TEST, (uint64_t)n, (uint64_t)d);
  for (int64_t i = 0; i < n * d; i++)
    y[i] = 2 * sgm_rng_uniform(&r) - 1;
  for (int64_t i = 0; i < p; i++) {
    int64_t j = (int64_t)sgm_rng_below(&r, (uint64_t)n);
    for (int k = 0; k < d; k++)
      x[i * d + k] =
          m * y[j * d + k] + sqrt(s2) * (2 * sgm_rng_uniform(&r) - 1);
  }

  /* Reference: everything on one rank. */
  struct results ref;
  alloc_results(&ref, p, d, 2);
  evaluate(y, n, d, 0, n, MPI_COMM_SELF, x, p, m, s2, &ref, p);

  sgm_grid_t *grid = NULL;
  ASSERT_OK(sgm_grid_create(MPI_COMM_WORLD, rows, n, &grid));
  if (!grid)
    return;
  int64_t c_first, c_count, p_first, p_count;
  sgm_grid_block(n, grid->cols, grid->my_col, &c_first, &c_count);
  sgm_grid_block(p, grid->rows, grid->my_row, &p_first, &p_count);
  struct results got;
  alloc_results(&got, p_count > 0 ? p_count : 1, d, 2);
  evaluate(y, n, d, c_first, c_count, grid->row, x + p_first * d, p_count, m,
           s2, &got, p_count);

  /* Every rank of the row holds the same bits as the row's first rank. */
  int64_t len = p_count * d * 2;
  double *mine = malloc(sizeof *mine * (size_t)(len + 1));
  memcpy(mine, got.score, sizeof *mine * (size_t)len);
  MPI_Bcast(mine, (int)len, MPI_DOUBLE, 0, grid->row);
  ASSERT_TRUE(memcmp(mine, got.score, sizeof *mine * (size_t)len) == 0);
  free(mine);
  /* ... and the float32 guard redid the same particles on each. */
  int64_t redone = f32_redone;
  MPI_Bcast(&redone, 1, MPI_INT64_T, 0, grid->row);
  ASSERT_INT_EQ(redone, f32_redone);

  for (int64_t i = 0; i < p_count; i++) {
    int64_t g = p_first + i;
    ASSERT_INT_EQ(got.idx[i], ref.idx[g]);
    ASSERT_REL(got.dist[i], ref.dist[g], TOL);
    for (int h = 0; h < 2; h++) {
      double es = rel_err(got.score + (h * p_count + i) * d,
                          ref.score + (h * p + g) * d, d);
      double ed = rel_err(got.denoised + (h * p_count + i) * d,
                          ref.denoised + (h * p + g) * d, d);
      if (!(es <= tol && ed <= tol))
        SGM_TEST_FAIL("grid %dx%d, N=%lld, particle %lld head %d: score %.2e "
                      "denoised %.2e",
                      grid->rows, grid->cols, (long long)n, (long long)g, h, es,
                      ed);
      ASSERT_NEAR(got.lp[h * p_count + i], ref.lp[h * p + g],
                  tol * fmax(1, fabs(ref.lp[h * p + g])));
    }
  }
  free_results(&got);
  free_results(&ref);
  sgm_grid_destroy(&grid);
  free(x);
  free(y);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  /* Every grid shape the world size allows, at a large and a small sigma. */
  for (int rows = 1; rows <= size; rows++) {
    if (size % rows)
      continue;
    run_case(1000, 50, 37, rows, 0.9, 0.05);
    run_case(1000, 50, 37, rows, 0.9999, 1e-5);
    /* d <= 3 (the cell-grid kernel), pruned and not. */
    run_case(2000, 2, 37, rows, 0.9, 0.05);
    run_case(2000, 3, 37, rows, 0.9999, 1e-5);
    /* Fewer components than columns: some shards are empty. */
    run_case(3, 5, 11, rows, 0.7, 0.3);
  }
  /* rows = auto */
  run_case(5000, 20, 23, 0, 0.8, 0.01);
  /* The float32 stream: the same checks at its tolerance, with the guard
   * at its default and at one that sends every particle back to float64
   * (collectively: the ranks of a row must redo alike); with empty shards
   * (N = 3 over up to 4 columns) and d > 3. */
  use_f32 = 1;
  tol = 1e-5;
  const double guards[2] = {0.1, 0.0};
  for (int k = 0; k < 2; k++) {
    f32_guard = guards[k];
    for (int rows = 1; rows <= size; rows++) {
      if (size % rows)
        continue;
      run_case(1000, 50, 37, rows, 0.9, 0.05);
      run_case(1000, 50, 37, rows, 0.9999, 1e-5);
      run_case(3, 5, 11, rows, 0.7, 0.3);
      run_case(7, 9, 11, rows, 0.99, 1e-3);
    }
  }
  return sgm_test_finish();
}
