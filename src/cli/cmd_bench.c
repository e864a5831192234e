/*
 * sgmrun bench: the mixture kernel's speed beside OpenBLAS DGEMM on the same
 * shapes, measured in the same run.
 *
 * For each (N, d) the training set (uniform on [-1, 1]^d) is sharded over the
 * grid's columns and P particles over its rows, as in a real run.  The kernel
 * does 4 P N d flops per evaluation (two products per centre and particle);
 * the DGEMM reference multiplies each rank's particles by its shard once
 * (2 P N d flops).  Rates are aggregate over all ranks: total flops divided
 * by the slowest rank's time, best of --repeat; the ratio is the median of
 * the repeats' ratios (each repeat times both back to back).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sgm/error.h"
#include "sgm/grid.h"
#include "sgm/mixture.h"
#include "sgm/rng.h"

int openblas_get_num_threads(void);

#define MAX_SHAPES 16

struct bench_options {
  int64_t particles, repeat, rows, seed;
  int nshapes;
  int64_t n[MAX_SHAPES], d[MAX_SHAPES];
  int nearest, heads, particle_block, centre_block, float32;
  /* --model: the communication model for a machine, instead of timings */
  int model;
  double m_ranks, m_n, m_d, m_beta, m_gflops, m_memory;
};

static int parse_shapes(const char *text, struct bench_options *o) {
  o->nshapes = 0;
  const char *s = text;
  while (*s) {
    long long n = 0, d = 0;
    int used = 0;
    SGM_CHECK(
        o->nshapes < MAX_SHAPES &&
            sscanf(s, "%lldx%lld%n", &n, &d, &used) == 2 && n > 0 && d > 0,
        SGM_ERR_USAGE,
        "bench: --shapes '%s': expected NxD[,NxD...] with N, D > 0", text);
    o->n[o->nshapes] = n;
    o->d[o->nshapes++] = d;
    s += used;
    SGM_CHECK(*s == '\0' || *s == ',', SGM_ERR_USAGE,
              "bench: --shapes '%s': expected NxD[,NxD...]", text);
    if (*s == ',')
      s++;
  }
  return 0;
}

