/*
 * Every file loader on tiny files written here: values after scaling,
 * shapes, labels, source indices, alignment and the description.
 */
#include <hdf5.h>
#include <stdint.h>

#include "data_testutil.h"

static const char *dir;

static double sumsq(const double *y, int d) {
  double s = 0;
  for (int j = 0; j < d; j++)
    s += y[j] * y[j];
  return s;
}

/* Fields every loaded set must satisfy, whatever the source. */
static void check_common(const sgm_dataset_t *ds, int64_t n) {
  ASSERT_INT_EQ(ds->n, n);
  ASSERT_INT_EQ(ds->n_local, n);
  ASSERT_INT_EQ(ds->offset, 0);
  ASSERT_INT_EQ(ds->shard, 0);
  ASSERT_INT_EQ(ds->nshards, 1);
  ASSERT_INT_EQ((uintptr_t)ds->y % 64, 0);
  ASSERT_TRUE(ds->description != NULL);
  for (int64_t i = 0; i < ds->n_local; i++)
    ASSERT_REL(ds->norm2[i], sumsq(ds->y + i * ds->d, ds->d), 1e-15);
}

static void test_idx_u8(int gz) {
  enum { N = 7, D = 6 };
  unsigned char px[N * D], lab[N];
  for (int i = 0; i < N; i++) {
    lab[i] = (unsigned char)(i % 3);
    for (int j = 0; j < D; j++)
      px[i * D + j] = (unsigned char)((6 * i + j) * 5 % 256);
  }
  const char *img = tpath(dir, gz ? "u8.idx.gz" : "u8.idx");
  const char *lbl = tpath(dir, gz ? "u8-labels.idx.gz" : "u8-labels.idx");
  uint32_t dims[3] = {N, 2, 3}, ldims[1] = {N};
  write_idx(img, gz, 0x08, 3, dims, px, sizeof px);
  write_idx(lbl, gz, 0x08, 1, ldims, lab, sizeof lab);
  sgm_config_t *cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, img);
  tcfg_str(&cfg->data.labels, lbl);
  cfg->data.scale = SGM_SCALE_UNIT;
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, N);
    ASSERT_INT_EQ(ds->d, D);
    ASSERT_INT_EQ(ds->naxes, 2);
    ASSERT_INT_EQ(ds->shape[0], 2);
    ASSERT_INT_EQ(ds->shape[1], 3);
    ASSERT_NEAR(ds->scale_lo, 0, 0);
    ASSERT_NEAR(ds->scale_hi, 255, 0);
    ASSERT_TRUE(ds->labels != NULL);
    ASSERT_TRUE(ds->gmm == NULL);
    for (int i = 0; i < N; i++) {
      ASSERT_INT_EQ(ds->source_index[i], i);
      ASSERT_INT_EQ(ds->labels[i], i % 3);
      for (int j = 0; j < D; j++)
        ASSERT_NEAR(ds->y[i * D + j], px[i * D + j] / 255.0, 0);
    }
    ASSERT_TRUE(strstr(ds->description, "idx (") == ds->description);
    ASSERT_TRUE(strstr(ds->description, "): 7 examples, 2x3, scale unit"));
  }
  sgm_dataset_destroy(&ds);
  ASSERT_TRUE(ds == NULL);
  tcfg_free(&cfg);
}

static void test_idx_f64(int gz) {
  enum { N = 5, D = 4 };
  double v[N * D];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < D; j++)
      v[i * D + j] = i - 0.5 * j + 0.25; /* range [-1.25, 4.25] */
  const char *img = tpath(dir, gz ? "f64.idx.gz" : "f64.idx");
  write_idx_f64(img, gz, N, D, v);
  sgm_config_t *cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, img);
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, N);
    ASSERT_INT_EQ(ds->d, D);
    ASSERT_INT_EQ(ds->naxes, 1);
    ASSERT_INT_EQ(ds->shape[0], D);
    ASSERT_TRUE(ds->labels == NULL);
    ASSERT_TRUE(isnan(ds->scale_lo) && isnan(ds->scale_hi));
    for (int k = 0; k < N * D; k++)
      ASSERT_NEAR(ds->y[k], v[k], 0);
    ASSERT_TRUE(strstr(ds->description, "5 examples, dimension 4"));
  }
  sgm_dataset_destroy(&ds);
  cfg->data.scale = SGM_SCALE_MINUS1_1;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    ASSERT_NEAR(ds->scale_lo, -1.25, 0);
    ASSERT_NEAR(ds->scale_hi, 4.25, 0);
    for (int k = 0; k < N * D; k++)
      ASSERT_NEAR(ds->y[k], 2 * (v[k] + 1.25) / 5.5 - 1, 1e-15);
    ASSERT_NEAR(ds->y[0 * D + 3], -1, 0);
    ASSERT_NEAR(ds->y[4 * D + 0], 1, 0);
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);
}

