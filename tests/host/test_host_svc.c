/*
 * test_host_svc - the ABI 1.1 host services, called through the host table as a provider calls
 * them: string builder, percent-encoding/decoding (checked against libcurl), URL parsing,
 * query lookup, RFC 3339 / HTTP-date parsing, json_new_double and the loopback redirect
 * listener (driven by a real HTTP client over 127.0.0.1).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "call.h"
#include "host.h"
#include "log.h"
#include "secmem.h"

static const vp_host *H;

typedef struct fixture {
    vp__log *log;
    vp_host_ctx hc;
} fixture;

static char last_log[512];

static void null_log(void *ud, int level, const char *source, const char *message)
{
    (void)ud, (void)level, (void)source;
    snprintf(last_log, sizeof(last_log), "%s", message);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vp__secmem_init(), 0);
    assert_int_equal(vp__log_new(null_log, NULL, VP_LEVEL_TRACE, &f->log), 0);
    f->hc.source = "testprov";
    f->hc.log = f->log;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vp__log_free(f->log);
    free(f);
    return 0;
}

/* ---- versioning ---------------------------------------------------------------------------- */

static void test_table_is_1_1(void **state)
{
    (void)state;
    assert_int_equal(H->hdr.abi_major, 1);
    assert_int_equal(H->hdr.abi_minor, 1);
    assert_true(VP_HAS(vp_host, H, sb_new));
    assert_true(VP_HAS(vp_host, H, loopback_close));
    /* A 1.0 host's table (560 bytes) has none of them: what a provider's check sees. */
    vp_host old = *H;
    old.hdr.struct_size = 560;
    assert_true(VP_HAS(vp_host, &old, notify));
    assert_false(VP_HAS(vp_host, &old, sb_new));
    assert_false(VP_HAS(vp_host, &old, loopback_close));
}

/* ---- string builder ---------------------------------------------------------------------- */

static void test_sb_basic(void **state)
{
    (void)state;
    vp_sb *sb = H->sb_new(0, 0);
    assert_non_null(sb);
    size_t len = 99;
    assert_string_equal(H->sb_data(sb, &len), "");
    assert_int_equal(len, 0);
    assert_int_equal(H->sb_append_str(sb, "GET "), 0);
    assert_int_equal(H->sb_append(sb, "/x?yz", 2), 0);
    assert_int_equal(H->sb_printf(sb, " %d-%s", 42, "ok"), 0);
    assert_string_equal(H->sb_data(sb, &len), "GET /x 42-ok");
    assert_int_equal(len, 12);
    /* Appending the builder's own text to itself (the source moves when storage grows). */
    for (int i = 0; i < 8; i++) {
        const char *d = H->sb_data(sb, &len);
        assert_int_equal(H->sb_append(sb, d, len), 0);
    }
    H->sb_data(sb, &len);
    assert_int_equal(len, 12u << 8);
    /* The same for encoding a part of its own text. */
    H->sb_reset(sb);
    H->sb_append_str(sb, "a b");
    for (int i = 0; i < 6; i++) {
        const char *d = H->sb_data(sb, &len);
        assert_int_equal(H->sb_append_enc(sb, d, len, 0), 0);
    }
    assert_int_equal(strncmp(H->sb_data(sb, NULL), "a ba%20ba%20ba%2520b", 20), 0);
    H->sb_reset(sb);
    assert_string_equal(H->sb_data(sb, NULL), "");
    assert_int_equal(H->sb_status(sb), 0);
    H->sb_free(sb);
    H->sb_free(NULL);
    /* Flags and caps the host refuses. */
    assert_null(H->sb_new(VP_SB_HARD_MAX + 1, 0));
    assert_null(H->sb_new(0, 0x80));
}

