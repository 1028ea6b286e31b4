/*
 * tmpl_eval - evaluation of expressions for the renderer: variables (`set`, `for` bindings,
 * `loop`), environment members with JavaScript property semantics, the local vault (looked up
 * once per name per render through the vp_vault_source, cached in secure memory, tainting every
 * derived value so PREVIEW can mask it), operators with JavaScript semantics, and filters
 * (tmpl_filters.c). No value is ever formatted into an error message.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "secmem.h"
#include "tmpl_int.h"
#include "vaultplug/error.h"
#include "vaultplug/vault.h"

#define MAX_VARS 100000u

/* ---- variables and lookups ------------------------------------------------------------------ */

tvar *vp__var_find(vp__render *r, const char *name)
{
    for (size_t i = r->nvars; i > 0; i--) {
        tvar *v = &r->vars[i - 1];
        if (v->name == name)
            return v;
    }
    return NULL;
}

int vp__var_push(vp__render *r, const char *name, const tv *val, size_t off)
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
    if (r->nvars > r->varshw)
        r->varshw = r->nvars;
    return 0;
}

static int is_vault_name(const char *name, size_t len)
{
    return (len == 5 && memcmp(name, "vault", 5) == 0) ||
           (len == 16 && memcmp(name, "__insomnia_vault", 16) == 0);
}

/* Value of local-vault secret `name` (cached for the render). */
int vp__vault_get(vp__render *r, const char *name, size_t len, tv *out, size_t off)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < r->nvc; i++) {
        tvault_entry *e = &r->vc[i];
        const char *en = e->name ? e->name : e->sname;
        if (strlen(en) == len && memcmp(en, name, len) == 0) {
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
    if (r->nvc >= r->nvcbuf) /* else: a wiped buffer left by an earlier render */
        memset(&e->val, 0, sizeof(e->val));
    e->name = NULL;
    e->found = 0;
    /* names are short: the entry's own buffer saves a malloc per name per render (name stays
     * NULL then: entries move when r->vc grows) */
    char *nm = e->sname;
    if (len >= sizeof(e->sname)) {
        if ((nm = e->name = malloc(len + 1)) == NULL)
            return VP_ENOMEM;
    }
    memcpy(nm, name, len);
    nm[len] = '\0';
    r->nvc++;
    if (r->nvcbuf < r->nvc)
        r->nvcbuf = r->nvc;
    vp_error le;
    le.code = 0;
    le.message[0] = '\0';
    int rc = r->vault->lookup(r->vault->ud, nm, &e->val, &le);
    if (rc == VP_ENOTFOUND) {
        vp__buf_reset(&e->val);
        return 0;
    }
    if (rc != 0) {
        vp__buf_reset(&e->val);
        return vp__render_fail(r, off, rc, "local vault lookup of '%s' failed: %s", nm,
                               le.message[0] ? le.message : vp_strerror(rc));
    }
    e->found = 1;
    out->t = TV_STR;
    out->u.s = e->val.data ? e->val.data : "";
    out->len = (uint32_t)e->val.len;
    out->secret = 1;
    return 0;
}

/* Whether node e's environment lookup of name can go through the memo: a slot, a memo, an
 * environment, and a plain key (NUL-terminated, not the reserved vault names). */
static int memo_usable(const vp__render *r, const tx *e, const char *name, size_t len)
{
    return e->memo != 0 && r->memo != NULL && e->memo <= r->capmemo && r->root != NULL &&
           name[len] == '\0' && !is_vault_name(name, len);
}

/* Member name of environment object parent, as vp__render_member finds it, through node e's
 * memo slot: the json-c hash lookup runs once per environment, not once per render. */
static int memo_member(vp__render *r, const tx *e, json_object *parent, const char *name, tv *out)
{
    tmemo *m = &r->memo[e->memo - 1];
    if (m->gen != r->env_gen || m->parent != parent) {
        m->fullgen = 0; /* the caller says again whether this is the unshadowed value */
        json_object *j = NULL;
        if (json_object_object_get_ex(parent, name, &j))
            m->val = vp__tv_from_json(j);
        else
            memset(&m->val, 0, sizeof(m->val));
        m->parent = parent;
        m->gen = r->env_gen;
    }
    *out = m->val;
    return 0;
}

/* Whether a variable binds the root name of envpath node e. */
int vp__path_shadowed(vp__render *r, const tx *e)
{
    while (e->kind == TX_ATTR)
        e = e->u.attr.obj;
    return vp__var_find(r, e->u.str.s) != NULL;
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
        return vp__vault_get(r, k, len, out, off);
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
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(k, lit, len) == 0)
        if (IS("index"))
            out->u.n = (double)(l->index0 + 1);
        else if (IS("index0"))
            out->u.n = (double)l->index0;
        else if (IS("revindex"))
            out->u.n = (double)(l->length - l->index0);
        else if (IS("revindex0"))
            out->u.n = (double)(l->length - l->index0 - 1);
        else if (IS("length"))
            out->u.n = (double)l->length;
        else if (IS("first")) {
            out->t = TV_BOOL;
            out->u.b = l->index0 == 0;
        } else if (IS("last")) {
            out->t = TV_BOOL;
            out->u.b = l->index0 + 1 == l->length;
        } else
            out->t = TV_UNDEF;
#undef IS
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

/* The cases of vp__tmpl_eval with large locals live in functions of their own (not inlined),
 * so the evaluator's own frame stays small: it recurses once per operation of a chain. */
__attribute__((noinline)) static int eval_in(vp__render *r, const tx *e, const tv *key,
                                             const tv *hay, int *res)
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

/* Math.pow (Nunjucks compiles `**` to it). C's pow differs from ECMAScript only where the
 * exponent is NaN (pow(1, NaN) is 1 in C) or infinite with |base| 1 (1 in C): both NaN in JS.
 * `//` is Math.floor(x / y) and `%` is IEEE fmod in both languages. */
static double js_pow(double x, double y)
{
    if (isnan(y) || (isinf(y) && fabs(x) == 1))
        return NAN;
    return pow(x, y);
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
        z = floor(x / y);
        break;
    case OP_MOD:
        z = fmod(x, y);
        break;
    default:
        z = js_pow(x, y);
        break;
    }
    out->t = TV_NUM;
    out->u.n = z;
    out->secret = a->secret | b->secret;
    return 0;
}

