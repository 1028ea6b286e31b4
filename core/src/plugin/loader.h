/*
 * loader - finds, checks and loads provider modules (the only file that calls dlopen).
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
    int checked;              /* opened and its table passed check_table (not yet init) */
    int origin;               /* VP__DIR_* of the directory it was found in */
    int builtin_refused;      /* refused for claiming an installed built-in provider's scheme */
    void *mod;                /* the provider's module context */
    vp_host_ctx hc;           /* this provider's host context (source = name) */
    /* Run-time state (provinit.c), under the context's init_lock: a LOADED provider is
     * initialised when a call first needs it, and may fail or be given up on later. */
    int run;               /* VP__RUN_* */
    int run_status;        /* why it is VP__RUN_FAILED */
    int64_t init_until_ms; /* VP__RUN_INITIALISING: real monotonic ms when init is given up */
    char run_reason[VP__LOAD_REASON_MAX];
    vp_provider_info pub; /* what vp_providers_get returns: info with the run-time state */
} vp__provider;

#define VP__RUN_IDLE  0 /* not initialised yet */
#define VP__RUN_INIT  1 /* init() running */
#define VP__RUN_READY 2 /* init() succeeded */
#define VP__RUN_FAILED                                                         \
    3 /* init() failed or timed out, or a call was given up on: see run_reason \
       */

/* Where a provider directory came from (its trust, for the built-in names). */
#define VP__DIR_HOST      0 /* the application's plugin_dirs */
#define VP__DIR_ENV       1 /* VAULTPLUG_PLUGIN_PATH */
#define VP__DIR_INSTALLED 2 /* the installed provider directory */

typedef struct vp__loader_cfg {
    const char *const *plugin_dirs; /* NULL-terminated or NULL */
    int ignore_env_plugin_path;
    int no_default_plugin_dir;
    const char *const *enabled;     /* NULL = all */
    const vp_host_ctx *hc_template; /* copied into every provider's hc (source replaced) */
    /* The administrator's policy (policy.c): modules from VAULTPLUG_PLUGIN_PATH may replace
     * the installed built-in providers (aws, gcp, hashicorp, azure) and take their schemes. */
    int allow_provider_override;
    /* The administrator's enabled_providers (NULL = none) and the file it came from: a
     * provider outside it is disabled with a reason that says so. `enabled` is already
     * narrowed to it by the caller. */
    const char *const *ceiling;
    const char *ceiling_src;
} vp__loader_cfg;

/* Scan, check and load (without init(): see vp__loader_init). Individual provider failures are
 * recorded in the array, not returned. Returns 0 or VP_ENOMEM / VP_ELIMIT (more than
 * VP__MAX_PROVIDERS files). */
int vp__loader_load(const vp__loader_cfg *cfg, vp__provider **out, size_t *n_out);
/* Call p's init() (p LOADED, not initialised). Returns its normalised status; on 0, *mod is
 * the module context to store in p->mod (p->inited is the caller's to set). */
int vp__loader_init(const vp__provider *p, void **mod);
/* teardown() every initialised provider in reverse order and free the array. Modules stay
 * resident (never dlclosed): a provider's threads or atexit handlers may still point into it. */
void vp__loader_unload(vp__provider *p, size_t n);
/* The installed provider directory: derived at run time from where libvaultplug.so itself is
 * (so that an installation moved to another prefix finds its own providers), else the
 * compiled-in ${libdir}/vaultplug/providers-1. Valid for the life of the process. */
const char *vp__loader_installed_dir(void);
/* Tests only: use dir as the installed directory (NULL: back to the real one). Not thread-safe;
 * call before creating contexts. */
void vp__loader_set_installed_dir(const char *dir);

/* Non-zero if p serves scheme (LOADED and listed in its table's schemes). */
int vp__provider_has_scheme(const vp__provider *p, const char *scheme);

#endif
