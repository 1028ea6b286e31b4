/*
 * tmpl_parse - the statement parser (vaultplug-template(5)): text, output, tags and blocks.
 *
 * One pass over the bytes: template text becomes (offset, length) slices of the source, tags
 * and expressions become AST nodes in the template's arena. The token rules follow Nunjucks'
 * lexer (so templates written for Insomnia tokenise the same): symbols run until whitespace or
 * one of Nunjucks' delimiter characters, `-` before `%}`/`}}` and after `{%`/`{{`/`{#` is
 * whitespace control, `#}` outside a comment is an error, and `{% raw %}` bodies are found the
 * way Nunjucks' regular expression finds them (nested raw/endraw pairs counted).
 *
 * Recursion (blocks and expressions) is bounded by limits.max_depth so hostile input cannot
 * exhaust the stack: an {% if %} or {% for %} block is one level (an elif chain none: it is
 * parsed in a loop), expressions count theirs in tmpl_expr.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "tmpl_int.h"

#define TRY(x)          \
    do {                \
        int rc_ = (x);  \
        if (rc_ != 0)   \
            return rc_; \
    } while (0)

/* ---- statements ----------------------------------------------------------------------------- */

/* Expect the end of a block tag; sets drop_ws for `-%}`. */
static int expect_block_end(tmpl_ps *p)
{
    tmpl_tok k;
    TRY(vp__lex_next(p, &k));
    if (k.type != K_BLOCK_END)
        return vp__ps_fail(p, k.off, VP_EINVAL, "expected '%%}', got %s", vp__tok_name(k.type));
    p->drop_ws = k.len == 3;
    return 0;
}

static tn *new_tn(tmpl_ps *p, int kind, size_t off)
{
    tn *nd = vp__arena_alloc(&p->t->arena, sizeof(tn));
    if (nd != NULL) {
        memset(nd, 0, sizeof(*nd));
        nd->kind = (uint8_t)kind;
        nd->off = (uint32_t)off;
    }
    return nd;
}

const char vp__tmpl_loop[] = "loop";

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

const char *vp__ps_intern(tmpl_ps *p, const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "loop", 4) == 0)
        return vp__tmpl_loop;
    if (p->icap == 0) {
        memset(p->itab_inline, 0, sizeof(p->itab_inline));
        p->itab = p->itab_inline;
        p->icap = sizeof(p->itab_inline) / sizeof(p->itab_inline[0]);
    }
    if (p->icount * 2 >= p->icap) {
        size_t nc = p->icap * 2;
        tmpl_iname *nt = calloc(nc, sizeof(*nt));
        if (nt == NULL)
            return NULL;
        for (size_t i = 0; i < p->icap; i++) {
            if (p->itab[i].s == NULL)
                continue;
            size_t h = (size_t)name_hash(p->itab[i].s, p->itab[i].n) & (nc - 1);
            while (nt[h].s != NULL)
                h = (h + 1) & (nc - 1);
            nt[h] = p->itab[i];
        }
        if (p->itab != p->itab_inline)
            free(p->itab);
        p->itab = nt;
        p->icap = nc;
    }
    size_t h = (size_t)name_hash(s, n) & (p->icap - 1);
    for (; p->itab[h].s != NULL; h = (h + 1) & (p->icap - 1))
        if (p->itab[h].n == n && memcmp(p->itab[h].s, s, n) == 0)
            return p->itab[h].s;
    char *d = vp__arena_strndup(&p->t->arena, s, n);
    if (d != NULL) {
        p->itab[h].s = d;
        p->itab[h].n = n;
        p->icount++;
    }
    return d;
}

static int is_reserved(const char *name)
{
    return strcmp(name, "vault") == 0 || strcmp(name, "__insomnia_vault") == 0 ||
           strcmp(name, "_") == 0 || strcmp(name, "loop") == 0;
}

