/* Private to the GEMM stream (stream.c) and its float32 parts
 * (stream32.c): a centre's logit, the candidate and near lists, a block
 * row, and the distance helpers and error bounds both use. */
#ifndef SGM_MIXTURE_STREAM_IMPL_H
#define SGM_MIXTURE_STREAM_IMPL_H

#include <float.h>
#include <math.h>
#include <stdbool.h>

#include "mixture/mixture_impl.h"
#include "vmath.h"

/* log(1 + u) for u >= 0 from the vectorisable log: w = 1 + u rounded, and
 * the rounding u - (w - 1) added back to first order (a few ulp). */
static inline double log1p_nonneg(double u) {
  const double w = 1.0 + u;
  return sgm_vlog(w) + (u - (w - 1.0)) / w;
}

/* The logit of centre j (local index) at approximate squared distance q:
 * Gaussian, -q / (2 s^2) plus the log weight (unequal variances: and the
 * component's log-normaliser); Poisson, -kappa log(1 + q / r^2) plus the
 * log weight (the log-normaliser kappa log r^2 is common to all and left
 * to the constant c, which keeps the logits near 0 even for D ~ 1e6).
 * The stream and the correction both call this, so a candidate's
 * approximate logit is reproduced bit for bit. */
static inline double logit(const sgm_mixture_t *mix,
                           const struct head_params *hp, int64_t j, double q) {
  if (hp->a_j)
    return hp->base_j[j] - 0.5 * hp->a_j[j] * q;
  if (hp->kappa > 0)
    return (mix->logw ? mix->logw[j] : 0.0) -
           hp->kappa * log1p_nonneg(q * hp->inv_r2);
  return (mix->logw ? mix->logw[j] : 0.0) - hp->half_a * q;
}

static inline void cand_reset(struct cand_list *c, double drop) {
  c->count = 0;
  c->threshold = -INFINITY;
  c->drop = drop;
  c->lost = -INFINITY;
}

/* The slot a new candidate takes: a free one, else the smallest logit's
 * (whose occupant the caller may still need). */
static inline int cand_slot(const struct cand_list *c) {
  if (c->count < CAND)
    return c->count;
  int slot = 0;
  for (int k = 1; k < CAND; k++)
    if (c->logit[k] < c->logit[slot])
      slot = k;
  return slot;
}

static inline void cand_store(struct cand_list *c, int slot, double l, double q,
                              int64_t j) {
  if (slot == c->count)
    c->count++;
  c->logit[slot] = l;
  c->q[slot] = q;
  c->j[slot] = j;
  c->excluded[slot] = false;
  if (c->count == CAND) {
    double t = c->logit[0];
    for (int k = 1; k < CAND; k++)
      t = fmin(t, c->logit[k]);
    c->threshold = t;
  }
}

static inline void near_reset(struct near_list *nl, double slack2, int cap) {
  nl->count = 0;
  nl->cap = cap;
  nl->threshold = nl->band = INFINITY;
  nl->slack2 = slack2;
  nl->overflow = false;
}

/* The second smallest distance of the list (+inf with fewer than two). */
static inline double near_second(const struct near_list *nl) {
  double first = INFINITY, second = INFINITY;
  for (int k = 0; k < nl->count; k++) {
    double a = nl->r[k];
    second = a < first ? first : (a < second ? a : second);
    first = a < first ? a : first;
  }
  return second;
}

/* The bar an entry must pass to be looked at: below the threshold it joins
 * the list; between the threshold and the band (second + slack2) it cannot
 * join a full list, which then overflows. */
static inline double near_gate(const struct near_list *nl) {
  return nl->overflow ? nl->threshold : nl->band;
}

/* Offers an entry that passed the gate. */
static inline void near_offer(struct near_list *nl, double r, int64_t j) {
  if (!(r < nl->threshold)) {
    nl->overflow = true; /* within the band of a full list */
    return;
  }
  int slot;
  double out = INFINITY;
  if (nl->count < nl->cap) {
    slot = nl->count++;
  } else {
    slot = 0;
    for (int k = 1; k < nl->cap; k++)
      if (nl->r[k] > nl->r[slot])
        slot = k;
    out = nl->r[slot];
  }
  nl->r[slot] = r;
  nl->j[slot] = j;
  const double band = nl->band = near_second(nl) + nl->slack2;
  if (out < band)
    nl->overflow = true; /* pushed out from within the band */
  double last = -INFINITY;
  for (int k = 0; k < nl->count; k++)
    last = nl->r[k] > last ? nl->r[k] : last;
  nl->threshold = fmin(nl->count == nl->cap ? last : INFINITY, band);
}

/* One particle's row of a block: its products g with the block's centres
 * and what turns them into squared distances, q = xq + tm - two_m g (to
 * m mu) and r = xr + yn - 2 g (raw, to mu). */
struct row {
  const double *g, *tm, *yn;
  double xq, xr, two_m;
  int64_t j0, nbb; /* local index of the first centre, and the count */
};

/* What a row of head-0 logits needs to offer its candidates: the row, and
 * for the float32 stream what an evicted candidate's weight is added back
 * to (the particle's record, in every head). */
struct pick {
  struct cand_list *list;
  const struct row *rw;
  const sgm_mixture_t *mix;
  const struct head_params *hp;
  double *rec;
};

/* Exact squared distance |x - s mu|^2 by direct differences. */
static inline double direct_dist2(const double *x, const double *mu, double s,
                                  int d) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (int k = 0; k < d; k++) {
    double t = x[k] - s * mu[k];
    acc += t * t;
  }
  return acc;
}

/* A bound on the error of an expanded squared distance |x|^2 - 2s x.mu +
 * s^2|mu|^2 as the stream computes it (the GEMM's dot product within
 * gamma_{d+2} |x||mu|, its inputs' rounding included, the norms within
 * gamma_d of themselves, three more roundings), for |x|^2 = xn2 and any
 * centre of the shard: in float64, or for the float32 stream in float32
 * units and centred norms (xn2 = |x - s c|^2). */
static inline double expanded_error(const sgm_mixture_t *mix, bool f32,
                                    double xn2, double s) {
  const double u = f32 ? 0.5 * FLT_EPSILON : 0.5 * DBL_EPSILON;
  const double ymax = f32 ? mix->ycnorm_max : mix->ynorm_max;
  double reach = sqrt(xn2) + fabs(s) * ymax;
  return (mix->d + 4) * u * 1.01 * reach * reach;
}

/* The most a logit of head hp at centre j can move when its squared
 * distance moves by dq (Poisson: the slope kappa / (r^2 + q) of the logit
 * is at most kappa / r^2). */
static inline double logit_slack(const struct head_params *hp, int64_t j,
                                 double dq) {
  if (hp->kappa > 0)
    return hp->kappa * hp->inv_r2 * dq;
  return 0.5 * (hp->a_j ? hp->a_j[j] : hp->a) * dq;
}

/* float32 stream (stream32.c). */

/** Adds an evicted candidate back with its approximate weight. */
void sgm__f32_add_back(const struct pick *p, int slot);

/** Rounds row i's weights of the block for SGEMM, less the candidates. */
void sgm__f32_exclude(const sgm_mixture_t *mix, struct worker *w, int64_t i,
                      int64_t j0, int64_t nbb, double *rec);

/** The float32 stream's end for one particle. */
void sgm__f32_finish(const sgm_mixture_t *mix, const struct head_params *hp,
                     double m, const double *x, double xq,
                     const struct cand_list *c, double *rec);

#endif /* SGM_MIXTURE_STREAM_IMPL_H */
