/*
 * CIFAR-10 binary batches: records of one label byte and 3072 pixel bytes
 * (3 x 32 x 32, channel-major, as stored).  path is a comma-separated list
 * of batch files, or the directory holding data_batch_1..5.bin (train) and
 * test_batch.bin (test); examples are numbered across the files in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_impl.h"
#include "sgm/error.h"

#define RECORD 3073
#define PIXELS 3072

typedef struct cifar {
  int nfiles;
  char **paths;
  int64_t *first; /* first example of each file; first[nfiles] = n */
  FILE *fp;       /* the file being read, or NULL */
  int cur;        /* its number */
  int64_t pos;    /* its read position */
} cifar_t;

static int add_file(cifar_t *c, const char *path, size_t len) {
  char **paths = realloc(c->paths, (size_t)(c->nfiles + 1) * sizeof *paths);
  SGM_CHECK(paths, SGM_ERR_NOMEM, "out of memory listing CIFAR-10 files");
  c->paths = paths;
  char *copy = NULL;
  SGM_CALL(SGM_MALLOC(copy, len + 1));
  memcpy(copy, path, len);
  copy[len] = '\0';
  c->paths[c->nfiles++] = copy;
  return 0;
}

/* Splits "a.bin, b.bin" into the list of files. */
static int add_list(cifar_t *c, const char *list) {
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *end = p;
    while (*end && *end != ',')
      end++;
    const char *last = end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
      last--;
    if (last > p)
      SGM_CALL(add_file(c, p, (size_t)(last - p)));
    p = end;
  }
  return 0;
}

static int cifar_open(sgm__source_t *src, const sgm_config_t *cfg,
                      int thorough) {
  const char *path = cfg->data.path;
  SGM_CHECK(path && path[0], SGM_ERR_CONFIG,
            "[data] source = cifar10 needs path (the batch files, "
            "comma-separated, or their directory)");
  cifar_t *c = NULL;
  SGM_CALL(SGM_CALLOC(c, 1));
  src->impl = c;
  c->cur = -1;
  struct stat st;
  int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
  if (is_dir) {
    const char *sep = path[strlen(path) - 1] == '/' ? "" : "/";
    char name[1200];
    if (cfg->data.split == SGM_SPLIT_TEST) {
      snprintf(name, sizeof name, "%s%stest_batch.bin", path, sep);
      SGM_CALL(add_file(c, name, strlen(name)));
    } else {
      for (int b = 1; b <= 5; b++) {
        snprintf(name, sizeof name, "%s%sdata_batch_%d.bin", path, sep, b);
        SGM_CALL(add_file(c, name, strlen(name)));
      }
    }
    snprintf(src->where, sizeof src->where, "%s (%s)",
             cfg->data.split == SGM_SPLIT_TEST ? "test" : "train", path);
  } else {
    SGM_CALL(add_list(c, path));
    SGM_CHECK(c->nfiles > 0, SGM_ERR_CONFIG,
              "[data] path lists no CIFAR-10 batch file");
    snprintf(src->where, sizeof src->where, "(%s)", path);
  }
  SGM_CALL(SGM_MALLOC(c->first, (size_t)c->nfiles + 1));
  c->first[0] = 0;
  for (int i = 0; i < c->nfiles; i++) {
    int64_t size = 0;
    SGM_CALL(sgm__file_size(c->paths[i], "cifar10", &size));
    SGM_CHECK(size % RECORD == 0, SGM_ERR_INPUT,
              "%s: size %" PRId64 " bytes is not a multiple of 3073 (one label "
              "byte and 3072 pixel bytes per record; truncated?)",
              c->paths[i], size);
    c->first[i + 1] = c->first[i] + size / RECORD;
  }
  src->n = c->first[c->nfiles];
  SGM_CHECK(src->n > 0, SGM_ERR_INPUT, "cifar10: %s holds no records", path);
  src->d = PIXELS;
  src->naxes = 3;
  src->shape[0] = 3;
  src->shape[1] = 32;
  src->shape[2] = 32;
  src->elem = SGM__ELEM_U8;
  src->has_labels = 1;
  src->label_lo = 0;
  src->label_hi = 9;
  snprintf(src->origin, sizeof src->origin, "%s", path);
  snprintf(src->labels_origin, sizeof src->labels_origin, "%s", path);
  return 0;
}

