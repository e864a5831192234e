/* Rules between keys, and the round trip of the resolved text. */
#include "config_test.h"

static const char *dir;

static void test_sde_rules(void) {
  PARSE_FAILS(
      "[sde]\nT = 1\nt_min = 2\n", SGM_ERR_CONFIG,
      "t.ini:3: [sde] t_min = 2 must be less than [sde] T = 1 (line 2)");
  PARSE_FAILS("[sde]\nt_min = 1\n", SGM_ERR_CONFIG,
              "t.ini:2: [sde] t_min = 1 must be less than [sde] T = 1 "
              "(default)");
  PARSE_FAILS("[sde]\nT = 0.0005\n", SGM_ERR_CONFIG,
              "t.ini:2: [sde] t_min = 0.001 (default) must be less than [sde] "
              "T = 0.0005 (line 2)");
  PARSE_FAILS("[sde]\nbeta_min = 5\nbeta_max = 1\n", SGM_ERR_CONFIG,
              "t.ini:3: [sde] beta_max = 1 must be at least [sde] beta_min = "
              "5 (line 2)");
  PARSE_FAILS("[sde]\nsigma_max = 0.01\n", SGM_ERR_CONFIG,
              "t.ini:2: [sde] sigma_max = 0.01 must be greater than [sde] "
              "sigma_min = 0.01 (default)");
  sgm_config_t *cfg = parse_ok("[sde]\nbeta_min = 1\nbeta_max = 1\n");
  sgm_config_destroy(&cfg);

  const char *path = write_file(dir, "sde.ini", "[sde]\nt_min = 0.5\n");
  const char *set[] = {"sde.T=0.4"};
  ASSERT_FAILS(sgm_config_parse(path, set, 1, &cfg), SGM_ERR_CONFIG,
               "sde.ini:2: [sde] t_min = 0.5 must be less than [sde] T = 0.4 "
               "(--set)");
}

static void test_data_rules(void) {
  PARSE_FAILS("[data]\nsource = idx\n", SGM_ERR_CONFIG,
              "t.ini:2: [data] path is required for source = idx");
  PARSE_FAILS("[data]\nsource = hdf5\n", SGM_ERR_CONFIG,
              "[data] path is required for source = hdf5");
  PARSE_FAILS("[data]\nsource = gmm\nmeans = 0;0\n", SGM_ERR_CONFIG,
              "t.ini:2: [data] n = 0 (default) must be at least 1 for [data] "
              "source = gmm (line 2)");
  PARSE_FAILS("[data]\nsource = gmm\nn = 4\n", SGM_ERR_CONFIG,
              "[data] means is required for source = gmm");
  PARSE_FAILS("[data]\nsource = gmm\nn = 4\nmeans = 0;0, 1;1;1\n",
              SGM_ERR_CONFIG,
              "t.ini:4: [data] means = '0;0, 1;1;1': expected "
              "vectors of one length");
  PARSE_FAILS("[data]\nsource = gmm\nn = 4\ndim = 3\nmeans = 0;0, 1;1\n",
              SGM_ERR_CONFIG,
              "t.ini:4: [data] dim = 3 does not match [data] means = 0;0, 1;1 "
              "(line 5), whose vectors have 2 components");
  PARSE_FAILS("[data]\nsource = gmm\nn = 4\nmeans = 0;0, 1;1\n"
              "weights = 1, 2, 3\n",
              SGM_ERR_CONFIG,
              "t.ini:5: [data] weights has 3 values, but [data] means has 2 "
              "vectors (line 4); give one weight per mean");
  PARSE_FAILS("[data]\nsource = gmm\nn = 4\nmeans = 0;0, 1;1\n"
              "variances = 1, 2, 3\n",
              SGM_ERR_CONFIG, "[data] variances has 3 values, but");
  sgm_config_t *cfg =
      parse_ok("[data]\nsource = gmm\nn = 4\nmeans = 0;0, 1;1\ndim = 2\n"
               "variances = 2\nweights = 1, 2\n");
  sgm_config_destroy(&cfg);

  PARSE_FAILS("[data]\nsource = sphere\nn = 10\nintrinsic = 1\n",
              SGM_ERR_CONFIG, "[data] dim is required for source = sphere");
  PARSE_FAILS("[data]\nsource = subspace\nn = 10\ndim = 3\n", SGM_ERR_CONFIG,
              "[data] intrinsic is required for source = subspace");
  PARSE_FAILS("[data]\nsource = sphere\nn = 10\ndim = 3\nintrinsic = 3\n",
              SGM_ERR_CONFIG,
              "t.ini:5: [data] intrinsic = 3 must be less than [data] dim = 3 "
              "(line 4) for source = sphere");
  cfg = parse_ok("[data]\nsource = sphere\nn = 10\ndim = 3\nintrinsic = 2\n");
  sgm_config_destroy(&cfg);
  PARSE_FAILS("[data]\nsource = subspace\nn = 10\ndim = 3\nintrinsic = 4\n",
              SGM_ERR_CONFIG,
              "[data] intrinsic = 4 must be at most [data] dim = 3 (line 4)");
  cfg = parse_ok("[data]\nsource = subspace\nn = 10\ndim = 3\nintrinsic = 3\n");
  sgm_config_destroy(&cfg);

  PARSE_FAILS("[data]\nsource = sphere\nn = 10\ndim = 2\nintrinsic = 1\n"
              "[sampler]\nprior_value = 1, 2, 3\n",
              SGM_ERR_CONFIG,
              "[sampler] prior_value = 1, 2, 3 has 3 values, but [data] dim = "
              "2 (line 4): give 1 value or 2");
  cfg = parse_ok("[data]\nsource = sphere\nn = 10\ndim = 2\nintrinsic = 1\n"
                 "[sampler]\nprior_value = 1, 2\n");
  sgm_config_destroy(&cfg);
}

