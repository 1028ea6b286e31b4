/*
 * aws_int.h - internals shared by the files of the AWS Secrets Manager provider.
 *
 * Files: aws.c (provider table, configure, fetch, validate), sm.c (Secrets Manager requests and
 * response parsing), creds.c (credential types and the default chain), creds_remote.c (STS,
 * SSO, container and instance-metadata credential sources), sigv4.c (Signature Version 4),
 * util.c (INI files, timestamps, XML elements). Everything goes through the host
 * table: the module links nothing but libc.
 */
#ifndef VP_AWS_INT_H
#define VP_AWS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <vaultplug/provider.h>

#define AWS_MSG_MAX        512
#define AWS_TEXT_MAX       ((size_t)4 * 1024 * 1024) /* hard cap of any built string */
#define AWS_FILE_MAX       ((size_t)1024 * 1024)     /* config/credentials/cache files */
#define AWS_REFRESH_MS     ((int64_t)5 * 60 * 1000)  /* refresh temporary creds this early */
#define AWS_BATCH_MAX      20                        /* ids per BatchGetSecretValue call */
#define AWS_BATCH_PAGES    16                        /* NextToken pages followed per call */
#define AWS_PROFILE_DEPTH  4                         /* source_profile chain limit */
#define AWS_SIGV4_ALG      "AWS4-HMAC-SHA256"
#define AWS_EMPTY_SHA256   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AWS_DEFAULT_STAGE  "AWSCURRENT"
#define AWS_IMDS_DEFAULT   "http://169.254.169.254"
#define AWS_ECS_DEFAULT    "http://169.254.170.2"
#define AWS_SSO_CACHE_DIR  "~/.aws/sso/cache"
#define AWS_DEFAULT_CREDS  "~/.aws/credentials"
#define AWS_DEFAULT_CONFIG "~/.aws/config"

/* ---- small helpers ----------------------------------------------------------------------- */
char *aws_strndup(const vp_host *h, const char *s, size_t n);
char *aws_sstrndup(const vp_host *h, const char *s, size_t n); /* secure copy */
/* Wipe and release a secure string (NULL-safe). */
void aws_sfree(const vp_host *h, char *s);
/* Parse an RFC 3339 time ("2024-01-15T13:00:00Z", "...+00:00", fractions; also "...UTC" and no
 * zone, as AWS tools write) into Unix ms with host->time_parse. 0 or -1. */
int aws_parse_time(const vp_host *h, const char *s, int64_t *ms);
/* "YYYYMMDDTHHMMSSZ" of a Unix ms time. */
void aws_amzdate(int64_t unix_ms, char out[17]);
/* Value of `key` in section `section` of INI text, trimmed, as a secure copy; NULL if absent.
 * Indented lines (nested sub-sections) are ignored. */
char *aws_ini_get(const vp_host *h, const char *text, const char *section, const char *key);
/* Value of `key` in the indented sub-section `sub` ("secrets_manager =" followed by indented
 * "key = value" lines) of `section`, as a secure copy; NULL if absent. */
char *aws_ini_get_nested(const vp_host *h, const char *text, const char *section, const char *sub,
                         const char *key);
/* Non-zero if the section exists. */
int aws_ini_has_section(const char *text, const char *section);
/* Text of the first <tag>...</tag> in xml, entity-decoded, as a secure copy; NULL if absent. */
char *aws_xml_get(const vp_host *h, const char *xml, size_t len, const char *tag);
/* The Host header of an http(s) URL ("host[:port]", default ports dropped), parsed with
 * host->url_parse, into out; -1 if malformed, with userinfo, or too long. */
int aws_url_host(const vp_host *h, const char *url, char *out, size_t cap);
/* Region from an ARN "arn:PART:secretsmanager:REGION:..." into out; 0 or -1. */
int aws_arn_region(const char *arn, char *out, size_t cap);
/* Non-zero if s looks like an AWS region name. */
int aws_region_valid(const char *s);

/* ---- SigV4 ------------------------------------------------------------------------------- */
typedef struct aws_hdr {
    const char *name;
    const char *value;
} aws_hdr;

