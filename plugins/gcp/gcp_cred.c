/*
 * gcp_cred - where a credential comes from: the explicit types (service_account,
 * authorized_user, access_token, metadata) and, for the empty credential, Application Default
 * Credentials in google-auth's order (docs/providers/gcp.md lists every variable).
 *
 * Everything here runs in configure(): local files and the environment only. The metadata
 * server is probed on first use (gcp_token.c), never here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gcp.h"

#define ENV_ACCESS_TOKEN "VAULTPLUG_GCP_ACCESS_TOKEN"

char *gcp_strndup_plain(const vp_host *h, const char *s, size_t n)
{
    char *p = h->malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int gcp_set_secret(gcp_inst *in, char **dst, size_t *dst_len, const char *s, size_t n)
{
    char *p = in->host->secure_malloc(n + 1);
    if (p == NULL)
        return VP_ENOMEM;
    memcpy(p, s, n);
    p[n] = '\0';
    gcp_drop_secret(in, dst, dst_len ? *dst_len : strlen(*dst ? *dst : ""));
    *dst = p;
    if (dst_len != NULL)
        *dst_len = n;
    in->host->mask(in->hc, p, n);
    return VP_OK;
}

void gcp_drop_secret(gcp_inst *in, char **p, size_t len)
{
    if (*p == NULL)
        return;
    /* Unmask before wiping: the redactor must not keep a reference to freed memory. */
    in->host->unmask(in->hc, *p, len);
    in->host->secure_free(*p);
    *p = NULL;
}

void gcp_cred_release(gcp_inst *in)
{
    const vp_host *h = in->host;
    gcp_drop_secret(in, &in->sa_pem, in->sa_pem_len);
    gcp_drop_secret(in, &in->client_secret, strlen(in->client_secret ? in->client_secret : ""));
    gcp_drop_secret(in, &in->refresh_token, strlen(in->refresh_token ? in->refresh_token : ""));
    gcp_drop_secret(in, &in->static_token, in->static_token_len);
    gcp_drop_secret(in, &in->token, in->token_len);
    char **plain[] = {&in->origin,       &in->none_reason, &in->endpoint,      &in->token_uri,
                      &in->ca_file,      &in->project,     &in->quota_project, &in->md_host,
                      &in->md_ping_host, &in->sa_email,    &in->sa_key_id,     &in->client_id,
                      &in->md_project};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        h->free(*plain[i]);
        *plain[i] = NULL;
    }
}

/* ---- small helpers -------------------------------------------------------------------------- */

/* Field names match case-insensitively: the CLI derives them from upper-case variable names
 * (VAULTPLUG_GCP_SERVICEACCOUNTKEYFILEPATH). */
static const vp_kv *field(const vp_cred *c, const char *key)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->fields[i].key != NULL && strcasecmp(c->fields[i].key, key) == 0)
            return &c->fields[i];
    return NULL;
}

/* Plain copy of a field's value, or NULL when absent or empty. */
static int field_plain(gcp_inst *in, const vp_cred *c, const char *key, char **out)
{
    const vp_kv *f = field(c, key);
    if (f == NULL || f->value == NULL || f->value_len == 0)
        return VP_OK;
    *out = gcp_strndup_plain(in->host, f->value, f->value_len);
    return *out ? VP_OK : VP_ENOMEM;
}

/* Set *out (plain) from the first non-empty environment variable of names; keep *out if set. */
static int env_plain(gcp_inst *in, char **out, const char *const *names)
{
    if (*out != NULL)
        return VP_OK;
    for (size_t i = 0; names[i] != NULL; i++) {
        char *v = in->host->getenv(in->hc, names[i]);
        if (v != NULL && v[0] != '\0') {
            *out = in->host->strdup(v);
            in->host->secure_free(v);
            return *out ? VP_OK : VP_ENOMEM;
        }
        in->host->secure_free(v);
    }
    return VP_OK;
}

static int set_plain(const vp_host *h, char **dst, const char *s, size_t n)
{
    if (*dst != NULL)
        return VP_OK;
    *dst = gcp_strndup_plain(h, s, n);
    return *dst ? VP_OK : VP_ENOMEM;
}

static int set_origin(gcp_inst *in, const char *fmt, ...) VP_SDK_PRINTF(2, 3);

static int set_origin(gcp_inst *in, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    in->host->free(in->origin);
    in->origin = in->host->strdup(buf);
    return in->origin ? VP_OK : VP_ENOMEM;
}

