/*
 * hexval - value of one hexadecimal digit (either case), shared by every decoder in the core.
 */
#ifndef VP_HEXVAL_H
#define VP_HEXVAL_H

/* 0..15, or -1 if c is not a hex digit. */
static inline int vp__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
