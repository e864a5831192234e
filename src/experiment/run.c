/*
 * The run: set-up (everything that can be rejected is rejected before any
 * work), the loop over the time grid, and the end.
 *
 * At each time t_k the drift is evaluated once at the particles, asking for
 * what the step, the Novikov integral and (at save steps) the diagnostics
 * need; the save step records the state at t_k with the Novikov integral up
 * to t_k; then the integral and the particles advance to t_{k+1}.  The last
 * time t_K = t_min is always saved.
 *
 * The particles go through each step in chunks (struct run's chunk): a
 * chunk's drift is evaluated and the chunk advanced before the next, so the
 * per-particle work buffers hold one chunk, whatever the particle count.  A
 * save step records what depends on the particles themselves (trajectory,
 * density, final particles) before the first chunk moves, and the
 * diagnostics of the evaluations after the last.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "experiment/experiment_impl.h"
#include "sgm/error.h"
#include "sgm/log.h"
#include "sgm/progress.h"
#include "sgm/schedule.h"

int sgm_experiment_output_path(const sgm_config_t *cfg, const char *override,
                               int64_t task, char *buf, size_t len) {
  const char *base = override ? override : cfg->run.output;
  int n;
  if (task < 0) {
    n = snprintf(buf, len, "%s", base);
  } else {
    size_t stem = strlen(base);
    if (stem >= 3 && strcmp(base + stem - 3, ".h5") == 0)
      stem -= 3;
    n = snprintf(buf, len, "%.*s.task%03" PRId64 ".h5", (int)stem, base, task);
  }
  SGM_CHECK(n >= 0 && (size_t)n < len, SGM_ERR_CONFIG,
            "output path '%s' is too long", base);
  return 0;
}

static void free_buffers(struct run *r) {
  double *d[] = {r->y,   r->s,  r->emp, r->mean,   r->pert,
                 r->err, r->nd, r->nd2, r->density};
  for (size_t i = 0; i < sizeof d / sizeof *d; i++)
    free(d[i]);
  free(r->ni);
}

/* The work space of a step (the drift outputs of a chunk of particles and
 * the score kernel's blocks and records) stays within this many bytes per
 * rank, whatever the number of particles: with the libraries' own resident
 * memory (about 22 MiB measured: Open MPI, HDF5, OpenBLAS) a rank needs
 * about 64 MiB beyond its training shard and its particles. */
#define WORK_BYTES ((double)(24 << 20))
#define MIN_CHUNK 32

/* The chunk buffers a step uses: the model mean and the perturbation for
 * the exponential integrator, the drift for Euler-Maruyama and for the
 * score error of a model other than the empirical one (with the empirical
 * score); the Novikov integral of the empirical model needs only |e|,
 * which the drift computes.  (The exponential integrator's last step,
 * which moves nothing, denoises with a drift in the model mean's buffer.) */
static void chunk_buffers(const struct run *r, bool *drift, bool *mean,
                          bool *pert, bool *emp) {
  const bool ei = r->cfg->sampler.method == SGM_METHOD_EI;
  const bool novikov = r->cfg->diagnostics.novikov;
  const bool empirical = sgm_drift_is_empirical(r->drift);
  *mean = *pert = ei;
  *emp = novikov && !empirical;
  *drift = !ei || *emp;
}

/* Particles per chunk, and chunks per step: the largest chunk whose buffers
 * and kernel work space fit WORK_BYTES (at least MIN_CHUNK), from the
 * largest row slice, agreed over the world (the work space depends on a
 * rank's shard and threads) so that every rank makes the same collective
 * calls.  Collective. */
