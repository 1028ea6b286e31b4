/*
 * test_cachefile - the resolver cache persisted between processes (core/src/api/cachefile.c): what
 * is saved (fresh values only, never failures), that it comes back under the right provider
 * with its remaining lifetime, and that the file is sealed to its vault (tampering, another
 * vault, a reset vault; carried across rekey).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vaultplug/vaultplug.h"
#include "cache.h"
#include "cachefile.h"
#include "identity.h"

#define CANARY "cachefile-canary-31d9a7"

typedef struct fx {
    char dir[64], vault[96], other[96], file[96];
    char *key;
    vp_vault *v;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/vp-cachefile-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->vault, sizeof(f->vault), "%s/vault.vpv", f->dir);
    snprintf(f->other, sizeof(f->other), "%s/other.vpv", f->dir);
    snprintf(f->file, sizeof(f->file), "%s/cache.vpc", f->dir);
    vp_buf k = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_vault_create(f->vault, NULL, &k, &err), 0);
    f->key = strdup(k.data);
    vp_buf_free(&k);
    assert_int_equal(vp_vault_open(f->vault, f->key, &f->v, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    vp_vault_close(f->v);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f->key);
    free(f);
    return 0;
}

/* An identity over the environment variables names[0..n) (no context: no credential part). */
static unsigned char *ident_of(const char *const *names, size_t n, size_t *len)
{
    unsigned char enc[512];
    size_t off = 2;
    enc[0] = (unsigned char)n;
    enc[1] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        enc[off++] = (unsigned char)l;
        enc[off++] = 0;
        memcpy(enc + off, names[i], l);
        off += l;
    }
    unsigned char *id = NULL;
    assert_int_equal(vp__ident_recompute(NULL, 0, "", 0, enc, off, &id, len), 0);
    return id;
}

/* vp__cache_put with the empty identity (the provider read nothing). */
static int put(vp__cache *c, const char *key, size_t prov, const char *v, size_t len, int64_t exp)
{
    size_t il = 0;
    unsigned char *id = ident_of(NULL, 0, &il);
    return vp__cache_put(c, key, prov, v, len, exp, 0, id, il);
}

/* A cache of providers {aws, echo} with: two fresh values (one binary, one empty), one expired
 * value, one remembered failure. The clock: mono 1000, wall 5,000,000. */
static vp__cache *filled(void)
{
    vp__cache *c = NULL;
    assert_int_equal(vp__cache_new(2, 100, 1 << 20, &c), 0);
    assert_int_equal(
        put(c, "aws|prod|aws://db", 0, CANARY "\0bin", sizeof(CANARY) + 3, 1000 + 60000), 0);
    assert_int_equal(put(c, "echo||echo://empty", 1, "", 0, 1000 + 1000), 0);
    assert_int_equal(put(c, "echo||echo://old", 1, "old", 3, 900), 0);
    /* A value whose identity is unknown is served in this process but never saved. */
    assert_int_equal(vp__cache_put(c, "echo||echo://anon", 1, "anon", 4, 1000 + 60000, 0, NULL, 0),
                     0);
    vp__cache_put_neg(c, "echo||echo://missing", 1, VP_ENOTFOUND, "not found", 1000 + 60000);
    return c;
}

static int file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    for (size_t i = 0; i + strlen(needle) <= n; i++)
        if (memcmp(buf + i, needle, strlen(needle)) == 0)
            return 1;
    return 0;
}

