/*
 * log - levelled logging with a redactor in front of the callback (see log.h).
 *
 * Redaction works on the complete formatted text: every occurrence of every masked value is
 * found (memmem, one pass per mask, overlapping occurrences included) and marked in a bitmap of
 * the input; each maximal run of marked bytes becomes one VP__REDACTED. Marking instead of
 * replacing in place means overlapping masks, or a mask containing another, can never leave a
 * fragment of either behind, and the order of the masks does not matter for correctness (they
 * are still kept longest first). Only the redacted result is truncated, so a cut cannot expose
 * part of a secret.
 *
 * Masks are copies of secret values, so they live in the secure arena. A rwlock lets any number
 * of threads redact while vp__log_mask/unmask take it exclusively. If a mask cannot be stored
 * (out of memory, too many masks) the redactor fails closed: from then on every message is
 * replaced by VP__REDACTED, because logging a secret is worse than logging nothing.
 */
#define _GNU_SOURCE /* memmem: linear-time search (two-way), needed on every log line */

#include "log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "secmem.h"
#include "vaultplug/status.h"

/* A sane bound: contexts mask a few values per fetched secret; far beyond this something is
 * looping, and failing closed is the safe answer. */
#define MASKS_MAX 65536u
/* Inputs up to this many bytes get their bitmap on the stack. */
#define STACK_BITMAP_BYTES 1024u

typedef struct mask {
    unsigned char *v; /* secure arena */
    size_t len;
    size_t refs;
} mask;

struct vp__log {
    vp_log_fn fn;
    void *ud;
    int level;
    pthread_rwlock_t lock;
    mask *masks; /* sorted by len, longest first */
    size_t nmasks, cap;
    int failed_closed;
};

int vp__log_new(vp_log_fn fn, void *ud, int level, vp__log **out)
{
    if (out == NULL)
        return VP_EINVAL;
    *out = NULL;
    if (vp__secmem_init() != 0)
        return VP_EINTERNAL;
    vp__log *log = calloc(1, sizeof(*log));
    if (log == NULL)
        return VP_ENOMEM;
    if (pthread_rwlock_init(&log->lock, NULL) != 0) {
        free(log);
        return VP_ENOMEM;
    }
    log->fn = fn;
    log->ud = ud;
    log->level = level;
    *out = log;
    return 0;
}

void vp__log_free(vp__log *log)
{
    if (log == NULL)
        return;
    for (size_t i = 0; i < log->nmasks; i++)
        vp__secmem_free(log->masks[i].v); /* wipes */
    free(log->masks);
    pthread_rwlock_destroy(&log->lock);
    free(log);
}

int vp__log_enabled(const vp__log *log, int level)
{
    return log != NULL && log->fn != NULL && level <= log->level;
}

/* Index of the mask equal to value, or nmasks. Lock held. */
static size_t find_mask(const vp__log *log, const void *value, size_t len)
{
    for (size_t i = 0; i < log->nmasks; i++) {
        if (log->masks[i].len == len && memcmp(log->masks[i].v, value, len) == 0)
            return i;
    }
    return log->nmasks;
}

void vp__log_mask(vp__log *log, const void *value, size_t len)
{
    if (log == NULL || value == NULL || len < VP__MASK_MIN)
        return;
    pthread_rwlock_wrlock(&log->lock);
    size_t i = find_mask(log, value, len);
    if (i < log->nmasks) {
        log->masks[i].refs++;
        goto out;
    }
    if (log->nmasks == log->cap) {
        size_t ncap = log->cap ? log->cap * 2 : 16;
        mask *nm = ncap <= MASKS_MAX ? realloc(log->masks, ncap * sizeof(*nm)) : NULL;
        if (nm == NULL) {
            log->failed_closed = 1;
            goto out;
        }
        log->masks = nm;
        log->cap = ncap;
    }
    unsigned char *copy = vp__secmem_alloc(len);
    if (copy == NULL) {
        log->failed_closed = 1;
        goto out;
    }
    memcpy(copy, value, len);
    /* Insert after every mask at least as long. */
    size_t at = 0;
    while (at < log->nmasks && log->masks[at].len >= len)
        at++;
    memmove(&log->masks[at + 1], &log->masks[at], (log->nmasks - at) * sizeof(mask));
    log->masks[at] = (mask){copy, len, 1};
    log->nmasks++;
out:
    pthread_rwlock_unlock(&log->lock);
}

