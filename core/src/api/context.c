/*
 * context - vp_ctx: options, lifetime and the wiring of log, http, host and loader.
 */
#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vaultplug/error.h"
#include "abisize.h"
#include "credstore_int.h"
#include "errint.h"
#include "fault.h"
#include "policy.h"
#include "resolver.h"
#include "secmem.h"

#define DEFAULT_TIMEOUT_MS 30000u

void vp_options_init(vp_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
}

/* Copy the caller's options into *o (this library's layout). A program built against an older
 * header passes a smaller struct (at least 1.0's): the fields it does not know are zero, i.e.
 * the defaults. One built against a newer header may pass a larger struct: accepted only if
 * every field we do not know is zero (so nothing it asked for is silently ignored). */
static int check_options(const vp_options *in, vp_options *o, vp_error *err)
{
    int rc = vp__sized_take(o, sizeof(*o), in, in->size, VP_OPTIONS_SIZE_1_0, "vp_options",
                            "initialise the options with vp_options_init", err);
    if (rc != 0)
        return rc;
    if (o->log_level < 0 || o->log_level > VP_LEVEL_TRACE)
        return vp__err_set(err, NULL, VP_EINVAL, "log_level %d out of range 0..4", o->log_level);
    for (const char *const *d = o->plugin_dirs; d && *d; d++)
        if (**d == '\0')
            return vp__err_set(err, NULL, VP_EINVAL, "empty plugin directory name");
    for (const char *const *e = o->enabled_providers; e && *e; e++)
        if (**e == '\0')
            return vp__err_set(err, NULL, VP_EINVAL, "empty provider name in enabled_providers");
    return 0;
}

static int in_list(const char *const *list, const char *name)
{
    for (const char *const *e = list; e && *e; e++)
        if (strcmp(*e, name) == 0)
            return 1;
    return 0;
}

/* "a, b, c" of a NULL-terminated list, cut to cap. */
static void join_names(char *dst, size_t cap, const char *const *list)
{
    size_t used = 0;
    dst[0] = '\0';
    for (const char *const *e = list; e && *e && used + 1 < cap; e++) {
        int w = snprintf(dst + used, cap - used, "%s%s", used ? ", " : "", *e);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

/* The providers that may load: the host's enabled_providers (NULL = all found) within the
 * administrator's ceiling. *out is NULL (all), or a NULL-terminated array of borrowed names
 * in *owned (free it). Narrowing is said in the log, an empty result loudly. */
static int effective_enabled(vp_ctx *ctx, const vp_options *o, vp__policy *pol,
                             const char *const **out, const char ***owned)
{
    *owned = NULL;
    const char *const *ceiling = (const char *const *)pol->enabled;
    if (ceiling != NULL && o->ignore_admin_policy) {
        if (pol->allow_host_override) {
            vp__log_write(ctx->log, VP_LEVEL_DEBUG, "core",
                          "the application ignores the enabled_providers of %s "
                          "(allow_host_override is set there)",
                          pol->path);
            for (char **e = pol->enabled; *e; e++)
                free(*e);
            free(pol->enabled);
            pol->enabled = NULL; /* no ceiling: the loader gives no "administrator" reason */
            ceiling = NULL;
        } else {
            vp__log_write(ctx->log, VP_LEVEL_WARN, "core",
                          "the application asks to ignore the administrator's configuration "
                          "%s, which does not allow it (allow_host_override): its "
                          "enabled_providers applies",
                          pol->path);
        }
    }
    *out = o->enabled_providers;
    if (ceiling == NULL)
        return 0;
    if (o->enabled_providers == NULL) {
        *out = ceiling;
        return 0;
    }
    size_t n = 0;
    for (const char *const *e = o->enabled_providers; *e; e++)
        n++;
    const char **list = calloc(n + 1, sizeof(*list));
    if (list == NULL)
        return VP_ENOMEM;
    size_t k = 0;
    for (const char *const *e = o->enabled_providers; *e; e++) {
        if (in_list(ceiling, *e))
            list[k++] = *e;
        else
            vp__log_write(ctx->log, VP_LEVEL_WARN, "core",
                          "provider '%s' is not enabled by the administrator's configuration "
                          "%s: it is not loaded",
                          *e, pol->path);
    }
    if (k == 0 && n > 0) {
        char want[256], allowed[256];
        join_names(want, sizeof(want), o->enabled_providers);
        join_names(allowed, sizeof(allowed), ceiling);
        /* An error, not a warning: every reference will fail (and `vaultplug providers`,
         * which hides warnings its table repeats, still says it). */
        vp__log_write(ctx->log, VP_LEVEL_ERROR, "core",
                      "no provider is enabled: the providers asked for (%s) are all outside "
                      "the administrator's enabled_providers (%s) in %s",
                      want, allowed[0] ? allowed : "none", pol->path);
    }
    *owned = list;
    *out = (const char *const *)list;
    return 0;
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const vp__provider *)a)->name, ((const vp__provider *)b)->name);
}

