/**
 * @file mixture.h
 * The blocked, distributed log-sum-exp kernel behind every mixture drift.
 *
 * A mixture is a set of isotropic Gaussian components (centres mu_i,
 * variances v_i, weights pi_i) evolved by the forward SDE:
 * p_t(x) = sum_i pi_i N(x; m mu_i, (m^2 v_i + sigma^2) I).  The centres are
 * sharded over a communicator; each rank streams over its shard in blocks
 * (DGEMM for the products x . mu, an online max and rescaled sums for the
 * log-sum-exp), and the shards' partial sums are combined with one reduction.
 * Memory is O(particles x d + block), never O(particles x N).
 *
 * One mixture can carry several "heads": the same centres with an extra
 * variance h added to every component (h = 0 is the empirical score, h =
 * bandwidth^2 the smoothed one), evaluated from the same products.
 *
 * A mixture's kernel may instead be PFGM++'s Poisson kernel in N + D
 * dimensions (N = d): p_r(x) = sum_i pi_i C r^D / (|x - m mu_i|^2 + r^2)^k,
 * k = (d + D)/2, C = Gamma(k) / (pi^{d/2} Gamma(D/2)), at r^2 = D sigma^2
 * (PFGM++'s alignment r = sigma sqrt(D)).  Its logits
 * l_i = log pi_i - k log(1 + |x - m mu_i|^2 / r^2) come from the same
 * products, streaming and reduction as the Gaussian ones.
 */
#ifndef SGM_MIXTURE_H
#define SGM_MIXTURE_H

#include <mpi.h>
#include <stdint.h>

/** Most heads one mixture evaluates at once. */
#define SGM_MIXTURE_MAX_HEADS 4

typedef struct sgm_mixture sgm_mixture_t;

/** The kernel of every component of a mixture. */
enum sgm_mixture_kernel {
  SGM_MIXTURE_GAUSSIAN = 0, /* N(x; m mu_i, (m^2 v_i + sigma^2) I) */
  SGM_MIXTURE_POISSON       /* PFGM++'s kernel of poisson_D extra dimensions */
};

/** The components of one mixture, as this rank sees them. */
typedef struct sgm_mixture_desc {
  int d;
  int64_t n;                 /* components in the whole mixture (all shards) */
  int64_t offset;            /* global index of the first local component */
  int64_t n_local;           /* components on this rank (may be 0) */
  const double *centres;     /* n_local x d, borrowed for the mixture's life */
  const double *norm2;       /* |mu_i|^2, borrowed; NULL: computed */
  const double *variances;   /* v_i (n_local), copied; NULL: all 0 */
  const double *log_weights; /* log pi_i (n_local), copied; NULL: -log n */
  MPI_Comm comm;             /* the ranks whose shards make up the mixture */
  /* SGM_MIXTURE_GAUSSIAN (0) or SGM_MIXTURE_POISSON; a Poisson mixture has
   * no component variances and every head variance 0. */
  enum sgm_mixture_kernel kernel;
  double poisson_D; /* Poisson: the augmented dimensions D > 0 */
} sgm_mixture_desc_t;

/**
 * Per-head results for p particles; any pointer may be NULL.  For the
 * Poisson kernel, with the weights w_i = softmax(l)_i (the posterior of
 * the components given x): mean = denoised = sum_i w_i mu_i = E[X_0 | x]
 * (posterior mean; Tweedie's formula does not hold for this kernel),
 * log_density = log p_r(x), normalised, and score is the field's effective
 * score (m mean - x) / sigma^2: the PFGM++ ODE dx/dr = (x - m mean) / r,
 * r = sigma sqrt(D), is the probability-flow ODE dx/dsigma = -sigma score.
 * It is not grad log p_r, which it approaches as D -> infinity.
 */
typedef struct sgm_mixture_out {
  double *score;       /* p x d: grad log p_t (Poisson: see above) */
  double *log_density; /* p: log p_t */
  double *denoised;    /* p x d: E[X_0 | X_t = x] (Tweedie) */
  double *mean; /* p x d: sum_i w_i mu_i (equal-variance mixtures only) */
} sgm_mixture_out_t;

/**
 * Nearest and second-nearest centre in plain Euclidean distance |x - mu_i|
 * (not scaled by m), from the same products; ties go to the lower index.
 * The winners' distances are recomputed directly, so they carry no
 * cancellation error.  Any pointer may be NULL.
 */
typedef struct sgm_nearest {
  int64_t *index, *second_index;
  double *distance, *second_distance;
} sgm_nearest_t;

