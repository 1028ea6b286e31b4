/*
 * az_login - interactive sign-in for `vaultplug login azure`: authorization code + PKCE (S256)
 * with the host's loopback redirect listener (host->loopback_*, 127.0.0.1, random port), or the
 * device code flow for machines without a browser. The result is a "user" credential with the
 * refresh token, which the host seals in the credential store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>

#include "azure_int.h"

#define AZ_DEVICE_SCOPE "https://vault.azure.net/user_impersonation offline_access openid profile"
#define AZ_DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define AZ_SLICE_MS     250

typedef struct az_login_opts {
    const char *tenant, *client_id, *authority;
    int device_code;
} az_login_opts;

/* Wait ms milliseconds in slices, returning early with VP_ECANCELED / VP_ETIMEDOUT. */
static int wait_ms(const vp_host *h, vp_call *call, int64_t ms)
{
    while (ms > 0) {
        if (h->call_canceled(call))
            return h->call_remaining_ms(call) == 0 ? VP_ETIMEDOUT : VP_ECANCELED;
        int64_t rem = h->call_remaining_ms(call);
        if (rem == 0)
            return VP_ETIMEDOUT;
        int64_t s = ms < AZ_SLICE_MS ? ms : AZ_SLICE_MS;
        if (rem > 0 && rem < s)
            s = rem;
        poll(NULL, 0, (int)s);
        ms -= s;
    }
    return 0;
}

static void b64url(const vp_host *h, const void *in, size_t n, char *out, size_t cap)
{
    if (h->b64_encode(in, n, VP_B64_URL_NOPAD, out, cap) != 0 && cap > 0)
        out[0] = '\0';
}

/* The redirect's query: the error the authority reported (consent declined, ...) as a failed
 * call, else the code (masked by the host) as a secure string in *code. */
static int redirect_result(const vp_host *h, vp_call *call, const char *q, char **code)
{
    size_t ql = strlen(q);
    char *err = NULL, *desc = NULL;
    if (h->url_query_get(q, ql, "error", &err, NULL) == 0) {
        char e1[64], d1[AZ_MSG_MAX];
        (void)h->url_query_get(q, ql, "error_description", &desc, NULL);
        az_clean_line(e1, sizeof(e1), err);
        az_clean_line(d1, sizeof(d1), desc ? desc : "");
        h->secure_free(err);
        h->secure_free(desc);
        return h->fail(call, VP_EAUTH, "sign-in failed: %s: %s", e1, d1);
    }
    int rc = h->url_query_get(q, ql, "code", code, NULL);
    if (rc == VP_ENOTFOUND || (rc == 0 && (*code)[0] == '\0'))
        rc = h->fail(call, VP_EAUTH, "sign-in failed: the redirect carries no code");
    return rc;
}

