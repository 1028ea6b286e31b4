/* az_token - access tokens for Key Vault: the per-instance cache and every way to obtain one
 * (refresh token, client secret, federated token file, managed identity through IMDS or App
 * Service). The caller holds no lock; az_get_token takes in->lock for the whole acquisition so
 * concurrent fetches share one token request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_int.h"

#define AZ_FED_TOKEN_MAX   (64u * 1024)
#define AZ_CHAIN_IMDS_MS   3000 /* chain probe: a machine without IMDS must not hang a fetch */
#define AZ_SIGN_IN_AGAIN   "sign in again: vaultplug login azure"
#define AZ_OIDC_SCOPES     " openid profile offline_access"
#define AZ_ASSERTION_TYPE  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define AZ_MI_API_VERSION  "2018-02-01"
#define AZ_APP_API_VERSION "2019-08-01"

/* Mask every token of a fresh response (before anything could print it). */
static void resp_mask(const vp_host *h, vp_host_ctx *hc, const az_token_resp *t)
{
    if (t->access_token)
        h->mask(hc, t->access_token, t->access_len);
    if (t->refresh_token)
        h->mask(hc, t->refresh_token, t->refresh_len);
}

static void resp_release(const vp_host *h, vp_host_ctx *hc, az_token_resp *t)
{
    if (t->access_token)
        h->unmask(hc, t->access_token, t->access_len);
    if (t->refresh_token)
        h->unmask(hc, t->refresh_token, t->refresh_len);
    az_token_resp_clear(h, t);
}

/* Parse a token body and map statuses. 0 with out->has_error for an OAuth error body (HTTP
 * 400/401) so callers can react to specific codes. */
static int token_response(const vp_host *h, vp_host_ctx *hc, vp_call *call, const char *what,
                          vp_http_response *resp, az_token_resp *out)
{
    long st = h->http_status(resp);
    size_t len = 0;
    const char *body = h->http_body(resp, &len);
    if (st == 429 || st >= 500) {
        uint32_t ra = h->http_retry_after_ms(call, h->http_header(resp, "Retry-After"));
        if (ra > 0)
            h->call_set_retry_after(call, ra);
        return h->fail(call, st == 429 ? VP_ERATELIMIT : VP_EUNAVAIL, "%s: HTTP %ld", what, st);
    }
    int rc = az_parse_token_resp(h, body, len, h->now_unix_ms(hc), out);
    if (rc == VP_ENOMEM)
        return rc;
    if (rc != 0)
        return h->fail(call, VP_EPROTO, "%s: unexpected response (HTTP %ld)", what, st);
    if (out->has_error)
        return 0;
    resp_mask(h, hc, out);
    if (st != 200) {
        resp_release(h, hc, out);
        return h->fail(call, VP_EPROTO, "%s: unexpected response (HTTP %ld)", what, st);
    }
    return 0;
}

int az_token_request(const vp_host *h, vp_host_ctx *hc, const az_env *e, vp_call *call,
                     const char *tenant, vp_sb *form, az_token_resp *out)
{
    memset(out, 0, sizeof(*out));
    if (h->sb_status(form) != 0)
        return VP_ENOMEM;
    vp_sb *url = h->sb_new(0, 0);
    h->sb_printf(url, "%s/", e->authority);
    h->sb_append_enc(url, tenant, strlen(tenant), 0);
    if (h->sb_append_str(url, "/oauth2/v2.0/token") != 0) {
        h->sb_free(url);
        return VP_ENOMEM;
    }
    size_t flen = 0;
    const char *ftext = h->sb_data(form, &flen);
    const vp_http_header hdrs[] = {
        {"Content-Type", "application/x-www-form-urlencoded", 0},
        {"Accept", "application/json", 0},
    };
    vp_http_response *resp = NULL;
    int rc =
        az_http(h, e, call, "POST", h->sb_data(url, NULL), hdrs, 2, ftext, flen, 1, 0, 0, &resp);
    h->sb_free(url);
    if (rc != 0)
        return rc;
    rc = token_response(h, hc, call, "Microsoft Entra ID token endpoint", resp, out);
    h->http_free(resp);
    return rc;
}

/* ---- cache ------------------------------------------------------------------------------- */

