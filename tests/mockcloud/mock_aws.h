/*
 * mock_aws - AWS on loopback for tests and demos: Secrets Manager (GetSecretValue,
 * BatchGetSecretValue, ListSecrets; awsJson1_1), STS (GetCallerIdentity, AssumeRole; query
 * protocol, XML), the
 * SSO portal (GetRoleCredentials), and on a second, plain-HTTP server IMDSv2 and an ECS container
 * credentials endpoint. Every Secrets Manager and STS request must carry a valid SigV4 signature
 * made with a key the mock knows; bad, stale or mis-scoped signatures, unknown keys, wrong or
 * expired session tokens are rejected with the status and error body AWS uses (PROTOCOLS.md 1.5,
 * 1.6). Wire formats follow PROTOCOLS.md section 1.
 *
 * Seed document (mock_aws_seed_json; every member optional, arrays append):
 *   {
 *     "region": "us-east-1",            region of every endpoint (signing scope must match)
 *     "account": "123456789012",
 *     "cred_ttl_s": 3600,               lifetime of credentials the mock issues
 *     "batch_page_size": 20,            SecretValues+Errors per BatchGetSecretValue page
 *     "list_page_size": 2,              SecretList entries per ListSecrets page (small, so
 *                                       every list crosses pages)
 *     "keys": [{"access_key_id": "AKIA...", "secret_access_key": "...",
 *               "session_token": "...",           (required on requests when given)
 *               "expired": false,                 (ExpiredTokenException)
 *               "arn": "arn:aws:iam::123456789012:user/test",
 *               "deny": ["secret-name", ...],     (AccessDeniedException for those)
 *               "no_batch": false,                (AccessDenied on BatchGetSecretValue)
 *               "no_list": false}],               (AccessDenied on ListSecrets)
 *     "secrets": [{"name": "db/main", "arn": "arn:...:secret:db/main-AbCdEf" (default derived;
 *                  an ARN of another account makes the secret reachable by ARN only),
 *                  "string": "...", or "binary": "<base64>",        (one AWSCURRENT version)
 *                  "versions": [{"id": "...", "stages": ["AWSCURRENT"], "string"|"binary"}],
 *                  "error": "DecryptionFailure" | any code | "html502",
 *                  "throttle": N,                    (first N reads: ThrottlingException)
 *                  "latency_ms": N}],                (reads answer only after N ms)
 *     "roles": ["arn:aws:iam::123456789012:role/reader"],          (AssumeRole targets)
 *     "sso": [{"token": "...", "account_id": "...", "role_name": "..."}],
 *     "imds_role": "ec2-role",          (IMDS serves credentials for this role; absent = none)
 *     "ecs_token": "..."                (Authorization the ECS endpoint requires; "" = none)
 *   }
 */
#ifndef VP_MOCK_AWS_H
#define VP_MOCK_AWS_H

#include <stdint.h>
#include <stdio.h>

#include "mockcloud.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mock_aws mock_aws;

/* Start the API server (HTTPS when tls) and the metadata server (always HTTP) on ephemeral
 * loopback ports. NULL on failure with the reason in err. */
mock_aws *mock_aws_start(int tls, char *err, size_t errcap);
/* Add keys, secrets, roles, SSO tokens... from a seed document (see above). 0 or -1. */
int mock_aws_seed_json(mock_aws *m, const char *json, char *err, size_t errcap);
/* `export NAME=value` lines pointing vaultplug's aws provider at the mock (endpoint, region, CA,
 * IMDS endpoint, and the first seeded key as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). */
void mock_aws_print_env(const mock_aws *m, FILE *out);
void mock_aws_stop(mock_aws *m);

/* Base URL of the API server (Secrets Manager, STS, SSO portal), e.g. "https://127.0.0.1:4431". */
const char *mock_aws_url(const mock_aws *m);
/* Base URL of the metadata server (IMDS at /latest/..., ECS at /ecs/credentials). */
const char *mock_aws_meta_url(const mock_aws *m);
/* CA file of the API server (tls), else NULL. */
const char *mock_aws_ca_file(const mock_aws *m);
mc_server *mock_aws_server(mock_aws *m);
mc_server *mock_aws_meta_server(mock_aws *m);

/* Requests served per operation: "GetSecretValue", "BatchGetSecretValue", "ListSecrets",
 * "GetCallerIdentity",
 * "AssumeRole", "GetRoleCredentials", "imds-token", "imds-role", "imds-creds", "ecs"; and
 * "sig-rejected" (requests refused for their signature, key or token). */
