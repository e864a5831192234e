/*
 * A minimal assertion layer for sgmrun's C tests.  Assertions print both
 * sides and the location, count the failure and carry on, so that one run
 * reports every broken expectation.  Under MPI, sgm_test_finish() combines
 * the counts of all ranks: the test fails if any rank failed.
 */
#ifndef SGM_TEST_H
#define SGM_TEST_H

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgm/config.h"
#include "sgm/error.h"
#include "sgm/log.h"

extern int sgm_test_failures;
extern int sgm_test_rank;

void sgm_test_init(int *argc, char ***argv);
/** Collective: returns the process exit status (0 when every rank passed). */
int sgm_test_finish(void);
/** A configuration built by hand (no parser): every field zero but the
 * [sde] defaults of the key table (vp, beta 0.1 .. 20, sigma 0.01 .. 50,
 * T = 1, t_min = 1e-3), the given seed, the empirical model and no
 * perturbation (direction ones, alpha 1, rank 2).  Tests set the rest. */
sgm_config_t sgm_test_config(uint64_t seed);
/** Creates a fresh scratch directory for this test (rank 0 makes it; all see
 * it). */
const char *sgm_test_tmpdir(const char *name);

#define SGM_TEST_FAIL(...)                                                     \
  do {                                                                         \
    fprintf(stderr, "[rank %d] %s:%d: FAIL: ", sgm_test_rank, __FILE__,        \
            __LINE__);                                                         \
    fprintf(stderr, __VA_ARGS__);                                              \
    fputc('\n', stderr);                                                       \
    sgm_test_failures++;                                                       \
  } while (0)

#define ASSERT_TRUE(cond)                                                      \
  do {                                                                         \
    if (!(cond))                                                               \
      SGM_TEST_FAIL("%s", #cond);                                              \
  } while (0)

#define ASSERT_INT_EQ(a, b)                                                    \
  do {                                                                         \
    long long sgm__a = (long long)(a), sgm__b = (long long)(b);                \
    if (sgm__a != sgm__b)                                                      \
      SGM_TEST_FAIL("%s == %s: %lld != %lld", #a, #b, sgm__a, sgm__b);         \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
  do {                                                                         \
    const char *sgm__a = (a), *sgm__b = (b);                                   \
    if (!sgm__a || !sgm__b || strcmp(sgm__a, sgm__b) != 0)                     \
      SGM_TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,                      \
                    sgm__a ? sgm__a : "(null)", sgm__b ? sgm__b : "(null)");   \
  } while (0)

/** |a - b| <= tol. */
#define ASSERT_NEAR(a, b, tol)                                                 \
  do {                                                                         \
    double sgm__a = (a), sgm__b = (b), sgm__t = (tol);                         \
    if (!(fabs(sgm__a - sgm__b) <= sgm__t))                                    \
      SGM_TEST_FAIL("%s ~ %s: %.17g vs %.17g (diff %.3g > %.3g)", #a, #b,      \
                    sgm__a, sgm__b, fabs(sgm__a - sgm__b), sgm__t);            \
  } while (0)

/** |a - b| <= rtol * |b|  (b is the reference). */
#define ASSERT_REL(a, b, rtol)                                                 \
  do {                                                                         \
    double sgm__a = (a), sgm__b = (b), sgm__t = (rtol);                        \
    if (!(fabs(sgm__a - sgm__b) <= sgm__t * fabs(sgm__b)))                     \
      SGM_TEST_FAIL("%s ~ %s: %.17g vs %.17g (rel %.3g > %.3g)", #a, #b,       \
                    sgm__a, sgm__b, fabs(sgm__a - sgm__b) / fabs(sgm__b),      \
                    sgm__t);                                                   \
  } while (0)

/** expr must return 0 (prints the recorded error otherwise). */
#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    sgm_error_clear();                                                         \
    int sgm__rc = (expr);                                                      \
    if (sgm__rc != 0)                                                          \
      SGM_TEST_FAIL("%s returned %d (%s): %s", #expr, sgm__rc,                 \
                    sgm_strerror(sgm__rc), sgm_error_message());               \
  } while (0)

/** expr must fail with code and a message containing text. */
#define ASSERT_FAILS(expr, code, text)                                         \
  do {                                                                         \
    sgm_error_clear();                                                         \
    int sgm__rc = (expr);                                                      \
    if (sgm__rc != (code))                                                     \
      SGM_TEST_FAIL("%s returned %d (%s), expected %d (%s); message: %s",      \
                    #expr, sgm__rc, sgm_strerror(sgm__rc), (int)(code),        \
                    sgm_strerror(code), sgm_error_message());                  \
    else if (!strstr(sgm_error_message(), (text)))                             \
      SGM_TEST_FAIL("%s: message \"%s\" does not contain \"%s\"", #expr,       \
                    sgm_error_message(), (text));                              \
    sgm_error_clear();                                                         \
  } while (0)

#endif /* SGM_TEST_H */
