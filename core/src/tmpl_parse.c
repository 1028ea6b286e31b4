/*
 * tmpl_parse - the template lexer and recursive-descent parser (DESIGN.md section 4).
 *
 * One pass over the bytes: template text becomes (offset, length) slices of the source, tags
 * and expressions become AST nodes in the template's arena. The token rules follow Nunjucks'
 * lexer (so templates written for Insomnia tokenise the same): symbols run until whitespace or
 * one of Nunjucks' delimiter characters, `-` before `%}`/`}}` and after `{%`/`{{`/`{#` is
 * whitespace control, `#}` outside a comment is an error, and `{% raw %}` bodies are found the
 * way Nunjucks' regular expression finds them (nested raw/endraw pairs counted).
 *
 * Recursion (blocks and expressions) is bounded by limits.max_depth so hostile input cannot
 * exhaust the stack.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "secmem.h"
#include "tmpl_int.h"

/* ---- arena ---------------------------------------------------------------------------------- */

struct vp__arena_chunk {
    vp__arena_chunk *prev;
    size_t cap;
    /* data follows, max_align_t aligned */
    max_align_t data[];
};

#define ARENA_MIN 4096u

void *vp__arena_alloc(vp__arena *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    if (a->head == NULL || a->cap - a->used < n) {
        size_t cap = a->head ? a->head->cap * 2 : ARENA_MIN;
        if (cap < n)
            cap = n;
        if (cap > 1024u * 1024u && n <= 1024u * 1024u)
            cap = 1024u * 1024u;
        size_t sz = sizeof(vp__arena_chunk) + cap;
        vp__arena_chunk *c = a->secure ? vp__secmem_alloc(sz) : malloc(sz);
        if (c == NULL)
            return NULL;
        c->prev = a->head;
        c->cap = cap;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    void *p = (char *)a->head->data + a->used;
    a->used += n;
    a->total += n;
    return p;
}

static void chunk_free(const vp__arena *a, vp__arena_chunk *c)
{
    if (a->secure) {
        vp__secmem_free(c); /* wipes */
    } else {
        free(c);
    }
}

void vp__arena_free(vp__arena *a)
{
    vp__arena_chunk *c = a->head;
    while (c != NULL) {
        vp__arena_chunk *p = c->prev;
        chunk_free(a, c);
        c = p;
    }
    a->head = NULL;
    a->used = a->cap = a->total = 0;
}

vp__arena_mark vp__arena_mark_get(const vp__arena *a)
{
    vp__arena_mark m = {a->head, a->used};
    return m;
}

void vp__arena_release(vp__arena *a, vp__arena_mark m)
{
    while (a->head != m.head && a->head != NULL) {
        vp__arena_chunk *p = a->head->prev;
        chunk_free(a, a->head);
        a->head = p;
        a->used = p ? p->cap : 0;
        a->cap = p ? p->cap : 0;
    }
    if (a->head != NULL && a->used > m.used) {
        if (a->secure)
            sodium_memzero((char *)a->head->data + m.used, a->used - m.used);
        a->used = m.used;
    }
}

/* ---- error messages ------------------------------------------------------------------------- */

int vp__tmpl_error(vp_error *err, const char *src, size_t len, size_t off, int code,
                   const char *fmt, ...)
{
    if (err == NULL)
        return code;
    if (off > len)
        off = len;
    size_t line = 1, ls = 0;
    for (size_t i = 0; i < off; i++) {
        if (src[i] == '\n') {
            line++;
            ls = i + 1;
        }
    }
    size_t col = 1;
    for (size_t i = ls; i < off; i++)
        if (((unsigned char)src[i] & 0xC0) != 0x80)
            col++;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    /* Excerpt: at most 70 columns of the line, starting so that the caret stays visible.
     * Control characters become spaces so the caret lines up and the message stays one line. */
    size_t le = ls;
    while (le < len && src[le] != '\n' && src[le] != '\r')
        le++;
    size_t start = ls;
    while (off - start > 50) {
        start++;
        while (start < off && ((unsigned char)src[start] & 0xC0) == 0x80)
            start++;
    }
    char ex[300], caret[80];
    size_t ei = 0, cols = 0, caretcol = 0;
    for (size_t i = start; i < le && cols < 70 && ei + 5 < sizeof(ex); i++) {
        unsigned char c = (unsigned char)src[i];
        if (i == off)
            caretcol = cols;
        if (c < 0x20 || c == 0x7f) {
            ex[ei++] = ' ';
        } else {
            ex[ei++] = (char)c;
        }
        if ((c & 0xC0) != 0x80)
            cols++;
    }
    if (off >= start) {
        size_t cc = 0;
        for (size_t i = start; i < off && i < le; i++)
            if (((unsigned char)src[i] & 0xC0) != 0x80)
                cc++;
        caretcol = cc;
    }
    /* drop a trailing partial UTF-8 sequence */
    size_t k = ei;
    while (k > 0 && ((unsigned char)ex[k - 1] & 0xC0) == 0x80)
        k--;
    if (k > 0 && ((unsigned char)ex[k - 1] & 0x80)) {
        unsigned char lead = (unsigned char)ex[k - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (ei - (k - 1) < need)
            ei = k - 1;
    }
    ex[ei] = '\0';
    if (caretcol > 75)
        caretcol = 75;
    memset(caret, ' ', caretcol);
    caret[caretcol] = '^';
    caret[caretcol + 1] = '\0';
    err->code = code;
    char full[1024];
    int fl = snprintf(full, sizeof(full), "line %zu, column %zu: %s\n  %s\n  %s", line, col, what,
                      ex, caret);
    size_t cp = fl < 0 ? 0 : (size_t)fl;
    if (cp >= sizeof(err->message))
        cp = sizeof(err->message) - 1;
    memcpy(err->message, full, cp);
    err->message[cp] = '\0';
    return code;
}

/* ---- lexer ---------------------------------------------------------------------------------- */

typedef enum tk_type {
    K_EOF,
    K_STR,
    K_INT,
    K_FLOAT,
    K_BOOL,
    K_NONE,
    K_SYM,
    K_OP, /* operator text in s[off..off+len) */
    K_LPAREN,
    K_RPAREN,
    K_LBRACK,
    K_RBRACK,
    K_LCURLY,
    K_RCURLY,
    K_COMMA,
    K_COLON,
    K_TILDE,
    K_PIPE,
    K_BLOCK_END, /* %} or -%} (len 3) */
    K_VAR_END    /* }} or -}} */
} tk_type;

typedef struct tok {
    tk_type type;
    size_t off, len;  /* raw span */
    const char *sval; /* K_STR: decoded arena copy; K_SYM: arena copy */
    size_t slen;
} tok;

typedef struct ps {
    vp_template *t;
    const char *s;
    size_t n;
    size_t i;
    tok pk;
    size_t pk_pos, pk_end; /* pk is valid when pk_pos == i */
    int pk_valid;
    int drop_ws;
    size_t depth;
    vp_error *err;
} ps;

static const char DELIMS[] = "()[]{}%*-+~/#,:|.<>=!";

static int is_delim(unsigned char c)
{
    return c != 0 && strchr(DELIMS, c) != NULL;
}

/* Nunjucks' code whitespace: space \n \t \r and U+00A0. */
static size_t code_space(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
        return 1;
    if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0)
        return 2;
    return 0;
}

static int fail(ps *p, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(ps *p, size_t off, int code, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return vp__tmpl_error(p->err, p->s, p->n, off, code, "%s", what);
}

static char *arena_strndup(vp__arena *a, const char *s, size_t n)
{
    char *d = vp__arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* memmem without _GNU_SOURCE */
static const char *find_bytes(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0 || hn < nn)
        return NULL;
    const char *end = h + hn - nn + 1;
    for (const char *q = h; q < end; q++) {
        q = memchr(q, nd[0], (size_t)(end - q));
        if (q == NULL)
            return NULL;
        if (memcmp(q, nd, nn) == 0)
            return q;
    }
    return NULL;
}

static int starts(const ps *p, size_t i, const char *lit)
{
    size_t l = strlen(lit);
    return i + l <= p->n && memcmp(p->s + i, lit, l) == 0;
}

/* Lex one code token at position i; sets *end. 0 or an error status. */
static int lex_at(ps *p, size_t i, tok *k, size_t *end)
{
    const char *s = p->s;
    size_t n = p->n, w;
    while (i < n && (w = code_space(s, n, i)) != 0)
        i += w;
    memset(k, 0, sizeof(*k));
    k->off = i;
    if (i >= n) {
        k->type = K_EOF;
        *end = i;
        return 0;
    }
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\'') {
        /* Nunjucks escapes: \n \t \r, and a backslash before anything else yields that char. */
        size_t j = i + 1, cap = 0;
        while (j < n && s[j] != (char)c) {
            if (s[j] == '\\' && j + 1 < n)
                j++;
            j++;
            cap++;
        }
        if (j >= n)
            return fail(p, i, VP_EINVAL, "unterminated string");
        char *d = vp__arena_alloc(&p->t->arena, (j - i) + 1);
        if (d == NULL)
            return VP_ENOMEM;
        size_t o = 0;
        for (size_t q = i + 1; q < j; q++) {
            char ch = s[q];
            if (ch == '\\' && q + 1 < j) {
                q++;
                ch = s[q];
                if (ch == 'n')
                    ch = '\n';
                else if (ch == 't')
                    ch = '\t';
                else if (ch == 'r')
                    ch = '\r';
            }
            d[o++] = ch;
        }
        d[o] = '\0';
        (void)cap;
        k->type = K_STR;
        k->sval = d;
        k->slen = o;
        k->len = j + 1 - i;
        *end = j + 1;
        return 0;
    }
    if (starts(p, i, "%}") || starts(p, i, "-%}")) {
        k->type = K_BLOCK_END;
        k->len = s[i] == '-' ? 3 : 2;
        *end = i + k->len;
        return 0;
    }
    if (starts(p, i, "}}") || starts(p, i, "-}}")) {
        k->type = K_VAR_END;
        k->len = s[i] == '-' ? 3 : 2;
        *end = i + k->len;
        return 0;
    }
    if (is_delim(c)) {
        size_t l = 1;
        static const char *const two[] = {"==", "!=", "<=", ">=", "//", "**"};
        for (size_t q = 0; q < sizeof(two) / sizeof(two[0]); q++) {
            if (starts(p, i, two[q])) {
                l = 2;
                if ((starts(p, i, "==") || starts(p, i, "!=")) && i + 2 < n && s[i + 2] == '=')
                    l = 3;
                break;
            }
        }
        k->len = l;
        *end = i + l;
        switch (c) {
        case '(':
            k->type = K_LPAREN;
            break;
        case ')':
            k->type = K_RPAREN;
            break;
        case '[':
            k->type = K_LBRACK;
            break;
        case ']':
            k->type = K_RBRACK;
            break;
        case '{':
            k->type = K_LCURLY;
            break;
        case '}':
            k->type = K_RCURLY;
            break;
        case ',':
            k->type = K_COMMA;
            break;
        case ':':
            k->type = K_COLON;
            break;
        case '~':
            k->type = K_TILDE;
            break;
        case '|':
            k->type = K_PIPE;
            break;
        default:
            k->type = K_OP;
        }
        if (l > 1)
            k->type = K_OP;
        return 0;
    }
    size_t j = i;
    while (j < n && !code_space(s, n, j) && !is_delim((unsigned char)s[j]))
        j++;
    size_t l = j - i;
    int digits = 1;
    for (size_t q = 0; q < l; q++)
        if (s[i + q] < '0' || s[i + q] > '9')
            digits = 0;
    if (digits) {
        if (j < n && s[j] == '.') {
            j++;
            while (j < n && s[j] >= '0' && s[j] <= '9')
                j++;
            k->type = K_FLOAT;
        } else {
            k->type = K_INT;
        }
    } else if ((l == 4 && memcmp(s + i, "true", 4) == 0) ||
               (l == 5 && memcmp(s + i, "false", 5) == 0)) {
        k->type = K_BOOL;
    } else if ((l == 4 && memcmp(s + i, "none", 4) == 0) ||
               (l == 4 && memcmp(s + i, "null", 4) == 0)) {
        k->type = K_NONE;
    } else {
        k->type = K_SYM;
    }
    k->len = j - i;
    *end = j;
    return 0;
}

static int peek(ps *p, tok **out)
{
    if (!p->pk_valid || p->pk_pos != p->i) {
        int rc = lex_at(p, p->i, &p->pk, &p->pk_end);
        if (rc != 0)
            return rc;
        p->pk_pos = p->i;
        p->pk_valid = 1;
    }
    *out = &p->pk;
    return 0;
}

static int next(ps *p, tok *out)
{
    tok *k;
    int rc = peek(p, &k);
    if (rc != 0)
        return rc;
    *out = *k;
    p->i = p->pk_end;
    return 0;
}

static int tok_is(const ps *p, const tok *k, tk_type type, const char *text)
{
    if (k->type != type)
        return 0;
    if (text == NULL)
        return 1;
    size_t l = strlen(text);
    return k->len == l && memcmp(p->s + k->off, text, l) == 0;
}

static const char *tok_name(tk_type t)
{
    switch (t) {
    case K_EOF:
        return "end of template";
    case K_STR:
        return "string";
    case K_INT:
    case K_FLOAT:
        return "number";
    case K_BOOL:
        return "boolean";
    case K_NONE:
        return "none";
    case K_SYM:
        return "name";
    case K_BLOCK_END:
        return "'%}'";
    case K_VAR_END:
        return "'}}'";
    default:
        return "operator";
    }
}

/* ---- expressions ---------------------------------------------------------------------------- */

static tx *new_tx(ps *p, int kind, size_t off)
{
    tx *e = vp__arena_alloc(&p->t->arena, sizeof(tx));
    if (e != NULL) {
        memset(e, 0, sizeof(*e));
        e->kind = (uint8_t)kind;
        e->off = (uint32_t)off;
        e->end = (uint32_t)p->i;
    }
    return e;
}

#define TRY(x)          \
    do {                \
        int rc_ = (x);  \
        if (rc_ != 0)   \
            return rc_; \
    } while (0)
#define NEW(var, kind, off)               \
    do {                                  \
        (var) = new_tx(p, (kind), (off)); \
        if ((var) == NULL)                \
            return VP_ENOMEM;             \
    } while (0)

static int parse_expr(ps *p, tx **out);

static int enter(ps *p, size_t off)
{
    if (++p->depth > p->t->limits.max_depth)
        return fail(p, off, VP_ELIMIT, "nesting deeper than %zu", p->t->limits.max_depth);
    return 0;
}

static int parse_primary(ps *p, tx **out)
{
    tok k;
    TRY(next(p, &k));
    tx *e = NULL;
    switch (k.type) {
    case K_STR:
        NEW(e, TX_STR, k.off);
        e->u.str.s = k.sval;
        e->u.str.len = (uint32_t)k.slen;
        break;
    case K_INT:
    case K_FLOAT: {
        char tmp[64];
        if (k.len >= sizeof(tmp))
            return fail(p, k.off, VP_EINVAL, "number literal too long");
        memcpy(tmp, p->s + k.off, k.len);
        tmp[k.len] = '\0';
        NEW(e, TX_NUM, k.off);
        e->u.num = strtod(tmp, NULL);
        break;
    }
    case K_BOOL:
        NEW(e, TX_BOOL, k.off);
        e->u.b = p->s[k.off] == 't';
        break;
    case K_NONE:
        NEW(e, TX_NONE, k.off);
        break;
    case K_SYM: {
        NEW(e, TX_NAME, k.off);
        e->u.str.s = arena_strndup(&p->t->arena, p->s + k.off, k.len);
        if (e->u.str.s == NULL)
            return VP_ENOMEM;
        e->u.str.len = (uint32_t)k.len;
        break;
    }
    case K_LPAREN: {
        TRY(enter(p, k.off));
        TRY(parse_expr(p, &e));
        p->depth--;
        tok c;
        TRY(next(p, &c));
        if (c.type != K_RPAREN)
            return fail(p, c.off, VP_EINVAL, "expected ')', got %s", tok_name(c.type));
        break;
    }
    case K_LBRACK:
    case K_LCURLY:
        return fail(p, k.off, VP_EINVAL, "array and object literals are not supported");
    default:
        return fail(p, k.off, VP_EINVAL, "unexpected %s in expression", tok_name(k.type));
    }
    /* postfix: .name and [expr] */
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        if (tok_is(p, pk, K_OP, ".")) {
            size_t off = pk->off;
            TRY(next(p, &k));
            tok nm;
            TRY(next(p, &nm));
            if (nm.type != K_SYM && nm.type != K_BOOL && nm.type != K_NONE)
                return fail(p, nm.off, VP_EINVAL, "expected a name after '.'");
            tx *a;
            NEW(a, TX_ATTR, e->off);
            a->u.attr.obj = e;
            a->u.attr.name = arena_strndup(&p->t->arena, p->s + nm.off, nm.len);
            if (a->u.attr.name == NULL)
                return VP_ENOMEM;
            a->u.attr.len = (uint32_t)nm.len;
            (void)off;
            e = a;
        } else if (pk->type == K_LBRACK) {
            TRY(next(p, &k));
            TRY(enter(p, k.off));
            tx *idx;
            TRY(parse_expr(p, &idx));
            p->depth--;
            tok c;
            TRY(next(p, &c));
            if (c.type != K_RBRACK)
                return fail(p, c.off, VP_EINVAL, "expected ']', got %s", tok_name(c.type));
            tx *a;
            NEW(a, TX_INDEX, e->off);
            a->u.bin.a = e;
            a->u.bin.b = idx;
            e = a;
        } else if (pk->type == K_LPAREN) {
            return fail(p, pk->off, VP_EINVAL, "function calls are not supported");
        } else {
            break;
        }
    }
    e->end = (uint32_t)p->i;
    *out = e;
    return 0;
}

