/*
 * gcp_token - OAuth access tokens: the RS256 JWT bearer grant of a service-account key, the
 * refresh-token grant of user credentials, the metadata server, and the per-instance cache.
 *
 * The cache is refreshed GCP_REFRESH_MARGIN_MS before expiry under the instance lock, held
 * across the token request, so N threads that find the token stale cause one request.
 * Tokens, assertions and request bodies live in secure memory, are registered with the
 * redactor while they exist, and are wiped on every path.
 */
#include <stdio.h>
#include <string.h>

#include "gcp.h"

#define FORM_CT "application/x-www-form-urlencoded"

static const char *kind_name(gcp_kind k)
{
    switch (k) {
    case GCP_KIND_SERVICE_ACCOUNT:
        return "service account";
    case GCP_KIND_AUTHORIZED_USER:
        return "user credentials";
    case GCP_KIND_METADATA:
        return "metadata server";
    case GCP_KIND_ACCESS_TOKEN:
        return "access token";
    default:
        return "none";
    }
}

static int post_form(gcp_inst *in, vp_call *call, const char *url, const char *body, size_t len,
                     vp_http_response **resp)
{
    const vp_http_header hdrs[] = {{"Content-Type", FORM_CT, 0}, {"Accept", "application/json", 0}};
    vp_http_request rq = {.hdr = VP_ABI_HDR(vp_http_request)};
    rq.method = "POST";
    rq.url = url;
    rq.headers = hdrs;
    rq.n_headers = 2;
    rq.body = body;
    rq.body_len = len;
    rq.flags = VP_HTTP_BODY_SECRET;
    rq.max_response = GCP_RESPONSE_MAX;
    rq.ca_file = in->ca_file;
    return in->host->http(call, &rq, resp);
}

/* base64url (no padding) of data into a new secure string. */
static char *b64url(const vp_host *h, const void *data, size_t n)
{
    size_t cap = h->b64_encoded_len(n, VP_B64_URL_NOPAD);
    char *out = h->secure_malloc(cap);
    if (out != NULL && h->b64_encode(data, n, VP_B64_URL_NOPAD, out, cap) != 0) {
        h->secure_free(out);
        out = NULL;
    }
    return out;
}

static char *json_b64(const vp_host *h, vp_json *obj)
{
    size_t n = 0;
    char *text = h->json_dump(obj, &n);
    h->json_free(obj);
    if (text == NULL)
        return NULL;
    char *b = b64url(h, text, n);
    h->secure_free(text);
    return b;
}

/* The signed assertion "header.claims.signature" (secure memory), or NULL with rc set. */
static char *make_assertion(gcp_inst *in, vp_call *call, int *rc)
{
    const vp_host *h = in->host;
    const int64_t now = h->now_unix_ms(in->hc) / 1000;
    vp_json *hd = h->json_new_object(), *cl = h->json_new_object();
    *rc = VP_ENOMEM;
    if (hd == NULL || cl == NULL || h->json_set(hd, "alg", h->json_new_string("RS256", 5)) != 0 ||
        h->json_set(hd, "typ", h->json_new_string("JWT", 3)) != 0 ||
        (in->sa_key_id != NULL &&
         h->json_set(hd, "kid", h->json_new_string(in->sa_key_id, strlen(in->sa_key_id))) != 0) ||
        h->json_set(cl, "iss", h->json_new_string(in->sa_email, strlen(in->sa_email))) != 0 ||
        h->json_set(cl, "scope", h->json_new_string(GCP_SCOPE, strlen(GCP_SCOPE))) != 0 ||
        h->json_set(cl, "aud", h->json_new_string(in->token_uri, strlen(in->token_uri))) != 0 ||
        h->json_set(cl, "iat", h->json_new_int(now)) != 0 ||
        h->json_set(cl, "exp", h->json_new_int(now + 3600)) != 0) {
        h->json_free(hd);
        h->json_free(cl);
        return NULL;
    }
    char *h64 = json_b64(h, hd), *c64 = json_b64(h, cl);
    char *out = NULL, *sig64 = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    if (h64 == NULL || c64 == NULL)
        goto done;
    size_t hl = strlen(h64), cll = strlen(c64);
    size_t cap = hl + 1 + cll + 1 + 700; /* RSA-4096 signature: 683 base64url chars */
    out = h->secure_malloc(cap);
    if (out == NULL)
        goto done;
    memcpy(out, h64, hl);
    out[hl] = '.';
    memcpy(out + hl + 1, c64, cll + 1);
    *rc = h->sign_rs256(call, in->sa_pem, in->sa_pem_len, out, hl + 1 + cll, &sig, &sig_len);
    if (*rc != VP_OK) {
        *rc = h->fail(call, *rc == VP_EINVAL ? VP_EAUTH : *rc,
                      "%s: cannot sign with the service account's private_key (is it a PEM RSA "
                      "key?)",
                      in->origin);
        h->secure_free(out);
        out = NULL;
        goto done;
    }
    *rc = VP_ENOMEM;
    sig64 = b64url(h, sig, sig_len);
    if (sig64 == NULL || hl + 1 + cll + 1 + strlen(sig64) + 1 > cap) {
        h->secure_free(out);
        out = NULL;
        goto done;
    }
    out[hl + 1 + cll] = '.';
    memcpy(out + hl + 2 + cll, sig64, strlen(sig64) + 1);
    *rc = VP_OK;
done:
    if (sig != NULL) {
        h->memzero(sig, sig_len);
        h->free(sig);
    }
    h->secure_free(sig64);
    h->secure_free(h64);
    h->secure_free(c64);
    return out;
}

