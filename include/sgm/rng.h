/**
 * @file rng.h
 * Counter-based random numbers (Random123's Philox4x64-10).
 *
 * A random number is a pure function of (seed, purpose, a, b, index): there
 * is no sequential state to carry, split or checkpoint.  Drawing the noise of
 * particle p at step k as stream (a = p, b = k) makes the results independent
 * of how particles are distributed over ranks.
 */
#ifndef SGM_RNG_H
#define SGM_RNG_H

#include <stdint.h>

/** What a stream is for; keeps the streams of different uses disjoint. */
enum sgm_rng_purpose {
  SGM_RNG_NOISE = 1,       /* sampler increments: a = particle, b = step */
  SGM_RNG_PRIOR = 2,       /* initial particles: a = particle */
  SGM_RNG_DATA_SUBSET = 3, /* random subset of a data set */
  SGM_RNG_DATA_SYNTH = 4,  /* synthetic examples: a = example index */
  SGM_RNG_DATA_FRAME = 5,  /* random embedding of synthetic data */
  SGM_RNG_DIRECTION = 6,   /* random perturbation direction */
  SGM_RNG_ROTATION = 7,    /* random subspace of a rotation perturbation */
  SGM_RNG_CORRECTOR = 8,   /* corrector increments: a = particle, b = step */
  SGM_RNG_TEST = 100       /* tests and benchmarks */
};

/** A stream: key and the first two counter words fixed, index increasing. */
typedef struct sgm_rng {
  uint64_t key[2];
  uint64_t a, b;
  uint64_t block;   /* next Philox block to draw */
  uint64_t word[4]; /* the current block */
  int used;         /* words of the current block consumed (4 = none left) */
  double spare;     /* second Box-Muller normal */
  int have_spare;
} sgm_rng_t;

/** Starts stream (seed, purpose, a, b) at index 0. */
void sgm_rng_init(sgm_rng_t *rng, uint64_t seed, uint64_t purpose, uint64_t a,
                  uint64_t b);

/** Next 64 random bits. */
uint64_t sgm_rng_bits(sgm_rng_t *rng);

/** Uniform on the open interval (0, 1), 53 random bits. */
double sgm_rng_uniform(sgm_rng_t *rng);

/** Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t sgm_rng_below(sgm_rng_t *rng, uint64_t n);

/** Standard normal (Box-Muller on two uniforms). */
double sgm_rng_normal(sgm_rng_t *rng);

/**
 * Fills out[0..n) with the first n standard normals of stream
 * (seed, purpose, a, b).  The same call always gives the same numbers.
 */
void sgm_rng_normals(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b,
                     int64_t n, double *out);

/**
 * Gamma(shape, 1) for shape > 0, by Marsaglia and Tsang's squeeze (normals
 * and uniforms from the stream; about 1.03 tries per draw for shape >= 1)
 * and, for shape < 1, Gamma(shape + 1) U^(1/shape).  Twice a draw of
 * shape D/2 is a chi^2_D variate without D normals.
 */
double sgm_rng_gamma(sgm_rng_t *rng, double shape);

/**
 * A random orthonormal k-frame of R^d (k <= d), Haar-distributed: k
 * Gaussian vectors from stream (seed, purpose, 0, 0) orthonormalised by
 * modified Gram-Schmidt, applied twice for accuracy.  The result is stored
 * as k rows of length d.  Deterministic: every rank computes the same frame.
 * @return 0, or SGM_ERR_NUMERIC if the Gaussian vectors were degenerate.
 */
int sgm_rng_frame(uint64_t seed, uint64_t purpose, int d, int k, double *frame);

#endif /* SGM_RNG_H */
