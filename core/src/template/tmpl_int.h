/*
 * tmpl_int - internals shared by the template engine's files: the arena (tmpl_arena.c), the AST
 * (built by the lexer tmpl_lex.c, the expression parser tmpl_expr.c and the statement parser
 * tmpl_parse.c), error excerpts (tmpl_err.c), values and their JavaScript semantics
 * (tmpl_value.c), expression evaluation (tmpl_eval.c), the renderer (tmpl_render.c), filters
 * (tmpl_filters.c), environments (tmpl_env.c), the memo of parsed references (tmpl_refcache.c)
 * and the public API (template.c).
 *
 * The AST lives in one arena owned by the vp_template; text nodes are (offset, length) slices
 * of the template's own copy of the source; names and string literals are NUL-terminated arena
 * copies so environment lookups need no temporary strings.
 */
#ifndef VP_TMPL_INT_H
#define VP_TMPL_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "vaultplug/template.h"

/* ---- environments (tmpl_env.c) ----------------------------------------------------------- */
/* JSON nesting limit of environments and of vault tag configs. */
#define VP__TMPL_JSON_DEPTH 64
struct vp_env {
    json_object *root; /* merged object */
    uint64_t gen;      /* unique per environment state (renders memoise lookups by it) */
};

/* ---- arena -------------------------------------------------------------------------------- */
typedef struct vp__arena_chunk vp__arena_chunk;
typedef struct vp__arena {
    vp__arena_chunk *head;
    size_t used, cap;              /* in head */
    int secure;                    /* chunks from the secure arena (values derived from secrets) */
    size_t total;                  /* bytes handed out in all chunks (for limits) */
    vp__arena_chunk *inline_chunk; /* first chunk in memory the arena does not own, or NULL */
} vp__arena;

void *vp__arena_alloc(vp__arena *a, size_t n);
/* Bytes of memory an inline first chunk of cap usable bytes takes (max_align_t aligned). */
size_t vp__arena_inline_size(size_t cap);
/* Use size bytes at mem (max_align_t aligned, owned by the caller and outliving the arena) as
 * the first chunk of an empty plain arena. */
void vp__arena_init_inline(vp__arena *a, void *mem, size_t size);
void vp__arena_free(vp__arena *a);
typedef struct vp__arena_mark {
    vp__arena_chunk *head;
    size_t used;
    size_t total; /* bytes handed out when the mark was taken (released ones stop counting) */
} vp__arena_mark;
vp__arena_mark vp__arena_mark_get(const vp__arena *a);
/* Release (and wipe) everything allocated after mark. */
void vp__arena_release(vp__arena *a, vp__arena_mark m);
/* Release (and wipe) everything but keep the first chunk, empty, for reuse. */
void vp__arena_reset(vp__arena *a);

/* ---- AST ----------------------------------------------------------------------------------- */
typedef enum tx_kind {
    TX_STR,
    TX_NUM,
    TX_BOOL,
    TX_NONE,
    TX_NAME,  /* variable or environment member; `_` and `vault` handled at eval */
    TX_ATTR,  /* a.name */
    TX_INDEX, /* a[expr] */
    TX_FILTER,
    TX_NOT,
    TX_NEG,
    TX_POS,
    TX_AND,
    TX_OR,
    TX_CMP,   /* op = tx_op */
    TX_IN,    /* op = 1 for `not in` */
    TX_ARITH, /* op = tx_op */
    TX_CONCAT
} tx_kind;

typedef enum tx_op {
    OP_EQ,
    OP_NE,
    OP_SEQ,
    OP_SNE,
    OP_LT,
    OP_GT,
    OP_LE,
    OP_GE,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_FLOORDIV,
    OP_MOD,
    OP_POW
} tx_op;

typedef enum tx_filter {
    F_DEFAULT,
    F_UPPER,
    F_LOWER,
    F_TRIM,
    F_URLENCODE,
    F_BASE64,
    F_B64DECODE,
    F_JSON
} tx_filter;

enum { TXP_ENV = 1, TXP_VAULT = 2, TXP_VAULT_MEMBER = 3 };

