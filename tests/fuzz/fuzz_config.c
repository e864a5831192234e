/*
 * Fuzz target of the configuration layer (src/config): INI text, `--set`
 * overrides, validation, the resolved text and the [sweep] tasks.
 *
 * The input up to its first NUL byte is the INI text; each further
 * NUL-separated piece (at most 8) is an override.  Without overrides the
 * text goes through sgm_config_parse_text; with them it is written to a
 * file and read by sgm_config_parse, as rank 0 of sgm_config_load reads
 * sgmrun's CONFIG argument (the other ranks read the resolved text, which
 * the round trip below covers).
 *
 * Invariants checked on every accepted configuration (what sgm_config_load
 * and the sweep rely on): its resolved text parses back to the same
 * resolved text, and the first, middle and last sweep tasks build when the
 * parse has checked every task.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgm/config.h"
#include "sgm/error.h"

#define MAX_OVERRIDES 8
/* Sweeps of at most this many tasks are checked in full by the parse
 * (SGM__CFG_SWEEP_CHECK_MAX in src/config/internal.h). */
#define CHECKED_TASKS 10000

static void check_round_trip(const sgm_config_t *cfg, const char *what) {
  sgm_config_t *again = NULL;
  sgm_error_clear();
  if (sgm_config_parse_text(cfg->resolved, "resolved", &again) < 0)
    fuzz_die("the resolved text of %s does not parse back:\n%s", what,
             cfg->resolved);
  if (strcmp(again->resolved, cfg->resolved) != 0)
    fuzz_die("the resolved text of %s changes when read back:\n%s\n---\n%s",
             what, cfg->resolved, again->resolved);
  sgm_config_destroy(&again);
}

static void check_task(const sgm_config_t *cfg, int64_t task, int64_t count) {
  sgm_config_t *one = NULL;
  sgm_error_clear();
  int err = sgm_config_sweep_task(cfg, task, &one);
  if (err < 0 && count <= CHECKED_TASKS)
    fuzz_die("sweep task %lld of %lld does not build", (long long)task,
             (long long)count);
  for (int k = 0; k < cfg->sweep.count; k++)
    if (!sgm_config_sweep_value(cfg, task, k))
      fuzz_die("no value of swept key %d in task %lld", k, (long long)task);
  /* Reading a task back checks every task again: only for small sweeps. */
  if (one && count <= 100)
    check_round_trip(one, "a sweep task");
  sgm_config_destroy(&one);
  sgm_error_clear();
}

static void check(const sgm_config_t *cfg) {
  if (!cfg || !cfg->resolved)
    fuzz_die("accepted without a resolved text");
  check_round_trip(cfg, "the configuration");
  int64_t count = sgm_config_sweep_count(cfg);
  if (count < 1)
    fuzz_die("a sweep of %lld tasks", (long long)count);
  if (sgm_config_sweep_value(cfg, count, 0) ||
      sgm_config_sweep_value(cfg, -1, 0))
    fuzz_die("a value for a task out of range");
  check_task(cfg, 0, count);
  if (count > 1) {
    check_task(cfg, count / 2, count);
    check_task(cfg, count - 1, count);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    fuzz_die("out of memory copying %zu bytes", size);
  memcpy(text, data, size);
  text[size] = '\0';
  /* The pieces after the INI text are NUL-terminated in the copy. */
  const char *overrides[MAX_OVERRIDES];
  int noverrides = 0;
  size_t len = strlen(text);
  for (size_t pos = len; pos < size && noverrides < MAX_OVERRIDES;) {
    overrides[noverrides++] = text + pos + 1;
    pos += 1 + strlen(text + pos + 1);
  }
  sgm_error_clear();
  sgm_config_t *cfg = NULL;
  int err;
  if (noverrides == 0) {
    err = sgm_config_parse_text(text, "fuzz.ini", &cfg);
  } else {
    const char *path = fuzz_path("fuzz.ini");
    fuzz_write(path, data, len);
    err = sgm_config_parse(path, overrides, noverrides, &cfg);
  }
  fuzz_note(noverrides ? "sgm_config_parse" : "sgm_config_parse_text", err);
  if (err < 0) {
    if (cfg)
      fuzz_die("failed but returned a configuration");
    if (!sgm_error_message()[0])
      fuzz_die("failed without a message");
  } else {
    check(cfg);
  }
  sgm_config_destroy(&cfg);
  sgm_error_clear();
  free(text);
  return 0;
}
