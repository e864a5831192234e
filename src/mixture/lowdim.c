/*
 * The score kernel for training sets in d <= 3 dimensions (Figure 1's
 * mixture, points on a sphere): a fused loop instead of GEMM, which has
 * nothing to block over when d is this small, and a uniform cell grid over
 * the shard that prunes the far training points when sigma is small.
 *
 * For a particle x at mean factor m, the squared distances are computed
 * directly, |x - m y|^2 = m^2 |z - y|^2 with z = x / m, so they carry no
 * cancellation error and need no correction.  The grid first finds the
 * nearest training point to z exactly (a search over rings of cells): its
 * logit is the largest of every head, so the weights exp(l - max) need no
 * running maximum.  Then only the points whose weight can reach
 * PRUNE_RATIO of the largest are visited: those within
 * rho^2 <= rho_min^2 + 2 ln(1 / PRUNE_RATIO) / (a m^2) of z, a the smallest
 * precision of the heads.  Every point left out weighs less than
 * PRUNE_RATIO (1e-17) of the largest, so Z, the weighted sums and hence the
 * score are off by less than N 1e-17 relative (1e-12 at N = 1e5).  When
 * that ball covers most of the grid (sigma large against the data's
 * spread) every point is visited, in one vectorised pass.  The nearest and
 * second-nearest raw distances |x - y| come from a second ring search
 * around x, ties to the lower index as in the GEMM path.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mixture/mixture_impl.h"
#include "sgm/error.h"
#include "sgm/mixture.h"
#include "vmath.h"

#define PRUNE_RATIO 1e-17
/* Points per cell the grid aims at. */
#define CELL_POINTS 4
#define MAX_CELLS_PER_DIM 4096

struct sgm__lowdim {
  int d;
  int64_t n, offset;
  double lo[3], h[3]; /* grid origin and cell sides */
  int64_t cells[3];   /* cells per dimension */
  int64_t *start;     /* points of cell c: [start[c], start[c + 1]) */
  double *y[3];       /* coordinates in cell order (structure of arrays) */
  int64_t *index;     /* global index of each point, in cell order */
};

void sgm__lowdim_destroy(sgm__lowdim_t **handle) {
  if (!handle || !*handle)
    return;
  sgm__lowdim_t *g = *handle;
  free(g->start);
  for (int k = 0; k < 3; k++)
    free(g->y[k]);
  free(g->index);
  free(g);
  *handle = NULL;
}

static int64_t cell_coord(const sgm__lowdim_t *g, int k, double v) {
  double c = floor((v - g->lo[k]) / g->h[k]);
  if (!(c > 0)) /* also NaN */
    return 0;
  return c >= (double)g->cells[k] ? g->cells[k] - 1 : (int64_t)c;
}

static int64_t cell_id(const sgm__lowdim_t *g, const int64_t *c) {
  int64_t id = 0;
  for (int k = g->d - 1; k >= 0; k--)
    id = id * g->cells[k] + c[k];
  return id;
}

int sgm__lowdim_create(int d, int64_t n, int64_t offset, const double *y,
                       sgm__lowdim_t **out) {
  int err = 0;
  *out = NULL;
  sgm__lowdim_t *g = NULL;
  int64_t *cell = NULL;
  SGM_CALL(SGM_CALLOC(g, 1));
  g->d = d;
  g->n = n;
  g->offset = offset;
  int64_t total = 1;
  double per_dim = pow((double)(n > 0 ? n : 1) / CELL_POINTS, 1.0 / d);
  for (int k = 0; k < d; k++) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
      lo = fmin(lo, y[j * d + k]);
      hi = fmax(hi, y[j * d + k]);
    }
    if (n == 0)
      lo = hi = 0.0;
    g->cells[k] = (int64_t)fmax(1.0, fmin(per_dim, MAX_CELLS_PER_DIM));
    g->lo[k] = lo;
    g->h[k] = hi > lo ? (hi - lo) / (double)g->cells[k] : 1.0;
    total *= g->cells[k];
  }
  SGM_CALL_GOTO(SGM_CALLOC(g->start, (size_t)total + 1), fail);
  SGM_CALL_GOTO(SGM_MALLOC(cell, (size_t)n + 1), fail);
  for (int k = 0; k < d; k++)
    SGM_CALL_GOTO(SGM_MALLOC_ALIGNED(g->y[k], (size_t)n + 8), fail);
  SGM_CALL_GOTO(SGM_MALLOC(g->index, (size_t)n + 1), fail);
  /* Counting sort by cell: a row of cells along dimension 0 is then one
   * contiguous run of points. */
  for (int64_t j = 0; j < n; j++) {
    int64_t c[3] = {0, 0, 0};
    for (int k = 0; k < d; k++)
      c[k] = cell_coord(g, k, y[j * d + k]);
    cell[j] = cell_id(g, c);
    g->start[cell[j] + 1]++;
  }
  for (int64_t c = 0; c < total; c++)
    g->start[c + 1] += g->start[c];
  for (int64_t j = 0; j < n; j++) {
    int64_t at = g->start[cell[j]]++;
    for (int k = 0; k < d; k++)
      g->y[k][at] = y[j * d + k];
    g->index[at] = offset + j;
  }
  /* start[c] now holds the end of cell c: shift back. */
  memmove(g->start + 1, g->start, sizeof *g->start * (size_t)total);
  g->start[0] = 0;
  free(cell);
  *out = g;
  return 0;