static void plan_chunks(struct run *r) {
  bool drift, mean, pert, emp;
  chunk_buffers(r, &drift, &mean, &pert, &emp);
  const double vectors = drift + mean + pert + emp;
  const int64_t most = (r->P + r->grid->rows - 1) / r->grid->rows;
  int64_t c = most > 0 ? most : 1;
  while (c > MIN_CHUNK && vectors * sizeof(double) * r->d * c +
                                  sgm_drift_work_bytes(r->drift, c) >
                              WORK_BYTES)
    c = c * 7 / 8;
  /* For tests and tuning: SGM_CHUNK_PARTICLES sets the chunk. */
  const char *forced = getenv("SGM_CHUNK_PARTICLES");
  if (forced && atoll(forced) > 0)
    c = atoll(forced) < most ? atoll(forced) : (most > 0 ? most : 1);
  MPI_Allreduce(MPI_IN_PLACE, &c, 1, MPI_INT64_T, MPI_MIN, r->grid->world);
  /* Equal chunks: a small last one would run the kernel on thin blocks. */
  r->chunks = most > 0 ? (most + c - 1) / c : 1;
  r->chunk = most > 0 ? (most + r->chunks - 1) / r->chunks : 1;
  sgm_log(SGM_LOG_DEBUG,
          "each step takes the particles in %" PRId64
          " chunk(s) of up to %" PRId64,
          r->chunks, r->chunk);
}

static int alloc_buffers(struct run *r) {
  const size_t n = (size_t)r->count + 1;
  plan_chunks(r);
  bool drift, mean, pert, emp;
  chunk_buffers(r, &drift, &mean, &pert, &emp);
  const size_t nd = (size_t)(r->chunk * r->d) + 1;
  SGM_CALL(SGM_MALLOC(r->y, (size_t)(r->count * r->d) + 1));
  if (drift)
    SGM_CALL(SGM_MALLOC(r->s, nd));
  if (emp)
    SGM_CALL(SGM_MALLOC(r->emp, nd));
  if (mean)
    SGM_CALL(SGM_MALLOC(r->mean, nd));
  if (pert)
    SGM_CALL(SGM_MALLOC(r->pert, nd));
  SGM_CALL(SGM_MALLOC(r->err, n));
  SGM_CALL(SGM_MALLOC(r->nd, n));
  SGM_CALL(SGM_MALLOC(r->nd2, n));
  SGM_CALL(SGM_MALLOC(r->ni, n));
  size_t cells = (size_t)r->density_bins;
  if (r->density_naxes == 2)
    cells *= (size_t)r->density_bins;
  SGM_CALL(SGM_MALLOC(r->density, cells + 1));
  return 0;
}

/* Warns, before the run, when Euler-Maruyama would be unstable. */
static void check_stiffness(const struct run *r) {
  if (r->cfg->sampler.method != SGM_METHOD_EM)
    return;
  int64_t at = 0;
  double stiff = sgm_sampler_stiffness(r->sampler, &at);
  if (stiff < 2.0)
    return;
  const double *t = sgm_sampler_times(r->sampler);
  int64_t need = sgm_sampler_stable_uniform_steps(r->sampler, 100000000);
  char hint[96] = "";
  if (need > 0)
    snprintf(hint, sizeof hint, ", or steps >= %" PRId64 " on the uniform grid",
             need);
  sgm_log(SGM_LOG_WARN,
          "method = em is unstable on this grid: g^2 dt / sigma^2 reaches "
          "%.3g on the step from t = %.4g (stable below 2); use method = ei "
          "(exact for the stiff part)%s",
          stiff, t[at], hint);
}

int sgm_experiment_check_output(const char *path, bool overwrite) {
  /* The default directory, results/ under the working directory, is
   * created when missing so that a fresh checkout runs its inputs as they
   * are; any other missing directory is an error. */
  if (strncmp(path, "results/", 8) == 0 && !strchr(path + 8, '/') &&
      mkdir("results", 0777) == 0)
    sgm_log_local(SGM_LOG_INFO, "created the output directory results/");
  return sgm_output_check_path(path, overwrite);
}

/* Keys that may change between a run and its resumption: the grid (any
 * grid gives the same particles up to rounding) and the checkpointing. */
static const char *const may_change_on_resume[] = {
    "grid.rows", "run.checkpoint_every", "run.checkpoint_seconds", NULL};

/* With --resume: continue from the file's checkpoint (r->resume_step > 0),
 * start from the beginning, or skip a complete file (r->skip). */
