/*
 * test_ref - reference URI parser (ref.c): parts, decoding, sorting, canonical form, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref.h"

static vp__ref parse_ok(const char *s)
{
    vp__ref r;
    vp_error err;
    int rc = vp__ref_parse(s, strlen(s), &r, &err);
    if (rc != 0)
        fail_msg("parse(%s): %d %s", s, rc, err.message);
    return r;
}

static void expect_err(const char *s, size_t n, int code, const char *needle)
{
    vp__ref r;
    vp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(vp__ref_parse(s, n, &r, &err), code);
    assert_int_equal(err.code, code);
    if (needle && !strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
    assert_null(r.uri);
    assert_null(r.scheme);
}

static void test_full(void **state)
{
    (void)state;
    vp__ref r = parse_ok("aws://prod@db/main?version_stage=AWSCURRENT#password");
    assert_string_equal(r.scheme, "aws");
    assert_string_equal(r.credential, "prod");
    assert_string_equal(r.path, "db/main");
    assert_int_equal(r.n_params, 1);
    assert_string_equal(r.params[0].key, "version_stage");
    assert_string_equal(r.params[0].value, "AWSCURRENT");
    assert_int_equal(r.params[0].value_len, 10);
    assert_string_equal(r.json_key, "password");
    assert_string_equal(r.uri, "aws://prod@db/main?version_stage=AWSCURRENT#password");
    vp_ref view;
    vp__ref_view(&r, &view);
    assert_int_equal(view.hdr.struct_size, sizeof(vp_ref));
    assert_ptr_equal(view.path, r.path);
    assert_null(view.config);
    vp__ref_free(&r);
}

static void test_design_examples(void **state)
{
    (void)state;
    vp__ref r = parse_ok("gcp://my-project/api-key?version=3");
    assert_string_equal(r.credential, "");
    assert_string_equal(r.path, "my-project/api-key");
    assert_null(r.json_key);
    vp__ref_free(&r);
    r = parse_ok("hashicorp://secret/myapp?kv=v2&version=4#password");
    assert_int_equal(r.n_params, 2);
    assert_string_equal(r.params[0].key, "kv");
    assert_string_equal(r.params[1].key, "version");
    vp__ref_free(&r);
    r = parse_ok("azure://myvault.vault.azure.net/db-password/0123abcd");
    assert_string_equal(r.path, "myvault.vault.azure.net/db-password/0123abcd");
    assert_string_equal(r.uri, "azure://myvault.vault.azure.net/db-password/0123abcd");
    vp__ref_free(&r);
}

static void test_normalisation(void **state)
{
    (void)state;
    /* Scheme lowercased, params sorted (stable for duplicates), escapes decoded. */
    vp__ref r = parse_ok("AWS://p@a%20b/c%2Fd?z=1&b=x%26y&a=2&b=first-b-was-x&flag#k%23ey");
    assert_string_equal(r.scheme, "aws");
    assert_string_equal(r.path, "a b/c/d");
    assert_int_equal(r.n_params, 5);
    assert_string_equal(r.params[0].key, "a");
    assert_string_equal(r.params[1].key, "b");
    assert_string_equal(r.params[1].value, "x&y");
    assert_string_equal(r.params[2].key, "b");
    assert_string_equal(r.params[2].value, "first-b-was-x");
    assert_string_equal(r.params[3].key, "flag");
    assert_string_equal(r.params[3].value, "");
    assert_string_equal(r.params[4].key, "z");
    assert_string_equal(r.json_key, "k#ey");
    assert_string_equal(r.uri, "aws://p@a%20b/c/d?a=2&b=x%26y&b=first-b-was-x&flag=&z=1#k%23ey");
    /* The canonical form is a fixed point. */
    vp__ref r2 = parse_ok(r.uri);
    assert_string_equal(r2.uri, r.uri);
    assert_string_equal(r2.path, r.path);
    vp__ref_free(&r2);
    vp__ref_free(&r);

    /* Two spellings, one canonical uri. */
    vp__ref a = parse_ok("gcp://proj/s?version=3&alias=x");
    vp__ref b = parse_ok("GCP://pro%6A/s?alias=x&&version=3");
    assert_string_equal(a.uri, b.uri);
    vp__ref_free(&a);
    vp__ref_free(&b);

    /* An '@' after the first '/' belongs to the path and stays distinguishable. */
    r = parse_ok("hashicorp://secret/user@example.com");
    assert_string_equal(r.credential, "");
    assert_string_equal(r.path, "secret/user@example.com");
    assert_string_equal(r.uri, "hashicorp://secret/user%40example.com");
    r2 = parse_ok(r.uri);
    assert_string_equal(r2.path, r.path);
    assert_string_equal(r2.credential, "");
    vp__ref_free(&r2);
    vp__ref_free(&r);

    /* Empty credential before '@' = default chain. */
    r = parse_ok("aws://@x");
    assert_string_equal(r.credential, "");
    assert_string_equal(r.uri, "aws://x");
    vp__ref_free(&r);
}

