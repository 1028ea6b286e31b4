/*
 * secmem - the process-wide secure arena (see secmem.h).
 *
 * Layout. Small blocks (<= 4096 bytes) are carved out of 64 KiB slabs obtained with
 * sodium_malloc (mlock'ed, guard pages at both slab edges, MADV_DONTDUMP). Every block is
 * preceded by a 16-byte header so the user pointer stays 16-byte aligned and free/usable/realloc
 * find the size class in O(1). Size classes are multiples of 16 in steps of about 1.5x (16, 32,
 * 48, 64, 96, ... 3072, 4096) rather than pure powers of two: secrets are usually stored as
 * "len + 1" bytes (NUL), and a 1 KiB secret would otherwise land in the 2 KiB class and waste
 * half of it. Blocks above 4096 bytes get their own sodium_malloc, linked on an intrusive
 * doubly-linked list so vp__secmem_owns() can find them.
 *
 * Free blocks are wiped before they go on their class's free list; the free-list link lives in
 * the header, not in the user area, so a freed block reads as all zeroes. A fresh slab is zeroed
 * once (sodium_malloc fills with a garbage pattern), so every block handed out is zero without
 * a memset on the allocation path.
 *
 * Slabs are never returned to the OS while the process runs: the arena is process-wide and
 * secrets churn (cache refills, re-renders), so freed blocks are reused immediately; keeping the
 * slabs also keeps every address stable and valid, so a stale pointer into the arena reads
 * zeroes instead of faulting or reading someone else's data. libsodium frees nothing at exit
 * either; the pages die with the process (they are excluded from core dumps meanwhile).
 *
 * One mutex guards everything: alloc/free are a few dozen instructions plus a wipe, far below
 * the cost of anything that produces a secret (HTTP, decryption).
 */
#include "secmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vaultplug/status.h"

#define SLAB_SIZE   ((size_t)64 * 1024)
#define HDR_SIZE    16u
#define SMALL_MAX   4096u
#define MAGIC_LIVE  0x5ec3a11cu /* block handed out */
#define MAGIC_FREE  0x5ec3f7eeu /* block on a free list */
#define CLASS_LARGE 0xffffu
/* Refuse absurd sizes before any arithmetic can overflow; nothing in vaultplug holds a single
 * secret anywhere near this large (buffers stop at 1 GiB). */
#define LARGE_MAX ((size_t)1 << 40)

static const uint32_t class_size[] = {16,  32,  48,  64,   96,   128,  192,  256,
                                      384, 512, 768, 1024, 1536, 2048, 3072, 4096};
#define NCLASSES (sizeof(class_size) / sizeof(class_size[0]))

/* Header in front of every block (small and large). 16 bytes on LP64. */
typedef struct blk {
    union {
        size_t size;      /* live: bytes requested */
        struct blk *next; /* free: next block of the same class */
    } u;
    uint32_t magic;
    uint16_t cls; /* index in class_size, or CLASS_LARGE */
    uint16_t pad;
} blk;

_Static_assert(sizeof(blk) <= HDR_SIZE, "block header must fit in 16 bytes");

/* A large block: list links, then the common header, then the user area. */
typedef struct large {
    struct large *prev, *next;
    size_t alloc_size; /* bytes given to sodium_malloc */
    size_t pad;
    blk h;
    unsigned char pad2[HDR_SIZE - sizeof(blk)];
} large;

_Static_assert(sizeof(large) % 16 == 0, "large header keeps 16-byte alignment");

