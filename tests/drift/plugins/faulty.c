/*
 * A plugin for the tests that fails on purpose, on the last rank of its row
 * only (so that the tests see sgmrun agree on the failure over the row).
 * plugin_args: "" (no failure), "fail = init", "fail = eval" or
 * "fail = nan" (a NaN for particle 1, or 0 when there is one).  Without a
 * failure its score is that of N(0, I) data: -x / (m^2 + sigma2).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/plugin.h"

struct faulty {
  int d, fails; /* fails: this rank is the one that fails */
  char mode[8];
};

int sgm_plugin_abi_version(void) { return SGM_PLUGIN_ABI_VERSION; }

int sgm_plugin_init(const sgm_plugin_info_t *info, void **state, char *message,
                    size_t message_size) {
  int rank = 0, size = 1;
  MPI_Comm_rank(info->row, &rank);
  MPI_Comm_size(info->row, &size);
  const char *mode = strstr(info->args, "fail = ");
  mode = mode ? mode + strlen("fail = ") : "";
  if (mode[0] && strcmp(mode, "init") != 0 && strcmp(mode, "eval") != 0 &&
      strcmp(mode, "nan") != 0) {
    snprintf(message, message_size, "unknown mode '%s'", mode);
    return 1;
  }
  if (strcmp(mode, "init") == 0 && rank == size - 1) {
    snprintf(message, message_size, "deliberate init failure on rank %d of %d",
             rank, size);
    return 3;
  }
  struct faulty *f = calloc(1, sizeof *f);
  if (!f) {
    snprintf(message, message_size, "out of memory");
    return 1;
  }
  f->d = info->d;
  f->fails = rank == size - 1;
  snprintf(f->mode, sizeof f->mode, "%s", mode);
  *state = f;
  return 0;
}

int sgm_plugin_eval(void *state, double t, double m, double sigma2, int64_t n,
                    const double *x, double *score, char *message,
                    size_t message_size) {
  const struct faulty *f = state;
  if (f->fails && strcmp(f->mode, "eval") == 0) {
    snprintf(message, message_size, "deliberate eval failure at t = %g", t);
    return 4;
  }
  for (int64_t i = 0; i < n * f->d; i++)
    score[i] = -x[i] / (m * m + sigma2);
  if (f->fails && strcmp(f->mode, "nan") == 0 && n > 0)
    score[(n > 1 ? 1 : 0) * f->d] = NAN;
  return 0;
}

void sgm_plugin_finalize(void *state) { free(state); }
