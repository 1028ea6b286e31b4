/* inputs - see inputs.h. A sorted array under a mutex: providers read a handful of names. */
#include "inputs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vp__inputs {
    pthread_mutex_t mu;
    char *names[VP__INPUTS_MAX];
    size_t n;
    int overflow;
};

vp__inputs *vp__inputs_new(void)
{
    vp__inputs *in = calloc(1, sizeof(*in));
    if (in != NULL && pthread_mutex_init(&in->mu, NULL) != 0) {
        free(in);
        in = NULL;
    }
    return in;
}

void vp__inputs_free(vp__inputs *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->n; i++)
        free(in->names[i]);
    pthread_mutex_destroy(&in->mu);
    free(in);
}

void vp__inputs_add(vp__inputs *in, char kind, const char *name)
{
    if (in == NULL || name == NULL)
        return;
    size_t len = strlen(name);
    pthread_mutex_lock(&in->mu);
    if (len > VP__INPUT_NAME_MAX) {
        in->overflow = 1;
        pthread_mutex_unlock(&in->mu);
        return;
    }
    /* Binary search on "k:name". */
    size_t lo = 0, hi = in->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = in->names[mid];
        int c = m[0] != kind ? (m[0] < kind ? -1 : 1) : strcmp(m + 2, name);
        if (c == 0) {
            pthread_mutex_unlock(&in->mu);
            return;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    char *s = in->n < VP__INPUTS_MAX ? malloc(len + 3) : NULL;
    if (s == NULL) {
        in->overflow = 1;
        pthread_mutex_unlock(&in->mu);
        return;
    }
    s[0] = kind;
    s[1] = ':';
    memcpy(s + 2, name, len + 1);
    memmove(in->names + lo + 1, in->names + lo, (in->n - lo) * sizeof(in->names[0]));
    in->names[lo] = s;
    in->n++;
    pthread_mutex_unlock(&in->mu);
}

void vp__inputs_mark_unknown(vp__inputs *in)
{
    if (in == NULL)
        return;
    pthread_mutex_lock(&in->mu);
    in->overflow = 1;
    pthread_mutex_unlock(&in->mu);
}

void vp__inputs_list_free(char **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        free(list[i]);
    free(list);
}

int vp__inputs_list(vp__inputs *in, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (in == NULL)
        return -1;
    pthread_mutex_lock(&in->mu);
    int rc = in->overflow ? -1 : 0;
    char **l = rc == 0 ? calloc(in->n ? in->n : 1, sizeof(*l)) : NULL;
    if (rc == 0 && l == NULL)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < in->n; i++)
        if ((l[i] = strdup(in->names[i])) == NULL)
            rc = -1;
    size_t cnt = in->n;
    pthread_mutex_unlock(&in->mu);
    if (rc != 0) {
        vp__inputs_list_free(l, cnt);
        return -1;
    }
    *out = l;
    *n = cnt;
    return 0;
}