/* 1-D i16 (one value per example) and 2-D i8 (fixed range -128..127). */
static void test_idx_small_types(void) {
  const int16_t v16[4] = {-3, 0, 7, 300};
  unsigned char be[8];
  for (int i = 0; i < 4; i++) {
    be[2 * i] = (unsigned char)((uint16_t)v16[i] >> 8);
    be[2 * i + 1] = (unsigned char)((uint16_t)v16[i] & 0xff);
  }
  uint32_t dims1[1] = {4};
  write_idx(tpath(dir, "i16.idx"), 0, 0x0B, 1, dims1, be, sizeof be);
  sgm_config_t *cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, tpath(dir, "i16.idx"));
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, 4);
    ASSERT_INT_EQ(ds->d, 1);
    ASSERT_INT_EQ(ds->naxes, 1);
    ASSERT_INT_EQ(ds->shape[0], 1);
    for (int i = 0; i < 4; i++)
      ASSERT_NEAR(ds->y[i], v16[i], 0);
  }
  sgm_dataset_destroy(&ds);

  const int8_t v8[6] = {-128, 127, 0, -1, 5, 100};
  uint32_t dims2[2] = {3, 2};
  write_idx(tpath(dir, "i8.idx"), 0, 0x09, 2, dims2, v8, sizeof v8);
  tcfg_str(&cfg->data.path, tpath(dir, "i8.idx"));
  cfg->data.scale = SGM_SCALE_UNIT;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    ASSERT_NEAR(ds->scale_lo, -128, 0);
    ASSERT_NEAR(ds->scale_hi, 127, 0);
    for (int k = 0; k < 6; k++)
      ASSERT_NEAR(ds->y[k], (v8[k] + 128) / 255.0, 1e-15);
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);
}

/* CIFAR record r: label (7r) % 10, pixel k = (31r + k) % 256. */
static void write_cifar(const char *path, int first, int count) {
  unsigned char *buf = malloc((size_t)count * 3073);
  for (int r = 0; r < count; r++) {
    int g = first + r;
    buf[r * 3073] = (unsigned char)(7 * g % 10);
    for (int k = 0; k < 3072; k++)
      buf[r * 3073 + 1 + k] = (unsigned char)((31 * g + k) % 256);
  }
  write_bytes(path, buf, (size_t)count * 3073, 0);
  free(buf);
}

static void check_cifar(const sgm_dataset_t *ds, const int *records, int n) {
  check_common(ds, n);
  ASSERT_INT_EQ(ds->d, 3072);
  ASSERT_INT_EQ(ds->naxes, 3);
  ASSERT_INT_EQ(ds->shape[0], 3);
  ASSERT_INT_EQ(ds->shape[1], 32);
  ASSERT_INT_EQ(ds->shape[2], 32);
  ASSERT_NEAR(ds->scale_hi, 255, 0);
  for (int i = 0; i < n; i++) {
    int g = records[i];
    ASSERT_INT_EQ(ds->labels[i], 7 * g % 10);
    int bad = 0;
    for (int k = 0; k < 3072; k++)
      bad += ds->y[i * 3072 + k] != ((31 * g + k) % 256) / 255.0;
    ASSERT_INT_EQ(bad, 0);
  }
}

