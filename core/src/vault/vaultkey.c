/*
 * vaultkey - parsing and formatting vault keys.
 *
 * Two spellings are accepted: our own `vpk1_` + base64url without padding (43 characters for 32
 * bytes), and Insomnia's, which is the standard base64 of a JWK such as
 * {"alg":"A256GCM","ext":true,"k":"<base64url>","key_ops":["encrypt","decrypt"],"kty":"oct"}.
 * The raw key bytes only ever live in the caller's (secure) buffer; error messages describe the
 * problem but never quote the input.
 */
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <sodium.h>

#include "buf.h"
#include "errint.h"
#include "secmem.h"
#include "vault_int.h"

/* An Insomnia key is ~180 characters; anything far longer is not a key. */
#define KEY_INPUT_MAX 4096

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int parse_vpk1(const char *s, size_t n, unsigned char key[VP__VAULT_KEYBYTES], vp_error *err)
{
    size_t plen = strlen(VP__VAULT_KEY_PREFIX), binlen = 0;
    const char *end = NULL;

    if (n != VP_VAULT_KEY_STRLEN)
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid vault key: a vpk1_ key has %d characters, this one has %zu",
                           VP_VAULT_KEY_STRLEN, n);
    if (sodium_base642bin(key, VP__VAULT_KEYBYTES, s + plen, n - plen, NULL, &binlen, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        binlen != VP__VAULT_KEYBYTES || end != s + n)
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid vault key: the part after vpk1_ is not valid base64url");
    return 0;
}

/* Wipe what json-c copied of the JWK: the string values inside the object tree and the
 * tokener's scratch buffer (which held every string as it was scanned). */
static void wipe_json(json_object *o)
{
    if (o == NULL)
        return;
    switch (json_object_get_type(o)) {
    case json_type_string: {
        int len = json_object_get_string_len(o);
        sodium_memzero((void *)json_object_get_string(o), (size_t)len);
        break;
    }
    case json_type_object: {
        json_object_object_foreach(o, k, val)
        {
            (void)k;
            wipe_json(val);
        }
        break;
    }
    case json_type_array: {
        size_t i, n = json_object_array_length(o);
        for (i = 0; i < n; i++)
            wipe_json(json_object_array_get_idx(o, i));
        break;
    }
    default:
        break;
    }
}

static int str_field_is(json_object *obj, const char *field, const char *want)
{
    json_object *v = NULL;
    return json_object_object_get_ex(obj, field, &v) && json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), want) == 0;
}

