/**
 * @file grid.h
 * The 2-D process grid: R rows (slices of the particle ensemble) times C
 * columns (shards of the training set).
 *
 * Ranks are numbered row-major, rank = row * C + column, so the ranks of a
 * row -- the ones that combine their shards' log-sum-exp for the same
 * particles -- are neighbours, and stay on one node whenever C divides the
 * ranks per node.
 */
#ifndef SGM_GRID_H
#define SGM_GRID_H

#include <mpi.h>
#include <stdint.h>

typedef struct sgm_grid {
  MPI_Comm world; /* duplicate of the communicator the grid was built on */
  MPI_Comm row;   /* the C ranks that hold the same particles */
  MPI_Comm col;   /* the R ranks that hold the same training shard */
  int rank, size;
  int rows, cols;
  int my_row, my_col;
} sgm_grid_t;

/** Smallest shard, in training examples, that rows = auto aims for. */
#define SGM_GRID_MIN_SHARD 1024

/**
 * Builds the grid.  Collective over world.
 * @param rows    R, or 0 for auto: the most columns C dividing the world
 *                size with at least SGM_GRID_MIN_SHARD examples per shard
 *                (at least one column), R = size / C.
 * @param n_train training examples (used by auto only).
 * @return 0, or SGM_ERR_CONFIG when rows does not divide the world size.
 */
int sgm_grid_create(MPI_Comm world, int rows, int64_t n_train,
                    sgm_grid_t **out);

/** Frees the communicators; sets the handle to NULL (NULL allowed). */
void sgm_grid_destroy(sgm_grid_t **grid);

/**
 * The part-th of parts contiguous, near-equal blocks of [0, n): the first
 * n % parts blocks hold one extra element.
 */
void sgm_grid_block(int64_t n, int parts, int part, int64_t *first,
                    int64_t *count);

/** "RxC" (e.g. "2x3"), for logs and provenance. */
const char *sgm_grid_describe(const sgm_grid_t *grid, char *buf, int len);

#endif /* SGM_GRID_H */
