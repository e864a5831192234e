/**
 * @file config.h
 * The experiment configuration: INI files, `--set section.key=value`
 * overrides, validation and the resolved text stored in every output file.
 *
 * A configuration is parsed once, on rank 0, into canonical "resolved" text
 * that lists every key with its value (defaults included); every rank then
 * builds the same struct from that text.  Every key is documented once, in
 * inputs/reference.ini.
 */
#ifndef SGM_CONFIG_H
#define SGM_CONFIG_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sgm_precision { SGM_PRECISION_FLOAT64, SGM_PRECISION_FLOAT32 };
enum sgm_data_source {
  SGM_DATA_FASHION_MNIST,
  SGM_DATA_IDX,
  SGM_DATA_CIFAR10,
  SGM_DATA_HDF5,
  SGM_DATA_NPY,
  SGM_DATA_GMM,
  SGM_DATA_SPHERE,
  SGM_DATA_SUBSPACE
};
enum sgm_split { SGM_SPLIT_TRAIN, SGM_SPLIT_TEST };
enum sgm_scale { SGM_SCALE_MINUS1_1, SGM_SCALE_UNIT, SGM_SCALE_NONE };
enum sgm_sde_kind { SGM_SDE_VP, SGM_SDE_VE, SGM_SDE_OU };
/* [drift] pfgm_D when model = pfgm leaves it unset: PFGM++'s choice for
 * CIFAR-10 (Xu et al. 2023). */
#define SGM_PFGM_D_DEFAULT 2048
enum sgm_drift_model {
  SGM_DRIFT_EMPIRICAL,
  SGM_DRIFT_SMOOTHED,
  SGM_DRIFT_GMM,
  SGM_DRIFT_PLUGIN,
  SGM_DRIFT_PFGM
};
enum sgm_perturb_kind {
  SGM_PERTURB_NONE,
  SGM_PERTURB_CONSTANT,
  SGM_PERTURB_TIME,
  SGM_PERTURB_ROTATION
};
enum sgm_direction { SGM_DIRECTION_ONES, SGM_DIRECTION_RANDOM };
enum sgm_method {
  SGM_METHOD_EM,
  SGM_METHOD_EI,
  SGM_METHOD_ODE,
  SGM_METHOD_PC,
  SGM_METHOD_ALD
};
enum sgm_time_grid { SGM_GRID_UNIFORM, SGM_GRID_LOG_SIGMA, SGM_GRID_EDM };
enum sgm_ode_solver { SGM_SOLVER_RK45, SGM_SOLVER_HEUN };
enum sgm_predictor {
  SGM_PREDICTOR_REVERSE_DIFFUSION,
  SGM_PREDICTOR_EM,
  SGM_PREDICTOR_ANCESTRAL
};
enum sgm_corrector {
  SGM_CORRECTOR_LANGEVIN,
  SGM_CORRECTOR_ALD,
  SGM_CORRECTOR_NONE
};
enum sgm_prior {
  SGM_PRIOR_GAUSSIAN,
  SGM_PRIOR_POINT,
  SGM_PRIOR_FORWARD,
  SGM_PRIOR_PFGM /* the model's own prior (sgm_drift_prior) */
};
enum sgm_jacobian_method { SGM_JACOBIAN_ANALYTIC, SGM_JACOBIAN_FD };
enum sgm_save_vectors {
  SGM_SAVE_VECTORS_NAMED,
  SGM_SAVE_VECTORS_ALL,
  SGM_SAVE_VECTORS_NONE
};

/** A list of reals (count may be 0). */
struct sgm_real_list {
  int count;
  double *values;
};

/** A list of equally long vectors, stored row-major (count x dim). */
struct sgm_vector_list {
  int count;
  int dim;
  double *values;
};

/** A list of integers (count may be 0). */
struct sgm_int_list {
  int count;
  int64_t *values;
};

/** One swept key of [sweep] with its values as text. */
struct sgm_sweep_key {
  char *key; /* "section.key" */
  int count;
  char **values;
};