/* a[b] with a evaluated (the evaluator recurses along a chain through itself only; b is inside
 * brackets, so bounded by the nesting limit). */
__attribute__((noinline)) static int eval_index(vp__render *r, const tx *e, const tv *a, tv *out)
{
    int rc;
    tv b;
    if ((rc = vp__tmpl_eval(r, e->u.bin.b, &b)) != 0)
        return rc;
    if (b.secret)
        return vp__render_fail(r, e->u.bin.b->off, VP_EINVAL,
                               "a secret value cannot be used as an index");
    char kb[40];
    size_t kl;
    const char *k = prop_key(r, &b, kb, &kl);
    return vp__render_member(r, a, k, kl, out, e->off);
}

/* Filter e applied to a (its arguments are inside parentheses: bounded by the nesting limit). */
__attribute__((noinline)) static int eval_filter(vp__render *r, const tx *e, const tv *a, tv *out)
{
    int rc;
    tv args[2];
    for (int i = 0; i < e->nargs; i++)
        if ((rc = vp__tmpl_eval(r, e->u.filt.args[i], &args[i])) != 0)
            return rc;
    return vp__tmpl_filter(r, e, a, args, out);
}

/* A bare name: a template variable, `_` (the root), `vault`, or a member of the root (memoised
 * per environment when no variable shadows it). */
static int eval_name(vp__render *r, const tx *e, tv *out)
{
    const char *nm = e->u.str.s;
    tvar *v = vp__var_find(r, nm);
    if (v != NULL) {
        *out = v->v;
        return 0;
    }
    if (e->u.str.len == 1 && nm[0] == '_') {
        out->t = TV_ROOT;
        return 0;
    }
    if (e->envpath == TXP_VAULT) {
        out->t = TV_VAULT;
        return 0;
    }
    if (memo_usable(r, e, nm, e->u.str.len)) {
        memo_member(r, e, r->root, nm, out);
        r->memo[e->memo - 1].fullgen = r->env_gen; /* unshadowed: the variables said no */
        return 0;
    }
    tv root;
    memset(&root, 0, sizeof(root));
    root.t = TV_ROOT;
    return vp__render_member(r, &root, nm, e->u.str.len, out, e->off);
}

