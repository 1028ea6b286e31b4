/* az_testutil - shared fixture of the Azure provider tests (tests/azure, tests/login): the mock,
 * a context that loads the real azure.so, a log capture at TRACE level, a scripted "browser" and
 * the leak check every test ends with. */
#ifndef VP_AZ_TESTUTIL_H
#define VP_AZ_TESTUTIL_H

#include <pthread.h>
#include <stdint.h>

#include "mock_azure.h"
#include "vaultplug/vaultplug.h"

/* Seeded into every mock: the values are canaries that must never show up in output. */
#define AZT_SECRET_VALUE  "kv-canary-value-5e1d7c"
#define AZT_SECRET_V1     "kv-canary-old-value-0a9b"
#define AZT_VERSION_V1    "0123456789abcdef0123456789abcdef"
#define AZT_CLIENT_ID     "11111111-2222-4333-8444-555555555555"
#define AZT_CLIENT_SECRET "app-secret-canary-c41f08"
#define AZT_FED_CLIENT_ID "66666666-7777-4888-9999-000000000000"
#define AZT_FED_TOKEN     "eyJfederated.canary-token.7d3e"
#define AZT_MI_CLIENT_ID  "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define AZT_ID_HEADER     "identity-header-canary-99e2"
#define AZT_VAULT         "myvault.vault.azure.net"

enum { AZT_BROWSER_NONE = 0, AZT_BROWSER_OPEN_URL, AZT_BROWSER_FROM_NOTICE };

typedef struct azt {
    mock_azure *m;
    vp_ctx *ctx;
    int64_t clock_offset_ms; /* added to the wall clock the context sees */
    pthread_mutex_t mu;
    char *log; /* every log line, '\n'-separated */
    size_t log_len, log_cap;
    char notices[8192];
    char errors[16384]; /* every error message the test saw (azt_err) */
    int browser_mode;
    int no_ui; /* azt_ctx: leave open_url/notify unset */
    int browser_started;
    pthread_t browser;
    char browser_url[4096];
    char browser_page[4096];
    long browser_status;
    char tmpdir[256];
} azt;

/* Start the mock (TLS) with the standard seed, set the provider's environment. */
void azt_setup(azt *t);
/* New context (vp_ctx) loading only azure from the build tree; cache off. */
void azt_ctx(azt *t);
void azt_ctx_free(azt *t);
/* Join the browser thread (if any), free the context, stop the mock, check for leaks. */
void azt_teardown(azt *t);
/* Record an error message for the final leak check. */
void azt_err(azt *t, const vp_error *err);
/* Fetch uri; returns the status; value copied to out (cap) on success. */
int azt_fetch(azt *t, const char *uri, char *out, size_t cap, vp_error *err);
/* Assert no token, code, secret or canary appears in logs, notices or recorded errors. */
void azt_assert_no_leak(azt *t);
/* Wait for the browser thread. */
void azt_browser_join(azt *t);
/* Clear the provider-related environment variables. */
void azt_env_clear(void);

#endif
