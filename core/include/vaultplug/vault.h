/*
 * vaultplug/vault.h - the local encrypted vault (file format and commit protocol:
 * vault-format.md, installed in share/doc/libvaultplug-dev).
 *
 * A vault is one file (conventionally `vault.vpv`, mode 0600) holding named secrets, each sealed
 * with XChaCha20-Poly1305 under a key derived from the 32-byte vault key. The library never
 * stores the vault key: vp_vault_create() and vp_vault_rekey() hand it out once, formatted as
 * `vpk1_` + base64url (no padding), in a secure buffer; the host shows it to the user or keeps it
 * in an OS keychain. Keys in Insomnia's format (standard base64 of a JWK with kty "oct", alg
 * "A256GCM") are accepted wherever a key is taken, so Insomnia users keep their key.
 *
 * Every mutation takes an exclusive lock (`<path>.lock`), re-reads the current file, applies the
 * change and commits it atomically (temp file, fsync, rename, fsync of the directory): writers in
 * several processes serialise and never lose each other's updates; readers see the old or the new
 * file, whole. A handle keeps the state it last read or wrote: vp_vault_get() does not re-read the
 * file; vp_vault_reload() does.
 *
 * Errors: VP_EINVAL (bad argument or name), VP_EAUTH ("invalid vault key"), VP_EPROTO (the file is
 * corrupted or was tampered with; it is left as it is), VP_EPERM (file, or its directory, writable
 * by group/others, or the directory owned by another user: docs/vault-format.md "Permissions"),
 * VP_ENOTFOUND, VP_EEXIST, VP_ELIMIT (value or record count over the caps below), VP_ETIMEDOUT
 * (the lock stayed busy), VP_EIO, VP_ENOMEM. Messages never contain keys or values.
 *
 * Arguments are checked at run time (VP_EINVAL), not with nonnull attributes, so bindings that
 * pass NULL get an error rather than undefined behaviour.
 *
 * A path may go through symbolic links: it is resolved once (at open, create or reset) and the
 * lock, temp file and rename act on the real file, so the link stays a link.
 *
 * A vp_vault handle is not thread-safe: use one per thread or serialise calls yourself.
 */
#ifndef VAULTPLUG_VAULT_H
#define VAULTPLUG_VAULT_H

#include "vaultplug/common.h"
#include "vaultplug/template.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Secret names are referenced from templates as {{ vault.name }}, so they must be plain
 * identifier-like words the template lexer can read without quoting: [A-Za-z0-9_.-]{1,128}. */
#define VP_VAULT_NAME_MAX 128
/* Largest secret value, in bytes. */
#define VP_VAULT_VALUE_MAX (1024u * 1024u)
/* Largest number of records (secrets + credentials + metadata) in one vault. */
#define VP_VAULT_RECORDS_MAX 100000u
/* Length of a formatted `vpk1_` key, without the NUL. */
#define VP_VAULT_KEY_STRLEN 48

/* What vp_vault_reset() did, in words a user understands; hosts should show it. */
#define VP_VAULT_RESET_NOTICE                                                                   \
    "All secrets and stored credentials in the vault were permanently deleted and a new vault " \
    "key was created. Store the new key now: it is shown only once."

typedef struct vp_vault vp_vault;

/*
 * Create a new, empty vault file at path (mode 0600). If key is NULL a fresh random key is made;
 * otherwise key (a `vpk1_` or Insomnia key) is used. When key_out is non-NULL it receives the key
 * formatted as `vpk1_...` in secure memory (free it with vp_buf_free). Fails with VP_EEXIST if
 * path already exists. Nothing is created on failure.
 */
VP_EXPORT VP_NODISCARD int vp_vault_create(const char *path, const char *key, vp_buf *key_out,
                                           vp_error *err);

/*
 * Open and unlock the vault at path with key. On success *out owns a handle (release it with
 * vp_vault_close) holding the decrypted records in secure memory. On failure *out is NULL:
 * VP_EAUTH "invalid vault key" (checked before any record is opened), VP_EPROTO if the file is
 * damaged or tampered with, VP_EPERM if group or others can write the file or its directory.
 */
VP_EXPORT VP_NODISCARD int vp_vault_open(const char *path, const char *key, vp_vault **out,
                                         vp_error *err);

/* Wipe every decrypted value and key and release the handle. NULL is a no-op. */
VP_EXPORT void vp_vault_close(vp_vault *vault);

/* Re-read the file (e.g. after another process changed it). On failure the handle keeps its
 * previous state. A file whose generation went backwards (rollback) is VP_EPROTO. */
VP_EXPORT VP_NODISCARD int vp_vault_reload(vp_vault *vault, vp_error *err);

/* Store (create or replace) secret name = value[0..len) and commit. The value may hold any
 * bytes, including NUL. */
VP_EXPORT VP_NODISCARD int vp_vault_set(vp_vault *vault, const char *name, const void *value,
                                        size_t len, vp_error *err);

/* Copy secret name into out (secure memory, NUL-terminated; previous contents wiped).
 * VP_ENOTFOUND if there is none. */
VP_EXPORT VP_NODISCARD int vp_vault_get(vp_vault *vault, const char *name, vp_buf *out,
                                        vp_error *err);

/* Delete secret name and commit. VP_ENOTFOUND if there is none (nothing is written). */
VP_EXPORT VP_NODISCARD int vp_vault_delete(vp_vault *vault, const char *name, vp_error *err);

