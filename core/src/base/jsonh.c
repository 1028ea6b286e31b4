/*
 * jsonh - the JSON services of the host table, on json-c. See jsonh.h and the json_* fields of
 * vp_host in provider.h for the contract.
 *
 * A vp_json is a struct json_object. Trees may hold secrets (a provider parses a secret's JSON
 * value, or a token response), so vp__json_free wipes every string value and key before json-c
 * releases the memory, the tokener's scratch buffer is wiped before it is freed, and dumping
 * uses our own serialiser writing straight into secure memory (json-c's would leave a copy in
 * the object's internal print buffer and mutate a tree the caller passed as const, which races
 * when two threads dump the same borrowed tree).
 *
 * Limitation: json-c grows its scratch buffers with realloc(), which frees the old block without
 * wiping it; a long secret string being parsed may leave fragments in freed heap memory. Only a
 * parser of our own would close that gap.
 */
#include "buf.h"
#include "jsonh.h"
#include "fault.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <sodium.h>

#include "secmem.h"

/* json-c represents a JSON null as a NULL object pointer, which our API reserves for "absent"
 * (VP_JSON_ABSENT). Existing nulls are therefore handed out as the address of this marker, and
 * J()/CJ() turn the marker back into json-c's NULL (which json-c treats as a null value). */
static const char null_marker;
#define JNULL ((const vp_json *)(const void *)&null_marker)
#define J(v) \
    ((struct json_object *)((const void *)(v) == (const void *)&null_marker ? NULL : (void *)(v)))
#define CJ(v) ((const struct json_object *)J(v))
/* json-c value (possibly NULL = JSON null) to our handle. */
static const vp_json *out_of(struct json_object *o)
{
    return o ? (const vp_json *)o : JNULL;
}

/* Serialiser nesting limit for trees built by providers (parsed trees are at most 64 deep). */
#define DUMP_MAX_DEPTH 512
/* Longest path segment json_path accepts (keys are copied to NUL-terminate them). */
#define PATH_SEG_MAX 512

/* ---- freeing with wipe ------------------------------------------------------------------- */

/* Wipe every string and key of the tree rooted at v, in place. json-c gives us const pointers
 * to its internal storage; we cast const away because the storage is json-c's own heap memory
 * that is about to be (or may later be) released without being wiped. Values whose reference
 * count shows they are shared elsewhere are still wiped: our API never shares subtrees. */
static void wipe_tree(struct json_object *v, int depth)
{
    if (v == NULL || depth > DUMP_MAX_DEPTH)
        return;
    switch (json_object_get_type(v)) {
    case json_type_string: {
        int n = json_object_get_string_len(v);
        char *s = (char *)json_object_get_string(v);
        if (s != NULL && n > 0)
            sodium_memzero(s, (size_t)n);
        break;
    }
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            wipe_tree(val, depth + 1);
            if (key != NULL)
                sodium_memzero(key, strlen(key));
        }
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            wipe_tree(json_object_array_get_idx(v, i), depth + 1);
        break;
    }
    default:
        break;
    }
}

