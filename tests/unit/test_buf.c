/* Unit tests of vp_buf helpers (core/src/base/buf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "secmem.h"
#include "vaultplug/error.h"

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i] != 0)
            return 0;
    }
    return 1;
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(vp_version(), VP_VERSION_STRING);
}

static void test_append(void **state)
{
    (void)state;
    vp_buf b = VP_BUF_INIT;
    assert_int_equal(vp__buf_append(&b, "", 0), 0);
    assert_non_null(b.data); /* an empty buffer after append is "" not NULL */
    assert_string_equal(b.data, "");
    assert_int_equal(vp__buf_append(&b, "abc", 3), 0);
    assert_int_equal(vp__buf_append_str(&b, "def"), 0);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "abcdef");
    assert_true(b.cap > b.len);
    assert_false(b.flags & VP__BUF_SECURE);
    /* Binary data with NULs. */
    assert_int_equal(vp__buf_append(&b, "\0x", 2), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "abcdef\0x", 9);
    /* Appending part of itself while it has to grow. */
    vp_buf s = VP_BUF_INIT;
    assert_int_equal(vp__buf_append_str(&s, "0123456789"), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(vp__buf_append(&s, s.data, s.len), 0);
    assert_int_equal(s.len, 10 * 1024);
    for (size_t i = 0; i < s.len; i++)
        assert_int_equal(s.data[i], '0' + (int)(i % 10));
    assert_int_equal(s.data[s.len], '\0');
    vp_buf_free(&s);
    /* Bad arguments. */
    assert_int_equal(vp__buf_append(NULL, "x", 1), VP_EINVAL);
    assert_int_equal(vp__buf_append(&b, NULL, 1), VP_EINVAL);
    assert_int_equal(vp__buf_append_str(&b, NULL), VP_EINVAL);
    assert_int_equal(vp__buf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 8);
    vp_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    vp_buf_free(&b); /* twice is fine */
    vp_buf_free(NULL);
}

static void test_growth_geometric(void **state)
{
    (void)state;
    vp_buf b = VP_BUF_INIT;
    size_t reallocs = 0, last_cap = 0;
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(vp__buf_append(&b, "x", 1), 0);
        if (b.cap != last_cap) {
            reallocs++;
            last_cap = b.cap;
        }
    }
    assert_int_equal(b.len, 100000);
    assert_true(reallocs <= 20); /* doubling: ~log2(100000 / 64) */
    vp_buf_free(&b);
}

static void test_limit(void **state)
{
    (void)state;
    vp_buf b = VP_BUF_INIT;
    assert_int_equal(vp__buf_append_str(&b, "abc"), 0);
    size_t cap = b.cap;
    char *data = b.data;
    assert_int_equal(vp__buf_reserve(&b, VP__BUF_MAX, 0), VP_ELIMIT);
    assert_int_equal(vp__buf_reserve(&b, SIZE_MAX, 0), VP_ELIMIT);
    assert_int_equal(vp__buf_reserve(&b, SIZE_MAX - 1, 1), VP_ELIMIT);
    /* Untouched on failure. */
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "abc");
    /* The boundary: len 3 + extra may reach VP__BUF_MAX but not exceed it. */
    assert_int_equal(vp__buf_reserve(&b, VP__BUF_MAX - 2, 0), VP_ELIMIT);
    assert_int_equal(vp__buf_reserve(NULL, 1, 0), VP_EINVAL);
    assert_int_equal(vp__buf_set_secure(&b, "x", VP__BUF_MAX + 1), VP_ELIMIT);
    vp_buf_free(&b);
}

static void test_reserve_secure(void **state)
{
    (void)state;
    vp_buf b = VP_BUF_INIT;
    assert_int_equal(vp__buf_reserve(&b, 100, 1), 0);
    assert_true(b.flags & VP__BUF_SECURE);
    assert_true(vp__secmem_owns(b.data));
    assert_true(b.cap >= 101);
    assert_string_equal(b.data, "");
    /* Growth stays in the arena, contents kept, the old block wiped. */
    assert_int_equal(vp__buf_append_str(&b, "top-secret-value"), 0);
    char *old = b.data;
    size_t old_cap = b.cap;
    assert_int_equal(vp__buf_reserve(&b, 10000, 0), 0);
    assert_true(vp__secmem_owns(b.data));
    assert_string_equal(b.data, "top-secret-value");
    assert_ptr_not_equal(b.data, old);
    assert_true(all_zero(old, old_cap)); /* small arena blocks stay mapped */
    vp_buf_free(&b);
    assert_true(b.flags & VP__BUF_SECURE); /* stays secure for reuse */
    assert_int_equal(vp__buf_append_str(&b, "again"), 0);
    assert_true(vp__secmem_owns(b.data));
    vp_buf_free(&b);

    /* A plain buffer asked to be secure moves into the arena. */
    vp_buf p = VP_BUF_INIT;
    assert_int_equal(vp__buf_append_str(&p, "plain"), 0);
    assert_false(vp__secmem_owns(p.data));
    assert_int_equal(vp__buf_reserve(&p, 1, 1), 0);
    assert_true(vp__secmem_owns(p.data));
    assert_string_equal(p.data, "plain");
    vp_buf_free(&p);
}

