/*
 * hashicorp - vaultplug provider for HashiCorp Vault (KV v1/v2; self-hosted, Enterprise and HCP
 * Vault Dedicated) and HCP Vault Secrets. docs/providers/hashicorp.md describes the credential
 * types, the environment variables and the reference forms:
 *
 *   hashicorp://[cred@]{mount}/{path}[?version=N&kv=v1|v2&mount=M&namespace=NS][#key]
 *   hcp://[cred@]{organization}/{project}/{app}/{secret}[?version=N][#key]
 *   hcp://[cred@]{app}/{secret}      (organization and project from the credential/HCP_*)
 *   {% vault 'hashicorp', 'cred', '{"kvVersion":"v2","secretEnginePath":"secret",
 *                                   "secretName":"myapp","secretKey":"password","version":3}' %}
 *   {% vault 'hashicorp', 'cred', '{"organizationId":"o","projectId":"p","appName":"a",
 *                                   "secretName":"s","version":2}' %}
 *
 * The instance's mutable state (Vault token and its lifetime, detected mounts, HCP token) is
 * guarded by one mutex, which also makes token acquisition single-flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc.h"

#define HC_CONN_FIELDS                                                                          \
    {"address", 0, "Vault address, e.g. https://vault.example.com:8200 (default VAULT_ADDR)"},  \
        {"namespace", 0, "Vault Enterprise / HCP Vault Dedicated namespace (VAULT_NAMESPACE)"}, \
        {"send_namespace_via_header", 0,                                                        \
         "\"true\" (default): X-Vault-Namespace header; \"false\": namespace as path prefix"},  \
        {"ca_cert", 0, "PEM CA bundle for the Vault server (VAULT_CACERT)"},                    \
        {"ca_path", 0, "directory of CA certificates (VAULT_CAPATH)"},                          \
    {                                                                                           \
        "skip_verify", 0, "\"true\" disables TLS verification (VAULT_SKIP_VERIFY; warned)"      \
    }

static const vp_cred_field token_fields[] = {
    {"token", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "Vault token (hvs.../s....)"},
    HC_CONN_FIELDS,
    {NULL, 0, NULL},
};
static const vp_cred_field approle_fields[] = {
    {"role_id", VP_FIELD_REQUIRED, "AppRole role ID"},
    {"secret_id", VP_FIELD_SECRET, "AppRole secret ID (optional per role)"},
    {"mount", 0, "AppRole auth mount (default \"approle\")"},
    HC_CONN_FIELDS,
    {NULL, 0, NULL},
};
static const vp_cred_field cloud_fields[] = {
    {"client_id", VP_FIELD_REQUIRED, "HCP service principal client ID"},
    {"client_secret", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "HCP service principal client secret"},
    {"organization_id", 0, "default HCP organization ID (HCP_ORGANIZATION_ID)"},
    {"project_id", 0, "default HCP project ID (HCP_PROJECT_ID)"},
    {"auth_url", 0, "token endpoint base URL (HCP_AUTH_URL)"},
    {"api_url", 0, "API base URL (HCP_API_ADDRESS)"},
    {NULL, 0, NULL},
};
static const vp_cred_type hc_cred_types[] = {
    {"token", "a Vault token", token_fields},
    {"appRole", "Vault AppRole login (role_id + secret_id)", approle_fields},
    {"cloud", "HCP Vault Secrets service principal (OAuth2 client credentials)", cloud_fields},
    {NULL, NULL, NULL},
};

typedef struct hc_mod {
    const vp_host *host;
    vp_host_ctx *hc;
} hc_mod;

static int hc_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    if (host == NULL || mod == NULL)
        return VP_EABI;
    if (!VP_HAS(vp_host, host, loopback_close)) { /* string builder, URL encoding: SDK 1.1 */
        host->log(hc, VP_LOG_ERROR, "hashicorp: needs a vaultplug host of plugin ABI 1.1 or later");
        return VP_EABI;
    }
    hc_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->host = host;
    m->hc = hc;
    *mod = m;
    return VP_OK;
}