fail:
  free(cell);
  sgm__lowdim_destroy(&g);
  return err;
}

/* The two smallest (distance^2, global index) pairs of points [b, e). */
struct best2 {
  double r1, r2;
  int64_t i1, i2;
};

static inline void best2_offer(struct best2 *b, double r, int64_t i) {
  if (r < b->r1 || (r == b->r1 && i < b->i1)) {
    b->r2 = b->r1;
    b->i2 = b->i1;
    b->r1 = r;
    b->i1 = i;
  } else if (r < b->r2 || (r == b->r2 && i < b->i2)) {
    b->r2 = r;
    b->i2 = i;
  }
}

static void scan_points(const sgm__lowdim_t *g, const double *p, int64_t b,
                        int64_t e, struct best2 *best) {
  for (int64_t j = b; j < e; j++) {
    double r = 0.0;
    for (int k = 0; k < g->d; k++) {
      double t = p[k] - g->y[k][j];
      r += t * t;
    }
    if (r <= best->r2)
      best2_offer(best, r, g->index[j]);
  }
}

/* The points of the cells c0 in [first, last] of the row (c1, c2): one
 * contiguous run [*b, *e). */
static void row_run(const sgm__lowdim_t *g, int64_t first, int64_t last,
                    int64_t c1, int64_t c2, int64_t *b, int64_t *e) {
  int64_t f[3] = {first, c1, c2}, l[3] = {last, c1, c2};
  *b = g->start[cell_id(g, f)];
  *e = g->start[cell_id(g, l) + 1];
}

/* How far p is outside the grid's box in dimension k (0 inside). */
static double outside(const sgm__lowdim_t *g, int k, double v) {
  double hi = g->lo[k] + g->h[k] * g->cells[k];
  return v < g->lo[k] ? g->lo[k] - v : (v > hi ? v - hi : 0.0);
}

/*
 * The two nearest points to p (only the nearest with `one`): cells in
 * growing blocks around p's cell until no point outside the block can be
 * nearer than the second (first) found.  A point beyond a face of the block
 * is at least the face's distance away along that dimension and p's
 * distance to the grid's box along the others.
 */
