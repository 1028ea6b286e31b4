/*
 * hc_hcp.c - HCP Vault Secrets: OAuth2 client-credentials token (cached until shortly before
 * it expires) and the `:open` reads of one secret (latest or a given version).
 */
#include <stdio.h>
#include <string.h>

#include "hc.h"

static int64_t mono(const hc_inst *in)
{
    return in->host->monotonic_ms(in->hc);
}

static void drop(hc_inst *in)
{
    if (in->hcp_token != NULL) {
        in->host->unmask(in->hc, in->hcp_token, in->hcp_token_len);
        in->host->secure_free(in->hcp_token);
    }
    in->hcp_token = NULL;
    in->hcp_token_len = 0;
    in->hcp_exp_ms = 0;
}

void hc_hcp_forget_token(hc_inst *in)
{
    pthread_mutex_lock(&in->mu);
    drop(in);
    pthread_mutex_unlock(&in->mu);
}

/* Obtain a token (mu held). */
static int request_token(hc_inst *in, vp_call *call, hc_err *e)
{
    const vp_host *h = in->host;
    if ((in->client_id == NULL || in->client_secret == NULL) && in->hcp_noauth[0] != '\0')
        return hc_errf(e, VP_EAUTH, "%s", in->hcp_noauth);
    if (in->client_id == NULL || in->client_secret == NULL)
        return hc_errf(e, VP_EAUTH,
                       "hcp: no client credentials (credential type 'cloud' with client_id and "
                       "client_secret, or HCP_CLIENT_ID and HCP_CLIENT_SECRET)");
    /* application/x-www-form-urlencoded: '=' and '&' literal, names and values encoded. */
    vp_sb *body = h->sb_new(0, VP_SB_SECURE), *url = h->sb_new(HC_URL_MAX - 1, 0);
    const char *parts[][2] = {{"grant_type", "client_credentials"},
                              {"audience", HC_HCP_AUDIENCE},
                              {"client_id", in->client_id},
                              {"client_secret", in->client_secret}};
    for (size_t i = 0; i < 4; i++)
        h->sb_append_param(body, parts[i][0], parts[i][1]);
    h->sb_printf(url, "%s/oauth2/token", in->auth_url);
    if (h->sb_status(body) != 0 || h->sb_status(url) != 0) {
        h->sb_free(body);
        h->sb_free(url);
        return VP_ENOMEM;
    }
    hc_req rq = {0};
    rq.method = "POST";
    rq.url = h->sb_data(url, NULL);
    rq.ctype = "application/x-www-form-urlencoded";
    rq.body = h->sb_data(body, &rq.body_len);
    rq.body_secret = 1;
    vp_http_response *r = NULL;
    int rc = hc_http(in, call, &rq, &r);
    h->sb_free(body);
    h->sb_free(url);
    if (rc != VP_OK)
        return rc;
    size_t len;
    const char *rb = h->http_body(r, &len);
    char *tok = NULL;
    int64_t exp = 0;
    rc = hc_parse_hcp_token(h, h->http_status(r), rb, len, &tok, &exp, e);
    if (rc != VP_OK)
        e->retry_after_ms = h->http_retry_after_ms(call, h->http_header(r, "Retry-After"));
    h->http_free(r);
    if (rc != VP_OK)
        return rc;
    in->hcp_token = tok;
    in->hcp_token_len = strlen(tok);
    h->mask(in->hc, tok, in->hcp_token_len);
    if (exp > 0) {
        /* Refresh a little early: a tenth of the lifetime, at most a minute. */
        int64_t margin = exp * 100 > 60000 ? 60000 : exp * 100;
        in->hcp_exp_ms = mono(in) + exp * 1000 - margin;
    }
    h->log(in->hc, VP_LOG_DEBUG, "hcp: obtained an access token (expires in %lld s)",
           (long long)exp);
    return VP_OK;
}

