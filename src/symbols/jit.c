/* jit: names for code a runtime generated, from the files it wrote: perf maps
 * (/tmp/perf-PID.map, "START SIZE NAME" lines) and jitdump files (jit-PID.dump). Entries may
 * overlap; a later one wins (runtimes reuse code space). A name may also carry the script
 * location (V8's "JS:f /app/x.js:3:1", CPython's "py::f:/app/x.py"), which becomes the
 * frame's file and line. The files are read only when they are the reader's or the trusted
 * owner's, never through a symbolic link, and not when left by an earlier process. */
#define _GNU_SOURCE /* memrchr */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols-internal.h"
#include "util/array.h"
#include "util/private-files.h"

/* Real perf map names stay well below this; anything longer is treated as
 * garbage so a hostile file cannot make one line grow memory without bound. */
#define PERF_MAP_LINE_MAX 8192

void ss_symbolizer_trust_owner(struct ss_symbolizer *s, uid_t uid)
{
    s->jit_owner = uid;
}

void ss_symbolizer_process_started(struct ss_symbolizer *s, uint64_t start_real_ns)
{
    s->started_ns = start_real_ns;
}

bool ss_jit_file_predates(const struct stat *st, uint64_t start_real_ns)
{
    uint64_t written = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
    return st->st_mtim.tv_sec >= 0 && start_real_ns > SS_JIT_STALE_SLACK_NS &&
           written < start_real_ns - SS_JIT_STALE_SLACK_NS;
}

/* JIT files are often found in the shared /tmp, where anyone can plant one under the name a
 * process will use: only a private file (private-files.h) of the reader or of the trusted
 * owner is read. One an earlier process with the same pid left there is not read either.
 * Every refusal by the rule is -EPERM, as symbolize.h promises. */
