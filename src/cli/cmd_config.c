/* sgmrun config: print the fully resolved configuration. */
#include <stdio.h>

#include "cli/cli.h"
#include "sgm/config.h"
#include "sgm/error.h"

static int run_config(int argc, char **argv) {
  struct cli_args args;
  int err =
      sgm_error_agree(MPI_COMM_WORLD, cli_parse(argc, argv, &cli_config_command,
                                                &args, NULL, NULL));
  sgm_config_t *cfg = NULL;
  if (!err)
    err = cli_load_config("config", &args, &cfg);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (!err && rank == 0) {
    fputs(cfg->resolved, stdout);
    fflush(stdout);
  }
  sgm_config_destroy(&cfg);
  cli_args_free(&args);
  return err;
}

const struct cli_command cli_config_command = {
    "config", "config CONFIG [--set section.key=value]...",
    "Print the fully resolved configuration (every key, defaults included).",
    "  --set section.key=value   override a key (repeatable; later wins)\n"
    "The text printed is exactly what every output file stores in its "
    "'config' attribute.\n",
    run_config};
