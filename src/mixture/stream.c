/*
 * The blocked streaming log-sum-exp over a shard of mixture components.
 *
 * For a block of particles X and a block of centres Y, G = X Y^T (DGEMM)
 * gives every squared distance |x - m mu|^2 = |x|^2 - 2m x.mu + m^2|mu|^2;
 * the logits are exponentiated against a running per-particle maximum, and a
 * second DGEMM accumulates the weighted centres.  Two refinements keep the
 * result exact where the expanded distance is not:
 *  - the CAND largest-weight components of each particle are recomputed with
 *    the direct difference |x - m mu|^2 and their contributions corrected
 *    (at small sigma the expanded form's rounding, ~1e-16 (|x|^2 +
 *    m^2|mu|^2) / sigma^2, would otherwise shift the dominant logits);
 *  - the NEAR closest raw centres are recomputed directly and the nearest two
 *    chosen by (distance, index), so that the answer does not depend on how
 *    DGEMM rounded, and hence not on the rank count or the blocking.
 */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mixture/mixture_impl.h"
#include "vmath.h"

/* Weights below e^-64 (1.6e-28) of the running maximum are flushed to
 * zero, and a chunk of 8 of them costs no exponential: together they are
 * below N 1.6e-28 of Z (whose largest term is 1), far under its rounding
 * for any N a rank holds, and no subnormal weight reaches DGEMM. */
#define STREAM_CUTOFF (-64.0)
/* A candidate is corrected only if its weight can be e^-37 of the largest
 * or more (given the error bound of its logit): e^-37 < 2^-53, so a smaller
 * one cannot change Z, whose largest term is 1, and its share of the
 * weighted sums is below their rounding.  (Such weights also passed the
 * stream's flush unflushed while the slack stays below 13.) */
#define CORRECT_CUTOFF (-37.0)

/* The logit of centre j (local index) at approximate squared distance q.
 * The stream and the correction both call this, so a candidate's
 * approximate logit is reproduced bit for bit. */
static inline double logit(const sgm_mixture_t *mix,
                           const struct head_params *hp, int64_t j, double q) {
  if (hp->a_j)
    return hp->base_j[j] - 0.5 * hp->a_j[j] * q;
  return (mix->logw ? mix->logw[j] : 0.0) - hp->half_a * q;
}

static void cand_reset(struct cand_list *c, double drop) {
  c->count = 0;
  c->threshold = -INFINITY;
  c->drop = drop;
}

static void cand_insert(struct cand_list *c, double l, double q, int64_t j) {
  int slot;
  if (c->count < CAND) {
    slot = c->count++;
  } else {
    slot = 0;
    for (int k = 1; k < CAND; k++)
      if (c->logit[k] < c->logit[slot])
        slot = k;
  }
  c->logit[slot] = l;
  c->q[slot] = q;
  c->j[slot] = j;
  if (c->count == CAND) {
    double t = c->logit[0];
    for (int k = 1; k < CAND; k++)
      t = fmin(t, c->logit[k]);
    c->threshold = t;
  }
}

static void near_reset(struct near_list *nl, double slack2) {
  nl->count = 0;
  nl->threshold = INFINITY;
  nl->slack2 = slack2;
}

static void near_insert(struct near_list *nl, double r, int64_t j) {
  int slot;
  if (nl->count < NEAR) {
    slot = nl->count++;
  } else {
    slot = 0;
    for (int k = 1; k < NEAR; k++)
      if (nl->r[k] > nl->r[slot])
        slot = k;
  }
  nl->r[slot] = r;
  nl->j[slot] = j;
  double first = INFINITY, second = INFINITY, last = -INFINITY;
  for (int k = 0; k < nl->count; k++) {
    double a = nl->r[k];
    second = a < first ? first : (a < second ? a : second);
    first = a < first ? a : first;
    last = a > last ? a : last;
  }
  nl->threshold =
      fmin(nl->count == NEAR ? last : INFINITY, second + nl->slack2);
}

static void record_reset(const sgm_mixture_t *mix, double *rec) {
  const sgm__mixture_layout_t *lay = &mix->layout;
  for (int h = 0; h < mix->nheads; h++) {
    double *hr = rec + h * lay->head_len;
    hr[REC_M] = -INFINITY;
    for (int k = REC_Z; k < lay->head_len; k++)
      hr[k] = 0.0;
  }
  double *nr = rec + mix->nheads * lay->head_len;
  nr[0] = nr[2] = INFINITY;
  nr[1] = nr[3] = -1.0;
}