static void test_other_rules(void) {
  PARSE_FAILS("[drift]\nmodel = smoothed\n", SGM_ERR_CONFIG,
              "t.ini:2: [drift] bandwidth is required for model = smoothed");
  PARSE_FAILS("[drift]\nmodel = plugin\n", SGM_ERR_CONFIG,
              "[drift] plugin is required for model = plugin");
  /* pfgm: D and the prior have derived defaults (2048, pfgm). */
  sgm_config_t *pf =
      parse_ok("[drift]\nmodel = pfgm\n[sampler]\nmethod = ode\n");
  if (pf) {
    ASSERT_NEAR(pf->drift.pfgm_D, SGM_PFGM_D_DEFAULT, 0);
    ASSERT_INT_EQ(pf->sampler.prior, SGM_PRIOR_PFGM);
  }
  sgm_config_destroy(&pf);
  PARSE_FAILS("[drift]\nmodel = gmm\n", SGM_ERR_CONFIG,
              "t.ini:2: [drift] model = gmm requires [data] source = gmm, but "
              "[data] source = fashion-mnist (default)");
  sgm_config_t *cfg = parse_ok("[drift]\nmodel = smoothed\nbandwidth = 0.1\n");
  if (cfg)
    ASSERT_NEAR(cfg->drift.bandwidth, 0.1, 0);
  sgm_config_destroy(&cfg);
  cfg = parse_ok("[drift]\nmodel = gmm\n[data]\nsource = gmm\nn = 3\n"
                 "means = 1, 2\n");
  sgm_config_destroy(&cfg);

  PARSE_FAILS("[jacobian]\ntimes = 0.1, 2\n", SGM_ERR_CONFIG,
              "t.ini:2: [jacobian] times = 0.1, 2 has 2 > [sde] T = 1 "
              "(default): every time must lie in (0, T]");
  cfg = parse_ok("[jacobian]\ntimes = 0.1, 1\n");
  sgm_config_destroy(&cfg);
  PARSE_FAILS("[diagnostics]\ndensity_range = 2, 2\n", SGM_ERR_CONFIG,
              "expected two real numbers lo, hi with lo < hi");
}

