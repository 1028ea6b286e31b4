/*
 * creds_remote.c - credential sources that ask a service: STS AssumeRole (query protocol, XML),
 * the SSO portal's GetRoleCredentials (with the token cached by `aws sso login`), the container
 * credentials endpoint (ECS / EKS Pod Identity) and IMDSv2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

/* ---- response parsers (also reached by the fuzz target) ---------------------------------- */

static char *jstr(const vp_host *h, const vp_json *o, const char *key)
{
    size_t n = 0;
    const char *s = h->json_string(h->json_get(o, key), &n);
    return s && n ? aws_sstrndup(h, s, n) : NULL;
}

int aws_parse_json_creds(const vp_host *h, const char *body, size_t len, aws_creds *out)
{
    memset(out, 0, sizeof(*out));
    vp_json *j = NULL;
    if (h->json_parse(body, len, &j) != VP_OK)
        return VP_EPROTO;
    out->akid = jstr(h, j, "AccessKeyId");
    out->secret = jstr(h, j, "SecretAccessKey");
    out->token = jstr(h, j, "Token");
    char *exp = jstr(h, j, "Expiration");
    h->json_free(j);
    int rc = VP_OK;
    if (out->akid == NULL || out->secret == NULL)
        rc = VP_EPROTO;
    else if (exp != NULL && aws_parse_time(h, exp, &out->expiry) != 0)
        rc = VP_EPROTO;
    h->secure_free(exp);
    if (rc != VP_OK) {
        h->secure_free(out->akid);
        h->secure_free(out->secret);
        h->secure_free(out->token);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

int aws_parse_sts_creds(const vp_host *h, const char *body, size_t len, aws_creds *out)
{
    memset(out, 0, sizeof(*out));
    out->akid = aws_xml_get(h, body, len, "AccessKeyId");
    out->secret = aws_xml_get(h, body, len, "SecretAccessKey");
    out->token = aws_xml_get(h, body, len, "SessionToken");
    char *exp = aws_xml_get(h, body, len, "Expiration");
    int rc = VP_OK;
    if (out->akid == NULL || out->secret == NULL || out->token == NULL || exp == NULL ||
        aws_parse_time(h, exp, &out->expiry) != 0)
        rc = VP_EPROTO;
    h->secure_free(exp);
    if (rc != VP_OK) {
        h->secure_free(out->akid);
        h->secure_free(out->secret);
        h->secure_free(out->token);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

static int finish(aws_inst *in, aws_creds *c, const char *source)
{
    aws_creds_mask(in->h, in->hc, c);
    c->source = in->h->strdup(source);
    if (c->source == NULL) {
        aws_creds_clear(in->h, in->hc, c);
        return VP_ENOMEM;
    }
    return VP_OK;
}

/* ---- STS AssumeRole --------------------------------------------------------------------- */

int aws_creds_assume_role(aws_inst *in, vp_call *call, const aws_creds *src, const char *role_arn,
                          const char *session_name, const char *region, aws_creds *out)
{
    const vp_host *h = in->h;
    memset(out, 0, sizeof(*out));
    char *ep = aws_endpoint(in, call, "STS");
    char url[512];
    const char *reg = region ? region : "us-east-1";
    if (ep != NULL)
        snprintf(url, sizeof(url), "%s", ep);
    else
        snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com", reg);
    h->free(ep);
    char sess[80];
    if (session_name != NULL)
        snprintf(sess, sizeof(sess), "%s", session_name);
    else
        snprintf(sess, sizeof(sess), "vaultplug-%lld", (long long)(h->now_unix_ms(in->hc) / 1000));
    vp_sb *body = h->sb_new(AWS_TEXT_MAX, 0);
    h->sb_append_str(body, "Action=AssumeRole&Version=2011-06-15&RoleArn=");
    h->sb_append_enc(body, role_arn, strlen(role_arn), 0);
    h->sb_append_str(body, "&RoleSessionName=");
    if (h->sb_append_enc(body, sess, strlen(sess), 0) != VP_OK) {
        h->sb_free(body);
        return VP_ENOMEM;
    }
    size_t blen = 0;
    const char *btext = h->sb_data(body, &blen);
    aws_api_req r = {url,   "sts", reg, NULL, "application/x-www-form-urlencoded; charset=utf-8",
                     btext, blen};
    vp_http_response *resp = NULL;
    int rc = aws_api_call(in, call, src, &r, &resp);
    h->sb_free(body);
    if (rc != VP_OK)
        return rc;
    long st = h->http_status(resp);
    size_t len = 0;
    const char *txt = h->http_body(resp, &len);
    if (st == 200) {
        rc = aws_parse_sts_creds(h, txt, len, out);
        if (rc != VP_OK)
            rc = h->fail(call, VP_EPROTO, "aws: AssumeRole %s: malformed STS response", role_arn);
        else
            rc = finish(in, out, "assume-role");
    } else {
        char *code = aws_xml_get(h, txt, len, "Code");
        char *msg = aws_xml_get(h, txt, len, "Message");
        rc = aws_map_error(code ? code : "", st);
        if (rc == VP_ENOTFOUND || rc == VP_EINVAL)
            rc = VP_EPERM;
        rc = h->fail(call, rc, "aws: AssumeRole %s with %s credentials: %s: %.200s", role_arn,
                     src->source ? src->source : "source", code ? code : "HTTP error",
                     msg ? msg : "");
        h->secure_free(code);
        h->secure_free(msg);
    }
    h->http_free(resp);
    return rc;
}

/* ---- SSO ----------------------------------------------------------------------------------- */

static int sso_name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static char *cfg_sec_get(const vp_host *h, const char *cfg, const char *profile, const char *key)
{
    char sec[320];
    if (strcmp(profile, "default") == 0)
        snprintf(sec, sizeof(sec), "default");
    else
        snprintf(sec, sizeof(sec), "profile %s", profile);
    char *v = aws_ini_get(h, cfg, sec, key);
    if (v == NULL && strcmp(profile, "default") == 0)
        v = aws_ini_get(h, cfg, "profile default", key);
    return v;
}

typedef struct sso_cfg {
    char *session, *start_url, *region, *account, *role;
} sso_cfg;

static void sso_cfg_free(const vp_host *h, sso_cfg *s)
{
    h->secure_free(s->session);
    h->secure_free(s->start_url);
    h->secure_free(s->region);
    h->secure_free(s->account);
    h->secure_free(s->role);
}

static int sso_config(aws_inst *in, vp_call *call, const char *cfg, const char *profile, sso_cfg *s)
{
    const vp_host *h = in->h;
    memset(s, 0, sizeof(*s));
    s->session = cfg_sec_get(h, cfg, profile, "sso_session");
    s->account = cfg_sec_get(h, cfg, profile, "sso_account_id");
    s->role = cfg_sec_get(h, cfg, profile, "sso_role_name");
    char *purl = cfg_sec_get(h, cfg, profile, "sso_start_url");
    char *preg = cfg_sec_get(h, cfg, profile, "sso_region");
    int rc = VP_OK;
    if (s->session != NULL) {
        if (!sso_name_ok(s->session)) {
            rc = h->fail(call, VP_EINVAL,
                         "aws: profile '%s': sso_session name may only contain letters, digits, "
                         "'-' and '_'",
                         profile);
            goto out;
        }
        char sec[320];
        snprintf(sec, sizeof(sec), "sso-session %s", s->session);
        if (!aws_ini_has_section(cfg, sec)) {
            rc = h->fail(call, VP_EINVAL, "aws: profile '%s': section [sso-session %s] not found",
                         profile, s->session);
            goto out;
        }
        s->start_url = aws_ini_get(h, cfg, sec, "sso_start_url");
        s->region = aws_ini_get(h, cfg, sec, "sso_region");
        if ((purl && s->start_url && strcmp(purl, s->start_url) != 0) ||
            (preg && s->region && strcmp(preg, s->region) != 0)) {
            rc = h->fail(call, VP_EINVAL,
                         "aws: profile '%s' and [sso-session %s] disagree on sso_start_url or "
                         "sso_region",
                         profile, s->session);
            goto out;
        }
    } else {
        s->start_url = purl;
        s->region = preg;
        purl = preg = NULL;
    }
    if (s->start_url == NULL || s->region == NULL || s->account == NULL || s->role == NULL)
        rc = h->fail(call, VP_EINVAL,
                     "aws: profile '%s': SSO needs sso_start_url, sso_region, sso_account_id and "
                     "sso_role_name",
                     profile);
    else if (!aws_region_valid(s->region))
        rc = h->fail(call, VP_EINVAL, "aws: profile '%s': invalid sso_region", profile);
out:
    h->secure_free(purl);
    h->secure_free(preg);
    if (rc != VP_OK)
        sso_cfg_free(h, s);
    return rc;
}

/* The cached SSO access token (secure), after checking it has not expired. */
static int sso_token(aws_inst *in, vp_call *call, const char *profile, const sso_cfg *s,
                     char **token)
{
    const vp_host *h = in->h;
    *token = NULL;
    const char *key = s->session ? s->session : s->start_url;
    unsigned char dig[20];
    char hex[41];
    h->sha1(key, strlen(key), dig);
    h->hex_encode(dig, 20, hex);
    char *envdir = in->sso_cache_dir ? NULL : aws_env(in, "AWS_SSO_CACHE_DIR");
    const char *dir = in->sso_cache_dir ? in->sso_cache_dir : envdir ? envdir : AWS_SSO_CACHE_DIR;
    char path[1024];
    int n = snprintf(path, sizeof(path), "%s/%s.json", dir, hex);
    h->secure_free(envdir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return h->fail(call, VP_ELIMIT, "aws: SSO cache path too long");
    char login[400];
    if (s->session)
        snprintf(login, sizeof(login), "run `aws sso login --sso-session %s`", s->session);
    else
        snprintf(login, sizeof(login), "run `aws sso login --profile %s`", profile);
    char *data = NULL;
    size_t len = 0;
    int rc = h->read_file(in->hc, NULL, path, AWS_FILE_MAX, &data, &len);
    if (rc == VP_ENOTFOUND)
        return h->fail(call, VP_EAUTH, "aws: profile '%s': no cached SSO token (%s)", profile,
                       login);
    if (rc != VP_OK)
        return h->fail(call, VP_EAUTH, "aws: profile '%s': cannot read the SSO token cache %s",
                       profile, path);
    vp_json *j = NULL;
    rc = h->json_parse(data, len, &j);
    h->secure_free(data);
    if (rc != VP_OK)
        return h->fail(call, VP_EAUTH, "aws: profile '%s': SSO token cache %s is not JSON (%s)",
                       profile, path, login);
    char *tok = jstr(h, j, "accessToken");
    char *exp = jstr(h, j, "expiresAt");
    h->json_free(j);
    int64_t exp_ms = 0;
    if (tok == NULL || exp == NULL || aws_parse_time(h, exp, &exp_ms) != 0)
        rc = h->fail(call, VP_EAUTH,
                     "aws: profile '%s': SSO token cache lacks accessToken/expiresAt (%s)", profile,
                     login);
    else if (exp_ms <= h->now_unix_ms(in->hc))
        rc = h->fail(call, VP_EAUTH, "aws: profile '%s': the SSO session has expired; %s", profile,
                     login);
    h->secure_free(exp);
    if (rc != VP_OK) {
        h->secure_free(tok);
        return rc;
    }
    h->mask(in->hc, tok, strlen(tok));
    *token = tok;
    return VP_OK;
}

int aws_creds_sso(aws_inst *in, vp_call *call, const char *cfg, const char *profile, aws_creds *out)
{
    const vp_host *h = in->h;
    memset(out, 0, sizeof(*out));
    sso_cfg s;
    int rc = sso_config(in, call, cfg, profile, &s);
    if (rc != VP_OK)
        return rc;
    char *tok = NULL;
    rc = sso_token(in, call, profile, &s, &tok);
    if (rc != VP_OK) {
        sso_cfg_free(h, &s);
        return rc;
    }
    char *ep = aws_endpoint(in, call, "SSO");
    vp_sb *url = h->sb_new(AWS_TEXT_MAX, 0);
    if (ep != NULL) {
        size_t el = strlen(ep);
        h->sb_append(url, ep, el > 0 && ep[el - 1] == '/' ? el - 1 : el);
    } else {
        h->sb_printf(url, "https://portal.sso.%s.amazonaws.com", s.region);
    }
    h->free(ep);
    h->sb_append_str(url, "/federation/credentials?role_name=");
    h->sb_append_enc(url, s.role, strlen(s.role), 0);
    h->sb_append_str(url, "&account_id=");
    h->sb_append_enc(url, s.account, strlen(s.account), 0);
    vp_http_header hdrs[] = {{"x-amz-sso_bearer_token", tok, VP_HTTP_HDR_SECRET},
                             {"Accept", "application/json", 0}};
    vp_http_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    rq.method = "GET";
    rq.url = h->sb_data(url, NULL);
    rq.headers = hdrs;
    rq.n_headers = 2;
    char *ca = aws_env(in, "AWS_CA_BUNDLE");
    rq.ca_file = ca;
    vp_http_response *resp = NULL;
    if (h->sb_status(url) != VP_OK)
        rc = VP_ENOMEM;
    else
        rc = h->http(call, &rq, &resp);
    h->secure_free(ca);
    h->sb_free(url);
    h->unmask(in->hc, tok, strlen(tok));
    h->secure_free(tok);
    if (rc != VP_OK) {
        sso_cfg_free(h, &s);
        return rc;
    }
    long st = h->http_status(resp);
    size_t len = 0;
    const char *txt = h->http_body(resp, &len);
    if (st == 200) {
        vp_json *j = NULL;
        rc = h->json_parse(txt, len, &j);
        const vp_json *rc_obj = rc == VP_OK ? h->json_get(j, "roleCredentials") : NULL;
        int64_t exp = 0;
        if (rc_obj != NULL) {
            out->akid = jstr(h, rc_obj, "accessKeyId");
            out->secret = jstr(h, rc_obj, "secretAccessKey");
            out->token = jstr(h, rc_obj, "sessionToken");
            if (h->json_int(h->json_get(rc_obj, "expiration"), &exp) == VP_OK)
                out->expiry = exp;
        }
        h->json_free(j);
        if (out->akid == NULL || out->secret == NULL) {
            aws_creds_clear(h, in->hc, out);
            rc = h->fail(call, VP_EPROTO,
                         "aws: profile '%s': malformed GetRoleCredentials "
                         "response",
                         profile);
        } else {
            rc = finish(in, out, "sso");
        }
    } else {
        aws_err e;
        aws_parse_error(h, resp, st, &e);
        if (st == 401 || strcmp(e.code, "UnauthorizedException") == 0)
            rc = h->fail(call, VP_EAUTH,
                         "aws: profile '%s': the SSO token was rejected (expired or revoked); "
                         "run `aws sso login`",
                         profile);
        else if (st == 403 || st == 404)
            rc = h->fail(call, VP_EPERM,
                         "aws: profile '%s': no access to role %s in account %s (%s)", profile,
                         s.role, s.account, e.code);
        else
            rc = h->fail(call, aws_map_error(e.code, st), "aws: profile '%s': SSO %s: %.200s",
                         profile, e.code, e.message);
    }
    h->http_free(resp);
    sso_cfg_free(h, &s);
    return rc;
}

/* ---- container endpoint ---------------------------------------------------------------- */

static int container_host_ok(const vp_host *h, const char *url)
{
    vp_url *u = NULL;
    if (h->url_parse(NULL, url, VP_URL_HTTP_ONLY, &u) != VP_OK)
        return 0;
    const char *host = h->url_get(u, VP_URL_HOST); /* IPv6 in brackets */
    int ok = strcmp(h->url_get(u, VP_URL_SCHEME), "https") == 0 ||
             (h->url_get(u, VP_URL_USER) == NULL && strncmp(host, "127.", 4) == 0);
    static const char *const local[] = {"localhost", "169.254.170.2", "169.254.170.23",
                                        "[fd00:ec2::23]", "[::1]"};
    for (size_t i = 0; !ok && h->url_get(u, VP_URL_USER) == NULL && i < 5; i++)
        ok = strcmp(host, local[i]) == 0;
    h->url_free(u);
    return ok;
}

int aws_creds_container(aws_inst *in, vp_call *call, aws_creds *out)
{
    const vp_host *h = in->h;
    memset(out, 0, sizeof(*out));
    char *rel = aws_env(in, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    char *full = rel ? NULL : aws_env(in, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel == NULL && full == NULL)
        return VP_ENOTFOUND;
    vp_sb *url = h->sb_new(AWS_TEXT_MAX, 0);
    h->sb_printf(url, "%s%s", rel ? AWS_ECS_DEFAULT : "", rel ? rel : full);
    h->secure_free(rel);
    h->secure_free(full);
    int rc = VP_OK;
    if (h->sb_status(url) != VP_OK) {
        h->sb_free(url);
        return VP_ENOMEM;
    }
    if (!container_host_ok(h, h->sb_data(url, NULL))) {
        h->sb_free(url);
        return h->fail(call, VP_EINVAL,
                       "aws: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or name a loopback "
                       "or container-agent host");
    }
    char *tok = NULL;
    char *tfile = aws_env(in, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (tfile != NULL) {
        size_t len = 0;
        rc = h->read_file(in->hc, NULL, tfile, 16384, &tok, &len);
        if (rc != VP_OK)
            rc = h->fail(call, VP_EAUTH, "aws: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        else
            while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
                tok[--len] = '\0';
        h->secure_free(tfile);
    } else {
        tok = aws_env(in, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (rc == VP_OK && tok != NULL && strpbrk(tok, "\r\n") != NULL)
        rc = h->fail(call, VP_EINVAL, "aws: the container authorization token contains CR/LF");
    if (rc != VP_OK) {
        h->secure_free(tok);
        h->sb_free(url);
        return rc;
    }
    vp_http_header hdrs[2] = {{"Accept", "application/json", 0}};
    size_t nh = 1;
    if (tok != NULL) {
        h->mask(in->hc, tok, strlen(tok));
        hdrs[nh++] = (vp_http_header){"Authorization", tok, VP_HTTP_HDR_SECRET};
    }
    vp_http_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    rq.method = "GET";
    rq.url = h->sb_data(url, NULL);
    rq.headers = hdrs;
    rq.n_headers = nh;
    rq.timeout_ms = 2000;
    char *ca = aws_env(in, "AWS_CA_BUNDLE");
    rq.ca_file = ca;
    vp_http_response *resp = NULL;
    rc = h->http(call, &rq, &resp);
    h->secure_free(ca);
    if (tok != NULL) {
        h->unmask(in->hc, tok, strlen(tok));
        h->secure_free(tok);
    }
    h->sb_free(url);
    if (rc != VP_OK)
        return rc;
    long st = h->http_status(resp);
    size_t len = 0;
    const char *txt = h->http_body(resp, &len);
    if (st == 200) {
        rc = aws_parse_json_creds(h, txt, len, out);
        if (rc != VP_OK)
            rc = h->fail(call, VP_EPROTO, "aws: malformed container credentials response");
        else
            rc = finish(in, out, "container endpoint");
    } else {
        rc = h->fail(call,
                     st == 429   ? VP_ERATELIMIT
                     : st >= 500 ? VP_EUNAVAIL
                                 : VP_EAUTH,
                     "aws: the container credentials endpoint answered HTTP %ld", st);
    }
    h->http_free(resp);
    return rc;
}

/* ---- IMDSv2 ---------------------------------------------------------------------------- */

static int imds_get(aws_inst *in, vp_call *call, const char *base, const char *path,
                    const char *token, uint32_t tmo, vp_http_response **resp)
{
    char url[600];
    snprintf(url, sizeof(url), "%s%s", base, path);
    vp_http_header hdrs[1] = {{"x-aws-ec2-metadata-token", token, VP_HTTP_HDR_SECRET}};
    vp_http_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    rq.method = "GET";
    rq.url = url;
    rq.headers = hdrs;
    rq.n_headers = token ? 1 : 0;
    rq.timeout_ms = tmo;
    return in->h->http(call, &rq, resp);
}

int aws_creds_imds(aws_inst *in, vp_call *call, aws_creds *out)
{
    const vp_host *h = in->h;
    memset(out, 0, sizeof(*out));
    char *v = aws_env(in, "AWS_EC2_METADATA_DISABLED");
    int disabled = v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0);
    h->secure_free(v);
    if (disabled)
        return VP_ENOTFOUND;
    char base[256];
    char *ep = aws_env(in, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char *mode = aws_env(in, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (ep != NULL)
        snprintf(base, sizeof(base), "%s", ep);
    else if (mode != NULL && strcmp(mode, "IPv6") == 0)
        snprintf(base, sizeof(base), "http://[fd00:ec2::254]");
    else
        snprintf(base, sizeof(base), "%s", AWS_IMDS_DEFAULT);
    h->secure_free(ep);
    h->secure_free(mode);
    size_t bl = strlen(base);
    if (bl > 0 && base[bl - 1] == '/')
        base[bl - 1] = '\0';
    uint32_t tmo = 1000;
    char *t = aws_env(in, "AWS_METADATA_SERVICE_TIMEOUT");
    if (t != NULL) {
        long s = strtol(t, NULL, 10);
        if (s > 0 && s < 60)
            tmo = (uint32_t)s * 1000;
        h->secure_free(t);
    }
    char *v1off = aws_env(in, "AWS_EC2_METADATA_V1_DISABLED");
    int v1_disabled = v1off != NULL && (strcmp(v1off, "true") == 0 || strcmp(v1off, "TRUE") == 0);
    h->secure_free(v1off);

    char url[600];
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    vp_http_header th[1] = {{"x-aws-ec2-metadata-token-ttl-seconds", "21600", 0}};
    vp_http_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_http_request);
    rq.method = "PUT";
    rq.url = url;
    rq.headers = th;
    rq.n_headers = 1;
    rq.timeout_ms = tmo;
    vp_http_response *resp = NULL;
    int rc = h->http(call, &rq, &resp);
    if (rc == VP_ECANCELED)
        return rc;
    if (rc != VP_OK)
        return VP_ENOTFOUND; /* not on EC2: the chain moves on */
    long st = h->http_status(resp);
    char *token = NULL;
    if (st == 200) {
        size_t len = 0;
        const char *txt = h->http_body(resp, &len);
        while (len > 0 && (txt[len - 1] == '\n' || txt[len - 1] == '\r'))
            len--;
        token = aws_sstrndup(h, txt, len);
        h->http_free(resp);
        if (token == NULL)
            return VP_ENOMEM;
        h->mask(in->hc, token, strlen(token));
    } else {
        h->http_free(resp);
        if (st == 400)
            return h->fail(call, VP_EPROTO, "aws: instance metadata refused the token request");
        if (v1_disabled || (st != 403 && st != 404 && st != 405))
            return h->fail(call, VP_EAUTH,
                           "aws: instance metadata: no IMDSv2 token (HTTP %ld) and IMDSv1 is "
                           "disabled",
                           st);
        /* IMDSv1 fallback: the same requests without a token. */
    }
    rc = imds_get(in, call, base, "/latest/meta-data/iam/security-credentials/", token, tmo, &resp);
    char role[256] = "";
    if (rc == VP_OK) {
        st = h->http_status(resp);
        size_t len = 0;
        const char *txt = h->http_body(resp, &len);
        size_t rl = strcspn(txt, "\r\n");
        if (st == 200 && rl > 0 && rl < sizeof(role) && !memchr(txt, '/', rl)) {
            memcpy(role, txt, rl);
            role[rl] = '\0';
        } else if (st == 404) {
            rc = h->fail(call, VP_EAUTH, "aws: instance metadata: no IAM role attached");
        } else {
            rc =
                h->fail(call, VP_EPROTO, "aws: instance metadata: bad role listing (HTTP %ld)", st);
        }
        h->http_free(resp);
    }
    if (rc == VP_OK) {
        char path[400];
        snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
        rc = imds_get(in, call, base, path, token, tmo, &resp);
        if (rc == VP_OK) {
            st = h->http_status(resp);
            size_t len = 0;
            const char *txt = h->http_body(resp, &len);
            vp_json *j = NULL;
            const char *code = NULL;
            if (st == 200 && h->json_parse(txt, len, &j) == VP_OK)
                code = h->json_string(h->json_get(j, "Code"), NULL);
            if (st != 200)
                rc = h->fail(call, VP_EAUTH, "aws: instance metadata: role %s: HTTP %ld", role, st);
            else if (code != NULL && strcmp(code, "Success") != 0)
                rc = h->fail(call, VP_EAUTH, "aws: instance metadata: role %s: %.64s", role, code);
            else if (aws_parse_json_creds(h, txt, len, out) != VP_OK || out->token == NULL)
                rc = h->fail(call, VP_EPROTO, "aws: instance metadata: malformed credentials");
            else
                rc = finish(in, out, "instance metadata");
            if (rc != VP_OK)
                aws_creds_clear(h, in->hc, out);
            h->json_free(j);
            h->http_free(resp);
        }
    }
    if (token != NULL) {
        h->unmask(in->hc, token, strlen(token));
        h->secure_free(token);
    }
    return rc;
}