static const struct {
    const char *name;
    tx_filter f;
    uint8_t min, max;
} FILTERS[] = {
    {"default", F_DEFAULT, 1, 2}, {"d", F_DEFAULT, 1, 2},
    {"upper", F_UPPER, 0, 0},     {"lower", F_LOWER, 0, 0},
    {"trim", F_TRIM, 0, 0},       {"urlencode", F_URLENCODE, 0, 0},
    {"base64", F_BASE64, 0, 0},   {"b64decode", F_B64DECODE, 0, 0},
    {"json", F_JSON, 0, 1},       {"dump", F_JSON, 0, 1},
};

static int parse_unary(ps *p, tx **out, int no_filters)
{
    tok *pk;
    TRY(peek(p, &pk));
    tx *e = NULL;
    size_t off = pk->off;
    TRY(enter(p, off));
    if (tok_is(p, pk, K_OP, "-") || tok_is(p, pk, K_OP, "+")) {
        int neg = p->s[pk->off] == '-';
        tok k;
        TRY(next(p, &k));
        tx *a;
        TRY(parse_unary(p, &a, 1));
        NEW(e, neg ? TX_NEG : TX_POS, off);
        e->u.bin.a = a;
    } else {
        TRY(parse_primary(p, &e));
    }
    if (!no_filters) {
        for (;;) {
            TRY(peek(p, &pk));
            if (pk->type != K_PIPE)
                break;
            tok k, nm;
            TRY(next(p, &k));
            TRY(next(p, &nm));
            if (nm.type != K_SYM)
                return fail(p, nm.off, VP_EINVAL, "expected a filter name after '|'");
            size_t fi = 0, nf = sizeof(FILTERS) / sizeof(FILTERS[0]);
            for (; fi < nf; fi++)
                if (strlen(FILTERS[fi].name) == nm.len &&
                    memcmp(FILTERS[fi].name, p->s + nm.off, nm.len) == 0)
                    break;
            if (fi == nf)
                return fail(p, nm.off, VP_EINVAL, "unknown filter '%.*s'",
                            (int)(nm.len > 64 ? 64 : nm.len), p->s + nm.off);
            tx *f;
            NEW(f, TX_FILTER, off);
            f->op = (uint8_t)FILTERS[fi].f;
            f->u.filt.arg0 = e;
            TRY(peek(p, &pk));
            if (pk->type == K_LPAREN) {
                TRY(next(p, &k));
                TRY(peek(p, &pk));
                if (pk->type != K_RPAREN) {
                    for (;;) {
                        if (f->nargs >= FILTERS[fi].max)
                            return fail(p, pk->off, VP_EINVAL, "too many arguments for filter '%s'",
                                        FILTERS[fi].name);
                        TRY(parse_expr(p, &f->u.filt.args[f->nargs]));
                        f->nargs++;
                        tok c;
                        TRY(next(p, &c));
                        if (c.type == K_RPAREN)
                            break;
                        if (c.type != K_COMMA)
                            return fail(p, c.off, VP_EINVAL, "expected ',' or ')', got %s",
                                        tok_name(c.type));
                        TRY(peek(p, &pk));
                    }
                } else {
                    TRY(next(p, &k));
                }
            }
            if (f->nargs < FILTERS[fi].min)
                return fail(p, nm.off, VP_EINVAL, "filter '%s' needs an argument",
                            FILTERS[fi].name);
            f->end = (uint32_t)p->i;
            e = f;
        }
    }
    p->depth--;
    e->end = (uint32_t)p->i;
    *out = e;
    return 0;
}

