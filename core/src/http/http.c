/*
 * http - see http.h.
 *
 * Every request runs on an easy handle attached to the vp__http's share handle (connection
 * cache, TLS sessions, DNS), driven by a multi handle of its own so that we can look at the
 * call's cancellation flag every few milliseconds instead of once a second (curl_easy_perform's
 * internal poll interval). The (multi, easy) pairs are kept on an idle list and reused: creating
 * them per request cost a socketpair, signal handler changes and allocations on every request.
 * A pair is reset before it goes back on the list, so nothing of one request (URL, headers, body
 * pointers) survives into the next. The CA bundle is parsed once per vp__http (http_ca.h).
 * Connections are forced to HTTP/1.1: libcurl does not support sharing multiplexed (HTTP/2)
 * connections between concurrent threads through a share handle.
 *
 * fork(): a vp__http belongs to the process that created it. Its connections (and TLS state) are
 * shared with the parent after a fork, so a child must neither use nor close them: requests on an
 * inherited vp__http fail, and vp__http_free in the child leaks the libcurl state instead of
 * shutting down the parent's connections.
 *
 * This file owns the vp__http object (libcurl global init, share handle and its locks, the pool
 * of (multi, easy) pairs) and the transfer itself: vp__http_perform checks the request, applies
 * it to an easy handle and drives the transfer. Request preparation (URL, header list) is in
 * http_request.c, receiving and parsing the response and the error mapping in http_response.c.
 *
 * Nothing here logs a header value flagged secret, a request body or a response body, and
 * CURLOPT_VERBOSE is never set (it would print every header).
 */
#include "http.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "call.h"
#include "hostctx.h"
#include "http_int.h"
#include "http_ca.h"
#include "secmem.h"
#include "vaultplug/common.h"

#define HTTP_DEFAULT_TIMEOUT_MS   30000u
#define HTTP_DEFAULT_CONNECT_MS   10000u
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)1024 * 1024)
#define HTTP_MAX_REQ_HEADERS      64
#define HTTP_MAX_REQ_BODY         ((size_t)64 * 1024 * 1024)
#define HTTP_MAX_METHOD           32
#define HTTP_POLL_MS              20   /* cancellation latency bound while idle */
#define HTTP_MAX_IDLE_CONNS       128L /* connections kept in the shared cache: one per fetch */
#define HTTP_MAX_IDLE_PAIRS       128u /* (multi, easy) pairs kept for reuse: 2 fds each */

/* A reusable transfer engine: one multi handle driving one easy handle. */
typedef struct http_pair {
    struct http_pair *next;
    CURLM *multi;
    CURL *easy;
    int spoiled; /* the multi handle failed: do not reuse */
} http_pair;

struct vp__http {
    CURLSH *share;
    /* libcurl asks for one lock per kind of shared data; separate mutexes let DNS lookups and
     * TLS session reuse proceed while another thread holds the connection cache. */
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    vp__log *log;
    char *ca_file;
    char *ca_path;
    char *proxy; /* secure memory: proxy URLs may carry credentials */
    uint32_t default_timeout_ms;
    uint32_t connect_timeout_ms;
    size_t max_response;
    pthread_mutex_t idle_lock;
    http_pair *idle; /* reset pairs ready for a request */
    unsigned n_idle;
    unsigned fork_gen; /* vp__fork_generation() at creation */
    int idle_lock_ok;
    vp__http_ca *ca; /* the parsed trust store of ca_file/ca_path, shared by TLS connections */
    int ca_shared;   /* use it: not with a TLS proxy, whose SSL_CTX would get it too */
};

/* ---------------------------------------------------------------------------------------------
 * global init
 * ------------------------------------------------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = VP_EINTERNAL;
static atomic_uint g_fork_gen; /* incremented in every child of fork() */

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&g_fork_gen, 1, memory_order_relaxed);
}

static void global_init_once(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? VP_OK : VP_EINTERNAL;
    if (g_init_rc == VP_OK && pthread_atfork(NULL, NULL, on_fork_child) != 0)
        g_init_rc = VP_EINTERNAL;
}

unsigned vp__fork_generation(void)
{
    return atomic_load_explicit(&g_fork_gen, memory_order_relaxed);
}

