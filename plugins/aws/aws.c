/*
 * aws.c - the AWS Secrets Manager provider: table, credential types, configure, fetch,
 * validate, and the one function that sends a SigV4-signed request.
 *
 *   aws://[cred@]secret-id-or-arn[?version_id=..&version_stage=..&region=..][#json-key]
 *   {% vault 'aws', 'cred', '{"SecretId":..,"VersionId":..,"VersionStage":..,
 *                             "SecretType":"plaintext|kv","SecretKey":..}' %}
 *
 * See docs/providers/aws.md for credential types, the default chain and error mapping.
 */
#include <stdio.h>
#include <string.h>

#include "aws_int.h"

/* ---- credential types ------------------------------------------------------------------ */

#define COMMON_FIELDS                                                                        \
    {"region", 0, "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)"},    \
        {"endpoint_url", 0, "Secrets Manager endpoint override (private endpoints, tests)"}, \
        {"sts_endpoint_url", 0, "STS endpoint override"},                                    \
    {                                                                                        \
        "sso_endpoint_url", 0, "SSO portal endpoint override"                                \
    }

static const vp_cred_field temporary_fields[] = {
    {"access_key_id", VP_FIELD_REQUIRED, "access key id (AKIA... or ASIA...)"},
    {"secret_access_key", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "secret access key"},
    {"session_token", VP_FIELD_SECRET, "session token (temporary credentials)"},
    COMMON_FIELDS,
    {NULL, 0, NULL},
};

static const vp_cred_field file_fields[] = {
    {"section", 0, "profile name in the shared files (default: AWS_PROFILE or \"default\")"},
    {"credentials_file", 0,
     "credentials file (default: AWS_SHARED_CREDENTIALS_FILE or "
     "~/.aws/credentials)"},
    {"config_file", 0, "config file (default: AWS_CONFIG_FILE or ~/.aws/config)"},
    {"sso_cache_dir", 0, "SSO token cache directory (default ~/.aws/sso/cache)"},
    COMMON_FIELDS,
    {NULL, 0, NULL},
};

static const vp_cred_field sso_fields[] = {
    {"section", 0, "SSO profile name in the config file (default: AWS_PROFILE or \"default\")"},
    {"config_file", 0, "config file (default: AWS_CONFIG_FILE or ~/.aws/config)"},
    {"sso_cache_dir", 0, "SSO token cache directory (default ~/.aws/sso/cache)"},
    COMMON_FIELDS,
    {NULL, 0, NULL},
};

static const vp_cred_type aws_cred_types[] = {
    {"temporary", "access key id, secret access key and optional session token", temporary_fields},
    {"file", "a profile of the shared credentials/config files (static keys, role_arn, SSO)",
     file_fields},
    {"sso", "an IAM Identity Center (SSO) profile, after `aws sso login`", sso_fields},
    {NULL, NULL, NULL},
};

typedef struct aws_mod {
    const vp_host *h;
    vp_host_ctx *hc;
} aws_mod;

static int aws_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    if (host == NULL || mod == NULL)
        return VP_EABI;
    if (!VP_HAS(vp_host, host, loopback_close)) { /* builder, URL and time services: SDK 1.1 */
        host->log(hc, VP_LOG_ERROR, "aws: needs a vaultplug host of plugin ABI 1.1 or later");
        return VP_EABI;
    }
    aws_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->h = host;
    m->hc = hc;
    *mod = m;
    return VP_OK;
}

static void aws_teardown(void *mod)
{
    aws_mod *m = mod;
    if (m != NULL)
        m->h->free(m);
}

static void aws_destroy(void *inst)
{
    aws_inst *in = inst;
    if (in == NULL)
        return;
    const vp_host *h = in->h;
    aws_creds_clear(h, in->hc, &in->fixed);
    aws_creds_clear(h, in->hc, &in->cached);
    pthread_mutex_destroy(&in->lock);
    h->free(in->cred_name);
    h->free(in->profile);
    h->free(in->cred_file);
    h->free(in->config_file);
    h->free(in->sso_cache_dir);
    h->free(in->region);
    h->free(in->endpoint);
    h->free(in->sts_endpoint);
    h->free(in->sso_endpoint);
    h->free(in);
}

