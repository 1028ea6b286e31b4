/*
 * template - the template engine's entry points (vaultplug/template.h): parse, the two-phase
 * render (evaluate + collect references, resolve in one batch, splice) and reference listing.
 * The engine knows nothing of contexts: what a context adds (its caching resolver, its log's
 * redactor) comes in through vp__tmpl_host from the api layer (api/render.c), which also holds
 * the public vp_template_render / vp_template_refs_collect / vp_render.
 *
 * Error messages are built from template text only; on the way out they are scrubbed of every
 * secret value this render saw (local vault and resolved values) and passed through the
 * context's redactor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "abisize.h"
#include "buf.h"
#include "errint.h"
#include "ref.h"
#include "secmem.h"
#include "tmpl_host.h"
#include "tmpl_int.h"

/* On success err is cleared. A render that succeeds has written nothing into it unless a
 * message was set on the way (then message[0] is not NUL): only then is the whole message worth
 * wiping, which is most of a small render's fixed cost otherwise. */
static void err_ok(vp_error *err)
{
    if (err == NULL)
        return;
    if (err->code != 0 || err->message[0] != '\0')
        vp_error_clear(err);
}

/* ---- parse ---------------------------------------------------------------------------------- */

static void limits_fill(vp_template_limits *l, const vp_template_limits *in)
{
    memset(l, 0, sizeof(*l));
    if (in != NULL)
        *l = *in;
    if (l->max_template == 0)
        l->max_template = VP_TMPL_DEFAULT_MAX_TEMPLATE;
    if (l->max_depth == 0)
        l->max_depth = VP_TMPL_DEFAULT_MAX_DEPTH;
    if (l->max_output == 0)
        l->max_output = VP_TMPL_DEFAULT_MAX_OUTPUT;
    if (l->max_refs == 0)
        l->max_refs = VP_TMPL_DEFAULT_MAX_REFS;
    if (l->max_steps == 0)
        l->max_steps = VP_TMPL_DEFAULT_MAX_STEPS;
}

