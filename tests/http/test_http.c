/*
 * test_http - vp__http_perform against the mock cloud server (plain HTTP and HTTPS with a test
 * CA generated at run time): round trips, headers, TLS trust, limits, deadlines, cancellation,
 * faults, secret handling in logs and messages, redirects, concurrency, refused schemes.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "call.h"
#include "host.h"
#include "http.h"
#include "log.h"
#include "mockcloud.h"
#include "secmem.h"

/* ---------------------------------------------------------------------------------------------
 * log capture
 * ------------------------------------------------------------------------------------------- */

#define CAP_MAX 8192

typedef struct capture {
    pthread_mutex_t mu;
    char *lines[CAP_MAX];
    int levels[CAP_MAX];
    size_t n;
} capture;

static capture g_cap = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void capture_fn(void *ud, int level, const char *source, const char *message)
{
    capture *c = ud;
    pthread_mutex_lock(&c->mu);
    if (c->n < CAP_MAX) {
        size_t len = strlen(source) + strlen(message) + 4;
        char *s = malloc(len);
        if (s != NULL) {
            snprintf(s, len, "%s: %s", source, message);
            c->levels[c->n] = level;
            c->lines[c->n++] = s;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

static void capture_clear(capture *c)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        free(c->lines[i]);
    c->n = 0;
    pthread_mutex_unlock(&c->mu);
}

/* Number of captured lines at `level` (-1 = any) containing needle. */
static size_t capture_count(capture *c, int level, const char *needle)
{
    size_t hits = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++) {
        if ((level < 0 || c->levels[i] == level) && strstr(c->lines[i], needle) != NULL)
            hits++;
    }
    pthread_mutex_unlock(&c->mu);
    return hits;
}

static void capture_dump(capture *c)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        printf("  log[%d] %s\n", c->levels[i], c->lines[i]);
    pthread_mutex_unlock(&c->mu);
}

/* ---------------------------------------------------------------------------------------------
 * fixture
 * ------------------------------------------------------------------------------------------- */

static mc_server *g_srv;     /* plain HTTP */
static mc_server *g_tls;     /* HTTPS (NULL when MHD lacks TLS) */
static char g_other_ca[512]; /* an unrelated CA */
static vp__log *g_log;
static vp__http *g_http; /* no CA override, proxies off */
static struct vp_host_ctx g_hc;
static int g_echo_route;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Echo: method and X-Test in headers, request body as body. */
static void h_echo(void *ud, const mc_request *req, mc_response *resp)
{
    resp->status = 200;
    mc_resp_header(resp, "X-Echo-Method", req->method);
    const char *t = mc_req_header(req, "X-Test");
    if (t != NULL)
        mc_resp_header(resp, "X-Echo-Test", t);
    if (mc_req_header(req, "X-Empty") != NULL)
        mc_resp_header(resp, "X-Echo-Empty", "present");
    const char *ua = mc_req_header(req, "User-Agent");
    mc_resp_header(resp, "X-Echo-UA", ua ? ua : "");
    const char *ct = mc_req_header(req, "Content-Type");
    mc_resp_header(resp, "Content-Type", ct ? ct : "application/octet-stream");
    mc_resp_body(resp, req->body, req->body_len);
}

/* /status/NNN */
static void h_status(void *ud, const mc_request *req, mc_response *resp)
{
    int st = atoi(req->path + strlen("/status/"));
    resp->status = st >= 100 && st <= 599 ? st : 400;
    mc_resp_header(resp, "X-Status", req->path + strlen("/status/"));
    mc_resp_bodyf(resp, "status %d", resp->status);
}

/* /bytes/N: N bytes of 'a' with a Content-Length. */
static void h_bytes(void *ud, const mc_request *req, mc_response *resp)
{
    size_t n = strtoul(req->path + strlen("/bytes/"), NULL, 10);
    char *b = malloc(n + 1);
    memset(b, 'a', n);
    mc_resp_body(resp, b, n);
    free(b);
}

static void h_headers(void *ud, const mc_request *req, mc_response *resp)
{
    mc_resp_header(resp, "X-Padded", "  padded value \t ");
    mc_resp_header(resp, "x-lower", "v1");
    mc_resp_header(resp, "X-Dup", "first");
    mc_resp_header(resp, "X-Dup", "second");
    mc_resp_bodyf(resp, "ok");
}

/* 30 headers of 2300 bytes: over the 64 KiB header cap. */
static void h_bighdr(void *ud, const mc_request *req, mc_response *resp)
{
    char v[2301];
    memset(v, 'h', 2300);
    v[2300] = '\0';
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof(name), "X-Big-%d", i);
        mc_resp_header(resp, name, v);
    }
}

static void h_redir(void *ud, const mc_request *req, mc_response *resp)
{
    resp->status = 302;
    mc_resp_header(resp, "Location", (const char *)ud);
    mc_resp_bodyf(resp, "moved");
}

static void h_redir_loop(void *ud, const mc_request *req, mc_response *resp)
{
    resp->status = 302;
    mc_resp_header(resp, "Location", "/loop");
}

