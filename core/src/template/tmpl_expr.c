/*
 * tmpl_expr - the expression parser: Nunjucks' operator precedence (or < and < not < in <
 * comparisons < ~ < + - < * / // % < ** < unary < filters < primary) by recursive descent into
 * tx nodes in the template's arena.
 *
 * Two bounds keep hostile input from exhausting the stack, here and in every walker of the tree:
 * the parser recurses only into parentheses, brackets, filter arguments and unary operators, each
 * one level of limits.max_depth (vp__ps_enter); chains (`a ~ b ~ c`, `x | f | g`, `a.b.c`) are
 * parsed in loops but make a left-deep tree, so every node's height is checked against
 * vp__tmpl_max_chain (seal) as it is built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

/* ---- expressions ---------------------------------------------------------------------------- */

static tx *new_tx(tmpl_ps *p, int kind, size_t off)
{
    tx *e = vp__arena_alloc(&p->t->arena, sizeof(tx));
    if (e != NULL) {
        memset(e, 0, sizeof(*e));
        e->kind = (uint8_t)kind;
        e->off = (uint32_t)off;
        e->end = (uint32_t)p->i;
        if ((kind == TX_NAME || kind == TX_ATTR) && p->t->nmemo < TMPL_MEMO_MAX)
            e->memo = ++p->t->nmemo;
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

int vp__ps_enter(tmpl_ps *p, size_t off)
{
    if (++p->depth > p->t->limits.max_depth)
        return vp__ps_fail(p, off, VP_EINVAL,
                           "nested more than %zu levels deep (each {%% if %%} or {%% for %%} "
                           "inside another, each parenthesis or bracket, and each not, - or + "
                           "counts one level)",
                           p->t->limits.max_depth);
    return 0;
}

__attribute__((noinline, cold)) static int chain_fail(tmpl_ps *p, size_t off)
{
    return vp__ps_fail(p, off, VP_EINVAL,
                       "more than %zu operations in a row (operators, filters, '.name', '[...]', "
                       "not, - and + each count one): split the expression with {%% set %%}",
                       p->max_chain);
}

/* Set e's height: one more than its highest operand's, a or b (b may be NULL; the operands are
 * complete). VP_EINVAL when the chain of operations through e is longer than max_chain. off: the
 * operator that made e (messages). */
static inline int seal(tmpl_ps *p, tx *e, const tx *a, const tx *b, size_t off)
{
    unsigned h = a->height;
    if (b != NULL && b->height > h)
        h = b->height;
    if (h >= p->max_chain)
        return chain_fail(p, off);
    e->height = (uint16_t)(h + 1);
    return 0;
}

/* Names whose lookup is not a plain environment member: the root alias and the vault (as a
 * member name too: `_.vault` is the vault). */
static int is_special_root(const char *s, size_t n)
{
    return (n == 1 && s[0] == '_') || (n == 5 && memcmp(s, "vault", 5) == 0) ||
           (n == 16 && memcmp(s, "__insomnia_vault", 16) == 0);
}

/* ASCII name characters: 1 can start a name, 2 only continue one (digits). */
static const unsigned char IDENT[256] = {
    ['_'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,
    ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['0'] = 2, ['1'] = 2, ['2'] = 2,
    ['3'] = 2, ['4'] = 2, ['5'] = 2, ['6'] = 2, ['7'] = 2, ['8'] = 2, ['9'] = 2,
};

static int is_ident_start(unsigned char c)
{
    return IDENT[c] == 1;
}

static int is_ident(unsigned char c)
{
    return IDENT[c] != 0;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* Words the full parser may read as something other than a variable name. */
static int is_word(const char *s, size_t n)
{
#define W(lit) (memcmp(s, lit, n) == 0)
    switch (n) {
    case 2:
        return W("or") || W("in") || W("is") || W("if");
    case 3:
        return W("not") || W("and");
    case 4:
        return W("true") || W("none") || W("null") || W("else");
    case 5:
        return W("false");
    default:
        return 0;
    }
#undef W
}

int vp__parse_path_fast(tmpl_ps *p, tx **out, int *built)
{
    *built = 0;
    const char *s = p->s;
    size_t n = p->n, k = p->i;
    while (k < n && is_space((unsigned char)s[k]))
        k++;
    /* the whole shape first, allocating nothing: ASCII names (every one ends at a character
     * that also ends a symbol for the lexer), then optional spaces, then `}}` or `-}}` */
    size_t start = k;
    for (int first = 1;; first = 0) {
        size_t st = k;
        if (k >= n || !is_ident_start((unsigned char)s[k]))
            return 0;
        while (k < n && is_ident((unsigned char)s[k]))
            k++;
        if (first && is_word(s + st, k - st))
            return 0;
        if (k < n && s[k] == '.') {
            k++;
            continue;
        }
        break;
    }
    size_t q = k;
    while (q < n && is_space((unsigned char)s[q]))
        q++;
    if (!(q + 1 < n && s[q] == '}' && s[q + 1] == '}') &&
        !(q + 2 < n && s[q] == '-' && s[q + 1] == '}' && s[q + 2] == '}'))
        return 0;
    /* the nodes the full parser makes for it, with the same spans */
    size_t e0 = start;
    while (e0 < n && is_ident((unsigned char)s[e0]))
        e0++;
    p->i = e0;
    tx *e;
    NEW(e, TX_NAME, start);
    e->u.str.s = vp__ps_intern(p, s + start, e0 - start);
    if (e->u.str.s == NULL)
        return VP_ENOMEM;
    e->u.str.len = (uint32_t)(e0 - start);
    if (is_special_root(e->u.str.s, e0 - start))
        e->envpath = e->u.str.s[0] == '_' && e0 - start == 1 ? 0 : TXP_VAULT;
    else
        e->envpath = e->memo != 0 ? TXP_ENV : 0;
    while (p->i < k) {
        size_t a0 = p->i + 1, a1 = a0; /* past the '.' */
        while (a1 < n && is_ident((unsigned char)s[a1]))
            a1++;
        p->i = a1;
        tx *a;
        NEW(a, TX_ATTR, e->off);
        a->u.attr.obj = e;
        a->u.attr.name = vp__arena_strndup(&p->t->arena, s + a0, a1 - a0);
        if (a->u.attr.name == NULL)
            return VP_ENOMEM;
        a->u.attr.len = (uint32_t)(a1 - a0);
        if (e->envpath == TXP_VAULT)
            a->envpath = TXP_VAULT_MEMBER;
        else if (e->envpath == TXP_ENV && a->memo != 0 && !is_special_root(a->u.attr.name, a1 - a0))
            a->envpath = TXP_ENV;
        TRY(seal(p, a, e, NULL, a0 - 1));
        e = a;
    }
    e->end = (uint32_t)p->i;
    *out = e;
    *built = 1;
    return 0;
}

static int parse_primary(tmpl_ps *p, tx **out)
{
    tmpl_tok k;
    TRY(vp__lex_next(p, &k));
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
            return vp__ps_fail(p, k.off, VP_EINVAL, "number literal too long");
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
        e->u.str.s = vp__ps_intern(p, p->s + k.off, k.len);
        if (e->u.str.s == NULL)
            return VP_ENOMEM;
        e->u.str.len = (uint32_t)k.len;
        if (is_special_root(e->u.str.s, k.len))
            e->envpath = e->u.str.s[0] == '_' && k.len == 1 ? 0 : TXP_VAULT;
        else
            e->envpath = e->memo != 0 ? TXP_ENV : 0;
        break;
    }
    case K_LPAREN: {
        TRY(vp__ps_enter(p, k.off));
        TRY(vp__parse_expr(p, &e));
        p->depth--;
        tmpl_tok c;
        TRY(vp__lex_next(p, &c));
        if (c.type != K_RPAREN)
            return vp__ps_fail(p, c.off, VP_EINVAL, "expected ')', got %s", vp__tok_name(c.type));
        break;
    }
    case K_LBRACK:
    case K_LCURLY:
        return vp__ps_fail(p, k.off, VP_EINVAL, "array and object literals are not supported");
    default:
        return vp__ps_fail(p, k.off, VP_EINVAL, "unexpected %s in expression",
                           vp__tok_name(k.type));
    }
    /* postfix: .name and [expr] */
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        if (vp__tok_is(p, pk, K_OP, ".")) {
            size_t off = pk->off;
            TRY(vp__lex_next(p, &k));
            tmpl_tok nm;
            TRY(vp__lex_next(p, &nm));
            if (nm.type != K_SYM && nm.type != K_BOOL && nm.type != K_NONE)
                return vp__ps_fail(p, nm.off, VP_EINVAL, "expected a name after '.'");
            tx *a;
            NEW(a, TX_ATTR, e->off);
            a->u.attr.obj = e;
            a->u.attr.name = vp__arena_strndup(&p->t->arena, p->s + nm.off, nm.len);
            if (a->u.attr.name == NULL)
                return VP_ENOMEM;
            a->u.attr.len = (uint32_t)nm.len;
            if (e->envpath == TXP_VAULT)
                a->envpath = TXP_VAULT_MEMBER;
            else if (e->envpath == TXP_ENV && a->memo != 0 &&
                     !is_special_root(a->u.attr.name, nm.len))
                a->envpath = TXP_ENV;
            TRY(seal(p, a, e, NULL, off));
            e = a;
        } else if (pk->type == K_LBRACK) {
            TRY(vp__lex_next(p, &k));
            TRY(vp__ps_enter(p, k.off));
            tx *idx;
            TRY(vp__parse_expr(p, &idx));
            p->depth--;
            tmpl_tok c;
            TRY(vp__lex_next(p, &c));
            if (c.type != K_RBRACK)
                return vp__ps_fail(p, c.off, VP_EINVAL, "expected ']', got %s",
                                   vp__tok_name(c.type));
            tx *a;
            NEW(a, TX_INDEX, e->off);
            a->u.bin.a = e;
            a->u.bin.b = idx;
            TRY(seal(p, a, e, idx, k.off));
            e = a;
        } else if (pk->type == K_LPAREN) {
            return vp__ps_fail(p, pk->off, VP_EINVAL, "function calls are not supported");
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

static int parse_unary(tmpl_ps *p, tx **out, int no_filters)
{
    tmpl_tok *pk;
    TRY(vp__lex_peek(p, &pk));
    tx *e = NULL;
    size_t off = pk->off;
    if (vp__tok_is(p, pk, K_OP, "-") || vp__tok_is(p, pk, K_OP, "+")) {
        int neg = p->s[pk->off] == '-';
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        TRY(vp__ps_enter(p, off));
        tx *a;
        TRY(parse_unary(p, &a, 1));
        p->depth--;
        NEW(e, neg ? TX_NEG : TX_POS, off);
        e->u.bin.a = a;
        TRY(seal(p, e, a, NULL, off));
    } else {
        TRY(parse_primary(p, &e));
    }
    if (!no_filters) {
        for (;;) {
            TRY(vp__lex_peek(p, &pk));
            if (pk->type != K_PIPE)
                break;
            tmpl_tok k, nm;
            TRY(vp__lex_next(p, &k));
            TRY(vp__lex_next(p, &nm));
            if (nm.type != K_SYM)
                return vp__ps_fail(p, nm.off, VP_EINVAL, "expected a filter name after '|'");
            size_t fi = 0, nf = sizeof(FILTERS) / sizeof(FILTERS[0]);
            for (; fi < nf; fi++)
                if (strlen(FILTERS[fi].name) == nm.len &&
                    memcmp(FILTERS[fi].name, p->s + nm.off, nm.len) == 0)
                    break;
            if (fi == nf)
                return vp__ps_fail(p, nm.off, VP_EINVAL, "unknown filter '%.*s'",
                                   (int)(nm.len > 64 ? 64 : nm.len), p->s + nm.off);
            tx *f;
            NEW(f, TX_FILTER, off);
            f->op = (uint8_t)FILTERS[fi].f;
            f->u.filt.arg0 = e;
            TRY(vp__lex_peek(p, &pk));
            if (pk->type == K_LPAREN) {
                TRY(vp__lex_next(p, &k));
                TRY(vp__ps_enter(p, k.off));
                TRY(vp__lex_peek(p, &pk));
                if (pk->type != K_RPAREN) {
                    for (;;) {
                        if (f->nargs >= FILTERS[fi].max)
                            return vp__ps_fail(p, pk->off, VP_EINVAL,
                                               "too many arguments for filter '%s'",
                                               FILTERS[fi].name);
                        TRY(vp__parse_expr(p, &f->u.filt.args[f->nargs]));
                        f->nargs++;
                        tmpl_tok c;
                        TRY(vp__lex_next(p, &c));
                        if (c.type == K_RPAREN)
                            break;
                        if (c.type != K_COMMA)
                            return vp__ps_fail(p, c.off, VP_EINVAL, "expected ',' or ')', got %s",
                                               vp__tok_name(c.type));
                        TRY(vp__lex_peek(p, &pk));
                    }
                } else {
                    TRY(vp__lex_next(p, &k));
                }
                p->depth--;
            }
            if (f->nargs < FILTERS[fi].min)
                return vp__ps_fail(p, nm.off, VP_EINVAL, "filter '%s' needs an argument",
                                   FILTERS[fi].name);
            f->end = (uint32_t)p->i;
            const tx *hi = NULL; /* the highest argument */
            for (int i = 0; i < f->nargs; i++)
                if (hi == NULL || f->u.filt.args[i]->height > hi->height)
                    hi = f->u.filt.args[i];
            TRY(seal(p, f, e, hi, nm.off));
            e = f;
        }
    }
    e->end = (uint32_t)p->i;
    *out = e;
    return 0;
}

/* Binary levels, lowest first (Nunjucks' precedence). */
static int parse_pow(tmpl_ps *p, tx **out, tx *seed)
{
    if (seed != NULL)
        *out = seed;
    else
        TRY(parse_unary(p, out, 0));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        if (!vp__tok_is(p, pk, K_OP, "**"))
            return 0;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        tx *b, *e;
        TRY(parse_unary(p, &b, 0));
        NEW(e, TX_ARITH, (*out)->off);
        e->op = OP_POW;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, k.off));
        *out = e;
    }
}

static int parse_mul(tmpl_ps *p, tx **out, tx *seed)
{
    TRY(parse_pow(p, out, seed));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        int op;
        if (vp__tok_is(p, pk, K_OP, "*"))
            op = OP_MUL;
        else if (vp__tok_is(p, pk, K_OP, "/"))
            op = OP_DIV;
        else if (vp__tok_is(p, pk, K_OP, "//"))
            op = OP_FLOORDIV;
        else if (vp__tok_is(p, pk, K_OP, "%"))
            op = OP_MOD;
        else
            return 0;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        tx *b, *e;
        TRY(parse_pow(p, &b, NULL));
        NEW(e, TX_ARITH, (*out)->off);
        e->op = (uint8_t)op;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, k.off));
        *out = e;
    }
}

