/*
 * fsperm - see fsperm.h.
 */
#include "fsperm.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

vp__fsperm vp__fsperm_check(const struct stat *st)
{
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return VP__FSPERM_WRITABLE;
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return VP__FSPERM_OWNER;
    return VP__FSPERM_OK;
}

int vp__fsperm_check_path(const char *path, struct stat *st_out)
{
    if (stat(path, st_out) != 0)
        return -1;
    return (int)vp__fsperm_check(st_out);
}

void vp__fsperm_describe(vp__fsperm verdict, const char *what, const char *path,
                         const struct stat *st, char *out, size_t cap)
{
    int dir = S_ISDIR(st->st_mode);
    if (verdict == VP__FSPERM_WRITABLE)
        snprintf(out, cap,
                 "%s %s is writable by group or others (mode %04o), so they could replace what "
                 "it holds; fix with: chmod go-w %s",
                 what, path, (unsigned)(st->st_mode & 07777), path);
    else if (verdict == VP__FSPERM_OWNER)
        snprintf(out, cap,
                 "%s %s is owned by uid %u, not by you (uid %u) or root; use a %s you own", what,
                 path, (unsigned)st->st_uid, (unsigned)geteuid(), dir ? "directory" : "file");
    else
        snprintf(out, cap, "%s %s is safe", what, path);
}

int vp__fsperm_dirname(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    if (slash == NULL)
        return snprintf(out, cap, ".") < (int)cap ? 0 : -1;
    n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        return -1;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}
