/*
 * gcp - the GCP Secret Manager provider.
 *
 *   gcp://[cred@]PROJECT/SECRET[?version=V&location=L][#json-key]
 *   gcp://[cred@]SECRET[?...]                       project from the credential / environment
 *   gcp://[cred@]projects/P/secrets/S[/versions/V]  resource paths (also .../locations/L/...)
 *   {% vault 'gcp', 'cred', '{"secretName":"...","version":"3"}' %}
 *
 * One GET per secret: v1/projects/P[/locations/L]/secrets/S/versions/V:access; the payload is
 * base64-decoded and its CRC32C checked. docs/providers/gcp.md is the user documentation.
 */
#include <stdio.h>
#include <string.h>

#include "gcp.h"

/* ---------------------------------------------------------------------------------------------
 * Credential types (for `vaultplug cred add gcp NAME --type T --field k=v`)
 * ------------------------------------------------------------------------------------------- */
/* clang-format off */
#define COMMON_FIELDS                                                                         \
    {"project", 0, "default project for short secret names"},                                 \
    {"quota_project", 0, "project billed for the requests (x-goog-user-project)"},            \
    {"endpoint", 0, "Secret Manager base URL (private endpoints, tests)"},                    \
    {"ca_file", 0, "PEM CA bundle to trust for this credential's endpoints"},                 \
    {"token_uri", 0, "token endpoint override (default: key file's, or Google's)"}
/* clang-format on */

static const vp_cred_field sa_fields[] = {
    /* Insomnia's serviceAccountKeyFilePath; field names match in any case, and stored ones are
     * lower case (the credential store's rule). */
    {"serviceaccountkeyfilepath", 0,
     "path of the service account JSON key file (Insomnia's "
     "serviceAccountKeyFilePath)"},
    {"key_file", 0, "the same as serviceaccountkeyfilepath"},
    {"key_json", VP_FIELD_SECRET, "the service account JSON key itself (instead of a path)"},
    COMMON_FIELDS,
    {NULL, 0, NULL},
};

static const vp_cred_field user_fields[] = {
    {"client_id", VP_FIELD_REQUIRED, "OAuth client id"},
    {"client_secret", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "OAuth client secret"},
    {"refresh_token", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "refresh token"},
    COMMON_FIELDS,
    {NULL, 0, NULL},
};

static const vp_cred_field token_fields[] = {
    {"access_token", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "an OAuth 2 access token (CI)"},
    COMMON_FIELDS,
    {NULL, 0, NULL},
};

static const vp_cred_field md_fields[] = {
    COMMON_FIELDS,
    {NULL, 0, NULL},
};

static const vp_cred_type gcp_cred_types[] = {
    {"service_account", "service account key (RS256 JWT bearer grant)", sa_fields},
    {"authorized_user", "user credentials (refresh-token grant)", user_fields},
    {"access_token", "a raw bearer token", token_fields},
    {"metadata", "the GCE / Cloud Run / GKE metadata server", md_fields},
    {NULL, NULL, NULL},
};

/* ---------------------------------------------------------------------------------------------
 * init / teardown, configure / destroy
 * ------------------------------------------------------------------------------------------- */
static int gcp_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    if (host == NULL || mod == NULL)
        return VP_EABI;
    if (!VP_HAS(vp_host, host, loopback_close)) { /* builder, URL and time services: SDK 1.1 */
        host->log(hc, VP_LOG_ERROR, "gcp: needs a vaultplug host of plugin ABI 1.1 or later");
        return VP_EABI;
    }
    gcp_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->host = host;
    m->hc = hc;
    *mod = m;
    return VP_OK;
}

static void gcp_teardown(void *mod)
{
    gcp_mod *m = mod;
    if (m != NULL)
        m->host->free(m);
}

static void gcp_destroy(void *inst)
{
    gcp_inst *in = inst;
    if (in == NULL)
        return;
    const vp_host *h = in->host;
    gcp_cred_release(in);
    if (in->lock_ready)
        pthread_mutex_destroy(&in->lock);
    h->free(in->cred_name);
    h->free(in);
}

