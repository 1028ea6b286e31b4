/*
 * azure_int - shared declarations of the Azure Key Vault provider (azure.c: table, instances,
 * fetch; az_kv.c: Key Vault wire format; az_token.c: Entra ID / managed identity tokens;
 * az_login.c: interactive sign-in; az_util.c: strings, URLs, forms).
 *
 * Only <vaultplug/provider.h> and libc: everything else comes from the host table.
 */
#ifndef VP_AZURE_INT_H
#define VP_AZURE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <vaultplug/provider.h>

#define AZ_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define AZ_DEFAULT_TENANT    "organizations"
/* The well-known public client of the Azure CLI; users may register their own app. */
#define AZ_DEFAULT_CLIENT_ID   "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
#define AZ_DEFAULT_API_VERSION "7.4"
#define AZ_IMDS_HOST           "http://169.254.169.254"
#define AZ_LOGIN_SCOPE         "https://vault.azure.net/user_impersonation openid profile offline_access"
#define AZ_VAULT_RESOURCE      "https://vault.azure.net"

#define AZ_HOST_MAX    256
#define AZ_TENANT_MAX  128
#define AZ_SCOPE_MAX   256
#define AZ_NAME_MAX    127
#define AZ_VERSION_MAX 64
#define AZ_MSG_MAX     512
#define AZ_MAX_TOKENS  16
#define AZ_MAX_CHALS   32
/* Refresh an access token this long before it expires. */
#define AZ_EXPIRY_SKEW_MS (300 * 1000)

/* ---- small helpers (az_util.c) -------------------------------------------------------- */

/* Copy of [s, s+n) in plain memory (host->malloc), NUL-terminated; NULL on OOM. */
char *az_strndup(const vp_host *h, const char *s, size_t n);
/* Copy into secure memory. */
char *az_secure_strndup(const vp_host *h, const char *s, size_t n);
/* First line of s, control characters dropped, at most cap-1 bytes (for error descriptions). */
void az_clean_line(char *out, size_t cap, const char *s);
/* Parse a non-negative decimal (at most 18 digits); -1 if malformed. */
int az_parse_i64(const char *s, int64_t *out);
/* Short text for a status (messages). */
const char *az_status_str(int rc);

/* ---- parsers (az_kv.c / az_token.c); pure, fuzzed by fuzz/fuzz_azure.c -------------------- */

/* A parsed WWW-Authenticate Bearer challenge. */
typedef struct az_challenge {
    char tenant[AZ_TENANT_MAX];
    char scope[AZ_SCOPE_MAX];        /* scope, or resource + "/.default" */
    char resource_host[AZ_HOST_MAX]; /* host of resource/scope, lower case */
    int has_claims;
} az_challenge;
/* 0, or VP_EPROTO when the header is not a usable Bearer challenge. */
int az_parse_challenge(const vp_host *h, const char *header, az_challenge *out);
/* Non-zero if the challenge's resource host is the vault host's domain (or a parent of it). */
int az_challenge_domain_ok(const az_challenge *c, const char *vault_host);

/* A parsed Key Vault secret identifier / reference. */
typedef struct az_secret_id {
    char host[AZ_HOST_MAX]; /* myvault.vault.azure.net */
    char name[AZ_NAME_MAX + 1];
    char version[AZ_VERSION_MAX + 1]; /* "" = latest */
} az_secret_id;
/* "https://host/secrets/name[/version][/]" or "host/name[/version]" (short form). 0 or
 * VP_EINVAL with a reason in why. */
int az_parse_secret_uri(const char *s, int short_form, az_secret_id *out, char *why, size_t cap);
int az_vault_host_ok(const char *host);

/* Key Vault error body: code, innermost innererror code, message (first line). */
typedef struct az_kv_error {
    char code[64];
    char inner[64];
    char message[AZ_MSG_MAX];
} az_kv_error;
void az_parse_kv_error(const vp_host *h, const char *body, size_t len, az_kv_error *out);

/* SecretBundle: value (borrowed from the tree *root, which the caller frees), version, exp. */
int az_parse_secret_bundle(const vp_host *h, const char *body, size_t len, vp_json **root,
                           const char **value, size_t *value_len, char *version, size_t vcap,
                           int64_t *exp_unix);

/* Entra ID / managed identity token response. Strings are secure copies (free with
 * az_token_resp_clear). expires_at_ms is absolute (wall clock). */
typedef struct az_token_resp {
    char *access_token;
    size_t access_len;
    char *refresh_token;
    size_t refresh_len;
    char *id_token;
    int64_t expires_at_ms;
    char error[64];
    char error_desc[AZ_MSG_MAX];
    int has_error;
} az_token_resp;
int az_parse_token_resp(const vp_host *h, const char *body, size_t len, int64_t now_ms,
                        az_token_resp *out);
