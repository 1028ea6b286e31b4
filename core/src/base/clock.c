/*
 * clock - the host's clocks: the system's, unless the host context injects its own (tests,
 * fixed-date signing).
 */
#include <time.h>

#include "hostctx.h"

static int64_t sys_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vp__host_now_unix_ms(vp_host_ctx *hc)
{
    if (hc != NULL && hc->wall_clock_ms != NULL)
        return hc->wall_clock_ms(hc->clock_ud);
    return sys_clock_ms(CLOCK_REALTIME);
}

int64_t vp__host_monotonic_ms(vp_host_ctx *hc)
{
    if (hc != NULL && hc->monotonic_clock_ms != NULL)
        return hc->monotonic_clock_ms(hc->clock_ud);
    return sys_clock_ms(CLOCK_MONOTONIC);
}