static void hc_teardown(void *mod)
{
    hc_mod *m = mod;
    if (m != NULL)
        m->host->free(m);
}

static void unmask_free(const hc_inst *in, char *s)
{
    if (s == NULL)
        return;
    in->host->unmask(in->hc, s, strlen(s));
    in->host->secure_free(s);
}

static void hc_destroy(void *inst)
{
    hc_inst *in = inst;
    if (in == NULL)
        return;
    const vp_host *h = in->host;
    hc_vault_forget_token(in);
    hc_hcp_forget_token(in);
    for (size_t i = 0; i < in->n_mounts; i++) {
        h->free(in->mounts[i].ns);
        h->free(in->mounts[i].path);
    }
    unmask_free(in, in->static_tok);
    unmask_free(in, in->secret_id);
    unmask_free(in, in->client_secret);
    h->secure_free(in->role_id);
    h->free(in->cred_name);
    h->free(in->addr);
    h->free(in->ns);
    h->free(in->ca_file);
    h->free(in->ca_path);
    h->free(in->approle_mount);
    h->free(in->client_id);
    h->free(in->org);
    h->free(in->project);
    h->free(in->auth_url);
    h->free(in->api_url);
    pthread_mutex_destroy(&in->mu);
    h->free(in);
}

static const char *field(const vp_cred *c, const char *key)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->fields[i].key != NULL && strcmp(c->fields[i].key, key) == 0)
            return c->fields[i].value;
    return NULL;
}

/* First set, non-empty environment variable of names (secure copy), or NULL. */
char *hc_env_any(const hc_inst *in, const char *const *names)
{
    for (; *names; names++) {
        char *v = in->host->getenv(in->hc, *names);
        if (v != NULL && v[0] != '\0')
            return v;
        in->host->secure_free(v);
    }
    return NULL;
}

/* A plain (non-secret) setting: credential field, else environment, else default. */
static int setting(hc_inst *in, const vp_cred *c, const char *fname, const char *const *envs,
                   const char *def, char **out)
{
    const char *f = c ? field(c, fname) : NULL;
    *out = NULL;
    if (f != NULL && f[0] != '\0') {
        *out = in->host->strdup(f);
        return *out ? VP_OK : VP_ENOMEM;
    }
    char *v = envs ? hc_env_any(in, envs) : NULL;
    if (v != NULL) {
        *out = in->host->strdup(v);
        in->host->secure_free(v);
        return *out ? VP_OK : VP_ENOMEM;
    }
    if (def != NULL) {
        *out = in->host->strdup(def);
        return *out ? VP_OK : VP_ENOMEM;
    }
    return VP_OK;
}

/* Keep a secret in secure memory, masked. len 0 = NULL. */
int hc_keep_secret(hc_inst *in, const char *v, char **out)
{
    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return VP_OK;
    if (strlen(v) >= HC_TOKEN_MAX)
        return VP_ELIMIT;
    *out = in->host->secure_strdup(v);
    if (*out == NULL)
        return VP_ENOMEM;
    in->host->mask(in->hc, *out, strlen(*out));
    return VP_OK;
}

/* A URL setting that may be given as a bare host (HCP_API_ADDRESS): add the scheme. */
static int fix_url(hc_inst *in, char **url, const char *tls_env)
{
    if (*url == NULL || strstr(*url, "://") != NULL) {
        char *t = *url ? hc_strdup_trim_slash(in->host, *url) : NULL;
        if (*url != NULL && t == NULL)
            return VP_ENOMEM;
        in->host->free(*url);
        *url = t;
        return VP_OK;
    }
    char *tls = in->host->getenv(in->hc, tls_env);
    const char *scheme = tls && strcmp(tls, "disabled") == 0 ? "http://" : "https://";
    in->host->secure_free(tls);
    size_t n = strlen(scheme) + strlen(*url) + 1;
    char *u = in->host->malloc(n);
    if (u == NULL)
        return VP_ENOMEM;
    snprintf(u, n, "%s%s", scheme, *url);
    in->host->free(*url);
    *url = hc_strdup_trim_slash(in->host, u);
    in->host->free(u);
    return *url ? VP_OK : VP_ENOMEM;
}