static int parse_name(tmpl_ps *p, const char **out, const char *what)
{
    tmpl_tok k;
    TRY(vp__lex_next(p, &k));
    if (k.type != K_SYM)
        return vp__ps_fail(p, k.off, VP_EINVAL, "expected a variable name in %s", what);
    const char *nm = vp__ps_intern(p, p->s + k.off, k.len);
    if (nm == NULL)
        return VP_ENOMEM;
    if (is_reserved(nm))
        return vp__ps_fail(p, k.off, VP_EINVAL, "'%s' is a reserved name", nm);
    *out = nm;
    return 0;
}

/* Find the next `{{`, `{%` or `{#` at or after i; n if none. */
static size_t find_tag(const tmpl_ps *p, size_t i)
{
    const char *s = p->s;
    while (i + 1 < p->n) {
        const char *q = memchr(s + i, '{', p->n - i - 1);
        if (q == NULL)
            return p->n;
        i = (size_t)(q - s);
        char c = s[i + 1];
        if (c == '{' || c == '%' || c == '#')
            return i;
        i++;
    }
    return p->n;
}

static int parse_nodes(tmpl_ps *p, const char *const *ends, tn **out, const char **which,
                       size_t *which_off);

/* `{% raw %}` body: up to the matching `{%\s*endraw\s*%}` (nested raw/endraw counted). */
static int parse_raw(tmpl_ps *p, tn **out, const char *name, size_t tag_off)
{
    char endname[16];
    snprintf(endname, sizeof(endname), "end%s", name);
    size_t start = p->i, i = p->i;
    int level = 1;
    for (;;) {
        const char *q = NULL;
        if (i + 1 < p->n)
            q = vp__find_bytes(p->s + i, p->n - i, "{%", 2);
        if (q == NULL)
            return vp__ps_fail(p, tag_off, VP_EINVAL, "unterminated '{%% %s %%}' block", name);
        size_t at = (size_t)(q - p->s), j = at + 2, w;
        while (j < p->n && (w = vp__js_space_at(p->s + j, p->n - j)) != 0)
            j += w;
        size_t ns = j;
        while (j < p->n && ((p->s[j] >= 'a' && p->s[j] <= 'z')))
            j++;
        size_t nl = j - ns;
        while (j < p->n && (w = vp__js_space_at(p->s + j, p->n - j)) != 0)
            j += w;
        int is_open = nl == strlen(name) && memcmp(p->s + ns, name, nl) == 0;
        int is_close = nl == strlen(endname) && memcmp(p->s + ns, endname, nl) == 0;
        if ((is_open || is_close) && vp__lex_starts(p, j, "%}")) {
            level += is_open ? 1 : -1;
            if (level == 0) {
                tn *nd = new_tn(p, TN_TEXT, start);
                if (nd == NULL)
                    return VP_ENOMEM;
                nd->u.text.off = (uint32_t)start;
                nd->u.text.len = (uint32_t)(at - start);
                p->i = j + 2; /* drop_ws of the opening tag applies to the text after the block */
                *out = nd;
                return 0;
            }
            i = j + 2;
        } else {
            i = at + 2;
        }
    }
}

static int parse_if(tmpl_ps *p, tn **out, size_t off)
{
    static const char *const ends[] = {"elif", "elseif", "else", "endif", NULL};
    static const char *const endif[] = {"endif", NULL};
    for (;;) {
        tn *nd = new_tn(p, TN_IF, off);
        if (nd == NULL)
            return VP_ENOMEM;
        *out = nd;
        TRY(vp__parse_expr(p, &nd->u.ifs.cond));
        TRY(expect_block_end(p));
        const char *which;
        size_t woff;
        TRY(parse_nodes(p, ends, &nd->u.ifs.body, &which, &woff));
        if (strcmp(which, "elif") == 0 || strcmp(which, "elseif") == 0) {
            /* an elif is an if that is the whole else branch: built by this loop, not by
             * recursion, so a long elif chain is not nesting (the renderer loops over it too) */
            out = &nd->u.ifs.els;
            off = woff;
            continue;
        }
        if (strcmp(which, "else") == 0) {
            TRY(expect_block_end(p));
            TRY(parse_nodes(p, endif, &nd->u.ifs.els, &which, &woff));
        }
        return expect_block_end(p);
    }
}

