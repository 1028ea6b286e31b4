/*
 * mock_aws.c - the AWS emulation of mock_aws.h: shared helpers, authentication, the Secrets
 * Manager and STS handlers on the API server, start and stop. The SSO portal, IMDSv2 and ECS
 * handlers are in mock_aws_meta.c, seeding and accessors in mock_aws_seed.c.
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

void mock_aws__rand_str(char *out, size_t n, const char *alphabet)
{
    unsigned char r[128];
    size_t al = strlen(alphabet);
    RAND_bytes(r, (int)(n < sizeof(r) ? n : sizeof(r)));
    for (size_t i = 0; i < n && i < sizeof(r); i++)
        out[i] = alphabet[r[i] % al];
    out[n < sizeof(r) ? n : sizeof(r)] = '\0';
}

void mock_aws__request_id(char out[40])
{
    unsigned char r[16];
    RAND_bytes(r, 16);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

void mock_aws__iso_time(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Issue temporary credentials (a new key with a session token); under m->lock. */
mkey *mock_aws__issue_locked(mock_aws *m, const char *arn)
{
    if (m->n_keys >= MAX_KEYS) /* recycle issued keys, keep the seeded ones */
        m->n_keys = m->n_seed_keys;
    mkey *k = &m->keys[m->n_keys++];
    memset(k, 0, sizeof(*k));
    memcpy(k->akid, "ASIA", 4);
    mock_aws__rand_str(k->akid + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    mock_aws__rand_str(k->secret, 40,
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/");
    memcpy(k->token, "IQoJb3JpZ2luX2VjE", 17);
    mock_aws__rand_str(k->token + 17, 96,
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    snprintf(k->arn, sizeof(k->arn), "%s", arn);
    k->expiry = (int64_t)time(NULL) + m->cred_ttl;
    return k;
}

void mock_aws__count(mock_aws *m, int c)
{
    atomic_fetch_add(&m->counts[c], 1);
}

/* ---- error bodies --------------------------------------------------------------------------- */

static void json_error(mc_response *resp, int status, const char *code, const char *msg)
{
    char rid[40];
    mock_aws__request_id(rid);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "__type", json_object_new_string(code));
    json_object_object_add(o, "Message", json_object_new_string(msg));
    resp->status = status;
    mc_resp_header(resp, "Content-Type", "application/x-amz-json-1.1");
    mc_resp_header(resp, "x-amzn-RequestId", rid);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    mc_resp_body(resp, s, strlen(s));
    json_object_put(o);
}

static void xml_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;
        if (e) {
            memcpy(out + n, e, strlen(e));
            n += strlen(e);
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

static void xml_error(mc_response *resp, int status, const char *code, const char *msg)
{
    char rid[40], em[8192];
    mock_aws__request_id(rid);
    xml_escape(em, sizeof(em), msg);
    resp->status = status;
    mc_resp_header(resp, "Content-Type", "text/xml");
    mc_resp_header(resp, "x-amzn-RequestId", rid);
    mc_resp_bodyf(resp,
                  "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                  "  <Error>\n    <Type>Sender</Type>\n    <Code>%s</Code>\n"
                  "    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n"
                  "</ErrorResponse>\n",
                  code, em, rid);
}

/* ---- authentication ------------------------------------------------------------------------- */

/* Verify the signature, key and token; on failure fill resp (JSON or XML style) and return
 * NULL. On success copy the key into *out. */
static int authenticate(mock_aws *m, const mc_request *req, const char *service, int xml,
                        mc_response *resp, mkey *out)
{
    char akid[128], msg[8192];
    void (*err)(mc_response *, int, const char *, const char *) = xml ? xml_error : json_error;
    if (mc_req_header(req, "Authorization") == NULL) {
        mock_aws__count(m, C_SIGREJ);
        err(resp, xml ? 403 : 400,
            xml ? "MissingAuthenticationToken" : "MissingAuthenticationTokenException",
            "Missing Authentication Token");
        return -1;
    }
    if (mock_aws_sig_akid(req, akid, sizeof(akid)) != 0) {
        mock_aws__count(m, C_SIGREJ);
        err(resp, 400, xml ? "IncompleteSignature" : "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter.");
        return -1;
    }
    pthread_mutex_lock(&m->lock);
    mkey *k = NULL;
    for (int i = 0; i < m->n_keys; i++)
        if (strcmp(m->keys[i].akid, akid) == 0)
            k = &m->keys[i];
    if (k != NULL)
        *out = *k;
    pthread_mutex_unlock(&m->lock);
    if (k == NULL) {
        mock_aws__count(m, C_SIGREJ);
        if (xml)
            err(resp, 403, "InvalidClientTokenId",
                "The security token included in the request is invalid.");
        else
            err(resp, 400, "UnrecognizedClientException",
                "The security token included in the request is invalid.");
        return -1;
    }
    mock_aws_sig s = mock_aws_sig_verify(req, out->secret, m->region, service, msg, sizeof(msg));
    if (s != MOCK_SIG_OK) {
        mock_aws__count(m, C_SIGREJ);
        if (s == MOCK_SIG_MISSING)
            err(resp, xml ? 403 : 400,
                xml ? "MissingAuthenticationToken" : "MissingAuthenticationTokenException", msg);
        else if (s == MOCK_SIG_INCOMPLETE)
            err(resp, 400, xml ? "IncompleteSignature" : "IncompleteSignatureException", msg);
        else
            err(resp, xml ? 403 : 400, xml ? "SignatureDoesNotMatch" : "InvalidSignatureException",
                msg);
        return -1;
    }
    const char *tok = mc_req_header(req, "X-Amz-Security-Token");
    if (out->token[0] != '\0' && (tok == NULL || strcmp(tok, out->token) != 0)) {
        mock_aws__count(m, C_SIGREJ);
        if (xml)
            err(resp, 403, "InvalidClientTokenId",
                "The security token included in the request is invalid.");
        else
            err(resp, 400, "UnrecognizedClientException",
                "The security token included in the request is invalid.");
        return -1;
    }
    if (out->expired || (out->expiry != 0 && out->expiry <= (int64_t)time(NULL))) {
        mock_aws__count(m, C_SIGREJ);
        err(resp, 400, xml ? "ExpiredToken" : "ExpiredTokenException",
            "The security token included in the request is expired");
        return -1;
    }
    return 0;
}

/* ---- Secrets Manager ------------------------------------------------------------------------ */

/* Under m->lock. By name (same account), full ARN, or ARN without the random suffix. */
static msecret *find_secret_locked(mock_aws *m, const char *id)
{
    for (int i = 0; i < m->n_secrets; i++) {
        msecret *s = &m->secrets[i];
        if (strcmp(s->arn, id) == 0)
            return s;
        if (!s->foreign && strcmp(s->name, id) == 0)
            return s;
        size_t al = strlen(s->arn);
        if (al > 7 && strlen(id) == al - 7 && strncmp(s->arn, id, al - 7) == 0)
            return s;
    }
    return NULL;
}

static int denied(const mkey *k, const msecret *s)
{
    for (int i = 0; i < k->n_deny; i++)
        if (strcmp(k->deny[i], s->name) == 0)
            return 1;
    return 0;
}

static const mver *pick_version(const msecret *s, const char *vid, const char *stage)
{
    const char *want = stage ? stage : vid ? NULL : "AWSCURRENT";
    for (int i = 0; i < s->n_vers; i++) {
        const mver *v = &s->vers[i];
        if (vid != NULL && strcmp(v->id, vid) != 0)
            continue;
        if (want != NULL) {
            int ok = 0;
            for (int j = 0; j < v->n_stages; j++)
                ok |= strcmp(v->stages[j], want) == 0;
            if (!ok)
                continue;
        }
        return v;
    }
    return NULL;
}

static json_object *value_entry(const msecret *s, const mver *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ARN", json_object_new_string(s->arn));
    json_object_object_add(o, "Name", json_object_new_string(s->name));
    json_object_object_add(o, "VersionId", json_object_new_string(v->id));
    json_object_object_add(o, v->binary ? "SecretBinary" : "SecretString",
                           json_object_new_string(v->value));
    json_object *st = json_object_new_array();
    for (int j = 0; j < v->n_stages; j++)
        json_object_array_add(st, json_object_new_string(v->stages[j]));
    json_object_object_add(o, "VersionStages", st);
    json_object_object_add(o, "CreatedDate", json_object_new_double(1523477145.713));
    return o;
}

static void send_json(mc_response *resp, json_object *o)
{
    resp->status = 200;
    char rid[40];
    mock_aws__request_id(rid);
    mc_resp_header(resp, "Content-Type", "application/x-amz-json-1.1");
    mc_resp_header(resp, "x-amzn-RequestId", rid);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    mc_resp_body(resp, s, strlen(s));
    json_object_put(o);
}

/* Error of a secret for one read (injected error, throttling, access); under m->lock.
 * Returns the code or NULL; msg is filled. */
static const char *secret_error_locked(msecret *s, const mkey *k, const char *op, char *msg,
                                       size_t cap)
{
    if (denied(k, s)) {
        snprintf(msg, cap,
                 "User: %s is not authorized to perform: secretsmanager:%s on resource: %s "
                 "because no identity-based policy allows the secretsmanager:%s action",
                 k->arn, op, s->name, op);
        return "AccessDeniedException";
    }
    if (s->throttle > 0) {
        s->throttle--;
        snprintf(msg, cap, "Rate exceeded");
        return "ThrottlingException";
    }
    if (s->error[0]) {
        if (strcmp(s->error, "DecryptionFailure") == 0)
            snprintf(msg, cap,
                     "Secrets Manager can't decrypt the protected secret text using "
                     "the provided KMS key.");
        else if (strcmp(s->error, "InvalidRequestException") == 0)
            snprintf(msg, cap,
                     "You can't perform this operation on the secret because it was "
                     "marked for deletion.");
        else
            snprintf(msg, cap, "An error occurred (%s).", s->error);
        return s->error;
    }
    return NULL;
}

static void sm_get(mock_aws *m, const mkey *k, json_object *body, mc_response *resp)
{
    mock_aws__count(m, C_GSV);
    json_object *jid = NULL, *jv = NULL, *js = NULL;
    json_object_object_get_ex(body, "SecretId", &jid);
    json_object_object_get_ex(body, "VersionId", &jv);
    json_object_object_get_ex(body, "VersionStage", &js);
    const char *id = jid ? json_object_get_string(jid) : NULL;
    const char *vid = jv ? json_object_get_string(jv) : NULL;
    const char *stage = js ? json_object_get_string(js) : NULL;
    if (id == NULL || id[0] == '\0' || strlen(id) > 2048) {
        json_error(resp, 400, "InvalidParameterException", "Invalid SecretId.");
        return;
    }
    if (vid != NULL && (strlen(vid) < 32 || strlen(vid) > 64)) {
        json_error(resp, 400, "ValidationException",
                   "1 validation error detected: Value at 'versionId' failed to satisfy "
                   "constraint: Member must have length greater than or equal to 32");
        return;
    }
    char msg[512];
    pthread_mutex_lock(&m->lock);
    msecret *s = find_secret_locked(m, id);
    unsigned latency = s ? s->latency_ms : 0;
    pthread_mutex_unlock(&m->lock);
    if (latency > 0) { /* a slow secret (deadline tests); other requests go on meanwhile */
        struct timespec ts = {(time_t)(latency / 1000), (long)(latency % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&m->lock);
    s = find_secret_locked(m, id);
    if (s == NULL) {
        pthread_mutex_unlock(&m->lock);
        json_error(resp, 400, "ResourceNotFoundException",
                   "Secrets Manager can't find the specified secret.");
        return;
    }
    const char *code = secret_error_locked(s, k, "GetSecretValue", msg, sizeof(msg));
    if (code != NULL) {
        char c[96];
        snprintf(c, sizeof(c), "%s", code);
        pthread_mutex_unlock(&m->lock);
        if (strcmp(c, "html502") == 0) {
            resp->status = 502;
            mc_resp_header(resp, "Content-Type", "text/html");
            mc_resp_bodyf(resp, "<html><body><h1>502 Bad Gateway</h1></body></html>");
        } else {
            json_error(resp,
                       strcmp(c, "InternalServiceError") == 0 || strcmp(c, "InternalFailure") == 0
                           ? 500
                       : strcmp(c, "ServiceUnavailable") == 0 ? 503
                                                              : 400,
                       c, msg);
        }
        return;
    }
    const mver *v = pick_version(s, vid, stage);
    if (v == NULL) {
        pthread_mutex_unlock(&m->lock);
        snprintf(msg, sizeof(msg),
                 "Secrets Manager can't find the specified secret value for %s: %s",
                 stage ? "staging label" : "VersionId",
                 stage ? stage
                 : vid ? vid
                       : "AWSCURRENT");
        json_error(resp, 400, "ResourceNotFoundException", msg);
        return;
    }
    json_object *o = value_entry(s, v);
    pthread_mutex_unlock(&m->lock);
    send_json(resp, o);
}

static void sm_batch(mock_aws *m, const mkey *k, json_object *body, mc_response *resp)
{
    mock_aws__count(m, C_BATCH);
    if (k->no_batch) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "User: %s is not authorized to perform: secretsmanager:BatchGetSecretValue",
                 k->arn);
        json_error(resp, 400, "AccessDeniedException", msg);
        return;
    }
    json_object *list = NULL, *jnext = NULL;
    if (json_object_object_get_ex(body, "Filters", NULL)) {
        json_error(resp, 400, "InvalidRequestException", "Filters are not supported by the mock.");
        return;
    }
    if (!json_object_object_get_ex(body, "SecretIdList", &list) ||
        !json_object_is_type(list, json_type_array) || json_object_array_length(list) == 0 ||
        json_object_array_length(list) > 20) {
        json_error(resp, 400, "InvalidParameterException",
                   "SecretIdList must have between 1 and 20 entries.");
        return;
    }
    size_t start = 0, n = json_object_array_length(list);
    if (json_object_object_get_ex(body, "NextToken", &jnext)) {
        const char *t = json_object_get_string(jnext);
        if (t == NULL || strncmp(t, "page-", 5) != 0 || (start = strtoul(t + 5, NULL, 10)) >= n) {
            json_error(resp, 400, "InvalidNextTokenException", "The NextToken value is invalid.");
            return;
        }
    }
    size_t end = start + (size_t)m->page < n ? start + (size_t)m->page : n;
    json_object *vals = json_object_new_array(), *errs = json_object_new_array();
    pthread_mutex_lock(&m->lock);
    for (size_t i = start; i < end; i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(list, i));
        msecret *s = find_secret_locked(m, id ? id : "");
        char msg[512];
        const char *code = NULL;
        const mver *v = NULL;
        if (s == NULL) {
            code = "ResourceNotFoundException";
            snprintf(msg, sizeof(msg), "Secrets Manager can't find the specified secret.");
        } else if ((code = secret_error_locked(s, k, "GetSecretValue", msg, sizeof(msg))) == NULL) {
            v = pick_version(s, NULL, NULL);
            if (v == NULL) {
                code = "ResourceNotFoundException";
                snprintf(msg, sizeof(msg),
                         "Secrets Manager can't find the specified secret "
                         "value for staging label: AWSCURRENT");
            }
        }
        if (code != NULL && strcmp(code, "ThrottlingException") == 0) {
            /* Throttling is a whole-call failure. */
            pthread_mutex_unlock(&m->lock);
            json_object_put(vals);
            json_object_put(errs);
            json_error(resp, 400, "ThrottlingException", "Rate exceeded");
            return;
        }
        if (code != NULL) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "SecretId", json_object_new_string(id ? id : ""));
            json_object_object_add(e, "ErrorCode", json_object_new_string(code));
            json_object_object_add(e, "Message", json_object_new_string(msg));
            json_object_array_add(errs, e);
        } else {
            json_object_array_add(vals, value_entry(s, v));
        }
    }
    pthread_mutex_unlock(&m->lock);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "SecretValues", vals);
    json_object_object_add(o, "Errors", errs);
    if (end < n) {
        char t[32];
        snprintf(t, sizeof(t), "page-%zu", end);
        json_object_object_add(o, "NextToken", json_object_new_string(t));
    }
    send_json(resp, o);
}