/* Names of all secrets, sorted (byte order). *names_out is a malloc'd array of *count_out
 * malloc'd strings (names are not secret); release with vp_vault_names_free. Values are never
 * returned by listing. An empty vault gives *names_out = NULL, *count_out = 0. */
VP_EXPORT VP_NODISCARD int vp_vault_list(vp_vault *vault, char ***names_out, size_t *count_out,
                                         vp_error *err);
VP_EXPORT void vp_vault_names_free(char **names, size_t count);

/* Re-seal everything under a new random key in one commit; the old key stops working. The new
 * key goes to new_key_out (secure memory, `vpk1_...`). On failure the vault file and the handle
 * are unchanged and the old key still works. */
VP_EXPORT VP_NODISCARD int vp_vault_rekey(vp_vault *vault, vp_buf *new_key_out, vp_error *err);

/*
 * Delivering a new key safely. vp_vault_rekey() and vp_vault_reset() commit first and hand the
 * key out afterwards: if the host then fails to show or store it (a full disk, a closed pipe, a
 * crash), nobody has the only key that opens the vault. A host that prints or stores the key
 * should instead make it first, deliver it (write, flush, fsync), and only then commit with
 * vp_vault_rekey_to() / vp_vault_reset_to() / vp_vault_create(path, key, ...): if delivery
 * fails it simply does not commit, and the vault is left exactly as it was.
 */
/* A fresh random vault key, `vpk1_...`, in secure memory (previous contents wiped). */
VP_EXPORT VP_NODISCARD int vp_vault_key_generate(vp_buf *key_out, vp_error *err);
/* vp_vault_rekey() to new_key (a `vpk1_` or Insomnia key the host holds, e.g. from
 * vp_vault_key_generate()). On failure the vault file and the handle are unchanged and the old
 * key still works; a malformed new_key is VP_EINVAL. */
VP_EXPORT VP_NODISCARD int vp_vault_rekey_to(vp_vault *vault, const char *new_key, vp_error *err);

/*
 * Forgotten key: replace the vault at path by a new, EMPTY vault under a new key. Every secret
 * and every stored credential is permanently deleted (see VP_VAULT_RESET_NOTICE, which the host
 * should show). Works on a damaged file too. The new key goes to new_key_out; *deleted_out (if
 * non-NULL) receives the number of records the old file declared (0 if it was unreadable).
 * VP_ENOTFOUND if there is no vault at path.
 */
VP_EXPORT VP_NODISCARD int vp_vault_reset(const char *path, vp_buf *new_key_out,
                                          size_t *deleted_out, vp_error *err);
/* vp_vault_reset() to new_key (see vp_vault_rekey_to). On failure nothing is changed. */
VP_EXPORT VP_NODISCARD int vp_vault_reset_to(const char *path, const char *new_key,
                                             size_t *deleted_out, vp_error *err);

/* What vp_vault_import_insomnia() did. Names are not secret; values are never reported. */
typedef struct vp_vault_import_report {
    size_t found;    /* secrets found in the file (after de-duplication) */
    size_t imported; /* written to the vault (new, or replaced with overwrite) */
    char **clashes;  /* names that already existed in the vault and were KEPT (no overwrite) */
    size_t nclashes;
    char **conflicts; /* names found twice in the file with different values (first one used) */
    size_t nconflicts;
    char **invalid; /* names that are not valid vault names (skipped) */
    size_t ninvalid;
} vp_vault_import_report;

/*
 * Import Insomnia vault secrets: every value under `__insomnia_vault` of every environment in
 * file, which may be an Insomnia v4 JSON export, a v5 YAML export or the NeDB environment
 * database (insomnia.Environment.db, one JSON document per line). Values are decrypted with
 * insomnia_key (Insomnia's vault key: base64 of its JWK; never pass it on a command line) and
 * re-sealed here in ONE commit. Existing secrets are kept unless overwrite is non-zero. report
 * (optional) says what happened; release it with vp_vault_import_report_free. If any value does
 * not decrypt (VP_EAUTH: wrong key; VP_EPROTO: damaged) nothing is imported.
 */
VP_EXPORT VP_NODISCARD int vp_vault_import_insomnia(vp_vault *vault, const char *file,
                                                    const char *insomnia_key, int overwrite,
                                                    vp_vault_import_report *report, vp_error *err);
VP_EXPORT void vp_vault_import_report_free(vp_vault_import_report *report);

/*
 * Make out a template-engine source (vaultplug/template.h) that reads `{{ vault.NAME }}` from the
 * secrets of vault: lookup copies the value into secure memory (the engine wipes it) and returns
 * VP_ENOTFOUND, with a message naming the name (never a value), for a secret that does not exist
 * (or a name no secret can have). The source borrows the handle: keep the vault open while it is
 * used, and, as for every call on a handle, do not render with it from several threads at once
 * (a context serialises this for you: see vp_ctx_use_vault in vaultplug/credstore.h). 0, or
 * VP_EINVAL.
 */
VP_EXPORT VP_NODISCARD int vp_vault_as_source(vp_vault *vault, vp_vault_source *out);

/* Validate and normalise a key string (`vpk1_...` or Insomnia JWK) into `vpk1_...` form in
 * secure memory. Errors say what is wrong without echoing the key. */
VP_EXPORT VP_NODISCARD int vp_vault_key_format(const char *key, vp_buf *out, vp_error *err);

/* 1 if name is a valid secret name, else 0. */
VP_EXPORT int vp_vault_name_valid(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_VAULT_H */
