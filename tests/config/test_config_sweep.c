/* The [sweep] section, and inputs/reference.ini against the key table. */
#include "config/internal.h"
#include "config_test.h"

static const char *dir;

static void test_sweep_tasks(void) {
  sgm_config_t *cfg =
      parse_ok("[sampler]\nsteps = 50\n[sweep]\nperturb.magnitude = 0, 0.5, "
               "1.0\nsampler.steps = 10, 20\n");
  if (!cfg)
    return;
  ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 6);
  ASSERT_INT_EQ(cfg->sweep.count, 2);
  ASSERT_STR_EQ(cfg->sweep.keys[0].key, "perturb.magnitude");
  ASSERT_INT_EQ(cfg->sweep.keys[0].count, 3);
  ASSERT_STR_EQ(cfg->sweep.keys[0].values[2], "1");
  ASSERT_INT_EQ(cfg->sampler.steps, 50);
  ASSERT_TRUE(strstr(cfg->resolved,
                     "\n\n[sweep]\nperturb.magnitude = 0, "
                     "0.5, 1\nsampler.steps = 10, 20\n") != NULL);
  /* Last key fastest: (0,10) (0,20) (0.5,10) (0.5,20) (1,10) (1,20). */
  const double magnitude[] = {0, 0, 0.5, 0.5, 1, 1};
  const int steps[] = {10, 20, 10, 20, 10, 20};
  for (int t = 0; t < 6; t++) {
    sgm_config_t *task = NULL;
    ASSERT_OK(sgm_config_sweep_task(cfg, t, &task));
    if (!task)
      continue;
    ASSERT_NEAR(task->perturb.magnitude, magnitude[t], 0);
    ASSERT_INT_EQ(task->sampler.steps, steps[t]);
    ASSERT_INT_EQ(sgm_config_sweep_count(task), 6);
    ASSERT_TRUE(strstr(task->resolved, "[sweep]\nperturb.magnitude") != NULL);
    char line[64];
    snprintf(line, sizeof line, "\nsteps = %d\n", steps[t]);
    ASSERT_TRUE(strstr(task->resolved, line) != NULL);
    ASSERT_STR_EQ(task->source, cfg->source);
    sgm_config_destroy(&task);
  }
  sgm_config_t *task = NULL;
  ASSERT_FAILS(sgm_config_sweep_task(cfg, 7, &task), SGM_ERR_USAGE,
               "--task 7 is out of range: the sweep has 6 tasks (0..5)");
  ASSERT_FAILS(sgm_config_sweep_task(cfg, -1, &task), SGM_ERR_USAGE,
               "out of range");
  ASSERT_TRUE(task == NULL);
  sgm_config_destroy(&cfg);

  /* No sweep: one task, the configuration itself. */
  cfg = parse_ok("[sde]\nkind = ve\n");
  if (cfg) {
    ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 1);
    ASSERT_OK(sgm_config_sweep_task(cfg, 0, &task));
    if (task)
      ASSERT_STR_EQ(task->resolved, cfg->resolved);
    sgm_config_destroy(&task);
    ASSERT_FAILS(sgm_config_sweep_task(cfg, 1, &task), SGM_ERR_USAGE,
                 "--task 1 is out of range: the sweep has 1 task (0..0)");
  }
  sgm_config_destroy(&cfg);

  /* Derived defaults keep their resolved values in the tasks. */
  cfg = parse_ok("[run]\nseed = 5\n[sweep]\nrun.seed = 1, 2\n");
  if (cfg) {
    ASSERT_OK(sgm_config_sweep_task(cfg, 1, &task));
    if (task) {
      ASSERT_INT_EQ(task->run.seed, 2);
      ASSERT_INT_EQ(task->data.seed, 5);
    }
    sgm_config_destroy(&task);
  }
  sgm_config_destroy(&cfg);
}

static void test_sweep_errors(void) {
  PARSE_FAILS("[sweep]\nperturb.magnitud = 0, 1\n", SGM_ERR_CONFIG,
              "t.ini:2: [sweep] perturb.magnitud: unknown key 'magnitud' in "
              "[perturb]; did you mean 'magnitude'?");
  PARSE_FAILS("[sweep]\nperturbb.magnitude = 0, 1\n", SGM_ERR_CONFIG,
              "unknown section [perturbb]; did you mean [perturb]?");
  PARSE_FAILS("[sweep]\nsweep.x = 0, 1\n", SGM_ERR_CONFIG,
              "unknown section [sweep]");
  PARSE_FAILS("[sweep]\nmagnitude = 0, 1\n", SGM_ERR_CONFIG,
              "t.ini:2: [sweep] 'magnitude' must name a key as section.key");
  PARSE_FAILS("[sweep]\ndata.variances = 1, 2\n", SGM_ERR_CONFIG,
              "t.ini:2: [sweep] data.variances: cannot sweep a list-valued "
              "key");
  PARSE_FAILS("[sweep]\njacobian.times = 0.1\n", SGM_ERR_CONFIG,
              "cannot sweep a list-valued key");
  PARSE_FAILS("[sweep]\nperturb.rank = 2, 1\n", SGM_ERR_CONFIG,
              "t.ini:2: [sweep] perturb.rank = '1': expected an integer >= 2");
  PARSE_FAILS("[sweep]\nsde.kind = vp,, ve\n", SGM_ERR_CONFIG,
              "expected a comma-separated list of values, one per task");
  PARSE_FAILS("[sweep]\nsde.kind = vp\nsde.kind = ve\n", SGM_ERR_CONFIG,
              "t.ini:3: [sweep] sde.kind is set twice, on lines 2 and 3");
  /* Every task is checked against the rules between keys. */
  PARSE_FAILS("[sde]\nt_min = 0.01\n[sweep]\nsampler.steps = 1, 2\n"
              "sde.T = 1, 0.005\n",
              SGM_ERR_CONFIG,
              "t.ini:2: [sde] t_min = 0.01 must be less than [sde] T = 0.005 "
              "([sweep] task 1)");
  PARSE_FAILS("[sweep]\nsampler.steps = 1, 2\nsde.t_min = 0.5, 2\n",
              SGM_ERR_CONFIG,
              "t.ini:3: [sweep] task 1: [sde] t_min = 2 must be less than "
              "[sde] T = 1 (default)");
}

