/* Vault operations: round trips, limits, wrong key, permissions, rekey, reset, stale handles,
 * rollback, sections, and the canary leak check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <sodium.h>

#include "vault_int.h"
#include "vt_util.h"

static void check_value(vp_vault *v, const char *name, const void *want, size_t len)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_vault_get(v, name, &out, &err), 0);
    assert_int_equal(out.len, len);
    if (len > 0)
        assert_memory_equal(out.data, want, len);
    assert_int_equal(out.data[len], 0);
    vp_buf_free(&out);
}

static void test_roundtrip(void **state)
{
    vt_dir d;
    vp_vault *v = NULL, *w = NULL;
    vp_error err;
    char *key, **names = NULL;
    size_t n = 0;
    const unsigned char bin[] = {0, 1, 2, 0, 255, 0};
    struct stat sb;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(stat(d.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_list(v, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(names);

    assert_int_equal(vp_vault_set(v, "zeta", "last", 4, &err), 0);
    assert_int_equal(vp_vault_set(v, "alpha", "first", 5, &err), 0);
    assert_int_equal(vp_vault_set(v, "bin.ary-1_x", bin, sizeof bin, &err), 0);
    assert_int_equal(vp_vault_set(v, "empty", "", 0, &err), 0);
    assert_int_equal(vp_vault_set(v, "alpha", "second", 6, &err), 0); /* replace */
    check_value(v, "alpha", "second", 6);
    check_value(v, "bin.ary-1_x", bin, sizeof bin);
    check_value(v, "empty", "", 0);
    assert_int_equal(stat(d.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* A second handle reads the same state from disk. */
    assert_int_equal(vp_vault_open(d.path, key, &w, &err), 0);
    check_value(w, "alpha", "second", 6);
    check_value(w, "zeta", "last", 4);
    assert_int_equal(vp_vault_list(w, &names, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "alpha");
    assert_string_equal(names[1], "bin.ary-1_x");
    assert_string_equal(names[2], "empty");
    assert_string_equal(names[3], "zeta");
    vp_vault_names_free(names, n);

    assert_int_equal(vp_vault_delete(w, "zeta", &err), 0);
    {
        vp_buf out = VP_BUF_INIT;
        assert_int_equal(vp_vault_get(w, "zeta", &out, &err), VP_ENOTFOUND);
        assert_null(out.data);
        assert_int_equal(vp_vault_delete(w, "zeta", &err), VP_ENOTFOUND);
        /* v still has its snapshot until it reloads */
        check_value(v, "zeta", "last", 4);
        assert_int_equal(vp_vault_reload(v, &err), 0);
        assert_int_equal(vp_vault_get(v, "zeta", &out, &err), VP_ENOTFOUND);
    }
    vp_vault_close(v);
    vp_vault_close(w);
    vp_vault_close(NULL);
    free(key);
    vt_dir_remove(&d);
}

static void test_limits_and_names(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_error err;
    char *key, name[VP_VAULT_NAME_MAX + 2];
    unsigned char *big;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    const char *bad[] = {"", "has space", "a/b", "{{x}}", "é", "a\nb", "semi;colon"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vp_vault_set(v, bad[i], "x", 1, &err), VP_EINVAL);
        assert_non_null(strstr(err.message, "invalid name"));
        assert_int_equal(vp_vault_name_valid(bad[i]), 0);
    }
    assert_int_equal(vp_vault_set(v, NULL, "x", 1, &err), VP_EINVAL);
    assert_int_equal(vp_vault_set(NULL, "a", "x", 1, &err), VP_EINVAL);
    memset(name, 'n', sizeof name);
    name[VP_VAULT_NAME_MAX] = 0;
    assert_int_equal(vp_vault_set(v, name, "x", 1, &err), 0);
    check_value(v, name, "x", 1);
    name[VP_VAULT_NAME_MAX] = 'n';
    name[VP_VAULT_NAME_MAX + 1] = 0;
    assert_int_equal(vp_vault_set(v, name, "x", 1, &err), VP_EINVAL);

    big = malloc(VP_VAULT_VALUE_MAX + 1);
    randombytes_buf(big, VP_VAULT_VALUE_MAX + 1);
    assert_int_equal(vp_vault_set(v, "big", big, VP_VAULT_VALUE_MAX + 1, &err), VP_ELIMIT);
    assert_int_equal(vp_vault_set(v, "big", big, VP_VAULT_VALUE_MAX, &err), 0);
    vp_vault_close(v);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    check_value(v, "big", big, VP_VAULT_VALUE_MAX);
    vp_vault_close(v);
    free(big);
    free(key);
    vt_dir_remove(&d);
}

static void test_wrong_key(void **state)
{
    vt_dir d, d2;
    vp_vault *v = (vp_vault *)&d; /* must be reset to NULL */
    vp_error err;
    char *key, *other;
    unsigned char *before, *after;
    size_t blen, alen;
    (void)state;

    vt_dir_make(&d);
    vt_dir_make(&d2);
    key = vt_create(&d);
    other = vt_create(&d2);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "s", "secret-value", 12, &err), 0);
    vp_vault_close(v);
    before = vt_read(d.path, &blen);
    v = (vp_vault *)&d;
    assert_int_equal(vp_vault_open(d.path, other, &v, &err), VP_EAUTH);
    assert_null(v);
    assert_string_equal(err.message, "invalid vault key");
    after = vt_read(d.path, &alen);
    assert_int_equal(alen, blen);
    assert_memory_equal(before, after, blen);
    /* Missing file */
    assert_int_equal(vp_vault_open("/nonexistent-dir/vault.vpv", key, &v, &err), VP_ENOTFOUND);
    assert_int_equal(vp_vault_create(d.path, NULL, NULL, &err), VP_EEXIST);
    free(before);
    free(after);
    free(key);
    free(other);
    vt_dir_remove(&d);
    vt_dir_remove(&d2);
}

