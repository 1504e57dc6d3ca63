#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define VIEWER_NAME "stallscope-view"

/* The viewer is a program of its own (it links curses, the CLI does not): the one beside this
 * binary in a build tree, else the installed one; STALLSCOPE_VIEW overrides both. */
static void find_viewer(char *buf, size_t size)
{
    const char *env = getenv("STALLSCOPE_VIEW");
    if (env && *env) {
        if (access(env, X_OK) != 0)
            ss_die("STALLSCOPE_VIEW=%s: %s", env, strerror(errno));
        snprintf(buf, size, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(buf, size, "%s/" VIEWER_NAME, dirname(exe));
        if (access(buf, X_OK) == 0)
            return;
    }
    snprintf(buf, size, "%s/" VIEWER_NAME, SS_PKGLIBEXECDIR);
    if (access(buf, X_OK) != 0)
        ss_die("cannot find the viewer %s (looked beside the program and in %s); set "
               "STALLSCOPE_VIEW to its path",
               VIEWER_NAME, SS_PKGLIBEXECDIR);
}

int ss_cmd_view(int argc, char **argv)
{
    char viewer[PATH_MAX + 64];
    find_viewer(viewer, sizeof viewer);
    argv[0] = viewer;
    execv(viewer, argv);
    ss_die("cannot run %s: %s", viewer, strerror(errno));
}