static int parse_for(tmpl_ps *p, tn **out, size_t off)
{
    static const char *const ends[] = {"else", "endfor", NULL};
    static const char *const endfor[] = {"endfor", NULL};
    tn *nd = new_tn(p, TN_FOR, off);
    if (nd == NULL)
        return VP_ENOMEM;
    TRY(parse_name(p, &nd->u.fr.k, "for"));
    tmpl_tok *pk;
    TRY(vp__lex_peek(p, &pk));
    if (pk->type == K_COMMA) {
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        TRY(parse_name(p, &nd->u.fr.v, "for"));
    }
    tmpl_tok k;
    TRY(vp__lex_next(p, &k));
    if (!vp__tok_is(p, &k, K_SYM, "in"))
        return vp__ps_fail(p, k.off, VP_EINVAL, "expected 'in' in for loop");
    TRY(vp__parse_expr(p, &nd->u.fr.iter));
    TRY(expect_block_end(p));
    const char *which;
    size_t woff;
    TRY(parse_nodes(p, ends, &nd->u.fr.body, &which, &woff));
    if (strcmp(which, "else") == 0) {
        TRY(expect_block_end(p));
        TRY(parse_nodes(p, endfor, &nd->u.fr.els, &which, &woff));
    }
    TRY(expect_block_end(p));
    *out = nd;
    return 0;
}

/* Parse one `{% ... %}` statement whose name token is k (already consumed). */
/* Line and column (code points, 1-based) of source offset off, counted on from the last call:
 * newlines found with memchr, columns counted only on the last line. */
static void line_col(tmpl_ps *p, size_t off, uint32_t *line, uint32_t *col)
{
    if (p->lc_line == 0 || off < p->lc_off) {
        p->lc_off = 0;
        p->lc_line = p->lc_col = 1;
    }
    if (off > p->n)
        off = p->n;
    size_t i = p->lc_off;
    const char *nl;
    while (i < off && (nl = memchr(p->s + i, '\n', off - i)) != NULL) {
        p->lc_line++;
        p->lc_col = 1;
        i = (size_t)(nl - p->s) + 1;
    }
    for (; i < off; i++)
        if (((unsigned char)p->s[i] & 0xC0) != 0x80)
            p->lc_col++;
    p->lc_off = off;
    *line = p->lc_line;
    *col = p->lc_col;
}

/* Parse a literal URI-form reference once for all renders (see tn.u.vault.pre). Anything
 * unusual (invalid reference, no memory) leaves it to the renderer, which reports it. Not
 * inlined: its error buffer would otherwise sit in every parse_nodes frame, one per level of
 * block nesting. */
__attribute__((noinline)) static void vault_pre(tmpl_ps *p, tn *nd)
{
    const tx *a = nd->u.vault.args[0];
    if (nd->u.vault.nargs != 1 || a->kind != TX_STR)
        return;
    vp__arena *ar = &p->t->arena;
    vp_template_ref *ref = vp__arena_alloc(ar, sizeof(*ref));
    if (ref == NULL)
        return;
    memset(ref, 0, sizeof(*ref));
    if (vp__refcache_get(a->u.str.s, a->u.str.len, ar, ref)) {
        ref->form = VP_REF_URI;
        ref->line = nd->u.vault.line;
        ref->column = nd->u.vault.col;
        nd->u.vault.pre = ref;
        return;
    }
    vp__ref pr;
    vp_error e;
    e.code = 0;
    e.message[0] = '\0';
    if (vp__ref_parse(a->u.str.s, a->u.str.len, &pr, &e) != 0)
        return;
    vp__refcache_put(a->u.str.s, a->u.str.len, pr.uri, pr.scheme, pr.credential, pr.json_key);
    {
        memset(ref, 0, sizeof(*ref));
        ref->form = VP_REF_URI;
        ref->id = ref->uri = vp__arena_strndup(ar, pr.uri, strlen(pr.uri));
        ref->scheme = vp__arena_strndup(ar, pr.scheme, strlen(pr.scheme));
        ref->credential = vp__arena_strndup(ar, pr.credential, strlen(pr.credential));
        ref->json_key =
            pr.json_key ? vp__arena_strndup(ar, pr.json_key, strlen(pr.json_key)) : NULL;
        ref->line = nd->u.vault.line;
        ref->column = nd->u.vault.col;
        if (ref->id != NULL && ref->scheme != NULL && ref->credential != NULL &&
            (pr.json_key == NULL || ref->json_key != NULL))
            nd->u.vault.pre = ref;
    }
    vp__ref_free(&pr);
}

