/*
 * test_mockcloud - the mock server itself, driven with plain libcurl: routing, query access,
 * fault scoping and counts, counters and the request log, prompt shutdown.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "mockcloud.h"

typedef struct got {
    long status;
    char body[4096];
    size_t len;
} got;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    got *g = ud;
    size_t len = size * n, room = sizeof(g->body) - 1 - g->len;
    size_t take = len < room ? len : room;
    memcpy(g->body + g->len, p, take);
    g->len += take;
    g->body[g->len] = '\0';
    return len;
}

/* Perform method url (body may be NULL); returns the CURLcode. */
static int fetch(const char *method, const char *url, const char *body, got *g)
{
    memset(g, 0, sizeof(*g));
    CURL *e = curl_easy_init();
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, g);
    struct curl_slist *h = curl_slist_append(NULL, "X-Trace: abc");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &g->status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return (int)rc;
}

static void h_tag(void *ud, const mc_request *req, mc_response *resp)
{
    const char *a = mc_req_query(req, "a");
    mc_resp_json(resp, 200, "{\"tag\":\"%s\",\"query\":\"%s\",\"a\":\"%s\",\"body\":\"%s\"}",
                 (const char *)ud, req->query, a ? a : "", req->body);
}

static char *u(const mc_server *s, const char *path)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", mc_url(s), path);
    return buf;
}

static void test_routing(void **state)
{
    static const char *const lh[] = {"X-Trace", "Authorization", NULL};
    mc_options o = {.log_headers = lh};
    mc_server *s = mc_start(&o);
    assert_non_null(s);
    assert_true(mc_port(s) > 0);
    int r1 = mc_route(s, NULL, "/x", h_tag, "x");
    int r2 = mc_route(s, "GET", "/x/y", h_tag, "xy");
    int r3 = mc_route(s, "POST", "/p", h_tag, "p");
    assert_true(r1 >= 0 && r2 >= 0 && r3 >= 0);
    got g;

    assert_int_equal(fetch("GET", u(s, "/x/y/z?a=1%202&b=x"), NULL, &g), 0);
    assert_int_equal(g.status, 200);
    assert_non_null(strstr(g.body, "\"tag\":\"xy\""));
    assert_non_null(strstr(g.body, "\"query\":\"a=1%202&b=x\""));
    assert_non_null(strstr(g.body, "\"a\":\"1 2\""));
    /* method filter: POST /x/y falls back to the any-method /x route */
    assert_int_equal(fetch("POST", u(s, "/x/y"), "hello", &g), 0);
    assert_non_null(strstr(g.body, "\"tag\":\"x\""));
    assert_non_null(strstr(g.body, "\"body\":\"hello\""));
    /* GET on a POST-only route: default 404 with HTML */
    assert_int_equal(fetch("GET", u(s, "/p"), NULL, &g), 0);
    assert_int_equal(g.status, 404);
    assert_non_null(strstr(g.body, "<html>"));

    assert_int_equal(mc_count_total(s), 3);
    assert_int_equal(mc_route_count(s, r1), 1);
    assert_int_equal(mc_route_count(s, r2), 1);
    assert_int_equal(mc_route_count(s, r3), 0);
    assert_int_equal(mc_route_count(s, 99), 0);
    assert_int_equal(mc_log_count(s), 3);
    mc_log_entry e;
    assert_int_equal(mc_log_get(s, 0, &e), 0);
    assert_string_equal(e.method, "GET");
    assert_string_equal(e.path, "/x/y/z");
    assert_string_equal(e.query, "a=1%202&b=x");
    assert_int_equal(e.status, 200);
    assert_string_equal(mc_log_header(&e, "x-trace"), "abc");
    assert_string_equal(mc_log_header(&e, "Authorization"), "");
    assert_null(mc_log_header(&e, "Not-Recorded"));
    assert_int_equal(mc_log_get(s, 2, &e), 0);
    assert_int_equal(e.status, 404);
    assert_int_equal(mc_log_get(s, 3, &e), -1);

    mc_reset_counters(s);
    assert_int_equal(mc_count_total(s), 0);
    assert_int_equal(mc_route_count(s, r1), 0);
    assert_int_equal(mc_log_count(s), 0);
    mc_stop(s);
}

