/*
 * The [sweep] section: `section.key = v1, v2, ...` per swept key, the tasks
 * being the Cartesian product with the last key varying fastest.  A task is
 * the resolved configuration with that task's values applied, so defaults
 * derived from other keys (run.output, data.seed, data.path, data.scale,
 * data.dim) keep the values they resolved to.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

static void free_entry(struct sgm__cfg_sweep_entry *e) {
  for (int i = 0; i < e->count; i++)
    free(e->values[i]);
  free(e->values);
  free(e->prefix);
  *e = (struct sgm__cfg_sweep_entry){0};
}

/* Splits values at ',' and validates each with the key's own parser;
 * stores their canonical text in e. */
static int parse_values(const struct sgm__cfg_key *k, const char *display,
                        const char *values, struct sgm__cfg_sweep_entry *e) {
  int count = 1;
  for (const char *s = values; *s; s++)
    count += *s == ',';
  SGM_CALL(SGM_CALLOC(e->values, (size_t)count));
  sgm_config_t *scratch = calloc(1, sizeof *scratch);
  SGM_CHECK(scratch, SGM_ERR_NOMEM, "out of memory checking a sweep");
  int err = 0;
  char *one = NULL, why[512];
  const char *s = values;
  for (int i = 0; i < count; i++) {
    const char *end = strchr(s, ',');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    SGM_CALL_GOTO(sgm__cfg_strdup_trim(&one, s, n), done);
    SGM_CHECK_GOTO(one[0], SGM_ERR_CONFIG, done,
                   "%s = '%s': expected a comma-separated list of values, "
                   "one per task",
                   display, values);
    int rc = sgm__cfg_value_parse(k, one, scratch, why, sizeof why);
    SGM_CHECK_GOTO(rc <= 0, SGM_ERR_CONFIG, done, "%s = '%s': %s", display, one,
                   why);
    SGM_CALL_GOTO(rc, done);
    struct sgm__buf text = {0};
    SGM_CALL_GOTO(sgm__cfg_value_format(k, scratch, &text), done);
    e->values[i] = text.data;
    e->count = i + 1;
    free(one);
    one = NULL;
    s = end ? end + 1 : s + n;
  }
done:
  free(one);
  sgm_config_destroy(&scratch);
  return err;
}

int sgm__cfg_sweep_add(struct sgm__cfg_input *in, const char *key,
                       const char *values, const char *prefix, int line) {
  char display[1200], section[64];
  snprintf(display, sizeof display, "%s: [sweep] %s", prefix, key);
  const char *dot = strchr(key, '.');
  SGM_CHECK(dot && dot != key && dot[1] && dot - key < (int)sizeof section,
            SGM_ERR_CONFIG,
            "%s: [sweep] '%s' must name a key as section.key (e.g. "
            "perturb.magnitude)",
            prefix, key);
  snprintf(section, sizeof section, "%.*s", (int)(dot - key), key);
  if (sgm__cfg_find_section(section) < 0 || strcmp(section, "sweep") == 0)
    return sgm__cfg_unknown_section(display, section, true);
  int k = sgm__cfg_find_key(section, dot + 1);
  if (k < 0)
    return sgm__cfg_unknown_key(display, section, dot + 1);
  SGM_CHECK(!sgm__cfg_is_list(&sgm__cfg_keys[k]), SGM_ERR_CONFIG,
            "%s: cannot sweep a list-valued key", display);

  int slot = 0;
  while (slot < in->nsweep && in->sweep[slot].key != k)
    slot++;
  if (!values[0]) {
    /* An empty value takes the key out of the sweep. */
    if (slot < in->nsweep) {
      free_entry(&in->sweep[slot]);
      memmove(&in->sweep[slot], &in->sweep[slot + 1],
              (size_t)(in->nsweep - slot - 1) * sizeof *in->sweep);
      in->nsweep--;
    }
    return 0;
  }
  struct sgm__cfg_sweep_entry e = {.key = k, .line = line};
  int err = 0;
  SGM_CALL_GOTO(parse_values(&sgm__cfg_keys[k], display, values, &e), fail);
  SGM_CALL_GOTO(sgm__cfg_strdup(&e.prefix, prefix), fail);
  if (slot == in->nsweep) {
    struct sgm__cfg_sweep_entry *grown =
        realloc(in->sweep, (size_t)(in->nsweep + 1) * sizeof *grown);
    SGM_CHECK_GOTO(grown, SGM_ERR_NOMEM, fail, "out of memory for a sweep");
    in->sweep = grown;
    in->nsweep++;
  } else {
    free_entry(&in->sweep[slot]);
  }
  in->sweep[slot] = e;
  if (strcmp(section, "jacobian") == 0)
    in->jacobian_seen = true;
  return 0;
fail:
  free_entry(&e);
  return err;
}

