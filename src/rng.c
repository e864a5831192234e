/* Philox4x64-10 streams and their uniform and normal variates. */
#include "sgm/rng.h"

#include <Random123/philox.h>
#include <math.h>

#include "sgm/error.h"
#include "vmath.h"

void sgm_rng_init(sgm_rng_t *rng, uint64_t seed, uint64_t purpose, uint64_t a,
                  uint64_t b) {
  rng->key[0] = seed;
  rng->key[1] = purpose;
  rng->a = a;
  rng->b = b;
  rng->block = 0;
  rng->used = 4;
  rng->have_spare = 0;
  rng->spare = 0.0;
}

static void refill(sgm_rng_t *rng) {
  philox4x64_ctr_t ctr = {{rng->a, rng->b, rng->block, 0}};
  philox4x64_key_t key = {{rng->key[0], rng->key[1]}};
  philox4x64_ctr_t out = philox4x64(ctr, key);
  for (int i = 0; i < 4; i++)
    rng->word[i] = out.v[i];
  rng->block++;
  rng->used = 0;
}

uint64_t sgm_rng_bits(sgm_rng_t *rng) {
  if (rng->used == 4)
    refill(rng);
  return rng->word[rng->used++];
}

/* 53 bits centred in their interval: never 0, never 1. */
static inline double to_open01(uint64_t bits) {
  return ((double)(bits >> 11) + 0.5) * 0x1p-53;
}

double sgm_rng_uniform(sgm_rng_t *rng) { return to_open01(sgm_rng_bits(rng)); }

uint64_t sgm_rng_below(sgm_rng_t *rng, uint64_t n) {
  /* Reject the top sliver that would bias the modulo. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = sgm_rng_bits(rng);
  while (x >= limit);
  return x % n;
}

/* Box-Muller: (u1, u2) -> r (cos, sin)(2 pi u2), r = sqrt(-2 log u1), with
 * the vectorisable log and sincos of vmath.h. */
static inline void box_muller(double u1, double u2, double *z1, double *z2) {
  double r = sqrt(-2.0 * sgm_vlog(u1)), s, c;
  sgm_vsincos_2pi(u2, &s, &c);
  *z1 = r * c;
  *z2 = r * s;
}

double sgm_rng_normal(sgm_rng_t *rng) {
  if (rng->have_spare) {
    rng->have_spare = 0;
    return rng->spare;
  }
  double u1 = sgm_rng_uniform(rng), u2 = sgm_rng_uniform(rng), z1, z2;
  box_muller(u1, u2, &z1, &z2);
  rng->spare = z2;
  rng->have_spare = 1;
  return z1;
}

/* Normals are made in blocks: the Philox words first (scalar 128-bit
 * multiplies), then Box-Muller over the whole block in one loop the
 * compiler vectorises.  Philox block j gives normals 4j..4j+3 from the word
 * pairs (0, 1) and (2, 3). */
#define NORMAL_BLOCK 256

void sgm_rng_normals(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b,
                     int64_t n, double *out) {
  philox4x64_key_t key = {{seed, purpose}};
  double u1[NORMAL_BLOCK / 2], u2[NORMAL_BLOCK / 2], z[NORMAL_BLOCK];
  for (int64_t i0 = 0; i0 < n; i0 += NORMAL_BLOCK) {
    const int64_t len = n - i0 < NORMAL_BLOCK ? n - i0 : NORMAL_BLOCK;
    const int pairs = (int)((len + 3) / 4) * 2;
    for (int p = 0; p < pairs; p += 2) {
      philox4x64_ctr_t ctr = {{a, b, (uint64_t)((i0 + 2 * p) / 4), 0}};
      philox4x64_ctr_t w = philox4x64(ctr, key);
      u1[p] = to_open01(w.v[0]);
      u2[p] = to_open01(w.v[1]);
      u1[p + 1] = to_open01(w.v[2]);
      u2[p + 1] = to_open01(w.v[3]);
    }
    for (int p = 0; p < pairs; p++)
      box_muller(u1[p], u2[p], &z[2 * p], &z[2 * p + 1]);
    for (int64_t j = 0; j < len; j++)
      out[i0 + j] = z[j];
  }
}

int sgm_rng_frame(uint64_t seed, uint64_t purpose, int d, int k,
                  double *frame) {
  SGM_CHECK(k >= 1 && k <= d, SGM_ERR_INTERNAL,
            "a %d-frame does not fit in %d dimensions", k, d);
  sgm_rng_normals(seed, purpose, 0, 0, (int64_t)k * d, frame);
  for (int i = 0; i < k; i++) {
    double *v = frame + (int64_t)i * d;
    for (int pass = 0; pass < 2; pass++)
      for (int j = 0; j < i; j++) {
        const double *u = frame + (int64_t)j * d;
        double dot = 0.0;
        for (int t = 0; t < d; t++)
          dot += u[t] * v[t];
        for (int t = 0; t < d; t++)
          v[t] -= dot * u[t];
      }
    double norm = 0.0;
    for (int t = 0; t < d; t++)
      norm += v[t] * v[t];
    norm = sqrt(norm);
    SGM_CHECK(norm > 1e-8, SGM_ERR_NUMERIC,
              "random frame: vector %d is degenerate", i);
    for (int t = 0; t < d; t++)
      v[t] /= norm;
  }
  return 0;
}

/* Marsaglia & Tsang (2000), "A simple method for generating gamma
 * variables": with a = shape - 1/3 and v = (1 + z / sqrt(9a))^3, z normal,
 * a v is Gamma(shape) when accepted; the squeeze u < 1 - 0.0331 z^4 spares
 * most logarithms. */
double sgm_rng_gamma(sgm_rng_t *rng, double shape) {
  if (shape < 1.0) {
    double u = sgm_rng_uniform(rng);
    return sgm_rng_gamma(rng, shape + 1.0) * pow(u, 1.0 / shape);
  }
  const double a = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * a);
  for (;;) {
    double z, v;
    do {
      z = sgm_rng_normal(rng);
      v = 1.0 + c * z;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = sgm_rng_uniform(rng), z2 = z * z;
    if (u < 1.0 - 0.0331 * z2 * z2 ||
        log(u) < 0.5 * z2 + a * (1.0 - v + log(v)))
      return a * v;
  }
}
