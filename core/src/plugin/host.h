/*
 * host - the vp_host table handed to providers, and the per-provider host context behind it.
 */
#ifndef VP_HOST_H
#define VP_HOST_H

#include "vaultplug/context.h"
#include "vaultplug/provider.h"
#include "http.h"
#include "inputs.h"
#include "log.h"

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
    vp__inputs *inputs; /* what this provider read (getenv, read_file); NULL = not recorded */
};

/* The one static host table (all functions thread-safe). */
const vp_host *vp__host_table(void);

/* The path host->read_file opens for path: a leading "~/" is the user's HOME. 0, VP_ENOTFOUND
 * (HOME unset) or VP_ELIMIT (does not fit in cap). */
int vp__host_expand_path(const char *path, char *out, size_t cap);

/* Clocks of a host context (system clocks when not injected, or when hc is NULL). */
int64_t vp__host_now_unix_ms(vp_host_ctx *hc);
int64_t vp__host_monotonic_ms(vp_host_ctx *hc);

/* Allocation-failure injection for tests: the Nth allocation (1-based) through the host table's
 * malloc/calloc/realloc/strdup/secure_malloc fails; 0 = off. Process-wide. */
void vp__host_fail_alloc_after(uint64_t n);

#endif