/* ListSecrets: secrets of this account in seed order, MaxResults (1-100) and the mock's page
 * size per page, NextToken "list-<index>", the "name" filter as AWS applies it (prefix match;
 * a value starting with '!' negates). A key with "no_list" gets AccessDeniedException. */
static void sm_list(mock_aws *m, const mkey *k, json_object *body, mc_response *resp)
{
    mock_aws__count(m, C_LIST);
    if (k->no_list) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "User: %s is not authorized to perform: secretsmanager:ListSecrets", k->arn);
        json_error(resp, 400, "AccessDeniedException", msg);
        return;
    }
    json_object *jmax = NULL, *jnext = NULL, *filters = NULL;
    int max = 100;
    if (json_object_object_get_ex(body, "MaxResults", &jmax)) {
        max = json_object_get_int(jmax);
        if (max < 1 || max > 100) {
            json_error(resp, 400, "InvalidParameterException",
                       "MaxResults must be between 1 and 100.");
            return;
        }
    }
    const char *names[16];
    int neg[16];
    size_t nn = 0;
    if (json_object_object_get_ex(body, "Filters", &filters)) {
        for (size_t i = 0; i < json_object_array_length(filters); i++) {
            json_object *f = json_object_array_get_idx(filters, i), *key = NULL, *vals = NULL;
            if (!json_object_object_get_ex(f, "Key", &key) ||
                strcmp(json_object_get_string(key), "name") != 0 ||
                !json_object_object_get_ex(f, "Values", &vals)) {
                json_error(resp, 400, "InvalidParameterException",
                           "The mock supports only the name filter.");
                return;
            }
            for (size_t j = 0; j < json_object_array_length(vals) && nn < 16; j++) {
                const char *v = json_object_get_string(json_object_array_get_idx(vals, j));
                neg[nn] = v[0] == '!';
                names[nn] = v + neg[nn];
                nn++;
            }
        }
    }
    int start = 0;
    if (json_object_object_get_ex(body, "NextToken", &jnext)) {
        const char *t = json_object_get_string(jnext);
        if (t == NULL || strncmp(t, "list-", 5) != 0 || (start = atoi(t + 5)) < 0) {
            json_error(resp, 400, "InvalidNextTokenException", "The NextToken value is invalid.");
            return;
        }
    }
    int page = max < m->list_page ? max : m->list_page;
    json_object *list = json_object_new_array();
    int i, taken = 0;
    pthread_mutex_lock(&m->lock);
    for (i = start; i < m->n_secrets && taken < page; i++) {
        const msecret *s = &m->secrets[i];
        if (s->foreign)
            continue;
        int ok = 1;
        for (size_t f = 0; f < nn; f++) {
            int hit = strncmp(s->name, names[f], strlen(names[f])) == 0;
            if (hit == neg[f])
                ok = 0;
        }
        if (!ok)
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "ARN", json_object_new_string(s->arn));
        json_object_object_add(e, "Name", json_object_new_string(s->name));
        json_object_object_add(e, "LastChangedDate", json_object_new_double(1.7e9));
        json_object_array_add(list, e);
        taken++;
    }
    int more = i < m->n_secrets;
    pthread_mutex_unlock(&m->lock);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "SecretList", list);
    if (more) {
        char t[32];
        snprintf(t, sizeof(t), "list-%d", i);
        json_object_object_add(o, "NextToken", json_object_new_string(t));
    }
    send_json(resp, o);
}

