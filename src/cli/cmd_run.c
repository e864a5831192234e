/*
 * sgmrun run: one experiment, or one task of a sweep.
 *
 * With --task N the N-th combination of [sweep] runs and writes
 * <stem>.task<NNN>.h5 (what a SLURM array task passes; a configuration
 * without [sweep] is one task, 0, writing the plain output).  Without --task, a
 * configuration with a [sweep] runs every task in turn, each to its own
 * file; all the output paths are checked before the first task starts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sgm/config.h"
#include "sgm/error.h"
#include "sgm/experiment.h"
#include "sgm/log.h"

struct run_options {
  const char *output, *task_text;
  const char *points; /* jacobian --points */
  bool jacobian;      /* the jacobian command */
  bool overwrite, resume;
};

static int run_option(const char *name, const char *value, void *ctx) {
  struct run_options *o = ctx;
  if (strcmp(name, "overwrite") == 0) {
    o->overwrite = true;
    return 0;
  }
  if (strcmp(name, "resume") == 0) {
    o->resume = true;
    return 0;
  }
  const char **slot = strcmp(name, "output") == 0 ? &o->output
                      : strcmp(name, "task") == 0 ? &o->task_text
                      : o->jacobian && strcmp(name, "points") == 0 ? &o->points
                                                                   : NULL;
  if (!slot)
    return 2;
  SGM_CHECK(value, SGM_ERR_USAGE, "%s: --%s needs a value",
            o->jacobian ? "jacobian" : "run", name);
  *slot = value;
  return 1;
}

static int check_options(const struct run_options *o, int64_t *task) {
  SGM_CHECK(!(o->overwrite && o->resume), SGM_ERR_USAGE,
            "run: --overwrite and --resume exclude each other");
  *task = -1;
  if (o->task_text) {
    SGM_CALL(cli_int("task", o->task_text, task));
    SGM_CHECK(*task >= 0, SGM_ERR_USAGE, "run: --task %s must be >= 0",
              o->task_text);
  }
  return 0;
}

/* Runs task `task` of cfg (or cfg itself when task < 0). */
static int run_one(const sgm_config_t *cfg, const struct run_options *o,
                   const struct cli_args *args, int64_t task,
                   const volatile sig_atomic_t *stop) {
  int err = 0;
  sgm_config_t *task_cfg = NULL;
  if (task >= 0)
    err = sgm_config_sweep_task(cfg, task, &task_cfg);
  SGM_CALL(sgm_error_agree(MPI_COMM_WORLD, err));
  if (cfg->sweep.count == 0) {
    /* Without a [sweep] the configuration is its own (only) task 0: same
     * output and attributes as a run without --task (what a 1-task job
     * array, and `sgmrun sweep --list`, expect). */
    sgm_config_destroy(&task_cfg);
    task = -1;
  }
  const sgm_config_t *use = task_cfg ? task_cfg : cfg;
  char path[4096];
  err = sgm_experiment_output_path(use, o->output, task, path, sizeof path);
  if (!err) {
    struct sgm_run_options opt = {.output = path,
                                  .overwrite = o->overwrite,
                                  .resume = o->resume,
                                  .quiet = args->quiet,
                                  .stop = stop,
                                  .task = task,
                                  .sweep_base = task >= 0 ? cfg : NULL,
                                  .points = o->points};
    err = sgm_experiment_run(MPI_COMM_WORLD, use, &opt);
  }
  sgm_config_destroy(&task_cfg);
  return err;
}

/* Every task's output path, checked on rank 0 before any task runs. */
static int check_all_paths(const sgm_config_t *cfg, const struct run_options *o,
                           int64_t tasks) {
  int rank, err = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int64_t task = 0; rank == 0 && task < tasks && !err; task++) {
    char path[4096];
    err = sgm_experiment_output_path(cfg, o->output, task, path, sizeof path);
    if (!err)
      err = sgm_experiment_check_output(path, o->overwrite || o->resume);
  }
  return sgm_error_agree(MPI_COMM_WORLD, err);
}

/* Loads the configuration; the jacobian command switches the analysis on
 * (jacobian.enabled = yes, before the user's overrides so that the resolved
 * text, the provenance and --resume see it). */
static int load(const struct run_options *o, struct cli_args *args,
                sgm_config_t **cfg) {
  if (!o->jacobian)
    return cli_load_config("run", args, cfg);
  const char **sets = malloc(sizeof *sets * ((size_t)args->nsets + 1));
  SGM_CHECK(sets, SGM_ERR_NOMEM, "out of memory for the overrides");
  sets[0] = "jacobian.enabled=yes";
  for (int i = 0; i < args->nsets; i++)
    sets[i + 1] = args->sets[i];
  struct cli_args with = *args;
  with.sets = sets;
  with.nsets = args->nsets + 1;
  int err = cli_load_config("jacobian", &with, cfg);
  free(sets);
  return err;
}