/* Binary levels, lowest first (Nunjucks' precedence). */
static int parse_pow(ps *p, tx **out)
{
    TRY(parse_unary(p, out, 0));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        if (!tok_is(p, pk, K_OP, "**"))
            return 0;
        tok k;
        TRY(next(p, &k));
        tx *b, *e;
        TRY(parse_unary(p, &b, 0));
        NEW(e, TX_ARITH, (*out)->off);
        e->op = OP_POW;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
}

static int parse_mul(ps *p, tx **out)
{
    TRY(parse_pow(p, out));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        int op;
        if (tok_is(p, pk, K_OP, "*"))
            op = OP_MUL;
        else if (tok_is(p, pk, K_OP, "/"))
            op = OP_DIV;
        else if (tok_is(p, pk, K_OP, "//"))
            op = OP_FLOORDIV;
        else if (tok_is(p, pk, K_OP, "%"))
            op = OP_MOD;
        else
            return 0;
        tok k;
        TRY(next(p, &k));
        tx *b, *e;
        TRY(parse_pow(p, &b));
        NEW(e, TX_ARITH, (*out)->off);
        e->op = (uint8_t)op;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
}

static int parse_add(ps *p, tx **out)
{
    TRY(parse_mul(p, out));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        int op;
        if (tok_is(p, pk, K_OP, "+"))
            op = OP_ADD;
        else if (tok_is(p, pk, K_OP, "-"))
            op = OP_SUB;
        else
            return 0;
        tok k;
        TRY(next(p, &k));
        tx *b, *e;
        TRY(parse_mul(p, &b));
        NEW(e, TX_ARITH, (*out)->off);
        e->op = (uint8_t)op;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
}