static int bench_option(const char *name, const char *value, void *ctx) {
  struct bench_options *o = ctx;
  int64_t v = 0;
  if (strcmp(name, "shapes") == 0) {
    SGM_CHECK(value, SGM_ERR_USAGE, "bench: --shapes needs a value");
    SGM_CALL(parse_shapes(value, o));
    return 1;
  }
  if (strcmp(name, "nearest") == 0 || strcmp(name, "float32") == 0) {
    SGM_CHECK(value && (!strcmp(value, "yes") || !strcmp(value, "no")),
              SGM_ERR_USAGE, "bench: --%s takes yes or no", name);
    *(name[0] == 'n' ? &o->nearest : &o->float32) = strcmp(value, "yes") == 0;
    return 1;
  }
  if (strcmp(name, "model") == 0) {
    o->model = 1;
    return 0;
  }
  double *real = strcmp(name, "ranks") == 0              ? &o->m_ranks
                 : strcmp(name, "n") == 0                ? &o->m_n
                 : strcmp(name, "dim") == 0              ? &o->m_d
                 : strcmp(name, "seconds-per-byte") == 0 ? &o->m_beta
                 : strcmp(name, "rank-gflops") == 0      ? &o->m_gflops
                 : strcmp(name, "rank-memory") == 0      ? &o->m_memory
                                                         : NULL;
  if (real) {
    SGM_CALL(cli_real(name, value, real));
    SGM_CHECK(*real > 0, SGM_ERR_USAGE, "bench: --%s must be > 0", name);
    return 1;
  }
  int64_t *slot = strcmp(name, "particles") == 0 ? &o->particles
                  : strcmp(name, "repeat") == 0  ? &o->repeat
                  : strcmp(name, "rows") == 0    ? &o->rows
                  : strcmp(name, "seed") == 0    ? &o->seed
                                                 : NULL;
  int *islot = strcmp(name, "heads") == 0            ? &o->heads
               : strcmp(name, "particle-block") == 0 ? &o->particle_block
               : strcmp(name, "centre-block") == 0   ? &o->centre_block
                                                     : NULL;
  if (!slot && !islot)
    return 2;
  SGM_CALL(cli_int(name, value, &v));
  SGM_CHECK(v >= 0, SGM_ERR_USAGE, "bench: --%s must not be negative", name);
  if (slot)
    *slot = v;
  else
    *islot = (int)v;
  return 1;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

struct timing {
  double kernel, dgemm; /* slowest rank's seconds, best repeat */
  double ratio;         /* median over repeats of DGEMM time / kernel time */
  double f32;           /* the float32 kernel's seconds, best repeat */
  double speedup;       /* median over repeats of kernel / float32 time */
  double redone;        /* share of float32 evaluations redone in float64 */
};

static double median(double *v, int64_t n) {
  qsort(v, (size_t)n, sizeof *v, compare_doubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Times one shape: returns the best-of-repeat timings. */
static int bench_shape(const sgm_grid_t *grid, const struct bench_options *o,
                       int64_t n, int64_t d, struct timing *best) {
  int err = 0;
  int64_t c_first, c_count, p_first, p_count;
  sgm_grid_block(n, grid->cols, grid->my_col, &c_first, &c_count);
  sgm_grid_block(o->particles, grid->rows, grid->my_row, &p_first, &p_count);
  double *y = NULL, *x = NULL, *s = NULL, *g = NULL, *lp = NULL, *dist = NULL;
  int64_t *idx = NULL;
  sgm_mixture_t *mix = NULL, *mix32 = NULL;
  double *ratios = NULL, *speedups = NULL;
  err = SGM_MALLOC_ALIGNED(y, (size_t)(c_count * d) + 1);
  if (!err)
    err = SGM_MALLOC_ALIGNED(x, (size_t)(p_count * d) + 1);
  if (!err)
    err = SGM_MALLOC(s, (size_t)(p_count * d * o->heads) + 1);
  if (!err)
    err = SGM_MALLOC(g, (size_t)(p_count * (c_count > 0 ? c_count : 1)) + 1);
  if (!err)
    err = SGM_MALLOC(lp, (size_t)(p_count * o->heads) + 1);
  if (!err)
    err = SGM_MALLOC(dist, (size_t)p_count + 1);
  if (!err)
    err = SGM_MALLOC(idx, (size_t)p_count + 1);
  SGM_CALL_GOTO(sgm_error_agree(grid->world, err), done);

  /* Rows are a function of their global index: any grid sees one data set. */
  for (int64_t i = 0; i < c_count; i++) {
    sgm_rng_t r;
    sgm_rng_init(&r, (uint64_t)o->seed, SGM_RNG_TEST, (uint64_t)(c_first + i),
                 0);
    for (int64_t k = 0; k < d; k++)
      y[i * d + k] = 2 * sgm_rng_uniform(&r) - 1;
  }
  for (int64_t i = 0; i < p_count; i++)
    sgm_rng_normals((uint64_t)o->seed, SGM_RNG_TEST, 1u << 30,
                    (uint64_t)(p_first + i), d, x + i * d);

  double hv[SGM_MIXTURE_MAX_HEADS] = {0.0, 0.01, 0.04, 0.09};
  sgm_mixture_desc_t desc = {.d = (int)d,
                             .n = n,
                             .offset = c_first,
                             .n_local = c_count,
                             .centres = y,
                             .comm = grid->row};
  err = sgm_mixture_create(&desc, o->heads, hv, &mix);
  if (!err && o->float32)
    err = sgm_mixture_create(&desc, o->heads, hv, &mix32);
  if (mix32)
    sgm_mixture_set_float32(mix32, 1, 0.1);
  SGM_CALL_GOTO(sgm_error_agree(grid->world, err), done);
  sgm_mixture_set_blocking(mix, o->particle_block, o->centre_block);
  if (mix32)
    sgm_mixture_set_blocking(mix32, o->particle_block, o->centre_block);
  sgm_mixture_out_t out[SGM_MIXTURE_MAX_HEADS];
  for (int h = 0; h < o->heads; h++)
    out[h] = (sgm_mixture_out_t){.score = s + h * p_count * d,
                                 .log_density = lp + h * p_count};
  sgm_nearest_t near = {.index = idx, .distance = dist};

  best->kernel = best->dgemm = best->f32 = INFINITY;
  /* Each repeat times the kernels and DGEMM back to back: the median of
   * their ratios is steadier on a shared machine than a ratio of bests. */
  err = SGM_MALLOC(ratios, (size_t)o->repeat);
  if (!err)
    err = SGM_MALLOC(speedups, (size_t)o->repeat);
  SGM_CALL_GOTO(sgm_error_agree(grid->world, err), done);
  for (int64_t rep = 0; rep < o->repeat; rep++) {
    MPI_Barrier(grid->world);
    double t0 = cli_now();
    err = sgm_mixture_eval(mix, 0.9, 0.19, p_count, x, out,
                           o->nearest ? &near : NULL);
    double tk = cli_now() - t0;
    SGM_CALL_GOTO(sgm_error_agree(grid->world, err), done);
    MPI_Barrier(grid->world);
    t0 = cli_now();
    if (p_count > 0 && c_count > 0)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p_count,
                  (int)c_count, (int)d, 1.0, x, (int)d, y, (int)d, 0.0, g,
                  (int)c_count);
    double tg = cli_now() - t0, t32 = 0.0;
    if (mix32) {
      MPI_Barrier(grid->world);
      t0 = cli_now();
      err = sgm_mixture_eval(mix32, 0.9, 0.19, p_count, x, out,
                             o->nearest ? &near : NULL);
      t32 = cli_now() - t0;
      SGM_CALL_GOTO(sgm_error_agree(grid->world, err), done);
    }
    double local[3] = {tk, tg, t32}, slowest[3];
    MPI_Allreduce(local, slowest, 3, MPI_DOUBLE, MPI_MAX, grid->world);
    best->kernel = fmin(best->kernel, slowest[0]);
    best->dgemm = fmin(best->dgemm, slowest[1]);
    best->f32 = fmin(best->f32, slowest[2]);
    ratios[rep] = slowest[1] / slowest[0];
    speedups[rep] = slowest[0] / slowest[2];
  }
  best->ratio = median(ratios, o->repeat);
  best->speedup = mix32 ? median(speedups, o->repeat) : 0.0;
  if (mix32) {
    int64_t evals, redone;
    sgm_mixture_float32_stats(mix32, &evals, &redone);
    best->redone = evals > 0 ? (double)redone / (double)evals : 0.0;
  }
done:
  free(ratios);
  free(speedups);
  sgm_mixture_destroy(&mix);
  sgm_mixture_destroy(&mix32);
  free(y);
  free(x);
  free(s);
  free(g);
  free(lp);
  free(dist);
  free(idx);
  return err;
}

/*
 * --model: the README's communication model for R ranks.  Per step and
 * rank, on r rows x c columns, the kernel does 2 (1 + H) (P / r) (N / c) d
 * flops at F flop/s, and the row's combination moves P / r records of
 * H (d + 5) + 4 doubles up and down a tree of depth log2 c at beta s/byte.
 */
static void print_model(const struct bench_options *o) {
  const double R = o->m_ranks, N = o->m_n, d = o->m_d, P = (double)o->particles;
  const double H = o->heads, F = o->m_gflops * 1e9, beta = o->m_beta;
  printf("sgmrun bench --model: R = %.0f ranks, N = %.0f, d = %.0f, P = %.0f "
         "particles, %d head(s),\n  %.3g GFLOP/s per rank, %.3g s/byte on "
         "the links, %.3g GiB of memory per rank\n",
         R, N, d, P, o->heads, o->m_gflops, beta, o->m_memory);
  printf("%8s %8s %12s %14s %14s %12s\n", "columns", "rows", "paths/row",
         "shard MiB", "compute s", "comm / comp");
  int picked = 0;
  for (double c = 1; c <= R; c *= 2) {
    if (fmod(R, c) != 0)
      continue;
    const double r = R / c, pr = ceil(P / r), shard = ceil(N / c);
    const double flops = 2.0 * (1.0 + H) * pr * shard * d;
    const double bytes = pr * (H * (d + 5) + 4) * 8.0;
    const double comm = 2.0 * log2(c) * bytes * beta;
    const double mib = shard * d * 8.0 / 1048576.0;
    const bool fits = mib <= o->m_memory * 1024.0 * 0.5;
    const char *note = !fits      ? "shard too large"
                       : pr < 100 ? "under 100 paths a row: GEMMs lose speed"
                       : !picked  ? "<- fewest columns that fit"
                                  : "";
    if (fits && pr >= 100 && !picked)
      picked = 1;
    printf("%8.0f %8.0f %12.0f %14.1f %14.3g %11.2f%% %s\n", c, r, pr, mib,
           flops / F, 100.0 * comm / (flops / F), note);
  }
  printf("A shard may take half a rank's memory (the rest: particles, "
         "records, work space).\n");
}

static int run_bench(int argc, char **argv) {
  struct cli_args args;
  struct bench_options o = {.particles = 512,
                            .repeat = 5,
                            .rows = 1,
                            .seed = 1,
                            .nearest = 1,
                            .float32 = 1,
                            .heads = 1,
                            .m_ranks = 1024,
                            .m_n = 1e6,
                            .m_d = 3072,
                            .m_beta = 8e-11,
                            .m_gflops = 70,
                            .m_memory = 4};
  parse_shapes("10000x784,50000x784,10000x3072", &o);
  int err = cli_parse(argc, argv, &cli_bench_command, &args, bench_option, &o);
  if (!err && args.npositional)
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "bench: unexpected argument '%s'", args.positional[0]);
  if (!err && (o.heads < 1 || o.heads > SGM_MIXTURE_MAX_HEADS || o.repeat < 1 ||
               o.particles < 1))
    err = sgm_error_set(SGM_ERR_USAGE, __FILE__, __LINE__, __func__,
                        "bench: need --particles >= 1, --repeat >= 1 and "
                        "--heads in 1..%d",
                        SGM_MIXTURE_MAX_HEADS);
  cli_args_free(&args);
  SGM_CALL(sgm_error_agree(MPI_COMM_WORLD, err));
  if (o.model) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0)
      print_model(&o);
    return 0;
  }
  sgm_grid_t *grid = NULL;
  SGM_CALL(sgm_grid_create(MPI_COMM_WORLD, (int)o.rows, 0, &grid));
  char grid_text[32];
  if (grid->rank == 0) {
    printf("sgmrun bench: P = %lld particles, %d rank(s) on grid %s, %d BLAS "
           "thread(s) per rank, %d head(s), nearest %s, best of %lld\n",
           (long long)o.particles, grid->size,
           sgm_grid_describe(grid, grid_text, sizeof grid_text),
           openblas_get_num_threads(), o.heads, o.nearest ? "on" : "off",
           (long long)o.repeat);
    printf("%8s %6s %16s %15s %7s %14s", "N", "d", "kernel GFLOP/s",
           "DGEMM GFLOP/s", "ratio", "kernel s/eval");
    if (o.float32)
      printf(" %13s %13s %8s", "f32 GFLOP/s", "f32 speedup", "f32 redo");
    printf("\n");
    fflush(stdout);
  }
  for (int i = 0; i < o.nshapes && !err; i++) {
    struct timing t = {INFINITY, INFINITY, 0.0, INFINITY, 0.0, 0.0};
    err = bench_shape(grid, &o, o.n[i], o.d[i], &t);
    if (err || grid->rank != 0)
      continue;
    double pnd = (double)o.particles * (double)o.n[i] * (double)o.d[i];
    double kernel = (2.0 + 2.0 * o.heads) * pnd / t.kernel / 1e9;
    double dgemm = 2.0 * pnd / t.dgemm / 1e9;
    printf("%8lld %6lld %16.1f %15.1f %7.2f %14.4f", (long long)o.n[i],
           (long long)o.d[i], kernel, dgemm, (1.0 + o.heads) * t.ratio,
           t.kernel);
    if (o.float32)
      printf(" %13.1f %13.2f %7.1f%%",
             (2.0 + 2.0 * o.heads) * pnd / t.f32 / 1e9, t.speedup,
             100.0 * t.redone);
    printf("\n");
    fflush(stdout);
  }
  sgm_grid_destroy(&grid);
  return err;
}

