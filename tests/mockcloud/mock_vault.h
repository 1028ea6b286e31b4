/*
 * mock_vault - a HashiCorp Vault emulation on its own mc_server (PROTOCOLS.md section 3):
 * KV v1 and v2 mounts side by side, sys/internal/ui/mounts, namespaces (X-Vault-Namespace
 * header and path prefix, combined), soft-deleted and destroyed v2 versions, tokens with TTL,
 * max TTL and policies, lookup-self / renew-self, AppRole login with role/secret checks, a
 * sealed state (503), injected 429 + Retry-After / 412 / 5xx answers with Vault error bodies, and
 * X-Vault-Request required (as Vault Agent/Proxy with require_request_header: 412 without it).
 *
 * Time: the mock's clock is the wall clock plus an offset moved with mock_vault_advance(), so a
 * test can let tokens expire without sleeping (inject the same offset into vaultplug's
 * monotonic clock).
 *
 * Seed document (mock_vault_seed_json; every member optional, arrays append):
 *   {
 *     "namespaces": ["team1", "team1/sub"],
 *     "mounts":  [{"namespace": "", "path": "secret", "version": 2},
 *                 {"path": "kv", "version": 1}, {"path": "pki", "type": "pki"}],
 *     "secrets": [{"namespace": "", "mount": "secret", "path": "myapp",
 *                  "versions": [{"data": {...}}, {"data": {...}, "deleted": true},
 *                               {"data": {...}, "destroyed": true}]},
 *                 {"mount": "kv", "path": "legacy", "data": {...}, "ttl": 3600}],
 *     "tokens":  [{"token": "hvs.X", "ttl": 0, "max_ttl": 0, "renewable": false,
 *                  "paths": ["*"]}],
 *     "approles": [{"mount": "approle", "role_id": "R", "secret_id": "S" | null,
 *                   "token_ttl": 1200, "token_max_ttl": 0, "renewable": true,
 *                   "paths": ["secret/data/myapp"]}]
 *   }
 * "paths" are request-path prefixes below the namespace (e.g. "secret/data/app", "kv/"); "*" or
 * a missing "paths" allows everything. A v2 secret's versions are numbered from 1 in order.
 * At start the mock has mounts "secret" (KV v2) and "kv" (KV v1) in the root namespace and a
 * root token (mock_vault_root_token, no TTL, all paths); print_env exports it as VAULT_TOKEN.
 */
#ifndef VP_MOCK_VAULT_H
#define VP_MOCK_VAULT_H

#include <stdint.h>
#include <stdio.h>

#include "mockcloud.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mock_vault mock_vault;

mock_vault *mock_vault_start(int tls, char *err, size_t errcap);
int mock_vault_seed_json(mock_vault *m, const char *json, char *err, size_t errcap);
/* export VAULT_ADDR=..., VAULT_TOKEN=<root token>, VAULT_CACERT=... (tls) */
void mock_vault_print_env(const mock_vault *m, FILE *out);
void mock_vault_stop(mock_vault *m);

mc_server *mock_vault_server(const mock_vault *m);
const char *mock_vault_root_token(const mock_vault *m);
void mock_vault_set_sealed(mock_vault *m, int sealed);
/* Answer the next `count` requests under /v1/ (path_prefix, e.g. "secret/", NULL = any, matched
 * after the namespace) with `status` and a Vault error body, plus Retry-After when
 * retry_after_s > 0. */
void mock_vault_fail_next(mock_vault *m, const char *path_prefix, int status, unsigned count,
                          unsigned retry_after_s);
void mock_vault_advance(mock_vault *m, int64_t seconds);
/* Revoke every token issued by an AppRole login (later requests with them get 403). */
void mock_vault_revoke_issued(mock_vault *m);
void mock_vault_set_require_request_header(mock_vault *m, int on);
/* Behave like a Vault older than sys/internal/ui/mounts: that endpoint answers 404. */
void mock_vault_set_legacy_mounts(mock_vault *m, int on);

typedef enum mock_vault_counter {
    MV_COUNT_LOGIN = 0,  /* successful AppRole logins */
    MV_COUNT_LOGIN_FAIL, /* rejected logins */
    MV_COUNT_LOOKUP,     /* lookup-self requests */
    MV_COUNT_RENEW,      /* successful renew-self */
    MV_COUNT_MOUNTS,     /* sys/internal/ui/mounts requests */
    MV_COUNT_READ,       /* KV reads answered 200 */
    MV_COUNT_DENIED,     /* 403 answers */
    MV_COUNT_NS_HEADER,  /* requests that carried X-Vault-Namespace */
    MV_COUNT_NS_PATH,    /* requests whose path started with a namespace */
    MV_COUNT_LIST,       /* LIST requests answered (200 or 404) */
    MV_COUNT__N
} mock_vault_counter;
uint64_t mock_vault_count(const mock_vault *m, mock_vault_counter c);

#ifdef __cplusplus
}
#endif
#endif