int vp__http_global_init(void)
{
    if (pthread_once(&g_once, global_init_once) != 0)
        return VP_EINTERNAL;
    return g_init_rc;
}

/* ---------------------------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------------------------- */

static void hlog(vp__http *h, int level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void hlog(vp__http *h, int level, const char *source, const char *fmt, ...)
{
    if (h->log == NULL || !vp__log_enabled(h->log, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vp__log_vwrite(h->log, level, source ? source : "core", fmt, ap);
    va_end(ap);
}

/* Mask a secret in every redactor that may see it: ours and the one of the call's context (the
 * call's messages are redacted through it). */
static void mask_secret(vp__http *h, vp_call *call, const char *v, int on)
{
    size_t n = strlen(v);
    vp__log *logs[2] = {h->log, call && call->hc ? call->hc->log : NULL};
    for (int i = 0; i < 2; i++) {
        if (logs[i] == NULL || (i == 1 && logs[1] == logs[0]))
            continue;
        if (on)
            vp__log_mask(logs[i], v, n);
        else
            vp__log_unmask(logs[i], v, n);
    }
}

static void share_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *ud)
{
    vp__http *h = ud;
    if ((unsigned)d < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&h->locks[d]);
}

static void share_unlock(CURL *e, curl_lock_data d, void *ud)
{
    vp__http *h = ud;
    if ((unsigned)d < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&h->locks[d]);
}

/* ---------------------------------------------------------------------------------------------
 * vp__http lifetime
 * ------------------------------------------------------------------------------------------- */

/* Is the proxy (the option, else the environment libcurl reads) reached over TLS? */
static int tls_proxy(const char *proxy)
{
    static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy",
                                       "ALL_PROXY"};
    if (proxy != NULL)
        return strncasecmp(proxy, "https:", 6) == 0;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && strncasecmp(v, "https:", 6) == 0)
            return 1;
    }
    return 0;
}

int vp__http_new(const vp__http_opts *opts, vp__log *log, vp__http **out)
{
    if (out == NULL)
        return VP_EINVAL;
    *out = NULL;
    int rc = vp__http_global_init();
    if (rc != VP_OK)
        return rc;
    vp__http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return VP_ENOMEM;
    size_t nlocks = 0;
    for (; nlocks < CURL_LOCK_DATA_LAST; nlocks++) {
        if (pthread_mutex_init(&h->locks[nlocks], NULL) != 0) {
            rc = VP_EINTERNAL;
            goto fail;
        }
    }
    if (pthread_mutex_init(&h->idle_lock, NULL) != 0) {
        rc = VP_EINTERNAL;
        goto fail;
    }
    h->idle_lock_ok = 1;
    h->fork_gen = vp__fork_generation();
    h->log = log;
    h->default_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    h->connect_timeout_ms = HTTP_DEFAULT_CONNECT_MS;
    h->max_response = HTTP_DEFAULT_MAX_RESPONSE;
    if (opts != NULL) {
        if (opts->default_timeout_ms)
            h->default_timeout_ms = opts->default_timeout_ms;
        if (opts->connect_timeout_ms)
            h->connect_timeout_ms = opts->connect_timeout_ms;
        if (opts->max_response)
            h->max_response = opts->max_response;
        rc = VP_ENOMEM;
        if (opts->ca_file && (h->ca_file = strdup(opts->ca_file)) == NULL)
            goto fail;
        if (opts->ca_path && (h->ca_path = strdup(opts->ca_path)) == NULL)
            goto fail;
        if (opts->proxy && (h->proxy = vp__secmem_strdup(opts->proxy)) == NULL)
            goto fail;
    }
    rc = VP_ENOMEM;
    if ((h->ca = vp__http_ca_new(h->ca_file, h->ca_path)) == NULL)
        goto fail;
    h->ca_shared = !tls_proxy(h->proxy);
    h->share = curl_share_init();
    if (h->share == NULL)
        goto fail;
    rc = VP_EINTERNAL;
    if (curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
        goto fail;
    *out = h;
    return VP_OK;
fail:
    if (h->share)
        curl_share_cleanup(h->share);
    vp__http_ca_free(h->ca);
    if (h->idle_lock_ok)
        pthread_mutex_destroy(&h->idle_lock);
    while (nlocks > 0)
        pthread_mutex_destroy(&h->locks[--nlocks]);
    free(h->ca_file);
    free(h->ca_path);
    vp__secmem_free(h->proxy);
    free(h);
    return rc;
}

static void pair_destroy(http_pair *p)
{
    if (p->easy != NULL)
        curl_easy_cleanup(p->easy);
    if (p->multi != NULL)
        curl_multi_cleanup(p->multi);
    free(p);
}

static http_pair *pair_new(void)
{
    http_pair *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->multi = curl_multi_init();
    p->easy = curl_easy_init();
    if (p->multi == NULL || p->easy == NULL) {
        pair_destroy(p);
        return NULL;
    }
    /* libcurl trims the connection cache to this multi's limit when a transfer ends (default:
     * 4 x the handles on the multi = 4); with concurrent requests on the shared cache that would
     * close most idle connections. */
    (void)curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, HTTP_MAX_IDLE_CONNS);
    return p;
}

