/* Private to the sampler module. */
#ifndef SGM_SAMPLER_IMPL_H
#define SGM_SAMPLER_IMPL_H

#include <stdint.h>

#include "sgm/config.h"
#include "sgm/schedule.h"

/** Fills t[0..steps] with the grid of kind from T down to t_min. */
int sgm__time_grid(enum sgm_time_grid kind, const sgm_schedule_t *s,
                   int64_t steps, double *t);

/**
 * The stiffness of one explicit step from t_from down to t_to:
 * g(t_from)^2 (t_from - t_to) / (sigma(t_to)^2 + m(t_to)^2 v_min), the step
 * against the smallest variance it reaches.  Euler-Maruyama needs < 2; on a
 * uniform VP grid this is steps > T / (2 t_min) (DESIGN.md).
 */
double sgm__step_stiffness(const sgm_schedule_t *s, double t_from, double t_to,
                           double v_min);

/** Largest sgm__step_stiffness over the grid's steps. */
double sgm__stiffness(const sgm_schedule_t *s, const double *t, int64_t steps,
                      double v_min, int64_t *at);

#endif
