#define _GNU_SOURCE
#include "errors.h"

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
