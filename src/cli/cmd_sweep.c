/* sgmrun sweep: the tasks of a configuration's [sweep] section. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "sgm/config.h"
#include "sgm/error.h"
#include "sgm/experiment.h"

struct sweep_options {
  bool count, list;
  const char *output;
};

static int sweep_option(const char *name, const char *value, void *ctx) {
  struct sweep_options *o = ctx;
  if (strcmp(name, "count") == 0) {
    o->count = true;
    return 0;
  }
  if (strcmp(name, "list") == 0) {
    o->list = true;
    return 0;
  }
  if (strcmp(name, "output") == 0) {
    SGM_CHECK(value, SGM_ERR_USAGE, "sweep: --output needs a value");
    o->output = value;
    return 1;
  }
  return 2;
}

/* "task  key1  key2 ...  output" with one row per task.  A configuration
 * without [sweep] is one task whose output is the plain run's. */
static int list_tasks(const sgm_config_t *cfg, const char *output) {
  int64_t n = sgm_config_sweep_count(cfg);
  printf("%-6s", "task");
  for (int k = 0; k < cfg->sweep.count; k++)
    printf("  %-20s", cfg->sweep.keys[k].key);
  printf("  output\n");
  for (int64_t t = 0; t < n; t++) {
    char path[4096];
    SGM_CALL(sgm_experiment_output_path(cfg, output, cfg->sweep.count ? t : -1,
                                        path, sizeof path));
    printf("%-6" PRId64, t);
    for (int k = 0; k < cfg->sweep.count; k++)
      printf("  %-20s", sgm_config_sweep_value(cfg, t, k));
    printf("  %s\n", path);
  }
  return 0;
}

static int run_sweep(int argc, char **argv) {
  struct cli_args args;
  struct sweep_options o = {0};
  int err = cli_parse(argc, argv, &cli_sweep_command, &args, sweep_option, &o);
  if (!err && o.count == o.list)
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "sweep: give exactly one of --count and --list");
  err = sgm_error_agree(MPI_COMM_WORLD, err);
  sgm_config_t *cfg = NULL;
  if (!err)
    err = cli_load_config("sweep", &args, &cfg);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (!err && rank == 0) {
    if (o.count)
      printf("%" PRId64 "\n", sgm_config_sweep_count(cfg));
    else
      err = list_tasks(cfg, o.output);
    fflush(stdout);
  }
  err = sgm_error_agree(MPI_COMM_WORLD, err);
  sgm_config_destroy(&cfg);
  cli_args_free(&args);
  return err;
}

const struct cli_command cli_sweep_command = {
    "sweep", "sweep CONFIG --count | --list [--output PATH] [--set ...]",
    "Count or list the tasks of a configuration's [sweep] section.",
    "  --count          print the number of tasks (1 without a [sweep]); a "
    "SLURM array is\n"
    "                   --array=0-$((count - 1))\n"
    "  --list           print each task's swept values and output file\n"
    "  --output PATH    the base output path, as for sgmrun run\n"
    "  --set section.key=value  override a key (repeatable)\n",
    run_sweep};
