/* Progress lines for long runs, through the log module's status line. */
#include "sgm/progress.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "sgm/error.h"
#include "sgm/log.h"

/* A batch log gets a line every this share of the steps, and at least one
 * every MAX_QUIET seconds; a terminal is redrawn at most every TTY_PERIOD. */
#define LOG_SHARE 0.05
#define MAX_QUIET 300.0
#define TTY_PERIOD 0.25

struct sgm_progress {
  char label[128];
  int64_t steps;
  bool enabled, live;
  double start, last_print;
  int64_t last_step;
  int64_t first;   /* the step the run (re)started from */
  int64_t current; /* the last step reported */
};

int sgm_progress_create(const char *label, int64_t steps, bool enabled,
                        sgm_progress_t **out) {
  sgm_progress_t *p = NULL;
  SGM_CALL(SGM_CALLOC(p, 1));
  snprintf(p->label, sizeof p->label, "%s", label);
  p->steps = steps > 0 ? steps : 1;
  p->enabled = enabled;
  p->live = enabled && sgm_log_is_terminal();
  p->start = p->last_print = MPI_Wtime();
  *out = p;
  return 0;
}

static void format_seconds(double s, char *buf, size_t len) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, len, "--");
    return;
  }
  long v = lround(s);
  if (v >= 3600)
    snprintf(buf, len, "%ldh%02ldm", v / 3600, v / 60 % 60);
  else if (v >= 60)
    snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
  else
    snprintf(buf, len, "%.1fs", s);
}

void sgm_progress_update(sgm_progress_t *p, int64_t step, double t,
                         double sigma, double particle_steps, double flops) {
  if (!p || !p->enabled)
    return;
  p->current = step;
  double now = MPI_Wtime(), elapsed = now - p->start;
  bool due;
  if (p->live)
    due = now - p->last_print >= TTY_PERIOD || step == p->steps;
  else
    due = step - p->last_step >= (int64_t)ceil(LOG_SHARE * (double)p->steps) ||
          now - p->last_print >= MAX_QUIET || step == p->steps;
  if (!due)
    return;
  char el[32], eta[32];
  format_seconds(elapsed, el, sizeof el);
  int64_t done = step - p->first;
  format_seconds(done > 0 ? elapsed * (double)(p->steps - step) / (double)done
                          : NAN,
                 eta, sizeof eta);
  sgm_log_status(p->live,
                 "%s step %lld/%lld (%3.0f%%)  t %.4g  sigma %.3g  elapsed "
                 "%s  eta %s  %.3g particle-steps/s  %.1f GFLOP/s",
                 p->label, (long long)step, (long long)p->steps,
                 100.0 * (double)step / (double)p->steps, t, sigma, el, eta,
                 elapsed > 0 ? particle_steps / elapsed : 0.0,
                 elapsed > 0 ? flops / elapsed / 1e9 : 0.0);
  p->last_print = now;
  p->last_step = step;
}

void sgm_progress_finish(sgm_progress_t **handle, double particle_steps,
                         double flops) {
  if (!handle || !*handle)
    return;
  sgm_progress_t *p = *handle;
  if (p->enabled) {
    double elapsed = MPI_Wtime() - p->start;
    char el[32];
    format_seconds(elapsed, el, sizeof el);
    sgm_log_status(false,
                   "%s %s: %lld steps in %s, %.3g particle-steps/s, %.1f "
                   "GFLOP/s",
                   p->label, p->current == p->steps ? "done" : "stopped",
                   (long long)(p->current - p->first), el,
                   elapsed > 0 ? particle_steps / elapsed : 0.0,
                   elapsed > 0 ? flops / elapsed / 1e9 : 0.0);
  }
  free(p);
  *handle = NULL;
}

void sgm_progress_start_at(sgm_progress_t *p, int64_t step) {
  p->first = p->last_step = p->current = step;
}
