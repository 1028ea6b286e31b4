/*
 * hc_util.c - small helpers of the hashicorp provider: strings, URL building, the one HTTP
 * wrapper (headers flagged secret, CA and skip-verify settings) and error reporting.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hc.h"

int hc_errf(hc_err *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return status;
}

char *hc_strdup_trim_slash(const vp_host *h, const char *s)
{
    char *d = h->strdup(s);
    if (d == NULL)
        return NULL;
    size_t n = strlen(d);
    while (n > 0 && d[n - 1] == '/')
        d[--n] = '\0';
    return d;
}

int hc_truthy(const char *v)
{
    if (v == NULL)
        return 0;
    return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0 ||
           strcmp(v, "True") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0;
}

int hc_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

void hc_clean_msg(char *dst, size_t cap, const char *src, size_t len)
{
    if (cap == 0)
        return;
    /* Room kept at the end: a folded space, one character, "..." and the NUL. */
    const size_t reserve = 6;
    size_t j = 0, i = 0;
    int space = 0;
    for (; i < len && j + reserve < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c <= 0x20 || c == 0x7f || c >= 0x80) {
            /* Vault's multi-error text is "1 error occurred:\n\t* msg\n\n": fold whitespace
             * and drop anything that is not printable ASCII. */
            space = 1;
            continue;
        }
        if (space && j > 0)
            dst[j++] = ' ';
        space = 0;
        dst[j++] = (char)c;
    }
    if (i < len && j + 4 <= cap) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j < cap ? j : cap - 1] = '\0';
}

int hc_http(const hc_inst *in, vp_call *call, const hc_req *rq, vp_http_response **resp)
{
    const vp_host *h = in->host;
    vp_http_header hdr[6];
    size_t n = 0;
    char *auth = NULL;
    if (rq->vault)
        hdr[n++] = (vp_http_header){"X-Vault-Request", "true", 0};
    if (rq->token != NULL) {
        if (rq->bearer) {
            size_t tl = strlen(rq->token);
            auth = h->secure_malloc(tl + 8);
            if (auth == NULL)
                return VP_ENOMEM;
            memcpy(auth, "Bearer ", 7);
            memcpy(auth + 7, rq->token, tl + 1);
            hdr[n++] = (vp_http_header){"Authorization", auth, VP_HTTP_HDR_SECRET};
        } else {
            hdr[n++] = (vp_http_header){"X-Vault-Token", rq->token, VP_HTTP_HDR_SECRET};
        }
    }
    if (rq->basic != NULL)
        hdr[n++] = (vp_http_header){"Authorization", rq->basic, VP_HTTP_HDR_SECRET};
    if (rq->namespace_ != NULL && rq->namespace_[0] != '\0')
        hdr[n++] = (vp_http_header){"X-Vault-Namespace", rq->namespace_, 0};
    if (rq->ctype != NULL)
        hdr[n++] = (vp_http_header){"Content-Type", rq->ctype, 0};
    hdr[n++] = (vp_http_header){"Accept", "application/json", 0};

    vp_http_request req;
    memset(&req, 0, sizeof(req));
    req.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    req.method = rq->method;
    req.url = rq->url;
    req.headers = hdr;
    req.n_headers = n;
    req.body = rq->body;
    req.body_len = rq->body_len;
    req.flags = rq->body_secret ? VP_HTTP_BODY_SECRET : 0;
    if (rq->vault) {
        /* VAULT_CACERT/VAULT_CAPATH/VAULT_SKIP_VERIFY concern the Vault server only. */
        if (in->skip_verify)
            req.flags |= VP_HTTP_INSECURE_SKIP_VERIFY;
        req.ca_file = in->ca_file;
        req.ca_path = in->ca_path;
    }
    int rc = h->http(call, &req, resp);
    h->secure_free(auth);
    return rc;
}

int hc_fail(const hc_inst *in, vp_call *call, int status, const hc_err *e)
{
    if (e->retry_after_ms > 0 && (status == VP_ERATELIMIT || status == VP_EUNAVAIL))
        in->host->call_set_retry_after(call, e->retry_after_ms);
    return in->host->fail(call, status, "%s", e->msg);
}
