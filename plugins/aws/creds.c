/*
 * creds.c - where AWS credentials come from: the credential's own keys (`temporary`), a profile
 * of the shared files (`file`), an SSO profile (`sso`), or the standard chain (empty credential):
 * environment, profile (static keys, assume-role, SSO), container endpoint, IMDSv2. Temporary
 * credentials are cached in the instance and refreshed AWS_REFRESH_MS before they expire.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aws_int.h"

void aws_creds_clear(const vp_host *h, vp_host_ctx *hc, aws_creds *c)
{
    if (c == NULL)
        return;
    if (c->secret != NULL) {
        h->unmask(hc, c->secret, strlen(c->secret));
        h->secure_free(c->secret);
    }
    if (c->token != NULL) {
        h->unmask(hc, c->token, strlen(c->token));
        h->secure_free(c->token);
    }
    h->secure_free(c->akid);
    h->free(c->region);
    h->free(c->source);
    memset(c, 0, sizeof(*c));
}

void aws_creds_mask(const vp_host *h, vp_host_ctx *hc, const aws_creds *c)
{
    if (c->secret != NULL)
        h->mask(hc, c->secret, strlen(c->secret));
    if (c->token != NULL)
        h->mask(hc, c->token, strlen(c->token));
}

int aws_creds_copy(const vp_host *h, const aws_creds *from, aws_creds *to)
{
    memset(to, 0, sizeof(*to));
    to->akid = from->akid ? h->secure_strdup(from->akid) : NULL;
    to->secret = from->secret ? h->secure_strdup(from->secret) : NULL;
    to->token = from->token ? h->secure_strdup(from->token) : NULL;
    to->region = from->region ? h->strdup(from->region) : NULL;
    to->source = from->source ? h->strdup(from->source) : NULL;
    to->expiry = from->expiry;
    if ((from->akid && !to->akid) || (from->secret && !to->secret) || (from->token && !to->token) ||
        (from->region && !to->region) || (from->source && !to->source)) {
        h->secure_free(to->akid);
        h->secure_free(to->secret);
        h->secure_free(to->token);
        h->free(to->region);
        h->free(to->source);
        memset(to, 0, sizeof(*to));
        return VP_ENOMEM;
    }
    return VP_OK;
}

int aws_fail(const aws_sink *s, int status, const char *fmt, ...)
{
    char msg[AWS_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->out != NULL)
        return s->h->secret_fail(s->out, status, "%s", msg);
    return s->h->fail(s->call, status, "%s", msg);
}

char *aws_env(const aws_inst *in, const char *name)
{
    char *v = in->h->getenv(in->hc, name);
    if (v != NULL && v[0] == '\0') {
        in->h->secure_free(v);
        return NULL;
    }
    return v;
}

static int env_true(const aws_inst *in, const char *name)
{
    char *v = aws_env(in, name);
    int t = v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0 ||
                          strcmp(v, "True") == 0 || strcmp(v, "1") == 0);
    in->h->secure_free(v);
    return t;
}

char *aws_profile_pick(const aws_inst *in, const char **from)
{
    const vp_host *h = in->h;
    *from = NULL;
    if (in->profile != NULL) {
        *from = in->profile_from ? in->profile_from : "the credential";
        return h->strdup(in->profile);
    }
    static const char *const vars[] = {"AWS_PROFILE", "AWS_DEFAULT_PROFILE"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        char *v = aws_env(in, vars[i]);
        if (v != NULL) {
            char *p = h->strdup(v);
            h->secure_free(v);
            *from = vars[i];
            return p;
        }
    }
    return h->strdup("default");
}

char *aws_profile_name(const aws_inst *in)
{
    const char *from;
    return aws_profile_pick(in, &from);
}

void aws_shared_path(const aws_inst *in, int which, char *buf, size_t cap)
{
    const char *field = which ? in->config_file : in->cred_file;
    char *env =
        field ? NULL : aws_env(in, which ? "AWS_CONFIG_FILE" : "AWS_SHARED_CREDENTIALS_FILE");
    snprintf(buf, cap, "%s",
             field   ? field
             : env   ? env
             : which ? AWS_DEFAULT_CONFIG
                     : AWS_DEFAULT_CREDS);
    in->h->secure_free(env);
}

/* A profile that is in neither shared file. Like the aws CLI ("The config profile (NAME) could
 * not be found"), this stops the chain: VP_EINVAL (exit 2), a setting to fix, not credentials
 * that were refused. `from` says what named the profile; NULL for the implicit "default". */
