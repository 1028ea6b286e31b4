/* The vault file on disk: get-or-create of a record (the cache key) keeps what another handle
 * committed first. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "buf.h"
#include "cache.h"
#include "cachefile.h"
#include "vault_int.h"
#include "vt_util.h"

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
    assert_int_equal(vp__cache_put(c, "echo||echo://x", 0, "v", 1, 1000 + 60000, 0), 0);
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
        cmocka_unit_test(test_get_or_add_keeps_first),
        cmocka_unit_test(test_cache_key_shared_by_stale_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
