/* Rank-aware logging to stderr. */
#include "sgm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int log_rank = 0, log_nranks = 1;
static enum sgm_log_level log_level = SGM_LOG_INFO;
static bool log_all = false;
static bool live_pending = false; /* a live status line awaits its newline */

void sgm_log_init(int rank, int nranks) {
  log_rank = rank;
  log_nranks = nranks;
}

void sgm_log_set_level(enum sgm_log_level level) { log_level = level; }
enum sgm_log_level sgm_log_get_level(void) { return log_level; }
void sgm_log_set_all_ranks(bool all) { log_all = all; }

static const char *level_tag(enum sgm_log_level level) {
  switch (level) {
  case SGM_LOG_ERROR:
    return "error: ";
  case SGM_LOG_WARN:
    return "warning: ";
  case SGM_LOG_DEBUG:
    return "debug: ";
  default:
    return "";
  }
}

static void emit(enum sgm_log_level level, bool with_rank, const char *fmt,
                 va_list ap) {
  char line[4096];
  vsnprintf(line, sizeof line, fmt, ap);
  sgm_log_status_end();
  if (with_rank && log_nranks > 1)
    fprintf(stderr, "sgmrun[rank %d]: %s%s\n", log_rank, level_tag(level),
            line);
  else
    fprintf(stderr, "sgmrun: %s%s\n", level_tag(level), line);
  fflush(stderr);
}

void sgm_log(enum sgm_log_level level, const char *fmt, ...) {
  if (level > log_level || (log_rank != 0 && !log_all))
    return;
  va_list ap;
  va_start(ap, fmt);
  emit(level, log_all, fmt, ap);
  va_end(ap);
}

void sgm_log_local(enum sgm_log_level level, const char *fmt, ...) {
  if (level > log_level)
    return;
  va_list ap;
  va_start(ap, fmt);
  emit(level, true, fmt, ap);
  va_end(ap);
}

void sgm_log_status(bool live, const char *fmt, ...) {
  if (log_rank != 0 || log_level < SGM_LOG_INFO)
    return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (live) {
    /* Carriage return, the line, and "erase to end of line". */
    fprintf(stderr, "\rsgmrun: %s\033[K", line);
    live_pending = true;
  } else {
    sgm_log_status_end();
    fprintf(stderr, "sgmrun: %s\n", line);
  }
  fflush(stderr);
}

void sgm_log_status_end(void) {
  if (!live_pending)
    return;
  live_pending = false;
  fputc('\n', stderr);
  fflush(stderr);
}

bool sgm_log_is_terminal(void) { return isatty(STDERR_FILENO) == 1; }