/* obj.name: a local-vault value, a plain environment path (memoised whole), or a member. */
static int eval_attr(vp__render *r, const tx *e, tv *out)
{
    int rc;
    tv a;
    if (e->envpath == TXP_VAULT_MEMBER && (r->nvars == 0 || !vp__path_shadowed(r, e)))
        return vp__vault_get(r, e->u.attr.name, e->u.attr.len, out, e->off);
    if (e->envpath == TXP_ENV && r->memo != NULL && e->memo <= r->capmemo && r->env_gen != 0 &&
        (r->nvars == 0 || !vp__path_shadowed(r, e))) {
        /* a plain environment path: its value is memoised whole for this environment */
        tmemo *m = &r->memo[e->memo - 1];
        if (m->fullgen == r->env_gen) {
            *out = m->val;
            return 0;
        }
        if ((rc = vp__tmpl_eval(r, e->u.attr.obj, &a)) != 0)
            return rc;
        if (a.t == TV_JSON && json_object_get_type(a.u.j) == json_type_object) {
            memo_member(r, e, a.u.j, e->u.attr.name, out);
            m->fullgen = r->env_gen;
            return 0;
        }
        return vp__render_member(r, &a, e->u.attr.name, e->u.attr.len, out, e->off);
    }
    if ((rc = vp__tmpl_eval(r, e->u.attr.obj, &a)) != 0)
        return rc;
    if (memo_usable(r, e, e->u.attr.name, e->u.attr.len)) {
        if (a.t == TV_ROOT)
            return memo_member(r, e, r->root, e->u.attr.name, out);
        if (a.t == TV_JSON && json_object_get_type(a.u.j) == json_type_object)
            return memo_member(r, e, a.u.j, e->u.attr.name, out);
    }
    return vp__render_member(r, &a, e->u.attr.name, e->u.attr.len, out, e->off);
}

/* ==, !=, ===, !== and the orderings, with JavaScript's semantics. */
static int eval_cmp(int op, const tv *a, const tv *b)
{
    switch (op) {
    case OP_EQ:
        return vp__tv_equal(a, b, 0);
    case OP_NE:
        return !vp__tv_equal(a, b, 0);
    case OP_SEQ:
        return vp__tv_equal(a, b, 1);
    case OP_SNE:
        return !vp__tv_equal(a, b, 1);
    default:
        return vp__tv_compare(a, b, op);
    }
}

int vp__tmpl_eval(vp__render *r, const tx *e, tv *out)
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
    case TX_NAME:
        return eval_name(r, e, out);
    case TX_ATTR:
        return eval_attr(r, e, out);
    case TX_INDEX:
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        return eval_index(r, e, &a, out);
    case TX_FILTER:
        if ((rc = vp__tmpl_eval(r, e->u.filt.arg0, &a)) != 0)
            return rc;
        return eval_filter(r, e, &a, out);
    case TX_NOT:
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        out->t = TV_BOOL;
        out->u.b = !vp__tv_truthy(&a);
        return 0;
    case TX_NEG:
    case TX_POS:
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        out->t = TV_NUM;
        out->u.n = vp__tv_tonumber(&a);
        if (e->kind == TX_NEG)
            out->u.n = -out->u.n;
        out->secret = a.secret;
        return 0;
    case TX_AND: /* JS && / ||: the deciding operand itself */
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        if (!vp__tv_truthy(&a)) {
            *out = a;
            return 0;
        }
        return vp__tmpl_eval(r, e->u.bin.b, out);
    case TX_OR:
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0)
            return rc;
        if (vp__tv_truthy(&a)) {
            *out = a;
            return 0;
        }
        return vp__tmpl_eval(r, e->u.bin.b, out);
    case TX_CMP:
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0 ||
            (rc = vp__tmpl_eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        out->t = TV_BOOL;
        out->u.b = eval_cmp(e->op, &a, &b);
        return 0;
    case TX_IN: {
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0 ||
            (rc = vp__tmpl_eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        int res = 0;
        if ((rc = eval_in(r, e, &a, &b, &res)) != 0)
            return rc;
        out->t = TV_BOOL;
        out->u.b = e->op ? !res : res;
        return 0;
    }
    case TX_ARITH:
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0 ||
            (rc = vp__tmpl_eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        return eval_arith(r, e, &a, &b, out);
    case TX_CONCAT: /* JS string concatenation: undefined and null spell themselves */
        if ((rc = vp__tmpl_eval(r, e->u.bin.a, &a)) != 0 ||
            (rc = vp__tmpl_eval(r, e->u.bin.b, &b)) != 0)
            return rc;
        if ((rc = vp__tv_append_string(r, &a, &r->tmp, e->off)) != 0 ||
            (rc = vp__tv_append_string(r, &b, &r->tmp, e->off)) != 0)
            return rc;
        return vp__tv_from_buf(r, &r->tmp, a.secret | b.secret, out);
    default:
        return vp__render_fail(r, e->off, VP_EINTERNAL, "unknown expression node");
    }
}
