/*
 * hc_parse.c - parsers of Vault and HCP Vault Secrets responses. Pure functions of (status,
 * body): no call, no network, so the fuzz target drives them directly. Messages quote server
 * error text (cleaned and capped) and identifiers, never a value from a secret's data.
 */
#include <stdio.h>
#include <string.h>

#include "hc.h"

static int parse_body(const vp_host *h, const char *body, size_t len, vp_json **j)
{
    *j = NULL;
    if (body == NULL || len == 0)
        return VP_EPROTO;
    return h->json_parse(body, len, j) == 0 ? VP_OK : VP_EPROTO;
}

/* First message of {"errors":[...]}, cleaned; "" when none. */
static void first_error(const vp_host *h, const vp_json *j, char *dst, size_t cap)
{
    dst[0] = '\0';
    const vp_json *errs = h->json_get(j, "errors");
    size_t n = h->json_len(errs);
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const char *s = h->json_string(h->json_at(errs, i), &l);
        if (s != NULL && l > 0) {
            hc_clean_msg(dst, cap, s, l);
            return;
        }
    }
}

int hc_vault_error(const vp_host *h, long status, const char *body, size_t len, const char *what,
                   hc_err *e)
{
    char m[160] = "";
    vp_json *j = NULL;
    if (parse_body(h, body, len, &j) == VP_OK)
        first_error(h, j, m, sizeof(m));
    h->json_free(j);
    const char *sep = m[0] ? ": " : "";
    switch (status) {
    case 400:
        return hc_errf(e, VP_EINVAL, "vault: bad request for '%s' (HTTP 400)%s%s", what, sep, m);
    case 401:
    case 403:
        return hc_errf(e, VP_EPERM, "vault: permission denied for '%s' (HTTP %ld)%s%s", what,
                       status, sep, m);
    case 404:
        return hc_errf(e, VP_ENOTFOUND, "vault: '%s' not found%s%s", what, sep, m);
    case 405:
        return hc_errf(e, VP_ENOTSUP, "vault: operation not supported on '%s'%s%s", what, sep, m);
    case 412:
        /* Eventual consistency (X-Vault-Index) or a missing request header on an agent: the
         * resolver retries. */
        return hc_errf(e, VP_EUNAVAIL, "vault: precondition failed for '%s' (HTTP 412)%s%s", what,
                       sep, m);
    case 429:
        return hc_errf(e, VP_ERATELIMIT, "vault: rate limited (HTTP 429)%s%s", sep, m);
    case 472:
    case 473:
    case 502:
    case 503:
    case 504:
        return hc_errf(e, VP_EUNAVAIL, "vault: service unavailable (HTTP %ld)%s%s", status, sep, m);
    default:
        if (status >= 500)
            return hc_errf(e, status == 501 ? VP_ENOTSUP : VP_EUNAVAIL,
                           "vault: server error (HTTP %ld)%s%s", status, sep, m);
        return hc_errf(e, VP_EPROTO, "vault: unexpected HTTP %ld for '%s'%s%s", status, what, sep,
                       m);
    }
}

/* The value as the user sees it: a string member raw, anything else as compact JSON. */
static int json_to_secret(const vp_host *h, const vp_json *v, hc_kv_result *out)
{
    size_t len;
    const char *s = h->json_string(v, &len);
    if (s != NULL) {
        out->value = h->secure_malloc(len + 1);
        if (out->value == NULL)
            return VP_ENOMEM;
        memcpy(out->value, s, len);
        out->value[len] = '\0';
        out->len = len;
        return VP_OK;
    }
    out->value = h->json_dump(v, &out->len);
    return out->value ? VP_OK : VP_ENOMEM;
}

int hc_select(const vp_host *h, const vp_json *obj, const char *key, const char *what,
              hc_kv_result *out, hc_err *e)
{
    if (h->json_type(obj) != VP_JSON_OBJECT)
        return hc_errf(e, VP_EPROTO, "'%s': the secret's data is not a JSON object", what);
    const vp_json *v = obj;
    if (key != NULL) {
        v = h->json_get(obj, key);
        if (v == NULL)
            return hc_errf(e, VP_ENOTFOUND, "'%s' has no key '%.128s'", what, key);
    }
    int rc = json_to_secret(h, v, out);
    return rc == VP_OK ? VP_OK : hc_errf(e, rc, "'%s': out of memory", what);
}

static void set_version(const vp_host *h, const vp_json *v, hc_kv_result *out)
{
    int64_t n;
    if (h->json_int(v, &n) == 0 && n >= 0)
        snprintf(out->version, sizeof(out->version), "%lld", (long long)n);
}

