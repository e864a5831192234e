/*
 * sgmrun: the command line.  Initialises MPI and the libraries, dispatches
 * to a command, and turns the command's status into one message from rank 0
 * and an exit status (INTERFACE.md): 0 done, 1 error, 2 usage error, 75
 * interrupted after writing a checkpoint.
 */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sgm/error.h"
#include "sgm/log.h"
#include "sgm/output.h"
#include "sgm_version.h"

void openblas_set_num_threads(int threads);

static const struct cli_command *const commands[] = {
    &cli_run_command,    &cli_jacobian_command, &cli_sweep_command,
    &cli_config_command, &cli_score_command,    &cli_info_command,
    &cli_bench_command};
#define NCOMMANDS ((int)(sizeof commands / sizeof *commands))

static void print_usage(FILE *to) {
  fprintf(to, "usage: sgmrun <command> [options]   (under mpirun -n K or srun)"
              "\n\ncommands:\n");
  for (int i = 0; i < NCOMMANDS; i++)
    fprintf(to, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(to,
          "  help      show a command's options: sgmrun help <command>\n"
          "\nsgmrun --version prints the version.  Exit status: 0 done, "
          "1 error, 2 usage error,\n75 interrupted after writing a checkpoint "
          "(continue with run --resume).\n");
}

static void print_command_help(FILE *to, const struct cli_command *cmd) {
  fprintf(to, "usage: sgmrun %s\n\n%s\n\n%s", cmd->synopsis, cmd->summary,
          cmd->help);
}

static const struct cli_command *find_command(const char *name) {
  for (int i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

/*
 * One BLAS thread per rank unless the user chose: several ranks per node
 * each running a full set of OpenBLAS threads would oversubscribe the cores.
 * A lone rank on a node may use the node's cores (SLURM's cpus-per-task when
 * set).
 */
static void configure_blas_threads(void) {
  if (getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS"))
    return;
  MPI_Comm node;
  int on_node = 1;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
                      &node);
  MPI_Comm_size(node, &on_node);
  MPI_Comm_free(&node);
  const char *cpus = getenv("SLURM_CPUS_PER_TASK");
  int threads = 1;
  if (cpus && atoi(cpus) > 0)
    threads = atoi(cpus);
  else if (on_node == 1)
    threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  openblas_set_num_threads(threads > 0 ? threads : 1);
}

static volatile sig_atomic_t stop_signal = 0;

static void record_signal(int sig) { stop_signal = sig; }

const volatile sig_atomic_t *cli_catch_stop_signals(void) {
  static int installed = 0;
  if (installed)
    return &stop_signal;
  installed = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = record_signal;
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  return &stop_signal;
}

static int finish(int status) {
  MPI_Finalize();
  return status;
}

int main(int argc, char **argv) {
  /* A file growing past the size limit (ulimit -f) is an I/O error to
   * report, not a reason to die. */
  signal(SIGXFSZ, SIG_IGN);
  /* `run` stops cleanly on SIGTERM, SIGUSR1 and SIGINT.  Catch them before
   * MPI_Init: a requeued job that SLURM signals at once (its time limit is
   * near) must not die during start-up. */
  if (argc >= 2 &&
      (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "jacobian") == 0))
    cli_catch_stop_signals();
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  sgm_log_init(rank, size);
  sgm_output_init();

  if (argc < 2) {
    if (rank == 0)
      print_usage(stderr);
    return finish(SGM_EXIT_USAGE);
  }
  const char *name = argv[1];
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    if (rank == 0)
      printf("sgmrun %s (git %s, %s)\n", SGM_VERSION_STRING, SGM_GIT_COMMIT,
             SGM_COMPILER);
    return finish(SGM_EXIT_OK);
  }
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 ||
      strcmp(name, "-h") == 0) {
    const struct cli_command *cmd = argc > 2 ? find_command(argv[2]) : NULL;
    if (rank == 0) {
      if (cmd)
        print_command_help(stdout, cmd);
      else
        print_usage(stdout);
    }
    return finish(argc > 2 && !cmd ? SGM_EXIT_USAGE : SGM_EXIT_OK);
  }
  const struct cli_command *cmd = find_command(name);
  if (!cmd) {
    if (rank == 0) {
      fprintf(stderr, "sgmrun: error: unknown command '%s'\n\n", name);
      print_usage(stderr);
    }
    return finish(SGM_EXIT_USAGE);
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      if (rank == 0)
        print_command_help(stdout, cmd);
      return finish(SGM_EXIT_OK);
    }

  configure_blas_threads();
  int err = cmd->run(argc - 2, argv + 2);
  if (err == 0)
    return finish(SGM_EXIT_OK);
  /* Commands agree on their status collectively, so rank 0 holds the
   * message of whichever rank failed. */
  if (err == SGM_ERR_INTERRUPTED) {
    if (rank == 0)
      fprintf(stderr, "sgmrun: interrupted: %s\n", sgm_error_message());
    return finish(SGM_EXIT_INTERRUPTED);
  }
  if (rank == 0) {
    fprintf(stderr, "sgmrun: error: %s\n", sgm_error_message());
    if (getenv("SGM_DEBUG"))
      fprintf(stderr, "%s", sgm_error_backtrace());
    if (err == SGM_ERR_USAGE)
      fprintf(stderr, "usage: sgmrun %s\n", cmd->synopsis);
  }
  if (sgm_output_abandoned()) {
    /* A file HDF5 cannot close would hang MPI_Finalize. */
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, SGM_EXIT_ERROR);
  }
  return finish(err == SGM_ERR_USAGE ? SGM_EXIT_USAGE : SGM_EXIT_ERROR);
}
