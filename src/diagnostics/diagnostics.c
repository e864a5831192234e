/*
 * Per-path diagnostics and their ensemble summary: memorisation, distance to
 * the nearest training example, score error and the Novikov integral.
 *
 * The summary is combined from one small record per ensemble rank.  The
 * records are all-gathered and every rank folds them in rank order, so the
 * summary is identical to the last bit on every rank whatever reduction
 * algorithm MPI picks (a sum of doubles is not associative).
 *
 * Conventions:
 *  - A path is memorised when nearest / second < SGM_MEMORIZED_RATIO
 *    (strictly).  A second-nearest distance of 0 means two exact copies of a
 *    training example tie: the ratio is taken as 1 (not memorised).  An
 *    infinite second distance (a data set with a single example) gives
 *    ratio 0; a NaN ratio is not memorised.
 *  - Means over the P paths are sums of values scaled by a power of two
 *    (exact), so that they overflow only where the mean itself would.  The
 *    Novikov mean is taken as M + mean(I_j - M), M = max_j I_j, which is
 *    exact when all I_j are equal and accurate when they cluster.
 *  - log((1/P) sum_j exp(I_j)) is computed as M + log1p(U / P) with
 *    M = max_j I_j and U = sum_j expm1(I_j - M): exact when all I_j are
 *    equal, free of overflow for any finite I_j, and accurate to full
 *    relative precision even when every I_j is tiny (a plain
 *    M + log(sum exp(I_j - M) / P) loses all digits below 1e-16 there).
 *    Each rank sends its own (count, M_r, U_r); they combine as
 *    U = sum_r [U_r + (count_r + U_r) expm1(M_r - M)].  Where a few paths
 *    dominate (S = P + U < P / 2), 1 + U / P would cancel, and the plain
 *    sum S = sum_j exp(I_j - M), also sent, gives M + log(S / P) instead.
 *  - An input passed as NULL by a rank that holds paths leaves its entries
 *    NaN; ranks holding no paths may pass NULL freely.  The local counts
 *    must add up to P (checked; every rank then fails alike).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diagnostics/diagnostics_impl.h"
#include "sgm/error.h"

/* Layout of one rank's summary record. */
enum {
  REC_COUNT,     /* local paths */
  REC_MEMORISED, /* local memorised paths */
  REC_NEAREST,   /* scaled sum of nearest distances */
  REC_ERROR,     /* scaled sum of score errors */
  REC_NOV_DEV,   /* scaled sum of I - max I */
  REC_NOV_MAX,   /* max I (-inf when none, NaN when any I is NaN) */
  REC_NOV_U,     /* sum expm1(I - max I) */
  REC_NOV_S,     /* sum exp(I - max I) */
  REC_MISSING,   /* bit set of the inputs passed as NULL with count > 0 */
  REC_LEN
};
enum { MISSING_NEAREST = 1, MISSING_SECOND = 2, MISSING_ERROR = 4 };

int sgm_diagnostics_create(const sgm_config_t *cfg, MPI_Comm ensemble,
                           int64_t P, int64_t count, int d,
                           sgm_diagnostics_t **out) {
  int err = 0;
  SGM_CHECK(out, SGM_ERR_INTERNAL, "diagnostics: no output handle");
  *out = NULL;
  SGM_CHECK(cfg, SGM_ERR_INTERNAL, "diagnostics: no configuration");
  SGM_CHECK(ensemble != MPI_COMM_NULL, SGM_ERR_INTERNAL,
            "diagnostics: the ensemble communicator is MPI_COMM_NULL");
  SGM_CHECK(P >= 1, SGM_ERR_INTERNAL,
            "diagnostics: P = %lld paths, at least 1 needed", (long long)P);
  SGM_CHECK(count >= 0 && count <= P, SGM_ERR_INTERNAL,
            "diagnostics: %lld local paths out of P = %lld", (long long)count,
            (long long)P);
  SGM_CHECK(d >= 1, SGM_ERR_INTERNAL, "diagnostics: dimension d = %d < 1", d);
  const int bins = cfg->diagnostics.density_bins;
  const double lo = cfg->diagnostics.density_range[0],
               hi = cfg->diagnostics.density_range[1];
  SGM_CHECK(bins >= 0, SGM_ERR_CONFIG,
            "[diagnostics] density_bins = %d must be >= 0", bins);
  if (bins > 0 && d <= 2)
    SGM_CHECK(isfinite(lo) && isfinite(hi) && lo < hi &&
                  isfinite((hi - lo) / bins) && (hi - lo) / bins > 0,
              SGM_ERR_CONFIG,
              "[diagnostics] density_range = %g, %g must be finite with "
              "lo < hi",
              lo, hi);

  sgm_diagnostics_t *g = NULL;
  SGM_CALL(SGM_CALLOC(g, 1));
  g->ensemble = ensemble;
  g->P = P;
  g->count = count;
  g->d = d;
  SGM_MPI_GOTO(MPI_Comm_size(ensemble, &g->ensemble_size), fail);
  SGM_CALL_GOTO(SGM_CALLOC(g->novikov, (size_t)count), fail);
  SGM_CALL_GOTO(SGM_MALLOC(g->gather, (size_t)g->ensemble_size * REC_LEN),
                fail);
  if (bins > 0 && d <= 2) {
    g->naxes = d;
    g->bins = bins;
    g->lo = lo;
    g->hi = hi;
    SGM_CALL_GOTO(sgm__diagnostics_density_init(g), fail);
  }
  *out = g;
  return 0;
fail:
  sgm_diagnostics_destroy(&g);
  return err;
}