int hc_parse_kv(const vp_host *h, int kv_version, long status, const char *body, size_t len,
                const char *what, const char *key, hc_kv_result *out, hc_err *e)
{
    memset(out, 0, sizeof(*out));
    vp_json *j = NULL;
    int rc;
    if (status == 404 && kv_version == 2 && parse_body(h, body, len, &j) == VP_OK) {
        /* A deleted or destroyed version answers 404 with its metadata. */
        const vp_json *md = h->json_path(j, "data.metadata");
        if (h->json_type(md) == VP_JSON_OBJECT) {
            int destroyed = 0;
            int64_t ver = 0;
            (void)h->json_bool(h->json_get(md, "destroyed"), &destroyed);
            (void)h->json_int(h->json_get(md, "version"), &ver);
            const char *dt = h->json_string(h->json_get(md, "deletion_time"), NULL);
            char dtc[64] = "";
            if (dt != NULL)
                hc_clean_msg(dtc, sizeof(dtc), dt, strlen(dt));
            if (destroyed)
                rc = hc_errf(e, VP_ENOTFOUND, "vault: version %lld of '%s' was destroyed",
                             (long long)ver, what);
            else if (dtc[0] != '\0')
                rc = hc_errf(e, VP_ENOTFOUND, "vault: version %lld of '%s' was deleted at %s",
                             (long long)ver, what, dtc);
            else
                rc = hc_errf(e, VP_ENOTFOUND, "vault: version %lld of '%s' has no data",
                             (long long)ver, what);
            h->json_free(j);
            return rc;
        }
        h->json_free(j);
        j = NULL;
    }
    if (status == 404) {
        /* Vault says "Invalid path for a versioned K/V secrets engine" in warnings[]. */
        int versioned = 0;
        if (parse_body(h, body, len, &j) == VP_OK) {
            const vp_json *w = h->json_get(j, "warnings");
            for (size_t i = 0; i < h->json_len(w) && !versioned; i++) {
                const char *ws = h->json_string(h->json_at(w, i), NULL);
                versioned = ws != NULL && strstr(ws, "Invalid path for a versioned") != NULL;
            }
            h->json_free(j);
            j = NULL;
        }
        if (versioned)
            return hc_errf(e, VP_ENOTFOUND,
                           "vault: '%s' not found (the mount is KV version 2; read it with "
                           "kvVersion v2)",
                           what);
        return hc_errf(e, VP_ENOTFOUND, "vault: secret '%s' not found", what);
    }
    if (status != 200)
        return hc_vault_error(h, status, body, len, what, e);
    if (parse_body(h, body, len, &j) != VP_OK)
        return hc_errf(e, VP_EPROTO, "vault: response for '%s' is not JSON", what);
    const vp_json *data = h->json_get(j, "data");
    if (kv_version == 2) {
        const vp_json *md = h->json_get(data, "metadata");
        set_version(h, h->json_get(md, "version"), out);
        data = h->json_get(data, "data");
        if (h->json_type(data) == VP_JSON_NULL) {
            h->json_free(j);
            return hc_errf(e, VP_ENOTFOUND, "vault: version %s of '%s' was deleted",
                           out->version[0] ? out->version : "(latest)", what);
        }
    } else {
        int64_t ld;
        if (h->json_int(h->json_get(j, "lease_duration"), &ld) == 0 && ld > 0 && ld < UINT32_MAX)
            out->ttl_s = (uint32_t)ld;
    }
    if (h->json_type(data) != VP_JSON_OBJECT) {
        h->json_free(j);
        return hc_errf(e, VP_EPROTO, "vault: response for '%s' has no data object", what);
    }
    rc = hc_select(h, data, key, what, out, e);
    h->json_free(j);
    return rc;
}