static struct {
    pthread_mutex_t mu;
    blk *free_list[NCLASSES];
    unsigned char **slabs; /* base of every slab, for owns() */
    size_t nslabs, slabs_cap;
    unsigned char *bump, *bump_end; /* unused tail of the newest slab */
    large *large_head;
    size_t live_blocks, live_bytes, large_blocks;
} A = {.mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = VP_EINTERNAL;

/* A fork() while another thread holds the arena lock would leave it locked forever in the
 * child; holding it across fork() keeps the child's arena consistent and usable. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&A.mu);
}

static void fork_release(void)
{
    pthread_mutex_unlock(&A.mu);
}

static void do_init(void)
{
    init_rc = sodium_init() < 0 ? VP_EINTERNAL : 0;
    if (init_rc == 0 && pthread_atfork(fork_prepare, fork_release, fork_release) != 0)
        init_rc = VP_EINTERNAL;
}

int vp__secmem_init(void)
{
    pthread_once(&init_once, do_init);
    return init_rc;
}

static inline blk *hdr_of(const void *p)
{
    return (blk *)((unsigned char *)(uintptr_t)p - HDR_SIZE);
}

static inline void *user_of(blk *b)
{
    return (unsigned char *)b + HDR_SIZE;
}

static inline large *large_of(blk *b)
{
    return (large *)((unsigned char *)b - offsetof(large, h));
}

/* Smallest class holding n bytes; n <= SMALL_MAX. */
static inline unsigned class_for(size_t n)
{
    unsigned c = 0;
    while (class_size[c] < n)
        c++;
    return c;
}

/* A corrupted header or a double free means memory corruption in the caller: continuing would
 * hand the same secret block to two owners. Stop the process like libc does. */
static void corrupt(const char *what)
{
    fprintf(stderr, "vaultplug: secure arena: %s\n", what);
    abort();
}

/* Carve blocks of the largest fitting classes out of [p, end) onto the free lists. The bytes
 * are already zero. Called with the mutex held. */
static void carve_tail(unsigned char *p, unsigned char *end)
{
    for (int c = (int)NCLASSES - 1; c >= 0; c--) {
        size_t stride = HDR_SIZE + class_size[c];
        while ((size_t)(end - p) >= stride) {
            blk *b = (blk *)p;
            b->magic = MAGIC_FREE;
            b->cls = (uint16_t)c;
            b->u.next = A.free_list[c];
            A.free_list[c] = b;
            p += stride;
        }
    }
}

/* Start a new slab; the unused tail of the previous one is carved into smaller blocks first so
 * no slab byte is lost. Mutex held. */
static int new_slab(void)
{
    if (A.nslabs == A.slabs_cap) {
        size_t ncap = A.slabs_cap ? A.slabs_cap * 2 : 16;
        /* The slab index holds only addresses, not secrets: plain memory is fine. */
        unsigned char **ns = realloc(A.slabs, ncap * sizeof(*ns));
        if (ns == NULL)
            return -1;
        A.slabs = ns;
        A.slabs_cap = ncap;
    }
    unsigned char *s = sodium_malloc(SLAB_SIZE);
    if (s == NULL)
        return -1;
    sodium_memzero(s, SLAB_SIZE); /* libsodium fills new memory with 0xdb */
    if (A.bump != NULL)
        carve_tail(A.bump, A.bump_end);
    A.slabs[A.nslabs++] = s;
    A.bump = s;
    A.bump_end = s + SLAB_SIZE;
    return 0;
}

static void *alloc_small(size_t n)
{
    unsigned c = class_for(n);
    size_t stride = HDR_SIZE + class_size[c];
    pthread_mutex_lock(&A.mu);
    blk *b = A.free_list[c];
    if (b != NULL) {
        if (b->magic != MAGIC_FREE)
            corrupt("free list corrupted");
        A.free_list[c] = b->u.next;
    } else {
        if (A.bump == NULL || (size_t)(A.bump_end - A.bump) < stride) {
            if (new_slab() != 0) {
                pthread_mutex_unlock(&A.mu);
                return NULL;
            }
        }
        b = (blk *)A.bump;
        A.bump += stride;
        b->cls = (uint16_t)c;
    }
    b->magic = MAGIC_LIVE;
    b->u.size = n;
    A.live_blocks++;
    A.live_bytes += n;
    pthread_mutex_unlock(&A.mu);
    return user_of(b);
}

static void *alloc_large(size_t n)
{
    /* Round to 16 so sodium_malloc (which aligns the end of the block to the guard page) returns
     * a 16-byte aligned start. */
    size_t asz = (sizeof(large) + n + 15u) & ~(size_t)15u;
    large *l = sodium_malloc(asz);
    if (l == NULL)
        return NULL;
    sodium_memzero(l, asz);
    l->alloc_size = asz;
    l->h.magic = MAGIC_LIVE;
    l->h.cls = CLASS_LARGE;
    l->h.u.size = n;
    pthread_mutex_lock(&A.mu);
    l->next = A.large_head;
    if (A.large_head != NULL)
        A.large_head->prev = l;
    A.large_head = l;
    A.live_blocks++;
    A.live_bytes += n;
    A.large_blocks++;
    pthread_mutex_unlock(&A.mu);
    return user_of(&l->h);
}

void *vp__secmem_alloc(size_t n)
{
    if (vp__secmem_init() != 0 || n > LARGE_MAX)
        return NULL;
    if (n <= SMALL_MAX)
        return alloc_small(n);
    return alloc_large(n);
}

static size_t usable_of(blk *b)
{
    if (b->cls == CLASS_LARGE)
        return large_of(b)->alloc_size - sizeof(large);
    return class_size[b->cls];
}

void vp__secmem_free(void *p)
{
    if (p == NULL)
        return;
    blk *b = hdr_of(p);
    if (b->magic != MAGIC_LIVE)
        corrupt(b->magic == MAGIC_FREE ? "double free" : "free of a pointer it does not own");
    if (b->cls == CLASS_LARGE) {
        large *l = large_of(b);
        pthread_mutex_lock(&A.mu);
        if (l->prev != NULL)
            l->prev->next = l->next;
        else
            A.large_head = l->next;
        if (l->next != NULL)
            l->next->prev = l->prev;
        A.live_blocks--;
        A.live_bytes -= b->u.size;
        A.large_blocks--;
        pthread_mutex_unlock(&A.mu);
        sodium_free(l); /* wipes the whole allocation */
        return;
    }
    if (b->cls >= NCLASSES)
        corrupt("bad block header");
    /* Wipe outside the lock: the block is still ours until it is on the free list. */
    sodium_memzero(p, class_size[b->cls]);
    pthread_mutex_lock(&A.mu);
    A.live_blocks--;
    A.live_bytes -= b->u.size;
    b->magic = MAGIC_FREE;
    b->u.next = A.free_list[b->cls];
    A.free_list[b->cls] = b;
    pthread_mutex_unlock(&A.mu);
}

void *vp__secmem_realloc(void *p, size_t n)
{
    if (p == NULL)
        return vp__secmem_alloc(n);
    blk *b = hdr_of(p);
    if (b->magic != MAGIC_LIVE)
        corrupt("realloc of a block it does not own");
    size_t old = b->u.size;
    size_t usable = usable_of(b);
    /* Stay in place when the block is still the right size for n (same small class, or a large
     * block at most twice too big), so shrinking a bit or growing into slack costs nothing. */
    int in_place;
    if (b->cls == CLASS_LARGE)
        in_place = n > SMALL_MAX && n <= usable && n >= usable / 2;
    else
        in_place = n <= SMALL_MAX && class_for(n) == b->cls;
    if (in_place) {
        if (n < usable) /* callers may use the whole usable size: no stale tail behind n */
            sodium_memzero((unsigned char *)p + n, usable - n);
        pthread_mutex_lock(&A.mu);
        A.live_bytes = A.live_bytes - old + n;
        b->u.size = n;
        pthread_mutex_unlock(&A.mu);
        return p;
    }
    void *np = vp__secmem_alloc(n);
    if (np == NULL)
        return NULL; /* old block untouched */
    /* Copy the usable size, not the size asked for: callers may have written into the slack. */
    memcpy(np, p, usable < n ? usable : n);
    vp__secmem_free(p);
    return np;
}

char *vp__secmem_strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = 0;
    while (len < n && s[len] != '\0')
        len++;
    char *d = vp__secmem_alloc(len + 1);
    if (d != NULL)
        memcpy(d, s, len); /* the terminating NUL is already there: blocks are zeroed */
    return d;
}

