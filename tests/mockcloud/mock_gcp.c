/*
 * mock_gcp - Secret Manager (versions.access), seeding, lifecycle and the environment for the
 * gcp provider. The OAuth token endpoint and the metadata server are in mock_gcp_auth.c.
 */
#define MOCK_GCP_INTERNAL
#define _DEFAULT_SOURCE /* mkdtemp */
#include "mock_gcp.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

static uint32_t crc32c(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* google.rpc.Status body. */
static void rpc_error(mc_response *resp, int code, const char *status, const char *msg)
{
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(code));
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_object_add(e, "status", json_object_new_string(status));
    json_object_object_add(o, "error", e);
    mc_resp_json(resp, code, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void html_404(const mc_request *req, mc_response *resp)
{
    resp->status = 404;
    mc_resp_header(resp, "Content-Type", "text/html; charset=UTF-8");
    mc_resp_bodyf(resp,
                  "<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title>"
                  "<p><b>404.</b> <ins>That's an error.</ins><p>The requested URL <code>%.200s"
                  "</code> was not found on this server. <ins>That's all we know.</ins>\n",
                  req->path);
}

static void h_fallback(void *ud, const mc_request *req, mc_response *resp)
{
    (void)ud;
    html_404(req, resp);
}

/* Split "/v1/projects/P[/locations/L]/secrets/S/versions/V:access". 0 or -1. */
static int split_path(const char *path, char *p, char *l, char *s, char *v)
{
    char buf[1024];
    if (strlen(path) >= sizeof(buf))
        return -1;
    strcpy(buf, path);
    size_t n = strlen(buf);
    if (n < 7 || strcmp(buf + n - 7, ":access") != 0)
        return -1;
    buf[n - 7] = '\0';
    char *seg[10];
    size_t k = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (k == 10)
            return -1;
        seg[k++] = t;
    }
    l[0] = '\0';
    size_t i;
    if (k == 7 && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "projects") == 0 &&
        strcmp(seg[3], "secrets") == 0 && strcmp(seg[5], "versions") == 0)
        i = 2;
    else if (k == 9 && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "projects") == 0 &&
             strcmp(seg[3], "locations") == 0 && strcmp(seg[5], "secrets") == 0 &&
             strcmp(seg[7], "versions") == 0) {
        snprintf(l, 64, "%s", seg[4]);
        i = 4;
    } else
        return -1;
    if (strlen(seg[2]) >= 64 || strlen(seg[i + 2]) >= 256 || strlen(seg[i + 4]) >= 64)
        return -1;
    strcpy(p, seg[2]);
    strcpy(s, seg[i + 2]);
    strcpy(v, seg[i + 4]);
    return 0;
}

