/*
 * vault_io - file I/O for the vault: paths, reading with the permission check, the atomic commit
 * (temp file, fsync, rename, directory fsync) and the writers' lock file.
 */
#define _DEFAULT_SOURCE /* flock(), realpath() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "errint.h"
#include "fsperm.h"
#include "vault_int.h"

#define TMP_INFIX    ".tmp."
#define LOCK_SUFFIX  ".lock"
#define PATH_MAX_LEN VP__VAULT_PATH_MAX

static unsigned lock_timeout_ms = 60000;

void vp__vault_set_lock_timeout_ms(unsigned ms)
{
    lock_timeout_ms = ms;
}

static int errno_status(int e)
{
    switch (e) {
    case ENOENT:
        return VP_ENOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return VP_EPERM;
    case ENOMEM:
        return VP_ENOMEM;
    default:
        return VP_EIO;
    }
}

/* ---- paths ---- */

void vp__vault_paths_free(vp__vault_paths *p)
{
    free(p->path);
    free(p->lockpath);
    free(p->dir);
    free(p->base);
    free(p->linkdir);
    memset(p, 0, sizeof *p);
}

/* path with every symlink resolved (malloc'd), in *real. A name that does not exist (yet)
 * resolves through its directory. A dangling symlink (or chain of them) is followed to the name it
 * ends at, so `vault init` through it creates the vault at the link's target, as writing through
 * any link acts on its target; a target whose directory is missing is VP_ENOTFOUND naming it. A
 * plain path whose directory is missing stays as given (the operation reports it). */
