/* az_cli_proc - see az_cli_proc.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "az_cli_proc.h"

int64_t azp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int azp_spawn(azp_proc *p, const char *bin, const char *plugin_dir, const char *const *args)
{
    int po[2], pe[2];
    memset(p, 0, sizeof(*p));
    p->rc = -1;
    if (pipe(po) != 0 || pipe(pe) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    p->pid = fork();
    if (p->pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        /* only 1 and 2 may reach the pipes: a grandchild (xdg-open) must not hold them open */
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0); /* no terminal: nothing may be prompted for */
        const char *argv[24] = {bin, "--plugin-dir", plugin_dir};
        size_t n = 3;
        for (size_t i = 0; args[i] && n < 23; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    p->fd[0] = po[0];
    p->fd[1] = pe[0];
    return p->pid > 0 ? 0 : -1;
}

int azp_pump(azp_proc *p, int timeout_ms)
{
    struct pollfd pf[2];
    nfds_t n = 0;
    int idx[2];
    for (int i = 0; i < 2; i++)
        if (p->fd[i] >= 0) {
            pf[n].fd = p->fd[i];
            pf[n].events = POLLIN;
            idx[n++] = i;
        }
    if (n == 0)
        return -1;
    if (poll(pf, n, timeout_ms) <= 0)
        return 0;
    for (nfds_t k = 0; k < n; k++) {
        if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        int i = idx[k];
        size_t room = AZP_OUTCAP - 1 - p->len[i];
        ssize_t r = read(p->fd[i], p->buf[i] + p->len[i], room ? room : 1);
        if (r > 0 && room) {
            p->len[i] += (size_t)r;
            p->buf[i][p->len[i]] = '\0';
        } else if (r == 0 || (r < 0 && errno != EINTR)) {
            close(p->fd[i]);
            p->fd[i] = -1;
        }
    }
    return 0;
}

int azp_wait_stderr(azp_proc *p, const char *needle)
{
    int64_t end = azp_now_ms() + AZP_WAIT_MS;
    while (strstr(ERR(p), needle) == NULL) {
        if (azp_now_ms() > end || azp_pump(p, 200) < 0)
            return strstr(ERR(p), needle) ? 0 : -1;
    }
    return 0;
}

int azp_finish(azp_proc *p)
{
    int64_t end = azp_now_ms() + AZP_WAIT_MS;
    while (azp_pump(p, 200) == 0 && azp_now_ms() < end)
        ;
    int st = 0;
    if (p->fd[0] >= 0 || p->fd[1] >= 0) {
        kill(p->pid, SIGKILL); /* hung: our own child */
        fprintf(stderr, "killed a hung vaultplug (pid %d)\n", (int)p->pid);
    }
    for (int i = 0; i < 2; i++)
        if (p->fd[i] >= 0)
            close(p->fd[i]);
    waitpid(p->pid, &st, 0);
    p->rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return p->rc;
}

/* Nothing secret may be shown: tokens, codes, secret values, the vault key. stdout is allowed
 * the secret values when it is the requested output (get, render). */

int azp_argvs(pid_t pid, char *out, size_t cap)
{
    char path[64], text[8192];
    DIR *d = opendir("/proc");
    struct dirent *de;
    int seen = 0;
    size_t used = 0;
    out[0] = '\0';
    while (d != NULL && (de = readdir(d)) != NULL) {
        int q = atoi(de->d_name);
        if (q <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/stat", q);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        int ppid = -1;
        if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
            ppid = -1;
        fclose(f);
        if (q != pid && ppid != pid)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", q);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (text[i] == '\0')
                text[i] = ' ';
        text[n] = '\0';
        int k = snprintf(out + used, cap - used, "%s\n", text);
        if (k > 0 && (size_t)k < cap - used)
            used += (size_t)k;
        seen |= q == pid;
    }
    if (d != NULL)
        closedir(d);
    return seen;
}

static size_t sink(char *ptr, size_t sz, size_t n, void *ud)
{
    azp_page *pg = ud;
    size_t k = sz * n, room = sizeof(pg->text) - 1 - pg->len;
    if (k > room)
        k = room;
    memcpy(pg->text + pg->len, ptr, k);
    pg->len += k;
    pg->text[pg->len] = '\0';
    return sz * n;
}

void azp_browse(const char *url, const char *ca_file, azp_page *pg)
{
    memset(pg, 0, sizeof(*pg));
    CURL *c = curl_easy_init();
    if (c == NULL)
        return;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, pg);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &pg->status);
    curl_easy_cleanup(c);
}

void azp_authorize_url(const char *err, char *url, size_t cap)
{
    url[0] = '\0';
    for (const char *u = strstr(err, "https://"); u != NULL; u = strstr(u + 1, "https://")) {
        size_t n = strcspn(u, " \t\r\n");
        if (strstr(u, "/oauth2/v2.0/authorize?") != NULL &&
            strstr(u, "/oauth2/v2.0/authorize?") < u + n) {
            snprintf(url, cap, "%.*s", (int)n, u);
            return;
        }
    }
}

/* `vaultplug login azure --name NAME` (browser flow); the test is the browser. Returns the exit
 * status; pg gets the page the browser ended on. */