typedef struct tx tx;
struct tx {
    uint8_t kind, op;
    uint8_t nargs;     /* filters */
    uint8_t envpath;   /* TX_NAME/TX_ATTR, unless a variable shadows the root name: TXP_ENV a
                        * chain of plain names from a root that is not `_` or the vault (with
                        * memo slots; the value depends on the environment only), TXP_VAULT the
                        * name `vault`, TXP_VAULT_MEMBER `vault.name`; 0 otherwise */
    uint32_t off, end; /* source span (for messages: the excerpt names the expression) */
    uint16_t memo;     /* TX_NAME/TX_ATTR: 1-based slot in the render's lookup memo, 0 = none */
    uint16_t height;   /* operations on the longest path from this node down to a leaf (0 for
                        * a leaf): the evaluator's recursion depth, bounded at parse time by
                        * vp__tmpl_max_chain() so no walker of the tree can exhaust the stack */
    union {
        struct {
            const char *s; /* NUL-terminated arena copy */
            uint32_t len;
        } str; /* TX_STR, TX_NAME */
        double num;
        int b;
        struct {
            tx *a, *b;
        } bin; /* binary ops, TX_INDEX (a[b]), unary (a) */
        struct {
            tx *obj;
            const char *name;
            uint32_t len;
        } attr;
        struct {
            tx *arg0;
            tx *args[2];
        } filt; /* op = tx_filter */
    } u;
};

typedef enum tn_kind { TN_TEXT, TN_OUTPUT, TN_IF, TN_FOR, TN_SET, TN_VAULT } tn_kind;

typedef struct tn tn;
struct tn {
    uint8_t kind;
    uint32_t off; /* source offset of the tag (errors) */
    tn *next;
    union {
        struct {
            uint32_t off, len;
        } text;
        tx *expr;
        struct {
            tx *cond;
            tn *body, *els;
        } ifs;
        struct {
            const char *k, *v; /* v NULL for the one-name form */
            tx *iter;
            tn *body, *els;
        } fr;
        struct {
            const char *name;
            tx *val;
        } set;
        struct {
            tx *args[3];
            uint8_t nargs;
            uint32_t line, col; /* of the tag (vp_template_ref), computed once at parse time */
            /* URI form with a literal argument: the reference parsed once at parse time (strings
             * in the template's arena; line/column set), or NULL (evaluated per render) */
            const vp_template_ref *pre;
        } vault;
    } u;
};

typedef struct tvar tvar;
typedef struct tvault_entry tvault_entry;
typedef struct tsplice tsplice;

/* One memoised environment lookup: member `name` of object parent (the node's name) was val
 * in the environment of generation gen. Environments are immutable while rendered and
 * every environment state has its own generation, so a matching gen proves parent and val are
 * alive and unchanged (the engine makes no JSON objects of its own: every TV_JSON points into
 * the environment). Holds pointers into the environment only, never a secret. */
typedef struct tmemo tmemo;

typedef struct vp__render vp__render;

struct vp_template {
    char *src; /* own copy, NUL-terminated */
    size_t len;
    tn *root;
    vp__arena arena;
    vp_template_limits limits;
    /* The state of the last finished render (work arrays, memo, wiped secure buffers, all
     * emptied), taken whole by the next render with one atomic exchange so a repeated render
     * allocates nothing; concurrent renders that find the slot empty take the thread's pooled
     * state or allocate their own. Freed (or pooled) with the template. */
    _Atomic(vp__render *) spare;
    uint32_t nmemo; /* memo slots handed out to TX_NAME/TX_ATTR nodes (at most TMPL_MEMO_MAX) */
};
/* Environment lookups memoised per expression node: a bound on the memo's size (32 B a slot;
 * slot numbers fit tx.memo). */
#define TMPL_MEMO_MAX 65535u

/* Longest chain of operations one expression may apply in a row (operators, filters, `.name`
 * and `[...]`, `not`/`-`/`+`; the tree's height): four per level of max_depth, so a host that
 * lowers max_depth for a small stack lowers this too. Chains are parsed in a loop but evaluated
 * recursively, one call per link: without this bound `{{ 1+1+...+1 }}` with 50,000 links
 * overflowed the stack. */
static inline size_t vp__tmpl_max_chain(const vp_template_limits *l)
{
    return l->max_depth > 65535u / 2 ? 65535u : l->max_depth * 2;
}

/* ---- parser state (tmpl_lex.c, tmpl_expr.c, tmpl_parse.c) --------------------------------- */

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

