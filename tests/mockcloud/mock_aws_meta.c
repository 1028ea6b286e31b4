/*
 * mock_aws_meta.c - the SSO portal (GetRoleCredentials) on the API server, and IMDSv2 and the
 * ECS container credentials endpoint on the metadata server.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#define MOCK_AWS_INTERNAL
#include "mock_aws.h"

/* Messages and echoed identifiers are cut to their buffers on purpose. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

void mock_aws__h_sso(void *ud, const mc_request *req, mc_response *resp)
{
    mock_aws *m = ud;
    mock_aws__count(m, C_SSO);
    const char *tok = mc_req_header(req, "x-amz-sso_bearer_token");
    const char *role = mc_req_query(req, "role_name");
    const char *acct = mc_req_query(req, "account_id");
    if (role == NULL || acct == NULL) {
        resp->status = 400;
        mc_resp_header(resp, "x-amzn-ErrorType", "InvalidRequestException");
        mc_resp_json(resp, 400, "{\"message\":\"role_name and account_id are required\"}");
        return;
    }
    pthread_mutex_lock(&m->lock);
    const msso *s = NULL;
    int token_ok = 0;
    for (int i = 0; i < m->n_sso; i++)
        if (tok != NULL && strcmp(m->sso[i].token, tok) == 0) {
            token_ok = 1;
            if (strcmp(m->sso[i].account, acct) == 0 && strcmp(m->sso[i].role, role) == 0)
                s = &m->sso[i];
        }
    if (!token_ok || s == NULL) {
        pthread_mutex_unlock(&m->lock);
        mc_resp_header(resp, "x-amzn-ErrorType",
                       token_ok ? "ForbiddenException" : "UnauthorizedException");
        mc_resp_json(resp, token_ok ? 403 : 401, "{\"message\":\"%s\"}",
                     token_ok ? "No access" : "Session token not found or invalid");
        return;
    }
    char arn[STR * 2];
    snprintf(arn, sizeof(arn), "arn:aws:sts::%.20s:assumed-role/%.100s/sso", acct, role);
    mkey c = *mock_aws__issue_locked(m, arn);
    pthread_mutex_unlock(&m->lock);
    mc_resp_json(resp, 200,
                 "{\"roleCredentials\":{\"accessKeyId\":\"%s\",\"secretAccessKey\":\"%s\","
                 "\"sessionToken\":\"%s\",\"expiration\":%lld}}",
                 c.akid, c.secret, c.token, (long long)c.expiry * 1000);
}

/* ---- metadata server: IMDSv2 and ECS ------------------------------------------------------ */

static void creds_json(mc_response *resp, const mkey *c, int imds)
{
    char exp[32], now[32];
    mock_aws__iso_time((time_t)c->expiry, exp, sizeof(exp));
    mock_aws__iso_time(time(NULL), now, sizeof(now));
    if (imds)
        mc_resp_json(resp, 200,
                     "{\"Code\":\"Success\",\"LastUpdated\":\"%s\",\"Type\":\"AWS-HMAC\","
                     "\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\","
                     "\"Expiration\":\"%s\"}",
                     now, c->akid, c->secret, c->token, exp);
    else
        mc_resp_json(resp, 200,
                     "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\","
                     "\"Expiration\":\"%s\",\"RoleArn\":\"%s\"}",
                     c->akid, c->secret, c->token, exp, c->arn);
}

void mock_aws__h_imds_token(void *ud, const mc_request *req, mc_response *resp)
{
    mock_aws *m = ud;
    mock_aws__count(m, C_IMDS_TOKEN);
    if (strcmp(req->method, "PUT") != 0) {
        resp->status = 405;
        return;
    }
    if (mc_req_header(req, "X-Forwarded-For") != NULL) {
        resp->status = 403;
        return;
    }
    const char *ttl = mc_req_header(req, "x-aws-ec2-metadata-token-ttl-seconds");
    long t = ttl ? strtol(ttl, NULL, 10) : 0;
    if (t < 1 || t > 21600) {
        resp->status = 400;
        return;
    }
    pthread_mutex_lock(&m->lock);
    if (m->n_imds_tokens >= MAX_LIST)
        m->n_imds_tokens = 0;
    char *tok = m->imds_tokens[m->n_imds_tokens++];
    mock_aws__rand_str(tok, 56, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    char copy[80];
    snprintf(copy, sizeof(copy), "%s", tok);
    pthread_mutex_unlock(&m->lock);
    resp->status = 200;
    mc_resp_header(resp, "Content-Type", "text/plain");
    mc_resp_header(resp, "x-aws-ec2-metadata-token-ttl-seconds", ttl);
    mc_resp_body(resp, copy, strlen(copy));
}

void mock_aws__h_imds_creds(void *ud, const mc_request *req, mc_response *resp)
{
    mock_aws *m = ud;
    const char *tok = mc_req_header(req, "x-aws-ec2-metadata-token");
    pthread_mutex_lock(&m->lock);
    int ok = 0;
    for (int i = 0; tok && i < m->n_imds_tokens; i++)
        ok |= strcmp(m->imds_tokens[i], tok) == 0;
    char role[128];
    snprintf(role, sizeof(role), "%s", m->imds_role);
    pthread_mutex_unlock(&m->lock);
    if (!ok) {
        resp->status = 401;
        return;
    }
    const char *base = "/latest/meta-data/iam/security-credentials/";
    const char *rest = req->path + strlen(base);
    if (rest[0] == '\0') {
        mock_aws__count(m, C_IMDS_ROLE);
        if (role[0] == '\0') {
            resp->status = 404;
            return;
        }
        resp->status = 200;
        mc_resp_body(resp, role, strlen(role));
        return;
    }
    mock_aws__count(m, C_IMDS_CREDS);
    if (role[0] == '\0' || strcmp(rest, role) != 0) {
        resp->status = 404;
        return;
    }
    char arn[STR];
    snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/i-0123456789abcdef0", m->account,
             role);
    pthread_mutex_lock(&m->lock);
    mkey c = *mock_aws__issue_locked(m, arn);
    pthread_mutex_unlock(&m->lock);
    creds_json(resp, &c, 1);
}

void mock_aws__h_ecs(void *ud, const mc_request *req, mc_response *resp)
{
    mock_aws *m = ud;
    mock_aws__count(m, C_ECS);
    const char *auth = mc_req_header(req, "Authorization");
    pthread_mutex_lock(&m->lock);
    int ok = m->ecs_token[0] == '\0' || (auth != NULL && strcmp(auth, m->ecs_token) == 0);
    char arn[STR];
    snprintf(arn, sizeof(arn), "arn:aws:iam::%s:role/ecs-task-role", m->account);
    mkey c;
    if (ok)
        c = *mock_aws__issue_locked(m, arn);
    pthread_mutex_unlock(&m->lock);
    if (!ok) {
        mc_resp_json(resp, 401,
                     "{\"code\":\"AccessDeniedException\",\"message\":\"Unauthorized\"}");
        return;
    }
    creds_json(resp, &c, 0);
}

/* ---- lifecycle, seed ----------------------------------------------------------------------- */
