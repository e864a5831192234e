/*
 * The parts every fuzz target shares (see fuzz_common.h).
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgm/dataset.h"
#include "sgm/error.h"
#include "sgm/grid.h"

/* Data sets larger than this (values) are probed but not loaded: only a
 * gzip IDX file can claim them in a few kilobytes, and loading would just
 * allocate what the header asks for before finding the data missing. */
#define FUZZ_MAX_VALUES ((int64_t)1 << 22)

#ifdef SGM_FUZZ_SANITIZERS
/* The fuzz build's sanitizer defaults.  A header may ask for any amount of
 * memory: allocations above 1 GiB return NULL, so that the library's
 * out-of-memory path runs instead of the process stopping.  Open MPI keeps
 * memory to the end of the process on purpose: the suppressions excuse it
 * (full stacks at exit let them match).  Under libFuzzer, which checks for
 * leaks after every input, the check at exit is skipped. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
#ifdef SGM_FUZZ_LIBFUZZER
  return "allocator_may_return_null=1:max_allocation_size_mb=1024:"
         "leak_check_at_exit=0";
#else
  return "allocator_may_return_null=1:max_allocation_size_mb=1024:"
         "fast_unwind_on_malloc=0";
#endif
}
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\n"
         "leak:libpmix.so\nleak:libhwloc.so\nleak:libevent\n";
}
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) {
  return "print_stacktrace=1:halt_on_error=1";
}
#endif

static char scratch[4096];
static sgm_config_t *configs[256];

void fuzz_note(const char *what, int err) {
  static int verbose = -1;
  if (verbose < 0)
    verbose = getenv("SGM_FUZZ_VERBOSE") != NULL;
  if (verbose)
    fprintf(stderr, "fuzz: %s: %s\n", what,
            err < 0 ? sgm_error_message() : "ok");
}

void fuzz_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (sgm_error_code())
    fprintf(stderr, "fuzz: last library error: %s\n", sgm_error_message());
  abort();
}

/* Removes path and, for a directory, what it holds. */
static void remove_tree(const char *path) {
  DIR *dir = opendir(path);
  if (!dir) {
    unlink(path);
    return;
  }
  struct dirent *e;
  char child[8192];
  while ((e = readdir(dir))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    remove_tree(child);
  }
  closedir(dir);
  rmdir(path);
}

static void cleanup(void) {
  for (int i = 0; i < 256; i++)
    sgm_config_destroy(&configs[i]);
  if (scratch[0])
    remove_tree(scratch);
  scratch[0] = '\0';
  int done = 0;
  MPI_Finalized(&done);
  if (!done)
    MPI_Finalize();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  /* Open MPI would catch SIGABRT, SIGBUS, SIGFPE and SIGSEGV itself: leave
   * them to the sanitizers and libFuzzer, which report and save the input. */
  setenv("OMPI_MCA_opal_signal", "", 0);
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready && MPI_Init(NULL, NULL) != MPI_SUCCESS)
    fuzz_die("MPI_Init failed");
  /* /dev/shm keeps the many small writes off the disk. */
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
  if (!base)
    base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(scratch, sizeof scratch, "%s/sgm-fuzz-XXXXXX", base);
  if (!mkdtemp(scratch))
    fuzz_die("cannot create a scratch directory under %s", base);
  atexit(cleanup);
  return 0;
}

const char *fuzz_path(const char *name) {
  static char paths[4][8192];
  static int next;
  char *p = paths[next++ % 4];
  snprintf(p, sizeof paths[0], "%s/%s", scratch, name);
  return p;
}

const char *fuzz_dir(const char *name) {
  const char *path = fuzz_path(name);
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    fuzz_die("cannot create %s", path);
  return path;
}

void fuzz_write(const char *path, const uint8_t *data, size_t size) {
  if (!data) {
    unlink(path);
    return;
  }
  FILE *fp = fopen(path, "wb");
  if (!fp || (size > 0 && fwrite(data, 1, size, fp) != size))
    fuzz_die("cannot write %s", path);
  if (fclose(fp) != 0)
    fuzz_die("cannot write %s", path);
}

void fuzz_split(const uint8_t *data, size_t size, struct fuzz_input *in) {
  static const uint8_t none[1];
  *in = (struct fuzz_input){.first = none, .second = none};
  if (size == 0)
    return;
  in->flags = data[0];
  data++, size--;
  if (!(in->flags & FUZZ_TWO)) {
    in->first = data;
    in->first_len = size;
    return;
  }
  size_t n = 0;
  if (size >= 2) {
    n = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2, size -= 2;
  } else {
    data += size, size = 0;
  }
  if (n > size)
    n = size;
  in->first = data;
  in->first_len = n;
  in->second = data + n;
  in->second_len = size - n;
}

