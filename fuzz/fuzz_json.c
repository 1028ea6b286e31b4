/*
 * fuzz_json - the host's JSON services on arbitrary input: parse (with the depth limit and
 * trailing-garbage rule), path lookups, foreach, dump; and the dump must be a fixed point
 * (parse(dump(x)) dumps to the same text).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "jsonh.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vp_host *H;

static int visit(void *ud, const char *key, size_t index, const vp_json *v)
{
    size_t *count = ud;
    (void)index;
    *count += key ? strlen(key) : 1;
    size_t len;
    const char *s = H->json_string(v, &len);
    if (s != NULL && len > 0 && s[len] != '\0')
        __builtin_trap(); /* strings are NUL-terminated */
    int64_t i;
    double d;
    int b;
    (void)H->json_int(v, &i);
    (void)H->json_double(v, &d);
    (void)H->json_bool(v, &b);
    if (H->json_type(v) == VP_JSON_OBJECT || H->json_type(v) == VP_JSON_ARRAY)
        return H->json_foreach(v, visit, ud);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (H == NULL) {
        if (vp__secmem_init() != 0)
            abort();
        H = vp__host_table();
    }
    vp_json *j = NULL;
    if (H->json_parse((const char *)data, size, &j) != 0) {
        if (j != NULL)
            __builtin_trap(); /* failure leaves *out NULL */
        return 0;
    }
    size_t count = 0;
    (void)H->json_foreach(j, visit, &count);
    static const char *const paths[] = {"a", "0", "a.b", "0.0", "a.0.b", "", "x.y.z.0.1"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        (void)H->json_type(H->json_path(j, paths[i]));
    (void)H->json_len(j);
    (void)H->json_at(j, 0);

    size_t n1 = 0, n2 = 0;
    char *s1 = H->json_dump(j, &n1);
    if (s1 == NULL)
        __builtin_trap();
    vp_json *j2 = NULL;
    if (H->json_parse(s1, n1, &j2) != 0)
        __builtin_trap(); /* our own output must parse */
    char *s2 = H->json_dump(j2, &n2);
    if (s2 == NULL || n1 != n2 || memcmp(s1, s2, n1) != 0)
        __builtin_trap();
    H->secure_free(s1);
    H->secure_free(s2);
    H->json_free(j2);
    H->json_free(j);
    return 0;
}
