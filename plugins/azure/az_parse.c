/* az_parse - the Azure provider's parsers of untrusted input: WWW-Authenticate challenges, secret
 * identifiers, Key Vault bodies, token endpoint bodies and id tokens. No I/O; fuzzed by
 * fuzz/fuzz_azure.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_int.h"

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

static int copy_n(char *out, size_t cap, const char *s, size_t n)
{
    if (n + 1 > cap)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* Host part of an absolute http(s) URL (host->url_parse), lower-cased, without port. */
static int url_host(const vp_host *h, const char *url, char *out, size_t cap)
{
    vp_url *u = NULL;
    if (h->url_parse(NULL, url, VP_URL_HTTP_ONLY, &u) != 0)
        return -1;
    const char *host = h->url_get(u, VP_URL_HOST);
    int rc = copy_n(out, cap, host, strlen(host));
    h->url_free(u);
    for (char *c = out; rc == 0 && *c; c++)
        *c = lower(*c);
    return rc;
}

static int tenant_ok(const char *t)
{
    if (*t == '\0')
        return 0;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '.' || *t == '_'))
            return 0;
    return 1;
}

int az_parse_challenge(const vp_host *h, const char *header, az_challenge *out)
{
    char auth[512] = "", resource[AZ_SCOPE_MAX] = "", scope[AZ_SCOPE_MAX] = "";
    memset(out, 0, sizeof(*out));
    if (header == NULL)
        return VP_EPROTO;
    const char *p = header;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!ieq_n(p, "bearer", 6) || (p[6] != ' ' && p[6] != '\t'))
        return VP_EPROTO;
    p += 6;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *k = p;
        while (*p && *p != '=' && *p != ',' && *p != ' ')
            p++;
        size_t klen = (size_t)(p - k);
        if (*p != '=') {
            continue; /* a bare token: ignore */
        }
        p++;
        const char *v;
        size_t vlen;
        if (*p == '"') {
            v = ++p;
            while (*p && *p != '"')
                p++;
            vlen = (size_t)(p - v);
            if (*p == '"')
                p++;
        } else {
            v = p;
            while (*p && *p != ',' && *p != ' ')
                p++;
            vlen = (size_t)(p - v);
        }
        char *dst = NULL;
        size_t cap = 0;
        if ((klen == 13 && ieq_n(k, "authorization", 13)) ||
            (klen == 17 && ieq_n(k, "authorization_uri", 17))) {
            dst = auth;
            cap = sizeof(auth);
        } else if (klen == 8 && ieq_n(k, "resource", 8)) {
            dst = resource;
            cap = sizeof(resource);
        } else if (klen == 5 && ieq_n(k, "scope", 5)) {
            dst = scope;
            cap = sizeof(scope);
        } else if (klen == 6 && ieq_n(k, "claims", 6)) {
            out->has_claims = 1;
        }
        if (dst != NULL && copy_n(dst, cap, v, vlen) != 0)
            return VP_EPROTO;
    }
    /* tenant = last path segment of the authorization URL */
    size_t alen = strlen(auth);
    while (alen > 0 && auth[alen - 1] == '/')
        auth[--alen] = '\0';
    const char *slash = strrchr(auth, '/');
    if (alen == 0 || slash == NULL || strstr(auth, "://") == NULL ||
        slash < strstr(auth, "://") + 3)
        return VP_EPROTO;
    if (copy_n(out->tenant, sizeof(out->tenant), slash + 1, strlen(slash + 1)) != 0 ||
        !tenant_ok(out->tenant))
        return VP_EPROTO;
    if (scope[0] != '\0') {
        if (copy_n(out->scope, sizeof(out->scope), scope, strlen(scope)) != 0)
            return VP_EPROTO;
    } else if (resource[0] != '\0') {
        size_t rl = strlen(resource);
        while (rl > 0 && resource[rl - 1] == '/')
            resource[--rl] = '\0';
        if (rl == 0 || rl + 10 > sizeof(out->scope))
            return VP_EPROTO;
        memcpy(out->scope, resource, rl);
        memcpy(out->scope + rl, "/.default", 10);
    } else {
        return VP_EPROTO;
    }
    for (const char *c = out->scope; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return VP_EPROTO;
    if (url_host(h, out->scope, out->resource_host, sizeof(out->resource_host)) != 0)
        return VP_EPROTO;
    return 0;
}

int az_challenge_domain_ok(const az_challenge *c, const char *vault_host)
{
    size_t vl = strlen(vault_host), rl = strlen(c->resource_host);
    /* As the Azure SDKs do: the vault host must be a subdomain of the resource host, so a
     * challenge cannot make us fetch a token for someone else's API. */
    if (rl == 0 || rl + 1 >= vl)
        return 0;
    return vault_host[vl - rl - 1] == '.' && ieq_n(vault_host + vl - rl, c->resource_host, rl);
}

static const char *const vault_suffixes[] = {
    ".vault.azure.net",
    ".vault.azure.cn",
    ".vault.usgovcloudapi.net",
    ".vault.microsoftazure.de",
    NULL,
};

