/* mock_azure - state, seeding and the Key Vault routes of the Azure mock (mock_azure.h); the
 * Entra ID and managed identity routes are in mock_azure_entra.c. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "mock_azure.h"
#include "mock_azure_state.h"

#define MOCK_TENANT "3c9e7a1f-52d4-4b8e-9f61-0a7d2c5e8b14"

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

void maz_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    if (RAND_bytes(b, (int)nbytes) != 1)
        memset(b, 0x5a, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

unsigned *maz_counter(mock_azure *m, const char *what)
{
    for (size_t i = 0; i < m->n_counters; i++)
        if (strcmp(m->counters[i].name, what) == 0)
            return &m->counters[i].n;
    if (m->n_counters == MAZ_MAX_COUNTERS)
        return &m->counters[0].n;
    snprintf(m->counters[m->n_counters].name, sizeof(m->counters[0].name), "%s", what);
    m->counters[m->n_counters].n = 0;
    return &m->counters[m->n_counters++].n;
}

void maz_count(mock_azure *m, const char *what)
{
    pthread_mutex_lock(&m->mu);
    (*maz_counter(m, what))++;
    pthread_mutex_unlock(&m->mu);
}

unsigned mock_azure_count(mock_azure *m, const char *what)
{
    pthread_mutex_lock(&m->mu);
    unsigned n = *maz_counter(m, what);
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* ---- Key Vault ---------------------------------------------------------------------------- */

static void kv_error(mc_response *resp, int status, const char *code, const char *inner,
                     const char *message)
{
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    if (inner != NULL) {
        json_object *ie = json_object_new_object();
        json_object_object_add(ie, "code", json_object_new_string(inner));
        json_object_object_add(e, "innererror", ie);
    }
    json_object_object_add(o, "error", e);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    resp->status = status;
    mc_resp_header(resp, "Content-Type", "application/json; charset=utf-8");
    mc_resp_body(resp, s, strlen(s));
    json_object_put(o);
}

static void kv_headers(mc_response *resp)
{
    char id[40];
    maz_random_hex(id, 16);
    mc_resp_header(resp, "x-ms-request-id", id);
    mc_resp_header(resp, "x-ms-keyvault-region", "westeurope");
    mc_resp_header(resp, "x-ms-keyvault-service-version", "1.9.1234.1");
}

static void kv_challenge(mock_azure *m, mc_response *resp, const char *msg)
{
    char h[600];
    if (m->challenge[0])
        snprintf(h, sizeof(h), "%s", m->challenge);
    else
        snprintf(h, sizeof(h),
                 "Bearer authorization=\"%s/%s\", resource=\"https://vault.azure.net\"",
                 mc_url(m->srv), m->tenant);
    mc_resp_header(resp, "WWW-Authenticate", h);
    kv_error(resp, 401, "Unauthorized", NULL, msg);
}

/* Check the bearer token: 0 if good, else the 401 was written. */
static int kv_auth(mock_azure *m, const mc_request *req, mc_response *resp)
{
    const char *a = mc_req_header(req, "Authorization");
    if (a == NULL || a[0] == '\0') {
        (*maz_counter(m, "kv:bare"))++;
        kv_challenge(m, resp, "AKV10000: Request is missing a Bearer or PoP token.");
        return -1;
    }
    (*maz_counter(m, "kv:bearer"))++;
    if (strncmp(a, "Bearer ", 7) != 0) {
        kv_challenge(m, resp, "AKV10000: Request is missing a Bearer or PoP token.");
        return -1;
    }
    const maz_token *t = maz_token_find(m, a + 7);
    if (t == NULL || t->invalid || t->exp < (int64_t)time(NULL)) {
        kv_challenge(m, resp, "AKV10013: The token is invalid or has expired.");
        return -1;
    }
    if (strcmp(t->aud, "https://vault.azure.net") != 0) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "AKV10022: Invalid audience. Expected https://vault.azure.net, "
                 "found: %.200s.",
                 t->aud);
        kv_challenge(m, resp, msg);
        return -1;
    }
    return 0;
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 127)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return 0;
    }
    return 1;
}

