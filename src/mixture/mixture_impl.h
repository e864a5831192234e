/* Private to the mixture module: the layout of the per-particle partial sums
 * that the shards combine, and the reduction that combines them. */
#ifndef SGM_MIXTURE_IMPL_H
#define SGM_MIXTURE_IMPL_H

#include <mpi.h>
#include <stdint.h>

/*
 * One particle's record: for each head [M, Z, A, B, U_1..U_d] (a running
 * log-sum-exp: M the largest logit seen, Z = sum e^{l-M}, A = sum e^{l-M} a_i,
 * B = sum e^{l-M} a_i v_i, U = sum e^{l-M} c_i mu_i with c_i = 1 or a_i),
 * then [r1, i1, r2, i2], the squared distance and global index of the
 * nearest and second-nearest centre (index -1 and r = +inf when none).
 */
enum { REC_M = 0, REC_Z = 1, REC_A = 2, REC_B = 3, REC_U = 4 };

typedef struct sgm__mixture_layout {
  int nheads;
  int d;
  int head_len; /* 4 + d */
  int rec_len;  /* nheads * head_len + 4 */
} sgm__mixture_layout_t;

/** Merges record b into record a (the reduction's operation on one pair). */
void sgm__mixture_merge(const sgm__mixture_layout_t *layout,
                        const double *restrict b, double *restrict a);

/**
 * Combines the records of p particles over comm so that every rank ends with
 * the same bits (a reduction to rank 0 followed by a broadcast).  Collective.
 */
int sgm__mixture_combine(const sgm__mixture_layout_t *layout, MPI_Comm comm,
                         int64_t p, double *records);

/* The kernel for d <= 3 (lowdim.c): a cell grid over the shard and a fused
 * loop that fills the same records as the GEMM stream (equal variances,
 * equal weights). */
typedef struct sgm__lowdim sgm__lowdim_t;

/** Sorts the shard's n points (global indices from offset) into cells. */
int sgm__lowdim_create(int d, int64_t n, int64_t offset, const double *y,
                       sgm__lowdim_t **out);

void sgm__lowdim_destroy(sgm__lowdim_t **grid);

/**
 * The records of p particles x against the shard, heads of precisions
 * a[h] = 1 / (m^2 v_h + sigma^2), on `threads` threads.
 */
void sgm__lowdim_stream(const sgm__lowdim_t *grid,
                        const sgm__mixture_layout_t *layout, const double *a,
                        double m, int64_t p, const double *x, double *records,
                        int want_nearest, int threads);

#endif /* SGM_MIXTURE_IMPL_H */
