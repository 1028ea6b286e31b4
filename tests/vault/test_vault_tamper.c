/* Tamper detection: every bit and byte flip, every truncation, record swap, replay and cross-vault
 * moves. Each case counts detections and asserts 100%. Where noted the test also recomputes the
 * file MAC (as an attacker who could forge it would) to show the per-record checks stand alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <sodium.h>

#include "vault_int.h"
#include "vt_util.h"

#define MAXREC 16

/* Open must fail with VP_EPROTO (or VP_EAUTH for damage to the key check that also breaks the
 * MAC, which cannot happen for single changes: see docs) and return no handle. */
static int open_fails(const char *path, const char *key, int *code)
{
    vp_vault *v = (vp_vault *)path;
    vp_error err;
    int rc = vp_vault_open(path, key, &v, &err);
    *code = rc;
    if (rc == 0) {
        vp_vault_close(v);
        return 0;
    }
    assert_null(v);
    assert_int_equal(err.code, rc);
    return 1;
}

/* A vault with secrets, a credential and a meta record, its key and bytes. */
static unsigned char *make_vault(vt_dir *d, char **key, size_t *len)
{
    vp_vault *v = NULL;
    vp_error err;
    *key = vt_create(d);
    assert_int_equal(vp_vault_open(d->path, *key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "alpha", "value-one", 9, &err), 0);
    assert_int_equal(vp_vault_set(v, "beta", "value-two-longer-than-thirty-two-bytes!!", 40, &err),
                     0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_CREDENTIAL, "aws", "{\"k\":1}", 7, &err), 0);
    assert_int_equal(vp__vault_rec_set(v, VP__VAULT_META, "m", "", 0, &err), 0);
    assert_int_equal(vp_vault_set(v, "gamma", "3", 1, &err), 0);
    vp_vault_close(v);
    return vt_read(d->path, len);
}

static void remac(unsigned char *img, size_t len, const char *key)
{
    unsigned char k[32];
    vp__vault_keys keys;
    vp_error err;
    assert_int_equal(vp__vault_key_parse(key, k, &err), 0);
    assert_int_equal(vp__vault_derive(k, &keys), 0);
    vp__vault_remac(img, len, &keys);
    sodium_memzero(&keys, sizeof keys);
    sodium_memzero(k, sizeof k);
}

static void test_flip_every_bit_and_byte(void **state)
{
    vt_dir d;
    char *key;
    size_t len, cases = 0, detected = 0, eproto = 0;
    unsigned char *img, *mod;
    int code;
    (void)state;

    vt_dir_make(&d);
    img = make_vault(&d, &key, &len);
    mod = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b <= 8; b++) {
            memcpy(mod, img, len);
            mod[i] ^= b < 8 ? (unsigned char)(1u << b) : 0xff; /* each bit, then whole byte */
            vt_write(d.path, mod, len);
            cases++;
            if (open_fails(d.path, key, &code)) {
                detected++;
                eproto += code == VP_EPROTO;
            }
        }
    }
    print_message("flip: %zu cases over %zu bytes, %zu detected (%zu as VP_EPROTO)\n", cases, len,
                  detected, eproto);
    assert_int_equal(detected, cases);
    assert_int_equal(eproto, cases);
    /* The untouched file still opens (the harness is not just failing everything). */
    vt_write(d.path, img, len);
    assert_int_equal(open_fails(d.path, key, &code), 0);
    free(mod);
    free(img);
    free(key);
    vt_dir_remove(&d);
}

static void test_truncate_and_extend(void **state)
{
    vt_dir d;
    char *key;
    size_t len, cases = 0, detected = 0;
    unsigned char *img, *ext;
    int code;
    (void)state;

    vt_dir_make(&d);
    img = make_vault(&d, &key, &len);
    for (size_t n = 0; n < len; n++) {
        vt_write(d.path, img, n);
        cases++;
        if (open_fails(d.path, key, &code) && code == VP_EPROTO)
            detected++;
    }
    /* Appended bytes (with and without a recomputed MAC). */
    ext = malloc(len + 64);
    memcpy(ext, img, len);
    memset(ext + len, 0, 64);
    for (size_t extra = 1; extra <= 64; extra++) {
        vt_write(d.path, ext, len + extra);
        cases++;
        if (open_fails(d.path, key, &code) && code == VP_EPROTO)
            detected++;
    }
    print_message("truncate/extend: %zu cases, %zu detected\n", cases, detected);
    assert_int_equal(detected, cases);
    /* Truncating a whole trailing record and forging the MAC: the record count catches it. */
    {
        size_t offs[MAXREC], lens[MAXREC], nr = vt_records(img, len, offs, lens, MAXREC);
        assert_int_equal(nr, 5);
        size_t cut = offs[4];
        memcpy(ext, img, cut);
        memset(ext + cut, 0, 32);
        remac(ext, cut + 32, key);
        vt_write(d.path, ext, cut + 32);
        assert_true(open_fails(d.path, key, &code));
        assert_int_equal(code, VP_EPROTO);
    }
    free(ext);
    free(img);
    free(key);
    vt_dir_remove(&d);
}

