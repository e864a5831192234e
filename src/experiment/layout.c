/*
 * The layout of a run's output file (INTERFACE.md): what is created, with
 * which description, units and dimension scales, and what one save step
 * appends.  /time is the scale of every series' first axis and /particle
 * that of the particle axis.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment_impl.h"
#include "sgm/error.h"

/* One series of the file: where its handle goes, its name, shape and
 * meaning.  One table serves creating a file and reopening it to resume. */
struct series_spec {
  sgm_series_t **slot;
  const char *name;
  enum sgm_series_kind kind;
  hid_t type;      /* in memory */
  hid_t file_type; /* stored */
  int ndims;       /* of one save step (the particle axis included) */
  int64_t dims[2];
  const char *description, *units;
};

#define MAX_SERIES 16

/* The series this run's configuration asks for, /time first. */
static int series_table(struct run *r, struct series_spec *t) {
  const sgm_config_t *cfg = r->cfg;
  struct layout *L = &r->series;
  const hid_t dbl = H5T_NATIVE_DOUBLE, i64 = H5T_NATIVE_INT64;
  const hid_t storage = cfg->output.storage == SGM_PRECISION_FLOAT32
                            ? H5T_NATIVE_FLOAT
                            : H5T_NATIVE_DOUBLE;
  const bool nearest = cfg->diagnostics.nearest,
             novikov = cfg->diagnostics.novikov;
  const int64_t P = r->P, d = r->d, bins = r->density_bins;
  const enum sgm_series_kind PART = SGM_SERIES_PARTICLES,
                             ENS = SGM_SERIES_ENSEMBLE;
  int n = 0;
#define ADD(cond, ...)                                                         \
  do {                                                                         \
    if (cond)                                                                  \
      t[n++] = (struct series_spec){__VA_ARGS__};                              \
  } while (0)
  ADD(1, &L->time, "time", ENS, dbl, dbl, 0, {0, 0},
      "forward time t of each saved step, from T down to t_min", "SDE time");
  ADD(cfg->output.trajectories, &L->particles, "particles", PART, dbl, storage,
      2, {P, d}, "the particles Y_t at each saved step", "data units");
  /* Per-particle diagnostics (saved x P) and ensemble summaries (saved). */
  ADD(nearest, &L->nearest, "diagnostics/nearest_distance", PART, dbl, dbl, 1,
      {P, 0}, "distance |y - x_i| to the nearest training example",
      "data units");
  ADD(nearest, &L->second, "diagnostics/second_nearest_distance", PART, dbl,
      dbl, 1, {P, 0}, "distance to the second-nearest training example",
      "data units");
  ADD(nearest, &L->index, "diagnostics/nearest_index", PART, i64, i64, 1,
      {P, 0}, "index of the nearest training example (training set as loaded)",
      "index");
  ADD(novikov, &L->score_error, "diagnostics/score_error_norm", PART, dbl, dbl,
      1, {P, 0},
      "|s(y, t) - grad log p^_t(y)|: the drift's distance from the "
      "empirical score",
      "1/data units");
  ADD(novikov, &L->novikov, "diagnostics/novikov_integral", PART, dbl, dbl, 1,
      {P, 0},
      "I = 1/2 int g^2 |s - grad log p^_t|^2 dtau along the path so far "
      "(left-point rule)",
      "dimensionless");
  ADD(nearest, &L->memorized, "diagnostics/memorized_fraction", ENS, dbl, dbl,
      0, {0, 0}, "share of paths with nearest / second-nearest distance < 1/3",
      "fraction");
  ADD(nearest, &L->mean_nearest, "diagnostics/mean_nearest_distance", ENS, dbl,
      dbl, 0, {0, 0},
      "mean distance to the nearest training example over all paths",
      "data units");
  ADD(novikov, &L->novikov_lme, "diagnostics/novikov_log_mean_exp", ENS, dbl,
      dbl, 0, {0, 0},
      "log E[exp I] estimated over all paths: log((1/P) sum_j exp I_j)",
      "dimensionless");
  ADD(novikov, &L->novikov_mean, "diagnostics/novikov_mean", ENS, dbl, dbl, 0,
      {0, 0}, "mean Novikov integral over all paths", "dimensionless");
  ADD(novikov, &L->mean_score_error, "diagnostics/mean_score_error", ENS, dbl,
      dbl, 0, {0, 0}, "mean |s - grad log p^_t| over all paths",
      "1/data units");
  ADD(r->density_naxes > 0, &L->density, "diagnostics/density", ENS, dbl, dbl,
      r->density_naxes, {bins, bins},
      r->density_naxes == 1
          ? "particle density per bin of density_edges (count / (P width))"
          : "particle density per cell of density_edges x density_edges "
            "(count / (P area)), axis 1 the first coordinate",
      r->density_naxes == 1 ? "1/data units" : "1/data units^2");
#undef ADD
  return n;
}

