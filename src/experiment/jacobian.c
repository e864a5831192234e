/*
 * The Jacobian analysis of a run (DESIGN.md "Jacobian analysis"): at each
 * listed time, the points of every grid row go through the row's
 * sub-grids (jacobian.h) in rounds, each sub-grid's root keeps its points'
 * results, and one collective write per dataset puts the time's slab under
 * /jacobian/ (INTERFACE.md).  The datasets have a fixed shape (listed
 * times x points x ...), slab j holding listed time j whatever order the
 * times are reached in, and read NaN (-1 for local_dimension) until
 * written.
 *
 * The points of row r are the analysed points it holds; within the row,
 * sub-grid g takes a contiguous block of them (sgm_grid_block), one per
 * round, so that each root writes one contiguous range of points.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment_impl.h"
#include "sgm/error.h"
#include "sgm/log.h"
#include "sgm/schedule.h"

enum { Q_SINGULAR, Q_EIGEN, Q_COSINES, Q_UV, Q_UW, Q_VW, Q_POINTS, Q_COUNT };

struct sgm__jac_run {
  sgm_jacobian_t *jac;
  const sgm_config_t *cfg;
  sgm_schedule_t sched;
  MPI_Comm world;
  int d, nt;
  int64_t M;                    /* points analysed (all rows) */
  int64_t row_first, row_count; /* this row's points */
  int parallel, sub, is_root;
  int64_t sub_first, sub_count; /* this sub-grid's points (global) */
  int64_t sub_offset;           /* ... from the row's first */
  int rounds;
  sgm_array_t *times, *variance, *local_dimension;
  sgm_array_t *q[Q_COUNT];
  sgm_array_t *named[SGM_NAMED_COUNT];
  sgm_array_t *all[3];
  /* The root's results of one time: sub_count rows each. */
  double *buf[Q_COUNT];
  double *nbuf[SGM_NAMED_COUNT];
  double *abuf[3];
  int64_t *ld;
  double *x;      /* one round's points */
  int64_t *label; /* and their indices */
};

static const struct {
  const char *name, *description, *units;
} quantity[Q_COUNT] = {
    {"jacobian/singular_values",
     "singular values s_i of the drift's Jacobian J = grad_x g(x), ascending",
     "1/data units^2"},
    {"jacobian/eigenvalues",
     "eigenvalues of (J + J^T)/2, ordered by |lambda| ascending",
     "1/data units^2"},
    {"jacobian/cosines",
     "u_i . v_i, left and right singular vectors of the same s_i (ascending)",
     "cosine"},
    {"jacobian/overlap_uv",
     "Phi_n^{u,v} = (1/n) sum_{j,k <= n} (v_k . u_j)^2 for n = 1..d (the "
     "subspaces of the n smallest singular values)",
     "fraction"},
    {"jacobian/overlap_uw",
     "Phi_n^{u,w}: left singular vectors (ascending s) against eigenvectors "
     "w (ascending |lambda|), n = 1..d",
     "fraction"},
    {"jacobian/overlap_vw",
     "Phi_n^{v,w}: right singular vectors against eigenvectors w, n = 1..d",
     "fraction"},
    {"jacobian/points", "the analysed points x at each listed time",
     "data units"}};

static const char *const named_description[SGM_NAMED_COUNT] = {
    "u_-: left singular vector of the smallest singular value",
    "v_-: right singular vector of the smallest singular value",
    "w_0: eigenvector of (J + J^T)/2 of the smallest |eigenvalue|",
    "u_+: left singular vector of the largest singular value",
    "v_+: right singular vector of the largest singular value",
    "w_-: eigenvector of (J + J^T)/2 of the most negative eigenvalue",
    "w_+: eigenvector of (J + J^T)/2 of the most positive eigenvalue"};

void sgm__jacobian_close_datasets(struct sgm__jac_run *J) {
  sgm_array_close(&J->times);
  sgm_array_close(&J->variance);
  sgm_array_close(&J->local_dimension);
  for (int i = 0; i < Q_COUNT; i++)
    sgm_array_close(&J->q[i]);
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    sgm_array_close(&J->named[i]);
  for (int i = 0; i < 3; i++)
    sgm_array_close(&J->all[i]);
}

void sgm__jacobian_close(struct sgm__jac_run **handle) {
  if (!handle || !*handle)
    return;
  struct sgm__jac_run *J = *handle;
  sgm__jacobian_close_datasets(J);
  for (int i = 0; i < Q_COUNT; i++)
    free(J->buf[i]);
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    free(J->nbuf[i]);
  for (int i = 0; i < 3; i++)
    free(J->abuf[i]);
  free(J->ld);
  free(J->x);
  free(J->label);
  sgm_jacobian_destroy(&J->jac);
  free(J);
  *handle = NULL;
}

