/*
 * gcp_resp - what comes back from Secret Manager and the OAuth token endpoints: the access
 * payload (base64 + CRC32C of the decoded bytes), tokens, and the mapping of error bodies
 * (google.rpc.Status, OAuth errors, HTML pages) to vaultplug statuses.
 *
 * Bodies are untrusted: every length is bounded, and server text quoted in a message is cut
 * short and stripped of control characters. This file is also the fuzz target's subject.
 */
#include <stdio.h>
#include <string.h>

#include "gcp.h"

/* Quote at most 200 bytes of server text, printable ASCII only, into out. */
static void quote(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; s != NULL && i < n && k + 4 < cap && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s != NULL && n > 200 && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

void gcp_retry_after(const vp_host *h, vp_call *call, const char *value)
{
    uint32_t ms = h->http_retry_after_ms(call, value); /* seconds or an HTTP-date */
    if (ms > 0)
        h->call_set_retry_after(call, ms);
}

/* Decimal uint32 from a JSON string (proto3 int64) or number. 0, or -1 if malformed. */
static int crc_value(const vp_host *h, const vp_json *v, uint32_t *out)
{
    int64_t n;
    if (h->json_type(v) == VP_JSON_INT) {
        if (h->json_int(v, &n) != 0 || n < 0 || n > (int64_t)UINT32_MAX)
            return -1;
        *out = (uint32_t)n;
        return 0;
    }
    size_t len;
    const char *s = h->json_string(v, &len);
    if (s == NULL || len == 0 || len > 10)
        return -1;
    uint64_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
    }
    if (acc > UINT32_MAX)
        return -1;
    *out = (uint32_t)acc;
    return 0;
}

int gcp_parse_access(const vp_host *h, vp_call *call, const char *body, size_t len,
                     const char *what, char **value, size_t *value_len, char *version,
                     size_t version_cap)
{
    *value = NULL;
    *value_len = 0;
    if (version_cap > 0)
        version[0] = '\0';
    vp_json *root = NULL;
    if (h->json_parse(body, len, &root) != 0 || h->json_type(root) != VP_JSON_OBJECT) {
        h->json_free(root);
        return h->fail(call, VP_EPROTO, "%s: Secret Manager answered 200 without a JSON object",
                       what);
    }
    int rc = VP_OK;
    const vp_json *payload = h->json_get(root, "payload");
    const vp_json *data = h->json_get(payload, "data");
    const vp_json *crc = h->json_get(payload, "dataCrc32c");
    const vp_json *name = h->json_get(root, "name");
    size_t dlen = 0;
    const char *d = h->json_string(data, &dlen);
    /* proto3 JSON omits empty bytes, so a missing data member is an empty secret. */
    if ((payload != NULL && h->json_type(payload) != VP_JSON_OBJECT) ||
        (data != NULL && d == NULL) || (name != NULL && h->json_type(name) != VP_JSON_STRING)) {
        rc = h->fail(call, VP_EPROTO, "%s: malformed access response (payload/name)", what);
        goto out;
    }
    if (dlen > (GCP_VALUE_MAX + 2) / 3 * 4 + 64) {
        rc = h->fail(call, VP_EPROTO, "%s: payload larger than %u bytes", what, GCP_VALUE_MAX);
        goto out;
    }
    size_t cap = dlen * 3 / 4 + 4;
    char *buf = h->secure_malloc(cap);
    if (buf == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }
    size_t n = 0;
    if (dlen > 0 && h->b64_decode(d, dlen, VP_B64_STD, buf, cap - 1, &n) != 0) {
        h->secure_free(buf);
        rc = h->fail(call, VP_EPROTO, "%s: payload.data is not valid base64", what);
        goto out;
    }
    buf[n] = '\0';
    if (crc != NULL) {
        uint32_t want;
        if (crc_value(h, crc, &want) != 0) {
            h->secure_free(buf);
            rc = h->fail(call, VP_EPROTO, "%s: payload.dataCrc32c is not a CRC32C value", what);
            goto out;
        }
        if (h->crc32c(0, buf, n) != want) {
            h->secure_free(buf); /* wipes: a corrupted value must never be used */
            rc = h->fail(call, VP_EPROTO,
                         "%s: the payload failed its CRC32C check (corrupted in transit); the "
                         "value was discarded",
                         what);
            goto out;
        }
    }
    /* name = projects/N/[locations/L/]secrets/S/versions/V: report V. */
    const char *nm = h->json_string(name, NULL);
    const char *slash = nm ? strrchr(nm, '/') : NULL;
    if (slash != NULL && version_cap > 0 && strlen(slash + 1) < version_cap &&
        gcp_name_check('v', slash + 1) == 0)
        snprintf(version, version_cap, "%s", slash + 1);
    *value = buf;
    *value_len = n;
out:
    h->json_free(root);
    return rc;
}