static struct best2 nearest2(const sgm__lowdim_t *g, const double *p,
                             bool one) {
  struct best2 best = {INFINITY, INFINITY, -1, -1};
  int64_t home[3] = {0, 0, 0};
  int64_t maxk = 0;
  double out2[3] = {0, 0, 0}, out_all = 0.0;
  for (int k = 0; k < g->d; k++) {
    home[k] = cell_coord(g, k, p[k]);
    maxk = g->cells[k] > maxk ? g->cells[k] : maxk;
    out2[k] = outside(g, k, p[k]) * outside(g, k, p[k]);
    out_all += out2[k];
  }
  int64_t done_lo[3] = {0, 0, 0}, done_hi[3] = {-1, -1, -1};
  for (int64_t ring = 0; ring <= maxk; ring++) {
    int64_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int k = 0; k < g->d; k++) {
      lo[k] = home[k] - ring < 0 ? 0 : home[k] - ring;
      hi[k] = home[k] + ring >= g->cells[k] ? g->cells[k] - 1 : home[k] + ring;
    }
    /* Visit the block minus what earlier rings covered: rows outside the
     * old block (in dims 1 and 2) whole, the others in their two end
     * pieces along dim 0. */
    const int64_t top1 = g->d > 1 ? hi[1] : 0, top2 = g->d > 2 ? hi[2] : 0;
    for (int64_t c2 = g->d > 2 ? lo[2] : 0; c2 <= top2; c2++)
      for (int64_t c1 = g->d > 1 ? lo[1] : 0; c1 <= top1; c1++) {
        bool inside = ring > 0;
        if (g->d > 1)
          inside = inside && c1 >= done_lo[1] && c1 <= done_hi[1];
        if (g->d > 2)
          inside = inside && c2 >= done_lo[2] && c2 <= done_hi[2];
        int64_t b, e;
        if (!inside) {
          row_run(g, lo[0], hi[0], c1, c2, &b, &e);
          scan_points(g, p, b, e, &best);
          continue;
        }
        if (done_lo[0] > lo[0]) {
          row_run(g, lo[0], done_lo[0] - 1, c1, c2, &b, &e);
          scan_points(g, p, b, e, &best);
        }
        if (hi[0] > done_hi[0]) {
          row_run(g, done_hi[0] + 1, hi[0], c1, c2, &b, &e);
          scan_points(g, p, b, e, &best);
        }
      }
    for (int k = 0; k < g->d; k++) {
      done_lo[k] = lo[k];
      done_hi[k] = hi[k];
    }
    /* The nearest point outside the block is at least this far. */
    double reach2 = INFINITY;
    bool all = true;
    for (int k = 0; k < g->d; k++) {
      const double rest = out_all - out2[k];
      if (lo[k] > 0) {
        double gap = fmax(0.0, p[k] - (g->lo[k] + lo[k] * g->h[k]));
        reach2 = fmin(reach2, gap * gap + rest);
        all = false;
      }
      if (hi[k] < g->cells[k] - 1) {
        double gap = fmax(0.0, g->lo[k] + (hi[k] + 1) * g->h[k] - p[k]);
        reach2 = fmin(reach2, gap * gap + rest);
        all = false;
      }
    }
    const double found = one ? best.r1 : best.r2;
    if (all || ((one ? best.i1 : best.i2) >= 0 && found < reach2))
      break;
  }
  return best;
}

/* Adds the weights of points [b, e) to head h's record hr: w = exp(-c
 * |z - y|^2 - top), Z += w, U += w y, in dimension D (a constant where it
 * is inlined, so the unused coordinates cost nothing). */
static inline __attribute__((always_inline)) void
accumulate_d(const sgm__lowdim_t *g, const int D, double c, double top,
             const double *z, int64_t b, int64_t e, double *hr) {
  double sz = 0.0, u0 = 0.0, u1 = 0.0, u2 = 0.0;
  const double *y0 = g->y[0], *y1 = g->y[D > 1 ? 1 : 0],
               *y2 = g->y[D > 2 ? 2 : 0];
  const double z0 = z[0], z1 = z[1], z2 = z[2];
#pragma omp simd reduction(+ : sz, u0, u1, u2)
  for (int64_t j = b; j < e; j++) {
    double t0 = z0 - y0[j], r = t0 * t0;
    if (D > 1) {
      double t1 = z1 - y1[j];
      r += t1 * t1;
    }
    if (D > 2) {
      double t2 = z2 - y2[j];
      r += t2 * t2;
    }
    double l = -c * r - top;
    double w = l < -700.0 ? 0.0 : sgm_vexp(l);
    sz += w;
    u0 += w * y0[j];
    if (D > 1)
      u1 += w * y1[j];
    if (D > 2)
      u2 += w * y2[j];
  }
  hr[REC_Z] += sz;
  hr[REC_U] += u0;
  if (D > 1)
    hr[REC_U + 1] += u1;
  if (D > 2)
    hr[REC_U + 2] += u2;
}

static void accumulate(const sgm__lowdim_t *g, const sgm__mixture_layout_t *lay,
                       int nheads, const double *scale, const double *top,
                       const double *z, int64_t b, int64_t e, double *rec) {
  for (int h = 0; h < nheads; h++) {
    double *hr = rec + h * lay->head_len;
    if (g->d == 1)
      accumulate_d(g, 1, scale[h], top[h], z, b, e, hr);
    else if (g->d == 2)
      accumulate_d(g, 2, scale[h], top[h], z, b, e, hr);
    else
      accumulate_d(g, 3, scale[h], top[h], z, b, e, hr);
  }
}

