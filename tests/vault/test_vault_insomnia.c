/* Insomnia import: vectors made by insomnia/gen_vectors.js with Node's WebCrypto in Insomnia's
 * format, read from a v4 JSON export, the NeDB environment database and a v5 YAML export. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <sodium.h>

#include "vault_int.h"
#include "vt_util.h"

#ifndef VT_INSOMNIA_DIR
#error "VT_INSOMNIA_DIR must point at tests/vault/insomnia"
#endif

static char *read_text(const char *name)
{
    char p[512];
    size_t len;
    unsigned char *b;
    snprintf(p, sizeof p, "%s/%s", VT_INSOMNIA_DIR, name);
    b = vt_read(p, &len);
    b[len] = 0;
    return (char *)b;
}

static const char *vec(const char *name)
{
    static char p[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(p[i], sizeof p[i], "%s/%s", VT_INSOMNIA_DIR, name);
    return p[i];
}

static int has_name(char **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* Every expected secret is in the vault with its exact value. */
static void verify_expected(vp_vault *v, size_t *count)
{
    char *text = read_text("expected.json");
    json_object *o = json_tokener_parse(text), *valid;
    size_t n = 0;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "valid", &valid));
    json_object_object_foreach(valid, name, val)
    {
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        const char *want = json_object_get_string(val);
        if (vp_vault_get(v, name, &out, &err) != 0)
            fail_msg("%s missing: %s", name, err.message);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
        vp_buf_free(&out);
        n++;
    }
    *count = n;
    json_object_put(o);
    free(text);
}

static void import_one(const char *file)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_vault_import_report rep;
    vp_error err;
    char *key = NULL, *ikey = read_text("key.txt");
    size_t n = 0;
    int rc;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    rc = vp_vault_import_insomnia(v, vec(file), ikey, 0, &rep, &err);
#ifndef VT_EXPECT_YAML
    if (rc == VP_ENOTSUP && strstr(file, ".yaml") != NULL) {
        print_message("%s: skipped (%s)\n", file, err.message);
        goto done;
    }
#endif
    if (rc != 0)
        fail_msg("%s: %s", file, err.message);
    print_message("%s: found %zu, imported %zu, invalid %zu, conflicts %zu, clashes %zu\n", file,
                  rep.found, rep.imported, rep.ninvalid, rep.nconflicts, rep.nclashes);
    verify_expected(v, &n);
    assert_int_equal(rep.found, n);
    assert_int_equal(rep.imported, n);
    assert_int_equal(rep.ninvalid, 1);
    assert_true(has_name(rep.invalid, rep.ninvalid, "bad name"));
    assert_int_equal(rep.nconflicts, 1);
    assert_true(has_name(rep.conflicts, rep.nconflicts, "sub_secret"));
    assert_int_equal(rep.nclashes, 0);
    vp_vault_import_report_free(&rep);
    /* It was committed: a fresh handle sees it; NeDB's superseded and deleted docs are not. */
    vp_vault_close(v);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    verify_expected(v, &n);
    {
        vp_buf out = VP_BUF_INIT;
        assert_int_equal(vp_vault_get(v, "deleted_secret", &out, &err), VP_ENOTFOUND);
    }
#ifndef VT_EXPECT_YAML
done:
#endif
    vp_vault_close(v);
    free(key);
    free(ikey);
    vt_dir_remove(&d);
}

static void test_import_v4_json(void **state)
{
    (void)state;
    import_one("export_v4.json");
}

static void test_import_nedb(void **state)
{
    (void)state;
    import_one("insomnia.Environment.db");
}

static void test_import_v5_yaml(void **state)
{
    (void)state;
    import_one("export_v5.yaml");
}

