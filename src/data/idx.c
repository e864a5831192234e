/*
 * IDX files (LeCun's MNIST format), plain or gzip-compressed, and the two
 * sources built on them: `idx` (any IDX file, optional IDX labels) and
 * `fashion-mnist` (Debian's dataset-fashion-mnist layout).
 *
 * zlib's gz* functions read both plain and gzip files, and seek in both: a
 * real seek in a plain file, decompression up to the target in a gzip file.
 * Rows are always requested in ascending order, so a rank decompresses only
 * up to the last row it needs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data_impl.h"
#include "sgm/error.h"

#define IDX_MAX_DIMS (1 + SGM_DATASET_MAX_AXES)

typedef struct idx_file {
  char path[1024];
  gzFile gz;
  enum sgm__elem elem;
  int ndims;
  int64_t dims[IDX_MAX_DIMS];
  int64_t row_elems; /* values per example */
  int64_t header_bytes;
} idx_file_t;

static int idx_elem(int code, enum sgm__elem *e) {
  switch (code) {
  case 0x08:
    *e = SGM__ELEM_U8;
    return 1;
  case 0x09:
    *e = SGM__ELEM_I8;
    return 1;
  case 0x0B:
    *e = SGM__ELEM_I16;
    return 1;
  case 0x0C:
    *e = SGM__ELEM_I32;
    return 1;
  case 0x0D:
    *e = SGM__ELEM_F32;
    return 1;
  case 0x0E:
    *e = SGM__ELEM_F64;
    return 1;
  default:
    return 0;
  }
}

/* Reads exactly bytes at the current position.  first_example and
 * row_bytes only serve the message: which example the data stop in. */
static int idx_read(idx_file_t *f, void *buf, size_t bytes,
                    int64_t first_example, size_t row_bytes) {
  int got = gzread(f->gz, buf, (unsigned)bytes);
  if (got >= 0 && (size_t)got == bytes)
    return 0;
  int zerr = Z_OK;
  const char *zmsg = gzerror(f->gz, &zerr);
  int64_t where =
      first_example + (got > 0 ? (int64_t)((size_t)got / row_bytes) : 0);
  SGM_CHECK(got >= 0 && (zerr == Z_OK || zerr == Z_BUF_ERROR), SGM_ERR_INPUT,
            "%s: corrupt data in or before example %" PRId64 " (zlib: %s)",
            f->path, where, zmsg);
  return sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                       "%s: data end early, in example %" PRId64
                       " (truncated?)",
                       f->path, where);
}

static int idx_seek(idx_file_t *f, int64_t offset) {
  if (gztell(f->gz) == (z_off_t)offset)
    return 0;
  SGM_CHECK(gzseek(f->gz, (z_off_t)offset, SEEK_SET) == (z_off_t)offset,
            SGM_ERR_IO, "%s: cannot seek to byte %" PRId64 " (truncated?)",
            f->path, offset);
  return 0;
}

static void idx_close(idx_file_t *f) {
  if (f->gz)
    gzclose(f->gz);
  f->gz = NULL;
}

/* "28x28 u8" */
static const char *idx_describe(const idx_file_t *f, char *buf, size_t len) {
  char shape[128] = "1";
  if (f->ndims > 1)
    sgm__shape_string(f->ndims - 1, f->dims + 1, shape, sizeof shape);
  snprintf(buf, len, "%s %s", shape, sgm__elem_name(f->elem));
  return buf;
}

/* Checks a read of want header bytes.  zlib decompresses ahead of what was
 * asked, so damage anywhere in its first buffer shows up here. */
static int header_status(idx_file_t *f, int got, int want) {
  if (got == want)
    return 0;
  int zerr = Z_OK;
  const char *zmsg = gzerror(f->gz, &zerr);
  SGM_CHECK(got >= 0 && (zerr == Z_OK || zerr == Z_BUF_ERROR), SGM_ERR_INPUT,
            "%s: corrupt compressed data (zlib: %s)", f->path, zmsg);
  return sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                       "%s: too short for an IDX header (truncated?)", f->path);
}

