/*
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0): a header dict with
 * descr, fortran_order and shape, then the array in C order.  The first axis
 * numbers the examples; shape (N,) means N examples of one value.  Labels
 * come from a second .npy file of N integers.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"
#include "sgm/error.h"

#define NPY_MAX_RANK (1 + SGM_DATASET_MAX_AXES)
#define NPY_HEADER_MAX 65536
#define NPY_SUPPORTED "<f8 <f4 |u1 |i1 <i2 <i4 <i8 <u2 <u4 <u8"

typedef struct npy_file {
  char path[1024];
  FILE *fp;
  enum sgm__elem elem;
  int big_endian;
  char descr[32];
  int rank;
  int64_t dims[NPY_MAX_RANK];
  int64_t row_elems;
  int64_t data_offset;
} npy_file_t;

/* Maps a descr such as "<f8" or "|u1" to an element type. */
static int parse_descr(npy_file_t *f) {
  const char *s = f->descr;
  struct {
    const char *code;
    enum sgm__elem elem;
  } known[] = {{"f8", SGM__ELEM_F64}, {"f4", SGM__ELEM_F32},
               {"u1", SGM__ELEM_U8},  {"i1", SGM__ELEM_I8},
               {"i2", SGM__ELEM_I16}, {"i4", SGM__ELEM_I32},
               {"i8", SGM__ELEM_I64}, {"u2", SGM__ELEM_U16},
               {"u4", SGM__ELEM_U32}, {"u8", SGM__ELEM_U64}};
  if (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=') {
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      if (strcmp(s + 1, known[i].code) == 0) {
        f->elem = known[i].elem;
        f->big_endian = s[0] == '>' && sgm__elem_size(f->elem) > 1;
        return 1;
      }
  }
  return 0;
}

/* Finds 'key': in the header dict and returns the text after the colon. */
static const char *dict_value(const char *header, const char *key) {
  char quoted[32];
  for (int q = 0; q < 2; q++) {
    snprintf(quoted, sizeof quoted, q ? "\"%s\"" : "'%s'", key);
    const char *p = strstr(header, quoted);
    if (!p)
      continue;
    p += strlen(quoted);
    while (isspace((unsigned char)*p))
      p++;
    if (*p != ':')
      return NULL;
    p++;
    while (isspace((unsigned char)*p))
      p++;
    return p;
  }
  return NULL;
}

static int parse_header(npy_file_t *f, const char *h) {
  const char *p = dict_value(h, "descr");
  SGM_CHECK(p, SGM_ERR_INPUT, "%s: .npy header has no descr", f->path);
  SGM_CHECK(*p == '\'' || *p == '"', SGM_ERR_INPUT,
            "%s: unsupported dtype (a structured dtype); supported: %s",
            f->path, NPY_SUPPORTED);
  char quote = *p++;
  size_t len = 0;
  while (p[len] && p[len] != quote && len + 1 < sizeof f->descr)
    len++;
  memcpy(f->descr, p, len);
  f->descr[len] = '\0';
  SGM_CHECK(parse_descr(f), SGM_ERR_UNSUPPORTED,
            "%s: unsupported dtype '%s'; supported: %s", f->path, f->descr,
            NPY_SUPPORTED);

  p = dict_value(h, "shape");
  SGM_CHECK(p && *p == '(', SGM_ERR_INPUT, "%s: .npy header has no shape",
            f->path);
  p++;
  f->rank = 0;
  for (;;) {
    while (isspace((unsigned char)*p) || *p == ',')
      p++;
    if (*p == ')')
      break;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    SGM_CHECK(end != p && errno == 0 && v >= 0, SGM_ERR_INPUT,
              "%s: cannot read the shape in the .npy header", f->path);
    SGM_CHECK(f->rank < NPY_MAX_RANK, SGM_ERR_INPUT,
              "%s: arrays of more than %d dimensions are not supported",
              f->path, NPY_MAX_RANK);
    f->dims[f->rank++] = v;
    p = end;
  }
  SGM_CHECK(f->rank >= 1, SGM_ERR_INPUT,
            "%s: the array is a scalar; it must have the examples along its "
            "first axis",
            f->path);

  p = dict_value(h, "fortran_order");
  SGM_CHECK(p && (strncmp(p, "True", 4) == 0 || strncmp(p, "False", 5) == 0),
            SGM_ERR_INPUT, "%s: .npy header has no fortran_order", f->path);
  /* Fortran order only changes the layout when two axes are longer than 1. */
  int long_axes = 0;
  for (int a = 0; a < f->rank; a++)
    long_axes += f->dims[a] > 1;
  SGM_CHECK(strncmp(p, "True", 4) != 0 || long_axes < 2, SGM_ERR_UNSUPPORTED,
            "%s: the array is stored in Fortran order; save a C-ordered "
            "array (numpy.save(path, numpy.ascontiguousarray(a)))",
            f->path);
  return 0;
}

