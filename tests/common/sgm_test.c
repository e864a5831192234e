#include "sgm_test.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

int sgm_test_failures = 0;
int sgm_test_rank = 0;

void sgm_test_init(int *argc, char ***argv) {
  MPI_Init(argc, argv);
  int size;
  MPI_Comm_rank(MPI_COMM_WORLD, &sgm_test_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  sgm_log_init(sgm_test_rank, size);
}

int sgm_test_finish(void) {
  int total = 0;
  MPI_Allreduce(&sgm_test_failures, &total, 1, MPI_INT, MPI_SUM,
                MPI_COMM_WORLD);
  if (sgm_test_rank == 0)
    fprintf(stderr, "%s: %d failure(s)\n", total ? "FAILED" : "passed", total);
  MPI_Finalize();
  return total ? 1 : 0;
}

sgm_config_t sgm_test_config(uint64_t seed) {
  sgm_config_t c;
  memset(&c, 0, sizeof c);
  c.run.seed = seed;
  c.sde.kind = SGM_SDE_VP;
  c.sde.beta_min = 0.1;
  c.sde.beta_max = 20;
  c.sde.sigma_min = 0.01;
  c.sde.sigma_max = 50;
  c.sde.T = 1;
  c.sde.t_min = 1e-3;
  c.drift.model = SGM_DRIFT_EMPIRICAL;
  c.perturb.kind = SGM_PERTURB_NONE;
  c.perturb.direction = SGM_DIRECTION_ONES;
  c.perturb.alpha = 1;
  c.perturb.rank = 2;
  return c;
}

const char *sgm_test_tmpdir(const char *name) {
  static char path[4096];
  const char *base = getenv("SGM_TEST_TMPDIR");
  snprintf(path, sizeof path, "%s/%s", base ? base : "/tmp/sgm-tests", name);
  if (sgm_test_rank == 0) {
    char cmd[3 * sizeof path];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0)
      fprintf(stderr, "cannot create %s\n", path);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return path;
}