struct sgm_config {
  struct {
    char *name;
    char *output;
    uint64_t seed;
    enum sgm_precision precision;
    double float32_guard;
    int64_t checkpoint_every;
    double checkpoint_seconds;
  } run;
  struct {
    int rows; /* 0 = auto */
  } grid;
  struct {
    enum sgm_data_source source;
    char
        *path; /* one path; for cifar10 a comma-separated list or a directory */
    char *dataset;
    char *labels;
    enum sgm_split split;
    int64_t n; /* 0 = all (file sources); training examples drawn (synthetic) */
    struct sgm_int_list classes; /* empty = all */
    enum sgm_scale scale;
    int dim;       /* 0 = unset */
    int intrinsic; /* 0 = unset */
    double radius;
    struct sgm_vector_list means;
    struct sgm_real_list variances;
    struct sgm_real_list weights;
    uint64_t seed;
  } data;
  struct {
    enum sgm_sde_kind kind;
    double beta_min, beta_max, sigma_min, sigma_max, T, t_min;
  } sde;
  struct {
    enum sgm_drift_model model;
    double bandwidth; /* 0 = unset */
    char *plugin;
    char *plugin_args;
    double pfgm_D; /* 0 = unset; model = pfgm: SGM_PFGM_D_DEFAULT */
  } drift;
  struct {
    enum sgm_perturb_kind kind;
    double magnitude;
    enum sgm_direction direction;
    double alpha;
    int rank;
  } perturb;
  struct {
    enum sgm_method method;
    enum sgm_time_grid grid;
    int64_t steps;
    int64_t particles;
    enum sgm_prior prior;
    struct sgm_real_list prior_value; /* one value (broadcast) or d values */
    bool denoise;
    enum sgm_ode_solver solver;   /* ode */
    double rtol, atol;            /* ode, rk45 */
    enum sgm_predictor predictor; /* pc */
    enum sgm_corrector corrector; /* pc */
    double snr;                   /* pc correctors */
    int corrector_steps;          /* pc */
    int levels;                   /* ald: noise levels L */
    int level_steps;              /* ald: Langevin steps per level M */
    double step_size;             /* ald: epsilon */
    double sigma_first;           /* ald: sigma_1; 0 = sigma(T) */
    double sigma_last;            /* ald: sigma_L; 0 = sigma(t_min) */
  } sampler;
  struct {
    int64_t every;
    bool trajectories;
    enum sgm_precision storage;
  } output;
  struct {
    bool nearest;
    bool novikov;
    int density_bins;
    double density_range[2];
  } diagnostics;
  struct {
    struct sgm_real_list times;
    int points;
    double kappa;
    enum sgm_jacobian_method method;
    double fd_step;     /* central-difference step, as a fraction of sigma_t */
    int grid_p, grid_q; /* 0, 0 = auto */
    int block;
    enum sgm_save_vectors save_vectors;
    bool enabled; /* run the analysis in `sgmrun run`; default: yes when the
                     configuration has a [jacobian] section */
  } jacobian;
  struct {
    int count;
    struct sgm_sweep_key *keys;
  } sweep;

  char *source;   /* the file the configuration came from ("" if none) */
  char *resolved; /* canonical text: every key, defaults included */
};
typedef struct sgm_config sgm_config_t;

/**
 * Parses an INI file and applies overrides ("section.key=value", in order,
 * later ones winning).  Serial.  Errors name the file, line, key and what is
 * allowed; unknown sections and keys suggest the closest valid name.
 * @return 0, SGM_ERR_CONFIG, SGM_ERR_USAGE (malformed override) or
 *         SGM_ERR_IO (unreadable file).
 */
int sgm_config_parse(const char *path, const char *const *overrides,
                     int noverrides, sgm_config_t **out);

/**
 * Builds a configuration from INI text (for example the resolved text read
 * back from an output file).  origin names the text in error messages.
 */
int sgm_config_parse_text(const char *text, const char *origin,
                          sgm_config_t **out);

/**
 * Collective over comm: rank 0 parses the file and overrides, the resolved
 * text is broadcast, and every rank builds its configuration from it.  Every
 * rank returns the same status.
 */
int sgm_config_load(MPI_Comm comm, const char *path,
                    const char *const *overrides, int noverrides,
                    sgm_config_t **out);

/** Frees a configuration and sets the handle to NULL (NULL is allowed). */
void sgm_config_destroy(sgm_config_t **cfg);

/**
 * Compares two configurations key by key, skipping the keys listed in
 * ignore ("section.key", NULL-terminated; may be NULL).  Serial.
 * @return 0 when they agree, 1 when they differ (what then names the first
 *         differing key with both values), or a negative error.
 */
int sgm_config_compare(const sgm_config_t *a, const sgm_config_t *b,
                       const char *const *ignore, char *what, size_t len);

/** Number of tasks of the [sweep] section (1 when there is none). */
int64_t sgm_config_sweep_count(const sgm_config_t *cfg);

/**
 * Applies the task-th combination (0-based, last key varying fastest) of the
 * [sweep] section to a copy of the configuration.  Serial.
 */
int sgm_config_sweep_task(const sgm_config_t *cfg, int64_t task,
                          sgm_config_t **out);

/**
 * The value (as text) that task `task` gives to the `key`-th swept key of
 * [sweep] (0 <= key < cfg->sweep.count), in the order
 * sgm_config_sweep_task applies them; NULL when out of range.
 */
const char *sgm_config_sweep_value(const sgm_config_t *cfg, int64_t task,
                                   int key);

/** The canonical name of an enum value of a key (e.g. "vp"). */
const char *sgm_config_source_name(enum sgm_data_source source);
const char *sgm_config_drift_name(enum sgm_drift_model model);
const char *sgm_config_sde_name(enum sgm_sde_kind kind);
const char *sgm_config_perturb_name(enum sgm_perturb_kind kind);
const char *sgm_config_scale_name(enum sgm_scale scale);
const char *sgm_config_method_name(enum sgm_method method);
const char *sgm_config_grid_name(enum sgm_time_grid grid);
const char *sgm_config_predictor_name(enum sgm_predictor predictor);
const char *sgm_config_corrector_name(enum sgm_corrector corrector);

/** True for the image sources (fashion-mnist, idx, cifar10). */
bool sgm_config_source_is_image(enum sgm_data_source source);
/** True for the synthetic sources (gmm, sphere, subspace). */
bool sgm_config_source_is_synthetic(enum sgm_data_source source);

#endif /* SGM_CONFIG_H */
