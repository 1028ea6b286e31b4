/* The vault file on disk through the public API: a path reached through symlinks is one vault
 * (one lock, one file; the link stays a link), directories others can write are refused, and
 * get-or-create of a record (the cache key) keeps what another handle committed first. */
#define _DEFAULT_SOURCE /* symlink() */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cache.h"
#include "cachefile.h"
#include "identity.h"
#include "vault_int.h"
#include "vt_util.h"

static int is_link(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode);
}

static void test_symlinked_path_is_one_vault(void **state)
{
    vt_dir d, ld;
    char link[400], dlink[400], viadir[500], lock[600];
    vp_vault *vr = NULL, *vl = NULL, *vd = NULL;
    vp_error err;
    char **names = NULL;
    size_t n = 0;
    (void)state;

    vt_dir_make(&d);
    vt_dir_make(&ld);
    char *key = vt_create(&d);
    snprintf(link, sizeof link, "%s/link.vpv", ld.dir);
    snprintf(dlink, sizeof dlink, "%s/dirlink", ld.dir);
    snprintf(viadir, sizeof viadir, "%s/vault.vpv", dlink);
    assert_int_equal(symlink(d.path, link), 0);
    assert_int_equal(symlink(d.dir, dlink), 0);

    assert_int_equal(vp_vault_open(link, key, &vl, &err), 0);
    assert_int_equal(vp_vault_open(d.path, key, &vr, &err), 0);
    assert_int_equal(vp_vault_open(viadir, key, &vd, &err), 0);
    assert_int_equal(vp_vault_set(vl, "via_link", "1", 1, &err), 0);
    assert_int_equal(vp_vault_set(vr, "via_real", "2", 1, &err), 0);
    assert_int_equal(vp_vault_set(vd, "via_dir", "3", 1, &err), 0);
    assert_true(is_link(link));
    assert_true(is_link(dlink));
    /* The lock sits next to the real file, not next to the link. */
    snprintf(lock, sizeof lock, "%s.lock", link);
    assert_int_not_equal(access(lock, F_OK), 0);
    snprintf(lock, sizeof lock, "%s.lock", d.path);
    assert_int_equal(access(lock, F_OK), 0);

    /* Each handle re-reads under the lock, so all three writes are in the one
     * file. */
    assert_int_equal(vp_vault_reload(vl, &err), 0);
    assert_int_equal(vp_vault_list(vl, &names, &n, &err), 0);
    assert_int_equal(n, 3);
    vp_vault_names_free(names, n);

    vp_vault_close(vl);
    vp_vault_close(vr);
    vp_vault_close(vd);
    free(key);
    unlink(link);
    unlink(dlink);
    vt_dir_remove(&ld);
    vt_dir_remove(&d);
}

static void test_create_through_dangling_link(void **state)
{
    vt_dir d, ld;
    char link[400], target[400], bad[400];
    vp_buf k = VP_BUF_INIT;
    vp_vault *v = NULL;
    vp_error err;
    (void)state;

    vt_dir_make(&d);
    vt_dir_make(&ld);
    snprintf(link, sizeof link, "%s/link.vpv", ld.dir);
    snprintf(target, sizeof target, "%s/new.vpv", d.dir);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(vp_vault_create(link, NULL, &k, &err), 0);
    assert_true(is_link(link));
    assert_int_equal(vp_vault_open(target, k.data, &v, &err), 0);
    vp_vault_close(v);
    /* Its target's directory does not exist: VP_ENOTFOUND naming the target. */
    snprintf(bad, sizeof bad, "%s/bad.vpv", ld.dir);
    assert_int_equal(symlink("/nonexistent-vp-dir/x.vpv", bad), 0);
    assert_int_equal(vp_vault_create(bad, NULL, NULL, &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "/nonexistent-vp-dir/x.vpv"));
    vp_buf_free(&k);
    unlink(link);
    unlink(bad);
    vt_dir_remove(&ld);
    vt_dir_remove(&d);
}