static int plan_resume(MPI_Comm world, struct run *r) {
  const char *path = r->opt->output;
  char status[64];
  int found =
      sgm_output_read_attr(world, path, "status", status, sizeof status);
  if (found == 1 && strcmp(status, "complete") == 0) {
    sgm_log(SGM_LOG_INFO, "%s is complete: nothing to resume", path);
    /* A run killed between marking its file complete and deleting its
     * checkpoints leaves them behind. */
    sgm_checkpoint_remove(world, path);
    r->skip = true;
    return 0;
  }
  if (found != 1) {
    sgm_log(found == 0 ? SGM_LOG_INFO : SGM_LOG_WARN,
            found == 0 ? "%s does not exist yet: starting from the beginning"
                       : "%s cannot be opened (damaged): starting from the "
                         "beginning",
            path);
    return 0;
  }
  int have = sgm_checkpoint_find(world, path, &r->ckpt);
  SGM_CALL(have < 0 ? have : 0);
  if (have == 0) {
    sgm_log(SGM_LOG_INFO,
            "%s has no usable checkpoint (stopped before the first?): "
            "starting from the beginning",
            path);
    return 0;
  }
  /* Every rank holds the same texts, so every rank reaches the same
   * verdict. */
  sgm_config_t *then = NULL;
  char what[640] = "";
  int err = sgm_config_parse_text(r->ckpt.config, r->ckpt.path, &then);
  int differ = err ? err
                   : sgm_config_compare(r->cfg, then, may_change_on_resume,
                                        what, sizeof what);
  sgm_config_destroy(&then);
  if (differ > 0)
    err = sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                        "cannot resume %s: the configuration differs from its "
                        "checkpoint's (%s): %s; to start over, run with "
                        "--overwrite instead",
                        path, r->ckpt.path, what);
  else
    err = differ;
  SGM_CALL(sgm_error_agree(world, err));
  r->resume_step = r->ckpt.step;
  sgm_log(SGM_LOG_INFO, "resuming %s from step %" PRId64 " (t = %.6g) of %s",
          path, r->ckpt.step, r->ckpt.t, r->ckpt.path);
  return 0;
}

/* Reopens the results file of a resumed run and restores the particles and
 * Novikov integrals from the checkpoint.  Collective. */
static int reopen(MPI_Comm world, struct run *r) {
  int err = 0;
  if (r->ckpt.particles != r->P || r->ckpt.d != r->d)
    err = sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                        "checkpoint %s holds %" PRId64 " particles in d = %d, "
                        "the run has %" PRId64 " in d = %d",
                        r->ckpt.path, r->ckpt.particles, r->ckpt.d, r->P, r->d);
  SGM_CALL(sgm_error_agree(world, err));
  SGM_CALL(sgm_output_open(world, r->opt->output, &r->out));
  SGM_CALL(sgm__layout_reopen(r, r->ckpt.saved));
  /* r->err is free until the first step: it takes the integrals. */
  const bool novikov = r->cfg->diagnostics.novikov;
  err = sgm_checkpoint_read(&r->ckpt, r->first, r->count, r->y,
                            novikov ? r->err : NULL);
  if (!err && novikov)
    sgm_diagnostics_set_novikov(r->diag, r->err);
  return sgm_error_agree(world, err);
}

/* Creates the results file of a run that starts at the beginning: as
 * OUT.partial until its layout is written and flushed, then under its name,
 * so that a kill never leaves an OUT that does not open. */
static int create(MPI_Comm world, struct run *r) {
  /* Checkpoints of an earlier file of this name go first: they would not
   * match the new file. */
  sgm_checkpoint_remove(world, r->opt->output);
  SGM_CALL(sgm_output_create(world, r->opt->output, 1, &r->out));
  int err = sgm_error_agree(world, sgm__layout_create(r));
  if (err) {
    /* Nothing was published: the partial file goes, and a file that this
     * run was to replace stays as it was. */
    sgm__layout_close(r);
    sgm_output_close(&r->out, 0);
    return err;
  }
  err = sgm_output_publish(r->out);
  /* A failed flush is a failed write: the file cannot be closed. */
  r->out_failed = err != 0;
  return err;
}

