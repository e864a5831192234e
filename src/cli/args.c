/* Argument parsing shared by the commands. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sgm/config.h"
#include "sgm/error.h"
#include "sgm/log.h"

static int add_set(struct cli_args *args, const char *value) {
  const char **grown = realloc(args->sets, sizeof *grown * (args->nsets + 1));
  SGM_CHECK(grown, SGM_ERR_NOMEM, "out of memory");
  args->sets = grown;
  args->sets[args->nsets++] = value;
  return 0;
}

int cli_parse(int argc, char **argv, const struct cli_command *cmd,
              struct cli_args *args,
              int (*option)(const char *name, const char *value, void *ctx),
              void *ctx) {
  memset(args, 0, sizeof *args);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0') {
      SGM_CHECK((size_t)args->npositional <
                    sizeof args->positional / sizeof *args->positional,
                SGM_ERR_USAGE, "%s: unexpected argument '%s'", cmd->name, a);
      args->positional[args->npositional++] = a;
      continue;
    }
    const char *name = a + (a[1] == '-' ? 2 : 1);
    char buf[128];
    const char *inline_value = NULL;
    const char *eq = strchr(name, '=');
    if (eq) {
      size_t n = (size_t)(eq - name);
      SGM_CHECK(n < sizeof buf, SGM_ERR_USAGE, "%s: option '%s' is too long",
                cmd->name, a);
      memcpy(buf, name, n);
      buf[n] = '\0';
      name = buf;
      inline_value = eq + 1;
    }
    const char *next = inline_value   ? inline_value
                       : i + 1 < argc ? argv[i + 1]
                                      : NULL;
    if (strcmp(name, "set") == 0) {
      SGM_CHECK(next, SGM_ERR_USAGE, "%s: --set needs section.key=value",
                cmd->name);
      SGM_CALL(add_set(args, next));
      if (!inline_value)
        i++;
      continue;
    }
    if (strcmp(name, "quiet") == 0 || strcmp(name, "verbose") == 0) {
      SGM_CHECK(!inline_value, SGM_ERR_USAGE, "%s: --%s takes no value",
                cmd->name, name);
      if (name[0] == 'q')
        args->quiet = true;
      else
        args->verbose = true;
      continue;
    }
    int took = option ? option(name, next, ctx) : 0;
    if (took < 0)
      return took;
    SGM_CHECK(took != 0 || !inline_value, SGM_ERR_USAGE,
              "%s: --%s takes no value", cmd->name, name);
    if (took == 2)
      SGM_CHECK(0, SGM_ERR_USAGE,
                "%s: unknown option '%s' (try 'sgmrun help %s')", cmd->name, a,
                cmd->name);
    if (took == 1 && !inline_value)
      i++;
  }
  return 0;
}

void cli_args_free(struct cli_args *args) {
  free(args->sets);
  args->sets = NULL;
  args->nsets = 0;
}

int cli_real(const char *option, const char *text, double *out) {
  SGM_CHECK(text, SGM_ERR_USAGE, "--%s needs a value", option);
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  SGM_CHECK(end != text && *end == '\0' && errno == 0 && isfinite(v),
            SGM_ERR_USAGE, "--%s '%s': expected a real number", option, text);
  *out = v;
  return 0;
}

int cli_int(const char *option, const char *text, int64_t *out) {
  SGM_CHECK(text, SGM_ERR_USAGE, "--%s needs a value", option);
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  SGM_CHECK(end != text && *end == '\0' && errno == 0, SGM_ERR_USAGE,
            "--%s '%s': expected an integer", option, text);
  *out = v;
  return 0;
}

int cli_load_config(const char *command, const struct cli_args *args,
                    sgm_config_t **cfg) {
  *cfg = NULL;
  int err = 0;
  if (args->npositional != 1)
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "%s: expected exactly one configuration file", command);
  SGM_CALL(sgm_error_agree(MPI_COMM_WORLD, err));
  return sgm_config_load(MPI_COMM_WORLD, args->positional[0], args->sets,
                         args->nsets, cfg);
}

void cli_apply_verbosity(const struct cli_args *args) {
  if (args->quiet)
    sgm_log_set_level(SGM_LOG_WARN);
  if (args->verbose)
    sgm_log_set_level(SGM_LOG_DEBUG);
}

double cli_now(void) { return MPI_Wtime(); }
