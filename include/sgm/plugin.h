/**
 * @file plugin.h
 * The C ABI of drift plugins: a shared object that provides the score
 * s(x, t) = grad_x log p_t(x) of [drift] model = plugin.
 *
 * This header is all a plugin needs from sgmrun (it includes only <mpi.h>,
 * <stdint.h> and <stddef.h>); a plugin links MPI and whatever else it uses
 * itself.  sgmrun loads `[drift] plugin` with dlopen(RTLD_NOW | RTLD_LOCAL)
 * on every rank, checks that it exports the four functions below and that
 * sgm_plugin_abi_version() equals SGM_PLUGIN_ABI_VERSION, then calls
 * sgm_plugin_init once, sgm_plugin_eval for every evaluation of the drift,
 * and sgm_plugin_finalize at the end.  Build one with, for example,
 *
 *     mpicc -O2 -shared -fPIC -I SGMRUN/include my_score.c -o libmy_score.so
 *
 * Collectives: init and eval are called collectively by every rank of a
 * grid row (info->row), each rank with the same arguments, so a plugin may
 * communicate inside them.  sgmrun agrees every outcome over the row (a
 * failure on any rank fails every rank, with the message of the lowest
 * failing rank), but it cannot step into the plugin: a plugin that can fail
 * on some ranks only must agree itself (an MPI_Allreduce of a flag) before
 * its own next collective, or the other ranks wait in it forever.
 *
 * Errors: init and eval return 0, or nonzero with a one-line message
 * (NUL-terminated, at most message_size bytes) that says what went wrong;
 * sgmrun reports it with the plugin's file name and exits with status 1.
 * A plugin never prints errors or calls exit or MPI_Abort.
 *
 * Versions: an ABI version number names the layout of sgm_plugin_info_t
 * and the signatures below; sgmrun refuses a plugin built against another
 * version ("built against ABI 2, sgmrun speaks 1").
 */
#ifndef SGM_PLUGIN_H
#define SGM_PLUGIN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of this ABI.  A plugin returns the value it was compiled
 * with from sgm_plugin_abi_version(). */
#define SGM_PLUGIN_ABI_VERSION 1

/** Makes a function visible from the shared object even when it is built
 * with -fvisibility=hidden. */
#if defined(__GNUC__)
#define SGM_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SGM_PLUGIN_EXPORT
#endif

/** What a plugin learns at initialisation.  Every pointer stays valid until
 * sgm_plugin_finalize returns. */
typedef struct sgm_plugin_info {
  int abi_version; /* SGM_PLUGIN_ABI_VERSION of the calling sgmrun */
  int d;           /* dimension of the data and of every particle */
  int64_t n;       /* training examples in the whole set */
  int64_t n_local; /* examples in this rank's shard (may be 0) */
  int64_t offset;  /* global index of the shard's first example */
  /* The shard: n_local x d, row-major, exactly as the run sees it (after
   * [data] scale, the class filter and the subset); NULL when n_local = 0.
   * The shards of the ranks of `row`, in rank order, make up the set. */
  const double *y;
  /* The ranks whose shards make up the training set (a grid row), in a
   * communicator of the plugin's own (a duplicate: its messages cannot
   * meet sgmrun's).  Every rank of a row sees the same particles. */
  MPI_Comm row;
  const char *args;        /* [drift] plugin_args ("" when unset) */
  const char *path;        /* the plugin's file, as sgmrun opened it */
  const char *config_path; /* the configuration file ("" when none) */
  /* The directory relative names in the configuration refer to: that of
   * the configuration file, else the current directory ("."). */
  const char *config_dir;
  uint64_t seed; /* [run] seed */
} sgm_plugin_info_t;

/**
 * The ABI version the plugin was built against: return
 * SGM_PLUGIN_ABI_VERSION.  Called first, on every rank, before anything
 * else.  Not collective.
 */
SGM_PLUGIN_EXPORT int sgm_plugin_abi_version(void);

/**
 * Prepares the score: reads info->args, fits whatever it fits to the
 * training shards.  Collective over info->row.
 * @param info what sgmrun knows (see sgm_plugin_info_t)
 * @param state set to the plugin's own state, passed back to eval and
 *              finalize
 * @param message room for an error message of message_size bytes
 * @return 0, or nonzero with message set (a bad argument is an error here,
 *         not at the first evaluation).  sgmrun calls sgm_plugin_finalize
 *         on the ranks where init returned 0, even if another rank failed.
 */
SGM_PLUGIN_EXPORT int sgm_plugin_init(const sgm_plugin_info_t *info,
                                      void **state, char *message,
                                      size_t message_size);

/**
 * The score s(x, t) of n particles.  Collective over info->row: every rank
 * of the row passes the same particles and must return the same bits (the
 * row's ranks then carry on as one); n may be 0 on some calls.
 * @param t the forward time, t_min <= t <= T
 * @param m the mean factor m(t) and sigma2 = sigma(t)^2 of the forward
 *          marginal N(m y, sigma2 I) of a training example y
 * @param x n x d particles, row-major
 * @param score n x d, row-major, to fill (does not alias x)
 * @return 0, or nonzero with message set.  Every value must be finite:
 *         sgmrun reports a NaN or Inf naming the particle and t.
 */
SGM_PLUGIN_EXPORT int sgm_plugin_eval(void *state, double t, double m,
                                      double sigma2, int64_t n, const double *x,
                                      double *score, char *message,
                                      size_t message_size);

/**
 * Frees the state.  Not collective: it may run on some ranks of a row
 * only (after a failure elsewhere), so it must not communicate; free
 * communicators and BLACS grids before init returns, or leave them.
 */
SGM_PLUGIN_EXPORT void sgm_plugin_finalize(void *state);

/* The same signatures as pointer types, for a loader. */
typedef int (*sgm_plugin_abi_version_fn)(void);
typedef int (*sgm_plugin_init_fn)(const sgm_plugin_info_t *info, void **state,
                                  char *message, size_t message_size);
typedef int (*sgm_plugin_eval_fn)(void *state, double t, double m,
                                  double sigma2, int64_t n, const double *x,
                                  double *score, char *message,
                                  size_t message_size);
typedef void (*sgm_plugin_finalize_fn)(void *state);

#ifdef __cplusplus
}
#endif

#endif /* SGM_PLUGIN_H */
