#define _GNU_SOURCE
#include "errors.h"

#include <errno.h>
#include <string.h>

const char *ss_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define SS_ERR_CASE(name, n, text)                                                                 \
    case SS_E##name:                                                                               \
        return text;
        SS_ERROR_MAP(SS_ERR_CASE)
#undef SS_ERR_CASE
    }
    const char *text = code < 0 && code > -SS_ERROR_BASE ? strerrordesc_np(-code) : NULL;
    return text ? text : "unknown error";
}

int ss_write_status(FILE *out)
{
    errno = 0;
    if (fflush(out) == 0 && !ferror(out))
        return 0;
    return errno ? -errno : -EIO;
}
