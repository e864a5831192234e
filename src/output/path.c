/* Checking an output path before any work is done. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgm/error.h"
#include "sgm/output.h"

int sgm_output_check_path(const char *path, int overwrite) {
  SGM_CHECK(path && path[0], SGM_ERR_IO, "the output path is empty");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  struct stat st;
  SGM_CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), SGM_ERR_IO,
            "output directory '%s' of '%s' does not exist", dir, path);
  SGM_CHECK(access(dir, W_OK) == 0, SGM_ERR_IO,
            "output directory '%s' of '%s' is not writable: %s", dir, path,
            strerror(errno));
  if (!overwrite)
    SGM_CHECK(access(path, F_OK) != 0, SGM_ERR_IO,
              "output file '%s' exists; pass --overwrite to replace it or "
              "--output to write elsewhere",
              path);
  return 0;
}
