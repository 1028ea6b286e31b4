/*
 * secret - the output objects providers fill through the host table (vp_secret_out,
 * vp_list_out, vp_cred_out; opaque in provider.h). The fetch path and the resolver own them;
 * the host table's secret_* / list_add / cred_out_* functions write into them.
 */
#ifndef VP_SECRET_H
#define VP_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "vaultplug/common.h"
#include "vaultplug/provider.h"

#define VP__SECRET_MAX         (16u * 1024 * 1024) /* largest value a provider may hand back */
#define VP__SECRET_VERSION_MAX 128                 /* incl. NUL; same as vp_fetch_meta.version */
#define VP__LIST_MAX           100000              /* names in one list() result */
#define VP__CRED_FIELDS_MAX    64                  /* fields in one login() credential */

struct vp_secret_out {
    vp_host_ctx *hc; /* for redacting secret_fail messages; may be NULL */
    char *value;     /* secure memory, NUL-terminated; NULL until secret_set */
    size_t len;
    uint32_t ttl_s;         /* UINT32_MAX = the provider gave no TTL */
    int64_t expiry_unix_ms; /* 0 = none */
    char version[VP__SECRET_VERSION_MAX];
    int status; /* batch items: 0, or the status given to secret_fail */
    int failed; /* secret_fail was called */
    char message[VP_ERROR_MAX];
};

/* Reset out to "nothing set" for host context hc. */
void vp__secret_out_init(vp_secret_out *out, vp_host_ctx *hc);
/* Wipe and release the value; out is left as after init. */
void vp__secret_out_clear(vp_secret_out *out);

struct vp_list_out {
    char **names; /* plain malloc: names are identifiers, not secrets */
    size_t n, cap;
};
void vp__list_out_init(vp_list_out *out);
void vp__list_out_clear(vp_list_out *out);

typedef struct vp__cred_field {
    char *key;   /* plain malloc */
    char *value; /* secure memory, NUL-terminated (every value: we cannot know which are not) */
    size_t len;
    uint32_t flags; /* VP_FIELD_* */
} vp__cred_field;

struct vp_cred_out {
    char *type; /* plain malloc; NULL until cred_out_type */
    vp__cred_field *fields;
    size_t n, cap;
};
void vp__cred_out_init(vp_cred_out *out);
void vp__cred_out_clear(vp_cred_out *out);

#endif
