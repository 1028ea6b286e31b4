/*
 * az_login - interactive sign-in for `vaultplug login azure`: authorization code + PKCE (S256)
 * with a loopback redirect listener (plain libc sockets on 127.0.0.1, random port), or the
 * device code flow for machines without a browser. The result is a "user" credential with the
 * refresh token, which the host seals in the credential store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "azure_int.h"

#define AZ_REQ_MAX        8192
#define AZ_CODE_MAX       4096
#define AZ_DEVICE_SCOPE   "https://vault.azure.net/user_impersonation offline_access openid profile"
#define AZ_DEVICE_GRANT   "urn:ietf:params:oauth:grant-type:device_code"
#define AZ_SLICE_MS       250
#define AZ_CLIENT_READ_MS 3000

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

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

static void html_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        const char *r = NULL;
        switch (*s) {
        case '<':
            r = "&lt;";
            break;
        case '>':
            r = "&gt;";
            break;
        case '&':
            r = "&amp;";
            break;
        case '"':
            r = "&quot;";
            break;
        default:
            break;
        }
        if (r != NULL) {
            memcpy(out + n, r, strlen(r));
            n += strlen(r);
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

static void reply(int fd, int status, const char *title, const char *text)
{
    char body[1200], esc[600], head[256];
    html_escape(esc, sizeof(esc), text);
    int bl = snprintf(body, sizeof(body),
                      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>vaultplug</title>"
                      "</head><body><h1>%s</h1><p>%s</p></body></html>",
                      title, esc);
    if (bl < 0 || (size_t)bl >= sizeof(body))
        bl = (int)strlen(body);
    int hl =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                 "Content-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                 status, status == 200 ? "OK" : (status == 404 ? "Not Found" : "Bad Request"), bl);
    send_all(fd, head, (size_t)hl);
    send_all(fd, body, (size_t)bl);
}

/* Read one request head (up to AZ_REQ_MAX) from a browser connection. */
static int read_request(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, AZ_CLIENT_READ_MS) <= 0)
            return -1;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
            return 0;
    }
    return -1;
}

typedef struct az_redirect {
    char code[AZ_CODE_MAX];
    char state[128];
    char error[64];
    char error_desc[AZ_MSG_MAX];
} az_redirect;

/* Serve the loopback listener until the browser brings back the redirect. */
static int await_redirect(const vp_host *h, vp_call *call, int lfd, const char *state,
                          az_redirect *rd)
{
    char *req = h->secure_malloc(AZ_REQ_MAX);
    if (req == NULL)
        return VP_ENOMEM;
    int rc = VP_ETIMEDOUT;
    for (;;) {
        if (h->call_canceled(call) || h->call_remaining_ms(call) == 0) {
            rc = h->call_remaining_ms(call) == 0 ? VP_ETIMEDOUT : VP_ECANCELED;
            break;
        }
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, AZ_SLICE_MS) <= 0)
            continue;
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        memset(rd, 0, sizeof(*rd));
        if (read_request(cfd, req, AZ_REQ_MAX) != 0) {
            close(cfd);
            continue;
        }
        if (strncmp(req, "GET /", 5) != 0) {
            reply(cfd, 400, "Bad request", "vaultplug only expects the sign-in redirect here.");
            close(cfd);
            continue;
        }
        char *target = req + 4;
        size_t tl = strcspn(target, " \r\n");
        target[tl] = '\0';
        char *q = strchr(target, '?');
        size_t pl = q ? (size_t)(q - target) : tl;
        if (pl != 1) { /* favicon.ico and the like */
            reply(cfd, 404, "Not found", "");
            close(cfd);
            continue;
        }
        const char *qs = q ? q + 1 : "";
        size_t ql = strlen(qs);
        int has_code = az_query_get(qs, ql, "code", rd->code, sizeof(rd->code)) == 0;
        int has_err = az_query_get(qs, ql, "error", rd->error, sizeof(rd->error)) == 0;
        int has_state = az_query_get(qs, ql, "state", rd->state, sizeof(rd->state)) == 0;
        if (!has_code && !has_err) {
            reply(cfd, 400, "Bad request", "The redirect carries neither a code nor an error.");
            close(cfd);
            continue;
        }
        if (has_code)
            h->mask(h->call_host_ctx(call), rd->code, strlen(rd->code));
        if (!has_state || strlen(rd->state) != strlen(state) ||
            h->memcmp_ct(rd->state, state, strlen(state)) != 0) {
            reply(cfd, 400, "Sign-in failed",
                  "The answer did not match this sign-in (state mismatch). Run vaultplug login "
                  "azure again.");
            close(cfd);
            rc = h->fail(call, VP_EAUTH,
                         "sign-in failed: the redirect's state did not match (a stale or forged "
                         "answer); run vaultplug login azure again");
            break;
        }
        if (has_err) {
            char d[AZ_MSG_MAX];
            (void)az_query_get(qs, ql, "error_description", d, sizeof(d));
            az_clean_line(rd->error_desc, sizeof(rd->error_desc), d);
            char e2[64];
            az_clean_line(e2, sizeof(e2), rd->error);
            char msg[AZ_MSG_MAX + 80];
            snprintf(msg, sizeof(msg), "%s: %s", e2, rd->error_desc);
            reply(cfd, 200, "Sign-in failed", msg);
            close(cfd);
            rc = h->fail(call, VP_EAUTH, "sign-in failed: %s", msg);
            break;
        }
        reply(cfd, 200, "Signed in",
              "You are signed in to vaultplug. You can close this window and return to the "
              "terminal.");
        close(cfd);
        rc = 0;
        break;
    }
    h->memzero(req, AZ_REQ_MAX);
    h->secure_free(req);
    return rc;
}

