/*
 * Series written collectively on the world communicator, then read back
 * serially on rank 0 and checked value by value: per-particle series (double,
 * int64, double stored as float32), ensemble series (scalar and vector),
 * shapes, chunking (one save step per chunk; the particle axis split above
 * 16 MiB), attributes, dimension scales, and ranks that hold no particles.
 * Values encode (series, step, particle, component), so a misplaced slab
 * shows.
 */
#include <hdf5_hl.h>
#include <stdint.h>

#include "output/h5_impl.h"
#include "sgm/grid.h"
#include "sgm/output.h"
#include "sgm_test.h"

#define STEPS 4
#define D 3
#define VEC 5

static int rank, size;

/* The series of the main case. */
struct spec {
  const char *name;
  enum sgm_series_kind kind;
  int ndims;
  int integer; /* stored and passed as int64 */
  int float32; /* stored as float32, passed as double */
  int has_scales;
};

static const struct spec specs[] = {
    {"time", SGM_SERIES_ENSEMBLE, 0, 0, 0, 0},
    {"particles", SGM_SERIES_PARTICLES, 2, 0, 0, 1},
    {"diagnostics/nearest_distance", SGM_SERIES_PARTICLES, 1, 0, 0, 1},
    {"diagnostics/nearest_index", SGM_SERIES_PARTICLES, 1, 1, 0, 1},
    {"diagnostics/memorized_fraction", SGM_SERIES_ENSEMBLE, 0, 0, 0, 1},
    {"diagnostics/density", SGM_SERIES_ENSEMBLE, 1, 0, 0, 1},
    {"particles32", SGM_SERIES_PARTICLES, 2, 0, 1, 1},
};
#define NSPECS ((int)(sizeof specs / sizeof specs[0]))

/* Integer code of element (step, i) of series k, i the index within the
 * slab; exact in float32. */
static double code(int k, const struct spec *sp, int step, int64_t i) {
  int64_t row = sp->ndims == 2 ? D : 1;
  int64_t p = sp->kind == SGM_SERIES_PARTICLES ? i / row : 0;
  int64_t c = sp->kind == SGM_SERIES_PARTICLES ? i % row : i;
  return k * 100000.0 + step * 10000.0 + (double)(p * 10 + c) +
         (sp->integer ? 0 : 0.5);
}

static void spec_dims(const struct spec *sp, int64_t P, int64_t *dims) {
  if (sp->kind == SGM_SERIES_PARTICLES) {
    dims[0] = P;
    dims[1] = D;
  } else {
    dims[0] = VEC;
  }
}

static int64_t slab_elems(const struct spec *sp, int64_t P) {
  if (sp->kind == SGM_SERIES_ENSEMBLE)
    return sp->ndims ? VEC : 1;
  return P * (sp->ndims == 2 ? D : 1);
}

static char *read_string_attr(hid_t obj, const char *name) {
  static char buf[256];
  buf[0] = '\0';
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0)
    return NULL;
  hid_t type = H5Aget_type(attr);
  if (H5Tget_size(type) < sizeof buf)
    H5Aread(attr, type, buf);
  H5Tclose(type);
  H5Aclose(attr);
  return buf;
}

