/*
 * sm.c - Secrets Manager: GetSecretValue, BatchGetSecretValue (fetch_batch), STS
 * GetCallerIdentity (validate), and the parsing of their responses and errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

/* ---- errors ---------------------------------------------------------------------------- */

static void copy_trunc(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void aws_parse_error_text(const vp_host *h, const char *type_hdr, const char *body, size_t len,
                          long status, aws_err *e)
{
    memset(e, 0, sizeof(*e));
    vp_json *j = NULL;
    if (body != NULL && len > 0 && h->json_parse(body, len, &j) != VP_OK)
        j = NULL;
    const char *code = type_hdr;
    size_t cl = code ? strlen(code) : 0;
    if (code == NULL || cl == 0) {
        code = h->json_string(h->json_get(j, "code"), &cl);
        if (code == NULL)
            code = h->json_string(h->json_get(j, "__type"), &cl);
    }
    if (code != NULL && cl > 0) {
        /* Sanitise: cut at the first ':' and keep what follows the last '#'. */
        const char *colon = memchr(code, ':', cl);
        if (colon != NULL)
            cl = (size_t)(colon - code);
        for (size_t i = cl; i > 0; i--)
            if (code[i - 1] == '#') {
                code += i;
                cl -= i;
                break;
            }
        copy_trunc(e->code, sizeof(e->code), code, cl);
    }
    if (e->code[0] == '\0')
        snprintf(e->code, sizeof(e->code), "HTTP %ld", status);
    size_t ml = 0;
    const char *msg = h->json_string(h->json_get(j, "message"), &ml);
    if (msg == NULL)
        msg = h->json_string(h->json_get(j, "Message"), &ml);
    if (msg != NULL) {
        /* A signature mismatch message goes on with the canonical request AWS expected, which
         * holds the X-Amz-Security-Token value: keep only the first line. */
        const char *nl = memchr(msg, '\n', ml);
        if (nl != NULL)
            ml = (size_t)(nl - msg);
        for (size_t i = 0; i + 20 <= ml; i++)
            if (memcmp(msg + i, "The Canonical String", 20) == 0) {
                ml = i;
                break;
            }
        while (ml > 0 && (msg[ml - 1] == ' ' || msg[ml - 1] == '\r'))
            ml--;
        copy_trunc(e->message, sizeof(e->message), msg, ml);
    }
    /* Control characters have no place in a one-line message. */
    for (char *p = e->message; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    for (char *p = e->code; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    h->json_free(j);
}

void aws_parse_error(const vp_host *h, vp_http_response *resp, long status, aws_err *e)
{
    size_t len = 0;
    const char *body = h->http_body(resp, &len);
    aws_parse_error_text(h, h->http_header(resp, "x-amzn-ErrorType"), body, len, status, e);
}

int aws_map_error(const char *code, long status)
{
    static const char *const throttle[] = {"Throttling",
                                           "ThrottlingException",
                                           "ThrottledException",
                                           "RequestThrottledException",
                                           "TooManyRequestsException",
                                           "ProvisionedThroughputExceededException",
                                           "TransactionInProgressException",
                                           "RequestLimitExceeded",
                                           "BandwidthLimitExceeded",
                                           "LimitExceededException",
                                           "RequestThrottled",
                                           "SlowDown",
                                           "PriorRequestNotComplete",
                                           "EC2ThrottledException"};
    static const char *const auth[] = {"UnrecognizedClientException",
                                       "InvalidSignatureException",
                                       "IncompleteSignatureException",
                                       "MissingAuthenticationTokenException",
                                       "MissingAuthenticationToken",
                                       "ExpiredTokenException",
                                       "ExpiredToken",
                                       "InvalidClientTokenId",
                                       "SignatureDoesNotMatch",
                                       "UnauthorizedException",
                                       "InvalidAccessKeyId",
                                       "AuthFailure"};
    for (size_t i = 0; i < sizeof(throttle) / sizeof(throttle[0]); i++)
        if (strcmp(code, throttle[i]) == 0)
            return VP_ERATELIMIT;
    for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
        if (strcmp(code, auth[i]) == 0)
            return VP_EAUTH;
    if (strcmp(code, "ResourceNotFoundException") == 0)
        return VP_ENOTFOUND;
    if (strcmp(code, "AccessDeniedException") == 0 || strcmp(code, "AccessDenied") == 0 ||
        strcmp(code, "DecryptionFailure") == 0)
        return VP_EPERM; /* DecryptionFailure: KMS refused the key to this identity */
    if (strcmp(code, "InvalidParameterException") == 0 ||
        strcmp(code, "InvalidRequestException") == 0 || strcmp(code, "ValidationException") == 0 ||
        strcmp(code, "SerializationException") == 0 ||
        strcmp(code, "InvalidNextTokenException") == 0)
        return VP_EINVAL;
    if (strcmp(code, "InternalServiceError") == 0 || strcmp(code, "InternalFailure") == 0 ||
        strcmp(code, "ServiceUnavailable") == 0 || strcmp(code, "RequestTimeout") == 0 ||
        strcmp(code, "RequestTimeoutException") == 0)
        return VP_EUNAVAIL;
    if (status == 429)
        return VP_ERATELIMIT;
    if (status >= 500)
        return VP_EUNAVAIL;
    if (status == 401)
        return VP_EAUTH;
    if (status == 403)
        return VP_EPERM;
    if (status == 404)
        return VP_ENOTFOUND;
    return VP_EPROTO;
}

static const char *error_hint(int st, const char *code)
{
    if (strcmp(code, "DecryptionFailure") == 0)
        return " (KMS could not decrypt the secret with this identity)";
    if (strcmp(code, "ExpiredTokenException") == 0 || strcmp(code, "ExpiredToken") == 0)
        return " (the session token has expired; refresh your credentials)";
    if (st == VP_EAUTH)
        return " (check the credential's keys)";
    return "";
}

/* ---- values ---------------------------------------------------------------------------- */

void aws_sv_clear(const vp_host *h, aws_sv *sv)
{
    h->secure_free(sv->value);
    memset(sv, 0, sizeof(*sv));
}

int aws_sm_value(const vp_host *h, const vp_json *obj, int kv, const char *key, aws_sv *out,
                 char *why, size_t why_cap)
{
    memset(out, 0, sizeof(*out));
    why[0] = '\0';
    if (h->json_type(obj) != VP_JSON_OBJECT) {
        snprintf(why, why_cap, "the response is not a JSON object");
        return VP_EPROTO;
    }
    size_t vl = 0;
    const char *ver = h->json_string(h->json_get(obj, "VersionId"), &vl);
    if (ver != NULL && vl < sizeof(out->version))
        memcpy(out->version, ver, vl + 1);
    size_t sl = 0, bl = 0;
    const char *str = h->json_string(h->json_get(obj, "SecretString"), &sl);
    const char *bin = h->json_string(h->json_get(obj, "SecretBinary"), &bl);
    if (str == NULL && bin == NULL) {
        snprintf(why, why_cap, "neither SecretString nor SecretBinary in the response");
        return VP_EPROTO;
    }
    if (str == NULL) {
        if (kv) {
            snprintf(why, why_cap, "SecretType kv needs a SecretString, the secret is binary");
            return VP_EINVAL;
        }
        size_t cap = bl * 3 / 4 + 3;
        out->value = h->secure_malloc(cap + 1);
        if (out->value == NULL)
            return VP_ENOMEM;
        if (h->b64_decode(bin, bl, VP_B64_STD, out->value, cap, &out->len) != VP_OK) {
            aws_sv_clear(h, out);
            snprintf(why, why_cap, "SecretBinary is not valid base64");
            return VP_EPROTO;
        }
        out->value[out->len] = '\0';
        return VP_OK;
    }
    if (!kv || key == NULL || key[0] == '\0') {
        out->value = aws_sstrndup(h, str, sl);
        out->len = sl;
        return out->value ? VP_OK : VP_ENOMEM;
    }
    vp_json *doc = NULL;
    if (h->json_parse(str, sl, &doc) != VP_OK || h->json_type(doc) != VP_JSON_OBJECT) {
        h->json_free(doc);
        snprintf(why, why_cap, "SecretType kv: the secret is not a JSON object");
        return VP_EINVAL;
    }
    const vp_json *m = h->json_get(doc, key);
    int rc = VP_OK;
    if (m == NULL) {
        snprintf(why, why_cap, "key '%.100s' is not in the secret", key);
        rc = VP_ENOTFOUND;
    } else if (h->json_type(m) == VP_JSON_STRING) {
        size_t ml = 0;
        const char *ms = h->json_string(m, &ml);
        out->value = aws_sstrndup(h, ms, ml);
        out->len = ml;
        rc = out->value ? VP_OK : VP_ENOMEM;
    } else {
        size_t dl = 0;
        char *d = h->json_dump(m, &dl);
        if (d == NULL) {
            rc = VP_ENOMEM;
        } else {
            out->value = d;
            out->len = dl;
        }
    }
    h->json_free(doc);
    return rc;
}

/* ---- references ------------------------------------------------------------------------ */

typedef struct sm_ref {
    const char *id;
    const char *version_id;
    const char *stage;
    const char *region; /* explicit region= */
    int kv;
    const char *key;
} sm_ref;

static int parse_ref(const vp_ref *ref, const aws_sink *s, sm_ref *r)
{
    memset(r, 0, sizeof(*r));
    const int cfg = ref->config != NULL;
    r->id = cfg ? NULL : ref->path;
    for (size_t i = 0; i < ref->n_params; i++) {
        const char *k = ref->params[i].key;
        const char *v = ref->params[i].value ? ref->params[i].value : "";
        if (!cfg && strcmp(k, "version_id") == 0)
            r->version_id = v;
        else if (!cfg && strcmp(k, "version_stage") == 0)
            r->stage = v;
        else if (!cfg && strcmp(k, "region") == 0)
            r->region = v;
        else if (cfg && strcmp(k, "SecretId") == 0)
            r->id = v;
        else if (cfg && strcmp(k, "VersionId") == 0)
            r->version_id = v[0] ? v : NULL;
        else if (cfg && strcmp(k, "VersionStage") == 0)
            r->stage = v[0] ? v : NULL;
        else if (cfg && strcmp(k, "SecretType") == 0) {
            if (strcmp(v, "kv") == 0)
                r->kv = 1;
            else if (strcmp(v, "plaintext") != 0 && v[0] != '\0')
                return aws_fail(s, VP_EINVAL,
                                "aws: SecretType must be \"plaintext\" or \"kv\", not '%.32s'", v);
        } else if (cfg && strcmp(k, "SecretKey") == 0)
            r->key = v;
        else
            return aws_fail(s, VP_EINVAL, "%s: unknown parameter '%.64s' (aws knows: %s)", ref->uri,
                            k,
                            cfg ? "SecretId, VersionId, VersionStage, SecretType, SecretKey"
                                : "version_id, version_stage, region");
    }
    if (r->id == NULL || r->id[0] == '\0')
        return aws_fail(s, VP_EINVAL, "aws: %s",
                        cfg ? "the config object needs a non-empty \"SecretId\""
                            : "the reference names no secret (aws://[cred@]secret-id)");
    size_t il = strlen(r->id);
    if (il > 2048)
        return aws_fail(s, VP_EINVAL, "aws: SecretId longer than 2048 characters");
    if (r->version_id != NULL && (strlen(r->version_id) < 32 || strlen(r->version_id) > 64))
        return aws_fail(s, VP_EINVAL, "aws: secret '%.200s': version id must be 32-64 characters",
                        r->id);
    if (r->stage != NULL && (r->stage[0] == '\0' || strlen(r->stage) > 256))
        return aws_fail(s, VP_EINVAL,
                        "aws: secret '%.200s': version stage must be 1-256 "
                        "characters",
                        r->id);
    if (r->region != NULL && !aws_region_valid(r->region))
        return aws_fail(s, VP_EINVAL, "aws: secret '%.200s': invalid region '%.40s'", r->id,
                        r->region);
    return VP_OK;
}

/* Region and endpoint for a secret: explicit region=, then the ARN's, then the instance's. */
/* Add a string member to a JSON object being built (NULL value: nothing added). */
static int json_put(const vp_host *h, vp_json *obj, const char *key, const char *value)
{
    if (value == NULL)
        return VP_OK;
    vp_json *v = h->json_new_string(value, strlen(value));
    return v != NULL ? h->json_set(obj, key, v) : VP_ENOMEM;
}

/* The GetSecretValue request body (json_dump: secure memory, release with secure_free). */
static char *get_body(const vp_host *h, const sm_ref *r, size_t *len)
{
    vp_json *o = h->json_new_object();
    char *out = NULL;
    if (o != NULL && json_put(h, o, "SecretId", r->id) == VP_OK &&
        json_put(h, o, "VersionId", r->version_id) == VP_OK &&
        json_put(h, o, "VersionStage", r->stage) == VP_OK)
        out = h->json_dump(o, len);
    h->json_free(o);
    return out;
}

static int sm_target(aws_inst *in, vp_call *call, const aws_sink *s, const sm_ref *r,
                     const aws_creds *c, char *region, size_t rcap, char **url)
{
    const vp_host *h = in->h;
    *url = NULL;
    char arn_region[40];
    if (r->region != NULL) {
        snprintf(region, rcap, "%s", r->region);
    } else if (aws_arn_region(r->id, arn_region, sizeof(arn_region)) == 0) {
        snprintf(region, rcap, "%s", arn_region);
    } else {
        char *reg = aws_region(in, call, c);
        if (reg == NULL)
            return aws_fail(s, VP_EINVAL,
                            "aws: secret '%.200s': no region (set AWS_REGION, the credential's "
                            "region field, the profile's region, or ?region=)",
                            r->id);
        int ok = aws_region_valid(reg);
        snprintf(region, rcap, "%s", reg);
        h->free(reg);
        if (!ok)
            return aws_fail(s, VP_EINVAL, "aws: invalid region '%.40s'", region);
    }
    char *ep = aws_endpoint(in, call, "SECRETS_MANAGER");
    if (ep != NULL) {
        *url = ep;
        return VP_OK;
    }
    char buf[160];
    snprintf(buf, sizeof(buf), "https://secretsmanager.%s.amazonaws.com%s", region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    *url = h->strdup(buf);
    return *url ? VP_OK : VP_ENOMEM;
}

/* Failure of a whole service response, mapped and reported on s. */
static int report_http_error(aws_inst *in, vp_call *call, const aws_sink *s, vp_http_response *resp,
                             const char *what, const char *region)
{
    const vp_host *h = in->h;
    long st = h->http_status(resp);
    aws_err e;
    aws_parse_error(h, resp, st, &e);
    int rc = aws_map_error(e.code, st);
    if (rc == VP_ERATELIMIT || rc == VP_EUNAVAIL) {
        uint32_t ra = h->http_retry_after_ms(call, h->http_header(resp, "Retry-After"));
        if (ra > 0)
            h->call_set_retry_after(call, ra);
    }
    if (rc == VP_EAUTH)
        aws_forget_creds(in); /* next attempt resolves the chain again */
    return aws_fail(s, rc, "aws: %s (region %s): %s%s%s%s", what, region, e.code,
                    e.message[0] ? ": " : "", e.message, error_hint(rc, e.code));
}

int aws_sm_fetch(aws_inst *in, const vp_ref *ref, vp_call *call, const aws_sink *s,
                 vp_secret_out *out)
{
    const vp_host *h = in->h;
    sm_ref r;
    int rc = parse_ref(ref, s, &r);
    if (rc != VP_OK)
        return rc;
    aws_creds c;
    if ((rc = aws_get_creds(in, call, &c)) != VP_OK) {
        if (s->out != NULL)
            h->secret_fail(s->out, rc, "aws: secret '%.200s': no usable credentials", r.id);
        return rc;
    }
    char region[40], what[300];
    char *url = NULL;
    snprintf(what, sizeof(what), "secret '%.200s'", r.id);
    rc = sm_target(in, call, s, &r, &c, region, sizeof(region), &url);
    size_t blen = 0;
    char *body = rc == VP_OK ? get_body(h, &r, &blen) : NULL;
    vp_http_response *resp = NULL;
    if (rc == VP_OK && body == NULL)
        rc = VP_ENOMEM;
    if (rc == VP_OK) {
        aws_api_req q = {url,
                         "secretsmanager",
                         region,
                         "secretsmanager.GetSecretValue",
                         "application/x-amz-json-1.1",
                         body,
                         blen};
        h->log(in->hc, VP_LOG_DEBUG, "GetSecretValue %s (region %s)", ref->uri, region);
        rc = aws_api_call(in, call, &c, &q, &resp);
        if (rc != VP_OK && s->out != NULL)
            h->secret_fail(s->out, rc, "aws: secret '%.200s': request failed", r.id);
    }
    h->secure_free(body);
    h->free(url);
    aws_creds_clear(h, in->hc, &c);
    if (rc != VP_OK)
        return rc;
    long st = h->http_status(resp);
    if (st != 200) {
        rc = report_http_error(in, call, s, resp, what, region);
        h->http_free(resp);
        return rc;
    }
    size_t len = 0;
    const char *txt = h->http_body(resp, &len);
    vp_json *j = NULL;
    if (h->json_parse(txt, len, &j) != VP_OK) {
        h->http_free(resp);
        return aws_fail(s, VP_EPROTO, "aws: %s: the response is not JSON", what);
    }
    aws_sv sv;
    char why[200];
    rc = aws_sm_value(h, j, r.kv, r.key, &sv, why, sizeof(why));
    h->json_free(j);
    h->http_free(resp);
    if (rc != VP_OK)
        return aws_fail(s, rc, "aws: %s: %s", what, why[0] ? why : "cannot read the value");
    rc = h->secret_set(out, sv.value, sv.len);
    if (rc == VP_OK && sv.version[0])
        rc = h->secret_set_version(out, sv.version);
    aws_sv_clear(h, &sv);
    if (rc != VP_OK)
        return aws_fail(s, rc, "aws: %s: cannot store the value", what);
    return VP_OK;
}

/* ---- batch ----------------------------------------------------------------------------- */

/* Items BatchGetSecretValue can serve: AWSCURRENT of a secret in the instance's region. */
static int batchable(const sm_ref *r)
{
    char reg[40];
    return r->version_id == NULL &&
           (r->stage == NULL || strcmp(r->stage, AWS_DEFAULT_STAGE) == 0) && r->region == NULL &&
           aws_arn_region(r->id, reg, sizeof(reg)) != 0;
}

/* Does a SecretValues entry / Errors entry answer the requested id? */
static int id_matches(const char *want, const char *name, const char *arn)
{
    if (name != NULL && strcmp(want, name) == 0)
        return 1;
    if (arn != NULL && strcmp(want, arn) == 0)
        return 1;
    return 0;
}

typedef struct batch_item {
    size_t idx;
    sm_ref r;
    int done;
} batch_item;

static void batch_apply(aws_inst *in, const vp_json *root, batch_item *items, size_t n,
                        vp_secret_out *const *outs)
{
    const vp_host *h = in->h;
    const vp_json *vals = h->json_get(root, "SecretValues");
    for (size_t v = 0; v < h->json_len(vals); v++) {
        const vp_json *e = h->json_at(vals, v);
        const char *name = h->json_string(h->json_get(e, "Name"), NULL);
        const char *arn = h->json_string(h->json_get(e, "ARN"), NULL);
        for (size_t i = 0; i < n; i++) {
            if (items[i].done || !id_matches(items[i].r.id, name, arn))
                continue;
            vp_secret_out *o = outs[items[i].idx];
            aws_sv sv;
            char why[200];
            int rc = aws_sm_value(h, e, items[i].r.kv, items[i].r.key, &sv, why, sizeof(why));
            if (rc == VP_OK) {
                rc = h->secret_set(o, sv.value, sv.len);
                if (rc == VP_OK && sv.version[0])
                    rc = h->secret_set_version(o, sv.version);
                if (rc != VP_OK)
                    h->secret_fail(o, rc, "aws: secret '%.200s': cannot store the value",
                                   items[i].r.id);
            } else {
                h->secret_fail(o, rc, "aws: secret '%.200s': %s", items[i].r.id, why);
            }
            aws_sv_clear(h, &sv);
            items[i].done = 1;
        }
    }
    const vp_json *errs = h->json_get(root, "Errors");
    for (size_t v = 0; v < h->json_len(errs); v++) {
        const vp_json *e = h->json_at(errs, v);
        const char *sid = h->json_string(h->json_get(e, "SecretId"), NULL);
        const char *code = h->json_string(h->json_get(e, "ErrorCode"), NULL);
        const char *msg = h->json_string(h->json_get(e, "Message"), NULL);
        if (sid == NULL)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (items[i].done || strcmp(items[i].r.id, sid) != 0)
                continue;
            int rc = aws_map_error(code ? code : "", 400);
            h->secret_fail(outs[items[i].idx], rc, "aws: secret '%.200s': %.64s%s%.200s%s",
                           items[i].r.id, code ? code : "error", msg ? ": " : "", msg ? msg : "",
                           error_hint(rc, code ? code : ""));
            items[i].done = 1;
        }
    }
}

/* One BatchGetSecretValue round (with NextToken pages) for up to AWS_BATCH_MAX items. Returns a
 * batch-level status (items are then untouched). */
static int batch_round(aws_inst *in, vp_call *call, const aws_creds *c, const char *url,
                       const char *region, batch_item *items, size_t n, vp_secret_out *const *outs)
{
    const vp_host *h = in->h;
    aws_sink s = {h, call, NULL};
    char *next = NULL;
    int rc = VP_OK;
    for (int page = 0; page < AWS_BATCH_PAGES; page++) {
        vp_json *o = h->json_new_object(), *ids = h->json_new_array();
        int brc = o != NULL && ids != NULL ? VP_OK : VP_ENOMEM;
        for (size_t i = 0; i < n && brc == VP_OK; i++) {
            vp_json *id = h->json_new_string(items[i].r.id, strlen(items[i].r.id));
            brc = id != NULL ? h->json_append(ids, id) : VP_ENOMEM;
        }
        if (brc == VP_OK) {
            brc = h->json_set(o, "SecretIdList", ids);
        } else {
            h->json_free(ids);
        }
        ids = NULL;
        if (brc == VP_OK)
            brc = json_put(h, o, "NextToken", next);
        size_t blen = 0;
        char *body = brc == VP_OK ? h->json_dump(o, &blen) : NULL;
        h->json_free(o);
        h->free(next);
        next = NULL;
        if (body == NULL)
            return VP_ENOMEM;
        aws_api_req q = {url,
                         "secretsmanager",
                         region,
                         "secretsmanager.BatchGetSecretValue",
                         "application/x-amz-json-1.1",
                         body,
                         blen};
        vp_http_response *resp = NULL;
        rc = aws_api_call(in, call, c, &q, &resp);
        h->secure_free(body);
        if (rc != VP_OK)
            return rc;
        long st = h->http_status(resp);
        if (st != 200) {
            char what[64];
            snprintf(what, sizeof(what), "BatchGetSecretValue of %zu secrets", n);
            rc = report_http_error(in, call, &s, resp, what, region);
            h->http_free(resp);
            return rc;
        }
        size_t len = 0;
        const char *txt = h->http_body(resp, &len);
        vp_json *j = NULL;
        if (h->json_parse(txt, len, &j) != VP_OK || h->json_type(j) != VP_JSON_OBJECT) {
            h->json_free(j);
            h->http_free(resp);
            return h->fail(call, VP_EPROTO,
                           "aws: BatchGetSecretValue: the response is not a "
                           "JSON object");
        }
        batch_apply(in, j, items, n, outs);
        const char *nt = h->json_string(h->json_get(j, "NextToken"), NULL);
        if (nt != NULL && nt[0] != '\0')
            next = h->strdup(nt);
        h->json_free(j);
        h->http_free(resp);
        if (next == NULL)
            break;
    }
    h->free(next);
    return VP_OK;
}

int aws_sm_fetch_batch(aws_inst *in, vp_call *call, size_t n, const vp_ref *const *refs,
                       vp_secret_out *const *outs)
{
    const vp_host *h = in->h;
    if (n > 0 && (refs == NULL || outs == NULL))
        return h->fail(call, VP_EINVAL, "aws: fetch_batch called without references");
    batch_item *items = h->calloc(n ? n : 1, sizeof(*items));
    if (items == NULL)
        return VP_ENOMEM;
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        aws_sink s = {h, call, outs[i]};
        if (refs[i] == NULL) {
            h->secret_fail(outs[i], VP_EINVAL, "aws: batch item %zu has no reference", i);
            continue;
        }
        sm_ref r;
        if (parse_ref(refs[i], &s, &r) != VP_OK)
            continue;
        if (batchable(&r)) {
            items[nb].idx = i;
            items[nb++].r = r;
        } else {
            aws_sm_fetch(in, refs[i], call, &s, outs[i]);
        }
    }
    int rc = VP_OK;
    if (nb > 0) {
        aws_creds c;
        rc = aws_get_creds(in, call, &c);
        char region[40] = "";
        char *url = NULL;
        aws_sink s = {h, call, NULL};
        if (rc == VP_OK)
            rc = sm_target(in, call, &s, &items[0].r, &c, region, sizeof(region), &url);
        for (size_t k = 0; rc == VP_OK && k < nb; k += AWS_BATCH_MAX) {
            size_t m = nb - k < AWS_BATCH_MAX ? nb - k : AWS_BATCH_MAX;
            h->log(in->hc, VP_LOG_DEBUG, "BatchGetSecretValue of %zu secrets (region %s)", m,
                   region);
            rc = batch_round(in, call, &c, url, region, items + k, m, outs);
            if (rc == VP_EPERM) {
                /* No secretsmanager:BatchGetSecretValue: one GetSecretValue per item. */
                h->log(in->hc, VP_LOG_DEBUG, "batch denied; fetching %zu secrets one by one", m);
                for (size_t i = k; i < k + m; i++) {
                    aws_sink is = {h, call, outs[items[i].idx]};
                    aws_sm_fetch(in, refs[items[i].idx], call, &is, outs[items[i].idx]);
                    items[i].done = 1;
                }
                rc = VP_OK;
            }
        }
        if (rc == VP_OK)
            for (size_t i = 0; i < nb; i++)
                if (!items[i].done)
                    h->secret_fail(outs[items[i].idx], VP_ENOTFOUND,
                                   "aws: secret '%.200s' (region %s): not in the "
                                   "BatchGetSecretValue response",
                                   items[i].r.id, region);
        h->free(url);
        aws_creds_clear(h, in->hc, &c);
    }
    h->free(items);
    return rc;
}

/* ---- validate: STS GetCallerIdentity --------------------------------------------------- */

int aws_sts_whoami(aws_inst *in, vp_call *call)
{
    const vp_host *h = in->h;
    aws_creds c;
    int rc = aws_get_creds(in, call, &c);
    if (rc != VP_OK)
        return rc;
    char *reg = aws_region(in, call, &c);
    const char *region = reg && aws_region_valid(reg) ? reg : "us-east-1";
    char *ep = aws_endpoint(in, call, "STS");
    char url[256];
    if (ep != NULL)
        snprintf(url, sizeof(url), "%s", ep);
    else
        snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com", region);
    h->free(ep);
    static const char body[] = "Action=GetCallerIdentity&Version=2011-06-15";
    aws_api_req q = {
        url,  "sts",           region, NULL, "application/x-www-form-urlencoded; charset=utf-8",
        body, sizeof(body) - 1};
    vp_http_response *resp = NULL;
    rc = aws_api_call(in, call, &c, &q, &resp);
    if (rc == VP_OK) {
        long st = h->http_status(resp);
        size_t len = 0;
        const char *txt = h->http_body(resp, &len);
        if (st == 200) {
            char *arn = aws_xml_get(h, txt, len, "Arn");
            if (arn == NULL)
                rc = h->fail(call, VP_EPROTO, "aws: GetCallerIdentity: malformed response");
            else
                h->log(in->hc, VP_LOG_INFO, "credential '%s' is %s", in->cred_name, arn);
            h->secure_free(arn);
        } else {
            char *code = aws_xml_get(h, txt, len, "Code");
            char *msg = aws_xml_get(h, txt, len, "Message");
            rc = aws_map_error(code ? code : "", st);
            if (rc == VP_EAUTH)
                aws_forget_creds(in);
            rc = h->fail(call, rc, "aws: credential '%s' (%s): GetCallerIdentity: %s: %.200s",
                         in->cred_name, c.source ? c.source : "?", code ? code : "HTTP error",
                         msg ? msg : "");
            h->secure_free(code);
            h->secure_free(msg);
        }
        h->http_free(resp);
    }
    h->free(reg);
    aws_creds_clear(h, in->hc, &c);
    return rc;
}

/* For sm_list.c: the same error report as a failed read. */
int aws_sm_report_http_error(aws_inst *in, vp_call *call, vp_http_response *resp, const char *what,
                             const char *region)
{
    aws_sink s = {in->h, call, NULL};
    return report_http_error(in, call, &s, resp, what, region);
}
