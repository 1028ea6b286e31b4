/*
 * tmpl_value - template values with JavaScript semantics, so output matches Nunjucks byte for
 * byte: Number::toString (shortest round trip, JS exponent rules), truthiness, loose and strict
 * equality, relational comparison, object key order, String.length and the \s class.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

size_t vp__js_num(double d, char *buf)
{
    if (isnan(d))
        return (size_t)sprintf(buf, "NaN");
    if (isinf(d))
        return (size_t)sprintf(buf, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0)
        return (size_t)sprintf(buf, "0"); /* also -0 */
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(long long)d) {
        /* Safe integers (the common case: ports, counts, indices) print all their digits, as
         * JS does below 1e21; no need for the round-trip search. */
        long long v = (long long)d;
        unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
        char tmp[24], *o = tmp + sizeof(tmp);
        do {
            *--o = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (v < 0)
            *--o = '-';
        size_t n = (size_t)(tmp + sizeof(tmp) - o);
        memcpy(buf, o, n);
        buf[n] = '\0';
        return n;
    }
    /* Shortest digits that round-trip. */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp = [-]D[.DDD]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *q = tmp;
    int neg = 0;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int e10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    /* JS: n = e10 + 1 is the position of the decimal point relative to the digits */
    int k = (int)nd, n = e10 + 1;
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (k <= n && n <= 21) {
        memcpy(o, digits, nd);
        o += nd;
        for (int i = 0; i < n - k; i++)
            *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++)
            *o++ = '0';
        memcpy(o, digits, nd);
        o += nd;
    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, nd - 1);
            o += nd - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    *o = '\0';
    return (size_t)(o - buf);
}

tv vp__tv_from_json(json_object *j)
{
    tv v;
    memset(&v, 0, sizeof(v));
    switch (json_object_get_type(j)) {
    case json_type_null:
        v.t = TV_NULL;
        break;
    case json_type_boolean:
        v.t = TV_BOOL;
        v.u.b = json_object_get_boolean(j) ? 1 : 0;
        break;
    case json_type_int:
    case json_type_double:
        v.t = TV_NUM;
        v.u.n = json_object_get_double(j);
        break;
    case json_type_string:
        v.t = TV_STR;
        v.u.s = json_object_get_string(j);
        v.len = (uint32_t)json_object_get_string_len(j);
        break;
    default:
        v.t = TV_JSON;
        v.u.j = j;
        break;
    }
    return v;
}

int vp__tv_truthy(const tv *v)
{
    switch (v->t) {
    case TV_UNDEF:
    case TV_NULL:
        return 0;
    case TV_BOOL:
        return v->u.b;
    case TV_NUM:
        return !(v->u.n == 0 || isnan(v->u.n));
    case TV_STR:
        return v->len > 0;
    default:
        return 1;
    }
}

/* JS StringToNumber: trimmed decimal (or 0x/0o/0b, Infinity); "" -> 0; else NaN. */
static double str_to_number(const char *s, size_t n)
{
    size_t a = 0, b = n, w;
    while (a < b && (w = vp__js_space_at(s + a, b - a)) != 0)
        a += w;
    while (b > a && (w = vp__js_space_before(s + a, b - a)) != 0)
        b -= w;
    if (a == b)
        return 0;
    char tmp[128];
    if (b - a >= sizeof(tmp))
        return NAN;
    memcpy(tmp, s + a, b - a);
    tmp[b - a] = '\0';
    const char *t = tmp;
    if (t[0] == '0' &&
        (t[1] == 'x' || t[1] == 'X' || t[1] == 'o' || t[1] == 'O' || t[1] == 'b' || t[1] == 'B')) {
        int base = (t[1] == 'x' || t[1] == 'X') ? 16 : (t[1] == 'o' || t[1] == 'O') ? 8 : 2;
        if (t[2] == '\0')
            return NAN;
        double r = 0;
        for (const char *q = t + 2; *q; q++) {
            int dv = (*q >= '0' && *q <= '9')   ? *q - '0'
                     : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                     : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                                : 99;
            if (dv >= base)
                return NAN;
            r = r * base + dv;
        }
        return r;
    }
    const char *u = t;
    if (*u == '+' || *u == '-')
        u++;
    if (strcmp(u, "Infinity") == 0)
        return t[0] == '-' ? -INFINITY : INFINITY;
    /* only digits, one dot, exponent: strtod also takes "inf", "nan", hex floats */
    for (const char *q = u; *q; q++) {
        if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' ||
              *q == '-'))
            return NAN;
    }
    char *end;
    double r = strtod(t, &end);
    if (*end != '\0' || end == t)
        return NAN;
    return r;
}

double vp__tv_tonumber(const tv *v)
{
    switch (v->t) {
    case TV_NULL:
        return 0;
    case TV_BOOL:
        return v->u.b;
    case TV_NUM:
        return v->u.n;
    case TV_STR:
        return str_to_number(v->u.s, v->len);
    default:
        return NAN;
    }
}

