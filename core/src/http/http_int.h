/*
 * http_int - the pieces the http modules share and nothing else includes: the response object,
 * the state of one transfer that libcurl's callbacks fill (xfer), the displayable view of a
 * request URL, and the functions each module offers the others. http.c owns the vp__http object
 * and the transfer engine, http_request.c turns a vp_http_request into URL and header list,
 * http_response.c receives the response and maps a failed transfer to an error.
 */
#ifndef VP_HTTP_INT_H
#define VP_HTTP_INT_H

#include <stddef.h>

#include <curl/curl.h>

#include "http.h"

#define HTTP_MAX_HEADER_BYTES ((size_t)64 * 1024) /* all header lines of one response */
#define HTTP_MAX_REDIRS       5L
#define HTTP_DISPLAY_MAX      512 /* "scheme://host:port/path" as shown in messages */
#define HTTP_HOST_MAX         256

typedef struct http_hdr {
    const char *name;
    const char *value;
} http_hdr;

struct vp_http_response {
    long status;
    char *body; /* secure memory, NUL-terminated */
    size_t body_len;
    char *hdr_raw;     /* secure memory: header lines of the final response, split in place */
    http_hdr *headers; /* pointers into hdr_raw */
    size_t n_headers;
};

typedef enum abort_reason {
    ABORT_NONE = 0,
    ABORT_CANCEL,   /* call canceled or deadline passed */
    ABORT_BODY_CAP, /* body larger than the cap */
    ABORT_HDR_CAP,  /* headers larger than HTTP_MAX_HEADER_BYTES */
    ABORT_NOMEM
} abort_reason;

/* State of one transfer, shared with the libcurl callbacks. */
typedef struct xfer {
    CURL *easy;
    vp_call *call;
    size_t max_body;
    char *body; /* secure */
    size_t body_len, body_cap;
    char *hdr; /* secure */
    size_t hdr_len, hdr_cap;
    int length_checked; /* Content-Length compared with the cap for the current response */
    abort_reason abort;
} xfer;

/* Parsed URL pieces that may be shown: never userinfo, query or fragment. */
typedef struct url_view {
    CURLU *u;
    char display[HTTP_DISPLAY_MAX]; /* scheme://host[:port]/path */
    char host[HTTP_HOST_MAX];
    int https;
} url_view;

/* ---- http_request.c ---- */

/* s is a non-empty RFC 9110 token of at most max characters. */
int vp__http_is_token(const char *s, size_t max);
/* Parse and check url (http/https with a host) into v. v->u needs curl_url_cleanup even when
 * this fails. Errors are attached to call. */
int vp__http_url_prepare(vp_call *call, const char *method, const char *url, url_view *v);
/* Build the request header list. Secret values are formatted in secure memory; curl keeps its
 * own (plain heap) copies in the slist, which it frees without wiping: unavoidable with
 * curl_slist_append. */
int vp__http_build_headers(vp_call *call, const char *method, const vp_http_request *req,
                           struct curl_slist **out);

/* ---- http_response.c ---- */

/* libcurl callbacks; ud is the transfer's xfer. */
size_t vp__http_on_body(char *data, size_t size, size_t nmemb, void *ud);
size_t vp__http_on_header(char *data, size_t size, size_t nmemb, void *ud);
int vp__http_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow);
/* Split the raw header block (status line, "Name: value" lines, blank line, maybe trailers)
 * in place into the response's header index. */
int vp__http_parse_headers(vp_http_response *r);
/* Attach the error of a failed transfer (cc, or x->abort) to call and return its status. */
int vp__http_fail_curl(vp_call *call, const char *method, const url_view *v, const xfer *x,
                       CURLcode cc, const char *errbuf, long timeout_ms, const char *ca_file,
                       const char *ca_path, int follow);

#endif
