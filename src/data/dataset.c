/*
 * Training sets: choosing the source, the class filter and seeded subset
 * (probe), and the sharded, validated, scaled load.  The sources themselves
 * (idx.c, cifar10.c, hdf5.c, npy.c, synthetic.c) only read rows and labels.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"
#include "sgm/dataset.h"
#include "sgm/error.h"
#include "sgm/grid.h"
#include "sgm/rng.h"

static const struct sgm__source_ops *source_ops(enum sgm_data_source s) {
  switch (s) {
  case SGM_DATA_FASHION_MNIST:
    return &sgm__fashion_mnist_ops;
  case SGM_DATA_IDX:
    return &sgm__idx_ops;
  case SGM_DATA_CIFAR10:
    return &sgm__cifar10_ops;
  case SGM_DATA_HDF5:
    return &sgm__hdf5_ops;
  case SGM_DATA_NPY:
    return &sgm__npy_ops;
  case SGM_DATA_GMM:
    return &sgm__gmm_ops;
  case SGM_DATA_SPHERE:
    return &sgm__sphere_ops;
  case SGM_DATA_SUBSPACE:
    return &sgm__subspace_ops;
  default:
    return NULL;
  }
}

static void source_close(sgm__source_t *src) {
  if (src->ops)
    src->ops->close(src);
  src->ops = NULL;
}

static int source_open(const sgm_config_t *cfg, int thorough,
                       sgm__source_t *src) {
  memset(src, 0, sizeof *src);
  const struct sgm__source_ops *ops = source_ops(cfg->data.source);
  SGM_CHECK(ops, SGM_ERR_CONFIG, "[data] source: unknown source (%d)",
            (int)cfg->data.source);
  src->ops = ops;
  int err = ops->open(src, cfg, thorough);
  if (err < 0) {
    source_close(src);
    return sgm_error_trace(err, __FILE__, __LINE__, __func__);
  }
  return 0;
}

/* Labels outside the range a source declares (Fashion-MNIST: 0..9). */
static int check_labels(const sgm__source_t *src, const int64_t *index,
                        int64_t count, const int32_t *labels) {
  if (src->label_lo > src->label_hi)
    return 0;
  for (int64_t i = 0; i < count; i++)
    SGM_CHECK(labels[i] >= src->label_lo && labels[i] <= src->label_hi,
              SGM_ERR_INPUT,
              "%s: example %" PRId64 " has label %d (%s labels "
              "are %d..%d)",
              src->labels_origin, index[i], labels[i], src->ops->name,
              src->label_lo, src->label_hi);
  return 0;
}

static int64_t *iota(int64_t n) {
  int64_t *v = NULL;
  if (SGM_MALLOC(v, (size_t)n) < 0)
    return NULL;
  for (int64_t i = 0; i < n; i++)
    v[i] = i;
  return v;
}

/* Keeps the examples whose label is listed in [data] classes: *index gets
 * their source indices (ascending), *m their number. */
