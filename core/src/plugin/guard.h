/*
 * guard - provider calls with a deadline the caller can enforce (docs/design.md, "Provider
 * deadlines").
 *
 * Every call into a provider (init, configure, fetch, fetch_batch, validate, login) runs on a
 * runner thread while the calling thread waits, at most until the call's deadline plus a short
 * grace. A provider that ignores its deadline (blocks without polling call_canceled) no longer
 * holds up the caller: the caller gives up, the runner thread is abandoned to finish the call
 * on its own, and the job (which owns copies of everything the provider may touch) is freed
 * by the runner when the provider finally returns, if ever.
 *
 * Runners are kept and reused, like the resolver's workers: creating a thread per call would
 * cost more than many fetches.
 */
#ifndef VP_GUARD_H
#define VP_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* How long past its deadline a caller waits for a provider that was told to stop: the HTTP
 * service notices a passed deadline within 20 ms, so a cooperative provider returns well
 * within this. */
#define VP__GUARD_GRACE_MS 250

typedef struct vp__runners vp__runners;

typedef struct vp__guarded {
    /* Runs on the runner thread. */
    void (*run)(struct vp__guarded *g);
    /* Runs on the runner thread after run() when the caller gave up; must free g. */
    void (*orphan)(struct vp__guarded *g);
    int done;      /* private: under the runners' lock */
    int abandoned; /* private: under the runners' lock */
} vp__guarded;

int vp__runners_new(vp__runners **out);
/* Stop and join the idle runners. Returns the number of abandoned calls still running: when it
 * is not 0, the runners' own memory is kept (they still use it), and the caller must keep
 * everything those calls can reach (docs/design.md, "Provider deadlines"). */
size_t vp__runners_free(vp__runners *r);
/* Calls abandoned so far that have not returned yet. */
size_t vp__runners_abandoned(vp__runners *r);

/*
 * Run g->run on a runner thread and wait until it returns, or at most wait_ms milliseconds
 * (-1 = no limit). Returns 0 when run() returned (g is the caller's again); VP_ETIMEDOUT when
 * the caller gave up (g belongs to the runner now, which calls g->orphan after run() returns);
 * VP_ENOMEM when no runner could be started (run() was not called).
 */
int vp__guard_call(vp__runners *r, vp__guarded *g, int64_t wait_ms);

#endif
