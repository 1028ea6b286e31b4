/*
 * fsperm - the one rule for directories and files that hold something others must not change
 * (the vault, the user's config file): not writable by group or others (a sticky bit does not
 * help: others could still create the lock file, or the file itself before it exists), and owned
 * by root or the effective user. The same rule the plugin loader applies to plugin directories.
 *
 * Self-contained (no library state) so the command can compile it in as well.
 */
#ifndef VP_FSPERM_H
#define VP_FSPERM_H

#include <stddef.h>
#include <sys/stat.h>

typedef enum vp__fsperm {
    VP__FSPERM_OK = 0,
    VP__FSPERM_WRITABLE = 1, /* group or others can write it */
    VP__FSPERM_OWNER = 2,    /* owned by someone other than root or the effective user */
} vp__fsperm;

/* Classify st by the rule above. */
vp__fsperm vp__fsperm_check(const struct stat *st);

/* stat(path) (following links) and classify it. -1 with errno if it cannot be stat'ed. */
int vp__fsperm_check_path(const char *path, struct stat *st_out);

/* "directory /x is writable by group or others (mode 0777); fix with: chmod go-w /x" and the
 * like, for a verdict other than VP__FSPERM_OK. what: "directory", "vault directory", ... */
void vp__fsperm_describe(vp__fsperm verdict, const char *what, const char *path,
                         const struct stat *st, char *out, size_t cap);

/* The directory part of path ("." for a bare name, "/" for a name in the root) into out.
 * 0, or -1 if it does not fit. */
int vp__fsperm_dirname(const char *path, char *out, size_t cap);

#endif
