/*
 * test_json - the JSON services of the host table (jsonh.c): parse, path, foreach, builders,
 * dump, limits, allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault.h"
#include "host.h"
#include "jsonh.h"
#include "secmem.h"

static const vp_host *H;

static vp_json *parse_ok(const char *s)
{
    vp_json *j = NULL;
    assert_int_equal(H->json_parse(s, strlen(s), &j), 0);
    assert_non_null(j);
    return j;
}

static void expect_proto(const char *s, size_t n)
{
    vp_json *j = (vp_json *)1;
    assert_int_equal(H->json_parse(s, n, &j), VP_EPROTO);
    assert_null(j);
}

static void test_parse_basic(void **state)
{
    (void)state;
    vp_json *j = parse_ok("{\"a\":{\"b\":[10,{\"c\":\"deep\"}]},\"s\":\"x\\u00e9y\",\"t\":true,"
                          "\"n\":null,\"d\":2.5,\"i\":-7,\"big\":9007199254740993}");
    assert_int_equal(H->json_type(j), VP_JSON_OBJECT);
    assert_int_equal(H->json_len(j), 7);
    size_t len;
    assert_string_equal(H->json_string(H->json_path(j, "a.b.1.c"), &len), "deep");
    assert_int_equal(len, 4);
    assert_string_equal(H->json_string(H->json_get(j, "s"), NULL), "x\xc3\xa9y");
    int64_t i;
    assert_int_equal(H->json_int(H->json_path(j, "a.b.0"), &i), 0);
    assert_int_equal(i, 10);
    assert_int_equal(H->json_int(H->json_get(j, "big"), &i), 0);
    assert_int_equal(i, 9007199254740993LL);
    assert_int_equal(H->json_int(H->json_get(j, "i"), &i), 0);
    assert_int_equal(i, -7);
    assert_int_equal(H->json_int(H->json_get(j, "d"), &i), VP_EINVAL);
    assert_int_equal(H->json_int(H->json_get(j, "s"), &i), VP_EINVAL);
    assert_int_equal(H->json_int(H->json_get(j, "missing"), &i), VP_ENOTFOUND);
    double d;
    assert_int_equal(H->json_double(H->json_get(j, "d"), &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(H->json_double(H->json_get(j, "i"), &d), 0);
    assert_true(d == -7.0);
    int b;
    assert_int_equal(H->json_bool(H->json_get(j, "t"), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(H->json_bool(H->json_get(j, "n"), &b), VP_EINVAL);
    assert_non_null(H->json_get(j, "n")); /* a null member is present, not absent */
    assert_null(H->json_path(j, "n.x"));
    assert_int_equal(H->json_bool(NULL, &b), VP_ENOTFOUND);
    assert_int_equal(H->json_type(H->json_get(j, "n")), VP_JSON_NULL);
    assert_int_equal(H->json_type(H->json_get(j, "d")), VP_JSON_DOUBLE);
    assert_int_equal(H->json_type(H->json_get(j, "i")), VP_JSON_INT);
    assert_int_equal(H->json_type(H->json_get(j, "t")), VP_JSON_BOOL);
    assert_int_equal(H->json_type(H->json_path(j, "a.b")), VP_JSON_ARRAY);
    assert_int_equal(H->json_type(NULL), VP_JSON_ABSENT);

    /* Paths that do not resolve. */
    assert_null(H->json_path(j, "a.b.2"));
    assert_null(H->json_path(j, "a.b.x"));
    assert_null(H->json_path(j, "a..b"));
    assert_null(H->json_path(j, "s.x"));
    assert_null(H->json_get(H->json_get(j, "s"), "x"));
    assert_ptr_equal(H->json_path(j, ""), j);
    assert_null(H->json_at(j, 0)); /* not an array */
    assert_non_null(H->json_at(H->json_path(j, "a.b"), 1));
    assert_null(H->json_at(H->json_path(j, "a.b"), 2));
    assert_int_equal(H->json_len(H->json_get(j, "s")), 0);
    H->json_free(j);
    H->json_free(NULL);
}

