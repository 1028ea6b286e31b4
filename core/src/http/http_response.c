/*
 * http_response - the receiving side of a transfer: libcurl's body, header and progress
 * callbacks fill the transfer's secure buffers within the response caps (an announced oversize
 * body is refused before any of it is read) and watch the call's cancellation; the header block
 * of the final response is split into the response's header index; the vp__http_* accessors read
 * a response; and a failed transfer is mapped to a vaultplug status with a message that names
 * the cause and the fix but never a secret (no URL query, no header value).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "call.h"
#include "http_int.h"
#include "secmem.h"
#include "vaultplug/common.h"

/* Grow a secure buffer to hold at least need bytes, doubling, never beyond limit. */
static int sec_grow(char **buf, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n = n > SIZE_MAX / 2 ? SIZE_MAX : n * 2;
    if (n > limit)
        n = limit;
    if (n < need)
        return -1;
    char *p = vp__secmem_realloc(*buf, n);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * libcurl callbacks
 * ------------------------------------------------------------------------------------------- */

size_t vp__http_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (!x->length_checked) {
        /* Refuse an announced oversize body before reading any of it. */
        curl_off_t cl = -1;
        x->length_checked = 1;
        if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
            cl > 0 && (uint64_t)cl > (uint64_t)x->max_body) {
            x->abort = ABORT_BODY_CAP;
            return 0;
        }
        /* Size the buffer once when the length is announced (no doubling copies). */
        if (cl > 0 && sec_grow(&x->body, &x->body_cap, (size_t)cl + 1, x->max_body + 1) != 0) {
            x->abort = ABORT_NOMEM;
            return 0;
        }
    }
    if (len > x->max_body - x->body_len) {
        x->abort = ABORT_BODY_CAP;
        return 0;
    }
    if (sec_grow(&x->body, &x->body_cap, x->body_len + len + 1, x->max_body + 1) != 0) {
        x->abort = ABORT_NOMEM;
        return 0;
    }
    memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
    x->body[x->body_len] = '\0';
    return len;
}

size_t vp__http_on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new status line: 1xx, a redirect hop or the final response. Keep only the last. */
        if (x->hdr != NULL)
            sodium_memzero(x->hdr, x->hdr_len);
        x->hdr_len = 0;
        x->length_checked = 0;
    }
    if (len > HTTP_MAX_HEADER_BYTES - x->hdr_len) {
        x->abort = ABORT_HDR_CAP;
        return 0;
    }
    if (sec_grow(&x->hdr, &x->hdr_cap, x->hdr_len + len + 1, HTTP_MAX_HEADER_BYTES + 1) != 0) {
        x->abort = ABORT_NOMEM;
        return 0;
    }
    memcpy(x->hdr + x->hdr_len, data, len);
    x->hdr_len += len;
    x->hdr[x->hdr_len] = '\0';
    return len;
}

int vp__http_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    xfer *x = ud;
    if (vp__call_canceled(x->call)) {
        x->abort = ABORT_CANCEL;
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * response
 * ------------------------------------------------------------------------------------------- */

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    *end = '\0';
    return s;
}

/* Split the raw header block (status line, "Name: value" lines, blank line, maybe trailers)
 * in place into the response's header index. */
int vp__http_parse_headers(vp_http_response *r)
{
    char *p = r->hdr_raw;
    if (p == NULL)
        return VP_OK;
    size_t len = strlen(p);
    /* obs-fold: a line starting with SP/HT continues the previous one; turn the line break in
     * front of it into spaces so the value stays contiguous. */
    for (size_t i = 1; i < len; i++) {
        if (p[i - 1] == '\n' && (p[i] == ' ' || p[i] == '\t') && i >= 2) {
            p[i - 1] = ' ';
            if (p[i - 2] == '\r')
                p[i - 2] = ' ';
        }
    }
    size_t max = 0;
    for (size_t i = 0; i < len; i++)
        max += p[i] == '\n';
    r->headers = calloc(max + 1, sizeof(*r->headers));
    if (r->headers == NULL)
        return VP_ENOMEM;
    char *end = p + len;
    int first = 1;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (!first) {
            char *colon = memchr(p, ':', (size_t)(line_end - p));
            if (colon != NULL && colon > p) {
                char *name = trim(p, colon);
                char *value = trim(colon + 1, line_end);
                if (name[0] != '\0' && r->n_headers < max + 1) {
                    r->headers[r->n_headers].name = name;
                    r->headers[r->n_headers].value = value;
                    r->n_headers++;
                }
            }
        }
        first = 0;
        p = next;
    }
    return VP_OK;
}