static int parse_statement(tmpl_ps *p, const tmpl_tok *k, tn **out)
{
    size_t off = k->off;
    const char *nm = p->s + k->off;
    size_t l = k->len;
#define IS(lit) (l == sizeof(lit) - 1 && memcmp(nm, lit, l) == 0)
    if (IS("if") || IS("for")) { /* blocks: the parser recurses into their bodies */
        TRY(vp__ps_enter(p, off));
        TRY(IS("if") ? parse_if(p, out, off) : parse_for(p, out, off));
        p->depth--;
        return 0;
    }
    if (IS("set")) {
        tn *nd = new_tn(p, TN_SET, off);
        if (nd == NULL)
            return VP_ENOMEM;
        TRY(parse_name(p, &nd->u.set.name, "set"));
        tmpl_tok e;
        TRY(vp__lex_next(p, &e));
        if (!vp__tok_is(p, &e, K_OP, "="))
            return vp__ps_fail(p, e.off, VP_EINVAL,
                               "expected '=' in set (block set is not supported)");
        TRY(vp__parse_expr(p, &nd->u.set.val));
        TRY(expect_block_end(p));
        *out = nd;
        return 0;
    }
    if (IS("raw") || IS("verbatim")) {
        TRY(expect_block_end(p));
        return parse_raw(p, out, IS("raw") ? "raw" : "verbatim", off);
    }
    if (IS("vault")) {
        tn *nd = new_tn(p, TN_VAULT, off);
        if (nd == NULL)
            return VP_ENOMEM;
        line_col(p, off, &nd->u.vault.line, &nd->u.vault.col);
        for (;;) {
            if (nd->u.vault.nargs == 3)
                return vp__ps_fail(p, p->i, VP_EINVAL, "the vault tag takes 1 or 3 arguments");
            TRY(vp__parse_expr(p, &nd->u.vault.args[nd->u.vault.nargs]));
            nd->u.vault.nargs++;
            tmpl_tok *pk;
            TRY(vp__lex_peek(p, &pk));
            if (pk->type != K_COMMA)
                break;
            tmpl_tok c;
            TRY(vp__lex_next(p, &c));
        }
        if (nd->u.vault.nargs == 2)
            return vp__ps_fail(p, off, VP_EINVAL, "the vault tag takes 1 or 3 arguments");
        TRY(expect_block_end(p));
        vault_pre(p, nd);
        *out = nd;
        return 0;
    }
#undef IS
    return vp__ps_fail(p, off, VP_EINVAL, "unknown block tag '%.*s'", (int)(l > 64 ? 64 : l), nm);
}

static int append_text(tmpl_ps *p, tn ***tail, size_t a, size_t b)
{
    if (b <= a)
        return 0;
    tn *nd = new_tn(p, TN_TEXT, a);
    if (nd == NULL)
        return VP_ENOMEM;
    nd->u.text.off = (uint32_t)a;
    nd->u.text.len = (uint32_t)(b - a);
    **tail = nd;
    *tail = &nd->next;
    return 0;
}