/* The smallest |z - y|^2 over every point, in one vectorised pass. */
static double min_dist2(const sgm__lowdim_t *g, const double *z) {
  const int d = g->d;
  const double *y0 = g->y[0], *y1 = g->y[d > 1 ? 1 : 0],
               *y2 = g->y[d > 2 ? 2 : 0];
  const double z0 = z[0], z1 = d > 1 ? z[1] : y1[0], z2 = d > 2 ? z[2] : y2[0];
  const double w1 = d > 1, w2 = d > 2;
  double low = INFINITY;
#pragma omp simd reduction(min : low)
  for (int64_t j = 0; j < g->n; j++) {
    double t0 = z0 - y0[j], t1 = w1 * (z1 - y1[j]), t2 = w2 * (z2 - y2[j]);
    double r = t0 * t0 + t1 * t1 + t2 * t2;
    low = r < low ? r : low;
  }
  return low;
}

void sgm__lowdim_stream(const sgm__lowdim_t *g,
                        const sgm__mixture_layout_t *lay, const double *a,
                        double m, int64_t p, const double *x, double *rec,
                        int want_nearest, int threads) {
  const int d = g->d, H = lay->nheads, rl = lay->rec_len;
  double a_min = a[0];
  for (int h = 1; h < H; h++)
    a_min = fmin(a_min, a[h]);
  /* The ball's extra reach in rho^2, and the grid's extent. */
  const double extra = 2.0 * log(1.0 / PRUNE_RATIO) / (a_min * m * m);
  double span2 = 0.0;
  for (int k = 0; k < d; k++)
    span2 += (g->h[k] * g->cells[k]) * (g->h[k] * g->cells[k]);
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (int64_t i = 0; i < p; i++) {
    double *r = rec + i * rl;
    for (int h = 0; h < H; h++) {
      double *hr = r + h * lay->head_len;
      hr[REC_M] = -INFINITY;
      for (int k = REC_Z; k < lay->head_len; k++)
        hr[k] = 0.0;
    }
    double *nr = r + H * lay->head_len;
    nr[0] = nr[2] = INFINITY;
    nr[1] = nr[3] = -1.0;
    if (g->n == 0)
      continue;
    const double *xi = x + i * d;
    if (want_nearest) {
      struct best2 b = nearest2(g, xi, false);
      nr[0] = b.r1;
      nr[1] = (double)b.i1;
      nr[2] = b.r2;
      nr[3] = (double)b.i2;
    }
    double z[3] = {0, 0, 0};
    for (int k = 0; k < d; k++)
      z[k] = xi[k] / m;
    /* Where even the nearest possible point leaves a ball that holds
     * (nearly) the whole grid, every point is visited: the largest logit
     * then comes from one cheap pass. */
    double gap2 = 0.0;
    for (int k = 0; k < d; k++)
      gap2 += outside(g, k, z[k]) * outside(g, k, z[k]);
    const bool everything = gap2 + extra >= span2;
    const double rho2 = everything ? min_dist2(g, z) : nearest2(g, z, true).r1;
    double scale[SGM_MIXTURE_MAX_HEADS], top[SGM_MIXTURE_MAX_HEADS];
    for (int h = 0; h < H; h++) {
      scale[h] = 0.5 * a[h] * m * m;
      top[h] = -scale[h] * rho2;
      r[h * lay->head_len + REC_M] = top[h];
    }
    const double reach2 = rho2 + extra;
    if (everything || reach2 >= span2) {
      accumulate(g, lay, H, scale, top, z, 0, g->n, r);
      continue;
    }
    const double reach = sqrt(reach2);
    int64_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int k = 0; k < d; k++) {
      lo[k] = cell_coord(g, k, z[k] - reach);
      hi[k] = cell_coord(g, k, z[k] + reach);
    }
    const int64_t top1 = d > 1 ? hi[1] : 0, top2 = d > 2 ? hi[2] : 0;
    for (int64_t c2 = d > 2 ? lo[2] : 0; c2 <= top2; c2++)
      for (int64_t c1 = d > 1 ? lo[1] : 0; c1 <= top1; c1++) {
        int64_t b, e;
        row_run(g, lo[0], hi[0], c1, c2, &b, &e);
        accumulate(g, lay, H, scale, top, z, b, e, r);
      }
  }
}
