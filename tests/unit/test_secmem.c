/* Unit tests of the secure arena (core/src/base/secmem.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "secmem.h"

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i] != 0)
            return 0;
    }
    return 1;
}

static void test_init(void **state)
{
    (void)state;
    assert_int_equal(vp__secmem_init(), 0);
    assert_int_equal(vp__secmem_init(), 0); /* idempotent */
}

static void test_sizes_alignment_zeroed(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,    1,    15,   16,   17,   31,    32,    33,   100,
                                   255,  256,  257,  1000, 1023, 1024,  1025,  2047, 2048,
                                   3000, 4095, 4096, 4097, 5000, 65536, 100000};
    void *ptrs[sizeof(sizes) / sizeof(sizes[0])];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        unsigned char *p = vp__secmem_alloc(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_true(all_zero(p, n));
        assert_true(vp__secmem_usable(p) >= n);
        assert_true(vp__secmem_usable(p) >= 1); /* n == 0 still gives a real block */
        assert_true(vp__secmem_owns(p));
        assert_true(vp__secmem_owns(p + (n ? n - 1 : 0)));
        memset(p, 0xA5, vp__secmem_usable(p)); /* the whole usable size is writable */
        ptrs[i] = p;
    }
    /* Blocks are distinct and did not overwrite each other. */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = ptrs[i];
        for (size_t j = 0; j < vp__secmem_usable(p); j++)
            assert_int_equal(p[j], 0xA5);
        for (size_t k = 0; k < i; k++)
            assert_ptr_not_equal(ptrs[k], ptrs[i]);
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        vp__secmem_free(ptrs[i]);
    vp__secmem_free(NULL); /* no-op */
}

static void test_wipe_on_free(void **state)
{
    (void)state;
    static const size_t sizes[] = {16, 100, 1024, 4096};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = vp__secmem_alloc(sizes[i]);
        assert_non_null(p);
        size_t u = vp__secmem_usable(p);
        memset(p, 'S', u);
        vp__secmem_free(p);
        /* Slabs stay mapped: the freed block must read as zeroes (free-list link is in the
         * header, not in the user area). */
        assert_true(all_zero(p, u));
        /* And an allocation reusing it is zero too. */
        unsigned char *q = vp__secmem_alloc(sizes[i]);
        assert_true(all_zero(q, sizes[i]));
        vp__secmem_free(q);
    }
}

static void test_secmem_realloc(void **state)
{
    (void)state;
    char *p = vp__secmem_realloc(NULL, 10); /* NULL = alloc */
    assert_non_null(p);
    memcpy(p, "0123456789", 10);
    /* Grow through every regime: same class, bigger class, large block, bigger large. */
    static const size_t steps[] = {12, 40, 300, 4096, 5000, 20000, 100000};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char *q = vp__secmem_realloc(p, steps[i]);
        assert_non_null(q);
        assert_memory_equal(q, "0123456789", 10);
        assert_true(vp__secmem_usable(q) >= steps[i]);
        p = q;
    }
    /* Content written into the usable slack survives a move. */
    char *s = vp__secmem_alloc(100);
    size_t u = vp__secmem_usable(s);
    assert_true(u >= 100);
    memset(s, 'x', u);
    char *t = vp__secmem_realloc(s, 8000);
    assert_non_null(t);
    for (size_t i = 0; i < u; i++)
        assert_int_equal(t[i], 'x');
    assert_true(all_zero(t + u, 8000 - u));
    /* Moving wiped the old block. */
    if (t != s)
        assert_true(all_zero(s, u));
    vp__secmem_free(t);
    /* Shrink back into the small classes. */
    char *q = vp__secmem_realloc(p, 5);
    assert_non_null(q);
    assert_memory_equal(q, "01234", 5);
    vp__secmem_free(q);
}

static void test_strdup(void **state)
{
    (void)state;
    char *a = vp__secmem_strdup("hunter2");
    assert_non_null(a);
    assert_string_equal(a, "hunter2");
    assert_true(vp__secmem_owns(a));
    char *b = vp__secmem_strndup("abcdef", 3);
    assert_string_equal(b, "abc");
    char *c = vp__secmem_strndup("ab", 10);
    assert_string_equal(c, "ab");
    assert_null(vp__secmem_strdup(NULL));
    vp__secmem_free(a);
    vp__secmem_free(b);
    vp__secmem_free(c);
}

static void test_owns(void **state)
{
    (void)state;
    int on_stack = 0;
    static int in_data;
    char *heap = malloc(64);
    assert_false(vp__secmem_owns(&on_stack));
    assert_false(vp__secmem_owns(&in_data));
    assert_false(vp__secmem_owns(heap));
    assert_false(vp__secmem_owns(NULL));
    free(heap);
    char *big = vp__secmem_alloc(10000);
    assert_true(vp__secmem_owns(big));
    assert_true(vp__secmem_owns(big + 9999));
    vp__secmem_free(big);
    /* A released large block is unmapped: no longer owned. */
    assert_false(vp__secmem_owns(big));
}

