/*
 * [drift] model = plugin: the score of a shared object that speaks the ABI
 * of sgm/plugin.h, loaded on every rank of a row.  The plugin gives the
 * drift only; the empirical quantities the diagnostics need (nearest
 * examples, the empirical score for Novikov, the log density, the
 * denoiser) come from the training shard as for every model.  A plugin has
 * no log density of its own (model_log_density is NaN), no mixture (so no
 * analytic Jacobian: [jacobian] method = fd) and no shared variance (so no
 * method = ei).  Every failure is agreed over the row before anyone goes
 * on, so that no rank waits in a collective of the plugin or of the
 * mixture for a peer that has given up.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/drift_impl.h"
#include "sgm/error.h"
#include "sgm/plugin.h"

/* Room for a plugin's message (the ABI passes the size). */
#define MESSAGE_SIZE 1024

struct plugin_model {
  void *handle; /* dlopen's */
  void *state;  /* the plugin's */
  int live;     /* its init succeeded here: finalize is owed */
  sgm_plugin_eval_fn eval;
  sgm_plugin_finalize_fn finalize;
  sgm_mixture_t *empirical; /* the training shard */
  MPI_Comm row; /* the plugin's duplicate of the grid row (info->row) */
  int d;
  char *path;  /* as opened: resolved against the configuration's folder */
  char *label; /* for messages: "'plugin'", or "'plugin' (path)" */
};

static void plugin_destroy(void *impl) {
  struct plugin_model *pm = impl;
  if (pm->live)
    pm->finalize(pm->state);
  if (pm->handle)
    dlclose(pm->handle);
  sgm_mixture_destroy(&pm->empirical);
  if (pm->row != MPI_COMM_NULL)
    MPI_Comm_free(&pm->row);
  free(pm->path);
  free(pm->label);
  free(pm);
}

/* Length of the folder part of path, slash excluded ("a/b.ini" -> 1,
 * "/b.ini" -> 0 meaning "/", "b.ini" -> -1 meaning none). */
static long folder_length(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? (long)(slash - path) : -1;
}

/* config_dir: the folder relative names refer to ("." without a file). */
static int config_folder(const sgm_config_t *cfg, char **dir) {
  const char *src = cfg->source ? cfg->source : "";
  long len = src[0] ? folder_length(src) : -1;
  const char *text = len < 0 ? "." : len == 0 ? "/" : src;
  size_t n = len > 0 ? (size_t)len : strlen(text);
  SGM_CALL(SGM_MALLOC(*dir, n + 1));
  memcpy(*dir, text, n);
  (*dir)[n] = '\0';
  return 0;
}

/* The file to open: [drift] plugin as it is when absolute, else under dir
 * (which always gives dlopen a slash, so it never searches the library
 * path); and the label messages name it by. */
static int resolve(struct plugin_model *pm, const char *plugin,
                   const char *dir) {
  const size_t n = strlen(plugin) + strlen(dir) + 2;
  SGM_CALL(SGM_MALLOC(pm->path, n));
  if (plugin[0] == '/')
    snprintf(pm->path, n, "%s", plugin);
  else if (strcmp(dir, "/") == 0)
    snprintf(pm->path, n, "/%s", plugin);
  else
    snprintf(pm->path, n, "%s/%s", dir, plugin);
  const size_t l = strlen(plugin) + strlen(pm->path) + 6;
  SGM_CALL(SGM_MALLOC(pm->label, l));
  if (strcmp(plugin, pm->path) == 0)
    snprintf(pm->label, l, "'%s'", plugin);
  else
    snprintf(pm->label, l, "'%s' (%s)", plugin, pm->path);
  return 0;
}

