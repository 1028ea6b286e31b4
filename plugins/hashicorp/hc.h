/*
 * hc.h - internals of the hashicorp provider (HashiCorp Vault KV and HCP Vault Secrets).
 *
 * Layout: hashicorp.c (provider table, credentials, reference parsing, dispatch), hc_inso.c
 * (the empty credential from Inso's INSOMNIA_HASHICORP_* variables), hc_util.c
 * (strings, URLs, HTTP helper, status mapping), hc_parse.c (pure response parsers, also used by
 * the fuzz target), hc_vault.c (Vault tokens, AppRole, KV reads, mount detection), hc_hcp.c
 * (HCP client-credentials token and :open reads).
 */
#ifndef VP_HASHICORP_HC_H
#define VP_HASHICORP_HC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <vaultplug/provider.h>

#define HC_MSG_MAX      320
#define HC_URL_MAX      4096
#define HC_MAX_MOUNTS   64
#define HC_FIELD_MAX    4096
#define HC_TOKEN_MAX    8192
#define HC_DEFAULT_ADDR "https://127.0.0.1:8200"
#define HC_HCP_AUTH_URL "https://auth.idp.hashicorp.com"
#define HC_HCP_API_URL  "https://api.cloud.hashicorp.com"
#define HC_HCP_AUDIENCE "https://api.hashicorp.cloud"
#define HC_HVS_API_VER  "2023-11-28"

/* Where an error message goes: the call (single fetch) or a message buffer (parsers). */
typedef struct hc_err {
    char msg[HC_MSG_MAX];
    uint32_t retry_after_ms; /* from Retry-After, 0 = none */
} hc_err;

int hc_errf(hc_err *e, int status, const char *fmt, ...) VP_SDK_PRINTF(3, 4);

typedef enum hc_auth {
    HC_AUTH_ENV = 0, /* empty credential: INSOMNIA_HASHICORP_TYPE, or VAULT_TOKEN / HCP_* */
    HC_AUTH_TOKEN,
    HC_AUTH_APPROLE,
    HC_AUTH_CLOUD
} hc_auth;

typedef struct hc_mount {
    char *ns;   /* namespace the detection ran in ("" = root) */
    char *path; /* mount path with trailing '/' */
    int version;
} hc_mount;

typedef struct hc_inst {
    const vp_host *host;
    vp_host_ctx *hc;
    char *cred_name;
    hc_auth auth;

    /* Vault connection (immutable after configure) */
    char *addr; /* without trailing '/' */
    char *ns;   /* default namespace, NULL = none */
    int ns_header;
    char *ca_file, *ca_path;
    int skip_verify;
    char *approle_mount;
    char *role_id;    /* secure */
    char *secret_id;  /* secure, masked; may be NULL */
    char *static_tok; /* secure, masked: token credential / environment; NULL = none */
    int have_approle; /* role_id set (approle credential or environment) */
    char noauth[192]; /* why there is no Vault credential (env chain), "" if there is */

    /* HCP (immutable after configure) */
    char *client_id;     /* plain (an identifier) */
    char *client_secret; /* secure, masked */
    char *org, *project;
    char *auth_url, *api_url;
    char hcp_noauth[192]; /* why there are no HCP credentials, "" = the generic message */

    /* Mutable state, guarded by mu */
    pthread_mutex_t mu;
    char *token; /* secure, masked: the Vault token in use */
    size_t token_len;
    int token_checked;    /* lifetime known (login or lookup-self) */
    int64_t token_exp_ms; /* monotonic expiry, 0 = never */
    int64_t token_ttl_ms; /* lifetime granted at login/renewal */
    int token_renewable;
    hc_mount mounts[HC_MAX_MOUNTS];
    size_t n_mounts;
    char *hcp_token; /* secure, masked */
    size_t hcp_token_len;
    int64_t hcp_exp_ms;
} hc_inst;

/* ---- hashicorp.c: credential configuration helpers (also used by hc_inso.c) ---------------- */

/* First set, non-empty environment variable of the NULL-terminated names (secure copy), or
 * NULL. */
char *hc_env_any(const hc_inst *in, const char *const *names);
/* Keep a secret in secure memory, masked; v NULL or "" gives *out = NULL. VP_ELIMIT if too
 * long. */
int hc_keep_secret(hc_inst *in, const char *v, char **out);
/* Vault connection settings: the credential's fields (c may be NULL), else VAULT_*, else the
 * defaults. */
int hc_conf_vault_conn(hc_inst *in, const vp_cred *c, vp_call *call);
/* HCP settings: the credential's fields (c may be NULL), else HCP_*, else the hosted service. */
int hc_conf_hcp(hc_inst *in, const vp_cred *c);

/* ---- hc_inso.c ----------------------------------------------------------------------------- */

/* Configure the empty credential from INSOMNIA_HASHICORP_TYPE = type (onPrem or cloud) and the
 * variables it needs; VP_EINVAL naming the variable when one is missing or a value unknown. */
int hc_conf_inso(hc_inst *in, const char *type, vp_call *call);
/* Without INSOMNIA_HASHICORP_TYPE: warn (naming it, no value) if one of Inso's variables is set,
 * since it is ignored. */
void hc_inso_warn_untyped(hc_inst *in);

/* ---- hc_util.c ----------------------------------------------------------------------------- */

char *hc_strdup_trim_slash(const vp_host *h, const char *s);
int hc_truthy(const char *v);
int hc_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* Copy a server-provided message into dst, printable ASCII only, capped. */
void hc_clean_msg(char *dst, size_t cap, const char *src, size_t len);