void sgm_diagnostics_destroy(sgm_diagnostics_t **diag) {
  if (!diag || !*diag)
    return;
  sgm_diagnostics_t *g = *diag;
  sgm__diagnostics_density_free(g);
  free(g->novikov);
  free(g->gather);
  free(g);
  *diag = NULL;
}

void sgm_diagnostics_score_error(int64_t count, int d, const double *drift,
                                 const double *empirical, double *norm) {
  for (int64_t i = 0; i < count; i++) {
    const double *a = drift + i * d, *b = empirical + i * d;
    double s = 0;
    for (int k = 0; k < d; k++) {
      double e = a[k] - b[k];
      s += e * e;
    }
    norm[i] = sqrt(s);
  }
}

void sgm_diagnostics_novikov_step(sgm_diagnostics_t *diag, double g2, double dt,
                                  const double *error_norm) {
  const double c = 0.5 * g2 * dt;
  for (int64_t i = 0; i < diag->count; i++)
    diag->novikov[i] += c * (error_norm[i] * error_norm[i]);
}

const double *sgm_diagnostics_novikov(const sgm_diagnostics_t *diag) {
  return diag->novikov;
}

void sgm_diagnostics_set_novikov(sgm_diagnostics_t *diag,
                                 const double *values) {
  if (diag->count > 0)
    memcpy(diag->novikov, values, sizeof(double) * (size_t)diag->count);
}

/* The exponent e with 2^(e-1) <= P < 2^e: sums of x * 2^-e over P values
 * cannot exceed the largest |x|. */
static int mean_exponent(int64_t P) {
  int e;
  frexp((double)P, &e);
  return e;
}

/* (1/P) * (sum scaled by 2^-e), without overflow where the mean fits. */
static double scaled_mean(double scaled_sum, int e, int64_t P) {
  double s = ldexp(scaled_sum, e);
  if (isfinite(s) || !isfinite(scaled_sum))
    return s / (double)P;
  return scaled_sum * (ldexp(1.0, e) / (double)P);
}

static double memorised_ratio(double nearest, double second) {
  return second == 0 ? 1.0 : nearest / second;
}

static void local_record(const sgm_diagnostics_t *g, const double *nearest,
                         const double *second, const double *error_norm,
                         double *rec) {
  const int64_t n = g->count;
  const int e = mean_exponent(g->P);
  int missing = 0;
  for (int k = 0; k < REC_LEN; k++)
    rec[k] = 0;
  rec[REC_COUNT] = (double)n;

  if (n > 0 && !nearest)
    missing |= MISSING_NEAREST;
  if (n > 0 && !second)
    missing |= MISSING_SECOND;
  if (n > 0 && !error_norm)
    missing |= MISSING_ERROR;
  if (nearest && second) {
    int64_t memorised = 0;
    for (int64_t i = 0; i < n; i++)
      memorised += memorised_ratio(nearest[i], second[i]) < SGM_MEMORIZED_RATIO;
    rec[REC_MEMORISED] = (double)memorised;
  }
  if (nearest)
    for (int64_t i = 0; i < n; i++)
      rec[REC_NEAREST] += ldexp(nearest[i], -e);
  if (error_norm)
    for (int64_t i = 0; i < n; i++)
      rec[REC_ERROR] += ldexp(error_norm[i], -e);

  const double *I = g->novikov;
  double m = -INFINITY, u = 0, s = 0;
  int nan = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(I[i]))
      nan = 1;
    else if (I[i] > m)
      m = I[i];
  }
  if (nan)
    m = NAN;
  else if (isfinite(m))
    for (int64_t i = 0; i < n; i++) {
      u += expm1(I[i] - m);
      s += exp(I[i] - m);
      rec[REC_NOV_DEV] += ldexp(I[i], -e) - ldexp(m, -e);
    }
  rec[REC_NOV_MAX] = m;
  rec[REC_NOV_U] = u;
  rec[REC_NOV_S] = s;
  rec[REC_MISSING] = missing;
}

