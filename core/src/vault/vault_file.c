/*
 * vault_file - the vault file format: parsing, verification, sealing and serialisation.
 * No I/O here (vault.c reads and commits files), so the fuzzer can drive the parser directly.
 * The byte layout is documented in docs/vault-format.md; keep the two in step.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "errint.h"
#include "le.h"
#include "secmem.h"
#include "vault_int.h"

#define KEY_CHECK_LABEL "vaultplug vault key check v1"
#define AD_BYTES        (VP__VAULT_ID_BYTES + 16)
#define NONCE_BYTES     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES       crypto_aead_xchacha20poly1305_ietf_ABYTES
/* Plaintext prefix: value length (u32) + name length (u8). */
#define PT_PREFIX 5

int vp__vault_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > VP_VAULT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int vp__vault_derive(const unsigned char key[VP__VAULT_KEYBYTES], vp__vault_keys *keys)
{
    if (crypto_kdf_derive_from_key(keys->check, sizeof keys->check, 1, VP__VAULT_KDF_CTX, key) ||
        crypto_kdf_derive_from_key(keys->seal, sizeof keys->seal, 2, VP__VAULT_KDF_CTX, key) ||
        crypto_kdf_derive_from_key(keys->mac, sizeof keys->mac, 3, VP__VAULT_KDF_CTX, key))
        return VP_EINTERNAL;
    return 0;
}

/* The key check is a MAC of a constant under its own subkey: it depends on the key only, so any
 * change to the stored value is itself detectable (see vp__vault_parse), and it says nothing
 * about the records. */
void vp__vault_key_check(const vp__vault_keys *keys, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)KEY_CHECK_LABEL, sizeof KEY_CHECK_LABEL,
                       keys->check, sizeof keys->check);
}

/* The MAC covers every byte before it except the key check field [64, 96), which authenticates
 * itself; leaving it out is what lets a wrong key (check and MAC both fail) be told apart from
 * tampering (only one fails). */
static void file_mac(const vp__vault_keys *keys, const unsigned char *data, size_t len,
                     unsigned char out[VP__VAULT_MAC_BYTES])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, keys->mac, sizeof keys->mac, VP__VAULT_MAC_BYTES);
    crypto_generichash_update(&h, data, 64);
    crypto_generichash_update(&h, data + VP__VAULT_HDR_BYTES, len - VP__VAULT_HDR_BYTES);
    crypto_generichash_final(&h, out, VP__VAULT_MAC_BYTES);
    sodium_memzero(&h, sizeof h);
}

void vp__vault_remac(unsigned char *image, size_t len, const vp__vault_keys *keys)
{
    if (len >= VP__VAULT_HDR_BYTES + VP__VAULT_MAC_BYTES)
        file_mac(keys, image, len - VP__VAULT_MAC_BYTES, image + len - VP__VAULT_MAC_BYTES);
}

/* AD = vault id || the record's 16-byte plaintext header (section, reserved, ct_len, counter). */
static void make_ad(unsigned char ad[AD_BYTES], const unsigned char id[VP__VAULT_ID_BYTES],
                    const unsigned char *rechdr)
{
    memcpy(ad, id, VP__VAULT_ID_BYTES);
    memcpy(ad + VP__VAULT_ID_BYTES, rechdr, 16);
}

static void rec_free(vp__vault_rec *r)
{
    vp__secmem_free(r->plain);
    free(r->sealed_own);
    memset(r, 0, sizeof *r);
}

void vp__vault_state_free(vp__vault_state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->nrecs; i++)
        rec_free(&st->recs[i]);
    free(st->recs);
    free(st->image);
    memset(st, 0, sizeof *st);
}

static int grow(vp__vault_state *st)
{
    if (st->nrecs < st->caprecs)
        return 0;
    size_t ncap = st->caprecs ? st->caprecs * 2 : 16;
    vp__vault_rec *n = realloc(st->recs, ncap * sizeof *n);
    if (n == NULL)
        return VP_ENOMEM;
    st->recs = n;
    st->caprecs = ncap;
    return 0;
}

