/* How a program file is judged before a note says it ran untraced, on real files: ELF with
 * and without an interpreter, "#!" scripts, set-id bits, and the environment and PATH as
 * exec sees them. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/untraced.h"
#include "scratch.h"

static char dir[64];
static struct ss_exec_ids user = {1000, 1000, 1000, 1000};

static void make_dir(void)
{
    scratch_dir(dir, sizeof dir, "untraced");
}

static void remove_dir(void)
{
    scratch_remove(dir);
}

static const char *file_with(const char *name, const char *text, mode_t mode)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(p, mode), 0);
    return p;
}

static const char *static_true(void)
{
    static char path[512];
    const char *b = getenv("SS_BUILDDIR");
    snprintf(path, sizeof path, "%s/tests/hardening/static-true", b ? b : ".");
    return path;
}

static enum ss_untraced judge(const char *path)
{
    unsigned id = 0;
    return ss_untraced_program(path, &user, &id);
}

TestSuite(program, .init = make_dir, .fini = remove_dir);

Test(program, elf_with_and_without_interpreter)
{
    cr_expect_eq(judge(static_true()), SS_UNTRACED_STATIC);
    cr_expect_eq(judge("/bin/sh"), SS_TRACEABLE);
}

/* The kernel runs a script's interpreter: that file decides, through nested scripts too. */
Test(program, scripts_are_judged_by_their_interpreter)
{
    char line[600];
    snprintf(line, sizeof line, "#!  %s -x\necho\n", static_true());
    const char *inner = file_with("static.sh", line, 0755);
    cr_expect_eq(judge(inner), SS_UNTRACED_STATIC);
    snprintf(line, sizeof line, "#!%s\n", inner);
    cr_expect_eq(judge(file_with("nested.sh", line, 0755)), SS_UNTRACED_STATIC);
    cr_expect_eq(judge(file_with("shell.sh", "#!/bin/sh\necho\n", 0755)), SS_TRACEABLE);
    /* Set-id bits on a script mean nothing. */
    cr_expect_eq(judge(file_with("setuid.sh", "#!/bin/sh\n", 04755)), SS_TRACEABLE);
}

/* What cannot be read or is not a program is not said to be untraced. */
Test(program, unknown_files_are_not_accused)
{
    cr_expect_eq(judge(file_with("text", "hello\n", 0755)), SS_TRACEABLE);
    cr_expect_eq(judge(file_with("empty", "", 0755)), SS_TRACEABLE);
    cr_expect_eq(judge(file_with("elf-garbage", "\177ELF\002\001", 0755)), SS_TRACEABLE);
    cr_expect_eq(judge("/nonexistent/program"), SS_TRACEABLE);
    cr_expect_eq(judge(dir), SS_TRACEABLE);
}

/* Set-id bits of a dynamically linked program, against the caller's real ids. */
Test(program, set_id_bits)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp /bin/true '%s/prog'", dir);
    cr_assert_eq(system(cmd), 0);
    char prog[128];
    snprintf(prog, sizeof prog, "%s/prog", dir);
    struct stat st;
    cr_assert_eq(stat(prog, &st), 0);
    struct ss_exec_ids owner = {st.st_uid, st.st_uid, st.st_gid, st.st_gid};
    unsigned id = 0;
    cr_assert_eq(chmod(prog, 04755), 0);
    cr_expect_eq(ss_untraced_program(prog, &user, &id), SS_UNTRACED_SETUID);
    cr_expect_eq(id, (unsigned)st.st_uid);
    cr_expect_eq(ss_untraced_program(prog, &owner, &id), SS_TRACEABLE, "set-user-ID to oneself");
    cr_assert_eq(chmod(prog, 02755), 0);
    cr_expect_eq(ss_untraced_program(prog, &user, &id), SS_UNTRACED_SETGID);
    cr_expect_eq(id, (unsigned)st.st_gid);
    /* Without group execute permission the bit is mandatory locking, not set-group-ID. */
    cr_assert_eq(chmod(prog, 02745), 0);
    cr_expect_eq(ss_untraced_program(prog, &user, &id), SS_TRACEABLE);
}

Test(environment, preload_of_the_shim)
{
    char *none[] = {"PATH=/bin", NULL};
    char *plain[] = {"A=1", "LD_PRELOAD=/opt/lib/libstallscope.so", NULL};
    char *listed[] = {"LD_PRELOAD=/x/liba.so: /y/libstallscope.so", NULL};
    char *lookalike[] = {"LD_PRELOAD=/x/libstallscope.so.bak:/x/notlibstallscope.so", NULL};
    char *bare[] = {"LD_PRELOAD=libstallscope.so", NULL};
    char *prefix[] = {"XLD_PRELOAD=/x/libstallscope.so", NULL};
    cr_expect_not(ss_env_preloads_shim(NULL));
    cr_expect_not(ss_env_preloads_shim(none));
    cr_expect(ss_env_preloads_shim(plain));
    cr_expect(ss_env_preloads_shim(listed));
    cr_expect_not(ss_env_preloads_shim(lookalike));
    cr_expect(ss_env_preloads_shim(bare));
    cr_expect_not(ss_env_preloads_shim(prefix));
}

Test(program, path_search_as_execvp_does)
{
    char list[300], out[512], want[300];
    file_with("tool", "#!/bin/sh\n", 0755);
    file_with("plain", "not executable\n", 0644);
    snprintf(list, sizeof list, "/nonexistent:%s:/bin", dir);
    snprintf(want, sizeof want, "%s/tool", dir);
    cr_assert_eq(ss_search_path("tool", list, out, sizeof out), 0);
    cr_expect_str_eq(out, want);
    cr_expect_eq(ss_search_path("plain", list, out, sizeof out), -ENOENT, "not executable");
    cr_expect_eq(ss_search_path("no-such-tool", list, out, sizeof out), -ENOENT);
    cr_assert_eq(ss_search_path("./x/y", list, out, sizeof out), 0, "a slash: taken as is");
    cr_expect_str_eq(out, "./x/y");
    cr_assert_eq(ss_search_path("sh", NULL, out, sizeof out), 0, "no PATH: /bin:/usr/bin");
    cr_expect_str_eq(out, "/bin/sh");
    cr_expect_eq(ss_search_path("tool", list, out, 8), -ENOENT, "no candidate fits");
    cr_expect_eq(ss_search_path("./x/y", list, out, 4), -ENAMETOOLONG, "does not fit");
}

/* File capabilities put a caller other than root into secure execution. */
Test(program, file_capabilities)
{
    char cmd[700], prog[128];
    snprintf(cmd, sizeof cmd, "cp /bin/true '%s/prog'", dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(prog, sizeof prog, "%s/prog", dir);
    /* VFS_CAP_REVISION_2 with the effective flag, permitting CAP_NET_RAW. */
    uint32_t caps[5] = {0x02000001u, 1u << 13, 0, 0, 0};
    if (setxattr(prog, "security.capability", caps, sizeof caps, 0) != 0)
        cr_skip_test("cannot set file capabilities here (needs root): %s", strerror(errno));
    struct ss_exec_ids root = {0, 0, 0, 0};
    unsigned id = 0;
    cr_expect_eq(ss_untraced_program(prog, &user, &id), SS_UNTRACED_CAPABILITIES);
    cr_expect_eq(ss_untraced_program(prog, &root, &id), SS_TRACEABLE);
}
