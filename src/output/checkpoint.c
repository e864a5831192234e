/*
 * Checkpoints: the state a run needs to continue (particles, Novikov
 * integrals, the step) in a small serial HDF5 file beside the results.
 *
 * Rank 0 writes "<results>.ckpt.tmp", receiving the other rows' particle
 * slices in pieces of at most about 8 MB (its one extra buffer), closes
 * and fsyncs it, moves the previous checkpoint to "<results>.ckpt.prev" and
 * renames the new one into place, then fsyncs the directory.  Each rename is
 * atomic, so a kill at any moment leaves at least one complete checkpoint
 * under one of the two names; the reader tries both, newest first.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/h5_impl.h"
#include "sgm/error.h"
#include "sgm/log.h"
#include "sgm/output.h"

#define CKPT_FORMAT "sgmrun checkpoint 1"
#define CKPT_PATH_MAX 4096

enum ckpt_name { CKPT_CURRENT, CKPT_PREVIOUS, CKPT_TEMP };

static int ckpt_path(const char *results, enum ckpt_name which, char *buf) {
  static const char *const suffix[] = {".ckpt", ".ckpt.prev", ".ckpt.tmp"};
  int n = snprintf(buf, CKPT_PATH_MAX, "%s%s", results, suffix[which]);
  SGM_CHECK(n > 0 && n < CKPT_PATH_MAX, SGM_ERR_IO,
            "checkpoint path for '%s' is too long", results);
  return 0;
}

static int io_error(const char *what, const char *path) {
  return sgm_error_set(SGM_ERR_IO, __FILE__, __LINE__, __func__, "%s '%s': %s",
                       what, path, strerror(errno));
}

/* Makes a file's (or directory's) contents durable. */
static int sync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0)
    return io_error("cannot open for syncing", path);
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc == 0 ? 0 : io_error("cannot sync", path);
}

static int sync_directory_of(const char *path) {
  char copy[CKPT_PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  return sync_path(dirname(copy), 1);
}

static hid_t create_2d(hid_t f, const char *name, int64_t rows, int64_t cols) {
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  hid_t space = H5Screate_simple(cols > 0 ? 2 : 1, dims, NULL);
  hid_t dset = H5Dcreate2(f, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
  H5Sclose(space);
  return dset;
}

/* Writes (or reads) rows [first, first + count) of a P x cols dataset
 * (cols = 0: a vector). */
static int slab(hid_t dset, int64_t first, int64_t count, int64_t cols,
                double *data, bool write) {
  if (count <= 0)
    return 0;
  int ndims = cols > 0 ? 2 : 1;
  hsize_t start[2] = {(hsize_t)first, 0},
          extent[2] = {(hsize_t)count, (hsize_t)cols};
  hid_t fspace = H5Dget_space(dset), mspace = H5I_INVALID_HID;
  herr_t rc = -1;
  if (fspace >= 0 &&
      sgm__h5_select(fspace, ndims, start, extent, 0, &mspace) >= 0)
    rc = write ? H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT,
                          data)
               : H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT,
                         data);
  if (mspace >= 0)
    H5Sclose(mspace);
  if (fspace >= 0)
    H5Sclose(fspace);
  return rc < 0 ? SGM_H5_ERROR("%s a checkpoint slice",
                               write ? "writing" : "reading")
                : 0;
}

static int write_slab(hid_t dset, int64_t first, int64_t count, int64_t cols,
                      const double *data) {
  return slab(dset, first, count, cols, (double *)data, true);
}

static int read_slab(hid_t dset, int64_t first, int64_t count, int64_t cols,
                     double *data) {
  return slab(dset, first, count, cols, data, false);
}

/* Rows per message: pieces of at most about 8 MB, so that rank 0 needs one
 * small buffer and every count fits an int. */
static int64_t piece_rows(int d) {
  int64_t rows = ((int64_t)1 << 20) / d;
  return rows > 0 ? rows : 1;
}

/*
 * Rank 0's side of the write: its own slice, then every other sender's in
 * turn, piece by piece (a sender is a rank with count > 0; senders hold
 * disjoint slices).  Tags: 1 the slice header (first, count), 2 particle
 * rows, 3 Novikov integrals.  Every piece is received even after a failure,
 * so that no sender is left blocked.
 */
