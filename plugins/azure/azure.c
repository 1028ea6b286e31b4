/*
 * azure - the Azure Key Vault provider: reads secrets with the Key Vault REST API (get secret,
 * api-version 7.4 by default) and the authentication challenge flow, with tokens from a user
 * sign-in (vaultplug login azure), a service principal (client secret or workload identity) or a
 * managed identity. See docs/providers/azure.md.
 *
 *   azure://[cred@]myvault.vault.azure.net/NAME[/VERSION][?api-version=7.5]
 *   {% vault 'azure', 'cred', '{"secretIdentifier":"https://myvault.vault.azure.net/secrets/N"}' %}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_int.h"

#define AZ_API_MAX 32

static const vp_cred_field user_fields[] = {
    {"refresh_token", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "refresh token from the sign-in"},
    {"access_token", VP_FIELD_SECRET, "current access token (refreshed automatically)"},
    {"expires_on", 0, "expiry of the access token, epoch seconds"},
    {"account", 0, "the signed-in account (user name)"},
    {"tenant", 0, "tenant id (default organizations)"},
    {"client_id", 0, "public client (app registration) id used to sign in"},
    {"authority", 0, "authority host (default https://login.microsoftonline.com)"},
    {NULL, 0, NULL},
};
static const vp_cred_field secret_fields[] = {
    {"tenant", VP_FIELD_REQUIRED, "tenant id of the app registration"},
    {"client_id", VP_FIELD_REQUIRED, "application (client) id"},
    {"client_secret", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "client secret"},
    {"authority", 0, "authority host (default https://login.microsoftonline.com)"},
    {NULL, 0, NULL},
};
static const vp_cred_field workload_fields[] = {
    {"tenant", VP_FIELD_REQUIRED, "tenant id"},
    {"client_id", VP_FIELD_REQUIRED, "application (client) id with a federated credential"},
    {"token_file", VP_FIELD_REQUIRED, "file holding the federated (service account) token"},
    {"authority", 0, "authority host (default https://login.microsoftonline.com)"},
    {NULL, 0, NULL},
};
static const vp_cred_field mi_fields[] = {
    {"client_id", 0, "client id of a user-assigned identity (default: system-assigned)"},
    {NULL, 0, NULL},
};
static const vp_cred_type az_cred_types[] = {
    {"user", "a signed-in user (vaultplug login azure): refresh token", user_fields},
    {"client_secret", "service principal with a client secret", secret_fields},
    {"workload_identity", "service principal with a federated token file", workload_fields},
    {"managed_identity", "managed identity (IMDS or App Service)", mi_fields},
    {NULL, NULL, NULL},
};

/* ---- init / teardown ------------------------------------------------------------------ */

static int az_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    if (host == NULL || mod == NULL)
        return VP_EABI;
    if (!VP_HAS(vp_host, host, loopback_close)) { /* builder, URL and time services: SDK 1.1 */
        host->log(hc, VP_LOG_ERROR, "azure: needs a vaultplug host of plugin ABI 1.1 or later");
        return VP_EABI;
    }
    az_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->host = host;
    m->hc = hc;
    *mod = m;
    return 0;
}

static void az_teardown(void *mod)
{
    az_mod *m = mod;
    if (m != NULL)
        m->host->free(m);
}

/* ---- configure / destroy -------------------------------------------------------------- */

static void az_destroy(void *inst)
{
    az_inst *in = inst;
    if (in == NULL)
        return;
    const vp_host *h = in->host;
    az_tokens_clear(in);
    if (in->secret != NULL) {
        h->unmask(in->hc, in->secret, in->secret_len);
        h->secure_free(in->secret);
    }
    pthread_mutex_destroy(&in->lock);
    az_env_free(h, &in->env);
    h->free(in->cred_name);
    h->free(in->tenant);
    h->free(in->client_id);
    h->free(in->token_file);
    h->free(in->identity_endpoint);
    h->free(in);
}

static const vp_kv *field(const vp_cred *c, const char *key)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->fields[i].key != NULL && strcmp(c->fields[i].key, key) == 0 &&
            c->fields[i].value != NULL && c->fields[i].value[0] != '\0')
            return &c->fields[i];
    return NULL;
}

static int set_secret(az_inst *in, const char *v, size_t len)
{
    in->secret = az_secure_strndup(in->host, v, len);
    if (in->secret == NULL)
        return VP_ENOMEM;
    in->secret_len = len;
    in->host->mask(in->hc, in->secret, len);
    return 0;
}