static void test_swap_records(void **state)
{
    vt_dir d;
    char *key;
    size_t len, offs[MAXREC], lens[MAXREC], nr, cases = 0, detected = 0;
    unsigned char *img, *mod;
    int code;
    (void)state;

    vt_dir_make(&d);
    img = make_vault(&d, &key, &len);
    nr = vt_records(img, len, offs, lens, MAXREC);
    assert_int_equal(nr, 5);
    mod = malloc(len);
    for (size_t a = 0; a < nr; a++) {
        for (size_t b = a + 1; b < nr; b++) {
            for (int forge = 0; forge < 2; forge++) {
                /* rebuild: records in order with a and b exchanged */
                size_t off = 96;
                memcpy(mod, img, 96);
                for (size_t i = 0; i < nr; i++) {
                    size_t j = i == a ? b : i == b ? a : i;
                    memcpy(mod + off, img + offs[j], lens[j]);
                    off += lens[j];
                }
                memcpy(mod + off, img + off, 32);
                assert_int_equal(off + 32, len);
                if (forge)
                    remac(mod, len, key);
                vt_write(d.path, mod, len);
                cases++;
                if (open_fails(d.path, key, &code) && code == VP_EPROTO)
                    detected++;
            }
        }
    }
    print_message("swap: %zu cases, %zu detected\n", cases, detected);
    assert_int_equal(detected, cases);
    free(mod);
    free(img);
    free(key);
    vt_dir_remove(&d);
}

static void test_replay_old_record(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_error err;
    char *key;
    size_t l1, l2, o1[MAXREC], n1[MAXREC], o2[MAXREC], n2[MAXREC], cases = 0, detected = 0;
    unsigned char *v1, *v2, *mod;
    int code;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "a", "old-value-of-a", 14, &err), 0);
    assert_int_equal(vp_vault_set(v, "b", "b", 1, &err), 0);
    v1 = vt_read(d.path, &l1);
    assert_int_equal(vp_vault_set(v, "a", "new-value-of-a", 14, &err), 0);
    vp_vault_close(v);
    v2 = vt_read(d.path, &l2);
    assert_int_equal(vt_records(v1, l1, o1, n1, MAXREC), 2); /* [a(1), b(2)] */
    assert_int_equal(vt_records(v2, l2, o2, n2, MAXREC), 2); /* [b(2), a(3)] */
    assert_int_equal(n1[0], n2[1]);
    mod = malloc(l2);
    /* Put the old sealed "a" where the new one is, or where "b" is, with and without a forged
     * file MAC. */
    for (int slot = 0; slot < 2; slot++) {
        for (int forge = 0; forge < 2; forge++) {
            memcpy(mod, v2, l2);
            if (n2[slot] != n1[0])
                continue;
            memcpy(mod + o2[slot], v1 + o1[0], n1[0]);
            if (forge)
                remac(mod, l2, key);
            vt_write(d.path, mod, l2);
            cases++;
            if (open_fails(d.path, key, &code) && code == VP_EPROTO)
                detected++;
        }
    }
    /* And the old file's header with the new records (generation/counters from the past). */
    memcpy(mod, v2, l2);
    memcpy(mod, v1, 96);
    vt_write(d.path, mod, l2);
    cases++;
    if (open_fails(d.path, key, &code) && code == VP_EPROTO)
        detected++;
    print_message("replay: %zu cases, %zu detected\n", cases, detected);
    assert_true(cases >= 3);
    assert_int_equal(detected, cases);
    free(mod);
    free(v1);
    free(v2);
    free(key);
    vt_dir_remove(&d);
}

