/*
 * Rules between keys, checked once every key has its value.  A message
 * starts with the origin of the key at fault and names the other key with
 * where it was set: "(line 11)", "(--set)", "(default)" or a sweep task.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

struct rules {
  const sgm_config_t *cfg;
  const struct sgm__cfg_input *in;
};

static int key(const char *dotted) {
  char section[32];
  const char *dot = strchr(dotted, '.');
  snprintf(section, sizeof section, "%.*s", (int)(dot - dotted), dotted);
  return sgm__cfg_find_key(section, dot + 1);
}

static const char *prefix_of(const struct rules *r, int k) {
  return r->in->set[k].prefix;
}

static const char *where_of(const struct rules *r, int k) {
  const char *where = r->in->set[k].where;
  return where ? where : "default";
}

/* "[sde] T = 1", with " (where)" when annotate. */
static void describe(const struct rules *r, int k, bool annotate, char *buf,
                     size_t size) {
  const struct sgm__cfg_key *key_row = &sgm__cfg_keys[k];
  struct sgm__buf value = {0};
  if (sgm__cfg_value_format(key_row, r->cfg, &value) < 0)
    sgm_error_clear();
  int n = snprintf(buf, size, "[%s] %s = %s", key_row->section, key_row->name,
                   value.data ? value.data : "");
  if (annotate && n >= 0 && (size_t)n < size)
    snprintf(buf + n, size - (size_t)n, " (%s)", where_of(r, k));
  sgm__buf_free(&value);
}

/* The origin of an error about a (or, when a has none, b). */
static const char *blame(const struct rules *r, int a, int b) {
  if (prefix_of(r, a))
    return prefix_of(r, a);
  if (b >= 0 && prefix_of(r, b))
    return prefix_of(r, b);
  return r->in->origin;
}

/* "<origin>: <a> <relation> <b>[<tail>]". */
static int relation(const struct rules *r, const char *ka, const char *rel,
                    const char *kb, const char *tail) {
  int a = key(ka), b = key(kb);
  char da[512], db[512];
  describe(r, a, prefix_of(r, a) == NULL, da, sizeof da);
  describe(r, b, true, db, sizeof db);
  return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                       "%s: %s %s %s%s", blame(r, a, b), da, rel, db,
                       tail ? tail : "");
}

/* "<origin of owner>: [sec] key is required for <owner key> = <value>". */
static int required(const struct rules *r, const char *missing,
                    const char *owner, const char *owner_value) {
  int m = key(missing), o = key(owner);
  return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                       "%s: [%s] %s is required for %s = %s", blame(r, o, m),
                       sgm__cfg_keys[m].section, sgm__cfg_keys[m].name,
                       sgm__cfg_keys[o].name, owner_value);
}

/* "<origin>: [sec] list has N values, but [sec] means has M vectors ...". */
static int count_mismatch(const struct rules *r, const char *list, int count,
                          int means, const char *advice) {
  int a = key(list), b = key("data.means");
  return sgm_error_set(
      SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
      "%s: [data] %s has %d value%s, but [data] means has %d vector%s (%s); %s",
      blame(r, a, b), sgm__cfg_keys[a].name, count, count == 1 ? "" : "s",
      means, means == 1 ? "" : "s", where_of(r, b), advice);
}

static int check_data(const struct rules *r) {
  const sgm_config_t *cfg = r->cfg;
  enum sgm_data_source source = cfg->data.source;
  const char *name = sgm_config_source_name(source);
  if (!sgm_config_source_is_synthetic(source) &&
      source != SGM_DATA_FASHION_MNIST && !cfg->data.path[0])
    return required(r, "data.path", "data.source", name);
  if (!sgm_config_source_is_synthetic(source))
    return 0;
  if (cfg->data.n < 1)
    return relation(r, "data.n", "must be at least 1 for", "data.source",
                    ": n is the number of examples drawn");
  if (source == SGM_DATA_GMM) {
    const struct sgm_vector_list *means = &cfg->data.means;
    if (means->count == 0)
      return required(r, "data.means", "data.source", name);
    if (cfg->data.dim != means->dim) {
      char tail[128];
      snprintf(tail, sizeof tail, ", whose vectors have %d component%s",
               means->dim, means->dim == 1 ? "" : "s");
      return relation(r, "data.dim", "does not match", "data.means", tail);
    }
    int nv = cfg->data.variances.count, nw = cfg->data.weights.count;
    if (nv != 1 && nv != means->count)
      return count_mismatch(r, "data.variances", nv, means->count,
                            "give one variance for all, or one per mean");
    if (nw != 0 && nw != means->count)
      return count_mismatch(r, "data.weights", nw, means->count,
                            "give one weight per mean");
  } else {
    if (cfg->data.dim == 0)
      return required(r, "data.dim", "data.source", name);
    if (cfg->data.intrinsic == 0)
      return required(r, "data.intrinsic", "data.source", name);
    if (source == SGM_DATA_SPHERE && cfg->data.intrinsic + 1 > cfg->data.dim)
      return relation(r, "data.intrinsic", "must be less than", "data.dim",
                      " for source = sphere: a k-sphere needs k + 1 "
                      "dimensions");
    if (source == SGM_DATA_SUBSPACE && cfg->data.intrinsic > cfg->data.dim)
      return relation(r, "data.intrinsic", "must be at most", "data.dim",
                      " for source = subspace");
  }
  return 0;
}

