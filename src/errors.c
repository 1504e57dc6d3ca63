#include "errors.h"

const char *ss_strerror(int code)
{
    switch (code < 0 ? -code : code) {
    case SS_OK:
        return "success";
#define SS_ERR_CASE(name, text)                                                                    \
    case SS_E##name:                                                                               \
        return text;
        SS_ERRNO_MAP(SS_ERR_CASE)
#undef SS_ERR_CASE
    }
    return "unknown error";
}
