/**
 * @file diagnostics.h
 * What a run measures along the way: memorisation (distances to the nearest
 * training examples), how far the drift is from the empirical score, the
 * Novikov integral per path with its ensemble log-mean-exp, and particle
 * density histograms for d <= 2 (Figure 1's heat maps).
 *
 * The particles are split into slices, one per grid row; the ensemble
 * communicator holds exactly one rank per slice (a grid column), so that a
 * reduction over it counts every particle once.
 */
#ifndef SGM_DIAGNOSTICS_H
#define SGM_DIAGNOSTICS_H

#include <mpi.h>
#include <stdint.h>

#include "sgm/config.h"

/** The nearest/second-nearest distance ratio below which a sample counts
 * as memorised (the criterion of the memorisation literature). */
#define SGM_MEMORIZED_RATIO (1.0 / 3.0)

typedef struct sgm_diagnostics sgm_diagnostics_t;

/** Ensemble values at one save step, identical on every rank. */
typedef struct sgm_diag_summary {
  double memorized_fraction;    /* share of the P paths memorised */
  double mean_nearest_distance; /* mean distance to the nearest example */
  double novikov_log_mean_exp;  /* log((1/P) sum_j exp(I_j)) */
  double novikov_mean;          /* (1/P) sum_j I_j */
  double mean_score_error;      /* (1/P) sum_j |s - grad log p^_t| */
} sgm_diag_summary_t;

/**
 * Creates the diagnostics of `count` local paths out of P, in dimension d,
 * from [diagnostics] (density_bins, density_range).  Not collective, but
 * every rank of `ensemble` must create one.
 * @param ensemble one rank per particle slice (the grid's column comm)
 */
int sgm_diagnostics_create(const sgm_config_t *cfg, MPI_Comm ensemble,
                           int64_t P, int64_t count, int d,
                           sgm_diagnostics_t **out);

/** Frees; sets the handle to NULL (NULL allowed). */
void sgm_diagnostics_destroy(sgm_diagnostics_t **diag);

/** norm[i] = |drift_i - empirical_i| for count particles of dimension d. */
void sgm_diagnostics_score_error(int64_t count, int d, const double *drift,
                                 const double *empirical, double *norm);

/**
 * Adds one left-point step of the Novikov integral to every local path:
 * I_i += (1/2) g2 error_norm[i]^2 dt, with g2 = g(t_k)^2 at the step's start
 * and dt = t_k - t_{k+1} > 0.  Not collective.
 */
void sgm_diagnostics_novikov_step(sgm_diagnostics_t *diag, double g2, double dt,
                                  const double *error_norm);

/** The local paths' Novikov integrals so far (count values). */
const double *sgm_diagnostics_novikov(const sgm_diagnostics_t *diag);

/** Overwrites the local Novikov integrals (for a resumed run). */
void sgm_diagnostics_set_novikov(sgm_diagnostics_t *diag, const double *values);

/**
 * The ensemble summary at a save step from the local paths' nearest and
 * second-nearest distances and score errors (any of the three may be NULL,
 * leaving its entries NaN).  Collective over the ensemble communicator.
 */
int sgm_diagnostics_summarize(sgm_diagnostics_t *diag, const double *nearest,
                              const double *second, const double *error_norm,
                              sgm_diag_summary_t *out);

/**
 * Shape of the density histogram: *naxes = d (1 or 2) and *bins per axis
 * when [diagnostics] density_bins > 0 and d <= 2; *naxes = 0 otherwise.
 */
void sgm_diagnostics_density_shape(const sgm_diagnostics_t *diag, int *naxes,
                                   int *bins);

/** The bins+1 bin edges of each axis (both axes share them). */
void sgm_diagnostics_density_edges(const sgm_diagnostics_t *diag,
                                   double *edges);

/**
 * The particles' density histogram at a save step (GSL histograms of the
 * local particles y (count x d), summed over the ensemble): density[b] =
 * count in bin b / (P * bin area), so it integrates to the share of
 * particles inside density_range.  bins (d = 1) or bins x bins row-major
 * (d = 2, axis 0 = first coordinate) values, identical on every rank.
 * Collective over the ensemble communicator.
 */
int sgm_diagnostics_density(sgm_diagnostics_t *diag, const double *y,
                            double *density);

#endif /* SGM_DIAGNOSTICS_H */
