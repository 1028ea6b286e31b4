/* fault - see fault.h. */
#include "fault.h"

#include <stddef.h>

static _Thread_local vp__fault *current; /* the counter allocations on this thread count against */
static _Thread_local vp__fault own;      /* vp__fault_alloc_after's */

void vp__fault_set(vp__fault *f, uint64_t n)
{
    atomic_store(&f->count, 0);
    atomic_store(&f->fail_after, n);
}

vp__fault *vp__fault_enter(vp__fault *f)
{
    vp__fault *prev = current;
    current = f;
    return prev;
}

void vp__fault_leave(vp__fault *prev)
{
    current = prev;
}

int vp__fault_alloc_should_fail(void)
{
    vp__fault *f = current;
    if (f == NULL)
        return 0;
    uint_fast64_t n = atomic_load(&f->fail_after);
    if (n == 0)
        return 0;
    return atomic_fetch_add(&f->count, 1) + 1 == n;
}

void vp__fault_alloc_after(uint64_t n)
{
    vp__fault_set(&own, n);
    current = n != 0 ? &own : NULL;
}
