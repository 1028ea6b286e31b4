/*
 * mock_gcp_auth - the OAuth 2 token endpoint (RS256 JWT bearer grant, refresh grant),
 * tokeninfo, the metadata server, and service-account key pairs generated at run time.
 */
#define MOCK_GCP_INTERNAL
#define _DEFAULT_SOURCE
#include "mock_gcp.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define SKEW_S     300

static void set_err(char *err, size_t cap, const char *msg)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s", msg);
}

static void rand_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    static const char hx[] = "0123456789abcdef";
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    RAND_bytes(b, (int)nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

/* ---- tokens ------------------------------------------------------------------------------- */

int mgcp_issue_token_locked(mock_gcp *m, const char *principal, char *out, size_t cap)
{
    mgcp_token *t = &m->tokens[m->next_token];
    m->next_token = (m->next_token + 1) % MGCP_MAX_TOKENS;
    if (m->n_tokens < MGCP_MAX_TOKENS)
        m->n_tokens++;
    char hex[65];
    rand_hex(hex, 24);
    snprintf(t->tok, sizeof(t->tok), "ya29.mock-%s", hex);
    snprintf(t->principal, sizeof(t->principal), "%s", principal);
    t->expiry = time(NULL) + m->token_life;
    snprintf(out, cap, "%s", t->tok);
    return 0;
}

int mgcp_token_principal_locked(mock_gcp *m, const char *tok, char *principal, size_t cap)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < m->n_tokens; i++) {
        const mgcp_token *t = &m->tokens[i];
        if (strcmp(t->tok, tok) == 0 && (t->expiry == 0 || t->expiry > now)) {
            snprintf(principal, cap, "%s", t->principal);
            return 0;
        }
    }
    return -1;
}

static void token_response(mock_gcp *m, mc_response *resp, const char *tok, int life, int as_string)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "access_token", json_object_new_string(tok));
    if (as_string) {
        char s[16];
        snprintf(s, sizeof(s), "%d", life);
        json_object_object_add(o, "expires_in", json_object_new_string(s));
    } else {
        json_object_object_add(o, "expires_in", json_object_new_int(life));
    }
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    mc_resp_json(resp, 200, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    (void)m;
}

/* ---- form and base64url decoding ----------------------------------------------------------- */

static int hexv(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Value of form field `key` in body (percent-decoded, '+' = space) into out; 0 or -1. */
static int form_get(const char *body, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t k = 0;
            for (size_t i = kl + 1; i < n; i++) {
                char c = p[i];
                if (c == '+')
                    c = ' ';
                else if (c == '%' && i + 2 < n && hexv(p[i + 1]) >= 0 && hexv(p[i + 2]) >= 0) {
                    c = (char)(hexv(p[i + 1]) * 16 + hexv(p[i + 2]));
                    i += 2;
                }
                if (k + 1 >= cap)
                    return -1;
                out[k++] = c;
            }
            out[k] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

static int b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k >= cap)
                return -1;
            out[k++] = (unsigned char)(acc >> bits);
        }
    }
    *len = k;
    return 0;
}

