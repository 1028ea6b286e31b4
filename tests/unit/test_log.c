/* Unit tests of logging and the redactor (core/src/base/log.c). */
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

#include "log.h"
#include "vaultplug/error.h"

#define CANARY "CANARY-5ecret-8b1d2e"

/* Everything the callback received, for inspection. */
typedef struct capture {
    pthread_mutex_t mu;
    int calls;
    int last_level;
    char last_source[64];
    char last[VP__LOG_MSG_MAX + 16];
    size_t max_len;
    int leaks; /* messages that contained any part of a watched secret */
    const char *watch[4];
} capture;

static capture cap = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void reset_capture(void)
{
    pthread_mutex_lock(&cap.mu);
    cap.calls = 0;
    cap.last_level = -1;
    cap.last[0] = '\0';
    cap.last_source[0] = '\0';
    cap.max_len = 0;
    cap.leaks = 0;
    memset(cap.watch, 0, sizeof(cap.watch));
    pthread_mutex_unlock(&cap.mu);
}

/* A leak is the whole secret or any 6-byte piece of it. */
static int contains_piece(const char *msg, const char *secret)
{
    size_t sl = strlen(secret), k = sl < 6 ? sl : 6;
    for (size_t i = 0; i + k <= sl; i++) {
        char piece[8];
        memcpy(piece, secret + i, k);
        piece[k] = '\0';
        if (strstr(msg, piece) != NULL)
            return 1;
    }
    return 0;
}

static void cb(void *ud, int level, const char *source, const char *message)
{
    capture *c = ud;
    pthread_mutex_lock(&c->mu);
    c->calls++;
    c->last_level = level;
    snprintf(c->last_source, sizeof(c->last_source), "%s", source);
    snprintf(c->last, sizeof(c->last), "%s", message);
    size_t n = strlen(message);
    if (n > c->max_len)
        c->max_len = n;
    for (int i = 0; i < 4 && c->watch[i]; i++)
        c->leaks += contains_piece(message, c->watch[i]);
    pthread_mutex_unlock(&c->mu);
}

static vp__log *new_log(int level)
{
    vp__log *log = NULL;
    assert_int_equal(vp__log_new(cb, &cap, level, &log), 0);
    assert_non_null(log);
    reset_capture();
    return log;
}

static void test_level_filter(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_INFO);
    assert_true(vp__log_enabled(log, VP_LEVEL_ERROR));
    assert_true(vp__log_enabled(log, VP_LEVEL_INFO));
    assert_false(vp__log_enabled(log, VP_LEVEL_DEBUG));
    assert_false(vp__log_enabled(NULL, VP_LEVEL_ERROR));
    vp__log_write(log, VP_LEVEL_DEBUG, "core", "hidden");
    vp__log_write(log, VP_LEVEL_TRACE, "core", "hidden");
    assert_int_equal(cap.calls, 0);
    vp__log_write(log, VP_LEVEL_WARN, "aws", "shown %d", 1);
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.last_level, VP_LEVEL_WARN);
    assert_string_equal(cap.last_source, "aws");
    assert_string_equal(cap.last, "shown 1");
    vp__log_write(log, VP_LEVEL_ERROR, NULL, "no source");
    assert_string_equal(cap.last_source, "core");
    vp__log_free(log);
    vp__log_free(NULL);
    assert_int_equal(vp__log_new(cb, &cap, 0, NULL), VP_EINVAL);
}

static void test_null_callback_silent(void **state)
{
    (void)state;
    vp__log *log = NULL;
    assert_int_equal(vp__log_new(NULL, NULL, VP_LEVEL_TRACE, &log), 0);
    reset_capture();
    assert_false(vp__log_enabled(log, VP_LEVEL_ERROR));
    vp__log_write(log, VP_LEVEL_ERROR, "core", "nothing %s", "here");
    vp__log_write(NULL, VP_LEVEL_ERROR, "core", "nothing");
    assert_int_equal(cap.calls, 0);
    /* Still a working redactor. */
    vp__log_mask(log, CANARY, strlen(CANARY));
    char out[64];
    vp__log_redact(log, "a " CANARY " b", strlen("a " CANARY " b"), out, sizeof(out));
    assert_string_equal(out, "a [REDACTED] b");
    vp__log_free(log);
}