/* One HTTP exchange. Returns host->http's status (message in e) or 0 with *resp. */
typedef struct hc_req {
    const char *method;
    const char *url;
    const char *token;      /* X-Vault-Token / Bearer (secret), NULL = none */
    int bearer;             /* send token as Authorization: Bearer */
    const char *namespace_; /* X-Vault-Namespace value, NULL = none */
    int vault;              /* send X-Vault-Request: true */
    const char *ctype;      /* Content-Type, NULL = none */
    const char *basic;      /* Authorization: Basic value (secret), NULL = none */
    const void *body;
    size_t body_len;
    int body_secret;
} hc_req;

int hc_http(const hc_inst *in, vp_call *call, const hc_req *rq, vp_http_response **resp);

/* Report status + message on the call (fetch) and the Retry-After hint. */
int hc_fail(const hc_inst *in, vp_call *call, int status, const hc_err *e);

/* ---- hc_parse.c ---------------------------------------------------------------------------- */

/* Map a Vault error response (status + {"errors":[...]}) to a vp status and message. `what`
 * names the object (a path) for the message. */
int hc_vault_error(const vp_host *h, long status, const char *body, size_t len, const char *what,
                   hc_err *e);

/* Result of a KV read: the value to hand out (secure memory, host->secure_free) and version. */
typedef struct hc_kv_result {
    char *value; /* secure */
    size_t len;
    char version[32];
    uint32_t ttl_s; /* lease_duration hint, 0 = none */
} hc_kv_result;

/* Parse a KV v1/v2 read response (any status). key = field to select or NULL for the whole
 * data object as JSON. */
int hc_parse_kv(const vp_host *h, int kv_version, long status, const char *body, size_t len,
                const char *what, const char *key, hc_kv_result *out, hc_err *e);

/* sys/internal/ui/mounts response: mount path (malloc, trailing '/') and KV version. */
int hc_parse_mount(const vp_host *h, long status, const char *body, size_t len, const char *what,
                   char **mount, int *version, hc_err *e);

/* auth block from login / renew-self, or data block from lookup-self. token: secure copy of
 * auth.client_token (login only; NULL when want_token is 0). ttl_s 0 = never expires. */
int hc_parse_auth(const vp_host *h, int lookup, long status, const char *body, size_t len,
                  int want_token, char **token, int64_t *ttl_s, int *renewable, hc_err *e);

/* HCP: token endpoint response. */
int hc_parse_hcp_token(const vp_host *h, long status, const char *body, size_t len, char **token,
                       int64_t *expires_in, hc_err *e);
/* HCP: :open response (wrapped or not); key selects a field of rotating/dynamic values. */
int hc_parse_hcp_secret(const vp_host *h, long status, const char *body, size_t len,
                        const char *what, const char *key, hc_kv_result *out, hc_err *e);
/* Map an HCP grpc-gateway error body. */
int hc_hcp_error(const vp_host *h, long status, const char *body, size_t len, const char *what,
                 hc_err *e);

/* Select `key` from a JSON object into a secure string (strings raw, others as JSON), or the
 * whole object as JSON when key is NULL. */
int hc_select(const vp_host *h, const vp_json *obj, const char *key, const char *what,
              hc_kv_result *out, hc_err *e);

/* ---- hc_vault.c / hc_hcp.c ----------------------------------------------------------------- */

typedef struct hc_vref {
    const char *ns;    /* namespace override or NULL */
    const char *mount; /* NULL = detect from path */
    const char *path;  /* secret path (below mount when mount given, else full) */
    const char *key;   /* field to select, NULL = whole data object */
    int kv_version;    /* 0 = detect */
    uint64_t version;  /* 0 = latest */
} hc_vref;

int hc_vault_fetch(hc_inst *in, vp_call *call, const hc_vref *r, const char *uri,
                   vp_secret_out *out);
int hc_vault_validate(hc_inst *in, vp_call *call);
void hc_vault_forget_token(hc_inst *in);
/* The pieces of a Vault request hc_list.c shares with reads (hc_vault.c): a usable token
 * (secure copy), the mount and KV version holding path, one request without a body, and whether
 * a 403 is the token (VP_EAUTH) or the policy (VP_EPERM). */
int hc_vault_token(hc_inst *in, vp_call *call, const char *ns, int force, char **tok, hc_err *e);
int hc_vault_detect(hc_inst *in, vp_call *call, const char *ns, const char *path, const char *tok,
                    char **mount, int *version, hc_err *e);
int hc_vault_req(const hc_inst *in, vp_call *call, const char *method, const char *ns,
                 const char *rest, const char *query, const char *token, vp_http_response **resp);
int hc_vault_classify_403(hc_inst *in, vp_call *call, const char *ns, hc_err *e);

/* hc_list.c: list one level of a KV mount (VP_CAP_LIST). */
int hc_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out);

typedef struct hc_href {
    const char *org, *project, *app, *name;
    const char *key;
    uint64_t version;
} hc_href;

int hc_hcp_fetch(hc_inst *in, vp_call *call, const hc_href *r, const char *uri, vp_secret_out *out);
int hc_hcp_validate(hc_inst *in, vp_call *call);
/* A secure copy of a usable HCP token (force: the last one was refused), for hc_list.c. */
int hc_hcp_token(hc_inst *in, vp_call *call, int force, char **tok, hc_err *e);
void hc_hcp_forget_token(hc_inst *in);

#endif