static const char *const ENV_ADDR[] = {"VAULT_ADDR", NULL};
static const char *const ENV_NS[] = {"VAULT_NAMESPACE", NULL};
static const char *const ENV_CACERT[] = {"VAULT_CACERT", NULL};
static const char *const ENV_CAPATH[] = {"VAULT_CAPATH", NULL};
static const char *const ENV_SKIP[] = {"VAULT_SKIP_VERIFY", NULL};
static const char *const ENV_TOKEN[] = {"VAULT_TOKEN", NULL};
static const char *const ENV_CID[] = {"HCP_CLIENT_ID", NULL};
static const char *const ENV_CSECRET[] = {"HCP_CLIENT_SECRET", NULL};
static const char *const ENV_ORG[] = {"HCP_ORGANIZATION_ID", NULL};
static const char *const ENV_PROJ[] = {"HCP_PROJECT_ID", NULL};
static const char *const ENV_AUTH[] = {"HCP_AUTH_URL", NULL};
static const char *const ENV_API[] = {"HCP_API_ADDRESS", "HCP_API_HOST", NULL};

/* Vault connection settings, shared by every credential type (env for what is not given). */
int hc_conf_vault_conn(hc_inst *in, const vp_cred *c, vp_call *call)
{
    const vp_host *h = in->host;
    char *addr = NULL, *nshdr = NULL, *skip = NULL;
    int rc = setting(in, c, "address", ENV_ADDR, HC_DEFAULT_ADDR, &addr);
    if (rc == VP_OK) {
        in->addr = hc_strdup_trim_slash(h, addr);
        rc = in->addr ? VP_OK : VP_ENOMEM;
    }
    h->free(addr);
    if (rc == VP_OK && strncmp(in->addr, "http://", 7) != 0 && strncmp(in->addr, "https://", 8))
        return h->fail(call, VP_EINVAL,
                       "credential '%s': Vault address '%.128s' must start with http:// or "
                       "https://",
                       in->cred_name, in->addr);
    if (rc == VP_OK)
        rc = setting(in, c, "namespace", ENV_NS, NULL, &in->ns);
    if (rc == VP_OK && in->ns != NULL) {
        /* "/ns1/ns2/" and "ns1/ns2" name the same namespace. */
        char *t = in->ns;
        size_t skip0 = strspn(t, "/");
        memmove(t, t + skip0, strlen(t + skip0) + 1);
        size_t n = strlen(t);
        while (n > 0 && t[n - 1] == '/')
            t[--n] = '\0';
    }
    if (rc == VP_OK)
        rc = setting(in, c, "ca_cert", ENV_CACERT, NULL, &in->ca_file);
    if (rc == VP_OK)
        rc = setting(in, c, "ca_path", ENV_CAPATH, NULL, &in->ca_path);
    if (rc == VP_OK)
        rc = setting(in, c, "skip_verify", ENV_SKIP, NULL, &skip);
    if (rc == VP_OK)
        rc = setting(in, c, "send_namespace_via_header", NULL, NULL, &nshdr);
    in->skip_verify = hc_truthy(skip);
    in->ns_header = nshdr == NULL || strcmp(nshdr, "false") != 0;
    h->free(skip);
    h->free(nshdr);
    if (rc == VP_OK && in->skip_verify)
        h->log(in->hc, VP_LOG_WARN,
               "credential '%s': TLS verification of the Vault server is DISABLED "
               "(skip_verify / VAULT_SKIP_VERIFY)",
               in->cred_name);
    return rc;
}

