/*
 * sgmrun jacobian --points: the Jacobian analysis of given points (the rows
 * of /points in an HDF5 file) at every listed time, without sampling.  The
 * points are dealt to the grid's rows like particles; the file holds the
 * provenance and /jacobian/ (jacobian.c).
 */
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment_impl.h"
#include "sgm/error.h"
#include "sgm/log.h"

struct points_run {
  sgm_dataset_info_t info;
  sgm_grid_t *grid;
  sgm_dataset_t *data;
  sgm_drift_t *drift;
  struct sgm__jac_run *jac;
  sgm_output_t *out;
  double *y;
  int64_t M, first, count;
};

static void points_teardown(struct points_run *p) {
  sgm__jacobian_close(&p->jac);
  free(p->y);
  sgm_drift_destroy(&p->drift);
  sgm_dataset_destroy(&p->data);
  sgm_dataset_info_free(&p->info);
  sgm_grid_destroy(&p->grid);
}

/* Everything before the file: data, grid, drift, points, analysis. */
static int points_setup(MPI_Comm world, const sgm_config_t *cfg,
                        const struct sgm_run_options *opt,
                        struct points_run *p) {
  int rank, size, err = 0;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  SGM_CHECK(!opt->resume, SGM_ERR_USAGE,
            "jacobian --points: --resume applies to runs (without --points); "
            "use --overwrite to analyse again");
  err =
      rank == 0 ? sgm_experiment_check_output(opt->output, opt->overwrite) : 0;
  SGM_CALL(sgm_error_agree(world, err));
  int64_t cols = 0;
  SGM_CALL(sgm_input_matrix_shape(world, "--points", opt->points, "/points",
                                  &p->M, &cols));
  SGM_CALL(sgm_dataset_probe(world, cfg, &p->info));
  SGM_CHECK(p->M >= 1, SGM_ERR_INPUT, "--points %s: /points has no rows",
            opt->points);
  SGM_CHECK(cols == p->info.d, SGM_ERR_INPUT,
            "--points %s: /points has %lld columns; the training data has "
            "d = %d",
            opt->points, (long long)cols, p->info.d);
  SGM_CALL(sgm_grid_create(world, sgm__jacobian_grid_rows(cfg, size), p->info.n,
                           &p->grid));
  SGM_CALL(sgm_dataset_load(world, cfg, &p->info, p->grid->my_col,
                            p->grid->cols, &p->data));
  sgm_grid_block(p->M, p->grid->rows, p->grid->my_row, &p->first, &p->count);
  err = SGM_MALLOC(p->y, (size_t)(p->count * p->data->d) + 1);
  if (!err)
    err = sgm_input_matrix_rows("--points", opt->points, "/points", p->first,
                                p->count, p->data->d, p->y);
  SGM_CALL(sgm_error_agree(world, err));
  /* Collective over the row (a plugin's init): every rank, or none. */
  SGM_CALL(sgm_error_agree(
      world, sgm_drift_create(cfg, p->data, p->grid->row, &p->drift)));
  char grid_text[32];
  sgm_log(SGM_LOG_INFO, "%s; grid %s (%d ranks); drift %s; %lld points from %s",
          p->data->description,
          sgm_grid_describe(p->grid, grid_text, sizeof grid_text),
          p->grid->size, sgm_drift_describe(p->drift), (long long)p->M,
          opt->points);
  return sgm__jacobian_open(world, cfg, p->grid, p->drift, p->M, p->first,
                            p->count, &p->jac);
}

static int points_file(const sgm_config_t *cfg,
                       const struct sgm_run_options *opt,
                       struct points_run *p) {
  MPI_Comm world = p->grid->world;
  SGM_CALL(sgm_output_create(world, opt->output, 1, &p->out));
  hid_t f = sgm_output_file(p->out);
  int err = sgm_output_provenance(p->out, cfg, p->grid, "jacobian");
  if (!err)
    err = sgm__layout_task_attributes(opt, f);
  if (!err)
    err = sgm_output_attr_string(f, "drift", sgm_drift_describe(p->drift));
  if (!err)
    err = sgm_output_attr_string(f, "data", p->data->description);
  if (!err)
    err = sgm_output_attr_string(f, "points", opt->points);
  if (!err)
    err = sgm_output_attr_int64(f, "dimension", p->data->d);
  if (!err)
    err = sgm_output_attr_int64(f, "training_examples", p->data->n);
  if (!err)
    err = sgm__jacobian_layout(p->jac, p->out, true);
  if (!err)
    err = sgm_output_publish(p->out);
  if (err) {
    sgm__jacobian_close_datasets(p->jac);
    sgm_output_close(&p->out, 0);
  }
  return err;
}

int sgm__experiment_points(MPI_Comm world, const sgm_config_t *cfg,
                           const struct sgm_run_options *opt) {
  struct points_run p = {0};
  int err = points_setup(world, cfg, opt, &p);
  if (!err)
    err = points_file(cfg, opt, &p);
  const struct sgm_real_list *times = &cfg->jacobian.times;
  for (int j = 0; j < times->count && !err && p.out; j++) {
    double t0 = MPI_Wtime();
    err = sgm__jacobian_time(p.jac, j, times->values[j], p.y, p.out);
    if (!err)
      sgm_log(SGM_LOG_INFO,
              "Jacobian analysis at t = %g: %lld points in %.3g s (%d of %d)",
              times->values[j], (long long)p.M, MPI_Wtime() - t0, j + 1,
              times->count);
  }
  if (p.out && (err == SGM_ERR_HDF5 || err == SGM_ERR_IO)) {
    sgm_output_abandon(&p.out);
  } else if (p.out) {
    int status = sgm_output_set_status(p.out, err ? "failed" : "complete");
    sgm__jacobian_close_datasets(p.jac);
    int closed = sgm_output_close(&p.out, 1);
    if (!err)
      err = status ? status : closed;
  }
  points_teardown(&p);
  if (!err)
    sgm_log(SGM_LOG_INFO, "wrote %s", opt->output);
  return err;
}