static int browser_flow(const vp_host *h, vp_host_ctx *hc, const az_env *e, const az_login_opts *o,
                        vp_call *call, az_token_resp *r)
{
    vp_loopback *lb = NULL;
    uint16_t port = 0;
    int rc = h->loopback_listen(call, "/", &lb, &port);
    if (rc != 0)
        return rc;

    unsigned char rnd[32], dig[32];
    char verifier[64], challenge[64], state[32], redirect[64];
    h->random(rnd, sizeof(rnd));
    b64url(h, rnd, sizeof(rnd), verifier, sizeof(verifier));
    h->sha256(verifier, strlen(verifier), dig);
    b64url(h, dig, sizeof(dig), challenge, sizeof(challenge));
    h->random(rnd, 16);
    b64url(h, rnd, 16, state, sizeof(state));
    h->memzero(rnd, sizeof(rnd));
    h->mask(hc, verifier, strlen(verifier));
    snprintf(redirect, sizeof(redirect), "http://localhost:%u", (unsigned)port);

    vp_sb *url = h->sb_new(0, 0);
    h->sb_printf(url, "%s/", e->authority);
    h->sb_append_enc(url, o->tenant, strlen(o->tenant), 0);
    h->sb_append_str(url, "/oauth2/v2.0/authorize?");
    h->sb_append_param(url, "client_id", o->client_id);
    h->sb_append_param(url, "response_type", "code");
    h->sb_append_param(url, "redirect_uri", redirect);
    h->sb_append_param(url, "response_mode", "query");
    h->sb_append_param(url, "scope", AZ_LOGIN_SCOPE);
    h->sb_append_param(url, "state", state);
    h->sb_append_param(url, "code_challenge", challenge);
    h->sb_append_param(url, "code_challenge_method", "S256");
    h->sb_append_param(url, "prompt", "select_account");
    rc = h->sb_status(url) != 0 ? VP_ENOMEM : 0;
    char *query = NULL, *code = NULL;
    if (rc == 0 && strncmp(h->sb_data(url, NULL), "https://", 8) != 0 && !e->allow_http)
        rc = h->fail(call, VP_EINVAL, "sign-in: the authority %.128s is not https", e->authority);
    if (rc == 0) {
        if (h->open_url(call, h->sb_data(url, NULL)) != 0) {
            vp_sb *msg = h->sb_new(0, 0);
            h->sb_printf(msg, "To sign in to Azure, open this URL in a browser:\n%s",
                         h->sb_data(url, NULL));
            if (h->sb_status(msg) == 0)
                h->notify(call, h->sb_data(msg, NULL));
            h->sb_free(msg);
        }
        h->notify(call, "Waiting for the sign-in to finish in the browser...");
        rc = h->loopback_wait(lb, call, state, &query, NULL);
        if (rc == 0)
            rc = redirect_result(h, call, query, &code);
    }
    h->loopback_close(lb);
    h->sb_free(url);
    if (rc == 0) {
        vp_sb *form = h->sb_new(0, VP_SB_SECURE);
        h->sb_append_param(form, "client_id", o->client_id);
        h->sb_append_param(form, "scope", AZ_LOGIN_SCOPE);
        h->sb_append_param(form, "code", code);
        h->sb_append_param(form, "redirect_uri", redirect);
        h->sb_append_param(form, "grant_type", "authorization_code");
        h->sb_append_param(form, "code_verifier", verifier);
        rc = az_token_request(h, hc, e, call, o->tenant, form, r);
        h->sb_free(form);
        if (rc == 0 && r->has_error)
            rc = h->fail(call, VP_EAUTH, "sign-in: the code was not accepted: %s: %s", r->error,
                         r->error_desc);
    }
    if (code != NULL) {
        h->unmask(hc, code, strlen(code)); /* masked by loopback_wait */
        h->secure_free(code);
    }
    h->secure_free(query);
    h->unmask(hc, verifier, strlen(verifier));
    h->memzero(verifier, sizeof(verifier));
    return rc;
}