void vp__log_unmask(vp__log *log, const void *value, size_t len)
{
    if (log == NULL || value == NULL || len < VP__MASK_MIN)
        return;
    pthread_rwlock_wrlock(&log->lock);
    size_t i = find_mask(log, value, len);
    if (i < log->nmasks && --log->masks[i].refs == 0) {
        vp__secmem_free(log->masks[i].v);
        memmove(&log->masks[i], &log->masks[i + 1], (log->nmasks - i - 1) * sizeof(mask));
        log->nmasks--;
    }
    pthread_rwlock_unlock(&log->lock);
}

static inline void mark(unsigned char *bits, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        bits[i >> 3] |= (unsigned char)(1u << (i & 7));
}

static inline int marked(const unsigned char *bits, size_t i)
{
    return (bits[i >> 3] >> (i & 7)) & 1;
}

/* Mark every byte of `in` covered by an occurrence of a mask. With in_cut (the input is a prefix
 * of a longer text), also mark a tail that is the beginning of a mask. Read lock held. */
static void mark_masks(const vp__log *log, const char *in, size_t len, int in_cut,
                       unsigned char *bits)
{
    /* With many masks, most are absent from a given line: a set of the byte pairs present in
     * the input lets us skip a mask whose first two bytes never occur, without a memmem call. */
    unsigned char pairs[65536 / 8];
    int use_pairs = log->nmasks >= 16;
    if (use_pairs) {
        memset(pairs, 0, sizeof(pairs));
        for (size_t i = 0; i + 1 < len; i++) {
            unsigned k = (unsigned)(unsigned char)in[i] << 8 | (unsigned char)in[i + 1];
            pairs[k >> 3] |= (unsigned char)(1u << (k & 7));
        }
    }
    for (size_t m = 0; m < log->nmasks; m++) {
        const unsigned char *v = log->masks[m].v;
        size_t ml = log->masks[m].len;
        const char *p = in, *end = in + len;
        const char *hit;
        unsigned pk = (unsigned)v[0] << 8 | v[1]; /* masks are >= VP__MASK_MIN bytes */
        if (use_pairs && !((pairs[pk >> 3] >> (pk & 7)) & 1))
            p = end; /* not in the text; the cut-tail check below still runs */
        while ((size_t)(end - p) >= ml && (hit = memmem(p, (size_t)(end - p), v, ml)) != NULL) {
            size_t at = (size_t)(hit - in);
            mark(bits, at, at + ml);
            p = hit + 1; /* overlapping occurrences ("aaaa" in "aaaaa") */
        }
        if (in_cut) {
            for (size_t k = (ml - 1 < len ? ml - 1 : len); k > 0; k--) {
                if ((unsigned char)in[len - k] == v[0] && memcmp(in + len - k, v, k) == 0) {
                    mark(bits, len - k, len);
                    break;
                }
            }
        }
    }
}

/* Output writer that counts the full length and remembers where VP__REDACTED tokens start, so
 * a truncation can back up to the start of one it would cut. */
typedef struct writer {
    char *out;
    size_t cap;    /* bytes usable for text (cap - 1) */
    size_t pos;    /* full length, may exceed cap */
    size_t tok[2]; /* starts of the last two tokens written */
} writer;

static void w_put(writer *w, const char *s, size_t n)
{
    if (w->pos < w->cap) {
        size_t k = w->cap - w->pos < n ? w->cap - w->pos : n;
        memcpy(w->out + w->pos, s, k);
    }
    w->pos += n;
}

static void w_token(writer *w)
{
    /* Only tokens that start in the visible part matter; the cut is 3 bytes before its end and
     * a token is 10 bytes long, so the one spanning the cut is one of the last two. */
    if (w->pos < w->cap) {
        w->tok[0] = w->tok[1];
        w->tok[1] = w->pos;
    }
    w_put(w, VP__REDACTED, sizeof(VP__REDACTED) - 1);
}

/* NUL-terminate, truncating with VP__TRUNCATED if the text did not fit. Returns the length. */
static size_t w_finish(writer *w)
{
    if (w->pos <= w->cap) {
        w->out[w->pos] = '\0';
        return w->pos;
    }
    const size_t ml = sizeof(VP__TRUNCATED) - 1;
    if (w->cap < ml) {
        w->out[w->cap] = '\0';
        return w->cap;
    }
    size_t cut = w->cap - ml;
    /* Never leave half a VP__REDACTED (it would read like mangled data). */
    const size_t tl = sizeof(VP__REDACTED) - 1;
    for (int i = 1; i >= 0; i--) {
        if (w->tok[i] != SIZE_MAX && w->tok[i] < cut && cut < w->tok[i] + tl) {
            cut = w->tok[i];
            break;
        }
    }
    /* Nor half a UTF-8 sequence: back up over continuation bytes to the lead byte. */
    for (int i = 0; i < 4 && cut > 0 && ((unsigned char)w->out[cut] & 0xC0) == 0x80; i++)
        cut--;
    memcpy(w->out + cut, VP__TRUNCATED, ml);
    w->out[cut + ml] = '\0';
    return cut + ml;
}

