/*
 * tmpl_filters - the template filters, with Nunjucks' (and, for base64/b64decode, Insomnia's)
 * behaviour: default, upper, lower, trim, urlencode, base64, b64decode, json (JSON.stringify).
 *
 * A filter's result is secret when its input (or an argument) is: it lives in the secure
 * scratch arena and PREVIEW masks it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "tmpl_int.h"

static int put(vp__render *r, vp_buf *b, const char *p, size_t n, size_t off)
{
    if (b->len + n > r->lim.max_output)
        return vp__render_fail(r, off, VP_ELIMIT, "output larger than %zu bytes",
                               r->lim.max_output);
    int rc = vp__buf_reserve(b, n, 1); /* secure from the first byte */
    return rc != 0 ? rc : vp__buf_append(b, p, n);
}

/* ---- JSON.stringify ------------------------------------------------------------------------- */

static int json_str(vp__render *r, const char *s, size_t n, vp_buf *b, size_t off)
{
    static const char hex[] = "0123456789abcdef";
    int rc = put(r, b, "\"", 1, off);
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t el = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            el = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            el = 2;
            switch (c) {
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                el = 6;
            }
        }
        if (el) {
            if (i > run)
                rc = put(r, b, s + run, i - run, off);
            if (rc == 0)
                rc = put(r, b, esc, el, off);
            run = i + 1;
        }
    }
    if (rc == 0 && n > run)
        rc = put(r, b, s + run, n - run, off);
    if (rc == 0)
        rc = put(r, b, "\"", 1, off);
    return rc;
}

static int newline_indent(vp__render *r, vp_buf *b, const char *ind, size_t il, int level,
                          size_t off)
{
    int rc = put(r, b, "\n", 1, off);
    for (int i = 0; i < level && rc == 0; i++)
        rc = put(r, b, ind, il, off);
    return rc;
}

/* Returns 1 in *skip when the value is undefined-like for JSON (omitted in objects). */
static int json_value(vp__render *r, json_object *j, vp_buf *b, const char *ind, size_t il,
                      int level, size_t off)
{
    int rc = 0;
    if (level > 64)
        return vp__render_fail(r, off, VP_ELIMIT, "value nested too deeply for json");
    switch (json_object_get_type(j)) {
    case json_type_array: {
        size_t n = json_object_array_length(j);
        if (n == 0)
            return put(r, b, "[]", 2, off);
        rc = put(r, b, "[", 1, off);
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i > 0)
                rc = put(r, b, ",", 1, off);
            if (rc == 0 && il)
                rc = newline_indent(r, b, ind, il, level + 1, off);
            if (rc == 0)
                rc = json_value(r, json_object_array_get_idx(j, i), b, ind, il, level + 1, off);
        }
        if (rc == 0 && il)
            rc = newline_indent(r, b, ind, il, level, off);
        if (rc == 0)
            rc = put(r, b, "]", 1, off);
        return rc;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(j);
        if (n == 0)
            return put(r, b, "{}", 2, off);
        vp__arena_mark m = vp__arena_mark_get(&r->scratch);
        const char **keys = vp__arena_alloc(&r->scratch, n * sizeof(char *));
        if (keys == NULL)
            return VP_ENOMEM;
        vp__json_js_keys(j, keys, n);
        rc = put(r, b, "{", 1, off);
        for (size_t i = 0; i < n && rc == 0; i++) {
            json_object *m2 = NULL;
            json_object_object_get_ex(j, keys[i], &m2);
            if (i > 0)
                rc = put(r, b, ",", 1, off);
            if (rc == 0 && il)
                rc = newline_indent(r, b, ind, il, level + 1, off);
            if (rc == 0)
                rc = json_str(r, keys[i], strlen(keys[i]), b, off);
            if (rc == 0)
                rc = put(r, b, il ? ": " : ":", il ? 2 : 1, off);
            if (rc == 0)
                rc = json_value(r, m2, b, ind, il, level + 1, off);
        }
        if (rc == 0 && il)
            rc = newline_indent(r, b, ind, il, level, off);
        if (rc == 0)
            rc = put(r, b, "}", 1, off);
        vp__arena_release(&r->scratch, m);
        return rc;
    }
    case json_type_string:
        return json_str(r, json_object_get_string(j), (size_t)json_object_get_string_len(j), b,
                        off);
    case json_type_null:
        return put(r, b, "null", 4, off);
    default: {
        tv v = vp__tv_from_json(j);
        if (v.t == TV_NUM && !isfinite(v.u.n))
            return put(r, b, "null", 4, off);
        return vp__tv_append_string(r, &v, b, off);
    }
    }
}