/* The task's swept values as root attributes: "task", one attribute per
 * swept key (named by the key), and "sweep" summarising them. */
int sgm__layout_task_attributes(const struct sgm_run_options *opt, hid_t f) {
  const sgm_config_t *base = opt->sweep_base;
  if (opt->task < 0 || !base)
    return 0;
  SGM_CALL(sgm_output_attr_int64(f, "task", opt->task));
  char summary[2048] = "";
  size_t used = 0;
  for (int i = 0; i < base->sweep.count; i++) {
    const char *value = sgm_config_sweep_value(base, opt->task, i);
    SGM_CHECK(value, SGM_ERR_INTERNAL, "task %lld has no value for %s",
              (long long)opt->task, base->sweep.keys[i].key);
    SGM_CALL(sgm_output_attr_string(f, base->sweep.keys[i].key, value));
    int w = snprintf(summary + used, sizeof summary - used, "%s%s = %s",
                     i ? "; " : "", base->sweep.keys[i].key, value);
    used += w > 0 && (size_t)w < sizeof summary - used ? (size_t)w : 0;
  }
  return sgm_output_attr_string(f, "sweep", summary);
}

static int run_attributes(struct run *r, hid_t f) {
  SGM_CALL(sgm_output_attr_string(f, "drift", sgm_drift_describe(r->drift)));
  SGM_CALL(sgm_output_attr_string(f, "data", r->data->description));
  SGM_CALL(
      sgm_output_attr_string(f, "sampler", sgm_sampler_describe(r->sampler)));
  SGM_CALL(sgm_output_attr_int64(f, "particles", r->P));
  SGM_CALL(sgm_output_attr_int64(f, "dimension", r->d));
  SGM_CALL(sgm_output_attr_int64(f, "training_examples", r->data->n));
  return sgm_output_attr_double(f, "stiffness",
                                sgm_sampler_stiffness(r->sampler, NULL));
}

/* /training: which source examples the training set holds (what
 * nearest_index counts), their labels, and how they were scaled, so that
 * analysis can show the nearest training examples from the source itself.
 * Each shard is written by the ranks of grid row 0. */
static int training_datasets(struct run *r) {
  const sgm_dataset_t *data = r->data;
  const int64_t n = r->grid->my_row == 0 ? data->n_local : 0;
  int err = 0;
  SGM_CALL(sgm_output_write_rows(
      r->out, "training/source_index", H5T_NATIVE_INT64, data->n, 0,
      data->offset, n, data->source_index,
      "index in the data source of each training example as loaded (row i "
      "is nearest_index i)",
      "index"));
  if (data->labels)
    SGM_CALL(sgm_output_write_rows(
        r->out, "training/label", H5T_NATIVE_INT32, data->n, 0, data->offset, n,
        data->labels, "class label of each training example", "class"));
  hid_t g = H5Gopen2(sgm_output_file(r->out), "training", H5P_DEFAULT);
  SGM_CHECK(g >= 0, SGM_ERR_HDF5, "cannot reopen /training");
  err =
      sgm_output_attr_int64_array(g, "example_shape", data->naxes, data->shape);
  if (!err)
    err = sgm_output_attr_double(g, "input_lo", data->scale_lo);
  if (!err)
    err = sgm_output_attr_double(g, "input_hi", data->scale_hi);
  if (!err)
    err = sgm_output_attr_string(
        g, "description",
        "the training set as loaded; example_shape: axes of one example; "
        "[input_lo, input_hi]: the source range that [data] scale mapped to "
        "[-1, 1] or [0, 1] (NaN: not scaled)");
  H5Gclose(g);
  return err;
}