static int parse_insomnia(const char *s, size_t n, unsigned char key[VP__VAULT_KEYBYTES],
                          vp_error *err)
{
    char *json = NULL;
    size_t jlen = 0, binlen = 0, blen = n;
    const char *end = NULL;
    json_tokener *tok = NULL;
    json_object *obj = NULL, *k = NULL;
    int rc = VP_EINVAL;

    /* Accept the key with or without '=' padding. */
    while (blen > 0 && s[blen - 1] == '=')
        blen--;
    json = vp__secmem_alloc(n + 1);
    if (json == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    if (sodium_base642bin((unsigned char *)json, n, s, blen, NULL, &jlen, &end,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
        end != s + blen) {
        vp__err_set(err, NULL, VP_EINVAL,
                    "invalid vault key: expected vpk1_... or an Insomnia key (base64 of a JWK), "
                    "and this is neither");
        goto out;
    }
    tok = json_tokener_new();
    if (tok == NULL) {
        rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
        goto out;
    }
    obj = json_tokener_parse_ex(tok, json, (int)jlen);
    if (obj == NULL || json_tokener_get_parse_end(tok) != jlen ||
        !json_object_is_type(obj, json_type_object)) {
        vp__err_set(err, NULL, VP_EINVAL,
                    "invalid vault key: an Insomnia key must be base64 of a JSON object (JWK)");
        goto out;
    }
    if (!str_field_is(obj, "kty", "oct")) {
        vp__err_set(err, NULL, VP_EINVAL, "invalid vault key: the JWK's \"kty\" is not \"oct\"");
        goto out;
    }
    if (!str_field_is(obj, "alg", "A256GCM")) {
        vp__err_set(err, NULL, VP_EINVAL,
                    "invalid vault key: the JWK's \"alg\" is not \"A256GCM\"");
        goto out;
    }
    if (!json_object_object_get_ex(obj, "k", &k) || !json_object_is_type(k, json_type_string)) {
        vp__err_set(err, NULL, VP_EINVAL, "invalid vault key: the JWK has no \"k\" string");
        goto out;
    }
    {
        const char *ks = json_object_get_string(k);
        size_t klen = (size_t)json_object_get_string_len(k);
        if (sodium_base642bin(key, VP__VAULT_KEYBYTES, ks, klen, NULL, &binlen, &end,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
            end != ks + klen || binlen != VP__VAULT_KEYBYTES) {
            vp__err_set(err, NULL, VP_EINVAL,
                        "invalid vault key: the JWK's \"k\" is not 32 bytes of base64url");
            goto out;
        }
    }
    rc = 0;
out:
    if (obj != NULL) {
        wipe_json(obj);
        json_object_put(obj);
    }
    if (tok != NULL) {
        /* The scratch buffer is private to json-c but still the only copy we cannot reach
         * otherwise; json-c 0.13-0.17 keep it in tok->pb. */
        if (tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
            sodium_memzero(tok->pb->buf, (size_t)tok->pb->size);
        json_tokener_free(tok);
    }
    vp__secmem_free(json);
    if (rc != 0)
        sodium_memzero(key, VP__VAULT_KEYBYTES);
    return rc;
}

int vp__vault_key_parse(const char *s, unsigned char key[VP__VAULT_KEYBYTES], vp_error *err)
{
    size_t n;
    int rc;

    if (s == NULL || key == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid vault key: none given");
    rc = vp__secmem_init();
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    while (is_space(*s))
        s++;
    n = strnlen(s, KEY_INPUT_MAX + 1);
    if (n > KEY_INPUT_MAX)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid vault key: far too long to be a key");
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (n == 0)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid vault key: empty");
    if (n >= strlen(VP__VAULT_KEY_PREFIX) &&
        memcmp(s, VP__VAULT_KEY_PREFIX, strlen(VP__VAULT_KEY_PREFIX)) == 0)
        rc = parse_vpk1(s, n, key, err);
    else
        rc = parse_insomnia(s, n, key, err);
    if (rc != 0)
        sodium_memzero(key, VP__VAULT_KEYBYTES);
    else
        vp_error_clear(err);
    return rc;
}

int vp__vault_key_to_string(const unsigned char key[VP__VAULT_KEYBYTES], vp_buf *out)
{
    char tmp[VP_VAULT_KEY_STRLEN + 1];
    int rc;

    memcpy(tmp, VP__VAULT_KEY_PREFIX, strlen(VP__VAULT_KEY_PREFIX));
    sodium_bin2base64(tmp + strlen(VP__VAULT_KEY_PREFIX), sizeof tmp - strlen(VP__VAULT_KEY_PREFIX),
                      key, VP__VAULT_KEYBYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    rc = vp__buf_set_secure(out, tmp, VP_VAULT_KEY_STRLEN);
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

int vp_vault_key_format(const char *key, vp_buf *out, vp_error *err)
{
    unsigned char *k;
    int rc;

    if (key == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = vp__secmem_init();
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    k = vp__secmem_alloc(VP__VAULT_KEYBYTES);
    if (k == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    rc = vp__vault_key_parse(key, k, err);
    if (rc == 0) {
        rc = vp__vault_key_to_string(k, out);
        if (rc != 0)
            vp__err_set(err, NULL, rc, NULL);
    }
    vp__secmem_free(k);
    return rc;
}