static int parse_nodes(tmpl_ps *p, const char *const *ends, tn **out, const char **which,
                       size_t *which_off)
{
    tn *head = NULL, **tail = &head;
    size_t open_off = p->i;
    for (;;) {
        if (p->i >= p->n) {
            if (ends != NULL) {
                size_t last = 0;
                while (ends[last + 1] != NULL)
                    last++;
                return vp__ps_fail(p, open_off, VP_EINVAL,
                                   "unexpected end of template: missing '{%% %s %%}'", ends[last]);
            }
            *out = head;
            return 0;
        }
        size_t tg = find_tag(p, p->i);
        /* text [p->i, tg) */
        size_t a = p->i, b = tg;
        const char *hc = vp__find_bytes(p->s + a, b - a, "#}", 2);
        if (hc != NULL)
            return vp__ps_fail(p, (size_t)(hc - p->s), VP_EINVAL, "unexpected end of comment '#}'");
        if (p->drop_ws) {
            size_t w;
            while (a < b && (w = vp__js_space_at(p->s + a, b - a)) != 0)
                a += w;
            p->drop_ws = 0;
        }
        if (tg + 2 < p->n && p->s[tg + 2] == '-') {
            size_t w;
            while (b > a && (w = vp__js_space_before(p->s + a, b - a)) != 0)
                b -= w;
        }
        TRY(append_text(p, &tail, a, b));
        if (tg >= p->n) {
            p->i = p->n;
            continue;
        }
        char kind = p->s[tg + 1];
        size_t body = tg + 2;
        if (body < p->n && p->s[body] == '-')
            body++;
        if (kind == '#') {
            const char *e = vp__find_bytes(p->s + body, p->n - body, "#}", 2);
            if (e == NULL)
                return vp__ps_fail(p, tg, VP_EINVAL, "unterminated comment");
            size_t eo = (size_t)(e - p->s);
            p->drop_ws = eo > tg + 2 && p->s[eo - 1] == '-';
            p->i = eo + 2;
            continue;
        }
        p->i = body;
        p->drop_ws = 0;
        if (kind == '{') {
            tn *nd = new_tn(p, TN_OUTPUT, tg);
            if (nd == NULL)
                return VP_ENOMEM;
            int built;
            TRY(vp__parse_path_fast(p, &nd->u.expr, &built));
            if (!built)
                TRY(vp__parse_expr(p, &nd->u.expr));
            tmpl_tok k;
            TRY(vp__lex_next(p, &k));
            if (k.type != K_VAR_END)
                return vp__ps_fail(p, k.off, VP_EINVAL, "expected '}}', got %s",
                                   vp__tok_name(k.type));
            p->drop_ws = k.len == 3;
            *tail = nd;
            tail = &nd->next;
            continue;
        }
        /* block tag */
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        if (k.type != K_SYM)
            return vp__ps_fail(p, k.off, VP_EINVAL, "expected a tag name after '{%%'");
        if (ends != NULL) {
            for (size_t q = 0; ends[q] != NULL; q++) {
                if (strlen(ends[q]) == k.len && memcmp(ends[q], p->s + k.off, k.len) == 0) {
                    *which = ends[q];
                    *which_off = k.off;
                    *out = head;
                    return 0;
                }
            }
        }
        tn *nd = NULL;
        TRY(parse_statement(p, &k, &nd));
        *tail = nd;
        tail = &nd->next;
    }
}

int vp__tmpl_parse(vp_template *t, vp_error *err)
{
    tmpl_ps p;
    memset(&p, 0, sizeof(p));
    p.t = t;
    p.s = t->src;
    p.n = t->len;
    p.err = err;
    p.max_chain = vp__tmpl_max_chain(&t->limits);
    int rc = parse_nodes(&p, NULL, &t->root, NULL, NULL);
    if (p.itab != p.itab_inline)
        free(p.itab);
    return rc;
}
