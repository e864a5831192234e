/*
 * Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without
 * libFuzzer: the regression tests of the normal suite (the committed seed
 * corpus and every crash reproducer).
 *
 *   fuzz_replay_<target> FILE_OR_DIR...
 *
 * Every regular file named, or held by a directory named, is one input
 * (directories in name order, not recursively).  A broken invariant or a
 * memory error aborts the process; otherwise it prints how many inputs ran
 * and exits 0.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int replay_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  struct stat st;
  if (!fp || fstat(fileno(fp), &st) != 0) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    if (fp)
      fclose(fp);
    return 1;
  }
  /* Exactly the file's bytes, so that a read past the input is caught
   * under AddressSanitizer as it is under libFuzzer. */
  size_t len = (size_t)st.st_size;
  uint8_t *data = malloc(len ? len : 1);
  int bad = !data || fread(data, 1, len, fp) != len;
  fclose(fp);
  if (!bad)
    LLVMFuzzerTestOneInput(data, len);
  else
    fprintf(stderr, "replay: cannot read %s\n", path);
  free(data);
  return bad;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays the regular files of a directory in name order. */
static int replay_dir(const char *path, int *count) {
  DIR *dir = opendir(path);
  if (!dir) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  int failed = 0;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.')
      continue;
    char **grown = realloc(names, (n + 1) * sizeof *names);
    if (!grown) {
      failed = 1;
      break;
    }
    names = grown;
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    if (!(names[n] = malloc(len))) {
      failed = 1;
      break;
    }
    snprintf(names[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(dir);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (!failed && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      failed |= replay_file(names[i]);
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return failed;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  LLVMFuzzerInitialize(&argc, &argv);
  int failed = 0, count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      failed = 1;
    } else if (S_ISDIR(st.st_mode)) {
      failed |= replay_dir(argv[i], &count);
    } else {
      failed |= replay_file(argv[i]);
      count++;
    }
  }
  printf("replay: %d input%s%s\n", count, count == 1 ? "" : "s",
         failed ? ", with errors" : "");
  return failed;
}