static void tok_drop(az_inst *in, size_t i)
{
    az_token *t = &in->toks[i];
    if (t->token != NULL) {
        in->host->unmask(in->hc, t->token, t->len);
        in->host->secure_free(t->token);
    }
    in->toks[i] = in->toks[--in->n_toks];
    memset(&in->toks[in->n_toks], 0, sizeof(az_token));
}

void az_tokens_clear(az_inst *in)
{
    while (in->n_toks > 0)
        tok_drop(in, in->n_toks - 1);
}

static az_token *tok_find(az_inst *in, const char *tenant, const char *scope)
{
    for (size_t i = 0; i < in->n_toks; i++)
        if (strcmp(in->toks[i].tenant, tenant) == 0 && strcmp(in->toks[i].scope, scope) == 0)
            return &in->toks[i];
    return NULL;
}

void az_token_put(az_inst *in, const char *tenant, const char *scope, const char *tok, size_t len,
                  int64_t exp_ms)
{
    if (strlen(tenant) >= AZ_TENANT_MAX || strlen(scope) >= AZ_SCOPE_MAX)
        return;
    char *copy = az_secure_strndup(in->host, tok, len);
    if (copy == NULL)
        return; /* a cache miss later, not an error */
    az_token *t = tok_find(in, tenant, scope);
    if (t != NULL) {
        tok_drop(in, (size_t)(t - in->toks));
    } else if (in->n_toks == AZ_MAX_TOKENS) {
        tok_drop(in, 0);
    }
    t = &in->toks[in->n_toks++];
    memset(t, 0, sizeof(*t));
    snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
    snprintf(t->scope, sizeof(t->scope), "%s", scope);
    in->host->mask(in->hc, copy, len);
    t->token = copy;
    t->len = len;
    t->exp_ms = exp_ms;
}

/* ---- acquisition ------------------------------------------------------------------------- */

static int fail_oauth(az_inst *in, vp_call *call, const az_token_resp *r, const char *what)
{
    const vp_host *h = in->host;
    if (in->kind == AZ_KIND_USER &&
        (strcmp(r->error, "invalid_grant") == 0 || strcmp(r->error, "interaction_required") == 0))
        return h->fail(call, VP_EAUTH,
                       "credential '%s' (%s): the sign-in is no longer valid; " AZ_SIGN_IN_AGAIN
                       " (%s: %.160s)",
                       in->cred_name, what, r->error, r->error_desc);
    if (strcmp(r->error, "temporarily_unavailable") == 0)
        return h->fail(call, VP_EUNAVAIL, "%s: %s: %s", what, r->error, r->error_desc);
    return h->fail(call, VP_EAUTH, "credential '%s' (%s) was rejected: %s: %s", in->cred_name, what,
                   r->error, r->error_desc);
}

/* Write a rotated refresh token and the new access token back to the credential store. */
static void persist_user(az_inst *in, vp_call *call, const az_token_resp *r)
{
    const vp_host *h = in->host;
    char exp[24];
    int rc = 0;
    if (r->refresh_token != NULL)
        rc = h->cred_update(call, "refresh_token", r->refresh_token, r->refresh_len);
    if (rc == 0)
        rc = h->cred_update(call, "access_token", r->access_token, r->access_len);
    if (rc == 0) {
        snprintf(exp, sizeof(exp), "%lld", (long long)(r->expires_at_ms / 1000));
        rc = h->cred_update(call, "expires_on", exp, strlen(exp));
    }
    if (rc == VP_ENOTSUP)
        h->log(in->hc, VP_LOG_DEBUG,
               "credential '%s': not from the credential store, the new "
               "refresh token lives for this session only",
               in->cred_name);
    else if (rc != 0)
        h->log(in->hc, VP_LOG_WARN, "credential '%s': could not save the refreshed sign-in (%s)",
               in->cred_name, az_status_str(rc));
}