static int write_file(MPI_Comm comm, const char *tmp, const char *config,
                      int64_t step, int64_t saved, double t, int64_t P, int d,
                      int64_t first, int64_t count, const double *y,
                      const double *novikov, int senders, double *buf) {
  int err = 0;
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t dy = H5I_INVALID_HID, dn = H5I_INVALID_HID;
  if (f < 0)
    err = SGM_H5_ERROR("cannot create checkpoint '%s'", tmp);
  if (!err)
    err = sgm_output_attr_string(f, "format", CKPT_FORMAT);
  if (!err)
    err = sgm_output_attr_string(f, "config", config);
  if (!err)
    err = sgm_output_attr_int64(f, "step", step);
  if (!err)
    err = sgm_output_attr_int64(f, "saved", saved);
  if (!err)
    err = sgm_output_attr_int64(f, "particles", P);
  if (!err)
    err = sgm_output_attr_int64(f, "dimension", d);
  if (!err)
    err = sgm_output_attr_double(f, "t", t);
  if (!err) {
    dy = create_2d(f, "particles", P, d);
    if (novikov)
      dn = create_2d(f, "novikov", P, 0);
    if (dy < 0 || (novikov && dn < 0))
      err = SGM_H5_ERROR("creating the datasets of checkpoint '%s'", tmp);
  }
  if (!err)
    err = write_slab(dy, first, count, d, y);
  if (!err && novikov)
    err = write_slab(dn, first, count, 0, novikov);
  const int64_t rows = piece_rows(d);
  for (int s = 0; s < senders; s++) {
    int64_t head[2];
    MPI_Status st;
    MPI_Recv(head, 2, MPI_INT64_T, MPI_ANY_SOURCE, 1, comm, &st);
    for (int64_t at = 0; at < head[1]; at += rows) {
      int64_t m = head[1] - at < rows ? head[1] - at : rows;
      MPI_Recv(buf, (int)(m * d), MPI_DOUBLE, st.MPI_SOURCE, 2, comm,
               MPI_STATUS_IGNORE);
      if (!err)
        err = write_slab(dy, head[0] + at, m, d, buf);
      if (novikov) {
        MPI_Recv(buf, (int)m, MPI_DOUBLE, st.MPI_SOURCE, 3, comm,
                 MPI_STATUS_IGNORE);
        if (!err)
          err = write_slab(dn, head[0] + at, m, 0, buf);
      }
    }
  }
  if (dn >= 0)
    H5Dclose(dn);
  if (dy >= 0)
    H5Dclose(dy);
  if (f >= 0 && H5Fclose(f) < 0 && !err)
    err = SGM_H5_ERROR("closing checkpoint '%s'", tmp);
  return err;
}

static void send_slice(MPI_Comm comm, int64_t first, int64_t count, int d,
                       const double *y, const double *novikov) {
  int64_t head[2] = {first, count};
  MPI_Send(head, 2, MPI_INT64_T, 0, 1, comm);
  const int64_t rows = piece_rows(d);
  for (int64_t at = 0; at < count; at += rows) {
    int64_t m = count - at < rows ? count - at : rows;
    MPI_Send(y + at * d, (int)(m * d), MPI_DOUBLE, 0, 2, comm);
    if (novikov)
      MPI_Send(novikov + at, (int)m, MPI_DOUBLE, 0, 3, comm);
  }
}

/* Moves the new checkpoint into place, keeping the previous one. */
static int commit_file(const char *results) {
  char cur[CKPT_PATH_MAX], prev[CKPT_PATH_MAX], tmp[CKPT_PATH_MAX];
  SGM_CALL(ckpt_path(results, CKPT_CURRENT, cur));
  SGM_CALL(ckpt_path(results, CKPT_PREVIOUS, prev));
  SGM_CALL(ckpt_path(results, CKPT_TEMP, tmp));
  SGM_CALL(sync_path(tmp, 0));
  if (rename(cur, prev) != 0 && errno != ENOENT)
    return io_error("cannot keep the previous checkpoint", cur);
  if (rename(tmp, cur) != 0)
    return io_error("cannot rename the new checkpoint into place", tmp);
  return sync_directory_of(cur);
}