static int valid_id(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* GET /v1/projects/P/secrets: the project's global secrets in seed order, MGCP_LIST_PAGE per
 * page at most (pageSize caps it further), nextPageToken "p<index>", and `filter` as Secret
 * Manager's list filtering reads "name:VALUE" (the name contains VALUE). */
#define MGCP_LIST_PAGE 2
static void h_list(mock_gcp *m, const mc_request *req, mc_response *resp, const char *p)
{
    char msg[700], principal[128];
    const char *auth = mc_req_header(req, "Authorization");
    pthread_mutex_lock(&m->lock);
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 ||
        mgcp_token_principal_locked(m, auth + 7, principal, sizeof(principal)) != 0) {
        pthread_mutex_unlock(&m->lock);
        mc_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\"");
        rpc_error(resp, 401, "UNAUTHENTICATED",
                  "Request had invalid authentication credentials. Expected OAuth 2 access "
                  "token, login cookie or other valid authentication credential.");
        return;
    }
    mgcp_project *pr = NULL;
    for (size_t i = 0; i < m->n_projects; i++)
        if (strcmp(m->projects[i].id, p) == 0 || strcmp(m->projects[i].number, p) == 0)
            pr = &m->projects[i];
    if (pr == NULL || pr->denied) {
        pthread_mutex_unlock(&m->lock);
        snprintf(msg, sizeof(msg),
                 "Permission 'secretmanager.secrets.list' denied for resource 'projects/%s' (or "
                 "it may not exist).",
                 p);
        rpc_error(resp, 403, "PERMISSION_DENIED", msg);
        return;
    }
    const char *ps = mc_req_query(req, "pageSize"), *pt = mc_req_query(req, "pageToken");
    const char *filter = mc_req_query(req, "filter");
    long page = ps ? strtol(ps, NULL, 10) : 0;
    if (page < 0) {
        pthread_mutex_unlock(&m->lock);
        rpc_error(resp, 400, "INVALID_ARGUMENT", "page_size must be non-negative.");
        return;
    }
    if (page == 0 || page > MGCP_LIST_PAGE)
        page = MGCP_LIST_PAGE;
    size_t start = 0;
    if (pt != NULL && pt[0] != '\0') {
        if (pt[0] != 'p' || strspn(pt + 1, "0123456789") != strlen(pt + 1) || pt[1] == '\0') {
            pthread_mutex_unlock(&m->lock);
            rpc_error(resp, 400, "INVALID_ARGUMENT", "Invalid page token.");
            return;
        }
        start = strtoul(pt + 1, NULL, 10);
    }
    const char *has = NULL;
    if (filter != NULL && filter[0] != '\0') {
        if (strncmp(filter, "name:", 5) != 0) {
            pthread_mutex_unlock(&m->lock);
            rpc_error(resp, 400, "INVALID_ARGUMENT", "The mock supports only name:VALUE filters.");
            return;
        }
        has = filter + 5;
    }
    json_object *arr = json_object_new_array();
    size_t i;
    long taken = 0;
    for (i = start; i < m->n_secrets && taken < page; i++) {
        const mgcp_secret *sec = &m->secrets[i];
        if (&m->projects[sec->project] != pr || sec->location[0] != '\0' ||
            (has != NULL && strstr(sec->name, has) == NULL))
            continue;
        char name[400];
        snprintf(name, sizeof(name), "projects/%s/secrets/%s", pr->number, sec->name);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "createTime",
                               json_object_new_string("2024-01-01T00:00:00.000000Z"));
        json_object *rep = json_object_new_object();
        json_object_object_add(rep, "automatic", json_object_new_object());
        json_object_object_add(o, "replication", rep);
        json_object_array_add(arr, o);
        taken++;
    }
    int more = i < m->n_secrets;
    m->list_calls++;
    pthread_mutex_unlock(&m->lock);
    json_object *o = json_object_new_object();
    if (json_object_array_length(arr) > 0)
        json_object_object_add(o, "secrets", arr);
    else
        json_object_put(arr); /* an empty page has no "secrets" member (proto3 JSON) */
    if (more) {
        char t[32];
        snprintf(t, sizeof(t), "p%zu", i);
        json_object_object_add(o, "nextPageToken", json_object_new_string(t));
    }
    mc_resp_json(resp, 200, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void h_access(void *ud, const mc_request *req, mc_response *resp)
{
    mock_gcp *m = ud;
    char p[64], l[64], s[256], v[64], msg[700], principal[128];
    if (strcmp(req->method, "GET") == 0 && strncmp(req->path, "/v1/projects/", 13) == 0) {
        const char *pe = strchr(req->path + 13, '/');
        if (pe != NULL && strcmp(pe, "/secrets") == 0 && pe - req->path - 13 < 64) {
            snprintf(p, sizeof(p), "%.*s", (int)(pe - req->path - 13), req->path + 13);
            h_list(m, req, resp, p);
            return;
        }
    }
    if (strcmp(req->method, "GET") != 0 || split_path(req->path, p, l, s, v) != 0) {
        html_404(req, resp);
        return;
    }
    const char *auth = mc_req_header(req, "Authorization");
    pthread_mutex_lock(&m->lock);
    const char *up = mc_req_header(req, "x-goog-user-project");
    snprintf(m->last_user_project, sizeof(m->last_user_project), "%s", up ? up : "");
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 ||
        mgcp_token_principal_locked(m, auth + 7, principal, sizeof(principal)) != 0) {
        pthread_mutex_unlock(&m->lock);
        mc_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\"");
        rpc_error(resp, 401, "UNAUTHENTICATED",
                  "Request had invalid authentication credentials. Expected OAuth 2 access "
                  "token, login cookie or other valid authentication credential. See "
                  "https://developers.google.com/identity/sign-in/web/devconsole-project.");
        return;
    }
    if (!valid_id(s)) {
        pthread_mutex_unlock(&m->lock);
        snprintf(msg, sizeof(msg), "Resource ID [projects/%s/secrets/%s] is not in a valid format.",
                 p, s);
        rpc_error(resp, 400, "INVALID_ARGUMENT", msg);
        return;
    }
    mgcp_project *pr = NULL;
    for (size_t i = 0; i < m->n_projects; i++)
        if (strcmp(m->projects[i].id, p) == 0 || strcmp(m->projects[i].number, p) == 0)
            pr = &m->projects[i];
    mgcp_secret *sec = NULL;
    for (size_t i = 0; pr != NULL && i < m->n_secrets; i++)
        if (&m->projects[m->secrets[i].project] == pr && strcmp(m->secrets[i].name, s) == 0 &&
            strcmp(m->secrets[i].location, l) == 0)
            sec = &m->secrets[i];
    int denied = pr == NULL || pr->denied;
    for (size_t i = 0; sec != NULL && i < sec->ndeny; i++)
        denied |= strcmp(sec->deny[i], principal) == 0;
    if (denied) {
        pthread_mutex_unlock(&m->lock);
        snprintf(msg, sizeof(msg),
                 "Permission 'secretmanager.versions.access' denied for resource "
                 "'projects/%s/%s%s%ssecrets/%s/versions/%s' (or it may not exist).",
                 p, l[0] ? "locations/" : "", l, l[0] ? "/" : "", s, v);
        rpc_error(resp, 403, "PERMISSION_DENIED", msg);
        return;
    }
    char loc[80] = "";
    if (l[0])
        snprintf(loc, sizeof(loc), "locations/%s/", l);
    if (sec == NULL || sec->nv == 0) {
        pthread_mutex_unlock(&m->lock);
        snprintf(msg, sizeof(msg),
                 "Secret [projects/%s/%ssecrets/%s] not found or has no versions.", pr->number, loc,
                 s);
        rpc_error(resp, 404, "NOT_FOUND", msg);
        return;
    }
    long ver = -1;
    if (strcmp(v, "latest") == 0) {
        ver = (long)sec->nv; /* newest, whatever its state */
    } else if (v[0] >= '1' && v[0] <= '9' && strspn(v, "0123456789") == strlen(v)) {
        ver = strtol(v, NULL, 10);
    } else if (v[0] == '0' || strspn(v, "0123456789") == strlen(v)) {
        pthread_mutex_unlock(&m->lock);
        rpc_error(resp, 400, "INVALID_ARGUMENT", "Invalid version id.");
        return;
    } else {
        for (size_t i = 0; i < sec->na; i++)
            if (strcmp(sec->alias[i], v) == 0)
                ver = sec->alias_ver[i];
    }
    if (ver < 1 || ver > (long)sec->nv) {
        pthread_mutex_unlock(&m->lock);
        snprintf(msg, sizeof(msg),
                 "Secret Version [projects/%s/%ssecrets/%s/versions/%s] not found.", pr->number,
                 loc, s, v);
        rpc_error(resp, 404, "NOT_FOUND", msg);
        return;
    }
    if (sec->v[ver - 1].state != MGCP_ENABLED) {
        int st = sec->v[ver - 1].state;
        pthread_mutex_unlock(&m->lock);
        snprintf(msg, sizeof(msg),
                 "Secret Version [projects/%s/%ssecrets/%s/versions/%ld] is in %s state.",
                 pr->number, loc, s, ver, st == MGCP_DISABLED ? "DISABLED" : "DESTROYED");
        rpc_error(resp, 400, "FAILED_PRECONDITION", msg);
        return;
    }
    const unsigned char *d = sec->v[ver - 1].data;
    size_t dl = sec->v[ver - 1].len;
    uint32_t crc = crc32c(d, dl);
    if (m->crc_mismatch || sec->bad_crc)
        crc ^= 0x00010000u;
    char *b64 = malloc(4 * ((dl + 2) / 3) + 1);
    if (b64 == NULL) {
        pthread_mutex_unlock(&m->lock);
        rpc_error(resp, 500, "INTERNAL", "out of memory");
        return;
    }
    EVP_EncodeBlock((unsigned char *)b64, d, (int)dl);
    char name[600];
    snprintf(name, sizeof(name), "projects/%s/%ssecrets/%s/versions/%ld", pr->number, loc, s, ver);
    m->access_ok++;
    pthread_mutex_unlock(&m->lock);
    json_object *o = json_object_new_object(), *pl = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(pl, "data", json_object_new_string(b64));
    char crcs[16];
    snprintf(crcs, sizeof(crcs), "%u", crc);
    json_object_object_add(pl, "dataCrc32c", json_object_new_string(crcs));
    json_object_object_add(o, "payload", pl);
    mc_resp_json(resp, 200, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    free(b64);
}

