/*
 * tmpl_render - evaluation of a parsed template: expressions, control flow, output, and the
 * collection of external references (`{% vault %}` tags).
 *
 * The renderer never does I/O. A vault tag records its reference (deduplicated by canonical id)
 * and a splice point in the output; template.c resolves all references in one batch and splices
 * the values in. Local-vault values come through the vp_vault_source callback (cached per
 * render, in secure memory) and taint every value derived from them, which PREVIEW masks.
 *
 * Output, scratch strings and the stringification buffer are secure memory; no value is ever
 * formatted into an error message (messages name template text, never data).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "ref.h"
#include "secmem.h"
#include "tmpl_int.h"
#include "vaultplug/error.h"
#include "vaultplug/vault.h"

#define MAX_VARS 100000u

int vp__render_fail(vp__render *r, size_t off, int code, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return vp__tmpl_error(r->err, r->t->src, r->t->len, off, code, "%s", what);
}

/* The template text of an expression, for messages ("'a.b' is undefined"). */
static int expr_text(const vp__render *r, const tx *e)
{
    (void)r;
    size_t l = e->end > e->off ? e->end - e->off : 0;
    return (int)(l > 60 ? 60 : l);
}

static int buf_put(vp__render *r, vp_buf *b, const char *p, size_t n, size_t off)
{
    if (b->len + n > r->lim.max_output)
        return vp__render_fail(r, off, VP_ELIMIT, "output larger than %zu bytes",
                               r->lim.max_output);
    if (b->cap - b->len <= n || b->data == NULL) {
        int rc = vp__buf_reserve(b, n, 1);
        if (rc != 0)
            return rc == VP_ELIMIT ? vp__render_fail(r, off, rc, "output too large") : rc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int join_array(vp__render *r, json_object *a, vp_buf *b, size_t off, int depth)
{
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            int rc = buf_put(r, b, ",", 1, off);
            if (rc != 0)
                return rc;
        }
        json_object *el = json_object_array_get_idx(a, i);
        if (el == NULL)
            continue;
        if (json_object_get_type(el) == json_type_array) {
            if (depth > 64)
                return vp__render_fail(r, off, VP_ELIMIT, "array nested too deeply");
            int rc = join_array(r, el, b, off, depth + 1);
            if (rc != 0)
                return rc;
            continue;
        }
        tv v = vp__tv_from_json(el);
        if (v.t == TV_NULL)
            continue;
        int rc = vp__tv_append_string(r, &v, b, off);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int vp__tv_append_string(vp__render *r, const tv *v, vp_buf *b, size_t off)
{
    char num[40];
    switch (v->t) {
    case TV_UNDEF:
        return buf_put(r, b, "undefined", 9, off);
    case TV_NULL:
        return buf_put(r, b, "null", 4, off);
    case TV_BOOL:
        return v->u.b ? buf_put(r, b, "true", 4, off) : buf_put(r, b, "false", 5, off);
    case TV_NUM: {
        size_t n = vp__js_num(v->u.n, num);
        return buf_put(r, b, num, n, off);
    }
    case TV_STR:
        return buf_put(r, b, v->u.s, v->len, off);
    case TV_JSON:
        if (json_object_get_type(v->u.j) == json_type_array)
            return join_array(r, v->u.j, b, off, 0);
        return buf_put(r, b, "[object Object]", 15, off);
    default:
        return buf_put(r, b, "[object Object]", 15, off);
    }
}

int vp__tv_from_buf(vp__render *r, vp_buf *b, int secret, tv *out)
{
    if (r->scratch.total + b->len > r->lim.max_output * 2 + 65536)
        return VP_ELIMIT;
    char *s = vp__arena_alloc(&r->scratch, b->len + 1);
    if (s == NULL)
        return VP_ENOMEM;
    if (b->len > 0)
        memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    memset(out, 0, sizeof(*out));
    out->t = TV_STR;
    out->u.s = s;
    out->len = (uint32_t)b->len;
    out->secret = (uint8_t)(secret != 0);
    vp__buf_reset(b);
    return 0;
}

/* ---- variables and lookups ------------------------------------------------------------------ */

static tvar *var_find(vp__render *r, const char *name)
{
    for (size_t i = r->nvars; i > 0; i--) {
        tvar *v = &r->vars[i - 1];
        if (v->name == name || strcmp(v->name, name) == 0)
            return v;
    }
    return NULL;
}

static int var_push(vp__render *r, const char *name, const tv *val, size_t off)
{
    if (r->nvars == r->capvars) {
        if (r->capvars >= MAX_VARS)
            return vp__render_fail(r, off, VP_ELIMIT, "too many variables");
        size_t nc = r->capvars ? r->capvars * 2 : 32;
        tvar *nv = realloc(r->vars, nc * sizeof(*nv));
        if (nv == NULL)
            return VP_ENOMEM;
        r->vars = nv;
        r->capvars = nc;
    }
    r->vars[r->nvars].name = name;
    r->vars[r->nvars].v = *val;
    r->nvars++;
    return 0;
}

static int is_vault_name(const char *name, size_t len)
{
    return (len == 5 && memcmp(name, "vault", 5) == 0) ||
           (len == 16 && memcmp(name, "__insomnia_vault", 16) == 0);
}

/* Value of local-vault secret `name` (cached for the render). */
static int vault_get(vp__render *r, const char *name, size_t len, tv *out, size_t off)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < r->nvc; i++) {
        tvault_entry *e = &r->vc[i];
        if (strlen(e->name) == len && memcmp(e->name, name, len) == 0) {
            if (e->found) {
                out->t = TV_STR;
                out->u.s = e->val.data ? e->val.data : "";
                out->len = (uint32_t)e->val.len;
                out->secret = 1;
            }
            return 0;
        }
    }
    if (r->vault == NULL || r->vault->lookup == NULL || len > VP_VAULT_NAME_MAX)
        return 0; /* undefined */
    if (r->nvc == r->capvc) {
        size_t nc = r->capvc ? r->capvc * 2 : 8;
        tvault_entry *nv = realloc(r->vc, nc * sizeof(*nv));
        if (nv == NULL)
            return VP_ENOMEM;
        r->vc = nv;
        r->capvc = nc;
    }
    tvault_entry *e = &r->vc[r->nvc];
    memset(e, 0, sizeof(*e));
    e->name = malloc(len + 1);
    if (e->name == NULL)
        return VP_ENOMEM;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    r->nvc++;
    vp_error le = {0, {0}};
    int rc = r->vault->lookup(r->vault->ud, e->name, &e->val, &le);
    if (rc == VP_ENOTFOUND) {
        vp_buf_free(&e->val);
        return 0;
    }
    if (rc != 0) {
        vp_buf_free(&e->val);
        return vp__render_fail(r, off, rc, "local vault lookup of '%s' failed: %s", e->name,
                               le.message[0] ? le.message : vp_strerror(rc));
    }
    e->found = 1;
    out->t = TV_STR;
    out->u.s = e->val.data ? e->val.data : "";
    out->len = (uint32_t)e->val.len;
    out->secret = 1;
    return 0;
}

