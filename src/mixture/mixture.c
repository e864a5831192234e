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
#include <stdlib.h>
#include <string.h>

#include "mixture/mixture_impl.h"
#include "sgm/error.h"
#include "sgm/mixture.h"
#include "vmath.h"

#define CAND 8
#define NEAR 4
#define DEFAULT_PARTICLE_BLOCK 256
#define DEFAULT_CENTRE_BLOCK 256
/* Candidates whose approximate weight is below e^-500 of the maximum are
 * left alone: they cannot matter, and above this bound they are sure to
 * have passed the stream's flush (SGM_EXP_CUTOFF) unflushed. */
#define CORRECT_CUTOFF (-500.0)

struct cand_list { /* the CAND largest head-0 logits seen so far */
  double logit[CAND], q[CAND];
  int64_t j[CAND];
  int count;
  double threshold; /* smallest kept logit once full, else -inf */
};

struct near_list { /* the NEAR smallest approximate raw distances */
  double r[NEAR];
  int64_t j[NEAR];
  int count;
  double threshold; /* largest kept distance once full, else +inf */
};

struct sgm_mixture {
  sgm__mixture_layout_t layout;
  int d;
  int64_t n, offset, n_local;
  const double *y;
  const double *ynorm2;
  double *ynorm2_owned;
  double *var;  /* per-component variance, or NULL: all 0 */
  double *logw; /* per-component log weight, or NULL: uniform */
  int nheads;
  double head_var[SGM_MIXTURE_MAX_HEADS];
  MPI_Comm comm;
  int pb, nb;
  /* Workspaces, grown on demand. */
  double *G, *L, *tm, *xn2, *rec, *coef;
  int64_t rec_cap;
  int ws_pb, ws_nb;
  struct cand_list *cand;
  struct near_list *near;
};

/* Logit parameters of one head for this evaluation.  Equal-variance
 * mixtures share one precision a; otherwise a and the log-normaliser are
 * per component (coef). */
struct head_params {
  double a, half_a; /* equal variances */
  double v;         /* equal variances: the component variance */
  double c;         /* constant added to log p at the end */
  const double *a_j, *base_j, *v_j; /* unequal: per component */
};

int sgm_mixture_create(const sgm_mixture_desc_t *desc, int nheads,
                       const double *head_variance, sgm_mixture_t **out) {
  int err = 0;
  *out = NULL;
  SGM_CHECK(desc->d >= 1 && desc->n >= 1 && desc->n_local >= 0 &&
                desc->offset >= 0 && desc->offset + desc->n_local <= desc->n,
            SGM_ERR_INTERNAL, "inconsistent mixture shard (n %lld, local %lld)",
            (long long)desc->n, (long long)desc->n_local);
  SGM_CHECK(nheads >= 1 && nheads <= SGM_MIXTURE_MAX_HEADS, SGM_ERR_INTERNAL,
            "a mixture has 1 to %d heads, not %d", SGM_MIXTURE_MAX_HEADS,
            nheads);
  sgm_mixture_t *mix = NULL;
  SGM_CALL(SGM_CALLOC(mix, 1));
  mix->d = desc->d;
  mix->n = desc->n;
  mix->offset = desc->offset;
  mix->n_local = desc->n_local;
  mix->y = desc->centres;
  mix->comm = desc->comm;
  mix->nheads = nheads;
  for (int h = 0; h < nheads; h++) {
    SGM_CHECK_GOTO(head_variance[h] >= 0, SGM_ERR_INTERNAL, fail,
                   "negative head variance %g", head_variance[h]);
    mix->head_var[h] = head_variance[h];
  }
  mix->pb = DEFAULT_PARTICLE_BLOCK;
  mix->nb = DEFAULT_CENTRE_BLOCK;
  mix->layout.nheads = nheads;
  mix->layout.d = desc->d;
  mix->layout.head_len = REC_U + desc->d;
  mix->layout.rec_len = nheads * mix->layout.head_len + 4;

  const int64_t nl = desc->n_local, d = desc->d;
  if (desc->norm2) {
    mix->ynorm2 = desc->norm2;
  } else {
    SGM_CALL_GOTO(SGM_MALLOC(mix->ynorm2_owned, nl), fail);
    for (int64_t j = 0; j < nl; j++) {
      double s = 0;
      for (int64_t k = 0; k < d; k++)
        s += desc->centres[j * d + k] * desc->centres[j * d + k];
      mix->ynorm2_owned[j] = s;
    }
    mix->ynorm2 = mix->ynorm2_owned;
  }
  if (desc->variances) {
    SGM_CALL_GOTO(SGM_MALLOC(mix->var, nl), fail);
    memcpy(mix->var, desc->variances, (size_t)nl * sizeof *mix->var);
    SGM_CALL_GOTO(SGM_MALLOC(mix->coef, 3 * (size_t)nheads * nl), fail);
  }
  if (desc->log_weights) {
    SGM_CALL_GOTO(SGM_MALLOC(mix->logw, nl), fail);
    memcpy(mix->logw, desc->log_weights, (size_t)nl * sizeof *mix->logw);
  }
  *out = mix;
  return 0;
fail:
  sgm_mixture_destroy(&mix);
  return err;
}