long vp__http_status(const vp_http_response *r)
{
    return r ? r->status : 0;
}

const char *vp__http_header(const vp_http_response *r, const char *name)
{
    if (r == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

const char *vp__http_body(const vp_http_response *r, size_t *len)
{
    if (r == NULL) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = r->body_len;
    return r->body;
}

void vp__http_response_free(vp_http_response *r)
{
    if (r == NULL)
        return;
    vp__secmem_free(r->body);
    vp__secmem_free(r->hdr_raw);
    free(r->headers);
    free(r);
}

/* ---------------------------------------------------------------------------------------------
 * error mapping
 * ------------------------------------------------------------------------------------------- */

int vp__http_fail_curl(vp_call *call, const char *method, const url_view *v, const xfer *x,
                       CURLcode cc, const char *errbuf, long timeout_ms, const char *ca_file,
                       const char *ca_path, int follow)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    const char *m = method;
    const char *u = v->display;
    switch (x->abort) {
    case ABORT_CANCEL:
        if (call && atomic_load(&call->canceled))
            return vp__call_fail(call, VP_ECANCELED, "%s %s: canceled", m, u);
        return vp__call_fail(call, VP_ETIMEDOUT, "%s %s: deadline passed after %ld ms", m, u,
                             timeout_ms);
    case ABORT_BODY_CAP:
        return vp__call_fail(call, VP_EPROTO, "%s %s: response body larger than %zu bytes", m, u,
                             x->max_body);
    case ABORT_HDR_CAP:
        return vp__call_fail(call, VP_EPROTO, "%s %s: response headers larger than %zu bytes", m, u,
                             HTTP_MAX_HEADER_BYTES);
    case ABORT_NOMEM:
        return vp__call_fail(call, VP_ENOMEM, "%s %s: out of memory for the response", m, u);
    case ABORT_NONE:
        break;
    }
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return vp__call_fail(call, VP_ETIMEDOUT, "%s %s: timed out after %ld ms (%s)", m, u,
                             timeout_ms, why);
    case CURLE_ABORTED_BY_CALLBACK:
        return vp__call_fail(call, VP_ECANCELED, "%s %s: canceled", m, u);
    case CURLE_OUT_OF_MEMORY:
        return vp__call_fail(call, VP_ENOMEM, "%s %s: out of memory", m, u);
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* The URL was checked up front, so only a redirect can lead here: the server's doing. */
        if (follow)
            return vp__call_fail(call, VP_EPROTO,
                                 "%s %s: refused a redirect to a URL that is not http(s) (%s)", m,
                                 u, why);
        return vp__call_fail(call, VP_EINVAL, "%s %s: unsupported URL (%s)", m, u, why);
    case CURLE_URL_MALFORMAT:
        return vp__call_fail(call, VP_EINVAL, "%s %s: invalid URL (%s)", m, u, why);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return vp__call_fail(call, VP_ENETWORK,
                             "%s %s: the TLS certificate of %s was not trusted (%s). If the "
                             "server uses a private or corporate CA, set the CA bundle option "
                             "(ca_file / ca_path) to a PEM file containing that CA",
                             m, u, v->host, why);
    case CURLE_SSL_CACERT_BADFILE:
        if (ca_file || ca_path)
            return vp__call_fail(call, VP_EINVAL,
                                 "%s %s: could not load the CA bundle %s (%s); check the CA "
                                 "bundle option",
                                 m, u, ca_file ? ca_file : ca_path, why);
        return vp__call_fail(call, VP_ENETWORK,
                             "%s %s: could not load the system CA store (%s); install "
                             "ca-certificates or set the CA bundle option",
                             m, u, why);
    case CURLE_TOO_MANY_REDIRECTS:
        return vp__call_fail(call, VP_EPROTO, "%s %s: more than %ld redirects", m, u,
                             HTTP_MAX_REDIRS);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return vp__call_fail(call, VP_EPROTO, "%s %s: malformed response (%s)", m, u, why);
    case CURLE_PARTIAL_FILE:
        return vp__call_fail(call, VP_ENETWORK,
                             "%s %s: connection closed before the whole response arrived (%s)", m,
                             u, why);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_PROXY:
        return vp__call_fail(call, VP_ENETWORK, "%s %s: %s", m, u, why);
    default:
        return vp__call_fail(call, VP_ENETWORK, "%s %s: transfer failed (%s)", m, u, why);
    }
}
