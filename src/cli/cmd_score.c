/*
 * sgmrun score: evaluate the configured drift, the empirical score and the
 * nearest training examples at given points and time, on the process grid.
 *
 * Rows of the grid split the points, columns split the training set; the
 * ranks of column 0 write their row's slice.  The output is written to
 * OUT.partial and renamed into place only when complete.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sgm/config.h"
#include "sgm/dataset.h"
#include "sgm/drift.h"
#include "sgm/error.h"
#include "sgm/grid.h"
#include "sgm/log.h"
#include "sgm/output.h"
#include "sgm/schedule.h"

struct score_options {
  const char *points, *points_dataset, *output, *t_text;
};

static int score_option(const char *name, const char *value, void *ctx) {
  struct score_options *o = ctx;
  const char **slot = strcmp(name, "points") == 0           ? &o->points
                      : strcmp(name, "output") == 0         ? &o->output
                      : strcmp(name, "t") == 0              ? &o->t_text
                      : strcmp(name, "points-dataset") == 0 ? &o->points_dataset
                                                            : NULL;
  if (!slot)
    return 2;
  SGM_CHECK(value, SGM_ERR_USAGE, "score: --%s needs a value", name);
  *slot = value;
  return 1;
}

/* Everything one evaluation produces for this rank's slice of points. */
struct score_results {
  int64_t first, count, d;
  double *x, *drift, *empirical, *denoised, *log_density, *model_log_density;
  double *dist, *dist2;
  int64_t *index, *index2;
};

static void results_free(struct score_results *r) {
  free(r->x);
  free(r->drift);
  free(r->empirical);
  free(r->denoised);
  free(r->log_density);
  free(r->model_log_density);
  free(r->dist);
  free(r->dist2);
  free(r->index);
  free(r->index2);
}

static int results_alloc(struct score_results *r) {
  size_t nd = (size_t)(r->count * r->d) + 1, n = (size_t)r->count + 1;
  SGM_CALL(SGM_MALLOC(r->x, nd));
  SGM_CALL(SGM_MALLOC(r->drift, nd));
  SGM_CALL(SGM_MALLOC(r->empirical, nd));
  SGM_CALL(SGM_MALLOC(r->denoised, nd));
  SGM_CALL(SGM_MALLOC(r->log_density, n));
  SGM_CALL(SGM_MALLOC(r->model_log_density, n));
  SGM_CALL(SGM_MALLOC(r->dist, n));
  SGM_CALL(SGM_MALLOC(r->dist2, n));
  SGM_CALL(SGM_MALLOC(r->index, n));
  SGM_CALL(SGM_MALLOC(r->index2, n));
  return 0;
}

struct dataset_spec {
  const char *name;
  int is_int, is_matrix;
  const void *data;
  const char *description, *units;
};