static int parse_add(tmpl_ps *p, tx **out, tx *seed)
{
    TRY(parse_mul(p, out, seed));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        int op;
        if (vp__tok_is(p, pk, K_OP, "+"))
            op = OP_ADD;
        else if (vp__tok_is(p, pk, K_OP, "-"))
            op = OP_SUB;
        else
            return 0;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        tx *b, *e;
        TRY(parse_mul(p, &b, NULL));
        NEW(e, TX_ARITH, (*out)->off);
        e->op = (uint8_t)op;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, k.off));
        *out = e;
    }
}

static int parse_concat(tmpl_ps *p, tx **out, tx *seed)
{
    TRY(parse_add(p, out, seed));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        if (pk->type != K_TILDE)
            return 0;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        tx *b, *e;
        TRY(parse_add(p, &b, NULL));
        NEW(e, TX_CONCAT, (*out)->off);
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, k.off));
        *out = e;
    }
}

static int parse_compare(tmpl_ps *p, tx **out, tx *seed)
{
    static const struct {
        const char *t;
        tx_op op;
    } ops[] = {{"===", OP_SEQ}, {"!==", OP_SNE}, {"==", OP_EQ}, {"!=", OP_NE},
               {"<=", OP_LE},   {">=", OP_GE},   {"<", OP_LT},  {">", OP_GT}};
    TRY(parse_concat(p, out, seed));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        size_t q = 0, nq = sizeof(ops) / sizeof(ops[0]);
        for (; q < nq; q++)
            if (vp__tok_is(p, pk, K_OP, ops[q].t))
                break;
        if (q == nq)
            return 0;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        tx *b, *e;
        TRY(parse_concat(p, &b, NULL));
        NEW(e, TX_CMP, (*out)->off);
        e->op = (uint8_t)ops[q].op;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, k.off));
        *out = e;
    }
}