static json_object *b64_json(const char *in, size_t n)
{
    unsigned char buf[4096];
    size_t len = 0;
    if (b64url_decode(in, n, buf, sizeof(buf) - 1, &len) != 0)
        return NULL;
    buf[len] = '\0';
    json_object *o = json_tokener_parse((const char *)buf);
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int jint(json_object *o, const char *k, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_int64(v);
    return 0;
}

static void oauth_error(mock_gcp *m, mc_response *resp, int status, const char *err,
                        const char *desc)
{
    snprintf(m->last_token_error, sizeof(m->last_token_error), "%s", desc);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(err));
    json_object_object_add(o, "error_description", json_object_new_string(desc));
    mc_resp_json(resp, status, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* Verify an RS256 assertion the way Google's token endpoint does (lock held). Returns the
 * service account, or NULL with the OAuth error written to resp. */
static mgcp_sa *verify_jwt(mock_gcp *m, const char *jwt, mc_response *resp)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL) {
        oauth_error(m, resp, 400, "invalid_grant", "Invalid JWT: malformed assertion.");
        return NULL;
    }
    json_object *hd = b64_json(jwt, (size_t)(d1 - jwt));
    json_object *cl = b64_json(d1 + 1, (size_t)(d2 - d1 - 1));
    mgcp_sa *sa = NULL;
    const char *alg = jstr(hd, "alg"), *kid = jstr(hd, "kid"), *iss = jstr(cl, "iss");
    const char *aud = jstr(cl, "aud"), *scope = jstr(cl, "scope");
    int64_t iat = 0, exp = 0;
    time_t now = time(NULL);
    if (hd == NULL || cl == NULL || alg == NULL || strcmp(alg, "RS256") != 0) {
        oauth_error(m, resp, 400, "invalid_grant", "Invalid JWT: unsupported header.");
        goto out;
    }
    for (size_t i = 0; iss != NULL && i < m->n_sas; i++)
        if (strcmp(m->sas[i].email, iss) == 0)
            sa = &m->sas[i];
    if (sa == NULL) {
        oauth_error(m, resp, 400, "invalid_grant", "Invalid grant: account not found");
        goto out;
    }
    if (aud == NULL || strcmp(aud, m->token_uri) != 0) {
        oauth_error(m, resp, 400, "invalid_grant",
                    "Invalid JWT: Failed audience check. The expected value was the token URI.");
        sa = NULL;
        goto out;
    }
    if (scope == NULL || strstr(scope, "https://www.googleapis.com/auth/cloud-platform") == NULL) {
        oauth_error(m, resp, 400, "invalid_scope",
                    "Invalid OAuth scope or ID token audience provided.");
        sa = NULL;
        goto out;
    }
    if (jint(cl, "iat", &iat) != 0 || jint(cl, "exp", &exp) != 0 || exp <= iat ||
        exp - iat > 3600 || iat > now + SKEW_S || exp < now - SKEW_S) {
        oauth_error(m, resp, 400, "invalid_grant",
                    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                    "reasonable timeframe. Check your iat and exp values in the JWT claim.");
        sa = NULL;
        goto out;
    }
    unsigned char sig[1024];
    size_t sig_len = 0;
    int ok = !sa->deleted && (kid == NULL || strcmp(kid, sa->kid) == 0) &&
             b64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig), &sig_len) == 0;
    if (ok) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, sa->pub) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt, (size_t)(d2 - jwt)) ==
                 1;
        EVP_MD_CTX_free(ctx);
    }
    if (!ok) {
        oauth_error(m, resp, 400, "invalid_grant", "Invalid JWT Signature.");
        sa = NULL;
    }
out:
    json_object_put(hd);
    json_object_put(cl);
    return sa;
}