static int check_sde(const struct rules *r) {
  const sgm_config_t *cfg = r->cfg;
  if (!(cfg->sde.beta_max >= cfg->sde.beta_min))
    return relation(r, "sde.beta_max", "must be at least", "sde.beta_min",
                    NULL);
  if (!(cfg->sde.sigma_max > cfg->sde.sigma_min))
    return relation(r, "sde.sigma_max", "must be greater than", "sde.sigma_min",
                    NULL);
  if (!(cfg->sde.t_min < cfg->sde.T))
    return relation(r, "sde.t_min", "must be less than", "sde.T", NULL);
  if (cfg->sde.kind == SGM_SDE_VE) {
    /* sigma(T) = sigma_min (sigma_max / sigma_min)^T; far beyond any use,
     * and squared distances at that scale approach the double range. */
    double lg = log10(cfg->sde.sigma_min) +
                cfg->sde.T * log10(cfg->sde.sigma_max / cfg->sde.sigma_min);
    if (!(lg <= 100)) {
      char tail[160];
      snprintf(tail, sizeof tail,
               ": sigma(T) = sigma_min (sigma_max / sigma_min)^T = 1e%.0f "
               "exceeds 1e100 (variances would overflow)",
               fmin(lg, 1e6));
      return relation(r, "sde.sigma_max", "with", "sde.T", tail);
    }
  }
  return 0;
}

static int check_drift(const struct rules *r) {
  const sgm_config_t *cfg = r->cfg;
  switch (cfg->drift.model) {
  case SGM_DRIFT_SMOOTHED:
    if (cfg->drift.bandwidth == 0)
      return required(r, "drift.bandwidth", "drift.model", "smoothed");
    break;
  case SGM_DRIFT_PLUGIN:
    if (!cfg->drift.plugin[0])
      return required(r, "drift.plugin", "drift.model", "plugin");
    break;
  case SGM_DRIFT_GMM:
    if (cfg->data.source != SGM_DATA_GMM)
      return relation(r, "drift.model", "requires [data] source = gmm, but",
                      "data.source", NULL);
    break;
  default:
    break;
  }
  return 0;
}

static int check_sampler(const struct rules *r) {
  const sgm_config_t *cfg = r->cfg;
  int n = cfg->sampler.prior_value.count, d = cfg->data.dim;
  /* The dimension of file data is known only once it is read. */
  if (sgm_config_source_is_synthetic(cfg->data.source) && n != 1 && n != d) {
    char tail[128];
    snprintf(tail, sizeof tail, ": give 1 value or %d", d);
    char rel[64];
    snprintf(rel, sizeof rel, "has %d values, but", n);
    return relation(r, "sampler.prior_value", rel, "data.dim", tail);
  }
  /* Annealed Langevin anneals the ve noise levels (m = 1): its scores are
   * the ve mixture's at each level. */
  if (cfg->sampler.method == SGM_METHOD_ALD && cfg->sde.kind != SGM_SDE_VE)
    return relation(r, "sampler.method",
                    "(annealed Langevin) anneals the ve "
                    "noise levels and needs [sde] kind = ve, but",
                    "sde.kind", NULL);
  const double first = cfg->sampler.sigma_first, last = cfg->sampler.sigma_last;
  if (cfg->sampler.method == SGM_METHOD_ALD && first > 0 && last > 0 &&
      first <= last)
    return relation(r, "sampler.sigma_first", "must exceed",
                    "sampler.sigma_last", NULL);
  return 0;
}

static int check_jacobian(const struct rules *r) {
  const struct sgm_real_list *times = &r->cfg->jacobian.times;
  for (int i = 0; i < times->count; i++)
    if (times->values[i] > r->cfg->sde.T) {
      char rel[64], t[40];
      sgm__cfg_format_real(times->values[i], t, sizeof t);
      snprintf(rel, sizeof rel, "has %s >", t);
      return relation(r, "jacobian.times", rel, "sde.T",
                      ": every time must lie in (0, T]");
    }
  return 0;
}

int sgm__cfg_check_rules(const sgm_config_t *cfg,
                         const struct sgm__cfg_input *in) {
  const struct rules r = {cfg, in};
  SGM_CALL(check_data(&r));
  SGM_CALL(check_sde(&r));
  SGM_CALL(check_drift(&r));
  SGM_CALL(check_sampler(&r));
  SGM_CALL(check_jacobian(&r));
  return 0;
}