static int parse_concat(ps *p, tx **out)
{
    TRY(parse_add(p, out));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        if (pk->type != K_TILDE)
            return 0;
        tok k;
        TRY(next(p, &k));
        tx *b, *e;
        TRY(parse_add(p, &b));
        NEW(e, TX_CONCAT, (*out)->off);
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
}

static int parse_compare(ps *p, tx **out)
{
    static const struct {
        const char *t;
        tx_op op;
    } ops[] = {{"===", OP_SEQ}, {"!==", OP_SNE}, {"==", OP_EQ}, {"!=", OP_NE},
               {"<=", OP_LE},   {">=", OP_GE},   {"<", OP_LT},  {">", OP_GT}};
    TRY(parse_concat(p, out));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        size_t q = 0, nq = sizeof(ops) / sizeof(ops[0]);
        for (; q < nq; q++)
            if (tok_is(p, pk, K_OP, ops[q].t))
                break;
        if (q == nq)
            return 0;
        tok k;
        TRY(next(p, &k));
        tx *b, *e;
        TRY(parse_concat(p, &b));
        NEW(e, TX_CMP, (*out)->off);
        e->op = (uint8_t)ops[q].op;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
}

static int parse_in(ps *p, tx **out)
{
    TRY(parse_compare(p, out));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        int invert = 0;
        size_t save = p->i;
        if (tok_is(p, pk, K_SYM, "not")) {
            tok k, k2;
            TRY(next(p, &k));
            TRY(next(p, &k2));
            if (!tok_is(p, &k2, K_SYM, "in")) {
                p->i = save;
                return 0;
            }
            invert = 1;
        } else if (tok_is(p, pk, K_SYM, "in")) {
            tok k;
            TRY(next(p, &k));
        } else {
            return 0;
        }
        tx *b, *e;
        TRY(parse_compare(p, &b));
        NEW(e, TX_IN, (*out)->off);
        e->op = (uint8_t)invert;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
}