static int group_setup(void **state)
{
    assert_int_equal(vp__secmem_init(), 0);
    assert_int_equal(vp__http_global_init(), 0);
    static const char *const log_headers[] = {"User-Agent", "Authorization", "X-Test", NULL};
    mc_options o = {.log_headers = log_headers};
    g_srv = mc_start(&o);
    assert_non_null(g_srv);
    if (mc_tls_supported()) {
        mc_options t = {.tls = 1};
        g_tls = mc_start(&t);
        assert_non_null(g_tls);
        assert_non_null(mc_ca_file(g_tls));
    } else {
        printf("libmicrohttpd has no TLS support: HTTPS tests will be skipped\n");
    }
    assert_int_equal(mc_tls_unrelated_ca_file(g_other_ca, sizeof(g_other_ca)), 0);
    mc_server *all[] = {g_srv, g_tls};
    for (int i = 0; i < 2; i++) {
        if (all[i] == NULL)
            continue;
        int id = mc_route(all[i], NULL, "/echo", h_echo, NULL);
        assert_true(id >= 0);
        if (i == 0)
            g_echo_route = id;
        assert_true(mc_route(all[i], "GET", "/status/", h_status, NULL) >= 0);
        assert_true(mc_route(all[i], "GET", "/bytes/", h_bytes, NULL) >= 0);
        assert_true(mc_route(all[i], "GET", "/headers", h_headers, NULL) >= 0);
        assert_true(mc_route(all[i], "GET", "/bighdr", h_bighdr, NULL) >= 0);
        assert_true(mc_route(all[i], NULL, "/redir-file", h_redir, "file:///etc/passwd") >= 0);
        assert_true(mc_route(all[i], NULL, "/redir", h_redir, "/echo") >= 0);
        assert_true(mc_route(all[i], NULL, "/loop", h_redir_loop, NULL) >= 0);
    }
    assert_int_equal(vp__log_new(capture_fn, &g_cap, VP_LEVEL_TRACE, &g_log), 0);
    /* proxy "" = no proxy even if the environment names one (we only talk to loopback) */
    vp__http_opts ho = {.proxy = ""};
    assert_int_equal(vp__http_new(&ho, g_log, &g_http), 0);
    memset(&g_hc, 0, sizeof(g_hc));
    g_hc.source = "test";
    g_hc.log = g_log;
    g_hc.http = g_http;
    return 0;
}

static int group_teardown(void **state)
{
    vp__http_free(g_http);
    mc_stop(g_srv);
    mc_stop(g_tls);
    mc_tls_remove_ca_file(g_other_ca);
    vp__log_free(g_log);
    capture_clear(&g_cap);
    return 0;
}

static int test_setup(void **state)
{
    capture_clear(&g_cap);
    mc_fault_clear(g_srv);
    if (g_tls)
        mc_fault_clear(g_tls);
    return 0;
}

static void req_init(vp_http_request *r, const char *method, const char *url)
{
    static const vp_abi_hdr hdr = VP_ABI_HDR(vp_http_request);
    memset(r, 0, sizeof(*r));
    r->hdr = hdr;
    r->method = method;
    r->url = url;
}

static char *url_of(const mc_server *s, const char *path)
{
    static _Thread_local char buf[4][600];
    static _Thread_local int k;
    char *u = buf[k++ % 4];
    snprintf(u, sizeof(buf[0]), "%s%s", mc_url(s), path);
    return u;
}

/* ---------------------------------------------------------------------------------------------
 * round trips and headers
 * ------------------------------------------------------------------------------------------- */

static void test_get_post_roundtrip(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    uint64_t before = mc_route_count(g_srv, g_echo_route);

    vp_http_header hs[] = {{"X-Test", "hello world", 0}, {"X-Empty", "", 0}};
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    req.headers = hs;
    req.n_headers = 2;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 200);
    assert_string_equal(vp__http_header(r, "X-Echo-Method"), "GET");
    assert_string_equal(vp__http_header(r, "X-Echo-Test"), "hello world");
    assert_string_equal(vp__http_header(r, "X-Echo-Empty"), "present");
    assert_string_equal(vp__http_header(r, "X-Echo-UA"), "vaultplug/" VP_VERSION_STRING);
    size_t len = 99;
    const char *body = vp__http_body(r, &len);
    assert_non_null(body);
    assert_int_equal(len, 0);
    assert_string_equal(body, "");
    vp__http_response_free(r);

    /* POST with a body holding a NUL byte: sent and received byte for byte. */
    static const char payload[] = "{\"a\":1}\0tail";
    vp_http_header ct[] = {{"Content-Type", "application/json", 0}};
    req_init(&req, "POST", url_of(g_srv, "/echo?x=1"));
    req.headers = ct;
    req.n_headers = 1;
    req.body = payload;
    req.body_len = sizeof(payload) - 1;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 200);
    assert_string_equal(vp__http_header(r, "x-echo-method"), "POST");
    assert_string_equal(vp__http_header(r, "CONTENT-TYPE"), "application/json");
    body = vp__http_body(r, &len);
    assert_int_equal(len, sizeof(payload) - 1);
    assert_memory_equal(body, payload, len);
    assert_int_equal(body[len], '\0');
    assert_true(vp__secmem_owns(body));
    vp__http_response_free(r);

    /* PUT, DELETE and HEAD */
    const char *methods[] = {"PUT", "DELETE", "PATCH"};
    for (int i = 0; i < 3; i++) {
        req_init(&req, methods[i], url_of(g_srv, "/echo"));
        assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
        assert_string_equal(vp__http_header(r, "X-Echo-Method"), methods[i]);
        vp__http_response_free(r);
    }
    req_init(&req, "HEAD", url_of(g_srv, "/bytes/10"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 200);
    vp__http_body(r, &len);
    assert_int_equal(len, 0);
    vp__http_response_free(r);

    assert_int_equal(mc_route_count(g_srv, g_echo_route) - before, 5);
    /* the server saw our User-Agent */
    size_t n = mc_log_count(g_srv);
    assert_true(n > 0);
    mc_log_entry e;
    assert_int_equal(mc_log_get(g_srv, n - 1, &e), 0);
    assert_string_equal(e.method, "HEAD");
    assert_string_equal(mc_log_header(&e, "user-agent"), "vaultplug/" VP_VERSION_STRING);
    /* one DEBUG line per request, without the query string */
    assert_true(capture_count(&g_cap, VP_LEVEL_DEBUG, "POST http://127.0.0.1:") == 1);
    assert_true(capture_count(&g_cap, VP_LEVEL_DEBUG, "/echo -> 200 (") >= 5);
    assert_int_equal(capture_count(&g_cap, -1, "x=1"), 0);
}