static int device_flow(const vp_host *h, vp_host_ctx *hc, const az_env *e, const az_login_opts *o,
                       vp_call *call, az_token_resp *r)
{
    vp_sb *url = h->sb_new(0, 0), *form = h->sb_new(0, 0);
    h->sb_printf(url, "%s/", e->authority);
    h->sb_append_enc(url, o->tenant, strlen(o->tenant), 0);
    h->sb_append_str(url, "/oauth2/v2.0/devicecode");
    h->sb_append_param(form, "client_id", o->client_id);
    h->sb_append_param(form, "scope", AZ_DEVICE_SCOPE);
    if (h->sb_status(url) != 0 || h->sb_status(form) != 0) {
        h->sb_free(url);
        h->sb_free(form);
        return VP_ENOMEM;
    }
    const vp_http_header hdrs[] = {
        {"Content-Type", "application/x-www-form-urlencoded", 0},
        {"Accept", "application/json", 0},
    };
    vp_http_response *resp = NULL;
    size_t flen = 0;
    const char *ftext = h->sb_data(form, &flen);
    int rc =
        az_http(h, e, call, "POST", h->sb_data(url, NULL), hdrs, 2, ftext, flen, 1, 0, 0, &resp);
    h->sb_free(url);
    h->sb_free(form);
    if (rc != 0)
        return rc;
    long st = h->http_status(resp);
    size_t len = 0;
    const char *body = h->http_body(resp, &len);
    vp_json *root = NULL;
    if (h->json_parse(body, len, &root) != 0 || h->json_type(root) != VP_JSON_OBJECT) {
        h->json_free(root);
        h->http_free(resp);
        return h->fail(call, st >= 500 ? VP_EUNAVAIL : VP_EPROTO,
                       "sign-in: unexpected device code response (HTTP %ld)", st);
    }
    const char *err = h->json_string(h->json_get(root, "error"), NULL);
    size_t dlen = 0;
    const char *dc = h->json_string(h->json_get(root, "device_code"), &dlen);
    if (st != 200 || err != NULL || dc == NULL || dlen == 0 || memchr(dc, 0, dlen)) {
        char e1[64], d1[AZ_MSG_MAX];
        az_clean_line(e1, sizeof(e1), err ? err : "no device code");
        az_clean_line(d1, sizeof(d1), h->json_string(h->json_get(root, "error_description"), NULL));
        h->json_free(root);
        h->http_free(resp);
        return h->fail(call, VP_EAUTH, "sign-in: device code request failed (HTTP %ld): %s: %s", st,
                       e1, d1);
    }
    char *device_code = az_secure_strndup(h, dc, dlen);
    int64_t interval = 5, expires_in = 900;
    if (h->json_int(h->json_get(root, "interval"), &interval) != 0 || interval < 0 || interval > 60)
        interval = 5;
    if (h->json_int(h->json_get(root, "expires_in"), &expires_in) != 0 || expires_in <= 0)
        expires_in = 900;
    char msg[AZ_MSG_MAX];
    const char *m = h->json_string(h->json_get(root, "message"), NULL);
    if (m != NULL) {
        az_clean_line(msg, sizeof(msg), m);
    } else {
        char uc[64], vu[200];
        az_clean_line(uc, sizeof(uc), h->json_string(h->json_get(root, "user_code"), NULL));
        az_clean_line(vu, sizeof(vu), h->json_string(h->json_get(root, "verification_uri"), NULL));
        snprintf(msg, sizeof(msg), "To sign in, open %s and enter the code %s.", vu, uc);
    }
    h->json_free(root);
    h->http_free(resp);
    if (device_code == NULL)
        return VP_ENOMEM;
    h->mask(hc, device_code, dlen);
    h->notify(call, msg);
    /* Polling is silent: say that it goes on, for how long, and how to stop it. */
    char wait_msg[128];
    snprintf(wait_msg, sizeof(wait_msg),
             "Waiting for the sign-in to finish (the code expires in %lld min; Ctrl-C to "
             "cancel)...",
             (long long)((expires_in + 59) / 60));
    h->notify(call, wait_msg);

    int64_t start = h->monotonic_ms(hc);
    rc = VP_EAUTH;
    for (;;) {
        rc = wait_ms(h, call, interval * 1000);
        if (rc != 0) {
            rc = h->fail(call, rc,
                         rc == VP_ETIMEDOUT ? "sign-in: timed out waiting for the "
                                              "device code sign-in"
                                            : "sign-in canceled");
            break;
        }
        if (h->monotonic_ms(hc) - start > expires_in * 1000) {
            rc = h->fail(call, VP_EAUTH,
                         "sign-in: the device code expired; run vaultplug login "
                         "azure --device-code again");
            break;
        }
        vp_sb *pf = h->sb_new(0, VP_SB_SECURE);
        h->sb_append_param(pf, "grant_type", AZ_DEVICE_GRANT);
        h->sb_append_param(pf, "client_id", o->client_id);
        h->sb_append_param(pf, "device_code", device_code);
        rc = az_token_request(h, hc, e, call, o->tenant, pf, r);
        h->sb_free(pf);
        if (rc != 0 || !r->has_error)
            break;
        if (strcmp(r->error, "authorization_pending") == 0) {
            az_token_resp_clear(h, r);
            continue;
        }
        if (strcmp(r->error, "slow_down") == 0) {
            interval += 5;
            az_token_resp_clear(h, r);
            continue;
        }
        if (strcmp(r->error, "expired_token") == 0 || strcmp(r->error, "code_expired") == 0)
            rc = h->fail(call, VP_EAUTH,
                         "sign-in: the device code expired; run vaultplug login "
                         "azure --device-code again");
        else if (strcmp(r->error, "authorization_declined") == 0)
            rc = h->fail(call, VP_EAUTH, "sign-in: the sign-in was declined");
        else
            rc = h->fail(call, VP_EAUTH, "sign-in failed: %s: %s", r->error, r->error_desc);
        break;
    }
    h->unmask(hc, device_code, dlen);
    h->secure_free(device_code);
    return rc;
}

