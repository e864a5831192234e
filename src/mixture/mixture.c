/*
 * Mixtures: set-up, work space, the evaluation's collective frame (stream
 * the shard, combine the shards' records, turn them into outputs).  The
 * GEMM stream itself is in stream.c, the d <= 3 kernel in lowdim.c, the
 * combination across ranks in reduce.c.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixture/mixture_impl.h"
#include "sgm/error.h"
#include "sgm/mixture.h"

/* Blocks of 512 particles x 1024 centres (4 MB of products): the best
 * measured on the bench shapes (d = 784, 3072), where the DGEMMs' repeated
 * packing of the particles and centres costs least. */
#define DEFAULT_PARTICLE_BLOCK 512
#define DEFAULT_CENTRE_BLOCK 1024
/* A thread takes at least this many centres. */
#define MIN_THREAD_CENTRES 256
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
  mix->kernel = desc->kernel;
  mix->poisson_D = desc->poisson_D;
  const bool poisson = desc->kernel == SGM_MIXTURE_POISSON;
  SGM_CHECK_GOTO(desc->kernel == SGM_MIXTURE_GAUSSIAN || poisson,
                 SGM_ERR_INTERNAL, fail, "unknown mixture kernel %d",
                 (int)desc->kernel);
  SGM_CHECK_GOTO(!poisson || (desc->poisson_D > 0 &&
                              isfinite(desc->poisson_D) && !desc->variances),
                 SGM_ERR_INTERNAL, fail,
                 "a Poisson mixture needs D > 0 (not %g) and no component "
                 "variances",
                 desc->poisson_D);
  for (int h = 0; h < nheads; h++) {
    SGM_CHECK_GOTO(head_variance[h] >= 0 && (!poisson || head_variance[h] == 0),
                   SGM_ERR_INTERNAL, fail,
                   "head variance %g: must be >= 0 (0 for a Poisson mixture)",
                   head_variance[h]);
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
  if (d <= 3 && !desc->variances && !desc->log_weights && !poisson)
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
    free(w->X32);
    free(w->G32);
    free(w->L32);
    free(w->U32);
    free(w->grow);
    free(w->yr);
    free(w->xr);
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
  free(mix->rec2);
  free(mix->x2);
  free(mix->centre);
  free(mix->y32);
  free(mix->yc2);
  free(mix->cyc);
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

void sgm_mixture_set_float32(sgm_mixture_t *mix, int on, double guard) {
  mix->f32 = on && !mix->var && !mix->logw && !mix->lowdim &&
             mix->kernel == SGM_MIXTURE_GAUSSIAN;
  mix->f32_guard = guard;
}

/* The float32 copy of the shard, made on the first float32 evaluation (a
 * mixture that is never evaluated in float32 never holds one). */
static int ensure_float32_shard(sgm_mixture_t *mix) {
  if (mix->y32)
    return 0;
  const int d = mix->d;
  const int64_t nl = mix->n_local;
  int err = SGM_CALLOC(mix->centre, (size_t)d);
  if (!err)
    err = SGM_MALLOC(mix->yc2, (size_t)nl + 1);
  if (!err)
    err = SGM_MALLOC(mix->cyc, (size_t)nl + 1);
  if (!err)
    err = SGM_MALLOC_ALIGNED(mix->y32, (size_t)(nl > 0 ? nl : 1) * d);
  if (err) { /* nothing half made: the next attempt starts afresh */
    free(mix->centre);
    free(mix->yc2);
    free(mix->cyc);
    mix->centre = NULL;
    mix->yc2 = mix->cyc = NULL;
    return err;
  }
  /* c: the shard's mean, so that float32 carries the centres' spread
   * rather than their offset from the origin. */
  for (int64_t j = 0; j < nl; j++)
    for (int k = 0; k < d; k++)
      mix->centre[k] += mix->y[j * d + k];
  for (int k = 0; k < d && nl > 0; k++)
    mix->centre[k] /= (double)nl;
  mix->ycnorm_max = 0.0;
  for (int64_t j = 0; j < nl; j++) {
    double s2 = 0.0, sc = 0.0;
    for (int k = 0; k < d; k++) {
      double t = mix->y[j * d + k] - mix->centre[k];
      mix->y32[j * d + k] = (float)t;
      s2 += t * t;
      sc += mix->centre[k] * t;
    }
    mix->yc2[j] = s2;
    mix->cyc[j] = sc;
    mix->ycnorm_max = fmax(mix->ycnorm_max, sqrt(s2));
  }
  mix->ynorm_max_global = -1.0;
  return 0;
}

int sgm_mixture_is_float32(const sgm_mixture_t *mix) { return mix->f32; }

void sgm_mixture_float32_stats(const sgm_mixture_t *mix, int64_t *evals,
                               int64_t *redone) {
  *evals = mix->f32_evals;
  *redone = mix->f32_fallbacks;
}

/* Threads for this evaluation: as requested (else as many as BLAS would
 * use); the GEMM stream gives each MIN_THREAD_CENTRES centres at least, the
 * d <= 3 kernel spreads particles. */
static int eval_threads(const sgm_mixture_t *mix) {
  int t = mix->threads > 0 ? mix->threads : openblas_get_num_threads();
  int64_t most = mix->lowdim ? t : mix->n_local / MIN_THREAD_CENTRES;
  if (t > most)
    t = (int)most;
  return t < 1 ? 1 : t;
}

double sgm_mixture_work_bytes(const sgm_mixture_t *mix, int64_t p) {
  if (mix->lowdim)
    return sizeof(double) * (double)p * mix->layout.rec_len;
  const double threads = eval_threads(mix);
  const double rows = p < mix->pb ? (double)p : mix->pb;
  double block =
      rows * mix->nb * (1 + mix->nheads) + (double)mix->nb + 2.0 * rows;
  if (mix->f32) /* the float32 buffers (half-size) and the redos' records */
    block += 2.0 * mix->nb + rows +
             0.5 * (rows * mix->nb * (1 + mix->nheads) + 2.0 * rows * mix->d) +
             (double)p * (mix->layout.rec_len + mix->d + 1) / threads;
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
      mix->ws_threads != threads || mix->ws_f32 != mix->f32) {
    free_workspace(mix);
    SGM_CALL(SGM_CALLOC(mix->work, threads));
    mix->ws_threads = threads;
    size_t blk = (size_t)rows * mix->nb, dim = (size_t)mix->d;
    for (int t = 0; t < threads; t++) {
      struct worker *w = &mix->work[t];
      /* The float64 products serve the float32 stream's float64 redos. */
      SGM_CALL(SGM_MALLOC_ALIGNED(w->G, blk));
      if (mix->f32) {
        SGM_CALL(SGM_MALLOC_ALIGNED(w->X32, (size_t)rows * dim));
        SGM_CALL(SGM_MALLOC_ALIGNED(w->G32, blk));
        SGM_CALL(SGM_MALLOC_ALIGNED(w->L32, blk * mix->nheads));
        SGM_CALL(SGM_MALLOC_ALIGNED(w->U32, (size_t)rows * dim));
        SGM_CALL(SGM_MALLOC_ALIGNED(w->grow, mix->nb));
        SGM_CALL(SGM_MALLOC_ALIGNED(w->yr, mix->nb));
        SGM_CALL(SGM_MALLOC(w->xr, rows));
      }
      SGM_CALL(SGM_MALLOC_ALIGNED(w->L, blk * mix->nheads));
      SGM_CALL(SGM_MALLOC_ALIGNED(w->tm, mix->nb));
      SGM_CALL(SGM_MALLOC(w->xn2, rows));
      SGM_CALL(SGM_MALLOC(w->cand, rows));
      SGM_CALL(SGM_MALLOC(w->near, rows));
    }
    mix->ws_pb = rows;
    mix->ws_nb = mix->nb;
    mix->ws_f32 = mix->f32;
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
  if (mix->kernel == SGM_MIXTURE_POISSON) {
    /* log p = logsumexp(l) + c with l_i = log pi_i - k log(1 + q_i / r^2):
     * the kernel's C r^D r^{-2k} = C r^{-d} goes into c.  (Its lgamma
     * difference is good to ~1e-16 D log D absolute.) */
    const double log_pi = 1.1447298858494001741;
    const double D = mix->poisson_D, r2 = D * sigma2;
    hp->kappa = 0.5 * (mix->d + D);
    hp->inv_r2 = 1.0 / r2;
    hp->a = 1.0 / sigma2;
    hp->c = lgamma(hp->kappa) - lgamma(0.5 * D) -
            0.5 * mix->d * (log_pi + log(r2)) -
            (mix->logw ? 0.0 : log((double)mix->n));
    return;
  }
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
    /* D0 = sum w mu; score = a (m D0 - x); E[X0|x] = m v a x + sigma^2 a D0
     * (Poisson: v = 0, a = 1 / sigma^2, the effective score and D0). */
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

/* Whether the float32 part of a combined record can move the score by
 * more than the guard (relative): relative weight errors eps = E / Z move the
 * weighted mean D of the centres by at most eps (|D| + max |mu|), the
 * score a (m D - x) by a m times that. */
static bool guard_fails(const sgm_mixture_t *mix, double m, const double *x,
                        const double *rec) {
  const int d = mix->d;
  for (int h = 0; h < mix->nheads; h++) {
    const double *hr = rec + h * mix->layout.head_len;
    const double z = hr[REC_Z], eps = hr[REC_E] / z;
    double dn = 0.0, sn = 0.0;
    for (int k = 0; k < d; k++) {
      double dk = hr[REC_U + k] / z;
      dn += dk * dk;
      sn += (m * dk - x[k]) * (m * dk - x[k]);
    }
    double bound = fabs(m) * eps * (sqrt(dn) + mix->ynorm_max_global);
    /* Z <= 0: the exact candidates weigh far less than their float32
     * estimates did, and Z is what rounding left. */
    if (!(z > 0) || !(bound <= mix->f32_guard * sqrt(sn)))
      return true;
  }
  return false;
}

/* After the float32 stream and the combination: the particles the guard
 * rejects (the same on every rank: the records are) are streamed again in
 * float64 and their records replaced.  Collective. */
static int float32_guard(sgm_mixture_t *mix, const struct head_params *hp,
                         double m, int64_t p, const double *x, int threads,
                         int want_nearest) {
  const int d = mix->d, rl = mix->layout.rec_len;
  if (mix->ynorm_max_global < 0)
    SGM_MPI(MPI_Allreduce(&mix->ynorm_max, &mix->ynorm_max_global, 1,
                          MPI_DOUBLE, MPI_MAX, mix->comm));
  int64_t *which = NULL, nf = 0;
  int err = SGM_MALLOC(which, (size_t)p);
  if (!err)
    for (int64_t i = 0; i < p; i++)
      if (guard_fails(mix, m, x + i * d, mix->rec + i * rl))
        which[nf++] = i;
  if (!err && nf > 0)
    err = ensure_records(mix, nf, &mix->rec2, &mix->rec2_cap);
  if (!err && nf > 0 && nf * d > mix->x2_cap) {
    free(mix->x2);
    mix->x2_cap = 0;
    err = SGM_MALLOC_ALIGNED(mix->x2, (size_t)(nf * d));
    if (!err)
      mix->x2_cap = nf * d;
  }
  if ((err = sgm_error_agree(mix->comm, err)) != 0) {
    free(which);
    return err;
  }
  mix->f32_evals += p;
  mix->f32_fallbacks += nf;
  if (nf > 0) {
    for (int64_t k = 0; k < nf; k++)
      memcpy(mix->x2 + k * d, x + which[k] * d, (size_t)d * sizeof *x);
    sgm__mixture_stream(mix, hp, m, nf, mix->x2, threads, want_nearest, false,
                        mix->rec2);
    err = sgm__mixture_combine(&mix->layout, mix->comm, nf, mix->rec2);
    for (int64_t k = 0; !err && k < nf; k++)
      memcpy(mix->rec + which[k] * rl, mix->rec2 + k * rl,
             (size_t)rl * sizeof *mix->rec);
  }
  free(which);
  return err;
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
  const int threads = eval_threads(mix);
  int err = mix->lowdim ? ensure_records(mix, p, &mix->rec, &mix->rec_cap)
                        : ensure_workspace(mix, p, threads);
  if (!err && mix->f32)
    err = ensure_float32_shard(mix);
  if ((err = sgm_error_agree(mix->comm, err)) != 0)
    return err;
  const int d = mix->d, H = mix->nheads, rl = mix->layout.rec_len;
  struct head_params hp[SGM_MIXTURE_MAX_HEADS];
  for (int h = 0; h < H; h++)
    head_setup(mix, h, m, sigma2, &hp[h]);
  const int want_nearest = nearest != NULL;
  if (mix->lowdim) {
    double a[SGM_MIXTURE_MAX_HEADS];
    for (int h = 0; h < H; h++)
      a[h] = hp[h].a;
    sgm__lowdim_stream(mix->lowdim, &mix->layout, a, m, p, x, mix->rec,
                       want_nearest, threads);
  } else {
    sgm__mixture_stream(mix, hp, m, p, x, threads, want_nearest, mix->f32,
                        mix->rec);
  }
  SGM_CALL(sgm__mixture_combine(&mix->layout, mix->comm, p, mix->rec));
  if (mix->f32)
    SGM_CALL(float32_guard(mix, hp, m, p, x, threads, want_nearest));
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
