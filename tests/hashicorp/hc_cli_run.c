/*
 * hc_cli_run - run the vaultplug binary for hc_cli_e2e: argv without a shell, stdin from a
 * buffer, stdout and stderr captured in full (a -vvv trace can be larger than a pipe), and
 * the canary check on every run.
 */
#include "hc_cli_run.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *hc_cli_bin, *hc_cli_plugin_dir;
int hc_cli_failures;
const char *const *hc_cli_canaries;

static void append(hc_out *o, const char *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8192;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *b = realloc(o->buf, cap);
        if (b == NULL)
            abort();
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

void hc_cli_result_free(hc_cli_result *r)
{
    free(r->out.buf);
    free(r->err.buf);
    memset(r, 0, sizeof(*r));
}

int hc_cli_run(const char *const *args, const char *input, hc_cli_result *r)
{
    memset(r, 0, sizeof(*r));
    append(&r->out, "", 0);
    append(&r->err, "", 0);
    int pi[2], po[2], pe[2];
    if (pipe(pi) != 0 || pipe(po) != 0 || pipe(pe) != 0)
        return r->status = -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return r->status = -1;
    if (pid == 0) {
        dup2(pi[0], 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(pi[1]);
        close(po[0]);
        close(pe[0]);
        const char *argv[40];
        size_t n = 0;
        argv[n++] = hc_cli_bin;
        /* Global options go before the command (a leading -v... stays first). */
        size_t i = 0;
        if (args[0] != NULL && args[0][0] == '-' && args[0][1] == 'v')
            argv[n++] = args[i++];
        argv[n++] = "--plugin-dir";
        argv[n++] = hc_cli_plugin_dir;
        for (; args[i] != NULL && n < 39; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(hc_cli_bin, (char *const *)argv);
        _exit(127);
    }
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    /* The input is small (a secret field): it fits the pipe buffer. */
    if (input != NULL && write(pi[1], input, strlen(input)) != (ssize_t)strlen(input))
        fprintf(stderr, "short write to the CLI's stdin\n");
    close(pi[1]);
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    hc_out *dst[2] = {&r->out, &r->err};
    for (int open_fds = 2; open_fds > 0;) {
        if (poll(fds, 2, -1) < 0)
            continue;
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || fds[k].revents == 0)
                continue;
            char buf[4096];
            ssize_t got = read(fds[k].fd, buf, sizeof(buf));
            if (got > 0) {
                append(dst[k], buf, (size_t)got);
            } else {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
            }
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
    }
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return r->status;
}

int hc_cli_canary_check(const char *what, const hc_cli_result *r, const char *allowed_out)
{
    int bad = 0;
    for (size_t i = 0; hc_cli_canaries && hc_cli_canaries[i]; i++) {
        const char *c = hc_cli_canaries[i];
        /* Print the canary's index, not the canary: test output must not show it either. */
        if (strstr(r->err.buf, c) != NULL) {
            printf("FAIL %s: stderr shows canary #%zu\n", what, i);
            bad++;
        }
        if (strstr(r->out.buf, c) != NULL && (allowed_out == NULL || !strstr(allowed_out, c))) {
            printf("FAIL %s: stdout shows canary #%zu that was not asked for\n", what, i);
            bad++;
        }
    }
    /* A sanitizer report in the CLI (an ASan build): its exit status alone might match. */
    if (strstr(r->err.buf, "Sanitizer") != NULL || strstr(r->err.buf, "runtime error:") != NULL) {
        printf("FAIL %s: sanitizer report from the CLI", what);
        if (bad == 0)
            printf(":\n%.3000s", r->err.buf);
        printf("\n");
        bad++;
    }
    hc_cli_failures += bad;
    return bad;
}

/* Failure details: the exit status, lengths, and stderr only when it passed the canary check
 * (so a leaking run cannot print the secret through the test log). */
static void report(const char *what, const hc_cli_result *r, int leaked, const char *why)
{
    printf("FAIL %s: %s (exit %d, stdout %zu bytes", what, why, r->status, r->out.len);
    if (!leaked)
        printf(", stderr: %.600s", r->err.buf);
    printf(")\n");
    hc_cli_failures++;
}

void hc_cli_expect_out(const char *what, const char *const *args, const char *input,
                       const char *want)
{
    hc_cli_result r;
    hc_cli_run(args, input, &r);
    int leaked = hc_cli_canary_check(what, &r, want);
    if (r.status != 0)
        report(what, &r, leaked, "expected success");
    else if (strcmp(r.out.buf, want) != 0)
        report(what, &r, leaked, "stdout differs from the expected value");
    else
        printf("ok   %s\n", what);
    hc_cli_result_free(&r);
}

void hc_cli_expect_err(const char *what, const char *const *args, const char *input, int status,
                       const char *err_has)
{
    hc_cli_result r;
    hc_cli_run(args, input, &r);
    int leaked = hc_cli_canary_check(what, &r, NULL);
    char why[160];
    if (r.status != status) {
        snprintf(why, sizeof(why), "expected exit %d", status);
        report(what, &r, leaked, why);
    } else if (r.out.len != 0) {
        report(what, &r, leaked, "a failed run wrote to stdout");
    } else if (err_has != NULL && strstr(r.err.buf, err_has) == NULL) {
        snprintf(why, sizeof(why), "stderr lacks \"%s\"", err_has);
        report(what, &r, leaked, why);
    } else {
        printf("ok   %s (exit %d)\n", what, status);
    }
    hc_cli_result_free(&r);
}