int vp__tv_json(vp__render *r, const tv *v, const char *indent, size_t ilen, vp_buf *b, size_t off,
                int *undefined)
{
    *undefined = 0;
    switch (v->t) {
    case TV_UNDEF:
        *undefined = 1;
        return 0;
    case TV_NULL:
        return put(r, b, "null", 4, off);
    case TV_BOOL:
        return v->u.b ? put(r, b, "true", 4, off) : put(r, b, "false", 5, off);
    case TV_NUM:
        if (!isfinite(v->u.n))
            return put(r, b, "null", 4, off);
        return vp__tv_append_string(r, v, b, off);
    case TV_STR:
        return json_str(r, v->u.s, v->len, b, off);
    case TV_JSON:
        return json_value(r, v->u.j, b, indent, ilen, 0, off);
    case TV_ROOT:
        if (r->root == NULL)
            return put(r, b, "{}", 2, off);
        return json_value(r, r->root, b, indent, ilen, 0, off);
    default:
        return vp__render_fail(r, off, VP_EINVAL, "this value cannot be serialised to JSON");
    }
}

/* ---- encodeURIComponent ----------------------------------------------------------------- */

static int uri_component(vp__render *r, const char *s, size_t n, vp_buf *b, size_t off)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   strchr("-_.!~*'()", c) != NULL;
        if (c == 0)
            keep = 0;
        if (!keep) {
            if (i > run)
                rc = put(r, b, s + run, i - run, off);
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (rc == 0)
                rc = put(r, b, e, 3, off);
            run = i + 1;
        }
    }
    if (rc == 0 && n > run)
        rc = put(r, b, s + run, n - run, off);
    return rc;
}

static int uri_value(vp__render *r, const tv *v, vp_buf *b, size_t off)
{
    if (v->t == TV_STR)
        return uri_component(r, v->u.s, v->len, b, off);
    vp_buf t = VP_BUF_INIT;
    int rc = vp__buf_reserve(&t, 16, 1);
    if (rc == 0)
        rc = vp__tv_append_string(r, v, &t, off);
    if (rc == 0)
        rc = uri_component(r, t.data, t.len, b, off);
    vp_buf_free(&t);
    return rc;
}

static int urlencode(vp__render *r, const tx *e, const tv *in, vp_buf *b)
{
    size_t off = e->off;
    if (in->t == TV_STR)
        return uri_component(r, in->u.s, in->len, b, off);
    if (in->t == TV_UNDEF || in->t == TV_NULL)
        return vp__render_fail(r, off, VP_EINVAL, "urlencode of an undefined or null value");
    json_object *j = in->t == TV_JSON ? in->u.j : in->t == TV_ROOT ? r->root : NULL;
    if (j == NULL)
        return 0; /* numbers, booleans: no entries */
    int rc = 0;
    if (json_object_get_type(j) == json_type_array) {
        size_t n = json_object_array_length(j);
        for (size_t i = 0; i < n && rc == 0; i++) {
            tv el = vp__tv_from_json(json_object_array_get_idx(j, i)), k, v;
            if ((rc = vp__render_member(r, &el, "0", 1, &k, off)) != 0 ||
                (rc = vp__render_member(r, &el, "1", 1, &v, off)) != 0)
                return rc;
            if (i > 0)
                rc = put(r, b, "&", 1, off);
            if (rc == 0)
                rc = uri_value(r, &k, b, off);
            if (rc == 0)
                rc = put(r, b, "=", 1, off);
            if (rc == 0)
                rc = uri_value(r, &v, b, off);
        }
        return rc;
    }
    size_t n = (size_t)json_object_object_length(j);
    if (n == 0)
        return 0;
    const char **keys = vp__arena_alloc(&r->scratch, n * sizeof(char *));
    if (keys == NULL)
        return VP_ENOMEM;
    vp__json_js_keys(j, keys, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_object *m = NULL;
        json_object_object_get_ex(j, keys[i], &m);
        tv v = vp__tv_from_json(m);
        if (i > 0)
            rc = put(r, b, "&", 1, off);
        if (rc == 0)
            rc = uri_component(r, keys[i], strlen(keys[i]), b, off);
        if (rc == 0)
            rc = put(r, b, "=", 1, off);
        if (rc == 0)
            rc = uri_value(r, &v, b, off);
    }
    return rc;
}

