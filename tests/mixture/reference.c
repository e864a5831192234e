/*
 * The reference evaluates every logit in long double (64-bit mantissa on
 * x86-64) from direct differences x - m mu, so it carries neither the
 * expanded-distance cancellation nor the streaming of the kernel.
 */
#include "reference.h"

#include <math.h>
#include <stdlib.h>

void ref_mixture(int64_t n, int d, const double *mu, const double *v,
                 const double *lw, double m, double sigma2, const double *x,
                 double *score, double *log_density, double *denoised,
                 int64_t *nearest, double *nearest_dist, double *second_dist) {
  const long double log_2pi = 1.837877066409345483560659472811L;
  long double *l = malloc(sizeof *l * (size_t)n);
  long double lmax = -INFINITY;
  long double best = INFINITY, second = INFINITY;
  int64_t best_i = -1;
  for (int64_t i = 0; i < n; i++) {
    long double vi = v ? v[i] : 0.0L;
    long double s2 = (long double)m * m * vi + sigma2;
    long double q = 0, r = 0;
    for (int k = 0; k < d; k++) {
      long double t = (long double)x[k] - (long double)m * mu[i * d + k];
      long double u = (long double)x[k] - (long double)mu[i * d + k];
      q += t * t;
      r += u * u;
    }
    long double lwi = lw ? (long double)lw[i] : -logl((long double)n);
    l[i] = lwi - 0.5L * d * (log_2pi + logl(s2)) - q / (2 * s2);
    if (l[i] > lmax)
      lmax = l[i];
    if (r < best) {
      second = best;
      best = r;
      best_i = i;
    } else if (r < second) {
      second = r;
    }
  }
  long double z = 0;
  for (int64_t i = 0; i < n; i++)
    z += expl(l[i] - lmax);
  if (log_density)
    *log_density = (double)(lmax + logl(z));
  for (int k = 0; k < d; k++) {
    long double s = 0, dn = 0;
    for (int64_t i = 0; i < n; i++) {
      long double w = expl(l[i] - lmax) / z;
      long double vi = v ? v[i] : 0.0L;
      long double s2 = (long double)m * m * vi + sigma2;
      s += w * ((long double)m * mu[i * d + k] - x[k]) / s2;
      /* Posterior mean of X0 given component i: mu + (m v / s2)(x - m mu). */
      dn += w * (mu[i * d + k] + (long double)m * vi / s2 *
                                     (x[k] - (long double)m * mu[i * d + k]));
    }
    if (score)
      score[k] = (double)s;
    if (denoised)
      denoised[k] = (double)dn;
  }
  if (nearest)
    *nearest = best_i;
  if (nearest_dist)
    *nearest_dist = (double)sqrtl(best);
  if (second_dist)
    *second_dist = (double)sqrtl(second);
  free(l);
}

double rel_err(const double *a, const double *b, int64_t n) {
  long double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    long double t = (long double)a[i] - b[i];
    num += t * t;
    den += (long double)b[i] * b[i];
  }
  return den > 0 ? (double)sqrtl(num / den) : (double)sqrtl(num);
}
