/*
 * fuzz_ref - the reference URI parser on arbitrary input. A parsed reference's canonical uri
 * must parse again to the same parts and the same uri (it is the cache key).
 */
#include <stdint.h>
#include <string.h>

#include "ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vp__ref r, r2;
    vp_error err;
    if (vp__ref_parse((const char *)data, size, &r, &err) != 0) {
        if (r.uri != NULL || err.code == 0 || err.message[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (vp__ref_parse(r.uri, strlen(r.uri), &r2, &err) != 0)
        __builtin_trap();
    if (!same(r.uri, r2.uri) || !same(r.scheme, r2.scheme) || !same(r.credential, r2.credential) ||
        !same(r.path, r2.path) || !same(r.json_key, r2.json_key) || r.n_params != r2.n_params)
        __builtin_trap();
    for (size_t i = 0; i < r.n_params; i++)
        if (!same(r.params[i].key, r2.params[i].key) ||
            !same(r.params[i].value, r2.params[i].value) ||
            r.params[i].value_len != strlen(r.params[i].value))
            __builtin_trap();
    for (size_t i = 1; i < r.n_params; i++)
        if (strcmp(r.params[i - 1].key, r.params[i].key) > 0)
            __builtin_trap(); /* sorted */
    vp__ref_free(&r2);
    vp__ref_free(&r);
    return 0;
}
