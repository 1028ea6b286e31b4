/*
 * loader - provider discovery, checks and loading (loader.h; docs/design.md, "The plugin ABI").
 *
 * Order of trust: nothing of a module runs before its file, its directory and the search
 * directory passed the ownership/permission checks; then only the (side-effect free) entry
 * point runs, and its table is checked completely before init() is called.
 */
#define _GNU_SOURCE /* realpath() and getauxval() are not in strict POSIX 2008 */

#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vaultplug/error.h"
#include "fault.h"
#include "log.h"
#include "ref.h"

#ifndef VP_DEFAULT_PROVIDER_DIR
#define VP_DEFAULT_PROVIDER_DIR "/usr/local/lib/vaultplug/providers-1"
#endif
/* The provider directory relative to the directory libvaultplug.so is installed in. */
#ifndef VP_PROVIDER_DIR_FROM_LIBDIR
#define VP_PROVIDER_DIR_FROM_LIBDIR "vaultplug/providers-1"
#endif

#define MAX_DIRS 64

/* Minor-0 size of the provider table: everything up to and including teardown. */
#define PROVIDER_MIN_SIZE (offsetof(vp_provider, teardown) + sizeof(((vp_provider *)0)->teardown))

static void log_at(const vp__loader_cfg *cfg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_at(const vp__loader_cfg *cfg, int level, const char *fmt, ...)
{
    if (cfg->hc_template == NULL || cfg->hc_template->log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vp__log_vwrite(cfg->hc_template->log, level, "core", fmt, ap);
    va_end(ap);
}

static int name_valid(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int fail(vp__provider *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(vp__provider *p, int status, const char *fmt, ...)
{
    char buf[VP__LOAD_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *r = strdup(buf);
    if (r == NULL)
        return VP_ENOMEM;
    free(p->reason);
    p->reason = r;
    p->info.state = VP_PROVIDER_FAILED;
    p->info.status = status;
    return 0;
}

/* ---- the installed directory ------------------------------------------------------------- */

static char installed_dir[PATH_MAX];
static const char *installed_override; /* tests */
static pthread_once_t installed_once = PTHREAD_ONCE_INIT;

/* dladdr on an object of this library names the file it was loaded from. Only a shared
 * libvaultplug.so* counts (linked statically into a program, the program's directory says
 * nothing), and only when <its directory>/<relative provider dir> exists; else the
 * compiled-in directory. */
static void installed_find(void)
{
    snprintf(installed_dir, sizeof(installed_dir), "%s", VP_DEFAULT_PROVIDER_DIR);
    Dl_info di;
    if (dladdr((const void *)installed_dir, &di) == 0 || di.dli_fname == NULL)
        return;
    char real[PATH_MAX], cand[PATH_MAX], rcand[PATH_MAX];
    if (realpath(di.dli_fname, real) == NULL)
        return;
    char *slash = strrchr(real, '/');
    if (slash == NULL || strncmp(slash + 1, "libvaultplug.so", 15) != 0)
        return;
    *slash = '\0';
    if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", real, VP_PROVIDER_DIR_FROM_LIBDIR) >=
        sizeof(cand))
        return;
    struct stat st;
    if (realpath(cand, rcand) == NULL || stat(rcand, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    snprintf(installed_dir, sizeof(installed_dir), "%s", rcand);
}

const char *vp__loader_installed_dir(void)
{
    if (installed_override != NULL)
        return installed_override;
    pthread_once(&installed_once, installed_find);
    return installed_dir;
}

void vp__loader_set_installed_dir(const char *dir)
{
    installed_override = dir;
}

/* ---- built-in providers ------------------------------------------------------------------ */

/* The schemes of vaultplug's own providers. A module found through VAULTPLUG_PLUGIN_PATH may
 * not replace one of these providers or take one of these schemes from the installed directory
 * (unless the administrator allows it: allow_provider_override): an environment variable must
 * not silently send aws:// references, and AWS credentials, to other code. */
static const struct {
    const char *scheme, *provider;
} builtin_schemes[] = {
    {"aws", "aws"},       {"gcp", "gcp"},     {"hashicorp", "hashicorp"},
    {"hcp", "hashicorp"}, {"azure", "azure"},
};

static const char *builtin_owner(const char *scheme)
{
    for (size_t i = 0; i < sizeof(builtin_schemes) / sizeof(builtin_schemes[0]); i++)
        if (strcmp(builtin_schemes[i].scheme, scheme) == 0)
            return builtin_schemes[i].provider;
    return NULL;
}

static int builtin_provider(const char *name)
{
    const char *o = builtin_owner(name);
    return o != NULL && strcmp(o, name) == 0;
}

/* ---- search path ------------------------------------------------------------------------- */

typedef struct dirlist {
    char *d[MAX_DIRS];
    int origin[MAX_DIRS]; /* VP__DIR_* */
    size_t n;
} dirlist;

static int dirs_add(dirlist *dl, const char *d, size_t n, int origin)
{
    if (n == 0 || dl->n >= MAX_DIRS)
        return 0;
    for (size_t i = 0; i < dl->n; i++)
        if (strlen(dl->d[i]) == n && memcmp(dl->d[i], d, n) == 0) {
            /* Listed again as the installed directory: it is that, whatever came first. */
            if (origin == VP__DIR_INSTALLED)
                dl->origin[i] = origin;
            return 0;
        }
    char *c = strndup(d, n);
    if (c == NULL)
        return VP_ENOMEM;
    dl->origin[dl->n] = origin;
    dl->d[dl->n++] = c;
    return 0;
}

static int build_dirs(const vp__loader_cfg *cfg, dirlist *dl)
{
    for (const char *const *d = cfg->plugin_dirs; d && *d; d++)
        if (dirs_add(dl, *d, strlen(*d), VP__DIR_HOST) != 0)
            return VP_ENOMEM;
    /* A setuid/setgid program must not let the invoking user pick the code it runs. */
    if (!cfg->ignore_env_plugin_path && getauxval(AT_SECURE) == 0) {
        const char *env = getenv("VAULTPLUG_PLUGIN_PATH");
        while (env && *env) {
            const char *colon = strchr(env, ':');
            size_t n = colon ? (size_t)(colon - env) : strlen(env);
            if (dirs_add(dl, env, n, VP__DIR_ENV) != 0)
                return VP_ENOMEM;
            env = colon ? colon + 1 : NULL;
        }
    }
    if (!cfg->no_default_plugin_dir) {
        const char *inst = vp__loader_installed_dir();
        if (dirs_add(dl, inst, strlen(inst), VP__DIR_INSTALLED) != 0)
            return VP_ENOMEM;
    }
    return 0;
}

/* ---- candidates -------------------------------------------------------------------------- */

typedef struct cand {
    char *name;
    char *path; /* NULL: enabled but not found */
    int bad_name;
    int origin;
} cand;

typedef struct candlist {
    cand *c;
    size_t n, cap;
} candlist;

static cand *cands_find(candlist *cl, const char *name)
{
    for (size_t i = 0; i < cl->n; i++)
        if (strcmp(cl->c[i].name, name) == 0)
            return &cl->c[i];
    return NULL;
}

static int cands_add(candlist *cl, const char *name, const char *path, int bad_name, int origin)
{
    if (cl->n >= VP__MAX_PROVIDERS)
        return VP_ELIMIT;
    if (cl->n == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 2 : 16;
        cand *nc = realloc(cl->c, cap * sizeof(*nc));
        if (nc == NULL)
            return VP_ENOMEM;
        cl->c = nc;
        cl->cap = cap;
    }
    cand *c = &cl->c[cl->n];
    c->name = strdup(name);
    c->path = path ? strdup(path) : NULL;
    c->bad_name = bad_name;
    c->origin = origin;
    if (c->name == NULL || (path && c->path == NULL)) {
        free(c->name);
        free(c->path);
        return VP_ENOMEM;
    }
    cl->n++;
    return 0;
}

static int scan_dir(const vp__loader_cfg *cfg, const char *dir, int origin, candlist *cl)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        log_at(cfg, errno == ENOENT ? VP_LEVEL_DEBUG : VP_LEVEL_WARN, "provider directory %s: %s",
               dir, strerror(errno));
        return 0;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= 3 || e->d_name[0] == '.' || strcmp(e->d_name + n - 3, ".so") != 0)
            continue;
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
            continue;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* directories named x.so, dangling links */
        char base[NAME_MAX + 1];
        memcpy(base, e->d_name, n - 3);
        base[n - 3] = '\0';
        cand *prev = cands_find(cl, base);
        if (prev != NULL && prev->origin == VP__DIR_ENV && origin == VP__DIR_INSTALLED &&
            builtin_provider(base) && !cfg->allow_provider_override) {
            log_at(cfg, VP_LEVEL_WARN,
                   "provider %s: using the installed %s, not %s from VAULTPLUG_PLUGIN_PATH "
                   "(a built-in provider is replaced only when the administrator's "
                   "configuration sets allow_provider_override)",
                   base, path, prev->path ? prev->path : "?");
            char *np = strdup(path);
            if (np == NULL) {
                rc = VP_ENOMEM;
                break;
            }
            free(prev->path);
            prev->path = np;
            prev->origin = origin;
            continue;
        }
        if (prev != NULL) {
            log_at(cfg, VP_LEVEL_DEBUG, "provider %s: ignoring %s (already found at %s)", base,
                   path, prev->path ? prev->path : "?");
            continue;
        }
        rc = cands_add(cl, base, path, !name_valid(base, n - 3), origin);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

/* ---- file checks ------------------------------------------------------------------------- */

static int check_owner_mode(vp__provider *p, const char *what, const char *path,
                            const struct stat *st)
{
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return fail(p, VP_EPERM,
                    "insecure permissions: %s %s is writable by group or others (mode %04o)", what,
                    path, (unsigned)(st->st_mode & 07777)) == 0
                   ? 1
                   : -1;
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me)
        return fail(p, VP_EPERM,
                    "insecure ownership: %s %s is owned by uid %u (need root or uid %u)", what,
                    path, (unsigned)st->st_uid, (unsigned)me) == 0
                   ? 1
                   : -1;
    return 0;
}

/* 0 = safe, 1 = refused (reason recorded), -1 = out of memory. The search directory, the file
 * and the directory of the file's real location (after symlinks) must all be safe. */
static int check_file(vp__provider *p, const char *path)
{
    char real[PATH_MAX];
    struct stat st;
    if (realpath(path, real) == NULL)
        return fail(p, VP_EIO, "cannot resolve %s: %s", path, strerror(errno)) == 0 ? 1 : -1;

    char dir_buf[PATH_MAX];
    snprintf(dir_buf, sizeof(dir_buf), "%s", path);
    const char *dir = dirname(dir_buf);
    if (stat(dir, &st) != 0)
        return fail(p, VP_EIO, "cannot stat %s: %s", dir, strerror(errno)) == 0 ? 1 : -1;
    int r = check_owner_mode(p, "directory", dir, &st);
    if (r != 0)
        return r;

    if (stat(real, &st) != 0)
        return fail(p, VP_EIO, "cannot stat %s: %s", real, strerror(errno)) == 0 ? 1 : -1;
    if (!S_ISREG(st.st_mode))
        return fail(p, VP_EIO, "%s is not a regular file", real) == 0 ? 1 : -1;
    r = check_owner_mode(p, "file", real, &st);
    if (r != 0)
        return r;

    char rdir_buf[PATH_MAX];
    snprintf(rdir_buf, sizeof(rdir_buf), "%s", real);
    const char *rdir = dirname(rdir_buf);
    if (stat(rdir, &st) != 0)
        return fail(p, VP_EIO, "cannot stat %s: %s", rdir, strerror(errno)) == 0 ? 1 : -1;
    return check_owner_mode(p, "directory", rdir, &st);
}

/* ---- table checks ------------------------------------------------------------------------ */

static char *join_schemes(const char *const *s)
{
    size_t n = 1;
    for (size_t i = 0; s[i]; i++)
        n += strlen(s[i]) + 1;
    char *out = malloc(n);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; s[i]; i++) {
        if (i > 0)
            strcat(out, ",");
        strcat(out, s[i]);
    }
    return out;
}

#define TRY(x)                \
    do {                      \
        if ((x) != 0)         \
            return VP_ENOMEM; \
    } while (0)

/* Check the table; on a violation record the reason and return 0 with state FAILED. */
static int check_table(vp__provider *p, const vp_provider *t)
{
    p->info.abi_major = t->hdr.abi_major;
    p->info.abi_minor = t->hdr.abi_minor;
    if (t->hdr.abi_major != VP_ABI_MAJOR)
        return fail(p, VP_EABI, "ABI major %u, host needs %d", (unsigned)t->hdr.abi_major,
                    VP_ABI_MAJOR);
    if (t->hdr.struct_size < PROVIDER_MIN_SIZE)
        return fail(p, VP_EABI, "provider table too short: %u bytes, need %zu",
                    (unsigned)t->hdr.struct_size, (size_t)PROVIDER_MIN_SIZE);
    p->info.caps = t->caps;
    if (t->name == NULL)
        return fail(p, VP_EABI, "provider table has no name");
    if (strcmp(t->name, p->name) != 0)
        return fail(p, VP_EABI, "provider name '%.64s' does not match the file name '%s.so'",
                    t->name, p->name);
    if (t->version == NULL || t->description == NULL || t->schemes == NULL)
        return fail(p, VP_EABI, "provider table lacks %s",
                    t->version == NULL       ? "a version"
                    : t->description == NULL ? "a description"
                                             : "a scheme list");
    if (t->version) {
        free(p->version);
        if ((p->version = strdup(t->version)) == NULL)
            return VP_ENOMEM;
    }
    free(p->description);
    if ((p->description = strdup(t->description)) == NULL)
        return VP_ENOMEM;
    if (t->schemes[0] == NULL)
        return fail(p, VP_EABI, "provider declares no scheme");
    for (size_t i = 0; t->schemes[i]; i++) {
        if (i >= 64)
            return fail(p, VP_EABI, "provider declares more than 64 schemes");
        if (!vp__scheme_valid(t->schemes[i]) || strlen(t->schemes[i]) > 64)
            return fail(p, VP_EABI, "invalid scheme '%.64s' (must match [a-z0-9][a-z0-9+.-]*)",
                        t->schemes[i]);
    }
    /* The own name comes first: `{% vault 'aws', ... %}` and aws:// mean the provider aws.so. */
    if (strcmp(t->schemes[0], p->name) != 0)
        return fail(p, VP_EABI,
                    "first scheme '%.64s' is not the provider's name '%s' (a provider's first "
                    "scheme must be its own name; other schemes are aliases)",
                    t->schemes[0], p->name);
    free(p->schemes_csv);
    if ((p->schemes_csv = join_schemes(t->schemes)) == NULL)
        return VP_ENOMEM;
    p->schemes_ok = 1;
    if (t->caps & ~VP_CAP_KNOWN_MASK_1_0)
        return fail(p, VP_EABI, "unknown capability bits 0x%x",
                    (unsigned)(t->caps & ~VP_CAP_KNOWN_MASK_1_0));
    static const struct {
        size_t off;
        const char *name;
    } required[] = {
        {offsetof(vp_provider, init), "init"},
        {offsetof(vp_provider, configure), "configure"},
        {offsetof(vp_provider, fetch), "fetch"},
        {offsetof(vp_provider, validate), "validate"},
        {offsetof(vp_provider, destroy), "destroy"},
        {offsetof(vp_provider, teardown), "teardown"},
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)t + required[i].off, sizeof(fn));
        if (fn == NULL)
            return fail(p, VP_EABI, "required function %s is NULL", required[i].name);
    }
    if ((t->caps & VP_CAP_BATCH) && t->fetch_batch == NULL)
        return fail(p, VP_EABI, "capability BATCH set but fetch_batch is NULL");
    if ((t->caps & VP_CAP_LIST) && t->list == NULL)
        return fail(p, VP_EABI, "capability LIST set but list is NULL");
    if ((t->caps & VP_CAP_INTERACTIVE_LOGIN) && t->login == NULL)
        return fail(p, VP_EABI, "capability INTERACTIVE_LOGIN set but login is NULL");
    return 0;
}

static int table_has_scheme(const vp_provider *t, const char *scheme)
{
    for (size_t i = 0; t->schemes[i]; i++)
        if (strcmp(t->schemes[i], scheme) == 0)
            return 1;
    return 0;
}

/* Two checked modules claiming one scheme: a provider's own name (its first scheme) beats an
 * alias whatever the name order; between two aliases the first in name order keeps it. The
 * loser is refused with a reason naming both files. Runs before any init(). */
static int resolve_conflicts(vp__provider *all, size_t n)
{
    /* An alias that is the name of another provider file found (even one that failed its
     * checks or is not enabled) belongs to that provider: never to another module. (Not a
     * module from VAULTPLUG_PLUGIN_PATH refused for claiming an installed built-in's scheme:
     * the installed hashicorp keeps its alias hcp against an hcp.so from the variable.) */
    for (size_t i = 0; i < n; i++) {
        vp__provider *p = &all[i];
        for (size_t s = 1; p->checked && p->table->schemes[s]; s++) {
            const char *scheme = p->table->schemes[s];
            for (size_t j = 0; p->checked && j < n; j++) {
                vp__provider *q = &all[j];
                if (j == i || q->checked || q->path == NULL || q->builtin_refused ||
                    strcmp(q->name, scheme) != 0)
                    continue;
                if (fail(p, VP_EEXIST,
                         "scheme '%s' is the name of provider '%s' (%s), which is %s: no other "
                         "module may serve it; remove %s or %s",
                         scheme, q->name, q->path,
                         q->info.state == VP_PROVIDER_FAILED ? "not loaded (see its reason)"
                                                             : "not enabled",
                         p->path, q->path) != 0)
                    return VP_ENOMEM;
                p->checked = 0;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        vp__provider *p = &all[i];
        for (size_t s = 0; p->checked && p->table->schemes[s]; s++) {
            const char *scheme = p->table->schemes[s];
            for (size_t j = 0; p->checked && j < n; j++) {
                vp__provider *q = &all[j];
                if (j == i || !q->checked || !table_has_scheme(q->table, scheme))
                    continue;
                /* p's own name, or an alias of both and p first: q loses; else p loses. */
                int p_wins = s == 0 || (strcmp(q->table->schemes[0], scheme) != 0 && i < j);
                vp__provider *win = p_wins ? p : q, *lose = p_wins ? q : p;
                int own = strcmp(win->table->schemes[0], scheme) == 0;
                if (fail(lose, VP_EEXIST,
                         "scheme '%s' is already served by provider '%s' (%s), %s; one scheme "
                         "cannot be served by two modules: remove %s or %s",
                         scheme, win->name, win->path,
                         own ? "whose own name it is" : "first in name order", lose->path,
                         win->path) != 0)
                    return VP_ENOMEM;
                lose->checked = 0;
            }
        }
    }
    return 0;
}

/* A module from VAULTPLUG_PLUGIN_PATH claiming a scheme of a built-in provider that the
 * installed directory has: refused unless the administrator allows overrides. */
static int check_builtin_claim(const vp__loader_cfg *cfg, vp__provider *p)
{
    if (p->origin != VP__DIR_ENV || cfg->allow_provider_override || cfg->no_default_plugin_dir)
        return 0;
    for (size_t s = 0; p->table->schemes[s]; s++) {
        const char *owner = builtin_owner(p->table->schemes[s]);
        if (owner == NULL)
            continue;
        char inst[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(inst, sizeof(inst), "%s/%s.so", vp__loader_installed_dir(), owner) >=
                sizeof(inst) ||
            stat(inst, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        p->builtin_refused = 1;
        return fail(p, VP_EPERM,
                    "scheme '%s' belongs to the installed provider '%s' (%s); %s comes from "
                    "VAULTPLUG_PLUGIN_PATH and may not take it (the administrator's "
                    "configuration can allow this with allow_provider_override)",
                    p->table->schemes[s], owner, inst, p->path);
    }
    return 0;
}

int vp__provider_has_scheme(const vp__provider *p, const char *scheme)
{
    if (p->info.state != VP_PROVIDER_LOADED || p->table == NULL)
        return 0;
    for (size_t i = 0; p->table->schemes[i]; i++)
        if (strcmp(p->table->schemes[i], scheme) == 0)
            return 1;
    return 0;
}

/* ---- loading one ------------------------------------------------------------------------- */

/* Why a dlopen failed. A non-ELF file is named as such (the dynamic linker would say "invalid
 * ELF header" or "file too short"); for an ELF file, the dynamic linker's own message (undefined
 * symbol, wrong class, missing library). */
static int fail_open(vp__provider *p, const char *dlerr)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(p->path, "rbe");
    size_t got = f ? fread(magic, 1, sizeof(magic), f) : 0;
    if (f)
        fclose(f);
    if (got < 4 || memcmp(magic,
                          "\x7f"
                          "ELF",
                          4) != 0)
        return fail(p, VP_EIO, "cannot load %s: not an ELF shared object", p->path);
    return fail(p, VP_EIO, "cannot load %s: %s", p->path,
                dlerr && dlerr[0] ? dlerr : "unknown error");
}

/* Checks, open, entry point and table checks: no init() yet. Sets p->checked on success.
 *
 * Plain dlopen: the library is Linux-only (glibc's dlopen and dlerror are thread-safe and
 * fork-safe), so libltdl's portability bought nothing and its unlocked global state needed a
 * mutex and fork handlers (docs/design.md, "The plugin ABI"). RTLD_LOCAL: two providers may
 * define the same internal symbol names. RTLD_NODELETE: code may still be referenced (threads,
 * atexit) after teardown, so it is never unmapped. */
static int open_one(const vp__loader_cfg *cfg, vp__provider *p)
{
    int r = check_file(p, p->path);
    if (r != 0)
        return r < 0 ? VP_ENOMEM : 0;

    void *h = dlopen(p->path, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
    if (h == NULL)
        return fail_open(p, dlerror());
    vp_provider_entry_fn entry = NULL;
    void *sym = dlsym(h, VP_PROVIDER_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof(entry));
    if (entry == NULL)
        return fail(p, VP_EABI, "missing entry symbol " VP_PROVIDER_ENTRY_SYMBOL);
    const vp_provider *t = entry(VP_ABI_MAJOR, VP_ABI_MINOR);
    if (t == NULL)
        return fail(p, VP_EABI, "provider does not support ABI major %d", VP_ABI_MAJOR);
    p->table = t;
    int rc = check_table(p, t);
    if (rc != 0 || p->info.state == VP_PROVIDER_FAILED)
        return rc;
    rc = check_builtin_claim(cfg, p);
    if (rc != 0 || p->info.state == VP_PROVIDER_FAILED)
        return rc;
    p->checked = 1;
    return 0;
}

/* Ready for init(), which runs when a call first needs the provider (provinit.c). */
static void prepare_one(const vp__loader_cfg *cfg, vp__provider *p)
{
    p->hc = *cfg->hc_template;
    p->hc.source = p->name;
    p->hc.inputs = vp__inputs_new(); /* NULL: its values are simply never persisted */
    p->mod = NULL;
    p->info.state = VP_PROVIDER_LOADED;
    p->info.status = 0;
    log_at(cfg, VP_LEVEL_DEBUG, "provider %s %s loaded from %s (initialised on first use)", p->name,
           p->version, p->path);
}

int vp__loader_init(const vp__provider *p, void **mod)
{
    *mod = NULL;
    /* The host context is the provider's for life; init() may keep the pointer. */
    vp__fault *fs = vp__fault_enter(p->hc.fault);
    int rc = vp_status_normalize(p->table->init(vp__host_table(), (vp_host_ctx *)&p->hc, mod));
    vp__fault_leave(fs);
    return rc;
}

/* ---- public ------------------------------------------------------------------------------ */

static int cmp_prov(const void *a, const void *b)
{
    return strcmp(((const vp__provider *)a)->name, ((const vp__provider *)b)->name);
}

/* name is in list (NULL = every name is) */
static int listed(const char *const *list, const char *name)
{
    if (list == NULL)
        return 1;
    for (const char *const *e = list; *e; e++)
        if (strcmp(*e, name) == 0)
            return 1;
    return 0;
}

static int enabled(const vp__loader_cfg *cfg, const char *name)
{
    return listed(cfg->enabled, name);
}

static void fill_info(vp__provider *p)
{
    p->info.name = p->name;
    p->info.path = p->path ? p->path : "";
    p->info.version = p->version ? p->version : "";
    p->info.description = p->description ? p->description : "";
    p->info.schemes = p->schemes_csv ? p->schemes_csv : "";
    p->info.reason = p->reason ? p->reason : "";
}

static char *join_dirs(const dirlist *dl)
{
    size_t n = 1;
    for (size_t i = 0; i < dl->n; i++)
        n += strlen(dl->d[i]) + 1;
    char *s = malloc(n);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < dl->n; i++) {
        if (i > 0)
            strcat(s, ":");
        strcat(s, dl->d[i]);
    }
    return s;
}

int vp__loader_load(const vp__loader_cfg *cfg, vp__provider **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    dirlist dl = {{0}, {0}, 0};
    candlist cl = {NULL, 0, 0};
    vp__provider *ps = NULL;
    size_t n = 0;
    char *dirs_str = NULL;
    int rc = build_dirs(cfg, &dl);
    for (size_t i = 0; rc == 0 && i < dl.n; i++)
        rc = scan_dir(cfg, dl.d[i], dl.origin[i], &cl);
    for (const char *const *e = cfg->enabled; rc == 0 && e && *e; e++)
        if (cands_find(&cl, *e) == NULL)
            rc = cands_add(&cl, *e, NULL, 0, VP__DIR_HOST);
    if (rc != 0)
        goto out;
    if ((dirs_str = join_dirs(&dl)) == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }

    ps = calloc(cl.n ? cl.n : 1, sizeof(*ps));
    if (ps == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cl.n; i++) {
        ps[i].name = cl.c[i].name; /* ownership moves */
        ps[i].path = cl.c[i].path;
        ps[i].origin = cl.c[i].origin;
        cl.c[i].name = cl.c[i].path = NULL;
        ps[i].info.state = VP_PROVIDER_DISABLED;
        if (cl.c[i].bad_name)
            rc = fail(&ps[i], VP_EINVAL, "invalid provider file name (must match [a-z0-9_]+.so)");
        else if (ps[i].path == NULL)
            rc = fail(&ps[i], VP_ENOTFOUND, "enabled but not found in %s",
                      dl.n ? dirs_str : "(no provider directory)");
        n++;
        if (rc != 0)
            goto out;
    }
    qsort(ps, n, sizeof(*ps), cmp_prov);
    for (size_t i = 0; i < n; i++) {
        vp__provider *p = &ps[i];
        if (p->info.state == VP_PROVIDER_FAILED)
            continue;
        if (!enabled(cfg, p->name)) { /* stays DISABLED: never opened */
            if (!listed(cfg->ceiling, p->name) &&
                fail(p, 0, "not enabled by the administrator's configuration (%s)",
                     cfg->ceiling_src ? cfg->ceiling_src : "enabled_providers") != 0) {
                rc = VP_ENOMEM;
                goto out;
            }
            p->info.state = VP_PROVIDER_DISABLED;
            continue;
        }
        if ((rc = open_one(cfg, p)) != 0)
            goto out;
    }
    if ((rc = resolve_conflicts(ps, n)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        vp__provider *p = &ps[i];
        if (p->checked)
            prepare_one(cfg, p);
        if (p->info.state == VP_PROVIDER_FAILED)
            log_at(cfg, VP_LEVEL_WARN, "provider %s not loaded: %s", p->name, p->reason);
    }
out:
    for (size_t i = 0; i < n; i++)
        fill_info(&ps[i]);
    for (size_t i = 0; i < cl.n; i++) {
        free(cl.c[i].name);
        free(cl.c[i].path);
    }
    free(cl.c);
    for (size_t i = 0; i < dl.n; i++)
        free(dl.d[i]);
    free(dirs_str);
    if (rc != 0) {
        vp__loader_unload(ps, n);
        return rc;
    }
    *out = ps;
    *n_out = n;
    return 0;
}

void vp__loader_unload(vp__provider *p, size_t n)
{
    if (p == NULL)
        return;
    for (size_t i = n; i-- > 0;) {
        if (p[i].inited && p[i].table != NULL)
            p[i].table->teardown(p[i].mod);
        p[i].inited = 0;
    }
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].path);
        free(p[i].version);
        free(p[i].description);
        free(p[i].schemes_csv);
        free(p[i].reason);
        vp__inputs_free(p[i].hc.inputs);
    }
    free(p);
}