static void test_sb_cap_is_hard_and_sticky(void **state)
{
    (void)state;
    vp_sb *sb = H->sb_new(10, VP_SB_SECURE);
    assert_non_null(sb);
    assert_int_equal(H->sb_append_str(sb, "0123456789"), 0); /* exactly the cap */
    assert_int_equal(H->sb_append(sb, "x", 1), VP_ELIMIT);
    /* Sticky: nothing more is appended, even what would fit after a reset of nothing. */
    assert_int_equal(H->sb_append(sb, "", 0), VP_ELIMIT);
    assert_int_equal(H->sb_printf(sb, "%s", ""), VP_ELIMIT);
    assert_int_equal(H->sb_append_enc(sb, "a", 1, 0), VP_ELIMIT);
    assert_int_equal(H->sb_status(sb), VP_ELIMIT);
    size_t len = 0;
    assert_string_equal(H->sb_data(sb, &len), "0123456789"); /* the text is kept */
    H->sb_reset(sb);
    assert_int_equal(H->sb_status(sb), 0);
    /* printf over the cap fails before writing anything; so does an encoding that expands. */
    assert_int_equal(H->sb_printf(sb, "%s", "01234567890"), VP_ELIMIT);
    assert_string_equal(H->sb_data(sb, NULL), "");
    H->sb_reset(sb);
    assert_int_equal(H->sb_append_enc(sb, "\xff\xff\xff\xff", 4, 0), VP_ELIMIT); /* 12 bytes */
    assert_string_equal(H->sb_data(sb, NULL), "");
    H->sb_reset(sb);
    assert_int_equal(H->sb_append_enc(sb, "\xff\xff\xff", 3, 0), 0); /* 9 bytes fit */
    assert_string_equal(H->sb_data(sb, NULL), "%FF%FF%FF");
    /* A NULL string is a caller bug: EINVAL, sticky too. */
    H->sb_reset(sb);
    assert_int_equal(H->sb_append_str(sb, NULL), VP_EINVAL);
    assert_int_equal(H->sb_append_str(sb, "a"), VP_EINVAL);
    H->sb_free(sb);
    /* The secure flag puts the text in the secure arena. */
    sb = H->sb_new(0, VP_SB_SECURE);
    assert_int_equal(H->sb_append_str(sb, "token"), 0);
    assert_true(vp__secmem_owns(H->sb_data(sb, NULL)));
    H->sb_free(sb);
}

static void test_sb_enc_matches_curl(void **state)
{
    (void)state;
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    vp_sb *sb = H->sb_new(0, 0);
    assert_int_equal(H->sb_append_enc(sb, all, sizeof(all), 0), 0);
    char *c = curl_easy_escape(NULL, all, (int)sizeof(all));
    assert_non_null(c);
    assert_string_equal(H->sb_data(sb, NULL), c);
    curl_free(c);
    /* Reserved characters, UTF-8 per byte, slash kept only when asked. */
    H->sb_reset(sb);
    const char *s = "a b/c?d=e&f#g+h%i~j.k_l-m\xc3\xa9";
    assert_int_equal(H->sb_append_enc(sb, s, strlen(s), 0), 0);
    assert_string_equal(H->sb_data(sb, NULL), "a%20b%2Fc%3Fd%3De%26f%23g%2Bh%25i~j.k_l-m%C3%A9");
    H->sb_reset(sb);
    assert_int_equal(H->sb_append_enc(sb, s, strlen(s), VP_ENC_KEEP_SLASH), 0);
    assert_string_equal(H->sb_data(sb, NULL), "a%20b/c%3Fd%3De%26f%23g%2Bh%25i~j.k_l-m%C3%A9");
    H->sb_reset(sb);
    assert_int_equal(H->sb_append_enc(sb, "a\0b", 3, 0), 0); /* length, not NUL, ends input */
    assert_string_equal(H->sb_data(sb, NULL), "a%00b");
    /* Form pairs: '&' between pairs, none first or right after '?'. */
    H->sb_reset(sb);
    assert_int_equal(H->sb_append_param(sb, "grant_type", "refresh_token"), 0);
    assert_int_equal(H->sb_append_param(sb, "scope", "a b/c&d=e"), 0);
    assert_string_equal(H->sb_data(sb, NULL), "grant_type=refresh_token&scope=a%20b%2Fc%26d%3De");
    H->sb_reset(sb);
    H->sb_append_str(sb, "https://h/p?");
    assert_int_equal(H->sb_append_param(sb, "k y", ""), 0);
    assert_int_equal(H->sb_append_param(sb, "v", "1"), 0);
    assert_string_equal(H->sb_data(sb, NULL), "https://h/p?k%20y=&v=1");
    assert_int_equal(H->sb_append_param(sb, NULL, "x"), VP_EINVAL);
    H->sb_free(sb);
}

/* ---- decoding and query strings ------------------------------------------------------------ */