static void free_workspace(sgm_mixture_t *mix) {
  free(mix->G);
  free(mix->L);
  free(mix->tm);
  free(mix->xn2);
  free(mix->cand);
  free(mix->near);
  mix->G = mix->L = mix->tm = mix->xn2 = NULL;
  mix->cand = NULL;
  mix->near = NULL;
  mix->ws_pb = mix->ws_nb = 0;
}

void sgm_mixture_destroy(sgm_mixture_t **handle) {
  if (!handle || !*handle)
    return;
  sgm_mixture_t *mix = *handle;
  free_workspace(mix);
  free(mix->rec);
  free(mix->ynorm2_owned);
  free(mix->var);
  free(mix->logw);
  free(mix->coef);
  free(mix);
  *handle = NULL;
}

void sgm_mixture_set_blocking(sgm_mixture_t *mix, int particle_block,
                              int centre_block) {
  if (particle_block > 0)
    mix->pb = particle_block;
  if (centre_block > 0)
    mix->nb = centre_block;
}

double sgm_mixture_flops(const sgm_mixture_t *mix, int64_t p) {
  return (2.0 + 2.0 * mix->nheads) * (double)p * (double)mix->n_local *
         (double)mix->d;
}

static int ensure_workspace(sgm_mixture_t *mix, int64_t p) {
  if (mix->ws_pb != mix->pb || mix->ws_nb != mix->nb) {
    free_workspace(mix);
    size_t blk = (size_t)mix->pb * mix->nb;
    SGM_CALL(SGM_MALLOC_ALIGNED(mix->G, blk));
    SGM_CALL(SGM_MALLOC_ALIGNED(mix->L, blk * mix->nheads));
    SGM_CALL(SGM_MALLOC_ALIGNED(mix->tm, mix->nb));
    SGM_CALL(SGM_MALLOC(mix->xn2, mix->pb));
    SGM_CALL(SGM_MALLOC(mix->cand, mix->pb));
    SGM_CALL(SGM_MALLOC(mix->near, mix->pb));
    mix->ws_pb = mix->pb;
    mix->ws_nb = mix->nb;
  }
  if (p > mix->rec_cap) {
    free(mix->rec);
    mix->rec = NULL;
    mix->rec_cap = 0;
    SGM_CALL(SGM_MALLOC_ALIGNED(mix->rec, (size_t)p * mix->layout.rec_len));
    mix->rec_cap = p;
  }
  return 0;
}

