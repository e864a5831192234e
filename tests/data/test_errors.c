/*
 * Every bad input gets its own error, naming the file and the problem; a
 * failed load leaves no output behind.
 */
#include <hdf5.h>
#include <stdint.h>

#include "data_testutil.h"

static const char *dir;

static sgm_config_t *idx_cfg(const char *path, const char *labels) {
  sgm_config_t *cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, path);
  tcfg_str(&cfg->data.labels, labels);
  return cfg;
}

#define EXPECT(cfg, code, text)                                                \
  do {                                                                         \
    sgm_dataset_t *ds_ = (sgm_dataset_t *)1;                                   \
    ASSERT_FAILS(load_self((cfg), &ds_), (code), (text));                      \
    ASSERT_TRUE(ds_ == NULL);                                                  \
  } while (0)

static void test_missing(void) {
  sgm_config_t *cfg = idx_cfg(tpath(dir, "nothere.idx"), NULL);
  EXPECT(cfg, SGM_ERR_IO, "nothere.idx: No such file or directory");
  tcfg_free(&cfg);
  cfg = tcfg_new(SGM_DATA_FASHION_MNIST);
  tcfg_str(&cfg->data.path, tpath(dir, "no-such-dir"));
  EXPECT(cfg, SGM_ERR_IO, "no-such-dir is not a directory");
  tcfg_str(&cfg->data.path, dir);
  EXPECT(cfg, SGM_ERR_IO, "no train-images-idx3-ubyte[.gz] in");
  tcfg_free(&cfg);
  cfg = tcfg_new(SGM_DATA_IDX);
  EXPECT(cfg, SGM_ERR_CONFIG, "source = idx needs path");
  tcfg_free(&cfg);
}

static void test_idx_headers(void) {
  unsigned char bad[20] = {1, 2, 8, 1, 0, 0, 0, 4};
  write_bytes(tpath(dir, "magic.idx"), bad, 12, 0);
  sgm_config_t *cfg = idx_cfg(tpath(dir, "magic.idx"), NULL);
  EXPECT(cfg, SGM_ERR_INPUT, "not an IDX file (bad magic 01 02 08 01)");
  tcfg_free(&cfg);

  uint32_t dims[1] = {4};
  unsigned char four[4] = {1, 2, 3, 4};
  write_idx(tpath(dir, "type.idx"), 0, 0x0A, 1, dims, four, 4);
  cfg = idx_cfg(tpath(dir, "type.idx"), NULL);
  EXPECT(cfg, SGM_ERR_INPUT, "unknown IDX type code 0x0a");
  tcfg_free(&cfg);

  uint32_t zero[2] = {4, 0};
  write_idx(tpath(dir, "zero.idx"), 0, 0x08, 2, zero, four, 0);
  cfg = idx_cfg(tpath(dir, "zero.idx"), NULL);
  EXPECT(cfg, SGM_ERR_INPUT, "IDX dimension 2 has length 0");
  tcfg_free(&cfg);

  /* The message quoted in the design notes, exactly. */
  unsigned char *pix = calloc(5000, 1);
  uint32_t img[3] = {100, 28, 28};
  write_idx(tpath(dir, "x.idx"), 0, 0x08, 3, img, pix, 5000 - 16);
  cfg = idx_cfg(tpath(dir, "x.idx"), NULL);
  EXPECT(cfg, SGM_ERR_INPUT,
         "x.idx: header says 100 examples of 28x28 u8 (78416 bytes) but the "
         "file holds 5000 bytes (truncated?)");
  tcfg_free(&cfg);
  free(pix);

  /* More data than the header says. */
  write_idx(tpath(dir, "long.idx"), 0, 0x08, 1, dims, bad, 6);
  cfg = idx_cfg(tpath(dir, "long.idx"), NULL);
  EXPECT(cfg, SGM_ERR_INPUT,
         "4 examples of 1 u8 (12 bytes) but the file "
         "holds 14 bytes (extra data at the end?)");
  tcfg_free(&cfg);
}

