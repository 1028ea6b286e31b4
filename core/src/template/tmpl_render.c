/*
 * tmpl_render - execution of a parsed template: output, control flow (tmpl_eval.c evaluates
 * the expressions), and the collection of external references (`{% vault %}` tags).
 *
 * The renderer never does I/O. A vault tag records its reference (deduplicated by canonical id)
 * and a splice point in the output; template.c resolves all references in one batch and splices
 * the values in. Local-vault values come through the vp_vault_source callback (cached per
 * render, in secure memory) and taint every value derived from them, which PREVIEW masks.
 *
 * Output, scratch strings and the stringification buffer are secure memory; no value is ever
 * formatted into an error message (messages name template text, never data).
 */
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
    /* the output may also hold the gaps left for external values (not counted) */
    if (b->len + n > (b == &r->out ? r->outlim : r->lim.max_output))
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

/* buf_put into the output, the common case inline: room in the buffer, under the limit. */
static inline int out_put(vp__render *r, const char *p, size_t n, size_t off)
{
    vp_buf *b = &r->out;
    if (b->cap - b->len > n && b->len + n <= r->outlim) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_put(r, b, p, n, off);
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
        return vp__render_fail(r, 0, VP_ELIMIT, "strings made while rendering exceed %zu bytes",
                               r->lim.max_output * 2 + 65536);
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
static char *dup_str(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Owned (malloc) copy of a reference parsed at parse time. */
static int ref_dup(const vp_template_ref *pre, vp_template_ref *ref)
{
    *ref = *pre;
    ref->id = dup_str(pre->id);
    ref->uri = dup_str(pre->uri);
    ref->scheme = dup_str(pre->scheme);
    ref->credential = dup_str(pre->credential);
    ref->json_key = dup_str(pre->json_key);
    ref->config = dup_str(pre->config);
    if (ref->id == NULL || ref->uri == NULL || ref->scheme == NULL || ref->credential == NULL ||
        (pre->json_key != NULL && ref->json_key == NULL) ||
        (pre->config != NULL && ref->config == NULL)) {
        vp__template_ref_clear(ref);
        return VP_ENOMEM;
    }
    return 0;
}

/* Below this many distinct references a linear scan beats hashing (and needs no table). */
#define REF_LINEAR 16

static int hidx_build(vp__render *r, size_t nc)
{
    uint32_t *nh = calloc(nc, sizeof(*nh));
    if (nh == NULL)
        return VP_ENOMEM;
    for (size_t i = 0; i < r->nrefs; i++) {
        size_t h = (size_t)fnv1a(r->refs[i].id) & (nc - 1);
        while (nh[h] != 0)
            h = (h + 1) & (nc - 1);
        nh[h] = (uint32_t)(i + 1);
    }
    free(r->hidx);
    r->hidx = nh;
    r->hcap = nc;
    return 0;
}

/* Dedup by id and record the splice point. Takes ownership of *ref's strings; or, with pre (a
 * reference parsed at parse time; ref is then NULL or zeroed), records pre's strings borrowed from
 * the template (no copy: the template outlives the render; vp__render_own_refs copies them when the
 * list leaves the render). */
static int add_ref(vp__render *r, vp_template_ref *ref, const vp_template_ref *pre, size_t off)
{
    const char *id = pre != NULL ? pre->id : ref->id;
    uint32_t idx = 0;
    size_t h = 0;
    if (r->nrefs < REF_LINEAR && r->hcap == 0) {
        for (size_t i = 0; i < r->nrefs; i++) {
            if (r->refs[i].id == id || strcmp(r->refs[i].id, id) == 0) {
                idx = (uint32_t)(i + 1);
                break;
            }
        }
    } else {
        if (r->hcap == 0 || r->nrefs * 2 >= r->hcap) {
            if (hidx_build(r, r->hcap ? r->hcap * 2 : 64) != 0)
                goto nomem;
        }
        h = (size_t)fnv1a(id) & (r->hcap - 1);
        while (r->hidx[h] != 0) {
            if (strcmp(r->refs[r->hidx[h] - 1].id, id) == 0) {
                idx = r->hidx[h];
                break;
            }
            h = (h + 1) & (r->hcap - 1);
        }
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
            uint8_t *no = realloc(r->owned, nc);
            if (no == NULL)
                goto nomem;
            r->owned = no;
            r->caprefs = nc;
        }
        r->owned[r->nrefs] = pre == NULL;
        r->refs[r->nrefs++] = pre != NULL ? *pre : *ref;
        idx = (uint32_t)r->nrefs;
        if (r->hcap != 0)
            r->hidx[h] = idx;
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
    /* Leave a gap of the length this splice's value had in the template's last render: when
     * the values keep their lengths (the usual case), template.c copies them in place instead
     * of moving the output around them. The gap is zeroes, and does not count as output. */
    tsplice *sp = &r->sp[r->nsp];
    uint32_t gap = r->nsp < r->npred ? sp->vlen : 0;
    if (gap > 0) {
        int rc = r->out.cap - r->out.len > gap ? 0 : vp__buf_reserve(&r->out, gap, 1);
        if (rc != 0)
            return rc == VP_ELIMIT ? vp__render_fail(r, off, rc, "output too large") : rc;
        memset(r->out.data + r->out.len, 0, (size_t)gap + 1);
        r->out.len += gap;
        r->outlim += gap;
    }
    sp->off = r->out.len - gap;
    sp->ref = idx - 1;
    sp->src_off = (uint32_t)off;
    sp->gap = gap;
    sp->vlen = 0;
    r->nsp++;
    return 0;
nomem:
    vp__template_ref_clear(ref);
    return VP_ENOMEM;
}

int vp__render_own_refs(vp__render *r)
{
    for (size_t i = 0; i < r->nrefs; i++) {
        if (r->owned[i])
            continue;
        vp_template_ref copy;
        if (ref_dup(&r->refs[i], &copy) != 0)
            return VP_ENOMEM;
        r->refs[i] = copy;
        r->owned[i] = 1;
    }
    return 0;
}

/* A vault tag whose reference is not known at parse time (not a literal URI). Not inlined: its
 * locals would sit in every run_nodes frame, one per level of block nesting. */
__attribute__((noinline)) static int do_vault(vp__render *r, const tn *nd)
{
    tv args[3];
    int rc;
    for (int i = 0; i < nd->u.vault.nargs; i++) {
        const tx *a = nd->u.vault.args[i];
        if ((rc = vp__tmpl_eval(r, a, &args[i])) != 0)
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
    ref.line = nd->u.vault.line;
    ref.column = nd->u.vault.col;
    return add_ref(r, &ref, NULL, nd->off);
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

/* The loop variables of a for tag over it: loop, then k and v (v only in `for k, v in`), at
 * r->vars[base], [base + 1] and [base + 2]. Each body run counts in *iterations. */
typedef struct for_run {
    const tn *nd;
    const tv *it;
    size_t base;
    tmpl_loop *loop;
    size_t *iterations;
} for_run;

/* for x in array, or for a, b in array of pairs. */
static int for_array(vp__render *r, const for_run *f, json_object *j)
{
    const tn *nd = f->nd;
    int rc;
    f->loop->length = json_object_array_length(j);
    for (size_t i = 0; i < f->loop->length; i++) {
        if ((rc = step(r, nd->off)) != 0)
            return rc;
        tv el = vp__tv_from_json(json_object_array_get_idx(j, i));
        el.secret = f->it->secret;
        f->loop->index0 = i;
        tvar *vk = &r->vars[f->base + 1];
        if (nd->u.fr.v) {
            tv k, v;
            if ((rc = vp__render_member(r, &el, "0", 1, &k, nd->off)) != 0 ||
                (rc = vp__render_member(r, &el, "1", 1, &v, nd->off)) != 0)
                return rc;
            vk->v = k;
            r->vars[f->base + 2].v = v;
        } else {
            vk->v = el;
        }
        if ((rc = run_nodes(r, nd->u.fr.body)) != 0)
            return rc;
        (*f->iterations)++;
    }
    return 0;
}

/* for k, v in object, in JavaScript's key order. */
static int for_object(vp__render *r, const for_run *f, json_object *j)
{
    const tn *nd = f->nd;
    int rc;
    size_t n = (size_t)json_object_object_length(j);
    const char **keys = vp__arena_alloc(&r->scratch, (n ? n : 1) * sizeof(char *));
    if (keys == NULL)
        return VP_ENOMEM;
    vp__json_js_keys(j, keys, n);
    f->loop->length = n;
    for (size_t i = 0; i < n; i++) {
        if ((rc = step(r, nd->off)) != 0)
            return rc;
        f->loop->index0 = i;
        json_object *m = NULL;
        json_object_object_get_ex(j, keys[i], &m);
        tv k;
        memset(&k, 0, sizeof(k));
        k.t = TV_STR;
        k.u.s = keys[i];
        k.len = (uint32_t)strlen(keys[i]);
        tv v = vp__tv_from_json(m);
        v.secret = f->it->secret;
        r->vars[f->base + 1].v = k;
        r->vars[f->base + 2].v = v;
        if ((rc = run_nodes(r, nd->u.fr.body)) != 0)
            return rc;
        (*f->iterations)++;
    }
    return 0;
}

/* for c in string: one UTF-8 code point at a time (loop.length counts code points). */
static int for_string(vp__render *r, const for_run *f)
{
    const tv *it = f->it;
    int rc;
    size_t cps = 0;
    for (size_t i = 0; i < it->len; i++)
        if (((unsigned char)it->u.s[i] & 0xC0) != 0x80)
            cps++;
    f->loop->length = cps;
    size_t i = 0, ci = 0;
    while (i < it->len) {
        if ((rc = step(r, f->nd->off)) != 0)
            return rc;
        size_t j2 = i + 1;
        while (j2 < it->len && ((unsigned char)it->u.s[j2] & 0xC0) == 0x80)
            j2++;
        tv c;
        memset(&c, 0, sizeof(c));
        c.t = TV_STR;
        c.u.s = it->u.s + i;
        c.len = (uint32_t)(j2 - i);
        c.secret = it->secret;
        f->loop->index0 = ci++;
        r->vars[f->base + 1].v = c;
        if ((rc = run_nodes(r, f->nd->u.fr.body)) != 0)
            return rc;
        (*f->iterations)++;
        i = j2;
    }
    return 0;
}

static int run_for(vp__render *r, const tn *nd)
{
    tv it;
    int rc = vp__tmpl_eval(r, nd->u.fr.iter, &it);
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
        if ((rc = vp__var_push(r, vp__tmpl_loop, &lv, nd->off)) != 0 ||
            (rc = vp__var_push(r, nd->u.fr.k, &none, nd->off)) != 0 ||
            (nd->u.fr.v && (rc = vp__var_push(r, nd->u.fr.v, &none, nd->off)) != 0)) {
            r->nvars = base;
            return rc;
        }
        for_run f = {nd, &it, base, &loop, &iterations};
        if (is_arr)
            rc = for_array(r, &f, j);
        else if (is_obj && nd->u.fr.v)
            rc = for_object(r, &f, j);
        else if (it.t == TV_STR && !nd->u.fr.v)
            rc = for_string(r, &f);
    }
    r->nvars = base;
    if (rc != 0)
        return rc;
    if (iterations == 0 && nd->u.fr.els != NULL)
        return run_nodes(r, nd->u.fr.els);
    return 0;
}

static int run_nodes(vp__render *r, const tn *nd)
{
    int rc;
    for (; nd != NULL; nd = nd->next) {
        switch (nd->kind) {
        case TN_TEXT:
            if ((rc = out_put(r, r->t->src + nd->u.text.off, nd->u.text.len, nd->off)) != 0)
                return rc;
            break;
        case TN_OUTPUT: {
            const tx *e = nd->u.expr;
            if (e->envpath == TXP_ENV && e->memo <= r->capmemo && r->memo != NULL &&
                r->env_gen != 0 && (r->nvars == 0 || !vp__path_shadowed(r, e))) {
                /* an environment path whose value this environment has given before */
                const tmemo *mm = &r->memo[e->memo - 1];
                if (mm->fullgen == r->env_gen && mm->val.t == TV_STR) {
                    if ((rc = out_put(r, mm->val.u.s, mm->val.len, e->off)) != 0)
                        return rc;
                    break;
                }
            } else if (e->envpath == TXP_VAULT_MEMBER &&
                       (r->nvars == 0 || !vp__path_shadowed(r, e))) {
                /* `vault.name`: the value, or the mask in PREVIEW, straight from the cache */
                tv v;
                if ((rc = vp__vault_get(r, e->u.attr.name, e->u.attr.len, &v, e->off)) != 0)
                    return rc;
                if (v.t == TV_STR) {
                    if (r->mode == VP_RENDER_PREVIEW)
                        rc = out_put(r, VP_TMPL_MASK, sizeof(VP_TMPL_MASK) - 1, e->off);
                    else
                        rc = out_put(r, v.u.s, v.len, e->off);
                } else {
                    rc = emit_value(r, e, &v); /* undefined */
                }
                if (rc != 0)
                    return rc;
                break;
            }
            vp__arena_mark m = vp__arena_mark_get(&r->scratch);
            tv v;
            rc = vp__tmpl_eval(r, nd->u.expr, &v);
            if (rc == 0)
                rc = emit_value(r, nd->u.expr, &v);
            if (r->scratch.head != m.head || r->scratch.used != m.used) /* made strings */
                vp__arena_release(&r->scratch, m);
            if (rc != 0)
                return rc;
            break;
        }
        case TN_IF: {
            /* an else branch that is one if (an elif) is taken in this loop: elif chains of any
             * length cost no stack */
            const tn *c = nd, *next;
            for (;;) {
                vp__arena_mark m = vp__arena_mark_get(&r->scratch);
                tv v;
                rc = vp__tmpl_eval(r, c->u.ifs.cond, &v);
                vp__arena_release(&r->scratch, m);
                if (rc != 0)
                    return rc;
                int yes = vp__tv_truthy(&v);
                next = yes ? c->u.ifs.body : c->u.ifs.els;
                if (yes || next == NULL || next->kind != TN_IF || next->next != NULL)
                    break;
                c = next;
            }
            if ((rc = run_nodes(r, next)) != 0)
                return rc;
            break;
        }
        case TN_FOR:
            if ((rc = run_for(r, nd)) != 0)
                return rc;
            break;
        case TN_SET: {
            tv v;
            if ((rc = vp__tmpl_eval(r, nd->u.set.val, &v)) != 0)
                return rc;
            tvar *var = vp__var_find(r, nd->u.set.name);
            if (var != NULL)
                var->v = v;
            else if ((rc = vp__var_push(r, nd->u.set.name, &v, nd->off)) != 0)
                return rc;
            break;
        }
        case TN_VAULT:
            /* a literal URI was parsed at parse time (add_ref needs no reference of its own) */
            rc = nd->u.vault.pre != NULL ? add_ref(r, NULL, nd->u.vault.pre, nd->off)
                                         : do_vault(r, nd);
            if (rc != 0)
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
    /* the lookup memo: kept between renders (hits need the same environment generation); slots
     * are per node, so a memo last used by another template starts empty */
    int same = r->memo_for == r->t;
    if (!same) {
        if (r->memo != NULL) {
            size_t n = r->capmemo < r->t->nmemo ? r->capmemo : r->t->nmemo;
            memset(r->memo, 0, n * sizeof(*r->memo));
        }
        r->memo_for = r->t;
        r->npred = 0; /* the gap lengths were another template's */
    }
    /* Room for the output, exactly, so the buffer does not end up twice too big (its clean tail
     * is checked): what the last render made (gaps and all), also as a hint for a freshly
     * parsed template when that was about as big (the same template parsed again, usually),
     * else the template's size. */
    size_t want = r->t->len + 64 < r->lim.max_output ? r->t->len + 64 : 64;
    if (r->lastout > want && r->lastout <= r->lim.max_output &&
        (same || r->lastout <= 2 * want + 4096))
        want = r->lastout;
    if (same && r->lastout != 0 && r->out.cap > want + want / 4 + 4096)
        vp_buf_free(&r->out); /* far too big (a bigger output before): wiped, and made to fit */
    int rc = vp__buf_reserve_exact(&r->out, want, 1);
    if (rc != 0)
        return rc;
    r->outlim = r->lim.max_output;
    if (r->root != NULL && r->env_gen != 0 && r->t->nmemo > 0 && r->capmemo < r->t->nmemo) {
        free(r->memo);
        r->capmemo = 0;
        if ((r->memo = calloc(r->t->nmemo, sizeof(*r->memo))) != NULL)
            r->capmemo = r->t->nmemo;
    }
    return run_nodes(r, r->t->root);
}

/* Empty r for the next render: every value, variable and reference it holds is wiped or
 * freed; the storage (work arrays, the secure stringification buffer, the first scratch chunk,
 * the vault cache's value buffers) stays, wiped. */
static void render_empty(vp__render *r)
{
    if (r->out.data != NULL)
        vp_buf_free(&r->out); /* the output of a failed render (a successful one moved it out) */
    if (r->tmp.data != NULL)
        vp__buf_reset(&r->tmp);
    if (r->scratch.head != NULL)
        vp__arena_reset(&r->scratch);
    r->scratch.total = 0; /* also when every chunk was released: the next render starts at 0 */
    /* variables may hold numbers or booleans computed from secrets: wipe, do not just drop */
    if (r->vars != NULL && r->varshw > 0) /* also the slots of finished loops */
        sodium_memzero(r->vars, r->varshw * sizeof(*r->vars));
    r->nvars = r->varshw = 0;
    for (size_t i = 0; i < r->nvc; i++) {
        if (r->vc[i].name != NULL) { /* NULL when the name is in sname */
            free(r->vc[i].name);
            r->vc[i].name = NULL;
        }
        vp__buf_reset(&r->vc[i].val); /* wiped; the storage serves the next render */
    }
    r->nvc = 0;
    for (size_t i = 0; i < r->nrefs; i++)
        if (r->owned[i])
            vp__template_ref_clear(&r->refs[i]);
    r->nrefs = 0;
    if (r->hidx != NULL) {
        free(r->hidx);
        r->hidx = NULL;
        r->hcap = 0;
    }
    r->nsp = 0;
    r->steps = 0;
    /* the result values are freed (wiped) by template.c; the array holds no secrets then */
    r->root = NULL;
    r->env_gen = 0;
    r->vault = NULL;
    r->err = NULL;
}

/* Free a render state and everything it holds (wiping what is secure). */
static void render_destroy(vp__render *r)
{
    if (r == NULL)
        return;
    render_empty(r);
    vp_buf_free(&r->tmp);
    vp__arena_free(&r->scratch);
    for (size_t i = 0; i < r->nvcbuf; i++)
        vp_buf_free(&r->vc[i].val);
    free(r->memo);
    free(r->vars);
    free(r->vc);
    free(r->refs);
    free(r->owned);
    free(r->sp);
    free(r->res);
    free(r);
}

/* One process-wide pooled state: the spare of the last freed template, so parse + render + free
 * per call (an API client's send) reuses its work arrays too. Contention simply allocates. */
static _Atomic(vp__render *) pool;
/* A state bigger than this (a huge template's arrays) is freed rather than pooled. */
#define POOL_MAX_BYTES (256u * 1024u)

static size_t render_bytes(const vp__render *r)
{
    return r->capmemo * sizeof(tmemo) + r->capvars * sizeof(tvar) +
           r->capvc * sizeof(tvault_entry) + r->caprefs * (sizeof(vp_template_ref) + 1) +
           r->capsp * sizeof(tsplice) + r->capres * sizeof(vp_ref_result) + r->tmp.cap +
           r->scratch.cap;
}

vp__render *vp__render_get(const vp_template *t)
{
    vp_template *mt = (vp_template *)t; /* only the spare slot is touched, atomically */
    vp__render *r = atomic_exchange_explicit(&mt->spare, NULL, memory_order_acquire);
    if (r == NULL)
        r = atomic_exchange_explicit(&pool, NULL, memory_order_acquire);
    if (r == NULL) {
        if ((r = calloc(1, sizeof(*r))) == NULL)
            return NULL;
        r->scratch.secure = 1;
    }
    r->t = t;
    return r;
}

void vp__render_spare_release(vp_template *t)
{
    vp__render *r = atomic_exchange_explicit(&t->spare, NULL, memory_order_acquire);
    if (r == NULL)
        return;
    r->t = NULL;
    r->memo_for = NULL; /* the template's address may come back for another template */
    if (r->sp != NULL && r->capsp > 0) /* value lengths: no need to keep them any longer */
        memset(r->sp, 0, r->capsp * sizeof(*r->sp));
    r->npred = 0;
    vp__render *none = NULL;
    if (render_bytes(r) > POOL_MAX_BYTES ||
        !atomic_compare_exchange_strong_explicit(&pool, &none, r, memory_order_release,
                                                 memory_order_relaxed))
        render_destroy(r);
}

void vp__render_put(vp__render *r)
{
    if (r == NULL)
        return;
    render_empty(r);
    vp_template *t = (vp_template *)r->t;
    vp__render *none = NULL;
    if (t == NULL || !atomic_compare_exchange_strong_explicit(
                         &t->spare, &none, r, memory_order_release, memory_order_relaxed))
        render_destroy(r); /* another render's state is parked already */
}
