/*
 * vault_int - internals of the local vault shared by vault.c, vaultkey.c, vault_file.c, the
 * credential store and white-box tests. The byte layout is documented in docs/vault-format.md.
 */
#ifndef VP_VAULT_INT_H
#define VP_VAULT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vaultplug/error.h"
#include "vaultplug/vault.h"

#define VP__VAULT_KEYBYTES   32
#define VP__VAULT_KEY_PREFIX "vpk1_"

/* ---- keys (vaultkey.c) ---- */

/* Parse a `vpk1_` or Insomnia-format key (surrounding whitespace ignored) into key_out[32].
 * 0, or VP_EINVAL with a message that never contains the key. key_out is wiped on failure. */
int vp__vault_key_parse(const char *s, unsigned char key_out[VP__VAULT_KEYBYTES], vp_error *err);
/* Format key as `vpk1_...` into out (made secure; previous contents wiped). */
int vp__vault_key_to_string(const unsigned char key[VP__VAULT_KEYBYTES], vp_buf *out);

/* ---- file format (vault_file.c) ---- */

#define VP__VAULT_MAGIC         "VPVAULT\0"
#define VP__VAULT_VERSION       1
#define VP__VAULT_KDF_CTX       "vpvault1"
#define VP__VAULT_ID_BYTES      16
#define VP__VAULT_HDR_BYTES     96
#define VP__VAULT_REC_HDR_BYTES 40
#define VP__VAULT_MAC_BYTES     32
#define VP__VAULT_PAD           32
/* Hard cap on the file size we read: 100k records of small values fit easily, and so do 200
 * values of the 1 MiB maximum. */
#define VP__VAULT_FILE_MAX (256u * 1024u * 1024u)

typedef enum vp__vault_section {
    VP__VAULT_SECRET = 1,
    VP__VAULT_CREDENTIAL = 2,
    VP__VAULT_META = 3,
} vp__vault_section;

/* Subkeys derived from the vault key with crypto_kdf (context "vpvault1"). */
typedef struct vp__vault_keys {
    unsigned char check[32]; /* id 1: key check in the header */
    unsigned char seal[32];  /* id 2: record AEAD */
    unsigned char mac[32];   /* id 3: whole-file MAC */
} vp__vault_keys;

/* One decrypted record. plain is one secure block: name (NUL-terminated) then value (followed
 * by a NUL so it can be handed out as a string). sealed points into the owning image or a
 * separately allocated buffer (ciphertext only, ordinary memory). */
typedef struct vp__vault_rec {
    uint8_t section;
    uint64_t counter;
    char *name;           /* into plain */
    unsigned char *value; /* into plain */
    size_t value_len;
    unsigned char *plain; /* secure */
    const unsigned char *sealed;
    size_t sealed_len;         /* whole on-disk record incl. its 40-byte header */
    unsigned char *sealed_own; /* non-NULL if sealed was allocated for this record */
} vp__vault_rec;

/* Parsed, verified contents of a vault file. */
typedef struct vp__vault_state {
    unsigned char id[VP__VAULT_ID_BYTES];
    uint64_t generation;
    uint64_t next_counter;
    vp__vault_rec *recs; /* sorted by counter */
    size_t nrecs, caprecs;
    unsigned char *image; /* the file bytes the records point into (ordinary memory) */
    size_t image_len;
} vp__vault_state;

/* Derive the three subkeys (secure memory owned by the caller). */
int vp__vault_derive(const unsigned char key[VP__VAULT_KEYBYTES], vp__vault_keys *keys);

/* Parse and verify a complete file image. On success st owns image (which must be malloc'd) and
 * holds every record decrypted. On failure image is freed and st is empty: VP_EAUTH (wrong key),
 * VP_EPROTO (damaged/tampered). */
int vp__vault_parse(unsigned char *image, size_t len, const vp__vault_keys *keys,
                    vp__vault_state *st, vp_error *err);
/* Serialise st (new header, existing sealed records, MAC) into a malloc'd image. */
int vp__vault_serialize(const vp__vault_state *st, const vp__vault_keys *keys, unsigned char **out,
                        size_t *outlen);
/* Seal a new record (section, name, value) with counter st->next_counter++ and append it. */
int vp__vault_state_add(vp__vault_state *st, const vp__vault_keys *keys, uint8_t section,
                        const char *name, const void *value, size_t len);
/* Re-seal every record under keys (for rekey), keeping their counters. */
int vp__vault_state_reseal(vp__vault_state *st, const vp__vault_keys *keys);
void vp__vault_state_remove(vp__vault_state *st, size_t idx);
ssize_t vp__vault_state_find(const vp__vault_state *st, uint8_t section, const char *name);
void vp__vault_state_free(vp__vault_state *st);
/* Recompute the trailing MAC of an image in place (tests and the fuzzer use it to get past the
 * MAC and exercise the per-record checks). */
void vp__vault_remac(unsigned char *image, size_t len, const vp__vault_keys *keys);

/* The header's key check value for keys (fuzzer and tests). */
void vp__vault_key_check(const vp__vault_keys *keys, unsigned char out[32]);
/* Seal an arbitrary plaintext as one on-disk record (fuzzer: reaches the plaintext parser). */
int vp__vault_seal_raw(const unsigned char id[VP__VAULT_ID_BYTES], const vp__vault_keys *keys,
                       uint8_t section, uint64_t counter, const unsigned char *pt, size_t ptlen,
                       unsigned char **out, size_t *outlen);