void vp__json_free(vp_json *root)
{
    if (root == NULL)
        return;
    wipe_tree(J(root), 0);
    json_object_put(J(root));
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void tokener_free_wiped(struct json_tokener *tok)
{
    /* The tokener accumulates every string it parses in pb; json-c exposes the struct (the
     * fields are documented as deprecated for readers, but they are the only way to wipe). */
    if (tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
        sodium_memzero(tok->pb->buf, (size_t)tok->pb->size);
    json_tokener_free(tok);
}

static int only_ws(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return 0;
    return 1;
}

int vp__json_parse(const char *text, size_t len, vp_json **out)
{
    if (out == NULL)
        return VP_EINVAL;
    *out = NULL;
    if (text == NULL && len > 0)
        return VP_EINVAL;
    if (len > VP__JSON_MAX_INPUT)
        return VP_ELIMIT;
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    struct json_tokener *tok = json_tokener_new_ex(VP__JSON_MAX_DEPTH);
    if (tok == NULL)
        return VP_ENOMEM;
    struct json_object *obj = json_tokener_parse_ex(tok, text ? text : "", (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    int consumed_all = 0;
    if (obj == NULL && jerr == json_tokener_continue && json_tokener_get_parse_end(tok) == len) {
        /* A top-level number or literal at the very end ("123") is only complete once json-c
         * sees a terminator; feed it the NUL a C string would have had. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        consumed_all = 1;
    }
    int rc = 0;
    if (jerr != json_tokener_success) { /* obj is NULL for a top-level "null" document */
        rc = VP_EPROTO;
    } else if (!consumed_all) {
        size_t end = json_tokener_get_parse_end(tok);
        if (end > len || !only_ws(text + end, len - end))
            rc = VP_EPROTO; /* trailing garbage, or a second document */
    }
    tokener_free_wiped(tok);
    if (rc != 0) {
        vp__json_free((vp_json *)obj);
        return rc;
    }
    /* The marker is never written through: every function maps it back to json-c's NULL. */
    *out = obj ? (vp_json *)obj : (vp_json *)(uintptr_t)JNULL;
    return 0;
}

/* ---- reading ----------------------------------------------------------------------------- */

vp_json_type vp__json_type(const vp_json *v)
{
    if (v == NULL)
        return VP_JSON_ABSENT;
    switch (json_object_get_type(CJ(v))) {
    case json_type_null:
        return VP_JSON_NULL;
    case json_type_boolean:
        return VP_JSON_BOOL;
    case json_type_int:
        return VP_JSON_INT;
    case json_type_double:
        return VP_JSON_DOUBLE;
    case json_type_string:
        return VP_JSON_STRING;
    case json_type_array:
        return VP_JSON_ARRAY;
    case json_type_object:
        return VP_JSON_OBJECT;
    }
    return VP_JSON_NULL;
}

const vp_json *vp__json_get(const vp_json *v, const char *key)
{
    struct json_object *m = NULL;
    if (v == NULL || key == NULL || !json_object_is_type(CJ(v), json_type_object))
        return NULL;
    if (!json_object_object_get_ex(CJ(v), key, &m))
        return NULL;
    return out_of(m);
}

static int parse_index(const char *s, size_t n, size_t *idx)
{
    if (n == 0 || n > 9)
        return -1;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *idx = v;
    return 0;
}

const vp_json *vp__json_path(const vp_json *v, const char *path)
{
    if (v == NULL || path == NULL)
        return NULL;
    const char *p = path;
    const vp_json *cur = v;
    if (*p == '\0')
        return cur;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= PATH_SEG_MAX)
            return NULL;
        size_t idx;
        if (json_object_is_type(CJ(cur), json_type_array)) {
            if (parse_index(p, n, &idx) != 0)
                return NULL;
            cur = vp__json_at(cur, idx);
        } else {
            char seg[PATH_SEG_MAX];
            memcpy(seg, p, n);
            seg[n] = '\0';
            cur = vp__json_get(cur, seg);
        }
        if (cur == NULL || dot == NULL)
            return cur;
        p = dot + 1;
    }
}

const char *vp__json_string(const vp_json *v, size_t *len)
{
    if (v == NULL || !json_object_is_type(CJ(v), json_type_string))
        return NULL;
    if (len != NULL)
        *len = (size_t)json_object_get_string_len(CJ(v));
    return json_object_get_string(J(v));
}

int vp__json_int(const vp_json *v, int64_t *out)
{
    if (v == NULL)
        return VP_ENOTFOUND;
    if (out == NULL)
        return VP_EINVAL;
    if (json_object_is_type(CJ(v), json_type_int)) {
        int64_t i = json_object_get_int64(CJ(v));
        /* json-c keeps values above INT64_MAX as uint64 and clamps get_int64: not ours. */
        if (i == INT64_MAX && json_object_get_uint64(CJ(v)) > (uint64_t)INT64_MAX)
            return VP_EINVAL;
        *out = i;
        return 0;
    }
    if (json_object_is_type(CJ(v), json_type_double)) {
        double d = json_object_get_double(CJ(v));
        /* -2^63 and 2^63 bound the doubles that convert without overflow (no libm needed). */
        if (!isfinite(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return VP_EINVAL;
        int64_t t = (int64_t)d;
        if ((double)t != d)
            return VP_EINVAL; /* has a fractional part */
        *out = t;
        return 0;
    }
    return VP_EINVAL;
}

int vp__json_double(const vp_json *v, double *out)
{
    if (v == NULL)
        return VP_ENOTFOUND;
    if (out == NULL)
        return VP_EINVAL;
    if (json_object_is_type(CJ(v), json_type_int) || json_object_is_type(CJ(v), json_type_double)) {
        *out = json_object_get_double(CJ(v));
        return 0;
    }
    return VP_EINVAL;
}

int vp__json_bool(const vp_json *v, int *out)
{
    if (v == NULL)
        return VP_ENOTFOUND;
    if (out == NULL || !json_object_is_type(CJ(v), json_type_boolean))
        return VP_EINVAL;
    *out = json_object_get_boolean(CJ(v)) ? 1 : 0;
    return 0;
}

size_t vp__json_len(const vp_json *v)
{
    if (v == NULL)
        return 0;
    if (json_object_is_type(CJ(v), json_type_array))
        return json_object_array_length(CJ(v));
    if (json_object_is_type(CJ(v), json_type_object))
        return (size_t)json_object_object_length(CJ(v));
    return 0;
}

const vp_json *vp__json_at(const vp_json *v, size_t i)
{
    if (v == NULL || !json_object_is_type(CJ(v), json_type_array))
        return NULL;
    if (i >= json_object_array_length(CJ(v)))
        return NULL;
    return out_of(json_object_array_get_idx(CJ(v), i));
}

int vp__json_foreach(const vp_json *v, vp_json_foreach_fn fn, void *ud)
{
    if (v == NULL || fn == NULL)
        return 0;
    if (json_object_is_type(CJ(v), json_type_array)) {
        size_t n = json_object_array_length(CJ(v));
        for (size_t i = 0; i < n; i++) {
            int r = fn(ud, NULL, i, out_of(json_object_array_get_idx(CJ(v), i)));
            if (r != 0)
                return r;
        }
        return 0;
    }
    if (json_object_is_type(CJ(v), json_type_object)) {
        /* json-c's object table keeps its entries in insertion (= document) order. */
        size_t i = 0;
        json_object_object_foreach(J(v), key, val)
        {
            int r = fn(ud, key, i++, out_of(val));
            if (r != 0)
                return r;
        }
    }
    return 0;
}

/* ---- building ---------------------------------------------------------------------------- */

vp_json *vp__json_new_object(void)
{
    return vp__fault_alloc_should_fail() ? NULL : (vp_json *)json_object_new_object();
}

vp_json *vp__json_new_array(void)
{
    return vp__fault_alloc_should_fail() ? NULL : (vp_json *)json_object_new_array();
}

vp_json *vp__json_new_string(const char *s, size_t len)
{
    if ((s == NULL && len > 0) || len > INT_MAX - 1)
        return NULL;
    if (vp__fault_alloc_should_fail())
        return NULL;
    return (vp_json *)json_object_new_string_len(s ? s : "", (int)len);
}

vp_json *vp__json_new_int(int64_t n)
{
    return vp__fault_alloc_should_fail() ? NULL : (vp_json *)json_object_new_int64(n);
}

vp_json *vp__json_new_double(double d)
{
    if (isnan(d) || isinf(d))
        return NULL;
    return vp__fault_alloc_should_fail() ? NULL : (vp_json *)json_object_new_double(d);
}

vp_json *vp__json_new_bool(int b)
{
    return vp__fault_alloc_should_fail() ? NULL : (vp_json *)json_object_new_boolean(b ? 1 : 0);
}

int vp__json_set(vp_json *obj, const char *key, vp_json *value)
{
    if (value != NULL && value == obj)
        return VP_EINVAL; /* a cycle; freeing value would free the caller's container */
    if (obj == NULL || key == NULL || value == NULL ||
        !json_object_is_type(CJ(obj), json_type_object)) {
        vp__json_free(value); /* ownership passes even on failure */
        return VP_EINVAL;
    }
    struct json_object *old = NULL;
    if (json_object_object_get_ex(CJ(obj), key, &old))
        wipe_tree(old, 0); /* json-c puts the replaced value without wiping it */
    if (json_object_object_add(J(obj), key, J(value)) != 0) {
        vp__json_free(value);
        return VP_ENOMEM;
    }
    return 0;
}

int vp__json_append(vp_json *arr, vp_json *value)
{
    if (value != NULL && value == arr)
        return VP_EINVAL; /* see vp__json_set */
    if (arr == NULL || value == NULL || !json_object_is_type(CJ(arr), json_type_array)) {
        vp__json_free(value);
        return VP_EINVAL;
    }
    if (json_object_array_add(J(arr), J(value)) != 0) {
        vp__json_free(value);
        return VP_ENOMEM;
    }
    return 0;
}

/* ---- dumping ----------------------------------------------------------------------------- */

/* The dump goes into a secure vp_buf (every reallocation wipes the old block); the first
 * failure sticks so the serialiser need not check every append. */
typedef struct sbuf {
    vp_buf buf;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->buf.len + n > VP__JSON_MAX_INPUT || vp__buf_reserve(&b->buf, n, 1) != 0 ||
        vp__buf_append(&b->buf, s, n) != 0)
        b->oom = 1;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void dump_string(sbuf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    sb_add(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(u, "\\u00", 4);
                u[4] = hexd[c >> 4];
                u[5] = hexd[c & 15];
                u[6] = '\0';
                esc = u;
            }
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        sb_add(b, s + i - run, run);
        run = 0;
        sb_str(b, esc);
    }
    sb_add(b, s + n - run, run);
    sb_add(b, "\"", 1);
}

static void dump_double(sbuf *b, double d)
{
    char tmp[40];
    if (!isfinite(d)) {
        sb_str(b, "null"); /* JSON has no NaN/Infinity */
        return;
    }
    /* Shortest of %.15g..%.17g that reads back to the same double. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    sb_str(b, tmp);
    if (strpbrk(tmp, ".eE") == NULL)
        sb_str(b, ".0"); /* stays a double when parsed again */
}

static void dump_value(sbuf *b, const struct json_object *v, int depth)
{
    char tmp[32];
    if (depth > DUMP_MAX_DEPTH) {
        b->oom = 1;
        return;
    }
    switch (json_object_get_type(v)) {
    case json_type_null:
        sb_str(b, "null");
        break;
    case json_type_boolean:
        sb_str(b, json_object_get_boolean(v) ? "true" : "false");
        break;
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
            snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)json_object_get_uint64(v));
        else
            snprintf(tmp, sizeof(tmp), "%lld", (long long)i);
        sb_str(b, tmp);
        break;
    }
    case json_type_double:
        dump_double(b, json_object_get_double(v));
        break;
    case json_type_string:
        dump_string(b, json_object_get_string(J(v)), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(v);
        sb_add(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                sb_add(b, ",", 1);
            dump_value(b, json_object_array_get_idx(v, i), depth + 1);
        }
        sb_add(b, "]", 1);
        break;
    }
    case json_type_object: {
        int first = 1;
        sb_add(b, "{", 1);
        json_object_object_foreach(J(v), key, val)
        {
            if (!first)
                sb_add(b, ",", 1);
            first = 0;
            dump_string(b, key, strlen(key));
            sb_add(b, ":", 1);
            dump_value(b, val, depth + 1);
        }
        sb_add(b, "}", 1);
        break;
    }
    }
}

char *vp__json_dump(const vp_json *v, size_t *len)
{
    if (v == NULL)
        return NULL;
    if (vp__fault_alloc_should_fail())
        return NULL;
    sbuf b = {VP_BUF_INIT, 0};
    sb_add(&b, "", 0); /* an empty dump is still a (secure) string */
    dump_value(&b, CJ(v), 0);
    if (b.oom) {
        vp_buf_free(&b.buf);
        return NULL;
    }
    if (len != NULL)
        *len = b.buf.len;
    return b.buf.data; /* ownership passes to the caller: secure memory, secure_free */
}