/* log((1/P) sum_j exp(I_j)) and (1/P) sum_j I_j from the ranks' records
 * (count, M_r, U_r, S_r, D_r). */
static void novikov_combine(const double *records, int nrec, int64_t P,
                            double *log_mean_exp, double *mean) {
  double m = -INFINITY;
  for (int r = 0; r < nrec; r++) {
    const double mr = records[r * REC_LEN + REC_NOV_MAX];
    if (isnan(mr) || mr > m)
      m = mr;
    if (isnan(mr))
      break;
  }
  if (!isfinite(m)) {
    /* NaN: some I is NaN; +inf: some I overflowed; -inf: every I is -inf. */
    *log_mean_exp = *mean = m;
    return;
  }
  const int e = mean_exponent(P);
  double u = 0, s = 0, dev = 0;
  for (int r = 0; r < nrec; r++) {
    const double *rec = records + r * REC_LEN;
    if (rec[REC_NOV_MAX] == -INFINITY)
      continue;
    const double f = expm1(rec[REC_NOV_MAX] - m);
    u += rec[REC_NOV_U] + (rec[REC_COUNT] + rec[REC_NOV_U]) * f;
    s += rec[REC_NOV_S] * exp(rec[REC_NOV_MAX] - m);
    dev += rec[REC_NOV_DEV] +
           rec[REC_COUNT] * (ldexp(rec[REC_NOV_MAX], -e) - ldexp(m, -e));
  }
  *log_mean_exp =
      s < 0.5 * (double)P ? m + log(s / (double)P) : m + log1p(u / (double)P);
  *mean = m + scaled_mean(dev, e, P);
}

int sgm_diagnostics_summarize(sgm_diagnostics_t *diag, const double *nearest,
                              const double *second, const double *error_norm,
                              sgm_diag_summary_t *out) {
  sgm_diagnostics_t *g = diag;
  double rec[REC_LEN];
  local_record(g, nearest, second, error_norm, rec);
  SGM_MPI(MPI_Allgather(rec, REC_LEN, MPI_DOUBLE, g->gather, REC_LEN,
                        MPI_DOUBLE, g->ensemble));

  const int nrec = g->ensemble_size;
  double total[REC_LEN] = {0};
  int missing = 0;
  for (int r = 0; r < nrec; r++) {
    const double *q = g->gather + r * REC_LEN;
    for (int k = REC_COUNT; k <= REC_ERROR; k++)
      total[k] += q[k];
    missing |= (int)q[REC_MISSING];
  }
  /* Every rank sees the same total, so all return the same status. */
  SGM_CHECK(total[REC_COUNT] == (double)g->P, SGM_ERR_INTERNAL,
            "diagnostics: the ensemble holds %.0f paths, P = %lld",
            total[REC_COUNT], (long long)g->P);
  const int e = mean_exponent(g->P);
  const double P = (double)g->P;
  out->memorized_fraction = missing & (MISSING_NEAREST | MISSING_SECOND)
                                ? NAN
                                : total[REC_MEMORISED] / P;
  out->mean_nearest_distance = missing & MISSING_NEAREST
                                   ? NAN
                                   : scaled_mean(total[REC_NEAREST], e, g->P);
  out->mean_score_error =
      missing & MISSING_ERROR ? NAN : scaled_mean(total[REC_ERROR], e, g->P);
  novikov_combine(g->gather, nrec, g->P, &out->novikov_log_mean_exp,
                  &out->novikov_mean);
  return 0;
}