static void test_permissions(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_error err;
    char *key;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    const mode_t bad[] = {0620, 0602, 0666, 0622};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(d.path, bad[i]), 0);
        assert_int_equal(vp_vault_open(d.path, key, &v, &err), VP_EPERM);
        assert_null(v);
        assert_non_null(strstr(err.message, "chmod 600"));
        assert_non_null(strstr(err.message, d.path));
    }
    /* Readable by others is allowed (the file is ciphertext); a writer re-checks the mode. */
    assert_int_equal(chmod(d.path, 0644), 0);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(chmod(d.path, 0660), 0);
    assert_int_equal(vp_vault_set(v, "a", "b", 1, &err), VP_EPERM);
    assert_int_equal(chmod(d.path, 0600), 0);
    assert_int_equal(vp_vault_set(v, "a", "b", 1, &err), 0);
    vp_vault_close(v);
    free(key);
    vt_dir_remove(&d);
}

static void test_rekey(void **state)
{
    vt_dir d;
    vp_vault *v = NULL, *w = NULL;
    vp_buf nk = VP_BUF_INIT;
    vp_error err;
    char *key;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "a", "1", 1, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_CREDENTIAL, "prod-aws", "{}", 2, &err), 0);
    assert_int_equal(vp_vault_rekey(v, &nk, &err), 0);
    assert_int_equal(nk.len, VP_VAULT_KEY_STRLEN);
    assert_string_not_equal(nk.data, key);
    /* The old key stops working, the new one opens everything. */
    assert_int_equal(vp_vault_open(d.path, key, &w, &err), VP_EAUTH);
    assert_int_equal(vp_vault_open(d.path, nk.data, &w, &err), 0);
    check_value(w, "a", "1", 1);
    {
        vp_buf c = VP_BUF_INIT;
        assert_int_equal(vp__vault_rec_get(w, VP__VAULT_CREDENTIAL, "prod-aws", &c, &err), 0);
        assert_string_equal(c.data, "{}");
        vp_buf_free(&c);
    }
    /* The rekeyed handle keeps working with the new key. */
    assert_int_equal(vp_vault_set(v, "b", "2", 1, &err), 0);
    assert_int_equal(vp_vault_reload(w, &err), 0);
    check_value(w, "b", "2", 1);
    /* A handle still on the old key cannot write over the rekeyed file. */
    vp_vault_close(w);
    vp_vault_close(v);
    vp_buf_free(&nk);
    free(key);
    vt_dir_remove(&d);
}

