/*
 * rtmock - test-only provider for the resolver tests: fetch = host->http GET
 * <base>/secret/<path> against the mock server. The base URL comes from the credential field
 * `base` or, for the default chain, the RT_MOCK_BASE environment variable. Status mapping:
 * 200 -> the body, 404 -> VP_ENOTFOUND, 401 -> VP_EAUTH, 403 -> VP_EPERM, 429 -> VP_ERATELIMIT
 * (with Retry-After in seconds), 5xx -> VP_EUNAVAIL. `?ttl=N` sets the value's TTL hint. The
 * three-argument form uses the config field `name` as the path.
 *
 * Built with RT_BATCH it is "rtbatch" (VP_CAP_BATCH): fetch_batch GETs
 * <base>/batch/<path1>,<path2>,... once, expecting a JSON object path -> value; a path absent
 * from it fails with VP_ENOTFOUND.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vaultplug/provider.h"

static const vp_host *H;

typedef struct inst {
    vp_host_ctx *hc;
    char base[256];
} inst;

static int rt_init(const vp_host *host, vp_host_ctx *hc, void **out)
{
    H = host;
    *out = hc;
    return 0;
}

static int rt_configure(void *modp, const vp_cred *cred, vp_call *call, void **out)
{
    inst *in = H->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->hc = modp;
    for (size_t i = 0; i < cred->n_fields; i++)
        if (strcmp(cred->fields[i].key, "base") == 0)
            snprintf(in->base, sizeof(in->base), "%s", cred->fields[i].value);
    if (in->base[0] == '\0') {
        char *env = H->getenv(in->hc, "RT_MOCK_BASE");
        if (env != NULL)
            snprintf(in->base, sizeof(in->base), "%s", env);
        H->secure_free(env);
    }
    if (in->base[0] == '\0') {
        H->free(in);
        return H->fail(call, VP_EINVAL, "no base URL");
    }
    *out = in;
    return 0;
}

static const char *param(const vp_ref *ref, const char *key)
{
    for (size_t i = 0; i < ref->n_params; i++)
        if (strcmp(ref->params[i].key, key) == 0)
            return ref->params[i].value;
    return NULL;
}

static int rt_fetch(void *instp, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    inst *in = instp;
    const char *path = ref->path ? ref->path : param(ref, "name");
    if (path == NULL)
        return H->fail(call, VP_EINVAL, "no path");
    char url[1024];
    snprintf(url, sizeof(url), "%s/secret/%s", in->base, path);
    vp_http_request req;
    memset(&req, 0, sizeof(req));
    req.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    req.method = "GET";
    req.url = url;
    vp_http_response *resp = NULL;
    int rc = H->http(call, &req, &resp);
    if (rc != 0)
        return rc;
    long st = H->http_status(resp);
    size_t len = 0;
    const char *body = H->http_body(resp, &len);
    if (st == 200) {
        const char *ttl = param(ref, "ttl");
        if (ttl != NULL)
            H->secret_set_ttl(out, (uint32_t)strtoul(ttl, NULL, 10));
        rc = H->secret_set(out, body, len);
    } else if (st == 404) {
        rc = H->fail(call, VP_ENOTFOUND, "secret %s not found", path);
    } else if (st == 401) {
        rc = H->fail(call, VP_EAUTH, "unauthorized");
    } else if (st == 403) {
        rc = H->fail(call, VP_EPERM, "forbidden");
    } else if (st == 429) {
        const char *ra = H->http_header(resp, "Retry-After");
        if (ra != NULL)
            H->call_set_retry_after(call, (uint32_t)strtoul(ra, NULL, 10) * 1000u);
        rc = H->fail(call, VP_ERATELIMIT, "throttled");
    } else if (st >= 500) {
        rc = H->fail(call, VP_EUNAVAIL, "server error %ld", st);
    } else {
        rc = H->fail(call, VP_EPROTO, "unexpected status %ld", st);
    }
    H->http_free(resp);
    return rc;
}

#ifdef RT_BATCH
static int rt_fetch_batch(void *instp, vp_call *call, size_t n, const vp_ref *const *refs,
                          vp_secret_out *const *outs)
{
    inst *in = instp;
    char url[4096];
    size_t off = (size_t)snprintf(url, sizeof(url), "%s/batch/", in->base);
    for (size_t i = 0; i < n; i++) {
        if (refs[i]->path == NULL || off + strlen(refs[i]->path) + 2 >= sizeof(url))
            return H->fail(call, VP_ELIMIT, "batch too large");
        off += (size_t)snprintf(url + off, sizeof(url) - off, "%s%s", i ? "," : "", refs[i]->path);
    }
    vp_http_request req;
    memset(&req, 0, sizeof(req));
    req.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    req.method = "GET";
    req.url = url;
    vp_http_response *resp = NULL;
    int rc = H->http(call, &req, &resp);
    if (rc != 0)
        return rc;
    long st = H->http_status(resp);
    size_t len = 0;
    const char *body = H->http_body(resp, &len);
    vp_json *root = NULL;
    if (st >= 500)
        rc = H->fail(call, VP_EUNAVAIL, "server error %ld", st);
    else if (st != 200 || H->json_parse(body, len, &root) != 0)
        rc = H->fail(call, VP_EPROTO, "bad batch answer");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *v = H->json_string(H->json_get(root, refs[i]->path), &len);
        if (v == NULL)
            H->secret_fail(outs[i], VP_ENOTFOUND, "secret %s not found", refs[i]->path);
        else
            H->secret_set(outs[i], v, len);
    }
    H->json_free(root);
    H->http_free(resp);
    return rc;
}
#endif

static int rt_validate(void *instp, vp_call *call)
{
    (void)instp, (void)call;
    return 0;
}

static void rt_destroy(void *instp)
{
    H->free(instp);
}

static void rt_teardown(void *modp)
{
    (void)modp;
}

#ifdef RT_BATCH
#define RT_NAME "rtbatch"
#else
#define RT_NAME "rtmock"
#endif
static const char *const schemes[] = {RT_NAME, NULL};

static const vp_provider table = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = RT_NAME,
    .version = "0.0.1",
    .description = "resolver test provider (mock server)",
    .schemes = schemes,
#ifdef RT_BATCH
    .caps = VP_CAP_THREADSAFE | VP_CAP_BATCH,
    .fetch_batch = rt_fetch_batch,
#else
    .caps = VP_CAP_THREADSAFE,
#endif
    .init = rt_init,
    .configure = rt_configure,
    .fetch = rt_fetch,
    .validate = rt_validate,
    .destroy = rt_destroy,
    .teardown = rt_teardown,
};

VP_PROVIDER_ENTRY(table)
