/**
 * @file log.h
 * The one way anything below the command line reaches the terminal.
 *
 * Messages go to stderr, prefixed with the program name and, when more than
 * one rank may print, the rank.  By default only rank 0 prints; warnings that
 * only one rank can see (a local file problem, say) use sgm_log_local.
 */
#ifndef SGM_LOG_H
#define SGM_LOG_H

#include <stdbool.h>

enum sgm_log_level {
  SGM_LOG_ERROR = 0,
  SGM_LOG_WARN = 1,
  SGM_LOG_INFO = 2,
  SGM_LOG_DEBUG = 3
};

/** Sets this process's rank (for prefixes and rank-0 filtering). */
void sgm_log_init(int rank, int nranks);

/** Messages above level are dropped (default SGM_LOG_INFO). */
void sgm_log_set_level(enum sgm_log_level level);
enum sgm_log_level sgm_log_get_level(void);

/** When true every rank prints, with a "[rank r]" prefix. */
void sgm_log_set_all_ranks(bool all);

/** Rank 0's rank-collective message (other ranks stay quiet). */
void sgm_log(enum sgm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** A message from whichever rank calls, always rank-prefixed. */
void sgm_log_local(enum sgm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * A status line from rank 0 (progress): with live = true it rewrites the
 * current terminal line in place (no newline); otherwise it is an ordinary
 * line.  Any later message first ends a pending live line.
 */
void sgm_log_status(bool live, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Ends a pending live status line (prints the newline). */
void sgm_log_status_end(void);

/** True when stderr is a terminal (live status lines make sense). */
bool sgm_log_is_terminal(void);

#endif /* SGM_LOG_H */