static int profile_missing(const aws_inst *in, vp_call *call, const char *profile, const char *from,
                           int sso)
{
    char cfg[512], crd[512], what[160] = "";
    aws_shared_path(in, 1, cfg, sizeof(cfg));
    aws_shared_path(in, 0, crd, sizeof(crd));
    if (in->cred_name != NULL && in->cred_name[0] != '\0')
        snprintf(what, sizeof(what), "credential '%.64s': ", in->cred_name);
    char files[1100];
    if (sso)
        snprintf(files, sizeof(files), "%s", cfg);
    else
        snprintf(files, sizeof(files), "%s or %s", cfg, crd);
    if (from == NULL)
        return in->h->fail(call, VP_EINVAL,
                           "aws: %sthe config profile (default) could not be found in %s; no "
                           "profile was named (AWS_PROFILE is unset): set AWS_PROFILE or add the "
                           "[default] profile",
                           what, files);
    return in->h->fail(call, VP_EINVAL,
                       "aws: %sthe config profile (%.64s) could not be found in %s (%s names "
                       "it); fix %s, or add [profile %.64s] to the config file%s%.64s%s",
                       what, profile, files, from, from, profile, sso ? "" : " or [",
                       sso ? "" : profile, sso ? "" : "] to the credentials file");
}

char *aws_read_shared(const aws_inst *in, vp_call *call, int which, int *rc)
{
    const vp_host *h = in->h;
    *rc = VP_OK;
    const char *field = which ? in->config_file : in->cred_file;
    char *env = NULL;
    const char *path = field;
    if (path == NULL) {
        env = aws_env(in, which ? "AWS_CONFIG_FILE" : "AWS_SHARED_CREDENTIALS_FILE");
        path = env ? env : (which ? AWS_DEFAULT_CONFIG : AWS_DEFAULT_CREDS);
    }
    char *data = NULL;
    size_t len = 0;
    int r = h->read_file(in->hc, NULL, path, AWS_FILE_MAX, &data, &len);
    if (r == VP_ENOTFOUND) {
        /* A missing default file is normal; a file the user named explicitly must exist. */
        if (field != NULL)
            *rc = h->fail(call, VP_EINVAL, "aws: credential '%s': file %s does not exist",
                          in->cred_name, field);
        data = NULL;
    } else if (r != VP_OK) {
        *rc = h->fail(call, r == VP_EPERM ? VP_EPERM : VP_EIO, "aws: cannot read %s (%s)", path,
                      r == VP_EPERM ? "permission denied" : "read error");
        data = NULL;
    }
    h->secure_free(env);
    return data;
}

/* Config-file section of a profile. */
static void config_section(const char *profile, char *out, size_t cap)
{
    if (strcmp(profile, "default") == 0)
        snprintf(out, cap, "default");
    else
        snprintf(out, cap, "profile %s", profile);
}

/* A profile setting from the config file ([profile P], or [default]/[profile default]). */
static char *cfg_get(const vp_host *h, const char *cfg, const char *profile, const char *key)
{
    char sec[320];
    config_section(profile, sec, sizeof(sec));
    char *v = aws_ini_get(h, cfg, sec, key);
    if (v == NULL && strcmp(profile, "default") == 0)
        v = aws_ini_get(h, cfg, "profile default", key);
    return v;
}

static int cfg_has(const char *cfg, const char *profile)
{
    char sec[320];
    config_section(profile, sec, sizeof(sec));
    return aws_ini_has_section(cfg, sec) ||
           (strcmp(profile, "default") == 0 && aws_ini_has_section(cfg, "profile default"));
}

