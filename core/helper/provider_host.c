/*
 * vaultplug-provider-host DIR NAME TIMEOUT_MS - the helper process of isolate_providers
 * (docs/design.md, "Isolated providers"). It loads the one provider NAME from DIR with its own
 * copy of the library, which serves the provider's host services (HTTP, logging, environment,
 * files, clocks) in this process, and answers the host's requests on fd 3 (a socket; the
 * protocol is core/src/plugin/isoproto.h) until the host closes it. A crash in the provider
 * ends this process only; the host reports it and starts a new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <vaultplug/vaultplug.h>

#include "ctx.h"
#include "errint.h"
#include "hostctx.h"
#include "inputs.h"
#include "isoproto.h"
#include "jsonh.h"
#include "secmem.h"
#include "secret.h"

static void *plain_alloc(size_t n)
{
    return malloc(n);
}

static void *secure_alloc(size_t n)
{
    return vp__secmem_alloc(n);
}

static int reply_status(vpi_io *io, int rc, const vp_error *err)
{
    const char *msg = rc != 0 ? err->message : "";
    return vpi_put_u32(io, (uint32_t)(int32_t)rc) || vpi_put_str(io, msg, strlen(msg));
}

static void log_stderr(void *ud, int level, const char *source, const char *msg)
{
    (void)ud;
    (void)level;
    fprintf(stderr, "vaultplug: %s: %s\n", source, msg);
}

static int do_cred(vp_ctx *ctx, const char *name, vpi_io *io)
{
    char *cname = NULL, *type = NULL;
    uint32_t n = 0;
    vp_field *f = NULL;
    int rc = -1;
    if (vpi_get_str(io, VPI_STR_MAX, plain_alloc, &cname, NULL) != 0 ||
        vpi_get_str(io, VPI_STR_MAX, plain_alloc, &type, NULL) != 0 || vpi_get_u32(io, &n) != 0 ||
        n > 64 || (f = calloc(n ? n : 1, sizeof(*f))) == NULL)
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        char *k = NULL, *v = NULL;
        int a = vpi_get_str(io, VPI_STR_MAX, plain_alloc, &k, NULL);
        f[i].key = k;
        if (a != 0)
            goto out;
        a = vpi_get_str(io, VPI_STR_MAX, secure_alloc, &v, NULL);
        f[i].value = v;
        if (a != 0)
            goto out;
    }
    vp_cred_spec spec = {cname, type, f, n};
    vp_error err;
    int st = vp_cred_set(ctx, name, &spec, &err);
    rc = reply_status(io, st, &err);
out:
    for (uint32_t i = 0; f && i < n; i++) {
        free((char *)f[i].key);
        vp__secmem_free((char *)f[i].value); /* wiped */
    }
    free(f);
    free(cname);
    free(type);
    return rc;
}

/* A fetch request's reference view (isoproto.h), rebuilt as the host's provider call has it. */
typedef struct view_in {
    vp_ref v;
    char *s[5]; /* uri, scheme, credential, path, json_key */
    vp_kv *params;
    uint32_t n;
    vp_json *config;
} view_in;

static void view_free(view_in *w)
{
    for (int i = 0; i < 5; i++)
        free(w->s[i]);
    for (uint32_t i = 0; w->params && i < w->n; i++) {
        free((char *)w->params[i].key);
        free((char *)w->params[i].value);
    }
    free(w->params);
    vp__json_free(w->config);
}