static int dup_field(az_inst *in, const vp_cred *c, const char *key, const char *def, char **out)
{
    const vp_kv *f = field(c, key);
    const char *v = f ? f->value : def;
    if (v == NULL)
        return 0;
    *out = in->host->strdup(v);
    return *out ? 0 : VP_ENOMEM;
}

static int env_dup(az_inst *in, const char *name, char **out)
{
    char *v = in->host->getenv(in->hc, name);
    if (v != NULL && v[0] != '\0')
        *out = in->host->strdup(v);
    in->host->secure_free(v);
    return 0;
}

/* The empty credential: environment (client secret) -> workload identity -> managed identity,
 * as azure-identity's DefaultAzureCredential without the developer-tool credentials. */
static int configure_chain(az_inst *in, vp_call *call)
{
    const vp_host *h = in->host;
    char *secret = h->getenv(in->hc, "AZURE_CLIENT_SECRET");
    char *fed = NULL;
    int rc = 0;
    in->from_chain = 1;
    env_dup(in, "AZURE_TENANT_ID", &in->tenant);
    env_dup(in, "AZURE_CLIENT_ID", &in->client_id);
    env_dup(in, "AZURE_FEDERATED_TOKEN_FILE", &fed);
    if (in->tenant && in->client_id && secret && secret[0]) {
        in->kind = AZ_KIND_SECRET;
        rc = set_secret(in, secret, strlen(secret));
    } else if (in->tenant && in->client_id && fed) {
        in->kind = AZ_KIND_WORKLOAD;
        in->token_file = fed;
        fed = NULL;
    } else {
        char *hdr = h->getenv(in->hc, "IDENTITY_HEADER");
        env_dup(in, "IDENTITY_ENDPOINT", &in->identity_endpoint);
        if (in->identity_endpoint && hdr && hdr[0]) {
            in->kind = AZ_KIND_APPSERVICE;
            rc = set_secret(in, hdr, strlen(hdr));
        } else {
            in->kind = AZ_KIND_IMDS;
        }
        h->secure_free(hdr);
    }
    h->secure_free(secret);
    h->free(fed);
    (void)call;
    return rc;
}

static int check_fields(az_inst *in, const vp_cred *c, const vp_cred_field *known, vp_call *call)
{
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *k = c->fields[i].key ? c->fields[i].key : "";
        const vp_cred_field *f;
        for (f = known; f->name; f++)
            if (strcmp(f->name, k) == 0)
                break;
        if (f->name == NULL)
            return in->host->fail(call, VP_EINVAL, "credential '%s': unknown field '%.64s'",
                                  in->cred_name, k);
    }
    for (const vp_cred_field *f = known; f->name; f++)
        if ((f->flags & VP_FIELD_REQUIRED) && field(c, f->name) == NULL)
            return in->host->fail(call, VP_EINVAL, "credential '%s': field '%s' is required",
                                  in->cred_name, f->name);
    return 0;
}