static void handle_sm(mock_aws *m, const mc_request *req, mc_response *resp, const char *target)
{
    mkey k;
    if (authenticate(m, req, "secretsmanager", 0, resp, &k) != 0)
        return;
    const char *ct = mc_req_header(req, "Content-Type");
    if (ct == NULL || strcmp(ct, "application/x-amz-json-1.1") != 0) {
        json_error(resp, 400, "SerializationException",
                   "Content-Type must be "
                   "application/x-amz-json-1.1");
        return;
    }
    json_object *body = json_tokener_parse(req->body ? req->body : "");
    if (body == NULL || !json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        json_error(resp, 400, "SerializationException",
                   "Start of structure or map found where "
                   "not expected.");
        return;
    }
    if (strcmp(target, "secretsmanager.GetSecretValue") == 0)
        sm_get(m, &k, body, resp);
    else if (strcmp(target, "secretsmanager.BatchGetSecretValue") == 0)
        sm_batch(m, &k, body, resp);
    else if (strcmp(target, "secretsmanager.ListSecrets") == 0)
        sm_list(m, &k, body, resp);
    else
        json_error(resp, 400, "UnknownOperationException", "");
    json_object_put(body);
}

/* ---- STS (query protocol) --------------------------------------------------------------- */

static void form_get(const char *body, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = body; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < len && o + 1 < cap; i++) {
                if (p[i] == '%' && i + 2 < len) {
                    char h[3] = {p[i + 1], p[i + 2], 0};
                    out[o++] = (char)strtol(h, NULL, 16);
                    i += 2;
                } else {
                    out[o++] = p[i] == '+' ? ' ' : p[i];
                }
            }
            out[o] = '\0';
            return;
        }
        p += len;
        if (*p == '&')
            p++;
    }
}

