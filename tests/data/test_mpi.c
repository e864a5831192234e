/*
 * Sharded loading under MPI: every rank loads shard `rank` of `size` (and,
 * separately, shard rank % 2 of 2, so pairs of ranks share a shard), and the
 * shards put together equal a serial load of the whole set exactly.  Errors
 * seen by one rank only reach every rank, with no hang.
 */
#include "data_testutil.h"
#include "sgm/grid.h"

static int rank, size;
static const char *dir;

/* A serial load of the whole set on rank 0, broadcast to every rank. */
typedef struct ref {
  int64_t n;
  int d, has_labels;
  double *y;
  int32_t *labels;
  int64_t *index;
} ref_t;

static void bcast_big(void *buf, int64_t count, MPI_Datatype type, int width) {
  const int64_t chunk = 1 << 24;
  for (int64_t i = 0; i < count; i += chunk)
    MPI_Bcast((char *)buf + i * width,
              (int)(count - i < chunk ? count - i : chunk), type, 0,
              MPI_COMM_WORLD);
}

static void reference(const sgm_config_t *cfg, ref_t *ref) {
  int64_t hdr[3] = {0, 0, 0};
  sgm_dataset_t *ds = NULL;
  if (rank == 0) {
    ASSERT_OK(load_self(cfg, &ds));
    if (ds) {
      hdr[0] = ds->n;
      hdr[1] = ds->d;
      hdr[2] = ds->labels != NULL;
    }
  }
  MPI_Bcast(hdr, 3, MPI_INT64_T, 0, MPI_COMM_WORLD);
  ref->n = hdr[0];
  ref->d = (int)hdr[1];
  ref->has_labels = (int)hdr[2];
  ref->y = malloc((size_t)(ref->n * ref->d + 1) * sizeof *ref->y);
  ref->labels = malloc((size_t)(ref->n + 1) * sizeof *ref->labels);
  ref->index = malloc((size_t)(ref->n + 1) * sizeof *ref->index);
  if (ds) {
    memcpy(ref->y, ds->y, (size_t)(ref->n * ref->d) * sizeof *ref->y);
    memcpy(ref->index, ds->source_index, (size_t)ref->n * sizeof *ref->index);
    if (ds->labels)
      memcpy(ref->labels, ds->labels, (size_t)ref->n * sizeof *ref->labels);
  }
  bcast_big(ref->y, ref->n * ref->d, MPI_DOUBLE, 8);
  bcast_big(ref->index, ref->n, MPI_INT64_T, 8);
  if (ref->has_labels)
    bcast_big(ref->labels, ref->n, MPI_INT32_T, 4);
  sgm_dataset_destroy(&ds);
}

static void ref_free(ref_t *ref) {
  free(ref->y);
  free(ref->labels);
  free(ref->index);
}

/* This rank's shard against the matching rows of the reference. */
static void check_shard(const sgm_dataset_t *ds, const ref_t *ref, int shard,
                        int nshards) {
  int64_t first, count;
  sgm_grid_block(ref->n, nshards, shard, &first, &count);
  ASSERT_INT_EQ(ds->n, ref->n);
  ASSERT_INT_EQ(ds->d, ref->d);
  ASSERT_INT_EQ(ds->shard, shard);
  ASSERT_INT_EQ(ds->nshards, nshards);
  ASSERT_INT_EQ(ds->offset, first);
  ASSERT_INT_EQ(ds->n_local, count);
  ASSERT_INT_EQ(ds->labels != NULL, ref->has_labels);
  if (ds->n_local != count || count == 0)
    return;
  ASSERT_TRUE(memcmp(ds->y, ref->y + first * ref->d,
                     (size_t)(count * ref->d) * sizeof *ds->y) == 0);
  ASSERT_TRUE(memcmp(ds->source_index, ref->index + first,
                     (size_t)count * sizeof *ds->source_index) == 0);
  if (ds->labels)
    ASSERT_TRUE(memcmp(ds->labels, ref->labels + first,
                       (size_t)count * sizeof *ds->labels) == 0);
}