/* ---- case mapping ----------------------------------------------------------------------- */

/* ASCII and the common 2-byte ranges (Latin-1, Latin Extended-A, Greek, Cyrillic); other
 * characters are copied unchanged (JS maps the full Unicode tables). */
static int change_case(vp__render *r, const tv *in, int upper, vp_buf *b, size_t off)
{
    const unsigned char *s = (const unsigned char *)in->u.s;
    size_t n = in->len;
    int rc = vp__buf_reserve(b, n, 1);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned c = s[i];
        if (c < 0x80) {
            char ch = (char)c;
            if (upper && c >= 'a' && c <= 'z')
                ch = (char)(c - 32);
            else if (!upper && c >= 'A' && c <= 'Z')
                ch = (char)(c + 32);
            rc = put(r, b, &ch, 1, off);
            continue;
        }
        if ((c & 0xE0) == 0xC0 && i + 1 < n) {
            unsigned cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu), m = cp;
            if (upper) {
                if (cp == 0xDF) { /* ß -> SS */
                    rc = put(r, b, "SS", 2, off);
                    i++;
                    continue;
                }
                if ((cp >= 0xE0 && cp <= 0xFE && cp != 0xF7))
                    m = cp - 0x20;
                else if (cp == 0xFF)
                    m = 0x178;
                else if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 &&
                         cp != 0x149 && cp != 0x17F)
                    m = ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
                            ? ((cp & 1) ? cp : cp - 1)
                            : ((cp & 1) ? cp - 1 : cp);
                else if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2)
                    m = cp - 0x20;
                else if (cp == 0x3C2)
                    m = 0x3A3;
                else if (cp >= 0x430 && cp <= 0x44F)
                    m = cp - 0x20;
                else if (cp >= 0x450 && cp <= 0x45F)
                    m = cp - 0x50;
            } else {
                if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
                    m = cp + 0x20;
                else if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 &&
                         cp != 0x149 && cp != 0x17F)
                    m = ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
                            ? ((cp & 1) ? cp + 1 : cp)
                            : ((cp & 1) ? cp : cp + 1);
                else if (cp == 0x178)
                    m = 0xFF;
                else if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
                    m = cp + 0x20;
                else if (cp >= 0x410 && cp <= 0x42F)
                    m = cp + 0x20;
                else if (cp >= 0x400 && cp <= 0x40F)
                    m = cp + 0x50;
            }
            char o[2] = {(char)(0xC0 | (m >> 6)), (char)(0x80 | (m & 0x3F))};
            rc = put(r, b, o, 2, off);
            i++;
            continue;
        }
        rc = put(r, b, (const char *)s + i, 1, off);
    }
    return rc;
}

/* ---- base64 ------------------------------------------------------------------------------ */

static int b64_decode(vp__render *r, const tv *in, vp_buf *b, size_t off)
{
    /* Node's Buffer.from(s, 'base64'): both alphabets, padding optional, whitespace ignored. */
    int rc = vp__buf_reserve(b, in->len, 1);
    if (rc != 0)
        return rc;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in->len; i++) {
        unsigned char c = (unsigned char)in->u.s[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else if (c == '=')
            break;
        else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        else
            return vp__render_fail(r, off, VP_EINVAL, "b64decode: input is not base64");
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char ch = (char)((acc >> bits) & 0xFF);
            if ((rc = put(r, b, &ch, 1, off)) != 0)
                return rc;
        }
    }
    sodium_memzero(&acc, sizeof(acc));
    return 0;
}

