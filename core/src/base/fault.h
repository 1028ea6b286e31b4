/*
 * fault - allocation-failure injection for tests (vp_options.fail_alloc_after): the Nth
 * allocation (1-based) made through the host table's allocators and the JSON services fails.
 * Process-wide; 0 turns it off.
 */
#ifndef VP_FAULT_H
#define VP_FAULT_H

#include <stdint.h>

void vp__fault_alloc_after(uint64_t n);
/* Whether the allocation about to be made must fail (counts it). */
int vp__fault_alloc_should_fail(void);

#endif