int gcp_map_error(const vp_host *h, vp_call *call, long status, const char *retry_after,
                  const char *body, size_t len, const char *what)
{
    char msg[256] = "", st[48] = "";
    vp_json *root = NULL;
    if (body != NULL && len > 0 && h->json_parse(body, len, &root) == 0) {
        const vp_json *e = h->json_get(root, "error");
        size_t n = 0;
        const char *m = h->json_string(h->json_get(e, "message"), &n);
        if (m != NULL)
            quote(m, n, msg, sizeof(msg));
        const char *s = h->json_string(h->json_get(e, "status"), &n);
        if (s != NULL)
            quote(s, n, st, sizeof(st));
    }
    h->json_free(root);
    const int json = st[0] != '\0' || msg[0] != '\0';
    const char *sep = msg[0] ? ": " : "";

    switch (status) {
    case 400:
        if (strcmp(st, "FAILED_PRECONDITION") == 0)
            return h->fail(call, VP_ENOTFOUND,
                           "%s: the version is disabled or destroyed (FAILED_PRECONDITION)%s%s",
                           what, sep, msg);
        return h->fail(call, VP_EINVAL, "%s: rejected as invalid (%s)%s%s", what,
                       st[0] ? st : "HTTP 400", sep, msg);
    case 401:
        return h->fail(call, VP_EAUTH, "%s: the access token was rejected (%s)%s%s", what,
                       st[0] ? st : "HTTP 401", sep, msg);
    case 403:
        return h->fail(call, VP_EPERM,
                       "%s: permission denied (%s; the secret may also not exist)%s%s", what,
                       st[0] ? st : "HTTP 403", sep, msg);
    case 404:
        if (!json)
            return h->fail(call, VP_ENOTFOUND,
                           "%s: the endpoint answered 404 without a Google API error (wrong "
                           "endpoint or resource path?)",
                           what);
        return h->fail(call, VP_ENOTFOUND, "%s: not found%s%s", what, sep, msg);
    case 429:
        gcp_retry_after(h, call, retry_after);
        return h->fail(call, VP_ERATELIMIT, "%s: quota exceeded (%s)%s%s", what,
                       st[0] ? st : "HTTP 429", sep, msg);
    case 500:
    case 502:
    case 503:
    case 504:
        gcp_retry_after(h, call, retry_after);
        return h->fail(call, VP_EUNAVAIL, "%s: Secret Manager unavailable (HTTP %ld)%s%s", what,
                       status, sep, msg);
    default:
        return h->fail(call, VP_EPROTO, "%s: unexpected HTTP %ld from Secret Manager%s%s", what,
                       status, sep, msg);
    }
}

