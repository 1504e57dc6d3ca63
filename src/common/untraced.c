#define _GNU_SOURCE
#include "common/untraced.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SHIM_FILE "libstallscope.so"
#define MAX_INTERPRETER_DEPTH 4
#define SCRIPT_LINE 256 /* what the kernel reads of a "#!" line */
#define MAX_PHDRS 256

static ssize_t read_at(int fd, void *buf, size_t size, off_t off)
{
    ssize_t n;
    while ((n = pread(fd, buf, size, off)) < 0 && errno == EINTR)
        ;
    return n;
}

/* 1: an ELF file without a PT_INTERP program header; 0: one with it; -ENOEXEC: not ELF, or
 * not readable as such. */
static int elf_is_static(int fd)
{
    unsigned char ident[EI_NIDENT];
    if (read_at(fd, ident, sizeof ident, 0) != (ssize_t)sizeof ident ||
        memcmp(ident, ELFMAG, SELFMAG) != 0)
        return -ENOEXEC;
    uint64_t phoff;
    unsigned phentsize, phnum;
    if (ident[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr eh;
        if (read_at(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
            return -ENOEXEC;
        phoff = eh.e_phoff, phentsize = eh.e_phentsize, phnum = eh.e_phnum;
    } else if (ident[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr eh;
        if (read_at(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
            return -ENOEXEC;
        phoff = eh.e_phoff, phentsize = eh.e_phentsize, phnum = eh.e_phnum;
    } else {
        return -ENOEXEC;
    }
    /* p_type is the first word of a program header in both classes. */
    if (phentsize < sizeof(uint32_t) || phnum == 0 || phnum > MAX_PHDRS)
        return -ENOEXEC;
    for (unsigned i = 0; i < phnum; i++) {
        uint32_t type;
        if (read_at(fd, &type, sizeof type, (off_t)(phoff + (uint64_t)i * phentsize)) !=
            (ssize_t)sizeof type)
            return -ENOEXEC;
        if (type == PT_INTERP)
            return 0;
    }
    return 1;
}

/* The interpreter of a "#!" script, or "" when the file is not one. */
static void script_interpreter(int fd, char *out, size_t size)
{
    char line[SCRIPT_LINE + 1];
    out[0] = '\0';
    ssize_t n = read_at(fd, line, SCRIPT_LINE, 0);
    if (n < 3 || line[0] != '#' || line[1] != '!')
        return;
    line[n] = '\0';
    char *p = line + 2;
    p += strspn(p, " \t");
    size_t len = strcspn(p, " \t\n");
    if (len == 0 || len >= size)
        return;
    memcpy(out, p, len);
    out[len] = '\0';
}

static enum ss_untraced secure_execution(int fd, const struct stat *st,
                                         const struct ss_exec_ids *ids, unsigned *as_id)
{
    struct statvfs fs;
    int honoured = fstatvfs(fd, &fs) != 0 || !(fs.f_flag & ST_NOSUID);
    if (honoured && (st->st_mode & S_ISUID) && st->st_uid != ids->ruid) {
        *as_id = (unsigned)st->st_uid;
        return SS_UNTRACED_SETUID;
    }
    /* Without group execute permission the bit means mandatory locking, not set-group-ID. */
    if (honoured && (st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != ids->rgid) {
        *as_id = (unsigned)st->st_gid;
        return SS_UNTRACED_SETGID;
    }
    /* The kernel does not treat a root caller's gain of capabilities as secure execution. */
    if (ids->ruid != 0 && fgetxattr(fd, "security.capability", NULL, 0) > 0)
        return SS_UNTRACED_CAPABILITIES;
    return SS_TRACEABLE;
}

static enum ss_untraced judge(int fd, const struct ss_exec_ids *ids, unsigned *as_id, int depth);

static enum ss_untraced judge_path(const char *path, const struct ss_exec_ids *ids, unsigned *as_id,
                                   int depth)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return SS_TRACEABLE;
    enum ss_untraced why = judge(fd, ids, as_id, depth);
    close(fd);
    return why;
}

static enum ss_untraced judge(int fd, const struct ss_exec_ids *ids, unsigned *as_id, int depth)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return SS_TRACEABLE;
    char interpreter[SCRIPT_LINE];
    script_interpreter(fd, interpreter, sizeof interpreter);
    /* Set-id bits on a script are ignored; the interpreter's own count. */
    if (interpreter[0])
        return depth < MAX_INTERPRETER_DEPTH ? judge_path(interpreter, ids, as_id, depth + 1)
                                             : SS_TRACEABLE;
    int is_static = elf_is_static(fd);
    if (is_static < 0)
        return SS_TRACEABLE;
    if (is_static)
        return SS_UNTRACED_STATIC;
    return secure_execution(fd, &st, ids, as_id);
}

enum ss_untraced ss_untraced_program(const char *path, const struct ss_exec_ids *ids,
                                     unsigned *as_id)
{
    int saved = errno;
    enum ss_untraced why = judge_path(path, ids, as_id, 0);
    errno = saved;
    return why;
}

enum ss_untraced ss_untraced_program_fd(int fd, const struct ss_exec_ids *ids, unsigned *as_id)
{
    int saved = errno;
    enum ss_untraced why = judge(fd, ids, as_id, 0);
    errno = saved;
    return why;
}

int ss_search_path(const char *name, const char *path_list, char *out, size_t size)
{
    int saved = errno, found = -ENOENT;
    if (!name[0]) {
        found = -ENOENT;
    } else if (strchr(name, '/')) {
        found = strlen(name) < size ? 0 : -ENAMETOOLONG;
        if (found == 0)
            memcpy(out, name, strlen(name) + 1);
    } else {
        /* What execvp searches when PATH is not set. */
        const char *p = path_list ? path_list : "/bin:/usr/bin";
        for (;;) {
            size_t dir = strcspn(p, ":");
            int n = dir ? snprintf(out, size, "%.*s/%s", (int)dir, p, name)
                        : snprintf(out, size, "%s", name);
            struct stat st;
            if (n > 0 && (size_t)n < size && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
                access(out, X_OK) == 0) {
                found = 0;
                break;
            }
            if (!p[dir])
                break;
            p += dir + 1;
        }
    }
    errno = saved;
    return found;
}

static int names_shim(const char *list)
{
    /* The loader splits LD_PRELOAD at spaces and colons. */
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ": ");
        const char *slash = memrchr(p, '/', len);
        const char *base = slash ? slash + 1 : p;
        if ((size_t)(p + len - base) == strlen(SHIM_FILE) &&
            memcmp(base, SHIM_FILE, strlen(SHIM_FILE)) == 0)
            return 1;
        p += len;
        p += strspn(p, ": ");
    }
    return 0;
}

int ss_env_preloads_shim(char *const *envp)
{
    static const char key[] = "LD_PRELOAD=";
    if (!envp)
        return 0;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, key, sizeof key - 1) == 0)
            return names_shim(*e + sizeof key - 1);
    return 0;
}

void ss_untraced_reason(enum ss_untraced why, unsigned as_id, char *buf, size_t size)
{
    switch (why) {
    case SS_UNTRACED_STATIC:
        snprintf(buf, size, "statically linked: no dynamic loader runs to preload the shim");
        break;
    case SS_UNTRACED_SETUID:
        snprintf(buf, size,
                 "set-user-ID (runs as user %u): the loader ignores LD_PRELOAD in "
                 "secure-execution mode",
                 as_id);
        break;
    case SS_UNTRACED_SETGID:
        snprintf(buf, size,
                 "set-group-ID (runs as group %u): the loader ignores LD_PRELOAD in "
                 "secure-execution mode",
                 as_id);
        break;
    case SS_UNTRACED_CAPABILITIES:
        snprintf(buf, size,
                 "file capabilities: the loader ignores LD_PRELOAD in secure-execution mode");
        break;
    case SS_UNTRACED_NO_PRELOAD:
        snprintf(buf, size, "the environment it was given has no LD_PRELOAD naming " SHIM_FILE);
        break;
    default:
        snprintf(buf, size, "traceable");
    }
}