/* -1: the stream is broken; VP_EINVAL / VP_ENOMEM: the view is not usable (stream intact). */
static int get_view(vpi_io *io, view_in *w)
{
    memset(w, 0, sizeof(*w));
    uint8_t present = 0;
    if (vpi_read(io, &present, 1) != 0)
        return -1;
    for (int i = 0; i < 5; i++)
        if (vpi_get_str(io, VPI_STR_MAX, plain_alloc, &w->s[i], NULL) != 0)
            return -1;
    if (vpi_get_u32(io, &w->n) != 0 || w->n > VPI_REF_PARAMS_MAX)
        return -1;
    w->params = calloc(w->n ? w->n : 1, sizeof(*w->params));
    if (w->params == NULL)
        return -1;
    for (uint32_t i = 0; i < w->n; i++) {
        char *k = NULL, *v = NULL;
        size_t vlen = 0;
        int a = vpi_get_str(io, VPI_STR_MAX, plain_alloc, &k, NULL);
        w->params[i].key = k;
        if (a != 0)
            return -1;
        a = vpi_get_str(io, VPI_STR_MAX, plain_alloc, &v, &vlen);
        w->params[i] = (vp_kv){k, v, vlen};
        if (a != 0)
            return -1;
    }
    char *cfg = NULL;
    size_t clen = 0;
    if (vpi_get_str(io, VPI_SECRET_MAX, plain_alloc, &cfg, &clen) != 0) {
        free(cfg);
        return -1;
    }
    int rc = 0;
    if ((present & VPI_REF_CONFIG) && vp__json_parse(cfg, clen, &w->config) != 0)
        rc = VP_EINVAL;
    free(cfg);
    const char **dst[5] = {&w->v.uri, &w->v.scheme, &w->v.credential, &w->v.path, &w->v.json_key};
    w->v.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_ref);
    for (int i = 0; i < 5; i++)
        *dst[i] = (present & (1u << i)) ? w->s[i] : NULL;
    w->v.params = w->params;
    w->v.n_params = w->n;
    w->v.config = w->config;
    return rc;
}