/* Chunks of this many entries of a row are skipped at once when none of
 * them can enter a candidate list (the check vectorises, the insertion
 * does not). */
#define CHUNK 8

/* Approximate raw squared distances of one row, whose minimum row_logits
 * found: collect near candidates. */
static void scan_nearest(const sgm_mixture_t *mix, const double *g, double xn,
                         double rmin, int64_t j0, int64_t nbb,
                         struct near_list *nl) {
  if (!(rmin < nl->threshold))
    return;
  const double *yn = mix->ynorm2 + j0;
  for (int64_t j = 0; j < nbb; j += CHUNK) {
    double r[CHUNK], low = INFINITY;
    if (j + CHUNK <= nbb) {
      for (int k = 0; k < CHUNK; k++) {
        r[k] = xn + yn[j + k] - 2.0 * g[j + k];
        low = r[k] < low ? r[k] : low;
      }
      if (!(low < nl->threshold))
        continue;
    }
    for (int k = 0; k < CHUNK && j + k < nbb; k++) {
      double rk = xn + yn[j + k] - 2.0 * g[j + k];
      if (rk < nl->threshold)
        near_insert(nl, rk, j0 + j + k);
    }
  }
}

/* Logits of one row of one head into l[]; returns the row maximum.  With
 * rmin, also the smallest approximate raw squared distance |x - mu|^2 of
 * the row (for the nearest search), from the same products.  The loops are
 * written for the vectoriser (omp simd: the reductions may reassociate). */
static double row_logits(const sgm_mixture_t *mix, const struct head_params *hp,
                         const double *tm, const double *g, double xn,
                         double two_m, int64_t j0, int64_t nbb,
                         double *restrict l, double *rmin) {
  double lmax = -INFINITY, rlow = INFINITY;
  const double *yn = mix->ynorm2 + j0;
  if (!hp->a_j && !mix->logw) {
    const double half_a = hp->half_a;
    if (rmin) {
#pragma omp simd reduction(max : lmax) reduction(min : rlow)
      for (int64_t j = 0; j < nbb; j++) {
        double r = xn + yn[j] - 2.0 * g[j];
        rlow = r < rlow ? r : rlow;
        double q = xn + tm[j] - two_m * g[j];
        q = q < 0.0 ? 0.0 : q;
        l[j] = 0.0 - half_a * q;
        lmax = l[j] > lmax ? l[j] : lmax;
      }
      *rmin = rlow;
      return lmax;
    }
#pragma omp simd reduction(max : lmax)
    for (int64_t j = 0; j < nbb; j++) {
      double q = xn + tm[j] - two_m * g[j];
      q = q < 0.0 ? 0.0 : q;
      l[j] = 0.0 - half_a * q;
      lmax = l[j] > lmax ? l[j] : lmax;
    }
    return lmax;
  }
  for (int64_t j = 0; j < nbb; j++) {
    double q = xn + tm[j] - two_m * g[j];
    q = q < 0.0 ? 0.0 : q;
    l[j] = logit(mix, hp, j0 + j, q);
    lmax = fmax(lmax, l[j]);
  }
  if (rmin) {
#pragma omp simd reduction(min : rlow)
    for (int64_t j = 0; j < nbb; j++) {
      double r = xn + yn[j] - 2.0 * g[j];
      rlow = r < rlow ? r : rlow;
    }
    *rmin = rlow;
  }
  return lmax;
}

/* What a row of head-0 logits needs to offer its candidates: the products
 * and norms their approximate squared distances come from. */
struct pick {
  struct cand_list *list;
  const double *g, *tm; /* the row's products and m^2 |mu|^2 */
  double xn, two_m;
  int64_t j0; /* local index of the row's first centre */
};

/* Entries k < len of the chunk c starting at row offset j above the list's
 * bar enter it, with their approximate squared distances. */
static void pick_chunk(const struct pick *p, const double *c, int64_t j,
                       int len, double floor) {
  for (int k = 0; k < len; k++)
    if (c[k] > fmax(p->list->threshold, floor)) {
      double q = p->xn + p->tm[j + k] - p->two_m * p->g[j + k];
      cand_insert(p->list, c[k], q < 0.0 ? 0.0 : q, p->j0 + j + k);
    }
}

