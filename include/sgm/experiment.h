/**
 * @file experiment.h
 * One run of an experiment: the training set, the drift, the sampler and
 * the diagnostics on the process grid, streamed save step by save step to
 * one parallel HDF5 file (the layout of INTERFACE.md).
 */
#ifndef SGM_EXPERIMENT_H
#define SGM_EXPERIMENT_H

#include <mpi.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgm/config.h"

struct sgm_run_options {
  const char *output; /* the file to write */
  bool overwrite;     /* replace an existing file */
  bool resume;        /* continue from the file's checkpoint (see below) */
  bool quiet;         /* no progress lines */
  int64_t task;       /* the [sweep] task this run is, or -1 */
  /* The task's configuration before the sweep was applied (its [sweep]
   * keys name the swept values); NULL when task = -1. */
  const sgm_config_t *sweep_base;
  /* Set (by a signal handler) to ask the run to stop: it finishes the
   * current step, writes a checkpoint and returns SGM_ERR_INTERRUPTED.
   * NULL: never. */
  const volatile sig_atomic_t *stop;
  /* sgmrun jacobian --points: analyse the rows of /points in this HDF5
   * file at every [jacobian] time instead of running the sampler (the file
   * then holds the provenance and /jacobian/).  NULL: a run. */
  const char *points;
};

/**
 * The file a run writes: `override` if given, else [run] output; for a
 * sweep task, "<stem>.task<NNN>.h5" (stem = the path without ".h5", NNN the
 * task with at least three digits).  Serial.
 */
int sgm_experiment_output_path(const sgm_config_t *cfg, const char *override,
                               int64_t task, char *buf, size_t len);

/**
 * Checks, before any work, that a run can write path: creates the default
 * directory results/ (under the working directory) when path lies directly
 * in it, then applies sgm_output_check_path.  Call on one rank and agree.
 */
int sgm_experiment_check_output(const char *path, bool overwrite);

/**
 * Runs the experiment of cfg.  Collective over world; every rank returns
 * the same status.  Invalid settings and an unusable output path are
 * reported before any work; once the file exists, a failure leaves it with
 * status "failed".
 *
 * Checkpoints ("<output>.ckpt", see output.h) are written every [run]
 * checkpoint_every steps and checkpoint_seconds of wall time, and when
 * *opt->stop becomes non-zero; after the latter the file is marked
 * "interrupted" and SGM_ERR_INTERRUPTED returned.  All ranks decide together
 * at each step boundary.  A complete run deletes its checkpoints.
 *
 * With opt->resume the run continues from the last checkpoint, on any
 * number of ranks and any grid: the configuration must equal the
 * checkpoint's (apart from [grid] rows and the checkpoint keys), else
 * SGM_ERR_CONFIG names the first differing key.  With no results file, or
 * none of its checkpoints, the run starts from the beginning (logged); a
 * complete file is left as it is.  On the same grid the result is
 * bit-for-bit that of an uninterrupted run.
 */
int sgm_experiment_run(MPI_Comm world, const sgm_config_t *cfg,
                       const struct sgm_run_options *opt);

#endif /* SGM_EXPERIMENT_H */