static int acquire_user(az_inst *in, vp_call *call, const char *tenant, const char *scope,
                        az_token_resp *r)
{
    const vp_host *h = in->host;
    if (in->secret == NULL)
        return h->fail(call, VP_EAUTH, "credential '%s' has no refresh token; " AZ_SIGN_IN_AGAIN,
                       in->cred_name);
    vp_sb *form = h->sb_new(0, VP_SB_SECURE);
    char sc[AZ_SCOPE_MAX + 40];
    snprintf(sc, sizeof(sc), "%s%s", scope, AZ_OIDC_SCOPES);
    h->sb_append_param(form, "client_id", in->client_id);
    h->sb_append_param(form, "grant_type", "refresh_token");
    h->sb_append_param(form, "refresh_token", in->secret);
    h->sb_append_param(form, "scope", sc);
    int rc = az_token_request(h, in->hc, &in->env, call, tenant, form, r);
    h->sb_free(form);
    if (rc != 0)
        return rc;
    if (r->has_error)
        return fail_oauth(in, call, r, "refresh");
    if (r->refresh_token != NULL) {
        /* Rotate: the old refresh token is usually revoked by the issuer now. */
        char *nt = az_secure_strndup(h, r->refresh_token, r->refresh_len);
        if (nt != NULL) {
            h->mask(in->hc, nt, r->refresh_len);
            h->unmask(in->hc, in->secret, in->secret_len);
            h->secure_free(in->secret);
            in->secret = nt;
            in->secret_len = r->refresh_len;
        }
    }
    persist_user(in, call, r);
    return 0;
}

static int acquire_client(az_inst *in, vp_call *call, const char *scope, az_token_resp *r)
{
    const vp_host *h = in->host;
    vp_sb *form = h->sb_new(0, VP_SB_SECURE);
    h->sb_append_param(form, "client_id", in->client_id);
    h->sb_append_param(form, "grant_type", "client_credentials");
    h->sb_append_param(form, "scope", scope);
    if (in->kind == AZ_KIND_SECRET) {
        h->sb_append_param(form, "client_secret", in->secret);
    } else {
        /* Re-read every time: the kubelet rotates the projected token file. */
        char *assertion = NULL;
        size_t alen = 0;
        int rc = h->read_file(in->hc, call, in->token_file, AZ_FED_TOKEN_MAX, &assertion, &alen);
        if (rc != 0) {
            h->sb_free(form);
            return h->fail(call, rc == VP_ENOMEM ? rc : VP_EAUTH,
                           "credential '%s': cannot read the federated token file %.200s (%s)",
                           in->cred_name, in->token_file, az_status_str(rc));
        }
        while (alen > 0 && (assertion[alen - 1] == '\n' || assertion[alen - 1] == '\r' ||
                            assertion[alen - 1] == ' '))
            assertion[--alen] = '\0';
        h->mask(in->hc, assertion, alen);
        h->sb_append_param(form, "client_assertion_type", AZ_ASSERTION_TYPE);
        h->sb_append_param(form, "client_assertion", assertion);
        h->unmask(in->hc, assertion, alen);
        h->secure_free(assertion);
    }
    int rc = az_token_request(h, in->hc, &in->env, call, in->tenant, form, r);
    h->sb_free(form);
    if (rc != 0)
        return rc;
    if (r->has_error)
        return fail_oauth(in, call, r,
                          in->kind == AZ_KIND_SECRET ? "client secret" : "workload identity");
    return 0;
}