static int resolve(const char *given, size_t n, char **real, vp_error *err)
{
    char cur[PATH_MAX_LEN + 1], *r = realpath(given, NULL), *d;
    const char *base;
    int e, hops;

    if (r != NULL) {
        *real = r;
        return 0;
    }
    e = errno;
    if (e == ENOMEM)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    if (e != ENOENT)
        return vp__err_set(err, NULL, errno_status(e), "cannot resolve the vault path %s: %s",
                           given, strerror(e));
    memcpy(cur, given, n + 1);
    for (hops = 0;; hops++) {
        struct stat lsb;
        char t[PATH_MAX_LEN + 1];
        ssize_t tl;
        const char *sl;

        if (lstat(cur, &lsb) != 0 || !S_ISLNK(lsb.st_mode))
            break;
        if (hops == 40)
            return vp__err_set(err, NULL, VP_EINVAL,
                               "cannot resolve the vault path %s: too many symbolic links", given);
        tl = readlink(cur, t, sizeof t);
        if (tl <= 0 || (size_t)tl >= sizeof t)
            return vp__err_set(err, NULL, VP_EIO, "cannot read the symbolic link %s", cur);
        t[tl] = '\0';
        sl = strrchr(cur, '/');
        if (t[0] == '/' || sl == NULL) {
            memcpy(cur, t, (size_t)tl + 1);
        } else {
            size_t dl = (size_t)(sl - cur) + 1;
            if (dl + (size_t)tl > PATH_MAX_LEN)
                return vp__err_set(err, NULL, VP_EINVAL, "the vault path %s is too long", given);
            memcpy(cur + dl, t, (size_t)tl + 1);
        }
    }
    n = strlen(cur);
    if (n == 0 || cur[n - 1] == '/')
        return vp__err_set(err, NULL, VP_EINVAL, "the symbolic link %s points to a directory name",
                           given);
    /* Not there yet: resolve its directory, keep the name. */
    base = strrchr(cur, '/');
    if (base == NULL) {
        d = realpath(".", NULL);
        base = cur;
    } else {
        char *dir = base == cur ? strdup("/") : strndup(cur, (size_t)(base - cur));
        if (dir == NULL)
            return vp__err_set(err, NULL, VP_ENOMEM, NULL);
        d = realpath(dir, NULL);
        free(dir);
        base++;
    }
    if (d == NULL && strcmp(cur, given) != 0)
        return vp__err_set(err, NULL, VP_ENOTFOUND,
                           "%s is a symbolic link to %s, whose directory does not exist", given,
                           cur);
    if (d == NULL) {
        r = strdup(cur);
    } else {
        size_t dl = strlen(d), bl = strlen(base);
        r = malloc(dl + bl + 2);
        if (r != NULL)
            snprintf(r, dl + bl + 2, "%s%s%s", d, strcmp(d, "/") == 0 ? "" : "/", base);
        free(d);
    }
    if (r == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    *real = r;
    return 0;
}

int vp__vault_paths_make(const char *given, vp__vault_paths *p, vp_error *err)
{
    size_t n = strnlen(given, PATH_MAX_LEN + 1);
    const char *slash;
    char *path = NULL, gdir[PATH_MAX_LEN + 1];
    int rc;

    memset(p, 0, sizeof *p);
    if (n == 0 || n > PATH_MAX_LEN || given[n - 1] == '/')
        return vp__err_set(err, NULL, VP_EINVAL, "invalid vault path");
    /* Resolved once: the lock, the temp file and the rename all act on the real file, so a
     * write through a link neither replaces the link nor takes a lock of its own. */
    rc = resolve(given, n, &path, err);
    if (rc != 0)
        return rc;
    n = strlen(path);
    if (n > PATH_MAX_LEN) {
        free(path);
        return vp__err_set(err, NULL, VP_EINVAL, "the vault path is too long once resolved");
    }
    slash = strrchr(path, '/');
    p->path = path;
    p->lockpath = malloc(n + sizeof LOCK_SUFFIX);
    p->base = strdup(slash ? slash + 1 : path);
    if (slash == NULL)
        p->dir = strdup(".");
    else if (slash == path)
        p->dir = strdup("/");
    else
        p->dir = strndup(path, (size_t)(slash - path));
    if (p->lockpath == NULL || p->base == NULL || p->dir == NULL)
        goto oom;
    memcpy(p->lockpath, path, n);
    memcpy(p->lockpath + n, LOCK_SUFFIX, sizeof LOCK_SUFFIX);
    /* Whoever can change the directory the name was given in can point it elsewhere. */
    if (vp__fsperm_dirname(given, gdir, sizeof gdir) == 0) {
        char *rg = realpath(gdir, NULL);
        if (rg == NULL || strcmp(rg, p->dir) != 0) {
            p->linkdir = strdup(gdir);
            if (p->linkdir == NULL) {
                free(rg);
                goto oom;
            }
        }
        free(rg);
    }
    return 0;
oom:
    vp__vault_paths_free(p);
    return vp__err_set(err, NULL, VP_ENOMEM, NULL);
}

static int check_dir(const char *dir, vp_error *err)
{
    struct stat sb;
    int v = vp__fsperm_check_path(dir, &sb);
    char msg[PATH_MAX_LEN * 2 + 256];

    if (v <= 0) /* safe, or absent (the operation itself then says what is missing) */
        return 0;
    vp__fsperm_describe((vp__fsperm)v, "vault directory", dir, &sb, msg, sizeof msg);
    return vp__err_set(err, NULL, VP_EPERM, "%s", msg);
}

int vp__vault_check_dirs(const vp__vault_paths *p, vp_error *err)
{
    int rc = check_dir(p->dir, err);
    if (rc == 0 && p->linkdir != NULL)
        rc = check_dir(p->linkdir, err);
    return rc;
}

/* ---- file I/O ---- */

/* Read the whole vault file. check_mode: refuse files group/others can write, since whoever can
 * write it can roll it back or swap it for a vault whose key they know. */
int vp__vault_read_file(const char *path, int check_mode, unsigned char **img, size_t *len,
                        vp_error *err)
{
    struct stat sb;
    unsigned char *buf;
    size_t got = 0;
    int fd, rc;

    *img = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return vp__err_set(err, NULL, VP_ENOTFOUND, "no vault file at %s", path);
        return vp__err_set(err, NULL, errno_status(e), "cannot open vault file %s: %s", path,
                           strerror(e));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return vp__err_set(err, NULL, VP_EINVAL, "%s is not a regular file", path);
    }
    if (check_mode && (sb.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return vp__err_set(err, NULL, VP_EPERM,
                           "vault file %s is writable by group or others; refusing to use it "
                           "(fix with: chmod 600 %s)",
                           path, path);
    }
    if ((unsigned long long)sb.st_size > VP__VAULT_FILE_MAX) {
        close(fd);
        return vp__err_set(err, NULL, VP_EPROTO, "vault file %s is larger than %u bytes", path,
                           VP__VAULT_FILE_MAX);
    }
    buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
    if (buf == NULL) {
        close(fd);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    rc = errno;
    close(fd);
    if (got != (size_t)sb.st_size) {
        free(buf);
        return vp__err_set(err, NULL, VP_EIO, "cannot read vault file %s: %s", path, strerror(rc));
    }
    *img = buf;
    *len = got;
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* Only the lock holder writes temp files, so under the lock any left over is from a writer that
 * crashed: remove them so they do not pile up. */
static void remove_stale_temps(const vp__vault_paths *p)
{
    size_t blen = strlen(p->base);
    DIR *d = opendir(p->dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, p->base, blen) == 0 &&
            strncmp(de->d_name + blen, TMP_INFIX, strlen(TMP_INFIX)) == 0) {
            char full[PATH_MAX_LEN + 300];
            if ((size_t)snprintf(full, sizeof full, "%s/%s", p->dir, de->d_name) < sizeof full)
                unlink(full);
        }
    }
    closedir(d);
}

/* Atomically replace the vault file by img. Caller holds the lock. */
int vp__vault_commit_image(const vp__vault_paths *p, const unsigned char *img, size_t len,
                           vp_error *err)
{
    unsigned char rnd[8];
    char tmp[PATH_MAX_LEN + 64], hex[17];
    int fd, e;

    remove_stale_temps(p);
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(tmp, sizeof tmp, "%s%s%s", p->path, TMP_INFIX, hex);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        e = errno;
        return vp__err_set(err, NULL, errno_status(e),
                           "cannot create a temporary file next to %s: %s", p->path, strerror(e));
    }
    if (write_all(fd, img, len) != 0 || fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        return vp__err_set(err, NULL, VP_EIO, "cannot write vault file %s: %s", p->path,
                           strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, p->path) != 0) {
        e = errno;
        unlink(tmp);
        return vp__err_set(err, NULL, VP_EIO, "cannot replace vault file %s: %s", p->path,
                           strerror(e));
    }
    /* Without this the rename itself may not survive a power loss. */
    if (fsync_dir(p->dir) != 0) {
        e = errno;
        return vp__err_set(err, NULL, VP_EIO,
                           "vault %s was written but its directory could not be synced: %s",
                           p->path, strerror(e));
    }
    return 0;
}