const char *fuzz_scale_line(unsigned flags) {
  static const char *const lines[] = {"", "scale = unit\n", "scale = none\n",
                                      "scale = minus1_1\n"};
  return lines[(flags & FUZZ_SCALE) >> 3];
}

const sgm_config_t *fuzz_config(unsigned key, const char *text) {
  if (key >= 256)
    fuzz_die("configuration key %u out of range", key);
  if (!configs[key]) {
    if (sgm_config_parse_text(text, "fuzz.ini", &configs[key]) < 0)
      fuzz_die("the harness's configuration does not parse:\n%s", text);
  }
  return configs[key];
}

/* What sgm_dataset_probe reports must describe a loadable set. */
static void check_info(const sgm_dataset_info_t *info) {
  int64_t d = 1;
  for (int a = 0; a < info->naxes; a++)
    d *= info->shape[a];
  if (info->n < 1 || info->n > info->n_source || info->d < 1 ||
      info->naxes < 1 || info->naxes > SGM_DATASET_MAX_AXES || d != info->d)
    fuzz_die("probe: %" PRId64 " of %" PRId64 " examples of %d values, %d "
             "axes (product %" PRId64 ")",
             info->n, info->n_source, info->d, info->naxes, d);
  if (!info->index && info->n != info->n_source)
    fuzz_die("probe: a subset without an index");
  for (int64_t i = 0; info->index && i < info->n; i++)
    if (info->index[i] < 0 || info->index[i] >= info->n_source ||
        (i > 0 && info->index[i] <= info->index[i - 1]))
      fuzz_die("probe: index[%" PRId64 "] = %" PRId64 " out of order", i,
               info->index[i]);
}

/* A loaded shard must hold finite values, scaled into the range asked. */
static void check_data(const sgm_config_t *cfg, const sgm_dataset_info_t *info,
                       int shard, int nshards, const sgm_dataset_t *ds) {
  int64_t offset, count;
  sgm_grid_block(info->n, nshards, shard, &offset, &count);
  if (!ds || ds->n != info->n || ds->d != info->d || ds->offset != offset ||
      ds->n_local != count || !ds->description)
    fuzz_die("load: the shard does not match the probe");
  if (info->has_labels != (ds->labels != NULL))
    fuzz_die("load: labels %s", ds->labels ? "without a source" : "missing");
  double lo = -INFINITY, hi = INFINITY;
  if (cfg->data.scale == SGM_SCALE_UNIT)
    lo = 0, hi = 1;
  else if (cfg->data.scale == SGM_SCALE_MINUS1_1)
    lo = -1, hi = 1;
  size_t values = (size_t)ds->n_local * (size_t)ds->d;
  for (size_t i = 0; i < values; i++)
    if (!isfinite(ds->y[i]) || ds->y[i] < lo || ds->y[i] > hi)
      fuzz_die("load: value %zu is %g, outside [%g, %g]", i, ds->y[i], lo, hi);
  for (int64_t i = 0; i < ds->n_local; i++) {
    int64_t want = info->index ? info->index[offset + i] : offset + i;
    if (ds->source_index[i] != want)
      fuzz_die("load: example %" PRId64 " comes from %" PRId64 ", not %" PRId64,
               i, ds->source_index[i], want);
  }
}

void fuzz_load(const sgm_config_t *cfg, unsigned flags) {
  sgm_error_clear();
  sgm_dataset_info_t info;
  int err = sgm_dataset_probe(MPI_COMM_SELF, cfg, &info);
  fuzz_note("probe", err);
  if (err < 0) {
    if (!sgm_error_message()[0])
      fuzz_die("probe failed without a message");
    sgm_error_clear();
    return;
  }
  check_info(&info);
  if ((double)info.n * (double)info.d > (double)FUZZ_MAX_VALUES) {
    sgm_dataset_info_free(&info);
    return;
  }
  int shard = flags & FUZZ_SHARD ? 1 : 0, nshards = flags & FUZZ_SHARD ? 2 : 1;
  sgm_dataset_t *ds = NULL;
  err = sgm_dataset_load(MPI_COMM_SELF, cfg, &info, shard, nshards, &ds);
  fuzz_note("load", err);
  if (err < 0) {
    if (ds)
      fuzz_die("load failed but returned a data set");
    if (!sgm_error_message()[0])
      fuzz_die("load failed without a message");
  } else {
    check_data(cfg, &info, shard, nshards, ds);
  }
  sgm_dataset_destroy(&ds);
  sgm_dataset_info_free(&info);
  sgm_error_clear();
}