int sgm_checkpoint_write(MPI_Comm comm, const char *results_path,
                         const char *config, int64_t step, int64_t saved,
                         double t, int64_t particles, int d, int64_t first,
                         int64_t count, const double *y,
                         const double *novikov) {
  int rank, err = 0;
  MPI_Comm_rank(comm, &rank);
  double *buf = NULL;
  char tmp[CKPT_PATH_MAX];
  if (rank == 0) {
    err = ckpt_path(results_path, CKPT_TEMP, tmp);
    if (!err)
      err = SGM_MALLOC(buf, (size_t)(piece_rows(d) * d));
  }
  SGM_CALL(sgm_error_agree(comm, err));
  int sending = rank != 0 && count > 0, senders = 0;
  MPI_Reduce(&sending, &senders, 1, MPI_INT, MPI_SUM, 0, comm);
  if (rank == 0) {
    err = write_file(comm, tmp, config, step, saved, t, particles, d, first,
                     count, y, novikov, senders, buf);
    if (!err)
      err = commit_file(results_path);
    if (err)
      unlink(tmp);
  } else if (sending) {
    send_slice(comm, first, count, d, y, novikov);
  }
  free(buf);
  return sgm_error_agree(comm, err);
}

static int dataset_matches(hid_t f, const char *name, int64_t rows,
                           int64_t cols) {
  hid_t dset = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t space = dset >= 0 ? H5Dget_space(dset) : H5I_INVALID_HID;
  hsize_t dims[2] = {0, 0};
  int ndims = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (ndims == 1 || ndims == 2)
    H5Sget_simple_extent_dims(space, dims, NULL);
  int ok = ndims == (cols > 0 ? 2 : 1) && dims[0] == (hsize_t)rows &&
           (cols == 0 || dims[1] == (hsize_t)cols);
  if (space >= 0)
    H5Sclose(space);
  if (dset >= 0)
    H5Dclose(dset);
  return ok;
}

/* Reads and checks the header of one checkpoint file; 1 when usable. */
static int read_header(const char *path, sgm_checkpoint_info_t *info) {
  if (access(path, F_OK) != 0)
    return 0;
  memset(info, 0, sizeof *info);
  char *format = NULL;
  int err = 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    err = SGM_H5_ERROR("cannot open checkpoint '%s'", path);
  if (!err)
    err = sgm__h5_read_string(f, "format", &format);
  if (!err && strcmp(format, CKPT_FORMAT) != 0)
    err = sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                        "'%s' is not an sgmrun checkpoint (format '%s')", path,
                        format);
  int64_t d = 0;
  if (!err)
    err = sgm__h5_read_string(f, "config", &info->config);
  if (!err)
    err = sgm__h5_read_number(f, "step", H5T_NATIVE_INT64, &info->step);
  if (!err)
    err = sgm__h5_read_number(f, "saved", H5T_NATIVE_INT64, &info->saved);
  if (!err)
    err =
        sgm__h5_read_number(f, "particles", H5T_NATIVE_INT64, &info->particles);
  if (!err)
    err = sgm__h5_read_number(f, "dimension", H5T_NATIVE_INT64, &d);
  if (!err)
    err = sgm__h5_read_number(f, "t", H5T_NATIVE_DOUBLE, &info->t);
  info->d = (int)d;
  info->has_novikov = !err && H5Lexists(f, "novikov", H5P_DEFAULT) > 0;
  if (!err && (info->step < 0 || info->saved < 0 || info->particles < 1 ||
               d < 1 || !dataset_matches(f, "particles", info->particles, d) ||
               (info->has_novikov &&
                !dataset_matches(f, "novikov", info->particles, 0))))
    err = sgm_error_set(SGM_ERR_INPUT, __FILE__, __LINE__, __func__,
                        "checkpoint '%s' is inconsistent", path);
  free(format);
  if (f >= 0)
    H5Fclose(f);
  if (err) {
    free(info->config);
    info->config = NULL;
    return err;
  }
  snprintf(info->path, sizeof info->path, "%s", path);
  return 1;
}