/* HCP settings: credential fields, else HCP_* variables, else the hosted service. */
int hc_conf_hcp(hc_inst *in, const vp_cred *c)
{
    int rc = setting(in, c, "organization_id", ENV_ORG, NULL, &in->org);
    if (rc == VP_OK)
        rc = setting(in, c, "project_id", ENV_PROJ, NULL, &in->project);
    if (rc == VP_OK)
        rc = setting(in, c, "auth_url", ENV_AUTH, HC_HCP_AUTH_URL, &in->auth_url);
    if (rc == VP_OK)
        rc = fix_url(in, &in->auth_url, "HCP_AUTH_TLS");
    if (rc == VP_OK)
        rc = setting(in, c, "api_url", ENV_API, HC_HCP_API_URL, &in->api_url);
    if (rc == VP_OK)
        rc = fix_url(in, &in->api_url, "HCP_API_TLS");
    return rc;
}

/* HCP_CRED_FILE (default ~/.config/hcp/cred_file.json): service principal credentials. */
static int conf_hcp_cred_file(hc_inst *in)
{
    const vp_host *h = in->host;
    char *path = h->getenv(in->hc, "HCP_CRED_FILE");
    char *data = NULL;
    size_t len = 0;
    int rc = h->read_file(in->hc, NULL, path && path[0] ? path : "~/.config/hcp/cred_file.json",
                          65536, &data, &len);
    h->secure_free(path);
    if (rc != VP_OK)
        return VP_OK; /* absent or unreadable: no file credentials */
    vp_json *j = NULL;
    if (h->json_parse(data, len, &j) == 0) {
        const char *id = h->json_string(h->json_path(j, "oauth.client_id"), NULL);
        const char *sec = h->json_string(h->json_path(j, "oauth.client_secret"), NULL);
        const char *proj = h->json_string(h->json_get(j, "project_id"), NULL);
        if (id != NULL && sec != NULL && id[0] && sec[0]) {
            in->client_id = h->strdup(id);
            rc = in->client_id ? hc_keep_secret(in, sec, &in->client_secret) : VP_ENOMEM;
        }
        if (rc == VP_OK && proj != NULL && proj[0] && in->project == NULL) {
            in->project = h->strdup(proj);
            rc = in->project ? VP_OK : VP_ENOMEM;
        }
    }
    h->json_free(j);
    h->secure_free(data);
    return rc;
}

/* The empty credential: INSOMNIA_HASHICORP_TYPE when set (the credential it describes, nothing
 * else), otherwise the standard chain: Vault token from VAULT_TOKEN or ~/.vault-token, HCP
 * client credentials from HCP_* or the HCP credential file. Nothing missing is an error here:
 * a reference to the service without credentials reports it. */