static void test_gzip(void) {
  enum { N = 400, D = 16 };
  double *v = malloc(N * D * sizeof *v);
  for (int k = 0; k < N * D; k++)
    v[k] = sin(0.37 * k) * 1000 + k; /* poorly compressible */
  const char *path = tpath(dir, "cut.idx.gz");
  write_idx_f64(path, 1, N, D, v);
  sgm_config_t *cfg = idx_cfg(path, NULL);
  sgm_dataset_info_t info;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_SELF, cfg, &info));
  /* Cut the end off: the gzip trailer no longer matches the header. */
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  truncate_file(path, size / 2);
  EXPECT(cfg, SGM_ERR_INPUT,
         "header says 400 examples of 16 f64 (51212 bytes) "
         "but the gzip trailer says");
  /* A load with the probe made before the damage finds it while reading. */
  sgm_dataset_t *ds = NULL;
  ASSERT_FAILS(sgm_dataset_load(MPI_COMM_SELF, cfg, &info, 0, 1, &ds),
               SGM_ERR_INPUT, "cut.idx.gz: data end early, in example");
  ASSERT_TRUE(ds == NULL);
  sgm_dataset_info_free(&info);

  /* Corrupt compressed bytes in the middle (trailer intact). */
  write_idx_f64(path, 1, N, D, v);
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_SELF, cfg, &info));
  f = fopen(path, "r+b");
  fseek(f, size / 2, SEEK_SET);
  for (int k = 0; k < 64; k++)
    fputc(0xff ^ k, f);
  fclose(f);
  ASSERT_FAILS(sgm_dataset_load(MPI_COMM_SELF, cfg, &info, 0, 1, &ds),
               SGM_ERR_INPUT, "cut.idx.gz: corrupt compressed data (zlib: ");
  sgm_dataset_info_free(&info);
  tcfg_free(&cfg);
  free(v);
}

static void test_labels_and_values(void) {
  enum { N = 10, D = 2 };
  double v[N * D];
  for (int k = 0; k < N * D; k++)
    v[k] = k;
  unsigned char lab[N] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  write_idx_f64(tpath(dir, "ok.idx"), 0, N, D, v);
  uint32_t nine[1] = {9};
  write_idx(tpath(dir, "nine.idx"), 0, 0x08, 1, nine, lab, 9);
  sgm_config_t *cfg = idx_cfg(tpath(dir, "ok.idx"), tpath(dir, "nine.idx"));
  EXPECT(cfg, SGM_ERR_INPUT, "nine.idx holds 9 labels but ");
  tcfg_free(&cfg);

  /* NaN in example 7, loaded as row 3 of the odd examples: the message
   * names the source index. */
  uint32_t ten[1] = {N};
  write_idx(tpath(dir, "lab.idx"), 0, 0x08, 1, ten, lab, N);
  v[7 * D + 1] = NAN;
  write_idx_f64(tpath(dir, "nan.idx"), 0, N, D, v);
  cfg = idx_cfg(tpath(dir, "nan.idx"), tpath(dir, "lab.idx"));
  const int64_t odd[1] = {1};
  tcfg_classes(cfg, 1, odd);
  EXPECT(cfg, SGM_ERR_INPUT, "nan.idx: example 7 contains NaN");
  v[7 * D + 1] = 0;
  v[4 * D] = INFINITY;
  write_idx_f64(tpath(dir, "inf.idx"), 0, N, D, v);
  tcfg_str(&cfg->data.path, tpath(dir, "inf.idx"));
  tcfg_classes(cfg, 0, odd);
  EXPECT(cfg, SGM_ERR_INPUT, "inf.idx: example 4 contains Inf");
  v[4 * D] = 0;

  /* Classes: outside the labels, absent, or no labels at all. */
  tcfg_str(&cfg->data.path, tpath(dir, "ok.idx"));
  const int64_t seven[1] = {7};
  tcfg_classes(cfg, 1, seven);
  EXPECT(cfg, SGM_ERR_CONFIG,
         "[data] classes: unknown class 7 (idx labels "
         "are 0..1)");
  tcfg_str(&cfg->data.labels, NULL);
  EXPECT(cfg, SGM_ERR_CONFIG,
         "[data] classes needs labels, but source = idx has none");
  tcfg_free(&cfg);

  cfg = tcfg_new(SGM_DATA_FASHION_MNIST);
  const int64_t twelve[1] = {12};
  tcfg_classes(cfg, 1, twelve);
  EXPECT(cfg, SGM_ERR_CONFIG,
         "[data] classes: unknown class 12 (fashion-mnist labels are 0..9)");
  tcfg_free(&cfg);

  cfg = tcfg_new(SGM_DATA_SPHERE);
  cfg->data.dim = 3;
  cfg->data.intrinsic = 1;
  cfg->data.n = 5;
  tcfg_classes(cfg, 1, seven);
  EXPECT(cfg, SGM_ERR_CONFIG,
         "[data] classes needs labels, but source = sphere has none");
  tcfg_free(&cfg);

  /* A constant data set has no range to scale. */
  for (int k = 0; k < N * D; k++)
    v[k] = 2.5;
  write_idx_f64(tpath(dir, "const.idx"), 0, N, D, v);
  cfg = idx_cfg(tpath(dir, "const.idx"), NULL);
  cfg->data.scale = SGM_SCALE_UNIT;
  EXPECT(cfg, SGM_ERR_INPUT, "every value equals 2.5, so scale = unit");
  tcfg_free(&cfg);
}