/* Reads the trailer of a gzip file: ISIZE, the uncompressed size mod 2^32. */
static int gzip_isize(const char *path, int64_t size, uint32_t *isize) {
  *isize = 0;
  if (size < 4)
    return 0;
  FILE *fp = fopen(path, "rb");
  SGM_CHECK(fp, SGM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char t[4] = {0};
  int ok = fseeko(fp, -4, SEEK_END) == 0 && fread(t, 1, 4, fp) == 4;
  fclose(fp);
  SGM_CHECK(ok, SGM_ERR_IO, "%s: cannot read the gzip trailer", path);
  *isize = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
           (uint32_t)t[3] << 24;
  return 0;
}

/* Opens an IDX file and validates its header against its size.  thorough:
 * also compare a gzip file's trailer with the header. */
static int idx_open(idx_file_t *f, const char *path, const char *what,
                    int thorough) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s", path);
  int64_t size = 0;
  SGM_CALL(sgm__file_size(path, what, &size));
  unsigned char m[4] = {0};
  FILE *fp = fopen(path, "rb");
  SGM_CHECK(fp, SGM_ERR_IO, "%s: cannot open %s: %s", what, path,
            strerror(errno));
  size_t got = fread(m, 1, 2, fp);
  fclose(fp);
  int gzip = got == 2 && m[0] == 0x1f && m[1] == 0x8b;

  f->gz = gzopen(path, "rb");
  SGM_CHECK(f->gz, SGM_ERR_IO, "%s: cannot open %s: %s", what, path,
            errno ? strerror(errno) : "out of memory");
  gzbuffer(f->gz, 1u << 18);
  int rc = gzread(f->gz, m, 4);
  SGM_CALL(header_status(f, rc, 4));
  SGM_CHECK(m[0] == 0 && m[1] == 0, SGM_ERR_INPUT,
            "%s: not an IDX file (bad magic %02x %02x %02x %02x)", f->path,
            m[0], m[1], m[2], m[3]);
  SGM_CHECK(idx_elem(m[2], &f->elem), SGM_ERR_INPUT,
            "%s: unknown IDX type code 0x%02x (known: 08 u8, 09 i8, 0B i16, "
            "0C i32, 0D f32, 0E f64)",
            f->path, m[2]);
  f->ndims = m[3];
  SGM_CHECK(f->ndims >= 1 && f->ndims <= IDX_MAX_DIMS, SGM_ERR_INPUT,
            "%s: IDX header has %d dimensions (1 to %d supported)", f->path,
            f->ndims, IDX_MAX_DIMS);
  unsigned char dbuf[4 * IDX_MAX_DIMS];
  rc = gzread(f->gz, dbuf, (unsigned)(4 * f->ndims));
  SGM_CALL(header_status(f, rc, 4 * f->ndims));
  f->row_elems = 1;
  for (int i = 0; i < f->ndims; i++) {
    const unsigned char *p = dbuf + 4 * i;
    f->dims[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                           (uint32_t)p[2] << 8 | (uint32_t)p[3]);
    SGM_CHECK(f->dims[i] >= 1, SGM_ERR_INPUT,
              "%s: IDX dimension %d has length 0", f->path, i + 1);
    if (i > 0) {
      f->row_elems *= f->dims[i];
      SGM_CHECK(f->row_elems * (int64_t)sgm__elem_size(f->elem) <= INT32_MAX,
                SGM_ERR_INPUT,
                "%s: examples of 2 GiB or more are not supported", f->path);
    }
  }
  f->header_bytes = 4 + 4 * (int64_t)f->ndims;
  double bytes = (double)f->dims[0] * (double)f->row_elems *
                 (double)sgm__elem_size(f->elem);
  SGM_CHECK(bytes < 4e18, SGM_ERR_INPUT, "%s: IDX header claims %.3g bytes",
            f->path, bytes);
  int64_t expected = f->header_bytes + f->dims[0] * f->row_elems *
                                           (int64_t)sgm__elem_size(f->elem);
  char desc[160];
  if (!gzip) {
    SGM_CHECK(size == expected, SGM_ERR_INPUT,
              "%s: header says %" PRId64 " examples of %s (%" PRId64
              " bytes) but the file holds %" PRId64 " bytes (%s)",
              f->path, f->dims[0], idx_describe(f, desc, sizeof desc), expected,
              size, size < expected ? "truncated?" : "extra data at the end?");
  } else if (thorough) {
    uint32_t isize = 0;
    SGM_CALL(gzip_isize(path, size, &isize));
    SGM_CHECK(isize == (uint32_t)expected, SGM_ERR_INPUT,
              "%s: header says %" PRId64 " examples of %s (%" PRId64
              " bytes) but the gzip trailer says %" PRIu32
              " bytes (truncated?)",
              f->path, f->dims[0], idx_describe(f, desc, sizeof desc), expected,
              isize);
  }
  return 0;
}

/* sgm__read_at_fn for a (possibly compressed) IDX file. */
static int idx_read_at(void *file, const char *path, int64_t offset, void *buf,
                       size_t bytes, int64_t example, size_t record_bytes) {
  idx_file_t *f = file;
  SGM_CALL(idx_seek(f, offset));
  return idx_read(f, buf, bytes, example, record_bytes);
}

static int idx_read_records(idx_file_t *f, const int64_t *index, int64_t count,
                            double *rows, int32_t *labels) {
  struct sgm__records r = {idx_read_at, f, f->path,     f->header_bytes,
                           f->elem,     1, f->row_elems};
  return sgm__read_records(&r, index, count, rows, labels);
}

/* ---- the idx and fashion-mnist sources ---------------------------------- */

typedef struct idx_source {
  idx_file_t images, labels;
} idx_source_t;