static int configure_typed(az_inst *in, const vp_cred *c, const char *type, vp_call *call)
{
    const vp_host *h = in->host;
    int rc;
    const vp_kv *a = field(c, "authority");
    if (a != NULL) {
        h->free(in->env.authority);
        in->env.authority = h->strdup(a->value);
        if (in->env.authority == NULL)
            return VP_ENOMEM;
        size_t n = strlen(in->env.authority);
        while (n > 0 && in->env.authority[n - 1] == '/')
            in->env.authority[--n] = '\0';
    }
    if (strcmp(type, "user") == 0) {
        in->kind = AZ_KIND_USER;
        if ((rc = check_fields(in, c, user_fields, call)) != 0 ||
            (rc = dup_field(in, c, "tenant", AZ_DEFAULT_TENANT, &in->tenant)) != 0 ||
            (rc = dup_field(in, c, "client_id", AZ_DEFAULT_CLIENT_ID, &in->client_id)) != 0)
            return rc;
        const vp_kv *rt = field(c, "refresh_token");
        if ((rc = set_secret(in, rt->value, rt->value_len)) != 0)
            return rc;
        const vp_kv *at = field(c, "access_token");
        const vp_kv *eo = field(c, "expires_on");
        int64_t exp = 0;
        if (at != NULL && eo != NULL && az_parse_i64(eo->value, &exp) == 0 && exp > 0)
            az_token_put(in, in->tenant, AZ_VAULT_RESOURCE "/.default", at->value, at->value_len,
                         exp * 1000);
        return 0;
    }
    if (strcmp(type, "client_secret") == 0) {
        in->kind = AZ_KIND_SECRET;
        if ((rc = check_fields(in, c, secret_fields, call)) != 0 ||
            (rc = dup_field(in, c, "tenant", NULL, &in->tenant)) != 0 ||
            (rc = dup_field(in, c, "client_id", NULL, &in->client_id)) != 0)
            return rc;
        const vp_kv *s = field(c, "client_secret");
        return set_secret(in, s->value, s->value_len);
    }
    if (strcmp(type, "workload_identity") == 0) {
        in->kind = AZ_KIND_WORKLOAD;
        if ((rc = check_fields(in, c, workload_fields, call)) != 0 ||
            (rc = dup_field(in, c, "tenant", NULL, &in->tenant)) != 0 ||
            (rc = dup_field(in, c, "client_id", NULL, &in->client_id)) != 0)
            return rc;
        return dup_field(in, c, "token_file", NULL, &in->token_file);
    }
    if (strcmp(type, "managed_identity") == 0) {
        if ((rc = check_fields(in, c, mi_fields, call)) != 0 ||
            (rc = dup_field(in, c, "client_id", NULL, &in->client_id)) != 0)
            return rc;
        char *hdr = h->getenv(in->hc, "IDENTITY_HEADER");
        env_dup(in, "IDENTITY_ENDPOINT", &in->identity_endpoint);
        in->kind = in->identity_endpoint && hdr && hdr[0] ? AZ_KIND_APPSERVICE : AZ_KIND_IMDS;
        rc = in->kind == AZ_KIND_APPSERVICE ? set_secret(in, hdr, strlen(hdr)) : 0;
        h->secure_free(hdr);
        return rc;
    }
    return h->fail(call, VP_EINVAL,
                   "credential '%s': unknown credential type '%.64s' (azure knows: user, "
                   "client_secret, workload_identity, managed_identity)",
                   in->cred_name, type);
}

static int az_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    az_mod *m = mod;
    const vp_host *h = m->host;
    if (cred == NULL || inst == NULL)
        return h->fail(call, VP_EINVAL, "azure: configure called without a credential");
    *inst = NULL;
    az_inst *in = h->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->host = h;
    in->hc = m->hc;
    pthread_mutex_init(&in->lock, NULL);
    az_env_load(h, m->hc, &in->env);
    in->cred_name = h->strdup(cred->name ? cred->name : "");
    if (in->cred_name == NULL || in->env.authority == NULL || in->env.imds_host == NULL) {
        az_destroy(in);
        return VP_ENOMEM;
    }
    const char *type = cred->type ? cred->type : "";
    int rc = (type[0] == '\0' && cred->n_fields == 0) ? configure_chain(in, call)
                                                      : configure_typed(in, cred, type, call);
    if (rc != 0) {
        az_destroy(in);
        return rc;
    }
    static const char *const kinds[] = {"",
                                        "user",
                                        "client secret",
                                        "workload identity",
                                        "managed identity (IMDS)",
                                        "managed identity (App Service)"};
    h->log(in->hc, VP_LOG_DEBUG, "credential '%s': %s%s", in->cred_name, kinds[in->kind],
           in->from_chain ? " (from the environment)" : "");
    *inst = in;
    return 0;
}

/* ---- references ----------------------------------------------------------------------- */

static int api_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= AZ_API_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