static void test_sweep_overrides(void) {
  const char *path =
      write_file(dir, "sw.ini", "[sweep]\nperturb.magnitude = 0, 1\n");
  sgm_config_t *cfg = NULL;
  const char *add[] = {"sweep.sde.kind=vp, ve, ou"};
  ASSERT_OK(sgm_config_parse(path, add, 1, &cfg));
  if (cfg)
    ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 6);
  sgm_config_destroy(&cfg);
  const char *replace[] = {"sweep.perturb.magnitude=0,1,2,3"};
  ASSERT_OK(sgm_config_parse(path, replace, 1, &cfg));
  if (cfg) {
    ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 4);
    ASSERT_TRUE(strstr(cfg->resolved, "magnitude = 0, 1, 2, 3\n") != NULL);
  }
  sgm_config_destroy(&cfg);
  const char *remove[] = {"sweep.perturb.magnitude="};
  ASSERT_OK(sgm_config_parse(path, remove, 1, &cfg));
  if (cfg) {
    ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 1);
    ASSERT_TRUE(strstr(cfg->resolved, "[sweep]") == NULL);
  }
  sgm_config_destroy(&cfg);
  const char *bad[] = {"sweep.perturb.magnitude=0,x"};
  ASSERT_FAILS(sgm_config_parse(path, bad, 1, &cfg), SGM_ERR_CONFIG,
               "--set sweep.perturb.magnitude=0,x: [sweep] perturb.magnitude "
               "= 'x': expected a real number");
}

/* Every key of the table, in its section, once, uncommented and preceded by
 * a comment; and the values are the defaults. */
static void test_reference(void) {
  const char *source = getenv("SGM_SOURCE_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/inputs/reference.ini", source ? source : ".");
  sgm_config_t *cfg = NULL;
  ASSERT_OK(sgm_config_parse(path, NULL, 0, &cfg));
  if (!cfg)
    return;
  ASSERT_STR_EQ(cfg->run.name, "reference");
  ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 3);

  FILE *fp = fopen(path, "r");
  ASSERT_TRUE(fp != NULL);
  if (!fp) {
    sgm_config_destroy(&cfg);
    return;
  }
  int *seen = calloc((size_t)sgm__cfg_nkeys, sizeof *seen);
  char line[512], section[64] = "";
  bool commented = false;
  while (fgets(line, sizeof line, fp)) {
    if (line[0] == '[') {
      sscanf(line, "[%63[^]]", section);
    } else if (line[0] != ';' && line[0] != '#' && line[0] != '\n' &&
               strcmp(section, "sweep") != 0) {
      char name[64] = "";
      sscanf(line, "%63[^ =]", name);
      int k = sgm__cfg_find_key(section, name);
      if (k < 0)
        SGM_TEST_FAIL("reference.ini: [%s] %s is not a key", section, name);
      else {
        seen[k]++;
        if (!commented)
          SGM_TEST_FAIL("reference.ini: [%s] %s has no comment", section, name);
      }
    }
    commented = line[0] == ';' || line[0] == '#';
  }
  fclose(fp);
  for (int k = 0; k < sgm__cfg_nkeys; k++) {
    const struct sgm__cfg_key *key = &sgm__cfg_keys[k];
    if (!key->doc || strlen(key->doc) < 10)
      SGM_TEST_FAIL("[%s] %s has no description", key->section, key->name);
    if (seen[k] != 1)
      SGM_TEST_FAIL("reference.ini: [%s] %s appears %d times", key->section,
                    key->name, seen[k]);
  }
  free(seen);

  /* The values shown are the defaults: compare with an empty file of the
   * same name that has a (empty) [jacobian] section. */
  const char *empty = write_file(dir, "reference.ini", "[jacobian]\n");
  sgm_config_t *defaults = NULL;
  const char *nosweep[] = {"sweep.perturb.magnitude="};
  sgm_config_t *plain = NULL;
  ASSERT_OK(sgm_config_parse(empty, NULL, 0, &defaults));
  ASSERT_OK(sgm_config_parse(path, nosweep, 1, &plain));
  if (defaults && plain)
    ASSERT_STR_EQ(plain->resolved, defaults->resolved);
  sgm_config_destroy(&defaults);
  sgm_config_destroy(&plain);
  sgm_config_destroy(&cfg);
}

static void test_suggest(void) {
  ASSERT_INT_EQ(sgm__cfg_distance("steps", "steps"), 0);
  ASSERT_INT_EQ(sgm__cfg_distance("stpes", "steps"), 1);
  ASSERT_INT_EQ(sgm__cfg_distance("sampeler", "sampler"), 1);
  ASSERT_INT_EQ(sgm__cfg_distance("", "abc"), 3);
  ASSERT_INT_EQ(sgm__cfg_distance("kitten", "sitting"), 3);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  dir = sgm_test_tmpdir("config-sweep");
  test_sweep_tasks();
  test_sweep_errors();
  test_sweep_overrides();
  test_reference();
  test_suggest();
  return sgm_test_finish();
}
