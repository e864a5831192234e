/* sgmrun: the command line (skeleton; commands land module by module). */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "sgm_version.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  if (argc > 1 && strcmp(argv[1], "--version") == 0)
    printf("sgmrun %s (git %s)\n", SGM_VERSION_STRING, SGM_GIT_COMMIT);
  MPI_Finalize();
  return 0;
}