static FILE *open_jit_file(const struct ss_symbolizer *s, const char *path)
{
    struct stat st;
    int fd = ss_open_private(path, O_RDONLY | O_NONBLOCK, s->jit_owner, &st);
    if (fd < 0) {
        errno = ss_private_refused(fd) ? EPERM : -fd;
        return NULL;
    }
    if (s->started_ns && ss_jit_file_predates(&st, s->started_ns)) {
        close(fd);
        errno = ESTALE;
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return f;
}

/* Accepts "START SIZE NAME"; on success *name points into line. */
static bool parse_perf_line(char *line, uint64_t *start, uint64_t *size, char **name)
{
    char *p = line + strspn(line, " \t"), *end;

    /* strtoull would also take signs and empty input. */
    if (!isxdigit((unsigned char)*p))
        return false;
    errno = 0;
    *start = strtoull(p, &end, 16);
    if (errno || (*end != ' ' && *end != '\t'))
        return false;
    p = end + strspn(end, " \t");
    if (!isxdigit((unsigned char)*p))
        return false;
    *size = strtoull(p, &end, 16);
    if (errno || (*end != ' ' && *end != '\t'))
        return false;
    p = end + strspn(end, " \t");
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        p[--len] = '\0';
    *name = p;
    return len > 0 && *size > 0 && *start <= UINT64_MAX - *size;
}

/* The caller checked that size > 0 and start + size does not wrap. */
static int add_jit_entry(struct ss_symbolizer *s, uint64_t start, uint64_t size, const char *name)
{
    char *copy;
    if (SS_ARRAY_GROW(s->jit, s->capjit, s->njit + 1) < 0 || !(copy = strdup(name)))
        return -ENOMEM;
    s->jit[s->njit++] = (struct jit_entry){
        .start = start,
        .end = start + size,
        .seq = s->jit_seq++,
        .name = copy,
    };
    s->jit_sorted = false;
    return 0;
}

int ss_symbolizer_add_perf_map(struct ss_symbolizer *s, const char *path)
{
    FILE *f = open_jit_file(s, path);
    if (!f)
        return -errno;

    char *line = malloc(PERF_MAP_LINE_MAX);
    int rc = line ? 0 : -ENOMEM;
    while (rc == 0 && fgets(line, PERF_MAP_LINE_MAX, f)) {
        uint64_t start, size;
        char *name;
        if (strlen(line) == PERF_MAP_LINE_MAX - 1 && line[PERF_MAP_LINE_MAX - 2] != '\n') {
            int c;
            while ((c = getc_unlocked(f)) != EOF && c != '\n')
                ;
            continue;
        }
        if (parse_perf_line(line, &start, &size, &name))
            rc = add_jit_entry(s, start, size, name);
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    free(line);
    fclose(f);
    return rc;
}

/* ---- jitdump files ---- */

/* Sizes of the file header's known fields, of the header every record starts
 * with, and of a code load record's fixed fields (pid, tid, vma, code address,
 * code size, code index), which its name and code follow. */
#define JITDUMP_MAGIC 0x4A695444u
#define JITDUMP_HEADER_SIZE 40
#define JITDUMP_RECORD_HEADER_SIZE 16
#define JITDUMP_CODE_LOAD 0
#define JITDUMP_CODE_LOAD_FIXED 40

struct jitdump_reader {
    FILE *f;
    uint64_t left; /* bytes of the file not yet consumed */
    bool swapped;  /* written on a machine of the other byte order */
};

static bool jitdump_read(struct jitdump_reader *r, void *buf, size_t n)
{
    if (n > r->left || fread(buf, 1, n, r->f) != n)
        return false;
    r->left -= n;
    return true;
}

static bool jitdump_skip(struct jitdump_reader *r, uint64_t n)
{
    /* n fits off_t: it is at most the file's size. */
    if (n > r->left || fseeko(r->f, (off_t)n, SEEK_CUR) != 0)
        return false;
    r->left -= n;
    return true;
}

static uint32_t jitdump_u32(const struct jitdump_reader *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return r->swapped ? __builtin_bswap32(v) : v;
}

static uint64_t jitdump_u64(const struct jitdump_reader *r, const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return r->swapped ? __builtin_bswap64(v) : v;
}

/* One code load record whose header said it is size bytes long (header
 * included): 1 when read or skipped as harmless, 0 when it is malformed, or
 * -ENOMEM. name holds PERF_MAP_LINE_MAX bytes. */
static int jitdump_code_load(struct ss_symbolizer *s, struct jitdump_reader *r, uint64_t size,
                             char *name)
{
    uint8_t fixed[JITDUMP_CODE_LOAD_FIXED];
    uint64_t rest = size - JITDUMP_RECORD_HEADER_SIZE;
    if (rest <= sizeof fixed || !jitdump_read(r, fixed, sizeof fixed))
        return 0;
    rest -= sizeof fixed;
    uint64_t code_addr = jitdump_u64(r, fixed + 16), code_size = jitdump_u64(r, fixed + 24);
    size_t want = rest < PERF_MAP_LINE_MAX ? (size_t)rest : PERF_MAP_LINE_MAX;
    if (!jitdump_read(r, name, want))
        return 0;
    const char *nul = memchr(name, '\0', want);
    if (!nul)
        /* Overlong names are skipped like overlong perf map lines. */
        return want < PERF_MAP_LINE_MAX ? 0 : jitdump_skip(r, rest - want);
    /* The code itself follows the name inside the record. */
    uint64_t name_size = (uint64_t)(nul - name) + 1;
    if (code_size > rest - name_size || !jitdump_skip(r, rest - want))
        return 0;
    if (code_size == 0 || nul == name || code_addr > UINT64_MAX - code_size)
        return 1;
    return add_jit_entry(s, code_addr, code_size, name) == 0 ? 1 : -ENOMEM;
}

int ss_symbolizer_add_jitdump(struct ss_symbolizer *s, const char *path)
{
    struct jitdump_reader r = {.f = open_jit_file(s, path)};
    if (!r.f)
        return -errno;
    struct stat st;
    uint8_t head[JITDUMP_HEADER_SIZE];
    char *name = NULL;
    int rc = 0;
    if (fstat(fileno(r.f), &st) != 0) {
        rc = -errno;
        goto out;
    }
    r.left = (uint64_t)st.st_size;
    if (!jitdump_read(&r, head, sizeof head)) {
        rc = -EINVAL;
        goto out;
    }
    uint32_t magic;
    memcpy(&magic, head, sizeof magic);
    r.swapped = magic == __builtin_bswap32(JITDUMP_MAGIC);
    uint32_t header_size = jitdump_u32(&r, head + 8);
    if ((magic != JITDUMP_MAGIC && !r.swapped) || header_size < sizeof head ||
        !jitdump_skip(&r, header_size - sizeof head)) {
        rc = -EINVAL;
        goto out;
    }
    if (!(name = malloc(PERF_MAP_LINE_MAX))) {
        rc = -ENOMEM;
        goto out;
    }
    /* Writers append while they run, so a bad record ends the usable part of
     * the file: what came before it is kept. */
    uint8_t rec[JITDUMP_RECORD_HEADER_SIZE];
    int ok = 1;
    while (ok > 0 && r.left > 0 && jitdump_read(&r, rec, sizeof rec)) {
        uint32_t id = jitdump_u32(&r, rec), size = jitdump_u32(&r, rec + 4);
        if (size < sizeof rec)
            break;
        if (id == JITDUMP_CODE_LOAD)
            ok = jitdump_code_load(s, &r, size, name);
        else
            ok = jitdump_skip(&r, size - sizeof rec);
    }
    if (ok < 0)
        rc = ok;
    else if (ferror(r.f))
        rc = -EIO;
out:
    free(name);
    fclose(r.f);
    return rc;
}

static int jit_cmp(const void *pa, const void *pb)
{
    const struct jit_entry *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Entries may overlap, so the covering entry is not necessarily the nearest
 * one below addr: walk back while some earlier entry could still reach addr
 * (maxend), keeping the latest. Code space reuse produces short overlaps, so
 * the walk stays short in practice. */
struct jit_entry *ss_jit_find(struct ss_symbolizer *s, uint64_t addr)
{
    if (s->njit == 0)
        return NULL;
    if (!s->jit_sorted) {
        qsort(s->jit, s->njit, sizeof *s->jit, jit_cmp);
        uint64_t maxend = 0;
        for (size_t i = 0; i < s->njit; i++) {
            if (s->jit[i].end > maxend)
                maxend = s->jit[i].end;
            s->jit[i].maxend = maxend;
        }
        s->jit_sorted = true;
    }

    size_t lo = ss_symbols_upper_bound(s->jit, s->njit, sizeof *s->jit,
                                       offsetof(struct jit_entry, start), addr);
    struct jit_entry *best = NULL;
    for (size_t i = lo; i-- > 0 && s->jit[i].maxend > addr;) {
        if (addr < s->jit[i].end && (!best || s->jit[i].seq > best->seq))
            best = &s->jit[i];
    }
    return best;
}

/* V8 marks a function its bytecode interpreter runs with '~' after the tag
 * ("JS:~load", "LazyCompile:~load"); CPython 3.12 gives every interpreted
 * function a trampoline named "py::FUNCTION:FILE". */
static enum ss_frame_kind jit_kind(const char *name)
{
    const char *colon = strchr(name, ':');
    if (strncmp(name, "py::", 4) == 0 || (colon && colon[1] == '~'))
        return SS_FRAME_INTERPRETER;
    return SS_FRAME_JIT;
}

/* Tags V8 gives JavaScript functions in its map (Node.js 12 and later write
 * "JS:", older ones the others); its own code (Builtin:, Stub:, ...) and
 * native code named in the map have no script location. */
static const char *const script_tags[] = {"JS:", "LazyCompile:", "Function:", "Script:", "Eval:"};

/* The script location a runtime put into a map entry's name: V8's "TAG:NAME
 * PATH:LINE:COL" (or "TAG:NAME PATH" when it knows no line), CPython's
 * "py::NAME:PATH". */
static void jit_locate(struct jit_entry *j)
{
    const char *file = NULL, *end = NULL;
    unsigned long line = 0;
    bool script = false;
    j->located = true;
    for (size_t i = 0; i < sizeof script_tags / sizeof script_tags[0]; i++)
        script = script || strncmp(j->name, script_tags[i], strlen(script_tags[i])) == 0;
    if (strncmp(j->name, "py::", 4) == 0) {
        const char *colon = strchr(j->name + 4, ':');
        if (colon && colon[1]) {
            file = colon + 1;
            end = file + strlen(file);
        }
    } else if (script) {
        const char *space = strrchr(j->name, ' ');
        if (space && space[1]) {
            file = space + 1;
            end = file + strlen(file);
            /* Peel ":COL" and ":LINE" off the end, when both are numbers. */
            const char *c2 = memrchr(file, ':', (size_t)(end - file));
            const char *c1 = c2 ? memrchr(file, ':', (size_t)(c2 - file)) : NULL;
            if (c1 && c1 > file && c2 - c1 > 1 && end - c2 > 1 &&
                strspn(c1 + 1, "0123456789") == (size_t)(c2 - c1 - 1) &&
                strspn(c2 + 1, "0123456789") == (size_t)(end - c2 - 1)) {
                line = strtoul(c1 + 1, NULL, 10);
                end = c1;
            }
        }
    }
    if (file && (j->file = strndup(file, (size_t)(end - file))) != NULL)
        j->line = line <= UINT_MAX ? (unsigned)line : 0;
}

void ss_jit_describe(struct jit_entry *j, uint64_t addr, struct ss_frame_info *out)
{
    if (!j->located)
        jit_locate(j);
    out->symbol = j->name;
    out->offset = addr - j->start;
    out->kind = jit_kind(j->name);
    out->file = j->file;
    out->line = j->line;
}

void ss_jit_release(struct ss_symbolizer *s)
{
    for (size_t i = 0; i < s->njit; i++) {
        free(s->jit[i].name);
        free(s->jit[i].file);
    }
    free(s->jit);
}