static void head_setup(const sgm_mixture_t *mix, int h, double m, double sigma2,
                       struct head_params *hp) {
  const double log_2pi = 1.8378770664093454836;
  const int64_t nl = mix->n_local;
  memset(hp, 0, sizeof *hp);
  if (!mix->var) {
    double s2 = m * m * mix->head_var[h] + sigma2;
    hp->v = mix->head_var[h];
    hp->a = 1.0 / s2;
    hp->half_a = 0.5 * hp->a;
    hp->c = -0.5 * mix->d * (log_2pi + log(s2)) -
            (mix->logw ? 0.0 : log((double)mix->n));
    return;
  }
  double *a_j = mix->coef + (size_t)3 * h * nl;
  double *base_j = a_j + nl, *v_j = base_j + nl;
  for (int64_t j = 0; j < nl; j++) {
    double v = mix->var[j] + mix->head_var[h];
    double s2 = m * m * v + sigma2;
    v_j[j] = v;
    a_j[j] = 1.0 / s2;
    base_j[j] = (mix->logw ? mix->logw[j] : -log((double)mix->n)) -
                0.5 * mix->d * (log_2pi + log(s2));
  }
  hp->a_j = a_j;
  hp->base_j = base_j;
  hp->v_j = v_j;
}

/* The logit of centre j (local index) at approximate squared distance q.
 * The stream and the correction both call this, so a candidate's
 * approximate logit is reproduced bit for bit. */
static inline double logit(const sgm_mixture_t *mix,
                           const struct head_params *hp, int64_t j, double q) {
  if (hp->a_j)
    return hp->base_j[j] - 0.5 * hp->a_j[j] * q;
  return (mix->logw ? mix->logw[j] : 0.0) - hp->half_a * q;
}