int vp__vault_name_ok(const char *name, size_t len);

/* ---- generic record API per section (vault.c), used by vp_vault_* and the credential store.
 * Names follow the same rule as secret names. Each mutation is one locked commit. ---- */
struct vp_vault;
int vp__vault_rec_set(struct vp_vault *v, uint8_t section, const char *name, const void *value,
                      size_t len, vp_error *err);
int vp__vault_rec_get(struct vp_vault *v, uint8_t section, const char *name, vp_buf *out,
                      vp_error *err);
/* Get-or-create in one locked step: re-read the file; if (section, name) exists keep it as it is
 * (nothing is written), else add it as value[0..len) and commit. out (secure) receives the
 * record's value as it now is, so concurrent creators all get the one committed first. */
int vp__vault_rec_get_or_add(struct vp_vault *v, uint8_t section, const char *name,
                             const void *value, size_t len, vp_buf *out, vp_error *err);
int vp__vault_rec_delete(struct vp_vault *v, uint8_t section, const char *name, vp_error *err);
/* Delete every record of section in one commit (credential "sign out"); *removed_out optional. */
int vp__vault_rec_clear(struct vp_vault *v, uint8_t section, size_t *removed_out, vp_error *err);
int vp__vault_rec_list(struct vp_vault *v, uint8_t section, char ***names_out, size_t *count_out,
                       vp_error *err);

/* ---- file I/O and lock (vault_io.c) ---- */

#define VP__VAULT_PATH_MAX 4096

typedef struct vp__vault_paths {
    char *path, *lockpath; /* the real vault file (links resolved) and its lock `<path>.lock` */
    char *dir, *base;      /* its directory (for temp files and its fsync) and file name */
    char *linkdir;         /* the directory the path was given in, if it is not dir; or NULL */
} vp__vault_paths;

/* Resolve path once (realpath of the final target; a name that does not exist yet resolves
 * through its directory) and derive the lock and directory paths from the real file, so writes
 * through a symlink and through the real path share one lock and one file. A dangling symlink is
 * VP_ENOTFOUND with a message naming its target. */
int vp__vault_paths_make(const char *path, vp__vault_paths *p, vp_error *err);
void vp__vault_paths_free(vp__vault_paths *p);
/* VP_EPERM (message naming the directory and the fix) if the vault's directory, or the one its
 * path was given in, is writable by group or others or owned by another user (fsperm.h). An
 * absent directory passes: the operation itself reports it. */
int vp__vault_check_dirs(const vp__vault_paths *p, vp_error *err);
/* Read the whole file into a malloc'd image. check_mode: VP_EPERM if group/others can write it.
 * VP_ENOTFOUND if it does not exist. */
int vp__vault_read_file(const char *path, int check_mode, unsigned char **img, size_t *len,
                        vp_error *err);
/* Atomically replace the vault file by img; the caller holds the lock. */
int vp__vault_commit_image(const vp__vault_paths *p, const unsigned char *img, size_t len,
                           vp_error *err);
/* Take the writers' lock (polling up to the lock timeout: VP_ETIMEDOUT) / release it. Checks the
 * directories first (vp__vault_check_dirs), so every write refuses an unsafe directory. */
int vp__vault_lock_acquire(const vp__vault_paths *p, int *fdout, vp_error *err);
void vp__vault_lock_release(int fd);

/* One item of a batch write. */
typedef struct vp__vault_item {
    const char *name;
    const unsigned char *value;
    size_t len;
} vp__vault_item;

/* Set many records of section in ONE commit (all or nothing). An item whose name already exists
 * is replaced if overwrite, else kept as it is and flagged in kept_out[i] (array of n, may be
 * NULL). *imported_out (optional) = items written. */
int vp__vault_rec_set_many(struct vp_vault *v, uint8_t section, const vp__vault_item *items,
                           size_t n, int overwrite, unsigned char *kept_out, size_t *imported_out,
                           vp_error *err);

/* ---- Insomnia import (vault_insomnia.c) ---- */

/* Decrypt one Insomnia vault value (base64 of JSON {iv,t,ad,d}, AES-256-GCM, URI-encoded
 * plaintext) with the raw 32-byte Insomnia key into out (secure). An empty string is an empty
 * value (Insomnia stores empty secrets unencrypted). VP_EAUTH if the key does not open it,
 * VP_EPROTO if it is malformed. */
int vp__insomnia_decrypt(const unsigned char key[VP__VAULT_KEYBYTES], const char *enc,
                         size_t enclen, vp_buf *out, vp_error *err);

/* Test hook: how long a writer waits for the lock before VP_ETIMEDOUT (default 60 s). */
void vp__vault_set_lock_timeout_ms(unsigned ms);

/* vault.c: read-modify-write of one record in ONE locked commit. fn gets the record's current
 * value (as re-read from the file under the lock) and returns a new value in secure memory
 * (*out, *outlen; vault.c frees it) or a status (nothing is written). VP_ENOTFOUND if the record
 * does not exist (fn is not called). */
typedef int (*vp__vault_update_fn)(void *arg, const unsigned char *old, size_t oldlen,
                                   unsigned char **out, size_t *outlen, vp_error *err);
int vp__vault_rec_update(struct vp_vault *v, uint8_t section, const char *name,
                         vp__vault_update_fn fn, void *arg, vp_error *err);

#endif
