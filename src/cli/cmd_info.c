/*
 * sgmrun info: a quick look at an sgmrun output file — what wrote it and
 * how it stands, its datasets, and the ensemble diagnostics at the last
 * saved step (or, for a file without /time, summaries of the per-point
 * results).
 *
 * Rank 0 reads the file with serial HDF5 and prints; every rank returns
 * the same status.  Everything is read before anything is printed, so a
 * failure prints only its message.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "sgm/config.h"
#include "sgm/error.h"
#include "sgm/output.h"

/* Looks at a file being written before its read failure is reported. */
#define INFO_ATTEMPTS 5

/* Width of the label column. */
#define LABEL_WIDTH 18

/* The root attributes shown, in this order, where present. */
static const char *const shown_attrs[] = {"status",
                                          "start_time",
                                          "end_time",
                                          "seed",
                                          "host",
                                          "task",
                                          "sweep",
                                          "data",
                                          "drift",
                                          "sampler",
                                          "particles",
                                          "dimension",
                                          "training_examples",
                                          "t",
                                          "points_file"};

/* The ensemble diagnostics shown at the last saved step. */
static const char *const last_step_series[] = {
    "memorized_fraction", "mean_nearest_distance", "novikov_log_mean_exp",
    "novikov_mean", "mean_score_error"};
#define NSERIES ((int)(sizeof last_step_series / sizeof *last_step_series))

/* The per-point results summarised in a file without /time. */
static const char *const summarised[] = {"nearest_distance", "log_density"};
#define NSUMMARISED ((int)(sizeof summarised / sizeof *summarised))

struct info_options {
  bool config;
};

static int info_option(const char *name, const char *value, void *ctx) {
  (void)value;
  struct info_options *o = ctx;
  if (strcmp(name, "config") != 0)
    return 2;
  o->config = true;
  return 0;
}

/* What is printed besides the attributes and the dataset list. */
struct info_values {
  int64_t saved;       /* length of /time; -1 when the file has none */
  int64_t total_saved; /* save steps of the whole run; 0 when unknown */
  double t;
  int have[NSERIES]; /* 1: value read; 0: not in the file; -1: not yet */
  double value[NSERIES];
  int64_t points[NSUMMARISED]; /* elements summarised; -1: not in the file */
  double mean[NSUMMARISED], min[NSUMMARISED], max[NSUMMARISED];
};

/* Save steps of the whole run, from the stored configuration: every
 * [output] every steps from 0, and the last.  0 when it cannot be told. */
static int64_t total_saves(const sgm_output_info_t *info) {
  const char *text = sgm_output_info_attr(info, "config");
  sgm_config_t *cfg = NULL;
  if (!text || sgm_config_parse_text(text, info->path, &cfg) != 0) {
    sgm_error_clear();
    return 0;
  }
  const int64_t K = cfg->sampler.steps, every = cfg->output.every;
  sgm_config_destroy(&cfg);
  return K > 0 && every > 0 ? K / every + 1 + (K % every != 0) : 0;
}

static int summarise(const sgm_output_info_t *info, int i,
                     struct info_values *v) {
  const sgm_output_dataset_t *d = sgm_output_info_dataset(info, summarised[i]);
  v->points[i] = -1;
  if (!d || d->ndims != 1)
    return 0;
  const int64_t n = d->dims[0];
  double *x = NULL;
  SGM_CALL(SGM_MALLOC(x, (size_t)n + 1));
  int err = sgm_output_info_read(info, summarised[i], 0, n, x);
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  for (int64_t k = 0; k < n && !err; k++) {
    sum += x[k];
    lo = x[k] < lo ? x[k] : lo;
    hi = x[k] > hi ? x[k] : hi;
  }
  free(x);
  v->points[i] = n;
  v->mean[i] = n > 0 ? sum / (double)n : NAN;
  v->min[i] = lo;
  v->max[i] = hi;
  return err;
}

