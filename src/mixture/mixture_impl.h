/* Private to the mixture module: the layout of the per-particle partial sums
 * that the shards combine and the reduction that combines them (reduce.c),
 * the state of a mixture shared by its set-up (mixture.c) and its GEMM
 * stream (stream.c), and the d <= 3 kernel (lowdim.c). */
#ifndef SGM_MIXTURE_IMPL_H
#define SGM_MIXTURE_IMPL_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * One particle's record: for each head [M, Z, A, B, E, U_1..U_d] (a running
 * log-sum-exp: M the largest logit seen, Z = sum e^{l-M}, A = sum e^{l-M} a_i,
 * B = sum e^{l-M} a_i v_i, U = sum e^{l-M} c_i mu_i with c_i = 1 or a_i;
 * E, float32 stream only: a bound on the error of Z's float32 part, in the
 * same units), then [r1, i1, r2, i2], the squared distance and global index
 * of the nearest and second-nearest centre (index -1 and r = +inf when
 * none).  Every field from Z on is a sum that rescales with M.
 */
enum { REC_M = 0, REC_Z = 1, REC_A = 2, REC_B = 3, REC_E = 4, REC_U = 5 };

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

typedef struct sgm__lowdim sgm__lowdim_t;

/* ---- The state of a mixture, shared by mixture.c (set-up, the evaluation
 * and its outputs) and stream.c (the GEMM stream over the shard). */
#include "sgm/mixture.h"

#define CAND 8
/* Room in a near list: NEAR for the float64 stream, NEAR_F32 for the
 * float32 one, whose error band around the second nearest is wider. */
#define NEAR 4
#define NEAR_F32 16

struct cand_list { /* the CAND largest head-0 logits seen so far */
  double logit[CAND], q[CAND];
  int64_t j[CAND];
  /* float32 stream: left out of the weighted-centre SGEMM (their
   * contributions are added in float64) */
  bool excluded[CAND];
  int count;
  double threshold; /* smallest kept logit once full, else -inf */
  /* A logit this far below the largest seen cannot need a correction in
   * any head (+inf: no such bound). */
  double drop;
  /* float32 stream: the largest head-0 logit that was flushed to a zero
   * weight while within drop of the running maximum (-inf: none) -- a
   * weight float32's error could make significant, if it was no candidate */
  double lost;
};

struct near_list { /* the cap smallest approximate raw distances */
  double r[NEAR_F32];
  int64_t j[NEAR_F32];
  int count, cap;
  /* The largest kept distance once full, and no more than the second
   * smallest plus twice the distances' error bound: nothing farther can
   * be one of the two nearest. */
  double threshold;
  double slack2; /* twice the error bound of this particle's distances */
  double band;   /* the second smallest plus slack2 (+inf below two) */
  /* An entry within slack2 of the second smallest was dropped for want of
   * room: the two nearest are then found by an exact scan. */
  bool overflow;
};

/* One thread's part of an evaluation: the centres [j_begin, j_end) of the
 * local shard, streamed for every particle, into its own records.  Thread
 * 0's records are the mixture's (what the shards then combine). */
struct worker {
  int64_t j_begin, j_end;
  double *G, *L, *tm, *xn2;
  /* float32 stream: the particles and products in float32, the weights
   * rounded for SGEMM and its weighted centres, one row of products in
   * float64, the per-block raw-distance offsets of the centres and the
   * particles' centred norms. */
  float *X32, *G32, *L32, *U32;
  double *grow, *yr, *xr;
  struct cand_list *cand;
  struct near_list *near;
  double *rec; /* threads > 0: their own records, p x rec_len */
  int64_t rec_cap;
};

struct sgm_mixture {
  sgm__mixture_layout_t layout;
  int d;
  int64_t n, offset, n_local;
  const double *y;
  const double *ynorm2;
  double *ynorm2_owned;
  double ynorm_max; /* max |mu_i| over the local shard */
  double *var;      /* per-component variance, or NULL: all 0 */
  double *logw;     /* per-component log weight, or NULL: uniform */
  int nheads;
  double head_var[SGM_MIXTURE_MAX_HEADS];
  enum sgm_mixture_kernel kernel;
  double poisson_D; /* Poisson kernel: the augmented dimensions */
  MPI_Comm comm;
  int pb, nb;
  int threads; /* requested; 0: the BLAS threads of the calling process */
  sgm__lowdim_t *lowdim; /* d <= 3, equal variances and weights: no GEMM */
  /* float32 stream ([run] precision = float32; equal variances and weights,
   * d > 3): the shard centred at its mean c and rounded to float32 for the
   * SGEMMs, with, in float64, |mu - c|^2 and c . (mu - c) per centre. */
  bool f32;
  double f32_guard;        /* see sgm_mixture_set_float32 */
  double *centre;          /* c (d) */
  float *y32;              /* n_local x d */
  double *yc2, *cyc;       /* n_local each */
  double ycnorm_max;       /* max |mu - c| over the shard */
  double ynorm_max_global; /* max |mu| over every shard; < 0: not yet */
  int64_t f32_evals, f32_fallbacks; /* particle evaluations, float64 redos */
  /* Workspaces, grown on demand. */
  double *rec, *coef, *rec2, *x2;
  int64_t rec_cap, rec2_cap, x2_cap;
  int ws_pb, ws_nb, ws_threads;
  bool ws_f32;
  struct worker *work;
};

/* Logit parameters of one head for this evaluation.  Equal-variance
 * mixtures share one precision a; otherwise a and the log-normaliser are
 * per component (coef).  The Poisson kernel has kappa > 0: its logit of a
 * squared distance q is -kappa log1p(q inv_r2), and a = 1 / sigma^2 forms
 * its effective score. */
struct head_params {
  double a, half_a; /* equal variances */
  double v;         /* equal variances: the component variance */
  double c;         /* constant added to log p at the end */
  const double *a_j, *base_j, *v_j; /* unequal: per component */
  double kappa, inv_r2;             /* Poisson: (d + D) / 2, 1 / (D sigma^2) */
};

/** Streams p particles x against the local shard into rec (the workers'
 * parts merged), with the heads' parameters hp; threads workers (their
 * workspace ready); through SGEMM when f32 (mix->f32 must be set).  Not
 * collective. */
void sgm__mixture_stream(sgm_mixture_t *mix, const struct head_params *hp,
                         double m, int64_t p, const double *x, int threads,
                         int want_nearest, bool f32, double *rec);

/* The kernel for d <= 3 (lowdim.c): a cell grid over the shard and a fused
 * loop that fills the same records as the GEMM stream (equal variances,
 * equal weights). */

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