int sgm__jacobian_open(MPI_Comm world, const sgm_config_t *cfg,
                       const sgm_grid_t *grid, sgm_drift_t *drift, int64_t M,
                       int64_t row_first, int64_t row_count,
                       struct sgm__jac_run **out) {
  *out = NULL;
  struct sgm__jac_run *J = NULL;
  int err = SGM_CALLOC(J, 1);
  SGM_CALL(sgm_error_agree(world, err));
  J->cfg = cfg;
  sgm_schedule_init(&J->sched, cfg);
  J->world = world;
  J->d = sgm_drift_dim(drift);
  J->nt = cfg->jacobian.times.count;
  J->M = M;
  J->row_first = row_first;
  J->row_count = row_count;
  err = sgm_jacobian_create(cfg, drift, grid->row, &J->jac);
  /* The rows fail alike (same configuration); agree over the world. */
  if ((err = sgm_error_agree(world, err)) != 0)
    goto fail;
  J->parallel = sgm_jacobian_parallel(J->jac);
  J->sub = sgm_jacobian_subgrid(J->jac, &J->is_root);
  J->rounds = (int)((row_count + J->parallel - 1) / J->parallel);
  if (J->sub >= 0) {
    sgm_grid_block(row_count, J->parallel, J->sub, &J->sub_offset,
                   &J->sub_count);
    J->sub_first = row_first + J->sub_offset;
  }
  const size_t d = (size_t)J->d, n = (size_t)(J->is_root ? J->sub_count : 0);
  const int keep = cfg->jacobian.save_vectors;
  for (int i = 0; i < Q_COUNT && !err; i++)
    err = SGM_MALLOC(J->buf[i], n * d + 1);
  for (int i = 0; i < SGM_NAMED_COUNT && !err; i++)
    if (keep != SGM_SAVE_VECTORS_NONE)
      err = SGM_MALLOC(J->nbuf[i], n * d + 1);
  for (int i = 0; i < 3 && !err; i++)
    if (keep == SGM_SAVE_VECTORS_ALL)
      err = SGM_MALLOC(J->abuf[i], n * d * d + 1);
  if (!err)
    err = SGM_MALLOC(J->ld, n + 1);
  if (!err)
    err = SGM_MALLOC(J->x, (size_t)J->parallel * d + 1);
  if (!err)
    err = SGM_MALLOC(J->label, (size_t)J->parallel + 1);
  if (err)
    sgm_error_prefix(err,
                     "the Jacobian analysis's buffers (%lld points of "
                     "d = %d on this rank)",
                     (long long)n, J->d);
  if ((err = sgm_error_agree(world, err)) != 0)
    goto fail;
  char text[32];
  sgm_log(SGM_LOG_INFO,
          "Jacobian analysis: %lld points at %d times, method %s, sub-grids "
          "%s (%d per row of %d ranks), block %d",
          (long long)M, J->nt,
          cfg->jacobian.method == SGM_JACOBIAN_FD ? "fd" : "analytic",
          sgm_jacobian_describe(J->jac, text, sizeof text), J->parallel,
          grid->cols, cfg->jacobian.block);
  *out = J;
  return 0;
fail:
  sgm__jacobian_close(&J);
  return err;
}