/* ---- seeding ------------------------------------------------------------------------------ */

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int seed_secret(mock_gcp *m, json_object *so, char *err, size_t errcap)
{
    const char *proj = jstr(so, "project"), *name = jstr(so, "secret"), *loc = jstr(so, "location");
    if (proj == NULL || name == NULL || strlen(name) >= 256 || (loc && strlen(loc) >= 64)) {
        set_err(err, errcap, "secret needs \"project\" and \"secret\"");
        return -1;
    }
    int pi = -1;
    for (size_t i = 0; i < m->n_projects; i++)
        if (strcmp(m->projects[i].id, proj) == 0)
            pi = (int)i;
    if (pi < 0 || m->n_secrets == MGCP_MAX_SECRETS) {
        set_err(err, errcap, "secret %s: unknown project %s (or too many secrets)", name, proj);
        return -1;
    }
    mgcp_secret *s = &m->secrets[m->n_secrets];
    memset(s, 0, sizeof(*s));
    s->project = pi;
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->location, sizeof(s->location), "%s", loc ? loc : "");
    json_object *arr, *v;
    if (json_object_object_get_ex(so, "versions", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(arr) && s->nv < MGCP_MAX_VERSIONS; i++) {
            json_object *vo = json_object_array_get_idx(arr, i);
            const char *data = jstr(vo, "data"), *b64 = jstr(vo, "data_b64"),
                       *st = jstr(vo, "state");
            unsigned char *buf = NULL;
            size_t len = 0;
            if (data != NULL) {
                len = strlen(data);
                buf = malloc(len + 1);
                if (buf)
                    memcpy(buf, data, len + 1);
            } else if (b64 != NULL) {
                buf = malloc(strlen(b64) + 4);
                int n =
                    buf ? EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)strlen(b64)) : -1;
                if (n < 0) {
                    free(buf);
                    set_err(err, errcap, "secret %s: bad data_b64", name);
                    return -1;
                }
                len = (size_t)n;
                for (size_t k = strlen(b64); k > 0 && b64[k - 1] == '='; k--)
                    len--;
            } else {
                buf = malloc(1);
            }
            if (buf == NULL) {
                set_err(err, errcap, "out of memory");
                return -1;
            }
            s->v[s->nv].data = buf;
            s->v[s->nv].len = len;
            s->v[s->nv].state = st == NULL                     ? MGCP_ENABLED
                                : strcmp(st, "DISABLED") == 0  ? MGCP_DISABLED
                                : strcmp(st, "DESTROYED") == 0 ? MGCP_DESTROYED
                                                               : MGCP_ENABLED;
            s->nv++;
        }
    }
    if (json_object_object_get_ex(so, "aliases", &v) && json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val)
        {
            if (s->na < MGCP_MAX_ALIASES && strlen(k) < 64) {
                snprintf(s->alias[s->na], 64, "%s", k);
                s->alias_ver[s->na++] = json_object_get_int(val);
            }
        }
    }
    if (json_object_object_get_ex(so, "deny", &v) && json_object_is_type(v, json_type_array))
        for (size_t i = 0; i < json_object_array_length(v) && s->ndeny < MGCP_MAX_DENY; i++)
            snprintf(s->deny[s->ndeny++], 128, "%s",
                     json_object_get_string(json_object_array_get_idx(v, i)));
    if (json_object_object_get_ex(so, "bad_crc", &v))
        s->bad_crc = json_object_get_boolean(v);
    m->n_secrets++;
    return 0;
}

