/*
 * gcp - internal header of the GCP Secret Manager provider (plugins/gcp).
 *
 * Files:
 *   gcp.c       provider table, configure/destroy, fetch, validate
 *   gcp_cred.c  credential sources: explicit types, Application Default Credentials, key files
 *   gcp_token.c OAuth tokens: JWT bearer grant, refresh grant, metadata server, the token cache
 *   gcp_name.c  secretName forms -> project/location/secret/version, request URLs
 *   gcp_resp.c  response parsing (access payload + CRC32C, tokens) and error mapping
 *
 * Only <vaultplug/provider.h> and libc: everything else comes from the host table.
 */
#ifndef VP_GCP_H
#define VP_GCP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <vaultplug/provider.h>

#define GCP_URL_MAX      2048
#define GCP_MSG_MAX      320
#define GCP_FILE_MAX     (64u * 1024)  /* credential files, gcloud config */
#define GCP_VALUE_MAX    (64u * 1024)  /* Secret Manager payloads are at most 64 KiB */
#define GCP_RESPONSE_MAX (256u * 1024) /* base64 of 64 KiB plus JSON framing, with room */
#define GCP_TOKEN_MAX    8192          /* access/refresh tokens (Google's are < 2 KiB) */

/* Refresh a token this long before it expires (google-auth REFRESH_THRESHOLD, 3 min 45 s). */
#define GCP_REFRESH_MARGIN_MS (225 * 1000)

#define GCP_DEFAULT_ENDPOINT  "https://secretmanager.googleapis.com"
#define GCP_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define GCP_DEFAULT_MD_HOST   "metadata.google.internal"
#define GCP_DEFAULT_MD_IP     "169.254.169.254"
#define GCP_SCOPE             "https://www.googleapis.com/auth/cloud-platform"

typedef struct gcp_mod {
    const vp_host *host;
    vp_host_ctx *hc;
} gcp_mod;

typedef enum gcp_kind {
    GCP_KIND_NONE = 0,        /* default chain found nothing (error on first use) */
    GCP_KIND_ACCESS_TOKEN,    /* a raw bearer token */
    GCP_KIND_SERVICE_ACCOUNT, /* key file -> RS256 JWT bearer grant */
    GCP_KIND_AUTHORIZED_USER, /* refresh-token grant */
    GCP_KIND_METADATA         /* GCE/Cloud Run/GKE metadata server */
} gcp_kind;

/*
 * One configured credential. Everything above `lock` is written by configure() only; the token
 * cache and the lazily learnt metadata facts below it are guarded by `lock`, which is held
 * across a token request so that concurrent fetches share one refresh.
 */
typedef struct gcp_inst {
    const vp_host *host;
    vp_host_ctx *hc;
    char *cred_name; /* plain: names appear in messages */
    char *origin;    /* plain: where the credential came from, for messages */
    gcp_kind kind;
    char *none_reason; /* GCP_KIND_NONE: why the default chain found nothing (plain) */

    char *endpoint;      /* Secret Manager base URL override without trailing '/', or NULL */
    char *token_uri;     /* token endpoint (service_account, authorized_user) */
    char *ca_file;       /* CA bundle for every request of this credential, or NULL */
    char *project;       /* default project for short names, or NULL */
    char *quota_project; /* x-goog-user-project, or NULL */
    char *md_host;       /* metadata server host[:port] */
    char *md_ping_host;  /* metadata detection host[:port] */
    uint32_t md_timeout_ms;
    int no_gce_check;

    char *sa_email;  /* plain */
    char *sa_key_id; /* plain: a key id is an identifier */
    char *sa_pem;    /* secure, masked */
    size_t sa_pem_len;
    char *client_id;     /* plain */
    char *client_secret; /* secure, masked */
    char *refresh_token; /* secure, masked */
    char *static_token;  /* secure, masked: access_token type */
    size_t static_token_len;

    pthread_mutex_t lock;
    int lock_ready;
    char *token; /* secure, masked; NULL = none cached */
    size_t token_len;
    int64_t token_expiry_ms; /* monotonic clock */
    int md_probed;           /* metadata detection done */
    int md_available;
    char *md_project; /* plain: project id learnt from the metadata server */
} gcp_inst;

/* ---- gcp_cred.c --------------------------------------------------------------------------- */

/* Fill in from the credential (explicit type or the default chain); see docs/providers/gcp.md.
 * Returns 0 or a status with a message on call. */
