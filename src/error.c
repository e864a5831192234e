/* The per-process error context: one message, one code and a trace. */
#include "sgm/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_MAX 4096

static _Thread_local struct {
  int code;
  char message[SGM_ERROR_MESSAGE_MAX];
  char trace[TRACE_MAX];
} ctx;

const char *sgm_strerror(int code) {
  switch (code) {
#define SGM__ERROR_CASE(name, value, text)                                     \
  case value:                                                                  \
    return text;
    SGM_ERROR_LIST(SGM__ERROR_CASE)
#undef SGM__ERROR_CASE
  default:
    return "unknown error";
  }
}

static void trace_append(const char *file, int line, const char *func) {
  size_t used = strlen(ctx.trace);
  if (used + 1 < sizeof ctx.trace)
    snprintf(ctx.trace + used, sizeof ctx.trace - used, "  at %s (%s:%d)\n",
             func, file, line);
}

int sgm_error_set(int code, const char *file, int line, const char *func,
                  const char *fmt, ...) {
  if (ctx.code == 0) {
    ctx.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx.message, sizeof ctx.message, fmt, ap);
    va_end(ap);
    ctx.trace[0] = '\0';
  }
  trace_append(file, line, func);
  return code;
}

int sgm_error_prefix(int code, const char *fmt, ...) {
  char joined[2 * SGM_ERROR_MESSAGE_MAX];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(joined, SGM_ERROR_MESSAGE_MAX, fmt, ap);
  va_end(ap);
  if (len < 0)
    len = 0;
  if (len > SGM_ERROR_MESSAGE_MAX - 1)
    len = SGM_ERROR_MESSAGE_MAX - 1;
  snprintf(joined + len, sizeof joined - (size_t)len, ": %s", ctx.message);
  snprintf(ctx.message, sizeof ctx.message, "%.*s", SGM_ERROR_MESSAGE_MAX - 1,
           joined);
  if (ctx.code == 0)
    ctx.code = code;
  return code;
}

int sgm_error_trace(int code, const char *file, int line, const char *func) {
  if (ctx.code == 0) {
    /* A negative status arrived without a message: a bug in the callee, but
     * still worth a readable report. */
    ctx.code = code;
    snprintf(ctx.message, sizeof ctx.message, "%s", sgm_strerror(code));
  }
  trace_append(file, line, func);
  return code;
}

const char *sgm_error_message(void) { return ctx.message; }
const char *sgm_error_backtrace(void) { return ctx.trace; }
int sgm_error_code(void) { return ctx.code; }

void sgm_error_clear(void) {
  ctx.code = 0;
  ctx.message[0] = '\0';
  ctx.trace[0] = '\0';
}

int sgm_error_agree(MPI_Comm comm, int status) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = status < 0 ? rank : size, first = size;
  if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
    return sgm_error_set(SGM_ERR_MPI, __FILE__, __LINE__, __func__,
                         "MPI_Allreduce failed while agreeing on a status");
  if (first == size)
    return 0;
  /* The lowest failing rank tells everybody what went wrong. */
  struct {
    int code;
    char message[SGM_ERROR_MESSAGE_MAX];
  } packet = {0};
  if (rank == first) {
    packet.code = status < 0 ? status : SGM_ERR_INTERNAL;
    snprintf(packet.message, sizeof packet.message, "%s",
             ctx.message[0] ? ctx.message : sgm_strerror(packet.code));
  }
  if (MPI_Bcast(&packet, (int)sizeof packet, MPI_BYTE, first, comm) !=
      MPI_SUCCESS)
    return sgm_error_set(SGM_ERR_MPI, __FILE__, __LINE__, __func__,
                         "MPI_Bcast failed while agreeing on a status");
  if (rank != first) {
    ctx.code = packet.code;
    memcpy(ctx.message, packet.message, sizeof ctx.message);
    snprintf(ctx.trace, sizeof ctx.trace, "  (reported by rank %d)\n", first);
  }
  return packet.code;
}

int sgm__mpi_error(int rc, const char *call, const char *file, int line,
                   const char *func) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
    snprintf(text, sizeof text, "error code %d", rc);
  return sgm_error_set(SGM_ERR_MPI, file, line, func, "%s failed: %s", call,
                       text);
}

int sgm__alloc(void *ptr_out, size_t count, size_t size, int zero,
               const char *file, int line, const char *func) {
  void *p = NULL;
  if (count > 0 && size > SIZE_MAX / count)
    return sgm_error_set(SGM_ERR_NOMEM, file, line, func,
                         "allocation of %zu x %zu bytes overflows", count,
                         size);
  size_t bytes = count * size;
  if (bytes > 0) {
    p = zero ? calloc(count, size) : malloc(bytes);
    if (!p)
      return sgm_error_set(SGM_ERR_NOMEM, file, line, func,
                           "out of memory allocating %.3g MB", bytes / 1e6);
  }
  memcpy(ptr_out, &p, sizeof p);
  return 0;
}

int sgm__alloc_aligned(void *ptr_out, size_t count, size_t size,
                       const char *file, int line, const char *func) {
  void *p = NULL;
  if (count > 0 && size > (SIZE_MAX - 64) / count)
    return sgm_error_set(SGM_ERR_NOMEM, file, line, func,
                         "allocation of %zu x %zu bytes overflows", count,
                         size);
  size_t bytes = (count * size + 63) / 64 * 64;
  if (bytes > 0) {
    p = aligned_alloc(64, bytes);
    if (!p)
      return sgm_error_set(SGM_ERR_NOMEM, file, line, func,
                           "out of memory allocating %.3g MB", bytes / 1e6);
  }
  memcpy(ptr_out, &p, sizeof p);
  return 0;
}

void sgm__appendf(char *buf, size_t size, size_t *len, const char *fmt, ...) {
  if (size == 0 || *len + 1 >= size)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *len, size - *len, fmt, ap);
  va_end(ap);
  if (n > 0)
    *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}
