/*
 * fault - allocation-failure injection for tests (vp_options.fail_alloc_after): the Nth
 * allocation (1-based) that a context's providers make through the host table's allocators and
 * the JSON services fails.
 *
 * Per context: each context owns a counter (struct vp_ctx's `fault`, reached from its host
 * contexts as vp_host_ctx.fault). The host table's allocators take no context argument (ABI
 * 1.0), so the host makes a context's counter the calling thread's current one around every
 * call into a provider (init, configure, fetch, fetch_batch, validate, login) and around the
 * JSON work on a fetched value (#key extraction). An allocation counts against the counter
 * current on its thread; with none current, nothing fails. Allocations on threads a provider
 * starts itself are therefore never counted.
 */
#ifndef VP_FAULT_H
#define VP_FAULT_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct vp__fault {
    atomic_uint_fast64_t fail_after; /* 0 = off */
    atomic_uint_fast64_t count;      /* allocations counted since fail_after was set */
} vp__fault;

/* Arm f: the nth allocation counted against it from now on fails. 0 turns it off. */
void vp__fault_set(vp__fault *f, uint64_t n);

/* Make f (may be NULL: nothing counted) the calling thread's current counter; returns the
 * previous one, to hand to vp__fault_leave when the provider call returns. */
vp__fault *vp__fault_enter(vp__fault *f);
void vp__fault_leave(vp__fault *prev);

/* Whether the allocation about to be made must fail (counts it against the thread's current
 * counter). */
int vp__fault_alloc_should_fail(void);

/* For unit tests that call host services without a context: arm a counter of the calling
 * thread's own and make it current (n = 0: off, and none current). */
void vp__fault_alloc_after(uint64_t n);

#endif