/* Everything before the first step; all of it agreed collectively. */
static int setup(MPI_Comm world, struct run *r) {
  const sgm_config_t *cfg = r->cfg;
  int rank, err;
  MPI_Comm_rank(world, &rank);
  /* The output path first: a run that cannot write is refused at once.  A
   * resumed run may find its file there. */
  err = rank == 0 ? sgm_experiment_check_output(
                        r->opt->output, r->opt->overwrite || r->opt->resume)
                  : 0;
  SGM_CALL(sgm_error_agree(world, err));
  /* Rejected before any work, on every rank alike. */
  SGM_CHECK(!cfg->jacobian.enabled ||
                cfg->jacobian.points <= cfg->sampler.particles,
            SGM_ERR_CONFIG,
            "[jacobian] points = %d exceeds [sampler] particles = %lld: the "
            "analysis takes the first particles of the run",
            cfg->jacobian.points, (long long)cfg->sampler.particles);
  if (r->opt->resume) {
    SGM_CALL(plan_resume(world, r));
    if (r->skip)
      return 0;
  }
  SGM_CALL(sgm_dataset_probe(world, cfg, &r->info));
  int world_size = 0;
  MPI_Comm_size(world, &world_size);
  SGM_CALL(sgm_grid_create(world, sgm__jacobian_grid_rows(cfg, world_size),
                           r->info.n, &r->grid));
  SGM_CALL(sgm_dataset_load(world, cfg, &r->info, r->grid->my_col,
                            r->grid->cols, &r->data));
  r->d = r->data->d;
  r->P = cfg->sampler.particles;
  sgm_grid_block(r->P, r->grid->rows, r->grid->my_row, &r->first, &r->count);
  r->writer_count = r->grid->my_col == 0 ? r->count : 0;
  err = sgm_drift_create(cfg, r->data, r->grid->row, &r->drift);
  if (!err)
    err = sgm_sampler_create(cfg, r->drift, &r->sampler);
  SGM_CALL(sgm_error_agree(world, err));
  if (cfg->jacobian.enabled)
    SGM_CALL(sgm__jacobian_run_open(world, r));
  if (!err)
    err = sgm_diagnostics_create(cfg, r->grid->col, r->P, r->count, r->d,
                                 &r->diag);
  if (!err) {
    sgm_diagnostics_density_shape(r->diag, &r->density_naxes, &r->density_bins);
    err = alloc_buffers(r);
    if (err < 0)
      sgm_error_prefix(err,
                       "[sampler] particles = %" PRId64 " (%" PRId64
                       " on this rank) in d = %d",
                       r->P, r->count, r->d);
  }
  SGM_CALL(sgm_error_agree(world, err));
  check_stiffness(r);
  char grid_text[32];
  sgm_log(SGM_LOG_INFO, "%s; grid %s (%d ranks); drift %s",
          r->data->description,
          sgm_grid_describe(r->grid, grid_text, sizeof grid_text),
          r->grid->size, sgm_drift_describe(r->drift));
  if (r->resume_step > 0 && (err = reopen(world, r)) != 0) {
    /* The checkpoint is fine but the results file cannot continue from it
     * (damaged by a kill during a write, say): the run starts over, which
     * gives the same result, only later. */
    sgm_log(SGM_LOG_WARN,
            "cannot continue %s from its checkpoint (%s): starting from the "
            "beginning",
            r->opt->output, sgm_error_message());
    sgm__layout_close(r);
    sgm_output_close(&r->out, 1);
    sgm_error_clear();
    memset(&r->series, 0, sizeof r->series);
    r->resume_step = 0;
  }
  return r->out ? 0 : create(world, r);
}

/* What the drift evaluation at step k must produce, for the chunk of n
 * particles from offset c0 of this rank's slice: the drift outputs in the
 * chunk buffers, the nearest examples in the slice's arrays. */
struct plan {
  sgm_drift_out_t out;
  bool save;  /* record this step */
  bool error; /* compute |s - grad log p^| (Novikov) */
};

static struct plan plan_step(struct run *r, int64_t k, int64_t c0) {
  const int64_t K = sgm_sampler_steps(r->sampler);
  struct plan p = {.save = k % r->cfg->output.every == 0 || k == K};
  sgm_sampler_request(r->sampler, &p.out, r->s, r->mean, r->pert);
  if (!r->s && k == K) { /* ei: nothing moves; the drift denoises */
    p.out = (sgm_drift_out_t){.drift = r->mean};
  }
  /* The score error: the perturbation alone when the model is the
   * empirical score, else the empirical score from a second head. */
  p.error = r->cfg->diagnostics.novikov;
  if (p.error && sgm_drift_is_empirical(r->drift) && !p.out.perturbation)
    p.out.perturbation_norm = r->err + c0;
  else if (p.error && !sgm_drift_is_empirical(r->drift))
    p.out.empirical = r->emp;
  if (p.save && r->cfg->diagnostics.nearest)
    p.out.nearest = (sgm_nearest_t){.index = r->ni + c0,
                                    .distance = r->nd + c0,
                                    .second_distance = r->nd2 + c0};
  return p;
}