static int field_allowed(const vp_cred_field *fs, const char *k)
{
    for (; fs->name; fs++)
        if (strcmp(fs->name, k) == 0)
            return 1;
    return 0;
}

static int configure_fields(aws_inst *in, const vp_cred *cred, const vp_cred_field *allowed,
                            const char *type, vp_call *call)
{
    const vp_host *h = in->h;
    for (size_t i = 0; i < cred->n_fields; i++) {
        const vp_kv *f = &cred->fields[i];
        const char *k = f->key ? f->key : "";
        const char *v = f->value ? f->value : "";
        if (!field_allowed(allowed, k))
            return h->fail(call, VP_EINVAL,
                           "aws: credential '%s': unknown field '%.64s' for type '%s'",
                           in->cred_name, k, type);
        if (v[0] == '\0')
            continue;
        char **dst = NULL;
        if (strcmp(k, "access_key_id") == 0) {
            in->fixed.akid = h->secure_strdup(v);
            if (in->fixed.akid == NULL)
                return VP_ENOMEM;
            continue;
        } else if (strcmp(k, "secret_access_key") == 0) {
            in->fixed.secret = h->secure_strdup(v);
            if (in->fixed.secret == NULL)
                return VP_ENOMEM;
            h->mask(in->hc, in->fixed.secret, strlen(in->fixed.secret));
            continue;
        } else if (strcmp(k, "session_token") == 0) {
            in->fixed.token = h->secure_strdup(v);
            if (in->fixed.token == NULL)
                return VP_ENOMEM;
            h->mask(in->hc, in->fixed.token, strlen(in->fixed.token));
            continue;
        } else if (strcmp(k, "section") == 0) {
            dst = &in->profile;
            in->profile_from = "the credential's section field";
        } else if (strcmp(k, "credentials_file") == 0) {
            dst = &in->cred_file;
        } else if (strcmp(k, "config_file") == 0) {
            dst = &in->config_file;
        } else if (strcmp(k, "sso_cache_dir") == 0) {
            dst = &in->sso_cache_dir;
        } else if (strcmp(k, "region") == 0) {
            if (!aws_region_valid(v))
                return h->fail(call, VP_EINVAL, "aws: credential '%s': invalid region '%.40s'",
                               in->cred_name, v);
            dst = &in->region;
        } else if (strcmp(k, "endpoint_url") == 0) {
            dst = &in->endpoint;
        } else if (strcmp(k, "sts_endpoint_url") == 0) {
            dst = &in->sts_endpoint;
        } else if (strcmp(k, "sso_endpoint_url") == 0) {
            dst = &in->sso_endpoint;
        }
        if (dst != NULL) {
            if ((strstr(k, "endpoint") != NULL) && strncmp(v, "https://", 8) != 0 &&
                strncmp(v, "http://", 7) != 0)
                return h->fail(call, VP_EINVAL, "aws: credential '%s': %s must be an http(s) URL",
                               in->cred_name, k);
            *dst = h->strdup(v);
            if (*dst == NULL)
                return VP_ENOMEM;
        }
    }
    return VP_OK;
}

/* ---- Inso's variables for the empty credential --------------------------------------------
 * Inso (Insomnia's CLI) describes one credential with INSOMNIA_AWS_TYPE and the variables that
 * type needs. They are read once, at configure time, so a missing one is reported before any
 * request. Without INSOMNIA_AWS_TYPE Inso ignores the others, and so do we (with a warning,
 * because a half-set environment is usually a mistake). */