/* Checks one dataset of the file reopened serially. */
static void check_series(hid_t file, int k, const struct spec *sp, int64_t P,
                         hid_t time, hid_t particle) {
  hid_t dset = H5Dopen2(file, sp->name, H5P_DEFAULT);
  if (dset < 0) {
    SGM_TEST_FAIL("%s: cannot open", sp->name);
    return;
  }
  int64_t dims[2];
  spec_dims(sp, P, dims);
  hsize_t shape[3] = {0}, maxshape[3] = {0}, chunk[3] = {0};
  hid_t space = H5Dget_space(dset);
  ASSERT_INT_EQ(H5Sget_simple_extent_ndims(space), 1 + sp->ndims);
  H5Sget_simple_extent_dims(space, shape, maxshape);
  H5Sclose(space);
  ASSERT_INT_EQ(shape[0], STEPS);
  ASSERT_TRUE(maxshape[0] == H5S_UNLIMITED);
  hid_t dcpl = H5Dget_create_plist(dset);
  ASSERT_INT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
  ASSERT_INT_EQ(H5Pget_chunk(dcpl, 3, chunk), 1 + sp->ndims);
  H5Pclose(dcpl);
  ASSERT_INT_EQ(chunk[0], 1);
  for (int i = 0; i < sp->ndims; i++) {
    ASSERT_INT_EQ(shape[1 + i], dims[i]);
    ASSERT_INT_EQ(maxshape[1 + i], dims[i]);
    ASSERT_INT_EQ(chunk[1 + i], dims[i]);
  }

  hid_t type = H5Dget_type(dset);
  ASSERT_INT_EQ(H5Tget_class(type), sp->integer ? H5T_INTEGER : H5T_FLOAT);
  ASSERT_INT_EQ(H5Tget_size(type), sp->float32 ? 4 : 8);
  H5Tclose(type);

  int64_t n = slab_elems(sp, P);
  double *v = malloc((size_t)(STEPS * n) * sizeof *v);
  ASSERT_TRUE(
      H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  int bad = 0;
  for (int s = 0; s < STEPS; s++)
    for (int64_t i = 0; i < n; i++)
      if (v[s * n + i] != code(k, sp, s, i) && bad++ < 5)
        SGM_TEST_FAIL("%s[%d][%lld] = %.17g, expected %.17g", sp->name, s,
                      (long long)i, v[s * n + i], code(k, sp, s, i));
  free(v);

  char expect[64];
  snprintf(expect, sizeof expect, "about %s", sp->name);
  ASSERT_STR_EQ(read_string_attr(dset, "description"), expect);
  snprintf(expect, sizeof expect, "units of %s", sp->name);
  ASSERT_STR_EQ(read_string_attr(dset, "units"), expect);

  if (sp->has_scales) {
    ASSERT_INT_EQ(H5DSget_num_scales(dset, 0), 1);
    ASSERT_INT_EQ(H5DSis_attached(dset, time, 0), 1);
    if (sp->kind == SGM_SERIES_PARTICLES) {
      ASSERT_INT_EQ(H5DSget_num_scales(dset, 1), 1);
      ASSERT_INT_EQ(H5DSis_attached(dset, particle, 1), 1);
    } else if (sp->ndims > 0) {
      ASSERT_INT_EQ(H5DSget_num_scales(dset, 1), 0);
    }
  }
  H5Dclose(dset);
}

static void check_file(const char *path, int64_t P) {
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    SGM_TEST_FAIL("cannot reopen %s", path);
    return;
  }
  hid_t time = H5Dopen2(file, "time", H5P_DEFAULT);
  hid_t particle = H5Dopen2(file, "particle", H5P_DEFAULT);
  ASSERT_INT_EQ(H5DSis_scale(time), 1);
  ASSERT_INT_EQ(H5DSis_scale(particle), 1);
  char name[32] = "";
  H5DSget_scale_name(time, name, sizeof name);
  ASSERT_STR_EQ(name, "time");
  H5DSget_scale_name(particle, name, sizeof name);
  ASSERT_STR_EQ(name, "particle");
  int64_t *ids = malloc((size_t)P * sizeof *ids);
  ASSERT_TRUE(H5Dread(particle, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                      ids) >= 0);
  for (int64_t p = 0; p < P; p++)
    ASSERT_INT_EQ(ids[p], p);
  free(ids);
  for (int k = 0; k < NSPECS; k++)
    check_series(file, k, &specs[k], P, time, particle);
  H5Dclose(particle);
  H5Dclose(time);
  H5Fclose(file);
}

static void expect_collective(const sgm_series_t *s, const char *name) {
  uint32_t cause = 0;
  int mode = sgm__series_io_mode(s, &cause);
  if (mode != H5D_MPIO_CHUNK_COLLECTIVE)
    SGM_TEST_FAIL("%s: append was not one collective write (mode %d, cause "
                  "0x%x)",
                  name, mode, (unsigned)cause);
}

