/* mock_azure_entra - Microsoft Entra ID (authorize, token, devicecode) and managed identity (IMDS,
 * App Service) routes of the Azure mock. See mock_azure.h for what is verified. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "mock_azure_state.h"

#define FORM_MAX 4096

/* ---- helpers ------------------------------------------------------------------------------ */

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decoded form field (application/x-www-form-urlencoded); -1 if absent or too long. */
static int form_get(const char *body, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = body;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t n = 0;
            for (size_t i = kl + 1; i < len; i++) {
                int c = (unsigned char)p[i];
                if (c == '+')
                    c = ' ';
                else if (c == '%' && i + 2 < len && hexv(p[i + 1]) >= 0 && hexv(p[i + 2]) >= 0) {
                    c = hexv(p[i + 1]) * 16 + hexv(p[i + 2]);
                    i += 2;
                }
                if (n + 1 >= cap)
                    return -1;
                out[n++] = (char)c;
            }
            out[n] = '\0';
            return 0;
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

static void urlenc(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

static void b64url(const unsigned char *in, size_t n, char *out, size_t cap)
{
    unsigned char tmp[4096];
    if (4 * ((n + 2) / 3) + 1 > sizeof(tmp) || 4 * ((n + 2) / 3) + 1 > cap) {
        out[0] = '\0';
        return;
    }
    int len = EVP_EncodeBlock(tmp, in, (int)n);
    size_t j = 0;
    for (int i = 0; i < len; i++) {
        char c = (char)tmp[i];
        if (c == '=')
            break;
        out[j++] = c == '+' ? '-' : (c == '/' ? '_' : c);
    }
    out[j] = '\0';
}

static void oauth_error(mc_response *resp, int status, const char *error, int code,
                        const char *desc)
{
    char d[600], ts[32], trace[40], corr[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%SZ", &tm);
    maz_random_hex(trace, 16);
    maz_random_hex(corr, 16);
    snprintf(d, sizeof(d), "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
             code, desc, trace, corr, ts);
    json_object *o = json_object_new_object(), *codes = json_object_new_array();
    json_object_array_add(codes, json_object_new_int(code));
    json_object_object_add(o, "error", json_object_new_string(error));
    json_object_object_add(o, "error_description", json_object_new_string(d));
    json_object_object_add(o, "error_codes", codes);
    json_object_object_add(o, "timestamp", json_object_new_string(ts));
    json_object_object_add(o, "trace_id", json_object_new_string(trace));
    json_object_object_add(o, "correlation_id", json_object_new_string(corr));
    char uri[100];
    snprintf(uri, sizeof(uri), "https://login.microsoftonline.com/error?code=%d", code);
    json_object_object_add(o, "error_uri", json_object_new_string(uri));
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    resp->status = status;
    mc_resp_header(resp, "Content-Type", "application/json; charset=utf-8");
    mc_resp_body(resp, s, strlen(s));
    json_object_put(o);
}

const maz_token *maz_token_find(mock_azure *m, const char *tok)
{
    for (size_t i = 0; i < m->n_tokens; i++)
        if (strcmp(m->tokens[i].tok, tok) == 0)
            return &m->tokens[i];
    return NULL;
}

/* Audience of a scope list: the first resource scope without its /.default or permission. */
static int scope_aud(const char *scope, char *aud, size_t cap)
{
    const char *p = scope;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n > 8 && (strncmp(p, "https://", 8) == 0 || strncmp(p, "api://", 6) == 0)) {
            const char *slash = NULL;
            for (size_t i = 8; i < n; i++)
                if (p[i] == '/')
                    slash = p + i;
            size_t al = slash ? (size_t)(slash - p) : n;
            if (al + 1 > cap)
                return -1;
            memcpy(aud, p, al);
            aud[al] = '\0';
            return 0;
        }
        p += n;
    }
    return -1;
}

static const char *issue_access(mock_azure *m, const char *aud, int64_t *exp)
{
    maz_token *nt = realloc(m->tokens, (m->n_tokens + 1) * sizeof(*nt));
    if (nt == NULL)
        return NULL;
    m->tokens = nt;
    maz_token *t = &nt[m->n_tokens++];
    memset(t, 0, sizeof(*t));
    memcpy(t->tok, "mock-at-", 8);
    maz_random_hex(t->tok + 8, 24);
    snprintf(t->aud, sizeof(t->aud), "%s", aud);
    t->exp = (int64_t)time(NULL) + m->token_lifetime;
    *exp = t->exp;
    return t->tok;
}

static const char *issue_refresh(mock_azure *m, const char *client_id)
{
    maz_refresh *nr = realloc(m->refresh, (m->n_refresh + 1) * sizeof(*nr));
    if (nr == NULL)
        return NULL;
    m->refresh = nr;
    maz_refresh *r = &nr[m->n_refresh++];
    memset(r, 0, sizeof(*r));
    memcpy(r->tok, "mock-rt-", 8);
    maz_random_hex(r->tok + 8, 24);
    snprintf(r->client_id, sizeof(r->client_id), "%s", client_id);
    return r->tok;
}

static void id_token(mock_azure *m, const char *client_id, char *out, size_t cap)
{
    char hdr[64], pay[1024], js[768];
    const char *h = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"mock\"}";
    b64url((const unsigned char *)h, strlen(h), hdr, sizeof(hdr));
    snprintf(js, sizeof(js),
             "{\"aud\":\"%s\",\"iss\":\"https://login.microsoftonline.com/%s/v2.0\","
             "\"iat\":%lld,\"exp\":%lld,\"name\":\"Alice Example\",\"oid\":"
             "\"5b1f0f3e-8a3c-4c47-9d8e-2f1a6b7c9d0e\",\"preferred_username\":\"%s\","
             "\"tid\":\"%s\",\"ver\":\"2.0\"}",
             client_id, m->tenant, (long long)time(NULL), (long long)time(NULL) + 3600, m->user,
             m->tenant);
    b64url((const unsigned char *)js, strlen(js), pay, sizeof(pay));
    snprintf(out, cap, "%s.%s.bW9jay1zaWduYXR1cmU", hdr, pay);
}

/* 200 token body; user = with refresh + id token. mu held. */
static void token_ok(mock_azure *m, mc_response *resp, const char *scope, const char *client_id,
                     int user)
{
    char aud[160];
    if (scope_aud(scope, aud, sizeof(aud)) != 0) {
        oauth_error(resp, 400, "invalid_scope", 70011,
                    "The provided value for the input parameter 'scope' is not valid.");
        return;
    }
    int64_t exp = 0;
    const char *at = issue_access(m, aud, &exp);
    const char *rt = user ? issue_refresh(m, client_id) : NULL;
    if (at == NULL || (user && rt == NULL)) {
        oauth_error(resp, 500, "server_error", 90000, "out of memory");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    json_object_object_add(o, "scope", json_object_new_string(scope));
    json_object_object_add(o, "expires_in", json_object_new_int(m->token_lifetime));
    json_object_object_add(o, "ext_expires_in", json_object_new_int(m->token_lifetime));
    json_object_object_add(o, "access_token", json_object_new_string(at));
    if (user) {
        char idt[2048];
        id_token(m, client_id, idt, sizeof(idt));
        json_object_object_add(o, "refresh_token", json_object_new_string(rt));
        json_object_object_add(o, "id_token", json_object_new_string(idt));
    }
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    mc_resp_header(resp, "Content-Type", "application/json; charset=utf-8");
    mc_resp_header(resp, "Cache-Control", "no-store, no-cache");
    mc_resp_body(resp, s, strlen(s));
    json_object_put(o);
}

static int loopback_redirect(const char *r)
{
    return strncmp(r, "http://localhost:", 17) == 0 || strncmp(r, "http://127.0.0.1:", 17) == 0;
}

/* ---- /authorize --------------------------------------------------------------------------- */

static void authorize(mock_azure *m, const mc_request *req, mc_response *resp)
{
    const char *cid = mc_req_query(req, "client_id"), *rt = mc_req_query(req, "response_type"),
               *ru = mc_req_query(req, "redirect_uri"), *scope = mc_req_query(req, "scope"),
               *state = mc_req_query(req, "state"), *cc = mc_req_query(req, "code_challenge"),
               *ccm = mc_req_query(req, "code_challenge_method");
    (*maz_counter(m, "authorize"))++;
    if (cid == NULL || rt == NULL || strcmp(rt, "code") != 0 || ru == NULL ||
        !loopback_redirect(ru) || strlen(ru) >= sizeof(m->codes[0].redirect) || scope == NULL ||
        strstr(scope, "https://vault.azure.net/user_impersonation") == NULL ||
        strstr(scope, "offline_access") == NULL || state == NULL || cc == NULL ||
        strlen(cc) != 43 || ccm == NULL || strcmp(ccm, "S256") != 0) {
        oauth_error(resp, 400, "invalid_request", 900144,
                    "The request body must contain the required parameters (client_id, "
                    "response_type=code, loopback redirect_uri, scope, state, S256 "
                    "code_challenge).");
        return;
    }
    char loc[1024], es[256];
    urlenc(es, sizeof(es), state);
    if (m->consent == MOCK_AZ_CONSENT_DENY) {
        snprintf(loc, sizeof(loc),
                 "%s?error=access_denied&error_description=AADSTS65004%%3A+User+declined+to+"
                 "consent+to+access+the+app.&state=%s",
                 ru, es);
    } else {
        maz_code *nc = realloc(m->codes, (m->n_codes + 1) * sizeof(*nc));
        if (nc == NULL) {
            oauth_error(resp, 500, "server_error", 90000, "out of memory");
            return;
        }
        m->codes = nc;
        maz_code *c = &nc[m->n_codes++];
        memset(c, 0, sizeof(*c));
        memcpy(c->code, "mock-code-", 10);
        maz_random_hex(c->code + 10, 24);
        snprintf(c->client_id, sizeof(c->client_id), "%s", cid);
        snprintf(c->redirect, sizeof(c->redirect), "%s", ru);
        snprintf(c->challenge, sizeof(c->challenge), "%s", cc);
        snprintf(loc, sizeof(loc), "%s?code=%s&state=%s&session_state=%s", ru, c->code,
                 m->consent == MOCK_AZ_CONSENT_BAD_STATE ? "forged-state" : es,
                 "a9f1c2d3-0000-4000-8000-000000000001");
    }
    resp->status = 302;
    mc_resp_header(resp, "Location", loc);
    mc_resp_header(resp, "Content-Type", "text/html; charset=utf-8");
    mc_resp_bodyf(resp, "<html><body>Redirecting</body></html>");
}

/* ---- /token ------------------------------------------------------------------------------- */

static void grant_code(mock_azure *m, const char *body, mc_response *resp)
{
    char code[128], cid[128], ru[512], ver[256], scope[512];
    if (form_get(body, "code", code, sizeof(code)) ||
        form_get(body, "client_id", cid, sizeof(cid)) ||
        form_get(body, "redirect_uri", ru, sizeof(ru)) ||
        form_get(body, "code_verifier", ver, sizeof(ver)) ||
        form_get(body, "scope", scope, sizeof(scope))) {
        oauth_error(resp, 400, "invalid_request", 900144,
                    "The request body must contain code, client_id, redirect_uri, code_verifier "
                    "and scope.");
        return;
    }
    maz_code *c = NULL;
    for (size_t i = 0; i < m->n_codes; i++)
        if (strcmp(m->codes[i].code, code) == 0)
            c = &m->codes[i];
    if (c == NULL || c->used) {
        oauth_error(resp, 400, "invalid_grant", 70008,
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity.");
        return;
    }
    c->used = 1; /* single use, even when the rest fails */
    if (strcmp(c->client_id, cid) != 0) {
        oauth_error(resp, 400, "invalid_grant", 70002, "The client does not match the code.");
        return;
    }
    if (strcmp(c->redirect, ru) != 0) {
        oauth_error(resp, 400, "invalid_grant", 50148,
                    "The redirect_uri does not match the one used in the authorization request.");
        return;
    }
    unsigned char d[SHA256_DIGEST_LENGTH];
    char chal[64];
    SHA256((const unsigned char *)ver, strlen(ver), d);
    b64url(d, sizeof(d), chal, sizeof(chal));
    if (strlen(ver) < 43 || strcmp(chal, c->challenge) != 0) {
        oauth_error(resp, 400, "invalid_grant", 501481,
                    "The Code_Verifier does not match the code_challenge supplied in the "
                    "authorization request.");
        return;
    }
    token_ok(m, resp, scope, cid, 1);
}

static void grant_refresh(mock_azure *m, const char *body, mc_response *resp)
{
    char rt[128], cid[128], scope[512];
    if (form_get(body, "refresh_token", rt, sizeof(rt)) ||
        form_get(body, "client_id", cid, sizeof(cid)) ||
        form_get(body, "scope", scope, sizeof(scope))) {
        oauth_error(resp, 400, "invalid_request", 900144,
                    "The request body must contain refresh_token, client_id and scope.");
        return;
    }
    maz_refresh *r = NULL;
    for (size_t i = 0; i < m->n_refresh; i++)
        if (strcmp(m->refresh[i].tok, rt) == 0)
            r = &m->refresh[i];
    if (r == NULL || r->used) {
        oauth_error(resp, 400, "invalid_grant", 70008,
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity.");
        return;
    }
    if (r->revoked) {
        oauth_error(resp, 400, "invalid_grant", 50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token "
                    "is needed.");
        return;
    }
    if (strcmp(r->client_id, cid) != 0) {
        oauth_error(resp, 400, "invalid_grant", 70000,
                    "The refresh token belongs to another "
                    "client.");
        return;
    }
    r->used = 1; /* rotation: the old refresh token dies */
    token_ok(m, resp, scope, cid, 1);
}

static void grant_client(mock_azure *m, const char *body, mc_response *resp)
{
    char cid[128], scope[512], *sec = malloc(FORM_MAX), *assertion = malloc(FORM_MAX);
    char at[128];
    if (sec == NULL || assertion == NULL) {
        oauth_error(resp, 500, "server_error", 90000, "out of memory");
        goto out;
    }
    if (form_get(body, "client_id", cid, sizeof(cid)) ||
        form_get(body, "scope", scope, sizeof(scope))) {
        oauth_error(resp, 400, "invalid_request", 900144,
                    "The request body must contain client_id and scope.");
        goto out;
    }
    size_t sl = strlen(scope);
    if (sl < 9 || strcmp(scope + sl - 9, "/.default") != 0) {
        oauth_error(resp, 400, "invalid_scope", 1002012,
                    "The provided value for scope is not valid. Client credential flows must have "
                    "a scope value with /.default suffixed to the resource identifier.");
        goto out;
    }
    int has_sec = form_get(body, "client_secret", sec, FORM_MAX) == 0;
    int has_as = form_get(body, "client_assertion", assertion, FORM_MAX) == 0 &&
                 form_get(body, "client_assertion_type", at, sizeof(at)) == 0 &&
                 strcmp(at, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") == 0;
    const maz_app *app = NULL;
    for (size_t i = 0; i < m->n_apps; i++)
        if (strcmp(m->apps[i].client_id, cid) == 0)
            app = &m->apps[i];
    if (app == NULL) {
        oauth_error(resp, 400, "unauthorized_client", 700016,
                    "Application was not found in the directory.");
        goto out;
    }
    if (has_sec
            ? (app->secret[0] == '\0' || strcmp(app->secret, sec) != 0)
            : (!has_as || app->federated[0] == '\0' || strcmp(app->federated, assertion) != 0)) {
        oauth_error(resp, 401, "invalid_client", has_sec ? 7000215 : 700213,
                    has_sec ? "Invalid client secret provided."
                            : "No matching federated identity record found for presented "
                              "assertion.");
        goto out;
    }
    token_ok(m, resp, scope, cid, 0);
out:
    free(sec);
    free(assertion);
}

static const char *device_step(const mock_azure *m, unsigned step, char *buf, size_t cap)
{
    const char *p = m->device_script;
    const char *last = p;
    for (unsigned i = 0; *p; i++) {
        size_t n = strcspn(p, ",");
        last = p;
        if (i == step) {
            snprintf(buf, cap, "%.*s", (int)n, p);
            return buf;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    snprintf(buf, cap, "%.*s", (int)strcspn(last, ","), last);
    return buf;
}

static void grant_device(mock_azure *m, const char *body, mc_response *resp)
{
    char dc[128], cid[128], step[32];
    if (form_get(body, "device_code", dc, sizeof(dc)) ||
        form_get(body, "client_id", cid, sizeof(cid))) {
        oauth_error(resp, 400, "invalid_request", 900144,
                    "The request body must contain device_code and client_id.");
        return;
    }
    maz_device *d = NULL;
    for (size_t i = 0; i < m->n_devices; i++)
        if (strcmp(m->devices[i].code, dc) == 0)
            d = &m->devices[i];
    if (d == NULL || d->done || strcmp(d->client_id, cid) != 0) {
        oauth_error(resp, 400, "bad_verification_code", 70019,
                    "Verification code is not recognized.");
        return;
    }
    device_step(m, d->step++, step, sizeof(step));
    if (strcmp(step, "pending") == 0) {
        oauth_error(resp, 400, "authorization_pending", 70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.");
    } else if (strcmp(step, "slow_down") == 0) {
        oauth_error(resp, 400, "slow_down", 70016, "Polling too fast; slow down.");
    } else if (strcmp(step, "expired") == 0) {
        d->done = 1;
        oauth_error(resp, 400, "expired_token", 70020,
                    "The provided value for the input parameter 'device_code' is not valid. "
                    "This device code has expired.");
    } else if (strcmp(step, "declined") == 0) {
        d->done = 1;
        oauth_error(resp, 400, "authorization_declined", 70000,
                    "The user declined the authorization.");
    } else {
        d->done = 1;
        token_ok(m, resp,
                 "https://vault.azure.net/user_impersonation offline_access openid profile", cid,
                 1);
    }
}

static void token(mock_azure *m, const mc_request *req, mc_response *resp)
{
    const char *ct = mc_req_header(req, "Content-Type");
    char gt[128];
    if (strcmp(req->method, "POST") != 0 || ct == NULL ||
        strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        oauth_error(resp, 400, "invalid_request", 900561,
                    "The endpoint only accepts POST requests with a form body.");
        return;
    }
    if (form_get(req->body, "grant_type", gt, sizeof(gt)) != 0) {
        oauth_error(resp, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'grant_type'.");
        return;
    }
    char cn[48];
    snprintf(cn, sizeof(cn), "token:%.40s",
             strcmp(gt, "urn:ietf:params:oauth:grant-type:device_code") == 0 ? "device_code" : gt);
    (*maz_counter(m, cn))++;
    if (strcmp(gt, "authorization_code") == 0)
        grant_code(m, req->body, resp);
    else if (strcmp(gt, "refresh_token") == 0)
        grant_refresh(m, req->body, resp);
    else if (strcmp(gt, "client_credentials") == 0)
        grant_client(m, req->body, resp);
    else if (strcmp(gt, "urn:ietf:params:oauth:grant-type:device_code") == 0)
        grant_device(m, req->body, resp);
    else
        oauth_error(resp, 400, "unsupported_grant_type", 70003,
                    "The app requested an unsupported grant type.");
    if (resp->status != 200 && resp->status != 0)
        (*maz_counter(m, "token:error"))++;
}

static void devicecode(mock_azure *m, const mc_request *req, mc_response *resp)
{
    char cid[128], scope[512];
    (*maz_counter(m, "devicecode"))++;
    if (strcmp(req->method, "POST") != 0 || form_get(req->body, "client_id", cid, sizeof(cid)) ||
        form_get(req->body, "scope", scope, sizeof(scope))) {
        oauth_error(resp, 400, "invalid_request", 900144,
                    "The request body must contain client_id and scope.");
        return;
    }
    maz_device *nd = realloc(m->devices, (m->n_devices + 1) * sizeof(*nd));
    if (nd == NULL) {
        oauth_error(resp, 500, "server_error", 90000, "out of memory");
        return;
    }
    m->devices = nd;
    maz_device *d = &nd[m->n_devices++];
    memset(d, 0, sizeof(*d));
    memcpy(d->code, "mock-dc-", 8);
    maz_random_hex(d->code + 8, 24);
    snprintf(d->client_id, sizeof(d->client_id), "%.79s", cid);
    mc_resp_json(resp, 200,
                 "{\"user_code\":\"YZMYLD4K\",\"device_code\":\"%s\",\"verification_uri\":"
                 "\"https://microsoft.com/devicelogin\",\"expires_in\":900,\"interval\":%d,"
                 "\"message\":\"To sign in, use a web browser to open the page "
                 "https://microsoft.com/devicelogin and enter the code YZMYLD4K to "
                 "authenticate.\"}",
                 d->code, m->device_interval);
}

static void entra(void *ud, const mc_request *req, mc_response *resp)
{
    mock_azure *m = ud;
    const char *p = req->path + 1;
    size_t tl = strcspn(p, "/");
    pthread_mutex_lock(&m->mu);
    if (tl == 0 || strncmp(p + tl, "/oauth2/v2.0/", 13) != 0) {
        oauth_error(resp, 404, "invalid_request", 90002, "Tenant or endpoint not found.");
    } else {
        const char *ep = p + tl + 13;
        if (strcmp(ep, "authorize") == 0)
            authorize(m, req, resp);
        else if (strcmp(ep, "token") == 0)
            token(m, req, resp);
        else if (strcmp(ep, "devicecode") == 0)
            devicecode(m, req, resp);
        else
            oauth_error(resp, 404, "invalid_request", 90002, "Endpoint not found.");
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---- managed identity --------------------------------------------------------------------- */

static void mi_token(mock_azure *m, mc_response *resp, const char *resource, const char *cid)
{
    int64_t exp = 0;
    const char *at = issue_access(m, resource, &exp);
    if (at == NULL) {
        mc_resp_json(resp, 500, "{\"error\":\"server_error\"}");
        return;
    }
    long long now = (long long)time(NULL);
    mc_resp_json(resp, 200,
                 "{\"access_token\":\"%s\",\"client_id\":\"%s\",\"expires_in\":\"%d\","
                 "\"expires_on\":\"%lld\",\"ext_expires_in\":\"%d\",\"not_before\":\"%lld\","
                 "\"resource\":\"%s\",\"token_type\":\"Bearer\"}",
                 at, cid[0] ? cid : "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", m->token_lifetime,
                 (long long)exp, m->token_lifetime, now - 5, resource);
}

static void imds(void *ud, const mc_request *req, mc_response *resp)
{
    mock_azure *m = ud;
    const char *md = mc_req_header(req, "Metadata"), *api = mc_req_query(req, "api-version"),
               *res = mc_req_query(req, "resource"), *cid = mc_req_query(req, "client_id");
    pthread_mutex_lock(&m->mu);
    (*maz_counter(m, "imds"))++;
    if (md == NULL || strcmp(md, "true") != 0)
        mc_resp_json(resp, 400,
                     "{\"error\":\"invalid_request\",\"error_description\":"
                     "\"Required metadata header not specified\"}");
    else if (api == NULL || res == NULL || res[0] == '\0')
        mc_resp_json(resp, 400,
                     "{\"error\":\"invalid_request\",\"error_description\":"
                     "\"Required query variable 'resource' is missing\"}");
    else if (!m->mi_enabled || (cid && m->mi_client_id[0] && strcmp(cid, m->mi_client_id) != 0))
        mc_resp_json(resp, 400,
                     "{\"error\":\"invalid_request\",\"error_description\":"
                     "\"Identity not found\"}");
    else
        mi_token(m, resp, res, m->mi_client_id);
    pthread_mutex_unlock(&m->mu);
}

static void appservice(void *ud, const mc_request *req, mc_response *resp)
{
    mock_azure *m = ud;
    const char *h = mc_req_header(req, "X-IDENTITY-HEADER"), *res = mc_req_query(req, "resource"),
               *api = mc_req_query(req, "api-version");
    pthread_mutex_lock(&m->mu);
    (*maz_counter(m, "appservice"))++;
    if (h == NULL || m->identity_header[0] == '\0' || strcmp(h, m->identity_header) != 0)
        mc_resp_json(resp, 401,
                     "{\"error\":\"invalid_request\",\"error_description\":"
                     "\"X-IDENTITY-HEADER is missing or wrong\"}");
    else if (api == NULL || strcmp(api, "2019-08-01") != 0 || res == NULL || res[0] == '\0')
        mc_resp_json(resp, 400,
                     "{\"error\":\"invalid_request\",\"error_description\":"
                     "\"api-version 2019-08-01 and resource are required\"}");
    else
        mi_token(m, resp, res, m->mi_client_id);
    pthread_mutex_unlock(&m->mu);
}

int maz_entra_routes(mock_azure *m)
{
    if (mc_route(m->srv, "*", "/", entra, m) < 0 ||
        mc_route(m->srv, "GET", "/metadata/identity/oauth2/token", imds, m) < 0 ||
        mc_route(m->srv, "GET", "/msi/token", appservice, m) < 0)
        return -1;
    return 0;
}
