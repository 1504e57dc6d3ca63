#include "util/json.h"

#include <errno.h>
#include <string.h>

#include "errors.h"
#include "util/utf8.h"

void ss_json_init(struct ss_json *j, FILE *out, int pretty)
{
    memset(j, 0, sizeof *j);
    j->out = out;
    j->pretty = pretty;
}

static void write_out(struct ss_json *j, const char *s, size_t n)
{
    if (fwrite(s, 1, n, j->out) != n && !j->error)
        j->error = errno ? errno : EIO;
}

void ss_json_flush(struct ss_json *j)
{
    if (j->used)
        write_out(j, j->buf, j->used);
    j->used = 0;
}

int ss_json_status(struct ss_json *j)
{
    ss_json_flush(j);
    int rc = ss_write_status(j->out);
    return rc < 0 && j->error ? -j->error : rc;
}

static void put(struct ss_json *j, const char *s, size_t n)
{
    if (j->used + n > sizeof j->buf) {
        ss_json_flush(j);
        if (n > sizeof j->buf) {
            write_out(j, s, n);
            return;
        }
    }
    memcpy(j->buf + j->used, s, n);
    j->used += n;
}

static void put_char(struct ss_json *j, char c)
{
    if (j->used == sizeof j->buf)
        ss_json_flush(j);
    j->buf[j->used++] = c;
}

static void put_str(struct ss_json *j, const char *s)
{
    put(j, s, strlen(s));
}

static void indent(struct ss_json *j)
{
    put_char(j, '\n');
    for (int i = 0; i < j->depth; i++)
        put(j, "  ", 2);
}

static void escape(struct ss_json *j, const char *str);

static void member(struct ss_json *j, const char *key)
{
    if (j->depth > 0) {
        if (j->count[j->depth - 1]++ > 0)
            put_char(j, ',');
        if (j->pretty)
            indent(j);
    }
    if (key) {
        escape(j, key);
        put_str(j, j->pretty ? ": " : ":");
    }
}

static void open_level(struct ss_json *j, const char *key, char c)
{
    member(j, key);
    put_char(j, c);
    if (j->depth < SS_JSON_MAX_DEPTH) {
        j->count[j->depth] = 0;
        j->close[j->depth] = c == '{' ? '}' : ']';
        j->depth++;
    }
}

void ss_json_object(struct ss_json *j, const char *key)
{
    open_level(j, key, '{');
}

void ss_json_array(struct ss_json *j, const char *key)
{
    open_level(j, key, '[');
}

void ss_json_end(struct ss_json *j)
{
    if (j->depth == 0)
        return;
    j->depth--;
    if (j->pretty && j->count[j->depth] > 0)
        indent(j);
    put_char(j, j->close[j->depth]);
    if (j->depth == 0) {
        put_char(j, '\n');
        ss_json_flush(j);
    }
}

/* Runs of characters that need no escape are copied in one piece. */
static void escape(struct ss_json *j, const char *str)
{
    const unsigned char *s = (const unsigned char *)str, *plain = s;
    put_char(j, '"');
    for (;;) {
        unsigned char c = *s;
        int n = c >= 0x20 && c != '"' && c != '\\' && c != 0x7f ? ss_utf8_len(s) : 0;
        if (n > 0) {
            s += n;
            continue;
        }
        put(j, (const char *)plain, (size_t)(s - plain));
        if (c == 0)
            break;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n' || c == '\t' || c == '\r')
            snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            snprintf(esc, sizeof esc, "\xef\xbf\xbd");
        put_str(j, esc);
        plain = ++s;
    }
    put_char(j, '"');
}

void ss_json_string(struct ss_json *j, const char *key, const char *value)
{
    member(j, key);
    if (value)
        escape(j, value);
    else
        put_str(j, "null");
}

static void put_uint(struct ss_json *j, uint64_t value)
{
    char text[20];
    size_t n = sizeof text;
    do
        text[--n] = (char)('0' + value % 10);
    while ((value /= 10) != 0);
    put(j, text + n, sizeof text - n);
}

void ss_json_uint(struct ss_json *j, const char *key, uint64_t value)
{
    member(j, key);
    put_uint(j, value);
}

void ss_json_double(struct ss_json *j, const char *key, double value)
{
    char text[32];
    member(j, key);
    put(j, text, (size_t)snprintf(text, sizeof text, "%.6g", value));
}

void ss_json_decimal(struct ss_json *j, const char *key, uint64_t value, unsigned digits)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < digits; i++)
        scale *= 10;
    member(j, key);
    put_uint(j, value / scale);
    if (digits) {
        char text[32];
        put(j, text,
            (size_t)snprintf(text, sizeof text, ".%0*llu", (int)digits,
                             (unsigned long long)(value % scale)));
    }
}

void ss_json_bool(struct ss_json *j, const char *key, int value)
{
    member(j, key);
    put_str(j, value ? "true" : "false");
}

void ss_json_null(struct ss_json *j, const char *key)
{
    member(j, key);
    put_str(j, "null");
}
