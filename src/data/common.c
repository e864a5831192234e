/* Helpers shared by the data readers: element conversion and plain-file rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_impl.h"
#include "sgm/error.h"

size_t sgm__elem_size(enum sgm__elem e) {
  switch (e) {
  case SGM__ELEM_U8:
  case SGM__ELEM_I8:
    return 1;
  case SGM__ELEM_U16:
  case SGM__ELEM_I16:
    return 2;
  case SGM__ELEM_U32:
  case SGM__ELEM_I32:
  case SGM__ELEM_F32:
    return 4;
  default:
    return 8;
  }
}

const char *sgm__elem_name(enum sgm__elem e) {
  static const char *const names[] = {"u8",  "i8",  "u16", "i16", "u32",
                                      "i32", "u64", "i64", "f32", "f64"};
  return names[e];
}

int sgm__elem_is_integer(enum sgm__elem e) {
  return e != SGM__ELEM_F32 && e != SGM__ELEM_F64;
}

static uint64_t load_bits(const unsigned char *p, size_t size, int big) {
  uint64_t v = 0;
  if (big)
    for (size_t i = 0; i < size; i++)
      v = v << 8 | p[i];
  else
    for (size_t i = size; i-- > 0;)
      v = v << 8 | p[i];
  return v;
}

/* The stored value as a double; integers also exactly in *ival, with *fits
 * cleared for floats and for u64 values above INT64_MAX. */
static double load_value(const unsigned char *p, enum sgm__elem e, int big,
                         int64_t *ival, int *fits) {
  uint64_t v = load_bits(p, sgm__elem_size(e), big);
  *fits = 1;
  switch (e) {
  case SGM__ELEM_U8:
  case SGM__ELEM_U16:
  case SGM__ELEM_U32:
    *ival = (int64_t)v;
    return (double)v;
  case SGM__ELEM_U64:
    *fits = v <= (uint64_t)INT64_MAX;
    *ival = (int64_t)(v & (uint64_t)INT64_MAX);
    return (double)v;
  case SGM__ELEM_I8:
    *ival = (int8_t)(uint8_t)v;
    return (double)*ival;
  case SGM__ELEM_I16:
    *ival = (int16_t)(uint16_t)v;
    return (double)*ival;
  case SGM__ELEM_I32:
    *ival = (int32_t)(uint32_t)v;
    return (double)*ival;
  case SGM__ELEM_I64:
    *ival = (int64_t)v;
    return (double)*ival;
  case SGM__ELEM_F32: {
    uint32_t w = (uint32_t)v;
    float f;
    memcpy(&f, &w, sizeof f);
    *ival = 0;
    *fits = 0;
    return (double)f;
  }
  default: {
    double x;
    memcpy(&x, &v, sizeof x);
    *ival = 0;
    *fits = 0;
    return x;
  }
  }
}

void sgm__elem_to_double(const unsigned char *raw, enum sgm__elem e,
                         int big_endian, size_t count, double *out) {
  size_t size = sgm__elem_size(e);
  if (e == SGM__ELEM_U8) {
    for (size_t i = 0; i < count; i++)
      out[i] = (double)raw[i];
    return;
  }
  for (size_t i = 0; i < count; i++) {
    int64_t iv;
    int fits;
    out[i] = load_value(raw + i * size, e, big_endian, &iv, &fits);
  }
}

int64_t sgm__elem_to_labels(const unsigned char *raw, enum sgm__elem e,
                            int big_endian, size_t count, int32_t *out) {
  size_t size = sgm__elem_size(e);
  for (size_t i = 0; i < count; i++) {
    int64_t iv;
    int fits;
    load_value(raw + i * size, e, big_endian, &iv, &fits);
    if (!fits || iv < INT32_MIN || iv > INT32_MAX)
      return (int64_t)i;
    out[i] = (int32_t)iv;
  }
  return -1;
}

int64_t sgm__run_length(const int64_t *index, int64_t count, int64_t i) {
  int64_t len = 1;
  while (i + len < count && index[i + len] == index[i] + len)
    len++;
  return len;
}

const char *sgm__shape_string(int naxes, const int64_t *shape, char *buf,
                              size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (int a = 0; a < naxes && used < len; a++)
    used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, a ? "x" : "",
                             shape[a]);
  return buf;
}

int sgm__file_size(const char *path, const char *what, int64_t *size) {
  struct stat st;
  SGM_CHECK(stat(path, &st) == 0, SGM_ERR_IO, "%s: cannot open %s: %s", what,
            path, strerror(errno));
  SGM_CHECK(S_ISREG(st.st_mode), SGM_ERR_IO, "%s: %s is not a regular file",
            what, path);
  *size = (int64_t)st.st_size;
  return 0;
}

/* Reads bytes at offset of a plain file; a short read is reported as a
 * truncated file. */
int sgm__plain_read_at(void *file, const char *path, int64_t offset, void *buf,
                       size_t bytes, int64_t example, size_t record_bytes) {
  FILE *f = file;
  SGM_CHECK(fseeko(f, (off_t)offset, SEEK_SET) == 0, SGM_ERR_IO,
            "%s: cannot seek to example %" PRId64 ": %s", path, example,
            strerror(errno));
  size_t got = fread(buf, 1, bytes, f);
  SGM_CHECK(got == bytes, SGM_ERR_INPUT,
            "%s: data end early, in example %" PRId64 " (truncated?)", path,
            example + (int64_t)(got / record_bytes));
  return 0;
}

int sgm__read_records(const struct sgm__records *r, const int64_t *index,
                      int64_t count, double *rows, int32_t *labels) {
  size_t record_bytes = (size_t)r->record_elems * sgm__elem_size(r->elem);
  int64_t chunk = (int64_t)(SGM__CHUNK_BYTES / record_bytes);
  if (chunk < 1)
    chunk = 1;
  if (chunk > count)
    chunk = count;
  unsigned char *buf = NULL;
  SGM_CALL(SGM_MALLOC(buf, (size_t)chunk * record_bytes));
  int err = 0;
  /* Consecutive examples are read together, up to a chunk at a time. */
  for (int64_t i = 0; i < count;) {
    int64_t len = sgm__run_length(index, count, i);
    if (len > chunk)
      len = chunk;
    SGM_CALL_GOTO(r->read_at(r->file, r->path,
                             r->data_offset + index[i] * (int64_t)record_bytes,
                             buf, (size_t)len * record_bytes, index[i],
                             record_bytes),
                  done);
    size_t values = (size_t)(len * r->record_elems);
    if (rows) {
      sgm__elem_to_double(buf, r->elem, r->big_endian, values,
                          rows + i * r->record_elems);
    } else {
      int64_t bad =
          sgm__elem_to_labels(buf, r->elem, r->big_endian, values, labels + i);
      SGM_CHECK_GOTO(bad < 0, SGM_ERR_INPUT, done,
                     "%s: label of example %" PRId64 " does not fit in 32 bits",
                     r->path, index[i] + bad);
    }
    i += len;
  }
done:
  free(buf);
  return err;
}