/* An idle pair, or a new one (NULL when out of memory). */
static http_pair *pair_get(vp__http *h)
{
    pthread_mutex_lock(&h->idle_lock);
    http_pair *p = h->idle;
    if (p != NULL) {
        h->idle = p->next;
        h->n_idle--;
    }
    pthread_mutex_unlock(&h->idle_lock);
    return p != NULL ? p : pair_new();
}

/* Back on the idle list after a request (the easy handle is no longer on the multi). */
static void pair_put(vp__http *h, http_pair *p)
{
    /* Drop every option of the request: URL, header list, body and buffer pointers. */
    curl_easy_reset(p->easy);
    pthread_mutex_lock(&h->idle_lock);
    if (!p->spoiled && h->n_idle < HTTP_MAX_IDLE_PAIRS) {
        p->next = h->idle;
        h->idle = p;
        h->n_idle++;
        p = NULL;
    }
    pthread_mutex_unlock(&h->idle_lock);
    if (p != NULL)
        pair_destroy(p);
}

void vp__http_free(vp__http *h)
{
    if (h == NULL)
        return;
    if (h->fork_gen != vp__fork_generation()) {
        /* Inherited across fork(): the connections are the parent's (closing a TLS connection
         * would send its close_notify on the parent's stream) and a lock may have been held by
         * a thread that does not exist here (the secure arena's too: h->proxy stays). Leak the
         * libcurl state; free only plain memory (malloc is fork-safe). */
        free(h->ca_file);
        free(h->ca_path);
        free(h);
        return;
    }
    /* Every request has returned its pair, so the share is idle once the pairs are gone. */
    while (h->idle != NULL) {
        http_pair *p = h->idle;
        h->idle = p->next;
        pair_destroy(p);
    }
    curl_share_cleanup(h->share);
    vp__http_ca_free(h->ca);
    pthread_mutex_destroy(&h->idle_lock);
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->locks[i]);
    free(h->ca_file);
    free(h->ca_path);
    vp__secmem_free(h->proxy);
    free(h);
}

/* ---------------------------------------------------------------------------------------------
 * easy handle configuration
 * ------------------------------------------------------------------------------------------- */

#define SETOPT(e, opt, val)                                  \
    do {                                                     \
        if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK) \
            return #opt;                                     \
    } while (0)