int az_vault_host_ok(const char *host)
{
    size_t n = strlen(host);
    for (const char *const *s = vault_suffixes; *s; s++) {
        size_t sl = strlen(*s);
        if (n <= sl || strcmp(host + n - sl, *s) != 0)
            continue;
        for (size_t i = 0; i < n - sl; i++) {
            char c = host[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return 0;
        }
        return 1;
    }
    return 0;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AZ_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-'))
            return 0;
    return 1;
}

static int version_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > AZ_VERSION_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

int az_parse_secret_uri(const char *s, int short_form, az_secret_id *out, char *why, size_t cap)
{
    memset(out, 0, sizeof(*out));
    const char *p = s;
    if (!short_form) {
        if (strncmp(p, "https://", 8) != 0) {
            snprintf(why, cap, "a secret identifier starts with https://");
            return VP_EINVAL;
        }
        p += 8;
    }
    size_t hl = strcspn(p, "/?#");
    if (hl == 0 || copy_n(out->host, sizeof(out->host), p, hl) != 0) {
        snprintf(why, cap, "no vault host");
        return VP_EINVAL;
    }
    for (char *c = out->host; *c; c++)
        *c = lower(*c);
    if (!az_vault_host_ok(out->host)) {
        snprintf(why, cap,
                 "'%.100s' is not a Key Vault host (NAME.vault.azure.net, .vault.azure.cn, "
                 ".vault.usgovcloudapi.net)",
                 out->host);
        return VP_EINVAL;
    }
    p += hl;
    if (!short_form) {
        if (strncmp(p, "/secrets/", 9) != 0) {
            snprintf(why, cap, "the path must be /secrets/NAME[/VERSION]");
            return VP_EINVAL;
        }
        p += 9;
    } else {
        if (*p != '/') {
            snprintf(why, cap, "the path must be VAULT-HOST/NAME[/VERSION]");
            return VP_EINVAL;
        }
        p++;
    }
    size_t end = strcspn(p, "?#");
    char rest[AZ_NAME_MAX + AZ_VERSION_MAX + 4];
    if (copy_n(rest, sizeof(rest), p, end) != 0) {
        snprintf(why, cap, "the secret name or version is too long");
        return VP_EINVAL;
    }
    size_t rl = strlen(rest);
    if (rl > 0 && rest[rl - 1] == '/')
        rest[--rl] = '\0';
    char *slash = strchr(rest, '/');
    if (slash != NULL) {
        *slash = '\0';
        if (strchr(slash + 1, '/') != NULL || !version_ok(slash + 1) ||
            copy_n(out->version, sizeof(out->version), slash + 1, strlen(slash + 1)) != 0) {
            snprintf(why, cap, "the secret version must be hexadecimal (32 characters)");
            return VP_EINVAL;
        }
    }
    if (!name_ok(rest)) {
        snprintf(why, cap, "secret names are 1-127 characters of 0-9 a-z A-Z -");
        return VP_EINVAL;
    }
    memcpy(out->name, rest, strlen(rest) + 1);
    return 0;
}

void az_parse_kv_error(const vp_host *h, const char *body, size_t len, az_kv_error *out)
{
    memset(out, 0, sizeof(*out));
    vp_json *root = NULL;
    if (body == NULL || len == 0 || h->json_parse(body, len, &root) != 0)
        return;
    const vp_json *e = h->json_get(root, "error");
    const char *s = h->json_string(h->json_get(e, "code"), NULL);
    az_clean_line(out->code, sizeof(out->code), s);
    s = h->json_string(h->json_get(e, "message"), NULL);
    az_clean_line(out->message, sizeof(out->message), s);
    const vp_json *in = h->json_get(e, "innererror");
    for (int depth = 0; in != NULL && depth < 8; depth++) {
        s = h->json_string(h->json_get(in, "code"), NULL);
        if (s != NULL)
            az_clean_line(out->inner, sizeof(out->inner), s);
        in = h->json_get(in, "innererror");
    }
    h->json_free(root);
}

int az_parse_secret_bundle(const vp_host *h, const char *body, size_t len, vp_json **root,
                           const char **value, size_t *value_len, char *version, size_t vcap,
                           int64_t *exp_unix)
{
    *root = NULL;
    *value = NULL;
    *value_len = 0;
    *exp_unix = 0;
    if (vcap > 0)
        version[0] = '\0';
    if (body == NULL || h->json_parse(body, len, root) != 0)
        return VP_EPROTO;
    if (h->json_type(*root) != VP_JSON_OBJECT)
        goto bad;
    *value = h->json_string(h->json_get(*root, "value"), value_len);
    if (*value == NULL)
        goto bad;
    const char *id = h->json_string(h->json_get(*root, "id"), NULL);
    if (id != NULL) {
        const char *sec = strstr(id, "/secrets/");
        const char *slash = sec ? strchr(sec + 9, '/') : NULL;
        if (slash != NULL && version_ok(slash + 1) && strlen(slash + 1) < vcap)
            memcpy(version, slash + 1, strlen(slash + 1) + 1);
    }
    int64_t exp = 0;
    if (h->json_int(h->json_path(*root, "attributes.exp"), &exp) == 0 && exp > 0)
        *exp_unix = exp;
    return 0;
bad:
    h->json_free(*root);
    *root = NULL;
    *value = NULL;
    return VP_EPROTO;
}

void az_token_resp_clear(const vp_host *h, az_token_resp *t)
{
    h->secure_free(t->access_token);
    h->secure_free(t->refresh_token);
    h->secure_free(t->id_token);
    memset(t, 0, sizeof(*t));
}

/* Integer member that may arrive as a JSON number or, from managed identity, a string. */
static int num_member(const vp_host *h, const vp_json *o, const char *key, int64_t *out)
{
    const vp_json *v = h->json_get(o, key);
    if (v == NULL)
        return -1;
    if (h->json_int(v, out) == 0)
        return *out >= 0 ? 0 : -1;
    const char *s = h->json_string(v, NULL);
    return s != NULL ? az_parse_i64(s, out) : -1;
}

int az_parse_token_resp(const vp_host *h, const char *body, size_t len, int64_t now_ms,
                        az_token_resp *out)
{
    memset(out, 0, sizeof(*out));
    vp_json *root = NULL;
    if (body == NULL || h->json_parse(body, len, &root) != 0)
        return VP_EPROTO;
    int rc = VP_EPROTO;
    if (h->json_type(root) != VP_JSON_OBJECT)
        goto out;
    const char *err = h->json_string(h->json_get(root, "error"), NULL);
    if (err != NULL) {
        out->has_error = 1;
        az_clean_line(out->error, sizeof(out->error), err);
        az_clean_line(out->error_desc, sizeof(out->error_desc),
                      h->json_string(h->json_get(root, "error_description"), NULL));
        rc = 0;
        goto out;
    }
    size_t n = 0;
    const char *at = h->json_string(h->json_get(root, "access_token"), &n);
    if (at == NULL || n == 0 || memchr(at, 0, n) != NULL)
        goto out;
    const char *tt = h->json_string(h->json_get(root, "token_type"), NULL);
    if (tt != NULL && strcmp(tt, "Bearer") != 0 && strcmp(tt, "bearer") != 0)
        goto out;
    out->access_token = az_secure_strndup(h, at, n);
    out->access_len = n;
    const char *rt = h->json_string(h->json_get(root, "refresh_token"), &n);
    if (rt != NULL && n > 0 && memchr(rt, 0, n) == NULL) {
        out->refresh_token = az_secure_strndup(h, rt, n);
        out->refresh_len = n;
    }
    int oom = out->access_token == NULL || (out->refresh_len > 0 && out->refresh_token == NULL);
    const char *it = h->json_string(h->json_get(root, "id_token"), &n);
    if (it != NULL && n > 0 && memchr(it, 0, n) == NULL) {
        out->id_token = az_secure_strndup(h, it, n);
        oom = oom || out->id_token == NULL;
    }
    if (oom) {
        az_token_resp_clear(h, out);
        rc = VP_ENOMEM;
        goto out;
    }
    int64_t v = 0;
    if (num_member(h, root, "expires_on", &v) == 0 && v > 0 && v < (int64_t)1 << 40)
        out->expires_at_ms = v * 1000;
    else if (num_member(h, root, "expires_in", &v) == 0 && v < (int64_t)1 << 32)
        out->expires_at_ms = now_ms + v * 1000;
    rc = 0;
out:
    h->json_free(root);
    return rc;
}

void az_id_token_claims(const vp_host *h, const char *jwt, char *account, size_t acap, char *tid,
                        size_t tcap)
{
    if (acap > 0)
        account[0] = '\0';
    if (tcap > 0)
        tid[0] = '\0';
    const char *d1 = jwt ? strchr(jwt, '.') : NULL;
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL || d2 - d1 - 1 > 16384)
        return;
    size_t n = (size_t)(d2 - d1 - 1), cap = n * 3 / 4 + 3, got = 0;
    char *buf = h->secure_malloc(cap);
    if (buf == NULL)
        return;
    vp_json *root = NULL;
    if ((h->b64_decode(d1 + 1, n, VP_B64_URL_NOPAD, buf, cap, &got) == 0 ||
         h->b64_decode(d1 + 1, n, VP_B64_URL, buf, cap, &got) == 0) &&
        h->json_parse(buf, got, &root) == 0) {
        static const char *const keys[] = {"preferred_username", "upn", "email", "unique_name",
                                           NULL};
        for (const char *const *k = keys; *k && acap > 0; k++) {
            const char *s = h->json_string(h->json_get(root, *k), NULL);
            if (s != NULL && *s) {
                az_clean_line(account, acap, s);
                break;
            }
        }
        const char *t = h->json_string(h->json_get(root, "tid"), NULL);
        if (t != NULL && tenant_ok(t) && tcap > 0)
            az_clean_line(tid, tcap, t);
    }
    h->json_free(root);
    h->secure_free(buf);
}