static void test_cifar(void) {
  write_cifar(tpath(dir, "a.bin"), 0, 3);
  write_cifar(tpath(dir, "b.bin"), 3, 2);
  char list[8300];
  snprintf(list, sizeof list, "%s, %s", tpath(dir, "a.bin"),
           tpath(dir, "b.bin"));
  sgm_config_t *cfg = tcfg_new(SGM_DATA_CIFAR10);
  tcfg_str(&cfg->data.path, list);
  cfg->data.scale = SGM_SCALE_UNIT;
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  const int all[5] = {0, 1, 2, 3, 4};
  if (ds) {
    check_cifar(ds, all, 5);
    for (int i = 0; i < 5; i++)
      ASSERT_INT_EQ(ds->source_index[i], i);
  }
  sgm_dataset_destroy(&ds);
  /* Labels 0,7,4,1,8: classes 1 and 8 are records 3 and 4 (file b). */
  const int64_t classes[2] = {8, 1};
  tcfg_classes(cfg, 2, classes);
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    const int want[2] = {3, 4};
    check_cifar(ds, want, 2);
    ASSERT_INT_EQ(ds->source_index[0], 3);
    ASSERT_INT_EQ(ds->source_index[1], 4);
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);

  /* Directory form: data_batch_1..5.bin (train) and test_batch.bin. */
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/cifar", dir);
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub);
  ASSERT_INT_EQ(system(cmd), 0);
  for (int b = 1; b <= 5; b++) {
    char name[32];
    snprintf(name, sizeof name, "data_batch_%d.bin", b);
    write_cifar(tpath(sub, name), 2 * (b - 1), 2);
  }
  write_cifar(tpath(sub, "test_batch.bin"), 100, 3);
  cfg = tcfg_new(SGM_DATA_CIFAR10);
  tcfg_str(&cfg->data.path, sub);
  cfg->data.scale = SGM_SCALE_UNIT;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    const int want[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    check_cifar(ds, want, 10);
    ASSERT_TRUE(strstr(ds->description, "cifar10 train ("));
  }
  sgm_dataset_destroy(&ds);
  cfg->data.split = SGM_SPLIT_TEST;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    const int want[3] = {100, 101, 102};
    check_cifar(ds, want, 3);
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);
}

static void write_h5(hid_t file, const char *name, hid_t type, int rank,
                     const hsize_t *dims, const void *data) {
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
  ASSERT_TRUE(set >= 0);
  ASSERT_TRUE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(set);
  H5Sclose(space);
}

static void test_hdf5(void) {
  const char *path = tpath(dir, "data.h5");
  double images[6][2][3];
  int32_t labels[6];
  uint8_t bytes[6][4];
  for (int i = 0; i < 6; i++) {
    labels[i] = i % 2;
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 3; b++)
        images[i][a][b] = 10 * i + 3 * a + b + 0.5;
    for (int j = 0; j < 4; j++)
      bytes[i][j] = (uint8_t)(40 * i + j);
  }
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_TRUE(file >= 0);
  hsize_t d3[3] = {6, 2, 3}, d1[1] = {6}, d2[2] = {6, 4};
  write_h5(file, "/images", H5T_NATIVE_DOUBLE, 3, d3, images);
  write_h5(file, "/labels", H5T_NATIVE_INT32, 1, d1, labels);
  hid_t grp = H5Gcreate2(file, "/grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(grp);
  write_h5(file, "/grp/u8", H5T_NATIVE_UINT8, 2, d2, bytes);
  H5Fclose(file);

  sgm_config_t *cfg = tcfg_new(SGM_DATA_HDF5);
  tcfg_str(&cfg->data.path, path);
  tcfg_str(&cfg->data.dataset, "/images");
  tcfg_str(&cfg->data.labels, "/labels");
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, 6);
    ASSERT_INT_EQ(ds->d, 6);
    ASSERT_INT_EQ(ds->naxes, 2);
    ASSERT_INT_EQ(ds->shape[0], 2);
    ASSERT_INT_EQ(ds->shape[1], 3);
    for (int i = 0; i < 6; i++) {
      ASSERT_INT_EQ(ds->labels[i], i % 2);
      for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
          ASSERT_NEAR(ds->y[i * 6 + a * 3 + b], images[i][a][b], 0);
    }
    ASSERT_TRUE(strstr(ds->description, "data.h5:/images): 6 examples, 2x3"));
  }
  sgm_dataset_destroy(&ds);
  const int64_t odd[1] = {1};
  tcfg_classes(cfg, 1, odd);
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, 3);
    for (int i = 0; i < 3; i++) {
      ASSERT_INT_EQ(ds->source_index[i], 2 * i + 1);
      ASSERT_NEAR(ds->y[i * 6 + 5], images[2 * i + 1][1][2], 0);
    }
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);

  /* Unsigned bytes get the fixed range [0, 255]. */
  cfg = tcfg_new(SGM_DATA_HDF5);
  tcfg_str(&cfg->data.path, path);
  tcfg_str(&cfg->data.dataset, "/grp/u8");
  cfg->data.scale = SGM_SCALE_MINUS1_1;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, 6);
    ASSERT_INT_EQ(ds->naxes, 1);
    ASSERT_INT_EQ(ds->shape[0], 4);
    ASSERT_NEAR(ds->scale_hi, 255, 0);
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 4; j++)
        ASSERT_NEAR(ds->y[i * 4 + j], 2 * bytes[i][j] / 255.0 - 1, 1e-15);
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);
}

