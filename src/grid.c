/* The particle x training-shard process grid. */
#include "sgm/grid.h"

#include <stdio.h>
#include <stdlib.h>

#include "sgm/error.h"

static int auto_columns(int size, int64_t n_train) {
  int64_t want = n_train / SGM_GRID_MIN_SHARD;
  int best = 1;
  for (int c = 1; c <= size; c++)
    if (size % c == 0 && c <= want)
      best = c;
  return best;
}

int sgm_grid_create(MPI_Comm world, int rows, int64_t n_train,
                    sgm_grid_t **out) {
  int err = 0;
  *out = NULL;
  sgm_grid_t *g = NULL;
  SGM_CALL(SGM_CALLOC(g, 1));
  g->world = g->row = g->col = MPI_COMM_NULL;
  SGM_MPI_GOTO(MPI_Comm_dup(world, &g->world), fail);
  MPI_Comm_rank(g->world, &g->rank);
  MPI_Comm_size(g->world, &g->size);
  if (rows <= 0) {
    g->cols = auto_columns(g->size, n_train);
    g->rows = g->size / g->cols;
  } else {
    SGM_CHECK_GOTO(g->size % rows == 0, SGM_ERR_CONFIG, fail,
                   "[grid] rows = %d must divide the number of MPI ranks (%d)",
                   rows, g->size);
    g->rows = rows;
    g->cols = g->size / rows;
  }
  g->my_row = g->rank / g->cols;
  g->my_col = g->rank % g->cols;
  SGM_MPI_GOTO(MPI_Comm_split(g->world, g->my_row, g->my_col, &g->row), fail);
  SGM_MPI_GOTO(MPI_Comm_split(g->world, g->my_col, g->my_row, &g->col), fail);
  *out = g;
  return 0;
fail:
  sgm_grid_destroy(&g);
  return err;
}

void sgm_grid_destroy(sgm_grid_t **grid) {
  if (!grid || !*grid)
    return;
  sgm_grid_t *g = *grid;
  if (g->row != MPI_COMM_NULL)
    MPI_Comm_free(&g->row);
  if (g->col != MPI_COMM_NULL)
    MPI_Comm_free(&g->col);
  if (g->world != MPI_COMM_NULL)
    MPI_Comm_free(&g->world);
  free(g);
  *grid = NULL;
}

void sgm_grid_block(int64_t n, int parts, int part, int64_t *first,
                    int64_t *count) {
  int64_t base = n / parts, extra = n % parts;
  *count = base + (part < extra ? 1 : 0);
  *first = part * base + (part < extra ? part : extra);
}

const char *sgm_grid_describe(const sgm_grid_t *grid, char *buf, int len) {
  snprintf(buf, (size_t)len, "%dx%d", grid->rows, grid->cols);
  return buf;
}