static const char *opt(const vp_kv *o, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].key != NULL && strcmp(o[i].key, key) == 0 && o[i].value != NULL &&
            o[i].value[0] != '\0')
            return o[i].value;
    return NULL;
}

static int ident_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.' || *s == '_'))
            return 0;
    return 1;
}

int az_login(void *mod, const vp_kv *options, size_t n_options, vp_call *call, vp_cred_out *out)
{
    az_mod *m = mod;
    const vp_host *h = m->host;
    az_login_opts o;
    o.tenant = opt(options, n_options, "tenant");
    o.client_id = opt(options, n_options, "client_id");
    o.authority = opt(options, n_options, "authority");
    const char *dc = opt(options, n_options, "device_code");
    o.device_code = dc != NULL && strcmp(dc, "0") != 0 && strcmp(dc, "false") != 0;
    for (size_t i = 0; i < n_options; i++) {
        const char *k = options[i].key ? options[i].key : "";
        if (strcmp(k, "tenant") && strcmp(k, "client_id") && strcmp(k, "authority") &&
            strcmp(k, "device_code"))
            return h->fail(call, VP_EINVAL,
                           "azure login: unknown option '%.64s' (known: tenant, client_id, "
                           "device_code, authority)",
                           k);
    }
    if (o.tenant == NULL)
        o.tenant = AZ_DEFAULT_TENANT;
    if (o.client_id == NULL)
        o.client_id = AZ_DEFAULT_CLIENT_ID;
    if (!ident_ok(o.tenant, AZ_TENANT_MAX - 1) || !ident_ok(o.client_id, 64))
        return h->fail(call, VP_EINVAL, "azure login: bad tenant or client id");

    az_env e;
    az_env_load(h, m->hc, &e);
    if (o.authority != NULL) {
        h->free(e.authority);
        e.authority = h->strdup(o.authority);
        size_t n = e.authority ? strlen(e.authority) : 0;
        while (n > 0 && e.authority[n - 1] == '/')
            e.authority[--n] = '\0';
    }
    if (e.authority == NULL || e.imds_host == NULL) {
        az_env_free(h, &e);
        return VP_ENOMEM;
    }
    az_token_resp r;
    memset(&r, 0, sizeof(r));
    int rc = o.device_code ? device_flow(h, m->hc, &e, &o, call, &r)
                           : browser_flow(h, m->hc, &e, &o, call, &r);
    if (rc == 0 && r.refresh_token == NULL)
        rc = h->fail(call, VP_EPROTO,
                     "sign-in: no refresh token came back (was offline_access granted?)");
    if (rc == 0) {
        char account[256], tid[AZ_TENANT_MAX], exp[24];
        az_id_token_claims(h, r.id_token, account, sizeof(account), tid, sizeof(tid));
        snprintf(exp, sizeof(exp), "%lld", (long long)(r.expires_at_ms / 1000));
        const char *tenant = tid[0] ? tid : o.tenant;
        rc = h->cred_out_type(out, "user");
        if (rc == 0 && account[0])
            rc = h->cred_out_field(out, "account", account, strlen(account), 0);
        if (rc == 0)
            rc = h->cred_out_field(out, "tenant", tenant, strlen(tenant), 0);
        if (rc == 0)
            rc = h->cred_out_field(out, "client_id", o.client_id, strlen(o.client_id), 0);
        if (rc == 0 && o.authority != NULL)
            rc = h->cred_out_field(out, "authority", e.authority, strlen(e.authority), 0);
        if (rc == 0)
            rc = h->cred_out_field(out, "refresh_token", r.refresh_token, r.refresh_len,
                                   VP_FIELD_SECRET);
        if (rc == 0)
            rc = h->cred_out_field(out, "access_token", r.access_token, r.access_len,
                                   VP_FIELD_SECRET);
        if (rc == 0 && r.expires_at_ms > 0)
            rc = h->cred_out_field(out, "expires_on", exp, strlen(exp), 0);
        if (rc == 0)
            h->log(m->hc, VP_LOG_INFO, "signed in to Azure as %s", account[0] ? account : "?");
    }
    if (r.access_token)
        h->unmask(m->hc, r.access_token, r.access_len);
    if (r.refresh_token)
        h->unmask(m->hc, r.refresh_token, r.refresh_len);
    az_token_resp_clear(h, &r);
    az_env_free(h, &e);
    return rc;
}
