/*
 * ref - parsing of reference URIs `scheme://[credential@]path[?k=v&...][#json-key]` into an
 * owned, normalised vp__ref (used by vp_fetch, the resolver and the template engine).
 *
 * Normalisation: scheme lowercased; path, parameter keys/values and the JSON key
 * percent-decoded; parameters sorted by key (stable: duplicate keys keep their order); `uri`
 * rebuilt from the parts with a fixed percent-encoding, so two spellings of one reference get
 * the same canonical uri (the cache key) and parse(uri).uri == uri.
 */
#ifndef VP_REF_H
#define VP_REF_H

#include <stddef.h>

#include "vaultplug/common.h"
#include "vaultplug/provider.h"

#define VP__REF_MAX        8192 /* bytes of the input URI */
#define VP__REF_PARAMS_MAX 64
#define VP__CRED_NAME_MAX  64

typedef struct vp__ref {
    char *uri;        /* canonical form */
    char *scheme;     /* lowercased */
    char *credential; /* "" = default chain */
    char *path;       /* decoded, non-empty */
    vp_kv *params;    /* decoded, sorted by key; keys and values owned */
    size_t n_params;
    char *json_key; /* decoded, or NULL */
} vp__ref;

/* Parse s[0..len). On success *out owns everything (release with vp__ref_free). Errors:
 * VP_EINVAL with a message naming the problem and its byte offset (never echoing the input),
 * VP_ELIMIT (longer than VP__REF_MAX, too many parameters), VP_ENOMEM. *out is zeroed on error. */
int vp__ref_parse(const char *s, size_t len, vp__ref *out, vp_error *err);
void vp__ref_free(vp__ref *r);
/* Non-zero if name matches [A-Za-z0-9_.-]{1,64}. */
int vp__cred_name_valid(const char *name);
/* Non-zero if s matches [a-z0-9][a-z0-9+.-]* (what a provider may declare). */
int vp__scheme_valid(const char *s);
/* Fill the SDK view of r (borrows r's strings). */
void vp__ref_view(const vp__ref *r, vp_ref *view);

#endif
