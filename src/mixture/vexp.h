/*
 * A branch-free exponential for the kernel's inner loops, written so that the
 * compiler vectorises it (libm's exp is a scalar call).  Valid for
 * x in [-708, 1]; the kernel only asks for exp(l - max) <= 1 and flushes
 * arguments below SGM_EXP_CUTOFF to zero first, so no result is subnormal.
 * Accuracy: within 2 ulp of the correctly rounded value (tested against expl).
 */
#ifndef SGM_VEXP_H
#define SGM_VEXP_H

#include <stdint.h>
#include <string.h>

/* Weights below e^-600 relative to the largest are dropped: they are far
 * below double precision, and keeping them would feed subnormal products to
 * DGEMM (several times slower on this hardware). */
#define SGM_EXP_CUTOFF (-600.0)

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

/** w[j] <- exp(w[j] - shift), or 0 where w[j] - shift < SGM_EXP_CUTOFF. */
static inline void sgm_vexp_shifted(double *restrict w, int64_t n,
                                    double shift) {
  for (int64_t j = 0; j < n; j++) {
    double z = w[j] - shift;
    double e = sgm_vexp(z < SGM_EXP_CUTOFF ? SGM_EXP_CUTOFF : z);
    w[j] = z < SGM_EXP_CUTOFF ? 0.0 : e;
  }
}

#endif /* SGM_VEXP_H */