static void test_status_and_headers(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    int codes[] = {201, 204, 400, 401, 403, 404, 418, 429, 500, 503};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char path[32];
        snprintf(path, sizeof(path), "/status/%d", codes[i]);
        req_init(&req, "GET", url_of(g_srv, path));
        assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
        assert_int_equal(vp__http_status(r), codes[i]);
        assert_int_equal(atoi(vp__http_header(r, "x-status")), codes[i]);
        vp__http_response_free(r);
    }
    /* default route: 404 with an HTML body */
    req_init(&req, "GET", url_of(g_srv, "/no/such/thing"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 404);
    assert_non_null(strstr(vp__http_header(r, "content-type"), "text/html"));
    assert_non_null(strstr(vp__http_body(r, NULL), "<html>"));
    vp__http_response_free(r);

    req_init(&req, "GET", url_of(g_srv, "/headers"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_string_equal(vp__http_header(r, "x-padded"), "padded value");
    assert_string_equal(vp__http_header(r, "X-LOWER"), "v1");
    assert_string_equal(vp__http_header(r, "x-dup"), "first");
    assert_null(vp__http_header(r, "X-Missing"));
    assert_null(vp__http_header(r, "HTTP/1.1 200 OK"));
    assert_null(vp__http_header(NULL, "x"));
    assert_int_equal(vp__http_status(NULL), 0);
    vp__http_response_free(r);
    vp__http_response_free(NULL);

    /* headers over 64 KiB */
    req_init(&req, "GET", url_of(g_srv, "/bighdr"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EPROTO);
    assert_null(r);
    assert_non_null(strstr(call.message, "headers larger than"));

    /* a garbage body is still a successful transfer: judging it is the provider's job */
    mc_fault g = {.kind = MC_FAULT_GARBAGE, .count = 1};
    assert_int_equal(mc_fault_add(g_srv, &g), 0);
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 200);
    assert_non_null(strstr(vp__http_body(r, NULL), "not \"json\""));
    vp__http_response_free(r);

    /* 429 with Retry-After */
    mc_fault f = {.kind = MC_FAULT_STATUS, .status = 429, .retry_after_s = 7, .count = 1};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 429);
    assert_string_equal(vp__http_header(r, "retry-after"), "7");
    vp__http_response_free(r);
    /* the fault was limited to one request */
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 200);
    vp__http_response_free(r);
}

/* ---------------------------------------------------------------------------------------------
 * TLS
 * ------------------------------------------------------------------------------------------- */

static vp__http *http_with(const char *ca_file)
{
    vp__http *h = NULL;
    vp__http_opts o = {.proxy = "", .ca_file = ca_file};
    assert_int_equal(vp__http_new(&o, g_log, &h), 0);
    return h;
}

static void test_tls_unknown_ca(void **state)
{
    if (g_tls == NULL)
        skip();
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    req_init(&req, "GET", url_of(g_tls, "/echo?q=1"));
    /* system store: our test CA is not in it */
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ENETWORK);
    assert_null(r);
    printf("  message: %s\n", call.message);
    assert_non_null(strstr(call.message, "not trusted"));
    assert_non_null(strstr(call.message, "CA bundle"));
    assert_non_null(strstr(call.message, "GET https://127.0.0.1:"));
    assert_null(strstr(call.message, "q=1"));

    /* an unrelated CA as the whole trust store */
    vp__http *h = http_with(g_other_ca);
    vp__call_init(&call, &g_hc, 10000);
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), VP_ENETWORK);
    assert_non_null(strstr(call.message, "not trusted"));
    vp__http_free(h);

    /* a CA file that does not exist */
    req.ca_file = "/nonexistent/ca.pem";
    vp__call_init(&call, &g_hc, 10000);
    int rc = vp__http_perform(g_http, "test", &call, &req, &r);
    printf("  missing CA file: %d %s\n", rc, call.message);
    assert_true(rc == VP_EINVAL || rc == VP_ENETWORK);
    assert_null(r);
}

static void test_tls_ca_override(void **state)
{
    if (g_tls == NULL)
        skip();
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    req_init(&req, "GET", url_of(g_tls, "/echo"));

    /* CA in the service options */
    vp__http *h = http_with(mc_ca_file(g_tls));
    uint64_t conns = mc_connections(g_tls);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
        assert_int_equal(vp__http_status(r), 200);
        vp__http_response_free(r);
    }
    /* the connection (and its TLS session) was reused */
    assert_true(mc_connections(g_tls) - conns <= 2);
    /* ... and a request-level CA beats it */
    req.ca_file = g_other_ca;
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), VP_ENETWORK);
    vp__http_free(h);

    /* request CA over an unrelated service CA */
    h = http_with(g_other_ca);
    req.ca_file = mc_ca_file(g_tls);
    vp__call_init(&call, &g_hc, 10000);
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 200);
    vp__http_response_free(r);
    vp__http_free(h);

    /* request CA with the plain service */
    vp__call_init(&call, &g_hc, 10000);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    vp__http_response_free(r);
    assert_int_equal(capture_count(&g_cap, VP_LEVEL_WARN, "DISABLED"), 0);
}

/* One GET on a thread of its own (after the barrier, when there is one). */
typedef struct slow_get {
    vp__http *h;
    const char *url;
    pthread_barrier_t *bar;
    int rc;
    long status;
    char msg[sizeof(((vp_call *)0)->message)];
} slow_get;

static void *slow_get_fn(void *p)
{
    slow_get *g = p;
    vp_call call;
    vp__call_init(&call, &g_hc, 20000);
    vp_http_request req;
    req_init(&req, "GET", g->url);
    vp_http_response *r = NULL;
    if (g->bar != NULL)
        pthread_barrier_wait(g->bar);
    g->rc = vp__http_perform(g->h, "test", &call, &req, &r);
    g->status = vp__http_status(r);
    snprintf(g->msg, sizeof(g->msg), "%s", call.message);
    vp__http_response_free(r);
    return NULL;
}

/* The TLS connections of one vp__http verify against one trust store, parsed on the first: the CA
 * file can disappear afterwards and a new connection still verifies (libcurl's own loading would
 * fail it), while a server the store does not trust is still refused. */