static int gcp_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    gcp_mod *m = mod;
    const vp_host *h = m->host;
    if (cred == NULL || inst == NULL)
        return h->fail(call, VP_EINVAL, "gcp: configure called without a credential");
    *inst = NULL;
    gcp_inst *in = h->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->host = h;
    in->hc = m->hc;
    in->cred_name = h->strdup(cred->name ? cred->name : "");
    if (in->cred_name == NULL || pthread_mutex_init(&in->lock, NULL) != 0) {
        gcp_destroy(in);
        return VP_ENOMEM;
    }
    in->lock_ready = 1;
    int rc = gcp_cred_configure(in, cred, call);
    if (rc != VP_OK) {
        gcp_destroy(in);
        return rc;
    }
    h->log(in->hc, VP_LOG_DEBUG, "configured %s", in->origin ? in->origin : "gcp credential");
    *inst = in;
    return VP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * fetch
 * ------------------------------------------------------------------------------------------- */

/* The reference as a full name (project resolved, version defaulted). */
static int resolve_ref(gcp_inst *in, const vp_ref *ref, vp_call *call, gcp_name *nm)
{
    const vp_host *h = in->host;
    const int cfg = ref->config != NULL;
    const char *path = cfg ? NULL : ref->path, *version = NULL, *location = NULL;
    for (size_t i = 0; i < ref->n_params; i++) {
        const char *k = ref->params[i].key, *v = ref->params[i].value ? ref->params[i].value : "";
        if (strcmp(k, "version") == 0)
            version = v;
        else if (strcmp(k, "location") == 0)
            location = v;
        else if (cfg && strcmp(k, "secretName") == 0)
            path = v;
        else
            return h->fail(call, VP_EINVAL,
                           "%s: unknown parameter '%.64s' (gcp knows: %sversion, location)",
                           ref->uri, k, cfg ? "secretName, " : "");
    }
    if (path == NULL || path[0] == '\0')
        return h->fail(call, VP_EINVAL, "%s: %s", ref->uri,
                       cfg ? "the config object needs a non-empty \"secretName\""
                           : "empty secret name");
    char why[200];
    if (gcp_name_parse(path, nm, why, sizeof(why)) != 0)
        return h->fail(call, VP_EINVAL, "%s: invalid secret name: %s", ref->uri, why);
    if (version != NULL && version[0] != '\0') {
        if (gcp_name_check('v', version) != 0)
            return h->fail(call, VP_EINVAL,
                           "%s: the version must be a number, 'latest' or an alias", ref->uri);
        if (nm->version[0] != '\0' && strcmp(nm->version, version) != 0)
            return h->fail(call, VP_EINVAL,
                           "%s: the secret name and the version parameter name different "
                           "versions",
                           ref->uri);
        snprintf(nm->version, sizeof(nm->version), "%s", version);
    }
    if (nm->version[0] == '\0')
        snprintf(nm->version, sizeof(nm->version), "latest");
    if (location != NULL && location[0] != '\0') {
        if (gcp_name_check('l', location) != 0)
            return h->fail(call, VP_EINVAL, "%s: the location must be a region such as us-east1",
                           ref->uri);
        if (nm->location[0] != '\0' && strcmp(nm->location, location) != 0)
            return h->fail(call, VP_EINVAL,
                           "%s: the secret name and the location parameter disagree", ref->uri);
        snprintf(nm->location, sizeof(nm->location), "%s", location);
    }
    if (nm->project[0] == '\0') {
        if (in->project != NULL) {
            snprintf(nm->project, sizeof(nm->project), "%s", in->project);
        } else if (in->kind == GCP_KIND_METADATA) {
            int rc = gcp_metadata_project(in, call, nm->project, sizeof(nm->project));
            if (rc == VP_ENOTFOUND)
                return h->fail(call, VP_EINVAL,
                               "%s: no project for a short secret name: use PROJECT/SECRET or "
                               "set GOOGLE_CLOUD_PROJECT",
                               ref->uri);
            if (rc != VP_OK)
                return rc;
        } else {
            return h->fail(call, VP_EINVAL,
                           "%s: no project for a short secret name: use PROJECT/SECRET, set "
                           "GOOGLE_CLOUD_PROJECT, or the credential's 'project' field",
                           ref->uri);
        }
    }
    return VP_OK;
}