int sgm__layout_create(struct run *r) {
  int err = 0;
  const sgm_config_t *cfg = r->cfg;
  hid_t f = sgm_output_file(r->out), particle = H5I_INVALID_HID;
  int64_t *index = NULL;
  SGM_CALL(sgm_output_provenance(r->out, cfg, r->grid, "run"));
  SGM_CALL(sgm__layout_task_attributes(r->opt, f));
  SGM_CALL(run_attributes(r, f));
  SGM_CALL(training_datasets(r));

  SGM_CALL(SGM_MALLOC(index, (size_t)r->count + 1));
  for (int64_t i = 0; i < r->count; i++)
    index[i] = r->first + i;
  err = sgm_output_write_rows(
      r->out, "particle", H5T_NATIVE_INT64, r->P, 0, r->first, r->writer_count,
      index, "index of each particle (path) of the ensemble", "index");
  free(index);
  SGM_CALL(err);
  particle = H5Dopen2(f, "particle", H5P_DEFAULT);
  SGM_CHECK(particle >= 0, SGM_ERR_HDF5, "cannot reopen /particle");

  struct series_spec table[MAX_SERIES];
  const int n = series_table(r, table);
  for (int i = 0; i < n; i++)
    SGM_CALL_GOTO(sgm_series_create(
                      r->out, table[i].name, table[i].kind, table[i].file_type,
                      table[i].type, table[i].ndims, table[i].dims,
                      table[i].description, table[i].units, table[i].slot),
                  done);
  hid_t time_ds = sgm_series_dataset(r->series.time);
  for (int i = 1; i < n; i++) {
    sgm_series_t *s = *table[i].slot;
    SGM_CALL_GOTO(sgm_series_attach_scale(s, 0, time_ds, "time"), done);
    if (table[i].kind == SGM_SERIES_PARTICLES)
      SGM_CALL_GOTO(sgm_series_attach_scale(s, 1, particle, "particle"), done);
  }

  if (r->density_naxes > 0) {
    double *edges = NULL;
    SGM_CALL_GOTO(SGM_MALLOC(edges, (size_t)r->density_bins + 1), done);
    sgm_diagnostics_density_edges(r->diag, edges);
    err = sgm_output_write_rows(
        r->out, "diagnostics/density_edges", H5T_NATIVE_DOUBLE,
        r->density_bins + 1, 0, 0, r->grid->rank == 0 ? r->density_bins + 1 : 0,
        edges, "bin edges of diagnostics/density (each axis)", "data units");
    free(edges);
    SGM_CALL_GOTO(err, done);
  }
  if (r->jac)
    SGM_CALL_GOTO(sgm__jacobian_layout(r->jac, r->out, true), done);
  SGM_CALL_GOTO(sgm_output_flush(r->out), done);
done:
  H5Dclose(particle);
  return err;
}

int sgm__layout_record_state(struct run *r, double t) {
  struct layout *L = &r->series;
  SGM_CALL(sgm_series_append(L->time, 0, 0, &t));
  if (L->particles)
    SGM_CALL(sgm_series_append(L->particles, r->first, r->writer_count, r->y));
  if (L->density)
    SGM_CALL(sgm_series_append(L->density, 0, 0, r->density));
  return 0;
}

int sgm__layout_unrecord_state(struct run *r) {
  struct layout *L = &r->series;
  sgm_series_t *state[] = {L->time, L->particles, L->density};
  for (size_t i = 0; i < sizeof state / sizeof *state; i++)
    if (state[i])
      SGM_CALL(sgm_series_truncate(state[i], sgm_series_length(state[i]) - 1));
  return sgm_output_flush(r->out);
}

