/* The run's closing report: where rank 0's time went, the sampler's further
 * drift evaluations, float32's accuracy guard, and the peak memory. */
#include <inttypes.h>
#include <sys/resource.h>

#include "experiment/experiment_impl.h"
#include "sgm/log.h"

/* The largest peak resident memory of any rank, beside that rank's shard,
 * particles and sampler state: what the rest (libraries, buffers) took.
 * Collective. */
static void report_memory(const struct run *r) {
  struct rusage use;
  getrusage(RUSAGE_SELF, &use);
  const double mib = 1024.0 * 1024.0;
  double mine[4] = {(double)use.ru_maxrss * 1024.0 / mib,
                    (double)r->data->n_local * r->d * sizeof(double) / mib,
                    (double)r->count * r->d * sizeof(double) / mib,
                    (double)sgm_sampler_state_bytes(r->sampler) / mib};
  struct {
    double value;
    int rank;
  } peak = {mine[0], r->grid->rank};
  MPI_Allreduce(MPI_IN_PLACE, &peak, 1, MPI_DOUBLE_INT, MPI_MAXLOC,
                r->grid->world);
  /* The shard, particle and sampler sizes of the rank with the peak. */
  MPI_Bcast(mine, 4, MPI_DOUBLE, peak.rank, r->grid->world);
  sgm_log(SGM_LOG_INFO,
          "memory: peak resident %.1f MiB on rank %d (its training shard "
          "%.1f MiB, its particles %.1f MiB, its sampler's state %.1f MiB, "
          "the rest %.1f MiB)",
          peak.value, peak.rank, mine[1], mine[2], mine[3],
          peak.value - mine[1] - mine[2] - mine[3]);
}

void sgm__run_report(const struct run *r, double total, double t_drift,
                     double t_save, int64_t steps) {
  const double t_jac = r->t_jacobian;
  const double rest = total - t_drift - t_save - t_jac;
  if (total > 0)
    sgm_log(SGM_LOG_INFO,
            "time on rank 0: drift evaluations %.3g s (%.1f%%), sampler "
            "and diagnostics %.3g s (%.1f%%), saving %.3g s (%.1f%%)",
            t_drift, 100 * t_drift / total, rest, 100 * rest / total, t_save,
            100 * t_save / total);
  const int64_t extra = sgm_sampler_extra_evals(r->sampler);
  if (extra > 0 && steps > 0)
    sgm_log(SGM_LOG_INFO,
            "sampler on rank 0: %" PRId64 " further particle evaluations of "
            "the drift (%.3g per particle-step of this rank's slice)",
            extra, (double)extra / ((double)r->count * (double)steps));
  if (total > 0 && r->jac)
    sgm_log(SGM_LOG_INFO,
            "time on rank 0: Jacobian analysis %.3g s (%.1f%%, writing "
            "included)",
            t_jac, 100 * t_jac / total);
  if (r->cfg->run.precision == SGM_PRECISION_FLOAT32) {
    int64_t evals = 0, redone = 0;
    if (sgm_drift_float32_stats(r->drift, &evals, &redone))
      sgm_log(SGM_LOG_INFO,
              "float32 on rank 0: %" PRId64 " particle evaluations, %" PRId64
              " (%.2g%%) redone in float64 by the accuracy guard",
              evals, redone, evals ? 100.0 * (double)redone / evals : 0.0);
    else
      sgm_log(SGM_LOG_INFO,
              "float32: this drift's kernel has no float32 stream (d <= 3, or "
              "unequal variances or weights); it ran in float64");
  }
  report_memory(r);
}