static void test_clash_and_overwrite(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_vault_import_report rep;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    char *key, *ikey = read_text("key.txt");
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "api_token", "mine", 4, &err), 0);
    assert_int_equal(vp_vault_import_insomnia(v, vec("export_v4.json"), ikey, 0, &rep, &err), 0);
    assert_int_equal(rep.nclashes, 1);
    assert_string_equal(rep.clashes[0], "api_token");
    assert_int_equal(rep.imported, rep.found - 1);
    assert_int_equal(vp_vault_get(v, "api_token", &out, &err), 0);
    assert_string_equal(out.data, "mine");
    vp_vault_import_report_free(&rep);
    assert_int_equal(vp_vault_import_insomnia(v, vec("export_v4.json"), ikey, 1, &rep, &err), 0);
    assert_int_equal(rep.nclashes, 0);
    assert_int_equal(rep.imported, rep.found);
    assert_int_equal(vp_vault_get(v, "api_token", &out, &err), 0);
    assert_string_equal(out.data, "tok-123456");
    vp_vault_import_report_free(&rep);
    vp_buf_free(&out);
    vp_vault_close(v);
    free(key);
    free(ikey);
    vt_dir_remove(&d);
}

static void test_wrong_key_and_damage_import_nothing(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_vault_import_report rep;
    vp_error err;
    char *key, *wrong = read_text("wrong_key.txt"), *ikey = read_text("key.txt");
    char **names, *text, bad[600];
    unsigned char *before, *after;
    size_t n, bl, al;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    before = vt_read(d.path, &bl);
    assert_int_equal(vp_vault_import_insomnia(v, vec("export_v4.json"), wrong, 0, &rep, &err),
                     VP_EAUTH);
    assert_non_null(strstr(err.message, "does not decrypt"));
    assert_null(strstr(err.message, "eyJ"));
    assert_int_equal(rep.imported, 0);
    assert_null(rep.invalid); /* report is empty on failure */

    /* One flipped hex digit of one ciphertext in an otherwise good export. */
    text = read_text("export_v4.json");
    {
        char *p = strstr(text, "\"api_token\": \"");
        assert_non_null(p);
        p += strlen("\"api_token\": \"") + 20;
        *p = *p == 'A' ? 'B' : 'A';
    }
    snprintf(bad, sizeof bad, "%s/damaged.json", d.dir);
    vt_write(bad, text, strlen(text));
    assert_int_not_equal(vp_vault_import_insomnia(v, bad, ikey, 0, &rep, &err), 0);
    /* Not an export at all, a missing file, a bad key string. */
    vt_write(bad, "[1, 2", 5);
    assert_int_not_equal(vp_vault_import_insomnia(v, bad, ikey, 0, &rep, &err), 0);
    assert_int_equal(vp_vault_import_insomnia(v, "/nonexistent/x.json", ikey, 0, &rep, &err),
                     VP_ENOTFOUND);
    assert_int_equal(vp_vault_import_insomnia(v, vec("export_v4.json"), "nope", 0, &rep, &err),
                     VP_EINVAL);
    after = vt_read(d.path, &al);
    assert_int_equal(al, bl);
    assert_memory_equal(before, after, bl);
    assert_int_equal(vp_vault_list(v, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    vp_vault_close(v);
    free(before);
    free(after);
    free(text);
    free(key);
    free(wrong);
    free(ikey);
    vt_dir_remove(&d);
}

/* The decryptor on its own: empty values, and malformed envelopes. */
static void test_decrypt_envelopes(void **state)
{
    unsigned char k[32];
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    char *ikey = read_text("key.txt");
    (void)state;

    assert_int_equal(vp__vault_key_parse(ikey, k, &err), 0);
    assert_int_equal(vp__insomnia_decrypt(k, "", 0, &out, &err), 0);
    assert_int_equal(out.len, 0);
    const char *bad[] = {"!!!", "bm90IGpzb24=", "e30=", /* {} */
                         /* {"iv":"00","t":"00","ad":"","d":"00"}: short tag */
                         "eyJpdiI6IjAwIiwidCI6IjAwIiwiYWQiOiIiLCJkIjoiMDAifQ=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vp__insomnia_decrypt(k, bad[i], strlen(bad[i]), &out, &err), VP_EPROTO);
    vp_buf_free(&out);
    free(ikey);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_v4_json),
        cmocka_unit_test(test_import_nedb),
        cmocka_unit_test(test_import_v5_yaml),
        cmocka_unit_test(test_clash_and_overwrite),
        cmocka_unit_test(test_wrong_key_and_damage_import_nothing),
        cmocka_unit_test(test_decrypt_envelopes),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