static const char *const inso_vars[] = {
    "INSOMNIA_AWS_ACCESSKEYID", "INSOMNIA_AWS_SECRETACCESSKEY", "INSOMNIA_AWS_SESSIONTOKEN",
    "INSOMNIA_AWS_SECTION",     "INSOMNIA_AWS_FILEPATH",        "INSOMNIA_AWS_CONFIGFILEPATH",
    "INSOMNIA_AWS_REGION",      "INSOMNIA_AWS_ENABLECACHE",     NULL,
};

/* A required variable of the selected type, as a secure copy. */
static int inso_required(aws_inst *in, vp_call *call, const char *type, const char *name,
                         char **out)
{
    *out = aws_env(in, name);
    if (*out == NULL)
        return in->h->fail(call, VP_EINVAL,
                           "aws: INSOMNIA_AWS_TYPE is '%s' but %s is not set (or empty)", type,
                           name);
    return VP_OK;
}

/* A non-secret variable into a plain string; *dst stays NULL when unset. */
static int inso_plain(aws_inst *in, vp_call *call, const char *type, const char *name, int required,
                      char **dst)
{
    const vp_host *h = in->h;
    char *v = NULL;
    int rc = required ? inso_required(in, call, type, name, &v) : VP_OK;
    if (!required)
        v = aws_env(in, name);
    if (rc != VP_OK || v == NULL)
        return rc;
    *dst = h->strdup(v);
    h->secure_free(v);
    return *dst ? VP_OK : VP_ENOMEM;
}

static int configure_inso(aws_inst *in, vp_call *call, const char **label)
{
    const vp_host *h = in->h;
    in->kind = AWS_KIND_CHAIN;
    char *type = aws_env(in, "INSOMNIA_AWS_TYPE");
    if (type == NULL) {
        for (size_t i = 0; inso_vars[i]; i++) {
            char *v = aws_env(in, inso_vars[i]);
            if (v == NULL)
                continue;
            h->secure_free(v);
            h->log(in->hc, VP_LOG_WARN,
                   "%s is set but INSOMNIA_AWS_TYPE is not: Inso's variables are ignored "
                   "(set INSOMNIA_AWS_TYPE to temporary, file or sso); using the standard chain",
                   inso_vars[i]);
            break;
        }
        return VP_OK;
    }
    int rc;
    if (strcmp(type, "temporary") == 0) {
        in->kind = AWS_KIND_TEMPORARY;
        *label = "INSOMNIA_AWS_TYPE=temporary";
        rc = inso_required(in, call, type, "INSOMNIA_AWS_ACCESSKEYID", &in->fixed.akid);
        if (rc == VP_OK)
            rc = inso_required(in, call, type, "INSOMNIA_AWS_SECRETACCESSKEY", &in->fixed.secret);
        if (rc == VP_OK)
            in->fixed.token = aws_env(in, "INSOMNIA_AWS_SESSIONTOKEN");
        /* Before anything else can fail: aws_destroy unmasks what it frees. */
        aws_creds_mask(h, in->hc, &in->fixed);
        if (rc == VP_OK) {
            in->fixed.source = h->strdup("INSOMNIA_AWS_* (temporary)");
            rc = in->fixed.source ? VP_OK : VP_ENOMEM;
        }
    } else if (strcmp(type, "file") == 0 || strcmp(type, "sso") == 0) {
        int sso = type[0] == 's';
        in->kind = sso ? AWS_KIND_SSO : AWS_KIND_FILE;
        *label = sso ? "INSOMNIA_AWS_TYPE=sso" : "INSOMNIA_AWS_TYPE=file";
        rc = inso_plain(in, call, type, "INSOMNIA_AWS_SECTION", 1, &in->profile);
        in->profile_from = "INSOMNIA_AWS_SECTION";
        if (rc == VP_OK)
            rc = inso_plain(in, call, type, "INSOMNIA_AWS_FILEPATH", 0, &in->cred_file);
        if (rc == VP_OK && sso)
            rc = inso_plain(in, call, type, "INSOMNIA_AWS_CONFIGFILEPATH", 0, &in->config_file);
        /* INSOMNIA_AWS_ENABLECACHE is accepted and ignored: the resolver has its own cache. */
    } else {
        rc = h->fail(call, VP_EINVAL,
                     "aws: INSOMNIA_AWS_TYPE '%.32s' is not one of temporary, file, sso", type);
    }
    if (rc == VP_OK)
        rc = inso_plain(in, call, type, "INSOMNIA_AWS_REGION", 0, &in->region);
    if (rc == VP_OK && in->region != NULL && !aws_region_valid(in->region))
        rc = h->fail(call, VP_EINVAL, "aws: INSOMNIA_AWS_REGION '%.40s' is not a valid region",
                     in->region);
    h->secure_free(type);
    return rc;
}