/* The concatenation of shard r of size on rank r, gathered on rank 0. */
static void check_gathered(const sgm_dataset_t *ds, const ref_t *ref) {
  int mine = (int)(ds->n_local * ds->d);
  int *counts = malloc((size_t)size * sizeof *counts);
  int *displs = malloc((size_t)size * sizeof *displs);
  MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
  double *all = NULL;
  if (rank == 0) {
    int64_t total = 0;
    for (int r = 0; r < size; r++) {
      displs[r] = (int)total;
      total += counts[r];
    }
    ASSERT_INT_EQ(total, ref->n * ref->d);
    all = malloc((size_t)(total + 1) * sizeof *all);
  }
  MPI_Gatherv(ds->y, mine, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0,
              MPI_COMM_WORLD);
  if (rank == 0)
    ASSERT_TRUE(memcmp(all, ref->y, (size_t)(ref->n * ref->d) * 8) == 0);
  free(all);
  free(counts);
  free(displs);
}

/* Both splits of one configuration, against the serial reference. */
static void check_config(const sgm_config_t *cfg) {
  ref_t ref;
  reference(cfg, &ref);
  sgm_dataset_t *ds = NULL;
  ASSERT_OK(load_comm(MPI_COMM_WORLD, cfg, rank, size, &ds));
  if (ds) {
    check_shard(ds, &ref, rank, size);
    check_gathered(ds, &ref);
  } /* else: the failure was agreed, so no rank enters the gather */
  sgm_dataset_destroy(&ds);
  int nshards = size >= 2 ? 2 : 1;
  ASSERT_OK(load_comm(MPI_COMM_WORLD, cfg, rank % nshards, nshards, &ds));
  if (ds)
    check_shard(ds, &ref, rank % nshards, nshards);
  sgm_dataset_destroy(&ds);
  ref_free(&ref);
}

static void test_fashion(void) {
  sgm_config_t *cfg = tcfg_new(SGM_DATA_FASHION_MNIST);
  cfg->data.scale = SGM_SCALE_MINUS1_1;
  sgm_dataset_info_t info;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_WORLD, cfg, &info));
  ASSERT_INT_EQ(info.n_source, 60000);
  ASSERT_INT_EQ(info.n, 60000);
  ASSERT_INT_EQ(info.d, 784);
  ASSERT_INT_EQ(info.naxes, 2);
  ASSERT_INT_EQ(info.shape[0], 28);
  ASSERT_INT_EQ(info.shape[1], 28);
  ASSERT_TRUE(info.has_labels);
  ASSERT_TRUE(info.index == NULL);
  sgm_dataset_info_free(&info);

  const int64_t classes[3] = {2, 7, 9};
  tcfg_classes(cfg, 3, classes);
  cfg->data.n = 2000;
  cfg->data.seed = 17;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_WORLD, cfg, &info));
  ASSERT_INT_EQ(info.n, 2000);
  ASSERT_TRUE(info.index != NULL);
  sgm_dataset_info_free(&info);
  check_config(cfg);
  tcfg_free(&cfg);
}

static void test_idx_gz(void) {
  enum { N = 1001, D = 5 };
  if (rank == 0) {
    double *v = malloc(N * D * sizeof *v);
    unsigned char lab[N];
    for (int i = 0; i < N; i++) {
      lab[i] = (unsigned char)(i * 7 % 4);
      for (int j = 0; j < D; j++)
        v[i * D + j] = cos(0.1 * i + j) * (j + 1);
    }
    write_idx_f64(tpath(dir, "x.idx.gz"), 1, N, D, v);
    uint32_t ldims[1] = {N};
    write_idx(tpath(dir, "y.idx.gz"), 1, 0x08, 1, ldims, lab, N);
    write_idx_f64(tpath(dir, "tiny.idx.gz"), 1, 3, D, v);
    uint32_t three[1] = {3};
    write_idx(tpath(dir, "tinyl.idx.gz"), 1, 0x08, 1, three, lab, 3);
    free(v);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  sgm_config_t *cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, tpath(dir, "x.idx.gz"));
  tcfg_str(&cfg->data.labels, tpath(dir, "y.idx.gz"));
  cfg->data.scale = SGM_SCALE_UNIT; /* range from an Allreduce */
  check_config(cfg);
  const int64_t classes[2] = {1, 3};
  tcfg_classes(cfg, 2, classes);
  cfg->data.n = 300;
  check_config(cfg);

  /* The data's range needs every shard: shard `size` of size + 1 is
   * nobody's, and every rank says so. */
  sgm_dataset_t *ds = NULL;
  ASSERT_FAILS(load_comm(MPI_COMM_WORLD, cfg, rank, size + 1, &ds),
               SGM_ERR_USAGE, "do not hold every shard");
  ASSERT_TRUE(ds == NULL);
  tcfg_free(&cfg);

  /* Three examples: with four ranks one shard is empty (and still has a
   * labels array). */
  cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, tpath(dir, "tiny.idx.gz"));
  tcfg_str(&cfg->data.labels, tpath(dir, "tinyl.idx.gz"));
  cfg->data.scale = SGM_SCALE_MINUS1_1;
  check_config(cfg);
  tcfg_free(&cfg);
}

