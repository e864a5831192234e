/**
 * @file error.h
 * Error codes and the error context shared by every module.
 *
 * Every fallible function returns an int: 0 on success or a negative
 * SGM_ERR_* code.  The first failing call records one human-readable message
 * naming the offending input; callers propagate the code with SGM_CALL, which
 * appends a file:line frame to a trace shown only in debug output.  Nothing
 * below the command-line interface prints an error itself.
 */
#ifndef SGM_ERROR_H
#define SGM_ERROR_H

#include <mpi.h>

/* X(name, value, description).  The descriptions are generic; the message
 * recorded with the error says what actually went wrong. */
#define SGM_ERROR_LIST(X)                                                      \
  X(SGM_OK, 0, "success")                                                      \
  X(SGM_ERR_NOMEM, -1, "out of memory")                                        \
  X(SGM_ERR_USAGE, -2, "usage error")                                          \
  X(SGM_ERR_CONFIG, -3, "invalid configuration")                               \
  X(SGM_ERR_INPUT, -4, "invalid input data")                                   \
  X(SGM_ERR_IO, -5, "input/output error")                                      \
  X(SGM_ERR_MPI, -6, "MPI error")                                              \
  X(SGM_ERR_HDF5, -7, "HDF5 error")                                            \
  X(SGM_ERR_NUMERIC, -8, "numerical failure")                                  \
  X(SGM_ERR_UNSUPPORTED, -9, "not supported")                                  \
  X(SGM_ERR_INTERNAL, -10, "internal error")                                   \
  X(SGM_ERR_INTERRUPTED, -11, "interrupted (a checkpoint was written)")

enum sgm_error {
#define SGM__ERROR_ENUM(name, value, text) name = value,
  SGM_ERROR_LIST(SGM__ERROR_ENUM)
#undef SGM__ERROR_ENUM
};

/** Largest message kept, in bytes including the terminating NUL. */
#define SGM_ERROR_MESSAGE_MAX 2048

/** Generic description of an error code (never NULL). */
const char *sgm_strerror(int code);

/**
 * Records an error: the code and a printf-style message that names the
 * offending input.  A message already recorded and not yet cleared is kept
 * (the innermost failure is usually the most precise).  Not collective.
 * @return code, so that it can be returned directly.
 */
int sgm_error_set(int code, const char *file, int line, const char *func,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/**
 * Replaces the recorded message with "<prefix>: <message>", adding context
 * an outer layer knows (for example the file being read).  Not collective.
 * @return code.
 */
int sgm_error_prefix(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Appends a frame to the trace of the current error; returns code. */
int sgm_error_trace(int code, const char *file, int line, const char *func);

/** The message of the current error ("" when none is recorded). */
const char *sgm_error_message(void);

/** The trace of the current error, one frame per line ("" when none). */
const char *sgm_error_backtrace(void);

/** The code of the current error (0 when none is recorded). */
int sgm_error_code(void);

/** Forgets the current error. */
void sgm_error_clear(void);

/**
 * Agrees on the outcome of a phase across a communicator.  Collective.
 * Every rank passes its own status; if any rank failed, every rank returns
 * the code of the lowest-ranked failing process and holds its message, so
 * that rank 0 can print one clear line and no rank waits in a later
 * collective for a peer that has given up.
 * @return 0 when every rank passed 0, else the agreed negative code.
 */
int sgm_error_agree(MPI_Comm comm, int status);

/** Returns the error from the calling function when cond is false. */
#define SGM_CHECK(cond, code, ...)                                             \
  do {                                                                         \
    if (!(cond))                                                               \
      return sgm_error_set((code), __FILE__, __LINE__, __func__, __VA_ARGS__); \
  } while (0)

/** Propagates a negative status from expr, adding a trace frame. */
#define SGM_CALL(expr)                                                         \
  do {                                                                         \
    int sgm__status = (expr);                                                  \
    if (sgm__status < 0)                                                       \
      return sgm_error_trace(sgm__status, __FILE__, __LINE__, __func__);       \
  } while (0)

/* Variants for functions that clean up through a goto chain: they store the
 * status in the caller's local `err` and jump to `label`. */
#define SGM_CHECK_GOTO(cond, code, label, ...)                                 \
  do {                                                                         \
    if (!(cond)) {                                                             \
      err = sgm_error_set((code), __FILE__, __LINE__, __func__, __VA_ARGS__);  \
      goto label;                                                              \
    }                                                                          \
  } while (0)

#define SGM_CALL_GOTO(expr, label)                                             \
  do {                                                                         \
    err = (expr);                                                              \
    if (err < 0) {                                                             \
      sgm_error_trace(err, __FILE__, __LINE__, __func__);                      \
      goto label;                                                              \
    }                                                                          \
  } while (0)

/** Checks an MPI return code; the message carries MPI's own description. */
int sgm__mpi_error(int rc, const char *call, const char *file, int line,
                   const char *func);
#define SGM_MPI(expr)                                                          \
  do {                                                                         \
    int sgm__rc = (expr);                                                      \
    if (sgm__rc != MPI_SUCCESS)                                                \
      return sgm__mpi_error(sgm__rc, #expr, __FILE__, __LINE__, __func__);     \
  } while (0)
#define SGM_MPI_GOTO(expr, label)                                              \
  do {                                                                         \
    int sgm__rc = (expr);                                                      \
    if (sgm__rc != MPI_SUCCESS) {                                              \
      err = sgm__mpi_error(sgm__rc, #expr, __FILE__, __LINE__, __func__);      \
      goto label;                                                              \
    }                                                                          \
  } while (0)

/** Allocation helpers that record SGM_ERR_NOMEM with the size requested. */
int sgm__alloc(void *ptr_out, size_t count, size_t size, int zero,
               const char *file, int line, const char *func);
#define SGM_MALLOC(ptr, count)                                                 \
  sgm__alloc(&(ptr), (count), sizeof(*(ptr)), 0, __FILE__, __LINE__, __func__)
#define SGM_CALLOC(ptr, count)                                                 \
  sgm__alloc(&(ptr), (count), sizeof(*(ptr)), 1, __FILE__, __LINE__, __func__)
/** Aligned (64-byte) allocation for vectorised kernels; free with free(). */
int sgm__alloc_aligned(void *ptr_out, size_t count, size_t size,
                       const char *file, int line, const char *func);
#define SGM_MALLOC_ALIGNED(ptr, count)                                         \
  sgm__alloc_aligned(&(ptr), (count), sizeof(*(ptr)), __FILE__, __LINE__,      \
                     __func__)

/** Appends printf-style text to buf (size bytes) at *len, truncating; *len
 * stays below size, so calls can follow one another whatever fits. */
void sgm__appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* SGM_ERROR_H */
