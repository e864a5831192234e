/* Shared by the diagnostics tests: a configuration with only the keys the
 * diagnostics read. */
#ifndef SGM_DIAG_TEST_H
#define SGM_DIAG_TEST_H

#include <string.h>

#include "sgm/config.h"

static inline sgm_config_t diag_config(int bins, double lo, double hi) {
  sgm_config_t c;
  memset(&c, 0, sizeof c);
  c.diagnostics.nearest = true;
  c.diagnostics.novikov = true;
  c.diagnostics.density_bins = bins;
  c.diagnostics.density_range[0] = lo;
  c.diagnostics.density_range[1] = hi;
  return c;
}

#endif