static void test_sphere(void) {
  sgm_config_t *cfg = tcfg_new(SGM_DATA_SPHERE);
  cfg->data.n = 777;
  cfg->data.dim = 5;
  cfg->data.intrinsic = 2;
  cfg->data.seed = 3;
  check_config(cfg);
  cfg->data.n = 2; /* empty shards again */
  check_config(cfg);
  tcfg_free(&cfg);
}

/* Every rank returns code and rank 0's message; with several ranks, only
 * the last one saw the damage (the others report it as relayed). */
static void expect_agreed(int err, int code, const char *text) {
  char msg[SGM_ERROR_MESSAGE_MAX];
  snprintf(msg, sizeof msg, "%s", sgm_error_message());
  ASSERT_INT_EQ(err, code);
  ASSERT_TRUE(strstr(msg, text) != NULL);
  char root[SGM_ERROR_MESSAGE_MAX];
  memcpy(root, msg, sizeof root);
  MPI_Bcast(root, (int)sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
  ASSERT_STR_EQ(msg, root);
  if (size > 1) {
    char relayed[64];
    snprintf(relayed, sizeof relayed, "(reported by rank %d)", size - 1);
    int is_relayed = strstr(sgm_error_backtrace(), relayed) != NULL;
    ASSERT_INT_EQ(is_relayed, rank != size - 1);
  }
  sgm_error_clear();
}

static void test_errors(void) {
  enum { N = 2000, D = 8 };
  double *v = malloc(N * D * sizeof *v);
  for (int k = 0; k < N * D; k++)
    v[k] = sin(1.7 * k) * 1e3 + k; /* poorly compressible */
  const char *gz = tpath(dir, "cut.idx.gz"), *nan = tpath(dir, "nan.idx");
  if (rank == 0) {
    write_idx_f64(gz, 1, N, D, v);
    v[(N - 1) * D + 3] = NAN;
    write_idx_f64(nan, 0, N, D, v);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  sgm_config_t *cfg = tcfg_new(SGM_DATA_IDX);
  tcfg_str(&cfg->data.path, gz);
  sgm_dataset_info_t info;
  ASSERT_OK(sgm_dataset_probe(MPI_COMM_WORLD, cfg, &info));
  /* Damage after the probe, in the last rows only. */
  if (rank == 0) {
    FILE *f = fopen(gz, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    truncate_file(gz, len - 100);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  sgm_dataset_t *ds = NULL;
  sgm_error_clear();
  int err = sgm_dataset_load(MPI_COMM_WORLD, cfg, &info, rank, size, &ds);
  expect_agreed(err, SGM_ERR_INPUT, "cut.idx.gz: data end early, in example");
  ASSERT_TRUE(ds == NULL);
  sgm_dataset_info_free(&info);

  tcfg_str(&cfg->data.path, nan);
  sgm_error_clear();
  err = load_comm(MPI_COMM_WORLD, cfg, rank, size, &ds);
  expect_agreed(err, SGM_ERR_INPUT, "nan.idx: example 1999 contains NaN");
  ASSERT_TRUE(ds == NULL);

  /* A probe that fails on rank 0 fails everywhere. */
  tcfg_str(&cfg->data.path, tpath(dir, "missing.idx"));
  sgm_error_clear();
  err = sgm_dataset_probe(MPI_COMM_WORLD, cfg, &info);
  ASSERT_INT_EQ(err, SGM_ERR_IO);
  ASSERT_TRUE(strstr(sgm_error_message(), "missing.idx") != NULL);
  ASSERT_TRUE(info.index == NULL && info.n == 0);
  sgm_error_clear();
  tcfg_free(&cfg);
  free(v);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char name[64]; /* the rank counts run concurrently: one folder each */
  snprintf(name, sizeof name, "data_mpi_np%d", size);
  dir = sgm_test_tmpdir(name);
  test_fashion();
  test_idx_gz();
  test_sphere();
  test_errors();
  return sgm_test_finish();
}