static int filter_classes(const sgm_config_t *cfg, sgm__source_t *src,
                          int64_t **index, int64_t *m) {
  const struct sgm_int_list *cl = &cfg->data.classes;
  enum sgm_data_source s = cfg->data.source;
  SGM_CHECK(src->has_labels, SGM_ERR_CONFIG,
            "[data] classes needs labels, but source = %s has none%s",
            src->ops->name,
            s == SGM_DATA_IDX || s == SGM_DATA_NPY || s == SGM_DATA_HDF5
                ? " (set [data] labels)"
                : "");
  int err = 0;
  int32_t *labels = NULL;
  int64_t *idx = iota(src->n);
  SGM_CHECK(idx, SGM_ERR_NOMEM, "out of memory listing %" PRId64 " examples",
            src->n);
  SGM_CALL_GOTO(SGM_MALLOC(labels, (size_t)src->n), done);
  SGM_CALL_GOTO(src->ops->read_labels(src, idx, src->n, labels), done);
  SGM_CALL_GOTO(check_labels(src, idx, src->n, labels), done);
  int lo = labels[0], hi = labels[0];
  for (int64_t i = 1; i < src->n; i++) {
    lo = labels[i] < lo ? labels[i] : lo;
    hi = labels[i] > hi ? labels[i] : hi;
  }
  if (src->label_lo <= src->label_hi) {
    lo = src->label_lo;
    hi = src->label_hi;
  }
  for (int c = 0; c < cl->count; c++) {
    int64_t want = cl->values[c], seen = 0;
    SGM_CHECK_GOTO(want >= lo && want <= hi, SGM_ERR_CONFIG, done,
                   "[data] classes: unknown class %" PRId64
                   " (%s labels are %d..%d)",
                   want, src->ops->name, lo, hi);
    for (int64_t i = 0; i < src->n && !seen; i++)
      seen = labels[i] == want;
    SGM_CHECK_GOTO(seen, SGM_ERR_CONFIG, done,
                   "[data] classes: unknown class %" PRId64
                   " (no example of %s has it)",
                   want, src->labels_origin);
  }
  int64_t kept = 0;
  for (int64_t i = 0; i < src->n; i++) {
    int keep = 0;
    for (int c = 0; c < cl->count && !keep; c++)
      keep = labels[i] == cl->values[c];
    if (keep)
      idx[kept++] = i;
  }
  *index = idx;
  *m = kept;
  idx = NULL;
done:
  free(idx);
  free(labels);
  return err;
}

static int cmp_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The seeded subset: a partial Fisher-Yates shuffle picks n of the m
 * candidates, which are then put back in ascending order. */
static int take_subset(uint64_t seed, int64_t n, int64_t **index, int64_t m) {
  if (!*index) {
    *index = iota(m);
    SGM_CHECK(*index, SGM_ERR_NOMEM,
              "out of memory listing %" PRId64 " examples", m);
  }
  int64_t *v = *index;
  sgm_rng_t r;
  sgm_rng_init(&r, seed, SGM_RNG_DATA_SUBSET, 0, 0);
  for (int64_t i = 0; i < n; i++) {
    int64_t j = i + (int64_t)sgm_rng_below(&r, (uint64_t)(m - i));
    int64_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  qsort(v, (size_t)n, sizeof *v, cmp_int64);
  int64_t *shrunk = realloc(v, (size_t)n * sizeof *v);
  if (shrunk)
    *index = shrunk;
  return 0;
}

/* Rank 0's part of the probe. */
static int probe_local(const sgm_config_t *cfg, sgm_dataset_info_t *info) {
  sgm__source_t src;
  SGM_CALL(source_open(cfg, 1, &src));
  int err = 0;
  int64_t *index = NULL, m = src.n, n = cfg->data.n;
  const char *after = "in the source";
  info->n_source = src.n;
  info->d = src.d;
  info->naxes = src.naxes;
  memcpy(info->shape, src.shape, sizeof info->shape);
  info->has_labels = src.has_labels;
  if (cfg->data.classes.count > 0) {
    SGM_CALL_GOTO(filter_classes(cfg, &src, &index, &m), fail);
    after = "after the class filter";
  }
  SGM_CHECK_GOTO(n >= 0, SGM_ERR_CONFIG, fail,
                 "[data] n = %" PRId64 " must be >= 0 (0 = all)", n);
  /* For synthetic sources n is the number of examples drawn, not a subset. */
  if (!sgm_config_source_is_synthetic(cfg->data.source) && n > 0) {
    SGM_CHECK_GOTO(n <= m, SGM_ERR_CONFIG, fail,
                   "[data] n = %" PRId64 ", but only %" PRId64
                   " examples remain %s",
                   n, m, after);
    if (n < m) {
      SGM_CALL_GOTO(take_subset(cfg->data.seed, n, &index, m), fail);
      m = n;
    }
  }
  SGM_CHECK_GOTO(m > 0, SGM_ERR_CONFIG, fail, "[data] no examples remain %s",
                 after);
  info->n = m;
  info->index = index;
  source_close(&src);
  return 0;
fail:
  free(index);
  source_close(&src);
  return err;
}

int sgm_dataset_probe(MPI_Comm comm, const sgm_config_t *cfg,
                      sgm_dataset_info_t *info) {
  memset(info, 0, sizeof *info);
  int rank, err = 0;
  SGM_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0)
    err = probe_local(cfg, info);
  err = sgm_error_agree(comm, err);
  if (err < 0) {
    sgm_dataset_info_free(info);
    return err;
  }
  int64_t hdr[5 + SGM_DATASET_MAX_AXES] = {
      info->n_source, info->n, info->d, info->naxes,
      info->has_labels + 2 * (info->index != NULL)};
  memcpy(hdr + 5, info->shape, sizeof info->shape);
  SGM_MPI_GOTO(MPI_Bcast(hdr, 5 + SGM_DATASET_MAX_AXES, MPI_INT64_T, 0, comm),
               fail);
  info->n_source = hdr[0];
  info->n = hdr[1];
  info->d = (int)hdr[2];
  info->naxes = (int)hdr[3];
  info->has_labels = (int)(hdr[4] & 1);
  memcpy(info->shape, hdr + 5, sizeof info->shape);
  if (hdr[4] & 2) {
    if (rank != 0)
      err = SGM_MALLOC(info->index, (size_t)info->n);
    SGM_CALL_GOTO(sgm_error_agree(comm, err), fail);
    const int64_t chunk = (int64_t)1 << 26;
    for (int64_t i = 0; i < info->n; i += chunk) {
      int len = (int)(info->n - i < chunk ? info->n - i : chunk);
      SGM_MPI_GOTO(MPI_Bcast(info->index + i, len, MPI_INT64_T, 0, comm), fail);
    }
  }
  return 0;
fail:
  sgm_dataset_info_free(info);
  return err;
}

