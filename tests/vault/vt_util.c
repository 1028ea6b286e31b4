#include "vt_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

void vt_dir_make(vt_dir *d)
{
    const char *base = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/vptest-vault-XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof d->path, "%s/vault.vpv", d->dir);
}

void vt_dir_remove(vt_dir *d)
{
    DIR *dd = opendir(d->dir);
    struct dirent *de;
    char p[600];

    if (dd == NULL)
        return;
    while ((de = readdir(dd)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", d->dir, de->d_name);
        unlink(p);
    }
    closedir(dd);
    rmdir(d->dir);
}

unsigned char *vt_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

void vt_write(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

char *vt_create(const vt_dir *d)
{
    vp_buf key = VP_BUF_INIT;
    vp_error err;
    char *k;

    assert_int_equal(vp_vault_create(d->path, NULL, &key, &err), 0);
    assert_int_equal(key.len, VP_VAULT_KEY_STRLEN);
    k = strdup(key.data);
    vp_buf_free(&key);
    return k;
}

int vt_contains(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
    const unsigned char *h = hay;
    if (nlen == 0 || hlen < nlen)
        return 0;
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (memcmp(h + i, needle, nlen) == 0)
            return 1;
    return 0;
}

static size_t u32le(const unsigned char *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

size_t vt_records(const unsigned char *img, size_t len, size_t *offs, size_t *lens, size_t max)
{
    size_t n = 0, off = 96, count = u32le(img + 56);
    while (n < count && n < max && off + 40 <= len - 32) {
        offs[n] = off;
        lens[n] = 40 + u32le(img + off + 4);
        off += lens[n];
        n++;
    }
    return n;
}

vt_fixture *vt_fixture_new(void)
{
    vt_fixture *f = calloc(1, sizeof *f);
    vp_error err;
    if (f == NULL)
        return NULL;
    vt_dir_make(&f->d);
    f->key = vt_create(&f->d);
    if (vp_vault_open(f->d.path, f->key, &f->v, &err) != 0) {
        vt_fixture_free(f);
        return NULL;
    }
    return f;
}

void vt_fixture_free(vt_fixture *f)
{
    if (f == NULL)
        return;
    vp_vault_close(f->v);
    free(f->key);
    vt_dir_remove(&f->d);
    free(f);
}
