/* json: a small streaming JSON writer with correct string escaping, used by the exporters. */
#ifndef SS_JSON_H
#define SS_JSON_H

#include <stdint.h>
#include <stdio.h>

#define SS_JSON_MAX_DEPTH 32

struct ss_json {
    FILE *out;
    int depth;
    int count[SS_JSON_MAX_DEPTH]; /* members written at each level */
    char close[SS_JSON_MAX_DEPTH];
    int pretty;
    size_t used;
    char buf[1 << 16]; /* written out when full and when the top-level value ends */
    int error;         /* errno of the first write to out that failed, 0 while none has */
};

void ss_json_init(struct ss_json *j, FILE *out, int pretty);
/* `key` is the member name inside an object and NULL inside an array or at the top. */
void ss_json_object(struct ss_json *j, const char *key);
void ss_json_array(struct ss_json *j, const char *key);
void ss_json_end(struct ss_json *j);
/* Strings are quoted and escaped; bytes that are not valid UTF-8 become U+FFFD. NULL gives
 * null. Nesting deeper than SS_JSON_MAX_DEPTH is not supported. */
void ss_json_string(struct ss_json *j, const char *key, const char *value);
void ss_json_uint(struct ss_json *j, const char *key, uint64_t value);
void ss_json_double(struct ss_json *j, const char *key, double value);
/* value / 10^digits written exactly with that many decimals: (1234567, 3) gives 1234.567. */
void ss_json_decimal(struct ss_json *j, const char *key, uint64_t value, unsigned digits);
void ss_json_bool(struct ss_json *j, const char *key, int value);
void ss_json_null(struct ss_json *j, const char *key);
/* Writes out what is buffered; done by itself when the top-level value ends. */
void ss_json_flush(struct ss_json *j);
/* Writes out everything (out flushed too): 0, or -errno of the first write that failed. A
 * failed fwrite drops what stdio held, so its errno is kept here when it happens. */
int ss_json_status(struct ss_json *j);

#endif