/* Log `msg` and check the callback got `want`. */
static void check_line(vp__log *log, const char *msg, const char *want)
{
    vp__log_write(log, VP_LEVEL_ERROR, "core", "%s", msg);
    assert_string_equal(cap.last, want);
    assert_null(strstr(cap.last, CANARY));
}

static void test_mask_positions(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_TRACE);
    vp__log_mask(log, CANARY, strlen(CANARY));
    check_line(log, "token=" CANARY " ok", "token=[REDACTED] ok");
    check_line(log, CANARY " at start", "[REDACTED] at start");
    check_line(log, "at end " CANARY, "at end [REDACTED]");
    check_line(log, CANARY, "[REDACTED]");
    check_line(log, CANARY CANARY, "[REDACTED]"); /* adjacent: one run */
    check_line(log, CANARY "," CANARY "," CANARY, "[REDACTED],[REDACTED],[REDACTED]");
    check_line(log, "nothing secret", "nothing secret");
    /* Format arguments, not just the format string. */
    vp__log_write(log, VP_LEVEL_ERROR, "core", "Authorization: Bearer %s; retry %d", CANARY, 3);
    assert_string_equal(cap.last, "Authorization: Bearer [REDACTED]; retry 3");
    /* Overlapping occurrences of one mask. */
    vp__log_mask(log, "abab", 4);
    check_line(log, "xababababx", "x[REDACTED]x");
    vp__log_free(log);
}

static void test_overlapping_masks(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_TRACE);
    /* A short mask inside a longer one: masked in either order, no fragment survives. */
    vp__log_mask(log, "pass", 4);
    vp__log_mask(log, "password-XYZ-123", 16);
    check_line(log, "v=password-XYZ-123;", "v=[REDACTED];");
    check_line(log, "v=pass;", "v=[REDACTED];");
    /* Two masks overlapping in the text: the union is redacted. */
    vp__log_mask(log, "AAAABBBB", 8);
    vp__log_mask(log, "BBBBCCCC", 8);
    check_line(log, "<AAAABBBBCCCC>", "<[REDACTED]>");
    assert_null(strstr(cap.last, "CCCC"));
    assert_null(strstr(cap.last, "AAAA"));
    /* Too short to mask. */
    vp__log_mask(log, "abc", 3);
    check_line(log, "abc", "abc");
    vp__log_mask(log, NULL, 10); /* ignored */
    vp__log_free(log);
}

static void test_unmask_refcount(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_TRACE);
    vp__log_mask(log, CANARY, strlen(CANARY));
    vp__log_mask(log, CANARY, strlen(CANARY));
    vp__log_unmask(log, CANARY, strlen(CANARY));
    check_line(log, CANARY, "[REDACTED]"); /* still one reference */
    vp__log_unmask(log, CANARY, strlen(CANARY));
    vp__log_write(log, VP_LEVEL_ERROR, "core", "%s", CANARY);
    assert_string_equal(cap.last, CANARY);       /* gone */
    vp__log_unmask(log, CANARY, strlen(CANARY)); /* unknown: no-op */
    /* Same prefix, different length: distinct masks. */
    vp__log_mask(log, "secretA", 7);
    vp__log_mask(log, "secretAB", 8);
    vp__log_unmask(log, "secretAB", 8);
    check_line(log, "secretA", "[REDACTED]");
    vp__log_free(log);
}

