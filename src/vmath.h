/*
 * Branch-free elementary functions for inner loops, written so that the
 * compiler vectorises them (libm's are scalar calls).  Private to the
 * library; each is tested against the long-double libm function.
 *   sgm_vexp(x)            x in [-708, 1]          within 2 ulp
 *   sgm_vlog(x)            x normal and positive   within 2 ulp (absolute
 *                                                  1e-16 near x = 1)
 *   sgm_vsincos_2pi(u)     sin and cos of 2 pi u, u in [0, 1), within
 *                          2e-16 absolute
 */
#ifndef SGM_VMATH_H
#define SGM_VMATH_H

#include <stdint.h>
#include <string.h>

static inline double sgm_vexp(double x) {
  const double log2e = 1.4426950408889634074;
  /* ln 2 split so that n * LN2_HI is exact for |n| < 2^11. */
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  const double shifter = 0x1.8p52; /* rounds to the nearest integer */
  double k = x * log2e + shifter;
  double n = k - shifter;
  double r = (x - n * ln2_hi) - n * ln2_lo;
  /* Taylor series to degree 13 on |r| <= ln2/2: truncation < 5e-18. */
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  /* Multiply by 2^n by adding n to the exponent field; the low bits of k
   * hold n in two's complement. */
  uint64_t kbits, pbits;
  memcpy(&kbits, &k, sizeof k);
  memcpy(&pbits, &p, sizeof p);
  pbits += kbits << 52;
  memcpy(&p, &pbits, sizeof p);
  return p;
}

/* log(x) for normal x > 0: x = 2^e f with f in [sqrt(1/2), sqrt(2)), and
 * log f = 2 atanh(s), s = (f - 1)/(f + 1), |s| < 0.172, by its series to
 * s^21 (truncation < 1e-18). */
static inline double sgm_vlog(double x) {
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  uint64_t bits;
  memcpy(&bits, &x, sizeof x);
  int64_t e = (int64_t)(bits >> 52) - 1023;
  uint64_t mbits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
  double f;
  memcpy(&f, &mbits, sizeof f);
  /* Move f from [1, 2) to [sqrt(1/2), sqrt(2)). */
  const int big = f > 1.4142135623730950488;
  f = big ? 0.5 * f : f;
  const double de = (double)(e + big);
  const double s = (f - 1.0) / (f + 1.0), s2 = s * s;
  double p = 1.0 / 21.0;
  p = p * s2 + 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  const double log_f = 2.0 * s + 2.0 * s * s2 * p;
  return de * ln2_hi + (de * ln2_lo + log_f);
}

/* sin(2 pi u) and cos(2 pi u) for u in [0, 1): the quadrant q = round(4u)
 * and r = (4u - q) pi/2 in [-pi/4, pi/4] (4u - q is exact), then Taylor
 * series of sin r and cos r to degrees 17 and 18 (truncation < 5e-17). */
static inline void sgm_vsincos_2pi(double u, double *sin_out, double *cos_out) {
  const double half_pi_hi = 1.5707963267948965580;
  const double half_pi_lo = 6.1232339957367658e-17;
  const double shifter = 0x1.8p52;
  const double x = 4.0 * u;
  const double qk = x + shifter;
  const double q = qk - shifter;
  const double d = x - q;
  const double r = d * half_pi_hi + d * half_pi_lo;
  const double r2 = r * r;
  double sp = -1.0 / 355687428096000.0; /* -1/17! */
  sp = sp * r2 + 1.0 / 1307674368000.0;
  sp = sp * r2 - 1.0 / 6227020800.0;
  sp = sp * r2 + 1.0 / 39916800.0;
  sp = sp * r2 - 1.0 / 362880.0;
  sp = sp * r2 + 1.0 / 5040.0;
  sp = sp * r2 - 1.0 / 120.0;
  sp = sp * r2 + 1.0 / 6.0;
  const double s0 = r - r * r2 * sp;
  double cp = 1.0 / 6402373705728000.0; /* 1/18! */
  cp = cp * r2 - 1.0 / 20922789888000.0;
  cp = cp * r2 + 1.0 / 87178291200.0;
  cp = cp * r2 - 1.0 / 479001600.0;
  cp = cp * r2 + 1.0 / 3628800.0;
  cp = cp * r2 - 1.0 / 40320.0;
  cp = cp * r2 + 1.0 / 720.0;
  cp = cp * r2 - 1.0 / 24.0;
  cp = cp * r2 + 0.5;
  const double c0 = 1.0 - r2 * cp;
  /* Quadrant q (mod 4): rotate (c0, s0) by q pi/2. */
  uint64_t qb;
  memcpy(&qb, &qk, sizeof qk);
  const int64_t qi = (int64_t)(qb & 3);
  const double swap = (double)(qi & 1), keep = 1.0 - swap;
  const double sin_sign = (qi & 2) ? -1.0 : 1.0;
  const double cos_sign = ((qi + 1) & 2) ? -1.0 : 1.0;
  *sin_out = sin_sign * (keep * s0 + swap * c0);
  *cos_out = cos_sign * (keep * c0 + swap * s0);
}

#endif /* SGM_VMATH_H */