static void test_errors(void **state)
{
    (void)state;
    expect_err("aws:/x", 6, VP_EINVAL, "scheme://path");
    expect_err("aws", 3, VP_EINVAL, "scheme://path");
    expect_err("://x", 4, VP_EINVAL, "scheme");
    expect_err("a_b://x", 7, VP_EINVAL, "scheme must match");
    expect_err("aws://", 6, VP_EINVAL, "empty path");
    expect_err("aws://prod@", 11, VP_EINVAL, "empty path");
    expect_err("aws://p@?a=1", 12, VP_EINVAL, "empty path");
    expect_err("aws://x\ny", 9, VP_EINVAL, "control character at offset 7");
    expect_err("aws://x\x7f", 8, VP_EINVAL, "control character");
    expect_err("aws://x%00y", 11, VP_EINVAL, "encoded control character");
    expect_err("aws://x%0a", 10, VP_EINVAL, "encoded control character");
    expect_err("aws://x%zz", 10, VP_EINVAL, "bad percent-escape in the path at offset 7");
    expect_err("aws://x%4", 9, VP_EINVAL, "bad percent-escape");
    expect_err("aws://bad name@x", 16, VP_EINVAL, "credential name");
    vp__ref ok = parse_ok("aws://a/b@c@x"); /* '@' after the first '/': part of the path */
    assert_string_equal(ok.path, "a/b@c@x");
    vp__ref_free(&ok);
    expect_err("aws://x?=1", 10, VP_EINVAL, "empty parameter name");
    expect_err("aws://x?a=%", 11, VP_EINVAL, "parameter value");
    expect_err("aws://x#", 8, VP_EINVAL, "empty JSON key");
    char longcred[100];
    snprintf(longcred, sizeof(longcred), "aws://%065d@x", 0);
    expect_err(longcred, strlen(longcred), VP_EINVAL, "credential name");
    /* Embedded NUL in the input (length-delimited). */
    expect_err("aws://x\0y", 9, VP_EINVAL, "control character");

    /* Size limits. */
    size_t n = VP__REF_MAX + 1;
    char *big = malloc(n + 1);
    memcpy(big, "aws://", 6);
    memset(big + 6, 'a', n - 6);
    big[n] = '\0';
    expect_err(big, n, VP_ELIMIT, "longer than 8192");
    vp__ref r = parse_ok((big[VP__REF_MAX] = '\0', big)); /* exactly the maximum is fine */
    vp__ref_free(&r);
    free(big);
    char q[2048] = "aws://x?";
    for (int i = 0; i < 65; i++)
        snprintf(q + strlen(q), sizeof(q) - strlen(q), "k%d=v&", i);
    expect_err(q, strlen(q), VP_ELIMIT, "more than 64");

    /* The message never quotes the input. */
    vp_error err;
    vp__ref rr;
    assert_int_equal(vp__ref_parse("aws://SECRETVALUE%zz", 20, &rr, &err), VP_EINVAL);
    assert_null(strstr(err.message, "SECRETVALUE"));
    assert_int_equal(vp__ref_parse(NULL, 0, &rr, &err), VP_EINVAL);
    vp__ref_free(NULL);
}

static void test_validators(void **state)
{
    (void)state;
    assert_true(vp__cred_name_valid("prod-aws_1.x"));
    assert_false(vp__cred_name_valid(""));
    assert_false(vp__cred_name_valid("a b"));
    assert_false(vp__cred_name_valid("a/b"));
    assert_false(vp__cred_name_valid(NULL));
    char n64[65];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    assert_true(vp__cred_name_valid(n64));
    assert_true(vp__scheme_valid("aws"));
    assert_true(vp__scheme_valid("x+y.z-1"));
    assert_true(vp__scheme_valid("1password"));
    assert_false(vp__scheme_valid("Aws"));
    assert_false(vp__scheme_valid("-x"));
    assert_false(vp__scheme_valid("a_b"));
    assert_false(vp__scheme_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),          cmocka_unit_test(test_design_examples),
        cmocka_unit_test(test_normalisation), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_validators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