typedef struct aws_sigv4_req {
    const char *method;
    const char *path;       /* as sent; normalised and URI-encoded once more for the signature */
    const char *query;      /* without '?'; NULL or "" = none */
    const aws_hdr *headers; /* every header to sign (host and x-amz-date included) */
    size_t n_headers;
    const void *body;
    size_t body_len;
    const char *akid, *secret, *region, *service;
    const char *amzdate; /* "YYYYMMDDTHHMMSSZ" */
} aws_sigv4_req;

typedef struct aws_sigv4_res {
    char *creq;  /* canonical request (secure memory: it holds the session token) */
    char *sts;   /* string to sign (plain) */
    char *authz; /* Authorization header value (plain: a signature, not a key) */
} aws_sigv4_res;

int aws_sigv4_sign(const vp_host *h, const aws_sigv4_req *r, aws_sigv4_res *out);
void aws_sigv4_res_free(const vp_host *h, aws_sigv4_res *res);

/* ---- credentials ------------------------------------------------------------------------- */
typedef struct aws_creds {
    char *akid;     /* secure */
    char *secret;   /* secure, masked */
    char *token;    /* secure, masked; NULL for long-term keys */
    int64_t expiry; /* Unix ms; 0 = does not expire */
    char *region;   /* plain; region the source suggests (profile), or NULL */
    char *source;   /* plain: "environment", "profile dev", "sso", "imds", ... for messages */
} aws_creds;

void aws_creds_clear(const vp_host *h, vp_host_ctx *hc, aws_creds *c);
int aws_creds_copy(const vp_host *h, const aws_creds *from, aws_creds *to);
/* Take ownership of the secrets (masks them with the host). */
void aws_creds_mask(const vp_host *h, vp_host_ctx *hc, const aws_creds *c);

typedef enum aws_kind {
    AWS_KIND_CHAIN = 0, /* empty credential: the standard chain */
    AWS_KIND_TEMPORARY, /* keys given in the credential */
    AWS_KIND_FILE,      /* a profile of the shared files */
    AWS_KIND_SSO        /* an SSO profile of the config file */
} aws_kind;

typedef struct aws_inst {
    const vp_host *h;
    vp_host_ctx *hc;
    aws_kind kind;
    char *cred_name;          /* plain */
    char *profile;            /* plain; NULL = AWS_PROFILE or "default" */
    const char *profile_from; /* static: what set `profile` ("the section field", ...) */
    char *cred_file;          /* plain; NULL = env/default */
    char *config_file;        /* plain; NULL = env/default */
    char *sso_cache_dir;      /* plain; NULL = default */
    char *region;             /* plain; credential field */
    char *endpoint;           /* plain; credential field endpoint_url */
    char *sts_endpoint;       /* plain; credential field */
    char *sso_endpoint;       /* plain; credential field */
    aws_creds fixed;          /* temporary: the given keys */

    pthread_mutex_t lock; /* guards `cached` (and makes refresh single-flight) */
    aws_creds cached;
    int have_cached;
} aws_inst;

/* Where failures are reported: the call, or one batch item. */
typedef struct aws_sink {
    const vp_host *h;
    vp_call *call;
    vp_secret_out *out;
} aws_sink;

int aws_fail(const aws_sink *s, int status, const char *fmt, ...) VP_SDK_PRINTF(3, 4);

/* Credentials for one request (a secure copy the caller clears), from the cache or freshly
 * resolved. Failures go to the call. */
int aws_get_creds(aws_inst *in, vp_call *call, aws_creds *out);
/* Drop the cached credentials (after the service said they are invalid or expired). */
void aws_forget_creds(aws_inst *in);
/* Environment value or NULL (secure copy; empty counts as unset). */
char *aws_env(const aws_inst *in, const char *name);
/* Profile name in use. Plain copy. */
char *aws_profile_name(const aws_inst *in);
/* The same, and what chose it (static text: "AWS_PROFILE", "the section field", ...; NULL for
 * the implicit "default"). */
char *aws_profile_pick(const aws_inst *in, const char **from);
/* Path of the credentials (which=0) or config (which=1) file the instance reads (as given:
 * "~/..." unexpanded). */
void aws_shared_path(const aws_inst *in, int which, char *buf, size_t cap);
/* Read the credentials (which=0) or config (which=1) file of the instance: secure text or NULL
 * when absent. Other read errors go to the call and *rc. */
