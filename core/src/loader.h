/*
 * loader - finds, checks and loads provider modules (the only file that calls lt_*).
 *
 * The result is an array of vp__provider sorted by name, one per provider file found (or
 * enabled but not found): LOADED ones have passed every check and init(); FAILED ones keep
 * their status and a precise reason; DISABLED ones were found but not enabled and were never
 * opened. The array is immutable after vp__loader_load returns, so any thread may read it.
 */
#ifndef VP_LOADER_H
#define VP_LOADER_H

#include <stddef.h>

#include "vaultplug/context.h"
#include "vaultplug/provider.h"
#include "host.h"

#define VP__MAX_PROVIDERS   1024 /* provider files considered over all directories */
#define VP__LOAD_REASON_MAX 512

typedef struct vp__provider {
    vp_provider_info info; /* public view; its strings point at the fields below */
    char *name, *path, *version, *description, *schemes_csv, *reason;
    const vp_provider *table; /* set once the table was read; valid while the module is resident */
    int schemes_ok;           /* table->schemes passed the checks (used to route failures) */
    int inited;               /* init() succeeded: teardown() owed */
    void *mod;                /* the provider's module context */
    vp_host_ctx hc;           /* this provider's host context (source = name) */
} vp__provider;

typedef struct vp__loader_cfg {
    const char *const *plugin_dirs; /* NULL-terminated or NULL */
    int ignore_env_plugin_path;
    int no_default_plugin_dir;
    const char *const *enabled;     /* NULL = all */
    const vp_host_ctx *hc_template; /* copied into every provider's hc (source replaced) */
} vp__loader_cfg;

/* Scan, check and load. Individual provider failures are recorded in the array, not returned.
 * Returns 0 or VP_ENOMEM / VP_ELIMIT (more than VP__MAX_PROVIDERS files). */
int vp__loader_load(const vp__loader_cfg *cfg, vp__provider **out, size_t *n_out);
/* teardown() every initialised provider in reverse order and free the array. Modules stay
 * resident (never dlclosed): a provider's threads or atexit handlers may still point into it. */
void vp__loader_unload(vp__provider *p, size_t n);
/* Non-zero if p serves scheme (LOADED and listed in its table's schemes). */
int vp__provider_has_scheme(const vp__provider *p, const char *scheme);

#endif
