/* az_cli_proc - plumbing of the CLI end-to-end test (azure_cli_e2e): run the vaultplug binary
 * with captured outputs, the command lines `ps` shows, and a minimal "browser". */
#ifndef VP_AZ_CLI_PROC_H
#define VP_AZ_CLI_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AZP_OUTCAP  16384
#define AZP_WAIT_MS 60000

typedef struct azp_proc {
    pid_t pid;
    int fd[2]; /* stdout, stderr; -1 once at EOF */
    char buf[2][AZP_OUTCAP];
    size_t len[2];
    int rc;
} azp_proc;

#define OUT(p) ((p)->buf[0])
#define ERR(p) ((p)->buf[1])

int64_t azp_now_ms(void);
/* Start BIN --plugin-dir DIR args... (stdin /dev/null: no terminal to prompt on). 0 or -1. */
int azp_spawn(azp_proc *p, const char *bin, const char *plugin_dir, const char *const *args);
/* Read what arrives within timeout_ms. 0 while a stream is open, -1 when both hit EOF. */
int azp_pump(azp_proc *p, int timeout_ms);
/* Wait (AZP_WAIT_MS at most) until stderr contains needle; 0, or -1. */
int azp_wait_stderr(azp_proc *p, const char *needle);
/* Drain the outputs and reap the process (killed after AZP_WAIT_MS). Returns its exit status. */
int azp_finish(azp_proc *p);
/* The command lines of pid and of its children, '\n'-separated, NUL bytes as spaces, into out.
 * Returns non-zero if pid itself was found. */
int azp_argvs(pid_t pid, char *out, size_t cap);

typedef struct azp_page {
    char text[8192];
    size_t len;
    long status;
} azp_page;

/* What a browser does with url: GET, follow redirects (to the loopback listener), keep the last
 * page. ca_file: the mock's CA. */
void azp_browse(const char *url, const char *ca_file, azp_page *pg);
/* The first https://.../oauth2/v2.0/authorize?... address in text, or "". */
void azp_authorize_url(const char *text, char *url, size_t cap);

#endif
