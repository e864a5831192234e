/*
 * Private to the dataset module: the ops table every source implements, the
 * element types of stored data and the helpers the readers share.
 *
 * A source is opened on whichever rank needs it, reports its shape, and reads
 * rows (and labels) for an ascending list of source indices.  dataset.c does
 * everything else: class filter, subset, sharding, validation, scaling.
 */
#ifndef SGM_DATA_IMPL_H
#define SGM_DATA_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sgm/config.h"
#include "sgm/dataset.h"

/* Element types of stored arrays. */
enum sgm__elem {
  SGM__ELEM_U8,
  SGM__ELEM_I8,
  SGM__ELEM_U16,
  SGM__ELEM_I16,
  SGM__ELEM_U32,
  SGM__ELEM_I32,
  SGM__ELEM_U64,
  SGM__ELEM_I64,
  SGM__ELEM_F32,
  SGM__ELEM_F64
};

size_t sgm__elem_size(enum sgm__elem e);
/* "u8", "f64", ... */
const char *sgm__elem_name(enum sgm__elem e);
int sgm__elem_is_integer(enum sgm__elem e);
/* Converts count stored elements (big- or little-endian) to doubles. */
void sgm__elem_to_double(const unsigned char *raw, enum sgm__elem e,
                         int big_endian, size_t count, double *out);
/* Converts count stored integers to int32 labels; returns the position of
 * the first value outside the int32 range, or -1 when all fit. */
int64_t sgm__elem_to_labels(const unsigned char *raw, enum sgm__elem e,
                            int big_endian, size_t count, int32_t *out);

/* Length of the run of consecutive indices starting at index[i]. */
int64_t sgm__run_length(const int64_t *index, int64_t count, int64_t i);

/* "28x28" (or "1" for scalar examples) into buf. */
const char *sgm__shape_string(int naxes, const int64_t *shape, char *buf,
                              size_t len);

/* Size of a regular file in bytes; an error naming path when it cannot be
 * opened or is not a regular file. */
int sgm__file_size(const char *path, const char *what, int64_t *size);

/* Reads bytes at a byte offset of a file; example (the first one the bytes
 * belong to) and record_bytes only serve the messages. */
typedef int (*sgm__read_at_fn)(void *file, const char *path, int64_t offset,
                               void *buf, size_t bytes, int64_t example,
                               size_t record_bytes);

/* A file of fixed-size records (examples or labels) after a header. */
struct sgm__records {
  sgm__read_at_fn read_at;
  void *file;
  const char *path;
  int64_t data_offset;
  enum sgm__elem elem;
  int big_endian;
  int64_t record_elems; /* stored elements per record */
};

/* Reads the records at the ascending indices index[0..count) into rows
 * (count x record_elems doubles) or, when rows is NULL, into labels. */
int sgm__read_records(const struct sgm__records *r, const int64_t *index,
                      int64_t count, double *rows, int32_t *labels);

/* sgm__read_at_fn for a plain FILE *. */
int sgm__plain_read_at(void *file, const char *path, int64_t offset, void *buf,
                       size_t bytes, int64_t example, size_t record_bytes);

/* Bytes read at a time by the streaming readers. */
#define SGM__CHUNK_BYTES ((size_t)4 << 20)

typedef struct sgm__source sgm__source_t;

struct sgm__source_ops {
  const char *name; /* the [data] source value */
  /* Reads headers and validates them; fills the shape fields of src.
   * thorough = 1 on the probing rank (full checks such as a gzip trailer),
   * 0 when every rank opens the source to read its shard. */
  int (*open)(sgm__source_t *src, const sgm_config_t *cfg, int thorough);
  /* Rows at the ascending source indices index[0..count), as doubles. */
  int (*read_rows)(sgm__source_t *src, const int64_t *index, int64_t count,
                   double *y);
  /* Labels of those examples (only when has_labels). */
  int (*read_labels)(sgm__source_t *src, const int64_t *index, int64_t count,
                     int32_t *labels);
  /* Frees impl; must accept a source whose open failed half-way. */
  void (*close)(sgm__source_t *src);
};

struct sgm__source {
  const struct sgm__source_ops *ops;
  void *impl;
  int64_t n; /* examples in the source */
  int d;
  int naxes;
  int64_t shape[SGM_DATASET_MAX_AXES];
  int has_labels;
  /* Declared label range (label_lo <= label_hi), or label_lo > label_hi when
   * only the data say which labels exist. */
  int label_lo, label_hi;
  enum sgm__elem elem; /* stored element type (fixes the scale range) */
  char origin[1024];   /* what the rows come from, for messages */
  char labels_origin[1024];
  char where[1024]; /* what the description shows in parentheses */
};

extern const struct sgm__source_ops sgm__fashion_mnist_ops;
extern const struct sgm__source_ops sgm__idx_ops;
extern const struct sgm__source_ops sgm__cifar10_ops;
extern const struct sgm__source_ops sgm__hdf5_ops;
extern const struct sgm__source_ops sgm__npy_ops;
extern const struct sgm__source_ops sgm__gmm_ops;
extern const struct sgm__source_ops sgm__sphere_ops;
extern const struct sgm__source_ops sgm__subspace_ops;

#endif /* SGM_DATA_IMPL_H */
