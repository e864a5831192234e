/*
 * The float32 parts of the GEMM stream (see stream.c): the candidates are
 * left out of the weighted-centre SGEMM block by block and added exactly
 * at the end (or, evicted on the way, with their approximate weight), and
 * the float32 part's weights are summed in E for the guard in mixture.c.
 */
#include <float.h>
#include <math.h>

#include "mixture/stream_impl.h"

/* Adds a candidate that the float32 stream left out of its SGEMM back into
 * every head's weighted centres with its approximate weight: it has been
 * pushed out of the list, so nothing will add it exactly.  The centres are
 * the shard's centred ones (as the SGEMM's). */
void sgm__f32_add_back(const struct pick *p, int slot) {
  const sgm_mixture_t *mix = p->mix;
  const int d = mix->d;
  const int64_t j = p->list->j[slot];
  const double *mu = mix->y + j * d;
  for (int h = 0; h < mix->nheads; h++) {
    double *hr = p->rec + h * mix->layout.head_len;
    double w = exp(logit(mix, &p->hp[h], j, p->list->q[slot]) - hr[REC_M]);
    hr[REC_E] += w;
    for (int k = 0; k < d; k++)
      hr[REC_U + k] += w * (mu[k] - mix->centre[k]);
  }
}

/* float32 stream: the block's weights rounded for SGEMM, less the
 * candidates (each is left out from the block it is in until the end; all
 * heads alike). */
void sgm__f32_exclude(const sgm_mixture_t *mix, struct worker *w, int64_t i,
                      int64_t j0, int64_t nbb, double *rec) {
  const int64_t nb = mix->nb, plane = (int64_t)mix->ws_pb * nb;
  struct cand_list *c = &w->cand[i];
  for (int k = 0; k < c->count; k++)
    if (!c->excluded[k] && c->j[k] >= j0 && c->j[k] < j0 + nbb) {
      for (int h = 0; h < mix->nheads; h++)
        w->L[h * plane + i * nb + (c->j[k] - j0)] = 0.0;
      c->excluded[k] = true;
    }
  /* What is left is the float32 part: rounded for SGEMM, and its weights
   * summed into E (a sum of what is there, not Z less the candidates,
   * which would cancel). */
  for (int h = 0; h < mix->nheads; h++) {
    const double *l = w->L + h * plane + i * nb;
    float *l32 = w->L32 + h * plane + i * nb;
    double tail = 0.0;
#pragma omp simd reduction(+ : tail)
    for (int64_t j = 0; j < nbb; j++) {
      l32[j] = (float)l[j];
      tail += l32[j];
    }
    rec[h * mix->layout.head_len + REC_E] += tail;
  }
}

/* The float32 stream's end for one particle (equal variances and weights):
 * every candidate, left out of the SGEMM, is added with its exact distance
 * (its approximate weight leaves Z); E, which summed the weights of the
 * float32 part, becomes a bound on what they and Z's rounding can be off
 * by (+inf when the near list overflowed, see stream_block); and
 * the weighted centres, summed centred, are moved back by Z c. */
void sgm__f32_finish(const sgm_mixture_t *mix, const struct head_params *hp,
                     double m, const double *x, double xq,
                     const struct cand_list *c, double *rec) {
  const int d = mix->d;
  const double dq = expanded_error(mix, true, xq, m);
  double q_exact[CAND];
  for (int k = 0; k < c->count; k++)
    q_exact[k] = direct_dist2(x, mix->y + c->j[k] * d, m, d);
  for (int h = 0; h < mix->nheads; h++) {
    double *hr = rec + h * mix->layout.head_len;
    double top = hr[REC_M];
    for (int k = 0; k < c->count; k++)
      top = fmax(top, logit(mix, &hp[h], c->j[k], q_exact[k]));
    if (top > hr[REC_M]) { /* an exact logit above the streamed maximum */
      double f = hr[REC_M] > -INFINITY ? exp(hr[REC_M] - top) : 0.0;
      for (int k = REC_Z; k < REC_U + d; k++)
        hr[k] *= f;
      hr[REC_M] = top;
    }
    double zsum = hr[REC_Z]; /* what Z's rounding is relative to */
    for (int k = 0; k < c->count; k++) {
      const int64_t j = c->j[k];
      const double *mu = mix->y + j * d;
      double we = exp(logit(mix, &hp[h], j, q_exact[k]) - hr[REC_M]);
      double wa = exp(logit(mix, &hp[h], j, c->q[k]) - hr[REC_M]);
      hr[REC_Z] += we - wa;
      zsum += we + wa;
      for (int t = 0; t < d; t++)
        hr[REC_U + t] += we * (mu[t] - mix->centre[t]);
    }
    /* E held the float32 part's weights; each may be off by e^{2 slack} - 1
     * (its logit and the maximum), its float32 rounding (2^-24, and the
     * SGEMM's sums of nb of them, (nb + 2) 2^-24).  Z's own rounding after
     * the candidates' approximate weights left it (cancellation when they
     * far exceeded the exact ones) joins the same budget.  A weight flushed
     * within drop of the maximum that did not find room in the full list
     * could be anything: no bound. */
    const double u32 = 0.5 * FLT_EPSILON;
    if (hr[REC_E] > 0)
      hr[REC_E] *= (1.0 + 2.0 * u32) * expm1(2.0 * logit_slack(&hp[h], 0, dq)) +
                   (mix->nb + 3) * u32;
    hr[REC_E] += 4.0 * DBL_EPSILON * zsum;
    if (h == 0 && c->count == CAND && c->lost >= hr[REC_M] - c->drop)
      hr[REC_E] = INFINITY;
    for (int t = 0; t < d; t++)
      hr[REC_U + t] += hr[REC_Z] * mix->centre[t];
  }
}
