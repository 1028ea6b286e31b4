/*
 * Shared helpers of the AWS provider tests: the seed of the mock, a context with a TRACE log
 * capture (for the canary checks), credential and environment helpers.
 */
#ifndef VP_AWS_TEST_UTIL_H
#define VP_AWS_TEST_UTIL_H

#include "mock_aws.h"
#include "vaultplug/vaultplug.h"

/* Values that must never show up in a message or a log line. */
#define CANARY_STATIC_SK  "static-secret-canary-9f8e7d"
#define CANARY_TEMP_SK    "temp-secret-canary-1a2b3c"
#define CANARY_TEMP_TOKEN "temp-token-canary-4d5e6f"
#define CANARY_EXP_SK     "expired-secret-canary-77aa"
#define CANARY_EXP_TOKEN  "expired-token-canary-88bb"
#define CANARY_NB_SK      "nobatch-secret-canary-5c5c"
#define CANARY_SSO_TOKEN  "sso-access-token-canary-6a6a"
#define CANARY_ECS_TOKEN  "ecs-auth-token-canary-9b9b"
#define CANARY_PASSWORD   "pw-canary-3141"
#define CANARY_PLAIN      "plain-canary-2718"
#define CANARY_INSO_SK    "inso-secret-canary-0c0c"
#define CANARY_INSO_WRONG "inso-wrong-secret-canary-0d0d"

#define KEY_STATIC  "AKIAMOCKSTATIC000001"
#define KEY_TEMP    "ASIAMOCKTEMP00000001"
#define KEY_EXPIRED "ASIAMOCKEXPIRED00001"
#define KEY_NOBATCH "AKIAMOCKNOBATCH00001"
#define KEY_INSO    "AKIAMOCKINSO00000001"

extern const char *const aws_test_canaries[];
extern const char aws_test_seed[];

/* Unset every variable the provider reads, then point the chain at the mock: endpoint, region,
 * CA bundle (https), empty shared files, IMDS disabled, HOME in a temp directory. */
void aws_test_env(const mock_aws *m, const char *home);
/* A context loading aws.so from the build tree, with TRACE logging into the capture buffer. */
vp_ctx *aws_test_ctx(const mock_aws *m, vp_clock_fn wall_clock);
/* Register a credential: fields as key, value pairs, NULL-terminated. */
void aws_test_cred(vp_ctx *ctx, const char *name, const char *type, ...);
/* vp_fetch; the message is captured for the canary check. On success *value is a malloc'd
 * copy (NUL-terminated) and *len its length. */
int aws_test_fetch(vp_ctx *ctx, const char *uri, char **value, size_t *len, char *msg,
                   size_t msgcap);
/* Record a message for the canary check. */
void aws_test_record(const char *msg);
/* Non-zero if any canary appears in any recorded message or log line. */
int aws_test_leaked(char *which, size_t cap);
/* Number of log lines captured so far. */
size_t aws_test_log_lines(void);
/* How often s appears in the captured log lines and recorded messages. */
size_t aws_test_log_count(const char *s);

/* Make a temporary HOME (path into home) with ~/.aws/credentials ([dev] static keys,
 * [expired]), ~/.aws/config (profiles dev, reader (role), my-sso, legacy-sso, ... see
 * aws_test_util.c) and an SSO token cache for them. 0 or -1. */
int aws_test_home(char *home, size_t cap);
void aws_test_rm_home(const char *home);
void aws_test_write_file(const char *path, const char *text);

#endif