static void test_tls_store_parsed_once(void **state)
{
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (g_tls == NULL || vi->ssl_version == NULL || strncmp(vi->ssl_version, "OpenSSL/3.", 10) != 0)
        skip();
    char path[] = "/tmp/vp-test-ca-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *in = fopen(mc_ca_file(g_tls), "rb");
    assert_non_null(in);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
    fclose(in);
    close(fd);

    vp__http *h = http_with(path);
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    req_init(&req, "GET", url_of(g_tls, "/echo"));
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
    vp__http_response_free(r);
    assert_int_equal(unlink(path), 0);

    /* a slow request holds the open connection, so the next one needs a new connection */
    uint64_t conns = mc_connections(g_tls);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/status/", .latency_ms = 500};
    assert_int_equal(mc_fault_add(g_tls, &f), 0);
    slow_get g = {.h = h, .url = url_of(g_tls, "/status/200"), .rc = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_get_fn, &g), 0);
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    vp__call_init(&call, &g_hc, 10000);
    int rc = vp__http_perform(h, "test", &call, &req, &r);
    if (rc != 0)
        printf("  second connection: %s\n", call.message);
    assert_int_equal(rc, 0);
    assert_int_equal(vp__http_status(r), 200);
    vp__http_response_free(r);
    pthread_join(t, NULL);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.status, 200);
    assert_int_equal(mc_connections(g_tls) - conns, 1);
    mc_fault_clear(g_tls);

    /* the store holds only that CA: a server with another one is refused */
    mc_options o = {.tls = 1};
    mc_server *other = mc_start(&o);
    assert_non_null(other);
    assert_true(mc_route(other, NULL, "/echo", h_echo, NULL) >= 0);
    req_init(&req, "GET", url_of(other, "/echo"));
    vp__call_init(&call, &g_hc, 10000);
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), VP_ENETWORK);
    assert_null(r);
    assert_non_null(strstr(call.message, "not trusted"));
    mc_stop(other);
    vp__http_free(h);
}

/* A hashed CA directory (as c_rehash makes it) holding the CA certificate of PEM file ca as its
 * index'th file of that subject hash. */
static void make_hashed_dir(char *dir, const char *ca, int index)
{
    assert_non_null(mkdtemp(dir));
    FILE *in = fopen(ca, "rb");
    assert_non_null(in);
    X509 *x = PEM_read_X509(in, NULL, NULL, NULL);
    fclose(in);
    assert_non_null(x);
    char name[4200];
    snprintf(name, sizeof(name), "%s/%08lx.%d", dir, X509_subject_name_hash(x), index);
    FILE *out = fopen(name, "wb");
    assert_non_null(out);
    assert_int_equal(PEM_write_X509(out, x), 1);
    assert_int_equal(fclose(out), 0);
    X509_free(x);
}

static void remove_hashed_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* 8 threads open their first TLS connections at once through a vp__http whose shared trust
 * store nobody has used yet, so their verifications meet on fresh certificates (OpenSSL caches
 * a certificate's extensions on first use: the thread sanitizer build checks that the store is
 * only read). The trust comes from a CA file, from a hashed CA directory alone, from both, from a
 * directory list, and from a directory holding the one CA the system bundle lacks. An unrelated
 * directory is refused, and so is a CA file that OpenSSL's lookup never reads (".1" without
 * ".0": its chain of files ends at the first missing one). */
static void test_tls_store_first_use_concurrent(void **state)
{
    if (g_tls == NULL)
        skip();
    enum { N = 8, ROUNDS = 4 };
    char dir[] = "/tmp/vp-test-capath-XXXXXX", other_dir[] = "/tmp/vp-test-capath-XXXXXX";
    char gap_dir[] = "/tmp/vp-test-capath-XXXXXX", list[128];
    make_hashed_dir(dir, mc_ca_file(g_tls), 0);
    make_hashed_dir(other_dir, g_other_ca, 0);
    make_hashed_dir(gap_dir, mc_ca_file(g_tls), 1);
    snprintf(list, sizeof(list), "/nonexistent-vp-capath::%s", dir);
    /* The system bundle lacks the test CA: the directory must supply it. (Not the unrelated test
     * CA: it has the test CA's subject, and OpenSSL asks a directory only for subjects its store
     * lacks.) */
    const char *sys = "/etc/ssl/certs/ca-certificates.crt";
    size_t n_cases = access(sys, R_OK) == 0 ? 7 : 6;
    const struct {
        const char *file, *path;
        int want;
    } cases[] = {
        /* clang-format off */
        {mc_ca_file(g_tls), NULL, 0},
        {NULL, dir, 0},
        {mc_ca_file(g_tls), dir, 0},
        {NULL, list, 0},
        {NULL, other_dir, VP_ENETWORK},
        {NULL, gap_dir, VP_ENETWORK},
        {sys, dir, 0},
        /* clang-format on */
    };
    char url[600];
    snprintf(url, sizeof(url), "%s", url_of(g_tls, "/echo"));
    for (size_t c = 0; c < n_cases; c++) {
        for (int round = 0; round < ROUNDS; round++) {
            vp__http *h = NULL;
            vp__http_opts o = {.proxy = "", .ca_file = cases[c].file, .ca_path = cases[c].path};
            assert_int_equal(vp__http_new(&o, g_log, &h), 0);
            pthread_barrier_t bar;
            pthread_barrier_init(&bar, NULL, N);
            pthread_t t[N];
            slow_get u[N];
            for (int i = 0; i < N; i++) {
                u[i] = (slow_get){.h = h, .url = url, .bar = &bar, .rc = -2};
                assert_int_equal(pthread_create(&t[i], NULL, slow_get_fn, &u[i]), 0);
            }
            for (int i = 0; i < N; i++)
                pthread_join(t[i], NULL);
            pthread_barrier_destroy(&bar);
            for (int i = 0; i < N; i++) {
                if (u[i].rc == 0 && u[i].status != 200)
                    u[i].rc = -1;
                if (u[i].rc != cases[c].want)
                    printf("  case %zu round %d thread %d: %d %s\n", c, round, i, u[i].rc,
                           u[i].msg);
                assert_int_equal(u[i].rc, cases[c].want);
                if (cases[c].want != 0)
                    assert_non_null(strstr(u[i].msg, "not trusted"));
            }
            vp__http_free(h);
        }
    }
    remove_hashed_dir(dir);
    remove_hashed_dir(other_dir);
    remove_hashed_dir(gap_dir);
}

static void test_tls_insecure_skip_verify(void **state)
{
    if (g_tls == NULL)
        skip();
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    req_init(&req, "GET", url_of(g_tls, "/echo?sig=canary-Q-93e1"));
    req.flags = VP_HTTP_INSECURE_SKIP_VERIFY;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(vp__http_perform(g_http, "aws", &call, &req, &r), 0);
        assert_int_equal(vp__http_status(r), 200);
        vp__http_response_free(r);
    }
    /* one warning per request, naming the host, never the query */
    assert_int_equal(capture_count(&g_cap, VP_LEVEL_WARN, "127.0.0.1"), 2);
    assert_int_equal(capture_count(&g_cap, VP_LEVEL_WARN, "aws: "), 2);
    assert_int_equal(capture_count(&g_cap, -1, "canary-Q-93e1"), 0);
}

