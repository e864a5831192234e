/* Parsing: defaults, every value type, file syntax, errors and overrides. */
#include <stdint.h>

#include "config_test.h"

static const char *dir;

static void test_defaults(void) {
  const char *path = write_file(dir, "my-exp.ini", "[run]\nseed = 7\n");
  sgm_config_t *cfg = NULL;
  ASSERT_OK(sgm_config_parse(path, NULL, 0, &cfg));
  if (!cfg)
    return;
  ASSERT_STR_EQ(cfg->source, path);
  ASSERT_STR_EQ(cfg->run.name, "my-exp");
  ASSERT_STR_EQ(cfg->run.output, "results/my-exp.h5");
  ASSERT_INT_EQ(cfg->run.seed, 7);
  ASSERT_INT_EQ(cfg->data.seed, 7);
  ASSERT_INT_EQ(cfg->run.precision, SGM_PRECISION_FLOAT64);
  ASSERT_INT_EQ(cfg->run.checkpoint_every, 0);
  ASSERT_INT_EQ(cfg->grid.rows, 0);
  ASSERT_INT_EQ(cfg->data.source, SGM_DATA_FASHION_MNIST);
  ASSERT_STR_EQ(cfg->data.path, "/usr/share/datasets/fashion-mnist/");
  ASSERT_STR_EQ(cfg->data.dataset, "/data");
  ASSERT_STR_EQ(cfg->data.labels, "");
  ASSERT_INT_EQ(cfg->data.split, SGM_SPLIT_TRAIN);
  ASSERT_INT_EQ(cfg->data.n, 0);
  ASSERT_INT_EQ(cfg->data.classes.count, 0);
  ASSERT_INT_EQ(cfg->data.scale, SGM_SCALE_MINUS1_1);
  ASSERT_INT_EQ(cfg->data.dim, 0);
  ASSERT_NEAR(cfg->data.radius, 1, 0);
  ASSERT_INT_EQ(cfg->data.variances.count, 1);
  ASSERT_INT_EQ(cfg->data.weights.count, 0);
  ASSERT_INT_EQ(cfg->sde.kind, SGM_SDE_VP);
  ASSERT_NEAR(cfg->sde.beta_min, 0.1, 0);
  ASSERT_NEAR(cfg->sde.beta_max, 20, 0);
  ASSERT_NEAR(cfg->sde.sigma_min, 0.01, 0);
  ASSERT_NEAR(cfg->sde.sigma_max, 50, 0);
  ASSERT_NEAR(cfg->sde.T, 1, 0);
  ASSERT_NEAR(cfg->sde.t_min, 1e-3, 0);
  ASSERT_INT_EQ(cfg->drift.model, SGM_DRIFT_EMPIRICAL);
  ASSERT_NEAR(cfg->drift.bandwidth, 0, 0);
  ASSERT_STR_EQ(cfg->drift.plugin, "");
  ASSERT_INT_EQ(cfg->perturb.kind, SGM_PERTURB_NONE);
  ASSERT_NEAR(cfg->perturb.alpha, 1, 0);
  ASSERT_INT_EQ(cfg->perturb.rank, 2);
  ASSERT_INT_EQ(cfg->sampler.steps, 1000);
  ASSERT_INT_EQ(cfg->sampler.particles, 1000);
  ASSERT_INT_EQ(cfg->sampler.prior_value.count, 1);
  ASSERT_TRUE(cfg->sampler.denoise);
  ASSERT_INT_EQ(cfg->output.every, 10);
  ASSERT_TRUE(!cfg->output.trajectories);
  ASSERT_TRUE(cfg->diagnostics.nearest && cfg->diagnostics.novikov);
  ASSERT_NEAR(cfg->diagnostics.density_range[0], -4, 0);
  ASSERT_NEAR(cfg->diagnostics.density_range[1], 4, 0);
  ASSERT_INT_EQ(cfg->jacobian.times.count, 5);
  if (cfg->jacobian.times.count == 5)
    ASSERT_NEAR(cfg->jacobian.times.values[4], 0.3, 0);
  ASSERT_INT_EQ(cfg->jacobian.points, 128);
  ASSERT_INT_EQ(cfg->jacobian.grid_p, 0);
  ASSERT_INT_EQ(cfg->jacobian.grid_q, 0);
  ASSERT_INT_EQ(cfg->jacobian.block, 64);
  ASSERT_INT_EQ(cfg->jacobian.save_vectors, SGM_SAVE_VECTORS_NAMED);
  ASSERT_TRUE(!cfg->jacobian.enabled);
  ASSERT_INT_EQ(cfg->sweep.count, 0);
  ASSERT_INT_EQ(sgm_config_sweep_count(cfg), 1);
  ASSERT_TRUE(strstr(cfg->resolved, "[run]\nname = my-exp\n") == cfg->resolved);
  ASSERT_TRUE(strstr(cfg->resolved, "\nbandwidth =\n") != NULL);
  ASSERT_TRUE(strstr(cfg->resolved, "[sweep]") == NULL);
  sgm_config_destroy(&cfg);
  ASSERT_TRUE(cfg == NULL);
  sgm_config_destroy(&cfg);
  sgm_config_destroy(NULL);

  /* The name drops the last extension and characters a name cannot have. */
  path = write_file(dir, "a b.c.ini", "");
  ASSERT_OK(sgm_config_parse(path, NULL, 0, &cfg));
  if (cfg)
    ASSERT_STR_EQ(cfg->run.name, "a_b.c");
  sgm_config_destroy(&cfg);

  /* Text has no file name; data.seed follows run.seed unless set. */
  cfg = parse_ok("[run]\nseed = 3\noutput = x.h5\n[data]\nseed = 11\n");
  if (cfg) {
    ASSERT_STR_EQ(cfg->run.name, "sgmrun");
    ASSERT_STR_EQ(cfg->run.output, "x.h5");
    ASSERT_STR_EQ(cfg->source, "");
    ASSERT_INT_EQ(cfg->data.seed, 11);
  }
  sgm_config_destroy(&cfg);

  /* Scale and path follow the source. */
  const struct {
    const char *text;
    enum sgm_scale scale;
  } scales[] = {
      {"[data]\nsource = idx\npath = /x\n", SGM_SCALE_MINUS1_1},
      {"[data]\nsource = cifar10\npath = /x\n", SGM_SCALE_MINUS1_1},
      {"[data]\nsource = hdf5\npath = /x.h5\n", SGM_SCALE_NONE},
      {"[data]\nsource = npy\npath = /x.npy\n", SGM_SCALE_NONE},
      {"[data]\nsource = gmm\nn = 5\nmeans = 0;1;2\n", SGM_SCALE_NONE},
      {"[data]\nsource = idx\npath = /x\nscale = unit\n", SGM_SCALE_UNIT},
  };
  for (size_t i = 0; i < sizeof scales / sizeof *scales; i++) {
    cfg = parse_ok(scales[i].text);
    if (cfg)
      ASSERT_INT_EQ(cfg->data.scale, scales[i].scale);
    sgm_config_destroy(&cfg);
  }
  cfg = parse_ok("[data]\nsource = gmm\nn = 5\nmeans = 0;1;2\n");
  if (cfg) {
    ASSERT_STR_EQ(cfg->data.path, "");
    ASSERT_INT_EQ(cfg->data.dim, 3);
  }
  sgm_config_destroy(&cfg);

  /* An empty value is unset: the default applies. */
  cfg = parse_ok("[sampler]\nsteps =\n[data]\nscale =\n");
  if (cfg) {
    ASSERT_INT_EQ(cfg->sampler.steps, 1000);
    ASSERT_INT_EQ(cfg->data.scale, SGM_SCALE_MINUS1_1);
  }
  sgm_config_destroy(&cfg);

  /* A [jacobian] section, even empty, turns the analysis on. */
  cfg = parse_ok("[jacobian]\n");
  if (cfg)
    ASSERT_TRUE(cfg->jacobian.enabled);
  sgm_config_destroy(&cfg);
  cfg = parse_ok("[jacobian]\nenabled = no\n");
  if (cfg)
    ASSERT_TRUE(!cfg->jacobian.enabled);
  sgm_config_destroy(&cfg);
}