static int same_object(const tv *a, const tv *b)
{
    if (a->t != b->t)
        return 0;
    switch (a->t) {
    case TV_JSON:
        return a->u.j == b->u.j;
    case TV_LOOP:
        return a->u.loop == b->u.loop;
    default:
        return 1; /* vault, root: singletons */
    }
}

static int is_object(const tv *v)
{
    return v->t >= TV_JSON;
}

int vp__tv_equal(const tv *a, const tv *b, int strict)
{
    if (a->t == b->t || (a->t == TV_NUM && b->t == TV_NUM)) {
        switch (a->t) {
        case TV_UNDEF:
        case TV_NULL:
            return 1;
        case TV_BOOL:
            return a->u.b == b->u.b;
        case TV_NUM:
            return a->u.n == b->u.n;
        case TV_STR:
            return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
        default:
            return same_object(a, b);
        }
    }
    if (strict)
        return 0;
    /* loose equality across types (ECMA-262 IsLooselyEqual) */
    int an = a->t == TV_UNDEF || a->t == TV_NULL, bn = b->t == TV_UNDEF || b->t == TV_NULL;
    if (an || bn)
        return an && bn;
    if (is_object(a) && is_object(b))
        return same_object(a, b);
    if (is_object(a) || is_object(b))
        return 0; /* ToPrimitive of objects: "[object Object]"/joined arrays; rare, treat unequal */
    return vp__tv_tonumber(a) == vp__tv_tonumber(b);
}

int vp__tv_compare(const tv *a, const tv *b, int op)
{
    if (a->t == TV_STR && b->t == TV_STR) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->u.s, b->u.s, n);
        if (c == 0)
            c = a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
        switch (op) {
        case OP_LT:
            return c < 0;
        case OP_GT:
            return c > 0;
        case OP_LE:
            return c <= 0;
        default:
            return c >= 0;
        }
    }
    double x = vp__tv_tonumber(a), y = vp__tv_tonumber(b);
    if (isnan(x) || isnan(y))
        return 0;
    switch (op) {
    case OP_LT:
        return x < y;
    case OP_GT:
        return x > y;
    case OP_LE:
        return x <= y;
    default:
        return x >= y;
    }
}

/* Canonical array index: "0" or [1-9][0-9]* below 2^32 - 1. Returns 1 and the value. */
static int array_index(const char *k, unsigned long long *out)
{
    if (k[0] == '\0' || (k[0] == '0' && k[1] != '\0'))
        return 0;
    unsigned long long v = 0;
    for (const char *q = k; *q; q++) {
        if (*q < '0' || *q > '9')
            return 0;
        v = v * 10 + (unsigned)(*q - '0');
        if (v >= 4294967295ull)
            return 0;
    }
    *out = v;
    return 1;
}

void vp__json_js_keys(json_object *o, const char **keys, size_t n)
{
    size_t i = 0, nidx = 0;
    /* first pass: index keys, insertion-sorted (objects with many numeric keys are rare) */
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        unsigned long long v, w;
        if (i >= n)
            break;
        if (array_index(key, &v)) {
            size_t pos = nidx;
            while (pos > 0 && array_index(keys[pos - 1], &w) && w > v) {
                keys[pos] = keys[pos - 1];
                pos--;
            }
            keys[pos] = key;
            nidx++;
            i++;
        }
    }
    json_object_object_foreach(o, key2, val2)
    {
        (void)val2;
        unsigned long long v;
        if (i >= n)
            break;
        if (!array_index(key2, &v))
            keys[i++] = key2;
    }
}

size_t vp__utf16_len(const char *s, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            u += c >= 0xF0 ? 2 : 1;
    }
    return u;
}

/* JS \s: ASCII \t \n \v \f \r space, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000, U+FEFF. */
static int js_space_cp(unsigned cp)
{
    return cp == 0x09 || cp == 0x0A || cp == 0x0B || cp == 0x0C || cp == 0x0D || cp == 0x20 ||
           cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

size_t vp__js_space_at(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80)
        return js_space_cp(c) ? 1 : 0;
    if ((c & 0xE0) == 0xC0 && n >= 2) {
        unsigned cp = ((c & 0x1Fu) << 6) | ((unsigned char)s[1] & 0x3Fu);
        return js_space_cp(cp) ? 2 : 0;
    }
    if ((c & 0xF0) == 0xE0 && n >= 3) {
        unsigned cp = ((c & 0x0Fu) << 12) | (((unsigned char)s[1] & 0x3Fu) << 6) |
                      ((unsigned char)s[2] & 0x3Fu);
        return js_space_cp(cp) ? 3 : 0;
    }
    return 0;
}

size_t vp__js_space_before(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if ((unsigned char)s[n - 1] < 0x80)
        return js_space_cp((unsigned char)s[n - 1]) ? 1 : 0;
    for (size_t l = 2; l <= 3 && l <= n; l++) {
        size_t w = vp__js_space_at(s + n - l, l);
        if (w == l)
            return l;
    }
    return 0;
}
