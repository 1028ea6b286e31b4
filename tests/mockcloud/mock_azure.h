/*
 * mock_azure - Azure Key Vault + Microsoft Entra ID + managed identity endpoints on one mc_server,
 * following docs of the real services (see /work/shared/PROTOCOLS.md section 4):
 *
 *   GET  /secrets/{name}[/{version}]?api-version=   Key Vault get secret. A request without a
 *        bearer token gets 401 with the challenge
 *        `Bearer authorization="<url>/<tenant>", resource="https://vault.azure.net"`; tokens must
 *        have been issued by this mock for audience https://vault.azure.net (no trailing slash,
 *        else AKV10022), must not be expired or invalidated. Disabled secret -> 403 Forbidden,
 *        "forbidden" secret -> 403 ForbiddenByRbac, unknown -> 404 SecretNotFound, throttle ->
 *        429 Throttled + Retry-After.
 *   GET  /secrets?api-version=[&maxresults=][&$skiptoken=]   Key Vault list secrets: one entry
 *        per name (no values), at most 2 per page, `nextLink` to the next page (null on the
 *        last); same authentication, 403 ForbiddenByRbac with mock_azure_set_list_forbidden.
 *   GET  /{tenant}/oauth2/v2.0/authorize   302 to the loopback redirect_uri with code+state (or
 *        error=access_denied, or a wrong state: mock_azure_set_consent).
 *   POST /{tenant}/oauth2/v2.0/token       authorization_code (PKCE S256 verifier and redirect_uri
 *        equality checked, codes single-use), refresh_token (rotated: the old one dies),
 *        client_credentials (client_secret or a federated client_assertion), device_code.
 *   POST /{tenant}/oauth2/v2.0/devicecode  device code; polls follow mock_azure_set_device_script.
 *   GET  /metadata/identity/oauth2/token    IMDS: needs `Metadata: true`, numbers as strings.
 *   GET  /msi/token                         App Service: needs X-IDENTITY-HEADER.
 *
 * The mock serves one secret namespace for every vault host (the provider's endpoint override
 * sends every vault's requests here); the returned ids name mockvault.vault.azure.net.
 *
 * Point the provider at it with AZURE_AUTHORITY_HOST=<url>, VAULTPLUG_AZURE_VAULT_URL=<url>,
 * AZURE_POD_IDENTITY_AUTHORITY_HOST=<url>, IDENTITY_ENDPOINT=<url>/msi/token and, for HTTPS,
 * VAULTPLUG_AZURE_CA_FILE=<ca> (or vp_options.ca_file); plain http needs
 * VAULTPLUG_AZURE_ALLOW_HTTP=1. mock_azure_print_env prints these.
 *
 * Seed document (mock_azure_seed_json), every member optional:
 *   {"secrets": [{"name": "db-password", "value": "...", "version": "<32 hex>" (default: made
 *                 up), "enabled": true, "forbidden": false}, ...]   (later entries of a name are
 *                 newer versions; the last one is "latest")
 *    "apps": [{"client_id": "...", "client_secret": "..."} | {"client_id": "...",
 *              "federated_token": "..."}],
 *    "managed_identity": {"client_id": "..."}   (present = a managed identity exists; without
 *              client_id it is system-assigned and any/no client_id is accepted),
 *    "identity_header": "...",                  (App Service X-IDENTITY-HEADER value)
 *    "user": "alice@contoso.example"}           (the account that "signs in" at /authorize)
 */
#ifndef VP_MOCK_AZURE_H
#define VP_MOCK_AZURE_H

#include <stddef.h>
#include <stdio.h>

#include "mockcloud.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mock_azure mock_azure;

mock_azure *mock_azure_start(int tls, char *err, size_t errcap);
int mock_azure_seed_json(mock_azure *m, const char *json, char *err, size_t errcap);
void mock_azure_print_env(const mock_azure *m, FILE *out);
void mock_azure_stop(mock_azure *m);

mc_server *mock_azure_server(mock_azure *m);
const char *mock_azure_url(const mock_azure *m);
const char *mock_azure_ca_file(const mock_azure *m); /* NULL without TLS */
const char *mock_azure_tenant(const mock_azure *m);

/* Replace the WWW-Authenticate value of Key Vault 401s (NULL = the default challenge). */
void mock_azure_set_challenge(mock_azure *m, const char *www_authenticate);

typedef enum mock_azure_consent {
    MOCK_AZ_CONSENT_OK = 0,
    MOCK_AZ_CONSENT_DENY,     /* redirect with error=access_denied */
    MOCK_AZ_CONSENT_BAD_STATE /* redirect with a code but someone else's state */
} mock_azure_consent;
void mock_azure_set_consent(mock_azure *m, mock_azure_consent mode);

/* List secrets answers 403 ForbiddenByRbac (the identity lacks secrets/list) while on. */
void mock_azure_set_list_forbidden(mock_azure *m, int on);
/* The next n Key Vault requests get 429 Throttled with Retry-After: retry_after_s. */
void mock_azure_throttle(mock_azure *m, unsigned n, unsigned retry_after_s);
/* Device code polls, in order, e.g. "pending,slow_down,ok"; the last step repeats. Steps: pending,
 * slow_down, ok, expired, declined. interval_s is what /devicecode announces. Default "ok", 1. */
void mock_azure_set_device_script(mock_azure *m, const char *csv, int interval_s);
/* expires_in of issued access tokens (default 3599). */
void mock_azure_set_token_lifetime(mock_azure *m, int seconds);
/* Every access token issued so far is rejected by Key Vault from now on (401). */
void mock_azure_invalidate_access_tokens(mock_azure *m);
/* Every refresh token issued so far is revoked (invalid_grant AADSTS50173). */
void mock_azure_revoke_refresh_tokens(mock_azure *m);

/* Counters: "kv:bare" (no Authorization), "kv:bearer", "kv:200", "token:<grant_type>",
 * "token:error", "authorize", "devicecode", "imds", "appservice". */
unsigned mock_azure_count(mock_azure *m, const char *what);
/* Number of refresh tokens issued and still valid. */
unsigned mock_azure_live_refresh_tokens(mock_azure *m);
/* Non-zero if tok is a refresh token the mock issued that still works. */
int mock_azure_refresh_token_valid(mock_azure *m, const char *tok);

#ifdef __cplusplus
}
#endif
#endif
