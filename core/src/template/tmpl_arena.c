/*
 * tmpl_arena - the bump allocator behind the template engine: the AST of a vp_template (plain
 * memory) and the strings a render makes (secure memory, wiped on release). Marks let the
 * renderer drop the temporaries of one output expression at once.
 */
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

/* The first chunk fits the secure arena's largest small size class (4096 bytes with its
 * header): a bigger block would cost a sodium_malloc (mmap, mprotect, mlock) on every render. */
#define ARENA_MIN (4096u - sizeof(vp__arena_chunk))

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

size_t vp__arena_inline_size(size_t cap)
{
    return sizeof(vp__arena_chunk) + cap;
}

void vp__arena_init_inline(vp__arena *a, void *mem, size_t size)
{
    vp__arena_chunk *c = mem;
    c->prev = NULL;
    c->cap = size - sizeof(vp__arena_chunk);
    a->head = c;
    a->used = 0;
    a->cap = c->cap;
    a->inline_chunk = c;
}

void vp__arena_free(vp__arena *a)
{
    vp__arena_chunk *c = a->head;
    while (c != NULL) {
        vp__arena_chunk *p = c->prev;
        if (c != a->inline_chunk)
            chunk_free(a, c);
        c = p;
    }
    a->head = NULL;
    a->used = a->cap = a->total = 0;
}

vp__arena_mark vp__arena_mark_get(const vp__arena *a)
{
    vp__arena_mark m = {a->head, a->used, a->total};
    return m;
}

void vp__arena_release(vp__arena *a, vp__arena_mark m)
{
    while (a->head != m.head && a->head != NULL) {
        vp__arena_chunk *p = a->head->prev;
        if (a->head != a->inline_chunk)
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
    /* total bounds what a render holds at once: released bytes no longer count (a loop that
     * makes and drops strings each iteration must not hit the bound). */
    if (a->total > m.total)
        a->total = m.total;
}

void vp__arena_reset(vp__arena *a)
{
    vp__arena_chunk *first = a->head;
    while (first != NULL && first->prev != NULL)
        first = first->prev;
    vp__arena_mark m = {first, 0, 0};
    if (first != NULL && (a->head != first || a->used > 0))
        vp__arena_release(a, m);
    a->total = 0;
}

char *vp__arena_strndup(vp__arena *a, const char *s, size_t n)
{
    char *d = vp__arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
