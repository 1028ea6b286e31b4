/*
 * vault - the local encrypted vault: handles, the mutate-under-lock cycle and the public API.
 * The format (parse/seal/serialise) is in vault_file.c, file I/O and the lock in vault_io.c, keys
 * in vaultkey.c.
 *
 * Commit protocol (docs/vault-format.md, "Writing"): every mutation takes an exclusive flock on
 * `<path>.lock`, re-reads and verifies the current file, applies the change, writes a temp file
 * `<path>.tmp.<random>` in the same directory (O_EXCL, 0600), fsyncs it, renames it over the
 * vault and fsyncs the directory. rename() is atomic, so a reader (which takes no lock) sees the
 * old or the new file and a crash at any instant leaves one of them, whole.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "buf.h"
#include "errint.h"
#include "le.h"
#include "secmem.h"
#include "vault_int.h"

struct vp_vault {
    vp__vault_paths paths; /* the real file (links resolved once, at open), its lock, directory */
    unsigned char *key;    /* secure, 32 bytes */
    vp__vault_keys *keys;  /* secure */
    vp__vault_state st;
};

/* Writers poll the lock; a writer that holds it for this long is assumed stuck. Only tests change
 * it, so a plain static is fine (it is not per-vault state). */
/* ---- handle ---- */

static void vault_free(vp_vault *v)
{
    if (v == NULL)
        return;
    vp__vault_state_free(&v->st);
    vp__secmem_free(v->key);
    vp__secmem_free(v->keys);
    vp__vault_paths_free(&v->paths);
    free(v);
}

void vp_vault_close(vp_vault *vault)
{
    vault_free(vault);
}

/* Load the key material (parsed from a string, or raw) into fresh secure blocks. */
static int keys_load(const char *keystr, const unsigned char *raw, unsigned char **key_out,
                     vp__vault_keys **keys_out, vp_error *err)
{
    unsigned char *key = vp__secmem_alloc(VP__VAULT_KEYBYTES);
    vp__vault_keys *keys = vp__secmem_alloc(sizeof *keys);
    int rc;

    if (key == NULL || keys == NULL) {
        rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
        goto fail;
    }
    if (keystr != NULL) {
        rc = vp__vault_key_parse(keystr, key, err);
        if (rc != 0)
            goto fail;
    } else if (raw != NULL) {
        memcpy(key, raw, VP__VAULT_KEYBYTES);
    } else {
        randombytes_buf(key, VP__VAULT_KEYBYTES);
    }
    rc = vp__vault_derive(key, keys);
    if (rc != 0) {
        vp__err_set(err, NULL, rc, NULL);
        goto fail;
    }
    *key_out = key;
    *keys_out = keys;
    return 0;
fail:
    vp__secmem_free(key);
    vp__secmem_free(keys);
    return rc;
}

/* Read and verify the current file into st, checking it is still the same vault and has not
 * gone back in time relative to what this handle last saw. */
static int load_current(const vp_vault *v, vp__vault_state *st, vp_error *err)
{
    unsigned char *img;
    size_t len;
    int rc = vp__vault_read_file(v->paths.path, 1, &img, &len, err);

    if (rc != 0)
        return rc;
    rc = vp__vault_parse(img, len, v->keys, st, err);
    if (rc != 0)
        return rc;
    if (sodium_memcmp(st->id, v->st.id, VP__VAULT_ID_BYTES) != 0) {
        vp__vault_state_free(st);
        return vp__err_set(err, NULL, VP_EPROTO, "vault file %s was replaced by a different vault",
                           v->paths.path);
    }
    if (st->generation < v->st.generation) {
        vp__vault_state_free(st);
        return vp__err_set(err, NULL, VP_EPROTO,
                           "vault file %s was rolled back to an older version (generation %llu, "
                           "expected at least %llu)",
                           v->paths.path, (unsigned long long)st->generation,
                           (unsigned long long)v->st.generation);
    }
    return 0;
}

typedef int (*mutate_fn)(vp__vault_state *st, const vp__vault_keys *keys, void *arg, vp_error *err);

/* A mutate_fn's "nothing to write": the handle takes the state just read, nothing is committed.
 * (Statuses are negative.) */