uint64_t mock_aws_count(mock_aws *m, const char *what);
void mock_aws_reset_counts(mock_aws *m);
/* Lifetime in seconds of credentials issued from now on (AssumeRole, SSO, IMDS, ECS). */
void mock_aws_set_cred_ttl(mock_aws *m, int seconds);

/* ---- internal: SigV4 verification (mock_aws_sigv4.c) ------------------------------------- */
typedef enum mock_aws_sig {
    MOCK_SIG_OK = 0,
    MOCK_SIG_MISSING,    /* no Authorization: MissingAuthenticationToken */
    MOCK_SIG_INCOMPLETE, /* malformed Authorization: IncompleteSignature */
    MOCK_SIG_BAD_SCOPE,  /* wrong region/service/date in the scope */
    MOCK_SIG_STALE,      /* X-Amz-Date more than 5 minutes off */
    MOCK_SIG_MISMATCH    /* signature differs */
} mock_aws_sig;

/* Parse the Authorization header: access key id into akid (cap). 0 or -1. */
int mock_aws_sig_akid(const mc_request *req, char *akid, size_t cap);
/* Verify req's signature with secret for (region, service). msg receives AWS's message. */
mock_aws_sig mock_aws_sig_verify(const mc_request *req, const char *secret, const char *region,
                                 const char *service, char *msg, size_t msgcap);

/* ---- internal: shared by the mock_aws*.c files ---------------------------------------------- */
#ifdef MOCK_AWS_INTERNAL
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define MAX_KEYS    256
#define MAX_SECRETS 128
#define MAX_VERS    8
#define MAX_STAGES  4
#define MAX_LIST    16
#define STR         256

typedef struct mkey {
    char akid[64], secret[128], token[STR], arn[STR];
    int expired;
    int64_t expiry; /* wall s; 0 = never */
    char deny[MAX_LIST][STR];
    int n_deny;
    int no_batch;
    int no_list; /* AccessDenied on ListSecrets */
} mkey;

typedef struct mver {
    char id[80];
    char stages[MAX_STAGES][64];
    int n_stages;
    char *value; /* string, or base64 text for binary */
    int binary;
} mver;

typedef struct msecret {
    char name[STR], arn[STR * 2];
    mver vers[MAX_VERS];
    int n_vers;
    char error[96];
    int throttle;
    unsigned latency_ms; /* reads of it answer only after this long */
    int foreign;         /* ARN of another account: reachable by ARN only */
} msecret;

typedef struct msso {
    char token[STR], account[32], role[128];
} msso;

enum {
    C_GSV,
    C_BATCH,
    C_WHOAMI,
    C_ASSUME,
    C_SSO,
    C_IMDS_TOKEN,
    C_IMDS_ROLE,
    C_IMDS_CREDS,
    C_ECS,
    C_SIGREJ,
    C_LIST,
    C_N
};

struct mock_aws {
    mc_server *api, *meta;
    pthread_mutex_t lock;
    char region[32], account[16];
    int cred_ttl;
    int page;
    int list_page; /* SecretList entries per ListSecrets page (MaxResults caps it further) */
    mkey keys[MAX_KEYS];
    int n_keys, n_seed_keys;
    msecret secrets[MAX_SECRETS];
    int n_secrets;
    char roles[MAX_LIST][STR];
    int n_roles;
    msso sso[MAX_LIST];
    int n_sso;
    char imds_role[128];
    char ecs_token[STR];
    char imds_tokens[MAX_LIST][80];
    int n_imds_tokens;
    atomic_uint_fast64_t counts[C_N];
};

void mock_aws__rand_str(char *out, size_t n, const char *alphabet);
void mock_aws__request_id(char out[40]);
void mock_aws__iso_time(time_t t, char *out, size_t cap);
/* Issue temporary credentials (a new key with a session token); under m->lock. */
mkey *mock_aws__issue_locked(mock_aws *m, const char *arn);
void mock_aws__count(mock_aws *m, int c);
void mock_aws__h_sso(void *ud, const mc_request *req, mc_response *resp);
void mock_aws__h_imds_token(void *ud, const mc_request *req, mc_response *resp);
void mock_aws__h_imds_creds(void *ud, const mc_request *req, mc_response *resp);
void mock_aws__h_ecs(void *ud, const mc_request *req, mc_response *resp);
#endif

#ifdef __cplusplus
}
#endif
#endif
