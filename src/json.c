#include "json.h"

#include <string.h>

void ss_json_init(struct ss_json *j, FILE *out, int pretty)
{
    memset(j, 0, sizeof *j);
    j->out = out;
    j->pretty = pretty;
}

static void member(struct ss_json *j, const char *key)
{
    if (j->depth > 0) {
        if (j->count[j->depth - 1]++ > 0)
            fputc(',', j->out);
        if (j->pretty) {
            fputc('\n', j->out);
            for (int i = 0; i < j->depth; i++)
                fputs("  ", j->out);
        }
    }
    if (key) {
        ss_json_escape(j->out, key);
        fputs(j->pretty ? ": " : ":", j->out);
    }
}

static void open_level(struct ss_json *j, const char *key, char c)
{
    member(j, key);
    fputc(c, j->out);
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
    if (j->pretty && j->count[j->depth] > 0) {
        fputc('\n', j->out);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->out);
    }
    fputc(j->close[j->depth], j->out);
    if (j->depth == 0)
        fputc('\n', j->out);
}

static int utf8_len(const unsigned char *s)
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

void ss_json_escape(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', out);
    while (*s) {
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            s++;
        } else if (c == '\n') {
            fputs("\\n", out);
            s++;
        } else if (c == '\t') {
            fputs("\\t", out);
            s++;
        } else if (c == '\r') {
            fputs("\\r", out);
            s++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
            s++;
        } else {
            int n = utf8_len(s);
            if (n == 0) {
                fputs("\xef\xbf\xbd", out);
                s++;
            } else {
                fwrite(s, 1, (size_t)n, out);
                s += n;
            }
        }
    }
    fputc('"', out);
}

void ss_json_string(struct ss_json *j, const char *key, const char *value)
{
    member(j, key);
    if (value)
        ss_json_escape(j->out, value);
    else
        fputs("null", j->out);
}

void ss_json_uint(struct ss_json *j, const char *key, uint64_t value)
{
    member(j, key);
    fprintf(j->out, "%llu", (unsigned long long)value);
}

void ss_json_double(struct ss_json *j, const char *key, double value)
{
    member(j, key);
    fprintf(j->out, "%.6g", value);
}

void ss_json_decimal(struct ss_json *j, const char *key, uint64_t value, unsigned digits)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < digits; i++)
        scale *= 10;
    member(j, key);
    fprintf(j->out, "%llu", (unsigned long long)(value / scale));
    if (digits)
        fprintf(j->out, ".%0*llu", (int)digits, (unsigned long long)(value % scale));
}

void ss_json_bool(struct ss_json *j, const char *key, int value)
{
    member(j, key);
    fputs(value ? "true" : "false", j->out);
}

void ss_json_null(struct ss_json *j, const char *key)
{
    member(j, key);
    fputs("null", j->out);
}
