/* The command line's private interface: commands, arguments, exit codes.
 * This layer alone parses argv, prints usage and calls MPI_Abort. */
#ifndef SGM_CLI_H
#define SGM_CLI_H

#include <mpi.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of INTERFACE.md. */
enum {
  SGM_EXIT_OK = 0,
  SGM_EXIT_ERROR = 1,
  SGM_EXIT_USAGE = 2,
  SGM_EXIT_INTERRUPTED = 75
};

struct cli_command {
  const char *name;
  const char *synopsis;              /* the usage line after "sgmrun " */
  const char *summary;               /* one line for the command list */
  const char *help;                  /* the options, one per line */
  int (*run)(int argc, char **argv); /* returns 0 or a negative SGM_ERR_* */
};

extern const struct cli_command cli_config_command;
extern const struct cli_command cli_score_command;
extern const struct cli_command cli_bench_command;
extern const struct cli_command cli_run_command;
extern const struct cli_command cli_jacobian_command;
extern const struct cli_command cli_sweep_command;
extern const struct cli_command cli_info_command;

/** Options every command shares, gathered while parsing. */
struct cli_args {
  const char *positional[4];
  int npositional;
  const char **sets; /* the --set values, in order */
  int nsets;
  bool quiet, verbose;
};

/**
 * Walks argv: --set k=v (repeatable), --quiet, --verbose and positionals are
 * collected into args; every other option is offered to `option` (name
 * without the leading dashes, and the next argument or NULL), which returns
 * 1 if it consumed the value, 0 for a flag without one, 2 if it does not
 * know the option, or a negative error.  "--name=value" works for
 * every option that takes a value.  Usage errors are SGM_ERR_USAGE.
 */
int cli_parse(int argc, char **argv, const struct cli_command *cmd,
              struct cli_args *args,
              int (*option)(const char *name, const char *value, void *ctx),
              void *ctx);
void cli_args_free(struct cli_args *args);

/** Parses a whole-string real or integer option value. */
int cli_real(const char *option, const char *text, double *out);
int cli_int(const char *option, const char *text, int64_t *out);

/**
 * The configuration named by the command's one positional argument, with
 * the --set overrides, loaded collectively (every rank gets it or the same
 * error); SGM_ERR_USAGE unless there is exactly one positional argument.
 */
struct sgm_config;
int cli_load_config(const char *command, const struct cli_args *args,
                    struct sgm_config **cfg);

/** Applies --quiet / --verbose to the log module. */
void cli_apply_verbosity(const struct cli_args *args);

/**
 * Installs handlers for SIGTERM, SIGUSR1 and SIGINT (what SLURM's --signal,
 * its time limit and scancel send) that only record the signal, and returns
 * the flag they set; a second signal of the same kind acts as if there were
 * no handler.  For the commands that can stop cleanly (run); main()
 * installs them before MPI_Init for those, and later calls only return the
 * flag (a signal already recorded stays recorded).
 */
const volatile sig_atomic_t *cli_catch_stop_signals(void);

/** Seconds since an arbitrary origin (MPI_Wtime). */
double cli_now(void);

#endif /* SGM_CLI_H */