static void kv_get(void *ud, const mc_request *req, mc_response *resp)
{
    mock_azure *m = ud;
    pthread_mutex_lock(&m->mu);
    kv_headers(resp);
    if (m->throttle_n > 0) {
        char ra[16];
        m->throttle_n--;
        snprintf(ra, sizeof(ra), "%u", m->throttle_retry_after);
        mc_resp_header(resp, "Retry-After", ra);
        kv_error(resp, 429, "Throttled", NULL,
                 "Request was not processed because too many requests were received. Reason: "
                 "VaultRequestTypeLimitReached");
        goto out;
    }
    if (strcmp(req->method, "GET") != 0) {
        kv_error(resp, 405, "BadParameter", NULL, "Only GET is supported by this mock.");
        goto out;
    }
    if (kv_auth(m, req, resp) != 0)
        goto out;
    const char *api = mc_req_query(req, "api-version");
    if (api == NULL || api[0] == '\0') {
        kv_error(resp, 400, "BadParameter", NULL, "The api-version query parameter is required.");
        goto out;
    }
    const char *p = req->path + strlen("/secrets/");
    size_t nl = strcspn(p, "/");
    const char *ver = p[nl] == '/' ? p + nl + 1 : "";
    size_t vl = strcspn(ver, "/");
    if (!name_ok(p, nl) || vl > 32 || (ver[vl] == '/' && ver[vl + 1] != '\0')) {
        kv_error(resp, 400, "BadParameter", NULL, "The request URI is not valid.");
        goto out;
    }
    const maz_secret *s = NULL;
    for (size_t i = 0; i < m->n_secrets; i++) {
        const maz_secret *x = &m->secrets[i];
        if (strlen(x->name) != nl || strncmp(x->name, p, nl) != 0)
            continue;
        if (vl == 0 || (strlen(x->version) == vl && strncmp(x->version, ver, vl) == 0))
            s = x; /* latest = last matching */
    }
    char msg[400];
    if (s == NULL) {
        snprintf(msg, sizeof(msg),
                 "A secret with (name/id) %.*s was not found in this key vault. If you recently "
                 "deleted this secret you may be able to recover it using the correct recovery "
                 "command. For help resolving this issue, please see "
                 "https://go.microsoft.com/fwlink/?linkid=2125182",
                 (int)nl, p);
        kv_error(resp, 404, "SecretNotFound", NULL, msg);
        goto out;
    }
    if (s->forbidden) {
        kv_error(
            resp, 403, "Forbidden", "ForbiddenByRbac",
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, "
            "deny assignments or role definitions were changed recently, please observe "
            "propagation time.\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'");
        goto out;
    }
    if (!s->enabled) {
        kv_error(resp, 403, "Forbidden", NULL,
                 "Operation get is not allowed on a disabled secret.");
        goto out;
    }
    json_object *o = json_object_new_object(), *at = json_object_new_object();
    char id[300];
    snprintf(id, sizeof(id), "https://mockvault.vault.azure.net/secrets/%s/%s", s->name,
             s->version);
    json_object_object_add(o, "value", json_object_new_string(s->value));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "contentType", json_object_new_string("text/plain"));
    json_object_object_add(at, "enabled", json_object_new_boolean(1));
    json_object_object_add(at, "created", json_object_new_int64(1493938410));
    json_object_object_add(at, "updated", json_object_new_int64(1493938410));
    json_object_object_add(at, "recoveryLevel", json_object_new_string("Recoverable+Purgeable"));
    json_object_object_add(at, "recoverableDays", json_object_new_int(90));
    json_object_object_add(o, "attributes", at);
    json_object_object_add(o, "tags", json_object_new_object());
    const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    mc_resp_header(resp, "Content-Type", "application/json; charset=utf-8");
    mc_resp_body(resp, body, strlen(body));
    json_object_put(o);
    (*maz_counter(m, "kv:200"))++;
out:
    pthread_mutex_unlock(&m->mu);
}

/* GET /secrets: SecretListResult pages of at most MAZ_LIST_PAGE names (maxresults caps it
 * further), each name once in seed order, nextLink carrying $skiptoken. */
