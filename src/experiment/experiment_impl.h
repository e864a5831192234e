/* Private to the experiment module: the state of a run, shared by the loop
 * (run.c) and the file layout (layout.c). */
#ifndef SGM_EXPERIMENT_IMPL_H
#define SGM_EXPERIMENT_IMPL_H

#include "sgm/config.h"
#include "sgm/dataset.h"
#include "sgm/diagnostics.h"
#include "sgm/drift.h"
#include "sgm/experiment.h"
#include "sgm/grid.h"
#include "sgm/output.h"
#include "sgm/sampler.h"

/* The series of the output file (NULL when switched off). */
struct layout {
  sgm_series_t *time, *particles;
  sgm_series_t *nearest, *second, *index, *memorized, *mean_nearest;
  sgm_series_t *score_error, *novikov, *novikov_lme, *novikov_mean,
      *mean_score_error;
  sgm_series_t *density;
};

struct run {
  const sgm_config_t *cfg;
  const struct sgm_run_options *opt;
  sgm_grid_t *grid;
  sgm_dataset_info_t info;
  sgm_dataset_t *data;
  sgm_drift_t *drift;
  sgm_sampler_t *sampler;
  sgm_diagnostics_t *diag;
  sgm_output_t *out;
  struct layout series;

  int d;
  int64_t P, first, count; /* all particles; this row's slice */
  int64_t writer_count;    /* count on column 0 (the writers), else 0 */
  int64_t chunk, chunks;   /* particles per chunk of a step; chunks per step */
  /* y, the slice's particles; s, emp, mean, pert: one chunk's drift
   * outputs; err, nd, nd2, ni: the slice's per-particle diagnostics. */
  double *y, *s, *emp, *mean, *pert, *err, *nd, *nd2, *density;
  int64_t *ni;
  int density_naxes, density_bins;

  /* Resuming: the checkpoint the run continues from (resume_step > 0). */
  int64_t resume_step;
  sgm_checkpoint_info_t ckpt;
  bool skip;       /* --resume of a complete file: nothing to do */
  bool out_failed; /* a write to the results file failed: abandon it */
};

/** Creates every dataset of the file, with descriptions, units and
 * dimension scales, and writes the root attributes.  Collective. */
int sgm__layout_create(struct run *r);

/** Reopens the series of an interrupted run's file, keeps their first
 * `saved` save steps, and marks the file running again.  Collective. */
int sgm__layout_reopen(struct run *r, int64_t saved);

/** Appends the first part of a save step at time t: the time, the
 * particles y and the density.  Collective. */
int sgm__layout_record_state(struct run *r, double t);

/** Takes the last state part out again (its step's evaluation failed).
 * Collective. */
int sgm__layout_unrecord_state(struct run *r);

/** Appends the rest of the save step (the diagnostics of its drift
 * evaluations) and flushes the file.  Collective. */
int sgm__layout_record_diagnostics(struct run *r,
                                   const sgm_diag_summary_t *sum);

/** Writes /final/particles from y.  Collective. */
int sgm__layout_final(struct run *r);

/** Writes /final/denoised.  Collective. */
int sgm__layout_denoised(struct run *r, const double *denoised);

/** Closes the series.  Collective. */
void sgm__layout_close(struct run *r);

#endif