/* Exponentiates one row of logits against the running maximum, rescaling
 * the particle's record if the maximum grew, and adds the row's weights to
 * Z (and to A, B for unequal variances, scaling the weights by a_j).  With
 * pick, the logits that may need correcting join the candidates first; in
 * chunks of CHUNK, one vectorised maximum decides both that and whether the
 * chunk is flushed whole. */
static void row_weights(const sgm_mixture_t *mix, const struct head_params *hp,
                        double lmax, int64_t j0, int64_t nbb,
                        double *restrict l, double *hr,
                        const struct pick *pick) {
  const int d = mix->d;
  if (lmax > hr[REC_M]) {
    if (hr[REC_M] > -INFINITY) {
      double f = exp(hr[REC_M] - lmax);
      for (int k = REC_Z; k < REC_U + d; k++)
        hr[k] *= f;
    }
    hr[REC_M] = lmax;
  }
  const double shift = hr[REC_M], cut = shift + STREAM_CUTOFF;
  const double floor = pick ? shift - pick->list->drop : INFINITY;
  double z = 0.0;
  int64_t j8 = 0;
  for (; j8 < nbb; j8 += CHUNK) {
    const int len = nbb - j8 < CHUNK ? (int)(nbb - j8) : CHUNK;
    double *c = l + j8;
    if (len < CHUNK) { /* the row's tail */
      if (pick)
        pick_chunk(pick, c, j8, len, floor);
      for (int k = 0; k < len; k++) {
        c[k] = c[k] < cut ? 0.0 : sgm_vexp(c[k] - shift);
        z += c[k];
      }
      break;
    }
    double top = -INFINITY;
    for (int k = 0; k < CHUNK; k++)
      top = c[k] > top ? c[k] : top;
    if (pick && top > fmax(pick->list->threshold, floor))
      pick_chunk(pick, c, j8, CHUNK, floor);
    if (top < cut) {
      for (int k = 0; k < CHUNK; k++)
        c[k] = 0.0;
      continue;
    }
#pragma omp simd reduction(+ : z)
    for (int k = 0; k < CHUNK; k++) {
      double e = c[k] - shift;
      c[k] = c[k] < cut ? 0.0 : sgm_vexp(e);
      z += c[k];
    }
  }
  hr[REC_Z] += z;
  if (hp->a_j) {
    double sa = 0.0, sb = 0.0;
    const double *a = hp->a_j + j0, *v = hp->v_j + j0;
    for (int64_t j = 0; j < nbb; j++) {
      l[j] *= a[j];
      sa += l[j];
      sb += l[j] * v[j];
    }
    hr[REC_A] += sa;
    hr[REC_B] += sb;
  }
}

/* Exact squared distance |x - s mu|^2 by direct differences. */
static double direct_dist2(const double *x, const double *mu, double s, int d) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (int k = 0; k < d; k++) {
    double t = x[k] - s * mu[k];
    acc += t * t;
  }
  return acc;
}

/* Replaces the streamed contributions of the particle's candidates by ones
 * computed from exact distances. */
/* A bound on the error of an expanded squared distance |x|^2 - 2s x.mu +
 * s^2|mu|^2 as the stream computes it (DGEMM's dot product within
 * gamma_d |x||mu|, the norms within gamma_d of themselves, three more
 * roundings), for |x|^2 = xn2 and any centre of the shard. */
static double expanded_error(const sgm_mixture_t *mix, double xn2, double s) {
  const double u = 0.5 * DBL_EPSILON;
  double reach = sqrt(xn2) + fabs(s) * mix->ynorm_max;
  return (mix->d + 4) * u * 1.01 * reach * reach;
}

/* The most a logit of head hp at centre j can move when its squared
 * distance moves by dq. */
static double logit_slack(const struct head_params *hp, int64_t j, double dq) {
  return 0.5 * (hp->a_j ? hp->a_j[j] : hp->a) * dq;
}

/* Whether candidate k of c can weigh e^CORRECT_CUTOFF of head h's largest
 * weight: both its logit and the running maximum may be off by the slack
 * of an error dq in the squared distances. */