static int parse_ref(az_inst *in, const vp_ref *ref, vp_call *call, az_secret_id *id, char *api)
{
    const vp_host *h = in->host;
    const char *sid = NULL, *vault = NULL, *name = NULL, *version = NULL;
    char why[200] = "";
    snprintf(api, AZ_API_MAX, "%s", AZ_DEFAULT_API_VERSION);
    for (size_t i = 0; i < ref->n_params; i++) {
        const char *k = ref->params[i].key, *v = ref->params[i].value ? ref->params[i].value : "";
        if (strcmp(k, "api-version") == 0 || strcmp(k, "api_version") == 0 ||
            strcmp(k, "apiVersion") == 0) {
            if (!api_ok(v))
                return h->fail(call, VP_EINVAL, "%s: bad api-version '%.40s'", ref->uri, v);
            snprintf(api, AZ_API_MAX, "%s", v);
        } else if (strcmp(k, "version") == 0) {
            version = v;
        } else if (ref->config != NULL && strcmp(k, "secretIdentifier") == 0) {
            sid = v;
        } else if (ref->config != NULL && (strcmp(k, "vault") == 0 || strcmp(k, "vaultUrl") == 0)) {
            vault = v;
        } else if (ref->config != NULL &&
                   (strcmp(k, "name") == 0 || strcmp(k, "secretName") == 0)) {
            name = v;
        } else {
            return h->fail(call, VP_EINVAL,
                           "%s: unknown parameter '%.64s' (azure knows: secretIdentifier, vault, "
                           "name, version, api-version)",
                           ref->uri, k);
        }
    }
    int rc;
    if (ref->config == NULL) {
        rc = az_parse_secret_uri(ref->path ? ref->path : "", 1, id, why, sizeof(why));
    } else if (sid != NULL && sid[0]) {
        rc = az_parse_secret_uri(sid, 0, id, why, sizeof(why));
    } else if (vault != NULL && name != NULL) {
        char tmp[AZ_HOST_MAX + AZ_NAME_MAX + 80];
        const char *v = vault;
        if (strncmp(v, "https://", 8) == 0)
            v += 8;
        size_t vl = strcspn(v, "/");
        snprintf(tmp, sizeof(tmp), "%.*s%s/%s", (int)(vl < AZ_HOST_MAX ? vl : AZ_HOST_MAX), v,
                 memchr(v, '.', vl) ? "" : ".vault.azure.net", name);
        rc = az_parse_secret_uri(tmp, 1, id, why, sizeof(why));
    } else {
        return h->fail(call, VP_EINVAL,
                       "azure: the config needs \"secretIdentifier\" (or \"vault\" and \"name\")");
    }
    if (rc != 0)
        return h->fail(call, VP_EINVAL, "%s: %s", ref->uri, why);
    if (version != NULL && version[0]) {
        az_secret_id tmp2;
        char t[AZ_HOST_MAX + AZ_NAME_MAX + AZ_VERSION_MAX + 8];
        snprintf(t, sizeof(t), "%s/%s/%.*s", id->host, id->name, AZ_VERSION_MAX + 1, version);
        if (az_parse_secret_uri(t, 1, &tmp2, why, sizeof(why)) != 0)
            return h->fail(call, VP_EINVAL, "%s: %s", ref->uri, why);
        if (id->version[0] && strcmp(id->version, tmp2.version) != 0)
            return h->fail(call, VP_EINVAL, "%s: two different versions given", ref->uri);
        memcpy(id->version, tmp2.version, sizeof(id->version));
    }
    return 0;
}

/* ---- fetch -------------------------------------------------------------------------------- */

static int chal_get(az_inst *in, const char *host, az_challenge *out)
{
    int found = 0;
    pthread_mutex_lock(&in->lock);
    for (size_t i = 0; i < in->n_chals; i++)
        if (strcmp(in->chals[i].host, host) == 0) {
            *out = in->chals[i].c;
            found = 1;
            break;
        }
    pthread_mutex_unlock(&in->lock);
    return found;
}

static void chal_put(az_inst *in, const char *host, const az_challenge *c)
{
    pthread_mutex_lock(&in->lock);
    size_t i;
    for (i = 0; i < in->n_chals; i++)
        if (strcmp(in->chals[i].host, host) == 0)
            break;
    if (i == in->n_chals) {
        if (in->n_chals == AZ_MAX_CHALS)
            i = 0; /* evict the oldest slot; another vault's challenge is just asked again */
        else
            in->n_chals++;
    }
    snprintf(in->chals[i].host, sizeof(in->chals[i].host), "%s", host);
    in->chals[i].c = *c;
    pthread_mutex_unlock(&in->lock);
}

/* Take the challenge of a 401 response, refusing one for another domain. */
static int take_challenge(az_inst *in, vp_call *call, const az_secret_id *id,
                          vp_http_response *resp, az_challenge *c)
{
    const vp_host *h = in->host;
    const char *hdr = h->http_header(resp, "WWW-Authenticate");
    if (hdr == NULL || az_parse_challenge(h, hdr, c) != 0)
        return h->fail(call, VP_EAUTH, "vault %s answered 401 without a usable Bearer challenge",
                       id->host);
    if (!az_challenge_domain_ok(c, id->host))
        return h->fail(call, VP_EPROTO,
                       "vault %s sent an authentication challenge for another domain (%.100s); "
                       "refusing to send it a token",
                       id->host, c->resource_host);
    chal_put(in, id->host, c);
    return 0;
}