static void test_int_from_double(void **state)
{
    (void)state;
    vp_json *j = parse_ok("[3.0, 1e3, 3.5, 1e300, 18446744073709551615, -0.0]");
    int64_t i;
    assert_int_equal(H->json_int(H->json_at(j, 0), &i), 0);
    assert_int_equal(i, 3);
    assert_int_equal(H->json_int(H->json_at(j, 1), &i), 0);
    assert_int_equal(i, 1000);
    assert_int_equal(H->json_int(H->json_at(j, 2), &i), VP_EINVAL);
    assert_int_equal(H->json_int(H->json_at(j, 3), &i), VP_EINVAL);
    assert_int_equal(H->json_int(H->json_at(j, 4), &i), VP_EINVAL); /* above INT64_MAX */
    assert_int_equal(H->json_int(H->json_at(j, 5), &i), 0);
    assert_int_equal(i, 0);
    H->json_free(j);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_proto("", 0);
    expect_proto("   ", 3);
    expect_proto("{", 1);
    expect_proto("{\"a\":1,}x", 9);
    expect_proto("{} x", 4);    /* trailing garbage */
    expect_proto("[1] [2]", 7); /* two documents */
    expect_proto("tru", 3);
    expect_proto("\"a\0b\"", 5); /* embedded NUL */
    expect_proto("123\0", 4);
    vp_json *j = NULL;
    assert_int_equal(H->json_parse(NULL, 3, &j), VP_EINVAL);
    assert_int_equal(H->json_parse("1", 1, NULL), VP_EINVAL);

    /* Whitespace around the document is fine; so are scalars at the top level. */
    j = parse_ok(" {\"a\":1} \n");
    H->json_free(j);
    j = parse_ok("123");
    int64_t i;
    assert_int_equal(H->json_int(j, &i), 0);
    assert_int_equal(i, 123);
    H->json_free(j);
    j = parse_ok("true");
    H->json_free(j);
    j = parse_ok("null");
    assert_int_equal(H->json_type(j), VP_JSON_NULL);
    size_t dl;
    char *ds = H->json_dump(j, &dl);
    assert_string_equal(ds, "null");
    H->secure_free(ds);
    H->json_free(j);
    j = parse_ok("[null]");
    assert_int_equal(H->json_type(H->json_at(j, 0)), VP_JSON_NULL);
    H->json_free(j);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* Only the first n bytes count, whatever follows them in memory. */
    const char buf[] = {'[', '4', '2', ']', 'j', 'u', 'n', 'k'};
    vp_json *j = NULL;
    assert_int_equal(H->json_parse(buf, 4, &j), 0);
    int64_t i;
    assert_int_equal(H->json_int(H->json_at(j, 0), &i), 0);
    assert_int_equal(i, 42);
    H->json_free(j);
    const char num[] = {'4', '2', '7'};
    assert_int_equal(H->json_parse(num, 2, &j), 0);
    assert_int_equal(H->json_int(j, &i), 0);
    assert_int_equal(i, 42);
    H->json_free(j);
    char *heap = malloc(5);
    memcpy(heap, "{\"k\":", 5); /* truncated document right at the end of an allocation */
    assert_int_equal(H->json_parse(heap, 5, &j), VP_EPROTO);
    free(heap);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char buf[2 * 70 + 1];
    for (int depth = 63; depth <= 66; depth++) {
        memset(buf, '[', (size_t)depth);
        memset(buf + depth, ']', (size_t)depth);
        vp_json *j = NULL;
        int rc = H->json_parse(buf, (size_t)(2 * depth), &j);
        if (depth <= 64) {
            assert_int_equal(rc, 0);
            H->json_free(j);
        } else {
            assert_int_equal(rc, VP_EPROTO);
            assert_null(j);
        }
    }
}

typedef struct seen {
    char keys[8][16];
    size_t idx[8];
    int n;
    int stop_at;
} seen;

static int visit(void *ud, const char *key, size_t index, const vp_json *v)
{
    (void)v;
    seen *s = ud;
    snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key ? key : "(null)");
    s->idx[s->n] = index;
    s->n++;
    return s->n == s->stop_at ? 77 : 0;
}