void sgm_dataset_info_free(sgm_dataset_info_t *info) {
  if (!info)
    return;
  free(info->index);
  memset(info, 0, sizeof *info);
}

void sgm_dataset_destroy(sgm_dataset_t **data) {
  if (!data || !*data)
    return;
  sgm_dataset_t *ds = *data;
  free(ds->y);
  free(ds->norm2);
  free(ds->source_index);
  free(ds->labels);
  sgm_gmm_destroy(&ds->gmm);
  free(ds->description);
  free(ds);
  *data = NULL;
}

/* Every rank must pass the same nshards; *covered tells whether the ranks
 * of comm together hold every shard (needed to find the data's range). */
static int check_split(MPI_Comm comm, int shard, int nshards, int *covered) {
  int size, err = 0;
  SGM_MPI(MPI_Comm_size(comm, &size));
  int mine[2] = {shard, nshards}, *all = NULL;
  char *held = NULL;
  err = SGM_MALLOC(all, 2 * (size_t)size);
  SGM_CALL(sgm_error_agree(comm, err));
  SGM_MPI_GOTO(MPI_Allgather(mine, 2, MPI_INT, all, 2, MPI_INT, comm), done);
  for (int r = 1; r < size; r++)
    SGM_CHECK_GOTO(all[2 * r + 1] == all[1], SGM_ERR_USAGE, done,
                   "sgm_dataset_load: rank 0 asks for %d shards but rank %d "
                   "for %d",
                   all[1], r, all[2 * r + 1]);
  SGM_CALL_GOTO(SGM_CALLOC(held, (size_t)nshards), done);
  for (int r = 0; r < size; r++)
    held[all[2 * r]] = 1;
  *covered = 1;
  for (int s = 0; s < nshards; s++)
    *covered &= held[s];
done:
  free(all);
  free(held);
  return err;
}