static void write_records(const char *path, int count, int bad_record) {
  unsigned char *buf = calloc((size_t)count, 3073);
  for (int r = 0; r < count; r++)
    buf[r * 3073] = (unsigned char)(r == bad_record ? 12 : r % 10);
  write_bytes(path, buf, (size_t)count * 3073, 0);
  free(buf);
}

static void test_cifar(void) {
  write_records(tpath(dir, "c1.bin"), 3, -1);
  write_records(tpath(dir, "c2.bin"), 20, 17);
  char list[8300];
  snprintf(list, sizeof list, "%s,%s", tpath(dir, "c1.bin"),
           tpath(dir, "c2.bin"));
  sgm_config_t *cfg = tcfg_new(SGM_DATA_CIFAR10);
  tcfg_str(&cfg->data.path, list);
  EXPECT(cfg, SGM_ERR_INPUT,
         "c2.bin: record 17 has label 12 (CIFAR-10 labels are 0..9)");
  truncate_file(tpath(dir, "c2.bin"), 3073 * 5 - 1);
  EXPECT(cfg, SGM_ERR_INPUT,
         "c2.bin: size 15364 bytes is not a multiple of "
         "3073");
  tcfg_str(&cfg->data.path, tpath(dir, "c3.bin"));
  EXPECT(cfg, SGM_ERR_IO, "c3.bin: No such file or directory");
  tcfg_str(&cfg->data.path, dir);
  EXPECT(cfg, SGM_ERR_IO, "data_batch_1.bin: No such file or directory");
  tcfg_free(&cfg);
}

static void test_npy(void) {
  double v[6] = {1, 2, 3, 4, 5, 6};
  sgm_config_t *cfg = tcfg_new(SGM_DATA_NPY);
  write_npy(tpath(dir, "f.npy"), "<f8", 1, "(3, 2)", v, sizeof v, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "f.npy"));
  EXPECT(cfg, SGM_ERR_UNSUPPORTED,
         "f.npy: the array is stored in Fortran "
         "order; save a C-ordered array");
  write_npy(tpath(dir, "c.npy"), "<c16", 0, "(3,)", v, 48, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "c.npy"));
  EXPECT(cfg, SGM_ERR_UNSUPPORTED, "c.npy: unsupported dtype '<c16'");
  write_npy(tpath(dir, "b.npy"), "|b1", 0, "(6,)", v, 6, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "b.npy"));
  EXPECT(cfg, SGM_ERR_UNSUPPORTED, "b.npy: unsupported dtype '|b1'");
  write_npy(tpath(dir, "t.npy"), "<f8", 0, "(4, 2)", v, sizeof v, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "t.npy"));
  EXPECT(cfg, SGM_ERR_INPUT,
         "t.npy: header says 4 examples of 2 <f8 (192 "
         "bytes) but the file holds 176 bytes "
         "(truncated?)");
  write_npy(tpath(dir, "s.npy"), "<f8", 0, "()", v, 8, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "s.npy"));
  EXPECT(cfg, SGM_ERR_INPUT, "s.npy: the array is a scalar");
  write_bytes(tpath(dir, "m.npy"), "NUMPY\x01\x00", 7, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "m.npy"));
  EXPECT(cfg, SGM_ERR_INPUT, "m.npy: not a .npy file");
  /* Labels: wrong length, or not integers. */
  write_npy(tpath(dir, "ok.npy"), "<f8", 0, "(3, 2)", v, sizeof v, 0);
  int32_t lab[2] = {0, 1};
  write_npy(tpath(dir, "l.npy"), "<i4", 0, "(2,)", lab, sizeof lab, 0);
  tcfg_str(&cfg->data.path, tpath(dir, "ok.npy"));
  tcfg_str(&cfg->data.labels, tpath(dir, "l.npy"));
  EXPECT(cfg, SGM_ERR_INPUT, "l.npy holds 2 labels but ");
  tcfg_str(&cfg->data.labels, tpath(dir, "ok.npy"));
  EXPECT(cfg, SGM_ERR_INPUT, "labels must be integers, but the dtype is <f8");
  tcfg_free(&cfg);
}

