/**
 * @file progress.h
 * The progress line of a long run, on rank 0: step, t, sigma(t), elapsed
 * time, ETA, particle-steps per second and achieved GFLOP/s.  On a terminal
 * one line is rewritten in place (at most a few times a second); in a batch
 * log (stderr not a terminal) a full line is written every few percent, with
 * no carriage returns.
 */
#ifndef SGM_PROGRESS_H
#define SGM_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sgm_progress sgm_progress_t;

/**
 * Starts a progress report of `steps` steps.  enabled = false gives a
 * silent reporter (other ranks, --quiet).  label prefixes every line.
 */
int sgm_progress_create(const char *label, int64_t steps, bool enabled,
                        sgm_progress_t **out);

/**
 * Reports that `step` steps are done, the sampler being at time t with
 * sigma(t); particle_steps and flops are the totals over all ranks so far.
 */
void sgm_progress_update(sgm_progress_t *p, int64_t step, double t,
                         double sigma, double particle_steps, double flops);

/** Declares that the run starts at `step` (a resumed run), so that the
 * rates and the ETA count only the steps of this process. */
void sgm_progress_start_at(sgm_progress_t *p, int64_t step);

/** Ends the report with a summary line; frees; sets the handle to NULL. */
void sgm_progress_finish(sgm_progress_t **p, double particle_steps,
                         double flops);

#endif /* SGM_PROGRESS_H */
