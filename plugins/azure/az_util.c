/* az_util - small string helpers, the environment and the HTTP wrapper of the Azure provider
 * (string building, encoding and query parsing come from the host, SDK 1.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_int.h"

char *az_strndup(const vp_host *h, const char *s, size_t n)
{
    char *p = h->malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *az_secure_strndup(const vp_host *h, const char *s, size_t n)
{
    char *p = h->secure_malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void az_clean_line(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap == 0)
        return;
    for (; s != NULL && *s && *s != '\r' && *s != '\n' && n + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != 0x7f)
            out[n++] = (char)c;
    }
    out[n] = '\0';
}

int az_parse_i64(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = 0;
    if (s == NULL || *s == '\0')
        return -1;
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n >= 18)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

/* ---- environment ------------------------------------------------------------------------ */

static char *env_plain(const vp_host *h, vp_host_ctx *hc, const char *name)
{
    char *v = h->getenv(hc, name);
    char *p = NULL;
    if (v != NULL && v[0] != '\0')
        p = h->strdup(v);
    h->secure_free(v);
    return p;
}

static void strip_slash(char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
}

void az_env_load(const vp_host *h, vp_host_ctx *hc, az_env *e)
{
    memset(e, 0, sizeof(*e));
    e->authority = env_plain(h, hc, "AZURE_AUTHORITY_HOST");
    if (e->authority != NULL && strstr(e->authority, "://") == NULL) {
        /* azure-identity accepts a bare host name */
        char *full = h->malloc(strlen(e->authority) + 9);
        if (full != NULL)
            snprintf(full, strlen(e->authority) + 9, "https://%s", e->authority);
        h->free(e->authority);
        e->authority = full;
    }
    if (e->authority == NULL)
        e->authority = h->strdup(AZ_DEFAULT_AUTHORITY);
    strip_slash(e->authority);
    e->vault_url = env_plain(h, hc, "VAULTPLUG_AZURE_VAULT_URL");
    strip_slash(e->vault_url);
    e->ca_file = env_plain(h, hc, "VAULTPLUG_AZURE_CA_FILE");
    e->imds_host = env_plain(h, hc, "AZURE_POD_IDENTITY_AUTHORITY_HOST");
    if (e->imds_host == NULL)
        e->imds_host = h->strdup(AZ_IMDS_HOST);
    strip_slash(e->imds_host);
    char *ah = env_plain(h, hc, "VAULTPLUG_AZURE_ALLOW_HTTP");
    e->allow_http = ah != NULL && strcmp(ah, "1") == 0;
    h->free(ah);
}

void az_env_free(const vp_host *h, az_env *e)
{
    h->free(e->authority);
    h->free(e->vault_url);
    h->free(e->ca_file);
    h->free(e->imds_host);
    memset(e, 0, sizeof(*e));
}

int az_http(const vp_host *h, const az_env *e, vp_call *call, const char *method, const char *url,
            const vp_http_header *hdrs, size_t n_hdrs, const char *body, size_t body_len,
            int sensitive, int local_ok, uint32_t timeout_ms, vp_http_response **resp)
{
    *resp = NULL;
    if (sensitive && !local_ok && !e->allow_http && strncmp(url, "https://", 8) != 0)
        return h->fail(call, VP_EINVAL,
                       "azure: refusing to send a credential over plain http (%.128s); use https "
                       "(VAULTPLUG_AZURE_ALLOW_HTTP=1 is for tests only)",
                       url);
    vp_http_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    rq.method = method;
    rq.url = url;
    rq.headers = hdrs;
    rq.n_headers = n_hdrs;
    rq.body = body;
    rq.body_len = body_len;
    rq.flags = sensitive ? VP_HTTP_BODY_SECRET : 0;
    rq.ca_file = e->ca_file;
    rq.timeout_ms = timeout_ms;
    return h->http(call, &rq, resp);
}

const char *az_status_str(int rc)
{
    switch (rc) {
    case VP_ENOTFOUND:
        return "not found";
    case VP_EPERM:
        return "permission denied";
    case VP_ENETWORK:
        return "network error";
    case VP_ETIMEDOUT:
        return "timed out";
    case VP_ELIMIT:
        return "too large";
    case VP_ENOMEM:
        return "out of memory";
    case VP_EIO:
        return "input/output error";
    default:
        return "error";
    }
}