static size_t fmt_into(vp__log *log, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t fmt_into(vp__log *log, char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t r = vp__log_vformat(log, out, n, fmt, ap);
    va_end(ap);
    return r;
}

static void test_truncation(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_TRACE);
    size_t cl = strlen(CANARY);
    /* Long plain line: bounded, ends with the marker. */
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    vp__log_write(log, VP_LEVEL_ERROR, "core", "%s", big);
    assert_true(cap.max_len <= VP__LOG_MSG_MAX - 1);
    assert_true(cap.max_len > VP__LOG_MSG_MAX - 8);
    const char *mk = VP__TRUNCATED;
    assert_memory_equal(cap.last + strlen(cap.last) - strlen(mk), mk, strlen(mk));

    /* A secret at every position around the truncation point of the line and of the 4 KiB
     * stack buffer: never a piece of it in the output. */
    vp__log_mask(log, CANARY, cl);
    cap.watch[0] = CANARY;
    for (size_t at = VP__LOG_MSG_MAX - cl - 12; at < VP__LOG_MSG_MAX + 4; at++) {
        memset(big, 'x', 19999);
        memcpy(big + at, CANARY, cl);
        vp__log_write(log, VP_LEVEL_ERROR, "core", "%s", big);
        /* Redactions shrink nothing here (marker shorter than the canary), check via watch. */
    }
    /* Many secrets: the redacted text is shorter, secrets beyond 4 KiB of input are redacted. */
    big[0] = '\0';
    for (int i = 0; i < 400; i++)
        strcat(big, CANARY " ");
    vp__log_write(log, VP_LEVEL_ERROR, "core", "%s", big);
    /* Past VP__LOG_FMT_MAX: the formatted text itself is cut; a cut secret is still redacted. */
    char *huge = malloc(VP__LOG_FMT_MAX + 100);
    for (size_t at = VP__LOG_FMT_MAX - cl; at < VP__LOG_FMT_MAX + 2; at++) {
        memset(huge, 'y', VP__LOG_FMT_MAX + 99);
        huge[VP__LOG_FMT_MAX + 99] = '\0';
        memcpy(huge + at, CANARY, cl);
        /* Into a big output buffer, so the cut of the formatted text is what shows. */
        static char out[VP__LOG_FMT_MAX + 16];
        size_t n = fmt_into(log, out, sizeof(out), "%s", huge);
        assert_true(n < sizeof(out));
        assert_false(contains_piece(out, CANARY));
    }
    assert_int_equal(cap.leaks, 0);
    assert_true(cap.calls > 10);
    free(huge);
    free(big);
    vp__log_free(log);
}

static void test_redact_direct(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_TRACE);
    vp__log_mask(log, CANARY, strlen(CANARY));
    char out[32];
    /* Plain copy with NULL log, truncated with a marker. */
    size_t n = vp__log_redact(NULL, "hello", 5, out, sizeof(out));
    assert_int_equal(n, 5);
    assert_string_equal(out, "hello");
    /* The secret crosses the end of a small output buffer: the redaction is cut whole. */
    const char *in = "0123456789012345678901234 " CANARY;
    n = vp__log_redact(log, in, strlen(in), out, 32);
    assert_true(n < 32);
    assert_false(contains_piece(out, CANARY));
    assert_null(strstr(out, "[RED")); /* no half marker either */
    /* Several redactions after the cut must not make it forget the one the cut falls in. */
    const char *in2 = "0123456789012345678901234 " CANARY " " CANARY " " CANARY " " CANARY;
    for (size_t c = 12; c <= sizeof(out); c++) {
        n = vp__log_redact(log, in2, strlen(in2), out, c);
        assert_true(n < c);
        assert_false(contains_piece(out, CANARY));
        const char *r = strstr(out, "[");
        if (r != NULL)
            assert_memory_equal(r, "[REDACTED]", 10);
    }
    /* Tiny output buffers. */
    n = vp__log_redact(log, CANARY, strlen(CANARY), out, 1);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    n = vp__log_redact(log, CANARY, strlen(CANARY), out, 3);
    assert_false(contains_piece(out, CANARY));
    assert_int_equal(vp__log_redact(log, "x", 1, NULL, 0), 0);
    n = vp__log_redact(log, NULL, 0, out, sizeof(out));
    assert_string_equal(out, "");
    /* Truncation does not split a UTF-8 sequence. */
    char u[64] = "";
    for (int i = 0; i < 15; i++)
        strcat(u, "\xc3\xa9"); /* é */
    n = vp__log_redact(NULL, u, strlen(u), out, 16);
    assert_true(n <= 15);
    const char *mk = VP__TRUNCATED;
    assert_memory_equal(out + n - strlen(mk), mk, strlen(mk));
    assert_int_equal((n - strlen(mk)) % 2, 0);
    vp__log_free(log);
}