#define MAZ_LIST_PAGE 2
static void kv_list(void *ud, const mc_request *req, mc_response *resp)
{
    mock_azure *m = ud;
    pthread_mutex_lock(&m->mu);
    kv_headers(resp);
    if (strcmp(req->path, "/secrets") != 0 || strcmp(req->method, "GET") != 0) {
        kv_error(resp, 400, "BadParameter", NULL, "The request URI is not valid.");
        goto out;
    }
    if (kv_auth(m, req, resp) != 0)
        goto out;
    const char *api = mc_req_query(req, "api-version");
    if (api == NULL || api[0] == '\0') {
        kv_error(resp, 400, "BadParameter", NULL, "The api-version query parameter is required.");
        goto out;
    }
    if (m->list_forbidden) {
        kv_error(resp, 403, "Forbidden", "ForbiddenByRbac",
                 "Caller is not authorized to perform action on resource.\r\nAction: "
                 "'Microsoft.KeyVault/vaults/secrets/readMetadata/action'");
        goto out;
    }
    const char *mr = mc_req_query(req, "maxresults"), *skip = mc_req_query(req, "$skiptoken");
    long page = mr ? strtol(mr, NULL, 10) : MAZ_LIST_PAGE;
    if (page < 1 || page > 25) {
        kv_error(resp, 400, "BadParameter", NULL, "maxresults must be between 1 and 25.");
        goto out;
    }
    if (page > MAZ_LIST_PAGE)
        page = MAZ_LIST_PAGE;
    size_t start = skip ? strtoul(skip, NULL, 10) : 0, i;
    long taken = 0;
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (i = start; i < m->n_secrets && taken < page; i++) {
        size_t k;
        for (k = 0; k < i && strcmp(m->secrets[k].name, m->secrets[i].name) != 0; k++)
            ;
        if (k < i)
            continue; /* a later version of a name already listed */
        char id[300];
        snprintf(id, sizeof(id), "https://mockvault.vault.azure.net/secrets/%s",
                 m->secrets[i].name);
        json_object *e = json_object_new_object(), *at = json_object_new_object();
        json_object_object_add(e, "id", json_object_new_string(id));
        json_object_object_add(at, "enabled", json_object_new_boolean(m->secrets[i].enabled));
        json_object_object_add(at, "created", json_object_new_int64(1493938410));
        json_object_object_add(at, "updated", json_object_new_int64(1493938410));
        json_object_object_add(e, "attributes", at);
        json_object_object_add(e, "tags", json_object_new_object());
        json_object_array_add(arr, e);
        taken++;
    }
    json_object_object_add(o, "value", arr);
    if (i < m->n_secrets) {
        char next[400];
        snprintf(next, sizeof(next), "%s/secrets?api-version=%s&$skiptoken=%zu&maxresults=%ld",
                 mc_url(m->srv), api, i, page);
        json_object_object_add(o, "nextLink", json_object_new_string(next));
    } else {
        json_object_object_add(o, "nextLink", NULL);
    }
    const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    mc_resp_header(resp, "Content-Type", "application/json; charset=utf-8");
    mc_resp_body(resp, body, strlen(body));
    json_object_put(o);
    (*maz_counter(m, "kv:list"))++;
out:
    pthread_mutex_unlock(&m->mu);
}

void mock_azure_set_list_forbidden(mock_azure *m, int on)
{
    pthread_mutex_lock(&m->mu);
    m->list_forbidden = on;
    pthread_mutex_unlock(&m->mu);
}

/* ---- lifecycle and seeding ---------------------------------------------------------------- */