/* Resolved text -> parse_text -> the same text, twice over. */
static void round_trip(const char *text) {
  sgm_config_t *a = parse_ok(text), *b = NULL, *c = NULL;
  if (!a) {
    SGM_TEST_FAIL("round trip of:\n%s", text);
    return;
  }
  ASSERT_OK(sgm_config_parse_text(a->resolved, "resolved", &b));
  if (b) {
    ASSERT_STR_EQ(b->resolved, a->resolved);
    ASSERT_OK(sgm_config_parse_text(b->resolved, "resolved", &c));
    if (c)
      ASSERT_STR_EQ(c->resolved, a->resolved);
    ASSERT_INT_EQ(b->data.means.count, a->data.means.count);
    ASSERT_INT_EQ(b->jacobian.times.count, a->jacobian.times.count);
    ASSERT_INT_EQ(sgm_config_sweep_count(b), sgm_config_sweep_count(a));
  }
  /* Canonical form: sections in order, no line too long, no comments. */
  const char *order[] = {"[run]",         "[grid]",    "[data]",    "[sde]",
                         "[drift]",       "[perturb]", "[sampler]", "[output]",
                         "[diagnostics]", "[jacobian]"};
  const char *at = a->resolved;
  for (int i = 0; i < 10; i++) {
    const char *found = strstr(at, order[i]);
    ASSERT_TRUE(found != NULL && found >= at);
    if (found)
      at = found;
  }
  for (const char *line = a->resolved; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    ASSERT_TRUE(len <= 199);
    ASSERT_TRUE(line[0] != ';' && line[0] != '#');
    line += len + (nl != NULL);
  }
  sgm_config_destroy(&a);
  sgm_config_destroy(&b);
  sgm_config_destroy(&c);
}

static void test_round_trip(void) {
  round_trip("");
  round_trip("[run]\nname = r1\nseed = 42\n[sde]\nkind = ve\nsigma_max = "
             "80.5\nt_min = 1e-5\n[perturb]\nmagnitude = 0.30000000000000004\n"
             "[grid]\nrows = 2\n[jacobian]\ngrid = 2x2\n");
  round_trip("[data]\nsource = gmm\nn = 500\nmeans = -2;0, 2;0, 0;3.25\n"
             "variances = 0.5\nweights = 1, 2, 3\nseed = 9\n[drift]\nmodel = "
             "gmm\n[sampler]\nprior = point\nprior_value = 1, -1\n");
  round_trip("[data]\nsource = sphere\nn = 100\ndim = 5\nintrinsic = 2\n"
             "radius = 2.5\n[drift]\nmodel = smoothed\nbandwidth = 0.05\n");
  round_trip("[data]\nsource = cifar10\npath = /a/b.bin,/a/c.bin\nclasses = "
             "3, 5\n[drift]\nmodel = plugin\nplugin = ./p.so\nplugin_args = "
             "k=v;w=1\n[diagnostics]\ndensity_range = -1e-3, 2.5e10\n");
  round_trip(
      "[perturb]\nkind = time\nmagnitude = -1\n[sweep]\nperturb.magnitude "
      "= 0, 0.5, 1.0\nsampler.method = em, ode\n");

  /* A list too long for one line is continued and reads back the same. */
  char text[4096] = "[jacobian]\ntimes = ";
  for (int i = 1; i <= 60; i++) {
    size_t used = strlen(text);
    snprintf(text + used, sizeof text - used, "0.0%04d%s", i * 7,
             i % 10 == 0 && i < 60 ? ",\n  " : (i < 60 ? ", " : "\n"));
  }
  round_trip(text);
  sgm_config_t *cfg = parse_ok(text);
  if (cfg) {
    ASSERT_INT_EQ(cfg->jacobian.times.count, 60);
    ASSERT_TRUE(strstr(cfg->resolved, "\ntimes = 7e-05, 0.00014, ") != NULL);
    ASSERT_TRUE(strstr(cfg->resolved, ",\n  0.0") != NULL);
  }
  sgm_config_destroy(&cfg);

  /* A string that cannot be split is refused rather than written broken. */
  char longpath[300], set[400];
  memset(longpath, 'p', sizeof longpath);
  snprintf(set, sizeof set, "data.path=/%.*s", 250, longpath);
  const char *sets[] = {"data.source=hdf5", set};
  const char *path = write_file(dir, "long.ini", "");
  ASSERT_FAILS(sgm_config_parse(path, sets, 2, &cfg), SGM_ERR_CONFIG,
               "[data] path = '/pppp");
  ASSERT_FAILS(sgm_config_parse(path, sets, 2, &cfg), SGM_ERR_CONFIG,
               "is too long for the resolved configuration");
  snprintf(set, sizeof set, "data.path=/%.*s", 150, longpath);
  ASSERT_OK(sgm_config_parse(path, sets, 2, &cfg));
  sgm_config_destroy(&cfg);
}

int main(int argc, char **argv) {
  sgm_test_init(&argc, &argv);
  dir = sgm_test_tmpdir("config-rules");
  test_sde_rules();
  test_data_rules();
  test_other_rules();
  test_round_trip();
  return sgm_test_finish();
}
