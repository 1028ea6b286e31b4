/*
 * test_cli_exit - the exit status of every status class (cli_exit_for_status is the one place
 * that maps them; scripts depend on these numbers, so they are spelled out literally here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli.h"

static void test_documented_mapping(void **state)
{
    (void)state;
    assert_int_equal(cli_exit_for_status(VP_OK), 0);
    assert_int_equal(cli_exit_for_status(VP_EINVAL), 2);
    assert_int_equal(cli_exit_for_status(VP_ELIMIT), 2); /* a limit is a bad value too */
    assert_int_equal(cli_exit_for_status(VP_ENOTFOUND), 3);
    assert_int_equal(cli_exit_for_status(VP_EAUTH), 4);
    assert_int_equal(cli_exit_for_status(VP_EPERM), 5);
    assert_int_equal(cli_exit_for_status(VP_ENETWORK), 6);
    assert_int_equal(cli_exit_for_status(VP_ETIMEDOUT), 6);
    assert_int_equal(cli_exit_for_status(VP_EUNAVAIL), 6);
    assert_int_equal(cli_exit_for_status(VP_ERATELIMIT), 7);
    assert_int_equal(cli_exit_for_status(VP_EPROTO), 8);
}

/* Everything else is 9, including codes outside the list; nothing maps to 1 or to success. */
static void test_other_is_internal(void **state)
{
    (void)state;
    const int others[] = {VP_ENOMEM, VP_ENOTSUP, VP_EABI, VP_ECANCELED, VP_EINTERNAL, VP_EEXIST,
                          VP_EIO,    -1000,      42};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_int_equal(cli_exit_for_status(others[i]), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_mapping),
        cmocka_unit_test(test_other_is_internal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