/* Sends the outcome of the search from rank 0 to everyone. */
static int share(MPI_Comm comm, int found, sgm_checkpoint_info_t *info) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int64_t head[7] = {found,
                     info->step,
                     info->saved,
                     info->particles,
                     info->d,
                     info->has_novikov,
                     found == 1 ? (int64_t)strlen(info->config) + 1 : 0};
  MPI_Bcast(head, 7, MPI_INT64_T, 0, comm);
  MPI_Bcast(&info->t, 1, MPI_DOUBLE, 0, comm);
  MPI_Bcast(info->path, sizeof info->path, MPI_CHAR, 0, comm);
  if (head[0] != 1)
    return (int)head[0];
  if (rank != 0) {
    info->step = head[1];
    info->saved = head[2];
    info->particles = head[3];
    info->d = (int)head[4];
    info->has_novikov = (int)head[5];
    if (SGM_MALLOC(info->config, (size_t)head[6]) != 0)
      info->config = NULL;
  }
  int ok = info->config != NULL, all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
  if (!all) {
    sgm_checkpoint_info_free(info);
    return sgm_error_set(SGM_ERR_NOMEM, __FILE__, __LINE__, __func__,
                         "out of memory");
  }
  MPI_Bcast(info->config, (int)head[6], MPI_CHAR, 0, comm);
  return 1;
}

int sgm_checkpoint_find(MPI_Comm comm, const char *results_path,
                        sgm_checkpoint_info_t *info) {
  int rank, found = 0;
  MPI_Comm_rank(comm, &rank);
  memset(info, 0, sizeof *info);
  if (rank == 0) {
    char path[CKPT_PATH_MAX];
    /* The current checkpoint, else the previous one (a kill between the
     * two renames of a commit leaves only that).  An unreadable one (damaged
     * by hand, say) is skipped with a warning. */
    for (int which = CKPT_CURRENT; which <= CKPT_PREVIOUS && found != 1;
         which++) {
      found = ckpt_path(results_path, which, path);
      if (!found)
        found = read_header(path, info);
      if (found < 0) {
        sgm_log_local(SGM_LOG_WARN, "ignoring checkpoint: %s",
                      sgm_error_message());
        sgm_error_clear();
        found = 0;
      }
    }
  }
  return share(comm, found, info);
}

int sgm_checkpoint_read(const sgm_checkpoint_info_t *info, int64_t first,
                        int64_t count, double *y, double *novikov) {
  int err = 0;
  hid_t f = H5Fopen(info->path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    return SGM_H5_ERROR("cannot open checkpoint '%s'", info->path);
  hid_t dy = H5Dopen2(f, "particles", H5P_DEFAULT);
  err = dy < 0 ? SGM_H5_ERROR("checkpoint '%s' has no /particles", info->path)
               : read_slab(dy, first, count, info->d, y);
  if (dy >= 0)
    H5Dclose(dy);
  if (!err && novikov) {
    hid_t dn = H5Dopen2(f, "novikov", H5P_DEFAULT);
    err = dn < 0 ? SGM_H5_ERROR("checkpoint '%s' has no /novikov", info->path)
                 : read_slab(dn, first, count, 0, novikov);
    if (dn >= 0)
      H5Dclose(dn);
  }
  H5Fclose(f);
  return err;
}

void sgm_checkpoint_info_free(sgm_checkpoint_info_t *info) {
  free(info->config);
  info->config = NULL;
}

void sgm_checkpoint_remove(MPI_Comm comm, const char *results_path) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    char path[CKPT_PATH_MAX];
    for (int which = CKPT_CURRENT; which <= CKPT_TEMP; which++)
      if (ckpt_path(results_path, which, path) == 0)
        unlink(path);
  }
  MPI_Barrier(comm);
}

int sgm_output_read_attr(MPI_Comm comm, const char *path, const char *name,
                         char *value, size_t len) {
  int rank, found = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    value[0] = '\0';
    const bool exists = access(path, F_OK) == 0;
    hid_t f =
        exists ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
    char *text = NULL;
    if (f >= 0 && H5Aexists(f, name) > 0 &&
        sgm__h5_read_string(f, name, &text) == 0) {
      snprintf(value, len, "%s", text);
      found = 1;
    } else if (exists && f < 0) {
      found = 2; /* exists, but HDF5 cannot open it */
    }
    free(text);
    if (f >= 0)
      H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    sgm_error_clear();
  }
  MPI_Bcast(&found, 1, MPI_INT, 0, comm);
  MPI_Bcast(value, (int)len, MPI_CHAR, 0, comm);
  return found;
}