char *vp__secmem_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    return vp__secmem_strndup(s, strlen(s));
}

size_t vp__secmem_usable(const void *p)
{
    if (p == NULL)
        return 0;
    blk *b = hdr_of(p);
    if (b->magic != MAGIC_LIVE)
        return 0;
    return usable_of(b);
}

int vp__secmem_owns(const void *p)
{
    if (p == NULL)
        return 0;
    uintptr_t a = (uintptr_t)p;
    int found = 0;
    pthread_mutex_lock(&A.mu);
    for (size_t i = 0; i < A.nslabs && !found; i++) {
        uintptr_t s = (uintptr_t)A.slabs[i];
        found = a >= s && a < s + SLAB_SIZE;
    }
    for (large *l = A.large_head; l != NULL && !found; l = l->next) {
        uintptr_t u = (uintptr_t)user_of(&l->h);
        found = a >= u && a < u + (l->alloc_size - sizeof(large));
    }
    pthread_mutex_unlock(&A.mu);
    return found;
}

void vp__secmem_get_stats(vp__secmem_stats *st)
{
    if (st == NULL)
        return;
    pthread_mutex_lock(&A.mu);
    st->slabs = A.nslabs;
    st->slab_bytes = A.nslabs * SLAB_SIZE;
    st->live_blocks = A.live_blocks;
    st->live_bytes = A.live_bytes;
    st->large_blocks = A.large_blocks;
    pthread_mutex_unlock(&A.mu);
}