static void test_url_decode(void **state)
{
    (void)state;
    char *out = NULL;
    size_t n = 0;
    const char *in = "a%20b%2Fc+d%C3%a9%7e";
    assert_int_equal(H->url_decode(in, strlen(in), 0, &out, &n), 0);
    assert_string_equal(out, "a b/c+d\xc3\xa9~");
    assert_true(vp__secmem_owns(out));
    int cl = 0;
    char *c = curl_easy_unescape(NULL, in, (int)strlen(in), &cl);
    assert_int_equal((size_t)cl, n);
    assert_memory_equal(c, out, n);
    curl_free(c);
    H->secure_free(out);
    assert_int_equal(H->url_decode("c+d", 3, VP_ENC_FORM, &out, &n), 0);
    assert_string_equal(out, "c d");
    H->secure_free(out);
    assert_int_equal(H->url_decode("x%00y", 5, 0, &out, &n), 0); /* NUL is data */
    assert_int_equal(n, 3);
    assert_memory_equal(out, "x\0y", 3);
    H->secure_free(out);
    /* Malformed escapes: an error, nothing half-decoded. */
    const char *bad[] = {"%", "%4", "ab%4", "%zz", "%g0", "%%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = (char *)1;
        assert_int_equal(H->url_decode(bad[i], strlen(bad[i]), 0, &out, &n), VP_EPROTO);
        assert_null(out);
    }
    /* Only n bytes are read. */
    assert_int_equal(H->url_decode("ab%41", 2, 0, &out, NULL), 0);
    assert_string_equal(out, "ab");
    H->secure_free(out);
}

static void test_url_query_get(void **state)
{
    (void)state;
    const char *q = "codex=no&code=x%2By+z&empty&state=&error_description=A%20b";
    size_t ql = strlen(q);
    char *v = NULL;
    size_t vl = 0;
    assert_int_equal(H->url_query_get(q, ql, "code", &v, &vl), 0);
    assert_string_equal(v, "x+y z");
    assert_int_equal(vl, 5);
    H->secure_free(v);
    assert_int_equal(H->url_query_get(q, ql, "empty", &v, NULL), 0);
    assert_string_equal(v, "");
    H->secure_free(v);
    assert_int_equal(H->url_query_get(q, ql, "state", &v, NULL), 0);
    assert_string_equal(v, "");
    H->secure_free(v);
    assert_int_equal(H->url_query_get(q, ql, "error_description", &v, NULL), 0);
    assert_string_equal(v, "A b");
    H->secure_free(v);
    assert_int_equal(H->url_query_get(q, ql, "cod", &v, NULL), VP_ENOTFOUND);
    assert_null(v);
    assert_int_equal(H->url_query_get(q, ql, "error", &v, NULL), VP_ENOTFOUND);
    assert_int_equal(H->url_query_get("a=%4", 4, "a", &v, NULL), VP_EPROTO);
    assert_int_equal(H->url_query_get("", 0, "a", &v, NULL), VP_ENOTFOUND);
    /* qlen bounds the search. */
    assert_int_equal(H->url_query_get("a=1&b=2", 3, "b", &v, NULL), VP_ENOTFOUND);
}

/* ---- URL parsing --------------------------------------------------------------------------- */

static void test_url_parse_parts(void **state)
{
    fixture *f = *state;
    vp_call call;
    vp__call_init(&call, &f->hc, 0);
    vp_url *u = NULL;
    assert_int_equal(
        H->url_parse(&call, "HTTP://us%40r:p%3Ass@[::1]:8200/v1/a%2Fb?x=1&y=%20#frag", 0, &u), 0);
    assert_string_equal(H->url_get(u, VP_URL_SCHEME), "http");
    assert_string_equal(H->url_get(u, VP_URL_USER), "us%40r");
    assert_string_equal(H->url_get(u, VP_URL_PASSWORD), "p%3Ass");
    assert_string_equal(H->url_get(u, VP_URL_HOST), "[::1]");
    assert_string_equal(H->url_get(u, VP_URL_PORT), "8200");
    assert_int_equal(H->url_port(u), 8200);
    assert_string_equal(H->url_get(u, VP_URL_PATH), "/v1/a%2Fb");
    assert_string_equal(H->url_get(u, VP_URL_QUERY), "x=1&y=%20");
    assert_string_equal(H->url_get(u, VP_URL_FRAGMENT), "frag");
    assert_null(H->url_get(u, (vp_url_part)8));
    H->url_free(u);

    assert_int_equal(H->url_parse(NULL, "https://Vault.Example.com", VP_URL_HTTP_ONLY, &u), 0);
    assert_string_equal(H->url_get(u, VP_URL_HOST), "Vault.Example.com");
    assert_null(H->url_get(u, VP_URL_PORT));
    assert_int_equal(H->url_port(u), 443); /* the scheme's default */
    assert_string_equal(H->url_get(u, VP_URL_PATH), "/");
    assert_null(H->url_get(u, VP_URL_QUERY));
    assert_null(H->url_get(u, VP_URL_USER));
    H->url_free(u);

    assert_int_equal(H->url_parse(NULL, "http://127.0.0.1:80/", 0, &u), 0);
    assert_string_equal(H->url_get(u, VP_URL_HOST), "127.0.0.1");
    assert_int_equal(H->url_port(u), 80);
    H->url_free(u);
    H->url_free(NULL);
}

