/*
 * The key table: every configuration key, one row each, with its type,
 * default (fixed text or a derive hook), constraint, struct field and a
 * one-line description.  Adding a key is one row here, one field in
 * include/sgm/config.h and its entry in inputs/reference.ini.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

_Static_assert(sizeof(enum sgm_data_source) == sizeof(int) &&
                   sizeof(enum sgm_save_vectors) == sizeof(int),
               "choice keys are stored through an int");

/* Choice names, in enum order. */
static const char *const precision_names[] = {"float64", "float32", NULL};
static const char *const source_names[] = {
    "fashion-mnist", "idx",    "cifar10",  "hdf5", "npy",
    "gmm",           "sphere", "subspace", NULL};
static const char *const split_names[] = {"train", "test", NULL};
static const char *const scale_names[] = {"minus1_1", "unit", "none", NULL};
static const char *const sde_names[] = {"vp", "ve", "ou", NULL};
static const char *const drift_names[] = {"empirical", "smoothed", "gmm",
                                          "plugin",    "pfgm",     NULL};
static const char *const perturb_names[] = {"none", "constant", "time",
                                            "rotation", NULL};
static const char *const direction_names[] = {"ones", "random", NULL};
static const char *const method_names[] = {"em", "ei",  "ode",
                                           "pc", "ald", NULL};
static const char *const time_grid_names[] = {"uniform", "log_sigma", "edm",
                                              NULL};
static const char *const solver_names[] = {"rk45", "heun", NULL};
static const char *const predictor_names[] = {"reverse_diffusion", "em",
                                              "ancestral", NULL};
static const char *const corrector_names[] = {"langevin", "ald", "none", NULL};
static const char *const prior_names[] = {"gaussian", "point", "forward",
                                          "pfgm", NULL};
static const char *const jacobian_method_names[] = {"analytic", "fd", NULL};
static const char *const save_vectors_names[] = {"named", "all", "none", NULL};

/* Derived defaults. */

static const char *derive_name(const sgm_config_t *cfg,
                               const struct sgm__cfg_input *in, char *buf,
                               size_t size) {
  return in->default_name;
}

static const char *derive_output(const sgm_config_t *cfg,
                                 const struct sgm__cfg_input *in, char *buf,
                                 size_t size) {
  snprintf(buf, size, "results/%s.h5", cfg->run.name);
  return buf;
}

static const char *derive_path(const sgm_config_t *cfg,
                               const struct sgm__cfg_input *in, char *buf,
                               size_t size) {
  return cfg->data.source == SGM_DATA_FASHION_MNIST
             ? "/usr/share/datasets/fashion-mnist/"
             : "";
}

static const char *derive_scale(const sgm_config_t *cfg,
                                const struct sgm__cfg_input *in, char *buf,
                                size_t size) {
  return sgm_config_source_is_image(cfg->data.source) ? "minus1_1" : "none";
}

static const char *derive_dim(const sgm_config_t *cfg,
                              const struct sgm__cfg_input *in, char *buf,
                              size_t size) {
  if (cfg->data.source != SGM_DATA_GMM || cfg->data.means.count == 0)
    return "";
  snprintf(buf, size, "%d", cfg->data.means.dim);
  return buf;
}

static const char *derive_data_seed(const sgm_config_t *cfg,
                                    const struct sgm__cfg_input *in, char *buf,
                                    size_t size) {
  snprintf(buf, size, "%" PRIu64, cfg->run.seed);
  return buf;
}

static const char *derive_pfgm_D(const sgm_config_t *cfg,
                                 const struct sgm__cfg_input *in, char *buf,
                                 size_t size) {
  if (cfg->drift.model != SGM_DRIFT_PFGM)
    return "";
  snprintf(buf, size, "%d", SGM_PFGM_D_DEFAULT);
  return buf;
}