static bool candidate_matters(const sgm_mixture_t *mix,
                              const struct head_params *hp, int h,
                              const struct cand_list *c, int k, double dq,
                              const double *rec) {
  const int64_t j = c->j[k];
  const double m_h = rec[h * mix->layout.head_len + REC_M];
  return logit(mix, &hp[h], j, c->q[k]) - m_h +
             2.0 * logit_slack(&hp[h], j, dq) >=
         CORRECT_CUTOFF;
}

/* How far below the largest head-0 logit a candidate can be and still
 * need correcting in some head, for squared distances off by dq: a head of
 * precision a_h compresses head-0 logit differences (precision a_0) by
 * a_h / a_0.  Only for mixtures of equal variances and weights (the
 * empirical and smoothed scores); +inf otherwise. */
static double candidate_drop(const sgm_mixture_t *mix,
                             const struct head_params *hp, double dq) {
  if (mix->var || mix->logw)
    return INFINITY;
  double a_min = hp[0].a;
  for (int h = 1; h < mix->nheads; h++)
    a_min = fmin(a_min, hp[h].a);
  return -CORRECT_CUTOFF * hp[0].a / a_min + hp[0].a * dq;
}

static void correct_candidates(const sgm_mixture_t *mix,
                               const struct head_params *hp, double m,
                               const double *x, double xn2,
                               const struct cand_list *c, double *rec) {
  const int d = mix->d;
  const double dq = expanded_error(mix, xn2, m);
  for (int k = 0; k < c->count; k++) {
    int64_t j = c->j[k];
    const double *mu = mix->y + j * d;
    bool needed = false;
    for (int h = 0; h < mix->nheads && !needed; h++)
      needed = candidate_matters(mix, hp, h, c, k, dq, rec);
    if (!needed)
      continue;
    double q_exact = direct_dist2(x, mu, m, d);
    for (int h = 0; h < mix->nheads; h++) {
      double *hr = rec + h * mix->layout.head_len;
      if (!candidate_matters(mix, hp, h, c, k, dq, rec))
        continue;
      double l_approx = logit(mix, &hp[h], j, c->q[k]);
      double l_exact = logit(mix, &hp[h], j, q_exact);
      double delta = exp(l_exact - hr[REC_M]) - sgm_vexp(l_approx - hr[REC_M]);
      double scale = delta;
      hr[REC_Z] += delta;
      if (hp[h].a_j) {
        hr[REC_A] += delta * hp[h].a_j[j];
        hr[REC_B] += delta * hp[h].a_j[j] * hp[h].v_j[j];
        scale = delta * hp[h].a_j[j];
      }
      double *u = hr + REC_U;
      for (int t = 0; t < d; t++)
        u[t] += scale * mu[t];
    }
  }
}

/* Recomputes the near candidates exactly and stores the best two, ordered
 * by (distance, global index). */
static void finish_nearest(const sgm_mixture_t *mix, const double *x,
                           double xn2, const struct near_list *nl, double *nr) {
  double r[NEAR];
  int64_t g[NEAR];
  /* Only candidates whose approximate distance is within twice the error
   * bound of the second smallest can be among the two nearest. */
  double first = INFINITY, second = INFINITY;
  for (int k = 0; k < nl->count; k++) {
    double a = nl->r[k];
    second = a < first ? first : (a < second ? a : second);
    first = a < first ? a : first;
  }
  const double reach = second + 2.0 * expanded_error(mix, xn2, 1.0);
  for (int k = 0; k < nl->count; k++) {
    r[k] = nl->r[k] <= reach || nl->count <= 2
               ? direct_dist2(x, mix->y + nl->j[k] * mix->d, 1.0, mix->d)
               : INFINITY;
    g[k] = mix->offset + nl->j[k];
  }
  for (int slot = 0; slot < 2 && slot < nl->count; slot++) {
    int best = slot;
    for (int k = slot + 1; k < nl->count; k++)
      if (r[k] < r[best] || (r[k] == r[best] && g[k] < g[best]))
        best = k;
    double tr = r[slot];
    int64_t tg = g[slot];
    r[slot] = r[best];
    g[slot] = g[best];
    r[best] = tr;
    g[best] = tg;
    nr[2 * slot] = r[slot];
    nr[2 * slot + 1] = (double)g[slot];
  }
}

