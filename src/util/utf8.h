/* utf8: the length of the UTF-8 sequence at s, for the writers of formats that must be valid
 * UTF-8 (JSON, Prometheus' text format) and take strings from traced programs. */
#ifndef SS_UTIL_UTF8_H
#define SS_UTIL_UTF8_H

/* 1 to 4 for a well-formed sequence (1 for ASCII, NUL included), 0 for a byte that starts
 * none. Overlong two-byte forms are refused; s must be NUL-terminated. */
static inline int ss_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    int n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && s[0] < 0xc2))
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

#endif