/* The Poisson field starts from its own prior on the r_max hyper-cylinder. */
static const char *derive_prior(const sgm_config_t *cfg,
                                const struct sgm__cfg_input *in, char *buf,
                                size_t size) {
  return cfg->drift.model == SGM_DRIFT_PFGM ? "pfgm" : "gaussian";
}

static const char *derive_enabled(const sgm_config_t *cfg,
                                  const struct sgm__cfg_input *in, char *buf,
                                  size_t size) {
  return in->jacobian_seen ? "yes" : "no";
}

#define F(field) offsetof(sgm_config_t, field)
#define T(type) SGM__CFG_##type
#define GE SGM__CFG_GE
#define GT SGM__CFG_GT

/* clang-format off */
const struct sgm__cfg_key sgm__cfg_keys[] = {
  {"run", "name", T(NAME), NULL, derive_name, .offset = F(run.name), .doc = "name of the run; default: the file name without its extension"},
  {"run", "output", T(STRING), NULL, derive_output, .offset = F(run.output), .doc = "output HDF5 file; default results/<name>.h5"},
  {"run", "seed", T(U64), "0", .offset = F(run.seed), .doc = "master random seed"},
  {"run", "precision", T(CHOICE), "float64", .choices = precision_names, .offset = F(run.precision), .doc = "arithmetic precision of the particles"},
  {"run", "float32_guard", T(REAL), "0.1", .bound = GT, .min = 0, .offset = F(run.float32_guard), .doc = "precision = float32: a particle whose score the float32 arithmetic could have moved by more than this (relative, a worst-case bound) is evaluated again in float64"},
  {"run", "checkpoint_every", T(I64), "0", .bound = GE, .min = 0, .offset = F(run.checkpoint_every), .doc = "checkpoint every this many steps (0 = off)"},
  {"run", "checkpoint_seconds", T(REAL), "0", .bound = GE, .min = 0, .offset = F(run.checkpoint_seconds), .doc = "checkpoint every this many seconds (0 = off)"},
  {"grid", "rows", T(AUTO_INT), "auto", .bound = GE, .min = 1, .offset = F(grid.rows), .doc = "rows of the process grid (auto = near square)"},
  {"data", "source", T(CHOICE), "fashion-mnist", .choices = source_names, .offset = F(data.source), .doc = "where the training set comes from"},
  {"data", "path", T(STRING), NULL, derive_path, .offset = F(data.path), .doc = "file or directory of a file source"},
  {"data", "dataset", T(STRING), "/data", .offset = F(data.dataset), .doc = "dataset name inside an HDF5 source"},
  {"data", "labels", T(STRING), "", .offset = F(data.labels), .doc = "file of labels (for classes)"},
  {"data", "split", T(CHOICE), "train", .choices = split_names, .offset = F(data.split), .doc = "train or test part of an image set"},
  {"data", "n", T(I64), "0", .bound = GE, .min = 0, .offset = F(data.n), .doc = "number of training examples (0 = all; synthetic: drawn)"},
  {"data", "classes", T(CLASSES), "all", .offset = F(data.classes), .doc = "labels kept (all, or a list)"},
  {"data", "scale", T(CHOICE), NULL, derive_scale, .choices = scale_names, .offset = F(data.scale), .doc = "rescaling of the pixel values"},
  {"data", "dim", T(INT), NULL, derive_dim, .bound = GE, .min = 1, .optional = true, .offset = F(data.dim), .doc = "ambient dimension d of synthetic data"},
  {"data", "intrinsic", T(INT), NULL, .bound = GE, .min = 1, .optional = true, .offset = F(data.intrinsic), .doc = "intrinsic dimension k of sphere and subspace data"},
  {"data", "radius", T(REAL), "1", .bound = GT, .min = 0, .offset = F(data.radius), .doc = "radius of sphere data"},
  {"data", "means", T(VECTORS), NULL, .offset = F(data.means), .doc = "means of the gmm components"},
  {"data", "variances", T(REALS), "1", .bound = GE, .min = 0, .offset = F(data.variances), .doc = "isotropic variances of the gmm components"},
  {"data", "weights", T(REALS), NULL, .bound = GT, .min = 0, .offset = F(data.weights), .doc = "weights of the gmm components (unset = equal)"},
  {"data", "seed", T(U64), NULL, derive_data_seed, .offset = F(data.seed), .doc = "seed of the data subset and synthetic draws"},
  {"sde", "kind", T(CHOICE), "vp", .choices = sde_names, .offset = F(sde.kind), .doc = "forward SDE"},
  {"sde", "beta_min", T(REAL), "0.1", .bound = GE, .min = 0, .offset = F(sde.beta_min), .doc = "vp/ou noise rate at t = 0"},
  {"sde", "beta_max", T(REAL), "20", .bound = GT, .min = 0, .offset = F(sde.beta_max), .doc = "vp/ou noise rate at t = 1"},
  {"sde", "sigma_min", T(REAL), "0.01", .bound = GT, .min = 0, .offset = F(sde.sigma_min), .doc = "ve noise scale at t = 0"},
  {"sde", "sigma_max", T(REAL), "50", .offset = F(sde.sigma_max), .doc = "ve noise scale at t = 1"},
  {"sde", "T", T(REAL), "1", .bound = GT, .min = 0, .offset = F(sde.T), .doc = "final time of the forward process"},
  {"sde", "t_min", T(REAL), "0.001", .bound = GT, .min = 0, .offset = F(sde.t_min), .doc = "time at which the reverse process stops"},
  {"drift", "model", T(CHOICE), "empirical", .choices = drift_names, .offset = F(drift.model), .doc = "score model"},
  {"drift", "bandwidth", T(REAL), NULL, .bound = GT, .min = 0, .optional = true, .offset = F(drift.bandwidth), .doc = "kernel bandwidth of the smoothed score"},
  {"drift", "plugin", T(STRING), "", .offset = F(drift.plugin), .doc = "shared object of a plugin score"},
  {"drift", "plugin_args", T(STRING), "", .offset = F(drift.plugin_args), .doc = "argument string passed to the plugin"},
  {"drift", "pfgm_D", T(REAL), NULL, derive_pfgm_D, .bound = GT, .min = 0, .optional = true, .offset = F(drift.pfgm_D), .doc = "augmented dimensions D of the pfgm field; default 2048 for model = pfgm"},
  {"perturb", "kind", T(CHOICE), "none", .choices = perturb_names, .offset = F(perturb.kind), .doc = "perturbation added to the drift"},
  {"perturb", "magnitude", T(REAL), "0", .offset = F(perturb.magnitude), .doc = "size of the perturbation"},
  {"perturb", "direction", T(CHOICE), "ones", .choices = direction_names, .offset = F(perturb.direction), .doc = "direction of a constant perturbation"},
  {"perturb", "alpha", T(REAL), "1", .bound = GE, .min = 0, .offset = F(perturb.alpha), .doc = "time exponent of the time perturbation"},
  {"perturb", "rank", T(INT), "2", .bound = GE, .min = 2, .offset = F(perturb.rank), .doc = "rank of the rotation perturbation"},
  {"sampler", "method", T(CHOICE), "em", .choices = method_names, .offset = F(sampler.method), .doc = "integrator of the reverse process"},
  {"sampler", "grid", T(CHOICE), "uniform", .choices = time_grid_names, .offset = F(sampler.grid), .doc = "placement of the time steps"},
  {"sampler", "steps", T(I64), "1000", .bound = GE, .min = 1, .offset = F(sampler.steps), .doc = "number of time steps"},
  {"sampler", "particles", T(I64), "1000", .bound = GE, .min = 1, .offset = F(sampler.particles), .doc = "number of particles sampled"},
  {"sampler", "prior", T(CHOICE), NULL, derive_prior, .choices = prior_names, .offset = F(sampler.prior), .doc = "initial distribution of the particles; default pfgm for model = pfgm, else gaussian"},
  {"sampler", "prior_value", T(REALS), "0", .offset = F(sampler.prior_value), .doc = "the point of the point prior (1 or d values)"},
  {"sampler", "denoise", T(BOOL), "yes", .offset = F(sampler.denoise), .doc = "take a final Tweedie denoising step"},
  {"sampler", "solver", T(CHOICE), "rk45", .choices = solver_names, .offset = F(sampler.solver), .doc = "method = ode: adaptive rk45 (GSL odeiv2) or fixed-step heun"},
  {"sampler", "rtol", T(REAL), "1e-5", .bound = GT, .min = 0, .offset = F(sampler.rtol), .doc = "method = ode, solver = rk45: relative tolerance"},
  {"sampler", "atol", T(REAL), "1e-5", .bound = GT, .min = 0, .offset = F(sampler.atol), .doc = "method = ode, solver = rk45: absolute tolerance"},
  {"sampler", "predictor", T(CHOICE), "reverse_diffusion", .choices = predictor_names, .offset = F(sampler.predictor), .doc = "method = pc: the predictor"},
  {"sampler", "corrector", T(CHOICE), "langevin", .choices = corrector_names, .offset = F(sampler.corrector), .doc = "method = pc: the corrector"},
  {"sampler", "snr", T(REAL), "0.16", .bound = GE, .min = 0, .offset = F(sampler.snr), .doc = "method = pc: signal-to-noise ratio of the corrector"},
  {"sampler", "corrector_steps", T(INT), "1", .bound = GE, .min = 1, .offset = F(sampler.corrector_steps), .doc = "method = pc: corrector steps after each predictor step"},
  {"sampler", "levels", T(INT), "10", .bound = GE, .min = 1, .offset = F(sampler.levels), .doc = "method = ald: noise levels L"},
  {"sampler", "level_steps", T(INT), "100", .bound = GE, .min = 1, .offset = F(sampler.level_steps), .doc = "method = ald: Langevin steps per level M"},
  {"sampler", "step_size", T(REAL), "2e-5", .bound = GT, .min = 0, .offset = F(sampler.step_size), .doc = "method = ald: step epsilon at the last level"},
  {"sampler", "sigma_first", T(REAL), NULL, .bound = GT, .min = 0, .optional = true, .offset = F(sampler.sigma_first), .doc = "method = ald: largest noise level; default sigma(T)"},
  {"sampler", "sigma_last", T(REAL), NULL, .bound = GT, .min = 0, .optional = true, .offset = F(sampler.sigma_last), .doc = "method = ald: smallest noise level; default sigma(t_min)"},
  {"output", "every", T(I64), "10", .bound = GE, .min = 1, .offset = F(output.every), .doc = "save every this many steps"},
  {"output", "trajectories", T(BOOL), "no", .offset = F(output.trajectories), .doc = "save the particles at every save step"},
  {"output", "storage", T(CHOICE), "float64", .choices = precision_names, .offset = F(output.storage), .doc = "precision of the stored arrays"},
  {"diagnostics", "nearest", T(BOOL), "yes", .offset = F(diagnostics.nearest), .doc = "nearest training example of every particle"},
  {"diagnostics", "novikov", T(BOOL), "yes", .offset = F(diagnostics.novikov), .doc = "Novikov integral of every particle"},
  {"diagnostics", "density_bins", T(INT), "0", .bound = GE, .min = 0, .offset = F(diagnostics.density_bins), .doc = "histogram bins per axis (0 = off, d <= 2)"},
  {"diagnostics", "density_range", T(RANGE), "-4, 4", .offset = F(diagnostics.density_range), .doc = "histogram range lo, hi"},
  {"jacobian", "times", T(REALS), "0.01, 0.03, 0.05, 0.15, 0.3", .bound = GT, .min = 0, .offset = F(jacobian.times), .doc = "times at which the Jacobian is analysed"},
  {"jacobian", "points", T(INT), "128", .bound = GE, .min = 1, .offset = F(jacobian.points), .doc = "number of points analysed"},
  {"jacobian", "kappa", T(REAL), "0.1", .bound = GE, .min = 0, .offset = F(jacobian.kappa), .doc = "threshold of the local dimension"},
  {"jacobian", "method", T(CHOICE), "analytic", .choices = jacobian_method_names, .offset = F(jacobian.method), .doc = "analytic or finite-difference Jacobian"},
  {"jacobian", "fd_step", T(REAL), "1e-4", .bound = GT, .min = 0, .offset = F(jacobian.fd_step), .doc = "finite-difference step as a fraction of sigma_t"},
  {"jacobian", "grid", T(GRID), "auto", .bound = GE, .min = 1, .offset = F(jacobian.grid_p), .offset2 = F(jacobian.grid_q), .doc = "ScaLAPACK process grid PxQ"},
  {"jacobian", "block", T(INT), "64", .bound = GE, .min = 1, .offset = F(jacobian.block), .doc = "ScaLAPACK block size"},
  {"jacobian", "save_vectors", T(CHOICE), "named", .choices = save_vectors_names, .offset = F(jacobian.save_vectors), .doc = "singular vectors saved"},
  {"jacobian", "enabled", T(BOOL), NULL, derive_enabled, .offset = F(jacobian.enabled), .doc = "run the analysis with sgmrun run (default: section present)"},
};
/* clang-format on */

