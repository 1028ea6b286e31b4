/*
 * hc_fixture - shared helpers of the hashicorp provider tests: a vaultplug context that loads
 * the real hashicorp.so from the build tree, a TRACE-level log capture (for canary checks), an
 * adjustable monotonic/wall clock offset (to expire tokens without sleeping), and a clean
 * environment (no VAULT_ and HCP_ variables from the developer's shell, HOME in a temp dir).
 */
#ifndef HC_FIXTURE_H
#define HC_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <vaultplug/vaultplug.h>

/* Unset every variable the provider reads and point HOME at a fresh temp dir (returned). */
const char *hcf_clean_env(void);
/* New context with the hashicorp provider only; ca_file may be NULL. */
vp_ctx *hcf_ctx(const char *ca_file);
/* Register a credential (type "" = environment); fields as key, value pairs ending in NULL. */
void hcf_cred(vp_ctx *ctx, const char *name, const char *type, ...);
/* vp_fetch expecting success: malloc'd copy of the value; version into ver when not NULL. */
char *hcf_get(vp_ctx *ctx, const char *uri, char *ver, size_t vercap);
/* vp_fetch expecting failure: status, message in err. */
int hcf_err(vp_ctx *ctx, const char *uri, vp_error *err);
/* vp_resolve (with the resolver's retries): status; value copied into val when not NULL. */
int hcf_resolve(vp_ctx *ctx, const char *uri, char *val, size_t cap, vp_error *err);
/* Render a template; status; output copied into val. */
int hcf_render(vp_ctx *ctx, const char *tmpl, char *val, size_t cap, vp_error *err);

/* Move both clocks the provider sees forward. */
void hcf_advance(int64_t seconds);

/* The captured log (all lines since the last hcf_log_reset, "level source: message\n"). */
const char *hcf_log(void);
void hcf_log_reset(void);
/* Every message passed through hcf_err/hcf_resolve/hcf_render since the last reset. */
const char *hcf_messages(void);
/* Assert that s appears in no captured log line and no error message. */
void hcf_assert_no_leak(const char *s);

#endif