/* Positions the reader at source example i; sets *file and *record. */
static int cifar_seek(cifar_t *c, int64_t i, int *file, int64_t *record) {
  int f = c->cur < 0 ? 0 : c->cur;
  if (i < c->first[f])
    f = 0;
  while (i >= c->first[f + 1])
    f++;
  if (f != c->cur) {
    if (c->fp)
      fclose(c->fp);
    c->fp = fopen(c->paths[f], "rb");
    c->cur = c->fp ? f : -1;
    c->pos = 0;
    SGM_CHECK(c->fp, SGM_ERR_IO, "cifar10: cannot open %s: %s", c->paths[f],
              strerror(errno));
    setvbuf(c->fp, NULL, _IOFBF, 1 << 16);
  }
  *file = f;
  *record = i - c->first[f];
  int64_t offset = *record * RECORD;
  if (c->pos != offset) {
    SGM_CHECK(fseeko(c->fp, (off_t)offset, SEEK_SET) == 0, SGM_ERR_IO,
              "%s: cannot seek to record %" PRId64 ": %s", c->paths[f], *record,
              strerror(errno));
    c->pos = offset;
  }
  return 0;
}

static int check_label(const cifar_t *c, int file, int64_t record,
                       unsigned label) {
  SGM_CHECK(label <= 9, SGM_ERR_INPUT,
            "%s: record %" PRId64 " has label %u (CIFAR-10 labels are 0..9)",
            c->paths[file], record, label);
  return 0;
}

static int cifar_rows(sgm__source_t *src, const int64_t *index, int64_t count,
                      double *y) {
  cifar_t *c = src->impl;
  unsigned char buf[RECORD];
  for (int64_t i = 0; i < count; i++) {
    int file;
    int64_t record;
    SGM_CALL(cifar_seek(c, index[i], &file, &record));
    size_t got = fread(buf, 1, RECORD, c->fp);
    c->pos += (int64_t)got;
    SGM_CHECK(got == RECORD, SGM_ERR_INPUT,
              "%s: data end early, in record %" PRId64 " (truncated?)",
              c->paths[file], record);
    SGM_CALL(check_label(c, file, record, buf[0]));
    sgm__elem_to_double(buf + 1, SGM__ELEM_U8, 0, PIXELS, y + i * PIXELS);
  }
  return 0;
}

static int cifar_labels(sgm__source_t *src, const int64_t *index, int64_t count,
                        int32_t *labels) {
  cifar_t *c = src->impl;
  for (int64_t i = 0; i < count; i++) {
    int file;
    int64_t record;
    SGM_CALL(cifar_seek(c, index[i], &file, &record));
    int ch = fgetc(c->fp);
    c->pos += ch == EOF ? 0 : 1;
    SGM_CHECK(ch != EOF, SGM_ERR_INPUT,
              "%s: data end early, in record %" PRId64 " (truncated?)",
              c->paths[file], record);
    SGM_CALL(check_label(c, file, record, (unsigned)ch));
    labels[i] = ch;
  }
  return 0;
}

static void cifar_close(sgm__source_t *src) {
  cifar_t *c = src->impl;
  if (!c)
    return;
  if (c->fp)
    fclose(c->fp);
  for (int i = 0; i < c->nfiles; i++)
    free(c->paths[i]);
  free(c->paths);
  free(c->first);
  free(c);
  src->impl = NULL;
}

const struct sgm__source_ops sgm__cifar10_ops = {
    "cifar10", cifar_open, cifar_rows, cifar_labels, cifar_close};
