/*
 * mock_hcp - HCP auth (OAuth2 client credentials, Auth0 style) and HCP Vault Secrets `:open`
 * endpoints (API 2023-11-28) on one mc_server (PROTOCOLS.md section 3.8). Auth and API share
 * the server: `/oauth2/token` and `/secrets/2023-11-28/...` do not collide.
 *
 * The token endpoint accepts the client id/secret as form fields or as HTTP Basic, checks
 * grant_type=client_credentials and audience=https://api.hashicorp.cloud, and issues tokens that
 * expire after the client's expires_in (mock clock: wall clock + mock_hcp_advance offset).
 * `.../secrets/{name}:open` answers {"secret":{...}}; `.../secrets/{name}/versions/{v}:open`
 * answers the unwrapped secret (as the SDK model says), or wrapped after
 * mock_hcp_set_wrap_versions(m, 1). `.../apps/{a}/secrets` lists the app's secrets (names and
 * types, no values), two a page, with pagination.next_page_token. Errors are grpc-gateway Status
 * bodies
 * {"code":N,"message":"...","details":[]} (5→404, 7→403, 16→401, 8→429, 14→503).
 *
 * Seed document (mock_hcp_seed_json; arrays append):
 *   {
 *     "clients": [{"client_id": "ID", "client_secret": "S", "expires_in": 3600,
 *                  "projects": ["p1"]}],            (projects: allowed project ids; absent = all)
 *     "secrets": [{"organization": "o", "project": "p", "app": "a", "name": "db_password",
 *                  "type": "kv", "versions": ["v1-value", "v2-value"]},
 *                 {"organization": "o", "project": "p", "app": "a", "name": "twilio",
 *                  "type": "rotating", "versions": [{"api_key": "k1"}, {"api_key": "k2"}]},
 *                 {"organization": "o", "project": "p", "app": "a", "name": "aws",
 *                  "type": "dynamic", "values": {"access_key_id": "AKIA..."}}]
 *   }
 * At start there is one client (mock_hcp_client_id / mock_hcp_client_secret, all projects);
 * print_env exports it with HCP_AUTH_URL and HCP_API_ADDRESS.
 */
#ifndef VP_MOCK_HCP_H
#define VP_MOCK_HCP_H

#include <stdint.h>
#include <stdio.h>

#include "mockcloud.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mock_hcp mock_hcp;

mock_hcp *mock_hcp_start(int tls, char *err, size_t errcap);
int mock_hcp_seed_json(mock_hcp *m, const char *json, char *err, size_t errcap);
/* export HCP_AUTH_URL, HCP_API_ADDRESS, HCP_CLIENT_ID, HCP_CLIENT_SECRET (and a comment with
 * the CA file for tls) */
void mock_hcp_print_env(const mock_hcp *m, FILE *out);
void mock_hcp_stop(mock_hcp *m);

mc_server *mock_hcp_server(const mock_hcp *m);
const char *mock_hcp_client_id(const mock_hcp *m);
const char *mock_hcp_client_secret(const mock_hcp *m);
void mock_hcp_advance(mock_hcp *m, int64_t seconds);
void mock_hcp_set_wrap_versions(mock_hcp *m, int on);
/* Answer the next `count` :open requests with grpc status code `code` (HTTP mapped) and
 * Retry-After when retry_after_s > 0. */
void mock_hcp_fail_next(mock_hcp *m, int code, unsigned count, unsigned retry_after_s);
/* Invalidate every access token issued so far. */
void mock_hcp_revoke_tokens(mock_hcp *m);

typedef enum mock_hcp_counter {
    MH_COUNT_TOKEN = 0,   /* tokens issued */
    MH_COUNT_TOKEN_BASIC, /* ... of which with HTTP Basic client authentication */
    MH_COUNT_TOKEN_FAIL,  /* rejected token requests */
    MH_COUNT_OPEN,        /* :open requests answered 200 */
    MH_COUNT_LIST,        /* secret list pages answered 200 (two secrets a page at most) */
    MH_COUNT__N
} mock_hcp_counter;
uint64_t mock_hcp_count(const mock_hcp *m, mock_hcp_counter c);

#ifdef __cplusplus
}
#endif
#endif