static int read_values(const sgm_output_info_t *info, struct info_values *v) {
  memset(v, 0, sizeof *v);
  const sgm_output_dataset_t *time = sgm_output_info_dataset(info, "time");
  v->saved = time && time->ndims == 1 ? time->dims[0] : -1;
  if (v->saved < 0) {
    for (int i = 0; i < NSUMMARISED; i++)
      SGM_CALL(summarise(info, i, v));
    return 0;
  }
  v->total_saved = total_saves(info);
  if (v->saved == 0)
    return 0;
  const int64_t last = v->saved - 1;
  SGM_CALL(sgm_output_info_read(info, "time", last, 1, &v->t));
  for (int i = 0; i < NSERIES; i++) {
    char name[128];
    snprintf(name, sizeof name, "diagnostics/%s", last_step_series[i]);
    const sgm_output_dataset_t *d = sgm_output_info_dataset(info, name);
    if (!d)
      continue;
    /* A running job may have appended /time but not yet this series. */
    v->have[i] = d->ndims == 1 && d->dims[0] > last ? 1 : -1;
    if (v->have[i] == 1)
      SGM_CALL(sgm_output_info_read(info, name, last, 1, &v->value[i]));
  }
  return 0;
}

static void print_attr(const char *label, const char *value) {
  printf("%-*s %s\n", LABEL_WIDTH - 1, label, value);
}

static void print_provenance(const sgm_output_info_t *info) {
  const char *version = sgm_output_info_attr(info, "version");
  const char *commit = sgm_output_info_attr(info, "git_commit");
  const char *ranks = sgm_output_info_attr(info, "mpi_ranks");
  const char *grid = sgm_output_info_attr(info, "grid");
  char text[512];
  print_attr("file", info->path);
  print_attr("command", sgm_output_info_attr(info, "command"));
  snprintf(text, sizeof text, "%s (git %s)", version, commit ? commit : "?");
  print_attr("version", text);
  if (ranks) {
    snprintf(text, sizeof text, "%s (grid %s)", ranks, grid ? grid : "?");
    print_attr("mpi_ranks", text);
  }
  for (size_t i = 0; i < sizeof shown_attrs / sizeof *shown_attrs; i++) {
    const char *value = sgm_output_info_attr(info, shown_attrs[i]);
    if (value)
      print_attr(shown_attrs[i], value);
  }
}

static void shape_text(const sgm_output_dataset_t *d, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  if (d->ndims == 0)
    snprintf(buf, len, "scalar");
  for (int k = 0; k < d->ndims && used < len; k++) {
    int w = snprintf(buf + used, len - used, "%s%" PRId64, k ? "x" : "",
                     d->dims[k]);
    used += w > 0 ? (size_t)w : 0;
  }
}

/* One dataset a line: name, shape (rows x columns x ...), type, units. */
static void print_datasets(const sgm_output_info_t *info) {
  int name_width = 0, shape_width = 0;
  char shape[96];
  for (int i = 0; i < info->ndatasets; i++) {
    const sgm_output_dataset_t *d = &info->datasets[i];
    shape_text(d, shape, sizeof shape);
    int n = (int)strlen(d->name), s = (int)strlen(shape);
    name_width = n > name_width ? n : name_width;
    shape_width = s > shape_width ? s : shape_width;
  }
  printf("\ndatasets (%d)\n", info->ndatasets);
  for (int i = 0; i < info->ndatasets; i++) {
    const sgm_output_dataset_t *d = &info->datasets[i];
    shape_text(d, shape, sizeof shape);
    printf("  %-*s  %-*s  %-8s %s\n", name_width, d->name, shape_width, shape,
           d->type, d->units[0] ? d->units : "-");
  }
}