static int run_main(int argc, char **argv, const struct cli_command *cmd,
                    bool jacobian) {
  struct cli_args args;
  struct run_options o = {.jacobian = jacobian};
  int64_t task = -1;
  /* A signal from here on stops the run cleanly at its next step boundary
   * (one that arrives while loading is acted on after the first step). */
  const volatile sig_atomic_t *stop = cli_catch_stop_signals();
  int err = cli_parse(argc, argv, cmd, &args, run_option, &o);
  if (!err)
    err = check_options(&o, &task);
  err = sgm_error_agree(MPI_COMM_WORLD, err);
  sgm_config_t *cfg = NULL;
  if (!err) {
    cli_apply_verbosity(&args);
    err = load(&o, &args, &cfg);
  }
  if (!err && task >= 0) {
    err = run_one(cfg, &o, &args, task, stop);
  } else if (!err && cfg->sweep.count > 0) {
    int64_t tasks = sgm_config_sweep_count(cfg);
    err = check_all_paths(cfg, &o, tasks);
    for (int64_t i = 0; i < tasks && !err; i++) {
      sgm_log(SGM_LOG_INFO, "sweep task %" PRId64 " of %" PRId64, i, tasks);
      err = run_one(cfg, &o, &args, i, stop);
    }
  } else if (!err) {
    err = run_one(cfg, &o, &args, -1, stop);
  }
  sgm_config_destroy(&cfg);
  cli_args_free(&args);
  return err;
}

static int run_run(int argc, char **argv) {
  return run_main(argc, argv, &cli_run_command, false);
}

static int run_jacobian(int argc, char **argv) {
  return run_main(argc, argv, &cli_jacobian_command, true);
}

const struct cli_command cli_run_command = {
    "run",
    "run CONFIG [--set section.key=value]... [--task N] [--output PATH] "
    "[--overwrite | --resume] [--quiet]",
    "Run the reverse SDE with diagnostics, streaming to one parallel HDF5 "
    "file.",
    "  --set section.key=value  override a configuration key (repeatable)\n"
    "  --task N                 run task N (0-based) of the [sweep] section; "
    "the output is\n"
    "                           <stem>.task<NNN>.h5 with the task's values as "
    "attributes\n"
    "  --output PATH            write PATH instead of [run] output\n"
    "  --overwrite              replace an existing output file (never "
    "replaced otherwise)\n"
    "  --resume                 continue from the output's last checkpoint "
    "(any number of\n"
    "                           ranks); starts from the beginning when there "
    "is none yet,\n"
    "                           skips a complete file; refuses a changed "
    "configuration\n"
    "  --quiet / --verbose      no progress lines / more logging\n"
    "A configuration with a [sweep] section run without --task runs every "
    "task in turn.\n"
    "The file: /time, /particles (if [output] trajectories), "
    "/final/particles,\n"
    "/final/denoised, /diagnostics/... (see README); status running -> "
    "complete | failed\n"
    "| interrupted.  Checkpoints ([run] checkpoint_every, checkpoint_seconds, "
    "and on\n"
    "SIGTERM, SIGUSR1, SIGINT) go to PATH.ckpt; a signalled run checkpoints "
    "and exits 75.\n",
    run_run};

const struct cli_command cli_jacobian_command = {
    "jacobian",
    "jacobian CONFIG [--points IN.h5] [--set section.key=value]... [--task N] "
    "[--output PATH] [--overwrite | --resume] [--quiet]",
    "Analyse the local geometry of the drift: SVD and eigen-decomposition "
    "of its Jacobian (ScaLAPACK).",
    "  --points IN.h5           analyse every row of /points in IN.h5 at "
    "every [jacobian] time\n"
    "                           (no sampling); without it, the run's first "
    "[jacobian] points\n"
    "                           particles are analysed at the grid times "
    "nearest the listed ones\n"
    "  --set section.key=value  override a configuration key (repeatable)\n"
    "  --task N                 task N (0-based) of the [sweep] section (see "
    "sgmrun help run)\n"
    "  --output PATH            write PATH instead of [run] output\n"
    "  --overwrite              replace an existing output file\n"
    "  --resume                 continue a run (without --points) from its "
    "checkpoint\n"
    "  --quiet / --verbose      no progress lines / more logging\n"
    "The same as `sgmrun run` with [jacobian] enabled = yes.  A "
    "configuration with a [sweep]\n"
    "section run without --task runs every task in turn.  [jacobian] keys: "
    "times, points,\n"
    "kappa, method (analytic | fd), fd_step, grid (auto | PxQ: ScaLAPACK "
    "sub-grids, as many\n"
    "as fit in each row of the process grid), block, save_vectors (named | "
    "all | none).\n"
    "The file: /jacobian/{times, noise_variance, singular_values, "
    "eigenvalues, cosines,\n"
    "local_dimension, overlap_uv, overlap_uw, overlap_vw, points, "
    "vectors/...} (listed time x\n"
    "point x ...), beside the run's own datasets (see README).\n",
    run_jacobian};