/* Configure the easy handle. Returns NULL, or the name of the option libcurl refused. */
static const char *configure_easy(vp__http *h, CURL *e, const vp_http_request *req, url_view *v,
                                  struct curl_slist *headers, xfer *x, char *errbuf,
                                  long timeout_ms, long connect_ms, const char *ca_file,
                                  const char *ca_path)
{
    SETOPT(e, CURLOPT_VERBOSE, 0L); /* never: it would print secret headers */
    SETOPT(e, CURLOPT_NOSIGNAL, 1L);
    SETOPT(e, CURLOPT_SHARE, h->share);
    SETOPT(e, CURLOPT_CURLU, v->u);
    SETOPT(e, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SETOPT(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SETOPT(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SETOPT(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (req->flags & VP_HTTP_FOLLOW_REDIRECTS) {
        SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
        SETOPT(e, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRS);
    } else {
        SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
    }
    if (req->flags & VP_HTTP_INSECURE_SKIP_VERIFY) {
        SETOPT(e, CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    /* A CA override replaces the whole trust store: setting only one of the two would keep
     * libcurl's compiled-in default for the other and still trust the system CAs. */
    if (ca_file != NULL || ca_path != NULL) {
        SETOPT(e, CURLOPT_CAINFO, ca_file);
        SETOPT(e, CURLOPT_CAPATH, ca_path);
    }
    /* The context's trust store, parsed once for all its TLS connections (see http_ca.h). A
     * request with a CA override of its own keeps libcurl's loading. */
    if (h->ca_shared && v->https && !(req->flags & VP_HTTP_INSECURE_SKIP_VERIFY) &&
        req->ca_file == NULL && req->ca_path == NULL)
        (void)vp__http_ca_apply(h->ca, e);
    if (h->proxy != NULL)
        SETOPT(e, CURLOPT_PROXY, h->proxy);
    SETOPT(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SETOPT(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(e, CURLOPT_USERAGENT, "vaultplug/" VP_VERSION_STRING);
    SETOPT(e, CURLOPT_HTTPHEADER, headers);
    SETOPT(e, CURLOPT_WRITEFUNCTION, vp__http_on_body);
    SETOPT(e, CURLOPT_WRITEDATA, x);
    SETOPT(e, CURLOPT_HEADERFUNCTION, vp__http_on_header);
    SETOPT(e, CURLOPT_HEADERDATA, x);
    SETOPT(e, CURLOPT_XFERINFOFUNCTION, vp__http_on_progress);
    SETOPT(e, CURLOPT_XFERINFODATA, x);
    SETOPT(e, CURLOPT_NOPROGRESS, 0L);

    const char *m = req->method;
    if (strcmp(m, "GET") == 0 && req->body_len == 0) {
        SETOPT(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        SETOPT(e, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(m, "POST") != 0)
            SETOPT(e, CURLOPT_CUSTOMREQUEST, m);
        /* POSTFIELDS with the size set: curl sends exactly body_len bytes (NULs included) and
         * does not copy them. PUT/DELETE without a body send Content-Length: 0. */
        SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(e, CURLOPT_POSTFIELDS, req->body_len ? (const char *)req->body : "");
    }
    return NULL;
}

#undef SETOPT

/* ---------------------------------------------------------------------------------------------
 * perform
 * ------------------------------------------------------------------------------------------- */

/* Drive the pair's easy handle on its multi handle, checking the call between polls. */
static CURLcode run_transfer(http_pair *p, xfer *x)
{
    CURLM *m = p->multi;
    CURL *e = p->easy;
    if (curl_multi_add_handle(m, e) != CURLM_OK) {
        p->spoiled = 1;
        return CURLE_OUT_OF_MEMORY;
    }
    CURLcode result = CURLE_OK;
    int running = 1;
    for (;;) {
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            p->spoiled = 1;
            result = CURLE_RECV_ERROR;
            break;
        }
        if (!running) {
            int q = 0;
            CURLMsg *msg;
            result = CURLE_GOT_NOTHING;
            while ((msg = curl_multi_info_read(m, &q)) != NULL) {
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == e)
                    result = msg->data.result;
            }
            break;
        }
        if (vp__call_canceled(x->call)) {
            x->abort = ABORT_CANCEL;
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_poll(m, NULL, 0, HTTP_POLL_MS, NULL) != CURLM_OK) {
            p->spoiled = 1;
            result = CURLE_RECV_ERROR;
            break;
        }
    }
    if (curl_multi_remove_handle(m, e) != CURLM_OK)
        p->spoiled = 1;
    return result;
}

/* The request's own checks, before anything is prepared: 0 or the failed status. */
static int check_request(const vp__http *h, vp_call *call, const vp_http_request *req)
{
    if (req->hdr.abi_major != VP_ABI_MAJOR ||
        req->hdr.struct_size < offsetof(vp_http_request, ca_path) + sizeof(req->ca_path))
        return vp__call_fail(call, VP_EINVAL, "http: request struct has a wrong header");
    if (req->method == NULL || !vp__http_is_token(req->method, HTTP_MAX_METHOD))
        return vp__call_fail(call, VP_EINVAL, "http: missing or invalid method");
    const char *method = req->method;
    if (req->url == NULL)
        return vp__call_fail(call, VP_EINVAL, "%s request: missing URL", method);
    if (req->body_len > 0 && req->body == NULL)
        return vp__call_fail(call, VP_EINVAL, "%s request: body_len without a body", method);
    if (req->body_len > HTTP_MAX_REQ_BODY)
        return vp__call_fail(call, VP_ELIMIT, "%s request: body larger than %zu bytes", method,
                             HTTP_MAX_REQ_BODY);
    if (h->fork_gen != vp__fork_generation())
        return vp__call_fail(call, VP_EINVAL,
                             "http: this context was created before fork() by the parent "
                             "process; create a new context in the child");
    if (req->n_headers > HTTP_MAX_REQ_HEADERS || (req->n_headers > 0 && req->headers == NULL))
        return vp__call_fail(call, VP_EINVAL, "%s request: invalid header list (at most %d)",
                             method, HTTP_MAX_REQ_HEADERS);
    return VP_OK;
}

/* Effective limit: the request's own, else the call's remaining time (left, -1 = none), else
 * the default; never beyond the call's deadline, and at least 1 ms. */
static int64_t effective_timeout(const vp__http *h, const vp_http_request *req, int64_t left)
{
    int64_t timeout = req->timeout_ms ? (int64_t)req->timeout_ms
                      : left >= 0     ? left
                                      : (int64_t)h->default_timeout_ms;
    if (left >= 0 && left < timeout)
        timeout = left;
    return timeout < 1 ? 1 : timeout;
}

/* Secret header values are registered with the redactor for the request's duration (on = 1,
 * then 0), so that anything echoing them (curl error text, a provider's message) gets
 * scrubbed. */
static void mask_secret_headers(vp__http *h, vp_call *call, const vp_http_request *req, int on)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if ((req->headers[i].flags & VP_HTTP_HDR_SECRET) && req->headers[i].value)
            mask_secret(h, call, req->headers[i].value, on);
    }
}

/* The warning for skipped verification, and at TRACE the request's headers (secret values
 * never) and body size. */
static void log_request(vp__http *h, const char *source, const vp_http_request *req,
                        const url_view *v)
{
    if (req->flags & VP_HTTP_INSECURE_SKIP_VERIFY)
        hlog(h, VP_LOG_WARN, source,
             "TLS certificate verification is DISABLED for %s (insecure skip-verify): the "
             "connection can be intercepted",
             v->host);
    if (h->log == NULL || !vp__log_enabled(h->log, VP_LOG_TRACE))
        return;
    for (size_t i = 0; i < req->n_headers; i++) {
        const vp_http_header *hd = &req->headers[i];
        if (hd->flags & VP_HTTP_HDR_SECRET)
            hlog(h, VP_LOG_TRACE, source, "> %s: " VP__REDACTED, hd->name);
        else
            hlog(h, VP_LOG_TRACE, source, "> %s: %s", hd->name, hd->value);
    }
    if (req->body_len)
        hlog(h, VP_LOG_TRACE, source, "> body: %zu B%s", req->body_len,
             (req->flags & VP_HTTP_BODY_SECRET) ? " (secret)" : "");
}

/* The response of a finished transfer: takes x's body and headers. */
static int make_response(vp_call *call, const char *method, const url_view *v, CURL *e, xfer *x,
                         vp_http_response **out)
{
    vp_http_response *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return vp__call_fail(call, VP_ENOMEM, "%s %s: out of memory", method, v->display);
    (void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    if (x->body == NULL) {
        x->body = vp__secmem_alloc(1); /* zeroed: "" */
        if (x->body == NULL) {
            free(r);
            return vp__call_fail(call, VP_ENOMEM, "%s %s: out of memory", method, v->display);
        }
    }
    r->body = x->body;
    r->body_len = x->body_len;
    r->hdr_raw = x->hdr;
    x->body = NULL;
    x->hdr = NULL;
    if (vp__http_parse_headers(r) != VP_OK) {
        vp__http_response_free(r);
        return vp__call_fail(call, VP_ENOMEM, "%s %s: out of memory", method, v->display);
    }
    *out = r;
    return VP_OK;
}

int vp__http_perform(vp__http *h, const char *source, vp_call *call, const vp_http_request *req,
                     vp_http_response **resp)
{
    if (resp != NULL)
        *resp = NULL;
    if (h == NULL || req == NULL || resp == NULL)
        return vp__call_fail(call, VP_EINVAL, "http: missing argument");
    int rc = check_request(h, call, req);
    if (rc != VP_OK)
        return rc;
    const char *method = req->method;

    url_view v;
    rc = vp__http_url_prepare(call, method, req->url, &v);
    if (rc != VP_OK) {
        curl_url_cleanup(v.u);
        return rc;
    }
    int64_t left = vp__call_remaining_ms(call);
    if (vp__call_canceled(call)) {
        curl_url_cleanup(v.u);
        if (atomic_load(&call->canceled))
            return vp__call_fail(call, VP_ECANCELED, "%s %s: canceled before it was sent", method,
                                 v.display);
        return vp__call_fail(call, VP_ETIMEDOUT, "%s %s: deadline passed before it was sent",
                             method, v.display);
    }
    int64_t timeout = effective_timeout(h, req, left);
    int64_t connect = h->connect_timeout_ms < timeout ? h->connect_timeout_ms : timeout;
    const char *ca_file = h->ca_file, *ca_path = h->ca_path;
    if (req->ca_file != NULL || req->ca_path != NULL) {
        ca_file = req->ca_file;
        ca_path = req->ca_path;
    }
    mask_secret_headers(h, call, req, 1);

    struct curl_slist *headers = NULL;
    http_pair *pair = NULL;
    xfer x;
    memset(&x, 0, sizeof(x));
    x.call = call;
    x.max_body = req->max_response ? req->max_response : h->max_response;
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    int64_t t0 = vp__host_monotonic_ms(call ? call->hc : NULL);

    rc = vp__http_build_headers(call, method, req, &headers);
    if (rc != VP_OK)
        goto done;
    pair = pair_get(h);
    if (pair == NULL) {
        rc = vp__call_fail(call, VP_ENOMEM, "%s %s: out of memory", method, v.display);
        goto done;
    }
    CURL *e = pair->easy;
    x.easy = e;
    const char *bad = configure_easy(h, e, req, &v, headers, &x, errbuf, (long)timeout,
                                     (long)connect, ca_file, ca_path);
    if (bad != NULL) {
        rc = vp__call_fail(call, VP_EINTERNAL, "%s %s: libcurl refused option %s", method,
                           v.display, bad);
        goto done;
    }
    log_request(h, source, req, &v);

    CURLcode cc = run_transfer(pair, &x);
    int64_t ms = vp__host_monotonic_ms(call ? call->hc : NULL) - t0;
    if (cc != CURLE_OK || x.abort != ABORT_NONE) {
        rc = vp__http_fail_curl(call, method, &v, &x, cc, errbuf, (long)timeout, ca_file, ca_path,
                                (req->flags & VP_HTTP_FOLLOW_REDIRECTS) != 0);
        hlog(h, VP_LOG_DEBUG, source, "%s %s -> error %s (%lld ms)", method, v.display,
             call ? call->message : "", (long long)ms);
        goto done;
    }
    rc = make_response(call, method, &v, e, &x, resp);
    if (rc != VP_OK)
        goto done;
    long connects = 0;
    (void)curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    hlog(h, VP_LOG_DEBUG, source, "%s %s -> %ld (%lld ms, %zu B)", method, v.display,
         (*resp)->status, (long long)ms, (*resp)->body_len);
    hlog(h, VP_LOG_TRACE, source, "< %zu headers, %s connection", (*resp)->n_headers,
         connects ? "new" : "reused");

done:
    if (pair != NULL)
        pair_put(h, pair);
    curl_slist_free_all(headers);
    curl_url_cleanup(v.u);
    vp__secmem_free(x.body);
    vp__secmem_free(x.hdr);
    sodium_memzero(errbuf, sizeof(errbuf));
    mask_secret_headers(h, call, req, 0);
    return rc;
}