static int aws_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    aws_mod *m = mod;
    const vp_host *h = m->h;
    if (cred == NULL || inst == NULL)
        return h->fail(call, VP_EINVAL, "aws: configure called without a credential");
    *inst = NULL;
    aws_inst *in = h->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->h = h;
    in->hc = m->hc;
    if (pthread_mutex_init(&in->lock, NULL) != 0) {
        h->free(in);
        return VP_EINTERNAL;
    }
    in->cred_name = h->strdup(cred->name ? cred->name : "");
    if (in->cred_name == NULL) {
        aws_destroy(in);
        return VP_ENOMEM;
    }
    const char *type = cred->type ? cred->type : "";
    const char *label = type[0] ? type : "default chain";
    int rc;
    if (type[0] == '\0' && cred->n_fields == 0) {
        rc = configure_inso(in, call, &label);
    } else if (strcmp(type, "temporary") == 0) {
        in->kind = AWS_KIND_TEMPORARY;
        rc = configure_fields(in, cred, temporary_fields, type, call);
        if (rc == VP_OK && (in->fixed.akid == NULL || in->fixed.secret == NULL))
            rc = h->fail(call, VP_EINVAL,
                         "aws: credential '%s': type 'temporary' needs access_key_id and "
                         "secret_access_key",
                         in->cred_name);
        if (rc == VP_OK) {
            in->fixed.source = h->strdup("credential");
            rc = in->fixed.source ? VP_OK : VP_ENOMEM;
        }
    } else if (strcmp(type, "file") == 0) {
        in->kind = AWS_KIND_FILE;
        rc = configure_fields(in, cred, file_fields, type, call);
    } else if (strcmp(type, "sso") == 0) {
        in->kind = AWS_KIND_SSO;
        rc = configure_fields(in, cred, sso_fields, type, call);
    } else {
        rc = h->fail(call, VP_EINVAL,
                     "aws: credential '%s': unknown type '%.64s' (aws knows: temporary, file, "
                     "sso, or empty for the default chain)",
                     in->cred_name, type[0] ? type : "(empty, with fields)");
    }
    if (rc != VP_OK) {
        aws_destroy(in);
        return rc;
    }
    h->log(in->hc, VP_LOG_DEBUG, "configured credential '%s' (type %s)", in->cred_name, label);
    *inst = in;
    return VP_OK;
}

/* ---- signed requests ------------------------------------------------------------------- */