static void test_hdf5(void) {
  const char *path = tpath(dir, "bad.h5");
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t scalar = H5Screate(H5S_SCALAR);
  hid_t set = H5Dcreate2(file, "/scalar", H5T_NATIVE_DOUBLE, scalar,
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  double one = 1;
  H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &one);
  H5Dclose(set);
  H5Sclose(scalar);
  hsize_t three = 3;
  hid_t space = H5Screate_simple(1, &three, NULL);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 4);
  set = H5Dcreate2(file, "/names", str, space, H5P_DEFAULT, H5P_DEFAULT,
                   H5P_DEFAULT);
  H5Dwrite(set, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abcdefghijkl");
  H5Dclose(set);
  set = H5Dcreate2(file, "/data", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT,
                   H5P_DEFAULT, H5P_DEFAULT);
  double v[3] = {1, 2, 3};
  H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(set);
  H5Tclose(str);
  H5Sclose(space);
  hid_t grp = H5Gcreate2(file, "/grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(grp);
  H5Fclose(file);

  sgm_config_t *cfg = tcfg_new(SGM_DATA_HDF5);
  tcfg_str(&cfg->data.path, path);
  tcfg_str(&cfg->data.dataset, "/nothere");
  EXPECT(cfg, SGM_ERR_INPUT, "bad.h5: no dataset /nothere");
  tcfg_str(&cfg->data.dataset, "/grp");
  EXPECT(cfg, SGM_ERR_INPUT, "bad.h5: /grp is not a dataset");
  tcfg_str(&cfg->data.dataset, "/scalar");
  EXPECT(cfg, SGM_ERR_INPUT, "bad.h5: dataset /scalar is a scalar");
  tcfg_str(&cfg->data.dataset, "/names");
  EXPECT(cfg, SGM_ERR_INPUT,
         "bad.h5: dataset /names has a non-numeric type (string)");
  tcfg_str(&cfg->data.dataset, NULL); /* default /data */
  tcfg_str(&cfg->data.labels, "/names");
  EXPECT(cfg, SGM_ERR_INPUT, "labels dataset /names must hold integers");
  tcfg_str(&cfg->data.labels, "/nolabels");
  EXPECT(cfg, SGM_ERR_INPUT, "bad.h5: no dataset /nolabels");
  tcfg_str(&cfg->data.labels, NULL);
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  sgm_dataset_destroy(&ds);
  tcfg_str(&cfg->data.path, tpath(dir, "x.idx")); /* not HDF5 */
  EXPECT(cfg, SGM_ERR_INPUT, "x.idx: cannot open as HDF5");
  tcfg_str(&cfg->data.path, tpath(dir, "none.h5"));
  EXPECT(cfg, SGM_ERR_IO, "none.h5: No such file or directory");
  tcfg_free(&cfg);
}

static void test_synthetic(void) {
  sgm_config_t *cfg = tcfg_new(SGM_DATA_SPHERE);
  cfg->data.n = 10;
  cfg->data.dim = 3;
  cfg->data.intrinsic = 3;
  EXPECT(cfg, SGM_ERR_CONFIG,
         "intrinsic + 1 <= dim, but intrinsic = 3 and "
         "dim = 3");
  cfg->data.intrinsic = 2;
  cfg->data.n = 0;
  EXPECT(cfg, SGM_ERR_CONFIG, "source = sphere needs n >= 1");
  tcfg_free(&cfg);

  cfg = tcfg_new(SGM_DATA_GMM);
  cfg->data.n = 10;
  const double means[4] = {0, 0, 5, 5}, var[1] = {1}, w[2] = {1, 0};
  tcfg_means(cfg, 2, 2, means);
  tcfg_reals(&cfg->data.variances, 1, var);
  tcfg_reals(&cfg->data.weights, 2, w);
  EXPECT(cfg, SGM_ERR_CONFIG,
         "[data] weights: 0 (component 1) must be "
         "positive");
  sgm_gmm_t *g = (sgm_gmm_t *)1;
  ASSERT_FAILS(sgm_gmm_from_config(cfg, &g), SGM_ERR_CONFIG,
               "must be positive");
  ASSERT_TRUE(g == NULL);
  tcfg_reals(&cfg->data.weights, 1, w);
  EXPECT(cfg, SGM_ERR_CONFIG, "[data] weights has 1 values");
  tcfg_reals(&cfg->data.weights, 0, w);
  const double negative[2] = {1, -0.5};
  tcfg_reals(&cfg->data.variances, 2, negative);
  EXPECT(cfg, SGM_ERR_CONFIG, "[data] variances: -0.5 (component 1)");
  tcfg_reals(&cfg->data.variances, 1, var);
  cfg->data.dim = 3;
  EXPECT(cfg, SGM_ERR_CONFIG, "[data] means have dimension 2 but dim = 3");
  cfg->data.dim = 0;
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_self(cfg, &ds));
  sgm_dataset_destroy(&ds);
  tcfg_means(cfg, 0, 2, means);
  EXPECT(cfg, SGM_ERR_CONFIG, "source = gmm needs means");
  tcfg_free(&cfg);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  dir = sgm_test_tmpdir("data_errors");
  test_missing();
  test_idx_headers();
  test_gzip();
  test_labels_and_values();
  test_cifar();
  test_npy();
  test_hdf5();
  test_synthetic();
  return sgm_test_finish();
}