static int npy_open_file(npy_file_t *f, const char *path) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s", path);
  int64_t size = 0;
  SGM_CALL(sgm__file_size(path, "npy", &size));
  f->fp = fopen(path, "rb");
  SGM_CHECK(f->fp, SGM_ERR_IO, "npy: cannot open %s: %s", path,
            strerror(errno));
  unsigned char pre[12];
  size_t got = fread(pre, 1, 10, f->fp);
  SGM_CHECK(got == 10 && memcmp(pre, "\x93NUMPY", 6) == 0, SGM_ERR_INPUT,
            "%s: not a .npy file (bad magic)", path);
  int major = pre[6], minor = pre[7];
  int64_t hlen;
  if (major == 1) {
    hlen = pre[8] | pre[9] << 8;
    f->data_offset = 10 + hlen;
  } else {
    SGM_CHECK(major == 2 || major == 3, SGM_ERR_UNSUPPORTED,
              "%s: .npy format version %d.%d is not supported (1.0, 2.0, 3.0 "
              "are)",
              path, major, minor);
    SGM_CHECK(fread(pre + 10, 1, 2, f->fp) == 2, SGM_ERR_INPUT,
              "%s: .npy header ends early (truncated?)", path);
    hlen = (int64_t)((uint32_t)pre[8] | (uint32_t)pre[9] << 8 |
                     (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24);
    f->data_offset = 12 + hlen;
  }
  SGM_CHECK(hlen < NPY_HEADER_MAX, SGM_ERR_INPUT,
            "%s: .npy header of %" PRId64 " bytes is implausibly long", path,
            hlen);
  char *h = NULL;
  SGM_CALL(SGM_MALLOC(h, (size_t)hlen + 1));
  got = fread(h, 1, (size_t)hlen, f->fp);
  h[got] = '\0';
  int err = 0;
  SGM_CHECK_GOTO(got == (size_t)hlen, SGM_ERR_INPUT, done,
                 "%s: .npy header ends early (truncated?)", path);
  SGM_CALL_GOTO(parse_header(f, h), done);
done:
  free(h);
  if (err < 0)
    return err;

  SGM_CHECK(f->dims[0] > 0, SGM_ERR_INPUT, "%s: the array holds no examples",
            path);
  f->row_elems = 1;
  for (int a = 1; a < f->rank; a++) {
    /* Both factors are bounded first, so the product cannot overflow. */
    SGM_CHECK(f->dims[a] <= INT32_MAX / 8, SGM_ERR_INPUT,
              "%s: examples are too large", path);
    f->row_elems *= f->dims[a];
    SGM_CHECK(f->row_elems <= INT32_MAX / 8, SGM_ERR_INPUT,
              "%s: examples are too large", path);
  }
  SGM_CHECK(f->row_elems >= 1, SGM_ERR_INPUT, "%s: examples are empty", path);
  double want = (double)f->data_offset + (double)f->dims[0] *
                                             (double)f->row_elems *
                                             (double)sgm__elem_size(f->elem);
  SGM_CHECK(want < 4e18, SGM_ERR_INPUT, "%s: header claims %.3g bytes", path,
            want);
  int64_t expected = f->data_offset + f->dims[0] * f->row_elems *
                                          (int64_t)sgm__elem_size(f->elem);
  char shape[128] = "1";
  if (f->rank > 1)
    sgm__shape_string(f->rank - 1, f->dims + 1, shape, sizeof shape);
  SGM_CHECK(size == expected, SGM_ERR_INPUT,
            "%s: header says %" PRId64 " examples of %s %s (%" PRId64
            " bytes) but the file holds %" PRId64 " bytes (%s)",
            path, f->dims[0], shape, f->descr, expected, size,
            size < expected ? "truncated?" : "extra data at the end?");
  return 0;
}