static void test_url_parse_errors(void **state)
{
    fixture *f = *state;
    vp_call call;
    const char *bad[] = {"", "not a url", "http://", "http://host:99999/", "://x", "http://[::1/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vp__call_init(&call, &f->hc, 0);
        vp_url *u = (vp_url *)1;
        assert_int_equal(H->url_parse(&call, bad[i], 0, &u), VP_EINVAL);
        assert_null(u);
        assert_non_null(strstr(call.message, "bad URL"));
    }
    vp__call_init(&call, &f->hc, 0);
    vp_url *u = NULL;
    assert_int_equal(H->url_parse(&call, "ftp://files.example.com/x", VP_URL_HTTP_ONLY, &u),
                     VP_EINVAL);
    assert_non_null(strstr(call.message, "http or https"));
    /* Without the flag any scheme parses. */
    assert_int_equal(H->url_parse(NULL, "ftp://files.example.com/x", 0, &u), 0);
    H->url_free(u);
    /* The message never repeats a password from the userinfo. */
    vp__call_init(&call, &f->hc, 0);
    assert_int_equal(H->url_parse(&call, "http://user:hunter2secret@:99999/", 0, &u), VP_EINVAL);
    assert_null(strstr(call.message, "hunter2secret"));
}

/* ---- time ---------------------------------------------------------------------------------- */

static int64_t tp(const char *s, uint32_t fmt)
{
    int64_t ms = 0;
    return H->time_parse(s, strlen(s), fmt, &ms) == 0 ? ms : INT64_MIN;
}