ssize_t vp__vault_state_find(const vp__vault_state *st, uint8_t section, const char *name)
{
    for (size_t i = 0; i < st->nrecs; i++)
        if (st->recs[i].section == section && strcmp(st->recs[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

void vp__vault_state_remove(vp__vault_state *st, size_t idx)
{
    if (idx >= st->nrecs)
        return;
    rec_free(&st->recs[idx]);
    memmove(&st->recs[idx], &st->recs[idx + 1], (st->nrecs - idx - 1) * sizeof st->recs[0]);
    st->nrecs--;
}

/* Open one sealed record (its 40-byte header at p, total length len) into r. */
static int open_record(const vp__vault_state *st, const vp__vault_keys *keys,
                       const unsigned char *p, size_t len, vp__vault_rec *r)
{
    unsigned char ad[AD_BYTES];
    size_t ctlen = len - VP__VAULT_REC_HDR_BYTES, ptlen = ctlen - TAG_BYTES;
    unsigned long long got = 0;
    unsigned char *pt;
    uint32_t vlen;
    uint8_t nlen;

    pt = vp__secmem_alloc(ptlen + 2);
    if (pt == NULL)
        return VP_ENOMEM;
    make_ad(ad, st->id, p);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &got, NULL, p + VP__VAULT_REC_HDR_BYTES,
                                                   ctlen, ad, sizeof ad, p + 16, keys->seal) != 0 ||
        got != ptlen)
        goto bad;
    vlen = vp__le_get32(pt);
    nlen = pt[4];
    if (nlen == 0 || nlen > VP_VAULT_NAME_MAX || vlen > VP_VAULT_VALUE_MAX ||
        (size_t)PT_PREFIX + nlen + vlen > ptlen ||
        ptlen - (PT_PREFIX + nlen + vlen) >= VP__VAULT_PAD ||
        !vp__vault_name_ok((const char *)pt + PT_PREFIX, nlen))
        goto bad;
    for (size_t i = PT_PREFIX + nlen + vlen; i < ptlen; i++)
        if (pt[i] != 0)
            goto bad;
    /* Re-lay the block as "name\0value\0" so both can be used as C strings. */
    memmove(pt, pt + PT_PREFIX, (size_t)nlen + vlen);
    memmove(pt + nlen + 1, pt + nlen, vlen);
    pt[nlen] = 0;
    pt[nlen + 1 + vlen] = 0;
    sodium_memzero(pt + nlen + 2 + vlen, ptlen + 2 - (nlen + 2 + vlen));
    memset(r, 0, sizeof *r);
    r->section = p[0];
    r->counter = vp__le_get64(p + 8);
    r->plain = pt;
    r->name = (char *)pt;
    r->value = pt + nlen + 1;
    r->value_len = vlen;
    r->sealed = p;
    r->sealed_len = len;
    return 0;
bad:
    vp__secmem_free(pt);
    return VP_EPROTO;
}

static int cmp_rec(const void *a, const void *b)
{
    const vp__vault_rec *x = *(const vp__vault_rec *const *)a,
                        *y = *(const vp__vault_rec *const *)b;
    if (x->section != y->section)
        return x->section < y->section ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Two records with the same section and name can only come from a forged file; sorting keeps the
 * check O(n log n) for large vaults. 1 = duplicates, 0 = none, -1 = out of memory. */
static int has_duplicates(const vp__vault_state *st)
{
    const vp__vault_rec **idx;
    int dup = 0;

    if (st->nrecs < 2)
        return 0;
    idx = malloc(st->nrecs * sizeof *idx);
    if (idx == NULL)
        return -1;
    for (size_t i = 0; i < st->nrecs; i++)
        idx[i] = &st->recs[i];
    qsort(idx, st->nrecs, sizeof *idx, cmp_rec);
    for (size_t i = 1; i < st->nrecs && !dup; i++)
        dup = cmp_rec(&idx[i - 1], &idx[i]) == 0;
    free(idx);
    return dup;
}

#define TAMPERED "vault file is corrupted or was tampered with"

/* The header's fixed fields into st, and the record count. VP_EPROTO with err set. */
static int parse_header(const unsigned char *image, size_t len, vp__vault_state *st,
                        uint32_t *count, vp_error *err)
{
    if (len < VP__VAULT_HDR_BYTES + VP__VAULT_MAC_BYTES)
        return vp__err_set(err, NULL, VP_EPROTO, "%s (%s)", TAMPERED,
                           len == 0 ? "the file is empty" : "the file is too short");
    if (memcmp(image, VP__VAULT_MAGIC, 8) != 0)
        return vp__err_set(err, NULL, VP_EPROTO, "not a vaultplug vault file (bad magic)");
    if (vp__le_get16(image + 8) != VP__VAULT_VERSION || vp__le_get16(image + 10) != 0 ||
        vp__le_get32(image + 12) != 0 || memcmp(image + 32, VP__VAULT_KDF_CTX, 8) != 0 ||
        vp__le_get32(image + 60) != 0)
        return vp__err_set(err, NULL, VP_EPROTO, "%s (unsupported format version or header fields)",
                           TAMPERED);
    memcpy(st->id, image + 16, VP__VAULT_ID_BYTES);
    st->generation = vp__le_get64(image + 40);
    st->next_counter = vp__le_get64(image + 48);
    *count = vp__le_get32(image + 56);
    return 0;
}

/* The key check and the file MAC. A wrong key fails both; with the right key a change anywhere
 * (including the key check field, which the MAC leaves out) fails exactly one of them. So
 * "invalid vault key" is only reported when both fail, and no record is opened before both
 * pass. VP_EAUTH or VP_EPROTO with err set. */
static int check_key_and_mac(const unsigned char *image, size_t len, const vp__vault_keys *keys,
                             vp_error *err)
{
    unsigned char check[32], mac[VP__VAULT_MAC_BYTES];
    vp__vault_key_check(keys, check);
    file_mac(keys, image, len - VP__VAULT_MAC_BYTES, mac);
    int check_ok = sodium_memcmp(check, image + 64, 32) == 0;
    int mac_ok = sodium_memcmp(mac, image + len - VP__VAULT_MAC_BYTES, VP__VAULT_MAC_BYTES) == 0;
    if (!check_ok && !mac_ok)
        return vp__err_set(err, NULL, VP_EAUTH, "invalid vault key");
    if (!mac_ok)
        return vp__err_set(err, NULL, VP_EPROTO, "%s (file MAC mismatch)", TAMPERED);
    if (!check_ok)
        return vp__err_set(err, NULL, VP_EPROTO, "%s (key check mismatch)", TAMPERED);
    return 0;
}

/* Record i at image + *off (records end at end): checked, opened and appended to st; *off
 * moves past it. A status with err set. */
static int parse_record(const unsigned char *image, size_t *off, size_t end, uint32_t i,
                        const vp__vault_keys *keys, vp__vault_state *st, vp_error *err)
{
    const unsigned char *p = image + *off;
    if (end - *off < VP__VAULT_REC_HDR_BYTES)
        return vp__err_set(err, NULL, VP_EPROTO, "%s (record %u truncated)", TAMPERED, i);
    size_t ctlen = vp__le_get32(p + 4);
    uint64_t ctr = vp__le_get64(p + 8);
    if (p[0] < VP__VAULT_SECRET || p[0] > VP__VAULT_META || p[1] || p[2] || p[3] ||
        ctlen < TAG_BYTES + VP__VAULT_PAD ||
        ctlen > TAG_BYTES + VP_VAULT_VALUE_MAX + VP_VAULT_NAME_MAX + VP__VAULT_PAD + 8 ||
        ctlen > end - *off - VP__VAULT_REC_HDR_BYTES)
        return vp__err_set(err, NULL, VP_EPROTO, "%s (record %u header)", TAMPERED, i);
    /* Counters are unique and increase through the file, and stay below the header's
     * high-water mark: a replayed, duplicated or reordered record breaks this even if the
     * file MAC were somehow forged. */
    if (ctr >= st->next_counter || (st->nrecs > 0 && ctr <= st->recs[st->nrecs - 1].counter))
        return vp__err_set(err, NULL, VP_EPROTO, "%s (record %u out of order)", TAMPERED, i);
    size_t reclen = VP__VAULT_REC_HDR_BYTES + ctlen;
    if (grow(st) != 0)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    int rc = open_record(st, keys, p, reclen, &st->recs[st->nrecs]);
    if (rc == VP_EPROTO)
        return vp__err_set(err, NULL, rc, "%s (record %u does not authenticate)", TAMPERED, i);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    st->nrecs++;
    *off += reclen;
    return 0;
}

int vp__vault_parse(unsigned char *image, size_t len, const vp__vault_keys *keys,
                    vp__vault_state *st, vp_error *err)
{
    uint32_t count = 0;
    size_t off = VP__VAULT_HDR_BYTES, end = len - VP__VAULT_MAC_BYTES;

    memset(st, 0, sizeof *st);
    int rc = parse_header(image, len, st, &count, err);
    if (rc == 0)
        rc = check_key_and_mac(image, len, keys, err);
    if (rc == 0 && count > VP_VAULT_RECORDS_MAX)
        rc = vp__err_set(err, NULL, VP_EPROTO, "%s (too many records)", TAMPERED);
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        rc = parse_record(image, &off, end, i, keys, st, err);
    if (rc == 0) {
        switch (has_duplicates(st)) {
        case 0:
            break;
        case 1:
            rc = vp__err_set(err, NULL, VP_EPROTO, "%s (duplicate record)", TAMPERED);
            break;
        default:
            rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
            break;
        }
    }
    if (rc == 0 && off != end)
        rc = vp__err_set(err, NULL, VP_EPROTO, "%s (trailing data)", TAMPERED);
    if (rc != 0) {
        vp__vault_state_free(st);
        free(image);
        return rc;
    }
    st->image = image;
    st->image_len = len;
    vp_error_clear(err);
    return 0;
}

int vp__vault_seal_raw(const unsigned char id[VP__VAULT_ID_BYTES], const vp__vault_keys *keys,
                       uint8_t section, uint64_t counter, const unsigned char *pt, size_t ptlen,
                       unsigned char **out, size_t *outlen)
{
    size_t ctlen = ptlen + TAG_BYTES, reclen = VP__VAULT_REC_HDR_BYTES + ctlen;
    unsigned char *rec, ad[AD_BYTES];

    if (ptlen > UINT32_MAX - TAG_BYTES)
        return VP_ELIMIT;
    rec = malloc(reclen);
    if (rec == NULL)
        return VP_ENOMEM;
    memset(rec, 0, VP__VAULT_REC_HDR_BYTES);
    rec[0] = section;
    vp__le_put32(rec + 4, (uint32_t)ctlen);
    vp__le_put64(rec + 8, counter);
    randombytes_buf(rec + 16, NONCE_BYTES);
    make_ad(ad, id, rec);
    crypto_aead_xchacha20poly1305_ietf_encrypt(rec + VP__VAULT_REC_HDR_BYTES, NULL, pt, ptlen, ad,
                                               sizeof ad, NULL, rec + 16, keys->seal);
    *out = rec;
    *outlen = reclen;
    return 0;
}

/* Plaintext = value length, name length, name, value, zero padding to a multiple of 32 bytes (so
 * the file shows value sizes only to within 32 bytes). */
static int seal_into(const vp__vault_state *st, const vp__vault_keys *keys, uint8_t section,
                     uint64_t counter, const char *name, const void *value, size_t vlen,
                     unsigned char **out, size_t *outlen)
{
    size_t nlen = strlen(name), used = PT_PREFIX + nlen + vlen;
    size_t ptlen = (used + VP__VAULT_PAD - 1) / VP__VAULT_PAD * VP__VAULT_PAD;
    unsigned char *pt;
    int rc;

    pt = vp__secmem_alloc(ptlen);
    if (pt == NULL)
        return VP_ENOMEM;
    vp__le_put32(pt, (uint32_t)vlen);
    pt[4] = (unsigned char)nlen;
    memcpy(pt + PT_PREFIX, name, nlen);
    if (vlen > 0)
        memcpy(pt + PT_PREFIX + nlen, value, vlen);
    rc = vp__vault_seal_raw(st->id, keys, section, counter, pt, ptlen, out, outlen);
    vp__secmem_free(pt);
    return rc;
}

int vp__vault_state_add(vp__vault_state *st, const vp__vault_keys *keys, uint8_t section,
                        const char *name, const void *value, size_t len)
{
    size_t nlen = strlen(name), reclen;
    unsigned char *rec, *plain;
    vp__vault_rec *r;
    int rc;

    if (!vp__vault_name_ok(name, nlen) || len > VP_VAULT_VALUE_MAX)
        return VP_EINVAL;
    if (st->nrecs >= VP_VAULT_RECORDS_MAX)
        return VP_ELIMIT;
    if (grow(st) != 0)
        return VP_ENOMEM;
    plain = vp__secmem_alloc(nlen + len + 2);
    if (plain == NULL)
        return VP_ENOMEM;
    rc = seal_into(st, keys, section, st->next_counter, name, value, len, &rec, &reclen);
    if (rc != 0) {
        vp__secmem_free(plain);
        return rc;
    }
    memcpy(plain, name, nlen + 1);
    if (len > 0)
        memcpy(plain + nlen + 1, value, len);
    r = &st->recs[st->nrecs++];
    memset(r, 0, sizeof *r);
    r->section = section;
    r->counter = st->next_counter++;
    r->plain = plain;
    r->name = (char *)plain;
    r->value = plain + nlen + 1;
    r->value_len = len;
    r->sealed = rec;
    r->sealed_len = reclen;
    r->sealed_own = rec;
    return 0;
}

int vp__vault_state_reseal(vp__vault_state *st, const vp__vault_keys *keys)
{
    for (size_t i = 0; i < st->nrecs; i++) {
        vp__vault_rec *r = &st->recs[i];
        unsigned char *rec;
        size_t reclen;
        int rc = seal_into(st, keys, r->section, r->counter, r->name, r->value, r->value_len, &rec,
                           &reclen);
        if (rc != 0)
            return rc;
        free(r->sealed_own);
        r->sealed = rec;
        r->sealed_own = rec;
        r->sealed_len = reclen;
    }
    return 0;
}

int vp__vault_serialize(const vp__vault_state *st, const vp__vault_keys *keys, unsigned char **out,
                        size_t *outlen)
{
    size_t len = VP__VAULT_HDR_BYTES + VP__VAULT_MAC_BYTES, off;
    unsigned char *img;

    for (size_t i = 0; i < st->nrecs; i++)
        len += st->recs[i].sealed_len;
    if (len > VP__VAULT_FILE_MAX)
        return VP_ELIMIT;
    img = malloc(len);
    if (img == NULL)
        return VP_ENOMEM;
    memset(img, 0, VP__VAULT_HDR_BYTES);
    memcpy(img, VP__VAULT_MAGIC, 8);
    vp__le_put16(img + 8, VP__VAULT_VERSION);
    memcpy(img + 16, st->id, VP__VAULT_ID_BYTES);
    memcpy(img + 32, VP__VAULT_KDF_CTX, 8);
    vp__le_put64(img + 40, st->generation);
    vp__le_put64(img + 48, st->next_counter);
    vp__le_put32(img + 56, (uint32_t)st->nrecs);
    vp__vault_key_check(keys, img + 64);
    off = VP__VAULT_HDR_BYTES;
    for (size_t i = 0; i < st->nrecs; i++) {
        memcpy(img + off, st->recs[i].sealed, st->recs[i].sealed_len);
        off += st->recs[i].sealed_len;
    }
    file_mac(keys, img, off, img + off);
    *out = img;
    *outlen = len;
    return 0;
}