void az_token_resp_clear(const vp_host *h, az_token_resp *t);
/* Account (preferred_username / upn / email / unique_name) and tid from an id token's payload
 * (no signature check: it came straight from the token endpoint over TLS). */
void az_id_token_claims(const vp_host *h, const char *jwt, char *account, size_t acap, char *tid,
                        size_t tcap);

/* ---- module and instance (azure.c) -------------------------------------------------------- */

/* Environment-derived settings (read when an instance is configured or a login starts). */
typedef struct az_env {
    char *authority; /* AZURE_AUTHORITY_HOST or the default, no trailing '/' */
    char *vault_url; /* VAULTPLUG_AZURE_VAULT_URL: base URL every vault request goes to */
    char *ca_file;   /* VAULTPLUG_AZURE_CA_FILE */
    char *imds_host; /* AZURE_POD_IDENTITY_AUTHORITY_HOST or the IMDS address */
    int allow_http;  /* VAULTPLUG_AZURE_ALLOW_HTTP=1: test-only, tokens over plain http */
} az_env;

typedef struct az_mod {
    const vp_host *host;
    vp_host_ctx *hc;
} az_mod;

typedef enum az_kind {
    AZ_KIND_USER = 1,  /* signed in with vaultplug login azure: refresh token */
    AZ_KIND_SECRET,    /* client credentials with a client secret */
    AZ_KIND_WORKLOAD,  /* federated token file (AKS workload identity) */
    AZ_KIND_IMDS,      /* managed identity through the instance metadata service */
    AZ_KIND_APPSERVICE /* managed identity through IDENTITY_ENDPOINT */
} az_kind;

typedef struct az_token {
    char tenant[AZ_TENANT_MAX];
    char scope[AZ_SCOPE_MAX];
    char *token; /* secure, masked */
    size_t len;
    int64_t exp_ms; /* wall clock; 0 = unknown */
} az_token;

typedef struct az_chal_entry {
    char host[AZ_HOST_MAX];
    az_challenge c;
} az_chal_entry;

typedef struct az_inst {
    const vp_host *host;
    vp_host_ctx *hc;
    char *cred_name;
    az_kind kind;
    int from_chain; /* the empty credential picked this kind from the environment */
    az_env env;
    char *tenant;    /* plain */
    char *client_id; /* plain; may be NULL for managed identity */
    char *token_file;
    char *identity_endpoint;
    char *secret; /* secure, masked: client secret, refresh token or identity header */
    size_t secret_len;

    pthread_mutex_t lock; /* guards everything below and `secret` of user credentials */
    az_token toks[AZ_MAX_TOKENS];
    size_t n_toks;
    az_chal_entry chals[AZ_MAX_CHALS];
    size_t n_chals;
} az_inst;

void az_env_load(const vp_host *h, vp_host_ctx *hc, az_env *e);
void az_env_free(const vp_host *h, az_env *e);
/* host->http with the provider's CA bundle; refuses plain http for requests carrying a token or
 * a client secret unless allow_http (or `local_ok`: IMDS / App Service endpoints). */
int az_http(const vp_host *h, const az_env *e, vp_call *call, const char *method, const char *url,
            const vp_http_header *hdrs, size_t n_hdrs, const char *body, size_t body_len,
            int sensitive, int local_ok, uint32_t timeout_ms, vp_http_response **resp);

/* az_token.c: a bearer token for (tenant, scope) of the challenge, under in->lock. `force`
 * drops a cached token first (after a 401). *tok is a secure copy (free with secure_free). */
/* azure.c: a GET on a vault through the challenge flow (final response in *out, any status),
 * and the status + message for a failed Key Vault response. */
int az_vault_get(az_inst *in, vp_call *call, const az_secret_id *id, const char *url,
                 vp_http_response **out);
int az_map_kv_error(az_inst *in, vp_call *call, const az_secret_id *id, vp_http_response *resp);
/* az_list.c: list() (VP_CAP_LIST): the secrets of one vault, following nextLink. */
int az_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out);
int az_get_token(az_inst *in, vp_call *call, const char *tenant, const char *scope, int force,
                 char **tok, size_t *tok_len);
void az_tokens_clear(az_inst *in);
/* Seed the cache with a token (user credentials carry the access token from sign-in). */
void az_token_put(az_inst *in, const char *tenant, const char *scope, const char *tok, size_t len,
                  int64_t exp_ms);

/* Token endpoint POST (form body, secure); maps Entra errors. */
int az_token_request(const vp_host *h, vp_host_ctx *hc, const az_env *e, vp_call *call,
                     const char *tenant, vp_sb *form, az_token_resp *out);

/* az_login.c: the provider's login() entry point. */
int az_login(void *mod, const vp_kv *options, size_t n_options, vp_call *call, vp_cred_out *out);

#endif