static void cand_reset(struct cand_list *c) {
  c->count = 0;
  c->threshold = -INFINITY;
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

static void near_reset(struct near_list *nl) {
  nl->count = 0;
  nl->threshold = INFINITY;
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
  if (nl->count == NEAR) {
    double t = nl->r[0];
    for (int k = 1; k < NEAR; k++)
      t = fmax(t, nl->r[k]);
    nl->threshold = t;
  }
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

/* Approximate raw squared distances of one row: collect near candidates. */
static void scan_nearest(const sgm_mixture_t *mix, const double *g, double xn,
                         int64_t j0, int64_t nbb, struct near_list *nl) {
  const double *yn = mix->ynorm2 + j0;
  double rmin = INFINITY;
  for (int64_t j = 0; j < nbb; j++)
    rmin = fmin(rmin, xn + yn[j] - 2.0 * g[j]);
  if (!(rmin < nl->threshold))
    return;
  for (int64_t j = 0; j < nbb; j++) {
    double r = xn + yn[j] - 2.0 * g[j];
    if (r < nl->threshold)
      near_insert(nl, r, j0 + j);
  }
}

/* Logits of one row of one head into l[]; returns the row maximum. */
static double row_logits(const sgm_mixture_t *mix, const struct head_params *hp,
                         const double *g, double xn, double two_m, int64_t j0,
                         int64_t nbb, double *restrict l) {
  const double *tm = mix->tm;
  double lmax = -INFINITY;
  if (!hp->a_j && !mix->logw) {
    const double half_a = hp->half_a;
    for (int64_t j = 0; j < nbb; j++) {
      double q = xn + tm[j] - two_m * g[j];
      q = q < 0.0 ? 0.0 : q;
      l[j] = 0.0 - half_a * q;
      lmax = fmax(lmax, l[j]);
    }
    return lmax;
  }
  for (int64_t j = 0; j < nbb; j++) {
    double q = xn + tm[j] - two_m * g[j];
    q = q < 0.0 ? 0.0 : q;
    l[j] = logit(mix, hp, j0 + j, q);
    lmax = fmax(lmax, l[j]);
  }
  return lmax;
}

/* Exponentiates one row of logits against the running maximum, rescaling
 * the particle's record if the maximum grew, and adds the row's weights to
 * Z (and to A, B for unequal variances, scaling the weights by a_j). */
static void row_weights(const sgm_mixture_t *mix, const struct head_params *hp,
                        double lmax, int64_t j0, int64_t nbb,
                        double *restrict l, double *hr) {
  const int d = mix->d;
  if (lmax > hr[REC_M]) {
    if (hr[REC_M] > -INFINITY) {
      double f = exp(hr[REC_M] - lmax);
      for (int k = REC_Z; k < REC_U + d; k++)
        hr[k] *= f;
    }
    hr[REC_M] = lmax;
  }
  sgm_vexp_shifted(l, nbb, hr[REC_M]);
  double z = 0.0;
  for (int64_t j = 0; j < nbb; j++)
    z += l[j];
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
  for (int k = 0; k < d; k++) {
    double t = x[k] - s * mu[k];
    acc += t * t;
  }
  return acc;
}

/* Replaces the streamed contributions of the particle's candidates by ones
 * computed from exact distances. */
static void correct_candidates(const sgm_mixture_t *mix,
                               const struct head_params *hp, double m,
                               const double *x, const struct cand_list *c,
                               double *rec) {
  const int d = mix->d;
  for (int k = 0; k < c->count; k++) {
    int64_t j = c->j[k];
    const double *mu = mix->y + j * d;
    double q_exact = direct_dist2(x, mu, m, d);
    for (int h = 0; h < mix->nheads; h++) {
      double *hr = rec + h * mix->layout.head_len;
      double l_approx = logit(mix, &hp[h], j, c->q[k]);
      if (l_approx - hr[REC_M] < CORRECT_CUTOFF)
        continue;
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
                           const struct near_list *nl, double *nr) {
  double r[NEAR];
  int64_t g[NEAR];
  for (int k = 0; k < nl->count; k++) {
    r[k] = direct_dist2(x, mix->y + nl->j[k] * mix->d, 1.0, mix->d);
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

/* One particle block against the whole local shard. */
static void stream_block(sgm_mixture_t *mix, const struct head_params *hp,
                         double m, const double *x, int64_t pbb, double *rec,
                         int want_nearest) {
  const int d = mix->d, H = mix->nheads, rl = mix->layout.rec_len;
  const int64_t nb = mix->nb;
  const double two_m = 2.0 * m, m2 = m * m;
  for (int64_t i = 0; i < pbb; i++) {
    double s = 0.0;
    for (int k = 0; k < d; k++)
      s += x[i * d + k] * x[i * d + k];
    mix->xn2[i] = s;
    record_reset(mix, rec + i * rl);
    cand_reset(&mix->cand[i]);
    near_reset(&mix->near[i]);
  }
  for (int64_t j0 = 0; j0 < mix->n_local; j0 += nb) {
    const int64_t nbb = mix->n_local - j0 < nb ? mix->n_local - j0 : nb;
    const double *yb = mix->y + j0 * d;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pbb, (int)nbb, d,
                1.0, x, d, yb, d, 0.0, mix->G, (int)nb);
    for (int64_t j = 0; j < nbb; j++)
      mix->tm[j] = m2 * mix->ynorm2[j0 + j];
    for (int64_t i = 0; i < pbb; i++) {
      const double *g = mix->G + i * nb;
      if (want_nearest)
        scan_nearest(mix, g, mix->xn2[i], j0, nbb, &mix->near[i]);
      for (int h = 0; h < H; h++) {
        double *l = mix->L + ((int64_t)h * mix->pb + i) * nb;
        double lmax =
            row_logits(mix, &hp[h], g, mix->xn2[i], two_m, j0, nbb, l);
        struct cand_list *c = &mix->cand[i];
        if (h == 0 && lmax > c->threshold) {
          for (int64_t j = 0; j < nbb; j++)
            if (l[j] > c->threshold) {
              double q = mix->xn2[i] + mix->tm[j] - two_m * g[j];
              cand_insert(c, l[j], q < 0.0 ? 0.0 : q, j0 + j);
            }
        }
        row_weights(mix, &hp[h], lmax, j0, nbb, l,
                    rec + i * rl + h * mix->layout.head_len);
      }
    }
    for (int h = 0; h < H; h++)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pbb, d,
                  (int)nbb, 1.0, mix->L + (int64_t)h * mix->pb * nb, (int)nb,
                  yb, d, 1.0, rec + h * mix->layout.head_len + REC_U, rl);
  }
  for (int64_t i = 0; i < pbb; i++) {
    correct_candidates(mix, hp, m, x + i * d, &mix->cand[i], rec + i * rl);
    if (want_nearest)
      finish_nearest(mix, x + i * d, &mix->near[i],
                     rec + i * rl + H * mix->layout.head_len);
  }
}

/* Turns a combined record into the head's outputs for one particle. */
static void finalize(const sgm_mixture_t *mix, const struct head_params *hp,
                     double m, double sigma2, const double *x, const double *hr,
                     int64_t i, sgm_mixture_out_t *out) {
  const int d = mix->d;
  const double z = hr[REC_Z], *u = hr + REC_U;
  if (out->log_density)
    out->log_density[i] = hp->c + hr[REC_M] + log(z);
  double *s = out->score ? out->score + i * d : NULL;
  double *dn = out->denoised ? out->denoised + i * d : NULL;
  if (!hp->a_j) {
    /* D0 = sum w mu; score = a (m D0 - x); E[X0|x] = m v a x + sigma^2 a D0 */
    const double a = hp->a, inv_z = 1.0 / z;
    double *mean = out->mean ? out->mean + i * d : NULL;
    for (int k = 0; k < d; k++) {
      double d0 = u[k] * inv_z;
      if (s)
        s[k] = a * (m * d0 - x[k]);
      if (dn)
        dn[k] = m * hp->v * a * x[k] + sigma2 * a * d0;
      if (mean)
        mean[k] = d0;
    }
    return;
  }
  /* score = (m U - A x) / Z; E[X0|x] = (sigma^2 U + m B x) / Z */
  const double inv_z = 1.0 / z;
  for (int k = 0; k < d; k++) {
    if (s)
      s[k] = (m * u[k] - hr[REC_A] * x[k]) * inv_z;
    if (dn)
      dn[k] = (sigma2 * u[k] + m * hr[REC_B] * x[k]) * inv_z;
  }
}

int sgm_mixture_eval(sgm_mixture_t *mix, double m, double sigma2, int64_t p,
                     const double *x, sgm_mixture_out_t *out,
                     sgm_nearest_t *nearest) {
  SGM_CHECK(sigma2 > 0 && isfinite(sigma2) && isfinite(m), SGM_ERR_INTERNAL,
            "mixture evaluated at sigma^2 = %g, m = %g", sigma2, m);
  for (int h = 0; h < mix->nheads; h++)
    SGM_CHECK(!out[h].mean || !mix->var, SGM_ERR_INTERNAL,
              "the weighted mean of centres is only defined for "
              "equal-variance mixtures");
  if (p <= 0)
    return 0;
  /* Allocation failures must be agreed on before the collective below. */
  int err = sgm_error_agree(mix->comm, ensure_workspace(mix, p));
  if (err)
    return err;
  const int d = mix->d, H = mix->nheads, rl = mix->layout.rec_len;
  struct head_params hp[SGM_MIXTURE_MAX_HEADS];
  for (int h = 0; h < H; h++)
    head_setup(mix, h, m, sigma2, &hp[h]);
  const int want_nearest = nearest != NULL;
  for (int64_t i0 = 0; i0 < p; i0 += mix->pb) {
    int64_t pbb = p - i0 < mix->pb ? p - i0 : mix->pb;
    stream_block(mix, hp, m, x + i0 * d, pbb, mix->rec + i0 * rl, want_nearest);
  }
  SGM_CALL(sgm__mixture_combine(&mix->layout, mix->comm, p, mix->rec));
  for (int64_t i = 0; i < p; i++) {
    const double *rec = mix->rec + i * rl;
    for (int h = 0; h < H; h++)
      finalize(mix, &hp[h], m, sigma2, x + i * d,
               rec + h * mix->layout.head_len, i, &out[h]);
    if (want_nearest) {
      const double *nr = rec + H * mix->layout.head_len;
      if (nearest->index)
        nearest->index[i] = (int64_t)nr[1];
      if (nearest->distance)
        nearest->distance[i] = sqrt(nr[0]);
      if (nearest->second_index)
        nearest->second_index[i] = (int64_t)nr[3];
      if (nearest->second_distance)
        nearest->second_distance[i] = sqrt(nr[2]);
    }
  }
  return 0;
}
