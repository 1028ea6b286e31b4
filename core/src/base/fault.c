/* fault - see fault.h. */
#include "fault.h"

#include <stdatomic.h>

static atomic_uint_fast64_t fail_after;  /* 0 = off */
static atomic_uint_fast64_t alloc_count; /* allocations seen since fail_after was set */

void vp__fault_alloc_after(uint64_t n)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&fail_after, n);
}

int vp__fault_alloc_should_fail(void)
{
    uint_fast64_t n = atomic_load(&fail_after);
    if (n == 0)
        return 0;
    return atomic_fetch_add(&alloc_count, 1) + 1 == n;
}