static int write_results(const sgm_config_t *cfg, const sgm_grid_t *grid,
                         const sgm_dataset_t *data, const sgm_drift_t *drift,
                         const struct score_options *opt, double t, int64_t n,
                         const struct score_results *r) {
  int err = 0;
  sgm_output_t *out = NULL;
  SGM_CALL(sgm_output_create(grid->world, opt->output, 1, &out));
  hid_t f = sgm_output_file(out);
  const struct dataset_spec specs[] = {
      {"points", 0, 1, r->x, "the points x (input)", "data units"},
      {"score", 0, 1, r->drift,
       "the configured drift s(x, t): model score plus perturbation",
       "1/data units"},
      {"empirical_score", 0, 1, r->empirical,
       "grad_x log p^_t(x), the exact score of the training set",
       "1/data units"},
      {"denoised", 0, 1, r->denoised,
       "D(x) = E[X_0 | X_t = x] under the empirical distribution (Tweedie)",
       "data units"},
      {"log_density", 0, 0, r->log_density,
       "log p^_t(x), the empirical log density", "log(1/data units^d)"},
      {"model_log_density", 0, 0, r->model_log_density,
       "log density of the drift model's mixture (before perturbation); "
       "NaN for a plugin, which has none",
       "log(1/data units^d)"},
      {"nearest_index", 1, 0, r->index,
       "index of the nearest training example (training set as loaded)",
       "index"},
      {"nearest_distance", 0, 0, r->dist,
       "Euclidean distance |x - y| to the nearest training example",
       "data units"},
      {"second_nearest_index", 1, 0, r->index2,
       "index of the second-nearest training example", "index"},
      {"second_nearest_distance", 0, 0, r->dist2,
       "Euclidean distance to the second-nearest training example",
       "data units"},
  };
  /* Ranks of a row hold identical results: column 0 writes. */
  int64_t mine = grid->my_col == 0 ? r->count : 0;
  SGM_CALL_GOTO(sgm_output_provenance(out, cfg, grid, "score"), fail);
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
    SGM_CALL_GOTO(sgm_output_write_rows(
                      out, specs[i].name,
                      specs[i].is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, n,
                      specs[i].is_matrix ? r->d : 0, r->first, mine,
                      specs[i].data, specs[i].description, specs[i].units),
                  fail);
  /* The training set's source indices, so that nearest_index leads back to
   * the examples of the original files.  Row 0 writes its shards. */
  SGM_CALL_GOTO(
      sgm_output_write_rows(
          out, "training_index", H5T_NATIVE_INT64, data->n, 0, data->offset,
          grid->my_row == 0 ? data->n_local : 0, data->source_index,
          "index in the data source of each training example, in the order "
          "nearest_index counts",
          "index"),
      fail);
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, cfg);
  SGM_CALL_GOTO(sgm_output_attr_double(f, "t", t), fail);
  SGM_CALL_GOTO(sgm_output_attr_double(f, "m", sgm_schedule_mean(&sched, t)),
                fail);
  SGM_CALL_GOTO(
      sgm_output_attr_double(f, "sigma", sqrt(sgm_schedule_var(&sched, t))),
      fail);
  SGM_CALL_GOTO(sgm_output_attr_string(f, "drift", sgm_drift_describe(drift)),
                fail);
  SGM_CALL_GOTO(sgm_output_attr_string(f, "data", data->description), fail);
  SGM_CALL_GOTO(sgm_output_attr_string(f, "points_file", opt->points), fail);
  SGM_CALL_GOTO(sgm_output_set_status(out, "complete"), fail);
  return sgm_output_close(&out, 1);
fail:
  err = sgm_error_agree(grid->world, err);
  sgm_output_close(&out, 0);
  return err;
}

static int check_options(const struct cli_args *args,
                         const struct score_options *opt) {
  SGM_CHECK(opt->points, SGM_ERR_USAGE, "score: --points IN.h5 is required");
  SGM_CHECK(opt->t_text, SGM_ERR_USAGE, "score: --t T is required");
  SGM_CHECK(opt->output, SGM_ERR_USAGE, "score: --output OUT.h5 is required");
  return 0;
}

