/* clock.h - time in milliseconds: monotonic for deadlines, wall for logs
 * and timestamps. */
#ifndef SEAM_CLOCK_H
#define SEAM_CLOCK_H

#include <stdint.h>

int64_t seam_mono_ms(void);
int64_t seam_wall_ms(void);
int64_t seam_mono_ns(void);
/* Sleep up to `ms`, returning early if interrupted by a signal. */
void seam_sleep_ms(int64_t ms);

#endif