/* ---------------------------------------------------------------------------------------------
 * limits
 * ------------------------------------------------------------------------------------------- */

static void test_response_cap(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    size_t len = 0;

    /* Content-Length path */
    req_init(&req, "GET", url_of(g_srv, "/bytes/1000"));
    req.max_response = 1000;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    vp__http_body(r, &len);
    assert_int_equal(len, 1000);
    vp__http_response_free(r);
    req_init(&req, "GET", url_of(g_srv, "/bytes/1001"));
    req.max_response = 1000;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EPROTO);
    assert_null(r);
    assert_non_null(strstr(call.message, "response body larger than 1000 bytes"));

    /* chunked path (no length announced) */
    mc_fault f = {.kind = MC_FAULT_OVERSIZE, .size = 50000, .count = 1};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    req.max_response = 50000;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    const char *b = vp__http_body(r, &len);
    assert_int_equal(len, 50000);
    assert_int_equal(b[49999], 'x');
    assert_int_equal(b[50000], '\0');
    vp__http_response_free(r);
    f.size = 50001;
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EPROTO);
    assert_non_null(strstr(call.message, "response body larger than 50000 bytes"));

    /* the service default (opts.max_response) applies when the request sets none */
    vp__http *h = NULL;
    vp__http_opts o = {.proxy = "", .max_response = 100};
    assert_int_equal(vp__http_new(&o, g_log, &h), 0);
    req_init(&req, "GET", url_of(g_srv, "/bytes/100"));
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
    vp__http_response_free(r);
    req_init(&req, "GET", url_of(g_srv, "/bytes/101"));
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), VP_EPROTO);
    vp__http_free(h);

    /* 1 MiB default */
    req_init(&req, "GET", url_of(g_srv, "/bytes/1048576"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    vp__http_response_free(r);
    req_init(&req, "GET", url_of(g_srv, "/bytes/1048577"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EPROTO);
}

/* ---------------------------------------------------------------------------------------------
 * deadlines, cancellation, faults
 * ------------------------------------------------------------------------------------------- */

static void test_timeouts(void **state)
{
    vp_call call;
    vp_http_request req;
    vp_http_response *r = NULL;
    mc_fault f = {.kind = MC_FAULT_LATENCY, .latency_ms = 2000, .path_prefix = "/echo"};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    req_init(&req, "GET", url_of(g_srv, "/echo"));

    /* the call's deadline */
    vp__call_init(&call, &g_hc, 300);
    int64_t t0 = now_ms();
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ETIMEDOUT);
    int64_t el = now_ms() - t0;
    printf("  call deadline 300 ms: failed after %lld ms: %s\n", (long long)el, call.message);
    assert_true(el >= 250 && el < 1500);
    assert_null(r);

    /* the request's own timeout, call without deadline */
    vp__call_init(&call, &g_hc, 0);
    req.timeout_ms = 300;
    t0 = now_ms();
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ETIMEDOUT);
    el = now_ms() - t0;
    printf("  request timeout 300 ms: failed after %lld ms: %s\n", (long long)el, call.message);
    assert_true(el >= 250 && el < 1500);

    /* the service default when neither limits it */
    vp__http *h = NULL;
    vp__http_opts o = {.proxy = "", .default_timeout_ms = 300};
    assert_int_equal(vp__http_new(&o, g_log, &h), 0);
    req.timeout_ms = 0;
    t0 = now_ms();
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), VP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 1500);
    /* a request timeout longer than the call's remaining time is capped by it */
    vp__call_init(&call, &g_hc, 300);
    req.timeout_ms = 10000;
    t0 = now_ms();
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), VP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 1500);
    vp__http_free(h);
    mc_fault_clear(g_srv);

    /* a body that keeps dribbling cannot hold the call past its deadline */
    mc_fault s = {.kind = MC_FAULT_SLOW_BODY, .latency_ms = 100, .count = 1};
    assert_int_equal(mc_fault_add(g_srv, &s), 0);
    req_init(&req, "GET", url_of(g_srv, "/bytes/100"));
    vp__call_init(&call, &g_hc, 400);
    t0 = now_ms();
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 1500);

    /* ... but a slow body within the deadline arrives whole */
    s.latency_ms = 20;
    assert_int_equal(mc_fault_add(g_srv, &s), 0);
    req_init(&req, "GET", url_of(g_srv, "/bytes/10"));
    vp__call_init(&call, &g_hc, 5000);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    size_t len = 0;
    assert_memory_equal(vp__http_body(r, &len), "aaaaaaaaaa", 10);
    assert_int_equal(len, 10);
    vp__http_response_free(r);
}

typedef struct cancel_arg {
    vp_call *call;
    unsigned after_ms;
} cancel_arg;

static void *cancel_thread(void *p)
{
    cancel_arg *a = p;
    struct timespec ts = {0, (long)a->after_ms * 1000000L};
    nanosleep(&ts, NULL);
    vp__call_cancel(a->call);
    return NULL;
}

static void test_cancel(void **state)
{
    vp_call call;
    vp_http_request req;
    vp_http_response *r = NULL;
    mc_fault f = {.kind = MC_FAULT_LATENCY, .latency_ms = 3000, .count = 1};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    vp__call_init(&call, &g_hc, 10000);
    cancel_arg a = {&call, 200};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_thread, &a), 0);
    int64_t t0 = now_ms();
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ECANCELED);
    int64_t el = now_ms() - t0;
    pthread_join(t, NULL);
    printf("  canceled after %lld ms: %s\n", (long long)el, call.message);
    assert_true(el >= 150 && el < 1500);
    assert_null(r);
    assert_non_null(strstr(call.message, "canceled"));

    /* canceled before: nothing is sent */
    uint64_t before = mc_count_total(g_srv);
    vp__call_init(&call, &g_hc, 10000);
    vp__call_cancel(&call);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ECANCELED);
    /* deadline already passed: nothing is sent */
    vp__call_init(&call, &g_hc, 1);
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ETIMEDOUT);
    assert_non_null(strstr(call.message, "before it was sent"));
    assert_int_equal(mc_count_total(g_srv), before);
}

