/*
 * fuzz_vault - libFuzzer target for the vault file parser (core/src/vault/vault_file.c).
 *
 * The first input byte picks a mode, because random bytes never pass the MAC or the AEAD tags:
 *   mode 0: the rest is a whole file, parsed as is (header and length checks, MAC rejection);
 *   mode 1: as 0, but the key check and the file MAC are fixed up first, so the record walker
 *           (lengths, counters, record count, trailing data) sees attacker-controlled structure;
 *   mode 2: the rest is split into record plaintexts (2-byte length + section byte + bytes),
 *           each sealed properly under the fuzzer's key, so the decrypted-plaintext parser (name
 *           and value lengths, name charset, padding) is reached.
 * Whatever parses is serialised again and must parse back to the same records, and no secure
 * block may outlive the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secmem.h"
#include "vault_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vp__vault_keys keys;
static const unsigned char vault_id[VP__VAULT_ID_BYTES] = "fuzz-vault-id-01";

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void check_roundtrip(const vp__vault_state *st)
{
    unsigned char *img = NULL;
    size_t len = 0;
    vp__vault_state again;
    vp_error err;

    if (vp__vault_serialize(st, &keys, &img, &len) != 0)
        return;
    if (vp__vault_parse(img, len, &keys, &again, &err) != 0)
        abort(); /* what we wrote must read back */
    if (again.nrecs != st->nrecs)
        abort();
    for (size_t i = 0; i < st->nrecs; i++)
        if (strcmp(again.recs[i].name, st->recs[i].name) != 0 ||
            again.recs[i].value_len != st->recs[i].value_len ||
            memcmp(again.recs[i].value, st->recs[i].value, st->recs[i].value_len) != 0)
            abort();
    vp__vault_state_free(&again);
}

/* Mode 2: build a valid header, then one sealed record per chunk of input. */
static unsigned char *build_sealed(const uint8_t *data, size_t size, size_t *outlen)
{
    size_t cap = VP__VAULT_HDR_BYTES + VP__VAULT_MAC_BYTES, len = VP__VAULT_HDR_BYTES;
    unsigned char *img = calloc(1, cap);
    uint64_t counter = 1;
    uint32_t count = 0;

    if (img == NULL)
        return NULL;
    while (size >= 3 && count < 64) {
        size_t n = (size_t)(data[0] | (data[1] << 8)) % 2048;
        uint8_t section = data[2];
        unsigned char *rec = NULL;
        size_t reclen = 0;
        data += 3;
        size -= 3;
        if (n > size)
            n = size;
        if (vp__vault_seal_raw(vault_id, &keys, section, counter++, data, n, &rec, &reclen) != 0)
            break;
        unsigned char *bigger = realloc(img, cap + reclen);
        if (bigger == NULL) {
            free(rec);
            break;
        }
        img = bigger;
        cap += reclen;
        memcpy(img + len, rec, reclen);
        len += reclen;
        free(rec);
        count++;
        data += n;
        size -= n;
    }
    memcpy(img, VP__VAULT_MAGIC, 8);
    put_le(img + 8, VP__VAULT_VERSION, 2);
    memcpy(img + 16, vault_id, VP__VAULT_ID_BYTES);
    memcpy(img + 32, VP__VAULT_KDF_CTX, 8);
    put_le(img + 40, 1, 8);
    put_le(img + 48, counter, 8);
    put_le(img + 56, count, 4);
    vp__vault_key_check(&keys, img + 64);
    len += VP__VAULT_MAC_BYTES;
    vp__vault_remac(img, len, &keys);
    *outlen = len;
    return img;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static size_t baseline;
    vp__secmem_stats ms;
    unsigned char *img;
    size_t len;
    vp__vault_state st;
    vp_error err;
    int mode;

    if (!ready) {
        unsigned char k[VP__VAULT_KEYBYTES];
        if (vp__secmem_init() != 0)
            abort();
        memset(k, 0x5a, sizeof k);
        if (vp__vault_derive(k, &keys) != 0)
            abort();
        vp__secmem_get_stats(&ms);
        baseline = ms.live_blocks;
        ready = 1;
    }
    if (size < 1 || size > (1u << 20))
        return 0;
    mode = data[0] % 3;
    data++;
    size--;
    if (mode == 2) {
        img = build_sealed(data, size, &len);
        if (img == NULL)
            return 0;
    } else {
        len = size;
        img = malloc(len ? len : 1);
        if (img == NULL)
            return 0;
        memcpy(img, data, len);
        if (mode == 1 && len >= VP__VAULT_HDR_BYTES + VP__VAULT_MAC_BYTES) {
            vp__vault_key_check(&keys, img + 64);
            vp__vault_remac(img, len, &keys);
        }
    }
    /* vp__vault_parse takes ownership of img either way. */
    if (vp__vault_parse(img, len, &keys, &st, &err) == 0) {
        check_roundtrip(&st);
        vp__vault_state_free(&st);
    }
    /* Secure blocks live outside the malloc heap, where LeakSanitizer cannot see them: every
     * decrypted record must have been released. */
    vp__secmem_get_stats(&ms);
    if (ms.live_blocks != baseline)
        abort();
    return 0;
}
