/*
 * sm_list.c - list() of the aws provider: Secrets Manager ListSecrets (awsJson1_1,
 * X-Amz-Target secretsmanager.ListSecrets), following NextToken until the last page, with the
 * prefix sent as a "name" filter (AWS matches it as a case-sensitive prefix) and checked again
 * here, so a page the server filtered loosely cannot add a name outside the prefix. Names only:
 * the response carries no values. Secrets scheduled for deletion are not listed (the API's
 * default). The region is the instance's (credential field, AWS_REGION, profile).
 */
#include <stdio.h>
#include <string.h>

#include "aws_int.h"

#define AWS_LIST_PAGES      10000 /* 1 million names at 100 per page */
#define AWS_LIST_FILTER_MAX 512   /* longest filter value AWS accepts */

/* AWS accepts filter values of [a-zA-Z0-9 :_@/+=.-] (a leading '!' negates): a prefix outside
 * that set is matched here only. */
static int filterable(const char *p)
{
    if (p[0] == '\0' || p[0] == '!' || strlen(p) > AWS_LIST_FILTER_MAX)
        return 0;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(" :_@/+=.-", *p) != NULL))
            return 0;
    return 1;
}

/* Add the names of one page; *next gets NextToken (plain copy) or NULL. */
static int add_page(aws_inst *in, vp_call *call, const char *prefix, const char *txt, size_t len,
                    vp_list_out *out, char **next)
{
    const vp_host *h = in->h;
    *next = NULL;
    vp_json *j = NULL;
    if (h->json_parse(txt, len, &j) != VP_OK || h->json_type(j) != VP_JSON_OBJECT) {
        h->json_free(j);
        return h->fail(call, VP_EPROTO, "aws: ListSecrets: the response is not a JSON object");
    }
    const vp_json *list = h->json_get(j, "SecretList");
    if (list != NULL && h->json_type(list) != VP_JSON_ARRAY) {
        h->json_free(j);
        return h->fail(call, VP_EPROTO, "aws: ListSecrets: SecretList is not an array");
    }
    size_t plen = strlen(prefix);
    int rc = VP_OK;
    for (size_t i = 0; i < h->json_len(list) && rc == VP_OK; i++) {
        const char *name = h->json_string(h->json_get(h->json_at(list, i), "Name"), NULL);
        if (name == NULL || strncmp(name, prefix, plen) != 0)
            continue;
        rc = h->list_add(out, name);
    }
    const char *nt = h->json_string(h->json_get(j, "NextToken"), NULL);
    if (rc == VP_OK && nt != NULL && nt[0] != '\0' && (*next = h->strdup(nt)) == NULL)
        rc = VP_ENOMEM;
    h->json_free(j);
    if (rc != VP_OK)
        return h->fail(call, rc, "aws: ListSecrets: %s",
                       rc == VP_ELIMIT ? "too many names (narrow the prefix)" : "out of memory");
    return VP_OK;
}

int aws_sm_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out)
{
    aws_inst *in = inst;
    const vp_host *h = in->h;
    aws_creds c;
    int rc = aws_get_creds(in, call, &c);
    if (rc != VP_OK)
        return rc;
    char region[40] = "";
    char *reg = aws_region(in, call, &c);
    if (reg == NULL || !aws_region_valid(reg)) {
        if (reg == NULL)
            rc = h->fail(call, VP_EINVAL,
                         "aws: no region to list in (set AWS_REGION, the credential's region "
                         "field or the profile's region)");
        else
            rc = h->fail(call, VP_EINVAL, "aws: invalid region '%.40s'", reg);
        h->free(reg);
        aws_creds_clear(h, in->hc, &c);
        return rc;
    }
    snprintf(region, sizeof(region), "%s", reg);
    h->free(reg);
    char *url = aws_endpoint(in, call, "SECRETS_MANAGER");
    if (url == NULL) {
        char buf[160];
        snprintf(buf, sizeof(buf), "https://secretsmanager.%s.amazonaws.com%s", region,
                 strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
        url = h->strdup(buf);
    }
    if (url == NULL) {
        aws_creds_clear(h, in->hc, &c);
        return h->fail(call, VP_ENOMEM, "aws: out of memory");
    }
    int filter = filterable(prefix);
    char *next = NULL;
    int page;
    for (page = 0; page < AWS_LIST_PAGES; page++) {
        /* {"MaxResults":100, "Filters":[{"Key":"name","Values":[PREFIX]}], "NextToken":...} */
        vp_json *o = h->json_new_object();
        int brc = o != NULL ? VP_OK : VP_ENOMEM;
        if (brc == VP_OK)
            brc = h->json_set(o, "MaxResults", h->json_new_int(100));
        if (brc == VP_OK && filter) {
            vp_json *fs = h->json_new_array(), *f = h->json_new_object(),
                    *vals = h->json_new_array();
            brc = fs != NULL && f != NULL && vals != NULL ? VP_OK : VP_ENOMEM;
            if (brc == VP_OK)
                brc = h->json_set(f, "Key", h->json_new_string("name", 4));
            if (brc == VP_OK)
                brc = h->json_append(vals, h->json_new_string(prefix, strlen(prefix)));
            if (brc == VP_OK) {
                brc = h->json_set(f, "Values", vals);
                vals = NULL;
            }
            if (brc == VP_OK) {
                brc = h->json_append(fs, f);
                f = NULL;
            }
            if (brc == VP_OK) {
                brc = h->json_set(o, "Filters", fs);
                fs = NULL;
            }
            h->json_free(vals);
            h->json_free(f);
            h->json_free(fs);
        }
        if (brc == VP_OK && next != NULL)
            brc = h->json_set(o, "NextToken", h->json_new_string(next, strlen(next)));
        size_t blen = 0;
        char *body = brc == VP_OK ? h->json_dump(o, &blen) : NULL;
        h->json_free(o);
        h->free(next);
        next = NULL;
        if (body == NULL) {
            rc = h->fail(call, VP_ENOMEM, "aws: out of memory");
            break;
        }
        aws_api_req q = {url,
                         "secretsmanager",
                         region,
                         "secretsmanager.ListSecrets",
                         "application/x-amz-json-1.1",
                         body,
                         blen};
        vp_http_response *resp = NULL;
        rc = aws_api_call(in, call, &c, &q, &resp);
        h->secure_free(body);
        if (rc != VP_OK)
            break;
        if (h->http_status(resp) != 200) {
            rc = aws_sm_report_http_error(in, call, resp, "ListSecrets", region);
            h->http_free(resp);
            break;
        }
        size_t len = 0;
        const char *txt = h->http_body(resp, &len);
        rc = add_page(in, call, prefix, txt, len, out, &next);
        h->http_free(resp);
        if (rc != VP_OK || next == NULL)
            break;
    }
    if (rc == VP_OK && page == AWS_LIST_PAGES)
        rc = h->fail(call, VP_ELIMIT, "aws: ListSecrets: more than %d pages (narrow the prefix)",
                     AWS_LIST_PAGES);
    h->log(in->hc, VP_LOG_DEBUG, "ListSecrets '%s' (region %s): %d page(s)", prefix, region,
           page + 1);
    h->free(next);
    h->free(url);
    aws_creds_clear(h, in->hc, &c);
    return rc;
}