typedef struct tmpl_tok {
    tk_type type;
    size_t off, len;  /* raw span */
    const char *sval; /* K_STR: decoded arena copy; K_SYM: arena copy */
    size_t slen;
} tmpl_tok;

/* An interned name: the text may hold any byte (a NUL too), so its length is kept. */
typedef struct tmpl_iname {
    const char *s;
    size_t n;
} tmpl_iname;

typedef struct tmpl_ps {
    vp_template *t;
    const char *s;
    size_t n;
    size_t i;
    tmpl_tok pk;
    size_t pk_pos, pk_end; /* pk is valid when pk_pos == i */
    int pk_valid;
    int drop_ws;
    size_t depth;     /* nesting as written: enclosing blocks, brackets and unary operators */
    size_t max_chain; /* vp__tmpl_max_chain of the template's limits */
    vp_error *err;
    size_t lc_off;            /* line/column tracker: tags are met in source order, so */
    uint32_t lc_line, lc_col; /* positions are counted incrementally (linear overall) */
    tmpl_iname *itab;         /* interned names (open addressing; freed after the parse) */
    size_t icap, icount;
    tmpl_iname itab_inline[32]; /* the first table (most templates need no other) */
} tmpl_ps;

/* The name of the loop variable: interned names that spell `loop` are this pointer. */
extern const char vp__tmpl_loop[];
/* The template's one copy of name s[0..n) (NULL: out of memory). Variable and root names are
 * interned, so the renderer finds variables by pointer comparison. */
const char *vp__ps_intern(tmpl_ps *p, const char *s, size_t n);

/* tmpl_arena.c: NUL-terminated arena copy of s[0..n). */
char *vp__arena_strndup(vp__arena *a, const char *s, size_t n);