/* Canonical array index from a property name; -1 if it is not one. */
static long long prop_index(const char *name, size_t len)
{
    if (len == 0 || len > 10 || (name[0] == '0' && len > 1))
        return -1;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

int vp__render_member(vp__render *r, const tv *obj, const char *name, size_t len, tv *out,
                      size_t off)
{
    memset(out, 0, sizeof(*out));
    char key[256];
    const char *k = name;
    if (name[len] != '\0') { /* json-c wants NUL-terminated keys */
        if (len >= sizeof(key))
            return 0; /* no environment key is that long in practice: undefined */
        memcpy(key, name, len);
        key[len] = '\0';
        k = key;
    }
    switch (obj->t) {
    case TV_ROOT:
        if (is_vault_name(k, len)) {
            out->t = TV_VAULT;
            return 0;
        }
        if (r->root != NULL) {
            json_object *j;
            if (json_object_object_get_ex(r->root, k, &j))
                *out = vp__tv_from_json(j);
        }
        return 0;
    case TV_VAULT:
        return vault_get(r, k, len, out, off);
    case TV_JSON: {
        json_object *j = obj->u.j;
        if (json_object_get_type(j) == json_type_array) {
            if (len == 6 && memcmp(k, "length", 6) == 0) {
                out->t = TV_NUM;
                out->u.n = (double)json_object_array_length(j);
            } else {
                long long idx = prop_index(k, len);
                if (idx >= 0 && (size_t)idx < json_object_array_length(j))
                    *out = vp__tv_from_json(json_object_array_get_idx(j, (size_t)idx));
            }
        } else {
            json_object *m;
            if (json_object_object_get_ex(j, k, &m))
                *out = vp__tv_from_json(m);
        }
        break;
    }
    case TV_STR:
        if (len == 6 && memcmp(k, "length", 6) == 0) {
            out->t = TV_NUM;
            out->u.n = (double)vp__utf16_len(obj->u.s, obj->len);
        } else {
            long long idx = prop_index(k, len);
            if (idx >= 0) { /* the idx-th character (code point) */
                size_t i = 0;
                long long c = -1;
                while (i < obj->len) {
                    if (((unsigned char)obj->u.s[i] & 0xC0) != 0x80)
                        c++;
                    if (c == idx)
                        break;
                    i++;
                }
                if (i < obj->len) {
                    size_t j = i + 1;
                    while (j < obj->len && ((unsigned char)obj->u.s[j] & 0xC0) == 0x80)
                        j++;
                    out->t = TV_STR;
                    out->u.s = obj->u.s + i;
                    out->len = (uint32_t)(j - i);
                }
            }
        }
        break;
    case TV_LOOP: {
        const tmpl_loop *l = obj->u.loop;
        out->t = TV_NUM;
        if (strcmp(k, "index") == 0)
            out->u.n = (double)(l->index0 + 1);
        else if (strcmp(k, "index0") == 0)
            out->u.n = (double)l->index0;
        else if (strcmp(k, "revindex") == 0)
            out->u.n = (double)(l->length - l->index0);
        else if (strcmp(k, "revindex0") == 0)
            out->u.n = (double)(l->length - l->index0 - 1);
        else if (strcmp(k, "length") == 0)
            out->u.n = (double)l->length;
        else if (strcmp(k, "first") == 0) {
            out->t = TV_BOOL;
            out->u.b = l->index0 == 0;
        } else if (strcmp(k, "last") == 0) {
            out->t = TV_BOOL;
            out->u.b = l->index0 + 1 == l->length;
        } else
            out->t = TV_UNDEF;
        return 0;
    }
    default:
        return 0;
    }
    out->secret = obj->secret;
    return 0;
}

/* Property name of an index value (JS ToPropertyKey), into buf. */
static const char *prop_key(vp__render *r, const tv *v, char *buf, size_t *len)
{
    (void)r;
    switch (v->t) {
    case TV_STR:
        *len = v->len;
        return v->u.s;
    case TV_NUM:
        *len = vp__js_num(v->u.n, buf);
        return buf;
    case TV_BOOL:
        *len = v->u.b ? 4 : 5;
        return v->u.b ? "true" : "false";
    case TV_NULL:
        *len = 4;
        return "null";
    case TV_UNDEF:
        *len = 9;
        return "undefined";
    default:
        *len = 15;
        return "[object Object]";
    }
}

/* ---- expressions ---------------------------------------------------------------------------- */

static int eval(vp__render *r, const tx *e, tv *out);

static int to_string_tv(vp__render *r, const tv *v, tv *out, size_t off)
{
    if (v->t == TV_STR) {
        *out = *v;
        return 0;
    }
    int rc = vp__tv_append_string(r, v, &r->tmp, off);
    if (rc != 0)
        return rc;
    return vp__tv_from_buf(r, &r->tmp, v->secret, out);
}

static int eval_in(vp__render *r, const tx *e, const tv *key, const tv *hay, int *res)
{
    if (hay->t == TV_STR) {
        tv ks;
        int rc = to_string_tv(r, key, &ks, e->off);
        if (rc != 0)
            return rc;
        if (ks.len == 0) {
            *res = 1;
            return 0;
        }
        *res = 0;
        for (size_t i = 0; i + ks.len <= hay->len; i++)
            if (memcmp(hay->u.s + i, ks.u.s, ks.len) == 0) {
                *res = 1;
                break;
            }
        return 0;
    }
    if (hay->t == TV_JSON && json_object_get_type(hay->u.j) == json_type_array) {
        size_t n = json_object_array_length(hay->u.j);
        *res = 0;
        for (size_t i = 0; i < n; i++) {
            tv el = vp__tv_from_json(json_object_array_get_idx(hay->u.j, i));
            if (vp__tv_equal(key, &el, 1)) {
                *res = 1;
                break;
            }
        }
        return 0;
    }
    if (hay->t == TV_JSON || hay->t == TV_ROOT || hay->t == TV_VAULT || hay->t == TV_LOOP) {
        char kb[40];
        size_t kl;
        const char *k = prop_key(r, key, kb, &kl);
        tv m;
        int rc = vp__render_member(r, hay, k, kl, &m, e->off);
        if (rc != 0)
            return rc;
        *res = m.t != TV_UNDEF;
        return 0;
    }
    return vp__render_fail(r, e->off, VP_EINVAL,
                           "cannot use 'in' to search in a value that is not a string, array or "
                           "object");
}

/* floor, fmod and pow without libm (the core links no libm). Exact for the values templates
 * use: |x| < 2^52 for floor, |x / y| < 2^53 for fmod, integer exponents for pow. */
static double js_floor(double x)
{
    if (isnan(x) || isinf(x) || fabs(x) >= 4503599627370496.0)
        return x;
    double t = (double)(long long)x;
    return t > x ? t - 1 : t;
}

static double js_fmod(double x, double y)
{
    if (isnan(x) || isnan(y) || isinf(x) || y == 0)
        return NAN;
    if (isinf(y) || x == 0)
        return x;
    double q = x / y;
    if (fabs(q) >= 9007199254740992.0)
        return NAN;
    q = (double)(long long)q; /* trunc */
    double rem = x - q * y;
    if (rem == 0)
        return x < 0 ? -0.0 : 0.0;
    return rem;
}

static double js_powi(double x, double y)
{
    int neg = y < 0;
    unsigned long long n = (unsigned long long)(neg ? -y : y);
    double res = 1, b = x;
    while (n) {
        if (n & 1)
            res *= b;
        b *= b;
        n >>= 1;
    }
    return neg ? 1 / res : res;
}

static int eval_arith(vp__render *r, const tx *e, const tv *a, const tv *b, tv *out)
{
    memset(out, 0, sizeof(*out));
    if (e->op == OP_ADD &&
        (a->t == TV_STR || b->t == TV_STR || a->t >= TV_JSON || b->t >= TV_JSON)) {
        int rc = vp__tv_append_string(r, a, &r->tmp, e->off);
        if (rc == 0)
            rc = vp__tv_append_string(r, b, &r->tmp, e->off);
        if (rc == 0)
            rc = vp__tv_from_buf(r, &r->tmp, a->secret | b->secret, out);
        return rc;
    }
    double x = vp__tv_tonumber(a), y = vp__tv_tonumber(b), z;
    switch (e->op) {
    case OP_ADD:
        z = x + y;
        break;
    case OP_SUB:
        z = x - y;
        break;
    case OP_MUL:
        z = x * y;
        break;
    case OP_DIV:
        z = x / y;
        break;
    case OP_FLOORDIV:
        z = js_floor(x / y);
        break;
    case OP_MOD:
        z = js_fmod(x, y);
        break;
    default:
        if (isnan(x) || isnan(y) || y != js_floor(y) || fabs(y) > 1e6)
            return vp__render_fail(r, e->off, VP_ENOTSUP,
                                   "'**' supports integer exponents up to 1e6 only");
        z = js_powi(x, y);
        break;
    }
    out->t = TV_NUM;
    out->u.n = z;
    out->secret = a->secret | b->secret;
    return 0;
}

static int eval(vp__render *r, const tx *e, tv *out)
{
    int rc;
    tv a, b;
    memset(out, 0, sizeof(*out));
    switch (e->kind) {
    case TX_STR:
        out->t = TV_STR;
        out->u.s = e->u.str.s;
        out->len = e->u.str.len;
        return 0;
    case TX_NUM:
        out->t = TV_NUM;
        out->u.n = e->u.num;
        return 0;
    case TX_BOOL:
        out->t = TV_BOOL;
        out->u.b = e->u.b;
        return 0;
    case TX_NONE:
        out->t = TV_NULL;
        return 0;
    case TX_NAME: {
        const char *nm = e->u.str.s;
        tvar *v = var_find(r, nm);
        if (v != NULL) {
            *out = v->v;
            return 0;
        }
        if (e->u.str.len == 1 && nm[0] == '_') {
            out->t = TV_ROOT;
            return 0;
        }
        tv root;
        memset(&root, 0, sizeof(root));
        root.t = TV_ROOT;
        return vp__render_member(r, &root, nm, e->u.str.len, out, e->off);
    }
    case TX_ATTR:
        if ((rc = eval(r, e->u.attr.obj, &a)) != 0)
            return rc;
        return vp__render_member(r, &a, e->u.attr.name, e->u.attr.len, out, e->off);
    case TX_INDEX: {
        if ((rc = eval(r, e->u.bin.a, &a)) != 0 || (rc = eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        if (b.secret)
            return vp__render_fail(r, e->u.bin.b->off, VP_EINVAL,
                                   "a secret value cannot be used as an index");
        char kb[40];
        size_t kl;
        const char *k = prop_key(r, &b, kb, &kl);
        return vp__render_member(r, &a, k, kl, out, e->off);
    }
    case TX_FILTER: {
        tv args[2];
        if ((rc = eval(r, e->u.filt.arg0, &a)) != 0)
            return rc;
        for (int i = 0; i < e->nargs; i++)
            if ((rc = eval(r, e->u.filt.args[i], &args[i])) != 0)
                return rc;
        return vp__tmpl_filter(r, e, &a, args, out);
    }
    case TX_NOT:
        if ((rc = eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        out->t = TV_BOOL;
        out->u.b = !vp__tv_truthy(&a);
        return 0;
    case TX_NEG:
    case TX_POS:
        if ((rc = eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        out->t = TV_NUM;
        out->u.n = vp__tv_tonumber(&a);
        if (e->kind == TX_NEG)
            out->u.n = -out->u.n;
        out->secret = a.secret;
        return 0;
    case TX_AND: /* JS && / ||: the deciding operand itself */
        if ((rc = eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        if (!vp__tv_truthy(&a)) {
            *out = a;
            return 0;
        }
        return eval(r, e->u.bin.b, out);
    case TX_OR:
        if ((rc = eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        if (vp__tv_truthy(&a)) {
            *out = a;
            return 0;
        }
        return eval(r, e->u.bin.b, out);
    case TX_CMP:
        if ((rc = eval(r, e->u.bin.a, &a)) != 0 || (rc = eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        out->t = TV_BOOL;
        switch (e->op) {
        case OP_EQ:
            out->u.b = vp__tv_equal(&a, &b, 0);
            break;
        case OP_NE:
            out->u.b = !vp__tv_equal(&a, &b, 0);
            break;
        case OP_SEQ:
            out->u.b = vp__tv_equal(&a, &b, 1);
            break;
        case OP_SNE:
            out->u.b = !vp__tv_equal(&a, &b, 1);
            break;
        default:
            out->u.b = vp__tv_compare(&a, &b, e->op);
        }
        return 0;
    case TX_IN: {
        if ((rc = eval(r, e->u.bin.a, &a)) != 0 || (rc = eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        int res = 0;
        if ((rc = eval_in(r, e, &a, &b, &res)) != 0)
            return rc;
        out->t = TV_BOOL;
        out->u.b = e->op ? !res : res;
        return 0;
    }
    case TX_ARITH:
        if ((rc = eval(r, e->u.bin.a, &a)) != 0 || (rc = eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        return eval_arith(r, e, &a, &b, out);
    case TX_CONCAT: /* JS string concatenation: undefined and null spell themselves */
        if ((rc = eval(r, e->u.bin.a, &a)) != 0 || (rc = eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        if ((rc = vp__tv_append_string(r, &a, &r->tmp, e->off)) != 0 ||
            (rc = vp__tv_append_string(r, &b, &r->tmp, e->off)) != 0)
            return rc;
        return vp__tv_from_buf(r, &r->tmp, a.secret | b.secret, out);
    default:
        return vp__render_fail(r, e->off, VP_EINTERNAL, "unknown expression node");
    }
}

/* ---- vault tag: references ------------------------------------------------------------------ */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* Dedup by id and record the splice point. Takes ownership of *ref's strings. */
static int add_ref(vp__render *r, vp_template_ref *ref, size_t off)
{
    if (r->hcap == 0 || r->nrefs * 2 >= r->hcap) {
        size_t nc = r->hcap ? r->hcap * 2 : 64;
        uint32_t *nh = calloc(nc, sizeof(*nh));
        if (nh == NULL)
            goto nomem;
        for (size_t i = 0; i < r->nrefs; i++) {
            size_t h = (size_t)fnv1a(r->refs[i].id) & (nc - 1);
            while (nh[h] != 0)
                h = (h + 1) & (nc - 1);
            nh[h] = (uint32_t)(i + 1);
        }
        free(r->hidx);
        r->hidx = nh;
        r->hcap = nc;
    }
    size_t h = (size_t)fnv1a(ref->id) & (r->hcap - 1);
    uint32_t idx = 0;
    while (r->hidx[h] != 0) {
        if (strcmp(r->refs[r->hidx[h] - 1].id, ref->id) == 0) {
            idx = r->hidx[h];
            break;
        }
        h = (h + 1) & (r->hcap - 1);
    }
    if (idx != 0) {
        vp__template_ref_clear(ref);
    } else {
        if (r->nrefs >= r->lim.max_refs) {
            vp__template_ref_clear(ref);
            return vp__render_fail(r, off, VP_ELIMIT, "more than %zu external references",
                                   r->lim.max_refs);
        }
        if (r->nrefs == r->caprefs) {
            size_t nc = r->caprefs ? r->caprefs * 2 : 8;
            vp_template_ref *nr = realloc(r->refs, nc * sizeof(*nr));
            if (nr == NULL)
                goto nomem;
            r->refs = nr;
            r->caprefs = nc;
        }
        r->refs[r->nrefs++] = *ref;
        r->hidx[h] = (uint32_t)r->nrefs;
        idx = (uint32_t)r->nrefs;
    }
    if (r->nsp == r->capsp) {
        if (r->capsp >= r->lim.max_steps)
            return vp__render_fail(r, off, VP_ELIMIT, "too many vault tags rendered");
        size_t nc = r->capsp ? r->capsp * 2 : 16;
        tsplice *ns = realloc(r->sp, nc * sizeof(*ns));
        if (ns == NULL)
            return VP_ENOMEM;
        r->sp = ns;
        r->capsp = nc;
    }
    r->sp[r->nsp].off = r->out.len;
    r->sp[r->nsp].ref = idx - 1;
    r->sp[r->nsp].src_off = (uint32_t)off;
    r->nsp++;
    return 0;
nomem:
    vp__template_ref_clear(ref);
    return VP_ENOMEM;
}

/* Line/column of a source offset (for vp_template_ref). */
static void line_col(const vp__render *r, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off && i < r->t->len; i++) {
        if (r->t->src[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)r->t->src[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int do_vault(vp__render *r, const tn *nd)
{
    tv args[3];
    int rc;
    for (int i = 0; i < nd->u.vault.nargs; i++) {
        const tx *a = nd->u.vault.args[i];
        if ((rc = eval(r, a, &args[i])) != 0)
            return rc;
        if (args[i].secret)
            return vp__render_fail(r, a->off, VP_EINVAL,
                                   "vault tag arguments cannot come from secret values");
        if (args[i].t != TV_STR)
            return vp__render_fail(r, a->off, VP_EINVAL, "vault tag argument %d must be a string",
                                   i + 1);
    }
    vp_template_ref ref;
    memset(&ref, 0, sizeof(ref));
    if (nd->u.vault.nargs == 1)
        rc = vp__tmpl_ref_uri(r, args[0].u.s, args[0].len, &ref, nd->u.vault.args[0]->off);
    else
        rc = vp__tmpl_ref_tag3(r, args, &ref, nd->off);
    if (rc != 0)
        return rc;
    line_col(r, nd->off, &ref.line, &ref.column);
    return add_ref(r, &ref, nd->off);
}

/* ---- statements ----------------------------------------------------------------------------- */

static int run_nodes(vp__render *r, const tn *nd);

static int emit_value(vp__render *r, const tx *e, const tv *v)
{
    if (v->t == TV_UNDEF || v->t == TV_NULL) {
        if (r->flags & VP_TMPL_UNDEFINED_EMPTY)
            return 0;
        return vp__render_fail(r, e->off, VP_EINVAL, "'%.*s' is %s", expr_text(r, e),
                               r->t->src + e->off, v->t == TV_NULL ? "null" : "undefined");
    }
    if (v->secret && r->mode == VP_RENDER_PREVIEW)
        return buf_put(r, &r->out, VP_TMPL_MASK, sizeof(VP_TMPL_MASK) - 1, e->off);
    if (v->t == TV_VAULT)
        return vp__render_fail(r, e->off, VP_EINVAL, "'%.*s' is the local vault, not a value",
                               expr_text(r, e), r->t->src + e->off);
    return vp__tv_append_string(r, v, &r->out, e->off);
}

static int step(vp__render *r, size_t off)
{
    if (++r->steps > r->lim.max_steps)
        return vp__render_fail(r, off, VP_ELIMIT, "more than %zu loop iterations",
                               r->lim.max_steps);
    return 0;
}

static int run_for(vp__render *r, const tn *nd)
{
    tv it;
    int rc = eval(r, nd->u.fr.iter, &it);
    if (rc != 0)
        return rc;
    size_t base = r->nvars;
    tmpl_loop loop = {0, 0};
    tv lv;
    memset(&lv, 0, sizeof(lv));
    lv.t = TV_LOOP;
    lv.u.loop = &loop;
    tv none;
    memset(&none, 0, sizeof(none));
    size_t iterations = 0;
    if (it.t == TV_VAULT)
        return vp__render_fail(r, nd->u.fr.iter->off, VP_EINVAL,
                               "the local vault cannot be iterated");
    if (vp__tv_truthy(&it)) {
        json_object *j = NULL;
        if (it.t == TV_ROOT)
            j = r->root;
        else if (it.t == TV_JSON)
            j = it.u.j;
        int is_arr = j != NULL && json_object_get_type(j) == json_type_array;
        int is_obj = j != NULL && json_object_get_type(j) == json_type_object;
        if ((rc = var_push(r, "loop", &lv, nd->off)) != 0 ||
            (rc = var_push(r, nd->u.fr.k, &none, nd->off)) != 0 ||
            (nd->u.fr.v && (rc = var_push(r, nd->u.fr.v, &none, nd->off)) != 0))
            goto out;
        tvar *vk = &r->vars[base + 1];
        if (is_arr) {
            loop.length = json_object_array_length(j);
            for (size_t i = 0; i < loop.length; i++) {
                if ((rc = step(r, nd->off)) != 0)
                    goto out;
                tv el = vp__tv_from_json(json_object_array_get_idx(j, i));
                el.secret = it.secret;
                loop.index0 = i;
                vk = &r->vars[base + 1];
                if (nd->u.fr.v) {
                    tv k, v;
                    if ((rc = vp__render_member(r, &el, "0", 1, &k, nd->off)) != 0 ||
                        (rc = vp__render_member(r, &el, "1", 1, &v, nd->off)) != 0)
                        goto out;
                    vk->v = k;
                    r->vars[base + 2].v = v;
                } else {
                    vk->v = el;
                }
                if ((rc = run_nodes(r, nd->u.fr.body)) != 0)
                    goto out;
                iterations++;
            }
        } else if (is_obj && nd->u.fr.v) {
            size_t n = (size_t)json_object_object_length(j);
            const char **keys = vp__arena_alloc(&r->scratch, (n ? n : 1) * sizeof(char *));
            if (keys == NULL) {
                rc = VP_ENOMEM;
                goto out;
            }
            vp__json_js_keys(j, keys, n);
            loop.length = n;
            for (size_t i = 0; i < n; i++) {
                if ((rc = step(r, nd->off)) != 0)
                    goto out;
                loop.index0 = i;
                json_object *m = NULL;
                json_object_object_get_ex(j, keys[i], &m);
                tv k;
                memset(&k, 0, sizeof(k));
                k.t = TV_STR;
                k.u.s = keys[i];
                k.len = (uint32_t)strlen(keys[i]);
                tv v = vp__tv_from_json(m);
                v.secret = it.secret;
                r->vars[base + 1].v = k;
                r->vars[base + 2].v = v;
                if ((rc = run_nodes(r, nd->u.fr.body)) != 0)
                    goto out;
                iterations++;
            }
        } else if (it.t == TV_STR && !nd->u.fr.v) {
            loop.length = vp__utf16_len(it.u.s, it.len); /* approximation: code points */
            size_t cps = 0;
            for (size_t i = 0; i < it.len; i++)
                if (((unsigned char)it.u.s[i] & 0xC0) != 0x80)
                    cps++;
            loop.length = cps;
            size_t i = 0, ci = 0;
            while (i < it.len) {
                if ((rc = step(r, nd->off)) != 0)
                    goto out;
                size_t j2 = i + 1;
                while (j2 < it.len && ((unsigned char)it.u.s[j2] & 0xC0) == 0x80)
                    j2++;
                tv c;
                memset(&c, 0, sizeof(c));
                c.t = TV_STR;
                c.u.s = it.u.s + i;
                c.len = (uint32_t)(j2 - i);
                c.secret = it.secret;
                loop.index0 = ci++;
                r->vars[base + 1].v = c;
                if ((rc = run_nodes(r, nd->u.fr.body)) != 0)
                    goto out;
                iterations++;
                i = j2;
            }
        }
    }
    r->nvars = base;
    if (iterations == 0 && nd->u.fr.els != NULL)
        return run_nodes(r, nd->u.fr.els);
    return 0;
out:
    r->nvars = base;
    return rc;
}

static int run_nodes(vp__render *r, const tn *nd)
{
    int rc;
    for (; nd != NULL; nd = nd->next) {
        switch (nd->kind) {
        case TN_TEXT:
            if ((rc = buf_put(r, &r->out, r->t->src + nd->u.text.off, nd->u.text.len, nd->off)) !=
                0)
                return rc;
            break;
        case TN_OUTPUT: {
            vp__arena_mark m = vp__arena_mark_get(&r->scratch);
            tv v;
            rc = eval(r, nd->u.expr, &v);
            if (rc == 0)
                rc = emit_value(r, nd->u.expr, &v);
            vp__arena_release(&r->scratch, m);
            if (rc != 0)
                return rc;
            break;
        }
        case TN_IF: {
            vp__arena_mark m = vp__arena_mark_get(&r->scratch);
            tv v;
            rc = eval(r, nd->u.ifs.cond, &v);
            vp__arena_release(&r->scratch, m);
            if (rc != 0)
                return rc;
            if (vp__tv_truthy(&v))
                rc = run_nodes(r, nd->u.ifs.body);
            else
                rc = run_nodes(r, nd->u.ifs.els);
            if (rc != 0)
                return rc;
            break;
        }
        case TN_FOR:
            if ((rc = run_for(r, nd)) != 0)
                return rc;
            break;
        case TN_SET: {
            tv v;
            if ((rc = eval(r, nd->u.set.val, &v)) != 0)
                return rc;
            tvar *var = var_find(r, nd->u.set.name);
            if (var != NULL)
                var->v = v;
            else if ((rc = var_push(r, nd->u.set.name, &v, nd->off)) != 0)
                return rc;
            break;
        }
        case TN_VAULT:
            if ((rc = do_vault(r, nd)) != 0)
                return rc;
            break;
        default:
            return vp__render_fail(r, nd->off, VP_EINTERNAL, "unknown node");
        }
    }
    return 0;
}

int vp__render_run(vp__render *r)
{
    r->scratch.secure = 1;
    int rc = vp__buf_reserve(&r->out, r->t->len + 64 < r->lim.max_output ? r->t->len + 64 : 64, 1);
    if (rc != 0)
        return rc;
    rc = run_nodes(r, r->t->root);
    vp_buf_free(&r->tmp);
    return rc;
}

void vp__render_clear(vp__render *r)
{
    vp_buf_free(&r->out);
    vp_buf_free(&r->tmp);
    vp__arena_free(&r->scratch);
    free(r->vars);
    r->vars = NULL;
    r->nvars = r->capvars = 0;
    for (size_t i = 0; i < r->nvc; i++) {
        free(r->vc[i].name);
        vp_buf_free(&r->vc[i].val);
    }
    free(r->vc);
    r->vc = NULL;
    r->nvc = r->capvc = 0;
    for (size_t i = 0; i < r->nrefs; i++)
        vp__template_ref_clear(&r->refs[i]);
    free(r->refs);
    r->refs = NULL;
    r->nrefs = r->caprefs = 0;
    free(r->hidx);
    r->hidx = NULL;
    r->hcap = 0;
    free(r->sp);
    r->sp = NULL;
    r->nsp = r->capsp = 0;
}