const int sgm__cfg_nkeys = (int)(sizeof sgm__cfg_keys / sizeof *sgm__cfg_keys);

const char *const sgm__cfg_sections[] = {
    "run",     "grid",   "data",        "sde",      "drift", "perturb",
    "sampler", "output", "diagnostics", "jacobian", "sweep", NULL};

int sgm__cfg_find_section(const char *name) {
  for (int i = 0; sgm__cfg_sections[i]; i++)
    if (strcmp(sgm__cfg_sections[i], name) == 0)
      return i;
  return -1;
}

int sgm__cfg_find_key(const char *section, const char *name) {
  for (int k = 0; k < sgm__cfg_nkeys; k++)
    if (strcmp(sgm__cfg_keys[k].section, section) == 0 &&
        strcmp(sgm__cfg_keys[k].name, name) == 0)
      return k;
  return -1;
}

/* The enum checks keep a stray value from indexing past a name table. */
#define NAME_OF(table, value)                                                  \
  ((unsigned)(value) < sizeof table / sizeof *table - 1 ? table[(value)]       \
                                                        : "unknown")

const char *sgm_config_source_name(enum sgm_data_source source) {
  return NAME_OF(source_names, source);
}

const char *sgm_config_drift_name(enum sgm_drift_model model) {
  return NAME_OF(drift_names, model);
}

