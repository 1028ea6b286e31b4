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
    vp_sb *u = h->sb_new(GCP_URL_MAX - 1, 0);
    h->sb_printf(u, "%s/v1/projects/", in->endpoint ? in->endpoint : GCP_DEFAULT_ENDPOINT);
    h->sb_append_enc(u, lr->project, strlen(lr->project), 0);
    h->sb_append_str(u, "/secrets?pageSize=100");
    if (lr->prefix[0] != '\0') {
        h->sb_append_str(u, "&filter=name%3A");
        h->sb_append_enc(u, lr->prefix, strlen(lr->prefix), 0);
    }
    if (token != NULL) {
        h->sb_append_str(u, "&pageToken=");
        h->sb_append_enc(u, token, strlen(token), 0);
    }
    int rc = h->sb_status(u);
    if (rc != VP_OK) {
        h->sb_free(u);
        return rc == VP_ELIMIT
                   ? h->fail(call, VP_ELIMIT, "gcp: %s: the request URL is too long", lr->what)
                   : h->fail(call, rc, "gcp: out of memory");
    }
    vp_http_response *r = NULL;
    rc = gcp_get(in, call, h->sb_data(u, NULL), lr->what, &r);
    h->sb_free(u);
    if (rc != VP_OK)
        return rc;
    size_t blen = 0;
    const char *body = h->http_body(r, &blen);
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