static void handle_sts(mock_aws *m, const mc_request *req, mc_response *resp)
{
    mkey k;
    if (authenticate(m, req, "sts", 1, resp, &k) != 0)
        return;
    const char *body = req->body ? req->body : "";
    char action[64], version[32];
    form_get(body, "Action", action, sizeof(action));
    form_get(body, "Version", version, sizeof(version));
    char rid[40];
    mock_aws__request_id(rid);
    if (strcmp(version, "2011-06-15") != 0) {
        xml_error(resp, 400, "InvalidAction", "Could not find operation for this version.");
        return;
    }
    if (strcmp(action, "GetCallerIdentity") == 0) {
        mock_aws__count(m, C_WHOAMI);
        resp->status = 200;
        mc_resp_header(resp, "Content-Type", "text/xml");
        mc_resp_bodyf(resp,
                      "<GetCallerIdentityResponse "
                      "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                      "  <GetCallerIdentityResult>\n    <Arn>%s</Arn>\n"
                      "    <UserId>AIDA%s</UserId>\n    <Account>%s</Account>\n"
                      "  </GetCallerIdentityResult>\n  <ResponseMetadata>\n"
                      "    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n"
                      "</GetCallerIdentityResponse>\n",
                      k.arn, "EXAMPLEUSERID", m->account, rid);
        return;
    }
    if (strcmp(action, "AssumeRole") == 0) {
        mock_aws__count(m, C_ASSUME);
        char role[STR], sess[128];
        form_get(body, "RoleArn", role, sizeof(role));
        form_get(body, "RoleSessionName", sess, sizeof(sess));
        if (role[0] == '\0' || sess[0] == '\0') {
            xml_error(resp, 400, "ValidationError", "RoleArn and RoleSessionName are required");
            return;
        }
        pthread_mutex_lock(&m->lock);
        int ok = 0;
        for (int i = 0; i < m->n_roles; i++)
            ok |= strcmp(m->roles[i], role) == 0;
        if (!ok) {
            pthread_mutex_unlock(&m->lock);
            char msg[768];
            snprintf(msg, sizeof(msg),
                     "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", k.arn,
                     role);
            xml_error(resp, 403, "AccessDenied", msg);
            return;
        }
        char arn[STR * 2];
        snprintf(arn, sizeof(arn), "%.200s/%.100s", role, sess);
        mkey *nk = mock_aws__issue_locked(m, arn);
        mkey c = *nk;
        pthread_mutex_unlock(&m->lock);
        char exp[32];
        mock_aws__iso_time((time_t)c.expiry, exp, sizeof(exp));
        resp->status = 200;
        mc_resp_header(resp, "Content-Type", "text/xml");
        mc_resp_bodyf(resp,
                      "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                      "  <AssumeRoleResult>\n    <Credentials>\n"
                      "      <AccessKeyId>%s</AccessKeyId>\n"
                      "      <SecretAccessKey>%s</SecretAccessKey>\n"
                      "      <SessionToken>%s</SessionToken>\n"
                      "      <Expiration>%s</Expiration>\n    </Credentials>\n"
                      "    <AssumedRoleUser>\n      <Arn>%s</Arn>\n"
                      "      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:%s</AssumedRoleId>\n"
                      "    </AssumedRoleUser>\n  </AssumeRoleResult>\n"
                      "  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n"
                      "  </ResponseMetadata>\n</AssumeRoleResponse>\n",
                      c.akid, c.secret, c.token, exp, c.arn, sess, rid);
        return;
    }
    xml_error(resp, 400, "InvalidAction", "Could not find operation.");
}