static void test_unsafe_directory_refused(void **state)
{
    static const mode_t bad[] = {0777, 01777, 0770, 0720};
    vt_fixture *f = vt_fixture_new();
    vp_vault *v = NULL;
    vp_buf k = VP_BUF_INIT;
    vp_error err;
    char other[400], fix[400];
    (void)state;

    assert_non_null(f);
    snprintf(fix, sizeof fix, "chmod go-w %s", f->d.dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(f->d.dir, bad[i]), 0);
        assert_int_equal(vp_vault_set(f->v, "a", "x", 1, &err), VP_EPERM);
        assert_non_null(strstr(err.message, fix));
        assert_int_equal(vp_vault_open(f->d.path, f->key, &v, &err), VP_EPERM);
        assert_null(v);
        assert_non_null(strstr(err.message, fix));
        assert_int_equal(vp_vault_reload(f->v, &err), VP_EPERM);
        snprintf(other, sizeof other, "%s/other.vpv", f->d.dir);
        assert_int_equal(vp_vault_create(other, NULL, &k, &err), VP_EPERM);
        assert_int_not_equal(access(other, F_OK), 0);
    }
    assert_int_equal(chmod(f->d.dir, 0750), 0);
    assert_int_equal(vp_vault_set(f->v, "a", "x", 1, &err), 0);
    assert_int_equal(chmod(f->d.dir, 0700), 0);
    assert_int_equal(vp_vault_open(f->d.path, f->key, &v, &err), 0);
    vp_vault_close(v);
    vt_fixture_free(f);
}

static void test_get_or_add_keeps_first(void **state)
{
    vt_fixture *f = vt_fixture_new();
    vp_vault *b = NULL;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    size_t l1, l2;
    (void)state;

    assert_non_null(f);
    /* b opens before the record exists: its state is stale when it asks. */
    assert_int_equal(vp_vault_open(f->d.path, f->key, &b, &err), 0);
    assert_int_equal(vp__vault_rec_get_or_add(f->v, VP__VAULT_META, "k", "first", 5, &out, &err),
                     0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "first", 5);
    unsigned char *before = vt_read(f->d.path, &l1);
    assert_int_equal(vp__vault_rec_get_or_add(b, VP__VAULT_META, "k", "second", 6, &out, &err), 0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "first", 5);
    /* Nothing was written for the kept record. */
    unsigned char *after = vt_read(f->d.path, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(before, after, l1);
    free(before);
    free(after);
    vp_buf_free(&out);
    vp_vault_close(b);
    vt_fixture_free(f);
}

/* Two handles save the cache for the first time, the second one's view predating the key, and
 * the first saves again (as processes do, each with the key it holds): every file must load in a
 * handle opened afterwards, i.e. everyone sealed under the one key the vault keeps. */
static void test_cache_key_shared_by_stale_handle(void **state)
{
    vt_fixture *f = vt_fixture_new();
    vp_vault *b = NULL, *later = NULL;
    vp__cache *c = NULL;
    vp_error err;
    char file[400];
    const char *names[] = {"echo"};
    size_t loaded = 0;
    (void)state;

    assert_non_null(f);
    snprintf(file, sizeof file, "%s/cache.vpc", f->d.dir);
    assert_int_equal(vp_vault_open(f->d.path, f->key, &b, &err), 0);
    assert_int_equal(vp__cache_new(1, 100, 1 << 20, &c), 0);
    unsigned char *id = NULL; /* the identity of a provider that read nothing */
    size_t id_len = 0;
    assert_int_equal(vp__ident_capture(NULL, 0, "", 0, &id, &id_len), 0);
    assert_int_equal(vp__cache_put(c, "echo||echo://x", 0, "v", 1, 1000 + 60000, 0, id, id_len), 0);
    vp_vault *order[] = {f->v, b, f->v};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(
            vp__cachefile_save(NULL, c, names, 1, 1000, 5000000, order[i], file, NULL, &err), 0);
        vp__cache_free(c);
        assert_int_equal(vp__cache_new(1, 100, 1 << 20, &c), 0);
        assert_int_equal(vp_vault_open(f->d.path, f->key, &later, &err), 0);
        assert_int_equal(
            vp__cachefile_load(NULL, c, names, 1, 1000, 5000000, later, file, &loaded, &err), 0);
        assert_int_equal(loaded, 1);
        vp_vault_close(later);
    }
    vp__cache_free(c);
    vp_vault_close(b);
    vt_fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symlinked_path_is_one_vault),
        cmocka_unit_test(test_create_through_dangling_link),
        cmocka_unit_test(test_unsafe_directory_refused),
        cmocka_unit_test(test_get_or_add_keeps_first),
        cmocka_unit_test(test_cache_key_shared_by_stale_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
