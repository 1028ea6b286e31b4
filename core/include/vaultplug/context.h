/*
 * vaultplug/context.h - the library context: configuration, providers, logging.
 *
 * A vp_ctx owns everything: the loaded providers, the HTTP connection cache, the secure memory
 * of secrets it fetched. It is thread-safe: any number of threads may use one context at once.
 * Create one per application (or per isolated tenant) with vp_ctx_new().
 *
 * A context belongs to the process that created it: after fork() the child creates its own
 * context and leaves the parent's alone (calls on an inherited context fail with VP_EINVAL;
 * vp_ctx_free on it releases memory without touching the parent's threads or connections).
 */
#ifndef VAULTPLUG_CONTEXT_H
#define VAULTPLUG_CONTEXT_H

#include "vaultplug/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vp_ctx vp_ctx;

/* Log levels (same values as the plugin SDK's vp_log_level). */
#define VP_LEVEL_ERROR 0
#define VP_LEVEL_WARN  1
#define VP_LEVEL_INFO  2
#define VP_LEVEL_DEBUG 3
#define VP_LEVEL_TRACE 4

/*
 * Log callback. `message` has already passed the redactor: every masked value and every secret
 * header or body is replaced by "[REDACTED]". `source` is "core" or a provider's name. Called
 * from any thread; must not call back into the context.
 */
typedef void (*vp_log_fn)(void *ud, int level, const char *source, const char *message);

/* Injectable clocks (tests, deterministic signing). Return milliseconds. */
typedef int64_t (*vp_clock_fn)(void *ud);

/* Open a URL in the user's browser (interactive sign-in). Return 0 if it was handed to a
 * browser, VP_ENOTSUP otherwise. */
typedef int (*vp_open_url_fn)(void *ud, const char *url);
/* Show a message to the user (sign-in instructions). */
typedef void (*vp_notify_fn)(void *ud, const char *message);

/*
 * Options for vp_ctx_new(). Zero-initialise (or use vp_options_init) and set what you need;
 * every zero field means "the default".
 *
 * `size` is sizeof(vp_options) as the program was compiled (vp_options_init sets it). New
 * versions only append fields, so the struct's size tells the library which fields the caller
 * knows:
 *   - a program built against an older 1.x header keeps working with a newer library: any size
 *     from VP_OPTIONS_SIZE_1_0 up is accepted, and the fields beyond it take their defaults;
 *   - a program built against a newer header runs on an older library as long as it leaves the
 *     fields that library does not know zero; a non-zero unknown field is refused (VP_EINVAL)
 *     rather than silently ignored;
 *   - a size below VP_OPTIONS_SIZE_1_0, or above 64 KiB, is refused as corrupt (VP_EINVAL).
 */
typedef struct vp_options {
    size_t size;

    /* Provider plugins. The search path is: plugin_dirs (in order), then the directories in
     * VAULTPLUG_PLUGIN_PATH (colon-separated; ignored in setuid/setgid processes and when
     * ignore_env_plugin_path is set), then the installed ${libdir}/vaultplug/providers-1
     * (${libdir} being the directory of libvaultplug.so itself, so a relocated installation
     * finds its own providers). The first file of a name wins, except that
     * VAULTPLUG_PLUGIN_PATH does not replace an installed aws, gcp, hashicorp or azure nor
     * take their schemes (unless the administrator's configuration sets
     * allow_provider_override). A provider's first scheme must be its own name; a scheme two
     * modules claim goes to the one whose own name it is (else the first in name order) and
     * the other is refused. */
    const char *const *plugin_dirs; /* NULL-terminated, or NULL */
    int ignore_env_plugin_path;
    int no_default_plugin_dir;
    /* Only these providers are loaded (NULL-terminated names). NULL = every provider found.
     * The administrator's configuration (/etc/vaultplug/config.json, or the file named by
     * VAULTPLUG_SYSTEM_CONFIG) applies on top of it: its "enabled_providers" is a ceiling that
     * every application gets (a name outside it stays disabled, with a warning in the log), see
     * ignore_admin_policy. A malformed or unreadable administrator's file fails vp_ctx_new. */
    const char *const *enabled_providers;

    /* Logging: messages at or below log_level go to log_fn. Default level VP_LEVEL_WARN. */
    vp_log_fn log_fn;
    void *log_ud;
    int log_level;

    /* HTTP defaults for all providers. */
    const char *ca_file;              /* PEM bundle replacing the system trust store */
    const char *ca_path;              /* directory of hashed CA certificates */
    const char *proxy;                /* proxy URL; NULL = the standard *_proxy variables */
    uint32_t http_timeout_ms;         /* per-request default when the call has no deadline;
                                         default 30000 */
    size_t http_max_response;         /* response body cap; default 1 MiB */
    uint32_t http_connect_timeout_ms; /* default 10000 */

    /* Clocks (NULL = the system's). */
    vp_clock_fn wall_clock_ms;
    vp_clock_fn monotonic_clock_ms;
    void *clock_ud;

    /* Interactive sign-in hooks. */
    vp_open_url_fn open_url;
    vp_notify_fn notify;
    void *ui_ud;

    /* Testing: the Nth (1-based) allocation that this context's providers make through the
     * host table (its allocators and JSON services) fails; counted from vp_ctx_new, per context.
     * Allocations on threads a provider starts itself are not counted. 0 = off. */
    uint64_t fail_alloc_after;

    /* Cache and resolver (vaultplug/resolve.h). Zero = the default given. */
    int32_t cache_ttl_s;           /* 1800; VP_CACHE_TTL_OFF (-1) = no caching; max 43200 */
    uint32_t cache_max_entries;    /* 1000 */
    size_t cache_max_bytes;        /* 64 MiB of cached values */
    int32_t negative_ttl_ms;       /* 10000; -1 = failed lookups are not remembered */
    uint32_t fetch_concurrency;    /* 128 per context, max 256; threads kept until ctx_free */
    uint32_t provider_concurrency; /* 100 fetches at once per provider; max 256 */
    uint32_t retry_attempts;       /* 3 attempts in all (1 = no retry); max 10 */
    uint32_t retry_base_ms;        /* 100: first backoff cap, doubled per attempt */
    uint32_t retry_max_ms;         /* 5000: backoff cap */
    int stale_if_error;            /* serve an expired value on transient failures (off) */
    uint32_t max_stale_s;          /* 3600: oldest expired value stale-if-error may serve */
    /* ---- end of version 1.0 (VP_OPTIONS_SIZE_1_0); later fields are appended below ---- */

    /* 1.1: ignore the administrator's "enabled_providers" ceiling. Honoured only when the
     * administrator's configuration allows it with "allow_host_override": true; otherwise the
     * ceiling applies and a warning is logged. */
    int ignore_admin_policy;
    /* 1.1: run each provider in a helper process (vaultplug-provider-host, installed in
     * ${libdir}/vaultplug/), so that a provider that crashes fails its references instead of
     * the application, and is restarted for the next reference. 0 = as the administrator's
     * configuration says ("isolate_providers", default false); 1 = on; -1 = off, honoured
     * against the administrator's true only with "allow_host_override". Interactive sign-in
     * (vp_login) always runs in this process. */
    int isolate_providers;
} vp_options;