static void print_values(const struct info_values *v) {
  char text[128];
  if (v->saved < 0) {
    for (int i = 0; i < NSUMMARISED; i++)
      if (v->points[i] >= 0) {
        if (i == 0 || v->points[i - 1] < 0)
          printf("\nover %" PRId64 " points\n", v->points[i]);
        printf("  %-*s mean %-14.8g min %-14.8g max %.8g\n", LABEL_WIDTH + 4,
               summarised[i], v->mean[i], v->min[i], v->max[i]);
      }
    return;
  }
  int n = snprintf(text, sizeof text, "%" PRId64, v->saved);
  if (v->total_saved > 0)
    snprintf(text + n, sizeof text - (size_t)n, " of %" PRId64, v->total_saved);
  printf("\nlast saved step    %s saved steps", text);
  if (v->saved == 0) {
    printf(" (none saved yet)\n");
    return;
  }
  printf(", t = %.8g\n", v->t);
  for (int i = 0; i < NSERIES; i++) {
    if (v->have[i] == 1)
      printf("  %-*s %.8g\n", LABEL_WIDTH + 4, last_step_series[i],
             v->value[i]);
    else if (v->have[i] == -1)
      printf("  %-*s n/a\n", LABEL_WIDTH + 4, last_step_series[i]);
  }
}

/* One look at the file; *running tells whether it said it is being
 * written (or could not be opened at all, which a write in progress can
 * also cause). */
static int show_once(const char *path, const struct info_options *o,
                     bool *running) {
  sgm_output_info_t *info = NULL;
  struct info_values v;
  int err = sgm_output_info_create(path, &info);
  const char *status = info ? sgm_output_info_attr(info, "status") : NULL;
  *running = !info || (status && strcmp(status, "running") == 0);
  SGM_CALL(err);
  err = read_values(info, &v);
  if (!err) {
    print_provenance(info);
    print_datasets(info);
    print_values(&v);
    const char *config = sgm_output_info_attr(info, "config");
    if (o->config)
      printf("\nconfig\n%s", config ? config : "(none stored)\n");
    fflush(stdout);
  }
  sgm_output_info_destroy(&info);
  return err;
}

/* A reader can catch a running job's file between two of its writes (HDF5
 * files are consistent only at a flush), so a failure to read one is tried
 * again a few times before it is reported. */
static int show(const char *path, const struct info_options *o) {
  bool running = false;
  int err = 0;
  for (int attempt = 0; attempt < INFO_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      sgm_error_clear();
      nanosleep(&(struct timespec){0, 100000000L * attempt}, NULL);
    }
    err = show_once(path, o, &running);
    if (err != SGM_ERR_HDF5 || !running)
      break;
  }
  return err;
}

static int run_info(int argc, char **argv) {
  struct cli_args args;
  struct info_options o = {0};
  int err = cli_parse(argc, argv, &cli_info_command, &args, info_option, &o);
  if (!err && args.npositional != 1)
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "info: expected exactly one file (got %d)",
                        args.npositional);
  if (!err && args.nsets > 0)
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "info: --set does not apply");
  err = sgm_error_agree(MPI_COMM_WORLD, err);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (!err && rank == 0)
    err = show(args.positional[0], &o);
  err = sgm_error_agree(MPI_COMM_WORLD, err);
  cli_args_free(&args);
  return err;
}

const struct cli_command cli_info_command = {
    "info", "info FILE.h5 [--config]",
    "Show what an output file holds: provenance, status, datasets, last "
    "diagnostics.",
    "  --config   also print the resolved configuration stored in the file\n"
    "Reads with serial HDF5 on rank 0, without HDF5's file locking, so a "
    "file a running job\n"
    "is writing (status running), or its FILE.h5.partial, can be "
    "inspected.  Shows the root\n"
    "attributes (command, status, version, times, ranks and grid, seed, "
    "host, sweep task,\n"
    "data, drift, sampler, sizes), every dataset with its shape, type and "
    "units, and then\n"
    "for a run the ensemble diagnostics at the last saved step, for a score "
    "file the mean,\n"
    "min and max of /nearest_distance and /log_density.\n",
    run_info};