int mock_gcp_seed_json(mock_gcp *m, const char *json, char *err, size_t errcap)
{
    json_object *root = json_tokener_parse(json);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        set_err(err, errcap, "seed: not a JSON object");
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    json_object *arr;
    if (json_object_object_get_ex(root, "projects", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(arr) && rc == 0; i++) {
            json_object *po = json_object_array_get_idx(arr, i), *d;
            const char *id = jstr(po, "id"), *num = jstr(po, "number");
            if (id == NULL || strlen(id) >= 64 || m->n_projects == MGCP_MAX_PROJECTS) {
                set_err(err, errcap, "project needs an \"id\"");
                rc = -1;
                break;
            }
            mgcp_project *p = &m->projects[m->n_projects++];
            memset(p, 0, sizeof(*p));
            snprintf(p->id, sizeof(p->id), "%s", id);
            snprintf(p->number, sizeof(p->number), "%s", num ? num : "100000000001");
            if (json_object_object_get_ex(po, "denied", &d))
                p->denied = json_object_get_boolean(d);
        }
    }
    if (rc == 0 && json_object_object_get_ex(root, "secrets", &arr) &&
        json_object_is_type(arr, json_type_array))
        for (size_t i = 0; i < json_object_array_length(arr) && rc == 0; i++)
            rc = seed_secret(m, json_object_array_get_idx(arr, i), err, errcap);
    if (rc == 0)
        rc = mgcp_seed_auth_locked(m, root, err, errcap);
    pthread_mutex_unlock(&m->lock);
    json_object_put(root);
    return rc;
}