int az_map_kv_error(az_inst *in, vp_call *call, const az_secret_id *id, vp_http_response *resp)
{
    const vp_host *h = in->host;
    long st = h->http_status(resp);
    size_t len = 0;
    const char *body = h->http_body(resp, &len);
    az_kv_error e;
    az_parse_kv_error(h, body, len, &e);
    const char *code = e.inner[0] ? e.inner : (e.code[0] ? e.code : "no error code");
    char ra_s[16];
    uint32_t ra = h->http_retry_after_ms(call, h->http_header(resp, "Retry-After"));
    if (ra > 0 && (st == 429 || st >= 500))
        h->call_set_retry_after(call, ra);
    snprintf(ra_s, sizeof(ra_s), "%u", (unsigned)((ra + 999) / 1000));
    switch (st) {
    case 404:
        return h->fail(call, VP_ENOTFOUND, "secret %s%s%s not found in vault %s (%s)", id->name,
                       id->version[0] ? " version " : "", id->version, id->host, code);
    case 403:
        if (strstr(e.message, "disabled") != NULL)
            return h->fail(call, VP_EPERM, "secret %s in vault %s is disabled", id->name, id->host);
        return h->fail(call, VP_EPERM,
                       "access to secret %s in vault %s was denied (%s): the identity needs "
                       "permission to get secrets (e.g. the Key Vault Secrets User role), and the "
                       "account, the app registration and the vault must belong to the same "
                       "organisation (Microsoft Entra tenant)",
                       id->name, id->host, code);
    case 401:
        return h->fail(call, VP_EAUTH, "vault %s rejected the token (%s): %.200s", id->host, code,
                       e.message);
    case 429:
        return h->fail(call, VP_ERATELIMIT,
                       "vault %s is throttling requests (%s, retry after %s s)", id->host, code,
                       ra_s);
    case 400:
        return h->fail(call, VP_EINVAL, "vault %s: bad request (%s): %.200s", id->host, code,
                       e.message);
    default:
        if (st >= 500)
            return h->fail(call, VP_EUNAVAIL, "vault %s: HTTP %ld (%s)", id->host, st, code);
        return h->fail(call, VP_EPROTO, "vault %s: unexpected HTTP %ld", id->host, st);
    }
}

static int deliver(az_inst *in, vp_call *call, const az_secret_id *id, vp_http_response *resp,
                   vp_secret_out *out)
{
    const vp_host *h = in->host;
    size_t len = 0;
    const char *body = h->http_body(resp, &len);
    vp_json *root = NULL;
    const char *value = NULL;
    size_t vlen = 0;
    char version[AZ_VERSION_MAX + 1];
    int64_t exp = 0;
    int rc =
        az_parse_secret_bundle(h, body, len, &root, &value, &vlen, version, sizeof(version), &exp);
    if (rc != 0)
        return h->fail(call, VP_EPROTO, "vault %s: unexpected response for secret %s", id->host,
                       id->name);
    rc = h->secret_set(out, value, vlen);
    if (rc == 0 && version[0])
        rc = h->secret_set_version(out, version);
    if (rc == 0 && exp > 0)
        h->secret_set_expiry(out, exp * 1000);
    h->json_free(root); /* wipes the value */
    return rc;
}

/* GET url on vault id->host with Key Vault's Bearer challenge flow: a bare request first
 * (unless the vault's challenge is cached) to learn the tenant and scope, then the request with
 * a token, once more with a fresh token after a 401. On 0 *out is the final response, any
 * status, for the caller to http_free. Used by fetch and by list (az_list.c). */