static int conf_env(hc_inst *in, vp_call *call)
{
    const vp_host *h = in->host;
    const char *const tnames[] = {"INSOMNIA_HASHICORP_TYPE", NULL};
    char *v = hc_env_any(in, tnames);
    if (v != NULL) {
        int rc = hc_conf_inso(in, v, call);
        h->log(in->hc, VP_LOG_DEBUG, "empty credential from INSOMNIA_HASHICORP_TYPE '%.32s'", v);
        h->secure_free(v);
        return rc;
    }
    hc_inso_warn_untyped(in);
    int rc = hc_conf_vault_conn(in, NULL, call);
    if (rc == VP_OK)
        rc = hc_conf_hcp(in, NULL);
    if (rc != VP_OK)
        return rc;
    v = hc_env_any(in, ENV_TOKEN);
    if (v != NULL) {
        rc = hc_keep_secret(in, v, &in->static_tok);
        h->secure_free(v);
    } else {
        char *data = NULL;
        size_t len = 0;
        if (h->read_file(in->hc, NULL, "~/.vault-token", HC_TOKEN_MAX, &data, &len) == VP_OK) {
            /* The CLI's token helper file: the whole file, whitespace trimmed. */
            char *s = data;
            while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                s++;
            size_t n = strlen(s);
            while (n > 0 &&
                   (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = '\0';
            rc = hc_keep_secret(in, s, &in->static_tok);
            h->memzero(data, len);
            h->secure_free(data);
        }
    }
    if (rc == VP_OK && in->static_tok == NULL)
        snprintf(in->noauth, sizeof(in->noauth),
                 "vault: no credentials: set VAULT_TOKEN, write ~/.vault-token, set "
                 "INSOMNIA_HASHICORP_TYPE, or use a credential of type 'token' or 'appRole'");
    char *cid = rc == VP_OK ? hc_env_any(in, ENV_CID) : NULL;
    char *csec = cid ? hc_env_any(in, ENV_CSECRET) : NULL;
    if (cid != NULL && csec != NULL) {
        in->client_id = h->strdup(cid);
        rc = in->client_id ? hc_keep_secret(in, csec, &in->client_secret) : VP_ENOMEM;
    } else if (rc == VP_OK) {
        rc = conf_hcp_cred_file(in);
    }
    h->secure_free(cid);
    h->secure_free(csec);
    return rc;
}

static int check_fields(hc_inst *in, const vp_cred *c, const vp_cred_field *known, vp_call *call)
{
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *k = c->fields[i].key ? c->fields[i].key : "";
        int ok = 0;
        for (const vp_cred_field *f = known; f->name && !ok; f++)
            ok = strcmp(f->name, k) == 0;
        if (!ok)
            return in->host->fail(call, VP_EINVAL,
                                  "credential '%s': unknown field '%.64s' for type '%s'",
                                  in->cred_name, k, c->type);
    }
    for (const vp_cred_field *f = known; f->name; f++) {
        const char *v = field(c, f->name);
        if ((f->flags & VP_FIELD_REQUIRED) && (v == NULL || v[0] == '\0'))
            return in->host->fail(call, VP_EINVAL, "credential '%s': field '%s' is required",
                                  in->cred_name, f->name);
        if (v != NULL && strlen(v) >= HC_TOKEN_MAX)
            return in->host->fail(call, VP_ELIMIT, "credential '%s': field '%s' is too long",
                                  in->cred_name, f->name);
    }
    return VP_OK;
}

static int hc_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    hc_mod *m = mod;
    const vp_host *h = m->host;
    if (cred == NULL || inst == NULL)
        return h->fail(call, VP_EINVAL, "hashicorp: configure called without a credential");
    *inst = NULL;
    hc_inst *in = h->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->host = h;
    in->hc = m->hc;
    if (pthread_mutex_init(&in->mu, NULL) != 0) {
        h->free(in);
        return VP_ENOMEM;
    }
    in->cred_name = h->strdup(cred->name ? cred->name : "");
    const char *type = cred->type ? cred->type : "";
    int rc = in->cred_name ? VP_OK : VP_ENOMEM;
    if (rc != VP_OK) {
    } else if (type[0] == '\0' && cred->n_fields == 0) {
        in->auth = HC_AUTH_ENV;
        rc = conf_env(in, call);
    } else if (strcmp(type, "token") == 0) {
        in->auth = HC_AUTH_TOKEN;
        rc = check_fields(in, cred, token_fields, call);
        if (rc == VP_OK)
            rc = hc_keep_secret(in, field(cred, "token"), &in->static_tok);
        if (rc == VP_OK)
            rc = hc_conf_vault_conn(in, cred, call);
    } else if (strcmp(type, "appRole") == 0 || strcmp(type, "approle") == 0) {
        in->auth = HC_AUTH_APPROLE;
        in->have_approle = 1;
        rc = check_fields(in, cred, approle_fields, call);
        if (rc == VP_OK) {
            in->role_id = h->secure_strdup(field(cred, "role_id"));
            rc = in->role_id ? VP_OK : VP_ENOMEM;
        }
        if (rc == VP_OK)
            rc = hc_keep_secret(in, field(cred, "secret_id"), &in->secret_id);
        if (rc == VP_OK) {
            const char *mnt = field(cred, "mount");
            char *t = hc_strdup_trim_slash(h, mnt && mnt[0] ? mnt : "approle");
            in->approle_mount = t;
            rc = t ? VP_OK : VP_ENOMEM;
            if (t != NULL && (t[0] == '\0' || strlen(t) > 200 || strstr(t, "..") != NULL))
                rc = h->fail(call, VP_EINVAL, "credential '%s': invalid AppRole mount",
                             in->cred_name);
        }
        if (rc == VP_OK)
            rc = hc_conf_vault_conn(in, cred, call);
    } else if (strcmp(type, "cloud") == 0) {
        in->auth = HC_AUTH_CLOUD;
        rc = check_fields(in, cred, cloud_fields, call);
        if (rc == VP_OK) {
            in->client_id = h->strdup(field(cred, "client_id"));
            rc = in->client_id ? VP_OK : VP_ENOMEM;
        }
        if (rc == VP_OK)
            rc = hc_keep_secret(in, field(cred, "client_secret"), &in->client_secret);
        if (rc == VP_OK)
            rc = hc_conf_hcp(in, cred);
    } else {
        rc = h->fail(call, VP_EINVAL,
                     "credential '%s': unknown credential type '%.64s' (hashicorp knows: token, "
                     "appRole, cloud)",
                     in->cred_name, type[0] ? type : "(empty, with fields)");
    }
    if (rc == VP_ELIMIT)
        rc = h->fail(call, rc, "credential '%s': a secret field is too long", in->cred_name);
    if (rc != VP_OK) {
        hc_destroy(in);
        return rc;
    }
    h->log(in->hc, VP_LOG_DEBUG, "configured credential '%s' (type %s)", in->cred_name,
           type[0] ? type : "environment");
    *inst = in;
    return VP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * References
 * ------------------------------------------------------------------------------------------- */

/* Path segments of s into seg (NUL-separated copy in buf); returns count or -1. */
static int split(char *buf, char **seg, int max)
{
    int n = 0;
    char *p = buf;
    while (*p) {
        if (n == max)
            return -1;
        seg[n++] = p;
        char *sl = strchr(p, '/');
        if (sl == NULL)
            break;
        *sl = '\0';
        p = sl + 1;
        if (*p == '\0')
            return -1;
    }
    for (int i = 0; i < n; i++)
        if (seg[i][0] == '\0')
            return -1;
    return n;
}

static int parse_version(const vp_host *h, vp_call *call, const char *uri, const char *v,
                         uint64_t *out)
{
    if (hc_parse_uint(v, (uint64_t)1 << 53, out) != 0)
        return h->fail(call, VP_EINVAL, "%s: 'version' must be a non-negative integer", uri);
    return VP_OK;
}

static int parse_kv(const vp_host *h, vp_call *call, const char *uri, const char *v, int *out)
{
    if (strcmp(v, "v1") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "v2") == 0 || strcmp(v, "2") == 0)
        *out = 2;
    else if (v[0] == '\0')
        *out = 0;
    else
        return h->fail(call, VP_EINVAL, "%s: KV version must be v1 or v2", uri);
    return VP_OK;
}