/* tmpl_lex.c */
/* Syntax error at source offset off (see vp__tmpl_error). Returns code. */
int vp__ps_fail(tmpl_ps *p, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* memmem without _GNU_SOURCE. */
const char *vp__find_bytes(const char *h, size_t hn, const char *nd, size_t nn);
/* Non-zero if the source at i starts with lit. (Inline, as vp__tok_is: the parser asks these
 * with constant text at every precedence level, so the lengths fold at compile time.) */
static inline int vp__lex_starts(const tmpl_ps *p, size_t i, const char *lit)
{
    size_t l = strlen(lit);
    return i + l <= p->n && memcmp(p->s + i, lit, l) == 0;
}
/* The token at p->i (lexed once, cached) / the same and advance past it. 0 or an error. */
int vp__lex_peek_slow(tmpl_ps *p, tmpl_tok **out);
static inline int vp__lex_peek(tmpl_ps *p, tmpl_tok **out)
{
    /* every precedence level peeks at the same token: the cached case inline */
    if (p->pk_valid && p->pk_pos == p->i) {
        *out = &p->pk;
        return 0;
    }
    return vp__lex_peek_slow(p, out);
}
int vp__lex_next(tmpl_ps *p, tmpl_tok *out);
/* Token of this type (and, if text is not NULL, this exact text). */
static inline int vp__tok_is(const tmpl_ps *p, const tmpl_tok *k, tk_type type, const char *text)
{
    if (k->type != type)
        return 0;
    if (text == NULL)
        return 1;
    size_t l = strlen(text);
    return k->len == l && memcmp(p->s + k->off, text, l) == 0;
}
/* Human name of a token type (messages). */
const char *vp__tok_name(tk_type t);

/* tmpl_expr.c */
/* Parse one expression (with filters). */
int vp__parse_expr(tmpl_ps *p, tx **out);
/* `{{ name(.name)* }}`, the most common output, without the lexer: *built = 1 and *out the
 * nodes the full parser makes for it (p->i after the last name), or *built = 0 and nothing
 * consumed when the text has another shape. 0 or an error. */
int vp__parse_path_fast(tmpl_ps *p, tx **out, int *built);
/* One more level of nesting as the template's author sees it (a block inside a block, a
 * parenthesis, `[`, filter arguments, a unary operator): VP_EINVAL beyond limits.max_depth (the
 * caller decrements). Every recursion of the parser passes through one. */
int vp__ps_enter(tmpl_ps *p, size_t off);

/* tmpl_refcache.c: memo of parsed URI-form references by source text. get: 1 and ref's id,
 * uri, scheme, credential, json_key set (arena copies) on a hit, else 0. put: remember one. */
int vp__refcache_get(const char *src, size_t len, vp__arena *ar, vp_template_ref *ref);
void vp__refcache_put(const char *src, size_t len, const char *uri, const char *scheme,
                      const char *cred, const char *json_key);

/* tmpl_parse.c: parse t->src into t->root. */
int vp__tmpl_parse(vp_template *t, vp_error *err);

/* Format "line L, column C: <msg>\n<excerpt>\n<caret>" for source offset off into err (NULL-
 * safe). msg must not contain values (only template text, names, types). Returns code. */
int vp__tmpl_error(vp_error *err, const char *src, size_t len, size_t off, int code,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- values -------------------------------------------------------------------------------- */
typedef enum tv_kind {
    TV_UNDEF,
    TV_NULL,
    TV_BOOL,
    TV_NUM,
    TV_STR,
    TV_JSON,  /* array or object from the environment */
    TV_LOOP,  /* the `loop` variable */
    TV_VAULT, /* the `vault` object */
    TV_ROOT   /* the `_` alias (the environment root object) */
} tv_kind;

typedef struct tmpl_loop {
    size_t index0, length;
} tmpl_loop;

typedef struct tv {
    uint8_t t;
    uint8_t secret; /* derived from a local-vault value: masked in PREVIEW, kept in secure memory */
    uint32_t len;   /* TV_STR */
    union {
        double n;
        int b;
        const char *s; /* TV_STR: not necessarily NUL-terminated */
        json_object *j;
        const tmpl_loop *loop;
    } u;
} tv;

struct tmemo {
    uint64_t gen;
    uint64_t fullgen; /* envpath nodes: val is the node's value, unshadowed, in this generation
                       * (its parent need not be evaluated again) */
    const json_object *parent;
    tv val; /* vp__tv_from_json of the member (TV_UNDEF: absent); strings point into the env */
};

/* tmpl_value.c: JavaScript semantics */
/* Number -> shortest round-trip string as JS's Number::toString; buf needs 32 bytes. */
size_t vp__js_num(double d, char *buf);
/* Convert a JSON scalar to a tv (arrays/objects: TV_JSON). NULL json -> TV_NULL. */
tv vp__tv_from_json(json_object *j);
int vp__tv_truthy(const tv *v);
double vp__tv_tonumber(const tv *v);
/* JS loose (==) or strict (===) equality. */
int vp__tv_equal(const tv *a, const tv *b, int strict);
/* JS relational a < b (op LT/GT/LE/GE). */
int vp__tv_compare(const tv *a, const tv *b, int op);
/* JS object key order of a json object: array-index keys ascending first, then the others in
 * insertion order. Fills keys[] (capacity n = json_object_object_length). */
void vp__json_js_keys(json_object *o, const char **keys, size_t n);
/* Number of UTF-16 code units of a UTF-8 string (JS .length). */
size_t vp__utf16_len(const char *s, size_t n);
/* Length of the JS whitespace (\s) sequence at s (0 if none); trailing variant scans back. */
size_t vp__js_space_at(const char *s, size_t n);
size_t vp__js_space_before(const char *s, size_t n);

/* ---- render state (tmpl_render.c, tmpl_filters.c, template.c) ----------------------------- */
struct tvar {
    const char *name;
    tv v;
};

struct tvault_entry {
    char *name; /* plain (names are not secret): malloc'd if too long for sname, else NULL */
    char sname[40];
    vp_buf val; /* secure */
    int found;
};

struct tsplice {
    size_t off;       /* output offset where the reference's value goes */
    uint32_t ref;     /* index into refs */
    uint32_t src_off; /* the tag's offset in the template (error excerpts) */
    uint32_t gap;     /* zero bytes left at off for the value (its length last time) */
    uint32_t vlen;    /* length of the value spliced in (kept for the next render's gap) */
};

/* The state of one render. Allocated once and reused: a finished render empties it (wipes
 * every secure buffer, keeps the storage) and parks it in its template's spare slot, or in the
 * thread's pool when the template is freed (so the first render of the next parsed template
 * allocates nothing either). */
struct vp__render {
    const vp_template *t;
    const vp_template *memo_for; /* template whose node slots the memo holds (NULL: none) */
    json_object *root;           /* merged environment (may be NULL) */
    uint64_t env_gen;            /* its generation (0: none; the memo is then unused) */
    tmemo *memo;                 /* t->nmemo slots, or NULL */
    size_t capmemo;
    const vp_vault_source *vault;
    vp_render_mode mode;
    uint32_t flags;
    vp_template_limits lim;
    vp_buf out;        /* secure: phase-one output without external values */
    vp_buf tmp;        /* secure scratch for stringification */
    vp__arena scratch; /* secure: strings made by filters and operators */
    tvar *vars;
    size_t nvars, capvars;
    size_t varshw; /* slots ever used since the last wipe */
    tvault_entry *vc;
    size_t nvc, capvc;
    size_t nvcbuf; /* entries [0, nvcbuf) own a secure value buffer (empty and wiped when not in
                    * use): the next lookup refills it without allocating */
    vp_template_ref *refs;
    uint8_t *owned; /* per ref: 1 = strings malloc'd by this render, 0 = borrowed from the
                     * template's arena (a parse-time reference; lives as long as the template) */
    size_t nrefs, caprefs;
    uint32_t *hidx; /* open addressing over refs (index + 1; 0 = empty); built only past
                     * REF_LINEAR refs, a linear scan is cheaper below */
    size_t hcap;
    tsplice *sp;
    size_t nsp, capsp;
    size_t npred;       /* sp[0, npred).vlen: value lengths of the last render of memo_for */
    size_t lastout;     /* output length of the last render (0: none yet) */
    size_t outlim;      /* limit on out.len: max_output plus the gaps left in it */
    vp_ref_result *res; /* the resolver's results (template.c), capres entries */
    size_t capres;
    size_t steps;
    vp_error *err;
};

/* tmpl_render.c */
int vp__render_run(vp__render *r);
/* A render state for template t: its spare, the thread's pooled one, or a new one (NULL: out of
 * memory). Its per-render fields are zero; the caller sets them. */
vp__render *vp__render_get(const vp_template *t);
/* Empty r (wiping every value and reference it holds) and park it for the next render. */
void vp__render_put(vp__render *r);
/* A template is being freed: its spare state goes to the thread's pool (or is freed). */
void vp__render_spare_release(vp_template *t);
/* Make every reference own its strings (before handing r->refs to a caller). VP_ENOMEM. */
int vp__render_own_refs(vp__render *r);
int vp__render_fail(vp__render *r, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Append the JS String() of v to b (bounded by max_output). */
int vp__tv_append_string(vp__render *r, const tv *v, vp_buf *b, size_t off);
/* Copy b's contents into scratch as a TV_STR (secret as given) and reset b. */
int vp__tv_from_buf(vp__render *r, vp_buf *b, int secret, tv *out);
int vp__render_member(vp__render *r, const tv *obj, const char *name, size_t len, tv *out,
                      size_t off);

/* tmpl_eval.c */
/* Evaluate e. Strings it makes live in r->scratch (release with an arena mark). */
int vp__tmpl_eval(vp__render *r, const tx *e, tv *out);
/* Value of local-vault secret name (looked up once per render, then cached): a secret TV_STR,
 * or TV_UNDEF when there is none. 0 or an error (the render fails). */
int vp__vault_get(vp__render *r, const char *name, size_t len, tv *out, size_t off);
/* Whether a variable binds the root name of envpath node e. */
int vp__path_shadowed(vp__render *r, const tx *e);
/* Innermost variable called name (an interned name: compared by pointer), or NULL. */
tvar *vp__var_find(vp__render *r, const char *name);
/* Bind a new innermost variable (VP_ELIMIT past 100000, VP_ENOMEM). */
int vp__var_push(vp__render *r, const char *name, const tv *val, size_t off);

/* tmpl_filters.c */
int vp__tmpl_filter(vp__render *r, const tx *e, const tv *in, const tv *args, tv *out);
int vp__tv_json(vp__render *r, const tv *v, const char *indent, size_t ilen, vp_buf *b, size_t off,
                int *undefined);

/* template.c */
/* Free the strings of one reference (not the struct itself). */
void vp__template_ref_clear(vp_template_ref *ref);
/* Build a reference from the one-argument form (a URI) or the three-argument form. */
int vp__tmpl_ref_uri(vp__render *r, const char *s, size_t len, vp_template_ref *ref, size_t off);
int vp__tmpl_ref_tag3(vp__render *r, const tv *args, vp_template_ref *ref, size_t off);

#endif