/* One particle block against the worker's centres. */
static void stream_block(const sgm_mixture_t *mix, struct worker *w,
                         const struct head_params *hp, double m,
                         const double *x, int64_t pbb, double *rec,
                         int want_nearest) {
  const int d = mix->d, H = mix->nheads, rl = mix->layout.rec_len;
  const int64_t nb = mix->nb;
  const double two_m = 2.0 * m, m2 = m * m;
  for (int64_t i = 0; i < pbb; i++) {
    double s = 0.0;
    for (int k = 0; k < d; k++)
      s += x[i * d + k] * x[i * d + k];
    w->xn2[i] = s;
    record_reset(mix, rec + i * rl);
    cand_reset(&w->cand[i], candidate_drop(mix, hp, expanded_error(mix, s, m)));
    near_reset(&w->near[i], 2.0 * expanded_error(mix, s, 1.0));
  }
  for (int64_t j0 = w->j_begin; j0 < w->j_end; j0 += nb) {
    const int64_t nbb = w->j_end - j0 < nb ? w->j_end - j0 : nb;
    const double *yb = mix->y + j0 * d;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pbb, (int)nbb, d,
                1.0, x, d, yb, d, 0.0, w->G, (int)nb);
    for (int64_t j = 0; j < nbb; j++)
      w->tm[j] = m2 * mix->ynorm2[j0 + j];
    for (int64_t i = 0; i < pbb; i++) {
      const double *g = w->G + i * nb;
      for (int h = 0; h < H; h++) {
        double *l = w->L + ((int64_t)h * mix->ws_pb + i) * nb;
        double rmin = INFINITY;
        double lmax = row_logits(mix, &hp[h], w->tm, g, w->xn2[i], two_m, j0,
                                 nbb, l, want_nearest && h == 0 ? &rmin : NULL);
        if (want_nearest && h == 0)
          scan_nearest(mix, g, w->xn2[i], rmin, j0, nbb, &w->near[i]);
        struct pick pick = {&w->cand[i], g, w->tm, w->xn2[i], two_m, j0};
        row_weights(mix, &hp[h], lmax, j0, nbb, l,
                    rec + i * rl + h * mix->layout.head_len,
                    h == 0 && lmax > w->cand[i].threshold ? &pick : NULL);
      }
    }
    for (int h = 0; h < H; h++)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pbb, d,
                  (int)nbb, 1.0, w->L + (int64_t)h * mix->ws_pb * nb, (int)nb,
                  yb, d, 1.0, rec + h * mix->layout.head_len + REC_U, rl);
  }
  for (int64_t i = 0; i < pbb; i++) {
    correct_candidates(mix, hp, m, x + i * d, w->xn2[i], &w->cand[i],
                       rec + i * rl);
    if (want_nearest)
      finish_nearest(mix, x + i * d, w->xn2[i], &w->near[i],
                     rec + i * rl + H * mix->layout.head_len);
  }
}

/* Every particle against every local centre: each worker streams its
 * centres into its records, in parallel threads (each with a single-threaded
 * BLAS) when there are several, and the workers' records are merged into
 * the mixture's in worker order, as the shards' are across ranks. */
void sgm__mixture_stream(sgm_mixture_t *mix, const struct head_params *hp,
                         double m, int64_t p, const double *x, int threads,
                         int want_nearest) {
  const int d = mix->d, rl = mix->layout.rec_len;
  if (threads == 1) {
    for (int64_t i0 = 0; i0 < p; i0 += mix->pb)
      stream_block(mix, &mix->work[0], hp, m, x + i0 * d,
                   p - i0 < mix->pb ? p - i0 : mix->pb, mix->rec + i0 * rl,
                   want_nearest);
    return;
  }
  int blas = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads)
  {
    /* OpenMP may grant fewer threads than asked (OMP_THREAD_LIMIT,
     * OMP_DYNAMIC): every worker's part is still streamed. */
    const int granted = omp_get_num_threads();
    for (int u = omp_get_thread_num(); u < threads; u += granted) {
      struct worker *w = &mix->work[u];
      double *rec = u == 0 ? mix->rec : w->rec;
      for (int64_t i0 = 0; i0 < p; i0 += mix->pb)
        stream_block(mix, w, hp, m, x + i0 * d,
                     p - i0 < mix->pb ? p - i0 : mix->pb, rec + i0 * rl,
                     want_nearest);
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p; i++)
      for (int u = 1; u < threads; u++)
        sgm__mixture_merge(&mix->layout, mix->work[u].rec + i * rl,
                           mix->rec + i * rl);
  }
  openblas_set_num_threads(blas);
}