#define MUTATE_UNCHANGED 1

/* Lock, re-read, apply fn, commit under newkeys (NULL = the handle's keys), unlock. On success
 * the handle holds the committed state; on failure neither the file nor the handle change. */
static int mutate(vp_vault *v, mutate_fn fn, void *arg, const vp__vault_keys *newkeys,
                  vp_error *err)
{
    vp__vault_state st;
    unsigned char *img = NULL;
    size_t len = 0;
    int lockfd = -1, rc;

    rc = vp__vault_lock_acquire(&v->paths, &lockfd, err);
    if (rc != 0)
        return rc;
    rc = load_current(v, &st, err);
    if (rc != 0)
        goto out;
    rc = fn(&st, newkeys ? newkeys : v->keys, arg, err);
    if (rc == MUTATE_UNCHANGED) {
        vp__vault_state_free(&v->st);
        v->st = st;
        vp__vault_lock_release(lockfd);
        vp_error_clear(err);
        return 0;
    }
    if (rc != 0)
        goto out_st;
    st.generation++;
    rc = vp__vault_serialize(&st, newkeys ? newkeys : v->keys, &img, &len);
    if (rc != 0) {
        vp__err_set(err, NULL, rc,
                    rc == VP_ELIMIT ? "the vault would grow past its size limit" : NULL);
        goto out_st;
    }
    rc = vp__vault_commit_image(&v->paths, img, len, err);
    if (rc != 0)
        goto out_st;
    vp__vault_state_free(&v->st);
    /* st keeps the image it was read from: unchanged records' sealed bytes point into it and
     * the next commit copies them from there. */
    v->st = st;
    free(img);
    vp__vault_lock_release(lockfd);
    vp_error_clear(err);
    return 0;
out_st:
    vp__vault_state_free(&st);
out:
    free(img);
    vp__vault_lock_release(lockfd);
    return rc;
}

/* ---- create / open ---- */