/* The datasets, created (create) or reopened. */
static int datasets(struct sgm__jac_run *J, sgm_output_t *out, bool create) {
  const int64_t nt = J->nt, M = J->M, d = J->d;
  const int64_t shape[3] = {nt, M, d}, shape4[4] = {nt, M, d, d};
  const hid_t dbl = H5T_NATIVE_DOUBLE, i64 = H5T_NATIVE_INT64;
  const int keep = J->cfg->jacobian.save_vectors;
#define ARRAY(slot, name, type, ndims, dims, description, units)               \
  SGM_CALL(create ? sgm_array_create(out, name, type, ndims, dims,             \
                                     description, units, slot)                 \
                  : sgm_array_open(out, name, slot))
  ARRAY(&J->times, "jacobian/times", dbl, 1, shape,
        "forward time t of each listed analysis time (the sampler's grid time "
        "nearest to it in a run; NaN until analysed)",
        "SDE time");
  ARRAY(&J->variance, "jacobian/noise_variance", dbl, 1, shape,
        "sigma_t^2, the forward marginal noise variance at each time (the "
        "local dimension counts 1/s_i >= (1 + kappa) sigma_t^2)",
        "data units^2");
  ARRAY(&J->local_dimension, "jacobian/local_dimension", i64, 2, shape,
        "local dimension r_t = #{i : 1/s_i >= (1 + kappa) sigma_t^2}", "count");
  for (int i = 0; i < Q_COUNT; i++)
    ARRAY(&J->q[i], quantity[i].name, dbl, 3, shape, quantity[i].description,
          quantity[i].units);
  for (int i = 0; i < SGM_NAMED_COUNT && keep != SGM_SAVE_VECTORS_NONE; i++) {
    char name[64];
    snprintf(name, sizeof name, "jacobian/vectors/%s",
             sgm_named_vector_names[i]);
    ARRAY(&J->named[i], name, dbl, 3, shape, named_description[i],
          "unit vector");
  }
  static const char *const all_names[3] = {
      "jacobian/vectors/u", "jacobian/vectors/v", "jacobian/vectors/w"};
  static const char *const all_description[3] = {
      "every left singular vector u_i (axis 2: i, s ascending)",
      "every right singular vector v_i (axis 2: i, s ascending)",
      "every eigenvector w_i of (J + J^T)/2 (axis 2: i, |lambda| ascending)"};
  for (int i = 0; i < 3 && keep == SGM_SAVE_VECTORS_ALL; i++)
    ARRAY(&J->all[i], all_names[i], dbl, 4, shape4, all_description[i],
          "unit vector");
#undef ARRAY
  return 0;
}

int sgm__jacobian_layout(struct sgm__jac_run *J, sgm_output_t *out,
                         bool create) {
  SGM_CALL(datasets(J, out, create));
  if (!create)
    return 0;
  /* The group's own description and settings. */
  hid_t g = H5Gopen2(sgm_output_file(out), "jacobian", H5P_DEFAULT);
  int err = g >= 0 ? 0
                   : sgm_error_set(SGM_ERR_HDF5, __FILE__, __LINE__, __func__,
                                   "cannot reopen /jacobian");
  char text[64];
  if (!err)
    err = sgm_output_attr_string(
        g, "description",
        "local geometry of the drift: SVD of its Jacobian J = grad_x g(x) and "
        "eigen-decomposition of (J + J^T)/2 at each listed time (axis 0) and "
        "analysed point (axis 1: the particle index in a run, the row of "
        "--points otherwise)");
  if (!err)
    err = sgm_output_attr_string(
        g, "method",
        J->cfg->jacobian.method == SGM_JACOBIAN_FD ? "fd" : "analytic");
  if (!err)
    err = sgm_output_attr_string(
        g, "grid", sgm_jacobian_describe(J->jac, text, sizeof text));
  if (!err)
    err = sgm_output_attr_int64(g, "block", J->cfg->jacobian.block);
  if (!err)
    err = sgm_output_attr_double(g, "kappa", J->cfg->jacobian.kappa);
  if (g >= 0)
    H5Gclose(g);
  return sgm_error_agree(J->world, err);
}

/* Copies a root's result for its point `row` of this time. */
static void keep_result(struct sgm__jac_run *J, int64_t row,
                        const sgm_spectra_t *s, const double *x) {
  const size_t d = (size_t)J->d, at = (size_t)row * d;
  const double *src[Q_COUNT] = {
      s->singular,   s->eigen,      s->cosines, s->overlap_uv,
      s->overlap_uw, s->overlap_vw, x};
  for (int i = 0; i < Q_COUNT; i++)
    memcpy(J->buf[i] + at, src[i], d * sizeof(double));
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    if (J->nbuf[i])
      memcpy(J->nbuf[i] + at, s->named[i], d * sizeof(double));
  const double *all[3] = {s->u, s->v, s->w};
  for (int i = 0; i < 3; i++)
    if (J->abuf[i])
      memcpy(J->abuf[i] + at * d, all[i], d * d * sizeof(double));
  J->ld[row] = s->local_dimension;
}