int az_vault_get(az_inst *in, vp_call *call, const az_secret_id *id, const char *url,
                 vp_http_response **out)
{
    const vp_host *h = in->host;
    int rc;
    *out = NULL;
    az_challenge c;
    int have_chal = chal_get(in, id->host, &c);
    int refreshed = 0;
    rc = VP_EAUTH;
    for (int attempt = 0; attempt < 4; attempt++) {
        vp_http_response *resp = NULL;
        if (!have_chal) {
            /* Bare request: the vault tells us which tenant and scope it wants. */
            rc = az_http(h, &in->env, call, "GET", url, NULL, 0, NULL, 0, 0, 0, 0, &resp);
            if (rc != 0)
                break;
            if (h->http_status(resp) == 401) {
                rc = take_challenge(in, call, id, resp, &c);
                h->http_free(resp);
                if (rc != 0)
                    break;
                have_chal = 1;
                continue;
            }
        } else {
            char *tok = NULL;
            size_t tlen = 0;
            rc = az_get_token(in, call, c.tenant, c.scope, refreshed, &tok, &tlen);
            if (rc != 0)
                break;
            size_t alen = tlen + 8;
            char *auth = h->secure_malloc(alen);
            if (auth == NULL) {
                h->secure_free(tok);
                rc = VP_ENOMEM;
                break;
            }
            snprintf(auth, alen, "Bearer %s", tok);
            h->secure_free(tok);
            const vp_http_header hdrs[] = {{"Authorization", auth, VP_HTTP_HDR_SECRET}};
            rc = az_http(h, &in->env, call, "GET", url, hdrs, 1, NULL, 0, 1, 0, 0, &resp);
            h->secure_free(auth);
            if (rc != 0)
                break;
            if (h->http_status(resp) == 401 && !refreshed) {
                /* Token expired or revoked, or the vault wants another tenant: once more. */
                const char *hdr = h->http_header(resp, "WWW-Authenticate");
                az_challenge c2;
                if (hdr != NULL && az_parse_challenge(h, hdr, &c2) == 0 &&
                    az_challenge_domain_ok(&c2, id->host)) {
                    c = c2;
                    chal_put(in, id->host, &c);
                }
                h->http_free(resp);
                refreshed = 1;
                continue;
            }
        }
        *out = resp; /* the final answer, whatever its status */
        break;
    }
    if (rc == 0 && *out == NULL)
        rc = h->fail(call, VP_EAUTH, "vault %s kept answering 401 with new challenges", id->host);
    return rc;
}

static int az_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    az_inst *in = inst;
    const vp_host *h = in->host;
    az_secret_id id;
    char api[AZ_API_MAX];
    int rc = parse_ref(in, ref, call, &id, api);
    if (rc != 0)
        return rc;
    vp_sb *sb = h->sb_new(0, 0);
    if (in->env.vault_url != NULL)
        h->sb_append_str(sb, in->env.vault_url);
    else
        h->sb_printf(sb, "https://%s", id.host);
    h->sb_printf(sb, "/secrets/%s/%s?api-version=%s", id.name, id.version, api);
    if (h->sb_status(sb) != 0) {
        h->sb_free(sb);
        return VP_ENOMEM;
    }
    const char *url = h->sb_data(sb, NULL);
    if (strncmp(url, "https://", 8) != 0 && !in->env.allow_http) {
        rc = h->fail(call, VP_EINVAL,
                     "azure: refusing to send a token over plain http (%.128s); "
                     "VAULTPLUG_AZURE_ALLOW_HTTP=1 is for tests only",
                     url);
        h->sb_free(sb);
        return rc;
    }

    vp_http_response *resp = NULL;
    rc = az_vault_get(in, call, &id, url, &resp);
    if (rc == 0) {
        long st = h->http_status(resp);
        rc = st == 200 ? deliver(in, call, &id, resp, out) : az_map_kv_error(in, call, &id, resp);
        h->http_free(resp);
    }
    h->sb_free(sb);
    return rc;
}

static int az_validate(void *inst, vp_call *call)
{
    az_inst *in = inst;
    char *tok = NULL;
    size_t len = 0;
    int rc = az_get_token(in, call, in->tenant, AZ_VAULT_RESOURCE "/.default", 0, &tok, &len);
    in->host->secure_free(tok);
    return rc;
}

static const char *const az_schemes[] = {"azure", NULL};

static const vp_provider az_provider = {
    VP_ABI_HDR(vp_provider),
    "azure",
    "1.0.0",
    "Azure Key Vault secrets (user sign-in, service principal, managed identity)",
    az_schemes,
    VP_CAP_THREADSAFE | VP_CAP_LIST | VP_CAP_INTERACTIVE_LOGIN,
    az_cred_types,
    az_init,
    az_configure,
    az_fetch,
    NULL,    /* fetch_batch */
    az_list, /* list */
    az_login,
    az_validate,
    az_destroy,
    az_teardown,
};

VP_PROVIDER_ENTRY(az_provider)