static void test_faults_network(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    req_init(&req, "GET", url_of(g_srv, "/echo"));

    /* Not limited to one request: libcurl transparently retries once on a fresh connection
     * when a reused one dies before any response byte. */
    mc_fault f = {.kind = MC_FAULT_RESET};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ENETWORK);
    assert_null(r);
    printf("  reset: %s\n", call.message);
    mc_fault_clear(g_srv);

    mc_fault t = {.kind = MC_FAULT_TRUNCATE, .count = 1, .size = 100};
    assert_int_equal(mc_fault_add(g_srv, &t), 0);
    req_init(&req, "GET", url_of(g_srv, "/bytes/500"));
    int rc = vp__http_perform(g_http, "test", &call, &req, &r);
    printf("  truncated: %d %s\n", rc, call.message);
    assert_int_equal(rc, VP_ENETWORK);
    assert_null(r);

    /* the server is fine again afterwards */
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    vp__http_response_free(r);

    /* nobody listening */
    mc_server *gone = mc_start(NULL);
    assert_non_null(gone);
    char url[128];
    snprintf(url, sizeof(url), "%s/echo", mc_url(gone));
    mc_stop(gone);
    req_init(&req, "GET", url);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ENETWORK);
    printf("  refused: %s\n", call.message);
}

/* ---------------------------------------------------------------------------------------------
 * secrets
 * ------------------------------------------------------------------------------------------- */

#define CANARY_HDR   "canary-HDR-5b1e0c9d"
#define CANARY_BODY  "canary-BODY-77aa31f0"
#define CANARY_QUERY "canary-QUERY-4c2d"

static void assert_no_canary(const vp_call *call)
{
    const char *canaries[] = {CANARY_HDR, CANARY_BODY, CANARY_QUERY};
    for (int i = 0; i < 3; i++) {
        if (capture_count(&g_cap, -1, canaries[i]) != 0)
            capture_dump(&g_cap);
        assert_int_equal(capture_count(&g_cap, -1, canaries[i]), 0);
        assert_null(strstr(call->message, canaries[i]));
    }
}

static void test_secrets_never_logged(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    vp_http_header hs[] = {
        {"Authorization", "Bearer " CANARY_HDR, VP_HTTP_HDR_SECRET},
        {"X-Test", "visible-value", 0},
    };
    static const char body[] = "{\"password\":\"" CANARY_BODY "\"}";
    req_init(&req, "POST", url_of(g_srv, "/echo?token=" CANARY_QUERY));
    req.headers = hs;
    req.n_headers = 2;
    req.body = body;
    req.body_len = sizeof(body) - 1;
    req.flags = VP_HTTP_BODY_SECRET;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    /* the server got everything */
    size_t len = 0;
    assert_non_null(strstr(vp__http_body(r, &len), CANARY_BODY));
    vp__http_response_free(r);
    mc_log_entry e;
    assert_int_equal(mc_log_get(g_srv, mc_log_count(g_srv) - 1, &e), 0);
    assert_string_equal(mc_log_header(&e, "Authorization"), "Bearer " CANARY_HDR);
    assert_non_null(strstr(e.query, CANARY_QUERY));
    /* logging is on and did say something about this request (so the check below can fail) */
    assert_true(capture_count(&g_cap, VP_LEVEL_DEBUG, "POST http://127.0.0.1") == 1);
    assert_true(capture_count(&g_cap, VP_LEVEL_TRACE, "visible-value") == 1);
    assert_true(capture_count(&g_cap, VP_LEVEL_TRACE, "Authorization: [REDACTED]") == 1);
    assert_no_canary(&call);

    /* failures: reset, timeout, refused connection */
    mc_fault f = {.kind = MC_FAULT_RESET};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ENETWORK);
    assert_no_canary(&call);
    mc_fault_clear(g_srv);
    mc_fault l = {.kind = MC_FAULT_LATENCY, .latency_ms = 1000, .count = 1};
    assert_int_equal(mc_fault_add(g_srv, &l), 0);
    req.timeout_ms = 100;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ETIMEDOUT);
    assert_no_canary(&call);
    req.url = "http://127.0.0.1:1/echo?token=" CANARY_QUERY;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_ENETWORK);
    assert_no_canary(&call);
    req.url = "ht tp://bad url?token=" CANARY_QUERY;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    assert_no_canary(&call);
}

typedef struct logger_arg {
    unsigned after_ms;
} logger_arg;

static void *log_secret_thread(void *p)
{
    logger_arg *a = p;
    struct timespec ts = {0, (long)a->after_ms * 1000000L};
    nanosleep(&ts, NULL);
    vp__log_write(g_log, VP_LEVEL_INFO, "other", "during: token=%s", CANARY_HDR);
    return NULL;
}

/* A secret header is registered with the redactor for the request's duration only. */
static void test_secret_masked_during_request(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    vp_http_header hs[] = {{"X-Vault-Token", CANARY_HDR, VP_HTTP_HDR_SECRET}};
    mc_fault l = {.kind = MC_FAULT_LATENCY, .latency_ms = 600, .count = 1};
    assert_int_equal(mc_fault_add(g_srv, &l), 0);
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    req.headers = hs;
    req.n_headers = 1;
    logger_arg a = {150};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, log_secret_thread, &a), 0);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    pthread_join(t, NULL);
    vp__http_response_free(r);
    assert_int_equal(capture_count(&g_cap, -1, "during: token=" VP__REDACTED), 1);
    assert_int_equal(capture_count(&g_cap, -1, CANARY_HDR), 0);
    /* afterwards the value is no longer masked (it was unmasked, not leaked into the mask set) */
    vp__log_write(g_log, VP_LEVEL_INFO, "other", "after: token=%s", CANARY_HDR);
    assert_int_equal(capture_count(&g_cap, -1, "after: token=" CANARY_HDR), 1);
}

/* ---------------------------------------------------------------------------------------------
 * redirects
 * ------------------------------------------------------------------------------------------- */

