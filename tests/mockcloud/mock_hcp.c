/*
 * mock_hcp.c - HCP auth + HCP Vault Secrets emulation (see mock_hcp.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mock_hcp.h"

#define MH_AUDIENCE "https://api.hashicorp.cloud"
#define MH_PREFIX   "/secrets/2023-11-28/organizations/"

struct mock_hcp {
    mc_server *srv;
    pthread_mutex_t mu;
    json_object *clients, *secrets, *tokens;
    int64_t offset_s;
    int wrap_versions;
    int fail_code;
    unsigned fail_count, fail_retry_after;
    uint64_t counts[MH_COUNT__N];
    char client_id[64], client_secret[64];
};

static int64_t now_s(const mock_hcp *m)
{
    return (int64_t)time(NULL) + m->offset_s;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void rand_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    static const char hx[] = "0123456789abcdef";
    if (RAND_bytes(b, (int)nbytes) != 1)
        memset(b, 9, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

static int http_of(int code)
{
    switch (code) {
    case 3:
        return 400;
    case 5:
        return 404;
    case 7:
        return 403;
    case 8:
        return 429;
    case 14:
        return 503;
    case 16:
        return 401;
    default:
        return 500;
    }
}

static void grpc_error(mc_response *resp, int code, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_int(code));
    json_object_object_add(o, "message", json_object_new_string(msg));
    json_object_object_add(o, "details", json_object_new_array());
    mc_resp_json(resp, http_of(code), "%s",
                 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void oauth_error(mc_response *resp, int status, const char *err, const char *desc)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(err));
    json_object_object_add(o, "error_description", json_object_new_string(desc));
    mc_resp_json(resp, status, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decoded value of form field `name` in body into out; 0 or -1 if absent. */
static int form_get(const char *body, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = body;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t j = 0;
            for (size_t i = nl + 1; i < len && j + 1 < cap; i++) {
                if (p[i] == '+') {
                    out[j++] = ' ';
                } else if (p[i] == '%' && i + 2 < len + 1 && hexv(p[i + 1]) >= 0 &&
                           hexv(p[i + 2]) >= 0) {
                    out[j++] = (char)(hexv(p[i + 1]) * 16 + hexv(p[i + 2]));
                    i += 2;
                } else {
                    out[j++] = p[i];
                }
            }
            out[j] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

static void h_token(mock_hcp *m, const mc_request *req, mc_response *resp)
{
    char id[640] = "", secret[640] = "", grant[64] = "", aud[128] = "";
    const char *body = req->body ? req->body : "";
    const char *ct = mc_req_header(req, "Content-Type");
    if (strcmp(req->method, "POST") != 0 || ct == NULL ||
        strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        m->counts[MH_COUNT_TOKEN_FAIL]++;
        oauth_error(resp, 400, "invalid_request", "expected a form POST");
        return;
    }
    form_get(body, "grant_type", grant, sizeof(grant));
    form_get(body, "audience", aud, sizeof(aud));
    int basic = 0;
    const char *auth = mc_req_header(req, "Authorization");
    if (auth != NULL && strncmp(auth, "Basic ", 6) == 0) {
        unsigned char dec[600];
        size_t al = strlen(auth + 6);
        if (al < 700) {
            int n = EVP_DecodeBlock(dec, (const unsigned char *)auth + 6, (int)al);
            if (n > 0) {
                while (n > 0 && dec[n - 1] == '\0')
                    n--; /* EVP_DecodeBlock counts padding */
                dec[n] = '\0';
                char *colon = strchr((char *)dec, ':');
                if (colon) {
                    *colon = '\0';
                    snprintf(id, sizeof(id), "%s", (char *)dec);
                    snprintf(secret, sizeof(secret), "%s", colon + 1);
                    basic = 1;
                }
            }
        }
    }
    if (!basic) {
        form_get(body, "client_id", id, sizeof(id));
        form_get(body, "client_secret", secret, sizeof(secret));
    }
    if (strcmp(grant, "client_credentials") != 0) {
        m->counts[MH_COUNT_TOKEN_FAIL]++;
        oauth_error(resp, 400, "unsupported_grant_type", "Unsupported grant type");
        return;
    }
    if (strcmp(aud, MH_AUDIENCE) != 0) {
        m->counts[MH_COUNT_TOKEN_FAIL]++;
        oauth_error(resp, 403, "access_denied", "Service not enabled within domain");
        return;
    }
    json_object *client = NULL;
    for (size_t i = 0; i < json_object_array_length(m->clients); i++) {
        json_object *c = json_object_array_get_idx(m->clients, i);
        const char *ci = jstr(c, "client_id"), *cs = jstr(c, "client_secret");
        if (ci && cs && strcmp(ci, id) == 0 && strcmp(cs, secret) == 0)
            client = c;
    }
    if (client == NULL) {
        m->counts[MH_COUNT_TOKEN_FAIL]++;
        oauth_error(resp, 401, "access_denied", "Unauthorized");
        return;
    }
    json_object *ex = NULL;
    int64_t expires = 3600;
    if (json_object_object_get_ex(client, "expires_in", &ex) && ex != NULL)
        expires = json_object_get_int64(ex);
    char tok[80] = "hcp-at-";
    rand_hex(tok + 7, 24);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "token", json_object_new_string(tok));
    json_object_object_add(t, "expire_at", json_object_new_int64(now_s(m) + expires));
    json_object_object_add(t, "client", json_object_get(client));
    json_object_array_add(m->tokens, t);
    m->counts[MH_COUNT_TOKEN]++;
    if (basic)
        m->counts[MH_COUNT_TOKEN_BASIC]++;
    mc_resp_json(resp, 200,
                 "{\"access_token\":\"%s\",\"expires_in\":%lld,\"token_type\":\"Bearer\"}", tok,
                 (long long)expires);
}