static void test_good_values(void) {
  sgm_config_t *cfg = parse_ok(
      "[run]\nname = ok.name-1_2\nseed = 18446744073709551615\n"
      "precision = float32\ncheckpoint_every = 5\ncheckpoint_seconds = 1.5\n"
      "[grid]\nrows = 3\n"
      "[data]\nclasses = 3, 1\nn = 100\nsplit = test\n"
      "[perturb]\nkind = rotation\nmagnitude = -2.5\nrank = 4\n"
      "[sampler]\ndenoise = off\nprior = point\nprior_value = 1, -2\n"
      "[output]\ntrajectories = true\nstorage = float32\n"
      "[diagnostics]\nnearest = 0\nnovikov = false\ndensity_range = -1.5, 2\n"
      "[jacobian]\ngrid = 2x3\nmethod = fd\nsave_vectors = all\n"
      "[drift]\nplugin_args = a;b=c\n");
  if (!cfg)
    return;
  ASSERT_STR_EQ(cfg->run.name, "ok.name-1_2");
  ASSERT_TRUE(cfg->run.seed == UINT64_MAX);
  ASSERT_INT_EQ(cfg->data.seed == UINT64_MAX, 1);
  ASSERT_INT_EQ(cfg->run.precision, SGM_PRECISION_FLOAT32);
  ASSERT_INT_EQ(cfg->run.checkpoint_every, 5);
  ASSERT_NEAR(cfg->run.checkpoint_seconds, 1.5, 0);
  ASSERT_INT_EQ(cfg->grid.rows, 3);
  ASSERT_INT_EQ(cfg->data.classes.count, 2);
  if (cfg->data.classes.count == 2) {
    ASSERT_INT_EQ(cfg->data.classes.values[0], 3);
    ASSERT_INT_EQ(cfg->data.classes.values[1], 1);
  }
  ASSERT_INT_EQ(cfg->data.split, SGM_SPLIT_TEST);
  ASSERT_INT_EQ(cfg->perturb.kind, SGM_PERTURB_ROTATION);
  ASSERT_NEAR(cfg->perturb.magnitude, -2.5, 0);
  ASSERT_INT_EQ(cfg->perturb.rank, 4);
  ASSERT_TRUE(!cfg->sampler.denoise);
  ASSERT_INT_EQ(cfg->sampler.prior, SGM_PRIOR_POINT);
  ASSERT_INT_EQ(cfg->sampler.prior_value.count, 2);
  ASSERT_TRUE(cfg->output.trajectories);
  ASSERT_INT_EQ(cfg->output.storage, SGM_PRECISION_FLOAT32);
  ASSERT_TRUE(!cfg->diagnostics.nearest && !cfg->diagnostics.novikov);
  ASSERT_NEAR(cfg->diagnostics.density_range[0], -1.5, 0);
  ASSERT_INT_EQ(cfg->jacobian.grid_p, 2);
  ASSERT_INT_EQ(cfg->jacobian.grid_q, 3);
  ASSERT_INT_EQ(cfg->jacobian.method, SGM_JACOBIAN_FD);
  ASSERT_INT_EQ(cfg->jacobian.save_vectors, SGM_SAVE_VECTORS_ALL);
  ASSERT_STR_EQ(cfg->drift.plugin_args, "a;b=c");
  ASSERT_TRUE(strstr(cfg->resolved, "\nclasses = 3, 1\n") != NULL);
  ASSERT_TRUE(strstr(cfg->resolved, "\ngrid = 2x3\n") != NULL);
  ASSERT_TRUE(strstr(cfg->resolved, "\ndenoise = no\n") != NULL);
  ASSERT_TRUE(strstr(cfg->resolved, "\ntrajectories = yes\n") != NULL);
  sgm_config_destroy(&cfg);

  cfg = parse_ok("[data]\nsource = gmm\nn = 4\nmeans = -2;0, 2;0\n"
                 "variances = 0.5, 0\nweights = 1, 3\n");
  if (cfg) {
    ASSERT_INT_EQ(cfg->data.means.count, 2);
    ASSERT_INT_EQ(cfg->data.means.dim, 2);
    if (cfg->data.means.count == 2) {
      ASSERT_NEAR(cfg->data.means.values[0], -2, 0);
      ASSERT_NEAR(cfg->data.means.values[2], 2, 0);
    }
    ASSERT_INT_EQ(cfg->data.variances.count, 2);
    ASSERT_NEAR(cfg->data.weights.values[1], 3, 0);
    ASSERT_TRUE(strstr(cfg->resolved, "\nmeans = -2;0, 2;0\n") != NULL);
  }
  sgm_config_destroy(&cfg);

  const char *booleans[] = {"yes", "true", "on", "1"};
  for (int i = 0; i < 4; i++) {
    char text[64];
    snprintf(text, sizeof text, "[output]\ntrajectories = %s\n", booleans[i]);
    cfg = parse_ok(text);
    if (cfg)
      ASSERT_TRUE(cfg->output.trajectories);
    sgm_config_destroy(&cfg);
  }
}