const struct cli_command cli_bench_command = {
    "bench", "bench [options]",
    "Measure the score kernel's GFLOP/s beside OpenBLAS DGEMM on the same "
    "shapes.",
    "  --particles P        particles (default 512)\n"
    "  --shapes NxD,...     training-set shapes (default "
    "10000x784,50000x784,10000x3072)\n"
    "  --repeat R           evaluations per shape (default 5): rates are the "
    "best, the ratio\n"
    "                       the median of the repeats' ratios\n"
    "  --rows R             grid rows: particle slices (default 1: every rank "
    "holds a shard)\n"
    "  --heads H            mixture heads evaluated together, 1..4 (default "
    "1)\n"
    "  --nearest yes|no     track nearest training examples (default yes)\n"
    "  --float32 yes|no     also time the float32 kernel ([run] precision = "
    "float32): its\n"
    "                       GFLOP/s (float64-equivalent flops), its speedup "
    "over the float64\n"
    "                       kernel (median of the repeats) and the share of "
    "particles its\n"
    "                       guard redid in float64 (default yes)\n"
    "  --particle-block B, --centre-block B   kernel blocking (default "
    "512, 1024)\n"
    "  --seed S             data seed (default 1)\n"
    "  --model              print the communication model instead of timing "
    "(README,\n"
    "                       Performance): per grid shape of --ranks R "
    "(default 1024) the\n"
    "                       shard, the compute time of a step and the "
    "share the combination\n"
    "                       adds, for --n N (1e6), --dim D (3072), "
    "--particles, --heads,\n"
    "                       --rank-gflops F (70), --seconds-per-byte B "
    "(8e-11, InfiniBand\n"
    "                       class) and --rank-memory GiB (4)\n"
    "Flops: 2 P N d (1 + H) per kernel evaluation; 2 P N d per DGEMM.  Rates "
    "are totals over\nall ranks (total flops / slowest rank's time).  Set "
    "OPENBLAS_NUM_THREADS to choose BLAS\nthreads per rank (default: 1 when "
    "several ranks share a node).\n",
    run_bench};
