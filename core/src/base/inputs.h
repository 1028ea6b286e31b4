/*
 * inputs - what a provider read from its surroundings through the host table: the names of the
 * environment variables (host->getenv) and the paths of the files (host->read_file) it asked
 * for. Together with its credential they are the identity a fetched value belongs to, so the
 * persisted cache (cachefile.c) never serves a value fetched as one identity to another (a
 * changed VAULT_ADDR, token file or access key).
 */
#ifndef VP_INPUTS_H
#define VP_INPUTS_H

#include <stddef.h>

#define VP__INPUTS_MAX     128  /* names kept per provider; later ones set the overflow flag */
#define VP__INPUT_NAME_MAX 1024 /* longer names set the overflow flag */

typedef struct vp__inputs vp__inputs;

/* NULL on out of memory (the caller then records nothing and must treat identity as unknown). */
vp__inputs *vp__inputs_new(void);
void vp__inputs_free(vp__inputs *in);

/* Record "e:NAME" (kind 'e') or "f:PATH" (kind 'f'); duplicates are kept once. Thread-safe.
 * NULL-safe. */
void vp__inputs_add(vp__inputs *in, char kind, const char *name);
/* What was read is no longer fully known (an isolated provider's helper could not say): from
 * now on vp__inputs_list fails, as after an overflow. NULL-safe. */
void vp__inputs_mark_unknown(vp__inputs *in);

/* Snapshot of the recorded names, sorted: *out is a malloc'd array of malloc'd strings (free
 * with vp__inputs_list_free). Returns 0, -1 on out of memory or when more inputs were read than
 * could be recorded (identity unknown: do not persist). */
int vp__inputs_list(vp__inputs *in, char ***out, size_t *n);
void vp__inputs_list_free(char **list, size_t n);

#endif