int hc_parse_mount(const vp_host *h, long status, const char *body, size_t len, const char *what,
                   char **mount, int *version, hc_err *e)
{
    *mount = NULL;
    *version = 1;
    if (status != 200)
        return hc_vault_error(h, status, body, len, what, e);
    vp_json *j = NULL;
    if (parse_body(h, body, len, &j) != VP_OK)
        return hc_errf(e, VP_EPROTO, "vault: mount lookup for '%s' is not JSON", what);
    const vp_json *d = h->json_get(j, "data");
    const char *p = h->json_string(h->json_get(d, "path"), NULL);
    const char *type = h->json_string(h->json_get(d, "type"), NULL);
    const char *ver = h->json_string(h->json_path(d, "options.version"), NULL);
    int rc = VP_OK;
    if (p == NULL || p[0] == '\0' || strlen(p) > 1024) {
        rc = hc_errf(e, VP_EPROTO, "vault: mount lookup for '%s' names no mount", what);
    } else if (type != NULL && strcmp(type, "kv") != 0 && strcmp(type, "generic") != 0) {
        char t[48];
        hc_clean_msg(t, sizeof(t), type, strlen(type));
        rc = hc_errf(e, VP_ENOTSUP, "vault: '%s' is on a '%s' mount, not a KV secrets engine", what,
                     t);
    } else {
        *version = (ver != NULL && strcmp(ver, "2") == 0) ? 2 : 1;
        size_t n = strlen(p);
        *mount = h->malloc(n + 2);
        if (*mount == NULL) {
            rc = VP_ENOMEM;
        } else {
            memcpy(*mount, p, n + 1);
            if (p[n - 1] != '/')
                memcpy(*mount + n, "/", 2);
        }
    }
    h->json_free(j);
    return rc;
}

int hc_parse_auth(const vp_host *h, int lookup, long status, const char *body, size_t len,
                  int want_token, char **token, int64_t *ttl_s, int *renewable, hc_err *e)
{
    if (token != NULL)
        *token = NULL;
    *ttl_s = 0;
    *renewable = 0;
    if (status != 200)
        return hc_vault_error(h, status, body, len, lookup ? "auth/token/lookup-self" : "login", e);
    vp_json *j = NULL;
    if (parse_body(h, body, len, &j) != VP_OK)
        return hc_errf(e, VP_EPROTO, "vault: token response is not JSON");
    const vp_json *a = h->json_get(j, lookup ? "data" : "auth");
    int rc = VP_OK;
    if (h->json_type(a) != VP_JSON_OBJECT) {
        rc = hc_errf(e, VP_EPROTO, "vault: token response has no %s block",
                     lookup ? "data" : "auth");
        goto out;
    }
    int64_t t = 0;
    if (h->json_int(h->json_get(a, lookup ? "ttl" : "lease_duration"), &t) != 0 || t < 0)
        t = 0;
    *ttl_s = t;
    (void)h->json_bool(h->json_get(a, "renewable"), renewable);
    if (want_token && token != NULL) {
        size_t tl;
        const char *s = h->json_string(h->json_get(a, "client_token"), &tl);
        if (s == NULL || tl == 0 || tl >= HC_TOKEN_MAX) {
            rc = hc_errf(e, VP_EPROTO, "vault: login response has no client token");
            goto out;
        }
        *token = h->secure_malloc(tl + 1);
        if (*token == NULL) {
            rc = VP_ENOMEM;
            goto out;
        }
        memcpy(*token, s, tl + 1);
    }
out:
    h->json_free(j);
    return rc;
}

int hc_hcp_error(const vp_host *h, long status, const char *body, size_t len, const char *what,
                 hc_err *e)
{
    char m[160] = "";
    int64_t code = -1;
    vp_json *j = NULL;
    if (parse_body(h, body, len, &j) == VP_OK) {
        size_t l;
        const char *s = h->json_string(h->json_get(j, "message"), &l);
        if (s == NULL)
            s = h->json_string(h->json_get(j, "error_description"), &l);
        if (s != NULL)
            hc_clean_msg(m, sizeof(m), s, l);
        if (h->json_int(h->json_get(j, "code"), &code) != 0)
            code = -1;
    }
    h->json_free(j);
    const char *sep = m[0] ? ": " : "";
    if (status == 404 || code == 5)
        return hc_errf(e, VP_ENOTFOUND, "hcp: '%s' not found%s%s", what, sep, m);
    if (status == 401 || code == 16)
        return hc_errf(e, VP_EAUTH, "hcp: unauthenticated (HTTP %ld)%s%s", status, sep, m);
    if (status == 403 || code == 7)
        return hc_errf(e, VP_EPERM, "hcp: permission denied for '%s'%s%s", what, sep, m);
    if (status == 429 || code == 8)
        return hc_errf(e, VP_ERATELIMIT, "hcp: rate limited (HTTP %ld)%s%s", status, sep, m);
    if (status == 400 || code == 3)
        return hc_errf(e, VP_EINVAL, "hcp: bad request for '%s'%s%s", what, sep, m);
    if (status == 503 || status == 502 || status == 504 || code == 14)
        return hc_errf(e, VP_EUNAVAIL, "hcp: service unavailable (HTTP %ld)%s%s", status, sep, m);
    if (status >= 500)
        return hc_errf(e, VP_EUNAVAIL, "hcp: server error (HTTP %ld)%s%s", status, sep, m);
    return hc_errf(e, VP_EPROTO, "hcp: unexpected HTTP %ld for '%s'%s%s", status, what, sep, m);
}

