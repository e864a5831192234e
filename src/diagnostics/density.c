/*
 * Particle density histograms for d <= 2 (Figure 1's heat maps), built with
 * GSL's histograms on each rank's particles and summed over the ensemble.
 *
 * The edges lo + i (hi - lo) / bins (i = 0..bins, the last one exactly hi)
 * are handed to GSL as explicit ranges, so the edges reported are the ones
 * the particles were binned with.  Bins are half-open, [e_i, e_{i+1}):
 * particles outside [lo, hi) -- hi included -- and non-finite coordinates
 * are not counted.  The summed counts are whole numbers far below 2^53, so
 * the ensemble sum is exact and identical on every rank.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>

#include "diagnostics/diagnostics_impl.h"
#include "sgm/error.h"

int sgm__diagnostics_density_init(sgm_diagnostics_t *g) {
  const int bins = g->bins;
  /* GSL reports failures through return codes, never by aborting. */
  gsl_set_error_handler_off();
  int err = SGM_MALLOC(g->edges, (size_t)bins + 1);
  if (err < 0)
    return sgm_error_prefix(err, "[diagnostics] density_bins = %d", bins);
  for (int i = 0; i < bins; i++)
    g->edges[i] = g->lo + (double)i * (g->hi - g->lo) / bins;
  g->edges[bins] = g->hi;
  for (int i = 0; i < bins; i++)
    SGM_CHECK(g->edges[i] < g->edges[i + 1], SGM_ERR_CONFIG,
              "[diagnostics] density_range = %g, %g is too narrow for "
              "density_bins = %d (bin edges coincide)",
              g->lo, g->hi, bins);
  int rc;
  if (g->naxes == 1) {
    g->h1 = gsl_histogram_alloc((size_t)bins);
    SGM_CHECK(g->h1, SGM_ERR_NOMEM,
              "[diagnostics] density_bins = %d: out of memory allocating a "
              "%d-bin density histogram",
              bins, bins);
    rc = gsl_histogram_set_ranges(g->h1, g->edges, (size_t)bins + 1);
  } else {
    /* GSL does not check bins * bins * sizeof(double) for overflow. */
    SGM_CHECK((size_t)bins <= SIZE_MAX / sizeof(double) / (size_t)bins,
              SGM_ERR_CONFIG,
              "[diagnostics] density_bins = %d: a %d x %d density histogram "
              "does not fit in memory",
              bins, bins, bins);
    g->h2 = gsl_histogram2d_alloc((size_t)bins, (size_t)bins);
    SGM_CHECK(g->h2, SGM_ERR_NOMEM,
              "[diagnostics] density_bins = %d: out of memory allocating a "
              "%d x %d density histogram",
              bins, bins, bins);
    rc = gsl_histogram2d_set_ranges(g->h2, g->edges, (size_t)bins + 1, g->edges,
                                    (size_t)bins + 1);
  }
  SGM_CHECK(rc == GSL_SUCCESS, SGM_ERR_INTERNAL,
            "GSL rejected the density histogram's ranges: %s",
            gsl_strerror(rc));
  return 0;
}

void sgm__diagnostics_density_free(sgm_diagnostics_t *g) {
  if (g->h1)
    gsl_histogram_free(g->h1);
  if (g->h2)
    gsl_histogram2d_free(g->h2);
  free(g->edges);
  g->h1 = NULL;
  g->h2 = NULL;
  g->edges = NULL;
}

void sgm_diagnostics_density_shape(const sgm_diagnostics_t *diag, int *naxes,
                                   int *bins) {
  *naxes = diag->naxes;
  *bins = diag->naxes ? diag->bins : 0;
}

void sgm_diagnostics_density_edges(const sgm_diagnostics_t *diag,
                                   double *edges) {
  for (int i = 0; diag->naxes && i <= diag->bins; i++)
    edges[i] = diag->edges[i];
}

/* Fills the local histogram; GSL_EDOM (outside the range) is expected. */
static int fill(sgm_diagnostics_t *g, const double *y) {
  if (g->naxes == 1) {
    gsl_histogram_reset(g->h1);
    for (int64_t i = 0; i < g->count; i++) {
      const double x = y[i];
      /* GSL's bin search is undefined for NaN, so skip non-finite values. */
      const int rc = isfinite(x) ? gsl_histogram_increment(g->h1, x) : GSL_EDOM;
      SGM_CHECK(rc == GSL_SUCCESS || rc == GSL_EDOM, SGM_ERR_INTERNAL,
                "GSL histogram of particle %lld: %s", (long long)i,
                gsl_strerror(rc));
    }
  } else {
    gsl_histogram2d_reset(g->h2);
    for (int64_t i = 0; i < g->count; i++) {
      const double x = y[2 * i], z = y[2 * i + 1];
      const int rc = isfinite(x) && isfinite(z)
                         ? gsl_histogram2d_increment(g->h2, x, z)
                         : GSL_EDOM;
      SGM_CHECK(rc == GSL_SUCCESS || rc == GSL_EDOM, SGM_ERR_INTERNAL,
                "GSL histogram of particle %lld: %s", (long long)i,
                gsl_strerror(rc));
    }
  }
  return 0;
}

/* Messages are split so that no count exceeds INT_MAX elements. */
#define CHUNK ((size_t)1 << 26)

int sgm_diagnostics_density(sgm_diagnostics_t *diag, const double *y,
                            double *density) {
  sgm_diagnostics_t *g = diag;
  if (!g->naxes)
    return 0;
  /* A failure on one rank must reach all before the collective sum. */
  SGM_CALL(sgm_error_agree(g->ensemble, fill(g, y)));

  const size_t nbins =
      g->naxes == 1 ? (size_t)g->bins : (size_t)g->bins * (size_t)g->bins;
  const double *local = g->naxes == 1 ? g->h1->bin : g->h2->bin;
  for (size_t off = 0; off < nbins; off += CHUNK) {
    const int n = (int)(nbins - off < CHUNK ? nbins - off : CHUNK);
    SGM_MPI(MPI_Allreduce(local + off, density + off, n, MPI_DOUBLE, MPI_SUM,
                          g->ensemble));
  }
  const double width = (g->hi - g->lo) / g->bins;
  const double area = g->naxes == 1 ? width : width * width;
  const double scale = (double)g->P * area;
  for (size_t b = 0; b < nbins; b++)
    density[b] /= scale;
  return 0;
}