static void test_move_between_vaults(void **state)
{
    vt_dir da, db;
    vp_vault *v = NULL;
    vp_buf kb = VP_BUF_INIT;
    vp_error err;
    char *key;
    size_t la, lb, oa[MAXREC], na[MAXREC], ob[MAXREC], nb[MAXREC], cases = 0, detected = 0;
    unsigned char *a, *b, *mod;
    int code;
    (void)state;

    /* Two vaults under the SAME key (e.g. one Insomnia key used twice): only the vault id in the
     * associated data tells their records apart. */
    vt_dir_make(&da);
    vt_dir_make(&db);
    key = vt_create(&da);
    assert_int_equal(vp_vault_create(db.path, key, &kb, &err), 0);
    assert_string_equal(kb.data, key);
    assert_int_equal(vp_vault_open(da.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "x", "from-vault-A", 12, &err), 0);
    vp_vault_close(v);
    assert_int_equal(vp_vault_open(db.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_set(v, "x", "from-vault-B", 12, &err), 0);
    vp_vault_close(v);
    a = vt_read(da.path, &la);
    b = vt_read(db.path, &lb);
    assert_int_equal(la, lb);
    assert_int_equal(vt_records(a, la, oa, na, MAXREC), 1);
    assert_int_equal(vt_records(b, lb, ob, nb, MAXREC), 1);
    mod = malloc(lb);
    for (int forge = 0; forge < 2; forge++) {
        memcpy(mod, b, lb);
        memcpy(mod + ob[0], a + oa[0], na[0]); /* same counter, same size: only the id differs */
        if (forge)
            remac(mod, lb, key);
        vt_write(db.path, mod, lb);
        cases++;
        if (open_fails(db.path, key, &code) && code == VP_EPROTO)
            detected++;
    }
    print_message("move: %zu cases, %zu detected\n", cases, detected);
    assert_int_equal(detected, cases);
    /* Whole file of A copied over B opens as A (it is A), so a host must pin the vault id; the
     * handle does: a B handle refuses to write over it. */
    free(mod);
    free(a);
    free(b);
    vp_buf_free(&kb);
    free(key);
    vt_dir_remove(&da);
    vt_dir_remove(&db);
}

static void test_foreign_file_under_open_handle(void **state)
{
    vt_dir da, db;
    vp_vault *v = NULL;
    vp_buf kb = VP_BUF_INIT;
    vp_error err;
    char *key;
    unsigned char *a;
    size_t la;
    (void)state;

    vt_dir_make(&da);
    vt_dir_make(&db);
    key = vt_create(&da);
    assert_int_equal(vp_vault_create(db.path, key, &kb, &err), 0);
    assert_int_equal(vp_vault_open(db.path, key, &v, &err), 0);
    a = vt_read(da.path, &la);
    vt_write(db.path, a, la);
    assert_int_equal(vp_vault_set(v, "x", "y", 1, &err), VP_EPROTO);
    assert_non_null(strstr(err.message, "different vault"));
    vp_vault_close(v);
    free(a);
    vp_buf_free(&kb);
    free(key);
    vt_dir_remove(&da);
    vt_dir_remove(&db);
}

/* A file whose records are all validly sealed under the right key but which holds the same name
 * twice (only a key holder could write it) is still rejected. */
static void test_duplicate_records(void **state)
{
    unsigned char k[32], *img = NULL;
    vp__vault_keys keys;
    vp__vault_state st, parsed;
    vp_error err;
    size_t len = 0;
    (void)state;

    randombytes_buf(k, sizeof k);
    assert_int_equal(vp__vault_derive(k, &keys), 0);
    memset(&st, 0, sizeof st);
    randombytes_buf(st.id, sizeof st.id);
    st.generation = 1;
    st.next_counter = 1;
    assert_int_equal(vp__vault_state_add(&st, &keys, VP__VAULT_SECRET, "dup", "1", 1), 0);
    assert_int_equal(vp__vault_state_add(&st, &keys, VP__VAULT_CREDENTIAL, "dup", "2", 1), 0);
    assert_int_equal(vp__vault_serialize(&st, &keys, &img, &len), 0);
    assert_int_equal(vp__vault_parse(img, len, &keys, &parsed, &err), 0); /* sections differ */
    vp__vault_state_free(&parsed);
    assert_int_equal(vp__vault_state_add(&st, &keys, VP__VAULT_SECRET, "dup", "3", 1), 0);
    assert_int_equal(vp__vault_serialize(&st, &keys, &img, &len), 0);
    assert_int_equal(vp__vault_parse(img, len, &keys, &parsed, &err), VP_EPROTO);
    assert_non_null(strstr(err.message, "duplicate"));
    vp__vault_state_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flip_every_bit_and_byte),
        cmocka_unit_test(test_truncate_and_extend),
        cmocka_unit_test(test_swap_records),
        cmocka_unit_test(test_replay_old_record),
        cmocka_unit_test(test_move_between_vaults),
        cmocka_unit_test(test_foreign_file_under_open_handle),
        cmocka_unit_test(test_duplicate_records),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
