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
#include "sgm/error.h"
#include "sgm/mixture.h"
#include "vmath.h"

#define CAND 8
#define NEAR 4
/* Blocks of 512 particles x 1024 centres (4 MB of products): the best
 * measured on the bench shapes (d = 784, 3072), where the DGEMMs' repeated
 * packing of the particles and centres costs least. */
#define DEFAULT_PARTICLE_BLOCK 512
#define DEFAULT_CENTRE_BLOCK 1024
/* A thread takes at least this many centres. */
#define MIN_THREAD_CENTRES 256
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

struct cand_list { /* the CAND largest head-0 logits seen so far */
  double logit[CAND], q[CAND];
  int64_t j[CAND];
  int count;
  double threshold; /* smallest kept logit once full, else -inf */
  /* A logit this far below the largest seen cannot need a correction in
   * any head (+inf: no such bound). */
  double drop;
};

struct near_list { /* the NEAR smallest approximate raw distances */
  double r[NEAR];
  int64_t j[NEAR];
  int count;
  /* The largest kept distance once full, and no more than the second
   * smallest plus twice the distances' error bound: nothing farther can
   * be one of the two nearest. */
  double threshold;
  double slack2; /* twice the error bound of this particle's distances */
};

/* One thread's part of an evaluation: the centres [j_begin, j_end) of the
 * local shard, streamed for every particle, into its own records.  Thread
 * 0's records are the mixture's (what the shards then combine). */
struct worker {
  int64_t j_begin, j_end;
  double *G, *L, *tm, *xn2;
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
  MPI_Comm comm;
  int pb, nb;
  int threads; /* requested; 0: the BLAS threads of the calling process */
  sgm__lowdim_t *lowdim; /* d <= 3, equal variances and weights: no GEMM */
  /* Workspaces, grown on demand. */
  double *rec, *coef;
  int64_t rec_cap;
  int ws_pb, ws_nb, ws_threads;
  struct worker *work;
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
  for (int64_t j = 0; j < nl; j++)
    mix->ynorm_max = fmax(mix->ynorm_max, sqrt(mix->ynorm2[j]));
  if (desc->variances) {
    SGM_CALL_GOTO(SGM_MALLOC(mix->var, nl), fail);
    memcpy(mix->var, desc->variances, (size_t)nl * sizeof *mix->var);
    SGM_CALL_GOTO(SGM_MALLOC(mix->coef, 3 * (size_t)nheads * nl), fail);
  }
  if (desc->log_weights) {
    SGM_CALL_GOTO(SGM_MALLOC(mix->logw, nl), fail);
    memcpy(mix->logw, desc->log_weights, (size_t)nl * sizeof *mix->logw);
  }
  if (d <= 3 && !desc->variances && !desc->log_weights)
    SGM_CALL_GOTO(sgm__lowdim_create((int)d, nl, desc->offset, desc->centres,
                                     &mix->lowdim),
                  fail);
  *out = mix;
  return 0;
fail:
  sgm_mixture_destroy(&mix);
  return err;
}