/* Build the grant's form body in a secure builder (release with sb_free). */
static int grant_body(gcp_inst *in, vp_call *call, vp_sb **body)
{
    const vp_host *h = in->host;
    int rc = VP_OK;
    vp_sb *b = h->sb_new(0, VP_SB_SECURE);
    if (b == NULL)
        return VP_ENOMEM;
    if (in->kind == GCP_KIND_SERVICE_ACCOUNT) {
        char *jwt = make_assertion(in, call, &rc);
        if (jwt == NULL) {
            h->sb_free(b);
            return rc;
        }
        size_t jl = strlen(jwt);
        h->mask(in->hc, jwt, jl);
        h->sb_append_param(b, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
        h->sb_append_param(b, "assertion", jwt);
        h->unmask(in->hc, jwt, jl);
        h->secure_free(jwt);
    } else {
        /* authorized_user: the refresh grant; every value form-encoded. */
        h->sb_append_param(b, "grant_type", "refresh_token");
        h->sb_append_param(b, "client_id", in->client_id);
        h->sb_append_param(b, "client_secret", in->client_secret);
        h->sb_append_param(b, "refresh_token", in->refresh_token);
    }
    if ((rc = h->sb_status(b)) != VP_OK) {
        h->sb_free(b);
        return rc;
    }
    *body = b;
    return VP_OK;
}

/* A rotated refresh token (rare): keep it, and persist it when the credential is stored. */
static void maybe_rotate(gcp_inst *in, vp_call *call, const char *body, size_t len)
{
    const vp_host *h = in->host;
    vp_json *root = NULL;
    if (h->json_parse(body, len, &root) != 0)
        return;
    size_t n = 0;
    const char *rt = h->json_string(h->json_get(root, "refresh_token"), &n);
    if (rt != NULL && n > 0 && n < GCP_TOKEN_MAX && memchr(rt, '\0', n) == NULL &&
        strcmp(rt, in->refresh_token) != 0 &&
        gcp_set_secret(in, &in->refresh_token, NULL, rt, n) == VP_OK) {
        int rc = h->cred_update(call, "refresh_token", rt, n);
        if (rc != VP_OK && rc != VP_ENOTSUP)
            h->log(in->hc, VP_LOG_WARN, "%s: could not store the rotated refresh token",
                   in->origin);
    }
    h->json_free(root);
}

static int metadata_get(gcp_inst *in, vp_call *call, const char *host_port, const char *path,
                        uint32_t timeout_ms, vp_http_response **resp)
{
    char url[GCP_URL_MAX];
    if ((size_t)snprintf(url, sizeof(url), "http://%s%s", host_port, path) >= sizeof(url))
        return in->host->fail(call, VP_EINVAL, "metadata server address too long");
    const vp_http_header hdrs[] = {{"Metadata-Flavor", "Google", 0}};
    vp_http_request rq = {.hdr = VP_ABI_HDR(vp_http_request)};
    rq.method = "GET";
    rq.url = url;
    rq.headers = hdrs;
    rq.n_headers = 1;
    rq.timeout_ms = timeout_ms;
    rq.max_response = GCP_RESPONSE_MAX;
    return in->host->http(call, &rq, resp);
}

static int flavor_ok(const vp_host *h, const vp_http_response *r)
{
    const char *f = h->http_header(r, "Metadata-Flavor");
    return f != NULL && strcmp(f, "Google") == 0;
}

/* Detect the metadata server once per instance (lock held). */
static int metadata_probe(gcp_inst *in, vp_call *call)
{
    const vp_host *h = in->host;
    if (in->md_probed)
        return in->md_available ? VP_OK : VP_EAUTH;
    if (in->no_gce_check) {
        in->md_probed = 1;
        return VP_EAUTH;
    }
    vp_http_response *r = NULL;
    int rc = metadata_get(in, call, in->md_ping_host, "/", in->md_timeout_ms, &r);
    if (rc == VP_ECANCELED || h->call_canceled(call)) {
        h->http_free(r);
        return rc != VP_OK ? rc : VP_ECANCELED;
    }
    in->md_probed = 1;
    in->md_available = rc == VP_OK && h->http_status(r) == 200 && flavor_ok(h, r);
    h->http_free(r);
    h->log(in->hc, VP_LOG_DEBUG, "metadata server at %s: %s", in->md_ping_host,
           in->md_available ? "available" : "not available");
    return in->md_available ? VP_OK : VP_EAUTH;
}

static int fail_no_adc(gcp_inst *in, vp_call *call)
{
    return in->host->fail(call, VP_EAUTH,
                          "no Application Default Credentials found: set "
                          "GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default "
                          "login`, or store a credential with `vaultplug cred add gcp` (no "
                          "metadata server answered at %s)",
                          in->md_ping_host);
}

/* Obtain a new token (lock held). */
static int fetch_token(gcp_inst *in, vp_call *call, char **tok, size_t *tok_len, int64_t *exp_s)
{
    const vp_host *h = in->host;
    vp_http_response *r = NULL;
    int rc;
    const char *src = in->origin ? in->origin : "gcp";
    if (in->kind == GCP_KIND_METADATA) {
        rc = metadata_probe(in, call);
        if (rc == VP_EAUTH)
            return fail_no_adc(in, call);
        if (rc != VP_OK)
            return rc;
        rc = metadata_get(in, call, in->md_host,
                          "/computeMetadata/v1/instance/service-accounts/default/token", 0, &r);
    } else {
        vp_sb *body = NULL;
        size_t len = 0;
        if ((rc = grant_body(in, call, &body)) != VP_OK)
            return rc;
        h->log(in->hc, VP_LOG_DEBUG, "%s: requesting an access token (%s) from %s", src,
               kind_name(in->kind), in->token_uri);
        const char *b = h->sb_data(body, &len);
        rc = post_form(in, call, in->token_uri, b, len, &r);
        h->sb_free(body);
    }
    if (rc != VP_OK)
        return rc;
    size_t blen = 0;
    const char *b = h->http_body(r, &blen);
    long st = h->http_status(r);
    if (in->kind == GCP_KIND_METADATA && !flavor_ok(h, r))
        rc = h->fail(call, VP_EPROTO,
                     "%s: the response lacks the Metadata-Flavor: Google header (not a metadata "
                     "server?)",
                     src);
    else if (st != 200)
        rc = gcp_map_token_error(h, call, st, h->http_header(r, "Retry-After"), b, blen, src);
    else
        rc = gcp_parse_token(h, call, b, blen, src, tok, tok_len, exp_s);
    if (rc == VP_OK && in->kind == GCP_KIND_AUTHORIZED_USER)
        maybe_rotate(in, call, b, blen);
    h->http_free(r);
    return rc;
}

int gcp_token_get(gcp_inst *in, vp_call *call, char **token, size_t *len)
{
    const vp_host *h = in->host;
    *token = NULL;
    *len = 0;
    if (in->kind == GCP_KIND_NONE)
        return h->fail(call, VP_EAUTH, "%s",
                       in->none_reason ? in->none_reason : "no credentials configured");
    if (in->kind == GCP_KIND_ACCESS_TOKEN) {
        *token = h->secure_strdup(in->static_token);
        *len = in->static_token_len;
        return *token ? VP_OK : VP_ENOMEM;
    }
    pthread_mutex_lock(&in->lock);
    int rc = VP_OK;
    int64_t now = h->monotonic_ms(in->hc);
    if (in->token == NULL || now >= in->token_expiry_ms) {
        char *t = NULL;
        size_t tl = 0;
        int64_t exp_s = 0;
        rc = fetch_token(in, call, &t, &tl, &exp_s);
        if (rc == VP_OK) {
            gcp_drop_secret(in, &in->token, in->token_len);
            in->token = t;
            in->token_len = tl;
            h->mask(in->hc, t, tl);
            /* Refresh early, but never so early that a short-lived token is always stale. */
            int64_t life = exp_s * 1000, margin = GCP_REFRESH_MARGIN_MS;
            if (margin > life / 2)
                margin = life / 2;
            in->token_expiry_ms = h->monotonic_ms(in->hc) + life - margin;
        }
    }
    if (rc == VP_OK) {
        *token = h->secure_strdup(in->token);
        *len = in->token_len;
        if (*token == NULL)
            rc = VP_ENOMEM;
    }
    pthread_mutex_unlock(&in->lock);
    return rc;
}

void gcp_token_invalidate(gcp_inst *in, const char *token, size_t len)
{
    if (in->kind == GCP_KIND_ACCESS_TOKEN || in->kind == GCP_KIND_NONE)
        return;
    pthread_mutex_lock(&in->lock);
    if (in->token != NULL && in->token_len == len &&
        in->host->memcmp_ct(in->token, token, len) == 0)
        gcp_drop_secret(in, &in->token, in->token_len);
    pthread_mutex_unlock(&in->lock);
}

int gcp_metadata_project(gcp_inst *in, vp_call *call, char *out, size_t cap)
{
    const vp_host *h = in->host;
    pthread_mutex_lock(&in->lock);
    int rc = VP_OK;
    if (in->md_project == NULL) {
        rc = metadata_probe(in, call);
        vp_http_response *r = NULL;
        if (rc == VP_OK)
            rc = metadata_get(in, call, in->md_host, "/computeMetadata/v1/project/project-id", 0,
                              &r);
        if (rc == VP_OK) {
            size_t n = 0;
            const char *b = h->http_body(r, &n);
            char tmp[128];
            if (h->http_status(r) == 200 && flavor_ok(h, r) && n > 0 && n < sizeof(tmp)) {
                memcpy(tmp, b, n);
                tmp[n] = '\0';
                if (gcp_name_check('p', tmp) == 0 &&
                    (in->md_project = gcp_strndup_plain(h, tmp, n)) == NULL)
                    rc = VP_ENOMEM;
            }
            if (rc == VP_OK && in->md_project == NULL)
                rc = h->fail(call, VP_EPROTO,
                             "the metadata server did not return a usable project id");
        } else if (rc == VP_EAUTH) {
            rc = VP_ENOTFOUND;
        }
        h->http_free(r);
    }
    if (rc == VP_OK)
        snprintf(out, cap, "%s", in->md_project);
    pthread_mutex_unlock(&in->lock);
    return rc;
}

int gcp_token_check_static(gcp_inst *in, vp_call *call)
{
    const vp_host *h = in->host;
    /* tokeninfo lives next to the token endpoint; the token goes in a POST body, never in the
     * URL, so that no proxy or server log sees it. */
    char url[GCP_URL_MAX];
    const char *slash = strrchr(in->token_uri, '/');
    size_t base = slash && slash > in->token_uri + 8 ? (size_t)(slash - in->token_uri)
                                                     : strlen(in->token_uri);
    if (base + 16 > sizeof(url))
        return h->fail(call, VP_EINVAL, "token_uri too long");
    memcpy(url, in->token_uri, base);
    memcpy(url + base, "/tokeninfo", 11);
    vp_sb *body = h->sb_new(0, VP_SB_SECURE);
    h->sb_append_param(body, "access_token", in->static_token);
    if (h->sb_status(body) != VP_OK) {
        h->sb_free(body);
        return VP_ENOMEM;
    }
    vp_http_response *r = NULL;
    size_t n = 0;
    const char *bd = h->sb_data(body, &n);
    int rc = post_form(in, call, url, bd, n, &r);
    h->sb_free(body);
    if (rc != VP_OK)
        return rc;
    long st = h->http_status(r);
    size_t blen = 0;
    const char *b = h->http_body(r, &blen);
    if (st != 200)
        rc =
            gcp_map_token_error(h, call, st, h->http_header(r, "Retry-After"), b, blen, in->origin);
    h->http_free(r);
    return rc;
}
