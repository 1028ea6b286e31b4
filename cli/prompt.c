/*
 * prompt.c - reading secrets: from stdin when it is a pipe or a file, otherwise with a no-echo
 * prompt on the controlling terminal. Never from argv (visible in ps and shell history).
 *
 * Buffers that held a secret are wiped before they are freed; growth copies are wiped too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define SECRET_MAX (VP_VAULT_VALUE_MAX + 2)

void cli_secret_free(char *s, size_t len)
{
    if (s == NULL)
        return;
    cli_wipe(s, len);
    free(s);
}

/* Append one byte to a growing secret buffer, wiping the old storage when it moves. */
static int grow_put(char **buf, size_t *len, size_t *cap, char c)
{
    if (*len + 2 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        char *nb = malloc(ncap);
        if (nb == NULL)
            return -1;
        if (*buf != NULL) {
            memcpy(nb, *buf, *len);
            cli_secret_free(*buf, *cap);
        }
        *buf = nb;
        *cap = ncap;
    }
    (*buf)[(*len)++] = c;
    (*buf)[*len] = '\0';
    return 0;
}

static int read_fd_all(int fd, int one_line, char **out, size_t *outlen)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[512];
    for (;;) {
        ssize_t n = read(fd, chunk, one_line ? 1 : sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_wipe(chunk, sizeof(chunk));
            cli_secret_free(buf, cap);
            cli_error("cannot read the secret: %s", strerror(errno));
            return CLI_EXIT_INTERNAL;
        }
        if (n == 0)
            break;
        int done = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (one_line && chunk[i] == '\n') {
                done = 1;
                break;
            }
            if (len >= SECRET_MAX || grow_put(&buf, &len, &cap, chunk[i]) != 0) {
                cli_wipe(chunk, sizeof(chunk));
                cli_secret_free(buf, cap);
                cli_error(len >= SECRET_MAX ? "the secret is too long (at most %u bytes)"
                                            : "out of memory (%u)",
                          VP_VAULT_VALUE_MAX);
                return len >= SECRET_MAX ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
            }
        }
        if (done)
            break;
    }
    cli_wipe(chunk, sizeof(chunk));
    if (buf == NULL && grow_put(&buf, &len, &cap, 'x') == 0)
        len = 0;
    if (buf == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    /* `echo value | vaultplug ...` adds a newline nobody means as part of the secret. */
    if (!one_line && len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return CLI_EXIT_OK;
}

int cli_can_prompt(void)
{
    if (!isatty(STDIN_FILENO) && !isatty(STDERR_FILENO))
        return 0;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* While echo is off: restore it if the user interrupts (Ctrl-C) so the shell is usable. */
static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static void restore_on_signal(int sig)
{
    if (tty_fd >= 0)
        tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A terminal line without echo. Echo is restored even if the read fails. */
static int tty_read(const char *prompt, int noecho, char **out, size_t *len)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("no terminal to ask for the %s on", prompt);
        return CLI_EXIT_AUTH;
    }
    struct termios old, raw;
    int have_tio = tcgetattr(fd, &old) == 0;
    struct sigaction sa, old_int, old_term;
    if (noecho && have_tio) {
        tty_saved = old;
        tty_fd = fd;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = restore_on_signal;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        raw = old;
        raw.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        raw.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &raw);
    }
    dprintf(fd, "%s: ", prompt);
    int rc = read_fd_all(fd, 1, out, len);
    if (noecho && have_tio) {
        tcsetattr(fd, TCSAFLUSH, &old);
        tty_fd = -1;
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        dprintf(fd, "\n");
    }
    close(fd);
    return rc;
}

int cli_prompt_tty(const char *prompt, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    return tty_read(prompt, 1, out, len);
}

int cli_read_secret(const char *prompt, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!isatty(STDIN_FILENO))
        return read_fd_all(STDIN_FILENO, 0, out, len);
    return tty_read(prompt, 1, out, len);
}

int cli_confirm(const char *question)
{
    char *ans = NULL;
    size_t len = 0;
    if (!cli_can_prompt())
        return 0;
    char prompt[256];
    snprintf(prompt, sizeof(prompt), "%s [y/N]", question);
    if (tty_read(prompt, 0, &ans, &len) != CLI_EXIT_OK)
        return 0;
    int yes = len > 0 && (ans[0] == 'y' || ans[0] == 'Y');
    cli_secret_free(ans, len);
    return yes;
}
