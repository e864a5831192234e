#include "data_testutil.h"

#include <string.h>
#include <unistd.h>
#include <zlib.h>

sgm_config_t *tcfg_new(enum sgm_data_source source) {
  sgm_config_t *cfg = calloc(1, sizeof *cfg);
  cfg->data.source = source;
  cfg->data.scale = SGM_SCALE_NONE;
  cfg->data.split = SGM_SPLIT_TRAIN;
  cfg->data.radius = 1.0;
  return cfg;
}

void tcfg_free(sgm_config_t **cfg) {
  if (!*cfg)
    return;
  sgm_config_t *c = *cfg;
  free(c->data.path);
  free(c->data.dataset);
  free(c->data.labels);
  free(c->data.classes.values);
  free(c->data.means.values);
  free(c->data.variances.values);
  free(c->data.weights.values);
  free(c);
  *cfg = NULL;
}

void tcfg_str(char **field, const char *value) {
  free(*field);
  *field = value ? strdup(value) : NULL;
}

void tcfg_classes(sgm_config_t *cfg, int count, const int64_t *values) {
  free(cfg->data.classes.values);
  cfg->data.classes.count = count;
  cfg->data.classes.values = malloc((size_t)(count ? count : 1) * 8);
  memcpy(cfg->data.classes.values, values, (size_t)count * 8);
}

void tcfg_reals(struct sgm_real_list *list, int count, const double *values) {
  free(list->values);
  list->count = count;
  list->values = malloc((size_t)(count ? count : 1) * 8);
  memcpy(list->values, values, (size_t)count * 8);
}

void tcfg_means(sgm_config_t *cfg, int k, int dim, const double *values) {
  free(cfg->data.means.values);
  cfg->data.means.count = k;
  cfg->data.means.dim = dim;
  cfg->data.means.values = malloc((size_t)(k * dim > 0 ? k * dim : 1) * 8);
  memcpy(cfg->data.means.values, values, (size_t)(k * dim) * 8);
}

const char *tpath(const char *dir, const char *name) {
  static char bufs[8][4096];
  static int next = 0;
  char *b = bufs[next++ % 8];
  snprintf(b, 4096, "%s/%s", dir, name);
  return b;
}

void write_bytes(const char *path, const void *data, size_t len, int gz) {
  if (gz) {
    gzFile f = gzopen(path, "wb");
    if (!f || (len && gzwrite(f, data, (unsigned)len) != (int)len)) {
      SGM_TEST_FAIL("cannot write %s", path);
    }
    if (f)
      gzclose(f);
    return;
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len)
    SGM_TEST_FAIL("cannot write %s", path);
  if (f)
    fclose(f);
}

void write_idx(const char *path, int gz, int type, int ndims,
               const uint32_t *dims, const void *payload, size_t len) {
  size_t hdr = 4 + 4 * (size_t)ndims;
  unsigned char *buf = malloc(hdr + len + 1);
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = (unsigned char)type;
  buf[3] = (unsigned char)ndims;
  for (int i = 0; i < ndims; i++)
    for (int b = 0; b < 4; b++)
      buf[4 + 4 * i + b] = (unsigned char)(dims[i] >> (24 - 8 * b));
  if (len)
    memcpy(buf + hdr, payload, len);
  write_bytes(path, buf, hdr + len, gz);
  free(buf);
}

void write_idx_f64(const char *path, int gz, int64_t n, int d,
                   const double *values) {
  size_t count = (size_t)(n * d);
  unsigned char *be = malloc(8 * count + 1);
  for (size_t i = 0; i < count; i++) {
    uint64_t bits;
    memcpy(&bits, &values[i], 8);
    for (int b = 0; b < 8; b++)
      be[8 * i + (size_t)b] = (unsigned char)(bits >> (56 - 8 * b));
  }
  uint32_t dims[2] = {(uint32_t)n, (uint32_t)d};
  write_idx(path, gz, 0x0E, 2, dims, be, 8 * count);
  free(be);
}

void write_npy(const char *path, const char *descr, int fortran,
               const char *shape, const void *data, size_t len, int version2) {
  char dict[512];
  int dl = snprintf(dict, sizeof dict,
                    "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                    descr, fortran ? "True" : "False", shape);
  size_t pre = version2 ? 12 : 10;
  size_t total = pre + (size_t)dl + 1;
  size_t padded = (total + 63) / 64 * 64;
  size_t hlen = padded - pre;
  unsigned char *buf = malloc(padded + len + 1);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = version2 ? 2 : 1;
  buf[7] = 0;
  buf[8] = (unsigned char)(hlen & 0xff);
  buf[9] = (unsigned char)(hlen >> 8);
  if (version2) {
    buf[10] = 0;
    buf[11] = 0;
  }
  memcpy(buf + pre, dict, (size_t)dl);
  memset(buf + pre + dl, ' ', hlen - (size_t)dl - 1);
  buf[padded - 1] = '\n';
  if (len)
    memcpy(buf + padded, data, len);
  write_bytes(path, buf, padded + len, 0);
  free(buf);
}

void truncate_file(const char *path, long len) {
  if (truncate(path, len) != 0)
    SGM_TEST_FAIL("cannot truncate %s", path);
}

int load_comm(MPI_Comm comm, const sgm_config_t *cfg, int shard, int nshards,
              sgm_dataset_t **out) {
  sgm_dataset_info_t info;
  *out = NULL;
  int err = sgm_dataset_probe(comm, cfg, &info);
  if (err < 0)
    return err;
  err = sgm_dataset_load(comm, cfg, &info, shard, nshards, out);
  sgm_dataset_info_free(&info);
  return err;
}

int load_self(const sgm_config_t *cfg, sgm_dataset_t **out) {
  return load_comm(MPI_COMM_SELF, cfg, 0, 1, out);
}
