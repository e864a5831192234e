/* Brute-force long-double reference for mixture scores (tests only). */
#ifndef SGM_TEST_REFERENCE_H
#define SGM_TEST_REFERENCE_H

#include <stdint.h>

/* Components mu (n x d), variances v (NULL: 0), log weights lw (NULL:
 * uniform).  Outputs for one point x; any output may be NULL. */
void ref_mixture(int64_t n, int d, const double *mu, const double *v,
                 const double *lw, double m, double sigma2, const double *x,
                 double *score, double *log_density, double *denoised,
                 int64_t *nearest, double *nearest_dist, double *second_dist);

/* |a - b| / |b| over vectors of length n (b the reference). */
double rel_err(const double *a, const double *b, int64_t n);

#endif
