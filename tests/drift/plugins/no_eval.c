/* A broken plugin for the tests: it exports everything but sgm_plugin_eval.
 * sgmrun must refuse it, naming the missing symbol. */
#include "sgm/plugin.h"

int sgm_plugin_abi_version(void) { return SGM_PLUGIN_ABI_VERSION; }

int sgm_plugin_init(const sgm_plugin_info_t *info, void **state, char *message,
                    size_t message_size) {
  *state = NULL;
  return 0;
}

void sgm_plugin_finalize(void *state) {}