static void test_bad_values(void) {
  const struct {
    const char *text, *what;
  } bad[] = {
      {"[sampler]\nsteps = -5\n",
       "t.ini:2: [sampler] steps = '-5': expected an integer >= 1"},
      {"[sampler]\nsteps = 1e3\n", "expected an integer >= 1"},
      {"[sampler]\nsteps = 12abc\n", "expected an integer >= 1"},
      {"[sampler]\nsteps = 99999999999999999999\n", "expected an integer"},
      {"[jacobian]\npoints = 3000000000\n",
       "expected an integer from 1 to 2147483647"},
      {"[run]\nseed = -1\n", "expected an integer from 0 to"},
      {"[run]\ncheckpoint_every = -1\n", "expected an integer >= 0"},
      {"[sde]\nT = 0\n", "[sde] T = '0': expected a real number > 0"},
      {"[sde]\nT = nan\n", "expected a real number > 0"},
      {"[sde]\nT = inf\n", "expected a real number > 0"},
      {"[sde]\nT = 1.5x\n", "expected a real number > 0"},
      {"[sde]\nbeta_min = -1\n", "expected a real number >= 0"},
      {"[perturb]\nmagnitude = abc\n", "expected a real number"},
      {"[perturb]\nrank = 1\n", "expected an integer >= 2"},
      {"[sampler]\ndenoise = maybe\n", "expected yes or no"},
      {"[sampler]\ndenoise = Yes\n", "expected yes or no"},
      {"[sde]\nkind = vx\n",
       "t.ini:2: [sde] kind = 'vx': expected one of vp, ve, ou"},
      {"[sde]\nkind = VP\n", "expected one of vp, ve, ou"},
      {"[data]\nsource = mnist\n", "expected one of fashion-mnist, idx"},
      {"[grid]\nrows = 0\n", "expected auto or an integer >= 1"},
      {"[jacobian]\ngrid = 2x\n", "expected auto or PxQ"},
      {"[jacobian]\ngrid = 0x3\n", "expected auto or PxQ"},
      {"[data]\nclasses = 1, 1\n", "distinct integers >= 0"},
      {"[data]\nclasses = -1\n", "distinct integers >= 0"},
      {"[data]\nvariances = 1, -1\n", "real numbers, each >= 0"},
      {"[data]\nweights = 0\n", "real numbers, each > 0"},
      {"[data]\nvariances = 1,,2\n", "expected a comma-separated list"},
      {"[jacobian]\ntimes = 0.1,\n", "expected a comma-separated list"},
      {"[jacobian]\ntimes = 0.1, 0\n", "each > 0"},
      {"[data]\nmeans = 1;2, 3\n",
       "expected vectors of one length, but vector 1 has 2 components and "
       "vector 2 has 1"},
      {"[data]\nmeans = 1;;2\n", "components separated by ';'"},
      {"[diagnostics]\ndensity_range = 1\n", "lo, hi with lo < hi"},
      {"[diagnostics]\ndensity_range = 1, 2, 3\n", "lo, hi with lo < hi"},
      {"[diagnostics]\ndensity_range = 4, -4\n",
       "[diagnostics] density_range = '4, -4': expected two real numbers lo, "
       "hi with lo < hi"},
      {"[diagnostics]\ndensity_bins = -2\n", "expected an integer >= 0"},
      {"[run]\nname = bad name\n", "expected a name made of letters"},
      {"[data]\nsplit = validation\n", "expected one of train, test"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    PARSE_FAILS(bad[i].text, SGM_ERR_CONFIG, bad[i].what);
}

static void test_file_syntax(void) {
  PARSE_FAILS("[sampeler]\nsteps = 5\n", SGM_ERR_CONFIG,
              "t.ini:1: unknown section [sampeler]; did you mean [sampler]?");
  PARSE_FAILS("[run]\nseed = 1\n\n[sampeler]\n", SGM_ERR_CONFIG,
              "t.ini:4: unknown section [sampeler]; did you mean [sampler]?");
  PARSE_FAILS("[zzzzzzzzz]\n", SGM_ERR_CONFIG,
              "unknown section [zzzzzzzzz]; valid sections: [run], [grid], "
              "[data]");
  PARSE_FAILS("[sampler]\n\nstpes = 5\n", SGM_ERR_CONFIG,
              "t.ini:3: unknown key 'stpes' in [sampler]; did you mean "
              "'steps'?");
  PARSE_FAILS("[sampler]\nqqqqqqqq = 5\n", SGM_ERR_CONFIG,
              "unknown key 'qqqqqqqq' in [sampler]; valid keys: method, grid, "
              "steps, particles, prior, prior_value, denoise");
  PARSE_FAILS("[sde]\nt_mni = 5\n", SGM_ERR_CONFIG, "did you mean 't_min'?");
  PARSE_FAILS("steps = 5\n", SGM_ERR_CONFIG,
              "t.ini:1: key 'steps' is outside any section");
  PARSE_FAILS("[sampler]\nsteps 5\n", SGM_ERR_CONFIG,
              "t.ini:2: syntax error: expected 'key = value' or '[section]'");
  PARSE_FAILS("[sampler\nsteps = 5\n", SGM_ERR_CONFIG, "t.ini:1: syntax error");
  /* The first problem in the file is the one reported. */
  PARSE_FAILS("[sampler]\nbad line\nstpes = 1\n", SGM_ERR_CONFIG,
              "t.ini:2: syntax error");
  PARSE_FAILS("[sampler]\nstpes = 1\nbad line\n", SGM_ERR_CONFIG,
              "t.ini:2: unknown key 'stpes'");
  PARSE_FAILS("[sampler]\nsteps = 5\nmethod = em\n; c\nsteps = 6\n",
              SGM_ERR_CONFIG,
              "t.ini:5: [sampler] steps is set twice, on lines 2 and 5");
  PARSE_FAILS("[sampler]\nsteps = 5\n[run]\nseed = 1\n[sampler]\nsteps = 6\n",
              SGM_ERR_CONFIG, "set twice, on lines 2 and 6");

  /* A section may come back; the same key name in two sections is fine. */
  sgm_config_t *cfg =
      parse_ok("[sde]\nT = 2\n[run]\nseed = 1\n[sde]\nkind = ve\n"
               "[sampler]\ngrid = edm\n[jacobian]\ngrid = 1x2\n");
  if (cfg) {
    ASSERT_NEAR(cfg->sde.T, 2, 0);
    ASSERT_INT_EQ(cfg->sde.kind, SGM_SDE_VE);
    ASSERT_INT_EQ(cfg->sampler.grid, SGM_GRID_EDM);
  }
  sgm_config_destroy(&cfg);

  /* Comments: whole-line ';' and '#', inline ';' only after a space. */
  cfg = parse_ok("# a comment\n; another\n[drift] ; inline\nplugin_args = "
                 "a;b ; comment\n  # indented comment\n");
  if (cfg)
    ASSERT_STR_EQ(cfg->drift.plugin_args, "a;b");
  sgm_config_destroy(&cfg);

  /* Lines of 199 characters are fine; 200 are not. */
  char text[512], pad[256];
  memset(pad, 'x', sizeof pad);
  int used = (int)strlen("plugin_args = ");
  snprintf(text, sizeof text, "[drift]\nplugin_args = %.*s\n", 199 - used, pad);
  cfg = parse_ok(text);
  if (cfg)
    ASSERT_INT_EQ(strlen(cfg->drift.plugin_args), 199 - used);
  sgm_config_destroy(&cfg);
  snprintf(text, sizeof text, "[run]\nseed = 1\n[drift]\nplugin_args = %.*s\n",
           200 - used, pad);
  PARSE_FAILS(text, SGM_ERR_CONFIG,
              "t.ini:4: line longer than 199 characters; continue a long list "
              "on an indented next line");
  snprintf(text, sizeof text, "; %.*s\n[run]\n", 250, pad);
  PARSE_FAILS(text, SGM_ERR_CONFIG, "t.ini:1: line longer than 199");

  /* Continuation lines: ", " joins, or " " after a trailing comma. */
  cfg = parse_ok("[jacobian]\ntimes = 0.01, 0.02,\n  0.03\n\n; note\n"
                 "    0.04 ; comment\n[data]\nsource = gmm\nn = 2\n"
                 "means = -2;0,\n\t2;0\n");
  if (cfg) {
    ASSERT_INT_EQ(cfg->jacobian.times.count, 4);
    if (cfg->jacobian.times.count == 4)
      ASSERT_NEAR(cfg->jacobian.times.values[3], 0.04, 0);
    ASSERT_INT_EQ(cfg->data.means.count, 2);
  }
  sgm_config_destroy(&cfg);
  /* A continued value is validated as a whole, on its first line. */
  PARSE_FAILS("[jacobian]\ntimes = 0.01,\n  x\n", SGM_ERR_CONFIG,
              "t.ini:2: [jacobian] times = '0.01, x'");

  /* Files. */
  ASSERT_FAILS(sgm_config_parse("/nonexistent/x.ini", NULL, 0, &cfg),
               SGM_ERR_IO,
               "cannot read configuration '/nonexistent/x.ini': No such file");
  ASSERT_TRUE(cfg == NULL);
  ASSERT_FAILS(sgm_config_parse(dir, NULL, 0, &cfg), SGM_ERR_IO,
               "cannot read configuration");
  const char *path = write_file(dir, "bad.ini", "[run]\n\nseeed = 1\n");
  ASSERT_FAILS(sgm_config_parse(path, NULL, 0, &cfg), SGM_ERR_CONFIG,
               "bad.ini:3: unknown key 'seeed' in [run]; did you mean 'seed'?");
}

static void test_overrides(void) {
  const char *path = write_file(dir, "over.ini", "[sampler]\nsteps = 5\n");
  sgm_config_t *cfg = NULL;
  const char *order[] = {"sampler.steps=6", "sampler.steps = 7", "sde.kind=ve",
                         "jacobian.points=3"};
  ASSERT_OK(sgm_config_parse(path, order, 4, &cfg));
  if (cfg) {
    ASSERT_INT_EQ(cfg->sampler.steps, 7);
    ASSERT_INT_EQ(cfg->sde.kind, SGM_SDE_VE);
    ASSERT_INT_EQ(cfg->jacobian.points, 3);
    ASSERT_TRUE(cfg->jacobian.enabled);
  }
  sgm_config_destroy(&cfg);

  const char *unset[] = {"sampler.steps="};
  ASSERT_OK(sgm_config_parse(path, unset, 1, &cfg));
  if (cfg)
    ASSERT_INT_EQ(cfg->sampler.steps, 1000);
  sgm_config_destroy(&cfg);

  const struct {
    const char *override;
    int code;
    const char *what;
  } bad[] = {
      {"foo", SGM_ERR_USAGE, "--set 'foo': expected section.key=value"},
      {"sampler.steps", SGM_ERR_USAGE, "--set 'sampler.steps': expected"},
      {"steps=5", SGM_ERR_USAGE, "--set 'steps=5': expected"},
      {".steps=5", SGM_ERR_USAGE, "expected section.key=value"},
      {"sampler.=5", SGM_ERR_USAGE, "expected section.key=value"},
      {"sampler.steps=0", SGM_ERR_CONFIG,
       "--set sampler.steps=0: [sampler] steps = '0': expected an integer "
       ">= 1"},
      {"sampeler.steps=5", SGM_ERR_CONFIG,
       "--set sampeler.steps=5: unknown section [sampeler]; did you mean "
       "[sampler]?"},
      {"sampler.stpes=5", SGM_ERR_CONFIG,
       "--set sampler.stpes=5: unknown key 'stpes' in [sampler]; did you "
       "mean 'steps'?"},
      {"drift.plugin_args=a ;b", SGM_ERR_CONFIG, "would start a comment"},
      {"sde.t_min=2", SGM_ERR_CONFIG,
       "--set sde.t_min=2: [sde] t_min = 2 must be less than [sde] T = 1 "
       "(default)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ASSERT_FAILS(sgm_config_parse(path, &bad[i].override, 1, &cfg), bad[i].code,
                 bad[i].what);
    ASSERT_TRUE(cfg == NULL);
  }
  /* Every override is validated, even one a later override replaces. */
  const char *twice[] = {"sampler.steps=x", "sampler.steps=3"};
  ASSERT_FAILS(sgm_config_parse(path, twice, 2, &cfg), SGM_ERR_CONFIG,
               "steps = 'x'");
}

static void test_names(void) {
  ASSERT_STR_EQ(sgm_config_source_name(SGM_DATA_FASHION_MNIST),
                "fashion-mnist");
  ASSERT_STR_EQ(sgm_config_source_name(SGM_DATA_SUBSPACE), "subspace");
  ASSERT_STR_EQ(sgm_config_drift_name(SGM_DRIFT_PFGM), "pfgm");
  ASSERT_STR_EQ(sgm_config_sde_name(SGM_SDE_OU), "ou");
  ASSERT_STR_EQ(sgm_config_perturb_name(SGM_PERTURB_ROTATION), "rotation");
  ASSERT_STR_EQ(sgm_config_sde_name((enum sgm_sde_kind)99), "unknown");
  const bool image[] = {true, true, true, false, false, false, false, false};
  for (int s = SGM_DATA_FASHION_MNIST; s <= SGM_DATA_SUBSPACE; s++) {
    ASSERT_INT_EQ(sgm_config_source_is_image(s), image[s]);
    ASSERT_INT_EQ(sgm_config_source_is_synthetic(s), s >= SGM_DATA_GMM);
  }
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  dir = sgm_test_tmpdir("config-parse");
  test_defaults();
  test_good_values();
  test_bad_values();
  test_file_syntax();
  test_overrides();
  test_names();
  return sgm_test_finish();
}
