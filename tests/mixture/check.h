/* Checks shared by the mixture tests (check.c). */
#ifndef SGM_TEST_MIXTURE_CHECK_H
#define SGM_TEST_MIXTURE_CHECK_H

#include <stdint.h>

#include "sgm/mixture.h"

/** n x d values uniform on [lo, hi] (malloc'ed). */
double *random_data(int64_t n, int d, uint64_t seed, double lo, double hi);

/** p points at mean factor m and noise sigma: on the data (m y_a + sigma
 * z), far from it (N(0, I)) and near the bisector of two examples, in
 * turn (malloc'ed). */
double *test_points(int64_t n, int d, const double *y, double m, double sigma,
                    int64_t p, uint64_t seed);

/**
 * Evaluates p points with every head of mix and checks score, denoiser and
 * log density against the reference to tol (relative; the score's bound
 * rises to a few ulps of |x| where |m D - x| is that small), the nearest
 * index exactly and the nearest distances to 1e-12.  Returns the largest
 * relative score error.
 */
double check_points(sgm_mixture_t *mix, int64_t n, int d, const double *y,
                    const double *v, const double *lw, int nheads,
                    const double *hv, double m, double sigma2, int64_t p,
                    const double *x, const char *what, double tol);

/** check_points at p test points for each VP time (beta 0.1..20) in
 * times; returns the largest relative score error. */
double check_vp_times(sgm_mixture_t *mix, int64_t n, int d, const double *y,
                      int nheads, const double *hv, int64_t p,
                      const double *times, int ntimes, double tol,
                      const char *label);

#endif