/* |s - grad log p^| of n particles into err (the drift wrote it already
 * when it was asked for |e| alone). */
static void score_error(const struct run *r, int64_t n,
                        const sgm_drift_out_t *out, double *err) {
  if (out->empirical) {
    sgm_diagnostics_score_error(n, r->d, out->drift, out->empirical, err);
    return;
  }
  if (out->perturbation_norm)
    return;
  /* empirical model: s - grad log p^ = e */
  for (int64_t i = 0; i < n; i++) {
    double acc = 0.0;
    for (int j = 0; j < r->d; j++)
      acc += out->perturbation[i * r->d + j] * out->perturbation[i * r->d + j];
    err[i] = sqrt(acc);
  }
}

/* The first part of save step t: what depends on the particles at t. */
static int save_state(struct run *r, double t) {
  int err = 0;
  if (r->density_naxes > 0)
    err = sgm_diagnostics_density(r->diag, r->y, r->density);
  SGM_CALL(sgm_error_agree(r->grid->world, err));
  return sgm__layout_record_state(r, t);
}

/* The second part: the diagnostics of the step's evaluations. */
static int save_diagnostics(struct run *r, const struct plan *p) {
  sgm_diag_summary_t sum;
  const bool nearest = p->out.nearest.distance != NULL;
  int err = sgm_diagnostics_summarize(r->diag, nearest ? r->nd : NULL,
                                      nearest ? r->nd2 : NULL,
                                      p->error ? r->err : NULL, &sum);
  SGM_CALL(sgm_error_agree(r->grid->world, err));
  return sgm__layout_record_diagnostics(r, &sum);
}

/* Writes the checkpoint of the state after `done` steps, at time t. */
static int checkpoint(struct run *r, int64_t done, double t) {
  const bool novikov = r->cfg->diagnostics.novikov;
  SGM_CALL(
      sgm_checkpoint_write(r->grid->world, r->opt->output, r->cfg->resolved,
                           done, sgm_series_length(r->series.time), t, r->P,
                           r->d, r->first, r->writer_count, r->y,
                           novikov ? sgm_diagnostics_novikov(r->diag) : NULL));
  sgm_log(SGM_LOG_DEBUG, "checkpoint after step %" PRId64 " (t = %.6g)", done,
          t);
  return 0;
}

/*
 * At the boundary after `done` steps, all ranks agree (one small allreduce)
 * on whether a checkpoint is due: every checkpoint_every steps, after
 * checkpoint_seconds of wall time (rank 0's clock), or because a signal asked
 * some rank to stop (*stop is then set).
 */
static int step_boundary(struct run *r, int64_t done, double t, double *last,
                         bool *stop) {
  enum { SIGNALLED = 1, TIMED = 2, COUNTED = 4 };
  const sgm_config_t *cfg = r->cfg;
  int flags = 0;
  if (r->opt->stop && *r->opt->stop)
    flags |= SIGNALLED;
  if (r->grid->rank == 0 && cfg->run.checkpoint_seconds > 0 &&
      MPI_Wtime() - *last >= cfg->run.checkpoint_seconds)
    flags |= TIMED;
  if (cfg->run.checkpoint_every > 0 && done % cfg->run.checkpoint_every == 0)
    flags |= COUNTED;
  MPI_Allreduce(MPI_IN_PLACE, &flags, 1, MPI_INT, MPI_BOR, r->grid->world);
  *stop = flags & SIGNALLED;
  if (flags == 0)
    return 0;
  SGM_CALL(checkpoint(r, done, t));
  *last = MPI_Wtime();
  return 0;
}

/* The drift alone at (x, t) for n of the row's particles, chunk by chunk:
 * the further evaluations of a multi-stage step (ode, pc).  Collective over
 * the row (the rows of a grid may make different numbers of them: rk45). */