#define NTHREADS 8
#define NLINES   2000

typedef struct targ {
    vp__log *log;
    int id;
} targ;

static void *log_worker(void *arg)
{
    targ *t = arg;
    char secret[32];
    snprintf(secret, sizeof(secret), "thread-secret-%02d-xyz", t->id);
    for (int i = 0; i < NLINES; i++) {
        /* The global canary stays masked throughout; each thread also masks and unmasks its own
         * value, and logs it only while masked. */
        vp__log_mask(t->log, secret, strlen(secret));
        vp__log_write(t->log, VP_LEVEL_INFO, "t", "line %d key=%s canary=%s", i, secret, CANARY);
        vp__log_unmask(t->log, secret, strlen(secret));
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_TRACE);
    vp__log_mask(log, CANARY, strlen(CANARY));
    cap.watch[0] = CANARY;
    cap.watch[1] = "thread-secret";
    pthread_t th[NTHREADS];
    targ args[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (targ){log, i};
        assert_int_equal(pthread_create(&th[i], NULL, log_worker, &args[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(cap.calls, NTHREADS * NLINES);
    assert_int_equal(cap.leaks, 0);
    vp__log_free(log);
}

static void test_many_masks(void **state)
{
    (void)state;
    vp__log *log = new_log(VP_LEVEL_TRACE);
    char v[300][24];
    for (int i = 0; i < 300; i++) {
        /* Secret-like values: 20 pseudo-random alphanumerics. */
        static const char an[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        static uint32_t seed = 12345;
        for (int j = 0; j < 20; j++) {
            seed = seed * 1103515245u + 12345u;
            v[i][j] = an[(seed >> 16) % (sizeof(an) - 1)];
        }
        v[i][20] = '\0';
        vp__log_mask(log, v[i], strlen(v[i]));
    }
    for (int i = 0; i < 300; i += 37) {
        vp__log_write(log, VP_LEVEL_ERROR, "core", "got %s!", v[i]);
        assert_string_equal(cap.last, "got [REDACTED]!");
    }
    /* Figure only: the cost of one typical line through 300 masks. */
    struct timespec a, b;
    char out[VP__LOG_MSG_MAX];
    const char *line = "GET https://vault.example.com/v1/secret/data/app/config?version=3 -> 200 "
                       "(1234 bytes, 12 ms) request-id=9f8e7d6c5b4a3928";
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 2000; i++)
        vp__log_redact(log, line, strlen(line), out, sizeof(out));
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("# redact %zu-byte line through 300 masks: %.0f ns\n", strlen(line),
           ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 2000);
    for (int i = 0; i < 300; i++)
        vp__log_unmask(log, v[i], strlen(v[i]));
    vp__log_write(log, VP_LEVEL_ERROR, "core", "got %s!", v[0]);
    char want[64];
    snprintf(want, sizeof(want), "got %s!", v[0]);
    assert_string_equal(cap.last, want);
    vp__log_free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_filter),    cmocka_unit_test(test_null_callback_silent),
        cmocka_unit_test(test_mask_positions),  cmocka_unit_test(test_overlapping_masks),
        cmocka_unit_test(test_unmask_refcount), cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_redact_direct),   cmocka_unit_test(test_many_masks),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