int hc_parse_hcp_token(const vp_host *h, long status, const char *body, size_t len, char **token,
                       int64_t *expires_in, hc_err *e)
{
    *token = NULL;
    *expires_in = 0;
    if (status == 401 || status == 403 || status == 400) {
        hc_hcp_error(h, status, body, len, "oauth2/token", e);
        char m[HC_MSG_MAX];
        memcpy(m, e->msg, sizeof(m));
        m[200] = '\0';
        return hc_errf(e, VP_EAUTH, "hcp: client credentials rejected (HTTP %ld); %s", status, m);
    }
    if (status != 200)
        return hc_hcp_error(h, status, body, len, "oauth2/token", e);
    vp_json *j = NULL;
    if (parse_body(h, body, len, &j) != VP_OK)
        return hc_errf(e, VP_EPROTO, "hcp: token response is not JSON");
    size_t tl;
    const char *s = h->json_string(h->json_get(j, "access_token"), &tl);
    int rc = VP_OK;
    if (s == NULL || tl == 0 || tl >= HC_TOKEN_MAX) {
        rc = hc_errf(e, VP_EPROTO, "hcp: token response has no access_token");
    } else {
        int64_t ex = 0;
        if (h->json_int(h->json_get(j, "expires_in"), &ex) != 0 || ex < 0)
            ex = 0;
        *expires_in = ex;
        *token = h->secure_malloc(tl + 1);
        if (*token == NULL)
            rc = VP_ENOMEM;
        else
            memcpy(*token, s, tl + 1);
    }
    h->json_free(j);
    return rc;
}

int hc_parse_hcp_secret(const vp_host *h, long status, const char *body, size_t len,
                        const char *what, const char *key, hc_kv_result *out, hc_err *e)
{
    memset(out, 0, sizeof(*out));
    if (status != 200)
        return hc_hcp_error(h, status, body, len, what, e);
    vp_json *j = NULL;
    if (parse_body(h, body, len, &j) != VP_OK)
        return hc_errf(e, VP_EPROTO, "hcp: response for '%s' is not JSON", what);
    /* The version endpoint answers unwrapped; the latest-version one wraps in "secret". */
    const vp_json *s = h->json_get(j, "secret");
    if (h->json_type(s) != VP_JSON_OBJECT)
        s = j;
    const vp_json *sv = h->json_get(s, "static_version");
    const vp_json *rv = h->json_get(s, "rotating_version");
    const vp_json *dv = h->json_get(s, "dynamic_instance");
    const vp_json *old = h->json_get(s, "version"); /* API 2023-06-13 */
    int rc;
    if (h->json_type(sv) == VP_JSON_OBJECT) {
        set_version(h, h->json_get(sv, "version"), out);
        const vp_json *v = h->json_get(sv, "value");
        if (h->json_type(v) != VP_JSON_STRING)
            rc = hc_errf(e, VP_EPROTO, "hcp: '%s' has no value", what);
        else if (key != NULL)
            rc = hc_errf(e, VP_EINVAL, "hcp: '%s' is a static secret; it has no key '%.64s'", what,
                         key);
        else
            rc = json_to_secret(h, v, out);
    } else if (h->json_type(rv) == VP_JSON_OBJECT) {
        set_version(h, h->json_get(rv, "version"), out);
        rc = hc_select(h, h->json_get(rv, "values"), key, what, out, e);
    } else if (h->json_type(dv) == VP_JSON_OBJECT) {
        rc = hc_select(h, h->json_get(dv, "values"), key, what, out, e);
    } else if (h->json_type(old) == VP_JSON_OBJECT &&
               h->json_type(h->json_get(old, "value")) == VP_JSON_STRING) {
        set_version(h, h->json_get(old, "version"), out);
        rc = key ? hc_errf(e, VP_EINVAL, "hcp: '%s' has no key '%.64s'", what, key)
                 : json_to_secret(h, h->json_get(old, "value"), out);
    } else {
        rc = hc_errf(e, VP_EPROTO, "hcp: response for '%s' holds no secret version", what);
    }
    if (rc == VP_ENOMEM)
        hc_errf(e, rc, "hcp: out of memory");
    h->json_free(j);
    return rc;
}
