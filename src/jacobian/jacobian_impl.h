/* Private to the Jacobian module: the orderings and the sign convention
 * that the serial (spectra.c) and distributed (distributed.c) analyses
 * share, so that the two agree value by value and vector by vector. */
#ifndef SGM_JACOBIAN_IMPL_H
#define SGM_JACOBIAN_IMPL_H

#include <math.h>

/* Indices 0..d-1 ordered by |value| ascending (stable: ties keep order;
 * insertion sort: d is at most thousands and the input nearly sorted). */
static inline void sgm__order_by_magnitude(int d, const double *value,
                                           int *idx) {
  for (int i = 0; i < d; i++)
    idx[i] = i;
  for (int i = 1; i < d; i++) {
    int t = idx[i], k = i;
    while (k > 0 && fabs(value[idx[k - 1]]) > fabs(value[t])) {
      idx[k] = idx[k - 1];
      k--;
    }
    idx[k] = t;
  }
}

/* The sign convention of jacobian.h: +1 or -1, the sign of x's first
 * component of largest magnitude (+1 for a zero vector). */
static inline double sgm__leading_sign(int d, const double *x) {
  int best = 0;
  for (int k = 1; k < d; k++)
    if (fabs(x[k]) > fabs(x[best]))
      best = k;
  return x[best] < 0 ? -1.0 : 1.0;
}

static inline void sgm__scale(int d, double *x, double c) {
  for (int k = 0; k < d; k++)
    x[k] *= c;
}

#endif