/* Reads, validates and labels this rank's rows (no scaling yet). */
static int load_local(const sgm_config_t *cfg, const sgm_dataset_info_t *info,
                      sgm__source_t *src, sgm_dataset_t *ds) {
  SGM_CALL(source_open(cfg, 0, src));
  SGM_CHECK(src->n == info->n_source && src->d == info->d &&
                src->has_labels == info->has_labels,
            SGM_ERR_INPUT,
            "%s: changed since it was probed (%" PRId64 " examples of %d "
            "values then, %" PRId64 " of %d now)",
            src->origin, info->n_source, info->d, src->n, src->d);
  SGM_CHECK(info->index || info->n == info->n_source, SGM_ERR_INTERNAL,
            "sgm_dataset_load: info holds %" PRId64 " of %" PRId64
            " examples but no index",
            info->n, info->n_source);
  ds->n = info->n;
  ds->d = info->d;
  ds->naxes = info->naxes;
  memcpy(ds->shape, info->shape, sizeof ds->shape);
  sgm_grid_block(info->n, ds->nshards, ds->shard, &ds->offset, &ds->n_local);
  int64_t nl = ds->n_local;
  size_t d = (size_t)ds->d;
  SGM_CALL(SGM_MALLOC(ds->source_index, (size_t)nl));
  for (int64_t i = 0; i < nl; i++)
    ds->source_index[i] =
        info->index ? info->index[ds->offset + i] : ds->offset + i;
  int err = SGM_MALLOC_ALIGNED(ds->y, (size_t)nl * d);
  if (err < 0)
    return sgm_error_prefix(err, "%s: %" PRId64 " examples of %d values",
                            src->origin, nl, ds->d);
  SGM_CALL(SGM_MALLOC(ds->norm2, (size_t)nl));
  if (nl > 0)
    SGM_CALL(src->ops->read_rows(src, ds->source_index, nl, ds->y));
  if (info->has_labels) {
    /* Never NULL when the set has labels, even on an empty shard, so that
     * every rank sees the same has-labels answer. */
    SGM_CALL(SGM_MALLOC(ds->labels, (size_t)(nl > 0 ? nl : 1)));
    if (nl > 0) {
      SGM_CALL(src->ops->read_labels(src, ds->source_index, nl, ds->labels));
      SGM_CALL(check_labels(src, ds->source_index, nl, ds->labels));
    }
  }
  for (int64_t i = 0; i < nl; i++)
    for (size_t j = 0; j < d; j++) {
      double v = ds->y[(size_t)i * d + j];
      SGM_CHECK(isfinite(v), SGM_ERR_INPUT,
                "%s: example %" PRId64 " contains %s (value %zu)", src->origin,
                ds->source_index[i],
                isnan(v) ? "NaN" : (v > 0 ? "Inf" : "-Inf"), j);
    }
  if (cfg->data.source == SGM_DATA_GMM)
    SGM_CALL(sgm_gmm_from_config(cfg, &ds->gmm));
  return 0;
}

/* Maps [lo, hi] to [0, 1] or [-1, 1]: lo and hi are fixed for 8-bit data,
 * else the range of the whole loaded set (a collective reduction). */
static int apply_scale(MPI_Comm comm, const sgm_config_t *cfg,
                       const sgm__source_t *src, int covered,
                       sgm_dataset_t *ds) {
  ds->scale_lo = ds->scale_hi = NAN;
  enum sgm_scale scale = cfg->data.scale;
  if (scale == SGM_SCALE_NONE)
    return 0;
  size_t count = (size_t)ds->n_local * (size_t)ds->d;
  double lo, hi;
  if (src->elem == SGM__ELEM_U8) {
    lo = 0;
    hi = 255;
  } else if (src->elem == SGM__ELEM_I8) {
    lo = -128;
    hi = 127;
  } else {
    SGM_CHECK(covered, SGM_ERR_USAGE,
              "[data] scale = %s needs the range of the whole data set, but "
              "the ranks loading it do not hold every shard",
              sgm_config_scale_name(scale));
    double m[2] = {INFINITY, INFINITY}; /* min, -max */
    for (size_t i = 0; i < count; i++) {
      m[0] = ds->y[i] < m[0] ? ds->y[i] : m[0];
      m[1] = -ds->y[i] < m[1] ? -ds->y[i] : m[1];
    }
    SGM_MPI(MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_DOUBLE, MPI_MIN, comm));
    lo = m[0];
    hi = -m[1];
  }
  SGM_CHECK(hi > lo, SGM_ERR_INPUT,
            "%s: every value equals %g, so scale = %s has no range to map "
            "(use scale = none)",
            src->origin, lo, sgm_config_scale_name(scale));
  SGM_CHECK(isfinite(hi - lo), SGM_ERR_INPUT,
            "%s: the values span [%g, %g], too wide for scale = %s to map "
            "in double precision",
            src->origin, lo, hi, sgm_config_scale_name(scale));
  ds->scale_lo = lo;
  ds->scale_hi = hi;
  double width = hi - lo;
  if (scale == SGM_SCALE_UNIT)
    for (size_t i = 0; i < count; i++)
      ds->y[i] = (ds->y[i] - lo) / width;
  else
    for (size_t i = 0; i < count; i++)
      ds->y[i] = 2 * (ds->y[i] - lo) / width - 1;
  return 0;
}

