/* Vault keys: vpk1_ formatting/parsing and Insomnia JWK keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <sodium.h>

#include "vault_int.h"
#include "vt_util.h"

static const unsigned char KEY[32] = {
    0xfb, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0xfe, 0xff};

/* The JWK Insomnia keeps (crypto.subtle.exportKey('jwk', ...)), base64'd as Insomnia does. */
static char *insomnia_key(const unsigned char *raw, size_t rawlen, const char *kty, const char *alg,
                          int padded)
{
    char k[128], json[512];
    char *out = malloc(1024);
    sodium_bin2base64(k, sizeof k, raw, rawlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(json, sizeof json,
             "{\"alg\":\"%s\",\"ext\":true,\"k\":\"%s\",\"key_ops\":[\"encrypt\",\"decrypt\"],"
             "\"kty\":\"%s\"}",
             alg, k, kty);
    sodium_bin2base64(out, 1024, (const unsigned char *)json, strlen(json),
                      padded ? sodium_base64_VARIANT_ORIGINAL
                             : sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    return out;
}

static void expect_vpk1(const char *input, const unsigned char *raw)
{
    char want[64] = "vpk1_";
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    sodium_bin2base64(want + 5, sizeof want - 5, raw, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(vp_vault_key_format(input, &out, &err), 0);
    assert_string_equal(out.data, want);
    assert_int_equal(out.len, VP_VAULT_KEY_STRLEN);
    vp_buf_free(&out);
}

static void expect_bad(const char *input, const char *why)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_vault_key_format(input, &out, &err), VP_EINVAL);
    assert_int_equal(err.code, VP_EINVAL);
    assert_non_null(strstr(err.message, "invalid vault key"));
    if (why != NULL && strstr(err.message, why) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, why);
    /* Never echo the key (or any 8-character piece of it) back. */
    for (size_t i = 0; strlen(input) >= 8 && i + 8 <= strlen(input); i++) {
        char piece[9];
        memcpy(piece, input + i, 8);
        piece[8] = 0;
        if (strstr(err.message, piece) != NULL)
            fail_msg("message echoes the key: %s", err.message);
    }
    assert_null(out.data);
}

static void test_vpk1_roundtrip(void **state)
{
    unsigned char raw[32];
    char s[64] = "vpk1_";
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    (void)state;
    for (int i = 0; i < 50; i++) {
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(s + 5, sizeof s - 5, raw, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        assert_int_equal(strlen(s), VP_VAULT_KEY_STRLEN);
        expect_vpk1(s, raw);
    }
    /* Whitespace around the key (pasted from a file or a terminal) is ignored. */
    sodium_bin2base64(s + 5, sizeof s - 5, KEY, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    {
        char padded[80];
        snprintf(padded, sizeof padded, "  %s\n", s);
        expect_vpk1(padded, KEY);
    }
    /* vp__vault_key_parse gives the raw bytes. */
    {
        unsigned char got[32];
        assert_int_equal(vp__vault_key_parse(s, got, &err), 0);
        assert_memory_equal(got, KEY, 32);
    }
    vp_buf_free(&out);
}

static void test_vpk1_bad(void **state)
{
    char s[64] = "vpk1_";
    (void)state;
    sodium_bin2base64(s + 5, sizeof s - 5, KEY, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    expect_bad("", "empty");
    expect_bad("   \n", "empty");
    {
        char shortk[64];
        snprintf(shortk, sizeof shortk, "%.*s", VP_VAULT_KEY_STRLEN - 1, s);
        expect_bad(shortk, "characters");
        char longk[80];
        snprintf(longk, sizeof longk, "%sA", s);
        expect_bad(longk, "characters");
        char badc[64];
        snprintf(badc, sizeof badc, "%s", s);
        badc[10] = '+'; /* standard-base64 character: not base64url */
        expect_bad(badc, "base64url");
        badc[10] = '=';
        expect_bad(badc, "base64url");
    }
    expect_bad("vpk2_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "neither");
    expect_bad("hunter2-password-not-a-key", "neither");
    {
        char huge[5000];
        memset(huge, 'A', sizeof huge - 1);
        huge[sizeof huge - 1] = 0;
        expect_bad(huge, "too long");
    }
}

static void test_insomnia_keys(void **state)
{
    unsigned char k31[31];
    char *s;
    (void)state;
    s = insomnia_key(KEY, 32, "oct", "A256GCM", 1);
    expect_vpk1(s, KEY);
    free(s);
    s = insomnia_key(KEY, 32, "oct", "A256GCM", 0);
    expect_vpk1(s, KEY);
    free(s);

    s = insomnia_key(KEY, 32, "RSA", "A256GCM", 1);
    expect_bad(s, "kty");
    free(s);
    s = insomnia_key(KEY, 32, "oct", "A128GCM", 1);
    expect_bad(s, "alg");
    free(s);
    memcpy(k31, KEY, 31);
    s = insomnia_key(k31, 31, "oct", "A256GCM", 1);
    expect_bad(s, "32 bytes");
    free(s);
    /* base64 of something that is not JSON */
    expect_bad("bm90IGpzb24gYXQgYWxs", "JSON");
    /* base64 of a JSON array */
    expect_bad("WzEsMiwzXQ==", "JSON");
    /* JWK without k */
    expect_bad("eyJrdHkiOiJvY3QiLCJhbGciOiJBMjU2R0NNIn0=", "\"k\"");
}

static void test_vault_with_insomnia_key(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_buf key = VP_BUF_INIT, val = VP_BUF_INIT;
    vp_error err;
    char *ins = insomnia_key(KEY, 32, "oct", "A256GCM", 1);
    (void)state;

    vt_dir_make(&d);
    assert_int_equal(vp_vault_create(d.path, ins, &key, &err), 0);
    assert_int_equal(vp_vault_open(d.path, ins, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "token", "abc", 3, &err), 0);
    vp_vault_close(v);
    /* The same key in vpk1_ form opens it too. */
    assert_int_equal(vp_vault_open(d.path, key.data, &v, &err), 0);
    assert_int_equal(vp_vault_get(v, "token", &val, &err), 0);
    assert_string_equal(val.data, "abc");
    vp_vault_close(v);
    /* A bad key string is rejected before the file is looked at. */
    assert_int_equal(vp_vault_open(d.path, "nope", &v, &err), VP_EINVAL);
    assert_null(v);
    vp_buf_free(&val);
    vp_buf_free(&key);
    free(ins);
    vt_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vpk1_roundtrip),
        cmocka_unit_test(test_vpk1_bad),
        cmocka_unit_test(test_insomnia_keys),
        cmocka_unit_test(test_vault_with_insomnia_key),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