static int parse_in(tmpl_ps *p, tx **out, tx *seed)
{
    TRY(parse_compare(p, out, seed));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        int invert = 0;
        size_t save = p->i, opoff = pk->off;
        if (vp__tok_is(p, pk, K_SYM, "not")) {
            tmpl_tok k, k2;
            TRY(vp__lex_next(p, &k));
            TRY(vp__lex_next(p, &k2));
            if (!vp__tok_is(p, &k2, K_SYM, "in")) {
                p->i = save;
                return 0;
            }
            invert = 1;
        } else if (vp__tok_is(p, pk, K_SYM, "in")) {
            tmpl_tok k;
            TRY(vp__lex_next(p, &k));
        } else {
            return 0;
        }
        tx *b, *e;
        TRY(parse_compare(p, &b, NULL));
        NEW(e, TX_IN, (*out)->off);
        e->op = (uint8_t)invert;
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, opoff));
        *out = e;
    }
}

static int parse_not(tmpl_ps *p, tx **out, tx *seed)
{
    if (seed != NULL)
        return parse_in(p, out, seed);
    tmpl_tok *pk;
    TRY(vp__lex_peek(p, &pk));
    if (vp__tok_is(p, pk, K_SYM, "not")) {
        size_t off = pk->off;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        TRY(vp__ps_enter(p, off));
        tx *a, *e;
        TRY(parse_not(p, &a, NULL));
        p->depth--;
        NEW(e, TX_NOT, off);
        e->u.bin.a = a;
        TRY(seal(p, e, a, NULL, off));
        *out = e;
        return 0;
    }
    return parse_in(p, out, NULL);
}