static size_t redact_locked(const vp__log *log, const char *in, size_t len, int in_cut, char *out,
                            size_t cap)
{
    writer w = {out, cap - 1, 0, {SIZE_MAX, SIZE_MAX}};
    if (log != NULL && log->failed_closed) {
        w_token(&w);
        return w_finish(&w);
    }
    if (log == NULL || log->nmasks == 0) {
        w_put(&w, in, len);
        return w_finish(&w);
    }
    unsigned char stack_bits[STACK_BITMAP_BYTES];
    size_t nbits = (len + 7) / 8;
    unsigned char *bits = nbits <= sizeof(stack_bits) ? stack_bits : calloc(nbits, 1);
    if (bits == NULL) { /* cannot tell where the secrets are: fail closed */
        w_token(&w);
        return w_finish(&w);
    }
    if (bits == stack_bits)
        memset(bits, 0, nbits);
    mark_masks(log, in, len, in_cut, bits);
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        if (marked(bits, i)) {
            while (j < len && marked(bits, j))
                j++;
            w_token(&w);
        } else {
            while (j < len && !marked(bits, j))
                j++;
            w_put(&w, in + i, j - i);
        }
        i = j;
    }
    /* The bitmap says where secrets are, not what they are; wiped anyway for hygiene. */
    sodium_memzero(bits, nbits);
    if (bits != stack_bits)
        free(bits);
    return w_finish(&w);
}

static size_t redact(vp__log *log, const char *in, size_t len, int in_cut, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return 0;
    if (in == NULL)
        len = 0;
    if (log == NULL)
        return redact_locked(NULL, in, len, in_cut, out, cap);
    pthread_rwlock_rdlock(&log->lock);
    size_t n = redact_locked(log, in, len, in_cut, out, cap);
    pthread_rwlock_unlock(&log->lock);
    return n;
}

size_t vp__log_redact(vp__log *log, const char *in, size_t len, char *out, size_t cap)
{
    return redact(log, in, len, 0, out, cap);
}

size_t vp__log_vformat(vp__log *log, char *out, size_t cap, const char *fmt, va_list ap)
{
    if (out == NULL || cap == 0)
        return 0;
    if (fmt == NULL)
        fmt = "";
    char tmp[VP__LOG_MSG_MAX];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    size_t r;
    if (n < 0) {
        r = redact(log, "(log format error)", 18, 0, out, cap);
    } else if ((size_t)n < sizeof(tmp)) {
        r = redact(log, tmp, (size_t)n, 0, out, cap);
    } else {
        /* Too long for the stack: format the whole text (bounded) so the redactor sees every
         * secret complete, then truncate the redacted result. */
        size_t size = (size_t)n + 1 < VP__LOG_FMT_MAX ? (size_t)n + 1 : VP__LOG_FMT_MAX;
        char *big = vp__secmem_alloc(size);
        if (big != NULL) {
            vsnprintf(big, size, fmt, ap2);
            r = redact(log, big, size - 1, (size_t)n >= size, out, cap);
            vp__secmem_free(big); /* wipes */
        } else {
            r = redact(log, tmp, sizeof(tmp) - 1, 1, out, cap);
        }
    }
    va_end(ap2);
    /* Only what vsnprintf wrote (it NUL-terminates): a 4 KiB wipe per line would be waste. */
    sodium_memzero(tmp,
                   n < 0 ? sizeof(tmp) : ((size_t)n < sizeof(tmp) ? (size_t)n + 1 : sizeof(tmp)));
    return r;
}

void vp__log_vwrite(vp__log *log, int level, const char *source, const char *fmt, va_list ap)
{
    if (!vp__log_enabled(log, level) || fmt == NULL)
        return;
    char msg[VP__LOG_MSG_MAX];
    size_t n = vp__log_vformat(log, msg, sizeof(msg), fmt, ap);
    /* Outside every lock: the callback may take its own locks or be slow. */
    log->fn(log->ud, level, source != NULL ? source : "core", msg);
    sodium_memzero(msg, n + 1);
}

void vp__log_write(vp__log *log, int level, const char *source, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vp__log_vwrite(log, level, source, fmt, ap);
    va_end(ap);
}
