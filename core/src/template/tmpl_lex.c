/*
 * tmpl_lex - the template lexer (vaultplug-template(5)). The token rules follow Nunjucks' lexer
 * (so templates written for Insomnia tokenise the same): symbols run until whitespace or one of
 * Nunjucks' delimiter characters, `-` before `%}`/`}}` and after `{%`/`{{`/`{#` is whitespace
 * control. Tokens are lexed on demand with a one-token lookahead (vp__lex_peek).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

/* Nunjucks' delimiter characters "()[]{}%*-+~/#,:|.<>=!" (a table: symbols are scanned byte by
 * byte against it) */
static const unsigned char DELIM[256] = {
    ['('] = 1, [')'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1, ['%'] = 1,
    ['*'] = 1, ['-'] = 1, ['+'] = 1, ['~'] = 1, ['/'] = 1, ['#'] = 1, [','] = 1,
    [':'] = 1, ['|'] = 1, ['.'] = 1, ['<'] = 1, ['>'] = 1, ['='] = 1, ['!'] = 1,
};

/* Where a symbol stops: 1 = a delimiter or ASCII whitespace, 2 = maybe U+00A0 (check). */
static const unsigned char SYMSTOP[256] = {
    ['('] = 1, [')'] = 1,  ['['] = 1,  [']'] = 1,  ['{'] = 1,  ['}'] = 1, ['%'] = 1,
    ['*'] = 1, ['-'] = 1,  ['+'] = 1,  ['~'] = 1,  ['/'] = 1,  ['#'] = 1, [','] = 1,
    [':'] = 1, ['|'] = 1,  ['.'] = 1,  ['<'] = 1,  ['>'] = 1,  ['='] = 1, ['!'] = 1,
    [' '] = 1, ['\n'] = 1, ['\t'] = 1, ['\r'] = 1, [0xC2] = 2,
};

static int is_delim(unsigned char c)
{
    return DELIM[c];
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

int vp__ps_fail(tmpl_ps *p, size_t off, int code, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return vp__tmpl_error(p->err, p->s, p->n, off, code, "%s", what);
}

/* memmem without _GNU_SOURCE */
const char *vp__find_bytes(const char *h, size_t hn, const char *nd, size_t nn)
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

/* A quoted string at i (s[i] is the quote). Nunjucks escapes: \n \t \r, and a backslash
 * before anything else yields that char. The unescaped text goes into the template's arena. */
static int lex_string(tmpl_ps *p, size_t i, tmpl_tok *k, size_t *end)
{
    const char *s = p->s;
    size_t n = p->n, j = i + 1;
    char quote = s[i];
    while (j < n && s[j] != quote) {
        if (s[j] == '\\' && j + 1 < n)
            j++;
        j++;
    }
    if (j >= n)
        return vp__ps_fail(p, i, VP_EINVAL, "unterminated string");
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
    k->type = K_STR;
    k->sval = d;
    k->slen = o;
    k->len = j + 1 - i;
    *end = j + 1;
    return 0;
}

/* Punctuation or an operator at s[i] = c, a delimiter (s holds n bytes). */
static void lex_delim(const char *s, size_t n, size_t i, unsigned char c, tmpl_tok *k, size_t *end)
{
    size_t l = 1;
    /* two-character operators == != <= >= // ** (and === !==) */
    unsigned char c2 = i + 1 < n ? (unsigned char)s[i + 1] : 0;
    if ((c2 == '=' && (c == '=' || c == '!' || c == '<' || c == '>')) ||
        (c2 == c && (c == '/' || c == '*'))) {
        l = 2;
        if ((c == '=' || c == '!') && i + 2 < n && s[i + 2] == '=')
            l = 3;
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
}

/* A number, a literal (true false none null) or a name at s[i] (s holds n bytes). */
static void lex_symbol(const char *s, size_t n, size_t i, tmpl_tok *k, size_t *end)
{
    /* one pass: the symbol's end (whitespace or a delimiter) and whether it is all digits */
    size_t j = i;
    int digits = 1;
    while (j < n) {
        unsigned char ch = (unsigned char)s[j];
        if (SYMSTOP[ch] && (SYMSTOP[ch] == 1 || code_space(s, n, j)))
            break;
        if (ch < '0' || ch > '9')
            digits = 0;
        j++;
    }
    size_t l = j - i;
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
}

/* Lex one code token at position i; sets *end. 0 or an error status. */
static int lex_at(tmpl_ps *p, size_t i, tmpl_tok *k, size_t *end)
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
    if (c == '"' || c == '\'')
        return lex_string(p, i, k, end);
    if (vp__lex_starts(p, i, "%}") || vp__lex_starts(p, i, "-%}")) {
        k->type = K_BLOCK_END;
        k->len = s[i] == '-' ? 3 : 2;
        *end = i + k->len;
        return 0;
    }
    if (vp__lex_starts(p, i, "}}") || vp__lex_starts(p, i, "-}}")) {
        k->type = K_VAR_END;
        k->len = s[i] == '-' ? 3 : 2;
        *end = i + k->len;
        return 0;
    }
    if (is_delim(c))
        lex_delim(s, n, i, c, k, end);
    else
        lex_symbol(s, n, i, k, end);
    return 0;
}

int vp__lex_peek_slow(tmpl_ps *p, tmpl_tok **out)
{
    int rc = lex_at(p, p->i, &p->pk, &p->pk_end);
    if (rc != 0)
        return rc;
    p->pk_pos = p->i;
    p->pk_valid = 1;
    *out = &p->pk;
    return 0;
}

int vp__lex_next(tmpl_ps *p, tmpl_tok *out)
{
    tmpl_tok *k;
    int rc = vp__lex_peek(p, &k);
    if (rc != 0)
        return rc;
    *out = *k;
    p->i = p->pk_end;
    return 0;
}

const char *vp__tok_name(tk_type t)
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