static int open_pair(sgm__source_t *src, const char *images, const char *labels,
                     const char *what, int thorough) {
  idx_source_t *s = NULL;
  SGM_CALL(SGM_CALLOC(s, 1));
  src->impl = s;
  SGM_CALL(idx_open(&s->images, images, what, thorough));
  idx_file_t *f = &s->images;
  src->n = f->dims[0];
  src->d = (int)f->row_elems;
  src->elem = f->elem;
  if (f->ndims == 1) {
    src->naxes = 1;
    src->shape[0] = 1;
  } else {
    src->naxes = f->ndims - 1;
    for (int a = 0; a < src->naxes; a++)
      src->shape[a] = f->dims[a + 1];
  }
  snprintf(src->origin, sizeof src->origin, "%s", images);
  if (!labels)
    return 0;
  src->has_labels = 1;
  snprintf(src->labels_origin, sizeof src->labels_origin, "%s", labels);
  idx_file_t *l = &s->labels;
  SGM_CALL(idx_open(l, labels, what, thorough));
  SGM_CHECK(sgm__elem_is_integer(l->elem), SGM_ERR_INPUT,
            "%s: labels must be integers, but the IDX type is %s", labels,
            sgm__elem_name(l->elem));
  SGM_CHECK(l->row_elems == 1, SGM_ERR_INPUT,
            "%s: a labels file must be 1-D (one label per example)", labels);
  SGM_CHECK(l->dims[0] == src->n, SGM_ERR_INPUT,
            "[data] labels: %s holds %" PRId64 " labels but %s holds %" PRId64
            " examples",
            labels, l->dims[0], images, src->n);
  return 0;
}

static int idx_src_open(sgm__source_t *src, const sgm_config_t *cfg,
                        int thorough) {
  const char *path = cfg->data.path;
  SGM_CHECK(path && path[0], SGM_ERR_CONFIG,
            "[data] source = idx needs path (the images IDX file)");
  const char *labels =
      cfg->data.labels && cfg->data.labels[0] ? cfg->data.labels : NULL;
  snprintf(src->where, sizeof src->where, "(%s)", path);
  src->label_lo = 1;
  src->label_hi = 0; /* no declared range */
  return open_pair(src, path, labels, "idx", thorough);
}

#define FASHION_DEFAULT_DIR "/usr/share/datasets/fashion-mnist/"

/* dir/name.gz, else dir/name; 0 when neither exists. */
static int find_file(const char *dir, const char *name, char *out, size_t len) {
  const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
  snprintf(out, len, "%s%s%s.gz", dir, sep, name);
  if (access(out, F_OK) == 0)
    return 1;
  snprintf(out, len, "%s%s%s", dir, sep, name);
  return access(out, F_OK) == 0;
}

static int fashion_open(sgm__source_t *src, const sgm_config_t *cfg,
                        int thorough) {
  const char *dir = cfg->data.path && cfg->data.path[0] ? cfg->data.path
                                                        : FASHION_DEFAULT_DIR;
  const char *split = cfg->data.split == SGM_SPLIT_TEST ? "t10k" : "train";
  snprintf(src->where, sizeof src->where, "%s (%s)",
           cfg->data.split == SGM_SPLIT_TEST ? "test" : "train", dir);
  struct stat st;
  SGM_CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), SGM_ERR_IO,
            "fashion-mnist: %s is not a directory (install "
            "dataset-fashion-mnist or set [data] path to the directory of the "
            "IDX files)",
            dir);
  char name[64], images[1100], labels[1100];
  snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
  SGM_CHECK(find_file(dir, name, images, sizeof images), SGM_ERR_IO,
            "fashion-mnist: no %s[.gz] in %s", name, dir);
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
  SGM_CHECK(find_file(dir, name, labels, sizeof labels), SGM_ERR_IO,
            "fashion-mnist: no %s[.gz] in %s", name, dir);
  src->label_lo = 0;
  src->label_hi = 9;
  SGM_CALL(open_pair(src, images, labels, "fashion-mnist", thorough));
  SGM_CHECK(src->elem == SGM__ELEM_U8, SGM_ERR_INPUT,
            "%s: Fashion-MNIST images must be u8, but the IDX type is %s",
            images, sgm__elem_name(src->elem));
  return 0;
}

static int idx_src_rows(sgm__source_t *src, const int64_t *index, int64_t count,
                        double *y) {
  idx_source_t *s = src->impl;
  SGM_CALL(idx_read_records(&s->images, index, count, y, NULL));
  return 0;
}

static int idx_src_labels(sgm__source_t *src, const int64_t *index,
                          int64_t count, int32_t *labels) {
  idx_source_t *s = src->impl;
  SGM_CALL(idx_read_records(&s->labels, index, count, NULL, labels));
  return 0;
}

static void idx_src_close(sgm__source_t *src) {
  idx_source_t *s = src->impl;
  if (!s)
    return;
  idx_close(&s->images);
  idx_close(&s->labels);
  free(s);
  src->impl = NULL;
}

const struct sgm__source_ops sgm__idx_ops = {"idx", idx_src_open, idx_src_rows,
                                             idx_src_labels, idx_src_close};
const struct sgm__source_ops sgm__fashion_mnist_ops = {
    "fashion-mnist", fashion_open, idx_src_rows, idx_src_labels, idx_src_close};
