/*
 * identity - what a cached value depends on, captured when the value is fetched.
 *
 * A value fetched by a provider belongs to the identity it was fetched as: the credential named
 * in its cache key as set in the context (type and fields), and the names and values of every
 * environment variable and file the provider had read through the host table by then (its
 * inputs: VAULT_ADDR, AWS_SECRET_ACCESS_KEY, ~/.vault-token, a service-account key file, ...).
 * The resolver captures it next to every value it caches; the cache file (cachefile.c) stores
 * it with the entry and a later run recomputes it from its own surroundings, serving the entry
 * only when both agree. Capturing at fetch time (not at save time) is what makes a run that only
 * hit the cache save every entry with the inputs it was really fetched with.
 *
 * An identity is an opaque blob in secure memory:
 *   digest[VP__IDENT_DIGEST]   unkeyed BLAKE2b of the credential and the input values
 *   u16 LE count, then count x (u16 LE length, bytes)   the input names ("e:NAME", "f:PATH")
 * The names part is also the on-disk form; the digest never leaves the process (the file holds
 * a keyed hash of it, vp__ident_seal).
 */
#ifndef VP_IDENTITY_H
#define VP_IDENTITY_H

#include <stddef.h>

#include "vaultplug/context.h"

#define VP__IDENT_DIGEST 32

/* Capture the identity of a value provider `prov` of ctx is caching under `key` (the resolver's
 * "provider\x1fcredential\x1freference" key): its credential as set now and every input it has
 * read so far, with their current values. ctx NULL (white-box tests): no credential, no inputs.
 * 0 with *out (free with vp__ident_free), or -1 when the identity cannot be known (more inputs
 * than can be recorded, out of memory): such a value must never be persisted. */
int vp__ident_capture(vp_ctx *ctx, size_t prov, const char *key, size_t key_len,
                      unsigned char **out, size_t *out_len);

/* The identity of the same value as the surroundings give it now, for the input names `names`
 * (the names part of a stored identity: u16 count, then u16 length + bytes each, exactly
 * names_len bytes). 0, -1 when names is malformed or on out of memory. */
int vp__ident_recompute(vp_ctx *ctx, size_t prov, const char *key, size_t key_len,
                        const unsigned char *names, size_t names_len, unsigned char **out,
                        size_t *out_len);

/* The file's fingerprint of an identity: BLAKE2b keyed with `fkey` (32 bytes) over the digest,
 * so the file reveals nothing about credential or input values. */
void vp__ident_seal(const unsigned char *ident, const unsigned char *fkey,
                    unsigned char fp[VP__IDENT_DIGEST]);

/* Wipe and free (secure memory: vp__secmem_free does the same). NULL-safe. */
void vp__ident_free(unsigned char *ident);

#endif