static void h_token(void *ud, const mc_request *req, mc_response *resp)
{
    mock_gcp *m = ud;
    char grant[128], tok[96];
    char *buf = malloc(req->body_len + 1);
    if (buf == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    const char *ct = mc_req_header(req, "Content-Type");
    if (strcmp(req->method, "POST") != 0 || ct == NULL ||
        strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        oauth_error(m, resp, 400, "invalid_request", "Expected a form POST.");
    } else if (form_get(req->body, "grant_type", grant, sizeof(grant)) != 0) {
        oauth_error(m, resp, 400, "invalid_request", "Missing required parameter: grant_type");
    } else if (strcmp(grant, JWT_BEARER) == 0) {
        mgcp_sa *sa = NULL;
        if (form_get(req->body, "assertion", buf, req->body_len + 1) != 0)
            oauth_error(m, resp, 400, "invalid_request", "Missing required parameter: assertion");
        else if ((sa = verify_jwt(m, buf, resp)) != NULL) {
            mgcp_issue_token_locked(m, sa->email, tok, sizeof(tok));
            m->grants++;
            token_response(m, resp, tok, m->token_life, m->life_as_string);
        }
    } else if (strcmp(grant, "refresh_token") == 0) {
        char cid[128], csec[128], rt[256];
        mgcp_user *u = NULL;
        if (form_get(req->body, "client_id", cid, sizeof(cid)) == 0)
            for (size_t i = 0; i < m->n_users; i++)
                if (strcmp(m->users[i].client_id, cid) == 0)
                    u = &m->users[i];
        if (u == NULL)
            oauth_error(m, resp, 401, "invalid_client", "The OAuth client was not found.");
        else if (form_get(req->body, "client_secret", csec, sizeof(csec)) != 0 ||
                 strcmp(csec, u->client_secret) != 0)
            oauth_error(m, resp, 401, "invalid_client", "Unauthorized");
        else if (form_get(req->body, "refresh_token", rt, sizeof(rt)) != 0 ||
                 strcmp(rt, u->refresh_token) != 0)
            oauth_error(m, resp, 400, "invalid_grant", "Token has been expired or revoked.");
        else {
            mgcp_issue_token_locked(m, u->principal, tok, sizeof(tok));
            m->grants++;
            token_response(m, resp, tok, m->token_life, m->life_as_string);
        }
    } else {
        oauth_error(m, resp, 400, "unsupported_grant_type", "Invalid grant_type.");
    }
    pthread_mutex_unlock(&m->lock);
    free(buf);
}

static void h_tokeninfo(void *ud, const mc_request *req, mc_response *resp)
{
    mock_gcp *m = ud;
    char tok[256], principal[128];
    const char *q = mc_req_query(req, "access_token");
    int have = 0;
    if (strcmp(req->method, "POST") == 0)
        have = form_get(req->body, "access_token", tok, sizeof(tok)) == 0;
    else if (q != NULL && strlen(q) < sizeof(tok))
        have = snprintf(tok, sizeof(tok), "%s", q) > 0;
    pthread_mutex_lock(&m->lock);
    int ok = have && mgcp_token_principal_locked(m, tok, principal, sizeof(principal)) == 0;
    pthread_mutex_unlock(&m->lock);
    if (!ok) {
        mc_resp_json(resp, 400,
                     "{\"error\":\"invalid_token\",\"error_description\":\"Invalid Value\"}");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "email", json_object_new_string(principal));
    json_object_object_add(
        o, "scope", json_object_new_string("https://www.googleapis.com/auth/cloud-platform"));
    json_object_object_add(o, "expires_in", json_object_new_string("3000"));
    mc_resp_json(resp, 200, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* ---- metadata server ----------------------------------------------------------------------- */

static void h_metadata(void *ud, const mc_request *req, mc_response *resp)
{
    mock_gcp *m = ud;
    const char *fl = mc_req_header(req, "Metadata-Flavor");
    mc_resp_header(resp, "Metadata-Flavor", "Google");
    mc_resp_header(resp, "Server", "Metadata Server for VM");
    if (mc_req_header(req, "X-Forwarded-For") != NULL) {
        resp->status = 403;
        mc_resp_bodyf(resp, "Request denied: X-Forwarded-For is not allowed.\n");
        return;
    }
    if (fl == NULL || strcmp(fl, "Google") != 0) {
        resp->status = 403;
        mc_resp_header(resp, "Content-Type", "text/html; charset=UTF-8");
        mc_resp_bodyf(resp, "Missing Metadata-Flavor:Google header.\n");
        return;
    }
    if (strcmp(req->path, "/") == 0) {
        resp->status = 200;
        mc_resp_header(resp, "Content-Type", "application/text");
        mc_resp_bodyf(resp, "computeMetadata/\n");
        return;
    }
    char tok[96];
    pthread_mutex_lock(&m->lock);
    if (strcmp(req->path, "/computeMetadata/v1/instance/service-accounts/default/token") == 0) {
        mgcp_issue_token_locked(m, m->md_principal, tok, sizeof(tok));
        m->md_grants++;
        token_response(m, resp, tok, m->token_life, m->life_as_string);
    } else if (strcmp(req->path, "/computeMetadata/v1/project/project-id") == 0 &&
               m->md_project[0] != '\0') {
        resp->status = 200;
        mc_resp_header(resp, "Content-Type", "application/text");
        mc_resp_bodyf(resp, "%s", m->md_project);
    } else {
        resp->status = 404;
        mc_resp_header(resp, "Content-Type", "text/html; charset=UTF-8");
        mc_resp_bodyf(resp, "Not Found\n");
    }
    pthread_mutex_unlock(&m->lock);
}

int mgcp_auth_routes(mock_gcp *m)
{
    if (mc_route(m->srv, "*", "/token", h_token, m) < 0 ||
        mc_route(m->srv, "*", "/tokeninfo", h_tokeninfo, m) < 0 ||
        mc_route(m->md, "*", "/", h_metadata, m) < 0)
        return -1;
    return 0;
}

/* ---- seeding: service accounts (fresh RSA keys), users, static tokens, metadata ----------- */

static int write_json_file(const char *path, json_object *o)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    int ok = fputs(s, f) >= 0;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

static int add_sa(mock_gcp *m, json_object *so, char *err, size_t errcap)
{
    const char *email = jstr(so, "email"), *proj = jstr(so, "project_id"), *file = jstr(so, "file");
    if (email == NULL || strlen(email) >= 128 || m->n_sas == MGCP_MAX_SAS) {
        set_err(err, errcap, "service account needs an \"email\" (or too many)");
        return -1;
    }
    mgcp_sa *sa = &m->sas[m->n_sas];
    memset(sa, 0, sizeof(*sa));
    snprintf(sa->email, sizeof(sa->email), "%s", email);
    snprintf(sa->project, sizeof(sa->project), "%s", proj ? proj : "");
    rand_hex(sa->kid, 20);
    if (file != NULL)
        snprintf(sa->file, sizeof(sa->file), "%s", file);
    else
        snprintf(sa->file, sizeof(sa->file), "%s/sa-%u.json", m->dir, m->file_seq++);

    EVP_PKEY *key = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pem_len = 0;
    if (key == NULL || bio == NULL ||
        PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        (pem_len = BIO_get_mem_data(bio, &pem)) <= 0) {
        EVP_PKEY_free(key);
        BIO_free(bio);
        set_err(err, errcap, "RSA key generation failed");
        return -1;
    }
    /* Keep only the public half: the mock verifies, it never signs. */
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(key, &der);
    const unsigned char *dp = der;
    sa->pub = der_len > 0 ? d2i_PUBKEY(NULL, &dp, der_len) : NULL;
    OPENSSL_free(der);

    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "project_id", json_object_new_string(sa->project));
    json_object_object_add(o, "private_key_id", json_object_new_string(sa->kid));
    json_object_object_add(o, "private_key", json_object_new_string_len(pem, (int)pem_len));
    json_object_object_add(o, "client_email", json_object_new_string(sa->email));
    json_object_object_add(o, "client_id", json_object_new_string("100000000000000000001"));
    json_object_object_add(o, "auth_uri",
                           json_object_new_string("https://accounts.google.com/o/oauth2/auth"));
    json_object_object_add(o, "token_uri", json_object_new_string(m->token_uri));
    json_object_object_add(o, "universe_domain", json_object_new_string("googleapis.com"));
    int rc = sa->pub != NULL && write_json_file(sa->file, o) == 0 ? 0 : -1;
    json_object_put(o);
    OPENSSL_cleanse(pem, (size_t)pem_len);
    BIO_free(bio);
    EVP_PKEY_free(key);
    if (rc != 0) {
        EVP_PKEY_free(sa->pub);
        set_err(err, errcap, "cannot write the service account key file");
        return -1;
    }
    m->n_sas++;
    return 0;
}

static int add_user(mock_gcp *m, json_object *uo, char *err, size_t errcap)
{
    const char *cid = jstr(uo, "client_id"), *cs = jstr(uo, "client_secret");
    const char *rt = jstr(uo, "refresh_token"), *pr = jstr(uo, "principal");
    const char *file = jstr(uo, "file"), *qp = jstr(uo, "quota_project_id");
    if (cid == NULL || cs == NULL || rt == NULL || strlen(cid) >= 128 || strlen(cs) >= 128 ||
        strlen(rt) >= 256 || m->n_users == MGCP_MAX_USERS) {
        set_err(err, errcap, "authorized user needs client_id, client_secret, refresh_token");
        return -1;
    }
    mgcp_user *u = &m->users[m->n_users++];
    snprintf(u->client_id, sizeof(u->client_id), "%s", cid);
    snprintf(u->client_secret, sizeof(u->client_secret), "%s", cs);
    snprintf(u->refresh_token, sizeof(u->refresh_token), "%s", rt);
    snprintf(u->principal, sizeof(u->principal), "%s", pr ? pr : "user@example.com");
    if (file == NULL)
        return 0;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("authorized_user"));
    json_object_object_add(o, "client_id", json_object_new_string(cid));
    json_object_object_add(o, "client_secret", json_object_new_string(cs));
    json_object_object_add(o, "refresh_token", json_object_new_string(rt));
    if (qp != NULL)
        json_object_object_add(o, "quota_project_id", json_object_new_string(qp));
    json_object_object_add(o, "universe_domain", json_object_new_string("googleapis.com"));
    int rc = write_json_file(file, o);
    json_object_put(o);
    if (rc != 0)
        set_err(err, errcap, "cannot write the authorized_user file");
    return rc;
}

int mgcp_seed_auth_locked(mock_gcp *m, json_object *root, char *err, size_t errcap)
{
    json_object *arr;
    if (json_object_object_get_ex(root, "access_tokens", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *to = json_object_array_get_idx(arr, i);
            const char *t = jstr(to, "token"), *p = jstr(to, "principal");
            if (t == NULL || strlen(t) >= sizeof(m->tokens[0].tok)) {
                set_err(err, errcap, "access token needs a \"token\" (< 80 chars)");
                return -1;
            }
            mgcp_token *tk = &m->tokens[m->next_token];
            m->next_token = (m->next_token + 1) % MGCP_MAX_TOKENS;
            if (m->n_tokens < MGCP_MAX_TOKENS)
                m->n_tokens++;
            snprintf(tk->tok, sizeof(tk->tok), "%s", t);
            snprintf(tk->principal, sizeof(tk->principal), "%s", p ? p : "ci@example.com");
            tk->expiry = 0;
        }
    }
    if (json_object_object_get_ex(root, "service_accounts", &arr) &&
        json_object_is_type(arr, json_type_array))
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            if (add_sa(m, json_object_array_get_idx(arr, i), err, errcap) != 0)
                return -1;
    if (json_object_object_get_ex(root, "authorized_users", &arr) &&
        json_object_is_type(arr, json_type_array))
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            if (add_user(m, json_object_array_get_idx(arr, i), err, errcap) != 0)
                return -1;
    json_object *md;
    if (json_object_object_get_ex(root, "metadata", &md)) {
        const char *p = jstr(md, "principal"), *pid = jstr(md, "project_id");
        if (p != NULL)
            snprintf(m->md_principal, sizeof(m->md_principal), "%s", p);
        if (pid != NULL)
            snprintf(m->md_project, sizeof(m->md_project), "%s", pid);
    }
    return 0;
}

void mgcp_auth_free(mock_gcp *m)
{
    size_t dl = strlen(m->dir);
    for (size_t i = 0; i < m->n_sas; i++) {
        EVP_PKEY_free(m->sas[i].pub);
        /* Files we placed in our own directory go with it; others belong to the caller. */
        if (dl > 0 && strncmp(m->sas[i].file, m->dir, dl) == 0)
            unlink(m->sas[i].file);
    }
}