static void test_printf(void **state)
{
    (void)state;
    vp_buf b = VP_BUF_INIT;
    assert_int_equal(vp__buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "42-x");
    /* Growth inside printf: output much larger than the free space. */
    char big[5000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(vp__buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 4 + 1 + 4999 + 1);
    assert_int_equal(b.data[4], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vp__buf_printf(&b, "%04d", i), 0);
    assert_int_equal(b.len, 5005 + 4000);
    assert_memory_equal(b.data + b.len - 8, "09980999", 8);
    /* Exactly filling the free space. */
    vp_buf e = VP_BUF_INIT;
    assert_int_equal(vp__buf_reserve(&e, 10, 0), 0);
    size_t room = e.cap - 1;
    char *fill = malloc(room + 1);
    memset(fill, 'f', room);
    fill[room] = '\0';
    assert_int_equal(vp__buf_printf(&e, "%s", fill), 0);
    assert_int_equal(e.len, room);
    assert_int_equal(vp__buf_printf(&e, "%s", "g"), 0);
    assert_int_equal(e.len, room + 1);
    assert_int_equal(e.data[room], 'g');
    free(fill);
    vp_buf_free(&e);
    /* Secure printf stays secure. */
    vp_buf s = VP_BUF_INIT;
    assert_int_equal(vp__buf_reserve(&s, 1, 1), 0);
    assert_int_equal(vp__buf_printf(&s, "%s", big), 0);
    assert_true(vp__secmem_owns(s.data));
    assert_int_equal(s.len, 4999);
    vp_buf_free(&s);
    assert_int_equal(vp__buf_printf(NULL, "x"), VP_EINVAL);
    vp_buf_free(&b);
}

static void test_set_secure(void **state)
{
    (void)state;
    vp_buf b = VP_BUF_INIT;
    assert_int_equal(vp__buf_append_str(&b, "plain old text"), 0);
    assert_int_equal(vp__buf_set_secure(&b, "s3cr3t", 6), 0);
    assert_true(b.flags & VP__BUF_SECURE);
    assert_true(vp__secmem_owns(b.data));
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "s3cr3t");
    /* Source inside the buffer itself. */
    assert_int_equal(vp__buf_set_secure(&b, b.data + 2, 3), 0);
    assert_string_equal(b.data, "cr3");
    assert_int_equal(vp__buf_set_secure(&b, NULL, 0), 0);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(vp__buf_set_secure(&b, NULL, 1), VP_EINVAL);
    assert_int_equal(vp__buf_set_secure(NULL, "x", 1), VP_EINVAL);
    vp_buf_free(&b);
}

static void test_reset_wipes(void **state)
{
    (void)state;
    vp_buf b = VP_BUF_INIT;
    assert_int_equal(vp__buf_append_str(&b, "password=hunter2"), 0);
    char *data = b.data;
    size_t cap = b.cap;
    vp__buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data); /* storage kept */
    assert_int_equal(b.cap, cap);
    assert_true(all_zero(b.data, b.cap));
    assert_int_equal(vp__buf_append_str(&b, "new"), 0);
    assert_string_equal(b.data, "new");
    vp_buf_free(&b);

    vp_buf s = VP_BUF_INIT;
    assert_int_equal(vp__buf_set_secure(&s, "token-abcdef", 12), 0);
    data = s.data;
    vp__buf_reset(&s);
    assert_true(all_zero(s.data, s.cap));
    assert_true(s.flags & VP__BUF_SECURE);
    /* Free of a secure buffer wipes the arena block (which stays mapped). */
    assert_int_equal(vp__buf_append_str(&s, "token-abcdef"), 0);
    size_t scap = s.cap;
    vp_buf_free(&s);
    assert_true(all_zero(data, scap));
    vp__buf_reset(NULL);
    vp__buf_reset(&s); /* empty: no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),          cmocka_unit_test(test_append),
        cmocka_unit_test(test_growth_geometric), cmocka_unit_test(test_limit),
        cmocka_unit_test(test_reserve_secure),   cmocka_unit_test(test_printf),
        cmocka_unit_test(test_set_secure),       cmocka_unit_test(test_reset_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