int sgm__jacobian_time(struct sgm__jac_run *J, int j, double t, const double *y,
                       sgm_output_t *out) {
  const size_t d = (size_t)J->d;
  int err = 0;
  for (int r = 0; r < J->rounds && !err; r++) {
    /* Sub-grid g takes point offset_g + r of the row; the ones with a point
     * this round come first (sgm_grid_block gives the extra to the first). */
    int n = 0;
    for (int g = 0; g < J->parallel; g++) {
      int64_t first, count;
      sgm_grid_block(J->row_count, J->parallel, g, &first, &count);
      if (r >= count)
        break;
      memcpy(J->x + (size_t)n * d, y + (size_t)(first + r) * d,
             d * sizeof(double));
      J->label[n++] = J->row_first + first + r;
    }
    sgm_spectra_t s;
    err = sgm_jacobian_analyse(J->jac, t, n, J->x, J->label, &s);
    if (!err && J->is_root && J->sub < n)
      keep_result(J, r, &s, J->x + (size_t)J->sub * d);
    sgm_spectra_free(&s);
  }
  /* The rows may fail differently: agree over the world before writing. */
  SGM_CALL(sgm_error_agree(J->world, err));
  int rank = 0;
  MPI_Comm_rank(J->world, &rank);
  const double sigma2 = sgm_schedule_var(&J->sched, t);
  /* A sub-grid without points (a row holding fewer than its sub-grids, or
   * none) writes nothing. */
  const int64_t count = J->is_root ? J->sub_count : 0;
  const int64_t first = count > 0 ? J->sub_first : 0;
  const hid_t dbl = H5T_NATIVE_DOUBLE;
  SGM_CALL(sgm_array_write(J->times, j, 0, rank == 0, dbl, &t));
  SGM_CALL(sgm_array_write(J->variance, j, 0, rank == 0, dbl, &sigma2));
  SGM_CALL(sgm_array_write(J->local_dimension, j, first, count,
                           H5T_NATIVE_INT64, J->ld));
  for (int i = 0; i < Q_COUNT; i++)
    SGM_CALL(sgm_array_write(J->q[i], j, first, count, dbl, J->buf[i]));
  for (int i = 0; i < SGM_NAMED_COUNT; i++)
    if (J->named[i])
      SGM_CALL(sgm_array_write(J->named[i], j, first, count, dbl, J->nbuf[i]));
  for (int i = 0; i < 3; i++)
    if (J->all[i])
      SGM_CALL(sgm_array_write(J->all[i], j, first, count, dbl, J->abuf[i]));
  return sgm_output_flush(out);
}

int sgm__jacobian_grid_rows(const sgm_config_t *cfg, int world_size) {
  const int size = cfg->jacobian.grid_p * cfg->jacobian.grid_q;
  if (cfg->grid.rows > 0 || !cfg->jacobian.enabled || size <= 0)
    return cfg->grid.rows;
  for (int cols = size; cols <= world_size; cols += size)
    if (world_size % cols == 0)
      return world_size / cols;
  return 1;
}

int sgm__jacobian_steps(const sgm_config_t *cfg, const double *t, int64_t K,
                        int64_t *steps) {
  const struct sgm_real_list *times = &cfg->jacobian.times;
  for (int j = 0; j < times->count; j++) {
    int64_t best = 0;
    for (int64_t k = 1; k <= K; k++)
      if (fabs(t[k] - times->values[j]) < fabs(t[best] - times->values[j]))
        best = k;
    steps[j] = best;
  }
  return 0;
}

/* ---- A run's analysis (run.c calls these) ------------------------------ */

/* The Jacobian analysis of the first [jacobian] points particles, at the
 * grid times nearest the listed ones.  Collective. */
int sgm__jacobian_run_open(MPI_Comm world, struct run *r) {
  const sgm_config_t *cfg = r->cfg;
  const int64_t M = cfg->jacobian.points;
  const int64_t end = r->first + r->count < M ? r->first + r->count : M;
  SGM_CALL(sgm__jacobian_open(world, cfg, r->grid, r->drift, M, r->first,
                              end > r->first ? end - r->first : 0, &r->jac));
  int err = SGM_MALLOC(r->jac_step, (size_t)cfg->jacobian.times.count + 1);
  if (!err)
    sgm__jacobian_steps(cfg, sgm_sampler_times(r->sampler),
                        sgm_sampler_steps(r->sampler), r->jac_step);
  return sgm_error_agree(world, err);
}

/* The listed times analysed at step k (the state at t_k, before the step
 * moves it).  Collective. */
int sgm__jacobian_run_step(struct run *r, int64_t k, double tk) {
  if (!r->jac)
    return 0;
  for (int j = 0; j < r->cfg->jacobian.times.count; j++) {
    if (r->jac_step[j] != k)
      continue;
    double t0 = MPI_Wtime();
    SGM_CALL(sgm__jacobian_time(r->jac, j, tk, r->y, r->out));
    const double spent = MPI_Wtime() - t0;
    r->t_jacobian += spent;
    sgm_log(SGM_LOG_INFO,
            "Jacobian analysis at t = %.4g (listed %g): %d points in %.3g s",
            tk, r->cfg->jacobian.times.values[j], r->cfg->jacobian.points,
            spent);
  }
  return 0;
}
