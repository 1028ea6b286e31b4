/*
 * hostctx - the per-provider host context (vp_host_ctx, opaque to providers): where a provider's
 * log lines go, its HTTP engine, its clocks, its UI hooks and the record of what it read. Defined
 * in base so that every module below the plugin layer (the call context, the HTTP engine) can
 * read the clocks and the log without depending on the host table (plugin/host.h).
 */
#ifndef VP_HOSTCTX_H
#define VP_HOSTCTX_H

#include <stdint.h>

#include "vaultplug/context.h"
#include "vaultplug/provider.h"
#include "inputs.h"
#include "log.h"

struct vp_ctx;
typedef struct vp__http vp__http;
struct vp__fault;

struct vp_host_ctx {
    struct vp_ctx *ctx; /* owning context (NULL in some unit tests) */
    const char *source; /* log source: provider name, or "core" */
    vp__log *log;
    vp__http *http;
    vp_clock_fn wall_clock_ms; /* NULL = system clocks */
    vp_clock_fn monotonic_clock_ms;
    void *clock_ud;
    vp_open_url_fn open_url;
    vp_notify_fn notify;
    void *ui_ud;
    vp__inputs *inputs;      /* what this provider read (getenv, read_file); NULL = not recorded */
    struct vp__fault *fault; /* the context's allocation-failure counter (fault.h); NULL = none */
};

/* Clocks of a host context (system clocks when not injected, or when hc is NULL). */
int64_t vp__host_now_unix_ms(vp_host_ctx *hc);
int64_t vp__host_monotonic_ms(vp_host_ctx *hc);

#endif