static void test_roundtrip(void **state)
{
    fx *f = *state;
    const char *names[] = {"aws", "echo"};
    vp__cache *c = filled();
    vp_error err;
    size_t saved = 0, loaded = 0;
    assert_int_equal(
        vp__cachefile_save(NULL, c, names, 2, 1000, 5000000, f->v, f->file, &saved, &err), 0);
    assert_int_equal(saved, 2); /* the expired value and the failure are not saved */
    struct stat sb;
    assert_int_equal(stat(f->file, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_false(file_has(f->file, CANARY));
    assert_false(file_has(f->file, "aws://db"));
    vp__cache_free(c);

    /* Another process: other providers, in another order, another monotonic clock. */
    const char *names2[] = {"gcp", "echo", "aws"};
    assert_int_equal(vp__cache_new(3, 100, 1 << 20, &c), 0);
    assert_int_equal(
        vp__cachefile_load(NULL, c, names2, 3, 70000, 5000500, f->v, f->file, &loaded, &err), 0);
    assert_int_equal(loaded, 2);
    vp_buf out = VP_BUF_INIT;
    int st = 0;
    char msg[64];
    assert_int_equal(vp__cache_get(c, "aws|prod|aws://db", 70000, &out, &st, msg, sizeof(msg)),
                     VP__CACHE_HIT);
    assert_int_equal(out.len, sizeof(CANARY) + 3);
    assert_memory_equal(out.data, CANARY "\0bin", out.len);
    uint64_t entries = 0, bytes = 0;
    vp__cache_usage(c, 2, &entries, &bytes);
    assert_int_equal(entries, 1); /* placed under aws, index 2 here */
    assert_int_equal(vp__cache_get(c, "echo||echo://missing", 70000, &out, &st, msg, sizeof(msg)),
                     VP__CACHE_MISS);
    /* Remaining lifetime kept: 59.5 s left of the aws entry, 0.5 s of the empty one. */
    assert_int_equal(
        vp__cache_get(c, "echo||echo://empty", 70000 + 400, &out, &st, msg, sizeof(msg)),
        VP__CACHE_HIT);
    assert_int_equal(
        vp__cache_get(c, "echo||echo://empty", 70000 + 600, &out, &st, msg, sizeof(msg)),
        VP__CACHE_MISS);
    assert_int_equal(
        vp__cache_get(c, "aws|prod|aws://db", 70000 + 59400, &out, &st, msg, sizeof(msg)),
        VP__CACHE_HIT);
    assert_int_equal(
        vp__cache_get(c, "aws|prod|aws://db", 70000 + 59600, &out, &st, msg, sizeof(msg)),
        VP__CACHE_MISS);
    vp_buf_free(&out);
    vp__cache_free(c);

    /* Later than every expiry: nothing comes back. */
    assert_int_equal(vp__cache_new(2, 100, 1 << 20, &c), 0);
    assert_int_equal(
        vp__cachefile_load(NULL, c, names, 2, 1, 5000000 + 61000, f->v, f->file, &loaded, &err), 0);
    assert_int_equal(loaded, 0);
    vp__cache_free(c);
}

static void test_sealed_to_vault(void **state)
{
    fx *f = *state;
    const char *names[] = {"aws", "echo"};
    vp__cache *c = filled();
    vp_error err;
    size_t loaded = 99;
    assert_int_equal(
        vp__cachefile_save(NULL, c, names, 2, 1000, 5000000, f->v, f->file, NULL, &err), 0);
    vp__cache_free(c);
    assert_int_equal(vp__cache_new(2, 100, 1 << 20, &c), 0);

    /* Rekey keeps the cache key (it is a record of the vault). */
    vp_buf nk = VP_BUF_INIT;
    assert_int_equal(vp_vault_rekey(f->v, &nk, &err), 0);
    vp_buf_free(&nk);
    assert_int_equal(
        vp__cachefile_load(NULL, c, names, 2, 1000, 5000000, f->v, f->file, &loaded, &err), 0);
    assert_int_equal(loaded, 2);
    vp__cache_reset(c, VP__CACHE_ALL);

    /* Another vault that has a cache key of its own cannot open it. */
    vp_buf k2 = VP_BUF_INIT;
    vp_vault *v2 = NULL;
    char other_file[128];
    snprintf(other_file, sizeof(other_file), "%s/other.vpc", f->dir);
    assert_int_equal(vp_vault_create(f->other, NULL, &k2, &err), 0);
    assert_int_equal(vp_vault_open(f->other, k2.data, &v2, &err), 0);
    assert_int_equal(
        vp__cachefile_save(NULL, c, names, 2, 1000, 5000000, v2, other_file, NULL, &err), 0);
    assert_int_equal(
        vp__cachefile_load(NULL, c, names, 2, 1000, 5000000, v2, f->file, &loaded, &err),
        VP_EPROTO);
    assert_null(strstr(err.message, CANARY));

    /* One flipped byte anywhere (header included) is refused. */
    FILE *fp = fopen(f->file, "r+b");
    assert_non_null(fp);
    fseek(fp, 13, SEEK_SET); /* the entry count */
    fputc(0x7f, fp);
    fclose(fp);
    assert_int_equal(
        vp__cachefile_load(NULL, c, names, 2, 1000, 5000000, f->v, f->file, &loaded, &err),
        VP_EPROTO);

    /* A reset vault has a new, empty record set: the old file is simply not ours. */
    vp_vault_close(v2);
    vp_buf_free(&k2);
    vp_buf nk2 = VP_BUF_INIT;
    assert_int_equal(
        vp__cachefile_save(NULL, c, names, 2, 1000, 5000000, f->v, f->file, NULL, &err), 0);
    vp_vault_close(f->v);
    f->v = NULL;
    assert_int_equal(vp_vault_reset(f->vault, &nk2, NULL, &err), 0);
    assert_int_equal(vp_vault_open(f->vault, nk2.data, &f->v, &err), 0);
    vp_buf_free(&nk2);
    assert_int_equal(
        vp__cachefile_load(NULL, c, names, 2, 1000, 5000000, f->v, f->file, &loaded, &err), 0);
    assert_int_equal(loaded, 0);
    /* No file at all: nothing loaded, no error. */
    assert_int_equal(unlink(f->file), 0);
    assert_int_equal(
        vp__cachefile_load(NULL, c, names, 2, 1000, 5000000, f->v, f->file, &loaded, &err), 0);
    vp__cache_free(c);
}

/* insomnia-fidelity C9: an entry keeps the inputs it was fetched with through runs that only
 * load and save it (hit-only runs), so a later run whose inputs differ never gets it. */
static void test_identity_survives_hit_runs(void **state)
{
    fx *f = *state;
    const char *names[] = {"hashicorp"};
    const char *in[] = {"e:VP_TEST_IDENT_ADDR", "e:VP_TEST_IDENT_TOKEN"};
    vp_error err;
    size_t n = 0;
    setenv("VP_TEST_IDENT_ADDR", "https://prod.example:8200", 1);
    setenv("VP_TEST_IDENT_TOKEN", "hvs.prod", 1);
    vp__cache *c = NULL;
    assert_int_equal(vp__cache_new(1, 100, 1 << 20, &c), 0);
    size_t il = 0;
    unsigned char *id = ident_of(in, 2, &il);
    assert_int_equal(vp__cache_put(c, "hashicorp||hashicorp://secret/db", 0, CANARY, strlen(CANARY),
                                   1000 + 60000, 0, id, il),
                     0);
    /* Run 1 fetched and saves. Runs 2 and 3 only load and save again. */
    assert_int_equal(vp__cachefile_save(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 1);
    for (int run = 2; run <= 3; run++) {
        vp__cache_free(c);
        assert_int_equal(vp__cache_new(1, 100, 1 << 20, &c), 0);
        assert_int_equal(
            vp__cachefile_load(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(
            vp__cachefile_save(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err), 0);
        assert_int_equal(n, 1);
    }
    /* Run 4: VAULT_ADDR points at staging. Production's value must not come back. */
    setenv("VP_TEST_IDENT_ADDR", "https://staging.example:8200", 1);
    vp__cache_free(c);
    assert_int_equal(vp__cache_new(1, 100, 1 << 20, &c), 0);
    assert_int_equal(vp__cachefile_load(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 0);
    /* Its save keeps production's entry (carried, not served), so switching back still hits. */
    assert_int_equal(vp__cachefile_save(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 1);
    vp__cache_free(c);
    assert_int_equal(vp__cache_new(1, 100, 1 << 20, &c), 0);
    /* Run 5: the token changed (revoked and replaced). */
    setenv("VP_TEST_IDENT_ADDR", "https://prod.example:8200", 1);
    setenv("VP_TEST_IDENT_TOKEN", "hvs.other", 1);
    assert_int_equal(vp__cachefile_load(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 0);
    /* Back to the identity it was fetched as: served. */
    setenv("VP_TEST_IDENT_TOKEN", "hvs.prod", 1);
    assert_int_equal(vp__cachefile_load(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 1);
    /* A reset drops carried entries too: a staging run that resets saves nothing. */
    setenv("VP_TEST_IDENT_ADDR", "https://staging.example:8200", 1);
    vp__cache_free(c);
    assert_int_equal(vp__cache_new(1, 100, 1 << 20, &c), 0);
    assert_int_equal(vp__cachefile_load(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 0);
    vp__cache_reset(c, 0);
    assert_int_equal(vp__cachefile_save(NULL, c, names, 1, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 0);
    vp__cache_free(c);
    unsetenv("VP_TEST_IDENT_ADDR");
    unsetenv("VP_TEST_IDENT_TOKEN");
}

/* A file of an earlier version is never served (version 2 could hold entries saved with a
 * hit-only run's inputs): it loads nothing, without an error. */
static void test_old_versions_dropped(void **state)
{
    fx *f = *state;
    const char *names[] = {"aws", "echo"};
    vp__cache *c = filled();
    vp_error err;
    size_t n = 0;
    assert_int_equal(vp__cachefile_save(NULL, c, names, 2, 1000, 5000000, f->v, f->file, &n, &err),
                     0);
    assert_int_equal(n, 2);
    for (int version = 1; version <= 2; version++) {
        FILE *fp = fopen(f->file, "r+b");
        assert_non_null(fp);
        fseek(fp, 8, SEEK_SET);
        fputc(version, fp);
        fclose(fp);
        vp__cache_reset(c, VP__CACHE_ALL);
        n = 99;
        assert_int_equal(
            vp__cachefile_load(NULL, c, names, 2, 1000, 5000000, f->v, f->file, &n, &err), 0);
        assert_int_equal(n, 0);
    }
    vp__cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_to_vault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_survives_hit_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_versions_dropped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