static int parse_and(tmpl_ps *p, tx **out, tx *seed)
{
    TRY(parse_not(p, out, seed));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        if (!vp__tok_is(p, pk, K_SYM, "and"))
            return 0;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        tx *b, *e;
        TRY(parse_not(p, &b, NULL));
        NEW(e, TX_AND, (*out)->off);
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, k.off));
        *out = e;
    }
}

/* Tokens that no operator level continues with: an expression that is one unary operand
 * followed by one of these is complete. */
static int ends_expr(tk_type t)
{
    return t == K_VAR_END || t == K_BLOCK_END || t == K_RPAREN || t == K_RBRACK || t == K_COMMA ||
           t == K_COLON || t == K_EOF;
}

int vp__parse_expr(tmpl_ps *p, tx **out)
{
    /* The common expression is a single operand (`{{ a.b | f }}`): parse it first, and only when
     * an operator follows walk the precedence levels, with it as their first operand (the
     * levels would have parsed exactly this operand first; `not` starts at the top). */
    tmpl_tok *pk0;
    TRY(vp__lex_peek(p, &pk0));
    tx *seed = NULL;
    if (!vp__tok_is(p, pk0, K_SYM, "not")) {
        TRY(parse_unary(p, &seed, 0));
        TRY(vp__lex_peek(p, &pk0));
        if (ends_expr(pk0->type)) {
            seed->end = (uint32_t)p->i;
            *out = seed;
            return 0;
        }
    }
    TRY(parse_and(p, out, seed));
    for (;;) {
        tmpl_tok *pk;
        TRY(vp__lex_peek(p, &pk));
        if (!vp__tok_is(p, pk, K_SYM, "or"))
            break;
        tmpl_tok k;
        TRY(vp__lex_next(p, &k));
        tx *b, *e;
        TRY(parse_and(p, &b, NULL));
        NEW(e, TX_OR, (*out)->off);
        e->u.bin.a = *out;
        e->u.bin.b = b;
        TRY(seal(p, e, e->u.bin.a, e->u.bin.b, k.off));
        *out = e;
    }
    tmpl_tok *pk;
    TRY(vp__lex_peek(p, &pk));
    if (vp__tok_is(p, pk, K_SYM, "if"))
        return vp__ps_fail(p, pk->off, VP_EINVAL, "inline if expressions are not supported");
    (*out)->end = (uint32_t)p->i;
    return 0;
}