static int b64_encode(vp__render *r, const tv *in, vp_buf *b, size_t off)
{
    size_t need = sodium_base64_encoded_len(in->len, sodium_base64_VARIANT_ORIGINAL);
    if (need > r->lim.max_output)
        return vp__render_fail(r, off, VP_ELIMIT, "output larger than %zu bytes",
                               r->lim.max_output);
    int rc = vp__buf_reserve(b, need, 1);
    if (rc != 0)
        return rc;
    sodium_bin2base64(b->data + b->len, need, (const unsigned char *)in->u.s, in->len,
                      sodium_base64_VARIANT_ORIGINAL);
    b->len += need - 1;
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static int need_string(vp__render *r, const tx *e, const tv *in, const char *name)
{
    (void)in;
    return vp__render_fail(r, e->off, VP_EINVAL, "filter '%s' expects a string", name);
}

int vp__tmpl_filter(vp__render *r, const tx *e, const tv *in, const tv *args, tv *out)
{
    vp_buf *b = &r->tmp;
    int rc = 0, secret = in->secret;
    memset(out, 0, sizeof(*out));
    vp__buf_reset(b);
    switch ((tx_filter)e->op) {
    case F_DEFAULT: {
        int use_def =
            (e->nargs > 1 && vp__tv_truthy(&args[1])) ? !vp__tv_truthy(in) : in->t == TV_UNDEF;
        *out = use_def ? args[0] : *in;
        return 0;
    }
    case F_UPPER:
    case F_LOWER: {
        const char *nm = e->op == F_UPPER ? "upper" : "lower";
        if (in->t == TV_UNDEF || in->t == TV_NULL || (in->t == TV_BOOL && !in->u.b)) {
            out->t = TV_STR;
            out->u.s = "";
            return 0;
        }
        if (in->t != TV_STR)
            return need_string(r, e, in, nm);
        rc = change_case(r, in, e->op == F_UPPER, b, e->off);
        break;
    }
    case F_TRIM: {
        if (in->t != TV_STR)
            return need_string(r, e, in, "trim");
        size_t a = 0, z = in->len, w;
        while (a < z && (w = vp__js_space_at(in->u.s + a, z - a)) != 0)
            a += w;
        while (z > a && (w = vp__js_space_before(in->u.s + a, z - a)) != 0)
            z -= w;
        *out = *in;
        out->u.s = in->u.s + a;
        out->len = (uint32_t)(z - a);
        return 0;
    }
    case F_URLENCODE:
        rc = urlencode(r, e, in, b);
        break;
    case F_BASE64:
    case F_B64DECODE: {
        tv s = *in;
        if (in->t == TV_UNDEF || in->t == TV_NULL) {
            s.t = TV_STR;
            s.u.s = "";
            s.len = 0;
        } else if (in->t != TV_STR) {
            vp_buf t = VP_BUF_INIT;
            rc = vp__buf_reserve(&t, 16, 1);
            if (rc == 0)
                rc = vp__tv_append_string(r, in, &t, e->off);
            if (rc == 0)
                rc = vp__tv_from_buf(r, &t, in->secret, &s);
            vp_buf_free(&t);
            if (rc != 0)
                return rc;
        }
        rc = e->op == F_BASE64 ? b64_encode(r, &s, b, e->off) : b64_decode(r, &s, b, e->off);
        break;
    }
    case F_JSON: {
        char ind[11];
        size_t il = 0;
        if (e->nargs > 0) {
            if (args[0].t == TV_NUM) {
                double d = args[0].u.n;
                il = d >= 1 ? (d > 10 ? 10 : (size_t)d) : 0;
                memset(ind, ' ', il);
            } else if (args[0].t == TV_STR) {
                il = args[0].len > 10 ? 10 : args[0].len;
                memcpy(ind, args[0].u.s, il);
            }
        }
        int undef = 0;
        rc = vp__tv_json(r, in, ind, il, b, e->off, &undef);
        if (rc == 0 && undef) {
            out->t = TV_UNDEF;
            return 0;
        }
        break;
    }
    default:
        return vp__render_fail(r, e->off, VP_EINTERNAL, "unknown filter");
    }
    if (rc != 0)
        return rc;
    return vp__tv_from_buf(r, b, secret, out);
}