static void test_fault_scope_and_count(void **state)
{
    mc_server *s = mc_start(NULL);
    assert_non_null(s);
    assert_true(mc_route(s, NULL, "/a", h_tag, "a") >= 0);
    assert_true(mc_route(s, NULL, "/b", h_tag, "b") >= 0);
    mc_fault f = {.kind = MC_FAULT_STATUS, .status = 503, .path_prefix = "/a", .count = 2};
    assert_int_equal(mc_fault_add(s, &f), 0);
    got g;
    assert_int_equal(fetch("GET", u(s, "/b"), NULL, &g), 0);
    assert_int_equal(g.status, 200);
    assert_int_equal(fetch("GET", u(s, "/a"), NULL, &g), 0);
    assert_int_equal(g.status, 503);
    assert_int_equal(fetch("GET", u(s, "/a/deeper"), NULL, &g), 0);
    assert_int_equal(g.status, 503);
    assert_int_equal(fetch("GET", u(s, "/a"), NULL, &g), 0);
    assert_int_equal(g.status, 200);

    /* unlimited until cleared */
    mc_fault gb = {.kind = MC_FAULT_GARBAGE};
    assert_int_equal(mc_fault_add(s, &gb), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fetch("GET", u(s, "/b"), NULL, &g), 0);
        assert_null(strstr(g.body, "\"tag\""));
    }
    mc_fault_clear(s);
    assert_int_equal(fetch("GET", u(s, "/b"), NULL, &g), 0);
    assert_non_null(strstr(g.body, "\"tag\":\"b\""));

    /* table full */
    mc_fault l = {.kind = MC_FAULT_LATENCY, .latency_ms = 1, .path_prefix = "/none"};
    int added = 0;
    while (mc_fault_add(s, &l) == 0)
        added++;
    assert_int_equal(added, MC_MAX_FAULTS);
    mc_fault_clear(s);

    /* oversize and truncated bodies */
    mc_fault o = {.kind = MC_FAULT_OVERSIZE, .size = 3000, .count = 1};
    assert_int_equal(mc_fault_add(s, &o), 0);
    assert_int_equal(fetch("GET", u(s, "/b"), NULL, &g), 0);
    assert_int_equal(g.len, 3000);
    mc_fault t = {.kind = MC_FAULT_TRUNCATE, .count = 1};
    assert_int_equal(mc_fault_add(s, &t), 0);
    assert_int_equal(fetch("GET", u(s, "/b"), NULL, &g), CURLE_PARTIAL_FILE);
    mc_stop(s);
}

typedef struct bg {
    const char *url;
    int rc;
} bg;

static void *bg_fetch(void *p)
{
    bg *b = p;
    got g;
    b->rc = fetch("GET", b->url, NULL, &g);
    return NULL;
}

static void test_stop_during_latency(void **state)
{
    mc_server *s = mc_start(NULL);
    assert_non_null(s);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .latency_ms = 8000};
    assert_int_equal(mc_fault_add(s, &f), 0);
    char url[128];
    snprintf(url, sizeof(url), "%s/slow", mc_url(s));
    bg b = {url, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bg_fetch, &b), 0);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    mc_stop(s);
    clock_gettime(CLOCK_MONOTONIC, &z);
    pthread_join(t, NULL);
    long ms = (z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000;
    printf("  mc_stop took %ld ms with a request sleeping\n", ms);
    assert_true(ms < 3000);
    assert_int_not_equal(b.rc, 0);
}

static void test_tls_server(void **state)
{
    if (!mc_tls_supported()) {
        printf("  libmicrohttpd has no TLS support: skipped\n");
        skip();
    }
    mc_options o = {.tls = 1};
    mc_server *s = mc_start(&o);
    assert_non_null(s);
    assert_true(strncmp(mc_url(s), "https://127.0.0.1:", 18) == 0);
    const char *ca = mc_ca_file(s);
    assert_non_null(ca);
    CURL *e = curl_easy_init();
    got g;
    memset(&g, 0, sizeof(g));
    curl_easy_setopt(e, CURLOPT_URL, u(s, "/nothing"));
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &g.status);
    assert_int_equal(g.status, 404);
    /* localhost is in the certificate too */
    char url[128];
    snprintf(url, sizeof(url), "https://localhost:%u/x", (unsigned)mc_port(s));
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_cleanup(e);
    char other[512];
    assert_int_equal(mc_tls_unrelated_ca_file(other, sizeof(other)), 0);
    e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, u(s, "/nothing"));
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_CAINFO, other);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
    assert_int_equal(curl_easy_perform(e), CURLE_PEER_FAILED_VERIFICATION);
    curl_easy_cleanup(e);
    mc_tls_remove_ca_file(other);
    FILE *f = fopen(other, "r");
    assert_null(f);
    char cafile[512];
    snprintf(cafile, sizeof(cafile), "%s", ca);
    mc_stop(s);
    f = fopen(cafile, "r"); /* the temp CA goes away with the server */
    assert_null(f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_fault_scope_and_count),
        cmocka_unit_test(test_stop_during_latency),
        cmocka_unit_test(test_tls_server),
    };
    int rc = cmocka_run_group_tests_name("mockcloud", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
