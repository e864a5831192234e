/* What every output file records about the code, libraries and run that
 * wrote it. */
#include <cblas.h>
#include <gsl/gsl_version.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "output/h5_impl.h"
#include "sgm/error.h"
#include "sgm/output.h"
#include "sgm_version.h"

/* OpenBLAS's own description of its build; declared here because the
 * Debian cblas.h of other BLAS vendors lacks it. */
char *openblas_get_config(void);

void sgm_output_timestamp(MPI_Comm comm, char buf[32]) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &utc);
  }
  MPI_Bcast(buf, 32, MPI_CHAR, 0, comm);
}

/* Library versions, identical on every rank (rank 0's view). */
static void library_versions(MPI_Comm comm, char *mpi, char *blas, char *host) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    mpi[strcspn(mpi, "\n,")] = '\0';
    snprintf(blas, 256, "%s", openblas_get_config());
    if (gethostname(host, 256) != 0)
      snprintf(host, 256, "unknown");
    host[255] = '\0';
  }
  MPI_Bcast(mpi, MPI_MAX_LIBRARY_VERSION_STRING, MPI_CHAR, 0, comm);
  MPI_Bcast(blas, 256, MPI_CHAR, 0, comm);
  MPI_Bcast(host, 256, MPI_CHAR, 0, comm);
}

/* Rank 0's working directory (what relative paths of the configuration
 * are relative to), or "" when it cannot be told. */
static void working_directory(MPI_Comm comm, char cwd[4096]) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0 && !getcwd(cwd, 4096))
    cwd[0] = '\0';
  cwd[4095] = '\0';
  MPI_Bcast(cwd, 4096, MPI_CHAR, 0, comm);
}

int sgm_output_provenance(sgm_output_t *out, const sgm_config_t *cfg,
                          const sgm_grid_t *grid, const char *command) {
  hid_t f = sgm_output_file(out);
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "", blas[256] = "", host[256] = "",
       hdf5[64], grid_text[32], when[32];
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  snprintf(hdf5, sizeof hdf5, "%u.%u.%u", maj, min, rel);
  library_versions(grid->world, mpi, blas, host);
  sgm_grid_describe(grid, grid_text, sizeof grid_text);
  sgm_output_timestamp(grid->world, when);
  SGM_CALL(sgm_output_attr_string(f, "config", cfg->resolved));
  SGM_CALL(sgm_output_attr_string(f, "version", SGM_VERSION_STRING));
  SGM_CALL(sgm_output_attr_string(f, "git_commit", SGM_GIT_COMMIT));
  SGM_CALL(sgm_output_attr_string(f, "compiler", SGM_COMPILER));
  SGM_CALL(sgm_output_attr_string(f, "hdf5_version", hdf5));
  SGM_CALL(sgm_output_attr_string(f, "mpi_library", mpi));
  SGM_CALL(sgm_output_attr_string(f, "blas", blas));
  SGM_CALL(sgm_output_attr_string(f, "gsl_version", gsl_version));
  SGM_CALL(sgm_output_attr_string(f, "zlib_version", zlibVersion()));
  SGM_CALL(sgm_output_attr_string(f, "host", host));
  char cwd[4096] = "";
  working_directory(grid->world, cwd);
  SGM_CALL(sgm_output_attr_string(f, "cwd", cwd));
  SGM_CALL(sgm_output_attr_string(f, "command", command));
  SGM_CALL(sgm_output_attr_int64(f, "mpi_ranks", grid->size));
  SGM_CALL(sgm_output_attr_string(f, "grid", grid_text));
  SGM_CALL(sgm_output_attr_int64(f, "grid_rows", grid->rows));
  SGM_CALL(sgm_output_attr_int64(f, "grid_cols", grid->cols));
  SGM_CALL(sgm_output_attr_int64(f, "seed", (int64_t)cfg->run.seed));
  SGM_CALL(sgm_output_attr_string(f, "start_time", when));
  SGM_CALL(sgm_output_attr_string(f, "status", "running"));
  return 0;
}

int sgm_output_set_status(sgm_output_t *out, const char *status) {
  char when[32];
  hid_t f = sgm_output_file(out);
  sgm_output_timestamp(out->comm, when);
  SGM_CALL(sgm_output_attr_string(f, "status", status));
  SGM_CALL(sgm_output_attr_string(f, "end_time", when));
  return 0;
}
