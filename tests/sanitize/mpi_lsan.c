/*
 * Sanitizer builds only (SGM_SANITIZE; linked into every program through
 * sgm_flags): MPI_Init and MPI_Finalize through the MPI profiling interface,
 * so that LeakSanitizer reports our leaks and not Open MPI's.
 *
 * - What Open MPI allocates on the calling thread inside MPI_Init and
 *   MPI_Finalize and never frees is not a leak of ours: LeakSanitizer is off
 *   there (__lsan_disable is per thread; everything else stays checked, MPI
 *   objects we create and leak, such as communicators, included).
 * - MPI_Finalize unloads Open MPI's components (dlclose), after which a leak
 *   allocated in one of them (PMIx's progress thread) has an unknown module
 *   in its stack: no suppression can name it, and LeakSanitizer re-reads the
 *   process map for every such frame (seconds per process).  Before
 *   finalizing, every loaded library is pinned (RTLD_NODELETE), so stacks
 *   stay readable and tests/sanitize/lsan.supp can match them by library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <mpi.h>
#include <sanitizer/lsan_interface.h>
#include <stdio.h>

enum { MAX_PINNED = 512, NAME_SIZE = 512 };
static char names[MAX_PINNED][NAME_SIZE];
static int n_names;

static int collect(struct dl_phdr_info *info, size_t size, void *data) {
  if (info->dlpi_name && info->dlpi_name[0] && n_names < MAX_PINNED)
    snprintf(names[n_names++], NAME_SIZE, "%s", info->dlpi_name);
  return 0;
}

/* dlopen outside dl_iterate_phdr, which holds the loader's lock. */
static void pin_libraries(void) {
  n_names = 0;
  dl_iterate_phdr(collect, NULL);
  for (int i = 0; i < n_names; i++)
    dlopen(names[i], RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
}

int MPI_Init(int *argc, char ***argv) {
  __lsan_disable();
  int status = PMPI_Init(argc, argv);
  __lsan_enable();
  return status;
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided) {
  __lsan_disable();
  int status = PMPI_Init_thread(argc, argv, required, provided);
  __lsan_enable();
  return status;
}

int MPI_Finalize(void) {
  pin_libraries();
  __lsan_disable();
  int status = PMPI_Finalize();
  __lsan_enable();
  return status;
}