static void test_reset(void **state)
{
    vt_dir d;
    vp_vault *v = NULL, *w = NULL;
    vp_buf nk = VP_BUF_INIT;
    vp_error err;
    char *key, **names;
    size_t n, deleted = 99;
    (void)state;

    vt_dir_make(&d);
    assert_int_equal(vp_vault_reset(d.path, &nk, &deleted, &err), VP_ENOTFOUND);
    assert_int_equal(deleted, 0);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "a", "1", 1, &err), 0);
    assert_int_equal(vp_vault_set(v, "b", "2", 1, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_CREDENTIAL, "c", "3", 1, &err), 0);
    assert_int_equal(vp_vault_reset(d.path, &nk, &deleted, &err), 0);
    assert_int_equal(deleted, 3);
    assert_non_null(strstr(VP_VAULT_RESET_NOTICE, "permanently deleted"));
    assert_int_equal(vp_vault_open(d.path, key, &w, &err), VP_EAUTH);
    assert_int_equal(vp_vault_open(d.path, nk.data, &w, &err), 0);
    assert_int_equal(vp_vault_list(w, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vp__vault_rec_list(w, VP__VAULT_CREDENTIAL, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    vp_vault_close(w);
    /* The old handle notices it is now a different vault and writes nothing. */
    assert_int_equal(vp_vault_set(v, "x", "y", 1, &err), VP_EAUTH);
    vp_vault_close(v);
    /* Reset works on a damaged file too. */
    vt_write(d.path, "garbage", 7);
    vp_buf_free(&nk);
    assert_int_equal(vp_vault_reset(d.path, &nk, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(vp_vault_open(d.path, nk.data, &w, &err), 0);
    vp_vault_close(w);
    vp_buf_free(&nk);
    free(key);
    vt_dir_remove(&d);
}

/* The deliver-then-commit API: the host holds the new key before anything is committed, and a
 * key it could not use leaves the vault exactly as it was. */
static void test_rekey_to_and_reset_to(void **state)
{
    vt_dir d;
    vp_vault *v = NULL, *w = NULL;
    vp_buf k1 = VP_BUF_INIT, k2 = VP_BUF_INIT;
    vp_error err;
    char *key, **names;
    size_t n, deleted = 99;
    (void)state;

    assert_int_equal(vp_vault_key_generate(&k1, &err), 0);
    assert_int_equal(vp_vault_key_generate(&k2, &err), 0);
    assert_int_equal(k1.len, VP_VAULT_KEY_STRLEN);
    assert_memory_equal(k1.data, "vpk1_", 5);
    assert_string_not_equal(k1.data, k2.data);
    assert_int_equal(vp_vault_key_generate(NULL, &err), VP_EINVAL);

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "a", "1", 1, &err), 0);
    /* A malformed key commits nothing. */
    assert_int_equal(vp_vault_rekey_to(v, "vpk1_short", &err), VP_EINVAL);
    assert_int_equal(vp_vault_rekey_to(v, NULL, &err), VP_EINVAL);
    assert_int_equal(vp_vault_open(d.path, key, &w, &err), 0);
    vp_vault_close(w);
    /* The key the host chose is the one that opens the vault afterwards. */
    assert_int_equal(vp_vault_rekey_to(v, k1.data, &err), 0);
    assert_int_equal(vp_vault_open(d.path, key, &w, &err), VP_EAUTH);
    assert_int_equal(vp_vault_open(d.path, k1.data, &w, &err), 0);
    check_value(w, "a", "1", 1);
    vp_vault_close(w);
    assert_int_equal(vp_vault_set(v, "b", "2", 1, &err), 0); /* the handle follows */
    vp_vault_close(v);

    assert_int_equal(vp_vault_reset_to(d.path, "not a key", &deleted, &err), VP_EINVAL);
    assert_int_equal(deleted, 0);
    assert_int_equal(vp_vault_open(d.path, k1.data, &w, &err), 0);
    check_value(w, "b", "2", 1);
    vp_vault_close(w);
    assert_int_equal(vp_vault_reset_to(d.path, k2.data, &deleted, &err), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(vp_vault_open(d.path, k1.data, &w, &err), VP_EAUTH);
    assert_int_equal(vp_vault_open(d.path, k2.data, &w, &err), 0);
    assert_int_equal(vp_vault_list(w, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    vp_vault_close(w);
    vp_buf_free(&k1);
    vp_buf_free(&k2);
    free(key);
    vt_dir_remove(&d);
}

static void test_no_lost_update_between_handles(void **state)
{
    vt_dir d;
    vp_vault *a = NULL, *b = NULL;
    vp_error err;
    char *key;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &a, &err), 0);
    assert_int_equal(vp_vault_open(d.path, key, &b, &err), 0);
    assert_int_equal(vp_vault_set(a, "x", "1", 1, &err), 0);
    assert_int_equal(vp_vault_set(b, "y", "2", 1, &err), 0); /* b re-reads under the lock */
    check_value(b, "x", "1", 1);
    assert_int_equal(vp_vault_delete(a, "y", &err), 0); /* a sees b's write */
    assert_int_equal(vp_vault_reload(b, &err), 0);
    {
        vp_buf out = VP_BUF_INIT;
        assert_int_equal(vp_vault_get(b, "y", &out, &err), VP_ENOTFOUND);
    }
    vp_vault_close(a);
    vp_vault_close(b);
    free(key);
    vt_dir_remove(&d);
}

static void test_rollback_and_tamper_leave_file(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_error err;
    char *key;
    unsigned char *v1, *cur;
    size_t l1, lc;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "a", "old", 3, &err), 0);
    v1 = vt_read(d.path, &l1);
    assert_int_equal(vp_vault_set(v, "a", "new", 3, &err), 0);
    /* Roll the file back to an older (validly sealed) version. */
    vt_write(d.path, v1, l1);
    assert_int_equal(vp_vault_set(v, "b", "x", 1, &err), VP_EPROTO);
    assert_non_null(strstr(err.message, "rolled back"));
    assert_int_equal(vp_vault_reload(v, &err), VP_EPROTO);
    check_value(v, "a", "new", 3); /* the handle keeps its state */
    cur = vt_read(d.path, &lc);
    assert_int_equal(lc, l1);
    assert_memory_equal(cur, v1, l1);
    free(cur);
    /* Tampered file: the write is refused and the file left as it is. */
    v1[l1 - 40] ^= 0x20;
    vt_write(d.path, v1, l1);
    assert_int_equal(vp_vault_set(v, "b", "x", 1, &err), VP_EPROTO);
    cur = vt_read(d.path, &lc);
    assert_int_equal(lc, l1);
    assert_memory_equal(cur, v1, l1);
    free(cur);
    vp_vault_close(v);
    free(v1);
    free(key);
    vt_dir_remove(&d);
}

static void test_sections(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    char *key, **names;
    size_t n, removed = 0;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "x", "secret", 6, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_CREDENTIAL, "x", "cred", 4, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_CREDENTIAL, "y", "cred2", 5, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_META, "created", "now", 3, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, 9, "x", "x", 1, &err), VP_EINVAL);
    check_value(v, "x", "secret", 6);
    assert_int_equal(vp__vault_rec_get(v, VP__VAULT_CREDENTIAL, "x", &out, &err), 0);
    assert_string_equal(out.data, "cred");
    assert_int_equal(vp_vault_list(v, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    vp_vault_names_free(names, n);
    assert_int_equal(vp__vault_rec_list(v, VP__VAULT_CREDENTIAL, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    vp_vault_names_free(names, n);
    assert_int_equal(vp__vault_rec_clear(v, VP__VAULT_CREDENTIAL, &removed, &err), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(vp__vault_rec_get(v, VP__VAULT_CREDENTIAL, "x", &out, &err), VP_ENOTFOUND);
    check_value(v, "x", "secret", 6);
    assert_int_equal(vp__vault_rec_get(v, VP__VAULT_META, "created", &out, &err), 0);
    assert_string_equal(out.data, "now");
    vp_buf_free(&out);
    vp_vault_close(v);
    free(key);
    vt_dir_remove(&d);
}

/* Plant a canary secret, exercise every mutation path and several failures, then grep the raw
 * bytes of every file in the vault directory (vault, lock, any temp) and every error message. */
static void test_canary_never_leaks(void **state)
{
    static const char canary[] = "CANARY-7f3a9c1e-do-not-leak";
    vt_dir d;
    vp_vault *v = NULL, *w = NULL;
    vp_buf nk = VP_BUF_INIT, out = VP_BUF_INIT;
    vp_error err;
    char *key;
    char msgs[8][VP_ERROR_MAX];
    int nm = 0;
    DIR *dd;
    struct dirent *de;
    int files = 0;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "canary", canary, strlen(canary), &err), 0);
    assert_int_equal(vp_vault_set(v, "other", "x", 1, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_CREDENTIAL, "c", canary, strlen(canary), &err),
                     0);
    assert_int_equal(vp_vault_rekey(v, &nk, &err), 0);
    assert_int_equal(vp_vault_set(v, "canary2", canary, strlen(canary), &err), 0);
    assert_int_equal(vp_vault_delete(v, "other", &err), 0);
    /* failures */
    assert_int_equal(vp_vault_get(v, "missing", &out, &err), VP_ENOTFOUND);
    strcpy(msgs[nm++], err.message);
    assert_int_equal(vp_vault_set(v, "bad name", canary, strlen(canary), &err), VP_EINVAL);
    strcpy(msgs[nm++], err.message);
    assert_int_equal(vp_vault_open(d.path, key, &w, &err), VP_EAUTH);
    strcpy(msgs[nm++], err.message);
    assert_int_equal(vp_vault_open(d.path, canary, &w, &err), VP_EINVAL);
    strcpy(msgs[nm++], err.message);
    for (int i = 0; i < nm; i++)
        assert_null(strstr(msgs[i], canary));

    dd = opendir(d.dir);
    assert_non_null(dd);
    while ((de = readdir(dd)) != NULL) {
        char p[600];
        unsigned char *b;
        size_t len;
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", d.dir, de->d_name);
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        b = vt_read(p, &len);
        assert_false(vt_contains(b, len, canary, strlen(canary)));
        assert_false(vt_contains(b, len, "canary", 6)); /* names are sealed too */
        assert_false(vt_contains(b, len, nk.data, nk.len));
        assert_false(vt_contains(b, len, key, strlen(key)));
        assert_int_equal(sb.st_mode & 0077, 0);
        free(b);
        files++;
    }
    closedir(dd);
    assert_true(files >= 2); /* vault + lock */
    vp_vault_close(v);
    vp_buf_free(&nk);
    free(key);
    vt_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_limits_and_names),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_rekey_to_and_reset_to),
        cmocka_unit_test(test_no_lost_update_between_handles),
        cmocka_unit_test(test_rollback_and_tamper_leave_file),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_canary_never_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