static json_object *find_token(const mock_hcp *m, const mc_request *req)
{
    const char *a = mc_req_header(req, "Authorization");
    if (a == NULL || strncmp(a, "Bearer ", 7) != 0)
        return NULL;
    for (size_t i = 0; i < json_object_array_length(m->tokens); i++) {
        json_object *t = json_object_array_get_idx(m->tokens, i), *ex;
        const char *v = jstr(t, "token");
        if (v == NULL || strcmp(v, a + 7) != 0)
            continue;
        if (!json_object_object_get_ex(t, "expire_at", &ex) ||
            json_object_get_int64(ex) <= now_s(m))
            return NULL;
        return t;
    }
    return NULL;
}

static int project_allowed(json_object *tok, const char *project)
{
    json_object *c, *ps;
    if (!json_object_object_get_ex(tok, "client", &c) ||
        !json_object_object_get_ex(c, "projects", &ps) || ps == NULL)
        return 1;
    for (size_t i = 0; i < json_object_array_length(ps); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(ps, i)), project) == 0)
            return 1;
    return 0;
}

/* The secret object of the 2023-11-28 API for version v (1-based) of s. */
static json_object *render(json_object *s, const char *name, size_t v, size_t nv)
{
    const char *type = jstr(s, "type");
    if (type == NULL)
        type = "kv";
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "latest_version", json_object_new_int64((int64_t)nv));
    json_object_object_add(o, "created_at", json_object_new_string("2024-01-01T00:00:00.000Z"));
    json_object_object_add(o, "created_by_id", json_object_new_string("sp-mock"));
    json_object_object_add(o, "provider", json_object_new_string(""));
    json_object_object_add(o, "sync_status", json_object_new_object());
    json_object *vers = NULL;
    json_object_object_get_ex(s, "versions", &vers);
    if (strcmp(type, "dynamic") == 0) {
        json_object *vals = NULL;
        json_object_object_get_ex(s, "values", &vals);
        json_object *d = json_object_new_object();
        json_object_object_add(d, "values", json_object_get(vals));
        json_object_object_add(d, "created_at", json_object_new_string("2024-01-01T00:00:00Z"));
        json_object_object_add(d, "expires_at", json_object_new_string("2024-01-01T01:00:00Z"));
        json_object_object_add(d, "ttl", json_object_new_string("3600s"));
        json_object_object_add(o, "dynamic_instance", d);
        return o;
    }
    json_object *val = json_object_array_get_idx(vers, v - 1);
    json_object *sv = json_object_new_object();
    json_object_object_add(sv, "version", json_object_new_int64((int64_t)v));
    json_object_object_add(sv, "created_at", json_object_new_string("2024-01-01T00:00:00.000Z"));
    json_object_object_add(sv, "created_by_id", json_object_new_string("sp-mock"));
    if (strcmp(type, "rotating") == 0) {
        json_object_object_add(sv, "values", json_object_get(val));
        json_object_object_add(sv, "expires_at", json_object_new_string("2030-01-01T00:00:00Z"));
        json_object_object_add(o, "rotating_version", sv);
    } else {
        json_object_object_add(sv, "value", json_object_get(val));
        json_object_object_add(o, "static_version", sv);
    }
    return o;
}