static void test_redirects(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    uint64_t before = mc_route_count(g_srv, g_echo_route);
    req_init(&req, "GET", url_of(g_srv, "/redir"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 302);
    assert_string_equal(vp__http_header(r, "location"), "/echo");
    vp__http_response_free(r);
    assert_int_equal(mc_route_count(g_srv, g_echo_route), before);

    req.flags = VP_HTTP_FOLLOW_REDIRECTS;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), 0);
    assert_int_equal(vp__http_status(r), 200);
    assert_string_equal(vp__http_header(r, "X-Echo-Method"), "GET");
    /* only the final response's headers */
    assert_null(vp__http_header(r, "Location"));
    vp__http_response_free(r);
    assert_int_equal(mc_route_count(g_srv, g_echo_route), before + 1);

    /* never to another scheme */
    req_init(&req, "GET", url_of(g_srv, "/redir-file"));
    req.flags = VP_HTTP_FOLLOW_REDIRECTS;
    int rc = vp__http_perform(g_http, "test", &call, &req, &r);
    printf("  redirect to file://: %d %s\n", rc, call.message);
    assert_int_equal(rc, VP_EPROTO);
    assert_null(r);

    /* at most 5 hops */
    req_init(&req, "GET", url_of(g_srv, "/loop"));
    req.flags = VP_HTTP_FOLLOW_REDIRECTS;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EPROTO);
    assert_non_null(strstr(call.message, "redirects"));
}

/* ---------------------------------------------------------------------------------------------
 * concurrency
 * ------------------------------------------------------------------------------------------- */

#define N_THREADS 16
#define N_REQS    50

typedef struct worker {
    int id;
    int ok;
} worker;

static void *worker_fn(void *p)
{
    worker *w = p;
    for (int i = 0; i < N_REQS; i++) {
        vp_call call;
        vp__call_init(&call, &g_hc, 20000);
        char val[64], body[64];
        snprintf(val, sizeof(val), "t%d-r%d", w->id, i);
        snprintf(body, sizeof(body), "body-%d-%d", w->id, i);
        vp_http_header hs[] = {{"X-Test", val, 0}};
        vp_http_request req;
        req_init(&req, "POST", url_of(g_srv, "/echo"));
        req.headers = hs;
        req.n_headers = 1;
        req.body = body;
        req.body_len = strlen(body);
        vp_http_response *r = NULL;
        if (vp__http_perform(g_http, "test", &call, &req, &r) != 0) {
            printf("  worker %d request %d: %s\n", w->id, i, call.message);
            continue;
        }
        const char *echo = vp__http_header(r, "X-Echo-Test");
        size_t len = 0;
        const char *b = vp__http_body(r, &len);
        if (vp__http_status(r) == 200 && echo && strcmp(echo, val) == 0 && len == strlen(body) &&
            memcmp(b, body, len) == 0)
            w->ok++;
        vp__http_response_free(r);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    pthread_t t[N_THREADS];
    worker w[N_THREADS];
    uint64_t conns = mc_connections(g_srv);
    for (int i = 0; i < N_THREADS; i++) {
        w[i].id = i;
        w[i].ok = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker_fn, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
    }
    uint64_t used = mc_connections(g_srv) - conns;
    printf("  %d/%d requests ok over %llu new connections\n", ok, N_THREADS * N_REQS,
           (unsigned long long)used);
    assert_int_equal(ok, N_THREADS * N_REQS);
    /* connections were reused through the shared cache */
    assert_true(used < (uint64_t)(N_THREADS * N_REQS) / 4);
}

/* ---------------------------------------------------------------------------------------------
 * handle reuse and fork
 * ------------------------------------------------------------------------------------------- */

/* Requests run on reused libcurl handles: nothing of one request (method, headers, body,
 * redirect policy) may reach the next one, and the connection stays the same. */
static void test_reuse_no_carryover(void **state)
{
    vp__http *h = http_with(NULL);
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = NULL;
    /* warm the connection */
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
    vp__http_response_free(r);
    uint64_t conns = mc_connections(g_srv);

    for (int round = 0; round < 5; round++) {
        vp_http_header hs[] = {{"X-Test", "carry", 0}, {"Authorization", "Bearer reuse-tok", 1}};
        req_init(&req, "PUT", url_of(g_srv, "/redir"));
        req.headers = hs;
        req.n_headers = 2;
        req.body = "put-body";
        req.body_len = 8;
        req.flags = VP_HTTP_FOLLOW_REDIRECTS;
        assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
        assert_int_equal(vp__http_status(r), 200); /* followed to /echo */
        vp__http_response_free(r);

        req_init(&req, "GET", url_of(g_srv, "/echo"));
        assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
        assert_int_equal(vp__http_status(r), 200);
        assert_string_equal(vp__http_header(r, "X-Echo-Method"), "GET");
        assert_null(vp__http_header(r, "X-Echo-Test"));
        size_t len = 99;
        vp__http_body(r, &len);
        assert_int_equal(len, 0);
        vp__http_response_free(r);
        mc_log_entry e;
        assert_int_equal(mc_log_get(g_srv, mc_log_count(g_srv) - 1, &e), 0);
        assert_string_equal(e.method, "GET");
        assert_int_equal(e.body_len, 0);
        assert_string_equal(mc_log_header(&e, "Authorization"), "");
        assert_string_equal(mc_log_header(&e, "X-Test"), "");

        /* without the flag, the redirect is not followed any more */
        req_init(&req, "GET", url_of(g_srv, "/redir"));
        assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
        assert_int_equal(vp__http_status(r), 302);
        vp__http_response_free(r);
    }
    /* a failed transfer does not spoil the handles that ran it */
    mc_fault f = {.kind = MC_FAULT_TRUNCATE, .path_prefix = "/bytes/", .count = 1, .size = 100};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    req_init(&req, "GET", url_of(g_srv, "/bytes/500"));
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), VP_ENETWORK);
    assert_null(r);
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    assert_int_equal(vp__http_perform(h, "test", &call, &req, &r), 0);
    assert_string_equal(vp__http_header(r, "X-Echo-Method"), "GET");
    vp__http_response_free(r);
    /* one connection for the 15 requests before the truncated one, one after it */
    assert_int_equal(mc_connections(g_srv) - conns, 1);
    assert_int_equal(capture_count(&g_cap, -1, "reuse-tok"), 0);
    vp__http_free(h);
}