const char *sgm_config_sde_name(enum sgm_sde_kind kind) {
  return NAME_OF(sde_names, kind);
}

const char *sgm_config_perturb_name(enum sgm_perturb_kind kind) {
  return NAME_OF(perturb_names, kind);
}

const char *sgm_config_method_name(enum sgm_method method) {
  return NAME_OF(method_names, method);
}

const char *sgm_config_grid_name(enum sgm_time_grid grid) {
  return NAME_OF(time_grid_names, grid);
}

const char *sgm_config_predictor_name(enum sgm_predictor predictor) {
  return NAME_OF(predictor_names, predictor);
}

const char *sgm_config_corrector_name(enum sgm_corrector corrector) {
  return NAME_OF(corrector_names, corrector);
}

const char *sgm_config_scale_name(enum sgm_scale scale) {
  return NAME_OF(scale_names, scale);
}

bool sgm_config_source_is_image(enum sgm_data_source source) {
  return source == SGM_DATA_FASHION_MNIST || source == SGM_DATA_IDX ||
         source == SGM_DATA_CIFAR10;
}

bool sgm_config_source_is_synthetic(enum sgm_data_source source) {
  return source == SGM_DATA_GMM || source == SGM_DATA_SPHERE ||
         source == SGM_DATA_SUBSPACE;
}