int sgm__layout_record_diagnostics(struct run *r,
                                   const sgm_diag_summary_t *sum) {
  struct layout *L = &r->series;
  const int64_t first = r->first, n = r->writer_count;
  if (L->nearest) {
    SGM_CALL(sgm_series_append(L->nearest, first, n, r->nd));
    SGM_CALL(sgm_series_append(L->second, first, n, r->nd2));
    SGM_CALL(sgm_series_append(L->index, first, n, r->ni));
    SGM_CALL(sgm_series_append(L->memorized, 0, 0, &sum->memorized_fraction));
    SGM_CALL(
        sgm_series_append(L->mean_nearest, 0, 0, &sum->mean_nearest_distance));
  }
  if (L->novikov) {
    SGM_CALL(sgm_series_append(L->score_error, first, n, r->err));
    SGM_CALL(sgm_series_append(L->novikov, first, n,
                               sgm_diagnostics_novikov(r->diag)));
    SGM_CALL(
        sgm_series_append(L->novikov_lme, 0, 0, &sum->novikov_log_mean_exp));
    SGM_CALL(sgm_series_append(L->novikov_mean, 0, 0, &sum->novikov_mean));
    SGM_CALL(
        sgm_series_append(L->mean_score_error, 0, 0, &sum->mean_score_error));
  }
  return sgm_output_flush(r->out);
}

int sgm__layout_final(struct run *r) {
  return sgm_output_write_rows(r->out, "final/particles", H5T_NATIVE_DOUBLE,
                               r->P, r->d, r->first, r->writer_count, r->y,
                               "the particles at t_min (the raw samples)",
                               "data units");
}

int sgm__layout_denoised(struct run *r, const double *denoised) {
  SGM_CALL(sgm_output_write_rows(
      r->out, "final/denoised", H5T_NATIVE_DOUBLE, r->P, r->d, r->first,
      r->writer_count, denoised,
      "Tweedie denoising of the final particles, (y + sigma^2 s(y, t_min)) "
      "/ m with the sampler's drift s",
      "data units"));
  return sgm_output_flush(r->out);
}

void sgm__layout_close(struct run *r) {
  struct layout *L = &r->series;
  sgm_series_t **all[] = {
      &L->time,    &L->particles,   &L->nearest,      &L->second,
      &L->index,   &L->memorized,   &L->mean_nearest, &L->score_error,
      &L->novikov, &L->novikov_lme, &L->novikov_mean, &L->mean_score_error,
      &L->density};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    sgm_series_close(all[i]);
  if (r->jac)
    sgm__jacobian_close_datasets(r->jac);
}

int sgm__layout_reopen(struct run *r, int64_t saved) {
  struct series_spec table[MAX_SERIES];
  const int n = series_table(r, table);
  hid_t f = sgm_output_file(r->out);
  for (int i = 0; i < n; i++) {
    SGM_CALL(sgm_series_open(r->out, table[i].name, table[i].kind,
                             table[i].type, table[i].slot));
    SGM_CALL(sgm_series_truncate(*table[i].slot, saved));
  }
  if (r->jac)
    SGM_CALL(sgm__jacobian_layout(r->jac, r->out, false));
  /* A run killed after writing /final but before marking the file complete
   * writes it again. */
  int err = 0;
  if (H5Lexists(f, "final", H5P_DEFAULT) > 0 &&
      H5Ldelete(f, "final", H5P_DEFAULT) < 0)
    err = sgm_error_set(SGM_ERR_HDF5, __FILE__, __LINE__, __func__,
                        "cannot remove the incomplete /final of '%s'",
                        r->opt->output);
  SGM_CALL(sgm_error_agree(r->grid->world, err));
  SGM_CALL(sgm_output_set_status(r->out, "running"));
  return sgm_output_flush(r->out);
}