static void test_npy(void) {
  uint8_t u[5][2][2];
  int64_t lab[5];
  for (int i = 0; i < 5; i++) {
    lab[i] = 4 - i;
    for (int k = 0; k < 4; k++)
      u[i][k / 2][k % 2] = (uint8_t)(i * 4 + k * 3);
  }
  write_npy(tpath(dir, "u1.npy"), "|u1", 0, "(5, 2, 2)", u, sizeof u, 0);
  write_npy(tpath(dir, "lab.npy"), "<i8", 0, "(5,)", lab, sizeof lab, 0);
  sgm_config_t *cfg = tcfg_new(SGM_DATA_NPY);
  tcfg_str(&cfg->data.path, tpath(dir, "u1.npy"));
  tcfg_str(&cfg->data.labels, tpath(dir, "lab.npy"));
  cfg->data.scale = SGM_SCALE_UNIT;
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, 5);
    ASSERT_INT_EQ(ds->d, 4);
    ASSERT_INT_EQ(ds->naxes, 2);
    ASSERT_INT_EQ(ds->shape[0], 2);
    ASSERT_INT_EQ(ds->shape[1], 2);
    for (int i = 0; i < 5; i++) {
      ASSERT_INT_EQ(ds->labels[i], 4 - i);
      for (int k = 0; k < 4; k++)
        ASSERT_NEAR(ds->y[i * 4 + k], u[i][k / 2][k % 2] / 255.0, 0);
    }
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);

  /* Version 2.0 header, little-endian doubles. */
  double f[4][3];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++)
      f[i][j] = i * 0.5 - j;
  write_npy(tpath(dir, "f8.npy"), "<f8", 0, "(4, 3)", f, sizeof f, 1);
  cfg = tcfg_new(SGM_DATA_NPY);
  tcfg_str(&cfg->data.path, tpath(dir, "f8.npy"));
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, 4);
    ASSERT_INT_EQ(ds->d, 3);
    ASSERT_INT_EQ(ds->naxes, 1);
    ASSERT_TRUE(ds->labels == NULL);
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 3; j++)
        ASSERT_NEAR(ds->y[i * 3 + j], f[i][j], 0);
  }
  sgm_dataset_destroy(&ds);

  /* Shape (N,): N examples of one value. */
  float g[6] = {1.5f, -2, 3, 0, 8, -0.25f};
  write_npy(tpath(dir, "f4.npy"), "<f4", 0, "(6,)", g, sizeof g, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "f4.npy"));
  ASSERT_OK(load_self(cfg, &ds));
  if (ds) {
    check_common(ds, 6);
    ASSERT_INT_EQ(ds->d, 1);
    for (int i = 0; i < 6; i++)
      ASSERT_NEAR(ds->y[i], g[i], 0);
  }
  sgm_dataset_destroy(&ds);
  tcfg_free(&cfg);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  dir = sgm_test_tmpdir("data_loaders");
  test_idx_u8(0);
  test_idx_u8(1);
  test_idx_f64(0);
  test_idx_f64(1);
  test_idx_small_types();
  test_cifar();
  test_hdf5();
  test_npy();
  return sgm_test_finish();
}
