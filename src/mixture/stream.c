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
 *    DGEMM rounded, and hence not on the rank count or the blocking (when
 *    more than NEAR lie within the error bound of the second, an exact scan
 *    of the shard decides; the float32 stream keeps NEAR_F32 and redoes
 *    such a particle in float64).
 *
 * The float32 stream ([run] precision = float32) does both products with
 * SGEMM on the shard centred at its mean (which shrinks the norms that
 * float32's cancellation error scales with) and keeps the rest in float64:
 * the logits and weights are computed in float64 from the float32
 * products, the candidates are left out of the second SGEMM and added with
 * exact distances in float64 at the end (a candidate evicted on the way is
 * added back with its approximate weight), and E records a bound on what
 * the float32 part of Z can be off by, for the guard in mixture.c.
 */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mixture/stream_impl.h"
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

/* Approximate raw squared distances xn + yn - 2g of one row, whose minimum
 * row_logits found: collect near candidates. */
static void scan_nearest(const double *g, const double *yn, double xn,
                         double rmin, int64_t j0, int64_t nbb,
                         struct near_list *nl) {
  if (!(rmin < near_gate(nl)))
    return;
  for (int64_t j = 0; j < nbb; j += CHUNK) {
    double r[CHUNK], low = INFINITY;
    if (j + CHUNK <= nbb) {
      for (int k = 0; k < CHUNK; k++) {
        r[k] = xn + yn[j + k] - 2.0 * g[j + k];
        low = r[k] < low ? r[k] : low;
      }
      if (!(low < near_gate(nl)))
        continue;
    }
    for (int k = 0; k < CHUNK && j + k < nbb; k++) {
      double rk = xn + yn[j + k] - 2.0 * g[j + k];
      if (rk < near_gate(nl))
        near_offer(nl, rk, j0 + j + k);
    }
  }
}

/* Logits of one row of one head into l[]; returns the row maximum.  With
 * rmin, also the smallest approximate raw squared distance of the row (for
 * the nearest search), from the same products.  The loops are written for
 * the vectoriser (omp simd: the reductions may reassociate). */
static double row_logits(const sgm_mixture_t *mix, const struct head_params *hp,
                         const struct row *rw, double *restrict l,
                         double *rmin) {
  double lmax = -INFINITY, rlow = INFINITY;
  const double *g = rw->g, *tm = rw->tm, *yn = rw->yn;
  const double xq = rw->xq, xr = rw->xr, two_m = rw->two_m;
  const int64_t nbb = rw->nbb;
  if (!hp->a_j && !mix->logw && !(hp->kappa > 0)) {
    const double half_a = hp->half_a;
    if (rmin) {
#pragma omp simd reduction(max : lmax) reduction(min : rlow)
      for (int64_t j = 0; j < nbb; j++) {
        double r = xr + yn[j] - 2.0 * g[j];
        rlow = r < rlow ? r : rlow;
        double q = xq + tm[j] - two_m * g[j];
        q = q < 0.0 ? 0.0 : q;
        l[j] = 0.0 - half_a * q;
        lmax = l[j] > lmax ? l[j] : lmax;
      }
      *rmin = rlow;
      return lmax;
    }
#pragma omp simd reduction(max : lmax)
    for (int64_t j = 0; j < nbb; j++) {
      double q = xq + tm[j] - two_m * g[j];
      q = q < 0.0 ? 0.0 : q;
      l[j] = 0.0 - half_a * q;
      lmax = l[j] > lmax ? l[j] : lmax;
    }
    return lmax;
  }
#pragma omp simd reduction(max : lmax)
  for (int64_t j = 0; j < nbb; j++) {
    double q = xq + tm[j] - two_m * g[j];
    q = q < 0.0 ? 0.0 : q;
    l[j] = logit(mix, hp, rw->j0 + j, q);
    lmax = l[j] > lmax ? l[j] : lmax;
  }
  if (rmin) {
#pragma omp simd reduction(min : rlow)
    for (int64_t j = 0; j < nbb; j++) {
      double r = xr + yn[j] - 2.0 * g[j];
      rlow = r < rlow ? r : rlow;
    }
    *rmin = rlow;
  }
  return lmax;
}

/* Entries k < len of the chunk c starting at row offset j above the list's
 * bar enter it, with their approximate squared distances. */
static void pick_chunk(const struct pick *p, const double *c, int64_t j,
                       int len, double floor) {
  const struct row *rw = p->rw;
  for (int k = 0; k < len; k++)
    if (c[k] > fmax(p->list->threshold, floor)) {
      double q = rw->xq + rw->tm[j + k] - rw->two_m * rw->g[j + k];
      int slot = cand_slot(p->list);
      if (slot < p->list->count && p->list->excluded[slot])
        sgm__f32_add_back(p, slot);
      cand_store(p->list, slot, c[k], q < 0.0 ? 0.0 : q, rw->j0 + j + k);
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
                        double *restrict l, double *hr, const struct pick *pick,
                        struct cand_list *watch) {
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
  /* The float32 stream watches for weights flushed although float32's
   * error could make them count (only when its slack is that large). */
  const double watch_floor = watch ? shift - watch->drop : INFINITY;
  if (watch && !(watch_floor < cut))
    watch = NULL;
  double z = 0.0;
  int64_t j8 = 0;
  for (; j8 < nbb; j8 += CHUNK) {
    const int len = nbb - j8 < CHUNK ? (int)(nbb - j8) : CHUNK;
    double *c = l + j8;
    if (watch)
      for (int k = 0; k < len; k++)
        if (c[k] < cut && c[k] > watch_floor)
          watch->lost = fmax(watch->lost, c[k]);
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
 * empirical and smoothed scores, the Poisson field, whose heads are all
 * alike); +inf otherwise. */
static double candidate_drop(const sgm_mixture_t *mix,
                             const struct head_params *hp, double dq) {
  if (mix->var || mix->logw)
    return INFINITY;
  if (hp[0].kappa > 0) /* Poisson: every head is the same */
    return -CORRECT_CUTOFF + 2.0 * logit_slack(&hp[0], 0, dq);
  double a_min = hp[0].a;
  for (int h = 1; h < mix->nheads; h++)
    a_min = fmin(a_min, hp[h].a);
  return -CORRECT_CUTOFF * hp[0].a / a_min + hp[0].a * dq;
}

/* Replaces the streamed contributions of the particle's candidates by ones
 * computed from exact distances (float64 stream). */
static void correct_candidates(const sgm_mixture_t *mix,
                               const struct head_params *hp, double m,
                               const double *x, double xn2,
                               const struct cand_list *c, double *rec) {
  const int d = mix->d;
  const double dq = expanded_error(mix, false, xn2, m);
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
 * by (distance, global index); err bounds the error of their approximate
 * distances.  An overflowed list is replaced by an exact scan of the
 * worker's centres. */
static void finish_nearest(const sgm_mixture_t *mix, const struct worker *w,
                           const double *x, double err,
                           const struct near_list *nl, double *nr) {
  double r[NEAR_F32];
  int64_t g[NEAR_F32];
  int count = nl->count;
  if (nl->overflow) { /* the two nearest by (distance, index), exactly */
    double r1 = INFINITY, r2 = INFINITY;
    int64_t j1 = -1, j2 = -1;
    for (int64_t j = w->j_begin; j < w->j_end; j++) {
      double rj = direct_dist2(x, mix->y + j * mix->d, 1.0, mix->d);
      if (rj < r1) {
        r2 = r1, j2 = j1, r1 = rj, j1 = j;
      } else if (rj < r2) {
        r2 = rj, j2 = j;
      }
    }
    count = (j1 >= 0) + (j2 >= 0);
    r[0] = r1, r[1] = r2;
    g[0] = mix->offset + j1, g[1] = mix->offset + j2;
  } else {
    /* Only candidates whose approximate distance is within twice the error
     * bound of the second smallest can be among the two nearest. */
    const double reach = near_second(nl) + 2.0 * err;
    for (int k = 0; k < count; k++) {
      r[k] = nl->r[k] <= reach || count <= 2
                 ? direct_dist2(x, mix->y + nl->j[k] * mix->d, 1.0, mix->d)
                 : INFINITY;
      g[k] = mix->offset + nl->j[k];
    }
  }
  for (int slot = 0; slot < 2 && slot < count; slot++) {
    int best = slot;
    for (int k = slot + 1; k < count; k++)
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

/* The error bound of particle i's approximate raw distances.  The float32
 * products behind them are those of x - m c, not x - c: their error scales
 * with |x - m c| (and the float64 terms' with |(1 - m) c| <= |x - c| +
 * |x - m c|), so the bound takes the larger of the two norms. */
static double raw_error(const sgm_mixture_t *mix, const struct worker *w,
                        int64_t i, bool f32) {
  return f32 ? expanded_error(mix, true, fmax(w->xn2[i], w->xr[i]), 1.0)
             : expanded_error(mix, false, w->xn2[i], 1.0);
}

/* Before a block: each particle's norms, record, candidate and near
 * lists.  The float32 stream also centres and rounds the particles. */
static void block_start(const sgm_mixture_t *mix, struct worker *w,
                        const struct head_params *hp, double m, const double *x,
                        int64_t pbb, double *rec, bool f32) {
  const int d = mix->d, rl = mix->layout.rec_len;
  for (int64_t i = 0; i < pbb; i++) {
    const double *xi = x + i * d;
    double sq = 0.0, sr = 0.0;
    if (f32) { /* |x - m c|^2 for the logits, |x - c|^2 for the nearest */
      float *x32 = w->X32 + i * d;
      for (int k = 0; k < d; k++) {
        double t = xi[k] - m * mix->centre[k], u = xi[k] - mix->centre[k];
        x32[k] = (float)t;
        sq += t * t;
        sr += u * u;
      }
    } else {
      for (int k = 0; k < d; k++)
        sq += xi[k] * xi[k];
      sr = sq;
    }
    w->xn2[i] = sq;
    if (f32)
      w->xr[i] = sr;
    record_reset(mix, rec + i * rl);
    cand_reset(&w->cand[i],
               candidate_drop(mix, hp, expanded_error(mix, f32, sq, m)));
    near_reset(&w->near[i], 2.0 * raw_error(mix, w, i, f32),
               f32 ? NEAR_F32 : NEAR);
  }
}

/* One particle block against the worker's centres. */
static void stream_block(const sgm_mixture_t *mix, struct worker *w,
                         const struct head_params *hp, double m,
                         const double *x, int64_t pbb, double *rec,
                         int want_nearest, bool f32) {
  const int d = mix->d, H = mix->nheads, rl = mix->layout.rec_len;
  const int64_t nb = mix->nb, plane = (int64_t)mix->ws_pb * nb;
  const double two_m = 2.0 * m, m2 = m * m;
  block_start(mix, w, hp, m, x, pbb, rec, f32);
  for (int64_t j0 = w->j_begin; j0 < w->j_end; j0 += nb) {
    const int64_t nbb = w->j_end - j0 < nb ? w->j_end - j0 : nb;
    const double *yb = mix->y + j0 * d;
    const float *yb32 = f32 ? mix->y32 + j0 * d : NULL;
    const double *yn = mix->ynorm2 + j0;
    if (f32) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pbb, (int)nbb,
                  d, 1.0f, w->X32, d, yb32, d, 0.0f, w->G32, (int)nb);
      for (int64_t j = 0; j < nbb; j++) {
        w->tm[j] = m2 * mix->yc2[j0 + j];
        w->yr[j] = mix->yc2[j0 + j] + 2.0 * (1.0 - m) * mix->cyc[j0 + j];
      }
      yn = w->yr;
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pbb, (int)nbb,
                  d, 1.0, x, d, yb, d, 0.0, w->G, (int)nb);
      for (int64_t j = 0; j < nbb; j++)
        w->tm[j] = m2 * mix->ynorm2[j0 + j];
    }
    for (int64_t i = 0; i < pbb; i++) {
      const double *g = f32 ? w->grow : w->G + i * nb;
      if (f32) { /* this row's products in float64 */
        const float *g32 = w->G32 + i * nb;
        for (int64_t j = 0; j < nbb; j++)
          w->grow[j] = g32[j];
      }
      const struct row rw = {
          g, w->tm, yn, w->xn2[i], f32 ? w->xr[i] : w->xn2[i], two_m, j0, nbb};
      for (int h = 0; h < H; h++) {
        double *l = w->L + h * plane + i * nb;
        double rmin = INFINITY;
        double lmax = row_logits(mix, &hp[h], &rw, l,
                                 want_nearest && h == 0 ? &rmin : NULL);
        if (want_nearest && h == 0)
          scan_nearest(g, yn, rw.xr, rmin, j0, nbb, &w->near[i]);
        struct pick pick = {&w->cand[i], &rw, mix, hp, rec + i * rl};
        row_weights(mix, &hp[h], lmax, j0, nbb, l,
                    rec + i * rl + h * mix->layout.head_len,
                    h == 0 && lmax > w->cand[i].threshold ? &pick : NULL,
                    f32 && h == 0 ? &w->cand[i] : NULL);
      }
      if (f32)
        sgm__f32_exclude(mix, w, i, j0, nbb, rec + i * rl);
    }
    for (int h = 0; h < H; h++) {
      double *u = rec + h * mix->layout.head_len + REC_U;
      if (!f32) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pbb, d,
                    (int)nbb, 1.0, w->L + h * plane, (int)nb, yb, d, 1.0, u,
                    rl);
        continue;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pbb, d,
                  (int)nbb, 1.0f, w->L32 + h * plane, (int)nb, yb32, d, 0.0f,
                  w->U32, d);
      for (int64_t i = 0; i < pbb; i++)
        for (int k = 0; k < d; k++)
          u[i * rl + k] += w->U32[i * d + k];
    }
  }
  for (int64_t i = 0; i < pbb; i++) {
    double *ri = rec + i * rl;
    if (f32)
      sgm__f32_finish(mix, hp, m, x + i * d, w->xn2[i], &w->cand[i], ri);
    else
      correct_candidates(mix, hp, m, x + i * d, w->xn2[i], &w->cand[i], ri);
    if (want_nearest && f32 && w->near[i].overflow) {
      /* The guard redoes this particle in float64 (in a batch, rather than
       * an exact scan of the shard for each particle). */
      ri[REC_E] = INFINITY;
    } else if (want_nearest) {
      finish_nearest(mix, w, x + i * d, raw_error(mix, w, i, f32), &w->near[i],
                     ri + H * mix->layout.head_len);
    }
  }
}

/* Every particle against every local centre: each worker streams its
 * centres into its records, in parallel threads (each with a single-threaded
 * BLAS) when there are several, and the workers' records are merged into
 * rec in worker order, as the shards' are across ranks. */
void sgm__mixture_stream(sgm_mixture_t *mix, const struct head_params *hp,
                         double m, int64_t p, const double *x, int threads,
                         int want_nearest, bool f32, double *rec) {
  const int d = mix->d, rl = mix->layout.rec_len;
  if (threads == 1) {
    for (int64_t i0 = 0; i0 < p; i0 += mix->pb)
      stream_block(mix, &mix->work[0], hp, m, x + i0 * d,
                   p - i0 < mix->pb ? p - i0 : mix->pb, rec + i0 * rl,
                   want_nearest, f32);
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
      double *wrec = u == 0 ? rec : w->rec;
      for (int64_t i0 = 0; i0 < p; i0 += mix->pb)
        stream_block(mix, w, hp, m, x + i0 * d,
                     p - i0 < mix->pb ? p - i0 : mix->pb, wrec + i0 * rl,
                     want_nearest, f32);
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p; i++)
      for (int u = 1; u < threads; u++)
        sgm__mixture_merge(&mix->layout, mix->work[u].rec + i * rl,
                           rec + i * rl);
  }
  openblas_set_num_threads(blas);
}