static int eval_stage(void *ctx, double t, int64_t n, const double *x,
                      double *s) {
  struct run *r = ctx;
  int err = 0;
  const double t0 = MPI_Wtime();
  for (int64_t c0 = 0; c0 < n && !err; c0 += r->chunk) {
    const int64_t m = n - c0 < r->chunk ? n - c0 : r->chunk;
    sgm_drift_out_t out = {.drift = s + c0 * r->d};
    r->stage_flops += sgm_drift_flops(r->drift, m, &out);
    err = sgm_error_agree(r->grid->row,
                          sgm_drift_eval(r->drift, t, m, x + c0 * r->d, &out));
  }
  r->stage_seconds += MPI_Wtime() - t0;
  return err;
}

/* Step k at time tk, chunk by chunk: each chunk's drift evaluation, score
 * error, and move to t_{k+1} (at the last time, its denoising in place);
 * then the step's whole-slice part (rk45, pc's corrector).  Adds
 * this rank's flops and drift time; *p is the last chunk's plan (the
 * step's outputs).  Collective. */
static int step_chunks(struct run *r, int64_t k, double tk, struct plan *p,
                       double *flops, double *t_drift) {
  const int64_t K = sgm_sampler_steps(r->sampler);
  const sgm_sampler_drift_t stage = {eval_stage, r, r->grid->col};
  r->stage_flops = r->stage_seconds = 0.0;
  int err = 0;
  for (int64_t c = 0; c < r->chunks && !err; c++) {
    /* Chunks past the end of this rank's slice are empty. */
    const int64_t c0 = c * r->chunk < r->count ? c * r->chunk : r->count;
    const int64_t n = r->count - c0 < r->chunk ? r->count - c0 : r->chunk;
    *p = plan_step(r, k, c0);
    sgm_drift_out_t *out = &p->out;
    double *yc = r->y + c0 * r->d;
    *flops += sgm_drift_flops(r->drift, n, out);
    double t0 = MPI_Wtime();
    err = sgm_drift_eval(r->drift, tk, n, yc, out);
    *t_drift += MPI_Wtime() - t0;
    if ((err = sgm_error_agree(r->grid->world, err)) != 0)
      break;
    if (p->error)
      score_error(r, n, out, r->err + c0);
    if (k == K && r->cfg->sampler.denoise)
      sgm_sampler_denoise(r->sampler, n, yc, out->drift, yc);
    else if (k < K)
      err = sgm_sampler_step(r->sampler, k, r->first + c0, n, yc, out, &stage);
    err = sgm_error_agree(r->grid->world, err);
  }
  if (!err && k < K)
    err = sgm_error_agree(r->grid->world,
                          sgm_sampler_finish_step(r->sampler, k, r->first,
                                                  r->count, r->y, &stage));
  *flops += r->stage_flops;
  *t_drift += r->stage_seconds;
  return err;
}

