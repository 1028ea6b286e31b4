/*
 * gcp_list.c - list() of the gcp provider: Secret Manager secrets.list
 * (GET /v1/projects/P/secrets?pageSize&pageToken&filter), following nextPageToken to the last
 * page. The prefix is PROJECT/NAME-PREFIX, or NAME-PREFIX in the credential's project; names are
 * handed back in the same form (PROJECT/SECRET or SECRET), so each one is a reference as it is.
 * The prefix goes to the server as a `name:` filter (which matches more than a prefix) and is
 * checked here. Global secrets only (regional secrets live under projects/P/locations/L).
 */
#include <stdio.h>
#include <string.h>

#include "gcp.h"

#define GCP_LIST_PAGES 10000

static int id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Append s percent-encoded (every byte but A-Za-z0-9-._~) to buf at *n. -1 if it does not fit. */
static int append_enc(char *buf, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = id_char((char)c) || c == '.' || c == '~';
        if (*n + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            buf[(*n)++] = (char)c;
        } else {
            buf[(*n)++] = '%';
            buf[(*n)++] = hex[c >> 4];
            buf[(*n)++] = hex[c & 15];
        }
    }
    buf[*n] = '\0';
    return 0;
}

typedef struct list_req {
    const char *project, *prefix;
    int qualified; /* names as PROJECT/SECRET */
    char what[200];
} list_req;

/* One page: names into out, *next gets nextPageToken (plain copy) or NULL. */
static int list_page(gcp_inst *in, vp_call *call, const list_req *lr, const char *token,
                     vp_list_out *out, char **next)
{
    const vp_host *h = in->host;
    *next = NULL;
    char url[GCP_URL_MAX];
    size_t n = (size_t)snprintf(url, sizeof(url), "%s/v1/projects/",
                                in->endpoint ? in->endpoint : GCP_DEFAULT_ENDPOINT);
    int bad = n >= sizeof(url) || append_enc(url, sizeof(url), &n, lr->project) != 0;
    if (!bad) {
        n += (size_t)snprintf(url + n, sizeof(url) - n, "/secrets?pageSize=100");
        bad = n >= sizeof(url);
    }
    if (!bad && lr->prefix[0] != '\0') {
        n += (size_t)snprintf(url + n, sizeof(url) - n, "&filter=name%%3A");
        bad = n >= sizeof(url) || append_enc(url, sizeof(url), &n, lr->prefix) != 0;
    }
    if (!bad && token != NULL) {
        n += (size_t)snprintf(url + n, sizeof(url) - n, "&pageToken=");
        bad = n >= sizeof(url) || append_enc(url, sizeof(url), &n, token) != 0;
    }
    if (bad)
        return h->fail(call, VP_ELIMIT, "gcp: %s: the request URL is too long", lr->what);

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
    if (rc != VP_OK) {
        h->secure_free(tok);
        return rc;
    }
    long st = h->http_status(r);
    size_t blen = 0;
    const char *body = h->http_body(r, &blen);
    if (st != 200) {
        if (st == 401)
            gcp_token_invalidate(in, tok, tok_len);
        rc = gcp_map_error(h, call, st, h->http_header(r, "Retry-After"), body, blen, lr->what);
        h->http_free(r);
        h->secure_free(tok);
        return rc;
    }
    h->secure_free(tok);
    vp_json *j = NULL;
    if (h->json_parse(body, blen, &j) != VP_OK || h->json_type(j) != VP_JSON_OBJECT) {
        h->json_free(j);
        h->http_free(r);
        return h->fail(call, VP_EPROTO, "gcp: %s: the response is not a JSON object", lr->what);
    }
    const vp_json *arr = h->json_get(j, "secrets"); /* absent on an empty page */
    size_t plen = strlen(lr->prefix);
    char name[400];
    for (size_t i = 0; rc == VP_OK && i < h->json_len(arr); i++) {
        const char *full = h->json_string(h->json_get(h->json_at(arr, i), "name"), NULL);
        const char *s = full ? strstr(full, "/secrets/") : NULL;
        if (s == NULL)
            continue;
        s += 9;
        if (strncmp(s, lr->prefix, plen) != 0 || strchr(s, '/') != NULL)
            continue;
        if ((size_t)snprintf(name, sizeof(name), "%s%s%s", lr->qualified ? lr->project : "",
                             lr->qualified ? "/" : "", s) >= sizeof(name))
            continue;
        rc = h->list_add(out, name);
    }
    const char *nt = h->json_string(h->json_get(j, "nextPageToken"), NULL);
    if (rc == VP_OK && nt != NULL && nt[0] != '\0' && (*next = h->strdup(nt)) == NULL)
        rc = VP_ENOMEM;
    h->json_free(j);
    h->http_free(r);
    if (rc != VP_OK)
        return h->fail(call, rc, "gcp: %s: %s", lr->what,
                       rc == VP_ELIMIT ? "too many names (narrow the prefix)" : "out of memory");
    return VP_OK;
}

int gcp_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out)
{
    gcp_inst *in = inst;
    const vp_host *h = in->host;
    list_req lr = {0};
    char project[128];
    const char *sl = strchr(prefix, '/');
    if (sl != NULL) {
        size_t pl = (size_t)(sl - prefix);
        if (pl == 0 || pl >= sizeof(project))
            return h->fail(call, VP_EINVAL, "gcp: list: '%.200s' does not start with a project",
                           prefix);
        memcpy(project, prefix, pl);
        project[pl] = '\0';
        lr.qualified = 1;
        lr.prefix = sl + 1;
    } else {
        lr.prefix = prefix;
        if (in->project != NULL) {
            snprintf(project, sizeof(project), "%s", in->project);
        } else if (in->kind == GCP_KIND_METADATA) {
            int rc = gcp_metadata_project(in, call, project, sizeof(project));
            if (rc == VP_ENOTFOUND)
                return h->fail(call, VP_EINVAL,
                               "gcp: no project to list: use gcp://PROJECT/ or set "
                               "GOOGLE_CLOUD_PROJECT");
            if (rc != VP_OK)
                return rc;
        } else {
            return h->fail(call, VP_EINVAL,
                           "gcp: no project to list: use gcp://PROJECT/, set "
                           "GOOGLE_CLOUD_PROJECT, or the credential's 'project' field");
        }
    }
    if (gcp_name_check('p', project) != 0)
        return h->fail(call, VP_EINVAL, "gcp: list: '%.128s' is not a project id or number",
                       project);
    for (const char *c = lr.prefix; *c; c++)
        if (!id_char(*c))
            return h->fail(call, VP_EINVAL,
                           "gcp: list: secret names hold only letters, digits, '-' and '_'; "
                           "'%.200s' cannot prefix one",
                           lr.prefix);
    lr.project = project;
    snprintf(lr.what, sizeof(lr.what), "secrets of project %s", project);
    h->log(in->hc, VP_LOG_DEBUG, "list %s with prefix '%s'", lr.what, lr.prefix);
    char *next = NULL;
    int rc = VP_OK, page;
    for (page = 0; page < GCP_LIST_PAGES; page++) {
        char *token = next;
        next = NULL;
        rc = list_page(in, call, &lr, token, out, &next);
        h->free(token);
        if (rc != VP_OK || next == NULL)
            break;
    }
    h->free(next);
    if (rc == VP_OK && page == GCP_LIST_PAGES)
        rc = h->fail(call, VP_ELIMIT, "gcp: %s: more than %d pages (narrow the prefix)", lr.what,
                     GCP_LIST_PAGES);
    return rc;
}