int gcp_cred_configure(gcp_inst *in, const vp_cred *cred, vp_call *call);
/* Release everything configure and the token cache allocated (not `in` itself). */
void gcp_cred_release(gcp_inst *in);

/* Shared helpers for the credential code. */
char *gcp_strndup_plain(const vp_host *h, const char *s, size_t n);
/* Replace *dst (secure memory, masked) with a masked secure copy of s[0..n). */
int gcp_set_secret(gcp_inst *in, char **dst, size_t *dst_len, const char *s, size_t n);
void gcp_drop_secret(gcp_inst *in, char **p, size_t len);

/* ---- gcp_token.c -------------------------------------------------------------------------- */

/* A copy (secure memory, release with secure_free) of a bearer token valid for at least a
 * little while: from the cache, or obtained now (one request shared by concurrent callers). */
/* GET url (a Secret Manager API URL) with the instance's access token and headers. VP_OK with
 * *out the 200 response (release with http_free); otherwise the mapped status, with the call's
 * message naming `what` (a 401 also drops the cached token so the next attempt gets a fresh
 * one). */
int gcp_get(gcp_inst *in, vp_call *call, const char *url, const char *what, vp_http_response **out);
int gcp_token_get(gcp_inst *in, vp_call *call, char **token, size_t *len);
/* Forget the cached token if it is still `token` (the service said 401). */
void gcp_token_invalidate(gcp_inst *in, const char *token, size_t len);
/* Project id from the metadata server (cached); for short names on GCE. */
int gcp_metadata_project(gcp_inst *in, vp_call *call, char *out, size_t cap);
/* validate() of an access_token credential: POST the token to the tokeninfo endpoint. */
int gcp_token_check_static(gcp_inst *in, vp_call *call);

/* ---- gcp_name.c --------------------------------------------------------------------------- */

typedef struct gcp_name {
    char project[128];
    char location[64];
    char secret[256];
    char version[64];
} gcp_name;

/* Split a secretName / URI path: "S", "P/S", "projects/P/secrets/S[/versions/V]" or
 * "projects/P/locations/L/secrets/S[/versions/V]". Fields the name does not give stay "".
 * Returns 0, or -1 with a reason (no input echoed) in why. */
int gcp_name_parse(const char *s, gcp_name *n, char *why, size_t why_cap);
/* Check one component: 'p'roject, 'l'ocation, 's'ecret, 'v'ersion. 0 or -1. */
int gcp_name_check(char what, const char *s);
/* The :access URL of n (all fields set except location, which may be ""). 0 or -1 (too long). */
int gcp_access_url(const char *endpoint, const gcp_name *n, char *out, size_t cap);

/* ---- gcp_list.c --------------------------------------------------------------------------- */

/* list() (VP_CAP_LIST): secrets.list of one project with pageToken paging. */
int gcp_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out);

/* ---- gcp_resp.c --------------------------------------------------------------------------- */

/* Parse a 200 response of versions.access: decode payload.data into *value (secure memory,
 * release with secure_free; NUL-terminated), verify payload.dataCrc32c when present, and copy
 * the version number from `name` into version (may be ""). VP_EPROTO on any malformation or a
 * CRC mismatch (the value is wiped and not returned). `what` names the secret in messages. */
int gcp_parse_access(const vp_host *h, vp_call *call, const char *body, size_t len,
                     const char *what, char **value, size_t *value_len, char *version,
                     size_t version_cap);
/* Map a non-200 Secret Manager response (google.rpc.Status JSON, or anything else) to a status
 * with a message naming `what`; sets the Retry-After hint for 429/503. */
int gcp_map_error(const vp_host *h, vp_call *call, long status, const char *retry_after,
                  const char *body, size_t len, const char *what);
/* Parse an OAuth token response: *token (secure, NUL-terminated) and its lifetime in seconds
 * (3600 when the server gives none). `source` names the credential in messages. */
int gcp_parse_token(const vp_host *h, vp_call *call, const char *body, size_t len,
                    const char *source, char **token, size_t *token_len, int64_t *expires_in_s);
/* Map a failed token response (OAuth error JSON or anything else). */
int gcp_map_token_error(const vp_host *h, vp_call *call, long status, const char *retry_after,
                        const char *body, size_t len, const char *source);
/* Retry-After header (delta seconds) -> call hint. */
void gcp_retry_after(const vp_host *h, vp_call *call, const char *value);

#endif
