/*
 * Helper of test_crash.py: appends save steps to a few series with a flush
 * after each, then kills itself with SIGKILL on every rank, as a scheduler
 * ending a job would, leaving the file unclosed.
 *
 * usage: series_crash PATH STEPS MODE
 *   MODE flushed:   killed right after the STEPS-th flush has returned on
 *                   every rank;
 *   MODE unflushed: one more step is appended (not flushed) before the kill.
 * Values: particles[s][p][c] = s * 1000 + p * 10 + c + 0.5 (double and
 * float32), index[s][p] = s * 1000 + p, time[s] = 1 - s / 8.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/error.h"
#include "sgm/grid.h"
#include "sgm/output.h"

#define P 11
#define D 4

static void die(const char *what) {
  fprintf(stderr, "series_crash: %s: %s\n", what, sgm_error_message());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  if (argc != 4) {
    fprintf(stderr, "usage: series_crash PATH STEPS flushed|unflushed\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  int steps = atoi(argv[2]), unflushed = strcmp(argv[3], "unflushed") == 0;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  sgm_output_init();
  int64_t first, count;
  sgm_grid_block(P, size, rank, &first, &count);

  sgm_output_t *out = NULL;
  if (sgm_output_create(MPI_COMM_WORLD, argv[1], 0, &out))
    die("create");
  sgm_series_t *time = NULL, *x = NULL, *x32 = NULL, *index = NULL;
  int64_t dims[2] = {P, D};
  if (sgm_series_create(out, "time", SGM_SERIES_ENSEMBLE, H5T_NATIVE_DOUBLE,
                        H5T_NATIVE_DOUBLE, 0, NULL, "time", "1", &time) ||
      sgm_series_create(out, "particles", SGM_SERIES_PARTICLES,
                        H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 2, dims,
                        "positions", "1", &x) ||
      sgm_series_create(out, "particles32", SGM_SERIES_PARTICLES,
                        H5T_NATIVE_FLOAT, H5T_NATIVE_DOUBLE, 2, dims,
                        "positions", "1", &x32) ||
      sgm_series_create(out, "diagnostics/nearest_index", SGM_SERIES_PARTICLES,
                        H5T_NATIVE_INT64, H5T_NATIVE_INT64, 1, dims, "index",
                        "1", &index))
    die("series");
  int64_t ids[P];
  for (int64_t i = 0; i < count; i++)
    ids[i] = first + i;
  if (sgm_output_write_rows(out, "particle", H5T_NATIVE_INT64, P, 0, first,
                            count, ids, "particle index", "1"))
    die("particle");
  hid_t particle = H5Dopen2(sgm_output_file(out), "particle", H5P_DEFAULT);
  hid_t t = sgm_series_dataset(time);
  if (sgm_series_attach_scale(x, 0, t, "time") ||
      sgm_series_attach_scale(x, 1, particle, "particle") ||
      sgm_series_attach_scale(x32, 0, t, "time") ||
      sgm_series_attach_scale(index, 0, t, "time"))
    die("scales");

  double v[P * D];
  int64_t iv[P];
  for (int s = 0; s < steps + unflushed; s++) {
    double now = 1.0 - s / 8.0;
    for (int64_t i = 0; i < count * D; i++)
      v[i] = s * 1000.0 + (double)((first + i / D) * 10 + i % D) + 0.5;
    for (int64_t i = 0; i < count; i++)
      iv[i] = s * 1000 + first + i;
    if (sgm_series_append(time, 0, 0, &now) ||
        sgm_series_append(x, first, count, v) ||
        sgm_series_append(x32, first, count, v) ||
        sgm_series_append(index, first, count, iv))
      die("append");
    if (s < steps) {
      if (sgm_output_flush(out))
        die("flush");
      if (rank == 0)
        printf("flushed step %d\n", s);
    }
  }
  fflush(stdout);
  /* Every rank has returned from the last flush before any dies. */
  MPI_Barrier(MPI_COMM_WORLD);
  raise(SIGKILL);
  return 3;
}
