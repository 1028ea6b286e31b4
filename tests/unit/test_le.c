/* Unit tests of the little-endian helpers and the bounded reader (core/src/base/le.h) that the
 * vault file, the cache file and stored credential records share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "le.h"

static void test_put_get(void **state)
{
    (void)state;
    unsigned char b[8];
    vp__le_put16(b, 0xbeef);
    assert_memory_equal(b, "\xef\xbe", 2);
    assert_int_equal(vp__le_get16(b), 0xbeef);
    vp__le_put32(b, 0xdeadbeefu);
    assert_memory_equal(b, "\xef\xbe\xad\xde", 4);
    assert_int_equal(vp__le_get32(b), 0xdeadbeefu);
    vp__le_put64(b, 0x0123456789abcdefull);
    assert_memory_equal(b, "\xef\xcd\xab\x89\x67\x45\x23\x01", 8);
    assert_true(vp__le_get64(b) == 0x0123456789abcdefull);
    vp__le_put_i64(b, -2);
    assert_memory_equal(b, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8);
    assert_true(vp__le_get_i64(b) == -2);
    /* High bits survive (no sign extension through int promotion). */
    memset(b, 0xff, sizeof b);
    assert_int_equal(vp__le_get16(b), 0xffff);
    assert_int_equal(vp__le_get32(b), 0xffffffffu);
    assert_true(vp__le_get64(b) == UINT64_MAX);
}

static void test_reader_takes_in_order(void **state)
{
    (void)state;
    const unsigned char img[] = {3,    'a',  'b', 'c', 2, 0, 0, 0, 'x', 'y',
                                 0x34, 0x12, 1,   0,   0, 0, 0, 0, 0,   0};
    vp__le_rd r = vp__le_rd_init(img, sizeof img);
    size_t nl = vp__le_take8(&r);
    const unsigned char *name = vp__le_take(&r, nl);
    uint32_t kl = vp__le_take32(&r);
    const unsigned char *key = vp__le_take(&r, kl);
    assert_int_equal(vp__le_take16(&r), 0x1234);
    assert_true(vp__le_take_i64(&r) == 1);
    assert_true(r.ok);
    assert_int_equal(vp__le_rd_left(&r), 0);
    assert_memory_equal(name, "abc", 3);
    assert_memory_equal(key, "xy", 2);
    /* Zero bytes fit even at the end. */
    assert_non_null(vp__le_take(&r, 0));
    assert_true(r.ok);
}

static void test_reader_fails_for_good(void **state)
{
    (void)state;
    const unsigned char img[] = {0xff, 0xff, 0xff, 0x7f, 'z'};
    vp__le_rd r = vp__le_rd_init(img, sizeof img);
    uint32_t huge = vp__le_take32(&r);
    assert_null(vp__le_take(&r, huge)); /* a length past the end: no overflow, no read */
    assert_false(r.ok);
    /* Every later take fails too, even one that would have fit. */
    assert_int_equal(vp__le_take8(&r), 0);
    assert_null(vp__le_take(&r, 0));
    assert_int_equal(vp__le_rd_left(&r), 0);

    r = vp__le_rd_init(img, 3);
    assert_int_equal(vp__le_take32(&r), 0); /* short by one */
    assert_false(r.ok);
    r = vp__le_rd_init(img, 5);
    (void)vp__le_take(&r, 4);
    assert_null(vp__le_take(&r, SIZE_MAX)); /* len - off < n, never off + n */
    assert_false(r.ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_reader_takes_in_order),
        cmocka_unit_test(test_reader_fails_for_good),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