static int parse_not(ps *p, tx **out)
{
    tok *pk;
    TRY(peek(p, &pk));
    if (tok_is(p, pk, K_SYM, "not")) {
        size_t off = pk->off;
        tok k;
        TRY(next(p, &k));
        TRY(enter(p, off));
        tx *a, *e;
        TRY(parse_not(p, &a));
        p->depth--;
        NEW(e, TX_NOT, off);
        e->u.bin.a = a;
        *out = e;
        return 0;
    }
    return parse_in(p, out);
}

static int parse_and(ps *p, tx **out)
{
    TRY(parse_not(p, out));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        if (!tok_is(p, pk, K_SYM, "and"))
            return 0;
        tok k;
        TRY(next(p, &k));
        tx *b, *e;
        TRY(parse_not(p, &b));
        NEW(e, TX_AND, (*out)->off);
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
}

static int parse_expr(ps *p, tx **out)
{
    TRY(enter(p, p->i));
    TRY(parse_and(p, out));
    for (;;) {
        tok *pk;
        TRY(peek(p, &pk));
        if (!tok_is(p, pk, K_SYM, "or"))
            break;
        tok k;
        TRY(next(p, &k));
        tx *b, *e;
        TRY(parse_and(p, &b));
        NEW(e, TX_OR, (*out)->off);
        e->u.bin.a = *out;
        e->u.bin.b = b;
        *out = e;
    }
    tok *pk;
    TRY(peek(p, &pk));
    if (tok_is(p, pk, K_SYM, "if"))
        return fail(p, pk->off, VP_EINVAL, "inline if expressions are not supported");
    (*out)->end = (uint32_t)p->i;
    p->depth--;
    return 0;
}

