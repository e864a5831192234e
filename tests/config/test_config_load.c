/* The collective load on any number of ranks: one text everywhere, one
 * error everywhere, no hang. */
#include "config_test.h"

/* True on every rank when s is the same string as on rank 0. */
static bool same_as_rank0(const char *s) {
  long long len = sgm_test_rank == 0 ? (long long)strlen(s) + 1 : 0;
  MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  char *copy = malloc((size_t)len);
  if (sgm_test_rank == 0)
    memcpy(copy, s, (size_t)len);
  MPI_Bcast(copy, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
  bool same = strcmp(copy, s) == 0;
  free(copy);
  return same;
}

static void test_load_ok(const char *dir) {
  char saved[4096];
  if (sgm_test_rank == 0)
    write_file(dir, "load-test.ini",
               "[data]\nsource = gmm\nn = 20\nmeans = -1;0, 1;0\n"
               "[sampler]\nsteps = 5\n[sweep]\nsde.kind = vp, ve\n");
  /* Only rank 0 reads the file; the others pass the same path. */
  snprintf(saved, sizeof saved, "%s/load-test.ini", dir);
  const char *set[] = {"sampler.particles=64", "run.seed=9"};
  sgm_config_t *cfg = NULL;
  ASSERT_OK(sgm_config_load(MPI_COMM_WORLD, saved, set, 2, &cfg));
  if (!cfg) {
    same_as_rank0("");
    return;
  }
  ASSERT_STR_EQ(cfg->source, saved);
  ASSERT_STR_EQ(cfg->run.name, "load-test");
  ASSERT_INT_EQ(cfg->sampler.particles, 64);
  ASSERT_INT_EQ(cfg->data.seed, 9);
  ASSERT_INT_EQ(cfg->data.means.count, 2);
  ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 2);
  ASSERT_TRUE(same_as_rank0(cfg->resolved));
  sgm_config_destroy(&cfg);
}

static void test_load_errors(const char *dir) {
  char path[4096];
  if (sgm_test_rank == 0)
    write_file(dir, "bad.ini", "[sampler]\nstpes = 5\n");
  snprintf(path, sizeof path, "%s/bad.ini", dir);
  MPI_Barrier(MPI_COMM_WORLD);
  sgm_config_t *cfg = NULL;

  sgm_error_clear();
  int rc = sgm_config_load(MPI_COMM_WORLD, path, NULL, 0, &cfg);
  ASSERT_INT_EQ(rc, SGM_ERR_CONFIG);
  ASSERT_TRUE(cfg == NULL);
  ASSERT_TRUE(strstr(sgm_error_message(), "bad.ini:2: unknown key 'stpes' "
                                          "in [sampler]; did you mean "
                                          "'steps'?") != NULL);
  ASSERT_TRUE(same_as_rank0(sgm_error_message()));

  sgm_error_clear();
  rc = sgm_config_load(MPI_COMM_WORLD, "/nonexistent/x.ini", NULL, 0, &cfg);
  ASSERT_INT_EQ(rc, SGM_ERR_IO);
  ASSERT_TRUE(strstr(sgm_error_message(), "cannot read configuration") != NULL);
  ASSERT_TRUE(same_as_rank0(sgm_error_message()));

  /* The file is fine; the override is not. */
  snprintf(path, sizeof path, "%s/load-test.ini", dir);
  const char *malformed[] = {"nodot"};
  sgm_error_clear();
  rc = sgm_config_load(MPI_COMM_WORLD, path, malformed, 1, &cfg);
  ASSERT_INT_EQ(rc, SGM_ERR_USAGE);
  ASSERT_TRUE(strstr(sgm_error_message(), "--set 'nodot'") != NULL);
  ASSERT_TRUE(same_as_rank0(sgm_error_message()));
  sgm_error_clear();
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  const char *dir = sgm_test_tmpdir("config-load");
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", dir);
  test_load_ok(copy);
  test_load_errors(copy);
  /* Again, so that a missed collective would show up as a hang here. */
  test_load_ok(copy);
  test_load_errors(copy);
  return sgm_test_finish();
}