static int do_fetch(vp_ctx *ctx, const vp__provider *p, vpi_io *io)
{
    uint32_t tmo = 0;
    view_in w;
    if (vpi_get_u32(io, &tmo) != 0)
        return -1;
    int st = get_view(io, &w);
    if (st < 0) {
        view_free(&w);
        return -1;
    }
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_secret_out so;
    vp__secret_out_init(&so, hc);
    vp_error err;
    vp_error_clear(&err);
    uint32_t retry_after = 0;
    if (st != 0) {
        vp__err_set(&err, NULL, st, "%s: the host sent a reference this helper cannot read",
                    p->name);
    } else {
        int64_t deadline = tmo ? vp__host_monotonic_ms(hc) + tmo : -1;
        const char *cred = w.v.credential ? w.v.credential : "";
        st = vp__fetch_raw(ctx, p, cred, &w.v, deadline, &so, &retry_after, &err);
    }
    view_free(&w);
    int ok = st == 0;
    const char *version = ok ? so.version : "";
    /* What the provider has read here so far (its init included), for the host's record. */
    char **names = NULL;
    size_t n = 0;
    uint8_t known = vp__inputs_list(p->hc.inputs, &names, &n) == 0;
    int rc = reply_status(io, st, &err) || vpi_put_str(io, ok ? so.value : "", ok ? so.len : 0);
    vpi_buffer(io); /* the rest is not secret: one send */
    rc = rc || vpi_put_u32(io, ok ? so.ttl_s : 0) || vpi_put_i64(io, ok ? so.expiry_unix_ms : 0) ||
         vpi_put_str(io, version, strnlen(version, sizeof(so.version))) ||
         vpi_put_u32(io, retry_after) || vpi_write(io, &known, 1) || vpi_put_u32(io, (uint32_t)n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = vpi_put_str(io, names[i], strlen(names[i]));
    rc = vpi_flush(io) || rc;
    vp__inputs_list_free(names, n);
    vp__secret_out_clear(&so); /* wiped */
    return rc;
}

static int do_validate(vp_ctx *ctx, const char *name, vpi_io *io)
{
    char *cred = NULL;
    uint32_t tmo = 0;
    if (vpi_get_str(io, VPI_STR_MAX, plain_alloc, &cred, NULL) != 0 || vpi_get_u32(io, &tmo) != 0) {
        free(cred);
        return -1;
    }
    vp_error err;
    int st = vp_validate(ctx, name, cred, tmo, &err);
    free(cred);
    return reply_status(io, st, &err);
}

static int do_list(vp_ctx *ctx, const vp__provider *p, vpi_io *io)
{
    char *cred = NULL, *prefix = NULL;
    uint32_t tmo = 0;
    if (vpi_get_str(io, VPI_STR_MAX, plain_alloc, &cred, NULL) != 0 ||
        vpi_get_str(io, VPI_STR_MAX, plain_alloc, &prefix, NULL) != 0 ||
        vpi_get_u32(io, &tmo) != 0) {
        free(cred);
        free(prefix);
        return -1;
    }
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_list_out lo;
    vp__list_out_init(&lo);
    vp_error err;
    vp_error_clear(&err);
    int64_t deadline = tmo ? vp__host_monotonic_ms(hc) + tmo : -1;
    int st = vp__list_raw(ctx, p, cred, prefix, deadline, &lo, &err);
    free(cred);
    free(prefix);
    size_t n = st == 0 ? lo.n : 0;
    vpi_buffer(io); /* names, never values: one send */
    int rc = reply_status(io, st, &err) || vpi_put_u32(io, (uint32_t)n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = vpi_put_str(io, lo.names[i], strnlen(lo.names[i], VPI_STR_MAX));
    rc = vpi_flush(io) || rc;
    vp__list_out_clear(&lo);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DIR NAME TIMEOUT_MS (started by libvaultplug, not by hand)\n",
                argv[0]);
        return 2;
    }
    /* Secrets pass through here: no core file, no ptrace by the user's other processes. */
    prctl(PR_SET_DUMPABLE, 0);
    const char *dirs[] = {argv[1], NULL};
    const char *enabled[] = {argv[2], NULL};
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.enabled_providers = enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.cache_ttl_s = VP_CACHE_TTL_OFF; /* the host caches */
    o.retry_attempts = 1;             /* the host retries */
    o.http_timeout_ms = (uint32_t)strtoul(argv[3], NULL, 10);
    o.log_fn = log_stderr;
    vpi_io io = {.fd = VPI_HELPER_FD, .deadline = -1};
    vpi_io out = {.fd = VPI_HELPER_FD, .deadline = -1};
    /* The first request is init, with the host's HTTP options (the proxy URL may hold a
     * password: secure memory). */
    char op = 0, *ca_file = NULL, *ca_path = NULL, *proxy = NULL;
    if (vpi_read(&io, &op, 1) != 0 || op != VPI_INIT ||
        vpi_get_str(&io, VPI_STR_MAX, plain_alloc, &ca_file, NULL) != 0 ||
        vpi_get_str(&io, VPI_STR_MAX, plain_alloc, &ca_path, NULL) != 0 ||
        vpi_get_str(&io, VPI_STR_MAX, secure_alloc, &proxy, NULL) != 0)
        return 1;
    o.ca_file = ca_file[0] ? ca_file : NULL;
    o.ca_path = ca_path[0] ? ca_path : NULL;
    o.proxy = proxy[0] ? proxy : NULL;
    vp_ctx *ctx = NULL;
    vp_error err;
    int rc = vp_ctx_new(&o, &ctx, &err);
    vp__secmem_free(proxy); /* wiped; the library keeps its own copy */
    free(ca_file);
    free(ca_path);
    if (rc != 0) {
        (void)reply_status(&out, rc, &err); /* the host's init gets the reason */
        return 1;
    }
    ctx->isolate = 0; /* this process is the isolation, whatever the administrator's file says */
    ctx->in_helper = 1;
    rc = vp_provider_check(ctx, argv[2], &err);
    if (reply_status(&out, rc, &err) != 0 || rc != 0) {
        vp_ctx_free(ctx);
        return 1;
    }
    const vp__provider *p = vp__ctx_find_provider(ctx, argv[2]);
    for (;;) {
        if (vpi_read(&io, &op, 1) != 0)
            break; /* the host closed the connection */
        int bad;
        if (op == VPI_CRED) {
            bad = do_cred(ctx, argv[2], &io);
        } else if (op == VPI_FETCH) {
            bad = do_fetch(ctx, p, &io);
        } else if (op == VPI_LIST) {
            bad = do_list(ctx, p, &io);
        } else if (op == VPI_VALIDATE) {
            bad = do_validate(ctx, argv[2], &io);
        } else {
            bad = 1;
        }
        if (bad)
            break;
    }
    vp_ctx_free(ctx);
    return 0;
}
