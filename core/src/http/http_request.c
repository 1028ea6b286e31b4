/*
 * http_request - request preparation for vp__http_perform: parses and checks the request URL
 * (http and https only, with a host) into the view shown in messages (never userinfo, query or
 * fragment), and builds libcurl's header list from the request's headers, formatting secret
 * values in secure memory. Method, body and timeouts are applied to the easy handle by http.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "call.h"
#include "http_int.h"
#include "secmem.h"
#include "vaultplug/common.h"

#define HTTP_MAX_HEADER_LINE ((size_t)16 * 1024) /* one "Name: value" request header */
#define HTTP_MAX_URL         ((size_t)16 * 1024)

static int is_tchar(unsigned char c)
{
    /* RFC 9110 token characters */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int vp__http_is_token(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= max || !is_tchar((unsigned char)s[n]))
            return 0;
    }
    return n > 0;
}

/* Copy src into dst (capacity cap >= 4), ending in "..." when it had to be cut. */
static void copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    memcpy(dst, src, cap - 4);
    memcpy(dst + cap - 4, "...", 4);
}

int vp__http_url_prepare(vp_call *call, const char *method, const char *url, url_view *v)
{
    memset(v, 0, sizeof(*v));
    size_t n = strnlen(url, HTTP_MAX_URL + 1);
    if (n > HTTP_MAX_URL)
        return vp__call_fail(call, VP_EINVAL, "%s request: URL longer than %zu bytes", method,
                             HTTP_MAX_URL);
    v->u = curl_url();
    if (v->u == NULL)
        return vp__call_fail(call, VP_ENOMEM, "%s request: out of memory", method);
    CURLUcode uc = curl_url_set(v->u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        /* The URL itself is not repeated: its query string may hold a secret. */
        return vp__call_fail(call, VP_EINVAL, "%s request: invalid URL (%s)", method,
                             curl_url_strerror(uc));
    }
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = VP_OK;
    if (curl_url_get(v->u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL) {
        rc = vp__call_fail(call, VP_EINVAL, "%s request: URL without a scheme", method);
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        char shown[32];
        copy_trunc(shown, sizeof(shown), scheme);
        rc = vp__call_fail(call, VP_EINVAL,
                           "%s request: only http:// and https:// URLs are allowed, not %s://",
                           method, shown);
        goto out;
    }
    v->https = strcasecmp(scheme, "https") == 0;
    if (curl_url_get(v->u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL ||
        host[0] == '\0') {
        rc = vp__call_fail(call, VP_EINVAL, "%s request: URL without a host", method);
        goto out;
    }
    (void)curl_url_get(v->u, CURLUPART_PORT, &port, 0); /* only when given explicitly */
    (void)curl_url_get(v->u, CURLUPART_PATH, &path, 0);
    copy_trunc(v->host, sizeof(v->host), host);
    char full[HTTP_DISPLAY_MAX * 2];
    snprintf(full, sizeof(full), "%s://%s%s%s%s", v->https ? "https" : "http", host,
             port ? ":" : "", port ? port : "", path ? path : "/");
    copy_trunc(v->display, sizeof(v->display), full);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    return rc;
}

/* Build the request header list. Secret values are formatted in secure memory; curl keeps its
 * own (plain heap) copies in the slist, which it frees without wiping: unavoidable with
 * curl_slist_append. */
int vp__http_build_headers(vp_call *call, const char *method, const vp_http_request *req,
                           struct curl_slist **out)
{
    struct curl_slist *list = NULL, *tmp;
    *out = NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        const vp_http_header *hd = &req->headers[i];
        if (hd->name == NULL || hd->value == NULL || !vp__http_is_token(hd->name, 128)) {
            curl_slist_free_all(list);
            return vp__call_fail(call, VP_EINVAL, "%s request: header #%zu has an invalid name",
                                 method, i + 1);
        }
        size_t nl = strlen(hd->name), vl = strnlen(hd->value, HTTP_MAX_HEADER_LINE);
        if (nl + vl + 3 > HTTP_MAX_HEADER_LINE || strpbrk(hd->value, "\r\n") != NULL) {
            curl_slist_free_all(list);
            return vp__call_fail(call, VP_EINVAL,
                                 "%s request: value of header %s is too long or contains a "
                                 "line break",
                                 method, hd->name);
        }
        char *line = vp__secmem_alloc(nl + vl + 3);
        if (line == NULL) {
            curl_slist_free_all(list);
            return vp__call_fail(call, VP_ENOMEM, "%s request: out of memory", method);
        }
        /* "Name;" is curl's spelling of a header with an empty value ("Name:" removes it). */
        if (vl == 0)
            snprintf(line, nl + 2, "%s;", hd->name);
        else
            snprintf(line, nl + vl + 3, "%s: %s", hd->name, hd->value);
        tmp = curl_slist_append(list, line);
        vp__secmem_free(line); /* wipes */
        if (tmp == NULL) {
            curl_slist_free_all(list);
            return vp__call_fail(call, VP_ENOMEM, "%s request: out of memory", method);
        }
        list = tmp;
    }
    /* No "Expect: 100-continue" round trip for larger bodies. */
    tmp = curl_slist_append(list, "Expect:");
    if (tmp == NULL) {
        curl_slist_free_all(list);
        return vp__call_fail(call, VP_ENOMEM, "%s request: out of memory", method);
    }
    *out = tmp;
    return VP_OK;
}