/* Opens the object and finds the ABI's four functions.  Not collective. */
static int open_plugin(struct plugin_model *pm, sgm_plugin_init_fn *init) {
  const char *label = pm->label;
  dlerror();
  pm->handle = dlopen(pm->path, RTLD_NOW | RTLD_LOCAL);
  if (!pm->handle) {
    const char *why = dlerror();
    const size_t n = strlen(pm->path);
    why = why ? why : "dlopen failed";
    /* dlerror's text mostly starts "PATH: ", which the label has. */
    if (strncmp(why, pm->path, n) == 0 && why[n] == ':' && why[n + 1] == ' ')
      why += n + 2;
    return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                         "[drift] plugin %s cannot be loaded: %s", label, why);
  }
  static const char *const names[] = {"sgm_plugin_abi_version",
                                      "sgm_plugin_init", "sgm_plugin_eval",
                                      "sgm_plugin_finalize"};
  void *fn[4];
  for (int i = 0; i < 4; i++) {
    dlerror();
    fn[i] = dlsym(pm->handle, names[i]);
    SGM_CHECK(fn[i] != NULL, SGM_ERR_CONFIG,
              "[drift] plugin %s does not export %s (every plugin must "
              "define sgm_plugin_abi_version, sgm_plugin_init, "
              "sgm_plugin_eval and sgm_plugin_finalize; see sgm/plugin.h)",
              label, names[i]);
  }
  const int version = ((sgm_plugin_abi_version_fn)fn[0])();
  SGM_CHECK(version == SGM_PLUGIN_ABI_VERSION, SGM_ERR_CONFIG,
            "[drift] plugin %s was built against ABI %d, sgmrun speaks %d "
            "(rebuild it against this sgmrun's sgm/plugin.h)",
            label, version, SGM_PLUGIN_ABI_VERSION);
  *init = (sgm_plugin_init_fn)fn[1];
  pm->eval = (sgm_plugin_eval_fn)fn[2];
  pm->finalize = (sgm_plugin_finalize_fn)fn[3];
  return 0;
}

/* The plugin's own init, on every rank of the row.  Collective. */
static int init_plugin(struct plugin_model *pm, sgm_plugin_init_fn init,
                       const sgm_config_t *cfg, const sgm_dataset_t *data,
                       const char *dir) {
  char message[MESSAGE_SIZE] = "";
  const sgm_plugin_info_t info = {
      .abi_version = SGM_PLUGIN_ABI_VERSION,
      .d = data->d,
      .n = data->n,
      .n_local = data->n_local,
      .offset = data->offset,
      .y = data->n_local > 0 ? data->y : NULL,
      .row = pm->row,
      .args = cfg->drift.plugin_args ? cfg->drift.plugin_args : "",
      .path = pm->path,
      .config_path = cfg->source ? cfg->source : "",
      .config_dir = dir,
      .seed = cfg->run.seed};
  void *state = NULL;
  const int rc = init(&info, &state, message, sizeof message);
  message[sizeof message - 1] = '\0';
  if (rc == 0) {
    pm->state = state;
    pm->live = 1;
    return 0;
  }
  return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                       "[drift] plugin %s: sgm_plugin_init failed (status "
                       "%d): %s",
                       pm->label, rc,
                       message[0] ? message : "(the plugin gave no message)");
}

static int plugin_create(const sgm_config_t *cfg, const sgm_dataset_t *data,
                         MPI_Comm row, void **impl) {
  int err = 0;
  const char *plugin = cfg->drift.plugin ? cfg->drift.plugin : "";
  SGM_CHECK(plugin[0], SGM_ERR_CONFIG,
            "[drift] model = plugin needs [drift] plugin (the shared object "
            "providing the score)");
  struct plugin_model *pm = NULL;
  char *dir = NULL;
  SGM_CALL(SGM_CALLOC(pm, 1));
  pm->row = MPI_COMM_NULL;
  pm->d = data->d;
  /* MPI_Comm_dup fails on every rank or aborts. */
  SGM_MPI_GOTO(MPI_Comm_dup(row, &pm->row), fail);
  const double zero = 0.0;
  err = sgm__empirical_mixture(cfg, data, row, 1, &zero, &pm->empirical);
  if (!err)
    err = config_folder(cfg, &dir);
  if (!err)
    err = resolve(pm, plugin, dir);
  sgm_plugin_init_fn init = NULL;
  if (!err)
    err = open_plugin(pm, &init);
  SGM_CALL_GOTO(sgm_error_agree(pm->row, err), fail);
  SGM_CALL_GOTO(sgm_error_agree(pm->row, init_plugin(pm, init, cfg, data, dir)),
                fail);
  free(dir);
  *impl = pm;
  return 0;
fail:
  free(dir);
  plugin_destroy(pm);
  return err;
}

