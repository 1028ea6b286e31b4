/*
 * mock_gcp - GCP Secret Manager, the OAuth 2 token endpoint and the metadata server, on
 * loopback, speaking the wire formats of PROTOCOLS.md section 2 and verifying what Google
 * verifies:
 *
 *   server 1 (HTTP or HTTPS):
 *     GET  /v1/projects/P[/locations/L]/secrets/S/versions/V:access   bearer token checked;
 *          id or number projects, `latest`, aliases, disabled/destroyed versions
 *          (400 FAILED_PRECONDITION), 403 instead of 404 for callers without access, 401 for
 *          unknown/expired/revoked tokens, CRC mismatch injection, HTML 404 for bad paths
 *     GET  /v1/projects/P/secrets?pageSize&pageToken&filter=name:V    secrets.list, two
 *          global secrets per page at most (nextPageToken), 403 for unknown/denied projects
 *     POST /token      jwt-bearer grant (RS256 signature against the service account's public
 *                      key, kid, iss, aud, scope, iat/exp window) and refresh_token grant
 *     POST /tokeninfo  access_token=... (also GET ?access_token=)
 *   server 2 (always plain HTTP, like the real one): the metadata server, enforcing
 *     Metadata-Flavor: Google and refusing X-Forwarded-For.
 *
 * Service-account key pairs (RSA 2048) are generated at run time; the key files are written
 * into the mock's temporary directory (removed by mock_gcp_stop) unless a path is given.
 */
#ifndef VP_MOCK_GCP_H
#define VP_MOCK_GCP_H

#include <stddef.h>
#include <stdio.h>

#include "mockcloud.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mock_gcp mock_gcp;

/* Start both servers on ephemeral loopback ports (tls: server 1 speaks HTTPS). NULL with a
 * reason in err on failure. */
mock_gcp *mock_gcp_start(int tls, char *err, size_t errcap);
void mock_gcp_stop(mock_gcp *m);

/*
 * Add projects, secrets and credentials from a JSON document (every member optional):
 *
 * {
 *   "projects": [{"id": "my-project", "number": "123456789", "denied": false}],
 *   "secrets": [{"project": "my-project", "secret": "db-pass", "location": "us-east1",
 *                "versions": [{"data": "hunter2"} | {"data_b64": "aHVudGVyMg=="},
 *                             {"data": "x", "state": "DISABLED" | "DESTROYED" | "ENABLED"}],
 *                "aliases": {"prod": 1}, "deny": ["principal", ...], "bad_crc": false}],
 *   "access_tokens": [{"token": "ya29.ci", "principal": "ci@example.com"}],
 *   "authorized_users": [{"client_id": "...", "client_secret": "...", "refresh_token": "...",
 *                         "principal": "alice@example.com", "quota_project_id": "my-project",
 *                         "file": "/path/adc.json"}],
 *   "service_accounts": [{"email": "sa@my-project.iam.gserviceaccount.com",
 *                         "project_id": "my-project", "file": "/path/key.json"}],
 *   "metadata": {"principal": "gce-sa@...", "project_id": "my-project"}
 * }
 *
 * A secret's "location" is absent for global secrets (regional secrets are a separate
 * namespace, reached through .../locations/L/...). Versions are numbered from 1 in order. A
 * project must be listed before its secrets; an unknown project answers 403. "deny" lists
 * principals that get 403 PERMISSION_DENIED. Service accounts get a fresh RSA key pair; the
 * key file (with token_uri pointing at this mock) goes to "file", or to
 * <mock dir>/sa-<n>.json. An authorized user with "file" gets an authorized_user JSON file
 * written there. Returns 0, or -1 with a reason in err.
 */
int mock_gcp_seed_json(mock_gcp *m, const char *json, char *err, size_t errcap);

/* `export NAME=value` lines pointing vaultplug's gcp provider at this mock:
 * VAULTPLUG_GCP_TYPE='' (for the CLI's credential variables), VAULTPLUG_GCP_ENDPOINT,
 * VAULTPLUG_GCP_TOKEN_URI, VAULTPLUG_GCP_CA_FILE (tls), GCE_METADATA_HOST, GCE_METADATA_IP, and
 * GOOGLE_APPLICATION_CREDENTIALS (the first service account's key file) plus GOOGLE_CLOUD_PROJECT
 * (its project) when one was seeded. */
void mock_gcp_print_env(const mock_gcp *m, FILE *out);

/* Addresses. */
const char *mock_gcp_url(const mock_gcp *m);           /* server 1 base URL */
const char *mock_gcp_token_uri(const mock_gcp *m);     /* <url>/token */
const char *mock_gcp_metadata_host(const mock_gcp *m); /* "127.0.0.1:PORT" */
const char *mock_gcp_ca_file(const mock_gcp *m);       /* server 1's CA (tls), else NULL */
const char *mock_gcp_dir(const mock_gcp *m);           /* temporary directory */
mc_server *mock_gcp_server(mock_gcp *m);               /* server 1: faults, counters, log */
mc_server *mock_gcp_metadata_server(mock_gcp *m);