char *aws_region(const aws_inst *in, vp_call *call, const aws_creds *c)
{
    const vp_host *h = in->h;
    if (in->region != NULL)
        return h->strdup(in->region);
    static const char *const vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        char *v = aws_env(in, vars[i]);
        if (v != NULL) {
            char *r = h->strdup(v);
            h->secure_free(v);
            return r;
        }
    }
    if (c != NULL && c->region != NULL)
        return h->strdup(c->region);
    int rc;
    char *cfg = aws_read_shared(in, call, 1, &rc);
    if (cfg == NULL)
        return NULL;
    char *prof = aws_profile_name(in);
    char *v = prof ? cfg_get(h, cfg, prof, "region") : NULL;
    char *r = v ? h->strdup(v) : NULL;
    h->secure_free(v);
    h->free(prof);
    h->secure_free(cfg);
    return r;
}

char *aws_endpoint(const aws_inst *in, vp_call *call, const char *service_env)
{
    const vp_host *h = in->h;
    const char *field = NULL;
    if (strcmp(service_env, "SECRETS_MANAGER") == 0)
        field = in->endpoint;
    else if (strcmp(service_env, "STS") == 0)
        field = in->sts_endpoint;
    else if (strcmp(service_env, "SSO") == 0)
        field = in->sso_endpoint;
    if (field != NULL)
        return h->strdup(field);
    if (env_true(in, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
        return NULL;
    char name[64];
    snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", service_env);
    const char *vars[] = {name, "AWS_ENDPOINT_URL"};
    for (size_t i = 0; i < 2; i++) {
        char *v = aws_env(in, vars[i]);
        if (v != NULL) {
            char *r = h->strdup(v);
            h->secure_free(v);
            return r;
        }
    }
    int rc;
    char *cfg = aws_read_shared(in, call, 1, &rc);
    if (cfg == NULL)
        return NULL;
    char *prof = aws_profile_name(in);
    char *v = NULL;
    /* services = NAME -> [services NAME] -> secrets_manager = -> endpoint_url = URL */
    char *svc = prof ? cfg_get(h, cfg, prof, "services") : NULL;
    if (svc != NULL) {
        char sec[320], sub[64];
        snprintf(sec, sizeof(sec), "services %s", svc);
        size_t i = 0;
        for (; service_env[i] && i + 1 < sizeof(sub); i++)
            sub[i] = (char)(service_env[i] >= 'A' && service_env[i] <= 'Z' ? service_env[i] + 32
                                                                           : service_env[i]);
        sub[i] = '\0';
        v = aws_ini_get_nested(h, cfg, sec, sub, "endpoint_url");
        h->secure_free(svc);
    }
    if (v == NULL && prof != NULL)
        v = cfg_get(h, cfg, prof, "endpoint_url");
    char *r = v ? h->strdup(v) : NULL;
    h->secure_free(v);
    h->free(prof);
    h->secure_free(cfg);
    return r;
}

/* Takes ownership of akid/secret/token (secure strings). */
static int creds_set(const aws_inst *in, aws_creds *out, char *akid, char *secret, char *token,
                     const char *source)
{
    const vp_host *h = in->h;
    memset(out, 0, sizeof(*out));
    out->akid = akid;
    out->secret = secret;
    out->token = token;
    out->source = h->strdup(source);
    aws_creds_mask(h, in->hc, out);
    if (out->source == NULL) {
        aws_creds_clear(h, in->hc, out);
        return VP_ENOMEM;
    }
    return VP_OK;
}

/* Keys from the environment; VP_ENOTFOUND when not set. (Inso's INSOMNIA_AWS_* variables are
 * not a chain step: they select a credential type at configure time, see aws.c.) */
static int creds_env(aws_inst *in, vp_call *call, aws_creds *out)
{
    const vp_host *h = in->h;
    char *ak = aws_env(in, "AWS_ACCESS_KEY_ID");
    char *sk = aws_env(in, "AWS_SECRET_ACCESS_KEY");
    if (ak == NULL && sk == NULL)
        return VP_ENOTFOUND;
    if (ak == NULL || sk == NULL) {
        h->secure_free(ak);
        h->secure_free(sk);
        return h->fail(call, VP_EAUTH,
                       "aws: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    char *tk = aws_env(in, "AWS_SESSION_TOKEN");
    if (tk == NULL)
        tk = aws_env(in, "AWS_SECURITY_TOKEN");
    int rc = creds_set(in, out, ak, sk, tk, "environment");
    if (rc == VP_OK) {
        char *exp = aws_env(in, "AWS_CREDENTIAL_EXPIRATION");
        if (exp != NULL && aws_parse_time(h, exp, &out->expiry) != 0)
            out->expiry = 0;
        h->secure_free(exp);
    }
    return rc;
}

static int profile_resolve(aws_inst *in, vp_call *call, const char *cfg, const char *crd,
                           const char *profile, int depth, aws_creds *out);

/* role_arn profile: credentials of source_profile / credential_source, then AssumeRole. */
static int profile_assume(aws_inst *in, vp_call *call, const char *cfg, const char *crd,
                          const char *profile, const char *role_arn, int depth, aws_creds *out)
{
    const vp_host *h = in->h;
    char *src = cfg_get(h, cfg, profile, "source_profile");
    char *csrc = cfg_get(h, cfg, profile, "credential_source");
    aws_creds base;
    memset(&base, 0, sizeof(base));
    int rc;
    if (src != NULL) {
        if (depth >= AWS_PROFILE_DEPTH)
            rc = h->fail(call, VP_EINVAL,
                         "aws: profile '%s': source_profile chain deeper than %d (a loop?)",
                         profile, AWS_PROFILE_DEPTH);
        else if (strcmp(src, profile) == 0)
            rc = h->fail(call, VP_EINVAL, "aws: profile '%s' names itself as source_profile",
                         profile);
        else
            rc = profile_resolve(in, call, cfg, crd, src, depth + 1, &base);
        if (rc == VP_ENOTFOUND)
            rc = h->fail(call, VP_EINVAL,
                         "aws: profile '%s': its source_profile (%.64s) could not be found in "
                         "the config or credentials file",
                         profile, src);
    } else if (csrc != NULL) {
        if (strcmp(csrc, "Environment") == 0)
            rc = creds_env(in, call, &base);
        else if (strcmp(csrc, "EcsContainer") == 0)
            rc = aws_creds_container(in, call, &base);
        else if (strcmp(csrc, "Ec2InstanceMetadata") == 0)
            rc = aws_creds_imds(in, call, &base);
        else
            rc = h->fail(call, VP_EINVAL, "aws: profile '%s': unknown credential_source '%.64s'",
                         profile, csrc);
        if (rc == VP_ENOTFOUND)
            rc = h->fail(call, VP_EAUTH,
                         "aws: profile '%s': credential_source %s has no "
                         "credentials",
                         profile, csrc);
    } else {
        rc = h->fail(call, VP_EINVAL,
                     "aws: profile '%s' has role_arn but neither source_profile nor "
                     "credential_source",
                     profile);
    }
    h->secure_free(src);
    h->secure_free(csrc);
    if (rc != VP_OK) {
        aws_creds_clear(h, in->hc, &base);
        return rc;
    }
    char *sess = cfg_get(h, cfg, profile, "role_session_name");
    char *region = cfg_get(h, cfg, profile, "region");
    char *reg = NULL;
    if (region == NULL)
        reg = aws_region(in, call, &base);
    rc = aws_creds_assume_role(in, call, &base, role_arn, sess, region ? region : reg, out);
    if (rc == VP_OK && region != NULL && out->region == NULL)
        out->region = h->strdup(region);
    h->secure_free(sess);
    h->secure_free(region);
    h->free(reg);
    aws_creds_clear(h, in->hc, &base);
    return rc;
}

/* Credentials of a profile: assume-role, SSO, then static keys (credentials file first).
 * VP_ENOTFOUND (no message) when the profile exists nowhere. */
static int profile_resolve(aws_inst *in, vp_call *call, const char *cfg, const char *crd,
                           const char *profile, int depth, aws_creds *out)
{
    const vp_host *h = in->h;
    memset(out, 0, sizeof(*out));
    int in_cfg = cfg != NULL && cfg_has(cfg, profile);
    int in_crd = crd != NULL && aws_ini_has_section(crd, profile);
    if (!in_cfg && !in_crd)
        return VP_ENOTFOUND;
    int rc;
    char *role = in_cfg ? cfg_get(h, cfg, profile, "role_arn") : NULL;
    if (role == NULL && in_crd)
        role = aws_ini_get(h, crd, profile, "role_arn");
    if (role != NULL) {
        rc = profile_assume(in, call, cfg, crd, profile, role, depth, out);
        h->secure_free(role);
        return rc;
    }
    char *sso_acct = in_cfg ? cfg_get(h, cfg, profile, "sso_account_id") : NULL;
    char *sso_sess = in_cfg ? cfg_get(h, cfg, profile, "sso_session") : NULL;
    int sso = sso_acct != NULL || sso_sess != NULL;
    h->secure_free(sso_acct);
    h->secure_free(sso_sess);
    if (sso)
        return aws_creds_sso(in, call, cfg, profile, out);

    char *ak = NULL, *sk = NULL, *tk = NULL;
    const char *from = NULL;
    if (in_crd) {
        ak = aws_ini_get(h, crd, profile, "aws_access_key_id");
        sk = aws_ini_get(h, crd, profile, "aws_secret_access_key");
        tk = aws_ini_get(h, crd, profile, "aws_session_token");
        from = "credentials file";
    }
    if ((ak == NULL || sk == NULL) && in_cfg) {
        h->secure_free(ak);
        h->secure_free(sk);
        h->secure_free(tk);
        ak = cfg_get(h, cfg, profile, "aws_access_key_id");
        sk = cfg_get(h, cfg, profile, "aws_secret_access_key");
        tk = cfg_get(h, cfg, profile, "aws_session_token");
        from = "config file";
    }
    if (ak == NULL || sk == NULL) {
        h->secure_free(ak);
        h->secure_free(sk);
        h->secure_free(tk);
        return h->fail(call, VP_EAUTH,
                       "aws: profile '%s' has no credentials (no aws_access_key_id/"
                       "aws_secret_access_key, role_arn or sso_* settings)",
                       profile);
    }
    char source[320];
    snprintf(source, sizeof(source), "profile %s (%s)", profile, from);
    rc = creds_set(in, out, ak, sk, tk, source);
    if (rc == VP_OK && in_cfg) {
        char *region = cfg_get(h, cfg, profile, "region");
        if (region != NULL) {
            out->region = h->strdup(region);
            h->secure_free(region);
        }
    }
    return rc;
}

/* The selected profile from the shared files. VP_ENOTFOUND (no message) only when the profile
 * is the implicit "default", absent, and not `required`; a profile that was named (AWS_PROFILE,
 * a credential's section) and is absent is an error, as in the aws CLI. */
static int creds_profile(aws_inst *in, vp_call *call, int required, aws_creds *out)
{
    const vp_host *h = in->h;
    int rc1, rc2;
    char *crd = aws_read_shared(in, call, 0, &rc1);
    char *cfg = aws_read_shared(in, call, 1, &rc2);
    if (rc1 != VP_OK || rc2 != VP_OK) {
        h->secure_free(crd);
        h->secure_free(cfg);
        return rc1 != VP_OK ? rc1 : rc2;
    }
    const char *from = NULL;
    char *prof = aws_profile_pick(in, &from);
    int rc = prof ? profile_resolve(in, call, cfg, crd, prof, 0, out) : VP_ENOMEM;
    if (rc == VP_ENOTFOUND && (required || from != NULL))
        rc = profile_missing(in, call, prof, from, 0);
    h->free(prof);
    h->secure_free(crd);
    h->secure_free(cfg);
    return rc;
}

static int creds_sso_profile(aws_inst *in, vp_call *call, aws_creds *out)
{
    const vp_host *h = in->h;
    int rc;
    char *cfg = aws_read_shared(in, call, 1, &rc);
    if (rc != VP_OK)
        return rc;
    const char *from = NULL;
    char *prof = aws_profile_pick(in, &from);
    if (prof == NULL) {
        h->secure_free(cfg);
        return VP_ENOMEM;
    }
    if (cfg == NULL || !cfg_has(cfg, prof))
        rc = profile_missing(in, call, prof, from, 1);
    else
        rc = aws_creds_sso(in, call, cfg, prof, out);
    h->free(prof);
    h->secure_free(cfg);
    return rc;
}

/* The standard chain (PROTOCOLS.md 1.7): environment, profile, container, IMDS. */
static int creds_chain(aws_inst *in, vp_call *call, aws_creds *out)
{
    int rc = creds_env(in, call, out);
    if (rc != VP_ENOTFOUND)
        return rc;
    rc = creds_profile(in, call, 0, out);
    if (rc != VP_ENOTFOUND)
        return rc;
    rc = aws_creds_container(in, call, out);
    if (rc != VP_ENOTFOUND)
        return rc;
    rc = aws_creds_imds(in, call, out);
    if (rc != VP_ENOTFOUND)
        return rc;
    return in->h->fail(call, VP_EAUTH,
                       "aws: no credentials found (tried AWS_ACCESS_KEY_ID, the shared "
                       "credentials/config files, the container endpoint and instance "
                       "metadata); set them or store a credential with `vaultplug cred add aws`");
}

static int resolve_fresh(aws_inst *in, vp_call *call, aws_creds *out)
{
    switch (in->kind) {
    case AWS_KIND_TEMPORARY:
        return aws_creds_copy(in->h, &in->fixed, out);
    case AWS_KIND_FILE:
        return creds_profile(in, call, 1, out);
    case AWS_KIND_SSO:
        return creds_sso_profile(in, call, out);
    default:
        return creds_chain(in, call, out);
    }
}

int aws_get_creds(aws_inst *in, vp_call *call, aws_creds *out)
{
    const vp_host *h = in->h;
    memset(out, 0, sizeof(*out));
    if (in->kind == AWS_KIND_TEMPORARY)
        return aws_creds_copy(h, &in->fixed, out);
    pthread_mutex_lock(&in->lock);
    int64_t now = h->now_unix_ms(in->hc);
    int rc;
    if (in->have_cached && (in->cached.expiry == 0 || in->cached.expiry - now > AWS_REFRESH_MS)) {
        rc = aws_creds_copy(h, &in->cached, out);
        pthread_mutex_unlock(&in->lock);
        return rc;
    }
    aws_creds fresh;
    rc = resolve_fresh(in, call, &fresh);
    if (rc == VP_OK) {
        aws_creds_clear(h, in->hc, &in->cached);
        in->cached = fresh;
        in->have_cached = 1;
        h->log(in->hc, VP_LOG_DEBUG, "credential '%s': credentials from %s%s", in->cred_name,
               fresh.source ? fresh.source : "?", fresh.expiry ? " (temporary)" : "");
        rc = aws_creds_copy(h, &in->cached, out);
    } else if (in->have_cached && in->cached.expiry > now) {
        /* The refresh failed but the old credentials are still valid for a few minutes. */
        h->log(in->hc, VP_LOG_WARN,
               "credential '%s': refresh failed; using credentials that "
               "expire soon",
               in->cred_name);
        rc = aws_creds_copy(h, &in->cached, out);
    }
    pthread_mutex_unlock(&in->lock);
    return rc;
}

void aws_forget_creds(aws_inst *in)
{
    if (in->kind == AWS_KIND_TEMPORARY)
        return;
    pthread_mutex_lock(&in->lock);
    aws_creds_clear(in->h, in->hc, &in->cached);
    in->have_cached = 0;
    pthread_mutex_unlock(&in->lock);
}