static int acquire_mi(az_inst *in, vp_call *call, const char *scope, az_token_resp *r)
{
    const vp_host *h = in->host;
    char resource[AZ_SCOPE_MAX];
    snprintf(resource, sizeof(resource), "%s", scope);
    size_t rl = strlen(resource);
    if (rl > 9 && strcmp(resource + rl - 9, "/.default") == 0)
        resource[rl - 9] = '\0';
    vp_sb *url = h->sb_new(0, 0);
    vp_http_header hdrs[2];
    size_t nh = 0;
    const char *what;
    if (in->kind == AZ_KIND_APPSERVICE) {
        what = "App Service managed identity endpoint";
        h->sb_printf(url, "%s%sapi-version=" AZ_APP_API_VERSION, in->identity_endpoint,
                     strchr(in->identity_endpoint, '?') ? "&" : "?");
        hdrs[nh++] = (vp_http_header){"X-IDENTITY-HEADER", in->secret, VP_HTTP_HDR_SECRET};
    } else {
        what = "managed identity (IMDS)";
        h->sb_printf(url, "%s/metadata/identity/oauth2/token?api-version=" AZ_MI_API_VERSION,
                     in->env.imds_host);
        hdrs[nh++] = (vp_http_header){"Metadata", "true", 0};
    }
    h->sb_append_param(url, "resource", resource);
    if (in->client_id != NULL)
        h->sb_append_param(url, "client_id", in->client_id);
    if (h->sb_status(url) != 0) {
        h->sb_free(url);
        return VP_ENOMEM;
    }
    vp_http_response *resp = NULL;
    uint32_t to = in->from_chain && in->kind == AZ_KIND_IMDS ? AZ_CHAIN_IMDS_MS : 0;
    int rc = az_http(h, &in->env, call, "GET", h->sb_data(url, NULL), hdrs, nh, NULL, 0, 1, 1, to,
                     &resp);
    h->sb_free(url);
    if (rc != 0) {
        if (in->from_chain && (rc == VP_ENETWORK || rc == VP_ETIMEDOUT))
            return h->fail(call, VP_EAUTH,
                           "no Azure credential found: AZURE_TENANT_ID/AZURE_CLIENT_ID/"
                           "AZURE_CLIENT_SECRET are not set, no workload identity, and the "
                           "managed identity endpoint did not answer (%s); sign in with "
                           "vaultplug login azure or store a credential",
                           az_status_str(rc));
        return rc;
    }
    long st = h->http_status(resp);
    rc = token_response(h, in->hc, call, what, resp, r);
    h->http_free(resp);
    if (rc != 0)
        return rc;
    if (r->has_error)
        return h->fail(call, VP_EAUTH, "%s refused (HTTP %ld): %s: %s", what, st, r->error,
                       r->error_desc);
    return 0;
}

int az_get_token(az_inst *in, vp_call *call, const char *tenant, const char *scope, int force,
                 char **tok, size_t *tok_len)
{
    const vp_host *h = in->host;
    *tok = NULL;
    *tok_len = 0;
    /* Service principals stay in their own tenant; managed identities have none to choose. */
    const char *t = "";
    if (in->kind == AZ_KIND_USER)
        t = (tenant != NULL && tenant[0]) ? tenant : in->tenant;
    else if (in->kind == AZ_KIND_SECRET || in->kind == AZ_KIND_WORKLOAD)
        t = in->tenant;
    if (strlen(t) >= AZ_TENANT_MAX || strlen(scope) >= AZ_SCOPE_MAX)
        return h->fail(call, VP_EINVAL, "azure: tenant or scope too long");

    pthread_mutex_lock(&in->lock);
    az_token *c = tok_find(in, t, scope);
    int64_t now = h->now_unix_ms(in->hc);
    if (c != NULL && (force || (c->exp_ms != 0 && now + AZ_EXPIRY_SKEW_MS >= c->exp_ms))) {
        tok_drop(in, (size_t)(c - in->toks));
        c = NULL;
    }
    int rc = 0;
    if (c == NULL) {
        az_token_resp r;
        memset(&r, 0, sizeof(r));
        switch (in->kind) {
        case AZ_KIND_USER:
            rc = acquire_user(in, call, t, scope, &r);
            break;
        case AZ_KIND_SECRET:
        case AZ_KIND_WORKLOAD:
            rc = acquire_client(in, call, scope, &r);
            break;
        default:
            rc = acquire_mi(in, call, scope, &r);
            break;
        }
        if (rc == 0) {
            az_token_put(in, t, scope, r.access_token, r.access_len, r.expires_at_ms);
            c = tok_find(in, t, scope);
            if (c == NULL) { /* could not cache (OOM): hand out the fresh token anyway */
                *tok = az_secure_strndup(h, r.access_token, r.access_len);
                *tok_len = r.access_len;
                rc = *tok ? 0 : VP_ENOMEM;
            }
        }
        resp_release(h, in->hc, &r);
    }
    if (rc == 0 && c != NULL) {
        *tok = az_secure_strndup(h, c->token, c->len);
        *tok_len = c->len;
        rc = *tok ? 0 : VP_ENOMEM;
    }
    pthread_mutex_unlock(&in->lock);
    return rc;
}
