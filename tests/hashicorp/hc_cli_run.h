/*
 * hc_cli_run - helpers of hc_cli_e2e: run the real vaultplug binary and check exit status,
 * stdout and stderr, with a canary check on every run (see hc_cli_run.c).
 */
#ifndef VP_HC_CLI_RUN_H
#define VP_HC_CLI_RUN_H

#include <stddef.h>

typedef struct hc_out {
    char *buf;
    size_t len, cap;
} hc_out;

typedef struct hc_cli_result {
    int status; /* exit status; 128+signal when killed */
    hc_out out, err;
} hc_cli_result;

extern const char *hc_cli_bin, *hc_cli_plugin_dir;
extern int hc_cli_failures;
/* NULL-terminated: tokens, secret ids, client secrets and secret values of the test data. */
extern const char *const *hc_cli_canaries;

/* Run `vaultplug [-v...] --plugin-dir DIR ARGS...` with input on stdin (NULL = empty). */
int hc_cli_run(const char *const *args, const char *input, hc_cli_result *r);
void hc_cli_result_free(hc_cli_result *r);
/* No canary on stderr; on stdout only those inside allowed_out. Counts and prints failures;
 * returns their number. */
int hc_cli_canary_check(const char *what, const hc_cli_result *r, const char *allowed_out);
/* Exit 0 and stdout exactly want. */
void hc_cli_expect_out(const char *what, const char *const *args, const char *input,
                       const char *want);
/* Exit `status`, empty stdout, stderr containing err_has (NULL: anything). */
void hc_cli_expect_err(const char *what, const char *const *args, const char *input, int status,
                       const char *err_has);

#endif