/* ---- lock ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* flock (not fcntl) locks: they belong to the open file description, so two handles in one
 * process exclude each other too, and closing an unrelated fd does not drop them. */
int vp__vault_lock_acquire(const vp__vault_paths *p, int *fdout, vp_error *err)
{
    long long deadline = now_ms() + lock_timeout_ms;
    unsigned sleep_us = 200;
    int fd, rc;

    /* Every write starts here: refuse directories others could use to swap the file. */
    rc = vp__vault_check_dirs(p, err);
    if (rc != 0)
        return rc;
    fd = open(p->lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        return vp__err_set(err, NULL, errno_status(e), "cannot open lock file %s: %s", p->lockpath,
                           strerror(e));
    }
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return vp__err_set(err, NULL, VP_EIO, "cannot lock %s: %s", p->lockpath, strerror(e));
        }
        if (now_ms() >= deadline) {
            close(fd);
            return vp__err_set(err, NULL, VP_ETIMEDOUT,
                               "vault %s is locked by another process (waited %u ms)", p->path,
                               lock_timeout_ms);
        }
        /* Jittered short sleeps: a waiter must catch the brief unlocked window between two
         * commits of a busy writer. */
        {
            struct timespec ts = {0, (long)(sleep_us / 2 + randombytes_uniform(sleep_us)) * 1000};
            nanosleep(&ts, NULL);
        }
        if (sleep_us < 2000)
            sleep_us += 100;
    }
    *fdout = fd;
    return 0;
}

void vp__vault_lock_release(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}
