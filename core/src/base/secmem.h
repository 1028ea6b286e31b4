/*
 * secmem - the process-wide secure arena.
 *
 * Secrets are small and many; one sodium_malloc per secret costs at least three pages (guard
 * pages + the data page) and an mlock each. The arena instead carves small blocks out of a few
 * large sodium_malloc'd slabs (locked, excluded from core dumps, guard-paged at the slab edges)
 * using size classes with free lists; blocks above the largest class get their own
 * sodium_malloc. Every block is wiped when freed. Thread-safe.
 */
#ifndef VP_SECMEM_H
#define VP_SECMEM_H

#include <stddef.h>

/* Initialise libsodium and the arena; idempotent and thread-safe. 0 or VP_EINTERNAL. */
int vp__secmem_init(void);

/* Zeroed block of n bytes (n may be 0: returns a unique minimal block), or NULL. */
void *vp__secmem_alloc(size_t n);
/* Wipe and release; NULL is a no-op. p must come from this arena. */
void vp__secmem_free(void *p);
/* Grow/shrink keeping contents; the old block is wiped. NULL p = alloc. NULL on failure (the old
 * block is then untouched). */
void *vp__secmem_realloc(void *p, size_t n);
char *vp__secmem_strdup(const char *s);
char *vp__secmem_strndup(const char *s, size_t n);
/* Usable size of a block (>= the size asked for). */
size_t vp__secmem_usable(const void *p);
/* Non-zero if p points into a block of the arena. */
int vp__secmem_owns(const void *p);

typedef struct vp__secmem_stats {
    size_t slabs;        /* slabs allocated */
    size_t slab_bytes;   /* bytes reserved in slabs */
    size_t live_blocks;  /* blocks currently allocated (small + large) */
    size_t live_bytes;   /* bytes requested by live blocks */
    size_t large_blocks; /* live blocks served by their own sodium_malloc */
} vp__secmem_stats;
void vp__secmem_get_stats(vp__secmem_stats *st);

#endif