/* "fashion-mnist train (DIR): 1000 of 60000 examples, 28x28, classes 0,3,
 * scale minus1_1" */
static int describe(const sgm_config_t *cfg, const sgm__source_t *src,
                    const sgm_dataset_info_t *info, sgm_dataset_t *ds) {
  char buf[4096], shape[128];
  size_t len = sizeof buf, used = 0;
  sgm__appendf(buf, len, &used, "%s %s: ", src->ops->name, src->where);
  if (info->n == info->n_source)
    sgm__appendf(buf, len, &used, "%" PRId64 " examples", info->n);
  else
    sgm__appendf(buf, len, &used, "%" PRId64 " of %" PRId64 " examples",
                 info->n, info->n_source);
  if (info->naxes == 1)
    sgm__appendf(buf, len, &used, ", dimension %d", info->d);
  else
    sgm__appendf(
        buf, len, &used, ", %s",
        sgm__shape_string(info->naxes, info->shape, shape, sizeof shape));
  for (int c = 0; c < cfg->data.classes.count; c++)
    sgm__appendf(buf, len, &used, "%s%" PRId64, c ? "," : ", classes ",
                 cfg->data.classes.values[c]);
  sgm__appendf(buf, len, &used, ", scale %s",
               sgm_config_scale_name(cfg->data.scale));
  if (used >= len)
    memcpy(buf + len - 4, "...", 4);
  SGM_CALL(SGM_MALLOC(ds->description, strlen(buf) + 1));
  memcpy(ds->description, buf, strlen(buf) + 1);
  return 0;
}

int sgm_dataset_load(MPI_Comm comm, const sgm_config_t *cfg,
                     const sgm_dataset_info_t *info, int shard, int nshards,
                     sgm_dataset_t **out) {
  *out = NULL;
  int err = 0, covered = 0;
  if (nshards < 1 || shard < 0 || shard >= nshards)
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "sgm_dataset_load: shard %d of %d does not exist",
                        shard, nshards);
  else if (info->n < 1)
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "sgm_dataset_load: the probed data set is empty");
  SGM_CALL(sgm_error_agree(comm, err));
  SGM_CALL(check_split(comm, shard, nshards, &covered));

  sgm__source_t src = {0};
  sgm_dataset_t *ds = NULL;
  err = SGM_CALLOC(ds, 1);
  if (ds) {
    ds->shard = shard;
    ds->nshards = nshards;
    err = load_local(cfg, info, &src, ds);
  }
  SGM_CALL_GOTO(sgm_error_agree(comm, err), fail);
  err = apply_scale(comm, cfg, &src, covered, ds);
  for (int64_t i = 0; err == 0 && i < ds->n_local; i++) {
    const double *y = ds->y + (size_t)i * (size_t)ds->d;
    double s = 0;
    for (int j = 0; j < ds->d; j++)
      s += y[j] * y[j];
    ds->norm2[i] = s;
    /* Squared distances to an example this large overflow. */
    if (!isfinite(s))
      err = sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                          "%s: example %" PRId64 " is too large: its squared "
                          "norm overflows double precision (rescale the "
                          "data, e.g. [data] scale = unit)",
                          src.origin, ds->source_index[i]);
  }
  if (err == 0)
    err = describe(cfg, &src, info, ds);
  SGM_CALL_GOTO(sgm_error_agree(comm, err), fail);
  source_close(&src);
  *out = ds;
  return 0;
fail:
  source_close(&src);
  sgm_dataset_destroy(&ds);
  return err;
}