typedef struct npy_source {
  npy_file_t data, labels;
} npy_source_t;

static int npy_open(sgm__source_t *src, const sgm_config_t *cfg, int thorough) {
  (void)thorough;
  const char *path = cfg->data.path;
  SGM_CHECK(path && path[0], SGM_ERR_CONFIG,
            "[data] source = npy needs path (the .npy file)");
  npy_source_t *s = NULL;
  SGM_CALL(SGM_CALLOC(s, 1));
  src->impl = s;
  snprintf(src->origin, sizeof src->origin, "%s", path);
  snprintf(src->where, sizeof src->where, "(%s)", path);
  SGM_CALL(npy_open_file(&s->data, path));
  npy_file_t *f = &s->data;
  src->n = f->dims[0];
  src->d = (int)f->row_elems;
  src->elem = f->elem;
  if (f->rank == 1) {
    src->naxes = 1;
    src->shape[0] = 1;
  } else {
    src->naxes = f->rank - 1;
    for (int a = 0; a < src->naxes; a++)
      src->shape[a] = f->dims[a + 1];
  }
  src->label_lo = 1;
  src->label_hi = 0;
  const char *labels = cfg->data.labels;
  if (!labels || !labels[0])
    return 0;
  npy_file_t *l = &s->labels;
  SGM_CALL(npy_open_file(l, labels));
  SGM_CHECK(sgm__elem_is_integer(l->elem), SGM_ERR_INPUT,
            "%s: labels must be integers, but the dtype is %s", labels,
            l->descr);
  SGM_CHECK(l->row_elems == 1, SGM_ERR_INPUT,
            "%s: labels must have shape (N,) (one label per example)", labels);
  SGM_CHECK(l->dims[0] == src->n, SGM_ERR_INPUT,
            "[data] labels: %s holds %" PRId64 " labels but %s holds %" PRId64
            " examples",
            labels, l->dims[0], path, src->n);
  src->has_labels = 1;
  snprintf(src->labels_origin, sizeof src->labels_origin, "%s", labels);
  return 0;
}

static int npy_rows(sgm__source_t *src, const int64_t *index, int64_t count,
                    double *y) {
  npy_file_t *f = &((npy_source_t *)src->impl)->data;
  struct sgm__records r = {sgm__plain_read_at, f->fp,   f->path,
                           f->data_offset,     f->elem, f->big_endian,
                           f->row_elems};
  return sgm__read_records(&r, index, count, y, NULL);
}

static int npy_labels(sgm__source_t *src, const int64_t *index, int64_t count,
                      int32_t *labels) {
  npy_file_t *f = &((npy_source_t *)src->impl)->labels;
  struct sgm__records r = {
      sgm__plain_read_at, f->fp, f->path, f->data_offset, f->elem,
      f->big_endian,      1};
  return sgm__read_records(&r, index, count, NULL, labels);
}

static void npy_close(sgm__source_t *src) {
  npy_source_t *s = src->impl;
  if (!s)
    return;
  if (s->data.fp)
    fclose(s->data.fp);
  if (s->labels.fp)
    fclose(s->labels.fp);
  free(s);
  src->impl = NULL;
}

const struct sgm__source_ops sgm__npy_ops = {"npy", npy_open, npy_rows,
                                             npy_labels, npy_close};