int aws_api_call(aws_inst *in, vp_call *call, const aws_creds *c, const aws_api_req *r,
                 vp_http_response **resp)
{
    const vp_host *h = in->h;
    *resp = NULL;
    char host[256];
    if (aws_url_host(h, r->url, host, sizeof(host)) != 0)
        return h->fail(call, VP_EINVAL, "aws: endpoint '%.200s' is not an http(s) URL", r->url);
    const char *path = strchr(strstr(r->url, "://") + 3, '/');
    char amzdate[17];
    aws_amzdate(h->now_unix_ms(in->hc), amzdate);

    aws_hdr sh[5];
    size_t n = 0;
    sh[n++] = (aws_hdr){"Content-Type", r->content_type};
    sh[n++] = (aws_hdr){"Host", host};
    sh[n++] = (aws_hdr){"X-Amz-Date", amzdate};
    if (c->token != NULL)
        sh[n++] = (aws_hdr){"X-Amz-Security-Token", c->token};
    if (r->target != NULL)
        sh[n++] = (aws_hdr){"X-Amz-Target", r->target};
    aws_sigv4_req sr = {"POST",      path ? path : "/", NULL,      sh,        n,          r->body,
                        r->body_len, c->akid,           c->secret, r->region, r->service, amzdate};
    aws_sigv4_res res;
    int rc = aws_sigv4_sign(h, &sr, &res);
    if (rc != VP_OK)
        return rc == VP_ENOMEM ? VP_ENOMEM : h->fail(call, rc, "aws: cannot sign the request");

    vp_http_header hh[7];
    size_t k = 0;
    hh[k++] = (vp_http_header){"Host", host, 0};
    hh[k++] = (vp_http_header){"Content-Type", r->content_type, 0};
    hh[k++] = (vp_http_header){"X-Amz-Date", amzdate, 0};
    if (c->token != NULL)
        hh[k++] = (vp_http_header){"X-Amz-Security-Token", c->token, VP_HTTP_HDR_SECRET};
    if (r->target != NULL)
        hh[k++] = (vp_http_header){"X-Amz-Target", r->target, 0};
    hh[k++] = (vp_http_header){"Authorization", res.authz, VP_HTTP_HDR_SECRET};
    vp_http_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    rq.method = "POST";
    rq.url = path ? r->url : NULL;
    char *url2 = NULL;
    if (path == NULL) {
        /* Endpoint without a path: send "/" explicitly so the signed path is what goes out. */
        size_t ul = strlen(r->url);
        url2 = h->malloc(ul + 2);
        if (url2 == NULL) {
            aws_sigv4_res_free(h, &res);
            return VP_ENOMEM;
        }
        memcpy(url2, r->url, ul);
        memcpy(url2 + ul, "/", 2);
        rq.url = url2;
    }
    rq.headers = hh;
    rq.n_headers = k;
    rq.body = r->body;
    rq.body_len = r->body_len;
    char *ca = aws_env(in, "AWS_CA_BUNDLE");
    rq.ca_file = ca;
    rc = h->http(call, &rq, resp);
    h->secure_free(ca);
    h->free(url2);
    aws_sigv4_res_free(h, &res);
    return rc;
}

/* ---- fetch / validate ----------------------------------------------------------------- */

static int aws_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    aws_inst *in = inst;
    aws_sink s = {in->h, call, NULL};
    if (ref == NULL || out == NULL)
        return aws_fail(&s, VP_EINVAL, "aws: fetch called without a reference");
    return aws_sm_fetch(in, ref, call, &s, out);
}

static int aws_fetch_batch(void *inst, vp_call *call, size_t n, const vp_ref *const *refs,
                           vp_secret_out *const *outs)
{
    return aws_sm_fetch_batch(inst, call, n, refs, outs);
}

static int aws_validate(void *inst, vp_call *call)
{
    return aws_sts_whoami(inst, call);
}

static const char *const aws_schemes[] = {"aws", NULL};

static const vp_provider aws_provider = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "aws",
    .version = "1.0.0",
    .description = "AWS Secrets Manager (SigV4; keys, profiles, SSO, assume-role, ECS, IMDSv2)",
    .schemes = aws_schemes,
    .caps = VP_CAP_THREADSAFE | VP_CAP_BATCH | VP_CAP_LIST,
    .cred_types = aws_cred_types,
    .init = aws_init,
    .configure = aws_configure,
    .fetch = aws_fetch,
    .fetch_batch = aws_fetch_batch,
    .list = aws_sm_list,
    .login = NULL,
    .validate = aws_validate,
    .destroy = aws_destroy,
    .teardown = aws_teardown,
};

VP_PROVIDER_ENTRY(aws_provider)