/* ---- statements ----------------------------------------------------------------------------- */

/* Expect the end of a block tag; sets drop_ws for `-%}`. */
static int expect_block_end(ps *p)
{
    tok k;
    TRY(next(p, &k));
    if (k.type != K_BLOCK_END)
        return fail(p, k.off, VP_EINVAL, "expected '%%}', got %s", tok_name(k.type));
    p->drop_ws = k.len == 3;
    return 0;
}

static tn *new_tn(ps *p, int kind, size_t off)
{
    tn *nd = vp__arena_alloc(&p->t->arena, sizeof(tn));
    if (nd != NULL) {
        memset(nd, 0, sizeof(*nd));
        nd->kind = (uint8_t)kind;
        nd->off = (uint32_t)off;
    }
    return nd;
}

static int is_reserved(const char *name)
{
    return strcmp(name, "vault") == 0 || strcmp(name, "__insomnia_vault") == 0 ||
           strcmp(name, "_") == 0 || strcmp(name, "loop") == 0;
}

static int parse_name(ps *p, const char **out, const char *what)
{
    tok k;
    TRY(next(p, &k));
    if (k.type != K_SYM)
        return fail(p, k.off, VP_EINVAL, "expected a variable name in %s", what);
    char *nm = arena_strndup(&p->t->arena, p->s + k.off, k.len);
    if (nm == NULL)
        return VP_ENOMEM;
    if (is_reserved(nm))
        return fail(p, k.off, VP_EINVAL, "'%s' is a reserved name", nm);
    *out = nm;
    return 0;
}