static void test_foreach_order(void **state)
{
    (void)state;
    vp_json *j = parse_ok("{\"zeta\":1,\"alpha\":2,\"mid\":3}");
    seen s = {.stop_at = -1};
    assert_int_equal(H->json_foreach(j, visit, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "zeta"); /* document order, not sorted */
    assert_string_equal(s.keys[1], "alpha");
    assert_string_equal(s.keys[2], "mid");
    assert_int_equal(s.idx[2], 2);
    seen s2 = {.stop_at = 2};
    assert_int_equal(H->json_foreach(j, visit, &s2), 77);
    assert_int_equal(s2.n, 2);
    H->json_free(j);

    j = parse_ok("[\"a\",\"b\"]");
    seen s3 = {.stop_at = -1};
    assert_int_equal(H->json_foreach(j, visit, &s3), 0);
    assert_int_equal(s3.n, 2);
    assert_string_equal(s3.keys[0], "(null)");
    assert_int_equal(s3.idx[1], 1);
    H->json_free(j);
    assert_int_equal(H->json_foreach(NULL, visit, &s3), 0);
}

static void test_build_and_dump(void **state)
{
    (void)state;
    vp_json *o = H->json_new_object();
    vp_json *a = H->json_new_array();
    assert_int_equal(H->json_append(a, H->json_new_int(-5)), 0);
    assert_int_equal(H->json_append(a, H->json_new_bool(1)), 0);
    assert_int_equal(H->json_append(a, H->json_new_string("x", 1)), 0);
    assert_int_equal(H->json_set(o, "list", a), 0);
    assert_int_equal(H->json_set(o, "url", H->json_new_string("https://a/b?c=d", 15)), 0);
    assert_int_equal(H->json_set(o, "esc", H->json_new_string("q\"b\\n\n\t\x01\x7f\xc3\xa9", 11)),
                     0);
    assert_int_equal(H->json_set(o, "nul", H->json_new_string("a\0b", 3)), 0);
    assert_int_equal(H->json_set(o, "url", H->json_new_string("replaced", 8)), 0);
    size_t len = 0;
    char *s = H->json_dump(o, &len);
    assert_non_null(s);
    assert_true(vp__secmem_owns(s));
    assert_string_equal(s, "{\"list\":[-5,true,\"x\"],\"url\":\"replaced\","
                           "\"esc\":\"q\\\"b\\\\n\\n\\t\\u0001\\u007f\xc3\xa9\","
                           "\"nul\":\"a\\u0000b\"}");
    assert_int_equal(len, strlen(s));

    /* The dump parses back to the same values. */
    vp_json *back = NULL;
    assert_int_equal(H->json_parse(s, len, &back), 0);
    size_t n;
    const char *nul = H->json_string(H->json_get(back, "nul"), &n);
    assert_int_equal(n, 3);
    assert_memory_equal(nul, "a\0b", 3);
    assert_string_equal(H->json_string(H->json_get(back, "esc"), NULL),
                        "q\"b\\n\n\t\x01\x7f\xc3\xa9");
    H->json_free(back);
    H->secure_free(s);

    /* "/" is not escaped; doubles keep their type. */
    vp_json *p = parse_ok("{\"p\":\"a/b\",\"d\":1.0,\"e\":0.1,\"f\":1e300}");
    s = H->json_dump(p, &len);
    assert_string_equal(s, "{\"p\":\"a/b\",\"d\":1.0,\"e\":0.1,\"f\":1e+300}");
    H->secure_free(s);
    H->json_free(p);

    /* Ownership passes on failure: no leak under ASan. */
    assert_int_equal(H->json_set(a, "k", H->json_new_int(1)), VP_EINVAL); /* a is an array */
    assert_int_equal(H->json_append(o, H->json_new_int(1)), VP_EINVAL);   /* o is an object */
    assert_int_equal(H->json_set(o, NULL, H->json_new_int(1)), VP_EINVAL);
    assert_int_equal(H->json_set(NULL, "k", H->json_new_int(1)), VP_EINVAL);
    assert_int_equal(H->json_set(o, "self", o), VP_EINVAL); /* a cycle: refused, o intact */
    H->json_free(o);
    assert_null(H->json_dump(NULL, &len));
}

static void test_alloc_failures(void **state)
{
    (void)state;
    vp_json *j = NULL;
    vp__fault_alloc_after(1);
    assert_int_equal(H->json_parse("{}", 2, &j), VP_ENOMEM);
    assert_null(j);
    vp__fault_alloc_after(1);
    assert_null(H->json_new_object());
    vp__fault_alloc_after(1);
    assert_null(H->json_new_string("x", 1));
    j = parse_ok("{\"a\":1}");
    vp__fault_alloc_after(1);
    size_t len;
    assert_null(H->json_dump(j, &len));
    vp__fault_alloc_after(0);
    char *s = H->json_dump(j, &len);
    assert_string_equal(s, "{\"a\":1}");
    H->secure_free(s);
    H->json_free(j);
    /* A builder failing inside a set: set gets NULL and says EINVAL, nothing leaks. */
    vp_json *o = H->json_new_object();
    vp__fault_alloc_after(1);
    assert_int_equal(H->json_set(o, "k", H->json_new_int(1)), VP_EINVAL);
    vp__fault_alloc_after(0);
    H->json_free(o);
}

int main(void)
{
    H = vp__host_table();
    assert_int_equal(vp__secmem_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),    cmocka_unit_test(test_int_from_double),
        cmocka_unit_test(test_parse_errors),   cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_depth_limit),    cmocka_unit_test(test_foreach_order),
        cmocka_unit_test(test_build_and_dump), cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