/* ---- lifecycle and accessors -------------------------------------------------------------- */

static const char *const log_headers[] = {"Authorization", "x-goog-user-project", "Metadata-Flavor",
                                          "Content-Type", NULL};

mock_gcp *mock_gcp_start(int tls, char *err, size_t errcap)
{
    mock_gcp *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        set_err(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->token_life = 3599;
    snprintf(m->dir, sizeof(m->dir), "/tmp/mock_gcp.XXXXXX");
    if (mkdtemp(m->dir) == NULL) {
        set_err(err, errcap, "mkdtemp failed");
        m->dir[0] = '\0';
        mock_gcp_stop(m);
        return NULL;
    }
    mc_options o = {.tls = tls, .log_headers = log_headers};
    mc_options mo = {.tls = 0, .log_headers = log_headers};
    if (tls && !mc_tls_supported()) {
        set_err(err, errcap, "libmicrohttpd has no TLS support");
        mock_gcp_stop(m);
        return NULL;
    }
    m->srv = mc_start(&o);
    m->md = mc_start(&mo);
    if (m->srv == NULL || m->md == NULL) {
        set_err(err, errcap, "cannot start the mock servers");
        mock_gcp_stop(m);
        return NULL;
    }
    snprintf(m->token_uri, sizeof(m->token_uri), "%s/token", mc_url(m->srv));
    snprintf(m->md_host, sizeof(m->md_host), "127.0.0.1:%u", (unsigned)mc_port(m->md));
    snprintf(m->md_principal, sizeof(m->md_principal), "default-compute@developer");
    if (mc_route(m->srv, "*", "/", h_fallback, m) < 0 ||
        mc_route(m->srv, "*", "/v1/", h_access, m) < 0 || mgcp_auth_routes(m) != 0) {
        set_err(err, errcap, "cannot add routes");
        mock_gcp_stop(m);
        return NULL;
    }
    return m;
}

void mock_gcp_stop(mock_gcp *m)
{
    if (m == NULL)
        return;
    mc_stop(m->srv);
    mc_stop(m->md);
    for (size_t i = 0; i < m->n_secrets; i++)
        for (size_t k = 0; k < m->secrets[i].nv; k++)
            free(m->secrets[i].v[k].data);
    mgcp_auth_free(m);
    if (m->dir[0] != '\0')
        rmdir(m->dir);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void mock_gcp_print_env(const mock_gcp *m, FILE *out)
{
    /* Settings the provider reads itself; references without a credential then use
     * Application Default Credentials (the key file below, or the metadata server). */
    fprintf(out, "export VAULTPLUG_GCP_ENDPOINT='%s'\n", mc_url(m->srv));
    fprintf(out, "export VAULTPLUG_GCP_TOKEN_URI='%s'\n", m->token_uri);
    if (mc_ca_file(m->srv) != NULL)
        fprintf(out, "export VAULTPLUG_GCP_CA_FILE='%s'\n", mc_ca_file(m->srv));
    fprintf(out, "export GCE_METADATA_HOST='%s'\n", m->md_host);
    fprintf(out, "export GCE_METADATA_IP='%s'\n", m->md_host);
    if (m->n_sas > 0) {
        fprintf(out, "export GOOGLE_APPLICATION_CREDENTIALS='%s'\n", m->sas[0].file);
        fprintf(out, "export GOOGLE_CLOUD_PROJECT='%s'\n", m->sas[0].project);
    }
}

const char *mock_gcp_url(const mock_gcp *m)
{
    return mc_url(m->srv);
}
const char *mock_gcp_token_uri(const mock_gcp *m)
{
    return m->token_uri;
}
const char *mock_gcp_metadata_host(const mock_gcp *m)
{
    return m->md_host;
}
const char *mock_gcp_ca_file(const mock_gcp *m)
{
    return mc_ca_file(m->srv);
}
const char *mock_gcp_dir(const mock_gcp *m)
{
    return m->dir;
}
mc_server *mock_gcp_server(mock_gcp *m)
{
    return m->srv;
}
mc_server *mock_gcp_metadata_server(mock_gcp *m)
{
    return m->md;
}

const char *mock_gcp_sa_key_file(const mock_gcp *m, size_t n)
{
    return n < m->n_sas ? m->sas[n].file : NULL;
}

void mock_gcp_set_token_lifetime(mock_gcp *m, int seconds, int as_string)
{
    pthread_mutex_lock(&m->lock);
    m->token_life = seconds;
    m->life_as_string = as_string;
    pthread_mutex_unlock(&m->lock);
}

void mock_gcp_set_crc_mismatch(mock_gcp *m, int on)
{
    pthread_mutex_lock(&m->lock);
    m->crc_mismatch = on;
    pthread_mutex_unlock(&m->lock);
}

void mock_gcp_revoke_tokens(mock_gcp *m)
{
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_tokens; i++)
        if (m->tokens[i].expiry != 0)
            m->tokens[i].expiry = 1; /* long past */
    pthread_mutex_unlock(&m->lock);
}

void mock_gcp_delete_sa_key(mock_gcp *m, size_t n)
{
    pthread_mutex_lock(&m->lock);
    if (n < m->n_sas)
        m->sas[n].deleted = 1;
    pthread_mutex_unlock(&m->lock);
}

unsigned mock_gcp_token_grants(const mock_gcp *m)
{
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    unsigned n = m->grants;
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
    return n;
}

unsigned mock_gcp_metadata_grants(const mock_gcp *m)
{
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    unsigned n = m->md_grants;
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
    return n;
}

unsigned mock_gcp_access_ok(const mock_gcp *m)
{
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    unsigned n = m->access_ok;
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
    return n;
}

unsigned mock_gcp_list_calls(const mock_gcp *m)
{
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    unsigned n = m->list_calls;
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
    return n;
}

void mock_gcp_last_user_project(const mock_gcp *m, char *out, size_t cap)
{
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    snprintf(out, cap, "%s", m->last_user_project);
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
}

void mock_gcp_last_token_error(const mock_gcp *m, char *out, size_t cap)
{
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    snprintf(out, cap, "%s", m->last_token_error);
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
}