/* The main case: every kind of series, STEPS appends with a flush after
 * each, scales attached, then the file checked on rank 0. */
static void run_case(int64_t P, const char *path) {
  int64_t first, count;
  sgm_grid_block(P, size, rank, &first, &count);
  sgm_output_t *out = NULL;
  ASSERT_OK(sgm_output_create(MPI_COMM_WORLD, path, 0, &out));
  if (!out)
    return;

  sgm_series_t *series[NSPECS] = {0};
  for (int k = 0; k < NSPECS; k++) {
    const struct spec *sp = &specs[k];
    int64_t dims[2];
    spec_dims(sp, P, dims);
    hid_t mem = sp->integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    hid_t stored = sp->float32 ? H5T_NATIVE_FLOAT : mem;
    char description[64], units[64];
    snprintf(description, sizeof description, "about %s", sp->name);
    snprintf(units, sizeof units, "units of %s", sp->name);
    ASSERT_OK(sgm_series_create(out, sp->name, sp->kind, stored, mem, sp->ndims,
                                dims, description, units, &series[k]));
  }
  int64_t *ids = malloc((size_t)(count + 1) * sizeof *ids);
  for (int64_t i = 0; i < count; i++)
    ids[i] = first + i;
  ASSERT_OK(sgm_output_write_rows(out, "particle", H5T_NATIVE_INT64, P, 0,
                                  first, count, ids, "particle index", "1"));
  free(ids);
  hid_t particle = H5Dopen2(sgm_output_file(out), "particle", H5P_DEFAULT);
  hid_t time = sgm_series_dataset(series[0]);
  for (int k = 1; k < NSPECS; k++) {
    ASSERT_OK(sgm_series_attach_scale(series[k], 0, time, "time"));
    if (specs[k].kind == SGM_SERIES_PARTICLES)
      ASSERT_OK(sgm_series_attach_scale(series[k], 1, particle, "particle"));
  }
  /* Attaching again is harmless. */
  ASSERT_OK(sgm_series_attach_scale(series[1], 0, time, "time"));

  int64_t most = P * D > VEC ? P * D : VEC;
  double *x = malloc((size_t)most * sizeof *x);
  int64_t *xi = malloc((size_t)most * sizeof *xi);
  for (int s = 0; s < STEPS; s++) {
    for (int k = 0; k < NSPECS; k++) {
      const struct spec *sp = &specs[k];
      int particles = sp->kind == SGM_SERIES_PARTICLES;
      int64_t row = particles ? (sp->ndims == 2 ? D : 1) : 1;
      int64_t off = particles ? first * row : 0;
      int64_t n = particles ? count * row : slab_elems(sp, P);
      for (int64_t i = 0; i < n; i++) {
        x[i] = code(k, sp, s, off + i);
        xi[i] = (int64_t)x[i];
      }
      /* Ensemble data is identical everywhere; other ranks' copies are
       * not written, and pass NULL here to show it. */
      const void *data = sp->integer ? (const void *)xi : (const void *)x;
      if (!particles && rank != 0)
        data = NULL;
      ASSERT_OK(sgm_series_append(series[k], first, count, data));
      ASSERT_INT_EQ(sgm_series_length(series[k]), s + 1);
      expect_collective(series[k], sp->name);
    }
    ASSERT_OK(sgm_output_flush(out));
  }
  free(x);
  free(xi);

  /* Errors reach every rank and name the series; nothing is written. */
  double dummy[D * 64] = {0};
  ASSERT_FAILS(sgm_series_append(series[1], first, P + 1, dummy),
               SGM_ERR_INTERNAL, "particles");
  ASSERT_INT_EQ(sgm_series_length(series[1]), STEPS);
  ASSERT_FAILS(sgm_series_attach_scale(series[1], 3, time, "time"),
               SGM_ERR_INTERNAL, "no axis 3");
  sgm_series_t *bad = NULL;
  ASSERT_FAILS(sgm_series_create(out, "scalars", SGM_SERIES_PARTICLES,
                                 H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 0, NULL,
                                 "", "", &bad),
               SGM_ERR_INTERNAL, "particle axis");
  ASSERT_TRUE(bad == NULL);
  int64_t zero[1] = {0};
  ASSERT_FAILS(sgm_series_create(out, "empty", SGM_SERIES_ENSEMBLE,
                                 H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 1, zero,
                                 "", "", &bad),
               SGM_ERR_INTERNAL, "dimension 0");
  ASSERT_FAILS(sgm_series_create(out, "time", SGM_SERIES_ENSEMBLE,
                                 H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 0, NULL,
                                 "", "", &bad),
               SGM_ERR_HDF5, "time");
  ASSERT_TRUE(bad == NULL);

  H5Dclose(particle);
  for (int k = 0; k < NSPECS; k++) {
    sgm_series_close(&series[k]);
    ASSERT_TRUE(series[k] == NULL);
  }
  sgm_series_close(&series[0]);
  sgm_series_close(NULL);
  ASSERT_OK(sgm_output_close(&out, 1));
  if (rank == 0)
    check_file(path, P);
  MPI_Barrier(MPI_COMM_WORLD);
}

