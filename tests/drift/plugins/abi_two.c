/* A plugin for the tests that claims a future ABI (2): sgmrun must refuse it
 * before calling anything else. */
#include "sgm/plugin.h"

int sgm_plugin_abi_version(void) { return SGM_PLUGIN_ABI_VERSION + 1; }

int sgm_plugin_init(const sgm_plugin_info_t *info, void **state, char *message,
                    size_t message_size) {
  *state = NULL;
  return 0;
}

int sgm_plugin_eval(void *state, double t, double m, double sigma2, int64_t n,
                    const double *x, double *score, char *message,
                    size_t message_size) {
  return 0;
}

void sgm_plugin_finalize(void *state) {}