/* Find the next `{{`, `{%` or `{#` at or after i; n if none. */
static size_t find_tag(const ps *p, size_t i)
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

static int parse_nodes(ps *p, const char *const *ends, tn **out, const char **which,
                       size_t *which_off);

/* `{% raw %}` body: up to the matching `{%\s*endraw\s*%}` (nested raw/endraw counted). */
static int parse_raw(ps *p, tn **out, const char *name, size_t tag_off)
{
    char endname[16];
    snprintf(endname, sizeof(endname), "end%s", name);
    size_t start = p->i, i = p->i;
    int level = 1;
    for (;;) {
        const char *q = NULL;
        if (i + 1 < p->n)
            q = find_bytes(p->s + i, p->n - i, "{%", 2);
        if (q == NULL)
            return fail(p, tag_off, VP_EINVAL, "unterminated '{%% %s %%}' block", name);
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
        if ((is_open || is_close) && starts(p, j, "%}")) {
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

static int parse_if(ps *p, tn **out, size_t off)
{
    static const char *const ends[] = {"elif", "elseif", "else", "endif", NULL};
    static const char *const endif[] = {"endif", NULL};
    tn *nd = new_tn(p, TN_IF, off);
    if (nd == NULL)
        return VP_ENOMEM;
    TRY(parse_expr(p, &nd->u.ifs.cond));
    TRY(expect_block_end(p));
    const char *which;
    size_t woff;
    TRY(parse_nodes(p, ends, &nd->u.ifs.body, &which, &woff));
    if (strcmp(which, "elif") == 0 || strcmp(which, "elseif") == 0) {
        TRY(enter(p, woff));
        TRY(parse_if(p, &nd->u.ifs.els, woff));
        p->depth--;
    } else if (strcmp(which, "else") == 0) {
        TRY(expect_block_end(p));
        TRY(parse_nodes(p, endif, &nd->u.ifs.els, &which, &woff));
        TRY(expect_block_end(p));
    } else {
        TRY(expect_block_end(p));
    }
    *out = nd;
    return 0;
}

static int parse_for(ps *p, tn **out, size_t off)
{
    static const char *const ends[] = {"else", "endfor", NULL};
    static const char *const endfor[] = {"endfor", NULL};
    tn *nd = new_tn(p, TN_FOR, off);
    if (nd == NULL)
        return VP_ENOMEM;
    TRY(parse_name(p, &nd->u.fr.k, "for"));
    tok *pk;
    TRY(peek(p, &pk));
    if (pk->type == K_COMMA) {
        tok k;
        TRY(next(p, &k));
        TRY(parse_name(p, &nd->u.fr.v, "for"));
    }
    tok k;
    TRY(next(p, &k));
    if (!tok_is(p, &k, K_SYM, "in"))
        return fail(p, k.off, VP_EINVAL, "expected 'in' in for loop");
    TRY(parse_expr(p, &nd->u.fr.iter));
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
static int parse_statement(ps *p, const tok *k, tn **out)
{
    size_t off = k->off;
    const char *nm = p->s + k->off;
    size_t l = k->len;
#define IS(lit) (l == sizeof(lit) - 1 && memcmp(nm, lit, l) == 0)
    if (IS("if"))
        return parse_if(p, out, off);
    if (IS("for"))
        return parse_for(p, out, off);
    if (IS("set")) {
        tn *nd = new_tn(p, TN_SET, off);
        if (nd == NULL)
            return VP_ENOMEM;
        TRY(parse_name(p, &nd->u.set.name, "set"));
        tok e;
        TRY(next(p, &e));
        if (!tok_is(p, &e, K_OP, "="))
            return fail(p, e.off, VP_EINVAL, "expected '=' in set (block set is not supported)");
        TRY(parse_expr(p, &nd->u.set.val));
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
        for (;;) {
            if (nd->u.vault.nargs == 3)
                return fail(p, p->i, VP_EINVAL, "the vault tag takes 1 or 3 arguments");
            TRY(parse_expr(p, &nd->u.vault.args[nd->u.vault.nargs]));
            nd->u.vault.nargs++;
            tok *pk;
            TRY(peek(p, &pk));
            if (pk->type != K_COMMA)
                break;
            tok c;
            TRY(next(p, &c));
        }
        if (nd->u.vault.nargs == 2)
            return fail(p, off, VP_EINVAL, "the vault tag takes 1 or 3 arguments");
        TRY(expect_block_end(p));
        *out = nd;
        return 0;
    }
#undef IS
    return fail(p, off, VP_EINVAL, "unknown block tag '%.*s'", (int)(l > 64 ? 64 : l), nm);
}

static int append_text(ps *p, tn ***tail, size_t a, size_t b)
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

static int parse_nodes(ps *p, const char *const *ends, tn **out, const char **which,
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
                return fail(p, open_off, VP_EINVAL,
                            "unexpected end of template: missing '{%% %s %%}'", ends[last]);
            }
            *out = head;
            return 0;
        }
        size_t tg = find_tag(p, p->i);
        /* text [p->i, tg) */
        size_t a = p->i, b = tg;
        const char *hc = find_bytes(p->s + a, b - a, "#}", 2);
        if (hc != NULL)
            return fail(p, (size_t)(hc - p->s), VP_EINVAL, "unexpected end of comment '#}'");
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
            const char *e = find_bytes(p->s + body, p->n - body, "#}", 2);
            if (e == NULL)
                return fail(p, tg, VP_EINVAL, "unterminated comment");
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
            TRY(parse_expr(p, &nd->u.expr));
            tok k;
            TRY(next(p, &k));
            if (k.type != K_VAR_END)
                return fail(p, k.off, VP_EINVAL, "expected '}}', got %s", tok_name(k.type));
            p->drop_ws = k.len == 3;
            *tail = nd;
            tail = &nd->next;
            continue;
        }
        /* block tag */
        tok k;
        TRY(next(p, &k));
        if (k.type != K_SYM)
            return fail(p, k.off, VP_EINVAL, "expected a tag name after '{%%'");
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
        TRY(enter(p, k.off));
        tn *nd = NULL;
        TRY(parse_statement(p, &k, &nd));
        p->depth--;
        *tail = nd;
        tail = &nd->next;
    }
}

int vp__tmpl_parse(vp_template *t, vp_error *err)
{
    ps p;
    memset(&p, 0, sizeof(p));
    p.t = t;
    p.s = t->src;
    p.n = t->len;
    p.err = err;
    return parse_nodes(&p, NULL, &t->root, NULL, NULL);
}