/* The size of version 1.0's vp_options: the smallest `size` any 1.x library accepts. */
#define VP_OPTIONS_SIZE_1_0 (offsetof(vp_options, max_stale_s) + sizeof(uint32_t))

/* Fill *opts with defaults (all zero, size set). */
VP_EXPORT void vp_options_init(vp_options *opts) VP_NONNULL(1);

/*
 * Create a context: initialise libsodium and libcurl once per process, build the host services,
 * find and load the enabled providers. A provider that fails to load does not fail this call:
 * it is registered as failed and any use of it returns VP_EUNAVAIL with the reason.
 * Returns 0, VP_EINVAL (bad options), VP_ENOMEM, VP_EINTERNAL (libsodium/libcurl init).
 */
VP_EXPORT VP_NODISCARD int vp_ctx_new(const vp_options *opts, vp_ctx **out, vp_error *err)
    VP_NONNULL(2);

/* Tear down providers, wipe every secret the context holds and release it. NULL-safe.
 * No other thread may be using the context. */
VP_EXPORT void vp_ctx_free(vp_ctx *ctx);

/* Load state of a provider. */
typedef enum vp_provider_state {
    VP_PROVIDER_LOADED = 0,  /* ready; initialised when a call first needs it */
    VP_PROVIDER_FAILED = 1,  /* found and enabled, but refused or broken: see reason */
    VP_PROVIDER_DISABLED = 2 /* found, not in the enabled list: not loaded */
} vp_provider_state;

/* What vp_providers_list() reports about one provider. Strings are owned by the context. */
typedef struct vp_provider_info {
    const char *name;              /* file base name */
    const char *path;              /* full path of the .so */
    const char *version;           /* provider's version, or "" if never read */
    const char *description;       /* or "" */
    const char *schemes;           /* comma-separated, or "" */
    uint16_t abi_major, abi_minor; /* from the provider's table header (0 if unknown) */
    uint32_t caps;
    vp_provider_state state;
    int status;         /* VP_OK, or why it failed */
    const char *reason; /* "" or the precise failure reason */
} vp_provider_info;

/* Number of providers the context knows (loaded, failed or disabled). */
VP_EXPORT size_t vp_providers_count(const vp_ctx *ctx) VP_NONNULL(1);
/* Info of provider i (0 <= i < count), sorted by name; NULL if out of range. Valid until
 * vp_ctx_free. A provider is initialised only when a call first needs one of its schemes; one
 * whose init fails or times out, or that ignores a call's deadline, turns FAILED with the
 * reason (for the rest of the context). Each call refreshes the struct it returns: do not read
 * it while another thread calls vp_providers_get for the same provider. */
VP_EXPORT const vp_provider_info *vp_providers_get(const vp_ctx *ctx, size_t i) VP_NONNULL(1);

/*
 * Check that `scheme` (e.g. "aws") is served by a loaded provider, initialising the provider
 * if no call has yet. Returns 0, VP_ENOTFOUND (no provider has that scheme; the message lists
 * the known ones), VP_EUNAVAIL (the provider failed to load or to initialise; the message
 * carries the reason) or VP_ETIMEDOUT (its init did not finish within the context's timeout,
 * vp_options.http_timeout_ms; the provider is then unavailable for the rest of the context).
 */
VP_EXPORT VP_NODISCARD int vp_provider_check(vp_ctx *ctx, const char *scheme, vp_error *err)
    VP_NONNULL(1, 2);

/*
 * Register a value that must never appear in logs or error messages (in addition to what the
 * library masks by itself). Values shorter than 4 bytes are ignored.
 */
VP_EXPORT void vp_mask(vp_ctx *ctx, const void *value, size_t len) VP_NONNULL(1);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_CONTEXT_H */