/* An absolute http:// or https:// URL with a host (the host's CURLU parser decides). */
static int url_ok(const vp_host *h, const char *u)
{
    vp_url *p = NULL;
    if (h->url_parse(NULL, u, VP_URL_HTTP_ONLY, &p) != VP_OK)
        return 0;
    h->url_free(p);
    return 1;
}

/* ---- credential files (service_account / authorized_user JSON) ------------------------------ */

static int json_str_field(const vp_host *h, const vp_json *root, const char *key, const char **s,
                          size_t *n)
{
    *s = h->json_string(h->json_get(root, key), n);
    return *s != NULL && *n > 0 && memchr(*s, '\0', *n) == NULL;
}

/* Load a credentials JSON document (a key file's contents). `from` names it in messages. */
static int load_json_cred(gcp_inst *in, const char *text, size_t len, const char *from,
                          vp_call *call, int from_gcloud_file)
{
    const vp_host *h = in->host;
    vp_json *root = NULL;
    if (h->json_parse(text, len, &root) != 0 || h->json_type(root) != VP_JSON_OBJECT) {
        h->json_free(root);
        return h->fail(call, VP_EINVAL, "%s is not a JSON credentials file", from);
    }
    int rc = VP_OK;
    const char *s, *type;
    size_t n, tn;
    type = h->json_string(h->json_get(root, "type"), &tn);
    if (type == NULL || tn == 0) {
        rc = h->fail(call, VP_EINVAL, "%s has no \"type\" member", from);
        goto out;
    }
    if (strcmp(type, "service_account") == 0) {
        if (!json_str_field(h, root, "client_email", &s, &n)) {
            rc = h->fail(call, VP_EINVAL, "%s: service account key without client_email", from);
            goto out;
        }
        if ((rc = set_plain(h, &in->sa_email, s, n)) != VP_OK)
            goto out;
        if (!json_str_field(h, root, "private_key", &s, &n)) {
            rc = h->fail(call, VP_EINVAL, "%s: service account key without private_key", from);
            goto out;
        }
        if ((rc = gcp_set_secret(in, &in->sa_pem, &in->sa_pem_len, s, n)) != VP_OK)
            goto out;
        if (json_str_field(h, root, "private_key_id", &s, &n) &&
            (rc = set_plain(h, &in->sa_key_id, s, n)) != VP_OK)
            goto out;
        /* Our own override (field, VAULTPLUG_GCP_TOKEN_URI) was set before; the file's
         * token_uri comes next, as google-auth uses it. */
        if (json_str_field(h, root, "token_uri", &s, &n) &&
            (rc = set_plain(h, &in->token_uri, s, n)) != VP_OK)
            goto out;
        if (json_str_field(h, root, "project_id", &s, &n) &&
            (rc = set_plain(h, &in->project, s, n)) != VP_OK)
            goto out;
        in->kind = GCP_KIND_SERVICE_ACCOUNT;
    } else if (strcmp(type, "authorized_user") == 0) {
        static const char *const req[] = {"client_id", "client_secret", "refresh_token"};
        for (size_t i = 0; i < 3; i++)
            if (!json_str_field(h, root, req[i], &s, &n)) {
                rc = h->fail(call, VP_EINVAL, "%s: authorized_user credentials without %s", from,
                             req[i]);
                goto out;
            }
        json_str_field(h, root, "client_id", &s, &n);
        if ((rc = set_plain(h, &in->client_id, s, n)) != VP_OK)
            goto out;
        json_str_field(h, root, "client_secret", &s, &n);
        if ((rc = gcp_set_secret(in, &in->client_secret, NULL, s, n)) != VP_OK)
            goto out;
        json_str_field(h, root, "refresh_token", &s, &n);
        if ((rc = gcp_set_secret(in, &in->refresh_token, NULL, s, n)) != VP_OK)
            goto out;
        /* google-auth ignores a token_uri in this file type: so do we (the override variable
         * and credential field still apply). */
        in->kind = GCP_KIND_AUTHORIZED_USER;
        (void)from_gcloud_file;
    } else {
        char t[64];
        snprintf(t, sizeof(t), "%.*s", (int)(tn < 48 ? tn : 48), type);
        for (char *p = t; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
        rc = h->fail(call, VP_ENOTSUP,
                     "%s: credential type '%s' is not supported (supported: service_account, "
                     "authorized_user, and the metadata server)",
                     from, t);
        goto out;
    }
    if (json_str_field(h, root, "quota_project_id", &s, &n))
        rc = set_plain(h, &in->quota_project, s, n);
out:
    h->json_free(root);
    return rc;
}

static int load_file(gcp_inst *in, const char *path, const char *what, vp_call *call,
                     int from_gcloud_file)
{
    char *data = NULL;
    size_t len = 0;
    int rc = in->host->read_file(in->hc, NULL, path, GCP_FILE_MAX, &data, &len);
    if (rc != VP_OK) {
        /* `what` may end in ':' ("GOOGLE_APPLICATION_CREDENTIALS:", for "what: path" below):
         * one colon here. */
        int wl = (int)strlen(what);
        if (wl > 0 && what[wl - 1] == ':')
            wl--;
        return in->host->fail(call, rc == VP_ENOTFOUND ? VP_EAUTH : rc,
                              "%.*s: cannot read the credentials file %s (%s)", wl, what, path,
                              rc == VP_ENOTFOUND ? "not found"
                              : rc == VP_EPERM   ? "permission denied"
                              : rc == VP_ELIMIT  ? "too large"
                                                 : "I/O error");
    }
    char from[600];
    snprintf(from, sizeof(from), "%s %s", what, path);
    rc = load_json_cred(in, data, len, from, call, from_gcloud_file);
    in->host->secure_free(data);
    if (rc == VP_OK)
        rc = set_origin(in, "%s", from);
    return rc;
}

/* gcloud's configured project: [core] project in configurations/config_<active>. */
static int gcloud_project(gcp_inst *in, const char dir[1024])
{
    const vp_host *h = in->host;
    char path[1200], name[128] = "default";
    char *data = NULL;
    size_t len = 0;
    if ((size_t)snprintf(path, sizeof(path), "%s/active_config", dir) >= sizeof(path))
        return VP_OK;
    if (h->read_file(in->hc, NULL, path, 1024, &data, &len) == VP_OK) {
        size_t k = 0;
        for (size_t i = 0; i < len && k + 1 < sizeof(name); i++) {
            char c = data[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_')
                name[k++] = c;
            else if (c == '\n' || c == '\r')
                break;
        }
        if (k > 0)
            name[k] = '\0';
        h->secure_free(data);
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/configurations/config_%.127s", dir, name) >=
        sizeof(path))
        return VP_OK;
    if (h->read_file(in->hc, NULL, path, GCP_FILE_MAX, &data, &len) != VP_OK)
        return VP_OK;
    int in_core = 0, rc = VP_OK;
    for (char *line = data; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '[') {
            in_core = strncmp(line, "[core]", 6) == 0;
        } else if (in_core && strncmp(line, "project", 7) == 0) {
            char *p = line + 7;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '=') {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                size_t n = strcspn(p, " \t\r");
                char tmp[128];
                if (n > 0 && n < sizeof(tmp)) {
                    memcpy(tmp, p, n);
                    tmp[n] = '\0';
                    if (gcp_name_check('p', tmp) == 0)
                        rc = set_plain(h, &in->project, tmp, n);
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    h->secure_free(data);
    return rc;
}

/* The gcloud configuration directory: $CLOUDSDK_CONFIG or ~/.config/gcloud. */
static int gcloud_dir(gcp_inst *in, char *out, size_t cap)
{
    char *v = in->host->getenv(in->hc, "CLOUDSDK_CONFIG");
    int ok = 0;
    if (v != NULL && v[0] != '\0')
        ok = (size_t)snprintf(out, cap, "%s", v) < cap;
    in->host->secure_free(v);
    if (ok)
        return 0;
    v = in->host->getenv(in->hc, "HOME");
    if (v != NULL && v[0] != '\0')
        ok = (size_t)snprintf(out, cap, "%s/.config/gcloud", v) < cap;
    in->host->secure_free(v);
    return ok ? 0 : -1;
}

static int env_is_true(gcp_inst *in, const char *name)
{
    char *v = in->host->getenv(in->hc, name);
    int t = v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 ||
                          strcmp(v, "TRUE") == 0 || strcmp(v, "1") == 0);
    in->host->secure_free(v);
    return t;
}

/* Application Default Credentials (PROTOCOLS.md 2.3), preceded by vaultplug's own variables. */
static int configure_adc(gcp_inst *in, vp_call *call)
{
    const vp_host *h = in->host;
    char *v = h->getenv(in->hc, ENV_ACCESS_TOKEN);
    if (v != NULL && v[0] != '\0') {
        int rc = gcp_set_secret(in, &in->static_token, &in->static_token_len, v, strlen(v));
        h->secure_free(v);
        in->kind = GCP_KIND_ACCESS_TOKEN;
        return rc != VP_OK ? rc : set_origin(in, "%s", "the " ENV_ACCESS_TOKEN " variable");
    }
    h->secure_free(v);

    static const char *const key_vars[] = {"VAULTPLUG_GCP_SERVICEACCOUNTKEYFILEPATH",
                                           "INSOMNIA_GCP_SERVICEACCOUNTKEYFILEPATH",
                                           "GOOGLE_APPLICATION_CREDENTIALS"};
    for (size_t i = 0; i < 3; i++) {
        v = h->getenv(in->hc, key_vars[i]);
        if (v != NULL && v[0] != '\0') {
            char path[1024];
            int w = snprintf(path, sizeof(path), "%s", v);
            h->secure_free(v);
            if (w < 0 || (size_t)w >= sizeof(path))
                return h->fail(call, VP_ELIMIT, "%s: path longer than %zu bytes", key_vars[i],
                               sizeof(path) - 1);
            char what[80];
            snprintf(what, sizeof(what), "%s:", key_vars[i]);
            return load_file(in, path, what, call, 0);
        }
        h->secure_free(v);
    }

    char dir[1024], path[1200];
    if (gcloud_dir(in, dir, sizeof(dir)) == 0) {
        snprintf(path, sizeof(path), "%s/application_default_credentials.json", dir);
        char *data = NULL;
        size_t len = 0;
        int rc = h->read_file(in->hc, NULL, path, GCP_FILE_MAX, &data, &len);
        h->secure_free(data);
        if (rc != VP_ENOTFOUND) {
            rc = load_file(in, path, "gcloud application-default credentials", call, 1);
            if (rc == VP_OK && in->kind == GCP_KIND_AUTHORIZED_USER)
                rc = gcloud_project(in, dir);
            return rc;
        }
    }

    if (env_is_true(in, "NO_GCE_CHECK")) {
        in->kind = GCP_KIND_NONE;
        in->none_reason = h->strdup("no Application Default Credentials found "
                                    "(GOOGLE_APPLICATION_CREDENTIALS unset, no gcloud "
                                    "application_default_credentials.json, NO_GCE_CHECK=true)");
        return in->none_reason ? VP_OK : VP_ENOMEM;
    }
    in->kind = GCP_KIND_METADATA;
    return set_origin(in, "%s", "the metadata server (Application Default Credentials)");
}

/* Metadata server addresses: GCE_METADATA_HOST (legacy GCE_METADATA_ROOT) for requests,
 * GCE_METADATA_IP for the detection ping (falling back to the host override, then the IP). */
static int metadata_settings(gcp_inst *in)
{
    static const char *const host_vars[] = {"GCE_METADATA_HOST", "GCE_METADATA_ROOT", NULL};
    static const char *const ip_vars[] = {"GCE_METADATA_IP", "GCE_METADATA_HOST",
                                          "GCE_METADATA_ROOT", NULL};
    int rc = env_plain(in, &in->md_host, host_vars);
    if (rc == VP_OK)
        rc = env_plain(in, &in->md_ping_host, ip_vars);
    if (rc == VP_OK && in->md_host == NULL)
        rc = set_plain(in->host, &in->md_host, GCP_DEFAULT_MD_HOST, strlen(GCP_DEFAULT_MD_HOST));
    if (rc == VP_OK && in->md_ping_host == NULL)
        rc = set_plain(in->host, &in->md_ping_host, GCP_DEFAULT_MD_IP, strlen(GCP_DEFAULT_MD_IP));
    if (rc != VP_OK)
        return rc;
    in->md_timeout_ms = 3000;
    char *t = in->host->getenv(in->hc, "GCE_METADATA_TIMEOUT");
    if (t != NULL) {
        unsigned long s = 0;
        size_t i = 0;
        for (; t[i] >= '0' && t[i] <= '9' && i < 6; i++)
            s = s * 10 + (unsigned long)(t[i] - '0');
        if (i > 0 && t[i] == '\0' && s > 0 && s <= 600)
            in->md_timeout_ms = (uint32_t)(s * 1000);
        in->host->secure_free(t);
    }
    in->no_gce_check = env_is_true(in, "NO_GCE_CHECK");
    return VP_OK;
}

/* ---- explicit credential types -------------------------------------------------------------- */

static const char *const common_fields[] = {"project", "quota_project", "endpoint",
                                            "ca_file", "token_uri",     NULL};

static int check_fields(gcp_inst *in, const vp_cred *c, const char *type,
                        const char *const *allowed, vp_call *call)
{
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *k = c->fields[i].key ? c->fields[i].key : "";
        int ok = 0;
        for (size_t j = 0; allowed[j] && !ok; j++)
            ok = strcasecmp(k, allowed[j]) == 0;
        for (size_t j = 0; common_fields[j] && !ok; j++)
            ok = strcasecmp(k, common_fields[j]) == 0;
        if (!ok)
            return in->host->fail(call, VP_EINVAL,
                                  "credential '%s': unknown field '%.64s' for type '%s' (see "
                                  "docs/providers/gcp.md)",
                                  in->cred_name, k, type);
    }
    return VP_OK;
}

static int required(gcp_inst *in, const vp_cred *c, const char *key, const char *type,
                    vp_call *call, const vp_kv **out)
{
    *out = field(c, key);
    if (*out == NULL || (*out)->value == NULL || (*out)->value_len == 0)
        return in->host->fail(call, VP_EINVAL, "credential '%s': type '%s' needs field '%s'",
                              in->cred_name, type, key);
    return VP_OK;
}

static int configure_explicit(gcp_inst *in, const vp_cred *c, const char *type, vp_call *call)
{
    const vp_host *h = in->host;
    const vp_kv *f;
    int rc;
    char what[128];
    snprintf(what, sizeof(what), "credential '%s':", in->cred_name);
    if (strcmp(type, "service_account") == 0) {
        static const char *const ok[] = {"serviceAccountKeyFilePath", "key_file", "key_json", NULL};
        if ((rc = check_fields(in, c, type, ok, call)) != VP_OK)
            return rc;
        /* key_file: the same, for tools that only take lower-case field names. */
        const vp_kv *path = field(c, "serviceAccountKeyFilePath");
        if (path == NULL || path->value_len == 0)
            path = field(c, "key_file");
        const vp_kv *json = field(c, "key_json");
        if (path != NULL && path->value_len > 0)
            return load_file(in, path->value, what, call, 0);
        if (json != NULL && json->value_len > 0) {
            rc = load_json_cred(in, json->value, json->value_len, what, call, 0);
            if (rc == VP_OK && in->kind != GCP_KIND_SERVICE_ACCOUNT)
                return h->fail(call, VP_EINVAL, "%s key_json is not a service_account key", what);
            return rc == VP_OK ? set_origin(in, "credential '%s'", in->cred_name) : rc;
        }
        return h->fail(call, VP_EINVAL,
                       "%s type 'service_account' needs field 'serviceAccountKeyFilePath' (or "
                       "'key_file') or 'key_json'",
                       what);
    }
    if (strcmp(type, "authorized_user") == 0) {
        static const char *const ok[] = {"client_id", "client_secret", "refresh_token", NULL};
        if ((rc = check_fields(in, c, type, ok, call)) != VP_OK ||
            (rc = required(in, c, "client_id", type, call, &f)) != VP_OK)
            return rc;
        if ((rc = set_plain(h, &in->client_id, f->value, f->value_len)) != VP_OK ||
            (rc = required(in, c, "client_secret", type, call, &f)) != VP_OK ||
            (rc = gcp_set_secret(in, &in->client_secret, NULL, f->value, f->value_len)) != 0 ||
            (rc = required(in, c, "refresh_token", type, call, &f)) != VP_OK ||
            (rc = gcp_set_secret(in, &in->refresh_token, NULL, f->value, f->value_len)) != 0)
            return rc;
        in->kind = GCP_KIND_AUTHORIZED_USER;
        return set_origin(in, "credential '%s'", in->cred_name);
    }
    if (strcmp(type, "access_token") == 0) {
        static const char *const ok[] = {"access_token", NULL};
        if ((rc = check_fields(in, c, type, ok, call)) != VP_OK ||
            (rc = required(in, c, "access_token", type, call, &f)) != VP_OK)
            return rc;
        if ((rc = gcp_set_secret(in, &in->static_token, &in->static_token_len, f->value,
                                 f->value_len)) != VP_OK)
            return rc;
        in->kind = GCP_KIND_ACCESS_TOKEN;
        return set_origin(in, "credential '%s'", in->cred_name);
    }
    if (strcmp(type, "metadata") == 0) {
        static const char *const ok[] = {NULL};
        if ((rc = check_fields(in, c, type, ok, call)) != VP_OK)
            return rc;
        in->kind = GCP_KIND_METADATA;
        return set_origin(in, "credential '%s' (metadata server)", in->cred_name);
    }
    return h->fail(call, VP_EINVAL,
                   "credential '%s': unknown credential type '%.64s' (gcp knows: "
                   "service_account, authorized_user, access_token, metadata; empty = "
                   "Application Default Credentials)",
                   in->cred_name, type);
}

/* A credential without a type but with fields (the CLI builds one from VAULTPLUG_GCP_*
 * variables): the fields say which type is meant; with only settings (endpoint, project, ...)
 * it is the default chain with those overrides. */
static const char *infer_type(const vp_cred *c)
{
    if (field(c, "access_token") != NULL)
        return "access_token";
    if (field(c, "serviceAccountKeyFilePath") != NULL || field(c, "key_file") != NULL ||
        field(c, "key_json") != NULL)
        return "service_account";
    if (field(c, "refresh_token") != NULL || field(c, "client_secret") != NULL)
        return "authorized_user";
    return "";
}

int gcp_cred_configure(gcp_inst *in, const vp_cred *cred, vp_call *call)
{
    const vp_host *h = in->host;
    const char *type = cred->type ? cred->type : "";
    if (type[0] == '\0' && cred->n_fields > 0)
        type = infer_type(cred);
    int rc;
    /* Explicit fields first: the load functions below only fill what is still unset. */
    if (cred->n_fields > 0 &&
        ((rc = field_plain(in, cred, "endpoint", &in->endpoint)) != VP_OK ||
         (rc = field_plain(in, cred, "token_uri", &in->token_uri)) != VP_OK ||
         (rc = field_plain(in, cred, "ca_file", &in->ca_file)) != VP_OK ||
         (rc = field_plain(in, cred, "project", &in->project)) != VP_OK ||
         (rc = field_plain(in, cred, "quota_project", &in->quota_project)) != VP_OK))
        return rc;
    static const char *const ep_vars[] = {"VAULTPLUG_GCP_ENDPOINT", NULL};
    static const char *const tok_vars[] = {"VAULTPLUG_GCP_TOKEN_URI", NULL};
    static const char *const ca_vars[] = {"VAULTPLUG_GCP_CA_FILE", NULL};
    static const char *const proj_vars[] = {"GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", NULL};
    static const char *const quota_vars[] = {"GOOGLE_CLOUD_QUOTA_PROJECT", NULL};
    if ((rc = env_plain(in, &in->endpoint, ep_vars)) != VP_OK ||
        (rc = env_plain(in, &in->token_uri, tok_vars)) != VP_OK ||
        (rc = env_plain(in, &in->ca_file, ca_vars)) != VP_OK ||
        (rc = env_plain(in, &in->project, proj_vars)) != VP_OK ||
        (rc = env_plain(in, &in->quota_project, quota_vars)) != VP_OK ||
        (rc = metadata_settings(in)) != VP_OK)
        return rc;

    if (type[0] == '\0') {
        static const char *const ok[] = {NULL};
        rc = check_fields(in, cred, "(default chain)", ok, call);
        if (rc == VP_OK)
            rc = configure_adc(in, call);
    } else
        rc = configure_explicit(in, cred, type, call);
    if (rc != VP_OK)
        return rc;

    if (in->token_uri == NULL)
        rc = set_plain(h, &in->token_uri, GCP_DEFAULT_TOKEN_URI, strlen(GCP_DEFAULT_TOKEN_URI));
    if (rc != VP_OK)
        return rc;
    if (!url_ok(h, in->token_uri) || (in->endpoint != NULL && !url_ok(h, in->endpoint)))
        return h->fail(call, VP_EINVAL,
                       "credential '%s': endpoint and token_uri must be http:// or https:// URLs",
                       in->cred_name);
    if (in->endpoint != NULL) {
        size_t n = strlen(in->endpoint);
        while (n > 0 && in->endpoint[n - 1] == '/')
            in->endpoint[--n] = '\0';
    }
    if (in->project != NULL && gcp_name_check('p', in->project) != 0)
        return h->fail(call, VP_EINVAL, "credential '%s': the default project is not valid",
                       in->cred_name);
    if (in->quota_project != NULL && gcp_name_check('p', in->quota_project) != 0)
        return h->fail(call, VP_EINVAL, "credential '%s': the quota project is not valid",
                       in->cred_name);
    return VP_OK;
}