static int score(const struct cli_args *args, const struct score_options *opt) {
  int err = 0;
  MPI_Comm world = MPI_COMM_WORLD;
  sgm_config_t *cfg = NULL;
  sgm_dataset_info_t info = {0};
  sgm_grid_t *grid = NULL;
  sgm_dataset_t *data = NULL;
  sgm_drift_t *drift = NULL;
  struct score_results r = {0};
  const char *pname = opt->points_dataset ? opt->points_dataset : "/points";
  double t = 0, t0 = cli_now();

  SGM_CALL_GOTO(cli_load_config("score", args, &cfg), done);
  err = cli_real("t", opt->t_text, &t);
  if (!err && !(t > 0 && t <= cfg->sde.T))
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "--t %s is outside (0, T] with [sde] T = %g",
                        opt->t_text, cfg->sde.T);
  SGM_CALL_GOTO(sgm_error_agree(world, err), done);
  int64_t n = 0, dp = 0;
  SGM_CALL_GOTO(
      sgm_input_matrix_shape(world, "--points", opt->points, pname, &n, &dp),
      done);
  SGM_CALL_GOTO(sgm_dataset_probe(world, cfg, &info), done);
  SGM_CHECK_GOTO(dp == info.d, SGM_ERR_INPUT, done,
                 "--points '%s': %s has %lld columns but the training set "
                 "has d = %d",
                 opt->points, pname, (long long)dp, info.d);
  SGM_CALL_GOTO(sgm_grid_create(world, cfg->grid.rows, info.n, &grid), done);
  SGM_CALL_GOTO(
      sgm_dataset_load(world, cfg, &info, grid->my_col, grid->cols, &data),
      done);
  err = sgm_drift_create(cfg, data, grid->row, &drift);
  SGM_CALL_GOTO(sgm_error_agree(world, err), done);
  char grid_text[32];
  sgm_log(SGM_LOG_INFO, "%s; grid %s (%d ranks); drift %s", data->description,
          sgm_grid_describe(grid, grid_text, sizeof grid_text), grid->size,
          sgm_drift_describe(drift));

  r.d = dp;
  sgm_grid_block(n, grid->rows, grid->my_row, &r.first, &r.count);
  err = results_alloc(&r);
  if (err < 0)
    sgm_error_prefix(err, "--points '%s': %lld points of d = %lld", opt->points,
                     (long long)r.count, (long long)dp);
  if (!err)
    err = sgm_input_matrix_rows("--points", opt->points, pname, r.first,
                                r.count, dp, r.x);
  SGM_CALL_GOTO(sgm_error_agree(world, err), done);

  double t1 = cli_now();
  sgm_drift_out_t out = {.drift = r.drift,
                         .model_log_density = r.model_log_density,
                         .empirical = r.empirical,
                         .log_density = r.log_density,
                         .denoised = r.denoised,
                         .nearest = {r.index, r.index2, r.dist, r.dist2}};
  err = sgm_drift_eval(drift, t, r.count, r.x, &out);
  if (err < 0)
    sgm_error_prefix(err, "--points '%s'", opt->points);
  SGM_CALL_GOTO(sgm_error_agree(world, err), done);
  double flops = sgm_drift_flops(drift, r.count, &out), total = 0, elapsed;
  elapsed = cli_now() - t1;
  MPI_Allreduce(&flops, &total, 1, MPI_DOUBLE, MPI_SUM, world);
  sgm_log(SGM_LOG_INFO, "scored %lld points at t = %g in %.2f s (%.1f GFLOP/s)",
          (long long)n, t, elapsed, total / fmax(elapsed, 1e-9) / 1e9);

  SGM_CALL_GOTO(write_results(cfg, grid, data, drift, opt, t, n, &r), done);
  sgm_log(SGM_LOG_INFO, "wrote %s (%.2f s in all)", opt->output,
          cli_now() - t0);
done:
  results_free(&r);
  sgm_drift_destroy(&drift);
  sgm_dataset_destroy(&data);
  sgm_grid_destroy(&grid);
  sgm_dataset_info_free(&info);
  sgm_config_destroy(&cfg);
  return err;
}

static int run_score(int argc, char **argv) {
  struct cli_args args;
  struct score_options opt = {0};
  int err =
      cli_parse(argc, argv, &cli_score_command, &args, score_option, &opt);
  if (!err)
    err = check_options(&args, &opt);
  err = sgm_error_agree(MPI_COMM_WORLD, err);
  if (!err) {
    cli_apply_verbosity(&args);
    err = score(&args, &opt);
  }
  cli_args_free(&args);
  return err;
}

const struct cli_command cli_score_command = {
    "score",
    "score CONFIG --points IN.h5 --t T --output OUT.h5 [--set "
    "section.key=value]...",
    "Evaluate the drift, the empirical score and the nearest training "
    "examples at given points.",
    "  --points IN.h5          points to evaluate: dataset /points, n x d "
    "float64\n"
    "  --points-dataset NAME   read the points from NAME instead of /points\n"
    "  --t T                   forward time, 0 < T <= [sde] T\n"
    "  --output OUT.h5         result file (replaced if it exists; written "
    "as OUT.h5.partial until complete)\n"
    "  --set section.key=value override a configuration key (repeatable)\n"
    "  --quiet / --verbose     less / more logging\n"
    "Writes /score, /empirical_score, /denoised (n x d); /log_density, "
    "/model_log_density,\n"
    "/nearest_distance, /second_nearest_distance (n); /nearest_index, "
    "/second_nearest_index\n"
    "(n, int64); /points; /training_index; and the resolved configuration "
    "and provenance\nas root attributes.\n",
    run_score};