/* A slab above 16 MiB: the chunk is split along the particle axis into the
 * longest run of particles that fits, and the write still lands right. */
static void run_large(const char *path) {
  const int64_t P = 3000, d = 1000;
  const hsize_t fit = ((hsize_t)16 << 20) / (hsize_t)(d * 8);
  int64_t first, count;
  sgm_grid_block(P, size, rank, &first, &count);
  sgm_output_t *out = NULL;
  ASSERT_OK(sgm_output_create(MPI_COMM_WORLD, path, 0, &out));
  if (!out)
    return;
  sgm_series_t *s = NULL;
  int64_t dims[2] = {P, d};
  ASSERT_OK(sgm_series_create(out, "big/particles", SGM_SERIES_PARTICLES,
                              H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 2, dims,
                              "large", "1", &s));
  double *x = malloc((size_t)(count * d + 1) * sizeof *x);
  for (int64_t i = 0; i < count * d; i++)
    x[i] = (double)((first + i / d) * 1000 + i % d);
  ASSERT_OK(sgm_series_append(s, first, count, x));
  expect_collective(s, "big/particles");
  free(x);
  sgm_series_close(&s);
  ASSERT_OK(sgm_output_close(&out, 1));

  if (rank == 0) {
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dset = H5Dopen2(file, "big/particles", H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(dset);
    hsize_t chunk[3] = {0};
    ASSERT_INT_EQ(H5Pget_chunk(dcpl, 3, chunk), 3);
    ASSERT_INT_EQ(fit, 2097);
    ASSERT_INT_EQ(chunk[0], 1);
    ASSERT_INT_EQ(chunk[1], fit);
    ASSERT_INT_EQ(chunk[2], d);
    ASSERT_TRUE(chunk[1] * chunk[2] * 8 <= ((hsize_t)16 << 20));
    double *v = malloc((size_t)(P * d) * sizeof *v);
    ASSERT_TRUE(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                        v) >= 0);
    int64_t bad = 0;
    for (int64_t i = 0; i < P * d; i++)
      if (v[i] != (double)((i / d) * 1000 + i % d) && bad++ < 5)
        SGM_TEST_FAIL("big[0][%lld] = %g", (long long)i, v[i]);
    free(v);
    H5Pclose(dcpl);
    H5Dclose(dset);
    H5Fclose(file);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  sgm_output_init();
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char name[64], path[4200];
  snprintf(name, sizeof name, "output_series_np%d", size);
  const char *dir = sgm_test_tmpdir(name);

  snprintf(path, sizeof path, "%s/series.h5", dir);
  run_case(37, path);
  /* Fewer particles than ranks on 3 and 4 ranks: idle ranks select none. */
  snprintf(path, sizeof path, "%s/few.h5", dir);
  run_case(2, path);
  snprintf(path, sizeof path, "%s/large.h5", dir);
  run_large(path);
  return sgm_test_finish();
}