static void test_stats(void **state)
{
    (void)state;
    vp__secmem_stats a, b, c;
    vp__secmem_get_stats(&a);
    void *s = vp__secmem_alloc(100);
    void *l = vp__secmem_alloc(50000);
    vp__secmem_get_stats(&b);
    assert_int_equal(b.live_blocks, a.live_blocks + 2);
    assert_int_equal(b.live_bytes, a.live_bytes + 50100);
    assert_int_equal(b.large_blocks, a.large_blocks + 1);
    assert_true(b.slabs >= 1);
    assert_int_equal(b.slab_bytes, b.slabs * 64 * 1024);
    s = vp__secmem_realloc(s, 200);
    vp__secmem_get_stats(&c);
    assert_int_equal(c.live_bytes, a.live_bytes + 50200);
    vp__secmem_free(s);
    vp__secmem_free(l);
    vp__secmem_get_stats(&c);
    assert_int_equal(c.live_blocks, a.live_blocks);
    assert_int_equal(c.live_bytes, a.live_bytes);
    assert_int_equal(c.large_blocks, a.large_blocks);
    vp__secmem_get_stats(NULL); /* no crash */
}

#define NSECRETS 10000
static void *secrets[NSECRETS];

/* Many small secrets must share slabs, not cost three pages each. */
static void check_density(size_t size, size_t max_bytes)
{
    vp__secmem_stats a, b;
    vp__secmem_get_stats(&a);
    for (size_t i = 0; i < NSECRETS; i++) {
        secrets[i] = vp__secmem_alloc(size);
        assert_non_null(secrets[i]);
        memset(secrets[i], 'k', size);
    }
    vp__secmem_get_stats(&b);
    size_t used = b.slab_bytes - a.slab_bytes;
    printf("# %d secrets of %zu bytes: %zu slab bytes (%zu slabs), %zu large blocks\n", NSECRETS,
           size, used, b.slabs - a.slabs, b.large_blocks - a.large_blocks);
    assert_true(used <= max_bytes);
    assert_int_equal(b.large_blocks, a.large_blocks);
    for (size_t i = 0; i < NSECRETS; i++)
        vp__secmem_free(secrets[i]);
}

static void test_density(void **state)
{
    (void)state;
    check_density(1024, (size_t)16 << 20);
    /* The same secrets again reuse the freed blocks: no new slab. */
    vp__secmem_stats a, b;
    vp__secmem_get_stats(&a);
    check_density(1024, 0);
    vp__secmem_get_stats(&b);
    assert_int_equal(a.slabs, b.slabs);
    /* A 1 KiB secret stored with its NUL (1025 bytes) still fits the budget. */
    check_density(1025, (size_t)16 << 20);
}

/* Prints the cost of an alloc/free pair (a figure, not a pass/fail criterion). */
static void test_speed_figure(void **state)
{
    (void)state;
    enum { N = 200000 };
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < N; i++) {
        void *p = vp__secmem_alloc(16 + (size_t)(i & 255));
        assert_non_null(p);
        vp__secmem_free(p);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / N;
    printf("# alloc+free (16..271 bytes): %.0f ns per pair\n", ns);
}

#define NTHREADS 8
#define NITER    10000

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    enum { KEEP = 64 };
    unsigned char *held[KEEP] = {0};
    size_t sz[KEEP] = {0};
    int bad = 0;
    for (int i = 0; i < NITER; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 8) % KEEP;
        if (held[slot] != NULL) {
            /* Nobody else wrote into our block. */
            for (size_t j = 0; j < sz[slot]; j++)
                bad |= held[slot][j] != (unsigned char)(uintptr_t)arg;
            vp__secmem_free(held[slot]);
        }
        size_t n = (seed >> 16) % 600;
        if ((seed & 0xff) == 7)
            n = 5000 + (seed >> 20) % 3000; /* some large blocks too */
        held[slot] = vp__secmem_alloc(n);
        if (held[slot] == NULL) {
            bad = 1;
            break;
        }
        for (size_t j = 0; j < n; j++)
            bad |= held[slot][j] != 0;
        memset(held[slot], (int)(uintptr_t)arg, n);
        sz[slot] = n;
    }
    for (int i = 0; i < KEEP; i++)
        vp__secmem_free(held[i]);
    return (void *)(intptr_t)bad;
}

static void test_threads(void **state)
{
    (void)state;
    vp__secmem_stats a, b;
    vp__secmem_get_stats(&a);
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
    for (int i = 0; i < NTHREADS; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_int_equal((intptr_t)rv, 0);
    }
    vp__secmem_get_stats(&b);
    assert_int_equal(b.live_blocks, a.live_blocks);
    assert_int_equal(b.live_bytes, a.live_bytes);
    assert_int_equal(b.large_blocks, a.large_blocks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),         cmocka_unit_test(test_sizes_alignment_zeroed),
        cmocka_unit_test(test_wipe_on_free), cmocka_unit_test(test_secmem_realloc),
        cmocka_unit_test(test_strdup),       cmocka_unit_test(test_owns),
        cmocka_unit_test(test_stats),        cmocka_unit_test(test_density),
        cmocka_unit_test(test_threads),      cmocka_unit_test(test_speed_figure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