/**
 * Creates a mixture.  Not collective (no communication).
 * @param nheads        1..SGM_MIXTURE_MAX_HEADS
 * @param head_variance the extra variance of each head (>= 0; 0 for the
 *                      Poisson kernel)
 */
int sgm_mixture_create(const sgm_mixture_desc_t *desc, int nheads,
                       const double *head_variance, sgm_mixture_t **out);

/** Frees a mixture; sets the handle to NULL (NULL allowed). */
void sgm_mixture_destroy(sgm_mixture_t **mix);

/**
 * Evaluates every head at p particles x (p x d, row-major) at a time with
 * mean factor m and marginal variance sigma2 > 0.  Collective over the
 * mixture's communicator: every rank passes the same particles and gets
 * bitwise identical results.
 * @param out     nheads entries
 * @param nearest NULL to skip the nearest-centre search
 */
int sgm_mixture_eval(sgm_mixture_t *mix, double m, double sigma2, int64_t p,
                     const double *x, sgm_mixture_out_t *out,
                     sgm_nearest_t *nearest);

/**
 * Bytes of work space an eval of p particles uses on this rank (kept with
 * the mixture for the next eval): the products and weights of one block
 * per thread and the particles' records.
 */
double sgm_mixture_work_bytes(const sgm_mixture_t *mix, int64_t p);

/** Floating-point operations of one eval of p particles on this rank. */
double sgm_mixture_flops(const sgm_mixture_t *mix, int64_t p);

/**
 * Overrides the blocking: particles per block and centres per block
 * (0 keeps the current value).  For tuning and tests.
 */
void sgm_mixture_set_blocking(sgm_mixture_t *mix, int particle_block,
                              int centre_block);

/**
 * Threads of one evaluation on this rank (0, the default: as many as the
 * process's BLAS uses, openblas_get_num_threads()).  Each thread streams a
 * contiguous part of the local shard with a single-threaded BLAS, and the
 * parts are merged like shards: the result depends on the thread count by
 * rounding only.
 */
void sgm_mixture_set_threads(sgm_mixture_t *mix, int threads);

/**
 * Switches the GEMM stream to float32 (on != 0) or back to float64.  The
 * float32 stream does both products with SGEMM on the shard centred at its
 * mean (a float32 copy, n_local x d floats, made by the first float32
 * evaluation) and
 * everything else in float64: the CAND largest weights of each particle
 * are left out of the SGEMM and computed from exact distances, the two
 * nearest centres are exact, and a particle whose float32 part could move
 * its score by more than `guard` (relative; a first-order worst-case
 * bound) is evaluated again in float64.  Only Gaussian mixtures of equal
 * variances and weights with d > 3 have a float32 stream; others (the
 * Poisson kernel among them) stay float64 (sgm_mixture_is_float32 says).
 * Not collective.
 */
void sgm_mixture_set_float32(sgm_mixture_t *mix, int on, double guard);
int sgm_mixture_is_float32(const sgm_mixture_t *mix);

/** Particle evaluations of the float32 stream so far, and how many of them
 * the guard sent back to float64. */
void sgm_mixture_float32_stats(const sgm_mixture_t *mix, int64_t *evals,
                               int64_t *redone);

/** Components on this rank (the shard). */
int64_t sgm_mixture_local_count(const sgm_mixture_t *mix);

/**
 * The Jacobian of head `head`'s score at one point x (d), as a factor over
 * the shards: J = sum over every rank's rows f of f f^T - diag I, where
 * this rank's rows f_i = sqrt(w_i) (a_i - abar), a_i = (m mu_i - x) / s_i^2,
 * s_i^2 = m^2 (v_i + h) + sigma2, go to F (at most sgm_mixture_local_count
 * rows of d; *rows receives how many) and diag = sum_i w_i / s_i^2.  Rows
 * whose term w_i |a_i - abar|^2 is below 1e-20 diag are left out.
 * Collective over the mixture's communicator; diag is the same on every
 * rank.  Gaussian kernels only.
 * @return 0; SGM_ERR_NUMERIC when every weight underflows; SGM_ERR_NOMEM;
 *         SGM_ERR_UNSUPPORTED for a Poisson mixture.
 */
int sgm_mixture_jacobian_factor(const sgm_mixture_t *mix, int head, double m,
                                double sigma2, const double *x, double *F,
                                int64_t *rows, double *diag);

#endif /* SGM_MIXTURE_H */