char *aws_read_shared(const aws_inst *in, vp_call *call, int which, int *rc);
/* Region for the request: credential field, env, profile; NULL if none. Plain copy. */
char *aws_region(const aws_inst *in, vp_call *call, const aws_creds *c);
/* Endpoint URL for a service ("SECRETS_MANAGER", "STS", "SSO") or NULL for the default. */
char *aws_endpoint(const aws_inst *in, vp_call *call, const char *service_env);

/* creds_remote.c: the sources that talk to a service. Each fills *out (owned by caller). */
int aws_creds_assume_role(aws_inst *in, vp_call *call, const aws_creds *src, const char *role_arn,
                          const char *session_name, const char *region, aws_creds *out);
int aws_creds_sso(aws_inst *in, vp_call *call, const char *cfg, const char *profile,
                  aws_creds *out);
/* Container endpoint; VP_ENOTFOUND when not configured. */
int aws_creds_container(aws_inst *in, vp_call *call, aws_creds *out);
/* IMDSv2; VP_ENOTFOUND when disabled or unreachable. */
int aws_creds_imds(aws_inst *in, vp_call *call, aws_creds *out);
/* Parse the JSON of ECS/IMDS responses (AccessKeyId, SecretAccessKey, Token, Expiration). */
int aws_parse_json_creds(const vp_host *h, const char *body, size_t len, aws_creds *out);
/* Parse the XML of an STS AssumeRole response. */
int aws_parse_sts_creds(const vp_host *h, const char *body, size_t len, aws_creds *out);

/* ---- signed request to an AWS JSON/query API ----------------------------------------------- */
typedef struct aws_api_req {
    const char *url;          /* endpoint, e.g. https://secretsmanager.us-east-1.amazonaws.com */
    const char *service;      /* signing name */
    const char *region;       /* signing region */
    const char *target;       /* X-Amz-Target, or NULL (query protocol) */
    const char *content_type; /* request Content-Type */
    const char *body;
    size_t body_len;
} aws_api_req;

int aws_api_call(aws_inst *in, vp_call *call, const aws_creds *c, const aws_api_req *r,
                 vp_http_response **resp);

/* ---- Secrets Manager responses (sm.c; also used by the fuzz target) ------------------------- */
typedef struct aws_err {
    char code[96];
    char message[256];
} aws_err;

/* Error code and message of a failed JSON-protocol response (rules of PROTOCOLS.md 1.5). */
void aws_parse_error(const vp_host *h, vp_http_response *resp, long status, aws_err *e);
void aws_parse_error_text(const vp_host *h, const char *type_hdr, const char *body, size_t len,
                          long status, aws_err *e);
/* Map an error code (and HTTP status) to a vp_status. */
int aws_map_error(const char *code, long status);

typedef struct aws_sv {
    char *value; /* secure; the selected string (SecretString, its kv member, or SecretBinary) */
    size_t len;
    char version[128];
} aws_sv;

/* Extract the value of one SecretValue object (GetSecretValue response or a SecretValues entry).
 * kv != 0: SecretString is a JSON object and `key` (non-empty) is the member to return.
 * Returns 0, VP_EPROTO (malformed), VP_ENOTFOUND (kv key absent), VP_EINVAL (not an object). */
int aws_sm_value(const vp_host *h, const vp_json *obj, int kv, const char *key, aws_sv *out,
                 char *why, size_t why_cap);
void aws_sv_clear(const vp_host *h, aws_sv *sv);

/* sm.c entry points used by aws.c */
int aws_sm_fetch(aws_inst *in, const vp_ref *ref, vp_call *call, const aws_sink *s,
                 vp_secret_out *out);
int aws_sm_fetch_batch(aws_inst *in, vp_call *call, size_t n, const vp_ref *const *refs,
                       vp_secret_out *const *outs);
int aws_sts_whoami(aws_inst *in, vp_call *call);
/* Report a failed Secrets Manager response on the call (mapped status, code, message, hint,
 * Retry-After) and return the status. */
int aws_sm_report_http_error(aws_inst *in, vp_call *call, vp_http_response *resp, const char *what,
                             const char *region);
/* sm_list.c: ListSecrets with NextToken paging, names starting with prefix (VP_CAP_LIST). */
int aws_sm_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out);

#endif