static void free_workspace(sgm_mixture_t *mix) {
  for (int t = 0; mix->work && t < mix->ws_threads; t++) {
    struct worker *w = &mix->work[t];
    free(w->G);
    free(w->L);
    free(w->tm);
    free(w->xn2);
    free(w->cand);
    free(w->near);
    free(w->rec);
  }
  free(mix->work);
  mix->work = NULL;
  mix->ws_pb = mix->ws_nb = mix->ws_threads = 0;
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
  sgm__lowdim_destroy(&mix->lowdim);
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

void sgm_mixture_set_threads(sgm_mixture_t *mix, int threads) {
  mix->threads = threads > 0 ? threads : 0;
}

/* Threads for this evaluation: as requested (else as many as BLAS would
 * use), each with MIN_THREAD_CENTRES centres at least. */
static int eval_threads(const sgm_mixture_t *mix) {
  int t = mix->threads > 0 ? mix->threads : openblas_get_num_threads();
  int64_t most = mix->n_local / MIN_THREAD_CENTRES;
  if (t > most)
    t = (int)most;
  return t < 1 ? 1 : t;
}

double sgm_mixture_work_bytes(const sgm_mixture_t *mix, int64_t p) {
  if (mix->lowdim)
    return sizeof(double) * (double)p * mix->layout.rec_len;
  const double threads = eval_threads(mix);
  const double rows = p < mix->pb ? (double)p : mix->pb;
  const double block =
      rows * mix->nb * (1 + mix->nheads) + (double)mix->nb + 2.0 * rows;
  const double records = (double)p * mix->layout.rec_len;
  return sizeof(double) * threads * (block + records);
}

double sgm_mixture_flops(const sgm_mixture_t *mix, int64_t p) {
  return (2.0 + 2.0 * mix->nheads) * (double)p * (double)mix->n_local *
         (double)mix->d;
}

/* Grows the records of n particles in *rec (capacity *cap). */
static int ensure_records(const sgm_mixture_t *mix, int64_t p, double **rec,
                          int64_t *cap) {
  if (p <= *cap)
    return 0;
  free(*rec);
  *rec = NULL;
  *cap = 0;
  SGM_CALL(SGM_MALLOC_ALIGNED(*rec, (size_t)p * mix->layout.rec_len));
  *cap = p;
  return 0;
}

/* Workspaces of `threads` workers for p particles, and their centre ranges
 * (equal parts of the shard). */
static int ensure_workspace(sgm_mixture_t *mix, int64_t p, int threads) {
  /* Blocks of min(pb, p) particles: no more rows than an eval uses. */
  const int rows = p < mix->pb ? (int)p : mix->pb;
  if (rows > mix->ws_pb || mix->ws_pb > mix->pb || mix->ws_nb != mix->nb ||
      mix->ws_threads != threads) {
    free_workspace(mix);
    SGM_CALL(SGM_CALLOC(mix->work, threads));
    mix->ws_threads = threads;
    size_t blk = (size_t)rows * mix->nb;
    for (int t = 0; t < threads; t++) {
      struct worker *w = &mix->work[t];
      SGM_CALL(SGM_MALLOC_ALIGNED(w->G, blk));
      SGM_CALL(SGM_MALLOC_ALIGNED(w->L, blk * mix->nheads));
      SGM_CALL(SGM_MALLOC_ALIGNED(w->tm, mix->nb));
      SGM_CALL(SGM_MALLOC(w->xn2, rows));
      SGM_CALL(SGM_MALLOC(w->cand, rows));
      SGM_CALL(SGM_MALLOC(w->near, rows));
    }
    mix->ws_pb = rows;
    mix->ws_nb = mix->nb;
  }
  for (int t = 0; t < threads; t++) {
    struct worker *w = &mix->work[t];
    w->j_begin = mix->n_local * t / threads;
    w->j_end = mix->n_local * (t + 1) / threads;
    if (t > 0)
      SGM_CALL(ensure_records(mix, p, &w->rec, &w->rec_cap));
  }
  return ensure_records(mix, p, &mix->rec, &mix->rec_cap);
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
static void stream_all(sgm_mixture_t *mix, const struct head_params *hp,
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
    int t = omp_get_thread_num();
    struct worker *w = &mix->work[t];
    double *rec = t == 0 ? mix->rec : w->rec;
    for (int64_t i0 = 0; i0 < p; i0 += mix->pb)
      stream_block(mix, w, hp, m, x + i0 * d,
                   p - i0 < mix->pb ? p - i0 : mix->pb, rec + i0 * rl,
                   want_nearest);
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p; i++)
      for (int u = 1; u < threads; u++)
        sgm__mixture_merge(&mix->layout, mix->work[u].rec + i * rl,
                           mix->rec + i * rl);
  }
  openblas_set_num_threads(blas);
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
  int threads = eval_threads(mix);
  int err = mix->lowdim ? ensure_records(mix, p, &mix->rec, &mix->rec_cap)
                        : ensure_workspace(mix, p, threads);
  if ((err = sgm_error_agree(mix->comm, err)) != 0)
    return err;
  const int d = mix->d, H = mix->nheads, rl = mix->layout.rec_len;
  struct head_params hp[SGM_MIXTURE_MAX_HEADS];
  for (int h = 0; h < H; h++)
    head_setup(mix, h, m, sigma2, &hp[h]);
  const int want_nearest = nearest != NULL;
  if (mix->lowdim) {
    /* Threads take particles here: as many as BLAS would use. */
    double a[SGM_MIXTURE_MAX_HEADS];
    for (int h = 0; h < H; h++)
      a[h] = hp[h].a;
    threads = mix->threads > 0 ? mix->threads : openblas_get_num_threads();
    sgm__lowdim_stream(mix->lowdim, &mix->layout, a, m, p, x, mix->rec,
                       want_nearest, threads < 1 ? 1 : threads);
  } else {
    stream_all(mix, hp, m, p, x, threads, want_nearest);
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
