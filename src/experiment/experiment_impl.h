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
#include "sgm/jacobian.h"
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
  bool skip; /* --resume of a complete file: nothing to do */
  /* The Jacobian analysis ([jacobian] enabled): its state, and the step of
   * the time grid at which each listed time is analysed. */
  struct sgm__jac_run *jac;
  int64_t *jac_step;
  double t_jacobian;                 /* seconds spent in it (rank 0's clock) */
  double stage_flops, stage_seconds; /* multi-stage steps' drift evaluations */
  bool out_failed; /* a write to the results file failed: abandon it */
};

/** A sweep task's root attributes: "task", one per swept key (named by
 * the key) and "sweep" summarising them; nothing for a plain run.
 * Collective. */
int sgm__layout_task_attributes(const struct sgm_run_options *opt, hid_t f);

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

/** The run's closing lines after `steps` steps taking `total` s on rank 0
 * (t_drift in the drift, t_save saving).  Collective (the memory peak). */
void sgm__run_report(const struct run *r, double total, double t_drift,
                     double t_save, int64_t steps);

/* ---- The Jacobian analysis (jacobian.c) ---------------------------------- */
struct sgm__jac_run;

/** Sets up the analysis of M points, of which this grid row holds
 * [row_first, row_first + row_count).  Collective over world. */
int sgm__jacobian_open(MPI_Comm world, const sgm_config_t *cfg,
                       const sgm_grid_t *grid, sgm_drift_t *drift, int64_t M,
                       int64_t row_first, int64_t row_count,
                       struct sgm__jac_run **out);

/** Creates (create) or reopens the /jacobian datasets.  Collective. */
int sgm__jacobian_layout(struct sgm__jac_run *J, sgm_output_t *out,
                         bool create);

/** Analyses this row's points y (row_count x d, the same on every rank of
 * the row) at time t as listed time j, writes slab j and flushes.
 * Collective over world. */
int sgm__jacobian_time(struct sgm__jac_run *J, int j, double t, const double *y,
                       sgm_output_t *out);

/** Closes the /jacobian datasets (before the file).  Collective. */
void sgm__jacobian_close_datasets(struct sgm__jac_run *J);

/** Frees (datasets included); sets the handle to NULL (NULL allowed).
 * Collective. */
void sgm__jacobian_close(struct sgm__jac_run **J);

/** [grid] rows for a run with a Jacobian analysis: the configured rows, or
 * for rows = auto with an explicit [jacobian] grid P x Q, the most rows
 * whose row size is a multiple of P Q (one row when none is). */
int sgm__jacobian_grid_rows(const sgm_config_t *cfg, int world_size);

/** Sets up a run's analysis of its first [jacobian] points particles at
 * the grid times nearest the listed ones (r->jac, r->jac_step).
 * Collective. */
int sgm__jacobian_run_open(MPI_Comm world, struct run *r);

/** Analyses the listed times that fall on step k (the state at t_k, before
 * the step moves it).  Collective. */
int sgm__jacobian_run_step(struct run *r, int64_t k, double tk);

/** sgm_experiment_run with opt->points (points.c). */
int sgm__experiment_points(MPI_Comm world, const sgm_config_t *cfg,
                           const struct sgm_run_options *opt);

/** The step k of the time grid t[0..K] nearest each listed time. */
int sgm__jacobian_steps(const sgm_config_t *cfg, const double *t, int64_t K,
                        int64_t *steps);

#endif