int64_t sgm_config_sweep_count(const sgm_config_t *cfg) {
  int64_t count = 1;
  for (int i = 0; i < cfg->sweep.count; i++) {
    int64_t n = cfg->sweep.keys[i].count;
    count = n > 0 && count > INT64_MAX / n ? INT64_MAX : count * n;
  }
  return count;
}

/* Sets the task's value of every swept key in in. */
const char *sgm_config_sweep_value(const sgm_config_t *cfg, int64_t task,
                                   int key) {
  if (key < 0 || key >= cfg->sweep.count || task < 0 ||
      task >= sgm_config_sweep_count(cfg))
    return NULL;
  /* Mixed radix, the last key varying fastest (as apply_task). */
  for (int i = cfg->sweep.count - 1; i > key; i--)
    task /= cfg->sweep.keys[i].count;
  return cfg->sweep.keys[key].values[task % cfg->sweep.keys[key].count];
}

static int apply_task(struct sgm__cfg_input *in, const sgm_config_t *cfg,
                      int64_t task, const struct sgm__cfg_input *origins) {
  char where[64];
  snprintf(where, sizeof where, "[sweep] task %" PRId64, task);
  for (int i = cfg->sweep.count - 1; i >= 0; i--) {
    const struct sgm_sweep_key *s = &cfg->sweep.keys[i];
    const char *dot = strchr(s->key, '.');
    char section[64];
    snprintf(section, sizeof section, "%.*s", (int)(dot - s->key), s->key);
    int k = sgm__cfg_find_key(section, dot + 1);
    SGM_CHECK(k >= 0, SGM_ERR_INTERNAL, "swept key %s vanished", s->key);
    char prefix[1200];
    snprintf(prefix, sizeof prefix, "%s: %s",
             origins && i < origins->nsweep ? origins->sweep[i].prefix
                                            : "[sweep]",
             where);
    SGM_CALL(
        sgm__cfg_input_set(in, k, s->values[task % s->count], prefix, where));
    task /= s->count;
  }
  return 0;
}

int sgm__cfg_sweep_check(const sgm_config_t *cfg,
                         const struct sgm__cfg_input *in) {
  int64_t count = sgm_config_sweep_count(cfg);
  SGM_CHECK(count < INT64_MAX, SGM_ERR_CONFIG,
            "%s: the [sweep] section has too many tasks to count", in->origin);
  if (cfg->sweep.count == 0 || count > SGM__CFG_SWEEP_CHECK_MAX)
    return 0;
  /* Each task is checked the way sgm_config_sweep_task builds it: every key
   * at its resolved value, but with the user's origins in messages. */
  struct sgm__cfg_input base;
  int err = 0;
  SGM_CALL(sgm__cfg_input_init(&base, in->origin, in->source, "sgmrun"));
  for (int k = 0; k < sgm__cfg_nkeys; k++) {
    struct sgm__buf text = {0};
    SGM_CALL_GOTO(sgm__cfg_value_format(&sgm__cfg_keys[k], cfg, &text), done);
    err = sgm__cfg_input_set(&base, k, text.data ? text.data : "",
                             in->set[k].prefix, in->set[k].where);
    sgm__buf_free(&text);
    SGM_CALL_GOTO(err, done);
  }
  for (int64_t task = 0; task < count; task++) {
    struct sgm__cfg_input one;
    sgm_config_t *built = NULL;
    SGM_CALL_GOTO(sgm__cfg_input_copy(&one, &base, true), done);
    err = apply_task(&one, cfg, task, in);
    if (!err)
      err = sgm__cfg_build(&one, SGM__CFG_NO_TEXT, &built);
    sgm_config_destroy(&built);
    sgm__cfg_input_free(&one);
    SGM_CALL_GOTO(err, done);
  }
done:
  sgm__cfg_input_free(&base);
  return err;
}

int sgm_config_sweep_task(const sgm_config_t *cfg, int64_t task,
                          sgm_config_t **out) {
  *out = NULL;
  int64_t count = sgm_config_sweep_count(cfg);
  SGM_CHECK(task >= 0 && task < count, SGM_ERR_USAGE,
            "--task %" PRId64 " is out of range: the sweep has %" PRId64
            " task%s (0..%" PRId64 ")",
            task, count, count == 1 ? "" : "s", count - 1);
  char origin[1100];
  snprintf(origin, sizeof origin, "%s (resolved)",
           cfg->source && cfg->source[0] ? cfg->source : "configuration");
  struct sgm__cfg_input in;
  int err = 0;
  SGM_CALL(sgm__cfg_input_init(&in, origin, cfg->source ? cfg->source : "",
                               "sgmrun"));
  SGM_CALL_GOTO(sgm__cfg_read(&in, cfg->resolved, origin), done);
  SGM_CALL_GOTO(apply_task(&in, cfg, task, NULL), done);
  SGM_CALL_GOTO(sgm__cfg_build(&in, 0, out), done);
done:
  sgm__cfg_input_free(&in);
  return err;
}