mock_azure *mock_azure_start(int tls, char *err, size_t errcap)
{
    static const char *const log_headers[] = {"Authorization", "Metadata", "Content-Type", NULL};
    mock_azure *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        set_err(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    snprintf(m->tenant, sizeof(m->tenant), "%s", MOCK_TENANT);
    snprintf(m->user, sizeof(m->user), "%s", "alice@contoso.example");
    snprintf(m->device_script, sizeof(m->device_script), "%s", "ok");
    m->device_interval = 1;
    m->token_lifetime = 3599;
    mc_options o;
    memset(&o, 0, sizeof(o));
    o.tls = tls;
    o.log_headers = log_headers;
    m->srv = mc_start(&o);
    if (m->srv == NULL) {
        set_err(err, errcap, "cannot start the mock server%s", tls ? " (TLS)" : "");
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    if (mc_route(m->srv, "*", "/secrets/", kv_get, m) < 0 ||
        mc_route(m->srv, "*", "/secrets", kv_list, m) < 0 || maz_entra_routes(m) != 0) {
        set_err(err, errcap, "cannot add routes");
        mock_azure_stop(m);
        return NULL;
    }
    return m;
}

void mock_azure_stop(mock_azure *m)
{
    if (m == NULL)
        return;
    mc_stop(m->srv);
    for (size_t i = 0; i < m->n_secrets; i++)
        free(m->secrets[i].value);
    free(m->secrets);
    free(m->apps);
    free(m->tokens);
    free(m->refresh);
    free(m->codes);
    free(m->devices);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int jbool(json_object *o, const char *k, int def)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_boolean(v) : def;
}

int mock_azure_seed_json(mock_azure *m, const char *json, char *err, size_t errcap)
{
    json_object *root = json_tokener_parse(json);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        set_err(err, errcap, "seed: not a JSON object");
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    json_object *arr;
    if (json_object_object_get_ex(root, "secrets", &arr)) {
        size_t n = json_object_array_length(arr);
        for (size_t i = 0; i < n && rc == 0; i++) {
            json_object *s = json_object_array_get_idx(arr, i);
            const char *name = jstr(s, "name"), *value = jstr(s, "value"),
                       *ver = jstr(s, "version");
            if (name == NULL || value == NULL || strlen(name) >= sizeof(m->secrets[0].name) ||
                (ver && strlen(ver) != 32)) {
                set_err(err, errcap, "seed: secret %zu needs name, value (version: 32 hex)", i);
                rc = -1;
                break;
            }
            maz_secret *ns = realloc(m->secrets, (m->n_secrets + 1) * sizeof(*ns));
            if (ns == NULL) {
                rc = -1;
                break;
            }
            m->secrets = ns;
            maz_secret *x = &ns[m->n_secrets];
            memset(x, 0, sizeof(*x));
            snprintf(x->name, sizeof(x->name), "%s", name);
            if (ver)
                snprintf(x->version, sizeof(x->version), "%s", ver);
            else
                maz_random_hex(x->version, 16);
            x->value = strdup(value);
            x->enabled = jbool(s, "enabled", 1);
            x->forbidden = jbool(s, "forbidden", 0);
            if (x->value == NULL) {
                rc = -1;
                break;
            }
            m->n_secrets++;
        }
    }
    if (rc == 0 && json_object_object_get_ex(root, "apps", &arr)) {
        size_t n = json_object_array_length(arr);
        for (size_t i = 0; i < n && rc == 0; i++) {
            json_object *a = json_object_array_get_idx(arr, i);
            const char *cid = jstr(a, "client_id"), *sec = jstr(a, "client_secret"),
                       *fed = jstr(a, "federated_token");
            maz_app *na = realloc(m->apps, (m->n_apps + 1) * sizeof(*na));
            if (cid == NULL || (sec == NULL && fed == NULL) || na == NULL) {
                if (na != NULL)
                    m->apps = na;
                set_err(err, errcap, "seed: app %zu needs client_id and a secret or token", i);
                rc = -1;
                break;
            }
            m->apps = na;
            maz_app *x = &na[m->n_apps++];
            memset(x, 0, sizeof(*x));
            snprintf(x->client_id, sizeof(x->client_id), "%s", cid);
            snprintf(x->secret, sizeof(x->secret), "%s", sec ? sec : "");
            snprintf(x->federated, sizeof(x->federated), "%s", fed ? fed : "");
        }
    }
    json_object *mi;
    if (rc == 0 && json_object_object_get_ex(root, "managed_identity", &mi)) {
        const char *cid = jstr(mi, "client_id");
        m->mi_enabled = 1;
        snprintf(m->mi_client_id, sizeof(m->mi_client_id), "%s", cid ? cid : "");
    }
    const char *ih = jstr(root, "identity_header");
    if (rc == 0 && ih != NULL)
        snprintf(m->identity_header, sizeof(m->identity_header), "%s", ih);
    const char *user = jstr(root, "user");
    if (rc == 0 && user != NULL)
        snprintf(m->user, sizeof(m->user), "%s", user);
    pthread_mutex_unlock(&m->mu);
    json_object_put(root);
    return rc;
}

void mock_azure_print_env(const mock_azure *m, FILE *out)
{
    const char *url = mc_url(m->srv);
    fprintf(out, "export AZURE_AUTHORITY_HOST=%s\n", url);
    fprintf(out, "export VAULTPLUG_AZURE_VAULT_URL=%s\n", url);
    fprintf(out, "export AZURE_POD_IDENTITY_AUTHORITY_HOST=%s\n", url);
    if (mc_ca_file(m->srv) != NULL)
        fprintf(out, "export VAULTPLUG_AZURE_CA_FILE=%s\n", mc_ca_file(m->srv));
    else
        fprintf(out, "export VAULTPLUG_AZURE_ALLOW_HTTP=1\n");
    for (size_t i = 0; i < m->n_apps; i++)
        if (m->apps[i].secret[0]) {
            fprintf(out, "export AZURE_TENANT_ID=%s\n", m->tenant);
            fprintf(out, "export AZURE_CLIENT_ID=%s\n", m->apps[i].client_id);
            fprintf(out, "export AZURE_CLIENT_SECRET=%s\n", m->apps[i].secret);
            break;
        }
}

mc_server *mock_azure_server(mock_azure *m)
{
    return m->srv;
}

const char *mock_azure_url(const mock_azure *m)
{
    return mc_url(m->srv);
}

const char *mock_azure_ca_file(const mock_azure *m)
{
    return mc_ca_file(m->srv);
}

const char *mock_azure_tenant(const mock_azure *m)
{
    return m->tenant;
}

void mock_azure_set_challenge(mock_azure *m, const char *www_authenticate)
{
    pthread_mutex_lock(&m->mu);
    snprintf(m->challenge, sizeof(m->challenge), "%s", www_authenticate ? www_authenticate : "");
    pthread_mutex_unlock(&m->mu);
}

void mock_azure_set_consent(mock_azure *m, mock_azure_consent mode)
{
    pthread_mutex_lock(&m->mu);
    m->consent = mode;
    pthread_mutex_unlock(&m->mu);
}

void mock_azure_throttle(mock_azure *m, unsigned n, unsigned retry_after_s)
{
    pthread_mutex_lock(&m->mu);
    m->throttle_n = n;
    m->throttle_retry_after = retry_after_s;
    pthread_mutex_unlock(&m->mu);
}

void mock_azure_set_device_script(mock_azure *m, const char *csv, int interval_s)
{
    pthread_mutex_lock(&m->mu);
    snprintf(m->device_script, sizeof(m->device_script), "%s", csv ? csv : "ok");
    m->device_interval = interval_s;
    pthread_mutex_unlock(&m->mu);
}

void mock_azure_set_token_lifetime(mock_azure *m, int seconds)
{
    pthread_mutex_lock(&m->mu);
    m->token_lifetime = seconds;
    pthread_mutex_unlock(&m->mu);
}

void mock_azure_invalidate_access_tokens(mock_azure *m)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_tokens; i++)
        m->tokens[i].invalid = 1;
    pthread_mutex_unlock(&m->mu);
}

void mock_azure_revoke_refresh_tokens(mock_azure *m)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_refresh; i++)
        m->refresh[i].revoked = 1;
    pthread_mutex_unlock(&m->mu);
}

unsigned mock_azure_live_refresh_tokens(mock_azure *m)
{
    unsigned n = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_refresh; i++)
        n += !m->refresh[i].used && !m->refresh[i].revoked;
    pthread_mutex_unlock(&m->mu);
    return n;
}

int mock_azure_refresh_token_valid(mock_azure *m, const char *tok)
{
    int ok = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_refresh; i++)
        if (strcmp(m->refresh[i].tok, tok) == 0)
            ok = !m->refresh[i].used && !m->refresh[i].revoked;
    pthread_mutex_unlock(&m->mu);
    return ok;
}
