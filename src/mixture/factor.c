/*
 * The Jacobian of a mixture's score at one point, as a factor over the
 * shards (mixture.h, sgm_mixture_jacobian_factor).  With component
 * variances s_i^2 = m^2 (v_i + h) + sigma^2, a_i = (m mu_i - x) / s_i^2 and
 * the posterior weights w_i, the score is sum_i w_i a_i and
 *   J = sum_i w_i (a_i - abar)(a_i - abar)^T - (sum_i w_i / s_i^2) I,
 * abar = sum_i w_i a_i (for equal variances: (m^2 / s^4) Cov_w(mu) - I/s^2).
 * The weights come from direct distances (no cancellation), their log-sum-exp
 * and abar from reductions over the mixture's communicator, every sum
 * reduced to rank 0 and broadcast so that all ranks hold the same bits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixture/mixture_impl.h"
#include "sgm/error.h"

/* A row whose term w_i |a_i - abar|^2 is below this fraction of the
 * diagonal sum_i w_i / s_i^2 (a lower bound on |J|'s scale: the identity
 * part) is dropped: all of them together move J by at most
 * n * FACTOR_DROP * |J| (< 1e-15 |J| for n < 10^5), below the rounding of
 * the decompositions that follow. */
#define FACTOR_DROP 1e-20

static int sum_bcast(MPI_Comm comm, double *v, int n, double *scratch) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  SGM_CHECK(MPI_Reduce(v, scratch, n, MPI_DOUBLE, MPI_SUM, 0, comm) ==
                MPI_SUCCESS,
            SGM_ERR_MPI, "MPI_Reduce of the Jacobian factor's sums failed");
  if (rank == 0)
    memcpy(v, scratch, sizeof *v * (size_t)n);
  SGM_CHECK(MPI_Bcast(v, n, MPI_DOUBLE, 0, comm) == MPI_SUCCESS, SGM_ERR_MPI,
            "MPI_Bcast of the Jacobian factor's sums failed");
  return 0;
}

int64_t sgm_mixture_local_count(const sgm_mixture_t *mix) {
  return mix->n_local;
}

int sgm_mixture_jacobian_factor(const sgm_mixture_t *mix, int head, double m,
                                double sigma2, const double *x, double *F,
                                int64_t *rows, double *diag) {
  SGM_CHECK(head >= 0 && head < mix->nheads, SGM_ERR_INTERNAL,
            "head %d of a mixture with %d", head, mix->nheads);
  SGM_CHECK(mix->kernel == SGM_MIXTURE_GAUSSIAN, SGM_ERR_UNSUPPORTED,
            "the Poisson field has no analytic Jacobian; use [jacobian] "
            "method = fd");
  SGM_CHECK(sigma2 > 0 && isfinite(sigma2) && isfinite(m), SGM_ERR_INTERNAL,
            "a Jacobian at sigma^2 = %g, m = %g", sigma2, m);
  const int d = mix->d;
  const int64_t n = mix->n_local;
  const double h = mix->head_var[head];
  int err = 0;
  double *logit = NULL, *sums = NULL, *scratch = NULL;
  err = SGM_MALLOC(logit, (size_t)n + 1);
  if (!err)
    err = SGM_MALLOC(sums, (size_t)d + 2);
  if (!err)
    err = SGM_MALLOC(scratch, (size_t)d + 2);
  /* Every rank enters the reductions below, or none does. */
  if ((err = sgm_error_agree(mix->comm, err)) != 0)
    goto done;
  /* Logits from direct distances. */
  double top = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    const double *mu = mix->y + i * d;
    const double s2 = m * m * ((mix->var ? mix->var[i] : 0.0) + h) + sigma2;
    double r2 = 0.0;
    for (int k = 0; k < d; k++) {
      const double e = x[k] - m * mu[k];
      r2 += e * e;
    }
    logit[i] =
        (mix->logw ? mix->logw[i] : 0.0) - 0.5 * r2 / s2 - 0.5 * d * log(s2);
    top = fmax(top, logit[i]);
  }
  double global_top = -INFINITY;
  SGM_CHECK_GOTO(MPI_Allreduce(&top, &global_top, 1, MPI_DOUBLE, MPI_MAX,
                               mix->comm) == MPI_SUCCESS,
                 SGM_ERR_MPI, done, "MPI_Allreduce of the logits' max failed");
  SGM_CHECK_GOTO(isfinite(global_top), SGM_ERR_NUMERIC, done,
                 "the mixture's weights at this point underflow (largest "
                 "logit %g)",
                 global_top);
  /* Z, sum e_i a_i and sum e_i / s_i^2 (e_i = exp(l_i - top)). */
  memset(sums, 0, sizeof *sums * ((size_t)d + 2));
  for (int64_t i = 0; i < n; i++) {
    const double e = exp(logit[i] - global_top);
    logit[i] = e;
    if (e == 0.0)
      continue;
    const double *mu = mix->y + i * d;
    const double s2 = m * m * ((mix->var ? mix->var[i] : 0.0) + h) + sigma2;
    for (int k = 0; k < d; k++)
      sums[k] += e * (m * mu[k] - x[k]) / s2;
    sums[d] += e / s2;
    sums[d + 1] += e;
  }
  SGM_CALL_GOTO(sum_bcast(mix->comm, sums, d + 2, scratch), done);
  const double Z = sums[d + 1];
  for (int k = 0; k < d; k++)
    sums[k] /= Z; /* abar */
  *diag = sums[d] / Z;
  /* The rows sqrt(w_i) (a_i - abar) that matter. */
  int64_t kept = 0;
  for (int64_t i = 0; i < n; i++) {
    const double w = logit[i] / Z;
    if (w == 0.0)
      continue;
    const double *mu = mix->y + i * d;
    const double s2 = m * m * ((mix->var ? mix->var[i] : 0.0) + h) + sigma2;
    double *row = F + kept * d, r2 = 0.0;
    for (int k = 0; k < d; k++) {
      row[k] = (m * mu[k] - x[k]) / s2 - sums[k];
      r2 += row[k] * row[k];
    }
    if (w * r2 <= FACTOR_DROP * *diag)
      continue;
    const double sw = sqrt(w);
    for (int k = 0; k < d; k++)
      row[k] *= sw;
    kept++;
  }
  *rows = kept;
done:
  free(logit);
  free(sums);
  free(scratch);
  return err;
}