static int get_token(hc_inst *in, vp_call *call, int force, char **tok, hc_err *e)
{
    int rc = VP_OK;
    *tok = NULL;
    pthread_mutex_lock(&in->mu);
    if (force || (in->hcp_token != NULL && in->hcp_exp_ms != 0 && mono(in) >= in->hcp_exp_ms))
        drop(in);
    if (in->hcp_token == NULL)
        rc = request_token(in, call, e);
    if (rc == VP_OK) {
        *tok = in->host->secure_strdup(in->hcp_token);
        if (*tok == NULL)
            rc = VP_ENOMEM;
    }
    pthread_mutex_unlock(&in->mu);
    return rc;
}

static vp_sb *open_url(const hc_inst *in, const hc_href *r)
{
    const vp_host *h = in->host;
    vp_sb *s = h->sb_new(HC_URL_MAX - 1, 0);
    h->sb_append_str(s, in->api_url);
    h->sb_append_str(s, "/secrets/" HC_HVS_API_VER "/organizations/");
    h->sb_append_enc(s, r->org, strlen(r->org), 0);
    h->sb_append_str(s, "/projects/");
    h->sb_append_enc(s, r->project, strlen(r->project), 0);
    h->sb_append_str(s, "/apps/");
    h->sb_append_enc(s, r->app, strlen(r->app), 0);
    h->sb_append_str(s, "/secrets/");
    h->sb_append_enc(s, r->name, strlen(r->name), 0);
    if (r->version > 0)
        h->sb_printf(s, "/versions/%llu", (unsigned long long)r->version);
    if (h->sb_append_str(s, ":open") != 0) {
        h->sb_free(s);
        return NULL;
    }
    return s;
}

int hc_hcp_fetch(hc_inst *in, vp_call *call, const hc_href *r, const char *uri, vp_secret_out *out)
{
    const vp_host *h = in->host;
    vp_sb *url = open_url(in, r);
    if (url == NULL)
        return h->fail(call, VP_ELIMIT, "hcp: URL for %s is too long", uri);
    char what[512];
    snprintf(what, sizeof(what), "%s/%s/%s/%s", r->org, r->project, r->app, r->name);
    hc_err e = {0};
    hc_kv_result res = {0};
    int rc = VP_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(&e, 0, sizeof(e));
        char *tok = NULL;
        rc = get_token(in, call, attempt > 0, &tok, &e);
        if (rc != VP_OK) {
            h->secure_free(tok);
            break;
        }
        hc_req rq = {0};
        rq.method = "GET";
        rq.url = h->sb_data(url, NULL);
        rq.token = tok;
        rq.bearer = 1;
        vp_http_response *resp = NULL;
        rc = hc_http(in, call, &rq, &resp);
        h->secure_free(tok);
        if (rc != VP_OK)
            break;
        size_t len;
        const char *rb = h->http_body(resp, &len);
        long st = h->http_status(resp);
        rc = hc_parse_hcp_secret(h, st, rb, len, what, r->key, &res, &e);
        if (rc != VP_OK)
            e.retry_after_ms = h->http_retry_after_ms(call, h->http_header(resp, "Retry-After"));
        h->http_free(resp);
        /* A token revoked or expired early: get a new one once. */
        if (rc != VP_EAUTH)
            break;
    }
    h->sb_free(url);
    if (rc != VP_OK) {
        if (e.msg[0] == '\0')
            return rc == VP_ENOMEM ? h->fail(call, rc, "hcp: out of memory") : rc;
        return hc_fail(in, call, rc, &e);
    }
    rc = h->secret_set(out, res.value, res.len);
    h->secure_free(res.value);
    if (rc != VP_OK)
        return h->fail(call, rc, "hcp: cannot store the value of %s", uri);
    if (res.version[0] != '\0')
        (void)h->secret_set_version(out, res.version);
    return VP_OK;
}

int hc_hcp_token(hc_inst *in, vp_call *call, int force, char **tok, hc_err *e)
{
    return get_token(in, call, force, tok, e);
}

int hc_hcp_validate(hc_inst *in, vp_call *call)
{
    hc_err e = {0};
    char *tok = NULL;
    int rc = get_token(in, call, 1, &tok, &e);
    in->host->secure_free(tok);
    if (rc == VP_OK)
        return VP_OK;
    if (e.msg[0] == '\0')
        return rc;
    return hc_fail(in, call, rc, &e);
}