/* Wait for a child (at most ~30 s: it arms an alarm) and return its exit status, or -signal. */
static int wait_child(pid_t pid)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        return -WTERMSIG(st);
    return WEXITSTATUS(st);
}

static int child_get(vp__http *h, mc_server *srv, const char *ca, char *msg, size_t cap)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    req_init(&req, "GET", url_of(srv, "/echo"));
    req.ca_file = ca;
    vp_http_response *r = NULL;
    int rc = vp__http_perform(h, "test", &call, &req, &r);
    snprintf(msg, cap, "%s", call.message);
    if (rc == 0 && vp__http_status(r) != 200)
        rc = -1;
    vp__http_response_free(r);
    return rc;
}

/* A child of fork() must neither send on nor close the parent's connections (a TLS
 * close_notify would end the parent's session): requests on the inherited vp__http fail, freeing
 * it leaves the connections alone, and a vp__http created in the child works. */
static void test_fork_inherited(void **state)
{
    mc_server *srv = g_tls ? g_tls : g_srv;
    const char *ca = g_tls ? mc_ca_file(g_tls) : NULL;
    vp__http *h = http_with(ca);
    char msg[VP_ERROR_MAX];
    assert_int_equal(child_get(h, srv, NULL, msg, sizeof(msg)), 0);
    uint64_t conns = mc_connections(srv), total = mc_count_total(srv);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);
        if (child_get(h, srv, NULL, msg, sizeof(msg)) != VP_EINVAL)
            _exit(1);
        if (strstr(msg, "fork()") == NULL)
            _exit(2);
        vp__http_free(h); /* must not touch the parent's connection */
        vp__http *mine = NULL;
        vp__http_opts o = {.proxy = "", .ca_file = ca};
        if (vp__http_new(&o, g_log, &mine) != 0)
            _exit(3);
        if (child_get(mine, srv, NULL, msg, sizeof(msg)) != 0)
            _exit(4);
        vp__http_free(mine);
        _exit(0);
    }
    assert_int_equal(wait_child(pid), 0);
    /* the child's own request arrived on its own connection, the refused one never did */
    assert_int_equal(mc_count_total(srv) - total, 1);
    assert_int_equal(mc_connections(srv) - conns, 1);
    /* and the parent's connection still works: reused, not reopened */
    assert_int_equal(child_get(h, srv, NULL, msg, sizeof(msg)), 0);
    assert_int_equal(mc_connections(srv) - conns, 1);
    vp__http_free(h);
}

/* ---------------------------------------------------------------------------------------------
 * argument checks
 * ------------------------------------------------------------------------------------------- */

static void test_refused_input(void **state)
{
    vp_call call;
    vp__call_init(&call, &g_hc, 10000);
    vp_http_request req;
    vp_http_response *r = (vp_http_response *)&call; /* must be reset to NULL */
    const char *bad_urls[] = {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/",
                              "not a url",          "/relative/path",    "http://"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        req_init(&req, "GET", bad_urls[i]);
        assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
        assert_null(r);
        printf("  %s: %s\n", bad_urls[i], call.message);
    }
    req_init(&req, "GET", "file:///etc/passwd");
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    assert_non_null(strstr(call.message, "only http:// and https://"));

    uint64_t before = mc_count_total(g_srv);
    vp_http_header inj[] = {{"X-Test", "a\r\nX-Injected: 1", 0}};
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    req.headers = inj;
    req.n_headers = 1;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    vp_http_header badname[] = {{"Bad Name", "v", 0}};
    req.headers = badname;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    req.headers = NULL;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    req_init(&req, "GE T", url_of(g_srv, "/echo"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    req_init(&req, NULL, url_of(g_srv, "/echo"));
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    req_init(&req, "POST", url_of(g_srv, "/echo"));
    req.body_len = 5;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    req.hdr.abi_major = 2;
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, &r), VP_EINVAL);
    req_init(&req, "GET", url_of(g_srv, "/echo"));
    assert_int_equal(vp__http_perform(NULL, "test", &call, &req, &r), VP_EINVAL);
    assert_int_equal(vp__http_perform(g_http, "test", &call, NULL, &r), VP_EINVAL);
    assert_int_equal(vp__http_perform(g_http, "test", &call, &req, NULL), VP_EINVAL);
    assert_int_equal(mc_count_total(g_srv), before);

    /* a NULL call is allowed (no deadline, no message) */
    assert_int_equal(vp__http_perform(g_http, NULL, NULL, &req, &r), 0);
    vp__http_response_free(r);
    assert_int_equal(vp__http_new(NULL, NULL, NULL), VP_EINVAL);
    vp__http_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_get_post_roundtrip, test_setup),
        cmocka_unit_test_setup(test_status_and_headers, test_setup),
        cmocka_unit_test_setup(test_tls_unknown_ca, test_setup),
        cmocka_unit_test_setup(test_tls_ca_override, test_setup),
        cmocka_unit_test_setup(test_tls_store_parsed_once, test_setup),
        cmocka_unit_test_setup(test_tls_store_first_use_concurrent, test_setup),
        cmocka_unit_test_setup(test_tls_insecure_skip_verify, test_setup),
        cmocka_unit_test_setup(test_response_cap, test_setup),
        cmocka_unit_test_setup(test_timeouts, test_setup),
        cmocka_unit_test_setup(test_cancel, test_setup),
        cmocka_unit_test_setup(test_faults_network, test_setup),
        cmocka_unit_test_setup(test_secrets_never_logged, test_setup),
        cmocka_unit_test_setup(test_secret_masked_during_request, test_setup),
        cmocka_unit_test_setup(test_redirects, test_setup),
        cmocka_unit_test_setup(test_concurrent, test_setup),
        cmocka_unit_test_setup(test_refused_input, test_setup),
        cmocka_unit_test_setup(test_reuse_no_carryover, test_setup),
        cmocka_unit_test_setup(test_fork_inherited, test_setup),
    };
    return cmocka_run_group_tests_name("http", tests, group_setup, group_teardown);
}