int gcp_parse_token(const vp_host *h, vp_call *call, const char *body, size_t len,
                    const char *source, char **token, size_t *token_len, int64_t *expires_in_s)
{
    *token = NULL;
    *token_len = 0;
    *expires_in_s = 3600;
    vp_json *root = NULL;
    if (h->json_parse(body, len, &root) != 0 || h->json_type(root) != VP_JSON_OBJECT) {
        h->json_free(root);
        return h->fail(call, VP_EPROTO, "%s: the token endpoint answered 200 without JSON", source);
    }
    int rc = VP_OK;
    size_t n = 0;
    const char *t = h->json_string(h->json_get(root, "access_token"), &n);
    const vp_json *exp = h->json_get(root, "expires_in");
    if (t == NULL || n == 0 || n >= GCP_TOKEN_MAX || memchr(t, '\0', n) != NULL) {
        rc = h->fail(call, VP_EPROTO, "%s: the token response has no usable access_token", source);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f) {
            rc = h->fail(call, VP_EPROTO, "%s: the access_token holds invalid characters", source);
            goto out;
        }
    if (exp != NULL) {
        /* Some servers send the number as a string: accept both. */
        int64_t e = -1;
        const char *es = h->json_string(exp, NULL);
        if (es != NULL) {
            e = 0;
            for (size_t i = 0; es[i] != '\0'; i++) {
                if (es[i] < '0' || es[i] > '9' || i > 9) {
                    e = -1;
                    break;
                }
                e = e * 10 + (es[i] - '0');
            }
            if (es[0] == '\0')
                e = -1;
        } else if (h->json_int(exp, &e) != 0) {
            double dd;
            e = h->json_double(exp, &dd) == 0 && dd >= 0 && dd < 1e9 ? (int64_t)dd : -1;
        }
        if (e < 0 || e > 1000000000) {
            rc = h->fail(call, VP_EPROTO, "%s: the token response has a malformed expires_in",
                         source);
            goto out;
        }
        *expires_in_s = e;
    }
    *token = h->secure_malloc(n + 1);
    if (*token == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }
    memcpy(*token, t, n);
    (*token)[n] = '\0';
    *token_len = n;
out:
    h->json_free(root);
    return rc;
}

int gcp_map_token_error(const vp_host *h, vp_call *call, long status, const char *retry_after,
                        const char *body, size_t len, const char *source)
{
    char err[64] = "", desc[256] = "";
    vp_json *root = NULL;
    if (body != NULL && len > 0 && h->json_parse(body, len, &root) == 0) {
        size_t n = 0;
        const vp_json *e = h->json_get(root, "error");
        const char *s = h->json_string(e, &n);
        if (s != NULL)
            quote(s, n, err, sizeof(err));
        else if (h->json_type(e) == VP_JSON_OBJECT) {
            /* Some Google endpoints answer with google.rpc.Status instead. */
            if ((s = h->json_string(h->json_get(e, "status"), &n)) != NULL)
                quote(s, n, err, sizeof(err));
            if ((s = h->json_string(h->json_get(e, "message"), &n)) != NULL)
                quote(s, n, desc, sizeof(desc));
        }
        if ((s = h->json_string(h->json_get(root, "error_description"), &n)) != NULL)
            quote(s, n, desc, sizeof(desc));
    }
    h->json_free(root);
    const char *sep = desc[0] ? ": " : "";
    if (status == 429 || status >= 500 || strcmp(err, "internal_failure") == 0 ||
        strcmp(err, "server_error") == 0 || strcmp(err, "temporarily_unavailable") == 0) {
        gcp_retry_after(h, call, retry_after);
        return h->fail(call, status == 429 ? VP_ERATELIMIT : VP_EUNAVAIL,
                       "%s: the token endpoint is unavailable (HTTP %ld%s%s)%s%s", source, status,
                       err[0] ? ", " : "", err, sep, desc);
    }
    if (status == 400 || status == 401 || status == 403)
        return h->fail(call, VP_EAUTH, "%s: the token request was refused (%s)%s%s", source,
                       err[0] ? err : "no OAuth error code", sep, desc);
    return h->fail(call, VP_EPROTO, "%s: unexpected HTTP %ld from the token endpoint%s%s", source,
                   status, sep, desc);
}