/* The plugin's score into out->drift, checked.  Not collective itself, but
 * the plugin's eval is. */
static int plugin_score(struct plugin_model *pm, double t, double m,
                        double sigma2, int64_t p, const double *x,
                        double *score) {
  char message[MESSAGE_SIZE] = "";
  const int rc =
      pm->eval(pm->state, t, m, sigma2, p, x, score, message, sizeof message);
  message[sizeof message - 1] = '\0';
  if (rc != 0)
    return sgm_error_set(
        SGM_ERR_NUMERIC, __FILE__, __LINE__, __func__,
        "[drift] plugin %s: sgm_plugin_eval failed at t = %g for %lld "
        "particles (status %d): %s",
        pm->label, t, (long long)p, rc,
        message[0] ? message : "(the plugin gave no message)");
  const size_t len = (size_t)p * (size_t)pm->d;
  for (size_t i = 0; i < len; i++)
    if (!isfinite(score[i]))
      return sgm_error_set(SGM_ERR_NUMERIC, __FILE__, __LINE__, __func__,
                           "[drift] plugin %s returned %s for particle %lld "
                           "(coordinate %lld) at t = %g",
                           pm->label, isnan(score[i]) ? "NaN" : "Inf",
                           (long long)(i / (size_t)pm->d),
                           (long long)(i % (size_t)pm->d), t);
  return 0;
}

static int plugin_eval(void *impl, double t, double m, double sigma2, int64_t p,
                       const double *x, sgm_drift_out_t *out) {
  struct plugin_model *pm = impl;
  SGM_CHECK(!out->model_mean, SGM_ERR_UNSUPPORTED,
            "[drift] model = plugin has no mixture mean (use method = em)");
  /* Every rank of the row asks for the same outputs: all call or none. */
  if (out->drift)
    SGM_CALL(sgm_error_agree(pm->row,
                             plugin_score(pm, t, m, sigma2, p, x, out->drift)));
  if (out->model_log_density)
    for (int64_t i = 0; i < p; i++)
      out->model_log_density[i] = NAN;
  return sgm__eval_empirical(pm->empirical, m, sigma2, p, x, out);
}

/* The plugin's own work is unknown to sgmrun: counted as 0. */
static double plugin_flops(const void *impl, int64_t p,
                           const sgm_drift_out_t *request) {
  const struct plugin_model *pm = impl;
  return sgm__empirical_flops(pm->empirical, p, request);
}

static double plugin_work_bytes(const void *impl, int64_t p) {
  return sgm_mixture_work_bytes(((const struct plugin_model *)impl)->empirical,
                                p);
}

static int plugin_variance(const void *impl, double *v) {
  return sgm_error_set(SGM_ERR_UNSUPPORTED, __FILE__, __LINE__, __func__,
                       "[drift] model = plugin is not a mixture with a shared "
                       "component variance, which the exponential integrator "
                       "(method = ei) needs; use method = em");
}

/* Nothing is known of the plugin's stiffness. */
static double plugin_min_variance(const void *impl) { return 0.0; }

static int plugin_mixtures(const void *impl, const sgm_mixture_t **out,
                           int max) {
  if (max < 1)
    return 0;
  out[0] = ((const struct plugin_model *)impl)->empirical;
  return 1;
}

const struct sgm__model_ops sgm__model_plugin = {
    .name = "plugin",
    .create = plugin_create,
    .eval = plugin_eval,
    .flops = plugin_flops,
    .work_bytes = plugin_work_bytes,
    .destroy = plugin_destroy,
    .shared_variance = plugin_variance,
    .min_variance = plugin_min_variance,
    .mixtures = plugin_mixtures,
    .model_mixture = NULL,
    .no_log_density = 1};
