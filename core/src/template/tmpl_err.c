/*
 * tmpl_err - error messages of the template engine: "line L, column C: what", a one-line
 * excerpt of the template and a caret. Only template text goes into the excerpt, never a value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tmpl_int.h"

/* ---- error messages ------------------------------------------------------------------------- */

int vp__tmpl_error(vp_error *err, const char *src, size_t len, size_t off, int code,
                   const char *fmt, ...)
{
    if (err == NULL)
        return code;
    if (off > len)
        off = len;
    size_t line = 1, ls = 0;
    for (size_t i = 0; i < off; i++) {
        if (src[i] == '\n') {
            line++;
            ls = i + 1;
        }
    }
    size_t col = 1;
    for (size_t i = ls; i < off; i++)
        if (((unsigned char)src[i] & 0xC0) != 0x80)
            col++;
    char what[VP_ERROR_MAX]; /* a provider's whole message, with its advice at the end */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    /* Excerpt: at most 70 columns of the line, starting so that the caret stays visible.
     * Control characters become spaces so the caret lines up and the message stays one line. */
    size_t le = ls;
    while (le < len && src[le] != '\n' && src[le] != '\r')
        le++;
    size_t start = ls;
    while (off - start > 50) {
        start++;
        while (start < off && ((unsigned char)src[start] & 0xC0) == 0x80)
            start++;
    }
    char ex[300], caret[80];
    size_t ei = 0, cols = 0, caretcol = 0;
    for (size_t i = start; i < le && cols < 70 && ei + 5 < sizeof(ex); i++) {
        unsigned char c = (unsigned char)src[i];
        if (i == off)
            caretcol = cols;
        if (c < 0x20 || c == 0x7f) {
            ex[ei++] = ' ';
        } else {
            ex[ei++] = (char)c;
        }
        if ((c & 0xC0) != 0x80)
            cols++;
    }
    if (off >= start) {
        size_t cc = 0;
        for (size_t i = start; i < off && i < le; i++)
            if (((unsigned char)src[i] & 0xC0) != 0x80)
                cc++;
        caretcol = cc;
    }
    /* drop a trailing partial UTF-8 sequence */
    size_t k = ei;
    while (k > 0 && ((unsigned char)ex[k - 1] & 0xC0) == 0x80)
        k--;
    if (k > 0 && ((unsigned char)ex[k - 1] & 0x80)) {
        unsigned char lead = (unsigned char)ex[k - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (ei - (k - 1) < need)
            ei = k - 1;
    }
    ex[ei] = '\0';
    if (caretcol > 75)
        caretcol = 75;
    memset(caret, ' ', caretcol);
    caret[caretcol] = '^';
    caret[caretcol + 1] = '\0';
    err->code = code;
    char full[1024];
    int fl = snprintf(full, sizeof(full), "line %zu, column %zu: %s\n  %s\n  %s", line, col, what,
                      ex, caret);
    size_t cp = fl < 0 ? 0 : (size_t)fl;
    if (cp >= sizeof(err->message))
        cp = sizeof(err->message) - 1;
    memcpy(err->message, full, cp);
    err->message[cp] = '\0';
    return code;
}
