/* Helpers shared by the vault tests. */
#ifndef VT_UTIL_H
#define VT_UTIL_H

#include <stddef.h>

#include "vaultplug/error.h"
#include "vaultplug/vault.h"

/* A fresh private directory for one test (mode 0700) and "<dir>/vault.vpv". */
typedef struct vt_dir {
    char dir[256];
    char path[300];
} vt_dir;

void vt_dir_make(vt_dir *d);
/* Remove every file in the directory, then the directory. */
void vt_dir_remove(vt_dir *d);

/* Whole file contents (malloc'd) / replace a file's contents keeping its mode 0600. */
unsigned char *vt_read(const char *path, size_t *len);
void vt_write(const char *path, const void *data, size_t len);

/* Create a vault at d->path, returning its key (malloc'd copy of the vpk1_ string). */
char *vt_create(const vt_dir *d);

/* A fresh directory holding a new vault, opened: the common cmocka fixture. */
typedef struct vt_fixture {
    vt_dir d;
    char *key;
    vp_vault *v;
} vt_fixture;

/* calloc'd fixture with an open vault, or NULL on failure. */
vt_fixture *vt_fixture_new(void);
/* Close the vault, remove the directory, free the fixture. NULL-safe. */
void vt_fixture_free(vt_fixture *f);

/* Non-zero if needle occurs anywhere in haystack. */
int vt_contains(const void *hay, size_t hlen, const void *needle, size_t nlen);

/* Byte offsets of the records of a vault image (from the documented layout); returns count. */
size_t vt_records(const unsigned char *img, size_t len, size_t *offs, size_t *lens, size_t max);

#endif
