/*
 * hc_cli_e2e.h - test data and helpers shared by hc_cli_e2e.c (stored credentials, KV, HCP,
 * errors, render) and hc_cli_chain.c (the environment chain and the persistent cache).
 * Every string named *canary* is in CANARIES and must never reach stderr.
 */
#ifndef VP_HC_CLI_E2E_H
#define VP_HC_CLI_E2E_H

#include <stdint.h>

#include "mock_hcp.h"
#include "mock_vault.h"

#define T_GOOD    "hvs.cli-tok-canary-a1b2"
#define T_LIMITED "hvs.cli-lim-canary-c3d4"
#define T_BOGUS   "hvs.cli-bogus-canary-e5f6"
#define SID       "cli-sid-canary-g7h8"
#define SID_BAD   "cli-badsid-canary-i9j0"
#define CS        "cli-cs-canary-k1l2"
#define CS_BAD    "cli-badcs-canary-m3n4"
#define V1        "cli-v1-canary-p5q6"
#define V2        "cli-v2-canary-r7s8"
#define HIST      "cli-hist-canary-t9u0"
#define DELETED   "cli-deleted-canary-u1v2"
#define DESTROYED "cli-destroyed-canary-w3x4"
#define LEGACY    "cli-legacy-canary-v1w2"
#define NSVAL     "cli-nsval-canary-x3y4"
#define DEEP      "cli-deep-canary-z5a6"
#define HS1       "cli-hcp1-canary-b7c8"
#define HS2       "cli-hcp2-canary-d9e0"
#define ROT1      "cli-rot1-canary-f1g2"
#define ROT2      "cli-rot2-canary-h3i4"
#define DYN       "cli-dyn-canary-j5k6"
#define QVAL      "cli-q-canary-l7m8"

extern const char *const CANARIES[];
extern mock_vault *g_v;
extern mock_hcp *g_h;
extern char g_home[64];

void write_file(const char *path, const char *text);
/* Unset every VAULT_*, HCP_*, INSOMNIA_HASHICORP_* and VAULTPLUG_HASHICORP_TYPE variable. */
void clear_env(void);
/* `vaultplug get REF`: exit 0 and exactly want on stdout / exit status and err_has on stderr. */
void get(const char *what, const char *ref, const char *want);
void get_err(const char *what, const char *ref, int status, const char *err_has);
/* The mock counter c moved past before (want_more) or not. */
void counted(const char *what, mock_vault_counter c, uint64_t before, int want_more);

void env_chain(int tls);
void cache_between_runs(const char *vhome);
void cache_identity(void);

#endif
