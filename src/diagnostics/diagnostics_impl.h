/*
 * The diagnostics object, shared by the summary (diagnostics.c) and the
 * density histograms (density.c).
 */
#ifndef SGM_DIAGNOSTICS_IMPL_H
#define SGM_DIAGNOSTICS_IMPL_H

#include <gsl/gsl_histogram.h>
#include <gsl/gsl_histogram2d.h>

#include "sgm/diagnostics.h"

struct sgm_diagnostics {
  MPI_Comm ensemble; /* not owned: the caller keeps it alive */
  int ensemble_size;
  int64_t P, count;
  int d;
  double *novikov; /* count values; NULL when count = 0 */
  double *gather;  /* ensemble_size summary records */

  /* Density histogram; naxes = 0 when off. */
  int naxes, bins;
  double lo, hi;
  double *edges; /* bins + 1 */
  gsl_histogram *h1;
  gsl_histogram2d *h2;
};

/** Allocates the histogram of diag (naxes, bins, lo, hi already set). */
int sgm__diagnostics_density_init(sgm_diagnostics_t *diag);

/** Frees what sgm__diagnostics_density_init allocated. */
void sgm__diagnostics_density_free(sgm_diagnostics_t *diag);

#endif /* SGM_DIAGNOSTICS_IMPL_H */