static int loop(struct run *r) {
  const int64_t K = sgm_sampler_steps(r->sampler);
  const double *t = sgm_sampler_times(r->sampler);
  sgm_schedule_t sched;
  sgm_schedule_init(&sched, r->cfg);
  int rank = r->grid->rank;
  char label[160];
  if (r->opt->task >= 0)
    snprintf(label, sizeof label, "%s task %" PRId64, r->cfg->run.name,
             r->opt->task);
  else
    snprintf(label, sizeof label, "%s", r->cfg->run.name);
  sgm_progress_t *progress = NULL;
  SGM_CALL(
      sgm_progress_create(label, K, rank == 0 && !r->opt->quiet, &progress));
  const int64_t k0 = r->resume_step;
  int err = 0;
  if (k0 > 0)
    sgm_progress_start_at(progress, k0);
  else
    err = sgm_sampler_prior(r->sampler, r->data, r->grid->row, r->first,
                            r->count, r->y);
  err = sgm_error_agree(r->grid->world, err);
  double last_checkpoint = MPI_Wtime();
  double particle_steps = 0.0, flops = 0.0;
  /* Where the time goes: drift evaluations, saving, and the rest (the
   * sampler's steps and the per-step diagnostics). */
  double t_drift = 0.0, t_save = 0.0, t_start = MPI_Wtime();
  for (int64_t k = k0; k <= K && !err; k++) {
    const bool save = k % r->cfg->output.every == 0 || k == K;
    if ((err = sgm__jacobian_run_step(r, k, t[k])) != 0) {
      r->out_failed = err == SGM_ERR_HDF5 || err == SGM_ERR_IO;
      break;
    }
    double t0 = MPI_Wtime();
    if (save && (err = save_state(r, t[k])) == 0 && k == K)
      err = sgm__layout_final(r);
    t_save += MPI_Wtime() - t0;
    if (err) {
      r->out_failed = err == SGM_ERR_HDF5 || err == SGM_ERR_IO;
      break;
    }
    struct plan p = {0};
    double local = 0.0, total = 0.0;
    if ((err = step_chunks(r, k, t[k], &p, &local, &t_drift)) != 0) {
      /* The step's state went in before its evaluation failed: take it
       * out, so that every series of the failed file ends at the same
       * save step. */
      if (save && sgm__layout_unrecord_state(r) != 0)
        r->out_failed = true;
      break;
    }
    MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, r->grid->world);
    flops += total;
    t0 = MPI_Wtime();
    if (save && (err = save_diagnostics(r, &p)) == 0 && k == K &&
        r->cfg->sampler.denoise)
      err = sgm__layout_denoised(r, r->y);
    t_save += MPI_Wtime() - t0;
    if (err || k == K) {
      r->out_failed = err == SGM_ERR_HDF5 || err == SGM_ERR_IO;
      break;
    }
    if (r->cfg->diagnostics.novikov)
      sgm_diagnostics_novikov_step(r->diag, sgm_schedule_g2(&sched, t[k]),
                                   t[k] - t[k + 1], r->err);
    particle_steps += (double)r->P;
    sgm_progress_update(progress, k + 1, t[k + 1],
                        sqrt(sgm_schedule_var(&sched, t[k + 1])),
                        particle_steps, flops);
    bool stop = false;
    err = step_boundary(r, k + 1, t[k + 1], &last_checkpoint, &stop);
    if (!err && stop)
      err = sgm_error_set(SGM_ERR_INTERRUPTED, __FILE__, __LINE__, __func__,
                          "stopped by a signal after step %" PRId64
                          " of %" PRId64 "; checkpoint %s.ckpt written; "
                          "continue with --resume",
                          k + 1, K, r->opt->output);
  }
  sgm_progress_finish(&progress, particle_steps, flops);
  if (!err)
    sgm__run_report(r, MPI_Wtime() - t_start, t_drift, t_save, K - k0);
  return err;
}

static void teardown(struct run *r) {
  sgm__layout_close(r);
  sgm__jacobian_close(&r->jac);
  free(r->jac_step);
  free_buffers(r);
  sgm_diagnostics_destroy(&r->diag);
  sgm_sampler_destroy(&r->sampler);
  sgm_drift_destroy(&r->drift);
  sgm_dataset_destroy(&r->data);
  sgm_dataset_info_free(&r->info);
  sgm_grid_destroy(&r->grid);
}

int sgm_experiment_run(MPI_Comm world, const sgm_config_t *cfg,
                       const struct sgm_run_options *opt) {
  if (opt->points)
    return sgm__experiment_points(world, cfg, opt);
  struct run r = {.cfg = cfg, .opt = opt};
  int err = setup(world, &r);
  if (!err && !r.skip)
    err = loop(&r);
  if (r.out && r.out_failed) {
    /* Parallel HDF5 cannot close a file after a failed write; it stays as
     * of its last flush, and the last checkpoint continues it. */
    sgm_output_abandon(&r.out);
    memset(&r.series, 0, sizeof r.series);
  } else if (r.out) {
    /* The message of a failure is kept: the status update and the close
     * must not replace it. */
    int status = sgm_output_set_status(r.out, !err ? "complete"
                                              : err == SGM_ERR_INTERRUPTED
                                                  ? "interrupted"
                                                  : "failed");
    sgm__layout_close(&r);
    int closed = sgm_output_close(&r.out, 1);
    if (!err)
      err = status ? status : closed;
  }
  /* A complete file needs no checkpoint; a failed or interrupted one keeps
   * its last. */
  if (!err && !r.skip)
    sgm_checkpoint_remove(world, opt->output);
  teardown(&r);
  sgm_checkpoint_info_free(&r.ckpt);
  if (!err && !r.skip)
    sgm_log(SGM_LOG_INFO, "wrote %s", opt->output);
  return err;
}
