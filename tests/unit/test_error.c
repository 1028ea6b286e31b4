/* Unit tests of status names/messages and vp__err_set (core/src/base/error.c). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "errint.h"
#include "log.h"
#include "vaultplug/error.h"

/* The list, expanded here independently of error.c, to check every code. */
static const int all_codes[] = {
#define CODE(name, value, retry, msg) value,
    VP_STATUS_LIST(CODE)
#undef CODE
};
#define NCODES (sizeof(all_codes) / sizeof(all_codes[0]))

static void test_names_and_messages(void **state)
{
    (void)state;
    assert_true(NCODES >= 18);
    for (size_t i = 0; i < NCODES; i++) {
        int c = all_codes[i];
        const char *n = vp_err_name(c), *m = vp_strerror(c);
        assert_non_null(n);
        assert_non_null(m);
        assert_true(strncmp(n, "VP_", 3) == 0);
        assert_string_not_equal(n, "VP_EUNKNOWN");
        assert_string_not_equal(m, "unknown error");
        assert_true(strlen(m) > 0);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(n, vp_err_name(all_codes[j]));
            assert_string_not_equal(m, vp_strerror(all_codes[j]));
            assert_int_not_equal(c, all_codes[j]);
        }
        assert_int_equal(vp_status_normalize(c), c);
    }
    assert_string_equal(vp_err_name(VP_OK), "VP_OK");
    assert_string_equal(vp_err_name(VP_ENOTFOUND), "VP_ENOTFOUND");
    assert_string_equal(vp_err_name(VP_ELIMIT), "VP_ELIMIT");
    assert_string_equal(vp_strerror(VP_ENOTFOUND), "not found");
    assert_string_equal(vp_strerror(VP_OK), "success");
}

static void test_unknown(void **state)
{
    (void)state;
    static const int bad[] = {1, 5, -18, -100, INT_MIN, INT_MAX, VP__STATUS_MIN - 1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_string_equal(vp_err_name(bad[i]), "VP_EUNKNOWN");
        assert_string_equal(vp_strerror(bad[i]), "unknown error");
        assert_int_equal(vp_status_normalize(bad[i]), VP_EINTERNAL);
        assert_false(vp_status_retryable(bad[i]));
    }
}

static void test_retryable(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        int c = all_codes[i];
        int want = c == VP_ERATELIMIT || c == VP_EUNAVAIL || c == VP_ENETWORK || c == VP_ETIMEDOUT;
        assert_int_equal(!!vp_status_retryable(c), want);
    }
}

static void test_clear(void **state)
{
    (void)state;
    vp_error e;
    memset(&e, 'x', sizeof(e));
    vp_error_clear(&e);
    assert_int_equal(e.code, 0);
    assert_string_equal(e.message, "");
    vp_error_clear(NULL);
}

static void test_err_set(void **state)
{
    (void)state;
    vp_error e;
    vp_error_clear(&e);
    assert_int_equal(vp__err_set(&e, NULL, VP_EINVAL, "bad %s at %d", "thing", 7), VP_EINVAL);
    assert_int_equal(e.code, VP_EINVAL);
    assert_string_equal(e.message, "bad thing at 7");
    assert_int_equal(vp__err_set(&e, NULL, VP_ENOTFOUND, NULL), VP_ENOTFOUND);
    assert_string_equal(e.message, "not found");
    assert_int_equal(vp__err_set(NULL, NULL, VP_EIO, "x"), VP_EIO);
    /* Long messages are truncated to VP_ERROR_MAX with a marker. */
    char longs[2000];
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    vp__err_set(&e, NULL, VP_EPROTO, "%s", longs);
    assert_true(strlen(e.message) < VP_ERROR_MAX);
    assert_true(strlen(e.message) > VP_ERROR_MAX - 8);
    const char *mk = VP__TRUNCATED;
    assert_memory_equal(e.message + strlen(e.message) - strlen(mk), mk, strlen(mk));
}

static void test_err_set_redacts(void **state)
{
    (void)state;
    vp__log *log;
    assert_int_equal(vp__log_new(NULL, NULL, VP_LEVEL_TRACE, &log), 0);
    const char *canary = "CANARY-7f3a9c1e";
    vp__log_mask(log, canary, strlen(canary));
    vp_error e;
    vp__err_set(&e, log, VP_EAUTH, "token %s rejected (%s)", canary, canary);
    assert_int_equal(e.code, VP_EAUTH);
    assert_null(strstr(e.message, canary));
    assert_null(strstr(e.message, "CANARY"));
    assert_string_equal(e.message, "token [REDACTED] rejected ([REDACTED])");
    /* The secret straddling the VP_ERROR_MAX boundary is still redacted, not cut in half. */
    char pad[VP_ERROR_MAX];
    memset(pad, '.', sizeof(pad));
    for (size_t k = VP_ERROR_MAX - 20; k < VP_ERROR_MAX; k++) {
        pad[k] = '\0';
        vp__err_set(&e, log, VP_EAUTH, "%s%s tail", pad, canary);
        assert_null(strstr(e.message, "CANA"));
        assert_null(strstr(e.message, "7f3a"));
        pad[k] = '.';
    }
    vp__log_free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_messages),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_err_set),
        cmocka_unit_test(test_err_set_redacts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
