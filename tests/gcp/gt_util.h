/*
 * gt_util - shared fixture of the gcp provider tests: the mock (HTTP or HTTPS, chosen by the
 * program's first argument "tls"), a seeded world, contexts that load the real gcp.so through
 * the loader, a TRACE log capture and canary checks over every log line and error message.
 */
#ifndef GT_UTIL_H
#define GT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mock_gcp.h"
#include "vaultplug/vaultplug.h"

extern mock_gcp *gt_mock;
extern int gt_tls;
extern char gt_dir[256];     /* scratch directory of this run */
extern const char *gt_proxy; /* vp_options.proxy of the next gt_ctx() (NULL = none) */

/* Canaries: values that must never show up in a log line or an error message. */
#define GT_STATIC_TOKEN  "ya29.static-ci-canary-5e1d"
#define GT_BAD_TOKEN     "ya29.revoked-canary-7a2c"
#define GT_CLIENT_SECRET "csecret-canary-91f0"
#define GT_REFRESH_TOKEN "1//refresh-canary-c3b8"
#define GT_V1            "hunter2-v1-canary-0a11"
#define GT_V2            "hunter2-v2-canary-0a22"
#define GT_V3            "hunter2-v3-canary-0a33"
#define GT_JSON_PW       "pw-canary-4d4d"
#define GT_SA_EMAIL      "sa@my-project.iam.gserviceaccount.com"

/* Start the mock and seed it (cmocka group setup/teardown). */
int gt_setup(void **state);
int gt_teardown(void **state);
/* Unset every variable the provider reads, so each test starts from a clean environment, then
 * point VAULTPLUG_GCP_ENDPOINT and VAULTPLUG_GCP_TOKEN_URI at the mock. */
void gt_clear_env(void);
/* Key file of service account n (0 = sa@my-project, 1 = one whose key gets deleted). */
const char *gt_sa_file(size_t n);

/* A context loading gcp.so from the build tree, with the mock's CA and a TRACE log capture.
 * wall/mono: injected clocks (NULL = system). */
vp_ctx *gt_ctx(vp_clock_fn wall, vp_clock_fn mono);
/* vp_cred_set with fields given as "key=value" strings, NULL-terminated. */
void gt_cred(vp_ctx *ctx, const char *name, const char *type, ...);

/* vp_fetch expecting success; returns a malloc'd copy (len in *len when not NULL). */
char *gt_get(vp_ctx *ctx, const char *uri, vp_fetch_meta *meta, size_t *len);
/* vp_fetch expecting failure; returns the status, message in err. */
int gt_fail(vp_ctx *ctx, const char *uri, vp_error *err);
/* Assert that no canary appears in msg, nor in any captured log line; also check that the
 * issued tokens ("ya29.mock-") and the service account's key never appear. */
void gt_assert_clean(const char *msg);
/* Number of captured log lines containing s. */
size_t gt_log_count(const char *s);
void gt_log_reset(void);

#endif