int vp_template_parse(const char *src, size_t len, const vp_template_limits *limits,
                      vp_template **out, vp_error *err)
{
    if (out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "vp_template_parse: out is NULL");
    *out = NULL;
    if (src == NULL && len > 0)
        return vp__err_set(err, NULL, VP_EINVAL, "vp_template_parse: src is NULL");
    vp_template_limits lim;
    limits_fill(&lim, limits);
    if (len > lim.max_template || len > UINT32_MAX - 16)
        return vp__err_set(err, NULL, VP_ELIMIT, "template larger than %zu bytes",
                           lim.max_template);
    /* One block: the template, the first chunk of its AST arena (sized for a template of this
     * length: about 8 bytes of AST per byte of source), then its copy of the source. */
    size_t hdr = (sizeof(vp_template) + 15u) & ~(size_t)15u;
    size_t acap = len < 384 ? 1024 + len * 8 : 4096;
    size_t asz = (vp__arena_inline_size(acap) + 15u) & ~(size_t)15u;
    vp_template *t = malloc(hdr + asz + len + 1);
    if (t == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    memset(t, 0, sizeof(*t));
    t->limits = lim;
    atomic_init(&t->spare, NULL);
    vp__arena_init_inline(&t->arena, (char *)t + hdr, asz);
    t->src = (char *)t + hdr + asz;
    if (len > 0)
        memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->len = len;
    int rc = vp__tmpl_parse(t, err);
    if (rc != 0) {
        if (rc == VP_ENOMEM)
            vp__err_set(err, NULL, VP_ENOMEM, NULL);
        vp_template_free(t);
        return rc;
    }
    *out = t;
    err_ok(err);
    return 0;
}

void vp_template_free(vp_template *t)
{
    if (t == NULL)
        return;
    vp__arena_free(&t->arena);
    vp__render_spare_release(t);
    free(t); /* with the source and the arena's first chunk */
}

/* ---- references ----------------------------------------------------------------------------- */

void vp__template_ref_clear(vp_template_ref *ref)
{
    if (ref == NULL)
        return;
    free((char *)ref->id);
    free((char *)ref->scheme);
    free((char *)ref->credential);
    free((char *)ref->uri);
    free((char *)ref->config);
    free((char *)ref->json_key);
    memset(ref, 0, sizeof(*ref));
}

static char *xstrdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

/* The one-argument form: the URI parser (ref.c) canonicalises it. */
int vp__tmpl_ref_uri(vp__render *r, const char *s, size_t len, vp_template_ref *ref, size_t off)
{
    vp__ref pr;
    vp_error e = {0, {0}};
    int rc = vp__ref_parse(s, len, &pr, &e);
    if (rc != 0)
        return vp__render_fail(r, off, rc, "invalid vault reference: %s", e.message);
    ref->form = VP_REF_URI;
    ref->id = xstrdup(pr.uri);
    ref->uri = xstrdup(pr.uri);
    ref->scheme = xstrdup(pr.scheme);
    ref->credential = xstrdup(pr.credential);
    ref->json_key = pr.json_key ? xstrdup(pr.json_key) : NULL;
    int bad = ref->id == NULL || ref->uri == NULL || ref->scheme == NULL ||
              ref->credential == NULL || (pr.json_key != NULL && ref->json_key == NULL);
    vp__ref_free(&pr);
    if (bad) {
        vp__template_ref_clear(ref);
        return VP_ENOMEM;
    }
    return 0;
}

static json_object *parse_json_len(const char *s, size_t n)
{
    json_tokener *tk = json_tokener_new_ex(VP__TMPL_JSON_DEPTH);
    if (tk == NULL || n > INT32_MAX) {
        if (tk != NULL)
            json_tokener_free(tk);
        return NULL;
    }
    json_object *o = json_tokener_parse_ex(tk, s, (int)n);
    if (json_tokener_get_error(tk) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tk);
    return o;
}

static int pct_append(vp_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (; *s && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            rc = vp__buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = vp__buf_append(b, e, 3);
        }
    }
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Insomnia's three-argument form: provider, credential name, config (JSON or base64 JSON). */
int vp__tmpl_ref_tag3(vp__render *r, const tv *args, vp_template_ref *ref, size_t off)
{
    char scheme[64], cred[VP__CRED_NAME_MAX + 1];
    if (args[0].len == 0 || args[0].len >= sizeof(scheme))
        return vp__render_fail(r, off, VP_EINVAL, "vault tag: invalid provider name");
    for (size_t i = 0; i < args[0].len; i++) {
        char c = args[0].u.s[i];
        scheme[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    scheme[args[0].len] = '\0';
    if (!vp__scheme_valid(scheme))
        return vp__render_fail(r, off, VP_EINVAL, "vault tag: invalid provider name");
    if (args[1].len > VP__CRED_NAME_MAX)
        return vp__render_fail(r, off, VP_EINVAL, "vault tag: invalid credential name");
    memcpy(cred, args[1].u.s, args[1].len);
    cred[args[1].len] = '\0';
    if (cred[0] != '\0' && !vp__cred_name_valid(cred))
        return vp__render_fail(r, off, VP_EINVAL, "vault tag: invalid credential name");

    /* config: JSON object, or base64 of one */
    const char *cs = args[2].u.s;
    size_t cl = args[2].len, a = 0;
    while (a < cl && (cs[a] == ' ' || cs[a] == '\n' || cs[a] == '\r' || cs[a] == '\t'))
        a++;
    vp_buf dec = VP_BUF_INIT;
    json_object *cfg = NULL;
    int rc = 0;
    if (a < cl && cs[a] == '{') {
        cfg = parse_json_len(cs, cl);
    } else {
        if ((rc = vp__buf_reserve(&dec, cl, 1)) != 0)
            return rc;
        size_t bl = 0;
        if (sodium_base642bin((unsigned char *)dec.data, dec.cap, cs, cl, " \n\r\t", &bl, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 &&
            sodium_base642bin((unsigned char *)dec.data, dec.cap, cs, cl, " \n\r\t", &bl, NULL,
                              sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 &&
            sodium_base642bin((unsigned char *)dec.data, dec.cap, cs, cl, " \n\r\t", &bl, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
            vp_buf_free(&dec);
            return vp__render_fail(r, off, VP_EINVAL,
                                   "vault tag: the config is neither a JSON object nor base64");
        }
        dec.len = bl;
        dec.data[bl] = '\0';
        cfg = parse_json_len(dec.data, dec.len);
    }
    vp_buf_free(&dec);
    if (cfg == NULL || json_object_get_type(cfg) != json_type_object) {
        json_object_put(cfg);
        return vp__render_fail(r, off, VP_EINVAL, "vault tag: the config must be a JSON object");
    }
    size_t n = (size_t)json_object_object_length(cfg);
    const char **keys = calloc(n ? n : 1, sizeof(char *));
    vp_buf id = VP_BUF_INIT;
    if (keys == NULL) {
        json_object_put(cfg);
        return VP_ENOMEM;
    }
    size_t k = 0;
    json_object_object_foreach(cfg, key, val)
    {
        json_type ty = json_object_get_type(val);
        if (ty == json_type_object || ty == json_type_array) {
            rc = vp__render_fail(r, off, VP_EINVAL,
                                 "vault tag: config member '%.64s' must be a string, number or "
                                 "boolean",
                                 key);
            goto done;
        }
        keys[k++] = key;
    }
    qsort(keys, k, sizeof(char *), key_cmp);
    rc = vp__buf_printf(&id, "%s://%s%s?", scheme, cred, cred[0] ? "@" : "");
    for (size_t i = 0; i < k && rc == 0; i++) {
        json_object *v = NULL;
        json_object_object_get_ex(cfg, keys[i], &v);
        const char *vs =
            json_object_get_type(v) == json_type_null ? "null" : json_object_get_string(v);
        if (i > 0)
            rc = vp__buf_append(&id, "&", 1);
        if (rc == 0)
            rc = pct_append(&id, keys[i]);
        if (rc == 0)
            rc = vp__buf_append(&id, "=", 1);
        if (rc == 0)
            rc = pct_append(&id, vs);
    }
    if (rc != 0)
        goto done;
    ref->form = VP_REF_TAG3;
    ref->id = xstrdup(id.data);
    ref->scheme = xstrdup(scheme);
    ref->credential = xstrdup(cred);
    ref->config = xstrdup(json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    if (ref->id == NULL || ref->scheme == NULL || ref->credential == NULL || ref->config == NULL) {
        vp__template_ref_clear(ref);
        rc = VP_ENOMEM;
    }
done:
    free(keys);
    vp_buf_free(&id);
    json_object_put(cfg);
    return rc;
}

/* ---- rendering ------------------------------------------------------------------------------ */

static void scrub_one(vp_error *err, const char *v, size_t n)
{
    if (n < 4 || v == NULL)
        return;
    char *m = err->message;
    size_t ml = strlen(m);
    for (size_t i = 0; i + n <= ml;) {
        if (memcmp(m + i, v, n) == 0) {
            static const char red[] = "[REDACTED]";
            size_t rl = sizeof(red) - 1;
            if (ml - n + rl >= sizeof(err->message))
                rl = 0;
            memmove(m + i + rl, m + i + n, ml - i - n + 1);
            memcpy(m + i, red, rl);
            ml = ml - n + rl;
            i += rl ? rl : 0;
            if (rl == 0)
                continue;
        } else {
            i++;
        }
    }
}

/* Defence in depth: the engine formats no values, but a message must never carry a secret the
 * render has seen, whatever produced the text. */
static void finish_error(vp__render *r, const vp_render_params *p, const vp__tmpl_host *host,
                         vp_ref_result *res, vp_error *err)
{
    if (err == NULL)
        return;
    for (size_t i = 0; i < r->nvc; i++)
        if (r->vc[i].found)
            scrub_one(err, r->vc[i].val.data, r->vc[i].val.len);
    if (res != NULL)
        for (size_t i = 0; i < r->nrefs; i++)
            if (res[i].status == 0)
                scrub_one(err, res[i].value.data, res[i].value.len);
    if (p->ctx != NULL && host != NULL && host->redact != NULL)
        host->redact(p->ctx, err->message, sizeof(err->message));
}

/* Without a context (or a host that resolves for it) no external reference can be fetched. */
static int no_context_resolve(const vp_template_ref *refs, size_t n, vp_ref_result *results)
{
    for (size_t i = 0; i < n; i++) {
        results[i].status = refs[i].form != VP_REF_URI ? VP_ENOTSUP : VP_EUNAVAIL;
        snprintf(results[i].message, sizeof(results[i].message), "%s",
                 refs[i].form != VP_REF_URI
                     ? "the three-argument vault tag needs the caching resolver"
                     : "no library context to fetch external secrets");
    }
    return 0;
}

/* Whether n bytes at p are all zero (word at a time: the tail of an output buffer is usually
 * clean, and reading it is cheaper than wiping it). */
static int all_zero(const char *p, size_t n)
{
    /* 16-byte words (GCC/Clang vector extension; SSE2 on x86-64), four at a time */
    typedef uint64_t v2 __attribute__((vector_size(16)));
    while (n >= 64) {
        v2 a, b, c, d;
        memcpy(&a, p, 16);
        memcpy(&b, p + 16, 16);
        memcpy(&c, p + 32, 16);
        memcpy(&d, p + 48, 16);
        v2 x = a | b | c | d;
        if ((x[0] | x[1]) != 0)
            return 0;
        p += 64;
        n -= 64;
    }
    uint64_t w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        if (w != 0)
            return 0;
        p += 8;
        n -= 8;
    }
    for (; n > 0; p++, n--)
        if (*p != 0)
            return 0;
    return 1;
}

/* A render overwrote the caller's buffer from its start instead of wiping it first: wipe what is
 * left of the old contents behind the new output (stale: the old length), and anything else
 * past the output a caller may have left (a length shortened by hand), so nothing but zeroes
 * follows the output, as if the whole buffer had been wiped. */
static void out_tail_wipe(vp_buf *b, size_t stale)
{
    if (b->data == NULL)
        return;
    size_t from = b->len + 1;
    if (stale + 1 > from) {
        size_t to = stale + 1 < b->cap ? stale + 1 : b->cap;
        sodium_memzero(b->data + from, to - from);
        from = to;
    }
    if (from < b->cap && !all_zero(b->data + from, b->cap - from))
        sodium_memzero(b->data + from, b->cap - from);
}

/* Put the external values (or, res NULL, the PREVIEW mask) into the phase-one output at the
 * splice points. Each splice point has a gap of the length its value had last time: when every
 * value fits its gap exactly the values are copied in place; otherwise the gaps are closed
 * (front to back) and the output is grown and spread around the values (back to front). */
static int splice(vp__render *r, const vp_ref_result *res, vp_error *err)
{
    const size_t mlen = sizeof(VP_TMPL_MASK) - 1;
    size_t gaps = 0, adds = 0;
    int exact = 1;
    for (size_t i = 0; i < r->nsp; i++) {
        tsplice *sp = &r->sp[i];
        size_t add = res != NULL ? res[sp->ref].value.len : mlen;
        if (add > r->lim.max_output)
            return vp__err_set(err, NULL, VP_ELIMIT, "output larger than %zu bytes",
                               r->lim.max_output);
        gaps += sp->gap;
        adds += add;
        exact &= add == sp->gap;
    }
    size_t base = r->out.len - gaps; /* the output without gaps */
    if (base + adds > r->lim.max_output || adds > r->lim.max_output)
        return vp__err_set(err, NULL, VP_ELIMIT, "output larger than %zu bytes", r->lim.max_output);
    char *d = r->out.data;
    if (exact) {
        for (size_t i = 0; i < r->nsp; i++) {
            tsplice *sp = &r->sp[i];
            if (res != NULL) {
                if (sp->gap > 0)
                    memcpy(d + sp->off, res[sp->ref].value.data, sp->gap);
            } else {
                memcpy(d + sp->off, VP_TMPL_MASK, mlen);
            }
            sp->vlen = sp->gap;
        }
        r->npred = r->nsp;
        return 0;
    }
    if (gaps > 0) { /* close the gaps */
        size_t shift = 0;
        for (size_t i = 0; i < r->nsp; i++) {
            tsplice *sp = &r->sp[i];
            size_t s0 = sp->off + sp->gap, s1 = i + 1 < r->nsp ? r->sp[i + 1].off : r->out.len;
            sp->off -= shift;
            shift += sp->gap;
            memmove(d + s0 - shift, d + s0, s1 - s0);
        }
        r->out.len -= shift;
        sodium_memzero(d + r->out.len, shift); /* copies of template text; keep the tail clean */
        d[r->out.len] = '\0';
    }
    size_t total = base + adds;
    int rc = vp__buf_reserve_exact(&r->out, total - r->out.len, 1);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    d = r->out.data;
    size_t src_end = r->out.len, dst_end = total;
    for (size_t i = r->nsp; i > 0; i--) {
        tsplice *sp = &r->sp[i - 1];
        size_t seg = src_end - sp->off;
        memmove(d + dst_end - seg, d + sp->off, seg);
        dst_end -= seg;
        size_t add = res != NULL ? res[sp->ref].value.len : mlen;
        dst_end -= add;
        if (add > 0)
            memcpy(d + dst_end, res != NULL ? res[sp->ref].value.data : VP_TMPL_MASK, add);
        sp->vlen = add > UINT32_MAX ? 0 : (uint32_t)add;
        src_end = sp->off;
    }
    r->out.len = total;
    d[total] = '\0';
    r->npred = r->nsp;
    return 0;
}

/* A render state for t with this call's parameters (NULL: out of memory). */
static vp__render *render_begin(const vp_template *t, const vp_render_params *p, vp_error *err)
{
    vp__render *r = vp__render_get(t);
    if (r == NULL)
        return NULL;
    r->root = p->env ? p->env->root : NULL;
    r->env_gen = p->env ? p->env->gen : 0;
    r->vault = p->vault;
    r->mode = p->mode;
    r->flags = p->flags;
    r->err = err;
    if (p->limits != NULL)
        limits_fill(&r->lim, p->limits);
    else
        r->lim = t->limits; /* filled at parse time */
    return r;
}

/* Copy the caller's parameters into *p (this library's layout): a smaller struct from an older
 * header (at least 1.0's) reads as zero beyond its size; a larger one from a newer header is
 * accepted when every field this library does not know is zero. */
static int check_params(const vp_render_params *in, vp_render_params *p, vp_error *err)
{
    int rc = vp__sized_take(p, sizeof(*p), in, in->size, VP_RENDER_PARAMS_SIZE_1_0,
                            "vp_render_params", "set it to sizeof(vp_render_params)", err);
    if (rc != 0)
        return rc;
    if (p->mode != VP_RENDER_SEND && p->mode != VP_RENDER_PREVIEW)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid render mode");
    return 0;
}

int vp__template_render(const vp_template *t, const vp_render_params *p, const vp__tmpl_host *host,
                        vp_buf *out, vp_error *err)
{
    if (t == NULL || p == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "vp_template_render: invalid argument");
    /* Render into the caller's secure storage (wiped first): repeated renders into one buffer
     * then allocate nothing, where every block above 4 KiB costs a sodium_malloc. */
    vp_buf keep = *out;
    memset(out, 0, sizeof(*out));
    size_t stale = 0; /* the old contents are overwritten, what is left of them wiped at the end */
    if (keep.data != NULL && (keep.flags & VP__BUF_SECURE)) {
        stale = keep.len < keep.cap ? keep.len : keep.cap - 1;
        keep.len = 0;
    } else {
        vp_buf_free(&keep);
    }
    vp_render_params copy;
    int rc = check_params(p, &copy, err);
    if (rc != 0) {
        vp_buf_free(&keep);
        return rc;
    }
    p = &copy; /* this library's layout */
    vp__render *r = render_begin(t, p, err);
    if (r == NULL) {
        vp_buf_free(&keep);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    r->out = keep;
    vp_ref_result *res = NULL;
    rc = vp__render_run(r);
    if (rc == VP_ENOMEM)
        vp__err_set(err, NULL, rc, NULL);
    if (rc != 0)
        goto fail;

    if (r->nrefs == 0) { /* common case: the phase-one output is the result */
        r->lastout = r->out.len;
        out_tail_wipe(&r->out, stale);
        *out = r->out;
        memset(&r->out, 0, sizeof(r->out));
        goto ok;
    }
    int want_values = p->mode == VP_RENDER_SEND || (p->flags & VP_TMPL_PREVIEW_RESOLVE);
    if (want_values) {
        /* the results array is kept between renders (r->res, recycled with the render's other
         * work arrays); it arrives zeroed as the resolver contract says */
        if (r->capres < r->nrefs) {
            free(r->res);
            r->res = NULL;
            r->capres = 0;
            if ((r->res = calloc(r->nrefs, sizeof(*r->res))) == NULL) {
                rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
                goto fail;
            }
            r->capres = r->nrefs;
        } else {
            memset(r->res, 0, r->nrefs * sizeof(*r->res));
        }
        res = r->res;
        if (p->resolver != NULL && p->resolver->resolve_batch != NULL)
            rc = p->resolver->resolve_batch(p->resolver->ud, r->refs, r->nrefs, res);
        else if (p->ctx != NULL && host != NULL && host->resolve != NULL)
            rc = host->resolve(p->ctx, r->refs, r->nrefs, res);
        else
            rc = no_context_resolve(r->refs, r->nrefs, res);
        if (rc != 0) {
            rc = vp__err_set(err, NULL, vp_status_normalize(rc),
                             "resolving the template's external references failed: %s",
                             vp_strerror(rc));
            goto fail;
        }
        /* first failing reference in template order */
        for (size_t i = 0; i < r->nsp; i++) {
            vp_ref_result *x = &res[r->sp[i].ref];
            if (x->status != 0) {
                const vp_template_ref *ref = &r->refs[r->sp[i].ref];
                size_t off = r->sp[i].src_off;
                char msg[VP_ERROR_MAX];
                memcpy(msg, x->message, sizeof(msg));
                msg[sizeof(msg) - 1] = '\0';
                /* The excerpt and caret show the reference; its id leads the message unless the
                 * provider already named it (the message is cut at VP_ERROR_MAX otherwise). */
                int named = msg[0] && strstr(msg, ref->id) != NULL;
                rc = vp__tmpl_error(err, t->src, t->len, off, vp_status_normalize(x->status),
                                    "%.80s%s%s", named ? "" : ref->id, named ? "" : ": ",
                                    msg[0] ? msg : vp_strerror(x->status));
                goto fail;
            }
        }
    }
    if ((rc = splice(r, p->mode == VP_RENDER_PREVIEW ? NULL : res, err)) != 0)
        goto fail;
    r->lastout = r->out.len;
    out_tail_wipe(&r->out, stale);
    *out = r->out;
    memset(&r->out, 0, sizeof(r->out));
ok:
    if (res != NULL)
        for (size_t i = 0; i < r->nrefs; i++)
            vp_buf_free(&res[i].value); /* wipes; the array itself is recycled */
    vp__render_put(r);
    err_ok(err);
    return 0;
fail:
    finish_error(r, p, host, res, err);
    vp_buf_free(out);
    if (res != NULL)
        for (size_t i = 0; i < r->nrefs; i++)
            vp_buf_free(&res[i].value); /* wipes; the array itself is recycled */
    vp__render_put(r);
    return rc;
}

/* ---- reference listing ---------------------------------------------------------------------- */

struct vp_template_refs {
    vp_template_ref *refs;
    size_t n;
};

int vp__template_refs_collect(const vp_template *t, const vp_render_params *p,
                              const vp__tmpl_host *host, vp_template_refs **out, vp_error *err)
{
    if (t == NULL || p == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "vp_template_refs_collect: invalid argument");
    *out = NULL;
    vp_render_params copy;
    int rc = check_params(p, &copy, err);
    if (rc != 0)
        return rc;
    p = &copy; /* this library's layout */
    vp_template_refs *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    vp__render *r = render_begin(t, p, err);
    if (r == NULL) {
        free(l);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    rc = vp__render_run(r);
    if (rc != 0) {
        if (rc == VP_ENOMEM)
            vp__err_set(err, NULL, rc, NULL);
        finish_error(r, p, host, NULL, err);
        vp__render_put(r);
        free(l);
        return rc;
    }
    if (vp__render_own_refs(r) != 0) {
        vp__render_put(r);
        free(l);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    l->refs = r->refs;
    l->n = r->nrefs;
    r->refs = NULL;
    r->nrefs = 0;
    r->caprefs = 0;
    vp__render_put(r);
    *out = l;
    err_ok(err);
    return 0;
}

size_t vp_template_refs_count(const vp_template_refs *refs)
{
    return refs ? refs->n : 0;
}

const vp_template_ref *vp_template_refs_get(const vp_template_refs *refs, size_t i)
{
    if (refs == NULL || i >= refs->n)
        return NULL;
    return &refs->refs[i];
}

void vp_template_refs_free(vp_template_refs *refs)
{
    if (refs == NULL)
        return;
    for (size_t i = 0; i < refs->n; i++)
        vp__template_ref_clear(&refs->refs[i]);
    free(refs->refs);
    free(refs);
}