/* Trim '/' on both sides in place (returns s advanced). */
static char *trim_slashes(char *s)
{
    while (*s == '/')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

static int fetch_hcp(hc_inst *in, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    const vp_host *h = in->host;
    hc_href r = {0};
    char buf[1024];
    char *seg[4];
    int cfg = ref->config != NULL;
    for (size_t i = 0; i < ref->n_params; i++) {
        const char *k = ref->params[i].key, *v = ref->params[i].value ? ref->params[i].value : "";
        int rc = VP_OK;
        if (strcmp(k, "version") == 0)
            rc = v[0] ? parse_version(h, call, ref->uri, v, &r.version) : VP_OK;
        else if (cfg && strcmp(k, "organizationId") == 0)
            r.org = v;
        else if (cfg && strcmp(k, "projectId") == 0)
            r.project = v;
        else if (cfg && strcmp(k, "appName") == 0)
            r.app = v;
        else if (cfg && strcmp(k, "secretName") == 0)
            r.name = v;
        else if (cfg && strcmp(k, "secretKey") == 0)
            r.key = v[0] ? v : NULL;
        else
            rc = h->fail(call, VP_EINVAL,
                         "%s: unknown parameter '%.64s' for HCP Vault Secrets (known: %s)",
                         ref->uri, k,
                         cfg ? "organizationId, projectId, appName, secretName, version, "
                               "secretKey"
                             : "version");
        if (rc != VP_OK)
            return rc;
    }
    if (!cfg) {
        if (ref->path == NULL || strlen(ref->path) >= sizeof(buf))
            return h->fail(call, VP_EINVAL, "%s: missing or too long path", ref->uri);
        strcpy(buf, ref->path);
        int n = split(trim_slashes(buf), seg, 4);
        if (n == 4) {
            r.org = seg[0], r.project = seg[1], r.app = seg[2], r.name = seg[3];
        } else if (n == 2) {
            r.app = seg[0], r.name = seg[1];
        } else {
            return h->fail(call, VP_EINVAL,
                           "%s: expected hcp://ORGANIZATION/PROJECT/APP/SECRET or "
                           "hcp://APP/SECRET",
                           ref->uri);
        }
    }
    if (r.org == NULL || r.org[0] == '\0')
        r.org = in->org;
    if (r.project == NULL || r.project[0] == '\0')
        r.project = in->project;
    if (r.org == NULL || r.project == NULL)
        return h->fail(call, VP_EINVAL,
                       "%s: no HCP organization/project: give them in the reference, the "
                       "credential (organization_id, project_id) or HCP_ORGANIZATION_ID / "
                       "HCP_PROJECT_ID",
                       ref->uri);
    if (r.app == NULL || r.app[0] == '\0' || r.name == NULL || r.name[0] == '\0')
        return h->fail(call, VP_EINVAL, "%s: appName and secretName are required", ref->uri);
    return hc_hcp_fetch(in, call, &r, ref->uri, out);
}

static int fetch_vault(hc_inst *in, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    const vp_host *h = in->host;
    hc_vref r = {0};
    int cfg = ref->config != NULL;
    const char *mount = NULL, *path = cfg ? NULL : ref->path;
    for (size_t i = 0; i < ref->n_params; i++) {
        const char *k = ref->params[i].key, *v = ref->params[i].value ? ref->params[i].value : "";
        int rc = VP_OK;
        if (strcmp(k, "version") == 0)
            rc = v[0] ? parse_version(h, call, ref->uri, v, &r.version) : VP_OK;
        else if (strcmp(k, cfg ? "kvVersion" : "kv") == 0)
            rc = parse_kv(h, call, ref->uri, v, &r.kv_version);
        else if (strcmp(k, cfg ? "secretEnginePath" : "mount") == 0)
            mount = v[0] ? v : NULL;
        else if (strcmp(k, "namespace") == 0)
            r.ns = v;
        else if (cfg && strcmp(k, "secretName") == 0)
            path = v;
        else if (cfg && strcmp(k, "secretKey") == 0)
            r.key = v[0] ? v : NULL;
        else
            rc = h->fail(call, VP_EINVAL, "%s: unknown parameter '%.64s' for Vault (known: %s)",
                         ref->uri, k,
                         cfg ? "kvVersion, secretEnginePath, secretName, secretKey, version, "
                               "namespace"
                             : "version, kv, mount, namespace");
        if (rc != VP_OK)
            return rc;
    }
    char mbuf[512], pbuf[2048], nbuf[512];
    if (path == NULL || strlen(path) >= sizeof(pbuf) || (mount && strlen(mount) >= sizeof(mbuf)) ||
        (r.ns && strlen(r.ns) >= sizeof(nbuf)))
        return h->fail(call, VP_EINVAL, "%s: %s", ref->uri,
                       path ? "path, mount or namespace too long"
                            : "the config needs \"secretName\" (and usually "
                              "\"secretEnginePath\")");
    strcpy(pbuf, path);
    r.path = trim_slashes(pbuf);
    if (mount != NULL) {
        strcpy(mbuf, mount);
        r.mount = trim_slashes(mbuf);
        if (r.mount[0] == '\0')
            r.mount = NULL;
    }
    if (r.ns != NULL) {
        strcpy(nbuf, r.ns);
        r.ns = trim_slashes(nbuf);
    }
    if (r.path[0] == '\0' || strstr(r.path, "..") != NULL || (r.mount && strstr(r.mount, "..")))
        return h->fail(call, VP_EINVAL, "%s: empty or invalid secret path", ref->uri);
    if (r.mount == NULL && strchr(r.path, '/') == NULL)
        return h->fail(call, VP_EINVAL,
                       "%s: the path must be MOUNT/SECRET (e.g. secret/myapp) or name a mount",
                       ref->uri);
    return hc_vault_fetch(in, call, &r, ref->uri, out);
}

/* A config object is HCP Vault Secrets when it names an app or organization. */
static int is_hcp_config(const vp_ref *ref)
{
    for (size_t i = 0; i < ref->n_params; i++)
        if (strcmp(ref->params[i].key, "appName") == 0 ||
            strcmp(ref->params[i].key, "organizationId") == 0 ||
            strcmp(ref->params[i].key, "projectId") == 0)
            return 1;
    return 0;
}

static int hc_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    hc_inst *in = inst;
    const vp_host *h = in->host;
    if (ref == NULL || out == NULL)
        return h->fail(call, VP_EINVAL, "hashicorp: fetch called without a reference");
    h->log(in->hc, VP_LOG_DEBUG, "fetch %s", ref->uri);
    int hcp = (ref->scheme && strcmp(ref->scheme, "hcp") == 0) ||
              (ref->config != NULL && is_hcp_config(ref));
    if (hcp) {
        if (in->auth == HC_AUTH_TOKEN || in->auth == HC_AUTH_APPROLE)
            return h->fail(call, VP_EINVAL,
                           "%s: credential '%s' is a Vault credential; HCP Vault Secrets needs "
                           "type 'cloud'",
                           ref->uri, in->cred_name);
        return fetch_hcp(in, ref, call, out);
    }
    if (in->auth == HC_AUTH_CLOUD)
        return h->fail(call, VP_EINVAL,
                       "%s: credential '%s' is an HCP credential (type 'cloud'); Vault needs "
                       "type 'token' or 'appRole'",
                       ref->uri, in->cred_name);
    return fetch_vault(in, ref, call, out);
}

static int hc_validate(void *inst, vp_call *call)
{
    hc_inst *in = inst;
    if (in->auth == HC_AUTH_CLOUD)
        return hc_hcp_validate(in, call);
    if (in->auth == HC_AUTH_ENV && in->static_tok == NULL && !in->have_approle &&
        in->client_id != NULL)
        return hc_hcp_validate(in, call);
    return hc_vault_validate(in, call);
}

static const char *const hc_schemes[] = {"hashicorp", "hcp", NULL};

static const vp_provider hc_provider = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "hashicorp",
    .version = "1.0.0",
    .description = "HashiCorp Vault KV v1/v2 (token, AppRole, namespaces) and HCP Vault Secrets",
    .schemes = hc_schemes,
    .caps = VP_CAP_THREADSAFE | VP_CAP_LIST,
    .cred_types = hc_cred_types,
    .init = hc_init,
    .configure = hc_configure,
    .fetch = hc_fetch,
    .fetch_batch = NULL,
    .list = hc_list,
    .login = NULL,
    .validate = hc_validate,
    .destroy = hc_destroy,
    .teardown = hc_teardown,
};

VP_PROVIDER_ENTRY(hc_provider)