int vp_vault_key_generate(vp_buf *key_out, vp_error *err)
{
    unsigned char *k;
    int rc;

    if (key_out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = vp__secmem_init();
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    k = vp__secmem_alloc(VP__VAULT_KEYBYTES);
    if (k == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    randombytes_buf(k, VP__VAULT_KEYBYTES);
    rc = vp__vault_key_to_string(k, key_out);
    vp__secmem_free(k);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    vp_error_clear(err);
    return 0;
}

int vp_vault_create(const char *path, const char *key, vp_buf *key_out, vp_error *err)
{
    vp__vault_state st;
    vp__vault_keys *keys = NULL;
    unsigned char *k = NULL, *img = NULL;
    size_t len = 0;
    struct stat sb;
    vp__vault_paths p;
    int lockfd = -1, rc;

    if (path == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "no vault path given");
    rc = vp__secmem_init();
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    rc = vp__vault_paths_make(path, &p, err);
    if (rc != 0)
        return rc;
    memset(&st, 0, sizeof st);
    rc = keys_load(key, NULL, &k, &keys, err);
    if (rc != 0)
        goto out;
    rc = vp__vault_lock_acquire(&p, &lockfd, err);
    if (rc != 0)
        goto out;
    if (lstat(p.path, &sb) == 0) {
        rc = vp__err_set(err, NULL, VP_EEXIST,
                         "%s already exists; open it, or use reset if its key is lost", p.path);
        goto out;
    }
    randombytes_buf(st.id, sizeof st.id);
    st.generation = 1;
    st.next_counter = 1;
    rc = vp__vault_serialize(&st, keys, &img, &len);
    if (rc != 0) {
        vp__err_set(err, NULL, rc, NULL);
        goto out;
    }
    rc = vp__vault_commit_image(&p, img, len, err);
    if (rc != 0)
        goto out;
    if (key_out != NULL) {
        rc = vp__vault_key_to_string(k, key_out);
        if (rc != 0) {
            /* The vault exists but its key could not be handed out: remove it rather than
             * leave a vault nobody can open. */
            unlink(p.path);
            vp__err_set(err, NULL, rc, NULL);
            goto out;
        }
    }
    vp_error_clear(err);
out:
    vp__vault_lock_release(lockfd);
    free(img);
    vp__secmem_free(k);
    vp__secmem_free(keys);
    vp__vault_paths_free(&p);
    return rc;
}

int vp_vault_open(const char *path, const char *key, vp_vault **out, vp_error *err)
{
    vp_vault *v;
    unsigned char *img;
    size_t len;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (path == NULL || key == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = vp__secmem_init();
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    v = calloc(1, sizeof *v);
    if (v == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    rc = vp__vault_paths_make(path, &v->paths, err);
    if (rc != 0) {
        free(v);
        return rc;
    }
    /* Reads refuse an unsafe directory too: whoever can write it can roll the vault back. */
    rc = vp__vault_check_dirs(&v->paths, err);
    if (rc != 0)
        goto fail;
    rc = keys_load(key, NULL, &v->key, &v->keys, err);
    if (rc != 0)
        goto fail;
    rc = vp__vault_read_file(v->paths.path, 1, &img, &len, err);
    if (rc != 0)
        goto fail;
    rc = vp__vault_parse(img, len, v->keys, &v->st, err);
    if (rc != 0)
        goto fail;
    *out = v;
    vp_error_clear(err);
    return 0;
fail:
    vault_free(v);
    return rc;
}

int vp_vault_reload(vp_vault *vault, vp_error *err)
{
    vp__vault_state st;
    int rc;

    if (vault == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = vp__vault_check_dirs(&vault->paths, err);
    if (rc != 0)
        return rc;
    rc = load_current(vault, &st, err);
    if (rc != 0)
        return rc;
    vp__vault_state_free(&vault->st);
    vault->st = st;
    vp_error_clear(err);
    return 0;
}

/* ---- generic records ---- */

static int check_section(uint8_t section)
{
    return section >= VP__VAULT_SECRET && section <= VP__VAULT_META;
}

static int check_name(const char *name, vp_error *err)
{
    if (name == NULL || !vp__vault_name_ok(name, strnlen(name, VP_VAULT_NAME_MAX + 1)))
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid name: use 1 to %d characters from A-Z a-z 0-9 _ . -",
                           VP_VAULT_NAME_MAX);
    return 0;
}

typedef struct set_arg {
    uint8_t section;
    const char *name;
    const void *value;
    size_t len;
} set_arg;

static int do_set(vp__vault_state *st, const vp__vault_keys *keys, void *arg, vp_error *err)
{
    set_arg *a = arg;
    ssize_t idx = vp__vault_state_find(st, a->section, a->name);
    int rc;

    /* A replaced record gets a new counter (appended at the end) so counters keep increasing
     * through the file. */
    if (idx < 0 && st->nrecs >= VP_VAULT_RECORDS_MAX)
        return vp__err_set(err, NULL, VP_ELIMIT, "the vault already holds %u records",
                           VP_VAULT_RECORDS_MAX);
    if (idx >= 0)
        vp__vault_state_remove(st, (size_t)idx);
    rc = vp__vault_state_add(st, keys, a->section, a->name, a->value, a->len);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    return 0;
}

int vp__vault_rec_set(vp_vault *v, uint8_t section, const char *name, const void *value, size_t len,
                      vp_error *err)
{
    set_arg a = {section, name, value, len};
    int rc;

    if (v == NULL || !check_section(section) || (value == NULL && len > 0))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_name(name, err);
    if (rc != 0)
        return rc;
    if (len > VP_VAULT_VALUE_MAX)
        return vp__err_set(err, NULL, VP_ELIMIT, "value is %zu bytes; the limit is %u bytes", len,
                           VP_VAULT_VALUE_MAX);
    return mutate(v, do_set, &a, NULL, err);
}

static int do_add(vp__vault_state *st, const vp__vault_keys *keys, void *arg, vp_error *err)
{
    set_arg *a = arg;
    if (vp__vault_state_find(st, a->section, a->name) >= 0)
        return MUTATE_UNCHANGED;
    return do_set(st, keys, arg, err);
}

int vp__vault_rec_get_or_add(vp_vault *v, uint8_t section, const char *name, const void *value,
                             size_t len, vp_buf *out, vp_error *err)
{
    set_arg a = {section, name, value, len};
    int rc;

    if (v == NULL || out == NULL || !check_section(section) || (value == NULL && len > 0))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_name(name, err);
    if (rc != 0)
        return rc;
    if (len > VP_VAULT_VALUE_MAX)
        return vp__err_set(err, NULL, VP_ELIMIT, "value is %zu bytes; the limit is %u bytes", len,
                           VP_VAULT_VALUE_MAX);
    /* Under the lock the file is re-read: a record another process created meanwhile is kept
     * and handed out, so every creator ends up with the first one committed. */
    rc = mutate(v, do_add, &a, NULL, err);
    if (rc != 0)
        return rc;
    return vp__vault_rec_get(v, section, name, out, err);
}

int vp__vault_rec_get(vp_vault *v, uint8_t section, const char *name, vp_buf *out, vp_error *err)
{
    ssize_t idx;
    int rc;

    if (v == NULL || out == NULL || !check_section(section))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_name(name, err);
    if (rc != 0)
        return rc;
    idx = vp__vault_state_find(&v->st, section, name);
    if (idx < 0)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "no %s named %s in the vault",
                           section == VP__VAULT_CREDENTIAL ? "credential" : "secret", name);
    rc = vp__buf_set_secure(out, v->st.recs[idx].value, v->st.recs[idx].value_len);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    vp_error_clear(err);
    return 0;
}

typedef struct del_arg {
    uint8_t section;
    const char *name; /* NULL = every record of the section */
    size_t removed;
} del_arg;

static int do_delete(vp__vault_state *st, const vp__vault_keys *keys, void *arg, vp_error *err)
{
    del_arg *a = arg;
    (void)keys;
    if (a->name != NULL) {
        ssize_t idx = vp__vault_state_find(st, a->section, a->name);
        if (idx < 0)
            return vp__err_set(err, NULL, VP_ENOTFOUND, "no %s named %s in the vault",
                               a->section == VP__VAULT_CREDENTIAL ? "credential" : "secret",
                               a->name);
        vp__vault_state_remove(st, (size_t)idx);
        a->removed = 1;
        return 0;
    }
    for (size_t i = st->nrecs; i-- > 0;)
        if (st->recs[i].section == a->section) {
            vp__vault_state_remove(st, i);
            a->removed++;
        }
    return 0;
}

int vp__vault_rec_delete(vp_vault *v, uint8_t section, const char *name, vp_error *err)
{
    del_arg a = {section, name, 0};
    int rc;

    if (v == NULL || !check_section(section))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_name(name, err);
    if (rc != 0)
        return rc;
    return mutate(v, do_delete, &a, NULL, err);
}

int vp__vault_rec_clear(vp_vault *v, uint8_t section, size_t *removed_out, vp_error *err)
{
    del_arg a = {section, NULL, 0};
    int rc;

    if (v == NULL || !check_section(section))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = mutate(v, do_delete, &a, NULL, err);
    if (rc == 0 && removed_out != NULL)
        *removed_out = a.removed;
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void vp_vault_names_free(char **names, size_t count)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int vp__vault_rec_list(vp_vault *v, uint8_t section, char ***names_out, size_t *count_out,
                       vp_error *err)
{
    char **names = NULL;
    size_t n = 0;

    if (names_out != NULL)
        *names_out = NULL;
    if (count_out != NULL)
        *count_out = 0;
    if (v == NULL || names_out == NULL || count_out == NULL || !check_section(section))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    for (size_t i = 0; i < v->st.nrecs; i++)
        n += v->st.recs[i].section == section;
    if (n > 0) {
        size_t j = 0;
        names = calloc(n, sizeof *names);
        if (names == NULL)
            return vp__err_set(err, NULL, VP_ENOMEM, NULL);
        for (size_t i = 0; i < v->st.nrecs; i++) {
            if (v->st.recs[i].section != section)
                continue;
            names[j] = strdup(v->st.recs[i].name);
            if (names[j] == NULL) {
                vp_vault_names_free(names, j);
                return vp__err_set(err, NULL, VP_ENOMEM, NULL);
            }
            j++;
        }
        qsort(names, n, sizeof *names, cmp_names);
    }
    *names_out = names;
    *count_out = n;
    vp_error_clear(err);
    return 0;
}

typedef struct batch_arg {
    uint8_t section;
    const vp__vault_item *items;
    size_t n;
    int overwrite;
    unsigned char *kept;
    size_t imported;
} batch_arg;

static int do_batch(vp__vault_state *st, const vp__vault_keys *keys, void *arg, vp_error *err)
{
    batch_arg *a = arg;
    a->imported = 0;
    for (size_t i = 0; i < a->n; i++) {
        ssize_t idx = vp__vault_state_find(st, a->section, a->items[i].name);
        int rc;
        if (a->kept != NULL)
            a->kept[i] = 0;
        if (idx >= 0 && !a->overwrite) {
            if (a->kept != NULL)
                a->kept[i] = 1;
            continue;
        }
        if (idx < 0 && st->nrecs >= VP_VAULT_RECORDS_MAX)
            return vp__err_set(err, NULL, VP_ELIMIT, "the vault already holds %u records",
                               VP_VAULT_RECORDS_MAX);
        if (idx >= 0)
            vp__vault_state_remove(st, (size_t)idx);
        rc = vp__vault_state_add(st, keys, a->section, a->items[i].name, a->items[i].value,
                                 a->items[i].len);
        if (rc != 0)
            return vp__err_set(err, NULL, rc, NULL);
        a->imported++;
    }
    return 0;
}

int vp__vault_rec_set_many(vp_vault *v, uint8_t section, const vp__vault_item *items, size_t n,
                           int overwrite, unsigned char *kept_out, size_t *imported_out,
                           vp_error *err)
{
    batch_arg a = {section, items, n, overwrite, kept_out, 0};
    int rc;

    if (imported_out != NULL)
        *imported_out = 0;
    if (v == NULL || !check_section(section) || (items == NULL && n > 0))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    for (size_t i = 0; i < n; i++) {
        rc = check_name(items[i].name, err);
        if (rc != 0)
            return rc;
        if (items[i].len > VP_VAULT_VALUE_MAX)
            return vp__err_set(err, NULL, VP_ELIMIT, "value of %s is over %u bytes", items[i].name,
                               VP_VAULT_VALUE_MAX);
    }
    rc = mutate(v, do_batch, &a, NULL, err);
    if (rc == 0 && imported_out != NULL)
        *imported_out = a.imported;
    return rc;
}

typedef struct update_arg {
    uint8_t section;
    const char *name;
    vp__vault_update_fn fn;
    void *arg;
} update_arg;

static int do_update(vp__vault_state *st, const vp__vault_keys *keys, void *arg, vp_error *err)
{
    update_arg *a = arg;
    ssize_t idx = vp__vault_state_find(st, a->section, a->name);
    unsigned char *nv = NULL;
    size_t nl = 0;
    int rc;

    if (idx < 0)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "no %s named %s in the vault",
                           a->section == VP__VAULT_CREDENTIAL ? "credential" : "secret", a->name);
    /* fn reads the value as it is in the file now (not the handle's possibly older copy), so a
     * concurrent writer in another process cannot be overwritten with stale fields. */
    rc = a->fn(a->arg, st->recs[idx].value, st->recs[idx].value_len, &nv, &nl, err);
    if (rc != 0) {
        vp__secmem_free(nv);
        return rc;
    }
    if (nl > VP_VAULT_VALUE_MAX) {
        vp__secmem_free(nv);
        return vp__err_set(err, NULL, VP_ELIMIT, "value is %zu bytes; the limit is %u bytes", nl,
                           VP_VAULT_VALUE_MAX);
    }
    vp__vault_state_remove(st, (size_t)idx);
    rc = vp__vault_state_add(st, keys, a->section, a->name, nv, nl);
    vp__secmem_free(nv);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    return 0;
}

int vp__vault_rec_update(vp_vault *v, uint8_t section, const char *name, vp__vault_update_fn fn,
                         void *arg, vp_error *err)
{
    update_arg a = {section, name, fn, arg};
    int rc;

    if (v == NULL || fn == NULL || !check_section(section))
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_name(name, err);
    if (rc != 0)
        return rc;
    return mutate(v, do_update, &a, NULL, err);
}

/* ---- template source ---- */

static int source_lookup(void *ud, const char *name, vp_buf *out, vp_error *err)
{
    vp_vault *v = ud;
    size_t n;
    ssize_t idx;
    int rc;

    if (v == NULL || name == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    /* A name no secret can have is simply not there: the template sees "undefined" (or its
     * default filter), as for any other missing secret. Names are not secret. */
    n = strnlen(name, VP_VAULT_NAME_MAX + 1);
    idx = vp__vault_name_ok(name, n) ? vp__vault_state_find(&v->st, VP__VAULT_SECRET, name) : -1;
    if (idx < 0)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "no secret named %.*s in the vault",
                           (int)(n > VP_VAULT_NAME_MAX ? VP_VAULT_NAME_MAX : n), name);
    rc = vp__buf_set_secure(out, v->st.recs[idx].value, v->st.recs[idx].value_len);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    vp_error_clear(err);
    return 0;
}

int vp_vault_as_source(vp_vault *vault, vp_vault_source *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (vault == NULL || out == NULL)
        return VP_EINVAL;
    out->ud = vault;
    out->lookup = source_lookup;
    return 0;
}

/* ---- public secret API ---- */

int vp_vault_set(vp_vault *vault, const char *name, const void *value, size_t len, vp_error *err)
{
    return vp__vault_rec_set(vault, VP__VAULT_SECRET, name, value, len, err);
}

int vp_vault_get(vp_vault *vault, const char *name, vp_buf *out, vp_error *err)
{
    return vp__vault_rec_get(vault, VP__VAULT_SECRET, name, out, err);
}

int vp_vault_delete(vp_vault *vault, const char *name, vp_error *err)
{
    return vp__vault_rec_delete(vault, VP__VAULT_SECRET, name, err);
}

int vp_vault_list(vp_vault *vault, char ***names_out, size_t *count_out, vp_error *err)
{
    return vp__vault_rec_list(vault, VP__VAULT_SECRET, names_out, count_out, err);
}

int vp_vault_name_valid(const char *name)
{
    return name != NULL && vp__vault_name_ok(name, strnlen(name, VP_VAULT_NAME_MAX + 1));
}

/* ---- rekey / reset ---- */

static int do_reseal(vp__vault_state *st, const vp__vault_keys *keys, void *arg, vp_error *err)
{
    int rc = vp__vault_state_reseal(st, keys);
    (void)arg;
    return rc != 0 ? vp__err_set(err, NULL, rc, NULL) : 0;
}

/* Re-seal under keystr (NULL: a fresh random key). The formatted key goes to new_key_out when
 * it is non-NULL. */
static int rekey(vp_vault *vault, const char *keystr, vp_buf *new_key_out, vp_error *err)
{
    unsigned char *k = NULL;
    vp__vault_keys *keys = NULL;
    vp_buf tmp = VP_BUF_INIT;
    int rc;

    rc = keys_load(keystr, NULL, &k, &keys, err);
    if (rc != 0)
        return rc;
    /* Format first so nothing can fail after the commit: a committed rekey whose key we could
     * not hand out would lock the user out. */
    if (new_key_out != NULL) {
        rc = vp__vault_key_to_string(k, &tmp);
        if (rc != 0) {
            vp__err_set(err, NULL, rc, NULL);
            goto out;
        }
    }
    rc = mutate(vault, do_reseal, NULL, keys, err);
    if (rc != 0)
        goto out;
    vp__secmem_free(vault->key);
    vp__secmem_free(vault->keys);
    vault->key = k;
    vault->keys = keys;
    k = NULL;
    keys = NULL;
    if (new_key_out != NULL) {
        vp_buf_free(new_key_out);
        *new_key_out = tmp;
        memset(&tmp, 0, sizeof tmp);
    }
out:
    vp_buf_free(&tmp);
    vp__secmem_free(k);
    vp__secmem_free(keys);
    return rc;
}

int vp_vault_rekey(vp_vault *vault, vp_buf *new_key_out, vp_error *err)
{
    if (vault == NULL || new_key_out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    return rekey(vault, NULL, new_key_out, err);
}

int vp_vault_rekey_to(vp_vault *vault, const char *new_key, vp_error *err)
{
    if (vault == NULL || new_key == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    return rekey(vault, new_key, NULL, err);
}

/* Replace the vault at path by an empty one under keystr (NULL: a fresh random key); the
 * formatted key goes to new_key_out when it is non-NULL. */
static int reset(const char *path, const char *keystr, vp_buf *new_key_out, size_t *deleted_out,
                 vp_error *err)
{
    vp__vault_state st;
    vp__vault_keys *keys = NULL;
    unsigned char *k = NULL, *old = NULL, *img = NULL;
    size_t oldlen = 0, len = 0;
    vp_buf tmp = VP_BUF_INIT;
    vp__vault_paths p;
    int lockfd = -1, rc;

    rc = vp__secmem_init();
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    rc = vp__vault_paths_make(path, &p, err);
    if (rc != 0)
        return rc;
    memset(&st, 0, sizeof st);
    rc = keys_load(keystr, NULL, &k, &keys, err);
    if (rc != 0)
        goto out;
    if (new_key_out != NULL) {
        rc = vp__vault_key_to_string(k, &tmp);
        if (rc != 0) {
            vp__err_set(err, NULL, rc, NULL);
            goto out;
        }
    }
    rc = vp__vault_lock_acquire(&p, &lockfd, err);
    if (rc != 0)
        goto out;
    /* The key is lost, so the old file can only be looked at, not verified. Its declared
     * record count is reported; its generation is carried on so a host that remembers the
     * last generation it saw still notices a rollback to the pre-reset file. */
    rc = vp__vault_read_file(p.path, 0, &old, &oldlen, err);
    if (rc == VP_ENOTFOUND || rc == VP_EINVAL)
        goto out; /* nothing to reset, or not a file we should replace */
    if (rc != 0) {
        /* Unreadable (too large, I/O error): it is being thrown away anyway. */
        old = NULL;
        oldlen = 0;
        rc = 0;
    }
    st.generation = 1;
    if (oldlen >= VP__VAULT_HDR_BYTES && memcmp(old, VP__VAULT_MAGIC, 8) == 0) {
        uint64_t g = vp__le_get64(old + 40);
        uint32_t c = vp__le_get32(old + 56);
        if (g < UINT64_MAX)
            st.generation = g + 1;
        if (deleted_out != NULL && c <= VP_VAULT_RECORDS_MAX)
            *deleted_out = c;
    }
    randombytes_buf(st.id, sizeof st.id);
    st.next_counter = 1;
    rc = vp__vault_serialize(&st, keys, &img, &len);
    if (rc != 0) {
        vp__err_set(err, NULL, rc, NULL);
        goto out;
    }
    rc = vp__vault_commit_image(&p, img, len, err);
    if (rc != 0)
        goto out;
    if (new_key_out != NULL) {
        vp_buf_free(new_key_out);
        *new_key_out = tmp;
        memset(&tmp, 0, sizeof tmp);
    }
    vp_error_clear(err);
out:
    if (rc != 0 && deleted_out != NULL)
        *deleted_out = 0;
    vp__vault_lock_release(lockfd);
    free(old);
    free(img);
    vp_buf_free(&tmp);
    vp__secmem_free(k);
    vp__secmem_free(keys);
    vp__vault_paths_free(&p);
    return rc;
}

int vp_vault_reset(const char *path, vp_buf *new_key_out, size_t *deleted_out, vp_error *err)
{
    if (deleted_out != NULL)
        *deleted_out = 0;
    if (path == NULL || new_key_out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    return reset(path, NULL, new_key_out, deleted_out, err);
}

int vp_vault_reset_to(const char *path, const char *new_key, size_t *deleted_out, vp_error *err)
{
    if (deleted_out != NULL)
        *deleted_out = 0;
    if (path == NULL || new_key == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    return reset(path, new_key, NULL, deleted_out, err);
}