static void h_open(mock_hcp *m, const mc_request *req, mc_response *resp)
{
    /* {org}/projects/{p}/apps/{a}/secrets/{name}[/versions/{v}]:open */
    char buf[1024], *seg[10];
    snprintf(buf, sizeof(buf), "%s", req->path + strlen(MH_PREFIX));
    size_t n = strlen(buf);
    if (n < 5 || strcmp(buf + n - 5, ":open") != 0) {
        grpc_error(resp, 5, "Not Found");
        return;
    }
    buf[n - 5] = '\0';
    int ns = 0;
    for (char *p = buf; p && ns < 10; ns++) {
        seg[ns] = p;
        p = strchr(p, '/');
        if (p)
            *p++ = '\0';
    }
    if (!((ns == 7 || ns == 9) && strcmp(seg[1], "projects") == 0 && strcmp(seg[3], "apps") == 0 &&
          strcmp(seg[5], "secrets") == 0 && (ns == 7 || strcmp(seg[7], "versions") == 0))) {
        grpc_error(resp, 5, "Not Found");
        return;
    }
    json_object *tok = find_token(m, req);
    if (tok == NULL) {
        grpc_error(resp, 16, "unauthenticated: invalid or expired token");
        return;
    }
    if (!project_allowed(tok, seg[2])) {
        grpc_error(resp, 7, "permission denied");
        return;
    }
    if (m->fail_count > 0) {
        m->fail_count--;
        if (m->fail_retry_after) {
            char ra[16];
            snprintf(ra, sizeof(ra), "%u", m->fail_retry_after);
            mc_resp_header(resp, "Retry-After", ra);
        }
        grpc_error(resp, m->fail_code, m->fail_code == 8 ? "rate limit exceeded" : "unavailable");
        return;
    }
    json_object *s = NULL;
    for (size_t i = 0; i < json_object_array_length(m->secrets) && s == NULL; i++) {
        json_object *c = json_object_array_get_idx(m->secrets, i);
        const char *o = jstr(c, "organization"), *p = jstr(c, "project"), *a = jstr(c, "app"),
                   *nm = jstr(c, "name");
        if (o && p && a && nm && strcmp(o, seg[0]) == 0 && strcmp(p, seg[2]) == 0 &&
            strcmp(a, seg[4]) == 0 && strcmp(nm, seg[6]) == 0)
            s = c;
    }
    if (s == NULL) {
        grpc_error(resp, 5, "secret not found");
        return;
    }
    json_object *vers = NULL;
    json_object_object_get_ex(s, "versions", &vers);
    size_t nv = vers ? json_object_array_length(vers) : 1;
    size_t v = nv;
    if (ns == 9) {
        v = (size_t)strtoul(seg[8], NULL, 10);
        if (v == 0 || v > nv) {
            grpc_error(resp, 5, "secret version not found");
            return;
        }
    }
    json_object *o = render(s, seg[6], v, nv);
    if (ns == 7 || m->wrap_versions) {
        json_object *w = json_object_new_object();
        json_object_object_add(w, "secret", o);
        o = w;
    }
    m->counts[MH_COUNT_OPEN]++;
    mc_resp_json(resp, 200, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* GET {org}/projects/{p}/apps/{a}/secrets: the app's secrets (names and metadata, no values),
 * two per page at most (pagination.page_size caps it further), pagination.next_page_token. */
#define MH_LIST_PAGE 2
static void h_list(mock_hcp *m, const mc_request *req, mc_response *resp)
{
    char buf[1024], *seg[8];
    snprintf(buf, sizeof(buf), "%s", req->path + strlen(MH_PREFIX));
    int ns = 0;
    for (char *p = buf; p && ns < 8; ns++) {
        seg[ns] = p;
        p = strchr(p, '/');
        if (p)
            *p++ = '\0';
    }
    json_object *tok = find_token(m, req);
    if (tok == NULL) {
        grpc_error(resp, 16, "unauthenticated: invalid or expired token");
        return;
    }
    if (!project_allowed(tok, seg[2])) {
        grpc_error(resp, 7, "permission denied");
        return;
    }
    const char *ps = mc_req_query(req, "pagination.page_size");
    const char *pt = mc_req_query(req, "pagination.next_page_token");
    long page = ps ? strtol(ps, NULL, 10) : MH_LIST_PAGE;
    if (page <= 0 || page > MH_LIST_PAGE)
        page = MH_LIST_PAGE;
    size_t start = pt && pt[0] ? strtoul(pt, NULL, 10) : 0, i;
    long taken = 0;
    json_object *arr = json_object_new_array();
    for (i = start; i < json_object_array_length(m->secrets) && taken < page; i++) {
        json_object *c = json_object_array_get_idx(m->secrets, i);
        const char *o = jstr(c, "organization"), *p = jstr(c, "project"), *a = jstr(c, "app"),
                   *nm = jstr(c, "name"), *type = jstr(c, "type");
        if (!(o && p && a && nm && strcmp(o, seg[0]) == 0 && strcmp(p, seg[2]) == 0 &&
              strcmp(a, seg[4]) == 0))
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "name", json_object_new_string(nm));
        json_object_object_add(e, "type", json_object_new_string(type ? type : "kv"));
        json_object_object_add(e, "created_at",
                               json_object_new_string("2024-01-01T00:00:00.000000Z"));
        json_object_array_add(arr, e);
        taken++;
    }
    json_object *o = json_object_new_object(), *pg = json_object_new_object();
    char next[32] = "";
    if (i < json_object_array_length(m->secrets))
        snprintf(next, sizeof(next), "%zu", i);
    json_object_object_add(o, "secrets", arr);
    json_object_object_add(pg, "next_page_token", json_object_new_string(next));
    json_object_object_add(pg, "previous_page_token", json_object_new_string(""));
    json_object_object_add(o, "pagination", pg);
    m->counts[MH_COUNT_LIST]++;
    mc_resp_json(resp, 200, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* Whether path is {org}/projects/{p}/apps/{a}/secrets (a list) under MH_PREFIX. */
static int is_list_path(const char *path)
{
    const char *s = path + strlen(MH_PREFIX);
    int slashes = 0;
    for (const char *c = s; *c; c++)
        slashes += *c == '/';
    size_t n = strlen(s);
    return slashes == 5 && n > 8 && strcmp(s + n - 8, "/secrets") == 0 &&
           strstr(s, "/projects/") != NULL && strstr(s, "/apps/") != NULL;
}

static void handler(void *ud, const mc_request *req, mc_response *resp)
{
    mock_hcp *m = ud;
    pthread_mutex_lock(&m->mu);
    if (strcmp(req->path, "/oauth2/token") == 0)
        h_token(m, req, resp);
    else if (strncmp(req->path, MH_PREFIX, strlen(MH_PREFIX)) == 0 &&
             strcmp(req->method, "GET") == 0 && is_list_path(req->path))
        h_list(m, req, resp);
    else if (strncmp(req->path, MH_PREFIX, strlen(MH_PREFIX)) == 0 &&
             strcmp(req->method, "GET") == 0)
        h_open(m, req, resp);
    else
        grpc_error(resp, 5, "Not Found");
    pthread_mutex_unlock(&m->mu);
}

static int seed_add(json_object *dst, json_object *src, const char *key)
{
    json_object *a;
    if (!json_object_object_get_ex(src, key, &a) || a == NULL)
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return -1;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        json_object_array_add(dst, json_object_get(json_object_array_get_idx(a, i)));
    return 0;
}

int mock_hcp_seed_json(mock_hcp *m, const char *json, char *err, size_t errcap)
{
    json_object *o = json_tokener_parse(json);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        snprintf(err, errcap, "mock_hcp: seed is not a JSON object");
        json_object_put(o);
        return -1;
    }
    pthread_mutex_lock(&m->mu);
    int rc = seed_add(m->clients, o, "clients") | seed_add(m->secrets, o, "secrets");
    pthread_mutex_unlock(&m->mu);
    json_object_put(o);
    if (rc != 0)
        snprintf(err, errcap, "mock_hcp: \"clients\" and \"secrets\" must be arrays");
    return rc ? -1 : 0;
}

mock_hcp *mock_hcp_start(int tls, char *err, size_t errcap)
{
    mock_hcp *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(err, errcap, "mock_hcp: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->clients = json_object_new_array();
    m->secrets = json_object_new_array();
    m->tokens = json_object_new_array();
    memcpy(m->client_id, "mock-client-", 12);
    rand_hex(m->client_id + 12, 8);
    memcpy(m->client_secret, "mock-secret-", 12);
    rand_hex(m->client_secret + 12, 16);
    json_object *c = json_object_new_object();
    json_object_object_add(c, "client_id", json_object_new_string(m->client_id));
    json_object_object_add(c, "client_secret", json_object_new_string(m->client_secret));
    json_object_array_add(m->clients, c);
    static const char *const logh[] = {"Authorization", "Content-Type", NULL};
    mc_options opt = {0};
    opt.tls = tls;
    opt.log_headers = logh;
    m->srv = mc_start(&opt);
    if (m->srv == NULL || mc_route(m->srv, NULL, "/", handler, m) < 0) {
        snprintf(err, errcap, "mock_hcp: cannot start the server%s",
                 tls && !mc_tls_supported() ? " (no TLS support)" : "");
        mock_hcp_stop(m);
        return NULL;
    }
    return m;
}

void mock_hcp_stop(mock_hcp *m)
{
    if (m == NULL)
        return;
    mc_stop(m->srv);
    json_object_put(m->clients);
    json_object_put(m->secrets);
    json_object_put(m->tokens);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void mock_hcp_print_env(const mock_hcp *m, FILE *out)
{
    fprintf(out, "export HCP_AUTH_URL=%s\n", mc_url(m->srv));
    fprintf(out, "export HCP_API_ADDRESS=%s\n", mc_url(m->srv));
    fprintf(out, "export HCP_CLIENT_ID=%s\n", m->client_id);
    fprintf(out, "export HCP_CLIENT_SECRET=%s\n", m->client_secret);
    if (mc_ca_file(m->srv) != NULL)
        fprintf(out, "# HCP mock CA (pass as the CA file): %s\n", mc_ca_file(m->srv));
}

mc_server *mock_hcp_server(const mock_hcp *m)
{
    return m->srv;
}

const char *mock_hcp_client_id(const mock_hcp *m)
{
    return m->client_id;
}

const char *mock_hcp_client_secret(const mock_hcp *m)
{
    return m->client_secret;
}

void mock_hcp_advance(mock_hcp *m, int64_t seconds)
{
    pthread_mutex_lock(&m->mu);
    m->offset_s += seconds;
    pthread_mutex_unlock(&m->mu);
}

void mock_hcp_set_wrap_versions(mock_hcp *m, int on)
{
    pthread_mutex_lock(&m->mu);
    m->wrap_versions = on;
    pthread_mutex_unlock(&m->mu);
}

void mock_hcp_fail_next(mock_hcp *m, int code, unsigned count, unsigned retry_after_s)
{
    pthread_mutex_lock(&m->mu);
    m->fail_code = code;
    m->fail_count = count;
    m->fail_retry_after = retry_after_s;
    pthread_mutex_unlock(&m->mu);
}

void mock_hcp_revoke_tokens(mock_hcp *m)
{
    pthread_mutex_lock(&m->mu);
    json_object_put(m->tokens);
    m->tokens = json_object_new_array();
    pthread_mutex_unlock(&m->mu);
}

uint64_t mock_hcp_count(const mock_hcp *m, mock_hcp_counter c)
{
    mock_hcp *mm = (mock_hcp *)m;
    pthread_mutex_lock(&mm->mu);
    uint64_t v = c < MH_COUNT__N ? mm->counts[c] : 0;
    pthread_mutex_unlock(&mm->mu);
    return v;
}
