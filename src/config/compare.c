/* Comparing two configurations key by key (resuming a run checks that the
 * configuration has not changed since its checkpoint). */
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

static bool ignored(const char *section, const char *name,
                    const char *const *ignore) {
  char full[128];
  snprintf(full, sizeof full, "%s.%s", section, name);
  for (int i = 0; ignore && ignore[i]; i++)
    if (strcmp(ignore[i], full) == 0)
      return true;
  return false;
}

/* The sweep section as canonical text ("key = v1, v2" per line). */
static int sweep_text(const sgm_config_t *cfg, struct sgm__buf *out) {
  for (int i = 0; i < cfg->sweep.count; i++) {
    SGM_CALL(sgm__buf_printf(out, "%s =", cfg->sweep.keys[i].key));
    for (int j = 0; j < cfg->sweep.keys[i].count; j++)
      SGM_CALL(sgm__buf_printf(out, "%s %s", j ? "," : "",
                               cfg->sweep.keys[i].values[j]));
    SGM_CALL(sgm__buf_append(out, "\n", 1));
  }
  return 0;
}

int sgm_config_compare(const sgm_config_t *a, const sgm_config_t *b,
                       const char *const *ignore, char *what, size_t len) {
  int err = 0, differ = 0;
  struct sgm__buf va = {0}, vb = {0};
  for (int k = 0; k < sgm__cfg_nkeys && !differ; k++) {
    const struct sgm__cfg_key *key = &sgm__cfg_keys[k];
    if (ignored(key->section, key->name, ignore))
      continue;
    va.len = vb.len = 0;
    SGM_CALL_GOTO(sgm__cfg_value_format(key, a, &va), done);
    SGM_CALL_GOTO(sgm__cfg_value_format(key, b, &vb), done);
    if (va.len != vb.len || memcmp(va.data, vb.data, va.len) != 0) {
      differ = 1;
      snprintf(what, len, "[%s] %s = %.*s here, %.*s there", key->section,
               key->name, (int)va.len, va.data ? va.data : "", (int)vb.len,
               vb.data ? vb.data : "");
    }
  }
  if (!differ) {
    va.len = vb.len = 0;
    SGM_CALL_GOTO(sweep_text(a, &va), done);
    SGM_CALL_GOTO(sweep_text(b, &vb), done);
    if (va.len != vb.len || memcmp(va.data, vb.data, va.len) != 0) {
      differ = 1;
      snprintf(what, len, "the [sweep] sections differ");
    }
  }
  if (!differ && len > 0)
    what[0] = '\0';
done:
  sgm__buf_free(&va);
  sgm__buf_free(&vb);
  return err < 0 ? err : differ;
}