/* ---- API server dispatch ---------------------------------------------------------------- */

static void h_api(void *ud, const mc_request *req, mc_response *resp)
{
    mock_aws *m = ud;
    if (strcmp(req->method, "POST") != 0 || strcmp(req->path, "/") != 0) {
        json_error(resp, 404, "UnknownOperationException", "");
        return;
    }
    const char *target = mc_req_header(req, "X-Amz-Target");
    if (target != NULL)
        handle_sm(m, req, resp, target);
    else
        handle_sts(m, req, resp);
}

mock_aws *mock_aws_start(int tls, char *err, size_t errcap)
{
    mock_aws *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    snprintf(m->region, sizeof(m->region), "us-east-1");
    snprintf(m->account, sizeof(m->account), "123456789012");
    m->cred_ttl = 3600;
    m->page = 20;
    m->list_page = 2;
    static const char *const log_headers[] = {"Authorization", "X-Amz-Target",
                                              "X-Amz-Security-Token", "X-Amz-Date", NULL};
    mc_options o;
    memset(&o, 0, sizeof(o));
    o.tls = tls;
    o.log_headers = log_headers;
    m->api = mc_start(&o);
    memset(&o, 0, sizeof(o));
    m->meta = mc_start(&o);
    if (m->api == NULL || m->meta == NULL) {
        snprintf(err, errcap, "cannot start the AWS mock servers%s",
                 tls && !mc_tls_supported() ? " (no TLS in libmicrohttpd)" : "");
        mock_aws_stop(m);
        return NULL;
    }
    mc_route(m->api, "*", "/", h_api, m);
    mc_route(m->api, "GET", "/federation/credentials", mock_aws__h_sso, m);
    mc_route(m->meta, "*", "/latest/api/token", mock_aws__h_imds_token, m);
    mc_route(m->meta, "GET", "/latest/meta-data/iam/security-credentials/", mock_aws__h_imds_creds,
             m);
    mc_route(m->meta, "GET", "/ecs/credentials", mock_aws__h_ecs, m);
    return m;
}

void mock_aws_stop(mock_aws *m)
{
    if (m == NULL)
        return;
    mc_stop(m->api);
    mc_stop(m->meta);
    for (int i = 0; i < m->n_secrets; i++)
        for (int j = 0; j < m->secrets[i].n_vers; j++)
            free(m->secrets[i].vers[j].value);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