int gcp_get(gcp_inst *in, vp_call *call, const char *url, const char *what, vp_http_response **out)
{
    const vp_host *h = in->host;
    *out = NULL;
    char *tok = NULL;
    size_t tok_len = 0;
    int rc = gcp_token_get(in, call, &tok, &tok_len);
    if (rc != VP_OK)
        return rc;
    char *auth = h->secure_malloc(tok_len + 8);
    if (auth == NULL) {
        h->secure_free(tok);
        return h->fail(call, VP_ENOMEM, "gcp: out of memory");
    }
    memcpy(auth, "Bearer ", 7);
    memcpy(auth + 7, tok, tok_len + 1);
    vp_http_header hdrs[3] = {{"Authorization", auth, VP_HTTP_HDR_SECRET},
                              {"Accept", "application/json", 0}};
    size_t nh = 2;
    if (in->quota_project != NULL)
        hdrs[nh++] = (vp_http_header){"x-goog-user-project", in->quota_project, 0};
    vp_http_request rq = {.hdr = VP_ABI_HDR(vp_http_request)};
    rq.method = "GET";
    rq.url = url;
    rq.headers = hdrs;
    rq.n_headers = nh;
    rq.max_response = GCP_RESPONSE_MAX;
    rq.ca_file = in->ca_file;
    vp_http_response *r = NULL;
    rc = h->http(call, &rq, &r);
    h->secure_free(auth);
    if (rc == VP_OK && h->http_status(r) != 200) {
        long st = h->http_status(r);
        size_t blen = 0;
        const char *body = h->http_body(r, &blen);
        /* A rejected token must not be reused: the next attempt gets a fresh one. */
        if (st == 401)
            gcp_token_invalidate(in, tok, tok_len);
        rc = gcp_map_error(h, call, st, h->http_header(r, "Retry-After"), body, blen, what);
        h->http_free(r);
        r = NULL;
    }
    h->secure_free(tok);
    *out = r;
    return rc;
}

static int gcp_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    gcp_inst *in = inst;
    const vp_host *h = in->host;
    if (ref == NULL || out == NULL)
        return h->fail(call, VP_EINVAL, "gcp: fetch called without a reference");
    gcp_name nm;
    int rc = resolve_ref(in, ref, call, &nm);
    if (rc != VP_OK)
        return rc;
    char what[700], url[GCP_URL_MAX];
    if (nm.location[0] != '\0')
        snprintf(what, sizeof(what), "secret projects/%s/locations/%s/secrets/%s/versions/%s",
                 nm.project, nm.location, nm.secret, nm.version);
    else
        snprintf(what, sizeof(what), "secret projects/%s/secrets/%s/versions/%s", nm.project,
                 nm.secret, nm.version);
    if (gcp_access_url(in->endpoint, &nm, url, sizeof(url)) != 0)
        return h->fail(call, VP_ELIMIT, "%s: the request URL is too long", what);
    h->log(in->hc, VP_LOG_DEBUG, "fetch %s (%s)", ref->uri, what);

    vp_http_response *r = NULL;
    if ((rc = gcp_get(in, call, url, what, &r)) != VP_OK)
        return rc;
    size_t blen = 0, vlen = 0;
    const char *body = h->http_body(r, &blen);
    char *val = NULL, version[64];
    rc = gcp_parse_access(h, call, body, blen, what, &val, &vlen, version, sizeof(version));
    if (rc == VP_OK) {
        rc = h->secret_set(out, val, vlen);
        h->secure_free(val);
        if (rc != VP_OK)
            rc = h->fail(call, rc, "%s: cannot store the value", what);
        else if (version[0] != '\0' && (rc = h->secret_set_version(out, version)) != VP_OK)
            rc = h->fail(call, rc, "%s: cannot store the version", what);
    }
    h->http_free(r);
    return rc;
}

/* validate: obtain a token (reads no secret). A raw access token is checked at tokeninfo. */
static int gcp_validate(void *inst, vp_call *call)
{
    gcp_inst *in = inst;
    if (in->kind == GCP_KIND_ACCESS_TOKEN)
        return gcp_token_check_static(in, call);
    char *tok = NULL;
    size_t len = 0;
    int rc = gcp_token_get(in, call, &tok, &len);
    in->host->secure_free(tok);
    return rc;
}

static const char *const gcp_schemes[] = {"gcp", NULL};

static const vp_provider gcp_provider = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "gcp",
    .version = "1.0.0",
    .description = "GCP Secret Manager (service accounts, user credentials, metadata server)",
    .schemes = gcp_schemes,
    .caps = VP_CAP_THREADSAFE | VP_CAP_LIST,
    .cred_types = gcp_cred_types,
    .init = gcp_init,
    .configure = gcp_configure,
    .fetch = gcp_fetch,
    .fetch_batch = NULL,
    .list = gcp_list,
    .login = NULL,
    .validate = gcp_validate,
    .destroy = gcp_destroy,
    .teardown = gcp_teardown,
};

VP_PROVIDER_ENTRY(gcp_provider)