/* Path of the key file of the n-th (0-based) seeded service account, or NULL. */
const char *mock_gcp_sa_key_file(const mock_gcp *m, size_t n);
/* Lifetime of tokens issued from now on (default 3599 s); as_string: send expires_in as a
 * JSON string. */
void mock_gcp_set_token_lifetime(mock_gcp *m, int seconds, int as_string);
/* Every access response carries a wrong dataCrc32c (on) or the right one (off). */
void mock_gcp_set_crc_mismatch(mock_gcp *m, int on);
/* Invalidate every token issued so far (the next use gets 401). */
void mock_gcp_revoke_tokens(mock_gcp *m);
/* Delete the n-th service account's key (its assertions then fail "Invalid JWT Signature."). */
void mock_gcp_delete_sa_key(mock_gcp *m, size_t n);
/* Counters: tokens granted by /token (both grants) and by the metadata server; access calls
 * answered 200. */
unsigned mock_gcp_token_grants(const mock_gcp *m);
unsigned mock_gcp_metadata_grants(const mock_gcp *m);
unsigned mock_gcp_access_ok(const mock_gcp *m);
/* secrets.list pages answered 200 (two secrets per page at most). */
unsigned mock_gcp_list_calls(const mock_gcp *m);
/* Value of the x-goog-user-project header of the last access request ("" if absent). */
void mock_gcp_last_user_project(const mock_gcp *m, char *out, size_t cap);
/* Description of the last request /token refused ("" if none), e.g. "Invalid JWT Signature.". */
void mock_gcp_last_token_error(const mock_gcp *m, char *out, size_t cap);

/* ---- internal: shared by mock_gcp*.c only ------------------------------------------------- */
#ifdef MOCK_GCP_INTERNAL
#include <pthread.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#define MGCP_MAX_PROJECTS 32
#define MGCP_MAX_SECRETS  256
#define MGCP_MAX_VERSIONS 16
#define MGCP_MAX_ALIASES  8
#define MGCP_MAX_DENY     8
#define MGCP_MAX_TOKENS   1024 /* ring: the oldest issued token is forgotten */
#define MGCP_MAX_SAS      8
#define MGCP_MAX_USERS    8

enum { MGCP_ENABLED = 0, MGCP_DISABLED, MGCP_DESTROYED };

typedef struct mgcp_project {
    char id[64], number[32];
    int denied;
} mgcp_project;

typedef struct mgcp_secret {
    int project; /* index */
    char location[64], name[256];
    struct {
        int state;
        unsigned char *data;
        size_t len;
    } v[MGCP_MAX_VERSIONS];
    size_t nv;
    char alias[MGCP_MAX_ALIASES][64];
    int alias_ver[MGCP_MAX_ALIASES];
    size_t na;
    char deny[MGCP_MAX_DENY][128];
    size_t ndeny;
    int bad_crc;
} mgcp_secret;

typedef struct mgcp_token {
    char tok[80];
    char principal[128];
    time_t expiry; /* 0 = never */
} mgcp_token;

typedef struct mgcp_sa {
    char email[128], project[64], kid[48], file[512];
    EVP_PKEY *pub;
    int deleted;
} mgcp_sa;

typedef struct mgcp_user {
    char client_id[128], client_secret[128], refresh_token[256], principal[128];
} mgcp_user;

struct mock_gcp {
    mc_server *srv, *md;
    char dir[256], token_uri[160], md_host[64];
    pthread_mutex_t lock;
    mgcp_project projects[MGCP_MAX_PROJECTS];
    size_t n_projects;
    mgcp_secret secrets[MGCP_MAX_SECRETS];
    size_t n_secrets;
    mgcp_token tokens[MGCP_MAX_TOKENS];
    size_t n_tokens, next_token;
    mgcp_sa sas[MGCP_MAX_SAS];
    size_t n_sas;
    mgcp_user users[MGCP_MAX_USERS];
    size_t n_users;
    char md_principal[128], md_project[64];
    int token_life, life_as_string, crc_mismatch;
    unsigned grants, md_grants, access_ok, file_seq;
    unsigned list_calls; /* secrets.list pages answered 200 */
    char last_user_project[128], last_token_error[256];
};

/* mock_gcp_auth.c. Functions named _locked expect m->lock held. */
int mgcp_issue_token_locked(mock_gcp *m, const char *principal, char *out, size_t cap);
/* Principal of a valid bearer token: 0, or -1 (unknown, expired, revoked). */
int mgcp_token_principal_locked(mock_gcp *m, const char *tok, char *principal, size_t cap);
int mgcp_seed_auth_locked(mock_gcp *m, json_object *root, char *err, size_t errcap);
int mgcp_auth_routes(mock_gcp *m);
void mgcp_auth_free(mock_gcp *m);
#endif

#ifdef __cplusplus
}
#endif
#endif