static void test_time_rfc3339(void **state)
{
    (void)state;
    const uint32_t R = VP_TIME_RFC3339;
    assert_int_equal(tp("1970-01-01T00:00:00Z", R), 0);
    assert_int_equal(tp("2024-01-15T13:00:00Z", R), 1705323600000);
    assert_int_equal(tp("2024-01-15t13:00:00z", R), 1705323600000);
    assert_int_equal(tp("2024-01-15 13:00:00Z", R), 1705323600000);
    assert_int_equal(tp("2024-01-15T13:00:00.5Z", R), 1705323600500);
    assert_int_equal(tp("2024-01-15T13:00:00.123456789Z", R), 1705323600123);
    assert_int_equal(tp("2024-01-15T15:00:00+02:00", R), 1705323600000);
    assert_int_equal(tp("2024-01-15T07:30:00-05:30", R), 1705323600000);
    assert_int_equal(tp("1969-12-31T23:59:59Z", R), -1000);
    /* Leap second: counts as the next minute's second 0 (POSIX time). */
    assert_int_equal(tp("2016-12-31T23:59:60Z", R), tp("2017-01-01T00:00:00Z", R));
    /* Calendar checks. */
    assert_int_equal(tp("2024-02-29T00:00:00Z", R), 1709164800000);
    assert_int_equal(tp("2023-02-29T00:00:00Z", R), INT64_MIN);
    assert_int_equal(tp("2000-02-29T00:00:00Z", R), 951782400000);
    assert_int_equal(tp("1900-02-29T00:00:00Z", R), INT64_MIN);
    const char *bad[] = {"2024-02-30T00:00:00Z",
                         "2024-13-01T00:00:00Z",
                         "2024-04-31T00:00:00Z",
                         "2024-01-15T24:00:00Z",
                         "2024-01-15T13:60:00Z",
                         "2024-01-15T13:00:61Z",
                         "2024-01-15T13:00:00",
                         "2024-01-15T13:00:00UTC",
                         "2024-01-15T13:00:00+2:00",
                         "2024-01-15T13:00:00+24:00",
                         "2024-01-15T13:00:00.Z",
                         "2024-01-15T13:00:00Zjunk",
                         "2024-1-15T13:00:00Z",
                         "",
                         "2024-01-15",
                         "Sun, 06 Nov 1994 08:49:37 GMT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tp(bad[i], R), INT64_MIN);
    /* Lenient: no zone and "UTC" mean UTC (AWS's SSO cache). */
    assert_int_equal(tp("2024-01-15T13:00:00", R | VP_TIME_LENIENT), 1705323600000);
    assert_int_equal(tp("2024-01-15T13:00:00UTC", R | VP_TIME_LENIENT), 1705323600000);
    /* n bounds the input: trailing bytes past n are not read. */
    int64_t ms = 0;
    assert_int_equal(H->time_parse("2024-01-15T13:00:00Zxx", 20, R, &ms), 0);
    assert_int_equal(ms, 1705323600000);
    assert_int_equal(H->time_parse("2024-01-15T13:00:00Z", 20, 0x40, &ms), VP_EINVAL);
}

static void test_time_http_date(void **state)
{
    (void)state;
    const uint32_t D = VP_TIME_HTTP;
    assert_int_equal(tp("Sun, 06 Nov 1994 08:49:37 GMT", D), 784111777000);
    assert_int_equal(tp("Thu, 01 Jan 1970 00:00:00 GMT", D), 0);
    assert_int_equal(tp("Thu, 29 Feb 2024 12:00:00 GMT", D), 1709208000000);
    const char *bad[] = {"Mon, 06 Nov 1994 08:49:37 GMT",  /* wrong weekday */
                         "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 (obsolete) */
                         "Sun Nov  6 08:49:37 1994",       /* asctime (obsolete) */
                         "Sun, 06 Nov 1994 08:49:37 UTC",  "Sun, 6 Nov 1994 08:49:37 GMT",
                         "Sun, 06 Foo 1994 08:49:37 GMT",  "Thu, 30 Feb 2024 12:00:00 GMT",
                         "Sun, 06 Nov 1994 08:49:37 GMT ", "1994-11-06T08:49:37Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tp(bad[i], D), INT64_MIN);
    /* Both formats at once: whichever matches. */
    assert_int_equal(tp("1994-11-06T08:49:37Z", D | VP_TIME_RFC3339), 784111777000);
    assert_int_equal(tp("Sun, 06 Nov 1994 08:49:37 GMT", D | VP_TIME_RFC3339), 784111777000);
}

static int64_t fixed_now(void *ud)
{
    (void)ud;
    return 784111777000; /* Sun, 06 Nov 1994 08:49:37 GMT */
}

static void test_http_retry_after(void **state)
{
    fixture *f = *state;
    f->hc.wall_clock_ms = fixed_now;
    vp_call call;
    vp__call_init(&call, &f->hc, 0);
    assert_int_equal(H->http_retry_after_ms(&call, NULL), 0);
    assert_int_equal(H->http_retry_after_ms(&call, "0"), 0);
    assert_int_equal(H->http_retry_after_ms(&call, "120"), 120000);
    assert_int_equal(H->http_retry_after_ms(&call, "3600"), 3600000);
    assert_int_equal(H->http_retry_after_ms(&call, "3601"), 3600000);                 /* capped */
    assert_int_equal(H->http_retry_after_ms(&call, "99999999999999999999"), 3600000); /* no wrap */
    assert_int_equal(H->http_retry_after_ms(&call, "Sun, 06 Nov 1994 08:51:37 GMT"), 120000);
    assert_int_equal(H->http_retry_after_ms(&call, "Sun, 06 Nov 1994 08:49:00 GMT"), 0); /* past */
    assert_int_equal(H->http_retry_after_ms(&call, "Mon, 07 Nov 1994 08:49:37 GMT"), 3600000);
    const char *bad[] = {"", "-1", "1.5", "12s", " 12", "Sunday, 06-Nov-94 08:49:37 GMT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(H->http_retry_after_ms(&call, bad[i]), 0);
    f->hc.wall_clock_ms = NULL;
}

static void test_json_new_double(void **state)
{
    (void)state;
    assert_null(H->json_new_double(NAN));
    assert_null(H->json_new_double(INFINITY));
    vp_json *o = H->json_new_object();
    assert_int_equal(H->json_set(o, "d", H->json_new_double(1.5)), 0);
    assert_int_equal(H->json_set(o, "e", H->json_new_double(2.0)), 0);
    size_t len = 0;
    char *s = H->json_dump(o, &len);
    assert_string_equal(s, "{\"d\":1.5,\"e\":2.0}");
    H->secure_free(s);
    H->json_free(o);
}

/* ---- loopback redirect listener ------------------------------------------------------------ */

typedef struct client {
    uint16_t port;
    int delay_ms;
    const char *reqs[4]; /* sent one per connection, in order */
    char resp[4][2048];
    int connect_errno[4];
} client;

static void *client_run(void *ud)
{
    client *c = ud;
    if (c->delay_ms > 0) {
        struct timespec ts = {c->delay_ms / 1000, (long)(c->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 4 && c->reqs[i] != NULL; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons(c->port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            c->connect_errno[i] = errno;
            close(fd);
            continue;
        }
        (void)send(fd, c->reqs[i], strlen(c->reqs[i]), MSG_NOSIGNAL);
        size_t n = 0;
        ssize_t r;
        while (n + 1 < sizeof(c->resp[i]) &&
               (r = recv(fd, c->resp[i] + n, sizeof(c->resp[i]) - 1 - n, 0)) > 0)
            n += (size_t)r;
        c->resp[i][n] = '\0';
        close(fd);
    }
    return NULL;
}

static void test_loopback_redirect(void **state)
{
    fixture *f = *state;
    vp_call call;
    vp__call_init(&call, &f->hc, 10000);
    vp_loopback *l = NULL;
    uint16_t port = 0;
    assert_int_equal(H->loopback_listen(&call, "/cb", &l, &port), 0);
    assert_true(port > 0);
    client c = {.port = port,
                .reqs = {"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n",
                         "POST /cb?code=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                         "GET /cb?foo=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                         "GET /cb?code=the%2Bcode&state=S1 HTTP/1.1\r\nHost: x\r\n\r\n"}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_run, &c), 0);
    char *q = NULL;
    size_t ql = 0;
    int rc = H->loopback_wait(l, &call, "S1", &q, &ql);
    pthread_join(t, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(q, "code=the%2Bcode&state=S1");
    assert_int_equal(ql, strlen(q));
    assert_true(vp__secmem_owns(q));
    assert_non_null(strstr(c.resp[0], "HTTP/1.1 404"));
    assert_non_null(strstr(c.resp[1], "HTTP/1.1 400"));
    assert_non_null(strstr(c.resp[2], "HTTP/1.1 400"));
    assert_non_null(strstr(c.resp[3], "HTTP/1.1 200"));
    assert_non_null(strstr(c.resp[3], "Signed in"));
    char *code = NULL;
    assert_int_equal(H->url_query_get(q, ql, "code", &code, NULL), 0);
    assert_string_equal(code, "the+code");
    /* The code is masked in everything the host logs until the provider unmasks it. */
    H->log(&f->hc, VP_LOG_INFO, "got %s", code);
    assert_null(strstr(last_log, "the+code"));
    H->unmask(&f->hc, code, strlen(code));
    H->log(&f->hc, VP_LOG_INFO, "got %s", code);
    assert_non_null(strstr(last_log, "the+code"));
    H->secure_free(code);
    H->secure_free(q);

    /* Second request: the listener is done; waiting again is an error, connecting is refused. */
    q = (char *)1;
    assert_int_equal(H->loopback_wait(l, &call, "S1", &q, NULL), VP_EINVAL);
    assert_null(q);
    assert_non_null(strstr(call.message, "already received"));
    client c2 = {.port = port, .reqs = {"GET /cb?code=2&state=S1 HTTP/1.1\r\n\r\n"}};
    client_run(&c2);
    assert_int_equal(c2.connect_errno[0], ECONNREFUSED);
    H->loopback_close(l);
    H->loopback_close(NULL);
}

static void test_loopback_error_and_state(void **state)
{
    fixture *f = *state;
    vp_call call;
    vp__call_init(&call, &f->hc, 10000);
    vp_loopback *l = NULL;
    uint16_t port = 0;
    /* Consent declined: the provider gets the query and reads `error` itself. */
    assert_int_equal(H->loopback_listen(&call, "/", &l, &port), 0);
    client c = {.port = port,
                .reqs = {"GET /?error=access_denied&error_description=<b>No</b>&state=S "
                         "HTTP/1.1\r\n\r\n"}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_run, &c), 0);
    char *q = NULL;
    assert_int_equal(H->loopback_wait(l, &call, "S", &q, NULL), 0);
    pthread_join(t, NULL);
    assert_non_null(strstr(c.resp[0], "Sign-in failed"));
    assert_non_null(strstr(c.resp[0], "access_denied: &lt;b&gt;No&lt;/b&gt;")); /* escaped */
    char *e = NULL;
    assert_int_equal(H->url_query_get(q, strlen(q), "error", &e, NULL), 0);
    assert_string_equal(e, "access_denied");
    H->secure_free(e);
    H->secure_free(q);
    H->loopback_close(l);

    /* Wrong state: the browser is told, the call fails with VP_EAUTH. */
    assert_int_equal(H->loopback_listen(&call, "/", &l, &port), 0);
    client c2 = {.port = port, .reqs = {"GET /?code=abc&state=forged HTTP/1.1\r\n\r\n"}};
    assert_int_equal(pthread_create(&t, NULL, client_run, &c2), 0);
    q = (char *)1;
    assert_int_equal(H->loopback_wait(l, &call, "expected", &q, NULL), VP_EAUTH);
    pthread_join(t, NULL);
    assert_null(q);
    assert_non_null(strstr(call.message, "state did not match"));
    assert_non_null(strstr(c2.resp[0], "HTTP/1.1 400"));
    assert_non_null(strstr(c2.resp[0], "state mismatch"));
    H->loopback_close(l);

    /* A missing state parameter counts as a mismatch too. */
    assert_int_equal(H->loopback_listen(&call, "/", &l, &port), 0);
    client c3 = {.port = port, .reqs = {"GET /?code=abc HTTP/1.1\r\n\r\n"}};
    assert_int_equal(pthread_create(&t, NULL, client_run, &c3), 0);
    assert_int_equal(H->loopback_wait(l, &call, "expected", &q, NULL), VP_EAUTH);
    pthread_join(t, NULL);
    H->loopback_close(l);

    /* Bad paths are refused before any socket is opened. */
    vp__call_init(&call, &f->hc, 0);
    assert_int_equal(H->loopback_listen(&call, "cb", &l, &port), VP_EINVAL);
    assert_int_equal(H->loopback_listen(&call, "/cb?x=1", &l, &port), VP_EINVAL);
    assert_null(l);
}

static void *cancel_later(void *ud)
{
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    vp__call_cancel(ud);
    return NULL;
}

static void test_loopback_timeout_and_cancel(void **state)
{
    fixture *f = *state;
    vp_call call;
    vp__call_init(&call, &f->hc, 300);
    vp_loopback *l = NULL;
    uint16_t port = 0;
    assert_int_equal(H->loopback_listen(&call, "/", &l, &port), 0);
    /* A browser that connects but never sends a full request does not hold the deadline up
     * past the client read limit; here nobody comes at all. */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    char *q = NULL;
    assert_int_equal(H->loopback_wait(l, &call, NULL, &q, NULL), VP_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_true(ms >= 250 && ms < 2000);
    assert_non_null(strstr(call.message, "did not come back in time"));
    H->loopback_close(l);

    vp__call_init(&call, &f->hc, 0); /* no deadline: only cancellation ends it */
    assert_int_equal(H->loopback_listen(&call, "/", &l, &port), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &call), 0);
    assert_int_equal(H->loopback_wait(l, &call, NULL, &q, NULL), VP_ECANCELED);
    pthread_join(t, NULL);
    assert_non_null(strstr(call.message, "canceled"));
    H->loopback_close(l);
}

int main(void)
{
    H = vp__host_table();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_1_1),
        cmocka_unit_test(test_sb_basic),
        cmocka_unit_test(test_sb_cap_is_hard_and_sticky),
        cmocka_unit_test(test_sb_enc_matches_curl),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_url_query_get),
        cmocka_unit_test_setup_teardown(test_url_parse_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_parse_errors, setup, teardown),
        cmocka_unit_test(test_time_rfc3339),
        cmocka_unit_test(test_time_http_date),
        cmocka_unit_test_setup_teardown(test_http_retry_after, setup, teardown),
        cmocka_unit_test(test_json_new_double),
        cmocka_unit_test_setup_teardown(test_loopback_redirect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_error_and_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_timeout_and_cancel, setup, teardown),
    };
    assert_int_equal(vp__secmem_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
