/*
 * The diagnostics' local parts: argument checks, the score-error norm, the
 * Novikov accumulator and its reset, and the density shape and edges.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "diag_test.h"
#include "sgm/diagnostics.h"
#include "sgm_test.h"

static void test_create_checks(void) {
  sgm_config_t cfg = diag_config(0, -4, 4);
  sgm_diagnostics_t *g = NULL;
  MPI_Comm w = MPI_COMM_WORLD;
  ASSERT_FAILS(sgm_diagnostics_create(&cfg, w, 0, 0, 1, &g), SGM_ERR_INTERNAL,
               "P = 0");
  ASSERT_TRUE(g == NULL);
  ASSERT_FAILS(sgm_diagnostics_create(&cfg, w, 5, -1, 1, &g), SGM_ERR_INTERNAL,
               "-1 local paths");
  ASSERT_FAILS(sgm_diagnostics_create(&cfg, w, 5, 6, 1, &g), SGM_ERR_INTERNAL,
               "6 local paths out of P = 5");
  ASSERT_FAILS(sgm_diagnostics_create(&cfg, w, 5, 5, 0, &g), SGM_ERR_INTERNAL,
               "d = 0");
  ASSERT_FAILS(sgm_diagnostics_create(&cfg, MPI_COMM_NULL, 5, 5, 1, &g),
               SGM_ERR_INTERNAL, "MPI_COMM_NULL");
  sgm_config_t bad = diag_config(4, 1, 1);
  ASSERT_FAILS(sgm_diagnostics_create(&bad, w, 5, 5, 1, &g), SGM_ERR_CONFIG,
               "density_range");
  /* A bad range does not matter when the histogram is off (d > 2). */
  ASSERT_OK(sgm_diagnostics_create(&bad, w, 5, 5, 3, &g));
  sgm_diagnostics_destroy(&g);
  ASSERT_TRUE(g == NULL);
  sgm_diagnostics_destroy(&g);
  sgm_diagnostics_destroy(NULL);
}

static void test_score_error(void) {
  const double drift[] = {3, 4, 0, 1, 1, 1, -2.5, 0.5, 7};
  const double emp[] = {0, 0, 0, 1, 1, 1, 0.5, 0.5, 3};
  double norm[3] = {-1, -1, -1};
  sgm_diagnostics_score_error(3, 3, drift, emp, norm);
  ASSERT_NEAR(norm[0], 5, 0);
  ASSERT_NEAR(norm[1], 0, 0);
  ASSERT_NEAR(norm[2], 5, 0);

  /* Large finite values: no overflow, no NaN. */
  const double big[] = {1e149, -9e149, 2e149, 5e149};
  const double neg[] = {-1e149, 9e149, -2e149, -5e149};
  double n2[1];
  sgm_diagnostics_score_error(1, 4, big, neg, n2);
  ASSERT_REL(n2[0], 2e149 * sqrt(1 + 81 + 4 + 25), 1e-15);

  /* count = 0 touches nothing. */
  n2[0] = -3;
  sgm_diagnostics_score_error(0, 4, NULL, NULL, n2);
  ASSERT_NEAR(n2[0], -3, 0);
}

static void test_novikov_local(void) {
  sgm_config_t cfg = diag_config(0, -4, 4);
  sgm_diagnostics_t *g = NULL;
  ASSERT_OK(sgm_diagnostics_create(&cfg, MPI_COMM_WORLD, 3, 3, 2, &g));
  if (!g)
    return;
  const double *I = sgm_diagnostics_novikov(g);
  for (int i = 0; i < 3; i++)
    ASSERT_NEAR(I[i], 0, 0);
  const double e[3] = {0, 2, 0.5};
  sgm_diagnostics_novikov_step(g, 4, 0.25, e);
  sgm_diagnostics_novikov_step(g, 2, 0.5, e);
  /* (1/2) e^2 (4 * 0.25 + 2 * 0.5) = e^2 */
  ASSERT_NEAR(I[0], 0, 0);
  ASSERT_NEAR(I[1], 4, 1e-15);
  ASSERT_NEAR(I[2], 0.25, 1e-16);
  const double reset[3] = {1, 2, 3};
  sgm_diagnostics_set_novikov(g, reset);
  for (int i = 0; i < 3; i++)
    ASSERT_NEAR(sgm_diagnostics_novikov(g)[i], reset[i], 0);
  sgm_diagnostics_destroy(&g);
}

static void test_density_shape(void) {
  const struct {
    int bins, d, naxes;
  } cases[] = {{6, 1, 1}, {6, 2, 2}, {6, 3, 0}, {0, 1, 0}, {0, 2, 0}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    sgm_config_t cfg = diag_config(cases[c].bins, -1, 2);
    sgm_diagnostics_t *g = NULL;
    ASSERT_OK(
        sgm_diagnostics_create(&cfg, MPI_COMM_WORLD, 4, 4, cases[c].d, &g));
    if (!g)
      continue;
    int naxes = -1, bins = -1;
    sgm_diagnostics_density_shape(g, &naxes, &bins);
    ASSERT_INT_EQ(naxes, cases[c].naxes);
    ASSERT_INT_EQ(bins, naxes ? cases[c].bins : 0);
    if (naxes) {
      double edges[7];
      sgm_diagnostics_density_edges(g, edges);
      for (int i = 0; i <= 6; i++)
        ASSERT_NEAR(edges[i], -1 + 0.5 * i, 0);
    }
    sgm_diagnostics_destroy(&g);
  }
  /* Edges that do not divide evenly: lo + i (hi - lo) / bins, last = hi. */
  sgm_config_t cfg = diag_config(3, 0, 1);
  sgm_diagnostics_t *g = NULL;
  ASSERT_OK(sgm_diagnostics_create(&cfg, MPI_COMM_WORLD, 1, 1, 1, &g));
  if (g) {
    double edges[4];
    sgm_diagnostics_density_edges(g, edges);
    ASSERT_NEAR(edges[0], 0, 0);
    ASSERT_NEAR(edges[1], 1.0 / 3, DBL_EPSILON);
    ASSERT_NEAR(edges[2], 2.0 / 3, DBL_EPSILON);
    ASSERT_NEAR(edges[3], 1, 0);
    sgm_diagnostics_destroy(&g);
  }
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  test_create_checks();
  test_score_error();
  test_novikov_local();
  test_density_shape();
  return sgm_test_finish();
}