int vp_ctx_new(const vp_options *opts, vp_ctx **out, vp_error *err)
{
    vp_error_clear(err);
    *out = NULL;
    vp_options defaults, copy;
    if (opts == NULL) {
        vp_options_init(&defaults);
        opts = &defaults;
    }
    int rc = check_options(opts, &copy, err);
    if (rc != 0)
        return rc;
    opts = &copy; /* from here on, this library's layout */
    if (vp__secmem_init() != 0)
        return vp__err_set(err, NULL, VP_EINTERNAL, "cannot initialise libsodium");
    if (vp__http_global_init() != 0)
        return vp__err_set(err, NULL, VP_EINTERNAL, "cannot initialise libcurl");

    vp_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_mutex_init(&ctx->create_lock, NULL);
    vp__ctx_vault_init(ctx);
    if (vp__provcalls_init(ctx) != 0) {
        rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
        goto fail;
    }
    ctx->default_timeout_ms = opts->http_timeout_ms ? opts->http_timeout_ms : DEFAULT_TIMEOUT_MS;

    /* log_level 0 is "the default" like every zero field: WARN. */
    int level = opts->log_level ? opts->log_level : VP_LEVEL_WARN;
    rc = vp__log_new(opts->log_fn, opts->log_ud, level, &ctx->log);
    if (rc != 0) {
        vp__err_set(err, NULL, rc, "cannot create the logger");
        goto fail;
    }
    vp__http_opts hopts = {
        .ca_file = opts->ca_file,
        .ca_path = opts->ca_path,
        .proxy = opts->proxy,
        .default_timeout_ms = opts->http_timeout_ms,
        .connect_timeout_ms = opts->http_connect_timeout_ms,
        .max_response = opts->http_max_response,
    };
    rc = vp__http_new(&hopts, ctx->log, &ctx->http);
    if (rc != 0) {
        vp__err_set(err, NULL, rc, "cannot create the HTTP service");
        goto fail;
    }
    ctx->core_hc = (vp_host_ctx){
        .ctx = ctx,
        .source = "core",
        .log = ctx->log,
        .http = ctx->http,
        .wall_clock_ms = opts->wall_clock_ms,
        .monotonic_clock_ms = opts->monotonic_clock_ms,
        .clock_ud = opts->clock_ud,
        .open_url = opts->open_url,
        .notify = opts->notify,
        .ui_ud = opts->ui_ud,
        .fault = &ctx->fault,
    };
    vp__fault_set(&ctx->fault, opts->fail_alloc_after);

    vp__policy pol;
    rc = vp__policy_load(&pol, err);
    if (rc != 0)
        goto fail;
    const char *const *enabled = NULL;
    const char **owned = NULL;
    rc = effective_enabled(ctx, opts, &pol, &enabled, &owned);
    if (rc != 0) {
        vp__policy_free(&pol);
        vp__err_set(err, NULL, rc, NULL);
        goto fail;
    }
    vp__loader_cfg lc = {
        .plugin_dirs = opts->plugin_dirs,
        .ignore_env_plugin_path = opts->ignore_env_plugin_path,
        .no_default_plugin_dir = opts->no_default_plugin_dir,
        .enabled = enabled,
        .hc_template = &ctx->core_hc,
        .allow_provider_override = pol.allow_provider_override,
        .ceiling = (const char *const *)pol.enabled,
        .ceiling_src = pol.path,
    };
    rc = vp__loader_load(&lc, &ctx->providers, &ctx->n_providers);
    free(owned);
    ctx->isolate =
        opts->isolate_providers > 0 || (pol.isolate_providers && opts->isolate_providers == 0);
    if (pol.isolate_providers && opts->isolate_providers < 0) {
        ctx->isolate = !pol.allow_host_override;
        if (ctx->isolate)
            vp__log_write(ctx->log, VP_LEVEL_WARN, "core",
                          "the application asks not to isolate providers, but the "
                          "administrator's configuration %s requires it (isolate_providers) "
                          "and does not allow hosts to override it (allow_host_override)",
                          pol.path);
    }
    vp__policy_free(&pol);
    if (rc == 0 && ctx->isolate &&
        (rc = vp__iso_init(ctx, opts->ca_file, opts->ca_path, opts->proxy)) != 0) {
        vp__err_set(err, NULL, rc, NULL);
        goto fail;
    }
    if (rc != 0) {
        vp__err_set(err, NULL, rc, "cannot load providers: %s", vp_strerror(rc));
        goto fail;
    }
    /* The loader sorts already; keep the public promise here too. */
    qsort(ctx->providers, ctx->n_providers, sizeof(*ctx->providers), cmp_info);
    rc = vp__resolver_new(ctx, opts, &ctx->resolver, err); /* after the sort: indexes providers */
    if (rc != 0)
        goto fail;
    *out = ctx;
    return 0;
fail:
    vp_ctx_free(ctx);
    return rc;
}

void vp_ctx_free(vp_ctx *ctx)
{
    if (ctx == NULL)
        return;
    vp__resolver_free(ctx->resolver); /* wipes the cache */
    ctx->resolver = NULL;
    vp__iso_free(ctx); /* ends the helper processes */
    if (ctx->runners != NULL && vp__provcalls_fini(ctx) != 0) {
        /* A provider call that ignored its deadline is still running and may use anything
         * the context holds (instances, credentials, the provider, the log, HTTP): keep all
         * of it. docs/design.md, "Provider deadlines". */
        vp__log_write(ctx->log, VP_LEVEL_DEBUG, "core",
                      "vp_ctx_free: keeping the context's providers for abandoned calls");
        pthread_mutex_lock(&ctx->vault_lock); /* the vault handle is the caller's again */
        ctx->vault = NULL;
        pthread_mutex_unlock(&ctx->vault_lock);
        return;
    }
    vp__fetch_release_all(ctx);
    vp__ctx_vault_fini(ctx);
    vp__loader_unload(ctx->providers, ctx->n_providers);
    if (ctx->http != NULL)
        vp__http_free(ctx->http);
    if (ctx->log != NULL)
        vp__log_free(ctx->log);
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->create_lock);
    free(ctx);
}

void vp_mask(vp_ctx *ctx, const void *value, size_t len)
{
    if (value != NULL)
        vp__log_mask(ctx->log, value, len);
}