static int browser_flow(const vp_host *h, vp_host_ctx *hc, const az_env *e, const az_login_opts *o,
                        vp_call *call, az_token_resp *r)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        return h->fail(call, VP_EIO, "sign-in: cannot create the loopback listener");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 8) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        close(lfd);
        return h->fail(call, VP_EIO, "sign-in: cannot listen on 127.0.0.1");
    }
    unsigned port = ntohs(sa.sin_port);

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
    snprintf(redirect, sizeof(redirect), "http://localhost:%u", port);

    az_sb url;
    az_sb_init(&url, h, 0);
    az_sb_adds(&url, e->authority);
    az_sb_adds(&url, "/");
    az_sb_addenc(&url, o->tenant);
    az_sb_adds(&url, "/oauth2/v2.0/authorize?client_id=");
    az_sb_addenc(&url, o->client_id);
    az_sb_adds(&url, "&response_type=code&redirect_uri=");
    az_sb_addenc(&url, redirect);
    az_sb_adds(&url, "&response_mode=query&scope=");
    az_sb_addenc(&url, AZ_LOGIN_SCOPE);
    az_sb_adds(&url, "&state=");
    az_sb_adds(&url, state);
    az_sb_adds(&url, "&code_challenge=");
    az_sb_adds(&url, challenge);
    az_sb_adds(&url, "&code_challenge_method=S256&prompt=select_account");
    int rc = url.oom ? VP_ENOMEM : 0;
    az_redirect *rd = NULL;
    if (rc == 0 && strncmp(url.s, "https://", 8) != 0 && !e->allow_http)
        rc = h->fail(call, VP_EINVAL, "sign-in: the authority %.128s is not https", e->authority);
    if (rc == 0) {
        if (h->open_url(call, url.s) != 0) {
            size_t ml = url.len + 80;
            char *msg = h->malloc(ml);
            if (msg != NULL) {
                snprintf(msg, ml, "To sign in to Azure, open this URL in a browser:\n%s", url.s);
                h->notify(call, msg);
                h->free(msg);
            }
        }
        h->notify(call, "Waiting for the sign-in to finish in the browser...");
        rd = h->secure_malloc(sizeof(*rd));
        rc = rd ? await_redirect(h, call, lfd, state, rd) : VP_ENOMEM;
        if (rc == VP_ETIMEDOUT)
            rc = h->fail(call, VP_ETIMEDOUT, "sign-in: the browser did not come back in time");
        else if (rc == VP_ECANCELED)
            rc = h->fail(call, VP_ECANCELED, "sign-in canceled");
    }
    close(lfd);
    az_sb_free(&url);
    if (rc == 0) {
        az_sb form;
        az_sb_init(&form, h, 1);
        az_sb_param(&form, "client_id", o->client_id);
        az_sb_param(&form, "scope", AZ_LOGIN_SCOPE);
        az_sb_param(&form, "code", rd->code);
        az_sb_param(&form, "redirect_uri", redirect);
        az_sb_param(&form, "grant_type", "authorization_code");
        az_sb_param(&form, "code_verifier", verifier);
        rc = az_token_request(h, hc, e, call, o->tenant, &form, r);
        az_sb_free(&form);
        if (rc == 0 && r->has_error)
            rc = h->fail(call, VP_EAUTH, "sign-in: the code was not accepted: %s: %s", r->error,
                         r->error_desc);
    }
    if (rd != NULL) {
        if (rd->code[0])
            h->unmask(hc, rd->code, strlen(rd->code));
        h->memzero(rd, sizeof(*rd));
        h->secure_free(rd);
    }
    h->unmask(hc, verifier, strlen(verifier));
    h->memzero(verifier, sizeof(verifier));
    return rc;
}

static int device_flow(const vp_host *h, vp_host_ctx *hc, const az_env *e, const az_login_opts *o,
                       vp_call *call, az_token_resp *r)
{
    az_sb url, form;
    az_sb_init(&url, h, 0);
    az_sb_adds(&url, e->authority);
    az_sb_adds(&url, "/");
    az_sb_addenc(&url, o->tenant);
    az_sb_adds(&url, "/oauth2/v2.0/devicecode");
    az_sb_init(&form, h, 0);
    az_sb_param(&form, "client_id", o->client_id);
    az_sb_param(&form, "scope", AZ_DEVICE_SCOPE);
    if (url.oom || form.oom) {
        az_sb_free(&url);
        az_sb_free(&form);
        return VP_ENOMEM;
    }
    const vp_http_header hdrs[] = {
        {"Content-Type", "application/x-www-form-urlencoded", 0},
        {"Accept", "application/json", 0},
    };
    vp_http_response *resp = NULL;
    int rc = az_http(h, e, call, "POST", url.s, hdrs, 2, form.s, form.len, 1, 0, 0, &resp);
    az_sb_free(&url);
    az_sb_free(&form);
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
        az_sb_init(&form, h, 1);
        az_sb_param(&form, "grant_type", AZ_DEVICE_GRANT);
        az_sb_param(&form, "client_id", o->client_id);
        az_sb_param(&form, "device_code", device_code);
        rc = az_token_request(h, hc, e, call, o->tenant, &form, r);
        az_sb_free(&form);
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
